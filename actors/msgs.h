/* actors/msgs.h — the message types of the messaging actors and their payloads (msgpack).
 * schemas/messaging.md is the documented contract; the edge speaks the first group.
 *
 * Edge → actor (requests; answered MSG_CLIENT_REPLY):
 *   MSG_CLIENT        [user, device, session, frame]  a client request; `frame` is the client's
 *                     map (t and fields, byte strings as bin); `session` the node-local key of
 *                     the connection (pushes go there). The reply payload is the answer frame
 *                     without `rid`: {"t":"ok",…} or {"t":"err","code":…,"msg":…}.
 *                     "auth" (to u:<user>) opens the session: frame {"resume"?}.
 *   MSG_SESSION_RENEW [device, session]  one-way, every 10 s per live session
 *   MSG_SESSION_CLOSE [device, session]  one-way, when the connection ends
 *   MSG_PHONE_CLAIM   [device]  to p:<E.164>: the account of that phone, created on first use,
 *                     with the device registered → reply {"t":"ok","user":…,"created":bool}
 *   MSG_DEVICE_CHECK  [device]  to u:<user>: ok if the device is registered and not revoked
 * Actor → edge session (one-way): MSG_PUSH  a live frame exactly as the client gets it
 *                                            (typing, presence: never resent).
 *                                  MSG_PUSH_EVENT  [prev, frame (bin)]: an inbox event (with
 *                                            its n); prev is the n of the previous event pushed
 *                                            on this session registration (0: the first one).
 *                                            A session that did not get `prev` last has lost
 *                                            one on the way: it drops this one and asks
 *                                            MSG_SESSION_RESEND.
 *                                  MSG_KICK  [code, reason]: close the connection.
 * Edge → actor: MSG_SESSION_RESEND [device, session, n]  one-way: push again after n (the
 *                                            last event that session got in order).
 * Actor → actor: see the handlers (conv_fanout.c, user_inbox.c, group.c, user_presence.c).
 */
#ifndef ROOST_ACTORS_MSGS_H
#define ROOST_ACTORS_MSGS_H

enum {
    MSG_CLIENT = 0x6000,
    MSG_CLIENT_REPLY,
    MSG_SESSION_RENEW,
    MSG_SESSION_CLOSE,
    MSG_PHONE_CLAIM,
    MSG_DEVICE_CHECK,
    MSG_PUSH,
    MSG_KICK,
    MSG_PUSH_EVENT,
    MSG_SESSION_RESEND,
    /* actor → actor */
    MSG_USER_CREATE = 0x6100, /* p → u: [phone, device]; ok, or eexist for another phone */
    MSG_DELIVER,      /* conv → u: [conv, prev, floor, [record…], era?] → [last_seq] */
    MSG_RECEIPT,      /* conv → u: [conv, seq, by, status, ts] → [] */
    MSG_ACKED,        /* u → conv: [user, upto_seq, hidden] delivered watermark → [] durable */
    MSG_CONV_FETCH,   /* u → conv: [user, [seq…]] → [[seq, record | nil (not theirs)]…] */
    MSG_RELAY,        /* conv → u: [frame] push to every live session, store nothing */
    MSG_WATCH,        /* u → u: [watcher, session] presence subscription (lease 60 s) */
    MSG_UNWATCH,      /* u → u: [session] */
    MSG_BLOCK_SET,    /* u → d: [user, blocked(bool)] → [] (recorded before answering) */
    MSG_GROUP_CREATE, /* u → g: [creator, cmid, name, [members…]] → [] or eexist */
    MSG_MEMBER_OF,    /* g/d → u: [conv, member(bool)] the user's list of conversations */
    MSG_FANOUT_WAKE,  /* sweep → conv: resume an unfinished fan-out */
    MSG_USER_EXISTS,  /* → u: [] ok, or enotfound (never created, or deleted) */
    MSG_READ, /* u → conv: [user, seq, receipts(bool), hidden] → [] once durable (hidden.h) */
    MSG_PHONE_RELEASE,   /* u → p: [user] the account is deleted */
    MSG_DEVICES_GET,     /* conv → u: [] → [device…] */
    MSG_DEVICES_CHANGED, /* u → conv: [user] drop the cached device list */
    MSG_EXPIRED,         /* u → u: [conv, seq, user] your message reached none of user's
                          * devices before retention dropped it (one-way) */
    /* edge → actors: accounts and tokens */
    MSG_OTP_REQUEST = 0x6200, /* → p: [] → [code] (6 digits, for the SMS); elimit: 3 an hour */
    MSG_OTP_VERIFY,    /* → p: [code, device] → as MSG_PHONE_CLAIM; eacces: wrong/expired */
    MSG_TOKEN_ISSUE,   /* → u: [device] → [refresh token, gen]: a new token family */
    MSG_TOKEN_REFRESH, /* → u: [device, token] → [new token, gen]; eacces (a spent token
                        * revokes the device's family) */
    MSG_TOKEN_CHECK,   /* → u: [device, gen] → [] or eacces: is that generation current */
    /* operator (roostctl user, through a node's admin bridge) → actors */
    MSG_ADMIN_USER_SHOW = 0x6300, /* → u: [] → {account summary}; enotfound if never created */
    MSG_ADMIN_USER_ROLE,          /* → u: [role or nil] → [old, new]; a new role is durable
                                   * before the answer; einval for an unknown role */
    MSG_PHONE_LOOKUP,             /* → p: [] → [user id]; enotfound (creates nothing) */
};

/* Client error codes (PROTOCOL.md), in precedence order. */
#define CODE_BAD_REQUEST  "bad_request"
#define CODE_UNAUTHORIZED "unauthorized"
#define CODE_FORBIDDEN    "forbidden"
#define CODE_NOT_FOUND    "not_found"
#define CODE_CONFLICT     "conflict"
#define CODE_RATE_LIMITED "rate_limited"
#define CODE_TOO_LARGE    "too_large"
#define CODE_UNAVAILABLE  "unavailable"
#define CODE_INTERNAL     "internal"

#endif
