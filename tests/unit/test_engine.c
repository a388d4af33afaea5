/* tests/unit/test_engine.c — the storage engine contract (shards/engine.h), run against both
 * engines through a table of factories, then what only one engine can show: the in-memory
 * engine's crash and fault models, RocksDB's reopen, read-only mode and a real write error.
 *
 * `test_engine --bench [DIR]` instead measures the RocksDB engine's write rate (200-byte values,
 * batches of 100, sync on and off) and prints one JSON object per mode; not part of ctest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/errors.h"
#include "runtime/rng.h"
#include "shards/engine.h"
#include "shards/engine_mem.h"
#include "shards/engine_rocksdb.h"

/* A byte-string literal with its length, 0x00 bytes included. */
typedef struct {
    const char *b;
    size_t n;
} bytes_t;
#define B(lit) ((bytes_t){(lit), sizeof(lit) - 1})

/* ---- fixtures: one engine per test, from a factory ----------------------------------------- */

typedef struct fixture fixture_t;
typedef struct {
    const char *name;
    engine_t *(*open)(fixture_t *f);
} factory_t;

struct fixture {
    const factory_t *factory;
    char dir[64];
    engine_t *engine;
};

static engine_t *s_open_mem(fixture_t *f)
{
    (void)f;
    return engine_mem_new(NULL);
}

/* Small memtable so the tests also exercise flushed data. */
static engine_t *s_open_rocksdb(fixture_t *f)
{
    engine_rocksdb_options_t o = {.write_buffer_bytes = 256 * 1024};
    char err[256];
    engine_t *e = engine_rocksdb_open(f->dir, &o, err, sizeof err);
    if (e == NULL)
        fprintf(stderr, "%s\n", err);
    return e;
}

static const factory_t s_mem = {"mem", s_open_mem};
static const factory_t s_rocksdb = {"rocksdb", s_open_rocksdb};

