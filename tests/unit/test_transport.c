/* tests/unit/test_transport.c — two nodes in one process talking over real ZeroMQ sockets on
 * loopback: remote sends and requests, heartbeats, malformed frames from a peer, unknown
 * peers, and a dead peer that must not block the sender. Every node test runs twice: with the
 * transport's I/O loop on its own thread, and on the node's first worker (runtime.io). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <zmq.h>

#include "runtime/errors.h"
#include "runtime/hash.h"
#include "runtime/node.h"
#include "runtime/transport_zmq.h"
#include "tests/support/ports.h"

enum { MSG_GO = 1, MSG_PING, MSG_PONG, MSG_SEQ };
enum { P = 64, ROUNDS = 500, STREAM = 20000 };

static _Atomic int g_pongs, g_seq_received, g_seq_bad, g_heartbeats[3];
static uint64_t g_seq_next; /* the stream's next value, minus one */
static bool g_io_on_worker; /* the group's mode: where s_pair's nodes run the transport loop */

static void asker_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    if (env->flags & ROOST_ENV_RESPONSE) {
        if (!(env->flags & ROOST_ENV_ERROR) && atomic_fetch_add(&g_pongs, 1) + 1 >= ROUNDS)
            return;
    }
    if (env->type == MSG_GO || (env->flags & ROOST_ENV_RESPONSE))
        roost_ctx_request(ctx, "answer:1", MSG_PING, NULL, 0, 2000, NULL);
}

static void answer_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    if (env->type == MSG_PING) {
        roost_ctx_reply(ctx, env, MSG_PONG, NULL, 0);
        return;
    }
    uint64_t v;
    memcpy(&v, env->payload, sizeof v);
    if (v != g_seq_next + 1) /* one answer actor, one worker: no race */
        atomic_fetch_add(&g_seq_bad, 1);
    g_seq_next = v;
    atomic_fetch_add(&g_seq_received, 1);
}

static void streamer_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state, (void)env;
    for (uint64_t i = 1; i <= STREAM; i++)
        roost_ctx_send(ctx, "answer:1", MSG_SEQ, &i, sizeof i);
}

/* "early:1" asks answer:1 once, with a long timeout, and keeps the answer's status. */
static _Atomic int g_early_status = 1; /* 1: no answer yet */

static void early_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    if (env->flags & ROOST_ENV_RESPONSE)
        atomic_store(&g_early_status, (env->flags & ROOST_ENV_ERROR) ? env->status : ROOST_OK);
    else
        roost_ctx_request(ctx, "answer:1", MSG_PING, NULL, 0, 30000, NULL);
}

static const roost_behaviour_t early = {.kind = "early", .on_message = early_message};
static const roost_behaviour_t asker = {.kind = "ask", .on_message = asker_message};
static const roost_behaviour_t answer = {.kind = "answer", .on_message = answer_message};
static const roost_behaviour_t streamer = {.kind = "stream", .on_message = streamer_message};

static void on_system(void *arg, uint32_t from, const roost_env_t *env)
{
    (void)arg;
    if (env->type == ROOST_MSG_HEARTBEAT && from < 3)
        atomic_fetch_add(&g_heartbeats[from], 1);
}

typedef struct {
    roost_node_t *node[3];
    roost_transport_t *tr[3];
    int port[3];
} pair_t;

static uint32_t s_partition(const char *key)
{
    return roost_partition_of(key, strlen(key), P);
}

/* Node 1 and node 2; "answer:1" lives on node 2, the rest on node 1. Node 0 is configured as
 * a peer but never started (a dead peer). */
typedef struct {
    char pub[41], sec[41]; /* Z85 */
    uint8_t pub_bin[32], sec_bin[32];
} keys_t;

static keys_t g_keys[3]; /* with CURVE: every node's pair (node 0's too: it is listed) */

static void s_keys(keys_t *k)
{
    assert_int_equal(zmq_curve_keypair(k->pub, k->sec), 0);
    zmq_z85_decode(k->pub_bin, k->pub);
    zmq_z85_decode(k->sec_bin, k->sec);
}

