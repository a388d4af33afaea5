/* cluster/daemon_bridge.c — the admin bridge: how the admin channel's thread, which is not an
 * actor, asks an actor something and waits for the answer (`roostctl user`).
 *
 * A node-local actor "@<node>:0/admin" takes MSG_BRIDGE_ASK [ask id, target key, type, payload]
 * from the admin thread, sends the request (the runtime routes it to the target's primary,
 * activating it), and hands the answer — or the runtime's timeout — to the waiting slot; the
 * admin thread waits on a condition variable, bounded. A slot whose waiter gave up is simply
 * dropped when its answer comes. */
#include "cluster/daemon_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/ids.h"
#include "actors/mp.h"
#include "actors/msgs.h"
#include "runtime/errors.h"
#include "runtime/util.h"

#define BRIDGE_SERVICE "admin-bridge"
enum { MSG_BRIDGE_ASK = 0x7A00, BRIDGE_TIMEOUT_MS = 5000 };

/* ---- the actor (a worker thread) ---------------------------------------------------------- */

typedef struct {
    daemon_t *d;
    uint64_t corr[DAEMON_ASKS_MAX], ask[DAEMON_ASKS_MAX];
} bridge_t;

static void s_answer(daemon_t *d, uint64_t ask, int status, const void *payload, size_t len)
{
    pthread_mutex_lock(&d->ask_lock);
    for (uint32_t i = 0; i < DAEMON_ASKS_MAX; i++) {
        daemon_ask_t *a = &d->asks[i];
        if (a->id != ask || a->done)
            continue;
        a->status = status;
        a->len = len;
        a->payload = len ? roost_xmalloc(len) : NULL;
        if (len)
            memcpy(a->payload, payload, len);
        a->done = true;
        pthread_cond_broadcast(&d->ask_cond);
    }
    pthread_mutex_unlock(&d->ask_lock);
}

static void s_forward(roost_ctx_t *ctx, bridge_t *b, const roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    uint64_t ask = 0, type = 0;
    mp_str_t key, body;
    const msgpack_object *f = NULL;
    if (mp_parse(&up, env->payload, env->payload_len) && up.data.type == MSGPACK_OBJECT_ARRAY &&
        up.data.via.array.size == 4)
        f = up.data.via.array.ptr;
    if (f && mp_as_u64(&f[0], &ask) && mp_as_str(&f[1], &key) && mp_as_u64(&f[2], &type) &&
        f[3].type == MSGPACK_OBJECT_BIN && key.len <= ROOST_KEY_BYTES_MAX) {
        char target[ROOST_KEY_BYTES_MAX + 1];
        mp_str_copy(key, target, sizeof target);
        body = (mp_str_t){f[3].via.bin.ptr, f[3].via.bin.size};
        uint64_t corr = 0;
        int rc = roost_ctx_request(ctx, target, (uint32_t)type, body.ptr, body.len,
                                   BRIDGE_TIMEOUT_MS, &corr);
        uint32_t slot = 0;
        while (rc == ROOST_OK && slot < DAEMON_ASKS_MAX && b->corr[slot])
            slot++;
        if (rc == ROOST_OK && slot < DAEMON_ASKS_MAX) {
            b->corr[slot] = corr;
            b->ask[slot] = ask;
        } else {
            s_answer(b->d, ask, rc == ROOST_OK ? ROOST_EAGAIN : rc, NULL, 0);
        }
    }
    msgpack_unpacked_destroy(&up);
}

static void s_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    bridge_t *b = state;
    if (!(env->flags & ROOST_ENV_RESPONSE)) {
        if (env->type == MSG_BRIDGE_ASK && env->sender_len == 0) /* from this process only */
            s_forward(ctx, b, env);
        return;
    }
    for (uint32_t i = 0; i < DAEMON_ASKS_MAX; i++) {
        if (b->corr[i] != env->corr || !b->corr[i])
            continue;
        int status = (env->flags & ROOST_ENV_ERROR) ? env->status : ROOST_OK;
        s_answer(b->d, b->ask[i], status, env->payload, env->payload_len);
        b->corr[i] = b->ask[i] = 0;
    }
}

static int s_activate(roost_ctx_t *ctx, void **state)
{
    daemon_t *d = roost_ctx_service(ctx, BRIDGE_SERVICE);
    if (!d)
        return ROOST_EUNAVAIL;
    bridge_t *b = roost_xcalloc(1, sizeof *b);
    b->d = d;
    *state = b;
    return ROOST_OK;
}

static void s_passivate(roost_ctx_t *ctx, void *state)
{
    (void)ctx;
    free(state);
}

static const roost_behaviour_t s_bridge = {
    .kind = "@admin",
    .on_activate = s_activate,
    .on_message = s_message,
    .on_passivate = s_passivate,
};

int daemon_bridge_open(daemon_t *d)
{
    pthread_mutex_init(&d->ask_lock, NULL);
    pthread_cond_init(&d->ask_cond, NULL);
    d->bridge_ready = true;
    roost_node_set_service(d->node, BRIDGE_SERVICE, d);
    return roost_node_register(d->node, &s_bridge);
}

