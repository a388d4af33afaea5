/* runtime/transport_zmq.c — see transport_zmq.h. The I/O loop is a short function of phases:
 * wait (a poll on the ROUTER's fd, the wake eventfd and, when a worker runs the loop, the worker's
 * own eventfd), then a pass: receive (bounded), flush the outbound queue into per-peer batches,
 * tick (heartbeats) when due. It runs on the transport's own thread (transport_zmq_start) or on
 * the node's first worker (transport_zmq_run_on_caller; the ops' serve and wait).
 */
#include "runtime/transport_zmq.h"

#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/mpsc.h"
#include "runtime/util.h"
#include "runtime/zap.h"

enum {
    RECV_PER_PASS_MAX = 256,     /* frames read per pass before the outbound side gets a turn */
    MALFORMED_LOG_GAP_MS = 1000, /* at most one malformed-frame log line a second */
    HEARTBEAT_PAYLOAD_BYTES_MAX = 1024, /* a detector's view: up to 64 suspected ids */
};

/* A sealed batch waiting for ZeroMQ to take it (the peer's pipe was full). */
typedef struct frame {
    struct frame *next;
    char *data; /* owned; from msgpack_sbuffer_release */
    size_t len;
    uint32_t count;
} frame_t;

typedef struct {
    transport_peer_t cfg;
    void *dealer;
    msgpack_sbuffer batch; /* the open batch */
    uint32_t batch_count;
    frame_t *head, *tail; /* sealed, unsent */
    size_t pending_bytes; /* sealed + open */
    char user[16];        /* "n<id>": its routing id, and its ZAP User-Id under CURVE */
    _Atomic bool blocked;
} peer_t;

typedef struct {
    roost_transport_t base; /* first: the vtable's self pointer is this struct */
    transport_zmq_config_t cfg;
    void *zctx;
    void *router;
    int router_fd;             /* its ZMQ_FD */
    bool router_drained;       /* the last receive found it empty: its fd tells of the next frame */
    zap_t *zap;                /* with CURVE: answers the router's handshakes */
    peer_t *peers;             /* room for ROOST_NODES_MAX; the first `npeers` are open */
    _Atomic uint32_t npeers;   /* grows (release) once a joiner's peer_t is complete */
    pthread_mutex_t adds_lock; /* joiners queued by transport_zmq_add_peer */
    transport_peer_t adds[ROOST_NODES_MAX];
    uint32_t nadds;
    roost_transport_sink_fn sink;
    void *sink_arg;
    mpsc_t outbound;
    _Atomic uint32_t queued;
    /* The pass's (one thread at a time): decodes received envelopes into its block pool, where
     * the sent ones go once encoded, so a node's traffic both ways recycles its blocks. */
    roost_env_decoder_t decoder;
    _Atomic int sleeping;
    _Atomic bool stopping;
    _Atomic bool muted; /* no heartbeats (transport_zmq_set_heartbeats) */
    int wake_fd;
    pthread_t thread;
    bool started;
    bool on_caller; /* no thread: the caller runs the passes (transport_zmq_run_on_caller) */
    pthread_mutex_t pass_lock; /* on_caller: held by a pass, so stop can wait one out */
    uint64_t next_tick_ns;
    uint64_t last_malformed_log_ms;
    struct {
        _Atomic uint64_t sent, received, batches_out, batches_in, dropped, malformed, unknown, held,
            impostor;
    } st;
} tz_t;

#define TZ_STAT(t, f, n) atomic_fetch_add_explicit(&(t)->st.f, (n), memory_order_relaxed)

static uint32_t s_npeers(tz_t *t)
{
    return atomic_load_explicit(&t->npeers, memory_order_acquire);
}

static peer_t *s_peer(tz_t *t, uint32_t id)
{
    for (uint32_t i = 0, n = s_npeers(t); i < n; i++)
        if (t->peers[i].cfg.id == id)
            return &t->peers[i];
    return NULL;
}

/* After a push: wakes the I/O loop if it sleeps. One wake-up per sleep: the first sender takes
 * the flag (see worker_enqueue). Before, every send until the I/O thread ran again wrote the
 * eventfd: one syscall per message. */
