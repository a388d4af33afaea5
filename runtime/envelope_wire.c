/* runtime/envelope_wire.c — the envelope's msgpack wire form (envelope.h; schemas/envelope.md
 * is the contract): the encoder and the decoder every node-to-node envelope goes through.
 *
 * Both read and write the msgpack bytes directly instead of through msgpack-c's packer and
 * object unpacker. An envelope is a fixed array of ten scalars; on the remote benchmark's
 * latency phase the generic path — a bounds walk (mpguard), msgpack-c's unpacker into a zone,
 * then a field check over its objects, and eleven packer calls each through a callback — was a
 * fifth of the workers' CPU. The bytes are the same as before: the encoder writes each number in
 * its shortest form, as msgpack-c's packer does, and the decoder accepts exactly what the
 * msgpack-c path accepted (tests/support/env_reference.h keeps that path as the oracle for the
 * unit tests and the fuzz target, which compare the two on every input).
 */
#include <string.h>

#include "runtime/envelope.h"
#include "runtime/errors.h"
#include "runtime/limits.h"
#include "runtime/mpguard.h"

enum {
    ENV_WIRE_ITEMS = 10,
    /* array + version + flags + type + corr + epoch + status + hops + two str headers + bin
     * header, each at its longest */
    ENV_WIRE_HEAD_BYTES_MAX = 1 + 2 + 3 + 5 + 9 + 9 + 5 + 2 + 2 * 2 + 5,
};

/* ---- encoding ------------------------------------------------------------------------------ */

static uint8_t *s_be(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = bytes - 1; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
    return p + bytes;
}

/* The shortest unsigned form, as msgpack_pack_uint64 writes it. */
static uint8_t *s_put_uint(uint8_t *p, uint64_t v)
{
    if (v < 0x80) {
        *p = (uint8_t)v;
        return p + 1;
    }
    int bytes = v <= UINT8_MAX ? 1 : v <= UINT16_MAX ? 2 : v <= UINT32_MAX ? 4 : 8;
    *p = bytes == 1 ? 0xcc : bytes == 2 ? 0xcd : bytes == 4 ? 0xce : 0xcf;
    return s_be(p + 1, v, bytes);
}

/* As msgpack_pack_int32: a non-negative value in its unsigned form, a negative one in the
 * shortest signed form. */
static uint8_t *s_put_int32(uint8_t *p, int32_t v)
{
    if (v >= 0)
        return s_put_uint(p, (uint64_t)v);
    if (v >= -32) {
        *p = (uint8_t)(int8_t)v;
        return p + 1;
    }
    int bytes = v >= INT8_MIN ? 1 : v >= INT16_MIN ? 2 : 4;
    *p = bytes == 1 ? 0xd0 : bytes == 2 ? 0xd1 : 0xd2;
    return s_be(p + 1, (uint64_t)(uint32_t)v, bytes);
}

/* A str (keys are at most ROOST_KEY_BYTES_MAX < 256: fixstr or str8) with its body. */
static uint8_t *s_put_str(uint8_t *p, const char *s, size_t len)
{
    if (len < 32) {
        *p++ = (uint8_t)(0xa0 | len);
    } else {
        *p++ = 0xd9;
        *p++ = (uint8_t)len;
    }
    memcpy(p, s, len);
    return p + len;
}

static uint8_t *s_put_bin_head(uint8_t *p, size_t len)
{
    if (len <= UINT8_MAX) {
        *p = 0xc4;
        return s_be(p + 1, len, 1);
    }
    *p = len <= UINT16_MAX ? 0xc5 : 0xc6;
    return s_be(p + 1, len, len <= UINT16_MAX ? 2 : 4);
}

_Static_assert(ROOST_KEY_BYTES_MAX <= UINT8_MAX, "keys fit a str8");

