/* edge/server.c — the edge's event loop (see edge.h): the lws context on the client port, the
 * WebSocket protocol callback, the outbox drained into connections' send queues, pings, and
 * draining. Connections live in a slot table; a slot's generation makes posts to a closed
 * connection harmless. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <time.h>
#include <uv.h>
#include <unistd.h>

#include "actors/mp.h"
#include "edge/edge_internal.h"
#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/util.h"

static const char *const COMP = "edge";

enum {
    TICK_MS = 500,
    RX_BUFFER_BYTES = 1024,   /* lws's per-connection receive buffer: frames come in pieces */
    SLOTS_MAX = 1u << 20,     /* connections one edge process can hold */
    PENDING_BEFORE_FRAME = 8, /* bytes of flags/codec before a frame sent to a session */
};

uint64_t edge_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- the outbox (any thread → the loop) --------------------------------------------------- */

out_item_t *out_new(uint32_t slot, uint32_t gen, out_op_t op, uint16_t code, const void *data,
                    size_t len)
{
    out_item_t *it = roost_xmalloc(sizeof *it + LWS_PRE + len + 1);
    memset(it, 0, sizeof *it);
    it->slot = slot;
    it->gen = gen;
    it->op = (uint16_t)op;
    it->code = code;
    it->len = len;
    if (data && len)
        memcpy(out_data(it), data, len);
    out_data(it)[len] = '\0';
    return it;
}

void edge_post(edge_t *e, out_item_t *it)
{
    mpsc_push(&e->outbox, &it->q);
    if (atomic_exchange(&e->wake_pending, true))
        return; /* a wake-up is already on its way */
    pthread_mutex_lock(&e->lws_mu);
    if (e->lws)
        lws_cancel_service(e->lws);
    pthread_mutex_unlock(&e->lws_mu);
}

static out_item_t *s_pop(edge_t *e)
{
    mpsc_node_t *n = mpsc_pop(&e->outbox);
    return n ? (out_item_t *)((char *)n - offsetof(out_item_t, q)) : NULL;
}

static void s_drain_outbox(edge_t *e)
{
    atomic_store(&e->wake_pending, false);
    out_item_t *it;
    while ((it = s_pop(e)) != NULL) {
        if (it->op == OUT_SMS) {
            http_sms_post(e, it);
            continue;
        }
        conn_t *c = conn_get(e, it->slot);
        if (!c || c->gen != it->gen || c->kind == CONN_FREE) {
            free(it); /* the connection is gone */
            continue;
        }
        conn_enqueue(e, c, it);
    }
}

/* ---- the slot table ---------------------------------------------------------------------- */

conn_t *conn_get(edge_t *e, uint32_t slot)
{
    return slot < e->nslots ? &e->conns[slot] : NULL;
}

uint32_t conn_alloc(edge_t *e, struct lws *wsi, conn_kind_t kind)
{
    if (e->free_head == UINT32_MAX) {
        if (e->nslots == SLOTS_MAX)
            return UINT32_MAX;
        uint32_t grow = e->nslots ? e->nslots : 256;
        if (grow > SLOTS_MAX - e->nslots)
            grow = SLOTS_MAX - e->nslots;
        e->conns = roost_xrealloc(e->conns, (e->nslots + grow) * sizeof *e->conns);
        memset(&e->conns[e->nslots], 0, grow * sizeof *e->conns);
        for (uint32_t i = e->nslots; i < e->nslots + grow; i++)
            e->conns[i].next_free = i + 1 < e->nslots + grow ? i + 1 : UINT32_MAX;
        e->free_head = e->nslots;
        e->nslots += grow;
    }
    uint32_t slot = e->free_head;
    conn_t *c = &e->conns[slot];
    e->free_head = c->next_free;
    uint32_t gen = c->gen;
    memset(c, 0, sizeof *c);
    c->gen = gen;
    c->wsi = wsi;
    c->kind = (uint8_t)kind;
    c->last_ping_ms = edge_now_ms();
    return slot;
}

void conn_tx_clear(conn_t *c)
{
    while (c->txh) {
        out_item_t *n = c->txh->next;
        free(c->txh);
        c->txh = n;
    }
    c->txt = NULL;
    c->tx_bytes = 0;
}

void conn_rx_reset(conn_t *c)
{
    free(c->rx);
    c->rx = NULL;
    c->rx_len = c->rx_cap = 0;
    c->rx_over = false;
}

void conn_free(edge_t *e, uint32_t slot)
{
    conn_t *c = conn_get(e, slot);
    if (!c || c->kind == CONN_FREE)
        return;
    conn_tx_clear(c);
    conn_rx_reset(c);
    c->kind = CONN_FREE;
    c->wsi = NULL;
    c->gen++;
    c->next_free = e->free_head;
    e->free_head = slot;
}

