/* edge/codec.c — client frames (see codec.h). JSON with jansson, base64 with libsodium,
 * msgpack with msgpack-c behind runtime/mpguard.c: no hand-written parser for any of them. */
#include "edge/codec.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/mp.h"
#include "actors/msgs.h"
#include "runtime/mpguard.h"
#include "runtime/util.h"

/* Where a JSON value sits decides whether its strings are base64 bytes. */
typedef enum { AT_PLAIN, AT_BYTES, AT_BODIES, AT_SPK, AT_PREKEYS, AT_PREKEY } at_t;

static at_t s_child_at(at_t parent, int depth, const char *key)
{
    if (parent == AT_BODIES)
        return key ? AT_BYTES : AT_PLAIN;
    if (parent == AT_PREKEYS)
        return key ? AT_PLAIN : AT_PREKEY;
    if (!key) /* an array's elements: nothing below is bytes unless named above */
        return AT_PLAIN;
    if (parent == AT_SPK)
        return strcmp(key, "key") == 0 || strcmp(key, "sig") == 0 ? AT_BYTES : AT_PLAIN;
    if (parent == AT_PREKEY)
        return strcmp(key, "key") == 0 ? AT_BYTES : AT_PLAIN;
    if (depth != 1)
        return AT_PLAIN;
    if (strcmp(key, "body") == 0 || strcmp(key, "identity") == 0)
        return AT_BYTES;
    if (strcmp(key, "bodies") == 0)
        return AT_BODIES;
    if (strcmp(key, "signed_prekey") == 0)
        return AT_SPK;
    if (strcmp(key, "prekeys") == 0)
        return AT_PREKEYS;
    return AT_PLAIN;
}

static int s_fail(codec_err_t *err, const char *code, const char *fmt, const char *field)
{
    err->code = code;
    snprintf(err->msg, sizeof err->msg, fmt, field);
    return -1;
}

static int s_bytes(msgpack_packer *pk, const json_t *j, const char *field, codec_err_t *err)
{
    const char *b64 = json_string_value(j);
    size_t len = json_string_length(j), out_len = 0;
    uint8_t *bin = roost_xmalloc(len / 4 * 3 + 3);
    int rc = sodium_base642bin(bin, len / 4 * 3 + 3, b64, len, NULL, &out_len, NULL,
                               sodium_base64_VARIANT_ORIGINAL);
    if (rc == 0)
        mp_pack_bin(pk, bin, out_len);
    free(bin);
    return rc == 0 ? 0 : s_fail(err, CODE_BAD_REQUEST, "field '%s' is not base64", field);
}

static int s_json(msgpack_packer *pk, const json_t *j, at_t at, int depth, const char *field,
                  codec_err_t *err)
{
    if (depth > CODEC_DEPTH_MAX)
        return s_fail(err, CODE_BAD_REQUEST, "frame nested too deeply at '%s'", field);
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        msgpack_pack_map(pk, json_object_size(j));
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            mp_pack_str(pk, k);
            if (s_json(pk, v, s_child_at(at, depth + 1, k), depth + 1, depth ? field : k, err))
                return -1;
        }
        return 0;
    }
    case JSON_ARRAY: {
        msgpack_pack_array(pk, json_array_size(j));
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            if (s_json(pk, v, s_child_at(at, depth + 1, NULL), depth + 1, field, err))
                return -1;
        }
        return 0;
    }
    case JSON_STRING:
        if (at == AT_BYTES)
            return s_bytes(pk, j, field, err);
        mp_pack_strn(pk, json_string_value(j), json_string_length(j));
        return 0;
    case JSON_INTEGER:
        if (json_integer_value(j) >= 0)
            msgpack_pack_uint64(pk, (uint64_t)json_integer_value(j));
        else
            msgpack_pack_int64(pk, json_integer_value(j));
        return 0;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(j));
        return 0;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        return 0;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        return 0;
    default:
        msgpack_pack_nil(pk);
        return 0;
    }
}

