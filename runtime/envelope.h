/* runtime/envelope.h — the message every actor, node and transport passes around.
 *
 * An envelope is one allocation: the header fields, then target key, sender key and payload
 * bytes. Small ones are blockpool-sized (blockpool.h) so that the worker that frees one can reuse
 * it for its next send. Local sends hand the pointer over (no copy, no encoding); a remote send
 * encodes it once into the msgpack wire form below and the receiving node decodes it into a new
 * envelope.
 *
 * Wire form (schemas/envelope.md is the contract): a msgpack array
 *   [ version=1, flags, type, corr, epoch, status, hops, target, sender, payload ]
 * with uint/int numbers, str keys and a bin payload. Decoders accept a longer array from a newer
 * minor version (extra items ignored) and refuse anything else with ROOST_EPROTO.
 *
 * Ownership: whoever holds the pointer owns the envelope; send functions take ownership whether
 * they succeed or fail. roost_env_free is safe on NULL.
 */
#ifndef ROOST_ENVELOPE_H
#define ROOST_ENVELOPE_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/blockpool.h"
#include "runtime/mpsc.h"

#define ROOST_ENV_VERSION 1

enum {
    ROOST_ENV_REQUEST = 1u << 0,  /* the sender awaits a response carrying the same corr */
    ROOST_ENV_RESPONSE = 1u << 1, /* answers the request with `corr` */
    ROOST_ENV_ERROR = 1u << 2,    /* a response whose `status` is a negative roost error */
    ROOST_ENV_FLAGS_ALL = 0x7,
};

/* Message types at or above this belong to the runtime itself (heartbeats, errors); behaviours
 * number theirs below it. */
#define ROOST_MSG_SYSTEM_BASE 0xFFFF0000u
enum {
    ROOST_MSG_ERROR = ROOST_MSG_SYSTEM_BASE, /* a runtime-made error response */
    ROOST_MSG_HEARTBEAT,                     /* node-to-node liveness; no target */
    ROOST_MSG_MAP,     /* the cluster map (clustermap_encode), from the control leader to the
                          nodes that do not vote (edges); no target */
    ROOST_MSG_CONTROL, /* a cluster-map command (clustermap_cmd_encode) for the control
                          leader: a partition primary's handoff request; no target */
    ROOST_MSG_RAFT,    /* a Raft tunnel frame between voters (runtime/control_tunnel.h) */
};

typedef struct roost_env roost_env_t;
struct roost_env {
    mpsc_node_t qnode; /* link while in a cross-thread queue */
    roost_env_t *next; /* link while in a mailbox (one thread) */
    uint64_t corr;     /* correlation id; 0 when not part of a request/response */
    uint64_t epoch;    /* the sender's view of the target partition's epoch; 0 = any */
    uint64_t key_hash; /* roost_hash64(target), set by the node routing it; not on the wire */
    uint32_t type;     /* message type */
    uint32_t payload_len;
    uint32_t dest_node; /* transport only: the node it is queued for */
    int32_t status;     /* responses: 0 or a negative roost error */
    uint16_t flags;     /* ROOST_ENV_* */
    uint8_t hops;       /* forwards between nodes so far */
    uint8_t target_len;
    uint8_t sender_len;
    bool pooled;      /* a blockpool-sized block: a worker may keep it for reuse */
    char *target;     /* NUL-terminated; points into this allocation */
    char *sender;     /* NUL-terminated, "" when none */
    uint8_t *payload; /* payload_len bytes; points into this allocation */
};

/* Allocates an envelope and copies target, sender (NULL → "") and payload into it.
 * NULL if a key is longer than ROOST_KEY_BYTES_MAX or the payload than ROOST_PAYLOAD_BYTES_MAX.
 * Out of memory aborts (as everywhere in Roost). Caller owns the result. */
roost_env_t *roost_env_new(const char *target, const char *sender, uint32_t type,
                           const void *payload, size_t payload_len);

