/* tests/unit/test_readyq.c — a worker's ready queue: newest first, yet no ready actor waits
 * longer than the stated bound however fast a fan-out keeps readying new ones; a pair messaging
 * each other cannot keep the top; turn-exhausted actors go behind; the stack's ring gives its
 * memory back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/limits.h"
#include "runtime/readyq.h"

/* The bound readyq.h states for an actor with k actors ahead of it in the FIFO. */
#define WAIT_BOUND_TURNS(k) (ROOST_READY_STACK_AGE_TURNS + ((k) + 1) * ROOST_READY_FIFO_EVERY)

/* Fake actor records (the queue only reads flags and ready_next). */
static roost_actor_t *s_actors(size_t n)
{
    roost_actor_t *a = calloc(n, sizeof *a);
    assert_non_null(a);
    return a;
}

static void test_newest_ready_actor_runs_first(void **state)
{
    (void)state;
    roost_actor_t *a = s_actors(3);
    readyq_t q;
    readyq_init(&q);
    readyq_push(&q, &a[0]);
    readyq_push(&q, &a[1]);
    readyq_push(&q, &a[2]);
    assert_true(a[1].flags & ACTOR_READY);
    assert_ptr_equal(readyq_pop(&q), &a[2]);
    assert_ptr_equal(readyq_pop(&q), &a[1]);
    assert_ptr_equal(readyq_pop(&q), &a[0]);
    assert_false(a[0].flags & ACTOR_READY);
    assert_null(readyq_pop(&q));
    assert_true(readyq_is_empty(&q));
    readyq_fini(&q);
    free(a);
}

/* The adversary: every turn it gets, the fan-out readies two new actors (one is itself again,
 * in effect: the queue never empties and the stack only grows). Returns the turn (0-based) on
 * which each of the `nold` oldest actors ran, in *turn_of. */
static void s_run_against_fanout(size_t nold, size_t *turn_of)
{
    size_t cap = WAIT_BOUND_TURNS(nold) * 2 + 64;
    roost_actor_t *a = s_actors(nold + cap);
    readyq_t q;
    readyq_init(&q);
    for (size_t i = 0; i < nold; i++)
        readyq_push(&q, &a[i]);
    size_t fresh = nold;
    readyq_push(&q, &a[fresh++]);
    size_t ran = 0;
    for (size_t turn = 0; ran < nold; turn++) {
        roost_actor_t *x = readyq_pop(&q);
        assert_non_null(x);
        if (x < &a[nold]) {
            turn_of[x - a] = turn;
            ran++;
            continue;
        }
        assert_true(fresh + 2 <= nold + cap); /* the bound holds, or this trips first */
        readyq_push(&q, &a[fresh++]);
        readyq_push(&q, &a[fresh++]);
    }
    assert_false(readyq_is_empty(&q)); /* the fan-out was still going */
    readyq_fini(&q);
    free(a);
}

static void test_a_fanout_cannot_starve_an_older_ready_actor(void **state)
{
    (void)state;
    size_t turn;
    s_run_against_fanout(1, &turn);
    assert_true(turn <= WAIT_BOUND_TURNS(0));
}

static void test_aged_actors_run_in_the_order_they_became_ready(void **state)
{
    (void)state;
    enum { OLD = 100 };
    size_t turn_of[OLD];
    s_run_against_fanout(OLD, turn_of);
    for (size_t i = 0; i < OLD; i++) {
        assert_true(turn_of[i] <= WAIT_BOUND_TURNS(i));
        if (i > 0)
            assert_true(turn_of[i] > turn_of[i - 1]);
    }
}

static void test_two_actors_messaging_each_other_cannot_keep_the_top(void **state)
{
    (void)state;
    roost_actor_t *a = s_actors(3); /* a[0]: older and ready; a[1] and a[2]: a ping-pong pair */
    readyq_t q;
    readyq_init(&q);
    readyq_push(&q, &a[0]);
    readyq_push(&q, &a[1]);
    size_t turn = 0;
    for (roost_actor_t *x; (x = readyq_pop(&q)) != &a[0]; turn++) {
        assert_non_null(x);
        readyq_push(&q, x == &a[1] ? &a[2] : &a[1]); /* each answers the other */
    }
    /* Each of the pair gets ROOST_READY_STACK_TURNS_MAX turns from the top; then the older
     * actor's, long before it would have aged into the FIFO. */
    assert_true(turn <= 2 * ROOST_READY_STACK_TURNS_MAX + 1);
    readyq_fini(&q);
    free(a);
}

static void test_an_actor_whose_turn_ran_out_goes_behind(void **state)
{
    (void)state;
    roost_actor_t *a = s_actors(3);
    readyq_t q;
    readyq_init(&q);
    readyq_requeue(&q, &a[0]); /* used its turn: round robin */
    readyq_requeue(&q, &a[1]);
    readyq_push(&q, &a[2]);
    assert_int_equal(readyq_count(&q), 3); /* FIFO and stack */
    /* The FIFO's head has the first turn; then the stack; then the FIFO again (stack empty). */
    assert_ptr_equal(readyq_pop(&q), &a[0]);
    assert_int_equal(readyq_count(&q), 2);
    assert_ptr_equal(readyq_pop(&q), &a[2]);
    assert_ptr_equal(readyq_pop(&q), &a[1]);
    assert_null(readyq_pop(&q));
    assert_int_equal(readyq_count(&q), 0);
    readyq_fini(&q);
    free(a);
}

static void test_the_stack_ring_shrinks_when_drained(void **state)
{
    (void)state;
    enum { N = 10000 };
    roost_actor_t *a = s_actors(N);
    readyq_t q;
    readyq_init(&q);
    size_t min_cap = q.mask + 1;
    for (size_t i = 0; i < N; i++)
        readyq_push(&q, &a[i]);
    assert_true(q.mask + 1 >= N);
    size_t n = 0;
    while (readyq_pop(&q))
        n++;
    assert_int_equal(n, N);
    assert_int_equal(q.mask + 1, min_cap);
    readyq_clear(&q);
    assert_true(readyq_is_empty(&q));
    readyq_fini(&q);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_newest_ready_actor_runs_first),
        cmocka_unit_test(test_a_fanout_cannot_starve_an_older_ready_actor),
        cmocka_unit_test(test_aged_actors_run_in_the_order_they_became_ready),
        cmocka_unit_test(test_two_actors_messaging_each_other_cannot_keep_the_top),
        cmocka_unit_test(test_an_actor_whose_turn_ran_out_goes_behind),
        cmocka_unit_test(test_the_stack_ring_shrinks_when_drained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