static void s_wake_loop(tz_t *t)
{
    if (atomic_exchange_explicit(&t->sleeping, 0, memory_order_seq_cst)) {
        uint64_t one = 1;
        ssize_t w = write(t->wake_fd, &one, sizeof one);
        (void)w;
    }
}

static int s_send(roost_transport_t *base, uint32_t to, roost_env_t *env)
{
    tz_t *t = (tz_t *)base;
    if (!s_peer(t, to)) {
        roost_env_free(env);
        TZ_STAT(t, dropped, 1);
        return ROOST_ENOTFOUND;
    }
    if (atomic_fetch_add_explicit(&t->queued, 1, memory_order_relaxed) >=
        ROOST_TRANSPORT_OUTBOUND_MAX) {
        atomic_fetch_sub_explicit(&t->queued, 1, memory_order_relaxed);
        roost_env_free(env);
        TZ_STAT(t, dropped, 1);
        return ROOST_EAGAIN;
    }
    env->dest_node = to;
    mpsc_push(&t->outbound, &env->qnode);
    s_wake_loop(t);
    return ROOST_OK;
}

static void s_send_chain(roost_transport_t *base, roost_env_t *first, roost_env_t *last, uint32_t n)
{
    tz_t *t = (tz_t *)base;
    if (atomic_fetch_add_explicit(&t->queued, n, memory_order_relaxed) + n >
        ROOST_TRANSPORT_OUTBOUND_MAX) {
        atomic_fetch_sub_explicit(&t->queued, n, memory_order_relaxed);
        for (roost_env_t *e = first, *next; e; e = next) {
            mpsc_node_t *q = atomic_load_explicit(&e->qnode.next, memory_order_relaxed);
            next = e == last || !q ? NULL : roost_env_from_qnode(q);
            roost_env_free(e);
        }
        TZ_STAT(t, dropped, n);
        return;
    }
    mpsc_push_chain(&t->outbound, &first->qnode, &last->qnode);
    s_wake_loop(t);
}

static void s_set_sink(roost_transport_t *base, roost_transport_sink_fn fn, void *arg)
{
    tz_t *t = (tz_t *)base;
    assert(!t->started);
    t->sink = fn;
    t->sink_arg = arg;
}

static bool s_serve(roost_transport_t *base);
static void s_wait_op(roost_transport_t *base, int fd, uint64_t timeout_ns);
static const roost_transport_ops_t s_ops = {.send = s_send,
                                            .send_chain = s_send_chain,
                                            .set_sink = s_set_sink,
                                            .serve = s_serve,
                                            .wait = s_wait_op};

/* ---- outbound ---------------------------------------------------------------------------- */

static void s_frame_free(frame_t *f)
{
    free(f->data);
    free(f);
}

/* Closes the open batch into a frame at the tail of the peer's queue. */
static void s_seal(peer_t *p)
{
    if (p->batch.size == 0)
        return;
    frame_t *f = roost_xcalloc(1, sizeof *f);
    f->len = p->batch.size;
    f->count = p->batch_count;
    f->data = msgpack_sbuffer_release(&p->batch);
    p->batch_count = 0;
    if (p->tail)
        p->tail->next = f;
    else
        p->head = f;
    p->tail = f;
}

/* Hands sealed frames to ZeroMQ in order until its pipe to the peer is full. */
static void s_pump_peer(tz_t *t, peer_t *p)
{
    bool blocked = atomic_load_explicit(&p->blocked, memory_order_relaxed);
    while (p->head) {
        frame_t *f = p->head;
        if (blocked) {
            TZ_STAT(t, dropped, f->count); /* fault injection: the link is cut */
        } else if (zmq_send(p->dealer, f->data, f->len, ZMQ_DONTWAIT) < 0) {
            return; /* full: keep it, s_wait wakes when the peer drains */
        } else {
            TZ_STAT(t, sent, f->count);
            TZ_STAT(t, batches_out, 1);
        }
        p->head = f->next;
        if (!p->head)
            p->tail = NULL;
        p->pending_bytes -= f->len;
        atomic_fetch_sub_explicit(&t->st.held, f->count, memory_order_relaxed);
        s_frame_free(f);
    }
}

