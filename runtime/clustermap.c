/* runtime/clustermap.c — the cluster map's content, its invariants, commands and queries.
 *
 * Owns: struct clustermap (one allocation: header + P partition records,
 * clustermap_internal.h) and the command semantics listed in clustermap.h. Nothing here reads a
 * clock, draws randomness or allocates during clustermap_apply, so every node computes the same
 * map. The encodings are clustermap_codec.c's.
 */
#include "runtime/clustermap_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"

/* ------------------------------------------------------------------ lifecycle */

bool clustermap_shape_valid(uint32_t partitions, uint32_t rf)
{
    bool pow2 = partitions > 0 && (partitions & (partitions - 1)) == 0;
    return pow2 && partitions <= ROOST_PARTITIONS_MAX && rf >= 1 && rf <= ROOST_RF_MAX;
}

static size_t s_bytes(uint32_t partitions)
{
    return sizeof(clustermap_t) + (size_t)partitions * sizeof(part_t);
}

clustermap_t *clustermap_new(uint32_t partitions, uint32_t rf)
{
    if (!clustermap_shape_valid(partitions, rf))
        return NULL;
    clustermap_t *map = calloc(1, s_bytes(partitions));
    if (map == NULL)
        return NULL;
    atomic_init(&map->refs, 1);
    map->partitions = partitions;
    map->rf = rf;
    for (uint32_t p = 0; p < partitions; p++) {
        part_t *part = &map->parts[p];
        part->primary = ROOST_NO_PRIMARY;
        for (uint32_t r = 0; r < ROOST_RF_MAX; r++)
            part->replicas[r] = part->next[r] = part->prev[r] = ROOST_NO_PRIMARY;
    }
    return map;
}

clustermap_t *clustermap_copy(const clustermap_t *map)
{
    assert(map != NULL);
    clustermap_t *copy = malloc(s_bytes(map->partitions));
    if (copy == NULL)
        return NULL;
    memcpy(copy, map, s_bytes(map->partitions));
    atomic_init(&copy->refs, 1);
    return copy;
}

clustermap_t *clustermap_retain(clustermap_t *map)
{
    assert(map != NULL);
    unsigned before = atomic_fetch_add(&map->refs, 1);
    assert(before > 0);
    (void)before;
    return map;
}

void clustermap_release(clustermap_t **map_p)
{
    if (map_p == NULL || *map_p == NULL)
        return;
    clustermap_t *map = *map_p;
    *map_p = NULL;
    unsigned before = atomic_fetch_sub(&map->refs, 1);
    assert(before > 0);
    if (before == 1)
        free(map);
}

/* ------------------------------------------------------------------ invariants */

static bool s_text_valid(const char *s, size_t max)
{
    size_t len = strnlen(s, max + 1);
    return len > 0 && len <= max;
}

static bool s_member_fields_valid(const clustermap_member_t *m)
{
    return m->id != ROOST_NO_PRIMARY && s_text_valid(m->name, ROOST_MEMBER_NAME_BYTES_MAX) &&
           s_text_valid(m->address, ROOST_MEMBER_ADDR_BYTES_MAX);
}

/* Ids and names are valid and distinct. */
bool clustermap_members_valid(const clustermap_member_t *members, uint32_t n)
{
    if (n > ROOST_MEMBERS_MAX)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        if (!s_member_fields_valid(&members[i]))
            return false;
        for (uint32_t j = 0; j < i; j++)
            if (members[j].id == members[i].id || strcmp(members[j].name, members[i].name) == 0)
                return false;
    }
    return true;
}

static bool s_in_list(const part_t *part, uint32_t rf, uint32_t id)
{
    for (uint32_t r = 0; r < rf; r++)
        if (part->replicas[r] == id)
            return true;
    return false;
}

static bool s_is_up(const clustermap_t *map, uint32_t id)
{
    const clustermap_member_t *m = clustermap_member_by_id(map, id);
    return m != NULL && m->status == CLUSTERMAP_UP;
}

static uint32_t s_first_up(const clustermap_t *map, const part_t *part)
{
    for (uint32_t r = 0; r < map->rf; r++)
        if (s_is_up(map, part->replicas[r]))
            return part->replicas[r];
    return ROOST_NO_PRIMARY;
}

static bool s_list_set(const uint32_t *list)
{
    return list[0] != ROOST_NO_PRIMARY;
}

/* rf distinct members, or (when `optional`, or while the map has no members) nothing. */
static bool s_list_valid(const clustermap_t *map, const uint32_t *list, bool optional)
{
    bool empty = !s_list_set(list);
    if (empty && (optional || map->n_members == 0)) {
        for (uint32_t r = 0; r < ROOST_RF_MAX; r++)
            if (list[r] != ROOST_NO_PRIMARY)
                return false;
        return true;
    }
    for (uint32_t r = 0; r < map->rf; r++) {
        if (clustermap_member_by_id(map, list[r]) == NULL)
            return false;
        for (uint32_t q = 0; q < r; q++)
            if (list[q] == list[r])
                return false;
    }
    return true;
}

