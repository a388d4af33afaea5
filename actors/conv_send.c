/* actors/conv_send.c — sending into a conversation (permission, dedupe, the next seq, one
 * replicated batch, the answer once durable), history, and records by seq for inboxes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/actors.h"
#include "actors/conv.h"
#include "actors/msgs.h"
#include "actors/record.h"
#include "runtime/errors.h"
#include "runtime/util.h"
#include "shards/store.h"

static const char *const KINDS[] = {"text", "image", "video", "audio", "document", "other"};

enum { BODIES_MAX = 1024 };

/* ---- appending a record ------------------------------------------------------------------ */

typedef struct {
    uint64_t seq;
    base_fn fn;
    void *arg;
} append_t;

static void s_appended(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    conv_t *c = self;
    append_t a = *(append_t *)arg;
    free(arg);
    if (status == ROOST_OK && a.seq > c->durable)
        c->durable = a.seq;
    a.fn(ctx, self, a.arg, status);
    if (status == ROOST_OK)
        conv_fanout_kick(ctx, c);
}

void conv_append(roost_ctx_t *ctx, conv_t *c, uint64_t seq, const mp_buf_t *record,
                 store_ops_t *ops, base_fn fn, void *arg)
{
    akey_t k;
    conv_message_key(c, seq, &k);
    store_ops_put(ops, k.b, k.n, record->sb.data, record->sb.size);
    conv_put_head(c, ops);
    conv_put_index(c, ops);
    append_t *a = roost_xmalloc(sizeof *a);
    *a = (append_t){.seq = seq, .fn = fn, .arg = arg};
    base_write(ctx, &c->base, ops, s_appended, a);
    store_ops_fini(ops);
}

/* ---- send -------------------------------------------------------------------------------- */

typedef struct {
    mp_str_t cmid, kind;
    const msgpack_object *body, *bodies, *meta;
} send_t;

static bool s_kind_valid(mp_str_t k)
{
    for (size_t i = 0; i < sizeof KINDS / sizeof *KINDS; i++)
        if (mp_str_eq(k, KINDS[i]))
            return true;
    return false;
}

/* "<user>:<device>" */
static bool s_body_key_valid(const msgpack_object *k)
{
    mp_str_t s;
    if (!mp_as_str(k, &s))
        return false;
    const char *colon = memchr(s.ptr, ':', s.len);
    return colon && id_parse(s.ptr, (size_t)(colon - s.ptr)) &&
           device_valid(colon + 1, (size_t)(s.ptr + s.len - colon - 1));
}

static bool s_meta_valid(const msgpack_object *m)
{
    if (m->type != MSGPACK_OBJECT_MAP || m->via.map.size > CONV_META_ENTRIES_MAX)
        return false;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        mp_str_t k, v;
        if (!mp_as_str(&m->via.map.ptr[i].key, &k) || !mp_as_str(&m->via.map.ptr[i].val, &v) ||
            k.len == 0 || k.len > 64 || v.len > CONV_META_BYTES_MAX)
            return false;
    }
    return true;
}

