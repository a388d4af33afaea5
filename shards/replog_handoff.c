/* shards/replog_handoff.c — a partition's handoff as its primary drives it (docs/store.md,
 * "Handoff"): asking the control plane to switch to the `next` list once its learners are
 * about caught up, and to forget the previous list once the new one holds the log. */
#include "runtime/log.h"
#include "shards/replog_internal.h"

static const char *const COMP = "replog";

/* Whether a quorum of the current list holds every committed entry. A switch's new replicas
 * were only about caught up (REPLOG_HANDOFF_SLACK), and an adoption with nothing to re-stamp
 * serves on a commit point the previous list made: until its new replicas acknowledge it, the
 * previous list's quorum is what holds it. Settling before that lost committed entries when
 * the primary then failed (found by the simulator, seed 1127: a new replica at 0 and the old
 * primary's stale copy led the next epoch). */
static bool s_new_list_holds_the_log(const replog_t *r)
{
    bool holds[REPLOG_PEERS_MAX];
    for (uint32_t i = 0; i < r->npeers; i++)
        holds[i] = !r->nonvoting[i] && r->acked[i] >= r->commit_lsn;
    return replog_quorum_of(r, PEER_CUR, holds);
}

/* Handoff, while serving: once every new replica of the `next` list is heard from and about
 * caught up, ask the control plane to switch the partition to it; once serving under a new
 * list with the previous one still in the map, ask it to forget that list once a quorum of
 * the new list holds the whole committed log. Asked again every REPLOG_HANDOFF_ASK_MS until the
 * map answers with new lists; a request the map finds stale is dropped there. */
void replog_handoff_poll(roost_ctx_t *ctx, replog_t *r)
{
    if (r->role != ROLE_SERVING || !r->store->handoff)
        return;
    bool settle = replog_count(r, PEER_PREV, NULL) > 0;
    if (!settle && replog_count(r, PEER_NEXT, NULL) == 0)
        return;
    if (settle && !s_new_list_holds_the_log(r))
        return;
    uint64_t now = roost_ctx_now_ns(ctx);
    if (r->handoff_asked_ns && now - r->handoff_asked_ns < REPLOG_HANDOFF_ASK_MS * 1000000ull)
        return;
    for (uint32_t i = 0; i < r->npeers && !settle; i++) {
        if (!replog_peer_in(r, i, PEER_NEXT) || replog_peer_in(r, i, PEER_CUR))
            continue;
        if (!r->heard[i] || r->acked[i] + REPLOG_HANDOFF_SLACK < r->commit_lsn)
            return;
    }
    r->handoff_asked_ns = now;
    ROOST_INFO(COMP, settle ? "handoff: settling" : "handoff: new replicas caught up",
               "partition=%u epoch=%llu commit=%llu", r->partition, (unsigned long long)r->epoch,
               (unsigned long long)r->commit_lsn);
    r->store->handoff(r->store->handoff_arg, r->partition, r->role_base >> REPLOG_TERM_SHIFT,
                      settle);
}
