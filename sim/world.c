/* sim/world.c — see world.h: the nodes' lives (start, crash, restart), the control plane and
 * the step loop. */
#include "sim/world.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/hash.h"
#include "runtime/log.h"
#include "actors/actors.h"
#include "runtime/util.h"
#include "shards/engine_mem.h"
#include "shards/kv.h"
#include "shards/proto.h"
#include "shards/replog.h"

/* The operator's members are proposed again every REPORT_NS until the map has them. */
enum {
    REPORT_NS = 1000000000,
    RETIRE_NS = 5000000000, /* DAEMON_RETIRE_DELAY_MS */
    RECONCILE_NS = 100000000
};

typedef enum { CTL_RESTART, CTL_CRASH } ctl_kind_t;

struct sim_ctl {
    uint64_t at_ns, seq;
    ctl_kind_t kind;
    uint32_t node;
};

void sim_world_say(const sim_world_t *w, const char *fmt, ...)
{
    if (!w->cfg.verbose)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[t=%8.3fs step %8llu] ", (double)w->now_ns / 1e9, (unsigned long long)w->step);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- the clock ------------------------------------------------------------------------------ */

static uint64_t s_now_ns(roost_clock_t *c)
{
    sim_clock_t *s = (sim_clock_t *)c;
    return *s->now_ns + s->skew_ns;
}

static uint64_t s_wall_ms(roost_clock_t *c)
{
    return 1800000000000ull + s_now_ns(c) / 1000000u; /* 2027-01-15 plus the run's time */
}

static void s_clock_init(sim_clock_t *c, const uint64_t *now_ns, uint64_t skew_ns)
{
    *c = (sim_clock_t){
        .base = {.now_ns = s_now_ns, .wall_ms = s_wall_ms}, .now_ns = now_ns, .skew_ns = skew_ns};
}

/* A node's secrets (roost_node_config_t.secret_bytes) from its own seeded generator. */
static void s_secret_bytes(void *arg, void *buf, size_t len)
{
    uint8_t *out = buf;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = roost_rng_next(arg);
        memcpy(out + i, &v, len - i < 8 ? len - i : 8);
    }
}

/* ---- scheduled restarts and crashes --------------------------------------------------------- */

static void s_schedule(sim_world_t *w, sim_ctl_t c)
{
    if (w->nctl == w->ctl_cap) {
        w->ctl_cap = w->ctl_cap ? w->ctl_cap * 2 : 16;
        w->ctl = roost_xrealloc(w->ctl, w->ctl_cap * sizeof *w->ctl);
    }
    c.seq = w->ctl_seq++; /* ties keep the order they were made in */
    w->ctl[w->nctl++] = c;
}

/* ---- the control plane: what each node is told ---------------------------------------------- */

static bool s_is_voter(const sim_world_t *w, uint32_t id)
{
    return id <= sim_raft_voters(w->raft);
}

/* The map a node acts on: a voter's own, the newest one for the others. */
static const clustermap_t *s_map_of(const sim_world_t *w, uint32_t id)
{
    return s_is_voter(w, id) ? sim_raft_map(w->raft, id) : w->map;
}

static void s_send_to_log(sim_node_t *n, uint32_t p, uint32_t type, const msgpack_sbuffer *sb)
{
    char key[ROOST_KEY_BYTES_MAX + 1];
    replog_key(key, sizeof key, n->id, p);
    roost_node_send(n->node,
                    roost_env_new(key, NULL, type, sb ? sb->data : NULL, sb ? sb->size : 0));
}

/* Tells a live node the map's primaries and its logs their roles (as the daemon does); a copy
 * the map names in no list any more becomes a candidate for retirement (s_retire_due). */
