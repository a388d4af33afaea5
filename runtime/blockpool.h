/* runtime/blockpool.h — a worker's cache of freed small blocks, so the hot path (an envelope
 * per message, an actor record per activation) stops paying malloc and free.
 *
 * Blocks come in size classes BLOCKPOOL_CLASS_BYTES apart up to BLOCKPOOL_BLOCK_BYTES_MAX; each
 * is its own malloc() of exactly its class size, so any thread may free() one it holds (a pooled
 * envelope that ends on a thread without a pool) and a pool may take in blocks another pool
 * handed out (an envelope sent from one worker and freed by the other). A pool keeps at most
 * BLOCKPOOL_CACHED_BYTES_MAX of freed blocks (LIFO per class: the most recently freed, still
 * cached, goes out first); beyond that, freeing is free(): passivating a million actors gives
 * their memory back. Larger requests are plain malloc. One owner thread; no locks.
 */
#ifndef ROOST_BLOCKPOOL_H
#define ROOST_BLOCKPOOL_H

#include <stdbool.h>
#include <stddef.h>

/* Classes are the sizes a 64-bit malloc hands out without waste: chunks of 16k bytes carrying an
 * 8-byte header, so 16k - 8 usable bytes. A class never costs more memory than a malloc of the
 * exact size would. */
#define BLOCKPOOL_CLASS_BYTES  16
#define BLOCKPOOL_HEADER_BYTES 8
/* An envelope's header with two short keys and a small payload, an actor record with a key up to
 * ~170 bytes: the sizes sent and activated at high rates. */
#define BLOCKPOOL_BLOCK_BYTES_MAX (256 - BLOCKPOOL_HEADER_BYTES)
#define BLOCKPOOL_CLASSES                                                                          \
    ((BLOCKPOOL_BLOCK_BYTES_MAX + BLOCKPOOL_HEADER_BYTES) / BLOCKPOOL_CLASS_BYTES)
/* Freed bytes one pool holds on to: enough for the churn of a busy worker's passes, small next to
 * its actors. Builds for AddressSanitizer set it to 0 (CMake), so every block is a fresh malloc
 * and a use after free is still caught. */
#ifndef BLOCKPOOL_CACHED_BYTES_MAX
#define BLOCKPOOL_CACHED_BYTES_MAX (2 * 1024 * 1024)
#endif

typedef struct blockpool_free blockpool_free_t;

typedef struct {
    blockpool_free_t *free[BLOCKPOOL_CLASSES]; /* by class, smallest first */
    size_t cached_bytes;
} blockpool_t;

void blockpool_init(blockpool_t *self);
/* Frees the cached blocks (blocks handed out stay the holders'). */
void blockpool_fini(blockpool_t *self);

/* True if a block of `bytes` comes from a class (and may be given back to any pool). */
static inline bool blockpool_is_pooled(size_t bytes)
{
    return bytes > 0 && bytes <= BLOCKPOOL_BLOCK_BYTES_MAX;
}
/* The size a block for `bytes` really has: its class's, or `bytes` itself when unpooled. */
static inline size_t blockpool_block_bytes(size_t bytes)
{
    if (!blockpool_is_pooled(bytes))
        return bytes;
    size_t chunk = (bytes + BLOCKPOOL_HEADER_BYTES + BLOCKPOOL_CLASS_BYTES - 1) /
                   BLOCKPOOL_CLASS_BYTES * BLOCKPOOL_CLASS_BYTES;
    return chunk - BLOCKPOOL_HEADER_BYTES;
}

/* A block of at least `bytes` (blockpool_block_bytes(bytes) exactly, uninitialised). Can't
 * fail (out of memory aborts). Caller owns it. */
void *blockpool_alloc(blockpool_t *self, size_t bytes);
/* Gives back a block that was asked for with `bytes` — by this pool or by any other, or made
 * with malloc(blockpool_block_bytes(bytes)). Safe on NULL. */
void blockpool_free(blockpool_t *self, void *block, size_t bytes);

#endif
