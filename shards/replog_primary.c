/* shards/replog_primary.c — the log actor while it leads its partition: reconciliation on a new
 * epoch, group-committed appends, acknowledgements and commit, catch-up of lagging replicas,
 * stepping down. See replog.h for the protocol. */
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/fault.h"
#include "runtime/log.h"
#include "runtime/util.h"
#include "shards/keys.h"
#include "shards/replog_internal.h"
#include "shards/syncer.h"

static const char *const COMP = "replog";

static int s_self(const replog_t *r)
{
    return replog_replica_index(r, r->self);
}

static void s_try_commit(roost_ctx_t *ctx, replog_t *r);

/* Group commit: replog_flush runs once the pass's actors had their turn (a zero-delay timer). */
static void s_arm_flush(roost_ctx_t *ctx, replog_t *r)
{
    if (!r->flush_armed) {
        roost_ctx_timer_start(ctx, 0, 0, REPLOG_TIMER_FLUSH);
        r->flush_armed = true;
    }
}

/* Entries numbered but never written give their numbers back (the batch is dropped). */
static void s_give_back(replog_t *r)
{
    if (r->gc_count) {
        r->last_lsn = r->gc_prev_lsn;
        r->last_epoch = r->gc_prev_epoch;
        tailcache_forget_from(&r->tail, r->gc_prev_lsn + 1);
        msgpack_sbuffer_clear(&r->gc_records);
        r->gc_count = 0;
    }
    engine_batch_clear(r->gc); /* it may also hold a failed write's apply */
    r->gc_held = false;
}

void replog_step_down(roost_ctx_t *ctx, replog_t *r, const char *why)
{
    s_give_back(r);
    replog_fail_pending(ctx, r, ROOST_EUNAVAIL);
    replog_report(r, 0, 0, false);
    r->nunsynced = 0;
    ROOST_INFO(COMP, "stepping down", "partition=%u epoch=%llu why=\"%s\"", r->partition,
               (unsigned long long)r->epoch, why);
    r->role = ROLE_REPLICA;
}

/* The map made us primary again under a newer epoch (a handoff's switch keeps its primary):
 * entries numbered but not yet written give their numbers back and their requests wait, ahead
 * of the appends that arrive meanwhile, for the new term; written entries stay pending and are
 * answered once the new term has re-replicated and committed them. No client sees an error. */
void replog_relead(replog_t *r)
{
    s_give_back(r);
    pending_t **link = &r->pending, *keep_tail = NULL;
    while (*link && (*link)->lsn <= r->last_lsn) {
        keep_tail = *link;
        link = &(*link)->next;
    }
    pending_t *unwritten = *link;
    *link = NULL;
    r->pending_tail = keep_tail;
    roost_env_t *head = NULL, *last = NULL;
    while (unwritten) {
        pending_t *p = unwritten;
        unwritten = p->next;
        p->req->next = NULL;
        if (last)
            last->next = p->req;
        else
            head = p->req;
        last = p->req;
        r->ndeferred++;
        free(p);
    }
    if (last) { /* ahead of what arrived later */
        last->next = r->deferred;
        if (!r->deferred)
            r->deferred_tail = last;
        r->deferred = head;
    }
}

/* The last entry written to our log (and so sendable): the entries of the open group-commit
 * batch are numbered but not yet written, and a replica cannot hold them yet. */
static uint64_t s_written(const replog_t *r)
{
    return r->gc_count ? r->gc_prev_lsn : r->last_lsn;
}

/* The end of our log as this epoch's history, for the appends to carry; 0 until the adoption
 * (before it our log may lack committed entries a replica holds). A replica that committed
 * past it holds history the epoch dropped (replog_replica.c). */
static uint64_t s_epoch_end(const replog_t *r)
{
    bool adopted = r->role == ROLE_SERVING || (r->role == ROLE_RECONCILING && r->best_node == 0);
    return adopted ? r->last_lsn : 0;
}

/* LOG_APPEND of the written entries [from, s_written] (at most PROTO_RECORDS_MAX) to replica
 * i; entries the log no longer holds make it a rebuild from a snapshot instead. It never names
 * an unwritten entry as prev: the replica would answer GAP for an entry it cannot have yet
 * and fall back to being streamed (found by profiling: the tick's commit-point append did so
 * whenever a batch waited for the sync, which put loaded partitions into catch-up for good). */
