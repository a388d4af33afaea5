/* actors/user_sessions.c — live sessions: auth/resume, renewals and expiry, acknowledgements
 * and cursors (with the delivered watermarks they report), and read. Pushing is user_push.c.
 *
 * A session is one connection of one device on some edge (its node-local key). It is pushed
 * every durable entry after what it already got, at most USER_PUSH_WINDOW beyond the device's
 * cursor (the client's acks open the window), never twice on one connection, and never the
 * sender's own message back to the device that sent it. A msg entry is a reference: its record
 * comes from a small cache (filled by deliver) or from the conversation (MSG_CONV_FETCH).
 * Registrations last `session_ttl_ms` (30 s) unless renewed; the edge renews every 10 s (and a
 * renewal of a session this actor does not know re-creates it: after a failover the sessions
 * come back by themselves).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/msgs.h"
#include "actors/user.h"
#include "runtime/errors.h"
#include "runtime/util.h"
#include "shards/store.h"

/* ---- sessions ---------------------------------------------------------------------------- */

session_t *user_session(user_t *u, const char *key)
{
    for (uint32_t i = 0; i < u->nsessions; i++)
        if (strcmp(u->sessions[i].key, key) == 0)
            return &u->sessions[i];
    return NULL;
}

static void s_kick_key(roost_ctx_t *ctx, const char *key, const char *reason)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 2);
    msgpack_pack_uint32(&b.pk, 1008);
    mp_pack_str(&b.pk, reason);
    roost_ctx_send(ctx, key, MSG_KICK, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

static void s_kick(roost_ctx_t *ctx, const session_t *s, const char *reason)
{
    s_kick_key(ctx, s->key, reason);
}

static void s_drop_session(roost_ctx_t *ctx, user_t *u, session_t *s)
{
    user_unwatch_all(ctx, u, s);
    free(s->watches);
    *s = u->sessions[--u->nsessions];
}

static void s_went_offline(roost_ctx_t *ctx, user_t *u)
{
    u->last_seen_ms = roost_ctx_wall_ms(ctx);
    store_ops_t ops;
    store_ops_init(&ops);
    user_put_u64(u, &ops, "s", u->last_seen_ms);
    base_write(ctx, &u->base, &ops, NULL, NULL);
    store_ops_fini(&ops);
    user_presence_changed(ctx, u);
}

static session_t *s_register(roost_ctx_t *ctx, user_t *u, const char *key, const char *device,
                             uint64_t pushed)
{
    session_t *s = user_session(u, key);
    bool was_online = u->nsessions > 0;
    if (!s) {
        if (u->nsessions == USER_SESSIONS_MAX) { /* the oldest registration gives way */
            session_t *old = &u->sessions[0];
            for (uint32_t i = 1; i < u->nsessions; i++)
                if (u->sessions[i].expires_ns < old->expires_ns)
                    old = &u->sessions[i];
            s_kick(ctx, old, "too many sessions");
            s_drop_session(ctx, u, old);
        }
        s = &u->sessions[u->nsessions++];
        memset(s, 0, sizeof *s);
        snprintf(s->key, sizeof s->key, "%s", key);
    }
    snprintf(s->device, sizeof s->device, "%s", device);
    s->expires_ns = roost_ctx_now_ns(ctx) + user_session_ttl_ns(ctx);
    s->pushed = pushed;
    s->released = pushed;
    s->inflight = 0;
    s->last_sent = s->prev_sent = 0; /* a new registration: its first event carries prev 0 */
    s->stalled = false;
    s->authed = true; /* auth clears it until its answer is out */
    user_ensure_tick(ctx, u);
    if (!was_online)
        user_presence_changed(ctx, u);
    return s;
}

/* ---- cursors and delivered watermarks ----------------------------------------------------- */

typedef struct {
    char conv[CONV_KEY_BYTES_MAX + 1];
    uint64_t seq;
} mark_t;

/* The inbox prefix that some device has acknowledged all of. Device d covers (start_n, cursor]
 * — a device added later never had what came before it — so the prefix grows through every
 * device whose span begins inside it. What lies past a gap no device acknowledged is not
 * "delivered", whichever device acknowledged it: a receipt is a prefix ("up to seq"), and a new
 * device's acks must not vouch for messages its user's other devices have not had yet (found
 * by the simulator with two devices per user, seed 280). */
static uint64_t s_covered_prefix(const user_t *u)
{
    uint64_t p = u->first_n ? u->first_n - 1 : 0; /* entries below first_n are gone */
    for (bool grew = true; grew;) {
        grew = false;
        for (uint32_t i = 0; i < u->ndevices; i++)
            if (u->devices[i].start_n <= p && u->devices[i].cursor > p) {
                p = u->devices[i].cursor;
                grew = true;
            }
    }
    return p;
}

/* Moves d's cursor to n; puts the cursor and, per conversation, the highest seq of others'
 * messages in what the covered prefix gained (the delivered watermark, reported to the
 * conversation once durable). */
static uint32_t s_advance(roost_ctx_t *ctx, user_t *u, device_t *d, uint64_t n, store_ops_t *ops,
                          mark_t *marks, uint32_t cap)
{
    uint32_t nmarks = 0;
    uint64_t was = s_covered_prefix(u);
    d->cursor = n;
    uint64_t now = s_covered_prefix(u);
    for (uint64_t i = user_skip_gap(u, was + 1 > u->first_n ? was + 1 : u->first_n); i <= now;
         i = user_skip_gap(u, i + 1)) {
        msgpack_unpacked e;
        if (!user_read_entry(ctx, u, i, &e))
            continue;
        mp_str_t t, conv, from;
        uint64_t seq = 0;
        if (mp_get_str(&e.data, "t", 1, 16, &t) == MP_OK && mp_str_eq(t, "msg") &&
            mp_get_str(&e.data, "conv", 1, CONV_KEY_BYTES_MAX, &conv) == MP_OK &&
            mp_get_str(&e.data, "from", 1, ID_BYTES_MAX, &from) == MP_OK &&
            id_parse(from.ptr, from.len) != u->id && mp_get_u64(&e.data, "seq", &seq) == MP_OK) {
            uint32_t j = 0;
            while (j < nmarks && !mp_str_eq(conv, marks[j].conv))
                j++;
            if (j == nmarks && nmarks < cap)
                mp_str_copy(conv, marks[nmarks++].conv, sizeof marks[0].conv);
            if (j < nmarks && seq > marks[j].seq)
                marks[j].seq = seq;
        }
        msgpack_unpacked_destroy(&e);
    }
    user_put_cursor(u, ops, d);
    for (uint32_t j = 0; j < nmarks; j++) {
        akey_t k, v = {.n = 0};
        akey_init(&k, u->key, "w/");
        akey_str(&k, marks[j].conv);
        akey_be64(&v, marks[j].seq);
        store_ops_put(ops, k.b, k.n, v.b, v.n);
    }
    return nmarks;
}

static void s_send_acked(roost_ctx_t *ctx, user_t *u, const char *conv, uint64_t seq)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 3);
    mp_pack_str(&b.pk, u->id_s);
    msgpack_pack_uint64(&b.pk, seq);
    user_pack_hidden(ctx, u, conv, &b.pk);
    uint64_t corr = 0;
    if (roost_ctx_request(ctx, conv, MSG_ACKED, b.sb.data, b.sb.size, 0, &corr) == ROOST_OK) {
        pend_t *p = pend_add(&u->pend, corr, PEND_ACKED, NULL);
        snprintf(p->s, sizeof p->s, "%s", conv);
        p->a = seq;
        user_ensure_tick(ctx, u);
    }
    mp_buf_fini(&b);
}

