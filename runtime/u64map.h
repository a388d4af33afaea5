/* runtime/u64map.h — open-addressing hash map from a non-zero uint64 to a pointer.
 *
 * Linear probing with backward-shift deletion (no tombstones), so lookups stay short however
 * many inserts and deletes came before. Load factor kept ≤ 1/2. One owner thread; not
 * thread-safe. Key 0 is reserved as "empty".
 */
#ifndef ROOST_U64MAP_H
#define ROOST_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t key;
    void *value;
} u64map_slot_t;

typedef struct {
    u64map_slot_t *slots;
    size_t mask; /* capacity - 1; capacity a power of two */
    size_t count;
} u64map_t;

void u64map_init(u64map_t *self);
void u64map_fini(u64map_t *self);
/* Inserts or replaces; key != 0. Can't fail (grows; out of memory aborts). */
void u64map_put(u64map_t *self, uint64_t key, void *value);
void *u64map_get(const u64map_t *self, uint64_t key);
/* Removes and returns the value, NULL if absent. */
void *u64map_take(u64map_t *self, uint64_t key);

#endif