void roost_env_encode(const roost_env_t *env, msgpack_packer *pk)
{
    uint8_t head[ENV_WIRE_HEAD_BYTES_MAX + 2 * ROOST_KEY_BYTES_MAX], *p = head;
    *p++ = 0x90 | ENV_WIRE_ITEMS;
    p = s_put_uint(p, ROOST_ENV_VERSION);
    p = s_put_uint(p, env->flags);
    p = s_put_uint(p, env->type);
    p = s_put_uint(p, env->corr);
    p = s_put_uint(p, env->epoch);
    p = s_put_int32(p, env->status);
    p = s_put_uint(p, env->hops);
    p = s_put_str(p, env->target, env->target_len);
    p = s_put_str(p, env->sender, env->sender_len);
    p = s_put_bin_head(p, env->payload_len);
    pk->callback(pk->data, (const char *)head, (size_t)(p - head));
    if (env->payload_len)
        pk->callback(pk->data, (const char *)env->payload, env->payload_len);
}

/* ---- decoding ------------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end;
} rd_t;

static bool s_take(rd_t *r, size_t n, const uint8_t **at)
{
    if (n > (size_t)(r->end - r->p))
        return false;
    *at = r->p;
    r->p += n;
    return true;
}

static bool s_get_be(rd_t *r, int bytes, uint64_t *v)
{
    const uint8_t *at;
    if (!s_take(r, (size_t)bytes, &at))
        return false;
    *v = 0;
    for (int i = 0; i < bytes; i++)
        *v = (*v << 8) | at[i];
    return true;
}

/* Any msgpack integer: *neg says whether it is below zero (msgpack-c's NEGATIVE_INTEGER), *v is
 * its value (two's complement when negative). */
static bool s_get_int(rd_t *r, bool *neg, uint64_t *v)
{
    const uint8_t *b;
    if (!s_take(r, 1, &b))
        return false;
    *neg = false;
    if (*b <= 0x7f || *b >= 0xe0) {
        *v = (uint64_t)(int64_t)(int8_t)*b;
        *neg = *b >= 0xe0;
        return true;
    }
    static const int8_t bytes[] = {1, 2, 4, 8}; /* 0xcc..0xcf unsigned, 0xd0..0xd3 signed */
    if (*b < 0xcc || *b > 0xd3 || !s_get_be(r, bytes[(*b - 0xcc) & 3], v))
        return false;
    if (*b >= 0xd0) { /* sign-extend */
        int shift = 64 - 8 * bytes[*b - 0xd0];
        *v = (uint64_t)((int64_t)(*v << shift) >> shift);
        *neg = (int64_t)*v < 0;
    }
    return true;
}

static bool s_get_uint(rd_t *r, uint64_t max, uint64_t *out)
{
    bool neg;
    return s_get_int(r, &neg, out) && !neg && *out <= max;
}

static bool s_get_int32(rd_t *r, int32_t *out)
{
    bool neg;
    uint64_t v;
    if (!s_get_int(r, &neg, &v) || (neg ? (int64_t)v < INT32_MIN : v > INT32_MAX))
        return false;
    *out = (int32_t)(int64_t)v;
    return true;
}

/* The length of a str (fixstr, str8/16/32) or, with bin, of a bin (bin8/16/32) whose type byte
 * is b. */
static bool s_sized_len(rd_t *r, uint8_t b, bool bin, uint64_t *n)
{
    if (!bin && (b & 0xe0) == 0xa0) {
        *n = b & 0x1f;
        return true;
    }
    uint8_t first = bin ? 0xc4 : 0xd9;
    return b >= first && b <= first + 2 && s_get_be(r, 1 << (b - first), n);
}

/* A str or, with bin, a bin: its body in place. */
static bool s_get_sized(rd_t *r, bool bin, const uint8_t **body, size_t *len)
{
    const uint8_t *b;
    uint64_t n;
    if (!s_take(r, 1, &b) || !s_sized_len(r, *b, bin, &n))
        return false;
    *len = (size_t)n; /* at most 32 bits: fits a size_t */
    return s_take(r, *len, body);
}

/* A key field: a str of valid key syntax, or empty. */
static bool s_get_key(rd_t *r, const char **key, size_t *len)
{
    const uint8_t *body;
    if (!s_get_sized(r, false, &body, len) || *len > ROOST_KEY_BYTES_MAX)
        return false;
    *key = (const char *)body;
    return *len == 0 || roost_key_is_valid(*key, *len);
}

