/* sim/chat.c — see chat.h. Each device is an actor "@<client>:<i>/dev" on the client node (its
 * requests' answers and the actors' pushes come back to it); the world nudges it with
 * MSG_SIM_STEP when its next action is due. One request outstanding per device. */
#include "sim/chat_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actors/client.h"
#include "actors/mp.h"
#include "actors/msgs.h"
#include "actors/push.h"
#include "runtime/errors.h"
#include "runtime/hash.h"
#include "runtime/util.h"
#include "shards/keys.h"
#include "sim/check.h"
#include "sim/world.h"

void chat_violation(sim_chat_t *c, const char *fmt, ...)
{
    char what[sizeof c->first];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (c->violations++ == 0)
        memcpy(c->first, what, sizeof what);
    if (c->verbose) /* every one, as it happens (the report names only the first) */
        fprintf(stderr, "violation: %s\n", what);
}

/* ---- small tables ----------------------------------------------------------------------- */

static bool s_set_add(midset_t *s, uint64_t h) /* false if present */
{
    if ((s->n + 1) * 2 > s->cap) {
        midset_t g = {.cap = s->cap ? s->cap * 2 : 64};
        g.slot = roost_xcalloc(g.cap, sizeof *g.slot);
        for (uint32_t i = 0; i < s->cap; i++)
            if (s->slot[i])
                s_set_add(&g, s->slot[i]);
        free(s->slot);
        *s = g;
    }
    for (uint32_t i = (uint32_t)h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (s->slot[i] == h)
            return false;
        if (!s->slot[i]) {
            s->slot[i] = h;
            s->n++;
            return true;
        }
    }
}

/* M3: one (conversation, seq) is one message wherever it is seen; a conversation is two users
 * (a, b) or a group (its id, 0). Returns its slot. */
static uint32_t s_note_message(sim_chat_t *c, uint64_t a, uint64_t b, uint64_t seq, uint64_t mid)
{
    uint64_t lo = a < b ? a : b, hi = a < b ? b : a;
    if ((c->nmsgs + 1) * 2 > c->msgs_cap) {
        slot_t *old = c->msgs;
        uint32_t old_cap = c->msgs_cap;
        c->msgs_cap = old_cap ? old_cap * 2 : 1024;
        c->msgs = roost_xcalloc(c->msgs_cap, sizeof *c->msgs);
        c->nmsgs = 0;
        for (uint32_t i = 0; i < old_cap; i++)
            if (old[i].mid)
                c->msgs[s_note_message(c, old[i].lo, old[i].hi, old[i].seq, old[i].mid)].at_ns =
                    old[i].at_ns;
        free(old);
    }
    uint64_t key[3] = {lo, hi, seq};
    for (uint32_t i = (uint32_t)roost_hash64(key, sizeof key) & (c->msgs_cap - 1);;
         i = (i + 1) & (c->msgs_cap - 1)) {
        slot_t *s = &c->msgs[i];
        if (!s->mid) {
            *s = (slot_t){.lo = lo, .hi = hi, .seq = seq, .mid = mid, .at_ns = *c->now_ns};
            c->nmsgs++;
            return i;
        }
        if (s->lo == lo && s->hi == hi && s->seq == seq) {
            if (s->mid != mid && b == 0) /* the one seen first may be a lost write's */
                chat_violation_unless_lost(c, chat_conv_part(c, a, 0), s->at_ns,
                                           "g:%llu seq %llu names two different messages",
                                           (unsigned long long)a, (unsigned long long)seq);
            else if (s->mid != mid) /* (a group's key is (id, 0): its partition is g:<id>'s) */
                chat_violation_unless_lost(c, chat_conv_part(c, lo, hi), s->at_ns,
                                           "d:%llu:%llu seq %llu names two different messages",
                                           (unsigned long long)lo, (unsigned long long)hi,
                                           (unsigned long long)seq);
            return i;
        }
    }
}

/* ---- requests ----------------------------------------------------------------------------- */

static uint32_t s_index(roost_ctx_t *ctx)
{
    roost_local_key_t k;
    const char *self = roost_ctx_self(ctx);
    return roost_key_parse_local(self, strlen(self), &k) ? k.partition : 0;
}

/* A client request (frame already packed in f) from device d to target. */
void chat_request(roost_ctx_t *ctx, simdev_t *d, const char *target, const mp_buf_t *f, busy_t kind)
{
    sim_world_t *w = roost_ctx_service(ctx, "sim");
    if (w->chat->edges) /* the session routes it */
        return chat_edge_request(ctx, w, d, f, kind);
    mp_buf_t b;
    mp_buf_init(&b);
    creq_encode(&b, d->user_s, d->dev_id, roost_ctx_self(ctx), f->sb.data, f->sb.size);
    if (roost_ctx_request(ctx, target, MSG_CLIENT, b.sb.data, b.sb.size, REQUEST_TIMEOUT_MS,
                          &d->busy_corr) == ROOST_OK)
        d->busy = kind;
    mp_buf_fini(&b);
}

