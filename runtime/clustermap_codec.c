/* runtime/clustermap_codec.c — the cluster map's msgpack encodings: commands (Raft log
 * entries), whole maps (Raft snapshots, the map pushed to non-voters) and the digest.
 *
 * Wire layouts (msgpack; CLUSTERMAP_FORMAT is bumped on any change; format 1, written before
 * handoff existed, is still read: its commands have no partition/epoch, its members are all
 * configured and its partitions have no next/prev):
 *   command = [FORMAT, type, node_id, [[id, name, address], ...], partition, epoch]
 *   map     = [FORMAT, version, partitions, rf, [[id, name, address, status, configured], ...],
 *              [epoch_0, primary_0, replica_0_0 .. replica_0_rf-1, next_0_0 .. next_0_rf-1,
 *               prev_0_0 .. prev_0_rf-1, epoch_1, ...]]
 *
 * Decoding trusts nothing: sizes are checked before msgpack-c sees the bytes (s_counts_fit),
 * every field's type and range is checked, and a decoded map must pass every invariant.
 */
#include "runtime/clustermap_internal.h"

#include <assert.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"

enum {
    CLUSTERMAP_FORMAT = 2,
    CLUSTERMAP_FORMAT_V1 = 1,
    CMD_FIELDS = 6,
    CMD_FIELDS_V1 = 4,
    MAP_FIELDS = 6,
    MEMBER_CMD_FIELDS = 3,    /* id, name, address */
    MEMBER_MAP_FIELDS = 5,    /* id, name, address, status, configured */
    MEMBER_MAP_FIELDS_V1 = 4, /* id, name, address, status */
    PART_FIXED_FIELDS = 2,    /* epoch, primary; then rf replicas, rf next, rf prev */
    PART_LISTS = 3,
    PART_LISTS_V1 = 1,
    DIGEST_BYTES = 16, /* crypto_generichash_BYTES_MIN; folded to 64 bits */
};

_Static_assert(DIGEST_BYTES >= crypto_generichash_BYTES_MIN, "generichash output too small");

/* ------------------------------------------------------------------ encoding */

static int s_pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    if (msgpack_pack_str(pk, len) != 0)
        return -1;
    return msgpack_pack_str_body(pk, s, len);
}

static int s_pack_member(msgpack_packer *pk, const clustermap_member_t *m, bool with_status)
{
    int bad = msgpack_pack_array(pk, with_status ? MEMBER_MAP_FIELDS : MEMBER_CMD_FIELDS);
    bad |= msgpack_pack_uint32(pk, m->id);
    bad |= s_pack_str(pk, m->name);
    bad |= s_pack_str(pk, m->address);
    if (with_status) {
        bad |= msgpack_pack_uint32(pk, (uint32_t)m->status);
        bad |= m->configured ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    }
    return bad;
}

static int s_pack_cmd(msgpack_packer *pk, const clustermap_cmd_t *cmd)
{
    assert(cmd->n_members <= ROOST_MEMBERS_MAX);
    int bad = msgpack_pack_array(pk, CMD_FIELDS);
    bad |= msgpack_pack_uint32(pk, CLUSTERMAP_FORMAT);
    bad |= msgpack_pack_uint32(pk, (uint32_t)cmd->type);
    bad |= msgpack_pack_uint32(pk, cmd->node_id);
    bad |= msgpack_pack_array(pk, cmd->n_members);
    for (uint32_t i = 0; i < cmd->n_members; i++)
        bad |= s_pack_member(pk, &cmd->members[i], false);
    bad |= msgpack_pack_uint32(pk, cmd->partition);
    bad |= msgpack_pack_uint64(pk, cmd->epoch);
    return bad;
}

