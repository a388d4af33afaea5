/* tests/unit/test_actor.c — virtual actors on a node driven by roost_node_poll and a fake
 * clock: activation, passivation, ordering, timers, requests, unknown kinds, fairness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/errors.h"
#include "runtime/limits.h"
#include "runtime/node.h"
#include "tests/support/fake_clock.h"

enum {
    MSG_PING = 1,
    MSG_PONG,
    MSG_SEQ,
    MSG_ASK,
    MSG_START_TIMER,
    MSG_START_TIMER_NOW,
    MSG_CANCEL_TIMER,
    MSG_STOP,
    MSG_ASK_NOBODY,
    MSG_SEND_UNKNOWN
};

/* What the test behaviour saw (one process-wide record: tests run one at a time). */
static struct {
    int activations, passivations, messages, timer_fires, responses, timeouts, errors;
    int last_error;
    uint64_t last_timer;
    uint64_t seq_seen[8];
    int seq_bad;
    char order[256];
    int order_len;
} g;

typedef struct {
    int count;
} tstate_t;

static int t_activate(roost_ctx_t *ctx, void **state)
{
    (void)ctx;
    *state = calloc(1, sizeof(tstate_t));
    g.activations++;
    return 0;
}

static void t_passivate(roost_ctx_t *ctx, void *state)
{
    (void)ctx;
    free(state);
    g.passivations++;
}

static void t_on_response(const roost_env_t *env)
{
    if (env->flags & ROOST_ENV_ERROR) {
        g.errors++;
        g.last_error = env->status;
        if (env->status == ROOST_ETIMEDOUT)
            g.timeouts++;
    } else {
        g.responses++;
    }
}

static void t_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    tstate_t *s = state;
    s->count++;
    g.messages++;
    if (env->flags & ROOST_ENV_RESPONSE) {
        t_on_response(env);
        return;
    }
    uint64_t v = 0;
    if (env->payload_len == sizeof v)
        memcpy(&v, env->payload, sizeof v);
    switch (env->type) {
    case MSG_PING:
        roost_ctx_reply(ctx, env, MSG_PONG, NULL, 0);
        break;
    case MSG_SEQ: { /* payload: sender index (high 8 bits) | sequence number */
        uint64_t who = v >> 56, n = v & 0xFFFFFFFFFFFFFFu;
        if (n != g.seq_seen[who] + 1)
            g.seq_bad++;
        g.seq_seen[who] = n;
        if (g.order_len < 255)
            g.order[g.order_len++] = roost_ctx_self(ctx)[2];
        break;
    }
    case MSG_ASK:
        roost_ctx_request(ctx, "t:responder", MSG_PING, NULL, 0, 1000, NULL);
        break;
    case MSG_ASK_NOBODY: /* the target never answers: kind "mute" swallows everything */
        roost_ctx_request(ctx, "mute:1", MSG_PING, NULL, 0, 1000, NULL);
        break;
    case MSG_SEND_UNKNOWN:
        roost_ctx_send(ctx, "nokind:1", MSG_PING, NULL, 0);
        break;
    case MSG_START_TIMER:
        g.last_timer = roost_ctx_timer_start(ctx, 100, v, 7);
        break;
    case MSG_START_TIMER_NOW: /* zero delay: "once this pass's turns are over" */
        g.last_timer = roost_ctx_timer_start(ctx, 0, 0, 7);
        break;
    case MSG_CANCEL_TIMER:
        assert_true(roost_ctx_timer_cancel(ctx, g.last_timer));
        assert_false(roost_ctx_timer_cancel(ctx, g.last_timer));
        break;
    case MSG_STOP:
        roost_ctx_passivate(ctx);
        break;
    }
}

static void t_timer(roost_ctx_t *ctx, void *state, uint64_t id, uint64_t tag)
{
    (void)ctx;
    (void)state;
    assert_int_equal(tag, 7);
    assert_int_equal(id, g.last_timer);
    g.timer_fires++;
}

static void mute_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)ctx, (void)state, (void)env;
}

