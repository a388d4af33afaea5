/* cluster/admin.h — a node's admin channel: a ZeroMQ REP socket on the manifest's admin_port
 * taking one msgpack map per request, {"cmd": "status" | "drain" | "metrics" | "map" |
 * "apply", …}, and answering one msgpack map ({"ok": true, …} or {"ok": false, "error": "…"};
 * metrics: {"ok", "text"}; map: {"ok", "map": bin (clustermap_encode)}). "apply" carries
 * {"manifest": the new manifest's text, "drain": a shard node to leave out (optional)};
 * "user" carries {"op": "show" | "role", "who": id or +E.164, "role": (optional)} and answers
 * {"ok", "answer": the actor's msgpack answer}.
 * roostctl is its client (admin_call, admin_request).
 *
 * With security.curve on, the socket is a CURVE server (the node's own key pair) that accepts
 * only the manifest's operator keys (runtime/zap.h); a request is logged with the operator's
 * name when it changes something (drain). Off: anyone who reaches the port may use it (bind
 * admin ports to addresses only operators reach).
 */
#ifndef ROOST_ADMIN_H
#define ROOST_ADMIN_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/zap.h"

typedef struct admin admin_t;

/* Fills a status map's fields after "ok" (the caller has packed the map header for them). */
typedef struct {
    /* status: packs `n` key/value pairs into pk; returns n. */
    uint32_t (*status)(void *arg, msgpack_packer *pk);
    /* drain: 0, or -1 with a reason (e.g. a shard node: handoff is not built). */
    int (*drain)(void *arg, const char **reason);
    /* metrics: the node's Prometheus text (caller frees), or NULL. */
    char *(*metrics)(void *arg, size_t *len);
    /* map: the cluster map as this node knows it (clustermap_encode; caller frees), or NULL. */
    void *(*map)(void *arg, size_t *len);
    /* apply: take the edited manifest (text) — its new nodes become peers — and, on a control
     * plane voter, propose its shard nodes (minus `drain`, "" for none) as the members;
     * *leading: this node led the control plane when it proposed, so its proposal counts (a
     * follower's is dropped: roostctl sends again). 0, or -1 with the reason in err. */
    int (*apply)(void *arg, const char *text, size_t len, const char *drain, bool *leading,
                 char *err, size_t errcap);
    /* user: op "show" (the account summary, a msgpack map) or "role" (set `role`, or read it
     * when ""; [old, new]) for `who` (a user id or "+E.164"); the answer's msgpack bytes
     * (caller frees), or NULL with the reason in err. */
    char *(*user)(void *arg, const char *op, const char *who, const char *role, size_t *len,
                  char *err, size_t errcap);
    void *arg;
} admin_hooks_t;

/* The server's CURVE setup: its secret key and the operators it accepts (user = name). */
typedef struct {
    bool on;
    uint8_t secret_key[ZAP_KEY_BYTES];
    const zap_allow_t *operators;
    uint32_t n_operators;
} admin_curve_t;

/* The client's: the node's public key and the operator's pair. */
typedef struct {
    bool on;
    uint8_t server_key[ZAP_KEY_BYTES], public_key[ZAP_KEY_BYTES], secret_key[ZAP_KEY_BYTES];
} admin_client_curve_t;

/* Binds tcp://host:port and starts the thread; NULL (logged) if it cannot bind. curve may be
 * NULL (off). */
admin_t *admin_start(const char *host, uint16_t port, const admin_hooks_t *hooks,
                     const admin_curve_t *curve);
void admin_stop(admin_t **a_p);
/* CURVE handshakes refused on this admin port (keys that are not operators'). */
uint64_t admin_refused(const admin_t *a);

/* roostctl's side: sends {"cmd": cmd} to host:port and waits up to timeout_ms. The answer's
 * bytes (caller frees), or NULL when nothing answered; then, with CURVE, *refused says whether
 * the node refused our key (it is up) rather than staying silent. curve may be NULL (off). */
char *admin_call(const char *host, uint16_t port, const char *cmd, int timeout_ms, size_t *len,
                 const admin_client_curve_t *curve, bool *refused);
/* The same with a request the caller encoded (a msgpack map with "cmd" and its fields). */
char *admin_request(const char *host, uint16_t port, const void *req, size_t req_len,
                    int timeout_ms, size_t *len, const admin_client_curve_t *curve, bool *refused);

#endif
