/* cluster/probe.c — see probe.h. The probe is a node with one worker and one node-local actor
 * `@<self>:0/probe`, which turns each queued put into a kv request and reports its answer. */
#include "cluster/probe.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/clustermap.h"
#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/node.h"
#include "runtime/transport_zmq.h"
#include "runtime/u64map.h"
#include "runtime/util.h"
#include "shards/kv.h"
#include "shards/store.h"

#define PROBE_SERVICE "probe"

struct probe {
    manifest_t manifest;
    const manifest_node_t *self;
    roost_node_t *node;
    roost_transport_t *transport;
    probe_result_fn fn;
    void *arg;
    char actor[ROOST_KEY_BYTES_MAX + 1];
};

enum { PROBE_MSG_PUT = 1 };

/* A queued put's payload: header, then the key, then the value. */
typedef struct {
    uint64_t tag;
    uint32_t timeout_ms;
    uint32_t klen;
} put_hdr_t;

typedef struct {
    u64map_t tags; /* corr → tag + 1 (0 is "absent") */
} probe_actor_t;

static int s_activate(roost_ctx_t *ctx, void **state)
{
    (void)ctx;
    probe_actor_t *a = roost_xcalloc(1, sizeof *a);
    u64map_init(&a->tags);
    *state = a;
    return ROOST_OK;
}

static void s_passivate(roost_ctx_t *ctx, void *state)
{
    (void)ctx;
    probe_actor_t *a = state;
    u64map_fini(&a->tags);
    free(a);
}

static void s_put(roost_ctx_t *ctx, probe_actor_t *a, const roost_env_t *env)
{
    put_hdr_t h;
    memcpy(&h, env->payload, sizeof h);
    char key[ROOST_KEY_BYTES_MAX + 1];
    snprintf(key, sizeof key, "kv:%.*s", (int)h.klen, (const char *)env->payload + sizeof h);
    const uint8_t *val = env->payload + sizeof h + h.klen;
    size_t vlen = env->payload_len - sizeof h - h.klen;
    uint64_t corr = 0;
    roost_ctx_request(ctx, key, MSG_KV_PUT, val, vlen, h.timeout_ms, &corr);
    u64map_put(&a->tags, corr, (void *)(uintptr_t)(h.tag + 1));
}

static void s_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    probe_actor_t *a = state;
    probe_t *p = roost_ctx_service(ctx, PROBE_SERVICE);
    if (!(env->flags & ROOST_ENV_RESPONSE)) {
        if (env->type == PROBE_MSG_PUT && env->payload_len >= sizeof(put_hdr_t))
            s_put(ctx, a, env);
        return;
    }
    uintptr_t tag = (uintptr_t)u64map_take(&a->tags, env->corr);
    if (!tag)
        return; /* an answer to nothing we asked (a bounce of a bounce) */
    if (env->flags & ROOST_ENV_ERROR)
        p->fn(p->arg, tag - 1, env->status ? env->status : ROOST_EUNAVAIL, 0);
    else
        p->fn(p->arg, tag - 1, ROOST_OK, store_appended_lsn(env));
}

static const roost_behaviour_t s_probe_beh = {.kind = "@probe",
                                              .on_activate = s_activate,
                                              .on_message = s_message,
                                              .on_passivate = s_passivate};

