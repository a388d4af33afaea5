/* cluster/ctl_admin.c — roostctl's commands over the nodes' admin channels (cluster/admin.h):
 * `status` (one row per node), `metrics [NODE]` (Prometheus text) and `drain NODE` (with
 * progress until the node is empty). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actors/mp.h"
#include "cluster/admin.h"
#include "cluster/ctl.h"
#include "cluster/curve_keys.h"
#include "runtime/clustermap.h"

enum { CALL_MS = 1500, POLL_MS = 500 };

/* The operator's key pair, loaded once: --cert, or the first operator of the manifest whose
 * secret half is readable here. false (said once) when there is none. */
static bool s_operator_pair(const ctl_opts_t *o, const manifest_t *m, curve_pair_t *out)
{
    static int state; /* 0 not tried, 1 loaded, -1 none */
    static curve_pair_t pair;
    if (state == 0) {
        char err[512] = "";
        state = -1;
        if (o->cert)
            state = curve_load_pair(o->data_dir, o->cert, &pair, err, sizeof err) == 0 ? 1 : -1;
        for (uint32_t i = 0; !o->cert && state != 1 && i < m->security.n_operators; i++)
            if (m->security.operators[i].cert[0] &&
                curve_load_pair(o->data_dir, m->security.operators[i].cert, &pair, err,
                                sizeof err) == 0)
                state = 1;
        if (state != 1)
            fprintf(stderr,
                    "roostctl: security.curve is on and no operator certificate could be read "
                    "(--cert PATH, or an operator's cert in the manifest)%s%s\n",
                    err[0] ? ": " : "", err);
    }
    *out = pair;
    return state == 1;
}

/* admin_request with CURVE when the manifest says so; NULL when the node did not answer. */
char *ctl_admin_request(const ctl_opts_t *o, const manifest_t *m, const manifest_node_t *n,
                        const void *req, size_t req_len, size_t *len, bool *refused)
{
    *refused = false;
    if (!n->admin_port)
        return NULL;
    admin_client_curve_t cc = {.on = m->security.curve};
    curve_pair_t op;
    char err[512] = "";
    if (cc.on) {
        if (!s_operator_pair(o, m, &op))
            return NULL;
        if (curve_public_key(o->data_dir, n->curve_public, n->curve_cert, cc.server_key, err,
                             sizeof err) != 0) {
            fprintf(stderr, "roostctl: %s: no CURVE public key: %s\n", n->name, err);
            return NULL;
        }
        memcpy(cc.public_key, op.public_key, sizeof cc.public_key);
        memcpy(cc.secret_key, op.secret_key, sizeof cc.secret_key);
    }
    char *raw = admin_request(n->host, n->admin_port, req, req_len, CALL_MS, len, &cc, refused);
    if (*refused)
        fprintf(stderr, "roostctl: %s refused our operator key (not in security.operators of %s)\n",
                n->name, m->path);
    return raw;
}

static char *s_call(const ctl_opts_t *o, const manifest_t *m, const manifest_node_t *n,
                    const char *cmd, size_t *len, bool *refused)
{
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 1);
    mp_kv_str(&b.pk, "cmd", cmd);
    char *raw = ctl_admin_request(o, m, n, b.sb.data, b.sb.size, len, refused);
    mp_buf_fini(&b);
    return raw;
}

