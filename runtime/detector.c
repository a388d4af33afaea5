/* runtime/detector.c — failure detection (membership.c: phi accrual + a hard deadline) wired to
 * the control plane: the Raft leader reconciles the cluster map with what it observes (see
 * detector.h). Everything runs on the transport's I/O thread.
 */
#include "runtime/detector.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/limits.h"
#include "runtime/log.h"
#include "runtime/membership.h"
#include "runtime/util.h"

/* Added to the mean heartbeat interval (Akka's acceptable-heartbeat-pause): a loaded 2-core CI
 * machine can stall a process for a second; with the defaults phi passes 8 about 3 s into a
 * silence, and the hard deadline (down_after_ms, 5 s) bounds it in every case. */
enum { DETECTOR_ACCEPTABLE_PAUSE_MS = 2000 };

typedef struct {
    uint32_t id;
    uint64_t last_submit_ns;
} peer_t;

struct detector {
    detector_config_t cfg;
    membership_t *members;
    peer_t *peers;
    uint32_t npeers;
    bool started; /* peers are added on the first tick, when the time is known */
};

static const char *const COMP = "detector";

detector_t *detector_new(const detector_config_t *cfg)
{
    if (!cfg || cfg->npeers > ROOST_NODES_MAX)
        return NULL;
    membership_config_t mc = {.heartbeat_ms = cfg->heartbeat_ms,
                              .down_after_ms = cfg->down_after_ms,
                              .acceptable_pause_ms = DETECTOR_ACCEPTABLE_PAUSE_MS};
    membership_t *members = membership_new(&mc);
    if (!members)
        return NULL;
    detector_t *d = roost_xcalloc(1, sizeof *d);
    d->cfg = *cfg;
    d->cfg.peers = NULL;
    d->members = members;
    d->npeers = cfg->npeers;
    d->peers = roost_xcalloc(cfg->npeers ? cfg->npeers : 1, sizeof *d->peers);
    for (uint32_t i = 0; i < cfg->npeers; i++)
        d->peers[i].id = cfg->peers[i];
    return d;
}

void detector_destroy(detector_t **self_p)
{
    detector_t *d = *self_p;
    if (!d)
        return;
    membership_destroy(&d->members);
    free(d->peers);
    free(d);
    *self_p = NULL;
}

static void s_start(detector_t *d, uint64_t now_ns)
{
    for (uint32_t i = 0; i < d->npeers; i++)
        membership_add_peer(d->members, d->peers[i].id, now_ns);
    d->started = true;
}

void detector_heartbeat(detector_t *self, uint32_t from, uint64_t now_ns)
{
    if (!self->started)
        s_start(self, now_ns);
    membership_heartbeat(self->members, from, now_ns); /* an unknown peer is ignored */
}

bool detector_is_up(const detector_t *self, uint32_t peer)
{
    return membership_is_up(self->members, peer);
}

double detector_phi(const detector_t *self, uint32_t peer, uint64_t now_ns)
{
    return membership_phi(self->members, peer, now_ns);
}

/* Brings the map toward what we observe; only the leader proposes (others would be dropped). */
static void s_reconcile(detector_t *d, uint64_t now_ns)
{
    control_t *control = d->cfg.control;
    if (!control || !control_is_leader(control))
        return;
    clustermap_t *map = control_map_get(control);
    for (uint32_t i = 0; i < d->npeers; i++) {
        peer_t *p = &d->peers[i];
        bool up = membership_is_up(d->members, p->id);
        const clustermap_member_t *m = clustermap_member_by_id(map, p->id);
        if (!m || (m->status == CLUSTERMAP_UP) == up)
            continue;
        if (p->last_submit_ns && now_ns - p->last_submit_ns < DETECTOR_RESUBMIT_MS * 1000000ull)
            continue;
        clustermap_cmd_t *cmd = roost_xcalloc(1, sizeof *cmd);
        cmd->type = up ? CLUSTERMAP_CMD_NODE_UP : CLUSTERMAP_CMD_NODE_DOWN;
        cmd->node_id = p->id;
        int rc = control_submit(control, cmd);
        free(cmd);
        p->last_submit_ns = now_ns;
        ROOST_INFO(COMP, up ? "reporting node up" : "reporting node down", "peer=%u rc=%d", p->id,
                   rc);
    }
    clustermap_release(&map);
}

void detector_tick(detector_t *self, uint64_t now_ns)
{
    if (!self->started)
        s_start(self, now_ns);
    membership_event_t ev[ROOST_NODES_MAX];
    int n = membership_tick(self->members, now_ns, ev, ROOST_NODES_MAX);
    for (int i = 0; i < n; i++) {
        if (ev[i].kind == MEMBERSHIP_PEER_DOWN)
            ROOST_WARN(COMP, "peer down", "peer=%u", ev[i].peer);
        else
            ROOST_INFO(COMP, "peer up", "peer=%u", ev[i].peer);
    }
    s_reconcile(self, now_ns);
}
