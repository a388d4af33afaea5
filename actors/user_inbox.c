/* actors/user_inbox.c — the inbox: one durable stream of reliable events per user, numbered n.
 *
 * deliver [conv, prev, floor, [records], era?] carries consecutive records prev+1… of one
 * conversation. Records at or below last_seq[conv] are already here (idempotent); a batch whose
 * prev is above it is a gap and is answered with last_seq so the conversation resends from
 * there — except prev == floor, the first records since the user joined a group. A newer era
 * (the conversation's partition fenced a loss, shards/store.h) starts last_seq again from prev.
 * Each new record becomes an entry (a reference: conv, seq, mid, sender — never the body), unless
 * the user must not see it (hidden: a direct message from someone they block; in groups, a message
 * from someone they block). The entries, last_seq[conv] and next_n are one batch, and nothing is
 * answered or pushed before it is durable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/actors.h"
#include "actors/msgs.h"
#include "actors/record.h"
#include "actors/user.h"
#include "runtime/errors.h"
#include "runtime/fault.h"
#include "runtime/util.h"
#include "shards/store.h"

void user_entry_key(const user_t *u, uint64_t n, akey_t *k)
{
    akey_init(k, u->key, "i/");
    akey_be64(k, n);
}

bool user_read_entry(roost_ctx_t *ctx, user_t *u, uint64_t n, msgpack_unpacked *up)
{
    akey_t k;
    user_entry_key(u, n, &k);
    if (base_get_doc(ctx, k.b, k.n, up) == ROOST_OK)
        return true;
    msgpack_unpacked_destroy(up);
    return false;
}

/* ---- last_seq per conversation ------------------------------------------------------------ */

void user_seen_reset(user_t *u)
{
    free(u->seen);
    u->seen = NULL;
    u->nseen = u->seen_cap = 0;
}

static void s_hidden_key(const user_t *u, mp_str_t conv, akey_t *k)
{
    akey_init(k, u->key, "h/");
    akey_add(k, conv.ptr, conv.len);
}

/* h/<conv>: the senders hidden from this user there (absent: none). */
static int s_load_hidden(roost_ctx_t *ctx, user_t *u, mp_str_t conv, hidden_t *out)
{
    memset(out, 0, sizeof *out);
    akey_t k;
    s_hidden_key(u, conv, &k);
    msgpack_unpacked up;
    int rc = base_get_doc(ctx, k.b, k.n, &up);
    if (rc == ROOST_OK && !hidden_parse(&up.data, out))
        rc = ROOST_EPROTO;
    msgpack_unpacked_destroy(&up);
    return rc == ROOST_ENOTFOUND ? ROOST_OK : rc;
}

