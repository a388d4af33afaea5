/* edge/http.c — the edge's HTTP side (protocol 0 of its lws context): `/healthz`,
 * `/metrics`, and the auth endpoints, whose bodies are checked here (size 413, JSON 400, the
 * fields 400 naming them, the per-IP OTP limit 429) before an HTTP actor (edge/auth_http.c)
 * does the work and posts the answer back. Also the webhook SMS driver's client requests. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/ids.h"
#include "actors/mp.h"
#include "edge/auth_body.h"
#include "edge/edge_internal.h"
#include "runtime/log.h"
#include "runtime/util.h"

static const char *const COMP = "edge";

static char *s_error_json(const char *code, const char *msg)
{
    json_t *j = json_pack("{s:s, s:s}", "code", code, "msg", msg);
    char *out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return out;
}

void http_answer(edge_t *e, conn_t *c, uint32_t slot, uint16_t status, const char *body)
{
    (void)slot;
    conn_enqueue(e, c, out_new(0, c->gen, OUT_HTTP, status, body, strlen(body)));
}

static void s_error(edge_t *e, conn_t *c, uint32_t slot, uint16_t status, const char *code,
                    const char *msg)
{
    char *body = s_error_json(code, msg);
    http_answer(e, c, slot, status, body);
    free(body);
}

static int s_write_answer(edge_t *e, struct lws *wsi, uint32_t *slotp)
{
    conn_t *c = *slotp ? conn_get(e, *slotp - 1) : NULL;
    if (!c || !c->txh || c->txh->op != OUT_HTTP)
        return 0;
    out_item_t *it = c->txh;
    bool json = it->len && out_data(it)[0] == '{';
    uint8_t head[LWS_PRE + 512], *start = head + LWS_PRE, *p = start, *end = head + sizeof head;
    const char *type = json ? "application/json" : "text/plain; version=0.0.4";
    if (lws_add_http_common_headers(wsi, it->code, type, it->len, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    int rc = lws_write(wsi, out_data(it), it->len, LWS_WRITE_HTTP_FINAL);
    metrics_counter_add(e->m.http[it->code < 300 ? 0 : it->code < 500 ? 1 : 2], 1);
    conn_free(e, *slotp - 1);
    *slotp = 0;
    if (rc < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- request bodies ------------------------------------------------------------------------ */

static void s_body_done(edge_t *e, struct lws *wsi, uint32_t slot, conn_t *c)
{
    if (c->rx_over)
        return s_error(e, c, slot, 413, "too_large", "request body over the limit");
    auth_body_t req;
    const char *bad = NULL;
    if (auth_body_parse((auth_op_t)c->http_op, (const char *)c->rx, c->rx_len, &req, &bad) != 0 &&
        strcmp(bad, "body") == 0) {
        conn_rx_reset(c);
        return s_error(e, c, slot, 400, "bad_request", "the body is not a JSON object");
    }
    if (bad) {
        char msg[64];
        snprintf(msg, sizeof msg, "missing or invalid field '%s'", bad);
        s_error(e, c, slot, 400, "bad_request", msg);
    } else {
        char ip[64] = "";
        lws_get_peer_simple(wsi, ip, sizeof ip);
        if (c->http_op == AUTH_OTP_REQUEST &&
            !ratelimit_take(e->otp_ip, ip, strlen(ip), edge_now_ms())) {
            s_error(e, c, slot, 429, "rate_limited", "too many code requests from this address");
        } else {
            mp_buf_t m;
            mp_buf_init(&m);
            msgpack_pack_array(&m.pk, 4);
            msgpack_pack_uint8(&m.pk, c->http_op);
            mp_pack_str(&m.pk, c->http_op == AUTH_REFRESH ? req.refresh : req.phone);
            mp_pack_str(&m.pk, req.code);
            mp_pack_str(&m.pk, req.device);
            edge_to_actor(e, slot, MSG_EDGE_HTTP, m.sb.data, m.sb.size);
            mp_buf_fini(&m);
        }
    }
    conn_rx_reset(c);
}

/* ---- routing ------------------------------------------------------------------------------- */

static const struct {
    const char *path;
    auth_op_t op;
} s_posts[] = {
    {"/v1/auth/otp/request", AUTH_OTP_REQUEST},
    {"/v1/auth/otp/verify", AUTH_OTP_VERIFY},
    {"/v1/auth/refresh", AUTH_REFRESH},
};

