/* shards/engine_locked.h — any engine made safe for several threads by one mutex.
 *
 * The in-memory engine has one owner thread by design (the simulator drives everything from
 * one). Tests that run the threaded node over it — workers, the syncer — wrap it here: every
 * operation, iterator steps included, runs under the wrapper's mutex, so the inner engine sees
 * one call at a time. Key and value pointers an iterator returns stay valid while it is
 * positioned (the inner engine's iterators are snapshots). Not for production: RocksDB is
 * thread-safe on its own.
 */
#ifndef ROOST_SHARDS_ENGINE_LOCKED_H
#define ROOST_SHARDS_ENGINE_LOCKED_H

#include "shards/engine.h"

/* Wraps inner (owned: destroyed with the wrapper). */
engine_t *engine_locked_new(engine_t *inner);
/* The wrapped engine (for engine_mem_crash and friends; call them with no other thread in). */
engine_t *engine_locked_inner(engine_t *self);

#endif
