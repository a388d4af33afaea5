/* runtime/errors.c — names for the error table in errors.h. */
#include "runtime/errors.h"

static const char *const s_names[] = {
    "ok",        "enomem",  "einval",     "enotfound", "eexist", "eagain",
    "etimedout", "eio",     "eproto",     "enokind",   "estale", "eunavail",
    "eclosed",   "etoobig", "enotleader", "eacces",    "elimit",
};

const char *roost_strerror(int code)
{
    if (code > 0 || code < ROOST_ERROR_MIN)
        return "unknown";
    return s_names[-code];
}