/* Field checks in the protocol's precedence; answers and returns false on the first error. */
static bool s_parse_send(roost_ctx_t *ctx, creq_t *r, const roost_env_t *env, send_t *s)
{
    const msgpack_object *f = r->frame;
    mp_str_t to;
    uint64_t id;
    bool is_group;
    if (mp_get_str(f, "to", 3, 32, &to) != MP_OK || !target_parse(to.ptr, to.len, &id, &is_group))
        return client_bad_field(ctx, env, "to"), false;
    if (mp_get_str(f, "cmid", 1, CONV_CMID_BYTES_MAX, &s->cmid) != MP_OK)
        return client_bad_field(ctx, env, "cmid"), false;
    if (mp_get_str(f, "kind", 1, 16, &s->kind) != MP_OK || !s_kind_valid(s->kind))
        return client_bad_field(ctx, env, "kind"), false;
    s->body = mp_get(f, "body");
    s->bodies = mp_get(f, "bodies");
    s->meta = mp_get(f, "meta");
    if ((s->body == NULL) == (s->bodies == NULL))
        return client_err(ctx, env, CODE_BAD_REQUEST, "exactly one of 'body' and 'bodies'"), false;
    if (s->meta && !s_meta_valid(s->meta))
        return client_bad_field(ctx, env, "meta"), false;
    if (s->body) {
        mp_str_t b;
        if (mp_get_bin(f, "body", SIZE_MAX, &b) != MP_OK)
            return client_bad_field(ctx, env, "body"), false;
        if (b.len > CONV_BODY_BYTES_MAX)
            return client_err(ctx, env, CODE_TOO_LARGE, "body over 64 KiB"), false;
        return true;
    }
    const msgpack_object *m = s->bodies;
    if (m->type != MSGPACK_OBJECT_MAP || m->via.map.size == 0 || m->via.map.size > BODIES_MAX)
        return client_bad_field(ctx, env, "bodies"), false;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *v = &m->via.map.ptr[i].val;
        if (!s_body_key_valid(&m->via.map.ptr[i].key) ||
            (v->type != MSGPACK_OBJECT_BIN && v->type != MSGPACK_OBJECT_STR))
            return client_bad_field(ctx, env, "bodies"), false;
        if (v->via.bin.size > CONV_BODY_BYTES_MAX)
            return client_err(ctx, env, CODE_TOO_LARGE, "a body over 64 KiB"), false;
    }
    return true;
}

/* Does `to` name this conversation for this sender? */
static bool s_to_matches(const conv_t *c, creq_t *r)
{
    mp_str_t to;
    uint64_t id;
    bool is_group;
    mp_get_str(r->frame, "to", 3, 32, &to);
    target_parse(to.ptr, to.len, &id, &is_group);
    if (c->group)
        return is_group && id == c->gid;
    uint64_t lo = r->user < id ? r->user : id, hi = r->user < id ? id : r->user;
    return !is_group && lo == c->lo && hi == c->hi;
}

static void s_dedupe_key(const conv_t *c, uint64_t user, const char *device, mp_str_t cmid,
                         akey_t *k)
{
    char id[ID_BYTES_MAX + 1];
    id_format(id, user);
    akey_init(k, c->key, "x/");
    akey_str(k, id);
    akey_str(k, "/");
    akey_str(k, device);
    akey_str(k, "/");
    akey_add(k, cmid.ptr, cmid.len);
}

/* <conv>/xs/<be64 seq> → [user, device, cmid, ts]: the dedupe entries in the order they were
 * made, so the expired ones are found without reading the others. */
static void s_dedupe_index_key(const conv_t *c, uint64_t seq, akey_t *k)
{
    akey_init(k, c->key, "xs/");
    akey_be64(k, seq);
}

typedef struct {
    conv_t *c;
    store_ops_t *ops;
    uint64_t before_ms;
    uint32_t n;
} expire_t;

/* One index row: deletes it and its dedupe entry if older than the retention period (or
 * unreadable); false at the first one still kept (they come in seq order). */
static bool s_expire_row(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                         size_t vlen)
{
    expire_t *e = arg;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *a = &up.data;
    mp_str_t dev, cmid;
    uint64_t user = 0, ts = 0;
    bool ok = mp_parse(&up, val, vlen) && a->type == MSGPACK_OBJECT_ARRAY &&
              a->via.array.size == 4 && mp_as_u64(&a->via.array.ptr[0], &user) &&
              mp_as_str(&a->via.array.ptr[1], &dev) && dev.len <= DEVICE_BYTES_MAX &&
              mp_as_str(&a->via.array.ptr[2], &cmid) && mp_as_u64(&a->via.array.ptr[3], &ts);
    bool expired = !ok || ts < e->before_ms;
    if (expired) {
        if (ok) {
            char device[DEVICE_BYTES_MAX + 1];
            mp_str_copy(dev, device, sizeof device);
            akey_t k;
            s_dedupe_key(e->c, user, device, cmid, &k);
            store_ops_delete(e->ops, k.b, k.n);
        }
        store_ops_delete(e->ops, key, klen);
        e->n++;
    }
    msgpack_unpacked_destroy(&up);
    return expired;
}

