/* tests/integration/test_chat_cluster.c — the messaging actors in three real `roostd` shard
 * processes (RF 3, QUORUM), driven by client sessions on a client node joined over ZeroMQ:
 *   - two users sending each other 1,000 messages each at once: each side's other device sees
 *     one order, identical on both sides and in `history`;
 *   - `kill -9` of the conversation's primary after its `ok` and before the fan-out (held by
 *     fault injection): the recipient still gets the message, exactly once.
 */
#include <pthread.h>
#include <signal.h>

#include "cluster/manifest.h"
#include "cluster/probe.h"
#include "runtime/hash.h"
#include "tests/support/ports.h"
#include "tests/support/procs.h"
#include "tests/support/sessions.h"
#include "tests/support/tmpdir.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

enum { N = 3, P = 32, CLIENT = 11, PER_SIDE = 1000 };

typedef struct {
    char dir[64], manifest[96];
    int ports[N + 1][3];
    proc_t node[N + 1];
    char serving[N + 1][600]; /* each node's latest map line: its serving=[…] */
    int maps[N + 1];
    char faults[N + 1][96];
    manifest_t m;
    probe_t *probe;
} world_t;

static world_t *W;

static void s_on_line(void *arg, const char *line)
{
    int i = (int)(intptr_t)arg;
    if (!strstr(line, "msg=\"map applied\""))
        return;
    W->maps[i]++;
    const char *s = strstr(line, " serving=[");
    if (s)
        sscanf(s + 10, "%599[^]]", W->serving[i]);
    else
        W->serving[i][0] = '\0';
}

static void s_pump(void)
{
    for (int i = 1; i <= N; i++)
        if (W->node[i].pid > 0)
            proc_read_lines(&W->node[i], s_on_line, (void *)(intptr_t)i);
}

static void s_fault(int i, const char *what)
{
    FILE *f = fopen(W->faults[i], "w");
    assert_non_null(f);
    fputs(what, f);
    fclose(f);
}

static void s_start(int i)
{
    char name[16], log[128];
    snprintf(name, sizeof name, "s%d", i);
    snprintf(log, sizeof log, "%s/s%d.log", W->dir, i);
    char *argv[] = {getenv("ROOSTD"), "--manifest", W->manifest, "--node", name,
                    "--data-root",    W->dir,       NULL};
    setenv("ROOST_FAULTS", W->faults[i], 1);
    assert_true(proc_spawn(&W->node[i], argv, log));
    unsetenv("ROOST_FAULTS");
}

static void s_write_manifest(void)
{
    FILE *f = fopen(W->manifest, "w");
    assert_non_null(f);
    fprintf(f,
            "apiVersion: roost/v1\n"
            "cluster: {name: t, partitions: %d, replication_factor: 3, consistency: QUORUM}\n"
            "runtime: {workers: 2, heartbeat_ms: 200, down_after_ms: 1500}\nnodes:\n",
            P);
    for (int i = 1; i <= N; i++)
        fprintf(f,
                "  - {name: s%d, id: %d, roles: [shard], host: 127.0.0.1, peer_port: %d,"
                " raft_port: %d, data_dir: s%d}\n",
                i, i, W->ports[i][0], W->ports[i][1], i);
    fprintf(f,
            "  - {name: client, id: %d, roles: [edge], host: 127.0.0.1, peer_port: %d,"
            " client_port: %d}\n",
            CLIENT, W->ports[0][0], W->ports[0][1]);
    fclose(f);
}

/* Claims a phone, retrying while the cluster settles. */
static void s_claim(uint32_t sess, const char *phone, const char *device, char out[32])
{
    uint64_t deadline = proc_now_ms() + 60000;
    do {
        s_pump();
        sess_claim(sess, phone, device, out);
        if (out[0])
            return;
        proc_sleep_ms(200);
    } while (proc_now_ms() < deadline);
    fail_msg("could not claim %s", phone);
}

