/* sim/chat_edge.c — with --edges, the phones connect through the edge's own session actor
 * (edge/session.c), as a WebSocket client does: each device's connection is the session
 * "@<client>:<device>/ws/<gen>-0" on the client node, hosted by the world (edge/session.h).
 * A device sends msgpack frames with a `rid` (MSG_EDGE_IN); the session checks the access
 * token of `auth`, routes each request to the actor that serves it, renews the registration,
 * applies the in-order push rule, and posts frames and closes back, which the host hands to
 * the device (MSG_SIM_FRAME, MSG_SIM_CLOSED). A close the session makes is followed by the
 * connection's end (MSG_EDGE_CLOSED to the session), as the edge's loop does; a device that
 * starts over hangs up the same way and opens a new connection (the next generation).
 * The link between a device and its session is in order and lossless, as a WebSocket is while
 * it stays up; what it is there to test is the session's own handling of the shards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/mp.h"
#include "edge/codec.h"
#include "actors/msgs.h"
#include "runtime/errors.h"
#include "sim/chat_internal.h"
#include "sim/world.h"

static const uint8_t SIM_TOKEN_SECRET[] = "the simulator's access token secret, 32+ bytes long";

static void s_session_key(const sim_world_t *w, uint32_t i, uint32_t gen, char *out, size_t cap)
{
    char g[24];
    snprintf(g, sizeof g, "%u-0", gen);
    roost_key_make_local(out, cap, w->client_id, i, "ws", g);
}

static void s_device_key(const sim_world_t *w, uint32_t i, char *out, size_t cap)
{
    roost_key_make_local(out, cap, w->client_id, i, "dev", NULL);
}

/* Connection (slot, gen) ends: its device is told, and so is its session (as the edge's
 * loop tells a session whose WebSocket closed). */
static void s_drop(sim_world_t *w, uint32_t slot, uint32_t gen)
{
    char key[ROOST_KEY_BYTES_MAX + 1];
    s_device_key(w, slot, key, sizeof key);
    roost_node_send(w->client, roost_env_new(key, NULL, MSG_SIM_CLOSED, &gen, sizeof gen));
    s_session_key(w, slot, gen, key, sizeof key);
    roost_node_send(w->client, roost_env_new(key, NULL, MSG_EDGE_CLOSED, NULL, 0));
}

/* The host's post (edge/session.h): a frame or a close for connection (slot, gen). */
static void s_post(void *arg, uint32_t slot, uint32_t gen, out_op_t op, uint16_t code,
                   const void *data, size_t len)
{
    (void)code;
    sim_world_t *w = arg;
    if (!w->chat || slot >= 2 * w->chat->n || w->chat->dev[slot].conn_gen != gen)
        return; /* a connection that is gone */
    if (op == OUT_DATA) {
        char key[ROOST_KEY_BYTES_MAX + 1];
        s_device_key(w, slot, key, sizeof key);
        roost_node_send(w->client, roost_env_new(key, NULL, MSG_SIM_FRAME, data, len));
    } else if (op == OUT_CLOSE) {
        s_drop(w, slot, gen);
    }
}

void sim_chat_edge_host(sim_world_t *w)
{
    w->chat->edges = true;
    w->tokens = (tokens_t){.nkeys = 1};
    w->tokens.keys[0] = (tokens_key_t){.kid = "sim",
                                       .alg = TOKENS_HS256,
                                       .sign_key = SIM_TOKEN_SECRET,
                                       .sign_len = sizeof SIM_TOKEN_SECRET - 1,
                                       .verify_key = SIM_TOKEN_SECRET,
                                       .verify_len = sizeof SIM_TOKEN_SECRET - 1};
    w->sessions = (session_host_t){.post = s_post,
                                   .arg = w,
                                   .tokens = &w->tokens,
                                   .frame_bytes = CODEC_FRAME_BYTES_DEFAULT,
                                   .bad_frames_per_minute = 100};
    roost_node_register(w->client, &session_behaviour);
    roost_node_set_service(w->client, SESSION_HOST_SERVICE, &w->sessions);
}

void sim_chat_edge_restart(sim_world_t *w)
{
    sim_world_say(w, "the edge restarts: every connection drops");
    for (uint32_t i = 0; i < 2 * w->chat->n; i++)
        s_drop(w, i, w->chat->dev[i].conn_gen);
}

