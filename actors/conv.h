/* actors/conv.h — the conversation actor's state, shared by its files:
 *   conv.c          behaviour, loading, dispatch, the durable layout
 *   conv_send.c     send (permission, dedupe, seq, one batch), history, fetch by seq
 *   conv_fanout.c   log-driven delivery to every member's inbox, the unfinished-fan-out index
 *   conv_receipts.c delivered/read watermarks and the coalesced receipt events, typing relay
 *   group.c         group membership, roles and their events (g: conversations only)
 *
 * One actor per conversation: `d:<lo>:<hi>` (two users) or `g:<group>`. Its order is the
 * conversation's order: it numbers every message and group event with the next `seq`.
 */
#ifndef ROOST_ACTORS_CONV_H
#define ROOST_ACTORS_CONV_H

#include <stdbool.h>
#include <stdint.h>

#include "actors/akey.h"
#include "actors/base.h"
#include "actors/client.h"
#include "actors/hidden.h"
#include "actors/ids.h"
#include "actors/mp.h"
#include "actors/pend.h"

enum {
    CONV_GROUP_MAX_LIMIT = 1024,
    CONV_NAME_BYTES_MAX = 128,
    CONV_CMID_BYTES_MAX = 64,
    CONV_BODY_BYTES_MAX = 64 * 1024,
    CONV_META_ENTRIES_MAX = 16,
    CONV_META_BYTES_MAX = 256,
    CONV_HISTORY_MAX = 100,
    CONV_DELIVER_RECORDS_MAX = 64,       /* records per deliver */
    CONV_DELIVER_BYTES_MAX = 512 * 1024, /* bytes of records per deliver */
    CONV_DELIVER_TIMEOUT_MS = 5000,
    CONV_RETRY_MIN_MS = 100,
    CONV_RETRY_MAX_MS = 5000,
    CONV_CHECKPOINT_MS = 1000,    /* member watermarks and fan-out progress, when changed */
    CONV_RECEIPT_MS = 1000,       /* at most one receipt per (reader, status) per second */
    CONV_DEDUPE_CHECK_MS = 60000, /* expired dedupe entries: looked for at most this often… */
    CONV_DEDUPE_EXPIRE_MAX = 64,  /* …and at most this many deleted with one send */
    CONV_TYPING_MS = 10000,
    CONV_DEDUPE_INFLIGHT_MAX = 4096,
    CONV_DEVICES_TTL_MS = 60000,
    /* Earlier memberships of a member added back, kept so its inbox can still fetch what it
     * got then (an offline device may ask much later). */
    CONV_PAST_WINDOWS = 4,
};

enum { ROLE_MEMBER = 0, ROLE_ADMIN = 1 };

enum { /* timer tags */
       CONV_TIMER_FANOUT = 1,
       CONV_TIMER_CHECKPOINT = 2,
       CONV_TIMER_RECEIPTS = 3,
       CONV_TIMER_TYPING = 4,
};

typedef struct {
    uint64_t user;
    uint64_t joined; /* seq of the event that added it (0: from the start) */
    uint64_t left;   /* seq of the event that removed it; 0 while a member */
    uint8_t role;
    /* durable (the member record, written at checkpoints or before answering) */
    uint64_t fanout;    /* highest seq known to be in its inbox */
    uint64_t delivered; /* watermarks its devices reported */
    uint64_t read;
    uint64_t rcpt_delivered, rcpt_read;       /* receipt events handed to senders (in memory) … */
    uint64_t rcpt_delivered_ok, rcpt_read_ok; /* … and confirmed stored by every sender */
    uint64_t last_sent;                       /* its latest message's seq */
    hidden_t hidden;                          /* senders it never received: caps their receipts */
    /* Added back before its fan-out reached its removal: records up to owed_upto (its old
     * membership, floor owed_floor) go first, then the fan-out jumps to joined - 1. 0: none. */
    uint64_t owed_upto, owed_floor;
    uint64_t past[CONV_PAST_WINDOWS][2]; /* its earlier memberships [joined, left], oldest first */
    uint32_t npast;
    /* in memory */
    uint64_t sending_upto; /* a deliver for (fanout, sending_upto] is outstanding */
    uint64_t deliver_corr;
    uint32_t retry_ms;
    uint64_t retry_at_ns;
    uint64_t typing_until_ns;
    uint32_t rcpt_out[2]; /* receipt requests (delivered, read) not answered yet */
    char *devs;           /* its devices (NUL-separated), for checking `bodies`; NULL: unknown */
    uint32_t ndevs;
    uint64_t devs_until_ns; /* the cached list is trusted until then */
    bool dirty;
} member_t;

