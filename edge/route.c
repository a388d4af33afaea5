/* edge/route.c — the routing table of client requests (see route.h). */
#include "edge/route.h"

#include <stdio.h>
#include <string.h>

#include "actors/ids.h"
#include "actors/mp.h"
#include "actors/msgs.h"

typedef enum { TO_SELF, TO_USER_FIELD, TO_SEND, TO_CONV_FIELD, TO_GROUP_FIELD } to_t;

static const struct {
    const char *t;
    to_t to;
} ROUTES[] = {
    {"auth", TO_SELF},
    {"recv.ack", TO_SELF},
    {"read", TO_SELF},
    {"presence.sub", TO_SELF},
    {"contacts.add", TO_SELF},
    {"contacts.list", TO_SELF},
    {"block", TO_SELF},
    {"unblock", TO_SELF},
    {"privacy.set", TO_SELF},
    {"profile.set", TO_SELF},
    {"keys.put", TO_SELF},
    {"group.create", TO_SELF},
    {"account.delete", TO_SELF},
    {"keys.get", TO_USER_FIELD},
    {"report", TO_USER_FIELD},
    {"send", TO_SEND},
    {"history", TO_CONV_FIELD},
    {"typing", TO_CONV_FIELD},
    {"group.add", TO_GROUP_FIELD},
    {"group.remove", TO_GROUP_FIELD},
    {"group.promote", TO_GROUP_FIELD},
    {"group.demote", TO_GROUP_FIELD},
    {"group.leave", TO_GROUP_FIELD},
    {"group.rename", TO_GROUP_FIELD},
    {"group.info", TO_GROUP_FIELD},
};

static int s_bad(codec_err_t *err, const char *fmt, const char *what)
{
    err->code = CODE_BAD_REQUEST;
    snprintf(err->msg, sizeof err->msg, fmt, what);
    return -1;
}

static int s_target(to_t to, const msgpack_object *m, uint64_t user, char *out, codec_err_t *err)
{
    mp_str_t s;
    uint64_t id, lo, hi, gid;
    bool group;
    switch (to) {
    case TO_SELF:
        id_key(out, 'u', user);
        return 0;
    case TO_USER_FIELD:
        if (mp_get_str(m, "user", 1, ID_BYTES_MAX, &s) != MP_OK || !(id = id_parse(s.ptr, s.len)))
            return s_bad(err, "missing or invalid field '%s'", "user");
        id_key(out, 'u', id);
        return 0;
    case TO_SEND:
        if (mp_get_str(m, "to", 3, ID_BYTES_MAX + 2, &s) != MP_OK ||
            !target_parse(s.ptr, s.len, &id, &group))
            return s_bad(err, "missing or invalid field '%s'", "to");
        if (group)
            id_key(out, 'g', id);
        else
            conv_direct_key(out, user, id);
        return 0;
    case TO_CONV_FIELD:
        if (mp_get_str(m, "conv", 3, CONV_KEY_BYTES_MAX, &s) != MP_OK ||
            !conv_parse(s.ptr, s.len, &lo, &hi, &gid))
            return s_bad(err, "missing or invalid field '%s'", "conv");
        mp_str_copy(s, out, ROOST_KEY_BYTES_MAX + 1);
        return 0;
    default:
        if (mp_get_str(m, "group", 1, ID_BYTES_MAX, &s) != MP_OK || !(id = id_parse(s.ptr, s.len)))
            return s_bad(err, "missing or invalid field '%s'", "group");
        id_key(out, 'g', id);
        return 0;
    }
}

int route_target(const frame_t *f, uint64_t user, char out[ROOST_KEY_BYTES_MAX + 1],
                 codec_err_t *err)
{
    size_t i = 0;
    while (i < sizeof ROUTES / sizeof *ROUTES && strcmp(ROUTES[i].t, f->t) != 0)
        i++;
    if (i == sizeof ROUTES / sizeof *ROUTES)
        return s_bad(err, "unknown request type '%s'", f->t);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = mp_parse(&up, f->map.data, f->map.size)
                 ? s_target(ROUTES[i].to, &up.data, user, out, err)
                 : s_bad(err, "malformed frame%s", "");
    msgpack_unpacked_destroy(&up);
    return rc;
}
