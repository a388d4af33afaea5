/* tests/fuzz/fuzz_envelope.c — libFuzzer target: one transport frame (a msgpack stream of
 * envelopes) through the same bounds check and decoder the transport uses. */
#include <stddef.h>
#include <stdint.h>

#include "runtime/envelope.h"
#include "runtime/mpguard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        size_t used;
        roost_env_t *env = NULL;
        if (!mpguard_check(data + off, size - off, MPGUARD_DEPTH_MAX, &used) ||
            roost_env_decode_bytes(data + off, used, &env) != 0)
            break;
        /* re-encode what was accepted: it must round-trip */
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        roost_env_encode(env, &pk);
        roost_env_t *again = NULL;
        if (roost_env_decode_bytes(sb.data, sb.size, &again) != 0)
            __builtin_trap();
        roost_env_free(again);
        msgpack_sbuffer_destroy(&sb);
        roost_env_free(env);
        off += used;
    }
    return 0;
}