/* MSG_PHONE_CLAIM of phone i's number for `device`, as the edge sends it after a verified OTP. */
static bool s_send_claim(roost_ctx_t *ctx, uint32_t i, const char *device, uint64_t *corr)
{
    char target[32];
    snprintf(target, sizeof target, "p:+1555%07u", i);
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 1);
    mp_pack_str(&b.pk, device);
    bool sent = roost_ctx_request(ctx, target, MSG_PHONE_CLAIM, b.sb.data, b.sb.size,
                                  REQUEST_TIMEOUT_MS, corr) == ROOST_OK;
    mp_buf_fini(&b);
    return sent;
}

/* A device claims its phone's number; both devices of a phone start at once, so the twin's
 * claim races the first one (either may create the account). */
static void s_claim(roost_ctx_t *ctx, sim_chat_t *c, simdev_t *d)
{
    if (s_send_claim(ctx, chat_phone(c, d), d->dev_id, &d->busy_corr))
        d->busy = BUSY_CLAIM;
}

/* A twin logs in again now and then: a claim of a device the account has (only the answer is
 * checked, M6). */
static void s_relogin(roost_ctx_t *ctx, sim_chat_t *c, simdev_t *d)
{
    if (!d->relogin_pending)
        d->relogin_pending = s_send_claim(ctx, chat_phone(c, d), d->dev_id, &d->relogin_corr);
}

/* M6: every answer for a number names its one user, and no other number names that user. */
static void s_note_claim(sim_chat_t *c, simdev_t *d, uint64_t user)
{
    uint32_t i = chat_phone(c, d);
    simdev_t *phone = &c->dev[i];
    c->claims++;
    if (phone->phone_user != 0 && phone->phone_user != user) /* the account may be lost */
        return chat_violation_unless_lost(c, SIM_ANY_PARTITION, phone->phone_user_ns,
                                          "phone +1555%07u was answered user %llu, then user %llu",
                                          i, (unsigned long long)phone->phone_user,
                                          (unsigned long long)user);
    if (phone->phone_user != 0)
        return;
    for (uint32_t j = 0; j < c->n; j++)
        if (j != i && c->dev[j].phone_user == user) /* the id counter may be lost */
            return chat_violation_unless_lost(c, SIM_ANY_PARTITION, c->dev[j].phone_user_ns,
                                              "phones +1555%07u and +1555%07u are both user %llu",
                                              j, i, (unsigned long long)user);
    phone->phone_user = user;
    phone->phone_user_ns = *c->now_ns;
}

/* The user a claim's answer names (0: an error or no answer). */
static uint64_t s_claimed_user(const roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    mp_str_t t = {0}, user = {0};
    char id[24] = "";
    if (!(env->flags & ROOST_ENV_ERROR) && mp_parse(&up, env->payload, env->payload_len) &&
        mp_get_str(&up.data, "t", 1, 8, &t) == MP_OK && mp_str_eq(t, "ok") &&
        mp_get_str(&up.data, "user", 1, 20, &user) == MP_OK)
        mp_str_copy(user, id, sizeof id);
    msgpack_unpacked_destroy(&up);
    return strtoull(id, NULL, 10);
}

static void s_auth(roost_ctx_t *ctx, simdev_t *d)
{
    sim_world_t *w = roost_ctx_service(ctx, "sim");
    mp_buf_t f;
    mp_buf_init(&f);
    if (w->chat->edges) {
        chat_edge_auth_frame(w, d, &f);
    } else {
        msgpack_pack_map(&f.pk, 1);
        mp_kv_str(&f.pk, "t", "auth");
    }
    chat_request(ctx, d, d->user_key, &f, BUSY_AUTH);
    mp_buf_fini(&f);
}

/* A claimed device logs in: with --edges it first gets a token family (as the edge's HTTP
 * login gives one), then authenticates on its connection with an access token of it. */
static void s_login(roost_ctx_t *ctx, const sim_chat_t *c, simdev_t *d)
{
    if (c->edges && d->token_gen == 0)
        return chat_edge_issue(ctx, d);
    s_auth(ctx, d);
}

/* The conversation a send goes to, and its `to`. */
static void s_target(const sim_chat_t *c, const simdev_t *d, const csend_t *s, char conv[64],
                     char to[32])
{
    if (s->group != NO_GROUP) {
        snprintf(conv, 64, "g:%llu", (unsigned long long)c->groups[s->group].id);
        snprintf(to, 32, "g:%llu", (unsigned long long)c->groups[s->group].id);
    } else {
        chat_conv_key(d, &c->dev[s->to], conv);
        snprintf(to, 32, "u:%s", c->dev[s->to].user_s);
    }
}

