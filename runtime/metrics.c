/* runtime/metrics.c — the metrics registry and its Prometheus text rendering; see metrics.h
 * for the model and the threading contract.
 *
 * Layout: families[0..nfamilies) in registration order, each with a singly linked list of its
 * series in registration order. A series' labels are kept pre-rendered in canonical form
 * (sorted by name, values escaped: `a="x",b="y"`), so "same label set" is string equality and
 * rendering copies the string.
 *
 * Invariants (under the mutex): nfamilies <= nseries <= METRICS_SERIES_MAX; family names are
 * distinct; within a family, label strings are distinct; every histogram of a family has the
 * same bounds. After registration only the atomics of a series change.
 */
#include "runtime/metrics.h"

#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/util.h"

typedef enum { S_COUNTER, S_GAUGE, S_HISTOGRAM } s_type_t;

struct metrics_counter {
    _Atomic uint64_t value;
};

struct metrics_gauge {
    _Atomic int64_t value;
};

struct metrics_histogram {
    uint64_t bounds[METRICS_BUCKETS_MAX];             /* ascending, fixed at registration */
    size_t nbounds;                                   /* >= 1 */
    _Atomic uint64_t counts[METRICS_BUCKETS_MAX + 1]; /* per bucket, not cumulative; last +Inf */
    _Atomic uint64_t sum;
};

typedef struct s_series s_series_t;
struct s_series {
    char *labels; /* canonical, "" when none */
    s_series_t *next;
    struct metrics_counter counter;
    struct metrics_gauge gauge;
    struct metrics_histogram *hist; /* S_HISTOGRAM only */
};

typedef struct {
    char *name;
    char *help;
    s_type_t type;
    s_series_t *head, *tail;
} s_family_t;

struct metrics_registry {
    pthread_mutex_t lock;
    size_t nfamilies;
    size_t nseries;
    s_family_t families[METRICS_SERIES_MAX];
};

/* ---- a growable string; out of memory aborts ---- */

typedef struct {
    char *data;
    size_t len, cap;
} s_buf_t;

static void s_buf_putn(s_buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + n + 1 > cap)
            cap *= 2;
        b->data = roost_xrealloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void s_buf_puts(s_buf_t *b, const char *s)
{
    s_buf_putn(b, s, strlen(s));
}

static void s_buf_put_u64(s_buf_t *b, uint64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    assert(n > 0 && (size_t)n < sizeof tmp);
    s_buf_putn(b, tmp, (size_t)n);
}

static void s_buf_put_i64(s_buf_t *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    assert(n > 0 && (size_t)n < sizeof tmp);
    s_buf_putn(b, tmp, (size_t)n);
}

/* Help text escapes `\` and newline; label values also `"`. */
static void s_buf_put_escaped(s_buf_t *b, const char *s, bool is_label_value)
{
    for (; *s; s++) {
        if (*s == '\\')
            s_buf_puts(b, "\\\\");
        else if (*s == '\n')
            s_buf_puts(b, "\\n");
        else if (*s == '"' && is_label_value)
            s_buf_puts(b, "\\\"");
        else
            s_buf_putn(b, s, 1);
    }
}

/* ---- validation ---- */

