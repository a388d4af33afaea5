/* runtime/u64map.c — see u64map.h. */
#include "runtime/u64map.h"

#include <assert.h>
#include <stdlib.h>

#include "runtime/util.h"

enum { U64MAP_INITIAL_SLOTS = 16 };

static inline size_t s_slot(uint64_t key, size_t mask)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdu;
    key ^= key >> 33;
    return (size_t)key & mask;
}

void u64map_init(u64map_t *self)
{
    self->slots = roost_xcalloc(U64MAP_INITIAL_SLOTS, sizeof *self->slots);
    self->mask = U64MAP_INITIAL_SLOTS - 1;
    self->count = 0;
}

void u64map_fini(u64map_t *self)
{
    free(self->slots);
    self->slots = NULL;
    self->count = 0;
}

static void s_grow(u64map_t *self)
{
    u64map_slot_t *old = self->slots;
    size_t old_cap = self->mask + 1;
    self->mask = old_cap * 2 - 1;
    self->slots = roost_xcalloc(old_cap * 2, sizeof *self->slots);
    self->count = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key)
            u64map_put(self, old[i].key, old[i].value);
    free(old);
}

void u64map_put(u64map_t *self, uint64_t key, void *value)
{
    assert(key != 0);
    if ((self->count + 1) * 2 > self->mask + 1)
        s_grow(self);
    size_t i = s_slot(key, self->mask);
    while (self->slots[i].key && self->slots[i].key != key)
        i = (i + 1) & self->mask;
    if (!self->slots[i].key)
        self->count++;
    self->slots[i].key = key;
    self->slots[i].value = value;
}

void *u64map_get(const u64map_t *self, uint64_t key)
{
    size_t i = s_slot(key, self->mask);
    while (self->slots[i].key) {
        if (self->slots[i].key == key)
            return self->slots[i].value;
        i = (i + 1) & self->mask;
    }
    return NULL;
}

void *u64map_take(u64map_t *self, uint64_t key)
{
    size_t i = s_slot(key, self->mask);
    while (self->slots[i].key && self->slots[i].key != key)
        i = (i + 1) & self->mask;
    if (!self->slots[i].key)
        return NULL;
    void *value = self->slots[i].value;
    /* Backward-shift: pull later members of the probe run into the hole. */
    size_t hole = i;
    for (size_t j = (i + 1) & self->mask; self->slots[j].key; j = (j + 1) & self->mask) {
        size_t home = s_slot(self->slots[j].key, self->mask);
        bool movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            self->slots[hole] = self->slots[j];
            hole = j;
        }
    }
    self->slots[hole].key = 0;
    self->slots[hole].value = NULL;
    self->count--;
    return value;
}
