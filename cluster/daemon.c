/* cluster/daemon.c — see daemon.h. Wiring only: every mechanism lives in runtime/. The admin
 * channel and the metrics port are daemon_admin.c's. */
#include "cluster/daemon_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>
#include <unistd.h>

#include "actors/actors.h"
#include "actors/mp.h"
#include "runtime/control.h"
#include "runtime/detector.h"
#include "runtime/errors.h"
#include "runtime/hash.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "runtime/node.h"
#include "runtime/transport_zmq.h"
#include "runtime/util.h"
#include "shards/engine_rocksdb.h"
#include "shards/kv.h"
#include "shards/proto.h"
#include "shards/replog.h"
#include "shards/store.h"
#include "shards/syncer.h"

static const char *const COMP = "daemon";

/* ---- the map → the routing table (control thread) ---------------------------------------- */

static void s_log_map(daemon_t *d, const clustermap_t *map)
{
    char down[256] = "";
    size_t used = 0;
    for (uint32_t i = 0; i < clustermap_member_count(map); i++) {
        const clustermap_member_t *m = clustermap_member_at(map, i);
        if (m->status == CLUSTERMAP_DOWN && used < sizeof down - 70)
            used +=
                (size_t)snprintf(down + used, sizeof down - used, "%s%s", used ? "," : "", m->name);
    }
    uint32_t primaries = 0;
    char serving[512] = "";
    size_t sused = 0;
    bool cut = false;
    for (uint32_t p = 0; p < clustermap_partitions(map); p++) {
        if (clustermap_primary_of(map, p) != d->self->id)
            continue;
        primaries++;
        if (sused < sizeof serving - 16)
            sused += (size_t)snprintf(serving + sused, sizeof serving - sused, "%s%u",
                                      sused ? "," : "", p);
        else if (!cut)
            cut = snprintf(serving + sused, sizeof serving - sused, ",…") > 0;
    }
    ROOST_INFO(COMP, "map applied",
               "version=%llu digest=%016llx leader=%u down=[%s] primaries=%u serving=[%s]",
               (unsigned long long)clustermap_version(map),
               (unsigned long long)clustermap_digest(map),
               d->control ? control_leader_id(d->control) : 0, down, primaries, serving);
}

static void s_send_to_log(daemon_t *d, uint32_t p, uint32_t type, const msgpack_sbuffer *sb)
{
    char key[ROOST_KEY_BYTES_MAX + 1];
    if (replog_key(key, sizeof key, d->self->id, p) == ROOST_OK)
        roost_node_send(d->node,
                        roost_env_new(key, NULL, type, sb ? sb->data : NULL, sb ? sb->size : 0));
}

/* Tells our log replica of partition p its role (epoch, primary and lists) when it changed; a
 * copy the map names in no list any more (a settled handoff moved it away, or it was left on
 * disk before a restart) becomes a candidate for retirement (s_retire_due). */
static void s_tell_role(daemon_t *d, const clustermap_t *map, uint32_t p)
{
    msg_role_t m;
    msg_role_from_map(map, p, &m);
    if (!clustermap_names(map, p, d->self->id)) {
        if ((d->role_told[p] != 0 || (!d->retire_scanned && replog_holds_copy(d->engine, p))) &&
            atomic_load(&d->retire_since[p]) == 0)
            atomic_store(&d->retire_since[p], roost_clock_now_ns(roost_clock_real()));
        d->role_told[p] = 0;
        return;
    }
    atomic_store(&d->retire_since[p], 0);
    uint64_t told = roost_hash64(&m, sizeof m) | 1u; /* never 0: 0 means "told nothing" */
    if (told == d->role_told[p])
        return;
    d->role_told[p] = told;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msg_role_encode(&sb, &m);
    s_send_to_log(d, p, MSG_LOG_ROLE, &sb);
    msgpack_sbuffer_destroy(&sb);
}

