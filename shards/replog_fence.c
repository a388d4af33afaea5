/* shards/replog_fence.c — the fence a lossy adoption leaves (store.h: STORE_FENCE_KEY): the
 * entry that writes it, telling an entry that is one, and the newest one a copy's state holds.
 *
 * An adoption that counted a rejoining replica's promise under sync: none may have lost
 * acknowledged writes; its tail ends with one entry putting STORE_FENCE_KEY = its term, which
 * the actors read on load (docs/store.md, "Sync policy"). Terms only grow, so a copy whose state
 * holds an older fence than an entry of the primary's history below its own applied point never
 * applied that entry: its history is not the primary's (replog_replica.c). */
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "shards/ops.h"
#include "shards/replog_internal.h"

void replog_put_fence(replog_t *r, engine_batch_t *b, uint64_t lsn, msgpack_sbuffer *rec)
{
    store_ops_t ops;
    store_ops_init(&ops);
    uint8_t epoch[8];
    key_be64(epoch, r->epoch);
    store_ops_put(&ops, STORE_FENCE_KEY, strlen(STORE_FENCE_KEY), epoch, sizeof epoch);
    msgpack_sbuffer body;
    msgpack_sbuffer_init(&body);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
    store_ops_encode(&ops, &pk);
    msgpack_sbuffer_clear(rec);
    entry_encode(rec, r->epoch, lsn, body.data, body.size);
    uint8_t key[KEY_LOG_BYTES];
    key_log(key, r->partition, lsn);
    engine_batch_put(b, key, sizeof key, rec->data, rec->size);
    msgpack_sbuffer_destroy(&body);
    store_ops_fini(&ops);
    r->best_lsn = lsn;
}

uint64_t replog_fence_of(const log_entry_t *e)
{
    store_ops_view_t v;
    store_op_t op;
    uint64_t term = 0;
    if (store_ops_view_init(&v, e->ops, e->ops_len) == ROOST_OK && v.count == 1 &&
        store_ops_view_next(&v, &op) && op.kind == OP_PUT && op.klen == strlen(STORE_FENCE_KEY) &&
        memcmp(op.key, STORE_FENCE_KEY, op.klen) == 0 && op.vlen == 8)
        term = key_get_be64(op.val);
    store_ops_view_fini(&v);
    return term;
}

uint64_t replog_state_fence(replog_t *r)
{
    uint8_t key[KEY_BYTES_MAX];
    size_t klen = key_state(key, r->partition, STORE_FENCE_KEY, strlen(STORE_FENCE_KEY));
    void *val = NULL;
    size_t len = 0;
    uint64_t term = 0;
    if (engine_get(r->engine, key, klen, &val, &len) == ROOST_OK && len == 8)
        term = key_get_be64(val);
    free(val);
    return term;
}
