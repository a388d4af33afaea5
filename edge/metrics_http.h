/* edge/metrics_http.h — the Prometheus endpoint of a node's metrics_port: `GET /metrics`
 * answers the node's text (text/plain; version=0.0.4), `GET /healthz` answers 200 "ok" or 503
 * with the reason the node is not healthy, anything else 404 (405 for another method). One
 * libwebsockets context on its own thread, kept apart from an edge's client loop so a scrape never
 * waits behind client traffic (and shard nodes, which have no client loop, serve it too). */
#ifndef ROOST_METRICS_HTTP_H
#define ROOST_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>

typedef struct metrics_http metrics_http_t;

/* The node's Prometheus text (malloc'd; the server frees it), or NULL (answered 500). Called
 * on the server's thread. */
typedef char *(*metrics_http_render_fn)(void *arg, size_t *len);

/* NULL when the node is healthy, else a static reason ("disk refused a write"). */
typedef const char *(*metrics_http_health_fn)(void *arg);

/* Listens on host:port and starts the thread; NULL (logged) if it cannot listen. health may
 * be NULL (always healthy). */
metrics_http_t *metrics_http_start(const char *host, uint16_t port, metrics_http_render_fn fn,
                                   metrics_http_health_fn health, void *arg);
/* Stops the thread and closes the port. Safe on NULL. */
void metrics_http_stop(metrics_http_t **m_p);

#endif
