/* actors/user_push.c — pushing the inbox to live sessions. A session gets every durable entry
 * after what it already got: at most USER_PUSH_WINDOW events and about USER_PUSH_BYTES bytes
 * beyond its device's cursor (acks open the window), never twice on one connection, never the
 * sender's own message back to the device that sent it. A msg entry is a reference: its record
 * comes from a small cache (filled by deliver) or from the conversation (MSG_CONV_FETCH, up to
 * USER_FETCH_BATCH at a time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/msgs.h"
#include "actors/record.h"
#include "actors/user.h"
#include "runtime/errors.h"
#include "runtime/fault.h"
#include "runtime/util.h"

/* ---- the record cache ---------------------------------------------------------------------- */

static cached_t *s_cached(user_t *u, const char *conv, uint64_t seq)
{
    for (uint32_t i = 0; i < USER_CACHE_ENTRIES; i++)
        if (u->cache[i].seq == seq && strcmp(u->cache[i].conv, conv) == 0)
            return &u->cache[i];
    return NULL;
}

/* A record for (conv, seq) replaces what the cache holds for it: a seq answered nil (lost)
 * may be issued again, and its new record must not hide behind the old answer. */
void user_cache_put(user_t *u, const char *conv, uint64_t seq, const void *rec, size_t len)
{
    cached_t *c = s_cached(u, conv, seq);
    if (!c)
        c = &u->cache[u->cache_next++ % USER_CACHE_ENTRIES];
    free(c->rec);
    snprintf(c->conv, sizeof c->conv, "%s", conv);
    c->seq = seq;
    c->rec = NULL;
    c->len = 0;
    if (rec) {
        c->rec = roost_xmalloc(len);
        memcpy(c->rec, rec, len);
        c->len = len;
    }
}

/* ---- pushing ----------------------------------------------------------------------------- */

/* Asks the conversation for the records of the msg entries from n on (one conversation, up
 * to USER_FETCH_BATCH) that the cache lacks; entry n is one of them. */
static void s_fetch(roost_ctx_t *ctx, user_t *u, session_t *s, const char *conv, uint64_t n)
{
    mp_buf_t seqs;
    mp_buf_init(&seqs);
    uint32_t count = 0;
    uint64_t first_seq = 0; /* entry n's */
    for (uint64_t i = n; i <= u->durable_n && i < n + USER_FETCH_BATCH; i++) {
        msgpack_unpacked e;
        if (!user_read_entry(ctx, u, i, &e))
            continue;
        mp_str_t t, c;
        uint64_t seq;
        if (mp_get_str(&e.data, "t", 1, 16, &t) == MP_OK && mp_str_eq(t, "msg") &&
            mp_get_str(&e.data, "conv", 1, CONV_KEY_BYTES_MAX, &c) == MP_OK && mp_str_eq(c, conv) &&
            mp_get_u64(&e.data, "seq", &seq) == MP_OK && !s_cached(u, conv, seq)) {
            msgpack_pack_uint64(&seqs.pk, seq);
            first_seq = count++ ? first_seq : seq;
        }
        msgpack_unpacked_destroy(&e);
    }
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 2);
    mp_pack_str(&b.pk, u->id_s);
    msgpack_pack_array(&b.pk, count);
    msgpack_sbuffer_write(&b.sb, seqs.sb.data, seqs.sb.size);
    uint64_t corr = 0;
    if (roost_ctx_request(ctx, conv, MSG_CONV_FETCH, b.sb.data, b.sb.size, 0, &corr) == ROOST_OK) {
        pend_t *p = pend_add(&u->pend, corr, PEND_FETCH, NULL);
        snprintf(p->s, sizeof p->s, "%s", s->key);
        p->a = first_seq;
        s->fetching++;
        user_ensure_tick(ctx, u);
    } else {
        s->stalled = true;
    }
    mp_buf_fini(&b);
    mp_buf_fini(&seqs);
}

/* Packs an entry as its event frame with n (everything but the internal "at"). */
static void s_pack_event(msgpack_packer *pk, const msgpack_object *e, uint64_t n)
{
    uint32_t count = 1;
    for (uint32_t i = 0; i < e->via.map.size; i++) {
        mp_str_t k;
        count += !(mp_as_str(&e->via.map.ptr[i].key, &k) && mp_str_eq(k, "at"));
    }
    msgpack_pack_map(pk, count);
    for (uint32_t i = 0; i < e->via.map.size; i++) {
        mp_str_t k;
        if (mp_as_str(&e->via.map.ptr[i].key, &k) && mp_str_eq(k, "at"))
            continue;
        mp_pack_obj(pk, &e->via.map.ptr[i].key);
        mp_pack_obj(pk, &e->via.map.ptr[i].val);
    }
    mp_kv_u64(pk, "n", n);
}

