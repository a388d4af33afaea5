/* cluster/manifest.c — YAML → manifest_t with validation (see manifest.h). libyaml's document
 * API gives every node its line; each field is read by a small typed helper that reports
 * "file:line: field: reason" and stops at the first error. */
#include "cluster/manifest.h"
#include "cluster/manifest_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "shards/syncer.h"

void mf_fail(ctx_t *c, const yaml_node_t *n, const char *field, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = true;
    int k = snprintf(c->err, c->errcap, "%s:%zu: %s: ", c->m->path, n ? n->start_mark.line + 1 : 0,
                     field);
    if (k < 0 || (size_t)k >= c->errcap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + k, c->errcap - (size_t)k, fmt, ap);
    va_end(ap);
}

yaml_node_t *mf_node(ctx_t *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

const char *mf_scalar(ctx_t *c, yaml_node_t *n, const char *field)
{
    if (!n || n->type != YAML_SCALAR_NODE) {
        mf_fail(c, n, field, "expected a scalar value");
        return NULL;
    }
    return (const char *)n->data.scalar.value;
}

void mf_string(ctx_t *c, yaml_node_t *n, const char *field, char *out, size_t cap)
{
    const char *v = mf_scalar(c, n, field);
    if (!v)
        return;
    if (strlen(v) == 0 || strlen(v) >= cap) {
        mf_fail(c, n, field, "must be 1 to %zu characters", cap - 1);
        return;
    }
    memcpy(out, v, strlen(v) + 1);
}

uint64_t mf_uint(ctx_t *c, yaml_node_t *n, const char *field, uint64_t min, uint64_t max)
{
    const char *v = mf_scalar(c, n, field);
    if (!v)
        return 0;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (*v < '0' || *v > '9' || *end != '\0' || errno) {
        mf_fail(c, n, field, "\"%s\" is not a whole number", v);
        return 0;
    }
    if (x < min || x > max) {
        mf_fail(c, n, field, "%llu is out of range [%llu, %llu]", x, (unsigned long long)min,
                (unsigned long long)max);
        return 0;
    }
    return x;
}

bool mf_bool(ctx_t *c, yaml_node_t *n, const char *field)
{
    const char *v = mf_scalar(c, n, field);
    if (v && strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
        mf_fail(c, n, field, "\"%s\" is not true or false", v);
    return v && strcmp(v, "true") == 0;
}

void mf_oneof(ctx_t *c, yaml_node_t *n, const char *field, const char *const *allowed, char *out,
              size_t cap)
{
    const char *v = mf_scalar(c, n, field);
    if (!v)
        return;
    for (int i = 0; allowed[i]; i++) {
        if (strcmp(v, allowed[i]) == 0) {
            snprintf(out, cap, "%s", v);
            return;
        }
    }
    mf_fail(c, n, field, "\"%s\" is not one of the allowed values", v);
}

void mf_each(ctx_t *c, yaml_node_t *map, const char *where, const char *const *known, field_fn fn,
             void *arg)
{
    if (!map || map->type != YAML_MAPPING_NODE) {
        mf_fail(c, map, where, "expected a mapping");
        return;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
         p < map->data.mapping.pairs.top && !c->failed; p++) {
        yaml_node_t *k = mf_node(c, p->key);
        const char *key = mf_scalar(c, k, where);
        if (!key)
            return;
        bool ok = false;
        for (int i = 0; known[i]; i++)
            ok |= strcmp(known[i], key) == 0;
        if (!ok) {
            mf_fail(c, k, where, "unknown field \"%s\"", key);
            return;
        }
        fn(c, key, mf_node(c, p->value), arg);
    }
}

static const char *const s_consistencies[] = {"ONE", "QUORUM", "ALL", NULL};
static const char *const s_syncs[] = {"batch", "always", "none", NULL};
static const char *const s_compactions[] = {"universal", "level", NULL};

static void s_cluster_field(ctx_t *c, const char *key, yaml_node_t *v, void *arg)
{
    (void)arg;
    manifest_t *m = c->m;
    if (strcmp(key, "name") == 0)
        mf_string(c, v, "cluster.name", m->cluster_name, sizeof m->cluster_name);
    else if (strcmp(key, "partitions") == 0)
        m->partitions = (uint32_t)mf_uint(c, v, "cluster.partitions", 1, 65536);
    else if (strcmp(key, "replication_factor") == 0)
        m->replication_factor = (uint32_t)mf_uint(c, v, "cluster.replication_factor", 1, 5);
    else if (strcmp(key, "voters") == 0)
        m->voters = (uint32_t)mf_uint(c, v, "cluster.voters", 1, 5);
    else if (strcmp(key, "consistency") == 0)
        mf_oneof(c, v, "cluster.consistency", s_consistencies, m->consistency,
                 sizeof m->consistency);
    else if (strcmp(key, "sync") == 0)
        mf_oneof(c, v, "cluster.sync", s_syncs, m->sync, sizeof m->sync);
    else if (strcmp(key, "sync_gather_us") == 0)
        m->sync_gather_us = (uint32_t)mf_uint(c, v, "cluster.sync_gather_us", 0, 100000);
    else if (strcmp(key, "compaction") == 0)
        mf_oneof(c, v, "cluster.compaction", s_compactions, m->compaction, sizeof m->compaction);
    if (!c->failed && strcmp(key, "partitions") == 0 && (m->partitions & (m->partitions - 1)))
        mf_fail(c, v, "cluster.partitions", "%u is not a power of two", m->partitions);
}

static const char *const s_ios[] = {"worker", "thread", NULL};

bool manifest_compaction_leveled(const manifest_t *m)
{
    return strcmp(m->compaction, "level") == 0;
}

bool manifest_io_on_worker(const manifest_t *m)
{
    return strcmp(m->io, "worker") == 0;
}

static void s_runtime_field(ctx_t *c, const char *key, yaml_node_t *v, void *arg)
{
    (void)arg;
    manifest_t *m = c->m;
    if (strcmp(key, "workers") == 0)
        m->workers = (uint32_t)mf_uint(c, v, "runtime.workers", 0, ROOST_WORKERS_MAX);
    else if (strcmp(key, "passivate_after_ms") == 0)
        m->passivate_after_ms = mf_uint(c, v, "runtime.passivate_after_ms", 1000, 86400000);
    else if (strcmp(key, "heartbeat_ms") == 0)
        m->heartbeat_ms = (uint32_t)mf_uint(c, v, "runtime.heartbeat_ms", 10, 10000);
    else if (strcmp(key, "down_after_ms") == 0)
        m->down_after_ms = (uint32_t)mf_uint(c, v, "runtime.down_after_ms", 100, 600000);
    else if (strcmp(key, "io") == 0)
        mf_oneof(c, v, "runtime.io", s_ios, m->io, sizeof m->io);
    else if (strcmp(key, "idle_spin_us") == 0)
        m->idle_spin_us = (uint32_t)mf_uint(c, v, "runtime.idle_spin_us", 1, 1000);
}

static void s_messaging_field(ctx_t *c, const char *key, yaml_node_t *v, void *arg)
{
    (void)arg;
    manifest_t *m = c->m;
    if (strcmp(key, "retention_days") == 0)
        m->retention_days = (uint32_t)mf_uint(c, v, "messaging.retention_days", 1, 3650);
    else if (strcmp(key, "retention_count") == 0)
        m->retention_count = (uint32_t)mf_uint(c, v, "messaging.retention_count", 1, 10000000);
    else if (strcmp(key, "group_max_members") == 0)
        m->group_max_members = (uint32_t)mf_uint(c, v, "messaging.group_max_members", 2, 1024);
    else if (strcmp(key, "max_devices") == 0)
        m->max_devices = (uint32_t)mf_uint(c, v, "messaging.max_devices", 1, 16);
}

typedef struct {
    manifest_node_t *node;
    char field[48];
} node_arg_t;

static void s_roles(ctx_t *c, yaml_node_t *v, manifest_node_t *n, const char *field)
{
    if (!v || v->type != YAML_SEQUENCE_NODE ||
        v->data.sequence.items.start == v->data.sequence.items.top) {
        mf_fail(c, v, field, "expected a list of roles (shard, edge)");
        return;
    }
    for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
        const char *r = mf_scalar(c, mf_node(c, *i), field);
        if (!r)
            return;
        if (strcmp(r, "shard") == 0)
            n->roles |= ROLE_SHARD;
        else if (strcmp(r, "edge") == 0)
            n->roles |= ROLE_EDGE;
        else
            mf_fail(c, mf_node(c, *i), field, "unknown role \"%s\" (shard, edge)", r);
    }
}

static void s_node_field(ctx_t *c, const char *key, yaml_node_t *v, void *varg)
{
    node_arg_t *a = varg;
    manifest_node_t *n = a->node;
    char f[96];
    snprintf(f, sizeof f, "%s.%s", a->field, key);
    if (strcmp(key, "name") == 0)
        mf_string(c, v, f, n->name, sizeof n->name);
    else if (strcmp(key, "id") == 0)
        n->id = (uint32_t)mf_uint(c, v, f, 1, 65535);
    else if (strcmp(key, "roles") == 0)
        s_roles(c, v, n, f);
    else if (strcmp(key, "host") == 0)
        mf_string(c, v, f, n->host, sizeof n->host);
    else if (strcmp(key, "peer_port") == 0)
        n->peer_port = (uint16_t)mf_uint(c, v, f, 1, 65535);
    else if (strcmp(key, "raft_port") == 0)
        n->raft_port = (uint16_t)mf_uint(c, v, f, 1, 65535);
    else if (strcmp(key, "admin_port") == 0)
        n->admin_port = (uint16_t)mf_uint(c, v, f, 1, 65535);
    else if (strcmp(key, "client_port") == 0)
        n->client_port = (uint16_t)mf_uint(c, v, f, 1, 65535);
    else if (strcmp(key, "metrics_port") == 0)
        n->metrics_port = (uint16_t)mf_uint(c, v, f, 1, 65535);
    else if (strcmp(key, "data_dir") == 0)
        mf_string(c, v, f, n->data_dir, sizeof n->data_dir);
    else if (strcmp(key, "client_host") == 0)
        mf_string(c, v, f, n->client_host, sizeof n->client_host);
    else if (strcmp(key, "curve_cert") == 0)
        mf_string(c, v, f, n->curve_cert, sizeof n->curve_cert);
    else if (strcmp(key, "curve_public") == 0)
        mf_z85_key(c, v, f, n->curve_public, sizeof n->curve_public);
}

static const char *const s_node_keys[] = {
    "name",       "id",           "roles",        "host",     "peer_port",
    "raft_port",  "admin_port",   "client_port",  "data_dir", "client_host",
    "curve_cert", "curve_public", "metrics_port", NULL};

static void s_nodes(ctx_t *c, yaml_node_t *v)
{
    if (!v || v->type != YAML_SEQUENCE_NODE) {
        mf_fail(c, v, "nodes", "expected a list of nodes");
        return;
    }
    for (yaml_node_item_t *i = v->data.sequence.items.start;
         i < v->data.sequence.items.top && !c->failed; i++) {
        if (c->m->n_nodes == ROOST_NODES_MAX) {
            mf_fail(c, mf_node(c, *i), "nodes", "more than %d nodes", ROOST_NODES_MAX);
            return;
        }
        manifest_node_t *n = &c->m->nodes[c->m->n_nodes];
        memset(n, 0, sizeof *n);
        n->line = (int)mf_node(c, *i)->start_mark.line + 1;
        node_arg_t a = {.node = n};
        snprintf(a.field, sizeof a.field, "nodes[%u]", c->m->n_nodes);
        mf_each(c, mf_node(c, *i), a.field, s_node_keys, s_node_field, &a);
        c->m->n_nodes++;
    }
}

static const char *const s_cluster_keys[] = {"name",           "partitions",  "replication_factor",
                                             "voters",         "consistency", "sync",
                                             "sync_gather_us", "compaction",  NULL};
static const char *const s_runtime_keys[] = {
    "workers", "passivate_after_ms", "heartbeat_ms", "down_after_ms", "io", "idle_spin_us", NULL};
static const char *const s_messaging_keys[] = {"retention_days", "retention_count",
                                               "group_max_members", "max_devices", NULL};
static const char *const s_top_keys[] = {"apiVersion", "cluster", "runtime", "messaging",
                                         "auth",       "limits",  "edge",    "security",
                                         "backends",   "nodes",   NULL};

/* backends: where each kind of data lives. Only the embedded store exists in this build; the
 * PostgreSQL and Redis adapters are a later issue, so naming one fails here with that reason
 * rather than at run time. */
static const char *const s_backend_keys[] = {"store", "presence", NULL};
static const char *const s_store_backends[] = {"embedded", "postgres", NULL};
static const char *const s_presence_backends[] = {"embedded", "redis", NULL};

static void s_backend_field(ctx_t *c, const char *key, yaml_node_t *v, void *arg)
{
    (void)arg;
    manifest_t *m = c->m;
    bool store = strcmp(key, "store") == 0;
    char *out = store ? m->backend_store : m->backend_presence;
    size_t cap = store ? sizeof m->backend_store : sizeof m->backend_presence;
    const char *field = store ? "backends.store" : "backends.presence";
    mf_oneof(c, v, field, store ? s_store_backends : s_presence_backends, out, cap);
    if (!c->failed && strcmp(out, "embedded") != 0)
        mf_fail(c, v, field, "%s is not available in this build (embedded only)", out);
}

static void s_top_field(ctx_t *c, const char *key, yaml_node_t *v, void *arg)
{
    bool *saw_api = arg;
    if (strcmp(key, "apiVersion") == 0) {
        const char *api = mf_scalar(c, v, "apiVersion");
        if (api && strcmp(api, "roost/v1") != 0)
            mf_fail(c, v, "apiVersion", "\"%s\" is not supported (roost/v1)", api);
        *saw_api = true;
    } else if (strcmp(key, "cluster") == 0) {
        mf_each(c, v, "cluster", s_cluster_keys, s_cluster_field, NULL);
    } else if (strcmp(key, "runtime") == 0) {
        mf_each(c, v, "runtime", s_runtime_keys, s_runtime_field, NULL);
    } else if (strcmp(key, "messaging") == 0) {
        mf_each(c, v, "messaging", s_messaging_keys, s_messaging_field, NULL);
    } else if (strcmp(key, "auth") == 0) {
        mf_auth(c, v);
    } else if (strcmp(key, "limits") == 0) {
        mf_limits(c, v);
    } else if (strcmp(key, "edge") == 0) {
        mf_edge(c, v);
    } else if (strcmp(key, "security") == 0) {
        mf_security(c, v);
    } else if (strcmp(key, "backends") == 0) {
        mf_each(c, v, "backends", s_backend_keys, s_backend_field, NULL);
    } else {
        s_nodes(c, v);
    }
}

static void s_defaults(manifest_t *m)
{
    snprintf(m->cluster_name, sizeof m->cluster_name, "roost");
    m->partitions = 1024;
    m->replication_factor = 3;
    m->voters = 3;
    snprintf(m->backend_store, sizeof m->backend_store, "embedded");
    snprintf(m->backend_presence, sizeof m->backend_presence, "embedded");
    snprintf(m->consistency, sizeof m->consistency, "QUORUM");
    snprintf(m->sync, sizeof m->sync, "batch");
    m->sync_gather_us = SYNCER_GATHER_US_DEFAULT;
    snprintf(m->compaction, sizeof m->compaction, "universal");
    m->passivate_after_ms = 5 * 60 * 1000;
    m->heartbeat_ms = 500;
    m->down_after_ms = 5000;
    snprintf(m->io, sizeof m->io, "thread");
    m->retention_days = 30;
    m->retention_count = 10000;
    m->group_max_members = 256;
    m->max_devices = 5;
    mf_edge_defaults(m);
}

/* Checks one node against itself and every earlier node. */
static void s_check_node(ctx_t *c, uint32_t k)
{
    const manifest_node_t *n = &c->m->nodes[k];
    char f[32];
    snprintf(f, sizeof f, "nodes[%u]", k);
    yaml_node_t at = {.start_mark = {.line = (size_t)(n->line - 1)}};
    if (!n->name[0] || !n->id || !n->roles || !n->host[0] || !n->peer_port) {
        mf_fail(c, &at, f, "name, id, roles, host and peer_port are required");
        return;
    }
    if ((n->roles & ROLE_SHARD) && !n->data_dir[0]) {
        mf_fail(c, &at, f, "a shard node needs data_dir");
        return;
    }
    if ((n->roles & ROLE_EDGE) && !n->client_port) {
        mf_fail(c, &at, f, "an edge node needs client_port");
        return;
    }
    for (uint32_t j = 0; j < k; j++) {
        const manifest_node_t *o = &c->m->nodes[j];
        if (strcmp(o->name, n->name) == 0) {
            mf_fail(c, &at, f, "name \"%s\" is already used", n->name);
            return;
        }
        if (o->id == n->id) {
            mf_fail(c, &at, f, "id %u is already used by %s", n->id, o->name);
            return;
        }
        if (strcmp(o->host, n->host) != 0)
            continue;
        const uint16_t mine[] = {n->peer_port, n->raft_port, n->admin_port, n->client_port,
                                 n->metrics_port};
        const uint16_t theirs[] = {o->peer_port, o->raft_port, o->admin_port, o->client_port,
                                   o->metrics_port};
        /* edges on one host may share their client port (SO_REUSEPORT spreads connections) */
        bool share = (n->roles & ROLE_EDGE) && (o->roles & ROLE_EDGE);
        for (int a = 0; a < 5; a++)
            for (int b = 0; b < 5; b++)
                if (mine[a] && mine[a] == theirs[b] && !(share && a == 3 && b == 3)) {
                    mf_fail(c, &at, f, "port %u is already used by %s", mine[a], o->name);
                    return;
                }
    }
    const uint16_t ports[] = {n->peer_port, n->raft_port, n->admin_port, n->client_port,
                              n->metrics_port};
    for (int a = 0; a < 5; a++)
        for (int b = a + 1; b < 5; b++)
            if (ports[a] && ports[a] == ports[b]) {
                mf_fail(c, &at, f, "port %u is used twice by this node", ports[a]);
                return;
            }
}

static void s_validate(ctx_t *c, yaml_node_t *root)
{
    uint32_t shards = 0;
    for (uint32_t k = 0; k < c->m->n_nodes && !c->failed; k++) {
        s_check_node(c, k);
        shards += (c->m->nodes[k].roles & ROLE_SHARD) ? 1 : 0;
    }
    if (!c->failed && c->m->n_nodes == 0)
        mf_fail(c, root, "nodes", "at least one node is required");
    if (!c->failed && c->m->replication_factor > shards)
        mf_fail(c, root, "cluster.replication_factor",
                "%u is more than the %u shard node(s) in the manifest", c->m->replication_factor,
                shards);
    if (!c->failed)
        mf_edge_validate(c, root);
    if (!c->failed)
        mf_security_validate(c, root);
}

int manifest_parse(const char *text, size_t len, const char *path, manifest_t *out, char *err,
                   size_t errcap)
{
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    s_defaults(out);
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errcap, "%s:%zu: invalid YAML: %s", path, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "parse error");
        yaml_parser_delete(&parser);
        return ROOST_EINVAL;
    }
    ctx_t c = {.doc = &doc, .m = out, .err = err, .errcap = errcap};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    bool saw_api = false;
    if (!root)
        mf_fail(&c, NULL, "(document)", "the manifest is empty");
    else
        mf_each(&c, root, "(top level)", s_top_keys, s_top_field, &saw_api);
    if (!c.failed && !saw_api)
        mf_fail(&c, root, "apiVersion", "is required (roost/v1)");
    if (!c.failed)
        s_validate(&c, root);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return c.failed ? ROOST_EINVAL : ROOST_OK;
}

