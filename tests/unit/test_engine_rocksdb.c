/* tests/unit/test_engine_rocksdb.c — what only the RocksDB engine can show: reopen keeps what
 * was synced, a process crash with and without buffered unsynced writes, read-only mode, a real
 * write error, an open failure that says why, reads that stay cheap in a big table file, an
 * info log without a line per sync, universal compaction's lower rewriting, and a database that
 * changes compaction style.
 *
 * `test_engine_rocksdb --bench [DIR]` instead measures the RocksDB engine's write rate
 * (200-byte values, batches of 100, sync on and off) and prints one JSON object per mode; not
 * part of ctest. */
#include <inttypes.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h> /* the read counters of RocksDB's perf context */

#include "runtime/rng.h"
#include "tests/support/engine_fixture.h"

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

/* RocksDB's info LOG gets no line per sync (Debian's build logs every FlushWAL at its default
 * level, DEBUG: a write() per sync and megabytes of LOG a minute on a busy node). */
static void test_rocksdb_syncs_leave_the_info_log_alone(void **state)
{
    fixture_t *f = *state;
    engine_destroy(&f->engine);
    char err[256];
    f->engine = engine_rocksdb_open(f->dir, &(engine_rocksdb_options_t){.buffer_unsynced = true},
                                    err, sizeof err); /* as roostd opens it under sync: batch */
    assert_non_null(f->engine);
    for (int i = 0; i < 50; i++) {
        s_put(f->engine, B("k"), "v", false);
        assert_int_equal(engine_sync(f->engine), ROOST_OK);
    }
    engine_destroy(&f->engine); /* the LOG is complete once closed */
    char path[sizeof f->dir + 8], line[1024];
    snprintf(path, sizeof path, "%s/LOG", f->dir);
    FILE *log = fopen(path, "r");
    assert_non_null(log);
    int flushes = 0;
    while (fgets(line, sizeof line, log))
        flushes += strstr(line, "FlushWAL") != NULL;
    fclose(log);
    assert_int_equal(flushes, 0);
}

/* A read loads a few small blocks however many keys the table file it lands in holds. A
 * bottommost file of ~1M small keys has a 1.2 MB bloom filter; unpartitioned, that filter did
 * not fit its cache shard (64 MiB / 64 shards) and every read of the file loaded all of it again
 * from the page cache and checksummed it: after ~50 s of the store benchmark the log scrubber's
 * reads took the workers and acknowledged writes fell from ~10k/s to a few dozen (session 22's
 * soak). Here a 256 KiB cache and a file of 300k keys (a ~370 KB filter) show the same. */
enum { BIG_FILE_KEYS = 300000, BIG_FILE_READS = 400, BIG_FILE_READ_BYTES_MAX = 64 * 1024 };

/* Even keys, compacted; then odd ones, compacted with them: the second compaction merges, so its
 * file is opened below level 0 (a file moved down whole keeps the reader level 0 gave it). */
static void s_fill_and_compact(engine_t *e)
{
    engine_batch_t *b = engine_batch_new();
    char key[16];
    for (int half = 0; half < 2; half++) {
        for (int i = half; i < BIG_FILE_KEYS; i += 2) {
            snprintf(key, sizeof key, "k%07d", i);
            assert_int_equal(engine_batch_put(b, key, strlen(key), key, strlen(key)), 0);
            if (engine_batch_count(b) == 1000) {
                assert_int_equal(engine_write(e, b, false), ROOST_OK);
                engine_batch_clear(b);
            }
        }
        assert_int_equal(engine_write(e, b, false), ROOST_OK);
        engine_batch_clear(b);
        assert_int_equal(engine_rocksdb_compact(e), ROOST_OK);
    }
    engine_batch_destroy(&b);
}

static void test_rocksdb_reads_load_small_blocks_of_a_big_file(void **state)
{
    fixture_t *f = *state;
    engine_destroy(&f->engine);
    char err[256];
    f->engine = engine_rocksdb_open(
        f->dir, &(engine_rocksdb_options_t){.block_cache_bytes = 256 * 1024}, err, sizeof err);
    assert_non_null(f->engine);
    s_fill_and_compact(f->engine);
    roost_rng_t rng;
    roost_rng_seed(&rng, 3);
    rocksdb_set_perf_level(rocksdb_enable_count);
    rocksdb_perfcontext_t *pc = rocksdb_perfcontext_create(); /* this thread's counters */
    rocksdb_perfcontext_reset(pc);
    for (int i = 0; i < BIG_FILE_READS; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%07d", (int)(roost_rng_next(&rng) % BIG_FILE_KEYS));
        s_expect(f->engine, (bytes_t){key, strlen(key)}, key);
    }
    uint64_t per_read = rocksdb_perfcontext_metric(pc, rocksdb_block_read_byte) / BIG_FILE_READS;
    rocksdb_perfcontext_destroy(pc);
    rocksdb_set_perf_level(rocksdb_disable);
    if (per_read > BIG_FILE_READ_BYTES_MAX)
        fail_msg("a read loaded %" PRIu64 " bytes of blocks on average", per_read);
}