static void s_send(roost_ctx_t *ctx, sim_world_t *w, sim_chat_t *c, simdev_t *d, uint32_t k)
{
    csend_t *s = &d->sends[k];
    if (s->issued_ns == 0)
        s->issued_ns = w->now_ns;
    char conv[64], to[32], cmid[16], body[32];
    s_target(c, d, s, conv, to);
    snprintf(cmid, sizeof cmid, "c%u", k);
    int blen = snprintf(body, sizeof body, "m%u.%u", (unsigned)(d - c->dev), k);
    mp_buf_t f;
    mp_buf_init(&f);
    msgpack_pack_map(&f.pk, 5);
    mp_kv_str(&f.pk, "t", "send");
    mp_kv_str(&f.pk, "to", to);
    mp_kv_str(&f.pk, "cmid", cmid);
    mp_kv_str(&f.pk, "kind", "text");
    mp_pack_str(&f.pk, "body");
    mp_pack_bin(&f.pk, body, (size_t)blen);
    chat_request(ctx, d, conv, &f, BUSY_SEND);
    d->busy_send = k;
    mp_buf_fini(&f);
}

/* The next message's destination: a created group of this device (a third of the time) or a
 * random other phone; false if the pick is not usable now. */
static bool s_pick(sim_world_t *w, const sim_chat_t *c, uint32_t i, csend_t *out)
{
    *out = (csend_t){.group = NO_GROUP};
    if (c->ngroups && roost_rng_below(&w->rng, 3) == 0) {
        uint32_t start = (uint32_t)roost_rng_below(&w->rng, c->ngroups);
        for (uint32_t k = 0; k < c->ngroups; k++) {
            uint32_t g = (start + k) % c->ngroups;
            if (c->groups[g].id != 0 && chat_member_now(&c->groups[g], i)) {
                out->group = g;
                return true;
            }
        }
    }
    out->to = (uint32_t)roost_rng_below(&w->rng, c->n);
    return out->to != i && c->dev[out->to].state == DEV_ACTIVE;
}

static void s_ack(roost_ctx_t *ctx, simdev_t *d)
{
    mp_buf_t f;
    mp_buf_init(&f);
    msgpack_pack_map(&f.pk, 2);
    mp_kv_str(&f.pk, "t", "recv.ack");
    mp_kv_u64(&f.pk, "n", d->last_n);
    chat_request(ctx, d, d->user_key, &f, BUSY_ACK);
    d->busy_n = d->last_n;
    mp_buf_fini(&f);
}

static void s_read(roost_ctx_t *ctx, sim_chat_t *c, simdev_t *d, uint32_t peer)
{
    char conv[64];
    chat_conv_key(d, &c->dev[peer], conv);
    mp_buf_t f;
    mp_buf_init(&f);
    msgpack_pack_map(&f.pk, 3);
    mp_kv_str(&f.pk, "t", "read");
    mp_kv_str(&f.pk, "conv", conv);
    mp_kv_u64(&f.pk, "seq", d->last_seq[peer]);
    d->read_upto[peer] = d->last_seq[peer]; /* claimed now, whatever the answer */
    chat_request(ctx, d, d->user_key, &f, BUSY_READ);
    mp_buf_fini(&f);
}

/* A conversation with unread messages, if the seed says the phone reads now. */
static bool s_maybe_read(roost_ctx_t *ctx, sim_world_t *w, sim_chat_t *c, simdev_t *d)
{
    if (roost_rng_below(&w->rng, 4) != 0)
        return false;
    uint32_t start = (uint32_t)roost_rng_below(&w->rng, c->n);
    for (uint32_t k = 0; k < c->n; k++) {
        uint32_t peer = (start + k) % c->n;
        if (d->last_seq[peer] > d->read_upto[peer]) {
            s_read(ctx, c, d, peer);
            return true;
        }
    }
    return false;
}

static void s_renew(roost_ctx_t *ctx, sim_world_t *w, simdev_t *d)
{
    d->renew_ns = w->now_ns + RENEW_NS;
    if (w->chat->edges) /* the session renews its registration itself */
        return;
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 2);
    mp_pack_str(&b.pk, d->dev_id);
    mp_pack_str(&b.pk, roost_ctx_self(ctx));
    roost_ctx_send(ctx, d->user_key, MSG_SESSION_RENEW, b.sb.data, b.sb.size);
    mp_buf_fini(&b);
}

