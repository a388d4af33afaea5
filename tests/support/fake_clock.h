/* tests/support/fake_clock.h — a settable clock for deterministic tests. */
#ifndef ROOST_TEST_FAKE_CLOCK_H
#define ROOST_TEST_FAKE_CLOCK_H

#include <stdint.h>

#include "runtime/clock.h"

typedef struct {
    roost_clock_t base;
    uint64_t now_ns;
    uint64_t tick_ns; /* added after every read (0: still): time passing while code runs */
} fake_clock_t;

static inline uint64_t fake_clock_now(roost_clock_t *c)
{
    fake_clock_t *f = (fake_clock_t *)c;
    uint64_t now = f->now_ns;
    f->now_ns += f->tick_ns;
    return now;
}
static inline uint64_t fake_clock_wall(roost_clock_t *c)
{
    return ((fake_clock_t *)c)->now_ns / 1000000u;
}
static inline void fake_clock_init(fake_clock_t *c, uint64_t start_ns)
{
    c->base.now_ns = fake_clock_now;
    c->base.wall_ms = fake_clock_wall;
    c->now_ns = start_ns;
    c->tick_ns = 0;
}
static inline void fake_clock_advance_ms(fake_clock_t *c, uint64_t ms)
{
    c->now_ns += ms * 1000000u;
}

#endif