static void s_put_hidden(const user_t *u, store_ops_t *ops, const conv_seen_t *seen)
{
    akey_t k;
    s_hidden_key(u, (mp_str_t){.ptr = seen->conv, .len = strlen(seen->conv)}, &k);
    mp_buf_t b;
    mp_buf_init(&b);
    hidden_pack(&b.pk, &seen->hidden);
    store_ops_put(ops, k.b, k.n, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

/* c/<conv>: be64 last_seq, then be64 era when it has one (absent: 0, 0). */
static int s_load_last(roost_ctx_t *ctx, const user_t *u, mp_str_t conv, uint64_t *last,
                       uint64_t *era)
{
    akey_t k;
    akey_init(&k, u->key, "c/");
    akey_add(&k, conv.ptr, conv.len);
    void *val;
    size_t len;
    int rc = store_get(ctx, k.b, k.n, &val, &len);
    if (rc != ROOST_OK)
        return rc == ROOST_ENOTFOUND ? ROOST_OK : rc;
    if (len == 8 || len == 16) {
        *last = akey_get_be64(val);
        *era = len == 16 ? akey_get_be64((const uint8_t *)val + 8) : 0;
    }
    free(val);
    return len == 8 || len == 16 ? ROOST_OK : ROOST_EPROTO;
}

static void s_put_last(const user_t *u, store_ops_t *ops, const conv_seen_t *seen)
{
    akey_t k;
    akey_init(&k, u->key, "c/");
    akey_str(&k, seen->conv);
    akey_t v = {.n = 0};
    akey_be64(&v, seen->last_seq);
    if (seen->era)
        akey_be64(&v, seen->era);
    store_ops_put(ops, k.b, k.n, v.b, v.n);
}

static conv_seen_t *s_seen(roost_ctx_t *ctx, user_t *u, mp_str_t conv)
{
    for (uint32_t i = 0; i < u->nseen; i++)
        if (mp_str_eq(conv, u->seen[i].conv))
            return &u->seen[i];
    uint64_t last = 0, era = 0;
    if (s_load_last(ctx, u, conv, &last, &era) != ROOST_OK)
        return NULL;
    hidden_t hidden;
    if (s_load_hidden(ctx, u, conv, &hidden) != ROOST_OK)
        return NULL;
    if (u->nseen == u->seen_cap) {
        u->seen_cap = u->seen_cap ? u->seen_cap * 2 : 8;
        u->seen = roost_xrealloc(u->seen, u->seen_cap * sizeof *u->seen);
    }
    conv_seen_t *s = &u->seen[u->nseen++];
    mp_str_copy(conv, s->conv, sizeof s->conv);
    s->last_seq = last;
    s->era = era;
    s->hidden = hidden;
    return s;
}

void user_pack_hidden(roost_ctx_t *ctx, user_t *u, const char *conv, msgpack_packer *pk)
{
    conv_seen_t *s = s_seen(ctx, u, (mp_str_t){.ptr = conv, .len = strlen(conv)});
    hidden_t none = {.n = 0};
    hidden_pack(pk, s ? &s->hidden : &none);
}

/* ---- entries ----------------------------------------------------------------------------- */

static void s_put_entry(user_t *u, store_ops_t *ops, uint64_t n, const mp_buf_t *entry)
{
    akey_t k;
    user_entry_key(u, n, &k);
    store_ops_put(ops, k.b, k.n, entry->sb.data, entry->sb.size);
}

/* The entry a record makes for this user; false: none (hidden, or blocked sender). */
static bool s_entry_for(roost_ctx_t *ctx, user_t *u, const char *conv, const msgpack_object *rec,
                        mp_buf_t *e)
{
    uint64_t from = record_from(rec);
    uint64_t at = roost_ctx_wall_ms(ctx);
    if (record_is_event(rec)) {
        static const char *const copy[] = {"ev", "by", "users"};
        msgpack_pack_map(&e->pk, 6);
        mp_kv_str(&e->pk, "t", "group.event");
        mp_kv_str(&e->pk, "group", conv + 2);
        for (int i = 0; i < 3; i++) {
            mp_pack_str(&e->pk, i == 0 ? "event" : copy[i]);
            const msgpack_object *v = mp_get(rec, copy[i]);
            if (v)
                mp_pack_obj(&e->pk, v);
            else
                msgpack_pack_nil(&e->pk);
        }
        mp_kv_u64(&e->pk, "at", at);
        return true;
    }
    if (record_hidden_for(rec, u->id) || (from != u->id && user_blocks(u, from)))
        return false;
    static const char *const copy[] = {"mid", "from", "device"};
    msgpack_pack_map(&e->pk, 7);
    mp_kv_str(&e->pk, "t", "msg");
    mp_kv_str(&e->pk, "conv", conv);
    mp_kv_u64(&e->pk, "seq", record_seq(rec));
    for (int i = 0; i < 3; i++) {
        mp_pack_str(&e->pk, copy[i]);
        const msgpack_object *v = mp_get(rec, copy[i]);
        if (v)
            mp_pack_obj(&e->pk, v);
        else
            msgpack_pack_nil(&e->pk);
    }
    mp_kv_u64(&e->pk, "at", at);
    return true;
}

typedef struct {
    roost_env_t *req;
    uint64_t last, upto_n;
} delivered_t;

static void s_reply_last(roost_ctx_t *ctx, const roost_env_t *req, uint64_t last)
{
    uint8_t buf[16];
    msgpack_sbuffer sb = {.data = (char *)buf, .size = 0, .alloc = 0};
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 1);
    msgpack_pack_uint64(&b.pk, last);
    roost_ctx_reply(ctx, req, MSG_DELIVER, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
    (void)sb;
}

static void s_delivered(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    user_t *u = self;
    delivered_t *d = arg;
    if (status == ROOST_OK) {
        if (d->upto_n > u->durable_n)
            u->durable_n = d->upto_n;
        s_reply_last(ctx, d->req, d->last);
        user_pump(ctx, u);
        user_retention(ctx, u);
    } else {
        roost_ctx_reply_error(ctx, d->req, status);
    }
    roost_env_free(d->req);
    free(d);
}

typedef struct {
    mp_str_t conv;
    uint64_t prev, floor, era;
    const msgpack_object *recs;
} deliver_t;

static bool s_parse_deliver(const msgpack_object *a, deliver_t *d)
{
    d->era = 0;
    return a->type == MSGPACK_OBJECT_ARRAY &&
           (a->via.array.size == 4 ||
            (a->via.array.size == 5 && mp_as_u64(&a->via.array.ptr[4], &d->era))) &&
           mp_as_str(&a->via.array.ptr[0], &d->conv) && d->conv.len > 2 &&
           d->conv.len <= CONV_KEY_BYTES_MAX && mp_as_u64(&a->via.array.ptr[1], &d->prev) &&
           mp_as_u64(&a->via.array.ptr[2], &d->floor) &&
           a->via.array.ptr[3].type == MSGPACK_OBJECT_ARRAY && (d->recs = &a->via.array.ptr[3]);
}

/* A conversation of a newer era (its partition adopted a log that may have lost acknowledged
 * writes since last_seq was recorded): the seqs past what it says we have may have been handed
 * out again, to messages this inbox would otherwise take for ones it has and skip. It starts
 * again from prev: what comes may be new (what was here already comes again, deduped by mid
 * on the devices). False if nothing changed. */
static bool s_new_era(conv_seen_t *seen, const deliver_t *d)
{
    if (d->era <= seen->era)
        return false;
    if (d->prev < seen->last_seq)
        seen->last_seq = d->prev;
    seen->era = d->era;
    return true;
}

void user_on_deliver(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    deliver_t d;
    conv_seen_t *seen = NULL;
    if (!mp_parse(&up, env->payload, env->payload_len) || !s_parse_deliver(&up.data, &d)) {
        roost_ctx_reply_error(ctx, env, ROOST_EPROTO);
        goto out;
    }
    if (!(seen = s_seen(ctx, u, d.conv))) {
        roost_ctx_reply_error(ctx, env, ROOST_EIO);
        goto out;
    }
    bool moved = s_new_era(seen, &d), hid = false;
    if (d.prev > seen->last_seq && d.prev != d.floor) {
        s_reply_last(ctx, env, seen->last_seq); /* a gap: resend from there */
        goto out;
    }
    store_ops_t ops;
    store_ops_init(&ops);
    uint64_t seq = d.prev, first_n = u->next_n;
    for (uint32_t i = 0; i < d.recs->via.array.size; i++) {
        const msgpack_object *bin = &d.recs->via.array.ptr[i];
        msgpack_unpacked rec;
        msgpack_unpacked_init(&rec);
        seq++;
        if (seq <= seen->last_seq || bin->type != MSGPACK_OBJECT_BIN ||
            !mp_parse(&rec, bin->via.bin.ptr, bin->via.bin.size) || record_seq(&rec.data) != seq) {
            msgpack_unpacked_destroy(&rec);
            if (seq > seen->last_seq)
                break; /* malformed: keep what came before it */
            continue;
        }
        mp_buf_t e;
        mp_buf_init(&e);
        if (s_entry_for(ctx, u, seen->conv, &rec.data, &e)) {
            s_put_entry(u, &ops, u->next_n++, &e);
            if (!record_is_event(&rec.data))
                user_cache_put(u, seen->conv, seq, bin->via.bin.ptr, bin->via.bin.size);
        } else {
            hidden_add(&seen->hidden, record_from(&rec.data), seq);
            hid = true;
        }
        mp_buf_fini(&e);
        msgpack_unpacked_destroy(&rec);
        seen->last_seq = seq;
        moved = true;
    }
    if (!moved) {
        delivered_t *dd = roost_xcalloc(1, sizeof *dd);
        *dd = (delivered_t){.req = roost_ctx_keep(ctx), .last = seen->last_seq};
        base_after(ctx, &u->base, s_delivered, dd);
        store_ops_fini(&ops);
        goto out;
    }
    s_put_last(u, &ops, seen);
    if (u->next_n != first_n)
        user_put_next(u, &ops);
    if (hid)
        s_put_hidden(u, &ops, seen);
    delivered_t *dd = roost_xcalloc(1, sizeof *dd);
    *dd =
        (delivered_t){.req = roost_ctx_keep(ctx), .last = seen->last_seq, .upto_n = u->next_n - 1};
    base_write(ctx, &u->base, &ops, s_delivered, dd);
    store_ops_fini(&ops);
out:
    msgpack_unpacked_destroy(&up);
}

/* ---- receipts ------------------------------------------------------------------------------ */

/* May the undelivered entry n be rewritten? No device acknowledged it and no connection got it. */
static bool s_untouched(const user_t *u, uint64_t n)
{
    if (n > u->durable_n)
        return false;
    for (uint32_t i = 0; i < u->ndevices; i++)
        if (u->devices[i].cursor >= n)
            return false;
    for (uint32_t i = 0; i < u->nsessions; i++)
        if (u->sessions[i].pushed >= n)
            return false;
    return true;
}

typedef struct {
    uint64_t upto_n;
    roost_env_t *req; /* answered once stored (may be NULL) */
} pushed_t;

static void s_answer_receipt(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)self;
    roost_env_t *req = arg;
    if (status == ROOST_OK)
        roost_ctx_reply(ctx, req, req->type, NULL, 0);
    else
        roost_ctx_reply_error(ctx, req, status);
    roost_env_free(req);
}

static void s_receipt_stored(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    user_t *u = self;
    pushed_t *p = arg;
    if (status == ROOST_OK && p->upto_n > u->durable_n)
        u->durable_n = p->upto_n;
    if (p->req)
        s_answer_receipt(ctx, self, p->req, status);
    free(p);
    if (status == ROOST_OK)
        user_pump(ctx, u);
}

/* [conv, seq, by, status, ts] */
void user_on_receipt(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *a = &up.data;
    mp_str_t conv, by, status;
    uint64_t seq, ts;
    if (!mp_parse(&up, env->payload, env->payload_len) || a->type != MSGPACK_OBJECT_ARRAY ||
        a->via.array.size != 5 || !mp_as_str(&a->via.array.ptr[0], &conv) ||
        conv.len > CONV_KEY_BYTES_MAX || !mp_as_u64(&a->via.array.ptr[1], &seq) ||
        !mp_as_str(&a->via.array.ptr[2], &by) || !id_parse(by.ptr, by.len) ||
        !mp_as_str(&a->via.array.ptr[3], &status) ||
        !(mp_str_eq(status, "delivered") || mp_str_eq(status, "read")) ||
        !mp_as_u64(&a->via.array.ptr[4], &ts)) {
        roost_ctx_reply_error(ctx, env, ROOST_EPROTO);
        goto out;
    }
    akey_t rk;
    akey_init(&rk, u->key, "r/");
    akey_add(&rk, conv.ptr, conv.len);
    akey_str(&rk, "/");
    akey_add(&rk, by.ptr, by.len);
    akey_str(&rk, "/");
    akey_add(&rk, status.ptr, status.len);
    void *val;
    size_t len;
    uint64_t old_seq = 0, old_n = 0;
    if (store_get(ctx, rk.b, rk.n, &val, &len) == ROOST_OK) {
        if (len == 16) {
            old_seq = akey_get_be64(val);
            old_n = akey_get_be64((uint8_t *)val + 8);
        }
        free(val);
    }
    if (roost_fault("user.receipt_lost")) /* lost on the way (tests): never answered */
        goto out;
    if (seq <= old_seq) {
        base_after(ctx, &u->base, s_answer_receipt, roost_ctx_keep(ctx)); /* known already */
        goto out;
    }
    bool replace = old_n && s_untouched(u, old_n);
    uint64_t n = replace ? old_n : u->next_n++;
    mp_buf_t e;
    mp_buf_init(&e);
    msgpack_pack_map(&e.pk, 7);
    mp_kv_str(&e.pk, "t", "receipt");
    mp_pack_str(&e.pk, "conv");
    mp_pack_strn(&e.pk, conv.ptr, conv.len);
    mp_kv_u64(&e.pk, "seq", seq);
    mp_pack_str(&e.pk, "by");
    mp_pack_strn(&e.pk, by.ptr, by.len);
    mp_pack_str(&e.pk, "status");
    mp_pack_strn(&e.pk, status.ptr, status.len);
    mp_kv_u64(&e.pk, "ts", ts);
    mp_kv_u64(&e.pk, "at", roost_ctx_wall_ms(ctx));
    store_ops_t ops;
    store_ops_init(&ops);
    s_put_entry(u, &ops, n, &e);
    akey_t v = {.n = 0};
    akey_be64(&v, seq);
    akey_be64(&v, n);
    store_ops_put(&ops, rk.b, rk.n, v.b, v.n);
    if (!replace)
        user_put_next(u, &ops);
    pushed_t *p = roost_xcalloc(1, sizeof *p);
    p->upto_n = replace ? 0 : n;
    p->req = roost_ctx_keep(ctx);
    base_write(ctx, &u->base, &ops, s_receipt_stored, p);
    store_ops_fini(&ops);
    mp_buf_fini(&e);
out:
    msgpack_unpacked_destroy(&up);
}

/* ---- retention ------------------------------------------------------------------------------ */

enum { RETENTION_STEP_MAX = 1000 }; /* entries examined or dropped per call */

/* A dropped, never-acknowledged message from someone else: its sender must hear `expired`.
 * Recorded (u:<id>/e/<n> → [sender, conv, seq]) in the batch that drops it, sent once that is
 * durable, forgotten once the sender's actor has stored it. */
static void s_note_expired(user_t *u, uint64_t n, const msgpack_object *e, store_ops_t *ops)
{
    mp_str_t t, conv, from;
    uint64_t seq;
    if (mp_get_str(e, "t", 1, 16, &t) != MP_OK || !mp_str_eq(t, "msg") ||
        mp_get_str(e, "conv", 1, CONV_KEY_BYTES_MAX, &conv) != MP_OK ||
        mp_get_str(e, "from", 1, ID_BYTES_MAX, &from) != MP_OK ||
        id_parse(from.ptr, from.len) == u->id || mp_get_u64(e, "seq", &seq) != MP_OK)
        return;
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 3);
    mp_pack_strn(&b.pk, from.ptr, from.len);
    mp_pack_strn(&b.pk, conv.ptr, conv.len);
    msgpack_pack_uint64(&b.pk, seq);
    akey_t k;
    akey_init(&k, u->key, "e/");
    akey_be64(&k, n);
    store_ops_put(ops, k.b, k.n, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

typedef struct {
    roost_ctx_t *ctx;
    user_t *u;
    size_t prefix;
} expired_scan_t;

static bool s_expired_row(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen)
{
    expired_scan_t *s = arg;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *a = &up.data;
    mp_str_t from, conv;
    uint64_t seq;
    uint64_t n = klen == s->prefix + 8 ? akey_get_be64(key + s->prefix) : 0;
    for (pend_t *p = s->u->pend; p && n; p = p->next)
        if (p->kind == PEND_EXPIRED && p->a == n)
            n = 0; /* already on its way */
    if (n && mp_parse(&up, val, vlen) && a->type == MSGPACK_OBJECT_ARRAY &&
        a->via.array.size == 3 && mp_as_str(&a->via.array.ptr[0], &from) &&
        id_parse(from.ptr, from.len) && mp_as_str(&a->via.array.ptr[1], &conv) &&
        mp_as_u64(&a->via.array.ptr[2], &seq)) {
        char target[ID_BYTES_MAX + 3];
        id_key(target, 'u', id_parse(from.ptr, from.len));
        mp_buf_t b;
        mp_buf_init(&b);
        msgpack_pack_array(&b.pk, 3);
        mp_pack_strn(&b.pk, conv.ptr, conv.len);
        msgpack_pack_uint64(&b.pk, seq);
        mp_pack_str(&b.pk, s->u->id_s);
        uint64_t corr = 0;
        if (roost_ctx_request(s->ctx, target, MSG_EXPIRED, b.sb.data, b.sb.size, 0, &corr) ==
            ROOST_OK)
            pend_add(&s->u->pend, corr, PEND_EXPIRED, NULL)->a = n;
        mp_buf_fini(&b);
    }
    msgpack_unpacked_destroy(&up);
    return true;
}

int user_send_expired(roost_ctx_t *ctx, user_t *u)
{
    akey_t k;
    akey_init(&k, u->key, "e/");
    expired_scan_t scan = {.ctx = ctx, .u = u, .prefix = k.n};
    int n = store_scan(ctx, k.b, k.n, false, 1000, s_expired_row, &scan);
    if (n > 0)
        user_ensure_tick(ctx, u);
    return n < 0 ? n : ROOST_OK;
}

static void s_dropped(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    (void)arg;
    if (status == ROOST_OK)
        user_send_expired(ctx, self);
}

/* Moves every device's cursor to at least n, remembering where it was dropped to. */
static bool s_force_cursors(user_t *u, uint64_t n, store_ops_t *ops)
{
    bool moved = false;
    for (uint32_t i = 0; i < u->ndevices; i++) {
        device_t *d = &u->devices[i];
        if (d->cursor >= n)
            continue;
        d->cursor = n;
        d->from_n = n + 1;
        user_put_cursor(u, ops, d);
        moved = true;
    }
    return moved;
}

static uint64_t s_min_cursor(const user_t *u)
{
    uint64_t m = u->durable_n;
    for (uint32_t i = 0; i < u->ndevices; i++)
        if (u->devices[i].cursor < m)
            m = u->devices[i].cursor;
    return m;
}

/* The cursor that leaves the last `count` held positions after it (gaps are not held). */
static uint64_t s_count_back(const user_t *u, uint64_t count)
{
    uint64_t n = u->durable_n;
    for (uint32_t i = u->ngaps; i-- > 0;) {
        if (u->gaps[i][0] > n)
            continue;
        uint64_t above = n >= u->gaps[i][1] ? n - u->gaps[i][1] + 1 : 0; /* held, past it */
        if (above >= count)
            return n - count;
        count -= above;
        n = u->gaps[i][0] - 1;
    }
    return n > count ? n - count : 0;
}

/* Events beyond the policy (actors_config: a count per device and an age) move the
 * lagging cursors forward; entries every device is past are deleted; a message that no device
 * acknowledged tells its sender `expired`. */
void user_retention(roost_ctx_t *ctx, user_t *u)
{
    if (u->ndevices == 0 || base_busy(&u->base))
        return;
    uint64_t max_acked = 0;
    for (uint32_t i = 0; i < u->ndevices; i++)
        if (u->devices[i].cursor > max_acked)
            max_acked = u->devices[i].cursor;
    store_ops_t ops;
    store_ops_init(&ops);
    bool changed = false;
    const actors_config_t *cfg = actors_config(ctx);
    if (user_held_between(u, 1, u->durable_n) > cfg->retention_count)
        changed |= s_force_cursors(u, s_count_back(u, cfg->retention_count), &ops);
    uint64_t now = roost_ctx_wall_ms(ctx);
    for (uint64_t n = user_skip_gap(u, s_min_cursor(u) + 1), k = 0;
         n <= u->durable_n && k < RETENTION_STEP_MAX; n = user_skip_gap(u, n + 1), k++) {
        msgpack_unpacked e;
        uint64_t at = now;
        if (user_read_entry(ctx, u, n, &e)) {
            mp_get_u64(&e.data, "at", &at);
            msgpack_unpacked_destroy(&e);
        }
        if (at + cfg->retention_ms > now)
            break;
        changed |= s_force_cursors(u, n, &ops);
    }
    uint64_t first = s_min_cursor(u) + 1, n = user_skip_gap(u, u->first_n);
    for (uint32_t step = 0; n < first && step < RETENTION_STEP_MAX;
         n = user_skip_gap(u, n + 1), step++) {
        msgpack_unpacked e;
        if (user_read_entry(ctx, u, n, &e)) {
            if (n > max_acked)
                s_note_expired(u, n, &e.data, &ops);
            msgpack_unpacked_destroy(&e);
        }
        akey_t k;
        user_entry_key(u, n, &k);
        store_ops_delete(&ops, k.b, k.n);
    }
    if (n > first) /* (past the gap, where a cursor may stand: nothing there was dropped) */
        n = first;
    if (n != u->first_n) {
        u->first_n = n;
        user_put_u64(u, &ops, "f", n);
        changed = true;
    }
    if (changed)
        base_write(ctx, &u->base, &ops, s_dropped, NULL);
    store_ops_fini(&ops);
}

/* [conv, seq, user] */
void user_on_expired(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *a = &up.data;
    mp_str_t conv, user;
    uint64_t seq;
    if (mp_parse(&up, env->payload, env->payload_len) && a->type == MSGPACK_OBJECT_ARRAY &&
        a->via.array.size == 3 && mp_as_str(&a->via.array.ptr[0], &conv) &&
        conv.len <= CONV_KEY_BYTES_MAX && mp_as_u64(&a->via.array.ptr[1], &seq) &&
        mp_as_str(&a->via.array.ptr[2], &user) && id_parse(user.ptr, user.len)) {
        akey_t xk; /* told once: a resend finds it */
        akey_init(&xk, u->key, "x/");
        akey_add(&xk, conv.ptr, conv.len);
        akey_str(&xk, "/");
        akey_add(&xk, user.ptr, user.len);
        akey_str(&xk, "/");
        akey_be64(&xk, seq);
        uint64_t seen = 0;
        if (base_get_u64(ctx, xk.b, xk.n, &seen) == ROOST_OK && seen) {
            base_after(ctx, &u->base, s_answer_receipt, roost_ctx_keep(ctx));
            msgpack_unpacked_destroy(&up);
            return;
        }
        mp_buf_t e;
        mp_buf_init(&e);
        msgpack_pack_map(&e.pk, 5);
        mp_kv_str(&e.pk, "t", "expired");
        mp_pack_str(&e.pk, "conv");
        mp_pack_strn(&e.pk, conv.ptr, conv.len);
        mp_kv_u64(&e.pk, "seq", seq);
        mp_pack_str(&e.pk, "user");
        mp_pack_strn(&e.pk, user.ptr, user.len);
        mp_kv_u64(&e.pk, "at", roost_ctx_wall_ms(ctx));
        store_ops_t ops;
        store_ops_init(&ops);
        uint64_t n = u->next_n++;
        s_put_entry(u, &ops, n, &e);
        user_put_next(u, &ops);
        akey_t one = {.n = 0};
        akey_be64(&one, n);
        store_ops_put(&ops, xk.b, xk.n, one.b, one.n);
        pushed_t *p = roost_xcalloc(1, sizeof *p);
        p->upto_n = n;
        p->req = roost_ctx_keep(ctx);
        base_write(ctx, &u->base, &ops, s_receipt_stored, p);
        store_ops_fini(&ops);
        mp_buf_fini(&e);
    } else {
        roost_ctx_reply_error(ctx, env, ROOST_EPROTO);
    }
    msgpack_unpacked_destroy(&up);
}
