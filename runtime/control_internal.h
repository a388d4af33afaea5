/* runtime/control_internal.h — the Raft state machine glue shared by control.c and
 * control_fsm.c. Not a public API: only the control plane includes it (and the simulator's
 * control plane, sim/raft.c, which runs this state machine over its own simulated raft_io).
 *
 * A control_fsm_t adapts the cluster map to libraft's struct raft_fsm. It lives on the control
 * thread: libraft calls apply/snapshot/restore from its loop, and `map` is touched nowhere else.
 */
#ifndef ROOST_CONTROL_INTERNAL_H
#define ROOST_CONTROL_INTERNAL_H

#include <raft.h>
#include <stdint.h>

#include "runtime/clustermap.h"

/* Called on the control thread after the working map changed; `map` is valid for the call. */
typedef void (*control_fsm_publish_fn)(void *arg, const clustermap_t *map);

typedef struct {
    struct raft_fsm fsm; /* handed to raft_init; fsm.data points back here */
    struct raft *raft;   /* to learn the index of the entry being applied */
    clustermap_t *map;   /* the working map; this struct holds its only reference */
    control_fsm_publish_fn publish;
    void *publish_arg;
    uint64_t rejected;  /* entries that decoded but did not apply (unknown id, stale …) */
    uint64_t malformed; /* entries that did not decode: a bug or a foreign log */
} control_fsm_t;

/* Frames an encoded command or map as a Raft entry or snapshot payload:
 *   u32 little-endian payload length | payload | zero padding to a multiple of 8 bytes.
 * raft_uv 0.15 stores entry lengths unpadded but pads the data on disk, and reads a segment
 * back correctly only if every entry is a multiple of 8 bytes; the length prefix lets us find
 * the payload again. out->base is raft_malloc'd. Returns 0 or ROOST_ENOMEM / ROOST_ETOOBIG. */
int control_fsm_frame(const void *payload, size_t len, struct raft_buffer *out);

/* Sets up an empty map of the given shape. Returns 0 or ROOST_ENOMEM / ROOST_EINVAL. */
int control_fsm_init(control_fsm_t *self, struct raft *raft, uint32_t partitions, uint32_t rf,
                     control_fsm_publish_fn publish, void *publish_arg);
/* Frees the working map. Safe to call twice. */
void control_fsm_close(control_fsm_t *self);

#endif
