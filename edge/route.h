/* edge/route.h — which actor serves a client request (schemas/messaging.md, "Routing"). */
#ifndef ROOST_EDGE_ROUTE_H
#define ROOST_EDGE_ROUTE_H

#include <stdint.h>

#include "edge/codec.h"
#include "runtime/limits.h"

/* The actor key for frame f from `user`: 0, or -1 with err (`bad_request` for an unknown `t` or
 * a missing/invalid routing field, named). */
int route_target(const frame_t *f, uint64_t user, char out[ROOST_KEY_BYTES_MAX + 1],
                 codec_err_t *err);

#endif
