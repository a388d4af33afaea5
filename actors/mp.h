/* actors/mp.h — reading and writing the msgpack maps the actors exchange with the edge and
 * with each other (client frames, stored records, events).
 *
 * Reading: mp_parse checks untrusted bytes with mpguard before msgpack-c sees them; the mp_get_*
 * accessors look a field up in a map and check its type and size. Each returns MP_OK, MP_MISSING
 * (absent or nil) or MP_BADTYPE (present but wrongly typed or out of range), so a handler can
 * answer `bad_request` naming the field.
 * Writing: thin helpers over msgpack_packer for str keys and values.
 */
#ifndef ROOST_ACTORS_MP_H
#define ROOST_ACTORS_MP_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { MP_OK = 0, MP_MISSING = 1, MP_BADTYPE = 2 } mp_rc_t;

/* A string view (not NUL-terminated). */
typedef struct {
    const char *ptr;
    size_t len;
} mp_str_t;

/* Unpacks one value from untrusted bytes into *up (caller destroys it): false if malformed,
 * too deep, or followed by trailing bytes. The objects own a copy of the bytes: the caller's
 * buffer may be freed at once. */
bool mp_parse(msgpack_unpacked *up, const void *data, size_t len);

/* The value of `key` in map (NULL if map is not a map or has no such key; nil counts as absent). */
const msgpack_object *mp_get(const msgpack_object *map, const char *key);
mp_rc_t mp_get_str(const msgpack_object *map, const char *key, size_t min, size_t max,
                   mp_str_t *out);
mp_rc_t mp_get_u64(const msgpack_object *map, const char *key, uint64_t *out);
mp_rc_t mp_get_bool(const msgpack_object *map, const char *key, bool *out);
/* bin, or (for JSON-born frames the edge converted) str: raw bytes up to max. */
mp_rc_t mp_get_bin(const msgpack_object *map, const char *key, size_t max, mp_str_t *out);
mp_rc_t mp_get_map(const msgpack_object *map, const char *key, const msgpack_object **out);
mp_rc_t mp_get_array(const msgpack_object *map, const char *key, const msgpack_object **out);

/* Views of typed objects (false if the type differs). */
bool mp_as_str(const msgpack_object *o, mp_str_t *out);
bool mp_as_u64(const msgpack_object *o, uint64_t *out);
bool mp_str_eq(mp_str_t s, const char *lit);
/* Copies s into out (cap bytes, NUL-terminated); false if it does not fit. */
bool mp_str_copy(mp_str_t s, char *out, size_t cap);

void mp_pack_str(msgpack_packer *pk, const char *s);
void mp_pack_strn(msgpack_packer *pk, const char *s, size_t len);
void mp_pack_bin(msgpack_packer *pk, const void *p, size_t len);
/* key: str value */
void mp_kv_str(msgpack_packer *pk, const char *key, const char *val);
void mp_kv_u64(msgpack_packer *pk, const char *key, uint64_t val);
void mp_kv_bool(msgpack_packer *pk, const char *key, bool val);
/* Packs an object as it is (re-encoding a value read from a parsed map). */
void mp_pack_obj(msgpack_packer *pk, const msgpack_object *o);

/* An sbuffer with a packer writing into it. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mp_buf_t;

void mp_buf_init(mp_buf_t *b);
void mp_buf_fini(mp_buf_t *b);
void mp_buf_reset(mp_buf_t *b);

#endif
