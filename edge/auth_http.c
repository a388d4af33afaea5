/* edge/auth_http.c — one HTTP auth request: the node-local actor
 * "@<edge>:<slot>/http/<gen>-<boot>" (kind "@http"). The loop has checked the body; this actor
 * does the steps with the shards' actors and posts the HTTP answer:
 *
 *   otp/request  MSG_OTP_REQUEST to p:<phone> → the code to the SMS driver → 202 {}
 *                (429 past 3 an hour per number)
 *   otp/verify   MSG_OTP_VERIFY to p:<phone> (the first verify creates the account) →
 *                MSG_TOKEN_ISSUE to u:<user> → a signed access token → 200 {user, access_token,
 *                refresh_token, expires_in} (401 wrong, expired or used code)
 *   refresh      MSG_TOKEN_REFRESH to u:<user> (the token names its user and device) → 200
 *                with a new pair (401: unknown or spent; a spent one revokes the family)
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/ids.h"
#include "actors/mp.h"
#include "actors/msgs.h"
#include "edge/edge_internal.h"
#include "edge/sms.h"
#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/util.h"

static const char *const COMP = "edge";

enum { STEP_TIMEOUT_MS = 10000, TOKEN_BYTES_MAX = 256 };

typedef struct {
    edge_t *edge;
    uint32_t slot, gen;
    uint8_t op;
    bool answered;
    uint64_t user;
    char phone[PHONE_BYTES_MAX + 1];
    char code[8];
    char device[DEVICE_BYTES_MAX + 1];
    char token[TOKEN_BYTES_MAX + 1];
} req_t;

static void s_answer(roost_ctx_t *ctx, req_t *r, uint16_t status, const char *body)
{
    if (!r->answered)
        edge_post(r->edge, out_new(r->slot, r->gen, OUT_HTTP, status, body, strlen(body)));
    r->answered = true;
    roost_ctx_passivate(ctx);
}

static void s_error(roost_ctx_t *ctx, req_t *r, uint16_t status, const char *code, const char *msg)
{
    json_t *j = json_pack("{s:s, s:s}", "code", code, "msg", msg);
    char *body = json_dumps(j, JSON_COMPACT);
    s_answer(ctx, r, status, body);
    free(body);
    json_decref(j);
}

/* Failures of a step: the actor's refusal, or the cluster not answering. */
static void s_failed(roost_ctx_t *ctx, req_t *r, int status)
{
    if (status == ROOST_EACCES)
        s_error(ctx, r, 401, "unauthorized",
                r->op == AUTH_REFRESH ? "invalid or spent refresh token"
                                      : "wrong, expired or used code");
    else if (status == ROOST_ELIMIT)
        s_error(ctx, r, 429, "rate_limited", "too many codes requested for this number");
    else if (status == ROOST_ETOOBIG)
        s_error(ctx, r, 403, "forbidden", "this account has the most devices it may have");
    else if (status == ROOST_ENOTFOUND)
        s_error(ctx, r, 401, "unauthorized", "no such account or device");
    else {
        ROOST_WARN(COMP, "auth request failed", "op=%u err=%s", r->op, roost_strerror(status));
        s_error(ctx, r, 503, "unavailable", "the service did not answer; try again");
    }
}

static void s_ask(roost_ctx_t *ctx, req_t *r, const char *target, uint32_t type, const mp_buf_t *b)
{
    int rc = roost_ctx_request(ctx, target, type, b->sb.data, b->sb.size, STEP_TIMEOUT_MS, NULL);
    if (rc != ROOST_OK)
        s_failed(ctx, r, rc);
}

/* ---- the steps --------------------------------------------------------------------------- */

