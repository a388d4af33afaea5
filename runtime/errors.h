/* runtime/errors.h — the project-wide table of error codes.
 *
 * Commands return 0 (ROOST_OK) or one of these negative codes; predicates return bool and
 * constructors return NULL. The table is append-only: codes travel inside envelopes between
 * nodes of different versions, so a number is never reused for another meaning.
 */
#ifndef ROOST_ERRORS_H
#define ROOST_ERRORS_H

typedef enum {
    ROOST_OK = 0,
    ROOST_ENOMEM = -1,      /* allocation failed */
    ROOST_EINVAL = -2,      /* caller passed something malformed */
    ROOST_ENOTFOUND = -3,   /* no such key, node or entry */
    ROOST_EEXIST = -4,      /* already there */
    ROOST_EAGAIN = -5,      /* a bounded queue is full; retry later */
    ROOST_ETIMEDOUT = -6,   /* a request was not answered in time */
    ROOST_EIO = -7,         /* the OS or a library failed an I/O call */
    ROOST_EPROTO = -8,      /* malformed bytes from a peer, a file or a client */
    ROOST_ENOKIND = -9,     /* no behaviour registered for the key's kind */
    ROOST_ESTALE = -10,     /* an epoch or map version older than ours */
    ROOST_EUNAVAIL = -11,   /* not serving: no primary, no quorum, draining */
    ROOST_ECLOSED = -12,    /* the component is shutting down */
    ROOST_ETOOBIG = -13,    /* over a size limit */
    ROOST_ENOTLEADER = -14, /* a control-plane change went to a follower */
    ROOST_EACCES = -15,     /* refused: wrong or spent credentials */
    ROOST_ELIMIT = -16,     /* a rate limit was reached; retry later */
    ROOST_ERROR_MIN = -16,
} roost_err_t;

/* Short stable name for a code ("etimedout"); "unknown" for anything outside the table.
 * The returned string is static; this function can't fail. */
const char *roost_strerror(int code);

#endif
