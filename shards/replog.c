/* shards/replog.c — the log actor's activation (state loaded from the engine), message
 * dispatch, and the helpers both roles use: durable promises, reading entries, applying
 * committed entries to the state table, collecting records to ship. See replog.h. */
#include "shards/replog_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/util.h"
#include "shards/keys.h"
#include "shards/ops.h"
#include "shards/syncer.h"

static const char *const COMP = "replog";

int replog_key(char *out, size_t cap, uint32_t node, uint32_t partition)
{
    return roost_key_make_local(out, cap, node, partition, "log", NULL);
}

bool replog_holds_copy(engine_t *engine, uint32_t partition)
{
    uint8_t lo[KEY_PREFIX_BYTES], hi[KEY_PREFIX_BYTES];
    key_prefix(lo, partition, KEY_TABLE_LOG);
    key_prefix(hi, partition, KEY_TABLE_LOG + 1);
    void *key = NULL;
    size_t len;
    bool found = engine_last_key(engine, lo, sizeof lo, hi, sizeof hi, &key, &len) == ROOST_OK;
    free(key);
    return found;
}

uint32_t replog_sender_node(const roost_env_t *env)
{
    roost_local_key_t lk;
    return roost_key_parse_local(env->sender, env->sender_len, &lk) ? lk.node : UINT32_MAX;
}

int replog_replica_index(const replog_t *r, uint32_t node)
{
    for (uint32_t i = 0; i < r->npeers; i++)
        if (r->peers[i] == node)
            return (int)i;
    return -1;
}

static uint64_t s_meta(replog_t *r, uint8_t field)
{
    uint8_t key[KEY_META_BYTES];
    key_meta(key, r->partition, field);
    void *val;
    size_t len;
    uint64_t v = 0;
    if (engine_get(r->engine, key, sizeof key, &val, &len) == ROOST_OK) {
        if (len == 8)
            v = key_get_be64(val);
        free(val);
    }
    return v;
}

static void s_put_meta(engine_batch_t *b, uint32_t partition, uint8_t field, uint64_t v)
{
    uint8_t key[KEY_META_BYTES], val[8];
    key_meta(key, partition, field);
    key_be64(val, v);
    engine_batch_put(b, key, sizeof key, val, sizeof val);
}

int replog_persist_promise(replog_t *r, uint64_t epoch)
{
    if (epoch <= r->promised)
        return ROOST_OK;
    engine_batch_t *b = engine_batch_new();
    s_put_meta(b, r->partition, KEY_META_PROMISED, epoch);
    int rc = engine_write(r->engine, b, true); /* promises are always synced */
    engine_batch_destroy(&b);
    if (rc == ROOST_OK)
        r->promised = epoch;
    return rc;
}

int replog_read_entry(replog_t *r, uint64_t lsn, void **rec, size_t *len, log_entry_t *e)
{
    uint8_t key[KEY_LOG_BYTES];
    key_log(key, r->partition, lsn);
    int rc = engine_get(r->engine, key, sizeof key, rec, len);
    if (rc != ROOST_OK)
        return rc;
    if (entry_decode(*rec, *len, e) != ROOST_OK || e->lsn != lsn) {
        atomic_fetch_add(&r->store->stats.corrupt, 1);
        if (!r->corrupt_lsn || lsn < r->corrupt_lsn) { /* logged once per detection */
            r->corrupt_lsn = lsn;                      /* replog_repair_poll fetches a good copy */
            ROOST_ERROR(COMP, "corrupt log entry", "partition=%u lsn=%llu", r->partition,
                        (unsigned long long)lsn);
        }
        free(*rec);
        *rec = NULL;
        return ROOST_EPROTO;
    }
    return ROOST_OK;
}

int replog_entry(replog_t *r, uint64_t lsn, void **owned, log_entry_t *e)
{
    size_t len;
    const void *rec = lsn >= r->first_lsn ? tailcache_get(&r->tail, lsn, &len) : NULL;
    *owned = NULL;
    if (rec && entry_decode(rec, len, e) == ROOST_OK && e->lsn == lsn)
        return ROOST_OK;
    return replog_read_entry(r, lsn, owned, &len, e); /* not cached (or not as expected) */
}

