/* tests/fuzz/fuzz_envelope.c — libFuzzer target: one transport frame (a msgpack stream of
 * envelopes) through the decoder the transport uses (roost_env_decode_next, the direct codec of
 * runtime/envelope_wire.c), compared on every value with msgpack-c's path
 * (tests/support/env_reference.h): the same verdict, the same length taken and the same fields.
 * What both accept must round-trip through the encoder, whose bytes must be msgpack-c's. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "runtime/envelope.h"
#include "tests/support/env_reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_round_trip(const roost_env_t *env)
{
    msgpack_sbuffer sb, ref;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_init(&ref);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    roost_env_encode(env, &pk);
    msgpack_packer_init(&pk, &ref, msgpack_sbuffer_write);
    env_reference_encode(env, &pk);
    roost_env_t *again = NULL;
    if (sb.size != ref.size || memcmp(sb.data, ref.data, sb.size) != 0 ||
        roost_env_decode_bytes(sb.data, sb.size, &again) != 0 || !env_reference_same(env, again))
        __builtin_trap();
    roost_env_free(again);
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&ref);
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
        size_t used = 0, ref_used = 0;
        roost_env_t *env = NULL, *ref = NULL;
        int rc = roost_env_decode_next(&d, data + off, size - off, &used, &env);
        int ref_rc = env_reference_decode(data + off, size - off, &ref_used, &ref);
        if (rc != ref_rc || (rc == 0 && (used != ref_used || !env_reference_same(env, ref))))
            __builtin_trap();
        roost_env_free(ref);
        if (rc != 0)
            break;
        s_round_trip(env);
        roost_env_free_to(&d.pool, env);
        off += used;
    }
    return 0;
}
