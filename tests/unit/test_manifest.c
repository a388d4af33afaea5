/* tests/unit/test_manifest.c — manifests: the shipped ones load; bad ones are refused with a
 * message naming the file, the line and the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/manifest.h"
#include "runtime/errors.h"

static const char *s_good =
    "apiVersion: roost/v1\n"
    "cluster: {name: t, partitions: 64, replication_factor: 2}\n"
    "nodes:\n"
    "  - {name: a, id: 1, roles: [shard], host: 127.0.0.1, peer_port: 1, raft_port: 2,"
    " data_dir: /tmp/a}\n"
    "  - {name: b, id: 2, roles: [shard, edge], host: 127.0.0.1, peer_port: 3, raft_port: 4,"
    " data_dir: /tmp/b, client_port: 5}\n";

static void test_shipped_local_manifest_loads(void **state)
{
    (void)state;
    manifest_t m;
    char err[MANIFEST_ERR_BYTES_MAX];
    int rc = manifest_load(ROOST_SOURCE_DIR "/cluster/manifests/local.yaml", &m, err, sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(m.n_nodes, 5);
    assert_int_equal(m.replication_factor, 3);
    assert_int_equal(m.partitions, 1024);
    const manifest_node_t *v[5];
    assert_int_equal(manifest_voters(&m, v, 5), 3);
    assert_int_equal(v[0]->id, 1);
    assert_non_null(manifest_node(&m, "edge-2"));
    assert_true(manifest_node(&m, "edge-2")->roles & ROLE_EDGE);
    assert_true(m.security.curve);
    assert_true(m.security.generate_keys);
}

static void test_shipped_three_host_manifest_loads(void **state)
{
    (void)state;
    manifest_t m;
    char err[MANIFEST_ERR_BYTES_MAX];
    int rc = manifest_load(ROOST_SOURCE_DIR "/cluster/manifests/example-3host.yaml", &m, err,
                           sizeof err);
    if (rc != 0)
        fail_msg("%s", err);
    assert_int_equal(m.n_nodes, 5);
    /* the same ports on different hosts are fine */
    assert_int_equal(manifest_node(&m, "shard-2")->peer_port, 7101);
    assert_true(m.security.curve);
    assert_int_equal(strlen(manifest_node(&m, "edge-2")->curve_public), 40);
}

static void test_a_good_manifest_parses(void **state)
{
    (void)state;
    manifest_t m;
    char err[MANIFEST_ERR_BYTES_MAX];
    assert_int_equal(manifest_parse(s_good, strlen(s_good), "t.yaml", &m, err, sizeof err), 0);
    assert_int_equal(m.partitions, 64);
    assert_string_equal(m.consistency, "QUORUM"); /* the default */
    assert_int_equal(m.nodes[1].roles, ROLE_SHARD | ROLE_EDGE);
    assert_int_equal(m.retention_days, 30); /* messaging defaults */
    assert_int_equal(m.retention_count, 10000);
    assert_int_equal(m.group_max_members, 256);
    assert_int_equal(m.max_devices, 5);
    assert_string_equal(m.io, "thread");      /* runtime default: the I/O loop on its own thread */
    assert_int_equal(m.sync_gather_us, 2000); /* a loaded node paces its fsyncs */
    assert_string_equal(m.compaction, "universal");
}

static void s_refused(const char *text, const char *expect)
{
    manifest_t m;
    char err[MANIFEST_ERR_BYTES_MAX] = "";
    assert_int_equal(manifest_parse(text, strlen(text), "bad.yaml", &m, err, sizeof err),
                     ROOST_EINVAL);
    if (!strstr(err, expect))
        fail_msg("expected \"%s\" in \"%s\"", expect, err);
}

