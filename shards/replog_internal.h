/* shards/replog_internal.h — the log actor's state and the helpers shared by replog.c (common:
 * activation, persistence, dispatch), replog_primary.c and replog_replica.c. */
#ifndef ROOST_REPLOG_INTERNAL_H
#define ROOST_REPLOG_INTERNAL_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/fault.h"
#include "shards/engine.h"
#include "shards/entry.h"
#include "shards/keys.h"
#include "shards/proto.h"
#include "shards/replog.h"
#include "shards/snapview.h"
#include "shards/store.h"
#include "shards/syncer.h"
#include "shards/tailcache.h"

enum {
    REPLOG_TICK_MS = 100,   /* primary: resend to lagging replicas, re-prepare */
    REPLOG_TIMER_FLUSH = 1, /* timer tags */
    REPLOG_TIMER_TICK = 2,
    REPLOG_TIMER_SCRUB = 3,
    REPLOG_DEFERRED_MAX = 10000, /* appends held while reconciling; more are refused eunavail */
    REPLOG_UNSYNCED_MAX = 8,     /* primary: unsynced batches told apart (more are merged) */
    REPLOG_REPAIR_GAP_MS = 100,  /* between fetch requests for a corrupt entry */
    REPLOG_TERM_SHIFT = 16,      /* term = map epoch << 16 | incarnation (see s_term_for) */
    /* Peers of one log: the current list, a handoff's next list and the previous list. */
    REPLOG_PEERS_MAX = 3 * PROTO_REPLICAS_MAX,
    REPLOG_HANDOFF_ASK_MS = 1000, /* between requests to the control plane (switch, settle) */
    /* A new replica this close to the commit point counts as caught up for the switch (the
     * rest streams while the new epoch reconciles; nothing waits on it). */
    REPLOG_HANDOFF_SLACK = 256,
    /* A new primary waits this long for a quorum of voting promises before it counts rejoining
     * replicas too (all of a majority restarted uncleanly under sync: none: the writes of the
     * loss window may be gone, and waiting longer would not bring them back). */
    REPLOG_REJOIN_GRACE_MS = 5000,
    REPLOG_RELABEL_BACK = 64, /* a replica asks for entries this far before a relabelled prev */
    REPLOG_TIMER_REBUILD = 4, /* resend a snapshot request that got no answer */
    REPLOG_REBUILD_RETRY_MS = 1000, /* … after this long */
    REPLOG_PIN_MS = 30000,          /* a snapshot source forgets an idle puller's pin */
    REPLOG_TRUNC_STEP = 1024,       /* truncate once this many entries are surplus */
};

/* Which of the partition's lists a peer is in (bits; a node can be in several). */
enum { PEER_CUR = 1, PEER_NEXT = 2, PEER_PREV = 4 };

typedef enum { ROLE_NONE = 0, ROLE_REPLICA, ROLE_RECONCILING, ROLE_SERVING } replog_role_t;

typedef struct pending {
    struct pending *next;
    uint64_t lsn;
    uint64_t at_ns;   /* when it arrived: commit latency */
    roost_env_t *req; /* the kept STORE_APPEND (or STORE_OPEN) request, answered at commit */
} pending_t;

/* An acknowledgement held until the entries it covers are synced. */
typedef struct {
    bool set;
    uint32_t to;
    msg_ack_t m;
    uint64_t writes; /* engine_writes() after those entries were written */
} held_ack_t;

/* Entries up to lsn, written when engine_writes() read `writes`: durable once a sync answer
 * covers that count (syncer.h). */
typedef struct {
    uint64_t writes, lsn;
} unsynced_t;

