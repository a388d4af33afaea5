/* runtime/ring.h — partition placement by rendezvous (highest-random-weight) hashing.
 *
 * Owns: the rule that maps (configured members, partition, RF) to an ordered replica list.
 *
 *   score(m, p) = roost_hash64(name(m) || be32(p))          (runtime/hash.h, a wire contract)
 *   replicas(p) = the RF members with the highest score, descending; equal scores are ordered
 *                 by name (bytewise, ascending), so the result never depends on list order.
 *   replicas(p)[0] is the partition's preferred primary.
 *
 * Why HRW: a join or leave moves only the partitions whose top-RF set gains or loses that one
 * member (about P·RF/N slots), with no virtual-node table to store or agree on. Cost is
 * O(N·RF) per partition, which is nothing at N <= RING_MEMBERS_MAX.
 *
 * Pure functions: no allocation, no I/O, no global state; thread-safe.
 */
#ifndef ROOST_RING_H
#define ROOST_RING_H

#include <stdint.h>

enum {
    /* Members a placement is computed over: the cluster map holds at most this many (a
     * replica list of RF out of 64 covers any shard cluster we plan to run). */
    RING_MEMBERS_MAX = 64,
    /* Bytes of a member name, NUL excluded: names are hashed, so they stay short and fixed. */
    RING_NAME_BYTES_MAX = 63,
    /* Replicas per partition: W = RF/2+1 acknowledgements per write; more than 5 buys no
     * durability we need and multiplies write traffic. */
    RING_RF_MAX = 5,
};

/* Writes the `rf` member indexes (into member_names) holding `partition`, highest score first.
 * member_names must be distinct, non-empty and at most RING_NAME_BYTES_MAX bytes.
 * Returns 0, or ROOST_EINVAL if rf == 0, rf > n_members, rf > RING_RF_MAX,
 * n_members > RING_MEMBERS_MAX or a name is NULL, empty or too long. */
int ring_replicas(const char *const *member_names, uint32_t n_members, uint32_t partition,
                  uint32_t rf, uint32_t *out_member_idx);

/* Computes every partition's list: out_member_idx[p * rf + i] is replica i of partition p;
 * the caller owns `out_member_idx` and sizes it partitions * rf. Also checks that the names
 * are distinct. Returns 0 or ROOST_EINVAL (as ring_replicas, or duplicate names). */
int ring_place_all(const char *const *member_names, uint32_t n_members, uint32_t partitions,
                   uint32_t rf, uint32_t *out_member_idx);

#endif
