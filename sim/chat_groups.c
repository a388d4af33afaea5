/* sim/chat_groups.c — the phones' groups: creation by their first member (their admin), the
 * admin's membership changes (a member removed now and then and added back later, retried
 * until answered), members leaving on their own (added back by the admin later), the admin
 * promoting and demoting members, and when each member was in or out, which is what the group
 * checkers judge a delivery (or a refusal) by (chat_entitled). */
#include <stdio.h>
#include <string.h>

#include "actors/mp.h"
#include "runtime/errors.h"
#include "sim/chat_internal.h"
#include "sim/world.h"

void chat_create_group(roost_ctx_t *ctx, sim_chat_t *c, simdev_t *d, uint32_t g)
{
    const cgroup_t *gr = &c->groups[g];
    char name[16];
    snprintf(name, sizeof name, "g%u", g);
    mp_buf_t f;
    mp_buf_init(&f);
    msgpack_pack_map(&f.pk, 4);
    mp_kv_str(&f.pk, "t", "group.create");
    mp_kv_str(&f.pk, "name", name);
    mp_kv_str(&f.pk, "cmid", name); /* a retry is the same group */
    mp_pack_str(&f.pk, "members");
    msgpack_pack_array(&f.pk, gr->nmembers - 1);
    for (uint32_t k = 1; k < gr->nmembers; k++)
        mp_pack_str(&f.pk, c->dev[gr->members[k]].user_s);
    chat_request(ctx, d, d->user_key, &f, BUSY_GROUP);
    d->busy_send = g;
    mp_buf_fini(&f);
}

/* A group this device creates whose members all have accounts now, or NO_GROUP. */
uint32_t chat_group_to_create(const sim_chat_t *c, uint32_t i)
{
    for (uint32_t g = 0; g < c->ngroups; g++) {
        const cgroup_t *gr = &c->groups[g];
        bool ready = gr->members[0] == i && gr->id == 0 && !gr->abandoned;
        for (uint32_t k = 1; ready && k < gr->nmembers; k++)
            ready = c->dev[gr->members[k]].state != DEV_NEW;
        if (ready)
            return g;
    }
    return NO_GROUP;
}

uint32_t chat_slot(const cgroup_t *g, uint32_t i)
{
    for (uint32_t k = 0; k < g->nmembers; k++)
        if (g->members[k] == i)
            return k;
    return UINT32_MAX;
}

/* Whether the segment [a, b) meets [t0, t1]; if so, the state there rules out YES or NO. */
static void s_segment(uint64_t a, uint64_t b, bool in, uint64_t t0, uint64_t t1, bool *yes,
                      bool *no)
{
    if (t0 < b && t1 >= a)
        *(in ? no : yes) = false;
}

entitled_t chat_entitled(const cgroup_t *g, uint32_t k, uint64_t t0, uint64_t t1)
{
    bool yes = true, no = true, in = true;
    uint64_t from = g->created_ns;
    for (uint32_t m = 0; m < g->nmoves[k] && from != UINT64_MAX; m++) {
        const cmove_t *mv = &g->moves[k][m];
        uint64_t done = mv->done_ns ? mv->done_ns : UINT64_MAX;
        s_segment(from, mv->issued_ns, in, t0, t1, &yes, &no);
        if (t0 <= done && t1 >= mv->issued_ns) /* in flight: either */
            yes = no = false;
        in = mv->in;
        from = done;
    }
    if (from != UINT64_MAX)
        s_segment(from, UINT64_MAX, in, t0, t1, &yes, &no);
    return yes ? ENT_YES : no ? ENT_NO : ENT_MAYBE;
}

/* Whether device i is in group g now, as far as its admin knows (a change in flight: no). */
bool chat_member_now(const cgroup_t *g, uint32_t i)
{
    uint32_t k = chat_slot(g, i);
    if (k == UINT32_MAX)
        return false;
    if (g->nmoves[k] == 0)
        return true;
    const cmove_t *last = &g->moves[k][g->nmoves[k] - 1];
    return last->done_ns != 0 && last->in;
}

