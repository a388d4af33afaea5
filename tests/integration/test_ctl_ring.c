/* tests/integration/test_ctl_ring.c — `roostctl ring` on the shipped local manifest: every
 * partition placed RF times, the table and --json agree, a key lands on the partition the
 * runtime's hash gives it, bad input exits 2. Runs the real binary; needs no cluster. */
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

#include "runtime/hash.h"

/* Runs roostctl with args; its stdout into out, its exit code returned. */
static int s_run(const char *args, char *out, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s ring -m %s %s 2>/dev/null", getenv("ROOSTCTL"),
             getenv("MANIFEST"), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
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
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_ring)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
