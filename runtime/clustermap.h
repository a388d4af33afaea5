/* runtime/clustermap.h — the cluster map: the control plane's replicated state.
 *
 * Owns: the map's content and the only code allowed to change it (clustermap_apply), plus its
 * msgpack encodings (commands travel in Raft log entries, whole maps in Raft snapshots).
 *
 *   map = { version    raft index of the last applied command (0: nothing applied yet)
 *           partitions P, a power of two, fixed at creation
 *           rf         replicas per partition
 *           members    <= ROOST_MEMBERS_MAX of { id (stable, never reused), name, address,
 *                      status UP | DOWN, configured }, in the order SET_MEMBERS gave them
 *           per partition: replicas (rf member ids, ring.c order over the configured names),
 *                          epoch (uint64), primary (member id or ROOST_NO_PRIMARY),
 *                          next (the rf replicas it is being handed to, or none),
 *                          prev (the list before the last handoff, until it settles, or none) }
 *
 * Pure data, deterministic, no I/O, no clock: applying the same commands at the same indexes
 * to the same map yields byte-identical maps (and equal clustermap_digest) on every node.
 *
 * Invariants (checked after every apply and every decode):
 *   - an epoch never decreases; it grows by one each time a partition's primary changes;
 *   - a primary is ROOST_NO_PRIMARY or a member of that partition's replica list;
 *   - liveness never edits replica lists: only configuration (SET_MEMBERS and the handoff
 *     commands) does;
 *   - next and prev hold rf distinct members or nothing; a member that is no longer
 *     configured stays in the map exactly as long as some list still names it.
 *
 * Commands:
 *   SET_MEMBERS(list)  the configured members (known ids keep their status; new ids start UP;
 *                      members left out stay, unconfigured, while a list names them). On the
 *                      first SET_MEMBERS (an empty map) every replica list is placed at once.
 *                      Afterwards lists never jump: a partition whose placement over the
 *                      configured members differs from its list gets that placement as `next`
 *                      (replacing an earlier one) and its primary streams the log to the new
 *                      replicas (handoff, docs/store.md); one whose placement is its list again
 *                      drops `next`.
 *   HANDOFF_DONE(p, e) partition p, at epoch e, with next set and prev clear (the primary saw
 *                      every new replica caught up): prev = replicas, replicas = next, no next,
 *                      epoch+1; the primary stays if it is in the new list and UP, else the
 *                      first UP new replica. The new epoch's promises must come from a quorum of
 *                      both lists (prev and replicas). Stale (another epoch, nothing to hand
 *                      off): ROOST_ESTALE, map untouched.
 *   HANDOFF_SETTLED(p, e) partition p at epoch e with prev set (its primary serves under the new
 *                      list): prev cleared; members nothing names any more leave the map.
 *   NODE_DOWN(id)      status DOWN; every partition it was primary of gets epoch+1 and the first
 *                      UP replica in list order (or no primary). Idempotent when already DOWN.
 *   NODE_UP(id)        status UP; existing primaries never move; a partition with no primary
 *                      whose list holds id gets id as primary with epoch+1.
 *
 * Ownership and threads: a clustermap_t is reference counted. clustermap_new / _copy / _decode
 * return a map with one reference the caller owns; clustermap_release drops one and frees on
 * the last. Only the holder of the sole reference may apply commands; a shared map is
 * immutable, so readers on any thread need no lock. Retain/release are thread-safe.
 */
#ifndef ROOST_CLUSTERMAP_H
#define ROOST_CLUSTERMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/ring.h"

enum {
    ROOST_MEMBERS_MAX = RING_MEMBERS_MAX,
    ROOST_MEMBER_NAME_BYTES_MAX = RING_NAME_BYTES_MAX,
    /* "host:port" or a URL for the data plane; 127 bytes covers an IPv6 literal with room. */
    ROOST_MEMBER_ADDR_BYTES_MAX = 127,
    ROOST_RF_MAX = RING_RF_MAX,
    /* P is fixed at cluster creation; 65536 keeps the map snapshot under a few MiB. */
    ROOST_PARTITIONS_MAX = 65536,
    /* Largest encoded command: SET_MEMBERS of 64 members of maximal name and address is ~13 KiB. */
    CLUSTERMAP_CMD_BYTES_MAX = 16 * 1024,
    /* Largest encoded map: 65536 partitions * (epoch + primary + 3 lists of 5 ids) ~ 5.8 MiB. */
    CLUSTERMAP_MAP_BYTES_MAX = 8 * 1024 * 1024,
};

/* "No member": a partition without a primary, or a replica slot of a map with no members. */
#define ROOST_NO_PRIMARY UINT32_MAX

typedef enum { CLUSTERMAP_DOWN = 0, CLUSTERMAP_UP = 1 } clustermap_status_t;

typedef struct {
    uint32_t id;
    clustermap_status_t status;
    bool configured; /* false: removed by SET_MEMBERS, still named by a list (handing off) */
    char name[ROOST_MEMBER_NAME_BYTES_MAX + 1];
    char address[ROOST_MEMBER_ADDR_BYTES_MAX + 1];
} clustermap_member_t;

typedef enum {
    CLUSTERMAP_CMD_SET_MEMBERS = 1,
    CLUSTERMAP_CMD_NODE_DOWN = 2,
    CLUSTERMAP_CMD_NODE_UP = 3,
    CLUSTERMAP_CMD_HANDOFF_DONE = 4,
    CLUSTERMAP_CMD_HANDOFF_SETTLED = 5,
} clustermap_cmd_type_t;

