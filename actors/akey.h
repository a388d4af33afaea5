/* actors/akey.h — building the actors' keys in the store's state table (layouts in
 * schemas/messaging.md): the actor's own key, then "/" and a short table name, then ids.
 * Numbers that order records (seq, n) are big-endian so byte order is numeric order. */
#ifndef ROOST_ACTORS_AKEY_H
#define ROOST_ACTORS_AKEY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum { AKEY_BYTES_MAX = 256 };

typedef struct {
    uint8_t b[AKEY_BYTES_MAX];
    size_t n;
} akey_t;

static inline void akey_add(akey_t *k, const void *p, size_t len)
{
    if (len == 0)
        return;
    if (k->n + len > AKEY_BYTES_MAX) { /* callers bound their ids: a bug, not input */
        k->n = 0;                      /* an empty key: every store call refuses it */
        return;
    }
    memcpy(k->b + k->n, p, len);
    k->n += len;
}

static inline void akey_str(akey_t *k, const char *s)
{
    akey_add(k, s, strlen(s));
}

static inline void akey_be64(akey_t *k, uint64_t v)
{
    uint8_t b[8];
    for (int i = 7; i >= 0; i--, v >>= 8)
        b[i] = (uint8_t)v;
    akey_add(k, b, 8);
}

/* owner "/" table */
static inline void akey_init(akey_t *k, const char *owner, const char *table)
{
    k->n = 0;
    akey_str(k, owner);
    akey_str(k, "/");
    akey_str(k, table);
}

static inline uint64_t akey_get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

#endif
