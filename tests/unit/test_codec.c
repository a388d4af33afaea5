/* tests/unit/test_codec.c — the edge's client codec and routing: JSON and msgpack frames in
 * (base64 byte fields, the envelope checks, every refusal naming its field, the size limit),
 * answers and events out (rid put back, bin as base64 in JSON), and which actor each request
 * goes to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "actors/mp.h"
#include "edge/auth_body.h"
#include "edge/codec.h"
#include "edge/route.h"

static void s_decode_ok(const char *json, frame_t *f)
{
    codec_err_t err;
    if (codec_decode(CODEC_JSON, json, strlen(json), CODEC_FRAME_BYTES_DEFAULT, f, &err) != 0)
        fail_msg("%s: %s %s", json, err.code, err.msg);
}

static void s_refused(const char *json, const char *code, const char *msg_part)
{
    frame_t f;
    codec_err_t err;
    assert_int_equal(
        codec_decode(CODEC_JSON, json, strlen(json), CODEC_FRAME_BYTES_DEFAULT, &f, &err), -1);
    assert_string_equal(err.code, code);
    if (!strstr(err.msg, msg_part))
        fail_msg("%s: expected \"%s\" in \"%s\"", json, msg_part, err.msg);
    frame_fini(&f);
}

static void test_json_frames_become_actor_maps(void **state)
{
    (void)state;
    frame_t f;
    s_decode_ok(
        "{\"t\":\"send\",\"rid\":7,\"to\":\"u:42\",\"cmid\":\"c1\",\"kind\":\"text\","
        "\"body\":\"aGVsbG8=\",\"bodies\":{\"1:d\":\"AAE=\"},\"meta\":{\"enc\":\"signal\"}}",
        &f);
    assert_string_equal(f.t, "send");
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_true(mp_parse(&up, f.map.data, f.map.size));
    const msgpack_object *body = mp_get(&up.data, "body");
    assert_non_null(body);
    assert_int_equal(body->type, MSGPACK_OBJECT_BIN); /* base64 decoded */
    assert_int_equal(body->via.bin.size, 5);
    assert_memory_equal(body->via.bin.ptr, "hello", 5);
    const msgpack_object *bodies;
    assert_int_equal(mp_get_map(&up.data, "bodies", &bodies), MP_OK);
    assert_int_equal(bodies->via.map.ptr[0].val.type, MSGPACK_OBJECT_BIN);
    mp_str_t enc;
    const msgpack_object *meta;
    assert_int_equal(mp_get_map(&up.data, "meta", &meta), MP_OK);
    assert_int_equal(mp_get_str(meta, "enc", 1, 16, &enc), MP_OK); /* strings stay strings */
    msgpack_unpacked_destroy(&up);
    msgpack_unpacked r;
    msgpack_unpacked_init(&r);
    assert_true(mp_parse(&r, f.rid, f.rid_len));
    assert_int_equal(r.data.via.u64, 7);
    msgpack_unpacked_destroy(&r);
    frame_fini(&f);
    /* keys.put: the key fields are bytes too */
    s_decode_ok("{\"t\":\"keys.put\",\"identity\":\"BQ==\",\"signed_prekey\":{\"id\":1,"
                "\"key\":\"BQ==\",\"sig\":\"AA==\"},\"prekeys\":[{\"id\":1,\"key\":\"BQ==\"}]}",
                &f);
    msgpack_unpacked_init(&up);
    assert_true(mp_parse(&up, f.map.data, f.map.size));
    const msgpack_object *spk, *pre;
    assert_int_equal(mp_get_map(&up.data, "signed_prekey", &spk), MP_OK);
    assert_int_equal(mp_get(spk, "sig")->type, MSGPACK_OBJECT_BIN);
    assert_int_equal(mp_get(spk, "id")->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    assert_int_equal(mp_get_array(&up.data, "prekeys", &pre), MP_OK);
    assert_int_equal(mp_get(&pre->via.array.ptr[0], "key")->type, MSGPACK_OBJECT_BIN);
    msgpack_unpacked_destroy(&up);
    frame_fini(&f);
}