typedef struct {
    store_t *store;
    engine_t *engine;
    uint32_t partition, self;
    /* mirrors of the durable state */
    uint64_t promised;             /* highest epoch promised (synced before answering) */
    uint64_t last_lsn, last_epoch; /* the last entry in the local log */
    uint64_t applied_lsn;          /* entries applied to the state table */
    uint64_t commit_lsn;           /* highest entry known committed (>= applied) */
    uint64_t end_epoch, end_lsn;   /* a replica: the furthest end of its primary's log that
                                      epoch end_epoch's appends announced */
    /* role, from the cluster map */
    replog_role_t role;
    uint64_t role_base; /* the map's epoch for this partition, << REPLOG_TERM_SHIFT */
    uint64_t epoch;     /* the term: ours when leading, else role_base */
    uint32_t primary;
    /* the union of the map's lists for this partition: every per-peer array is indexed alike */
    uint32_t npeers;
    uint32_t peers[REPLOG_PEERS_MAX];
    uint8_t peer_in[REPLOG_PEERS_MAX]; /* PEER_* bits */
    uint64_t acked[REPLOG_PEERS_MAX];  /* primary: last lsn each peer has durably */
    bool promised_by[REPLOG_PEERS_MAX];
    bool heard[REPLOG_PEERS_MAX];          /* primary: answered an append in this term */
    bool nonvoting[REPLOG_PEERS_MAX];      /* primary: its acks say rejoining: they do not count */
    bool rejoin_promise[REPLOG_PEERS_MAX]; /* primary: promised while rejoining: never counts
                                            * in this reconciliation (its tail may miss
                                            * acknowledged entries, caught up or not) */
    uint64_t recon_started_ns;             /* primary: when this epoch's reconciliation began */
    uint64_t recon_epoch;                  /* … the epoch it began for (a rebuild that cuts it
                                            * short resumes it: the grace is not waited twice) */
    bool adopt_lossy;                      /* … its quorum counts rejoining promises: the adopted
                                            * tail ends with a fence entry (STORE_FENCE_KEY) */
    bool rejoining;                        /* replica: sync none, unclean restart, not caught up */
    uint64_t rejoin_target;                /* … until it holds this lsn (its primary's commit) */
    uint64_t rejoin_epoch;                 /* … in this epoch (a later one sets it again) */
    uint64_t recon_from;                   /* reconciling: first lsn not known committed */
    uint64_t best_epoch, best_lsn;         /* reconciling: the most up-to-date tail seen */
    uint32_t best_node;                    /* whose it is */
    uint64_t best_have;                    /* last lsn of it already copied into our own log */
    bool best_rebuild; /* the best is a rejoining replica whose log no longer reaches back to
                        * what we lack: adopting it means rebuilding from its snapshot */
    bool catchup[REPLOG_PEERS_MAX];           /* primary: streaming missing entries to it */
    uint64_t sent_commit[REPLOG_PEERS_MAX];   /* primary: the commit point last told to it */
    uint64_t acked_at_tick[REPLOG_PEERS_MAX]; /* primary: acked[] at the previous tick */
    uint64_t behind_reported;                 /* primary: our share of store->stats.behind */
    uint64_t hints_reported;                  /* … of store->stats.hints */
    bool moving_reported;                     /* … of store->stats.handoffs */
    uint64_t handoff_asked_ns;                /* primary: last request to the control plane */
    /* group commit */
    engine_batch_t *gc;
    msgpack_sbuffer gc_records; /* the same entries, as records for the replicas */
    uint32_t gc_count;
    uint64_t gc_prev_lsn, gc_prev_epoch;
    bool flush_armed;
    bool gc_held; /* the replog.hold_flush fault holds the batch: only a later append frees it */
    bool ticking;
    /* cross-partition group commit (syncer.h): at most one sync request outstanding; writes
     * go on meanwhile, and each answer says which of them it made durable */
    bool syncing;                             /* a MSG_SYNC_REQ is outstanding */
    uint64_t write_upto;                      /* primary: entries written (unsynced) so far */
    unsynced_t unsynced[REPLOG_UNSYNCED_MAX]; /* primary: written batches not known durable */
    uint32_t nunsynced;
    held_ack_t ack_ready, ack_wait; /* replica: the older and the newer held acknowledgement */
    pending_t *pending, *pending_tail;
    /* repair: the lowest entry found corrupt, fetched from the other replicas */
    uint64_t corrupt_lsn;
    uint64_t now_ns;       /* the clock as of the message or timer being handled */
    uint64_t scrub_next;   /* the scrubber's next entry to re-read (wraps to 1 past the end) */
    uint64_t scrub_credit; /* the scrubber's share left over from earlier rounds, in reads
                            * × 1000 × logs (replog_scrub_budget): rarely a whole number */
    /* retention: the log holds [first_lsn, last_lsn]; entry first_lsn - 1 had first_epoch */
    uint64_t first_lsn, first_epoch;
    /* rebuild (replog_snapshot.c), as the puller */
    bool rebuilding;
    uint32_t rebuild_from;    /* the source node */
    uint64_t rebuild_start;   /* the source's pin: its snapshot point + 1 (0: none yet) */
    uint64_t rebuild_epoch;   /* the asking primary's term (0: we pull as a new primary) */
    uint64_t rebuild_sent_ns; /* the last request */
    uint8_t rebuild_after[KEY_BYTES_MAX];
    size_t rebuild_after_len; /* the last key received */
    /* … and as a source: pullers' snapshot points, below which nothing is truncated, and the
     * views of the state at each (snapview.h) */
    struct {
        uint32_t node;
        uint64_t start, at_ns;
        snapview_t *view;
    } pins[REPLOG_PEERS_MAX];
    uint64_t rebuild_told_ns[REPLOG_PEERS_MAX]; /* primary: last LOG_REBUILD to that peer */
    uint64_t repair_sent_ns;
    /* appends that arrived while reconciling: served in order once serving (bounded) */
    roost_env_t *deferred, *deferred_tail;
    uint32_t ndeferred;
    tailcache_t tail; /* the newest records, as written (tailcache.h) */
} replog_t;

