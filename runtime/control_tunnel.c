/* runtime/control_tunnel.c — see control_tunnel.h. All of it runs on the control loop except
 * control_tunnel_deliver. */
#include "runtime/control_tunnel.h"

#include <pthread.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "runtime/log.h"
#include "runtime/util.h"

static const char *const COMP = "raft-tunnel";

enum { K_OPEN = 1, K_ACCEPT, K_DATA_O, K_DATA_A, K_CLOSE_O, K_CLOSE_A };
enum { HEADER_BYTES = 17, READ_BYTES = 64 * 1024, TICK_MS = 100 };

typedef enum { ST_CONNECTING, ST_OPEN, ST_CLOSING } stream_state_t;

typedef struct tstream {
    struct tstream *next;
    struct tunnel *tn;
    uint32_t peer;
    uint64_t sid;
    bool mine; /* we opened it */
    stream_state_t state;
    uv_pipe_t ours;      /* our end: read → DATA frames, DATA frames → written */
    uv_pipe_t *raft_end; /* libraft's end until handed over (raft_malloc'd) */
    uint64_t seq_out, seq_in;
    uint64_t deadline_ms; /* connecting: give up then */
    struct raft_uv_connect *req;
    raft_uv_connect_cb connect_cb;
} tstream_t;

typedef struct frame {
    struct frame *next;
    uint32_t from;
    size_t len;
    uint8_t bytes[];
} frame_t;

typedef struct tunnel {
    struct raft_uv_transport *t;
    uv_loop_t *loop;
    uint32_t self_id, n_voters;
    control_voter_t voters[CONTROL_VOTERS_MAX];
    control_tunnel_send_fn send;
    void *send_arg;
    raft_uv_accept_cb accept_cb;
    tstream_t *streams;
    uint64_t next_sid;
    uv_async_t wake;
    uv_timer_t tick;
    bool closing;
    int handles_open; /* ours pipes, raft ends we still own, wake, tick */
    raft_uv_transport_close_cb close_cb;
    /* shared with control_tunnel_deliver's threads */
    pthread_mutex_t lock;
    bool accepting_frames;
    frame_t *head, *tail;
    size_t inbox_bytes;
} tunnel_t;

/* ---- frames ---------------------------------------------------------------------------- */

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void s_send(tunnel_t *tn, uint32_t peer, uint8_t kind, uint64_t sid, uint64_t seq,
                   const void *data, size_t len)
{
    uint8_t stack[HEADER_BYTES + 256];
    uint8_t *f = len <= 256 ? stack : roost_xmalloc(HEADER_BYTES + len);
    f[0] = kind;
    s_put64(f + 1, sid);
    s_put64(f + 9, seq);
    if (len)
        memcpy(f + HEADER_BYTES, data, len);
    tn->send(tn->send_arg, peer, f, HEADER_BYTES + len);
    if (f != stack)
        free(f);
}

/* ---- streams --------------------------------------------------------------------------- */

static void s_handle_closed(uv_handle_t *h)
{
    tunnel_t *tn = h->data;
    if (--tn->handles_open == 0 && tn->closing && tn->close_cb)
        tn->close_cb(tn->t);
}

static void s_stream_closed(uv_handle_t *h)
{
    tstream_t *s = h->data;
    tunnel_t *tn = s->tn;
    free(s);
    if (--tn->handles_open == 0 && tn->closing && tn->close_cb)
        tn->close_cb(tn->t);
}

static void s_raft_end_closed(uv_handle_t *h)
{
    tunnel_t *tn = h->data; /* not the stream: close callbacks may run after it is freed */
    raft_free(h);
    if (--tn->handles_open == 0 && tn->closing && tn->close_cb)
        tn->close_cb(tn->t);
}

static void s_unlink(tunnel_t *tn, tstream_t *s)
{
    for (tstream_t **p = &tn->streams; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            return;
        }
}

/* Ends a stream: a connect still waiting is failed with `status`; the peer is told unless it
 * told us. */
