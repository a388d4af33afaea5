/* edge/session.c — a client's WebSocket session: the node-local actor
 * "@<edge>:<slot>/ws/<gen>-<boot>" (kind "@ws") of one connection.
 *
 * Its host hands it each raw frame (MSG_EDGE_IN); it decodes (edge/codec.c), counts bad frames
 * (over the per-minute limit: close 1008), checks the access token of the first frame, `auth`
 * (signature and expiry here; the token family's generation at the user actor, to which the
 * frame goes with `gen` put in), and forwards every later request from its own key to the actor
 * that serves it (edge/route.c), so answers and pushes come back here in order. Sends to one
 * conversation go one at a time (their `seq` follow the order they were sent). Frames that
 * arrive while `auth` is under way wait for it. Answers and pushes are encoded for the client
 * and posted to the session's host (edge/session.h: the edge's loop). The registration at the user actor is renewed every 10 s with the
 * highest `n` pushed; when the connection closes the user actor is told, and the actor goes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/client.h"
#include "actors/ids.h"
#include "actors/mp.h"
#include "actors/msgs.h"
#include "actors/push.h"
#include "edge/session.h"
#include "edge/route.h"
#include "runtime/errors.h"
#include "runtime/util.h"

enum {
    RENEW_MS = 10000,
    AUTH_DEADLINE_MS = 30000, /* a connection that has not authenticated by then is closed */
    REQUEST_TIMEOUT_MS = 15000,
    EARLY_FRAMES_MAX = 64, /* frames held while auth is under way */
    TAG_RENEW = 1,
    TAG_AUTH_DEADLINE = 2,
};

typedef struct pend {
    struct pend *next;
    uint64_t corr;
    bool is_auth, is_send, quiet;
    uint8_t rid[CODEC_RID_BYTES_MAX + 16];
    size_t rid_len;
    char target[ROOST_KEY_BYTES_MAX + 1];
    uint8_t *payload; /* a waiting send's MSG_CLIENT payload */
    size_t len;
} pend_t;

typedef struct {
    const session_host_t *host;
    uint32_t slot, gen;
    uint8_t codec;
    bool open, authing, authed, closing;
    char user[ID_BYTES_MAX + 1];
    uint64_t user_id;
    char device[DEVICE_BYTES_MAX + 1];
    uint64_t pushed_n;            /* the last inbox event forwarded, in order */
    uint64_t resend_n, resend_ms; /* the last MSG_SESSION_RESEND asked (push.h) */
    uint32_t bad;
    uint64_t bad_since_ms;
    pend_t *inflight, *waiting;
    roost_env_t *early, *early_tail;
    uint32_t nearly;
} sess_t;

/* ---- to the client ----------------------------------------------------------------------- */

static void s_post(sess_t *s, out_op_t op, uint16_t code, const void *data, size_t len)
{
    s->host->post(s->host->arg, s->slot, s->gen, op, code, data, len);
}

static void s_send_err(sess_t *s, const uint8_t *rid, size_t rid_len, const char *code,
                       const char *msg)
{
    char *out;
    size_t olen;
    if (codec_error((codec_kind_t)s->codec, rid, rid_len, code, msg, &out, &olen) != 0)
        return;
    s_post(s, OUT_DATA, 0, out, olen);
    free(out);
}

/* An actor's answer or event for the client; an answer that is not a map (a server bug) still
 * gets its answer: internal. */
static void s_send_map(sess_t *s, const void *map, size_t len, const uint8_t *rid, size_t rid_len)
{
    char *out;
    size_t olen;
    if (codec_encode((codec_kind_t)s->codec, map, len, rid, rid_len, &out, &olen) != 0) {
        if (rid_len)
            s_send_err(s, rid, rid_len, "internal", "the server could not encode its answer");
        return;
    }
    s_post(s, OUT_DATA, 0, out, olen);
    free(out);
}

static void s_close(sess_t *s, uint16_t code, const char *reason)
{
    if (s->closing)
        return;
    s->closing = true;
    s_post(s, OUT_CLOSE, code, reason, strlen(reason));
}

