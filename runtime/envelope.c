/* runtime/envelope.c — allocation and the msgpack wire form of envelopes (see envelope.h). */
#include "runtime/envelope.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/limits.h"
#include "runtime/mpguard.h"
#include "runtime/util.h"

enum { ENV_WIRE_ITEMS = 10 };

static inline bool s_printable(char c)
{
    return (uint8_t)((uint8_t)c - 0x21) <= 0x7e - 0x21; /* one compare: the NUL falls outside */
}

/* Two loops: the kind up to its ':', then the rest, one compare a byte (memchr for the ':' over
 * bytes just written stalled on store forwarding). */
size_t roost_key_measure(const char *key)
{
    size_t i = 0;
    while (i <= ROOST_KIND_BYTES_MAX && s_printable(key[i]) && key[i] != ':')
        i++;
    if (i == 0 || i > ROOST_KIND_BYTES_MAX || key[i] != ':')
        return 0;
    size_t rest = ++i;
    while (i <= ROOST_KEY_BYTES_MAX && s_printable(key[i]))
        i++;
    return i > rest && i <= ROOST_KEY_BYTES_MAX && key[i] == '\0' ? i : 0;
}

bool roost_key_is_valid(const char *key, size_t len)
{
    if (len < 3 || len > ROOST_KEY_BYTES_MAX)
        return false;
    const char *colon = memchr(key, ':', len);
    if (!colon || colon == key || (size_t)(colon - key) > ROOST_KIND_BYTES_MAX ||
        colon == key + len - 1)
        return false;
    for (size_t i = 0; i < len; i++)
        if (key[i] < 0x21 || key[i] > 0x7e)
            return false;
    return true;
}

/* Parses a decimal uint32 from [*p, end) up to `stop`; advances *p past it. */
static bool s_u32(const char **p, const char *end, char stop, uint32_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    if (s >= end || *s < '0' || *s > '9')
        return false;
    for (; s < end && *s != stop; s++) {
        if (*s < '0' || *s > '9' || (v = v * 10 + (uint64_t)(*s - '0')) > UINT32_MAX)
            return false;
    }
    if (s >= end)
        return false;
    *out = (uint32_t)v;
    *p = s + 1;
    return true;
}

bool roost_key_parse_local(const char *key, size_t len, roost_local_key_t *out)
{
    return roost_key_is_valid(key, len) && roost_key_split_local(key, len, out);
}

bool roost_key_split_local(const char *key, size_t len, roost_local_key_t *out)
{
    const char *p = key + 1, *end = key + len;
    if (len < 6 || key[0] != '@' || !s_u32(&p, end, ':', &out->node) ||
        !s_u32(&p, end, '/', &out->partition))
        return false;
    /* the kind ends at a '/' or the key's end; a byte loop, as the kind is short and memchr's
     * wide loads stall on a key just written */
    const char *k = p, *stop = end - p > ROOST_KIND_BYTES_MAX ? p + ROOST_KIND_BYTES_MAX : end;
    while (k < stop && *k != '/')
        k++;
    out->kind = p;
    out->kind_len = (size_t)(k - p);
    return out->kind_len > 0 && out->kind_len < ROOST_KIND_BYTES_MAX;
}

int roost_key_make_local(char *out, size_t cap, uint32_t node, uint32_t partition, const char *kind,
                         const char *rest)
{
    int n = rest ? snprintf(out, cap, "@%u:%u/%s/%s", node, partition, kind, rest)
                 : snprintf(out, cap, "@%u:%u/%s", node, partition, kind);
    return n < 0 || (size_t)n >= cap || (size_t)n > ROOST_KEY_BYTES_MAX ? ROOST_ETOOBIG : ROOST_OK;
}

static size_t s_bytes(size_t tlen, size_t slen, size_t plen)
{
    return sizeof(roost_env_t) + tlen + 1 + slen + 1 + plen;
}

/* pool NULL: a thread without one (the block is still pool-sized, for the worker that frees it).
 * The header is written as one compound literal (the fields not named are zero): a memset and
 * then the fields wrote the line twice. */
static roost_env_t *s_alloc(blockpool_t *pool, size_t tlen, size_t slen, size_t plen)
{
    size_t bytes = s_bytes(tlen, slen, plen);
    roost_env_t *env =
        pool ? blockpool_alloc(pool, bytes) : roost_xmalloc(blockpool_block_bytes(bytes));
    char *target = (char *)(env + 1);
    *env = (roost_env_t){.payload_len = (uint32_t)plen,
                         .target_len = (uint8_t)tlen,
                         .sender_len = (uint8_t)slen,
                         .pooled = blockpool_is_pooled(bytes),
                         .target = target,
                         .sender = target + tlen + 1,
                         .payload = (uint8_t *)(target + tlen + 1 + slen + 1)};
    return env;
}

roost_env_t *roost_env_new_n(blockpool_t *pool, const char *target, size_t tlen, const char *sender,
                             size_t slen, uint32_t type, const void *payload, size_t payload_len)
{
    if (tlen > ROOST_KEY_BYTES_MAX || slen > ROOST_KEY_BYTES_MAX ||
        payload_len > ROOST_PAYLOAD_BYTES_MAX)
        return NULL;
    roost_env_t *env = s_alloc(pool, tlen, slen, payload_len);
    memcpy(env->target, target, tlen);
    env->target[tlen] = '\0';
    memcpy(env->sender, sender, slen);
    env->sender[slen] = '\0';
    if (payload_len)
        memcpy(env->payload, payload, payload_len);
    env->type = type;
    return env;
}

