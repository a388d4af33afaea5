/* tests/unit/test_metrics.c — the metrics registry renders exact Prometheus text: values, one
 * HELP/TYPE per family, cumulative histogram buckets consistent with _count, escaping, invalid
 * names refused, a bounded registry, and exact sums from 4 threads (also run under TSan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>

#include <cmocka.h>

#include "runtime/errors.h"
#include "runtime/metrics.h"

/* noinline: GCC 12 at -O3 misreads the returned buffer as a dangling pointer to `out` */
__attribute__((noinline)) static char *s_render(metrics_registry_t *r)
{
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(metrics_render(r, &out, &len), ROOST_OK);
    assert_non_null(out);
    assert_int_equal(strlen(out), len);
    return out;
}

static void test_counters_and_gauges_render_exactly(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    char *empty = s_render(r);
    assert_string_equal(empty, "");
    free(empty);
    metrics_label_t peer2[] = {{"peer", "shard-2"}};
    metrics_label_t peer3[] = {{"peer", "shard-3"}};
    metrics_counter_t *sent2 = metrics_register_counter(r, "roost_sent_total", "Sent.", peer2, 1);
    metrics_gauge_t *actors = metrics_register_gauge(r, "roost_actors", "Live actors.", NULL, 0);
    metrics_counter_t *sent3 = metrics_register_counter(r, "roost_sent_total", "Sent.", peer3, 1);
    metrics_counter_add(sent2, 3);
    metrics_counter_add(sent2, 4);
    metrics_counter_add(sent3, 1);
    metrics_gauge_set(actors, 10);
    metrics_gauge_add(actors, -13);
    assert_int_equal(metrics_counter_value(sent2), 7);
    assert_int_equal(metrics_gauge_value(actors), -3);
    char *text = s_render(r);
    assert_string_equal(text, "# HELP roost_sent_total Sent.\n"
                              "# TYPE roost_sent_total counter\n"
                              "roost_sent_total{peer=\"shard-2\"} 7\n"
                              "roost_sent_total{peer=\"shard-3\"} 1\n"
                              "# HELP roost_actors Live actors.\n"
                              "# TYPE roost_actors gauge\n"
                              "roost_actors -3\n");
    free(text);
    metrics_registry_destroy(&r);
    assert_null(r);
    metrics_registry_destroy(&r); /* safe on NULL */
}

static void test_same_name_and_label_set_is_the_same_metric(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    metrics_label_t ab[] = {{"a", "1"}, {"b", "2"}};
    metrics_label_t ba[] = {{"b", "2"}, {"a", "1"}};
    metrics_label_t other[] = {{"a", "1"}, {"b", "3"}};
    metrics_counter_t *c = metrics_register_counter(r, "x_total", "X.", ab, 2);
    assert_non_null(c);
    assert_ptr_equal(metrics_register_counter(r, "x_total", "other help", ba, 2), c);
    metrics_counter_t *c2 = metrics_register_counter(r, "x_total", "X.", other, 2);
    assert_non_null(c2);
    assert_ptr_not_equal(c2, c);
    /* One family, one type: the name cannot come back as a gauge or histogram. */
    assert_null(metrics_register_gauge(r, "x_total", "X.", NULL, 0));
    assert_null(metrics_register_histogram(r, "x_total", "X.", NULL, 0, 1, 10));
    metrics_histogram_t *h = metrics_register_histogram(r, "lat_us", "L.", NULL, 0, 1, 100);
    assert_ptr_equal(metrics_register_histogram(r, "lat_us", "L.", NULL, 0, 1, 100), h);
    assert_null(metrics_register_histogram(r, "lat_us", "L.", ab, 2, 1, 1000)); /* bounds */
    char *text = s_render(r);
    assert_non_null(strstr(text, "x_total{a=\"1\",b=\"2\"} 0\nx_total{a=\"1\",b=\"3\"} 0\n"));
    assert_non_null(strstr(text, "# HELP x_total X.\n")); /* the first help wins */
    assert_null(strstr(strstr(text, "# TYPE x_total") + 1, "# TYPE x_total"));
    free(text);
    metrics_registry_destroy(&r);
}

