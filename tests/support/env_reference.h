/* tests/support/env_reference.h — the envelope wire form through msgpack-c, as the runtime
 * encoded and decoded it until session 19: the oracle the direct codec (runtime/envelope_wire.c)
 * is compared with in test_envelope and fuzz_envelope. Encoding is msgpack-c's packer; decoding
 * is mpguard's bounds walk, msgpack-c's unpacker, then the field checks envelope.h documents.
 * Same bytes out, same verdict and same fields in, or the direct codec is wrong. */
#ifndef ROOST_TESTS_ENV_REFERENCE_H
#define ROOST_TESTS_ENV_REFERENCE_H

#include <msgpack.h>
#include <stdbool.h>
#include <string.h>

#include "runtime/envelope.h"
#include "runtime/errors.h"
#include "runtime/limits.h"
#include "runtime/mpguard.h"

static inline void env_reference_encode(const roost_env_t *env, msgpack_packer *pk)
{
    msgpack_pack_array(pk, 10);
    msgpack_pack_uint8(pk, ROOST_ENV_VERSION);
    msgpack_pack_uint16(pk, env->flags);
    msgpack_pack_uint32(pk, env->type);
    msgpack_pack_uint64(pk, env->corr);
    msgpack_pack_uint64(pk, env->epoch);
    msgpack_pack_int32(pk, env->status);
    msgpack_pack_uint8(pk, env->hops);
    msgpack_pack_str_with_body(pk, env->target, env->target_len);
    msgpack_pack_str_with_body(pk, env->sender, env->sender_len);
    msgpack_pack_bin_with_body(pk, env->payload, env->payload_len);
}

static inline bool env_reference_uint(const msgpack_object *o, uint64_t max, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
        return false;
    *out = o->via.u64;
    return true;
}

static inline bool env_reference_int32(const msgpack_object *o, int32_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT32_MAX) {
        *out = (int32_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 >= INT32_MIN) {
        *out = (int32_t)o->via.i64;
        return true;
    }
    return false;
}

static inline bool env_reference_key(const msgpack_object *o, const char **ptr, size_t *len)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > ROOST_KEY_BYTES_MAX)
        return false;
    if (o->via.str.size && !roost_key_is_valid(o->via.str.ptr, o->via.str.size))
        return false;
    *ptr = o->via.str.ptr;
    *len = o->via.str.size;
    return true;
}

static inline int env_reference_decode_obj(const msgpack_object *obj, roost_env_t **out)
{
    if (obj->type != MSGPACK_OBJECT_ARRAY || obj->via.array.size < 10)
        return ROOST_EPROTO;
    const msgpack_object *it = obj->via.array.ptr;
    uint64_t version, flags, type, corr, epoch, hops;
    int32_t status;
    const char *target, *sender;
    size_t tlen, slen;
    if (!env_reference_uint(&it[0], UINT8_MAX, &version) || version != ROOST_ENV_VERSION ||
        !env_reference_uint(&it[1], ROOST_ENV_FLAGS_ALL, &flags) ||
        !env_reference_uint(&it[2], UINT32_MAX, &type) ||
        !env_reference_uint(&it[3], UINT64_MAX, &corr) ||
        !env_reference_uint(&it[4], UINT64_MAX, &epoch) || !env_reference_int32(&it[5], &status) ||
        !env_reference_uint(&it[6], ROOST_ENV_HOPS_MAX, &hops) ||
        !env_reference_key(&it[7], &target, &tlen) || !env_reference_key(&it[8], &sender, &slen))
        return ROOST_EPROTO;
    if (it[9].type != MSGPACK_OBJECT_BIN || it[9].via.bin.size > ROOST_PAYLOAD_BYTES_MAX)
        return ROOST_EPROTO;
    if (tlen == 0 && type < ROOST_MSG_SYSTEM_BASE)
        return ROOST_EPROTO;
    roost_env_t *env = roost_env_new_n(NULL, target, tlen, sender, slen, (uint32_t)type,
                                       it[9].via.bin.ptr, it[9].via.bin.size);
    env->flags = (uint16_t)flags;
    env->corr = corr;
    env->epoch = epoch;
    env->status = status;
    env->hops = (uint8_t)hops;
    *out = env;
    return ROOST_OK;
}

/* The one value at the start of data[0..len): 0, *out and its length in *used, or ROOST_EPROTO. */
static inline int env_reference_decode(const void *data, size_t len, size_t *used,
                                       roost_env_t **out)
{
    *out = NULL;
    size_t n, off = 0;
    if (!mpguard_check(data, len, MPGUARD_DEPTH_MAX, &n))
        return ROOST_EPROTO;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = ROOST_EPROTO;
    if (msgpack_unpack_next(&up, data, n, &off) == MSGPACK_UNPACK_SUCCESS && off == n)
        rc = env_reference_decode_obj(&up.data, out);
    msgpack_unpacked_destroy(&up);
    if (rc == ROOST_OK)
        *used = n;
    return rc;
}

/* Every field the wire carries is equal. */
static inline bool env_reference_same(const roost_env_t *a, const roost_env_t *b)
{
    return a->flags == b->flags && a->type == b->type && a->corr == b->corr &&
           a->epoch == b->epoch && a->status == b->status && a->hops == b->hops &&
           a->target_len == b->target_len && a->sender_len == b->sender_len &&
           a->payload_len == b->payload_len && strcmp(a->target, b->target) == 0 &&
           strcmp(a->sender, b->sender) == 0 && memcmp(a->payload, b->payload, a->payload_len) == 0;
}

#endif
