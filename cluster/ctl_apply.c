/* cluster/ctl_apply.c — `roostctl apply` and a shard's `roostctl drain`: the manifest's shard
 * nodes (minus a drained one) become the cluster's members. Steps: read the cluster map from a
 * voter; print the plan (partitions whose replica list changes, copies to stream and their
 * estimated bytes, replicas per node before and after); send the manifest to every node (new
 * nodes become peers; the voters propose the members); then follow the map until every
 * partition sits on its new list and every handoff settled, with a progress line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actors/mp.h"
#include "cluster/ctl.h"
#include "runtime/clustermap.h"
#include "runtime/ring.h"

enum { POLL_MS = 500, RESEND_MS = 5000, TIMEOUT_S_DEFAULT = 600, MANIFEST_TEXT_MAX = 256 * 1024 };

typedef struct {
    uint32_t moving;    /* partitions whose list changes */
    uint32_t copies;    /* replica copies to stream (new list members not in the old) */
    uint64_t est_bytes; /* copies × the average size of a copy (from the nodes' disk use) */
    uint32_t before[ROOST_MEMBERS_MAX], after[ROOST_MEMBERS_MAX]; /* per target/old node */
    uint32_t *target;                                             /* partitions × rf member ids */
} plan_t;

/* The members the manifest asks for: its shard nodes minus `drain`. */
static uint32_t s_targets(const manifest_t *m, const char *drain, const char **names, uint32_t *ids)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->n_nodes && n < RING_MEMBERS_MAX; i++) {
        const manifest_node_t *node = &m->nodes[i];
        if (!(node->roles & ROLE_SHARD) || (drain && strcmp(node->name, drain) == 0))
            continue;
        names[n] = node->name;
        ids[n++] = node->id;
    }
    return n;
}

static bool s_has(const uint32_t *list, uint32_t n, uint32_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (list[i] == id)
            return true;
    return false;
}

/* Average bytes of one partition copy, from the shard nodes' disk use and replica counts. */
static uint64_t s_bytes_per_copy(const ctl_opts_t *o, const manifest_t *m)
{
    uint64_t bytes = 0, copies = 0;
    for (uint32_t i = 0; i < m->n_nodes; i++) {
        node_status_t st;
        if ((m->nodes[i].roles & ROLE_SHARD) && ctl_node_status(o, m, &m->nodes[i], &st)) {
            bytes += st.disk_bytes;
            copies += st.replicas;
        }
    }
    return copies ? bytes / copies : 0;
}

static int s_plan(const ctl_opts_t *o, const manifest_t *m, const clustermap_t *map,
                  const char *drain, plan_t *plan)
{
    const char *names[RING_MEMBERS_MAX];
    uint32_t ids[RING_MEMBERS_MAX], rf = clustermap_rf(map), parts = clustermap_partitions(map);
    uint32_t n = s_targets(m, drain, names, ids);
    uint32_t *idx = malloc((size_t)parts * rf * sizeof *idx);
    memset(plan, 0, sizeof *plan);
    plan->target = malloc((size_t)parts * rf * sizeof *plan->target);
    if (!idx || !plan->target || ring_place_all(names, n, parts, rf, idx) != 0) {
        fprintf(stderr, "roostctl: cannot place %u partitions on %u shard nodes (rf %u)\n", parts,
                n, rf);
        free(idx);
        return -1;
    }
    for (uint32_t p = 0; p < parts; p++) {
        uint32_t cur[ROOST_RF_MAX];
        clustermap_replicas_of(map, p, cur, ROOST_RF_MAX);
        uint32_t *t = &plan->target[p * rf], copies = 0;
        for (uint32_t r = 0; r < rf; r++)
            t[r] = ids[idx[p * rf + r]];
        for (uint32_t r = 0; r < rf; r++) {
            copies += !s_has(cur, rf, t[r]);
            plan->after[idx[p * rf + r]]++;
        }
        plan->moving += copies > 0;
        plan->copies += copies;
    }
    free(idx);
    plan->est_bytes = plan->copies * s_bytes_per_copy(o, m);
    return 0;
}

static uint32_t s_replica_count(const clustermap_t *map, uint32_t id)
{
    uint32_t n = 0;
    for (uint32_t p = 0; p < clustermap_partitions(map); p++) {
        uint32_t cur[ROOST_RF_MAX];
        n += s_has(cur, clustermap_replicas_of(map, p, cur, ROOST_RF_MAX), id);
    }
    return n;
}

