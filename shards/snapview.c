/* shards/snapview.c — a consistent view of one partition's state table, served in chunks
 * (see snapview.h). */
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/util.h"
#include "shards/proto.h"
#include "shards/snapview.h"

typedef struct {
    uint8_t key[KEY_STATE_USER_BYTES_MAX];
    size_t len;
} user_key_t;

struct snapview {
    engine_iter_t *it; /* NULL once the range is read to its end */
    msgpack_sbuffer chunk;
    uint32_t n;
    bool done, have_chunk;
    user_key_t began, ended; /* the last chunk's `after`, and its last key */
};

snapview_t *snapview_open(engine_t *engine, uint32_t partition)
{
    snapview_t *v = roost_xcalloc(1, sizeof *v);
    uint8_t lo[KEY_PREFIX_BYTES], hi[KEY_PREFIX_BYTES];
    key_prefix(lo, partition, KEY_TABLE_STATE);
    key_prefix(hi, partition, KEY_TABLE_STATE + 1);
    v->it = engine_iter_new(engine, lo, sizeof lo, hi, sizeof hi);
    msgpack_sbuffer_init(&v->chunk);
    return v;
}

void snapview_close(snapview_t **self_p)
{
    snapview_t *v = *self_p;
    if (!v)
        return;
    engine_iter_destroy(&v->it);
    msgpack_sbuffer_destroy(&v->chunk);
    free(v);
    *self_p = NULL;
}

static bool s_is(const user_key_t *k, const void *key, size_t len)
{
    return k->len == len && (len == 0 || memcmp(k->key, key, len) == 0);
}

/* Reads the next chunk from the iterator into the cache; it began after `ended`. */
static int s_read_next(snapview_t *v)
{
    msgpack_sbuffer_clear(&v->chunk);
    v->began = v->ended;
    v->n = 0;
    v->have_chunk = false;
    size_t bytes = 0;
    engine_iter_t *it = v->it;
    for (; it && engine_iter_valid(it) && v->n < SNAPVIEW_PAIRS && bytes < SNAPVIEW_BYTES;
         engine_iter_next(it), v->n++) {
        size_t klen, vlen;
        const uint8_t *k = (const uint8_t *)engine_iter_key(it, &klen);
        const void *val = engine_iter_value(it, &vlen);
        if (klen < KEY_PREFIX_BYTES || klen - KEY_PREFIX_BYTES > KEY_STATE_USER_BYTES_MAX)
            return ROOST_EIO; /* not a key this partition's writers make */
        msg_snap_pair(&v->chunk, k + KEY_PREFIX_BYTES, klen - KEY_PREFIX_BYTES, val, vlen);
        v->ended.len = klen - KEY_PREFIX_BYTES;
        memcpy(v->ended.key, k + KEY_PREFIX_BYTES, v->ended.len);
        bytes += klen + vlen;
    }
    if (!it || engine_iter_error(it) != ROOST_OK)
        return ROOST_EIO;
    v->done = !engine_iter_valid(it);
    if (v->done)
        engine_iter_destroy(&v->it); /* release what the engine kept for us */
    v->have_chunk = true;
    return ROOST_OK;
}

int snapview_chunk(snapview_t *v, const void *after, size_t after_len, const void **pairs,
                   size_t *pairs_len, uint32_t *n, bool *done)
{
    bool again = v->have_chunk && s_is(&v->began, after, after_len);
    if (!again) {
        if (!s_is(&v->ended, after, after_len) || (v->have_chunk && v->done))
            return ROOST_ESTALE;
        int rc = s_read_next(v);
        if (rc != ROOST_OK)
            return rc;
    }
    *pairs = v->chunk.data;
    *pairs_len = v->chunk.size;
    *n = v->n;
    *done = v->done;
    return ROOST_OK;
}