static int s_request(edge_t *e, struct lws *wsi, uint32_t *slotp, const char *path)
{
    uint32_t slot = conn_alloc(e, wsi, CONN_HTTP);
    if (slot == UINT32_MAX)
        return -1;
    *slotp = slot + 1;
    conn_t *c = conn_get(e, slot);
    bool post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
    bool get = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0;
    for (size_t i = 0; i < sizeof s_posts / sizeof s_posts[0]; i++) {
        if (strcmp(path, s_posts[i].path) != 0)
            continue;
        if (!post) {
            s_error(e, c, slot, 405, "bad_request", "use POST");
            return 0;
        }
        c->http_op = (uint8_t)s_posts[i].op;
        c->http_post = true;
        return 0; /* the body follows */
    }
    if (get && strcmp(path, "/healthz") == 0) {
        bool draining = atomic_load(&e->draining);
        http_answer(e, c, slot, draining ? 503 : 200, draining ? "draining" : "ok");
    } else if (get && strcmp(path, "/metrics") == 0) {
        size_t len;
        char *text = edge_metrics_render(e, &len);
        http_answer(e, c, slot, 200, text ? text : "");
        free(text);
    } else {
        s_error(e, c, slot, 404, "not_found", "no such endpoint");
    }
    return 0;
}

int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    edge_t *e = lws_context_user(lws_get_context(wsi));
    uint32_t *slotp = user;
    conn_t *c = slotp && *slotp ? conn_get(e, *slotp - 1) : NULL;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return -1; /* a WebSocket without one of our subprotocols */
    case LWS_CALLBACK_HTTP:
        if (c)
            conn_free(e, *slotp - 1);
        return s_request(e, wsi, slotp, in ? (const char *)in : "");
    case LWS_CALLBACK_HTTP_BODY:
        if (c && c->http_post)
            conn_rx_append(c, in, len, e->cfg.http_body_bytes);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (c && c->http_post)
            s_body_done(e, wsi, *slotp - 1, c);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return s_write_answer(e, wsi, slotp);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (c) {
            conn_free(e, *slotp - 1);
            *slotp = 0;
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        return 0; /* the WebSocket protocol drains the outbox */
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ---- the webhook SMS driver (client requests) ------------------------------------------------ */

int http_sms_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    out_item_t *it = user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
        uint8_t **p = in, *end = *p + len;
        char n[24];
        snprintf(n, sizeof n, "%zu", it ? it->len : 0);
        if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                         (const uint8_t *)"application/json", 16, p, end) ||
            lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, (const uint8_t *)n,
                                         (int)strlen(n), p, end))
            return -1;
        lws_client_http_body_pending(wsi, 1);
        lws_callback_on_writable(wsi);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
        if (!it)
            return -1;
        lws_client_http_body_pending(wsi, 0);
        return lws_write(wsi, out_data(it), it->len, LWS_WRITE_HTTP_FINAL) < 0 ? -1 : 0;
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        if (lws_http_client_http_response(wsi) >= 300)
            ROOST_WARN(COMP, "sms webhook refused", "status=%u",
                       lws_http_client_http_response(wsi));
        return 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
        char buf[LWS_PRE + 1024], *px = buf + LWS_PRE;
        int n = sizeof buf - LWS_PRE;
        return lws_http_client_read(wsi, &px, &n) < 0 ? -1 : 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        ROOST_WARN(COMP, "sms webhook unreachable", "err=\"%s\"", in ? (const char *)in : "");
        free(it);
        lws_set_wsi_user(wsi, NULL);
        return 0;
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        free(it);
        lws_set_wsi_user(wsi, NULL);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

void http_sms_post(edge_t *e, out_item_t *it)
{
    char url[EDGE_URL_BYTES_MAX + 1];
    snprintf(url, sizeof url, "%s", e->cfg.sms_url);
    const char *proto, *address, *path;
    int port;
    if (lws_parse_uri(url, &proto, &address, &port, &path) != 0) {
        free(it);
        return;
    }
    char fullpath[EDGE_URL_BYTES_MAX + 2];
    snprintf(fullpath, sizeof fullpath, "/%s", path);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = e->lws;
    ci.address = address;
    ci.port = port;
    ci.path = fullpath;
    ci.host = address;
    ci.origin = address;
    ci.method = "POST";
    ci.protocol = "roost-sms";
    ci.local_protocol_name = "roost-sms";
    ci.userdata = it;
    if (!lws_client_connect_via_info(&ci)) {
        ROOST_WARN(COMP, "sms webhook unreachable", "url=%s", e->cfg.sms_url);
        /* lws reported CONNECTION_ERROR already (and freed it) or never took it */
    }
}
