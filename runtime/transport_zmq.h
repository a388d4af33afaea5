/* runtime/transport_zmq.h — the real transport: ZeroMQ between nodes, batched, on one I/O loop.
 *
 * Where the loop runs: on its own thread (transport_zmq_start; the daemon's default), or on the
 * node's first worker between that worker's passes (transport_zmq_run_on_caller +
 * roost_node_set_io; manifest runtime.io: worker). The second saves two thread hand-offs per
 * message and node — on a 2-core machine a quarter more replicated writes per second
 * (docs/benchmarks.md) — at the price that a stalled worker stalls the node's network, its
 * heartbeats included.
 *
 * Sockets: one ROUTER bound on this node's endpoint receives from every peer; one DEALER per
 * peer (routing id "n<self id>") sends to it. Only the loop touches a socket:
 * roost_transport_send pushes the envelope on a lock-free queue and wakes the loop, which packs
 * everything queued for a peer into frames of up to ROOST_TRANSPORT_BATCH_BYTES_MAX (a msgpack
 * stream of envelopes) and sends them with ZMQ_DONTWAIT. When ZeroMQ's pipe to a peer is full
 * (ROOST_TRANSPORT_PEER_HWM frames) the frames wait, in order, in the transport until the pipe
 * drains (zmq_poll reports POLLOUT), up to ROOST_TRANSPORT_PEER_PENDING_BYTES_MAX per peer.
 * Bounds: at most ROOST_TRANSPORT_OUTBOUND_MAX envelopes queued in all, and that many bytes per
 * peer; beyond either, envelopes are dropped and counted — a dead peer never blocks the
 * scheduler and never grows memory without bound.
 *
 * Received frames are bounds-checked (mpguard), decoded, and handed to the sink on the I/O
 * thread; a malformed envelope is counted, logged (at most once a second) and dropped with the
 * rest of its frame. A frame from a routing id that is not a configured peer is dropped; with
 * CURVE, so is one whose authenticated key belongs to another peer than its routing id says.
 *
 * Every heartbeat_ms the loop sends a ROOST_MSG_HEARTBEAT to each peer and calls on_tick. On its
 * own thread, failure detection is never delayed by busy workers; on a worker, by at most that
 * worker's pass (bounded turns; far below runtime.down_after_ms).
 */
#ifndef ROOST_TRANSPORT_ZMQ_H
#define ROOST_TRANSPORT_ZMQ_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/clock.h"
#include "runtime/limits.h"
#include "runtime/transport.h"

#define TRANSPORT_ENDPOINT_BYTES_MAX 128

enum { TRANSPORT_KEY_BYTES = 32 };

typedef struct {
    uint32_t id;
    char endpoint[TRANSPORT_ENDPOINT_BYTES_MAX]; /* "tcp://127.0.0.1:7101" */
    uint8_t curve_public[TRANSPORT_KEY_BYTES];   /* with curve.on: the peer's public key */
} transport_peer_t;

/* CurveZMQ on every socket: the ROUTER is a CURVE server that accepts only the peers' public
 * keys (runtime/zap.h) and only under their own routing ids; each DEALER is a CURVE client
 * that checks its peer's key. Off: plain TCP (the node logs that it is unauthenticated). */
typedef struct {
    bool on;
    uint8_t public_key[TRANSPORT_KEY_BYTES], secret_key[TRANSPORT_KEY_BYTES];
} transport_curve_t;

typedef struct {
    uint32_t self_id;
    char bind_endpoint[TRANSPORT_ENDPOINT_BYTES_MAX];
    transport_peer_t peers[ROOST_NODES_MAX];
    uint32_t npeers;
    transport_curve_t curve;
    uint32_t heartbeat_ms; /* 0: no heartbeats, no ticks */
    roost_clock_t *clock;  /* NULL → real */
    /* Called on the I/O thread every heartbeat_ms. */
    void (*on_tick)(void *arg, uint64_t now_ns);
    void *tick_arg;
    /* Optional: fills the heartbeat's payload (at most cap bytes; returns the length) — how a
     * node shares its failure detector's view with its peers. Called on the I/O thread. */
    size_t (*heartbeat_payload)(void *arg, uint8_t *buf, size_t cap);
} transport_zmq_config_t;

typedef struct {
    uint64_t sent, received, batches_out, batches_in, dropped, malformed, unknown_peer;
    uint64_t held;     /* encoded, waiting for a full pipe to a peer to drain */
    uint64_t refused;  /* CURVE handshakes with a key that is not a peer's */
    uint64_t impostor; /* frames from a listed key under another node's routing id */
} transport_zmq_stats_t;

/* Binds and connects; NULL (with a log line naming the endpoint) if binding fails.
 * Caller owns the result; destroy with transport_zmq_destroy. */
roost_transport_t *transport_zmq_new(const transport_zmq_config_t *cfg);
/* Starts the I/O thread (after the node has registered its sink). */
int transport_zmq_start(roost_transport_t *t);
/* Instead of transport_zmq_start, before the node starts: no thread of its own; the node's
 * first worker runs the passes through the ops' serve and wait (roost_node_set_io) and owns the
 * sockets from then on. transport_zmq_stop then has nothing to stop. */
void transport_zmq_run_on_caller(roost_transport_t *t);
/* Stops the I/O thread: nothing more is delivered to the sink; sends still queue (and are
 * freed by destroy). Safe on NULL and when not started. */
void transport_zmq_stop(roost_transport_t *t);
/* Stops the thread, closes the sockets, frees queued envelopes. Safe on NULL. */
void transport_zmq_destroy(roost_transport_t **t_p);
void transport_zmq_stats(roost_transport_t *t, transport_zmq_stats_t *out);
/* Stops (false) or resumes this node's heartbeats: a node that must stop serving (its disk
 * refused a write) goes quiet so its peers declare it down and fail its partitions over, while
 * it keeps answering what it still can. */
void transport_zmq_set_heartbeats(roost_transport_t *t, bool on);
/* A node that joined the cluster (roostctl apply): from any thread; the I/O thread connects to
 * it (and, with CURVE, accepts its key) on its next pass. A known id is ignored. 0 or
 * ROOST_ETOOBIG (queue full). */
int transport_zmq_add_peer(roost_transport_t *t, const transport_peer_t *peer);
/* Fault injection for tests: while blocked, every frame to or from `peer` is dropped. */
void transport_zmq_block(roost_transport_t *t, uint32_t peer, bool blocked);

#endif
