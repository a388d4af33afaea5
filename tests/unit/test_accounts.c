/* tests/unit/test_accounts.c — the account side of the actors on one in-process shard node
 * (real runtime, real RocksDB): prekeys with real keys and XEdDSA signatures made by
 * libsignal-protocol-c, reports, one-time codes in the phone registry, refresh tokens in the
 * user actor (rotation, reuse revoking the family, the generation checked at auth). */
#ifdef MW_CLUSTER /* the same tests over three real shard processes */
#include "tests/support/msg_cluster.h"
#else
#include "tests/support/msg_world.h"
#endif
#include "tests/support/msg_steps.h"

#include <signal/curve.h>
#include <signal/signal_protocol.h>
#include <sodium.h>

#include "runtime/errors.h"
#include "runtime/fault.h"

/* ---- prekeys: real keys and XEdDSA signatures made with libsignal-protocol-c ------------- */

/* A crypto provider over libsodium: what key generation and XEdDSA signing need (random
 * bytes, SHA-512); the ciphers are not used here. */
static int s_random(uint8_t *data, size_t len, void *user)
{
    (void)user;
    randombytes_buf(data, len);
    return 0;
}

static int s_hmac_init(void **c, const uint8_t *key, size_t klen, void *user)
{
    (void)user;
    *c = malloc(sizeof(crypto_auth_hmacsha256_state));
    return crypto_auth_hmacsha256_init(*c, key, klen);
}

static int s_hmac_update(void *c, const uint8_t *d, size_t len, void *user)
{
    (void)user;
    return crypto_auth_hmacsha256_update(c, d, len);
}

static int s_hmac_final(void *c, signal_buffer **out, void *user)
{
    (void)user;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_final(c, mac);
    *out = signal_buffer_create(mac, sizeof mac);
    return 0;
}

static int s_sha_init(void **c, void *user)
{
    (void)user;
    *c = malloc(sizeof(crypto_hash_sha512_state));
    return crypto_hash_sha512_init(*c);
}

static int s_sha_update(void *c, const uint8_t *d, size_t len, void *user)
{
    (void)user;
    return crypto_hash_sha512_update(c, d, len);
}

static int s_sha_final(void *c, signal_buffer **out, void *user)
{
    (void)user;
    uint8_t h[crypto_hash_sha512_BYTES];
    crypto_hash_sha512_final(c, h);
    crypto_hash_sha512_init(c); /* the library reuses a digest context */
    *out = signal_buffer_create(h, sizeof h);
    return 0;
}

static void s_cleanup(void *c, void *user)
{
    (void)user;
    free(c);
}

static int s_no_cipher(signal_buffer **out, int cipher, const uint8_t *key, size_t klen,
                       const uint8_t *iv, size_t ivlen, const uint8_t *in, size_t inlen, void *user)
{
    (void)out, (void)cipher, (void)key, (void)klen, (void)iv, (void)ivlen, (void)in, (void)inlen,
        (void)user;
    return -1;
}

typedef struct {
    signal_context *sc;
    ec_key_pair *identity, *spk, *pre[2];
} keys_t;

static void s_b64(signal_buffer *b, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, signal_buffer_data(b), signal_buffer_len(b),
                      sodium_base64_VARIANT_ORIGINAL);
}

static void s_pub_b64(const ec_key_pair *k, char *out, size_t cap)
{
    signal_buffer *b = NULL;
    assert_int_equal(ec_public_key_serialize(&b, ec_key_pair_get_public(k)), 0);
    s_b64(b, out, cap);
    signal_buffer_free(b);
}

/* a (device a1) puts its keys with one-time prekeys first_id and first_id + 1. */
static void s_keys_put(const user_ref_t *a, const char *id_b64, const char *spk_b64,
                       const char *sig_b64, int first_id, const char *p1, const char *p2)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"t\":\"keys.put\",\"registration_id\":77,\"identity\":\"b64:%s\","
             "\"signed_prekey\":{\"id\":1,\"key\":\"b64:%s\",\"sig\":\"b64:%s\"},"
             "\"prekeys\":[{\"id\":%d,\"key\":\"b64:%s\"},{\"id\":%d,\"key\":\"b64:%s\"}]}",
             id_b64, spk_b64, sig_b64, first_id, p1, first_id + 1, p2);
    s_ok(0, a->key, a, "a1", json);
}

