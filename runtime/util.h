/* runtime/util.h — allocation wrappers. Out of memory is not an operating error Roost can
 * handle gracefully mid-protocol, so (like Redis's zmalloc) it aborts in one place, loudly. */
#ifndef ROOST_UTIL_H
#define ROOST_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* Reports a failed allocation of n bytes (malloc, mmap) and aborts. */
void roost_oom(size_t n) __attribute__((noreturn));
/* `bytes` of zeroed memory in an anonymous mapping of its own, aligned to `align` (a power of two),
 * every page populated writable now (one madvise; a memset on kernels without
 * MADV_POPULATE_WRITE), with a transparent-huge-page hint if `huge`. Free with munmap(p, bytes).
 * For memory whose page faults would otherwise come one by one in a hot loop. */
void *roost_xmap_aligned(size_t bytes, size_t align, bool huge);
/* Never return NULL. */
void *roost_xmalloc(size_t n);
void *roost_xcalloc(size_t count, size_t size);
/* Zeroed memory for count objects of size bytes, aligned to align (a power of two); free() it. */
void *roost_xcalloc_aligned(size_t count, size_t size, size_t align);
void *roost_xrealloc(void *p, size_t n);
char *roost_xstrdup(const char *s);
/* An array of *cap elements of `size` bytes, grown (doubling, from 64) until `index` fits; the
 * new elements are zeroed and *cap updated. Returns the (possibly moved) array. */
void *roost_xgrow_zeroed(void *p, size_t *cap, size_t size, size_t index);

/* snprintf that reports truncation: 0, or ROOST_ETOOBIG when the result did not fit (out then
 * holds a truncated, NUL-terminated string that callers must not use). */
int roost_fmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
