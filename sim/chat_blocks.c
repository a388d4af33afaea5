/* sim/chat_blocks.c — the phones' blocks: now and then a phone blocks another one, or unblocks
 * one it blocks (`block` / `unblock`, retried until answered), and what that means for a
 * message from the blocked phone (chat_block_entitled). A block takes effect where a message
 * reaches the blocker's inbox, which may be well after it was sent, so a message is owed only
 * if no block of its sender by that reader was ever asked for after it was first sent, and
 * must never arrive only if a block was in force when it was sent and never lifted after. */
#include <stdio.h>
#include <string.h>

#include "actors/mp.h"
#include "runtime/errors.h"
#include "sim/chat_internal.h"
#include "sim/world.h"

/* Whether reader blocks sender now, as far as it knows (a change in flight: its target). */
static bool s_blocking(const sim_chat_t *c, uint32_t reader, uint32_t sender)
{
    bool blocked = false;
    for (uint32_t i = 0; i < c->nblocks; i++)
        if (c->blocks[i].reader == reader && c->blocks[i].sender == sender)
            blocked = c->blocks[i].blocked;
    return blocked;
}

static cblock_t *s_pending(sim_chat_t *c, uint32_t reader)
{
    for (uint32_t i = 0; i < c->nblocks; i++)
        if (c->blocks[i].reader == reader && c->blocks[i].done_ns == 0)
            return &c->blocks[i];
    return NULL;
}

static void s_send_block(roost_ctx_t *ctx, sim_chat_t *c, simdev_t *d, const cblock_t *b)
{
    mp_buf_t f;
    mp_buf_init(&f);
    msgpack_pack_map(&f.pk, 2);
    mp_kv_str(&f.pk, "t", b->blocked ? "block" : "unblock");
    mp_kv_str(&f.pk, "user", c->dev[b->sender].user_s);
    chat_request(ctx, d, d->user_key, &f, BUSY_BLOCK);
    mp_buf_fini(&f);
}

bool chat_maybe_block(roost_ctx_t *ctx, sim_world_t *w, sim_chat_t *c, uint32_t i)
{
    cblock_t *b = s_pending(c, i);
    if (b) {
        s_send_block(ctx, c, &c->dev[i], b);
        return true;
    }
    if (!w->writing || c->n < 2 || c->nblocks == CHAT_BLOCKS_MAX ||
        roost_rng_below(&w->rng, 1500) != 0)
        return false;
    uint32_t other = (i + 1 + (uint32_t)roost_rng_below(&w->rng, c->n - 1)) % c->n;
    if (c->dev[other].state == DEV_NEW)
        return false;
    c->blocks[c->nblocks++] = (cblock_t){
        .reader = i, .sender = other, .issued_ns = w->now_ns, .blocked = !s_blocking(c, i, other)};
    s_send_block(ctx, c, &c->dev[i], &c->blocks[c->nblocks - 1]);
    return true;
}

void chat_blocked_answer(sim_world_t *w, sim_chat_t *c, simdev_t *d, bool ok)
{
    cblock_t *b = s_pending(c, (uint32_t)(d - c->dev));
    if (b && ok)
        b->done_ns = w->now_ns;
}

entitled_t chat_block_entitled(const sim_chat_t *c, uint32_t reader, uint32_t sender,
                               uint64_t sent_ns)
{
    bool blocked_then = false;
    for (uint32_t i = 0; i < c->nblocks; i++) {
        const cblock_t *b = &c->blocks[i];
        if (b->reader != reader || b->sender != sender)
            continue;
        if (b->done_ns == 0 || b->done_ns >= sent_ns)
            return ENT_MAYBE; /* changed (or changing) after it was sent */
        blocked_then = b->blocked;
    }
    return blocked_then ? ENT_NO : ENT_YES;
}
