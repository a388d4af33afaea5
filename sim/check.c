/* sim/check.c — when a run is quiet, and the invariants checked over its end state:
 *   1. every acknowledged write is in the state of every replica of its partition (and on
 *      the primary's), with its value;
 *   2. per partition, the replicas' logs agree on every lsn they share (the same batch): no
 *      two different entries at one lsn survive, and nothing acknowledged in an epoch is
 *      missing from a later one's log. The epoch stamps may differ: a new primary re-stamps the
 *      tail it adopts while re-replicating it to a quorum, and a replica outside that quorum
 *      keeps its older stamp on the same batch (counted as `restamped`; harmless, since a
 *      stale stamp only makes that copy look older to the next reconciliation);
 *   3. per partition, the replicas' state tables are identical;
 *   4. liveness: after the faults stop, every write is answered, every replica catches up and
 *      every voter has applied the newest map within a bounded simulated time (the caller's
 *      quiet deadline);
 *   5. the control plane: every voter applied the same map at each version (raft.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/hash.h"
#include "shards/entry.h"
#include "shards/keys.h"
#include "shards/proto.h"
#include "sim/check.h"

static uint64_t s_applied(engine_t *e, uint32_t p)
{
    uint8_t k[KEY_META_BYTES];
    key_meta(k, p, KEY_META_APPLIED);
    void *v = NULL;
    size_t len = 0;
    uint64_t lsn = 0;
    if (engine_get(e, k, sizeof k, &v, &len) == ROOST_OK && len == 8)
        lsn = key_get_be64(v);
    free(v);
    return lsn;
}

bool sim_world_quiet(sim_world_t *w)
{
    if (w->first_pending < w->nwrites || clustermap_moving(w->map) != 0 ||
        !sim_world_configured(w) || (w->chat && !sim_chat_quiet(w)))
        return false;
    for (uint32_t id = 1; id <= w->nodes; id++) {
        const clustermap_member_t *m = clustermap_member_by_id(w->map, id);
        if (!w->shard[id].up || w->shard[id].disk_failed || (m && m->status != CLUSTERMAP_UP))
            return false;
    }
    for (uint32_t id = 1; id <= sim_raft_voters(w->raft); id++)
        if (clustermap_version(sim_raft_map(w->raft, id)) != clustermap_version(w->map))
            return false;
    for (uint32_t p = 0; p < w->cfg.partitions; p++) {
        uint32_t ids[PROTO_REPLICAS_MAX];
        uint32_t n = clustermap_replicas_of(w->map, p, ids, PROTO_REPLICAS_MAX);
        uint64_t first = s_applied(w->shard[ids[0]].engine, p);
        for (uint32_t i = 1; i < n; i++)
            if (s_applied(w->shard[ids[i]].engine, p) != first)
                return false;
    }
    return true;
}

void sim_world_report(sim_world_t *w)
{
    fprintf(stderr, "writes pending from %u of %u; partitions moving: %u; control leader s%u\n",
            w->first_pending, w->nwrites, clustermap_moving(w->map), sim_raft_leader(w->raft));
    for (uint32_t id = 1; id <= w->nodes; id++) {
        const clustermap_member_t *m = clustermap_member_by_id(w->map, id);
        fprintf(stderr, "s%u: %s%s, map says %s", id, w->shard[id].up ? "up" : "down",
                w->shard[id].disk_failed ? " (disk failed)" : "",
                m && m->status == CLUSTERMAP_UP ? "up" : "down");
        if (id <= sim_raft_voters(w->raft))
            fprintf(stderr, "; it applied map v%llu of v%llu",
                    (unsigned long long)clustermap_version(sim_raft_map(w->raft, id)),
                    (unsigned long long)clustermap_version(w->map));
        fputc('\n', stderr);
        if (id <= sim_raft_voters(w->raft)) {
            char raft[256];
            sim_raft_describe(w->raft, id, raft, sizeof raft);
            fprintf(stderr, "  control plane: %s\n", raft);
        }
    }
    for (uint32_t p = 0; p < w->cfg.partitions; p++) {
        uint32_t ids[PROTO_REPLICAS_MAX];
        uint32_t n = clustermap_replicas_of(w->map, p, ids, PROTO_REPLICAS_MAX);
        fprintf(stderr, "partition %u (epoch %llu, primary s%u): applied", p,
                (unsigned long long)clustermap_epoch_of(w->map, p),
                clustermap_primary_of(w->map, p));
        for (uint32_t i = 0; i < n; i++)
            fprintf(stderr, " s%u=%llu", ids[i],
                    (unsigned long long)s_applied(w->shard[ids[i]].engine, p));
        n = clustermap_next_of(w->map, p, ids, PROTO_REPLICAS_MAX);
        for (uint32_t i = 0; i < n; i++)
            fprintf(stderr, "%s s%u=%llu", i ? "" : "; handing off to", ids[i],
                    (unsigned long long)s_applied(w->shard[ids[i]].engine, p));
        n = clustermap_prev_of(w->map, p, ids, PROTO_REPLICAS_MAX);
        for (uint32_t i = 0; i < n; i++)
            fprintf(stderr, "%s s%u", i ? "" : "; not settled from", ids[i]);
        fputc('\n', stderr);
    }
}

static void s_violation(sim_check_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_violation(sim_check_t *c, const char *fmt, ...)
{
    if (c->violations++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->first, sizeof c->first, fmt, ap);
        va_end(ap);
    }
}

bool sim_loss_hits(const sim_world_t *w, uint32_t i, uint32_t p)
{
    return p == SIM_ANY_PARTITION || p >= 64 || (w->losses[i].parts >> p & 1u);
}

/* sync: none's documented loss window: a power loss of a majority of the replicas between a
 * write reaching them and the OS writing it back can take an acknowledged write. Whether that
 * many distinct nodes of p's lists lost power in [acked - the client's timeout, acked +
 * write-back] (the widest span the write can have been on a disk unsynced: a loose bound). A
 * disk that failed writes nothing back any more, so a node's power loss after its disk failed
 * counts from the failure. */
