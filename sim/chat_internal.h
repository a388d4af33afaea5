/* sim/chat_internal.h — the phones' shared state (sim/chat.c drives them, sim/chat_check.c
 * checks what they saw). Internal to sim/. */
#ifndef ROOST_SIM_CHAT_INTERNAL_H
#define ROOST_SIM_CHAT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "actors/mp.h"
#include "runtime/hash.h"
#include "runtime/u64map.h"
#include "sim/chat.h"

enum { MSG_SIM_STEP = 0x5E10, REQUEST_TIMEOUT_MS = 5000, RENEW_NS = 10000000000ull };
enum { MSG_SIM_FRAME = 0x5E11, MSG_SIM_CLOSED }; /* --edges: the session → its phone */
/* Between a phone's new messages: 0.1–1 s, so its sends spread over the faults and the
 * membership changes instead of all going out in the first second. */
#define SEND_GAP_MIN_NS 100000000ull

typedef enum { DEV_NEW, DEV_CLAIMED, DEV_ACTIVE } dev_state_t;
typedef enum {
    BUSY_NONE,
    BUSY_CLAIM,
    BUSY_AUTH,
    BUSY_SEND,
    BUSY_ACK,
    BUSY_READ,
    BUSY_GROUP,
    BUSY_MOVE,     /* group.add / group.remove by the group's admin */
    BUSY_LEAVE,    /* group.leave by a member */
    BUSY_ROLE,     /* group.promote / group.demote by the group's admin */
    BUSY_BLOCK,    /* block / unblock */
    BUSY_KEYS_PUT, /* keys.put: the phone's bundle */
    BUSY_KEYS_GET, /* keys.get: another phone's bundles */
    BUSY_TOKEN     /* --edges: a token family for the device (MSG_TOKEN_ISSUE, as the edge's
                    * HTTP login does), whose generation its access tokens carry */
} busy_t;

enum { GROUP_MEMBERS_MAX = 6, GROUP_MOVES_MAX = 12, NO_GROUP = UINT32_MAX };

typedef struct {
    uint32_t to;    /* device index (a direct message) */
    uint32_t group; /* or a group's index (to unused); NO_GROUP for a direct message */
    bool acked;
    bool refused;      /* a group send answered `forbidden`: its sender was removed meanwhile */
    uint64_t mid, seq; /* the answer's mid (hashed) and seq */
    uint64_t issued_ns, answered_ns; /* first attempt; the ok (or the refusal) */
} csend_t;

typedef struct {                 /* a membership change of one member, as its asker saw it */
    uint64_t issued_ns, done_ns; /* done_ns 0: not answered yet */
    bool in;                     /* group.add (true) or group.remove / group.leave */
    bool by_member;              /* the member's own group.leave (else the admin's change) */
    bool given_up; /* refused by a group a loss took: never answered ok, never asked again */
} cmove_t;

typedef enum { ENT_NO, ENT_YES, ENT_MAYBE } entitled_t;

enum { CHAT_BLOCKS_MAX = 256 };

typedef struct { /* reader blocks (or unblocks) sender, as the reader saw it */
    uint32_t reader, sender;
    uint64_t issued_ns, done_ns; /* done_ns 0: not answered yet */
    bool blocked;
} cblock_t;

typedef struct { /* created by its first member (its admin) once every member has an account */
    uint32_t members[GROUP_MEMBERS_MAX], nmembers;
    uint64_t id;         /* 0 until created */
    uint64_t created_ns; /* the creation's ok */
    bool abandoned;      /* sync: none: never created, a member's account went with a loss */
    /* Per member slot (slot 0, the admin, never moves): its removals, leaves and additions, in
     * order; at most one in flight per slot (the admin's or the member's own leave). */
    cmove_t moves[GROUP_MEMBERS_MAX][GROUP_MOVES_MAX];
    uint32_t nmoves[GROUP_MEMBERS_MAX];
    bool admin[GROUP_MEMBERS_MAX]; /* promoted, as far as the admin knows (slot 0 always is) */
    uint32_t leaves, roles;        /* leaves answered, role changes asked for */
} cgroup_t;

typedef struct { /* an open-addressing set of mid hashes (0 is never a hash: | 1) */
    uint64_t *slot;
    uint32_t n, cap;
} midset_t;

