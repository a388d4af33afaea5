/* shards/replog_snapshot.c — rebuilding a log replica from a snapshot when the entries it lacks
 * are no longer in any log (retention, replog.c s_truncate).
 *
 * The puller (a replica the primary told LOG_REBUILD, or a new primary whose promisers truncated
 * what it lacks) asks the source for the partition's state table in chunks, in key order:
 *
 *   puller ── SNAP_REQ [0, ""] ──────────────> source   pins its applied point S (no truncation
 *          <── SNAP [S+1, epoch(S), done, pairs]         at or above S while the pin lives)
 *   first chunk: the puller drops its log and state (marked REBUILDING, synced) and writes them
 *          ── SNAP_REQ [S+1, last key] ───────> …        until done
 *   done: applied = commit = last = S, the log starts at S + 1 (synced); REBUILDING cleared.
 *
 * The pin travels as S + 1, so 0 keeps meaning "no pin" even for a source that has applied
 * nothing (S = 0: an empty state, the whole log to replay). Sent as S, a source at 0 answered
 * "lost your pin" to every request and the puller asked again at once, forever, while the
 * primary waited for its rebuilding replicas to acknowledge (found by the simulator).
 *
 * Every chunk comes from one view of the source's state at exactly S (snapview.h), however many
 * entries the source applies meanwhile; the puller then receives every entry after S through
 * the log and applies them in order. (A fuzzy snapshot, each chunk read afresh, held effects of
 * entries after S that an adoption under sync: none could lose: the puller kept them for good,
 * simulator seed 1238.) A source that lost the pin (restart, view and puller out of step, or
 * 30 s idle) answers start 0 and the puller starts over; a request unanswered for a second is
 * sent again. While rebuilding, a replica's promises do not count (they carry `rejoining`). */
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/log.h"
#include "shards/replog_internal.h"

static const char *const COMP = "replog";

/* ---- the source -------------------------------------------------------------------------- */

static void s_unpin(replog_t *r, uint32_t slot)
{
    r->pins[slot].node = 0;
    snapview_close(&r->pins[slot].view);
}

void replog_unpin_all(replog_t *r)
{
    for (uint32_t i = 0; i < REPLOG_PEERS_MAX; i++)
        s_unpin(r, i);
}

uint64_t replog_pinned(replog_t *r, uint64_t now_ns)
{
    uint64_t low = UINT64_MAX;
    for (uint32_t i = 0; i < REPLOG_PEERS_MAX; i++) {
        if (!r->pins[i].node)
            continue;
        if (now_ns - r->pins[i].at_ns > REPLOG_PIN_MS * 1000000ull)
            s_unpin(r, i); /* the puller went away */
        else if (r->pins[i].start < low)
            low = r->pins[i].start;
    }
    return low;
}

/* The slot of `node`'s pin for a request that carried `pin` (S + 1, or 0 for a new pull at our
 * applied point, with a new view). Returns the slot, or REPLOG_PEERS_MAX if the pin is gone (or
 * no slot is free). */
static uint32_t s_pin(replog_t *r, uint32_t node, uint64_t pin)
{
    uint32_t slot = REPLOG_PEERS_MAX;
    for (uint32_t i = 0; i < REPLOG_PEERS_MAX; i++) {
        if (r->pins[i].node == node) {
            slot = i;
            break;
        }
        if (!r->pins[i].node && slot == REPLOG_PEERS_MAX)
            slot = i;
    }
    if (slot == REPLOG_PEERS_MAX)
        return slot;
    if (pin == 0) {
        s_unpin(r, slot);
        r->pins[slot].node = node;
        r->pins[slot].start = r->applied_lsn;
        r->pins[slot].view = snapview_open(r->engine, r->partition);
    } else if (r->pins[slot].node != node || r->pins[slot].start + 1 != pin) {
        return REPLOG_PEERS_MAX;
    }
    r->pins[slot].at_ns = r->now_ns;
    return slot;
}