typedef enum { PUSH_SENT, PUSH_SKIP, PUSH_WAIT, PUSH_STALL } push_rc_t;

/* MSG_PUSH_EVENT [prev, frame]: prev lets the session notice an event lost on the way. */
static int s_send_event(roost_ctx_t *ctx, const session_t *s, const mp_buf_t *frame)
{
    mp_buf_t w;
    mp_buf_init(&w);
    msgpack_pack_array(&w.pk, 2);
    msgpack_pack_uint64(&w.pk, s->last_sent);
    mp_pack_bin(&w.pk, frame->sb.data, frame->sb.size);
    int rc = roost_fault("user.push_lost") /* lost on the way (tests) */
                 ? ROOST_OK
                 : roost_ctx_send(ctx, s->key, MSG_PUSH_EVENT, w.sb.data, w.sb.size);
    mp_buf_fini(&w);
    return rc;
}

/* Whether the record is the message the entry names: a conversation that lost its last
 * messages (sync: none) hands their seqs out again, and an entry made for a lost one must not
 * show another message at its position (the new one has its own entry, user_inbox.c). */
static bool s_same_message(const msgpack_object *entry, const msgpack_object *rec)
{
    mp_str_t a, b;
    return mp_get_str(entry, "mid", 1, 64, &a) == MP_OK &&
           mp_get_str(rec, "mid", 1, 64, &b) == MP_OK && a.len == b.len &&
           memcmp(a.ptr, b.ptr, a.len) == 0;
}

static push_rc_t s_push_one(roost_ctx_t *ctx, user_t *u, session_t *s, uint64_t n, size_t *bytes)
{
    msgpack_unpacked e;
    if (!user_read_entry(ctx, u, n, &e))
        return PUSH_SKIP; /* no longer held */
    push_rc_t rc = PUSH_SKIP;
    mp_str_t t, conv, from, dev;
    uint64_t seq = 0;
    mp_buf_t b;
    mp_buf_init(&b);
    bool is_msg = mp_get_str(&e.data, "t", 1, 16, &t) == MP_OK && mp_str_eq(t, "msg");
    if (!is_msg) {
        s_pack_event(&b.pk, &e.data, n);
    } else if (mp_get_str(&e.data, "conv", 1, CONV_KEY_BYTES_MAX, &conv) != MP_OK ||
               mp_get_u64(&e.data, "seq", &seq) != MP_OK ||
               mp_get_str(&e.data, "from", 1, ID_BYTES_MAX, &from) != MP_OK ||
               mp_get_str(&e.data, "device", 1, DEVICE_BYTES_MAX, &dev) != MP_OK) {
        goto out;
    } else if (id_parse(from.ptr, from.len) == u->id && mp_str_eq(dev, s->device)) {
        goto out; /* its own message: not pushed back to the device that sent it */
    } else {
        char ckey[CONV_KEY_BYTES_MAX + 1];
        mp_str_copy(conv, ckey, sizeof ckey);
        cached_t *c = s_cached(u, ckey, seq);
        if (!c) {
            s_fetch(ctx, u, s, ckey, n);
            rc = PUSH_WAIT;
            goto out;
        }
        if (!c->rec)
            goto out; /* the conversation no longer has it for us */
        msgpack_unpacked rec;
        msgpack_unpacked_init(&rec);
        bool ok = mp_parse(&rec, c->rec, c->len) && s_same_message(&e.data, &rec.data);
        if (ok)
            record_pack_msg(&b.pk, ckey, &rec.data, u->id, s->device, n);
        msgpack_unpacked_destroy(&rec);
        if (!ok)
            goto out;
    }
    *bytes = b.sb.size;
    rc = s_send_event(ctx, s, &b) == ROOST_OK ? PUSH_SENT : PUSH_STALL;
out:
    mp_buf_fini(&b);
    msgpack_unpacked_destroy(&e);
    return rc;
}

/* Acks released part of what is in flight: the share of the events acknowledged (sizes are
 * not kept per event; the estimate errs by the spread of sizes, bounded by the count window). */
