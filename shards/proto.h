/* shards/proto.h — the messages of the store: the store API's request, and the replication
 * protocol between a partition's log replicas (`@<node>:<partition>/log` actors). Payloads are
 * msgpack arrays (schemas/replication.md); every decoder refuses malformed input (ROOST_EPROTO).
 *
 *   STORE_APPEND  actor → own node's log   ops batch                  → response [lsn]
 *   LOG_ROLE      daemon → log             [epoch, primary, [replicas…], [next…], [prev…]]
 *   LOG_RETIRE    daemon → log             []   (this node holds no copy any more: drop it)
 *   LOG_PREPARE   primary → replica        [epoch, from_lsn]
 *   LOG_PROMISE   replica → primary        [epoch, ok, promised, last_epoch, last_lsn, rejoining,
 *                                           first_lsn, [records]]
 *   LOG_APPEND    primary → replica        [epoch, prev_lsn, prev_epoch, commit_lsn, [records]]
 *   LOG_ACK       replica → primary        [epoch, status, lsn, promised]
 *   LOG_FETCH     any → other replicas     [lsn]                      (repair of a corrupt entry)
 *   LOG_FETCHED   answer                   [lsn, record]
 *   LOG_REBUILD   primary → replica        [epoch]          (entries it lacks are truncated)
 *   LOG_SNAP_REQ  puller → source          [pin, after_key]   (pin: snapshot lsn + 1; 0: a new one)
 *   LOG_SNAP      source → puller          [pin, start_epoch, done, after_key, [[key, value]…]]
 *                                           (pin 0: lost; after_key: the request's, echoed)
 */
#ifndef ROOST_PROTO_H
#define ROOST_PROTO_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    MSG_STORE_APPEND = 0x5100,
    MSG_STORE_APPENDED,
    MSG_LOG_ROLE,
    MSG_LOG_PREPARE,
    MSG_LOG_PROMISE,
    MSG_LOG_APPEND,
    MSG_LOG_ACK,
    MSG_LOG_FETCH,    /* [lsn]: send me your copy of entry lsn (mine is corrupt) */
    MSG_LOG_FETCHED,  /* [lsn, record]: a copy, or [lsn, nil] when yours is bad too */
    MSG_STORE_OPEN,   /* actor → log: answer [lsn] once every entry so far is applied */
    MSG_LOG_RETIRE,   /* daemon → log: the map names this node in no list of the partition */
    MSG_LOG_REBUILD,  /* primary → replica [epoch]: what you lack is truncated here: pull */
    MSG_LOG_SNAP_REQ, /* puller → source [pin, after_key]: the next chunk of state */
    MSG_LOG_SNAP,     /* source → puller [pin, start_epoch, done, [[key, value]…]] */
};

enum {
    PROTO_REPLICAS_MAX = 5,   /* RF ceiling */
    PROTO_RECORDS_MAX = 1024, /* entries per APPEND/PROMISE: larger gaps go in rounds */
    PROTO_MSG_BYTES_MAX = 8 * 1024 * 1024,
};

/* ACK_REJOINING: stored like ACK_OK, but the replica restarted uncleanly under sync: none and
 * has not caught up yet: it must not count toward a quorum (it may have lost acknowledged
 * entries). */
enum { ACK_OK = 0, ACK_REFUSED = 1, ACK_GAP = 2, ACK_FAILED = 3, ACK_REJOINING = 4 };
enum { ACK_STATUS_MAX = ACK_REJOINING }; /* the decoder refuses anything above */

/* The partition's lists from the cluster map: replicas (the current configuration), next (a
 * handoff's target, nnext 0 when none) and prev (the configuration before the last handoff,
 * until it settles; nprev 0 when none). */
typedef struct {
    uint64_t epoch;
    uint32_t primary;
    uint32_t nreplicas, nnext, nprev;
    uint32_t replicas[PROTO_REPLICAS_MAX];
    uint32_t next[PROTO_REPLICAS_MAX];
    uint32_t prev[PROTO_REPLICAS_MAX];
} msg_role_t;

typedef struct {
    uint64_t epoch, from_lsn;
} msg_prepare_t;

typedef struct {
    uint64_t epoch, promised, last_epoch, last_lsn;
    bool ok;
    bool rejoining;     /* a non-voter until caught up (see ACK_REJOINING) */
    uint64_t first_lsn; /* its oldest entry: below it the log is truncated (1: nothing is) */
} msg_promise_t;

