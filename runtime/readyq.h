/* runtime/readyq.h — a worker's ready actors, and which of them gets the next turn: newest first
 * for locality, with a bound on how long any of them waits.
 *
 * Two structures:
 *   - the stack (LIFO): actors made ready by a message (a local send, the inbound queue, an
 *     unstash, a request's timeout). The newest runs first, so a fan-out runs depth-first: the
 *     actors it activates run while their records, mailboxes and the sender's state are still in
 *     cache, and they finish (and passivate) before the next fan-out starts. A FIFO here made
 *     skynet activate breadth-first — over half a million actors with their envelopes alive at
 *     once, every access a cache miss (docs/benchmarks.md, session 8).
 *   - the FIFO (round robin): actors whose turn used its whole message budget, and stack entries
 *     that waited ROOST_READY_STACK_AGE_TURNS turns (they leave from the stack's bottom, oldest
 *     first, in the order they were readied).
 * An actor that took ROOST_READY_STACK_TURNS_MAX turns from the stack goes to the FIFO the next
 * time it is readied (its count restarts when the FIFO gives it a turn): two actors messaging each
 * other would otherwise hold the top forever, leaving everyone else only the FIFO's share.
 * Fairness: every ROOST_READY_FIFO_EVERY-th turn goes to the FIFO's head when the FIFO is not
 * empty (every turn when the stack is). So an actor readied at turn t is in the FIFO by turn
 * t + ROOST_READY_STACK_AGE_TURNS at the latest, and there, at position k, it runs within
 * (k + 1) · ROOST_READY_FIFO_EVERY turns: nothing readied later is served before it there, however
 * fast a fan-out keeps pushing new actors on the stack. Turns are counted, not passes: a worker
 * waiting on another worker's messages runs many short passes, and those must not age anyone.
 * Invariant: an actor is in at most one of the two, exactly when ACTOR_READY is set (this module
 * sets and clears it); the stack's stamps grow from bottom to top. One owner thread.
 * Memory: the stack is a ring of {actor, stamp} entries that doubles as needed and halves when
 * mostly empty (never below READYQ_STACK_MIN entries); the FIFO is intrusive (actor->ready_next).
 */
#ifndef ROOST_READYQ_H
#define ROOST_READYQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/actor_table.h"

typedef struct {
    roost_actor_t *actor;
    uint32_t turn; /* readyq_t.turn when it was pushed */
} readyq_entry_t;

typedef struct {
    roost_actor_t *fifo_head, *fifo_tail;
    readyq_entry_t *stack; /* ring: entries [bottom, bottom + depth) (mod capacity), oldest first */
    size_t mask;           /* capacity - 1 */
    size_t bottom, depth;
    size_t fifo_len;
    uint32_t turn; /* turns given so far, mod 2^32 */
} readyq_t;

void readyq_init(readyq_t *self);
/* Frees the stack's ring (the actors are the table's). */
void readyq_fini(readyq_t *self);
/* Forgets every entry (the caller clears their ACTOR_READY flags). */
void readyq_clear(readyq_t *self);

/* A not-ready actor that has just become ready: on top of the stack. Can't fail (grows). */
void readyq_push(readyq_t *self, roost_actor_t *a);
/* A not-ready actor whose turn used its whole budget and still has messages: to the FIFO. */
void readyq_requeue(readyq_t *self, roost_actor_t *a);
/* The actor to give the next turn to (its ACTOR_READY cleared), or NULL if none is ready. Counts
 * a turn; stack entries that have waited their limit move to the FIFO first. */
roost_actor_t *readyq_pop(readyq_t *self);

static inline bool readyq_is_empty(const readyq_t *self)
{
    return !self->fifo_head && self->depth == 0;
}

/* How many actors are ready (stack and FIFO). */
static inline size_t readyq_count(const readyq_t *self)
{
    return self->depth + self->fifo_len;
}

#endif
