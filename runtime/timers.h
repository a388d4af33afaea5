/* runtime/timers.h — one worker's pending timers: a binary min-heap by deadline plus an id map.
 *
 * Add, cancel and pop are O(log n); the next deadline is O(1). Each timer is one small record
 * owned by the heap from add until it is popped (then the caller frees or re-arms it) or
 * cancelled (freed here). Ids are unique per heap (a per-worker base in the top byte keeps
 * them unique per node). Not thread-safe: one worker owns its heap.
 *
 * Invariant: heap[i]->heap_idx == i and heap[parent(i)]->deadline_ns <= heap[i]->deadline_ns.
 */
#ifndef ROOST_TIMERS_H
#define ROOST_TIMERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/u64map.h"

typedef struct rtimer rtimer_t;
struct rtimer {
    uint64_t deadline_ns;
    uint64_t period_ns; /* 0 = one-shot */
    uint64_t id;
    uint64_t tag; /* the owner's meaning (a behaviour's tag, a request's corr) */
    void *owner;  /* the actor it belongs to */
    rtimer_t *owner_prev, *owner_next; /* the owner's list of timers, kept by the worker */
    uint32_t heap_idx;
    uint8_t kind;   /* the worker's meaning: actor timer, request timeout, … */
    bool in_heap;   /* false between timers_pop_due and timers_rearm/release */
    bool cancelled; /* cancelled while popped: the popper must release, not re-arm */
};

typedef struct {
    rtimer_t **heap;
    size_t len, cap;
    u64map_t by_id;
    uint64_t next_id;
} timers_t;

/* id_base: ids are id_base + 1, id_base + 2, … */
void timers_init(timers_t *self, uint64_t id_base);
/* Frees every pending record. */
void timers_fini(timers_t *self);
/* Adds a timer; the record is owned by the heap. Can't fail (out of memory aborts). */
rtimer_t *timers_add(timers_t *self, uint64_t deadline_ns, uint64_t period_ns, void *owner,
                     uint8_t kind, uint64_t tag);
rtimer_t *timers_find(const timers_t *self, uint64_t id);
/* Cancels a timer: a pending one is removed and freed; a popped one (its callback running) is
 * marked `cancelled` so the popper releases it instead of re-arming. */
void timers_cancel(timers_t *self, rtimer_t *t);
/* Pops the earliest timer if due at `now_ns`; the caller then owns it: free it with
 * timers_release or put it back with timers_rearm. NULL when nothing is due. */
rtimer_t *timers_pop_due(timers_t *self, uint64_t now_ns);
void timers_rearm(timers_t *self, rtimer_t *t, uint64_t deadline_ns);
/* A periodic timer's next deadline after the one at deadline_ns fired at now_ns: one period on,
 * or — when the worker was late by a period or more — the first tick of the same phase after
 * now (the missed ticks are skipped, not fired in a burst). Keeping the phase matters: timers
 * started at different offsets of one period (pacers spread over a millisecond) that re-armed at
 * now + period after one late pass all took the same phase and fired together from then on. */
uint64_t timers_next_period(uint64_t deadline_ns, uint64_t period_ns, uint64_t now_ns);
void timers_release(timers_t *self, rtimer_t *t);
/* UINT64_MAX when no timer is pending. */
uint64_t timers_next_deadline(const timers_t *self);
static inline size_t timers_count(const timers_t *self)
{
    return self->len;
}

#endif
