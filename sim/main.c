/* sim/main.c — roost-sim: runs seeded simulations of a whole store cluster and checks them.
 *
 *   roost-sim --seed S [--seeds N] [--nodes 5] [--partitions P] [--steps 200000]
 *             [--write-every-us U] [--no-faults] [--sync batch|always|none] [--repeat]
 *             [--clients M] [--sends K] [--direct] [--plant ack-one|sync-all] [--verbose]
 *
 * One JSON line per seed on stdout (the figures and the trace hash); a failing seed prints the
 * first violated invariant and the command that reproduces it on stderr, and the exit status is
 * 1. --repeat runs each seed twice and fails unless both traces are identical. --plant plants a
 * bug (sim/buggify.h: ack-one, a primary acknowledges a write at its first durable copy, not at
 * a quorum; sync-all, a copy is acknowledged before its fsync covered it) to show the checkers
 * catch it. Partitions and the writer's pace left unset (0) are the seed's
 * choice (4–16 partitions, a write every 500–2000 µs), as is whether logs are short (16
 * entries: snapshot rebuilds). --clients M adds M phones speaking the client protocol to the
 * real messaging actors (sim/chat.h), K messages each (--sends, default 20), through the
 * edge's session actors (--direct: to their user actors, as an edge would).
 * --bench-net E measures the simulator itself instead (sim/bench.h): E network deliveries
 * between echo actors on --nodes nodes, one JSON line.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/fault.h"
#include "runtime/hash.h"
#include "runtime/log.h"
#include "sim/bench.h"
#include "sim/check.h"
#include "sim/world.h"

enum { QUIET_STEPS_MAX = 400000 }; /* liveness: ~ 400 simulated seconds at most */

typedef struct {
    sim_config_t cfg;
    uint64_t seeds;
    uint64_t bench_events; /* --bench-net: the simulator's own speed instead */
    bool repeat;
    int log_level; /* with --verbose; -1: warnings */
} opts_t;

typedef struct {
    uint64_t trace, events, sim_ns, quiet_steps;
    double wall_s;
    sim_check_t check;
    uint64_t writes, failed, crashes, restarts, cuts, disk_faults, map_changes, rebuilds, blackouts;
    uint64_t joins, leaves, elections, proposals_lost, buggified, detector_reports;
    uint64_t raft_snapshots, raft_installs;
    bool quiet, short_logs;
    uint32_t partitions, write_every_us, heartbeat_ms;
} result_t;

static double s_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void s_run(const sim_config_t *cfg, result_t *r)
{
    memset(r, 0, sizeof *r);
    double t0 = s_wall();
    sim_world_t *w = sim_world_new(cfg);
    uint64_t fault_steps = cfg->steps * 7 / 10;
    for (uint64_t i = 0; i < cfg->steps; i++) {
        if (i == fault_steps)
            sim_world_heal(w);
        sim_world_step(w);
    }
    w->writing = false;
    sim_world_heal(w);
    for (; r->quiet_steps < QUIET_STEPS_MAX && !(r->quiet = sim_world_quiet(w)); r->quiet_steps++)
        sim_world_step(w);
    if (!r->quiet && cfg->verbose) {
        sim_world_report(w);
        sim_chat_report(w);
    }
    sim_check(w, &r->check);
    sim_net_stats_t ns;
    sim_net_stats(w->net, &ns);
    uint64_t words[2] = {ns.trace, r->check.state_digest};
    r->trace = roost_hash64(words, sizeof words);
    r->events = ns.delivered;
    r->sim_ns = w->now_ns;
    r->writes = w->nwrites;
    for (uint32_t i = 0; i < w->nwrites; i++)
        r->failed += w->writes[i].status == WRITE_FAILED;
    r->crashes = w->faults.crashes;
    r->blackouts = w->faults.blackouts;
    r->restarts = w->faults.restarts;
    r->cuts = w->faults.cuts;
    r->disk_faults = w->faults.disk_faults;
    r->map_changes = w->faults.map_changes;
    r->joins = w->faults.joins;
    r->leaves = w->faults.leaves;
    r->detector_reports = w->faults.detector_reports;
    r->heartbeat_ms = w->heartbeat_ms;
    sim_raft_stats_t rs;
    sim_raft_stats(w->raft, &rs);
    r->elections = rs.elections;
    r->proposals_lost = rs.lost;
    r->raft_snapshots = rs.snapshots;
    r->raft_installs = rs.installs;
    r->buggified = sim_buggify_fired(w->buggify);
    r->short_logs = w->short_logs;
    r->partitions = w->cfg.partitions;
    r->write_every_us = w->cfg.write_every_us;
    r->rebuilds = w->rebuilds;
    for (uint32_t id = 1; id <= w->nodes; id++)
        r->rebuilds += atomic_load(&w->shard[id].store.stats.rebuilds);
    sim_world_destroy(&w);
    r->wall_s = s_wall() - t0;
}

