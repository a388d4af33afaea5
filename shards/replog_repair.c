/* shards/replog_repair.c — repair of a corrupt log entry from the other replicas, and the
 * scrubber that finds corruption nobody reads.
 *
 * Reading an entry whose checksum fails records its lsn (replog_read_entry). The next tick
 * (primary) or append (replica) asks every other replica for its copy; the first copy that
 * passes its checksum, for an entry known committed (identical everywhere) or sent by the
 * current primary, overwrites ours, synced. Until then the paths that need the entry (apply,
 * catch-up streams) stop short of it and resume afterwards.
 *
 * The scrubber: every log replica re-reads its entries in order, a share of the node's budget
 * (store_t.scrub_per_s, split over the active logs) every scrub interval, wrapping to the start
 * after its last entry, so an entry that rotted on disk is found and repaired while the other
 * copies are still good — not years later when a replica needs it.
 */
#include <stdlib.h>

#include "runtime/errors.h"
#include "runtime/log.h"
#include "shards/keys.h"
#include "shards/replog_internal.h"

static const char *const COMP = "replog";

void replog_repair_poll(roost_ctx_t *ctx, replog_t *r)
{
    uint64_t now = roost_ctx_now_ns(ctx);
    if (!r->corrupt_lsn || now - r->repair_sent_ns < REPLOG_REPAIR_GAP_MS * 1000000ull)
        return;
    r->repair_sent_ns = now;
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msg_fetch_encode(&out, r->corrupt_lsn);
    for (uint32_t i = 0; i < r->npeers; i++)
        if (r->peers[i] != r->self)
            replog_send(ctx, r, r->peers[i], MSG_LOG_FETCH, &out);
    msgpack_sbuffer_destroy(&out);
}

void replog_on_fetch(roost_ctx_t *ctx, replog_t *r, roost_env_t *env)
{
    uint64_t lsn;
    uint32_t to = replog_sender_node(env);
    void *rec;
    size_t len;
    log_entry_t e;
    if (msg_fetch_decode(env->payload, env->payload_len, &lsn) != ROOST_OK || to == UINT32_MAX ||
        lsn == 0 || lsn > r->last_lsn || replog_read_entry(r, lsn, &rec, &len, &e) != ROOST_OK)
        return; /* nothing good to give: another replica may have it */
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msg_fetched_encode(&out, lsn, rec, len);
    replog_send(ctx, r, to, MSG_LOG_FETCHED, &out);
    msgpack_sbuffer_destroy(&out);
    free(rec);
}

void replog_on_fetched(roost_ctx_t *ctx, replog_t *r, roost_env_t *env)
{
    uint64_t lsn;
    const void *rec;
    size_t len;
    msgpack_unpacked up;
    log_entry_t e;
    uint32_t from = replog_sender_node(env);
    int rc = msg_fetched_decode(env->payload, env->payload_len, &lsn, &rec, &len, &up);
    bool usable = rc == ROOST_OK && lsn == r->corrupt_lsn &&
                  entry_decode(rec, len, &e) == ROOST_OK && e.lsn == lsn &&
                  (lsn <= r->commit_lsn || from == r->primary);
    if (usable) {
        engine_batch_t *b = engine_batch_new();
        uint8_t key[KEY_LOG_BYTES];
        key_log(key, r->partition, lsn);
        engine_batch_put(b, key, sizeof key, rec, len);
        rc = engine_write(r->engine, b, true);
        engine_batch_destroy(&b);
        tailcache_forget(&r->tail, lsn);
        if (rc == ROOST_OK) {
            r->corrupt_lsn = 0;
            atomic_fetch_add(&r->store->stats.repaired, 1);
            ROOST_WARN(COMP, "repaired a corrupt entry", "partition=%u lsn=%llu from=%u",
                       r->partition, (unsigned long long)lsn, from);
            if (r->applied_lsn < r->commit_lsn) /* apply what waited for it */
                replog_apply_to(r, r->commit_lsn);
        }
    }
    msgpack_unpacked_destroy(&up);
    (void)ctx;
}

void replog_scrub_start(roost_ctx_t *ctx, replog_t *r)
{
    uint32_t ms =
        r->store->scrub_interval_ms ? r->store->scrub_interval_ms : STORE_SCRUB_INTERVAL_MS_DEFAULT;
    uint32_t phase = 1 + (uint32_t)roost_rng_below(roost_ctx_rng(ctx), ms);
    roost_ctx_timer_start(ctx, phase, ms, REPLOG_TIMER_SCRUB);
}

uint64_t replog_scrub_budget(uint64_t *credit, uint64_t per_s, uint64_t ms, uint32_t logs)
{
    uint64_t unit = 1000u * (logs ? logs : 1);
    *credit += per_s * ms;
    uint64_t budget = *credit / unit;
    *credit -= budget * unit;
    return budget;
}

void replog_scrub(roost_ctx_t *ctx, replog_t *r)
{
    const store_t *st = r->store;
    uint64_t per_s = st->scrub_per_s ? st->scrub_per_s : STORE_SCRUB_PER_S_DEFAULT;
    uint64_t ms = st->scrub_interval_ms ? st->scrub_interval_ms : STORE_SCRUB_INTERVAL_MS_DEFAULT;
    uint32_t logs = atomic_load_explicit(&r->store->stats.logs, memory_order_relaxed);
    uint64_t budget = replog_scrub_budget(&r->scrub_credit, per_s, ms, logs);
    uint64_t done = 0;
    for (; done < budget && r->last_lsn > 0; done++) {
        if (r->scrub_next < r->first_lsn || r->scrub_next > r->last_lsn)
            r->scrub_next = r->first_lsn;
        if (r->scrub_next > r->last_lsn)
            break;
        void *rec;
        size_t len;
        log_entry_t e;
        if (replog_read_entry(r, r->scrub_next, &rec, &len, &e) == ROOST_OK)
            free(rec); /* a bad one is recorded in corrupt_lsn by the read */
        r->scrub_next++;
    }
    atomic_fetch_add_explicit(&r->store->stats.scrubbed, done, memory_order_relaxed);
    replog_repair_poll(ctx, r);
}