static void s_tell_node(sim_world_t *w, sim_node_t *n)
{
    const clustermap_t *map = s_map_of(w, n->id);
    if (clustermap_version(map) == 0)
        return;
    for (uint32_t p = 0; p < w->cfg.partitions; p++) {
        roost_node_set_primary(n->node, p, clustermap_primary_of(map, p),
                               clustermap_epoch_of(map, p));
        if (!clustermap_names(map, p, n->id)) {
            if (n->role_told[p] != 0 && n->retire_since_ns[p] == 0)
                n->retire_since_ns[p] = w->now_ns;
            n->role_told[p] = 0;
            continue;
        }
        n->retire_since_ns[p] = 0;
        msg_role_t m;
        msg_role_from_map(map, p, &m);
        uint64_t told = roost_hash64(&m, sizeof m) | 1u;
        if (told == n->role_told[p])
            continue;
        n->role_told[p] = told;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msg_role_encode(&sb, &m);
        s_send_to_log(n, p, MSG_LOG_ROLE, &sb);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* About once a second (as the daemon does): copies no list has named for RETIRE_NS, and the
 * node's map still does not name, are retired. */
static void s_retire_due(sim_world_t *w)
{
    if (w->now_ns - w->retire_checked_ns < 1000000000u)
        return;
    w->retire_checked_ns = w->now_ns;
    for (uint32_t id = 1; id <= w->nodes; id++) {
        sim_node_t *n = &w->shard[id];
        const clustermap_t *map = s_map_of(w, id);
        for (uint32_t p = 0; n->up && p < w->cfg.partitions; p++) {
            uint64_t since = n->retire_since_ns[p];
            if (!since || w->now_ns - since < RETIRE_NS || clustermap_names(map, p, id))
                continue;
            n->retire_since_ns[p] = 0;
            sim_world_say(w, "s%u retires its copy of partition %u", id, p);
            s_send_to_log(n, p, MSG_LOG_RETIRE, NULL);
        }
    }
}

/* A newer map reaches the nodes outside the control plane and the client (the leader's push). */
static void s_push_newest(sim_world_t *w)
{
    for (uint32_t id = 1; id <= w->nodes; id++)
        if (w->shard[id].up && !s_is_voter(w, id))
            s_tell_node(w, &w->shard[id]);
    for (uint32_t p = 0; p < w->cfg.partitions; p++)
        roost_node_set_primary(w->client, p, clustermap_primary_of(w->map, p),
                               clustermap_epoch_of(w->map, p));
}

/* A voter applied a command (raft.h): it tells its own logs; a newer map goes to the rest. */
static void s_on_map(void *arg, uint32_t id, const clustermap_t *map)
{
    sim_world_t *w = arg;
    if (w->shard[id].up)
        s_tell_node(w, &w->shard[id]);
    if (clustermap_version(map) <= clustermap_version(w->map))
        return;
    clustermap_release(&w->map);
    w->map = clustermap_copy(map);
    w->faults.map_changes++;
    sim_world_say(w, "map v%llu applied first by s%u", (unsigned long long)clustermap_version(map),
                  id);
    s_push_newest(w);
}

static void s_propose(sim_world_t *w, const clustermap_cmd_t *cmd)
{
    int rc = sim_raft_propose(w->raft, cmd);
    sim_world_say(w, "propose command %d node %u partition %u: %s", cmd->type, cmd->node_id,
                  cmd->partition, roost_strerror(rc));
}

static void s_command(sim_world_t *w, clustermap_cmd_type_t type, uint32_t node, uint32_t p,
                      uint64_t epoch)
{
    static clustermap_cmd_t cmd; /* ~13 KiB: not on the stack */
    memset(&cmd, 0, sizeof cmd);
    cmd.type = type;
    cmd.node_id = node;
    cmd.partition = p;
    cmd.epoch = epoch;
    s_propose(w, &cmd);
}

/* The store's handoff hook: the request goes to whoever leads (none: lost; the log asks again). */
static void s_handoff(void *arg, uint32_t partition, uint64_t map_epoch, bool settled)
{
    sim_node_t *n = arg;
    s_command(n->world, settled ? CLUSTERMAP_CMD_HANDOFF_SETTLED : CLUSTERMAP_CMD_HANDOFF_DONE, 0,
              partition, map_epoch);
}

static void s_propose_members(sim_world_t *w)
{
    static clustermap_cmd_t cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.type = CLUSTERMAP_CMD_SET_MEMBERS;
    for (uint32_t id = 1; id <= w->nodes; id++) {
        if (!w->configured[id])
            continue;
        char name[16], addr[32];
        snprintf(name, sizeof name, "s%u", id);
        snprintf(addr, sizeof addr, "sim:%u", id);
        clustermap_cmd_add_member(&cmd, id, name, addr);
    }
    s_propose(w, &cmd);
}

/* Whether the map's configured members are the operator's wish. */
static bool s_configured_as_wished(const sim_world_t *w, const clustermap_t *map)
{
    for (uint32_t id = 1; id <= w->nodes; id++) {
        const clustermap_member_t *m = clustermap_member_by_id(map, id);
        if ((m != NULL && m->configured) != w->configured[id])
            return false;
    }
    return true;
}

bool sim_world_configured(const sim_world_t *w)
{
    return s_configured_as_wished(w, w->map);
}

void sim_world_configure(sim_world_t *w, uint32_t id, bool member)
{
    if (id < 1 || id > w->nodes || w->configured[id] == member)
        return;
    sim_world_say(w, "operator: s%u %s", id, member ? "joins" : "leaves");
    w->configured[id] = member;
    member ? w->faults.joins++ : w->faults.leaves++;
    w->members_proposed_ns = 0; /* proposed at the next reconciliation */
}

/* The leader's duty the operator gives it: the configuration (the initial members, joins and
 * leaves, applied again until the map has them). The nodes' lives reach the map through each
 * node's failure detector (detect.c). */
static void s_reconcile(sim_world_t *w)
{
    uint32_t leader = sim_raft_leader(w->raft);
    if (leader == 0)
        return;
    const clustermap_t *map = sim_raft_map(w->raft, leader);
    if (!s_configured_as_wished(w, map) &&
        (!w->members_proposed_ns || w->now_ns - w->members_proposed_ns >= REPORT_NS)) {
        w->members_proposed_ns = w->now_ns;
        s_propose_members(w);
    }
}

/* The control plane's links follow the network's cuts and the nodes' lives; then its clock
 * catches up with the world's and the leader does its duties. */
static void s_control_step(sim_world_t *w)
{
    uint32_t v = sim_raft_voters(w->raft);
    for (uint32_t a = 1; a <= v; a++)
        for (uint32_t b = 1; b <= v; b++)
            if (a != b)
                sim_raft_set_link(w->raft, a, b, !sim_net_is_cut(w->net, a, b));
    sim_raft_advance(w->raft, w->now_ns / 1000000u);
    if (w->now_ns >= w->next_reconcile_ns) {
        w->next_reconcile_ns = w->now_ns + RECONCILE_NS;
        s_reconcile(w);
    }
}

/* ---- nodes ------------------------------------------------------------------------------- */

static void s_node_start(sim_world_t *w, sim_node_t *n)
{
    n->incarnation++;
    n->store = (store_t){.engine = n->engine,
                         .rf = clustermap_rf(w->map),
                         .consistency = CONSISTENCY_QUORUM,
                         .sync = w->cfg.sync,
                         .append_timeout_ms = 5000,
                         .handoff = s_handoff,
                         .handoff_arg = n,
                         .serving_hook = w->chat ? ACTORS_SERVING_HOOK : NULL,
                         .log_keep = w->short_logs ? 16 : 0,
                         /* every restart here follows a power loss: under sync: none the node
                          * rejoins as a non-voter, as roostd does without its clean-stop mark */
                         .rejoining = w->cfg.sync == SYNC_NONE && n->incarnation > 1,
                         .log_hold_max = w->short_logs ? 64 : 0};
    uint64_t seed = roost_hash64((uint64_t[]){w->cfg.seed, n->id, n->incarnation}, 24);
    roost_rng_seed(&n->secrets, seed ^ 0x5EC2E75u);
    roost_node_config_t nc = {.node_id = n->id,
                              .workers = 1,
                              .partitions = w->cfg.partitions,
                              .clock = &n->clock.base,
                              .seed = seed | 1u,
                              .secret_bytes = s_secret_bytes,
                              .secret_arg = &n->secrets};
    n->node = roost_node_new(&nc);
    roost_node_register(n->node, &replog_behaviour);
    roost_node_register(n->node, &kv_behaviour);
    if (w->chat)
        actors_register(n->node);
    roost_node_set_service(n->node, STORE_SERVICE, &n->store);
    n->syncer = syncer_new(n->node, n->engine); /* polled: the world decides when fsyncs end */
    roost_node_set_service(n->node, SYNCER_SERVICE, n->syncer);
    roost_node_set_transport(n->node, sim_net_transport(w->net, n->id));
    sim_detect_start(w, n);
    memset(n->role_told, 0, w->cfg.partitions * sizeof *n->role_told);
    const clustermap_t *map = s_map_of(w, n->id); /* copies left on disk before a restart */
    for (uint32_t p = 0; p < w->cfg.partitions; p++)
        n->retire_since_ns[p] = clustermap_version(map) && !clustermap_names(map, p, n->id) &&
                                        replog_holds_copy(n->engine, p)
                                    ? w->now_ns | 1u
                                    : 0;
    n->up = true;
    sim_net_set_up(w->net, n->id, true);
    s_tell_node(w, n);
}

/* A power loss: the process ends where it is (nothing it does on the way out escapes: the
 * network is cut first and the disk refuses writes), then the disk forgets what was not
 * synced. Its peers' detectors notice its silence (detect.c). */
void sim_world_crash(sim_world_t *w, uint32_t id)
{
    sim_node_t *n = &w->shard[id];
    if (!n->up)
        return;
    sim_world_say(w, "crash s%u", id);
    w->faults.crashes++;
    if (w->nlosses == w->losses_cap) {
        w->losses_cap = w->losses_cap ? w->losses_cap * 2 : 16;
        w->losses = roost_xrealloc(w->losses, w->losses_cap * sizeof *w->losses);
    }
    uint64_t parts = w->cfg.partitions > 64 ? UINT64_MAX : 0;
    for (uint32_t p = 0; p < w->cfg.partitions && p < 64; p++)
        if (clustermap_names(w->map, p, id))
            parts |= 1ull << p;
    w->losses[w->nlosses].node = id;
    w->losses[w->nlosses].parts = parts;
    w->losses[w->nlosses++].at_ns = n->disk_failed ? n->disk_failed_ns : w->now_ns;
    w->rebuilds += atomic_load(&n->store.stats.rebuilds);
    sim_net_set_up(w->net, id, false);
    engine_mem_fail_writes(n->engine, ROOST_EIO);
    syncer_destroy(&n->syncer);
    n->sync_end_ns = 0;
    roost_node_destroy(&n->node);
    sim_detect_stop(n);
    engine_mem_crash(n->engine);
    engine_mem_fail_writes(n->engine, 0);
    n->up = false;
    n->disk_failed = false;
    sim_raft_set_alive(w->raft, id, false);
}

/* The disk starts refusing writes: the node's logs step down; like the daemon it stops
 * heartbeating, so the detector declares it down (and the world restarts it later). */
void sim_world_fail_disk(sim_world_t *w, uint32_t id)
{
    sim_node_t *n = &w->shard[id];
    if (!n->up || n->disk_failed)
        return;
    sim_world_say(w, "disk of s%u refuses writes", id);
    w->faults.disk_faults++;
    n->disk_failed = true;
    n->disk_failed_ns = w->now_ns;
    engine_mem_fail_writes(n->engine, ROOST_EIO);
    sim_detect_self_down(n);
}

void sim_world_schedule_restart(sim_world_t *w, uint32_t id, uint64_t after_ns)
{
    s_schedule(w, (sim_ctl_t){.at_ns = w->now_ns + after_ns, .kind = CTL_RESTART, .node = id});
}

void sim_world_schedule_crash(sim_world_t *w, uint32_t id, uint64_t after_ns)
{
    s_schedule(w, (sim_ctl_t){.at_ns = w->now_ns + after_ns, .kind = CTL_CRASH, .node = id});
}

static void s_restart(sim_world_t *w, uint32_t id)
{
    sim_node_t *n = &w->shard[id];
    if (n->disk_failed) /* the operator replaces the disk: a crash, then a healthy one */
        sim_world_crash(w, id);
    if (n->up)
        return;
    sim_world_say(w, "restart s%u", id);
    w->faults.restarts++;
    sim_raft_set_alive(w->raft, id, true);
    s_node_start(w, n);
}

/* Runs the control actions that are due, in (time, sequence) order. */
static void s_ctl_due(sim_world_t *w)
{
    for (;;) {
        uint32_t best = UINT32_MAX;
        for (uint32_t i = 0; i < w->nctl; i++)
            if (w->ctl[i].at_ns <= w->now_ns &&
                (best == UINT32_MAX || w->ctl[i].at_ns < w->ctl[best].at_ns ||
                 (w->ctl[i].at_ns == w->ctl[best].at_ns && w->ctl[i].seq < w->ctl[best].seq)))
                best = i;
        if (best == UINT32_MAX)
            return;
        sim_ctl_t c = w->ctl[best];
        w->ctl[best] = w->ctl[--w->nctl];
        if (c.kind == CTL_RESTART)
            s_restart(w, c.node);
        else if (c.kind == CTL_CRASH && w->faulting)
            sim_world_crash(w, c.node);
    }
}

static uint64_t s_ctl_next_ns(const sim_world_t *w)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < w->nctl; i++)
        if (w->ctl[i].at_ns < next)
            next = w->ctl[i].at_ns;
    return next;
}

