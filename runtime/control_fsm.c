/* runtime/control_fsm.c — the cluster map as a libraft state machine (struct raft_fsm v1).
 *
 * Owns: the working map on the control thread, and the translation between Raft entries and
 * clustermap commands, Raft snapshots and clustermap encodings.
 *
 * Determinism: apply never fails towards libraft. An entry that does not decode, or a command
 * that clustermap_apply rejects, is the same no-op on every node (counted and logged) — if it
 * returned an error, libraft 0.15 would stop applying and retry the entry forever. Out of
 * memory while applying would make this node diverge, so it aborts instead (Redis-style).
 */
#include "runtime/control_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/log.h"

static const char *const COMP = "control";

static void s_out_of_memory(const char *what)
{
    ROOST_ERROR(COMP, "out of memory in the state machine", "what=%s", what);
    abort();
}

enum {
    FRAME_HEADER_BYTES = 4,
    FRAME_ALIGN_BYTES = 8,
    /* Largest framed payload: a whole map, the bigger of the two things we frame. */
    FRAME_PAYLOAD_BYTES_MAX = CLUSTERMAP_MAP_BYTES_MAX,
};

int control_fsm_frame(const void *payload, size_t len, struct raft_buffer *out)
{
    assert(payload != NULL && out != NULL);
    if (len > FRAME_PAYLOAD_BYTES_MAX)
        return ROOST_ETOOBIG;
    size_t total = FRAME_HEADER_BYTES + len;
    total += (FRAME_ALIGN_BYTES - total % FRAME_ALIGN_BYTES) % FRAME_ALIGN_BYTES;
    unsigned char *base = raft_malloc(total);
    if (base == NULL)
        return ROOST_ENOMEM;
    memset(base, 0, total);
    for (int i = 0; i < FRAME_HEADER_BYTES; i++)
        base[i] = (unsigned char)(len >> (8 * i));
    memcpy(base + FRAME_HEADER_BYTES, payload, len);
    out->base = base;
    out->len = total;
    return ROOST_OK;
}

/* Finds the payload inside a frame; false if the frame is malformed. */
static bool s_unframe(const struct raft_buffer *buf, const void **payload, size_t *len)
{
    const unsigned char *p = buf->base;
    if (p == NULL || buf->len < FRAME_HEADER_BYTES)
        return false;
    size_t n = 0;
    for (int i = FRAME_HEADER_BYTES - 1; i >= 0; i--)
        n = (n << 8) | p[i];
    if (n > buf->len - FRAME_HEADER_BYTES)
        return false;
    *payload = p + FRAME_HEADER_BYTES;
    *len = n;
    return true;
}

static int s_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
    control_fsm_t *self = fsm->data;
    *result = NULL;
    /* libraft 0.15 advances last_applied entry by entry (barriers and configuration changes
     * included), so the entry being applied is the next index: the same on every node. */
    uint64_t index = raft_last_applied(self->raft) + 1;
    static_assert(sizeof(clustermap_cmd_t) < 64 * 1024, "command lives on the control stack");
    clustermap_cmd_t cmd;
    const void *payload = NULL;
    size_t len = 0;
    int rc =
        s_unframe(buf, &payload, &len) ? clustermap_cmd_decode(payload, len, &cmd) : ROOST_EPROTO;
    if (rc == ROOST_ENOMEM)
        s_out_of_memory("decode");
    if (rc != ROOST_OK) {
        self->malformed++;
        ROOST_WARN(COMP, "malformed entry skipped", "index=%llu bytes=%zu",
                   (unsigned long long)index, buf->len);
        return 0;
    }
    rc = clustermap_apply(self->map, &cmd, index);
    if (rc != ROOST_OK) {
        self->rejected++;
        ROOST_INFO(COMP, "command rejected", "index=%llu type=%d node=%u err=%s",
                   (unsigned long long)index, (int)cmd.type, cmd.node_id, roost_strerror(rc));
        return 0;
    }
    self->publish(self->publish_arg, self->map);
    return 0;
}

/* libraft owns the buffers we return (fsm v1) and frees them with raft_free. */
static int s_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
    control_fsm_t *self = fsm->data;
    void *bytes;
    size_t len;
    if (clustermap_encode(self->map, &bytes, &len) != ROOST_OK)
        return RAFT_NOMEM;
    struct raft_buffer *out = raft_malloc(sizeof *out);
    int rc = out != NULL ? control_fsm_frame(bytes, len, out) : ROOST_ENOMEM;
    free(bytes);
    if (rc != ROOST_OK) {
        raft_free(out);
        return RAFT_NOMEM;
    }
    *bufs = out;
    *n_bufs = 1;
    return 0;
}

/* On success the buffer is ours to free (libraft's contract); on failure libraft keeps it. */
static int s_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
    control_fsm_t *self = fsm->data;
    clustermap_t *map = NULL;
    const void *payload = NULL;
    size_t len = 0;
    int rc = s_unframe(buf, &payload, &len) ? clustermap_decode(payload, len, &map) : ROOST_EPROTO;
    if (rc == ROOST_OK && (clustermap_partitions(map) != clustermap_partitions(self->map) ||
                           clustermap_rf(map) != clustermap_rf(self->map)))
        rc = ROOST_EINVAL; /* a data dir from a cluster of another shape */
    if (rc != ROOST_OK) {
        ROOST_ERROR(COMP, "snapshot rejected", "bytes=%zu err=%s", buf->len, roost_strerror(rc));
        clustermap_release(&map);
        return RAFT_MALFORMED;
    }
    raft_free(buf->base);
    clustermap_release(&self->map);
    self->map = map;
    ROOST_INFO(COMP, "snapshot restored", "version=%llu",
               (unsigned long long)clustermap_version(map));
    self->publish(self->publish_arg, self->map);
    return 0;
}

int control_fsm_init(control_fsm_t *self, struct raft *raft, uint32_t partitions, uint32_t rf,
                     control_fsm_publish_fn publish, void *publish_arg)
{
    assert(self != NULL && raft != NULL && publish != NULL);
    memset(self, 0, sizeof *self);
    self->map = clustermap_new(partitions, rf);
    if (self->map == NULL)
        return ROOST_EINVAL;
    self->raft = raft;
    self->publish = publish;
    self->publish_arg = publish_arg;
    self->fsm.version = 1;
    self->fsm.data = self;
    self->fsm.apply = s_apply;
    self->fsm.snapshot = s_snapshot;
    self->fsm.restore = s_restore;
    return ROOST_OK;
}

void control_fsm_close(control_fsm_t *self)
{
    if (self != NULL)
        clustermap_release(&self->map);
}
