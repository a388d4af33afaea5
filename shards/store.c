/* shards/store.c — the store API actors call (see store.h): appends go to the partition's log
 * actor on this node, reads come from the partition's committed state table. */
#include "shards/store.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "shards/keys.h"
#include "shards/proto.h"
#include "shards/replog.h"

uint32_t store_acks_needed(const store_t *s)
{
    switch (s->consistency) {
    case CONSISTENCY_ONE:
        return 1;
    case CONSISTENCY_ALL:
        return s->rf;
    default:
        return s->rf / 2 + 1;
    }
}

int store_append(roost_ctx_t *ctx, const store_ops_t *ops, uint64_t *corr)
{
    store_t *s = roost_ctx_service(ctx, STORE_SERVICE);
    if (!s)
        return ROOST_EUNAVAIL;
    char log[ROOST_KEY_BYTES_MAX + 1];
    if (replog_key(log, sizeof log, roost_ctx_node_id(ctx), roost_ctx_partition(ctx)) != 0)
        return ROOST_EINVAL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    store_ops_encode(ops, &pk);
    int rc =
        roost_ctx_request(ctx, log, MSG_STORE_APPEND, sb.data, sb.size, s->append_timeout_ms, corr);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int store_open(roost_ctx_t *ctx, uint64_t *corr)
{
    store_t *s = roost_ctx_service(ctx, STORE_SERVICE);
    if (!s)
        return ROOST_EUNAVAIL;
    char log[ROOST_KEY_BYTES_MAX + 1];
    if (replog_key(log, sizeof log, roost_ctx_node_id(ctx), roost_ctx_partition(ctx)) != 0)
        return ROOST_EINVAL;
    return roost_ctx_request(ctx, log, MSG_STORE_OPEN, NULL, 0, s->append_timeout_ms, corr);
}

int store_scan(roost_ctx_t *ctx, const void *prefix, size_t plen, bool reverse, uint32_t limit,
               store_scan_fn fn, void *arg)
{
    store_t *s = roost_ctx_service(ctx, STORE_SERVICE);
    if (!s)
        return ROOST_EUNAVAIL;
    uint8_t lo[KEY_BYTES_MAX], hi[KEY_BYTES_MAX];
    size_t lolen = key_state(lo, roost_ctx_partition(ctx), prefix, plen), hilen = 0;
    if (lolen == 0)
        return ROOST_EINVAL;
    bool bounded = engine_prefix_end(lo, lolen, hi, &hilen);
    engine_iter_t *it =
        reverse ? engine_iter_new_reverse(s->engine, lo, lolen, bounded ? hi : NULL, hilen)
                : engine_iter_new(s->engine, lo, lolen, bounded ? hi : NULL, hilen);
    int visited = 0;
    for (; engine_iter_valid(it); engine_iter_next(it)) {
        size_t klen, vlen;
        const uint8_t *k = engine_iter_key(it, &klen);
        const uint8_t *v = engine_iter_value(it, &vlen);
        visited++;
        if (!fn(arg, k + KEY_PREFIX_BYTES, klen - KEY_PREFIX_BYTES, v, vlen) ||
            (limit && (uint32_t)visited >= limit))
            break;
    }
    int err = engine_iter_error(it);
    engine_iter_destroy(&it);
    return err ? ROOST_EIO : visited;
}

int store_get(roost_ctx_t *ctx, const void *key, size_t klen, void **val, size_t *vlen)
{
    store_t *s = roost_ctx_service(ctx, STORE_SERVICE);
    if (!s)
        return ROOST_EUNAVAIL;
    uint8_t k[KEY_BYTES_MAX];
    size_t n = key_state(k, roost_ctx_partition(ctx), key, klen);
    if (n == 0)
        return ROOST_EINVAL;
    return engine_get(s->engine, k, n, val, vlen);
}

uint64_t store_appended_lsn(const roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    uint64_t lsn = 0;
    if (env->type == MSG_STORE_APPENDED && env->payload_len <= 16 &&
        msgpack_unpack_next(&up, (const char *)env->payload, env->payload_len, &off) ==
            MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size == 1 &&
        up.data.via.array.ptr[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        lsn = up.data.via.array.ptr[0].via.u64;
    msgpack_unpacked_destroy(&up);
    return lsn;
}