/* ---- the world --------------------------------------------------------------------------- */

/* What the configuration leaves open (0), the seed picks: few partitions and a fast writer
 * make long logs and lagging replicas; short logs make snapshot rebuilds. */
static void s_pick_shape(sim_world_t *w)
{
    if (w->cfg.partitions == 0)
        w->cfg.partitions = 4u << roost_rng_below(&w->rng, 3); /* 4, 8 or 16 */
    if (w->cfg.write_every_us == 0)
        w->cfg.write_every_us = 500 + (uint32_t)roost_rng_below(&w->rng, 1501);
    w->short_logs = roost_rng_below(&w->rng, 2) == 0;
    if (w->cfg.sync == SYNC_NONE) /* (a draw only then: the other runs' traces stay as they were) */
        w->writeback_ns = (5 + roost_rng_below(&w->rng, 26)) * 1000000000ull;
    static const uint32_t beats[] = {100, 200, 500}; /* the manifest's heartbeat_ms */
    w->heartbeat_ms = beats[roost_rng_below(&w->rng, 3)];
}

sim_world_t *sim_world_new(const sim_config_t *cfg)
{
    if (cfg->nodes < 1 || cfg->nodes > SIM_SHARDS_MAX ||
        (cfg->partitions & (cfg->partitions - 1)) != 0)
        return NULL;
    sim_world_t *w = roost_xcalloc(1, sizeof *w);
    w->cfg = *cfg;
    roost_rng_seed(&w->rng, cfg->seed);
    s_pick_shape(w);
    w->net = sim_net_new(&w->rng, &w->now_ns);
    uint32_t rf = cfg->nodes < 3 ? cfg->nodes : 3;
    w->map = clustermap_new(w->cfg.partitions, rf);
    w->raft = sim_raft_new(cfg->nodes < SIM_RAFT_VOTERS_MAX ? cfg->nodes : SIM_RAFT_VOTERS_MAX,
                           w->cfg.partitions, rf, &w->rng, s_on_map, w);
    w->nodes = cfg->nodes + (cfg->faults && cfg->nodes >= 3 && cfg->nodes < SIM_SHARDS_MAX);
    for (uint32_t id = 1; id <= cfg->nodes; id++)
        w->configured[id] = true;
    w->client_id = w->nodes + 1;
    s_clock_init(&w->client_clock, &w->now_ns, 0);
    roost_rng_seed(&w->client_secrets, cfg->seed ^ 0x5EC2E75u);
    roost_node_config_t cc = {.node_id = w->client_id,
                              .workers = 1,
                              .partitions = w->cfg.partitions,
                              .clock = &w->client_clock.base,
                              .seed = cfg->seed ^ 0xC11E47u,
                              .secret_bytes = s_secret_bytes,
                              .secret_arg = &w->client_secrets};
    w->client = roost_node_new(&cc);
    roost_node_register(w->client, &sim_client_behaviour);
    roost_node_register(w->client, &sim_device_behaviour);
    if (cfg->clients)
        w->chat = sim_chat_new(&(sim_chat_config_t){.phones = cfg->clients,
                                                    .sends_each = cfg->sends_each,
                                                    .verbose = cfg->verbose,
                                                    .now_ns = &w->now_ns,
                                                    .partitions = w->cfg.partitions,
                                                    .may_lose = cfg->sync == SYNC_NONE});
    roost_node_set_service(w->client, "sim", w);
    if (cfg->edges && w->chat)
        sim_chat_edge_host(w);
    roost_node_set_transport(w->client, sim_net_transport(w->net, w->client_id));
    sim_net_set_up(w->net, w->client_id, true);
    for (uint32_t id = 1; id <= w->nodes; id++) {
        sim_node_t *n = &w->shard[id];
        n->world = w;
        n->id = id;
        n->engine = engine_mem_new(NULL);
        n->role_told = roost_xcalloc(w->cfg.partitions, sizeof *n->role_told);
        n->retire_since_ns = roost_xcalloc(w->cfg.partitions, sizeof *n->retire_since_ns);
        s_clock_init(&n->clock, &w->now_ns, roost_rng_below(&w->rng, 50000000)); /* ≤ 50 ms */
    }
    for (uint32_t id = 1; id <= w->nodes; id++)
        s_node_start(w, &w->shard[id]);
    u64map_init(&w->pending_writes);
    w->writing = true;
    w->faulting = cfg->faults;
    w->buggify = sim_buggify_install(cfg->seed, &w->faulting, cfg->plant);
    w->next_fault_ns = 500000000;
    return w;
}

