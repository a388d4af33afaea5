/* cluster/edge_setup.h — builds an edge node's front door (edge/edge.h) from the manifest:
 * loads the access-token key files (mode checked), the SMS driver, limits and peers. */
#ifndef ROOST_EDGE_SETUP_H
#define ROOST_EDGE_SETUP_H

#include <stddef.h>

#include "cluster/manifest.h"
#include "edge/edge.h"

/* The loaded key material; it must outlive the edge. */
typedef struct {
    tokens_t tokens;
    uint8_t *secret[TOKENS_KEYS_MAX];
    uint8_t *public[TOKENS_KEYS_MAX];
} edge_keys_t;

/* NULL with a log line naming the manifest field (no key, unreadable or world-readable key
 * file, no SMS destination, port taken). root prefixes relative paths (NULL: the current
 * directory). */
edge_t *edge_setup(const manifest_t *m, const manifest_node_t *self, const char *root,
                   roost_node_t *node, edge_keys_t *keys);
void edge_keys_fini(edge_keys_t *keys);
/* root/path for a relative path, path itself for an absolute one. 0 or ROOST_ETOOBIG. */
int edge_path(const char *root, const char *path, char *out, size_t cap);

#endif
