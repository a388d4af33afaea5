/* tests/unit/test_blockpool.c — a worker's block cache: blocks come back for reuse, the cache
 * stays within its byte budget, large requests and foreign blocks are handled like any other. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/blockpool.h"
#include "runtime/envelope.h"

static void test_a_freed_block_is_handed_out_again(void **state)
{
    (void)state;
    blockpool_t p;
    blockpool_init(&p);
    void *a = blockpool_alloc(&p, 81);
    memset(a, 0xab, blockpool_block_bytes(81)); /* the whole class is usable */
    blockpool_free(&p, a, 81);
    void *b = blockpool_alloc(&p, 88);  /* same class as 81 */
    if (BLOCKPOOL_CACHED_BYTES_MAX > 0) /* 0 under AddressSanitizer: nothing is kept */
        assert_ptr_equal(a, b);
    assert_int_equal(p.cached_bytes, 0);
    blockpool_free(&p, b, 88);
    blockpool_fini(&p);
}

static void test_classes_never_waste_more_than_malloc(void **state)
{
    (void)state;
    for (size_t n = 1; n <= BLOCKPOOL_BLOCK_BYTES_MAX; n++) {
        size_t b = blockpool_block_bytes(n);
        assert_true(b >= n && b - n < BLOCKPOOL_CLASS_BYTES);
        assert_int_equal((b + BLOCKPOOL_HEADER_BYTES) % BLOCKPOOL_CLASS_BYTES, 0);
    }
    assert_false(blockpool_is_pooled(BLOCKPOOL_BLOCK_BYTES_MAX + 1));
    assert_int_equal(blockpool_block_bytes(4096), 4096);
}

static void test_the_cache_stays_within_its_budget(void **state)
{
    (void)state;
    blockpool_t p;
    blockpool_init(&p);
    enum { N = 2 * BLOCKPOOL_CACHED_BYTES_MAX / 128 + 16 };
    void **blocks = calloc(N, sizeof *blocks);
    for (size_t i = 0; i < N; i++)
        blocks[i] = blockpool_alloc(&p, 120);
    for (size_t i = 0; i < N; i++)
        blockpool_free(&p, blocks[i], 120); /* beyond the budget: back to malloc */
    assert_true(p.cached_bytes <= BLOCKPOOL_CACHED_BYTES_MAX);
    void *big = blockpool_alloc(&p, 1000); /* unpooled: plain malloc and free */
    blockpool_free(&p, big, 1000);
    blockpool_free(&p, NULL, 10);
    blockpool_fini(&p);
    assert_int_equal(p.cached_bytes, 0);
    free(blocks);
}

static void test_envelopes_move_between_pools_and_free(void **state)
{
    (void)state;
    blockpool_t a, b;
    blockpool_init(&a);
    blockpool_init(&b);
    roost_env_t *e1 = roost_env_new_in(&a, "u:1", "u:2", 7, "xyz", 3);
    roost_env_t *e2 = roost_env_new("u:3", NULL, 8, NULL, 0); /* no pool: still pool-sized */
    static uint8_t big[2000];
    roost_env_t *e3 = roost_env_new_in(&a, "u:4", NULL, 9, big, sizeof big); /* too big to pool */
    assert_true(e1->pooled && e2->pooled && !e3->pooled);
    assert_memory_equal(e1->payload, "xyz", 3);
    assert_string_equal(e1->sender, "u:2");
    roost_env_free_to(&b, e1); /* made by a, freed by b: b keeps it */
    roost_env_t *e4 = roost_env_new_in(&b, "u:5", "u:6", 1, "abc", 3);
    if (BLOCKPOOL_CACHED_BYTES_MAX > 0)
        assert_ptr_equal(e4, e1);
    assert_string_equal(e4->target, "u:5");
    roost_env_free_to(&b, e2);
    roost_env_free_to(&b, e3);
    roost_env_free_to(&b, NULL);
    roost_env_free(e4); /* any thread may free a pooled envelope */
    blockpool_fini(&a);
    blockpool_fini(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_freed_block_is_handed_out_again),
        cmocka_unit_test(test_classes_never_waste_more_than_malloc),
        cmocka_unit_test(test_the_cache_stays_within_its_budget),
        cmocka_unit_test(test_envelopes_move_between_pools_and_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
