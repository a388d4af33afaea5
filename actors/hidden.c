/* actors/hidden.c — see hidden.h. */
#include "actors/hidden.h"

#include <string.h>

static uint64_t s_min_set(uint64_t a, uint64_t b)
{
    return a == 0 || (b != 0 && b < a) ? b : a;
}

void hidden_add(hidden_t *h, uint64_t from, uint64_t seq)
{
    if (seq == 0)
        return;
    if (from == 0) {
        h->any = s_min_set(h->any, seq);
        return;
    }
    for (uint32_t i = 0; i < h->n; i++)
        if (h->from[i] == from) {
            h->seq[i] = s_min_set(h->seq[i], seq);
            return;
        }
    if (h->n < HIDDEN_MAX) {
        h->from[h->n] = from;
        h->seq[h->n++] = seq;
    } else {
        h->any = s_min_set(h->any, seq);
    }
}

void hidden_merge(hidden_t *h, const hidden_t *other)
{
    for (uint32_t i = 0; i < other->n; i++)
        hidden_add(h, other->from[i], other->seq[i]);
    hidden_add(h, 0, other->any);
}

uint64_t hidden_cap(const hidden_t *h, uint64_t sender, uint64_t upto)
{
    uint64_t first = h->any;
    for (uint32_t i = 0; i < h->n; i++)
        if (h->from[i] == sender)
            first = s_min_set(first, h->seq[i]);
    return first && first <= upto ? first - 1 : upto;
}

bool hidden_empty(const hidden_t *h)
{
    return h->n == 0 && h->any == 0;
}

void hidden_pack(msgpack_packer *pk, const hidden_t *h)
{
    msgpack_pack_array(pk, h->n + (h->any != 0));
    for (uint32_t i = 0; i < h->n; i++) {
        msgpack_pack_array(pk, 2);
        msgpack_pack_uint64(pk, h->from[i]);
        msgpack_pack_uint64(pk, h->seq[i]);
    }
    if (h->any) {
        msgpack_pack_array(pk, 2);
        msgpack_pack_uint64(pk, 0);
        msgpack_pack_uint64(pk, h->any);
    }
}

bool hidden_parse(const msgpack_object *o, hidden_t *h)
{
    memset(h, 0, sizeof *h);
    if (!o || o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > HIDDEN_MAX + 1)
        return false;
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const msgpack_object *p = &o->via.array.ptr[i];
        if (p->type != MSGPACK_OBJECT_ARRAY || p->via.array.size != 2 ||
            p->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
            p->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
            memset(h, 0, sizeof *h);
            return false;
        }
        hidden_add(h, p->via.array.ptr[0].via.u64, p->via.array.ptr[1].via.u64);
    }
    return true;
}
