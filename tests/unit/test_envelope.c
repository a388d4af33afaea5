/* tests/unit/test_envelope.c — the envelope wire form: round trip, every malformed input refused
 * with ROOST_EPROTO (never a crash), and the direct codec byte for byte and verdict for verdict
 * the same as msgpack-c's (tests/support/env_reference.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/envelope.h"
#include "runtime/errors.h"
#include "runtime/limits.h"
#include "runtime/mpguard.h"
#include "runtime/rng.h"
#include "tests/support/env_reference.h"

static void s_encode(const roost_env_t *env, msgpack_sbuffer *sb)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    roost_env_encode(env, &pk);
}

static roost_env_t *s_sample(void)
{
    roost_env_t *env = roost_env_new("u:42", "g:7", 12, "hello", 5);
    env->flags = ROOST_ENV_REQUEST;
    env->corr = 0x1122334455667788u;
    env->epoch = 9;
    env->status = -3;
    env->hops = 2;
    return env;
}

static void test_envelope_round_trips(void **state)
{
    (void)state;
    roost_env_t *env = s_sample();
    msgpack_sbuffer sb;
    s_encode(env, &sb);
    roost_env_t *back = NULL;
    assert_int_equal(roost_env_decode_bytes(sb.data, sb.size, &back), 0);
    assert_string_equal(back->target, "u:42");
    assert_string_equal(back->sender, "g:7");
    assert_int_equal(back->type, 12);
    assert_int_equal(back->flags, ROOST_ENV_REQUEST);
    assert_int_equal(back->corr, env->corr);
    assert_int_equal(back->epoch, 9);
    assert_int_equal(back->status, -3);
    assert_int_equal(back->hops, 2);
    assert_int_equal(back->payload_len, 5);
    assert_memory_equal(back->payload, "hello", 5);
    roost_env_free(back);
    roost_env_free(env);
    msgpack_sbuffer_destroy(&sb);
}

/* A frame of envelopes decoded one after another with one decoder (the transport's way): each
 * reports its length, every truncation of the frame's last one is refused, and the decoder's
 * pooled blocks are freed like any envelope. */
static void test_a_decoder_reads_a_frame(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    enum { N = 300 };
    for (uint64_t i = 0; i < N; i++) {
        roost_env_t *env = roost_env_new("u:42", "g:7", 12, &i, sizeof i);
        roost_env_encode(env, &pk);
        roost_env_free(env);
    }
    roost_env_decoder_t d;
    roost_env_decoder_init(&d);
    size_t off = 0, used = 0;
    for (uint64_t i = 0; i < N; i++) {
        roost_env_t *env = NULL;
        assert_int_equal(roost_env_decode_next(&d, sb.data + off, sb.size - off, &used, &env), 0);
        off += used;
        uint64_t v;
        memcpy(&v, env->payload, sizeof v);
        assert_int_equal(v, i);
        assert_string_equal(env->target, "u:42");
        if (i % 2)
            roost_env_free_to(&d.pool, env); /* back to the decoder's pool… */
        else
            roost_env_free(env); /* …or anywhere */
    }
    assert_int_equal(off, sb.size);
    size_t last = sb.size - used;
    for (size_t cut = last; cut < sb.size; cut++) {
        roost_env_t *env = (roost_env_t *)1;
        used = 7;
        assert_int_equal(roost_env_decode_next(&d, sb.data + last, cut - last, &used, &env),
                         ROOST_EPROTO);
        assert_null(env);
        assert_int_equal(used, 7);
    }
    roost_env_decoder_fini(&d);
    msgpack_sbuffer_destroy(&sb);
}

static void test_every_truncation_is_refused(void **state)
{
    (void)state;
    roost_env_t *env = s_sample();
    msgpack_sbuffer sb;
    s_encode(env, &sb);
    for (size_t len = 0; len < sb.size; len++) {
        roost_env_t *back = (roost_env_t *)1;
        assert_int_equal(roost_env_decode_bytes(sb.data, len, &back), ROOST_EPROTO);
        assert_null(back);
    }
    roost_env_free(env);
    msgpack_sbuffer_destroy(&sb);
}