static void s_print(const sim_config_t *cfg, const result_t *r)
{
    printf("{\"seed\":%llu,\"nodes\":%u,\"partitions\":%u,\"write_every_us\":%u,"
           "\"short_logs\":%s,\"heartbeat_ms\":%u,\"steps\":%llu,\"sim_s\":%.3f,\"wall_s\":%.3f,"
           "\"events\":%llu,\"events_per_s\":%.0f,\"writes\":%llu,\"acked\":%llu,"
           "\"failed\":%llu,\"crashes\":%llu,\"blackouts\":%llu,\"restarts\":%llu,\"cuts\":%llu,"
           "\"disk_faults\":%llu,\"joins\":%llu,\"leaves\":%llu,\"elections\":%llu,"
           "\"proposals_lost\":%llu,\"raft_snapshots\":%llu,\"raft_installs\":%llu,\"detector_"
           "reports\":%llu,\"buggified\":%llu,\"map_changes\":%"
           "llu,\"rebuilds\":%llu,"
           "\"log_entries\":%llu,"
           "\"restamped\":%llu,\"lost_in_window\":%llu,\"chat_lost_in_window\":%llu,\"clients\":%u,"
           "\"sends\":%llu,\"sends_"
           "acked\":%llu,"
           "\"delivered\":%llu,\"redelivered\":%llu,\"receipts\":%llu,\"groups\":%llu,"
           "\"group_sends\":%llu,\"claims\":%llu,\"moves\":%llu,\"leaves_group\":%llu,\"role_"
           "changes\":%llu,\"refused\":%llu,\"withheld\":%llu,"
           "\"blocks\":%llu,\"prekeys\":%llu,\"reconnects\":%llu,"
           "\"quiet\":%s,"
           "\"violations\":%u,\"trace\":\"%016llx\"}\n",
           (unsigned long long)cfg->seed, cfg->nodes, r->partitions, r->write_every_us,
           r->short_logs ? "true" : "false", r->heartbeat_ms, (unsigned long long)cfg->steps,
           (double)r->sim_ns / 1e9, r->wall_s, (unsigned long long)r->events,
           r->wall_s > 0 ? (double)r->events / r->wall_s : 0.0, (unsigned long long)r->writes,
           (unsigned long long)r->check.acked, (unsigned long long)r->failed,
           (unsigned long long)r->crashes, (unsigned long long)r->blackouts,
           (unsigned long long)r->restarts, (unsigned long long)r->cuts,
           (unsigned long long)r->disk_faults, (unsigned long long)r->joins,
           (unsigned long long)r->leaves, (unsigned long long)r->elections,
           (unsigned long long)r->proposals_lost, (unsigned long long)r->raft_snapshots,
           (unsigned long long)r->raft_installs, (unsigned long long)r->detector_reports,
           (unsigned long long)r->buggified, (unsigned long long)r->map_changes,
           (unsigned long long)r->rebuilds, (unsigned long long)r->check.log_entries,
           (unsigned long long)r->check.restamped, (unsigned long long)r->check.lost_in_window,
           (unsigned long long)r->check.chat.lost_in_window, cfg->clients,
           (unsigned long long)r->check.chat.sends, (unsigned long long)r->check.chat.acked,
           (unsigned long long)r->check.chat.delivered,
           (unsigned long long)r->check.chat.duplicates, (unsigned long long)r->check.chat.receipts,
           (unsigned long long)r->check.chat.groups, (unsigned long long)r->check.chat.group_sends,
           (unsigned long long)r->check.chat.claims, (unsigned long long)r->check.chat.moves,
           (unsigned long long)r->check.chat.leaves, (unsigned long long)r->check.chat.role_changes,
           (unsigned long long)r->check.chat.refused, (unsigned long long)r->check.chat.withheld,
           (unsigned long long)r->check.chat.blocks, (unsigned long long)r->check.chat.prekeys,
           (unsigned long long)r->check.chat.reconnects, r->quiet ? "true" : "false",
           r->check.violations + !r->quiet, (unsigned long long)r->trace);
    fflush(stdout);
}