void daemon_bridge_close(daemon_t *d)
{
    if (!d->bridge_ready)
        return;
    for (uint32_t i = 0; i < DAEMON_ASKS_MAX; i++)
        free(d->asks[i].payload);
    pthread_cond_destroy(&d->ask_cond);
    pthread_mutex_destroy(&d->ask_lock);
}

/* ---- the asking side (the admin thread) --------------------------------------------------- */

static void s_deadline(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Asks the actor `key` (type, payload) and waits for its answer: the status, and the payload in
 * *out (caller frees) when 0. ROOST_EAGAIN when every slot is busy, ROOST_ETIMEDOUT. */
static int s_ask(daemon_t *d, const char *key, uint32_t type, const void *payload, size_t len,
                 void **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    pthread_mutex_lock(&d->ask_lock);
    daemon_ask_t *a = NULL;
    for (uint32_t i = 0; i < DAEMON_ASKS_MAX && !a; i++)
        if (!d->asks[i].id)
            a = &d->asks[i];
    uint64_t id = a ? ++d->ask_seq : 0;
    if (a)
        *a = (daemon_ask_t){.id = id};
    pthread_mutex_unlock(&d->ask_lock);
    if (!a)
        return ROOST_EAGAIN;
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 4);
    msgpack_pack_uint64(&b.pk, id);
    mp_pack_str(&b.pk, key);
    msgpack_pack_uint32(&b.pk, type);
    mp_pack_bin(&b.pk, payload, len);
    char self[ROOST_KEY_BYTES_MAX + 1];
    roost_key_make_local(self, sizeof self, d->self->id, 0, "admin", NULL);
    roost_node_send(d->node, roost_env_new(self, NULL, MSG_BRIDGE_ASK, b.sb.data, b.sb.size));
    mp_buf_fini(&b);
    struct timespec until;
    s_deadline(&until, BRIDGE_TIMEOUT_MS + 1000);
    pthread_mutex_lock(&d->ask_lock);
    int wait = 0;
    while (!a->done && wait != ETIMEDOUT)
        wait = pthread_cond_timedwait(&d->ask_cond, &d->ask_lock, &until);
    int status = a->done ? a->status : ROOST_ETIMEDOUT;
    if (a->done && status == ROOST_OK) {
        *out = a->payload;
        *out_len = a->len;
    } else {
        free(a->payload);
    }
    *a = (daemon_ask_t){0};
    pthread_mutex_unlock(&d->ask_lock);
    return status;
}

/* The user id WHO names: an id, or a phone number's account (E.164, "+…"). */
static int s_resolve(daemon_t *d, const char *who, char *id, size_t cap, char *err, size_t ecap)
{
    if (who[0] != '+') {
        if (!id_parse(who, strlen(who))) {
            snprintf(err, ecap, "%s is neither a user id nor a phone number (+E.164)", who);
            return ROOST_EINVAL;
        }
        snprintf(id, cap, "%s", who);
        return ROOST_OK;
    }
    char key[ROOST_KEY_BYTES_MAX + 1];
    snprintf(key, sizeof key, "p:%s", who);
    void *out;
    size_t len;
    uint8_t empty[1] = {0x90}; /* [] */
    int rc = s_ask(d, key, MSG_PHONE_LOOKUP, empty, sizeof empty, &out, &len);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    mp_str_t s;
    if (rc == ROOST_OK && !(mp_parse(&up, out, len) && up.data.type == MSGPACK_OBJECT_ARRAY &&
                            up.data.via.array.size == 1 && mp_as_str(up.data.via.array.ptr, &s) &&
                            mp_str_copy(s, id, cap)))
        rc = ROOST_EPROTO;
    msgpack_unpacked_destroy(&up);
    free(out);
    if (rc != ROOST_OK)
        snprintf(err, ecap, "%s: %s", who,
                 rc == ROOST_ENOTFOUND ? "no account has this number" : roost_strerror(rc));
    return rc;
}

char *daemon_user(void *arg, const char *op, const char *who, const char *role, size_t *len,
                  char *err, size_t errcap)
{
    daemon_t *d = arg;
    char id[ID_BYTES_MAX + 1], key[ID_BYTES_MAX + 3];
    if (s_resolve(d, who, id, sizeof id, err, errcap) != ROOST_OK)
        return NULL;
    snprintf(key, sizeof key, "u:%s", id);
    bool show = strcmp(op, "show") == 0;
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, show ? 0 : 1);
    if (!show && role[0])
        mp_pack_str(&b.pk, role);
    else if (!show)
        msgpack_pack_nil(&b.pk);
    void *out = NULL;
    int rc = s_ask(d, key, show ? MSG_ADMIN_USER_SHOW : MSG_ADMIN_USER_ROLE, b.sb.data, b.sb.size,
                   &out, len);
    mp_buf_fini(&b);
    if (rc != ROOST_OK)
        snprintf(err, errcap, "user %s: %s", id,
                 rc == ROOST_ENOTFOUND ? "no such account"
                 : rc == ROOST_EINVAL  ? "unknown role (user, moderator, admin)"
                                       : roost_strerror(rc));
    return rc == ROOST_OK ? out : NULL;
}