static void s_send_append(roost_ctx_t *ctx, replog_t *r, int i, uint64_t from)
{
    if (roost_fault("replog.append_lost")) /* lost on the way (tests) */
        return;
    if (from < r->first_lsn) {
        replog_ask_rebuild(ctx, r, i);
        return;
    }
    uint64_t to = s_written(r);
    if (from > to + 1)
        from = to + 1;
    msgpack_sbuffer recs, out;
    msgpack_sbuffer_init(&recs);
    msgpack_sbuffer_init(&out);
    uint32_t n = from <= to ? replog_collect(r, from, to, &recs) : 0;
    msg_append_t m = {.epoch = r->epoch,
                      .prev_lsn = from - 1,
                      .prev_epoch = replog_epoch_of(r, from - 1),
                      .commit_lsn = r->commit_lsn,
                      .last_lsn = s_epoch_end(r)};
    msg_append_begin(&out, &m, n);
    msgpack_sbuffer_write(&out, recs.data, recs.size);
    msg_append_end(&out, &m);
    replog_send(ctx, r, r->peers[i], MSG_LOG_APPEND, &out);
    r->sent_commit[i] = r->commit_lsn;
    msgpack_sbuffer_destroy(&recs);
    msgpack_sbuffer_destroy(&out);
}

static void s_start_tick(roost_ctx_t *ctx, replog_t *r)
{
    if (!r->ticking) {
        roost_ctx_timer_start(ctx, REPLOG_TICK_MS, REPLOG_TICK_MS, REPLOG_TIMER_TICK);
        r->ticking = true;
    }
}

static void s_send_prepare(roost_ctx_t *ctx, replog_t *r, uint32_t node, uint64_t from)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msg_prepare_t m = {.epoch = r->epoch, .from_lsn = from};
    msg_prepare_encode(&out, &m);
    replog_send(ctx, r, node, MSG_LOG_PREPARE, &out);
    msgpack_sbuffer_destroy(&out);
}

static void s_maybe_adopt(roost_ctx_t *ctx, replog_t *r);

/* Asks for the promises still missing: the current list and, until a handoff settles, the
 * previous one. */
static void s_send_prepares(roost_ctx_t *ctx, replog_t *r)
{
    int me = s_self(r);
    for (uint32_t i = 0; i < r->npeers; i++)
        if ((int)i != me && replog_peer_in(r, i, PEER_CUR | PEER_PREV) && !r->promised_by[i])
            s_send_prepare(ctx, r, r->peers[i], r->recon_from);
}

void replog_become_primary(roost_ctx_t *ctx, replog_t *r)
{
    int me = s_self(r);
    if (me < 0 || replog_persist_promise(r, r->epoch) != ROOST_OK) {
        ROOST_ERROR(COMP, "cannot lead", "partition=%u epoch=%llu", r->partition,
                    (unsigned long long)r->epoch);
        r->role = ROLE_NONE;
        return;
    }
    r->role = ROLE_RECONCILING;
    memset(r->promised_by, 0, sizeof r->promised_by);
    memset(r->acked, 0, sizeof r->acked);
    memset(r->catchup, 0, sizeof r->catchup);
    memset(r->heard, 0, sizeof r->heard);
    memset(r->nonvoting, 0, sizeof r->nonvoting);
    memset(r->rejoin_promise, 0, sizeof r->rejoin_promise);
    r->nunsynced = 0;
    r->nonvoting[me] = r->rejoin_promise[me] = r->rejoining || r->rebuilding; /* nor our own */
    if (r->recon_epoch != r->epoch) {
        r->recon_epoch = r->epoch;
        r->recon_started_ns = roost_ctx_now_ns(ctx);
        r->adopt_lossy = false; /* (kept across a rebuild from a rejoining replica: that pull
                                 * took its history, and the adoption after it must fence it —
                                 * the simulator's seed 34 under sync: none) */
    }
    r->heard[me] = true;
    r->handoff_asked_ns = 0;
    r->promised_by[me] = true;
    r->recon_from = r->commit_lsn + 1;
    r->best_epoch = r->last_epoch;
    r->best_lsn = r->last_lsn;
    r->best_node = r->self;
    r->best_have = r->last_lsn;
    r->best_rebuild = false;
    s_send_prepares(ctx, r);
    s_start_tick(ctx, r);
    s_maybe_adopt(ctx, r);
}

/* Reconciliation, once a quorum has promised — of the current list and, right after a handoff,
 * of the previous list too, whose quorum held every entry acknowledged before it — and the
 * best tail is in our log: drop what lies beyond it, re-stamp everything above the commit
 * point with our epoch (synced), and send it to every replica. Serving starts when a quorum
 * of the current list holds it (s_try_commit). */
/* Whether the promises so far make the quorums; rejoining replicas count only once the grace
 * period is over (then said, as acknowledged writes of the sync: none window may be lost). */
