/* tests/fuzz/fuzz_frame.c — libFuzzer target: a client frame through the edge's decoder (the
 * first byte picks JSON or msgpack), its routing, and back out through both encoders (which
 * must accept whatever the decoder accepted). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "edge/codec.h"
#include "edge/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    codec_kind_t kind = (data[0] & 1) ? CODEC_JSON : CODEC_MSGPACK;
    frame_t f;
    codec_err_t err;
    if (codec_decode(kind, data + 1, size - 1, CODEC_FRAME_BYTES_DEFAULT, &f, &err) == 0) {
        char key[ROOST_KEY_BYTES_MAX + 1];
        route_target(&f, 42, key, &err);
        for (int k = CODEC_JSON; k <= CODEC_MSGPACK; k++) {
            char *out = NULL;
            size_t len = 0;
            if (codec_encode((codec_kind_t)k, f.map.data, f.map.size, f.rid, f.rid_len, &out,
                             &len) != 0)
                __builtin_trap();
            free(out);
        }
    }
    frame_fini(&f);
    return 0;
}
