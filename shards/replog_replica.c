/* shards/replog_replica.c — the log actor as a follower: promises, appends from the primary,
 * truncation of an older epoch's tail, and the acknowledgements. See replog.h. */
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/log.h"
#include "shards/keys.h"
#include "shards/replog_internal.h"
#include "shards/syncer.h"

static const char *const COMP = "replog";

static void s_reply(roost_ctx_t *ctx, replog_t *r, const roost_env_t *env, uint32_t type,
                    msgpack_sbuffer *payload)
{
    uint32_t to = replog_sender_node(env);
    if (to != UINT32_MAX)
        replog_send(ctx, r, to, type, payload);
}

static void s_ack(roost_ctx_t *ctx, replog_t *r, const roost_env_t *env, uint64_t epoch, int status,
                  uint64_t lsn)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msg_ack_t m = {.epoch = epoch, .status = status, .lsn = lsn, .promised = r->promised};
    msg_ack_encode(&out, &m);
    s_reply(ctx, r, env, MSG_LOG_ACK, &out);
    msgpack_sbuffer_destroy(&out);
}

void replog_on_prepare(roost_ctx_t *ctx, replog_t *r, roost_env_t *env)
{
    msg_prepare_t m;
    if (msg_prepare_decode(env->payload, env->payload_len, &m) != ROOST_OK)
        return;
    bool ok = m.epoch >= r->promised && replog_persist_promise(r, m.epoch) == ROOST_OK;
    if (ok && m.epoch > r->epoch && (r->role == ROLE_SERVING || r->role == ROLE_RECONCILING))
        replog_step_down(ctx, r, "promised a newer epoch");
    msgpack_sbuffer recs, out;
    msgpack_sbuffer_init(&recs);
    msgpack_sbuffer_init(&out);
    uint32_t n = 0;
    if (ok && m.from_lsn >= r->first_lsn && m.from_lsn <= r->last_lsn && !r->rebuilding)
        n = replog_collect(r, m.from_lsn, r->last_lsn, &recs);
    msg_promise_t p = {.epoch = m.epoch,
                       .ok = ok,
                       .promised = r->promised,
                       .last_epoch = r->last_epoch,
                       .last_lsn = r->last_lsn,
                       .rejoining = r->rejoining || r->rebuilding,
                       .first_lsn = r->first_lsn};
    msg_promise_begin(&out, &p, n);
    msgpack_sbuffer_write(&out, recs.data, recs.size);
    s_reply(ctx, r, env, MSG_LOG_PROMISE, &out);
    msgpack_sbuffer_destroy(&recs);
    msgpack_sbuffer_destroy(&out);
}

/* The epoch of our entry at lsn, 0 if we have none (or it is unreadable). */
static uint64_t s_local_epoch(replog_t *r, uint64_t lsn)
{
    return lsn > r->last_lsn ? 0 : replog_epoch_of(r, lsn);
}

/* True if our entry at lsn carries exactly these ops (a committed entry a new primary
 * re-stamped with its epoch during reconciliation: same content, newer label). */
static bool s_same_ops(replog_t *r, const log_entry_t *theirs)
{
    void *rec;
    size_t len;
    log_entry_t mine;
    if (replog_read_entry(r, theirs->lsn, &rec, &len, &mine) != ROOST_OK)
        return false;
    bool same = mine.ops_len == theirs->ops_len && memcmp(mine.ops, theirs->ops, mine.ops_len) == 0;
    free(rec);
    return same;
}

/* Adds to b the apply of the committed entries up to apply_upto that b's own log writes (from
 * lsn `touched` on) leave alone: they are on disk already, and the state follows in this write
 * instead of one more. */
static void s_apply_alongside(replog_t *r, engine_batch_t *b, uint64_t apply_upto, uint64_t touched,
                              replog_apply_t *a)
{
    *a = (replog_apply_t){.upto = r->applied_lsn};
    if (apply_upto >= touched)
        apply_upto = touched - 1;
    if (apply_upto > r->applied_lsn && !r->corrupt_lsn)
        (void)replog_apply_add(r, b, apply_upto, a); /* a corrupt entry: the repair path */
}

/* An entry we applied and cut from our log can no longer be compared, and under sync: none a
 * lossy adoption may have replaced it: the sender's history then holds that adoption's fence at
 * or below it, a newer one than any our state applied. (Before, such entries were taken as
 * ours, and a copy that had applied another history kept it: sim seed 437.) */
static bool s_cut_entry_is_ours(replog_t *r, const log_entry_t *e)
{
    uint64_t fence = replog_fence_of(e);
    return fence == 0 || fence <= replog_state_fence(r);
}

