/* edge/edge_internal.h — what the edge's parts share: the loop's connection table, the outbox
 * the actors post to, the envelopes between the loop and its actors, and the edge's metrics.
 *
 * Threads: `conns`, the lws context and everything in conn_t belong to the loop thread. The
 * actors (on the node's workers) touch only edge_post, the read-only config and the metrics.
 */
#ifndef ROOST_EDGE_INTERNAL_H
#define ROOST_EDGE_INTERNAL_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <uv.h>

#include "edge/auth_body.h"
#include "edge/codec.h"
#include "edge/edge.h"
#include "edge/ratelimit.h"
#include "edge/session.h"
#include "runtime/limits.h"
#include "runtime/metrics.h"
#include "runtime/mpsc.h"

#define EDGE_SERVICE "edge"

typedef struct out_item {
    mpsc_node_t q;
    struct out_item *next; /* in a connection's send queue */
    uint32_t slot, gen;
    uint16_t op, code;
    bool text;
    size_t len;
    uint8_t buf[]; /* LWS_PRE bytes of headroom, then len bytes */
} out_item_t;

static inline uint8_t *out_data(out_item_t *it)
{
    return it->buf + LWS_PRE;
}

typedef enum { CONN_FREE = 0, CONN_WS, CONN_HTTP } conn_kind_t;

typedef struct {
    struct lws *wsi;
    uint32_t gen; /* bumped when the slot is freed: stale posts are dropped */
    uint8_t kind;
    uint8_t codec;
    uint8_t missed_pings;
    bool ping_due, closing, rx_over, http_post;
    uint16_t close_code;
    uint8_t http_op;
    uint32_t next_free;
    uint64_t last_ping_ms;
    uint8_t *rx; /* the frame or body being received */
    size_t rx_len, rx_cap;
    out_item_t *txh, *txt; /* queued for the client */
    size_t tx_bytes;
    char close_reason[64];
} conn_t;

typedef struct {
    metrics_registry_t *reg;
    metrics_gauge_t *connections;
    metrics_counter_t *accepted, *refused, *frames_in, *frames_out, *bad_frames, *too_large,
        *slow_closed, *ping_closed, *bad_closed, *auth_ok, *auth_failed, *http[4];
} edge_metrics_t;

struct edge {
    edge_config_t cfg;
    struct lws_context *lws;
    uv_loop_t loop; /* the event loop lws runs in (libuv: epoll, not poll) */
    bool loop_ready;
    struct lws_vhost *vhost;
    int listen_fd, spare_fd; /* our SO_REUSEPORT listener; a reserved descriptor */
    pthread_mutex_t lws_mu;  /* guards lws against its destruction while actors wake the loop */
    pthread_t thread;
    bool started;
    uint64_t boot; /* random per process: session keys never repeat across restarts */
    atomic_bool stop, draining, drain_seen, drained;
    atomic_uint_fast64_t nconns;
    /* the outbox: actors push, the loop pops */
    mpsc_t outbox;
    atomic_bool wake_pending;
    /* loop thread only */
    conn_t *conns;
    uint32_t nslots, free_head; /* free list through next_free; UINT32_MAX ends it */
    ratelimit_t *otp_ip;
    lws_sorted_usec_list_t tick;
    uint64_t drain_deadline_ms;
    edge_metrics_t m;
    session_host_t sessions; /* what the session actors see of this edge (edge/session.h) */
};

/* ---- any thread -------------------------------------------------------------------------- */

/* A new item with room for len bytes of data (copied from data when not NULL). */
out_item_t *out_new(uint32_t slot, uint32_t gen, out_op_t op, uint16_t code, const void *data,
                    size_t len);
/* Queues it for the loop and wakes the loop (ownership moves). */
void edge_post(edge_t *e, out_item_t *it);
uint64_t edge_now_ms(void);

/* ---- the loop thread --------------------------------------------------------------------- */

uint32_t conn_alloc(edge_t *e, struct lws *wsi, conn_kind_t kind);
void conn_free(edge_t *e, uint32_t slot);
conn_t *conn_get(edge_t *e, uint32_t slot);
/* The actor key of a connection ("@node:slot/ws/gen-boot" or ".../http/gen-boot"). */
void conn_key(const edge_t *e, uint32_t slot, char out[ROOST_KEY_BYTES_MAX + 1]);
/* Appends to the receive buffer, up to `limit` bytes; false once over it (then it stops). */
bool conn_rx_append(conn_t *c, const void *in, size_t len, size_t limit);
void conn_rx_reset(conn_t *c);
/* Queues an item on its connection (DATA/CLOSE/HTTP) and asks for a writable callback; a
 * send queue over the limit closes the connection (slow reader). */
void conn_enqueue(edge_t *e, conn_t *c, out_item_t *it);
void conn_tx_clear(conn_t *c);
/* Sends an envelope into the node from the loop (drops it when the node refuses). */
void edge_to_actor(edge_t *e, uint32_t slot, uint32_t type, const void *data, size_t len);

/* edge/http.c: the HTTP protocol callback (protocol 0). */
int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len);
/* Answers an HTTP request now: status and JSON (or text for /healthz, /metrics). */
void http_answer(edge_t *e, conn_t *c, uint32_t slot, uint16_t status, const char *body);
/* The webhook SMS driver's client protocol ("roost-sms"). */
int http_sms_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);
/* The webhook SMS driver: POSTs the JSON body to cfg.sms_url (a client connection). */
void http_sms_post(edge_t *e, out_item_t *it);

/* edge/listen.c: the shared listener (SO_REUSEPORT), adopted into the loop. */
int listen_open(const char *host, uint16_t port);
int listen_adopt(edge_t *e);
int listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len);

/* edge/metrics.c */
void edge_metrics_init(edge_t *e);
void edge_metrics_fini(edge_t *e);

/* The HTTP actors (edge/auth_http.c; the sessions' are in edge/session.h). */
extern const roost_behaviour_t auth_http_behaviour;

/* libwebsockets' own log lines: errors only, through our log (process-wide; every lws
 * context of the node calls it). */
void edge_lws_logging(void);

#endif
