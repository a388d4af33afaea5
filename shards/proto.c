/* shards/proto.c — encoders and defensive decoders for shards/proto.h. */
#include "shards/proto.h"

#include <string.h>

#include "runtime/clustermap.h"
#include "runtime/errors.h"
#include "runtime/mpguard.h"

static msgpack_packer s_packer(msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    return pk;
}

static void s_pack_ids(msgpack_packer *pk, const uint32_t *ids, uint32_t n)
{
    msgpack_pack_array(pk, n);
    for (uint32_t i = 0; i < n; i++)
        msgpack_pack_uint32(pk, ids[i]);
}

void msg_role_encode(msgpack_sbuffer *out, const msg_role_t *m)
{
    msgpack_packer pk = s_packer(out);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_uint64(&pk, m->epoch);
    msgpack_pack_uint32(&pk, m->primary);
    s_pack_ids(&pk, m->replicas, m->nreplicas);
    s_pack_ids(&pk, m->next, m->nnext);
    s_pack_ids(&pk, m->prev, m->nprev);
}

void msg_role_from_map(const struct clustermap *map, uint32_t p, msg_role_t *out)
{
    memset(out, 0, sizeof *out);
    out->epoch = clustermap_epoch_of(map, p);
    out->primary = clustermap_primary_of(map, p);
    out->nreplicas = clustermap_replicas_of(map, p, out->replicas, PROTO_REPLICAS_MAX);
    out->nnext = clustermap_next_of(map, p, out->next, PROTO_REPLICAS_MAX);
    out->nprev = clustermap_prev_of(map, p, out->prev, PROTO_REPLICAS_MAX);
}

void msg_prepare_encode(msgpack_sbuffer *out, const msg_prepare_t *m)
{
    msgpack_packer pk = s_packer(out);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, m->epoch);
    msgpack_pack_uint64(&pk, m->from_lsn);
}

void msg_ack_encode(msgpack_sbuffer *out, const msg_ack_t *m)
{
    msgpack_packer pk = s_packer(out);
    msgpack_pack_array(&pk, 4);
    msgpack_pack_uint64(&pk, m->epoch);
    msgpack_pack_int(&pk, m->status);
    msgpack_pack_uint64(&pk, m->lsn);
    msgpack_pack_uint64(&pk, m->promised);
}

void msg_promise_begin(msgpack_sbuffer *out, const msg_promise_t *m, uint32_t nrecords)
{
    msgpack_packer pk = s_packer(out);
    msgpack_pack_array(&pk, 8);
    msgpack_pack_uint64(&pk, m->epoch);
    if (m->ok)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    msgpack_pack_uint64(&pk, m->promised);
    msgpack_pack_uint64(&pk, m->last_epoch);
    msgpack_pack_uint64(&pk, m->last_lsn);
    if (m->rejoining)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    msgpack_pack_uint64(&pk, m->first_lsn);
    msgpack_pack_array(&pk, nrecords);
}

void msg_append_begin(msgpack_sbuffer *out, const msg_append_t *m, uint32_t nrecords)
{
    msgpack_packer pk = s_packer(out);
    msgpack_pack_array(&pk, 6); /* the records stay fifth: a five-field append still decodes */
    msgpack_pack_uint64(&pk, m->epoch);
    msgpack_pack_uint64(&pk, m->prev_lsn);
    msgpack_pack_uint64(&pk, m->prev_epoch);
    msgpack_pack_uint64(&pk, m->commit_lsn);
    msgpack_pack_array(&pk, nrecords);
}

void msg_append_end(msgpack_sbuffer *out, const msg_append_t *m)
{
    msgpack_packer pk = s_packer(out);
    msgpack_pack_uint64(&pk, m->last_lsn);
}

void msg_record_append(msgpack_sbuffer *out, const void *rec, size_t len)
{
    msgpack_packer pk = s_packer(out);
    msgpack_pack_bin_with_body(&pk, rec, len);
}

/* ---- decoding --------------------------------------------------------------------------- */

static int s_unpack(msgpack_unpacked *up, const void *data, size_t len, uint32_t items)
{
    size_t used, off = 0;
    msgpack_unpacked_init(up);
    if (len > PROTO_MSG_BYTES_MAX || !mpguard_check(data, len, 4, &used) || used != len ||
        msgpack_unpack_next(up, data, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        up->data.type != MSGPACK_OBJECT_ARRAY || up->data.via.array.size < items)
        return ROOST_EPROTO;
    return ROOST_OK;
}

static bool s_u64(const msgpack_object *o, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *out = o->via.u64;
    return true;
}

static bool s_records(const msgpack_object *o, msg_view_t *v)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > PROTO_RECORDS_MAX)
        return false;
    for (uint32_t i = 0; i < o->via.array.size; i++)
        if (o->via.array.ptr[i].type != MSGPACK_OBJECT_BIN)
            return false;
    v->records = o->via.array.ptr;
    v->nrecords = o->via.array.size;
    return true;
}

