/* actors/actors.h — the messaging actors as a whole: what a shard node registers. */
#ifndef ROOST_ACTORS_ACTORS_H
#define ROOST_ACTORS_ACTORS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/actor.h"
#include "runtime/node.h"

/* The kind of the node-local actor the store must tell when a partition starts serving
 * (store_t.serving_hook). */
#define ACTORS_SERVING_HOOK "sweep"

extern const roost_behaviour_t sweep_behaviour;

/* Operator settings (the manifest's `messaging:` section), a node service; absent → defaults. */
#define ACTORS_CONFIG_SERVICE "messaging"
typedef struct {
    uint64_t retention_ms;      /* undelivered events kept per device (default 30 days) */
    uint32_t retention_count;   /* … and at most this many (default 10,000) */
    uint32_t group_max_members; /* default for new groups (default 256) */
    uint32_t max_devices;       /* devices per user (default 5, at most USER_DEVICES_LIMIT) */
    uint32_t session_ttl_ms;    /* a session not renewed this long ends (default 30 s; tests) */
    atomic_bool hold_fanout;    /* fault injection (test builds): acknowledge, deliver nothing */
} actors_config_t;

/* The node's settings, or the defaults. */
const actors_config_t *actors_config(roost_ctx_t *ctx);

/* Registers the user, conversation (d:, g:), phone registry and sweep behaviours. */
int actors_register(roost_node_t *node);

#endif