static void test_random_bytes_never_crash(void **state)
{
    (void)state;
    roost_rng_t rng;
    roost_rng_seed(&rng, 42);
    uint8_t buf[256];
    roost_env_t *env = s_sample();
    msgpack_sbuffer sb;
    s_encode(env, &sb);
    for (int round = 0; round < 20000; round++) {
        size_t len = roost_rng_below(&rng, sizeof buf);
        if (round % 2) { /* flip bytes of a valid encoding: reaches deeper than noise */
            len = sb.size;
            memcpy(buf, sb.data, len);
            buf[roost_rng_below(&rng, len)] = (uint8_t)roost_rng_next(&rng);
        } else {
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)roost_rng_next(&rng);
        }
        roost_env_t *back = NULL;
        if (roost_env_decode_bytes(buf, len, &back) == 0) {
            assert_true(roost_key_is_valid(back->target, back->target_len));
            roost_env_free(back);
        }
    }
    roost_env_free(env);
    msgpack_sbuffer_destroy(&sb);
}

static void s_expect_refused(const char *desc, void (*build)(msgpack_packer *))
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    build(&pk);
    roost_env_t *back = NULL;
    int rc = roost_env_decode_bytes(sb.data, sb.size, &back);
    if (rc != ROOST_EPROTO)
        fail_msg("%s: accepted", desc);
    msgpack_sbuffer_destroy(&sb);
}

static void s_head(msgpack_packer *pk, int version, const char *target)
{
    msgpack_pack_array(pk, 10);
    msgpack_pack_int(pk, version);
    msgpack_pack_int(pk, 0);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, 0);
    msgpack_pack_int(pk, 0);
    msgpack_pack_int(pk, 0);
    msgpack_pack_int(pk, 0);
    msgpack_pack_str_with_body(pk, target, strlen(target));
    msgpack_pack_str_with_body(pk, "", 0);
}

static void b_version2(msgpack_packer *pk)
{
    s_head(pk, 2, "u:1");
    msgpack_pack_bin_with_body(pk, "", 0);
}
static void b_payload_str(msgpack_packer *pk)
{
    s_head(pk, 1, "u:1");
    msgpack_pack_str_with_body(pk, "x", 1);
}
static void b_bad_key(msgpack_packer *pk)
{
    s_head(pk, 1, "nocolon");
    msgpack_pack_bin_with_body(pk, "", 0);
}
static void b_empty_target(msgpack_packer *pk)
{
    s_head(pk, 1, "");
    msgpack_pack_bin_with_body(pk, "", 0);
}
static void b_map(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 0);
}
static void b_short_array(msgpack_packer *pk)
{
    msgpack_pack_array(pk, 3);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, 1);
}
static void b_huge_payload(msgpack_packer *pk)
{
    s_head(pk, 1, "u:1");
    size_t n = ROOST_PAYLOAD_BYTES_MAX + 1;
    char *big = calloc(1, n);
    msgpack_pack_bin_with_body(pk, big, n);
    free(big);
}

static void test_malformed_headers_are_refused(void **state)
{
    (void)state;
    s_expect_refused("unknown version", b_version2);
    s_expect_refused("payload not bin", b_payload_str);
    s_expect_refused("key without kind", b_bad_key);
    s_expect_refused("empty target on a user message", b_empty_target);
    s_expect_refused("a map", b_map);
    s_expect_refused("short array", b_short_array);
    s_expect_refused("payload over the limit", b_huge_payload);
}

/* Numbers at every boundary between msgpack's forms. */
static uint64_t s_edge_u64(roost_rng_t *rng, uint64_t max)
{
    static const uint64_t edges[] = {0,          1,
                                     127,        128,
                                     255,        256,
                                     65535,      65536,
                                     UINT32_MAX, 1ull << 32,
                                     INT64_MAX,  (uint64_t)INT64_MAX + 1,
                                     UINT64_MAX, 0x1122334455667788u};
    uint64_t v = roost_rng_below(rng, 3) ? edges[roost_rng_below(rng, sizeof edges / 8)]
                                         : roost_rng_next(rng) >> roost_rng_below(rng, 64);
    return v > max ? max : v;
}

static int32_t s_edge_i32(roost_rng_t *rng)
{
    static const int32_t edges[] = {0,      -1,        -31,       -32, -33,    -127,
                                    -128,   -129,      127,       128, -32767, -32768,
                                    -32769, INT32_MIN, INT32_MAX, 255, 256,    65535};
    return edges[roost_rng_below(rng, sizeof edges / sizeof edges[0])];
}

