/* runtime/detector.c — phi-accrual failure detection per peer, reconciled into the cluster map
 * by the Raft leader (see detector.h).
 *
 * Per peer: the last DETECTOR_SAMPLES_MAX heartbeat inter-arrival times, their mean and
 * variance. phi(t) = -log10(P(a heartbeat arrives later than t)) under a normal distribution of
 * intervals (the logistic approximation Akka uses), with σ floored at DETECTOR_MIN_STD_MS so a
 * perfectly regular peer is not declared down by one late packet. A peer is down when
 * phi > DETECTOR_PHI_THRESHOLD or after down_after_ms of silence, whichever comes first; up again
 * at its next heartbeat. Time is always passed in (the simulator drives it).
 */
#include "runtime/detector.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/limits.h"
#include "runtime/log.h"
#include "runtime/util.h"

enum {
    DETECTOR_SAMPLES_MAX = 100, /* about a minute of history at 500 ms: adapts, forgets spikes */
    DETECTOR_MIN_STD_MS = 100,  /* jitter floor: GC-free C still meets scheduling hiccups */
    /* Added to the mean interval (Akka's acceptable-heartbeat-pause): a loaded 2-core CI box
     * can stall a process for a second; with defaults phi passes 8 about 3 s into a silence. */
    DETECTOR_ACCEPTABLE_PAUSE_MS = 2000,
};
#define DETECTOR_PHI_THRESHOLD 8.0 /* Cassandra's and Akka's default: ~1e-8 false-positive odds */

typedef struct {
    uint32_t id;
    bool up;
    uint64_t added_ns, last_ns; /* last_ns 0: never heard from */
    uint64_t last_submit_ns;
    double samples[DETECTOR_SAMPLES_MAX]; /* ms */
    uint32_t nsamples, next;
    double sum, sumsq;
} peer_t;

struct detector {
    detector_config_t cfg;
    peer_t *peers;
    uint32_t npeers;
};

static const char *const COMP = "detector";

detector_t *detector_new(const detector_config_t *cfg)
{
    if (!cfg || cfg->npeers > ROOST_NODES_MAX || !cfg->heartbeat_ms || !cfg->down_after_ms)
        return NULL;
    detector_t *d = roost_xcalloc(1, sizeof *d);
    d->cfg = *cfg;
    d->cfg.peers = NULL;
    d->npeers = cfg->npeers;
    d->peers = roost_xcalloc(cfg->npeers ? cfg->npeers : 1, sizeof *d->peers);
    for (uint32_t i = 0; i < cfg->npeers; i++) {
        d->peers[i].id = cfg->peers[i];
        d->peers[i].up = true; /* innocent until silent: the map starts with everyone UP */
    }
    return d;
}

void detector_destroy(detector_t **self_p)
{
    if (!*self_p)
        return;
    free((*self_p)->peers);
    free(*self_p);
    *self_p = NULL;
}

static peer_t *s_peer(detector_t *d, uint32_t id)
{
    for (uint32_t i = 0; i < d->npeers; i++)
        if (d->peers[i].id == id)
            return &d->peers[i];
    return NULL;
}

static void s_sample(peer_t *p, double ms)
{
    if (p->nsamples == DETECTOR_SAMPLES_MAX) {
        double old = p->samples[p->next];
        p->sum -= old;
        p->sumsq -= old * old;
    } else {
        p->nsamples++;
    }
    p->samples[p->next] = ms;
    p->next = (p->next + 1) % DETECTOR_SAMPLES_MAX;
    p->sum += ms;
    p->sumsq += ms * ms;
}

void detector_heartbeat(detector_t *self, uint32_t from, uint64_t now_ns)
{
    peer_t *p = s_peer(self, from);
    if (!p)
        return;
    if (p->last_ns && now_ns > p->last_ns)
        s_sample(p, (double)(now_ns - p->last_ns) / 1e6);
    p->last_ns = now_ns;
    if (!p->up) {
        p->up = true;
        ROOST_INFO(COMP, "peer up", "peer=%u", p->id);
    }
}

double detector_phi(const detector_t *self, uint32_t peer, uint64_t now_ns)
{
    const peer_t *p = NULL;
    for (uint32_t i = 0; i < self->npeers && !p; i++)
        if (self->peers[i].id == peer)
            p = &self->peers[i];
    if (!p || !p->last_ns || now_ns <= p->last_ns)
        return 0.0;
    double mean = p->nsamples ? p->sum / p->nsamples : (double)self->cfg.heartbeat_ms;
    double var = p->nsamples ? p->sumsq / p->nsamples - mean * mean : 0.0;
    mean += DETECTOR_ACCEPTABLE_PAUSE_MS;
    double sd = sqrt(var > 0 ? var : 0);
    if (sd < DETECTOR_MIN_STD_MS)
        sd = DETECTOR_MIN_STD_MS;
    double t = (double)(now_ns - p->last_ns) / 1e6;
    double y = (t - mean) / sd;
    double e = exp(-y * (1.5976 + 0.070566 * y * y));
    double phi = t > mean ? -log10(e / (1.0 + e)) : -log10(1.0 - 1.0 / (1.0 + e));
    return phi;
}

bool detector_is_up(const detector_t *self, uint32_t peer)
{
    for (uint32_t i = 0; i < self->npeers; i++)
        if (self->peers[i].id == peer)
            return self->peers[i].up;
    return false;
}

/* Down: phi over the threshold, or silent (or never heard) for down_after_ms. */
static bool s_suspect(detector_t *d, peer_t *p, uint64_t now_ns)
{
    uint64_t since = p->last_ns ? p->last_ns : p->added_ns;
    uint64_t silent_ms = now_ns > since ? (now_ns - since) / 1000000u : 0;
    if (silent_ms >= d->cfg.down_after_ms)
        return true;
    return p->last_ns && detector_phi(d, p->id, now_ns) > DETECTOR_PHI_THRESHOLD;
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
        const clustermap_member_t *m = clustermap_member_by_id(map, p->id);
        if (!m || (m->status == CLUSTERMAP_UP) == p->up)
            continue;
        if (p->last_submit_ns && now_ns - p->last_submit_ns < DETECTOR_RESUBMIT_MS * 1000000ull)
            continue;
        clustermap_cmd_t *cmd = roost_xcalloc(1, sizeof *cmd);
        cmd->type = p->up ? CLUSTERMAP_CMD_NODE_UP : CLUSTERMAP_CMD_NODE_DOWN;
        cmd->node_id = p->id;
        int rc = control_submit(control, cmd);
        free(cmd);
        p->last_submit_ns = now_ns;
        ROOST_INFO(COMP, p->up ? "reporting node up" : "reporting node down", "peer=%u rc=%d",
                   p->id, rc);
    }
    clustermap_release(&map);
}

void detector_tick(detector_t *self, uint64_t now_ns)
{
    for (uint32_t i = 0; i < self->npeers; i++) {
        peer_t *p = &self->peers[i];
        if (!p->added_ns)
            p->added_ns = now_ns;
        if (p->up && s_suspect(self, p, now_ns)) {
            p->up = false;
            ROOST_WARN(COMP, "peer down", "peer=%u silent_ms=%llu", p->id,
                       (unsigned long long)((now_ns - (p->last_ns ? p->last_ns : p->added_ns)) /
                                            1000000u));
        }
    }
    s_reconcile(self, now_ns);
}
