/* runtime/metrics.h — a node's metrics registry, rendered in the Prometheus text format 0.0.4.
 *
 * Counters (monotonic uint64), gauges (int64) and histograms (fixed log-2 buckets over a
 * unit the caller picks, e.g. microseconds: le = 1, 2, 4, … 2^(METRICS_HIST_BUCKETS-1), +Inf).
 * A metric is a family name + an optional fixed label set given at registration
 * (`peer="shard-2"`); registering the same name and labels again returns the same metric, so a
 * component can look its metrics up instead of threading pointers around.
 *
 * Threads: registration takes the registry's mutex; updates are relaxed atomics, lock-free,
 * from any thread; rendering reads atomics (a histogram's buckets, sum and count are each exact
 * but not one snapshot). Metrics live as long as their registry; no globals.
 */
#ifndef ROOST_METRICS_H
#define ROOST_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum {
    METRICS_MAX = 1024,          /* metrics (family × label set) per registry: a node has ~100 */
    METRICS_NAME_BYTES_MAX = 96,
    METRICS_LABELS_BYTES_MAX = 160,
    METRICS_HELP_BYTES_MAX = 200,
    METRICS_HIST_BUCKETS = 32,   /* le = 2^0 … 2^31, then +Inf */
};

typedef enum { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM } metric_type_t;

typedef struct metrics_registry metrics_registry_t;
typedef struct metric metric_t;

metrics_registry_t *metrics_registry_new(void);
void metrics_registry_destroy(metrics_registry_t **self_p);

/* Registers (or finds) a metric. `labels` is NULL or `key="value",key2="value2"` with label
 * names in [a-zA-Z_][a-zA-Z0-9_]* and values escaped here; the name must match
 * [a-zA-Z_:][a-zA-Z0-9_:]*. NULL for an invalid name or label set, a type clash with an
 * existing family, or a full registry. The registry owns the metric. */
metric_t *metrics_counter(metrics_registry_t *r, const char *name, const char *help,
                          const char *labels);
metric_t *metrics_gauge(metrics_registry_t *r, const char *name, const char *help,
                        const char *labels);
metric_t *metrics_histogram(metrics_registry_t *r, const char *name, const char *help,
                            const char *labels);

/* Lock-free; safe on NULL (a metric that failed to register costs nothing). */
void metrics_counter_add(metric_t *m, uint64_t n);
void metrics_gauge_set(metric_t *m, int64_t v);
void metrics_gauge_add(metric_t *m, int64_t delta);
void metrics_histogram_record(metric_t *m, uint64_t value);
uint64_t metrics_value(const metric_t *m); /* counter/gauge value, histogram count */

/* Renders every family (registration order) to a new NUL-terminated buffer the caller frees.
 * 0 or ROOST_ENOMEM. */
int metrics_render(metrics_registry_t *r, char **out, size_t *len);

#endif
