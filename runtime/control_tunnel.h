/* runtime/control_tunnel.h — libraft's connections carried over the node transport.
 *
 * Owns: a raft_uv_transport whose streams are not TCP sockets but byte streams tunnelled, as
 * frames, through whatever the caller sends them with — in roostd the ZeroMQ transport, so the
 * control plane is authenticated and encrypted by CurveZMQ exactly like the data plane, and a
 * node whose key is not the manifest's cannot speak Raft (libraft's own TCP transport has no
 * authentication at all). It also drops the raft port: Raft uses the peer port.
 *
 * Each libraft connection is a socketpair: libraft reads and writes one end as a uv stream; the
 * tunnel reads the other end on the control loop and sends what it reads as DATA frames, and
 * writes the DATA frames it receives into it. Frames (binary, big-endian):
 *
 *   kind (1) | stream id (8) | seq (8) | bytes…
 *   kind: OPEN (opener → acceptor), ACCEPT (acceptor → opener), DATA_O / DATA_A (from the
 *         opener / the acceptor), CLOSE_O / CLOSE_A.
 *
 * A stream is named by (peer, stream id, who opened it). A connect waits for ACCEPT (up to
 * CONTROL_TUNNEL_CONNECT_MS; otherwise libraft gets RAFT_NOCONNECTION and retries, as with a
 * refused TCP connect). Only a configured voter may open a stream. Frames are numbered per
 * direction: a gap (a frame the transport dropped) closes the stream, libraft sees the
 * connection end and reconnects, as it would after a broken TCP connection. A frame for an
 * unknown stream is answered with CLOSE.
 *
 * Threads: everything runs on the control loop, except control_tunnel_deliver (any thread: it
 * queues a copy and wakes the loop). The send callback is called on the control loop.
 */
#ifndef ROOST_CONTROL_TUNNEL_H
#define ROOST_CONTROL_TUNNEL_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/control.h"

struct raft_uv_transport;
struct uv_loop_s;

enum {
    CONTROL_TUNNEL_CONNECT_MS = 1000,
    /* Bytes queued from the transport thread and not yet taken by the loop; beyond this a
     * frame is dropped (its stream then breaks and reconnects). */
    CONTROL_TUNNEL_INBOX_BYTES_MAX = 64 * 1024 * 1024,
};

typedef struct {
    uint32_t self_id;
    uint32_t n_voters;
    const control_voter_t *voters; /* copied */
    control_tunnel_send_fn send;
    void *send_arg;
} control_tunnel_config_t;

/* Fills t (impl, callbacks) for libraft's raft_uv_init. 0 or -1 (out of memory). */
int control_tunnel_init(struct raft_uv_transport *t, struct uv_loop_s *loop,
                        const control_tunnel_config_t *cfg);
/* Frees what init allocated, once the loop has run the transport's close to its end. */
void control_tunnel_free(struct raft_uv_transport *t);
/* A frame from node `from` (any thread). */
void control_tunnel_deliver(struct raft_uv_transport *t, uint32_t from, const void *frame,
                            size_t len);

#endif
