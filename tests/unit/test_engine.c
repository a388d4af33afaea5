/* tests/unit/test_engine.c — the storage engine contract (shards/engine.h), run against both
 * engines through a table of factories (tests/support/engine_fixture.h), then what only the
 * in-memory engine can show: its crash and fault models. RocksDB's own behaviour (reopen,
 * process crash, read-only mode, a real write error) is in test_engine_rocksdb.c. */

#include "tests/support/engine_fixture.h"

/* ---- the contract, for both engines -------------------------------------------------------- */

static void test_put_get_overwrite_delete(void **state)
{
    engine_t *e = E(state);
    s_expect(e, B("k"), NULL);
    s_put(e, B("k"), "one", false);
    s_expect(e, B("k"), "one");
    s_put(e, B("k"), "two", true);
    s_expect(e, B("k"), "two");
    s_put(e, B("empty"), "", false);
    s_expect(e, B("empty"), "");
    s_del(e, B("k"), false);
    s_expect(e, B("k"), NULL);
    s_del(e, B("never-there"), false);
    s_expect(e, B("empty"), "");

    void *v = NULL;
    size_t n = 0;
    char big[ENGINE_KEY_BYTES_MAX + 1] = {0};
    assert_int_equal(engine_get(e, "", 0, &v, &n), ROOST_EINVAL);
    assert_int_equal(engine_get(e, big, sizeof big, &v, &n), ROOST_EINVAL);
    assert_int_equal(engine_health(e), 0);
    assert_true(engine_writable(e));
}

static void test_batch_applies_in_order_all_at_once(void **state)
{
    engine_t *e = E(state);
    s_put(e, B("gone"), "x", false);
    engine_batch_t *b = engine_batch_new();
    assert_int_equal(engine_batch_put(b, "a", 1, "1", 1), 0);
    assert_int_equal(engine_batch_put(b, "b", 1, "2", 1), 0);
    assert_int_equal(engine_batch_delete(b, "a", 1), 0);
    assert_int_equal(engine_batch_put(b, "c", 1, "3", 1), 0);
    assert_int_equal(engine_batch_put(b, "b", 1, "22", 2), 0);
    assert_int_equal(engine_batch_delete_range(b, "g", 1, "h", 1), 0);
    assert_int_equal(engine_batch_count(b), 6);
    assert_int_equal(engine_batch_bytes(b), 2 + 2 + 1 + 2 + 3 + 2);
    /* Nothing is visible before the write. */
    s_expect(e, B("c"), NULL);
    assert_int_equal(engine_write(e, b, true), 0);
    s_expect(e, B("a"), NULL);
    s_expect(e, B("b"), "22");
    s_expect(e, B("c"), "3");
    s_expect(e, B("gone"), NULL);

    engine_batch_clear(b);
    assert_int_equal(engine_batch_count(b), 0);
    assert_int_equal(engine_batch_bytes(b), 0);
    assert_int_equal(engine_write(e, b, false), 0); /* empty: a no-op */
    assert_int_equal(engine_write(e, b, true), 0);  /* empty with sync: a sync */
    assert_int_equal(engine_batch_put(b, "a", 1, "again", 5), 0);
    assert_int_equal(engine_write(e, b, false), 0);
    s_expect(e, B("a"), "again");
    engine_batch_destroy(&b);
    assert_null(b);
    engine_batch_destroy(&b); /* safe on NULL */
}

/* Batches of puts and deletes in no key order, several on one key, fewer and more ops than the
 * RocksDB engine sorts by key before handing them over: each key ends as the batch's last op on
 * it said (checked against a model after every write). */
