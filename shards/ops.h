/* shards/ops.h — a store batch: the writes one actor turn asks to commit atomically, as puts
 * and deletes of keys in its partition's state table. It travels in envelopes (actor → log
 * replica) and inside log entries, encoded as msgpack:
 *   [ [kind, key (bin), value (bin)], … ]   kind 1 = put, 2 = delete (value empty)
 * Decoding untrusted bytes checks sizes (mpguard first) and refuses anything malformed with
 * ROOST_EPROTO.
 */
#ifndef ROOST_OPS_H
#define ROOST_OPS_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

enum {
    OPS_PER_BATCH_MAX = 4096,             /* one turn's writes; a group fan-out is ~260 */
    OPS_VALUE_BYTES_MAX = 1024 * 1024,    /* a message with per-device bodies fits */
    OPS_BATCH_BYTES_MAX = 4 * 1024 * 1024 /* the whole batch, encoded */
};
enum { OP_PUT = 1, OP_DELETE = 2 };

typedef struct {
    msgpack_sbuffer body; /* the ops, each already encoded */
    uint32_t count;
} store_ops_t;

typedef struct {
    int kind;
    const uint8_t *key;
    size_t klen;
    const uint8_t *val;
    size_t vlen;
} store_op_t;

void store_ops_init(store_ops_t *self);
void store_ops_fini(store_ops_t *self);
/* 0, or ROOST_ETOOBIG past a limit (the batch is unchanged). */
int store_ops_put(store_ops_t *self, const void *key, size_t klen, const void *val, size_t vlen);
int store_ops_delete(store_ops_t *self, const void *key, size_t klen);
/* Appends the encoded batch to pk. */
void store_ops_encode(const store_ops_t *self, msgpack_packer *pk);

/* Iterates an encoded batch. store_ops_view_init checks the whole thing (0 or ROOST_EPROTO);
 * then store_ops_view_next yields each op (pointers into the bytes). */
typedef struct {
    msgpack_unpacked up;
    uint32_t count, next;
} store_ops_view_t;

int store_ops_view_init(store_ops_view_t *v, const void *data, size_t len);
bool store_ops_view_next(store_ops_view_t *v, store_op_t *op);
void store_ops_view_fini(store_ops_view_t *v);

#endif
