/* shards/tailcache.c — see tailcache.h. */
#include "shards/tailcache.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/util.h"

_Static_assert((TAILCACHE_SLOTS & (TAILCACHE_SLOTS - 1)) == 0, "slots: a power of two");

static tailcache_slot_t *s_slot(tailcache_t *c, uint64_t lsn)
{
    return &c->slots[lsn & (TAILCACHE_SLOTS - 1)];
}

void tailcache_init(tailcache_t *c)
{
    memset(c, 0, sizeof *c);
}

void tailcache_fini(tailcache_t *c)
{
    for (size_t i = 0; i < TAILCACHE_SLOTS; i++)
        free(c->slots[i].rec);
    memset(c, 0, sizeof *c);
}

void tailcache_put(tailcache_t *c, uint64_t lsn, const void *rec, size_t len)
{
    assert(lsn > 0);
    tailcache_slot_t *s = s_slot(c, lsn);
    if (len > TAILCACHE_RECORD_BYTES_MAX) {
        tailcache_forget(c, lsn);
        return;
    }
    if (len > s->cap) {
        s->rec = roost_xrealloc(s->rec, len);
        s->cap = (uint32_t)len;
    }
    memcpy(s->rec, rec, len);
    s->len = (uint32_t)len;
    s->lsn = lsn;
}

const void *tailcache_get(const tailcache_t *c, uint64_t lsn, size_t *len)
{
    const tailcache_slot_t *s = &c->slots[lsn & (TAILCACHE_SLOTS - 1)];
    if (lsn == 0 || s->lsn != lsn)
        return NULL;
    *len = s->len;
    return s->rec;
}

void tailcache_forget(tailcache_t *c, uint64_t lsn)
{
    tailcache_slot_t *s = s_slot(c, lsn);
    if (s->lsn == lsn)
        s->lsn = 0;
}

void tailcache_forget_from(tailcache_t *c, uint64_t lsn)
{
    for (size_t i = 0; i < TAILCACHE_SLOTS; i++)
        if (c->slots[i].lsn >= lsn)
            c->slots[i].lsn = 0;
}

void tailcache_clear(tailcache_t *c)
{
    for (size_t i = 0; i < TAILCACHE_SLOTS; i++)
        c->slots[i].lsn = 0;
}
