/* sim/raft.c — see raft.h: the control plane's voters, each a real libraft server running the
 * cluster map's state machine over sim/raft_io.c, crashed and restarted with the nodes; the
 * proposals through whoever leads, and the check that every voter applies the same maps. */
#include "sim/raft.h"

#include <raft.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/control.h"
#include "runtime/control_internal.h"
#include "runtime/errors.h"
#include "runtime/raft_guard.h"
#include "runtime/util.h"
#include "sim/raft_io.h"

/* Events fired per advance: a bound that only guards against a clock that stops moving. */
enum { STEPS_PER_ADVANCE_MAX = 1000000 };

/* Snapshots come often here, so taking, trimming, installing and restoring them run in every
 * run: every 8–39 entries (the seed picks), keeping 4 behind. */
enum { SNAPSHOT_THRESHOLD_MIN = 8, SNAPSHOT_THRESHOLD_SPAN = 32, SNAPSHOT_TRAILING = 4 };

typedef struct {
    struct sim_raft *owner;
    uint32_t id;
    bool running; /* its raft instance is up (the node is alive) */
    bool closed;  /* set by the close callback */
    struct raft raft;
    raft_guard_t guard; /* over the simulated io, as roostd's over raft_uv */
    control_fsm_t fsm;
    clustermap_t *map; /* a copy of what it applied last */
} server_t;

struct sim_raft {
    sim_raft_net_t *net;
    uint32_t n, partitions, rf;
    unsigned snapshot_threshold;
    server_t s[SIM_RAFT_VOTERS_MAX];
    sim_raft_map_fn on_map;
    void *on_map_arg;
    uint64_t *digest; /* by map version: the first voter's map digest | 1 (0: none yet) */
    size_t ndigest;
    uint32_t leader;
    sim_raft_stats_t stats;
};

/* ---- every voter applies the same maps -------------------------------------------------- */

static void s_check_digest(sim_raft_t *r, uint32_t id, const clustermap_t *map)
{
    uint64_t v = clustermap_version(map), d = clustermap_digest(map) | 1u;
    r->digest = roost_xgrow_zeroed(r->digest, &r->ndigest, sizeof *r->digest, v);
    if (r->digest[v] == 0) {
        r->digest[v] = d;
    } else if (r->digest[v] != d && r->stats.diverged++ == 0) {
        snprintf(r->stats.first_divergence, sizeof r->stats.first_divergence,
                 "control plane: voter s%u applied map v%llu with digest %016llx, another voter "
                 "%016llx",
                 id, (unsigned long long)v, (unsigned long long)d,
                 (unsigned long long)r->digest[v]);
    }
}

