/* cluster/manifest.h — the cluster manifest (YAML, apiVersion roost/v1): what nodes exist,
 * where they listen, and the cluster-wide settings. docs/manifest.md documents every field.
 *
 * manifest_load parses with libyaml and validates everything before returning: unknown fields,
 * wrong types, out-of-range numbers, duplicate names/ids/ports, a replication factor above the
 * number of shard nodes. Errors name the file, the line and the field:
 *   local.yaml:14: nodes[1].peer_port: 7101 is already used by shard-1
 * A manifest_t is plain data (no pointers), safe to copy.
 */
#ifndef ROOST_MANIFEST_H
#define ROOST_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/limits.h"

enum {
    MANIFEST_NAME_BYTES_MAX = 63,
    MANIFEST_HOST_BYTES_MAX = 63,
    MANIFEST_PATH_BYTES_MAX = 255,
    MANIFEST_ERR_BYTES_MAX = 512,
    MANIFEST_FILE_BYTES_MAX = 1024 * 1024, /* a manifest is configuration, not data */
};

enum { MANIFEST_JWT_KEYS_MAX = 4, MANIFEST_KID_BYTES_MAX = 32, MANIFEST_URL_BYTES_MAX = 255 };

/* auth.jwt_keys[]: one access-token key. The secret is never in the manifest: `file` names it
 * (HS256: the shared secret, ≥ 32 bytes; ES256: the P-256 private key PEM, whose public key is
 * in `public_file`). Files must not be readable by group or others. */
typedef struct {
    char kid[MANIFEST_KID_BYTES_MAX + 1];
    char alg[8]; /* HS256 | ES256 */
    char file[MANIFEST_PATH_BYTES_MAX + 1];
    char public_file[MANIFEST_PATH_BYTES_MAX + 1]; /* ES256 only */
    bool generate;                                 /* HS256: roostctl up creates a missing file */
} manifest_jwt_key_t;

typedef struct {
    manifest_jwt_key_t jwt_keys[MANIFEST_JWT_KEYS_MAX];
    uint32_t n_jwt_keys;
    char signing_kid[MANIFEST_KID_BYTES_MAX + 1]; /* default: the first key */
    uint32_t otp_per_ip_per_hour;                 /* default 100 */
    uint32_t access_ttl_s;                        /* access tokens live this long; default 900 */
    char sms_driver[8];                           /* file | webhook */
    char sms_path[MANIFEST_PATH_BYTES_MAX + 1];   /* file: where codes are appended */
    char sms_url[MANIFEST_URL_BYTES_MAX + 1];     /* webhook: http://host:port/path */
} manifest_auth_t;

typedef struct {
    uint32_t frame_bytes;           /* a client frame; default 128 KiB */
    uint32_t send_queue_bytes;      /* per connection; default 1 MiB */
    uint32_t bad_frames_per_minute; /* more closes the connection (1008); default 20 */
    uint32_t http_body_bytes;       /* auth request bodies; default 4 KiB */
} manifest_limits_t;

typedef struct {
    uint32_t ping_ms;           /* WebSocket pings; two missed close; default 15000 */
    uint32_t drain_deadline_ms; /* a draining edge exits by then; default 30000 */
    uint32_t reconnect_ms;      /* goaway: clients wait a jittered 0.5–1.5× this; default 2000 */
} manifest_edge_t;

enum { MANIFEST_OPERATORS_MAX = 8, MANIFEST_Z85_KEY_BYTES = 40 };

/* security.operators[]: who may use the admin ports (roostctl). A public key, inline
 * (curve_public, Z85) or in the public half of a CZMQ certificate (cert); roostctl signs in
 * with the secret half (cert + "_secret") of the first one it can read, or --cert. */
typedef struct {
    char name[MANIFEST_NAME_BYTES_MAX + 1];
    char curve_public[MANIFEST_Z85_KEY_BYTES + 1]; /* "" = the public half of cert */
    char cert[MANIFEST_PATH_BYTES_MAX + 1];
} manifest_operator_t;

/* security: CurveZMQ on every ZeroMQ socket between nodes and on the admin ports. */
typedef struct {
    bool curve;         /* default: on when any node names curve_cert or curve_public */
    bool curve_set;     /* curve was written out */
    bool generate_keys; /* dev: roostctl up creates missing certificates (nodes, operators) */
    manifest_operator_t operators[MANIFEST_OPERATORS_MAX];
    uint32_t n_operators;
} manifest_security_t;