static roost_env_t *s_random_env(roost_rng_t *rng, uint8_t *scratch)
{
    static const size_t plens[] = {0, 1, 31, 255, 256, 65535, 65536, 70000};
    char target[ROOST_KEY_BYTES_MAX + 1], sender[ROOST_KEY_BYTES_MAX + 1];
    size_t tlen = 3 + roost_rng_below(rng, ROOST_KEY_BYTES_MAX - 2);
    size_t slen = roost_rng_below(rng, 2) ? 0 : 3 + roost_rng_below(rng, ROOST_KEY_BYTES_MAX - 2);
    memset(target, 'a' + (int)roost_rng_below(rng, 26), tlen);
    memset(sender, 'b', slen);
    target[1] = ':';
    if (slen)
        sender[1] = ':';
    size_t plen = plens[roost_rng_below(rng, sizeof plens / sizeof plens[0])];
    for (size_t i = 0; i < plen; i++)
        scratch[i] = (uint8_t)(i * 7);
    roost_env_t *env = roost_env_new_n(NULL, target, tlen, sender, slen,
                                       (uint32_t)s_edge_u64(rng, UINT32_MAX), scratch, plen);
    env->flags = (uint16_t)roost_rng_below(rng, ROOST_ENV_FLAGS_ALL + 1);
    env->corr = s_edge_u64(rng, UINT64_MAX);
    env->epoch = s_edge_u64(rng, UINT64_MAX);
    env->status = s_edge_i32(rng);
    env->hops = (uint8_t)roost_rng_below(rng, ROOST_ENV_HOPS_MAX + 1);
    return env;
}

/* The direct encoder writes what msgpack-c's packer wrote, byte for byte, for numbers at every
 * form boundary, keys up to the limit and payloads in every bin form. */
static void test_the_encoder_writes_msgpack_cs_bytes(void **state)
{
    (void)state;
    roost_rng_t rng;
    roost_rng_seed(&rng, 7);
    uint8_t *scratch = malloc(70000);
    for (int round = 0; round < 3000; round++) {
        roost_env_t *env = s_random_env(&rng, scratch);
        msgpack_sbuffer mine, theirs;
        s_encode(env, &mine);
        msgpack_sbuffer_init(&theirs);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &theirs, msgpack_sbuffer_write);
        env_reference_encode(env, &pk);
        assert_int_equal(mine.size, theirs.size);
        assert_memory_equal(mine.data, theirs.data, mine.size);
        roost_env_t *back = NULL;
        assert_int_equal(roost_env_decode_bytes(mine.data, mine.size, &back), 0);
        assert_true(env_reference_same(env, back));
        roost_env_free(back);
        msgpack_sbuffer_destroy(&mine);
        msgpack_sbuffer_destroy(&theirs);
        roost_env_free(env);
    }
    free(scratch);
}

/* A newer minor version's extra items are skipped when well formed, within the nesting the
 * envelope's array leaves them (mpguard's limit counts the array itself). */
static void test_extra_items_are_skipped_within_the_nesting_limit(void **state)
{
    (void)state;
    roost_env_t *env = s_sample();
    msgpack_sbuffer sb;
    s_encode(env, &sb);
    uint8_t buf[256];
    for (size_t depth = MPGUARD_DEPTH_MAX - 3; depth <= MPGUARD_DEPTH_MAX; depth++) {
        memcpy(buf, sb.data, sb.size);
        buf[0] = 0x9b; /* 11 items */
        memset(buf + sb.size, 0x91, depth);
        buf[sb.size + depth] = 0x01;
        size_t len = sb.size + depth + 1;
        roost_env_t *back = NULL;
        int rc = roost_env_decode_bytes(buf, len, &back);
        assert_int_equal(rc, depth < MPGUARD_DEPTH_MAX - 1 ? 0 : ROOST_EPROTO);
        if (rc == 0)
            assert_true(env_reference_same(env, back));
        roost_env_free(back);
    }
    roost_env_free(env);
    msgpack_sbuffer_destroy(&sb);
}

/* Both decoders on the same bytes: same verdict, same length taken, same fields. */
static void s_expect_agreement(roost_env_decoder_t *d, const uint8_t *buf, size_t len)
{
    size_t used = 0, ref_used = 0;
    roost_env_t *mine = NULL, *ref = NULL;
    int rc = roost_env_decode_next(d, buf, len, &used, &mine);
    int ref_rc = env_reference_decode(buf, len, &ref_used, &ref);
    assert_int_equal(rc, ref_rc);
    if (rc == ROOST_OK) {
        assert_int_equal(used, ref_used);
        assert_true(env_reference_same(mine, ref));
    }
    roost_env_free_to(&d->pool, mine);
    roost_env_free(ref);
}

