/* tests/support/msg_cluster.h — three real `roostd` shard processes (RF 3, QUORUM) on
 * loopback plus a client node in this process (the store probe's node) hosting the test
 * sessions (sessions.h): the same world API as msg_world.h, so the messaging tests run
 * unchanged over real processes. Also: fault files, a node's served partitions (from its map
 * lines), and kill/restart. $ROOSTD names the daemon; $ROOST_KEEP_TMP keeps the data.
 * Header-only, one test file at a time. */
#ifndef ROOST_TEST_MSG_CLUSTER_H
#define ROOST_TEST_MSG_CLUSTER_H

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "actors/actors.h"
#include "cluster/manifest.h"
#include "cluster/probe.h"
#include "runtime/hash.h"
#include "tests/support/ports.h"
#include "tests/support/procs.h"
#include "tests/support/sessions.h"
#include "tests/support/tmpdir.h"

enum { MW_N = 3, MW_P = 32, MW_CLIENT = 11 };

typedef struct {
    char dir[64], manifest[96];
    int ports[MW_N + 1][3];
    proc_t proc[MW_N + 1];
    char serving[MW_N + 1][600]; /* each node's latest map line: its serving=[…] */
    char faults[MW_N + 1][96];
    manifest_t m;
    probe_t *probe;
    roost_node_t *node;  /* the client node */
    actors_config_t cfg; /* written into the manifest's messaging section */
} msg_world_t;

static msg_world_t *MW;

static void mw_on_line(void *arg, const char *line)
{
    int i = (int)(intptr_t)arg;
    if (!strstr(line, "msg=\"map applied\""))
        return;
    const char *s = strstr(line, " serving=[");
    MW->serving[i][0] = '\0';
    if (s)
        sscanf(s + 10, "%599[^]]", MW->serving[i]);
}

static void mw_pump(void)
{
    for (int i = 1; i <= MW_N; i++)
        if (MW->proc[i].pid > 0)
            proc_read_lines(&MW->proc[i], mw_on_line, (void *)(intptr_t)i);
}

/* The live node whose latest map serves partition p (0 if none known). */
static inline int mw_primary_of(uint32_t p)
{
    mw_pump();
    for (int i = 1; i <= MW_N; i++) {
        if (MW->proc[i].pid <= 0)
            continue;
        char list[620], want[16];
        snprintf(list, sizeof list, ",%s,", MW->serving[i]);
        snprintf(want, sizeof want, ",%u,", p);
        if (strstr(list, want))
            return i;
    }
    return 0;
}

/* True once the live nodes' latest maps give every partition a primary. */
static inline bool mw_all_served(void)
{
    mw_pump();
    bool served[MW_P] = {false};
    for (int i = 1; i <= MW_N; i++) {
        if (MW->proc[i].pid <= 0)
            continue;
        for (const char *c = MW->serving[i]; *c;) {
            unsigned p = (unsigned)strtoul(c, (char **)&c, 10);
            if (p < MW_P)
                served[p] = true;
            while (*c && (*c < '0' || *c > '9'))
                c++;
        }
    }
    for (uint32_t p = 0; p < MW_P; p++)
        if (!served[p])
            return false;
    return true;
}

/* Writes node i's fault file (cluster/faults.h): "hold-fanout", "block 2 3", "" … */
static inline void mw_fault(int i, const char *what)
{
    FILE *f = fopen(MW->faults[i], "w");
    assert_non_null(f);
    fputs(what, f);
    fclose(f);
}

/* Every node's conversations acknowledge and deliver nothing (or deliver again): the fault
 * files are read on the daemons' ticks, so this waits for them. */
static inline void mw_hold_fanout(bool hold)
{
    for (int i = 1; i <= MW_N; i++)
        mw_fault(i, hold ? "hold-fanout" : "");
    proc_sleep_ms(1500);
}

static void mw_start(int i)
{
    char name[16], log[128];
    snprintf(name, sizeof name, "s%d", i);
    snprintf(log, sizeof log, "%s/s%d.log", MW->dir, i);
    char *argv[] = {getenv("ROOSTD"), "--manifest", MW->manifest, "--node", name,
                    "--data-root",    MW->dir,      NULL};
    setenv("ROOST_FAULTS", MW->faults[i], 1);
    assert_true(proc_spawn(&MW->proc[i], argv, log));
    unsetenv("ROOST_FAULTS");
}

static inline void mw_kill(int i)
{
    proc_stop(&MW->proc[i], SIGKILL, 1000);
}

