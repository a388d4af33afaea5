/* actors/user.h — the user actor (u:<id>): account, profile, privacy, contacts and blocks,
 * devices with their cursors, the inbox, live sessions, presence. Its files:
 *   user.c           behaviour, the durable layout, loading, dispatch, account requests
 *   user_inbox.c     the inbox: deliver (idempotent on seq), receipts, group events
 *   user_sessions.c  auth/resume, renewals, acks and cursors
 *   user_push.c      pushing the inbox to live sessions
 *   user_presence.c  online/offline, last seen, watchers and their privacy filter, typing relay
 *   user_misc.c      contacts, blocks, privacy, profile, prekeys, reports, group.create, delete
 *   user_admin.c     the operator's requests: the account summary, the role
 */
#ifndef ROOST_ACTORS_USER_H
#define ROOST_ACTORS_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "actors/akey.h"
#include "actors/base.h"
#include "actors/client.h"
#include "actors/hidden.h"
#include "actors/ids.h"
#include "actors/mp.h"
#include "actors/pend.h"
#include "runtime/limits.h"

enum {
    USER_DEVICES_LIMIT = 16, /* the most `messaging.max_devices` may allow */
    USER_DEVICES_DEFAULT = 5,
    USER_SESSIONS_MAX = 16,
    USER_CONTACTS_MAX = 5000,
    USER_NAME_BYTES_MAX = 128,
    USER_STATUS_BYTES_MAX = 256,
    USER_WATCHERS_MAX = 1024,
    USER_SUB_MAX = 100,     /* users per presence.sub */
    USER_WATCHES_MAX = 256, /* users one session watches */
    USER_PUSH_WINDOW = 256, /* events pushed beyond a device's cursor */
    /* … and about this many bytes of them unacknowledged (at least one event): a backlog of
     * large messages must not overflow the edge's send queue of a reader that keeps up */
    USER_PUSH_BYTES = 128 * 1024,
    USER_CACHE_ENTRIES = 128,    /* conversation records kept for pushing */
    USER_SESSION_TTL_MS = 30000, /* default: a registration not renewed this long ends */
    USER_WATCH_TTL_MS = 60000,   /* a presence subscription not renewed */
    USER_TICK_MS = 2500,         /* session expiry, watch renewals, retries */
    USER_WATCH_RENEW_MS = 20000,
    USER_FETCH_BATCH = 64,
    USER_PROBE_MS = 5000, /* an event unacknowledged this long is pushed again (push.h) */
};
/* Positions skipped after a fence (user.c, user_fence_positions): more than an inbox can be
 * given in a sync: none loss window, far below JSON's 2^53. */
#define USER_FENCE_GAP (1ull << 20)
/* … and never below fence << USER_FENCE_BASE_SHIFT, for a user whose "n" went with a loss
 * (fences only grow, 2^16 positions apart at least); fences past USER_FENCE_BASE_MAX would take
 * positions past 2^53, and only jump. */
#define USER_FENCE_BASE_SHIFT 16
#define USER_FENCE_BASE_MAX   (1ull << 37)
#define USER_GAPS_MAX         4 /* gaps remembered; one no walk can reach any more is forgotten */

enum { LS_EVERYONE = 0, LS_CONTACTS = 1, LS_NOBODY = 2 };

/* An account's role: what the operator granted (`roostctl user role`). The RBAC issue gives
 * moderator and admin their powers; until then the role is recorded and shown. */
enum { USER_ROLE_BYTES_MAX = 15 };
#define USER_ROLE_DEFAULT "user"
bool user_role_valid(const char *role, size_t len);

enum { /* pend kinds */
       PEND_READ = 1,
       PEND_BLOCK,
       PEND_GROUP_CREATE,
       PEND_FETCH,
       PEND_ACKED,
       PEND_CONTACT_CHECK,
       PEND_EXPIRED,
       PEND_SUB_CHECK,
};

typedef struct {
    char id[DEVICE_BYTES_MAX + 1];
    uint64_t cursor;  /* last n acknowledged */
    uint64_t from_n;  /* retention moved the cursor: told at the next auth, then 0 */
    uint64_t start_n; /* the head when it was added: it never had entries up to there */
    uint64_t added_ms;
    /* refresh tokens (user_tokens.c): the family's generation, the live and the spent one */
    uint64_t gen;
    uint8_t token[32], spent[32]; /* BLAKE2b of the secrets; zero: none */
} device_t;

typedef struct {
    uint64_t user;
    char name[USER_NAME_BYTES_MAX + 1];
    bool contact, blocked;
} contact_t;

typedef struct {
    char key[ROOST_KEY_BYTES_MAX + 1];
    char device[DEVICE_BYTES_MAX + 1];
    uint64_t expires_ns;
    uint64_t pushed;    /* highest n pushed (or skipped) on this connection */
    uint64_t released;  /* the cursor when inflight was last reduced */
    uint64_t inflight;  /* bytes pushed after `released` (estimated as acks come) */
    uint64_t last_sent; /* n of the last event sent (the next one's `prev`; 0: none yet) */
    uint64_t prev_sent; /* … and the prev it carried, and when it went (the tail probe) */
    uint64_t sent_ns;
    uint32_t fetching; /* record fetches outstanding for it */
    bool stalled;      /* a push could not be queued: retried on the tick */
    bool authed;       /* its auth was answered: pushes may follow */
    uint64_t *watches; /* users it subscribed to */
    uint32_t nwatches;
} session_t;