/* The twin's next action: claim, auth, renew (now and then logging in again), ack. */
static void s_twin_step(roost_ctx_t *ctx, sim_world_t *w, sim_chat_t *c, simdev_t *d)
{
    if (d->state == DEV_NEW)
        return s_claim(ctx, c, d);
    if (d->state == DEV_CLAIMED)
        return s_login(ctx, c, d);
    if (w->now_ns >= d->renew_ns) {
        s_renew(ctx, w, d);
        if (roost_rng_below(&w->rng, 3) == 0)
            s_relogin(ctx, c, d);
    }
    if (d->last_n > d->acked_n)
        s_ack(ctx, d);
}

/* The device's next action: claim, auth, renew, ack, resend or send anew. */
static void s_step(roost_ctx_t *ctx, sim_world_t *w, sim_chat_t *c, uint32_t i)
{
    simdev_t *d = &c->dev[i];
    if (d->busy != BUSY_NONE)
        return;
    if (d->hang_up)
        chat_edge_hang_up(ctx, w, d);
    if (chat_is_twin(c, d))
        return s_twin_step(ctx, w, c, d);
    if (d->state == DEV_NEW)
        return s_claim(ctx, c, d);
    if (d->state == DEV_CLAIMED)
        return s_login(ctx, c, d);
    if (w->now_ns >= d->renew_ns)
        s_renew(ctx, w, d);
    if (d->last_n > d->acked_n)
        return s_ack(ctx, d);
    if (s_maybe_read(ctx, w, c, d) || chat_maybe_keys(ctx, w, c, i))
        return;
    if (chat_maybe_move(ctx, w, c, i) || chat_maybe_leave(ctx, w, c, i) ||
        chat_maybe_role(ctx, w, c, i) || chat_maybe_block(ctx, w, c, i))
        return;
    while (d->first_unacked < d->nsends &&
           (d->sends[d->first_unacked].acked || d->sends[d->first_unacked].refused))
        d->first_unacked++;
    if (d->first_unacked < d->nsends)
        return s_send(ctx, w, c, d, d->first_unacked);
    uint32_t g = chat_group_to_create(c, i);
    if (g != NO_GROUP)
        return chat_create_group(ctx, c, d, g);
    csend_t next;
    if (d->nsends >= c->sends_each || !w->writing || w->now_ns < d->next_send_ns ||
        !s_pick(w, c, i, &next))
        return;
    d->next_send_ns = w->now_ns + SEND_GAP_MIN_NS + roost_rng_below(&w->rng, SEND_GAP_MIN_NS * 9);
    d->sends[d->nsends++] = next;
    s_send(ctx, w, c, d, d->nsends - 1);
}

/* ---- answers and pushes ------------------------------------------------------------------- */

static void s_sent(sim_world_t *w, sim_chat_t *c, simdev_t *d, const msgpack_object *frame)
{
    csend_t *s = &d->sends[d->busy_send];
    uint64_t first_ok_ns = s->acked ? s->answered_ns : w->now_ns;
    s->answered_ns = first_ok_ns;
    mp_str_t mid;
    uint64_t seq = 0;
    if (mp_get_str(frame, "mid", 1, 64, &mid) != MP_OK || mp_get_u64(frame, "seq", &seq) != MP_OK)
        return chat_violation(c, "a send's ok has no mid or seq");
    uint64_t h = chat_mid_hash(mid);
    if (s->acked && (s->mid != h || s->seq != seq)) /* its dedupe record may be lost */
        chat_violation_unless_lost(c, chat_send_part(c, d, s), first_ok_ns,
                                   "device %u cmid c%u answered two messages (seq %llu, then %llu)",
                                   (unsigned)(d - c->dev), d->busy_send, (unsigned long long)s->seq,
                                   (unsigned long long)seq);
    s->acked = true;
    s->mid = h;
    s->seq = seq;
    if (s->group != NO_GROUP) /* (a group's messages: its id and 0 for the user pair) */
        s_note_message(c, c->groups[s->group].id, 0, seq, h);
    else
        s_note_message(c, d->user, c->dev[s->to].user, seq, h);
}

