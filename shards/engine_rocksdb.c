/* shards/engine_rocksdb.c — engine.h on RocksDB (C API, 7.8): one instance per shard node.
 *
 * Options, for this workload (small keys, 200-byte to 64 KiB ciphertext values, appends by
 * partition | conversation | seq, point reads of actor state, short range scans) on a 2-core
 * machine:
 *   - WAL on. By default (manual_wal_flush off) every write reaches the OS (the WAL file's
 *     page cache) before it returns, so a process crash (kill -9) loses nothing; only a power
 *     loss can lose writes that were not synced. With buffer_unsynced (manual_wal_flush on),
 *     an unsynced write stays in RocksDB's WAL buffer until the next synced write or
 *     engine_sync, which writes and fsyncs it with everything before it: one write() per sync
 *     rather than one per batch (session 18: ~11% more acknowledged writes per second in the
 *     store benchmark). A process crash then loses the unsynced writes as a power loss would;
 *     roostd asks for it only under sync: batch and always, which acknowledge nothing before
 *     its sync. wal_recovery_mode point-in-time: after a power loss the database recovers every
 *     record before the first torn one — exactly the synced prefix.
 *   - max_background_jobs 2: one flush and one compaction at a time; more would only fight the
 *     node's worker threads for the two cores.
 *   - write buffer ENGINE_ROCKSDB_WRITE_BUFFER_BYTES_DEFAULT, bytes_per_sync 1 MiB (SST
 *     writeback in small steps rather than one long fsync stall).
 *   - Universal (size-tiered) compaction by default: a merge takes sorted runs of similar size,
 *     so a record is rewritten about log(data / memtable) times. Leveled compaction (dynamic
 *     level sizes) rewrote the whole base level on every level-0 compaction while a node's
 *     data was below the base level's 256 MB target, so its cost per write grew with the data:
 *     15-18 us of compaction CPU per acknowledged write in 90 s store benchmarks, ~39 us in
 *     240 s ones, against 8-9 and 18 us universal (session 22), and half-load p99 209.5 ms
 *     against 76.5 ms in the long run. The price: a full merge (when the newer runs add up to
 *     twice the oldest) holds its inputs and its output at once, so the disk needs free space
 *     as large as the database (docs/operations.md "Disk headroom"); a point read checks a few
 *     more sorted runs (one bloom filter probe each). ENGINE_ROCKSDB_COMPACTION_LEVEL keeps the
 *     leveled layout for disks without that headroom; either style opens a database the other
 *     wrote (test_rocksdb_compaction_style_can_change).
 *   - block-based tables: full-key bloom filters at 10 bits/key (~1 % false positives: a read
 *     of a missing actor state or dedupe key touches no data block), 16 KiB blocks (a
 *     conversation scan reads consecutive records), index and filter blocks in the LRU cache so
 *     memory stays bounded by the cache size — partitioned (a two-level index, filters cut in
 *     RDB_METADATA_BLOCK_BYTES pieces, the small top levels pinned), so a read loads one small
 *     piece of each. Whole, a bottommost file of ~1M small keys has a 1.2 MB filter, more than a
 *     cache shard (64 MiB / 64 shards): it was never kept, and every read of that file loaded and
 *     checksummed all of it again; under the store benchmark the log scrubber's reads then took
 *     the workers and writes fell from ~10k/s to a few dozen after ~50 s (session 22's soak,
 *     test_engine_rocksdb's test_rocksdb_reads_load_small_blocks_of_a_big_file).
 *   - LZ4 when the library has it (no compression otherwise). Message bodies are ciphertext and
 *     do not compress; keys and metadata records do, and LZ4 costs little on a block that
 *     does not shrink (RocksDB then stores it raw).
 *   - max_open_files 512: a bound on descriptors, which the node also spends on sockets.
 *   - info LOG: at most 4 files of 8 MiB, at INFO. Debian's librocksdb is built without NDEBUG,
 *     so its default is DEBUG: a line (a write()) for every FlushWAL, i.e. every sync — a node
 *     filled 8 MiB of LOG in 7 minutes of the store benchmark (session 22).
 *   - A batch of up to RDB_SORTED_OPS_MAX ops without a range delete reaches RocksDB sorted by
 *     key (ops on one key keep their order): the memtable's skip list starts each insert from
 *     the last one's position, and a store batch otherwise jumps between its tables (session
 *     19: memtable inserts 24% -> 17% of all CPU, +17% acknowledged writes per second).
 *
 * Durability mapping. write(sync=true) is a WriteBatch written with WriteOptions.sync: RocksDB
 * fsyncs the WAL before returning, and merges concurrent synced writers into one fsync (its own
 * group commit). engine_sync is rocksdb_flush_wal(db, 1), i.e. FlushWAL(true) = SyncWAL(): it
 * fsyncs the WAL file(s), and the WAL directory when a new file was created, covering every
 * earlier write. We chose it over "write an empty batch with sync=true" because that is the
 * documented call for exactly this (sync what is written), costs no sequence number and does not
 * depend on how RocksDB treats an empty batch.
 *
 * Memory: values returned by engine_get are copied out of RocksDB's pinned slice into
 * roost_xmalloc memory, so callers always release them with free().
 */
