/* bench/conn_worker.c — `roost-bench connections-worker` (started by `roost-bench connections`,
 * not by people): opens many WebSocket connections from one source address in one lws client
 * context, authenticates each with a token from a file (16 connections per user), reports
 * progress lines on stdout ("progress OPEN AUTHED FAILED", then "ready AUTHED FAILED") and
 * holds the connections, answering pings, until stdin closes. */
#include <libwebsockets.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "bench/bench.h"

enum { PENDING_MAX = 256, PER_USER = 16, TOKEN_BYTES_MAX = 2048 };

typedef struct {
    char **tokens;
    uint32_t ntokens;
    uint64_t count, started, open, authed, failed, pending;
    const char *iface; /* unused when sources > 0 */
    uint32_t sources;  /* spread connections over 127.0.0.1 … 127.0.0.<sources> */
    int port;
    lws_sorted_usec_list_t tick;
    struct lws_context *ctx;
    struct conn *retry;   /* connections to open again (a refused or timed-out connect) */
    uint64_t rate, t0_ns; /* opens per second (0: as fast as PENDING_MAX allows) */
} worker_t;

enum { TRIES_MAX = 8 };

typedef struct conn {
    struct conn *next_retry;
    uint64_t index;
    uint32_t tries;
    bool sent, done, ok;
} conn_t; /* ours, reached through lws's opaque user data (kept to the end) */

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    (void)user;
    worker_t *w = lws_context_user(lws_get_context(wsi));
    conn_t *c = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        w->open++;
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (c->sent)
            return 0;
        char buf[LWS_PRE + TOKEN_BYTES_MAX + 64];
        int n = snprintf(buf + LWS_PRE, sizeof buf - LWS_PRE,
                         "{\"t\":\"auth\",\"rid\":1,\"token\":\"%s\"}",
                         w->tokens[(c->index / PER_USER) % w->ntokens]);
        c->sent = true;
        return lws_write(wsi, (unsigned char *)buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < 0 ? -1
                                                                                             : 0;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!c->done) {
            c->done = true;
            w->pending--;
            c->ok = len >= 10 && memmem(in, len, "\"t\":\"ok\"", 8);
            w->authed += c->ok;
            w->failed += !c->ok;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c && c->ok) { /* an authenticated connection dropped */
            c->ok = false;
            w->authed--;
            w->failed++;
        }
        return 0;
    case LWS_CALLBACK_WSI_DESTROY: /* once per connection, however it ended */
        if (!c || c->done)
            return 0;
        w->pending--;
        if (++c->tries < TRIES_MAX) { /* refused, timed out or cut before auth: again */
            c->sent = false;
            c->next_retry = w->retry;
            w->retry = c;
        } else {
            c->done = true;
            w->failed++;
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols s_protocols[] = {
    {"roost.v1.json", s_callback, 0, 1024, 0, NULL, 0}, /* user data: our conn_t */
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void s_tick(lws_sorted_usec_list_t *sul)
{
    (void)sul;
}

static const lws_retry_bo_t s_no_idle_policy = {.secs_since_valid_ping = 0,
                                                .secs_since_valid_hangup = 0};

static void s_open_more(worker_t *w)
{
    uint64_t allowed =
        w->rate ? (bench_now_ns() - w->t0_ns) / 1000 * w->rate / 1000000 : UINT64_MAX;
    while ((w->retry || w->started < w->count) && w->pending < PENDING_MAX &&
           w->started < allowed) {
        struct lws_client_connect_info ci;
        memset(&ci, 0, sizeof ci);
        ci.context = w->ctx;
        ci.address = "127.0.0.1";
        ci.port = w->port;
        ci.path = "/v1/ws";
        ci.host = "127.0.0.1";
        ci.origin = "127.0.0.1";
        ci.protocol = "roost.v1.json";
        char dest[24];
        if (w->sources) { /* spread the destination address, not the source: binding a source
                             address makes the kernel search its whole port range per connect */
            snprintf(dest, sizeof dest, "127.0.0.%u", 1 + (unsigned)(w->started % w->sources));
            ci.address = dest;
        } else {
            ci.iface = w->iface;
        }
        ci.retry_and_idle_policy = &s_no_idle_policy; /* see edge/server.c */
        conn_t *c = w->retry;
        if (c) {
            w->retry = c->next_retry;
        } else {
            c = calloc(1, sizeof *c);
            c->index = w->started++;
        }
        ci.opaque_user_data = c;
        w->pending++;
        if (!lws_client_connect_via_info(&ci)) {
            w->pending--;
            w->failed++;
        }
    }
}

static int s_load_tokens(worker_t *w, const char *path, uint64_t from, uint64_t n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    w->tokens = calloc(n, sizeof *w->tokens);
    char line[TOKEN_BYTES_MAX + 2];
    for (uint64_t i = 0; fgets(line, sizeof line, f) && w->ntokens < n; i++) {
        if (i < from)
            continue;
        line[strcspn(line, "\n")] = '\0';
        w->tokens[w->ntokens++] = strdup(line);
    }
    fclose(f);
    return w->ntokens ? 0 : -1;
}

int bench_conn_worker(int argc, char **argv)
{
    worker_t w = {.iface = bench_opt(argc, argv, "--iface"),
                  .port = (int)bench_opt_u64(argc, argv, "--port", 0),
                  .count = bench_opt_u64(argc, argv, "--count", 0),
                  .rate = bench_opt_u64(argc, argv, "--rate", 0),
                  .sources = (uint32_t)bench_opt_u64(argc, argv, "--sources", 0),
                  .t0_ns = bench_now_ns()};
    const char *tokens = bench_opt(argc, argv, "--tokens");
    uint64_t from = bench_opt_u64(argc, argv, "--from", 0);
    if (!tokens || !w.port || !w.count ||
        s_load_tokens(&w, tokens, from, (w.count + PER_USER - 1) / PER_USER) != 0) {
        fprintf(stderr, "connections-worker: --tokens FILE --from N --count N --port P\n");
        return 2;
    }
    lws_set_log_level(0, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = s_protocols;
    info.user = &w;
    uv_loop_t loop; /* libuv (epoll): poll() over thousands of sockets made pongs late */
    uv_loop_init(&loop);
    void *loops[1] = {&loop};
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = loops;
    info.retry_and_idle_policy = &s_no_idle_policy;
    w.ctx = lws_create_context(&info);
    uint64_t next = 0;
    bool ready = false;
    for (;;) {
        s_open_more(&w);
        lws_sul_schedule(w.ctx, 0, &w.tick, s_tick, ready ? 200000 : 20000);
        uv_run(&loop, UV_RUN_ONCE);
        uint64_t now = bench_now_ns();
        if (now >= next) {
            printf("progress %llu %llu %llu\n", (unsigned long long)w.open,
                   (unsigned long long)w.authed, (unsigned long long)w.failed);
            fflush(stdout);
            next = now + 500000000u;
        }
        if (!ready && w.started == w.count && w.pending == 0 && !w.retry) {
            printf("ready %llu %llu\n", (unsigned long long)w.authed, (unsigned long long)w.failed);
            fflush(stdout);
            ready = true;
        }
        struct pollfd p = {.fd = 0, .events = POLLIN};
        char b;
        if (ready && poll(&p, 1, 0) == 1 && read(0, &b, 1) <= 0)
            break; /* the parent is done */
    }
    lws_context_destroy(w.ctx); /* with a foreign loop: run it, then finish the destroy */
    uv_run(&loop, UV_RUN_DEFAULT);
    lws_context_destroy(w.ctx);
    uv_loop_close(&loop);
    for (uint32_t i = 0; i < w.ntokens; i++)
        free(w.tokens[i]);
    free(w.tokens);
    return 0;
}
