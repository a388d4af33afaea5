/* sim/buggify.c — see buggify.h: the sites, their per-run switch and the seeded coin. */
#include "sim/buggify.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/fault.h"
#include "runtime/hash.h"
#include "runtime/rng.h"
#include "runtime/util.h"

/* The fault points whose paths the system survives by design (docs/operations.md lists what
 * each does). */
static const char *const BUGGIFY_SITES[] = {
    "replog.rebuild_early", /* a stalled replica is rebuilt from a snapshot, not fed entries */
    "user.push_lost",       /* a push lost between the shard and the edge */
    "user.receipt_lost",    /* a receipt lost on its way to the sender's user actor */
    "conv.read_record",     /* a message record that cannot be read this time */
};
enum { NSITES = sizeof BUGGIFY_SITES / sizeof BUGGIFY_SITES[0] };

/* By sim_plant_t: the --plant name and the fault point. */
static const struct {
    const char *name, *site;
} PLANTS[] = {{"", ""}, {"ack-one", "replog.plant_ack_one"}, {"sync-all", "replog.plant_sync_all"}};

const char *sim_plant_name(sim_plant_t plant)
{
    return PLANTS[plant].name;
}

bool sim_plant_parse(const char *name, sim_plant_t *out)
{
    for (size_t i = 1; i < sizeof PLANTS / sizeof PLANTS[0]; i++)
        if (strcmp(name, PLANTS[i].name) == 0) {
            *out = (sim_plant_t)i;
            return true;
        }
    return false;
}

typedef enum { SITE_UNDECIDED = 0, SITE_OFF, SITE_ON } site_state_t;

struct sim_buggify {
    uint64_t seed;
    const bool *on;
    sim_plant_t plant;
    roost_rng_t rng; /* its own stream: checks do not shift the world's choices */
    site_state_t state[NSITES];
    uint32_t fire_ppm[NSITES];
    uint64_t fired;
    uint32_t sites_on;
};

static void s_decide(sim_buggify_t *b, int i)
{
    const char *site = BUGGIFY_SITES[i];
    uint64_t words[2] = {b->seed, roost_hash64(site, strlen(site))};
    uint64_t h = roost_hash64(words, sizeof words);
    b->state[i] = h % 4 == 0 ? SITE_ON : SITE_OFF;
    static const uint32_t rates[] = {10000, 50000, 250000};
    b->fire_ppm[i] = rates[(h >> 8) % 3];
    b->sites_on += b->state[i] == SITE_ON;
}

static bool s_hook(void *arg, const char *site)
{
    sim_buggify_t *b = arg;
    if (b->plant && strcmp(site, PLANTS[b->plant].site) == 0)
        return true;
    if (!*b->on)
        return false;
    for (int i = 0; i < NSITES; i++) {
        if (strcmp(site, BUGGIFY_SITES[i]) != 0)
            continue;
        if (b->state[i] == SITE_UNDECIDED)
            s_decide(b, i);
        bool fire = b->state[i] == SITE_ON && roost_rng_below(&b->rng, 1000000) < b->fire_ppm[i];
        b->fired += fire;
        return fire;
    }
    return false;
}

sim_buggify_t *sim_buggify_install(uint64_t seed, const bool *on, sim_plant_t plant)
{
    sim_buggify_t *b = roost_xcalloc(1, sizeof *b);
    b->seed = seed;
    b->on = on;
    b->plant = plant;
    roost_rng_seed(&b->rng, seed ^ 0xB0661F7ull);
    roost_fault_set_hook(s_hook, b);
    return b;
}

void sim_buggify_remove(sim_buggify_t **self_p)
{
    if (*self_p == NULL)
        return;
    roost_fault_set_hook(NULL, NULL);
    free(*self_p);
    *self_p = NULL;
}

uint64_t sim_buggify_fired(const sim_buggify_t *self)
{
    return self->fired;
}

uint32_t sim_buggify_sites_on(const sim_buggify_t *self)
{
    return self->sites_on;
}
