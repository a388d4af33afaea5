/* tests/support/sessions.h — client sessions for messaging tests, as an edge would hold them:
 * node-local actors "@<node>:<i>/sess" (kind "@sess") that make requests on the test's behalf
 * (so their answers come back to them) and receive the actors' pushes. The test thread talks to
 * session i through sess_call (a request, waiting for its answer) and sess_next (the next push),
 * frames written as JSON (converted to msgpack maps; strings stay strings — the actors accept a
 * str where bytes are expected, as for JSON-born frames). Header-only, one test file at a time.
 */
#ifndef ROOST_TEST_SESSIONS_H
#define ROOST_TEST_SESSIONS_H

#include <jansson.h>
#include <msgpack.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/client.h"
#include "actors/mp.h"
#include "actors/msgs.h"
#include "runtime/actor.h"
#include "runtime/envelope.h"
#include "runtime/node.h"

enum { SESS_MAX = 64, MSG_SESS_DO = 0x7E00 };

typedef struct sess_item {
    struct sess_item *next;
    bool reply;
    int status;
    uint32_t type;
    size_t len;
    uint8_t data[];
} sess_item_t;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sess_item_t *head[SESS_MAX], *tail[SESS_MAX];
    roost_node_t *node;
    uint32_t node_id;
} sess_hub_t;

static sess_hub_t g_hub = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void sess_push_item(uint32_t i, bool reply, int status, uint32_t type, const void *data,
                           size_t len)
{
    sess_item_t *it = malloc(sizeof *it + len);
    it->next = NULL;
    it->reply = reply;
    it->status = status;
    it->type = type;
    it->len = len;
    if (len)
        memcpy(it->data, data, len);
    pthread_mutex_lock(&g_hub.mu);
    if (g_hub.tail[i])
        g_hub.tail[i]->next = it;
    else
        g_hub.head[i] = it;
    g_hub.tail[i] = it;
    pthread_cond_broadcast(&g_hub.cv);
    pthread_mutex_unlock(&g_hub.mu);
}

/* The session's number: the partition field of its key "@<node>:<i>/sess" as written (the
 * node masks it to its partition count for scheduling only). */
static uint32_t sess_index(const roost_ctx_t *ctx)
{
    roost_local_key_t k;
    const char *self = roost_ctx_self(ctx);
    return roost_key_parse_local(self, strlen(self), &k) ? k.partition % SESS_MAX : 0;
}

/* MSG_SESS_DO [target, type, payload]: make that request. Answers and pushes are queued. */
static void sess_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    uint32_t i = sess_index(ctx);
    if (env->flags & ROOST_ENV_RESPONSE) {
        sess_push_item(i, true, env->status, env->type, env->payload, env->payload_len);
        return;
    }
    if (env->type == MSG_PUSH_EVENT) { /* [prev, frame]: no loss in tests; the frame */
        msgpack_unpacked ev;
        msgpack_unpacked_init(&ev);
        size_t at = 0;
        if (msgpack_unpack_next(&ev, (const char *)env->payload, env->payload_len, &at) ==
                MSGPACK_UNPACK_SUCCESS &&
            ev.data.type == MSGPACK_OBJECT_ARRAY && ev.data.via.array.size == 2 &&
            ev.data.via.array.ptr[1].type == MSGPACK_OBJECT_BIN)
            sess_push_item(i, false, 0, MSG_PUSH, ev.data.via.array.ptr[1].via.bin.ptr,
                           ev.data.via.array.ptr[1].via.bin.size);
        msgpack_unpacked_destroy(&ev);
        return;
    }
    if (env->type != MSG_SESS_DO) {
        sess_push_item(i, false, 0, env->type, env->payload, env->payload_len);
        return;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    msgpack_unpack_next(&up, (const char *)env->payload, env->payload_len, &off);
    const msgpack_object *a = up.data.via.array.ptr;
    char target[ROOST_KEY_BYTES_MAX + 1];
    snprintf(target, sizeof target, "%.*s", (int)a[0].via.str.size, a[0].via.str.ptr);
    roost_ctx_request(ctx, target, (uint32_t)a[1].via.u64, a[2].via.bin.ptr, a[2].via.bin.size,
                      10000, NULL);
    msgpack_unpacked_destroy(&up);
}

