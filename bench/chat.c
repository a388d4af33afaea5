/* bench/chat.c — `roost-bench chat`: messages through the messaging actors on one in-process
 * shard node (real runtime, real RocksDB in a temp dir, RF 1, sync batch). `--pairs` pairs of
 * users; one bench actor per pair is both the sender's session and the recipient's session,
 * as an edge would hold them: it sends one message at a time per conversation (the edge's
 * rule), the next as soon as `ok` arrives, and acknowledges the recipient's pushes. Reports
 * sends/s, send→ok and send→push latency, and replicated writes per message. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/actors.h"
#include "actors/client.h"
#include "actors/msgs.h"
#include "bench/bench.h"
#include "runtime/errors.h"
#include "runtime/node.h"
#include "shards/engine_rocksdb.h"
#include "shards/proto.h"
#include "shards/replog.h"
#include "shards/store.h"
#include "shards/syncer.h"

enum { P = 64, MSG_SETUP = 0x7F00, MSG_RUN, PAIRS_MAX = 4096 };

static struct {
    _Atomic uint64_t ready, sent, pushed, failed;
    _Atomic bool stop;
    lat_hist_t ok_lat, push_lat;
} G;

typedef struct {
    uint32_t index;
    int step; /* setup: 0 claim a, 1 claim b, 2 auth b, 3 ready */
    char a[ID_BYTES_MAX + 1], b[ID_BYTES_MAX + 1], conv[CONV_KEY_BYTES_MAX + 1];
    uint64_t sent_ns, seq, pushes, last_n;
} pair_t;

static void s_claim(roost_ctx_t *ctx, pair_t *p, char which)
{
    char key[32];
    snprintf(key, sizeof key, "p:+1777%06u%c", p->index, which == 'a' ? '1' : '2');
    mp_buf_t b;
    mp_buf_init(&b);
    msgpack_pack_array(&b.pk, 1);
    mp_pack_str(&b.pk, which == 'a' ? "a" : "b");
    roost_ctx_request(ctx, key, MSG_PHONE_CLAIM, b.sb.data, b.sb.size, 30000, NULL);
    mp_buf_fini(&b);
}

/* A client request as user/device from this session. */
static void s_client(roost_ctx_t *ctx, const char *target, const char *user, const char *device,
                     const mp_buf_t *frame)
{
    mp_buf_t b;
    mp_buf_init(&b);
    creq_encode(&b, user, device, roost_ctx_self(ctx), frame->sb.data, frame->sb.size);
    roost_ctx_request(ctx, target, MSG_CLIENT, b.sb.data, b.sb.size, 30000, NULL);
    mp_buf_fini(&b);
}

static void s_send_next(roost_ctx_t *ctx, pair_t *p)
{
    if (atomic_load(&G.stop))
        return;
    char to[ID_BYTES_MAX + 3], cmid[24];
    snprintf(to, sizeof to, "u:%s", p->b);
    snprintf(cmid, sizeof cmid, "m%" PRIu64, p->seq++);
    p->sent_ns = bench_now_ns();
    mp_buf_t f;
    mp_buf_init(&f);
    msgpack_pack_map(&f.pk, 5);
    mp_kv_str(&f.pk, "t", "send");
    mp_kv_str(&f.pk, "to", to);
    mp_kv_str(&f.pk, "cmid", cmid);
    mp_kv_str(&f.pk, "kind", "text");
    mp_pack_str(&f.pk, "body");
    mp_pack_bin(&f.pk, &p->sent_ns, sizeof p->sent_ns);
    s_client(ctx, p->conv, p->a, "a", &f);
    mp_buf_fini(&f);
}

static void s_setup_answer(roost_ctx_t *ctx, pair_t *p, const roost_env_t *env)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    mp_str_t user;
    bool ok = !(env->flags & ROOST_ENV_ERROR) && mp_parse(&up, env->payload, env->payload_len);
    if (ok && p->step < 2)
        ok = mp_get_str(&up.data, "user", 1, ID_BYTES_MAX, &user) == MP_OK &&
             mp_str_copy(user, p->step == 0 ? p->a : p->b, ID_BYTES_MAX + 1);
    msgpack_unpacked_destroy(&up);
    if (!ok) {
        atomic_fetch_add(&G.failed, 1);
        return;
    }
    p->step++;
    if (p->step == 1) {
        s_claim(ctx, p, 'b');
    } else if (p->step == 2) {
        conv_direct_key(p->conv, id_parse(p->a, strlen(p->a)), id_parse(p->b, strlen(p->b)));
        mp_buf_t f;
        mp_buf_init(&f);
        msgpack_pack_map(&f.pk, 1);
        mp_kv_str(&f.pk, "t", "auth");
        char key[ID_BYTES_MAX + 3];
        snprintf(key, sizeof key, "u:%s", p->b);
        s_client(ctx, key, p->b, "b", &f);
        mp_buf_fini(&f);
    } else {
        atomic_fetch_add(&G.ready, 1);
    }
}