/* Two fetches at once still get different one-time prekeys: the first one's delete is in
 * flight when the second reads (it read the committed state and handed the same prekey out
 * twice). a puts prekeys 3 and 4; b fetches on sessions 1 and 2 without waiting. */
static void s_two_fetches_at_once(const user_ref_t *a, const user_ref_t *b, const char *id_b64,
                                  const char *spk_b64, const char *sig_b64, const char *p1,
                                  const char *p2)
{
    char json[128];
    s_keys_put(a, id_b64, spk_b64, sig_b64, 3, p1, p2);
    snprintf(json, sizeof json, "{\"t\":\"keys.get\",\"user\":\"%s\"}", a->id);
    sess_post_call(1, a->key, b->id, "b1", json);
    sess_post_call(2, a->key, b->id, "b1", json);
    uint64_t got[2] = {0};
    for (uint32_t i = 0; i < 2; i++) {
        msgpack_unpacked up;
        assert_string_equal(sess_answer(1 + i, 5000, &up), "ok");
        const msgpack_object *bundles, *pre;
        assert_int_equal(mp_get_array(&up.data, "bundles", &bundles), MP_OK);
        assert_int_equal(bundles->via.array.size, 1);
        assert_int_equal(mp_get_map(&bundles->via.array.ptr[0], "prekey", &pre), MP_OK);
        got[i] = sess_u64(pre, "id");
        msgpack_unpacked_destroy(&up);
    }
    assert_true((got[0] == 3 && got[1] == 4) || (got[0] == 4 && got[1] == 3));
}

/* A keys.put sent again (a client that lost the first one's answer retries it) brings back no
 * one-time prekey handed out since: prekeys 1 and 2 were, so a fetch finds none (they came
 * back and were handed out a second time). The same id with another key is a new prekey. */
static void s_put_again_brings_none_back(const user_ref_t *a, const user_ref_t *b,
                                         const char *id_b64, const char *spk_b64,
                                         const char *sig_b64, const char *p1, const char *p2)
{
    char json[128];
    s_keys_put(a, id_b64, spk_b64, sig_b64, 1, p1, p2);
    snprintf(json, sizeof json, "{\"t\":\"keys.get\",\"user\":\"%s\"}", a->id);
    msgpack_unpacked up;
    const msgpack_object *bundles, *pre;
    assert_string_equal(sess_call(1, a->key, b->id, "b1", json, &up), "ok");
    assert_int_equal(mp_get_array(&up.data, "bundles", &bundles), MP_OK);
    assert_null(mp_get(&bundles->via.array.ptr[0], "prekey"));
    msgpack_unpacked_destroy(&up);
    s_keys_put(a, id_b64, spk_b64, sig_b64, 1, p2, p1); /* ids 1 and 2, each with another key */
    for (uint64_t want = 1; want <= 2; want++) {
        assert_string_equal(sess_call(1, a->key, b->id, "b1", json, &up), "ok");
        assert_int_equal(mp_get_array(&up.data, "bundles", &bundles), MP_OK);
        assert_int_equal(mp_get_map(&bundles->via.array.ptr[0], "prekey", &pre), MP_OK);
        assert_int_equal(sess_u64(pre, "id"), want);
        msgpack_unpacked_destroy(&up);
    }
}

