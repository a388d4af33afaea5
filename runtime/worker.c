/* runtime/worker.c — one worker: its actors' mailboxes, the ready queue, timers, activation and
 * passivation, and the thread loop around them.
 *
 * A pass (worker_pass) is a short function of named phases, each capped by a limit in limits.h:
 *   1. move envelopes from the cross-thread inbound queue into mailboxes (activating actors),
 *   2. give ready actors a turn of at most ROOST_ACTOR_TURN_MSGS_MAX messages each,
 *   3. fire the timers due by now (the clock read again: a zero-delay timer a turn started
 *      fires in this pass),
 *   4. passivate idle actors, a slice of the table at a time.
 * Envelopes an actor sends to an actor of the same worker wait in the worker's local queue
 * until the handler returns, then are delivered in batches (s_flush_local) whose table slots
 * are prefetched together: over a large table each lookup is a cache miss, and a batch pays
 * for about one instead of one each. The inbound queue is drained the same way. Envelopes for
 * other workers' actors collect in one chain per worker while the pass's turns run and are pushed
 * with one exchange every OUT_FLUSH_TURNS turns and when they end (each push moves the queue's
 * cache line between cores), each envelope carrying a prefetch hint for the consumer
 * (s_hint_chain).
 * Actor states: inactive (not in the table) → active-idle ⇄ ready (mailbox non-empty, queued)
 * → passivated (removed, state freed). Invariant: ACTOR_READY ⇔ in the ready queue ⇒ mailbox
 * non-empty. Which ready actor runs next is the ready queue's choice (runtime/readyq.h: newest
 * first for locality, every ready actor's wait bounded for fairness).
 * Worker 0 of a node with roost_node_set_io also runs the transport's I/O: a transport pass
 * after each of its own, and its sleep is the transport's wait (network, either eventfd, timers).
 */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "runtime/errors.h"
#include "runtime/hash.h"
#include "runtime/log.h"
#include "runtime/node_internal.h"
#include "runtime/util.h"

enum {
    DELIVER_BATCH = 16, /* lookups whose slots are prefetched together: ~ a core's open misses */
    INBOUND_HINT_AHEAD = 8, /* how far ahead in a pushed chain the consumer prefetches */
    OUT_FLUSH_TURNS = 32,   /* cross-worker sends wait at most this many turns to be pushed */
    SCAN_SWEEP_GAP_MIN_NS = 100 * 1000 * 1000, /* rest between full sweeps: not urgent */
    SCAN_SWEEP_GAP_SHARE = 16,      /* …and at least 1/16 of the idle timeout: an actor idle for
                                     * 5 min goes within ~19 s more, and a sweep over a big table
                                     * is not redone ten times a second for actors that cannot
                                     * be idle long enough yet */
    SCAN_STEP_GAP_NS = 1000 * 1000, /* ≤ one slice per ms: ~1M slots/s, off the hot path */
    SCAN_PREFETCH_AHEAD = 8,        /* records fetched ahead of the sweep: ~ a core's open misses */
};

static uint64_t s_sweep_gap_ns(const roost_worker_t *w)
{
    uint64_t share = w->node->passivate_after_ns / SCAN_SWEEP_GAP_SHARE;
    return share > SCAN_SWEEP_GAP_MIN_NS ? share : SCAN_SWEEP_GAP_MIN_NS;
}

/* A worker's counters have one writer, its own thread (`dropped` excepted: node.c counts drops
 * from any thread), so a plain load and store does: a locked read-modify-write waits for the
 * store buffer to drain, and after an activation's stores to a fresh record that was a third of
 * the delivery's time. Readers on other threads see a recent value. */
