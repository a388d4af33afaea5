/* runtime/node.c — node lifecycle, the behaviour registry, routing between workers and nodes.
 *
 * Routing table: primary[p] and epoch[p] are atomics written by the control plane (any thread)
 * and read on every send; ROOST_NO_NODE means "no primary now" (sends are answered EUNAVAIL).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/errors.h"
#include "runtime/hash.h"
#include "runtime/log.h"
#include "runtime/node_internal.h"
#include "runtime/util.h"

enum { PARTITIONS_DEFAULT = 1024, PARTITIONS_MAX = 1u << 20 };

static bool s_config_ok(const roost_node_config_t *cfg, uint32_t partitions, uint32_t workers)
{
    return cfg && partitions > 0 && partitions <= PARTITIONS_MAX &&
           (partitions & (partitions - 1)) == 0 && workers > 0 && workers <= ROOST_WORKERS_MAX;
}

roost_node_t *roost_node_new(const roost_node_config_t *cfg)
{
    uint32_t partitions = cfg && cfg->partitions ? cfg->partitions : PARTITIONS_DEFAULT;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    uint32_t workers = cfg && cfg->workers ? cfg->workers : (uint32_t)(cpus > 0 ? cpus : 1);
    if (workers > ROOST_WORKERS_MAX && !(cfg && cfg->workers))
        workers = ROOST_WORKERS_MAX;
    if (!s_config_ok(cfg, partitions, workers))
        return NULL;
    roost_node_t *n = roost_xcalloc(1, sizeof *n);
    n->id = cfg->node_id;
    n->partitions = partitions;
    n->nworkers = workers;
    uint64_t passivate_ms =
        cfg->passivate_after_ms ? cfg->passivate_after_ms : ROOST_PASSIVATE_AFTER_MS_DEFAULT;
    n->passivate_after_ns = passivate_ms * 1000000u;
    n->clock = cfg->clock ? cfg->clock : roost_clock_real();
    n->secret_bytes = cfg->secret_bytes;
    n->secret_arg = cfg->secret_arg;
    n->idle_spin_ns =
        (uint64_t)(cfg->idle_spin_us ? cfg->idle_spin_us : ROOST_IDLE_SPIN_US_DEFAULT) * 1000u;
    n->primary = roost_xcalloc(partitions, sizeof *n->primary);
    n->epoch = roost_xcalloc(partitions, sizeof *n->epoch);
    for (uint32_t p = 0; p < partitions; p++)
        atomic_init(&n->primary[p], n->id);
    n->workers = roost_xcalloc_aligned(workers, sizeof *n->workers, alignof(roost_worker_t));
    for (uint32_t i = 0; i < workers; i++)
        worker_init(&n->workers[i], n, i, cfg->seed);
    return n;
}

void roost_node_destroy(roost_node_t **self_p)
{
    roost_node_t *n = *self_p;
    if (!n)
        return;
    roost_node_stop(n);
    for (uint32_t i = 0; i < n->nworkers; i++) /* first, so passivation sends go nowhere */
        n->workers[i].closing = true;
    for (uint32_t i = 0; i < n->nworkers; i++)
        worker_close(&n->workers[i]);
    for (uint32_t i = 0; i < n->nworkers; i++)
        worker_fini(&n->workers[i]);
    free(n->workers);
    free(n->primary);
    free(n->epoch);
    free(n);
    *self_p = NULL;
}

static size_t s_kind_len(const char *key)
{
    const char *colon = strchr(key, ':');
    return colon ? (size_t)(colon - key) : 0;
}

/* A node-local key's partition is explicit; every other key's is the placement hash. */
static uint32_t s_partition(const roost_node_t *n, const char *key, size_t len,
                            roost_local_key_t *local, bool *is_local)
{
    *is_local = key[0] == '@' && roost_key_parse_local(key, len, local);
    if (*is_local)
        return local->partition & (n->partitions - 1);
    return roost_partition_of(key, len, n->partitions);
}

/* The same for an envelope being routed, leaving the key's hash in env->key_hash for the
 * worker's actor table (one SipHash per hop instead of a second hash at delivery). */