static bool s_part_valid(const clustermap_t *map, const part_t *part)
{
    if (!s_list_valid(map, part->replicas, false) || !s_list_valid(map, part->next, true) ||
        !s_list_valid(map, part->prev, true))
        return false;
    /* A primary is an UP replica; a partition lacks one only while none of its replicas is UP. */
    if (part->primary == ROOST_NO_PRIMARY)
        return s_first_up(map, part) == ROOST_NO_PRIMARY;
    return s_in_list(part, map->rf, part->primary) && s_is_up(map, part->primary);
}

static bool s_named(const clustermap_t *map, uint32_t id)
{
    for (uint32_t p = 0; p < map->partitions; p++)
        if (clustermap_names(map, p, id))
            return true;
    return false;
}

bool clustermap_invariants(const clustermap_t *map)
{
    if (!clustermap_shape_valid(map->partitions, map->rf))
        return false;
    if (!clustermap_members_valid(map->members, map->n_members))
        return false;
    uint32_t configured = 0;
    for (uint32_t i = 0; i < map->n_members; i++) {
        const clustermap_member_t *m = &map->members[i];
        if (m->status != CLUSTERMAP_UP && m->status != CLUSTERMAP_DOWN)
            return false;
        if (!m->configured && !s_named(map, m->id))
            return false;
        configured += m->configured;
    }
    if (map->n_members > 0 && configured < map->rf)
        return false;
    for (uint32_t p = 0; p < map->partitions; p++)
        if (!s_part_valid(map, &map->parts[p]))
            return false;
    return true;
}

/* ------------------------------------------------------------------ commands */

int clustermap_cmd_add_member(clustermap_cmd_t *cmd, uint32_t id, const char *name,
                              const char *address)
{
    assert(cmd != NULL);
    if (cmd->n_members >= ROOST_MEMBERS_MAX || name == NULL || address == NULL)
        return ROOST_EINVAL;
    clustermap_member_t m = {.id = id, .status = CLUSTERMAP_UP, .configured = true};
    if (!s_text_valid(name, ROOST_MEMBER_NAME_BYTES_MAX) ||
        !s_text_valid(address, ROOST_MEMBER_ADDR_BYTES_MAX) || id == ROOST_NO_PRIMARY)
        return ROOST_EINVAL;
    memcpy(m.name, name, strlen(name) + 1);
    memcpy(m.address, address, strlen(address) + 1);
    cmd->members[cmd->n_members++] = m;
    return ROOST_OK;
}

/* Keeps a primary that is in the list and UP; otherwise hands the partition to the first UP
 * replica (or none), with a new epoch if that changes who is primary. */
static void s_repair_primary(const clustermap_t *map, part_t *part)
{
    uint32_t cur = part->primary;
    if (cur != ROOST_NO_PRIMARY && s_in_list(part, map->rf, cur) && s_is_up(map, cur))
        return;
    uint32_t next = s_first_up(map, part);
    if (next != cur) {
        part->epoch++;
        part->primary = next;
    }
}

static bool s_same_set(const uint32_t *a, const uint32_t *b, uint32_t rf)
{
    for (uint32_t i = 0; i < rf; i++) {
        bool found = false;
        for (uint32_t j = 0; j < rf && !found; j++)
            found = a[i] == b[j];
        if (!found)
            return false;
    }
    return true;
}

static void s_clear_list(uint32_t *list)
{
    for (uint32_t r = 0; r < ROOST_RF_MAX; r++)
        list[r] = ROOST_NO_PRIMARY;
}

/* Drops unconfigured members that no list names any more (they have handed everything off). */
static void s_prune_members(clustermap_t *map)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < map->n_members; i++)
        if (map->members[i].configured || s_named(map, map->members[i].id))
            map->members[kept++] = map->members[i];
    for (uint32_t i = kept; i < map->n_members; i++)
        memset(&map->members[i], 0, sizeof map->members[i]);
    map->n_members = kept;
}

/* The new member table: the command's members (configured, known ids keep their status), then
 * the known members it leaves out (unconfigured; pruned once nothing names them). */
