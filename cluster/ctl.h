/* cluster/ctl.h — roostctl's shared pieces: parsed options and helpers each subcommand uses. */
#ifndef ROOST_CTL_H
#define ROOST_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/manifest.h"

typedef struct {
    const char *manifest; /* -m FILE, or the positional MANIFEST of `up` */
    const char *data_dir; /* --data-dir */
    const char *cert;     /* --cert: the operator certificate for admin ports (CURVE) */
    const char *out;      /* keys gen --out: where to save the certificate */
    bool json;            /* --json */
    unsigned timeout_s;   /* --timeout: apply and drain give up after this (0: default) */
} ctl_opts_t;

/* Loads o->manifest; prints the error and returns NULL on failure. Caller frees. */
manifest_t *ctl_load_manifest(const ctl_opts_t *o);
/* Path of a program installed next to roostctl (same build directory). */
void ctl_sibling_path(const char *name, char *out, size_t cap);

/* One node's answer to "status" over its admin channel (ctl_admin.c). */
typedef struct {
    bool up, draining, drained, refused;
    uint64_t pid, map_version, actors, messages, connections, peer_refused, admin_refused;
    uint64_t term, primaries, replicas, msgs_per_s, disk_bytes, disk_free_bytes;
    char roles[16], raft[16], disk[16];
} node_status_t;

/* A request (a msgpack map with "cmd") to n's admin port, with CURVE when the manifest says so:
 * the answer's bytes (caller frees), or NULL when it did not answer (*refused: it refused our
 * operator key; said on stderr). */
char *ctl_admin_request(const ctl_opts_t *o, const manifest_t *m, const manifest_node_t *n,
                        const void *req, size_t req_len, size_t *len, bool *refused);
/* false when the node did not answer (st->refused says whether it refused us). */
bool ctl_node_status(const ctl_opts_t *o, const manifest_t *m, const manifest_node_t *n,
                     node_status_t *st);

/* The cluster map from the first voter that answers "map" (caller releases it); NULL if none
 * does (said on stderr when `say`). */
struct clustermap;
struct clustermap *ctl_fetch_map(const ctl_opts_t *o, const manifest_t *m, bool say);

int ctl_up(const ctl_opts_t *o);
/* `ring [--partition P | --key KEY]`: placement from the manifest alone. */
int ctl_ring(const ctl_opts_t *o, const char *partition, const char *key);
/* `keys gen`: a new CurveZMQ key pair. */
int ctl_keys(const ctl_opts_t *o, const char *sub);
/* `status`: every node over its admin channel (down when it does not answer). */
int ctl_status(const ctl_opts_t *o);
/* `top [--count N]`: status every second (N rounds; 0 = until interrupted). */
int ctl_top(const ctl_opts_t *o, uint64_t rounds);
/* `metrics [NODE]`: every node's (or one node's) Prometheus text. */
int ctl_metrics(const ctl_opts_t *o, const char *node);
/* `drain NODE`: asks an edge to drain and follows it until it is empty; a shard node's
 * partitions are handed off to the others (ctl_apply.c) until it holds none. */
int ctl_drain(const ctl_opts_t *o, const char *node);
/* `apply [--dry-run]`: the manifest's node list becomes the cluster's (ctl_apply.c), with the
 * plan first and progress until every handoff settled (timeout_s, 0: the default). drain (NULL:
 * none) leaves that shard node out of the members. */
int ctl_apply(const ctl_opts_t *o, bool dry_run, unsigned timeout_s, const char *drain);
/* `user show WHO` / `user role WHO [ROLE]` (ctl_user.c). */
int ctl_user(const ctl_opts_t *o, const char *op, const char *who, const char *role);

#endif