/* An inbox event [prev, frame] (loopback: nothing is lost, so prev is not checked). */
static void s_pushed(roost_ctx_t *ctx, pair_t *p, const roost_env_t *env)
{
    msgpack_unpacked ev, up;
    msgpack_unpacked_init(&ev);
    msgpack_unpacked_init(&up);
    mp_str_t body;
    uint64_t n = 0, sent = 0;
    const msgpack_object *a = &ev.data;
    if (mp_parse(&ev, env->payload, env->payload_len) && a->type == MSGPACK_OBJECT_ARRAY &&
        a->via.array.size == 2 && a->via.array.ptr[1].type == MSGPACK_OBJECT_BIN &&
        mp_parse(&up, a->via.array.ptr[1].via.bin.ptr, a->via.array.ptr[1].via.bin.size) &&
        mp_get_bin(&up.data, "body", 8, &body) == MP_OK && body.len == 8 &&
        mp_get_u64(&up.data, "n", &n) == MP_OK) {
        memcpy(&sent, body.ptr, 8);
        lat_record(&G.push_lat, bench_now_ns() - sent);
        atomic_fetch_add(&G.pushed, 1);
        p->last_n = n;
        if (++p->pushes % 64 == 0) { /* keeps the push window open */
            char key[ID_BYTES_MAX + 3];
            snprintf(key, sizeof key, "u:%s", p->b);
            mp_buf_t f;
            mp_buf_init(&f);
            msgpack_pack_map(&f.pk, 2);
            mp_kv_str(&f.pk, "t", "recv.ack");
            mp_kv_u64(&f.pk, "n", n);
            s_client(ctx, key, p->b, "b", &f);
            mp_buf_fini(&f);
        }
    }
    msgpack_unpacked_destroy(&up);
    msgpack_unpacked_destroy(&ev);
}

static void s_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    pair_t *p = state;
    if (env->type == MSG_SETUP) {
        s_claim(ctx, p, 'a');
    } else if (env->type == MSG_RUN) {
        s_send_next(ctx, p);
    } else if (env->type == MSG_PUSH_EVENT) {
        s_pushed(ctx, p, env);
    } else if ((env->flags & ROOST_ENV_RESPONSE) && p->step < 3) {
        s_setup_answer(ctx, p, env);
    } else if ((env->flags & ROOST_ENV_RESPONSE) && p->sent_ns && env->payload_len > 8 &&
               memmem(env->payload, env->payload_len, "seq", 3)) {
        lat_record(&G.ok_lat, bench_now_ns() - p->sent_ns); /* a send's ok */
        atomic_fetch_add(&G.sent, 1);
        p->sent_ns = 0;
        s_send_next(ctx, p);
    }
}

static int s_activate(roost_ctx_t *ctx, void **state)
{
    pair_t *p = calloc(1, sizeof *p);
    roost_local_key_t k;
    const char *self = roost_ctx_self(ctx);
    roost_key_parse_local(self, strlen(self), &k);
    p->index = k.partition;
    *state = p;
    return ROOST_OK;
}

static void s_passivate(roost_ctx_t *ctx, void *state)
{
    (void)ctx;
    free(state);
}

static const roost_behaviour_t s_pair_beh = {.kind = "@chat",
                                             .on_activate = s_activate,
                                             .on_message = s_message,
                                             .on_passivate = s_passivate};

static void s_broadcast(roost_node_t *node, uint32_t pairs, uint32_t type)
{
    for (uint32_t i = 0; i < pairs; i++) {
        char key[64];
        roost_key_make_local(key, sizeof key, 1, i, "chat", NULL);
        roost_node_send(node, roost_env_new(key, NULL, type, NULL, 0));
    }
}