static int s_merge_members(const clustermap_t *map, const clustermap_cmd_t *cmd,
                           clustermap_member_t *out, uint32_t *n_out)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < cmd->n_members; i++, n++) {
        const clustermap_member_t *old = clustermap_member_by_id(map, cmd->members[i].id);
        out[n] = cmd->members[i];
        out[n].status = old ? old->status : CLUSTERMAP_UP;
        out[n].configured = true;
    }
    for (uint32_t i = 0; i < map->n_members; i++) {
        bool kept = false;
        for (uint32_t j = 0; j < cmd->n_members && !kept; j++)
            kept = cmd->members[j].id == map->members[i].id;
        if (kept)
            continue;
        if (n == ROOST_MEMBERS_MAX)
            return ROOST_EINVAL;
        out[n] = map->members[i];
        out[n++].configured = false;
    }
    *n_out = n;
    return clustermap_members_valid(out, n) ? ROOST_OK : ROOST_EINVAL;
}

static int s_set_members(clustermap_t *map, const clustermap_cmd_t *cmd)
{
    uint32_t n = cmd->n_members;
    if (n < map->rf || !clustermap_members_valid(cmd->members, n))
        return ROOST_EINVAL;
    const char *names[ROOST_MEMBERS_MAX] = {0};
    for (uint32_t i = 0; i < n; i++)
        names[i] = cmd->members[i].name;
    uint32_t idx[ROOST_RF_MAX];
    if (ring_replicas(names, n, 0, map->rf, idx) != ROOST_OK)
        return ROOST_EINVAL; /* validated up front: the loop below can't fail */
    clustermap_member_t merged[ROOST_MEMBERS_MAX];
    uint32_t n_merged = 0;
    memset(merged, 0, sizeof merged);
    if (s_merge_members(map, cmd, merged, &n_merged) != ROOST_OK)
        return ROOST_EINVAL;

    bool initial = map->n_members == 0;
    memcpy(map->members, merged, sizeof merged);
    map->n_members = n_merged;
    for (uint32_t p = 0; p < map->partitions; p++) {
        part_t *part = &map->parts[p];
        int rc = ring_replicas(names, n, p, map->rf, idx);
        assert(rc == ROOST_OK);
        (void)rc;
        uint32_t target[ROOST_RF_MAX];
        for (uint32_t r = 0; r < map->rf; r++)
            target[r] = cmd->members[idx[r]].id;
        if (initial) {
            memcpy(part->replicas, target, map->rf * sizeof *target);
            s_repair_primary(map, part);
        } else if (s_same_set(target, part->replicas, map->rf)) {
            s_clear_list(part->next);
        } else {
            memcpy(part->next, target, map->rf * sizeof *target);
        }
    }
    s_prune_members(map);
    return ROOST_OK;
}

static int s_handoff_done(clustermap_t *map, const clustermap_cmd_t *cmd)
{
    if (cmd->partition >= map->partitions)
        return ROOST_EINVAL;
    part_t *part = &map->parts[cmd->partition];
    if (part->epoch != cmd->epoch || !s_list_set(part->next) || s_list_set(part->prev))
        return ROOST_ESTALE;
    memcpy(part->prev, part->replicas, sizeof part->prev);
    memcpy(part->replicas, part->next, sizeof part->replicas);
    s_clear_list(part->next);
    part->epoch++; /* always: the new list reconciles under its own epoch */
    uint32_t keep = part->primary;
    if (keep == ROOST_NO_PRIMARY || !s_in_list(part, map->rf, keep) || !s_is_up(map, keep))
        part->primary = s_first_up(map, part);
    return ROOST_OK;
}

static int s_handoff_settled(clustermap_t *map, const clustermap_cmd_t *cmd)
{
    if (cmd->partition >= map->partitions)
        return ROOST_EINVAL;
    part_t *part = &map->parts[cmd->partition];
    if (part->epoch != cmd->epoch || !s_list_set(part->prev))
        return ROOST_ESTALE;
    s_clear_list(part->prev);
    s_prune_members(map);
    return ROOST_OK;
}

static clustermap_member_t *s_member_mut(clustermap_t *map, uint32_t id)
{
    for (uint32_t i = 0; i < map->n_members; i++)
        if (map->members[i].id == id)
            return &map->members[i];
    return NULL;
}

static int s_node_down(clustermap_t *map, uint32_t id)
{
    clustermap_member_t *m = s_member_mut(map, id);
    if (m == NULL)
        return ROOST_ENOTFOUND;
    if (m->status == CLUSTERMAP_DOWN)
        return ROOST_OK;
    m->status = CLUSTERMAP_DOWN;
    for (uint32_t p = 0; p < map->partitions; p++)
        if (map->parts[p].primary == id)
            s_repair_primary(map, &map->parts[p]);
    return ROOST_OK;
}

