/* sim/chat_loss.c — the phones under sync: none: the violations a write lost inside the
 * store's loss window would explain are held as suspects and judged at the end of the run
 * (chat_check.c), and a device whose records went with such a loss starts over as an app
 * would (see suspect_t in chat_internal.h, docs/simulation.md "Checkers"). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/hash.h"
#include "runtime/util.h"
#include "sim/chat_internal.h"
#include "sim/check.h"
#include "sim/world.h"

uint32_t chat_conv_part(const sim_chat_t *c, uint64_t lo, uint64_t hi)
{
    char key[64];
    int n = hi ? snprintf(key, sizeof key, "d:%llu:%llu", (unsigned long long)(lo < hi ? lo : hi),
                          (unsigned long long)(lo < hi ? hi : lo))
               : snprintf(key, sizeof key, "g:%llu", (unsigned long long)lo);
    return roost_partition_of(key, (size_t)n, c->partitions);
}

/* The partition of device d's user (its inbox, devices and account). */
uint32_t chat_send_part(const sim_chat_t *c, const simdev_t *d, const csend_t *s)
{
    return s->group != NO_GROUP ? chat_conv_part(c, c->groups[s->group].id, 0)
                                : chat_conv_part(c, d->user, c->dev[s->to].user);
}

uint32_t chat_user_part(const sim_chat_t *c, const simdev_t *d)
{
    return roost_partition_of(d->user_key, strlen(d->user_key), c->partitions);
}

void chat_suspect_or_lost_since(sim_chat_t *c, uint32_t part, uint64_t since_ns)
{
    if (!c->held)
        return;
    c->suspects[c->nsuspects - 1].or_part = part;
    c->suspects[c->nsuspects - 1].or_since_ns = since_ns;
}

void chat_violation_unless_lost(sim_chat_t *c, uint32_t part, uint64_t at_ns, const char *fmt, ...)
{
    c->held = false;
    char what[sizeof c->suspects->what];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (!c->may_lose)
        return chat_violation(c, "%s", what);
    if (c->nsuspects == c->suspects_cap) {
        c->suspects_cap = c->suspects_cap ? 2 * c->suspects_cap : 64;
        c->suspects = roost_xrealloc(c->suspects, c->suspects_cap * sizeof *c->suspects);
    }
    suspect_t *s = &c->suspects[c->nsuspects++];
    s->at_ns = at_ns;
    s->part = part;
    s->or_part = SIM_NO_PARTITION;
    c->held = true;
    memcpy(s->what, what, sizeof what);
}

/* A group send answered `forbidden` is refused for good: only right if its sender was out of
 * the group at some point since it first sent it. Anything else is tried again. */
/* Under sync: none: whether the partition of key lost writes since `since` (check.h). */
bool chat_lost_since(const sim_world_t *w, const sim_chat_t *c, const char *key, uint64_t since)
{
    return c->may_lose &&
           sim_partition_lost_since(w, roost_partition_of(key, strlen(key), c->partitions), since);
}

/* `not_found` for a send: only right under sync: none, once the sender's or the recipient's
 * account went with a loss (then the send is refused for good: nobody is there to get it). */
bool chat_account_lost(const sim_world_t *w, const sim_chat_t *c, const simdev_t *d,
                       const csend_t *s)
{
    const simdev_t *to = s->group == NO_GROUP ? &c->dev[s->to] : NULL;
    return chat_lost_since(w, c, d->user_key, d->claimed_ns) ||
           (to && chat_lost_since(w, c, to->user_key, to->claimed_ns));
}

/* Under sync: none, a device whose user's partition lost writes since it claimed may find
 * its registration gone (`unauthorized`: it registers again, as an app would) or its inbox
 * behind the positions it holds (its acks refused): it starts over from the inbox as it is. */
