/* cluster/daemon.h — one Roost node process, composed from the manifest: the actor runtime
 * (workers), the ZeroMQ transport to every other node, the control plane (Raft, on shard nodes
 * that vote) and the failure detector. roostd is a thin CLI around this.
 *
 *   daemon_new (validates, binds, opens the data dir) → daemon_start → … → daemon_destroy
 *
 * Until the first cluster map is applied every partition has no primary (sends are answered
 * EUNAVAIL); each applied map rewrites the node's routing table.
 */
#ifndef ROOST_DAEMON_H
#define ROOST_DAEMON_H

#include <stdbool.h>

#include "cluster/manifest.h"

typedef struct daemon daemon_t;

typedef struct {
    const manifest_t *manifest;
    const char *node_name;
    const char *data_root; /* prefix for relative data_dir paths; NULL = current directory */
} daemon_config_t;

/* NULL with a log line saying why (unknown node, bind failure, bad data dir). */
daemon_t *daemon_new(const daemon_config_t *cfg);
int daemon_start(daemon_t *self);
/* Edge nodes: stop taking connections and send clients goaway (no-op on other nodes). */
void daemon_drain(daemon_t *self);
/* True once a drain was asked for (SIGUSR1 or the admin channel). */
bool daemon_draining(daemon_t *self);
/* True once a draining edge has no connection left (always true on other nodes). */
bool daemon_drained(daemon_t *self);
void daemon_destroy(daemon_t **self_p);

#endif