/* The envelope every frame shares: a map with a string t and an optional rid. */
static int s_envelope(const msgpack_object *m, frame_t *f, codec_err_t *err)
{
    if (m->type != MSGPACK_OBJECT_MAP)
        return s_fail(err, CODE_BAD_REQUEST, "a frame is one map%s", "");
    for (uint32_t i = 0; i < m->via.map.size; i++)
        if (m->via.map.ptr[i].key.type != MSGPACK_OBJECT_STR)
            return s_fail(err, CODE_BAD_REQUEST, "map keys are strings%s", "");
    const msgpack_object *rid = mp_get(m, "rid");
    if (rid) {
        bool ok = (rid->type == MSGPACK_OBJECT_STR && rid->via.str.size <= CODEC_RID_BYTES_MAX) ||
                  rid->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                  rid->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
        if (!ok)
            return s_fail(err, CODE_BAD_REQUEST, "missing or invalid field '%s'", "rid");
        mp_buf_t b;
        mp_buf_init(&b);
        mp_pack_obj(&b.pk, rid);
        memcpy(f->rid, b.sb.data, b.sb.size);
        f->rid_len = b.sb.size;
        mp_buf_fini(&b);
    }
    mp_str_t t;
    if (mp_get_str(m, "t", 1, CODEC_T_BYTES_MAX, &t) != MP_OK)
        return s_fail(err, CODE_BAD_REQUEST, "missing or invalid field '%s'", "t");
    mp_str_copy(t, f->t, sizeof f->t);
    return 0;
}

static int s_decode_json(const void *data, size_t len, frame_t *f, codec_err_t *err)
{
    json_error_t jerr;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return s_fail(err, CODE_BAD_REQUEST, "malformed JSON%s", "");
    if (!json_is_object(j)) {
        json_decref(j);
        return s_fail(err, CODE_BAD_REQUEST, "a frame is one map%s", "");
    }
    msgpack_packer pk;
    msgpack_packer_init(&pk, &f->map, msgpack_sbuffer_write);
    int rc = s_json(&pk, j, AT_PLAIN, 0, "", err);
    json_decref(j);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (mp_parse(&up, f->map.data, f->map.size)) {
        codec_err_t env_err;
        if (s_envelope(&up.data, f, &env_err) && rc == 0) {
            *err = env_err;
            rc = -1;
        }
    } else if (rc == 0) {
        rc = s_fail(err, CODE_BAD_REQUEST, "frame nested too deeply%s", "");
    }
    msgpack_unpacked_destroy(&up);
    return rc;
}

static int s_decode_msgpack(const void *data, size_t len, frame_t *f, codec_err_t *err)
{
    size_t used = 0;
    if (!mpguard_check(data, len, CODEC_DEPTH_MAX, &used) || used != len)
        return s_fail(err, CODE_BAD_REQUEST, "malformed msgpack%s", "");
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = mp_parse(&up, data, len) ? s_envelope(&up.data, f, err)
                                      : s_fail(err, CODE_BAD_REQUEST, "malformed msgpack%s", "");
    msgpack_unpacked_destroy(&up);
    if (rc == 0)
        msgpack_sbuffer_write(&f->map, data, len);
    return rc;
}

int codec_decode(codec_kind_t kind, const void *data, size_t len, size_t limit, frame_t *f,
                 codec_err_t *err)
{
    memset(f, 0, sizeof *f);
    msgpack_sbuffer_init(&f->map);
    if (len > limit)
        return s_fail(err, CODE_TOO_LARGE, "frame over the limit%s", "");
    if (len == 0)
        return s_fail(err, CODE_BAD_REQUEST, "empty frame%s", "");
    return kind == CODEC_JSON ? s_decode_json(data, len, f, err)
                              : s_decode_msgpack(data, len, f, err);
}

void frame_fini(frame_t *f)
{
    msgpack_sbuffer_destroy(&f->map);
}

/* ---- encoding ----------------------------------------------------------------------------- */

static json_t *s_to_json(const msgpack_object *o);

static json_t *s_string(const char *p, size_t len)
{
    if (len == 0)
        return json_string("");
    json_t *s = json_stringn(p, len);
    if (s)
        return s;
    char *copy = roost_xmalloc(len + 1); /* not UTF-8: what cannot be shown becomes '?' */
    for (size_t i = 0; i < len; i++)
        copy[i] = (unsigned char)p[i] < 0x80 ? p[i] : '?';
    s = json_stringn(copy, len);
    free(copy);
    return s;
}

