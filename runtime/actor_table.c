/* runtime/actor_table.c — see actor_table.h. */
#include "runtime/actor_table.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/util.h"

enum { ACTOR_TABLE_INITIAL_SLOTS = 64 };

void actor_table_init(actor_table_t *self)
{
    self->slots = roost_xcalloc(ACTOR_TABLE_INITIAL_SLOTS, sizeof *self->slots);
    self->tags = roost_xcalloc(ACTOR_TABLE_INITIAL_SLOTS, sizeof *self->tags);
    self->mask = ACTOR_TABLE_INITIAL_SLOTS - 1;
    self->count = 0;
}

void actor_table_fini(actor_table_t *self)
{
    free(self->slots);
    free(self->tags);
    self->slots = NULL;
    self->tags = NULL;
}

roost_actor_t *actor_table_get(const actor_table_t *self, const char *key, size_t len,
                               uint64_t hash)
{
    uint32_t tag = (uint32_t)hash;
    for (size_t i = hash & self->mask; self->slots[i]; i = (i + 1) & self->mask) {
        if (self->tags[i] != tag)
            continue;
        roost_actor_t *a = self->slots[i];
        if (a->hash == hash && a->key_len == len && memcmp(a->key, key, len) == 0)
            return a;
    }
    return NULL;
}

static void s_insert(actor_table_t *self, roost_actor_t *actor)
{
    size_t i = actor->hash & self->mask;
    while (self->slots[i])
        i = (i + 1) & self->mask;
    self->slots[i] = actor;
    self->tags[i] = (uint32_t)actor->hash;
    self->count++;
}

void actor_table_put(actor_table_t *self, roost_actor_t *actor)
{
    if ((self->count + 1) * 2 > self->mask + 1) {
        roost_actor_t **old = self->slots;
        size_t old_cap = self->mask + 1;
        free(self->tags);
        self->slots = roost_xcalloc(old_cap * 2, sizeof *self->slots);
        self->tags = roost_xcalloc(old_cap * 2, sizeof *self->tags);
        self->mask = old_cap * 2 - 1;
        self->count = 0;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i])
                s_insert(self, old[i]);
        free(old);
    }
    s_insert(self, actor);
}

void actor_table_remove(actor_table_t *self, roost_actor_t *actor)
{
    size_t i = actor->hash & self->mask;
    while (self->slots[i] != actor) {
        assert(self->slots[i] != NULL);
        i = (i + 1) & self->mask;
    }
    size_t hole = i;
    for (size_t j = (i + 1) & self->mask; self->slots[j]; j = (j + 1) & self->mask) {
        size_t home = self->tags[j] & self->mask;
        bool movable = (hole <= j) ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            self->slots[hole] = self->slots[j];
            self->tags[hole] = self->tags[j];
            hole = j;
        }
    }
    self->slots[hole] = NULL;
    self->tags[hole] = 0;
    self->count--;
}