static void test_histogram_buckets_are_cumulative_and_match_count(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    metrics_label_t op[] = {{"op", "put"}};
    metrics_histogram_t *h = metrics_register_histogram(r, "req_us", "Latency.", op, 1, 1, 1000);
    assert_non_null(h);
    const uint64_t values[] = {0, 1, 2, 3, 5, 999, 1000, 1001, 50000};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        metrics_histogram_record(h, values[i]);
    assert_int_equal(metrics_histogram_count(h), 9);
    char *text = s_render(r);
    assert_string_equal(text, "# HELP req_us Latency.\n"
                              "# TYPE req_us histogram\n"
                              "req_us_bucket{op=\"put\",le=\"1\"} 2\n"
                              "req_us_bucket{op=\"put\",le=\"2\"} 3\n"
                              "req_us_bucket{op=\"put\",le=\"5\"} 5\n"
                              "req_us_bucket{op=\"put\",le=\"10\"} 5\n"
                              "req_us_bucket{op=\"put\",le=\"20\"} 5\n"
                              "req_us_bucket{op=\"put\",le=\"50\"} 5\n"
                              "req_us_bucket{op=\"put\",le=\"100\"} 5\n"
                              "req_us_bucket{op=\"put\",le=\"200\"} 5\n"
                              "req_us_bucket{op=\"put\",le=\"500\"} 5\n"
                              "req_us_bucket{op=\"put\",le=\"1000\"} 7\n"
                              "req_us_bucket{op=\"put\",le=\"+Inf\"} 9\n"
                              "req_us_sum{op=\"put\"} 53011\n"
                              "req_us_count{op=\"put\"} 9\n");
    free(text);
    metrics_registry_destroy(&r);
}

static int s_count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void test_histogram_bounds_are_the_1_2_5_values_in_range(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    metrics_histogram_t *h = metrics_register_histogram(r, "a", "A.", NULL, 0, 3, 40);
    assert_non_null(h);
    metrics_histogram_t *all = metrics_register_histogram(r, "b", "B.", NULL, 0, 1, UINT64_MAX);
    assert_non_null(all);
    metrics_histogram_record(all, UINT64_MAX);
    char *text = s_render(r);
    assert_non_null(strstr(text, "a_bucket{le=\"5\"} 0\na_bucket{le=\"10\"} 0\n"
                                 "a_bucket{le=\"20\"} 0\na_bucket{le=\"+Inf\"} 0\n"));
    assert_int_equal(s_count_lines_with(text, "b_bucket{"), METRICS_BUCKETS_MAX + 1);
    assert_non_null(strstr(text, "b_bucket{le=\"10000000000000000000\"} 0\n"
                                 "b_bucket{le=\"+Inf\"} 1\n"));
    free(text);
    assert_null(metrics_register_histogram(r, "c", "C.", NULL, 0, 6, 9)); /* no 1-2-5 value */
    assert_null(metrics_register_histogram(r, "c", "C.", NULL, 0, 0, 10));
    assert_null(metrics_register_histogram(r, "c", "C.", NULL, 0, 10, 1));
    metrics_registry_destroy(&r);
}

static void test_help_and_label_values_are_escaped(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    metrics_label_t l[] = {{"path", "C:\\dir \"x\"\nnext"}};
    metrics_counter_t *c =
        metrics_register_counter(r, "odd_total", "Says \"hi\"\nand C:\\ back", l, 1);
    assert_non_null(c);
    char *text = s_render(r);
    assert_string_equal(text, "# HELP odd_total Says \"hi\"\\nand C:\\\\ back\n"
                              "# TYPE odd_total counter\n"
                              "odd_total{path=\"C:\\\\dir \\\"x\\\"\\nnext\"} 0\n");
    free(text);
    metrics_registry_destroy(&r);
}

