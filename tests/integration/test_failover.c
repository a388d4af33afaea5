/* tests/integration/test_failover.c — failure detection of killed roostd processes.
 *
 * Three shard nodes from a generated manifest (free 127.0.0.1 ports, a mkdtemp data root,
 * default detector settings: heartbeats every 500 ms, down after 5 s). Scenario, in order:
 *   1. all three apply the initial map; every partition has a primary;
 *   2. kill -9 of a follower: the survivors commit a map with it DOWN within 5 s (+ slack for
 *      sanitizers) and every partition again has a live primary;
 *   3. the killed node restarts and rejoins as a replica: a map with nobody DOWN, and it is
 *      primary of nothing (primaries never move back);
 *   4. kill -9 of the Raft leader: a new leader, the old one DOWN, every partition led;
 *   5. every (version, digest) pair seen by two nodes agrees; survivors stop cleanly on SIGTERM.
 * roostd's path comes from $ROOSTD. Only pids started here are signalled; every wait is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/support/ports.h"
#include "tests/support/procs.h"
#include "tests/support/tmpdir.h"

enum {
    N = 3,
    P = 64,
    MAPS_MAX = 512,
    START_WAIT_MS = 20000,
    DOWN_BOUND_MS = 5000, /* the default down_after_ms: the contract under test */
    DOWN_SLACK_MS = 3000, /* commit + sanitizer slowness on a 2-core machine */
    REJOIN_WAIT_MS = 15000,
};

typedef struct {
    uint64_t version, digest;
    uint32_t leader, primaries;
    char down[128];
} map_t;

typedef struct {
    proc_t proc;
    int id;
    map_t maps[MAPS_MAX];
    int nmaps;
} node_t;

typedef struct {
    char dir[64];
    char manifest[96];
    int ports[N][3];
    node_t nodes[N];
} world_t;

static world_t *W;

static const char *s_field(const char *line, const char *key, char *out, size_t cap)
{
    const char *at = strstr(line, key);
    if (!at)
        return NULL;
    at += strlen(key);
    size_t n = strcspn(at, " ");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, at, n);
    out[n] = '\0';
    return out;
}

static void s_on_line(void *arg, const char *line)
{
    node_t *n = arg;
    if (!strstr(line, "msg=\"map applied\"") || n->nmaps == MAPS_MAX)
        return;
    map_t *m = &n->maps[n->nmaps];
    char v[64];
    if (!s_field(line, " version=", v, sizeof v))
        return;
    m->version = strtoull(v, NULL, 10);
    m->digest = strtoull(s_field(line, " digest=", v, sizeof v) ? v : "0", NULL, 16);
    m->leader = (uint32_t)strtoul(s_field(line, " leader=", v, sizeof v) ? v : "0", NULL, 10);
    m->primaries = (uint32_t)strtoul(s_field(line, " primaries=", v, sizeof v) ? v : "0", NULL, 10);
    s_field(line, " down=", m->down, sizeof m->down);
    n->nmaps++;
}

static void s_pump(void)
{
    for (int i = 0; i < N; i++)
        proc_read_lines(&W->nodes[i].proc, s_on_line, &W->nodes[i]);
}

static const map_t *s_last(int i)
{
    node_t *n = &W->nodes[i];
    return n->nmaps ? &n->maps[n->nmaps - 1] : NULL;
}

static void s_write_manifest(void)
{
    FILE *f = fopen(W->manifest, "w");
    assert_non_null(f);
    fprintf(f,
            "apiVersion: roost/v1\ncluster: {name: t, partitions: %d, replication_factor: 3}\n"
            "runtime: {workers: 1, heartbeat_ms: 500, down_after_ms: %d}\nnodes:\n",
            P, DOWN_BOUND_MS);
    for (int i = 0; i < N; i++)
        fprintf(f,
                "  - {name: s%d, id: %d, roles: [shard], host: 127.0.0.1, peer_port: %d,"
                " raft_port: %d, admin_port: %d, data_dir: s%d}\n",
                i + 1, i + 1, W->ports[i][0], W->ports[i][1], W->ports[i][2], i + 1);
    fclose(f);
}

static void s_start(int i)
{
    char name[16], log[128];
    snprintf(name, sizeof name, "s%d", i + 1);
    snprintf(log, sizeof log, "%s/s%d.log", W->dir, i + 1);
    char *argv[] = {getenv("ROOSTD"), "--manifest", W->manifest, "--node", name,
                    "--data-root",    W->dir,       NULL};
    assert_true(proc_spawn(&W->nodes[i].proc, argv, log));
    W->nodes[i].id = i + 1;
}

