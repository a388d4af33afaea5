/* shards/ops.c — see ops.h. */
#include "shards/ops.h"

#include "runtime/errors.h"
#include "runtime/mpguard.h"
#include "shards/keys.h"

void store_ops_init(store_ops_t *self)
{
    msgpack_sbuffer_init(&self->body);
    self->count = 0;
}

void store_ops_fini(store_ops_t *self)
{
    msgpack_sbuffer_destroy(&self->body);
    self->count = 0;
}

static int s_add(store_ops_t *self, int kind, const void *key, size_t klen, const void *val,
                 size_t vlen)
{
    if (self->count >= OPS_PER_BATCH_MAX || klen == 0 || klen > KEY_STATE_USER_BYTES_MAX ||
        vlen > OPS_VALUE_BYTES_MAX || self->body.size + klen + vlen + 16 > OPS_BATCH_BYTES_MAX)
        return ROOST_ETOOBIG;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &self->body, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_int(&pk, kind);
    msgpack_pack_bin_with_body(&pk, key, klen);
    msgpack_pack_bin_with_body(&pk, val, vlen);
    self->count++;
    return ROOST_OK;
}

int store_ops_put(store_ops_t *self, const void *key, size_t klen, const void *val, size_t vlen)
{
    return s_add(self, OP_PUT, key, klen, val, vlen);
}

int store_ops_delete(store_ops_t *self, const void *key, size_t klen)
{
    return s_add(self, OP_DELETE, key, klen, "", 0);
}

void store_ops_encode(const store_ops_t *self, msgpack_packer *pk)
{
    msgpack_pack_array(pk, self->count);
    if (self->body.size)
        pk->callback(pk->data, self->body.data, self->body.size); /* already msgpack */
}

static bool s_op(const msgpack_object *o, store_op_t *op)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3)
        return false;
    const msgpack_object *f = o->via.array.ptr;
    if (f[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
        (f[0].via.u64 != OP_PUT && f[0].via.u64 != OP_DELETE) || f[1].type != MSGPACK_OBJECT_BIN ||
        f[2].type != MSGPACK_OBJECT_BIN || f[1].via.bin.size == 0 ||
        f[1].via.bin.size > KEY_STATE_USER_BYTES_MAX || f[2].via.bin.size > OPS_VALUE_BYTES_MAX)
        return false;
    op->kind = (int)f[0].via.u64;
    op->key = (const uint8_t *)f[1].via.bin.ptr;
    op->klen = f[1].via.bin.size;
    op->val = (const uint8_t *)f[2].via.bin.ptr;
    op->vlen = f[2].via.bin.size;
    return true;
}

int store_ops_view_init(store_ops_view_t *v, const void *data, size_t len)
{
    msgpack_unpacked_init(&v->up);
    v->count = v->next = 0;
    size_t used, off = 0;
    if (len > OPS_BATCH_BYTES_MAX || !mpguard_check(data, len, MPGUARD_DEPTH_MAX, &used) ||
        used != len || msgpack_unpack_next(&v->up, data, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        v->up.data.type != MSGPACK_OBJECT_ARRAY || v->up.data.via.array.size > OPS_PER_BATCH_MAX)
        return ROOST_EPROTO;
    store_op_t op;
    for (uint32_t i = 0; i < v->up.data.via.array.size; i++)
        if (!s_op(&v->up.data.via.array.ptr[i], &op))
            return ROOST_EPROTO;
    v->count = v->up.data.via.array.size;
    return ROOST_OK;
}

bool store_ops_view_next(store_ops_view_t *v, store_op_t *op)
{
    if (v->next >= v->count)
        return false;
    return s_op(&v->up.data.via.array.ptr[v->next++], op);
}

void store_ops_view_fini(store_ops_view_t *v)
{
    msgpack_unpacked_destroy(&v->up);
}