void chat_start_over(sim_chat_t *c, simdev_t *d, bool unregistered)
{
    if (unregistered)
        d->state = DEV_NEW;
    d->keys_put = false;   /* its bundle may have gone too: put again (new prekey ids) */
    d->hang_up = c->edges; /* and on a new connection */
    d->token_gen = 0;
    d->last_n = d->acked_n = 0; /* and it sees the inbox again from its start: */
    for (uint32_t p = 0; p < c->n; p++)
        d->last_seq[p] = d->rcpt[0][p] = d->rcpt[1][p] = 0;
    for (uint32_t g = 0; g < c->ngroups; g++)
        d->gseq[g] = 0;
    c->restarts++;
}

/* A phone whose account went with a loss was answered a new user on its next claim (M6 holds
 * that to the loss window): its conversations are new ones, so what the devices remember of
 * the old ones (seqs seen, receipts, reads) no longer constrains what comes. */
void chat_user_changed(sim_chat_t *c, uint32_t phone, uint64_t before)
{
    simdev_t *first = &c->dev[phone];
    first->former[first->nformer++ % 4] = before;
    first->user_changed_ns = *c->now_ns; /* its groups had the old user: it is out of them */
    first->keys_put = false;             /* the new account has no bundle */
    for (uint32_t x = 0; x < 2 * c->n; x++) {
        simdev_t *o = &c->dev[x];
        bool own = chat_phone(c, o) == phone;
        for (uint32_t p = 0; p < c->n; p++) {
            if (!own && p != phone)
                continue;
            o->last_seq[p] = o->read_upto[p] = o->rcpt[0][p] = o->rcpt[1][p] = 0;
        }
    }
}

bool chat_former_user(const sim_chat_t *c, uint64_t user)
{
    for (uint32_t i = 0; i < c->n; i++)
        for (uint32_t k = 0; k < 4 && k < c->dev[i].nformer; k++)
            if (c->dev[i].former[k] == user)
                return true;
    return false;
}

/* Under sync: none, when the device first took each position (for the report of one handed
 * out again, below). */
void chat_note_position(sim_chat_t *c, simdev_t *d, uint64_t n)
{
    if (!c->may_lose || n > 1000000)
        return;
    d->n_ns = roost_xgrow_zeroed(d->n_ns, &d->n_ns_cap, sizeof *d->n_ns, n);
    if (!d->n_ns[n])
        d->n_ns[n] = *c->now_ns;
}

/* A position the device took already, again, with a message it never saw: the inbox handed
 * it out twice. Under sync: none a user loaded after a loss jumps its positions past what
 * devices may hold (docs/store.md, "Sync policy"), also one whose record went with the loss
 * (since session 14): no excuse. */
void chat_note_reused(sim_chat_t *c, simdev_t *d, const msgpack_object *frame)
{
    mp_str_t t, mid;
    uint64_t n = 0;
    if (mp_get_str(frame, "t", 1, 16, &t) != MP_OK || !mp_str_eq(t, "msg") ||
        mp_get_str(frame, "mid", 1, 64, &mid) != MP_OK || mp_get_u64(frame, "n", &n) != MP_OK ||
        chat_set_has(&d->seen, chat_mid_hash(mid)))
        return;
    /* when it first took n, or the position below it that it took last (n itself may have
     * been skipped: its own message) */
    uint64_t first_ns = d->last_n_ns;
    for (uint64_t k = n < d->n_ns_cap ? n : 0; k > 0; k--)
        if (d->n_ns[k]) {
            first_ns = d->n_ns[k];
            break;
        }
    chat_violation(c,
                   "device %u: inbox position %llu came again with another message at %.3f s "
                   "(it had reached %llu, that position at %.3f s)",
                   (unsigned)(d - c->dev), (unsigned long long)n, *c->now_ns / 1e9,
                   (unsigned long long)d->last_n, first_ns / 1e9);
}

void chat_group_not_created(const sim_world_t *w, sim_chat_t *c, uint32_t g)
{
    cgroup_t *gr = &c->groups[g];
    for (uint32_t k = 0; k < gr->nmembers && !gr->abandoned; k++) {
        const simdev_t *m = &c->dev[gr->members[k]];
        gr->abandoned = chat_lost_since(w, c, m->user_key, m->claimed_ns);
    }
}
