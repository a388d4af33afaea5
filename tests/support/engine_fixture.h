/* tests/support/engine_fixture.h — one storage engine per test, from a table of factories
 * (in-memory or RocksDB in a temporary directory), and the helpers the engine tests share:
 * put, delete and expect by byte-string literal, a sorted key set, reopen. Header-only, for
 * tests/unit/test_engine.c and test_engine_rocksdb.c. */
#ifndef ROOST_TESTS_ENGINE_FIXTURE_H
#define ROOST_TESTS_ENGINE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "runtime/errors.h"
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

static inline engine_t *s_open_mem(fixture_t *f)
{
    (void)f;
    return engine_mem_new(NULL);
}

/* Small memtable so the tests also exercise flushed data. */
static inline engine_t *s_open_rocksdb(fixture_t *f)
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

static inline int s_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline int s_setup(void **state)
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

static inline int s_teardown(void **state)
{
    fixture_t *f = *state;
    engine_destroy(&f->engine);
    int rc = nftw(f->dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return rc;
}

static inline void s_reopen(fixture_t *f)
{
    engine_destroy(&f->engine);
    f->engine = f->factory->open(f);
    assert_non_null(f->engine);
}

/* ---- helpers ------------------------------------------------------------------------------- */

static inline void s_put(engine_t *e, bytes_t k, const char *v, bool sync)
{
    engine_batch_t *b = engine_batch_new();
    assert_int_equal(engine_batch_put(b, k.b, k.n, v, strlen(v)), 0);
    assert_int_equal(engine_write(e, b, sync), 0);
    engine_batch_destroy(&b);
}

static inline void s_del(engine_t *e, bytes_t k, bool sync)
{
    engine_batch_t *b = engine_batch_new();
    assert_int_equal(engine_batch_delete(b, k.b, k.n), 0);
    assert_int_equal(engine_write(e, b, sync), 0);
    engine_batch_destroy(&b);
}

/* Asserts k holds exactly the bytes v, or (v.b == NULL) that k is absent. */
static inline void s_expect_bytes(engine_t *e, bytes_t k, bytes_t v)
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
static inline void s_expect(engine_t *e, bytes_t k, const char *v)
{
    s_expect_bytes(e, k, (bytes_t){v, v ? strlen(v) : 0});
}

/* Walks it to the end and asserts it yields exactly want[0..n) in that order, each with the
 * value s_put_keys stores (the key's own bytes). */
static inline void s_expect_keys(engine_iter_t *it, const bytes_t *want, size_t n)
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

static inline void s_put_keys(engine_t *e, const bytes_t *keys, size_t n, bool sync)
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
static inline void s_put_sorted_set(engine_t *e)
{
    bytes_t scrambled[SORTED_N];
    for (size_t i = 0; i < SORTED_N; i++)
        scrambled[i] = s_sorted[(i * 5 + 3) % SORTED_N]; /* 5 is coprime with 13 */
    s_put_keys(e, scrambled, SORTED_N / 2, false);
    s_put_keys(e, scrambled + SORTED_N / 2, SORTED_N - SORTED_N / 2, true);
}

static inline engine_t *E(void **state)
{
    return ((fixture_t *)*state)->engine;
}

/* ---- the table ------------------------------------------------------------------------------- */

#define ON(factory, fn)                                                                            \
    {                                                                                              \
#factory ": " #fn, fn, s_setup, s_teardown, (void *)&s_##factory                           \
    }
#define ON_BOTH(fn) ON(mem, fn), ON(rocksdb, fn)

#endif