static uint32_t s_route_partition(const roost_node_t *n, roost_env_t *env, roost_local_key_t *local,
                                  bool *is_local)
{
    env->key_hash = roost_hash64(env->target, env->target_len);
    *is_local = env->target[0] == '@' && roost_key_split_local(env->target, env->target_len, local);
    if (*is_local)
        return local->partition & (n->partitions - 1);
    return (uint32_t)(env->key_hash & (n->partitions - 1)); /* == roost_partition_of */
}

int roost_node_register(roost_node_t *self, const roost_behaviour_t *beh)
{
    assert(!self->running);
    size_t len = beh && beh->kind ? strlen(beh->kind) : 0;
    if (len == 0 || len > ROOST_KIND_BYTES_MAX || strchr(beh->kind, ':') || !beh->on_message ||
        beh->state_bytes > ROOST_STATE_BYTES_MAX)
        return ROOST_EINVAL;
    for (uint32_t i = 0; i < self->nkinds; i++)
        if (strcmp(self->kinds[i]->kind, beh->kind) == 0)
            return ROOST_EEXIST;
    if (self->nkinds == ROOST_KINDS_MAX)
        return ROOST_ETOOBIG;
    self->kinds[self->nkinds++] = beh;
    return ROOST_OK;
}

const roost_behaviour_t *node_kind_of(const roost_node_t *n, const char *key, size_t key_len)
{
    const char *kind = key;
    size_t len = s_kind_len(key);
    roost_local_key_t local;
    bool is_local = key[0] == '@' && roost_key_split_local(key, key_len, &local);
    if (is_local) { /* registered as "@<kind>" */
        kind = local.kind;
        len = local.kind_len;
    }
    for (uint32_t i = 0; i < n->nkinds; i++) {
        const char *k = n->kinds[i]->kind + (is_local ? 1 : 0);
        if ((n->kinds[i]->kind[0] == '@') == is_local && strncmp(k, kind, len) == 0 &&
            k[len] == '\0')
            return n->kinds[i];
    }
    return NULL;
}

int roost_node_set_service(roost_node_t *self, const char *name, void *ptr)
{
    assert(!self->running);
    if (roost_node_service(self, name))
        return ROOST_EEXIST;
    if (self->nservices == ROOST_SERVICES_MAX)
        return ROOST_ETOOBIG;
    self->services[self->nservices].name = name;
    self->services[self->nservices].ptr = ptr;
    self->nservices++;
    return ROOST_OK;
}

void *roost_node_service(const roost_node_t *self, const char *name)
{
    for (uint32_t i = 0; i < self->nservices; i++)
        if (strcmp(self->services[i].name, name) == 0)
            return self->services[i].ptr;
    return NULL;
}

void roost_node_set_system_handler(roost_node_t *self, roost_system_fn fn, void *arg)
{
    assert(!self->running);
    self->system_fn = fn;
    self->system_arg = arg;
}

void roost_node_set_primary(roost_node_t *self, uint32_t partition, uint32_t primary,
                            uint64_t epoch)
{
    assert(partition < self->partitions);
    atomic_store_explicit(&self->epoch[partition], epoch, memory_order_relaxed);
    atomic_store_explicit(&self->primary[partition], primary, memory_order_release);
}

uint32_t roost_node_primary(const roost_node_t *self, uint32_t partition)
{
    return atomic_load_explicit(&self->primary[partition], memory_order_acquire);
}

uint64_t roost_node_epoch(const roost_node_t *self, uint32_t partition)
{
    return atomic_load_explicit(&self->epoch[partition], memory_order_relaxed);
}

uint32_t roost_node_partition_of(const roost_node_t *self, const char *key)
{
    roost_local_key_t local;
    bool is_local;
    return s_partition(self, key, strlen(key), &local, &is_local);
}

uint32_t roost_node_partitions(const roost_node_t *self)
{
    return self->partitions;
}

uint32_t roost_node_id(const roost_node_t *self)
{
    return self->id;
}

uint32_t roost_node_workers(const roost_node_t *self)
{
    return self->nworkers;
}