void conn_key(const edge_t *e, uint32_t slot, char out[ROOST_KEY_BYTES_MAX + 1])
{
    const conn_t *c = &e->conns[slot];
    char gen[40];
    snprintf(gen, sizeof gen, "%u-%016llx", c->gen, (unsigned long long)e->boot);
    roost_key_make_local(out, ROOST_KEY_BYTES_MAX + 1, e->cfg.node_id, slot,
                         c->kind == CONN_WS ? "ws" : "http", gen);
}

bool conn_rx_append(conn_t *c, const void *in, size_t len, size_t limit)
{
    if (c->rx_over || len > limit - c->rx_len) {
        c->rx_over = true;
        free(c->rx);
        c->rx = NULL;
        c->rx_cap = 0;
        return false;
    }
    if (c->rx_len + len > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap * 2 : 256;
        while (cap < c->rx_len + len)
            cap *= 2;
        c->rx = roost_xrealloc(c->rx, cap);
        c->rx_cap = cap;
    }
    if (len)
        memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    return true;
}

void conn_enqueue(edge_t *e, conn_t *c, out_item_t *it)
{
    if (c->closing && it->op != OUT_CLOSE) {
        free(it);
        return;
    }
    if (it->op == OUT_DATA && c->tx_bytes + it->len > e->cfg.send_queue_bytes) {
        free(it); /* a slow reader: its events stay in its inbox for the next connection */
        metrics_counter_add(e->m.slow_closed, 1);
        conn_tx_clear(c);
        it = out_new(0, c->gen, OUT_CLOSE, 1008, "send queue full",
                     15); /* 1013 is refused by lws clients */
    }
    if (it->op == OUT_CLOSE)
        c->closing = true;
    it->next = NULL;
    if (c->txt)
        c->txt->next = it;
    else
        c->txh = it;
    c->txt = it;
    c->tx_bytes += it->len;
    lws_callback_on_writable(c->wsi);
}

void edge_to_actor(edge_t *e, uint32_t slot, uint32_t type, const void *data, size_t len)
{
    char key[ROOST_KEY_BYTES_MAX + 1];
    conn_key(e, slot, key);
    roost_env_t *env = roost_env_new(key, "", type, data, len);
    if (env)
        roost_node_send(e->cfg.node, env);
}

/* ---- the WebSocket protocol ---------------------------------------------------------------- */

static uint32_t *s_slot_of(void *user)
{
    return (uint32_t *)user; /* per-session data: slot + 1 (0: none) */
}

static void s_frame_done(edge_t *e, uint32_t slot, conn_t *c)
{
    size_t len = c->rx_over ? 0 : c->rx_len;
    uint8_t *msg = roost_xmalloc(1 + len);
    msg[0] = (uint8_t)(c->codec | (c->rx_over ? EDGE_IN_TOO_LARGE : 0));
    if (len)
        memcpy(msg + 1, c->rx, len);
    metrics_counter_add(e->m.frames_in, 1);
    if (c->rx_over)
        metrics_counter_add(e->m.too_large, 1);
    edge_to_actor(e, slot, MSG_EDGE_IN, msg, 1 + len);
    free(msg);
    conn_rx_reset(c);
}

static int s_write_next(edge_t *e, conn_t *c)
{
    if (c->ping_due) { /* with a payload: some clients never answer an empty ping */
        uint8_t ping[LWS_PRE + 8];
        memcpy(ping + LWS_PRE, "roostpng", 8);
        c->ping_due = false;
        if (lws_write(c->wsi, ping + LWS_PRE, 8, LWS_WRITE_PING) < 0)
            return -1;
    } else if (c->txh) {
        out_item_t *it = c->txh;
        if (it->op == OUT_CLOSE) { /* the close frame ourselves: lws on libuv drops its own */
            uint8_t frame[LWS_PRE + 125];
            size_t rlen = it->len < 123 ? it->len : 123;
            frame[LWS_PRE] = (uint8_t)(it->code >> 8);
            frame[LWS_PRE + 1] = (uint8_t)it->code;
            memcpy(frame + LWS_PRE + 2, out_data(it), rlen);
            lws_write(c->wsi, frame + LWS_PRE, 2 + rlen, (enum lws_write_protocol)4); /* close */
            return -1;
        }
        c->txh = it->next;
        if (!c->txh)
            c->txt = NULL;
        c->tx_bytes -= it->len;
        int rc = lws_write(c->wsi, out_data(it), it->len,
                           c->codec == CODEC_JSON ? LWS_WRITE_TEXT : LWS_WRITE_BINARY);
        free(it);
        metrics_counter_add(e->m.frames_out, 1);
        if (rc < 0)
            return -1;
    }
    if (c->txh || c->ping_due)
        lws_callback_on_writable(c->wsi);
    return 0;
}

