/* tests/integration/test_control.c — the control plane's Raft group as 3 real processes.
 *
 * Spawns three control_node processes (path in $ROOST_CONTROL_NODE) on free 127.0.0.1 ports
 * with data dirs under one mkdtemp dir, and runs one scenario, in order:
 *   1. a leader is elected and the initial map is committed on all three;
 *   2. kill -9 of the leader: a survivor becomes leader within seconds, and `down <old leader>`
 *      sent to the survivors commits a new epoch for exactly the dead node's partitions;
 *   3. kill -9 of a second node: the lone survivor (a minority) cannot commit anything;
 *   4. every node saw the same sequence of (version, digest); the survivor exits cleanly.
 * Only pids this file started are signalled; every wait is bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/clock.h"

enum {
    NODES = 3,
    LINES_MAX = 256, /* map lines kept per node: the scenario commits a handful */
    LINE_BYTES = 512,
    BUF_BYTES = 8192,
    POLL_SLICE_MS = 50,
    ELECT_WAIT_MS = 15000,    /* first election and the initial map, slow under sanitizers */
    FAILOVER_WAIT_MS = 10000, /* election timeout is 500 ms; "a few seconds" with margin */
    MINORITY_WAIT_MS = 3000,  /* six election timeouts: ample time to commit if it could */
    EXIT_WAIT_MS = 10000,
    RESEND_MS = 300,
};

typedef struct {
    uint64_t version, digest, esum;
    uint32_t leader;
    char down[64];
    uint32_t prim[NODES + 1]; /* by member id */
} map_line_t;

typedef struct {
    pid_t pid;
    bool alive;
    int in_fd, out_fd;
    char buf[BUF_BYTES];
    size_t buf_len;
    map_line_t lines[LINES_MAX];
    uint32_t n_lines;
    char status[LINE_BYTES]; /* last "status" line */
    bool has_status;
} child_t;

typedef struct {
    char dir[64];
    uint16_t ports[NODES];
    child_t nodes[NODES]; /* nodes[i] has member id i + 1 */
    uint32_t first_leader, second_leader;
} world_t;

static uint64_t s_now_ms(void)
{
    return roost_clock_now_ms(roost_clock_real());
}

/* ------------------------------------------------------------------ processes */

