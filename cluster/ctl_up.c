/* cluster/ctl_up.c — `roostctl up MANIFEST`: starts every node of the manifest that lives on
 * this host (one roostd process each), prints a row per node as it becomes ready, and stops
 * them all on SIGINT/SIGTERM. A taken port or a bad manifest fails at once with the reason. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster/children.h"
#include "cluster/ctl.h"
#include "cluster/curve_keys.h"
#include "cluster/edge_setup.h"
#include "runtime/errors.h"

enum { READY_WAIT_MS = 15000, STOP_WAIT_MS = 10000 };

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

/* True for loopback names and for any IPv4 address of this machine's interfaces: the nodes
 * `up` starts here. */
static bool s_is_local(const char *host)
{
    if (strncmp(host, "127.", 4) == 0 || strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
        return true;
    struct ifaddrs *ifs = NULL;
    bool local = false;
    if (getifaddrs(&ifs) != 0)
        return false;
    for (struct ifaddrs *i = ifs; i && !local; i = i->ifa_next) {
        char addr[INET_ADDRSTRLEN];
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, addr, sizeof addr))
            local = strcmp(addr, host) == 0;
    }
    freeifaddrs(ifs);
    return local;
}

static struct sockaddr_in s_addr(const char *host, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host, &a.sin_addr);
    return a;
}

/* 0 if host:port can be bound now (probe socket closed again), else errno. */
static int s_port_free(const char *host, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = s_addr(host, port);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = bind(fd, (struct sockaddr *)&a, sizeof a) == 0 ? 0 : errno;
    close(fd);
    return rc;
}

static bool s_port_open(const char *host, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = s_addr(host, port);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static int s_check_ports(const manifest_t *m)
{
    for (uint32_t i = 0; i < m->n_nodes; i++) {
        const manifest_node_t *n = &m->nodes[i];
        const uint16_t ports[] = {n->peer_port, n->raft_port, n->admin_port, n->client_port,
                                  n->metrics_port};
        for (int k = 0; k < 5 && s_is_local(n->host); k++) {
            int err = ports[k] ? s_port_free(n->host, ports[k]) : 0;
            if (err) {
                fprintf(stderr, "roostctl up: %s: port %s:%u is not free: %s\n", n->name, n->host,
                        ports[k], strerror(err));
                return -1;
            }
        }
    }
    return 0;
}

static pid_t s_spawn(const char *roostd, const char *manifest, const manifest_node_t *n,
                     const char *data_root)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    const char *argv[10] = {roostd, "--manifest", manifest, "--node", n->name, NULL};
    if (data_root) {
        argv[5] = "--data-root";
        argv[6] = data_root;
        argv[7] = NULL;
    }
    execv(roostd, (char *const *)argv);
    fprintf(stderr, "roostctl up: cannot run %s: %s\n", roostd, strerror(errno));
    _exit(127);
}

static void s_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits (bounded) for each started node's peer port to accept connections. */
static int s_wait_ready(const manifest_t *m, const pid_t *pids)
{
    printf("%-12s %-6s %-8s %s\n", "NODE", "ROLE", "PID", "PEER");
    fflush(stdout);
    for (uint32_t i = 0; i < m->n_nodes; i++) {
        const manifest_node_t *n = &m->nodes[i];
        if (!pids[i])
            continue;
        int waited = 0;
        while (!s_port_open(n->host, n->peer_port) && waited < READY_WAIT_MS && !s_stop) {
            if (waitpid(pids[i], NULL, WNOHANG) == pids[i]) {
                fprintf(stderr, "roostctl up: %s exited during start-up\n", n->name);
                return -1;
            }
            s_sleep_ms(50);
            waited += 50;
        }
        if (waited >= READY_WAIT_MS) {
            fprintf(stderr, "roostctl up: %s not ready after %d ms\n", n->name, READY_WAIT_MS);
            return -1;
        }
        printf("%-12s %-6s %-8d tcp://%s:%u\n", n->name,
               (n->roles & ROLE_SHARD) ? ((n->roles & ROLE_EDGE) ? "both" : "shard") : "edge",
               (int)pids[i], n->host, n->peer_port);
        fflush(stdout);
    }
    return 0;
}

/* Names a node that had to be killed (children_killed_fn). */
static void s_name_killed(size_t i, pid_t pid, void *arg)
{
    const manifest_t *m = arg;
    fprintf(stderr, "roostctl up: %s (pid %d) did not stop within %d ms of SIGTERM: killed\n",
            m->nodes[i].name, (int)pid, STOP_WAIT_MS);
}