#include "shards/engine_rocksdb.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rocksdb/c.h>

#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/util.h"

enum {
    /* One flush + one compaction: the machine has two cores and the node's workers need them. */
    RDB_BACKGROUND_JOBS = 2,
    /* Bloom filter density: ~1 % false positives for 10 bits per key. */
    RDB_BLOOM_BITS_PER_KEY = 10,
    /* Data block size: scans of a conversation read neighbouring records together. */
    RDB_BLOCK_BYTES = 16 * 1024,
    /* Index and filter partitions: small enough to cache one by one in any cache shard. */
    RDB_METADATA_BLOCK_BYTES = 4 * 1024,
    /* SST files written back to disk in steps of this size instead of one stall at the end. */
    RDB_BYTES_PER_SYNC = 1024 * 1024,
    /* Open table files kept: bounds descriptors (the node also needs them for sockets). */
    RDB_MAX_OPEN_FILES = 512,
    /* RocksDB's own info LOG: bounded disk use. */
    RDB_LOG_FILES_MAX = 4,
    RDB_LOG_FILE_BYTES_MAX = 8 * 1024 * 1024,
    /* InfoLogLevel::INFO_LEVEL (see the file comment). */
    RDB_INFO_LOG_LEVEL_INFO = 1,
    /* WALRecoveryMode::kPointInTimeRecovery (see the file comment). */
    RDB_WAL_RECOVERY_POINT_IN_TIME = 2,
    /* Batches up to this many ops go to RocksDB sorted by key (s_translate). */
    RDB_SORTED_OPS_MAX = 64,
    /* Universal compaction (RocksDB's defaults, stated): merge once 4 sorted runs exist; a run
     * joins a merge when it is at most 1% bigger than the ones before it taken together; at
     * least 2 runs per merge; a full merge once the newer runs add up to twice the oldest. */
    RDB_UNIVERSAL_RUNS_TRIGGER = 4,
    RDB_UNIVERSAL_SIZE_RATIO_PERCENT = 1,
    RDB_UNIVERSAL_MIN_MERGE_WIDTH = 2,
    RDB_UNIVERSAL_MAX_SIZE_AMP_PERCENT = 200,
    /* engine_rocksdb_wait_idle looks at RocksDB's background work this often. */
    RDB_IDLE_POLL_MS = 10,
};

typedef struct {
    engine_t base; /* first: an engine_t * is an rdb_engine_t * */
    rocksdb_t *db;
    rocksdb_writeoptions_t *wo_sync;
    rocksdb_writeoptions_t *wo_nosync;
    rocksdb_readoptions_t *ro;
    char *dir;
} rdb_engine_t;

typedef struct {
    engine_iter_t base;
    rocksdb_iterator_t *it;
    rocksdb_readoptions_t *ro; /* points into bounds: lives as long as the iterator */
    bool reverse;
    char bounds[]; /* lo then hi, copies the read options refer to */
} rdb_iter_t;

static const engine_ops_t s_ops;
static const engine_iter_ops_t s_iter_ops;

static rdb_engine_t *s_cast(engine_t *e)
{
    assert(e != NULL && e->ops == &s_ops);
    return (rdb_engine_t *)e;
}