static void s_send_failed(sim_world_t *w, sim_chat_t *c, simdev_t *d, const msgpack_object *frame)
{
    csend_t *s = &d->sends[d->busy_send];
    mp_str_t code = chat_err_code(frame);
    bool refused = false;
    if (mp_str_eq(code, "not_found") && chat_account_lost(w, c, d, s))
        refused = true;
    else if (s->group != NO_GROUP && mp_str_eq(code, "forbidden") &&
             c->dev[chat_phone(c, d)].user_changed_ns >= c->groups[s->group].created_ns)
        refused = true; /* its phone has a new user since the group began: not a member */
    else if (s->group == NO_GROUP || !mp_str_eq(code, "forbidden"))
        return;
    const cgroup_t *g = s->group == NO_GROUP ? NULL : &c->groups[s->group];
    uint32_t i = (uint32_t)(d - c->dev);
    char gkey[32];
    if (g)
        snprintf(gkey, sizeof gkey, "g:%llu", (unsigned long long)g->id);
    if (!refused && chat_entitled(g, chat_slot(g, i), s->issued_ns, w->now_ns) == ENT_YES &&
        !chat_lost_since(w, c, gkey, g->created_ns)) /* (its membership may be lost) */
        return chat_violation(c, "device %u c%u to group %u: refused while a member", i,
                              d->busy_send, s->group);
    s->refused = true;
    s->answered_ns = w->now_ns;
}

static void s_answer(sim_world_t *w, sim_chat_t *c, simdev_t *d, const roost_env_t *env)
{
    busy_t kind = d->busy;
    d->busy = BUSY_NONE;
    d->next_ns = w->now_ns + 1000000 + roost_rng_below(&w->rng, 5000000);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    mp_str_t t = {0};
    bool ok = !(env->flags & ROOST_ENV_ERROR) && mp_parse(&up, env->payload, env->payload_len) &&
              mp_get_str(&up.data, "t", 1, 8, &t) == MP_OK && mp_str_eq(t, "ok");
    mp_str_t user;
    if (!ok && kind == BUSY_GROUP && mp_str_eq(chat_err_code(&up.data), "not_found"))
        chat_group_not_created(w, c, d->busy_send);
    /* Its session or device record may be gone with a loss: as an app would, it starts over
     * when its login or an ack fails, or when any request is answered `unauthorized`. */
    if (!ok && kind != BUSY_CLAIM &&
        (kind == BUSY_AUTH || kind == BUSY_ACK ||
         mp_str_eq(chat_err_code(&up.data), "unauthorized")) &&
        chat_lost_since(w, c, d->user_key, d->claimed_ns))
        chat_start_over(c, d, mp_str_eq(chat_err_code(&up.data), "unauthorized"));
    if (ok && kind == BUSY_CLAIM && mp_get_str(&up.data, "user", 1, 20, &user) == MP_OK) {
        uint64_t before = d->user;
        mp_str_copy(user, d->user_s, sizeof d->user_s);
        d->user = strtoull(d->user_s, NULL, 10);
        s_note_claim(c, d, d->user);
        /* The phone's user changed — unless its other device learned this user first: the
         * twin catching up must not make the devices forget what they did as it (found with
         * blackouts, session 21: a reader's reads of the new user's messages were forgotten,
         * and its receipt then looked like a read it never said). */
        simdev_t *first = &c->dev[chat_phone(c, d)];
        if (before && before != d->user && d->user != first->account)
            chat_user_changed(c, chat_phone(c, d), before);
        first->account = d->user;
        if (!d->claimed_ns)
            d->claimed_ns = w->now_ns;
        snprintf(d->user_key, sizeof d->user_key, "u:%s", d->user_s);
        d->state = DEV_CLAIMED;
    } else if (!ok && kind == BUSY_AUTH && c->edges) {
        d->token_gen = 0; /* its family may be gone (revoked, or lost): a new one */
    } else if (ok && kind == BUSY_AUTH) {
        d->state = DEV_ACTIVE;
        d->renew_ns = w->now_ns + RENEW_NS;
    } else if (ok && kind == BUSY_SEND) {
        s_sent(w, c, d, &up.data);
    } else if (kind == BUSY_SEND) {
        s_send_failed(w, c, d, &up.data);
    } else if (kind == BUSY_BLOCK) {
        chat_blocked_answer(w, c, d, ok);
    } else if (kind == BUSY_MOVE) {
        chat_moved(w, c, d, ok, &up.data);
    } else if (kind == BUSY_LEAVE) {
        chat_left(w, c, d, ok, &up.data);
    } else if (kind == BUSY_ROLE) {
        chat_role_answer(c, d, ok);
    } else if (kind == BUSY_KEYS_PUT || kind == BUSY_KEYS_GET) {
        chat_keys_answer(w, c, d, kind, ok, &up.data);
    } else if (ok && kind == BUSY_GROUP && mp_get_str(&up.data, "group", 1, 20, &user) == MP_OK) {
        char id[24];
        mp_str_copy(user, id, sizeof id);
        c->groups[d->busy_send].id = strtoull(id, NULL, 10);
        c->groups[d->busy_send].created_ns = w->now_ns;
    } else if (ok && kind == BUSY_ACK && d->busy_n > d->acked_n) {
        d->acked_n = d->busy_n;
    }
    msgpack_unpacked_destroy(&up);
}

