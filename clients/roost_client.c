/* clients/roost_client.c — the connection layer of libroost-client (see roost_client.h): one
 * lws client context per connection, serviced inside the blocking calls; frames converted
 * between jansson and the wire with the edge's codec (edge/codec.h), so both subprotocols
 * look alike to the caller. */
#include "clients/roost_client.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "edge/codec.h"

enum { TICK_US = 20000, FRAME_BYTES_MAX = 4 * 1024 * 1024 };

typedef struct item {
    struct item *next;
    size_t len;
    uint8_t buf[]; /* LWS_PRE headroom, then the frame */
} item_t;

typedef struct jq {
    struct jq *next;
    json_t *j;
} jq_t;

struct rc {
    struct lws_context *ctx;
    struct lws *wsi;
    lws_sorted_usec_list_t tick;
    bool msgpack, connected, failed;
    int close_code;
    item_t *txh, *txt;
    uint8_t *rx;
    size_t rx_len, rx_cap;
    jq_t *inh, *intl; /* received frames not yet taken */
    int64_t next_rid;
};

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- frames in ------------------------------------------------------------------------------ */

static void s_queue(rc_t *c, json_t *j)
{
    jq_t *q = calloc(1, sizeof *q);
    q->j = j;
    if (c->intl)
        c->intl->next = q;
    else
        c->inh = q;
    c->intl = q;
}

static void s_frame_in(rc_t *c)
{
    json_t *j = NULL;
    if (c->msgpack) {
        char *out;
        size_t len;
        if (codec_encode(CODEC_JSON, c->rx, c->rx_len, NULL, 0, &out, &len) == 0) {
            j = json_loadb(out, len, 0, NULL);
            free(out);
        }
    } else {
        j = json_loadb((const char *)c->rx, c->rx_len, 0, NULL);
    }
    if (json_is_object(j))
        s_queue(c, j);
    else
        json_decref(j);
    c->rx_len = 0;
}