/* A number in a form picked at random, forced (the bytes msgpack_pack_fix_* writes) or shortest:
 * signed forms of positive values, unsigned forms, negatives where a field wants an unsigned. */
static void s_pack_number(roost_rng_t *rng, msgpack_packer *pk, uint64_t v)
{
    if (roost_rng_below(rng, 4) == 0)
        v = (uint64_t) - (int64_t)(1 + roost_rng_below(rng, 200000)); /* a negative */
    uint64_t form = roost_rng_below(rng, 10);
    if (form == 8) {
        msgpack_pack_int64(pk, (int64_t)v);
    } else if (form == 9) {
        msgpack_pack_uint64(pk, v);
    } else { /* forced: uint8..uint64 (0xcc..0xcf), int8..int64 (0xd0..0xd3), v truncated */
        uint8_t out[9];
        int bytes = 1 << (form & 3);
        out[0] = (uint8_t)(0xcc + form);
        for (int i = 0; i < bytes; i++)
            out[1 + i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
        pk->callback(pk->data, (const char *)out, (size_t)(1 + bytes));
    }
}

/* A str or bin in a form picked at random (fixstr, 8, 16 or 32-bit lengths), or the other kind. */
static void s_pack_sized(roost_rng_t *rng, msgpack_packer *pk, bool bin, const void *body,
                         size_t len)
{
    uint8_t head[5];
    size_t n = 0;
    if (roost_rng_below(rng, 8) == 0)
        bin = !bin;
    uint64_t form = roost_rng_below(rng, 4);
    if (form == 0 && !bin && len < 32) {
        head[n++] = (uint8_t)(0xa0 | len);
    } else {
        form = form == 0 ? 1 : form;
        uint8_t first = bin ? 0xc4 : 0xd9;
        if (form == 1 && len > 255)
            form = 2;
        head[n++] = (uint8_t)(first + form - 1);
        int bytes = form == 1 ? 1 : form == 2 ? 2 : 4;
        for (int i = bytes - 1; i >= 0; i--)
            head[n++] = (uint8_t)(len >> (8 * i));
    }
    pk->callback(pk->data, (const char *)head, n);
    pk->callback(pk->data, body, len);
}

/* One envelope with every field in a random form: what both decoders must judge alike. */
static void s_pack_any_forms(roost_rng_t *rng, msgpack_packer *pk, const roost_env_t *env)
{
    msgpack_pack_array(pk, 10);
    s_pack_number(rng, pk, roost_rng_below(rng, 8) ? 1 : 2);
    s_pack_number(rng, pk, env->flags);
    s_pack_number(rng, pk, env->type);
    s_pack_number(rng, pk, env->corr);
    s_pack_number(rng, pk, env->epoch);
    s_pack_number(rng, pk, (uint64_t)(int64_t)env->status);
    s_pack_number(rng, pk, env->hops);
    s_pack_sized(rng, pk, false, env->target, env->target_len);
    s_pack_sized(rng, pk, false, env->sender, env->sender_len);
    s_pack_sized(rng, pk, true, env->payload, env->payload_len);
}

/* Rewrites a valid encoding's header into a longer form or with extra items (a newer minor
 * version's), the shapes byte flips rarely reach. */
static size_t s_reshape(roost_rng_t *rng, const uint8_t *in, size_t len, uint8_t *out)
{
    size_t n = 0, extras = roost_rng_below(rng, 3);
    switch (roost_rng_below(rng, 3)) {
    case 0:
        out[n++] = (uint8_t)(0x90 | (10 + extras));
        break;
    case 1:
        out[n++] = 0xdc, out[n++] = 0, out[n++] = (uint8_t)(10 + extras);
        break;
    default:
        out[n++] = 0xdd, out[n++] = 0, out[n++] = 0, out[n++] = 0,
        out[n++] = (uint8_t)(10 + extras);
    }
    memcpy(out + n, in + 1, len - 1);
    n += len - 1;
    static const uint8_t values[][4] = {{0x01},      {0xc0}, {0x91, 0x91, 0x01},
                                        {0xa1, 'x'}, {0xc1}, {0x92, 0x01}};
    static const size_t sizes[] = {1, 1, 3, 2, 1, 2};
    for (size_t i = 0; i < extras; i++) {
        size_t v = roost_rng_below(rng, 7);
        if (v == 6) { /* nested arrays around the limit: 14 to 16 deep inside the envelope */
            size_t depth = MPGUARD_DEPTH_MAX - 3 + roost_rng_below(rng, 3);
            memset(out + n, 0x91, depth);
            n += depth;
            out[n++] = 0x01;
            continue;
        }
        memcpy(out + n, values[v], sizes[v]);
        n += sizes[v];
    }
    return n;
}

static void test_the_decoder_agrees_with_msgpack_c(void **state)
{
    (void)state;
    roost_rng_t rng;
    roost_rng_seed(&rng, 11);
    uint8_t *scratch = malloc(70000), buf[1200], shaped[1200];
    roost_env_decoder_t d;
    roost_env_decoder_init(&d);
    for (int round = 0; round < 30000; round++) {
        roost_env_t *env = s_random_env(&rng, scratch);
        if (env->payload_len > 300)
            env->payload_len = 300; /* room to mutate in buf */
        msgpack_sbuffer sb;
        s_encode(env, &sb);
        if (roost_rng_below(&rng, 2)) {
            sb.size = 0;
            msgpack_packer pk;
            msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
            s_pack_any_forms(&rng, &pk, env);
        }
        size_t len = sb.size;
        memcpy(buf, sb.data, len);
        if (roost_rng_below(&rng, 2)) {
            len = s_reshape(&rng, buf, len, shaped);
            memcpy(buf, shaped, len);
        }
        for (uint64_t flips = roost_rng_below(&rng, 4); flips > 0; flips--)
            buf[roost_rng_below(&rng, len)] = (uint8_t)roost_rng_next(&rng);
        if (roost_rng_below(&rng, 4) == 0)
            len = roost_rng_below(&rng, len + 1);
        s_expect_agreement(&d, buf, len);
        msgpack_sbuffer_destroy(&sb);
        roost_env_free(env);
    }
    for (int round = 0; round < 20000; round++) { /* noise */
        size_t len = roost_rng_below(&rng, 64);
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t)roost_rng_next(&rng);
        buf[0] = (uint8_t)(0x9a + roost_rng_below(&rng, 3) - 1); /* mostly array-shaped */
        s_expect_agreement(&d, buf, len);
    }
    roost_env_decoder_fini(&d);
    free(scratch);
}