static void test_bad_manifests_name_line_and_field(void **state)
{
    (void)state;
    s_refused("apiVersion: roost/v1\ncluster: {colour: red}\nnodes: []\n",
              "bad.yaml:2: cluster: unknown field \"colour\"");
    s_refused("apiVersion: roost/v2\n", "bad.yaml:1: apiVersion:");
    s_refused("cluster: {name: x}\n", "apiVersion: is required");
    s_refused("apiVersion: roost/v1\ncluster:\n  partitions: 1000\n",
              "bad.yaml:3: cluster.partitions: 1000 is not a power of two");
    s_refused("apiVersion: roost/v1\ncluster: {partitions: lots}\n",
              "cluster.partitions: \"lots\" is not a whole number");
    s_refused("apiVersion: roost/v1\nnodes:\n"
              "  - {name: a, id: 1, roles: [shard], host: h, peer_port: 1, raft_port: 2,"
              " data_dir: d}\n"
              "  - {name: b, id: 2, roles: [shard], host: h, peer_port: 1, raft_port: 3,"
              " data_dir: d}\n",
              "bad.yaml:4: nodes[1]: port 1 is already used by a");
    s_refused("apiVersion: roost/v1\nnodes:\n"
              "  - {name: a, id: 1, roles: [shard], host: h, peer_port: 1, raft_port: 2,"
              " data_dir: d}\n",
              "cluster.replication_factor: 3 is more than the 1 shard node(s)");
    s_refused("apiVersion: roost/v1\nnodes:\n  - {name: a, id: 1, roles: [wizard]}\n",
              "nodes[0].roles: unknown role \"wizard\"");
    s_refused("apiVersion: [roost\n", "bad.yaml:2: invalid YAML");
    s_refused("", "the manifest is empty");
    s_refused("apiVersion: roost/v1\nmessaging: {group_max_members: 5000}\n",
              "bad.yaml:2: messaging.group_max_members:");
    s_refused("apiVersion: roost/v1\nmessaging: {max_devices: 17}\n",
              "bad.yaml:2: messaging.max_devices:");
    s_refused("apiVersion: roost/v1\nmessaging:\n  retention: 3\n",
              "bad.yaml:3: messaging: unknown field \"retention\"");
    s_refused("apiVersion: roost/v1\ncluster: {voters: 7}\n", "bad.yaml:2: cluster.voters:");
    s_refused("apiVersion: roost/v1\nbackends:\n  store: postgres\n",
              "bad.yaml:3: backends.store: postgres is not available in this build");
    s_refused("apiVersion: roost/v1\nbackends: {presence: memcached}\n",
              "bad.yaml:2: backends.presence:");
    s_refused("apiVersion: roost/v1\nbackends: {queue: kafka}\n",
              "backends: unknown field \"queue\"");
    s_refused("apiVersion: roost/v1\nruntime:\n  io: epoll\n", "bad.yaml:3: runtime.io:");
    s_refused("apiVersion: roost/v1\nruntime: {idle_spin_us: 5000}\n",
              "bad.yaml:2: runtime.idle_spin_us:");
    s_refused("apiVersion: roost/v1\nruntime: {idle_spin_us: 0}\n",
              "bad.yaml:2: runtime.idle_spin_us:");
    s_refused("apiVersion: roost/v1\ncluster: {sync_gather_us: 200000}\n",
              "bad.yaml:2: cluster.sync_gather_us:");
}

#define ONE_NODE                                                                                   \
    "cluster: {replication_factor: 1}\nnodes:\n"                                                   \
    "  - {name: s, id: 1, roles: [shard], host: h, peer_port: 1, raft_port: 2, data_dir: d}\n"

/* runtime.io: where each node runs the transport's I/O loop. */
static void test_runtime_io_is_worker_or_thread(void **state)
{
    (void)state;
    const char *text = "apiVersion: roost/v1\nruntime: {io: worker}\n" ONE_NODE;
    manifest_t m;
    char err[MANIFEST_ERR_BYTES_MAX];
    assert_int_equal(manifest_parse(text, strlen(text), "t.yaml", &m, err, sizeof err), 0);
    assert_string_equal(m.io, "worker");
    assert_int_equal(m.idle_spin_us, 0); /* absent: the runtime's default */
    const char *spin = "apiVersion: roost/v1\nruntime: {idle_spin_us: 50}\n" ONE_NODE;
    assert_int_equal(manifest_parse(spin, strlen(spin), "t.yaml", &m, err, sizeof err), 0);
    assert_int_equal(m.idle_spin_us, 50);
}

/* cluster.sync_gather_us: how long a loaded node's syncer paces its fsyncs; 0 turns it off. */
static void test_sync_gather_can_be_turned_off(void **state)
{
    (void)state;
    manifest_t m;
    char err[MANIFEST_ERR_BYTES_MAX];
    const char *off = "apiVersion: roost/v1\ncluster: {replication_factor: 1, sync_gather_us: 0}\n"
                      "nodes:\n  - {name: s, id: 1, roles: [shard], host: h, peer_port: 1, "
                      "raft_port: 2, data_dir: d}\n";
    assert_int_equal(manifest_parse(off, strlen(off), "t.yaml", &m, err, sizeof err), 0);
    assert_int_equal(m.sync_gather_us, 0); /* every fsync at once */
}