/* All `live` nodes are at the same map version, its DOWN list is `down`, and the live nodes
 * together lead every partition. */
static bool s_settled(const bool *live, const char *down)
{
    uint64_t version = 0;
    uint32_t led = 0;
    for (int i = 0; i < N; i++) {
        if (!live[i])
            continue;
        const map_t *m = s_last(i);
        if (!m || strcmp(m->down, down) != 0 || (version && m->version != version))
            return false;
        version = m->version;
        led += m->primaries;
    }
    return led == P;
}

static bool s_wait_settled(const bool *live, const char *down, uint64_t deadline_ms,
                           uint64_t *when_ms)
{
    while (proc_now_ms() < deadline_ms) {
        s_pump();
        if (s_settled(live, down)) {
            *when_ms = proc_now_ms();
            return true;
        }
        proc_sleep_ms(20);
    }
    return false;
}

static int s_leader(const bool *live)
{
    for (int i = 0; i < N; i++)
        if (live[i] && s_last(i) && s_last(i)->leader)
            return (int)s_last(i)->leader - 1;
    return -1;
}

static void s_kill(int i)
{
    proc_stop(&W->nodes[i].proc, SIGKILL, 1000);
}

static int setup(void **state)
{
    (void)state;
    assert_non_null(getenv("ROOSTD"));
    W = calloc(1, sizeof *W);
    snprintf(W->dir, sizeof W->dir, "/tmp/roost-failover-XXXXXX");
    assert_non_null(mkdtemp(W->dir));
    snprintf(W->manifest, sizeof W->manifest, "%s/cluster.yaml", W->dir);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < 3; k++)
            W->ports[i][k] = test_free_port();
    s_write_manifest();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < N; i++)
        if (W->nodes[i].proc.pid > 0)
            proc_stop(&W->nodes[i].proc, SIGKILL, 1000);
    test_rmtree(W->dir);
    free(W);
    return 0;
}

static void s_check_histories_agree(void)
{
    for (int a = 0; a < N; a++)
        for (int b = a + 1; b < N; b++)
            for (int i = 0; i < W->nodes[a].nmaps; i++)
                for (int j = 0; j < W->nodes[b].nmaps; j++) {
                    const map_t *x = &W->nodes[a].maps[i], *y = &W->nodes[b].maps[j];
                    if (x->version == y->version && x->digest != y->digest)
                        fail_msg("s%d and s%d disagree at version %llu", a + 1, b + 1,
                                 (unsigned long long)x->version);
                }
}

static void test_killed_nodes_are_declared_down_and_rejoin(void **state)
{
    (void)state;
    bool live[N] = {true, true, true};
    uint64_t at;
    for (int i = 0; i < N; i++)
        s_start(i);
    assert_true(s_wait_settled(live, "[]", proc_now_ms() + START_WAIT_MS, &at));

    int leader = s_leader(live);
    assert_true(leader >= 0);
    int victim = (leader + 1) % N;
    char down[16];
    snprintf(down, sizeof down, "[s%d]", victim + 1);
    uint64_t killed = proc_now_ms();
    s_kill(victim);
    live[victim] = false;
    assert_true(s_wait_settled(live, down, killed + DOWN_BOUND_MS + DOWN_SLACK_MS, &at));
    fprintf(stderr, "follower s%d declared down after %llu ms\n", victim + 1,
            (unsigned long long)(at - killed));

    s_start(victim);
    live[victim] = true;
    assert_true(s_wait_settled(live, "[]", proc_now_ms() + REJOIN_WAIT_MS, &at));
    assert_int_equal(s_last(victim)->primaries, 0); /* back as a replica only */

    leader = s_leader(live);
    assert_true(leader >= 0);
    snprintf(down, sizeof down, "[s%d]", leader + 1);
    killed = proc_now_ms();
    s_kill(leader);
    live[leader] = false;
    assert_true(s_wait_settled(live, down, killed + DOWN_BOUND_MS + DOWN_SLACK_MS, &at));
    fprintf(stderr, "leader s%d declared down after %llu ms\n", leader + 1,
            (unsigned long long)(at - killed));
    int new_leader = s_leader(live);
    assert_true(new_leader >= 0 && new_leader != leader);

    s_check_histories_agree();
    for (int i = 0; i < N; i++) {
        if (!live[i])
            continue;
        int status = proc_stop(&W->nodes[i].proc, SIGTERM, 10000);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_killed_nodes_are_declared_down_and_rejoin, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
