/* runtime/mpsc.h — intrusive multi-producer single-consumer queue (Vyukov).
 *
 * Producers on any thread push with one atomic exchange and never block or allocate; the one
 * consumer pops. A node is embedded in the queued object (the envelope's `qnext`). Between a
 * producer's exchange and its link store the queue is briefly "inconsistent": pop then returns
 * NULL although the queue is not empty; callers treat NULL as "look again later", and the
 * producer's wake-up that follows every push guarantees they do.
 */
#ifndef ROOST_MPSC_H
#define ROOST_MPSC_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct mpsc_node {
    _Atomic(struct mpsc_node *) next;
} mpsc_node_t;

/* A cache line's worth of bytes between the producers' end and the consumer's: every push writes
 * `head`, every pop reads `tail`; sharing a line would bounce it between cores on each. */
#define MPSC_PAD_BYTES 64

typedef struct {
    _Atomic(mpsc_node_t *) head; /* producers' end */
    char pad_[MPSC_PAD_BYTES];
    mpsc_node_t *tail; /* consumer's end */
    mpsc_node_t sentinel;
} mpsc_t;

static inline void mpsc_init(mpsc_t *q)
{
    atomic_store_explicit(&q->sentinel.next, NULL, memory_order_relaxed);
    atomic_store_explicit(&q->head, &q->sentinel, memory_order_relaxed);
    q->tail = &q->sentinel;
}

/* Thread-safe; never blocks, never allocates, can't fail. */
static inline void mpsc_push(mpsc_t *q, mpsc_node_t *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    mpsc_node_t *prev = atomic_exchange_explicit(&q->head, n, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, n, memory_order_release);
}

/* Thread-safe: pushes the chain first → … → last, already linked through their `next` (by this
 * thread, relaxed stores are enough), with one exchange: consumers see it whole and in order. */
static inline void mpsc_push_chain(mpsc_t *q, mpsc_node_t *first, mpsc_node_t *last)
{
    atomic_store_explicit(&last->next, NULL, memory_order_relaxed);
    mpsc_node_t *prev = atomic_exchange_explicit(&q->head, last, memory_order_acq_rel);
    atomic_store_explicit(&prev->next, first, memory_order_release);
}

/* Consumer only. NULL when empty (or momentarily inconsistent, see above). */
static inline mpsc_node_t *mpsc_pop(mpsc_t *q)
{
    mpsc_node_t *tail = q->tail;
    mpsc_node_t *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &q->sentinel) {
        if (!next)
            return NULL;
        q->tail = next;
        tail = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next) {
        q->tail = next;
        return tail;
    }
    if (tail != atomic_load_explicit(&q->head, memory_order_acquire))
        return NULL; /* a producer is mid-push */
    mpsc_push(q, &q->sentinel);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next) {
        q->tail = next;
        return tail;
    }
    return NULL;
}

/* Consumer only: true if nothing is queued (conservative: may say false while a push lands). */
static inline int mpsc_is_empty(mpsc_t *q)
{
    return q->tail == &q->sentinel &&
           atomic_load_explicit(&q->sentinel.next, memory_order_acquire) == NULL &&
           atomic_load_explicit(&q->head, memory_order_acquire) == &q->sentinel;
}

#endif