typedef struct {
    user_t *u;
    roost_ctx_t *ctx;
    size_t prefix;
} acks_scan_t;

static bool s_pending_row(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                          size_t vlen)
{
    acks_scan_t *s = arg;
    char conv[CONV_KEY_BYTES_MAX + 1];
    size_t len = klen - s->prefix;
    if (vlen != 8 || len == 0 || len > CONV_KEY_BYTES_MAX)
        return true;
    memcpy(conv, key + s->prefix, len);
    conv[len] = '\0';
    s_send_acked(s->ctx, s->u, conv, akey_get_be64(val));
    return true;
}

int user_load_pending_acks(roost_ctx_t *ctx, user_t *u)
{
    akey_t k;
    akey_init(&k, u->key, "w/");
    acks_scan_t scan = {.u = u, .ctx = ctx, .prefix = k.n};
    int n = store_scan(ctx, k.b, k.n, false, 1000, s_pending_row, &scan);
    return n < 0 ? n : ROOST_OK;
}

typedef struct {
    roost_env_t *req; /* NULL: nothing to answer */
    mark_t marks[16];
    uint32_t nmarks;
    uint64_t from_n;
    bool auth;
    char session[ROOST_KEY_BYTES_MAX + 1];
} acked_t;

static void s_reply_auth(roost_ctx_t *ctx, user_t *u, const acked_t *a)
{
    creq_t r;
    if (!creq_parse(&r, a->req))
        return;
    mp_buf_t b;
    client_ok_begin(&b, 2 + (a->from_n > 0));
    mp_kv_str(&b.pk, "user", u->id_s);
    mp_kv_str(&b.pk, "device", r.device);
    if (a->from_n)
        mp_kv_u64(&b.pk, "from_n", a->from_n);
    client_reply(ctx, a->req, &b);
    mp_buf_fini(&b);
    creq_fini(&r);
}