static const char *s_sync_name(store_sync_t s)
{
    return s == SYNC_ALWAYS ? "always" : s == SYNC_NONE ? "none" : "batch";
}

static bool s_sync_parse(const char *name, store_sync_t *out)
{
    static const store_sync_t all[] = {SYNC_BATCH, SYNC_ALWAYS, SYNC_NONE};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, s_sync_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    return false;
}

/* Prints why the seed failed and how to replay it; true if it failed. */
static bool s_failed(const sim_config_t *cfg, const result_t *r)
{
    const char *why = r->check.violations ? r->check.first /* safety first: it says more */
                                          : "liveness: not quiet after the faults stopped "
                                            "(writes unanswered or replicas behind)";
    if (r->quiet && r->check.violations == 0)
        return false;
    fprintf(
        stderr,
        "seed %llu FAILED: %s\nreproduce: roost-sim --seed %llu --nodes %u --partitions %u "
        "--steps %llu --write-every-us %u --clients %u --sends %u --sync %s%s%s%s%s --verbose\n",
        (unsigned long long)cfg->seed, why, (unsigned long long)cfg->seed, cfg->nodes,
        cfg->partitions, (unsigned long long)cfg->steps, cfg->write_every_us, cfg->clients,
        cfg->sends_each, s_sync_name(cfg->sync), cfg->faults ? "" : " --no-faults",
        cfg->plant ? " --plant " : "", sim_plant_name(cfg->plant), cfg->edges ? "" : " --direct");
    return true;
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: roost-sim --seed S [--seeds N] [--nodes 5] [--partitions P]\n"
            "                 [--steps 200000] [--write-every-us U] [--no-faults]\n"
            "                 [--sync batch|always|none] [--repeat] [--plant ack-one|sync-all]\n"
            "                 [--clients M] [--sends K] [--direct] [--verbose [--log LEVEL]]\n"
            "       roost-sim --bench-net EVENTS [--seed S] [--nodes 5]\n"
            "Runs seeded simulations of a store cluster (see sim/README.md), with M phones\n"
            "speaking the client protocol (K messages each; default none); one JSON line\n"
            "per seed; exit 1 if any seed violates an invariant. P and U unset: the seed\n"
            "picks them. The phones connect through the edge's session actors (--direct:\n"
            "they speak to their user actors as an edge would, the mode before session 13).\n"
            "--verbose prints faults, map changes and the nodes' warnings;\n"
            "--log info|debug shows more of the nodes' log. --bench-net times the simulator\n"
            "itself: EVENTS deliveries between echo actors over the simulated network.\n");
}

/* One option into o: 0, 1 for a bad value, -1 for an unknown option. */
static int s_option(opts_t *o, int c, const char *arg)
{
    char *end = NULL;
    unsigned long long v = arg ? strtoull(arg, &end, 10) : 0;
    bool bad = arg && c != 'l' && c != 'y' && c != 'p' && (*arg == '\0' || *end != '\0');
    switch (c) {
    case 'l':
        o->log_level = roost_log_level_parse(arg);
        return o->log_level < 0;
    case 's':
        o->cfg.seed = v;
        break;
    case 'n':
        o->seeds = v;
        bad |= v == 0;
        break;
    case 'N':
        o->cfg.nodes = (uint32_t)v;
        bad |= v < 1 || v > SIM_SHARDS_MAX;
        break;
    case 'P':
        o->cfg.partitions = (uint32_t)v;
        bad |= (v & (v - 1)) || v > 4096;
        break;
    case 'k':
        o->cfg.steps = v;
        break;
    case 'w':
        o->cfg.write_every_us = (uint32_t)v;
        break;
    case 'F':
        o->cfg.faults = false;
        break;
    case 'c':
        o->cfg.clients = (uint32_t)v;
        bad |= v > 1000;
        break;
    case 'S':
        o->cfg.sends_each = (uint32_t)v;
        bad |= v > 100000;
        break;
    case 'r':
        o->repeat = true;
        break;
    case 'e': /* (--edges: the default since session 13) */
        o->cfg.edges = true;
        break;
    case 'd':
        o->cfg.edges = false;
        break;
    case 'b':
        o->bench_events = v;
        bad |= v == 0;
        break;
    case 'v':
        o->cfg.verbose = true;
        break;
    case 'y':
        bad = !s_sync_parse(arg, &o->cfg.sync);
        break;
    case 'p':
        bad = !sim_plant_parse(arg, &o->cfg.plant);
        break;
    default:
        return -1;
    }
    return bad;
}