static void s_stream_end(tstream_t *s, bool tell, int status)
{
    if (s->state == ST_CLOSING)
        return;
    tunnel_t *tn = s->tn;
    if (tell)
        s_send(tn, s->peer, s->mine ? K_CLOSE_O : K_CLOSE_A, s->sid, 0, NULL, 0);
    if (s->state == ST_CONNECTING && s->connect_cb)
        s->connect_cb(s->req, NULL, status);
    s->state = ST_CLOSING;
    s_unlink(tn, s);
    if (s->raft_end) { /* never handed to libraft */
        s->raft_end->data = tn;
        uv_close((uv_handle_t *)s->raft_end, s_raft_end_closed);
        s->raft_end = NULL;
    }
    uv_read_stop((uv_stream_t *)&s->ours);
    uv_close((uv_handle_t *)&s->ours, s_stream_closed);
}

static void s_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h, (void)suggested;
    buf->base = roost_xmalloc(READ_BYTES);
    buf->len = READ_BYTES;
}

/* What libraft wrote goes to the peer; its end closing ends the stream. */
static void s_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    tstream_t *s = st->data;
    if (n > 0 && s->state == ST_OPEN)
        s_send(s->tn, s->peer, s->mine ? K_DATA_O : K_DATA_A, s->sid, s->seq_out++, buf->base,
               (size_t)n);
    else if (n < 0)
        s_stream_end(s, true, RAFT_NOCONNECTION);
    free(buf->base);
}

/* A socketpair: one end for libraft (raft_malloc'd, as libraft frees what it is handed), one
 * for us. NULL if the system is out of descriptors. */
static tstream_t *s_stream_new(tunnel_t *tn, uint32_t peer, uint64_t sid, bool mine)
{
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
        return NULL;
    tstream_t *s = roost_xcalloc(1, sizeof *s);
    s->raft_end = raft_malloc(sizeof *s->raft_end);
    if (!s->raft_end) {
        close(fds[0]);
        close(fds[1]);
        free(s);
        return NULL;
    }
    s->tn = tn;
    s->peer = peer;
    s->sid = sid;
    s->mine = mine;
    uv_pipe_init(tn->loop, s->raft_end, 0);
    uv_pipe_open(s->raft_end, fds[0]);
    uv_pipe_init(tn->loop, &s->ours, 0);
    uv_pipe_open(&s->ours, fds[1]);
    s->ours.data = s;
    tn->handles_open += 2;
    s->next = tn->streams;
    tn->streams = s;
    return s;
}

static uv_stream_t *s_hand_over(tstream_t *s)
{
    uv_stream_t *raft_end = (uv_stream_t *)s->raft_end;
    s->raft_end = NULL;
    s->tn->handles_open--; /* libraft's now */
    s->state = ST_OPEN;
    uv_read_start((uv_stream_t *)&s->ours, s_alloc, s_read);
    return raft_end;
}

static tstream_t *s_find(tunnel_t *tn, uint32_t peer, uint64_t sid, bool mine)
{
    for (tstream_t *s = tn->streams; s; s = s->next)
        if (s->peer == peer && s->sid == sid && s->mine == mine)
            return s;
    return NULL;
}

static const char *s_voter_address(const tunnel_t *tn, uint32_t id)
{
    for (uint32_t i = 0; i < tn->n_voters; i++)
        if (tn->voters[i].id == id)
            return tn->voters[i].address;
    return NULL;
}

/* ---- frames arriving ------------------------------------------------------------------- */

static void s_written(uv_write_t *w, int status)
{
    (void)status; /* a failed write shows as an error on the next read: the stream ends */
    free(w->data);
    free(w);
}

