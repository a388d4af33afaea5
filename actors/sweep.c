/* actors/sweep.c — the per-partition sweeper (node-local "@<node>:<p>/sweep"): when this node
 * starts serving a partition (MSG_STORE_SERVING from the store, after reconciliation), every
 * conversation listed in the partition's unfinished-fan-out index (~f/<conv>) is woken, so an
 * acknowledged message reaches every inbox even if nothing is ever sent there again. */
#include "actors/actors.h"

#include <string.h>

#include "actors/ids.h"
#include "actors/msgs.h"
#include "runtime/errors.h"
#include "runtime/log.h"
#include "shards/store.h"

static const char *const COMP = "sweep";

typedef struct {
    roost_ctx_t *ctx;
    uint32_t woken;
} wake_t;

static bool s_wake(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    (void)val, (void)vlen;
    wake_t *w = arg;
    char conv[CONV_KEY_BYTES_MAX + 1];
    size_t len = klen - 3;
    if (len == 0 || len > CONV_KEY_BYTES_MAX)
        return true;
    memcpy(conv, key + 3, len);
    conv[len] = '\0';
    if (roost_ctx_send(w->ctx, conv, MSG_FANOUT_WAKE, NULL, 0) == ROOST_OK)
        w->woken++;
    return true;
}

static void s_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    if (env->type != MSG_STORE_SERVING)
        return;
    wake_t w = {.ctx = ctx};
    int n = store_scan(ctx, "~f/", 3, false, 0, s_wake, &w);
    if (n < 0)
        ROOST_WARN(COMP, "cannot read the fan-out index", "partition=%u err=%s",
                   roost_ctx_partition(ctx), roost_strerror(n));
    else if (w.woken)
        ROOST_INFO(COMP, "resuming fan-out", "partition=%u conversations=%u",
                   roost_ctx_partition(ctx), w.woken);
    roost_ctx_passivate(ctx);
}

const roost_behaviour_t sweep_behaviour = {.kind = "@sweep", .on_message = s_message};
