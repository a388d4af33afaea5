/* sim/faults.c — the faults a seed injects while traffic runs: node crashes (losing what was
 * not synced) with restarts, blackouts (every shard node loses power at once: under sync: batch
 * and always no acknowledged write may go with it), disks that start refusing writes, one-way link
 * cuts and isolated nodes (both heal after a while), changes of the network's weather (drops,
 * duplicates, jitter that reorders, slow messages), and "lag then lead": a partition's next-in-line
 * replica is cut off long enough to fall behind, and its primary crashes just after the cut heals,
 * so the lagging copy is appointed (it must rebuild before it serves); and planned changes: a node
 * joins (the spare slot, or one that left) or leaves, its partitions handed off while traffic
 * runs; with --edges, the edge restarts now and then (every phone's connection drops). Each is
 * chosen, timed and aimed
 * by the run's generator; apart from a blackout, at most a minority of the shard nodes is down at
 * once, so the cluster can make progress between faults. */
#include "sim/world.h"

static uint64_t s_between(sim_world_t *w, uint64_t lo_ms, uint64_t hi_ms)
{
    return (lo_ms + roost_rng_below(&w->rng, hi_ms - lo_ms + 1)) * 1000000u;
}

static uint32_t s_down(const sim_world_t *w)
{
    uint32_t down = 0;
    for (uint32_t id = 1; id <= w->nodes; id++)
        down += !w->shard[id].up || w->shard[id].disk_failed;
    return down;
}

/* A random live node, or 0 if taking one more down would leave no majority. */
static uint32_t s_victim(sim_world_t *w)
{
    if ((s_down(w) + 1) * 2 >= w->nodes)
        return 0;
    uint32_t id = 1 + (uint32_t)roost_rng_below(&w->rng, w->nodes);
    return w->shard[id].up && !w->shard[id].disk_failed ? id : 0;
}

static void s_crash(sim_world_t *w)
{
    uint32_t id = s_victim(w);
    if (!id)
        return;
    sim_world_crash(w, id);
    sim_world_schedule_restart(w, id, s_between(w, 300, 4000));
}

/* A site-wide power loss: every shard node crashes in the same instant (each disk forgets what
 * it had not synced), and all come back together a while later — the Raft group, every log and
 * every detector from their disks alone. A minority crash cannot show an acknowledgement given
 * before its copies were durable on a quorum: the other copies hide it; this can. */
static void s_blackout(sim_world_t *w)
{
    sim_world_say(w, "blackout: every shard node loses power");
    w->faults.blackouts++;
    uint64_t back = s_between(w, 300, 3000);
    for (uint32_t id = 1; id <= w->nodes; id++) {
        if (!w->shard[id].up)
            continue; /* already down: its own restart is scheduled */
        sim_world_crash(w, id);
        sim_world_schedule_restart(w, id, back + s_between(w, 0, 200));
    }
}

static void s_disk(sim_world_t *w)
{
    uint32_t id = s_victim(w);
    if (!id)
        return;
    sim_world_fail_disk(w, id);
    sim_world_schedule_restart(w, id, s_between(w, 1000, 5000));
}

static void s_cut(sim_world_t *w)
{
    uint32_t n = w->nodes + 1; /* the client's links too */
    uint32_t a = 1 + (uint32_t)roost_rng_below(&w->rng, n);
    uint64_t until = w->now_ns + s_between(w, 100, 3000);
    w->faults.cuts++;
    if (roost_rng_below(&w->rng, 2)) { /* one way */
        uint32_t b = 1 + (uint32_t)roost_rng_below(&w->rng, n);
        if (a != b) {
            sim_world_say(w, "cut s%u -> s%u", a, b);
            sim_net_cut(w->net, a, b, until);
        }
        return;
    }
    sim_world_say(w, "isolate s%u", a);
    for (uint32_t b = 1; b <= n; b++) /* symmetric: a is alone */
        if (b != a) {
            sim_net_cut(w->net, a, b, until);
            sim_net_cut(w->net, b, a, until);
        }
}

static void s_lag_then_lead(sim_world_t *w)
{
    uint32_t p = (uint32_t)roost_rng_below(&w->rng, w->cfg.partitions);
    uint32_t ids[ROOST_RF_MAX];
    uint32_t n = clustermap_replicas_of(w->map, p, ids, ROOST_RF_MAX);
    uint32_t primary = clustermap_primary_of(w->map, p), next = 0;
    for (uint32_t i = 0; i < n && !next; i++)
        if (ids[i] != primary && w->shard[ids[i]].up)
            next = ids[i];
    if (!next || primary == ROOST_NO_PRIMARY || s_down(w) + 1 >= (w->nodes + 1) / 2)
        return;
    uint64_t lag = s_between(w, 1000, 3000);
    sim_world_say(w, "lag then lead: partition %u, s%u cut off, then its primary s%u crashes", p,
                  next, primary);
    w->faults.cuts++;
    for (uint32_t b = 1; b <= w->nodes + 1; b++)
        if (b != next) {
            sim_net_cut(w->net, next, b, w->now_ns + lag);
            sim_net_cut(w->net, b, next, w->now_ns + lag);
        }
    uint64_t crash = lag + s_between(w, 0, 300);
    sim_world_schedule_crash(w, primary, crash);
    sim_world_schedule_restart(w, primary, crash + s_between(w, 2000, 5000));
}

/* The operator adds a node that is not configured, or removes one of more than RF members. */
static void s_plan(sim_world_t *w)
{
    uint32_t members = 0, rf = clustermap_rf(w->map);
    for (uint32_t id = 1; id <= w->nodes; id++)
        members += w->configured[id];
    uint32_t id = 1 + (uint32_t)roost_rng_below(&w->rng, w->nodes);
    if (!w->configured[id] || members > rf)
        sim_world_configure(w, id, !w->configured[id]);
}

static void s_weather(sim_world_t *w)
{
    sim_net_faults_t f = {.latency_us = 100 + roost_rng_below(&w->rng, 400),
                          .jitter_us = roost_rng_below(&w->rng, 3000),
                          .drop_ppm = (uint32_t)roost_rng_below(&w->rng, 20000),
                          .dup_ppm = (uint32_t)roost_rng_below(&w->rng, 10000),
                          .slow_ppm = (uint32_t)roost_rng_below(&w->rng, 5000)};
    sim_world_say(w, "network: latency %lluus jitter %lluus drop %u ppm dup %u ppm slow %u ppm",
                  (unsigned long long)f.latency_us, (unsigned long long)f.jitter_us, f.drop_ppm,
                  f.dup_ppm, f.slow_ppm);
    sim_net_set_faults(w->net, &f);
    sim_raft_set_drop_ppm(w->raft, f.drop_ppm);
}

void sim_faults_tick(sim_world_t *w)
{
    if (w->now_ns < w->next_fault_ns)
        return;
    w->next_fault_ns = w->now_ns + s_between(w, 200, 2000);
    uint64_t pick = roost_rng_below(&w->rng, 100);
    if (pick < 30)
        s_crash(w);
    else if (pick < 50)
        s_cut(w);
    else if (pick < 60)
        s_disk(w);
    else if (pick < 70)
        s_lag_then_lead(w);
    else if (pick < 80)
        s_plan(w);
    else if (pick < 85 && w->cfg.edges && w->chat)
        sim_chat_edge_restart(w);
    else if (pick < 87)
        s_blackout(w);
    else
        s_weather(w);
}