static const roost_behaviour_t t_beh = {.kind = "t",
                                        .on_activate = t_activate,
                                        .on_message = t_message,
                                        .on_timer = t_timer,
                                        .on_passivate = t_passivate};
static const roost_behaviour_t mute_beh = {.kind = "mute", .on_message = mute_message};

static void local_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state, (void)env;
    g.messages++;
    g.last_timer = roost_ctx_partition(ctx); /* reuse a slot: the partition it ran in */
    assert_int_equal(roost_ctx_node_id(ctx), 1);
    assert_ptr_equal(roost_ctx_service(ctx, "answer"), &g);
}
static const roost_behaviour_t local_beh = {.kind = "@probe", .on_message = local_message};

typedef struct {
    fake_clock_t clock;
    roost_node_t *node;
} fixture_t;

static int setup(void **state)
{
    memset(&g, 0, sizeof g);
    fixture_t *f = calloc(1, sizeof *f);
    fake_clock_init(&f->clock, 1000000000u);
    roost_node_config_t cfg = {.node_id = 1,
                               .workers = 2,
                               .partitions = 64,
                               .passivate_after_ms = 1000,
                               .clock = &f->clock.base,
                               .seed = 1};
    f->node = roost_node_new(&cfg);
    assert_non_null(f->node);
    assert_int_equal(roost_node_register(f->node, &t_beh), 0);
    assert_int_equal(roost_node_register(f->node, &mute_beh), 0);
    assert_int_equal(roost_node_register(f->node, &local_beh), 0);
    assert_int_equal(roost_node_set_service(f->node, "answer", &g), 0);
    assert_int_equal(roost_node_set_service(f->node, "answer", NULL), ROOST_EEXIST);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    roost_node_destroy(&f->node);
    assert_null(f->node);
    free(f);
    return 0;
}

static void s_send(fixture_t *f, const char *to, uint32_t type, uint64_t v)
{
    roost_env_t *env = roost_env_new(to, NULL, type, &v, sizeof v);
    assert_int_equal(roost_node_send(f->node, env), 0);
}

static void s_drain(fixture_t *f)
{
    for (int i = 0; i < 10000 && roost_node_poll(f->node); i++)
        ;
}

static void test_first_message_activates_the_actor(void **state)
{
    fixture_t *f = *state;
    s_send(f, "t:1", MSG_SEQ, 1);
    s_send(f, "t:1", MSG_SEQ, 2);
    s_drain(f);
    assert_int_equal(g.activations, 1);
    assert_int_equal(g.messages, 2);
    roost_node_stats_t st;
    roost_node_stats(f->node, &st);
    assert_int_equal(st.actors_active, 1);
    assert_int_equal(st.messages, 2);
}

static void test_idle_actor_is_passivated_then_reactivated(void **state)
{
    fixture_t *f = *state;
    s_send(f, "t:1", MSG_SEQ, 1);
    s_drain(f);
    fake_clock_advance_ms(&f->clock, 500);
    s_drain(f);
    assert_int_equal(g.passivations, 0); /* not idle long enough */
    fake_clock_advance_ms(&f->clock, 1000);
    s_drain(f);
    assert_int_equal(g.passivations, 1);
    roost_node_stats_t st;
    roost_node_stats(f->node, &st);
    assert_int_equal(st.actors_active, 0);
    s_send(f, "t:1", MSG_SEQ, 1); /* fresh state: seq restarts */
    s_drain(f);
    assert_int_equal(g.activations, 2);
}

static void test_actor_asking_to_passivate_is_passivated(void **state)
{
    fixture_t *f = *state;
    s_send(f, "t:1", MSG_STOP, 0);
    s_drain(f);
    assert_int_equal(g.passivations, 1);
}

static void test_one_senders_messages_arrive_in_order(void **state)
{
    fixture_t *f = *state;
    for (uint64_t i = 1; i <= 5000; i++)
        s_send(f, "t:ord", MSG_SEQ, i);
    s_drain(f);
    assert_int_equal(g.seq_bad, 0);
    assert_int_equal(g.seq_seen[0], 5000);
}