bool ctl_node_status(const ctl_opts_t *o, const manifest_t *m, const manifest_node_t *n,
                     node_status_t *st)
{
    memset(st, 0, sizeof *st);
    size_t len = 0;
    char *raw = s_call(o, m, n, "status", &len, &st->refused);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    bool ok = false;
    if (raw && mp_parse(&up, raw, len) && mp_get_bool(&up.data, "ok", &ok) == MP_OK && ok) {
        mp_str_t roles;
        if (mp_get_str(&up.data, "roles", 1, sizeof st->roles - 1, &roles) == MP_OK)
            mp_str_copy(roles, st->roles, sizeof st->roles);
        mp_get_u64(&up.data, "pid", &st->pid);
        mp_get_u64(&up.data, "map_version", &st->map_version);
        mp_get_u64(&up.data, "actors", &st->actors);
        mp_get_u64(&up.data, "messages", &st->messages);
        mp_get_u64(&up.data, "connections", &st->connections);
        mp_get_bool(&up.data, "draining", &st->draining);
        mp_get_bool(&up.data, "drained", &st->drained);
        mp_get_u64(&up.data, "peer_refused", &st->peer_refused);
        mp_get_u64(&up.data, "admin_refused", &st->admin_refused);
        mp_get_u64(&up.data, "term", &st->term);
        mp_get_u64(&up.data, "primaries", &st->primaries);
        mp_get_u64(&up.data, "replicas", &st->replicas);
        mp_get_u64(&up.data, "msgs_per_s", &st->msgs_per_s);
        mp_get_u64(&up.data, "disk_bytes", &st->disk_bytes);
        mp_get_u64(&up.data, "disk_free_bytes", &st->disk_free_bytes);
        mp_str_t raft, disk;
        if (mp_get_str(&up.data, "raft", 1, sizeof st->raft - 1, &raft) == MP_OK)
            mp_str_copy(raft, st->raft, sizeof st->raft);
        if (mp_get_str(&up.data, "disk", 1, sizeof st->disk - 1, &disk) == MP_OK)
            mp_str_copy(disk, st->disk, sizeof st->disk);
        st->up = true;
    }
    msgpack_unpacked_destroy(&up);
    free(raw);
    return st->up;
}

static const char *s_role(const manifest_node_t *n)
{
    return (n->roles & ROLE_SHARD) && (n->roles & ROLE_EDGE) ? "shard,edge"
           : (n->roles & ROLE_SHARD)                         ? "shard"
                                                             : "edge";
}

/* 1536 → "1.5K"; bytes and counts in tables. */
static void s_human(uint64_t v, char out[16])
{
    const char *unit = " KMGTP";
    double x = (double)v;
    int u = 0;
    while (x >= 1000 && u < 5) {
        x /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, 16, "%llu", (unsigned long long)v);
    else
        snprintf(out, 16, "%.1f%c", x, unit[u]);
}

static const char *s_status_word(bool up, const node_status_t *st)
{
    return st->refused ? "refused" : !up ? "down" : st->draining ? "draining" : "up";
}

static void s_row_json(uint32_t i, const manifest_node_t *n, bool up, const node_status_t *st)
{
    printf("%s{\"name\":\"%s\",\"role\":\"%s\",\"address\":\"%s:%u\",\"status\":\"%s\","
           "\"pid\":%llu,\"map_version\":%llu,\"raft\":\"%s\",\"term\":%llu,"
           "\"partitions\":{\"primary\":%llu,\"replica\":%llu},\"actors\":%llu,"
           "\"messages\":%llu,\"msgs_per_s\":%llu,\"connections\":%llu,\"disk\":\"%s\","
           "\"disk_bytes\":%llu,\"disk_free_bytes\":%llu,"
           "\"peer_refused\":%llu,\"admin_refused\":%llu}",
           i ? "," : "", n->name, s_role(n), n->host, n->peer_port, s_status_word(up, st),
           (unsigned long long)st->pid, (unsigned long long)st->map_version,
           st->raft[0] ? st->raft : "none", (unsigned long long)st->term,
           (unsigned long long)st->primaries, (unsigned long long)st->replicas,
           (unsigned long long)st->actors, (unsigned long long)st->messages,
           (unsigned long long)st->msgs_per_s, (unsigned long long)st->connections,
           st->disk[0] ? st->disk : "none", (unsigned long long)st->disk_bytes,
           (unsigned long long)st->disk_free_bytes, (unsigned long long)st->peer_refused,
           (unsigned long long)st->admin_refused);
}

static void s_header(void)
{
    printf("%-12s %-6s %-21s %-8s %-7s %-10s %-5s %-11s %-7s %-7s %-7s %-7s %-8s\n", "NAME", "ROLE",
           "ADDRESS", "STATUS", "PID", "RAFT", "TERM", "PARTITIONS", "ACTORS", "CONNS", "MSG/S",
           "DISK", "FREE");
}

