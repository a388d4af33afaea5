/* runtime/clock.c — the real clock behind clock.h. */
#include "runtime/clock.h"

#include <time.h>

static uint64_t s_now_ns(roost_clock_t *self)
{
    (void)self;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t s_wall_ms(roost_clock_t *self)
{
    (void)self;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static roost_clock_t s_real = {.now_ns = s_now_ns, .wall_ms = s_wall_ms};

roost_clock_t *roost_clock_real(void)
{
    return &s_real;
}