static int s_node_up(clustermap_t *map, uint32_t id)
{
    clustermap_member_t *m = s_member_mut(map, id);
    if (m == NULL)
        return ROOST_ENOTFOUND;
    m->status = CLUSTERMAP_UP;
    for (uint32_t p = 0; p < map->partitions; p++) {
        part_t *part = &map->parts[p];
        if (part->primary == ROOST_NO_PRIMARY && s_in_list(part, map->rf, id)) {
            part->epoch++;
            part->primary = id;
        }
    }
    return ROOST_OK;
}

int clustermap_apply(clustermap_t *map, const clustermap_cmd_t *cmd, uint64_t index)
{
    assert(map != NULL && cmd != NULL);
    assert(atomic_load(&map->refs) == 1); /* shared maps are immutable */
    if (index <= map->version)
        return ROOST_ESTALE;
    int rc;
    switch (cmd->type) {
    case CLUSTERMAP_CMD_SET_MEMBERS:
        rc = s_set_members(map, cmd);
        break;
    case CLUSTERMAP_CMD_NODE_DOWN:
        rc = s_node_down(map, cmd->node_id);
        break;
    case CLUSTERMAP_CMD_NODE_UP:
        rc = s_node_up(map, cmd->node_id);
        break;
    case CLUSTERMAP_CMD_HANDOFF_DONE:
        rc = s_handoff_done(map, cmd);
        break;
    case CLUSTERMAP_CMD_HANDOFF_SETTLED:
        rc = s_handoff_settled(map, cmd);
        break;
    default:
        rc = ROOST_EINVAL;
        break;
    }
    if (rc == ROOST_OK)
        map->version = index;
    assert(clustermap_invariants(map));
    return rc;
}

/* ------------------------------------------------------------------ queries */

uint64_t clustermap_version(const clustermap_t *map)
{
    return map->version;
}

uint32_t clustermap_partitions(const clustermap_t *map)
{
    return map->partitions;
}

uint32_t clustermap_rf(const clustermap_t *map)
{
    return map->rf;
}

uint32_t clustermap_member_count(const clustermap_t *map)
{
    return map->n_members;
}

const clustermap_member_t *clustermap_member_at(const clustermap_t *map, uint32_t i)
{
    assert(i < map->n_members);
    return &map->members[i];
}

const clustermap_member_t *clustermap_member_by_id(const clustermap_t *map, uint32_t id)
{
    for (uint32_t i = 0; i < map->n_members; i++)
        if (map->members[i].id == id)
            return &map->members[i];
    return NULL;
}

const clustermap_member_t *clustermap_member_by_name(const clustermap_t *map, const char *name)
{
    for (uint32_t i = 0; name != NULL && i < map->n_members; i++)
        if (strcmp(map->members[i].name, name) == 0)
            return &map->members[i];
    return NULL;
}

uint32_t clustermap_primary_of(const clustermap_t *map, uint32_t partition)
{
    assert(partition < map->partitions);
    return map->parts[partition].primary;
}

uint64_t clustermap_epoch_of(const clustermap_t *map, uint32_t partition)
{
    assert(partition < map->partitions);
    return map->parts[partition].epoch;
}

uint32_t clustermap_replicas_of(const clustermap_t *map, uint32_t partition, uint32_t *out,
                                uint32_t cap)
{
    assert(partition < map->partitions && out != NULL && cap >= map->rf);
    if (map->n_members == 0)
        return 0;
    memcpy(out, map->parts[partition].replicas, map->rf * sizeof *out);
    return map->rf;
}

static uint32_t s_copy_list(const clustermap_t *map, const uint32_t *list, uint32_t *out,
                            uint32_t cap)
{
    assert(out != NULL && cap >= map->rf);
    if (!s_list_set(list))
        return 0;
    memcpy(out, list, map->rf * sizeof *out);
    return map->rf;
}

uint32_t clustermap_next_of(const clustermap_t *map, uint32_t partition, uint32_t *out,
                            uint32_t cap)
{
    assert(partition < map->partitions);
    return s_copy_list(map, map->parts[partition].next, out, cap);
}

uint32_t clustermap_prev_of(const clustermap_t *map, uint32_t partition, uint32_t *out,
                            uint32_t cap)
{
    assert(partition < map->partitions);
    return s_copy_list(map, map->parts[partition].prev, out, cap);
}

bool clustermap_names(const clustermap_t *map, uint32_t partition, uint32_t id)
{
    assert(partition < map->partitions);
    const part_t *part = &map->parts[partition];
    for (uint32_t r = 0; r < map->rf && map->n_members > 0; r++)
        if (part->replicas[r] == id || part->next[r] == id || part->prev[r] == id)
            return true;
    return false;
}

uint32_t clustermap_moving(const clustermap_t *map)
{
    uint32_t n = 0;
    for (uint32_t p = 0; p < map->partitions; p++)
        n += s_list_set(map->parts[p].next) || s_list_set(map->parts[p].prev);
    return n;
}
