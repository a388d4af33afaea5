/* tests/fuzz/fuzz_envelope.c — libFuzzer target: one transport frame (a msgpack stream of
 * envelopes) through the decoder the transport uses (roost_env_decode_next: mpguard, then
 * msgpack-c into a reused zone). Whatever it accepts must also be accepted by the one-shot
 * decoder, and must round-trip through the encoder. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "runtime/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_round_trip(const roost_env_t *env)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    roost_env_encode(env, &pk);
    roost_env_t *again = NULL;
    if (roost_env_decode_bytes(sb.data, sb.size, &again) != 0 || again->type != env->type ||
        again->payload_len != env->payload_len ||
        memcmp(again->payload, env->payload, env->payload_len) != 0)
        __builtin_trap();
    roost_env_free(again);
    msgpack_sbuffer_destroy(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static roost_env_decoder_t d; /* reused across inputs, as the transport reuses its own */
    static int ready;
    if (!ready) {
        roost_env_decoder_init(&d);
        ready = 1;
    }
    size_t off = 0;
    while (off < size) {
        size_t used;
        roost_env_t *env = NULL;
        if (roost_env_decode_next(&d, data + off, size - off, &used, &env) != 0)
            break;
        roost_env_t *once = NULL; /* the one-shot decoder agrees on the same bytes */
        if (roost_env_decode_bytes(data + off, used, &once) != 0)
            __builtin_trap();
        roost_env_free(once);
        s_round_trip(env);
        roost_env_free_to(&d.pool, env);
        off += used;
    }
    return 0;
}
