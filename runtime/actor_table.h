/* runtime/actor_table.h — one worker's active actors, by key.
 *
 * The actor record (roost_actor_t) is the runtime's per-actor overhead: about 80 bytes plus the
 * key, and one 16-byte slot in this table (load ≤ 1/2). Open addressing with linear probing and
 * backward-shift deletion, keyed by actor_table_hash(roost_hash64(key)). Each slot holds the actor
 * pointer and its key's full hash side by side, so a probe, an insertion and a deletion's shifts
 * touch one cache line per slot and dereference only the actor whose hash matches: over a table of
 * megabytes each line is a cache miss, and they were a quarter of skynet's time (session 4 kept
 * the hashes in a second array: two misses per probe; session 8 put them in one). One owner
 * thread.
 */
#ifndef ROOST_ACTOR_TABLE_H
#define ROOST_ACTOR_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/actor.h"
#include "runtime/timers.h"

enum {
    ACTOR_READY = 1u << 0,     /* in the worker's ready queue */
    ACTOR_PASSIVATE = 1u << 1, /* roost_ctx_passivate was called */
};

typedef struct roost_actor roost_actor_t;
struct roost_actor {
    const roost_behaviour_t *beh;
    void *state;
    roost_env_t *mb_head, *mb_tail; /* mailbox: FIFO, intrusive through env->next */
    roost_actor_t *ready_next;
    rtimer_t *timers; /* pending timers and request timeouts; non-empty ⇒ not idle */
    uint64_t last_active_ns;
    uint64_t hash;
    uint16_t key_len;
    uint8_t flags;
    uint8_t stack_turns; /* turns taken from the ready stack since its last FIFO turn */
    char key[];          /* NUL-terminated */
};

typedef struct {
    roost_actor_t *actor; /* NULL: empty */
    uint64_t hash;        /* == actor->hash for a used slot: its home, without a dereference */
} actor_slot_t;

typedef struct {
    actor_slot_t *slots;
    size_t mask; /* capacity - 1 */
    size_t count;
} actor_table_t;

void actor_table_init(actor_table_t *self);
/* Frees the slot array only: the caller passivates or frees the actors first. */
void actor_table_fini(actor_table_t *self);
roost_actor_t *actor_table_get(const actor_table_t *self, const char *key, size_t len,
                               uint64_t hash);
/* The key must not be present. Can't fail (grows). */
void actor_table_put(actor_table_t *self, roost_actor_t *actor);
void actor_table_remove(actor_table_t *self, roost_actor_t *actor);
/* The table's hash of a key from its placement hash (computed once per hop, when the node routes
 * the envelope). The placement hash's low bits pick the partition, hence the worker: a worker's
 * keys all share them, so the table indexes by the upper half instead. */
static inline uint64_t actor_table_hash(uint64_t key_hash)
{
    return (key_hash >> 32) | (key_hash << 32);
}
/* Starts loading the slot a lookup of `hash` begins at (a hint: lookups of a batch overlap). */
static inline void actor_table_prefetch(const actor_table_t *self, uint64_t hash)
{
    __builtin_prefetch(&self->slots[hash & self->mask]);
}
/* After actor_table_prefetch: starts loading the actor whose slot is the lookup's first, if its
 * hash matches (the lookup then compares its key; a delivery appends to its mailbox). */
static inline void actor_table_prefetch_actor(const actor_table_t *self, uint64_t hash)
{
    const actor_slot_t *slot = &self->slots[hash & self->mask];
    if (slot->actor && slot->hash == hash)
        __builtin_prefetch(slot->actor);
}
/* Slot access for incremental scans (NULL for an empty slot). */
static inline size_t actor_table_capacity(const actor_table_t *self)
{
    return self->mask + 1;
}
static inline roost_actor_t *actor_table_slot(const actor_table_t *self, size_t i)
{
    return self->slots[i].actor;
}

#endif
