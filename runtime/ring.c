/* runtime/ring.c — rendezvous placement; see ring.h for the rule and its contract.
 *
 * Invariant of ring_replicas' output: rf distinct indexes < n_members, ordered by
 * (score desc, name asc). Selection is rf passes of "best not yet taken" over n members,
 * so the work per partition is bounded by RING_RF_MAX * RING_MEMBERS_MAX comparisons.
 */
#include "runtime/ring.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/hash.h"

_Static_assert(RING_MEMBERS_MAX <= 64, "taken-set is a 64-bit mask");

static bool s_names_valid(const char *const *names, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (names[i] == NULL)
            return false;
        size_t len = strnlen(names[i], RING_NAME_BYTES_MAX + 1);
        if (len == 0 || len > RING_NAME_BYTES_MAX)
            return false;
    }
    return true;
}

static int s_check_args(const char *const *names, uint32_t n, uint32_t rf)
{
    if (names == NULL || n > RING_MEMBERS_MAX || rf == 0 || rf > n || rf > RING_RF_MAX)
        return ROOST_EINVAL;
    return s_names_valid(names, n) ? ROOST_OK : ROOST_EINVAL;
}

static uint64_t s_score(const char *name, uint32_t partition)
{
    unsigned char buf[RING_NAME_BYTES_MAX + 4];
    size_t len = strlen(name);
    assert(len <= RING_NAME_BYTES_MAX);
    memcpy(buf, name, len);
    buf[len + 0] = (unsigned char)(partition >> 24);
    buf[len + 1] = (unsigned char)(partition >> 16);
    buf[len + 2] = (unsigned char)(partition >> 8);
    buf[len + 3] = (unsigned char)partition;
    return roost_hash64(buf, len + 4);
}

/* True if member a ranks before member b: higher score, then smaller name. */
static bool s_ranks_before(uint64_t score_a, const char *name_a, uint64_t score_b,
                           const char *name_b)
{
    if (score_a != score_b)
        return score_a > score_b;
    return strcmp(name_a, name_b) < 0;
}

static void s_select(const char *const *names, uint32_t n, uint32_t partition, uint32_t rf,
                     uint32_t *out)
{
    uint64_t scores[RING_MEMBERS_MAX];
    for (uint32_t i = 0; i < n; i++)
        scores[i] = s_score(names[i], partition);
    uint64_t taken = 0;
    for (uint32_t r = 0; r < rf; r++) {
        uint32_t best = UINT32_MAX;
        for (uint32_t i = 0; i < n; i++) {
            if (taken & (UINT64_C(1) << i))
                continue;
            if (best == UINT32_MAX ||
                s_ranks_before(scores[i], names[i], scores[best], names[best]))
                best = i;
        }
        assert(best < n);
        taken |= UINT64_C(1) << best;
        out[r] = best;
    }
}

int ring_replicas(const char *const *member_names, uint32_t n_members, uint32_t partition,
                  uint32_t rf, uint32_t *out_member_idx)
{
    int rc = s_check_args(member_names, n_members, rf);
    if (rc != ROOST_OK)
        return rc;
    assert(out_member_idx != NULL);
    s_select(member_names, n_members, partition, rf, out_member_idx);
    return ROOST_OK;
}

int ring_place_all(const char *const *member_names, uint32_t n_members, uint32_t partitions,
                   uint32_t rf, uint32_t *out_member_idx)
{
    int rc = s_check_args(member_names, n_members, rf);
    if (rc != ROOST_OK)
        return rc;
    for (uint32_t i = 0; i < n_members; i++)
        for (uint32_t j = i + 1; j < n_members; j++)
            if (strcmp(member_names[i], member_names[j]) == 0)
                return ROOST_EINVAL;
    assert(out_member_idx != NULL || partitions == 0);
    for (uint32_t p = 0; p < partitions; p++)
        s_select(member_names, n_members, p, rf, out_member_idx + (size_t)p * rf);
    return ROOST_OK;
}