/* The store's handoff hook (a worker thread): the partition's primary asks for the switch to
 * its next list, or for its previous list to be forgotten. The command goes to this node's
 * control plane and to every other voter; only the leader's is applied (control.h), and the
 * map refuses a stale one. */
static void s_handoff(void *arg, uint32_t partition, uint64_t map_epoch, bool settled)
{
    daemon_t *d = arg;
    clustermap_cmd_t cmd = {.type = settled ? CLUSTERMAP_CMD_HANDOFF_SETTLED
                                            : CLUSTERMAP_CMD_HANDOFF_DONE,
                            .partition = partition,
                            .epoch = map_epoch};
    if (d->control)
        (void)control_submit(d->control, &cmd);
    void *buf = NULL;
    size_t len = 0;
    if (clustermap_cmd_encode(&cmd, &buf, &len) != ROOST_OK)
        return;
    for (uint32_t i = 0; i < d->n_voter_ids; i++) {
        if (d->voter_ids[i] == d->self->id)
            continue;
        roost_env_t *env = roost_env_new("", "", ROOST_MSG_CONTROL, buf, len);
        if (env)
            roost_transport_send(d->transport, d->voter_ids[i], env);
    }
    free(buf);
}

/* A handoff request from another node (transport thread): only handoff commands come this
 * way; membership changes need an operator (the admin channel). */
static void s_on_control(daemon_t *d, const roost_env_t *env)
{
    clustermap_cmd_t cmd;
    if (!d->control || clustermap_cmd_decode(env->payload, env->payload_len, &cmd) != ROOST_OK)
        return;
    if (cmd.type == CLUSTERMAP_CMD_HANDOFF_DONE || cmd.type == CLUSTERMAP_CMD_HANDOFF_SETTLED)
        (void)control_submit(d->control, &cmd);
}

static void s_count_partitions(daemon_t *d, const clustermap_t *map)
{
    uint32_t primaries = 0, replicas = 0;
    for (uint32_t p = 0; p < clustermap_partitions(map); p++) {
        uint32_t ids[PROTO_REPLICAS_MAX];
        uint32_t n = clustermap_replicas_of(map, p, ids, PROTO_REPLICAS_MAX);
        primaries += clustermap_primary_of(map, p) == d->self->id;
        for (uint32_t i = 0; i < n; i++)
            replicas += ids[i] == d->self->id;
    }
    atomic_store(&d->primaries, primaries);
    atomic_store(&d->replicas, replicas);
}

static void s_on_map(void *arg, const clustermap_t *map)
{
    daemon_t *d = arg;
    uint32_t parts = roost_node_partitions(d->node);
    if (clustermap_partitions(map) != parts || clustermap_version(map) == 0)
        return;
    for (uint32_t p = 0; p < parts; p++) {
        roost_node_set_primary(d->node, p, clustermap_primary_of(map, p),
                               clustermap_epoch_of(map, p));
        if (d->engine)
            s_tell_role(d, map, p);
    }
    d->retire_scanned = true;
    clustermap_t *latest = clustermap_copy(map); /* a voter's is the FSM's working map */
    pthread_mutex_lock(&d->map_lock);
    clustermap_t *old = d->map_latest;
    if (latest)
        d->map_latest = latest;
    pthread_mutex_unlock(&d->map_lock);
    if (latest)
        clustermap_release(&old);
    atomic_store(&d->last_version, clustermap_version(map));
    uint64_t max_epoch = 0;
    for (uint32_t p = 0; p < parts; p++)
        if (clustermap_epoch_of(map, p) > max_epoch)
            max_epoch = clustermap_epoch_of(map, p);
    atomic_store(&d->max_epoch, max_epoch);
    s_count_partitions(d, map);
    s_log_map(d, map);
}

static bool s_is_voter(const manifest_t *m, const manifest_node_t *self,
                       const manifest_node_t **voters, uint32_t *n);

/* ---- transport thread hooks -------------------------------------------------------------- */

