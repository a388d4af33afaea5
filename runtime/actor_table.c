/* runtime/actor_table.c — see actor_table.h. */
#include "runtime/actor_table.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime/util.h"

enum {
    ACTOR_TABLE_INITIAL_SLOTS = 64,
    ACTOR_TABLE_MAP_BYTES_MIN = 256 * 1024,       /* from 16k slots: a mapping of its own */
    ACTOR_TABLE_MAP_ALIGN_BYTES = 2 * 1024 * 1024 /* a transparent huge page */
};

/* A small array is zeroed by writing, not calloc: calloc leaves a large array's pages mapped to
 * the shared zero page, so the first probe of each page maps it read-only and the first insertion
 * there takes a copy-on-write fault whose TLB shootdown interrupts the other workers' cores (a
 * tenth of skynet's time went to those). A large one (s_is_mapped) is its own mapping, aligned
 * for transparent huge pages and populated writable in one call: a 4 MiB table was a thousand
 * page faults, each an exception that costs microseconds in this VM, and its random probes miss
 * the TLB less on 2 MiB pages. Either way every page is private and written before first use. */
static bool s_is_mapped(size_t count)
{
    return count * sizeof(actor_slot_t) >= ACTOR_TABLE_MAP_BYTES_MIN;
}

static actor_slot_t *s_slots_new(size_t count)
{
    if (s_is_mapped(count))
        return roost_xmap_aligned(count * sizeof(actor_slot_t), ACTOR_TABLE_MAP_ALIGN_BYTES, true);
    actor_slot_t *slots = roost_xmalloc(count * sizeof *slots);
    memset(slots, 0, count * sizeof *slots);
    return slots;
}

static void s_slots_free(actor_slot_t *slots, size_t count)
{
    if (s_is_mapped(count))
        munmap(slots, count * sizeof *slots);
    else
        free(slots);
}

void actor_table_init(actor_table_t *self)
{
    self->slots = s_slots_new(ACTOR_TABLE_INITIAL_SLOTS);
    self->mask = ACTOR_TABLE_INITIAL_SLOTS - 1;
    self->count = 0;
}

void actor_table_fini(actor_table_t *self)
{
    s_slots_free(self->slots, self->mask + 1);
    self->slots = NULL;
}

roost_actor_t *actor_table_get(const actor_table_t *self, const char *key, size_t len,
                               uint64_t hash)
{
    for (size_t i = hash & self->mask; self->slots[i].actor; i = (i + 1) & self->mask) {
        if (self->slots[i].hash != hash)
            continue;
        roost_actor_t *a = self->slots[i].actor;
        if (a->key_len == len && memcmp(a->key, key, len) == 0)
            return a;
    }
    return NULL;
}

static void s_insert(actor_table_t *self, roost_actor_t *actor, uint64_t hash)
{
    size_t i = hash & self->mask;
    while (self->slots[i].actor)
        i = (i + 1) & self->mask;
    self->slots[i].actor = actor;
    self->slots[i].hash = hash;
    self->count++;
}

void actor_table_put(actor_table_t *self, roost_actor_t *actor)
{
    if ((self->count + 1) * 2 > self->mask + 1) {
        actor_slot_t *old = self->slots;
        size_t old_cap = self->mask + 1;
        self->slots = s_slots_new(old_cap * 2);
        self->mask = old_cap * 2 - 1;
        self->count = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i].actor)
                s_insert(self, old[i].actor, old[i].hash);
        s_slots_free(old, old_cap);
    }
    s_insert(self, actor, actor->hash);
}

void actor_table_remove(actor_table_t *self, roost_actor_t *actor)
{
    size_t i = actor->hash & self->mask;
    while (self->slots[i].actor != actor) {
        assert(self->slots[i].actor != NULL);
        i = (i + 1) & self->mask;
    }
    size_t hole = i;
    for (size_t j = (i + 1) & self->mask; self->slots[j].actor; j = (j + 1) & self->mask) {
        size_t home = self->slots[j].hash & self->mask;
        bool movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            self->slots[hole] = self->slots[j];
            hole = j;
        }
    }
    self->slots[hole].actor = NULL;
    self->slots[hole].hash = 0;
    self->count--;
}