typedef struct {
    dev_state_t state;
    char dev_id[4]; /* "d1" (the phone's first device), "d2" (its twin) */
    uint64_t user;
    char user_s[24];
    char user_key[28]; /* "u:<user>": where its account requests go */
    busy_t busy;
    uint64_t busy_corr, busy_n;
    uint32_t busy_send; /* the send's index, or the group's (create, move) */
    uint32_t busy_slot; /* a move, a leave or a role change: the member slot */
    bool busy_promote;  /* a role change: promote (else demote) */
    uint64_t next_ns, renew_ns, next_send_ns;
    csend_t *sends;
    uint32_t nsends, first_unacked;
    midset_t seen;
    uint64_t *last_seq;    /* per peer device: the highest seq seen from that conversation */
    uint64_t *last_seq_ns; /* … when it was seen (under sync: none, a loss's time, see suspect_t) */
    uint64_t *read_upto;   /* per peer: the highest seq this device said it read there */
    uint64_t *rcpt[2];     /* per peer: the newest delivered / read receipt seq from it */
    uint64_t *rcpt_ns[2]; /* … when it came */
    uint64_t *gseq;       /* per group: the highest seq seen there */
    uint64_t *gseq_ns;    /* … when it was seen */
    uint64_t last_n, acked_n;
    uint64_t last_n_ns; /* when last_n was reached */
    uint64_t *n_ns;     /* [n]: when position n was first taken (under sync: none) */
    size_t n_ns_cap;
    uint64_t duplicates;
    uint64_t phone_user;    /* a phone's first device: the user its number's claims named (M6) */
    uint64_t phone_user_ns; /* … first named then */
    bool keys_put;          /* a phone's first device: its bundle is up (chat_keys.c) */
    uint64_t next_prekey;   /* … the id of its next one-time prekey (never reused) */
    uint64_t former[4];     /* a phone's first device: users its number named before a loss */
    uint32_t nformer;
    uint64_t user_changed_ns; /* … when it last claimed a new user (0: never) */
    uint64_t account;         /* … the newest user either device's claim was answered */
    uint64_t claimed_ns;      /* the first ok of its claim: later messages reach it */
    uint64_t relogin_corr;    /* a twin's later claim in flight (only its answer is checked) */
    bool relogin_pending;
    uint32_t conn_gen;  /* --edges: its connection (a new one after a close or a start-over) */
    uint64_t token_gen; /* --edges: its token family's generation (0: none yet) */
    bool hang_up;       /* --edges: close the connection at its next step (it starts over) */
} simdev_t;

typedef struct { /* (lo user, hi user, seq) → mid, for M3 */
    uint64_t lo, hi, seq, mid;
    uint64_t at_ns; /* first seen or answered */
} slot_t;

/* Under sync: none, a violation that a write lost inside the store's documented loss window
 * would explain (a lost message's seq handed to the next one, a receipt or a position that
 * went back with its record) is held with the time the lost write would have been made; the
 * end of the run excuses it if a window covers that time, else it counts (chat_check.c). */
typedef struct {
    uint64_t at_ns;
    uint32_t part;        /* the partition whose lost write would explain it (SIM_ANY_PARTITION) */
    uint32_t or_part;     /* or (when not SIM_NO_PARTITION): this partition lost writes … */
    uint64_t or_since_ns; /* … at any time since then */
    char what[192];
} suspect_t;

