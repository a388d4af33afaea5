/* runtime/clock.h — the seam through which every component reads time.
 *
 * Nothing outside clock.c calls clock_gettime for logic: the scheduler, timers, membership and
 * (later) replication take a roost_clock_t so that sim/ can hand them a simulated clock.
 * `now_ns` is monotonic (never goes back); `wall_ms` is Unix wall time for values that are
 * stored or shown (timestamps in messages), never for ordering.
 */
#ifndef ROOST_CLOCK_H
#define ROOST_CLOCK_H

#include <stdint.h>

typedef struct roost_clock roost_clock_t;
struct roost_clock {
    uint64_t (*now_ns)(roost_clock_t *self);
    uint64_t (*wall_ms)(roost_clock_t *self);
};

/* The process's real clock (CLOCK_MONOTONIC / CLOCK_REALTIME). Static, thread-safe, never NULL. */
roost_clock_t *roost_clock_real(void);

static inline uint64_t roost_clock_now_ns(roost_clock_t *c)
{
    return c->now_ns(c);
}
static inline uint64_t roost_clock_now_ms(roost_clock_t *c)
{
    return c->now_ns(c) / 1000000u;
}
static inline uint64_t roost_clock_wall_ms(roost_clock_t *c)
{
    return c->wall_ms(c);
}

#endif
