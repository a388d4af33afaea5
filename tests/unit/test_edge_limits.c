/* tests/unit/test_edge_limits.c — the edge's per-key rate limit (sliding window from two
 * fixed ones, bounded memory) and the development SMS sink. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "edge/ratelimit.h"
#include "edge/sms.h"

static void test_limit_per_key_with_a_sliding_window(void **state)
{
    (void)state;
    ratelimit_t *rl = ratelimit_new(3, 1000, 64);
    for (int i = 0; i < 3; i++)
        assert_true(ratelimit_take(rl, "10.0.0.1", 8, 100));
    assert_false(ratelimit_take(rl, "10.0.0.1", 8, 200));  /* the 4th in the window */
    assert_true(ratelimit_take(rl, "10.0.0.2", 8, 200));   /* another key is its own */
    assert_false(ratelimit_take(rl, "10.0.0.1", 8, 1010)); /* the last window still counts */
    assert_true(ratelimit_take(rl, "10.0.0.1", 8, 1600));  /* 3 x 0.4 + 0 < 3 - 1 */
    assert_false(ratelimit_take(rl, "10.0.0.1", 8, 1600));
    assert_true(ratelimit_take(rl, "10.0.0.1", 8, 5000)); /* long quiet: a fresh start */
    ratelimit_destroy(&rl);
}

static void test_memory_is_bounded(void **state)
{
    (void)state;
    ratelimit_t *rl = ratelimit_new(1, 60000, 16);
    char key[32];
    for (int i = 0; i < 10000; i++) { /* far more keys than slots: each still gets its first */
        snprintf(key, sizeof key, "ip-%d", i);
        assert_true(ratelimit_take(rl, key, strlen(key), 1000 + (uint64_t)i));
    }
    assert_false(ratelimit_take(rl, key, strlen(key), 20000)); /* the latest is remembered */
    ratelimit_destroy(&rl);
}

static void test_file_sms_sink(void **state)
{
    (void)state;
    char path[] = "/tmp/roost-sms-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(sms_file_send(path, "+15551234567", "123456"), 0);
    assert_int_equal(sms_file_send(path, "+15557654321", "000042"), 0);
    FILE *f = fopen(path, "r");
    char line[64];
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "+15551234567 123456\n");
    assert_non_null(fgets(line, sizeof line, f));
    assert_string_equal(line, "+15557654321 000042\n");
    fclose(f);
    unlink(path);
    assert_int_equal(sms_file_send("/nonexistent/dir/sms.log", "+1555", "1"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_per_key_with_a_sliding_window),
        cmocka_unit_test(test_memory_is_bounded),
        cmocka_unit_test(test_file_sms_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