static pair_t *s_pair_with(bool curve)
{
    pair_t *pp = calloc(1, sizeof *pp);
    for (int i = 0; i < 3; i++) {
        pp->port[i] = test_free_port();
        s_keys(&g_keys[i]);
    }
    for (uint32_t id = 1; id <= 2; id++) {
        transport_zmq_config_t tc = {.self_id = id, .heartbeat_ms = 50};
        tc.curve.on = curve;
        memcpy(tc.curve.public_key, g_keys[id].pub_bin, 32);
        memcpy(tc.curve.secret_key, g_keys[id].sec_bin, 32);
        snprintf(tc.bind_endpoint, sizeof tc.bind_endpoint, "tcp://127.0.0.1:%d", pp->port[id]);
        for (uint32_t j = 0; j < 3; j++) {
            if (j == id)
                continue;
            tc.peers[tc.npeers].id = j;
            memcpy(tc.peers[tc.npeers].curve_public, g_keys[j].pub_bin, 32);
            snprintf(tc.peers[tc.npeers].endpoint, TRANSPORT_ENDPOINT_BYTES_MAX,
                     "tcp://127.0.0.1:%d", pp->port[j]);
            tc.npeers++;
        }
        pp->tr[id] = transport_zmq_new(&tc);
        assert_non_null(pp->tr[id]);
        roost_node_config_t nc = {.node_id = id, .workers = 1, .partitions = P};
        pp->node[id] = roost_node_new(&nc);
        roost_node_register(pp->node[id], &asker);
        roost_node_register(pp->node[id], &answer);
        roost_node_register(pp->node[id], &streamer);
        roost_node_register(pp->node[id], &early);
        roost_node_set_transport(pp->node[id], pp->tr[id]);
        if (g_io_on_worker)
            transport_zmq_run_on_caller(pp->tr[id]);
        roost_node_set_io(pp->node[id], g_io_on_worker);
        roost_node_set_system_handler(pp->node[id], on_system, NULL);
        for (uint32_t p = 0; p < P; p++)
            roost_node_set_primary(pp->node[id], p, p == s_partition("answer:1") ? 2 : 1, 1);
        assert_int_equal(roost_node_start(pp->node[id]), 0);
        if (!g_io_on_worker)
            assert_int_equal(transport_zmq_start(pp->tr[id]), 0);
    }
    return pp;
}

static pair_t *s_pair(void)
{
    return s_pair_with(false);
}

static void s_pair_free(pair_t *pp)
{
    for (int id = 1; id <= 2; id++) {
        roost_node_stop(pp->node[id]);
        transport_zmq_destroy(&pp->tr[id]);
        roost_node_destroy(&pp->node[id]);
    }
    free(pp);
}

static bool s_wait_for(_Atomic int *counter, int want, int seconds)
{
    struct timespec pause = {0, 1000000};
    for (int i = 0; i < seconds * 1000; i++) {
        if (atomic_load(counter) >= want)
            return true;
        nanosleep(&pause, NULL);
    }
    return false;
}

static void test_requests_cross_nodes(void **state)
{
    (void)state;
    assert_int_not_equal(s_partition("ask:1"), s_partition("answer:1"));
    pair_t *pp = s_pair();
    atomic_store(&g_pongs, 0);
    roost_node_send(pp->node[1], roost_env_new("ask:1", NULL, MSG_GO, NULL, 0));
    assert_true(s_wait_for(&g_pongs, ROUNDS, 30));
    s_pair_free(pp);
}

static void test_a_stream_arrives_in_order_across_nodes(void **state)
{
    (void)state;
    g_seq_next = 0; /* before the nodes' threads start: their creation publishes it */
    pair_t *pp = s_pair();
    atomic_store(&g_seq_received, 0);
    atomic_store(&g_seq_bad, 0);
    roost_node_send(pp->node[1], roost_env_new("stream:1", NULL, MSG_GO, NULL, 0));
    assert_true(s_wait_for(&g_seq_received, STREAM, 30));
    assert_int_equal(atomic_load(&g_seq_bad), 0);
    transport_zmq_stats_t st;
    transport_zmq_stats(pp->tr[1], &st);
    assert_true(st.batches_out < st.sent); /* small envelopes travel batched */
    s_pair_free(pp);
}

/* A node that has no map yet (just restarted) cannot route the refusal of a request by its map
 * either: it answers the peer the request came from. Before, the refusal was dropped and the
 * requester waited out its timeout (a conversation's fan-out after a cluster restart stalled
 * for 5 s: the test_messaging_cluster flake). */
