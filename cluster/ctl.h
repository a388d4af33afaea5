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
} ctl_opts_t;

/* Loads o->manifest; prints the error and returns NULL on failure. Caller frees. */
manifest_t *ctl_load_manifest(const ctl_opts_t *o);
/* Path of a program installed next to roostctl (same build directory). */
void ctl_sibling_path(const char *name, char *out, size_t cap);

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
/* `drain NODE`: asks an edge to drain and follows it until it is empty. */
int ctl_drain(const ctl_opts_t *o, const char *node);

#endif