/* replog.c */
int replog_persist_promise(replog_t *r, uint64_t epoch);
int replog_read_entry(replog_t *r, uint64_t lsn, void **rec, size_t *len, log_entry_t *e);
/* Entry lsn from the tail cache, or else read as replog_read_entry does: *owned is the
 * record's memory to free() (NULL when it came from the cache, which keeps it). */
int replog_entry(replog_t *r, uint64_t lsn, void **owned, log_entry_t *e);
int replog_apply_to(replog_t *r, uint64_t lsn);
/* Applying in a caller's write: replog_apply_add puts into b the effect of the committed
 * entries (applied_lsn, lsn] — up to the first unreadable one, whose error it returns — with
 * the new applied point and the log's cut; once b is written, replog_applied records them. */
typedef struct {
    uint64_t upto;           /* the applied point b brings (applied_lsn: nothing added) */
    uint64_t cut, cut_epoch; /* the log cut it brings (0: none) */
} replog_apply_t;
int replog_apply_add(replog_t *r, engine_batch_t *b, uint64_t lsn, replog_apply_t *a);
void replog_applied(replog_t *r, const replog_apply_t *a);
void replog_send(roost_ctx_t *ctx, replog_t *r, uint32_t node, uint32_t type,
                 const msgpack_sbuffer *payload);
/* The peer index of node (any list), or -1. */
int replog_replica_index(const replog_t *r, uint32_t node);
/* Whether peer i is in any of the lists in `lists` (PEER_* bits). */
static inline bool replog_peer_in(const replog_t *r, uint32_t i, uint8_t lists)
{
    return (r->peer_in[i] & lists) != 0;
}
/* Peers in any of `lists`, and of those, how many pass `flags` (NULL: all). */
static inline uint32_t replog_count(const replog_t *r, uint8_t lists, const bool *flags)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->npeers; i++)
        n += replog_peer_in(r, i, lists) && (!flags || flags[i]);
    return n;
}
/* A majority of the list, or true when the list is not set. */
static inline bool replog_quorum_of(const replog_t *r, uint8_t list, const bool *flags)
{
    uint32_t size = replog_count(r, list, NULL);
    return size == 0 || replog_count(r, list, flags) >= size / 2 + 1;
}
uint32_t replog_sender_node(const roost_env_t *env);
/* Appends records lsn [from, to] (at most PROTO_RECORDS_MAX) to out; returns how many. */
uint32_t replog_collect(replog_t *r, uint64_t from, uint64_t to, msgpack_sbuffer *out);
void replog_fail_pending(roost_ctx_t *ctx, replog_t *r, int code);
/* Sets this partition's share of the store's lag figures: behind (entries its slowest replica
 * lacks), hints (entries held for every replica that lacks them, new replicas included) and
 * whether a handoff is under way. */
void replog_report(replog_t *r, uint64_t behind, uint64_t hints, bool moving);

/* The epoch of entry lsn in our log (0 if we have none); lsn first_lsn - 1 counts. */
uint64_t replog_epoch_of(replog_t *r, uint64_t lsn);

/* replog_fence.c */
/* A lossy adoption's last entry, at lsn, into b (rec: its encoding); best_lsn moves to it. */
void replog_put_fence(replog_t *r, engine_batch_t *b, uint64_t lsn, msgpack_sbuffer *rec);
/* The term e's fence sets (one put of STORE_FENCE_KEY), 0 if it is not a fence. */
uint64_t replog_fence_of(const log_entry_t *e);
/* The newest fence the partition's state holds (applied or rebuilt from), 0 if none. */
uint64_t replog_state_fence(replog_t *r);

/* replog_snapshot.c */
/* Primary: peer i needs entries truncated here: tell it to pull a snapshot (rate-limited). */
void replog_ask_rebuild(roost_ctx_t *ctx, replog_t *r, int i);
/* Starts (or keeps) pulling a snapshot from `node`. */
void replog_rebuild_from(roost_ctx_t *ctx, replog_t *r, uint32_t node);
void replog_on_rebuild(roost_ctx_t *ctx, replog_t *r, roost_env_t *env);
void replog_on_snap_req(roost_ctx_t *ctx, replog_t *r, roost_env_t *env);
void replog_on_snap(roost_ctx_t *ctx, replog_t *r, roost_env_t *env);
void replog_rebuild_retry(roost_ctx_t *ctx, replog_t *r);
/* The lowest snapshot point a live pin holds (UINT64_MAX: none). */
uint64_t replog_pinned(replog_t *r, uint64_t now_ns);
/* Ends every pin (passivation). */
void replog_unpin_all(replog_t *r);