static void s_print_plan(const ctl_opts_t *o, const manifest_t *m, const clustermap_t *map,
                         const plan_t *plan, const char *drain)
{
    const char *names[RING_MEMBERS_MAX];
    uint32_t ids[RING_MEMBERS_MAX], n = s_targets(m, drain, names, ids);
    if (o->json) {
        printf("{\"plan\":{\"partitions_moving\":%u,\"copies\":%u,\"bytes\":%llu,\"nodes\":[",
               plan->moving, plan->copies, (unsigned long long)plan->est_bytes);
        uint32_t k = 0;
        for (uint32_t i = 0; i < clustermap_member_count(map); i++) {
            const clustermap_member_t *mb = clustermap_member_at(map, i);
            if (!s_has(ids, n, mb->id))
                printf("%s{\"name\":\"%s\",\"before\":%u,\"after\":0}", k++ ? "," : "", mb->name,
                       s_replica_count(map, mb->id));
        }
        for (uint32_t i = 0; i < n; i++)
            printf("%s{\"name\":\"%s\",\"before\":%u,\"after\":%u}", k++ ? "," : "", names[i],
                   s_replica_count(map, ids[i]), plan->after[i]);
        printf("]}");
        return;
    }
    printf("plan: %u of %u partitions change replicas; %u copies to stream (~%.1f MiB)\n",
           plan->moving, clustermap_partitions(map), plan->copies,
           (double)plan->est_bytes / (1024.0 * 1024.0));
    printf("%-20s %-6s %10s %10s\n", "NODE", "ID", "BEFORE", "AFTER");
    for (uint32_t i = 0; i < clustermap_member_count(map); i++) {
        const clustermap_member_t *mb = clustermap_member_at(map, i);
        if (!s_has(ids, n, mb->id))
            printf("%-20s %-6u %10u %10u  (leaves)\n", mb->name, mb->id,
                   s_replica_count(map, mb->id), 0u);
    }
    for (uint32_t i = 0; i < n; i++)
        printf("%-20s %-6u %10u %10u%s\n", names[i], ids[i], s_replica_count(map, ids[i]),
               plan->after[i], clustermap_member_by_id(map, ids[i]) ? "" : "  (joins)");
}

static char *s_read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(MANIFEST_TEXT_MAX + 1);
    *len = buf ? fread(buf, 1, MANIFEST_TEXT_MAX + 1, f) : 0;
    fclose(f);
    if (buf && *len > MANIFEST_TEXT_MAX) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The voter that led the control plane when it took the manifest last ("" if none did). */
static char g_leader[MANIFEST_NAME_BYTES_MAX + 1];

/* Says which voter took the manifest as the leader, or that none leads right now. */
static void s_say_leader(const ctl_opts_t *o, uint32_t took)
{
    if (o->json || !took)
        return;
    if (g_leader[0])
        fprintf(stderr, "roostctl apply: %s leads the control plane and took the manifest\n",
                g_leader);
    else
        fprintf(stderr,
                "roostctl apply: no voter leads right now (an election); the manifest "
                "goes again every %d s until the members are in the map\n",
                RESEND_MS / 1000);
}

/* Sends the manifest to every node of it; the voters' answers decide. 0 when at least one voter
 * took it; else -1 with every refusal said. Only the leader's proposal counts: its name goes to
 * g_leader. */
static int s_send_apply(const ctl_opts_t *o, const manifest_t *m, const char *drain)
{
    size_t tlen = 0;
    char *text = s_read_text(m->path, &tlen);
    if (!text) {
        fprintf(stderr, "roostctl: cannot read %s\n", m->path);
        return -1;
    }
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, drain ? 3 : 2);
    mp_kv_str(&b.pk, "cmd", "apply");
    mp_pack_str(&b.pk, "manifest");
    mp_pack_strn(&b.pk, text, tlen);
    if (drain)
        mp_kv_str(&b.pk, "drain", drain);
    free(text);
    const manifest_node_t *voters[5];
    uint32_t nv = manifest_voters(m, voters, 5), took = 0;
    g_leader[0] = '\0';
    for (uint32_t i = 0; i < m->n_nodes; i++) {
        const manifest_node_t *n = &m->nodes[i];
        size_t len = 0;
        bool refused, ok = false, voter = false;
        if (!n->admin_port)
            continue; /* no admin channel: it learns the nodes when restarted */
        for (uint32_t v = 0; v < nv; v++)
            voter |= voters[v] == n;
        char *raw = ctl_admin_request(o, m, n, b.sb.data, b.sb.size, &len, &refused);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        mp_str_t why = {"no answer (it learns the new nodes when restarted with this manifest)",
                        70};
        bool leader = false;
        if (raw && mp_parse(&up, raw, len) && mp_get_bool(&up.data, "ok", &ok) == MP_OK && !ok)
            mp_get_str(&up.data, "error", 1, 512, &why);
        if (ok)
            took += voter;
        if (ok && voter && mp_get_bool(&up.data, "leader", &leader) == MP_OK && leader)
            snprintf(g_leader, sizeof g_leader, "%s", n->name);
        else
            fprintf(stderr, "roostctl apply: %s: %.*s\n", n->name, (int)why.len, why.ptr);
        msgpack_unpacked_destroy(&up);
        free(raw);
    }
    mp_buf_fini(&b);
    s_say_leader(o, took);
    return took ? 0 : -1;
}