static bool s_promised(roost_ctx_t *ctx, replog_t *r)
{
    bool voting[REPLOG_PEERS_MAX];
    for (uint32_t i = 0; i < r->npeers; i++)
        voting[i] = r->promised_by[i] && !r->rejoin_promise[i];
    if (replog_quorum_of(r, PEER_CUR, voting) && replog_quorum_of(r, PEER_PREV, voting))
        return true;
    bool all = replog_quorum_of(r, PEER_CUR, r->promised_by) &&
               replog_quorum_of(r, PEER_PREV, r->promised_by);
    if (!all || roost_ctx_now_ns(ctx) - r->recon_started_ns < REPLOG_REJOIN_GRACE_MS * 1000000ull)
        return false;
    r->adopt_lossy = true;
    ROOST_WARN(COMP, "adopting with rejoining replicas in the quorum",
               "partition=%u epoch=%llu why=\"too few voting promises: replicas down or back "
               "from an unclean stop under sync: none; writes of its loss window may be gone\"",
               r->partition, (unsigned long long)r->epoch);
    return true;
}

static void s_maybe_adopt(roost_ctx_t *ctx, replog_t *r)
{
    if (r->role != ROLE_RECONCILING || r->best_node == 0 /* adopted already */ || r->rebuilding)
        return;
    if (r->best_rebuild) { /* once its promise may count: its snapshot, then reconcile again */
        if (s_promised(ctx, r))
            replog_rebuild_from(ctx, r, r->best_node);
        return;
    }
    if (r->best_have < r->best_lsn || !s_promised(ctx, r))
        return;
    /* While we waited, replicas holding our tail may have acknowledged it: what is committed
     * now is neither re-stamped nor sent again, and may already be cut from our log (found by
     * the simulator: seed 376 with phones, sync: none, read its cut entries and stepped down
     * for good). */
    if (r->commit_lsn + 1 > r->recon_from)
        r->recon_from = r->commit_lsn + 1;
    engine_batch_t *b = engine_batch_new();
    uint8_t lo[KEY_LOG_BYTES], hi[KEY_PREFIX_BYTES];
    key_log(lo, r->partition, r->best_lsn + 1);
    key_prefix(hi, r->partition, KEY_TABLE_LOG + 1);
    engine_batch_delete_range(b, lo, sizeof lo, hi, sizeof hi);
    msgpack_sbuffer rec;
    msgpack_sbuffer_init(&rec);
    int rc = ROOST_OK;
    if (r->adopt_lossy) /* before the loop: its entries are read back from the engine */
        replog_put_fence(r, b, r->best_lsn + 1, &rec);
    for (uint64_t lsn = r->recon_from; lsn <= r->best_lsn - r->adopt_lossy && rc == ROOST_OK;
         lsn++) {
        void *old;
        size_t len;
        log_entry_t e;
        rc = replog_read_entry(r, lsn, &old, &len, &e);
        if (rc != ROOST_OK)
            break;
        msgpack_sbuffer_clear(&rec);
        entry_encode(&rec, r->epoch, lsn, e.ops, e.ops_len);
        uint8_t key[KEY_LOG_BYTES];
        key_log(key, r->partition, lsn);
        engine_batch_put(b, key, sizeof key, rec.data, rec.size);
        free(old);
    }
    if (rc == ROOST_OK)
        rc = engine_write(r->engine, b, true);
    tailcache_clear(&r->tail); /* re-stamped (or, on failure, unknown): read it back */
    msgpack_sbuffer_destroy(&rec);
    engine_batch_destroy(&b);
    if (rc != ROOST_OK) {
        replog_step_down(ctx, r, "cannot rewrite the adopted tail");
        r->role = ROLE_NONE;
        return;
    }
    r->last_lsn = r->best_lsn;
    if (r->best_lsn >= r->recon_from)
        r->last_epoch = r->epoch;
    r->acked[s_self(r)] = r->last_lsn;
    uint32_t source = r->best_node;
    r->best_node = 0; /* adoption done: our log is the epoch's (s_epoch_end) */
    for (uint32_t i = 0; i < r->npeers; i++) {
        if ((int)i == s_self(r) || !replog_peer_in(r, i, PEER_CUR | PEER_NEXT))
            continue;
        r->catchup[i] = true;
        s_send_append(ctx, r, (int)i, r->recon_from);
    }
    ROOST_INFO(COMP, "reconciled", "partition=%u epoch=%llu from=%llu to=%llu source=%u",
               r->partition, (unsigned long long)r->epoch, (unsigned long long)r->recon_from,
               (unsigned long long)r->last_lsn, source);
    if (r->last_lsn < r->recon_from)
        replog_start_serving(ctx, r);
    else /* our own synced copy counts: with RF 1 (or consistency ONE) nothing else would */
        s_try_commit(ctx, r);
}