static void test_prekeys(void **state)
{
    (void)state;
    keys_t k = {0};
    signal_crypto_provider cp = {.random_func = s_random,
                                 .hmac_sha256_init_func = s_hmac_init,
                                 .hmac_sha256_update_func = s_hmac_update,
                                 .hmac_sha256_final_func = s_hmac_final,
                                 .hmac_sha256_cleanup_func = s_cleanup,
                                 .sha512_digest_init_func = s_sha_init,
                                 .sha512_digest_update_func = s_sha_update,
                                 .sha512_digest_final_func = s_sha_final,
                                 .sha512_digest_cleanup_func = s_cleanup,
                                 .encrypt_func = s_no_cipher,
                                 .decrypt_func = s_no_cipher};
    assert_int_equal(signal_context_create(&k.sc, NULL), 0);
    assert_int_equal(signal_context_set_crypto_provider(k.sc, &cp), 0);
    assert_int_equal(curve_generate_key_pair(k.sc, &k.identity), 0);
    assert_int_equal(curve_generate_key_pair(k.sc, &k.spk), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(curve_generate_key_pair(k.sc, &k.pre[i]), 0);
    signal_buffer *spk_pub = NULL, *sig = NULL;
    ec_public_key_serialize(&spk_pub, ec_key_pair_get_public(k.spk));
    assert_int_equal(curve_calculate_signature(k.sc, &sig, ec_key_pair_get_private(k.identity),
                                               signal_buffer_data(spk_pub),
                                               signal_buffer_len(spk_pub)),
                     0);
    char id_b64[64], spk_b64[64], sig_b64[128], p1[64], p2[64];
    s_pub_b64(k.identity, id_b64, sizeof id_b64);
    s_pub_b64(k.spk, spk_b64, sizeof spk_b64);
    s_b64(sig, sig_b64, sizeof sig_b64);
    s_pub_b64(k.pre[0], p1, sizeof p1);
    s_pub_b64(k.pre[1], p2, sizeof p2);

    user_ref_t a, b;
    s_user(0, "+15550000091", "a1", &a);
    s_user(1, "+15550000092", "b1", &b);
    char json[1024];
    s_keys_put(&a, id_b64, spk_b64, sig_b64, 1, p1, p2);
    /* a signature by another key is refused */
    char bad[1024];
    snprintf(bad, sizeof bad,
             "{\"t\":\"keys.put\",\"registration_id\":77,\"identity\":\"b64:%s\","
             "\"signed_prekey\":{\"id\":1,\"key\":\"b64:%s\",\"sig\":\"b64:%s\"}}",
             spk_b64, spk_b64, sig_b64);
    s_err(0, a.key, &a, "a1", bad, "bad_request");
    snprintf(bad, sizeof bad, "{\"t\":\"keys.put\",\"registration_id\":77,\"identity\":\"short\"}");
    s_err(0, a.key, &a, "a1", bad, "bad_request");
    /* each one-time prekey is handed out once */
    snprintf(json, sizeof json, "{\"t\":\"keys.get\",\"user\":\"%s\"}", a.id);
    for (uint64_t want = 1; want <= 3; want++) {
        msgpack_unpacked up;
        assert_string_equal(sess_call(1, a.key, b.id, "b1", json, &up), "ok");
        const msgpack_object *bundles, *pre, *spk;
        assert_int_equal(mp_get_array(&up.data, "bundles", &bundles), MP_OK);
        assert_int_equal(bundles->via.array.size, 1);
        const msgpack_object *bd = &bundles->via.array.ptr[0];
        char buf[32];
        assert_string_equal(sess_str(bd, "device", buf, sizeof buf), "a1");
        assert_int_equal(sess_u64(bd, "registration_id"), 77);
        mp_str_t ident;
        assert_int_equal(mp_get_bin(bd, "identity", 64, &ident), MP_OK);
        assert_int_equal(ident.len, 33);
        assert_int_equal(mp_get_map(bd, "signed_prekey", &spk), MP_OK);
        if (want <= 2) {
            assert_int_equal(mp_get_map(bd, "prekey", &pre), MP_OK);
            assert_int_equal(sess_u64(pre, "id"), want);
        } else {
            assert_null(mp_get(bd, "prekey")); /* none left */
        }
        msgpack_unpacked_destroy(&up);
    }
    s_put_again_brings_none_back(&a, &b, id_b64, spk_b64, sig_b64, p1, p2);
    s_two_fetches_at_once(&a, &b, id_b64, spk_b64, sig_b64, p1, p2);
    signal_buffer_free(spk_pub);
    signal_buffer_free(sig);
    SIGNAL_UNREF(k.identity);
    SIGNAL_UNREF(k.spk);
    SIGNAL_UNREF(k.pre[0]);
    SIGNAL_UNREF(k.pre[1]);
    signal_context_destroy(k.sc);
    /* reports land with the reported user */
    snprintf(json, sizeof json, "{\"t\":\"report\",\"user\":\"%s\",\"reason\":\"spam\"}", a.id);
    s_ok(1, a.key, &b, "b1", json);
    snprintf(json, sizeof json, "{\"t\":\"report\",\"user\":\"%s\"}", a.id);
    s_err(1, a.key, &b, "b1", json, "bad_request");
}

/* ---- accounts: one-time codes and refresh tokens ---------------------------------------- */

/* A raw request's answer: status (0 or an error) and the first string of an array answer. */
static int s_raw(uint32_t sess, const char *target, uint32_t type, const mp_buf_t *b, char *first,
                 size_t cap, uint64_t *second)
{
    sess_item_t *it = sess_raw(sess, target, type, b->sb.data, b->sb.size);
    assert_non_null(it);
    int status = it->status;
    if (first)
        first[0] = '\0';
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (status == 0 && it->len && mp_parse(&up, it->data, it->len) &&
        up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size >= 1) {
        mp_str_t s;
        if (first && mp_as_str(&up.data.via.array.ptr[0], &s))
            mp_str_copy(s, first, cap);
        if (second && up.data.via.array.size >= 2)
            mp_as_u64(&up.data.via.array.ptr[1], second);
    }
    msgpack_unpacked_destroy(&up);
    free(it);
    return status;
}

static int s_otp_request(const char *phone, char code[8])
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 0);
    char target[32];
    snprintf(target, sizeof target, "p:%s", phone);
    int rc = s_raw(0, target, MSG_OTP_REQUEST, &b, code, 8, NULL);
    mp_buf_fini(&b);
    return rc;
}

