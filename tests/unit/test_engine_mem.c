/* tests/unit/test_engine_mem.c — the in-memory engine against a model, at sizes where its
 * chunked table (shards/memtable.h) splits and empties chunks many times over: random puts,
 * deletes, range deletes, syncs and crashes, with snapshot iterators (forward and reverse,
 * over random ranges) opened among the writes and checked against the model as it was when
 * each opened. The contract tests for both engines are in test_engine.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/rng.h"
#include "shards/engine.h"
#include "shards/engine_mem.h"

enum { KEYS = 3000, OPS = 30000, SNAPS = 4, VAL_MAX = 24 };

typedef struct { /* value of key i: "" (absent) or a string */
    char v[KEYS][VAL_MAX];
} model_t;

typedef struct {
    engine_iter_t *it;
    model_t *seen; /* the model when it opened */
    uint32_t lo, hi;
    bool reverse;
} snap_t;

/* Keys: short ("k00042", whole in a chunk's fence) or long with a shared 16-byte start (the
 * search must look past the fence). */
static bool g_long_keys;
enum { KEY_CAP = 40 };

static size_t s_key(char out[KEY_CAP], uint32_t i)
{
    return (size_t)snprintf(out, KEY_CAP, g_long_keys ? "partition-0001/state/k%05u" : "k%05u", i);
}

/* The iterator yields exactly m's keys in [lo, hi), in its direction. */
static void s_check_iter(engine_iter_t *it, const model_t *m, uint32_t lo, uint32_t hi,
                         bool reverse)
{
    for (uint32_t n = 0; n < hi - lo; n++) {
        uint32_t i = reverse ? hi - 1 - n : lo + n;
        if (!m->v[i][0])
            continue;
        assert_true(engine_iter_valid(it));
        size_t klen, vlen;
        char key[KEY_CAP];
        size_t kn = s_key(key, i);
        const void *k = engine_iter_key(it, &klen);
        const void *v = engine_iter_value(it, &vlen);
        assert_int_equal(klen, kn);
        assert_memory_equal(k, key, kn);
        assert_int_equal(vlen, strlen(m->v[i]));
        assert_memory_equal(v, m->v[i], vlen);
        engine_iter_next(it);
    }
    assert_false(engine_iter_valid(it));
}

static void s_write_op(engine_t *e, roost_rng_t *rng, model_t *m, bool sync)
{
    engine_batch_t *b = engine_batch_new();
    uint32_t i = (uint32_t)roost_rng_below(rng, KEYS), kind = (uint32_t)roost_rng_below(rng, 10);
    char key[KEY_CAP], hi[KEY_CAP];
    size_t kn = s_key(key, i);
    if (kind < 7) {
        snprintf(m->v[i], VAL_MAX, "v%llu", (unsigned long long)roost_rng_below(rng, 1u << 30));
        assert_int_equal(engine_batch_put(b, key, kn, m->v[i], strlen(m->v[i])), 0);
    } else if (kind < 9) {
        m->v[i][0] = 0;
        assert_int_equal(engine_batch_delete(b, key, kn), 0);
    } else {
        uint32_t j = i + (uint32_t)roost_rng_below(rng, 300);
        j = j > KEYS ? KEYS : j;
        size_t hn = s_key(hi, j);
        for (uint32_t k = i; k < j; k++)
            m->v[k][0] = 0;
        assert_int_equal(engine_batch_delete_range(b, key, kn, hi, hn), 0);
    }
    assert_int_equal(engine_write(e, b, sync), 0);
    engine_batch_destroy(&b);
}

static void s_open_snap(engine_t *e, roost_rng_t *rng, const model_t *m, snap_t *s)
{
    uint32_t a = (uint32_t)roost_rng_below(rng, KEYS + 1),
             b = (uint32_t)roost_rng_below(rng, KEYS + 1);
    s->lo = a < b ? a : b;
    s->hi = a < b ? b : a;
    s->reverse = roost_rng_below(rng, 2);
    char lo[KEY_CAP], hi[KEY_CAP];
    size_t ln = s_key(lo, s->lo), hn = s_key(hi, s->hi);
    s->it = s->reverse ? engine_iter_new_reverse(e, lo, ln, hi, hn)
                       : engine_iter_new(e, lo, ln, hi, hn);
    if (!s->seen)
        s->seen = malloc(sizeof *s->seen);
    memcpy(s->seen, m, sizeof *m);
}

static void s_check_all(engine_t *e, const model_t *m)
{
    engine_iter_t *it = engine_iter_new(e, NULL, 0, NULL, 0);
    s_check_iter(it, m, 0, KEYS, false);
    engine_iter_destroy(&it);
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < KEYS; i++)
        bytes += m->v[i][0] ? s_key((char[KEY_CAP]){0}, i) + strlen(m->v[i]) : 0;
    assert_int_equal(engine_mem_used_bytes(e), bytes);
}

static void s_follows_its_model(void)
{
    roost_rng_t rng;
    roost_rng_seed(&rng, 42);
    engine_t *e = engine_mem_new(NULL);
    model_t *live = calloc(1, sizeof *live), *synced = calloc(1, sizeof *synced);
    snap_t snaps[SNAPS] = {0};
    for (uint32_t op = 0; op < OPS; op++) {
        uint32_t what = (uint32_t)roost_rng_below(&rng, 1000);
        if (what < 900) {
            bool sync = roost_rng_below(&rng, 8) == 0;
            s_write_op(e, &rng, live, sync);
            if (sync)
                memcpy(synced, live, sizeof *live);
        } else if (what < 980) { /* a snapshot is checked, then replaced */
            snap_t *s = &snaps[roost_rng_below(&rng, SNAPS)];
            if (s->it) {
                s_check_iter(s->it, s->seen, s->lo, s->hi, s->reverse);
                engine_iter_destroy(&s->it);
            }
            s_open_snap(e, &rng, live, s);
        } else if (what < 995) {
            assert_int_equal(engine_sync(e), 0);
            memcpy(synced, live, sizeof *live);
        } else {
            engine_mem_crash(e);
            memcpy(live, synced, sizeof *live);
            s_check_all(e, live);
        }
    }
    s_check_all(e, live);
    for (uint32_t k = 0; k < SNAPS; k++) {
        if (snaps[k].it)
            s_check_iter(snaps[k].it, snaps[k].seen, snaps[k].lo, snaps[k].hi, snaps[k].reverse);
        engine_iter_destroy(&snaps[k].it);
        free(snaps[k].seen);
    }
    free(live);
    free(synced);
    engine_destroy(&e);
}

static void test_the_engine_follows_its_model_through_writes_snapshots_and_crashes(void **state)
{
    (void)state;
    g_long_keys = false;
    s_follows_its_model();
}

/* …with keys longer than a chunk's fence, all sharing its 16 bytes. */
static void test_the_same_with_keys_that_share_a_long_prefix(void **state)
{
    (void)state;
    g_long_keys = true;
    s_follows_its_model();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_engine_follows_its_model_through_writes_snapshots_and_crashes),
        cmocka_unit_test(test_the_same_with_keys_that_share_a_long_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