static bool s_is_alpha_(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool s_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names: [a-zA-Z_][a-zA-Z0-9_]*, no "__" prefix. */
static bool s_name_valid(const char *name, bool is_label)
{
    if (!name)
        return false;
    size_t len = strnlen(name, METRICS_NAME_BYTES_MAX + 1);
    if (len == 0 || len > METRICS_NAME_BYTES_MAX)
        return false;
    if (is_label && strncmp(name, "__", 2) == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = s_is_alpha_(c) || (i > 0 && s_is_digit(c)) || (!is_label && c == ':');
        if (!ok)
            return false;
    }
    return true;
}

static int s_label_cmp(const void *a, const void *b)
{
    return strcmp(((const metrics_label_t *)a)->name, ((const metrics_label_t *)b)->name);
}

static bool s_label_valid(const metrics_label_t *l, s_type_t type)
{
    if (!s_name_valid(l->name, true) || !l->value)
        return false;
    if (strnlen(l->value, METRICS_LABEL_VALUE_BYTES_MAX + 1) > METRICS_LABEL_VALUE_BYTES_MAX)
        return false;
    /* `le` is the bucket label a histogram adds itself. */
    return !(type == S_HISTOGRAM && strcmp(l->name, "le") == 0);
}

/* Checks the label set and writes its canonical form into *out (caller frees out->data). */
static bool s_labels_canonical(const metrics_label_t *labels, size_t n, s_type_t type, s_buf_t *out)
{
    metrics_label_t sorted[METRICS_LABELS_MAX];
    if (n > METRICS_LABELS_MAX || (n > 0 && !labels))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!s_label_valid(&labels[i], type))
            return false;
        sorted[i] = labels[i];
    }
    if (n > 0)
        qsort(sorted, n, sizeof sorted[0], s_label_cmp);
    s_buf_puts(out, ""); /* "" rather than NULL for an empty set */
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(sorted[i - 1].name, sorted[i].name) == 0)
            return false;
        if (i > 0)
            s_buf_puts(out, ",");
        s_buf_puts(out, sorted[i].name);
        s_buf_puts(out, "=\"");
        s_buf_put_escaped(out, sorted[i].value, true);
        s_buf_puts(out, "\"");
    }
    return true;
}

/* The 1-2-5 values in [lo, hi], ascending; returns how many (0..METRICS_BUCKETS_MAX). */
static size_t s_bounds_125(uint64_t lo, uint64_t hi, uint64_t *out)
{
    static const uint64_t mult[3] = {1, 2, 5};
    size_t n = 0;
    for (uint64_t decade = 1;; decade *= 10) {
        for (int i = 0; i < 3; i++) {
            if (decade > UINT64_MAX / mult[i] || decade * mult[i] > hi)
                return n;
            if (decade * mult[i] >= lo) {
                assert(n < METRICS_BUCKETS_MAX);
                out[n++] = decade * mult[i];
            }
        }
        if (decade > UINT64_MAX / 10)
            return n;
    }
}

/* ---- registration ---- */

static s_family_t *s_family_find(metrics_registry_t *self, const char *name)
{
    for (size_t i = 0; i < self->nfamilies; i++) {
        if (strcmp(self->families[i].name, name) == 0)
            return &self->families[i];
    }
    return NULL;
}

static s_series_t *s_series_find(const s_family_t *f, const char *labels)
{
    for (s_series_t *s = f->head; s; s = s->next) {
        if (strcmp(s->labels, labels) == 0)
            return s;
    }
    return NULL;
}

static bool s_hist_same_bounds(const struct metrics_histogram *a, const struct metrics_histogram *b)
{
    return a->nbounds == b->nbounds &&
           memcmp(a->bounds, b->bounds, a->nbounds * sizeof a->bounds[0]) == 0;
}

/* Under the lock: the existing series, a new one, or NULL (type clash or registry full).
 * `labels->data` and `*proto` (histograms only) are adopted by a new series (set to NULL) or
 * left to the caller to free. */
static s_series_t *s_register_locked(metrics_registry_t *self, s_type_t type, const char *name,
                                     const char *help, s_buf_t *labels,
                                     struct metrics_histogram **proto)
{
    s_family_t *f = s_family_find(self, name);
    if (f && f->type != type)
        return NULL;
    if (f && type == S_HISTOGRAM && !s_hist_same_bounds(f->head->hist, *proto))
        return NULL;
    s_series_t *s = f ? s_series_find(f, labels->data) : NULL;
    if (s || self->nseries == METRICS_SERIES_MAX)
        return s;
    if (!f) {
        assert(self->nfamilies < METRICS_SERIES_MAX);
        f = &self->families[self->nfamilies++];
        *f = (s_family_t){.name = roost_xstrdup(name), .help = roost_xstrdup(help), .type = type};
    }
    s = roost_xcalloc(1, sizeof *s);
    s->labels = labels->data;
    labels->data = NULL;
    s->hist = *proto;
    *proto = NULL;
    if (f->tail)
        f->tail->next = s;
    else
        f->head = s;
    f->tail = s;
    self->nseries++;
    assert(self->nfamilies <= self->nseries && self->nseries <= METRICS_SERIES_MAX);
    return s;
}