static const struct option s_longs[] = {{"seed", 1, 0, 's'},
                                        {"seeds", 1, 0, 'n'},
                                        {"nodes", 1, 0, 'N'},
                                        {"partitions", 1, 0, 'P'},
                                        {"steps", 1, 0, 'k'},
                                        {"write-every-us", 1, 0, 'w'},
                                        {"no-faults", 0, 0, 'F'},
                                        {"sync", 1, 0, 'y'},
                                        {"repeat", 0, 0, 'r'},
                                        {"verbose", 0, 0, 'v'},
                                        {"help", 0, 0, 'h'},
                                        {"plant", 1, 0, 'p'},
                                        {"clients", 1, 0, 'c'},
                                        {"sends", 1, 0, 'S'},
                                        {"log", 1, 0, 'l'},
                                        {"bench-net", 1, 0, 'b'},
                                        {"edges", 0, 0, 'e'},
                                        {"direct", 0, 0, 'd'},
                                        {0, 0, 0, 0}};

static int s_parse(int argc, char **argv, opts_t *o)
{
    *o = (opts_t){.cfg = {.seed = 1,
                          .nodes = 5,
                          .steps = 200000,
                          .faults = true,
                          .sync = SYNC_BATCH,
                          .sends_each = 20,
                          .edges = true},
                  .seeds = 1,
                  .log_level = -1};
    int idx = 0;
    for (int c; (c = getopt_long(argc, argv, "", s_longs, &idx)) != -1;) {
        if (c == 'h') {
            s_usage(stdout);
            exit(0);
        }
        int rc = s_option(o, c, optarg);
        if (rc < 0) {
            s_usage(stderr);
            return -1;
        }
        if (rc > 0) {
            fprintf(stderr, "roost-sim: bad value for --%s: %s\n", s_longs[idx].name, optarg);
            return -1;
        }
    }
    return optind == argc ? 0 : -1;
}

static int s_bench(const opts_t *o)
{
    sim_bench_config_t cfg = {.seed = o->cfg.seed,
                              .nodes = o->cfg.nodes,
                              .inflight = 256 * o->cfg.nodes,
                              .events = o->bench_events};
    sim_bench_result_t r;
    sim_bench_net(&cfg, &r);
    printf("{\"bench\":\"net\",\"seed\":%llu,\"nodes\":%u,\"inflight\":%u,\"events\":%llu,"
           "\"handled\":%llu,\"sim_s\":%.3f,\"wall_s\":%.3f,\"events_per_s\":%.0f,"
           "\"trace\":\"%016llx\"}\n",
           (unsigned long long)cfg.seed, cfg.nodes, cfg.inflight, (unsigned long long)r.events,
           (unsigned long long)r.handled, (double)r.sim_ns / 1e9, r.wall_s,
           r.wall_s > 0 ? (double)r.events / r.wall_s : 0.0, (unsigned long long)r.trace);
    return 0;
}

int main(int argc, char **argv)
{
    opts_t o;
    if (s_parse(argc, argv, &o) != 0) {
        s_usage(stderr);
        return 2;
    }
    if (o.bench_events && o.cfg.nodes < 2) {
        fprintf(stderr, "roost-sim: --bench-net needs --nodes 2 or more\n");
        return 2;
    }
    if (o.bench_events)
        return s_bench(&o);
    /* (quiet unless --verbose: a run's faults make the nodes log errors by design) */
    roost_log_init("sim", !o.cfg.verbose     ? (roost_log_level_t)(ROOST_LOG_ERROR + 1)
                          : o.log_level >= 0 ? (roost_log_level_t)o.log_level
                                             : ROOST_LOG_WARN);
    int failed = 0;
    for (uint64_t k = 0; k < o.seeds; k++) {
        sim_config_t cfg = o.cfg;
        cfg.seed = o.cfg.seed + k;
        result_t r, again;
        s_run(&cfg, &r);
        s_print(&cfg, &r);
        failed |= s_failed(&cfg, &r);
        if (o.repeat) {
            s_run(&cfg, &again);
            if (again.trace != r.trace) {
                fprintf(stderr, "seed %llu is not deterministic: trace %016llx then %016llx\n",
                        (unsigned long long)cfg.seed, (unsigned long long)r.trace,
                        (unsigned long long)again.trace);
                failed = 1;
            }
        }
    }
    return failed;
}