void sim_world_destroy(sim_world_t **self_p)
{
    sim_world_t *w = *self_p;
    if (!w)
        return;
    for (uint32_t id = 1; id <= w->nodes; id++) {
        sim_node_t *n = &w->shard[id];
        sim_net_set_up(w->net, id, false);
        syncer_destroy(&n->syncer);
        roost_node_destroy(&n->node);
        sim_detect_stop(n);
        engine_destroy(&n->engine);
        free(n->role_told);
        free(n->retire_since_ns);
    }
    sim_net_set_up(w->net, w->client_id, false);
    roost_node_destroy(&w->client);
    sim_net_destroy(&w->net);
    sim_raft_destroy(&w->raft);
    sim_buggify_remove(&w->buggify);
    clustermap_release(&w->map);
    sim_chat_destroy(&w->chat);
    free(w->ctl);
    free(w->writes);
    free(w->losses);
    u64map_fini(&w->pending_writes);
    free(w);
    *self_p = NULL;
}

void sim_world_heal(sim_world_t *w)
{
    w->faulting = false;
    for (uint32_t a = 0; a < SIM_NODES_MAX; a++)
        for (uint32_t b = 0; b < SIM_NODES_MAX; b++)
            sim_net_cut(w->net, a, b, 0);
    sim_net_set_faults(w->net, &(sim_net_faults_t){.latency_us = 200, .jitter_us = 100});
    sim_raft_set_drop_ppm(w->raft, 0);
    for (uint32_t id = 1; id <= w->nodes; id++)
        if (!w->shard[id].up || w->shard[id].disk_failed)
            sim_world_schedule_restart(w, id, 0);
}

