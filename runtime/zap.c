/* runtime/zap.c — the ZAP handler (see zap.h): a REP socket answering CURVE handshakes from
 * an allow-list. */
#include "runtime/zap.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "runtime/clock.h"
#include "runtime/log.h"
#include "runtime/util.h"

enum { REQUEST_PARTS = 7, PART_BYTES_MAX = 256, REFUSED_LOG_GAP_MS = 1000 };

struct zap {
    void *rep;
    char who[24];
    zap_allow_t *allow;
    uint32_t n;
    _Atomic uint64_t accepted, refused;
    uint64_t last_log_ms;
};

void zap_allow_add(zap_t *z, const zap_allow_t *allow)
{
    z->allow = roost_xrealloc(z->allow, (z->n + 1) * sizeof *z->allow);
    z->allow[z->n++] = *allow;
}

zap_t *zap_new(void *zctx, const char *who, const zap_allow_t *allow, uint32_t n)
{
    zap_t *z = roost_xcalloc(1, sizeof *z);
    snprintf(z->who, sizeof z->who, "%s", who);
    z->allow = roost_xcalloc(n ? n : 1, sizeof *z->allow);
    memcpy(z->allow, allow, n * sizeof *allow);
    z->n = n;
    z->rep = zmq_socket(zctx, ZMQ_REP);
    int zero = 0;
    zmq_setsockopt(z->rep, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(z->rep, "inproc://zeromq.zap.01") != 0) {
        ROOST_ERROR("zap", "cannot bind the ZAP handler", "who=%s err=\"%s\"", who,
                    zmq_strerror(zmq_errno()));
        zap_destroy(&z);
    }
    return z;
}

void *zap_socket(zap_t *z)
{
    return z->rep;
}

/* Receives one multipart request into parts (each up to PART_BYTES_MAX); false if there was
 * nothing to read. *count: parts seen (more than REQUEST_PARTS are read and dropped). */
static bool s_recv(zap_t *z, char parts[REQUEST_PARTS][PART_BYTES_MAX], size_t lens[REQUEST_PARTS],
                   int *count)
{
    *count = 0;
    for (int more = 1; more;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, z->rep, *count ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return *count > 0;
        }
        if (*count < REQUEST_PARTS) {
            size_t len = zmq_msg_size(&m);
            lens[*count] = len < PART_BYTES_MAX ? len : PART_BYTES_MAX;
            memcpy(parts[*count], zmq_msg_data(&m), lens[*count]);
        }
        (*count)++;
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    return true;
}

static void s_reply(zap_t *z, const char *id, size_t id_len, const char *status, const char *text,
                    const char *user)
{
    zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(z->rep, id, id_len, ZMQ_SNDMORE);
    zmq_send(z->rep, status, strlen(status), ZMQ_SNDMORE);
    zmq_send(z->rep, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(z->rep, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(z->rep, "", 0, 0);
}

static const zap_allow_t *s_lookup(const zap_t *z, const char *key, size_t len)
{
    if (len != ZAP_KEY_BYTES)
        return NULL;
    for (uint32_t i = 0; i < z->n; i++)
        if (memcmp(z->allow[i].key, key, ZAP_KEY_BYTES) == 0)
            return &z->allow[i];
    return NULL;
}

static void s_log_refusal(zap_t *z, const char *address, size_t alen, const char *mech, size_t mlen,
                          const char *key, size_t klen)
{
    uint64_t now = roost_clock_now_ms(roost_clock_real());
    if (now - z->last_log_ms < REFUSED_LOG_GAP_MS)
        return;
    z->last_log_ms = now;
    char z85[41] = "-";
    if (klen == ZAP_KEY_BYTES)
        zmq_z85_encode(z85, (const uint8_t *)key, ZAP_KEY_BYTES);
    ROOST_WARN("zap", "connection refused: key not in the manifest",
               "who=%s address=%.*s mech=%.*s key=%s refused=%llu", z->who, (int)alen, address,
               (int)mlen, mech, z85, (unsigned long long)atomic_load(&z->refused));
}

/* Request: version, request id, domain, address, identity, mechanism, credentials. */
static void s_answer(zap_t *z, char parts[REQUEST_PARTS][PART_BYTES_MAX],
                     const size_t lens[REQUEST_PARTS], int count)
{
    if (count < REQUEST_PARTS - 1 || lens[0] != 3 || memcmp(parts[0], "1.0", 3) != 0) {
        s_reply(z, count > 1 ? parts[1] : "", count > 1 ? lens[1] : 0, "500", "bad request", "");
        return;
    }
    bool curve = lens[5] == 5 && memcmp(parts[5], "CURVE", 5) == 0;
    const zap_allow_t *a = curve && count == REQUEST_PARTS ? s_lookup(z, parts[6], lens[6]) : NULL;
    if (a) {
        atomic_fetch_add(&z->accepted, 1);
        s_reply(z, parts[1], lens[1], "200", "OK", a->user);
        return;
    }
    atomic_fetch_add(&z->refused, 1);
    s_log_refusal(z, parts[3], lens[3], parts[5], lens[5], count == REQUEST_PARTS ? parts[6] : "",
                  count == REQUEST_PARTS ? lens[6] : 0);
    s_reply(z, parts[1], lens[1], "400", "key not allowed", "");
}

void zap_serve(zap_t *z)
{
    static _Thread_local char parts[REQUEST_PARTS][PART_BYTES_MAX];
    size_t lens[REQUEST_PARTS] = {0};
    int count;
    while (s_recv(z, parts, lens, &count))
        s_answer(z, parts, lens, count);
}

uint64_t zap_accepted(const zap_t *z)
{
    return atomic_load(&z->accepted);
}

uint64_t zap_refused(const zap_t *z)
{
    return atomic_load(&z->refused);
}

void zap_destroy(zap_t **z_p)
{
    zap_t *z = *z_p;
    if (!z)
        return;
    if (z->rep)
        zmq_close(z->rep);
    free(z->allow);
    free(z);
    *z_p = NULL;
}