void roost_env_free(roost_env_t *env);

/* The same from a worker's pool (the runtime's own sends, on a worker thread): the envelope is
 * an ordinary one that anyone may free with roost_env_free. */
roost_env_t *roost_env_new_in(blockpool_t *pool, const char *target, const char *sender,
                              uint32_t type, const void *payload, size_t payload_len);
/* The same with the keys' lengths known (target and sender need not be NUL-terminated; the
 * copies are): the runtime's sends, which have measured the target and know their own key. */
roost_env_t *roost_env_new_n(blockpool_t *pool, const char *target, size_t tlen, const char *sender,
                             size_t slen, uint32_t type, const void *payload, size_t payload_len);
/* Frees env into the pool (the worker that handled it), whichever thread made it. NULL-safe. */
void roost_env_free_to(blockpool_t *pool, roost_env_t *env);

static inline roost_env_t *roost_env_from_qnode(mpsc_node_t *n)
{
    return (roost_env_t *)((char *)n - offsetof(roost_env_t, qnode));
}

/* Appends the wire form to `pk` (envelope_wire.c). Can't fail for an envelope made by
 * roost_env_new. */
void roost_env_encode(const roost_env_t *env, msgpack_packer *pk);

/* Decodes exactly one wire-form value from untrusted bytes. Returns 0 and a new envelope in *out
 * (caller owns), or ROOST_EPROTO for anything malformed, oversized, of an unknown major version
 * or followed by more bytes. */
int roost_env_decode_bytes(const void *data, size_t len, roost_env_t **out);

/* For one thread decoding envelopes one after another (a transport's received frames): the
 * envelopes come from the thread's block pool. */
typedef struct {
    blockpool_t pool;
} roost_env_decoder_t;

void roost_env_decoder_init(roost_env_decoder_t *d);
void roost_env_decoder_fini(roost_env_decoder_t *d);
/* Decodes the wire-form value at the start of data[0..len) (untrusted) and says how many bytes
 * it took in *used. 0 and *out (caller owns), or ROOST_EPROTO, with *used unset, when the value
 * is malformed or incomplete. */
int roost_env_decode_next(roost_env_decoder_t *d, const void *data, size_t len, size_t *used,
                          roost_env_t **out);

/* Node-local keys: "@<node>:<partition>/<kind>[/<rest>]" name an actor that lives on one
 * node, whatever the cluster map says — a partition's log replica on that node, an edge's
 * connection. The partition picks the worker (so a partition's log runs on the same thread as
 * the partition's actors); the behaviour is the one registered for kind "@<kind>". */
typedef struct {
    uint32_t node;
    uint32_t partition;
    const char *kind; /* points into the key; not NUL-terminated */
    size_t kind_len;
} roost_local_key_t;

/* True (and *out filled) if key is a well-formed node-local key. */
bool roost_key_parse_local(const char *key, size_t len, roost_local_key_t *out);
/* The same for a key already known to pass roost_key_is_valid (an envelope's target: checked
 * where the envelope was made or decoded), without checking it again: routing splits every
 * local key it sees, and the second scan was a tenth of a local-key workload's profile. */
bool roost_key_split_local(const char *key, size_t len, roost_local_key_t *out);
/* Writes "@node:partition/kind" (+ "/rest" when rest is not NULL). 0 or ROOST_ETOOBIG. */
int roost_key_make_local(char *out, size_t cap, uint32_t node, uint32_t partition, const char *kind,
                         const char *rest);

/* The length of a NUL-terminated key if roost_key_is_valid holds for it, else 0: one pass
 * instead of a strlen and then the check. */
size_t roost_key_measure(const char *key);
/* True for "kind:rest" with a non-empty kind of at most ROOST_KIND_BYTES_MAX bytes, a
 * non-empty rest, printable ASCII only, at most ROOST_KEY_BYTES_MAX bytes. */
bool roost_key_is_valid(const char *key, size_t len);

#endif