static void test_a_busy_actor_cannot_starve_others(void **state)
{
    fixture_t *f = *state;
    /* "t:a" and "t:b" may share a worker; b's one message must not wait for all of a's. */
    for (uint64_t i = 1; i <= 1000; i++)
        s_send(f, "t:a", MSG_SEQ, (0ull << 56) | i);
    s_send(f, "t:b", MSG_SEQ, (1ull << 56) | 1);
    s_drain(f);
    assert_int_equal(g.seq_seen[0], 1000);
    assert_int_equal(g.seq_seen[1], 1);
    const char *b = memchr(g.order, 'b', (size_t)g.order_len);
    assert_non_null(b);
    assert_true(b - g.order <= 64); /* after at most one turn of a (ROOST_ACTOR_TURN_MSGS_MAX) */
}

/* "fan:0" keeps readying new actors: each message sends one to a fresh "fan:<n>" and one to
 * itself, so its worker's ready stack never empties and grows every turn. */
static int g_fan_sent;
static void fan_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state, (void)env;
    if (strcmp(roost_ctx_self(ctx), "fan:0") != 0 || g_fan_sent >= 1000000)
        return;
    char key[32];
    snprintf(key, sizeof key, "fan:%d", ++g_fan_sent);
    roost_ctx_send(ctx, key, MSG_PING, NULL, 0);
    roost_ctx_send(ctx, "fan:0", MSG_PING, NULL, 0);
}
static const roost_behaviour_t fan_beh = {.kind = "fan", .on_message = fan_message};

static void test_a_fanout_cannot_starve_an_older_ready_actor(void **state)
{
    fixture_t *f = *state;
    roost_node_config_t cfg = {.node_id = 1, .workers = 1, .clock = &f->clock.base, .seed = 1};
    roost_node_t *node = roost_node_new(&cfg); /* one worker: both actors share its queue */
    assert_int_equal(roost_node_register(node, &t_beh), 0);
    assert_int_equal(roost_node_register(node, &fan_beh), 0);
    g_fan_sent = 0;
    uint64_t one = 1;
    roost_node_send(node, roost_env_new("t:old", NULL, MSG_SEQ, &one, sizeof one));
    roost_node_send(node, roost_env_new("fan:0", NULL, MSG_PING, NULL, 0)); /* readied after */
    /* The bound of runtime/readyq.h (nothing is ahead of t:old in the FIFO), in passes of at
     * most ROOST_WORKER_PASS_ACTORS_MAX turns, plus the pass that first delivers both. */
    int bound =
        (ROOST_READY_STACK_AGE_TURNS + ROOST_READY_FIFO_EVERY) / ROOST_WORKER_PASS_ACTORS_MAX + 2;
    int passes = 0;
    while (g.messages == 0 && passes < bound * 4) {
        assert_true(roost_node_poll(node));
        passes++;
    }
    assert_int_equal(g.messages, 1);
    assert_true(passes <= bound);
    assert_true(g_fan_sent >= ROOST_READY_STACK_AGE_TURNS / 2); /* the fan-out ran meanwhile */
    roost_node_destroy(&node);
}

static void test_one_shot_timer_fires_once(void **state)
{
    fixture_t *f = *state;
    s_send(f, "t:1", MSG_START_TIMER, 0);
    s_drain(f);
    fake_clock_advance_ms(&f->clock, 99);
    s_drain(f);
    assert_int_equal(g.timer_fires, 0);
    fake_clock_advance_ms(&f->clock, 1);
    s_drain(f);
    assert_int_equal(g.timer_fires, 1);
    fake_clock_advance_ms(&f->clock, 1000);
    s_drain(f);
    assert_int_equal(g.timer_fires, 1);
}

/* A zero-delay timer started in a turn fires in the same pass, although the clock moved on
 * while the turns ran (the store's group commit: its one write per pass, and the answers to
 * what committed, wait for exactly that). It used to wait for the next pass's turns: the timer
 * phase only fired what was due when the pass began. */
