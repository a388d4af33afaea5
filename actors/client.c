/* actors/client.c — client requests and answers (see client.h). */
#include "actors/client.h"

#include <stdio.h>
#include <string.h>

#include "actors/msgs.h"
#include "runtime/errors.h"

bool creq_parse(creq_t *r, const roost_env_t *env)
{
    msgpack_unpacked_init(&r->up);
    const msgpack_object *a = &r->up.data;
    mp_str_t user, dev, sess;
    if (!mp_parse(&r->up, env->payload, env->payload_len) || a->type != MSGPACK_OBJECT_ARRAY ||
        a->via.array.size != 4 || !mp_as_str(&a->via.array.ptr[0], &user) ||
        !mp_as_str(&a->via.array.ptr[1], &dev) || !mp_as_str(&a->via.array.ptr[2], &sess) ||
        !mp_str_copy(user, r->user_s, sizeof r->user_s) ||
        !mp_str_copy(dev, r->device, sizeof r->device) ||
        !mp_str_copy(sess, r->session, sizeof r->session) ||
        mp_get_str(&a->via.array.ptr[3], "t", 1, 64, &r->t) != MP_OK) {
        msgpack_unpacked_destroy(&r->up);
        return false;
    }
    r->user = id_parse(user.ptr, user.len);
    r->frame = &a->via.array.ptr[3];
    if (r->user == 0) {
        msgpack_unpacked_destroy(&r->up);
        return false;
    }
    return true;
}

void creq_fini(creq_t *r)
{
    msgpack_unpacked_destroy(&r->up);
}

void client_reply(roost_ctx_t *ctx, const roost_env_t *req, const mp_buf_t *b)
{
    if (req->flags & ROOST_ENV_REQUEST)
        roost_ctx_reply(ctx, req, MSG_CLIENT_REPLY, b->sb.data, b->sb.size);
}

void client_err(roost_ctx_t *ctx, const roost_env_t *req, const char *code, const char *msg)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 3);
    mp_kv_str(&b.pk, "t", "err");
    mp_kv_str(&b.pk, "code", code);
    mp_kv_str(&b.pk, "msg", msg);
    client_reply(ctx, req, &b);
    mp_buf_fini(&b);
}

void client_bad_field(roost_ctx_t *ctx, const roost_env_t *req, const char *field)
{
    char msg[128];
    snprintf(msg, sizeof msg, "missing or invalid field '%s'", field);
    client_err(ctx, req, CODE_BAD_REQUEST, msg);
}

void client_ok_begin(mp_buf_t *b, uint32_t extra)
{
    mp_buf_init(b);
    msgpack_pack_map(&b->pk, 1 + extra);
    mp_kv_str(&b->pk, "t", "ok");
}

void client_ok(roost_ctx_t *ctx, const roost_env_t *req)
{
    mp_buf_t b;
    client_ok_begin(&b, 0);
    client_reply(ctx, req, &b);
    mp_buf_fini(&b);
}

const char *client_code_for(int err)
{
    switch (err) {
    case ROOST_ENOTFOUND:
        return CODE_NOT_FOUND;
    case ROOST_EEXIST:
        return CODE_CONFLICT;
    case ROOST_ETOOBIG:
        return CODE_TOO_LARGE;
    case ROOST_EACCES:
        return CODE_UNAUTHORIZED;
    case ROOST_ELIMIT:
        return CODE_RATE_LIMITED;
    case ROOST_EINVAL:
    case ROOST_EPROTO:
        return CODE_BAD_REQUEST;
    case ROOST_EUNAVAIL:
    case ROOST_ETIMEDOUT:
    case ROOST_EAGAIN:
    case ROOST_ESTALE:
    case ROOST_ECLOSED:
        return CODE_UNAVAILABLE;
    default:
        return CODE_INTERNAL;
    }
}

void creq_encode(mp_buf_t *b, const char *user, const char *device, const char *session,
                 const void *frame, size_t frame_len)
{
    msgpack_pack_array(&b->pk, 4);
    mp_pack_str(&b->pk, user);
    mp_pack_str(&b->pk, device);
    mp_pack_str(&b->pk, session);
    msgpack_sbuffer_write(&b->sb, frame, frame_len);
}
