/* tests/integration/test_up.c — `roostctl up`: starts every local node of a manifest (the
 * shipped local.yaml too, checked with `status --json`), prints a row per node as it becomes
 * ready, stops them all on SIGINT with exit 0; a bad manifest exits 2
 * naming file, line and field; a taken port exits 1 naming the port. $ROOSTCTL names the CLI. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "tests/support/ports.h"
#include "tests/support/procs.h"
#include "tests/support/tmpdir.h"

typedef struct {
    int rows, stopped_line;
    char all[8192];
    size_t len;
} out_t;

static void s_line(void *arg, const char *line)
{
    out_t *o = arg;
    if ((strncmp(line, "s", 1) == 0 && strstr(line, "shard")) || strncmp(line, "edge-", 5) == 0)
        o->rows++;
    if (strstr(line, "all nodes stopped"))
        o->stopped_line = 1;
    int n = snprintf(o->all + o->len, sizeof o->all - o->len, "%s\n", line);
    if (n > 0 && o->len + (size_t)n < sizeof o->all)
        o->len += (size_t)n;
}

static char s_dir[64], s_manifest[96];
static int s_ports[3][2];

static void s_write(const char *extra)
{
    FILE *f = fopen(s_manifest, "w");
    assert_non_null(f);
    fprintf(f,
            "apiVersion: roost/v1\ncluster: {name: up, partitions: 16, replication_factor: 3}\n"
            "%snodes:\n",
            extra);
    for (int i = 0; i < 3; i++)
        fprintf(f,
                "  - {name: s%d, id: %d, roles: [shard], host: 127.0.0.1, peer_port: %d,"
                " raft_port: %d, data_dir: s%d}\n",
                i + 1, i + 1, s_ports[i][0], s_ports[i][1], i + 1);
    fclose(f);
}

/* Runs roostctl up on `manifest` to completion (or until `until` says stop, then SIGINT); its
 * exit code. */
static int s_run_on(const char *manifest, out_t *o, bool (*until)(const out_t *), int seconds)
{
    char *argv[] = {getenv("ROOSTCTL"), "up", (char *)manifest, "--data-dir", s_dir, NULL};
    proc_t p;
    memset(o, 0, sizeof *o);
    assert_true(proc_spawn(&p, argv, NULL));
    uint64_t end = proc_now_ms() + (uint64_t)seconds * 1000;
    int status = -1;
    bool interrupted = false;
    while (proc_now_ms() < end) {
        proc_read_lines(&p, s_line, o);
        if (waitpid(p.pid, &status, WNOHANG) == p.pid) {
            p.pid = 0;
            proc_read_lines(&p, s_line, o); /* what it printed on the way out */
            close(p.out_fd);
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        if (until && !interrupted && until(o)) {
            kill(p.pid, SIGINT); /* Ctrl-C: it stops every node, then itself */
            interrupted = true;
            end = proc_now_ms() + 20000;
        }
        proc_sleep_ms(20);
    }
    status = proc_stop(&p, SIGKILL, 1000);
    return -1;
}

static int s_run(out_t *o, bool (*until)(const out_t *), int seconds)
{
    return s_run_on(s_manifest, o, until, seconds);
}

static bool s_all_ready(const out_t *o)
{
    return o->rows >= 3;
}

#define LOCAL_YAML ROOST_SOURCE_DIR "/cluster/manifests/local.yaml"
static char s_status[16384], s_ring[16384];

/* `roostctl ... ARGS` into out (the shipped manifest, the operator certificate under s_dir). */
static void s_ctl_local(const char *args, char *out, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' -m '%s' --data-dir '%s' %s", getenv("ROOSTCTL"), LOCAL_YAML,
             s_dir, args);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    pclose(p);
}

/* Once the five nodes of local.yaml are ready: `roostctl status --json` (with the operator
 * certificate `up` made under the data dir). */