/* Logs RocksDB's status text (quotes made safe for logfmt), frees it, returns ROOST_EIO. */
static int s_fail(const rdb_engine_t *self, const char *op, char *err)
{
    assert(err != NULL);
    for (char *p = err; *p; p++)
        if (*p == '"' || *p == '\n')
            *p = '\'';
    ROOST_ERROR("engine", "rocksdb call failed", "op=%s dir=%s err=\"%s\"", op, self->dir, err);
    rocksdb_free(err);
    return ROOST_EIO;
}

/* ---- opening ------------------------------------------------------------------------------- */

/* Universal (tiered) by default, leveled on request; see the file comment for why. */
static void s_set_compaction(rocksdb_options_t *opts, engine_rocksdb_compaction_t style)
{
    if (style == ENGINE_ROCKSDB_COMPACTION_LEVEL) {
        rocksdb_options_set_compaction_style(opts, rocksdb_level_compaction);
        rocksdb_options_set_level_compaction_dynamic_level_bytes(opts, 1);
        return;
    }
    rocksdb_options_set_compaction_style(opts, rocksdb_universal_compaction);
    rocksdb_options_set_level0_file_num_compaction_trigger(opts, RDB_UNIVERSAL_RUNS_TRIGGER);
    rocksdb_universal_compaction_options_t *u = rocksdb_universal_compaction_options_create();
    rocksdb_universal_compaction_options_set_size_ratio(u, RDB_UNIVERSAL_SIZE_RATIO_PERCENT);
    rocksdb_universal_compaction_options_set_min_merge_width(u, RDB_UNIVERSAL_MIN_MERGE_WIDTH);
    rocksdb_universal_compaction_options_set_max_size_amplification_percent(
        u, RDB_UNIVERSAL_MAX_SIZE_AMP_PERCENT);
    rocksdb_options_set_universal_compaction_options(opts, u); /* copied into opts */
    rocksdb_universal_compaction_options_destroy(u);
}

static rocksdb_options_t *s_options(const engine_rocksdb_options_t *o, bool compress)
{
    size_t wbuf = o->write_buffer_bytes ? o->write_buffer_bytes
                                        : (size_t)ENGINE_ROCKSDB_WRITE_BUFFER_BYTES_DEFAULT;
    size_t cache_bytes = o->block_cache_bytes ? o->block_cache_bytes
                                              : (size_t)ENGINE_ROCKSDB_BLOCK_CACHE_BYTES_DEFAULT;
    rocksdb_options_t *opts = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(opts, 1);
    rocksdb_options_set_max_background_jobs(opts, RDB_BACKGROUND_JOBS);
    rocksdb_options_set_write_buffer_size(opts, wbuf);
    s_set_compaction(opts, o->compaction);
    rocksdb_options_set_bytes_per_sync(opts, RDB_BYTES_PER_SYNC);
    rocksdb_options_set_max_open_files(opts, RDB_MAX_OPEN_FILES);
    rocksdb_options_set_keep_log_file_num(opts, RDB_LOG_FILES_MAX);
    rocksdb_options_set_max_log_file_size(opts, RDB_LOG_FILE_BYTES_MAX);
    rocksdb_options_set_info_log_level(opts, RDB_INFO_LOG_LEVEL_INFO);
    rocksdb_options_set_manual_wal_flush(opts, o->buffer_unsynced);
    rocksdb_options_set_wal_recovery_mode(opts, RDB_WAL_RECOVERY_POINT_IN_TIME);
    rocksdb_options_set_compression(opts,
                                    compress ? rocksdb_lz4_compression : rocksdb_no_compression);

    rocksdb_block_based_table_options_t *table = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_filter_policy(
        table, rocksdb_filterpolicy_create_bloom_full(RDB_BLOOM_BITS_PER_KEY));
    rocksdb_block_based_options_set_block_size(table, RDB_BLOCK_BYTES);
    rocksdb_block_based_options_set_index_type(
        table, rocksdb_block_based_table_index_type_two_level_index_search);
    rocksdb_block_based_options_set_partition_filters(table, 1);
    rocksdb_block_based_options_set_metadata_block_size(table, RDB_METADATA_BLOCK_BYTES);
    rocksdb_block_based_options_set_pin_top_level_index_and_filter(table, 1);
    rocksdb_cache_t *cache = rocksdb_cache_create_lru(cache_bytes);
    rocksdb_block_based_options_set_block_cache(table, cache);
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(table, 1);
    rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(table, 1);
    rocksdb_options_set_block_based_table_factory(opts, table);
    /* The table factory holds its own references to the cache and the filter policy. */
    rocksdb_cache_destroy(cache);
    rocksdb_block_based_options_destroy(table);
    return opts;
}

