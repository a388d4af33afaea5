/* runtime/readyq.c — see readyq.h. Invariants (s_invariants): the capacity is a power of two at
 * least READYQ_STACK_MIN and depth ≤ capacity; fifo_head is NULL exactly when fifo_tail is, and
 * exactly when fifo_len is 0. */
#include "runtime/readyq.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/limits.h"
#include "runtime/util.h"

enum {
    READYQ_STACK_MIN = 64,   /* entries: a worker's usual ready set, without a resize */
    READYQ_SHRINK_SHARE = 8, /* halve the ring when at most 1/8 of it is in use */
};

_Static_assert((READYQ_STACK_MIN & (READYQ_STACK_MIN - 1)) == 0, "a power of two");

static bool s_invariants(const readyq_t *self)
{
    size_t cap = self->mask + 1;
    return (cap & self->mask) == 0 && cap >= READYQ_STACK_MIN && self->depth <= cap &&
           (self->fifo_head == NULL) == (self->fifo_tail == NULL) &&
           (self->fifo_head == NULL) == (self->fifo_len == 0);
}

static readyq_entry_t *s_at(const readyq_t *self, size_t i)
{
    return &self->stack[(self->bottom + i) & self->mask];
}

/* Moves the stack into a ring of `cap` entries (≥ depth), bottom at index 0. */
static void s_resize(readyq_t *self, size_t cap)
{
    assert(cap >= self->depth && cap >= READYQ_STACK_MIN && (cap & (cap - 1)) == 0);
    readyq_entry_t *ring = roost_xmalloc(cap * sizeof *ring);
    for (size_t i = 0; i < self->depth; i++)
        ring[i] = *s_at(self, i);
    free(self->stack);
    self->stack = ring;
    self->mask = cap - 1;
    self->bottom = 0;
}

void readyq_init(readyq_t *self)
{
    memset(self, 0, sizeof *self);
    self->stack = roost_xmalloc(READYQ_STACK_MIN * sizeof *self->stack);
    self->mask = READYQ_STACK_MIN - 1;
}

void readyq_fini(readyq_t *self)
{
    free(self->stack);
    self->stack = NULL;
}

void readyq_clear(readyq_t *self)
{
    self->fifo_head = self->fifo_tail = NULL;
    self->bottom = self->depth = self->fifo_len = 0;
}

static void s_fifo_append(readyq_t *self, roost_actor_t *a);

void readyq_push(readyq_t *self, roost_actor_t *a)
{
    assert(!(a->flags & ACTOR_READY));
    if (a->stack_turns >= ROOST_READY_STACK_TURNS_MAX) { /* had its share of the top: queue */
        a->flags |= ACTOR_READY;
        s_fifo_append(self, a);
        return;
    }
    if (self->depth == self->mask + 1)
        s_resize(self, (self->mask + 1) * 2);
    a->flags |= ACTOR_READY;
    *s_at(self, self->depth++) = (readyq_entry_t){.actor = a, .turn = self->turn};
}

static void s_fifo_append(readyq_t *self, roost_actor_t *a)
{
    a->ready_next = NULL;
    if (self->fifo_tail)
        self->fifo_tail->ready_next = a;
    else
        self->fifo_head = a;
    self->fifo_tail = a;
    self->fifo_len++;
}

void readyq_requeue(readyq_t *self, roost_actor_t *a)
{
    assert(!(a->flags & ACTOR_READY));
    a->flags |= ACTOR_READY;
    s_fifo_append(self, a);
}

/* Stack entries that have waited their limit leave from the bottom (the oldest) to the FIFO. */
static void s_age(readyq_t *self)
{
    while (self->depth > 0 && self->turn - s_at(self, 0)->turn >= ROOST_READY_STACK_AGE_TURNS) {
        s_fifo_append(self, s_at(self, 0)->actor);
        self->bottom = (self->bottom + 1) & self->mask;
        self->depth--;
    }
}

static roost_actor_t *s_pop_fifo(readyq_t *self)
{
    roost_actor_t *a = self->fifo_head;
    self->fifo_head = a->ready_next;
    if (!self->fifo_head)
        self->fifo_tail = NULL;
    self->fifo_len--;
    a->stack_turns = 0;
    return a;
}

static roost_actor_t *s_pop_stack(readyq_t *self)
{
    roost_actor_t *a = s_at(self, --self->depth)->actor;
    a->stack_turns++;
    if (self->depth > 0) /* the likely next turn's record loads during this one */
        __builtin_prefetch(s_at(self, self->depth - 1)->actor);
    return a;
}

roost_actor_t *readyq_pop(readyq_t *self)
{
    assert(s_invariants(self));
    s_age(self);
    if (readyq_is_empty(self))
        return NULL;
    bool fifo_turn = self->turn++ % ROOST_READY_FIFO_EVERY == 0;
    roost_actor_t *a =
        self->fifo_head && (fifo_turn || self->depth == 0) ? s_pop_fifo(self) : s_pop_stack(self);
    assert(a->flags & ACTOR_READY);
    a->flags &= (uint8_t)~ACTOR_READY;
    size_t cap = self->mask + 1;
    if (cap > READYQ_STACK_MIN && self->depth * READYQ_SHRINK_SHARE <= cap)
        s_resize(self, cap / 2);
    return a;
}