static void test_a_batchs_last_op_on_a_key_wins_in_any_key_order(void **state)
{
    engine_t *e = E(state);
    static const char *keys[] = {"b", "a", "ab", "a\xff", "c", "\x01", "ba", "aa"};
    enum { KEYS = sizeof keys / sizeof keys[0] };
    char model[KEYS][8] = {{0}}; /* "" = absent */
    uint64_t x = 88172645463325252u;
    for (int round = 0; round < 200; round++) {
        engine_batch_t *b = engine_batch_new();
        int ops = 1 + (int)(x % (round % 2 ? 9 : 150));
        for (int i = 0; i < ops; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift */
            size_t k = x % KEYS;
            if ((x >> 8) % 4 == 0) {
                assert_int_equal(engine_batch_delete(b, keys[k], strlen(keys[k])), 0);
                model[k][0] = '\0';
            } else {
                snprintf(model[k], sizeof model[k], "%d.%d", round, i);
                assert_int_equal(
                    engine_batch_put(b, keys[k], strlen(keys[k]), model[k], strlen(model[k])), 0);
            }
        }
        assert_int_equal(engine_write(e, b, round % 10 == 0), 0);
        engine_batch_destroy(&b);
        for (size_t k = 0; k < KEYS; k++)
            s_expect(e, (bytes_t){keys[k], strlen(keys[k])}, model[k][0] ? model[k] : NULL);
    }
}

static void test_delete_range_drops_exactly_lo_to_hi(void **state)
{
    engine_t *e = E(state);
    static const bytes_t keys[] = {B("p0\xff"), B("p1"),         B("p1\x00"), B("p1\x00\x01"),
                                   B("p1\xff"), B("p1\xff\xff"), B("p2"),     B("p2\x00")};
    s_put_keys(e, keys, 8, false);
    engine_batch_t *b = engine_batch_new();
    assert_int_equal(engine_batch_delete_range(b, "p1", 2, "p2", 2), 0);
    assert_int_equal(engine_batch_put(b, "p1\x00\x01", 4, "back", 4), 0); /* after: survives */
    assert_int_equal(engine_write(e, b, true), 0);
    s_expect_bytes(e, keys[0], keys[0]);
    for (int i = 1; i <= 5; i++)
        s_expect_bytes(e, keys[i], i == 3 ? B("back") : (bytes_t){NULL, 0});
    s_expect_bytes(e, keys[6], keys[6]);
    s_expect_bytes(e, keys[7], keys[7]);

    engine_batch_clear(b);
    assert_int_equal(engine_batch_delete_range(b, "p2", 2, "p2", 2), 0); /* empty range */
    assert_int_equal(engine_write(e, b, false), 0);
    s_expect(e, keys[6], "p2");
    assert_int_equal(engine_batch_delete_range(b, "p3", 2, "p2", 2), ROOST_EINVAL);
    assert_int_equal(engine_batch_count(b), 1);
    engine_batch_destroy(&b);
}

static void test_iteration_is_bytewise_and_bounded(void **state)
{
    engine_t *e = E(state);
    for (size_t i = 1; i < SORTED_N; i++) /* the fixture itself is in order */
        assert_true(engine_key_compare(s_sorted[i - 1].b, s_sorted[i - 1].n, s_sorted[i].b,
                                       s_sorted[i].n) < 0);
    s_put_sorted_set(e);
    engine_iter_t *it = engine_iter_new(e, NULL, 0, NULL, 0);
    s_expect_keys(it, s_sorted, SORTED_N);
    engine_iter_destroy(&it);
    assert_null(it);

    it = engine_iter_new(e, "a", 1, "b", 1); /* [a, b): every key starting with a */
    s_expect_keys(it, s_sorted + 3, 6);
    engine_iter_destroy(&it);
    it = engine_iter_new(e, "a\x00", 2, "a\x01", 2);
    s_expect_keys(it, s_sorted + 4, 2);
    engine_iter_destroy(&it);
    it = engine_iter_new(e, "\xff", 1, NULL, 0); /* lo only, inclusive */
    s_expect_keys(it, s_sorted + 10, 3);
    engine_iter_destroy(&it);
    it = engine_iter_new(e, NULL, 0, "\x00\x01", 2); /* hi only, exclusive */
    s_expect_keys(it, s_sorted, 2);
    engine_iter_destroy(&it);
    it = engine_iter_new(e, "b", 1, "b", 1); /* lo == hi */
    s_expect_keys(it, NULL, 0);
    engine_iter_destroy(&it);
    it = engine_iter_new(e, "b", 1, "a", 1); /* hi < lo */
    s_expect_keys(it, NULL, 0);
    engine_iter_destroy(&it);
    it = engine_iter_new(e, "c", 1, "d", 1); /* nothing there */
    s_expect_keys(it, NULL, 0);
    engine_iter_destroy(&it);
}

