/* runtime/node_internal.h — the node's and workers' private structures, shared by node.c,
 * worker.c and ctx.c only. Nothing outside runtime/ includes this.
 *
 * Threads: each worker's fields are touched only by its own thread, except `inbound`, `queued`,
 * `sleeping`, `wake_fd` and `stats` (atomics), which any thread may use. The fields every push
 * writes (`queued`, `sleeping`, the queue's head) sit on cache lines of their own, apart from the
 * ones the owner writes on every turn: a shared line would move between cores on each message. The
 * node's routing table is an array of atomics written by the control plane and read by every
 * worker.
 */
#ifndef ROOST_NODE_INTERNAL_H
#define ROOST_NODE_INTERNAL_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>

#include "runtime/actor_table.h"
#include "runtime/blockpool.h"
#include "runtime/limits.h"
#include "runtime/mpsc.h"
#include "runtime/readyq.h"
#include "runtime/node.h"
#include "runtime/rng.h"
#include "runtime/slab.h"
#include "runtime/timers.h"
#include "runtime/u64map.h"

enum { TIMER_ACTOR = 1, TIMER_REQUEST = 2 };

/* Written by the worker's own thread only (plain load and store, worker.c), `dropped` excepted
 * (any thread, atomic add); read by any. */
typedef struct {
    _Atomic uint64_t activations, passivations, messages, dropped, timers_fired;
    _Atomic int64_t active, timers_pending;
} worker_stats_t;

/* Envelopes linked through their qnode, first to last, in the order added (env_chain_add). */
typedef struct {
    roost_env_t *head, *tail;
    uint32_t count;
} env_chain_t;

/* Envelopes bound for workers' queues, one chain per worker, each pushed with one exchange by
 * outbox_flush. One thread fills and flushes an outbox. */
typedef struct {
    env_chain_t to[ROOST_WORKERS_MAX];
    uint64_t dirty; /* bit i: to[i] is not empty */
} outbox_t;

/* Cache-line aligned (and so a whole number of lines long): the counters at a worker's end are
 * written on every message by its thread, and sharing a line with the next worker's `node`,
 * read on every send by that worker's thread, cost two-worker skynet a third of its CPU. */
typedef struct roost_worker {
    alignas(ROOST_CACHE_LINE_BYTES) roost_node_t *node;
    uint32_t index;
    int wake_fd;
    char pad_owner_[MPSC_PAD_BYTES];
    _Atomic int sleeping;
    _Atomic int64_t queued; /* envelopes in `inbound`, not yet in a mailbox */
    mpsc_t inbound;
    char pad_queue_[MPSC_PAD_BYTES];
    actor_table_t table;
    roost_env_t *local_head, *local_tail; /* sent by this worker's actors, not delivered yet */
    /* Sent by this worker's actors to other workers' during this pass's turns: pushed every 32
     * turns and when they end. */
    outbox_t out;
    /* Sent by its actors to other nodes during the pass, pushed to the transport with them
     * (one chain through qnode; only with a transport that takes chains). */
    env_chain_t to_network;
    uint64_t now_ns;  /* the current pass's time (activation stamps) */
    blockpool_t pool; /* the envelopes this worker sends and frees */
    slab_t records;   /* its actors' records (with their keys and inline states) */
    readyq_t ready;
    bool closing; /* worker_close ran: deliveries are dropped, nothing activates */
    timers_t timers;
    u64map_t pending; /* corr → the request's timeout timer */
    uint64_t next_corr;
    roost_rng_t rng;
    size_t scan_cursor;
    uint64_t next_scan_ns;
    uint64_t pass_budget_ns; /* 0, or ROOST_IO_WORKER_PASS_NS on the worker running the I/O */
    pthread_t thread;
    char log_tag[16]; /* "n<id>": its log lines' node, when the process names none (tests) */
    worker_stats_t stats;
} roost_worker_t;
_Static_assert(sizeof(roost_worker_t) % ROOST_CACHE_LINE_BYTES == 0, "workers own whole lines");

struct roost_ctx {
    roost_worker_t *w;
    roost_actor_t *actor;
    roost_env_t *env; /* being handled; NULL in on_timer/on_activate */
    bool env_taken;
    bool closing; /* in on_passivate: no new timers, requests or ready turns */
};

