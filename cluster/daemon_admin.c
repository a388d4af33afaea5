/* cluster/daemon_admin.c — what a node tells its operator: the admin channel's status,
 * metrics and drain answers, the metrics port's Prometheus text and health, and the operator
 * keys the admin channel accepts. */
#include "cluster/daemon_internal.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <unistd.h>

#include "actors/mp.h"
#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/util.h"

static const char *const COMP = "daemon";

static const char *s_health(void *arg)
{
    daemon_t *d = arg;
    return atomic_load(&d->disk_alarm) ? "disk refused a write\n"
           : atomic_load(&d->draining) ? "draining\n"
                                       : NULL;
}

/* ---- the admin channel ------------------------------------------------------------------- */

static _Thread_local uint64_t s_du; /* nftw has no argument for its callback */

static int s_du_add(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path, (void)ftw;
    if (flag == FTW_F)
        s_du += (uint64_t)st->st_blocks * 512u;
    return 0;
}

/* Bytes the node's data directory takes on disk (RocksDB and the Raft log). */
static uint64_t s_disk_bytes(const char *dir)
{
    s_du = 0;
    nftw(dir, s_du_add, 16, FTW_PHYS);
    return s_du;
}

static uint32_t s_admin_status(void *arg, msgpack_packer *pk)
{
    daemon_t *d = arg;
    roost_node_stats_t st;
    roost_node_stats(d->node, &st);
    mp_kv_str(pk, "name", d->self->name);
    mp_kv_u64(pk, "id", d->self->id);
    mp_kv_str(pk, "roles",
              (d->self->roles & ROLE_SHARD) && (d->self->roles & ROLE_EDGE) ? "shard,edge"
              : (d->self->roles & ROLE_SHARD)                               ? "shard"
                                                                            : "edge");
    mp_kv_u64(pk, "pid", (uint64_t)getpid());
    mp_kv_u64(pk, "map_version", atomic_load(&d->last_version));
    mp_kv_u64(pk, "actors", st.actors_active);
    mp_kv_u64(pk, "messages", st.messages);
    mp_kv_u64(pk, "connections", d->edge ? edge_connections(d->edge) : 0);
    mp_kv_bool(pk, "draining", atomic_load(&d->draining));
    mp_kv_bool(pk, "drained", atomic_load(&d->draining) && daemon_drained(d));
    transport_zmq_stats_t ts;
    transport_zmq_stats(d->transport, &ts);
    mp_kv_bool(pk, "curve", d->manifest.security.curve);
    mp_kv_u64(pk, "peer_refused", ts.refused + ts.impostor);
    mp_kv_u64(pk, "admin_refused", admin_refused(atomic_load(&d->admin)));
    uint64_t term = 0;
    mp_kv_str(pk, "raft", d->control ? control_raft_role(d->control, &term) : "none");
    mp_kv_u64(pk, "term", term);
    mp_kv_u64(pk, "primaries", atomic_load(&d->primaries));
    mp_kv_u64(pk, "replicas", atomic_load(&d->replicas));
    mp_kv_u64(pk, "msgs_per_s", atomic_load(&d->msgs_per_s));
    mp_kv_u64(pk, "disk_bytes", d->engine ? s_disk_bytes(d->data_dir) : 0);
    mp_kv_u64(pk, "disk_free_bytes", d->engine ? atomic_load(&d->free_bytes) : 0);
    mp_kv_str(pk, "disk",
              !d->engine                      ? "none"
              : atomic_load(&d->disk_alarm)   ? "read-only"
              : atomic_load(&d->headroom_low) ? "low-headroom"
                                              : "ok");
    return 21;
}

/* Prometheus text: an edge's own series (connections, frames, closes, HTTP), or a node's
 * runtime and store figures. */
/* a then b in one malloc'd text (either may be NULL). */
static char *s_concat(char *a, size_t alen, char *b, size_t blen, size_t *len)
{
    char *out = roost_xmalloc((a ? alen : 0) + (b ? blen : 0) + 1);
    *len = 0;
    if (a)
        memcpy(out, a, alen), *len += alen;
    if (b)
        memcpy(out + *len, b, blen), *len += blen;
    out[*len] = '\0';
    free(a);
    free(b);
    return out;
}

/* The series every node has: the workers' backlog, the transport's counters (refused
 * handshakes, impostor frames, envelopes sent, received, dropped, malformed), and the kept
 * ones (the store's commit latency on shards). */