static rocksdb_t *s_open_db(const char *dir, const engine_rocksdb_options_t *o, bool compress,
                            char **err)
{
    rocksdb_options_t *opts = s_options(o, compress);
    rocksdb_t *db =
        o->read_only ? rocksdb_open_for_read_only(opts, dir, 0, err) : rocksdb_open(opts, dir, err);
    rocksdb_options_destroy(opts);
    return db;
}

/* Opens with LZ4; if this build of RocksDB lacks it, once more without compression. */
static rocksdb_t *s_open_compressed_if_possible(const char *dir, const engine_rocksdb_options_t *o,
                                                char **err)
{
    rocksdb_t *db = s_open_db(dir, o, true, err);
    if (db == NULL && *err != NULL && strstr(*err, "not linked") != NULL) {
        ROOST_WARN("engine", "rocksdb lacks lz4; opening without compression", "dir=%s", dir);
        rocksdb_free(*err);
        *err = NULL;
        db = s_open_db(dir, o, false, err);
    }
    return db;
}

engine_t *engine_rocksdb_open(const char *dir, const engine_rocksdb_options_t *opts, char *err,
                              size_t errcap)
{
    assert(dir != NULL);
    engine_rocksdb_options_t defaults = {0};
    const engine_rocksdb_options_t *o = opts ? opts : &defaults;
    char *rerr = NULL;
    rocksdb_t *db = s_open_compressed_if_possible(dir, o, &rerr);
    if (db == NULL) {
        if (errcap > 0)
            snprintf(err, errcap, "rocksdb open %s: %s", dir, rerr ? rerr : "unknown error");
        for (char *p = rerr; p && *p; p++)
            if (*p == '"' || *p == '\n')
                *p = '\'';
        ROOST_ERROR("engine", "rocksdb open failed", "dir=%s read_only=%d err=\"%s\"", dir,
                    o->read_only, rerr ? rerr : "unknown error");
        rocksdb_free(rerr);
        return NULL;
    }
    rdb_engine_t *self = roost_xcalloc(1, sizeof *self);
    engine_base_init(&self->base, &s_ops, "rocksdb");
    self->db = db;
    self->dir = roost_xstrdup(dir);
    self->wo_sync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(self->wo_sync, 1);
    self->wo_nosync = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(self->wo_nosync, 0);
    self->ro = rocksdb_readoptions_create();
    ROOST_INFO("engine", "rocksdb opened", "dir=%s read_only=%d", dir, o->read_only);
    return &self->base;
}

int engine_rocksdb_compact(engine_t *e)
{
    rdb_engine_t *self = s_cast(e);
    char *err = NULL;
    rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
    rocksdb_flushoptions_set_wait(fo, 1);
    rocksdb_flush(self->db, fo, &err);
    rocksdb_flushoptions_destroy(fo);
    if (err != NULL)
        return s_fail(self, "flush", err);
    rocksdb_compact_range(self->db, NULL, 0, NULL, 0);
    return ROOST_OK;
}

/* Whether RocksDB has a flush running or due, or a compaction running. Not its
 * "compaction-pending": under universal compaction that stays 1 while the level-0 score is 1
 * though the picker finds nothing worth merging. */
static bool s_background_busy(rdb_engine_t *self)
{
    static const char *const props[] = {"rocksdb.mem-table-flush-pending",
                                        "rocksdb.num-running-flushes",
                                        "rocksdb.num-running-compactions"};
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) {
        uint64_t v = 0;
        if (rocksdb_property_int(self->db, props[i], &v) != 0 || v != 0)
            return true;
    }
    return false;
}

int engine_rocksdb_wait_idle(engine_t *e, int timeout_ms)
{
    rdb_engine_t *self = s_cast(e);
    /* Idle twice in a row: a compaction a flush just scheduled shows as running by then. */
    for (int waited = 0, idle = 0; idle < 2; waited += RDB_IDLE_POLL_MS) {
        idle = s_background_busy(self) ? 0 : idle + 1;
        if (idle < 2 && waited >= timeout_ms)
            return ROOST_ETIMEDOUT;
        if (idle < 2)
            nanosleep(&(struct timespec){.tv_nsec = RDB_IDLE_POLL_MS * 1000000L}, NULL);
    }
    return ROOST_OK;
}