static void s_data(tstream_t *s, uint64_t seq, const uint8_t *bytes, size_t len)
{
    if (s->state != ST_OPEN || seq != s->seq_in) { /* a lost frame: the stream is broken */
        s_stream_end(s, true, RAFT_NOCONNECTION);
        return;
    }
    s->seq_in++;
    if (len == 0)
        return;
    uv_write_t *w = roost_xmalloc(sizeof *w);
    w->data = roost_xmalloc(len);
    memcpy(w->data, bytes, len);
    uv_buf_t buf = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(w, (uv_stream_t *)&s->ours, &buf, 1, s_written) != 0) {
        free(w->data);
        free(w);
        s_stream_end(s, true, RAFT_NOCONNECTION);
    }
}

static void s_open_from(tunnel_t *tn, uint32_t peer, uint64_t sid)
{
    const char *address = s_voter_address(tn, peer);
    tstream_t *s = NULL;
    if (!tn->closing && tn->accept_cb && address && !s_find(tn, peer, sid, false))
        s = s_stream_new(tn, peer, sid, false);
    if (!s) {
        if (!address)
            ROOST_WARN(COMP, "a node that does not vote tried to open a raft stream", "peer=%u",
                       peer);
        s_send(tn, peer, K_CLOSE_A, sid, 0, NULL, 0);
        return;
    }
    s_send(tn, peer, K_ACCEPT, sid, 0, NULL, 0);
    tn->accept_cb(tn->t, peer, address, s_hand_over(s));
}

static void s_frame(tunnel_t *tn, const frame_t *f)
{
    if (f->len < HEADER_BYTES || f->bytes[0] < K_OPEN || f->bytes[0] > K_CLOSE_A)
        return;
    uint8_t kind = f->bytes[0];
    uint64_t sid = s_get64(f->bytes + 1), seq = s_get64(f->bytes + 9);
    if (kind == K_OPEN) {
        s_open_from(tn, f->from, sid);
        return;
    }
    bool mine = kind == K_ACCEPT || kind == K_DATA_A || kind == K_CLOSE_A;
    tstream_t *s = s_find(tn, f->from, sid, mine);
    if (!s) {
        if (kind == K_DATA_O || kind == K_DATA_A) /* tell the sender the stream is gone */
            s_send(tn, f->from, mine ? K_CLOSE_O : K_CLOSE_A, sid, 0, NULL, 0);
        return;
    }
    if (kind == K_ACCEPT && s->state == ST_CONNECTING) {
        struct raft_uv_connect *req = s->req;
        raft_uv_connect_cb cb = s->connect_cb;
        s->connect_cb = NULL;
        cb(req, s_hand_over(s), 0);
    } else if (kind == K_DATA_O || kind == K_DATA_A) {
        s_data(s, seq, f->bytes + HEADER_BYTES, f->len - HEADER_BYTES);
    } else if (kind == K_CLOSE_O || kind == K_CLOSE_A) {
        s_stream_end(s, false, RAFT_NOCONNECTION);
    }
}

static void s_on_wake(uv_async_t *h)
{
    tunnel_t *tn = h->data;
    pthread_mutex_lock(&tn->lock);
    frame_t *f = tn->head;
    tn->head = tn->tail = NULL;
    tn->inbox_bytes = 0;
    pthread_mutex_unlock(&tn->lock);
    while (f) {
        frame_t *next = f->next;
        if (!tn->closing)
            s_frame(tn, f);
        free(f);
        f = next;
    }
}

/* Connects that waited too long for ACCEPT fail, as an unanswered TCP connect would. */
static void s_on_tick(uv_timer_t *h)
{
    tunnel_t *tn = h->data;
    uint64_t now = uv_now(tn->loop);
    tstream_t *s = tn->streams;
    while (s) {
        tstream_t *next = s->next;
        if (s->state == ST_CONNECTING && now >= s->deadline_ms)
            s_stream_end(s, true, RAFT_NOCONNECTION);
        s = next;
    }
}

/* ---- the raft_uv_transport ------------------------------------------------------------- */

static int s_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
    (void)address;
    tunnel_t *tn = t->impl;
    return id == tn->self_id ? 0 : RAFT_INVALID;
}

static int s_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
    ((tunnel_t *)t->impl)->accept_cb = cb;
    return 0;
}

