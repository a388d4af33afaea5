/* tests/unit/test_node_threads.c — the node with real worker threads (also run under
 * ThreadSanitizer): cross-worker ordering per sender, request/response ping-pong between
 * workers, and a clean stop with work still queued. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/node.h"

enum { MSG_GO = 1, MSG_SEQ, MSG_PING, MSG_PONG };
enum { SENDERS = 4, PER_SENDER = 20000, PINGPONG_ROUNDS = 2000 };

static _Atomic int g_received, g_out_of_order, g_rounds_done;

typedef struct {
    uint64_t next[SENDERS];
} sink_t;

static int sink_activate(roost_ctx_t *ctx, void **state)
{
    (void)ctx;
    *state = calloc(1, sizeof(sink_t));
    return 0;
}

static void free_state(roost_ctx_t *ctx, void *state)
{
    (void)ctx;
    free(state);
}

static void sink_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)ctx;
    sink_t *s = state;
    uint64_t v[2];
    memcpy(v, env->payload, sizeof v);
    if (v[1] != s->next[v[0]] + 1)
        atomic_fetch_add(&g_out_of_order, 1);
    s->next[v[0]] = v[1];
    atomic_fetch_add(&g_received, 1);
}

static void src_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    uint64_t who;
    memcpy(&who, env->payload, sizeof who);
    for (uint64_t i = 1; i <= PER_SENDER; i++) {
        uint64_t v[2] = {who, i};
        assert_int_equal(roost_ctx_send(ctx, "sink:1", MSG_SEQ, v, sizeof v), 0);
    }
}

typedef struct {
    int rounds;
} pinger_t;

static int pinger_activate(roost_ctx_t *ctx, void **state)
{
    (void)ctx;
    *state = calloc(1, sizeof(pinger_t));
    return 0;
}

static void pinger_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    pinger_t *p = state;
    if (env->flags & ROOST_ENV_RESPONSE) {
        assert_false(env->flags & ROOST_ENV_ERROR);
        if (++p->rounds == PINGPONG_ROUNDS) {
            atomic_fetch_add(&g_rounds_done, 1);
            return;
        }
    }
    roost_ctx_request(ctx, "ponger:x", MSG_PING, NULL, 0, 0, NULL);
}

static void ponger_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    roost_ctx_reply(ctx, env, MSG_PONG, NULL, 0);
}

static const roost_behaviour_t sink_beh = {.kind = "sink",
                                           .on_activate = sink_activate,
                                           .on_message = sink_message,
                                           .on_passivate = free_state};
static const roost_behaviour_t src_beh = {.kind = "src", .on_message = src_message};
static const roost_behaviour_t pinger_beh = {.kind = "pinger",
                                             .on_activate = pinger_activate,
                                             .on_message = pinger_message,
                                             .on_passivate = free_state};
static const roost_behaviour_t ponger_beh = {.kind = "ponger", .on_message = ponger_message};

/* "tell" actors say goodbye to a sink when passivated: at teardown those sends must go
 * nowhere rather than into actors the teardown has already freed. */
static void tell_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)ctx, (void)state, (void)env;
}

static void tell_passivate(roost_ctx_t *ctx, void *state)
{
    (void)state;
    char key[32];
    snprintf(key, sizeof key, "sink:%s", roost_ctx_self(ctx) + 5);
    uint64_t v[2] = {0, 0};
    roost_ctx_send(ctx, key, MSG_SEQ, v, sizeof v);
}

static const roost_behaviour_t tell_beh = {
    .kind = "tell", .on_message = tell_message, .on_passivate = tell_passivate};

/* "say" actors write one log line per message. */
static _Atomic int g_said;

static void say_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)ctx, (void)state, (void)env;
    ROOST_WARN("test", "said", "n=%d", 1);
    atomic_fetch_add(&g_said, 1);
}

static const roost_behaviour_t say_beh = {.kind = "say", .on_message = say_message};

static roost_node_t *s_node(void)
{
    roost_node_config_t cfg = {.node_id = 1, .workers = 2, .partitions = 256};
    roost_node_t *n = roost_node_new(&cfg);
    assert_non_null(n);
    assert_int_equal(roost_node_register(n, &sink_beh), 0);
    assert_int_equal(roost_node_register(n, &src_beh), 0);
    assert_int_equal(roost_node_register(n, &pinger_beh), 0);
    assert_int_equal(roost_node_register(n, &ponger_beh), 0);
    assert_int_equal(roost_node_register(n, &tell_beh), 0);
    assert_int_equal(roost_node_register(n, &say_beh), 0);
    return n;
}

