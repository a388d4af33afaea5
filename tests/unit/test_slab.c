/* tests/unit/test_slab.c — a worker's record slab: blocks are distinct, aligned and fully usable,
 * freed blocks come back, chunks fill and spill into new ones, and chunks whose blocks are all
 * freed are unmapped (one per class kept); large requests are plain malloc. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/rng.h"
#include "runtime/slab.h"

#ifdef SLAB_USE_MALLOC
enum { SLAB_IS_MALLOC = 1 };
#else
enum { SLAB_IS_MALLOC = 0 };
#endif

static void test_blocks_are_distinct_aligned_and_usable(void **state)
{
    (void)state;
    slab_t s;
    slab_init(&s);
    enum { N = 64 };
    void *b[N];
    for (size_t i = 0; i < N; i++) {
        size_t bytes = 1 + i * (SLAB_BLOCK_BYTES_MAX - 1) / (N - 1); /* 1 … the largest */
        b[i] = slab_alloc(&s, bytes);
        assert_int_equal((uintptr_t)b[i] % 16, 0);
        memset(b[i], (int)i, bytes); /* the whole request is writable */
    }
    for (size_t i = 0; i < N; i++) { /* and no block overlapped another */
        size_t bytes = 1 + i * (SLAB_BLOCK_BYTES_MAX - 1) / (N - 1);
        for (size_t k = 0; k < bytes; k++)
            assert_int_equal(((unsigned char *)b[i])[k], i);
    }
    for (size_t i = 0; i < N; i++)
        slab_free(&s, b[i], 1 + i * (SLAB_BLOCK_BYTES_MAX - 1) / (N - 1));
    slab_fini(&s);
    assert_int_equal(s.chunks, 0);
}

static void test_a_freed_block_comes_back(void **state)
{
    (void)state;
    slab_t s;
    slab_init(&s);
    void *a = slab_alloc(&s, 100);
    slab_free(&s, a, 100);
    void *b = slab_alloc(&s, 97); /* same class as 100 */
    if (!SLAB_IS_MALLOC)
        assert_ptr_equal(a, b);
    slab_free(&s, b, 97);
    slab_free(&s, NULL, 97);
    void *big = slab_alloc(&s, SLAB_BLOCK_BYTES_MAX + 1); /* plain malloc */
    memset(big, 1, SLAB_BLOCK_BYTES_MAX + 1);
    slab_free(&s, big, SLAB_BLOCK_BYTES_MAX + 1);
    slab_fini(&s);
}

/* Many chunks' worth, freed in random order: all chunks but one go back. */
static void test_empty_chunks_are_unmapped(void **state)
{
    (void)state;
    enum { N = 20000, BYTES = 120 }; /* ~9 chunks of 128-byte blocks */
    slab_t s;
    slab_init(&s);
    void **b = calloc(N, sizeof *b);
    for (size_t i = 0; i < N; i++) {
        b[i] = slab_alloc(&s, BYTES);
        memcpy(b[i], &i, sizeof i);
    }
    if (!SLAB_IS_MALLOC)
        assert_true(s.chunks >= (size_t)N * 128 / SLAB_CHUNK_BYTES);
    roost_rng_t rng;
    roost_rng_seed(&rng, 5);
    for (size_t i = N - 1; i > 0; i--) { /* shuffle */
        size_t j = (size_t)roost_rng_below(&rng, i + 1);
        void *t = b[i];
        b[i] = b[j];
        b[j] = t;
    }
    for (size_t i = 0; i < N / 2; i++) /* half freed, then reused, then all freed */
        slab_free(&s, b[i], BYTES);
    for (size_t i = 0; i < N / 2; i++)
        b[i] = slab_alloc(&s, BYTES);
    for (size_t i = 0; i < N; i++)
        slab_free(&s, b[i], BYTES);
    assert_true(s.chunks <= 1);
    slab_fini(&s);
    assert_int_equal(s.chunks, 0);
    free(b);
}

/* Allocating and freeing one block, again and again, does not map and unmap a chunk each time. */
static void test_one_record_churning_keeps_its_chunk(void **state)
{
    (void)state;
    slab_t s;
    slab_init(&s);
    for (int i = 0; i < 1000; i++) {
        void *a = slab_alloc(&s, 64);
        slab_free(&s, a, 64);
        assert_int_equal(s.chunks, SLAB_IS_MALLOC ? 0 : 1);
    }
    slab_fini(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_are_distinct_aligned_and_usable),
        cmocka_unit_test(test_a_freed_block_comes_back),
        cmocka_unit_test(test_empty_chunks_are_unmapped),
        cmocka_unit_test(test_one_record_churning_keeps_its_chunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
