/* cluster/ctl_user.c — `roostctl user show WHO` and `roostctl user role WHO [ROLE]`: one account
 * as its user actor holds it, asked through the first node whose admin channel answers (its
 * admin bridge routes the request to the account's primary). WHO is a user id or a +E.164
 * phone number. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/mp.h"
#include "cluster/ctl.h"

static void s_print_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        printf("null");
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        printf(o->via.boolean ? "true" : "false");
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        printf("%llu", (unsigned long long)o->via.u64);
        break;
    case MSGPACK_OBJECT_STR:
        putchar('"');
        for (uint32_t i = 0; i < o->via.str.size; i++) {
            unsigned char c = (unsigned char)o->via.str.ptr[i];
            if (c == '"' || c == '\\')
                printf("\\%c", c);
            else if (c < 0x20)
                printf("\\u%04x", c);
            else
                putchar(c);
        }
        putchar('"');
        break;
    case MSGPACK_OBJECT_ARRAY:
        putchar('[');
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (i)
                putchar(',');
            s_print_json(&o->via.array.ptr[i]);
        }
        putchar(']');
        break;
    case MSGPACK_OBJECT_MAP:
        putchar('{');
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            if (i)
                putchar(',');
            s_print_json(&o->via.map.ptr[i].key);
            putchar(':');
            s_print_json(&o->via.map.ptr[i].val);
        }
        putchar('}');
        break;
    default:
        printf("null");
    }
}

static void s_field(const msgpack_object *m, const char *key)
{
    const msgpack_object *v = mp_get(m, key);
    printf("%-14s ", key);
    if (v)
        s_print_json(v);
    printf("\n");
}

static void s_print_show(const msgpack_object *m)
{
    static const char *const keys[] = {
        "id",           "phone",    "name",     "status",  "role",  "created_ms", "deleted",
        "last_seen_ms", "sessions", "contacts", "blocked", "inbox", NULL};
    for (int i = 0; keys[i]; i++)
        s_field(m, keys[i]);
    const msgpack_object *devs;
    if (mp_get_array(m, "devices", &devs) != MP_OK)
        return;
    printf("%-20s %16s %12s\n", "DEVICE", "ADDED (ms)", "CURSOR");
    for (uint32_t i = 0; i < devs->via.array.size; i++) {
        const msgpack_object *d = &devs->via.array.ptr[i];
        mp_str_t id = {"", 0};
        uint64_t added = 0, cursor = 0;
        mp_get_str(d, "id", 0, 64, &id);
        mp_get_u64(d, "added_ms", &added);
        mp_get_u64(d, "cursor", &cursor);
        printf("%-20.*s %16llu %12llu\n", (int)id.len, id.ptr, (unsigned long long)added,
               (unsigned long long)cursor);
    }
}

/* Asks the first node that answers; 0, 1 (refused or failed, said) or 2 (usage). */
int ctl_user(const ctl_opts_t *o, const char *op, const char *who, const char *role)
{
    bool show = op && strcmp(op, "show") == 0, set = op && strcmp(op, "role") == 0;
    if ((!show && !set) || !who || (show && role)) {
        fprintf(stderr, "usage: roostctl -m MANIFEST user show WHO | user role WHO [ROLE]\n");
        return 2;
    }
    manifest_t *m = ctl_load_manifest(o);
    if (!m)
        return 2;
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, role ? 4 : 3);
    mp_kv_str(&b.pk, "cmd", "user");
    mp_kv_str(&b.pk, "op", op);
    mp_kv_str(&b.pk, "who", who);
    if (role)
        mp_kv_str(&b.pk, "role", role);
    int rc = 1;
    bool answered = false;
    for (uint32_t i = 0; i < m->n_nodes && !answered; i++) {
        size_t len = 0;
        bool refused, ok = false;
        char *raw = ctl_admin_request(o, m, &m->nodes[i], b.sb.data, b.sb.size, &len, &refused);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        if (raw && mp_parse(&up, raw, len) && mp_get_bool(&up.data, "ok", &ok) == MP_OK) {
            answered = true;
            const msgpack_object *ans = mp_get(&up.data, "answer");
            mp_str_t why = {"failed", 6};
            if (!ok || !ans) {
                mp_get_str(&up.data, "error", 1, 512, &why);
                fprintf(stderr, "roostctl user: %.*s\n", (int)why.len, why.ptr);
            } else if (o->json) {
                s_print_json(ans);
                printf("\n");
                rc = 0;
            } else if (show) {
                s_print_show(ans);
                rc = 0;
            } else if (ans->type == MSGPACK_OBJECT_ARRAY && ans->via.array.size == 2) {
                const msgpack_object *r = ans->via.array.ptr;
                printf("%s: role %.*s%s%.*s\n", who, (int)r[0].via.str.size, r[0].via.str.ptr,
                       role ? " → " : "", role ? (int)r[1].via.str.size : 0, r[1].via.str.ptr);
                rc = 0;
            }
        }
        msgpack_unpacked_destroy(&up);
        free(raw);
    }
    if (!answered)
        fprintf(stderr, "roostctl user: no node's admin port answered\n");
    mp_buf_fini(&b);
    free(m);
    return rc;
}