uint64_t replog_epoch_of(replog_t *r, uint64_t lsn)
{
    if (lsn == 0)
        return 0;
    if (lsn + 1 == r->first_lsn)
        return r->first_epoch;
    void *rec;
    log_entry_t e;
    if (lsn < r->first_lsn || replog_entry(r, lsn, &rec, &e) != ROOST_OK)
        return 0;
    free(rec);
    return e.epoch;
}

/* Loads the durable state: promise, applied point, the retained range, and the last entry of
 * the log. A rebuild cut short by a stop is resumed (from scratch) by whoever asks next. */
static int s_load(replog_t *r)
{
    r->promised = s_meta(r, KEY_META_PROMISED);
    r->applied_lsn = s_meta(r, KEY_META_APPLIED);
    r->commit_lsn = r->applied_lsn;
    r->first_lsn = s_meta(r, KEY_META_FIRST);
    if (r->first_lsn == 0)
        r->first_lsn = 1;
    r->first_epoch = s_meta(r, KEY_META_FIRST_EPOCH);
    r->rebuilding = s_meta(r, KEY_META_REBUILDING) != 0;
    uint8_t lo[KEY_PREFIX_BYTES], hi[KEY_PREFIX_BYTES];
    key_prefix(lo, r->partition, KEY_TABLE_LOG);
    key_prefix(hi, r->partition, KEY_TABLE_LOG + 1);
    void *key;
    size_t klen;
    int rc = engine_last_key(r->engine, lo, sizeof lo, hi, sizeof hi, &key, &klen);
    if (rc != ROOST_OK && rc != ROOST_ENOTFOUND)
        return rc;
    uint64_t lsn = 0;
    if (rc == ROOST_OK) {
        lsn = klen == KEY_LOG_BYTES ? key_get_be64((uint8_t *)key + KEY_PREFIX_BYTES) : 0;
        free(key);
    }
    /* A corrupt tail entry is treated as missing: the primary sends it again (GAP). */
    for (; lsn > r->commit_lsn; lsn--) {
        void *rec;
        size_t len;
        log_entry_t e;
        if (replog_read_entry(r, lsn, &rec, &len, &e) == ROOST_OK) {
            r->last_lsn = lsn;
            r->last_epoch = e.epoch;
            free(rec);
            return ROOST_OK;
        }
    }
    /* Everything above the applied point was unreadable, or there was nothing above it: the
     * last entry is the applied one, and its epoch must be known — a new primary compares
     * tails by (last epoch, length), and an epoch of 0 would make any replica's shorter tail
     * look newer and cost committed entries. */
    r->last_lsn = r->commit_lsn;
    r->last_epoch = replog_epoch_of(r, r->last_lsn);
    return ROOST_OK;
}

/* Where the log may be cut (entries <= it dropped) once `applied` is applied: log_keep behind
 * it; a primary also holds what a lagging replica still needs (up to log_hold_max behind), and
 * every node holds what a snapshot it serves will replay. 0: nothing to cut. */
static uint64_t s_cut_point(replog_t *r, uint64_t applied, uint64_t now_ns)
{
    const store_t *st = r->store;
    uint64_t keep = st->log_keep ? st->log_keep : STORE_LOG_KEEP_DEFAULT;
    uint64_t hold = st->log_hold_max ? st->log_hold_max : STORE_LOG_HOLD_MAX_DEFAULT;
    if (applied <= keep)
        return 0;
    uint64_t cut = applied - keep;
    bool leading = r->role == ROLE_SERVING || r->role == ROLE_RECONCILING;
    for (uint32_t i = 0; leading && i < r->npeers; i++)
        if (r->peers[i] != r->self && replog_peer_in(r, i, PEER_CUR | PEER_NEXT) &&
            r->acked[i] < cut && applied - r->acked[i] <= hold)
            cut = r->acked[i];
    uint64_t pinned = replog_pinned(r, now_ns);
    return pinned < cut ? pinned : cut;
}

/* Adds the cut of the log up to the cut point to b (when worth it); returns the cut (0: none)
 * and that entry's epoch, which the log keeps knowing (prev_epoch checks at the boundary). */
