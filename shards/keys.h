/* shards/keys.h — the byte layout of every key the store writes (schemas/store-keys.md is the
 * documented contract).
 *
 *   key   = be32(partition) | table (1 byte) | rest
 *   table 'M' meta:  rest = field byte ('p' promised epoch, 'a' applied lsn) → be64 value
 *         'L' log:   rest = be64(lsn)                                         → entry record
 *         'S' state: rest = the actors' own key bytes (layouts in schemas/)    → their value
 *
 * The partition prefix makes a partition one contiguous range (handoff and catch-up stream a
 * range); big-endian numbers make byte order equal numeric order.
 */
#ifndef ROOST_KEYS_H
#define ROOST_KEYS_H

#include <stddef.h>
#include <stdint.h>

enum {
    KEY_PREFIX_BYTES = 5, /* partition + table */
    KEY_LOG_BYTES = KEY_PREFIX_BYTES + 8,
    KEY_META_BYTES = KEY_PREFIX_BYTES + 1,
    KEY_STATE_USER_BYTES_MAX = 512, /* an actor's key in the state table */
    KEY_BYTES_MAX = KEY_PREFIX_BYTES + KEY_STATE_USER_BYTES_MAX,
};

enum { KEY_TABLE_META = 'M', KEY_TABLE_LOG = 'L', KEY_TABLE_STATE = 'S' };
enum {
    KEY_META_PROMISED = 'p',
    KEY_META_APPLIED = 'a',
    KEY_META_FIRST = 'f',       /* the oldest lsn still in the log (absent: 1) */
    KEY_META_FIRST_EPOCH = 'e', /* the epoch of entry first - 1 (the truncated boundary) */
    KEY_META_REBUILDING = 'r',  /* present while a snapshot rebuild is under way */
};

static inline void key_be32(uint8_t *out, uint32_t v)
{
    out[0] = (uint8_t)(v >> 24);
    out[1] = (uint8_t)(v >> 16);
    out[2] = (uint8_t)(v >> 8);
    out[3] = (uint8_t)v;
}

static inline void key_be64(uint8_t *out, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

static inline uint64_t key_get_be64(const uint8_t *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | in[i];
    return v;
}

/* partition | table: the start of a table's range. */
void key_prefix(uint8_t out[KEY_PREFIX_BYTES], uint32_t partition, uint8_t table);
void key_log(uint8_t out[KEY_LOG_BYTES], uint32_t partition, uint64_t lsn);
void key_meta(uint8_t out[KEY_META_BYTES], uint32_t partition, uint8_t field);
/* partition | 'S' | user; returns the length, or 0 if user is longer than the limit. */
size_t key_state(uint8_t out[KEY_BYTES_MAX], uint32_t partition, const void *user, size_t ulen);

#endif