/* Adds to ops the deletes of dedupe entries older than the retention period: a retry is
 * answered the same message for that long, never longer. At most CONV_DEDUPE_EXPIRE_MAX per
 * call, and a look at most every CONV_DEDUPE_CHECK_MS (or half the retention, if shorter). */
static void s_dedupe_expire(roost_ctx_t *ctx, conv_t *c, store_ops_t *ops)
{
    uint64_t retention = actors_config(ctx)->retention_ms, now = roost_ctx_wall_ms(ctx);
    uint64_t mono = roost_ctx_now_ns(ctx) / 1000000u + 1, every = CONV_DEDUPE_CHECK_MS;
    if (retention / 2 < every)
        every = retention / 2;
    if ((c->dedupe_checked_ms && mono - c->dedupe_checked_ms < every) || now <= retention)
        return;
    c->dedupe_checked_ms = mono;
    akey_t prefix;
    akey_init(&prefix, c->key, "xs/");
    expire_t e = {.c = c, .ops = ops, .before_ms = now - retention};
    store_scan(ctx, prefix.b, prefix.n, false, CONV_DEDUPE_EXPIRE_MAX, s_expire_row, &e);
    if (e.n == CONV_DEDUPE_EXPIRE_MAX)
        c->dedupe_checked_ms = 0; /* more to do: look again at the next send */
}