/* Validates outside the lock, registers under it; frees whatever was not adopted. */
static s_series_t *s_register(metrics_registry_t *self, s_type_t type, const char *name,
                              const char *help, const metrics_label_t *labels, size_t nlabels,
                              struct metrics_histogram *proto)
{
    s_series_t *s = NULL;
    s_buf_t canon = {0};
    if (!self || !s_name_valid(name, false) || !help ||
        strnlen(help, METRICS_HELP_BYTES_MAX + 1) > METRICS_HELP_BYTES_MAX)
        goto out;
    if (!s_labels_canonical(labels, nlabels, type, &canon))
        goto out;
    pthread_mutex_lock(&self->lock);
    s = s_register_locked(self, type, name, help, &canon, &proto);
    pthread_mutex_unlock(&self->lock);
out:
    free(canon.data);
    free(proto);
    return s;
}

metrics_counter_t *metrics_register_counter(metrics_registry_t *self, const char *name,
                                            const char *help, const metrics_label_t *labels,
                                            size_t nlabels)
{
    s_series_t *s = s_register(self, S_COUNTER, name, help, labels, nlabels, NULL);
    return s ? &s->counter : NULL;
}

metrics_gauge_t *metrics_register_gauge(metrics_registry_t *self, const char *name,
                                        const char *help, const metrics_label_t *labels,
                                        size_t nlabels)
{
    s_series_t *s = s_register(self, S_GAUGE, name, help, labels, nlabels, NULL);
    return s ? &s->gauge : NULL;
}

metrics_histogram_t *metrics_register_histogram(metrics_registry_t *self, const char *name,
                                                const char *help, const metrics_label_t *labels,
                                                size_t nlabels, uint64_t min_bound,
                                                uint64_t max_bound)
{
    if (min_bound == 0 || min_bound > max_bound)
        return NULL;
    struct metrics_histogram *proto = roost_xcalloc(1, sizeof *proto);
    proto->nbounds = s_bounds_125(min_bound, max_bound, proto->bounds);
    if (proto->nbounds == 0) {
        free(proto);
        return NULL;
    }
    s_series_t *s = s_register(self, S_HISTOGRAM, name, help, labels, nlabels, proto);
    return s ? s->hist : NULL;
}

/* ---- lifecycle ---- */

metrics_registry_t *metrics_registry_new(void)
{
    metrics_registry_t *self = roost_xcalloc(1, sizeof *self);
    int rc = pthread_mutex_init(&self->lock, NULL);
    assert(rc == 0);
    (void)rc;
    return self;
}