static uint64_t s_truncate(replog_t *r, engine_batch_t *b, uint64_t applied, uint64_t *epoch)
{
    uint64_t keep = r->store->log_keep ? r->store->log_keep : STORE_LOG_KEEP_DEFAULT;
    uint64_t step = keep < REPLOG_TRUNC_STEP ? keep : REPLOG_TRUNC_STEP;
    uint64_t cut = s_cut_point(r, applied, r->now_ns);
    if (cut < r->first_lsn || cut - r->first_lsn + 1 < (step ? step : 1))
        return 0;
    *epoch = replog_epoch_of(r, cut);
    if (*epoch == 0)
        return 0; /* unreadable: keep it (the repair path needs it) */
    uint8_t lo[KEY_LOG_BYTES], hi[KEY_LOG_BYTES];
    key_log(lo, r->partition, r->first_lsn);
    key_log(hi, r->partition, cut + 1);
    engine_batch_delete_range(b, lo, sizeof lo, hi, sizeof hi);
    s_put_meta(b, r->partition, KEY_META_FIRST, cut + 1);
    s_put_meta(b, r->partition, KEY_META_FIRST_EPOCH, *epoch);
    return cut;
}

/* Adds committed entry n's puts and deletes to b (nothing if it is unreadable or corrupt). */
static int s_apply_entry(replog_t *r, engine_batch_t *b, uint64_t n)
{
    void *rec;
    log_entry_t e;
    int rc = replog_entry(r, n, &rec, &e);
    if (rc != ROOST_OK)
        return rc;
    store_ops_view_t v;
    store_op_t op;
    rc = store_ops_view_init(&v, e.ops, e.ops_len); /* checks the whole batch first */
    while (rc == ROOST_OK && store_ops_view_next(&v, &op)) {
        uint8_t key[KEY_BYTES_MAX];
        size_t klen = key_state(key, r->partition, op.key, op.klen);
        if (op.kind == OP_PUT)
            engine_batch_put(b, key, klen, op.val, op.vlen);
        else
            engine_batch_delete(b, key, klen);
    }
    store_ops_view_fini(&v);
    free(rec);
    return rc;
}

int replog_apply_add(replog_t *r, engine_batch_t *b, uint64_t lsn, replog_apply_t *a)
{
    *a = (replog_apply_t){.upto = r->applied_lsn};
    int rc = ROOST_OK;
    for (uint64_t n = r->applied_lsn + 1; n <= lsn && rc == ROOST_OK; n++) {
        rc = s_apply_entry(r, b, n);
        if (rc == ROOST_OK)
            a->upto = n;
    }
    if (a->upto > r->applied_lsn) {
        s_put_meta(b, r->partition, KEY_META_APPLIED, a->upto);
        a->cut = s_truncate(r, b, a->upto, &a->cut_epoch);
    }
    return rc;
}

void replog_applied(replog_t *r, const replog_apply_t *a)
{
    if (a->upto <= r->applied_lsn)
        return;
    r->applied_lsn = a->upto;
    if (a->cut) {
        atomic_fetch_add_explicit(&r->store->stats.truncated, a->cut + 1 - r->first_lsn,
                                  memory_order_relaxed);
        r->first_lsn = a->cut + 1;
        r->first_epoch = a->cut_epoch;
    }
}

/* Applies committed entries (applied_lsn, lsn] to the state table, in one engine write with
 * the new applied point. The log is the durable truth, so this write need not be synced: after
 * a crash the entries are applied again (puts and deletes are idempotent). An unreadable entry
 * stops it there (what precedes it is applied) and its error is returned. */
int replog_apply_to(replog_t *r, uint64_t lsn)
{
    if (lsn <= r->applied_lsn)
        return ROOST_OK;
    engine_batch_t *b = engine_batch_new();
    replog_apply_t a;
    int rc = replog_apply_add(r, b, lsn, &a);
    int wrc = a.upto > r->applied_lsn ? engine_write(r->engine, b, false) : ROOST_OK;
    engine_batch_destroy(&b);
    if (wrc != ROOST_OK)
        return wrc;
    replog_applied(r, &a);
    return rc;
}