uint64_t engine_rocksdb_live_bytes(engine_t *e)
{
    uint64_t v = 0;
    if (rocksdb_property_int(s_cast(e)->db, "rocksdb.live-sst-files-size", &v) != 0)
        return 0;
    return v;
}

/* ---- engine ops ---------------------------------------------------------------------------- */

static void s_add(rocksdb_writebatch_t *wb, const engine_op_t *op)
{
    if (op->kind == ENGINE_OP_PUT)
        rocksdb_writebatch_put(wb, op->key, op->klen, op->val, op->vlen);
    else if (op->kind == ENGINE_OP_DELETE)
        rocksdb_writebatch_delete(wb, op->key, op->klen);
    else
        rocksdb_writebatch_delete_range(wb, op->key, op->klen, op->val, op->vlen);
}

static bool s_op_before(const engine_op_t *a, const engine_op_t *b)
{
    return engine_key_compare(a->key, a->klen, b->key, b->klen) < 0;
}

/* The batch's ops in key order (a stable insertion sort: ops on one key keep their order),
 * when it has no range delete and at most RDB_SORTED_OPS_MAX ops; false otherwise. */
static bool s_sorted(const engine_batch_t *batch, engine_op_t *ops, size_t *n)
{
    size_t pos = 0;
    engine_op_t op;
    *n = 0;
    while (engine_batch_next(batch, &pos, &op)) {
        if (op.kind == ENGINE_OP_DELETE_RANGE || *n == RDB_SORTED_OPS_MAX)
            return false; /* a range delete's place among the puts is part of its meaning */
        size_t i = (*n)++;
        for (; i > 0 && s_op_before(&op, &ops[i - 1]); i--)
            ops[i] = ops[i - 1];
        ops[i] = op;
    }
    return true;
}

/* The memtable is a skip list that keeps the last insert's position: an insert next to the
 * previous one costs a few comparisons, one elsewhere a search from the top. A store batch
 * interleaves its tables (a log entry, the state it applies, the applied point), so it goes
 * to RocksDB in key order. */
static rocksdb_writebatch_t *s_translate(const engine_batch_t *batch)
{
    rocksdb_writebatch_t *wb = rocksdb_writebatch_create();
    engine_op_t ops[RDB_SORTED_OPS_MAX], op;
    size_t n = 0, pos = 0;
    if (s_sorted(batch, ops, &n)) {
        for (size_t i = 0; i < n; i++)
            s_add(wb, &ops[i]);
        return wb;
    }
    while (engine_batch_next(batch, &pos, &op))
        s_add(wb, &op);
    return wb;
}

static int s_write(engine_t *e, const engine_batch_t *batch, bool sync)
{
    rdb_engine_t *self = s_cast(e);
    rocksdb_writebatch_t *wb = s_translate(batch);
    char *err = NULL;
    rocksdb_write(self->db, sync ? self->wo_sync : self->wo_nosync, wb, &err);
    rocksdb_writebatch_destroy(wb);
    return err ? s_fail(self, "write", err) : ROOST_OK;
}

static int s_sync(engine_t *e)
{
    rdb_engine_t *self = s_cast(e);
    char *err = NULL;
    rocksdb_flush_wal(self->db, 1, &err);
    return err ? s_fail(self, "sync", err) : ROOST_OK;
}

static int s_get(engine_t *e, const void *key, size_t klen, void **val, size_t *vlen)
{
    rdb_engine_t *self = s_cast(e);
    char *err = NULL;
    rocksdb_pinnableslice_t *ps = rocksdb_get_pinned(self->db, self->ro, key, klen, &err);
    if (err != NULL)
        return s_fail(self, "get", err);
    if (ps == NULL)
        return ROOST_ENOTFOUND;
    size_t n = 0;
    const char *v = rocksdb_pinnableslice_value(ps, &n);
    *val = roost_xmalloc(n);
    if (n)
        memcpy(*val, v, n);
    *vlen = n;
    rocksdb_pinnableslice_destroy(ps);
    return ROOST_OK;
}

