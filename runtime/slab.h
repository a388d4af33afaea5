/* runtime/slab.h — a worker's actor records: small blocks carved from chunks that are mapped
 * and populated in one call, for objects one thread both allocates and frees.
 *
 * Why not malloc (or the block pool, which is malloc underneath): a fan-out like skynet's keeps
 * tens of thousands of records alive at once, and every page the heap grew by was a page fault —
 * an exception that costs microseconds in this VM (a sixth of skynet's profile went to faults and
 * the heap's growth). A chunk is SLAB_CHUNK_BYTES, aligned to its size (a block finds its chunk
 * by masking its address), populated writable with one madvise, and holds blocks of one class
 * (SLAB_CLASS_BYTES apart, up to SLAB_BLOCK_BYTES_MAX; larger requests are plain malloc). A block
 * carries no header, so a record costs its class size and nothing more.
 *
 * Memory goes back: a chunk whose last block is freed is unmapped, unless it is its class's only
 * chunk with room (kept so that one activation and passivation after another do not map and
 * unmap a chunk each time). So a worker holds at most one empty chunk per class, and passivating
 * its actors returns the rest.
 *
 * One owner thread; no locks: a block must be freed by the thread (worker) that allocated it,
 * with the size it was asked for. Builds for AddressSanitizer define SLAB_USE_MALLOC (CMake):
 * every block is its own malloc, so a use after free is still reported.
 *
 * Chunk states (per class): partial (has a free block, on the class's list) ⇄ full (off the list);
 * partial and empty → unmapped, unless it is the list's only chunk.
 */
#ifndef ROOST_SLAB_H
#define ROOST_SLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 64 pages: one madvise populates them; a worker using one class of record maps 256 KiB. */
#define SLAB_CHUNK_BYTES (256 * 1024)
#define SLAB_CLASS_BYTES 16
/* An actor record with its key and a small inline state (worker.c s_record_bytes). */
#define SLAB_BLOCK_BYTES_MAX 256
#define SLAB_CLASSES         (SLAB_BLOCK_BYTES_MAX / SLAB_CLASS_BYTES)

typedef struct slab_chunk slab_chunk_t;

typedef struct {
    slab_chunk_t *partial[SLAB_CLASSES]; /* by class: chunks with at least one free block */
    size_t chunks;                       /* mapped, all classes */
} slab_t;

void slab_init(slab_t *self);
/* Unmaps every chunk. The blocks still out are lost with them: free them first. */
void slab_fini(slab_t *self);

/* A block of at least `bytes` (uninitialised, aligned to 16). Can't fail (out of memory aborts).
 * The caller owns it until slab_free. */
void *slab_alloc(slab_t *self, size_t bytes);
/* Gives back a block from slab_alloc(self, bytes), same `bytes`. Safe on NULL. */
void slab_free(slab_t *self, void *block, size_t bytes);

#endif