/* Sends the peer's open batch. When nothing older waits, straight from its buffer (ZeroMQ
 * copies it) and the buffer stays for the next batch; otherwise, or when ZeroMQ's pipe is full,
 * it is sealed into a frame that waits its turn. A fresh buffer per frame, grown by doubling
 * to 64 KiB and freed once sent, made the I/O thread's heap grow and shrink (page faults, and
 * madvise's TLB shootdowns) with every frame. */
static void s_ship(tz_t *t, peer_t *p)
{
    s_pump_peer(t, p);
    if (p->batch.size == 0)
        return;
    if (!p->head && !atomic_load_explicit(&p->blocked, memory_order_relaxed) &&
        zmq_send(p->dealer, p->batch.data, p->batch.size, ZMQ_DONTWAIT) >= 0) {
        TZ_STAT(t, sent, p->batch_count);
        TZ_STAT(t, batches_out, 1);
        atomic_fetch_sub_explicit(&t->st.held, p->batch_count, memory_order_relaxed);
        p->pending_bytes -= p->batch.size;
        p->batch.size = 0;
        p->batch_count = 0;
        return;
    }
    s_seal(p);
    s_pump_peer(t, p);
}

static void s_append(tz_t *t, peer_t *p, const roost_env_t *env)
{
    size_t before = p->batch.size;
    if (p->pending_bytes >= ROOST_TRANSPORT_PEER_PENDING_BYTES_MAX) {
        TZ_STAT(t, dropped, 1); /* the peer has not drained for a long while: shed load */
        return;
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, &p->batch, msgpack_sbuffer_write);
    roost_env_encode(env, &pk);
    p->batch_count++;
    p->pending_bytes += p->batch.size - before;
    TZ_STAT(t, held, 1);
    if (p->batch.size >= ROOST_TRANSPORT_BATCH_BYTES_MAX)
        s_ship(t, p);
}

static void s_flush_all(tz_t *t)
{
    for (uint32_t i = 0, n = s_npeers(t); i < n; i++)
        s_ship(t, &t->peers[i]);
}

/* Moves everything queued into per-peer batches, then sends the batches. */
static void s_drain_outbound(tz_t *t)
{
    mpsc_node_t *q;
    uint32_t n = 0;
    while ((q = mpsc_pop(&t->outbound)) != NULL) {
        roost_env_t *env = roost_env_from_qnode(q);
        peer_t *p = s_peer(t, env->dest_node);
        if (p)
            s_append(t, p, env);
        else
            TZ_STAT(t, dropped, 1); /* sent in a chain to a node this transport does not know */
        roost_env_free_to(&t->decoder.pool, env);
        n++;
    }
    atomic_fetch_sub_explicit(&t->queued, n, memory_order_relaxed);
    s_flush_all(t);
}

static void s_heartbeat(tz_t *t, uint64_t now_ns)
{
    uint8_t payload[HEARTBEAT_PAYLOAD_BYTES_MAX];
    size_t len = t->cfg.heartbeat_payload
                     ? t->cfg.heartbeat_payload(t->cfg.tick_arg, payload, sizeof payload)
                     : 0;
    roost_env_t *hb = roost_env_new("", "", ROOST_MSG_HEARTBEAT, payload, len);
    for (uint32_t i = 0; i < s_npeers(t) && !atomic_load(&t->muted); i++)
        s_append(t, &t->peers[i], hb);
    roost_env_free(hb);
    s_flush_all(t);
    if (t->cfg.on_tick)
        t->cfg.on_tick(t->cfg.tick_arg, now_ns);
}

/* ---- inbound ----------------------------------------------------------------------------- */