int replog_store_records(replog_t *r, const msg_view_t *v, bool sync, uint64_t apply_upto,
                         uint64_t *matched)
{
    engine_batch_t *b = engine_batch_new();
    uint64_t last = r->last_lsn, last_epoch = r->last_epoch, match = 0, touched = UINT64_MAX;
    bool truncated = false;
    int rc = ROOST_OK;
    for (uint32_t i = 0; i < v->nrecords && rc == ROOST_OK; i++) {
        size_t len;
        const void *rec = msg_view_record(v, i, &len);
        log_entry_t e;
        if (entry_decode(rec, len, &e) != ROOST_OK) {
            rc = ROOST_EPROTO;
            break;
        }
        if (e.lsn > last + 1)
            break; /* a gap: keep what is contiguous */
        if (e.lsn < r->first_lsn && e.lsn <= r->commit_lsn) {
            if (!s_cut_entry_is_ours(r, &e)) {
                ROOST_ERROR(COMP, "a fence we never applied below our log", "partition=%u lsn=%llu",
                            r->partition, (unsigned long long)e.lsn);
                rc = ROOST_ESTALE; /* our committed history is not the sender's */
                break;
            }
            match = e.lsn; /* applied and cut from our log: committed content never changes */
            continue;
        }
        if (e.lsn <= last && !truncated) {
            uint64_t mine = s_local_epoch(r, e.lsn);
            if (mine == e.epoch) {
                match = e.lsn;
                continue; /* already have it */
            }
            if (e.lsn <= r->commit_lsn) { /* a committed entry's content never changes */
                if (!s_same_ops(r, &e)) {
                    ROOST_ERROR(COMP, "committed entry differs from the primary's",
                                "partition=%u lsn=%llu", r->partition, (unsigned long long)e.lsn);
                    rc = ROOST_ESTALE; /* our committed history is not the sender's */
                    break;
                }
                uint8_t key[KEY_LOG_BYTES]; /* take the new label, keep the rest */
                key_log(key, r->partition, e.lsn);
                engine_batch_put(b, key, sizeof key, rec, len);
                tailcache_put(&r->tail, e.lsn, rec, len);
                touched = touched < e.lsn ? touched : e.lsn;
                match = e.lsn;
                if (e.lsn == last)
                    last_epoch = e.epoch;
                continue;
            }
            uint8_t lo[KEY_LOG_BYTES], hi[KEY_PREFIX_BYTES];
            key_log(lo, r->partition, e.lsn);
            key_prefix(hi, r->partition, KEY_TABLE_LOG + 1);
            engine_batch_delete_range(b, lo, sizeof lo, hi, sizeof hi);
            tailcache_forget_from(&r->tail, e.lsn);
            truncated = true; /* everything after is new: no more comparing */
        }
        uint8_t key[KEY_LOG_BYTES];
        key_log(key, r->partition, e.lsn);
        engine_batch_put(b, key, sizeof key, rec, len);
        tailcache_put(&r->tail, e.lsn, rec, len);
        touched = touched < e.lsn ? touched : e.lsn;
        last = e.lsn;
        last_epoch = e.epoch;
        match = e.lsn;
    }
    replog_apply_t a = {.upto = r->applied_lsn};
    if (rc == ROOST_OK)
        s_apply_alongside(r, b, apply_upto, touched, &a);
    if (rc == ROOST_OK && engine_batch_count(b) > 0)
        rc = engine_write(r->engine, b, sync);
    engine_batch_destroy(&b);
    if (rc != ROOST_OK) /* the cache may hold puts the engine never took */
        tailcache_clear(&r->tail);
    if (rc == ROOST_OK) {
        replog_applied(r, &a);
        if (!truncated && last < r->last_lsn) { /* only skips: our longer tail stays */
            last = r->last_lsn;
            last_epoch = r->last_epoch;
        }
        r->last_lsn = last;
        r->last_epoch = last_epoch;
        if (matched)
            *matched = match;
    }
    return rc;
}

static void s_send_ack(roost_ctx_t *ctx, replog_t *r, uint32_t to, const msg_ack_t *m)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msg_ack_t a = *m;
    a.promised = r->promised;
    msg_ack_encode(&out, &a);
    replog_send(ctx, r, to, MSG_LOG_ACK, &out);
    msgpack_sbuffer_destroy(&out);
}

/* Folds an acknowledgement into the one a sync will release (acks are cumulative); a newer
 * one replaces what it cannot fold. */
static void s_hold_ack(held_ack_t *slot, uint32_t to, uint64_t epoch, uint64_t lsn, uint64_t writes)
{
    if (!(slot->set && slot->m.epoch == epoch && slot->to == to && slot->m.lsn >= lsn))
        slot->m = (msg_ack_t){.epoch = epoch, .status = ACK_OK, .lsn = lsn};
    slot->set = true;
    slot->to = to;
    slot->writes = writes;
}