typedef enum { ROLE_SHARD = 1u << 0, ROLE_EDGE = 1u << 1 } manifest_role_t;

typedef struct {
    char name[MANIFEST_NAME_BYTES_MAX + 1];
    uint32_t id;    /* stable member id, > 0, unique */
    uint32_t roles; /* manifest_role_t bits */
    char host[MANIFEST_HOST_BYTES_MAX + 1];
    uint16_t peer_port;                            /* ZeroMQ data plane */
    uint16_t raft_port;                            /* control plane (shard nodes that vote) */
    uint16_t admin_port;                           /* admin requests (ZeroMQ); 0 = none */
    uint16_t metrics_port;                         /* HTTP GET /metrics; 0 = none */
    uint16_t client_port;                          /* edge: WebSocket + HTTP; 0 = none */
    char client_host[MANIFEST_HOST_BYTES_MAX + 1]; /* edge: address it listens on; "" = host */
    char data_dir[MANIFEST_PATH_BYTES_MAX + 1];
    /* CurveZMQ: the node's certificate (CZMQ zcert pair: curve_cert, public, and
     * curve_cert_secret, mode 0600, read only on the node's own host) and, optionally, its
     * public key inline (Z85) so other hosts need not hold the public half. */
    char curve_cert[MANIFEST_PATH_BYTES_MAX + 1];
    char curve_public[MANIFEST_Z85_KEY_BYTES + 1];
    int line; /* where it was declared, for later messages */
} manifest_node_t;

typedef struct {
    char path[MANIFEST_PATH_BYTES_MAX + 1];
    char cluster_name[MANIFEST_NAME_BYTES_MAX + 1];
    uint32_t partitions;
    uint32_t replication_factor;
    uint32_t voters;           /* control-plane voters: the first `voters` shard nodes by id */
    char backend_store[16];    /* backends.store: embedded (postgres: a later issue) */
    char backend_presence[16]; /* backends.presence: embedded (redis: a later issue) */
    char consistency[8];       /* ONE | QUORUM | ALL */
    char sync[8];              /* batch | always | none */
    uint32_t sync_gather_us;   /* how long a loaded node's syncer paces its fsyncs (syncer.h) */
    char compaction[16];       /* universal | level: the shard nodes' RocksDB compaction style */
    uint32_t workers;          /* per node; 0 = one per core */
    uint64_t passivate_after_ms;
    uint32_t heartbeat_ms;
    uint32_t down_after_ms;
    uint32_t idle_spin_us; /* a worker's poll before it sleeps; 0 = the runtime's default */
    char io[8]; /* thread (default): the transport's I/O on its own thread; worker: on worker 0 */
    /* messaging: */
    uint32_t retention_days;    /* undelivered events kept per device this long (default 30) */
    uint32_t retention_count;   /* … and at most this many (default 10,000) */
    uint32_t group_max_members; /* default for new groups (256; at most 1,024) */
    uint32_t max_devices;       /* devices per user (5; at most 16) */
    manifest_auth_t auth;
    manifest_limits_t limits;
    manifest_edge_t edge;
    manifest_security_t security;
    uint32_t n_nodes;
    manifest_node_t nodes[ROOST_NODES_MAX];
} manifest_t;

/* 0, or ROOST_EINVAL / ROOST_EIO with a one-line message in err (file:line: field: reason). */
int manifest_load(const char *path, manifest_t *out, char *err, size_t errcap);
/* Same from a string (tests); `path` only names it in messages. */
int manifest_parse(const char *text, size_t len, const char *path, manifest_t *out, char *err,
                   size_t errcap);
const manifest_node_t *manifest_node(const manifest_t *m, const char *name);
/* runtime.io is worker: each node runs its network loop on its first worker. */
bool manifest_io_on_worker(const manifest_t *m);
/* cluster.compaction is level (else universal, the default). */
bool manifest_compaction_leveled(const manifest_t *m);
/* The shard nodes that vote in the control plane: the first cluster.voters (default 3, at most
 * 5) by id. Fixed for the cluster's life: nodes that join later (higher ids) do not vote. */
uint32_t manifest_voters(const manifest_t *m, const manifest_node_t **out, uint32_t cap);

#endif