static void s_cursor_stored(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    user_t *u = self;
    acked_t *a = arg;
    if (a->req && status != ROOST_OK)
        client_err(ctx, a->req, CODE_UNAVAILABLE, "not stored; try again");
    else if (a->req && a->auth)
        s_reply_auth(ctx, u, a);
    session_t *s = a->auth ? user_session(u, a->session) : NULL;
    if (s)
        s->authed = true;
    else if (a->req)
        client_ok(ctx, a->req);
    if (status == ROOST_OK)
        for (uint32_t i = 0; i < a->nmarks; i++)
            s_send_acked(ctx, u, a->marks[i].conv, a->marks[i].seq);
    roost_env_free(a->req);
    free(a);
    user_pump(ctx, u);
}

/* Cursor to n (if ahead), then answer req once durable. */
static void s_ack_to(roost_ctx_t *ctx, user_t *u, device_t *d, uint64_t n, acked_t *a,
                     bool write_anyway)
{
    if (n <= d->cursor && write_anyway) {
        store_ops_t ops;
        store_ops_init(&ops);
        user_put_cursor(u, &ops, d);
        base_write(ctx, &u->base, &ops, s_cursor_stored, a);
        store_ops_fini(&ops);
        return;
    }
    if (n <= d->cursor) {
        base_after(ctx, &u->base, s_cursor_stored, a);
        return;
    }
    store_ops_t ops;
    store_ops_init(&ops);
    a->nmarks = s_advance(ctx, u, d, n, &ops, a->marks, 16);
    base_write(ctx, &u->base, &ops, s_cursor_stored, a);
    store_ops_fini(&ops);
}

/* ---- requests ---------------------------------------------------------------------------- */

void user_on_auth(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env)
{
    uint64_t resume = 0;
    mp_rc_t rc = mp_get_u64(r->frame, "resume", &resume);
    if (rc == MP_BADTYPE)
        return client_bad_field(ctx, env, "resume");
    device_t *d = user_device(u, r->device);
    if (!d)
        return client_err(ctx, env, CODE_UNAUTHORIZED, "device not registered");
    uint64_t gen = 0; /* the access token's family generation, put in by the edge */
    if (mp_get_u64(r->frame, "gen", &gen) == MP_OK && gen != d->gen)
        return client_err(ctx, env, CODE_UNAUTHORIZED, "token revoked");
    if (resume > u->durable_n)
        return client_err(ctx, env, CODE_BAD_REQUEST, "resume is above the inbox head");
    if (!r->session[0])
        return client_bad_field(ctx, env, "session");
    acked_t *a = roost_xcalloc(1, sizeof *a);
    a->req = roost_ctx_keep(ctx);
    a->auth = true;
    uint64_t start = resume > d->cursor ? resume : d->cursor;
    if (start + 1 < u->first_n) {
        a->from_n = u->first_n;
        start = u->first_n - 1;
    }
    if (d->from_n) {
        a->from_n = d->from_n > a->from_n ? d->from_n : a->from_n;
        d->from_n = 0;
    }
    s_register(ctx, u, r->session, r->device, start)->authed = false;
    snprintf(a->session, sizeof a->session, "%s", r->session);
    s_ack_to(ctx, u, d, resume, a, a->from_n > 0);
}

