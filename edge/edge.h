/* edge/edge.h — an edge node's client front door: a libwebsockets server on the client port
 * (WebSocket `/v1/ws` with the `roost.v1.json` and `roost.v1.msgpack` subprotocols; the HTTP
 * auth endpoints, `/healthz`, `/metrics`) bridged to the actor runtime.
 *
 * One event loop thread owns every socket. Each WebSocket connection is a node-local session
 * actor ("@<node>:<slot>/ws/<gen>", edge/session.c) and each HTTP auth request an actor
 * ("@<node>:<slot>/http/<gen>", edge/auth_http.c): the loop hands them raw frames and bodies as
 * envelopes; they decode, check tokens, talk to the shards' actors, encode what goes back and
 * post it to the loop's outbox (thread-safe, edge/outbox.c). The edge holds no durable state.
 *
 *   edge_new (binds the port; registers the actors on the node, before it starts)
 *   → edge_start (the loop thread) → edge_drain (optional) → edge_stop (the loop ends)
 *   → the node stops and is destroyed (its actors may still post) → edge_destroy
 */
#ifndef ROOST_EDGE_H
#define ROOST_EDGE_H

#include <stdbool.h>
#include <stdint.h>

#include "edge/tokens.h"
#include "runtime/node.h"

enum { EDGE_URL_BYTES_MAX = 255, EDGE_PEERS_MAX = 16, EDGE_PATH_BYTES_MAX = 255 };

typedef struct edge edge_t;

typedef struct {
    roost_node_t *node; /* not started yet */
    uint32_t node_id;
    const char *host; /* to listen on */
    uint16_t port;
    tokens_t tokens; /* keys point into memory that outlives the edge */
    uint32_t frame_bytes, send_queue_bytes, bad_frames_per_minute, http_body_bytes;
    uint32_t ping_ms, drain_deadline_ms, reconnect_ms;
    uint32_t otp_per_ip_per_hour;
    char sms_driver[8]; /* file | webhook */
    char sms_path[EDGE_PATH_BYTES_MAX + 1];
    char sms_url[EDGE_URL_BYTES_MAX + 1];
    /* The other edges' client URLs ("ws://host:port/v1/ws"), for goaway. */
    char peers[EDGE_PEERS_MAX][EDGE_URL_BYTES_MAX + 1];
    uint32_t npeers;
} edge_config_t;

/* NULL (logged) if the port cannot be bound or the node refuses the behaviours. */
edge_t *edge_new(const edge_config_t *cfg);
/* Starts the event loop thread. 0 or -1. */
int edge_start(edge_t *e);
/* Stops accepting connections, sends every client `goaway`, and closes what is left at the
 * deadline. Thread-safe; idempotent. */
void edge_drain(edge_t *e);
/* True once a drain has begun and no client connection is left. */
bool edge_drained(edge_t *e);
/* Open WebSocket connections (approximate; any thread). */
uint64_t edge_connections(edge_t *e);
/* The Prometheus text of the edge and its node (caller frees); also served at /metrics. */
char *edge_metrics_render(edge_t *e, size_t *len);
/* Ends the event loop thread and closes every socket. Idempotent. */
void edge_stop(edge_t *e);
/* Frees everything; after the node is destroyed (its actors hold the edge as a service). */
void edge_destroy(edge_t **e_p);

#endif