uint32_t replog_collect(replog_t *r, uint64_t from, uint64_t to, msgpack_sbuffer *out)
{
    uint32_t n = 0;
    for (uint64_t lsn = from; lsn <= to && n < PROTO_RECORDS_MAX; lsn++, n++) {
        void *rec;
        size_t len;
        log_entry_t e;
        if (replog_read_entry(r, lsn, &rec, &len, &e) != ROOST_OK)
            break;
        msg_record_append(out, rec, len);
        free(rec);
    }
    return n;
}

void replog_send(roost_ctx_t *ctx, replog_t *r, uint32_t node, uint32_t type,
                 const msgpack_sbuffer *payload)
{
    char key[ROOST_KEY_BYTES_MAX + 1];
    if (replog_key(key, sizeof key, node, r->partition) != ROOST_OK)
        return;
    roost_env_t *env = roost_env_new(key, roost_ctx_self(ctx), type, payload->data, payload->size);
    if (env)
        roost_ctx_send_env(ctx, env); /* lost sends are repaired by the next tick */
}

void replog_fail_pending(roost_ctx_t *ctx, replog_t *r, int code)
{
    while (r->deferred) {
        roost_env_t *env = r->deferred;
        r->deferred = env->next;
        roost_ctx_reply_error(ctx, env, code);
        roost_env_free(env);
    }
    r->deferred_tail = NULL;
    r->ndeferred = 0;
    while (r->pending) {
        pending_t *p = r->pending;
        r->pending = p->next;
        roost_ctx_reply_error(ctx, p->req, code);
        roost_env_free(p->req);
        free(p);
    }
    r->pending_tail = NULL;
}

/* ---- the behaviour ---------------------------------------------------------------------- */

static int s_activate(roost_ctx_t *ctx, void **state)
{
    store_t *store = roost_ctx_service(ctx, STORE_SERVICE);
    if (!store)
        return ROOST_EUNAVAIL;
    replog_t *r = roost_xcalloc(1, sizeof *r);
    r->store = store;
    r->engine = store->engine;
    r->partition = roost_ctx_partition(ctx);
    r->self = roost_ctx_node_id(ctx);
    r->role = ROLE_REPLICA;
    r->rejoining = store->rejoining && store->sync == SYNC_NONE;
    r->gc = engine_batch_new();
    msgpack_sbuffer_init(&r->gc_records);
    tailcache_init(&r->tail);
    int rc = s_load(r);
    if (rc != ROOST_OK) {
        engine_batch_destroy(&r->gc);
        free(r);
        return rc;
    }
    *state = r;
    atomic_fetch_add_explicit(&store->stats.logs, 1, memory_order_relaxed);
    replog_scrub_start(ctx, r);
    return ROOST_OK;
}

void replog_report(replog_t *r, uint64_t behind, uint64_t hints, bool moving)
{
    atomic_fetch_add_explicit(&r->store->stats.behind,
                              (int64_t)behind - (int64_t)r->behind_reported, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->store->stats.hints, (int64_t)hints - (int64_t)r->hints_reported,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&r->store->stats.handoffs,
                              (int64_t)moving - (int64_t)r->moving_reported, memory_order_relaxed);
    r->behind_reported = behind;
    r->hints_reported = hints;
    r->moving_reported = moving;
}

static void s_passivate(roost_ctx_t *ctx, void *state)
{
    replog_t *r = state;
    atomic_fetch_sub_explicit(&r->store->stats.logs, 1, memory_order_relaxed);
    replog_report(r, 0, 0, false);
    replog_fail_pending(ctx, r, ROOST_EUNAVAIL);
    replog_unpin_all(r);
    engine_batch_destroy(&r->gc);
    msgpack_sbuffer_destroy(&r->gc_records);
    tailcache_fini(&r->tail);
    free(r);
}

/* The term a primary leads under: the map's epoch in the high bits, and an incarnation in the
 * low bits that grows past anything this replica promised — so a primary that restarts within
 * its map epoch (before anyone noticed it was gone) never reuses a term, and (term, lsn) always
 * names one entry. Only the map's appointed primary issues terms within a map epoch. */
static uint64_t s_term_for(const replog_t *r, uint64_t base)
{
    return r->promised >= base ? r->promised + 1 : base;
}

