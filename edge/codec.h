/* edge/codec.h — client frames in and out: the two encodings of PROTOCOL.md (`roost.v1.json`
 * text frames, `roost.v1.msgpack` binary frames) to and from the one form the actors take, a
 * msgpack map with byte strings as `bin`.
 *
 * Decoding checks what the edge can check before anything is looked up: the size (a frame
 * over the limit is discarded unread: `too_large`, rid null), that it is one map (string keys)
 * with a string `t`, that `rid` (when present) is a string of at most 64 bytes or an integer,
 * and in JSON that the byte fields are valid base64 (`body`, each `bodies` value, `identity`,
 * `signed_prekey.key`/`.sig`, each `prekeys[].key`). Each failure names its field.
 * Encoding writes an actor's answer or event for the client, with `rid` put back when given:
 * in JSON every `bin` becomes standard, padded base64.
 */
#ifndef ROOST_EDGE_CODEC_H
#define ROOST_EDGE_CODEC_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { CODEC_JSON = 1, CODEC_MSGPACK = 2 } codec_kind_t;

enum {
    CODEC_FRAME_BYTES_DEFAULT = 128 * 1024, /* PROTOCOL.md's default frame limit */
    CODEC_RID_BYTES_MAX = 64,
    CODEC_T_BYTES_MAX = 32,
    CODEC_DEPTH_MAX = 8,
};

typedef struct {
    msgpack_sbuffer map; /* the frame for the actors (owned) */
    char t[CODEC_T_BYTES_MAX + 1];
    uint8_t rid[CODEC_RID_BYTES_MAX + 16]; /* the rid as msgpack (str or int); nil when absent */
    size_t rid_len;
} frame_t;

typedef struct {
    const char *code; /* a PROTOCOL.md error code */
    char msg[128];
} codec_err_t;

/* Decodes one frame; 0, or -1 with *err filled (f->rid set whenever it could be read, so the
 * error can carry it). Free f with frame_fini either way. */
int codec_decode(codec_kind_t kind, const void *data, size_t len, size_t limit, frame_t *f,
                 codec_err_t *err);
void frame_fini(frame_t *f);

/* Writes the client's frame for `map` (a msgpack map from an actor) into out (caller frees
 * *out): JSON text or msgpack bytes. With rid (msgpack bytes; NULL for events) the frame
 * carries it. 0, or -1 if map is not a msgpack map. */
int codec_encode(codec_kind_t kind, const void *map, size_t len, const uint8_t *rid, size_t rid_len,
                 char **out, size_t *out_len);

/* The client's error frame {"t":"err","rid":…,"code":…,"msg":…} (rid NULL → null). */
int codec_error(codec_kind_t kind, const uint8_t *rid, size_t rid_len, const char *code,
                const char *msg, char **out, size_t *out_len);

#endif