/* Under --verbose, the nodes' log lines name the node and the simulated time ("s5@25.220"). */
static void s_log_tag(sim_world_t *w, uint32_t id)
{
    static char tag[32];
    if (!w->cfg.verbose)
        return;
    snprintf(tag, sizeof tag, "s%u@%.3f", id, (double)w->now_ns / 1e9);
    roost_log_tag(tag);
}

/* Polls every live node until all are idle (bounded); true if work remains. */
static bool s_poll_all(sim_world_t *w)
{
    bool any = true;
    for (int round = 0; round < 64 && any; round++) {
        s_log_tag(w, 0);
        any = roost_node_poll(w->client);
        for (uint32_t id = 1; id <= w->nodes; id++)
            if (w->shard[id].up) {
                s_log_tag(w, id);
                any |= roost_node_poll(w->shard[id].node);
            }
    }
    roost_log_tag(NULL);
    return any;
}

/* A node's fsyncs (a disk's group commit): one begins (covering what was written before it)
 * and ends 50–1000 µs later, when exactly that becomes durable and its requesters are answered
 * (a crash in between loses it); what is written meanwhile waits for the next, which may begin
 * 0–2000 µs after (the daemon's syncer gathers up to 2 ms; 100–500 µs after a look that found
 * nothing to sync). Under sync: none the OS also writes everything dirty back every writeback_ns
 * (what a power loss can take is what was written since). */