static int s_ws_established(edge_t *e, struct lws *wsi, uint32_t *slotp)
{
    if (atomic_load(&e->draining)) {
        metrics_counter_add(e->m.refused, 1);
        return -1;
    }
    uint32_t slot = conn_alloc(e, wsi, CONN_WS);
    if (slot == UINT32_MAX) {
        metrics_counter_add(e->m.refused, 1);
        return -1;
    }
    const struct lws_protocols *p = lws_get_protocol(wsi);
    e->conns[slot].codec = strcmp(p->name, "roost.v1.msgpack") == 0 ? CODEC_MSGPACK : CODEC_JSON;
    *slotp = slot + 1;
    atomic_fetch_add(&e->nconns, 1);
    metrics_counter_add(e->m.accepted, 1);
    metrics_gauge_add(e->m.connections, 1);
    return 0;
}

static int s_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    edge_t *e = lws_context_user(lws_get_context(wsi));
    uint32_t *slotp = s_slot_of(user);
    conn_t *c = slotp && *slotp ? conn_get(e, *slotp - 1) : NULL;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: { /* only /v1/ws, and not while draining */
        char uri[16];
        if (atomic_load(&e->draining)) {
            metrics_counter_add(e->m.refused, 1);
            return -1;
        }
        return lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) > 0 &&
                       strcmp(uri, "/v1/ws") == 0
                   ? 0
                   : -1;
    }
    case LWS_CALLBACK_ESTABLISHED:
        return s_ws_established(e, wsi, slotp);
    case LWS_CALLBACK_RECEIVE:
        if (!c)
            return -1;
        c->missed_pings = 0; /* traffic proves it is alive as well as a pong */
        conn_rx_append(c, in, len, e->cfg.frame_bytes);
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi))
            s_frame_done(e, *slotp - 1, c);
        return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
        if (c)
            c->missed_pings = 0;
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c ? s_write_next(e, c) : -1;
    case LWS_CALLBACK_CLOSED:
        if (c) {
            edge_to_actor(e, *slotp - 1, MSG_EDGE_CLOSED, NULL, 0);
            conn_free(e, *slotp - 1);
            *slotp = 0;
            atomic_fetch_sub(&e->nconns, 1);
            metrics_gauge_add(e->m.connections, -1);
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        s_drain_outbox(e);
        if (atomic_load(&e->stop)) /* edge_stop: let uv_run return */
            uv_stop(&e->loop);
        return 0;
    default:
        return 0;
    }
}

/* ---- pings and draining (every TICK_MS) --------------------------------------------------- */

static void s_ping(edge_t *e, conn_t *c, uint64_t now)
{
    if (now - c->last_ping_ms < e->cfg.ping_ms)
        return;
    c->last_ping_ms = now;
    if (c->missed_pings >= 2) { /* two pings unanswered: the peer is gone */
        metrics_counter_add(e->m.ping_closed, 1);
        conn_tx_clear(c);
        conn_enqueue(e, c, out_new(0, c->gen, OUT_CLOSE, 1001, "missed pings", 12));
        return;
    }
    c->missed_pings++;
    c->ping_due = true;
    lws_callback_on_writable(c->wsi);
}

static void s_goaway(edge_t *e, conn_t *c)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 3);
    mp_kv_str(&b.pk, "t", "goaway");
    uint32_t r = e->cfg.reconnect_ms;
    mp_kv_u64(&b.pk, "reconnect_ms", r / 2 + (uint32_t)rand() % (r + 1)); /* 0.5–1.5× */
    mp_pack_str(&b.pk, "edges");
    msgpack_pack_array(&b.pk, e->cfg.npeers);
    for (uint32_t i = 0; i < e->cfg.npeers; i++)
        mp_pack_str(&b.pk, e->cfg.peers[i]);
    char *out;
    size_t len;
    if (codec_encode((codec_kind_t)c->codec, b.sb.data, b.sb.size, NULL, 0, &out, &len) == 0) {
        conn_enqueue(e, c, out_new(0, c->gen, OUT_DATA, 0, out, len));
        free(out);
    }
    mp_buf_fini(&b);
}