/* Non-voters (edges) have no Raft: they apply the map the leader pushes, if it is newer. */
static void s_on_pushed_map(daemon_t *d, const roost_env_t *env)
{
    clustermap_t *map = NULL;
    if (d->control || clustermap_decode(env->payload, env->payload_len, &map) != ROOST_OK)
        return;
    if (clustermap_version(map) > atomic_load(&d->last_version))
        s_on_map(d, map);
    clustermap_release(&map);
}

static void s_on_system(void *arg, uint32_t from, const roost_env_t *env)
{
    daemon_t *d = arg;
    if (env->type == ROOST_MSG_HEARTBEAT)
        detector_heartbeat(d->detector, from, roost_clock_now_ns(roost_clock_real()), env->payload,
                           env->payload_len);
    else if (env->type == ROOST_MSG_MAP)
        s_on_pushed_map(d, env);
    else if (env->type == ROOST_MSG_CONTROL)
        s_on_control(d, env);
    else if (env->type == ROOST_MSG_RAFT)
        control_tunnel_frame(d->control, from, env->payload, env->payload_len);
}

/* The leader sends its map to every node outside the control plane when it changes and every
 * MAP_PUSH_MS (a restarted edge learns it within that). */
enum { MAP_PUSH_MS = 2000 };

static void s_push_map(daemon_t *d, uint64_t now_ns)
{
    if (!d->control || !control_is_leader(d->control))
        return;
    clustermap_t *map = control_map_get(d->control);
    uint64_t version = map ? clustermap_version(map) : 0;
    bool due = now_ns - d->map_sent_ns >= (uint64_t)MAP_PUSH_MS * 1000000u;
    void *buf = NULL;
    size_t len = 0;
    if (version && (due || version != d->map_sent_version) &&
        clustermap_encode(map, &buf, &len) == ROOST_OK) {
        const manifest_node_t *voters[CONTROL_VOTERS_MAX];
        uint32_t nv;
        pthread_mutex_lock(&d->manifest_lock); /* an apply may be adding nodes */
        for (uint32_t i = 0; i < d->manifest.n_nodes; i++) {
            const manifest_node_t *n = &d->manifest.nodes[i];
            if (n == d->self || s_is_voter(&d->manifest, n, voters, &nv))
                continue;
            roost_env_t *env = roost_env_new("", "", ROOST_MSG_MAP, buf, len);
            if (env)
                roost_transport_send(d->transport, n->id, env);
        }
        pthread_mutex_unlock(&d->manifest_lock);
        d->map_sent_ns = now_ns;
        d->map_sent_version = version;
        free(buf);
    }
    clustermap_release(&map);
}

static size_t s_heartbeat_payload(void *arg, uint8_t *buf, size_t cap)
{
    daemon_t *d = arg;
    return d->detector ? detector_view_encode(d->detector, buf, cap) : 0;
}

/* Transport thread, about once a second: copies the maps have named in no list for
 * DAEMON_RETIRE_DELAY_MS, and the latest map still does not name, are retired. */
static void s_retire_due(daemon_t *d, uint64_t now_ns)
{
    if (!d->engine || now_ns - d->retire_checked_ns < 1000000000ull)
        return;
    d->retire_checked_ns = now_ns;
    pthread_mutex_lock(&d->map_lock);
    clustermap_t *map = d->map_latest ? clustermap_retain(d->map_latest) : NULL;
    pthread_mutex_unlock(&d->map_lock);
    uint64_t now = roost_clock_now_ns(roost_clock_real());
    for (uint32_t p = 0; map && p < clustermap_partitions(map); p++) {
        uint64_t since = atomic_load(&d->retire_since[p]);
        if (!since || now - since < DAEMON_RETIRE_DELAY_MS * 1000000ull)
            continue;
        if (!clustermap_names(map, p, d->self->id) &&
            atomic_compare_exchange_strong(&d->retire_since[p], &since, 0))
            s_send_to_log(d, p, MSG_LOG_RETIRE, NULL);
    }
    clustermap_release(&map);
}