static void s_start(roost_ctx_t *ctx, req_t *r)
{
    char target[ROOST_KEY_BYTES_MAX + 1];
    mp_buf_t b;
    mp_buf_init(&b);
    if (r->op == AUTH_OTP_REQUEST) {
        snprintf(target, sizeof target, "p:%s", r->phone);
        msgpack_pack_array(&b.pk, 0);
        s_ask(ctx, r, target, MSG_OTP_REQUEST, &b);
    } else if (r->op == AUTH_OTP_VERIFY) {
        snprintf(target, sizeof target, "p:%s", r->phone);
        msgpack_pack_array(&b.pk, 2);
        mp_pack_str(&b.pk, r->code);
        mp_pack_str(&b.pk, r->device);
        s_ask(ctx, r, target, MSG_OTP_VERIFY, &b);
    } else {
        id_key(target, 'u', r->user);
        msgpack_pack_array(&b.pk, 2);
        mp_pack_str(&b.pk, r->device);
        mp_pack_str(&b.pk, r->token);
        s_ask(ctx, r, target, MSG_TOKEN_REFRESH, &b);
    }
    mp_buf_fini(&b);
}

static void s_send_code(roost_ctx_t *ctx, req_t *r, const char *code)
{
    const edge_config_t *cfg = &r->edge->cfg;
    if (strcmp(cfg->sms_driver, "webhook") == 0) {
        json_t *j = json_pack("{s:s, s:s, s:s+}", "phone", r->phone, "code", code, "text",
                              "Your Roost code is ", code);
        char *body = json_dumps(j, JSON_COMPACT);
        edge_post(r->edge, out_new(0, 0, OUT_SMS, 0, body, strlen(body)));
        free(body);
        json_decref(j);
    } else if (sms_file_send(cfg->sms_path, r->phone, code) != 0) {
        ROOST_ERROR(COMP, "cannot write the sms file", "path=%s", cfg->sms_path);
        return s_error(ctx, r, 503, "unavailable", "cannot send the code");
    }
    s_answer(ctx, r, 202, "{}");
}

static void s_issue(roost_ctx_t *ctx, req_t *r, uint64_t user)
{
    r->user = user;
    char target[ID_BYTES_MAX + 3];
    id_key(target, 'u', user);
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 1);
    mp_pack_str(&b.pk, r->device);
    s_ask(ctx, r, target, MSG_TOKEN_ISSUE, &b);
    mp_buf_fini(&b);
}

/* [refresh token, gen] → the pair. */
static void s_tokens(roost_ctx_t *ctx, req_t *r, const msgpack_object *a)
{
    mp_str_t refresh;
    uint64_t gen;
    char *access = NULL, rt[TOKEN_BYTES_MAX + 1];
    if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != 2 ||
        !mp_as_str(&a->via.array.ptr[0], &refresh) || !mp_str_copy(refresh, rt, sizeof rt) ||
        !mp_as_u64(&a->via.array.ptr[1], &gen) ||
        tokens_sign(&r->edge->cfg.tokens, r->user, r->device, gen, roost_ctx_wall_ms(ctx) / 1000,
                    &access) != 0)
        return s_error(ctx, r, 500, "internal", "cannot issue the tokens");
    char user[ID_BYTES_MAX + 1];
    id_format(user, r->user);
    uint32_t ttl = r->edge->cfg.tokens.ttl_s ? r->edge->cfg.tokens.ttl_s : TOKENS_TTL_S;
    json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "user", user, "access_token", access,
                          "refresh_token", rt, "expires_in", (json_int_t)ttl);
    char *body = json_dumps(j, JSON_COMPACT);
    s_answer(ctx, r, 200, body);
    free(body);
    json_decref(j);
    free(access);
}