void metrics_registry_destroy(metrics_registry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    metrics_registry_t *self = *self_p;
    for (size_t i = 0; i < self->nfamilies; i++) {
        s_family_t *f = &self->families[i];
        for (s_series_t *s = f->head, *next; s; s = next) {
            next = s->next;
            free(s->hist);
            free(s->labels);
            free(s);
        }
        free(f->name);
        free(f->help);
    }
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

/* ---- updates: lock-free ---- */

void metrics_counter_add(metrics_counter_t *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

void metrics_gauge_set(metrics_gauge_t *g, int64_t v)
{
    if (g)
        atomic_store_explicit(&g->value, v, memory_order_relaxed);
}

void metrics_gauge_add(metrics_gauge_t *g, int64_t delta)
{
    if (g)
        atomic_fetch_add_explicit(&g->value, delta, memory_order_relaxed);
}

/* Index of the first bound >= v, or nbounds (+Inf). */
static size_t s_bucket_of(const struct metrics_histogram *h, uint64_t v)
{
    size_t lo = 0, hi = h->nbounds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (h->bounds[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void metrics_histogram_record(metrics_histogram_t *h, uint64_t v)
{
    if (!h)
        return;
    atomic_fetch_add_explicit(&h->counts[s_bucket_of(h, v)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}

uint64_t metrics_counter_value(const metrics_counter_t *c)
{
    return c ? atomic_load_explicit(&c->value, memory_order_relaxed) : 0;
}

int64_t metrics_gauge_value(const metrics_gauge_t *g)
{
    return g ? atomic_load_explicit(&g->value, memory_order_relaxed) : 0;
}

uint64_t metrics_histogram_count(const metrics_histogram_t *h)
{
    uint64_t n = 0;
    for (size_t i = 0; h && i <= h->nbounds; i++)
        n += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    return n;
}

/* ---- rendering ---- */

/* name + suffix + {labels[,extra]}; braces omitted when both are empty. */
static void s_put_series_name(s_buf_t *b, const char *name, const char *suffix, const char *labels,
                              const char *extra)
{
    s_buf_puts(b, name);
    s_buf_puts(b, suffix);
    if (!labels[0] && !extra)
        return;
    s_buf_puts(b, "{");
    s_buf_puts(b, labels);
    if (extra) {
        if (labels[0])
            s_buf_puts(b, ",");
        s_buf_puts(b, extra);
    }
    s_buf_puts(b, "}");
}

static void s_put_sample(s_buf_t *b, const char *name, const char *suffix, const char *labels,
                         const char *extra, uint64_t v)
{
    s_put_series_name(b, name, suffix, labels, extra);
    s_buf_puts(b, " ");
    s_buf_put_u64(b, v);
    s_buf_puts(b, "\n");
}

static void s_render_histogram(s_buf_t *b, const char *name, const s_series_t *s)
{
    const struct metrics_histogram *h = s->hist;
    uint64_t cumulative = 0;
    char le[48];
    for (size_t i = 0; i <= h->nbounds; i++) {
        cumulative += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
        if (i < h->nbounds)
            snprintf(le, sizeof le, "le=\"%" PRIu64 "\"", h->bounds[i]);
        else
            snprintf(le, sizeof le, "le=\"+Inf\"");
        s_put_sample(b, name, "_bucket", s->labels, le, cumulative);
    }
    s_put_sample(b, name, "_sum", s->labels, NULL,
                 atomic_load_explicit(&h->sum, memory_order_relaxed));
    /* The +Inf bucket of this same snapshot, so _count and the buckets always agree. */
    s_put_sample(b, name, "_count", s->labels, NULL, cumulative);
}

static void s_render_family(s_buf_t *b, const s_family_t *f)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    s_buf_puts(b, "# HELP ");
    s_buf_puts(b, f->name);
    s_buf_puts(b, " ");
    s_buf_put_escaped(b, f->help, false);
    s_buf_puts(b, "\n# TYPE ");
    s_buf_puts(b, f->name);
    s_buf_puts(b, " ");
    s_buf_puts(b, type_names[f->type]);
    s_buf_puts(b, "\n");
    for (const s_series_t *s = f->head; s; s = s->next) {
        if (f->type == S_HISTOGRAM) {
            s_render_histogram(b, f->name, s);
        } else if (f->type == S_COUNTER) {
            s_put_sample(b, f->name, "", s->labels, NULL, metrics_counter_value(&s->counter));
        } else {
            s_put_series_name(b, f->name, "", s->labels, NULL);
            s_buf_puts(b, " ");
            s_buf_put_i64(b, metrics_gauge_value(&s->gauge));
            s_buf_puts(b, "\n");
        }
    }
}

int metrics_render(metrics_registry_t *self, char **out, size_t *len)
{
    if (!self || !out || !len)
        return ROOST_EINVAL;
    s_buf_t b = {0};
    s_buf_puts(&b, ""); /* an empty registry renders "", not NULL */
    pthread_mutex_lock(&self->lock);
    for (size_t i = 0; i < self->nfamilies; i++)
        s_render_family(&b, &self->families[i]);
    pthread_mutex_unlock(&self->lock);
    *out = b.data;
    *len = b.len;
    return ROOST_OK;
}
