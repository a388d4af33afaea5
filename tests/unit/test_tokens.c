/* tests/unit/test_tokens.c — the edge's access tokens: HS256 and ES256 (a P-256 key made here
 * with OpenSSL) signed and verified, claims round-trip; expired, tampered, unknown-kid,
 * alg "none" and HS-for-ES tokens refused; a rotated-out key still verifies while listed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "edge/tokens.h"

static const uint8_t SECRET_A[] = "0123456789abcdef0123456789abcdef";
static const uint8_t SECRET_B[] = "fedcba9876543210fedcba9876543210";

static tokens_t s_hs(void)
{
    tokens_t t = {.nkeys = 2, .signing = 0};
    t.keys[0] = (tokens_key_t){.kid = "a",
                               .alg = TOKENS_HS256,
                               .sign_key = SECRET_A,
                               .sign_len = 32,
                               .verify_key = SECRET_A,
                               .verify_len = 32};
    t.keys[1] = (tokens_key_t){.kid = "b",
                               .alg = TOKENS_HS256,
                               .sign_key = SECRET_B,
                               .sign_len = 32,
                               .verify_key = SECRET_B,
                               .verify_len = 32};
    return t;
}

static void test_hs256_round_trip_and_refusals(void **state)
{
    (void)state;
    tokens_t t = s_hs();
    char *tok = NULL;
    assert_int_equal(tokens_sign(&t, 42, "phone-1", 3, 1000, &tok), 0);
    access_t a;
    assert_int_equal(tokens_verify(&t, tok, 1001, &a), 0);
    assert_int_equal(a.user, 42);
    assert_string_equal(a.device, "phone-1");
    assert_int_equal(a.gen, 3);
    assert_int_equal(a.exp, 1000 + TOKENS_TTL_S);
    assert_int_equal(tokens_verify(&t, tok, 1000 + TOKENS_TTL_S, &a), -1); /* expired */
    /* rotation: b signs now; a's tokens still verify while a is listed, not after */
    t.signing = 1;
    char *tok_b = NULL;
    assert_int_equal(tokens_sign(&t, 42, "phone-1", 3, 1000, &tok_b), 0);
    assert_int_equal(tokens_verify(&t, tok_b, 1001, &a), 0);
    assert_int_equal(tokens_verify(&t, tok, 1001, &a), 0);
    tokens_t only_b = t;
    only_b.keys[0] = t.keys[1];
    only_b.nkeys = 1;
    only_b.signing = 0;
    assert_int_equal(tokens_verify(&only_b, tok, 1001, &a), -1); /* unknown kid */
    /* a tampered payload (one character of the claims) */
    char *bad = strdup(tok);
    char *dot = strchr(bad, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    assert_int_equal(tokens_verify(&t, bad, 1001, &a), -1);
    free(bad);
    /* alg "none" with our kid */
    const char *none = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIiwia2lkIjoiYSJ9."
                       "eyJzdWIiOiI0MiIsImRldiI6InAiLCJnZW4iOjEsImV4cCI6OTk5OTk5OTk5OX0.";
    assert_int_equal(tokens_verify(&t, none, 1001, &a), -1);
    assert_int_equal(tokens_verify(&t, "not a token", 1001, &a), -1);
    free(tok);
    free(tok_b);
}

/* A fresh P-256 key pair as PEM strings. */
static void s_p256(char **priv, char **pub)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    char *p;
    long n = BIO_get_mem_data(b, &p);
    *priv = strndup(p, (size_t)n);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, k);
    n = BIO_get_mem_data(b, &p);
    *pub = strndup(p, (size_t)n);
    BIO_free(b);
    EVP_PKEY_free(k);
}

static void test_es256_and_no_alg_confusion(void **state)
{
    (void)state;
    char *priv, *pub;
    s_p256(&priv, &pub);
    tokens_t t = {.nkeys = 1};
    t.keys[0] = (tokens_key_t){.kid = "es",
                               .alg = TOKENS_ES256,
                               .sign_key = (const uint8_t *)priv,
                               .sign_len = strlen(priv),
                               .verify_key = (const uint8_t *)pub,
                               .verify_len = strlen(pub)};
    char *tok = NULL;
    assert_int_equal(tokens_sign(&t, 7, "d", 1, 5000, &tok), 0);
    access_t a;
    assert_int_equal(tokens_verify(&t, tok, 5001, &a), 0);
    assert_int_equal(a.user, 7);
    /* an HS256 token signed with the public key as its secret, claiming the ES key's kid */
    tokens_t forge = {.nkeys = 1};
    forge.keys[0] = (tokens_key_t){.kid = "es",
                                   .alg = TOKENS_HS256,
                                   .sign_key = (const uint8_t *)pub,
                                   .sign_len = strlen(pub),
                                   .verify_key = (const uint8_t *)pub,
                                   .verify_len = strlen(pub)};
    char *forged = NULL;
    assert_int_equal(tokens_sign(&forge, 7, "d", 1, 5000, &forged), 0);
    assert_int_equal(tokens_verify(&t, forged, 5001, &a), -1);
    tokens_t verify_only = t;
    verify_only.keys[0].sign_key = NULL;
    char *none = NULL;
    assert_int_equal(tokens_sign(&verify_only, 7, "d", 1, 5000, &none), -1);
    free(tok);
    free(forged);
    free(priv);
    free(pub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hs256_round_trip_and_refusals),
        cmocka_unit_test(test_es256_and_no_alg_confusion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