bool sim_in_loss_window(const sim_world_t *w, uint32_t p, uint64_t acked_ns)
{
    if (!w->writeback_ns)
        return false;
    bool lost[SIM_SHARDS_MAX + 1] = {false};
    uint32_t distinct = 0, rf = w->cfg.nodes < 3 ? w->cfg.nodes : 3;
    for (uint32_t i = 0; i < w->nlosses; i++)
        if (w->losses[i].at_ns + SIM_WRITE_TIMEOUT_MS * 1000000ull >= acked_ns &&
            w->losses[i].at_ns <= acked_ns + w->writeback_ns && !lost[w->losses[i].node] &&
            sim_loss_hits(w, i, p)) {
            lost[w->losses[i].node] = true;
            distinct++;
        }
    return distinct >= rf / 2 + 1;
}

bool sim_partition_lost_since(const sim_world_t *w, uint32_t p, uint64_t since_ns)
{
    /* Whether sim_in_loss_window holds at some t ≥ since: the losses it counts for t are those
     * in [t - timeout, t + write-back], so the count is highest just as one comes into reach —
     * at since itself, or at some loss's L - write-back after it. Before session 14 only
     * L + timeout for L ≥ since was tried, which missed losses shortly before since that took
     * a write acknowledged at since (seed 108: a claim answered from a registration written
     * before the disk failures and power losses that then took it). */
    if (sim_in_loss_window(w, p, since_ns))
        return true;
    for (uint32_t i = 0; i < w->nlosses; i++) {
        uint64_t at = w->losses[i].at_ns;
        if (at >= since_ns + w->writeback_ns && sim_loss_hits(w, i, p) &&
            sim_in_loss_window(w, p, at - w->writeback_ns))
            return true;
    }
    return false;
}

/* 1. acknowledged writes (under sync: none, except inside its loss window) */
static void s_check_acked(sim_world_t *w, sim_check_t *c)
{
    for (uint32_t i = 0; i < w->nwrites; i++) {
        if (w->writes[i].status != WRITE_ACKED)
            continue;
        c->acked++;
        char key[32], want[32];
        int klen = snprintf(key, sizeof key, "kv:%u", i);
        int wlen = snprintf(want, sizeof want, "v%u", i);
        uint32_t p = roost_partition_of(key, (size_t)klen, w->cfg.partitions);
        bool excused = sim_in_loss_window(w, p, w->writes[i].acked_ns), lost = false;
        uint8_t k[KEY_BYTES_MAX];
        size_t kn = key_state(k, p, key, (size_t)klen);
        uint32_t ids[PROTO_REPLICAS_MAX];
        uint32_t n = clustermap_replicas_of(w->map, p, ids, PROTO_REPLICAS_MAX);
        for (uint32_t r = 0; r < n; r++) {
            void *v = NULL;
            size_t len = 0;
            int rc = engine_get(w->shard[ids[r]].engine, k, kn, &v, &len);
            if ((rc != ROOST_OK || len != (size_t)wlen || memcmp(v, want, len) != 0) &&
                !(lost = excused))
                s_violation(c, "acknowledged write %s (partition %u) is %s on s%u", key, p,
                            rc == ROOST_OK ? "wrong" : "missing", ids[r]);
            free(v);
        }
        c->lost_in_window += lost;
    }
}