/* Whether every partition sits on its target list with no handoff left. */
static uint32_t s_left(const clustermap_t *map, const plan_t *plan)
{
    uint32_t rf = clustermap_rf(map), left = 0;
    for (uint32_t p = 0; p < clustermap_partitions(map); p++) {
        uint32_t cur[ROOST_RF_MAX], other[ROOST_RF_MAX];
        clustermap_replicas_of(map, p, cur, ROOST_RF_MAX);
        bool placed = true;
        for (uint32_t r = 0; r < rf; r++)
            placed &= s_has(cur, rf, plan->target[p * rf + r]);
        left += !placed || clustermap_next_of(map, p, other, ROOST_RF_MAX) ||
                clustermap_prev_of(map, p, other, ROOST_RF_MAX);
    }
    return left;
}

static void s_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Whether the map's configured members (a leaving one stays listed, unconfigured, until its
 * copies have moved) are already the ones the manifest asks for. */
static bool s_members_in(const clustermap_t *map, const manifest_t *m, const char *drain)
{
    const char *names[RING_MEMBERS_MAX];
    uint32_t ids[RING_MEMBERS_MAX], n = s_targets(m, drain, names, ids), configured = 0;
    for (uint32_t i = 0; i < clustermap_member_count(map); i++) {
        const clustermap_member_t *mb = clustermap_member_at(map, i);
        if (!mb->configured)
            continue;
        if (!s_has(ids, n, mb->id))
            return false;
        configured++;
    }
    return configured == n;
}

/* Follows the map until nothing is left to move; 0, or 1 on timeout. While the map's members
 * are not yet the manifest's, the manifest is sent again every RESEND_MS: only the leader's
 * proposal counts, and one sent while the voters were electing a leader (right after a voter
 * restarted) was taken by followers and lost — the drain then waited out its whole timeout
 * (test_handoff, session 18). Sending it again is harmless: known nodes are skipped and the
 * same members change nothing. */
static int s_follow(const ctl_opts_t *o, const manifest_t *m, const plan_t *plan, const char *drain,
                    unsigned timeout_s, uint32_t *left_out)
{
    time_t until = time(NULL) + timeout_s;
    uint32_t left = plan->moving;
    long since_sent_ms = 0;
    while (time(NULL) < until) {
        clustermap_t *map = ctl_fetch_map(o, m, true);
        if (map) {
            left = s_left(map, plan);
            if (left && !s_members_in(map, m, drain) && since_sent_ms >= RESEND_MS) {
                if (!o->json)
                    fprintf(stderr, "\rroostctl apply: the members are not in the map yet: "
                                    "sending the manifest again\n");
                s_send_apply(o, m, drain);
                since_sent_ms = 0;
            }
            clustermap_release(&map);
        }
        if (!o->json)
            fprintf(stderr, "\rhandoff: %u/%u partitions moved",
                    plan->moving - (left < plan->moving ? left : plan->moving), plan->moving);
        if (left == 0)
            break;
        s_sleep_ms(POLL_MS);
        since_sent_ms += POLL_MS;
    }
    if (!o->json)
        fprintf(stderr, "\n");
    *left_out = left;
    return left == 0 ? 0 : 1;
}

int ctl_apply(const ctl_opts_t *o, bool dry_run, unsigned timeout_s, const char *drain)
{
    manifest_t *m = ctl_load_manifest(o);
    if (!m)
        return 2;
    clustermap_t *map = ctl_fetch_map(o, m, true);
    plan_t plan = {0};
    int rc = 1;
    if (map && s_plan(o, m, map, drain, &plan) == 0) {
        s_print_plan(o, m, map, &plan, drain);
        if (dry_run) {
            rc = 0;
            if (o->json)
                printf("}\n");
        } else if (s_send_apply(o, m, drain) != 0) {
            fprintf(stderr, "roostctl apply: no voter took the manifest\n");
            if (o->json)
                printf(",\"done\":false}\n");
        } else {
            uint32_t left = 0;
            rc = s_follow(o, m, &plan, drain, timeout_s ? timeout_s : TIMEOUT_S_DEFAULT, &left);
            if (o->json)
                printf(",\"done\":%s,\"left\":%u,\"leader\":\"%s\"}\n", rc == 0 ? "true" : "false",
                       left, g_leader);
            else if (rc == 0)
                printf("applied: every partition is on its new replicas%s%s%s\n", drain ? "; " : "",
                       drain ? drain : "", drain ? " holds none now" : "");
            else
                fprintf(stderr, "roostctl apply: %u partitions still moving after %u s\n", left,
                        timeout_s ? timeout_s : TIMEOUT_S_DEFAULT);
        }
    }
    free(plan.target);
    clustermap_release(&map);
    free(m);
    return rc;
}
