/* cluster/admin.c — the admin channel (see admin.h): one thread polling a REP socket. */
#include "cluster/admin.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "actors/mp.h"
#include "runtime/log.h"
#include "runtime/util.h"

static const char *const COMP = "admin";

/* A request is a command and, for apply, a manifest (a few KiB; 64 nodes fit well under this). */
enum { POLL_MS = 100, REQUEST_BYTES_MAX = 256 * 1024, DRAIN_NAME_MAX = 63 };

struct admin {
    void *zctx, *rep;
    zap_t *zap; /* with CURVE: accepts the operators' keys */
    pthread_t thread;
    atomic_bool stop;
    admin_hooks_t hooks;
};

static void s_error(mp_buf_t *b, const char *reason)
{
    msgpack_pack_map(&b->pk, 2);
    mp_kv_bool(&b->pk, "ok", false);
    mp_kv_str(&b->pk, "error", reason);
}

static void s_apply(admin_t *a, const msgpack_object *req, const char *who, mp_buf_t *b)
{
    mp_str_t text, drain = {0};
    char drain_name[DRAIN_NAME_MAX + 1] = "", err[512] = "";
    if (mp_get_str(req, "manifest", 1, REQUEST_BYTES_MAX, &text) != MP_OK) {
        s_error(b, "apply: expected the manifest's text in \"manifest\"");
        return;
    }
    mp_rc_t rc = mp_get_str(req, "drain", 1, DRAIN_NAME_MAX, &drain);
    if (rc == MP_OK)
        mp_str_copy(drain, drain_name, sizeof drain_name);
    else if (rc != MP_MISSING) {
        s_error(b, "apply: \"drain\" must be a node name");
        return;
    }
    ROOST_INFO(COMP, "apply requested", "operator=%s drain=%s", who ? who : "-",
               drain_name[0] ? drain_name : "-");
    bool leading = false;
    if (!a->hooks.apply || a->hooks.apply(a->hooks.arg, text.ptr, text.len, drain_name, &leading,
                                          err, sizeof err) != 0) {
        s_error(b, err[0] ? err : "cannot apply here");
        return;
    }
    msgpack_pack_map(&b->pk, 2);
    mp_kv_bool(&b->pk, "ok", true);
    mp_kv_bool(&b->pk, "leader", leading);
}

static void s_user(admin_t *a, const msgpack_object *req, const char *operator, mp_buf_t * b)
{
    mp_str_t op, who, role = {"", 0};
    char ops[8] = "", whos[64] = "", roles[16] = "", err[256] = "";
    if (mp_get_str(req, "op", 1, sizeof ops - 1, &op) != MP_OK ||
        mp_get_str(req, "who", 1, sizeof whos - 1, &who) != MP_OK ||
        (!mp_str_eq(op, "show") && !mp_str_eq(op, "role")) ||
        mp_get_str(req, "role", 0, sizeof roles - 1, &role) == MP_BADTYPE) {
        s_error(b, "user: expected op (show, role), who (an id or +E.164) and an optional role");
        return;
    }
    mp_str_copy(op, ops, sizeof ops);
    mp_str_copy(who, whos, sizeof whos);
    mp_str_copy(role, roles, sizeof roles);
    if (roles[0])
        ROOST_INFO(COMP, "role change requested", "operator=%s user=%s role=%s",
                   operator ? operator : "-", whos, roles);
    size_t len = 0;
    char *answer =
        a->hooks.user ? a->hooks.user(a->hooks.arg, ops, whos, roles, &len, err, sizeof err) : NULL;
    if (!answer) {
        s_error(b, err[0] ? err : "no user requests here");
        return;
    }
    msgpack_pack_map(&b->pk, 2);
    mp_kv_bool(&b->pk, "ok", true);
    mp_pack_str(&b->pk, "answer");
    if (len)
        msgpack_sbuffer_write(&b->sb, answer, len);
    else
        msgpack_pack_nil(&b->pk);
    free(answer);
}