/* Routing ids are "n<decimal id>"; anything else, or an id that is not a peer, is unknown. */
static peer_t *s_peer_of_routing_id(tz_t *t, const zmq_msg_t *rid)
{
    size_t len = zmq_msg_size(rid);
    const char *s = zmq_msg_data((zmq_msg_t *)rid);
    if (len < 2 || len > 11 || s[0] != 'n')
        return NULL;
    uint64_t id = 0;
    for (size_t i = 1; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return NULL;
        id = id * 10 + (uint64_t)(s[i] - '0');
    }
    return id <= UINT32_MAX ? s_peer(t, (uint32_t)id) : NULL;
}

static void s_malformed(tz_t *t, uint32_t from, size_t offset)
{
    TZ_STAT(t, malformed, 1);
    uint64_t now_ms = roost_clock_now_ms(t->cfg.clock);
    if (now_ms - t->last_malformed_log_ms >= MALFORMED_LOG_GAP_MS) {
        t->last_malformed_log_ms = now_ms;
        ROOST_WARN("transport", "malformed envelope dropped", "peer=%u offset=%zu", from, offset);
    }
}

/* A frame is a msgpack stream of envelopes; the first bad one ends the frame. */
static void s_decode_frame(tz_t *t, uint32_t from, const uint8_t *data, size_t len)
{
    size_t off = 0;
    TZ_STAT(t, batches_in, 1);
    while (off < len) {
        size_t used;
        roost_env_t *env = NULL;
        if (roost_env_decode_next(&t->decoder, data + off, len - off, &used, &env) != ROOST_OK) {
            s_malformed(t, from, off);
            break;
        }
        off += used;
        TZ_STAT(t, received, 1);
        if (t->sink)
            t->sink(t->sink_arg, from, env);
        else
            roost_env_free(env);
    }
    if (t->sink)
        t->sink(t->sink_arg, from, NULL); /* the frame's batch ends */
}

/* With CURVE: was the frame's connection authenticated as the node its routing id names? */
static bool s_authentic(tz_t *t, const peer_t *p, zmq_msg_t *body)
{
    if (!t->cfg.curve.on)
        return true;
    const char *user = zmq_msg_gets(body, "User-Id");
    return user && strcmp(user, p->user) == 0;
}

/* Reads one [routing id][frame] message; false when nothing is waiting. */
static bool s_recv_one(tz_t *t)
{
    zmq_msg_t rid, body;
    zmq_msg_init(&rid);
    if (zmq_msg_recv(&rid, t->router, ZMQ_DONTWAIT) < 0) {
        t->router_drained = zmq_errno() == EAGAIN; /* s_wait may sleep on its fd */
        zmq_msg_close(&rid);
        return false;
    }
    zmq_msg_init(&body);
    bool has_body = zmq_msg_more(&rid) && zmq_msg_recv(&body, t->router, ZMQ_DONTWAIT) >= 0;
    while (has_body && zmq_msg_more(&body)) { /* extra parts: not ours; skip them */
        zmq_msg_close(&body);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&body, t->router, ZMQ_DONTWAIT) < 0)
            has_body = false;
    }
    peer_t *p = s_peer_of_routing_id(t, &rid);
    if (!p || !has_body)
        TZ_STAT(t, unknown, 1);
    else if (!s_authentic(t, p, &body))
        TZ_STAT(t, impostor, 1);
    else if (!atomic_load_explicit(&p->blocked, memory_order_relaxed))
        s_decode_frame(t, p->cfg.id, zmq_msg_data(&body), zmq_msg_size(&body));
    zmq_msg_close(&body);
    zmq_msg_close(&rid);
    return true;
}

/* ---- the I/O thread ---------------------------------------------------------------------- */

static uint64_t s_poll_timeout_ns(tz_t *t, uint64_t now_ns)
{
    if (!t->cfg.heartbeat_ms)
        return 100 * 1000 * 1000; /* wake now and then to notice stopping */
    return t->next_tick_ns <= now_ns ? 0 : t->next_tick_ns - now_ns;
}

/* A ZeroMQ socket's fd (ZMQ_FD): edge-triggered, readable when the socket's state may have
 * changed; its pending commands are processed by ZMQ_EVENTS, a receive that finds nothing, … */