static void s_put_dedupe_index(const conv_t *c, const creq_t *r, const send_t *s,
                               const inflight_t *f, store_ops_t *ops)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 4);
    msgpack_pack_uint64(&b.pk, r->user);
    mp_pack_str(&b.pk, r->device);
    mp_pack_strn(&b.pk, s->cmid.ptr, s->cmid.len);
    msgpack_pack_uint64(&b.pk, f->ts);
    akey_t k;
    s_dedupe_index_key(c, f->seq, &k);
    store_ops_put(ops, k.b, k.n, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

static void s_reply_sent(roost_ctx_t *ctx, const conv_t *c, const roost_env_t *env, const char *mid,
                         uint64_t seq, uint64_t ts)
{
    mp_buf_t b;
    client_ok_begin(&b, 4);
    mp_kv_str(&b.pk, "mid", mid);
    mp_kv_str(&b.pk, "conv", c->key);
    mp_kv_u64(&b.pk, "seq", seq);
    mp_kv_u64(&b.pk, "ts", ts);
    client_reply(ctx, env, &b);
    mp_buf_fini(&b);
}

/* An earlier attempt with this cmid: answered from memory (in flight) or from the store. */
static bool s_dedupe(roost_ctx_t *ctx, conv_t *c, creq_t *r, const send_t *s,
                     const roost_env_t *env)
{
    for (inflight_t *f = c->inflight; f; f = f->next) {
        if (f->sender != r->user || strcmp(f->device, r->device) != 0 ||
            !mp_str_eq(s->cmid, f->cmid))
            continue;
        roost_env_t *kept = roost_ctx_keep(ctx);
        kept->next = f->waiters;
        f->waiters = kept;
        return true;
    }
    akey_t k;
    s_dedupe_key(c, r->user, r->device, s->cmid, &k);
    msgpack_unpacked up;
    char mid[40] = "";
    uint64_t seq = 0, ts = 0;
    mp_str_t m;
    bool found = base_get_doc(ctx, k.b, k.n, &up) == ROOST_OK &&
                 mp_get_str(&up.data, "mid", 1, 39, &m) == MP_OK;
    if (found) {
        mp_str_copy(m, mid, sizeof mid);
        mp_get_u64(&up.data, "seq", &seq);
        mp_get_u64(&up.data, "ts", &ts);
    }
    msgpack_unpacked_destroy(&up);
    if (!found)
        return false;
    s_reply_sent(ctx, c, env, mid, seq, ts);
    return true;
}

static void s_new_mid(roost_ctx_t *ctx, uint64_t ts, char out[40])
{
    roost_rng_t *rng = roost_ctx_rng(ctx);
    uint64_t a = roost_rng_next(rng), b = roost_rng_next(rng);
    snprintf(out, 40, "%012llx%04llx%016llx", (unsigned long long)(ts & 0xFFFFFFFFFFFFull),
             (unsigned long long)(a & 0xFFFF), (unsigned long long)b);
}

static void s_sent(roost_ctx_t *ctx, void *self, void *arg, int status)
{
    conv_t *c = self;
    inflight_t *f = arg;
    for (inflight_t **pp = &c->inflight; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            c->ninflight--;
            break;
        }
    for (roost_env_t *e = f->waiters, *next; e; e = next) {
        next = e->next;
        if (status == ROOST_OK)
            s_reply_sent(ctx, c, e, f->mid, f->seq, f->ts);
        else
            client_err(ctx, e, CODE_UNAVAILABLE, "not stored; send again with the same cmid");
        roost_env_free(e);
    }
    free(f);
}

/* The member of a direct conversation who blocks the sender (the message is hidden from
 * them), or 0. */
static uint64_t s_hidden_from(const conv_t *c, uint64_t sender)
{
    if (!c->group && sender == c->lo && c->hi_blocks_lo)
        return c->hi;
    if (!c->group && sender == c->hi && c->lo_blocks_hi)
        return c->lo;
    return 0;
}

static void s_pack_record(roost_ctx_t *ctx, conv_t *c, creq_t *r, const send_t *s,
                          const inflight_t *f, mp_buf_t *b)
{
    uint64_t hide = s_hidden_from(c, r->user);
    (void)ctx;
    msgpack_pack_map(&b->pk, 7 + (s->meta != NULL) + (hide != 0));
    mp_kv_u64(&b->pk, "seq", f->seq);
    mp_kv_str(&b->pk, "mid", f->mid);
    mp_kv_str(&b->pk, "from", r->user_s);
    mp_kv_str(&b->pk, "device", r->device);
    mp_pack_str(&b->pk, "kind");
    mp_pack_strn(&b->pk, s->kind.ptr, s->kind.len);
    mp_kv_u64(&b->pk, "ts", f->ts);
    if (s->body) {
        mp_str_t body;
        mp_get_bin(r->frame, "body", SIZE_MAX, &body);
        mp_pack_str(&b->pk, "body");
        mp_pack_bin(&b->pk, body.ptr, body.len);
    } else {
        mp_pack_str(&b->pk, "bodies");
        msgpack_pack_map(&b->pk, s->bodies->via.map.size);
        for (uint32_t i = 0; i < s->bodies->via.map.size; i++) {
            const msgpack_object_kv *kv = &s->bodies->via.map.ptr[i];
            mp_pack_obj(&b->pk, &kv->key);
            mp_pack_bin(&b->pk, kv->val.via.bin.ptr, kv->val.via.bin.size);
        }
    }
    if (s->meta) {
        mp_pack_str(&b->pk, "meta");
        mp_pack_obj(&b->pk, s->meta);
    }
    if (hide) {
        char id[ID_BYTES_MAX + 1];
        id_format(id, hide);
        mp_pack_str(&b->pk, "hide");
        msgpack_pack_array(&b->pk, 1);
        mp_pack_str(&b->pk, id);
    }
}

/* Calls fn for every "<user>:<device>" a `bodies` map must hold: each member's devices but the
 * sending one. Returns how many. */
static uint32_t s_each_recipient_device(const conv_t *c, const creq_t *r,
                                        void (*fn)(void *arg, const char *key), void *arg)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->nmembers; i++) {
        const member_t *m = &c->members[i];
        const char *d = m->devs;
        for (uint32_t k = 0; !m->left && d && k < m->ndevs; k++, d += strlen(d) + 1) {
            if (m->user == r->user && strcmp(d, r->device) == 0)
                continue;
            char key[ID_BYTES_MAX + DEVICE_BYTES_MAX + 2];
            snprintf(key, sizeof key, "%llu:%s", (unsigned long long)m->user, d);
            if (fn)
                fn(arg, key);
            n++;
        }
    }
    return n;
}

