/* shards/kv.h — the store probe: actors `kv:<name>` holding one value each in the store. An
 * operator's write/read check of a partition end to end (roostctl, health checks), and what
 * the store's tests and benchmark drive.
 *
 *   request MSG_KV_PUT, payload = value → response MSG_KV_DONE [lsn] once durable, or error
 *   request MSG_KV_GET                  → response MSG_KV_VALUE value, or error enotfound
 * Writes of one kv actor are committed in the order they arrive.
 */
#ifndef ROOST_KV_H
#define ROOST_KV_H

#include "runtime/actor.h"

enum { MSG_KV_PUT = 0x5200, MSG_KV_GET, MSG_KV_DONE, MSG_KV_VALUE };

extern const roost_behaviour_t kv_behaviour;

#endif