static void s_reply(roost_ctx_t *ctx, req_t *r, const roost_env_t *env)
{
    if (env->status != ROOST_OK)
        return s_failed(ctx, r, env->status);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (!mp_parse(&up, env->payload, env->payload_len)) {
        msgpack_unpacked_destroy(&up);
        return s_failed(ctx, r, ROOST_EPROTO);
    }
    mp_str_t s;
    if (env->type == MSG_OTP_REQUEST && up.data.type == MSGPACK_OBJECT_ARRAY &&
        up.data.via.array.size == 1 && mp_as_str(&up.data.via.array.ptr[0], &s) && s.len == 6) {
        char code[8];
        mp_str_copy(s, code, sizeof code);
        s_send_code(ctx, r, code);
    } else if (r->op == AUTH_OTP_VERIFY && !r->user && up.data.type == MSGPACK_OBJECT_MAP &&
               mp_get_str(&up.data, "user", 1, ID_BYTES_MAX, &s) == MP_OK) { /* the claim */
        s_issue(ctx, r, id_parse(s.ptr, s.len));
    } else if (env->type == MSG_TOKEN_ISSUE || env->type == MSG_TOKEN_REFRESH) {
        s_tokens(ctx, r, &up.data);
    } else {
        s_failed(ctx, r, ROOST_EPROTO);
    }
    msgpack_unpacked_destroy(&up);
}

/* ---- the request ------------------------------------------------------------------------- */

/* "rt1.<user>.<device>.<secret>": the user and device it names. */
static bool s_parse_refresh(req_t *r)
{
    const char *p = r->token;
    if (strncmp(p, "rt1.", 4) != 0)
        return false;
    p += 4;
    const char *dot = strchr(p, '.');
    const char *dot2 = dot ? strchr(dot + 1, '.') : NULL;
    if (!dot || !dot2 || (size_t)(dot2 - dot - 1) > DEVICE_BYTES_MAX)
        return false;
    r->user = id_parse(p, (size_t)(dot - p));
    snprintf(r->device, sizeof r->device, "%.*s", (int)(dot2 - dot - 1), dot + 1);
    return r->user != 0 && device_valid(r->device, strlen(r->device));
}

static void s_begin(roost_ctx_t *ctx, req_t *r, const roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    const msgpack_object *a = mp_parse(&up, env->payload, env->payload_len) ? &up.data : NULL;
    uint64_t op = 0;
    mp_str_t x, y, z;
    bool ok = a && a->type == MSGPACK_OBJECT_ARRAY && a->via.array.size == 4 &&
              mp_as_u64(&a->via.array.ptr[0], &op) && mp_as_str(&a->via.array.ptr[1], &x) &&
              mp_as_str(&a->via.array.ptr[2], &y) && mp_as_str(&a->via.array.ptr[3], &z);
    r->op = (uint8_t)op;
    if (ok && op == AUTH_REFRESH)
        ok = mp_str_copy(x, r->token, sizeof r->token) && s_parse_refresh(r);
    else if (ok)
        ok = mp_str_copy(x, r->phone, sizeof r->phone) && mp_str_copy(y, r->code, sizeof r->code) &&
             mp_str_copy(z, r->device, sizeof r->device);
    msgpack_unpacked_destroy(&up);
    if (!ok)
        return s_error(ctx, r, r->op == AUTH_REFRESH ? 401 : 400,
                       r->op == AUTH_REFRESH ? "unauthorized" : "bad_request",
                       r->op == AUTH_REFRESH ? "invalid refresh token" : "malformed request");
    s_start(ctx, r);
}

static int s_activate(roost_ctx_t *ctx, void **state)
{
    uint32_t slot, gen;
    if (!conn_of_key(roost_ctx_self(ctx), &slot, &gen))
        return ROOST_EINVAL;
    req_t *r = roost_xcalloc(1, sizeof *r);
    r->edge = roost_ctx_service(ctx, EDGE_SERVICE);
    r->slot = slot;
    r->gen = gen;
    *state = r;
    return r->edge ? ROOST_OK : ROOST_EINVAL;
}

static void s_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    req_t *r = state;
    if (r->answered)
        return;
    if (env->flags & ROOST_ENV_RESPONSE)
        s_reply(ctx, r, env);
    else if (env->type == MSG_EDGE_HTTP)
        s_begin(ctx, r, env);
    else
        roost_ctx_passivate(ctx);
}

static void s_passivate(roost_ctx_t *ctx, void *state)
{
    (void)ctx;
    free(state);
}

const roost_behaviour_t auth_http_behaviour = {.kind = "@http",
                                               .on_activate = s_activate,
                                               .on_message = s_message,
                                               .on_passivate = s_passivate};
