/* tests/support/edge_cluster.h — a real local cluster for client-level tests: three `roostd`
 * shard processes (RF 3, QUORUM) and EC_EDGES edge processes on loopback, CurveZMQ between
 * them and on the admin ports (a CZMQ certificate per node and one operator's), an HS256 key
 * file, the `file` SMS sink; clients reach it only through libroost-client (WebSocket and HTTP), as
 * real clients do. $ROOSTD names the daemon; $ROOST_KEEP_TMP keeps the directory.
 * Header-only, one test file at a time. */
#ifndef ROOST_TEST_EDGE_CLUSTER_H
#define ROOST_TEST_EDGE_CLUSTER_H

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>
#include <czmq.h>

#include "clients/roost_client.h"
#include "tests/support/ports.h"
#include "tests/support/procs.h"
#include "tests/support/tmpdir.h"

enum { EC_SHARDS = 3, EC_EDGES = 2, EC_NODES = EC_SHARDS + EC_EDGES, EC_P = 32 };

typedef struct {
    char dir[64], manifest[128], sms[96];
    int peer[EC_NODES + 1], raft[EC_NODES + 1], client[EC_NODES + 1], admin[EC_NODES + 1],
        metrics[EC_NODES + 1];
    proc_t proc[EC_NODES + 1];    /* 1..3 shards, 4..5 edges */
    char extra[512];              /* more manifest sections from the test */
    uint32_t ip_limit;            /* auth.otp_per_ip_per_hour */
    uint32_t ttl_s;               /* auth.access_ttl_s */
    char sms_url[128];            /* set: the webhook SMS driver instead of the file */
    char cert[EC_NODES + 1][128]; /* each node's certificate ([0]: the operator's) */
} edge_cluster_t;

static edge_cluster_t *EC;

static void ec_pump(void)
{
    for (int i = 1; i <= EC_NODES; i++)
        if (EC->proc[i].pid > 0)
            proc_read_lines(&EC->proc[i], proc_ignore_line, NULL);
}

/* A new CZMQ certificate pair at path (path_secret mode 0600). */
static void ec_make_cert(const char *path)
{
    zcert_t *c = zcert_new();
    assert_int_equal(zcert_save(c, path), 0);
    zcert_destroy(&c);
    char secret[160];
    snprintf(secret, sizeof secret, "%s_secret", path);
    chmod(secret, 0600);
}

/* The manifest at path, with node i's certificate EC->cert[i]. */
static void ec_write_manifest(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "apiVersion: roost/v1\n"
            "cluster: {name: t, partitions: %d, replication_factor: 3, consistency: QUORUM}\n"
            "runtime: {workers: 2, heartbeat_ms: 200, down_after_ms: 1500}\n"
            "auth:\n  jwt_keys: [{kid: k1, alg: HS256, file: jwt.key}]\n"
            "  sms: {driver: %s, path: sms.log, url: \"%s\"}\n  otp_per_ip_per_hour: %u\n"
            "  access_ttl_s: %u\n"
            "security: {curve: true, operators: [{name: tester, cert: %s}]}\n%s\nnodes:\n",
            EC_P, EC->sms_url[0] ? "webhook" : "file",
            EC->sms_url[0] ? EC->sms_url : "http://127.0.0.1:1/", EC->ip_limit, EC->ttl_s,
            EC->cert[0], EC->extra);
    for (int i = 1; i <= EC_SHARDS; i++)
        fprintf(f,
                "  - {name: s%d, id: %d, roles: [shard], host: 127.0.0.1, peer_port: %d,"
                " raft_port: %d, admin_port: %d, metrics_port: %d, data_dir: s%d,"
                " curve_cert: %s}\n",
                i, i, EC->peer[i], EC->raft[i], EC->admin[i], EC->metrics[i], i, EC->cert[i]);
    for (int i = EC_SHARDS + 1; i <= EC_NODES; i++)
        fprintf(f,
                "  - {name: e%d, id: %d, roles: [edge], host: 127.0.0.1, peer_port: %d,"
                " client_port: %d, admin_port: %d, metrics_port: %d, curve_cert: %s}\n",
                i, 10 + i, EC->peer[i], EC->client[i], EC->admin[i], EC->metrics[i], EC->cert[i]);
    fclose(f);
}

static void ec_write_files(void)
{
    char key[128];
    snprintf(key, sizeof key, "%s/jwt.key", EC->dir);
    FILE *k = fopen(key, "w");
    assert_non_null(k);
    fputs("test-secret-test-secret-test-secret-0123456789\n", k);
    fclose(k);
    chmod(key, 0600);
    ec_write_manifest(EC->manifest);
}

