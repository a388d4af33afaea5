/* sim/chat_internal.h — the phones' shared state (sim/chat.c drives them, sim/chat_check.c
 * checks what they saw). Internal to sim/. */
#ifndef ROOST_SIM_CHAT_INTERNAL_H
#define ROOST_SIM_CHAT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/chat.h"

enum { MSG_SIM_STEP = 0x5E10, REQUEST_TIMEOUT_MS = 5000, RENEW_NS = 10000000000ull };

typedef enum { DEV_NEW, DEV_CLAIMED, DEV_ACTIVE } dev_state_t;
typedef enum {
    BUSY_NONE,
    BUSY_CLAIM,
    BUSY_AUTH,
    BUSY_SEND,
    BUSY_ACK,
    BUSY_READ,
    BUSY_GROUP
} busy_t;

enum { GROUP_MEMBERS_MAX = 6, NO_GROUP = UINT32_MAX };

typedef struct {
    uint32_t to;    /* device index (a direct message) */
    uint32_t group; /* or a group's index (to unused); NO_GROUP for a direct message */
    bool acked;
    uint64_t mid, seq; /* the answer's mid (hashed) and seq */
} csend_t;

typedef struct { /* created by its first member once every member has an account */
    uint32_t members[GROUP_MEMBERS_MAX], nmembers;
    uint64_t id; /* 0 until created */
} cgroup_t;

typedef struct { /* an open-addressing set of mid hashes (0 is never a hash: | 1) */
    uint64_t *slot;
    uint32_t n, cap;
} midset_t;

typedef struct {
    dev_state_t state;
    uint64_t user;
    char user_s[24];
    char user_key[28]; /* "u:<user>": where its account requests go */
    busy_t busy;
    uint64_t busy_corr, busy_n;
    uint32_t busy_send;
    uint64_t next_ns, renew_ns;
    csend_t *sends;
    uint32_t nsends, first_unacked;
    midset_t seen;
    uint64_t *last_seq;  /* per peer device: the highest seq seen from that conversation */
    uint64_t *read_upto; /* per peer: the highest seq this device said it read there */
    uint64_t *rcpt[2];   /* per peer: the newest delivered / read receipt seq from it */
    uint64_t *gseq;      /* per group: the highest seq seen there */
    uint64_t last_n, acked_n;
    uint64_t duplicates;
} simdev_t;

typedef struct { /* (lo user, hi user, seq) → mid, for M3 */
    uint64_t lo, hi, seq, mid;
} slot_t;

struct sim_chat {
    uint32_t n, sends_each;
    simdev_t *dev;
    cgroup_t *groups;
    uint32_t ngroups;
    slot_t *msgs;
    uint32_t nmsgs, msgs_cap;
    uint32_t violations;
    char first[256];
    uint64_t receipts; /* receipt events checked */
};

static inline bool chat_set_has(const midset_t *s, uint64_t h)
{
    for (uint32_t i = s->cap ? (uint32_t)h & (s->cap - 1) : 0; s->cap; i = (i + 1) & (s->cap - 1)) {
        if (s->slot[i] == h)
            return true;
        if (!s->slot[i])
            return false;
    }
    return false;
}

static inline void chat_conv_key(const simdev_t *a, const simdev_t *b, char out[64])
{
    uint64_t lo = a->user < b->user ? a->user : b->user, hi = a->user < b->user ? b->user : a->user;
    snprintf(out, 64, "d:%llu:%llu", (unsigned long long)lo, (unsigned long long)hi);
}

#endif
