/* runtime/membership.c — per-peer UP/DOWN from phi accrual plus a hard deadline; see
 * membership.h for the state diagram and the event contract.
 *
 * Peers live in a fixed array in the order they were added (removal shifts, so events come out
 * in add order); lookups are linear over at most MEMBERSHIP_PEERS_MAX entries. A peer's
 * pending event is simply `up != reported_up`, so there is no event queue to bound or lose.
 */
#include "runtime/membership.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/phi.h"
#include "runtime/util.h"

#define NS_PER_MS 1000000ull

typedef struct {
    uint32_t id;
    bool up;          /* what the detector concluded */
    bool reported_up; /* what the caller was last told (UP at add: no event) */
    uint64_t added_ns;
    phi_t phi;
} s_peer_t;

struct membership {
    membership_config_t cfg;
    phi_config_t phi_cfg;
    s_peer_t peers[MEMBERSHIP_PEERS_MAX];
    size_t npeers;
};

static membership_config_t s_with_defaults(const membership_config_t *cfg)
{
    membership_config_t c = {0};
    if (cfg)
        c = *cfg;
    if (c.heartbeat_ms == 0)
        c.heartbeat_ms = MEMBERSHIP_HEARTBEAT_MS_DEFAULT;
    if (c.phi_threshold == 0)
        c.phi_threshold = MEMBERSHIP_PHI_THRESHOLD_DEFAULT;
    if (c.down_after_ms == 0)
        c.down_after_ms = MEMBERSHIP_DOWN_AFTER_MS_DEFAULT;
    if (c.acceptable_pause_ms == 0)
        c.acceptable_pause_ms = MEMBERSHIP_ACCEPTABLE_PAUSE_MS_DEFAULT;
    if (c.min_std_dev_ms == 0)
        c.min_std_dev_ms = MEMBERSHIP_MIN_STD_DEV_MS_DEFAULT;
    return c;
}

static s_peer_t *s_find(const membership_t *self, uint32_t peer)
{
    for (size_t i = 0; i < self->npeers; i++) {
        if (self->peers[i].id == peer)
            return (s_peer_t *)&self->peers[i];
    }
    return NULL;
}

membership_t *membership_new(const membership_config_t *cfg)
{
    membership_config_t c = s_with_defaults(cfg);
    if (c.down_after_ms < c.heartbeat_ms || !(c.phi_threshold > 0))
        return NULL;
    /* A gap of down_after_ms got the peer declared down: it is a restart, not a sample. */
    uint64_t max_interval_ns = (uint64_t)c.down_after_ms * NS_PER_MS;
    if (max_interval_ns > PHI_INTERVAL_US_MAX * 1000)
        max_interval_ns = PHI_INTERVAL_US_MAX * 1000;
    phi_config_t pc = {
        .first_estimate_ns = (uint64_t)c.heartbeat_ms * NS_PER_MS,
        .min_std_dev_ns = (uint64_t)c.min_std_dev_ms * NS_PER_MS,
        .acceptable_pause_ns = (uint64_t)c.acceptable_pause_ms * NS_PER_MS,
        .max_interval_ns = max_interval_ns,
    };
    phi_t probe;
    if (phi_init(&probe, &pc) != ROOST_OK)
        return NULL;
    membership_t *self = roost_xcalloc(1, sizeof *self);
    self->cfg = c;
    self->phi_cfg = pc;
    return self;
}

void membership_destroy(membership_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

int membership_add_peer(membership_t *self, uint32_t peer, uint64_t now_ns)
{
    assert(self && self->npeers <= MEMBERSHIP_PEERS_MAX);
    if (s_find(self, peer))
        return ROOST_EEXIST;
    if (self->npeers == MEMBERSHIP_PEERS_MAX)
        return ROOST_ETOOBIG;
    s_peer_t *p = &self->peers[self->npeers];
    *p = (s_peer_t){.id = peer, .up = true, .reported_up = true, .added_ns = now_ns};
    int rc = phi_init(&p->phi, &self->phi_cfg);
    assert(rc == ROOST_OK); /* the config was checked by membership_new */
    (void)rc;
    self->npeers++;
    return ROOST_OK;
}

int membership_remove_peer(membership_t *self, uint32_t peer)
{
    assert(self);
    s_peer_t *p = s_find(self, peer);
    if (!p)
        return ROOST_ENOTFOUND;
    size_t i = (size_t)(p - self->peers);
    memmove(&self->peers[i], &self->peers[i + 1], (self->npeers - i - 1) * sizeof *p);
    self->npeers--;
    return ROOST_OK;
}

int membership_heartbeat(membership_t *self, uint32_t peer, uint64_t now_ns)
{
    assert(self);
    s_peer_t *p = s_find(self, peer);
    if (!p)
        return ROOST_ENOTFOUND;
    phi_heartbeat(&p->phi, now_ns);
    p->up = true;
    return ROOST_OK;
}

/* True if an UP peer should now be declared down. */
static bool s_is_failed(const membership_t *self, const s_peer_t *p, uint64_t now_ns)
{
    uint64_t since_ns = phi_has_heartbeat(&p->phi) ? p->phi.last_ns : p->added_ns;
    uint64_t silent_ns = now_ns > since_ns ? now_ns - since_ns : 0;
    if (silent_ns >= (uint64_t)self->cfg.down_after_ms * NS_PER_MS)
        return true;
    return phi_value(&p->phi, now_ns) > self->cfg.phi_threshold;
}

int membership_tick(membership_t *self, uint64_t now_ns, membership_event_t *out, size_t cap)
{
    assert(self && (out || cap == 0));
    int n = 0;
    for (size_t i = 0; i < self->npeers; i++) {
        s_peer_t *p = &self->peers[i];
        if (p->up && s_is_failed(self, p, now_ns))
            p->up = false;
        if (p->up == p->reported_up || (size_t)n == cap)
            continue;
        out[n++] = (membership_event_t){
            .peer = p->id,
            .kind = p->up ? MEMBERSHIP_PEER_UP : MEMBERSHIP_PEER_DOWN,
        };
        p->reported_up = p->up;
    }
    assert((size_t)n <= cap);
    return n;
}

bool membership_is_up(const membership_t *self, uint32_t peer)
{
    const s_peer_t *p = s_find(self, peer);
    return p && p->up;
}

double membership_phi(const membership_t *self, uint32_t peer, uint64_t now_ns)
{
    const s_peer_t *p = s_find(self, peer);
    return p ? phi_value(&p->phi, now_ns) : -1.0;
}

size_t membership_size(const membership_t *self)
{
    return self->npeers;
}