static uint32_t s_device_of(const sim_chat_t *c, uint64_t user)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (c->dev[i].user == user)
            return i;
    return UINT32_MAX;
}

/* The other user of direct conversation conv ("d:<lo>:<hi>") than me (0: not one). */
static uint64_t s_conv_other(mp_str_t conv, uint64_t me)
{
    char key[64];
    unsigned long long lo = 0, hi = 0;
    if (!mp_str_copy(conv, key, sizeof key) || sscanf(key, "d:%llu:%llu", &lo, &hi) != 2)
        return 0;
    return lo == me ? hi : lo;
}

/* The edge's part (push.h): an event out of order is dropped and a resend asked. True if the
 * event is to be taken (its frame parsed into *fr). */
static bool s_edge_takes(roost_ctx_t *ctx, simdev_t *d, const roost_env_t *env,
                         msgpack_unpacked *fr, push_verdict_t *verdict)
{
    msgpack_unpacked ev;
    msgpack_unpacked_init(&ev);
    const msgpack_object *a = &ev.data;
    uint64_t prev = 0, n = 0;
    bool take = false;
    if (mp_parse(&ev, env->payload, env->payload_len) && a->type == MSGPACK_OBJECT_ARRAY &&
        a->via.array.size == 2 && mp_as_u64(&a->via.array.ptr[0], &prev) &&
        a->via.array.ptr[1].type == MSGPACK_OBJECT_BIN &&
        mp_parse(fr, a->via.array.ptr[1].via.bin.ptr, a->via.array.ptr[1].via.bin.size) &&
        mp_get_u64(&fr->data, "n", &n) == MP_OK) {
        push_verdict_t v = push_verdict(d->last_n, prev, n);
        *verdict = v;
        take = v == PUSH_IN_ORDER;
        if (v == PUSH_GAP) {
            mp_buf_t b;
            mp_buf_init(&b);
            msgpack_pack_array(&b.pk, 3);
            mp_pack_str(&b.pk, d->dev_id);
            mp_pack_str(&b.pk, roost_ctx_self(ctx));
            msgpack_pack_uint64(&b.pk, d->last_n);
            roost_ctx_send(ctx, d->user_key, MSG_SESSION_RESEND, b.sb.data, b.sb.size);
            mp_buf_fini(&b);
        }
    }
    msgpack_unpacked_destroy(&ev);
    return take;
}

/* M5: receipts never go backwards, a `delivered` one covers only messages its reader's device
 * has, a `read` one only what the reader said it read. */
/* The group a conversation key names ("g:<id>"), NO_GROUP for a direct one (or an unknown). */
static uint32_t s_group_of(const sim_chat_t *c, mp_str_t conv)
{
    if (conv.len < 3 || conv.ptr[0] != 'g')
        return NO_GROUP;
    uint64_t id = strtoull(conv.ptr + 2, NULL, 10);
    for (uint32_t g = 0; g < c->ngroups; g++)
        if (c->groups[g].id == id)
            return g;
    return NO_GROUP;
}

/* A receipt in a group: phones never read groups, and a `delivered` one covers only this
 * device's messages there that the reader's device has. */
static void s_group_receipt(sim_chat_t *c, simdev_t *d, uint32_t g, uint32_t reader, int kind,
                            uint64_t seq)
{
    uint32_t self = (uint32_t)(d - c->dev);
    const simdev_t *owner = &c->dev[chat_phone(c, d)]; /* whose sends the receipt is about */
    if (kind)
        return chat_violation(c, "device %u: a read receipt by %u in group %u nobody read", self,
                              reader, g);
    for (uint32_t k = 0; k < owner->nsends; k++) {
        const csend_t *s = &owner->sends[k];
        if (s->group != g || !s->acked || s->seq > seq ||
            chat_entitled(&c->groups[g], chat_slot(&c->groups[g], reader), s->issued_ns,
                          s->answered_ns) != ENT_YES ||
            chat_phone_has(c, reader, s->mid))
            continue;
        chat_violation_unless_lost(/* s may be lost, and its seq reused */
                                   c, SIM_ANY_PARTITION, s->answered_ns,
                                   "device %u: delivered up to seq %llu in group %u by %u, which "
                                   "lacks %llu",
                                   self, (unsigned long long)seq, g, reader,
                                   (unsigned long long)s->seq);
        chat_suspect_or_lost_since(c, chat_user_part(c, &c->dev[reader]), /* positions reused */
                                   c->dev[reader].claimed_ns);
    }
}