static int s_pack_map(msgpack_packer *pk, const clustermap_t *map)
{
    int bad = msgpack_pack_array(pk, MAP_FIELDS);
    bad |= msgpack_pack_uint32(pk, CLUSTERMAP_FORMAT);
    bad |= msgpack_pack_uint64(pk, map->version);
    bad |= msgpack_pack_uint32(pk, map->partitions);
    bad |= msgpack_pack_uint32(pk, map->rf);
    bad |= msgpack_pack_array(pk, map->n_members);
    for (uint32_t i = 0; i < map->n_members; i++)
        bad |= s_pack_member(pk, &map->members[i], true);
    bad |= msgpack_pack_array(pk, map->partitions * (PART_FIXED_FIELDS + PART_LISTS * map->rf));
    for (uint32_t p = 0; p < map->partitions && !bad; p++) {
        const part_t *part = &map->parts[p];
        bad |= msgpack_pack_uint64(pk, part->epoch);
        bad |= msgpack_pack_uint32(pk, part->primary);
        for (uint32_t r = 0; r < map->rf; r++)
            bad |= msgpack_pack_uint32(pk, part->replicas[r]);
        for (uint32_t r = 0; r < map->rf; r++)
            bad |= msgpack_pack_uint32(pk, part->next[r]);
        for (uint32_t r = 0; r < map->rf; r++)
            bad |= msgpack_pack_uint32(pk, part->prev[r]);
    }
    return bad;
}

/* Hands the sbuffer's malloc'd bytes to the caller, or frees them on failure. */
static int s_finish(msgpack_sbuffer *sb, int bad, void **out, size_t *out_len)
{
    if (bad) {
        msgpack_sbuffer_destroy(sb);
        return ROOST_ENOMEM;
    }
    *out_len = sb->size;
    *out = msgpack_sbuffer_release(sb);
    msgpack_sbuffer_destroy(sb);
    return ROOST_OK;
}

int clustermap_cmd_encode(const clustermap_cmd_t *cmd, void **out, size_t *out_len)
{
    assert(cmd != NULL && out != NULL && out_len != NULL);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    return s_finish(&sb, s_pack_cmd(&pk, cmd), out, out_len);
}

int clustermap_encode(const clustermap_t *map, void **out, size_t *out_len)
{
    assert(map != NULL && out != NULL && out_len != NULL);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    return s_finish(&sb, s_pack_map(&pk, map), out, out_len);
}

static int s_digest_write(void *data, const char *buf, size_t len)
{
    crypto_generichash_update(data, (const unsigned char *)buf, len);
    return 0;
}

uint64_t clustermap_digest(const clustermap_t *map)
{
    assert(map != NULL);
    crypto_generichash_state st;
    unsigned char out[DIGEST_BYTES];
    crypto_generichash_init(&st, NULL, 0, sizeof out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &st, s_digest_write);
    int bad = s_pack_map(&pk, map);
    assert(bad == 0); /* the writer can't fail */
    (void)bad;
    crypto_generichash_final(&st, out, sizeof out);
    uint64_t h = 0;
    for (int i = 7; i >= 0; i--)
        h = (h << 8) | out[i];
    return h;
}

/* ------------------------------------------------------------------ defensive decoding */

/* msgpack-c allocates an array's or map's element table as soon as it reads the header, before
 * it knows whether the elements exist: 5 hostile bytes claiming 2^32 elements would ask for
 * ~100 GB. So before unpacking we walk the headers once and require every container count
 * (each element takes at least one byte) and every string length to fit in the bytes left.
 * This walk only measures; msgpack-c still does all the decoding. */
typedef enum { HDR_FIXED, HDR_BLOB, HDR_EXT, HDR_ARRAY, HDR_MAP, HDR_BAD } hdr_kind_t;

typedef struct {
    uint8_t kind;
    uint8_t n; /* HDR_FIXED: payload bytes; others: bytes of the length field */
} hdr_t;