static void test_reverse_iteration_and_last_key_of_a_prefix(void **state)
{
    engine_t *e = E(state);
    s_put_sorted_set(e);
    bytes_t reversed[SORTED_N];
    for (size_t i = 0; i < SORTED_N; i++)
        reversed[i] = s_sorted[SORTED_N - 1 - i];
    engine_iter_t *it = engine_iter_new_reverse(e, NULL, 0, NULL, 0);
    s_expect_keys(it, reversed, SORTED_N);
    engine_iter_destroy(&it);
    it = engine_iter_new_reverse(e, "a\x00", 2, "ab", 2); /* a\x01, a\x00\x01, a\x00 */
    s_expect_keys(it, reversed + SORTED_N - 7, 3);
    engine_iter_destroy(&it);

    char end[8];
    size_t endlen = 0;
    void *k = NULL;
    size_t klen = 0;
    assert_true(engine_prefix_end("a", 1, end, &endlen));
    assert_int_equal(engine_last_key(e, "a", 1, end, endlen, &k, &klen), 0);
    assert_int_equal(klen, 2);
    assert_memory_equal(k, "a\xff", 2);
    free(k);
    assert_true(engine_prefix_end("a\xff", 2, end, &endlen)); /* -> "b" */
    assert_int_equal(endlen, 1);
    assert_memory_equal(end, "b", 1);
    assert_false(engine_prefix_end("\xff\xff", 2, end, &endlen)); /* no end: hi = NULL */
    assert_int_equal(engine_last_key(e, "\xff", 1, NULL, 0, &k, &klen), 0);
    assert_int_equal(klen, 2);
    assert_memory_equal(k, "\xff\xff", 2);
    free(k);
    assert_true(engine_prefix_end("\x00", 1, end, &endlen));
    assert_int_equal(engine_last_key(e, "\x00", 1, end, endlen, &k, &klen), 0);
    assert_memory_equal(k, "\x00\x01", 2);
    free(k);
    assert_int_equal(engine_last_key(e, "c", 1, "d", 1, &k, &klen), ROOST_ENOTFOUND);
    assert_null(k);
}

/* The replicated log's question over realistic keys: partition | log | be64(seq). */
static void test_last_entry_of_a_log_is_one_seek(void **state)
{
    engine_t *e = E(state);
    engine_batch_t *b = engine_batch_new();
    for (uint32_t part = 1; part <= 3; part++) {
        for (uint64_t seq = 1; seq <= 300; seq++) {
            unsigned char key[13] = {0, 0, 0, (unsigned char)part, 'L'};
            for (int i = 0; i < 8; i++)
                key[5 + i] = (unsigned char)((seq * part) >> (56 - 8 * i));
            assert_int_equal(engine_batch_put(b, key, sizeof key, "entry", 5), 0);
        }
    }
    assert_int_equal(engine_write(e, b, true), 0);
    const unsigned char prefix[5] = {0, 0, 0, 2, 'L'};
    unsigned char end[5];
    size_t endlen;
    assert_true(engine_prefix_end(prefix, 5, end, &endlen));
    void *k = NULL;
    size_t klen = 0;
    assert_int_equal(engine_last_key(e, prefix, 5, end, endlen, &k, &klen), 0);
    assert_int_equal(klen, 13);
    const unsigned char want[13] = {0, 0, 0, 2, 'L', 0, 0, 0, 0, 0, 0, 600 >> 8, 600 & 0xFF};
    assert_memory_equal(k, want, 13);
    free(k);
    engine_batch_destroy(&b);
}