static void s_worker_accept(roost_node_t *n, roost_env_t *env, uint32_t partition,
                            roost_worker_t *from)
{
    roost_worker_t *w = &n->workers[partition % n->nworkers];
    if (w == from)
        worker_deliver(w, env);
    else if (from)
        worker_post(from, w, env);
    else
        worker_enqueue(w, env);
}

static void s_count_drop(roost_node_t *n, roost_worker_t *from)
{
    roost_worker_t *w = from ? from : &n->workers[0];
    atomic_fetch_add_explicit(&w->stats.dropped, 1, memory_order_relaxed);
}

/* The error answer to env (NULL when nobody could take one: a response, or no sender). */
static roost_env_t *s_error_for(const roost_env_t *env, int code)
{
    if (env->sender_len == 0 || (env->flags & ROOST_ENV_RESPONSE))
        return NULL;
    roost_env_t *err = roost_env_new(env->sender, env->target, ROOST_MSG_ERROR, NULL, 0);
    err->flags = ROOST_ENV_RESPONSE | ROOST_ENV_ERROR;
    err->status = code;
    err->corr = env->corr;
    return err;
}

void node_bounce(roost_node_t *n, roost_env_t *env, int code, roost_worker_t *from)
{
    roost_env_t *err = s_error_for(env, code);
    if (err)
        node_route(n, err, from);
    s_count_drop(n, from);
    roost_env_free(env);
}

/* A node with no primary for a peer's envelope (no map yet: it has just restarted) cannot
 * route the refusal by its map either, so it goes back to the peer the envelope came from,
 * which routes it on by its own. It used to be dropped: the requester waited out its timeout
 * (a conversation's fan-out stalled 5 s after a cluster restart). A requester whose key names
 * its node (a node-local actor: an edge's session, a probe) gets it straight from here: the
 * peer may only have forwarded the request, and a node never forwards another node's local
 * keys, so the refusal died there (the store benchmark's warm-up: writes forwarded by the
 * first node with a map to one without waited out their 5 s). */
static void s_refuse_to_peer(roost_node_t *n, roost_env_t *env, uint32_t peer)
{
    roost_env_t *err = s_error_for(env, ROOST_EUNAVAIL);
    roost_local_key_t local;
    if (err && err->target[0] == '@' && roost_key_split_local(err->target, err->target_len, &local))
        node_route(n, err, NULL); /* a local key names its node: routed without the map */
    else if (err && roost_transport_send(n->transport, peer, err) != ROOST_OK)
        s_count_drop(n, NULL);
    s_count_drop(n, NULL);
    roost_env_free(env);
}

int node_route(roost_node_t *n, roost_env_t *env, roost_worker_t *from)
{
    roost_local_key_t local;
    bool is_local;
    uint32_t p = s_route_partition(n, env, &local, &is_local);
    uint32_t primary =
        is_local ? local.node : atomic_load_explicit(&n->primary[p], memory_order_acquire);
    if (primary == n->id) {
        s_worker_accept(n, env, p, from);
        return ROOST_OK;
    }
    if (primary == ROOST_NO_NODE || !n->transport) {
        node_bounce(n, env, ROOST_EUNAVAIL, from);
        return ROOST_EUNAVAIL;
    }
    if (env->epoch == 0)
        env->epoch = atomic_load_explicit(&n->epoch[p], memory_order_relaxed);
    if (from && n->transport->ops->send_chain) { /* with the pass's other remote sends */
        env->dest_node = primary;
        worker_post_remote(from, env);
        return ROOST_OK;
    }
    int rc = roost_transport_send(n->transport, primary, env);
    if (rc != ROOST_OK)
        s_count_drop(n, from);
    return rc;
}

/* The transport's sink: envelopes from other nodes (on the transport's thread). Those for this
 * node's actors wait in n->from_network until the transport ends the batch (env NULL): one push
 * and at most one wake-up per worker per received frame, not one per envelope. */
