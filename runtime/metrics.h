/* runtime/metrics.h — a node's metrics registry, rendered in the Prometheus text exposition
 * format 0.0.4.
 *
 * Owns: every metric series registered on it (their names, help, labels and values) until
 * metrics_registry_destroy. One registry per node, passed to the components that need it; no
 * globals.
 *
 * Model (Prometheus's): a *family* is a name with one type and one help text; a *series* is a
 * family plus a fixed label set given at registration (possibly empty). Registering a name and
 * label set that already exist returns the existing series, so components can look theirs up
 * (the label set is compared as a set: order does not matter). The family's help is the first
 * registration's; registering a name again with another type (or a histogram with other
 * bounds) fails.
 *
 *   counter    uint64, only goes up (wraps at 2^64).
 *   gauge      int64, set or added to.
 *   histogram  uint64 observations (e.g. microseconds) counted in fixed buckets on a 1-2-5
 *              log scale: the upper bounds are every value m * 10^k (m in {1, 2, 5}, k >= 0)
 *              with min_bound <= value <= max_bound, chosen at registration, plus +Inf. A value
 *              v lands in the first bucket whose bound is >= v (`le` is inclusive). Rendered as
 *              cumulative name_bucket{le="…"}, name_sum and name_count; name_count is always
 *              the +Inf bucket of the same snapshot.
 *
 * Threads: registration, lookup and rendering take the registry's mutex. Updates
 * (metrics_counter_add, metrics_gauge_set/add, metrics_histogram_record) are lock-free relaxed
 * atomics, safe from any thread, and accept NULL (a failed registration makes them no-ops:
 * metrics never take a node down). A render concurrent with updates sees each value at some
 * point during the render, not one instant for all.
 *
 * Rendering: families in registration order, HELP and TYPE once per family, then its series
 * in registration order; labels sorted by name. Help text escapes `\` and newline; label values
 * escape `\`, `"` and newline. Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]* and not start with "__"; a histogram may not use the label "le".
 * Not checked: that help and label values are valid UTF-8, and that a histogram's derived
 * names (x_bucket, x_sum, x_count) do not collide with another family's name.
 */
#ifndef ROOST_METRICS_H
#define ROOST_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum {
    /* Series per registry: a node's runtime has a few dozen, plus about ten per peer at
     * ROOST_NODES_MAX = 64 peers; a render stays well under a megabyte. */
    METRICS_SERIES_MAX = 1024,
    /* Labels per series: ours carry one or two (peer, kind); more is a cardinality smell. */
    METRICS_LABELS_MAX = 8,
    /* Bytes of a metric or label name, NUL excluded. */
    METRICS_NAME_BYTES_MAX = 128,
    /* Bytes of a label value, NUL excluded: values are ids and short names, not payloads. */
    METRICS_LABEL_VALUE_BYTES_MAX = 128,
    /* Bytes of a help text, NUL excluded: one sentence. */
    METRICS_HELP_BYTES_MAX = 512,
    /* Finite bucket bounds per histogram: the whole uint64 range in 1-2-5 steps is 58. */
    METRICS_BUCKETS_MAX = 58,
};

typedef struct metrics_registry metrics_registry_t;
typedef struct metrics_counter metrics_counter_t;
typedef struct metrics_gauge metrics_gauge_t;
typedef struct metrics_histogram metrics_histogram_t;

typedef struct {
    const char *name;
    const char *value;
} metrics_label_t;

/* An empty registry; the caller owns it. Never NULL (out of memory aborts). */
metrics_registry_t *metrics_registry_new(void);
/* Frees the registry and every series on it (their handles become invalid); no update may
 * be running. Safe on NULL; sets *self_p to NULL. */
void metrics_registry_destroy(metrics_registry_t **self_p);

/* Register, or look up, the series `name`{labels}. `labels` may be NULL when nlabels is 0;
 * the registry copies name, help and labels. The registry owns the returned handle, valid
 * until the registry is destroyed. Returns NULL if a name, label or help is invalid or too
 * long, a label name repeats, the family exists with another type (or other histogram bounds),
 * or METRICS_SERIES_MAX series exist. */
metrics_counter_t *metrics_register_counter(metrics_registry_t *self, const char *name,
                                            const char *help, const metrics_label_t *labels,
                                            size_t nlabels);
metrics_gauge_t *metrics_register_gauge(metrics_registry_t *self, const char *name,
                                        const char *help, const metrics_label_t *labels,
                                        size_t nlabels);
/* Buckets as described above; NULL also if min_bound is 0, min_bound > max_bound, or no
 * 1-2-5 value lies between them. */
metrics_histogram_t *metrics_register_histogram(metrics_registry_t *self, const char *name,
                                                const char *help, const metrics_label_t *labels,
                                                size_t nlabels, uint64_t min_bound,
                                                uint64_t max_bound);

/* Updates: lock-free, any thread, no-ops on NULL. These functions can't fail. */
void metrics_counter_add(metrics_counter_t *c, uint64_t n);
void metrics_gauge_set(metrics_gauge_t *g, int64_t v);
void metrics_gauge_add(metrics_gauge_t *g, int64_t delta);
void metrics_histogram_record(metrics_histogram_t *h, uint64_t v);

/* Current values (relaxed reads), 0 on NULL: for tests and for components that read back. */
uint64_t metrics_counter_value(const metrics_counter_t *c);
int64_t metrics_gauge_value(const metrics_gauge_t *g);
/* Observations recorded so far (the sum of all buckets). */
uint64_t metrics_histogram_count(const metrics_histogram_t *h);

/* Renders every series into a new NUL-terminated buffer; the caller owns *out and frees it
 * with free(). *len is its length without the NUL. Returns 0, or ROOST_EINVAL on NULL
 * arguments (out of memory aborts). */
int metrics_render(metrics_registry_t *self, char **out, size_t *len);

#endif