static void s_row(const manifest_node_t *n, bool up, const node_status_t *st)
{
    char addr[MANIFEST_HOST_BYTES_MAX + 8], parts[24], actors[16], conns[16], rate[16], disk[16],
        free_[24];
    snprintf(addr, sizeof addr, "%s:%u", n->host, n->peer_port);
    snprintf(parts, sizeof parts, "%llu/%llu", (unsigned long long)st->primaries,
             (unsigned long long)st->replicas);
    s_human(st->actors, actors);
    s_human(st->connections, conns);
    s_human(st->msgs_per_s, rate);
    s_human(st->disk_bytes, disk);
    s_human(st->disk_free_bytes, free_);
    if (strcmp(st->disk, "low-headroom") == 0) /* a full compaction may not fit */
        strcat(free_, "(low)");
    bool store = up && strcmp(st->disk, "none") != 0;
    printf("%-12s %-6s %-21s %-8s %-7llu %-10s %-5llu %-11s %-7s %-7s %-7s %-7s %-8s\n", n->name,
           s_role(n), addr, strcmp(st->disk, "read-only") == 0 ? "readonly" : s_status_word(up, st),
           (unsigned long long)st->pid, up ? (st->raft[0] ? st->raft : "none") : "-",
           (unsigned long long)st->term, up ? parts : "-", actors, conns, rate, up ? disk : "-",
           store ? free_ : "-");
}

/* One status round: a table (or one JSON line); the number of nodes down. */
static uint32_t s_status_round(const ctl_opts_t *o, const manifest_t *m)
{
    if (o->json)
        printf("{\"cluster\":\"%s\",\"nodes\":[", m->cluster_name);
    else
        s_header();
    uint32_t down = 0;
    for (uint32_t i = 0; i < m->n_nodes; i++) {
        const manifest_node_t *n = &m->nodes[i];
        node_status_t st;
        bool up = ctl_node_status(o, m, n, &st);
        down += up ? 0 : 1;
        if (o->json)
            s_row_json(i, n, up, &st);
        else
            s_row(n, up, &st);
    }
    if (o->json)
        printf("],\"down\":%u}\n", down);
    fflush(stdout);
    return down;
}

int ctl_status(const ctl_opts_t *o)
{
    manifest_t *m = ctl_load_manifest(o);
    if (!m)
        return 2;
    s_status_round(o, m);
    free(m);
    return 0;
}

int ctl_top(const ctl_opts_t *o, uint64_t rounds)
{
    manifest_t *m = ctl_load_manifest(o);
    if (!m)
        return 2;
    for (uint64_t r = 0; rounds == 0 || r < rounds; r++) {
        if (r)
            usleep(1000000);
        if (!o->json) /* clear the screen and go home, like top(1) */
            printf("\033[H\033[2J%s — %s — every 1 s, Ctrl-C to quit\n\n", m->cluster_name,
                   m->path);
        s_status_round(o, m);
    }
    free(m);
    return 0;
}

/* One node's Prometheus text, prefixed by a comment naming it; false if it did not answer. */
static bool s_metrics_of(const ctl_opts_t *o, const manifest_t *m, const manifest_node_t *n)
{
    size_t len = 0;
    bool refused;
    char *raw = s_call(o, m, n, "metrics", &len, &refused);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    mp_str_t text;
    bool ok = raw && mp_parse(&up, raw, len) &&
              mp_get_str(&up.data, "text", 0, 64 * 1024 * 1024, &text) == MP_OK;
    if (ok)
        printf("# node: %s\n%.*s", n->name, (int)text.len, text.ptr);
    else
        fprintf(stderr, "roostctl metrics: %s did not answer on its admin port\n", n->name);
    msgpack_unpacked_destroy(&up);
    free(raw);
    return ok;
}