static const roost_behaviour_t sess_behaviour = {.kind = "@sess", .on_message = sess_message};

static void sess_key(uint32_t i, char out[ROOST_KEY_BYTES_MAX + 1])
{
    roost_key_make_local(out, ROOST_KEY_BYTES_MAX + 1, g_hub.node_id, i, "sess", NULL);
}

/* ---- JSON → msgpack -------------------------------------------------------------------- */

static void sess_pack_json(msgpack_packer *pk, const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        msgpack_pack_map(pk, json_object_size(j));
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            mp_pack_str(pk, k);
            sess_pack_json(pk, v);
        }
        break;
    }
    case JSON_ARRAY: {
        msgpack_pack_array(pk, json_array_size(j));
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) sess_pack_json(pk, v);
        break;
    }
    case JSON_STRING: /* "b64:…" stands for bytes (as the edge turns JSON base64 into bin) */
        if (strncmp(json_string_value(j), "b64:", 4) == 0) {
            const char *b64 = json_string_value(j) + 4;
            size_t cap = strlen(b64), len = 0;
            uint8_t *bin = malloc(cap + 1);
            if (sodium_base642bin(bin, cap, b64, strlen(b64), NULL, &len, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) != 0)
                abort();
            mp_pack_bin(pk, bin, len);
            free(bin);
        } else {
            mp_pack_strn(pk, json_string_value(j), json_string_length(j));
        }
        break;
    case JSON_INTEGER:
        if (json_integer_value(j) >= 0)
            msgpack_pack_uint64(pk, (uint64_t)json_integer_value(j));
        else
            msgpack_pack_int64(pk, json_integer_value(j));
        break;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        break;
    default:
        msgpack_pack_nil(pk);
    }
}

/* ---- the test thread's side ------------------------------------------------------------- */

static sess_item_t *sess_wait(uint32_t i, bool reply, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g_hub.mu);
    sess_item_t *found = NULL;
    for (;;) {
        sess_item_t **pp = &g_hub.head[i], *prev = NULL;
        for (; *pp; prev = *pp, pp = &(*pp)->next)
            if ((*pp)->reply == reply) {
                found = *pp;
                *pp = found->next;
                if (g_hub.tail[i] == found)
                    g_hub.tail[i] = prev;
                break;
            }
        if (found || pthread_cond_timedwait(&g_hub.cv, &g_hub.mu, &dl) != 0)
            break;
    }
    pthread_mutex_unlock(&g_hub.mu);
    return found;
}

/* Session i asks `target` a raw request and does not wait: sess_wait(i, true, ms) collects
 * the answer. */
static void sess_post_raw(uint32_t i, const char *target, uint32_t type, const void *payload,
                          size_t len)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 3);
    mp_pack_str(&b.pk, target);
    msgpack_pack_uint64(&b.pk, type);
    mp_pack_bin(&b.pk, payload, len);
    char key[ROOST_KEY_BYTES_MAX + 1];
    sess_key(i, key);
    roost_node_send(g_hub.node, roost_env_new(key, NULL, MSG_SESS_DO, b.sb.data, b.sb.size));
    mp_buf_fini(&b);
}

/* Session i asks `target` a raw request; the answer (or NULL after timeout). */
static sess_item_t *sess_raw(uint32_t i, const char *target, uint32_t type, const void *payload,
                             size_t len)
{
    sess_post_raw(i, target, type, payload, len);
    return sess_wait(i, true, 15000);
}

/* A client request: frame (JSON) from user/device on session i, to `target`, not waited for:
 * sess_answer collects the answer. */