/* A presence.sub waiting for every named user to be confirmed to exist. */
typedef struct sub_check {
    struct sub_check *next;
    uint64_t tag;
    roost_env_t *req; /* kept */
    char session[ROOST_KEY_BYTES_MAX + 1];
    uint64_t ids[USER_SUB_MAX];
    uint32_t n, waiting;
    uint64_t missing; /* the first id found not to exist */
    bool failed;      /* a check went unanswered */
} sub_check_t;

typedef struct {
    uint64_t user;
    char session[ROOST_KEY_BYTES_MAX + 1];
    uint64_t expires_ns;
} watcher_t;

typedef struct {
    char conv[CONV_KEY_BYTES_MAX + 1];
    uint64_t seq;
    void *rec; /* NULL: known unavailable */
    size_t len;
} cached_t;

typedef struct {
    char conv[CONV_KEY_BYTES_MAX + 1];
    uint64_t last_seq;
    uint64_t era;    /* the conversation's era last_seq belongs to (user_inbox.c) */
    hidden_t hidden; /* senders whose messages this user never received here (hidden.h) */
} conv_seen_t;

/* A one-time prekey handed out whose deletion is not durable yet: the committed state still
 * holds it, and a keys.get meanwhile must not hand it out again. */
typedef struct {
    char device[DEVICE_BYTES_MAX + 1];
    uint64_t id;
} taken_prekey_t;

typedef struct {
    base_t base;
    uint64_t id;
    char id_s[ID_BYTES_MAX + 1];
    char key[ID_BYTES_MAX + 3];
    bool exists, deleted;
    char phone[PHONE_BYTES_MAX + 1];
    uint64_t created_ms;
    char display_name[USER_NAME_BYTES_MAX + 1];
    char status_message[USER_STATUS_BYTES_MAX + 1];
    uint8_t ls_privacy;
    bool read_receipts;
    char role[USER_ROLE_BYTES_MAX + 1];
    device_t *devices; /* grown on demand, up to USER_DEVICES_LIMIT */
    uint32_t ndevices, devices_cap;
    contact_t *contacts;
    uint32_t ncontacts, contacts_cap;
    /* inbox */
    uint64_t next_n;    /* the next position to assign */
    uint64_t durable_n; /* every position up to here is durable (pushable) */
    uint64_t first_n;   /* the lowest position still held */
    uint64_t era;       /* the partition fence the positions follow (user_fence_positions) */
    uint64_t gaps[USER_GAPS_MAX][2]; /* positions [lo, hi) never handed out, ascending */
    uint32_t ngaps;
    bool gap_dirty; /* … not stored yet (u:<id>/fence, with the next "n") */
    uint64_t last_seen_ms;
    conv_seen_t *seen; /* last_seq per conversation, loaded on demand */
    uint32_t nseen, seen_cap;
    /* live */
    session_t sessions[USER_SESSIONS_MAX];
    uint32_t nsessions;
    watcher_t *watchers;
    uint32_t nwatchers, watchers_cap;
    cached_t cache[USER_CACHE_ENTRIES];
    uint32_t cache_next;
    pend_t *pend;
    sub_check_t *sub_checks;
    uint64_t sub_tag;
    bool ticking;
    bool acks_retry;       /* a delivered watermark was not confirmed: resend on the tick */
    taken_prekey_t *taken; /* one-time prekeys handed out, their deletes in flight */
    uint32_t ntaken;
    size_t taken_cap;
    uint64_t last_renew_ns;
} user_t;

/* user.c */
extern const roost_behaviour_t user_behaviour; /* kind "u" */
device_t *user_device(user_t *u, const char *id);
/* A new zeroed device slot (the caller fills it), or NULL at USER_DEVICES_LIMIT or on OOM. */
device_t *user_device_add(user_t *u);
/* The settings' session lifetime (ns) and devices per user, defaults where unset. */
uint64_t user_session_ttl_ns(roost_ctx_t *ctx);
uint32_t user_max_devices(roost_ctx_t *ctx);
contact_t *user_contact(user_t *u, uint64_t user, bool create);
bool user_blocks(const user_t *u, uint64_t other);
/* The main record (profile, privacy, devices, contacts, blocks) into ops. */
void user_put_record(user_t *u, store_ops_t *ops);
void user_put_cursor(user_t *u, store_ops_t *ops, const device_t *d);
/* A be64 value at u:<id>/<table>. */
void user_put_u64(user_t *u, store_ops_t *ops, const char *table, uint64_t v);
/* Puts next_n ("n") and, after a fence, the skipped positions with it. */
void user_put_next(user_t *u, store_ops_t *ops);
/* n, or the first position past the gap n lies in. */
static inline uint64_t user_skip_gap(const user_t *u, uint64_t n)
{
    for (uint32_t i = 0; i < u->ngaps; i++)
        if (n >= u->gaps[i][0] && n < u->gaps[i][1])
            n = u->gaps[i][1];
    return n;
}
/* How many positions of [lo, hi] are in no gap. */
uint64_t user_held_between(const user_t *u, uint64_t lo, uint64_t hi);
void user_ensure_tick(roost_ctx_t *ctx, user_t *u);
/* Answers a kept client request when every write so far is durable (ok, or unavailable). */
void user_ok_after(roost_ctx_t *ctx, user_t *u, roost_env_t *kept);

