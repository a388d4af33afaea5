/* cluster/manifest_edge.c — the manifest's client-facing sections: `auth` (access-token keys,
 * the OTP per-IP limit, the SMS driver), `limits` (frame, send queue, bad frames, HTTP bodies)
 * and `edge` (pings, draining). docs/manifest.md documents each field. */
#include <stdio.h>
#include <string.h>

#include "cluster/manifest_internal.h"

static const char *const s_algs[] = {"HS256", "ES256", NULL};
static const char *const s_drivers[] = {"file", "webhook", NULL};

typedef struct {
    manifest_jwt_key_t *key;
    char field[32];
} key_arg_t;

static void s_key_field(ctx_t *c, const char *key, yaml_node_t *v, void *varg)
{
    key_arg_t *a = varg;
    char f[64];
    snprintf(f, sizeof f, "%s.%s", a->field, key);
    if (strcmp(key, "kid") == 0) {
        mf_string(c, v, f, a->key->kid, sizeof a->key->kid);
    } else if (strcmp(key, "alg") == 0) {
        mf_oneof(c, v, f, s_algs, a->key->alg, sizeof a->key->alg);
    } else if (strcmp(key, "file") == 0) {
        mf_string(c, v, f, a->key->file, sizeof a->key->file);
    } else if (strcmp(key, "public_file") == 0) {
        mf_string(c, v, f, a->key->public_file, sizeof a->key->public_file);
    } else {
        a->key->generate = mf_bool(c, v, f);
    }
}

static const char *const s_key_keys[] = {"kid", "alg", "file", "public_file", "generate", NULL};

static void s_jwt_keys(ctx_t *c, yaml_node_t *v)
{
    manifest_auth_t *au = &c->m->auth;
    if (!v || v->type != YAML_SEQUENCE_NODE) {
        mf_fail(c, v, "auth.jwt_keys", "expected a list of keys");
        return;
    }
    for (yaml_node_item_t *i = v->data.sequence.items.start;
         i < v->data.sequence.items.top && !c->failed; i++) {
        yaml_node_t *item = mf_node(c, *i);
        if (au->n_jwt_keys == MANIFEST_JWT_KEYS_MAX) {
            mf_fail(c, item, "auth.jwt_keys", "more than %d keys", MANIFEST_JWT_KEYS_MAX);
            return;
        }
        manifest_jwt_key_t *k = &au->jwt_keys[au->n_jwt_keys];
        memset(k, 0, sizeof *k);
        key_arg_t a = {.key = k};
        snprintf(a.field, sizeof a.field, "auth.jwt_keys[%u]", au->n_jwt_keys);
        mf_each(c, item, a.field, s_key_keys, s_key_field, &a);
        if (c->failed)
            return;
        if (!k->kid[0] || !k->alg[0] || !k->file[0])
            mf_fail(c, item, a.field, "kid, alg and file are required");
        else if (strcmp(k->alg, "ES256") == 0 && !k->public_file[0])
            mf_fail(c, item, a.field, "an ES256 key needs public_file");
        else if (strcmp(k->alg, "ES256") == 0 && k->generate)
            mf_fail(c, item, a.field, "generate is for HS256 keys (make ES256 keys with openssl)");
        for (uint32_t j = 0; j < au->n_jwt_keys && !c->failed; j++)
            if (strcmp(au->jwt_keys[j].kid, k->kid) == 0)
                mf_fail(c, item, a.field, "kid \"%s\" is already used", k->kid);
        au->n_jwt_keys++;
    }
}

static void s_sms_field(ctx_t *c, const char *key, yaml_node_t *v, void *arg)
{
    (void)arg;
    manifest_auth_t *au = &c->m->auth;
    if (strcmp(key, "driver") == 0)
        mf_oneof(c, v, "auth.sms.driver", s_drivers, au->sms_driver, sizeof au->sms_driver);
    else if (strcmp(key, "path") == 0)
        mf_string(c, v, "auth.sms.path", au->sms_path, sizeof au->sms_path);
    else
        mf_string(c, v, "auth.sms.url", au->sms_url, sizeof au->sms_url);
}

static const char *const s_sms_keys[] = {"driver", "path", "url", NULL};

static void s_auth_field(ctx_t *c, const char *key, yaml_node_t *v, void *arg)
{
    (void)arg;
    manifest_auth_t *au = &c->m->auth;
    if (strcmp(key, "jwt_keys") == 0)
        s_jwt_keys(c, v);
    else if (strcmp(key, "signing_kid") == 0)
        mf_string(c, v, "auth.signing_kid", au->signing_kid, sizeof au->signing_kid);
    else if (strcmp(key, "otp_per_ip_per_hour") == 0)
        au->otp_per_ip_per_hour = (uint32_t)mf_uint(c, v, "auth.otp_per_ip_per_hour", 1, 1000000);
    else if (strcmp(key, "access_ttl_s") == 0)
        au->access_ttl_s = (uint32_t)mf_uint(c, v, "auth.access_ttl_s", 1, 86400);
    else
        mf_each(c, v, "auth.sms", s_sms_keys, s_sms_field, NULL);
}