/* Type bytes 0xc0..0xdf (the msgpack spec's table, in order). */
static const hdr_t s_hdr[32] = {
    {HDR_FIXED, 0},  {HDR_BAD, 0},   {HDR_FIXED, 0}, {HDR_FIXED, 0}, /* nil, -, false, true */
    {HDR_BLOB, 1},   {HDR_BLOB, 2},  {HDR_BLOB, 4},                  /* bin 8/16/32 */
    {HDR_EXT, 1},    {HDR_EXT, 2},   {HDR_EXT, 4},                   /* ext 8/16/32 */
    {HDR_FIXED, 4},  {HDR_FIXED, 8},                                 /* float 32/64 */
    {HDR_FIXED, 1},  {HDR_FIXED, 2}, {HDR_FIXED, 4}, {HDR_FIXED, 8}, /* uint */
    {HDR_FIXED, 1},  {HDR_FIXED, 2}, {HDR_FIXED, 4}, {HDR_FIXED, 8}, /* int */
    {HDR_FIXED, 2},  {HDR_FIXED, 3}, {HDR_FIXED, 5}, {HDR_FIXED, 9}, /* fixext 1/2/4/8 */
    {HDR_FIXED, 17},                                                 /* fixext 16 */
    {HDR_BLOB, 1},   {HDR_BLOB, 2},  {HDR_BLOB, 4},                  /* str 8/16/32 */
    {HDR_ARRAY, 2},  {HDR_ARRAY, 4}, {HDR_MAP, 2},   {HDR_MAP, 4},   /* array, map */
};

static bool s_read_be(const uint8_t *p, size_t len, size_t *pos, unsigned n, uint64_t *v)
{
    if (n > len - *pos)
        return false;
    uint64_t x = 0;
    for (unsigned i = 0; i < n; i++)
        x = (x << 8) | p[*pos + i];
    *pos += n;
    *v = x;
    return true;
}

/* Reads the header whose type byte is b; sets how many child objects follow and how many
 * payload bytes to skip. */
static bool s_header(const uint8_t *p, size_t len, size_t *pos, uint8_t b, uint64_t *children,
                     uint64_t *skip)
{
    *children = 0;
    *skip = 0;
    if (b <= 0x7f || b >= 0xe0)
        return true; /* fixint */
    if (b <= 0x8f) {
        *children = 2u * (b & 0x0fu);
        return true;
    }
    if (b <= 0x9f) {
        *children = b & 0x0fu;
        return true;
    }
    if (b <= 0xbf) {
        *skip = b & 0x1fu;
        return true;
    }
    hdr_t h = s_hdr[b - 0xc0];
    uint64_t v = 0;
    if (h.kind == HDR_BAD || (h.kind != HDR_FIXED && !s_read_be(p, len, pos, h.n, &v)))
        return false;
    switch (h.kind) {
    case HDR_FIXED:
        *skip = h.n;
        break;
    case HDR_BLOB:
        *skip = v;
        break;
    case HDR_EXT:
        *skip = v + 1;
        break; /* + the type byte */
    case HDR_ARRAY:
        *children = v;
        break;
    default:
        *children = 2 * v;
        break;
    }
    return true;
}

static bool s_counts_fit(const uint8_t *p, size_t len)
{
    size_t pos = 0;
    uint64_t pending = 1; /* objects still to read; each needs >= 1 byte */
    while (pending > 0) {
        uint64_t children, skip;
        if (pos >= len)
            return false;
        uint8_t type = p[pos++];
        if (!s_header(p, len, &pos, type, &children, &skip))
            return false;
        pending--;
        if (skip > len - pos)
            return false;
        pos += (size_t)skip;
        if (children > len - pos || pending + children > len - pos)
            return false;
        pending += children;
    }
    return true;
}

/* Unpacks exactly one object spanning all `len` bytes. On success the caller destroys `u`. */
static int s_unpack(const void *buf, size_t len, size_t max, msgpack_unpacked *u)
{
    if (buf == NULL || len == 0 || len > max || !s_counts_fit(buf, len))
        return ROOST_EPROTO;
    msgpack_unpacked_init(u);
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack_next(u, buf, len, &off);
    if (r == MSGPACK_UNPACK_SUCCESS && off == len)
        return ROOST_OK;
    msgpack_unpacked_destroy(u);
    return r == MSGPACK_UNPACK_NOMEM_ERROR ? ROOST_ENOMEM : ROOST_EPROTO;
}

