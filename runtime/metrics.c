/* runtime/metrics.c — see metrics.h. */
#include "runtime/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/util.h"

struct metric {
    metric_type_t type;
    char name[METRICS_NAME_BYTES_MAX + 1];
    char labels[METRICS_LABELS_BYTES_MAX + 1];
    char help[METRICS_HELP_BYTES_MAX + 1];
    _Atomic uint64_t value; /* counter; gauge as two's complement; histogram count */
    _Atomic uint64_t sum;
    _Atomic uint64_t buckets[METRICS_HIST_BUCKETS + 1];
};

struct metrics_registry {
    pthread_mutex_t lock;
    metric_t *metrics[METRICS_MAX];
    _Atomic uint32_t count;
};

metrics_registry_t *metrics_registry_new(void)
{
    metrics_registry_t *r = roost_xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    return r;
}

void metrics_registry_destroy(metrics_registry_t **self_p)
{
    metrics_registry_t *r = *self_p;
    if (!r)
        return;
    for (uint32_t i = 0; i < atomic_load(&r->count); i++)
        free(r->metrics[i]);
    pthread_mutex_destroy(&r->lock);
    free(r);
    *self_p = NULL;
}

static bool s_name_char(char c, bool first, bool colon_ok)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (colon_ok && c == ':') || (!first && c >= '0' && c <= '9');
}

static bool s_valid_name(const char *s, bool colon_ok, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!s_name_char(s[i], i == 0, colon_ok))
            return false;
    return true;
}

/* `k="v",k2="v2"`: label names valid, values quoted with only \\ \" \n escapes. */
static bool s_valid_labels(const char *s)
{
    if (strlen(s) > METRICS_LABELS_BYTES_MAX)
        return false;
    while (*s) {
        const char *k = s;
        while (*s && *s != '=')
            s++;
        if (*s != '=' || s == k || !s_name_char(k[0], true, false))
            return false;
        for (const char *c = k + 1; c < s; c++)
            if (!s_name_char(*c, false, false))
                return false;
        if (*++s != '"')
            return false;
        for (s++; *s != '"'; s++) {
            if (*s == '\0' || *s == '\n')
                return false;
            if (*s == '\\' && s[1] != '\\' && s[1] != '"' && s[1] != 'n')
                return false;
            if (*s == '\\')
                s++;
        }
        s++;
        if (*s == ',')
            s++;
        else if (*s)
            return false;
    }
    return true;
}

static metric_t *s_find(metrics_registry_t *r, const char *name, const char *labels,
                        bool *type_clash, metric_type_t type)
{
    for (uint32_t i = 0; i < atomic_load(&r->count); i++) {
        metric_t *m = r->metrics[i];
        if (strcmp(m->name, name) != 0)
            continue;
        if (m->type != type)
            *type_clash = true;
        else if (strcmp(m->labels, labels) == 0)
            return m;
    }
    return NULL;
}

static metric_t *s_register(metrics_registry_t *r, metric_type_t type, const char *name,
                            const char *help, const char *labels)
{
    labels = labels ? labels : "";
    if (!s_valid_name(name, true, METRICS_NAME_BYTES_MAX) || !s_valid_labels(labels))
        return NULL;
    pthread_mutex_lock(&r->lock);
    bool clash = false;
    metric_t *m = s_find(r, name, labels, &clash, type);
    uint32_t n = atomic_load(&r->count);
    if (!m && !clash && n < METRICS_MAX) {
        m = roost_xcalloc(1, sizeof *m);
        m->type = type;
        snprintf(m->name, sizeof m->name, "%s", name);
        snprintf(m->labels, sizeof m->labels, "%s", labels);
        snprintf(m->help, sizeof m->help, "%s", help ? help : "");
        r->metrics[n] = m;
        atomic_store(&r->count, n + 1);
    }
    pthread_mutex_unlock(&r->lock);
    return clash ? NULL : m;
}

metric_t *metrics_counter(metrics_registry_t *r, const char *name, const char *help,
                          const char *labels)
{
    return s_register(r, METRIC_COUNTER, name, help, labels);
}

metric_t *metrics_gauge(metrics_registry_t *r, const char *name, const char *help,
                        const char *labels)
{
    return s_register(r, METRIC_GAUGE, name, help, labels);
}

metric_t *metrics_histogram(metrics_registry_t *r, const char *name, const char *help,
                            const char *labels)
{
    return s_register(r, METRIC_HISTOGRAM, name, help, labels);
}

