/* edge/ratelimit.c — see ratelimit.h. */
#include "edge/ratelimit.h"

#include <stdlib.h>

#include "runtime/hash.h"
#include "runtime/util.h"

enum { PROBE = 8 };

typedef struct {
    uint64_t key;      /* hash of the key; 0: free */
    uint64_t start_ms; /* the current window's start */
    uint32_t cur, prev;
} slot_t;

struct ratelimit {
    uint32_t limit;
    uint64_t window_ms;
    size_t mask;
    slot_t *slots;
};

ratelimit_t *ratelimit_new(uint32_t limit, uint64_t window_ms, uint32_t slots)
{
    size_t n = 16;
    while (n < slots)
        n <<= 1;
    ratelimit_t *rl = roost_xcalloc(1, sizeof *rl);
    rl->limit = limit;
    rl->window_ms = window_ms ? window_ms : 1;
    rl->mask = n - 1;
    rl->slots = roost_xcalloc(n, sizeof *rl->slots);
    return rl;
}

void ratelimit_destroy(ratelimit_t **rl_p)
{
    if (!*rl_p)
        return;
    free((*rl_p)->slots);
    free(*rl_p);
    *rl_p = NULL;
}

/* The key's slot, or a free one, or the stalest of its probe range (reset). */
static slot_t *s_slot(ratelimit_t *rl, uint64_t h)
{
    slot_t *victim = NULL;
    for (size_t i = 0; i < PROBE; i++) {
        slot_t *s = &rl->slots[(h + i) & rl->mask];
        if (s->key == h)
            return s;
        bool better = !victim || (!s->key && victim->key) ||
                      (s->key && victim->key && s->start_ms < victim->start_ms);
        if (better)
            victim = s;
    }
    *victim = (slot_t){.key = h};
    return victim;
}

bool ratelimit_take(ratelimit_t *rl, const void *key, size_t len, uint64_t now_ms)
{
    uint64_t h = roost_hash64(key, len) | 1; /* never 0: 0 marks a free slot */
    slot_t *s = s_slot(rl, h);
    if (now_ms >= s->start_ms + 2 * rl->window_ms) { /* both windows are over */
        s->prev = 0;
        s->cur = 0;
        s->start_ms = now_ms - now_ms % rl->window_ms;
    } else if (now_ms >= s->start_ms + rl->window_ms) {
        s->prev = s->cur;
        s->cur = 0;
        s->start_ms += rl->window_ms;
    }
    double overlap = 1.0 - (double)(now_ms - s->start_ms) / (double)rl->window_ms;
    double estimate = (double)s->prev * overlap + (double)s->cur;
    if (estimate + 1.0 > (double)rl->limit)
        return false;
    s->cur++;
    return true;
}