void replog_on_promise(roost_ctx_t *ctx, replog_t *r, roost_env_t *env)
{
    msg_promise_t m;
    msg_view_t v;
    int idx = replog_replica_index(r, replog_sender_node(env));
    if (msg_promise_decode(env->payload, env->payload_len, &m, &v) != ROOST_OK || idx < 0 ||
        !replog_peer_in(r, (uint32_t)idx, PEER_CUR | PEER_PREV) || r->role != ROLE_RECONCILING ||
        m.epoch != r->epoch || r->best_node == 0) {
        msg_view_fini(&v);
        return;
    }
    if (!m.ok) {
        msg_view_fini(&v);
        if (m.promised > r->epoch)
            replog_step_down(ctx, r, "a replica promised a newer epoch");
        return;
    }
    r->promised_by[idx] = true;
    r->nonvoting[idx] = r->rejoin_promise[idx] = m.rejoining;
    uint32_t node = r->peers[idx];
    if (r->rebuilding && !r->rebuild_from && m.last_lsn) {
        /* our copy was wiped by a pull a restart cut short, and nobody else will tell us a
         * source: we lead. Pull from this promiser (rejoining or not: the reconciliation after
         * counts promises as ever, and fences what a rejoining one's copy may lack), then
         * reconcile again. Before, the partition waited for the rebuild forever (sim seed
         * 1210, sync: none). */
        msg_view_fini(&v);
        replog_rebuild_from(ctx, r, node);
        return;
    }
    /* A tail shorter than what we know is committed cannot be the newer log (every later
     * epoch's log holds every committed entry): never adopt one, whatever its epoch says. */
    bool better = m.last_lsn >= r->commit_lsn &&
                  (m.last_epoch > r->best_epoch ||
                   (m.last_epoch == r->best_epoch && m.last_lsn > r->best_lsn));
    /* It truncated what we lack: if its log is the better one, ours cannot be completed by
     * entries, only rebuilt. A worse log truncated is no reason: rebuilding from it would throw
     * away newer epochs' entries our own log holds — committed ones, if the replica that
     * committed them with us is down (found reading the code for the simulator's seed 1127). */
    bool truncated = m.first_lsn > r->recon_from && m.last_lsn >= r->recon_from;
    if (truncated && !m.rejoining && better) {
        msg_view_fini(&v);
        replog_rebuild_from(ctx, r, node);
        return;
    }
    if (truncated && (better || node == r->best_node) && node != r->self) {
        /* rejoining: it may count only as s_promised allows (s_maybe_adopt decides). Found
         * by the simulator (seed 50, sync: none): with every replica back from a power loss,
         * the best log had been cut past the new primary's empty one, and the primary asked
         * it for entries it no longer held, forever. */
        r->best_epoch = m.last_epoch;
        r->best_lsn = m.last_lsn;
        r->best_node = node;
        r->best_rebuild = true;
    } else if ((better || node == r->best_node) && node != r->self) {
        r->best_rebuild = false;
        uint64_t before = r->last_lsn;
        if (replog_store_records(r, &v, false, 0, NULL) == ROOST_OK) {
            r->best_epoch = m.last_epoch;
            r->best_lsn = m.last_lsn;
            r->best_node = node;
            r->best_have = v.nrecords ? r->last_lsn : (before < m.last_lsn ? before : m.last_lsn);
            if (r->best_have < r->best_lsn) /* a long tail comes in rounds */
                s_send_prepare(ctx, r, node, r->best_have + 1);
        }
    }
    msg_view_fini(&v);
    s_maybe_adopt(ctx, r);
}

/* MSG_STORE_APPENDED [lsn] */
static void s_reply_lsn(roost_ctx_t *ctx, const roost_env_t *req, uint64_t lsn)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &out, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint64(&pk, lsn);
    roost_ctx_reply(ctx, req, MSG_STORE_APPENDED, out.data, out.size);
    msgpack_sbuffer_destroy(&out);
}