/* A refused frame: its error, and the connection closed past the per-minute limit. */
static void s_bad(roost_ctx_t *ctx, sess_t *s, const uint8_t *rid, size_t rid_len, const char *code,
                  const char *msg)
{
    metrics_counter_add(s->host->bad_frames, 1);
    s_send_err(s, rid, rid_len, code, msg);
    uint64_t now = roost_ctx_now_ns(ctx) / 1000000u;
    if (now - s->bad_since_ms >= 60000u) {
        s->bad_since_ms = now;
        s->bad = 0;
    }
    if (++s->bad > s->host->bad_frames_per_minute) {
        metrics_counter_add(s->host->bad_closed, 1);
        s_close(s, 1008, "too many bad frames");
    }
}

/* ---- to the actors ----------------------------------------------------------------------- */

static pend_t *s_pend_new(const frame_t *f, const char *target)
{
    pend_t *p = roost_xcalloc(1, sizeof *p);
    memcpy(p->rid, f->rid, f->rid_len);
    p->rid_len = f->rid_len;
    snprintf(p->target, sizeof p->target, "%s", target);
    return p;
}

static void s_pend_free(pend_t *p)
{
    free(p->payload);
    free(p);
}

static void s_dispatch(roost_ctx_t *ctx, sess_t *s, pend_t *p)
{
    if (roost_ctx_request(ctx, p->target, MSG_CLIENT, p->payload, p->len, REQUEST_TIMEOUT_MS,
                          &p->corr) != ROOST_OK) {
        if (!p->quiet)
            s_send_err(s, p->rid, p->rid_len, "unavailable", "cannot reach the service");
        s_pend_free(p);
        return;
    }
    free(p->payload);
    p->payload = NULL;
    p->next = s->inflight;
    s->inflight = p;
}

static bool s_busy(const pend_t *list, const char *target)
{
    for (; list; list = list->next)
        if (list->is_send && strcmp(list->target, target) == 0)
            return true;
    return false;
}

/* Forwards a frame (payload already encoded in p); a send waits behind one to its conv. */
static void s_forward(roost_ctx_t *ctx, sess_t *s, pend_t *p)
{
    if (p->is_send && (s_busy(s->inflight, p->target) || s_busy(s->waiting, p->target))) {
        pend_t **tail = &s->waiting;
        while (*tail)
            tail = &(*tail)->next;
        *tail = p;
        return;
    }
    s_dispatch(ctx, s, p);
}

static void s_encode_request(sess_t *s, const roost_ctx_t *ctx, pend_t *p, const void *map,
                             size_t len)
{
    mp_buf_t b;
    mp_buf_init(&b);
    creq_encode(&b, s->user, s->device, roost_ctx_self(ctx), map, len);
    p->payload = roost_xmalloc(b.sb.size);
    memcpy(p->payload, b.sb.data, b.sb.size);
    p->len = b.sb.size;
    mp_buf_fini(&b);
}

/* The next waiting send to the conversation whose send just finished. */
static void s_next_send(roost_ctx_t *ctx, sess_t *s, const char *target)
{
    for (pend_t **pp = &s->waiting; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->target, target) != 0)
            continue;
        pend_t *p = *pp;
        *pp = p->next;
        s_dispatch(ctx, s, p);
        return;
    }
}

/* ---- auth -------------------------------------------------------------------------------- */

/* The auth frame for the user actor: the client's map without `token` (and any `gen` it
 * sent), with the token's generation. */
static void s_auth_frame(const msgpack_object *map, uint64_t gen, mp_buf_t *b)
{
    uint32_t keep = 0;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        mp_str_t k;
        if (mp_as_str(&map->via.map.ptr[i].key, &k) && !mp_str_eq(k, "token") &&
            !mp_str_eq(k, "gen"))
            keep++;
    }
    msgpack_pack_map(&b->pk, keep + 1);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        mp_str_t k;
        if (!mp_as_str(&map->via.map.ptr[i].key, &k) || mp_str_eq(k, "token") ||
            mp_str_eq(k, "gen"))
            continue;
        mp_pack_obj(&b->pk, &map->via.map.ptr[i].key);
        mp_pack_obj(&b->pk, &map->via.map.ptr[i].val);
    }
    mp_kv_u64(&b->pk, "gen", gen);
}