void user_on_ack(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env)
{
    uint64_t n;
    if (mp_get_u64(r->frame, "n", &n) != MP_OK)
        return client_bad_field(ctx, env, "n");
    device_t *d = user_device(u, r->device);
    if (!d)
        return client_err(ctx, env, CODE_UNAUTHORIZED, "device not registered");
    if (n > u->durable_n)
        return client_err(ctx, env, CODE_BAD_REQUEST, "n is above the inbox head");
    acked_t *a = roost_xcalloc(1, sizeof *a);
    a->req = roost_ctx_keep(ctx);
    s_ack_to(ctx, u, d, n, a, false);
}

void user_on_read(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env)
{
    mp_str_t conv;
    uint64_t seq, lo, hi, gid;
    if (mp_get_str(r->frame, "conv", 3, CONV_KEY_BYTES_MAX, &conv) != MP_OK ||
        !conv_parse(conv.ptr, conv.len, &lo, &hi, &gid))
        return client_bad_field(ctx, env, "conv");
    if (mp_get_u64(r->frame, "seq", &seq) != MP_OK || seq == 0)
        return client_bad_field(ctx, env, "seq");
    if (!gid && lo != u->id && hi != u->id)
        return client_err(ctx, env, CODE_FORBIDDEN, "not a member of this conversation");
    char key[CONV_KEY_BYTES_MAX + 1];
    mp_str_copy(conv, key, sizeof key);
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 4);
    mp_pack_str(&b.pk, u->id_s);
    msgpack_pack_uint64(&b.pk, seq);
    if (u->read_receipts)
        msgpack_pack_true(&b.pk);
    else
        msgpack_pack_false(&b.pk);
    user_pack_hidden(ctx, u, key, &b.pk);
    uint64_t corr = 0;
    if (roost_ctx_request(ctx, key, MSG_READ, b.sb.data, b.sb.size, 0, &corr) == ROOST_OK)
        pend_add(&u->pend, corr, PEND_READ, roost_ctx_keep(ctx));
    else
        client_err(ctx, env, CODE_UNAVAILABLE, "try again");
    mp_buf_fini(&b);
}

void user_on_renew(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *a = &up.data;
    mp_str_t dev, key;
    char device[DEVICE_BYTES_MAX + 1], skey[ROOST_KEY_BYTES_MAX + 1];
    uint64_t pushed = 0;
    if (mp_parse(&up, env->payload, env->payload_len) && a->type == MSGPACK_OBJECT_ARRAY &&
        a->via.array.size >= 2 && mp_as_str(&a->via.array.ptr[0], &dev) &&
        mp_as_str(&a->via.array.ptr[1], &key) && mp_str_copy(dev, device, sizeof device) &&
        mp_str_copy(key, skey, sizeof skey) && key.len > 0) {
        if (a->via.array.size >= 3)
            mp_as_u64(&a->via.array.ptr[2], &pushed);
        session_t *s = user_session(u, skey);
        device_t *d = user_device(u, device);
        if (s) {
            s->expires_ns = roost_ctx_now_ns(ctx) + user_session_ttl_ns(ctx);
        } else if (d) { /* we lost it (failover, passivation): it comes back */
            uint64_t start = pushed > d->cursor && pushed <= u->durable_n ? pushed : d->cursor;
            s_register(ctx, u, skey, device, start);
            user_pump(ctx, u);
        } else {
            s_kick_key(ctx, skey, "device not registered");
        }
    }
    msgpack_unpacked_destroy(&up);
}

/* The session an edge's [device, session, n?] names (NULL if malformed or unknown); *n gets
 * the third item when there is one. */
static session_t *s_named_session(user_t *u, const roost_env_t *env, uint64_t *n)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *a = &up.data;
    mp_str_t key;
    char skey[ROOST_KEY_BYTES_MAX + 1];
    session_t *s = NULL;
    if (mp_parse(&up, env->payload, env->payload_len) && a->type == MSGPACK_OBJECT_ARRAY &&
        a->via.array.size >= 2 && mp_as_str(&a->via.array.ptr[1], &key) &&
        mp_str_copy(key, skey, sizeof skey) &&
        (a->via.array.size < 3 || mp_as_u64(&a->via.array.ptr[2], n)))
        s = user_session(u, skey);
    msgpack_unpacked_destroy(&up);
    return s;
}

