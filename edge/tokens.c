/* edge/tokens.c — access tokens (see tokens.h). */
#include "edge/tokens.h"

#include <jwt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jwt_alg_t s_alg(tokens_alg_t a)
{
    return a == TOKENS_ES256 ? JWT_ALG_ES256 : JWT_ALG_HS256;
}

int tokens_sign(const tokens_t *t, uint64_t user, const char *device, uint64_t gen, uint64_t now_s,
                char **out)
{
    if (t->signing >= t->nkeys || !t->keys[t->signing].sign_key ||
        !device_valid(device, strlen(device)))
        return -1;
    const tokens_key_t *k = &t->keys[t->signing];
    jwt_t *j = NULL;
    char sub[ID_BYTES_MAX + 1];
    id_format(sub, user);
    uint32_t ttl = t->ttl_s ? t->ttl_s : TOKENS_TTL_S;
    int rc = jwt_new(&j);
    rc = rc ? rc : jwt_add_header(j, "kid", k->kid);
    rc = rc ? rc : jwt_add_grant(j, "sub", sub);
    rc = rc ? rc : jwt_add_grant(j, "dev", device);
    rc = rc ? rc : jwt_add_grant_int(j, "gen", (long)gen);
    rc = rc ? rc : jwt_add_grant_int(j, "iat", (long)now_s);
    rc = rc ? rc : jwt_add_grant_int(j, "exp", (long)(now_s + ttl));
    rc = rc ? rc : jwt_set_alg(j, s_alg(k->alg), k->sign_key, (int)k->sign_len);
    *out = rc ? NULL : jwt_encode_str(j);
    jwt_free(j);
    return *out ? 0 : -1;
}

static const tokens_key_t *s_key(const tokens_t *t, const char *kid)
{
    for (uint32_t i = 0; kid && i < t->nkeys; i++)
        if (strcmp(t->keys[i].kid, kid) == 0)
            return &t->keys[i];
    return NULL;
}

int tokens_verify(const tokens_t *t, const char *token, uint64_t now_s, access_t *a)
{
    jwt_t *j = NULL;
    const tokens_key_t *k = NULL;
    if (!token || strlen(token) > 4096 || jwt_decode(&j, token, NULL, 0) != 0)
        return -1;
    k = s_key(t, jwt_get_header(j, "kid"));     /* unverified: only to choose the key */
    const char *alg = jwt_get_header(j, "alg"); /* (unverified decoding reports alg none) */
    bool alg_ok = k && alg && strcmp(alg, k->alg == TOKENS_ES256 ? "ES256" : "HS256") == 0;
    jwt_free(j);
    j = NULL;
    if (!alg_ok || jwt_decode(&j, token, k->verify_key, (int)k->verify_len) != 0 ||
        jwt_get_alg(j) != s_alg(k->alg)) {
        jwt_free(j);
        return -1;
    }
    const char *sub = jwt_get_grant(j, "sub"), *dev = jwt_get_grant(j, "dev");
    long gen = jwt_get_grant_int(j, "gen"), exp = jwt_get_grant_int(j, "exp");
    int rc = -1;
    if (sub && dev && gen > 0 && exp > 0 && (uint64_t)exp > now_s &&
        (a->user = id_parse(sub, strlen(sub))) != 0 && device_valid(dev, strlen(dev))) {
        snprintf(a->device, sizeof a->device, "%s", dev);
        a->gen = (uint64_t)gen;
        a->exp = (uint64_t)exp;
        rc = 0;
    }
    jwt_free(j);
    return rc;
}
