/* sim/chat_check.c — what the phones saw, checked (see chat.h: M1, M4 and the report of what
 * keeps a run from being quiet; M2, M3 and M5 are checked in chat.c as events arrive). */
#include <stdlib.h>
#include <string.h>

#include "actors/mp.h"
#include "runtime/errors.h"
#include "runtime/hash.h"
#include "shards/keys.h"
#include "sim/chat_internal.h"
#include "sim/check.h"
#include "sim/world.h"

/* Whether device i's message s is owed to device r, member slot k of its group (YES), must
 * never reach it (NO: out of the group, or blocking i, all along), or either. */
static entitled_t s_owed(const sim_chat_t *c, uint32_t i, const csend_t *s, uint32_t r, uint32_t k)
{
    entitled_t b = chat_block_entitled(c, r, i, s->issued_ns);
    entitled_t m = s->group == NO_GROUP
                       ? ENT_YES
                       : chat_entitled(&c->groups[s->group], k, s->issued_ns, s->answered_ns);
    if (b == ENT_NO || m == ENT_NO)
        return ENT_NO;
    return b == ENT_YES && m == ENT_YES ? ENT_YES : ENT_MAYBE;
}

/* Whether device i's message s is owed to the twin of phone r, slot k of its group: a twin
 * is owed what its phone is, and its own phone's messages (a message reaches the sender's
 * other devices), once its claim was answered before the message's first attempt (a new
 * device starts at the inbox's head), and while it is on the same account as its phone. */
static entitled_t s_owed_twin(const sim_chat_t *c, uint32_t i, const csend_t *s, uint32_t r,
                              uint32_t k)
{
    const simdev_t *t = chat_twin(c, r);
    if (!t->claimed_ns || s->issued_ns < t->claimed_ns)
        return ENT_MAYBE;
    if (t->user != c->dev[r].user) /* the registry went with a loss and its claim made a new */
        return ENT_MAYBE;          /* account (s_note_claim excuses only that): not phone r's */
    if (r != i)
        return s_owed(c, i, s, r, k);
    if (s->group == NO_GROUP)
        return ENT_YES;
    return chat_entitled(&c->groups[s->group], k, s->issued_ns, s->answered_ns) == ENT_NO
               ? ENT_NO
               : ENT_YES; /* it was answered ok: its sender was in when it was stored */
}

/* Phone r's devices (slot k of the group) that are owed s and lack it; 0 if none. */
static const simdev_t *s_lacking(const sim_chat_t *c, uint32_t i, const csend_t *s, uint32_t r,
                                 uint32_t k)
{
    if (r != i && !chat_set_has(&c->dev[r].seen, s->mid) && s_owed(c, i, s, r, k) == ENT_YES)
        return &c->dev[r];
    const simdev_t *t = chat_twin(c, r);
    if (!chat_set_has(&t->seen, s->mid) && s_owed_twin(c, i, s, r, k) == ENT_YES)
        return t;
    return NULL;
}

/* M1: every acknowledged send is on every device it is owed to: its recipients' (both
 * devices of each) and its sender's twin. The lacking device, or NULL. */
static const simdev_t *s_undelivered(const sim_chat_t *c, const simdev_t *d, const csend_t *s)
{
    uint32_t i = (uint32_t)(d - c->dev);
    const simdev_t *lack =
        s_lacking(c, i, s, i, s->group == NO_GROUP ? 0 : chat_slot(&c->groups[s->group], i));
    if (lack || s->group == NO_GROUP)
        return lack ? lack : s_lacking(c, i, s, s->to, 0);
    const cgroup_t *g = &c->groups[s->group];
    for (uint32_t k = 0; k < g->nmembers && !lack; k++)
        if (g->members[k] != i)
            lack = s_lacking(c, i, s, g->members[k], k);
    return lack;
}

static bool s_delivered(const sim_chat_t *c, const simdev_t *d, const csend_t *s)
{
    return s_undelivered(c, d, s) == NULL;
}

/* Under sync: none: an acknowledged message its conversation's partition may have lost
 * (check.h), or one owed to a device whose user's partition lost writes since it claimed (its
 * inbox head, its cursor or its account: what it is owed can no longer be told). A
 * conversation that lost its history hands its seqs out again, but since session 13 its
 * deliveries carry the partition's fence and the inbox starts again from them: that is no
 * excuse any more (seed 378). */