static void s_publish(void *arg, const clustermap_t *map)
{
    server_t *s = arg;
    sim_raft_t *r = s->owner;
    clustermap_t *copy = clustermap_copy(map);
    if (copy == NULL)
        abort(); /* the simulator has no use for a run that ran out of memory */
    clustermap_release(&s->map);
    s->map = copy;
    s_check_digest(r, s->id, map);
    r->on_map(r->on_map_arg, s->id, map);
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void s_closed(struct raft *raft)
{
    server_t *s = raft->data;
    s->closed = true;
}

static int s_bootstrap(sim_raft_t *r, server_t *s)
{
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rv = 0;
    for (uint32_t i = 1; i <= r->n && rv == 0; i++)
        rv = raft_configuration_add(&conf, i, sim_raft_net_address(r->net, i), RAFT_VOTER);
    if (rv == 0)
        rv = raft_bootstrap(&s->raft, &conf);
    raft_configuration_close(&conf);
    return rv;
}

/* Starts voter s's server on what its disk holds (bootstrapping it first on a fresh one). */
static int s_start(sim_raft_t *r, server_t *s, bool fresh)
{
    if (control_fsm_init(&s->fsm, &s->raft, r->partitions, r->rf, s_publish, s) != ROOST_OK)
        return ROOST_EINVAL;
    raft_guard_init(&s->guard, sim_raft_net_io(r->net, s->id));
    int rv =
        raft_init(&s->raft, &s->guard.io, &s->fsm.fsm, s->id, sim_raft_net_address(r->net, s->id));
    if (rv != 0) {
        control_fsm_close(&s->fsm);
        return rv;
    }
    s->raft.data = s;
    s->closed = false;
    s->running = true;
    raft_set_heartbeat_timeout(&s->raft, CONTROL_HEARTBEAT_MS_DEFAULT);
    raft_set_election_timeout(&s->raft, CONTROL_ELECTION_MS_DEFAULT);
    raft_set_install_snapshot_timeout(&s->raft, CONTROL_INSTALL_SNAPSHOT_ELECTIONS *
                                                    CONTROL_ELECTION_MS_DEFAULT);
    raft_set_snapshot_threshold(&s->raft, r->snapshot_threshold);
    raft_set_snapshot_trailing(&s->raft, SNAPSHOT_TRAILING);
    raft_set_pre_vote(&s->raft, true);
    if (fresh)
        rv = s_bootstrap(r, s);
    return rv != 0 ? rv : raft_start(&s->raft);
}

/* A crash: the server ends where it is; what its disk had not completed is gone. */
static void s_stop(server_t *s)
{
    if (!s->running)
        return;
    s->running = false;
    raft_close(&s->raft, s_closed);
    if (!s->closed)
        abort(); /* sim/raft_io.c closes synchronously */
    control_fsm_close(&s->fsm);
}

sim_raft_t *sim_raft_new(uint32_t voters, uint32_t partitions, uint32_t rf, roost_rng_t *rng,
                         sim_raft_map_fn on_map, void *on_map_arg)
{
    if (voters < 1 || voters > SIM_RAFT_VOTERS_MAX || on_map == NULL)
        return NULL;
    sim_raft_t *r = roost_xcalloc(1, sizeof *r);
    r->n = voters;
    r->partitions = partitions;
    r->rf = rf;
    r->on_map = on_map;
    r->on_map_arg = on_map_arg;
    r->snapshot_threshold =
        SNAPSHOT_THRESHOLD_MIN + (unsigned)roost_rng_below(rng, SNAPSHOT_THRESHOLD_SPAN);
    r->net = sim_raft_net_new(voters, rng);
    int rv = r->net == NULL ? ROOST_EINVAL : 0;
    for (uint32_t i = 0; i < voters && rv == 0; i++) {
        server_t *s = &r->s[i];
        s->owner = r;
        s->id = i + 1;
        s->map = clustermap_new(partitions, rf);
        rv = s->map == NULL ? ROOST_EINVAL : s_start(r, s, true);
    }
    if (rv != 0)
        sim_raft_destroy(&r);
    return r;
}

void sim_raft_destroy(sim_raft_t **self_p)
{
    sim_raft_t *r = *self_p;
    if (r == NULL)
        return;
    for (uint32_t i = 0; i < r->n; i++) {
        s_stop(&r->s[i]); /* fails the proposals in flight: their callbacks run now */
        clustermap_release(&r->s[i].map);
    }
    sim_raft_net_destroy(&r->net);
    free(r->digest);
    free(r);
    *self_p = NULL;
}

uint32_t sim_raft_voters(const sim_raft_t *self)
{
    return self->n;
}

/* ---- driving it ---------------------------------------------------------------------- */

uint32_t sim_raft_leader(const sim_raft_t *self)
{
    uint32_t best = 0;
    raft_term term = 0;
    for (uint32_t i = 0; i < self->n; i++) {
        struct raft *raft = (struct raft *)&self->s[i].raft; /* raft_state isn't const */
        if (self->s[i].running && raft_state(raft) == RAFT_LEADER && raft->current_term > term) {
            best = i + 1;
            term = raft->current_term;
        }
    }
    return best;
}

void sim_raft_advance(sim_raft_t *self, uint64_t now_ms)
{
    for (uint32_t k = 0; k < STEPS_PER_ADVANCE_MAX && sim_raft_net_step(self->net, now_ms); k++)
        ;
    uint32_t leader = sim_raft_leader(self);
    if (leader != 0 && leader != self->leader)
        self->stats.elections++;
    if (leader != 0)
        self->leader = leader;
}

void sim_raft_set_alive(sim_raft_t *self, uint32_t id, bool alive)
{
    if (id < 1 || id > self->n || self->s[id - 1].running == alive)
        return;
    server_t *s = &self->s[id - 1];
    if (!alive) { /* and what it applied goes with the process: a restart starts empty */
        s_stop(s);
        clustermap_release(&s->map);
        s->map = clustermap_new(self->partitions, self->rf);
        if (s->map == NULL)
            abort();
        return;
    }
    if (s_start(self, s, false) != 0)
        abort(); /* a disk that loaded once loads again: anything else is a simulator bug */
    self->stats.restarts++;
}

void sim_raft_set_drop_ppm(sim_raft_t *self, uint32_t ppm)
{
    sim_raft_net_set_drop_ppm(self->net, ppm);
}

void sim_raft_set_link(sim_raft_t *self, uint32_t from, uint32_t to, bool up)
{
    sim_raft_net_set_link(self->net, from, to, up);
}
static void s_on_applied(struct raft_apply *req, int status, void *result)
{
    (void)result;
    sim_raft_t *r = req->data;
    if (status == 0)
        r->stats.committed++;
    else
        r->stats.lost++;
    free(req);
}

int sim_raft_propose(sim_raft_t *self, const clustermap_cmd_t *cmd)
{
    uint32_t leader = sim_raft_leader(self);
    if (leader == 0)
        return ROOST_ENOTLEADER;
    void *bytes = NULL;
    size_t len = 0;
    int rc = clustermap_cmd_encode(cmd, &bytes, &len);
    struct raft_buffer buf = {0};
    if (rc == ROOST_OK)
        rc = control_fsm_frame(bytes, len, &buf);
    free(bytes);
    if (rc != ROOST_OK)
        return rc;
    struct raft_apply *req = roost_xcalloc(1, sizeof *req);
    req->data = self;
    if (raft_apply(&self->s[leader - 1].raft, req, &buf, 1, s_on_applied) != 0) {
        free(req);
        raft_free(buf.base);
        return ROOST_ENOTLEADER;
    }
    self->stats.proposed++;
    return ROOST_OK;
}

/* The leader's replication progress toward voter `id`, or NULL (no leader, or it is the one). */
static const struct raft_progress *s_progress_of(const sim_raft_t *self, uint32_t id)
{
    uint32_t leader = sim_raft_leader(self);
    if (leader == 0 || leader == id)
        return NULL;
    const struct raft *lr = &self->s[leader - 1].raft;
    for (unsigned i = 0; i < lr->configuration.n; i++)
        if (lr->configuration.servers[i].id == id)
            return &lr->leader_state.progress[i];
    return NULL;
}

bool sim_raft_sending_snapshot(const sim_raft_t *self, uint32_t id)
{
    enum { PROGRESS_SNAPSHOT = 2 }; /* libraft's progress modes: probe, pipeline, snapshot */
    const struct raft_progress *pr = s_progress_of(self, id);
    return pr != NULL && pr->state == PROGRESS_SNAPSHOT;
}

void sim_raft_describe(const sim_raft_t *self, uint32_t id, char *out, size_t len)
{
    static const char *const roles[] = {"unavailable", "follower", "candidate", "leader"};
    const server_t *s = &self->s[id - 1];
    struct raft *raft = (struct raft *)&s->raft; /* libraft's getters aren't const */
    if (!s->running) {
        snprintf(out, len, "not running");
        return;
    }
    unsigned state = raft_state(raft);
    int n =
        snprintf(out, len, "%s, term %llu, last index %llu, commit %llu, applied %llu",
                 state < 4 ? roles[state] : "?", (unsigned long long)raft->current_term,
                 (unsigned long long)raft_last_index(raft), (unsigned long long)raft->commit_index,
                 (unsigned long long)raft->last_applied);
    const struct raft_progress *pr = s_progress_of(self, id);
    if (pr == NULL || n < 0 || (size_t)n >= len)
        return;
    snprintf(out + n, len - (size_t)n,
             "; leader's progress: mode %u, next %llu, match %llu, snapshot %llu, recent %d",
             pr->state, (unsigned long long)pr->next_index, (unsigned long long)pr->match_index,
             (unsigned long long)pr->snapshot_index, pr->recent_recv);
}

const clustermap_t *sim_raft_map(const sim_raft_t *self, uint32_t id)
{
    return self->s[id - 1].map;
}

void sim_raft_stats(const sim_raft_t *self, sim_raft_stats_t *out)
{
    *out = self->stats;
    sim_raft_net_stats_t ns;
    sim_raft_net_stats(self->net, &ns);
    out->snapshots = ns.snapshots;
    out->installs = ns.installs;
    out->messages = ns.messages;
}