static void test_invalid_names_and_label_sets_are_rejected(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    const char *bad_names[] = {"", "1abc", "a-b", "a b", "caf\xc3\xa9", "a{b}", NULL};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        assert_null(metrics_register_counter(r, bad_names[i], "H.", NULL, 0));
    char long_name[METRICS_NAME_BYTES_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    assert_null(metrics_register_counter(r, long_name, "H.", NULL, 0));
    long_name[METRICS_NAME_BYTES_MAX] = '\0';
    assert_non_null(metrics_register_counter(r, long_name, "H.", NULL, 0));
    assert_non_null(metrics_register_counter(r, "ns:sub_name9", "H.", NULL, 0));
    assert_null(metrics_register_counter(r, "ok", NULL, NULL, 0));
    const char *bad_labels[] = {"__reserved", "1x", "a:b", "a-b", ""};
    for (size_t i = 0; i < sizeof bad_labels / sizeof bad_labels[0]; i++) {
        metrics_label_t l[] = {{bad_labels[i], "v"}};
        assert_null(metrics_register_counter(r, "ok", "H.", l, 1));
    }
    metrics_label_t dup[] = {{"a", "1"}, {"a", "2"}};
    assert_null(metrics_register_counter(r, "ok", "H.", dup, 2));
    metrics_label_t null_value[] = {{"a", NULL}};
    assert_null(metrics_register_counter(r, "ok", "H.", null_value, 1));
    metrics_label_t le[] = {{"le", "1"}};
    assert_null(metrics_register_histogram(r, "ok_h", "H.", le, 1, 1, 10));
    assert_non_null(metrics_register_counter(r, "ok", "H.", le, 1)); /* only histograms own le */
    metrics_label_t many[METRICS_LABELS_MAX + 1];
    char names[METRICS_LABELS_MAX + 1][16];
    for (int i = 0; i <= METRICS_LABELS_MAX; i++) {
        snprintf(names[i], sizeof names[i], "l%d", i);
        many[i] = (metrics_label_t){names[i], "v"};
    }
    assert_null(metrics_register_counter(r, "ok", "H.", many, METRICS_LABELS_MAX + 1));
    assert_non_null(metrics_register_counter(r, "ok", "H.", many, METRICS_LABELS_MAX));
    metrics_registry_destroy(&r);
}

static void test_registry_is_bounded_and_updates_on_null_are_noops(void **state)
{
    (void)state;
    metrics_registry_t *r = metrics_registry_new();
    char value[16];
    metrics_counter_t *first = NULL;
    for (int i = 0; i < METRICS_SERIES_MAX; i++) {
        snprintf(value, sizeof value, "%d", i);
        metrics_label_t l[] = {{"i", value}};
        metrics_counter_t *c = metrics_register_counter(r, "many_total", "M.", l, 1);
        assert_non_null(c);
        first = first ? first : c;
    }
    metrics_label_t extra[] = {{"i", "extra"}};
    metrics_counter_t *none = metrics_register_counter(r, "many_total", "M.", extra, 1);
    assert_null(none);
    metrics_label_t zero[] = {{"i", "0"}};
    assert_ptr_equal(metrics_register_counter(r, "many_total", "M.", zero, 1), first);
    metrics_counter_add(none, 1);
    metrics_gauge_set(NULL, 1);
    metrics_gauge_add(NULL, 1);
    metrics_histogram_record(NULL, 1);
    assert_int_equal(metrics_counter_value(none), 0);
    assert_int_equal(metrics_render(NULL, NULL, NULL), ROOST_EINVAL);
    metrics_registry_destroy(&r);
}

enum { THREADS = 4, PER_THREAD = 100000 };

typedef struct {
    metrics_registry_t *r;
    metrics_counter_t *c;
    metrics_gauge_t *g;
    metrics_histogram_t *h;
    _Atomic int lookup_mismatches; /* cmocka asserts only on the main thread */
} shared_t;

static void *s_hammer(void *arg)
{
    shared_t *s = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        metrics_counter_add(s->c, 1);
        metrics_gauge_add(s->g, 2);
        metrics_gauge_add(s->g, -1);
        metrics_histogram_record(s->h, (uint64_t)(i % 2000));
        if (i % 10000 == 0 && /* lookups race with updates and renders */
            metrics_register_counter(s->r, "hits_total", "H.", NULL, 0) != s->c)
            atomic_fetch_add(&s->lookup_mismatches, 1);
    }
    return NULL;
}