static bool s_local_ready(const out_t *o)
{
    if (o->rows < 5)
        return false;
    for (int i = 0; i < 100; i++) { /* until every partition has its primary */
        s_ctl_local("status --json", s_status, sizeof s_status);
        if (strstr(s_status, "\"down\":0") && !strstr(s_status, "\"primary\":0,"))
            break;
        proc_sleep_ms(200);
    }
    s_ctl_local("ring --json", s_ring, sizeof s_ring); /* live, from the map */
    return true;
}

static int setup(void **state)
{
    (void)state;
    assert_non_null(getenv("ROOSTCTL"));
    snprintf(s_dir, sizeof s_dir, "/tmp/roost-up-XXXXXX");
    assert_non_null(mkdtemp(s_dir));
    snprintf(s_manifest, sizeof s_manifest, "%s/cluster.yaml", s_dir);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 2; k++)
            s_ports[i][k] = test_free_port();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_rmtree(s_dir);
    return 0;
}

static void test_up_starts_every_node_and_stops_them_on_sigint(void **state)
{
    (void)state;
    s_write("");
    out_t o;
    int rc = s_run(&o, s_all_ready, 60);
    if (rc != 0 || o.rows != 3 || !o.stopped_line)
        fail_msg("rc=%d rows=%d stopped=%d\n%s", rc, o.rows, o.stopped_line, o.all);
    assert_non_null(strstr(o.all, "NODE"));
}

/* The shipped local.yaml (what `make run` starts): five nodes ready, authenticated with the
 * certificates `up` generates, every node up and every partition held by three replicas. */
static void test_up_runs_the_shipped_local_manifest(void **state)
{
    (void)state;
    out_t o;
    int rc = s_run_on(LOCAL_YAML, &o, s_local_ready, 120);
    if (rc != 0 || o.rows != 5 || !o.stopped_line)
        fail_msg("rc=%d rows=%d stopped=%d\n%s", rc, o.rows, o.stopped_line, o.all);
    assert_non_null(strstr(o.all, "generated CURVE certificate"));
    if (!strstr(s_status, "\"down\":0"))
        fail_msg("status: %s", s_status);
    int replicas = 0;
    for (const char *p = s_status; (p = strstr(p, "\"replica\":")) != NULL; p++)
        replicas += atoi(p + 10);
    assert_int_equal(replicas, 1024 * 3);
    /* ring: live, balanced, nothing under-replicated, moving or without a primary */
    if (!strstr(s_ring, "\"live\":true") || !strstr(s_ring, "\"under_replicated\":[]") ||
        !strstr(s_ring, "\"moving\":[]") || !strstr(s_ring, "\"without_primary\":[]"))
        fail_msg("ring: %s", s_ring);
    int primaries = 0;
    replicas = 0;
    for (const char *p = s_ring; (p = strstr(p, "\"replica_of\":")) != NULL; p++)
        replicas += atoi(p + 13);
    for (const char *p = s_ring; (p = strstr(p, "\"primary_of\":")) != NULL; p++)
        primaries += atoi(p + 13);
    assert_int_equal(replicas, 1024 * 3);
    assert_int_equal(primaries, 1024);
}

static void test_a_bad_manifest_fails_at_once_naming_the_line(void **state)
{
    (void)state;
    s_write("runtime: {workerz: 2}\n");
    out_t o;
    assert_int_equal(s_run(&o, NULL, 20), 2);
    assert_non_null(strstr(o.all, "cluster.yaml:3: runtime: unknown field \"workerz\""));
}

static void test_a_taken_port_fails_at_once_naming_it(void **state)
{
    (void)state;
    s_write("");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s_ports[1][0])};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    out_t o;
    int rc = s_run(&o, NULL, 20);
    close(fd);
    assert_int_equal(rc, 1);
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%d is not free", s_ports[1][0]);
    assert_non_null(strstr(o.all, want));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_up_starts_every_node_and_stops_them_on_sigint, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_up_runs_the_shipped_local_manifest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_bad_manifest_fails_at_once_naming_the_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_taken_port_fails_at_once_naming_it, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
