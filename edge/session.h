/* edge/session.h — what a client connection's session actor (edge/session.c) needs from
 * whatever holds the connection: a host that takes the frames and closes it sends, the keys
 * that check access tokens, the limits, and the counters. The edge's libwebsockets loop is
 * one host (edge/server.c); nothing here names a transport, so another (the simulator's
 * phones) can hold connections too.
 *
 * A session is the node-local actor "@<node>:<slot>/ws/<gen>-<boot>" (kind "@ws"). Its host
 * sends it each raw frame (MSG_EDGE_IN: one byte of codec and flags, then the frame) and,
 * when the connection is gone, MSG_EDGE_CLOSED; the session answers through host->post.
 */
#ifndef ROOST_EDGE_SESSION_H
#define ROOST_EDGE_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edge/tokens.h"
#include "runtime/actor.h"
#include "runtime/metrics.h"

#define SESSION_HOST_SERVICE "edge.sessions"

/* Host → actors. */
enum {
    MSG_EDGE_IN = 0x6300, /* to a session: [flags|codec byte][frame bytes] */
    MSG_EDGE_CLOSED,      /* to a session: the connection is gone */
    MSG_EDGE_HTTP,        /* to an HTTP actor: [op, ip, json body (str)] (the edge's own) */
};
enum { EDGE_IN_TOO_LARGE = 0x80, EDGE_IN_CODEC_MASK = 0x0f };

/* Actors → host. */
typedef enum {
    OUT_DATA = 1, /* a frame for the client */
    OUT_CLOSE,    /* close with `code` and the reason in data, after what is queued */
    OUT_HTTP,     /* an HTTP answer: `code` status, data the JSON body (the edge's own) */
    OUT_SMS,      /* the webhook SMS driver: data is the JSON body to POST (the edge's own) */
} out_op_t;

typedef struct {
    /* Takes a frame (OUT_DATA) or a close (OUT_CLOSE: code, and the reason as data) for the
     * connection (slot, gen); a connection that is gone drops it. Any worker thread. */
    void (*post)(void *arg, uint32_t slot, uint32_t gen, out_op_t op, uint16_t code,
                 const void *data, size_t len);
    void *arg;
    const tokens_t *tokens; /* checks the access token of `auth` */
    uint32_t frame_bytes;   /* the largest frame taken */
    uint32_t bad_frames_per_minute;
    metrics_counter_t *bad_frames, *bad_closed, *auth_ok, *auth_failed; /* NULL: not counted */
} session_host_t;

/* The session actors; a node that registers them sets its host as SESSION_HOST_SERVICE. */
extern const roost_behaviour_t session_behaviour;

/* The slot and generation a connection's key names; false if it is not one. Any thread. */
bool conn_of_key(const char *key, uint32_t *slot, uint32_t *gen);

#endif