/* ---- compaction ---------------------------------------------------------------------------- */

/* The store's write pattern: appends to many partitions' logs (key partition | seq), in
 * incompressible 200-byte values, through a small memtable so there are many flushes. */
enum {
    APPEND_PARTITIONS = 64,
    APPEND_VALUE_BYTES = 200,
    APPEND_RECORDS = 80000, /* ~17 MB: 64 flushes of a 256 KiB memtable */
    APPEND_BATCH = 100,
    APPEND_PACE_RECORDS = 1000, /* ~210 KB: about a memtable */
    APPEND_WRITE_BUFFER_BYTES = 256 * 1024,
    IDLE_TIMEOUT_MS = 120000,
    STYLE_KEYS = 20000,
};
/* Compaction bytes per flushed byte allowed under universal compaction (measured 3.8; leveled
 * 9.4, session 23). */
#define UNIVERSAL_REWRITES_MAX 5.0

static engine_t *s_open_style(const char *dir, engine_rocksdb_compaction_t style, size_t wbuf)
{
    char err[256];
    engine_rocksdb_options_t o = {.write_buffer_bytes = wbuf, .compaction = style};
    engine_t *e = engine_rocksdb_open(dir, &o, err, sizeof err);
    if (e == NULL)
        fail_msg("open: %s", err);
    return e;
}

static void s_append_load(engine_t *e, roost_rng_t *rng)
{
    uint64_t seq[APPEND_PARTITIONS] = {0};
    engine_batch_t *b = engine_batch_new();
    uint8_t key[10], val[APPEND_VALUE_BYTES];
    for (int i = 0; i < APPEND_RECORDS; i++) {
        uint16_t p = (uint16_t)(roost_rng_next(rng) % APPEND_PARTITIONS);
        uint64_t n = ++seq[p];
        key[0] = (uint8_t)(p >> 8);
        key[1] = (uint8_t)p;
        for (int j = 0; j < 8; j++)
            key[2 + j] = (uint8_t)(n >> (56 - 8 * j));
        for (size_t j = 0; j < sizeof val; j += 8) {
            uint64_t r = roost_rng_next(rng);
            memcpy(val + j, &r, sizeof val - j < 8 ? sizeof val - j : 8);
        }
        assert_int_equal(engine_batch_put(b, key, sizeof key, val, sizeof val), 0);
        if (engine_batch_count(b) == APPEND_BATCH) {
            assert_int_equal(engine_write(e, b, false), ROOST_OK);
            engine_batch_clear(b);
        }
        if ((i + 1) % APPEND_PACE_RECORDS == 0) /* a steady load: compaction keeps up */
            assert_int_equal(engine_rocksdb_wait_idle(e, IDLE_TIMEOUT_MS), ROOST_OK);
    }
    engine_batch_destroy(&b);
}

/* From a closed database's LOG: bytes of table files written by compactions and by flushes. */
static void s_written_bytes(const char *dir, uint64_t *compacted, uint64_t *flushed)
{
    char path[128], line[16384];
    snprintf(path, sizeof path, "%s/LOG", dir);
    FILE *log = fopen(path, "r");
    assert_non_null(log);
    uint64_t created = 0, compaction_out = 0;
    const char *p;
    while (fgets(line, sizeof line, log)) {
        if (strstr(line, "\"event\": \"table_file_creation\"") &&
            (p = strstr(line, "\"file_size\": ")))
            created += strtoull(p + strlen("\"file_size\": "), NULL, 10);
        if (strstr(line, "\"event\": \"compaction_finished\"") &&
            (p = strstr(line, "\"total_output_size\": ")))
            compaction_out += strtoull(p + strlen("\"total_output_size\": "), NULL, 10);
    }
    fclose(log);
    assert_true(created >= compaction_out && created > 0);
    *compacted = compaction_out;
    *flushed = created - compaction_out;
}

