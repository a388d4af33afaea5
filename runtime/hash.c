/* runtime/hash.c — see hash.h for the contract. SipHash itself is libsodium's (a well-kept
 * implementation; a copy of our own, tried in session 15 for ~7% of skynet's profile, was not
 * kept): only reading its output is ours, one little-endian load. */
#include "runtime/hash.h"

#include <assert.h>
#include <endian.h>
#include <sodium.h>
#include <string.h>

static const unsigned char s_key[crypto_shorthash_siphash24_KEYBYTES] = "roost.placement";

uint64_t roost_siphash64(const unsigned char key[16], const void *data, size_t len)
{
    _Static_assert(crypto_shorthash_siphash24_KEYBYTES == 16, "SipHash keys are 16 bytes");
    unsigned char out[crypto_shorthash_siphash24_BYTES];
    crypto_shorthash_siphash24(out, data, len, key);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return le64toh(h);
}

uint64_t roost_hash64(const void *data, size_t len)
{
    return roost_siphash64(s_key, data, len);
}

uint32_t roost_partition_of(const char *key, size_t len, uint32_t partitions)
{
    assert(partitions > 0 && (partitions & (partitions - 1)) == 0);
    return (uint32_t)(roost_hash64(key, len) & (partitions - 1));
}
