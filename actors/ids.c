/* actors/ids.c — id and key syntax (see ids.h). */
#include "actors/ids.h"

#include <stdio.h>
#include <string.h>

uint64_t id_parse(const char *s, size_t len)
{
    if (len == 0 || len > ID_BYTES_MAX || s[0] == '0')
        return 0;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
        if (v > ID_MAX)
            return 0;
    }
    return v;
}

void id_format(char out[ID_BYTES_MAX + 1], uint64_t id)
{
    snprintf(out, ID_BYTES_MAX + 1, "%llu", (unsigned long long)(id & ID_MAX));
}

void id_key(char out[ID_BYTES_MAX + 3], char kind, uint64_t id)
{
    out[0] = kind;
    out[1] = ':';
    id_format(out + 2, id);
}

bool device_valid(const char *s, size_t len)
{
    if (len == 0 || len > DEVICE_BYTES_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

bool phone_valid(const char *s, size_t len)
{
    if (len < 3 || len > PHONE_BYTES_MAX || s[0] != '+' || s[1] == '0')
        return false;
    for (size_t i = 1; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

void conv_direct_key(char out[CONV_KEY_BYTES_MAX + 1], uint64_t a, uint64_t b)
{
    uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
    snprintf(out, CONV_KEY_BYTES_MAX + 1, "d:%llu:%llu", (unsigned long long)lo,
             (unsigned long long)hi);
}

bool conv_parse(const char *s, size_t len, uint64_t *lo, uint64_t *hi, uint64_t *group)
{
    *lo = *hi = *group = 0;
    if (len > 2 && s[0] == 'g' && s[1] == ':')
        return (*group = id_parse(s + 2, len - 2)) != 0;
    if (len < 5 || s[0] != 'd' || s[1] != ':')
        return false;
    const char *colon = memchr(s + 2, ':', len - 2);
    if (!colon)
        return false;
    *lo = id_parse(s + 2, (size_t)(colon - s - 2));
    *hi = id_parse(colon + 1, (size_t)(s + len - colon - 1));
    return *lo && *hi && *lo <= *hi;
}

bool target_parse(const char *s, size_t len, uint64_t *id, bool *is_group)
{
    if (len < 3 || s[1] != ':' || (s[0] != 'u' && s[0] != 'g'))
        return false;
    *is_group = s[0] == 'g';
    return (*id = id_parse(s + 2, len - 2)) != 0;
}