static int setup(void **state)
{
    (void)state;
    assert_non_null(getenv("ROOSTD"));
    W = calloc(1, sizeof *W);
    snprintf(W->dir, sizeof W->dir, "/tmp/roost-chat-XXXXXX");
    assert_non_null(mkdtemp(W->dir));
    snprintf(W->manifest, sizeof W->manifest, "%s/cluster.yaml", W->dir);
    char dir[sizeof W->dir];
    memcpy(dir, W->dir, sizeof dir);
    for (int i = 1; i <= N; i++)
        snprintf(W->faults[i], sizeof W->faults[i], "%s/s%d.faults", dir, i);
    for (int i = 0; i <= N; i++)
        for (int k = 0; k < 3; k++)
            W->ports[i][k] = test_free_port();
    s_write_manifest();
    char err[MANIFEST_ERR_BYTES_MAX];
    assert_int_equal(manifest_load(W->manifest, &W->m, err, sizeof err), 0);
    for (int i = 1; i <= N; i++)
        s_start(i);
    W->probe = probe_new(&W->m, "client", NULL, NULL);
    assert_non_null(W->probe);
    roost_node_register(probe_node(W->probe), &sess_behaviour);
    g_hub.node = probe_node(W->probe);
    g_hub.node_id = CLIENT;
    probe_route(W->probe, 1);
    assert_int_equal(probe_start(W->probe), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    probe_destroy(&W->probe);
    for (int i = 1; i <= N; i++)
        if (W->node[i].pid > 0)
            proc_stop(&W->node[i], SIGTERM, 10000);
    for (uint32_t i = 0; i < SESS_MAX; i++)
        sess_drain(i);
    test_rmtree(W->dir);
    free(W);
    return 0;
}

/* ---- helpers --------------------------------------------------------------------------- */

typedef struct {
    char id[32], key[40];
} user_t;

static void s_user(uint32_t sess, const char *phone, const char *device, user_t *u)
{
    s_claim(sess, phone, device, u->id);
    snprintf(u->key, sizeof u->key, "u:%s", u->id);
}

static void s_auth(uint32_t i, const user_t *u, const char *device)
{
    msgpack_unpacked up;
    const char *t = sess_call(i, u->key, u->id, device, "{\"t\":\"auth\"}", &up);
    msgpack_unpacked_destroy(&up);
    assert_non_null(t);
    assert_string_equal(t, "ok");
}

static void s_conv(const user_t *a, const user_t *b, char out[48])
{
    uint64_t x = strtoull(a->id, NULL, 10), y = strtoull(b->id, NULL, 10);
    snprintf(out, 48, "d:%llu:%llu", (unsigned long long)(x < y ? x : y),
             (unsigned long long)(x < y ? y : x));
}

/* Sends, retrying (same cmid) on `unavailable` until a deadline; returns the seq. */
static uint64_t s_send(uint32_t i, const user_t *from, const char *device, const char *conv,
                       const user_t *to, const char *cmid)
{
    char json[256], buf[64];
    snprintf(json, sizeof json,
             "{\"t\":\"send\",\"to\":\"u:%s\",\"cmid\":\"%s\",\"kind\":\"text\",\"body\":\"%s\"}",
             to->id, cmid, cmid);
    uint64_t deadline = proc_now_ms() + 30000;
    for (;;) {
        msgpack_unpacked up;
        const char *t = sess_call(i, conv, from->id, device, json, &up);
        uint64_t seq = t && strcmp(t, "ok") == 0 ? sess_u64(&up.data, "seq") : 0;
        if (t && !seq)
            sess_str(&up.data, "code", buf, sizeof buf);
        msgpack_unpacked_destroy(&up);
        if (seq)
            return seq;
        if (proc_now_ms() > deadline)
            fail_msg("send %s failed: %s", cmid, t ? buf : "no answer");
        proc_sleep_ms(50);
    }
}

typedef struct {
    uint32_t sess;
    const user_t *from, *to;
    const char *device, *conv, *prefix;
} sender_t;

static void *s_sender(void *arg)
{
    sender_t *s = arg;
    char cmid[32];
    for (int k = 0; k < PER_SIDE; k++) {
        snprintf(cmid, sizeof cmid, "%s%d", s->prefix, k);
        s_send(s->sess, s->from, s->device, s->conv, s->to, cmid);
    }
    return NULL;
}

/* Reads `count` msg pushes on session i (acking as it goes); their mids by seq into mids. */
static void s_collect(uint32_t i, const user_t *u, const char *device, int count, char (*mids)[40])
{
    uint64_t last_seq = 0, last_n = 0;
    for (int got = 0; got < count;) {
        msgpack_unpacked up;
        if (!sess_next(i, &up, 30000))
            fail_msg("session %u: %d of %d messages", i, got, count);
        char t[16];
        sess_str(&up.data, "t", t, sizeof t);
        if (strcmp(t, "msg") == 0) {
            uint64_t seq = sess_u64(&up.data, "seq"), n = sess_u64(&up.data, "n");
            if (seq != last_seq + 1)
                fail_msg("session %u: seq %llu after %llu", i, (unsigned long long)seq,
                         (unsigned long long)last_seq);
            assert_true(n > last_n);
            sess_str(&up.data, "mid", mids[seq], 40);
            last_seq = seq, last_n = n;
            got++;
        }
        msgpack_unpacked_destroy(&up);
        if (got % 100 == 0 || got == count) {
            char json[64];
            snprintf(json, sizeof json, "{\"t\":\"recv.ack\",\"n\":%llu}",
                     (unsigned long long)last_n);
            msgpack_unpacked a;
            sess_call(i, u->key, u->id, device, json, &a);
            msgpack_unpacked_destroy(&a);
        }
    }
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_concurrent_order(void **state)
{
    (void)state;
    user_t a, a2, b, b2;
    s_user(0, "+15551000001", "a1", &a);
    s_user(1, "+15551000001", "a2", &a2);
    s_user(2, "+15551000002", "b1", &b);
    s_user(3, "+15551000002", "b2", &b2);
    s_auth(1, &a, "a2");
    s_auth(3, &b, "b2");
    char conv[48];
    s_conv(&a, &b, conv);
    sender_t sa = {0, &a, &b, "a1", conv, "a"}, sb = {2, &b, &a, "b1", conv, "b"};
    uint64_t t0 = proc_now_ms();
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, s_sender, &sa), 0);
    s_sender(&sb);
    pthread_join(th, NULL);
    uint64_t t1 = proc_now_ms();
    fprintf(stderr, "2 x %d sends at once: %.1f s (%.0f sends/s)\n", PER_SIDE,
            (double)(t1 - t0) / 1000.0, 2.0 * PER_SIDE * 1000.0 / (double)(t1 - t0 + 1));
    static char mids_a[2 * PER_SIDE + 1][40], mids_b[2 * PER_SIDE + 1][40];
    s_collect(1, &a, "a2", 2 * PER_SIDE, mids_a);
    s_collect(3, &b, "b2", 2 * PER_SIDE, mids_b);
    for (int seq = 1; seq <= 2 * PER_SIDE; seq++)
        assert_string_equal(mids_a[seq], mids_b[seq]);
    /* history, newest first, 100 at a time: the same order */
    uint64_t before = 0;
    for (int page = 0; page < 2 * PER_SIDE / 100; page++) {
        char json[160];
        if (before)
            snprintf(json, sizeof json,
                     "{\"t\":\"history\",\"conv\":\"%s\",\"before\":%llu,\"limit\":100}", conv,
                     (unsigned long long)before);
        else
            snprintf(json, sizeof json, "{\"t\":\"history\",\"conv\":\"%s\",\"limit\":100}", conv);
        msgpack_unpacked up;
        assert_string_equal(sess_call(1, conv, a.id, "a2", json, &up), "ok");
        const msgpack_object *msgs;
        assert_int_equal(mp_get_array(&up.data, "msgs", &msgs), MP_OK);
        assert_int_equal(msgs->via.array.size, 100);
        for (uint32_t k = 0; k < msgs->via.array.size; k++) {
            uint64_t seq = sess_u64(&msgs->via.array.ptr[k], "seq");
            char mid[40];
            assert_int_equal(seq, 2 * PER_SIDE - page * 100 - k);
            assert_string_equal(sess_str(&msgs->via.array.ptr[k], "mid", mid, sizeof mid),
                                mids_a[seq]);
            before = seq;
        }
        msgpack_unpacked_destroy(&up);
    }
}