static void test_a_zero_delay_timer_fires_in_the_same_pass(void **state)
{
    fixture_t *f = *state;
    f->clock.tick_ns = 1000; /* 1 µs per clock read */
    s_send(f, "t:1", MSG_START_TIMER_NOW, 0);
    roost_node_poll(f->node); /* one pass per worker */
    assert_int_equal(g.messages, 1);
    assert_int_equal(g.timer_fires, 1);
}

static void test_periodic_timer_repeats_until_cancelled(void **state)
{
    fixture_t *f = *state;
    s_send(f, "t:1", MSG_START_TIMER, 50);
    s_drain(f);
    for (int i = 0; i < 10; i++) {
        fake_clock_advance_ms(&f->clock, 50);
        s_drain(f);
    }
    assert_int_equal(g.timer_fires, 9);  /* at 100, 150, …, 500 ms */
    assert_int_equal(g.passivations, 0); /* a periodic timer keeps the actor active */
    s_send(f, "t:1", MSG_CANCEL_TIMER, 0);
    s_drain(f);
    fake_clock_advance_ms(&f->clock, 5000);
    s_drain(f);
    assert_int_equal(g.timer_fires, 9);
    roost_node_stats_t st;
    roost_node_stats(f->node, &st);
    assert_int_equal(st.timers_pending, 0);
}

static void test_request_gets_its_response(void **state)
{
    fixture_t *f = *state;
    s_send(f, "t:asker", MSG_ASK, 0);
    s_drain(f);
    assert_int_equal(g.responses, 1);
    assert_int_equal(g.timeouts, 0);
    fake_clock_advance_ms(&f->clock, 5000); /* the cancelled timeout never fires */
    s_drain(f);
    assert_int_equal(g.timeouts, 0);
}

static void test_unanswered_request_times_out_once(void **state)
{
    fixture_t *f = *state;
    s_send(f, "t:asker", MSG_ASK_NOBODY, 0);
    s_drain(f);
    fake_clock_advance_ms(&f->clock, 999);
    s_drain(f);
    assert_int_equal(g.timeouts, 0);
    fake_clock_advance_ms(&f->clock, 1);
    s_drain(f);
    assert_int_equal(g.timeouts, 1);
    assert_int_equal(g.last_error, ROOST_ETIMEDOUT);
}

static void test_send_to_unknown_kind_answers_error_to_sender(void **state)
{
    fixture_t *f = *state;
    s_send(f, "t:1", MSG_SEND_UNKNOWN, 0);
    s_drain(f);
    assert_int_equal(g.errors, 1);
    assert_int_equal(g.last_error, ROOST_ENOKIND);
    roost_node_stats_t st;
    roost_node_stats(f->node, &st);
    assert_true(st.dropped >= 1);
}

static void test_register_refuses_duplicates_and_bad_kinds(void **state)
{
    fixture_t *f = *state;
    static const roost_behaviour_t bad = {.kind = "a:b", .on_message = mute_message};
    static const roost_behaviour_t empty = {.kind = "", .on_message = mute_message};
    assert_int_equal(roost_node_register(f->node, &t_beh), ROOST_EEXIST);
    assert_int_equal(roost_node_register(f->node, &bad), ROOST_EINVAL);
    assert_int_equal(roost_node_register(f->node, &empty), ROOST_EINVAL);
}

static void test_sends_with_bad_keys_are_refused(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(roost_node_send(f->node, roost_env_new("nocolon", NULL, 1, NULL, 0)),
                     ROOST_EINVAL);
    assert_int_equal(roost_node_send(f->node, roost_env_new("t:", NULL, 1, NULL, 0)), ROOST_EINVAL);
    assert_int_equal(roost_node_send(f->node, NULL), ROOST_EINVAL);
}

