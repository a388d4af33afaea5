/* runtime/hash.c — see hash.h for the contract. SipHash-2-4 is written out here (Aumasson and
 * Bernstein's reference algorithm) rather than called in libsodium: the placement hash runs on
 * every send, and the library call plus its byte-wise output conversion were ~7% of skynet's
 * profile. tests/unit/test_hash.c checks it against libsodium's crypto_shorthash_siphash24 for
 * every length up to 64 bytes and many keys. */
#include "runtime/hash.h"

#include <assert.h>
#include <endian.h>
#include <string.h>

static const unsigned char s_key[16] = "roost.placement";

static inline uint64_t s_rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static inline uint64_t s_load_le64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return le64toh(v);
}

typedef struct {
    uint64_t v0, v1, v2, v3;
} sip_t;

static inline void s_round(sip_t *s)
{
    s->v0 += s->v1;
    s->v1 = s_rotl(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = s_rotl(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = s_rotl(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = s_rotl(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = s_rotl(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = s_rotl(s->v2, 32);
}

static inline void s_compress(sip_t *s, uint64_t m)
{
    s->v3 ^= m;
    s_round(s);
    s_round(s);
    s->v0 ^= m;
}

/* The last 0–7 bytes, with the length's low byte on top. */
static inline uint64_t s_tail(const unsigned char *p, size_t len)
{
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        b |= (uint64_t)p[i] << (8 * i);
    return b;
}

static uint64_t s_siphash24(uint64_t k0, uint64_t k1, const unsigned char *in, size_t len)
{
    sip_t s = {.v0 = k0 ^ 0x736f6d6570736575ull,
               .v1 = k1 ^ 0x646f72616e646f6dull,
               .v2 = k0 ^ 0x6c7967656e657261ull,
               .v3 = k1 ^ 0x7465646279746573ull};
    const unsigned char *end = in + (len & ~(size_t)7);
    for (; in != end; in += 8)
        s_compress(&s, s_load_le64(in));
    s_compress(&s, s_tail(in, len));
    s.v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        s_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t roost_siphash64(const unsigned char key[16], const void *data, size_t len)
{
    return s_siphash24(s_load_le64(key), s_load_le64(key + 8), data, len);
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