static void test_a_node_without_a_map_refuses_to_the_peer_that_asked(void **state)
{
    (void)state;
    pair_t *pp = s_pair();
    for (uint32_t p = 0; p < P; p++)
        roost_node_set_primary(pp->node[2], p, ROOST_NO_NODE, 0);
    atomic_store(&g_early_status, 1);
    roost_node_send(pp->node[1], roost_env_new("early:1", NULL, MSG_GO, NULL, 0));
    struct timespec pause = {0, 1000000};
    for (int i = 0; i < 10000 && atomic_load(&g_early_status) == 1; i++)
        nanosleep(&pause, NULL);
    assert_int_equal(atomic_load(&g_early_status), ROOST_EUNAVAIL);
    s_pair_free(pp);
}

static void test_heartbeats_flow_both_ways(void **state)
{
    (void)state;
    pair_t *pp = s_pair();
    memset(g_heartbeats, 0, sizeof g_heartbeats);
    assert_true(s_wait_for(&g_heartbeats[1], 3, 10));
    assert_true(s_wait_for(&g_heartbeats[2], 3, 10));
    s_pair_free(pp);
}

/* A raw DEALER posing as node 2 sends garbage, then a valid envelope: the garbage is counted
 * and dropped, the node keeps serving. An unknown routing id is dropped too. */
static void test_malformed_frames_are_counted_and_dropped(void **state)
{
    (void)state;
    pair_t *pp = s_pair();
    void *zctx = zmq_ctx_new();
    void *liar = zmq_socket(zctx, ZMQ_DEALER), *stranger = zmq_socket(zctx, ZMQ_DEALER);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", pp->port[1]);
    zmq_setsockopt(liar, ZMQ_ROUTING_ID, "n0", 2);
    zmq_setsockopt(stranger, ZMQ_ROUTING_ID, "intruder", 8);
    zmq_connect(liar, ep);
    zmq_connect(stranger, ep);
    const uint8_t garbage[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02};
    zmq_send(liar, garbage, sizeof garbage, 0);
    zmq_send(liar, "\x93\x01\x02\x03", 4, 0); /* a short array: not an envelope */
    zmq_send(stranger, garbage, sizeof garbage, 0);
    transport_zmq_stats_t st = {0};
    for (int i = 0; i < 5000 && (st.malformed < 2 || st.unknown_peer < 1); i++) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
        transport_zmq_stats(pp->tr[1], &st);
    }
    assert_int_equal(st.malformed, 2);
    assert_int_equal(st.unknown_peer, 1);
    atomic_store(&g_pongs, 0);
    roost_node_send(pp->node[1], roost_env_new("ask:1", NULL, MSG_GO, NULL, 0));
    assert_true(s_wait_for(&g_pongs, ROUNDS, 30));
    zmq_close(liar);
    zmq_close(stranger);
    zmq_ctx_term(zctx);
    s_pair_free(pp);
}

