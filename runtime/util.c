/* runtime/util.c — the one place out-of-memory is handled: abort with a message. */
#include "runtime/util.h"

#include "runtime/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void roost_oom(size_t n)
{
    fprintf(stderr, "level=error comp=alloc msg=\"out of memory\" bytes=%zu\n", n);
    abort();
}

void *roost_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        roost_oom(n);
    return p;
}

void *roost_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        roost_oom(count * size);
    return p;
}

void *roost_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        roost_oom(n);
    return q;
}

void *roost_xgrow_zeroed(void *p, size_t *cap, size_t size, size_t index)
{
    if (index < *cap)
        return p;
    size_t n = *cap ? *cap : 64;
    while (n <= index)
        n *= 2;
    char *q = roost_xrealloc(p, n * size);
    memset(q + *cap * size, 0, (n - *cap) * size);
    *cap = n;
    return q;
}

char *roost_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = roost_xmalloc(n);
    memcpy(d, s, n);
    return d;
}

int roost_fmt(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? ROOST_ETOOBIG : ROOST_OK;
}