static void ec_start(int i)
{
    char name[16], log[128];
    snprintf(name, sizeof name, i <= EC_SHARDS ? "s%d" : "e%d", i);
    snprintf(log, sizeof log, "%s/%s.log", EC->dir, name);
    char *argv[] = {getenv("ROOSTD"), "--manifest", EC->manifest,  "--node", name,
                    "--data-root",    EC->dir,      "--log-level", "warn",   NULL};
    assert_true(proc_spawn(&EC->proc[i], argv, log));
}

/* The client port of edge k (0 or 1). */
static inline uint16_t ec_port(int k)
{
    return (uint16_t)EC->client[EC_SHARDS + 1 + k];
}

/* A session on edge k: host, port and mode set, nothing else. */
static inline void ec_session(rc_session_t *s, int k, bool msgpack)
{
    memset(s, 0, sizeof *s);
    snprintf(s->host, sizeof s->host, "127.0.0.1");
    s->port = ec_port(k);
    s->msgpack = msgpack;
}

/* Requests a code for phone through edge k and reads it from the SMS sink. The HTTP status. */
static int ec_code(int k, const char *phone, char code[8])
{
    int st = rc_otp_request("127.0.0.1", ec_port(k), phone);
    code[0] = '\0';
    if (st == 202)
        rc_code_from_file(EC->sms, phone, code);
    return st;
}

/* A logged-in session (phone + device) on edge k. */
static void ec_login(rc_session_t *s, int k, bool msgpack, const char *phone, const char *device)
{
    ec_session(s, k, msgpack);
    char code[8];
    assert_int_equal(ec_code(k, phone, code), 202);
    assert_int_equal(rc_login(s, phone, code, device), 200);
}

/* The cluster's directory, ports and defaults, nothing started (the test may change EC). */
static void ec_prepare(void)
{
    assert_non_null(getenv("ROOSTD"));
    EC = calloc(1, sizeof *EC);
    EC->ip_limit = 10000;
    EC->ttl_s = 900;
    snprintf(EC->dir, sizeof EC->dir, "/tmp/roost-edge-XXXXXX");
    assert_non_null(mkdtemp(EC->dir));
    snprintf(EC->manifest, sizeof EC->manifest, "%s/cluster.yaml", EC->dir);
    snprintf(EC->sms, sizeof EC->sms, "%s/sms.log", EC->dir);
    for (int i = 0; i <= EC_NODES; i++) {
        char path[sizeof EC->cert[i]];
        snprintf(path, sizeof path, "%s/%s%d.cert", EC->dir, i ? "node" : "op", i);
        memcpy(EC->cert[i], path, sizeof path);
        ec_make_cert(EC->cert[i]);
    }
    for (int i = 1; i <= EC_NODES; i++) {
        EC->peer[i] = test_free_port();
        EC->raft[i] = test_free_port();
        EC->client[i] = test_free_port();
        EC->admin[i] = test_free_port();
        EC->metrics[i] = test_free_port();
    }
}

/* Writes the files, starts every node and waits until both edges issue codes (the map has
 * reached them). */
static void ec_launch(void)
{
    ec_write_files();
    for (int i = 1; i <= EC_NODES; i++)
        ec_start(i);
    uint64_t deadline = proc_now_ms() + 60000;
    bool ready[EC_EDGES] = {false};
    while (proc_now_ms() < deadline && !(ready[0] && ready[1])) {
        ec_pump();
        char code[8];
        for (int k = 0; k < EC_EDGES; k++)
            ready[k] = ready[k] || ec_code(k, "+19999999999", code) == 202;
        proc_sleep_ms(200);
    }
    assert_true(ready[0] && ready[1]);
}

/* ec_prepare + ec_launch with extra manifest sections; ttl_s: the access tokens' lifetime
 * (0: 900 s). */
static inline void ec_open(const char *extra, uint32_t ttl_s)
{
    ec_prepare();
    snprintf(EC->extra, sizeof EC->extra, "%s", extra ? extra : "");
    EC->ttl_s = ttl_s ? ttl_s : 900;
    ec_launch();
}

/* A sanitizer's report in any node's log fails the test (after the cluster is gone). */
static void ec_check_logs(void)
{
    char bad[800] = "";
    for (int i = 1; i <= EC_NODES && !bad[0]; i++) {
        char path[128], line[512];
        snprintf(path, sizeof path, i <= EC_SHARDS ? "%s/s%d.log" : "%s/e%d.log", EC->dir, i);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof line, f))
            if (strstr(line, "Sanitizer") || strstr(line, "runtime error:")) {
                snprintf(bad, sizeof bad, "%s: %s", path, line);
                break;
            }
        if (f)
            fclose(f);
    }
    if (bad[0]) {
        setenv("ROOST_KEEP_TMP", "1", 1);
        fail_msg("a node's sanitizer spoke (directory kept): %s", bad);
    }
}