static void s_free_ports(uint16_t *ports)
{
    int fds[NODES];
    for (int i = 0; i < NODES; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof a;
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        assert_true(fds[i] >= 0);
        assert_int_equal(bind(fds[i], (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(getsockname(fds[i], (struct sockaddr *)&a, &len), 0);
        ports[i] = ntohs(a.sin_port);
    }
    for (int i = 0; i < NODES; i++)
        close(fds[i]);
}

static void s_spawn(world_t *w, int i, const char *binary)
{
    char id[16], data[128], voters[256], log[128];
    snprintf(id, sizeof id, "%d", i + 1);
    snprintf(data, sizeof data, "%s/node-%d", w->dir, i + 1);
    snprintf(log, sizeof log, "%s/node-%d.log", w->dir, i + 1);
    snprintf(voters, sizeof voters, "1=127.0.0.1:%u,2=127.0.0.1:%u,3=127.0.0.1:%u", w->ports[0],
             w->ports[1], w->ports[2]);
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int err = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        if (err >= 0)
            dup2(err, STDERR_FILENO);
        close(in[1]);
        close(out[0]);
        execl(binary, binary, "--id", id, "--data", data, "--voters", voters, "--heartbeat-ms",
              "50", "--election-ms", "500", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    child_t *c = &w->nodes[i];
    c->pid = pid;
    c->alive = true;
    c->in_fd = in[1];
    c->out_fd = out[0];
}

static void s_send(child_t *c, const char *line)
{
    if (!c->alive)
        return;
    ssize_t n = write(c->in_fd, line, strlen(line));
    (void)n; /* a child that just died is noticed by its wait */
}

/* SIGKILLs a child this test started and reaps it. */
static void s_kill(child_t *c)
{
    assert_true(c->alive && c->pid > 0);
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
    c->alive = false;
    close(c->in_fd);
}

/* ------------------------------------------------------------------ output parsing */

static void s_parse_prim(const char *s, map_line_t *m)
{
    unsigned id, count;
    int used;
    while (sscanf(s, "%u:%u%n", &id, &count, &used) == 2) {
        if (id >= 1 && id <= NODES)
            m->prim[id] = count;
        s += used;
        if (*s != ',')
            break;
        s++;
    }
}

static void s_parse_line(child_t *c, const char *line)
{
    if (strncmp(line, "status ", 7) == 0) {
        snprintf(c->status, sizeof c->status, "%s", line);
        c->has_status = true;
        return;
    }
    map_line_t m = {0};
    unsigned long long v, d, e;
    char prim[LINE_BYTES];
    if (sscanf(line, "map version=%llu digest=%llx leader=%u down=%63s prim=%511s esum=%llu", &v,
               &d, &m.leader, m.down, prim, &e) != 6)
        return;
    m.version = v;
    m.digest = d;
    m.esum = e;
    s_parse_prim(prim, &m);
    assert_true(c->n_lines < LINES_MAX);
    c->lines[c->n_lines++] = m;
}

static void s_read_child(child_t *c)
{
    for (;;) {
        ssize_t n = read(c->out_fd, c->buf + c->buf_len, sizeof c->buf - 1 - c->buf_len);
        if (n <= 0)
            return;
        c->buf_len += (size_t)n;
        c->buf[c->buf_len] = '\0';
        char *start = c->buf, *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            s_parse_line(c, start);
            start = nl + 1;
        }
        c->buf_len -= (size_t)(start - c->buf);
        memmove(c->buf, start, c->buf_len);
    }
}

/* Reads whatever the children printed, waiting at most POLL_SLICE_MS. */
static void s_pump(world_t *w)
{
    struct pollfd fds[NODES];
    for (int i = 0; i < NODES; i++)
        fds[i] = (struct pollfd){.fd = w->nodes[i].out_fd, .events = POLLIN};
    if (poll(fds, NODES, POLL_SLICE_MS) > 0)
        for (int i = 0; i < NODES; i++)
            s_read_child(&w->nodes[i]);
}

typedef bool (*pred_fn)(world_t *w, void *arg);

/* Pumps output until pred holds or timeout_ms passes; returns pred's last value. */
static bool s_wait_for(world_t *w, pred_fn pred, void *arg, uint64_t timeout_ms)
{
    uint64_t deadline = s_now_ms() + timeout_ms;
    while (!pred(w, arg)) {
        if (s_now_ms() >= deadline)
            return false;
        s_pump(w);
    }
    return true;
}

static const map_line_t *s_last(const child_t *c)
{
    return c->n_lines ? &c->lines[c->n_lines - 1] : NULL;
}

/* ------------------------------------------------------------------ predicates */

static bool s_all_alive_agree(world_t *w, void *arg)
{
    (void)arg;
    const map_line_t *ref = NULL;
    for (int i = 0; i < NODES; i++) {
        const map_line_t *m = s_last(&w->nodes[i]);
        if (!w->nodes[i].alive)
            continue;
        if (m == NULL || m->leader == 0)
            return false;
        if (ref &&
            (m->version != ref->version || m->digest != ref->digest || m->leader != ref->leader))
            return false;
        ref = m;
    }
    return ref != NULL;
}

typedef struct {
    uint32_t down_id;
} down_arg_t;

/* Every live node's latest map marks down_id DOWN; resends the command meanwhile. */
static bool s_down_committed(world_t *w, void *arg)
{
    down_arg_t *d = arg;
    char want[16], cmd[32];
    snprintf(want, sizeof want, "%u", d->down_id);
    snprintf(cmd, sizeof cmd, "down %u\n", d->down_id);
    bool all = true;
    for (int i = 0; i < NODES; i++) {
        const map_line_t *m = s_last(&w->nodes[i]);
        if (w->nodes[i].alive && (m == NULL || strstr(m->down, want) == NULL))
            all = false;
    }
    static uint64_t last_sent;
    if (!all && s_now_ms() - last_sent >= RESEND_MS) {
        for (int i = 0; i < NODES; i++)
            s_send(&w->nodes[i], cmd);
        last_sent = s_now_ms();
    }
    return all;
}

static bool s_status_seen(world_t *w, void *arg)
{
    return ((child_t *)arg)->has_status;
}

/* Asks a child for a status line; returns its dropped count (the line stays in c->status). */
static unsigned long long s_query_dropped(world_t *w, child_t *c)
{
    c->has_status = false;
    s_send(c, "status\n");
    assert_true(s_wait_for(w, s_status_seen, c, EXIT_WAIT_MS));
    const char *d = strstr(c->status, "dropped=");
    assert_non_null(d);
    return strtoull(d + strlen("dropped="), NULL, 10);
}

/* ------------------------------------------------------------------ scenario */

static int s_setup(void **state)
{
    static world_t world;
    const char *binary = getenv("ROOST_CONTROL_NODE");
    if (binary == NULL || access(binary, X_OK) != 0) {
        fprintf(stderr, "ROOST_CONTROL_NODE must name the control_node binary\n");
        return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(world.dir, sizeof world.dir, "/tmp/roost-control-XXXXXX");
    if (mkdtemp(world.dir) == NULL)
        return -1;
    s_free_ports(world.ports);
    for (int i = 0; i < NODES; i++)
        s_spawn(&world, i, binary);
    *state = &world;
    return 0;
}

static int s_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int s_teardown(void **state)
{
    world_t *w = *state;
    for (int i = 0; i < NODES; i++)
        if (w->nodes[i].alive)
            s_kill(&w->nodes[i]); /* only reached when a test failed midway */
    nftw(w->dir, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static void test_leader_is_elected_and_initial_map_commits_on_all(void **state)
{
    world_t *w = *state;
    assert_true(s_wait_for(w, s_all_alive_agree, NULL, ELECT_WAIT_MS));
    const map_line_t *m = s_last(&w->nodes[0]);
    assert_true(m->leader >= 1 && m->leader <= NODES);
    assert_string_equal(m->down, "-");
    uint32_t total = 0;
    for (int id = 1; id <= NODES; id++) {
        assert_true(m->prim[id] > 0); /* every member is preferred primary of some partitions */
        total += m->prim[id];
    }
    assert_int_equal(total, 1024);
    assert_int_equal(m->esum, 1024); /* the first SET_MEMBERS: every partition at epoch 1 */
    w->first_leader = m->leader;
}

static void test_killed_leader_is_replaced_and_down_commits_new_epochs(void **state)
{
    world_t *w = *state;
    uint32_t dead = w->first_leader;
    assert_true(dead != 0);
    map_line_t before = *s_last(&w->nodes[dead - 1]);
    uint64_t killed_at = s_now_ms();
    s_kill(&w->nodes[dead - 1]);

    down_arg_t arg = {.down_id = dead};
    assert_true(s_wait_for(w, s_down_committed, &arg, FAILOVER_WAIT_MS));
    assert_true(s_now_ms() - killed_at < FAILOVER_WAIT_MS);
    assert_true(s_wait_for(w, s_all_alive_agree, NULL, FAILOVER_WAIT_MS));
    const map_line_t *after = NULL;
    for (int i = 0; i < NODES; i++)
        if (w->nodes[i].alive)
            after = s_last(&w->nodes[i]);
    assert_non_null(after);
    assert_int_not_equal(after->leader, dead);
    assert_true(after->version > before.version);
    /* Exactly the dead node's partitions moved, each with epoch + 1. */
    assert_int_equal(after->prim[dead], 0);
    assert_int_equal(after->esum, before.esum + before.prim[dead]);
    for (int id = 1; id <= NODES; id++)
        if ((uint32_t)id != dead)
            assert_true(after->prim[id] >= before.prim[id]);
    w->second_leader = after->leader;
}

static void test_lone_survivor_cannot_commit(void **state)
{
    world_t *w = *state;
    assert_true(w->second_leader != 0);
    int other = -1;
    for (int i = 0; i < NODES; i++)
        if (w->nodes[i].alive && (uint32_t)(i + 1) != w->second_leader)
            other = i;
    assert_true(other >= 0);
    child_t *survivor = &w->nodes[w->second_leader - 1];
    uint32_t before = survivor->n_lines;
    unsigned long long dropped_before = s_query_dropped(w, survivor);
    assert_non_null(strstr(survivor->status, "is_leader=1"));
    s_kill(&w->nodes[other]);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "down %d\nup %u\n", other + 1, w->first_leader);
    s_send(survivor, cmd); /* it still believes it leads: it proposes, nothing may commit */
    uint64_t deadline = s_now_ms() + MINORITY_WAIT_MS;
    while (s_now_ms() < deadline)
        s_pump(w);
    assert_int_equal(survivor->n_lines, before);
    unsigned long long dropped_after = s_query_dropped(w, survivor);
    assert_true(dropped_after - dropped_before < 2); /* at least one reached raft_apply */
    char want[64];
    snprintf(want, sizeof want, "version=%llu ",
             (unsigned long long)survivor->lines[before - 1].version);
    assert_non_null(strstr(survivor->status, want));
}

static void test_every_node_saw_the_same_map_sequence(void **state)
{
    world_t *w = *state;
    for (int a = 0; a < NODES; a++) {
        const child_t *ca = &w->nodes[a];
        assert_true(ca->n_lines > 0);
        for (uint32_t k = 1; k < ca->n_lines; k++)
            assert_true(ca->lines[k].version > ca->lines[k - 1].version);
        for (int b = a + 1; b < NODES; b++) {
            const child_t *cb = &w->nodes[b];
            uint32_t common = ca->n_lines < cb->n_lines ? ca->n_lines : cb->n_lines;
            for (uint32_t k = 0; k < common; k++) {
                assert_int_equal(ca->lines[k].version, cb->lines[k].version);
                assert_int_equal(ca->lines[k].digest, cb->lines[k].digest);
            }
        }
    }
}

static void test_survivor_shuts_down_cleanly(void **state)
{
    world_t *w = *state;
    for (int i = 0; i < NODES; i++) {
        child_t *c = &w->nodes[i];
        if (!c->alive)
            continue;
        s_send(c, "quit\n");
        int status = -1;
        uint64_t deadline = s_now_ms() + EXIT_WAIT_MS;
        pid_t got = 0;
        while (got == 0 && s_now_ms() < deadline) {
            got = waitpid(c->pid, &status, WNOHANG);
            if (got == 0)
                s_pump(w);
        }
        assert_int_equal(got, c->pid); /* else teardown SIGKILLs it */
        c->alive = false;
        close(c->in_fd);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0); /* LeakSanitizer would make this non-zero */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leader_is_elected_and_initial_map_commits_on_all),
        cmocka_unit_test(test_killed_leader_is_replaced_and_down_commits_new_epochs),
        cmocka_unit_test(test_lone_survivor_cannot_commit),
        cmocka_unit_test(test_every_node_saw_the_same_map_sequence),
        cmocka_unit_test(test_survivor_shuts_down_cleanly),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