static void s_receipt(sim_chat_t *c, simdev_t *d, const msgpack_object *frame)
{
    mp_str_t by, status, conv;
    uint64_t seq = 0;
    if (mp_get_str(frame, "by", 1, 20, &by) != MP_OK ||
        mp_get_str(frame, "status", 1, 16, &status) != MP_OK ||
        mp_get_str(frame, "conv", 1, 64, &conv) != MP_OK || mp_get_u64(frame, "seq", &seq) != MP_OK)
        return chat_violation(c, "a receipt without by, status, conv or seq");
    uint32_t reader = s_device_of(c, strtoull(by.ptr, NULL, 10));
    int kind = mp_str_eq(status, "read");
    uint32_t self = (uint32_t)(d - c->dev), g = s_group_of(c, conv);
    const simdev_t *owner = &c->dev[chat_phone(c, d)]; /* whose sends the receipt is about */
    if (reader == UINT32_MAX && chat_former_user(c, strtoull(by.ptr, NULL, 10)))
        return; /* by an account its phone lost (and claimed anew): nothing to judge it by */
    if (reader == UINT32_MAX)
        return chat_violation(c, "device %u got a receipt by an unknown user", self);
    c->receipts++;
    if (g != NO_GROUP)
        return s_group_receipt(c, d, g, reader, kind, seq);
    if (d->user != owner->account)
        return; /* to a device still on an account its phone has left (the devices' memory of
                 * its conversations went with the change): nothing to judge it by */
    if (seq < d->rcpt[kind][reader]) /* the receipt record may be lost */
        chat_violation_unless_lost(
            c, SIM_ANY_PARTITION, d->rcpt_ns[kind][reader],
            "device %u: a %.*s receipt by %u went back from seq %llu to %llu", self,
            (int)status.len, status.ptr, reader, (unsigned long long)d->rcpt[kind][reader],
            (unsigned long long)seq);
    d->rcpt[kind][reader] = seq;
    d->rcpt_ns[kind][reader] = *c->now_ns;
    uint32_t phone = chat_phone(c, d);
    if (kind && seq > c->dev[reader].read_upto[phone])
        chat_violation(c, "device %u: %u read up to seq %llu by a receipt, but said only %llu",
                       self, reader, (unsigned long long)seq,
                       (unsigned long long)c->dev[reader].read_upto[phone]);
    for (uint32_t k = 0; !kind && k < owner->nsends; k++) {
        const csend_t *s = &owner->sends[k];
        if (s->group != NO_GROUP || s->to != reader || !s->acked || s->seq > seq ||
            chat_phone_has(c, reader, s->mid))
            continue;
        chat_violation_unless_lost(
            c, SIM_ANY_PARTITION, s->answered_ns,
            "device %u: delivered up to seq %llu by %u, which lacks seq %llu", self,
            (unsigned long long)seq, reader, (unsigned long long)s->seq);
        chat_suspect_or_lost_since(c, chat_user_part(c, &c->dev[reader]), /* positions reused */
                                   c->dev[reader].claimed_ns);
    }
}

/* An event the device's connection delivered in order: its position, a receipt, a message. */
static void s_event(sim_chat_t *c, simdev_t *d, const msgpack_object *frame)
{
    mp_str_t t, mid, from, conv;
    uint64_t n = 0, seq = 0;
    if (mp_get_str(frame, "t", 1, 16, &t) != MP_OK)
        return;
    if (mp_get_u64(frame, "n", &n) == MP_OK && n <= d->last_n) {
        chat_note_reused(c, d, frame); /* (--edges: a new connection resends from the cursor;
                                        * a client keeps what it has by position) */
        return;
    }
    if (n > d->last_n) {
        d->last_n = n;
        d->last_n_ns = *c->now_ns;
        chat_note_position(c, d, n);
    }
    if (mp_str_eq(t, "receipt"))
        s_receipt(c, d, frame);
    if (!mp_str_eq(t, "msg") || mp_get_str(frame, "mid", 1, 64, &mid) != MP_OK ||
        mp_get_u64(frame, "seq", &seq) != MP_OK ||
        mp_get_str(frame, "from", 1, 20, &from) != MP_OK ||
        mp_get_str(frame, "conv", 1, 64, &conv) != MP_OK)
        return;
    uint64_t sender = strtoull(from.ptr, NULL, 10), h = chat_mid_hash(mid);
    uint32_t g = s_group_of(c, conv);
    /* the other party of a direct conversation: the sender, or (a twin getting its own
     * user's message) the recipient */
    uint64_t other = g == NO_GROUP && sender == d->user ? s_conv_other(conv, d->user) : sender;
    uint32_t peer = s_device_of(c, other);
    if (peer == UINT32_MAX && chat_former_user(c, other)) {
        s_set_add(&d->seen, h); /* with an account its phone lost: no order to judge it by */
        return;
    }
    if (peer == UINT32_MAX) {
        chat_violation(c, "device %u got a message with an unknown user %llu in %.*s",
                       (unsigned)(d - c->dev), (unsigned long long)other, (int)conv.len, conv.ptr);
        return;
    }
    if (g != NO_GROUP)
        s_note_message(c, c->groups[g].id, 0, seq, h);
    else
        s_note_message(c, d->user, c->dev[peer].user, seq, h);
    if (!s_set_add(&d->seen, h)) {
        d->duplicates++; /* a resend after a reconnect or failover: deduped by mid */
        return;
    }
    uint64_t *last = g != NO_GROUP ? &d->gseq[g] : &d->last_seq[peer];
    uint64_t *last_ns = g != NO_GROUP ? &d->gseq_ns[g] : &d->last_seq_ns[peer];
    if (seq <= *last) { /* the last may be a lost write's */
        uint32_t part = roost_partition_of(conv.ptr, conv.len, c->partitions);
        chat_violation_unless_lost(c, part, *last_ns,
                                   "device %u saw seq %llu of %.*s after seq %llu",
                                   (unsigned)(d - c->dev), (unsigned long long)seq, (int)conv.len,
                                   conv.ptr, (unsigned long long)*last);
        /* or the conversation lost its history since: its seqs are handed out again, and since
         * session 13 its new era delivers them (seed 1496) */
        chat_suspect_or_lost_since(c, part, d->claimed_ns);
    } else {
        *last = seq;
        *last_ns = *c->now_ns;
    }
}

