/* runtime/detector.c — failure detection (membership.c: phi accrual + a hard deadline) wired to
 * the control plane: the Raft leader reconciles the cluster map with what it observes (see
 * detector.h). Everything runs on the transport's I/O thread.
 */
#include "runtime/detector.h"

#include <msgpack.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/limits.h"
#include "runtime/log.h"
#include "runtime/membership.h"
#include "runtime/mpguard.h"
#include "runtime/util.h"

/* Added to the mean heartbeat interval (Akka's acceptable-heartbeat-pause): with the defaults
 * phi passes 8 about 2 s into a silence, and the hard deadline (down_after_ms, 5 s) bounds it in
 * every case. A single stalled observer cannot cause a failover: a report needs a majority. */
enum { DETECTOR_ACCEPTABLE_PAUSE_MS = 1000 };

typedef struct {
    uint32_t id;
    uint64_t last_submit_ns;
    uint64_t view_at_ns; /* when its last view arrived (0: never) */
    uint32_t nsuspects;
    uint32_t suspects[ROOST_NODES_MAX]; /* the peers it saw down then */
} peer_t;

struct detector {
    detector_config_t cfg;
    membership_t *members;
    peer_t *peers;
    uint32_t npeers;
    bool started; /* peers are added on the first tick, when the time is known */
    bool self_down;
    uint64_t self_submit_ns;
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
    d->peers = roost_xcalloc(ROOST_NODES_MAX, sizeof *d->peers); /* room for joiners */
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

static peer_t *s_peer(detector_t *d, uint32_t id)
{
    for (uint32_t i = 0; i < d->npeers; i++)
        if (d->peers[i].id == id)
            return &d->peers[i];
    return NULL;
}

int detector_add_peer(detector_t *d, uint32_t id, uint64_t now_ns)
{
    if (id == d->cfg.self_id || s_peer(d, id))
        return ROOST_EEXIST;
    if (d->npeers == ROOST_NODES_MAX)
        return ROOST_ETOOBIG;
    memset(&d->peers[d->npeers], 0, sizeof d->peers[d->npeers]);
    d->peers[d->npeers++].id = id;
    if (d->started)
        membership_add_peer(d->members, id, now_ns);
    return ROOST_OK;
}

/* The view is a msgpack array of member ids (at most ROOST_NODES_MAX). */
static void s_take_view(peer_t *p, const void *view, size_t len, uint64_t now_ns)
{
    size_t used, off = 0;
    if (!view || len == 0 || !mpguard_check(view, len, 2, &used) || used != len)
        return;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, view, len, &off) == MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size <= ROOST_NODES_MAX) {
        p->nsuspects = 0;
        for (uint32_t i = 0; i < up.data.via.array.size; i++) {
            const msgpack_object *o = &up.data.via.array.ptr[i];
            if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= UINT32_MAX)
                p->suspects[p->nsuspects++] = (uint32_t)o->via.u64;
        }
        p->view_at_ns = now_ns;
    }
    msgpack_unpacked_destroy(&up);
}

void detector_heartbeat(detector_t *self, uint32_t from, uint64_t now_ns, const void *view,
                        size_t len)
{
    if (!self->started)
        s_start(self, now_ns);
    peer_t *p = s_peer(self, from);
    if (!p)
        return; /* not a member we watch */
    membership_heartbeat(self->members, from, now_ns);
    s_take_view(p, view, len, now_ns);
}

size_t detector_view_encode(detector_t *self, uint8_t *buf, size_t cap)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    uint32_t down = 0;
    for (uint32_t i = 0; i < self->npeers; i++)
        down += !membership_is_up(self->members, self->peers[i].id);
    msgpack_pack_array(&pk, down);
    for (uint32_t i = 0; i < self->npeers; i++)
        if (!membership_is_up(self->members, self->peers[i].id))
            msgpack_pack_uint32(&pk, self->peers[i].id);
    size_t len = sb.size <= cap ? sb.size : 0;
    if (len)
        memcpy(buf, sb.data, len);
    msgpack_sbuffer_destroy(&sb);
    return len;
}

