/* runtime/timers.c — binary min-heap of timer records; see timers.h for the invariant. */
#include "runtime/timers.h"

#include <assert.h>
#include <stdlib.h>

#include "runtime/util.h"

enum { TIMERS_INITIAL_CAP = 64 };

void timers_init(timers_t *self, uint64_t id_base)
{
    self->heap = roost_xmalloc(TIMERS_INITIAL_CAP * sizeof *self->heap);
    self->cap = TIMERS_INITIAL_CAP;
    self->len = 0;
    self->next_id = id_base;
    u64map_init(&self->by_id);
}

void timers_fini(timers_t *self)
{
    for (size_t i = 0; i < self->len; i++)
        free(self->heap[i]);
    free(self->heap);
    self->heap = NULL;
    self->len = self->cap = 0;
    u64map_fini(&self->by_id);
}

static inline void s_place(timers_t *self, size_t i, rtimer_t *t)
{
    self->heap[i] = t;
    t->heap_idx = (uint32_t)i;
}

static void s_sift_up(timers_t *self, size_t i)
{
    rtimer_t *t = self->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (self->heap[parent]->deadline_ns <= t->deadline_ns)
            break;
        s_place(self, i, self->heap[parent]);
        i = parent;
    }
    s_place(self, i, t);
}

static void s_sift_down(timers_t *self, size_t i)
{
    rtimer_t *t = self->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= self->len)
            break;
        if (child + 1 < self->len &&
            self->heap[child + 1]->deadline_ns < self->heap[child]->deadline_ns)
            child++;
        if (t->deadline_ns <= self->heap[child]->deadline_ns)
            break;
        s_place(self, i, self->heap[child]);
        i = child;
    }
    s_place(self, i, t);
}

static void s_push(timers_t *self, rtimer_t *t)
{
    if (self->len == self->cap) {
        self->cap *= 2;
        self->heap = roost_xrealloc(self->heap, self->cap * sizeof *self->heap);
    }
    self->heap[self->len] = t;
    t->heap_idx = (uint32_t)self->len;
    t->in_heap = true;
    self->len++;
    s_sift_up(self, self->len - 1);
}

/* Removes heap[i] from the heap (not from the id map). */
static void s_remove_at(timers_t *self, size_t i)
{
    assert(i < self->len);
    self->len--;
    if (i == self->len)
        return;
    s_place(self, i, self->heap[self->len]);
    if (i > 0 && self->heap[(i - 1) / 2]->deadline_ns > self->heap[i]->deadline_ns)
        s_sift_up(self, i);
    else
        s_sift_down(self, i);
}

rtimer_t *timers_add(timers_t *self, uint64_t deadline_ns, uint64_t period_ns, void *owner,
                     uint8_t kind, uint64_t tag)
{
    rtimer_t *t = roost_xcalloc(1, sizeof *t);
    t->deadline_ns = deadline_ns;
    t->period_ns = period_ns;
    t->id = ++self->next_id;
    t->owner = owner;
    t->kind = kind;
    t->tag = tag;
    u64map_put(&self->by_id, t->id, t);
    s_push(self, t);
    return t;
}

rtimer_t *timers_find(const timers_t *self, uint64_t id)
{
    return id ? u64map_get(&self->by_id, id) : NULL;
}

void timers_cancel(timers_t *self, rtimer_t *t)
{
    if (!t->in_heap) {
        t->cancelled = true;
        return;
    }
    assert(self->heap[t->heap_idx] == t);
    s_remove_at(self, t->heap_idx);
    u64map_take(&self->by_id, t->id);
    free(t);
}

rtimer_t *timers_pop_due(timers_t *self, uint64_t now_ns)
{
    if (self->len == 0 || self->heap[0]->deadline_ns > now_ns)
        return NULL;
    rtimer_t *t = self->heap[0];
    s_remove_at(self, 0);
    t->in_heap = false;
    return t; /* still in by_id until released, so a cancel by id during its callback works */
}

void timers_rearm(timers_t *self, rtimer_t *t, uint64_t deadline_ns)
{
    assert(!t->in_heap && !t->cancelled);
    t->deadline_ns = deadline_ns;
    s_push(self, t);
}

void timers_release(timers_t *self, rtimer_t *t)
{
    u64map_take(&self->by_id, t->id);
    free(t);
}

uint64_t timers_next_deadline(const timers_t *self)
{
    return self->len ? self->heap[0]->deadline_ns : UINT64_MAX;
}

uint64_t timers_next_period(uint64_t deadline_ns, uint64_t period_ns, uint64_t now_ns)
{
    assert(period_ns > 0);
    if (now_ns < deadline_ns + period_ns)
        return deadline_ns + period_ns;
    return deadline_ns + ((now_ns - deadline_ns) / period_ns + 1) * period_ns;
}