static void sess_post_call(uint32_t i, const char *target, const char *user, const char *device,
                           const char *json)
{
    json_error_t err;
    json_t *j = json_loads(json, 0, &err);
    if (!j) {
        fprintf(stderr, "bad test JSON: %s: %s\n", json, err.text);
        abort();
    }
    mp_buf_t frame, b;
    mp_buf_init(&frame);
    sess_pack_json(&frame.pk, j);
    json_decref(j);
    mp_buf_init(&b);
    char key[ROOST_KEY_BYTES_MAX + 1];
    sess_key(i, key);
    creq_encode(&b, user, device, key, frame.sb.data, frame.sb.size);
    sess_post_raw(i, target, MSG_CLIENT, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
    mp_buf_fini(&frame);
}

/* The answer to session i's posted request within ms: its "t" ("ok"/"err") with the map
 * unpacked into *up (caller destroys), or NULL. */
static const char *sess_answer(uint32_t i, int ms, msgpack_unpacked *up)
{
    msgpack_unpacked_init(up);
    sess_item_t *it = sess_wait(i, true, ms);
    if (!it)
        return NULL;
    const char *t = NULL;
    mp_str_t s;
    if (it->status == 0 && mp_parse(up, it->data, it->len) &&
        mp_get_str(&up->data, "t", 1, 8, &s) == MP_OK)
        t = mp_str_eq(s, "ok") ? "ok" : "err";
    free(it);
    return t;
}

/* A client request: frame (JSON) from user/device on session i, to `target`. The answer map
 * is unpacked into *up (caller destroys); returns the answer's "t" ("ok"/"err") or NULL. */
static const char *sess_call(uint32_t i, const char *target, const char *user, const char *device,
                             const char *json, msgpack_unpacked *up)
{
    sess_post_call(i, target, user, device, json);
    return sess_answer(i, 15000, up);
}

/* The next push to session i (unpacked into *up; false after timeout_ms). */
static bool sess_next(uint32_t i, msgpack_unpacked *up, int timeout_ms)
{
    msgpack_unpacked_init(up);
    sess_item_t *it = sess_wait(i, false, timeout_ms);
    if (!it)
        return false;
    bool ok = mp_parse(up, it->data, it->len);
    free(it);
    return ok;
}

static void sess_drain(uint32_t i)
{
    pthread_mutex_lock(&g_hub.mu);
    while (g_hub.head[i]) {
        sess_item_t *it = g_hub.head[i];
        g_hub.head[i] = it->next;
        free(it);
    }
    g_hub.tail[i] = NULL;
    pthread_mutex_unlock(&g_hub.mu);
}

/* The phone registry's answer to a claim of phone by device (NULL: none in time; caller frees). */
static sess_item_t *sess_claim_answer(uint32_t i, const char *phone, const char *device)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 1);
    mp_pack_str(&b.pk, device);
    char target[32];
    snprintf(target, sizeof target, "p:%s", phone);
    sess_item_t *it = sess_raw(i, target, MSG_PHONE_CLAIM, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
    return it;
}

/* Claims a phone with a device: the user id (decimal), or "" on failure. */
static void sess_claim(uint32_t i, const char *phone, const char *device, char out[32])
{
    sess_item_t *it = sess_claim_answer(i, phone, device);
    out[0] = '\0';
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    mp_str_t s;
    if (it && it->status == 0 && mp_parse(&up, it->data, it->len) &&
        mp_get_str(&up.data, "user", 1, 20, &s) == MP_OK)
        mp_str_copy(s, out, 32);
    msgpack_unpacked_destroy(&up);
    free(it);
}

/* String field of a map ("" if absent). */
static const char *sess_str(const msgpack_object *m, const char *key, char *buf, size_t cap)
{
    mp_str_t s;
    buf[0] = '\0';
    if (mp_get_str(m, key, 0, cap - 1, &s) == MP_OK)
        mp_str_copy(s, buf, cap);
    return buf;
}

static uint64_t sess_u64(const msgpack_object *m, const char *key)
{
    uint64_t v = 0;
    mp_get_u64(m, key, &v);
    return v;
}

#endif
