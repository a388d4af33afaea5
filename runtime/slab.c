/* runtime/slab.c — see slab.h. A chunk starts with its header, then `cap` blocks of its class;
 * blocks past `carved` have never been handed out (they are carved in order, so a chunk's unused
 * tail costs nothing but its populated pages). Invariants (s_chunk_ok): used ≤ carved ≤ cap; a
 * chunk is on its class's partial list exactly when used < cap; `chunks` counts the mapped ones.
 */
#include "runtime/slab.h"

#include <assert.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "runtime/util.h"

struct slab_chunk {
    slab_chunk_t *prev, *next; /* on its class's partial list */
    void *free;                /* freed blocks, linked through their first word */
    uint32_t used;             /* blocks handed out now */
    uint32_t carved;           /* blocks ever handed out: the rest is untouched */
    uint32_t cap;
    uint32_t cls;
    bool listed;
};

enum { SLAB_HEADER_BYTES = (sizeof(slab_chunk_t) + 15) / 16 * 16 };

#ifdef SLAB_USE_MALLOC
#define SLAB_MALLOC_ONLY 1
#else
#define SLAB_MALLOC_ONLY 0
#endif

_Static_assert((SLAB_CHUNK_BYTES & (SLAB_CHUNK_BYTES - 1)) == 0, "chunks are found by masking");
_Static_assert(SLAB_BLOCK_BYTES_MAX % SLAB_CLASS_BYTES == 0, "whole classes");
_Static_assert(SLAB_CLASS_BYTES >= sizeof(void *) && SLAB_CLASS_BYTES % 16 == 0,
               "a free block holds its link; blocks stay 16-aligned");

static size_t s_class(size_t bytes)
{
    return (bytes + SLAB_CLASS_BYTES - 1) / SLAB_CLASS_BYTES - 1;
}

/* Whether `bytes` is carved from a chunk (else plain malloc: larger requests, and every one in
 * builds for AddressSanitizer). */
static bool s_is_slab(size_t bytes)
{
    return !SLAB_MALLOC_ONLY && bytes > 0 && bytes <= SLAB_BLOCK_BYTES_MAX;
}

static bool s_chunk_ok(const slab_chunk_t *ch)
{
    return ch->used <= ch->carved && ch->carved <= ch->cap && ch->listed == (ch->used < ch->cap);
}

void slab_init(slab_t *self)
{
    *self = (slab_t){0};
}

static void s_list_add(slab_t *self, slab_chunk_t *ch)
{
    ch->prev = NULL;
    ch->next = self->partial[ch->cls];
    if (ch->next)
        ch->next->prev = ch;
    self->partial[ch->cls] = ch;
    ch->listed = true;
}

static void s_list_remove(slab_t *self, slab_chunk_t *ch)
{
    if (ch->prev)
        ch->prev->next = ch->next;
    else
        self->partial[ch->cls] = ch->next;
    if (ch->next)
        ch->next->prev = ch->prev;
    ch->prev = ch->next = NULL;
    ch->listed = false;
}

/* A chunk of class c: mapped aligned to its size and populated writable in one call. */
static slab_chunk_t *s_chunk_new(slab_t *self, size_t c)
{
    size_t size = SLAB_CHUNK_BYTES;
    slab_chunk_t *ch = roost_xmap_aligned(size, size, false);
    *ch = (slab_chunk_t){.cls = (uint32_t)c,
                         .cap =
                             (uint32_t)((size - SLAB_HEADER_BYTES) / ((c + 1) * SLAB_CLASS_BYTES))};
    self->chunks++;
    s_list_add(self, ch);
    return ch;
}

static void s_chunk_unmap(slab_t *self, slab_chunk_t *ch)
{
    if (ch->listed)
        s_list_remove(self, ch);
    munmap(ch, SLAB_CHUNK_BYTES);
    self->chunks--;
}

void slab_fini(slab_t *self)
{
    for (size_t c = 0; c < SLAB_CLASSES; c++)
        while (self->partial[c])
            s_chunk_unmap(self, self->partial[c]);
    assert(self->chunks == 0); /* a full chunk left over: its blocks were never freed */
}

void *slab_alloc(slab_t *self, size_t bytes)
{
    if (!s_is_slab(bytes))
        return roost_xmalloc(bytes);
    size_t c = s_class(bytes);
    slab_chunk_t *ch = self->partial[c] ? self->partial[c] : s_chunk_new(self, c);
    void *block = ch->free;
    if (block)
        ch->free = *(void **)block;
    else
        block = (char *)ch + SLAB_HEADER_BYTES + (size_t)ch->carved++ * (c + 1) * SLAB_CLASS_BYTES;
    if (++ch->used == ch->cap)
        s_list_remove(self, ch);
    assert(s_chunk_ok(ch));
    return block;
}

void slab_free(slab_t *self, void *block, size_t bytes)
{
    if (!block)
        return;
    if (!s_is_slab(bytes)) {
        free(block);
        return;
    }
    slab_chunk_t *ch = (slab_chunk_t *)((uintptr_t)block & ~(uintptr_t)(SLAB_CHUNK_BYTES - 1));
    assert(ch->cls == s_class(bytes) && ch->used > 0);
    *(void **)block = ch->free;
    ch->free = block;
    ch->used--;
    if (!ch->listed)
        s_list_add(self, ch); /* it was full: it has room again */
    assert(s_chunk_ok(ch));
    bool only = self->partial[ch->cls] == ch && ch->next == NULL;
    if (ch->used == 0 && !only)
        s_chunk_unmap(self, ch);
}
