/* shards/entry.c — see entry.h. */
#include "shards/entry.h"

#include <string.h>

#include "runtime/errors.h"
#include "runtime/hash.h"
#include "runtime/mpguard.h"
#include "shards/ops.h"

static const unsigned char s_key[16] = "roost.checksum";

uint64_t entry_checksum(const void *data, size_t len)
{
    return roost_siphash64(s_key, data, len);
}

void entry_encode(msgpack_sbuffer *out, uint64_t epoch, uint64_t lsn, const void *ops,
                  size_t ops_len)
{
    size_t start = out->size;
    uint8_t zero[ENTRY_CHECKSUM_BYTES] = {0};
    msgpack_sbuffer_write(out, (const char *)zero, sizeof zero);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    msgpack_pack_uint64(&pk, epoch);
    msgpack_pack_uint64(&pk, lsn);
    msgpack_pack_bin_with_body(&pk, ops, ops_len);
    size_t body = start + ENTRY_CHECKSUM_BYTES;
    uint64_t sum = entry_checksum(out->data + body, out->size - body);
    for (int i = 0; i < 8; i++)
        out->data[start + (size_t)i] = (char)(sum >> (8 * i));
}

int entry_decode(const void *rec, size_t len, log_entry_t *out)
{
    const uint8_t *p = rec;
    if (len <= ENTRY_CHECKSUM_BYTES || len > OPS_BATCH_BYTES_MAX + 64)
        return ROOST_EPROTO;
    uint64_t sum = 0;
    for (int i = 7; i >= 0; i--)
        sum = (sum << 8) | p[i];
    const uint8_t *body = p + ENTRY_CHECKSUM_BYTES;
    size_t blen = len - ENTRY_CHECKSUM_BYTES, used;
    if (sum != entry_checksum(body, blen) || !mpguard_check(body, blen, 4, &used) || used != blen)
        return ROOST_EPROTO;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int rc = ROOST_EPROTO;
    if (msgpack_unpack_next(&up, (const char *)body, blen, &off) == MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size == 3) {
        const msgpack_object *f = up.data.via.array.ptr;
        if (f[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
            f[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER && f[2].type == MSGPACK_OBJECT_BIN &&
            f[1].via.u64 > 0) {
            out->epoch = f[0].via.u64;
            out->lsn = f[1].via.u64;
            /* the bin body is inside rec (msgpack-c points into the input for bin) */
            out->ops = (const uint8_t *)f[2].via.bin.ptr;
            out->ops_len = f[2].via.bin.size;
            rc = ROOST_OK;
        }
    }
    msgpack_unpacked_destroy(&up);
    return rc;
}
