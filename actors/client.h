/* actors/client.h — a client request as an actor receives it (MSG_CLIENT), and its answers.
 *
 * The edge has already checked the session's token and the frame's shape against the
 * protocol's envelope (a map with a string `t`); the actor checks the fields it needs, the
 * caller's rights, and answers with exactly one MSG_CLIENT_REPLY.
 */
#ifndef ROOST_ACTORS_CLIENT_H
#define ROOST_ACTORS_CLIENT_H

#include "actors/ids.h"
#include "actors/mp.h"
#include "runtime/actor.h"
#include "runtime/limits.h"

typedef struct {
    msgpack_unpacked up;
    uint64_t user;
    char user_s[ID_BYTES_MAX + 1];
    char device[DEVICE_BYTES_MAX + 1];
    char session[ROOST_KEY_BYTES_MAX + 1];
    const msgpack_object *frame; /* the client's map */
    mp_str_t t;
} creq_t;

/* Parses a MSG_CLIENT payload. false (and nothing to destroy) if malformed. */
bool creq_parse(creq_t *r, const roost_env_t *env);
void creq_fini(creq_t *r);

/* Answers with {"t":"err","code":code,"msg":msg}. */
void client_err(roost_ctx_t *ctx, const roost_env_t *req, const char *code, const char *msg);
/* bad_request naming the field: "missing or invalid field 'x'". */
void client_bad_field(roost_ctx_t *ctx, const roost_env_t *req, const char *field);
/* Answers {"t":"ok"} with nothing else. */
void client_ok(roost_ctx_t *ctx, const roost_env_t *req);
/* Starts an ok map with `extra` more fields after "t"; finish with client_reply. */
void client_ok_begin(mp_buf_t *b, uint32_t extra);
void client_reply(roost_ctx_t *ctx, const roost_env_t *req, const mp_buf_t *b);
/* The client code for a runtime error (store refused, timeout: unavailable; …). */
const char *client_code_for(int roost_err);

/* Builds a MSG_CLIENT payload (used by tests, tools and the edge). */
void creq_encode(mp_buf_t *b, const char *user, const char *device, const char *session,
                 const void *frame, size_t frame_len);

#endif
