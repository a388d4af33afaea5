/* edge/tokens.h — access tokens: JWTs an edge signs after a verified login or a refresh and
 * checks on every WebSocket `auth`, with no round trip to a shard (libjwt).
 *
 * Claims: sub (user id), dev (device), gen (the device's token-family generation, which the
 * user actor checks at `auth`, so a revoked family stops working), iat, exp (15 minutes).
 * Keys come from the manifest: HS256 (a shared secret) or ES256 (a P-256 PEM pair), each with
 * a key id (`kid` header). One key signs; every listed key verifies, so keys rotate by adding
 * the new one first, then signing with it, then dropping the old one after 15 minutes.
 * A token is refused if its kid is unknown, its alg is not its key's (no "none", no HS/ES
 * confusion), its signature, expiry or claims are wrong.
 */
#ifndef ROOST_EDGE_TOKENS_H
#define ROOST_EDGE_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "actors/ids.h"

enum { TOKENS_KEYS_MAX = 4, TOKENS_KID_BYTES_MAX = 32, TOKENS_TTL_S = 900 };

typedef enum { TOKENS_HS256 = 1, TOKENS_ES256 = 2 } tokens_alg_t;

typedef struct {
    char kid[TOKENS_KID_BYTES_MAX + 1];
    tokens_alg_t alg;
    const uint8_t *sign_key; /* HS256: the secret; ES256: the private key PEM (NULL: verify only) */
    size_t sign_len;
    const uint8_t *verify_key; /* HS256: the secret; ES256: the public key PEM */
    size_t verify_len;
} tokens_key_t;

typedef struct {
    tokens_key_t keys[TOKENS_KEYS_MAX];
    uint32_t nkeys;
    uint32_t signing; /* index of the key that signs */
    uint32_t ttl_s;   /* 0 → TOKENS_TTL_S */
} tokens_t;

typedef struct {
    uint64_t user;
    char device[DEVICE_BYTES_MAX + 1];
    uint64_t gen;
    uint64_t exp;
} access_t;

/* A signed access token (caller frees *out); 0 or -1. */
int tokens_sign(const tokens_t *t, uint64_t user, const char *device, uint64_t gen, uint64_t now_s,
                char **out);
/* 0 with *a filled, or -1: the token is not one of ours, or has expired. */
int tokens_verify(const tokens_t *t, const char *token, uint64_t now_s, access_t *a);

#endif