typedef struct {
    const msgpack_object *bodies;
    uint32_t missing;
} bodies_check_t;

static void s_count_missing(void *arg, const char *key)
{
    bodies_check_t *b = arg;
    b->missing += mp_get(b->bodies, key) == NULL;
}

static void s_pack_key(void *arg, const char *key)
{
    mp_pack_str(arg, key);
}

/* A `bodies` map must hold exactly the recipients' current devices; else `conflict` with
 * them listed. */
static bool s_bodies_match(roost_ctx_t *ctx, conv_t *c, creq_t *r, const msgpack_object *bodies,
                           const roost_env_t *env)
{
    bodies_check_t b = {.bodies = bodies};
    uint32_t want = s_each_recipient_device(c, r, s_count_missing, &b);
    if (b.missing == 0 && want == bodies->via.map.size)
        return true;
    mp_buf_t out;
    mp_buf_init(&out);
    msgpack_pack_map(&out.pk, 4);
    mp_kv_str(&out.pk, "t", "err");
    mp_kv_str(&out.pk, "code", CODE_CONFLICT);
    mp_kv_str(&out.pk, "msg", "'bodies' does not match the recipients' devices");
    mp_pack_str(&out.pk, "devices");
    msgpack_pack_array(&out.pk, want);
    s_each_recipient_device(c, r, s_pack_key, &out.pk);
    client_reply(ctx, env, &out);
    mp_buf_fini(&out);
    return false;
}

void conv_on_send(roost_ctx_t *ctx, conv_t *c, creq_t *r, roost_env_t *env)
{
    send_t s;
    if (!s_parse_send(ctx, r, env, &s))
        return;
    if (!s_to_matches(c, r))
        return client_err(ctx, env, CODE_FORBIDDEN, "'to' does not name this conversation");
    if (!conv_direct_ready(ctx, c, env))
        return;
    if (!conv_is_member(c, r->user))
        return client_err(ctx, env, CODE_FORBIDDEN, "not a member of this conversation");
    if (s_dedupe(ctx, c, r, &s, env))
        return;
    if (s.bodies && (!conv_devices_known(ctx, c) || !s_bodies_match(ctx, c, r, s.bodies, env)))
        return;
    if (c->ninflight >= CONV_DEDUPE_INFLIGHT_MAX)
        return client_err(ctx, env, CODE_RATE_LIMITED, "too many sends in flight");
    inflight_t *f = roost_xcalloc(1, sizeof *f);
    f->sender = r->user;
    memcpy(f->device, r->device, sizeof f->device);
    mp_str_copy(s.cmid, f->cmid, sizeof f->cmid);
    f->seq = ++c->head;
    f->ts = roost_ctx_wall_ms(ctx);
    s_new_mid(ctx, f->ts, f->mid);
    f->waiters = roost_ctx_keep(ctx);
    f->waiters->next = NULL;
    f->next = c->inflight;
    c->inflight = f;
    c->ninflight++;
    member_t *m = conv_member(c, r->user);
    m->last_sent = f->seq;
    mp_buf_t rec, dd;
    mp_buf_init(&rec);
    s_pack_record(ctx, c, r, &s, f, &rec);
    mp_buf_init(&dd);
    msgpack_pack_map(&dd.pk, 3);
    mp_kv_str(&dd.pk, "mid", f->mid);
    mp_kv_u64(&dd.pk, "seq", f->seq);
    mp_kv_u64(&dd.pk, "ts", f->ts);
    store_ops_t ops;
    store_ops_init(&ops);
    akey_t k;
    s_dedupe_key(c, r->user, r->device, s.cmid, &k);
    store_ops_put(&ops, k.b, k.n, dd.sb.data, dd.sb.size);
    s_put_dedupe_index(c, r, &s, f, &ops);
    s_dedupe_expire(ctx, c, &ops);
    member_t *blocker = conv_member(c, s_hidden_from(c, r->user));
    if (blocker) { /* no receipt of the blocker's may ever cover it (hidden.h) */
        hidden_add(&blocker->hidden, r->user, f->seq);
        conv_put_member(c, &ops, blocker);
    }
    conv_append(ctx, c, f->seq, &rec, &ops, s_sent, f);
    mp_buf_fini(&rec);
    mp_buf_fini(&dd);
}

