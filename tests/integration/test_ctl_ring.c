/* tests/integration/test_ctl_ring.c — roostctl's cluster-free commands, run as the real binary:
 * `ring` on the shipped local manifest (every partition placed RF times, the table and --json
 * agree, a key lands on the partition the runtime's hash gives it, bad input exits 2) and
 * `keys gen` (a real CurveZMQ pair, fresh each time). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <jansson.h>
#include <zmq.h>

#include "runtime/hash.h"

/* Runs `roostctl args`; its stdout into out, its exit code returned. */
static int s_ctl(const char *args, char *out, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s %s 2>/dev/null", getenv("ROOSTCTL"), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `roostctl ring -m MANIFEST args`. */
static int s_run(const char *args, char *out, size_t cap)
{
    char with[256];
    snprintf(with, sizeof with, "ring -m %s %s", getenv("MANIFEST"), args);
    return s_ctl(with, out, cap);
}

static void test_keys_gen(void **state)
{
    (void)state;
    char a[256], b[256], pub[41];
    assert_int_equal(s_ctl("keys gen --json", a, sizeof a), 0);
    assert_int_equal(s_ctl("keys gen --json", b, sizeof b), 0);
    assert_string_not_equal(a, b); /* fresh each time */
    json_error_t err;
    json_t *j = json_loads(a, 0, &err);
    assert_non_null(j);
    const char *p = json_string_value(json_object_get(j, "public"));
    const char *s = json_string_value(json_object_get(j, "secret"));
    assert_int_equal(strlen(p), 40);
    assert_int_equal(strlen(s), 40);
    assert_int_equal(zmq_curve_public(pub, s), 0); /* a real pair: the secret gives the public */
    assert_string_equal(pub, p);
    json_decref(j);
    assert_int_equal(s_ctl("keys", a, sizeof a), 2);
}

static void test_ring(void **state)
{
    (void)state;
    char out[8192];
    assert_int_equal(s_run("--json", out, sizeof out), 0);
    json_error_t err;
    json_t *j = json_loads(out, 0, &err);
    assert_non_null(j);
    json_int_t parts = json_integer_value(json_object_get(j, "partitions"));
    json_int_t rf = json_integer_value(json_object_get(j, "replication_factor"));
    json_t *nodes = json_object_get(j, "nodes");
    json_int_t replicas = 0, primaries = 0;
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        replicas += json_integer_value(json_object_get(n, "replica_of"));
        primaries += json_integer_value(json_object_get(n, "preferred_primary"));
    }
    assert_int_equal(replicas, parts * rf);
    assert_int_equal(primaries, parts);
    json_decref(j);
    assert_int_equal(s_run("", out, sizeof out), 0); /* the table names every node */
    assert_non_null(strstr(out, "shard-1"));
    assert_non_null(strstr(out, "PREFERRED PRIMARY"));
    assert_int_equal(s_run("--key u:42 --json", out, sizeof out), 0);
    j = json_loads(out, 0, &err);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "partition")),
                     roost_partition_of("u:42", 4, (uint32_t)parts));
    assert_int_equal(json_array_size(json_object_get(j, "replicas")), rf);
    json_decref(j);
    assert_int_equal(s_run("--partition 99999", out, sizeof out), 2);
    assert_int_equal(s_run("--partition x", out, sizeof out), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_ring),
                                       cmocka_unit_test(test_keys_gen)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