static void test_bad_frames_are_refused_naming_the_field(void **state)
{
    (void)state;
    s_refused("[1,2]", "bad_request", "one map");
    s_refused("{\"rid\":1}", "bad_request", "'t'");
    s_refused("{\"t\":5}", "bad_request", "'t'");
    s_refused("{\"t\":\"send\",\"rid\":[1]}", "bad_request", "'rid'");
    s_refused("{\"t\":\"send\",\"body\":\"@@@\"}", "bad_request", "'body'");
    s_refused("{\"t\":\"send\",\"bodies\":{\"1:d\":\"!\"}}", "bad_request", "'bodies'");
    s_refused("{\"t\":\"send\"", "bad_request", "JSON");
    s_refused("{\"t\":\"a\",\"t\":\"b\"}", "bad_request", "JSON"); /* duplicate keys */
    frame_t f;
    codec_err_t err;
    char big[300];
    memset(big, ' ', sizeof big);
    memcpy(big, "{\"t\":\"x\"}", 9);
    assert_int_equal(codec_decode(CODEC_JSON, big, sizeof big, 100, &f, &err), -1);
    assert_string_equal(err.code, "too_large");
    frame_fini(&f);
    /* msgpack: not a map; a lying container size; a non-string key */
    assert_int_equal(codec_decode(CODEC_MSGPACK, "\x93\x01\x02\x03", 4, 1000, &f, &err), -1);
    frame_fini(&f);
    assert_int_equal(codec_decode(CODEC_MSGPACK, "\xdf\xff\xff\xff\xff", 5, 1000, &f, &err), -1);
    frame_fini(&f);
    assert_int_equal(codec_decode(CODEC_MSGPACK, "\x81\x01\x02", 3, 1000, &f, &err), -1);
    assert_string_equal(err.code, "bad_request");
    frame_fini(&f);
    /* a rid read before the failure is kept, so the error can carry it */
    assert_int_equal(codec_decode(CODEC_MSGPACK, "\x81\xa3rid\xa1x", 7, 1000, &f, &err), -1);
    assert_true(f.rid_len > 0);
    frame_fini(&f);
}

static void test_answers_and_events_out(void **state)
{
    (void)state;
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 3);
    mp_kv_str(&b.pk, "t", "msg");
    mp_kv_u64(&b.pk, "n", 3);
    mp_pack_str(&b.pk, "body");
    mp_pack_bin(&b.pk, "hello", 5);
    char *out;
    size_t len;
    assert_int_equal(codec_encode(CODEC_JSON, b.sb.data, b.sb.size, NULL, 0, &out, &len), 0);
    assert_string_equal(out, "{\"t\":\"msg\",\"n\":3,\"body\":\"aGVsbG8=\"}");
    free(out);
    /* an answer with its rid, in msgpack: rid right after t */
    const uint8_t rid[] = {0xa2, 'r', '1'};
    assert_int_equal(codec_encode(CODEC_MSGPACK, b.sb.data, b.sb.size, rid, sizeof rid, &out, &len),
                     0);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_true(mp_parse(&up, out, len));
    mp_str_t s;
    assert_int_equal(mp_get_str(&up.data, "rid", 1, 8, &s), MP_OK);
    assert_true(mp_str_eq(s, "r1"));
    assert_true(mp_str_eq((mp_str_t){up.data.via.map.ptr[1].key.via.str.ptr, 3}, "rid"));
    msgpack_unpacked_destroy(&up);
    free(out);
    mp_buf_fini(&b);
    assert_int_equal(
        codec_error(CODEC_JSON, NULL, 0, "too_large", "frame over the limit", &out, &len), 0);
    assert_string_equal(out, "{\"t\":\"err\",\"rid\":null,\"code\":\"too_large\","
                             "\"msg\":\"frame over the limit\"}");
    free(out);
}

/* Found by fuzz_frame: an empty key (msgpack may hand it over with a NULL pointer) and empty
 * strings must go back out through both encoders without undefined behaviour. */
static void test_empty_keys_and_strings_round_trip(void **state)
{
    (void)state;
    frame_t f;
    s_decode_ok("{\"\":\"history\",\"t\":\"history\",\"conv\":\"\"}", &f);
    char *out;
    size_t len;
    assert_int_equal(codec_encode(CODEC_JSON, f.map.data, f.map.size, NULL, 0, &out, &len), 0);
    assert_non_null(strstr(out, "\"\":\"history\""));
    assert_non_null(strstr(out, "\"conv\":\"\""));
    free(out);
    assert_int_equal(codec_encode(CODEC_MSGPACK, f.map.data, f.map.size, NULL, 0, &out, &len), 0);
    free(out);
    frame_fini(&f);
    /* an empty map with a rid: the rid is its one entry (found by reading, not fuzzing) */
    const uint8_t empty[] = {0x80}, rid[] = {0x07};
    assert_int_equal(codec_encode(CODEC_MSGPACK, empty, 1, rid, 1, &out, &len), 0);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_true(mp_parse(&up, out, len));
    assert_int_equal(up.data.via.map.size, 1);
    uint64_t r;
    assert_int_equal(mp_get_u64(&up.data, "rid", &r), MP_OK);
    assert_int_equal(r, 7);
    msgpack_unpacked_destroy(&up);
    free(out);
}