static void ec_close(void)
{
    for (int i = EC_NODES; i >= 1; i--)
        if (EC->proc[i].pid > 0)
            proc_stop(&EC->proc[i], SIGTERM, 10000);
    ec_check_logs();
    if (!getenv("ROOST_KEEP_TMP"))
        test_rmtree(EC->dir);
    free(EC);
    EC = NULL;
}

/* A cmocka group teardown: ec_close. */
static inline int ec_teardown(void **state)
{
    (void)state;
    ec_close();
    return 0;
}

/* The actor key of s's user ("u:<id>"), where a send is addressed. */
static inline void ec_to(char out[32], const rc_session_t *s)
{
    snprintf(out, 32, "u:%s", s->user);
}

/* ---- frame helpers ------------------------------------------------------------------------- */

static inline const char *ec_str(const json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));
    return s ? s : "";
}

static inline int64_t ec_int(const json_t *j, const char *k)
{
    return json_integer_value(json_object_get(j, k));
}

/* Asserts an answer is ok (printing it if not); returns it. */
static inline json_t *ec_ok(json_t *a)
{
    if (!a || strcmp(ec_str(a, "t"), "ok") != 0) {
        char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
        fail_msg("expected ok, got %s", s ? s : "(nothing)");
    }
    return a;
}

/* Asserts an answer is err with that code. */
static inline void ec_err(json_t *a, const char *code)
{
    if (!a || strcmp(ec_str(a, "t"), "err") != 0 || strcmp(ec_str(a, "code"), code) != 0) {
        char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
        fail_msg("expected err %s, got %s", code, s ? s : "(nothing)");
    }
    json_decref(a);
}

/* Whether node's log (e.g. "s1") holds a line containing what, waiting up to 5 s (the harness
 * copies each node's output into its log as it pumps). */
static inline bool ec_log_has(const char *node, const char *what)
{
    char log[160], line[512];
    snprintf(log, sizeof log, "%s/%s.log", EC->dir, node);
    bool found = false;
    for (int i = 0; i < 50 && !found; i++, proc_sleep_ms(100)) {
        ec_pump();
        FILE *f = fopen(log, "r");
        while (f && !found && fgets(line, sizeof line, f))
            found = strstr(line, what) != NULL;
        if (f)
            fclose(f);
    }
    return found;
}

/* `roostctl -m MANIFEST [extra] status --json` (exit 0 asserted), parsed; caller decrefs. */
static inline json_t *ec_status_json(const char *extra)
{
    char cmd[512], out[16384];
    snprintf(cmd, sizeof cmd, "'%s' -m '%s' %s status --json 2>/dev/null", getenv("ROOSTCTL"),
             EC->manifest, extra ? extra : "");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    assert_int_equal(WEXITSTATUS(pclose(p)), 0);
    json_t *j = json_loads(out, 0, NULL);
    if (!j)
        fail_msg("roostctl status --json printed: %s", out);
    return j;
}

/* The next event of type t (others skipped) within ms; NULL if none. */
static inline json_t *ec_event(rc_t *c, const char *t, int ms)
{
    uint64_t until = proc_now_ms() + (uint64_t)ms;
    while (proc_now_ms() < until) {
        json_t *e = rc_next(c, (int)(until - proc_now_ms()));
        if (!e)
            return NULL;
        if (strcmp(ec_str(e, "t"), t) == 0)
            return e;
        json_decref(e);
    }
    return NULL;
}

/* send {to, cmid, kind text, body base64(text)} → the ok. */
/* A text send, sent again with the same cmid when answered `unavailable` (a primary changing
 * hands: "not stored; send again with the same cmid"), as the protocol tells a client to — a
 * few times, then that answer is returned. Without it a loaded machine (ThreadSanitizer and a
 * simulator campaign at once) failed test_slow_reader_is_disconnected on a transient answer. */
static inline json_t *ec_send(rc_t *c, const char *to, const char *cmid, const char *b64)
{
    json_t *a = NULL;
    for (int attempt = 0; attempt < 5; attempt++) {
        if (a) {
            json_decref(a);
            struct timespec pause = {0, 200 * 1000000L};
            nanosleep(&pause, NULL);
        }
        a = rc_call(c,
                    json_pack("{s:s, s:s, s:s, s:s, s:s}", "t", "send", "to", to, "cmid", cmid,
                              "kind", "text", "body", b64),
                    15000);
        if (!a || strcmp(ec_str(a, "t"), "err") != 0 ||
            strcmp(ec_str(a, "code"), "unavailable") != 0)
            break;
    }
    return a;
}

#endif
