/* tests/unit/test_snapview.c — shards/snapview.c on both engines (memory and RocksDB): a view
 * serves a partition's state exactly as it was when the view opened, whatever is written
 * meanwhile, in chunks that together hold every pair once; a chunk whose answer was lost is
 * served again byte for byte; a request out of step is refused (the puller starts over). */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "runtime/errors.h"
#include "shards/engine_mem.h"
#include "shards/engine_rocksdb.h"
#include "shards/keys.h"
#include "shards/snapview.h"

enum { PART = 3, KEYS = 1200 };

typedef struct {
    bool rocksdb;
    char dir[64];
    engine_t *engine;
} fixture_t;

static int s_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int s_setup(void **state, bool rocksdb)
{
    fixture_t *f = calloc(1, sizeof *f);
    f->rocksdb = rocksdb;
    if (rocksdb) {
        snprintf(f->dir, sizeof f->dir, "/tmp/roost-snapview-XXXXXX");
        if (!mkdtemp(f->dir))
            return -1;
        char err[256];
        engine_rocksdb_options_t o = {.write_buffer_bytes = 64 * 1024}; /* flushed data too */
        f->engine = engine_rocksdb_open(f->dir, &o, err, sizeof err);
    } else {
        f->engine = engine_mem_new(NULL);
    }
    *state = f;
    return f->engine ? 0 : -1;
}

static int s_setup_mem(void **state)
{
    return s_setup(state, false);
}

static int s_setup_rocksdb(void **state)
{
    return s_setup(state, true);
}

static int s_teardown(void **state)
{
    fixture_t *f = *state;
    engine_destroy(&f->engine);
    int rc = f->rocksdb ? nftw(f->dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS) : 0;
    free(f);
    return rc;
}

static void s_put(engine_t *e, uint32_t p, const char *key, const char *val)
{
    uint8_t k[KEY_BYTES_MAX];
    size_t kn = key_state(k, p, key, strlen(key));
    engine_batch_t *b = engine_batch_new();
    if (val)
        engine_batch_put(b, k, kn, val, strlen(val));
    else
        engine_batch_delete(b, k, kn);
    assert_int_equal(engine_write(e, b, false), ROOST_OK);
    engine_batch_destroy(&b);
}

/* k0000 … k1199 = v0 … in PART, and a key on either side in the neighbouring partitions. */
static void s_fill(engine_t *e)
{
    char key[16], val[16];
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof key, "k%04d", i);
        snprintf(val, sizeof val, "v%d", i);
        s_put(e, PART, key, val);
    }
    s_put(e, PART - 1, "k0500", "other");
    s_put(e, PART + 1, "a", "other");
}

typedef struct {
    char key[16];
    char val[16];
} pair_t;

/* Decodes a chunk's pairs into out[*n…]; returns the last key's length (its bytes in last). */
static void s_decode(const void *pairs, size_t len, uint32_t count, pair_t *out, int *n)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    for (uint32_t i = 0; i < count; i++) {
        assert_int_equal(msgpack_unpack_next(&up, pairs, len, &off), MSGPACK_UNPACK_SUCCESS);
        const msgpack_object *kv = up.data.via.array.ptr;
        assert_int_equal(up.data.via.array.size, 2);
        assert_true(kv[0].via.bin.size < sizeof out->key && kv[1].via.bin.size < sizeof out->val);
        pair_t *p = &out[(*n)++];
        memset(p, 0, sizeof *p);
        memcpy(p->key, kv[0].via.bin.ptr, kv[0].via.bin.size);
        memcpy(p->val, kv[1].via.bin.ptr, kv[1].via.bin.size);
    }
    assert_int_equal(off, len);
    msgpack_unpacked_destroy(&up);
}

/* Reads the whole view, chunk after chunk; returns the number of pairs (and of chunks). */
static int s_read_all(snapview_t *v, pair_t *out, int *chunks)
{
    int n = 0;
    char after[16] = "";
    bool done = false;
    for (*chunks = 0; !done; (*chunks)++) {
        const void *pairs;
        size_t len;
        uint32_t count;
        assert_int_equal(snapview_chunk(v, after, strlen(after), &pairs, &len, &count, &done),
                         ROOST_OK);
        assert_true(count <= SNAPVIEW_PAIRS);
        assert_true(count > 0 || done);
        s_decode(pairs, len, count, out, &n);
        if (count)
            snprintf(after, sizeof after, "%s", out[n - 1].key);
    }
    return n;
}