static void s_add_peer(replog_t *r, uint32_t node, uint8_t list)
{
    int i = replog_replica_index(r, node);
    if (i < 0 && r->npeers < REPLOG_PEERS_MAX) {
        i = (int)r->npeers++;
        r->peers[i] = node;
        r->peer_in[i] = 0;
    }
    if (i >= 0)
        r->peer_in[i] |= list;
}

/* Rebuilds the peer table from the map's lists. A node already known keeps its per-peer state:
 * a handoff that adds or drops a list within one epoch must not forget what peers hold. */
static void s_set_peers(replog_t *r, const msg_role_t *m)
{
    replog_t old;
    memcpy(&old, r, sizeof old);
    r->npeers = 0;
    for (uint32_t i = 0; i < m->nreplicas; i++)
        s_add_peer(r, m->replicas[i], PEER_CUR);
    for (uint32_t i = 0; i < m->nnext; i++)
        s_add_peer(r, m->next[i], PEER_NEXT);
    for (uint32_t i = 0; i < m->nprev; i++)
        s_add_peer(r, m->prev[i], PEER_PREV);
    for (uint32_t i = 0; i < r->npeers; i++) {
        int j = replog_replica_index(&old, r->peers[i]);
        r->acked[i] = j < 0 ? 0 : old.acked[j];
        r->promised_by[i] = j >= 0 && old.promised_by[j];
        r->heard[i] = j >= 0 && old.heard[j];
        r->nonvoting[i] = j >= 0 && old.nonvoting[j];
        r->rejoin_promise[i] = j >= 0 && old.rejoin_promise[j];
        r->catchup[i] = j >= 0 && old.catchup[j];
        r->sent_commit[i] = j < 0 ? 0 : old.sent_commit[j];
        r->acked_at_tick[i] = j < 0 ? 0 : old.acked_at_tick[j];
        r->rebuild_told_ns[i] = j < 0 ? 0 : old.rebuild_told_ns[j];
    }
}

/* This node holds no copy of the partition any more (a handoff moved it away and settled):
 * the log and the state go; the promise stays, so no older epoch can use this node again. */
static void s_retire(roost_ctx_t *ctx, replog_t *r)
{
    if (r->role == ROLE_SERVING || r->role == ROLE_RECONCILING)
        replog_step_down(ctx, r, "retired");
    engine_batch_t *b = engine_batch_new();
    uint8_t lo[KEY_PREFIX_BYTES], hi[KEY_PREFIX_BYTES], meta[KEY_META_BYTES];
    static const uint8_t tables[] = {KEY_TABLE_LOG, KEY_TABLE_STATE};
    for (size_t t = 0; t < sizeof tables; t++) {
        key_prefix(lo, r->partition, tables[t]);
        key_prefix(hi, r->partition, (uint8_t)(tables[t] + 1));
        engine_batch_delete_range(b, lo, sizeof lo, hi, sizeof hi);
    }
    static const uint8_t fields[] = {KEY_META_APPLIED, KEY_META_FIRST, KEY_META_FIRST_EPOCH,
                                     KEY_META_REBUILDING};
    for (size_t f = 0; f < sizeof fields; f++) {
        key_meta(meta, r->partition, fields[f]);
        engine_batch_delete(b, meta, sizeof meta);
    }
    int rc = engine_write(r->engine, b, true);
    engine_batch_destroy(&b);
    tailcache_clear(&r->tail);
    if (rc != ROOST_OK) {
        ROOST_ERROR(COMP, "cannot drop a retired copy", "partition=%u err=%s", r->partition,
                    roost_strerror(rc));
        return;
    }
    ROOST_INFO(COMP, "copy retired", "partition=%u entries=%llu", r->partition,
               (unsigned long long)r->last_lsn);
    r->last_lsn = r->last_epoch = r->applied_lsn = r->commit_lsn = 0;
    r->first_lsn = 1;
    r->first_epoch = 0;
    r->rebuilding = false;
    r->corrupt_lsn = 0;
    r->npeers = 0;
    r->role = ROLE_REPLICA;
}