void metrics_counter_add(metric_t *m, uint64_t n)
{
    if (m)
        atomic_fetch_add_explicit(&m->value, n, memory_order_relaxed);
}

void metrics_gauge_set(metric_t *m, int64_t v)
{
    if (m)
        atomic_store_explicit(&m->value, (uint64_t)v, memory_order_relaxed);
}

void metrics_gauge_add(metric_t *m, int64_t delta)
{
    if (m)
        atomic_fetch_add_explicit(&m->value, (uint64_t)delta, memory_order_relaxed);
}

void metrics_histogram_record(metric_t *m, uint64_t value)
{
    if (!m)
        return;
    /* bucket b holds values in (2^(b-1), 2^b]; b = ceil(log2(value)), 0 for values ≤ 1 */
    unsigned b = value <= 1 ? 0 : 64 - (unsigned)__builtin_clzll(value - 1);
    if (b > METRICS_HIST_BUCKETS)
        b = METRICS_HIST_BUCKETS;
    atomic_fetch_add_explicit(&m->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum, value, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->value, 1, memory_order_relaxed);
}

uint64_t metrics_value(const metric_t *m)
{
    return m ? atomic_load_explicit(&m->value, memory_order_relaxed) : 0;
}

static void s_help(FILE *f, const char *help)
{
    for (const char *c = help; *c; c++) {
        if (*c == '\\')
            fputs("\\\\", f);
        else if (*c == '\n')
            fputs("\\n", f);
        else
            fputc(*c, f);
    }
}

/* `{labels}`, `{labels,extra}` or `{extra}`; nothing when both are empty. */
static void s_labels(FILE *f, const char *labels, const char *extra)
{
    if (!labels[0] && !extra)
        return;
    fprintf(f, "{%s%s%s}", labels, labels[0] && extra ? "," : "", extra ? extra : "");
}

static void s_render_histogram(FILE *f, const metric_t *m)
{
    uint64_t cumulative = 0;
    char le[48];
    for (unsigned b = 0; b <= METRICS_HIST_BUCKETS; b++) {
        cumulative += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
        if (b == METRICS_HIST_BUCKETS)
            snprintf(le, sizeof le, "le=\"+Inf\"");
        else
            snprintf(le, sizeof le, "le=\"%llu\"", 1ull << b);
        fprintf(f, "%s_bucket", m->name);
        s_labels(f, m->labels, le);
        fprintf(f, " %llu\n", (unsigned long long)cumulative);
    }
    fprintf(f, "%s_sum", m->name);
    s_labels(f, m->labels, NULL);
    fprintf(f, " %llu\n%s_count", (unsigned long long)atomic_load(&m->sum), m->name);
    s_labels(f, m->labels, NULL);
    fprintf(f, " %llu\n", (unsigned long long)cumulative);
}

static void s_render_one(FILE *f, const metric_t *m)
{
    if (m->type == METRIC_HISTOGRAM) {
        s_render_histogram(f, m);
        return;
    }
    fputs(m->name, f);
    s_labels(f, m->labels, NULL);
    uint64_t v = atomic_load_explicit(&m->value, memory_order_relaxed);
    if (m->type == METRIC_GAUGE)
        fprintf(f, " %lld\n", (long long)(int64_t)v);
    else
        fprintf(f, " %llu\n", (unsigned long long)v);
}

int metrics_render(metrics_registry_t *r, char **out, size_t *len)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};
    *out = NULL;
    *len = 0;
    FILE *f = open_memstream(out, len);
    if (!f)
        return ROOST_ENOMEM;
    pthread_mutex_lock(&r->lock); /* the set of metrics, not their values */
    uint32_t n = atomic_load(&r->count);
    for (uint32_t i = 0; i < n; i++) {
        const metric_t *m = r->metrics[i];
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++)
            seen = strcmp(r->metrics[j]->name, m->name) == 0;
        if (seen)
            continue; /* rendered with its family's first member */
        fprintf(f, "# HELP %s ", m->name);
        s_help(f, m->help);
        fprintf(f, "\n# TYPE %s %s\n", m->name, types[m->type]);
        for (uint32_t j = i; j < n; j++)
            if (strcmp(r->metrics[j]->name, m->name) == 0)
                s_render_one(f, r->metrics[j]);
    }
    pthread_mutex_unlock(&r->lock);
    return fclose(f) == 0 ? ROOST_OK : ROOST_ENOMEM;
}