/* A send in flight: a retry with the same (sender, device, cmid) waits for it. */
typedef struct inflight {
    struct inflight *next;
    uint64_t sender;
    char device[DEVICE_BYTES_MAX + 1];
    char cmid[CONV_CMID_BYTES_MAX + 1];
    uint64_t seq, ts;
    char mid[40];
    roost_env_t *waiters; /* kept requests answered with the first attempt's outcome */
} inflight_t;

typedef struct {
    base_t base;
    char key[CONV_KEY_BYTES_MAX + 1];
    bool group;
    uint64_t lo, hi, gid;
    bool exists; /* direct: both users checked; group: created */
    /* users known to exist, known not to (until a time), and existence checks outstanding */
    uint64_t *known;
    uint32_t nknown, known_cap;
    struct {
        uint64_t user, until_ns;
    } missing[8];
    uint32_t missing_next;
    struct user_check {
        uint64_t user, corr;
        bool devices; /* MSG_DEVICES_GET (else MSG_USER_EXISTS) */
    } * checks;
    uint32_t nchecks, checks_cap;
    bool check_failed;
    roost_env_t *parked, *parked_tail; /* requests waiting for those checks */
    uint64_t head;                     /* last seq assigned */
    uint64_t durable;                  /* last seq durably committed */
    uint64_t fanout_done; /* every member's inbox holds everything up to here (durable) */
    uint64_t era; /* the partition's fence when loaded (base_fence): deliveries carry it, so an
                   * inbox can tell seqs handed out again after a loss (actors/user_inbox.c) */
    bool indexed; /* this conversation is in the partition's unfinished index */
    uint64_t dedupe_checked_ms; /* monotonic time of the last expiry pass over dedupe entries */
    /* direct: who blocks whom */
    bool lo_blocks_hi, hi_blocks_lo;
    /* group settings */
    char name[CONV_NAME_BYTES_MAX + 1];
    uint32_t max_members;
    uint64_t creator;
    char create_cmid[CONV_CMID_BYTES_MAX + 1];
    member_t *members;
    uint32_t nmembers, cap;
    pend_t *pend; /* receipts awaiting their answer */
    inflight_t *inflight;
    uint32_t ninflight;
    bool checkpoint_armed, receipts_armed, typing_armed, fanout_armed;
} conv_t;

/* conv.c */
extern const roost_behaviour_t conv_direct_behaviour; /* kind "d" */
extern const roost_behaviour_t conv_group_behaviour;  /* kind "g" */
member_t *conv_member(conv_t *c, uint64_t user);
/* A current member (not left) who may send, read history, see the members. */
bool conv_is_member(conv_t *c, uint64_t user);
/* Adds a member, or makes a former one a member again: if its fan-out had not reached its
 * removal, what it was owed until then is still delivered first (owed_upto). */
member_t *conv_add_member(conv_t *c, uint64_t user, uint64_t joined, uint8_t role);
/* Whether record seq fell in one of the member's memberships (now or earlier): its inbox may
 * hold it, so it may fetch it. */
bool conv_member_had(const member_t *m, uint64_t seq);
/* The floor of a member's deliveries (user_inbox.c): the seq before its first record. */
uint64_t conv_member_floor(const member_t *m);
void conv_members_free(conv_t *c);
/* Adds the puts of the conversation's small head record (head, fanout_done, blocks). */
void conv_put_head(conv_t *c, store_ops_t *ops);
/* Puts the conversation in its partition's unfinished index (~f/), if not there: after a
 * failover the sweeper wakes it to finish its fan-out and its receipts. */
