/* shards/keys.c — see keys.h. */
#include "shards/keys.h"

#include <string.h>

void key_prefix(uint8_t out[KEY_PREFIX_BYTES], uint32_t partition, uint8_t table)
{
    key_be32(out, partition);
    out[4] = table;
}

void key_log(uint8_t out[KEY_LOG_BYTES], uint32_t partition, uint64_t lsn)
{
    key_prefix(out, partition, KEY_TABLE_LOG);
    key_be64(out + KEY_PREFIX_BYTES, lsn);
}

void key_meta(uint8_t out[KEY_META_BYTES], uint32_t partition, uint8_t field)
{
    key_prefix(out, partition, KEY_TABLE_META);
    out[KEY_PREFIX_BYTES] = field;
}

size_t key_state(uint8_t out[KEY_BYTES_MAX], uint32_t partition, const void *user, size_t ulen)
{
    if (ulen > KEY_STATE_USER_BYTES_MAX)
        return 0;
    key_prefix(out, partition, KEY_TABLE_STATE);
    memcpy(out + KEY_PREFIX_BYTES, user, ulen);
    return KEY_PREFIX_BYTES + ulen;
}
