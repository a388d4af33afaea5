/* sim/raft.c — see raft.h: libraft's cluster fixture running the control plane's state machine,
 * the proposals through whoever leads, and the check that every voter applies the same maps. */
#include "sim/raft.h"

#include <raft.h>
#include <raft/fixture.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/control.h"
#include "runtime/control_internal.h"
#include "runtime/errors.h"
#include "runtime/util.h"

/* Each step of the fixture fires one event; a millisecond of a quiet five-server cluster holds a
 * handful. The bound only guards against a fixture that stops advancing its clock. */
enum { STEPS_PER_ADVANCE_MAX = 1000000 };

/* No snapshots under the fixture: libraft 0.15's fixture checks "leader append-only" on every
 * step by copying the leader's log from index 1 and reading every entry of the copy, and once a
 * snapshot has trimmed the leader's log that read is a NULL dereference (seed 99 with
 * `--plant ack-one` crashed inside raft_fixture_step). A run's control log stays at a few
 * hundred entries; snapshot and restore of the map are covered by test_control_restart. */
#define SNAPSHOT_NEVER UINT_MAX

typedef struct {
    struct sim_raft *owner;
    uint32_t id;
    control_fsm_t fsm;
    clustermap_t *map; /* a copy of what it applied last */
} server_t;

struct sim_raft {
    struct raft_fixture f; /* its servers live inline: their addresses are stable */
    uint32_t n;
    server_t s[SIM_RAFT_VOTERS_MAX];
    bool alive[SIM_RAFT_VOTERS_MAX];
    bool link[SIM_RAFT_VOTERS_MAX][SIM_RAFT_VOTERS_MAX];
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

static void s_tune(sim_raft_t *r, uint32_t i, roost_rng_t *rng)
{
    struct raft *raft = raft_fixture_get(&r->f, i);
    raft_set_heartbeat_timeout(raft, CONTROL_HEARTBEAT_MS_DEFAULT);
    raft_set_election_timeout(raft, CONTROL_ELECTION_MS_DEFAULT);
    raft_set_snapshot_threshold(raft, SNAPSHOT_NEVER);
    raft_set_pre_vote(raft, true);
    raft_fixture_set_randomized_election_timeout(
        &r->f, i, CONTROL_ELECTION_MS_DEFAULT + (unsigned)roost_rng_below(rng, 1000));
    raft_fixture_set_network_latency(&r->f, i, 1 + (unsigned)roost_rng_below(rng, 5));
    raft_fixture_set_disk_latency(&r->f, i, 1 + (unsigned)roost_rng_below(rng, 3));
}

static int s_bootstrap(sim_raft_t *r, roost_rng_t *rng)
{
    struct raft_configuration conf;
    int rv = raft_fixture_configuration(&r->f, r->n, &conf);
    if (rv != 0)
        return rv;
    rv = raft_fixture_bootstrap(&r->f, &conf);
    raft_configuration_close(&conf);
    for (uint32_t i = 0; i < r->n && rv == 0; i++)
        s_tune(r, i, rng);
    return rv != 0 ? rv : raft_fixture_start(&r->f);
}

sim_raft_t *sim_raft_new(uint32_t voters, uint32_t partitions, uint32_t rf, roost_rng_t *rng,
                         sim_raft_map_fn on_map, void *on_map_arg)
{
    if (voters < 1 || voters > SIM_RAFT_VOTERS_MAX || on_map == NULL)
        return NULL;
    sim_raft_t *r = roost_xcalloc(1, sizeof *r);
    r->n = voters;
    r->on_map = on_map;
    r->on_map_arg = on_map_arg;
    if (raft_fixture_initialize(&r->f) != 0) {
        free(r);
        return NULL;
    }
    int rv = 0;
    for (uint32_t i = 0; i < voters && rv == 0; i++) {
        server_t *s = &r->s[i];
        s->owner = r;
        s->id = i + 1;
        s->map = clustermap_new(partitions, rf);
        r->alive[i] = true;
        for (uint32_t j = 0; j < voters; j++)
            r->link[i][j] = true;
        rv = s->map == NULL ? ROOST_EINVAL
             : control_fsm_init(&s->fsm, &r->f.servers[i].raft, partitions, rf, s_publish, s)
                 ? ROOST_EINVAL
                 : raft_fixture_grow(&r->f, &s->fsm.fsm);
    }
    if (rv == 0)
        rv = s_bootstrap(r, rng);
    if (rv != 0)
        sim_raft_destroy(&r);
    return r;
}

void sim_raft_destroy(sim_raft_t **self_p)
{
    sim_raft_t *r = *self_p;
    if (r == NULL)
        return;
    raft_fixture_close(&r->f); /* fails the proposals in flight: their callbacks run now */
    for (uint32_t i = 0; i < r->n; i++) {
        control_fsm_close(&r->s[i].fsm);
        clustermap_release(&r->s[i].map);
    }
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
        struct raft *raft = (struct raft *)&self->f.servers[i].raft; /* raft_state isn't const */
        if (self->alive[i] && raft_state(raft) == RAFT_LEADER && raft->current_term > term) {
            best = i + 1;
            term = raft->current_term;
        }
    }
    return best;
}

void sim_raft_advance(sim_raft_t *self, uint64_t now_ms)
{
    for (uint32_t k = 0; raft_fixture_time(&self->f) < now_ms && k < STEPS_PER_ADVANCE_MAX; k++)
        raft_fixture_step(&self->f);
    uint32_t leader = sim_raft_leader(self);
    if (leader != 0 && leader != self->leader)
        self->stats.elections++;
    if (leader != 0)
        self->leader = leader;
}

void sim_raft_set_alive(sim_raft_t *self, uint32_t id, bool alive)
{
    if (id < 1 || id > self->n || self->alive[id - 1] == alive)
        return;
    self->alive[id - 1] = alive;
    if (alive)
        raft_fixture_revive(&self->f, id - 1);
    else
        raft_fixture_kill(&self->f, id - 1);
}

void sim_raft_set_link(sim_raft_t *self, uint32_t from, uint32_t to, bool up)
{
    if (from < 1 || from > self->n || to < 1 || to > self->n || from == to ||
        self->link[from - 1][to - 1] == up)
        return;
    self->link[from - 1][to - 1] = up;
    if (up)
        raft_fixture_reconnect(&self->f, from - 1, to - 1);
    else
        raft_fixture_disconnect(&self->f, from - 1, to - 1);
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
    if (raft_apply(raft_fixture_get(&self->f, leader - 1), req, &buf, 1, s_on_applied) != 0) {
        free(req);
        raft_free(buf.base);
        return ROOST_ENOTLEADER;
    }
    self->stats.proposed++;
    return ROOST_OK;
}

const clustermap_t *sim_raft_map(const sim_raft_t *self, uint32_t id)
{
    return self->s[id - 1].map;
}

void sim_raft_stats(const sim_raft_t *self, sim_raft_stats_t *out)
{
    *out = self->stats;
}