static void s_on_role(roost_ctx_t *ctx, replog_t *r, const roost_env_t *env)
{
    msg_role_t m;
    if (msg_role_decode(env->payload, env->payload_len, &m) != ROOST_OK ||
        m.epoch >= (UINT64_MAX >> REPLOG_TERM_SHIFT))
        return;
    uint64_t base = m.epoch << REPLOG_TERM_SHIFT;
    if (base < r->role_base)
        return; /* stale: the map only moves forward */
    bool was_leading = r->role == ROLE_SERVING || r->role == ROLE_RECONCILING;
    bool same = base == r->role_base && m.primary == r->primary;
    s_set_peers(r, &m);
    if (same && was_leading)
        return; /* the same epoch: a handoff's list came or went (the tick serves it) */
    r->role_base = base;
    r->primary = m.primary;
    if (m.primary == r->self && r->promised >= base + (1ull << REPLOG_TERM_SHIFT)) {
        r->epoch = base; /* a map replayed on restart: we promised a newer one already */
        r->role = ROLE_REPLICA;
    } else if (m.primary == r->self) {
        if (was_leading)
            replog_relead(r);
        r->epoch = s_term_for(r, base);
        replog_become_primary(ctx, r);
    } else {
        r->epoch = base;
        if (was_leading)
            replog_step_down(ctx, r, "map moved the primary");
        r->role = ROLE_REPLICA;
    }
}

int replog_request_sync(roost_ctx_t *ctx, replog_t *r)
{
    if (r->syncing)
        return ROOST_OK;
    int rc = syncer_request(ctx);
    r->syncing = rc == ROOST_OK;
    return rc;
}

static void s_synced(roost_ctx_t *ctx, replog_t *r, sync_done_t done)
{
    r->syncing = false;
    replog_primary_synced(ctx, r, done);
    replog_replica_synced(ctx, r, done);
}

static void s_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    replog_t *r = state;
    r->now_ns = roost_ctx_now_ns(ctx);
    if (env->flags & ROOST_ENV_RESPONSE)
        return; /* an error bounce of one of our sends: the tick repairs it */
    switch (env->type) {
    case MSG_STORE_APPEND:
    case MSG_STORE_OPEN:
        replog_on_append_request(ctx, r, env);
        break;
    case MSG_LOG_ROLE: /* from this node's daemon only: never from a peer */
        if (env->sender_len == 0)
            s_on_role(ctx, r, env);
        break;
    case MSG_LOG_PREPARE:
        replog_on_prepare(ctx, r, env);
        break;
    case MSG_LOG_PROMISE:
        replog_on_promise(ctx, r, env);
        break;
    case MSG_LOG_APPEND:
        replog_on_append(ctx, r, env);
        break;
    case MSG_LOG_ACK:
        replog_on_ack(ctx, r, env);
        break;
    case MSG_SYNC_DONE: /* from this node's syncer only: never from a peer */
        if (env->sender_len == 0)
            s_synced(ctx, r, syncer_done(env));
        break;
    case MSG_LOG_FETCH:
        replog_on_fetch(ctx, r, env);
        break;
    case MSG_LOG_FETCHED:
        replog_on_fetched(ctx, r, env);
        break;
    case MSG_LOG_REBUILD:
        replog_on_rebuild(ctx, r, env);
        break;
    case MSG_LOG_SNAP_REQ:
        replog_on_snap_req(ctx, r, env);
        break;
    case MSG_LOG_SNAP:
        replog_on_snap(ctx, r, env);
        break;
    case MSG_LOG_RETIRE:
        if (env->sender_len == 0)
            s_retire(ctx, r);
        break;
    default:
        if (env->flags & ROOST_ENV_REQUEST)
            roost_ctx_reply_error(ctx, env, ROOST_EINVAL);
    }
}

static void s_timer(roost_ctx_t *ctx, void *state, uint64_t id, uint64_t tag)
{
    (void)id;
    replog_t *r = state;
    r->now_ns = roost_ctx_now_ns(ctx);
    if (tag == REPLOG_TIMER_FLUSH)
        replog_flush(ctx, r);
    else if (tag == REPLOG_TIMER_SCRUB)
        replog_scrub(ctx, r);
    else if (tag == REPLOG_TIMER_REBUILD)
        replog_rebuild_retry(ctx, r);
    else
        replog_tick(ctx, r);
}

const roost_behaviour_t replog_behaviour = {
    .kind = "@log",
    .on_activate = s_activate,
    .on_message = s_message,
    .on_timer = s_timer,
    .on_passivate = s_passivate,
};