static void s_push(roost_ctx_t *ctx, sim_chat_t *c, simdev_t *d, const roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    push_verdict_t verdict = PUSH_GAP;
    if (s_edge_takes(ctx, d, env, &up, &verdict))
        s_event(c, d, &up.data);
    else if (verdict == PUSH_DUPLICATE)
        chat_note_reused(c, d, &up.data);
    msgpack_unpacked_destroy(&up);
}

/* --edges: a frame from the device's session: the answer it waits for (by rid), or an event
 * (the session forwarded it in order). */
static void s_frame(sim_world_t *w, sim_chat_t *c, simdev_t *d, const roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    uint64_t rid = 0;
    if (!mp_parse(&up, env->payload, env->payload_len) || up.data.type != MSGPACK_OBJECT_MAP) {
        chat_violation(c, "device %u: a frame from its session is not a map",
                       (unsigned)(d - c->dev));
    } else if (!chat_edge_rid(&up.data, &rid)) {
        s_event(c, d, &up.data);
    } else if (d->busy != BUSY_NONE && d->busy != BUSY_CLAIM && rid == d->busy_corr) {
        roost_env_t answer = {.payload = env->payload, .payload_len = env->payload_len};
        s_answer(w, c, d, &answer);
    }
    msgpack_unpacked_destroy(&up);
}

/* --edges: a token family issued, or refused: a device whose record (or whose whole account)
 * went with a loss registers again, as an app refused a login would. */
static void s_issued(sim_world_t *w, sim_chat_t *c, simdev_t *d, const roost_env_t *env)
{
    if (!chat_edge_issued(d, env) &&
        (env->status == ROOST_EACCES || env->status == ROOST_ENOTFOUND) &&
        chat_lost_since(w, c, d->user_key, d->claimed_ns))
        chat_start_over(c, d, true);
}

static void s_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    sim_world_t *w = roost_ctx_service(ctx, "sim");
    sim_chat_t *c = w->chat;
    uint32_t i = s_index(ctx);
    if (!c || i >= 2 * c->n)
        return;
    simdev_t *d = &c->dev[i];
    if (env->flags & ROOST_ENV_RESPONSE) {
        if (d->busy == BUSY_TOKEN && env->corr == d->busy_corr) {
            d->busy = BUSY_NONE;
            d->next_ns = w->now_ns + 1000000 + roost_rng_below(&w->rng, 5000000);
            s_issued(w, c, d, env);
        } else if (d->busy != BUSY_NONE && env->corr == d->busy_corr) {
            s_answer(w, c, d, env);
        } else if (d->relogin_pending && env->corr == d->relogin_corr) {
            d->relogin_pending = false;
            uint64_t user = s_claimed_user(env);
            if (user != 0)
                s_note_claim(c, d, user);
        }
    } else if (env->type == MSG_SIM_STEP) {
        s_step(ctx, w, c, i);
    } else if (env->type == MSG_PUSH_EVENT) {
        s_push(ctx, c, d, env);
    } else if (env->type == MSG_SIM_FRAME) {
        s_frame(w, c, d, env);
    } else if (env->type == MSG_SIM_CLOSED) {
        chat_edge_closed(c, d, env);
    }
}

const roost_behaviour_t sim_device_behaviour = {.kind = "@dev", .on_message = s_message};