static void s_on_tick(void *arg, uint64_t now_ns)
{
    daemon_t *d = arg;
    s_retire_due(d, now_ns);
    faults_poll(d->faults);
    daemon_check_disk(d, now_ns);
    if (now_ns - d->rate_at_ns >= 1000000000u) { /* messages per second, for status */
        roost_node_stats_t st;
        roost_node_stats(d->node, &st);
        if (d->rate_at_ns)
            atomic_store(&d->msgs_per_s,
                         (st.messages - d->rate_msgs) * 1000000000u / (now_ns - d->rate_at_ns));
        d->rate_at_ns = now_ns;
        d->rate_msgs = st.messages;
    }
    daemon_apply_tick(d, now_ns);
    if (d->detector)
        detector_tick(d->detector, now_ns);
    s_push_map(d, now_ns);
}

/* ---- construction ------------------------------------------------------------------------ */

static int s_make_dirs(const char *path)
{
    char tmp[MANIFEST_PATH_BYTES_MAX + 1];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* security.curve: our pair from our certificate, every peer's public key; or a warning that
 * the data plane is not authenticated. */
static int s_curve_transport(daemon_t *d, transport_zmq_config_t *tc)
{
    const manifest_t *m = &d->manifest;
    if (!m->security.curve) {
        ROOST_WARN(COMP, "inter-node traffic is not authenticated (security.curve is off)",
                   "manifest=%s", m->path);
        return ROOST_OK;
    }
    char err[512] = "";
    if (curve_load_pair(daemon_root(d), d->self->curve_cert, &d->curve, err, sizeof err) != 0) {
        ROOST_ERROR(COMP, "cannot load this node's CURVE certificate", "node=%s err=\"%s\"",
                    d->self->name, err);
        return ROOST_EINVAL;
    }
    tc->curve.on = true;
    memcpy(tc->curve.public_key, d->curve.public_key, CURVE_KEY_BYTES);
    memcpy(tc->curve.secret_key, d->curve.secret_key, CURVE_KEY_BYTES);
    for (uint32_t i = 0; i < tc->npeers; i++) {
        const manifest_node_t *n = NULL;
        for (uint32_t k = 0; k < m->n_nodes && !n; k++)
            n = m->nodes[k].id == tc->peers[i].id ? &m->nodes[k] : NULL;
        err[0] = '\0';
        if (curve_public_key(daemon_root(d), n->curve_public, n->curve_cert,
                             tc->peers[i].curve_public, err, sizeof err) != 0) {
            ROOST_ERROR(COMP, "no CURVE public key for a peer", "peer=%s err=\"%s\"", n->name, err);
            return ROOST_EINVAL;
        }
    }
    return ROOST_OK;
}

static int s_open_transport(daemon_t *d)
{
    const manifest_t *m = &d->manifest;
    transport_zmq_config_t tc = {.self_id = d->self->id,
                                 .heartbeat_ms = m->heartbeat_ms,
                                 .on_tick = s_on_tick,
                                 .tick_arg = d,
                                 .heartbeat_payload = s_heartbeat_payload};
    snprintf(tc.bind_endpoint, sizeof tc.bind_endpoint, "tcp://%s:%u", d->self->host,
             d->self->peer_port);
    for (uint32_t i = 0; i < m->n_nodes; i++) {
        const manifest_node_t *n = &m->nodes[i];
        if (n == d->self)
            continue;
        tc.peers[tc.npeers].id = n->id;
        snprintf(tc.peers[tc.npeers].endpoint, TRANSPORT_ENDPOINT_BYTES_MAX, "tcp://%s:%u", n->host,
                 n->peer_port);
        tc.npeers++;
    }
    if (s_curve_transport(d, &tc) != ROOST_OK)
        return ROOST_EINVAL;
    d->transport = transport_zmq_new(&tc);
    sodium_memzero(tc.curve.secret_key, sizeof tc.curve.secret_key);
    if (!d->transport)
        return ROOST_EIO;
    uint32_t ids[ROOST_NODES_MAX];
    for (uint32_t i = 0; i < tc.npeers; i++)
        ids[i] = tc.peers[i].id;
    d->faults = faults_new(getenv("ROOST_FAULTS"), d->transport, ids, tc.npeers);
    return ROOST_OK;
}

static bool s_is_voter(const manifest_t *m, const manifest_node_t *self,
                       const manifest_node_t **voters, uint32_t *n)
{
    *n = manifest_voters(m, voters, CONTROL_VOTERS_MAX);
    for (uint32_t i = 0; i < *n; i++)
        if (voters[i] == self)
            return true;
    return false;
}

/* Raft rides the peer transport (control_tunnel.h): CurveZMQ authenticates and encrypts it
 * like every other frame between nodes. Called on the control thread. */
static void s_tunnel_send(void *arg, uint32_t peer, const void *frame, size_t len)
{
    daemon_t *d = arg;
    roost_env_t *env = roost_env_new("", "", ROOST_MSG_RAFT, frame, len);
    if (env)
        roost_transport_send(d->transport, peer, env);
}

static int s_open_control(daemon_t *d)
{
    const manifest_t *m = &d->manifest;
    const manifest_node_t *voters[CONTROL_VOTERS_MAX];
    uint32_t nv;
    if (!s_is_voter(m, d->self, voters, &nv))
        return ROOST_OK; /* edges and non-voting shards follow the map from a voter (later) */
    clustermap_member_t *members = roost_xcalloc(m->n_nodes, sizeof *members);
    uint32_t nm = 0;
    for (uint32_t i = 0; i < m->n_nodes; i++) {
        const manifest_node_t *n = &m->nodes[i];
        if (!(n->roles & ROLE_SHARD))
            continue;
        members[nm].id = n->id;
        snprintf(members[nm].name, sizeof members[nm].name, "%s", n->name);
        snprintf(members[nm].address, sizeof members[nm].address, "%s:%u", n->host, n->peer_port);
        nm++;
    }
    char raft_dir[MANIFEST_PATH_BYTES_MAX + 8];
    roost_fmt(raft_dir, sizeof raft_dir, "%s/raft", d->data_dir); /* sized to fit */
    control_config_t cc = {.self_id = d->self->id,
                           .data_dir = raft_dir,
                           .n_voters = nv,
                           .partitions = m->partitions,
                           .rf = m->replication_factor,
                           .n_members = nm,
                           .members = members,
                           .on_map = s_on_map,
                           .on_map_arg = d,
                           .tunnel_send = s_tunnel_send,
                           .tunnel_arg = d};
    bool fits = true;
    for (uint32_t i = 0; i < nv; i++) {
        cc.voters[i].id = voters[i]->id;
        fits &= roost_fmt(cc.voters[i].address, sizeof cc.voters[i].address, "%s:%u",
                          voters[i]->host, voters[i]->peer_port) == ROOST_OK; /* a name only */
    }
    d->control = fits ? control_new(&cc) : NULL;
    free(members);
    return d->control ? ROOST_OK : ROOST_EINVAL;
}

static int s_open_detector(daemon_t *d)
{
    const manifest_t *m = &d->manifest;
    uint32_t peers[ROOST_NODES_MAX], np = 0;
    for (uint32_t i = 0; i < m->n_nodes; i++)
        if (&m->nodes[i] != d->self && (m->nodes[i].roles & ROLE_SHARD))
            peers[np++] = m->nodes[i].id;
    detector_config_t dc = {.self_id = d->self->id,
                            .heartbeat_ms = m->heartbeat_ms,
                            .down_after_ms = m->down_after_ms,
                            .peers = peers,
                            .npeers = np,
                            .control = detector_control_of(d->control)};
    d->detector = detector_new(&dc);
    return d->detector ? ROOST_OK : ROOST_EINVAL;
}

static store_consistency_t s_consistency(const char *name)
{
    return strcmp(name, "ONE") == 0   ? CONSISTENCY_ONE
           : strcmp(name, "ALL") == 0 ? CONSISTENCY_ALL
                                      : CONSISTENCY_QUORUM;
}

static store_sync_t s_sync(const char *name)
{
    return strcmp(name, "always") == 0 ? SYNC_ALWAYS
           : strcmp(name, "none") == 0 ? SYNC_NONE
                                       : SYNC_BATCH;
}

/* Whether the last run stopped cleanly (its marker is consumed here). A data dir with no
 * database yet has nothing to have lost. Under sync: none an unclean stop may have lost
 * acknowledged writes: the node rejoins as a non-voter (store_t.rejoining). */
static bool s_stopped_cleanly(daemon_t *d)
{
    char marker[MANIFEST_PATH_BYTES_MAX + 16], current[MANIFEST_PATH_BYTES_MAX + 16];
    roost_fmt(marker, sizeof marker, "%s/clean-stop", d->data_dir);
    roost_fmt(current, sizeof current, "%s/db/CURRENT", d->data_dir);
    bool clean = access(marker, F_OK) == 0 || access(current, F_OK) != 0;
    unlink(marker);
    return clean;
}

/* After a clean stop (the engine closed, every write flushed): leaves the marker. */
static void s_mark_clean_stop(daemon_t *d)
{
    char marker[MANIFEST_PATH_BYTES_MAX + 16];
    roost_fmt(marker, sizeof marker, "%s/clean-stop", d->data_dir);
    FILE *f = fopen(marker, "w");
    if (f) {
        fflush(f);
        fsync(fileno(f));
        fclose(f);
    }
}

/* Shard nodes: the RocksDB engine, the store service and the store's behaviours. */
static int s_open_store(daemon_t *d)
{
    char path[MANIFEST_PATH_BYTES_MAX + 8], err[512];
    bool clean = s_stopped_cleanly(d);
    roost_fmt(path, sizeof path, "%s/db", d->data_dir); /* sized to fit */
    store_sync_t sync = s_sync(d->manifest.sync);
    engine_rocksdb_options_t eo = {.buffer_unsynced = sync != SYNC_NONE,
                                   .compaction = manifest_compaction_leveled(&d->manifest)
                                                     ? ENGINE_ROCKSDB_COMPACTION_LEVEL
                                                     : ENGINE_ROCKSDB_COMPACTION_UNIVERSAL};
    d->engine = engine_rocksdb_open(path, &eo, err, sizeof err);
    if (!d->engine) {
        ROOST_ERROR(COMP, "cannot open the store", "dir=%s err=\"%s\"", path, err);
        return ROOST_EIO;
    }
    d->store = (store_t){.engine = d->engine,
                         .rf = d->manifest.replication_factor,
                         .consistency = s_consistency(d->manifest.consistency),
                         .sync = sync,
                         .append_timeout_ms = 5000,
                         .serving_hook = ACTORS_SERVING_HOOK,
                         .handoff = s_handoff,
                         .handoff_arg = d,
                         .rejoining = !clean && sync == SYNC_NONE,
                         .commit_us = metrics_register_histogram(
                             d->reg, "roost_store_commit_latency_us",
                             "Microseconds from an append reaching its partition's primary to "
                             "its acknowledgement at the configured consistency.",
                             NULL, 0, 10, 10000000)};
    d->role_told = roost_xcalloc(d->manifest.partitions, sizeof *d->role_told);
    d->retire_since = roost_xcalloc(d->manifest.partitions, sizeof *d->retire_since);
    if (d->store.rejoining)
        ROOST_WARN(COMP, "unclean stop under sync: none: rejoining as a non-voter",
                   "node=%s why=\"unsynced writes may be lost; each partition counts again once "
                   "it holds its primary's commit point\"",
                   d->self->name);
    roost_node_set_service(d->node, STORE_SERVICE, &d->store);
    d->syncer = syncer_new(d->node, d->engine);
    syncer_set_gather_us(d->syncer, d->manifest.sync_gather_us);
    roost_node_set_service(d->node, SYNCER_SERVICE, d->syncer);
    roost_node_register(d->node, &replog_behaviour);
    roost_node_register(d->node, &kv_behaviour);
    d->messaging =
        (actors_config_t){.retention_ms = (uint64_t)d->manifest.retention_days * 24 * 3600 * 1000,
                          .retention_count = d->manifest.retention_count,
                          .group_max_members = d->manifest.group_max_members,
                          .max_devices = d->manifest.max_devices};
    roost_node_set_service(d->node, ACTORS_CONFIG_SERVICE, &d->messaging);
    faults_hold_fanout(d->faults, &d->messaging.hold_fanout);
    return actors_register(d->node);
}

static int s_open_node(daemon_t *d)
{
    roost_node_config_t nc = {.node_id = d->self->id,
                              .workers = d->manifest.workers,
                              .partitions = d->manifest.partitions,
                              .passivate_after_ms = d->manifest.passivate_after_ms,
                              .idle_spin_us = d->manifest.idle_spin_us};
    d->node = roost_node_new(&nc);
    if (!d->node)
        return ROOST_EINVAL;
    for (uint32_t p = 0; p < d->manifest.partitions; p++)
        roost_node_set_primary(d->node, p, ROOST_NO_NODE, 0); /* until the first map */
    roost_node_set_transport(d->node, d->transport);
    if (manifest_io_on_worker(&d->manifest)) { /* docs/runtime.md "Transport" */
        transport_zmq_run_on_caller(d->transport);
        roost_node_set_io(d->node, true);
    }
    roost_node_set_system_handler(d->node, s_on_system, d);
    int rc = daemon_bridge_open(d);
    if (rc == ROOST_OK && (d->self->roles & ROLE_SHARD))
        rc = s_open_store(d);
    if (rc == ROOST_OK && (d->self->roles & ROLE_EDGE)) {
        d->edge = edge_setup(&d->manifest, d->self, d->data_root[0] ? d->data_root : NULL, d->node,
                             &d->edge_keys);
        rc = d->edge ? ROOST_OK : ROOST_EINVAL;
    }
    return rc;
}

daemon_t *daemon_new(const daemon_config_t *cfg)
{
    daemon_t *d = roost_xcalloc(1, sizeof *d);
    d->reg = metrics_registry_new();
    d->manifest = *cfg->manifest;
    d->self = manifest_node(&d->manifest, cfg->node_name);
    if (!d->self) {
        ROOST_ERROR(COMP, "no such node in the manifest", "node=%s manifest=%s", cfg->node_name,
                    d->manifest.path);
        metrics_registry_destroy(&d->reg);
        free(d);
        return NULL;
    }
    pthread_mutex_init(&d->manifest_lock, NULL);
    pthread_mutex_init(&d->map_lock, NULL);
    const manifest_node_t *voters[CONTROL_VOTERS_MAX];
    d->n_voter_ids = manifest_voters(&d->manifest, voters, CONTROL_VOTERS_MAX);
    for (uint32_t i = 0; i < d->n_voter_ids; i++)
        d->voter_ids[i] = voters[i]->id;
    if (cfg->data_root)
        snprintf(d->data_root, sizeof d->data_root, "%s", cfg->data_root);
    const char *dir = d->self->data_dir[0] ? d->self->data_dir : d->self->name;
    int rc = cfg->data_root && dir[0] != '/'
                 ? roost_fmt(d->data_dir, sizeof d->data_dir, "%s/%s", cfg->data_root, dir)
                 : roost_fmt(d->data_dir, sizeof d->data_dir, "%s", dir);
    if (rc != ROOST_OK)
        ROOST_ERROR(COMP, "data dir path too long", "node=%s", d->self->name);
    if (rc == ROOST_OK && (d->self->roles & ROLE_SHARD) && s_make_dirs(d->data_dir) != 0) {
        ROOST_ERROR(COMP, "cannot create data dir", "dir=%s err=\"%s\"", d->data_dir,
                    strerror(errno));
        rc = ROOST_EIO;
    }
    if (rc == ROOST_OK)
        rc = s_open_transport(d);
    if (rc == ROOST_OK)
        rc = s_open_control(d);
    if (rc == ROOST_OK)
        rc = s_open_detector(d);
    if (rc == ROOST_OK)
        rc = s_open_node(d);
    if (rc != ROOST_OK)
        daemon_destroy(&d);
    return d;
}

int daemon_start(daemon_t *self)
{
    int rc = self->syncer ? syncer_start(self->syncer) : ROOST_OK;
    if (rc == ROOST_OK)
        rc = roost_node_start(self->node);
    if (rc == ROOST_OK && self->control)
        rc = control_start(self->control);
    if (rc == ROOST_OK && !manifest_io_on_worker(&self->manifest))
        rc = transport_zmq_start(self->transport);
    if (rc == ROOST_OK && self->edge)
        rc = edge_start(self->edge) == 0 ? ROOST_OK : ROOST_EIO;
    if (rc == ROOST_OK)
        rc = daemon_admin_open(self);
    if (rc == ROOST_OK)
        ROOST_INFO(
            COMP, "node ready", "node=%s id=%u roles=%s%s peer_port=%u pid=%d", self->self->name,
            self->self->id, (self->self->roles & ROLE_SHARD) ? "shard" : "",
            (self->self->roles & ROLE_EDGE) ? "edge" : "", self->self->peer_port, (int)getpid());
    return rc;
}

void daemon_drain(daemon_t *self)
{
    if (self->edge) {
        atomic_store(&self->draining, true);
        edge_drain(self->edge);
    }
}

bool daemon_draining(daemon_t *self)
{
    return atomic_load(&self->draining);
}

bool daemon_drained(daemon_t *self)
{
    return !self->edge || edge_drained(self->edge);
}

void daemon_destroy(daemon_t **self_p)
{
    daemon_t *d = *self_p;
    if (!d)
        return;
    /* Order: stop what delivers into the node (transport thread, control's on_map), then the
     * workers that send into the transport, and only then free anything. The edge's loop goes
     * first: closing its connections tells their sessions while everything still runs. */
    daemon_admin_close(d);
    edge_stop(d->edge);
    transport_zmq_stop(d->transport);
    control_destroy(&d->control);
    if (d->node) {
        roost_node_stop(d->node);
        /* passivation below may still answer (a kv actor fails its pending requests): those
         * answers must find no transport, not a freed one */
        roost_node_set_transport(d->node, NULL);
    }
    transport_zmq_destroy(&d->transport);
    syncer_destroy(&d->syncer);   /* after the workers: nothing asks any more */
    roost_node_destroy(&d->node); /* passivates the log actors: before the engine closes */
    edge_destroy(&d->edge);       /* after its actors */
    edge_keys_fini(&d->edge_keys);
    sodium_memzero(&d->curve, sizeof d->curve);
    /* clean only if everything written is durable (sync: none left the WAL unsynced) */
    bool clean = d->engine && !atomic_load(&d->disk_alarm) && engine_sync(d->engine) == ROOST_OK;
    engine_destroy(&d->engine);
    if (clean)
        s_mark_clean_stop(d);
    free(d->role_told);
    free((void *)d->retire_since);
    clustermap_release(&d->map_latest);
    detector_destroy(&d->detector);
    faults_destroy(&d->faults);
    metrics_registry_destroy(&d->reg);
    daemon_bridge_close(d); /* after the node: its actor is gone */
    pthread_mutex_destroy(&d->manifest_lock);
    pthread_mutex_destroy(&d->map_lock);
    free(d);
    *self_p = NULL;
}
