/* cluster/ctl_ring.c — `roostctl ring`: where partitions live.
 *
 * Live, when a voter answers with the cluster map: per node its status, the partitions it holds a
 * replica of and leads now, the balance (min/max replicas per node), the highest epoch, and the
 * partitions that are under-replicated (a replica down), without a primary, or moving (a
 * handoff's next or previous list still set); or one partition's (or key's) lists, primary and
 * epoch. Otherwise (no cluster running) the placement the manifest implies — a pure function of
 * the shard nodes (runtime/ring.h): per node its replicas and preferred primaries, or one
 * partition's replica list, preferred primary first. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/ctl.h"
#include "runtime/clustermap.h"
#include "runtime/hash.h"
#include "runtime/ring.h"

typedef struct {
    const manifest_node_t *node[RING_MEMBERS_MAX];
    const char *name[RING_MEMBERS_MAX];
    uint32_t n;
} shards_t;

static void s_shards(const manifest_t *m, shards_t *s)
{
    s->n = 0;
    for (uint32_t i = 0; i < m->n_nodes && s->n < RING_MEMBERS_MAX; i++)
        if (m->nodes[i].roles & ROLE_SHARD) {
            s->node[s->n] = &m->nodes[i];
            s->name[s->n++] = m->nodes[i].name;
        }
}

static int s_one(const ctl_opts_t *o, const manifest_t *m, const shards_t *s, uint32_t p,
                 const char *key)
{
    uint32_t idx[RING_RF_MAX];
    if (ring_replicas(s->name, s->n, p, m->replication_factor, idx) != 0) {
        fprintf(stderr, "roostctl: cannot place partition %u\n", p);
        return 1;
    }
    if (o->json) {
        printf("{\"partition\":%u,", p);
        if (key) { /* (actor keys are printable ASCII; quotes and backslashes escaped) */
            printf("\"key\":\"");
            for (const char *c = key; *c; c++)
                printf(*c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
            printf("\",");
        }
        printf("\"replicas\":[");
        for (uint32_t r = 0; r < m->replication_factor; r++)
            printf("%s\"%s\"", r ? "," : "", s->name[idx[r]]);
        printf("]}\n");
        return 0;
    }
    if (key)
        printf("key %s → partition %u\n", key, p);
    printf("%-8s %-20s %-6s %s\n", "RANK", "NODE", "ID", "ROLE");
    for (uint32_t r = 0; r < m->replication_factor; r++)
        printf("%-8u %-20s %-6u %s\n", r + 1, s->name[idx[r]], s->node[idx[r]]->id,
               r == 0 ? "preferred primary" : "replica");
    return 0;
}

static int s_all(const ctl_opts_t *o, const manifest_t *m, const shards_t *s)
{
    uint32_t rf = m->replication_factor, parts = m->partitions;
    uint32_t *place = malloc((size_t)parts * rf * sizeof *place);
    uint32_t replica[RING_MEMBERS_MAX] = {0}, primary[RING_MEMBERS_MAX] = {0};
    if (!place || ring_place_all(s->name, s->n, parts, rf, place) != 0) {
        fprintf(stderr, "roostctl: cannot place the partitions\n");
        free(place);
        return 1;
    }
    for (uint32_t p = 0; p < parts; p++)
        for (uint32_t r = 0; r < rf; r++) {
            replica[place[p * rf + r]]++;
            primary[place[p * rf + r]] += r == 0;
        }
    free(place);
    if (o->json) {
        printf("{\"partitions\":%u,\"replication_factor\":%u,\"nodes\":[", parts, rf);
        for (uint32_t i = 0; i < s->n; i++)
            printf("%s{\"name\":\"%s\",\"id\":%u,\"replica_of\":%u,\"preferred_primary\":%u}",
                   i ? "," : "", s->name[i], s->node[i]->id, replica[i], primary[i]);
        printf("]}\n");
        return 0;
    }
    printf("%u partitions, replication factor %u, %u shard nodes\n", parts, rf, s->n);
    printf("%-20s %-6s %12s %18s %8s\n", "NODE", "ID", "REPLICA OF", "PREFERRED PRIMARY", "SHARE");
    for (uint32_t i = 0; i < s->n; i++)
        printf("%-20s %-6u %12u %18u %7.1f%%\n", s->name[i], s->node[i]->id, replica[i], primary[i],
               100.0 * replica[i] / ((double)parts * rf));
    return 0;
}

/* ---- live: the cluster map ------------------------------------------------------------- */

static const char *s_name(const clustermap_t *map, uint32_t id)
{
    const clustermap_member_t *mb = clustermap_member_by_id(map, id);
    return mb ? mb->name : "-";
}

