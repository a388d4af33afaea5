/* actors/conv.c — the conversation actor (d: and g:): activation, its durable layout, loading
 * and dispatch. Durable layout (schemas/messaging.md), keys in the conversation's partition:
 *   <conv>/h                 {head, fdone, lbh, hbl}   head seq, fan-out done, direct blocks
 *   <conv>/g                 {name, max, creator, cmid} group settings
 *   <conv>/u/<user>          {joined, left, role, fanout, delivered, read, rd, rr, sent,
 *                            ow, of (owed: re-added before its fan-out caught up),
 *                            pw (past memberships [[joined, left], …]), hid}
 *   <conv>/m/<be64 seq>      the record: a message or (groups) an event
 *   <conv>/x/<user>/<device>/<cmid>  {mid, seq, ts}   the send's dedupe entry
 *   ~f/<conv>                ""   the partition's index of conversations with fan-out to finish
 */
#include "actors/conv.h"

#include <stdlib.h>
#include <string.h>

#include "actors/actors.h"
#include "actors/msgs.h"
#include "runtime/errors.h"
#include "runtime/fault.h"
#include "runtime/log.h"
#include "runtime/util.h"
#include "shards/store.h"

member_t *conv_member(conv_t *c, uint64_t user)
{
    for (uint32_t i = 0; i < c->nmembers; i++)
        if (c->members[i].user == user)
            return &c->members[i];
    return NULL;
}

bool conv_is_member(conv_t *c, uint64_t user)
{
    member_t *m = conv_member(c, user);
    return m && m->left == 0;
}

/* A member added back keeps its last membership among its past ones (the oldest goes). */
static void s_remember_window(member_t *m)
{
    if (m->npast == CONV_PAST_WINDOWS) {
        memmove(m->past[0], m->past[1], (CONV_PAST_WINDOWS - 1) * sizeof m->past[0]);
        m->npast--;
    }
    m->past[m->npast][0] = m->joined;
    m->past[m->npast][1] = m->left;
    m->npast++;
}

bool conv_member_had(const member_t *m, uint64_t seq)
{
    if (seq >= m->joined && (!m->left || seq <= m->left))
        return true;
    for (uint32_t i = 0; i < m->npast; i++)
        if (seq >= m->past[i][0] && seq <= m->past[i][1])
            return true;
    return false;
}

member_t *conv_add_member(conv_t *c, uint64_t user, uint64_t joined, uint8_t role)
{
    member_t *m = conv_member(c, user);
    if (!m) {
        if (c->nmembers == c->cap) {
            c->cap = c->cap ? c->cap * 2 : 4;
            c->members = roost_xrealloc(c->members, c->cap * sizeof *c->members);
        }
        m = &c->members[c->nmembers++];
        memset(m, 0, sizeof *m);
        m->user = user;
    } else if (m->left) {          /* back after a removal */
        if (m->fanout < m->left) { /* the floor of the window it is owed the rest of: taken
                                    * before the mark, or it reads a stale one (sim seed 3111) */
            m->owed_floor = conv_member_floor(m);
            m->owed_upto = m->left;
        }
        s_remember_window(m);
    }
    m->joined = joined;
    m->left = 0;
    m->role = role;
    if (joined && !m->owed_upto && m->fanout < joined - 1)
        m->fanout = joined - 1;
    m->dirty = true;
    return m;
}

uint64_t conv_member_floor(const member_t *m)
{
    if (m->owed_upto)
        return m->owed_floor;
    return m->joined ? m->joined - 1 : 0;
}

void conv_members_free(conv_t *c)
{
    for (uint32_t i = 0; i < c->nmembers; i++)
        free(c->members[i].devs);
    free(c->members);
    c->members = NULL;
    c->nmembers = c->cap = 0;
}

void conv_message_key(const conv_t *c, uint64_t seq, akey_t *k)
{
    akey_init(k, c->key, "m/");
    akey_be64(k, seq);
}

int conv_read_record(roost_ctx_t *ctx, conv_t *c, uint64_t seq, void **val, size_t *vlen)
{
    akey_t k;
    conv_message_key(c, seq, &k);
    int rc = store_get(ctx, k.b, k.n, val, vlen);
    if (rc == ROOST_OK && roost_fault("conv.read_record")) { /* a disk read error */
        free(*val);
        *val = NULL;
        rc = ROOST_EIO;
    }
    return rc;
}

