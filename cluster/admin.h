/* cluster/admin.h — a node's admin channel: a ZeroMQ REP socket on the manifest's admin_port
 * taking one msgpack map per request, {"cmd": "status" | "drain" | "metrics"}, and answering
 * one msgpack map ({"ok": true, …} or {"ok": false, "error": "…"}; metrics: {"ok", "text"}).
 * roostctl is its client (admin_call).
 *
 * Not yet authenticated: CurveZMQ with the manifest's operator keys is the operations issue's;
 * until then bind admin ports to addresses only operators reach (the examples use the nodes'
 * own host).
 */
#ifndef ROOST_ADMIN_H
#define ROOST_ADMIN_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct admin admin_t;

/* Fills a status map's fields after "ok" (the caller has packed the map header for them). */
typedef struct {
    /* status: packs `n` key/value pairs into pk; returns n. */
    uint32_t (*status)(void *arg, msgpack_packer *pk);
    /* drain: 0, or -1 with a reason (e.g. a shard node: handoff is not built). */
    int (*drain)(void *arg, const char **reason);
    /* metrics: the node's Prometheus text (caller frees), or NULL. */
    char *(*metrics)(void *arg, size_t *len);
    void *arg;
} admin_hooks_t;

/* Binds tcp://host:port and starts the thread; NULL (logged) if it cannot bind. */
admin_t *admin_start(const char *host, uint16_t port, const admin_hooks_t *hooks);
void admin_stop(admin_t **a_p);

/* roostctl's side: sends {"cmd": cmd} to host:port and waits up to timeout_ms. The answer's
 * bytes (caller frees) or NULL when nothing answered. */
char *admin_call(const char *host, uint16_t port, const char *cmd, int timeout_ms, size_t *len);

#endif