static void test_iterator_sees_a_snapshot(void **state)
{
    engine_t *e = E(state);
    s_put_keys(e, (bytes_t[]){B("k1"), B("k2"), B("k3")}, 3, false);
    engine_iter_t *fwd = engine_iter_new(e, NULL, 0, NULL, 0);
    engine_iter_t *rev = engine_iter_new_reverse(e, NULL, 0, NULL, 0);
    s_del(e, B("k2"), false);
    s_put(e, B("k0"), "new", false);
    s_put(e, B("k4"), "new", false);
    s_expect_keys(fwd, (bytes_t[]){B("k1"), B("k2"), B("k3")}, 3);
    s_expect_keys(rev, (bytes_t[]){B("k3"), B("k2"), B("k1")}, 3);
    engine_iter_destroy(&fwd);
    engine_iter_destroy(&rev);
    s_expect(e, B("k2"), NULL);
    s_expect(e, B("k4"), "new");
}

static void test_group_commit_then_sync(void **state)
{
    engine_t *e = E(state);
    for (int i = 0; i < 200; i++) {
        char key[16];
        snprintf(key, sizeof key, "g%04d", i);
        s_put(e, (bytes_t){key, strlen(key)}, "v", false);
    }
    assert_int_equal(engine_sync(e), 0);
    s_expect(e, B("g0199"), "v");
    uint64_t bytes = 1;
    assert_int_equal(engine_approximate_size(e, "x", 1, "y", 1, &bytes), 0);
    assert_int_equal(bytes, 0);
    assert_int_equal(engine_health(e), 0);
}

/* ---- the batch alone ----------------------------------------------------------------------- */

static void test_batch_refuses_bad_and_oversized_input(void **state)
{
    (void)state;
    engine_batch_t *b = engine_batch_new();
    static char big[ENGINE_VALUE_BYTES_MAX + 1];
    assert_int_equal(engine_batch_put(b, "", 0, "v", 1), ROOST_EINVAL);
    assert_int_equal(engine_batch_put(b, big, ENGINE_KEY_BYTES_MAX + 1, "v", 1), ROOST_EINVAL);
    assert_int_equal(engine_batch_put(b, "k", 1, big, sizeof big), ROOST_EINVAL);
    assert_int_equal(engine_batch_delete(b, NULL, 1), ROOST_EINVAL);
    assert_int_equal(engine_batch_put(b, big, ENGINE_KEY_BYTES_MAX, big, ENGINE_VALUE_BYTES_MAX),
                     0);
    assert_int_equal(engine_batch_count(b), 1);
    engine_batch_clear(b);
    for (int i = 0; i < ENGINE_BATCH_OPS_MAX; i++)
        assert_int_equal(engine_batch_delete(b, "k", 1), 0);
    assert_int_equal(engine_batch_delete(b, "k", 1), ROOST_ETOOBIG);
    assert_int_equal(engine_batch_count(b), ENGINE_BATCH_OPS_MAX);
    assert_int_equal(engine_batch_bytes(b), ENGINE_BATCH_OPS_MAX);
    engine_batch_destroy(&b);
}

static void test_batch_bytes_are_capped(void **state)
{
    (void)state;
    engine_batch_t *b = engine_batch_new();
    static char val[ENGINE_VALUE_BYTES_MAX];
    size_t per = 1 + sizeof val, added = 0;
    while (added + per <= ENGINE_BATCH_BYTES_MAX) {
        assert_int_equal(engine_batch_put(b, "k", 1, val, sizeof val), 0);
        added += per;
    }
    assert_int_equal(engine_batch_put(b, "k", 1, val, sizeof val), ROOST_ETOOBIG);
    assert_int_equal(engine_batch_bytes(b), added);
    engine_batch_destroy(&b);
}