static bool s_maybe_lost(const sim_world_t *w, const sim_chat_t *c, uint32_t i, const csend_t *s,
                         const simdev_t *lack)
{
    if (!c->may_lose)
        return false;
    uint32_t conv = chat_send_part(c, &c->dev[i], s);
    return sim_in_loss_window(w, conv, s->answered_ns) ||
           (lack && sim_partition_lost_since(w, chat_user_part(c, lack), lack->claimed_ns));
}

/* Under sync: none: the block or the removal that kept s from r may be gone with a loss of
 * r's user partition (its blocks) or the group's partition (its members) since r claimed. */
static bool s_withholding_lost(const sim_world_t *w, const sim_chat_t *c, const csend_t *s,
                               uint32_t r)
{
    const simdev_t *d = &c->dev[r];
    if (!c->may_lose)
        return false;
    return sim_partition_lost_since(w, chat_user_part(c, d), d->claimed_ns) ||
           (s->group != NO_GROUP &&
            sim_partition_lost_since(w, chat_send_part(c, d, s), d->claimed_ns));
}

/* What made a withheld message wrong: the send, and the membership changes of slot k or the
 * blocks between reader r and sender i (--verbose). */
static void s_say_withheld(const sim_chat_t *c, uint32_t i, const csend_t *s, uint32_t r,
                           uint32_t k)
{
    fprintf(stderr,
            "withheld: device %u's message seq %llu, first sent %.3f s, ok %.3f s, reached %u", i,
            (unsigned long long)s->seq, s->issued_ns / 1e9, s->answered_ns / 1e9, r);
    if (s->group != NO_GROUP) {
        const cgroup_t *g = &c->groups[s->group];
        fprintf(stderr, "; group %u (created %.3f s), slot %u:", s->group, g->created_ns / 1e9, k);
        for (uint32_t m = 0; m < g->nmoves[k]; m++)
            fprintf(stderr, " %s%s %.3f-%.3f", g->moves[k][m].in ? "add" : "remove",
                    g->moves[k][m].by_member ? "(leave)" : "", g->moves[k][m].issued_ns / 1e9,
                    g->moves[k][m].done_ns / 1e9);
    }
    fprintf(stderr, "; blocks:");
    for (uint32_t b = 0; b < c->nblocks; b++)
        if (c->blocks[b].reader == r && c->blocks[b].sender == i)
            fprintf(stderr, " %s %.3f-%.3f", c->blocks[b].blocked ? "block" : "unblock",
                    c->blocks[b].issued_ns / 1e9, c->blocks[b].done_ns / 1e9);
    fputc('\n', stderr);
}

/* And it never reaches one that was out of the group, or blocked its sender, all along. */
static void s_check_withheld(const sim_world_t *w, const sim_chat_t *c, uint32_t i,
                             const csend_t *s, sim_chat_check_t *out)
{
    const cgroup_t *g = s->group == NO_GROUP ? NULL : &c->groups[s->group];
    uint32_t n = g ? g->nmembers : 1;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t r = g ? g->members[k] : s->to;
        if (r == i || s_owed(c, i, s, r, k) != ENT_NO)
            continue;
        out->withheld++;
        if (!chat_phone_has(c, r, s->mid))
            continue;
        if (s_withholding_lost(w, c, s, r)) {
            out->lost_in_window++;
            continue;
        }
        if (c->verbose)
            s_say_withheld(c, i, s, r, k);
        if (out->violations++ == 0)
            snprintf(out->first, sizeof out->first,
                     "device %u got c%llu of device %u (seq %llu), which it was not owed (out "
                     "of the group or blocking its sender all along)",
                     r, (unsigned long long)(s - c->dev[i].sends), i, (unsigned long long)s->seq);
    }
}