static void s_answer_committed(roost_ctx_t *ctx, replog_t *r)
{
    while (r->pending && r->pending->lsn <= r->commit_lsn) {
        pending_t *p = r->pending;
        if (p->req->type == MSG_STORE_OPEN && p->lsn > r->applied_lsn)
            break; /* a barrier promises applied state: wait for the repair */
        r->pending = p->next;
        if (p->req->type == MSG_STORE_APPEND)
            metrics_histogram_record(r->store->commit_us,
                                     (roost_ctx_now_ns(ctx) - p->at_ns) / 1000u);
        s_reply_lsn(ctx, p->req, p->lsn);
        roost_env_free(p->req);
        free(p);
        atomic_fetch_add_explicit(&r->store->stats.commits, 1, memory_order_relaxed);
    }
    if (!r->pending)
        r->pending_tail = NULL;
}

/* The commit point is the highest lsn that store_acks_needed() replicas of the current list
 * hold durably (a handoff's new replicas never count until the list is theirs). */
static void s_try_commit(roost_ctx_t *ctx, replog_t *r)
{
    uint64_t sorted[REPLOG_PEERS_MAX];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->npeers; i++)
        if (replog_peer_in(r, i, PEER_CUR)) /* a rejoining copy holds but does not count */
            sorted[n++] = r->nonvoting[i] ? 0 : r->acked[i];
    if (n == 0)
        return;
    for (uint32_t i = 1; i < n; i++) /* descending insertion sort: n <= 5 */
        for (uint32_t j = i; j > 0 && sorted[j] > sorted[j - 1]; j--) {
            uint64_t t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    /* (a planted bug for the simulator to catch: acknowledging at the first durable copy) */
    uint32_t need = roost_fault("replog.plant_ack_one") ? 1 : store_acks_needed(r->store);
    if (need > n)
        need = n;
    uint64_t candidate = sorted[need - 1];
    if (candidate > r->commit_lsn) {
        r->commit_lsn = candidate;
        if (r->role == ROLE_SERVING) {
            s_arm_flush(ctx, r); /* applied and answered in the pass's one write (replog_flush) */
            return;
        }
        int rc = replog_apply_to(r, candidate);
        if (rc == ROOST_EPROTO) { /* a corrupt entry: applied after its repair */
            replog_repair_poll(ctx, r);
        } else if (rc != ROOST_OK) {
            replog_step_down(ctx, r, "cannot apply committed entries");
            r->role = ROLE_NONE;
            return;
        }
        s_answer_committed(ctx, r);
    }
    /* Adopted, and a quorum holds all of it: serve. The commit point can get there before the
     * adoption: replicas that hold our tail from the previous epoch (a handoff that kept us as
     * primary) acknowledge it in the new one as soon as they have promised. Found by the
     * simulator: waiting for the commit point to move again left the partition reconciling
     * for good. */
    if (r->role == ROLE_RECONCILING && r->commit_lsn >= r->last_lsn && r->best_node == 0)
        replog_start_serving(ctx, r);
}

void replog_on_ack(roost_ctx_t *ctx, replog_t *r, roost_env_t *env)
{
    msg_ack_t m;
    int idx = replog_replica_index(r, replog_sender_node(env));
    if (msg_ack_decode(env->payload, env->payload_len, &m) != ROOST_OK || idx < 0 ||
        m.epoch != r->epoch || (r->role != ROLE_SERVING && r->role != ROLE_RECONCILING))
        return;
    if (m.status == ACK_REFUSED) {
        if (m.promised > r->epoch)
            replog_step_down(ctx, r, "refused with a newer epoch");
        return;
    }
    r->heard[idx] = true;
    if (m.status == ACK_GAP) { /* behind or diverged: m.lsn is its commit point, which
                                * matches ours; stream from there */
        r->catchup[idx] = true;
        if (m.lsn > r->acked[idx] && m.lsn <= r->commit_lsn)
            r->acked[idx] = m.lsn;
        s_send_append(ctx, r, idx, m.lsn + 1);
        return;
    }
    if (m.status != ACK_OK && m.status != ACK_REJOINING)
        return; /* its disk failed: it cannot count toward a quorum */
    r->nonvoting[idx] = m.status == ACK_REJOINING;
    uint64_t before = r->acked[idx];
    if (m.lsn > r->acked[idx])
        r->acked[idx] = m.lsn > r->last_lsn ? r->last_lsn : m.lsn;
    if (r->catchup[idx] && r->acked[idx] < s_written(r)) {
        if (r->acked[idx] > before) /* progress: stream the next chunk now; else the tick */
            s_send_append(ctx, r, idx, r->acked[idx] + 1);
    } else {
        r->catchup[idx] = false;
    }
    s_try_commit(ctx, r);
}