static void s_auth(roost_ctx_t *ctx, sess_t *s, const frame_t *f)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    mp_str_t tok;
    char token[4096];
    access_t a;
    if (!mp_parse(&up, f->map.data, f->map.size) ||
        mp_get_str(&up.data, "token", 1, sizeof token - 1, &tok) != MP_OK ||
        !mp_str_copy(tok, token, sizeof token) ||
        tokens_verify(s->host->tokens, token, roost_ctx_wall_ms(ctx) / 1000, &a) != 0) {
        msgpack_unpacked_destroy(&up);
        metrics_counter_add(s->host->auth_failed, 1);
        s_send_err(s, f->rid, f->rid_len, "unauthorized", "invalid or expired token");
        s_close(s, 1008, "unauthorized");
        return;
    }
    s->user_id = a.user;
    id_format(s->user, a.user);
    snprintf(s->device, sizeof s->device, "%s", a.device);
    mp_buf_t fb;
    mp_buf_init(&fb);
    s_auth_frame(&up.data, a.gen, &fb);
    msgpack_unpacked_destroy(&up);
    char target[ID_BYTES_MAX + 3];
    id_key(target, 'u', a.user);
    pend_t *p = s_pend_new(f, target);
    p->is_auth = true;
    s_encode_request(s, ctx, p, fb.sb.data, fb.sb.size);
    mp_buf_fini(&fb);
    s->authing = true;
    s_dispatch(ctx, s, p);
}

static void s_authed(roost_ctx_t *ctx, sess_t *s)
{
    s->authed = true;
    s->authing = false;
    metrics_counter_add(s->host->auth_ok, 1);
    roost_ctx_timer_start(ctx, RENEW_MS, RENEW_MS, TAG_RENEW);
    roost_env_t *early = s->early;
    s->early = s->early_tail = NULL;
    s->nearly = 0;
    if (early)
        roost_ctx_unstash(ctx, early);
}

/* ---- frames from the client -------------------------------------------------------------- */

static void s_request(roost_ctx_t *ctx, sess_t *s, const frame_t *f)
{
    char target[ROOST_KEY_BYTES_MAX + 1];
    codec_err_t err;
    if (strcmp(f->t, "auth") == 0)
        return s_bad(ctx, s, f->rid, f->rid_len, "bad_request", "already authenticated");
    if (route_target(f, s->user_id, target, &err) != 0)
        return s_bad(ctx, s, f->rid, f->rid_len, err.code, err.msg);
    pend_t *p = s_pend_new(f, target);
    p->is_send = strcmp(f->t, "send") == 0;
    p->quiet = f->rid_len == 0 && strcmp(f->t, "recv.ack") == 0;
    s_encode_request(s, ctx, p, f->map.data, f->map.size);
    s_forward(ctx, s, p);
}

static void s_frame(roost_ctx_t *ctx, sess_t *s, roost_env_t *env)
{
    if (s->closing || env->payload_len == 0)
        return;
    uint8_t flags = env->payload[0];
    s->codec = flags & EDGE_IN_CODEC_MASK;
    s->open = true;
    if (s->authing) { /* wait for auth's answer, in order */
        if (s->nearly++ == EARLY_FRAMES_MAX)
            return s_close(s, 1008, "too many frames before auth");
        roost_env_t *kept = roost_ctx_keep(ctx);
        kept->next = NULL;
        if (s->early_tail)
            s->early_tail->next = kept;
        else
            s->early = kept;
        s->early_tail = kept;
        return;
    }
    if (flags & EDGE_IN_TOO_LARGE)
        return s_bad(ctx, s, NULL, 0, "too_large", "frame over the limit");
    frame_t f;
    codec_err_t err;
    if (codec_decode((codec_kind_t)s->codec, env->payload + 1, env->payload_len - 1,
                     s->host->frame_bytes, &f, &err) != 0) {
        s_bad(ctx, s, f.rid, f.rid_len, err.code, err.msg);
    } else if (s->authed) {
        s_request(ctx, s, &f);
    } else if (strcmp(f.t, "auth") != 0) {
        s_send_err(s, f.rid, f.rid_len, "unauthorized", "the first frame must be auth");
        s_close(s, 1008, "unauthorized");
    } else {
        s_auth(ctx, s, &f);
    }
    frame_fini(&f);
}

/* ---- answers and pushes ------------------------------------------------------------------ */