/* The change of slot k in flight (the admin's, or the member's own leave), or NULL. */
static cmove_t *s_move_pending(cgroup_t *g, uint32_t k)
{
    cmove_t *last = g->nmoves[k] ? &g->moves[k][g->nmoves[k] - 1] : NULL;
    return last && last->done_ns == 0 ? last : NULL;
}

/* Starts a request frame to group g: a map of `fields` entries, "t" and "group" packed. */
static void s_group_frame(mp_buf_t *f, const cgroup_t *gr, uint32_t fields, const char *t)
{
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long)gr->id);
    mp_buf_init(f);
    msgpack_pack_map(&f->pk, fields);
    mp_kv_str(&f->pk, "t", t);
    mp_kv_str(&f->pk, "group", id);
}

/* Sends frame f (then freed) from device d to group g about member slot k. */
static void s_group_request(roost_ctx_t *ctx, sim_chat_t *c, simdev_t *d, uint32_t g, uint32_t k,
                            mp_buf_t *f, busy_t kind)
{
    char target[32];
    snprintf(target, sizeof target, "g:%llu", (unsigned long long)c->groups[g].id);
    chat_request(ctx, d, target, f, kind);
    d->busy_send = g;
    d->busy_slot = k;
    mp_buf_fini(f);
}

static void s_send_move(roost_ctx_t *ctx, sim_chat_t *c, simdev_t *d, uint32_t g, uint32_t k)
{
    const cgroup_t *gr = &c->groups[g];
    const cmove_t *mv = &gr->moves[k][gr->nmoves[k] - 1];
    mp_buf_t f;
    s_group_frame(&f, gr, 3, mv->in ? "group.add" : "group.remove");
    mp_pack_str(&f.pk, "users");
    msgpack_pack_array(&f.pk, 1);
    mp_pack_str(&f.pk, c->dev[gr->members[k]].user_s);
    s_group_request(ctx, c, d, g, k, &f, BUSY_MOVE);
}

/* An admin goes on with its membership change in flight, or now and then (while traffic runs)
 * removes a member or adds one back. True if it sent a request. */
bool chat_maybe_move(roost_ctx_t *ctx, sim_world_t *w, sim_chat_t *c, uint32_t i)
{
    for (uint32_t g = 0; g < c->ngroups; g++) {
        cgroup_t *gr = &c->groups[g];
        if (gr->members[0] != i || gr->id == 0)
            continue;
        for (uint32_t k = 1; k < gr->nmembers; k++)
            if (s_move_pending(gr, k) && !s_move_pending(gr, k)->by_member &&
                !s_move_pending(gr, k)->given_up) {
                s_send_move(ctx, c, &c->dev[i], g, k);
                return true;
            }
        if (!w->writing || roost_rng_below(&w->rng, 400) != 0 || gr->nmembers < 2)
            continue;
        uint32_t k = 1 + (uint32_t)roost_rng_below(&w->rng, gr->nmembers - 1);
        if (gr->nmoves[k] == GROUP_MOVES_MAX || s_move_pending(gr, k))
            continue;
        bool in = !chat_member_now(gr, gr->members[k]); /* before the move is recorded */
        gr->moves[k][gr->nmoves[k]++] = (cmove_t){.issued_ns = w->now_ns, .in = in};
        s_send_move(ctx, c, &c->dev[i], g, k);
        return true;
    }
    return false;
}

/* The code of an `err` answer (empty otherwise). */
mp_str_t chat_err_code(const msgpack_object *frame)
{
    mp_str_t t = {0}, code = {0};
    if (mp_get_str(frame, "t", 1, 8, &t) == MP_OK && mp_str_eq(t, "err"))
        (void)mp_get_str(frame, "code", 1, 32, &code);
    return code;
}

/* Under sync: none the group's record (or its admin's account) may be gone since it began: its
 * admin's changes are then refused for good. */
static bool s_group_lost(const sim_world_t *w, const sim_chat_t *c, const cgroup_t *gr,
                         const simdev_t *admin)
{
    char gkey[32];
    snprintf(gkey, sizeof gkey, "g:%llu", (unsigned long long)gr->id);
    return chat_lost_since(w, c, gkey, gr->created_ns) ||
           c->dev[chat_phone(c, admin)].user_changed_ns >= gr->created_ns;
}