int bench_chat(int argc, char **argv)
{
    uint32_t pairs = (uint32_t)bench_opt_u64(argc, argv, "--pairs", 200);
    uint64_t seconds = bench_opt_u64(argc, argv, "--seconds", 10);
    uint32_t workers = (uint32_t)bench_opt_u64(argc, argv, "--workers", 0);
    if (pairs == 0 || pairs > PAIRS_MAX) {
        fprintf(stderr, "roost-bench chat: --pairs must be 1..%d\n", PAIRS_MAX);
        return 2;
    }
    char dir[] = "/tmp/roost-bench-chat-XXXXXX", err[256];
    if (!mkdtemp(dir))
        return 1;
    engine_t *engine = engine_rocksdb_open(dir, NULL, err, sizeof err);
    if (!engine) {
        fprintf(stderr, "roost-bench chat: %s\n", err);
        return 1;
    }
    store_t store = {.engine = engine,
                     .rf = 1,
                     .consistency = CONSISTENCY_QUORUM,
                     .sync = SYNC_BATCH,
                     .append_timeout_ms = 10000,
                     .serving_hook = ACTORS_SERVING_HOOK};
    roost_node_config_t nc = {.node_id = 1, .workers = workers, .partitions = P};
    roost_node_t *node = roost_node_new(&nc);
    roost_node_register(node, &replog_behaviour);
    actors_register(node);
    roost_node_register(node, &s_pair_beh);
    roost_node_set_service(node, STORE_SERVICE, &store);
    syncer_t *syncer = syncer_new(node, engine);
    roost_node_set_service(node, SYNCER_SERVICE, syncer);
    syncer_start(syncer);
    for (uint32_t p = 0; p < P; p++)
        roost_node_set_primary(node, p, 1, 1);
    roost_node_start(node);
    msg_role_t role = {.epoch = 1, .primary = 1, .nreplicas = 1, .replicas = {1}};
    for (uint32_t p = 0; p < P; p++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msg_role_encode(&sb, &role);
        char key[64];
        replog_key(key, sizeof key, 1, p);
        roost_node_send(node, roost_env_new(key, NULL, MSG_LOG_ROLE, sb.data, sb.size));
        msgpack_sbuffer_destroy(&sb);
    }
    bench_progress("chat: registering %u pairs of users", pairs);
    s_broadcast(node, pairs, MSG_SETUP);
    uint64_t deadline = bench_now_ns() + 60ull * 1000000000ull;
    while (atomic_load(&G.ready) < pairs && atomic_load(&G.failed) == 0 &&
           bench_now_ns() < deadline) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    int rc = atomic_load(&G.ready) == pairs ? 0 : 1;
    uint64_t appends0 = atomic_load(&store.stats.appends), t0 = bench_now_ns(), sent = 0;
    if (rc == 0) {
        s_broadcast(node, pairs, MSG_RUN);
        for (uint64_t s = 0; s < seconds; s++) {
            struct timespec ts = {1, 0};
            nanosleep(&ts, NULL);
            bench_progress("chat: %" PRIu64 "/%" PRIu64 " s, %" PRIu64 " sent", s + 1, seconds,
                           (uint64_t)atomic_load(&G.sent));
        }
        sent = atomic_load(&G.sent);
        atomic_store(&G.stop, true);
    }
    double elapsed = (double)(bench_now_ns() - t0) / 1e9;
    uint64_t appends = atomic_load(&store.stats.appends) - appends0;
    struct timespec settle = {1, 0};
    nanosleep(&settle, NULL);
    roost_node_stop(node);
    syncer_destroy(&syncer);
    roost_node_destroy(&node);
    engine_destroy(&engine);
    char cmd[96];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "roost-bench chat: could not remove %s\n", dir);
    if (rc != 0) {
        fprintf(stderr, "roost-bench chat: only %" PRIu64 " of %u pairs registered\n",
                (uint64_t)atomic_load(&G.ready), pairs);
        return 1;
    }
    printf("{\"bench\":\"chat\",\"pairs\":%u,\"seconds\":%.1f,\"sends_per_s\":%.0f,"
           "\"ok_p50_us\":%.0f,\"ok_p99_us\":%.0f,\"push_p50_us\":%.0f,\"push_p99_us\":%.0f,"
           "\"writes_per_message\":%.2f}\n",
           pairs, elapsed, (double)sent / elapsed, lat_quantile_us(&G.ok_lat, 0.5),
           lat_quantile_us(&G.ok_lat, 0.99), lat_quantile_us(&G.push_lat, 0.5),
           lat_quantile_us(&G.push_lat, 0.99), sent ? (double)appends / (double)sent : 0.0);
    return 0;
}