static void test_key_validation(void **state)
{
    (void)state;
    assert_true(roost_key_is_valid("u:1", 3));
    assert_true(roost_key_is_valid("d:1:2", 5));
    assert_false(roost_key_is_valid(":1", 2));
    assert_false(roost_key_is_valid("u:", 2));
    assert_false(roost_key_is_valid("u: 1", 4));
    assert_false(roost_key_is_valid("waytoolongkindname:1", 20));
    assert_null(roost_env_new("u:1", NULL, 1, NULL, ROOST_PAYLOAD_BYTES_MAX + 1));
}

/* roost_key_measure is roost_key_is_valid plus the length: they agree on every shape, bytes
 * outside printable ASCII on either side and lengths at and past the limits included. */
static void test_key_measure_agrees_with_key_validation(void **state)
{
    (void)state;
    const char *keys[] = {"u:1",
                          "d:1:2",
                          ":1",
                          "u:",
                          "u: 1",
                          "waytoolongkindname:1",
                          "sixteen-bytes-ki:1",
                          "seventeen-bytes-k:1",
                          ":a:b",
                          "a::",
                          "a:\x7f",
                          "a:\x80",
                          "a:b\xff",
                          "\x01a:b",
                          "a:b\x20"
                          "c",
                          "a:\x21\x7e",
                          "nocolon",
                          "",
                          "ab",
                          "a:b"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        size_t len = strlen(keys[i]);
        assert_int_equal(roost_key_measure(keys[i]), roost_key_is_valid(keys[i], len) ? len : 0);
    }
    char key[ROOST_KEY_BYTES_MAX + 2];
    for (size_t len = 3; len <= ROOST_KEY_BYTES_MAX + 1; len++) {
        memset(key, 'k', len);
        key[1] = ':';
        key[len] = '\0';
        assert_int_equal(roost_key_measure(key), len <= ROOST_KEY_BYTES_MAX ? len : 0);
    }
}

