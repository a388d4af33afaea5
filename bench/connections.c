/* bench/connections.c — `roost-bench connections`: idle authenticated WebSocket connections held
 * by the edge tier of this machine, and what each costs the edges in memory.
 *
 * Starts a real local cluster (3 shards, `--edges` edge processes sharing one client port
 * through SO_REUSEPORT), registers count/16 users over HTTP (16 sessions each: the user actor's
 * limit), then `--clients` worker processes (bench/conn_worker.c) open and authenticate the
 * connections to `--sources` destination addresses 127.0.0.1–N (the edges listen on 0.0.0.0;
 * each destination has ~28k local ports, each process at most 20,000 descriptors; the kernel
 * picks the source port at connect, which stays cheap, where binding first searched the whole
 * range on every connect). Once all are authenticated and held `--hold` seconds, it
 * reads the edges' resident memory and prints
 *   {"connections", "failed", "held_after_hold", "edge_procs", "edge_rss_bytes",
 *    "edge_rss_idle_bytes", "bytes_per_conn", "connect_per_s"}
 * where held_after_hold counts the connections still open at the end of the hold (the edges
 * close one that misses two pings).
 */
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "clients/roost_client.h"

enum { SHARDS = 3, EDGES_MAX = 16, CLIENTS_MAX = 16, PER_USER = 16, BATCH = 400 };

typedef struct {
    char dir[64], manifest[128], sms[128], tokens[128];
    uint32_t edges, clients, sources;
    uint16_t port, base;
    uint32_t ping_ms;
    uint64_t rate; /* connections opened per second, all workers (0: no pacing) */
    pid_t nodes[SHARDS + EDGES_MAX + 1];
    pid_t workers[CLIENTS_MAX];
    int win[CLIENTS_MAX];
    FILE *wout[CLIENTS_MAX]; /* the workers' progress lines */
} cb_t;

static cb_t *g_cb;