/* The admin's change answered: ok, or `not_found` for a removal (an earlier attempt did it).
 * Refused (`forbidden`, `not_found`) by a group a loss took, it is given up: still in flight for
 * the checker (the member's state stays unknown), but not asked again. Before, the admin asked
 * again forever and never sent its other messages (seed 1996). */
void chat_moved(sim_world_t *w, sim_chat_t *c, simdev_t *d, bool ok, const msgpack_object *frame)
{
    const cgroup_t *gr = &c->groups[d->busy_send];
    cmove_t *mv = s_move_pending(&c->groups[d->busy_send], d->busy_slot);
    mp_str_t code = chat_err_code(frame);
    if (!mv || mv->by_member)
        return;
    if (ok || (!mv->in && mp_str_eq(code, "not_found")))
        mv->done_ns = w->now_ns;
    else if ((mp_str_eq(code, "forbidden") || mp_str_eq(code, "not_found")) &&
             s_group_lost(w, c, gr, d))
        mv->given_up = true;
}

/* ---- members leaving ------------------------------------------------------------------- */

static void s_send_leave(roost_ctx_t *ctx, sim_chat_t *c, simdev_t *d, uint32_t g, uint32_t k)
{
    mp_buf_t f;
    s_group_frame(&f, &c->groups[g], 2, "group.leave");
    s_group_request(ctx, c, d, g, k, &f, BUSY_LEAVE);
}

bool chat_maybe_leave(roost_ctx_t *ctx, sim_world_t *w, sim_chat_t *c, uint32_t i)
{
    for (uint32_t g = 0; g < c->ngroups; g++) {
        cgroup_t *gr = &c->groups[g];
        uint32_t k = chat_slot(gr, i);
        if (gr->id == 0 || k == UINT32_MAX || k == 0) /* (the admin stays) */
            continue;
        cmove_t *mv = s_move_pending(gr, k);
        if (mv && mv->by_member) {
            s_send_leave(ctx, c, &c->dev[i], g, k);
            return true;
        }
        if (mv || !w->writing || gr->nmoves[k] == GROUP_MOVES_MAX || !chat_member_now(gr, i) ||
            roost_rng_below(&w->rng, 800) != 0)
            continue;
        gr->moves[k][gr->nmoves[k]++] =
            (cmove_t){.issued_ns = w->now_ns, .in = false, .by_member = true};
        s_send_leave(ctx, c, &c->dev[i], g, k);
        return true;
    }
    return false;
}

void chat_left(sim_world_t *w, sim_chat_t *c, simdev_t *d, bool ok, const msgpack_object *frame)
{
    cgroup_t *gr = &c->groups[d->busy_send];
    cmove_t *mv = s_move_pending(gr, d->busy_slot);
    if (mv && mv->by_member && (ok || mp_str_eq(chat_err_code(frame), "forbidden"))) {
        mv->done_ns = w->now_ns;
        gr->leaves++;
    }
}

/* ---- roles ------------------------------------------------------------------------------- */

bool chat_maybe_role(roost_ctx_t *ctx, sim_world_t *w, sim_chat_t *c, uint32_t i)
{
    for (uint32_t g = 0; g < c->ngroups; g++) {
        cgroup_t *gr = &c->groups[g];
        if (gr->members[0] != i || gr->id == 0 || gr->nmembers < 2 || !w->writing ||
            roost_rng_below(&w->rng, 800) != 0)
            continue;
        uint32_t k = 1 + (uint32_t)roost_rng_below(&w->rng, gr->nmembers - 1);
        if (!chat_member_now(gr, gr->members[k]))
            continue;
        simdev_t *d = &c->dev[i];
        d->busy_promote = !gr->admin[k];
        mp_buf_t f;
        s_group_frame(&f, gr, 3, d->busy_promote ? "group.promote" : "group.demote");
        mp_kv_str(&f.pk, "user", c->dev[gr->members[k]].user_s);
        s_group_request(ctx, c, d, g, k, &f, BUSY_ROLE);
        gr->roles++;
        return true;
    }
    return false;
}

void chat_role_answer(sim_chat_t *c, simdev_t *d, bool ok)
{
    if (ok) /* (not answered: tried afresh some other time; both are idempotent) */
        c->groups[d->busy_send].admin[d->busy_slot] = d->busy_promote;
}