static int s_zmq_fd(void *sock)
{
    int fd = -1;
    size_t len = sizeof fd;
    zmq_getsockopt(sock, ZMQ_FD, &fd, &len);
    return fd;
}

/* Processes the socket's pending commands; true if `events` can be done now (or on doubt). */
static bool s_zmq_ready(void *sock, uint32_t events)
{
    uint32_t ev = 0;
    size_t len = sizeof ev;
    return zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &len) != 0 || (ev & events);
}

/* Sleeps until a frame can come in, a full pipe drains, a worker wakes us, extra_fd is readable
 * or the timeout. A plain poll over the sockets' fds, not zmq_poll: zmq_poll asks every socket
 * for its events before and after polling, a getpid and a poll each, which made the loop ~8
 * syscalls a wake-up (about a third of the store's CPU at moderate load was syscalls of this
 * thread). The router needs no asking: the pass's last receive found it empty (EAGAIN), which
 * processed its commands, so a later frame makes its fd readable; sockets whose pass did not end
 * that way (the CURVE handler, pipes that were full) are asked. */
static void s_wait(tz_t *t, int extra_fd, uint64_t timeout_ns)
{
    struct pollfd fds[4 + ROOST_NODES_MAX] = {{.fd = t->router_fd, .events = POLLIN},
                                              {.fd = t->wake_fd, .events = POLLIN}};
    int n = 2;
    bool ready = !t->router_drained;
    if (extra_fd >= 0)
        fds[n++] = (struct pollfd){.fd = extra_fd, .events = POLLIN};
    if (t->zap) {
        ready = ready || s_zmq_ready(zap_socket(t->zap), ZMQ_POLLIN);
        fds[n++] = (struct pollfd){.fd = s_zmq_fd(zap_socket(t->zap)), .events = POLLIN};
    }
    for (uint32_t i = 0, np = s_npeers(t); i < np; i++) { /* wake when a full pipe drains */
        if (!t->peers[i].head)
            continue;
        ready = ready || s_zmq_ready(t->peers[i].dealer, ZMQ_POLLOUT);
        fds[n++] = (struct pollfd){.fd = s_zmq_fd(t->peers[i].dealer), .events = POLLIN};
    }
    atomic_store_explicit(&t->sleeping, 1, memory_order_seq_cst);
    if (!ready && mpsc_is_empty(&t->outbound)) {
        /* ppoll, not poll: a caller's timer due in 100 µs (runtime.io: worker) must not sleep
         * a rounded-up millisecond — paced sends piled into bursts and doubled the latency */
        uint64_t ns = s_poll_timeout_ns(t, roost_clock_now_ns(t->cfg.clock));
        ns = timeout_ns < ns ? timeout_ns : ns;
        struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
                              .tv_nsec = (long)(ns % 1000000000u)};
        ppoll(fds, (nfds_t)n, &ts, NULL);
    }
    atomic_store_explicit(&t->sleeping, 0, memory_order_seq_cst);
    if (fds[1].revents & POLLIN) { /* else a wake-up since is read after the next poll */
        uint64_t drained;
        ssize_t got = read(t->wake_fd, &drained, sizeof drained);
        (void)got;
    }
}

static void s_adopt_peers(tz_t *t);

/* One pass: receive, send, heartbeat when due. True if a frame came in or went out. */
static bool s_pass(tz_t *t)
{
    s_adopt_peers(t);
    if (t->zap)
        zap_serve(t->zap);
    int got = 0;
    t->router_drained = false;
    while (got < RECV_PER_PASS_MAX && s_recv_one(t))
        got++;
    uint64_t before = atomic_load_explicit(&t->st.batches_out, memory_order_relaxed);
    s_drain_outbound(t); /* also retries frames a full pipe refused */
    uint64_t now = roost_clock_now_ns(t->cfg.clock);
    if (t->cfg.heartbeat_ms && now >= t->next_tick_ns) {
        t->next_tick_ns = now + (uint64_t)t->cfg.heartbeat_ms * 1000000u;
        s_heartbeat(t, now);
    }
    return got > 0 || atomic_load_explicit(&t->st.batches_out, memory_order_relaxed) != before;
}