/* The n elements of an array object, or NULL if o is not an array of exactly n (or, with
 * n == UINT32_MAX, of any size). */
static const msgpack_object *s_array(const msgpack_object *o, uint32_t n)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || (n != UINT32_MAX && o->via.array.size != n))
        return NULL;
    return o->via.array.size ? o->via.array.ptr : o; /* non-NULL for an empty array */
}

static bool s_u64(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *v = o->via.u64;
    return true;
}

static bool s_u32(const msgpack_object *o, uint32_t *v)
{
    uint64_t x;
    if (!s_u64(o, &x) || x > UINT32_MAX)
        return false;
    *v = (uint32_t)x;
    return true;
}

/* Copies a non-empty string of at most max bytes without embedded NULs into dst[max + 1]. */
static bool s_str(const msgpack_object *o, char *dst, size_t max)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 || o->via.str.size > max)
        return false;
    if (memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
        return false;
    memcpy(dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = '\0';
    return true;
}

/* fields: MEMBER_CMD_FIELDS (a command's), MEMBER_MAP_FIELDS_V1 or MEMBER_MAP_FIELDS. */
static bool s_decode_member(const msgpack_object *o, clustermap_member_t *m, uint32_t fields)
{
    bool with_status = fields != MEMBER_CMD_FIELDS;
    const msgpack_object *f = s_array(o, fields);
    memset(m, 0, sizeof *m);
    m->status = CLUSTERMAP_UP;
    m->configured = true;
    if (f == NULL || !s_u32(&f[0], &m->id) || !s_str(&f[1], m->name, ROOST_MEMBER_NAME_BYTES_MAX))
        return false;
    if (!s_str(&f[2], m->address, ROOST_MEMBER_ADDR_BYTES_MAX))
        return false;
    uint32_t status = CLUSTERMAP_UP;
    if (with_status && (!s_u32(&f[3], &status) || status > CLUSTERMAP_UP))
        return false;
    m->status = (clustermap_status_t)status;
    if (fields == MEMBER_MAP_FIELDS) {
        if (f[4].type != MSGPACK_OBJECT_BOOLEAN)
            return false;
        m->configured = f[4].via.boolean;
    }
    return true;
}

/* Decodes a member array into members[ROOST_MEMBERS_MAX]; the list must be valid. */
static bool s_decode_members(const msgpack_object *o, clustermap_member_t *members, uint32_t *n,
                             uint32_t fields)
{
    if (s_array(o, UINT32_MAX) == NULL || o->via.array.size > ROOST_MEMBERS_MAX)
        return false;
    *n = o->via.array.size;
    for (uint32_t i = 0; i < *n; i++)
        if (!s_decode_member(&o->via.array.ptr[i], &members[i], fields))
            return false;
    return clustermap_members_valid(members, *n);
}

static bool s_decode_cmd_fields(const msgpack_object *root, clustermap_cmd_t *out)
{
    const msgpack_object *f = s_array(root, UINT32_MAX);
    uint32_t format, type;
    if (f == NULL || root->via.array.size == 0 || !s_u32(&f[0], &format))
        return false;
    uint32_t fields = format == CLUSTERMAP_FORMAT ? CMD_FIELDS : CMD_FIELDS_V1;
    if ((format != CLUSTERMAP_FORMAT && format != CLUSTERMAP_FORMAT_V1) ||
        root->via.array.size != fields)
        return false;
    if (!s_u32(&f[1], &type) || !s_u32(&f[2], &out->node_id))
        return false;
    uint32_t last =
        format == CLUSTERMAP_FORMAT ? CLUSTERMAP_CMD_HANDOFF_SETTLED : CLUSTERMAP_CMD_NODE_UP;
    if (type < CLUSTERMAP_CMD_SET_MEMBERS || type > last)
        return false;
    out->type = (clustermap_cmd_type_t)type;
    if (!s_decode_members(&f[3], out->members, &out->n_members, MEMBER_CMD_FIELDS))
        return false;
    if (format == CLUSTERMAP_FORMAT &&
        (!s_u32(&f[4], &out->partition) || !s_u64(&f[5], &out->epoch)))
        return false;
    return type == CLUSTERMAP_CMD_SET_MEMBERS ? out->n_members > 0 : out->n_members == 0;
}

int clustermap_cmd_decode(const void *buf, size_t len, clustermap_cmd_t *out)
{
    assert(out != NULL);
    msgpack_unpacked u;
    int rc = s_unpack(buf, len, CLUSTERMAP_CMD_BYTES_MAX, &u);
    if (rc != ROOST_OK)
        return rc;
    memset(out, 0, sizeof *out);
    rc = s_decode_cmd_fields(&u.data, out) ? ROOST_OK : ROOST_EPROTO;
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* lists: PART_LISTS_V1 (replicas) or PART_LISTS (replicas, next, prev). */
static bool s_decode_parts(const msgpack_object *o, clustermap_t *map, uint32_t lists)
{
    uint32_t stride = PART_FIXED_FIELDS + lists * map->rf;
    const msgpack_object *f = s_array(o, map->partitions * stride);
    if (f == NULL)
        return false;
    for (uint32_t p = 0; p < map->partitions; p++, f += stride) {
        part_t *part = &map->parts[p];
        if (!s_u64(&f[0], &part->epoch) || !s_u32(&f[1], &part->primary))
            return false;
        uint32_t *dst[PART_LISTS] = {part->replicas, part->next, part->prev};
        for (uint32_t l = 0; l < lists; l++)
            for (uint32_t r = 0; r < map->rf; r++)
                if (!s_u32(&f[PART_FIXED_FIELDS + l * map->rf + r], &dst[l][r]))
                    return false;
    }
    return true;
}

/* Builds a map from a decoded root object; NULL (and *rc) if anything is off. */
static clustermap_t *s_decode_map_fields(const msgpack_object *root, int *rc)
{
    const msgpack_object *f = s_array(root, MAP_FIELDS);
    uint32_t format, partitions, rf;
    uint64_t version;
    *rc = ROOST_EPROTO;
    if (f == NULL || !s_u32(&f[0], &format) ||
        (format != CLUSTERMAP_FORMAT && format != CLUSTERMAP_FORMAT_V1))
        return NULL;
    bool v1 = format == CLUSTERMAP_FORMAT_V1;
    if (!s_u64(&f[1], &version) || !s_u32(&f[2], &partitions) || !s_u32(&f[3], &rf))
        return NULL;
    if (!clustermap_shape_valid(partitions, rf))
        return NULL;
    clustermap_t *map = clustermap_new(partitions, rf);
    if (map == NULL) {
        *rc = ROOST_ENOMEM;
        return NULL;
    }
    map->version = version;
    if (!s_decode_members(&f[4], map->members, &map->n_members,
                          v1 ? MEMBER_MAP_FIELDS_V1 : MEMBER_MAP_FIELDS) ||
        !s_decode_parts(&f[5], map, v1 ? PART_LISTS_V1 : PART_LISTS) ||
        !clustermap_invariants(map)) {
        clustermap_release(&map);
        return NULL;
    }
    *rc = ROOST_OK;
    return map;
}

int clustermap_decode(const void *buf, size_t len, clustermap_t **out)
{
    assert(out != NULL);
    *out = NULL;
    msgpack_unpacked u;
    int rc = s_unpack(buf, len, CLUSTERMAP_MAP_BYTES_MAX, &u);
    if (rc != ROOST_OK)
        return rc;
    *out = s_decode_map_fields(&u.data, &rc);
    msgpack_unpacked_destroy(&u);
    return rc;
}
