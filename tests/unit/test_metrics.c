/* tests/unit/test_metrics.c — the registry renders valid Prometheus text; updates from many
 * threads add up exactly (also run under ThreadSanitizer). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/metrics.h"

static char *s_render(metrics_registry_t *r)
{
    char *out;
    size_t len;
    assert_int_equal(metrics_render(r, &out, &len), 0);
    assert_int_equal(strlen(out), len);
    return out;
}

static void s_expect(const char *text, const char *line)
{
    if (!strstr(text, line))
        fail_msg("missing \"%s\" in:\n%s", line, text);
}

static void test_counters_and_gauges_render(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    metric_t *c = metrics_counter(r, "roost_frames_total", "Frames.\nIn \\ out", "dir=\"in\"");
    metric_t *c2 = metrics_counter(r, "roost_frames_total", "Frames.", "dir=\"out\"");
    metric_t *g = metrics_gauge(r, "roost_actors_active", "Active actors.", NULL);
    assert_ptr_equal(metrics_counter(r, "roost_frames_total", "x", "dir=\"in\""), c);
    metrics_counter_add(c, 3);
    metrics_counter_add(c2, 1);
    metrics_gauge_set(g, 10);
    metrics_gauge_add(g, -12);
    char *t = s_render(r);
    s_expect(t, "# HELP roost_frames_total Frames.\\nIn \\\\ out\n"
                "# TYPE roost_frames_total counter\n"
                "roost_frames_total{dir=\"in\"} 3\n"
                "roost_frames_total{dir=\"out\"} 1\n");
    s_expect(t, "# TYPE roost_actors_active gauge\nroost_actors_active -2\n");
    assert_null(strstr(strstr(t, "roost_actors_active") , "# TYPE roost_frames_total"));
    free(t);
    metrics_registry_destroy(&r);
    assert_null(r);
}

static void test_histogram_buckets_are_cumulative(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    metric_t *h = metrics_histogram(r, "roost_latency_us", "Latency.", "op=\"w\"");
    const uint64_t values[] = {0, 1, 2, 3, 4, 5, 1000, 1ull << 40};
    uint64_t sum = 0;
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        metrics_histogram_record(h, values[i]);
        sum += values[i];
    }
    char *t = s_render(r);
    s_expect(t, "roost_latency_us_bucket{op=\"w\",le=\"1\"} 2\n");
    s_expect(t, "roost_latency_us_bucket{op=\"w\",le=\"2\"} 3\n");
    s_expect(t, "roost_latency_us_bucket{op=\"w\",le=\"4\"} 5\n");
    s_expect(t, "roost_latency_us_bucket{op=\"w\",le=\"8\"} 6\n");
    s_expect(t, "roost_latency_us_bucket{op=\"w\",le=\"1024\"} 7\n");
    s_expect(t, "roost_latency_us_bucket{op=\"w\",le=\"+Inf\"} 8\n");
    s_expect(t, "roost_latency_us_count{op=\"w\"} 8\n");
    char line[96];
    snprintf(line, sizeof line, "roost_latency_us_sum{op=\"w\"} %llu\n", (unsigned long long)sum);
    s_expect(t, line);
    assert_int_equal(metrics_value(h), 8);
    free(t);
    metrics_registry_destroy(&r);
}

static void test_invalid_names_and_clashes_are_refused(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    assert_null(metrics_counter(r, "9lives", "", NULL));
    assert_null(metrics_counter(r, "bad-name", "", NULL));
    assert_null(metrics_counter(r, "", "", NULL));
    assert_null(metrics_counter(r, "ok", "", "peer=unquoted"));
    assert_null(metrics_counter(r, "ok", "", "9x=\"v\""));
    assert_null(metrics_counter(r, "ok", "", "x=\"bad\\q\""));
    assert_null(metrics_counter(r, "ok", "", "x=\"open"));
    assert_non_null(metrics_counter(r, "ok", "", "x=\"a\\\"b\",y=\"\""));
    assert_null(metrics_gauge(r, "ok", "", NULL)); /* same family, other type */
    metrics_counter_add(NULL, 1);                  /* a failed registration costs nothing */
    metrics_registry_destroy(&r);
}

enum { THREADS = 4, ADDS = 100000 };

static void *s_hammer(void *arg)
{
    metrics_registry_t *r = arg;
    metric_t *c = metrics_counter(r, "roost_hits_total", "Hits.", NULL);
    metric_t *h = metrics_histogram(r, "roost_size_bytes", "Sizes.", NULL);
    for (int i = 0; i < ADDS; i++) {
        metrics_counter_add(c, 1);
        metrics_histogram_record(h, (uint64_t)i);
    }
    return NULL;
}

static void test_concurrent_updates_sum_exactly(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, s_hammer, r);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    char *text = s_render(r);
    char line[96];
    snprintf(line, sizeof line, "roost_hits_total %d\n", THREADS * ADDS);
    s_expect(text, line);
    snprintf(line, sizeof line, "roost_size_bytes_count %d\n", THREADS * ADDS);
    s_expect(text, line);
    free(text);
    metrics_registry_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_and_gauges_render),
        cmocka_unit_test(test_histogram_buckets_are_cumulative),
        cmocka_unit_test(test_invalid_names_and_clashes_are_refused),
        cmocka_unit_test(test_concurrent_updates_sum_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