/* replog_repair.c */
/* Asks the other replicas for a copy of the corrupt entry, if one is known (rate-limited). */
void replog_repair_poll(roost_ctx_t *ctx, replog_t *r);
void replog_on_fetch(roost_ctx_t *ctx, replog_t *r, roost_env_t *env);
void replog_on_fetched(roost_ctx_t *ctx, replog_t *r, roost_env_t *env);
/* Reads a scrubber round may do: the share of per_s over `ms` and `logs` logs, with the
 * fraction carried in *credit to the next round (so no share is rounded up or lost). */
uint64_t replog_scrub_budget(uint64_t *credit, uint64_t per_s, uint64_t ms, uint32_t logs);
/* Starts the scrubber's timer (on activation), at a random phase of its interval: logs
 * activated together do not scrub together. */
void replog_scrub_start(roost_ctx_t *ctx, replog_t *r);
/* One scrubber round: re-reads this log's share of the node's budget, from where the last
 * round stopped; a corrupt entry is recorded and fetched from the other replicas. */
void replog_scrub(roost_ctx_t *ctx, replog_t *r);

/* replog_primary.c */
void replog_become_primary(roost_ctx_t *ctx, replog_t *r);
/* Before leading again under a newer term: unwritten entries' requests go back to wait. */
void replog_relead(replog_t *r);
void replog_on_append_request(roost_ctx_t *ctx, replog_t *r, roost_env_t *env);
/* Appends the batch of a kept STORE_APPEND request (takes ownership of env). */
void replog_append_kept(roost_ctx_t *ctx, replog_t *r, roost_env_t *env);
void replog_flush(roost_ctx_t *ctx, replog_t *r);
void replog_on_ack(roost_ctx_t *ctx, replog_t *r, roost_env_t *env);
void replog_on_promise(roost_ctx_t *ctx, replog_t *r, roost_env_t *env);
void replog_tick(roost_ctx_t *ctx, replog_t *r);
/* replog_handoff.c — while serving, moves a handoff along (asked from the tick). */
void replog_handoff_poll(roost_ctx_t *ctx, replog_t *r);
void replog_step_down(roost_ctx_t *ctx, replog_t *r, const char *why);
/* Asks the node's syncer for a sync unless one is outstanding (a write made meanwhile is
 * covered by that one or, from its answer, asked again). 0 or ROOST_EUNAVAIL (no syncer). */
int replog_request_sync(roost_ctx_t *ctx, replog_t *r);
/* The primary's side of MSG_SYNC_DONE: its own copy of the entries it covered is durable. */
void replog_primary_synced(roost_ctx_t *ctx, replog_t *r, sync_done_t done);
/* The engine writes a successful sync answer made durable: those counted before its fsync
 * began (syncer.h). (A planted bug for the simulator to catch, the fault point
 * `replog.plant_sync_all`: every write so far, those after the fsync began too.) */
static inline uint64_t replog_sync_covered(sync_done_t done)
{
    return roost_fault("replog.plant_sync_all") ? UINT64_MAX : done.covered;
}
/* Becomes SERVING and serves the appends deferred while reconciling. */
void replog_start_serving(roost_ctx_t *ctx, replog_t *r);

/* replog_replica.c */
void replog_on_prepare(roost_ctx_t *ctx, replog_t *r, roost_env_t *env);
void replog_on_append(roost_ctx_t *ctx, replog_t *r, roost_env_t *env);
/* The replica's side of MSG_SYNC_DONE: release the acks the sync covered. */
void replog_replica_synced(roost_ctx_t *ctx, replog_t *r, sync_done_t done);
/* Writes the records of a view into the local log, in lsn order, replacing older-epoch entries
 * from the first differing lsn on; stops at a gap. 0, ROOST_EPROTO (a corrupt record),
 * ROOST_ESTALE (one that would rewrite a committed entry: this copy's history is not the
 * sender's) or ROOST_EIO. *matched (if not NULL) is the last lsn
 * now known to equal the sender's (stored or already identical), 0 if none. Committed entries
 * up to apply_upto (0: none) that this write leaves alone are applied in the same write. */
int replog_store_records(replog_t *r, const msg_view_t *v, bool sync, uint64_t apply_upto,
                         uint64_t *matched);

#endif
