/* runtime/clustermap_internal.h — the cluster map's layout, shared by clustermap.c (content,
 * invariants, commands, queries) and clustermap_codec.c (the msgpack encodings). */
#ifndef ROOST_CLUSTERMAP_INTERNAL_H
#define ROOST_CLUSTERMAP_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "runtime/clustermap.h"

typedef struct {
    uint64_t epoch;
    uint32_t primary;
    uint32_t replicas[ROOST_RF_MAX];
    uint32_t next[ROOST_RF_MAX]; /* all ROOST_NO_PRIMARY: no handoff planned */
    uint32_t prev[ROOST_RF_MAX]; /* all ROOST_NO_PRIMARY: settled */
} part_t;

struct clustermap {
    atomic_uint refs;
    uint64_t version;
    uint32_t partitions;
    uint32_t rf;
    uint32_t n_members;
    clustermap_member_t members[ROOST_MEMBERS_MAX];
    part_t parts[]; /* `partitions` records */
};

/* P a power of two within bounds, rf within bounds. */
bool clustermap_shape_valid(uint32_t partitions, uint32_t rf);
/* Ids and names valid and distinct. */
bool clustermap_members_valid(const clustermap_member_t *members, uint32_t n);
/* Every invariant clustermap.h lists. */
bool clustermap_invariants(const clustermap_t *map);

#endif