/* The user id on success ("" and the status otherwise). */
static int s_otp_verify(const char *phone, const char *code, const char *device, char user[32])
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 2);
    mp_pack_str(&b.pk, code);
    mp_pack_str(&b.pk, device);
    char target[32];
    snprintf(target, sizeof target, "p:%s", phone);
    sess_item_t *it = sess_raw(0, target, MSG_OTP_VERIFY, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
    assert_non_null(it);
    int status = it->status;
    user[0] = '\0';
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (status == 0 && mp_parse(&up, it->data, it->len))
        sess_str(&up.data, "user", user, 32);
    msgpack_unpacked_destroy(&up);
    free(it);
    return status;
}

static void test_one_time_codes(void **state)
{
    (void)state;
    const char *phone = "+15550000101";
    char code[8], user[32], wrong[8];
    assert_int_equal(s_otp_request(phone, code), 0);
    assert_int_equal(strlen(code), 6);
    snprintf(wrong, sizeof wrong, "%06d", (atoi(code) + 1) % 1000000);
    assert_int_equal(s_otp_verify(phone, wrong, "d1", user), ROOST_EACCES);
    assert_int_equal(s_otp_verify(phone, code, "d1", user), 0);
    assert_true(user[0] != '\0');
    assert_int_equal(s_otp_verify(phone, code, "d1", user), ROOST_EACCES); /* used once */
    /* five wrong tries void the code */
    assert_int_equal(s_otp_request(phone, code), 0);
    snprintf(wrong, sizeof wrong, "%06d", (atoi(code) + 1) % 1000000);
    for (int i = 0; i < 5; i++)
        assert_int_equal(s_otp_verify(phone, wrong, "d2", user), ROOST_EACCES);
    assert_int_equal(s_otp_verify(phone, code, "d2", user), ROOST_EACCES);
    /* three codes an hour per number */
    assert_int_equal(s_otp_request(phone, code), 0);
    assert_int_equal(s_otp_request(phone, code), ROOST_ELIMIT);
    /* the same number verified again: the same account, another device */
    char first[32];
    assert_int_equal(s_otp_request("+15550000102", code), 0);
    assert_int_equal(s_otp_verify("+15550000102", code, "x1", first), 0);
    assert_int_equal(s_otp_request("+15550000102", code), 0);
    assert_int_equal(s_otp_verify("+15550000102", code, "x2", user), 0);
    assert_string_equal(user, first);
}

static int s_token(uint32_t type, const user_ref_t *u, const char *device, const char *token,
                   char out[200], uint64_t *gen)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, token ? 2 : 1);
    mp_pack_str(&b.pk, device);
    if (token)
        mp_pack_str(&b.pk, token);
    int rc = s_raw(0, u->key, type, &b, out, 200, gen);
    mp_buf_fini(&b);
    return rc;
}

static int s_check_gen(const user_ref_t *u, const char *device, uint64_t gen)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 2);
    mp_pack_str(&b.pk, device);
    msgpack_pack_uint64(&b.pk, gen);
    int rc = s_raw(0, u->key, MSG_TOKEN_CHECK, &b, NULL, 0, NULL);
    mp_buf_fini(&b);
    return rc;
}