/* A DEALER to node 1 as a CURVE client with keys k and routing id rid, sending heartbeats. */
static void *s_curve_client(void *zctx, const pair_t *pp, const keys_t *k, const char *rid)
{
    void *d = zmq_socket(zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(d, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(d, ZMQ_ROUTING_ID, rid, strlen(rid));
    zmq_setsockopt(d, ZMQ_CURVE_SERVERKEY, g_keys[1].pub, 40);
    zmq_setsockopt(d, ZMQ_CURVE_PUBLICKEY, k->pub, 40);
    zmq_setsockopt(d, ZMQ_CURVE_SECRETKEY, k->sec, 40);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", pp->port[1]);
    zmq_connect(d, ep);
    return d;
}

static void s_send_heartbeats(void *d)
{
    roost_env_t *hb = roost_env_new("", "", ROOST_MSG_HEARTBEAT, NULL, 0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    roost_env_encode(hb, &pk);
    for (int i = 0; i < 20; i++)
        zmq_send(d, sb.data, sb.size, ZMQ_DONTWAIT);
    msgpack_sbuffer_destroy(&sb);
    roost_env_free(hb);
}

/* With CURVE: the nodes talk as before (listed keys under their own routing ids); a key that
 * is not listed is refused at the handshake (counted), plain TCP gets nowhere, and a listed
 * key speaking as another node is dropped (counted). The dead node 0's name is the one abused:
 * anything accepted under it would show in its heartbeat count. */
static void test_curve_admits_only_listed_keys_as_themselves(void **state)
{
    (void)state;
    pair_t *pp = s_pair_with(true);
    atomic_store(&g_pongs, 0);
    roost_node_send(pp->node[1], roost_env_new("ask:1", NULL, MSG_GO, NULL, 0));
    assert_true(s_wait_for(&g_pongs, ROUNDS, 30));
    atomic_store(&g_heartbeats[0], 0);
    void *zctx = zmq_ctx_new();
    keys_t outsider;
    s_keys(&outsider);
    void *a = s_curve_client(zctx, pp, &outsider, "n0");
    void *b = s_curve_client(zctx, pp, &g_keys[2], "n0"); /* node 2's key, node 0's name */
    void *plain = zmq_socket(zctx, ZMQ_DEALER);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", pp->port[1]);
    int zero = 0; /* its heartbeats never leave: linger would hold zmq_ctx_term forever */
    zmq_setsockopt(plain, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(plain, ZMQ_ROUTING_ID, "n0", 2);
    zmq_connect(plain, ep);
    s_send_heartbeats(a);
    s_send_heartbeats(b);
    s_send_heartbeats(plain);
    transport_zmq_stats_t st = {0};
    for (int i = 0; i < 5000 && (st.refused < 1 || st.impostor < 1); i++) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
        transport_zmq_stats(pp->tr[1], &st);
    }
    assert_true(st.refused >= 1);
    assert_true(st.impostor >= 1);
    struct timespec settle = {0, 300000000};
    nanosleep(&settle, NULL);
    assert_int_equal(atomic_load(&g_heartbeats[0]), 0); /* nothing got through as node 0 */
    zmq_close(a);
    zmq_close(b);
    zmq_close(plain);
    zmq_ctx_term(zctx);
    s_pair_free(pp);
}

static void test_a_dead_peer_never_blocks_the_sender(void **state)
{
    (void)state;
    enum { FLOOD = 300000, BODY = 100 };
    pair_t *pp = s_pair();
    /* Node 0 never runs: a flood toward it (~35 MB encoded, over the 16 MiB a peer may hold)
     * returns promptly, holds at most the bound, and drops (counts) the rest. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t refused = 0;
    uint8_t body[BODY] = {0};
    for (int i = 0; i < FLOOD; i++) {
        roost_env_t *env = roost_env_new("x:1", NULL, MSG_SEQ, body, sizeof body);
        refused += roost_transport_send(pp->tr[1], 0, env) != 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(secs < 10.0);
    assert_int_equal(roost_transport_send(pp->tr[1], 99, roost_env_new("x:1", NULL, 1, NULL, 0)),
                     ROOST_ENOTFOUND);
    transport_zmq_stats_t st = {0};
    for (int i = 0; i < 5000 && st.sent + st.dropped + st.held + refused < FLOOD; i++) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
        transport_zmq_stats(pp->tr[1], &st);
    }
    /* every envelope is accounted for: handed to ZeroMQ (up to its HWM), held, or dropped */
    assert_true(st.sent + st.dropped + st.held + refused >= FLOOD);
    assert_true(st.dropped > 0);
    assert_true(st.held * BODY <= ROOST_TRANSPORT_PEER_PENDING_BYTES_MAX);
    s_pair_free(pp);
}

/* A numbered stream's receiving end: counts what arrives, and what breaks the order (a value
 * more than `gap` past the one before). One I/O thread delivers: `next` needs no atomics. */
typedef struct {
    _Atomic int received, bad;
    uint64_t next, gap;
} seq_sink_t;

static void s_seq_sink(void *arg, uint32_t from, roost_env_t *env)
{
    (void)from;
    seq_sink_t *k = arg;
    if (!env)
        return; /* the end of a received batch */
    uint64_t v;
    memcpy(&v, env->payload, sizeof v);
    if (v <= k->next || v > k->next + k->gap)
        atomic_fetch_add(&k->bad, 1);
    k->next = v;
    atomic_fetch_add(&k->received, 1);
    roost_env_free(env);
}

/* Node id's transport (1 or 2) of a pair on loopback ports[1], ports[2], the other its peer. */
static roost_transport_t *s_link(uint32_t id, const int ports[3])
{
    transport_zmq_config_t tc = {.self_id = id, .npeers = 1};
    snprintf(tc.bind_endpoint, sizeof tc.bind_endpoint, "tcp://127.0.0.1:%d", ports[id]);
    tc.peers[0].id = 3 - id;
    snprintf(tc.peers[0].endpoint, TRANSPORT_ENDPOINT_BYTES_MAX, "tcp://127.0.0.1:%d",
             ports[3 - id]);
    return transport_zmq_new(&tc);
}

/* The receiver comes up a while after the sender filled ZeroMQ's pipe: nothing is lost and
 * the order holds (frames wait in the transport while the pipe is full). */
static void test_a_late_peer_gets_everything_in_order(void **state)
{
    (void)state;
    enum { COUNT = 50000 };
    int ports[3] = {0, test_free_port(), test_free_port()};
    roost_transport_t *tr1 = s_link(1, ports);
    assert_int_equal(transport_zmq_start(tr1), 0);
    uint8_t body[100] = {0};
    for (uint64_t i = 1; i <= COUNT; i++) {
        memcpy(body, &i, sizeof i);
        roost_env_t *env = roost_env_new("x:1", NULL, MSG_SEQ, body, sizeof body);
        assert_int_equal(roost_transport_send(tr1, 2, env), 0);
        if (i % 1000 == 0) { /* let the I/O thread cut many small frames */
            struct timespec pause = {0, 200000};
            nanosleep(&pause, NULL);
        }
    }
    struct timespec wait = {0, 300000000};
    nanosleep(&wait, NULL);
    seq_sink_t k = {.gap = 1};
    roost_transport_t *tr2 = s_link(2, ports);
    tr2->ops->set_sink(tr2, s_seq_sink, &k);
    assert_int_equal(transport_zmq_start(tr2), 0);
    assert_true(s_wait_for(&k.received, COUNT, 30));
    assert_int_equal(atomic_load(&k.bad), 0);
    transport_zmq_stats_t st;
    transport_zmq_stats(tr1, &st);
    assert_int_equal(st.dropped, 0);
    transport_zmq_destroy(&tr1);
    transport_zmq_destroy(&tr2);
}

/* A worker's batched remote sends: chains arrive whole and in order, and an envelope in a
 * chain for a node the transport does not know is dropped and counted, not sent anywhere. */
static void test_chains_arrive_in_order_and_unknown_nodes_are_dropped(void **state)
{
    (void)state;
    enum { CHAINS = 200, LEN = 50 };
    int ports[3] = {0, test_free_port(), test_free_port()};
    roost_transport_t *tr1 = s_link(1, ports), *tr2 = s_link(2, ports);
    seq_sink_t k = {.gap = 2}; /* one value of each chain goes to an unknown node */
    tr2->ops->set_sink(tr2, s_seq_sink, &k);
    assert_int_equal(transport_zmq_start(tr2), 0);
    assert_int_equal(transport_zmq_start(tr1), 0);
    uint64_t v = 0;
    for (int c = 0; c < CHAINS; c++) {
        roost_env_t *first = NULL, *last = NULL;
        for (int i = 0; i < LEN; i++) {
            v++;
            roost_env_t *env = roost_env_new("x:1", NULL, MSG_SEQ, &v, sizeof v);
            env->dest_node = i == LEN / 2 ? 99 : 2;
            atomic_store(&env->qnode.next, NULL);
            if (last)
                atomic_store(&last->qnode.next, &env->qnode);
            else
                first = env;
            last = env;
        }
        tr1->ops->send_chain(tr1, first, last, LEN);
    }
    assert_true(s_wait_for(&k.received, CHAINS * (LEN - 1), 30));
    assert_int_equal(atomic_load(&k.bad), 0);
    transport_zmq_stats_t st;
    transport_zmq_stats(tr1, &st);
    assert_int_equal(st.dropped, CHAINS);
    assert_int_equal(st.sent, CHAINS * (LEN - 1));
    transport_zmq_destroy(&tr1);
    transport_zmq_destroy(&tr2);
}

/* Threads of this process now (the entries of /proc/self/task). */
static int s_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* On the first worker the loop has no thread of its own: a pair of nodes runs two threads
 * fewer than with the loop on its own thread, and still answers requests across. */
static void test_the_loop_on_a_worker_has_no_thread_of_its_own(void **state)
{
    (void)state;
    int before = s_threads();
    g_io_on_worker = false;
    pair_t *pp = s_pair();
    int own_thread = s_threads() - before;
    s_pair_free(pp);
    before = s_threads();
    g_io_on_worker = true;
    pp = s_pair();
    int on_worker = s_threads() - before;
    atomic_store(&g_pongs, 0);
    roost_node_send(pp->node[1], roost_env_new("ask:1", NULL, MSG_GO, NULL, 0));
    assert_true(s_wait_for(&g_pongs, ROUNDS, 30));
    s_pair_free(pp);
    assert_int_equal(own_thread - on_worker, 2);
}

static void s_count_tick(void *arg, uint64_t now_ns)
{
    (void)now_ns;
    atomic_fetch_add((_Atomic int *)arg, 1);
}

/* With the loop on a worker, transport_zmq_stop means what it means with a thread: once it
 * returns, no pass runs — no delivery, no on_tick — although the worker still runs. (The daemon
 * frees the control plane that on_tick reads between the two; ASan caught a tick after it.) */
static void test_no_tick_runs_on_the_worker_after_stop(void **state)
{
    (void)state;
    _Atomic int *ticks = calloc(1, sizeof *ticks);
    transport_zmq_config_t tc = {
        .self_id = 1, .heartbeat_ms = 5, .on_tick = s_count_tick, .tick_arg = ticks, .npeers = 1};
    snprintf(tc.bind_endpoint, sizeof tc.bind_endpoint, "tcp://127.0.0.1:%d", test_free_port());
    tc.peers[0].id = 2; /* never started */
    snprintf(tc.peers[0].endpoint, TRANSPORT_ENDPOINT_BYTES_MAX, "tcp://127.0.0.1:%d",
             test_free_port());
    roost_transport_t *tr = transport_zmq_new(&tc);
    roost_node_config_t nc = {.node_id = 1, .workers = 1, .partitions = P};
    roost_node_t *node = roost_node_new(&nc);
    roost_node_set_transport(node, tr);
    transport_zmq_run_on_caller(tr);
    roost_node_set_io(node, true);
    assert_int_equal(roost_node_start(node), 0);
    assert_true(s_wait_for(ticks, 5, 10));
    transport_zmq_stop(tr);
    int at_stop = atomic_load(ticks);
    struct timespec later = {0, 100000000}; /* twenty heartbeat intervals */
    nanosleep(&later, NULL);
    assert_int_equal(atomic_load(ticks), at_stop);
    roost_node_stop(node);
    free((void *)ticks);
    transport_zmq_destroy(&tr);
    roost_node_destroy(&node);
}

static int s_loop_on_own_thread(void **state)
{
    (void)state;
    g_io_on_worker = false;
    return 0;
}

static int s_loop_on_worker(void **state)
{
    (void)state;
    g_io_on_worker = true;
    return 0;
}

int main(void)
{
    const struct CMUnitTest nodes[] = {
        cmocka_unit_test(test_requests_cross_nodes),
        cmocka_unit_test(test_a_stream_arrives_in_order_across_nodes),
        cmocka_unit_test(test_a_node_without_a_map_refuses_to_the_peer_that_asked),
        cmocka_unit_test(test_heartbeats_flow_both_ways),
        cmocka_unit_test(test_malformed_frames_are_counted_and_dropped),
        cmocka_unit_test(test_curve_admits_only_listed_keys_as_themselves),
        cmocka_unit_test(test_a_dead_peer_never_blocks_the_sender),
    };
    const struct CMUnitTest others[] = {
        cmocka_unit_test(test_a_late_peer_gets_everything_in_order),
        cmocka_unit_test(test_chains_arrive_in_order_and_unknown_nodes_are_dropped),
        cmocka_unit_test(test_the_loop_on_a_worker_has_no_thread_of_its_own),
        cmocka_unit_test(test_no_tick_runs_on_the_worker_after_stop),
    };
    int failed =
        cmocka_run_group_tests_name("loop on its own thread", nodes, s_loop_on_own_thread, NULL);
    failed +=
        cmocka_run_group_tests_name("loop on the first worker", nodes, s_loop_on_worker, NULL);
    return failed + cmocka_run_group_tests_name("transport", others, NULL, NULL);
}
