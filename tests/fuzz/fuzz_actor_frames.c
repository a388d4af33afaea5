/* tests/fuzz/fuzz_actor_frames.c — libFuzzer target: the bytes actors take from peers and
 * clients — a client request (MSG_CLIENT payload: [user, device, session, frame]) and a stored
 * or delivered conversation record — through the same checks and accessors the actors use. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "actors/client.h"
#include "actors/ids.h"
#include "actors/mp.h"
#include "actors/record.h"
#include "runtime/envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_fields(const msgpack_object *m)
{
    static const char *const names[] = {"t",    "to",     "cmid",   "kind",  "body",
                                        "conv", "seq",    "before", "limit", "users",
                                        "n",    "resume", "bodies", "meta",  "group"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        mp_str_t s;
        uint64_t v;
        bool b;
        const msgpack_object *o;
        mp_get_str(m, names[i], 0, 64, &s);
        mp_get_u64(m, names[i], &v);
        mp_get_bool(m, names[i], &b);
        mp_get_bin(m, names[i], 65536, &s);
        if (mp_get_str(m, names[i], 1, 64, &s) == MP_OK) {
            uint64_t lo, hi, g, id;
            bool grp;
            conv_parse(s.ptr, s.len, &lo, &hi, &g);
            target_parse(s.ptr, s.len, &id, &grp);
            id_parse(s.ptr, s.len);
            device_valid(s.ptr, s.len);
            phone_valid(s.ptr, s.len);
        }
        mp_get_map(m, names[i], &o);
        mp_get_array(m, names[i], &o);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 200000)
        return 0;
    roost_env_t *env = roost_env_new("u:1", "@1:0/sess", 0, data + 1, size - 1);
    if (!env)
        return 0;
    if (data[0] & 1) { /* a client request */
        creq_t r;
        if (creq_parse(&r, env)) {
            s_fields(r.frame);
            creq_fini(&r);
        }
    } else { /* a record, packed for a device as a push */
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        if (mp_parse(&up, env->payload, env->payload_len)) {
            record_is_event(&up.data);
            record_seq(&up.data);
            record_hidden_for(&up.data, record_from(&up.data));
            record_event_names(&up.data, 1);
            s_fields(&up.data);
            mp_buf_t b;
            mp_buf_init(&b);
            record_pack_msg(&b.pk, "d:1:2", &up.data, 1, "dev", 7);
            msgpack_unpacked again; /* what it packs must parse */
            msgpack_unpacked_init(&again);
            if (!mp_parse(&again, b.sb.data, b.sb.size))
                __builtin_trap();
            msgpack_unpacked_destroy(&again);
            mp_buf_fini(&b);
        }
        msgpack_unpacked_destroy(&up);
    }
    roost_env_free(env);
    return 0;
}