static int s_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->factory = *state;
    snprintf(f->dir, sizeof f->dir, "/tmp/roost-engine-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    f->engine = f->factory->open(f);
    *state = f;
    return f->engine ? 0 : -1;
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    engine_destroy(&f->engine);
    int rc = nftw(f->dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

static void s_reopen(fixture_t *f)
{
    engine_destroy(&f->engine);
    f->engine = f->factory->open(f);
    assert_non_null(f->engine);
}

/* ---- helpers ------------------------------------------------------------------------------- */

static void s_put(engine_t *e, bytes_t k, const char *v, bool sync)
{
    engine_batch_t *b = engine_batch_new();
    assert_int_equal(engine_batch_put(b, k.b, k.n, v, strlen(v)), 0);
    assert_int_equal(engine_write(e, b, sync), 0);
    engine_batch_destroy(&b);
}

static void s_del(engine_t *e, bytes_t k, bool sync)
{
    engine_batch_t *b = engine_batch_new();
    assert_int_equal(engine_batch_delete(b, k.b, k.n), 0);
    assert_int_equal(engine_write(e, b, sync), 0);
    engine_batch_destroy(&b);
}

/* Asserts k holds exactly the bytes v, or (v.b == NULL) that k is absent. */
static void s_expect_bytes(engine_t *e, bytes_t k, bytes_t v)
{
    void *got = NULL;
    size_t n = 0;
    int rc = engine_get(e, k.b, k.n, &got, &n);
    if (v.b == NULL) {
        assert_int_equal(rc, ROOST_ENOTFOUND);
        assert_null(got);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, v.n);
    assert_memory_equal(got, v.b, n);
    free(got);
}

/* Asserts k holds exactly the string v, or (v == NULL) that k is absent. */
static void s_expect(engine_t *e, bytes_t k, const char *v)
{
    s_expect_bytes(e, k, (bytes_t){v, v ? strlen(v) : 0});
}

/* Walks it to the end and asserts it yields exactly want[0..n) in that order, each with the
 * value s_put_keys stores (the key's own bytes). */
static void s_expect_keys(engine_iter_t *it, const bytes_t *want, size_t n)
{
    size_t i = 0;
    for (; engine_iter_valid(it); engine_iter_next(it), i++) {
        assert_true(i < n);
        size_t klen, vlen;
        const void *k = engine_iter_key(it, &klen);
        const void *v = engine_iter_value(it, &vlen);
        assert_int_equal(klen, want[i].n);
        assert_memory_equal(k, want[i].b, klen);
        assert_int_equal(vlen, klen);
        assert_memory_equal(v, want[i].b, vlen);
    }
    assert_int_equal(i, n);
    assert_int_equal(engine_iter_error(it), 0);
}

static void s_put_keys(engine_t *e, const bytes_t *keys, size_t n, bool sync)
{
    engine_batch_t *b = engine_batch_new();
    for (size_t i = 0; i < n; i++)
        assert_int_equal(engine_batch_put(b, keys[i].b, keys[i].n, keys[i].b, keys[i].n), 0);
    assert_int_equal(engine_write(e, b, sync), 0);
    engine_batch_destroy(&b);
}

/* Keys in byte order, with 0x00 / 0xFF bytes and keys that are prefixes of others. */
static const bytes_t s_sorted[] = {
    B("\x00"), B("\x00\x00"), B("\x00\x01"), B("a"),    B("a\x00"),    B("a\x00\x01"), B("a\x01"),
    B("ab"),   B("a\xff"),    B("b"),        B("\xff"), B("\xff\x00"), B("\xff\xff"),
};
enum { SORTED_N = sizeof s_sorted / sizeof s_sorted[0] };

/* Inserts s_sorted in a scrambled order, in two batches. */
static void s_put_sorted_set(engine_t *e)
{
    bytes_t scrambled[SORTED_N];
    for (size_t i = 0; i < SORTED_N; i++)
        scrambled[i] = s_sorted[(i * 5 + 3) % SORTED_N]; /* 5 is coprime with 13 */
    s_put_keys(e, scrambled, SORTED_N / 2, false);
    s_put_keys(e, scrambled + SORTED_N / 2, SORTED_N - SORTED_N / 2, true);
}

static engine_t *E(void **state)
{
    return ((fixture_t *)*state)->engine;
}

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

/* ---- RocksDB --------------------------------------------------------------------------------- */

static void test_rocksdb_reopen_keeps_synced_data(void **state)
{
    fixture_t *f = *state;
    static char val[1024];
    roost_rng_t rng;
    roost_rng_seed(&rng, 7);
    engine_batch_t *b = engine_batch_new();
    for (int i = 0; i < 1000; i++) {
        for (size_t j = 0; j < sizeof val; j++)
            val[j] = (char)roost_rng_next(&rng); /* incompressible, like ciphertext */
        char key[16];
        snprintf(key, sizeof key, "m%05d", i);
        assert_int_equal(engine_batch_put(b, key, strlen(key), val, sizeof val), 0);
        if (i % 100 == 99) {
            assert_int_equal(engine_write(f->engine, b, false), 0);
            engine_batch_clear(b);
        }
    }
    assert_int_equal(engine_sync(f->engine), 0);
    s_put(f->engine, B("synced"), "yes", true);
    assert_int_equal(engine_batch_delete_range(b, "m00000", 6, "m00010", 6), 0);
    assert_int_equal(engine_write(f->engine, b, true), 0);
    s_reopen(f);
    s_expect(f->engine, B("synced"), "yes");
    s_expect(f->engine, B("m00009"), NULL);
    void *v = NULL;
    size_t n = 0;
    assert_int_equal(engine_get(f->engine, "m00999", 6, &v, &n), 0);
    assert_int_equal(n, sizeof val);
    assert_memory_equal(v, val, n);
    free(v);
    /* Reopening flushed the WAL into tables: the range's volume is visible to approximate. */
    uint64_t bytes = 0;
    assert_int_equal(engine_approximate_size(f->engine, "m", 1, "n", 1, &bytes), 0);
    assert_true(bytes > 500 * 1024 && bytes < 4 * 1024 * 1024);
    assert_int_equal(engine_approximate_size(f->engine, "x", 1, NULL, 0, &bytes), 0);
    assert_true(bytes < 64 * 1024);
    engine_batch_destroy(&b);
}

/* In a child process (f's engine closed): opens f->dir with buffer_unsynced as given and
 * writes "early" unsynced, then syncs, then "late" unsynced, "synced" with sync, and "tail"
 * unsynced; then it is killed (SIGKILL) and f reopens the directory. */
static void s_write_then_get_killed(fixture_t *f, bool buffer_unsynced)
{
    engine_destroy(&f->engine);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        engine_rocksdb_options_t o = {.buffer_unsynced = buffer_unsynced};
        char err[256];
        engine_t *e = engine_rocksdb_open(f->dir, &o, err, sizeof err);
        const char *keys[] = {"early", "late", "synced", "tail"};
        for (int i = 0; e && i < 4; i++) {
            engine_batch_t *b = engine_batch_new();
            if (engine_batch_put(b, keys[i], strlen(keys[i]), "v", 1) != 0 ||
                engine_write(e, b, i == 2) != 0 || (i == 0 && engine_sync(e) != 0))
                _exit(1);
            engine_batch_destroy(&b);
        }
        char c = e != NULL;
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(c, 1);
    close(ready[0]);
    close(ready[1]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    s_reopen(f);
}

/* With buffer_unsynced (sync: batch and always), a sync or a synced write makes every earlier
 * write durable, and what no sync covered dies with the process; without it (sync: none), a
 * process crash loses nothing that was written. */
static void test_rocksdb_unsynced_writes_and_a_process_crash(void **state)
{
    fixture_t *f = *state;
    s_write_then_get_killed(f, true);
    s_expect(f->engine, B("early"), "v");
    s_expect(f->engine, B("late"), "v");
    s_expect(f->engine, B("synced"), "v");
    s_expect(f->engine, B("tail"), NULL);
    s_write_then_get_killed(f, false);
    s_expect(f->engine, B("tail"), "v");
}

static void test_rocksdb_read_only_refuses_writes(void **state)
{
    fixture_t *f = *state;
    s_put(f->engine, B("k"), "v", true);
    engine_destroy(&f->engine);
    char err[256];
    f->engine = engine_rocksdb_open(f->dir, &(engine_rocksdb_options_t){.read_only = true}, err,
                                    sizeof err);
    assert_non_null(f->engine);
    s_expect(f->engine, B("k"), "v");
    engine_batch_t *b = engine_batch_new();
    assert_int_equal(engine_batch_put(b, "k2", 2, "v", 1), 0);
    assert_int_equal(engine_write(f->engine, b, true), ROOST_EIO); /* RocksDB: NotSupported */
    assert_int_equal(engine_health(f->engine), ROOST_EIO);
    assert_false(engine_writable(f->engine));
    assert_int_equal(engine_sync(f->engine), ROOST_EIO);
    s_expect(f->engine, B("k"), "v");
    engine_batch_destroy(&b);
}

/* A real I/O error from the filesystem: RLIMIT_FSIZE makes write(2) past the limit fail with
 * EFBIG (SIGXFSZ ignored), which RocksDB reports as an IO error on the WAL append. */
static void test_rocksdb_write_error_refuses_later_writes(void **state)
{
    fixture_t *f = *state;
    s_put(f->engine, B("before"), "v", true);
    static char val[256 * 1024];
    engine_batch_t *b = engine_batch_new();
    assert_int_equal(engine_batch_put(b, "big", 3, val, sizeof val), 0);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = engine_write(f->engine, b, true);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, ROOST_EIO);
    assert_int_equal(engine_health(f->engine), ROOST_EIO);
    assert_false(engine_writable(f->engine));
    engine_batch_clear(b);
    assert_int_equal(engine_batch_put(b, "small", 5, "v", 1), 0);
    assert_int_equal(engine_write(f->engine, b, false), ROOST_EIO); /* refused */
    assert_int_equal(engine_sync(f->engine), ROOST_EIO);
    s_expect(f->engine, B("before"), "v");
    s_expect(f->engine, B("small"), NULL);
    s_reopen(f); /* a restart: the failed batch was never acknowledged and is not there */
    assert_true(engine_writable(f->engine));
    s_expect(f->engine, B("before"), "v");
    s_expect(f->engine, B("big"), NULL);
    assert_int_equal(engine_write(f->engine, b, true), 0);
    engine_batch_destroy(&b);
}

static void test_rocksdb_open_failure_says_why(void **state)
{
    fixture_t *f = *state;
    char path[128], err[256] = "";
    snprintf(path, sizeof path, "%s/missing", f->dir);
    engine_t *e =
        engine_rocksdb_open(path, &(engine_rocksdb_options_t){.read_only = true}, err, sizeof err);
    assert_null(e);
    assert_non_null(strstr(err, path));
    assert_true(strlen(err) > strlen(path) + 20); /* RocksDB's reason follows the path */
    /* The directory is locked by the fixture's engine: a second open fails too. */
    e = engine_rocksdb_open(f->dir, NULL, err, sizeof err);
    assert_null(e);
    assert_non_null(strstr(err, "lock"));
}

/* ---- benchmark mode ------------------------------------------------------------------------ */

enum { BENCH_BATCH = 100, BENCH_VALUE_BYTES = 200, BENCH_KEY_BYTES = 16, BENCH_ENTRIES = 200000 };

static double s_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Random 16-byte keys (like db_bench fillrandom) and random (incompressible) values. */
static void s_bench_mode(engine_t *e, bool sync, roost_rng_t *rng)
{
    engine_batch_t *b = engine_batch_new();
    unsigned char key[BENCH_KEY_BYTES], val[BENCH_VALUE_BYTES];
    double t0 = s_now_s();
    for (int done = 0; done < BENCH_ENTRIES; done += BENCH_BATCH) {
        engine_batch_clear(b);
        for (int i = 0; i < BENCH_BATCH; i++) {
            for (size_t j = 0; j < sizeof key; j += 8) {
                uint64_t r = roost_rng_next(rng);
                memcpy(key + j, &r, 8);
            }
            for (size_t j = 0; j + 8 <= sizeof val; j += 8) {
                uint64_t r = roost_rng_next(rng);
                memcpy(val + j, &r, 8);
            }
            if (engine_batch_put(b, key, sizeof key, val, sizeof val) != 0)
                abort();
        }
        if (engine_write(e, b, sync) != 0)
            abort();
    }
    double secs = s_now_s() - t0;
    double mb = (double)BENCH_ENTRIES * (BENCH_KEY_BYTES + BENCH_VALUE_BYTES) / 1048576.0;
    printf("{\"engine\":\"rocksdb\",\"sync\":%s,\"entries\":%d,\"batch\":%d,\"value_bytes\":%d,"
           "\"seconds\":%.3f,\"entries_per_s\":%.0f,\"batches_per_s\":%.0f,\"mb_per_s\":%.2f,"
           "\"us_per_batch\":%.1f}\n",
           sync ? "true" : "false", BENCH_ENTRIES, BENCH_BATCH, BENCH_VALUE_BYTES, secs,
           BENCH_ENTRIES / secs, BENCH_ENTRIES / BENCH_BATCH / secs, mb / secs,
           secs * 1e6 / (BENCH_ENTRIES / BENCH_BATCH));
    engine_batch_destroy(&b);
}

static int s_bench(const char *parent)
{
    fixture_t f = {.factory = &s_rocksdb};
    snprintf(f.dir, sizeof f.dir, "%s/roost-engine-bench-XXXXXX", parent ? parent : "/tmp");
    if (mkdtemp(f.dir) == NULL)
        return 1;
    char err[256];
    engine_t *e = engine_rocksdb_open(f.dir, NULL, err, sizeof err); /* production defaults */
    if (e == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    roost_rng_t rng;
    roost_rng_seed(&rng, 42);
    s_bench_mode(e, true, &rng);
    s_bench_mode(e, false, &rng);
    engine_destroy(&e);
    return nftw(f.dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : 1;
}

/* ---- the table ------------------------------------------------------------------------------- */

#define ON(factory, fn)                                                                            \
    {                                                                                              \
#factory ": " #fn, fn, s_setup, s_teardown, (void *)&s_##factory                           \
    }
#define ON_BOTH(fn) ON(mem, fn), ON(rocksdb, fn)

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--bench") == 0)
        return s_bench(argc > 2 ? argv[2] : NULL);
    const struct CMUnitTest tests[] = {
        ON_BOTH(test_put_get_overwrite_delete),
        ON_BOTH(test_batch_applies_in_order_all_at_once),
        ON_BOTH(test_delete_range_drops_exactly_lo_to_hi),
        ON_BOTH(test_iteration_is_bytewise_and_bounded),
        ON_BOTH(test_reverse_iteration_and_last_key_of_a_prefix),
        ON_BOTH(test_last_entry_of_a_log_is_one_seek),
        ON_BOTH(test_iterator_sees_a_snapshot),
        ON_BOTH(test_group_commit_then_sync),
        cmocka_unit_test(test_batch_refuses_bad_and_oversized_input),
        cmocka_unit_test(test_batch_bytes_are_capped),
        ON(mem, test_mem_crash_forgets_exactly_the_unsynced_writes),
        ON(mem, test_mem_failed_write_latches_health_and_reads_go_on),
        ON(mem, test_mem_full_disk_fails_writes_with_eio),
        ON(rocksdb, test_rocksdb_reopen_keeps_synced_data),
        ON(rocksdb, test_rocksdb_unsynced_writes_and_a_process_crash),
        ON(rocksdb, test_rocksdb_read_only_refuses_writes),
        ON(rocksdb, test_rocksdb_write_error_refuses_later_writes),
        ON(rocksdb, test_rocksdb_open_failure_says_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