static bool s_sync_due(sim_world_t *w)
{
    bool any = false;
    for (uint32_t id = 1; id <= w->nodes; id++) {
        sim_node_t *n = &w->shard[id];
        if (n->up && w->writeback_ns && w->now_ns >= n->writeback_at_ns) {
            if (n->writeback_at_ns)
                engine_sync(n->engine);
            n->writeback_at_ns = w->now_ns + w->writeback_ns;
        }
        if (!n->up)
            continue;
        if (n->sync_end_ns && n->sync_end_ns <= w->now_ns) {
            int status = engine_mem_sync_end(n->engine, n->sync_mark);
            any |= syncer_poll_end(n->syncer, status) > 0;
            n->sync_end_ns = 0;
            n->sync_at_ns = w->now_ns + roost_rng_below(&w->rng, 2000000);
        } else if (!n->sync_end_ns && n->sync_at_ns <= w->now_ns) {
            bool began = syncer_poll_begin(n->syncer) > 0;
            n->sync_mark = engine_mem_sync_begin(n->engine);
            if (began)
                n->sync_end_ns = w->now_ns + 50000 + roost_rng_below(&w->rng, 950000);
            else
                n->sync_at_ns = w->now_ns + 100000 + roost_rng_below(&w->rng, 400000);
        }
    }
    return any;
}