void conv_inflight_free(conv_t *c)
{
    for (inflight_t *f = c->inflight, *next; f; f = next) {
        next = f->next;
        for (roost_env_t *e = f->waiters, *en; e; e = en) {
            en = e->next;
            roost_env_free(e);
        }
        free(f);
    }
    c->inflight = NULL;
    c->ninflight = 0;
}

/* ---- history ----------------------------------------------------------------------------- */

/* A page stops at `limit` messages or once it holds HISTORY_BYTES_MAX (at least one message):
 * an answer must fit an envelope and a client's send queue; the client pages on with before. */
enum { HISTORY_SCAN_MAX = 1000, HISTORY_BYTES_MAX = 192 * 1024 };

void conv_on_history(roost_ctx_t *ctx, conv_t *c, creq_t *r, roost_env_t *env)
{
    mp_str_t conv;
    uint64_t before = 0, limit = 50;
    if (mp_get_str(r->frame, "conv", 1, CONV_KEY_BYTES_MAX, &conv) != MP_OK)
        return client_bad_field(ctx, env, "conv");
    if (mp_get_u64(r->frame, "before", &before) == MP_BADTYPE)
        return client_bad_field(ctx, env, "before");
    mp_rc_t lrc = mp_get_u64(r->frame, "limit", &limit);
    if (lrc == MP_BADTYPE || limit == 0 || limit > CONV_HISTORY_MAX)
        return client_bad_field(ctx, env, "limit");
    if (!conv_direct_ready(ctx, c, env))
        return;
    if (!conv_is_member(c, r->user))
        return client_err(ctx, env, CODE_FORBIDDEN, "not a member of this conversation");
    uint64_t floor = conv_member(c, r->user)->joined;
    uint64_t top = before && before - 1 < c->durable ? before - 1 : c->durable;
    mp_buf_t items;
    mp_buf_init(&items);
    uint32_t count = 0;
    for (uint64_t seq = top, scanned = 0;
         seq >= 1 && seq >= floor && count < limit && scanned < HISTORY_SCAN_MAX &&
         items.sb.size < HISTORY_BYTES_MAX;
         seq--, scanned++) {
        void *val;
        size_t len;
        int rc = conv_read_record(ctx, c, seq, &val, &len);
        if (rc == ROOST_ENOTFOUND)
            continue;         /* retention removed it */
        if (rc != ROOST_OK) { /* a page with a silent hole would read as history */
            mp_buf_fini(&items);
            char msg[96];
            snprintf(msg, sizeof msg, "could not read message %llu; retry",
                     (unsigned long long)seq);
            return client_err(ctx, env, client_code_for(rc), msg);
        }
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        if (mp_parse(&up, val, len) && !record_is_event(&up.data) &&
            !record_hidden_for(&up.data, r->user)) {
            record_pack_msg(&items.pk, c->key, &up.data, r->user, r->device, 0);
            count++;
        }
        msgpack_unpacked_destroy(&up);
        free(val);
    }
    mp_buf_t b;
    client_ok_begin(&b, 1);
    mp_pack_str(&b.pk, "msgs");
    msgpack_pack_array(&b.pk, count);
    msgpack_sbuffer_write(&b.sb, items.sb.data, items.sb.size);
    client_reply(ctx, env, &b);
    mp_buf_fini(&b);
    mp_buf_fini(&items);
}