static void s_json_names(const char *field, const clustermap_t *map, const uint32_t *ids,
                         uint32_t n)
{
    printf(",\"%s\":[", field);
    for (uint32_t i = 0; i < n; i++)
        printf("%s\"%s\"", i ? "," : "", s_name(map, ids[i]));
    printf("]");
}

static void s_text_names(const char *label, const clustermap_t *map, const uint32_t *ids,
                         uint32_t n)
{
    printf("%-10s", label);
    for (uint32_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : "", s_name(map, ids[i]));
    printf("%s\n", n ? "" : "-");
}

static int s_live_one(const ctl_opts_t *o, const clustermap_t *map, uint32_t p, const char *key)
{
    uint32_t reps[ROOST_RF_MAX], next[ROOST_RF_MAX], prev[ROOST_RF_MAX];
    uint32_t nr = clustermap_replicas_of(map, p, reps, ROOST_RF_MAX);
    uint32_t nn = clustermap_next_of(map, p, next, ROOST_RF_MAX);
    uint32_t np = clustermap_prev_of(map, p, prev, ROOST_RF_MAX);
    uint32_t primary = clustermap_primary_of(map, p);
    if (o->json) {
        printf("{\"partition\":%u,", p);
        if (key) {
            printf("\"key\":\"");
            for (const char *c = key; *c; c++)
                printf(*c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
            printf("\",");
        }
        printf("\"epoch\":%llu,\"primary\":\"%s\"", (unsigned long long)clustermap_epoch_of(map, p),
               s_name(map, primary));
        s_json_names("replicas", map, reps, nr);
        s_json_names("next", map, next, nn);
        s_json_names("prev", map, prev, np);
        printf("}\n");
        return 0;
    }
    if (key)
        printf("key %s → partition %u\n", key, p);
    printf("partition %u: epoch %llu, primary %s\n", p,
           (unsigned long long)clustermap_epoch_of(map, p), s_name(map, primary));
    s_text_names("replicas", map, reps, nr);
    s_text_names("next", map, next, nn);
    s_text_names("prev", map, prev, np);
    return 0;
}

typedef struct {
    uint32_t replica[ROOST_MEMBERS_MAX], primary[ROOST_MEMBERS_MAX], preferred[ROOST_MEMBERS_MAX];
    uint32_t *under, *moving, *orphan; /* partition lists */
    uint32_t n_under, n_moving, n_orphan;
    uint64_t max_epoch;
} live_t;

static bool s_down(const clustermap_t *map, uint32_t id)
{
    const clustermap_member_t *mb = clustermap_member_by_id(map, id);
    return !mb || mb->status != CLUSTERMAP_UP;
}

static void s_live_count(const clustermap_t *map, live_t *l)
{
    uint32_t parts = clustermap_partitions(map);
    l->under = calloc(parts, sizeof *l->under);
    l->moving = calloc(parts, sizeof *l->moving);
    l->orphan = calloc(parts, sizeof *l->orphan);
    for (uint32_t p = 0; p < parts; p++) {
        uint32_t reps[ROOST_RF_MAX], other[ROOST_RF_MAX];
        uint32_t n = clustermap_replicas_of(map, p, reps, ROOST_RF_MAX);
        bool down = false;
        for (uint32_t r = 0; r < n; r++) {
            for (uint32_t i = 0; i < clustermap_member_count(map); i++) {
                uint32_t id = clustermap_member_at(map, i)->id;
                l->replica[i] += reps[r] == id;
                l->preferred[i] += r == 0 && reps[r] == id;
                l->primary[i] += r == 0 && clustermap_primary_of(map, p) == id;
            }
            down |= s_down(map, reps[r]);
        }
        if (down)
            l->under[l->n_under++] = p;
        if (clustermap_next_of(map, p, other, ROOST_RF_MAX) ||
            clustermap_prev_of(map, p, other, ROOST_RF_MAX))
            l->moving[l->n_moving++] = p;
        if (clustermap_primary_of(map, p) == ROOST_NO_PRIMARY)
            l->orphan[l->n_orphan++] = p;
        if (clustermap_epoch_of(map, p) > l->max_epoch)
            l->max_epoch = clustermap_epoch_of(map, p);
    }
}

static void s_json_list(const char *field, const uint32_t *list, uint32_t n)
{
    printf(",\"%s\":[", field);
    for (uint32_t i = 0; i < n; i++)
        printf("%s%u", i ? "," : "", list[i]);
    printf("]");
}

static void s_text_list(const char *label, const uint32_t *list, uint32_t n)
{
    printf("%-18s %u", label, n);
    for (uint32_t i = 0; i < n && i < 16; i++)
        printf("%s%u", i ? ", " : " (", list[i]);
    printf("%s\n", n > 16 ? ", …)" : n ? ")" : "");
}

static int s_live_all(const ctl_opts_t *o, const clustermap_t *map)
{
    live_t l;
    memset(&l, 0, sizeof l);
    s_live_count(map, &l);
    uint32_t lo = UINT32_MAX, hi = 0, nm = clustermap_member_count(map);
    for (uint32_t i = 0; i < nm; i++) {
        const clustermap_member_t *mb = clustermap_member_at(map, i);
        if (mb->configured && l.replica[i] < lo)
            lo = l.replica[i];
        if (mb->configured && l.replica[i] > hi)
            hi = l.replica[i];
    }
    uint32_t parts = clustermap_partitions(map), rf = clustermap_rf(map);
    if (o->json) {
        printf("{\"live\":true,\"map_version\":%llu,\"partitions\":%u,\"replication_factor\":%u,"
               "\"max_epoch\":%llu,\"balance\":{\"min\":%u,\"max\":%u},\"nodes\":[",
               (unsigned long long)clustermap_version(map), parts, rf,
               (unsigned long long)l.max_epoch, lo, hi);
        for (uint32_t i = 0; i < nm; i++) {
            const clustermap_member_t *mb = clustermap_member_at(map, i);
            printf("%s{\"name\":\"%s\",\"id\":%u,\"status\":\"%s\",\"member\":%s,"
                   "\"replica_of\":%u,\"primary_of\":%u,\"preferred_primary\":%u}",
                   i ? "," : "", mb->name, mb->id, mb->status == CLUSTERMAP_UP ? "up" : "down",
                   mb->configured ? "true" : "false", l.replica[i], l.primary[i], l.preferred[i]);
        }
        printf("]");
        s_json_list("under_replicated", l.under, l.n_under);
        s_json_list("moving", l.moving, l.n_moving);
        s_json_list("without_primary", l.orphan, l.n_orphan);
        printf("}\n");
    } else {
        printf("map version %llu: %u partitions, replication factor %u, highest epoch %llu, "
               "%u–%u replicas per node\n",
               (unsigned long long)clustermap_version(map), parts, rf,
               (unsigned long long)l.max_epoch, lo, hi);
        printf("%-20s %-6s %-8s %12s %12s %8s\n", "NODE", "ID", "STATUS", "REPLICA OF",
               "PRIMARY OF", "SHARE");
        for (uint32_t i = 0; i < nm; i++) {
            const clustermap_member_t *mb = clustermap_member_at(map, i);
            printf("%-20s %-6u %-8s %12u %12u %7.1f%%%s\n", mb->name, mb->id,
                   mb->status == CLUSTERMAP_UP ? "up" : "down", l.replica[i], l.primary[i],
                   100.0 * l.replica[i] / ((double)parts * rf),
                   mb->configured ? "" : "  (leaving)");
        }
        s_text_list("under-replicated", l.under, l.n_under);
        s_text_list("moving", l.moving, l.n_moving);
        s_text_list("without primary", l.orphan, l.n_orphan);
    }
    free(l.under);
    free(l.moving);
    free(l.orphan);
    return 0;
}

int ctl_ring(const ctl_opts_t *o, const char *partition, const char *key)
{
    manifest_t *m = ctl_load_manifest(o);
    if (!m)
        return 2;
    shards_t s;
    s_shards(m, &s);
    unsigned long p = 0;
    if (partition) {
        char *end;
        p = strtoul(partition, &end, 10);
        if (*partition == '\0' || *end != '\0' || p >= m->partitions) {
            fprintf(stderr, "roostctl: --partition must be 0..%u\n", m->partitions - 1);
            free(m);
            return 2;
        }
    }
    if (key)
        p = roost_partition_of(key, strlen(key), m->partitions);
    clustermap_t *map = ctl_fetch_map(o, m, false);
    if (map && clustermap_partitions(map) != m->partitions)
        clustermap_release(&map); /* another cluster's: placement from the manifest */
    if (!map && !o->json)
        printf("(no voter answered: the placement %s implies)\n", m->path);
    int rc = map && (key || partition) ? s_live_one(o, map, (uint32_t)p, key)
             : map                     ? s_live_all(o, map)
             : key || partition        ? s_one(o, m, &s, (uint32_t)p, key)
                                       : s_all(o, m, &s);
    clustermap_release(&map);
    free(m);
    return rc;
}
