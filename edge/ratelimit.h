/* edge/ratelimit.h — per-key request limits kept by one edge (the per-IP OTP limit of
 * PROTOCOL.md: 100 an hour by default), in bounded memory.
 *
 * A sliding window estimated from two fixed windows (the previous window's count weighted by
 * how much of it still overlaps, plus the current count): no timestamps per request, one slot
 * per key. The table has a fixed number of slots; when a key's probe range is full, the slot
 * whose window is oldest is reused (a forgotten key can only be allowed more, never less, so
 * memory pressure never locks anyone out). One thread (the edge's loop); no locks.
 */
#ifndef ROOST_EDGE_RATELIMIT_H
#define ROOST_EDGE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ratelimit ratelimit_t;

/* limit requests per window_ms for each key; slots: keys tracked at once (rounded up to a
 * power of two). */
ratelimit_t *ratelimit_new(uint32_t limit, uint64_t window_ms, uint32_t slots);
void ratelimit_destroy(ratelimit_t **rl_p);
/* Counts a request by key at now_ms; false if it is over the limit (then it is not counted). */
bool ratelimit_take(ratelimit_t *rl, const void *key, size_t len, uint64_t now_ms);

#endif