static void s_on_remote(void *arg, uint32_t from, roost_env_t *env)
{
    roost_node_t *n = arg;
    if (!env) {
        outbox_flush(&n->from_network, n);
        return;
    }
    if (env->target_len == 0) {
        if (n->system_fn)
            n->system_fn(n->system_arg, from, env);
        roost_env_free(env);
        return;
    }
    roost_local_key_t local;
    bool is_local;
    uint32_t p = s_route_partition(n, env, &local, &is_local);
    if (is_local && local.node != n->id) { /* misaddressed: never forward node-local keys */
        node_bounce(n, env, ROOST_ESTALE, NULL);
        return;
    }
    uint32_t primary = atomic_load_explicit(&n->primary[p], memory_order_acquire);
    if (!is_local && primary == ROOST_NO_NODE) {
        s_refuse_to_peer(n, env, from);
        return;
    }
    if (!is_local && primary != n->id) {
        if (env->hops >= ROOST_ENV_HOPS_MAX) { /* maps disagree for too long: stop the loop */
            node_bounce(n, env, ROOST_ESTALE, NULL);
            return;
        }
        env->hops++;
        node_route(n, env, NULL);
        return;
    }
    outbox_add(&n->from_network, &n->workers[p % n->nworkers], env);
}

void roost_node_set_transport(roost_node_t *self, roost_transport_t *transport)
{
    assert(!self->running);
    self->transport = transport;
    if (transport)
        transport->ops->set_sink(transport, s_on_remote, self);
}

void roost_node_set_io(roost_node_t *self, bool on_worker)
{
    assert(!self->running);
    self->io_on_worker = on_worker && self->transport && self->transport->ops->serve;
}

int roost_node_send(roost_node_t *self, roost_env_t *env)
{
    if (!env)
        return ROOST_EINVAL;
    if (!roost_key_is_valid(env->target, env->target_len)) {
        roost_env_free(env);
        return ROOST_EINVAL;
    }
    return node_route(self, env, NULL);
}

int roost_node_start(roost_node_t *self)
{
    assert(!self->running);
    atomic_store(&self->stopping, false);
    for (uint32_t i = 0; i < self->nworkers; i++) {
        if (pthread_create(&self->workers[i].thread, NULL, worker_thread_main, &self->workers[i]) !=
            0) {
            atomic_store(&self->stopping, true);
            for (uint32_t j = 0; j < i; j++) {
                worker_wake(&self->workers[j]);
                pthread_join(self->workers[j].thread, NULL);
            }
            return ROOST_EIO;
        }
    }
    self->running = true;
    return ROOST_OK;
}

void roost_node_stop(roost_node_t *self)
{
    if (!self->running)
        return;
    atomic_store_explicit(&self->stopping, true, memory_order_release);
    for (uint32_t i = 0; i < self->nworkers; i++) {
        worker_wake(&self->workers[i]);
        pthread_join(self->workers[i].thread, NULL);
    }
    self->running = false;
}

bool roost_node_poll(roost_node_t *self)
{
    assert(!self->running);
    uint64_t now = roost_clock_now_ns(self->clock);
    for (uint32_t i = 0; i < self->nworkers; i++)
        worker_pass(&self->workers[i], now);
    bool more = false; /* a later worker's pass may have queued work for an earlier one */
    for (uint32_t i = 0; i < self->nworkers; i++)
        more |= worker_has_work(&self->workers[i], now);
    return more;
}

void roost_node_stats(roost_node_t *self, roost_node_stats_t *out)
{
    memset(out, 0, sizeof *out);
    for (uint32_t i = 0; i < self->nworkers; i++) {
        worker_stats_t *s = &self->workers[i].stats;
        out->activations += atomic_load_explicit(&s->activations, memory_order_relaxed);
        out->passivations += atomic_load_explicit(&s->passivations, memory_order_relaxed);
        out->messages += atomic_load_explicit(&s->messages, memory_order_relaxed);
        out->dropped += atomic_load_explicit(&s->dropped, memory_order_relaxed);
        out->timers_fired += atomic_load_explicit(&s->timers_fired, memory_order_relaxed);
        out->actors_active += (uint64_t)atomic_load_explicit(&s->active, memory_order_relaxed);
        out->timers_pending +=
            (uint64_t)atomic_load_explicit(&s->timers_pending, memory_order_relaxed);
        int64_t q = atomic_load_explicit(&self->workers[i].queued, memory_order_relaxed);
        out->queued += q > 0 ? (uint64_t)q : 0; /* a pop may be counted before its push */
    }
}
