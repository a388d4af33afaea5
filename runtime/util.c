/* runtime/util.c — the one place out-of-memory is handled: abort with a message. */
#include "runtime/util.h"

#include "runtime/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void roost_oom(size_t n)
{
    fprintf(stderr, "level=error comp=alloc msg=\"out of memory\" bytes=%zu\n", n);
    abort();
}

void *roost_xmap_aligned(size_t bytes, size_t align, bool huge)
{
    char *raw =
        mmap(NULL, bytes + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        roost_oom(bytes + align);
    char *start = (char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
    if (start > raw)
        munmap(raw, (size_t)(start - raw));
    munmap(start + bytes, (size_t)(raw + align - start));
    if (huge)
        (void)madvise(start, bytes, MADV_HUGEPAGE); /* a hint */
    if (madvise(start, bytes, MADV_POPULATE_WRITE) != 0)
        memset(start, 0, bytes); /* (older kernels) fault each page writable now */
    return start;
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

void *roost_xcalloc_aligned(size_t count, size_t size, size_t align)
{
    size_t bytes = count * size;
    if (size && bytes / size != count)
        roost_oom(SIZE_MAX);
    bytes = (bytes + align - 1) & ~(align - 1); /* aligned_alloc wants a multiple of align */
    void *p = aligned_alloc(align, bytes ? bytes : align);
    if (!p)
        roost_oom(bytes);
    memset(p, 0, bytes);
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