static void test_node_local_keys_run_in_their_partition(void **state)
{
    fixture_t *f = *state;
    /* This node owns no partition, yet its own node-local actors still run here. */
    for (uint32_t p = 0; p < 64; p++)
        roost_node_set_primary(f->node, p, 9, 1);
    s_send(f, "@1:37/probe", 1, 0);
    s_drain(f);
    assert_int_equal(g.messages, 1);
    assert_int_equal(g.last_timer, 37);
    /* another node's local key, and no transport: refused, never delivered here */
    assert_int_equal(roost_node_send(f->node, roost_env_new("@2:37/probe", NULL, 1, NULL, 0)),
                     ROOST_EUNAVAIL);
    s_drain(f);
    assert_int_equal(g.messages, 1);
    /* a kind registered without '@' does not serve local keys and vice versa */
    s_send(f, "@1:3/t", 1, 0);
    s_drain(f);
    assert_int_equal(g.activations, 0);
}

/* A behaviour whose state comes with the actor's record (state_bytes). */
typedef struct {
    uint64_t seen;
    long double aligned; /* the strictest alignment there is */
    char tail[40];
} istate_t;

static int inline_activate(roost_ctx_t *ctx, void **state)
{
    (void)ctx;
    istate_t *s = *state;
    assert_non_null(s);
    assert_int_equal((uintptr_t)s % _Alignof(max_align_t), 0);
    assert_int_equal(s->seen, 0); /* zeroed, even when the block was used before */
    assert_int_equal(s->tail[sizeof s->tail - 1], 0);
    g.activations++;
    return 0;
}

static void inline_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    istate_t *s = state;
    s->seen++;
    memset(s->tail, 'x', sizeof s->tail); /* the whole state is the actor's to write */
    g.seq_seen[0] = s->seen;
    if (env->type == MSG_STOP)
        roost_ctx_passivate(ctx);
}

static const roost_behaviour_t inline_beh = {.kind = "in",
                                             .state_bytes = sizeof(istate_t),
                                             .on_activate = inline_activate,
                                             .on_message = inline_message};

static void test_inline_state_is_zeroed_kept_and_freed_with_the_actor(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(roost_node_register(f->node, &inline_beh), 0);
    /* keys long and short: the state sits after the key, aligned */
    const char *keys[] = {"in:1", "in:a-much-longer-key-than-the-others-0123456789"};
    for (int round = 0; round < 3; round++) { /* passivated blocks are reused: zeroed again */
        for (size_t k = 0; k < 2; k++) {
            s_send(f, keys[k], MSG_SEQ, 0);
            s_send(f, keys[k], MSG_SEQ, 0);
            s_send(f, keys[k], MSG_STOP, 0);
            s_drain(f);
            assert_int_equal(g.seq_seen[0], 3);
        }
    }
    assert_int_equal(g.activations, 6);
    roost_node_stats_t st;
    roost_node_stats(f->node, &st);
    assert_int_equal(st.actors_active, 0);
    assert_int_equal(st.passivations, 6);
}

static void test_register_refuses_an_oversized_inline_state(void **state)
{
    fixture_t *f = *state;
    static const roost_behaviour_t big = {
        .kind = "big", .state_bytes = ROOST_STATE_BYTES_MAX + 1, .on_message = mute_message};
    assert_int_equal(roost_node_register(f->node, &big), ROOST_EINVAL);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_first_message_activates_the_actor),
        T(test_idle_actor_is_passivated_then_reactivated),
        T(test_actor_asking_to_passivate_is_passivated),
        T(test_one_senders_messages_arrive_in_order),
        T(test_a_busy_actor_cannot_starve_others),
        T(test_a_fanout_cannot_starve_an_older_ready_actor),
        T(test_one_shot_timer_fires_once),
        T(test_a_zero_delay_timer_fires_in_the_same_pass),
        T(test_periodic_timer_repeats_until_cancelled),
        T(test_request_gets_its_response),
        T(test_unanswered_request_times_out_once),
        T(test_send_to_unknown_kind_answers_error_to_sender),
        T(test_register_refuses_duplicates_and_bad_kinds),
        T(test_sends_with_bad_keys_are_refused),
        T(test_node_local_keys_run_in_their_partition),
        T(test_inline_state_is_zeroed_kept_and_freed_with_the_actor),
        T(test_register_refuses_an_oversized_inline_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
