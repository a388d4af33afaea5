/* cluster/manifest_internal.h — the manifest parser's typed field readers, shared by the files
 * that read its sections (manifest.c: cluster, runtime, messaging, nodes; manifest_edge.c:
 * auth, limits, edge; manifest_security.c: security). Each reader reports "file:line: field:
 * reason" and stops at the first error (c->failed). */
#ifndef ROOST_MANIFEST_INTERNAL_H
#define ROOST_MANIFEST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "cluster/manifest.h"

typedef struct {
    yaml_document_t *doc;
    manifest_t *m;
    char *err;
    size_t errcap;
    bool failed;
} ctx_t;

typedef void (*field_fn)(ctx_t *c, const char *key, yaml_node_t *value, void *arg);

void mf_fail(ctx_t *c, const yaml_node_t *n, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
yaml_node_t *mf_node(ctx_t *c, int id);
const char *mf_scalar(ctx_t *c, yaml_node_t *n, const char *field);
void mf_string(ctx_t *c, yaml_node_t *n, const char *field, char *out, size_t cap);
uint64_t mf_uint(ctx_t *c, yaml_node_t *n, const char *field, uint64_t min, uint64_t max);
/* true or false; anything else fails naming the field. */
bool mf_bool(ctx_t *c, yaml_node_t *n, const char *field);
void mf_oneof(ctx_t *c, yaml_node_t *n, const char *field, const char *const *allowed, char *out,
              size_t cap);
/* Calls fn for each key of a mapping; `known` lists the accepted keys (NULL-terminated). */
void mf_each(ctx_t *c, yaml_node_t *map, const char *where, const char *const *known, field_fn fn,
             void *arg);

/* manifest_edge.c: the auth, limits and edge sections, their defaults and cross-checks. */
void mf_auth(ctx_t *c, yaml_node_t *v);
void mf_limits(ctx_t *c, yaml_node_t *v);
void mf_edge(ctx_t *c, yaml_node_t *v);
void mf_edge_defaults(manifest_t *m);
void mf_edge_validate(ctx_t *c, yaml_node_t *root);

/* manifest_security.c: the security section, the nodes' key fields, and their cross-checks. */
void mf_security(ctx_t *c, yaml_node_t *v);
/* A Z85 CURVE public key: 40 characters that decode. */
void mf_z85_key(ctx_t *c, yaml_node_t *n, const char *field, char *out, size_t cap);
void mf_security_validate(ctx_t *c, yaml_node_t *root);

#endif
