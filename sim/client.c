/* sim/client.c — the simulated client: one actor on the client node writing kv:<i> = v<i>
 * through the store probe (each key once, so every acknowledgement names one write), and
 * recording every answer for the checkers: acknowledged, or failed (outcome unknown: a write
 * that timed out may still have been committed). */
#include <stdio.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/util.h"
#include "shards/kv.h"
#include "sim/world.h"

enum { MSG_SIM_WRITE = 0x5E00 };

static void s_answer(sim_world_t *w, const roost_env_t *env)
{
    uintptr_t at = (uintptr_t)u64map_take(&w->pending_writes, env->corr); /* index + 1 */
    if (at != 0 && w->writes[at - 1].status == WRITE_PENDING) {
        w->writes[at - 1].status = (env->flags & ROOST_ENV_ERROR) ? WRITE_FAILED : WRITE_ACKED;
        w->writes[at - 1].acked_ns = w->now_ns;
    }
    while (w->first_pending < w->nwrites && w->writes[w->first_pending].status != WRITE_PENDING)
        w->first_pending++;
}

static void s_write(roost_ctx_t *ctx, sim_world_t *w)
{
    if (w->nwrites == w->writes_cap) {
        w->writes_cap = w->writes_cap ? w->writes_cap * 2 : 1024;
        w->writes = roost_xrealloc(w->writes, w->writes_cap * sizeof *w->writes);
    }
    uint32_t i = w->nwrites++;
    char key[32], val[32];
    snprintf(key, sizeof key, "kv:%u", i);
    int len = snprintf(val, sizeof val, "v%u", i);
    uint64_t corr = 0;
    int rc = roost_ctx_request(ctx, key, MSG_KV_PUT, val, (size_t)len, SIM_WRITE_TIMEOUT_MS, &corr);
    w->writes[i] =
        (sim_write_t){.status = rc == ROOST_OK ? WRITE_PENDING : WRITE_FAILED, .corr = corr};
    if (rc == ROOST_OK)
        u64map_put(&w->pending_writes, corr, (void *)(uintptr_t)(i + 1));
}

static void s_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    sim_world_t *w = roost_ctx_service(ctx, "sim");
    if (env->flags & ROOST_ENV_RESPONSE)
        s_answer(w, env);
    else if (env->type == MSG_SIM_WRITE)
        s_write(ctx, w);
}

const roost_behaviour_t sim_client_behaviour = {.kind = "@cli", .on_message = s_message};

void sim_client_tick(sim_world_t *w)
{
    if (w->now_ns < w->next_write_ns)
        return;
    uint64_t every = (uint64_t)w->cfg.write_every_us * 1000u;
    w->next_write_ns = w->now_ns + every / 2 + roost_rng_below(&w->rng, every + 1);
    char key[64];
    roost_key_make_local(key, sizeof key, w->client_id, 0, "cli", NULL);
    roost_node_send(w->client, roost_env_new(key, NULL, MSG_SIM_WRITE, NULL, 0));
}
