/* tests/integration/test_handoff.c — partition handoff across real processes: a join and a
 * leave with writes going on, nothing acknowledged lost.
 *
 * Three roostd shard nodes (RF 3, QUORUM) take writes through the store probe. A fourth starts
 * with a manifest that lists it, and `roostctl apply` (that manifest) makes it a member: the
 * plan's share of moved replica copies is close to P·RF/4, and once apply returns every
 * partition sits on its new list. Then s2 is killed (-9): partitions that now count s4 in their
 * quorum keep taking writes, so s4 holds real copies. s2 comes back; `roostctl drain s4` hands
 * everything back, while writes go on; s4 joins again (`apply`), and leaves by an `apply` of the
 * three-node manifest. In the end s4's disk holds no log entry (its copies were retired), and
 * every acknowledged write is in the logs of s1, s2 and s3, which agree entry for entry
 * (tests/support/store_cluster.h). */
#define STORE_CLUSTER_NODES 4
#include "tests/support/store_cluster.h"

#include <sys/wait.h>

static char g_json[4096];

static void s_keep_json(void *arg, const char *line)
{
    (void)arg;
    if (line[0] == '{') {
        size_t n = strnlen(line, sizeof g_json - 1);
        memcpy(g_json, line, n);
        g_json[n] = '\0';
    } else
        fprintf(stderr, "roostctl: %s\n", line);
}

/* Runs `roostctl -m MANIFEST --json <args…>` in the background. */
static void s_ctl_start(proc_t *ctl, const char *manifest, const char *a1, const char *a2)
{
    char *argv[] = {getenv("ROOSTCTL"), "-m",        (char *)manifest,
                    "--json",           "--timeout", "240",
                    (char *)a1,         (char *)a2,  NULL};
    g_json[0] = '\0';
    assert_true(proc_spawn(ctl, argv, NULL));
}

/* Writes until roostctl exits (and at least `until` writes are acknowledged); its exit code. */
static int s_write_while_ctl(proc_t *ctl, int until)
{
    int status = -1;
    uint64_t deadline = proc_now_ms() + 300000;
    while (proc_now_ms() < deadline) {
        proc_read_lines(ctl, s_keep_json, NULL);
        s_write_loop(atomic_load(&W->acked) + 50, proc_now_ms() + 200);
        if (waitpid(ctl->pid, &status, WNOHANG) == ctl->pid) {
            ctl->pid = 0;
            break;
        }
    }
    if (ctl->pid > 0)
        status = proc_stop(ctl, SIGKILL, 1000);
    else {
        proc_read_lines(ctl, s_keep_json, NULL);
        close(ctl->out_fd);
        ctl->out_fd = -1;
    }
    assert_true(s_write_until(until));
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (rc != 0) { /* for the report: what roostctl last said and what each node last did */
        fprintf(stderr, "roostctl exited %d: %s\n", rc, g_json);
        for (int i = 1; i <= N; i++) { /* (a handoff's nodes log a map line per step: not those) */
            char cmd[300];
            snprintf(cmd, sizeof cmd,
                     "echo '--- s%d' >&2; grep -v 'msg=\"map applied\"' %s/s%d.log | tail -n 20 | "
                     "cut -c1-300 >&2",
                     i, W->dir, i);
            if (system(cmd) != 0)
                fprintf(stderr, "(no log for s%d)\n", i);
        }
    }
    return rc;
}

static unsigned s_json_u(const char *field)
{
    const char *at = strstr(g_json, field);
    return at ? (unsigned)strtoul(at + strlen(field), NULL, 10) : 0;
}

/* Log entries on node i's disk (the node is stopped). */
static int s_entries_on_disk(int i)
{
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/s%d/db", W->dir, i);
    engine_t *e = engine_rocksdb_open(path, NULL, err, sizeof err);
    assert_non_null(e);
    int total = 0;
    for (uint32_t p = 0; p < P; p++) {
        int count;
        s_log_digest(e, p, &count);
        total += count;
    }
    engine_destroy(&e);
    return total;
}

static void test_join_and_leave_move_data_without_loss(void **state)
{
    (void)state;
    char *four = W->node_manifest[4];
    snprintf(four, sizeof W->node_manifest[4], "%.64s/four.yaml", W->dir);
    s_write_manifest_to(four, 4);
    s_start_cluster();
    probe_route(W->probe, 1);
    assert_true(s_write_until(1500));

    s_start(4); /* it learns the map once apply made it the others' peer */
    proc_sleep_ms(500);
    proc_t ctl = {0};
    s_ctl_start(&ctl, four, "apply", NULL);
    assert_int_equal(s_write_while_ctl(&ctl, 3000), 0);
    fprintf(stderr, "apply: %s\n", g_json);
    unsigned copies = s_json_u("\"copies\":"), fair = P * 3 / 4;
    assert_true(strstr(g_json, "\"done\":true") != NULL);
    assert_true(copies >= fair / 2 && copies <= fair * 3 / 2); /* close to P·RF/N */
    /* the voter whose proposal counted says so (a long-settled cluster has a leader) */
    const char *leader = strstr(g_json, "\"leader\":\"s");
    assert_non_null(leader);
    assert_true(leader[11] >= '1' && leader[11] <= '3' && leader[12] == '"');

    proc_stop(&W->node[2], SIGKILL, 1000); /* s4 now counts toward quorums */
    assert_true(s_write_until(5000));
    s_start(2);
    assert_true(s_write_until(6000));

    s_ctl_start(&ctl, four, "drain", "s4");
    assert_int_equal(s_write_while_ctl(&ctl, 7000), 0);
    fprintf(stderr, "drain: %s\n", g_json);
    assert_true(strstr(g_json, "\"done\":true") != NULL);

    /* s4 joins again (its retired copies are rebuilt from scratch), then leaves by an apply of
     * the manifest without it */
    s_ctl_start(&ctl, four, "apply", NULL);
    assert_int_equal(s_write_while_ctl(&ctl, 8000), 0);
    assert_true(strstr(g_json, "\"done\":true") != NULL);
    assert_int_equal(s_json_u("\"copies\":"), copies); /* the same placement as before */
    s_ctl_start(&ctl, W->manifest, "apply", NULL);
    assert_int_equal(s_write_while_ctl(&ctl, 9000), 0);
    fprintf(stderr, "leave: %s\n", g_json);
    assert_true(strstr(g_json, "\"done\":true") != NULL);
    assert_true(strstr(g_json, "{\"name\":\"s4\",\"before\":") != NULL); /* it left */
    assert_true(s_write_until(WRITES));
    fprintf(stderr, "acknowledged %d writes; %d attempts failed and were retried\n",
            atomic_load(&W->acked), atomic_load(&W->failed));

    /* s4 retires its copies once the maps have named it nowhere for DAEMON_RETIRE_DELAY_MS
     * (after the drain it rejoined sooner than that: those copies were kept and reused) */
    int retired = 0, stable = 0;
    for (uint64_t until = proc_now_ms() + 40000; proc_now_ms() < until && stable < 15;) {
        proc_sleep_ms(200);
        int now = s_log_count(4, "copy retired");
        stable = now >= (int)copies && now == retired ? stable + 1 : 0;
        retired = now;
    }
    assert_true(retired >= (int)copies);
    int status = proc_stop(&W->node[4], SIGTERM, 30000);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(s_entries_on_disk(4), 0);
    probe_destroy(&W->probe);
    s_stop_and_verify();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_join_and_leave_move_data_without_loss, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