/* Compaction bytes written per byte flushed, under the append load, for one style. */
static double s_compaction_rewrites(const char *dir, engine_rocksdb_compaction_t style)
{
    engine_t *e = s_open_style(dir, style, APPEND_WRITE_BUFFER_BYTES);
    roost_rng_t rng;
    roost_rng_seed(&rng, 11);
    s_append_load(e, &rng);
    assert_int_equal(engine_rocksdb_wait_idle(e, IDLE_TIMEOUT_MS), ROOST_OK);
    engine_destroy(&e); /* the LOG is complete once closed */
    uint64_t compacted = 0, flushed = 0;
    s_written_bytes(dir, &compacted, &flushed);
    return (double)compacted / (double)flushed;
}

/* The default (universal) compaction rewrites a record a few times, far less than leveled
 * compaction, which rewrote the whole base level on every level-0 compaction while the data was
 * smaller than the base level's target: in long store benchmarks its CPU per write kept
 * growing (session 22). */
static void test_rocksdb_universal_compaction_rewrites_less(void **state)
{
    fixture_t *f = *state;
    engine_destroy(&f->engine);
    char level_dir[sizeof f->dir + 8];
    snprintf(level_dir, sizeof level_dir, "%s/level", f->dir);
    double universal = s_compaction_rewrites(f->dir, ENGINE_ROCKSDB_COMPACTION_UNIVERSAL);
    double level = s_compaction_rewrites(level_dir, ENGINE_ROCKSDB_COMPACTION_LEVEL);
    print_message("compaction bytes per flushed byte: universal %.2f, level %.2f\n", universal,
                  level);
    if (universal > UNIVERSAL_REWRITES_MAX || universal * 2 > level)
        fail_msg("universal %.2f, level %.2f", universal, level);
    f->engine = s_open_rocksdb(f); /* for the teardown */
}

/* A database written under one compaction style opens, reads and compacts under the other, so
 * an operator can switch a node's style (cluster.compaction) with a restart. */
static void test_rocksdb_compaction_style_can_change(void **state)
{
    fixture_t *f = *state;
    engine_destroy(&f->engine);
    static const engine_rocksdb_compaction_t styles[] = {ENGINE_ROCKSDB_COMPACTION_LEVEL,
                                                         ENGINE_ROCKSDB_COMPACTION_UNIVERSAL,
                                                         ENGINE_ROCKSDB_COMPACTION_LEVEL};
    char key[16];
    for (int round = 0; round < 3; round++) {
        engine_t *e = s_open_style(f->dir, styles[round], 64 * 1024);
        for (int i = 0; i < round * STYLE_KEYS; i++) { /* what earlier rounds wrote */
            snprintf(key, sizeof key, "k%06d", i);
            s_expect(e, (bytes_t){key, strlen(key)}, key);
        }
        for (int i = round * STYLE_KEYS; i < (round + 1) * STYLE_KEYS; i++) {
            snprintf(key, sizeof key, "k%06d", i);
            s_put(e, (bytes_t){key, strlen(key)}, key, false);
        }
        assert_int_equal(engine_rocksdb_compact(e), ROOST_OK);
        assert_int_equal(engine_rocksdb_wait_idle(e, IDLE_TIMEOUT_MS), ROOST_OK);
        engine_destroy(&e);
    }
    f->engine = s_open_style(f->dir, ENGINE_ROCKSDB_COMPACTION_UNIVERSAL, 0);
    for (int i = 0; i < 3 * STYLE_KEYS; i++) {
        snprintf(key, sizeof key, "k%06d", i);
        s_expect(f->engine, (bytes_t){key, strlen(key)}, key);
    }
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

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--bench") == 0)
        return s_bench(argc > 2 ? argv[2] : NULL);
    const struct CMUnitTest tests[] = {
        ON(rocksdb, test_rocksdb_reopen_keeps_synced_data),
        ON(rocksdb, test_rocksdb_unsynced_writes_and_a_process_crash),
        ON(rocksdb, test_rocksdb_read_only_refuses_writes),
        ON(rocksdb, test_rocksdb_write_error_refuses_later_writes),
        ON(rocksdb, test_rocksdb_open_failure_says_why),
        ON(rocksdb, test_rocksdb_reads_load_small_blocks_of_a_big_file),
        ON(rocksdb, test_rocksdb_syncs_leave_the_info_log_alone),
        ON(rocksdb, test_rocksdb_universal_compaction_rewrites_less),
        ON(rocksdb, test_rocksdb_compaction_style_can_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