/* The chunk after `after` from the view of the pin in `slot` into out (pin 0 if the pin is
 * gone, or the view and the puller disagree: the puller starts over). */
static void s_answer(replog_t *r, uint32_t slot, const void *after, size_t after_len,
                     msgpack_sbuffer *out)
{
    const void *pairs = NULL;
    size_t pairs_len = 0;
    uint32_t n = 0;
    bool done = false;
    int rc = slot < REPLOG_PEERS_MAX ? snapview_chunk(r->pins[slot].view, after, after_len, &pairs,
                                                      &pairs_len, &n, &done)
                                     : ROOST_ESTALE;
    if (rc != ROOST_OK) {
        if (slot < REPLOG_PEERS_MAX)
            s_unpin(r, slot);
        msg_snap_begin(out, 0, 0, false, after, after_len, 0);
        return;
    }
    uint64_t pin = r->pins[slot].start + 1;
    msg_snap_begin(out, pin, replog_epoch_of(r, pin - 1), done, after, after_len, n);
    msgpack_sbuffer_write(out, pairs, pairs_len);
}

void replog_on_snap_req(roost_ctx_t *ctx, replog_t *r, roost_env_t *env)
{
    uint64_t asked;
    const void *after;
    size_t after_len;
    msgpack_unpacked up;
    uint32_t to = replog_sender_node(env);
    if (msg_snap_req_decode(env->payload, env->payload_len, &asked, &after, &after_len, &up) !=
            ROOST_OK ||
        to == UINT32_MAX || r->rebuilding || after_len > KEY_STATE_USER_BYTES_MAX) {
        msgpack_unpacked_destroy(&up);
        return;
    }
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    s_answer(r, s_pin(r, to, asked), after, after_len, &out);
    replog_send(ctx, r, to, MSG_LOG_SNAP, &out);
    msgpack_sbuffer_destroy(&out);
    msgpack_unpacked_destroy(&up);
}

/* ---- the puller -------------------------------------------------------------------------- */

static void s_request(roost_ctx_t *ctx, replog_t *r)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msg_snap_req_encode(&out, r->rebuild_start, r->rebuild_after, r->rebuild_after_len);
    replog_send(ctx, r, r->rebuild_from, MSG_LOG_SNAP_REQ, &out);
    msgpack_sbuffer_destroy(&out);
    r->rebuild_sent_ns = r->now_ns;
    roost_ctx_timer_start(ctx, REPLOG_REBUILD_RETRY_MS, 0, REPLOG_TIMER_REBUILD);
}

void replog_rebuild_from(roost_ctx_t *ctx, replog_t *r, uint32_t node)
{
    bool stalled = r->now_ns - r->rebuild_sent_ns > 2ull * REPLOG_REBUILD_RETRY_MS * 1000000ull;
    if (node == r->self || (r->rebuilding && r->rebuild_from && !stalled))
        return; /* one pull at a time; a silent source is replaced */
    ROOST_INFO(COMP, "rebuilding from a snapshot", "partition=%u node=%u source=%u applied=%llu",
               r->partition, r->self, node, (unsigned long long)r->applied_lsn);
    r->rebuilding = true;
    r->rebuild_epoch = 0;
    r->rebuild_from = node;
    r->rebuild_start = 0;
    r->rebuild_after_len = 0;
    s_request(ctx, r);
}

void replog_rebuild_retry(roost_ctx_t *ctx, replog_t *r)
{
    if (r->rebuilding && r->rebuild_from &&
        r->now_ns - r->rebuild_sent_ns >= REPLOG_REBUILD_RETRY_MS * 1000000ull)
        s_request(ctx, r);
}

void replog_on_rebuild(roost_ctx_t *ctx, replog_t *r, roost_env_t *env)
{
    uint64_t epoch;
    uint32_t from = replog_sender_node(env);
    bool ok = msg_rebuild_decode(env->payload, env->payload_len, &epoch) == ROOST_OK &&
              epoch >= r->promised && from != UINT32_MAX;
    if (ok && r->role == ROLE_REPLICA) {
        replog_rebuild_from(ctx, r, from);
        if (r->rebuild_from == from)
            r->rebuild_epoch = epoch;
    }
}