static char *s_common_metrics(daemon_t *d, size_t *len)
{
    transport_zmq_stats_t ts;
    transport_zmq_stats(d->transport, &ts);
    roost_node_stats_t st;
    roost_node_stats(d->node, &st);
    metrics_registry_t *r = metrics_registry_new();
    metrics_gauge_set(metrics_register_gauge(r, "roost_node_queued",
                                             "Envelopes waiting for a worker (mailbox backlog).",
                                             NULL, 0),
                      (int64_t)st.queued);
    const struct {
        const char *name, *help;
        uint64_t v;
    } c[] = {
        {"roost_peer_refused_total",
         "CURVE handshakes on the peer port with a key not in the manifest.", ts.refused},
        {"roost_peer_impostor_total", "Frames from a listed key under another node's routing id.",
         ts.impostor},
        {"roost_transport_sent_total", "Envelopes sent to other nodes.", ts.sent},
        {"roost_transport_received_total", "Envelopes received from other nodes.", ts.received},
        {"roost_transport_dropped_total",
         "Envelopes not sent: an unknown node, an outbound queue over its bound, a peer that "
         "has not drained its pending bytes.",
         ts.dropped},
        {"roost_transport_malformed_total", "Received envelopes that did not decode (dropped).",
         ts.malformed},
        {"roost_transport_unknown_peer_total", "Frames from a routing id that is no member.",
         ts.unknown_peer},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        metrics_counter_add(metrics_register_counter(r, c[i].name, c[i].help, NULL, 0), c[i].v);
    metrics_counter_add(metrics_register_counter(
                            r, "roost_admin_refused_total",
                            "CURVE handshakes on the admin port with a non-operator key.", NULL, 0),
                        admin_refused(atomic_load(&d->admin)));
    char *out = NULL, *kept = NULL;
    size_t klen = 0;
    if (metrics_render(r, &out, len) != ROOST_OK)
        out = NULL;
    metrics_registry_destroy(&r);
    if (metrics_render(d->reg, &kept, &klen) != ROOST_OK)
        kept = NULL;
    return s_concat(out, *len, kept, klen, len);
}

static char *s_node_metrics(daemon_t *d, size_t *len);

static char *s_admin_metrics(void *arg, size_t *len)
{
    daemon_t *d = arg;
    size_t alen = 0, blen = 0;
    char *a = d->edge ? edge_metrics_render(d->edge, &alen) : s_node_metrics(d, &alen);
    char *b = s_common_metrics(d, &blen);
    return s_concat(a, alen, b, blen, len);
}

static uint64_t s_positive(_Atomic int64_t *v)
{
    int64_t x = v ? atomic_load(v) : 0;
    return x > 0 ? (uint64_t)x : 0;
}

static char *s_node_metrics(daemon_t *d, size_t *len)
{
    roost_node_stats_t st;
    roost_node_stats(d->node, &st);
    metrics_registry_t *r = metrics_registry_new();
    const struct {
        const char *name, *help;
        uint64_t v;
    } g[] = {
        {"roost_node_actors_active", "Actors active on this node.", st.actors_active},
        {"roost_node_activations_total", "Actor activations.", st.activations},
        {"roost_node_passivations_total", "Actor passivations.", st.passivations},
        {"roost_node_messages_total", "Messages handled by actors.", st.messages},
        {"roost_node_dropped_total", "Undeliverable envelopes.", st.dropped},
        {"roost_node_timers_pending", "Timers pending.", st.timers_pending},
        {"roost_node_map_version", "Cluster-map version applied.", atomic_load(&d->last_version)},
        {"roost_store_appends_total", "Batches appended to partition logs.",
         d->engine ? atomic_load(&d->store.stats.appends) : 0},
        {"roost_store_commits_total", "Log entries committed.",
         d->engine ? atomic_load(&d->store.stats.commits) : 0},
        {"roost_store_corrupt_total", "Corrupt log entries found.",
         d->engine ? atomic_load(&d->store.stats.corrupt) : 0},
        {"roost_store_repaired_total", "Corrupt log entries repaired from replicas.",
         d->engine ? atomic_load(&d->store.stats.repaired) : 0},
        {"roost_store_scrubbed_total", "Log entries the scrubber re-read and checked.",
         d->engine ? atomic_load(&d->store.stats.scrubbed) : 0},
        {"roost_store_truncated_total", "Log entries dropped by retention (applied, kept behind).",
         d->engine ? atomic_load(&d->store.stats.truncated) : 0},
        {"roost_store_rebuilds_total", "Partition copies rebuilt here from a snapshot.",
         d->engine ? atomic_load(&d->store.stats.rebuilds) : 0},
        {"roost_store_read_only", "1 when the disk refused a write: the node stopped serving.",
         atomic_load(&d->disk_alarm)},
        {"roost_store_live_bytes", "Bytes of the table files the database uses.",
         atomic_load(&d->live_bytes)},
        {"roost_store_disk_free_bytes", "Free bytes on the database's filesystem.",
         atomic_load(&d->free_bytes)},
        {"roost_store_disk_headroom_low",
         "1 when free disk is below what compaction needs (universal: the live bytes; level: "
         "a tenth of them).",
         atomic_load(&d->headroom_low)},
        {"roost_store_replication_behind_entries",
         "Entries the slowest replica lacks, summed over the partitions this node leads.",
         s_positive(d->engine ? &d->store.stats.behind : NULL)},
        {"roost_store_hints_pending_entries",
         "Entries the partitions this node leads hold for replicas that lack them (every "
         "lagging or down replica and every handoff's new replica; never counted toward a "
         "quorum).",
         s_positive(d->engine ? &d->store.stats.hints : NULL)},
        {"roost_store_handoffs_active", "Partitions this node leads with a handoff under way.",
         s_positive(d->engine ? &d->store.stats.handoffs : NULL)},
        {"roost_cluster_map_epochs_max",
         "The highest partition epoch in the cluster map this node applied (membership epoch).",
         atomic_load(&d->max_epoch)},
    };
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) { /* a fresh registry: counters from 0 */
        if (strstr(g[i].name, "_total"))
            metrics_counter_add(metrics_register_counter(r, g[i].name, g[i].help, NULL, 0), g[i].v);
        else
            metrics_gauge_set(metrics_register_gauge(r, g[i].name, g[i].help, NULL, 0),
                              (int64_t)g[i].v);
    }
    char *out = NULL;
    if (metrics_render(r, &out, len) != ROOST_OK)
        out = NULL;
    metrics_registry_destroy(&r);
    return out;
}