static void s_disk_failed(roost_ctx_t *ctx, replog_t *r, int rc)
{
    ROOST_ERROR(COMP, "log write failed: partition read-only", "partition=%u err=%s", r->partition,
                roost_strerror(rc));
    replog_step_down(ctx, r, "disk refused a write");
    r->role = ROLE_NONE; /* never acknowledge what the disk refused; stop taking writes */
}

/* Remembers a written batch until a sync answer covers it; past REPLOG_UNSYNCED_MAX batches the
 * newest two merge (the later count covers both: never early, at worst one sync late). */
static void s_note_unsynced(replog_t *r, uint64_t writes, uint64_t lsn)
{
    if (r->nunsynced == REPLOG_UNSYNCED_MAX)
        r->nunsynced--;
    r->unsynced[r->nunsynced++] = (unsynced_t){.writes = writes, .lsn = lsn};
}

/* The last lsn of the batches the answer covered (0: none), forgetting them. */
static uint64_t s_take_synced(replog_t *r, uint64_t covered)
{
    uint32_t n = 0;
    while (n < r->nunsynced && r->unsynced[n].writes <= covered)
        n++;
    uint64_t upto = n ? r->unsynced[n - 1].lsn : 0;
    memmove(r->unsynced, r->unsynced + n, (r->nunsynced - n) * sizeof r->unsynced[0]);
    r->nunsynced -= n;
    return upto;
}

/* Sends the batch just written to the replicas at once — their fsyncs run alongside ours — and
 * asks the node's syncer to make our copy durable. */
static void s_ship(roost_ctx_t *ctx, replog_t *r)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    msg_append_t m = {.epoch = r->epoch,
                      .prev_lsn = r->gc_prev_lsn,
                      .prev_epoch = r->gc_prev_epoch,
                      .commit_lsn = r->commit_lsn,
                      .last_lsn = s_epoch_end(r)};
    msg_append_begin(&out, &m, r->gc_count);
    msgpack_sbuffer_write(&out, r->gc_records.data, r->gc_records.size);
    msg_append_end(&out, &m);
    int me = s_self(r);
    for (uint32_t i = 0; i < r->npeers; i++) {
        if ((int)i == me || r->catchup[i] || !replog_peer_in(r, i, PEER_CUR | PEER_NEXT))
            continue; /* a catching-up replica gets the entries in order from its stream */
        replog_send(ctx, r, r->peers[i], MSG_LOG_APPEND, &out);
        r->sent_commit[i] = r->commit_lsn;
    }
    msgpack_sbuffer_destroy(&out);
    engine_batch_clear(r->gc);
    msgpack_sbuffer_clear(&r->gc_records);
    r->gc_count = 0;
    r->write_upto = r->last_lsn;
    if (r->store->sync == SYNC_NONE) {
        replog_primary_synced(ctx, r, (sync_done_t){.status = ROOST_OK});
        return;
    }
    s_note_unsynced(r, engine_writes(r->engine), r->last_lsn);
    if (replog_request_sync(ctx, r) != ROOST_OK)
        s_disk_failed(ctx, r, ROOST_EUNAVAIL);
}

/* One engine write for what the pass brought: the queued entries (unsynced, even while an
 * earlier batch's sync is outstanding: that sync may cover them, and the replicas need not
 * wait for it) and the effect of the entries committed since the last write. Then the entries are
 * shipped and what committed is answered: applied first, so whoever is answered reads its own
 * write. */
void replog_flush(roost_ctx_t *ctx, replog_t *r)
{
    r->flush_armed = false;
    if (r->role != ROLE_SERVING)
        return;
    bool entries = r->gc_count > 0 && !r->gc_held;
    engine_batch_t *b = entries ? r->gc : engine_batch_new();
    replog_apply_t a;
    int arc = replog_apply_add(r, b, r->commit_lsn, &a);
    int rc = engine_batch_count(b) ? engine_write(r->engine, b, false) : ROOST_OK;
    if (!entries)
        engine_batch_destroy(&b);
    else
        atomic_fetch_add_explicit(&r->store->stats.entries_written, r->gc_count,
                                  memory_order_relaxed);
    if (rc != ROOST_OK) {
        s_disk_failed(ctx, r, rc);
        return;
    }
    replog_applied(r, &a);
    if (entries)
        s_ship(ctx, r);
    if (arc == ROOST_EPROTO) { /* a corrupt entry: applied after its repair */
        replog_repair_poll(ctx, r);
    } else if (arc != ROOST_OK) {
        replog_step_down(ctx, r, "cannot apply committed entries");
        r->role = ROLE_NONE;
        return;
    }
    if (r->role == ROLE_SERVING)
        s_answer_committed(ctx, r);
}