static void *s_io_main(void *arg)
{
    tz_t *t = arg;
    pthread_setname_np(pthread_self(), "roost-io");
    while (!atomic_load_explicit(&t->stopping, memory_order_acquire)) {
        s_wait(t, -1, UINT64_MAX);
        s_pass(t);
    }
    return NULL;
}

/* The ops for a caller that runs the passes itself (transport_zmq_run_on_caller). Once
 * transport_zmq_stop returned, no pass runs (no delivery, no on_tick), and the wait only
 * watches the caller's fd. */
static bool s_serve(roost_transport_t *base)
{
    tz_t *t = (tz_t *)base;
    assert(t->on_caller);
    pthread_mutex_lock(&t->pass_lock);
    bool moved = !atomic_load_explicit(&t->stopping, memory_order_relaxed) && s_pass(t);
    pthread_mutex_unlock(&t->pass_lock);
    return moved;
}

static void s_wait_op(roost_transport_t *base, int fd, uint64_t timeout_ns)
{
    tz_t *t = (tz_t *)base;
    assert(t->on_caller);
    if (!atomic_load_explicit(&t->stopping, memory_order_acquire)) {
        s_wait(t, fd, timeout_ns);
        return;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    uint64_t ms = (timeout_ns == UINT64_MAX ? UINT64_MAX - 999999 : timeout_ns) / 1000000 + 1;
    poll(&pfd, 1, ms > 1000 ? 1000 : (int)ms); /* the caller loops: a second is plenty */
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static void *s_socket(tz_t *t, int type)
{
    void *s = zmq_socket(t->zctx, type);
    int zero = 0, hwm = ROOST_TRANSPORT_PEER_HWM;
    int64_t max = ROOST_TRANSPORT_FRAME_BYTES_MAX;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max); /* larger frames drop the peer */
    return s;
}

/* Opens peers[i] (a DEALER to cfg); the I/O thread's, or before it starts. */
static int s_open_peer(tz_t *t, uint32_t i, const transport_peer_t *cfg)
{
    char rid[16];
    int n = snprintf(rid, sizeof rid, "n%u", t->cfg.self_id);
    {
        peer_t *p = &t->peers[i];
        p->cfg = *cfg;
        snprintf(p->user, sizeof p->user, "n%u", p->cfg.id);
        msgpack_sbuffer_init(&p->batch);
        p->dealer = s_socket(t, ZMQ_DEALER);
        zmq_setsockopt(p->dealer, ZMQ_ROUTING_ID, rid, (size_t)n);
        if (t->cfg.curve.on) {
            zmq_setsockopt(p->dealer, ZMQ_CURVE_SERVERKEY, p->cfg.curve_public,
                           TRANSPORT_KEY_BYTES);
            zmq_setsockopt(p->dealer, ZMQ_CURVE_PUBLICKEY, t->cfg.curve.public_key,
                           TRANSPORT_KEY_BYTES);
            zmq_setsockopt(p->dealer, ZMQ_CURVE_SECRETKEY, t->cfg.curve.secret_key,
                           TRANSPORT_KEY_BYTES);
        }
        if (zmq_connect(p->dealer, p->cfg.endpoint) != 0) {
            ROOST_ERROR("transport", "cannot connect", "peer=%u endpoint=%s err=\"%s\"", p->cfg.id,
                        p->cfg.endpoint, zmq_strerror(errno));
            return ROOST_EIO;
        }
    }
    return ROOST_OK;
}

static int s_open_peers(tz_t *t)
{
    for (uint32_t i = 0; i < t->cfg.npeers; i++) {
        if (s_open_peer(t, i, &t->cfg.peers[i]) != ROOST_OK)
            return ROOST_EIO;
        atomic_store_explicit(&t->npeers, i + 1, memory_order_release);
    }
    return ROOST_OK;
}

/* The I/O thread opens the peers transport_zmq_add_peer queued (and lets their keys in). */
static void s_adopt_peers(tz_t *t)
{
    transport_peer_t adds[ROOST_NODES_MAX];
    pthread_mutex_lock(&t->adds_lock);
    uint32_t nadds = t->nadds;
    memcpy(adds, t->adds, nadds * sizeof *adds);
    t->nadds = 0;
    pthread_mutex_unlock(&t->adds_lock);
    for (uint32_t i = 0; i < nadds; i++) {
        uint32_t n = s_npeers(t);
        if (s_peer(t, adds[i].id) || n == ROOST_NODES_MAX || adds[i].id == t->cfg.self_id)
            continue;
        if (s_open_peer(t, n, &adds[i]) != ROOST_OK)
            continue;
        if (t->zap) {
            zap_allow_t allow;
            memcpy(allow.key, adds[i].curve_public, ZAP_KEY_BYTES);
            snprintf(allow.user, sizeof allow.user, "n%u", adds[i].id);
            zap_allow_add(t->zap, &allow);
        }
        atomic_store_explicit(&t->npeers, n + 1, memory_order_release);
        ROOST_INFO("transport", "peer added", "peer=%u endpoint=%s", adds[i].id, adds[i].endpoint);
    }
}

int transport_zmq_add_peer(roost_transport_t *base, const transport_peer_t *peer)
{
    tz_t *t = (tz_t *)base;
    int rc = ROOST_ETOOBIG;
    pthread_mutex_lock(&t->adds_lock);
    if (t->nadds < ROOST_NODES_MAX) {
        t->adds[t->nadds++] = *peer;
        rc = ROOST_OK;
    }
    pthread_mutex_unlock(&t->adds_lock);
    uint64_t one = 1;
    ssize_t w = write(t->wake_fd, &one, sizeof one);
    (void)w;
    return rc;
}

/* The router as a CURVE server whose handler accepts exactly the peers' keys, each tagged with
 * its node's routing id. */
static int s_curve_server(tz_t *t)
{
    zap_allow_t *allow = roost_xcalloc(t->cfg.npeers ? t->cfg.npeers : 1, sizeof *allow);
    for (uint32_t i = 0; i < t->cfg.npeers; i++) {
        memcpy(allow[i].key, t->cfg.peers[i].curve_public, ZAP_KEY_BYTES);
        snprintf(allow[i].user, sizeof allow[i].user, "n%u", t->cfg.peers[i].id);
    }
    t->zap = zap_new(t->zctx, "transport", allow, t->cfg.npeers);
    free(allow);
    if (!t->zap)
        return ROOST_EIO;
    int one = 1;
    zmq_setsockopt(t->router, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(t->router, ZMQ_CURVE_SECRETKEY, t->cfg.curve.secret_key, TRANSPORT_KEY_BYTES);
    zmq_setsockopt(t->router, ZMQ_ZAP_DOMAIN, "roost", 5);
    return ROOST_OK;
}

roost_transport_t *transport_zmq_new(const transport_zmq_config_t *cfg)
{
    if (!cfg || cfg->npeers > ROOST_NODES_MAX)
        return NULL;
    tz_t *t = roost_xcalloc(1, sizeof *t);
    t->base.ops = &s_ops;
    t->cfg = *cfg;
    if (!t->cfg.clock)
        t->cfg.clock = roost_clock_real();
    mpsc_init(&t->outbound);
    roost_env_decoder_init(&t->decoder);
    t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    t->zctx = zmq_ctx_new();
    t->peers = roost_xcalloc(ROOST_NODES_MAX, sizeof *t->peers);
    pthread_mutex_init(&t->adds_lock, NULL);
    pthread_mutex_init(&t->pass_lock, NULL);
    t->router = s_socket(t, ZMQ_ROUTER);
    t->router_fd = s_zmq_fd(t->router);
    roost_transport_t *base = &t->base;
    if (cfg->curve.on && s_curve_server(t) != ROOST_OK) {
        transport_zmq_destroy(&base);
        return NULL;
    }
    if (zmq_bind(t->router, cfg->bind_endpoint) != 0) {
        ROOST_ERROR("transport", "cannot bind", "endpoint=%s err=\"%s\"", cfg->bind_endpoint,
                    zmq_strerror(errno));
        transport_zmq_destroy(&base);
        return NULL;
    }
    if (s_open_peers(t) != ROOST_OK) {
        transport_zmq_destroy(&base);
        return NULL;
    }
    return base;
}

void transport_zmq_run_on_caller(roost_transport_t *base)
{
    tz_t *t = (tz_t *)base;
    assert(!t->started);
    t->on_caller = true;
}

int transport_zmq_start(roost_transport_t *base)
{
    tz_t *t = (tz_t *)base;
    assert(!t->started && !t->on_caller);
    if (pthread_create(&t->thread, NULL, s_io_main, t) != 0)
        return ROOST_EIO;
    t->started = true;
    return ROOST_OK;
}

void transport_zmq_stop(roost_transport_t *base)
{
    tz_t *t = (tz_t *)base;
    if (t && t->on_caller) { /* wait out a pass under way; none starts after */
        pthread_mutex_lock(&t->pass_lock);
        atomic_store_explicit(&t->stopping, true, memory_order_release);
        pthread_mutex_unlock(&t->pass_lock);
        return;
    }
    if (!t || !t->started)
        return;
    atomic_store_explicit(&t->stopping, true, memory_order_release);
    uint64_t one = 1;
    ssize_t w = write(t->wake_fd, &one, sizeof one);
    (void)w;
    pthread_join(t->thread, NULL);
    t->started = false;
}

void transport_zmq_destroy(roost_transport_t **t_p)
{
    tz_t *t = (tz_t *)*t_p;
    if (!t)
        return;
    transport_zmq_stop(*t_p);
    mpsc_node_t *q;
    while ((q = mpsc_pop(&t->outbound)) != NULL)
        roost_env_free(roost_env_from_qnode(q));
    for (uint32_t i = 0; i < ROOST_NODES_MAX; i++) {
        peer_t *p = &t->peers[i];
        if (p->dealer)
            zmq_close(p->dealer);
        msgpack_sbuffer_destroy(&p->batch);
        while (p->head) {
            frame_t *f = p->head;
            p->head = f->next;
            s_frame_free(f);
        }
    }
    zmq_close(t->router);
    zap_destroy(&t->zap);
    zmq_ctx_term(t->zctx);
    close(t->wake_fd);
    pthread_mutex_destroy(&t->adds_lock);
    pthread_mutex_destroy(&t->pass_lock);
    roost_env_decoder_fini(&t->decoder);
    free(t->peers);
    free(t);
    *t_p = NULL;
}

void transport_zmq_stats(roost_transport_t *base, transport_zmq_stats_t *out)
{
    tz_t *t = (tz_t *)base;
    out->sent = atomic_load_explicit(&t->st.sent, memory_order_relaxed);
    out->received = atomic_load_explicit(&t->st.received, memory_order_relaxed);
    out->batches_out = atomic_load_explicit(&t->st.batches_out, memory_order_relaxed);
    out->batches_in = atomic_load_explicit(&t->st.batches_in, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&t->st.dropped, memory_order_relaxed);
    out->malformed = atomic_load_explicit(&t->st.malformed, memory_order_relaxed);
    out->unknown_peer = atomic_load_explicit(&t->st.unknown, memory_order_relaxed);
    out->held = atomic_load_explicit(&t->st.held, memory_order_relaxed);
    out->impostor = atomic_load_explicit(&t->st.impostor, memory_order_relaxed);
    out->refused = t->zap ? zap_refused(t->zap) : 0;
}

void transport_zmq_set_heartbeats(roost_transport_t *base, bool on)
{
    atomic_store(&((tz_t *)base)->muted, !on);
}

void transport_zmq_block(roost_transport_t *base, uint32_t peer, bool blocked)
{
    peer_t *p = s_peer((tz_t *)base, peer);
    if (p)
        atomic_store_explicit(&p->blocked, blocked, memory_order_relaxed);
}