static void s_rx(rc_t *c, const void *in, size_t len, bool final)
{
    if (c->rx_len + len > FRAME_BYTES_MAX)
        c->rx_len = 0; /* nonsense from the server: drop it */
    if (c->rx_len + len > c->rx_cap) {
        c->rx_cap = (c->rx_len + len) * 2;
        c->rx = realloc(c->rx, c->rx_cap);
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (final)
        s_frame_in(c);
}

/* ---- the lws side --------------------------------------------------------------------------- */

static int s_write(rc_t *c)
{
    item_t *it = c->txh;
    if (!it)
        return 0;
    c->txh = it->next;
    if (!c->txh)
        c->txt = NULL;
    int rc = lws_write(c->wsi, it->buf + LWS_PRE, it->len,
                       c->msgpack ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    free(it);
    if (c->txh)
        lws_callback_on_writable(c->wsi);
    return rc < 0 ? -1 : 0;
}

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    (void)user;
    rc_t *c = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->connected = true;
        if (c->txh)
            lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        c->failed = true;
        c->wsi = NULL;
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        s_rx(c, in, len, lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi));
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return s_write(c);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2)
            c->close_code = ((const uint8_t *)in)[0] << 8 | ((const uint8_t *)in)[1];
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (!c->close_code)
            c->close_code = 1006;
        c->wsi = NULL;
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols s_protocols[] = {
    {"roost.v1.json", s_callback, 0, 4096, 0, NULL, 0},
    {"roost.v1.msgpack", s_callback, 0, 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void s_tick(lws_sorted_usec_list_t *sul)
{
    (void)sul; /* only wakes lws_service up */
}

/* One turn of the loop, at most TICK_US long. */
static void s_service(rc_t *c)
{
    lws_sul_schedule(c->ctx, 0, &c->tick, s_tick, TICK_US);
    lws_service(c->ctx, 0);
}

void rc_pump(rc_t *c, int ms)
{
    uint64_t until = s_now_ms() + (uint64_t)ms;
    do
        s_service(c);
    while (s_now_ms() < until);
}

void rc_pause_reading(rc_t *c, bool paused)
{
    if (c->wsi)
        lws_rx_flow_control(c->wsi, paused ? 0 : 1);
}

rc_t *rc_open(const char *url, bool msgpack, int timeout_ms)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", url);
    const char *proto, *address, *path;
    int port;
    if (lws_parse_uri(buf, &proto, &address, &port, &path) != 0)
        return NULL;
    lws_set_log_level(0, NULL);
    rc_t *c = calloc(1, sizeof *c);
    c->msgpack = msgpack;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = s_protocols;
    info.user = c;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    c->ctx = lws_create_context(&info);
    if (!c->ctx) {
        free(c);
        return NULL;
    }
    char fullpath[256];
    snprintf(fullpath, sizeof fullpath, "/%s", path);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = c->ctx;
    ci.address = address;
    ci.port = port;
    ci.path = fullpath;
    ci.host = address;
    ci.origin = address;
    ci.protocol = msgpack ? "roost.v1.msgpack" : "roost.v1.json";
    ci.local_protocol_name = ci.protocol;
    c->wsi = lws_client_connect_via_info(&ci);
    uint64_t until = s_now_ms() + (uint64_t)timeout_ms;
    while (c->wsi && !c->connected && !c->failed && s_now_ms() < until)
        s_service(c);
    if (!c->connected) {
        rc_free(&c);
        return NULL;
    }
    return c;
}

void rc_free(rc_t **c_p)
{
    rc_t *c = *c_p;
    if (!c)
        return;
    if (c->ctx)
        lws_context_destroy(c->ctx);
    while (c->txh) {
        item_t *n = c->txh->next;
        free(c->txh);
        c->txh = n;
    }
    while (c->inh) {
        jq_t *n = c->inh->next;
        json_decref(c->inh->j);
        free(c->inh);
        c->inh = n;
    }
    free(c->rx);
    free(c);
    *c_p = NULL;
}

int rc_closed(rc_t *c)
{
    return c->wsi ? 0 : (c->close_code ? c->close_code : 1006);
}

/* ---- frames out ----------------------------------------------------------------------------- */

int rc_send_raw(rc_t *c, const void *data, size_t len)
{
    if (!c->wsi)
        return -1;
    item_t *it = malloc(sizeof *it + LWS_PRE + len);
    it->next = NULL;
    it->len = len;
    memcpy(it->buf + LWS_PRE, data, len);
    if (c->txt)
        c->txt->next = it;
    else
        c->txh = it;
    c->txt = it;
    lws_callback_on_writable(c->wsi);
    uint64_t until = s_now_ms() + 5000;
    while (c->txh && c->wsi && s_now_ms() < until)
        s_service(c);
    return c->wsi ? 0 : -1;
}

int rc_send(rc_t *c, const json_t *frame)
{
    char *text = json_dumps(frame, JSON_COMPACT);
    if (!text)
        return -1;
    int rc;
    if (!c->msgpack) {
        rc = rc_send_raw(c, text, strlen(text));
    } else { /* the codec turns base64 byte fields into bin, as the protocol wants */
        frame_t f;
        codec_err_t err;
        char *out = NULL;
        size_t len = 0;
        rc = codec_decode(CODEC_JSON, text, strlen(text), FRAME_BYTES_MAX, &f, &err) == 0 &&
                     codec_encode(CODEC_MSGPACK, f.map.data, f.map.size, f.rid_len ? f.rid : NULL,
                                  f.rid_len, &out, &len) == 0
                 ? rc_send_raw(c, out, len)
                 : -1;
        free(out);
        frame_fini(&f);
    }
    free(text);
    return rc;
}

json_t *rc_next(rc_t *c, int timeout_ms)
{
    uint64_t until = s_now_ms() + (uint64_t)timeout_ms;
    while (!c->inh && c->wsi && s_now_ms() < until)
        s_service(c);
    if (!c->inh)
        return NULL;
    jq_t *q = c->inh;
    c->inh = q->next;
    if (!c->inh)
        c->intl = NULL;
    json_t *j = q->j;
    free(q);
    return j;
}

/* Takes the queued frame whose rid is `rid`, if any. */
static json_t *s_take_answer(rc_t *c, int64_t rid)
{
    jq_t *prev = NULL;
    for (jq_t *q = c->inh; q; prev = q, q = q->next) {
        json_t *r = json_object_get(q->j, "rid");
        if (!json_is_integer(r) || json_integer_value(r) != rid)
            continue;
        if (prev)
            prev->next = q->next;
        else
            c->inh = q->next;
        if (c->intl == q)
            c->intl = prev;
        json_t *j = q->j;
        free(q);
        return j;
    }
    return NULL;
}

json_t *rc_call(rc_t *c, json_t *frame, int timeout_ms)
{
    int64_t rid = ++c->next_rid + 1000000;
    json_object_set_new(frame, "rid", json_integer(rid));
    int rc = rc_send(c, frame);
    json_decref(frame);
    if (rc != 0)
        return NULL;
    uint64_t until = s_now_ms() + (uint64_t)timeout_ms;
    json_t *a;
    while (!(a = s_take_answer(c, rid)) && c->wsi && s_now_ms() < until)
        s_service(c);
    return a ? a : s_take_answer(c, rid);
}

json_t *rc_auth(rc_t *c, const char *token, int64_t resume, int timeout_ms)
{
    json_t *f = json_pack("{s:s, s:s}", "t", "auth", "token", token);
    if (resume >= 0)
        json_object_set_new(f, "resume", json_integer(resume));
    return rc_call(c, f, timeout_ms);
}

int rc_ack(rc_t *c, uint64_t n)
{
    json_t *f = json_pack("{s:s, s:I}", "t", "recv.ack", "n", (json_int_t)n);
    int rc = rc_send(c, f);
    json_decref(f);
    return rc;
}
