/* cluster/daemon_internal.h — the daemon's state, shared by daemon.c (wiring, the map, the
 * transport's ticks), daemon_admin.c (the admin channel and the metrics port), daemon_disk.c
 * (the disk alarms) and the other daemon_*.c parts. */
#ifndef ROOST_DAEMON_INTERNAL_H
#define ROOST_DAEMON_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "actors/actors.h"
#include "cluster/admin.h"
#include "cluster/curve_keys.h"
#include "cluster/daemon.h"
#include "cluster/edge_setup.h"
#include "cluster/faults.h"
#include "edge/metrics_http.h"
#include "runtime/control.h"
#include "runtime/detector.h"
#include "runtime/metrics.h"
#include "runtime/node.h"
#include "runtime/transport_zmq.h"
#include "shards/engine.h"
#include "shards/store.h"
#include "shards/syncer.h"

/* How long the maps must name this node in no list of a partition before its copy goes. */
enum { DAEMON_RETIRE_DELAY_MS = 5000 };
/* How often a shard node compares its free disk space with its database's size. */
enum { DAEMON_HEADROOM_CHECK_MS = 10000 };

/* One request of the admin thread to an actor, waiting for its answer (daemon_bridge.c). */
enum { DAEMON_ASKS_MAX = 8 };
typedef struct {
    uint64_t id; /* 0: free */
    bool done;
    int status;
    void *payload;
    size_t len;
} daemon_ask_t;

struct daemon {
    manifest_t manifest;
    const manifest_node_t *self;
    char data_dir[MANIFEST_PATH_BYTES_MAX + 1];
    roost_node_t *node;
    roost_transport_t *transport;
    control_t *control;
    detector_t *detector;
    _Atomic uint64_t last_version; /* written by the map's thread, read by the admin one */
    _Atomic uint64_t max_epoch;    /* the highest partition epoch of that map */
    engine_t *engine;              /* shard nodes: the node's RocksDB */
    store_t store;
    syncer_t *syncer;    /* shard nodes: the group-commit thread */
    uint64_t *role_told; /* per partition: hash of the role last told to our log (0: none) */
    bool retire_scanned; /* the first map checked the disk for copies nothing names */
    /* Per partition: since when the maps name this node in no list while it holds a copy (0:
     * not so). The copy is retired only after DAEMON_RETIRE_DELAY_MS of that, checked against
     * the latest map: a restarting voter replays old maps from its Raft log in a burst, and
     * one of them must not delete a copy the current map still names. */
    _Atomic uint64_t *retire_since;
    pthread_mutex_t map_lock;
    clustermap_t *map_latest;   /* under map_lock: the last map applied */
    uint64_t retire_checked_ns; /* transport thread */
    faults_t *faults;           /* test builds: injected link cuts */
    actors_config_t messaging;  /* the messaging actors' settings (a node service) */
    edge_t *edge;               /* edge nodes: the client front door */
    admin_t *_Atomic admin;     /* the admin channel (admin_port); its thread reads this too */
    metrics_http_t *metrics;    /* GET /metrics on metrics_port */
    metrics_registry_t *reg;    /* series kept across renders (histograms) */
    atomic_bool draining;
    atomic_bool disk_alarm; /* the engine refused a write: this node stopped serving */
    /* daemon_disk.c, sampled by the transport thread every DAEMON_HEADROOM_CHECK_MS: the
     * database's live table bytes, the free bytes of its filesystem, and whether the free
     * space is below what the compaction style needs (a full merge may not fit) */
    _Atomic uint64_t live_bytes, free_bytes;
    atomic_bool headroom_low;
    uint64_t headroom_checked_ns;
    edge_keys_t edge_keys;
    curve_pair_t curve; /* security.curve: this node's own key pair */
    char data_root[MANIFEST_PATH_BYTES_MAX + 1];
    _Atomic uint32_t primaries, replicas; /* partitions this node leads / holds (the map) */
    _Atomic uint64_t msgs_per_s;          /* messages handled over the last second */
    uint64_t rate_at_ns, rate_msgs;       /* transport thread: the last sample */
    uint64_t map_sent_ns;                 /* leader: when the map last went to the non-voters */
    uint64_t map_sent_version;
    /* roostctl apply (daemon_apply.c): the manifest grows by the nodes that joined; readers on
     * other threads than the admin one (the map push) hold the lock */
    pthread_mutex_t manifest_lock;
    uint32_t joined[ROOST_NODES_MAX]; /* shard nodes the detector has yet to watch */
    uint32_t n_joined;
    uint32_t voter_ids[CONTROL_VOTERS_MAX]; /* fixed at start: handoff requests go to them */
    uint32_t n_voter_ids;
    /* the admin bridge (daemon_bridge.c): the admin thread's requests to actors */
    bool bridge_ready;
    pthread_mutex_t ask_lock;
    pthread_cond_t ask_cond;
    daemon_ask_t asks[DAEMON_ASKS_MAX];
    uint64_t ask_seq;
};

/* daemon_bridge.c: the "@admin" actor and the admin channel's user hook. */
int daemon_bridge_open(daemon_t *d);
void daemon_bridge_close(daemon_t *d);
char *daemon_user(void *arg, const char *op, const char *who, const char *role, size_t *len,
                  char *err, size_t errcap);

/* daemon_apply.c: the admin channel's apply and map hooks, and the I/O thread's part. */
int daemon_apply(void *arg, const char *text, size_t len, const char *drain, bool *leading,
                 char *err, size_t errcap);
void *daemon_map_bytes(void *arg, size_t *len);
void daemon_apply_tick(daemon_t *d, uint64_t now_ns);

/* daemon_disk.c, on the transport thread's ticks: the refused-write alarm (the node stops
 * serving) and the disk headroom check. */
void daemon_check_disk(daemon_t *d, uint64_t now_ns);

/* Relative paths in the manifest are under this (NULL: the working directory). */
static inline const char *daemon_root(const daemon_t *d)
{
    return d->data_root[0] ? d->data_root : NULL;
}

/* Starts the admin channel (admin_port) and the metrics port (metrics_port), whichever the
 * node has. 0, ROOST_EINVAL (an operator key cannot be read) or ROOST_EIO (cannot listen). */
int daemon_admin_open(daemon_t *d);
/* Stops both (the metrics port first). Safe when neither started. */
void daemon_admin_close(daemon_t *d);

#endif