/* user_inbox.c */
void user_on_deliver(roost_ctx_t *ctx, user_t *u, roost_env_t *env);
void user_on_receipt(roost_ctx_t *ctx, user_t *u, roost_env_t *env);
void user_on_expired(roost_ctx_t *ctx, user_t *u, roost_env_t *env);
/* Sends the `expired` notices recorded but not yet confirmed (u:<id>/e/…). */
int user_send_expired(roost_ctx_t *ctx, user_t *u);
void user_entry_key(const user_t *u, uint64_t n, akey_t *k);
/* The entry at n (caller destroys *up); false if absent or unreadable. */
bool user_read_entry(roost_ctx_t *ctx, user_t *u, uint64_t n, msgpack_unpacked *up);
void user_seen_reset(user_t *u);
/* Packs the senders hidden from this user in conv (hidden.h; an empty list when none or
 * unreadable: the conversation keeps what it was told before). */
void user_pack_hidden(roost_ctx_t *ctx, user_t *u, const char *conv, msgpack_packer *pk);
/* Retention: moves lagging cursors past what is no longer held (from_n tells the device). */
void user_retention(roost_ctx_t *ctx, user_t *u);

/* user_sessions.c */
void user_on_auth(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env);
void user_on_renew(roost_ctx_t *ctx, user_t *u, roost_env_t *env);
/* MSG_SESSION_RESEND: the session lost an event on the way; push again after its n. */
void user_on_resend(roost_ctx_t *ctx, user_t *u, roost_env_t *env);
void user_on_close(roost_ctx_t *ctx, user_t *u, roost_env_t *env);
void user_on_ack(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env);
void user_on_read(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env);

void user_sessions_tick(roost_ctx_t *ctx, user_t *u);
/* A MSG_CONV_FETCH, MSG_ACKED, MSG_EXPIRED or MSG_READ answer. */
bool user_sessions_answer(roost_ctx_t *ctx, user_t *u, pend_t *p, const roost_env_t *env);
session_t *user_session(user_t *u, const char *key);

/* user_push.c */
void user_cache_put(user_t *u, const char *conv, uint64_t seq, const void *rec, size_t len);
void user_push_fetched(roost_ctx_t *ctx, user_t *u, pend_t *p, const roost_env_t *env);
/* Pushes what each session has not seen yet (durable entries only). */
void user_pump(roost_ctx_t *ctx, user_t *u);
/* The tail probe: the last event pushed to s, unacknowledged for USER_PROBE_MS, is pushed
 * again with its own prev — lost on the way with nothing after it, it would never show as a
 * gap; the session drops it if it has it. */
void user_push_probe(roost_ctx_t *ctx, user_t *u, session_t *s);
void user_kick_all(roost_ctx_t *ctx, user_t *u, const char *reason);
/* Resends the delivered watermarks not yet confirmed by their conversations. */
int user_load_pending_acks(roost_ctx_t *ctx, user_t *u);

/* user_presence.c */
void user_on_presence_sub(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env);
/* A MSG_USER_EXISTS answer for a presence.sub; false if p is not one. */
bool user_presence_answer(roost_ctx_t *ctx, user_t *u, pend_t *p, const roost_env_t *env);
void user_sub_checks_free(user_t *u);
void user_on_watch(roost_ctx_t *ctx, user_t *u, roost_env_t *env);
void user_on_unwatch(roost_ctx_t *ctx, user_t *u, roost_env_t *env);
void user_on_relay(roost_ctx_t *ctx, user_t *u, roost_env_t *env);
/* Online ↔ offline: tells every watcher allowed to see it. */
void user_presence_changed(roost_ctx_t *ctx, user_t *u);
void user_unwatch_all(roost_ctx_t *ctx, user_t *u, session_t *s);
void user_watchers_tick(roost_ctx_t *ctx, user_t *u);
void user_renew_watches(roost_ctx_t *ctx, user_t *u);

/* user_tokens.c */
void user_on_token(roost_ctx_t *ctx, user_t *u, roost_env_t *env);
int user_load_tokens(roost_ctx_t *ctx, user_t *u, device_t *d);

/* user_misc.c */
bool user_misc_client(roost_ctx_t *ctx, user_t *u, creq_t *r, roost_env_t *env);
bool user_misc_answer(roost_ctx_t *ctx, user_t *u, pend_t *p, const roost_env_t *env);

/* user_admin.c: MSG_ADMIN_USER_SHOW and MSG_ADMIN_USER_ROLE. */
void user_on_admin(roost_ctx_t *ctx, user_t *u, roost_env_t *env);

#endif