/* Ctrl-C or a timeout's SIGTERM: take every process we started down with us. */
static void s_on_signal(int sig)
{
    for (uint32_t k = 0; g_cb && k < CLIENTS_MAX; k++)
        if (g_cb->workers[k] > 0)
            kill(g_cb->workers[k], SIGKILL);
    for (uint32_t i = 0; g_cb && i <= SHARDS + EDGES_MAX; i++)
        if (g_cb->nodes[i] > 0)
            kill(g_cb->nodes[i], SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static int s_write_files(cb_t *b)
{
    char key[160];
    snprintf(key, sizeof key, "%s/jwt.key", b->dir);
    FILE *k = fopen(key, "w");
    if (!k)
        return -1;
    fputs("bench-secret-bench-secret-bench-secret-0123456789\n", k);
    fclose(k);
    chmod(key, 0600);
    FILE *f = fopen(b->manifest, "w");
    if (!f)
        return -1;
    fprintf(f,
            "apiVersion: roost/v1\ncluster: {name: conns, partitions: 64, replication_factor: 3}\n"
            "runtime: {workers: 1}\n"
            "auth:\n  jwt_keys: [{kid: b, alg: HS256, file: jwt.key}]\n"
            "  otp_per_ip_per_hour: 1000000\n  access_ttl_s: 3600\n"
            "  sms: {driver: file, path: sms.log}\nedge: {ping_ms: %u}\nnodes:\n",
            b->ping_ms);
    for (uint32_t i = 1; i <= SHARDS; i++)
        fprintf(f,
                "  - {name: s%u, id: %u, roles: [shard], host: 127.0.0.1, peer_port: %u,"
                " raft_port: %u, data_dir: s%u}\n",
                i, i, b->base + i, b->base + 100 + i, i);
    for (uint32_t i = 1; i <= b->edges; i++)
        fprintf(f,
                "  - {name: e%u, id: %u, roles: [edge], host: 127.0.0.1, peer_port: %u,"
                " client_port: %u, admin_port: %u, client_host: 0.0.0.0}\n",
                i, 20 + i, b->base + 20 + i, b->port, b->base + 200 + i);
    return fclose(f);
}

static void s_start_nodes(cb_t *b)
{
    for (uint32_t i = 1; i <= SHARDS + b->edges; i++) {
        char name[16];
        snprintf(name, sizeof name, i <= SHARDS ? "s%u" : "e%u", i <= SHARDS ? i : i - SHARDS);
        b->nodes[i] = bench_spawn_roostd(b->manifest, name, b->dir);
    }
}

static uint64_t s_rss_of(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    uint64_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %" SCNu64, &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

static uint64_t s_edges_rss(const cb_t *b)
{
    uint64_t sum = 0;
    for (uint32_t i = SHARDS + 1; i <= SHARDS + b->edges; i++)
        sum += s_rss_of(b->nodes[i]);
    return sum;
}

/* ---- accounts ------------------------------------------------------------------------------ */

static void s_phone(uint64_t i, char out[32])
{
    snprintf(out, 32, "+1777%010" PRIu64, i % 10000000000u);
}

/* Codes for phones [from, to) from the SMS sink, in one read. */
static int s_codes(const cb_t *b, uint64_t from, uint64_t to, char (*codes)[8])
{
    FILE *f = fopen(b->sms, "r");
    if (!f)
        return -1;
    char line[64], phone[32], code[16];
    while (fgets(line, sizeof line, f)) {
        uint64_t n;
        if (sscanf(line, "%31s %15s", phone, code) == 2 && strlen(code) == 6 &&
            sscanf(phone, "+1777%" SCNu64, &n) == 1 && n >= from && n < to)
            memcpy(codes[n - from], code, 7);
    }
    fclose(f);
    return 0;
}

static int s_register(cb_t *b, uint64_t users)
{
    FILE *out = fopen(b->tokens, "w");
    char(*codes)[8] = calloc(BATCH, sizeof *codes);
    uint64_t done = 0;
    for (uint64_t from = 0; from < users && out; from += BATCH) {
        uint64_t to = from + BATCH < users ? from + BATCH : users;
        char phone[32];
        for (uint64_t i = from; i < to; i++) {
            s_phone(i, phone);
            rc_otp_request("127.0.0.1", b->port, phone);
        }
        memset(codes, 0, BATCH * sizeof *codes);
        s_codes(b, from, to, codes);
        for (uint64_t i = from; i < to; i++) {
            rc_session_t s = {.port = b->port};
            snprintf(s.host, sizeof s.host, "127.0.0.1");
            s_phone(i, phone);
            if (codes[i - from][0] && rc_login(&s, phone, codes[i - from], "bench") == 200) {
                fprintf(out, "%s\n", s.access);
                done++;
            }
        }
        bench_progress("connections: %" PRIu64 "/%" PRIu64 " users registered", done, users);
    }
    free(codes);
    if (out)
        fclose(out);
    return done == users ? 0 : -1;
}

/* ---- workers ------------------------------------------------------------------------------- */

static void s_start_workers(cb_t *b, uint64_t count)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    uint64_t users = (count + PER_USER - 1) / PER_USER;
    for (uint32_t k = 0; k < b->clients; k++) {
        uint64_t u0 = users * k / b->clients, u1 = users * (k + 1) / b->clients;
        uint64_t c = (u1 - u0) * PER_USER;
        if (k == b->clients - 1)
            c = count - u0 * PER_USER;
        int o[2], i[2];
        if (pipe(o) != 0 || pipe(i) != 0)
            return;
        char from[24], cnt[24], port[8], iface[24], rate[24];
        snprintf(rate, sizeof rate, "%" PRIu64, b->rate / b->clients);
        char srcs[16];
        snprintf(srcs, sizeof srcs, "%u", b->sources);
        snprintf(from, sizeof from, "%" PRIu64, u0);
        snprintf(cnt, sizeof cnt, "%" PRIu64, c);
        snprintf(port, sizeof port, "%u", b->port);
        snprintf(iface, sizeof iface, "127.0.0.%u", 1 + k * b->sources / b->clients);
        pid_t pid = fork();
        if (pid == 0) {
            dup2(o[1], 1);
            dup2(i[0], 0);
            close(o[0]);
            close(i[1]);
            execl(self, self, "connections-worker", "--tokens", b->tokens, "--from", from,
                  "--count", cnt, "--port", port, "--iface", iface, "--sources", srcs, "--rate",
                  rate, (char *)NULL);
            _exit(127);
        }
        close(o[1]);
        close(i[0]);
        b->workers[k] = pid;
        b->wout[k] = fdopen(o[0], "r");
        b->win[k] = i[1];
    }
}

/* Reads the workers' lines until every one is ready (or timeout); authed and failed totals. */
static bool s_wait_workers(cb_t *b, uint64_t timeout_s, uint64_t *authed, uint64_t *failed)
{
    uint64_t a[CLIENTS_MAX] = {0}, f[CLIENTS_MAX] = {0};
    bool ready[CLIENTS_MAX] = {false};
    FILE **in = b->wout;
    uint64_t end = bench_now_ns() + timeout_s * 1000000000u, next = 0;
    uint32_t nready = 0;
    char line[128];
    while (nready < b->clients && bench_now_ns() < end) {
        for (uint32_t k = 0; k < b->clients; k++) { /* blocking line reads: workers report often */
            if (ready[k] || !fgets(line, sizeof line, in[k]))
                continue;
            unsigned long long x, y, z;
            if (sscanf(line, "progress %llu %llu %llu", &x, &y, &z) == 3) {
                a[k] = y;
                f[k] = z;
            } else if (sscanf(line, "ready %llu %llu", &y, &z) == 2) {
                a[k] = y;
                f[k] = z;
                ready[k] = true;
                nready++;
            }
        }
        *authed = *failed = 0;
        for (uint32_t k = 0; k < b->clients; k++) {
            *authed += a[k];
            *failed += f[k];
        }
        if (bench_now_ns() >= next) {
            bench_progress("connections: %" PRIu64 " authenticated, %" PRIu64 " failed", *authed,
                           *failed);
            next = bench_now_ns() + 2000000000u;
        }
    }
    return nready == b->clients;
}

/* Authenticated connections still open now, from each worker's latest progress line (they
 * report every 500 ms; a connection the edge closed during the hold is no longer counted). */
static uint64_t s_still_held(cb_t *b)
{
    uint64_t sum = 0;
    for (uint32_t k = 0; k < b->clients; k++) {
        int fd = fileno(b->wout[k]);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        char line[128];
        unsigned long long x, y = 0, z, last = 0;
        while (fgets(line, sizeof line, b->wout[k]))
            if (sscanf(line, "progress %llu %llu %llu", &x, &y, &z) == 3)
                last = y;
        sum += last;
    }
    return sum;
}

static void s_stop(cb_t *b)
{
    for (uint32_t k = 0; k < b->clients; k++)
        if (b->workers[k] > 0) {
            close(b->win[k]);
            fclose(b->wout[k]);
        }
    bench_stop_children(b->workers, b->clients, "connections: client worker ");
    bench_stop_children(b->nodes, (size_t)SHARDS + b->edges + 1, "connections: node ");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->dir);
    if (!getenv("ROOST_KEEP_TMP") && system(cmd) != 0)
        bench_progress("connections: could not remove %s", b->dir);
}

int bench_connections(int argc, char **argv)
{
    uint64_t count = bench_opt_u64(argc, argv, "--count", 20000);
    cb_t *b = calloc(1, sizeof *b);
    b->edges = (uint32_t)bench_opt_u64(argc, argv, "--edges", 1 + count / 18000);
    b->clients = (uint32_t)bench_opt_u64(argc, argv, "--clients", 1 + count / 18000);
    b->sources = (uint32_t)bench_opt_u64(argc, argv, "--sources", b->clients);
    b->base = (uint16_t)bench_opt_u64(argc, argv, "--base-port", 29000);
    b->port = (uint16_t)(b->base + 500);
    uint64_t hold = bench_opt_u64(argc, argv, "--hold", 10);
    b->ping_ms = (uint32_t)bench_opt_u64(argc, argv, "--ping-ms", 15000);
    b->rate = bench_opt_u64(argc, argv, "--rate", 0);
    if (b->edges > EDGES_MAX || b->clients > CLIENTS_MAX || !b->sources || !count ||
        count / b->clients > 19000 || count / b->sources > 28000 || count / b->edges > 19000 ||
        b->sources > 250) {
        fprintf(stderr,
                "connections: at most %d edges and %d clients, each edge and client at "
                "most 19,000 connections (descriptors), each source address 28,000 "
                "(local ports)\n",
                EDGES_MAX, CLIENTS_MAX);
        return 2;
    }
    g_cb = b;
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    snprintf(b->dir, sizeof b->dir, "/tmp/roost-conns-XXXXXX");
    if (!mkdtemp(b->dir))
        return 1;
    snprintf(b->manifest, sizeof b->manifest, "%s/cluster.yaml", b->dir);
    snprintf(b->sms, sizeof b->sms, "%s/sms.log", b->dir);
    snprintf(b->tokens, sizeof b->tokens, "%s/tokens", b->dir);
    s_write_files(b);
    s_start_nodes(b);
    int st = 0;
    for (int i = 0; i < 300 && st != 202; i++) {
        usleep(200000);
        st = rc_otp_request("127.0.0.1", b->port, "+17779999999999");
    }
    uint64_t users = (count + PER_USER - 1) / PER_USER, authed = 0, failed = 0;
    int rc = st == 202 && s_register(b, users) == 0 ? 0 : 1;
    uint64_t rss0 = s_edges_rss(b), t0 = bench_now_ns(), t1 = t0;
    if (rc == 0) {
        s_start_workers(b, count);
        rc = s_wait_workers(b, 600, &authed, &failed) ? 0 : 1;
        t1 = bench_now_ns();
        bench_progress("connections: holding %" PRIu64 " for %" PRIu64 " s", authed, hold);
        sleep((unsigned)hold);
    }
    uint64_t rss1 = s_edges_rss(b), held = rc == 0 ? s_still_held(b) : 0;
    printf("{\"connections\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"held_after_hold\":%" PRIu64
           ",\"edge_procs\":%u,"
           "\"edge_rss_bytes\":%" PRIu64 ",\"edge_rss_idle_bytes\":%" PRIu64
           ",\"bytes_per_conn\":%" PRIu64 ",\"connect_per_s\":%.0f}\n",
           authed, failed, held, b->edges, rss1, rss0, authed ? (rss1 - rss0) / authed : 0,
           (double)authed / ((double)(t1 - t0) / 1e9));
    s_stop(b);
    free(b);
    return rc;
}
