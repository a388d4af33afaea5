/* tests/fuzz/fuzz_auth_body.c — libFuzzer target: an HTTP auth request body (the first byte
 * picks the endpoint) through the edge's checks; whatever passes must hold valid fields. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "edge/auth_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    auth_op_t op = (auth_op_t)(1 + data[0] % 3);
    auth_body_t b;
    const char *bad;
    if (auth_body_parse(op, (const char *)data + 1, size - 1, &b, &bad) != 0)
        return 0;
    if (op == AUTH_REFRESH ? b.refresh[0] == '\0' : !phone_valid(b.phone, strlen(b.phone)))
        __builtin_trap();
    if (op == AUTH_OTP_VERIFY && (strlen(b.code) != 6 || !device_valid(b.device, strlen(b.device))))
        __builtin_trap();
    return 0;
}
