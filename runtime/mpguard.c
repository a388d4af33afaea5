/* runtime/mpguard.c — see mpguard.h. Follows the msgpack spec's format table. */
#include "runtime/mpguard.h"

typedef struct {
    const uint8_t *p;
    size_t left;
} cursor_t;

static bool s_take(cursor_t *c, size_t n)
{
    if (n > c->left)
        return false;
    c->p += n;
    c->left -= n;
    return true;
}

/* Reads an n-byte big-endian length after the type byte. */
static bool s_len(cursor_t *c, size_t n, uint64_t *out)
{
    if (n > c->left)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | c->p[i];
    c->p += n;
    c->left -= n;
    *out = v;
    return true;
}

static bool s_value(cursor_t *c, unsigned depth);

static bool s_items(cursor_t *c, uint64_t count, unsigned depth)
{
    if (count > c->left) /* every item takes at least one byte */
        return false;
    for (uint64_t i = 0; i < count; i++)
        if (!s_value(c, depth))
            return false;
    return true;
}

/* Sized payloads: str, bin, ext (ext adds one type byte). */
static bool s_sized(cursor_t *c, uint8_t b, uint64_t *len)
{
    switch (b) {
    case 0xc4:
    case 0xd9:
        return s_len(c, 1, len);
    case 0xc5:
    case 0xda:
        return s_len(c, 2, len);
    case 0xc6:
    case 0xdb:
        return s_len(c, 4, len);
    case 0xc7:
        if (!s_len(c, 1, len))
            return false;
        (*len)++;
        return true;
    case 0xc8:
        if (!s_len(c, 2, len))
            return false;
        (*len)++;
        return true;
    case 0xc9:
        if (!s_len(c, 4, len))
            return false;
        (*len)++;
        return true;
    case 0xd4:
        *len = 2;
        return true;
    case 0xd5:
        *len = 3;
        return true;
    case 0xd6:
        *len = 5;
        return true;
    case 0xd7:
        *len = 9;
        return true;
    case 0xd8:
        *len = 17;
        return true;
    }
    return false;
}

static bool s_value(cursor_t *c, unsigned depth)
{
    if (c->left == 0 || depth == 0)
        return false;
    uint8_t b = *c->p;
    s_take(c, 1);
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return true; /* fixint, nil, bool */
    if ((b & 0xe0) == 0xa0)
        return s_take(c, b & 0x1f); /* fixstr */
    if ((b & 0xf0) == 0x90)
        return s_items(c, b & 0x0f, depth - 1); /* fixarray */
    if ((b & 0xf0) == 0x80)
        return s_items(c, 2u * (b & 0x0f), depth - 1); /* fixmap */
    uint64_t n;
    switch (b) {
    case 0xcc:
    case 0xd0:
        return s_take(c, 1);
    case 0xcd:
    case 0xd1:
        return s_take(c, 2);
    case 0xca:
    case 0xce:
    case 0xd2:
        return s_take(c, 4);
    case 0xcb:
    case 0xcf:
    case 0xd3:
        return s_take(c, 8);
    case 0xdc:
        return s_len(c, 2, &n) && s_items(c, n, depth - 1);
    case 0xdd:
        return s_len(c, 4, &n) && s_items(c, n, depth - 1);
    case 0xde:
        return s_len(c, 2, &n) && n <= c->left && s_items(c, 2 * n, depth - 1);
    case 0xdf:
        return s_len(c, 4, &n) && n <= c->left && s_items(c, 2 * n, depth - 1);
    }
    return s_sized(c, b, &n) && s_take(c, n); /* 0xc1 (never used) fails here */
}

bool mpguard_check(const uint8_t *data, size_t len, unsigned depth_max, size_t *used)
{
    cursor_t c = {data, len};
    if (!s_value(&c, depth_max))
        return false;
    if (used)
        *used = len - c.left;
    return true;
}
