/* actors/ids.h — the ids and actor keys of the messaging domain.
 *
 *   user id   decimal 1 … 2^53−1 without leading zeros (safe as a JSON number or string)
 *   group id  the same form
 *   keys      u:<user>  d:<lo>:<hi> (lo ≤ hi numerically; lo = hi is notes to self)
 *             g:<group>  p:<E.164 phone>
 *   device    1–64 bytes of [A-Za-z0-9._-]
 */
#ifndef ROOST_ACTORS_IDS_H
#define ROOST_ACTORS_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    ID_BYTES_MAX = 16,       /* "9007199254740991" */
    CONV_KEY_BYTES_MAX = 40, /* "d:" id ":" id */
    DEVICE_BYTES_MAX = 64,
    PHONE_BYTES_MAX = 16, /* "+" and up to 15 digits */
};
#define ID_MAX ((UINT64_C(1) << 53) - 1)

/* The numeric value of a user or group id string; 0 if it is not one. */
uint64_t id_parse(const char *s, size_t len);
void id_format(char out[ID_BYTES_MAX + 1], uint64_t id);
/* "u:<id>" (kind 'u') or "g:<id>" (kind 'g'). */
void id_key(char out[ID_BYTES_MAX + 3], char kind, uint64_t id);
bool device_valid(const char *s, size_t len);
bool phone_valid(const char *s, size_t len);

/* "d:<lo>:<hi>" for two users. */
void conv_direct_key(char out[CONV_KEY_BYTES_MAX + 1], uint64_t a, uint64_t b);
/* Parses a conversation key: direct (lo, hi set, *group 0) or group (*group set). false if
 * it is neither. */
bool conv_parse(const char *s, size_t len, uint64_t *lo, uint64_t *hi, uint64_t *group);
/* Parses "u:<id>" or "g:<id>" (the `to` of a send); *is_group tells which. */
bool target_parse(const char *s, size_t len, uint64_t *id, bool *is_group);

#endif
