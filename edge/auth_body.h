/* edge/auth_body.h — the HTTP auth endpoints' request bodies (PROTOCOL.md, "Accounts and
 * tokens"): one JSON object (jansson, duplicate keys refused) with the endpoint's string
 * fields, each checked before anything is looked up. No I/O: the libFuzzer target
 * fuzz_auth_body drives it directly. */
#ifndef ROOST_EDGE_AUTH_BODY_H
#define ROOST_EDGE_AUTH_BODY_H

#include <stddef.h>

#include "actors/ids.h"

typedef enum { AUTH_OTP_REQUEST = 1, AUTH_OTP_VERIFY, AUTH_REFRESH } auth_op_t;

enum { AUTH_TOKEN_BYTES_MAX = 256 };

typedef struct {
    char phone[PHONE_BYTES_MAX + 1];        /* otp/request, otp/verify: E.164 */
    char code[8];                           /* otp/verify: 6 digits */
    char device[DEVICE_BYTES_MAX + 1];      /* otp/verify */
    char refresh[AUTH_TOKEN_BYTES_MAX + 1]; /* refresh */
} auth_body_t;

/* 0 with *out filled; -1 with *bad naming what is wrong: "body" (not a JSON object) or the
 * first missing or invalid field. */
int auth_body_parse(auth_op_t op, const char *body, size_t len, auth_body_t *out, const char **bad);

#endif