/* The node whose latest map line lists partition p as served by it (0 if none). */
static int s_primary_of(uint32_t p)
{
    for (int i = 1; i <= N; i++) {
        if (W->node[i].pid <= 0)
            continue;
        char list[600];
        snprintf(list, sizeof list, ",%s,", W->serving[i]);
        char want[16];
        snprintf(want, sizeof want, ",%u,", p);
        if (strstr(list, want))
            return i;
    }
    return 0;
}

static void test_kill_primary_between_ok_and_fanout(void **state)
{
    (void)state;
    user_t a, b;
    s_user(0, "+15552000001", "a1", &a);
    s_user(1, "+15552000002", "b1", &b);
    char conv[48];
    s_conv(&a, &b, conv);
    for (int i = 1; i <= N; i++)
        s_fault(i, "hold-fanout\n");
    proc_sleep_ms(600); /* the fault files are read on the heartbeat tick */
    assert_int_equal(s_send(0, &a, "a1", conv, &b, "held"), 1);
    s_auth(1, &b, "b1");
    msgpack_unpacked up;
    assert_false(sess_next(1, &up, 1000)); /* acknowledged, not delivered */
    msgpack_unpacked_destroy(&up);
    s_pump();
    uint32_t part = roost_partition_of(conv, strlen(conv), P);
    int victim = s_primary_of(part);
    assert_true(victim > 0);
    fprintf(stderr, "conversation %s: partition %u, primary s%d: kill -9\n", conv, part, victim);
    proc_stop(&W->node[victim], SIGKILL, 1000);
    int via = victim == 1 ? 2 : 1;
    probe_route(W->probe, (uint32_t)via);
    for (int i = 1; i <= N; i++)
        if (i != victim)
            s_fault(i, "");
    /* the new primary resumes the fan-out by itself (its index); b reconnects and gets it */
    uint64_t deadline = proc_now_ms() + 30000;
    bool got = false;
    for (uint32_t sess = 2; !got && proc_now_ms() < deadline; sess++) {
        s_pump();
        msgpack_unpacked r;
        const char *t = sess_call(sess % SESS_MAX, b.key, b.id, "b1", "{\"t\":\"auth\"}", &r);
        msgpack_unpacked_destroy(&r);
        if (t && strcmp(t, "ok") == 0 && sess_next(sess % SESS_MAX, &up, 3000)) {
            char buf[16];
            assert_string_equal(sess_str(&up.data, "t", buf, sizeof buf), "msg");
            assert_int_equal(sess_u64(&up.data, "seq"), 1);
            assert_int_equal(sess_u64(&up.data, "n"), 1);
            got = true;
            msgpack_unpacked_destroy(&up);
            assert_false(sess_next(sess % SESS_MAX, &up, 1500)); /* once */
        }
        msgpack_unpacked_destroy(&up);
        if (!got)
            proc_sleep_ms(500);
    }
    assert_true(got);
    assert_int_equal(s_send(0, &a, "a1", conv, &b, "after"), 2);
    s_start(victim); /* it comes back and catches up */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_concurrent_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_primary_between_ok_and_fanout, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
