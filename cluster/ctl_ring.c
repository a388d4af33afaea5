/* cluster/ctl_ring.c — `roostctl ring`: where the manifest's partitions live. Placement is a
 * pure function of the configured shard members (runtime/ring.h), so this needs no running
 * cluster: per node, how many partitions it holds a replica of and for how many it is the
 * preferred primary; or one partition's (or one key's) replica list, preferred primary first.
 * (Which replica is primary right now is the cluster map's: `roostctl status`, not built yet.) */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/ctl.h"
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

int ctl_ring(const ctl_opts_t *o, const char *partition, const char *key)
{
    manifest_t *m = ctl_load_manifest(o);
    if (!m)
        return 2;
    shards_t s;
    s_shards(m, &s);
    int rc;
    if (key) {
        rc = s_one(o, m, &s, roost_partition_of(key, strlen(key), m->partitions), key);
    } else if (partition) {
        char *end;
        unsigned long p = strtoul(partition, &end, 10);
        if (*partition == '\0' || *end != '\0' || p >= m->partitions) {
            fprintf(stderr, "roostctl: --partition must be 0..%u\n", m->partitions - 1);
            free(m);
            return 2;
        }
        rc = s_one(o, m, &s, (uint32_t)p, NULL);
    } else {
        rc = s_all(o, m, &s);
    }
    free(m);
    return rc;
}