void replog_primary_synced(roost_ctx_t *ctx, replog_t *r, sync_done_t done)
{
    if (r->role != ROLE_SERVING) {
        r->nunsynced = 0; /* a new term re-stamps its tail with a synced write */
        return;
    }
    if (done.status != ROOST_OK) {
        s_disk_failed(ctx, r, done.status);
        return;
    }
    int me = s_self(r);
    uint64_t upto =
        r->store->sync == SYNC_NONE ? r->write_upto : s_take_synced(r, replog_sync_covered(done));
    if (me >= 0 && upto > r->acked[me])
        r->acked[me] = upto;
    s_try_commit(ctx, r);
    if (r->nunsynced && r->role == ROLE_SERVING && replog_request_sync(ctx, r) != ROOST_OK)
        s_disk_failed(ctx, r, ROOST_EUNAVAIL); /* written after the sync began: the next one */
}

void replog_start_serving(roost_ctx_t *ctx, replog_t *r)
{
    r->role = ROLE_SERVING;
    if (r->rejoining) { /* it now holds what a quorum holds: caught up */
        r->rejoining = false;
        int me = s_self(r);
        if (me >= 0)
            r->nonvoting[me] = false;
    }
    ROOST_DEBUG(COMP, "serving", "partition=%u epoch=%llu lsn=%llu", r->partition,
                (unsigned long long)r->epoch, (unsigned long long)r->last_lsn);
    if (r->store->serving_hook) {
        char key[ROOST_KEY_BYTES_MAX + 1];
        if (roost_key_make_local(key, sizeof key, r->self, r->partition, r->store->serving_hook,
                                 NULL) == ROOST_OK)
            roost_ctx_send(ctx, key, MSG_STORE_SERVING, NULL, 0);
    }
    roost_env_t *env = r->deferred;
    r->deferred = r->deferred_tail = NULL;
    r->ndeferred = 0;
    while (env) {
        roost_env_t *next = env->next;
        replog_append_kept(ctx, r, env);
        env = next;
    }
}

/* Holds an append that arrived while reconciling (takes the envelope). */
static void s_defer(roost_ctx_t *ctx, replog_t *r)
{
    roost_env_t *env = roost_ctx_keep(ctx);
    env->next = NULL;
    if (r->deferred_tail)
        r->deferred_tail->next = env;
    else
        r->deferred = env;
    r->deferred_tail = env;
    r->ndeferred++;
}

void replog_on_append_request(roost_ctx_t *ctx, replog_t *r, roost_env_t *env)
{
    if (!(env->flags & ROOST_ENV_REQUEST))
        return;
    if (r->role == ROLE_RECONCILING && r->ndeferred < REPLOG_DEFERRED_MAX) {
        s_defer(ctx, r);
        return;
    }
    replog_append_kept(ctx, r, roost_ctx_keep(ctx));
}

static void s_add_pending(roost_ctx_t *ctx, replog_t *r, uint64_t lsn, roost_env_t *env)
{
    pending_t *p = roost_xcalloc(1, sizeof *p);
    p->lsn = lsn;
    p->at_ns = roost_ctx_now_ns(ctx);
    p->req = env;
    if (r->pending_tail)
        r->pending_tail->next = p;
    else
        r->pending = p;
    r->pending_tail = p;
}

/* STORE_OPEN: answered once every entry appended so far is committed and applied. */
static void s_barrier(roost_ctx_t *ctx, replog_t *r, roost_env_t *env)
{
    if (!r->pending && r->applied_lsn >= r->last_lsn) {
        s_reply_lsn(ctx, env, r->last_lsn);
        roost_env_free(env);
        return;
    }
    s_add_pending(ctx, r, r->last_lsn, env);
}

