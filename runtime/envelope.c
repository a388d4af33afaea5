/* runtime/envelope.c — envelopes' allocation and actor keys (see envelope.h); the wire form is
 * envelope_wire.c's. */
#include "runtime/envelope.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/limits.h"
#include "runtime/util.h"

static inline bool s_printable(char c)
{
    return (uint8_t)((uint8_t)c - 0x21) <= 0x7e - 0x21; /* one compare: the NUL falls outside */
}

/* Two loops: the kind up to its ':', then the rest, one compare a byte (memchr for the ':' over
 * bytes just written stalled on store forwarding). */
size_t roost_key_measure(const char *key)
{
    size_t i = 0;
    while (i <= ROOST_KIND_BYTES_MAX && s_printable(key[i]) && key[i] != ':')
        i++;
    if (i == 0 || i > ROOST_KIND_BYTES_MAX || key[i] != ':')
        return 0;
    size_t rest = ++i;
    while (i <= ROOST_KEY_BYTES_MAX && s_printable(key[i]))
        i++;
    return i > rest && i <= ROOST_KEY_BYTES_MAX && key[i] == '\0' ? i : 0;
}

bool roost_key_is_valid(const char *key, size_t len)
{
    if (len < 3 || len > ROOST_KEY_BYTES_MAX)
        return false;
    const char *colon = memchr(key, ':', len);
    if (!colon || colon == key || (size_t)(colon - key) > ROOST_KIND_BYTES_MAX ||
        colon == key + len - 1)
        return false;
    for (size_t i = 0; i < len; i++)
        if (key[i] < 0x21 || key[i] > 0x7e)
            return false;
    return true;
}

/* Parses a decimal uint32 from [*p, end) up to `stop`; advances *p past it. */
static bool s_u32(const char **p, const char *end, char stop, uint32_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    if (s >= end || *s < '0' || *s > '9')
        return false;
    for (; s < end && *s != stop; s++) {
        if (*s < '0' || *s > '9' || (v = v * 10 + (uint64_t)(*s - '0')) > UINT32_MAX)
            return false;
    }
    if (s >= end)
        return false;
    *out = (uint32_t)v;
    *p = s + 1;
    return true;
}

bool roost_key_parse_local(const char *key, size_t len, roost_local_key_t *out)
{
    return roost_key_is_valid(key, len) && roost_key_split_local(key, len, out);
}

bool roost_key_split_local(const char *key, size_t len, roost_local_key_t *out)
{
    const char *p = key + 1, *end = key + len;
    if (len < 6 || key[0] != '@' || !s_u32(&p, end, ':', &out->node) ||
        !s_u32(&p, end, '/', &out->partition))
        return false;
    /* the kind ends at a '/' or the key's end; a byte loop, as the kind is short and memchr's
     * wide loads stall on a key just written */
    const char *k = p, *stop = end - p > ROOST_KIND_BYTES_MAX ? p + ROOST_KIND_BYTES_MAX : end;
    while (k < stop && *k != '/')
        k++;
    out->kind = p;
    out->kind_len = (size_t)(k - p);
    return out->kind_len > 0 && out->kind_len < ROOST_KIND_BYTES_MAX;
}

int roost_key_make_local(char *out, size_t cap, uint32_t node, uint32_t partition, const char *kind,
                         const char *rest)
{
    int n = rest ? snprintf(out, cap, "@%u:%u/%s/%s", node, partition, kind, rest)
                 : snprintf(out, cap, "@%u:%u/%s", node, partition, kind);
    return n < 0 || (size_t)n >= cap || (size_t)n > ROOST_KEY_BYTES_MAX ? ROOST_ETOOBIG : ROOST_OK;
}

static size_t s_bytes(size_t tlen, size_t slen, size_t plen)
{
    return sizeof(roost_env_t) + tlen + 1 + slen + 1 + plen;
}

/* pool NULL: a thread without one (the block is still pool-sized, for the worker that frees it).
 * The header is written as one compound literal (the fields not named are zero): a memset and
 * then the fields wrote the line twice. */
static roost_env_t *s_alloc(blockpool_t *pool, size_t tlen, size_t slen, size_t plen)
{
    size_t bytes = s_bytes(tlen, slen, plen);
    roost_env_t *env =
        pool ? blockpool_alloc(pool, bytes) : roost_xmalloc(blockpool_block_bytes(bytes));
    char *target = (char *)(env + 1);
    *env = (roost_env_t){.payload_len = (uint32_t)plen,
                         .target_len = (uint8_t)tlen,
                         .sender_len = (uint8_t)slen,
                         .pooled = blockpool_is_pooled(bytes),
                         .target = target,
                         .sender = target + tlen + 1,
                         .payload = (uint8_t *)(target + tlen + 1 + slen + 1)};
    return env;
}

roost_env_t *roost_env_new_n(blockpool_t *pool, const char *target, size_t tlen, const char *sender,
                             size_t slen, uint32_t type, const void *payload, size_t payload_len)
{
    if (tlen > ROOST_KEY_BYTES_MAX || slen > ROOST_KEY_BYTES_MAX ||
        payload_len > ROOST_PAYLOAD_BYTES_MAX)
        return NULL;
    roost_env_t *env = s_alloc(pool, tlen, slen, payload_len);
    memcpy(env->target, target, tlen);
    env->target[tlen] = '\0';
    memcpy(env->sender, sender, slen);
    env->sender[slen] = '\0';
    if (payload_len)
        memcpy(env->payload, payload, payload_len);
    env->type = type;
    return env;
}

roost_env_t *roost_env_new_in(blockpool_t *pool, const char *target, const char *sender,
                              uint32_t type, const void *payload, size_t payload_len)
{
    return roost_env_new_n(pool, target ? target : "", target ? strlen(target) : 0,
                           sender ? sender : "", sender ? strlen(sender) : 0, type, payload,
                           payload_len);
}

roost_env_t *roost_env_new(const char *target, const char *sender, uint32_t type,
                           const void *payload, size_t payload_len)
{
    return roost_env_new_in(NULL, target, sender, type, payload, payload_len);
}

void roost_env_free(roost_env_t *env)
{
    free(env);
}

void roost_env_free_to(blockpool_t *pool, roost_env_t *env)
{
    if (!env)
        return;
    if (!env->pooled) {
        free(env);
        return;
    }
    blockpool_free(pool, env, s_bytes(env->target_len, env->sender_len, env->payload_len));
}
