/* shards/syncer.h — group commit across partitions, off the actor threads.
 *
 * Log replicas write their entries unsynced (cheap: memtable + WAL append) and ask the node's
 * syncer for durability; they continue when MSG_SYNC_DONE [status, covered] arrives. The syncer is
 * one thread per node: it takes every request queued so far, makes the WAL durable with one
 * engine_sync, and answers them all — entries of every partition written meanwhile share that
 * one fsync, and no worker ever blocks on the disk.
 *
 * Lifecycle: syncer_new (needs the node to answer through and the engine) → syncer_start →
 * … → syncer_destroy (answers nothing more; pending requesters are passivated with the node).
 * Registered on the node as service SYNCER_SERVICE.
 */
#ifndef ROOST_SYNCER_H
#define ROOST_SYNCER_H

#include "runtime/actor.h"
#include "runtime/node.h"
#include "shards/engine.h"

#define SYNCER_SERVICE "syncer"

enum { MSG_SYNC_REQ = 0x5300, MSG_SYNC_DONE };

/* Under load the thread paces its fsyncs: a batch of fewer than SYNCER_GATHER_MIN requests
 * that comes within the gather time of the previous sync's end waits until that time has
 * passed, gathering what arrives meanwhile; a sync after a quiet spell starts at once. An fsync
 * costs this kind of machine's kernel far more CPU than its disk time: back-to-back syncs of a
 * few requests each took the cores a loaded node needed (session 17: 1000 µs gave +35-45%
 * acknowledged writes/s in the store benchmark, and +0.6-0.9 ms at the median at 1,000
 * writes/s, none at 200; session 20, with syncs that cover what was written while they were
 * asked: 2000 µs gave +13% more and a lower half-load p99, +0.3-0.8 ms at the median at 2,000
 * writes/s). 0 syncs at once, always. Manifest: cluster.sync_gather_us. */
enum { SYNCER_GATHER_MIN = 8, SYNCER_GATHER_US_DEFAULT = 2000 };

typedef struct syncer syncer_t;

syncer_t *syncer_new(roost_node_t *node, engine_t *engine);
int syncer_start(syncer_t *s);
/* Before syncer_start (default SYNCER_GATHER_US_DEFAULT). */
void syncer_set_gather_us(syncer_t *s, uint32_t us);
/* Without the thread (syncer_start never called): one batch on the caller's thread — every
 * request queued so far, one engine_sync, the answers. Returns how many it answered.
 * Deterministic tests decide with it when an fsync completes. */
uint32_t syncer_poll(syncer_t *s);
/* syncer_poll in two halves, for a caller that runs the fsync itself and lets time pass while it
 * does (the simulator, with engine_mem_sync_begin/_end): _begin takes every request queued so
 * far and reads the write count the answers will cover, returning how many it took (0: nothing
 * to do, or a sync begun and not ended); the caller then makes the writes made before it durable
 * and passes the outcome to _end, which answers them. Writes made in between are not covered,
 * as writes made while a real fsync runs are not: they wait for the next one. */
uint32_t syncer_poll_begin(syncer_t *s);
uint32_t syncer_poll_end(syncer_t *s, int status);
/* Stops the thread (after the sync in progress) and frees queued requests. Safe on NULL. */
void syncer_destroy(syncer_t **s_p);
/* Syncs done so far (each answers every request queued before it started). */
uint64_t syncer_syncs(const syncer_t *s);

/* Asks for the calling actor's writes so far to be made durable; MSG_SYNC_DONE answers.
 * ROOST_EUNAVAIL when the node has no syncer. Thread: the actor's worker. */
int syncer_request(roost_ctx_t *ctx);
/* What MSG_SYNC_DONE carries: the sync's status (ROOST_EIO when it failed) and, when it
 * succeeded, engine_writes() as read just before it began — every write whose caller read a
 * count <= covered afterwards is durable, whichever request the answer is for. */
typedef struct {
    int32_t status;
    uint64_t covered;
} sync_done_t;
/* The answer an MSG_SYNC_DONE carries; a malformed one reads as a failed sync covering
 * nothing. */
sync_done_t syncer_done(const roost_env_t *env);

#endif