/* cluster.compaction: RocksDB's compaction style on the shard nodes. */
static void test_compaction_is_universal_or_level(void **state)
{
    (void)state;
    manifest_t m;
    char err[MANIFEST_ERR_BYTES_MAX];
    const char *level =
        "apiVersion: roost/v1\ncluster: {replication_factor: 1, compaction: level}\n"
        "nodes:\n  - {name: s, id: 1, roles: [shard], host: h, peer_port: 1, "
        "raft_port: 2, data_dir: d}\n";
    assert_int_equal(manifest_parse(level, strlen(level), "t.yaml", &m, err, sizeof err), 0);
    assert_string_equal(m.compaction, "level");
    s_refused("apiVersion: roost/v1\ncluster:\n  compaction: fifo\n",
              "bad.yaml:3: cluster.compaction:");
}

/* auth, limits and edge: defaults, values, and errors naming the field; edges may share a
 * client port on one host, nothing else may. */
static void test_edge_sections(void **state)
{
    (void)state;
    const char *text =
        "apiVersion: roost/v1\ncluster: {replication_factor: 1}\n"
        "auth:\n  jwt_keys:\n    - {kid: a, alg: HS256, file: k1}\n"
        "    - {kid: b, alg: ES256, file: k2.pem, public_file: k2.pub}\n"
        "  signing_kid: b\n  access_ttl_s: 60\n  sms: {driver: webhook, url: \"http://h:1/s\"}\n"
        "limits: {frame_bytes: 65536, bad_frames_per_minute: 5}\nedge: {ping_ms: 1000}\nnodes:\n"
        "  - {name: s, id: 1, roles: [shard], host: h, peer_port: 1, raft_port: 2, data_dir: d}\n"
        "  - {name: e1, id: 2, roles: [edge], host: h, peer_port: 3, client_port: 80}\n"
        "  - {name: e2, id: 3, roles: [edge], host: h, peer_port: 4, client_port: 80,"
        " client_host: 0.0.0.0}\n";
    manifest_t m;
    char err[MANIFEST_ERR_BYTES_MAX] = "";
    if (manifest_parse(text, strlen(text), "e.yaml", &m, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(m.auth.n_jwt_keys, 2);
    assert_string_equal(m.auth.signing_kid, "b");
    assert_string_equal(m.auth.jwt_keys[1].public_file, "k2.pub");
    assert_int_equal(m.auth.access_ttl_s, 60);
    assert_string_equal(m.auth.sms_driver, "webhook");
    assert_int_equal(m.auth.otp_per_ip_per_hour, 100); /* defaults */
    assert_int_equal(m.limits.frame_bytes, 65536);
    assert_int_equal(m.limits.send_queue_bytes, 1024 * 1024);
    assert_int_equal(m.limits.bad_frames_per_minute, 5);
    assert_int_equal(m.edge.ping_ms, 1000);
    assert_int_equal(m.edge.drain_deadline_ms, 30000);
    assert_string_equal(m.nodes[2].client_host, "0.0.0.0");
    assert_string_equal(m.nodes[1].client_host, ""); /* listens on its host */
    s_refused("apiVersion: roost/v1\nauth:\n  jwt_keys:\n    - {kid: a, alg: RS256, file: k}\n",
              "bad.yaml:4: auth.jwt_keys[0].alg: \"RS256\" is not one of the allowed values");
    s_refused("apiVersion: roost/v1\nauth:\n  jwt_keys:\n    - {kid: a, alg: ES256, file: k}\n",
              "auth.jwt_keys[0]: an ES256 key needs public_file");
    s_refused("apiVersion: roost/v1\nauth:\n  jwt_keys:\n    - {kid: a, alg: HS256, file: k}\n"
              "    - {kid: a, alg: HS256, file: j}\n",
              "kid \"a\" is already used");
    s_refused("apiVersion: roost/v1\nauth: {signing_kid: z}\n" ONE_NODE,
              "auth.signing_kid: \"z\" is not one of auth.jwt_keys");
    s_refused("apiVersion: roost/v1\nlimits: {send_queue_bytes: 1000}\n",
              "bad.yaml:2: limits.send_queue_bytes: 1000 is out of range");
    s_refused("apiVersion: roost/v1\nauth: {sms: {url: \"ftp://x\"}}\n" ONE_NODE,
              "auth.sms.url: \"ftp://x\" is not an http:// URL");
    s_refused("apiVersion: roost/v1\ncluster: {replication_factor: 1}\nnodes:\n"
              "  - {name: s, id: 1, roles: [shard], host: h, peer_port: 1, raft_port: 2,"
              " data_dir: d, client_port: 9}\n"
              "  - {name: e, id: 2, roles: [edge], host: h, peer_port: 3, client_port: 9}\n",
              "port 9 is already used by s");
}

static void test_missing_file_is_an_error(void **state)
{
    (void)state;
    manifest_t m;
    char err[MANIFEST_ERR_BYTES_MAX];
    assert_int_equal(manifest_load("/nonexistent/x.yaml", &m, err, sizeof err), ROOST_EIO);
    assert_non_null(strstr(err, "/nonexistent/x.yaml: cannot open"));
}

#define KEY "\"vWUitnNxXmu</zyNXwKyw*G}//9@e8vXx8l2/XGB\""

/* security: CURVE on when any node has a certificate (or when written), every node then needs
 * one, admin ports need an operator; keys are checked as Z85. */
static void test_security_section(void **state)
{
    (void)state;
    const char *text =
        "apiVersion: roost/v1\ncluster: {replication_factor: 1}\n"
        "security:\n  generate_keys: true\n  operators:\n"
        "    - {name: op, cert: ops/op.cert}\n    - {name: op2, curve_public: " KEY "}\nnodes:\n"
        "  - {name: s, id: 1, roles: [shard], host: h, peer_port: 1, raft_port: 2,"
        " data_dir: d, admin_port: 3, curve_cert: c/s.cert, curve_public: " KEY "}\n";
    manifest_t m;
    char err[MANIFEST_ERR_BYTES_MAX] = "";
    if (manifest_parse(text, strlen(text), "t.yaml", &m, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_true(m.security.curve); /* implied by the node's certificate */
    assert_true(m.security.generate_keys);
    assert_int_equal(m.security.n_operators, 2);
    assert_string_equal(m.security.operators[0].cert, "ops/op.cert");
    assert_string_equal(m.nodes[0].curve_cert, "c/s.cert");
    assert_int_equal(strlen(m.nodes[0].curve_public), 40);
    const char *plain = "apiVersion: roost/v1\n" ONE_NODE;
    assert_int_equal(manifest_parse(plain, strlen(plain), "t.yaml", &m, err, sizeof err), 0);
    assert_false(m.security.curve); /* no keys anywhere: off (roostd warns) */
    s_refused("apiVersion: roost/v1\nsecurity: {curve: true}\n" ONE_NODE,
              "nodes[0].curve_cert: s has no certificate, and security.curve is on");
    s_refused("apiVersion: roost/v1\nsecurity: {curve: maybe}\n" ONE_NODE,
              "bad.yaml:2: security.curve: \"maybe\" is not true or false");
    s_refused("apiVersion: roost/v1\nsecurity: {operators: [{name: o, curve_public: short}]}\n",
              "security.operators[0].curve_public: not a CURVE public key");
    s_refused("apiVersion: roost/v1\nsecurity: {operators: [{name: o}]}\n",
              "security.operators[0]: needs a name and curve_public or cert");
    s_refused("apiVersion: roost/v1\nsecurity: {operators: [{name: o, cert: a}, {name: o, cert: "
              "b}]}\n",
              "name \"o\" is already used");
    s_refused("apiVersion: roost/v1\nsecurity: {sharing: yes}\n",
              "security: unknown field \"sharing\"");
    s_refused("apiVersion: roost/v1\ncluster: {replication_factor: 1}\nnodes:\n"
              "  - {name: s, id: 1, roles: [shard], host: h, peer_port: 1, raft_port: 2,"
              " data_dir: d, admin_port: 3, curve_cert: s.cert}\n",
              "security.operators: admin ports need at least one operator key");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_local_manifest_loads),
        cmocka_unit_test(test_security_section),
        cmocka_unit_test(test_shipped_three_host_manifest_loads),
        cmocka_unit_test(test_a_good_manifest_parses),
        cmocka_unit_test(test_bad_manifests_name_line_and_field),
        cmocka_unit_test(test_runtime_io_is_worker_or_thread),
        cmocka_unit_test(test_sync_gather_can_be_turned_off),
        cmocka_unit_test(test_compaction_is_universal_or_level),
        cmocka_unit_test(test_missing_file_is_an_error),
        cmocka_unit_test(test_edge_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