void replog_append_kept(roost_ctx_t *ctx, replog_t *r, roost_env_t *env)
{
    if (r->role != ROLE_SERVING) {
        roost_ctx_reply_error(ctx, env, ROOST_EUNAVAIL);
        roost_env_free(env);
        return;
    }
    if (env->type == MSG_STORE_OPEN) {
        s_barrier(ctx, r, env);
        return;
    }
    store_ops_view_t v;
    int rc = store_ops_view_init(&v, env->payload, env->payload_len);
    store_ops_view_fini(&v);
    if (rc != ROOST_OK) {
        roost_ctx_reply_error(ctx, env, ROOST_EINVAL);
        roost_env_free(env);
        return;
    }
    if (r->gc_count == 0) {
        r->gc_prev_lsn = r->last_lsn;
        r->gc_prev_epoch = r->last_epoch;
    }
    uint64_t lsn = ++r->last_lsn;
    r->last_epoch = r->epoch;
    msgpack_sbuffer rec;
    msgpack_sbuffer_init(&rec);
    entry_encode(&rec, r->epoch, lsn, env->payload, env->payload_len);
    uint8_t key[KEY_LOG_BYTES];
    key_log(key, r->partition, lsn);
    engine_batch_put(r->gc, key, sizeof key, rec.data, rec.size);
    tailcache_put(&r->tail, lsn, rec.data, rec.size);
    msg_record_append(&r->gc_records, rec.data, rec.size);
    msgpack_sbuffer_destroy(&rec);
    r->gc_count++;
    s_add_pending(ctx, r, lsn, env);
    atomic_fetch_add_explicit(&r->store->stats.appends, 1, memory_order_relaxed);
    if (r->store->sync == SYNC_ALWAYS || r->gc_count >= PROTO_RECORDS_MAX) {
        r->gc_held = false;
        replog_flush(ctx, r);
    } else if (roost_fault("replog.hold_flush")) {
        r->gc_held = true; /* as if the pass were still going: entries numbered, not written */
    } else { /* group commit: everything this pass brings shares one write and one sync */
        r->gc_held = false;
        s_arm_flush(ctx, r);
    }
}

/* Every REPLOG_TICK_MS while leading: repeat what may have been lost — prepares not yet
 * promised, entries a peer has not acknowledged since the last tick (stalled, not merely
 * in flight), the commit point to peers that have not heard it, and a first append to a new
 * replica never heard from — and move a handoff along. */
void replog_tick(roost_ctx_t *ctx, replog_t *r)
{
    if (r->role != ROLE_SERVING && r->role != ROLE_RECONCILING)
        return;
    if (r->rebuilding) { /* the pull retries itself; a primary with no source yet asks again
                          * for the promise that names one (sim seed 615: it waited forever) */
        if (r->role == ROLE_RECONCILING && !r->rebuild_from)
            s_send_prepares(ctx, r);
        return;
    }
    if (r->role == ROLE_RECONCILING)
        s_maybe_adopt(ctx, r); /* the rejoin grace may have run out */
    replog_repair_poll(ctx, r);
    if (r->applied_lsn < r->commit_lsn && !r->corrupt_lsn)
        replog_apply_to(r, r->commit_lsn);
    int me = s_self(r);
    uint64_t behind = 0, hints = 0;
    for (uint32_t i = 0; i < r->npeers; i++) {
        if ((int)i == me)
            continue;
        bool votes = replog_peer_in(r, i, PEER_CUR | PEER_PREV);
        bool fed = replog_peer_in(r, i, PEER_CUR | PEER_NEXT);
        uint64_t lacks = r->last_lsn - r->acked[i];
        if (r->role == ROLE_SERVING && replog_peer_in(r, i, PEER_CUR) && lacks > behind)
            behind = lacks;
        if (r->role == ROLE_SERVING && fed)
            hints += lacks;
        bool stalled = r->acked[i] < s_written(r) && r->acked[i] == r->acked_at_tick[i];
        r->acked_at_tick[i] = r->acked[i];
        bool adopted = r->best_node == 0;
        if (r->role == ROLE_RECONCILING && votes && !r->promised_by[i] && !adopted)
            s_send_prepare(ctx, r, r->peers[i], r->recon_from);
        else if (r->role == ROLE_RECONCILING && r->best_node == r->peers[i])
            s_send_prepare(ctx, r, r->peers[i], r->best_have + 1);
        else if (!fed)
            continue;
        else if (r->role == ROLE_RECONCILING && !r->heard[i])
            /* adopted without it: a promise is no use now, entries are (its gap answer
             * streams it from its commit point). Asking it to promise instead, forever, left
             * a primary that needed its acks reconciling for good (sim seed 10, sync: none) */
            s_send_append(ctx, r, (int)i, r->recon_from);
        else if (stalled && r->acked[i] <= r->applied_lsn && roost_fault("replog.rebuild_early"))
            replog_ask_rebuild(ctx, r, (int)i); /* the snapshot covers all it acknowledged */
        else if (stalled || !r->heard[i])
            s_send_append(ctx, r, (int)i, r->acked[i] + 1);
        else if (r->sent_commit[i] < r->commit_lsn && !r->catchup[i])
            s_send_append(ctx, r, (int)i, s_written(r) + 1); /* no entries: the commit point */
    }
    replog_report(r, behind, hints,
                  replog_count(r, PEER_NEXT, NULL) > 0 || replog_count(r, PEER_PREV, NULL) > 0);
    replog_handoff_poll(ctx, r);
}
