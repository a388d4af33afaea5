/* runtime/util.h — allocation wrappers. Out of memory is not an operating error Roost can
 * handle gracefully mid-protocol, so (like Redis's zmalloc) it aborts in one place, loudly. */
#ifndef ROOST_UTIL_H
#define ROOST_UTIL_H

#include <stddef.h>

/* Never return NULL. */
void *roost_xmalloc(size_t n);
void *roost_xcalloc(size_t count, size_t size);
void *roost_xrealloc(void *p, size_t n);
char *roost_xstrdup(const char *s);

#endif