void conv_put_head(conv_t *c, store_ops_t *ops)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 4);
    mp_kv_u64(&b.pk, "head", c->head);
    mp_kv_u64(&b.pk, "fdone", c->fanout_done);
    mp_kv_bool(&b.pk, "lbh", c->lo_blocks_hi);
    mp_kv_bool(&b.pk, "hbl", c->hi_blocks_lo);
    akey_t k;
    akey_init(&k, c->key, "h");
    store_ops_put(ops, k.b, k.n, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

void conv_put_index(conv_t *c, store_ops_t *ops)
{
    if (c->indexed)
        return;
    akey_t f = {.n = 0};
    akey_str(&f, "~f/");
    akey_str(&f, c->key);
    store_ops_put(ops, f.b, f.n, "", 0);
    c->indexed = true;
}

void conv_put_member(conv_t *c, store_ops_t *ops, const member_t *m)
{
    char id[ID_BYTES_MAX + 1];
    id_format(id, m->user);
    akey_t k;
    akey_init(&k, c->key, "u/");
    akey_str(&k, id);
    mp_buf_t b;
    mp_buf_init(&b);
    bool hid = !hidden_empty(&m->hidden);
    msgpack_pack_map(&b.pk, 9 + hid + 2 * (m->owed_upto != 0) + (m->npast != 0));
    mp_kv_u64(&b.pk, "joined", m->joined);
    mp_kv_u64(&b.pk, "left", m->left);
    mp_kv_u64(&b.pk, "role", m->role);
    mp_kv_u64(&b.pk, "fanout", m->fanout);
    mp_kv_u64(&b.pk, "delivered", m->delivered);
    mp_kv_u64(&b.pk, "read", m->read);
    mp_kv_u64(&b.pk, "rd", m->rcpt_delivered_ok); /* a crash re-sends what is unconfirmed */
    mp_kv_u64(&b.pk, "rr", m->rcpt_read_ok);
    mp_kv_u64(&b.pk, "sent", m->last_sent);
    if (m->owed_upto) {
        mp_kv_u64(&b.pk, "ow", m->owed_upto);
        mp_kv_u64(&b.pk, "of", m->owed_floor);
    }
    if (m->npast) {
        mp_pack_str(&b.pk, "pw");
        msgpack_pack_array(&b.pk, m->npast);
        for (uint32_t i = 0; i < m->npast; i++) {
            msgpack_pack_array(&b.pk, 2);
            msgpack_pack_uint64(&b.pk, m->past[i][0]);
            msgpack_pack_uint64(&b.pk, m->past[i][1]);
        }
    }
    if (hid) {
        mp_pack_str(&b.pk, "hid");
        hidden_pack(&b.pk, &m->hidden);
    }
    store_ops_put(ops, k.b, k.n, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

void conv_put_meta(conv_t *c, store_ops_t *ops)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 4);
    mp_kv_str(&b.pk, "name", c->name);
    mp_kv_u64(&b.pk, "max", c->max_members);
    mp_kv_u64(&b.pk, "creator", c->creator);
    mp_kv_str(&b.pk, "cmid", c->create_cmid);
    akey_t k;
    akey_init(&k, c->key, "g");
    store_ops_put(ops, k.b, k.n, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

void conv_arm(roost_ctx_t *ctx, conv_t *c, int tag, bool *armed, uint64_t ms)
{
    (void)c;
    if (*armed)
        return;
    *armed = true;
    roost_ctx_timer_start(ctx, ms, 0, (uint64_t)tag);
}

/* ---- loading ----------------------------------------------------------------------------- */

static uint64_t s_u64(const msgpack_object *map, const char *key)
{
    uint64_t v = 0;
    mp_get_u64(map, key, &v);
    return v;
}

static int s_load_head(roost_ctx_t *ctx, conv_t *c)
{
    akey_t k;
    akey_init(&k, c->key, "h");
    msgpack_unpacked up;
    int rc = base_get_doc(ctx, k.b, k.n, &up);
    if (rc == ROOST_OK) {
        c->head = c->durable = s_u64(&up.data, "head");
        c->fanout_done = s_u64(&up.data, "fdone");
        mp_get_bool(&up.data, "lbh", &c->lo_blocks_hi);
        mp_get_bool(&up.data, "hbl", &c->hi_blocks_lo);
        c->exists = true;
    }
    msgpack_unpacked_destroy(&up);
    return rc == ROOST_ENOTFOUND ? ROOST_OK : rc;
}

static int s_load_meta(roost_ctx_t *ctx, conv_t *c)
{
    akey_t k;
    akey_init(&k, c->key, "g");
    msgpack_unpacked up;
    mp_str_t s;
    int rc = base_get_doc(ctx, k.b, k.n, &up);
    if (rc == ROOST_OK) {
        if (mp_get_str(&up.data, "name", 0, CONV_NAME_BYTES_MAX, &s) == MP_OK)
            mp_str_copy(s, c->name, sizeof c->name);
        if (mp_get_str(&up.data, "cmid", 0, CONV_CMID_BYTES_MAX, &s) == MP_OK)
            mp_str_copy(s, c->create_cmid, sizeof c->create_cmid);
        c->max_members = (uint32_t)s_u64(&up.data, "max");
        c->creator = s_u64(&up.data, "creator");
        c->exists = true;
    }
    msgpack_unpacked_destroy(&up);
    return rc == ROOST_ENOTFOUND ? ROOST_OK : rc;
}

typedef struct {
    conv_t *c;
    size_t prefix;
    int rc;
} member_scan_t;

/* "pw": [[joined, left], …] (absent: none); false if malformed. */
static bool s_past_windows(const msgpack_object *pw, member_t *m)
{
    m->npast = 0;
    if (!pw)
        return true;
    if (pw->type != MSGPACK_OBJECT_ARRAY || pw->via.array.size > CONV_PAST_WINDOWS)
        return false;
    for (uint32_t i = 0; i < pw->via.array.size; i++) {
        const msgpack_object *w = &pw->via.array.ptr[i];
        if (w->type != MSGPACK_OBJECT_ARRAY || w->via.array.size != 2 ||
            !mp_as_u64(&w->via.array.ptr[0], &m->past[i][0]) ||
            !mp_as_u64(&w->via.array.ptr[1], &m->past[i][1]))
            return false;
    }
    m->npast = pw->via.array.size;
    return true;
}

static bool s_member_row(void *arg, const uint8_t *key, size_t klen, const uint8_t *val,
                         size_t vlen)
{
    member_scan_t *s = arg;
    uint64_t user = id_parse((const char *)key + s->prefix, klen - s->prefix);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (!user || !mp_parse(&up, val, vlen)) {
        msgpack_unpacked_destroy(&up);
        s->rc = ROOST_EPROTO;
        return false;
    }
    member_t *m =
        conv_add_member(s->c, user, s_u64(&up.data, "joined"), (uint8_t)s_u64(&up.data, "role"));
    m->left = s_u64(&up.data, "left");
    m->fanout = s_u64(&up.data, "fanout");
    m->delivered = s_u64(&up.data, "delivered");
    m->read = s_u64(&up.data, "read");
    m->rcpt_delivered = m->rcpt_delivered_ok = s_u64(&up.data, "rd");
    m->rcpt_read = m->rcpt_read_ok = s_u64(&up.data, "rr");
    m->last_sent = s_u64(&up.data, "sent");
    m->owed_upto = s_u64(&up.data, "ow");
    m->owed_floor = s_u64(&up.data, "of");
    if (!s_past_windows(mp_get(&up.data, "pw"), m)) {
        msgpack_unpacked_destroy(&up);
        s->rc = ROOST_EPROTO;
        return false;
    }
    const msgpack_object *hid = mp_get(&up.data, "hid");
    if (hid && !hidden_parse(hid, &m->hidden)) {
        msgpack_unpacked_destroy(&up);
        s->rc = ROOST_EPROTO;
        return false;
    }
    m->dirty = false;
    msgpack_unpacked_destroy(&up);
    return true;
}

static int s_load(roost_ctx_t *ctx, void *self)
{
    conv_t *c = self;
    c->era = base_fence(ctx);
    int rc = s_load_head(ctx, c);
    if (rc == ROOST_OK && c->group)
        rc = s_load_meta(ctx, c);
    if (rc != ROOST_OK)
        return rc;
    akey_t k;
    akey_init(&k, c->key, "u/");
    member_scan_t scan = {.c = c, .prefix = k.n};
    int n = store_scan(ctx, k.b, k.n, false, 0, s_member_row, &scan);
    if (n < 0)
        return n;
    if (scan.rc != ROOST_OK)
        return scan.rc;
    if (!c->group) { /* the two users are members from the start, recorded or not */
        if (!conv_member(c, c->lo))
            conv_add_member(c, c->lo, 0, ROLE_MEMBER)->dirty = false;
        if (!conv_member(c, c->hi))
            conv_add_member(c, c->hi, 0, ROLE_MEMBER)->dirty = false;
    }
    bool receipts = conv_receipts_unsettled(c);
    c->indexed = c->fanout_done < c->durable || receipts;
    conv_fanout_kick(ctx, c); /* anything acknowledged but not yet in every inbox */
    if (receipts)             /* … and receipts handed out but never confirmed: sent again */
        conv_arm(ctx, c, CONV_TIMER_RECEIPTS, &c->receipts_armed, CONV_RECEIPT_MS);
    return ROOST_OK;
}

static void s_reset(roost_ctx_t *ctx, void *self)
{
    conv_t *c = self;
    conv_inflight_free(c);
    conv_users_reset(c);
    conv_members_free(c);
    pend_clear(&c->pend);
    base_t base = c->base;
    char key[sizeof c->key];
    memcpy(key, c->key, sizeof key);
    bool group = c->group;
    uint64_t lo = c->lo, hi = c->hi, gid = c->gid;
    memset(c, 0, sizeof *c);
    c->base = base;
    memcpy(c->key, key, sizeof key);
    c->group = group, c->lo = lo, c->hi = hi, c->gid = gid;
    c->max_members = actors_config(ctx)->group_max_members;
}

static int s_activate(roost_ctx_t *ctx, void **state)
{
    const char *key = roost_ctx_self(ctx);
    conv_t *c = roost_xcalloc(1, sizeof *c);
    if (!conv_parse(key, strlen(key), &c->lo, &c->hi, &c->gid) ||
        strlen(key) > CONV_KEY_BYTES_MAX) {
        free(c);
        return ROOST_ENOTFOUND;
    }
    memcpy(c->key, key, strlen(key) + 1);
    c->group = c->gid != 0;
    c->max_members = actors_config(ctx)->group_max_members;
    base_init(&c->base, c, s_load, s_reset);
    *state = c;
    return ROOST_OK;
}

static void s_passivate(roost_ctx_t *ctx, void *state)
{
    conv_t *c = state;
    base_fini(ctx, &c->base);
    s_reset(ctx, c);
    free(c);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static void s_client(roost_ctx_t *ctx, conv_t *c, roost_env_t *env)
{
    creq_t r;
    if (!creq_parse(&r, env)) {
        if (env->flags & ROOST_ENV_REQUEST)
            client_err(ctx, env, CODE_BAD_REQUEST, "malformed request");
        return;
    }
    if (mp_str_eq(r.t, "send"))
        conv_on_send(ctx, c, &r, env);
    else if (mp_str_eq(r.t, "history"))
        conv_on_history(ctx, c, &r, env);
    else if (mp_str_eq(r.t, "typing"))
        conv_on_typing(ctx, c, &r, env);
    else if (!c->group || !group_on_client(ctx, c, &r, env))
        client_err(ctx, env, CODE_BAD_REQUEST, "unknown request type for a conversation");
    creq_fini(&r);
}

static void s_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    conv_t *c = state;
    if (base_filter(ctx, &c->base, env))
        return;
    if (env->flags & ROOST_ENV_RESPONSE) {
        if (!conv_receipt_answer(ctx, c, env))
            conv_fanout_answer(ctx, c, env);
        return;
    }
    switch (env->type) {
    case MSG_CLIENT:
        s_client(ctx, c, env);
        break;
    case MSG_CONV_FETCH:
        conv_on_fetch(ctx, c, env);
        break;
    case MSG_ACKED:
        conv_on_acked(ctx, c, env);
        break;
    case MSG_READ:
        conv_on_read(ctx, c, env);
        break;
    case MSG_BLOCK_SET:
        conv_on_block_set(ctx, c, env);
        break;
    case MSG_GROUP_CREATE:
        if (c->group)
            group_on_create(ctx, c, env);
        else
            roost_ctx_reply_error(ctx, env, ROOST_EINVAL);
        break;
    case MSG_FANOUT_WAKE:
        conv_fanout_kick(ctx, c);
        break;
    case MSG_DEVICES_CHANGED:
        conv_on_devices_changed(c, env);
        break;
    default:
        if (env->flags & ROOST_ENV_REQUEST)
            roost_ctx_reply_error(ctx, env, ROOST_EINVAL);
    }
}

static void s_timer(roost_ctx_t *ctx, void *state, uint64_t id, uint64_t tag)
{
    (void)id;
    conv_t *c = state;
    if (base_timer(ctx, &c->base, tag) || !base_ready(&c->base))
        return;
    switch (tag) {
    case CONV_TIMER_FANOUT:
        c->fanout_armed = false;
        conv_fanout_timer(ctx, c);
        break;
    case CONV_TIMER_CHECKPOINT:
        c->checkpoint_armed = false;
        conv_checkpoint(ctx, c);
        break;
    case CONV_TIMER_RECEIPTS:
        c->receipts_armed = false;
        conv_receipts_timer(ctx, c);
        break;
    case CONV_TIMER_TYPING:
        c->typing_armed = false;
        conv_typing_timer(ctx, c);
        break;
    }
}

const roost_behaviour_t conv_direct_behaviour = {.kind = "d",
                                                 .on_activate = s_activate,
                                                 .on_message = s_message,
                                                 .on_timer = s_timer,
                                                 .on_passivate = s_passivate};

const roost_behaviour_t conv_group_behaviour = {.kind = "g",
                                                .on_activate = s_activate,
                                                .on_message = s_message,
                                                .on_timer = s_timer,
                                                .on_passivate = s_passivate};