void conv_put_index(conv_t *c, store_ops_t *ops);
void conv_put_member(conv_t *c, store_ops_t *ops, const member_t *m);
void conv_put_meta(conv_t *c, store_ops_t *ops);
void conv_message_key(const conv_t *c, uint64_t seq, akey_t *k);
/* Reads the record of seq (caller frees *val): ROOST_OK, ROOST_ENOTFOUND (retention removed it)
 * or another error (the disk could not read it: never to be taken for "gone"). */
int conv_read_record(roost_ctx_t *ctx, conv_t *c, uint64_t seq, void **val, size_t *vlen);
void conv_arm(roost_ctx_t *ctx, conv_t *c, int tag, bool *armed, uint64_t ms);

/* conv_send.c */
void conv_on_send(roost_ctx_t *ctx, conv_t *c, creq_t *r, roost_env_t *env);
void conv_on_history(roost_ctx_t *ctx, conv_t *c, creq_t *r, roost_env_t *env);
void conv_on_fetch(roost_ctx_t *ctx, conv_t *c, roost_env_t *env);
/* Stores `record` (already carrying seq = ++c->head) in one batch with the head and `ops`
 * (the caller's other puts, consumed); fn runs once it is durable (or failed), then the
 * fan-out starts. */
void conv_append(roost_ctx_t *ctx, conv_t *c, uint64_t seq, const mp_buf_t *record,
                 store_ops_t *ops, base_fn fn, void *arg);
/* Packs a stored record as the client sees it (msg map without n), for `user`'s `device`. */
void conv_inflight_free(conv_t *c);

/* conv_users.c: do users exist? */
/* True if every one of users is known to exist. Otherwise answers env not_found (one is known
 * not to) or parks it until the checks (MSG_USER_EXISTS) are answered and then handles it
 * again; false either way. */
bool conv_users_exist(roost_ctx_t *ctx, conv_t *c, const uint64_t *users, uint32_t n);
/* `bodies` sends: true once every member's current devices are known (cached for a minute,
 * dropped on MSG_DEVICES_CHANGED); otherwise parks env like conv_users_exist. */
bool conv_devices_known(roost_ctx_t *ctx, conv_t *c);
void conv_on_devices_changed(conv_t *c, const roost_env_t *env);
/* Direct conversations: both users exist (conv_users_exist of lo and hi). */
bool conv_direct_ready(roost_ctx_t *ctx, conv_t *c, const roost_env_t *env);
/* A MSG_USER_EXISTS answer; false if env is not one. */
bool conv_check_answer(roost_ctx_t *ctx, conv_t *c, const roost_env_t *env);
void conv_users_reset(conv_t *c);

/* conv_fanout.c */
void conv_fanout_kick(roost_ctx_t *ctx, conv_t *c);
void conv_fanout_timer(roost_ctx_t *ctx, conv_t *c);
/* A MSG_DELIVER answer. */
bool conv_fanout_answer(roost_ctx_t *ctx, conv_t *c, roost_env_t *env);
void conv_checkpoint(roost_ctx_t *ctx, conv_t *c);
/* conv_receipts.c: whether some watermark's receipts are not yet confirmed stored. */
bool conv_receipts_unsettled(const conv_t *c);

/* conv_receipts.c */
void conv_on_acked(roost_ctx_t *ctx, conv_t *c, roost_env_t *env);
void conv_on_read(roost_ctx_t *ctx, conv_t *c, roost_env_t *env);
void conv_receipts_timer(roost_ctx_t *ctx, conv_t *c);
/* A MSG_RECEIPT answer; false if env is not one. */
bool conv_receipt_answer(roost_ctx_t *ctx, conv_t *c, const roost_env_t *env);
void conv_on_typing(roost_ctx_t *ctx, conv_t *c, creq_t *r, roost_env_t *env);
void conv_typing_timer(roost_ctx_t *ctx, conv_t *c);
void conv_on_block_set(roost_ctx_t *ctx, conv_t *c, roost_env_t *env);

/* group.c */
void group_on_create(roost_ctx_t *ctx, conv_t *c, roost_env_t *env);
/* group.* client requests; false if r->t is not one. */
bool group_on_client(roost_ctx_t *ctx, conv_t *c, creq_t *r, roost_env_t *env);

#endif
