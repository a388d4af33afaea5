/* shards/entry.h — one entry of a partition's replicated log, as stored under
 * partition|'L'|lsn and as shipped between replicas.
 *
 *   record = checksum (8 bytes, little-endian) | msgpack [epoch, lsn, ops (bin)]
 *   checksum = SipHash-2-4(key "roost.checksum", the msgpack bytes)
 *
 * The checksum catches a corrupt or truncated value on disk or on the wire: entry_decode
 * refuses it with ROOST_EPROTO and the caller repairs the entry from a replica.
 */
#ifndef ROOST_ENTRY_H
#define ROOST_ENTRY_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

enum { ENTRY_CHECKSUM_BYTES = 8 };

typedef struct {
    uint64_t epoch, lsn;
    const uint8_t *ops; /* the encoded store_ops batch; points into the record */
    size_t ops_len;
} log_entry_t;

/* Appends a record to out. */
void entry_encode(msgpack_sbuffer *out, uint64_t epoch, uint64_t lsn, const void *ops,
                  size_t ops_len);
/* Decodes and verifies a record (0 or ROOST_EPROTO); out's pointers refer into rec. */
int entry_decode(const void *rec, size_t len, log_entry_t *out);
uint64_t entry_checksum(const void *data, size_t len);

#endif