roost_env_t *roost_env_new_in(blockpool_t *pool, const char *target, const char *sender,
                              uint32_t type, const void *payload, size_t payload_len)
{
    return roost_env_new_n(pool, target ? target : "", target ? strlen(target) : 0,
                           sender ? sender : "", sender ? strlen(sender) : 0, type, payload,
                           payload_len);
}

roost_env_t *roost_env_new(const char *target, const char *sender, uint32_t type,
                           const void *payload, size_t payload_len)
{
    return roost_env_new_in(NULL, target, sender, type, payload, payload_len);
}

void roost_env_free(roost_env_t *env)
{
    free(env);
}

void roost_env_free_to(blockpool_t *pool, roost_env_t *env)
{
    if (!env)
        return;
    if (!env->pooled) {
        free(env);
        return;
    }
    blockpool_free(pool, env, s_bytes(env->target_len, env->sender_len, env->payload_len));
}

void roost_env_encode(const roost_env_t *env, msgpack_packer *pk)
{
    msgpack_pack_array(pk, ENV_WIRE_ITEMS);
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

static bool s_uint(const msgpack_object *o, uint64_t max, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max)
        return false;
    *out = o->via.u64;
    return true;
}

static bool s_int32(const msgpack_object *o, int32_t *out)
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

/* A key field: str, empty allowed only for the sender (and for system messages' target). */
static bool s_key(const msgpack_object *o, const char **ptr, size_t *len)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > ROOST_KEY_BYTES_MAX)
        return false;
    if (o->via.str.size && !roost_key_is_valid(o->via.str.ptr, o->via.str.size))
        return false;
    *ptr = o->via.str.ptr;
    *len = o->via.str.size;
    return true;
}

static int s_decode_in(blockpool_t *pool, const msgpack_object *obj, roost_env_t **out);

int roost_env_decode(const msgpack_object *obj, roost_env_t **out)
{
    return s_decode_in(NULL, obj, out);
}

static int s_decode_in(blockpool_t *pool, const msgpack_object *obj, roost_env_t **out)
{
    *out = NULL;
    if (obj->type != MSGPACK_OBJECT_ARRAY || obj->via.array.size < ENV_WIRE_ITEMS)
        return ROOST_EPROTO;
    const msgpack_object *it = obj->via.array.ptr;
    uint64_t version, flags, type, corr, epoch, hops;
    int32_t status;
    const char *target, *sender;
    size_t tlen, slen;
    if (!s_uint(&it[0], UINT8_MAX, &version) || version != ROOST_ENV_VERSION ||
        !s_uint(&it[1], ROOST_ENV_FLAGS_ALL, &flags) || !s_uint(&it[2], UINT32_MAX, &type) ||
        !s_uint(&it[3], UINT64_MAX, &corr) || !s_uint(&it[4], UINT64_MAX, &epoch) ||
        !s_int32(&it[5], &status) || !s_uint(&it[6], ROOST_ENV_HOPS_MAX, &hops) ||
        !s_key(&it[7], &target, &tlen) || !s_key(&it[8], &sender, &slen))
        return ROOST_EPROTO;
    if (it[9].type != MSGPACK_OBJECT_BIN || it[9].via.bin.size > ROOST_PAYLOAD_BYTES_MAX)
        return ROOST_EPROTO;
    if (tlen == 0 && type < ROOST_MSG_SYSTEM_BASE)
        return ROOST_EPROTO; /* only runtime messages may lack a target */
    roost_env_t *env = s_alloc(pool, tlen, slen, it[9].via.bin.size);
    memcpy(env->target, target, tlen);
    env->target[tlen] = '\0';
    memcpy(env->sender, sender, slen);
    env->sender[slen] = '\0';
    if (env->payload_len)
        memcpy(env->payload, it[9].via.bin.ptr, env->payload_len);
    env->flags = (uint16_t)flags;
    env->type = (uint32_t)type;
    env->corr = corr;
    env->epoch = epoch;
    env->status = status;
    env->hops = (uint8_t)hops;
    *out = env;
    return ROOST_OK;
}

int roost_env_decode_bytes(const void *data, size_t len, roost_env_t **out)
{
    *out = NULL;
    size_t used;
    if (!mpguard_check(data, len, MPGUARD_DEPTH_MAX, &used) || used != len)
        return ROOST_EPROTO;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int rc = ROOST_EPROTO;
    if (msgpack_unpack_next(&up, data, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len)
        rc = roost_env_decode(&up.data, out);
    msgpack_unpacked_destroy(&up);
    return rc;
}

/* The zone's chunk: an envelope's objects (its array of 10) take 160 bytes. */
enum { DECODER_ZONE_CHUNK_BYTES = 1024 };

void roost_env_decoder_init(roost_env_decoder_t *d)
{
    if (!msgpack_zone_init(&d->zone, DECODER_ZONE_CHUNK_BYTES))
        roost_oom(DECODER_ZONE_CHUNK_BYTES);
    blockpool_init(&d->pool);
}

void roost_env_decoder_fini(roost_env_decoder_t *d)
{
    msgpack_zone_destroy(&d->zone);
    blockpool_fini(&d->pool);
}

int roost_env_decode_next(roost_env_decoder_t *d, const void *data, size_t len, size_t *used,
                          roost_env_t **out)
{
    *out = NULL;
    size_t n, off = 0;
    if (!mpguard_check(data, len, MPGUARD_DEPTH_MAX, &n))
        return ROOST_EPROTO;
    msgpack_object obj;
    int rc = ROOST_EPROTO;
    if (msgpack_unpack(data, n, &off, &d->zone, &obj) == MSGPACK_UNPACK_SUCCESS && off == n)
        rc = s_decode_in(&d->pool, &obj, out);
    msgpack_zone_clear(&d->zone);
    if (rc == ROOST_OK)
        *used = n;
    return rc;
}