static pend_t *s_take(sess_t *s, uint64_t corr)
{
    for (pend_t **pp = &s->inflight; *pp; pp = &(*pp)->next)
        if ((*pp)->corr == corr) {
            pend_t *p = *pp;
            *pp = p->next;
            return p;
        }
    return NULL;
}

static void s_answer(roost_ctx_t *ctx, sess_t *s, const roost_env_t *env)
{
    pend_t *p = s_take(s, env->corr);
    if (!p)
        return;
    bool ok = env->status == ROOST_OK && env->type == MSG_CLIENT_REPLY;
    if (p->is_auth) {
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        mp_str_t t;
        bool welcome = ok && mp_parse(&up, env->payload, env->payload_len) &&
                       mp_get_str(&up.data, "t", 1, 8, &t) == MP_OK && mp_str_eq(t, "ok");
        msgpack_unpacked_destroy(&up);
        if (ok)
            s_send_map(s, env->payload, env->payload_len, p->rid, p->rid_len);
        else
            s_send_err(s, p->rid, p->rid_len, client_code_for(env->status), "auth failed");
        if (welcome) {
            s_authed(ctx, s);
        } else {
            metrics_counter_add(s->host->auth_failed, 1);
            s_close(s, ok ? 1008 : 1011, ok ? "unauthorized" : "try again");
        }
    } else if (!p->quiet) {
        if (ok)
            s_send_map(s, env->payload, env->payload_len, p->rid, p->rid_len);
        else
            s_send_err(s, p->rid, p->rid_len, client_code_for(env->status),
                       "the service did not answer");
    }
    if (p->is_send)
        s_next_send(ctx, s, p->target);
    s_pend_free(p);
}

