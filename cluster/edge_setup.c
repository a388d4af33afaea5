/* cluster/edge_setup.c — an edge node's front door from its manifest: the access-token keys
 * read from their files (which must not be readable by group or others), the SMS driver, the
 * limits, and the other edges' URLs for goaway. */
#include "cluster/edge_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/util.h"

static const char *const COMP = "edge";

enum { KEY_FILE_BYTES_MAX = 16384, HS256_SECRET_BYTES_MIN = 32 };

int edge_path(const char *root, const char *path, char *out, size_t cap)
{
    return root && path[0] != '/' ? roost_fmt(out, cap, "%s/%s", root, path)
                                  : roost_fmt(out, cap, "%s", path);
}

/* Reads a secret file into *out (trailing newlines dropped); 0, or -1 with err. */
static int s_read_secret(const char *path, uint8_t **out, size_t *len, char *err, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        roost_fmt(err, cap, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (st.st_mode & 077) {
        roost_fmt(err, cap, "%s: readable by group or others (chmod 600)", path);
        close(fd);
        return -1;
    }
    uint8_t *buf = roost_xmalloc(KEY_FILE_BYTES_MAX + 1);
    ssize_t n = read(fd, buf, KEY_FILE_BYTES_MAX + 1);
    close(fd);
    if (n <= 0 || n > KEY_FILE_BYTES_MAX) {
        roost_fmt(err, cap, "%s: empty or larger than %d bytes", path, KEY_FILE_BYTES_MAX);
        free(buf);
        return -1;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    *out = buf;
    *len = (size_t)n;
    return 0;
}

static int s_load_key(const manifest_jwt_key_t *mk, const char *root, edge_keys_t *keys, uint32_t i,
                      char *err, size_t cap)
{
    tokens_key_t *k = &keys->tokens.keys[i];
    char path[MANIFEST_PATH_BYTES_MAX * 2];
    snprintf(k->kid, sizeof k->kid, "%s", mk->kid);
    k->alg = strcmp(mk->alg, "ES256") == 0 ? TOKENS_ES256 : TOKENS_HS256;
    if (edge_path(root, mk->file, path, sizeof path) != ROOST_OK ||
        s_read_secret(path, &keys->secret[i], &k->sign_len, err, cap) != 0)
        return -1;
    k->sign_key = keys->secret[i];
    if (k->alg == TOKENS_HS256) {
        if (k->sign_len < HS256_SECRET_BYTES_MIN) {
            roost_fmt(err, cap, "%s: an HS256 secret needs at least %d bytes", path,
                      HS256_SECRET_BYTES_MIN); /* cut if it must be */
            return -1;
        }
        k->verify_key = k->sign_key;
        k->verify_len = k->sign_len;
        return 0;
    }
    if (edge_path(root, mk->public_file, path, sizeof path) != ROOST_OK ||
        s_read_secret(path, &keys->public[i], &k -> verify_len, err, cap) != 0)
        return -1;
    k->verify_key = keys->public[i];
    return 0;
}

static int s_tokens(const manifest_t *m, const char *root, edge_keys_t *keys)
{
    char err[512];
    if (m->auth.n_jwt_keys == 0) {
        ROOST_ERROR(COMP, "auth.jwt_keys: an edge node needs at least one key", "manifest=%s",
                    m->path);
        return -1;
    }
    for (uint32_t i = 0; i < m->auth.n_jwt_keys; i++) {
        if (s_load_key(&m->auth.jwt_keys[i], root, keys, i, err, sizeof err) != 0) {
            ROOST_ERROR(COMP, "cannot load an access-token key",
                        "field=auth.jwt_keys[%u] err=\"%s\"", i, err);
            return -1;
        }
        if (strcmp(m->auth.jwt_keys[i].kid, m->auth.signing_kid) == 0)
            keys->tokens.signing = i;
    }
    keys->tokens.nkeys = m->auth.n_jwt_keys;
    keys->tokens.ttl_s = m->auth.access_ttl_s;
    return 0;
}

static void s_peers(const manifest_t *m, const manifest_node_t *self, edge_config_t *c)
{
    for (uint32_t i = 0; i < m->n_nodes && c->npeers < EDGE_PEERS_MAX; i++) {
        const manifest_node_t *n = &m->nodes[i];
        if (n != self && (n->roles & ROLE_EDGE) && n->client_port)
            snprintf(c->peers[c->npeers++], sizeof c->peers[0], "ws://%s:%u/v1/ws", n->host,
                     n->client_port);
    }
}

edge_t *edge_setup(const manifest_t *m, const manifest_node_t *self, const char *root,
                   roost_node_t *node, edge_keys_t *keys)
{
    if (s_tokens(m, root, keys) != 0)
        return NULL;
    edge_config_t *c = roost_xcalloc(1, sizeof *c);
    c->node = node;
    c->node_id = self->id;
    c->host = self->client_host[0] ? self->client_host : self->host;
    c->port = self->client_port;
    c->tokens = keys->tokens;
    c->frame_bytes = m->limits.frame_bytes;
    c->send_queue_bytes = m->limits.send_queue_bytes;
    c->bad_frames_per_minute = m->limits.bad_frames_per_minute;
    c->http_body_bytes = m->limits.http_body_bytes;
    c->ping_ms = m->edge.ping_ms;
    c->drain_deadline_ms = m->edge.drain_deadline_ms;
    c->reconnect_ms = m->edge.reconnect_ms;
    c->otp_per_ip_per_hour = m->auth.otp_per_ip_per_hour;
    snprintf(c->sms_driver, sizeof c->sms_driver, "%s", m->auth.sms_driver);
    snprintf(c->sms_url, sizeof c->sms_url, "%s", m->auth.sms_url);
    bool path_ok = m->auth.sms_path[0] &&
                   edge_path(root, m->auth.sms_path, c->sms_path, sizeof c->sms_path) == ROOST_OK;
    edge_t *e = NULL;
    if (strcmp(c->sms_driver, "file") == 0 && !path_ok)
        ROOST_ERROR(COMP, "auth.sms.path: the file driver needs a path", "manifest=%s", m->path);
    else if (strcmp(c->sms_driver, "webhook") == 0 && !c->sms_url[0])
        ROOST_ERROR(COMP, "auth.sms.url: the webhook driver needs a URL", "manifest=%s", m->path);
    else {
        s_peers(m, self, c);
        e = edge_new(c);
    }
    free(c);
    return e;
}

void edge_keys_fini(edge_keys_t *keys)
{
    for (uint32_t i = 0; i < TOKENS_KEYS_MAX; i++) {
        if (keys->secret[i])
            sodium_memzero(keys->secret[i], KEY_FILE_BYTES_MAX + 1);
        free(keys->secret[i]);
        free(keys->public[i]);
    }
    memset(keys, 0, sizeof *keys);
}
