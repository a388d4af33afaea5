/* shards/snapview.h — the source side of a snapshot rebuild: one consistent view of a
 * partition's state table per puller, served in chunks.
 *
 * A view is opened at the source's applied point S (the pin) and reads the state through one
 * engine iterator, which sees the engine as it was when the view was opened: every chunk holds
 * the state at exactly S, however many entries the source applies meanwhile. (Before, each chunk
 * was read afresh and could hold effects of entries after S — a fuzzy snapshot that replaying
 * the log from S + 1 makes exact only if those same entries come back. Under sync: none an
 * adoption may lose them; the puller then kept their effects forever: simulator seed 1238.)
 *
 * The puller asks for one chunk at a time, naming the last key it holds, and asks again when an
 * answer is lost. So a view serves the chunk after the key where its last chunk ended, or that
 * last chunk again when asked from where it began; any other request means the puller and the
 * view disagree, and the puller starts over with a new view.
 *
 * Memory: the iterator (it pins what the engine held at S until the view closes: RocksDB keeps
 * the memtables and files it reads) and one encoded chunk (≤ SNAPVIEW_PAIRS pairs, about
 * SNAPVIEW_BYTES). The log actor closes a view when its pin ends (done, idle, or passivation). */
#ifndef ROOST_SHARDS_SNAPVIEW_H
#define ROOST_SHARDS_SNAPVIEW_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shards/engine.h"
#include "shards/keys.h"

enum {
    SNAPVIEW_PAIRS = 512,        /* state pairs per chunk … */
    SNAPVIEW_BYTES = 256 * 1024, /* … or about this many bytes */
};

typedef struct snapview snapview_t;

/* A view of partition's state table as engine holds it now. */
snapview_t *snapview_open(engine_t *engine, uint32_t partition);
void snapview_close(snapview_t **self_p);

/* The chunk after `after` (a state key without its partition prefix; "" for the first): the
 * next one if the last chunk ended there, the last one again if it began there. ROOST_OK with
 * *pairs / *pairs_len (msg_snap_pair encodings, valid until the next call), *n and *done set;
 * ROOST_ESTALE if `after` is neither; ROOST_EIO if the engine failed mid-read. */
int snapview_chunk(snapview_t *self, const void *after, size_t after_len, const void **pairs,
                   size_t *pairs_len, uint32_t *n, bool *done);

#endif