/* The first chunk: everything this log held goes (the snapshot replaces it), durably marked. */
static int s_wipe(replog_t *r)
{
    engine_batch_t *b = engine_batch_new();
    uint8_t lo[KEY_PREFIX_BYTES], hi[KEY_PREFIX_BYTES], meta[KEY_META_BYTES], one[8];
    key_prefix(lo, r->partition, KEY_TABLE_LOG);
    key_prefix(hi, r->partition, KEY_TABLE_LOG + 1);
    engine_batch_delete_range(b, lo, sizeof lo, hi, sizeof hi);
    key_prefix(lo, r->partition, KEY_TABLE_STATE);
    key_prefix(hi, r->partition, KEY_TABLE_STATE + 1);
    engine_batch_delete_range(b, lo, sizeof lo, hi, sizeof hi);
    key_meta(meta, r->partition, KEY_META_APPLIED);
    engine_batch_delete(b, meta, sizeof meta);
    key_meta(meta, r->partition, KEY_META_REBUILDING);
    key_be64(one, 1);
    engine_batch_put(b, meta, sizeof meta, one, sizeof one);
    int rc = engine_write(r->engine, b, true);
    engine_batch_destroy(&b);
    tailcache_clear(&r->tail);
    if (rc == ROOST_OK) {
        r->applied_lsn = r->commit_lsn = r->last_lsn = r->last_epoch = 0;
        r->first_lsn = 1;
        r->first_epoch = 0;
    }
    return rc;
}

/* The last chunk: the log now starts after the snapshot point. */
static int s_finish(replog_t *r, uint64_t start, uint64_t start_epoch)
{
    engine_batch_t *b = engine_batch_new();
    uint8_t meta[KEY_META_BYTES], val[8];
    const struct {
        uint8_t field;
        uint64_t v;
    } puts[] = {{KEY_META_APPLIED, start},
                {KEY_META_FIRST, start + 1},
                {KEY_META_FIRST_EPOCH, start_epoch}};
    for (size_t i = 0; i < sizeof puts / sizeof puts[0]; i++) {
        key_meta(meta, r->partition, puts[i].field);
        key_be64(val, puts[i].v);
        engine_batch_put(b, meta, sizeof meta, val, sizeof val);
    }
    key_meta(meta, r->partition, KEY_META_REBUILDING);
    engine_batch_delete(b, meta, sizeof meta);
    int rc = engine_write(r->engine, b, true);
    engine_batch_destroy(&b);
    if (rc != ROOST_OK)
        return rc;
    r->applied_lsn = r->commit_lsn = r->last_lsn = start;
    r->last_epoch = r->first_epoch = start_epoch;
    r->first_lsn = start + 1;
    r->rebuilding = false;
    atomic_fetch_add_explicit(&r->store->stats.rebuilds, 1, memory_order_relaxed);
    ROOST_INFO(COMP, "rebuilt from a snapshot", "partition=%u node=%u at=%llu", r->partition,
               r->self, (unsigned long long)start);
    return ROOST_OK;
}

static int s_store_pairs(replog_t *r, const msg_snap_t *m)
{
    engine_batch_t *b = engine_batch_new();
    for (uint32_t i = 0; i < m->npairs; i++) {
        const msgpack_object *kv = m->pairs[i].via.array.ptr;
        uint8_t key[KEY_BYTES_MAX];
        if (kv[0].via.bin.size > KEY_STATE_USER_BYTES_MAX) {
            engine_batch_destroy(&b);
            return ROOST_EPROTO;
        }
        size_t klen = key_state(key, r->partition, kv[0].via.bin.ptr, kv[0].via.bin.size);
        engine_batch_put(b, key, klen, kv[1].via.bin.ptr, kv[1].via.bin.size);
    }
    int rc = engine_batch_count(b) ? engine_write(r->engine, b, false) : ROOST_OK;
    engine_batch_destroy(&b);
    if (rc == ROOST_OK && m->npairs) {
        const msgpack_object *last = &m->pairs[m->npairs - 1].via.array.ptr[0];
        memcpy(r->rebuild_after, last->via.bin.ptr, last->via.bin.size);
        r->rebuild_after_len = last->via.bin.size;
    }
    return rc;
}