bool detector_confirmed_down(const detector_t *self, uint32_t peer, uint64_t now_ns)
{
    if (membership_is_up(self->members, peer))
        return false;
    uint32_t votes = 1; /* ours */
    uint64_t fresh_ns = 2ull * self->cfg.down_after_ms * 1000000u;
    for (uint32_t i = 0; i < self->npeers; i++) {
        const peer_t *p = &self->peers[i];
        if (p->id == peer || !membership_is_up(self->members, p->id) || !p->view_at_ns ||
            now_ns - p->view_at_ns > fresh_ns)
            continue;
        for (uint32_t k = 0; k < p->nsuspects; k++)
            votes += p->suspects[k] == peer;
    }
    return votes >= (self->npeers + 1) / 2 + 1;
}

void detector_set_self_down(detector_t *self)
{
    self->self_down = true;
}

bool detector_is_up(const detector_t *self, uint32_t peer)
{
    return membership_is_up(self->members, peer);
}

double detector_phi(const detector_t *self, uint32_t peer, uint64_t now_ns)
{
    return membership_phi(self->members, peer, now_ns);
}

static bool s_raft_is_leader(void *self)
{
    return control_is_leader(self);
}

static clustermap_t *s_raft_map_get(void *self)
{
    return control_map_get(self);
}

static int s_raft_submit(void *self, const clustermap_cmd_t *cmd)
{
    return control_submit(self, cmd);
}

detector_control_t detector_control_of(control_t *control)
{
    if (!control)
        return (detector_control_t){0};
    return (detector_control_t){.self = control,
                                .is_leader = s_raft_is_leader,
                                .map_get = s_raft_map_get,
                                .submit = s_raft_submit};
}

/* Proposes that `node` is up or down (at most every DETECTOR_RESUBMIT_MS per node). */
static void s_report(detector_t *d, uint32_t node, bool up, uint64_t now_ns, uint64_t *last_ns)
{
    if (*last_ns && now_ns - *last_ns < DETECTOR_RESUBMIT_MS * 1000000ull)
        return;
    clustermap_cmd_t *cmd = roost_xcalloc(1, sizeof *cmd);
    cmd->type = up ? CLUSTERMAP_CMD_NODE_UP : CLUSTERMAP_CMD_NODE_DOWN;
    cmd->node_id = node;
    int rc = d->cfg.control.submit(d->cfg.control.self, cmd);
    free(cmd);
    *last_ns = now_ns;
    ROOST_INFO(COMP, up ? "reporting node up" : "reporting node down", "node=%u self=%d rc=%d",
               node, node == d->cfg.self_id, rc);
}

/* Brings the map toward what we observe; only the leader proposes (others would be dropped).
 * The leader's own entry too: down once its disk failed; up otherwise — a leader that can
 * tick is alive, and a map that says it is down says so from before (a report while it was
 * cut off, or its disk's failure before the restart that replaced it). Nobody else would
 * report it up: only a leader reports, and this one never reports itself otherwise. */
static void s_reconcile(detector_t *d, uint64_t now_ns)
{
    const detector_control_t *control = &d->cfg.control;
    if (!control->self || !control->is_leader(control->self))
        return;
    clustermap_t *map = control->map_get(control->self);
    const clustermap_member_t *me = clustermap_member_by_id(map, d->cfg.self_id);
    if (me && (me->status == CLUSTERMAP_UP) == d->self_down)
        s_report(d, d->cfg.self_id, !d->self_down, now_ns, &d->self_submit_ns);
    for (uint32_t i = 0; i < d->npeers; i++) {
        peer_t *p = &d->peers[i];
        bool up = membership_is_up(d->members, p->id);
        const clustermap_member_t *m = clustermap_member_by_id(map, p->id);
        if (!m || (m->status == CLUSTERMAP_UP) == up)
            continue;
        if (!up && !detector_confirmed_down(d, p->id, now_ns))
            continue; /* only our view so far: maybe it is us who are cut off */
        s_report(d, p->id, up, now_ns, &p->last_submit_ns);
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