/* In a render, name's buckets never decrease and the +Inf bucket equals name_count. */
static void s_assert_histogram_consistent(const char *text, const char *name)
{
    char prefix[64], count_key[64];
    snprintf(prefix, sizeof prefix, "%s_bucket{le=\"", name);
    snprintf(count_key, sizeof count_key, "\n%s_count ", name);
    unsigned long long prev = 0, v = 0;
    int buckets = 0;
    for (const char *p = strstr(text, prefix); p; p = strstr(p + 1, prefix)) {
        const char *value = strstr(p, "} ");
        assert_non_null(value);
        v = strtoull(value + 2, NULL, 10);
        assert_true(v >= prev);
        prev = v;
        buckets++;
    }
    assert_true(buckets > 1);
    const char *count = strstr(text, count_key);
    assert_non_null(count);
    assert_int_equal(strtoull(count + strlen(count_key), NULL, 10), v);
}

static void test_concurrent_updates_from_4_threads_sum_exactly(void **state)
{
    (void)state;
    shared_t s = {.r = metrics_registry_new()};
    s.c = metrics_register_counter(s.r, "hits_total", "H.", NULL, 0);
    s.g = metrics_register_gauge(s.r, "level", "L.", NULL, 0);
    s.h = metrics_register_histogram(s.r, "lat_us", "L.", NULL, 0, 1, 1000000);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, s_hammer, &s), 0);
    for (int i = 0; i < 20; i++) { /* renders concurrent with updates stay consistent */
        char *snapshot = s_render(s.r);
        s_assert_histogram_consistent(snapshot, "lat_us");
        free(snapshot);
    }
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    assert_int_equal(atomic_load(&s.lookup_mismatches), 0);
    const uint64_t total = (uint64_t)THREADS * PER_THREAD;
    assert_int_equal(metrics_counter_value(s.c), total);
    assert_int_equal(metrics_gauge_value(s.g), (int64_t)total);
    assert_int_equal(metrics_histogram_count(s.h), total);
    /* Each thread records 0..1999 fifty times: sum = THREADS * 50 * (1999 * 2000 / 2). */
    char want[128];
    snprintf(want, sizeof want, "lat_us_sum %llu\nlat_us_count %llu\n",
             (unsigned long long)THREADS * 50 * 1999 * 1000, (unsigned long long)total);
    char *text = s_render(s.r);
    assert_non_null(strstr(text, want));
    s_assert_histogram_consistent(text, "lat_us");
    free(text);
    metrics_registry_destroy(&s.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_and_gauges_render_exactly),
        cmocka_unit_test(test_same_name_and_label_set_is_the_same_metric),
        cmocka_unit_test(test_histogram_buckets_are_cumulative_and_match_count),
        cmocka_unit_test(test_histogram_bounds_are_the_1_2_5_values_in_range),
        cmocka_unit_test(test_help_and_label_values_are_escaped),
        cmocka_unit_test(test_invalid_names_and_label_sets_are_rejected),
        cmocka_unit_test(test_registry_is_bounded_and_updates_on_null_are_noops),
        cmocka_unit_test(test_concurrent_updates_from_4_threads_sum_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