static void s_body_bad(auth_op_t op, const char *body, const char *want)
{
    auth_body_t b;
    const char *bad = NULL;
    assert_int_equal(auth_body_parse(op, body, strlen(body), &b, &bad), -1);
    if (strcmp(bad, want) != 0)
        fail_msg("%s: expected '%s', got '%s'", body, want, bad);
}

/* The HTTP auth bodies: each field checked and named; JSON that is not one object is "body". */
static void test_auth_bodies(void **state)
{
    (void)state;
    auth_body_t b;
    const char *bad;
    const char *v = "{\"phone\":\"+15551234567\",\"code\":\"012345\",\"device\":\"p-1\"}";
    assert_int_equal(auth_body_parse(AUTH_OTP_VERIFY, v, strlen(v), &b, &bad), 0);
    assert_string_equal(b.phone, "+15551234567");
    assert_string_equal(b.code, "012345");
    assert_string_equal(b.device, "p-1");
    s_body_bad(AUTH_OTP_REQUEST, "", "body");
    s_body_bad(AUTH_OTP_REQUEST, "[1]", "body");
    s_body_bad(AUTH_OTP_REQUEST, "{\"phone\":1}", "phone");
    s_body_bad(AUTH_OTP_REQUEST, "{\"phone\":\"+0123\"}", "phone");
    s_body_bad(AUTH_OTP_REQUEST, "{\"phone\":\"+1555\",\"phone\":\"+1666\"}", "body");
    s_body_bad(AUTH_OTP_VERIFY, "{\"phone\":\"+15551234567\",\"code\":\"12a456\"}", "code");
    s_body_bad(AUTH_OTP_VERIFY,
               "{\"phone\":\"+15551234567\",\"code\":\"123456\",\"device\":\"a b\"}", "device");
    s_body_bad(AUTH_REFRESH, "{\"refresh_token\":\"\"}", "refresh_token");
    s_body_bad(AUTH_REFRESH, "{\"refresh_token\":\"a\\u0000b\"}", "body"); /* NUL: malformed */
}

static void s_route(const char *json, uint64_t user, const char *want)
{
    frame_t f;
    s_decode_ok(json, &f);
    char key[ROOST_KEY_BYTES_MAX + 1];
    codec_err_t err;
    if (route_target(&f, user, key, &err) != 0)
        fail_msg("%s: %s", json, err.msg);
    assert_string_equal(key, want);
    frame_fini(&f);
}

static void test_routing(void **state)
{
    (void)state;
    s_route("{\"t\":\"auth\"}", 42, "u:42");
    s_route("{\"t\":\"recv.ack\",\"n\":1}", 42, "u:42");
    s_route("{\"t\":\"send\",\"to\":\"u:7\"}", 42, "d:7:42");
    s_route("{\"t\":\"send\",\"to\":\"g:9\"}", 42, "g:9");
    s_route("{\"t\":\"history\",\"conv\":\"d:7:42\"}", 42, "d:7:42");
    s_route("{\"t\":\"group.info\",\"group\":\"9\"}", 42, "g:9");
    s_route("{\"t\":\"keys.get\",\"user\":\"7\"}", 42, "u:7");
    frame_t f;
    codec_err_t err;
    char key[ROOST_KEY_BYTES_MAX + 1];
    s_decode_ok("{\"t\":\"fly\"}", &f);
    assert_int_equal(route_target(&f, 42, key, &err), -1);
    assert_true(strstr(err.msg, "unknown request type") != NULL);
    frame_fini(&f);
    s_decode_ok("{\"t\":\"send\",\"to\":\"x:1\"}", &f);
    assert_int_equal(route_target(&f, 42, key, &err), -1);
    assert_true(strstr(err.msg, "'to'") != NULL);
    frame_fini(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_frames_become_actor_maps),
        cmocka_unit_test(test_bad_frames_are_refused_naming_the_field),
        cmocka_unit_test(test_answers_and_events_out),
        cmocka_unit_test(test_routing),
        cmocka_unit_test(test_empty_keys_and_strings_round_trip),
        cmocka_unit_test(test_auth_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
