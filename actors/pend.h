/* actors/pend.h — an actor's outstanding requests to other actors: what each was for, and the
 * client request (kept) to answer when it comes back. A short list: actors have few at once. */
#ifndef ROOST_ACTORS_PEND_H
#define ROOST_ACTORS_PEND_H

#include <stdint.h>
#include <stdlib.h>

#include "runtime/actor.h"
#include "runtime/util.h"

typedef struct pend {
    struct pend *next;
    uint64_t corr;
    int kind;
    roost_env_t *req; /* kept; may be NULL */
    uint64_t a, b;    /* the kind's own data */
    char s[144];
} pend_t;

static inline pend_t *pend_add(pend_t **list, uint64_t corr, int kind, roost_env_t *req)
{
    pend_t *p = roost_xcalloc(1, sizeof *p);
    p->corr = corr;
    p->kind = kind;
    p->req = req;
    p->next = *list;
    *list = p;
    return p;
}

/* Unlinks and returns the entry for corr (NULL if none); the caller frees it. */
static inline pend_t *pend_take(pend_t **list, uint64_t corr)
{
    for (pend_t **pp = list; *pp; pp = &(*pp)->next)
        if ((*pp)->corr == corr && corr) {
            pend_t *p = *pp;
            *pp = p->next;
            return p;
        }
    return NULL;
}

static inline void pend_free(pend_t *p)
{
    if (p)
        roost_env_free(p->req);
    free(p);
}

static inline void pend_clear(pend_t **list)
{
    while (*list) {
        pend_t *p = *list;
        *list = p->next;
        pend_free(p);
    }
}

#endif