/* Our copy is written but not yet durable: acknowledge once a sync covers the write. The older
 * held ack is not folded into a newer one, so each sync releases what it covered. */
static void s_ack_after_sync(roost_ctx_t *ctx, replog_t *r, const roost_env_t *env, uint64_t epoch,
                             uint64_t lsn)
{
    uint32_t to = replog_sender_node(env);
    if (to == UINT32_MAX)
        return;
    if (r->store->sync == SYNC_NONE) {
        msg_ack_t m = {.epoch = epoch, .status = r->rejoining ? ACK_REJOINING : ACK_OK, .lsn = lsn};
        s_send_ack(ctx, r, to, &m);
        return;
    }
    s_hold_ack(r->ack_ready.set ? &r->ack_wait : &r->ack_ready, to, epoch, lsn,
               engine_writes(r->engine));
    replog_request_sync(ctx, r); /* without a syncer the ack stays held: never sent unsynced */
}

/* Sends the held ack if the (successful) sync covered its write. */
static void s_release(roost_ctx_t *ctx, replog_t *r, held_ack_t *slot, uint64_t covered)
{
    if (slot->set && slot->writes <= covered) {
        s_send_ack(ctx, r, slot->to, &slot->m);
        slot->set = false;
    }
}

void replog_replica_synced(roost_ctx_t *ctx, replog_t *r, sync_done_t done)
{
    if (done.status != ROOST_OK) { /* never acknowledged: the node turns read-only */
        r->ack_ready.set = r->ack_wait.set = false;
        return;
    }
    uint64_t covered = replog_sync_covered(done);
    s_release(ctx, r, &r->ack_ready, covered);
    s_release(ctx, r, &r->ack_wait, covered);
    if (!r->ack_ready.set) {
        r->ack_ready = r->ack_wait;
        r->ack_wait.set = false;
    }
    if (r->ack_ready.set)
        replog_request_sync(ctx, r); /* written after this sync began: the next one */
}

/* Whether this copy committed past the end of the epoch's log, as the primary's appends
 * announce it (the furthest end seen in the epoch: they may arrive out of order). Every entry
 * committed before the epoch is in its log, so such a copy holds history the epoch dropped: a
 * sync: none adoption with rejoining replicas can drop acknowledged writes (docs/store.md). */
static bool s_committed_past_the_primary(replog_t *r, const msg_append_t *m)
{
    if (m->last_lsn == 0) /* not announced: a primary still reconciling, or an older node */
        return false;
    if (r->end_epoch != m->epoch) {
        r->end_epoch = m->epoch;
        r->end_lsn = 0;
    }
    if (m->last_lsn > r->end_lsn)
        r->end_lsn = m->last_lsn;
    return r->commit_lsn > r->end_lsn;
}

/* What it applied cannot be taken back entry by entry: it is replaced whole from the primary. */
static void s_rebuild_diverged(roost_ctx_t *ctx, replog_t *r, const roost_env_t *env,
                               uint64_t epoch, const char *why)
{
    uint32_t from = replog_sender_node(env);
    ROOST_WARN(COMP, "rebuilding a diverged copy from the primary",
               "partition=%u epoch=%llu why=\"%s\"", r->partition, (unsigned long long)epoch, why);
    replog_rebuild_from(ctx, r, from);
    if (r->rebuild_from == from)
        r->rebuild_epoch = epoch;
}

/* The entry an append builds on is one we committed, under another label: the same ops a newer
 * primary re-stamped, or — under sync: none — another history, one a lossy adoption replaced
 * after we had committed it. Only the entries' contents tell, and an append builds on prev
 * unseen: such a copy took the new history's later entries over its own and kept a state no
 * other copy had (sim seed 437). Asked to send from before it, the primary lets the records
 * loop compare the contents: re-stamps take the new label, another history is rebuilt. */
static bool s_relabelled_below_commit(replog_t *r, const msg_append_t *m)
{
    if (m->prev_lsn == 0 || m->prev_lsn > r->commit_lsn || m->prev_lsn < r->first_lsn)
        return false;
    uint64_t mine = s_local_epoch(r, m->prev_lsn);
    return mine != 0 && mine != m->prev_epoch;
}

/* Where the comparison starts: up to REPLOG_RELABEL_BACK entries before prev (a re-stamped run
 * is walked back that many at a time, until an append builds on an entry whose label matches),
 * never before our log. */
static uint64_t s_compare_from(const replog_t *r, uint64_t prev)
{
    return prev > r->first_lsn + REPLOG_RELABEL_BACK ? prev - REPLOG_RELABEL_BACK : r->first_lsn;
}