static engine_iter_t *s_iter_new(engine_t *e, const void *lo, size_t lolen, const void *hi,
                                 size_t hilen, bool reverse)
{
    rdb_engine_t *self = s_cast(e);
    rdb_iter_t *it = roost_xcalloc(1, sizeof *it + lolen + hilen);
    it->base.ops = &s_iter_ops;
    it->base.engine = e;
    it->reverse = reverse;
    it->ro = rocksdb_readoptions_create();
    if (lo != NULL) {
        memcpy(it->bounds, lo, lolen);
        rocksdb_readoptions_set_iterate_lower_bound(it->ro, it->bounds, lolen);
    }
    if (hi != NULL) {
        memcpy(it->bounds + lolen, hi, hilen);
        rocksdb_readoptions_set_iterate_upper_bound(it->ro, it->bounds + lolen, hilen);
    }
    /* The iterator pins an implicit snapshot: it sees the database as of now. */
    it->it = rocksdb_create_iterator(self->db, it->ro);
    if (reverse)
        rocksdb_iter_seek_to_last(it->it); /* the last key < hi, honouring lo */
    else
        rocksdb_iter_seek_to_first(it->it); /* the first key >= lo */
    return &it->base;
}

static int s_approximate_size(engine_t *e, const void *lo, size_t lolen, const void *hi,
                              size_t hilen, uint64_t *bytes)
{
    rdb_engine_t *self = s_cast(e);
    /* No upper bound: a key greater than every key a batch accepts. */
    char ceiling[ENGINE_KEY_BYTES_MAX + 1];
    memset(ceiling, 0xFF, sizeof ceiling);
    const char *start = lo ? lo : "";
    size_t start_len = lo ? lolen : 0;
    const char *limit = hi ? hi : ceiling;
    size_t limit_len = hi ? hilen : sizeof ceiling;
    char *err = NULL;
    uint64_t size = 0;
    rocksdb_approximate_sizes(self->db, 1, &start, &start_len, &limit, &limit_len, &size, &err);
    if (err != NULL)
        return s_fail(self, "approximate_size", err);
    *bytes = size;
    return ROOST_OK;
}

static void s_destroy(engine_t *e)
{
    rdb_engine_t *self = s_cast(e);
    rocksdb_close(self->db);
    rocksdb_writeoptions_destroy(self->wo_sync);
    rocksdb_writeoptions_destroy(self->wo_nosync);
    rocksdb_readoptions_destroy(self->ro);
    ROOST_INFO("engine", "rocksdb closed", "dir=%s", self->dir);
    free(self->dir);
    free(self);
}

static const engine_ops_t s_ops = {
    .write = s_write,
    .sync = s_sync,
    .get = s_get,
    .iter_new = s_iter_new,
    .approximate_size = s_approximate_size,
    .destroy = s_destroy,
};

/* ---- iterator ------------------------------------------------------------------------------ */

static bool s_it_valid(const engine_iter_t *base)
{
    return rocksdb_iter_valid(((const rdb_iter_t *)base)->it) != 0;
}

static void s_it_next(engine_iter_t *base)
{
    rdb_iter_t *it = (rdb_iter_t *)base;
    if (it->reverse)
        rocksdb_iter_prev(it->it);
    else
        rocksdb_iter_next(it->it);
}

static const void *s_it_key(const engine_iter_t *base, size_t *len)
{
    return rocksdb_iter_key(((const rdb_iter_t *)base)->it, len);
}

static const void *s_it_value(const engine_iter_t *base, size_t *len)
{
    return rocksdb_iter_value(((const rdb_iter_t *)base)->it, len);
}

static int s_it_error(const engine_iter_t *base)
{
    const rdb_iter_t *it = (const rdb_iter_t *)base;
    char *err = NULL;
    rocksdb_iter_get_error(it->it, &err);
    return err ? s_fail(s_cast(it->base.engine), "iterate", err) : ROOST_OK;
}

static void s_it_destroy(engine_iter_t *base)
{
    rdb_iter_t *it = (rdb_iter_t *)base;
    rocksdb_iter_destroy(it->it);
    rocksdb_readoptions_destroy(it->ro);
    free(it);
}

static const engine_iter_ops_t s_iter_ops = {
    .valid = s_it_valid,
    .next = s_it_next,
    .key = s_it_key,
    .value = s_it_value,
    .error = s_it_error,
    .destroy = s_it_destroy,
};