/* ---- records for an inbox (MSG_CONV_FETCH [user, [seq…]] → [[seq, record | nil]…]) -------
 * nil: not the user's to see, removed under retention, or past the head: an inbox entry names
 * it, so it was committed once and lost since (a partition's loss window under `sync: none`);
 * the inbox skips it rather than wait forever (simulator seed 360). A seq being stored (past
 * `durable`, not past `head`) is left out: the user actor asks again. */

enum { FETCH_MAX = 64, FETCH_BYTES_MAX = 768 * 1024 };

void conv_on_fetch(roost_ctx_t *ctx, conv_t *c, roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *a = &up.data;
    mp_str_t user_s;
    if (!mp_parse(&up, env->payload, env->payload_len) || a->type != MSGPACK_OBJECT_ARRAY ||
        a->via.array.size != 2 || !mp_as_str(&a->via.array.ptr[0], &user_s) ||
        a->via.array.ptr[1].type != MSGPACK_OBJECT_ARRAY ||
        a->via.array.ptr[1].via.array.size > FETCH_MAX) {
        msgpack_unpacked_destroy(&up);
        roost_ctx_reply_error(ctx, env, ROOST_EPROTO);
        return;
    }
    member_t *m = conv_member(c, id_parse(user_s.ptr, user_s.len));
    const msgpack_object *seqs = &a->via.array.ptr[1];
    mp_buf_t b;
    mp_buf_init(&b);
    uint32_t found = 0;
    mp_buf_t items;
    mp_buf_init(&items);
    for (uint32_t i = 0; i < seqs->via.array.size && items.sb.size < FETCH_BYTES_MAX; i++) {
        uint64_t seq;
        if (!mp_as_u64(&seqs->via.array.ptr[i], &seq) || (seq > c->durable && seq <= c->head))
            continue; /* being stored: left out, asked again later */
        void *val = NULL;
        size_t len = 0;
        int rc = seq > c->head ? ROOST_ENOTFOUND /* never issued here: lost with its writes */
                 : m && conv_member_had(m, seq) ? conv_read_record(ctx, c, seq, &val, &len)
                                                : ROOST_ENOTFOUND; /* not this user's to see */
        if (rc == ROOST_ENOTFOUND) { /* …or retention removed it: nil, the inbox skips it */
            msgpack_pack_array(&items.pk, 2);
            msgpack_pack_uint64(&items.pk, seq);
            msgpack_pack_nil(&items.pk);
            found++;
            continue;
        }
        if (rc != ROOST_OK) { /* not "gone": the user actor asks again later */
            mp_buf_fini(&items);
            mp_buf_fini(&b);
            msgpack_unpacked_destroy(&up);
            roost_ctx_reply_error(ctx, env, rc);
            return;
        }
        msgpack_pack_array(&items.pk, 2);
        msgpack_pack_uint64(&items.pk, seq);
        mp_pack_bin(&items.pk, val, len);
        free(val);
        found++;
    }
    msgpack_pack_array(&b.pk, found);
    msgpack_sbuffer_write(&b.sb, items.sb.data, items.sb.size);
    roost_ctx_reply(ctx, env, MSG_CONV_FETCH, b.sb.data, b.sb.size);
    mp_buf_fini(&items);
    mp_buf_fini(&b);
    msgpack_unpacked_destroy(&up);
}
