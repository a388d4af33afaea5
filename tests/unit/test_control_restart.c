/* tests/unit/test_control_restart.c — one in-process control plane (a single-voter Raft group):
 * commands submitted on the leader commit, the log is snapshotted past the threshold, and a
 * restart from the same data dir restores the same map. Runs under LeakSanitizer. */
#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/clock.h"
#include "runtime/clustermap.h"
#include "runtime/control.h"
#include "runtime/errors.h"
#include "runtime/log.h"

enum {
    P = 64,
    COMMANDS = 40, /* well past SNAPSHOT_THRESHOLD: at least two snapshots */
    SNAPSHOT_THRESHOLD = 16,
    WAIT_MS = 10000, /* single-voter election + commit, slow under sanitizers */
    SLICE_US = 10 * 1000,
};

static char s_dir[64];

static uint64_t s_now_ms(void)
{
    return roost_clock_now_ms(roost_clock_real());
}

static control_t *s_start(const char *data_dir)
{
    static clustermap_member_t members[3];
    for (uint32_t i = 0; i < 3; i++) {
        members[i] = (clustermap_member_t){.id = i + 1};
        snprintf(members[i].name, sizeof members[i].name, "shard-%u", i + 1);
        snprintf(members[i].address, sizeof members[i].address, "127.0.0.1:%u", 7001 + i);
    }
    control_config_t cfg = {
        .self_id = 1,
        .data_dir = data_dir,
        .n_voters = 1,
        .partitions = P,
        .rf = 3,
        .n_members = 3,
        .members = members,
        .heartbeat_ms = 20,
        .election_ms = 200,
        .snapshot_threshold = SNAPSHOT_THRESHOLD,
    };
    /* A port nobody listens on: a single voter never dials out, it only binds. */
    snprintf(cfg.voters[0].address, sizeof cfg.voters[0].address, "127.0.0.1:%d",
             20000 + (int)(getpid() % 20000));
    cfg.voters[0].id = 1;
    control_t *ctl = control_new(&cfg);
    assert_non_null(ctl);
    assert_int_equal(control_start(ctl), ROOST_OK);
    return ctl;
}

/* Waits (bounded) until the published map's version is at least `version`. */
static bool s_wait_version(control_t *ctl, uint64_t version)
{
    uint64_t deadline = s_now_ms() + WAIT_MS;
    for (;;) {
        clustermap_t *map = control_map_get(ctl);
        bool reached = clustermap_version(map) >= version && clustermap_member_count(map) > 0;
        clustermap_release(&map);
        if (reached)
            return true;
        if (s_now_ms() >= deadline)
            return false;
        usleep(SLICE_US);
    }
}

static bool s_has_snapshot(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    bool found = false;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        found |= strncmp(e->d_name, "snapshot-", 9) == 0;
    closedir(d);
    return found;
}

static void test_commands_commit_and_survive_restart_via_snapshot(void **state)
{
    (void)state;
    char data[128];
    snprintf(data, sizeof data, "%s/node-1", s_dir);
    control_t *ctl = s_start(data);
    assert_true(s_wait_version(ctl, 1));
    assert_true(control_is_leader(ctl));
    assert_int_equal(control_leader_id(ctl), 1);
    for (int i = 0; i < COMMANDS; i++) {
        clustermap_t *map = control_map_get(ctl);
        uint64_t version = clustermap_version(map);
        clustermap_release(&map);
        clustermap_cmd_t cmd = {.type = i % 2 ? CLUSTERMAP_CMD_NODE_UP : CLUSTERMAP_CMD_NODE_DOWN,
                                .node_id = 2};
        assert_int_equal(control_submit(ctl, &cmd), ROOST_OK);
        assert_true(s_wait_version(ctl, version + 1));
    }
    clustermap_t *before = control_map_get(ctl);
    control_destroy(&ctl);
    assert_null(ctl);
    assert_true(s_has_snapshot(data));

    ctl = s_start(data);
    assert_true(s_wait_version(ctl, clustermap_version(before)));
    clustermap_t *after = control_map_get(ctl);
    assert_int_equal(clustermap_digest(after), clustermap_digest(before));
    assert_int_equal(control_dropped(ctl), 0);
    clustermap_release(&after);
    clustermap_release(&before);
    control_destroy(&ctl);
}

static void test_bad_config_is_refused(void **state)
{
    (void)state;
    control_config_t cfg = {
        .self_id = 9, .data_dir = s_dir, .n_voters = 1, .partitions = P, .rf = 1};
    cfg.voters[0].id = 1;
    snprintf(cfg.voters[0].address, sizeof cfg.voters[0].address, "127.0.0.1:1");
    assert_null(control_new(&cfg)); /* self is not a voter */
    cfg.self_id = 1;
    cfg.partitions = 100;
    assert_null(control_new(&cfg)); /* P not a power of two */
    control_destroy(NULL);
}

static int s_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int s_setup(void **state)
{
    (void)state;
    roost_log_init("test-control", ROOST_LOG_WARN);
    snprintf(s_dir, sizeof s_dir, "/tmp/roost-ctl-XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    return nftw(s_dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commands_commit_and_survive_restart_via_snapshot),
        cmocka_unit_test(test_bad_config_is_refused),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