/* SIGTERM to every child we started, then wait (bounded; SIGKILL after STOP_WAIT_MS). */
static void s_stop_all(const manifest_t *m, pid_t *pids)
{
    children_stop(pids, m->n_nodes, STOP_WAIT_MS, s_name_killed, (void *)m);
}

/* Runs until a signal, or until a node fails (exits non-zero or is killed). A node that
 * exits cleanly on its own — a drained edge — leaves the others running. */
static int s_supervise(const manifest_t *m, pid_t *pids)
{
    while (!s_stop) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        bool any = false;
        for (uint32_t i = 0; i < m->n_nodes; i++) {
            if (pid > 0 && pids[i] == pid) {
                pids[i] = 0;
                if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                    printf("roostctl up: %s (pid %d) exited cleanly (drained); the others keep "
                           "running\n",
                           m->nodes[i].name, (int)pid);
                    fflush(stdout);
                    continue;
                }
                fprintf(stderr, "roostctl up: %s (pid %d) exited (status %d); stopping all\n",
                        m->nodes[i].name, (int)pid, status);
                return 1;
            }
            any |= pids[i] > 0;
        }
        if (!any)
            return 0;
        s_sleep_ms(100);
    }
    return 0;
}

/* Creates the missing HS256 key files the manifest marks `generate: true` (development): 32
 * random bytes, base64, mode 0600. */
static int s_generate_keys(const manifest_t *m, const char *root)
{
    for (uint32_t i = 0; i < m->auth.n_jwt_keys; i++) {
        const manifest_jwt_key_t *k = &m->auth.jwt_keys[i];
        char path[PATH_MAX];
        if (!k->generate || edge_path(root, k->file, path, sizeof path) != ROOST_OK ||
            access(path, F_OK) == 0)
            continue;
        uint8_t secret[32];
        char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
        randombytes_buf(secret, sizeof secret);
        sodium_bin2base64(b64, sizeof b64, secret, sizeof secret, sodium_base64_VARIANT_ORIGINAL);
        char *slash = strrchr(path, '/');
        if (slash) { /* its directory, one level, as the data dirs */
            *slash = '\0';
            mkdir(path, 0700);
            *slash = '/';
        }
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        bool ok = fd >= 0 && write(fd, b64, strlen(b64)) == (ssize_t)strlen(b64);
        if (fd >= 0)
            close(fd);
        if (!ok) {
            fprintf(stderr, "roostctl up: auth.jwt_keys[%u]: cannot create %s: %s\n", i, path,
                    strerror(errno));
            return -1;
        }
        printf("roostctl up: generated access-token key %s (kid %s)\n", path, k->kid);
    }
    return 0;
}

/* security.generate_keys (development): a CURVE certificate for every local node and every
 * operator with a cert path that lacks one. */
static int s_generate_certs(const manifest_t *m, const char *root)
{
    if (!m->security.curve || !m->security.generate_keys)
        return 0;
    for (uint32_t i = 0; i < m->n_nodes + m->security.n_operators; i++) {
        bool node = i < m->n_nodes;
        const char *cert =
            node ? m->nodes[i].curve_cert : m->security.operators[i - m->n_nodes].cert;
        const char *who = node ? m->nodes[i].name : m->security.operators[i - m->n_nodes].name;
        if (!cert[0] || (node && !s_is_local(m->nodes[i].host)))
            continue;
        char err[512] = "";
        bool made = false;
        if (curve_generate(root, cert, &made, err, sizeof err) != 0) {
            fprintf(stderr, "roostctl up: %s: %s\n", who, err);
            return -1;
        }
        if (made)
            printf("roostctl up: generated CURVE certificate %s for %s\n", cert, who);
    }
    return 0;
}

int ctl_up(const ctl_opts_t *o)
{
    manifest_t *m = ctl_load_manifest(o);
    if (!m)
        return 2;
    if (s_check_ports(m) != 0 || s_generate_keys(m, o->data_dir) != 0 ||
        s_generate_certs(m, o->data_dir) != 0) {
        free(m);
        return 1;
    }
    char roostd[PATH_MAX];
    ctl_sibling_path("roostd", roostd, sizeof roostd);
    struct sigaction sa = {.sa_handler = s_on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    pid_t pids[ROOST_NODES_MAX] = {0};
    for (uint32_t i = 0; i < m->n_nodes; i++)
        if (s_is_local(m->nodes[i].host))
            pids[i] = s_spawn(roostd, o->manifest, &m->nodes[i], o->data_dir);
    int rc = s_wait_ready(m, pids) == 0 ? s_supervise(m, pids) : 1;
    s_stop_all(m, pids);
    if (rc == 0)
        printf("roostctl up: all nodes stopped\n");
    free(m);
    return rc;
}
