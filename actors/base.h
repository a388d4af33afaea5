/* actors/base.h — what every stateful domain actor does the same way: load its state only once
 * the store says it is complete, keep what arrives meanwhile, track its writes in order, and
 * start over when its state may be stale.
 *
 * Life of an actor (one per key, on its partition's primary):
 *
 *   OPENING ──store_open answered──> (actor loads its state) ──> READY
 *      ^                                                           │
 *      └── every write answered, state reset <── BROKEN <── a write failed, or the partition's
 *                                                              epoch changed under it
 *
 * While OPENING or BROKEN, envelopes are stashed (bounded) and handled in order once READY.
 * Writes (base_write) are pipelined: each completion callback runs in issue order with the
 * write's status, and base_after runs a callback once every write issued so far is answered —
 * the rule "nothing is answered or pushed before it is durable" is built on it.
 * After a failed write the in-memory state may hold changes the store does not: the actor
 * stops taking work, lets its outstanding writes finish, resets, and loads again.
 */
#ifndef ROOST_ACTORS_BASE_H
#define ROOST_ACTORS_BASE_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "runtime/actor.h"
#include "shards/ops.h"

enum {
    BASE_STASH_MAX = 10000,     /* envelopes held while loading; more are refused eagain */
    BASE_OPEN_RETRY_MS = 50,    /* between store_open attempts while the log is not serving */
    BASE_OPEN_ATTEMPTS = 100,   /* then the stash is refused eunavail and the actor passivates */
    BASE_TIMER_OPEN = 0xB45E01, /* the timer tag base.c uses */
};

/* status: 0 or the write's error. */
typedef void (*base_fn)(roost_ctx_t *ctx, void *self, void *arg, int status);

typedef struct base_wait {
    struct base_wait *next;
    uint64_t corr; /* 0: a base_after marker */
    bool done;
    int status;
    base_fn fn;
    void *arg;
} base_wait_t;

typedef struct {
    void *self; /* the actor's state, passed back to callbacks */
    /* Loads the state from the store (0 or an error: the stash is refused with it). */
    int (*load)(roost_ctx_t *ctx, void *self);
    /* Drops the in-memory state (back to what on_activate built). */
    void (*reset)(roost_ctx_t *ctx, void *self);
    enum { BASE_INIT, BASE_OPENING, BASE_READY, BASE_BROKEN } phase;
    uint64_t open_corr, epoch;
    uint32_t open_attempts;
    roost_env_t *stash, *stash_tail;
    uint32_t nstash;
    base_wait_t *waits, *waits_tail;
    int write_err; /* the first write answered with an error since the last load: every
                    * base_after behind it gets it (nothing stored, nothing answered ok) */
    bool closing;  /* base_fini ran: writes fail at once with ROOST_ECLOSED */
} base_t;

void base_init(base_t *b, void *self, int (*load)(roost_ctx_t *, void *),
               void (*reset)(roost_ctx_t *, void *));
/* On passivation, before the actor drops its state: outstanding callbacks run with
 * ROOST_ECLOSED (so they free what they hold), the stash is dropped. */
void base_fini(roost_ctx_t *ctx, base_t *b);

/* First thing in on_message: true if the base took the envelope (a store answer, an answer
 * dropped because the state is being reloaded, or stashed while not READY). false: READY,
 * the actor handles env. State loaded under an earlier epoch of the partition is reloaded
 * before anything acts on it. */
bool base_filter(roost_ctx_t *ctx, base_t *b, roost_env_t *env);
/* First thing in on_timer: true if the tag was the base's. A timer of the actor's own finds
 * stale state (an earlier epoch) being reloaded: the actor must then check base_ready. */
bool base_timer(roost_ctx_t *ctx, base_t *b, uint64_t tag);

/* Commits ops; fn(status) (may be NULL) runs once answered, in issue order. If the append cannot
 * even be sent, fn runs now with the error. */
void base_write(roost_ctx_t *ctx, base_t *b, const store_ops_t *ops, base_fn fn, void *arg);
/* fn(status) once every write issued so far is answered (now, if none is outstanding): 0 if
 * they were all stored, else the first error among them (or earlier since the last load). */
void base_after(roost_ctx_t *ctx, base_t *b, base_fn fn, void *arg);
/* Reads the msgpack value at key (the actor's partition) into *up, which the caller destroys
 * whatever the result: ROOST_OK, ROOST_ENOTFOUND, ROOST_EPROTO (not msgpack) or ROOST_EIO. */
int base_get_doc(roost_ctx_t *ctx, const void *key, size_t klen, msgpack_unpacked *up);
/* Reads a be64 value (*out = 0 when absent): ROOST_OK or an error. */
int base_get_u64(roost_ctx_t *ctx, const void *key, size_t klen, uint64_t *out);

/* The partition's fence (shards/store.h, STORE_FENCE_KEY): the epoch of its last adoption that
 * may have lost acknowledged writes, 0 if none (or unreadable: then nothing is fenced). */
uint64_t base_fence(roost_ctx_t *ctx);

/* READY: on_timer handlers check this first (timers of a state that was reset). */
bool base_ready(const base_t *b);
/* Writes outstanding. */
bool base_busy(const base_t *b);

#endif