static void s_drain_step(edge_t *e, uint64_t now)
{
    if (!atomic_exchange(&e->drain_seen, true)) {
        e->drain_deadline_ms = now + e->cfg.drain_deadline_ms;
        ROOST_INFO(COMP, "draining", "connections=%llu deadline_ms=%u",
                   (unsigned long long)atomic_load(&e->nconns), e->cfg.drain_deadline_ms);
        for (uint32_t i = 0; i < e->nslots; i++)
            if (e->conns[i].kind == CONN_WS)
                s_goaway(e, &e->conns[i]);
    } else if (now >= e->drain_deadline_ms) {
        for (uint32_t i = 0; i < e->nslots; i++)
            if (e->conns[i].kind == CONN_WS && !e->conns[i].closing)
                conn_enqueue(e, &e->conns[i],
                             out_new(0, e->conns[i].gen, OUT_CLOSE, 1001, "edge drained", 12));
    }
    if (atomic_load(&e->nconns) == 0 && !atomic_load(&e->drained)) {
        atomic_store(&e->drained, true);
        ROOST_INFO(COMP, "drained", "%s", "connections=0");
    }
}

static void s_tick(lws_sorted_usec_list_t *sul)
{
    edge_t *e = (edge_t *)((char *)sul - offsetof(edge_t, tick));
    if (atomic_load(&e->stop))
        return; /* edge_stop drains lws's loop with the context already out of e->lws: a tick
                 * due then rescheduled itself on NULL (ASan in clean-clone CI, session 11) */
    uint64_t now = edge_now_ms();
    for (uint32_t i = 0; i < e->nslots; i++)
        if (e->conns[i].kind == CONN_WS && !e->conns[i].closing)
            s_ping(e, &e->conns[i], now);
    if (atomic_load(&e->draining))
        s_drain_step(e, now);
    lws_sul_schedule(e->lws, 0, &e->tick, s_tick, (lws_usec_t)TICK_MS * 1000);
}

/* ---- the context and the thread ----------------------------------------------------------- */