/* Writes after the view opened — an overwrite in the first chunk, a new key and a delete in
 * later ones — are not in it: it holds PART's state as it was, every pair once, in key order. */
static void test_a_view_holds_the_state_as_it_was_when_opened(void **state)
{
    fixture_t *f = *state;
    s_fill(f->engine);
    snapview_t *v = snapview_open(f->engine, PART);
    s_put(f->engine, PART, "k0000", "changed");
    s_put(f->engine, PART, "k0600x", "new");
    s_put(f->engine, PART, "k1100", NULL);
    static pair_t got[KEYS + 8];
    int chunks;
    int n = s_read_all(v, got, &chunks);
    assert_int_equal(n, KEYS);
    assert_true(chunks >= 3); /* 1200 pairs in chunks of at most 512 */
    for (int i = 0; i < KEYS; i++) {
        char key[16], val[16];
        snprintf(key, sizeof key, "k%04d", i);
        snprintf(val, sizeof val, "v%d", i);
        assert_string_equal(got[i].key, key);
        assert_string_equal(got[i].val, val);
    }
    snapview_close(&v);
    assert_null(v);
}

/* The puller asks again from where the last chunk began when its answer was lost: the same
 * bytes come back, and the view goes on from there. A request from anywhere else is refused. */
static void test_a_lost_chunk_is_served_again_and_a_stray_request_refused(void **state)
{
    fixture_t *f = *state;
    s_fill(f->engine);
    snapview_t *v = snapview_open(f->engine, PART);
    const void *pairs;
    size_t len;
    uint32_t count;
    bool done;
    assert_int_equal(snapview_chunk(v, "", 0, &pairs, &len, &count, &done), ROOST_OK);
    assert_int_equal(count, SNAPVIEW_PAIRS);
    assert_false(done);
    assert_int_equal(snapview_chunk(v, "k0511", 5, &pairs, &len, &count, &done), ROOST_OK);
    void *second = malloc(len);
    memcpy(second, pairs, len);
    size_t second_len = len;
    s_put(f->engine, PART, "k0700", "changed"); /* in the chunk served again */
    assert_int_equal(snapview_chunk(v, "k0511", 5, &pairs, &len, &count, &done), ROOST_OK);
    assert_int_equal(len, second_len);
    assert_memory_equal(pairs, second, len);
    free(second);
    assert_int_equal(snapview_chunk(v, "", 0, &pairs, &len, &count, &done), ROOST_ESTALE);
    assert_int_equal(snapview_chunk(v, "k0900", 5, &pairs, &len, &count, &done), ROOST_ESTALE);
    assert_int_equal(snapview_chunk(v, "k1023", 5, &pairs, &len, &count, &done), ROOST_OK);
    assert_int_equal(count, KEYS - 2 * SNAPVIEW_PAIRS);
    assert_true(done);
    assert_int_equal(snapview_chunk(v, "k1199", 5, &pairs, &len, &count, &done), ROOST_ESTALE);
    snapview_close(&v);
}

/* An empty partition is one empty, final chunk (served again if asked again). */
static void test_an_empty_partition_is_one_final_chunk(void **state)
{
    fixture_t *f = *state;
    s_put(f->engine, PART + 1, "a", "other");
    snapview_t *v = snapview_open(f->engine, PART);
    const void *pairs;
    size_t len;
    uint32_t count;
    bool done;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(snapview_chunk(v, "", 0, &pairs, &len, &count, &done), ROOST_OK);
        assert_int_equal(count, 0);
        assert_true(done);
    }
    snapview_close(&v);
    snapview_close(&v); /* closing twice is harmless */
}

#define BOTH(t)                                                                                    \
    cmocka_unit_test_setup_teardown(t, s_setup_mem, s_teardown),                                   \
        cmocka_unit_test_setup_teardown(t, s_setup_rocksdb, s_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_a_view_holds_the_state_as_it_was_when_opened),
        BOTH(test_a_lost_chunk_is_served_again_and_a_stray_request_refused),
        BOTH(test_an_empty_partition_is_one_final_chunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