static void test_refresh_tokens(void **state)
{
    (void)state;
    user_ref_t a;
    s_user(0, "+15550000111", "a1", &a);
    char t1[200], t2[200], t3[200];
    uint64_t g1 = 0, g2 = 0, g3 = 0;
    assert_int_equal(s_token(MSG_TOKEN_ISSUE, &a, "a1", NULL, t1, &g1), 0);
    assert_true(strncmp(t1, "rt1.", 4) == 0 && strstr(t1, a.id));
    assert_int_equal(s_check_gen(&a, "a1", g1), 0);
    assert_int_equal(s_token(MSG_TOKEN_REFRESH, &a, "a1", t1, t2, &g2), 0); /* rotated */
    assert_true(strcmp(t1, t2) != 0 && g2 > g1);
    assert_int_equal(s_check_gen(&a, "a1", g1), ROOST_EACCES); /* the old generation */
    assert_int_equal(s_check_gen(&a, "a1", g2), 0);
    assert_int_equal(s_token(MSG_TOKEN_REFRESH, &a, "a9", t2, t3, &g3), ROOST_EACCES);
    /* the spent one again: the whole family goes, the live one with it */
    assert_int_equal(s_token(MSG_TOKEN_REFRESH, &a, "a1", t1, t3, &g3), ROOST_EACCES);
    assert_int_equal(s_token(MSG_TOKEN_REFRESH, &a, "a1", t2, t3, &g3), ROOST_EACCES);
    assert_int_equal(s_check_gen(&a, "a1", g2), ROOST_EACCES);
    char json[64];
    snprintf(json, sizeof json, "{\"t\":\"auth\",\"gen\":%llu}", (unsigned long long)g2);
    s_err(1, a.key, &a, "a1", json, "unauthorized"); /* its access tokens stop working */
    /* a new login starts a new family */
    assert_int_equal(s_token(MSG_TOKEN_ISSUE, &a, "a1", NULL, t3, &g3), 0);
    assert_int_equal(s_check_gen(&a, "a1", g3), 0);
    snprintf(json, sizeof json, "{\"t\":\"auth\",\"gen\":%llu}", (unsigned long long)g3);
    s_ok(1, a.key, &a, "a1", json);
    assert_int_equal(s_token(MSG_TOKEN_REFRESH, &a, "a1", "rt1.junk", t2, &g2), ROOST_EACCES);
}

#ifndef MW_CLUSTER /* arms a fault point in this process */
/* What the phone registry asks u:<id> for a claim of device `device` (MSG_USER_CREATE), posted
 * on session i: sess_wait collects the answer. */
static void s_post_create(uint32_t i, const user_ref_t *u, const char *phone, const char *device)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 2);
    mp_pack_str(&b.pk, phone);
    mp_pack_str(&b.pk, device);
    sess_post_raw(i, u->key, MSG_USER_CREATE, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

/* A device claimed again while the write registering it is in flight is answered once that
 * write is durable, not from memory: the retry was answered ok, the write then failed, and the
 * device could never log in ("device not registered" for good; simulator seed 370, where the
 * registry's first request timed out behind a partition that could not commit). The write is
 * held (replog.hold_flush: numbered, not written) until a later write to the partition. */
static void test_a_claim_retried_while_its_device_is_stored_waits_for_it(void **state)
{
    (void)state;
    const char *phone = "+15550000121";
    user_ref_t a;
    s_user(0, phone, "a1", &a);
    s_settled_appends(500);
    assert_int_equal(roost_fault_arm("replog.hold_flush", -1), 0);
    s_post_create(1, &a, phone, "a2");
    proc_sleep_ms(100);
    s_post_create(2, &a, phone, "a2"); /* the registry's retry */
    sess_item_t *it = sess_wait(2, true, 600);
    assert_null(it); /* not before a2's registration is stored */
    assert_null(sess_wait(1, true, 0));
    roost_fault_reset();
    s_post_create(3, &a, phone, "a3"); /* flushes a2's write with its own */
    for (uint32_t i = 1; i <= 3; i++) {
        it = sess_wait(i, true, 5000);
        assert_non_null(it);
        assert_int_equal(it->status, 0);
        free(it);
    }
    s_auth(1, &a, "a2", -1);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prekeys, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_one_time_codes, mw_setup, mw_teardown),
        cmocka_unit_test_setup_teardown(test_refresh_tokens, mw_setup, mw_teardown),
#ifndef MW_CLUSTER
        cmocka_unit_test_setup_teardown(
            test_a_claim_retried_while_its_device_is_stored_waits_for_it, mw_setup, mw_teardown),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
