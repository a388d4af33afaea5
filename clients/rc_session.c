/* clients/rc_session.c — libroost-client's HTTP calls (one lws client context per request)
 * and its session layer: login, refresh, connect with resume and jittered backoff, and the
 * development SMS sink reader. */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clients/roost_client.h"

typedef struct {
    const char *body;
    size_t body_len;
    int status;
    bool done;
    char *resp;
    size_t resp_len;
    lws_sorted_usec_list_t tick;
} http_t;

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int s_headers(struct lws *wsi, http_t *h, uint8_t **p, uint8_t *end)
{
    if (!h->body)
        return 0;
    char n[24];
    snprintf(n, sizeof n, "%zu", h->body_len);
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (const uint8_t *)"application/json", 16, p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, (const uint8_t *)n,
                                     (int)strlen(n), p, end))
        return -1;
    lws_client_http_body_pending(wsi, 1);
    lws_callback_on_writable(wsi);
    return 0;
}

static int s_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    http_t *h = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        return s_headers(wsi, h, (uint8_t **)in, *(uint8_t **)in + len);
    case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE: {
        uint8_t *buf = malloc(LWS_PRE + h->body_len + 1);
        memcpy(buf + LWS_PRE, h->body, h->body_len);
        lws_client_http_body_pending(wsi, 0);
        int rc = lws_write(wsi, buf + LWS_PRE, h->body_len, LWS_WRITE_HTTP_FINAL);
        free(buf);
        return rc < 0 ? -1 : 0;
    }
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        h->status = (int)lws_http_client_http_response(wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        h->resp = realloc(h->resp, h->resp_len + len + 1);
        memcpy(h->resp + h->resp_len, in, len);
        h->resp_len += len;
        h->resp[h->resp_len] = '\0';
        return 0;
    case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
        char buf[LWS_PRE + 4096], *px = buf + LWS_PRE;
        int n = sizeof buf - LWS_PRE;
        return lws_http_client_read(wsi, &px, &n) < 0 ? -1 : 0;
    }
    case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
    case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        h->done = true;
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols s_http_protocols[] = {
    {"rc-http", s_http_cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void s_tick(lws_sorted_usec_list_t *sul)
{
    (void)sul;
}

int rc_http(const char *host, uint16_t port, const char *method, const char *path, const char *body,
            int timeout_ms, int *status, char **resp)
{
    http_t h = {.body = body, .body_len = body ? strlen(body) : 0};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = s_http_protocols;
    info.user = &h;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    lws_set_log_level(0, NULL);
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx)
        return -1;
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = ctx;
    ci.address = host;
    ci.port = port;
    ci.path = path;
    ci.host = host;
    ci.origin = host;
    ci.method = method;
    ci.protocol = "rc-http";
    ci.local_protocol_name = "rc-http";
    bool started = lws_client_connect_via_info(&ci) != NULL;
    uint64_t until = s_now_ms() + (uint64_t)timeout_ms;
    while (started && !h.done && s_now_ms() < until) {
        lws_sul_schedule(ctx, 0, &h.tick, s_tick, 20000);
        lws_service(ctx, 0);
    }
    lws_context_destroy(ctx);
    *status = h.status;
    *resp = h.resp ? h.resp : strdup("");
    return h.done && h.status ? 0 : -1;
}

/* ---- the session layer ---------------------------------------------------------------------- */

static int s_post_json(const char *host, uint16_t port, const char *path, json_t *body,
                       json_t **answer)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    int status = -1;
    char *resp = NULL;
    if (rc_http(host, port, "POST", path, text, 10000, &status, &resp) != 0)
        status = -1;
    free(text);
    if (answer)
        *answer = resp ? json_loads(resp, 0, NULL) : NULL;
    free(resp);
    return status;
}

int rc_otp_request(const char *host, uint16_t port, const char *phone)
{
    return s_post_json(host, port, "/v1/auth/otp/request", json_pack("{s:s}", "phone", phone),
                       NULL);
}

static int s_take_pair(rc_session_t *s, int status, json_t *a)
{
    const char *user = json_string_value(json_object_get(a, "user"));
    const char *acc = json_string_value(json_object_get(a, "access_token"));
    const char *ref = json_string_value(json_object_get(a, "refresh_token"));
    if (status == 200 && user && acc && ref) {
        snprintf(s->user, sizeof s->user, "%s", user);
        snprintf(s->access, sizeof s->access, "%s", acc);
        snprintf(s->refresh, sizeof s->refresh, "%s", ref);
    }
    json_decref(a);
    return status;
}

int rc_login(rc_session_t *s, const char *phone, const char *code, const char *device)
{
    snprintf(s->device, sizeof s->device, "%s", device);
    json_t *a = NULL;
    int st = s_post_json(
        s->host, s->port, "/v1/auth/otp/verify",
        json_pack("{s:s, s:s, s:s}", "phone", phone, "code", code, "device", device), &a);
    return s_take_pair(s, st, a);
}

int rc_refresh(rc_session_t *s)
{
    json_t *a = NULL;
    int st = s_post_json(s->host, s->port, "/v1/auth/refresh",
                         json_pack("{s:s}", "refresh_token", s->refresh), &a);
    return s_take_pair(s, st, a);
}

json_t *rc_session_connect(rc_session_t *s, int timeout_ms)
{
    char url[128];
    snprintf(url, sizeof url, "ws://%s:%u/v1/ws", s->host, s->port);
    uint64_t until = s_now_ms() + (uint64_t)timeout_ms;
    uint32_t backoff = 100;
    bool refreshed = false;
    rc_free(&s->conn);
    while (s_now_ms() < until) {
        s->conn = rc_open(url, s->msgpack, 2000);
        json_t *a =
            s->conn ? rc_auth(s->conn, s->access, s->last_n ? (int64_t)s->last_n : -1, 5000) : NULL;
        const char *t = json_string_value(json_object_get(a, "t"));
        if (t && strcmp(t, "ok") == 0)
            return a;
        const char *code = json_string_value(json_object_get(a, "code"));
        bool unauthorized = code && strcmp(code, "unauthorized") == 0;
        json_decref(a);
        rc_free(&s->conn);
        if (unauthorized && (refreshed || rc_refresh(s) != 200))
            return NULL;
        refreshed |= unauthorized;
        if (!unauthorized) { /* jittered exponential backoff */
            usleep((backoff / 2 + (uint32_t)rand() % (backoff + 1)) * 1000u);
            backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
        }
    }
    return NULL;
}

int rc_code_from_file(const char *path, const char *phone, char code[8])
{
    code[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[128], p[32], c[16];
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%31s %15s", p, c) == 2 && strcmp(p, phone) == 0 && strlen(c) == 6)
            memcpy(code, c, 7);
    fclose(f);
    return code[0] ? 0 : -1;
}