int manifest_load(const char *path, manifest_t *out, char *err, size_t errcap)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return ROOST_EIO;
    }
    char *buf = malloc(MANIFEST_FILE_BYTES_MAX + 1);
    size_t n = buf ? fread(buf, 1, MANIFEST_FILE_BYTES_MAX + 1, f) : 0;
    fclose(f);
    if (!buf || n > MANIFEST_FILE_BYTES_MAX) {
        snprintf(err, errcap, "%s: larger than %d bytes", path, MANIFEST_FILE_BYTES_MAX);
        free(buf);
        return ROOST_EINVAL;
    }
    int rc = manifest_parse(buf, n, path, out, err, errcap);
    free(buf);
    return rc;
}

const manifest_node_t *manifest_node(const manifest_t *m, const char *name)
{
    for (uint32_t i = 0; i < m->n_nodes; i++)
        if (strcmp(m->nodes[i].name, name) == 0)
            return &m->nodes[i];
    return NULL;
}

uint32_t manifest_voters(const manifest_t *m, const manifest_node_t **out, uint32_t cap)
{
    uint32_t n = 0;
    uint32_t last = 0;
    if (cap > m->voters)
        cap = m->voters;
    while (n < cap) { /* ascending id: every node computes the same voter set */
        const manifest_node_t *best = NULL;
        for (uint32_t i = 0; i < m->n_nodes; i++) {
            const manifest_node_t *x = &m->nodes[i];
            if ((x->roles & ROLE_SHARD) && x->id > last && (!best || x->id < best->id))
                best = x;
        }
        if (!best)
            break;
        out[n++] = best;
        last = best->id;
    }
    return n;
}