static int s_admin_drain(void *arg, const char **reason)
{
    daemon_t *d = arg;
    if (!d->edge) { /* a shard drains by handing its partitions off: roostctl drain */
        *reason = "a shard node drains through the control plane (roostctl drain sends it to "
                  "the voters as an apply)";
        return -1;
    }
    daemon_drain(d);
    return 0;
}

/* The operators' public keys, each tagged with its name. */
static int s_admin_operators(daemon_t *d, zap_allow_t *ops, uint32_t *n)
{
    const manifest_security_t *se = &d->manifest.security;
    for (uint32_t i = 0; i < se->n_operators; i++) {
        char err[512] = "";
        const manifest_operator_t *o = &se->operators[i];
        if (curve_public_key(daemon_root(d), o->curve_public, o->cert, ops[i].key, err,
                             sizeof err) != 0) {
            ROOST_ERROR(COMP, "no CURVE public key for an operator", "operator=%s err=\"%s\"",
                        o->name, err);
            return ROOST_EINVAL;
        }
        snprintf(ops[i].user, sizeof ops[i].user, "%s", o->name);
    }
    *n = se->n_operators;
    return ROOST_OK;
}

int daemon_admin_open(daemon_t *d)
{
    if (d->self->admin_port) {
        admin_hooks_t h = {.status = s_admin_status,
                           .drain = s_admin_drain,
                           .metrics = s_admin_metrics,
                           .map = daemon_map_bytes,
                           .apply = daemon_apply,
                           .user = daemon_user,
                           .arg = d};
        admin_curve_t ac = {.on = d->manifest.security.curve};
        zap_allow_t ops[MANIFEST_OPERATORS_MAX];
        if (ac.on && s_admin_operators(d, ops, &ac.n_operators) != ROOST_OK)
            return ROOST_EINVAL;
        memcpy(ac.secret_key, d->curve.secret_key, sizeof ac.secret_key);
        ac.operators = ops;
        admin_t *admin = admin_start(d->self->host, d->self->admin_port, &h, &ac);
        atomic_store(&d->admin, admin);
        sodium_memzero(ac.secret_key, sizeof ac.secret_key);
        if (!admin)
            return ROOST_EIO;
    }
    if (d->self->metrics_port) {
        d->metrics =
            metrics_http_start(d->self->host, d->self->metrics_port, s_admin_metrics, s_health, d);
        if (!d->metrics)
            return ROOST_EIO;
    }
    return ROOST_OK;
}

void daemon_admin_close(daemon_t *d)
{
    metrics_http_stop(&d->metrics); /* first: its renders read the admin channel's counts */
    admin_t *admin = atomic_exchange(&d->admin, NULL);
    admin_stop(&admin);
}