/* Prints what the primary of key's partition stores under `key` (a debugging aid). */
static void s_dump(sim_world_t *w, const char *owner, const char *key, size_t klen)
{
    uint32_t p = roost_partition_of(owner, strlen(owner), w->cfg.partitions);
    uint32_t primary = clustermap_primary_of(w->map, p);
    uint8_t k[KEY_BYTES_MAX];
    size_t kn = key_state(k, p, key, klen);
    void *v = NULL;
    size_t len = 0;
    fprintf(stderr, "  p%u s%u %.*s: ", p, primary, (int)klen, key);
    if (primary == ROOST_NO_PRIMARY || engine_get(w->shard[primary].engine, k, kn, &v, &len)) {
        fprintf(stderr, "(none)\n");
        return;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (mp_parse(&up, v, len))
        msgpack_object_print(stderr, up.data);
    else
        for (size_t i = 0; i < len; i++)
            fprintf(stderr, "%02x", ((uint8_t *)v)[i]);
    fputc('\n', stderr);
    msgpack_unpacked_destroy(&up);
    free(v);
}

/* A member's record in conversation conv, and its inbox's position there. */
static void s_dump_member(sim_world_t *w, const char *conv, const simdev_t *d)
{
    char key[160], user[32];
    int n = snprintf(key, sizeof key, "%s/u/%s", conv, d->user_s);
    s_dump(w, conv, key, (size_t)n);
    snprintf(user, sizeof user, "u:%s", d->user_s);
    n = snprintf(key, sizeof key, "u:%s/c/%s", d->user_s, conv);
    s_dump(w, user, key, (size_t)n);
}

/* A conversation's head record. */
static void s_dump_head(sim_world_t *w, const char *conv)
{
    char key[80];
    int n = snprintf(key, sizeof key, "%s/h", conv);
    s_dump(w, conv, key, (size_t)n);
}

static void s_dump_conv(sim_world_t *w, const simdev_t *from, const simdev_t *to)
{
    char conv[64];
    chat_conv_key(from, to, conv);
    s_dump_head(w, conv);
    s_dump_member(w, conv, to);
    s_dump_member(w, conv, from);
}

/* A group's head, and each member's record there and its inbox's position in it. */
static void s_dump_group(sim_world_t *w, const cgroup_t *g)
{
    char conv[40];
    snprintf(conv, sizeof conv, "g:%llu", (unsigned long long)g->id);
    s_dump_head(w, conv);
    for (uint32_t k = 0; k < g->nmembers; k++)
        s_dump_member(w, conv, &w->chat->dev[g->members[k]]);
}

/* The device an acknowledged message never reached: when it claimed, where it is, and its
 * user's inbox head and the device's cursor there. */
static void s_dump_lacking(sim_world_t *w, const sim_chat_t *c, const csend_t *s,
                           const simdev_t *lack)
{
    fprintf(stderr,
            "  sent at %.3f s, ok at %.3f s; lacking: device %u (%s, claimed at %.3f s; last n "
            "%llu, acked n %llu)\n",
            s->issued_ns / 1e9, s->answered_ns / 1e9, (unsigned)(lack - c->dev), lack->dev_id,
            lack->claimed_ns / 1e9, (unsigned long long)lack->last_n,
            (unsigned long long)lack->acked_n);
    char key[80];
    int n = snprintf(key, sizeof key, "u:%s/n", lack->user_s);
    s_dump(w, lack->user_key, key, (size_t)n);
    n = snprintf(key, sizeof key, "u:%s/d/%s", lack->user_s, lack->dev_id);
    s_dump(w, lack->user_key, key, (size_t)n);
}

void sim_chat_report(sim_world_t *w)
{
    const sim_chat_t *c = w->chat;
    for (uint32_t i = 0; c && i < 2 * c->n; i++)
        if (c->dev[i].state != DEV_ACTIVE)
            fprintf(stderr, "device %u (%s of user %s) never became active (state %d)\n", i,
                    c->dev[i].dev_id, c->dev[i].user_s, c->dev[i].state);
    for (uint32_t i = 0; c && i < c->n; i++) {
        const simdev_t *d = &c->dev[i];
        for (uint32_t k = 0; k < d->nsends; k++) {
            const csend_t *s = &d->sends[k];
            if (s->refused || (s->acked && s_delivered(c, d, s)))
                continue;
            const char *state = s->acked ? "acknowledged, not delivered" : "not acknowledged";
            const simdev_t *lack = s->acked ? s_undelivered(c, d, s) : NULL;
            if (lack)
                s_dump_lacking(w, c, s, lack);
            if (s->group != NO_GROUP) {
                fprintf(stderr, "device %u c%u to group %u (g:%llu): %s, seq %llu\n", i, k,
                        s->group, (unsigned long long)c->groups[s->group].id, state,
                        (unsigned long long)s->seq);
                s_dump_group(w, &c->groups[s->group]);
                continue;
            }
            fprintf(stderr,
                    "device %u (user %llu) c%u to device %u (user %llu): %s, seq %llu; the "
                    "recipient's last n %llu, acked n %llu\n",
                    i, (unsigned long long)d->user, k, s->to,
                    (unsigned long long)c->dev[s->to].user, state, (unsigned long long)s->seq,
                    (unsigned long long)c->dev[s->to].last_n,
                    (unsigned long long)c->dev[s->to].acked_n);
            s_dump_conv(w, d, &c->dev[s->to]);
        }
    }
    for (uint32_t g = 0; c && g < c->ngroups; g++)
        if (!c->groups[g].id && !c->groups[g].abandoned)
            fprintf(stderr, "group %u was never created\n", g);
}

bool sim_chat_quiet(const sim_world_t *w)
{
    const sim_chat_t *c = w->chat;
    for (uint32_t g = 0; c && g < c->ngroups; g++)
        if (!c->groups[g].id && !c->groups[g].abandoned)
            return false;
    for (uint32_t i = 0; c && i < 2 * c->n; i++)
        if (c->dev[i].state != DEV_ACTIVE)
            return false;
    for (uint32_t i = 0; c && i < c->n; i++) {
        const simdev_t *d = &c->dev[i];
        for (uint32_t k = 0; k < d->nsends; k++)
            if (!d->sends[k].refused && (!d->sends[k].acked || !s_delivered(c, d, &d->sends[k])) &&
                !(d->sends[k].acked &&
                  s_maybe_lost(w, c, i, &d->sends[k], s_undelivered(c, d, &d->sends[k]))))
                return false;
    }
    return true;
}

static void s_say_losses(const sim_world_t *w, const suspect_t *s)
{
    fprintf(stderr, "unexcused: %s (a write to p%d about %.3f s; power losses there:", s->what,
            s->part == SIM_ANY_PARTITION ? -1 : (int)s->part, s->at_ns / 1e9);
    for (uint32_t i = 0; i < w->nlosses; i++)
        if (sim_loss_hits(w, i, s->part))
            fprintf(stderr, " s%u@%.3f", w->losses[i].node, w->losses[i].at_ns / 1e9);
    fprintf(stderr, "; write-back %.1f s)\n", w->writeback_ns / 1e9);
}

/* The held violations (suspect_t): excused inside a loss window, counted outside one. */
static void s_judge_suspects(const sim_world_t *w, sim_chat_check_t *out)
{
    const sim_chat_t *c = w->chat;
    for (uint32_t i = 0; i < c->nsuspects; i++) {
        const suspect_t *s = &c->suspects[i];
        if (sim_in_loss_window(w, s->part, s->at_ns) ||
            (s->or_part != SIM_NO_PARTITION &&
             sim_partition_lost_since(w, s->or_part, s->or_since_ns))) {
            out->lost_in_window++;
            continue;
        }
        if (out->violations++ == 0)
            snprintf(out->first, sizeof out->first, "%s", s->what);
        if (c->verbose) /* with the power losses its partition saw, to judge the judge */
            s_say_losses(w, s);
    }
}

void sim_chat_check(const sim_world_t *w, sim_chat_check_t *out)
{
    const sim_chat_t *c = w->chat;
    memset(out, 0, sizeof *out);
    out->violations = c->violations;
    out->receipts = c->receipts;
    out->claims = c->claims;
    for (uint32_t g = 0; g < c->ngroups; g++)
        for (uint32_t k = 0; k < c->groups[g].nmembers; k++)
            out->moves += c->groups[g].nmoves[k];
    for (uint32_t g = 0; g < c->ngroups; g++) {
        out->leaves += c->groups[g].leaves;
        out->role_changes += c->groups[g].roles;
    }
    out->blocks = c->nblocks;
    out->prekeys = c->prekeys_out;
    out->reconnects = c->reconnects;
    snprintf(out->first, sizeof out->first, "%s", c->first);
    s_judge_suspects(w, out);
    for (uint32_t g = 0; g < c->ngroups; g++)
        out->groups += c->groups[g].id != 0;
    for (uint32_t i = 0; i < c->n; i++) {
        const simdev_t *d = &c->dev[i];
        out->duplicates += d->duplicates;
        for (uint32_t k = 0; k < d->nsends; k++) {
            const csend_t *s = &d->sends[k];
            out->sends++;
            out->group_sends += s->group != NO_GROUP;
            out->acked += s->acked;
            out->refused += s->refused;
            if (!s->acked)
                continue;
            s_check_withheld(w, c, i, s, out);
            const simdev_t *lack = s_undelivered(c, d, s);
            if (!lack) {
                out->delivered++;
            } else if (s_maybe_lost(w, c, i, s, lack)) {
                out->lost_in_window++;
            } else if (out->violations++ == 0) {
                snprintf(out->first, sizeof out->first,
                         "acknowledged message c%u from device %u (seq %llu, %s %u) never "
                         "reached device %u (%s of phone %u)",
                         k, i, (unsigned long long)s->seq, s->group == NO_GROUP ? "to" : "group",
                         s->group == NO_GROUP ? s->to : s->group, (unsigned)(lack - c->dev),
                         lack->dev_id, chat_phone(c, lack));
            }
        }
    }
}