static int s_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                     const char *address, raft_uv_connect_cb cb)
{
    (void)address;
    tunnel_t *tn = t->impl;
    if (tn->closing || id > UINT32_MAX)
        return RAFT_NOCONNECTION;
    tstream_t *s = s_stream_new(tn, (uint32_t)id, ++tn->next_sid, true);
    if (!s)
        return RAFT_NOMEM;
    s->state = ST_CONNECTING;
    s->req = req;
    s->connect_cb = cb;
    s->deadline_ms = uv_now(tn->loop) + CONTROL_TUNNEL_CONNECT_MS;
    s_send(tn, s->peer, K_OPEN, s->sid, 0, NULL, 0);
    return 0;
}

static void s_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
    tunnel_t *tn = t->impl;
    pthread_mutex_lock(&tn->lock);
    tn->accepting_frames = false;
    pthread_mutex_unlock(&tn->lock);
    tn->closing = true;
    tn->close_cb = cb;
    while (tn->streams) /* connects still waiting are cancelled */
        s_stream_end(tn->streams, true, RAFT_CANCELED);
    uv_close((uv_handle_t *)&tn->wake, s_handle_closed);
    uv_timer_stop(&tn->tick);
    uv_close((uv_handle_t *)&tn->tick, s_handle_closed);
}

int control_tunnel_init(struct raft_uv_transport *t, uv_loop_t *loop,
                        const control_tunnel_config_t *cfg)
{
    tunnel_t *tn = calloc(1, sizeof *tn);
    if (!tn || cfg->n_voters > CONTROL_VOTERS_MAX)
        return free(tn), -1;
    tn->t = t;
    tn->loop = loop;
    tn->self_id = cfg->self_id;
    tn->n_voters = cfg->n_voters;
    memcpy(tn->voters, cfg->voters, cfg->n_voters * sizeof *cfg->voters);
    tn->send = cfg->send;
    tn->send_arg = cfg->send_arg;
    pthread_mutex_init(&tn->lock, NULL);
    uv_async_init(loop, &tn->wake, s_on_wake);
    uv_timer_init(loop, &tn->tick);
    tn->wake.data = tn->tick.data = tn;
    tn->handles_open = 2;
    uv_timer_start(&tn->tick, s_on_tick, TICK_MS, TICK_MS);
    memset(t, 0, sizeof *t);
    t->impl = tn;
    t->init = s_init;
    t->listen = s_listen;
    t->connect = s_connect;
    t->close = s_close;
    pthread_mutex_lock(&tn->lock);
    tn->accepting_frames = true;
    pthread_mutex_unlock(&tn->lock);
    return 0;
}

void control_tunnel_free(struct raft_uv_transport *t)
{
    tunnel_t *tn = t->impl;
    if (!tn)
        return;
    while (tn->head) {
        frame_t *f = tn->head;
        tn->head = f->next;
        free(f);
    }
    pthread_mutex_destroy(&tn->lock);
    free(tn);
    t->impl = NULL;
}

void control_tunnel_deliver(struct raft_uv_transport *t, uint32_t from, const void *bytes,
                            size_t len)
{
    tunnel_t *tn = t->impl;
    if (!tn || len < HEADER_BYTES)
        return;
    frame_t *f = roost_xmalloc(sizeof *f + len);
    f->next = NULL;
    f->from = from;
    f->len = len;
    memcpy(f->bytes, bytes, len);
    pthread_mutex_lock(&tn->lock);
    bool take = tn->accepting_frames && tn->inbox_bytes + len <= CONTROL_TUNNEL_INBOX_BYTES_MAX;
    if (take) {
        if (tn->tail)
            tn->tail->next = f;
        else
            tn->head = f;
        tn->tail = f;
        tn->inbox_bytes += len;
        uv_async_send(&tn->wake); /* under the lock: close cannot run in between */
    }
    pthread_mutex_unlock(&tn->lock);
    if (!take)
        free(f);
}