void replog_on_append(roost_ctx_t *ctx, replog_t *r, roost_env_t *env)
{
    msg_append_t m;
    msg_view_t v;
    if (msg_append_decode(env->payload, env->payload_len, &m, &v) != ROOST_OK) {
        msg_view_fini(&v);
        return;
    }
    if (r->rebuilding) { /* the primary's tick sends again afterwards */
        uint32_t from = replog_sender_node(env);
        if (m.epoch >= r->promised && r->role == ROLE_REPLICA && from != UINT32_MAX) {
            /* a pull cut short (a restart forgets its source) resumes from the leader, which
             * would otherwise wait for an ack that never comes (found by the simulator) */
            replog_rebuild_from(ctx, r, from);
            if (r->rebuild_from == from)
                r->rebuild_epoch = m.epoch;
        }
        msg_view_fini(&v);
        return;
    }
    if (m.epoch < r->promised) { /* a deposed primary: tell it the epoch that replaced it */
        s_ack(ctx, r, env, m.epoch, ACK_REFUSED, r->last_lsn);
        goto out;
    }
    if (replog_persist_promise(r, m.epoch) != ROOST_OK) {
        s_ack(ctx, r, env, m.epoch, ACK_FAILED, 0);
        goto out;
    }
    if (r->rejoining && m.last_lsn && (!r->rejoin_target || r->rejoin_epoch != m.epoch)) {
        /* what it must hold before it counts again: this epoch's commit point. An older
         * epoch's may lie past everything this one will ever hold (the loss window took it),
         * and a copy waiting for it never voted again (sim seed 112 with phones, sync: none:
         * the partition could not commit). Only once the primary has adopted (last_lsn): a
         * reconciling primary's commit point may lie behind writes this copy acknowledged and
         * lost, and a copy counted again on it let the next epoch adopt without a fence —
         * the loss unseen by the actors (sim seed 270, sync: none). */
        r->rejoin_target = m.commit_lsn ? m.commit_lsn : 1;
        r->rejoin_epoch = m.epoch;
    }
    if (s_committed_past_the_primary(r, &m)) {
        /* Nothing the primary sends could name the entries we hold past its end: we stayed
         * ahead and different until its next write (seen reading sim seed 112, sync: none) */
        s_rebuild_diverged(ctx, r, env, m.epoch, "committed past the end of the primary's log");
        goto out;
    }
    if (m.prev_lsn > r->last_lsn ||
        (m.prev_lsn > r->commit_lsn && s_local_epoch(r, m.prev_lsn) != m.prev_epoch)) {
        s_ack(ctx, r, env, m.epoch, ACK_GAP, r->commit_lsn); /* stream me from my commit */
        goto out;
    }
    if (s_relabelled_below_commit(r, &m)) {
        s_ack(ctx, r, env, m.epoch, ACK_GAP, s_compare_from(r, m.prev_lsn) - 1);
        goto out;
    }
    uint64_t matched = 0; /* made durable by the syncer; what the primary had committed when
                           * it sent this, up to the entry this builds on, applied alongside */
    uint64_t known = m.commit_lsn < m.prev_lsn ? m.commit_lsn : m.prev_lsn;
    int rc = replog_store_records(r, &v, false, known, &matched);
    if (rc == ROOST_ESTALE) {
        /* The newer epoch's primary holds another history below our commit point. Refusing
         * forever left this copy diverged for good (sim seed 6 with phones, sync: none). */
        s_rebuild_diverged(ctx, r, env, m.epoch, "a committed entry differs from the primary's");
        goto out;
    }
    if (rc != ROOST_OK) {
        ROOST_WARN(COMP, "append refused", "partition=%u err=%s", r->partition, roost_strerror(rc));
        s_ack(ctx, r, env, m.epoch, rc == ROOST_EIO ? ACK_FAILED : ACK_GAP, r->commit_lsn);
        goto out;
    }
    /* Acknowledge only what is known to equal the primary's log: the entries this message
     * carried (or the matching prefix it built on), never an older epoch's tail beyond it. */
    if (matched < m.prev_lsn)
        matched = m.prev_lsn;
    if (r->rejoining && r->rejoin_target && r->rejoin_epoch == m.epoch &&
        matched >= r->rejoin_target) {
        r->rejoining = false;
        ROOST_INFO(COMP, "rejoined: caught up, voting again", "partition=%u lsn=%llu", r->partition,
                   (unsigned long long)matched);
    }
    uint64_t commit = m.commit_lsn < matched ? m.commit_lsn : matched;
    if (commit > r->commit_lsn) {
        r->commit_lsn = commit;
        replog_apply_to(r, commit);
    }
    s_ack_after_sync(ctx, r, env, m.epoch, matched);
    replog_repair_poll(ctx, r);
out:
    msg_view_fini(&v);
}