static bool s_ids(const msgpack_object *o, uint32_t *ids, uint32_t *n)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > PROTO_REPLICAS_MAX)
        return false;
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        uint64_t id;
        if (!s_u64(&o->via.array.ptr[i], &id) || id > UINT32_MAX)
            return false;
        ids[i] = (uint32_t)id;
    }
    *n = o->via.array.size;
    return true;
}

int msg_role_decode(const void *data, size_t len, msg_role_t *m)
{
    msgpack_unpacked up;
    int rc = s_unpack(&up, data, len, 5);
    const msgpack_object *f = up.data.via.array.ptr;
    uint64_t primary = 0;
    memset(m, 0, sizeof *m);
    if (rc == ROOST_OK && (!s_u64(&f[0], &m->epoch) || !s_u64(&f[1], &primary) ||
                           primary > UINT32_MAX || !s_ids(&f[2], m->replicas, &m->nreplicas) ||
                           !s_ids(&f[3], m->next, &m->nnext) || !s_ids(&f[4], m->prev, &m->nprev)))
        rc = ROOST_EPROTO;
    m->primary = (uint32_t)primary;
    msgpack_unpacked_destroy(&up);
    return rc;
}

int msg_prepare_decode(const void *data, size_t len, msg_prepare_t *m)
{
    msgpack_unpacked up;
    int rc = s_unpack(&up, data, len, 2);
    const msgpack_object *f = up.data.via.array.ptr;
    if (rc == ROOST_OK && (!s_u64(&f[0], &m->epoch) || !s_u64(&f[1], &m->from_lsn)))
        rc = ROOST_EPROTO;
    msgpack_unpacked_destroy(&up);
    return rc;
}

int msg_ack_decode(const void *data, size_t len, msg_ack_t *m)
{
    msgpack_unpacked up;
    int rc = s_unpack(&up, data, len, 4);
    const msgpack_object *f = up.data.via.array.ptr;
    uint64_t status = 0;
    if (rc == ROOST_OK &&
        (!s_u64(&f[0], &m->epoch) || !s_u64(&f[1], &status) || status > ACK_STATUS_MAX ||
         !s_u64(&f[2], &m->lsn) || !s_u64(&f[3], &m->promised)))
        rc = ROOST_EPROTO;
    m->status = (int)status;
    msgpack_unpacked_destroy(&up);
    return rc;
}

int msg_promise_decode(const void *data, size_t len, msg_promise_t *m, msg_view_t *v)
{
    int rc = s_unpack(&v->up, data, len, 8);
    const msgpack_object *f = v->up.data.via.array.ptr;
    if (rc == ROOST_OK && (!s_u64(&f[0], &m->epoch) || f[1].type != MSGPACK_OBJECT_BOOLEAN ||
                           !s_u64(&f[2], &m->promised) || !s_u64(&f[3], &m->last_epoch) ||
                           !s_u64(&f[4], &m->last_lsn) || f[5].type != MSGPACK_OBJECT_BOOLEAN ||
                           !s_u64(&f[6], &m->first_lsn) || !s_records(&f[7], v)))
        rc = ROOST_EPROTO;
    if (rc == ROOST_OK) {
        m->ok = f[1].via.boolean;
        m->rejoining = f[5].via.boolean;
    }
    return rc;
}

int msg_append_decode(const void *data, size_t len, msg_append_t *m, msg_view_t *v)
{
    int rc = s_unpack(&v->up, data, len, 5);
    const msgpack_object *f = v->up.data.via.array.ptr;
    if (rc == ROOST_OK &&
        (!s_u64(&f[0], &m->epoch) || !s_u64(&f[1], &m->prev_lsn) || !s_u64(&f[2], &m->prev_epoch) ||
         !s_u64(&f[3], &m->commit_lsn) || !s_records(&f[4], v)))
        rc = ROOST_EPROTO;
    m->last_lsn = 0;
    if (rc == ROOST_OK && v->up.data.via.array.size > 5 && !s_u64(&f[5], &m->last_lsn))
        rc = ROOST_EPROTO;
    return rc;
}

const void *msg_view_record(const msg_view_t *v, uint32_t i, size_t *len)
{
    *len = v->records[i].via.bin.size;
    return v->records[i].via.bin.ptr;
}

void msg_view_fini(msg_view_t *v)
{
    msgpack_unpacked_destroy(&v->up);
}

void msg_fetch_encode(msgpack_sbuffer *out, uint64_t lsn)
{
    msgpack_packer pk = s_packer(out);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint64(&pk, lsn);
}

void msg_fetched_encode(msgpack_sbuffer *out, uint64_t lsn, const void *rec, size_t len)
{
    msgpack_packer pk = s_packer(out);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, lsn);
    msgpack_pack_bin_with_body(&pk, rec, len);
}

