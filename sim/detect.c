/* sim/detect.c — failure detection under the simulator: the daemon's detector
 * (runtime/detector.c: phi accrual, a hard deadline, reports confirmed by a majority of views)
 * on every shard node, fed by heartbeats that cross the simulated network like any message
 * (delayed, dropped, cut, slowed), and reporting through its node's Raft voter.
 *
 * As in roostd: every node sends each other shard node a heartbeat carrying its view (the
 * peers it sees down) every heartbeat interval and then ticks its detector; a node whose disk
 * refuses writes stops heartbeating and reports itself down if it leads; a crash ends the
 * detector with the process and a restart begins a new one. Only a voter can report (the
 * detector asks its voter whether it leads and proposes through it). So a slow link or a
 * one-way cut can make a live node look dead, as it can in a real cluster, and the failover
 * that follows is the real one.
 */
#include <stdlib.h>

#include "runtime/clock.h"
#include "runtime/detector.h"
#include "runtime/envelope.h"
#include "runtime/errors.h"
#include "runtime/limits.h"
#include "sim/world.h"

enum { VIEW_BYTES_MAX = 1024 };

/* ---- the control port: this node's voter in sim/raft.c ---------------------------------- */

static bool s_is_leader(void *self)
{
    sim_node_t *n = self;
    return sim_raft_leader(n->world->raft) == n->id;
}

static clustermap_t *s_map_get(void *self)
{
    sim_node_t *n = self;
    return clustermap_copy(sim_raft_map(n->world->raft, n->id));
}

static int s_submit(void *self, const clustermap_cmd_t *cmd)
{
    sim_node_t *n = self;
    if (!s_is_leader(self))
        return ROOST_ENOTLEADER;
    sim_world_say(n->world, "s%u's detector reports s%u %s", n->id, cmd->node_id,
                  cmd->type == CLUSTERMAP_CMD_NODE_DOWN ? "down" : "up");
    n->world->faults.detector_reports++;
    return sim_raft_propose(n->world->raft, cmd);
}

/* ---- heartbeats -------------------------------------------------------------------------- */

static void s_on_system(void *arg, uint32_t from, const roost_env_t *env)
{
    sim_node_t *n = arg;
    if (env->type == ROOST_MSG_HEARTBEAT && n->detector)
        detector_heartbeat(n->detector, from, roost_clock_now_ns(&n->clock.base), env->payload,
                           env->payload_len);
}

static void s_heartbeat(sim_world_t *w, sim_node_t *n)
{
    uint8_t view[VIEW_BYTES_MAX];
    size_t len = detector_view_encode(n->detector, view, sizeof view);
    roost_transport_t *t = sim_net_transport(w->net, n->id);
    for (uint32_t id = 1; id <= w->nodes; id++)
        if (id != n->id)
            roost_transport_send(t, id, roost_env_new("", "", ROOST_MSG_HEARTBEAT, view, len));
}

void sim_detect_start(sim_world_t *w, sim_node_t *n)
{
    uint32_t peers[SIM_SHARDS_MAX], np = 0;
    for (uint32_t id = 1; id <= w->nodes; id++)
        if (id != n->id)
            peers[np++] = id;
    detector_config_t cfg = {.self_id = n->id,
                             .heartbeat_ms = w->heartbeat_ms,
                             .down_after_ms = 10 * w->heartbeat_ms, /* roostd's ratio */
                             .peers = peers,
                             .npeers = np};
    if (n->id <= sim_raft_voters(w->raft))
        cfg.control = (detector_control_t){
            .self = n, .is_leader = s_is_leader, .map_get = s_map_get, .submit = s_submit};
    n->detector = detector_new(&cfg);
    n->heartbeats = true;
    n->next_beat_ns = w->now_ns + roost_rng_below(&w->rng, w->heartbeat_ms * 1000000ull);
    roost_node_set_system_handler(n->node, s_on_system, n);
}

void sim_detect_stop(sim_node_t *n)
{
    detector_destroy(&n->detector);
    n->heartbeats = false;
}

void sim_detect_self_down(sim_node_t *n)
{
    n->heartbeats = false;
    if (n->detector)
        detector_set_self_down(n->detector);
}

void sim_detect_tick(sim_world_t *w)
{
    for (uint32_t id = 1; id <= w->nodes; id++) {
        sim_node_t *n = &w->shard[id];
        if (!n->up || !n->detector || w->now_ns < n->next_beat_ns)
            continue;
        n->next_beat_ns = w->now_ns + w->heartbeat_ms * 1000000ull;
        if (n->heartbeats)
            s_heartbeat(w, n);
        detector_tick(n->detector, roost_clock_now_ns(&n->clock.base));
    }
}

uint64_t sim_detect_next_ns(const sim_world_t *w)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t id = 1; id <= w->nodes; id++)
        if (w->shard[id].up && w->shard[id].detector && w->shard[id].next_beat_ns < next)
            next = w->shard[id].next_beat_ns;
    return next;
}
