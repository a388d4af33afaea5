/* actors/mp.c — msgpack helpers (see mp.h). */
#include "actors/mp.h"

#include <string.h>

#include "runtime/mpguard.h"
#include "runtime/util.h"

#include <stdlib.h>

static void s_free(void *p)
{
    free(p);
}

bool mp_parse(msgpack_unpacked *up, const void *data, size_t len)
{
    size_t used = 0;
    if (!data || len == 0 || !mpguard_check(data, len, MPGUARD_DEPTH_MAX, &used) || used != len)
        return false;
    /* msgpack-c's objects point into the bytes (str, bin): parse a copy the zone owns, so the
     * caller may free its buffer at once */
    char *copy = roost_xmalloc(len);
    memcpy(copy, data, len);
    size_t off = 0;
    if (msgpack_unpack_next(up, copy, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
        free(copy);
        return false;
    }
    if (!up->zone) { /* a lone scalar: nothing points into the copy */
        free(copy);
        return true;
    }
    if (!msgpack_zone_push_finalizer(up->zone, s_free, copy)) {
        free(copy);
        return false;
    }
    return true;
}

const msgpack_object *mp_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == klen &&
            memcmp(kv->key.via.str.ptr, key, klen) == 0)
            return kv->val.type == MSGPACK_OBJECT_NIL ? NULL : &kv->val;
    }
    return NULL;
}

bool mp_as_str(const msgpack_object *o, mp_str_t *out)
{
    if (!o || o->type != MSGPACK_OBJECT_STR)
        return false;
    *out = (mp_str_t){o->via.str.ptr, o->via.str.size};
    return true;
}

bool mp_as_u64(const msgpack_object *o, uint64_t *out)
{
    if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *out = o->via.u64;
    return true;
}

bool mp_str_eq(mp_str_t s, const char *lit)
{
    size_t n = strlen(lit);
    return s.len == n && (n == 0 || memcmp(s.ptr, lit, n) == 0);
}

bool mp_str_copy(mp_str_t s, char *out, size_t cap)
{
    if (s.len >= cap)
        return false;
    if (s.len) /* an empty msgpack str may have a NULL pointer */
        memcpy(out, s.ptr, s.len);
    out[s.len] = '\0';
    return true;
}

mp_rc_t mp_get_str(const msgpack_object *map, const char *key, size_t min, size_t max,
                   mp_str_t *out)
{
    const msgpack_object *o = mp_get(map, key);
    if (!o)
        return MP_MISSING;
    if (!mp_as_str(o, out) || out->len < min || out->len > max)
        return MP_BADTYPE;
    return MP_OK;
}

mp_rc_t mp_get_u64(const msgpack_object *map, const char *key, uint64_t *out)
{
    const msgpack_object *o = mp_get(map, key);
    if (!o)
        return MP_MISSING;
    return mp_as_u64(o, out) ? MP_OK : MP_BADTYPE;
}

mp_rc_t mp_get_bool(const msgpack_object *map, const char *key, bool *out)
{
    const msgpack_object *o = mp_get(map, key);
    if (!o)
        return MP_MISSING;
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return MP_BADTYPE;
    *out = o->via.boolean;
    return MP_OK;
}

mp_rc_t mp_get_bin(const msgpack_object *map, const char *key, size_t max, mp_str_t *out)
{
    const msgpack_object *o = mp_get(map, key);
    if (!o)
        return MP_MISSING;
    if (o->type == MSGPACK_OBJECT_BIN)
        *out = (mp_str_t){o->via.bin.ptr, o->via.bin.size};
    else if (o->type == MSGPACK_OBJECT_STR)
        *out = (mp_str_t){o->via.str.ptr, o->via.str.size};
    else
        return MP_BADTYPE;
    return out->len > max ? MP_BADTYPE : MP_OK;
}

mp_rc_t mp_get_map(const msgpack_object *map, const char *key, const msgpack_object **out)
{
    const msgpack_object *o = mp_get(map, key);
    if (!o)
        return MP_MISSING;
    if (o->type != MSGPACK_OBJECT_MAP)
        return MP_BADTYPE;
    *out = o;
    return MP_OK;
}

mp_rc_t mp_get_array(const msgpack_object *map, const char *key, const msgpack_object **out)
{
    const msgpack_object *o = mp_get(map, key);
    if (!o)
        return MP_MISSING;
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return MP_BADTYPE;
    *out = o;
    return MP_OK;
}

void mp_pack_strn(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str(pk, len);
    if (len)
        msgpack_pack_str_body(pk, s, len);
}

void mp_pack_str(msgpack_packer *pk, const char *s)
{
    mp_pack_strn(pk, s, strlen(s));
}

void mp_pack_bin(msgpack_packer *pk, const void *p, size_t len)
{
    msgpack_pack_bin(pk, len);
    if (len)
        msgpack_pack_bin_body(pk, p, len);
}

void mp_kv_str(msgpack_packer *pk, const char *key, const char *val)
{
    mp_pack_str(pk, key);
    mp_pack_str(pk, val);
}

void mp_kv_u64(msgpack_packer *pk, const char *key, uint64_t val)
{
    mp_pack_str(pk, key);
    msgpack_pack_uint64(pk, val);
}

void mp_kv_bool(msgpack_packer *pk, const char *key, bool val)
{
    mp_pack_str(pk, key);
    if (val)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void mp_pack_obj(msgpack_packer *pk, const msgpack_object *o)
{
    msgpack_pack_object(pk, *o);
}

void mp_buf_init(mp_buf_t *b)
{
    msgpack_sbuffer_init(&b->sb);
    msgpack_packer_init(&b->pk, &b->sb, msgpack_sbuffer_write);
}

void mp_buf_fini(mp_buf_t *b)
{
    msgpack_sbuffer_destroy(&b->sb);
}

void mp_buf_reset(mp_buf_t *b)
{
    b->sb.size = 0;
}