int msg_fetch_decode(const void *data, size_t len, uint64_t *lsn)
{
    msgpack_unpacked up;
    int rc = s_unpack(&up, data, len, 1);
    if (rc == ROOST_OK && !s_u64(&up.data.via.array.ptr[0], lsn))
        rc = ROOST_EPROTO;
    msgpack_unpacked_destroy(&up);
    return rc;
}

int msg_fetched_decode(const void *data, size_t len, uint64_t *lsn, const void **rec, size_t *rlen,
                       msgpack_unpacked *up)
{
    int rc = s_unpack(up, data, len, 2);
    const msgpack_object *f = up->data.via.array.ptr;
    if (rc == ROOST_OK && (!s_u64(&f[0], lsn) || f[1].type != MSGPACK_OBJECT_BIN))
        rc = ROOST_EPROTO;
    if (rc == ROOST_OK) {
        *rec = f[1].via.bin.ptr;
        *rlen = f[1].via.bin.size;
    }
    return rc;
}

void msg_snap_req_encode(msgpack_sbuffer *out, uint64_t pin, const void *after, size_t after_len)
{
    msgpack_packer pk = s_packer(out);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_uint64(&pk, pin);
    msgpack_pack_bin(&pk, after_len);
    msgpack_pack_bin_body(&pk, after, after_len);
}

int msg_snap_req_decode(const void *data, size_t len, uint64_t *pin, const void **after,
                        size_t *after_len, msgpack_unpacked *up)
{
    int rc = s_unpack(up, data, len, 2);
    const msgpack_object *f = up->data.via.array.ptr;
    if (rc == ROOST_OK && (!s_u64(&f[0], pin) || f[1].type != MSGPACK_OBJECT_BIN))
        rc = ROOST_EPROTO;
    if (rc == ROOST_OK) {
        *after = f[1].via.bin.ptr;
        *after_len = f[1].via.bin.size;
    }
    return rc;
}

void msg_snap_begin(msgpack_sbuffer *out, uint64_t pin, uint64_t start_epoch, bool done,
                    const void *after, size_t after_len, uint32_t npairs)
{
    msgpack_packer pk = s_packer(out);
    msgpack_pack_array(&pk, 5);
    msgpack_pack_uint64(&pk, pin);
    msgpack_pack_uint64(&pk, start_epoch);
    if (done)
        msgpack_pack_true(&pk);
    else
        msgpack_pack_false(&pk);
    msgpack_pack_bin(&pk, after_len);
    msgpack_pack_bin_body(&pk, after, after_len);
    msgpack_pack_array(&pk, npairs);
}

void msg_snap_pair(msgpack_sbuffer *out, const void *key, size_t klen, const void *val, size_t vlen)
{
    msgpack_packer pk = s_packer(out);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_bin(&pk, klen);
    msgpack_pack_bin_body(&pk, key, klen);
    msgpack_pack_bin(&pk, vlen);
    msgpack_pack_bin_body(&pk, val, vlen);
}

int msg_snap_decode(const void *data, size_t len, msg_snap_t *m)
{
    int rc = s_unpack(&m->up, data, len, 5);
    const msgpack_object *f = m->up.data.via.array.ptr;
    if (rc == ROOST_OK && (!s_u64(&f[0], &m->pin) || !s_u64(&f[1], &m->start_epoch) ||
                           f[2].type != MSGPACK_OBJECT_BOOLEAN || f[3].type != MSGPACK_OBJECT_BIN ||
                           f[4].type != MSGPACK_OBJECT_ARRAY))
        rc = ROOST_EPROTO;
    for (uint32_t i = 0; rc == ROOST_OK && i < f[4].via.array.size; i++) {
        const msgpack_object *p = &f[4].via.array.ptr[i];
        if (p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size != 2 ||
            p->via.array.ptr[0].type != MSGPACK_OBJECT_BIN ||
            p->via.array.ptr[1].type != MSGPACK_OBJECT_BIN || p->via.array.ptr[0].via.bin.size == 0)
            rc = ROOST_EPROTO;
    }
    if (rc == ROOST_OK) {
        m->done = f[2].via.boolean;
        m->after = f[3].via.bin.ptr;
        m->after_len = f[3].via.bin.size;
        m->pairs = f[4].via.array.ptr;
        m->npairs = f[4].via.array.size;
    }
    return rc;
}

void msg_rebuild_encode(msgpack_sbuffer *out, uint64_t epoch)
{
    msgpack_packer pk = s_packer(out);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_uint64(&pk, epoch);
}

int msg_rebuild_decode(const void *data, size_t len, uint64_t *epoch)
{
    msgpack_unpacked up;
    int rc = s_unpack(&up, data, len, 1);
    if (rc == ROOST_OK && !s_u64(&up.data.via.array.ptr[0], epoch))
        rc = ROOST_EPROTO;
    msgpack_unpacked_destroy(&up);
    return rc;
}
