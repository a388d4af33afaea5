/* tests/unit/test_actor_table.c — a worker's actor table: every inserted actor is found under its
 * key until removed, through growth and backward-shift deletions in random order, and keys whose
 * hashes collide (same slot home, or the same hash outright) stay apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/actor_table.h"
#include "runtime/hash.h"
#include "runtime/rng.h"

static roost_actor_t *s_actor(const char *key, uint64_t hash)
{
    size_t len = strlen(key);
    roost_actor_t *a = calloc(1, sizeof *a + len + 1);
    a->hash = hash;
    a->key_len = (uint16_t)len;
    memcpy(a->key, key, len + 1);
    return a;
}

static roost_actor_t *s_get(actor_table_t *t, const roost_actor_t *a)
{
    return actor_table_get(t, a->key, a->key_len, a->hash);
}

static void test_actors_are_found_until_removed_through_growth(void **state)
{
    (void)state;
    enum { N = 100000 };
    actor_table_t t;
    actor_table_init(&t);
    roost_actor_t **all = calloc(N, sizeof *all);
    char key[32];
    for (size_t i = 0; i < N; i++) {
        snprintf(key, sizeof key, "t:%zu", i);
        all[i] = s_actor(key, actor_table_hash(roost_hash64(key, strlen(key))));
        actor_table_put(&t, all[i]);
    }
    assert_int_equal(t.count, N);
    assert_true(t.count * 2 <= actor_table_capacity(&t));
    roost_rng_t rng;
    roost_rng_seed(&rng, 8);
    for (size_t i = N - 1; i > 0; i--) { /* remove in a random order */
        size_t j = roost_rng_below(&rng, i + 1);
        roost_actor_t *x = all[i];
        all[i] = all[j];
        all[j] = x;
    }
    for (size_t i = 0; i < N / 2; i++) {
        actor_table_remove(&t, all[i]);
        assert_null(s_get(&t, all[i]));
        free(all[i]);
    }
    for (size_t i = N / 2; i < N; i++)
        assert_ptr_equal(s_get(&t, all[i]), all[i]);
    size_t used = 0;
    for (size_t i = 0; i < actor_table_capacity(&t); i++)
        used += actor_table_slot(&t, i) != NULL;
    assert_int_equal(used, N - N / 2);
    for (size_t i = N / 2; i < N; i++)
        free(all[i]);
    free(all);
    actor_table_fini(&t);
}

static void test_colliding_hashes_and_wrapping_clusters(void **state)
{
    (void)state;
    actor_table_t t;
    actor_table_init(&t); /* 64 slots: homes 62 and 63 wrap into slot 0 */
    uint64_t mask = actor_table_capacity(&t) - 1;
    roost_actor_t *same1 = s_actor("a:1", 62), *same2 = s_actor("a:2", 62); /* equal hashes */
    roost_actor_t *home63 = s_actor("b:1", 63), *home62 = s_actor("c:1", 62 + mask + 1);
    roost_actor_t *home0 = s_actor("d:1", 0);
    roost_actor_t *all[] = {same1, same2, home63, home62, home0};
    for (size_t i = 0; i < 5; i++)
        actor_table_put(&t, all[i]);
    actor_table_remove(&t, same1); /* the cluster 62, 63, 0, 1, 2 shifts back across the wrap */
    assert_null(s_get(&t, same1));
    for (size_t i = 1; i < 5; i++)
        assert_ptr_equal(s_get(&t, all[i]), all[i]);
    actor_table_remove(&t, home63);
    actor_table_remove(&t, same2);
    assert_ptr_equal(s_get(&t, home62), home62);
    assert_ptr_equal(s_get(&t, home0), home0);
    assert_ptr_equal(actor_table_slot(&t, 62), home62); /* back at its home */
    assert_ptr_equal(actor_table_slot(&t, 0), home0);
    assert_int_equal(t.count, 2);
    for (size_t i = 0; i < 5; i++)
        free(all[i]);
    actor_table_fini(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_actors_are_found_until_removed_through_growth),
        cmocka_unit_test(test_colliding_hashes_and_wrapping_clusters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