static void test_guard_refuses_sizes_that_cannot_fit(void **state)
{
    (void)state;
    /* Each claims far more than it carries: msgpack-c alone would try to allocate for them. */
    const uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
    const uint8_t huge_map[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0x01, 0x02};
    const uint8_t huge_bin[] = {0xc6, 0xff, 0xff, 0xff, 0xff, 0x00};
    const uint8_t reserved[] = {0xc1};
    uint8_t deep[64];
    memset(deep, 0x91, sizeof deep); /* 64 nested one-element arrays */
    size_t used;
    assert_false(mpguard_check(huge_array, sizeof huge_array, MPGUARD_DEPTH_MAX, &used));
    assert_false(mpguard_check(huge_map, sizeof huge_map, MPGUARD_DEPTH_MAX, &used));
    assert_false(mpguard_check(huge_bin, sizeof huge_bin, MPGUARD_DEPTH_MAX, &used));
    assert_false(mpguard_check(reserved, sizeof reserved, MPGUARD_DEPTH_MAX, &used));
    assert_false(mpguard_check(deep, sizeof deep, MPGUARD_DEPTH_MAX, &used));
    const uint8_t ok[] = {0x92, 0x01, 0xa1, 'x', 0xff};
    assert_true(mpguard_check(ok, sizeof ok, MPGUARD_DEPTH_MAX, &used));
    assert_int_equal(used, 4);
}

static void test_local_keys_parse_and_build(void **state)
{
    (void)state;
    char key[ROOST_KEY_BYTES_MAX + 1];
    assert_int_equal(roost_key_make_local(key, sizeof key, 3, 17, "log", NULL), 0);
    assert_string_equal(key, "@3:17/log");
    roost_local_key_t lk;
    assert_true(roost_key_parse_local(key, strlen(key), &lk));
    assert_int_equal(lk.node, 3);
    assert_int_equal(lk.partition, 17);
    assert_int_equal(lk.kind_len, 3);
    assert_memory_equal(lk.kind, "log", 3);
    assert_int_equal(roost_key_make_local(key, sizeof key, 12, 0, "conn", "77"), 0);
    assert_true(roost_key_parse_local(key, strlen(key), &lk));
    assert_int_equal(lk.kind_len, 4);
    const char *bad[] = {"@x:1/log",
                         "@1:/log",
                         "@1:2/",
                         "@1:2log",
                         "@:2/log",
                         "u:1",
                         "@99999999999:1/log",
                         "@1:2/averyveryverylongkindname"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_false(roost_key_parse_local(bad[i], strlen(bad[i]), &lk));
        assert_false(roost_key_split_local(bad[i], strlen(bad[i]), &lk));
    }
    /* kinds of up to ROOST_KIND_BYTES_MAX - 1 bytes, ending at a '/' or at the key's end */
    for (size_t kind = ROOST_KIND_BYTES_MAX - 2; kind <= ROOST_KIND_BYTES_MAX + 1; kind++) {
        for (int slash = 0; slash < 2; slash++) {
            char k[64];
            int n = snprintf(k, sizeof k, "@1:2/%.*s%s", (int)kind,
                             "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", slash ? "/77" : "");
            bool ok = kind < ROOST_KIND_BYTES_MAX;
            assert_int_equal(roost_key_split_local(k, (size_t)n, &lk), ok);
            assert_int_equal(roost_key_parse_local(k, (size_t)n, &lk), ok);
            if (ok)
                assert_int_equal(lk.kind_len, kind);
        }
    }
    /* split trusts that the key was validated where it was made: only parse checks that */
    assert_false(roost_key_parse_local("@1:2/lo\tg", 9, &lk));
    assert_true(roost_key_split_local("@1:2/lo\tg", 9, &lk));
    assert_true(roost_key_split_local(key, strlen(key), &lk));
    assert_int_equal(lk.node, 12);
    assert_int_equal(lk.kind_len, 4);
    char tiny[8];
    assert_int_equal(roost_key_make_local(tiny, sizeof tiny, 3, 17, "log", NULL), ROOST_ETOOBIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_round_trips),
        cmocka_unit_test(test_a_decoder_reads_a_frame),
        cmocka_unit_test(test_every_truncation_is_refused),
        cmocka_unit_test(test_random_bytes_never_crash),
        cmocka_unit_test(test_malformed_headers_are_refused),
        cmocka_unit_test(test_the_encoder_writes_msgpack_cs_bytes),
        cmocka_unit_test(test_the_decoder_agrees_with_msgpack_c),
        cmocka_unit_test(test_extra_items_are_skipped_within_the_nesting_limit),
        cmocka_unit_test(test_key_validation),
        cmocka_unit_test(test_key_measure_agrees_with_key_validation),
        cmocka_unit_test(test_guard_refuses_sizes_that_cannot_fit),
        cmocka_unit_test(test_local_keys_parse_and_build),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
