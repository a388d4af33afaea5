/* cluster/curve_keys.c — CurveZMQ keys from CZMQ certificate files (see curve_keys.h). */
#include "cluster/curve_keys.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cluster/edge_setup.h"
#include "runtime/errors.h"
#include "runtime/util.h"

enum { PATH_BYTES = MANIFEST_PATH_BYTES_MAX * 2 + 16 };

static int s_resolve(const char *root, const char *path, char *out, size_t cap, char *err,
                     size_t ecap)
{
    if (edge_path(root, path, out, cap) == ROOST_OK)
        return 0;
    roost_fmt(err, ecap, "%s: path too long", path);
    return -1;
}

/* A certificate's two files: path (public half) and path_secret. */
static int s_cert_files(const char *root, const char *cert, char path[PATH_BYTES],
                        char secret[PATH_BYTES + 8], char *err, size_t cap)
{
    if (s_resolve(root, cert, path, PATH_BYTES, err, cap) != 0 ||
        roost_fmt(secret, PATH_BYTES + 8, "%s_secret", path) != ROOST_OK)
        return -1;
    return 0;
}

int curve_load_pair(const char *root, const char *cert, curve_pair_t *out, char *err, size_t cap)
{
    char path[PATH_BYTES], secret[PATH_BYTES + 8];
    if (s_cert_files(root, cert, path, secret, err, cap) != 0)
        return -1;
    struct stat st;
    if (stat(secret, &st) != 0) {
        roost_fmt(err, cap, "%s: %s (roostctl keys gen --out %s)", secret, strerror(errno), cert);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        roost_fmt(err, cap, "%s: readable by group or others (chmod 600)", secret);
        return -1;
    }
    zcert_t *c = zcert_load(secret);
    if (!c) {
        roost_fmt(err, cap, "%s: not a CZMQ certificate with a secret key", secret);
        return -1;
    }
    memcpy(out->public_key, zcert_public_key(c), CURVE_KEY_BYTES);
    memcpy(out->secret_key, zcert_secret_key(c), CURVE_KEY_BYTES);
    zcert_destroy(&c);
    static const uint8_t zero[CURVE_KEY_BYTES];
    if (memcmp(out->secret_key, zero, sizeof zero) == 0) {
        roost_fmt(err, cap, "%s: the certificate holds no secret key", secret);
        return -1;
    }
    return 0;
}

int curve_public_key(const char *root, const char *z85, const char *cert,
                     uint8_t out[CURVE_KEY_BYTES], char *err, size_t cap)
{
    if (z85 && z85[0]) {
        if (strlen(z85) == 40 && zmq_z85_decode(out, z85))
            return 0;
        roost_fmt(err, cap, "\"%s\" is not a Z85 public key", z85);
        return -1;
    }
    char path[PATH_BYTES];
    if (!cert || !cert[0] || s_resolve(root, cert, path, sizeof path, err, cap) != 0) {
        if (!err[0])
            roost_fmt(err, cap, "no curve_public and no certificate");
        return -1;
    }
    zcert_t *c = zcert_load(path);
    if (!c) {
        roost_fmt(err, cap, "%s: cannot read the public certificate (%s)", path,
                  errno ? strerror(errno) : "not a CZMQ certificate");
        return -1;
    }
    memcpy(out, zcert_public_key(c), CURVE_KEY_BYTES);
    zcert_destroy(&c);
    return 0;
}

static int s_mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

int curve_generate(const char *root, const char *cert, bool *made, char *err, size_t cap)
{
    *made = false;
    char path[PATH_BYTES], secret[PATH_BYTES + 8];
    if (s_cert_files(root, cert, path, secret, err, cap) != 0)
        return -1;
    struct stat st;
    if (stat(secret, &st) == 0)
        return 0;
    zcert_t *c = zcert_new();
    int rc = c && s_mkdirs(path) == 0 ? zcert_save(c, path) : -1;
    zcert_destroy(&c);
    if (rc != 0 || chmod(secret, 0600) != 0) {
        roost_fmt(err, cap, "%s: cannot write the certificate: %s", path, strerror(errno));
        return -1;
    }
    *made = true;
    return 0;
}