static const char *const s_auth_keys[] = {"jwt_keys",     "signing_kid", "otp_per_ip_per_hour",
                                          "access_ttl_s", "sms",         NULL};

void mf_auth(ctx_t *c, yaml_node_t *v)
{
    mf_each(c, v, "auth", s_auth_keys, s_auth_field, NULL);
}

static void s_limits_field(ctx_t *c, const char *key, yaml_node_t *v, void *arg)
{
    (void)arg;
    manifest_limits_t *l = &c->m->limits;
    if (strcmp(key, "frame_bytes") == 0)
        l->frame_bytes = (uint32_t)mf_uint(c, v, "limits.frame_bytes", 1024, 1024 * 1024);
    else if (strcmp(key, "send_queue_bytes") == 0)
        l->send_queue_bytes =
            (uint32_t)mf_uint(c, v, "limits.send_queue_bytes", 512 * 1024, 64 * 1024 * 1024);
    else if (strcmp(key, "bad_frames_per_minute") == 0)
        l->bad_frames_per_minute =
            (uint32_t)mf_uint(c, v, "limits.bad_frames_per_minute", 1, 10000);
    else
        l->http_body_bytes = (uint32_t)mf_uint(c, v, "limits.http_body_bytes", 256, 65536);
}

static const char *const s_limits_keys[] = {"frame_bytes", "send_queue_bytes",
                                            "bad_frames_per_minute", "http_body_bytes", NULL};

void mf_limits(ctx_t *c, yaml_node_t *v)
{
    mf_each(c, v, "limits", s_limits_keys, s_limits_field, NULL);
}

static void s_edge_field(ctx_t *c, const char *key, yaml_node_t *v, void *arg)
{
    (void)arg;
    manifest_edge_t *e = &c->m->edge;
    if (strcmp(key, "ping_ms") == 0)
        e->ping_ms = (uint32_t)mf_uint(c, v, "edge.ping_ms", 100, 600000);
    else if (strcmp(key, "drain_deadline_ms") == 0)
        e->drain_deadline_ms = (uint32_t)mf_uint(c, v, "edge.drain_deadline_ms", 100, 3600000);
    else
        e->reconnect_ms = (uint32_t)mf_uint(c, v, "edge.reconnect_ms", 10, 600000);
}

static const char *const s_edge_keys[] = {"ping_ms", "drain_deadline_ms", "reconnect_ms", NULL};

void mf_edge(ctx_t *c, yaml_node_t *v)
{
    mf_each(c, v, "edge", s_edge_keys, s_edge_field, NULL);
}

void mf_edge_defaults(manifest_t *m)
{
    m->auth.otp_per_ip_per_hour = 100;
    m->auth.access_ttl_s = 900;
    snprintf(m->auth.sms_driver, sizeof m->auth.sms_driver, "file");
    m->limits = (manifest_limits_t){.frame_bytes = 128 * 1024,
                                    .send_queue_bytes = 1024 * 1024,
                                    .bad_frames_per_minute = 20,
                                    .http_body_bytes = 4096};
    m->edge = (manifest_edge_t){.ping_ms = 15000, .drain_deadline_ms = 30000, .reconnect_ms = 2000};
}

/* signing_kid names a listed key (default: the first). Whether an edge has what it needs (a
 * key, an SMS destination, readable secret files) is checked when the edge starts. */
void mf_edge_validate(ctx_t *c, yaml_node_t *root)
{
    manifest_auth_t *au = &c->m->auth;
    if (au->signing_kid[0]) {
        bool found = false;
        for (uint32_t i = 0; i < au->n_jwt_keys; i++)
            found |= strcmp(au->jwt_keys[i].kid, au->signing_kid) == 0;
        if (!found)
            mf_fail(c, root, "auth.signing_kid", "\"%s\" is not one of auth.jwt_keys",
                    au->signing_kid);
    } else if (au->n_jwt_keys) {
        snprintf(au->signing_kid, sizeof au->signing_kid, "%s", au->jwt_keys[0].kid);
    }
    if (!c->failed && au->sms_url[0] && strncmp(au->sms_url, "http://", 7) != 0)
        mf_fail(c, root, "auth.sms.url", "\"%s\" is not an http:// URL", au->sms_url);
}