static json_t *s_to_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_MAP: {
        json_t *m = json_object();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR)
                continue;
            char *k = roost_xmalloc(kv->key.via.str.size + 1);
            if (kv->key.via.str.size) /* an empty msgpack str may have a NULL pointer */
                memcpy(k, kv->key.via.str.ptr, kv->key.via.str.size);
            k[kv->key.via.str.size] = '\0';
            json_object_set_new(m, k, s_to_json(&kv->val));
            free(k);
        }
        return m;
    }
    case MSGPACK_OBJECT_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < o->via.array.size; i++)
            json_array_append_new(a, s_to_json(&o->via.array.ptr[i]));
        return a;
    }
    case MSGPACK_OBJECT_STR:
        return s_string(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_BIN: {
        size_t cap = sodium_base64_ENCODED_LEN(o->via.bin.size, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = roost_xmalloc(cap);
        sodium_bin2base64(b64, cap, (const unsigned char *)o->via.bin.ptr, o->via.bin.size,
                          sodium_base64_VARIANT_ORIGINAL);
        json_t *s = json_string(b64);
        free(b64);
        return s;
    }
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return json_integer(o->via.u64 > INT64_MAX ? INT64_MAX : (json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer(o->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return json_real(o->via.f64);
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    default:
        return json_null();
    }
}

/* map + rid (after "t", when given) as msgpack into pk. */
static void s_with_rid(msgpack_packer *pk, const msgpack_object *m, const msgpack_object *rid)
{
    msgpack_pack_map(pk, m->via.map.size + (rid != NULL));
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object_kv *kv = &m->via.map.ptr[i];
        mp_pack_obj(pk, &kv->key);
        mp_pack_obj(pk, &kv->val);
        if (i == 0 && rid) { /* actors put "t" first; rid follows it */
            mp_pack_str(pk, "rid");
            mp_pack_obj(pk, rid);
            rid = NULL;
        }
    }
    if (rid) { /* an empty map: rid is its only entry (the header counted it) */
        mp_pack_str(pk, "rid");
        mp_pack_obj(pk, rid);
    }
}

int codec_encode(codec_kind_t kind, const void *map, size_t len, const uint8_t *rid, size_t rid_len,
                 char **out, size_t *out_len)
{
    msgpack_unpacked up, r;
    msgpack_unpacked_init(&up);
    msgpack_unpacked_init(&r);
    const msgpack_object *rid_obj = NULL;
    if (rid && rid_len && mp_parse(&r, rid, rid_len))
        rid_obj = &r.data;
    int rc = -1;
    if (!mp_parse(&up, map, len) || up.data.type != MSGPACK_OBJECT_MAP)
        goto out;
    if (kind == CODEC_MSGPACK) {
        mp_buf_t b;
        mp_buf_init(&b);
        s_with_rid(&b.pk, &up.data, rid_obj);
        *out = b.sb.data; /* handed over */
        *out_len = b.sb.size;
        rc = 0;
        goto out;
    }
    json_t *j = s_to_json(&up.data);
    if (rid_obj)
        json_object_set_new(j, "rid", s_to_json(rid_obj));
    *out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (*out) {
        *out_len = strlen(*out);
        rc = 0;
    }
out:
    msgpack_unpacked_destroy(&up);
    msgpack_unpacked_destroy(&r);
    return rc;
}

int codec_error(codec_kind_t kind, const uint8_t *rid, size_t rid_len, const char *code,
                const char *msg, char **out, size_t *out_len)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 4);
    mp_kv_str(&b.pk, "t", "err");
    mp_pack_str(&b.pk, "rid");
    if (rid && rid_len)
        msgpack_sbuffer_write(&b.sb, (const char *)rid, rid_len);
    else
        msgpack_pack_nil(&b.pk);
    mp_kv_str(&b.pk, "code", code);
    mp_kv_str(&b.pk, "msg", msg);
    int rc = codec_encode(kind, b.sb.data, b.sb.size, NULL, 0, out, out_len);
    mp_buf_fini(&b);
    return rc;
}