/* The earliest running fsync's end after now, or `next` if none is earlier. */
static uint64_t s_sync_next_ns(const sim_world_t *w, uint64_t next)
{
    for (uint32_t id = 1; id <= w->nodes; id++) {
        uint64_t end = w->shard[id].up ? w->shard[id].sync_end_ns : 0;
        if (end > w->now_ns && end < next)
            next = end;
    }
    return next;
}

void sim_world_step(sim_world_t *w)
{
    w->step++;
    sim_net_deliver_due(w->net);
    s_ctl_due(w);
    s_control_step(w);
    sim_detect_tick(w);
    s_retire_due(w);
    if (w->writing)
        sim_client_tick(w);
    sim_chat_tick(w);
    if (w->faulting)
        sim_faults_tick(w);
    bool busy = s_poll_all(w);
    busy |= s_sync_due(w);
    uint64_t next = s_sync_next_ns(w, w->now_ns + (busy ? 20000 : 1000000));
    uint64_t net = sim_net_next_ns(w->net), ctl = s_ctl_next_ns(w), beat = sim_detect_next_ns(w);
    if (beat < ctl)
        ctl = beat;
    if (net < next)
        next = net > w->now_ns ? net : w->now_ns + 1000;
    if (ctl < next)
        next = ctl > w->now_ns ? ctl : w->now_ns + 1000;
    w->now_ns = next;
}