/* A chunk of a partition's state for a rebuild (decoded as a view into the message). */
typedef struct {
    msgpack_unpacked up;
    uint64_t pin, start_epoch;
    bool done;
    const void *after; /* the request's after_key: which chunk this answers */
    size_t after_len;
    const msgpack_object *pairs; /* each an array [bin key, bin value] */
    uint32_t npairs;
} msg_snap_t;

typedef struct {
    uint64_t epoch, prev_lsn, prev_epoch, commit_lsn;
    uint64_t last_lsn; /* the end of the primary's log in this epoch (0: not known — still
                          reconciling — or not sent, by an older node) */
} msg_append_t;

typedef struct {
    uint64_t epoch, lsn, promised;
    int status;
} msg_ack_t;

/* Records travel as a msgpack array of bin (each an entry.h record). A view over received
 * records: count and raw pointers into the message. */
typedef struct {
    msgpack_unpacked up;
    const msgpack_object *records;
    uint32_t nrecords;
} msg_view_t;

void msg_role_encode(msgpack_sbuffer *out, const msg_role_t *m);
/* Partition p's role message as the cluster map has it (what a node tells its log replica;
 * the daemon and the simulator both translate the map with this). */
struct clustermap;
void msg_role_from_map(const struct clustermap *map, uint32_t p, msg_role_t *out);
void msg_prepare_encode(msgpack_sbuffer *out, const msg_prepare_t *m);
void msg_ack_encode(msgpack_sbuffer *out, const msg_ack_t *m);
/* The records array is appended by the caller: pass nrecords, then msg_record_append each. */
void msg_promise_begin(msgpack_sbuffer *out, const msg_promise_t *m, uint32_t nrecords);
void msg_append_begin(msgpack_sbuffer *out, const msg_append_t *m, uint32_t nrecords);
/* After an append's records: its last field (m->last_lsn). */
void msg_append_end(msgpack_sbuffer *out, const msg_append_t *m);
void msg_record_append(msgpack_sbuffer *out, const void *rec, size_t len);
void msg_fetch_encode(msgpack_sbuffer *out, uint64_t lsn);
void msg_fetched_encode(msgpack_sbuffer *out, uint64_t lsn, const void *rec, size_t len);
int msg_fetch_decode(const void *data, size_t len, uint64_t *lsn);
/* The record points into data. */
int msg_fetched_decode(const void *data, size_t len, uint64_t *lsn, const void **rec, size_t *rlen,
                       msgpack_unpacked *up);

void msg_rebuild_encode(msgpack_sbuffer *out, uint64_t epoch);
int msg_rebuild_decode(const void *data, size_t len, uint64_t *epoch);
void msg_snap_req_encode(msgpack_sbuffer *out, uint64_t pin, const void *after, size_t after_len);
/* *after points into data (valid while up lives; the caller destroys up). */
int msg_snap_req_decode(const void *data, size_t len, uint64_t *pin, const void **after,
                        size_t *after_len, msgpack_unpacked *up);
/* The pairs are appended by the caller: begin with npairs, then msg_snap_pair each. */
void msg_snap_begin(msgpack_sbuffer *out, uint64_t pin, uint64_t start_epoch, bool done,
                    const void *after, size_t after_len, uint32_t npairs);
void msg_snap_pair(msgpack_sbuffer *out, const void *key, size_t klen, const void *val,
                   size_t vlen);
/* Checks every pair's shape; the caller destroys m->up (also on failure). */
int msg_snap_decode(const void *data, size_t len, msg_snap_t *m);

int msg_role_decode(const void *data, size_t len, msg_role_t *m);
int msg_prepare_decode(const void *data, size_t len, msg_prepare_t *m);
int msg_ack_decode(const void *data, size_t len, msg_ack_t *m);
int msg_promise_decode(const void *data, size_t len, msg_promise_t *m, msg_view_t *v);
int msg_append_decode(const void *data, size_t len, msg_append_t *m, msg_view_t *v);
/* Record i of a view (bin bytes), after a successful decode. */
const void *msg_view_record(const msg_view_t *v, uint32_t i, size_t *len);
void msg_view_fini(msg_view_t *v);

#endif