static void s_release(session_t *s, uint64_t cursor)
{
    if (cursor <= s->released)
        return;
    if (cursor >= s->pushed)
        s->inflight = 0;
    else
        s->inflight -= s->inflight * (cursor - s->released) / (s->pushed - s->released);
    s->released = cursor;
}

static void s_pump_session(roost_ctx_t *ctx, user_t *u, session_t *s)
{
    device_t *d = user_device(u, s->device);
    if (!d)
        return;
    s_release(s, d->cursor);
    while (s->authed && !s->fetching && !s->stalled && s->pushed < u->durable_n &&
           user_held_between(u, d->cursor + 1, s->pushed) < USER_PUSH_WINDOW &&
           (s->inflight < USER_PUSH_BYTES || s->pushed <= d->cursor)) {
        uint64_t n = s->pushed + 1;
        if (n < u->first_n || user_skip_gap(u, n) != n) {
            s->pushed = (n < u->first_n ? u->first_n : user_skip_gap(u, n)) - 1;
            continue;
        }
        size_t bytes = 0;
        push_rc_t rc = s_push_one(ctx, u, s, n, &bytes);
        if (rc == PUSH_WAIT)
            return;
        if (rc == PUSH_STALL) {
            s->stalled = true;
            return;
        }
        if (s->pushed < s->released) /* a resume or a skip moved past the released point */
            s->released = s->pushed;
        s->pushed = n;
        s->inflight += rc == PUSH_SENT ? bytes : 0;
        if (rc == PUSH_SENT) {
            s->prev_sent = s->last_sent;
            s->last_sent = n;
            s->sent_ns = roost_ctx_now_ns(ctx);
        }
    }
}

void user_push_probe(roost_ctx_t *ctx, user_t *u, session_t *s)
{
    device_t *d = user_device(u, s->device);
    uint64_t now = roost_ctx_now_ns(ctx), last = s->last_sent;
    if (!d || !s->authed || s->fetching || last <= d->cursor ||
        now - s->sent_ns < USER_PROBE_MS * 1000000ull)
        return;
    size_t bytes = 0;
    s->last_sent = s->prev_sent; /* the prev it carried the first time */
    (void)s_push_one(ctx, u, s, last, &bytes);
    s->last_sent = last;
    s->sent_ns = now;
}

void user_pump(roost_ctx_t *ctx, user_t *u)
{
    for (uint32_t i = 0; i < u->nsessions; i++)
        s_pump_session(ctx, u, &u->sessions[i]);
}

/* One [seq, record] item of a fetch's answer: the record cached, or nil: not this user's to
 * see (or removed under retention), cached as such so the push skips it. */
static void s_fetched_item(user_t *u, const char *conv, const msgpack_object *it)
{
    uint64_t seq;
    if (it->type != MSGPACK_OBJECT_ARRAY || it->via.array.size != 2 ||
        !mp_as_u64(&it->via.array.ptr[0], &seq))
        return;
    const msgpack_object *rec = &it->via.array.ptr[1];
    if (rec->type == MSGPACK_OBJECT_NIL) {
        user_cache_put(u, conv, seq, NULL, 0);
        return;
    }
    if (rec->type != MSGPACK_OBJECT_BIN)
        return;
    msgpack_unpacked parsed;
    msgpack_unpacked_init(&parsed);
    bool ok = mp_parse(&parsed, rec->via.bin.ptr, rec->via.bin.size);
    msgpack_unpacked_destroy(&parsed);
    if (ok)
        user_cache_put(u, conv, seq, rec->via.bin.ptr, rec->via.bin.size);
}

/* [[seq, record | nil]…], from the conversation (env->sender). A seq it left out is being
 * stored there: if that is the one the session waits for, the tick asks again. Nothing but an
 * explicit nil makes a record "not ours": another session's fetch, or entries that arrived since
 * the request, are no answer about them. */
void user_push_fetched(roost_ctx_t *ctx, user_t *u, pend_t *p, const roost_env_t *env)
{
    session_t *s = user_session(u, p->s);
    if (s && s->fetching)
        s->fetching--;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (!(env->flags & ROOST_ENV_ERROR) && mp_parse(&up, env->payload, env->payload_len) &&
        up.data.type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < up.data.via.array.size; i++)
            s_fetched_item(u, env->sender, &up.data.via.array.ptr[i]);
        if (s && p->a && !s_cached(u, env->sender, p->a))
            s->stalled = true;
    } else if (s) {
        s->stalled = true; /* the conversation did not answer: the tick retries */
    }
    msgpack_unpacked_destroy(&up);
    user_pump(ctx, u);
}
