/* cluster/curve_keys.h — CurveZMQ keys from the manifest: a node's own pair (from the secret
 * half of its CZMQ certificate, which must not be readable by group or others), the public
 * key of any node or operator (inline Z85, or the public half of its certificate), and the
 * dev certificates `roostctl up` makes when security.generate_keys is on.
 *
 * Paths are relative to the data root (roostd --data-root, roostctl --data-dir; default the
 * working directory), like every other file the manifest names. */
#ifndef ROOST_CURVE_KEYS_H
#define ROOST_CURVE_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/manifest.h"

enum { CURVE_KEY_BYTES = 32 };

typedef struct {
    uint8_t public_key[CURVE_KEY_BYTES], secret_key[CURVE_KEY_BYTES];
} curve_pair_t;

/* The pair in cert + "_secret". 0, or -1 with err naming the file and the problem. */
int curve_load_pair(const char *root, const char *cert, curve_pair_t *out, char *err, size_t cap);

/* A public key: z85 if set, else the public half of cert. 0, or -1 with err. */
int curve_public_key(const char *root, const char *z85, const char *cert,
                     uint8_t out[CURVE_KEY_BYTES], char *err, size_t cap);

/* Makes the certificate pair at cert (and its directories) unless its secret half exists.
 * *made says whether it did. 0, or -1 with err. */
int curve_generate(const char *root, const char *cert, bool *made, char *err, size_t cap);

#endif
