/* tests/unit/test_fault.c — fault points (runtime/fault.h): the environment's list, counts,
 * arming and disarming, the name check, the table's bound and the simulator's hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/errors.h"
#include "runtime/fault.h"

/* Runs first: the environment is read once, at the first use. */
static void test_environment_list(void **state)
{
    (void)state;
    setenv("ROOST_FAULT_POINTS", "disk.read,net.drop:2,,bad name,zero:0,neg:-1,x:3y", 1);
    char out[128];
    assert_int_equal(roost_fault_describe(out, sizeof out), 2);
    assert_string_equal(out, "disk.read,net.drop:2");
    assert_true(roost_fault("disk.read"));
    assert_true(roost_fault("disk.read")); /* no count: every time */
    assert_false(roost_fault("disk.write"));
    assert_true(roost_fault("net.drop"));
    assert_true(roost_fault("net.drop"));
    assert_false(roost_fault("net.drop")); /* its two are spent */
    assert_false(roost_fault("zero"));
    assert_false(roost_fault("neg"));
    roost_fault_reset();
    assert_false(roost_fault("disk.read"));
    assert_int_equal(roost_fault_describe(out, sizeof out), 0);
    assert_string_equal(out, "");
}

static void test_arm_disarm_and_bounds(void **state)
{
    (void)state;
    assert_int_equal(roost_fault_arm("a.b", 1), ROOST_OK);
    assert_int_equal(roost_fault_arm("a.b", 3), ROOST_OK); /* re-arming replaces the count */
    for (int i = 0; i < 3; i++)
        assert_true(roost_fault("a.b"));
    assert_false(roost_fault("a.b"));
    assert_int_equal(roost_fault_arm("c", -1), ROOST_OK);
    assert_int_equal(roost_fault_arm("c", 0), ROOST_OK);
    assert_false(roost_fault("c"));
    assert_int_equal(roost_fault_arm("Upper", 1), ROOST_EINVAL);
    assert_int_equal(roost_fault_arm("", 1), ROOST_EINVAL);
    assert_int_equal(roost_fault_arm(NULL, 1), ROOST_EINVAL);
    char name[16];
    for (int i = 0; i < ROOST_FAULT_SITES_MAX; i++) {
        snprintf(name, sizeof name, "s%d", i);
        assert_int_equal(roost_fault_arm(name, -1), ROOST_OK);
    }
    assert_int_equal(roost_fault_arm("one.more", 1), ROOST_ELIMIT);
    assert_true(roost_fault("s15"));
    roost_fault_reset();
    assert_false(roost_fault("s15"));
}

static bool s_every_other(void *arg, const char *site)
{
    int *calls = arg;
    return strcmp(site, "sim.site") == 0 && (*calls)++ % 2 == 0;
}

static void test_hook_decides_while_installed(void **state)
{
    (void)state;
    int calls = 0;
    assert_int_equal(roost_fault_arm("armed", -1), ROOST_OK);
    roost_fault_set_hook(s_every_other, &calls);
    assert_true(roost_fault("sim.site"));
    assert_false(roost_fault("sim.site"));
    assert_true(roost_fault("sim.site"));
    assert_false(roost_fault("armed")); /* the hook replaces the table */
    roost_fault_set_hook(NULL, NULL);
    assert_false(roost_fault("sim.site"));
    assert_true(roost_fault("armed"));
    roost_fault_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_environment_list),
        cmocka_unit_test(test_arm_disarm_and_bounds),
        cmocka_unit_test(test_hook_decides_while_installed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