/* Rebuilt at the primary's request: tell it where we stand (a gap answer: stream me from
 * there), or it would keep seeing our old position and ask again. */
static void s_tell_position(roost_ctx_t *ctx, replog_t *r)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msg_ack_t a = {.epoch = r->rebuild_epoch,
                   .status = ACK_GAP,
                   .lsn = r->commit_lsn,
                   .promised = r->promised};
    msg_ack_encode(&out, &a);
    replog_send(ctx, r, r->rebuild_from, MSG_LOG_ACK, &out);
    msgpack_sbuffer_destroy(&out);
    r->rebuild_from = 0;
    r->rebuild_epoch = 0;
}

/* Whether a chunk answers the request we have out: the network may bring an older answer late
 * or twice. An answer to a continuation taken for a first chunk wiped the state the earlier
 * chunks had written and finished the rebuild with the tail's pairs alone (found by the
 * simulator, seed 1462: 351 acknowledged writes gone from a rebuilt copy). */
static bool s_answers_our_request(const replog_t *r, const msg_snap_t *m)
{
    if (m->pin == 0)
        return m->after_len == r->rebuild_after_len; /* "lost your pin": for this request */
    if (m->after_len != r->rebuild_after_len ||
        memcmp(m->after, r->rebuild_after, m->after_len) != 0)
        return false;
    return r->rebuild_start == 0 || m->pin == r->rebuild_start;
}

void replog_on_snap(roost_ctx_t *ctx, replog_t *r, roost_env_t *env)
{
    msg_snap_t m;
    memset(&m, 0, sizeof m);
    int rc = msg_snap_decode(env->payload, env->payload_len, &m);
    if (rc != ROOST_OK || !r->rebuilding || replog_sender_node(env) != r->rebuild_from ||
        !s_answers_our_request(r, &m)) {
        msgpack_unpacked_destroy(&m.up);
        return;
    }
    if (m.pin == 0) {
        r->rebuild_start = 0; /* the source lost our pin: start over */
        r->rebuild_after_len = 0;
    } else {
        if (!r->rebuild_start)
            rc = s_wipe(r);
        r->rebuild_start = m.pin;
        if (rc == ROOST_OK)
            rc = s_store_pairs(r, &m);
        if (rc == ROOST_OK && m.done)
            rc = s_finish(r, m.pin - 1, m.start_epoch);
    }
    msgpack_unpacked_destroy(&m.up);
    if (rc != ROOST_OK) {
        ROOST_ERROR(COMP, "snapshot chunk not stored", "partition=%u err=%s", r->partition,
                    roost_strerror(rc));
        return; /* the retry timer asks again */
    }
    if (r->rebuilding)
        s_request(ctx, r);
    else if (r->role == ROLE_RECONCILING)
        replog_become_primary(ctx, r); /* reconcile again from the rebuilt log */
    else if (r->rebuild_epoch)
        s_tell_position(ctx, r);
}

/* ---- the primary's side ------------------------------------------------------------------- */

void replog_ask_rebuild(roost_ctx_t *ctx, replog_t *r, int i)
{
    if (r->now_ns - r->rebuild_told_ns[i] < REPLOG_REBUILD_RETRY_MS * 1000000ull)
        return;
    r->rebuild_told_ns[i] = r->now_ns;
    r->catchup[i] = true;
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msg_rebuild_encode(&out, r->epoch);
    replog_send(ctx, r, r->peers[i], MSG_LOG_REBUILD, &out);
    msgpack_sbuffer_destroy(&out);
}