/* One request → its answer in b. */
static void s_handle(admin_t *a, const void *req, size_t len, const char *who, mp_buf_t *b)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    mp_str_t cmd;
    if (len > REQUEST_BYTES_MAX || !mp_parse(&up, req, len) ||
        mp_get_str(&up.data, "cmd", 1, 32, &cmd) != MP_OK) {
        s_error(b, "expected a map with a string cmd");
    } else if (mp_str_eq(cmd, "status")) {
        mp_buf_t fields;
        mp_buf_init(&fields);
        uint32_t n = a->hooks.status(a->hooks.arg, &fields.pk);
        msgpack_pack_map(&b->pk, n + 1);
        mp_kv_bool(&b->pk, "ok", true);
        msgpack_sbuffer_write(&b->sb, fields.sb.data, fields.sb.size);
        mp_buf_fini(&fields);
    } else if (mp_str_eq(cmd, "drain")) {
        ROOST_INFO(COMP, "drain requested", "operator=%s", who ? who : "-");
        const char *reason = NULL;
        if (a->hooks.drain(a->hooks.arg, &reason) == 0) {
            msgpack_pack_map(&b->pk, 1);
            mp_kv_bool(&b->pk, "ok", true);
        } else {
            s_error(b, reason ? reason : "cannot drain");
        }
    } else if (mp_str_eq(cmd, "metrics")) {
        size_t n = 0;
        char *text = a->hooks.metrics(a->hooks.arg, &n);
        msgpack_pack_map(&b->pk, 2);
        mp_kv_bool(&b->pk, "ok", true);
        mp_pack_str(&b->pk, "text");
        mp_pack_strn(&b->pk, text ? text : "", text ? n : 0);
        free(text);
    } else if (mp_str_eq(cmd, "map")) {
        size_t n = 0;
        void *map = a->hooks.map ? a->hooks.map(a->hooks.arg, &n) : NULL;
        if (map) {
            msgpack_pack_map(&b->pk, 2);
            mp_kv_bool(&b->pk, "ok", true);
            mp_pack_str(&b->pk, "map");
            mp_pack_bin(&b->pk, map, n);
        } else {
            s_error(b, "no cluster map here yet");
        }
        free(map);
    } else if (mp_str_eq(cmd, "apply")) {
        s_apply(a, &up.data, who, b);
    } else if (mp_str_eq(cmd, "user")) {
        s_user(a, &up.data, who, b);
    } else {
        s_error(b, "unknown cmd (status, drain, metrics, map, apply, user)");
    }
    msgpack_unpacked_destroy(&up);
}

static void *s_thread(void *arg)
{
    admin_t *a = arg;
    pthread_setname_np(pthread_self(), "roost-admin");
    while (!atomic_load(&a->stop)) {
        zmq_pollitem_t items[2] = {{.socket = a->rep, .events = ZMQ_POLLIN}};
        if (a->zap)
            items[1] = (zmq_pollitem_t){.socket = zap_socket(a->zap), .events = ZMQ_POLLIN};
        if (zmq_poll(items, a->zap ? 2 : 1, POLL_MS) <= 0)
            continue;
        if (a->zap)
            zap_serve(a->zap);
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, a->rep, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            continue;
        }
        mp_buf_t b;
        mp_buf_init(&b);
        s_handle(a, zmq_msg_data(&msg), zmq_msg_size(&msg), zmq_msg_gets(&msg, "User-Id"), &b);
        zmq_msg_close(&msg);
        zmq_send(a->rep, b.sb.data, b.sb.size, 0);
        mp_buf_fini(&b);
    }
    return NULL;
}

