/* sim/chat_world.c — the phones on the world's side: made and freed with the world, and each
 * device nudged (MSG_SIM_STEP) when its next action is due (sim/chat.c acts). */
#include <stdio.h>
#include <stdlib.h>

#include "runtime/util.h"
#include "sim/chat_internal.h"
#include "sim/world.h"

sim_chat_t *sim_chat_new(const sim_chat_config_t *cfg)
{
    uint32_t devices = cfg->phones, sends_each = cfg->sends_each;
    sim_chat_t *c = roost_xcalloc(1, sizeof *c);
    c->verbose = cfg->verbose;
    c->now_ns = cfg->now_ns;
    c->partitions = cfg->partitions;
    c->may_lose = cfg->may_lose;
    c->n = devices;
    c->sends_each = sends_each;
    c->dev = roost_xcalloc(2 * (size_t)devices, sizeof *c->dev);
    c->ngroups = devices >= 4 ? devices / 5 + 1 : 0; /* of five (or all) consecutive phones */
    c->groups = roost_xcalloc(c->ngroups ? c->ngroups : 1, sizeof *c->groups);
    for (uint32_t g = 0; g < c->ngroups; g++) {
        cgroup_t *gr = &c->groups[g];
        gr->nmembers = devices < 5 ? devices : 5;
        for (uint32_t k = 0; k < gr->nmembers; k++)
            gr->members[k] = (g * 5 + k) % devices;
    }
    for (uint32_t i = 0; i < 2 * devices; i++) {
        snprintf(c->dev[i].dev_id, sizeof c->dev[i].dev_id, "d%u", i < devices ? 1 : 2);
        c->dev[i].sends = roost_xcalloc(sends_each ? sends_each : 1, sizeof *c->dev[i].sends);
        c->dev[i].last_seq = roost_xcalloc(devices, sizeof *c->dev[i].last_seq);
        c->dev[i].last_seq_ns = roost_xcalloc(devices, sizeof *c->dev[i].last_seq_ns);
        c->dev[i].rcpt_ns[0] = roost_xcalloc(devices, sizeof *c->dev[i].rcpt_ns[0]);
        c->dev[i].rcpt_ns[1] = roost_xcalloc(devices, sizeof *c->dev[i].rcpt_ns[1]);
        c->dev[i].read_upto = roost_xcalloc(devices, sizeof *c->dev[i].read_upto);
        c->dev[i].rcpt[0] = roost_xcalloc(devices, sizeof *c->dev[i].rcpt[0]);
        c->dev[i].rcpt[1] = roost_xcalloc(devices, sizeof *c->dev[i].rcpt[1]);
        c->dev[i].gseq = roost_xcalloc(c->ngroups ? c->ngroups : 1, sizeof *c->dev[i].gseq);
        c->dev[i].gseq_ns = roost_xcalloc(c->ngroups ? c->ngroups : 1, sizeof *c->dev[i].gseq_ns);
        c->dev[i].next_prekey = 1;
    }
    u64map_init(&c->prekeys);
    return c;
}

void sim_chat_destroy(sim_chat_t **self_p)
{
    sim_chat_t *c = *self_p;
    if (!c)
        return;
    for (uint32_t i = 0; i < 2 * c->n; i++) {
        free(c->dev[i].sends);
        free(c->dev[i].last_seq);
        free(c->dev[i].last_seq_ns);
        free(c->dev[i].n_ns);
        free(c->dev[i].rcpt_ns[0]);
        free(c->dev[i].rcpt_ns[1]);
        free(c->dev[i].gseq_ns);
        free(c->dev[i].read_upto);
        free(c->dev[i].rcpt[0]);
        free(c->dev[i].rcpt[1]);
        free(c->dev[i].gseq);
        free(c->dev[i].seen.slot);
    }
    free(c->dev);
    free(c->groups);
    free(c->msgs);
    free(c->suspects);
    u64map_fini(&c->prekeys);
    free(c);
    *self_p = NULL;
}

void sim_chat_tick(sim_world_t *w)
{
    sim_chat_t *c = w->chat;
    for (uint32_t i = 0; c && i < 2 * c->n; i++) {
        simdev_t *d = &c->dev[i];
        if (d->busy != BUSY_NONE || w->now_ns < d->next_ns)
            continue;
        d->next_ns = w->now_ns + 2000000 + roost_rng_below(&w->rng, 20000000);
        char key[64];
        roost_key_make_local(key, sizeof key, w->client_id, i, "dev", NULL);
        roost_node_send(w->client, roost_env_new(key, NULL, MSG_SIM_STEP, NULL, 0));
    }
}