/* The array header: ENV_WIRE_ITEMS or more items (a newer minor version's extras). */
static bool s_get_array(rd_t *r, uint64_t *items)
{
    const uint8_t *b;
    if (!s_take(r, 1, &b))
        return false;
    if ((*b & 0xf0) == 0x90)
        *items = *b & 0x0f;
    else if (*b != 0xdc && *b != 0xdd)
        return false;
    else if (!s_get_be(r, *b == 0xdc ? 2 : 4, items))
        return false;
    return *items >= ENV_WIRE_ITEMS;
}

/* Skips the extra items, each a well-formed value within the nesting the array leaves. */
static bool s_skip_extras(rd_t *r, uint64_t extras)
{
    for (uint64_t i = 0; i < extras; i++) {
        size_t used;
        if (!mpguard_check(r->p, (size_t)(r->end - r->p), MPGUARD_DEPTH_MAX - 1, &used))
            return false;
        r->p += used;
    }
    return true;
}

typedef struct {
    uint64_t version, flags, type, corr, epoch, hops;
    int32_t status;
    const char *target, *sender;
    size_t tlen, slen, plen;
    const uint8_t *payload;
} fields_t;

static bool s_parse(rd_t *r, fields_t *f)
{
    uint64_t items;
    if (!s_get_array(r, &items) || !s_get_uint(r, UINT8_MAX, &f->version) ||
        f->version != ROOST_ENV_VERSION || !s_get_uint(r, ROOST_ENV_FLAGS_ALL, &f->flags) ||
        !s_get_uint(r, UINT32_MAX, &f->type) || !s_get_uint(r, UINT64_MAX, &f->corr) ||
        !s_get_uint(r, UINT64_MAX, &f->epoch) || !s_get_int32(r, &f->status) ||
        !s_get_uint(r, ROOST_ENV_HOPS_MAX, &f->hops) || !s_get_key(r, &f->target, &f->tlen) ||
        !s_get_key(r, &f->sender, &f->slen) || !s_get_sized(r, true, &f->payload, &f->plen) ||
        f->plen > ROOST_PAYLOAD_BYTES_MAX)
        return false;
    if (f->tlen == 0 && f->type < ROOST_MSG_SYSTEM_BASE)
        return false; /* only runtime messages may lack a target */
    return s_skip_extras(r, items - ENV_WIRE_ITEMS);
}

static int s_decode(blockpool_t *pool, const void *data, size_t len, size_t *used,
                    roost_env_t **out)
{
    *out = NULL;
    rd_t r = {data, (const uint8_t *)data + len};
    fields_t f;
    if (!s_parse(&r, &f))
        return ROOST_EPROTO;
    roost_env_t *env = roost_env_new_n(pool, f.target, f.tlen, f.sender, f.slen, (uint32_t)f.type,
                                       f.payload, f.plen);
    env->flags = (uint16_t)f.flags;
    env->corr = f.corr;
    env->epoch = f.epoch;
    env->status = f.status;
    env->hops = (uint8_t)f.hops;
    *used = (size_t)(r.p - (const uint8_t *)data);
    *out = env;
    return ROOST_OK;
}

int roost_env_decode_bytes(const void *data, size_t len, roost_env_t **out)
{
    size_t used;
    int rc = s_decode(NULL, data, len, &used, out);
    if (rc == ROOST_OK && used != len) {
        roost_env_free(*out);
        *out = NULL;
        return ROOST_EPROTO;
    }
    return rc;
}

void roost_env_decoder_init(roost_env_decoder_t *d)
{
    blockpool_init(&d->pool);
}

void roost_env_decoder_fini(roost_env_decoder_t *d)
{
    blockpool_fini(&d->pool);
}

int roost_env_decode_next(roost_env_decoder_t *d, const void *data, size_t len, size_t *used,
                          roost_env_t **out)
{
    return s_decode(&d->pool, data, len, used, out);
}
