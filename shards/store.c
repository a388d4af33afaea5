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
