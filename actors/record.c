/* actors/record.c — conversation records (see record.h). */
#include "actors/record.h"

#include <stdio.h>
#include <string.h>

#include "actors/ids.h"

bool record_is_event(const msgpack_object *rec)
{
    return mp_get(rec, "ev") != NULL;
}

uint64_t record_seq(const msgpack_object *rec)
{
    uint64_t v = 0;
    mp_get_u64(rec, "seq", &v);
    return v;
}

static uint64_t s_id(const msgpack_object *o)
{
    mp_str_t s;
    return mp_as_str(o, &s) ? id_parse(s.ptr, s.len) : 0;
}

uint64_t record_from(const msgpack_object *rec)
{
    return s_id(mp_get(rec, record_is_event(rec) ? "by" : "from"));
}

static bool s_listed(const msgpack_object *arr, uint64_t user)
{
    if (!arr || arr->type != MSGPACK_OBJECT_ARRAY)
        return false;
    for (uint32_t i = 0; i < arr->via.array.size; i++)
        if (s_id(&arr->via.array.ptr[i]) == user)
            return true;
    return false;
}

bool record_hidden_for(const msgpack_object *rec, uint64_t user)
{
    return s_listed(mp_get(rec, "hide"), user);
}

bool record_event_names(const msgpack_object *rec, uint64_t user)
{
    return record_is_event(rec) && s_listed(mp_get(rec, "users"), user);
}

static const msgpack_object *s_body_for(const msgpack_object *bodies, uint64_t user,
                                        const char *device)
{
    char want[ID_BYTES_MAX + DEVICE_BYTES_MAX + 2];
    snprintf(want, sizeof want, "%llu:%s", (unsigned long long)user, device);
    return mp_get(bodies, want);
}

void record_pack_msg(msgpack_packer *pk, const char *conv, const msgpack_object *rec, uint64_t user,
                     const char *device, uint64_t n)
{
    static const char *const copy[] = {"seq", "mid", "from", "device", "kind", "ts"};
    const msgpack_object *meta = mp_get(rec, "meta");
    msgpack_pack_map(pk, (uint32_t)(3 + (n > 0) + 6 + (meta != NULL)));
    mp_kv_str(pk, "t", "msg");
    if (n > 0)
        mp_kv_u64(pk, "n", n);
    mp_kv_str(pk, "conv", conv);
    for (size_t i = 0; i < sizeof copy / sizeof *copy; i++) {
        const msgpack_object *v = mp_get(rec, copy[i]);
        mp_pack_str(pk, copy[i]);
        if (v)
            mp_pack_obj(pk, v);
        else
            msgpack_pack_nil(pk);
    }
    const msgpack_object *body = mp_get(rec, "body");
    if (!body)
        body = s_body_for(mp_get(rec, "bodies"), user, device);
    mp_pack_str(pk, "body");
    if (body)
        mp_pack_obj(pk, body);
    else
        mp_pack_bin(pk, "", 0);
    if (meta) {
        mp_pack_str(pk, "meta");
        mp_pack_obj(pk, meta);
    }
}
