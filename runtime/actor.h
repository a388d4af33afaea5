/* runtime/actor.h — what a behaviour sees of the runtime: the behaviour vtable and the context
 * its handlers receive. This is the whole API actors/ programs against (with the store API).
 *
 * Virtual actors: an actor exists logically forever. The first envelope sent to its key
 * activates it on the worker that serves the key's partition (on_activate builds its state);
 * after `passivate_after_ms` without messages, timers or outstanding requests it is passivated
 * (on_passivate frees its state) and its runtime memory is returned. Handlers of one actor never
 * run concurrently — every partition is served by one worker thread — so actor code takes no
 * locks. Handlers must not block: waiting is a request whose response arrives as a message.
 *
 * Requests: roost_ctx_request sends with a fresh correlation id; the response (or a runtime-made
 * ROOST_ENV_ERROR response with status ROOST_ETIMEDOUT) arrives later through on_message with
 * env->flags & ROOST_ENV_RESPONSE and the same env->corr. Exactly one of them arrives.
 */
#ifndef ROOST_ACTOR_H
#define ROOST_ACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/envelope.h"
#include "runtime/rng.h"

typedef struct roost_ctx roost_ctx_t;

typedef struct {
    const char *kind; /* the key prefix this behaviour serves: "u" for "u:42" */
    /* 0, or the size of a state the runtime allocates with the actor's own record (one block
     * instead of two: an activation is one allocation, and the state is in cache with the
     * record). *state then points at state_bytes zeroed bytes (aligned for any type) when
     * on_activate runs, which may fill them but not replace the pointer; the runtime frees
     * them with the record, so on_passivate must not. At most ROOST_STATE_BYTES_MAX. */
    size_t state_bytes;
    /* Builds the state for ctx's key in *state (may stay NULL). Non-zero refuses activation:
     * the envelope that caused it is answered with that error. */
    int (*on_activate)(roost_ctx_t *ctx, void **state);
    /* The runtime frees env after the call unless the handler passed it on with
     * roost_ctx_send_env (ownership moves with it). */
    void (*on_message)(roost_ctx_t *ctx, void *state, roost_env_t *env);
    void (*on_timer)(roost_ctx_t *ctx, void *state, uint64_t timer_id, uint64_t tag);
    /* Frees the state; the actor's timers are already cancelled. While it runs the actor can
     * still send and reply, but not start timers or requests (0 / ROOST_ECLOSED), and what it
     * unstashes is freed. */
    void (*on_passivate)(roost_ctx_t *ctx, void *state);
} roost_behaviour_t;

/* The actor's own key (NUL-terminated, valid for the handler call). */
const char *roost_ctx_self(const roost_ctx_t *ctx);
/* Monotonic time from the node's clock (real or simulated). */
uint64_t roost_ctx_now_ns(const roost_ctx_t *ctx);
/* Unix wall time in ms (node's clock): for timestamps that are stored or shown, never order. */
uint64_t roost_ctx_wall_ms(const roost_ctx_t *ctx);
/* The cluster map's epoch of this actor's partition as this node last applied it. It changes
 * whenever the partition's primary does: an actor that loaded its state under one epoch and
 * sees another must reload (another primary may have written meanwhile). */
uint64_t roost_ctx_epoch(const roost_ctx_t *ctx);
/* The worker's random generator (seeded by the simulator in sim runs). */
roost_rng_t *roost_ctx_rng(roost_ctx_t *ctx);
/* Secret random bytes (tokens, codes, salts): the OS's CSPRNG, or the node's configured
 * source (roost_node_config_t.secret_bytes: the simulator's seeded one). */
void roost_ctx_secret_bytes(roost_ctx_t *ctx, void *buf, size_t len);
/* A secret uniform integer in [0, upper) (upper > 0), from the same source. */
uint32_t roost_ctx_secret_uniform(roost_ctx_t *ctx, uint32_t upper);
/* A node-wide service registered with roost_node_set_service (NULL if none). */
void *roost_ctx_service(const roost_ctx_t *ctx, const char *name);
/* This node's member id, and the partition of this actor. */
uint32_t roost_ctx_node_id(const roost_ctx_t *ctx);
uint32_t roost_ctx_partition(const roost_ctx_t *ctx);
/* The worker serving this actor (0-based); useful for metrics and tests only. */
uint32_t roost_ctx_worker(const roost_ctx_t *ctx);

/* One-way message from this actor to `target`. 0, ROOST_EINVAL (bad key or size) or
 * ROOST_EAGAIN (a bounded queue toward a remote node is full). */
int roost_ctx_send(roost_ctx_t *ctx, const char *target, uint32_t type, const void *payload,
                   size_t len);
/* Takes ownership of the envelope being handled (the runtime will not free it): to answer a
 * request later, once some other work completes. Free it with roost_env_free. Returns it. */
roost_env_t *roost_ctx_keep(roost_ctx_t *ctx);
/* Stashing (an actor that is not ready yet, e.g. still loading its state): keep envelopes
 * with roost_ctx_keep, link them through env->next in arrival order, and once ready hand the
 * list back with roost_ctx_unstash — they are handled next, before anything that arrived since. */
void roost_ctx_unstash(roost_ctx_t *ctx, roost_env_t *head);
/* Sends a prepared envelope (ownership moves to the runtime, whatever the result). The sender
 * field is left as the caller set it. */
int roost_ctx_send_env(roost_ctx_t *ctx, roost_env_t *env);
/* Request with a timeout (0 → ROOST_REQUEST_TIMEOUT_MS_DEFAULT); *corr_out identifies the
 * response. While a request is outstanding the actor is not passivated. */
int roost_ctx_request(roost_ctx_t *ctx, const char *target, uint32_t type, const void *payload,
                      size_t len, uint32_t timeout_ms, uint64_t *corr_out);
/* Answers `req` (which must carry ROOST_ENV_REQUEST) with a response of `type`. `req` may be
 * an envelope kept from an earlier handler call. */
int roost_ctx_reply(roost_ctx_t *ctx, const roost_env_t *req, uint32_t type, const void *payload,
                    size_t len);
/* Answers `req` with an error response (status = code < 0). */
int roost_ctx_reply_error(roost_ctx_t *ctx, const roost_env_t *req, int code);

/* Starts a timer firing on_timer(tag) after delay_ms, then every period_ms if period_ms > 0.
 * Returns its id (never 0; 0 only during on_passivate). A periodic timer keeps the actor
 * active. */
uint64_t roost_ctx_timer_start(roost_ctx_t *ctx, uint64_t delay_ms, uint64_t period_ms,
                               uint64_t tag);
/* The same with microsecond precision (pacing, fine-grained retries). */
uint64_t roost_ctx_timer_start_us(roost_ctx_t *ctx, uint64_t delay_us, uint64_t period_us,
                                  uint64_t tag);
/* True if the timer existed and belonged to this actor; it will not fire. */
bool roost_ctx_timer_cancel(roost_ctx_t *ctx, uint64_t timer_id);

/* Asks for passivation once the current handler returns (state freed via on_passivate; a
 * later message activates the actor afresh). */
void roost_ctx_passivate(roost_ctx_t *ctx);

#endif