/* ---- the in-memory engine's models --------------------------------------------------------- */

static void test_mem_crash_forgets_exactly_the_unsynced_writes(void **state)
{
    engine_t *e = E(state);
    s_put(e, B("a"), "synced", true);
    s_put(e, B("c"), "synced", true);
    s_put(e, B("b"), "cached", false);
    s_put(e, B("a"), "overwritten", false);
    engine_batch_t *b = engine_batch_new();
    assert_int_equal(engine_batch_delete_range(b, "c", 1, "d", 1), 0);
    assert_int_equal(engine_write(e, b, false), 0);
    s_expect(e, B("c"), NULL);
    assert_int_equal(engine_mem_unsynced(e), 3);
    engine_mem_crash(e);
    s_expect(e, B("a"), "synced");
    s_expect(e, B("b"), NULL);
    s_expect(e, B("c"), "synced");
    assert_int_equal(engine_mem_unsynced(e), 0);

    s_put(e, B("d"), "group", false);
    assert_int_equal(engine_sync(e), 0);
    s_put(e, B("e"), "before a synced write", false);
    s_put(e, B("f"), "synced write", true);
    s_put(e, B("g"), "lost", false);
    engine_mem_crash(e);
    s_expect(e, B("d"), "group");
    s_expect(e, B("e"), "before a synced write");
    s_expect(e, B("f"), "synced write");
    s_expect(e, B("g"), NULL);
    assert_int_equal(engine_mem_used_bytes(e), 7 + 7 + 6 + 22 + 13); /* a c d e f */
    engine_batch_destroy(&b);
}

/* A sync in two halves makes exactly what was written before its start durable: what comes
 * in while it runs is lost by a crash after its end (the simulator's fsync, sim/world.c). */
static void test_mem_sync_in_two_halves_covers_only_what_preceded_it(void **state)
{
    engine_t *e = E(state);
    s_put(e, B("a"), "before", false);
    uint64_t mark = engine_mem_sync_begin(e);
    s_put(e, B("b"), "during", false);
    s_put(e, B("a"), "overwritten during", false);
    assert_int_equal(engine_mem_sync_end(e, mark), 0);
    assert_int_equal(engine_mem_unsynced(e), 2);
    engine_mem_crash(e);
    s_expect(e, B("a"), "before");
    s_expect(e, B("b"), NULL);

    s_put(e, B("c"), "begun, never ended", false);
    mark = engine_mem_sync_begin(e);
    engine_mem_crash(e); /* a power loss in the middle of the fsync */
    s_expect(e, B("c"), NULL);

    s_put(e, B("d"), "synced by a synced write meanwhile", false);
    mark = engine_mem_sync_begin(e);
    s_put(e, B("e"), "synced write", true);
    assert_int_equal(engine_mem_sync_end(e, mark), 0); /* nothing left to drop */
    s_put(e, B("f"), "after", false);
    engine_mem_crash(e);
    s_expect(e, B("d"), "synced by a synced write meanwhile");
    s_expect(e, B("e"), "synced write");
    s_expect(e, B("f"), NULL);

    mark = engine_mem_sync_begin(e);
    engine_mem_fail_writes(e, ROOST_EIO); /* the fsync fails: it latches as engine_sync does */
    assert_int_equal(engine_mem_sync_end(e, mark), ROOST_EIO);
    assert_false(engine_writable(e));
}