static inline void s_count(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void s_gauge(_Atomic int64_t *gauge, int64_t n)
{
    atomic_store_explicit(gauge, atomic_load_explicit(gauge, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* `dropped`: any thread may count one. */
static inline void s_count_drop(roost_worker_t *w)
{
    atomic_fetch_add_explicit(&w->stats.dropped, 1, memory_order_relaxed);
}

void worker_init(roost_worker_t *w, roost_node_t *node, uint32_t index, uint64_t seed)
{
    memset(w, 0, sizeof *w);
    w->node = node;
    w->index = index;
    mpsc_init(&w->inbound);
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert(w->wake_fd >= 0);
    actor_table_init(&w->table);
    readyq_init(&w->ready);
    blockpool_init(&w->pool);
    slab_init(&w->records);
    /* Timer ids and correlation ids carry node and worker so they are unique per node. */
    uint64_t base = ((uint64_t)(node->id & 0xFFFF) << 48) | ((uint64_t)index << 40);
    timers_init(&w->timers, base);
    u64map_init(&w->pending);
    w->next_corr = base;
    w->now_ns = roost_clock_now_ns(node->clock);
    if (seed)
        roost_rng_seed(&w->rng, seed + index);
    else
        roost_rng_seed_random(&w->rng);
}

static void s_ctx_init(roost_ctx_t *ctx, roost_worker_t *w, roost_actor_t *a)
{
    ctx->w = w;
    ctx->actor = a;
    ctx->env = NULL;
    ctx->env_taken = false;
    ctx->closing = false;
}

static void s_flush_local(roost_worker_t *w);
static void s_flush_out(roost_worker_t *w);

/* Where an inline state (roost_behaviour_t.state_bytes) starts in an actor's block: after the
 * key, aligned for any type. */
static size_t s_state_offset(size_t key_len)
{
    size_t align = _Alignof(max_align_t);
    return (sizeof(roost_actor_t) + key_len + 1 + align - 1) / align * align;
}

/* The size of an actor's block: its record, its key and its inline state if it has one. */
static size_t s_record_bytes(const roost_behaviour_t *beh, size_t key_len)
{
    if (!beh->state_bytes)
        return sizeof(roost_actor_t) + key_len + 1;
    return s_state_offset(key_len) + beh->state_bytes;
}

/* Cancels the actor's timers and outstanding requests, calls on_passivate, frees it. */
static void s_passivate(roost_worker_t *w, roost_actor_t *a)
{
    assert(!(a->flags & ACTOR_READY));
    while (a->timers) {
        rtimer_t *t = a->timers;
        ctx_timer_unlink(a, t);
        if (t->kind == TIMER_REQUEST)
            u64map_take(&w->pending, t->tag);
        timers_cancel(&w->timers, t);
        s_gauge(&w->stats.timers_pending, -1);
    }
    roost_ctx_t ctx;
    s_ctx_init(&ctx, w, a);
    ctx.closing = true;
    if (a->beh->on_passivate)
        a->beh->on_passivate(&ctx, a->state);
    s_flush_local(w);
    for (roost_env_t *e = a->mb_head, *next; e; e = next) {
        next = e->next;
        roost_env_free_to(&w->pool, e);
        s_count_drop(w);
    }
    actor_table_remove(&w->table, a);
    slab_free(&w->records, a, s_record_bytes(a->beh, a->key_len));
    s_count(&w->stats.passivations, 1);
    s_gauge(&w->stats.active, -1);
}

void worker_close(roost_worker_t *w)
{
    w->closing = true;
    readyq_clear(&w->ready); /* nothing runs again; passivated actors are freed */
    for (size_t i = 0; i < actor_table_capacity(&w->table); i++) {
        roost_actor_t *a;
        while ((a = actor_table_slot(&w->table, i)) != NULL) {
            a->flags &= (uint8_t)~ACTOR_READY;
            s_passivate(w, a);
        }
    }
    s_flush_local(w); /* drops what the last on_passivate sent */
    s_flush_out(w);   /* other workers drop theirs in worker_fini */
}

void worker_fini(roost_worker_t *w)
{
    worker_close(w);
    mpsc_node_t *n;
    while ((n = mpsc_pop(&w->inbound)) != NULL)
        roost_env_free(roost_env_from_qnode(n));
    actor_table_fini(&w->table);
    readyq_fini(&w->ready);
    blockpool_fini(&w->pool);
    slab_fini(&w->records);
    timers_fini(&w->timers);
    u64map_fini(&w->pending);
    close(w->wake_fd);
}

void worker_wake(roost_worker_t *w)
{
    uint64_t one = 1;
    ssize_t n = write(w->wake_fd, &one, sizeof one);
    (void)n; /* EAGAIN means the counter is already non-zero: the worker will wake anyway */
}

/* Queues the chain first → … → last (linked through qnode) of n envelopes for w. */
static void s_enqueue_chain(roost_worker_t *w, roost_env_t *first, roost_env_t *last, uint32_t n)
{
    atomic_fetch_add_explicit(&w->queued, n, memory_order_relaxed);
    mpsc_push_chain(&w->inbound, &first->qnode, &last->qnode);
    /* The first producer after the worker went to sleep takes the flag and pays for the wake-up
     * (a syscall); the ones that follow before the worker runs again see it clear and do not
     * write it (an exchange on every push moved its line between cores on every message). The
     * fence orders the push before the load, as the worker's store of the flag is ordered before
     * its look at the queue, so one of the two always sees the other. */
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&w->sleeping, memory_order_relaxed) &&
        atomic_exchange_explicit(&w->sleeping, 0, memory_order_seq_cst))
        worker_wake(w);
}

void worker_enqueue(roost_worker_t *w, roost_env_t *env)
{
    env->next = NULL; /* no prefetch hint (s_hint_chain) */
    s_enqueue_chain(w, env, env, 1);
}

void env_chain_add(env_chain_t *c, roost_env_t *env)
{
    atomic_store_explicit(&env->qnode.next, NULL, memory_order_relaxed);
    if (c->head)
        atomic_store_explicit(&c->tail->qnode.next, &env->qnode, memory_order_relaxed);
    else
        c->head = env;
    c->tail = env;
    c->count++;
}

void outbox_add(outbox_t *ob, const roost_worker_t *to, roost_env_t *env)
{
    env_chain_add(&ob->to[to->index], env);
    ob->dirty |= 1ull << to->index;
}

void worker_post(roost_worker_t *w, roost_worker_t *to, roost_env_t *env)
{
    outbox_add(&w->out, to, env);
}

void worker_post_remote(roost_worker_t *w, roost_env_t *env)
{
    env_chain_add(&w->to_network, env);
}

static roost_env_t *s_chain_next(roost_env_t *env)
{
    mpsc_node_t *n = atomic_load_explicit(&env->qnode.next, memory_order_relaxed);
    return n ? roost_env_from_qnode(n) : NULL;
}

/* Starts loading an envelope's header and keys: the header's second line holds the key pointers
 * and the keys follow it, so delivery reads both lines (NULL: nothing to do). */
static inline void s_prefetch_env(const roost_env_t *env)
{
    if (!env)
        return;
    __builtin_prefetch(env);
    __builtin_prefetch((const char *)env + 64);
}

/* Points each envelope's mailbox link (unused while it is queued) at the one INBOUND_HINT_AHEAD
 * further down the chain: the consumer, chasing the chain one cache miss per envelope, prefetches
 * that one as it pops this one, so about that many of its misses overlap. */
static void s_hint_chain(roost_env_t *head)
{
    roost_env_t *lead = head;
    for (int k = 0; k < INBOUND_HINT_AHEAD && lead; k++)
        lead = s_chain_next(lead);
    for (roost_env_t *e = head; e; e = s_chain_next(e)) {
        e->next = lead;
        lead = lead ? s_chain_next(lead) : NULL;
    }
}

void outbox_flush(outbox_t *ob, roost_node_t *n)
{
    while (ob->dirty) {
        uint32_t i = (uint32_t)__builtin_ctzll(ob->dirty);
        ob->dirty &= ob->dirty - 1;
        env_chain_t *c = &ob->to[i];
        s_hint_chain(c->head);
        s_enqueue_chain(&n->workers[i], c->head, c->tail, c->count);
        *c = (env_chain_t){0};
    }
}

/* Pushes what this pass's handlers sent to other workers (one chain per worker) and to other
 * nodes (one chain to the transport: a push, a count and a wake-up check per envelope, each
 * moving a line the I/O thread also writes, were most of a worker's time at the remote
 * benchmark's peak). */
static void s_flush_out(roost_worker_t *w)
{
    outbox_flush(&w->out, w->node);
    env_chain_t *c = &w->to_network;
    if (c->head) {
        roost_transport_t *t = w->node->transport;
        t->ops->send_chain(t, c->head, c->tail, c->count);
        *c = (env_chain_t){0};
    }
}

static roost_actor_t *s_activate(roost_worker_t *w, roost_env_t *env, uint64_t hash)
{
    const roost_behaviour_t *beh = node_kind_of(w->node, env->target, env->target_len);
    if (!beh) {
        node_bounce(w->node, env, ROOST_ENOKIND, w);
        return NULL;
    }
    size_t len = env->target_len;
    roost_actor_t *a = slab_alloc(&w->records, s_record_bytes(beh, len));
    memset(a, 0, sizeof *a);
    a->beh = beh;
    a->hash = hash;
    a->key_len = (uint16_t)len;
    memcpy(a->key, env->target, len + 1);
    a->last_active_ns = w->now_ns;
    void *inline_state = NULL;
    if (beh->state_bytes) {
        inline_state = (char *)a + s_state_offset(len);
        memset(inline_state, 0, beh->state_bytes);
        a->state = inline_state;
    }
    roost_ctx_t ctx;
    s_ctx_init(&ctx, w, a);
    int rc = beh->on_activate ? beh->on_activate(&ctx, &a->state) : 0;
    assert(!beh->state_bytes || a->state == inline_state); /* filled, not replaced */
    if (rc != 0) {
        slab_free(&w->records, a, s_record_bytes(beh, len));
        node_bounce(w->node, env, rc < 0 ? rc : ROOST_EUNAVAIL, w);
        return NULL;
    }
    actor_table_put(&w->table, a);
    s_count(&w->stats.activations, 1);
    s_gauge(&w->stats.active, 1);
    return a;
}

static void s_make_ready(roost_worker_t *w, roost_actor_t *a)
{
    if (!(a->flags & ACTOR_READY))
        readyq_push(&w->ready, a);
}

static void s_mailbox_append(roost_worker_t *w, roost_actor_t *a, roost_env_t *env)
{
    env->next = NULL;
    if (a->mb_tail)
        a->mb_tail->next = env;
    else
        a->mb_head = env;
    a->mb_tail = env;
    s_make_ready(w, a);
}

void worker_prepend(roost_worker_t *w, roost_actor_t *a, roost_env_t *head)
{
    if (!head)
        return;
    roost_env_t *last = head;
    while (last->next)
        last = last->next;
    last->next = a->mb_head;
    if (!a->mb_head)
        a->mb_tail = last;
    a->mb_head = head;
    s_make_ready(w, a);
}

/* A response is delivered only to the live actor that is still waiting for it. */
static bool s_accept_response(roost_worker_t *w, roost_actor_t *a, roost_env_t *env)
{
    rtimer_t *t = u64map_take(&w->pending, env->corr);
    if (!t || t->owner != a) {
        if (t)
            u64map_put(&w->pending, env->corr, t);
        return false;
    }
    ctx_timer_unlink(a, t);
    timers_cancel(&w->timers, t);
    s_gauge(&w->stats.timers_pending, -1);
    return true;
}

static void s_deliver(roost_worker_t *w, roost_env_t *env, uint64_t hash)
{
    if (w->closing) { /* sent by an actor passivating at shutdown */
        roost_env_free_to(&w->pool, env);
        s_count_drop(w);
        return;
    }
    roost_actor_t *a = actor_table_get(&w->table, env->target, env->target_len, hash);
    bool is_response = env->flags & ROOST_ENV_RESPONSE;
    if (is_response && env->corr && (!a || !s_accept_response(w, a, env))) {
        roost_env_free_to(&w->pool, env); /* late, duplicate or for a passivated actor */
        s_count_drop(w);
        return;
    }
    if (!a && !(a = s_activate(w, env, hash)))
        return;
    s_mailbox_append(w, a, env);
}

/* Delivers a batch, the table slots of all its targets prefetched first. */
static void s_deliver_batch(roost_worker_t *w, roost_env_t **batch, size_t n)
{
    uint64_t hash[DELIVER_BATCH];
    for (size_t i = 0; i < n; i++) {
        hash[i] = actor_table_hash(batch[i]->key_hash);
        actor_table_prefetch(&w->table, hash[i]);
    }
    for (size_t i = 0; i < n; i++) /* the slots are arriving: start on the records they name */
        actor_table_prefetch_actor(&w->table, hash[i]);
    for (size_t i = 0; i < n; i++)
        s_deliver(w, batch[i], hash[i]);
}

void worker_deliver(roost_worker_t *w, roost_env_t *env)
{
    /* The target's slot loads while the handler goes on: a lone send (a leaf's result) has no
     * batch to overlap its lookup with. */
    actor_table_prefetch(&w->table, actor_table_hash(env->key_hash));
    env->next = NULL;
    if (w->local_tail)
        w->local_tail->next = env;
    else
        w->local_head = env;
    w->local_tail = env;
}

/* Delivers the local queue, including what the activations it causes send meanwhile (what went
 * to other workers is the pass's to push: s_flush_out). */
static void s_flush_local(roost_worker_t *w)
{
    while (w->local_head) {
        if (w->local_head == w->local_tail) { /* one: nothing to overlap (ping-pong, replies) */
            roost_env_t *env = w->local_head;
            w->local_head = w->local_tail = NULL;
            s_deliver(w, env, actor_table_hash(env->key_hash));
            continue;
        }
        roost_env_t *batch[DELIVER_BATCH];
        size_t n = 0;
        while (n < DELIVER_BATCH && w->local_head) {
            batch[n++] = w->local_head;
            w->local_head = w->local_head->next;
        }
        if (!w->local_head)
            w->local_tail = NULL;
        s_deliver_batch(w, batch, n);
    }
}

/* Moves inbound envelopes into mailboxes: ROOST_WORKER_PASS_INBOUND_MAX of them, or only
 * ROOST_WORKER_PASS_INBOUND_BUSY_MAX when a pass's worth of actors is ready already. */
static uint32_t s_drain_inbound(roost_worker_t *w)
{
    uint32_t n = 0, max = readyq_count(&w->ready) >= ROOST_WORKER_PASS_ACTORS_MAX
                              ? ROOST_WORKER_PASS_INBOUND_BUSY_MAX
                              : ROOST_WORKER_PASS_INBOUND_MAX;
    mpsc_node_t *q = NULL;
    do {
        roost_env_t *batch[DELIVER_BATCH];
        size_t k = 0;
        while (k < DELIVER_BATCH && n + k < max && (q = mpsc_pop(&w->inbound)) != NULL) {
            batch[k] = roost_env_from_qnode(q);
            s_prefetch_env(batch[k++]->next); /* a later envelope of its chain, or NULL */
        }
        s_deliver_batch(w, batch, k);
        n += (uint32_t)k;
    } while (q && n < max);
    s_flush_local(w); /* bounces of failed activations */
    atomic_fetch_sub_explicit(&w->queued, n, memory_order_relaxed);
    return n;
}

/* One actor's turn: at most ROOST_ACTOR_TURN_MSGS_MAX messages. */
static void s_turn(roost_worker_t *w, roost_actor_t *a, uint64_t now_ns)
{
    __builtin_prefetch(a->mb_head); /* both usually cold: let their misses overlap */
    __builtin_prefetch(a->state);
    roost_ctx_t ctx;
    s_ctx_init(&ctx, w, a);
    uint32_t handled = 0;
    while (a->mb_head && handled < ROOST_ACTOR_TURN_MSGS_MAX) {
        roost_env_t *env = a->mb_head;
        a->mb_head = env->next;
        if (!a->mb_head)
            a->mb_tail = NULL;
        ctx.env = env;
        ctx.env_taken = false;
        a->beh->on_message(&ctx, a->state, env);
        s_flush_local(w);
        if (!ctx.env_taken)
            roost_env_free_to(&w->pool, env);
        handled++;
    }
    s_count(&w->stats.messages, handled);
    a->last_active_ns = now_ns;
    if (a->flags & ACTOR_READY)
        return; /* it sent itself a message: already on the ready stack */
    if (a->mb_head)
        readyq_requeue(&w->ready, a); /* its turn is used up: behind the others */
    else if (a->flags & ACTOR_PASSIVATE)
        s_passivate(w, a);
}

/* Whether the pass that started at now_ns has used its time budget (checked every 16 turns: a
 * clock read costs more than a short turn). */
static bool s_out_of_time(const roost_worker_t *w, uint32_t turns, uint64_t now_ns)
{
    return w->pass_budget_ns && (turns & 15) == 15 &&
           roost_clock_now_ns(w->node->clock) - now_ns >= w->pass_budget_ns;
}

static uint32_t s_run_ready(roost_worker_t *w, uint64_t now_ns)
{
    uint32_t turns = 0;
    roost_actor_t *a;
    while (turns < ROOST_WORKER_PASS_ACTORS_MAX && !s_out_of_time(w, turns, now_ns) &&
           (a = readyq_pop(&w->ready)) != NULL) {
        s_turn(w, a, now_ns);
        if (++turns % OUT_FLUSH_TURNS == 0)
            s_flush_out(w);
    }
    return turns;
}

/* A request's deadline passed: the actor gets an error response in place of the answer. */
static void s_request_timed_out(roost_worker_t *w, rtimer_t *t)
{
    roost_actor_t *a = t->owner;
    u64map_take(&w->pending, t->tag);
    roost_env_t *env = roost_env_new_in(&w->pool, a->key, "", ROOST_MSG_ERROR, NULL, 0);
    env->flags = ROOST_ENV_RESPONSE | ROOST_ENV_ERROR;
    env->status = ROOST_ETIMEDOUT;
    env->corr = t->tag;
    ctx_timer_unlink(a, t);
    timers_release(&w->timers, t);
    s_gauge(&w->stats.timers_pending, -1);
    s_mailbox_append(w, a, env);
}

static void s_fire_actor_timer(roost_worker_t *w, rtimer_t *t, uint64_t now_ns)
{
    roost_actor_t *a = t->owner;
    roost_ctx_t ctx;
    s_ctx_init(&ctx, w, a);
    a->beh->on_timer(&ctx, a->state, t->id, t->tag);
    s_flush_local(w);
    a->last_active_ns = now_ns;
    if (t->period_ns && !t->cancelled) {
        timers_rearm(&w->timers, t, timers_next_period(t->deadline_ns, t->period_ns, now_ns));
    } else {
        ctx_timer_unlink(a, t);
        timers_release(&w->timers, t);
        s_gauge(&w->stats.timers_pending, -1);
    }
    if ((a->flags & ACTOR_PASSIVATE) && !a->mb_head && !(a->flags & ACTOR_READY))
        s_passivate(w, a);
}

static uint32_t s_fire_timers(roost_worker_t *w, uint64_t now_ns)
{
    uint32_t n = 0;
    rtimer_t *t;
    while (n < ROOST_WORKER_PASS_TIMERS_MAX && (t = timers_pop_due(&w->timers, now_ns))) {
        if (t->kind == TIMER_REQUEST)
            s_request_timed_out(w, t);
        else
            s_fire_actor_timer(w, t, now_ns);
        s_count(&w->stats.timers_fired, 1);
        n++;
    }
    return n;
}

/* The idle time first: an actor seldom is idle long enough, so most checks read that one
 * field (the one s_scan_idle prefetches) and never reach the flags further on in the record. */
static bool s_is_idle(const roost_actor_t *a, uint64_t now_ns, uint64_t after_ns)
{
    return now_ns - a->last_active_ns >= after_ns && !a->mb_head && !a->timers &&
           !(a->flags & ACTOR_READY);
}

/* A slice of the idle sweep. Each used slot is an actor record to read, a cache miss over a
 * table of millions (the store benchmark's probe makes an actor per key): the records
 * SCAN_PREFETCH_AHEAD slots on are fetched while this one is checked, and the cursor wraps by
 * the capacity's mask (a power of two), not a division per slot. Session 23: the sweep was
 * 1.5% of all CPU after 4 minutes of the store benchmark (~1.8M actors a node), the division
 * and the record's miss most of it. */
static void s_scan_idle(roost_worker_t *w, uint64_t now_ns)
{
    if (now_ns < w->next_scan_ns)
        return;
    size_t mask = actor_table_capacity(&w->table) - 1;
    for (uint32_t k = 0; k < ROOST_WORKER_PASS_SCAN_SLOTS; k++) {
        size_t i = w->scan_cursor & mask;
        roost_actor_t *ahead = actor_table_slot(&w->table, (i + SCAN_PREFETCH_AHEAD) & mask);
        if (ahead)
            __builtin_prefetch(&ahead->last_active_ns);
        roost_actor_t *a = actor_table_slot(&w->table, i);
        if (a && s_is_idle(a, now_ns, w->node->passivate_after_ns)) {
            s_passivate(w, a); /* backward shift may refill slot i: look at it again */
            continue;
        }
        if ((++w->scan_cursor & mask) == 0) {
            w->next_scan_ns = now_ns + s_sweep_gap_ns(w); /* a full sweep done: rest a while */
            return;
        }
    }
    w->next_scan_ns = now_ns + SCAN_STEP_GAP_NS;
}

bool worker_has_work(roost_worker_t *w, uint64_t now_ns)
{
    return !readyq_is_empty(&w->ready) || w->local_head || !mpsc_is_empty(&w->inbound) ||
           timers_next_deadline(&w->timers) <= now_ns;
}

bool worker_pass(roost_worker_t *w, uint64_t now_ns)
{
    w->now_ns = now_ns;
    s_drain_inbound(w);
    s_run_ready(w, now_ns);
    s_flush_out(w);
    /* The clock again: a zero-delay timer a turn just started (the store's group commit)
     * fires in this pass, not after the next pass's turns. */
    uint64_t timers_ns = roost_clock_now_ns(w->node->clock);
    s_fire_timers(w, timers_ns);
    s_scan_idle(w, now_ns);
    s_flush_local(w);
    s_flush_out(w);
    return worker_has_work(w, timers_ns);
}

/* How long the worker may sleep: until the next timer or idle-scan step (UINT64_MAX: no
 * deadline). */
static uint64_t s_sleep_ns(const roost_worker_t *w, uint64_t now_ns)
{
    uint64_t until = timers_next_deadline(&w->timers);
    if (w->table.count && w->next_scan_ns < until)
        until = w->next_scan_ns > now_ns ? w->next_scan_ns : now_ns + SCAN_STEP_GAP_NS;
    if (until == UINT64_MAX)
        return UINT64_MAX;
    return until <= now_ns ? 0 : until - now_ns;
}

/* Sleeps until a producer wakes us or the next timer/scan is due: in ppoll (timers keep their
 * sub-millisecond precision), or — on the worker that runs the transport's I/O — in the
 * transport's wait, which also wakes for the network (millisecond precision). */
static void s_sleep(roost_worker_t *w, uint64_t now_ns, roost_transport_t *io)
{
    uint64_t wait = s_sleep_ns(w, now_ns);
    struct timespec ts = {.tv_sec = (time_t)(wait / 1000000000u),
                          .tv_nsec = (long)(wait % 1000000000u)};
    atomic_store_explicit(&w->sleeping, 1, memory_order_seq_cst);
    bool woken = io != NULL; /* the transport's wait does not say which fd woke it */
    if (mpsc_is_empty(&w->inbound) && !atomic_load(&w->node->stopping)) {
        if (io) {
            io->ops->wait(io, w->wake_fd, wait);
        } else {
            struct pollfd pfd = {.fd = w->wake_fd, .events = POLLIN};
            ppoll(&pfd, 1, wait == UINT64_MAX ? NULL : &ts, NULL);
            woken = pfd.revents & POLLIN;
        }
    }
    atomic_store_explicit(&w->sleeping, 0, memory_order_seq_cst);
    if (woken) { /* a timer's wake-up reads nothing; a write since is read after the next */
        uint64_t drained;
        ssize_t n = read(w->wake_fd, &drained, sizeof drained);
        (void)n;
    }
}

/* The worker's loop. Worker 0 of a node whose transport runs on it (roost_node_set_io) also
 * gives the transport a pass after each of its own: messages from the network reach its actors,
 * and theirs the network, without a hand-off to another thread. */
void *worker_thread_main(void *arg)
{
    roost_worker_t *w = arg;
    char name[16]; /* what top -H and perf show */
    snprintf(name, sizeof name, "roost-w%u", w->index);
    pthread_setname_np(pthread_self(), name);
    if (!roost_log_has_node()) { /* several nodes in one process: say which one logs */
        snprintf(w->log_tag, sizeof w->log_tag, "n%u", w->node->id);
        roost_log_tag(w->log_tag);
    }
    roost_clock_t *clock = w->node->clock;
    uint64_t idle_since = 0;
    roost_transport_t *io = w->index == 0 && w->node->io_on_worker ? w->node->transport : NULL;
    w->pass_budget_ns = io ? ROOST_IO_WORKER_PASS_NS : 0;
    while (!atomic_load_explicit(&w->node->stopping, memory_order_acquire)) {
        uint64_t now = roost_clock_now_ns(clock);
        bool busy = worker_pass(w, now);
        if (io && io->ops->serve(io))
            busy = true;
        if (busy) {
            idle_since = 0;
        } else if (idle_since == 0) {
            idle_since = now;
        } else if (now - idle_since >= w->node->idle_spin_ns) {
            s_sleep(w, now, io);
            idle_since = 0;
        }
    }
    return NULL;
}