/* (lsn, epoch, checksum) of every entry of p's log on one engine; returns the count. */
static size_t s_log(engine_t *e, uint32_t p, uint64_t (**out)[3])
{
    uint8_t lo[KEY_PREFIX_BYTES], hi[KEY_PREFIX_BYTES];
    key_prefix(lo, p, KEY_TABLE_LOG);
    key_prefix(hi, p, KEY_TABLE_LOG + 1);
    size_t n = 0, cap = 0;
    *out = NULL;
    engine_iter_t *it = engine_iter_new(e, lo, sizeof lo, hi, sizeof hi);
    for (; engine_iter_valid(it); engine_iter_next(it)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            *out = realloc(*out, cap * sizeof **out);
        }
        size_t len;
        const void *v = engine_iter_value(it, &len);
        log_entry_t entry;
        if (entry_decode(v, len, &entry) != 0) {
            (*out)[n][0] = (*out)[n][1] = (*out)[n][2] = 0; /* corrupt: never equal */
        } else {
            (*out)[n][0] = entry.lsn;
            (*out)[n][1] = entry.epoch;
            (*out)[n][2] = entry_checksum(entry.ops, entry.ops_len);
        }
        n++;
    }
    engine_iter_destroy(&it);
    return n;
}

/* 2. the logs agree wherever they overlap */
static void s_check_logs(sim_world_t *w, uint32_t p, const uint32_t *ids, uint32_t n,
                         sim_check_t *c)
{
    uint64_t(*a)[3] = NULL;
    size_t na = s_log(w->shard[ids[0]].engine, p, &a);
    for (uint32_t r = 1; r < n; r++) {
        uint64_t(*b)[3] = NULL;
        size_t nb = s_log(w->shard[ids[r]].engine, p, &b);
        for (size_t i = 0, j = 0; i < na && j < nb;) {
            if (a[i][0] < b[j][0]) {
                i++;
            } else if (a[i][0] > b[j][0]) {
                j++;
            } else {
                if (a[i][2] != b[j][2])
                    s_violation(c,
                                "partition %u lsn %llu: s%u and s%u hold different batches "
                                "(epochs %llu and %llu)",
                                p, (unsigned long long)a[i][0], ids[0], ids[r],
                                (unsigned long long)a[i][1], (unsigned long long)b[j][1]);
                else if (a[i][1] != b[j][1])
                    c->restamped++;
                i++, j++;
            }
        }
        free(b);
    }
    c->log_entries += na;
    free(a);
}

/* A digest of p's whole state table on one engine. */
static uint64_t s_state_digest(engine_t *e, uint32_t p)
{
    uint8_t lo[KEY_PREFIX_BYTES], hi[KEY_PREFIX_BYTES];
    key_prefix(lo, p, KEY_TABLE_STATE);
    key_prefix(hi, p, KEY_TABLE_STATE + 1);
    uint64_t h = 0;
    engine_iter_t *it = engine_iter_new(e, lo, sizeof lo, hi, sizeof hi);
    for (; engine_iter_valid(it); engine_iter_next(it)) {
        size_t kl, vl;
        const void *k = engine_iter_key(it, &kl);
        const void *v = engine_iter_value(it, &vl);
        uint64_t words[3] = {h, roost_hash64(k, kl), roost_hash64(v, vl)};
        h = roost_hash64(words, sizeof words);
    }
    engine_iter_destroy(&it);
    return h;
}

void sim_check(sim_world_t *w, sim_check_t *c)
{
    memset(c, 0, sizeof *c);
    if (w->chat) {
        sim_chat_check(w, &c->chat);
        c->violations += c->chat.violations;
        snprintf(c->first, sizeof c->first, "%s", c->chat.first);
    }
    sim_raft_stats_t rs;
    sim_raft_stats(w->raft, &rs);
    if (rs.diverged)
        s_violation(c, "%s", rs.first_divergence);
    s_check_acked(w, c);
    for (uint32_t p = 0; p < w->cfg.partitions; p++) {
        uint32_t ids[PROTO_REPLICAS_MAX];
        uint32_t n = clustermap_replicas_of(w->map, p, ids, PROTO_REPLICAS_MAX);
        s_check_logs(w, p, ids, n, c);
        uint64_t first = s_state_digest(w->shard[ids[0]].engine, p);
        for (uint32_t r = 1; r < n; r++)
            if (s_state_digest(w->shard[ids[r]].engine, p) != first)
                s_violation(c, "partition %u: the state of s%u differs from s%u's", p, ids[r],
                            ids[0]);
        uint64_t words[2] = {c->state_digest, first};
        c->state_digest = roost_hash64(words, sizeof words);
    }
}