static void test_mem_failed_write_latches_health_and_reads_go_on(void **state)
{
    engine_t *e = E(state);
    s_put_keys(e, (bytes_t[]){B("kept")}, 1, true);
    engine_mem_fail_writes(e, ROOST_EIO);
    engine_batch_t *b = engine_batch_new();
    assert_int_equal(engine_batch_put(b, "x", 1, "1", 1), 0);
    assert_int_equal(engine_batch_delete(b, "kept", 4), 0);
    assert_int_equal(engine_write(e, b, false), ROOST_EIO);
    assert_int_equal(engine_health(e), ROOST_EIO);
    assert_false(engine_writable(e));
    s_expect(e, B("x"), NULL); /* all or nothing */
    s_expect(e, B("kept"), "kept");
    engine_iter_t *it = engine_iter_new(e, NULL, 0, NULL, 0);
    s_expect_keys(it, (bytes_t[]){B("kept")}, 1);
    engine_iter_destroy(&it);

    engine_mem_fail_writes(e, 0); /* the disk recovers, the process does not trust it */
    assert_int_equal(engine_write(e, b, true), ROOST_EIO);
    assert_int_equal(engine_sync(e), ROOST_EIO);
    assert_int_equal(engine_health(e), ROOST_EIO);
    engine_mem_crash(e); /* a restart */
    assert_int_equal(engine_health(e), 0);
    assert_int_equal(engine_write(e, b, true), 0);
    s_expect(e, B("x"), "1");

    engine_mem_fail_writes(e, ROOST_EIO); /* a failed fsync latches too */
    assert_int_equal(engine_sync(e), ROOST_EIO);
    assert_false(engine_writable(e));
    engine_batch_destroy(&b);
}

static void test_mem_full_disk_fails_writes_with_eio(void **state)
{
    fixture_t *f = *state;
    engine_destroy(&f->engine);
    f->engine = engine_mem_new(&(engine_mem_options_t){.capacity_bytes = 1000});
    engine_t *e = f->engine;
    char val[500] = {0};
    engine_batch_t *b = engine_batch_new();
    assert_int_equal(engine_batch_put(b, "a", 1, val, 499), 0);
    assert_int_equal(engine_batch_put(b, "b", 1, val, 399), 0);
    assert_int_equal(engine_write(e, b, true), 0);
    assert_int_equal(engine_mem_used_bytes(e), 900);
    engine_batch_clear(b);
    assert_int_equal(engine_batch_put(b, "c", 1, "1", 1), 0);
    assert_int_equal(engine_batch_put(b, "d", 1, val, 150), 0);
    assert_int_equal(engine_write(e, b, false), ROOST_EIO);
    s_expect(e, B("c"), NULL);
    assert_int_equal(engine_health(e), ROOST_EIO);
    assert_false(engine_writable(e));
    uint64_t bytes = 0;
    assert_int_equal(engine_approximate_size(e, NULL, 0, NULL, 0, &bytes), 0);
    assert_int_equal(bytes, 900);
    engine_batch_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        ON_BOTH(test_put_get_overwrite_delete),
        ON_BOTH(test_batch_applies_in_order_all_at_once),
        ON_BOTH(test_a_batchs_last_op_on_a_key_wins_in_any_key_order),
        ON_BOTH(test_delete_range_drops_exactly_lo_to_hi),
        ON_BOTH(test_iteration_is_bytewise_and_bounded),
        ON_BOTH(test_reverse_iteration_and_last_key_of_a_prefix),
        ON_BOTH(test_last_entry_of_a_log_is_one_seek),
        ON_BOTH(test_iterator_sees_a_snapshot),
        ON_BOTH(test_group_commit_then_sync),
        cmocka_unit_test(test_batch_refuses_bad_and_oversized_input),
        cmocka_unit_test(test_batch_bytes_are_capped),
        ON(mem, test_mem_crash_forgets_exactly_the_unsynced_writes),
        ON(mem, test_mem_sync_in_two_halves_covers_only_what_preceded_it),
        ON(mem, test_mem_failed_write_latches_health_and_reads_go_on),
        ON(mem, test_mem_full_disk_fails_writes_with_eio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
