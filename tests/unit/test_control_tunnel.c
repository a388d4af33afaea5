/* tests/unit/test_control_tunnel.c — three in-process control planes whose Raft traffic goes
 * through the tunnel (runtime/control_tunnel.h) instead of TCP: the test's "transport" hands
 * each frame to the destination's control_tunnel_frame. They elect a leader and commit the
 * initial members with no Raft port open; a node that is not a voter cannot open a stream; a
 * dropped frame breaks that stream, libraft reconnects, and later commands still commit; a
 * voter cut off entirely lets the other two go on. Runs under TSan too. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "runtime/clock.h"
#include "runtime/clustermap.h"
#include "runtime/control.h"
#include "runtime/errors.h"
#include "tests/support/tmpdir.h"

enum { N = 3, P = 16, WAIT_MS = 20000 };

static control_t *_Atomic g_ctl[N + 2];
static _Atomic int g_drop_next;   /* frames to drop (a lossy link) */
static _Atomic bool g_cut[N + 1]; /* a node whose frames go nowhere, both ways */
static _Atomic uint64_t g_frames; /* frames carried */
static char g_dir[64];

static void s_send(void *arg, uint32_t peer, const void *frame, size_t len)
{
    uint32_t from = (uint32_t)(uintptr_t)arg;
    if (peer > N + 1 || atomic_load(&g_cut[from <= N ? from : 0]) ||
        (peer <= N && atomic_load(&g_cut[peer])))
        return;
    int drop = atomic_load(&g_drop_next);
    if (drop > 0 && atomic_compare_exchange_strong(&g_drop_next, &drop, drop - 1))
        return;
    atomic_fetch_add(&g_frames, 1);
    control_tunnel_frame(atomic_load(&g_ctl[peer]), from, frame, len);
}

static control_t *s_start(uint32_t id)
{
    static clustermap_member_t members[N];
    for (uint32_t i = 0; i < N; i++) {
        members[i] = (clustermap_member_t){.id = i + 1};
        snprintf(members[i].name, sizeof members[i].name, "s%u", i + 1);
        snprintf(members[i].address, sizeof members[i].address, "127.0.0.1:%u", 7001 + i);
    }
    char dir[96];
    snprintf(dir, sizeof dir, "%s/n%u", g_dir, id);
    control_config_t cfg = {.self_id = id,
                            .data_dir = dir,
                            .n_voters = N,
                            .partitions = P,
                            .rf = 3,
                            .n_members = N,
                            .members = members,
                            .heartbeat_ms = 50,
                            .election_ms = 500,
                            .tunnel_send = s_send,
                            .tunnel_arg = (void *)(uintptr_t)id};
    for (uint32_t i = 0; i < N; i++) { /* addresses nobody listens on: only names now */
        cfg.voters[i].id = i + 1;
        snprintf(cfg.voters[i].address, sizeof cfg.voters[i].address, "127.0.0.1:%u", 1 + i);
    }
    control_t *ctl = control_new(&cfg);
    assert_non_null(ctl);
    assert_int_equal(control_start(ctl), ROOST_OK);
    return ctl;
}

static uint64_t s_now_ms(void)
{
    return roost_clock_now_ms(roost_clock_real());
}

static void s_sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* The leader's id once every running node agrees on one; 0 on timeout. */
static uint32_t s_leader(const bool *skip)
{
    for (uint64_t deadline = s_now_ms() + WAIT_MS; s_now_ms() < deadline; s_sleep_ms(20)) {
        uint32_t leader = 0, leaders = 0;
        for (uint32_t i = 1; i <= N; i++)
            if (!(skip && skip[i]) && control_is_leader(atomic_load(&g_ctl[i]))) {
                leader = i;
                leaders++;
            }
        if (leaders == 1)
            return leader;
    }
    return 0;
}

/* Every running node's map reaches `version` with `down` DOWN; false on timeout. */
static bool s_all_at(uint64_t version, uint32_t down, const bool *skip)
{
    for (uint64_t deadline = s_now_ms() + WAIT_MS; s_now_ms() < deadline; s_sleep_ms(20)) {
        bool all = true;
        for (uint32_t i = 1; i <= N && all; i++) {
            if (skip && skip[i])
                continue;
            clustermap_t *map = control_map_get(atomic_load(&g_ctl[i]));
            const clustermap_member_t *m = down ? clustermap_member_by_id(map, down) : NULL;
            all = clustermap_version(map) >= version &&
                  (!down || (m && m->status == CLUSTERMAP_DOWN));
            clustermap_release(&map);
        }
        if (all)
            return true;
    }
    return false;
}

static uint64_t s_version(uint32_t id)
{
    clustermap_t *map = control_map_get(atomic_load(&g_ctl[id]));
    uint64_t v = clustermap_version(map);
    clustermap_release(&map);
    return v;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/roost-tunnel-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    for (uint32_t i = 1; i <= N; i++)
        atomic_store(&g_ctl[i], s_start(i));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (uint32_t i = 1; i <= N; i++) /* no frame is in flight to a control being destroyed */
        atomic_store(&g_cut[i], true);
    s_sleep_ms(200);
    for (uint32_t i = 1; i <= N; i++) {
        control_t *c = atomic_exchange(&g_ctl[i], NULL);
        control_destroy(&c);
    }
    test_rmtree(g_dir);
    return 0;
}

static void test_raft_runs_over_the_tunnel(void **state)
{
    (void)state;
    uint32_t leader = s_leader(NULL);
    assert_int_not_equal(leader, 0);
    assert_true(s_all_at(1, 0, NULL)); /* the initial members, committed everywhere */
    assert_true(atomic_load(&g_frames) > 0);

    /* a node that is not a voter (id 4) opens a stream: refused, nothing breaks */
    uint8_t open[17] = {1, 0, 0, 0, 0, 0, 0, 0, 42};
    control_tunnel_frame(atomic_load(&g_ctl[1]), N + 1, open, sizeof open);
    uint8_t junk[3] = {9, 9, 9}; /* and malformed frames are ignored */
    control_tunnel_frame(atomic_load(&g_ctl[1]), 2, junk, sizeof junk);

    /* lost frames break streams; libraft reconnects and commits go on */
    uint64_t v = s_version(leader);
    atomic_store(&g_drop_next, 5);
    clustermap_cmd_t down = {.type = CLUSTERMAP_CMD_NODE_DOWN, .node_id = leader % N + 1};
    for (int i = 0; i < 50 && s_version(leader) <= v; i++) { /* resubmit while streams break */
        control_submit(atomic_load(&g_ctl[leader]), &down);
        s_sleep_ms(100);
    }
    assert_true(s_all_at(v + 1, down.node_id, NULL));

    /* a voter cut off: the other two elect (or keep) a leader and commit */
    uint32_t cut = leader;
    atomic_store(&g_cut[cut], true);
    bool skip[N + 1] = {false};
    skip[cut] = true;
    uint32_t next = s_leader(skip);
    assert_int_not_equal(next, 0);
    assert_int_not_equal(next, cut);
    clustermap_cmd_t up = {.type = CLUSTERMAP_CMD_NODE_UP, .node_id = down.node_id};
    uint64_t v2 = s_version(next);
    for (int i = 0; i < 50 && s_version(next) <= v2; i++) {
        control_submit(atomic_load(&g_ctl[next]), &up);
        s_sleep_ms(100);
    }
    assert_true(s_version(next) > v2);
    atomic_store(&g_cut[cut], false); /* it comes back and catches up */
    assert_true(s_all_at(s_version(next), 0, NULL));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as control.h asks: libraft writes to closed streams */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_raft_runs_over_the_tunnel, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