/* Requests go through shard i from now on (it forwards to each partition's primary). */
static void mw_route(int i)
{
    probe_route(MW->probe, (uint32_t)i);
}

static void mw_write_manifest(void)
{
    FILE *f = fopen(MW->manifest, "w");
    assert_non_null(f);
    fprintf(f,
            "apiVersion: roost/v1\n"
            "cluster: {name: t, partitions: %d, replication_factor: 3, consistency: QUORUM}\n"
            "runtime: {workers: 2, heartbeat_ms: 200, down_after_ms: 1500}\n"
            "messaging: {retention_count: %u, group_max_members: %u}\nnodes:\n",
            MW_P, MW->cfg.retention_count, MW->cfg.group_max_members);
    for (int i = 1; i <= MW_N; i++)
        fprintf(f,
                "  - {name: s%d, id: %d, roles: [shard], host: 127.0.0.1, peer_port: %d,"
                " raft_port: %d, data_dir: s%d}\n",
                i, i, MW->ports[i][0], MW->ports[i][1], i);
    fprintf(f,
            "  - {name: client, id: %d, roles: [edge], host: 127.0.0.1, peer_port: %d,"
            " client_port: %d}\n",
            MW_CLIENT, MW->ports[0][0], MW->ports[0][1]);
    fclose(f);
    char err[MANIFEST_ERR_BYTES_MAX];
    assert_int_equal(manifest_load(MW->manifest, &MW->m, err, sizeof err), 0);
}

/* Starts the shards and the client node, and waits until a phone can be claimed. */
static void mw_open(bool fresh)
{
    if (fresh) {
        assert_non_null(getenv("ROOSTD"));
        MW = calloc(1, sizeof *MW);
        snprintf(MW->dir, sizeof MW->dir, "/tmp/roost-chat-XXXXXX");
        assert_non_null(mkdtemp(MW->dir));
        snprintf(MW->manifest, sizeof MW->manifest, "%s/cluster.yaml", MW->dir);
        char dir[sizeof MW->dir];
        memcpy(dir, MW->dir, sizeof dir);
        for (int i = 1; i <= MW_N; i++)
            snprintf(MW->faults[i], sizeof MW->faults[i], "%s/s%d.faults", dir, i);
        for (int i = 0; i <= MW_N; i++)
            for (int k = 0; k < 3; k++)
                MW->ports[i][k] = test_free_port();
        MW->cfg = (actors_config_t){.retention_count = 10000, .group_max_members = 256};
    }
    mw_write_manifest();
    for (int i = 1; i <= MW_N; i++)
        mw_start(i);
    MW->probe = probe_new(&MW->m, "client", NULL, NULL);
    assert_non_null(MW->probe);
    MW->node = probe_node(MW->probe);
    roost_node_register(MW->node, &sess_behaviour);
    g_hub.node = MW->node;
    g_hub.node_id = MW_CLIENT;
    mw_route(1);
    assert_int_equal(probe_start(MW->probe), 0);
    char id[32] = "";
    uint64_t deadline = proc_now_ms() + 60000;
    while (!mw_all_served() && proc_now_ms() < deadline)
        proc_sleep_ms(50);
    while (!id[0] && proc_now_ms() < deadline) {
        sess_claim(SESS_MAX - 1, "+19999999999", "ready", id);
        if (!id[0])
            proc_sleep_ms(200);
    }
    sess_drain(SESS_MAX - 1);
    assert_true(id[0] != '\0');
}

/* Stops everything (the data stays). */
static void mw_close(void)
{
    probe_destroy(&MW->probe);
    for (int i = 1; i <= MW_N; i++)
        if (MW->proc[i].pid > 0)
            proc_stop(&MW->proc[i], SIGTERM, 10000);
    for (uint32_t i = 0; i < SESS_MAX; i++)
        sess_drain(i);
}

/* Unknown over processes (the unit world counts its store's appends). */
static inline uint64_t mw_appends(void)
{
    return 0;
}

static inline void mw_set_retention_count(uint32_t n)
{
    mw_close();
    MW->cfg.retention_count = n;
    mw_open(false);
}

static int mw_setup(void **state)
{
    (void)state;
    mw_open(true);
    return 0;
}

static int mw_teardown(void **state)
{
    (void)state;
    mw_close();
    test_rmtree(MW->dir);
    free(MW);
    MW = NULL;
    return 0;
}

#endif
