/* runtime/hash.h — Roost's fixed 64-bit hash, part of the on-disk and on-wire contract.
 *
 *   roost_hash64(bytes) = SipHash-2-4(key = "roost.placement", 16 bytes, NUL-padded)
 *                         read as a little-endian uint64
 *
 * (libsodium's crypto_shorthash_siphash24.) Partitions and rendezvous placement are derived
 * from it, so every node, version and language that implements it agrees on placement.
 * Changing it re-shards every cluster: never do.
 */
#ifndef ROOST_HASH_H
#define ROOST_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t roost_hash64(const void *data, size_t len);

/* SipHash-2-4 under a 16-byte key (a NUL-padded string literal), as a little-endian uint64:
 * the building block of roost_hash64 and of the store's checksums (other keys, other uses). */
uint64_t roost_siphash64(const unsigned char key[16], const void *data, size_t len);

/* The partition of a key: roost_hash64(key) & (partitions - 1); partitions is a power of two. */
uint32_t roost_partition_of(const char *key, size_t len, uint32_t partitions);

#endif