/* Waits (bounded: 60 s) until *counter reaches want. */
static bool s_wait_for(_Atomic int *counter, int want)
{
    struct timespec pause = {0, 1000000};
    for (int i = 0; i < 60000; i++) {
        if (atomic_load(counter) >= want)
            return true;
        nanosleep(&pause, NULL);
    }
    return false;
}

static void test_each_senders_order_holds_across_workers(void **state)
{
    (void)state;
    atomic_store(&g_received, 0);
    atomic_store(&g_out_of_order, 0);
    roost_node_t *n = s_node();
    assert_int_equal(roost_node_start(n), 0);
    for (uint64_t who = 0; who < SENDERS; who++) {
        char key[16];
        snprintf(key, sizeof key, "src:%d", (int)who);
        roost_node_send(n, roost_env_new(key, NULL, MSG_GO, &who, sizeof who));
    }
    assert_true(s_wait_for(&g_received, SENDERS * PER_SENDER));
    assert_int_equal(atomic_load(&g_out_of_order), 0);
    roost_node_stop(n);
    roost_node_stats_t st;
    roost_node_stats(n, &st);
    assert_int_equal(st.messages, SENDERS + SENDERS * PER_SENDER);
    roost_node_destroy(&n);
}

static void test_requests_and_responses_cross_workers(void **state)
{
    (void)state;
    atomic_store(&g_rounds_done, 0);
    roost_node_t *n = s_node();
    assert_int_equal(roost_node_start(n), 0);
    for (int i = 0; i < 8; i++) {
        char key[16];
        snprintf(key, sizeof key, "pinger:%d", i);
        roost_node_send(n, roost_env_new(key, NULL, MSG_GO, NULL, 0));
    }
    assert_true(s_wait_for(&g_rounds_done, 8));
    roost_node_destroy(&n);
}

/* In a process that named no node (tests, benchmarks: several nodes in one process), a
 * worker's log lines say which node it belongs to. */
static void test_a_workers_log_lines_name_its_node(void **state)
{
    (void)state;
    char path[] = "/tmp/roost-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    atomic_store(&g_said, 0);
    roost_node_t *n = s_node();
    assert_int_equal(roost_node_start(n), 0);
    roost_node_send(n, roost_env_new("say:1", NULL, MSG_GO, NULL, 0));
    bool said = s_wait_for(&g_said, 1);
    roost_node_destroy(&n);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    char buf[4096] = "";
    ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    unlink(path);
    assert_true(said);
    assert_true(got > 0);
    assert_non_null(strstr(buf, "node=n1 comp=test msg=\"said\""));
}

static void test_stop_with_work_queued_is_clean(void **state)
{
    (void)state;
    roost_node_t *n = s_node();
    assert_int_equal(roost_node_start(n), 0);
    for (uint64_t who = 0; who < SENDERS; who++)
        roost_node_send(n, roost_env_new("src:q", NULL, MSG_GO, &who, sizeof who));
    roost_node_destroy(&n); /* LeakSanitizer checks that queued envelopes were freed */
    assert_null(n);
}

/* Teardown with actors still ready (mail queued) while others' on_passivate sends to them:
 * the sends are dropped, nothing touches a freed actor (ASan), nothing leaks (LSan). */
static void test_teardown_drops_what_passivation_sends(void **state)
{
    (void)state;
    roost_node_t *n = s_node();
    assert_int_equal(roost_node_start(n), 0);
    enum { ACTORS = 300 };
    for (int i = 0; i < ACTORS; i++) {
        char key[32];
        snprintf(key, sizeof key, "tell:%d", i);
        roost_node_send(n, roost_env_new(key, NULL, MSG_GO, NULL, 0));
    }
    roost_node_stats_t st;
    for (int i = 0; i < 5000; i++) { /* every tell actor active */
        roost_node_stats(n, &st);
        if (st.messages >= ACTORS)
            break;
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    for (int k = 0; k < 20; k++) /* the sinks get mail: ready, many of them, at the stop */
        for (int i = 0; i < ACTORS; i++) {
            char key[32];
            snprintf(key, sizeof key, "sink:%d", i);
            uint64_t v[2] = {0, (uint64_t)k + 1};
            roost_node_send(n, roost_env_new(key, NULL, MSG_SEQ, v, sizeof v));
        }
    roost_node_destroy(&n);
    assert_null(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_senders_order_holds_across_workers),
        cmocka_unit_test(test_requests_and_responses_cross_workers),
        cmocka_unit_test(test_a_workers_log_lines_name_its_node),
        cmocka_unit_test(test_stop_with_work_queued_is_clean),
        cmocka_unit_test(test_teardown_drops_what_passivation_sends),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
