/* edge/metrics_http.c — the metrics port (see metrics_http.h): lws's HTTP server with one
 * callback, served by lws_service on a thread of its own. */
#include "edge/metrics_http.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "edge/edge_internal.h"
#include "runtime/log.h"
#include "runtime/util.h"

static const char *const COMP = "metrics";

struct metrics_http {
    struct lws_context *ctx;
    pthread_t thread;
    atomic_bool stop;
    metrics_http_render_fn render;
    metrics_http_health_fn health;
    void *arg;
};

static int s_answer(struct lws *wsi, unsigned status, const char *type, const char *body,
                    size_t len)
{
    uint8_t head[LWS_PRE + 512], *start = head + LWS_PRE, *p = start, *end = head + sizeof head;
    if (lws_add_http_common_headers(wsi, status, type, len, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    uint8_t *buf = roost_xmalloc(LWS_PRE + len + 1);
    memcpy(buf + LWS_PRE, body, len);
    int rc = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
    free(buf);
    if (rc < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int s_request(struct lws *wsi, metrics_http_t *m, const char *uri)
{
    if (!lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI))
        return s_answer(wsi, 405, "text/plain", "method not allowed\n", 19);
    if (strcmp(uri, "/healthz") == 0) {
        const char *why = m->health ? m->health(m->arg) : NULL;
        return why ? s_answer(wsi, 503, "text/plain", why, strlen(why))
                   : s_answer(wsi, 200, "text/plain", "ok\n", 3);
    }
    if (strcmp(uri, "/metrics") != 0)
        return s_answer(wsi, 404, "text/plain", "not found\n", 10);
    size_t len = 0;
    char *text = m->render(m->arg, &len);
    int rc = text ? s_answer(wsi, 200, "text/plain; version=0.0.4", text, len)
                  : s_answer(wsi, 500, "text/plain", "cannot render\n", 14);
    free(text);
    return rc;
}

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    (void)user, (void)len;
    metrics_http_t *m = lws_context_user(lws_get_context(wsi));
    if (reason == LWS_CALLBACK_HTTP)
        return s_request(wsi, m, (const char *)in);
    if (reason == LWS_CALLBACK_HTTP_BODY) /* a POST: refuse once its headers are in */
        return -1;
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols s_protocols[] = {
    {"http", s_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void *s_thread(void *arg)
{
    metrics_http_t *m = arg;
    pthread_setname_np(pthread_self(), "roost-metrics");
    while (!atomic_load(&m->stop))
        lws_service(m->ctx, 0);
    return NULL;
}

metrics_http_t *metrics_http_start(const char *host, uint16_t port, metrics_http_render_fn fn,
                                   metrics_http_health_fn health, void *arg)
{
    edge_lws_logging();
    metrics_http_t *m = roost_xcalloc(1, sizeof *m);
    m->render = fn;
    m->health = health;
    m->arg = arg;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.iface = host;
    info.protocols = s_protocols;
    info.user = m;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    m->ctx = lws_create_context(&info);
    if (!m->ctx || pthread_create(&m->thread, NULL, s_thread, m) != 0) {
        ROOST_ERROR(COMP, "cannot listen on the metrics port", "host=%s port=%u", host, port);
        if (m->ctx)
            lws_context_destroy(m->ctx);
        free(m);
        return NULL;
    }
    ROOST_INFO(COMP, "serving", "url=http://%s:%u/metrics", host, port);
    return m;
}

void metrics_http_stop(metrics_http_t **m_p)
{
    metrics_http_t *m = *m_p;
    if (!m)
        return;
    atomic_store(&m->stop, true);
    lws_cancel_service(m->ctx);
    pthread_join(m->thread, NULL);
    lws_context_destroy(m->ctx);
    free(m);
    *m_p = NULL;
}