/* MSG_SESSION_RENEW / RESEND [device, session, n] or MSG_SESSION_CLOSE [device, session]. */
static void s_tell_user(roost_ctx_t *ctx, sess_t *s, uint32_t type)
{
    char target[ID_BYTES_MAX + 3];
    id_key(target, 'u', s->user_id);
    mp_buf_t b;
    mp_buf_init(&b);
    bool with_n = type == MSG_SESSION_RENEW || type == MSG_SESSION_RESEND;
    msgpack_pack_array(&b.pk, with_n ? 3 : 2);
    mp_pack_str(&b.pk, s->device);
    mp_pack_str(&b.pk, roost_ctx_self(ctx));
    if (with_n)
        msgpack_pack_uint64(&b.pk, s->pushed_n);
    roost_ctx_send(ctx, target, type, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

/* A live frame (typing, presence): forwarded as it is. */
static void s_push(sess_t *s, const roost_env_t *env)
{
    if (s->authed && !s->closing)
        s_send_map(s, env->payload, env->payload_len, NULL, 0);
}

/* An inbox event [prev, frame]: forwarded in order, a duplicate dropped, a gap repaired by
 * asking the user actor to push again after the last one forwarded (push.h). At most one ask
 * per second for the same point (the ask itself may be lost). */
static void s_push_event(roost_ctx_t *ctx, sess_t *s, const roost_env_t *env)
{
    if (!s->authed || s->closing)
        return;
    msgpack_unpacked up, fr;
    msgpack_unpacked_init(&up);
    msgpack_unpacked_init(&fr);
    const msgpack_object *a = &up.data;
    uint64_t prev = 0, n = 0;
    if (mp_parse(&up, env->payload, env->payload_len) && a->type == MSGPACK_OBJECT_ARRAY &&
        a->via.array.size == 2 && mp_as_u64(&a->via.array.ptr[0], &prev) &&
        a->via.array.ptr[1].type == MSGPACK_OBJECT_BIN &&
        mp_parse(&fr, a->via.array.ptr[1].via.bin.ptr, a->via.array.ptr[1].via.bin.size) &&
        mp_get_u64(&fr.data, "n", &n) == MP_OK) {
        push_verdict_t v = push_verdict(s->pushed_n, prev, n);
        uint64_t now = roost_ctx_now_ns(ctx) / 1000000u;
        if (v == PUSH_IN_ORDER) {
            s->pushed_n = n;
            s_send_map(s, a->via.array.ptr[1].via.bin.ptr, a->via.array.ptr[1].via.bin.size, NULL,
                       0);
        } else if (v == PUSH_GAP && (s->resend_n != s->pushed_n || now - s->resend_ms >= 1000)) {
            s->resend_n = s->pushed_n;
            s->resend_ms = now;
            s_tell_user(ctx, s, MSG_SESSION_RESEND);
        }
    }
    msgpack_unpacked_destroy(&fr);
    msgpack_unpacked_destroy(&up);
}

static void s_kick(sess_t *s, const roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    uint64_t code = 1008;
    mp_str_t reason = {"closed by the server", 20};
    if (mp_parse(&up, env->payload, env->payload_len) && up.data.type == MSGPACK_OBJECT_ARRAY &&
        up.data.via.array.size == 2) {
        mp_as_u64(&up.data.via.array.ptr[0], &code);
        mp_as_str(&up.data.via.array.ptr[1], &reason);
    }
    char r[64];
    snprintf(r, sizeof r, "%.*s", (int)(reason.len < 63 ? reason.len : 63), reason.ptr);
    msgpack_unpacked_destroy(&up);
    s_close(s, code >= 1000 && code < 5000 ? (uint16_t)code : 1008, r);
}

/* ---- the registration at the user actor --------------------------------------------------- */

static void s_gone(roost_ctx_t *ctx, sess_t *s)
{
    if (s->authed)
        s_tell_user(ctx, s, MSG_SESSION_CLOSE);
    s->authed = false;
    s->closing = true;
    roost_ctx_passivate(ctx);
}

/* ---- the behaviour ----------------------------------------------------------------------- */

bool conn_of_key(const char *key, uint32_t *slot, uint32_t *gen)
{
    roost_local_key_t k;
    const char *g = strrchr(key, '/');
    if (!g || !roost_key_parse_local(key, strlen(key), &k))
        return false;
    *slot = k.partition;
    *gen = (uint32_t)strtoul(g + 1, NULL, 10);
    return true;
}

static int s_activate(roost_ctx_t *ctx, void **state)
{
    uint32_t slot, gen;
    if (!conn_of_key(roost_ctx_self(ctx), &slot, &gen))
        return ROOST_EINVAL;
    sess_t *s = roost_xcalloc(1, sizeof *s);
    s->host = roost_ctx_service(ctx, SESSION_HOST_SERVICE);
    s->slot = slot;
    s->gen = gen;
    s->codec = CODEC_JSON;
    *state = s;
    return s->host ? ROOST_OK : ROOST_EINVAL;
}

static void s_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    sess_t *s = state;
    if (env->flags & ROOST_ENV_RESPONSE)
        return s_answer(ctx, s, env);
    switch (env->type) {
    case MSG_EDGE_IN:
        if (!s->open)
            roost_ctx_timer_start(ctx, AUTH_DEADLINE_MS, 0, TAG_AUTH_DEADLINE);
        return s_frame(ctx, s, env);
    case MSG_EDGE_CLOSED:
        return s_gone(ctx, s);
    case MSG_PUSH:
        return s_push(s, env);
    case MSG_PUSH_EVENT:
        return s_push_event(ctx, s, env);
    case MSG_KICK:
        return s_kick(s, env);
    default:
        break;
    }
    if (!s->open) /* a stray message for a connection that is gone */
        roost_ctx_passivate(ctx);
}

static void s_timer(roost_ctx_t *ctx, void *state, uint64_t timer_id, uint64_t tag)
{
    (void)timer_id;
    sess_t *s = state;
    if (tag == TAG_RENEW && s->authed && !s->closing)
        s_tell_user(ctx, s, MSG_SESSION_RENEW);
    else if (tag == TAG_AUTH_DEADLINE && !s->authed)
        s_close(s, 1008, "no auth");
}

static void s_passivate(roost_ctx_t *ctx, void *state)
{
    (void)ctx;
    sess_t *s = state;
    while (s->inflight) {
        pend_t *n = s->inflight->next;
        s_pend_free(s->inflight);
        s->inflight = n;
    }
    while (s->waiting) {
        pend_t *n = s->waiting->next;
        s_pend_free(s->waiting);
        s->waiting = n;
    }
    while (s->early) {
        roost_env_t *n = s->early->next;
        roost_env_free(s->early);
        s->early = n;
    }
    free(s);
}

const roost_behaviour_t session_behaviour = {.kind = "@ws",
                                             .on_activate = s_activate,
                                             .on_message = s_message,
                                             .on_timer = s_timer,
                                             .on_passivate = s_passivate};