struct sim_chat {
    uint32_t n, sends_each; /* n phones */
    /* 2n devices: phone i's first device at i, which does everything, and its twin at n + i,
     * a second device of the same user that logs in, receives and acknowledges */
    simdev_t *dev;
    cgroup_t *groups;
    uint32_t ngroups;
    slot_t *msgs;
    uint32_t nmsgs, msgs_cap;
    uint32_t violations;
    char first[256];
    bool verbose;           /* print every violation as it happens */
    const uint64_t *now_ns; /* the world's clock */
    uint32_t partitions;    /* the cluster's (where a key's writes go) */
    bool may_lose;          /* sync: none: acknowledged writes may be lost */
    bool edges;             /* the devices connect through edge sessions (chat_edge.c) */
    uint64_t reconnects;    /* … connections the sessions closed */
    suspect_t *suspects;    /* … and the violations such a loss would explain */
    bool held;              /* the last chat_violation_unless_lost held a suspect */
    uint32_t nsuspects, suspects_cap;
    uint64_t receipts;                /* receipt events checked */
    uint64_t claims;                  /* claim answers checked */
    uint64_t restarts;                /* devices that started over after a loss (sync: none) */
    cblock_t blocks[CHAT_BLOCKS_MAX]; /* in the order they were asked for */
    uint32_t nblocks;
    u64map_t prekeys;     /* hash(user, id, device) → when first handed out + 1 */
    uint64_t prekeys_out; /* one-time prekeys handed out (checked) */
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

/* The hash a message's mid is kept under (0 is never a hash). */
static inline uint64_t chat_mid_hash(mp_str_t mid)
{
    return roost_hash64(mid.ptr, mid.len) | 1u;
}

static inline bool chat_is_twin(const sim_chat_t *c, const simdev_t *d)
{
    return d >= c->dev + c->n;
}

/* The phone (its first device's index) device d belongs to. */
static inline uint32_t chat_phone(const sim_chat_t *c, const simdev_t *d)
{
    uint32_t i = (uint32_t)(d - c->dev);
    return i >= c->n ? i - c->n : i;
}

static inline const simdev_t *chat_twin(const sim_chat_t *c, uint32_t phone)
{
    return &c->dev[c->n + phone];
}

/* Whether either device of phone r holds the message with mid hash h. */
static inline bool chat_phone_has(const sim_chat_t *c, uint32_t r, uint64_t h)
{
    return chat_set_has(&c->dev[r].seen, h) || chat_set_has(&chat_twin(c, r)->seen, h);
}

static inline void chat_conv_key(const simdev_t *a, const simdev_t *b, char out[64])
{
    uint64_t lo = a->user < b->user ? a->user : b->user, hi = a->user < b->user ? b->user : a->user;
    snprintf(out, 64, "d:%llu:%llu", (unsigned long long)lo, (unsigned long long)hi);
}

struct sim_world;

/* chat.c */
void chat_violation(sim_chat_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A client request (frame already packed in f) from device d to target; d is busy with kind. */
void chat_request(roost_ctx_t *ctx, simdev_t *d, const char *target, const mp_buf_t *f,
                  busy_t kind);

/* chat_loss.c — under sync: none (suspect_t) */
/* chat_violation, unless the run may lose writes: then held as a suspect whose lost write to
 * partition part would have been made about at_ns. */
void chat_violation_unless_lost(sim_chat_t *c, uint32_t part, uint64_t at_ns, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Another explanation of the suspect just held, if one was: partition part lost writes at any
 * time since since_ns (a reader's inbox behind a receipt, say). */
void chat_suspect_or_lost_since(sim_chat_t *c, uint32_t part, uint64_t since_ns);
/* The partition of a direct conversation (lo, hi: its users) or a group's (hi 0, lo its id). */
uint32_t chat_conv_part(const sim_chat_t *c, uint64_t lo, uint64_t hi);
/* The partition of the conversation device d's send s went to. */
uint32_t chat_send_part(const sim_chat_t *c, const simdev_t *d, const csend_t *s);
/* The partition of device d's user (its inbox, devices and account). */
uint32_t chat_user_part(const sim_chat_t *c, const simdev_t *d);
/* Whether the partition of key lost writes since `since` (false unless the run may lose). */
bool chat_lost_since(const struct sim_world *w, const sim_chat_t *c, const char *key,
                     uint64_t since);
/* Whether a send's `not_found` is explained by the sender's or the recipient's lost account. */
bool chat_account_lost(const struct sim_world *w, const sim_chat_t *c, const simdev_t *d,
                       const csend_t *s);
/* A device whose records went with a loss starts over (registers again when unregistered:
 * reads its inbox from the start). */
void chat_start_over(sim_chat_t *c, simdev_t *d, bool unregistered);
/* A phone answered a new user after such a loss: its old conversations no longer constrain. */
void chat_user_changed(sim_chat_t *c, uint32_t phone, uint64_t before);
/* Whether user was some phone's before its account was lost (its messages and receipts
 * still reach the others: they are not checked). */
bool chat_former_user(const sim_chat_t *c, uint64_t user);
/* When the device first took position n (a reused position is judged around it). */
void chat_note_position(sim_chat_t *c, simdev_t *d, uint64_t n);
/* A group's creation answered `not_found`: abandoned if a member's account may have gone
 * with a loss (else it is tried again, and a run that never creates it is not quiet). */
void chat_group_not_created(const struct sim_world *w, sim_chat_t *c, uint32_t g);
/* A position it took already, pushed again with a message it never saw. */
void chat_note_reused(sim_chat_t *c, simdev_t *d, const msgpack_object *frame);

/* chat_groups.c */
void chat_create_group(roost_ctx_t *ctx, sim_chat_t *c, simdev_t *d, uint32_t g);
/* A group device i creates whose members all have accounts now, or NO_GROUP. */
uint32_t chat_group_to_create(const sim_chat_t *c, uint32_t i);
/* The member slot of device i in group g, or UINT32_MAX. */
uint32_t chat_slot(const cgroup_t *g, uint32_t i);
/* Whether slot k was a member throughout [t0, t1] (YES), out throughout (NO), or either. */
entitled_t chat_entitled(const cgroup_t *g, uint32_t k, uint64_t t0, uint64_t t1);
/* Whether device i is in group g now, as far as its admin knows (a change in flight: no). */
bool chat_member_now(const cgroup_t *g, uint32_t i);
/* An admin goes on with its change in flight, or now and then (while traffic runs) removes a
 * member or adds one back; true if it sent a request. */
bool chat_maybe_move(roost_ctx_t *ctx, struct sim_world *w, sim_chat_t *c, uint32_t i);
/* The admin's change answered: ok, or `not_found` for a removal (an earlier attempt did it). */
void chat_moved(struct sim_world *w, sim_chat_t *c, simdev_t *d, bool ok,
                const msgpack_object *frame);
/* A member goes on with its leave in flight, or now and then (while traffic runs) leaves a
 * group it is in (its admin adds it back later); true if it sent a request. */
bool chat_maybe_leave(roost_ctx_t *ctx, struct sim_world *w, sim_chat_t *c, uint32_t i);
/* The leave answered: ok, or `forbidden` (an earlier attempt did it). */
void chat_left(struct sim_world *w, sim_chat_t *c, simdev_t *d, bool ok,
               const msgpack_object *frame);
/* An admin now and then promotes a member or demotes one it promoted; true if it asked. */
bool chat_maybe_role(roost_ctx_t *ctx, struct sim_world *w, sim_chat_t *c, uint32_t i);
void chat_role_answer(sim_chat_t *c, simdev_t *d, bool ok);
/* chat_blocks.c */
/* A phone goes on with its block change in flight, or now and then (while traffic runs)
 * blocks another phone or unblocks one; true if it sent a request. */
bool chat_maybe_block(roost_ctx_t *ctx, struct sim_world *w, sim_chat_t *c, uint32_t i);
void chat_blocked_answer(struct sim_world *w, sim_chat_t *c, simdev_t *d, bool ok);
/* Whether a message sender sent at sent_ns is owed to reader (YES), must never reach it (NO),
 * or either, as far as blocks go. */
entitled_t chat_block_entitled(const sim_chat_t *c, uint32_t reader, uint32_t sender,
                               uint64_t sent_ns);

/* chat_edge.c — with --edges, the devices speak frames to the edge's own session actor on
 * the client node, as its connections (the session's host is the world) */
/* Sends request frame f (rid added) on d's connection; d is busy with kind. */
void chat_edge_request(roost_ctx_t *ctx, struct sim_world *w, simdev_t *d, const mp_buf_t *f,
                       busy_t kind);
/* Packs the auth frame: a fresh access token for d's user and device. */
void chat_edge_auth_frame(struct sim_world *w, const simdev_t *d, mp_buf_t *f);
/* Asks d's user actor for a token family (as the edge's login does); d is busy with it. */
void chat_edge_issue(roost_ctx_t *ctx, simdev_t *d);
/* Its answer: [refresh token, generation] (true), or an error (false). */
bool chat_edge_issued(simdev_t *d, const roost_env_t *env);
/* The rid of a frame from the session (false: an event). */
bool chat_edge_rid(const msgpack_object *frame, uint64_t *rid);
/* The session closed d's connection (MSG_SIM_CLOSED [gen]): what was in flight is gone, and
 * an active device logs in again on a new one. */
void chat_edge_closed(sim_chat_t *c, simdev_t *d, const roost_env_t *env);
/* Closes d's connection as a client does (the session is told), for a new one. */
void chat_edge_hang_up(roost_ctx_t *ctx, struct sim_world *w, simdev_t *d);

/* chat_keys.c */
enum { CHAT_PREKEYS_PUT = 4 }; /* one-time prekeys in each keys.put */
/* A phone puts its bundle if it has not, or now and then (while traffic runs) fetches another
 * phone's; true if it sent a request. */
bool chat_maybe_keys(roost_ctx_t *ctx, struct sim_world *w, sim_chat_t *c, uint32_t i);
/* A keys.put or keys.get answered: a one-time prekey handed out twice is a violation. */
void chat_keys_answer(struct sim_world *w, sim_chat_t *c, simdev_t *d, busy_t kind, bool ok,
                      const msgpack_object *frame);

/* The code of an `err` answer (empty otherwise). */
mp_str_t chat_err_code(const msgpack_object *frame);

#endif