void user_on_resend(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    uint64_t from = UINT64_MAX;
    session_t *s = s_named_session(u, env, &from);
    device_t *d = s ? user_device(u, s->device) : NULL;
    if (d && from < s->pushed) { /* rewind: what follows `from` goes again, in order */
        s->pushed = from > d->cursor ? from : d->cursor;
        s->last_sent = from; /* the next event's prev: what the session has */
        s->prev_sent = 0;
        if (s->released > s->pushed)
            s->released = s->pushed;
        s->inflight = 0;
        s->stalled = false;
        user_pump(ctx, u);
    }
}

void user_on_close(roost_ctx_t *ctx, user_t *u, roost_env_t *env)
{
    uint64_t unused = 0;
    session_t *s = s_named_session(u, env, &unused);
    if (s) {
        s_drop_session(ctx, u, s);
        if (u->nsessions == 0)
            s_went_offline(ctx, u);
    }
}

void user_kick_all(roost_ctx_t *ctx, user_t *u, const char *reason)
{
    while (u->nsessions) {
        s_kick(ctx, &u->sessions[0], reason);
        s_drop_session(ctx, u, &u->sessions[0]);
    }
}

bool user_sessions_answer(roost_ctx_t *ctx, user_t *u, pend_t *p, const roost_env_t *env)
{
    if (p->kind == PEND_FETCH) {
        user_push_fetched(ctx, u, p, env);
        return true;
    }
    if (p->kind == PEND_ACKED) {
        if (env->flags & ROOST_ENV_ERROR) {
            u->acks_retry = true;
            return true;
        }
        store_ops_t ops; /* confirmed: forget it, unless a newer watermark replaced it */
        store_ops_init(&ops);
        akey_t k;
        akey_init(&k, u->key, "w/");
        akey_str(&k, p->s);
        uint64_t pending = 0;
        if (base_get_u64(ctx, k.b, k.n, &pending) == ROOST_OK && pending && pending <= p->a)
            store_ops_delete(&ops, k.b, k.n);
        if (ops.count)
            base_write(ctx, &u->base, &ops, NULL, NULL);
        store_ops_fini(&ops);
        return true;
    }
    if (p->kind == PEND_EXPIRED) {
        if (env->flags & ROOST_ENV_ERROR) {
            if (env->status != ROOST_ENOTFOUND) /* the sender's account is gone: forget it */
                u->acks_retry = true;
            if (env->status != ROOST_ENOTFOUND)
                return true;
        }
        store_ops_t ops;
        store_ops_init(&ops);
        akey_t k;
        akey_init(&k, u->key, "e/");
        akey_be64(&k, p->a);
        store_ops_delete(&ops, k.b, k.n);
        base_write(ctx, &u->base, &ops, NULL, NULL);
        store_ops_fini(&ops);
        return true;
    }
    if (p->kind == PEND_READ) {
        const char *code = NULL;
        if (env->flags & ROOST_ENV_ERROR)
            code = env->status == ROOST_EINVAL      ? CODE_FORBIDDEN
                   : env->status == ROOST_ENOTFOUND ? CODE_NOT_FOUND
                                                    : CODE_UNAVAILABLE;
        if (code)
            client_err(ctx, p->req, code,
                       strcmp(code, CODE_FORBIDDEN) == 0   ? "not a member of this conversation"
                       : strcmp(code, CODE_NOT_FOUND) == 0 ? "no such message"
                                                           : "try again");
        else
            client_ok(ctx, p->req);
        return true;
    }
    return false;
}

void user_sessions_tick(roost_ctx_t *ctx, user_t *u)
{
    uint64_t now = roost_ctx_now_ns(ctx);
    bool dropped = false;
    for (uint32_t i = 0; i < u->nsessions;) {
        session_t *s = &u->sessions[i];
        if (s->expires_ns <= now) {
            s_drop_session(ctx, u, s);
            dropped = true;
            continue;
        }
        s->stalled = false;
        user_push_probe(ctx, u, s);
        i++;
    }
    if (dropped && u->nsessions == 0)
        s_went_offline(ctx, u);
    if (u->acks_retry) { /* watermarks and expired notices not confirmed yet */
        u->acks_retry = false;
        user_load_pending_acks(ctx, u);
        user_send_expired(ctx, u);
    }
    user_retention(ctx, u);
    user_pump(ctx, u);
}