/* A command, by value (~13 KiB with a full member list). `node_id` is for NODE_DOWN/NODE_UP;
 * `members` (status and configured ignored) for SET_MEMBERS; `partition` and `epoch` for the
 * handoff commands. */
typedef struct {
    clustermap_cmd_type_t type;
    uint32_t node_id;
    uint32_t partition;
    uint64_t epoch;
    uint32_t n_members;
    clustermap_member_t members[ROOST_MEMBERS_MAX];
} clustermap_cmd_t;

typedef struct clustermap clustermap_t;

/* ---- lifecycle ---- */

/* An empty map: version 0, no members, every partition epoch 0 with no primary.
 * Returns NULL if partitions is not a power of two in [1, ROOST_PARTITIONS_MAX], rf is not in
 * [1, ROOST_RF_MAX], or memory runs out. Caller owns the one reference. */
clustermap_t *clustermap_new(uint32_t partitions, uint32_t rf);
/* A deep copy with its own single reference (caller owns it); NULL if memory runs out. */
clustermap_t *clustermap_copy(const clustermap_t *map);
/* Adds a reference; returns map. Thread-safe. */
clustermap_t *clustermap_retain(clustermap_t *map);
/* Drops the caller's reference (frees on the last) and NULLs *map_p. Safe on NULL. */
void clustermap_release(clustermap_t **map_p);

/* ---- commands ---- */

/* Appends a member to a SET_MEMBERS command. Returns ROOST_EINVAL if the list is full or the
 * name or address is empty or too long. */
int clustermap_cmd_add_member(clustermap_cmd_t *cmd, uint32_t id, const char *name,
                              const char *address);

/* Applies cmd as the Raft entry at `index`; the caller must hold the only reference.
 * Returns 0 (map->version = index), or, leaving the map untouched: ROOST_ESTALE if index is not
 * above the map's version, ROOST_ENOTFOUND for an unknown node id, ROOST_EINVAL for a bad
 * member list (fewer than rf, duplicate ids or names, bad names) or unknown type. */
int clustermap_apply(clustermap_t *map, const clustermap_cmd_t *cmd, uint64_t index);

/* ---- encodings (msgpack) ---- */

/* Encodes into a malloc'd buffer the caller owns (free()). Returns 0 or ROOST_ENOMEM. */
int clustermap_cmd_encode(const clustermap_cmd_t *cmd, void **out, size_t *out_len);
/* Decodes defensively: anything malformed, inconsistent or over CLUSTERMAP_CMD_BYTES_MAX
 * returns ROOST_EPROTO (ROOST_ENOMEM if memory runs out). */
int clustermap_cmd_decode(const void *buf, size_t len, clustermap_cmd_t *out);

/* The whole map (Raft snapshots). Same ownership and error rules as the command codec; a
 * decoded map must pass every invariant above; *out gets one reference the caller owns. */
int clustermap_encode(const clustermap_t *map, void **out, size_t *out_len);
int clustermap_decode(const void *buf, size_t len, clustermap_t **out);

/* A 64-bit hash of the full content (BLAKE2b of the encoding, folded): equal maps have equal
 * digests on every node. Allocation-free; can't fail. */
uint64_t clustermap_digest(const clustermap_t *map);

/* ---- queries (never fail on a valid map; partition must be < partitions) ---- */

uint64_t clustermap_version(const clustermap_t *map);
uint32_t clustermap_partitions(const clustermap_t *map);
uint32_t clustermap_rf(const clustermap_t *map);
uint32_t clustermap_member_count(const clustermap_t *map);
/* The i-th member (i < member_count); the pointer lives as long as the caller's reference. */
const clustermap_member_t *clustermap_member_at(const clustermap_t *map, uint32_t i);
/* NULL if no such member. */
const clustermap_member_t *clustermap_member_by_id(const clustermap_t *map, uint32_t id);
const clustermap_member_t *clustermap_member_by_name(const clustermap_t *map, const char *name);
/* Member id of the partition's primary, or ROOST_NO_PRIMARY. */
uint32_t clustermap_primary_of(const clustermap_t *map, uint32_t partition);
uint64_t clustermap_epoch_of(const clustermap_t *map, uint32_t partition);
/* Copies the replica member ids (rf of them, or 0 while the map has no members) into `out`
 * (room for `cap`, cap >= rf) and returns how many were written. */
uint32_t clustermap_replicas_of(const clustermap_t *map, uint32_t partition, uint32_t *out,
                                uint32_t cap);
/* The same for the partition's `next` (being handed to) and `prev` (until the handoff settles)
 * lists: rf ids, or 0 when the list is not set. */
uint32_t clustermap_next_of(const clustermap_t *map, uint32_t partition, uint32_t *out,
                            uint32_t cap);
uint32_t clustermap_prev_of(const clustermap_t *map, uint32_t partition, uint32_t *out,
                            uint32_t cap);
/* Whether any of the partition's lists (replicas, next, prev) names member `id`: the node
 * holds, or is being handed, a copy. */
bool clustermap_names(const clustermap_t *map, uint32_t partition, uint32_t id);
/* Partitions with a handoff in progress (next or prev set). */
uint32_t clustermap_moving(const clustermap_t *map);

#endif
