/* runtime/blockpool.c — see blockpool.h. Invariant: cached_bytes is the sum of the class sizes of
 * the blocks on the free lists, and never exceeds BLOCKPOOL_CACHED_BYTES_MAX. */
#include "runtime/blockpool.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/util.h"

struct blockpool_free {
    blockpool_free_t *next;
};

_Static_assert((BLOCKPOOL_BLOCK_BYTES_MAX + BLOCKPOOL_HEADER_BYTES) % BLOCKPOOL_CLASS_BYTES == 0,
               "whole classes");
_Static_assert(BLOCKPOOL_CLASS_BYTES - BLOCKPOOL_HEADER_BYTES >= sizeof(blockpool_free_t),
               "the smallest block holds a link");

static size_t s_class(size_t bytes)
{
    size_t c = (blockpool_block_bytes(bytes) + BLOCKPOOL_HEADER_BYTES) / BLOCKPOOL_CLASS_BYTES - 1;
    assert(c < BLOCKPOOL_CLASSES);
    return c;
}

void blockpool_init(blockpool_t *self)
{
    memset(self, 0, sizeof *self);
}

void blockpool_fini(blockpool_t *self)
{
    for (size_t c = 0; c < BLOCKPOOL_CLASSES; c++) {
        while (self->free[c]) {
            blockpool_free_t *b = self->free[c];
            self->free[c] = b->next;
            free(b);
        }
    }
    self->cached_bytes = 0;
}

void *blockpool_alloc(blockpool_t *self, size_t bytes)
{
    size_t size = blockpool_block_bytes(bytes);
    if (blockpool_is_pooled(bytes)) {
        blockpool_free_t **head = &self->free[s_class(bytes)];
        blockpool_free_t *b = *head;
        if (b) {
            *head = b->next;
            assert(self->cached_bytes >= size);
            self->cached_bytes -= size;
            return b;
        }
    }
    return roost_xmalloc(size);
}

void blockpool_free(blockpool_t *self, void *block, size_t bytes)
{
    if (!block)
        return;
    size_t size = blockpool_block_bytes(bytes);
    if (!blockpool_is_pooled(bytes) || self->cached_bytes + size > BLOCKPOOL_CACHED_BYTES_MAX) {
        free(block);
        return;
    }
    blockpool_free_t *b = block;
    blockpool_free_t **head = &self->free[s_class(bytes)];
    b->next = *head;
    *head = b;
    self->cached_bytes += size;
}