probe_t *probe_new(const manifest_t *m, const char *as_node, probe_result_fn fn, void *arg)
{
    probe_t *p = roost_xcalloc(1, sizeof *p);
    p->manifest = *m;
    p->fn = fn;
    p->arg = arg;
    p->self = manifest_node(&p->manifest, as_node);
    if (!p->self || (p->self->roles & ROLE_SHARD)) {
        ROOST_ERROR("probe", "not a non-shard node of the manifest", "node=%s", as_node);
        free(p);
        return NULL;
    }
    transport_zmq_config_t tc = {.self_id = p->self->id};
    snprintf(tc.bind_endpoint, sizeof tc.bind_endpoint, "tcp://%s:%u", p->self->host,
             p->self->peer_port);
    for (uint32_t i = 0; i < m->n_nodes; i++) {
        const manifest_node_t *n = &p->manifest.nodes[i];
        if (!(n->roles & ROLE_SHARD))
            continue;
        tc.peers[tc.npeers].id = n->id;
        snprintf(tc.peers[tc.npeers].endpoint, TRANSPORT_ENDPOINT_BYTES_MAX, "tcp://%s:%u", n->host,
                 n->peer_port);
        tc.npeers++;
    }
    p->transport = transport_zmq_new(&tc);
    roost_node_config_t nc = {.node_id = p->self->id, .workers = 1, .partitions = m->partitions};
    p->node = p->transport ? roost_node_new(&nc) : NULL;
    if (!p->node) {
        probe_destroy(&p);
        return NULL;
    }
    roost_node_register(p->node, &s_probe_beh);
    roost_node_set_service(p->node, PROBE_SERVICE, p);
    roost_node_set_transport(p->node, p->transport);
    if (manifest_io_on_worker(m)) { /* as the manifest's nodes do */
        transport_zmq_run_on_caller(p->transport);
        roost_node_set_io(p->node, true);
    }
    roost_key_make_local(p->actor, sizeof p->actor, p->self->id, 0, "probe", NULL);
    return p;
}

roost_node_t *probe_node(probe_t *p)
{
    return p->node;
}

int probe_start(probe_t *p)
{
    int rc = roost_node_start(p->node);
    if (rc != ROOST_OK || manifest_io_on_worker(&p->manifest))
        return rc;
    return transport_zmq_start(p->transport);
}

void probe_destroy(probe_t **p_p)
{
    probe_t *p = *p_p;
    if (!p)
        return;
    transport_zmq_stop(p->transport);
    if (p->node)
        roost_node_stop(p->node);
    transport_zmq_destroy(&p->transport);
    roost_node_destroy(&p->node);
    free(p);
    *p_p = NULL;
}

/* The map the control leader pushes to the nodes that do not vote: route to each primary. */
static void s_on_system(void *arg, uint32_t from, const roost_env_t *env)
{
    (void)from;
    probe_t *p = arg;
    clustermap_t *map = NULL;
    if (env->type != ROOST_MSG_MAP ||
        clustermap_decode(env->payload, env->payload_len, &map) != ROOST_OK)
        return;
    if (clustermap_partitions(map) == p->manifest.partitions)
        for (uint32_t part = 0; part < p->manifest.partitions; part++)
            roost_node_set_primary(p->node, part, clustermap_primary_of(map, part),
                                   clustermap_epoch_of(map, part));
    clustermap_release(&map);
}

void probe_follow_map(probe_t *p)
{
    roost_node_set_system_handler(p->node, s_on_system, p);
}

void probe_route(probe_t *p, uint32_t shard_id)
{
    for (uint32_t part = 0; part < p->manifest.partitions; part++)
        roost_node_set_primary(p->node, part, shard_id, 0);
}

int probe_put(probe_t *p, const char *key, const void *val, size_t len, uint64_t tag,
              uint32_t timeout_ms)
{
    size_t klen = strlen(key);
    if (klen + 3 > ROOST_KEY_BYTES_MAX || len > ROOST_PAYLOAD_BYTES_MAX - 64)
        return ROOST_EINVAL;
    put_hdr_t h = {
        .tag = tag, .timeout_ms = timeout_ms ? timeout_ms : 5000, .klen = (uint32_t)klen};
    uint8_t *buf = roost_xmalloc(sizeof h + klen + len);
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, key, klen);
    memcpy(buf + sizeof h + klen, val, len);
    roost_env_t *env = roost_env_new(p->actor, NULL, PROBE_MSG_PUT, buf, sizeof h + klen + len);
    free(buf);
    return roost_node_send(p->node, env);
}