/* The REP as a CURVE server whose ZAP handler accepts exactly the operators. */
static int s_curve_server(admin_t *a, const admin_curve_t *curve)
{
    a->zap = zap_new(a->zctx, "admin", curve->operators, curve->n_operators);
    if (!a->zap)
        return -1;
    int one = 1;
    zmq_setsockopt(a->rep, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(a->rep, ZMQ_CURVE_SECRETKEY, curve->secret_key, ZAP_KEY_BYTES);
    zmq_setsockopt(a->rep, ZMQ_ZAP_DOMAIN, "roost-admin", 11);
    return 0;
}

admin_t *admin_start(const char *host, uint16_t port, const admin_hooks_t *hooks,
                     const admin_curve_t *curve)
{
    admin_t *a = roost_xcalloc(1, sizeof *a);
    a->hooks = *hooks;
    a->zctx = zmq_ctx_new();
    a->rep = zmq_socket(a->zctx, ZMQ_REP);
    int linger = 0;
    zmq_setsockopt(a->rep, ZMQ_LINGER, &linger, sizeof linger);
    char ep[128];
    snprintf(ep, sizeof ep, "tcp://%s:%u", host, port);
    if ((curve && curve->on && s_curve_server(a, curve) != 0) || zmq_bind(a->rep, ep) != 0 ||
        pthread_create(&a->thread, NULL, s_thread, a) != 0) {
        ROOST_ERROR(COMP, "cannot bind the admin port", "endpoint=%s err=\"%s\"", ep,
                    zmq_strerror(zmq_errno()));
        zmq_close(a->rep);
        zap_destroy(&a->zap);
        zmq_ctx_term(a->zctx);
        free(a);
        return NULL;
    }
    return a;
}

uint64_t admin_refused(const admin_t *a)
{
    return a && a->zap ? zap_refused(a->zap) : 0;
}

void admin_stop(admin_t **a_p)
{
    admin_t *a = *a_p;
    if (!a)
        return;
    atomic_store(&a->stop, true);
    pthread_join(a->thread, NULL);
    zmq_close(a->rep);
    zap_destroy(&a->zap);
    zmq_ctx_term(a->zctx);
    free(a);
    *a_p = NULL;
}

/* Waits for the answer on req, watching the monitor for a refused handshake. */
static bool s_await(void *req, void *mon, int timeout_ms, zmq_msg_t *msg, bool *refused)
{
    zmq_pollitem_t items[2] = {{.socket = req, .events = ZMQ_POLLIN},
                               {.socket = mon, .events = ZMQ_POLLIN}};
    for (int left = timeout_ms; left > 0 && !*refused; left -= POLL_MS) {
        if (zmq_poll(items, mon ? 2 : 1, left < POLL_MS ? left : POLL_MS) <= 0)
            continue;
        if (items[0].revents & ZMQ_POLLIN)
            return zmq_msg_recv(msg, req, 0) >= 0;
        zmq_msg_t ev;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, mon, 0) >= 0 && zmq_msg_size(&ev) >= 2) {
            uint16_t event;
            memcpy(&event, zmq_msg_data(&ev), sizeof event);
            *refused = event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
        }
        while (zmq_msg_more(&ev) && zmq_msg_recv(&ev, mon, 0) >= 0) /* the endpoint frame */
            ;
        zmq_msg_close(&ev);
    }
    return false;
}

char *admin_call(const char *host, uint16_t port, const char *cmd, int timeout_ms, size_t *len,
                 const admin_client_curve_t *curve, bool *refused)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 1);
    mp_kv_str(&b.pk, "cmd", cmd);
    char *out = admin_request(host, port, b.sb.data, b.sb.size, timeout_ms, len, curve, refused);
    mp_buf_fini(&b);
    return out;
}

char *admin_request(const char *host, uint16_t port, const void *req_bytes, size_t req_len,
                    int timeout_ms, size_t *len, const admin_client_curve_t *curve, bool *refused)
{
    *refused = false;
    void *zctx = zmq_ctx_new();
    void *req = zmq_socket(zctx, ZMQ_REQ), *mon = NULL;
    if (curve && curve->on) {
        zmq_setsockopt(req, ZMQ_CURVE_SERVERKEY, curve->server_key, ZAP_KEY_BYTES);
        zmq_setsockopt(req, ZMQ_CURVE_PUBLICKEY, curve->public_key, ZAP_KEY_BYTES);
        zmq_setsockopt(req, ZMQ_CURVE_SECRETKEY, curve->secret_key, ZAP_KEY_BYTES);
        if (zmq_socket_monitor(req, "inproc://admin-call-monitor",
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
            mon = zmq_socket(zctx, ZMQ_PAIR);
            zmq_connect(mon, "inproc://admin-call-monitor");
        }
    }
    int linger = 0;
    zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(req, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
    char ep[128];
    snprintf(ep, sizeof ep, "tcp://%s:%u", host, port);
    char *out = NULL;
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    if (zmq_connect(req, ep) == 0 && zmq_send(req, req_bytes, req_len, 0) >= 0 &&
        s_await(req, mon, timeout_ms, &msg, refused)) {
        *len = zmq_msg_size(&msg);
        out = roost_xmalloc(*len + 1);
        memcpy(out, zmq_msg_data(&msg), *len);
    }
    zmq_msg_close(&msg);
    if (mon) {
        zmq_socket_monitor(req, NULL, 0);
        zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(mon);
    }
    zmq_close(req);
    zmq_ctx_term(zctx);
    return out;
}