int ctl_metrics(const ctl_opts_t *o, const char *node)
{
    manifest_t *m = ctl_load_manifest(o);
    if (!m)
        return 2;
    int rc = 0;
    if (node && !manifest_node(m, node)) {
        fprintf(stderr, "roostctl metrics: %s: no such node in %s\n", node, m->path);
        rc = 2;
    }
    for (uint32_t i = 0; i < m->n_nodes && rc != 2; i++)
        if (!node || strcmp(node, m->nodes[i].name) == 0)
            rc |= s_metrics_of(o, m, &m->nodes[i]) ? 0 : 1;
    free(m);
    return rc;
}

static uint64_t s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Polls until the node is empty or gone; progress on stderr. 0 drained, 1 not. */
static int s_follow(const ctl_opts_t *o, const manifest_t *m, const manifest_node_t *n)
{
    uint64_t deadline = s_now_ms() + m->edge.drain_deadline_ms + 10000;
    uint64_t last = UINT64_MAX;
    while (s_now_ms() < deadline) {
        node_status_t st;
        if (!ctl_node_status(o, m, n, &st) || st.drained) { /* a drained edge exits */
            if (o->json)
                printf("{\"node\":\"%s\",\"drained\":true}\n", n->name);
            else
                printf("roostctl drain: %s drained\n", n->name);
            return 0;
        }
        if (st.connections != last)
            fprintf(stderr, "roostctl drain: %s: %llu connection(s) left\n", n->name,
                    (unsigned long long)st.connections);
        last = st.connections;
        usleep(POLL_MS * 1000);
    }
    fprintf(stderr, "roostctl drain: %s still has connections after the deadline\n", n->name);
    return 1;
}

int ctl_drain(const ctl_opts_t *o, const char *node)
{
    manifest_t *m = ctl_load_manifest(o);
    if (!m)
        return 2;
    const manifest_node_t *n = node ? manifest_node(m, node) : NULL;
    int rc = 2;
    if (n && (n->roles & ROLE_SHARD) && !(n->roles & ROLE_EDGE)) {
        free(m);
        return ctl_apply(o, false, o->timeout_s, node);
    }
    if (!n) {
        fprintf(stderr, "roostctl drain: %s: no such node in %s\n", node ? node : "(none)",
                m->path);
    } else if (!n->admin_port) {
        fprintf(stderr, "roostctl drain: %s has no admin_port in %s\n", n->name, m->path);
    } else {
        size_t len = 0;
        bool refused;
        char *raw = s_call(o, m, n, "drain", &len, &refused);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        bool ok = false;
        mp_str_t why = refused ? (mp_str_t){"our operator key was refused", 28}
                               : (mp_str_t){"no answer from its admin port", 29};
        if (raw && mp_parse(&up, raw, len) && mp_get_bool(&up.data, "ok", &ok) == MP_OK && !ok)
            mp_get_str(&up.data, "error", 1, 256, &why);
        if (ok)
            rc = s_follow(o, m, n);
        else {
            fprintf(stderr, "roostctl drain: %s: %.*s\n", n->name, (int)why.len, why.ptr);
            rc = 1;
        }
        msgpack_unpacked_destroy(&up);
        free(raw);
    }
    free(m);
    return rc;
}

clustermap_t *ctl_fetch_map(const ctl_opts_t *o, const manifest_t *m, bool say)
{
    const manifest_node_t *voters[5];
    uint32_t nv = manifest_voters(m, voters, 5);
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_map(&b.pk, 1);
    mp_kv_str(&b.pk, "cmd", "map");
    clustermap_t *map = NULL;
    for (uint32_t i = 0; i < nv && !map; i++) {
        size_t len = 0;
        bool refused;
        char *raw = ctl_admin_request(o, m, voters[i], b.sb.data, b.sb.size, &len, &refused);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        mp_str_t bytes;
        if (raw && mp_parse(&up, raw, len) &&
            mp_get_bin(&up.data, "map", 64u << 20, &bytes) == MP_OK)
            clustermap_decode(bytes.ptr, bytes.len, &map);
        msgpack_unpacked_destroy(&up);
        free(raw);
    }
    mp_buf_fini(&b);
    if (!map && say)
        fprintf(stderr, "roostctl: no voter of %s answered with the cluster map\n", m->path);
    return map;
}