static const struct lws_protocols s_protocols[] = {
    {"http", http_callback, sizeof(uint32_t), 0, 0, NULL, 0},
    {"roost.v1.json", s_ws_callback, sizeof(uint32_t), RX_BUFFER_BYTES, 1, NULL, 0},
    {"roost.v1.msgpack", s_ws_callback, sizeof(uint32_t), RX_BUFFER_BYTES, 2, NULL, 0},
    {"roost-sms", http_sms_callback, 0, 0, 3, NULL, 0},
    {"roost-listen", listen_callback, 0, 0, 4, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void s_lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (level & LLL_ERR)
        ROOST_WARN(COMP, "libwebsockets", "err=\"%.*s\"", (int)n, line);
}

void edge_lws_logging(void)
{
    lws_set_log_level(LLL_ERR, s_lws_log);
}

static void *s_thread(void *arg)
{
    edge_t *e = arg;
    pthread_setname_np(pthread_self(), "roost-edge");
    lws_sul_schedule(e->lws, 0, &e->tick, s_tick, (lws_usec_t)TICK_MS * 1000);
    while (!atomic_load(&e->stop))
        uv_run(&e->loop, UV_RUN_DEFAULT); /* returns on uv_stop (edge_stop) */
    return NULL;
}

int edge_start(edge_t *e)
{
    if (pthread_create(&e->thread, NULL, s_thread, e) != 0)
        return -1;
    e->started = true;
    return 0;
}

/* No lws idle policy: the edge pings itself (s_ping). lws 4.1 keeps each connection's
 * validity timer in one sorted list and re-inserts it on every frame, O(connections) each:
 * with thousands of connections the loop spent its time there and stopped answering. */
static const lws_retry_bo_t s_no_idle_policy = {.secs_since_valid_ping = 0,
                                                .secs_since_valid_hangup = 0};

static struct lws_context *s_context(edge_t *e)
{
    edge_lws_logging();
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* we listen ourselves (listen.c) */
    info.protocols = s_protocols;
    info.user = e;
    /* no UTF-8 validation by lws: it would close the connection, where the protocol answers
     * bad_request and keeps it (jansson refuses invalid UTF-8) */
    /* libuv (epoll) rather than lws's poll(): a wake-up costs the events it has, not the
     * number of connections held */
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_LIBUV;
    void *loops[1] = {&e->loop}; /* our loop: we run it, and finish it after lws is gone */
    info.foreign_loops = loops;
    info.count_threads = 1;
    info.retry_and_idle_policy = &s_no_idle_policy;
    info.timeout_secs = 10;
    info.ka_time = 0;
    return lws_create_context(&info);
}

/* The sessions' host (edge/session.h): their frames and closes go to the loop. */
static void s_session_post(void *arg, uint32_t slot, uint32_t gen, out_op_t op, uint16_t code,
                           const void *data, size_t len)
{
    edge_post(arg, out_new(slot, gen, op, code, data, len));
}

edge_t *edge_new(const edge_config_t *cfg)
{
    edge_t *e = roost_xcalloc(1, sizeof *e);
    e->cfg = *cfg;
    e->free_head = UINT32_MAX;
    randombytes_buf(&e->boot, sizeof e->boot);
    e->listen_fd = e->spare_fd = -1;
    mpsc_init(&e->outbox);
    pthread_mutex_init(&e->lws_mu, NULL);
    e->otp_ip = ratelimit_new(cfg->otp_per_ip_per_hour, 3600 * 1000, 1u << 16);
    edge_metrics_init(e);
    e->sessions = (session_host_t){.post = s_session_post,
                                   .arg = e,
                                   .tokens = &e->cfg.tokens,
                                   .frame_bytes = cfg->frame_bytes,
                                   .bad_frames_per_minute = cfg->bad_frames_per_minute,
                                   .bad_frames = e->m.bad_frames,
                                   .bad_closed = e->m.bad_closed,
                                   .auth_ok = e->m.auth_ok,
                                   .auth_failed = e->m.auth_failed};
    if (roost_node_set_service(cfg->node, EDGE_SERVICE, e) != ROOST_OK ||
        roost_node_set_service(cfg->node, SESSION_HOST_SERVICE, &e->sessions) != ROOST_OK ||
        roost_node_register(cfg->node, &session_behaviour) != ROOST_OK ||
        roost_node_register(cfg->node, &auth_http_behaviour) != ROOST_OK) {
        ROOST_ERROR(COMP, "cannot register the edge's actors", "%s", "node=busy");
        edge_destroy(&e);
        return NULL;
    }
    e->loop_ready = uv_loop_init(&e->loop) == 0;
    e->listen_fd = listen_open(cfg->host, cfg->port);
    e->spare_fd = -1;
    e->lws = e->listen_fd >= 0 ? s_context(e) : NULL;
    e->vhost = e->lws ? lws_get_vhost_by_name(e->lws, "default") : NULL;
    if (!e->vhost || listen_adopt(e) != 0) {
        ROOST_ERROR(COMP, "cannot listen on the client port", "host=%s port=%u", cfg->host,
                    cfg->port);
        edge_destroy(&e);
        return NULL;
    }
    ROOST_INFO(COMP, "listening", "url=ws://%s:%u/v1/ws", cfg->host, cfg->port);
    return e;
}

void edge_drain(edge_t *e)
{
    if (!atomic_exchange(&e->draining, true) && e->lws)
        lws_cancel_service(e->lws);
}

bool edge_drained(edge_t *e)
{
    return atomic_load(&e->drained);
}

uint64_t edge_connections(edge_t *e)
{
    return atomic_load(&e->nconns);
}

/* The context goes while the node still runs: closing the connections tells their sessions. */
void edge_stop(edge_t *e)
{
    if (!e)
        return;
    if (e->started) {
        atomic_store(&e->stop, true);
        lws_cancel_service(e->lws);
        pthread_join(e->thread, NULL);
        e->started = false;
        lws_sul_cancel(&e->tick); /* the service thread is gone: nothing reschedules it */
    }
    pthread_mutex_lock(&e->lws_mu);
    struct lws_context *lws = e->lws;
    e->lws = NULL;
    pthread_mutex_unlock(&e->lws_mu);
    if (lws) {
        lws_context_destroy(lws);         /* closes every connection (their CLOSED callbacks run) */
        uv_run(&e->loop, UV_RUN_DEFAULT); /* until lws's handles have closed */
        lws_context_destroy(lws);         /* a foreign loop's context finishes on a 2nd call */
    }
    if (e->loop_ready && uv_loop_close(&e->loop) == 0)
        e->loop_ready = false;
    if (e->listen_fd >= 0)
        close(e->listen_fd);
    if (e->spare_fd >= 0)
        close(e->spare_fd);
    e->listen_fd = e->spare_fd = -1;
}

void edge_destroy(edge_t **e_p)
{
    edge_t *e = *e_p;
    if (!e)
        return;
    edge_stop(e);
    out_item_t *it;
    while ((it = s_pop(e)) != NULL)
        free(it);
    for (uint32_t i = 0; i < e->nslots; i++)
        conn_free(e, i);
    free(e->conns);
    ratelimit_destroy(&e->otp_ip);
    edge_metrics_fini(e);
    pthread_mutex_destroy(&e->lws_mu);
    free(e);
    *e_p = NULL;
}