void chat_edge_request(roost_ctx_t *ctx, sim_world_t *w, simdev_t *d, const mp_buf_t *f,
                       busy_t kind)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (!mp_parse(&up, f->sb.data, f->sb.size) || up.data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(&up);
        return;
    }
    mp_buf_t b;
    mp_buf_init(&b);
    uint8_t flags = CODEC_MSGPACK;
    msgpack_sbuffer_write(&b.sb, (const char *)&flags, 1);
    msgpack_pack_map(&b.pk, up.data.via.map.size + 1);
    for (uint32_t i = 0; i < up.data.via.map.size; i++) {
        mp_pack_obj(&b.pk, &up.data.via.map.ptr[i].key);
        mp_pack_obj(&b.pk, &up.data.via.map.ptr[i].val);
    }
    d->busy_corr = roost_rng_next(&w->rng) >> 12 | 1; /* (an integer rid) */
    mp_kv_u64(&b.pk, "rid", d->busy_corr);
    char key[ROOST_KEY_BYTES_MAX + 1];
    s_session_key(w, (uint32_t)(d - w->chat->dev), d->conn_gen, key, sizeof key);
    if (roost_ctx_send(ctx, key, MSG_EDGE_IN, b.sb.data, b.sb.size) == ROOST_OK)
        d->busy = kind;
    mp_buf_fini(&b);
    msgpack_unpacked_destroy(&up);
}

void chat_edge_auth_frame(sim_world_t *w, const simdev_t *d, mp_buf_t *f)
{
    char *token = NULL;
    uint64_t now_s = roost_clock_wall_ms(&w->client_clock.base) / 1000; /* the edge's clock */
    if (tokens_sign(&w->tokens, d->user, d->dev_id, d->token_gen, now_s, &token) != 0)
        token = NULL;
    msgpack_pack_map(&f->pk, 2);
    mp_kv_str(&f->pk, "t", "auth");
    mp_kv_str(&f->pk, "token", token ? token : "");
    free(token);
}

void chat_edge_issue(roost_ctx_t *ctx, simdev_t *d)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 1);
    mp_pack_str(&b.pk, d->dev_id);
    if (roost_ctx_request(ctx, d->user_key, MSG_TOKEN_ISSUE, b.sb.data, b.sb.size,
                          REQUEST_TIMEOUT_MS, &d->busy_corr) == ROOST_OK)
        d->busy = BUSY_TOKEN;
    mp_buf_fini(&b);
}

bool chat_edge_issued(simdev_t *d, const roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    uint64_t gen = 0;
    if (!(env->flags & ROOST_ENV_ERROR) && mp_parse(&up, env->payload, env->payload_len) &&
        up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size == 2 &&
        mp_as_u64(&up.data.via.array.ptr[1], &gen))
        d->token_gen = gen;
    msgpack_unpacked_destroy(&up);
    return d->token_gen != 0;
}

bool chat_edge_rid(const msgpack_object *frame, uint64_t *rid)
{
    return mp_get_u64(frame, "rid", rid) == MP_OK;
}

void chat_edge_closed(sim_chat_t *c, simdev_t *d, const roost_env_t *env)
{
    uint32_t gen = 0;
    if (env->payload_len != sizeof gen)
        return;
    memcpy(&gen, env->payload, sizeof gen);
    if (gen != d->conn_gen)
        return;
    d->conn_gen++;
    if (d->busy != BUSY_NONE && d->busy != BUSY_CLAIM) /* its answer went with the connection */
        d->busy = BUSY_NONE;
    if (d->state == DEV_ACTIVE)
        d->state = DEV_CLAIMED; /* logs in again on the new one */
    c->reconnects++;
}

void chat_edge_hang_up(roost_ctx_t *ctx, sim_world_t *w, simdev_t *d)
{
    char key[ROOST_KEY_BYTES_MAX + 1];
    s_session_key(w, (uint32_t)(d - w->chat->dev), d->conn_gen, key, sizeof key);
    roost_ctx_send(ctx, key, MSG_EDGE_CLOSED, NULL, 0);
    d->conn_gen++;
    d->hang_up = false;
}