struct roost_node {
    uint32_t id;
    uint32_t partitions;
    uint32_t nworkers;
    uint64_t passivate_after_ns;
    uint64_t idle_spin_ns;
    roost_clock_t *clock;
    void (*secret_bytes)(void *arg, void *buf, size_t len); /* NULL: libsodium */
    void *secret_arg;
    roost_transport_t *transport;
    bool io_on_worker; /* worker 0 runs the transport's passes (roost_node_set_io) */
    roost_system_fn system_fn;
    void *system_arg;
    const roost_behaviour_t *kinds[ROOST_KINDS_MAX];
    struct {
        const char *name;
        void *ptr;
    } services[ROOST_SERVICES_MAX];
    uint32_t nservices;
    uint32_t nkinds;
    _Atomic uint32_t *primary; /* [partitions] */
    _Atomic uint64_t *epoch;   /* [partitions] */
    _Atomic bool stopping;
    bool running;
    roost_worker_t *workers; /* [nworkers] */
    /* What the transport's sink received for this node's workers since its last batch ended
     * (the transport's thread only): one push per worker per received frame. */
    outbox_t from_network;
};

/* node.c */
/* The behaviour for a valid key (roost_key_is_valid) of key_len bytes, or NULL. */
const roost_behaviour_t *node_kind_of(const roost_node_t *n, const char *key, size_t key_len);
/* Routes env from worker `from` (NULL: an outside thread or the transport). Takes ownership. */
int node_route(roost_node_t *n, roost_env_t *env, roost_worker_t *from);
/* Answers env's sender with an error (if env is not itself a response); frees env. */
void node_bounce(roost_node_t *n, roost_env_t *env, int code, roost_worker_t *from);

/* worker.c */
void worker_init(roost_worker_t *w, roost_node_t *node, uint32_t index, uint64_t seed);
/* Passivates every actor (their on_passivate may still send: to a closing worker that is
 * dropped, to another one queued until its worker_fini). Call on every worker of the node,
 * after all of them are marked closing, before any worker_fini. */
void worker_close(roost_worker_t *w);
/* Frees what the worker holds (its queued envelopes too); passivates first if needed. */
void worker_fini(roost_worker_t *w);
/* Any thread: queue env for this worker and wake it if asleep. */
void worker_enqueue(roost_worker_t *w, roost_env_t *env);
/* The worker's own thread: env, sent by one of its actors, goes to worker `to`'s queue within 32
 * turns, when the pass's turns end at the latest (with whatever else they sent there, in one
 * push). */
void worker_post(roost_worker_t *w, roost_worker_t *to, roost_env_t *env);
/* The worker's own thread: env (its dest_node set) goes to the node's transport with the
 * pass's other remote sends, every 32 turns and when the turns end. */
void worker_post_remote(roost_worker_t *w, roost_env_t *env);
/* Appends env to chain c (one thread's chain). */
void env_chain_add(env_chain_t *c, roost_env_t *env);
/* Adds env to ob's chain for worker `to` (the outbox's thread only). */
void outbox_add(outbox_t *ob, const roost_worker_t *to, roost_env_t *env);
/* Pushes each of ob's chains to its worker's queue, waking it if asleep; ob ends empty. */
void outbox_flush(outbox_t *ob, roost_node_t *n);
/* Puts a list of envelopes (linked through ->next, in order) at the front of a's mailbox. */
void worker_prepend(roost_worker_t *w, roost_actor_t *a, roost_env_t *head);
/* The worker's own thread: env, sent by one of its actors (or its runtime), goes to its target's
 * mailbox (activating the actor) once the running handler returns, in the order sent. */
void worker_deliver(roost_worker_t *w, roost_env_t *env);
/* One bounded pass; true if work remains. */
bool worker_pass(roost_worker_t *w, uint64_t now_ns);
bool worker_has_work(roost_worker_t *w, uint64_t now_ns);
void *worker_thread_main(void *arg);
void worker_wake(roost_worker_t *w);

/* ctx.c */
rtimer_t *ctx_timer_add(roost_worker_t *w, roost_actor_t *a, uint64_t delay_ns, uint64_t period_ns,
                        uint8_t kind, uint64_t tag);
void ctx_timer_unlink(roost_actor_t *a, rtimer_t *t);

#endif
