/* tests/unit/test_routing.c — routing between three nodes on the in-process network
 * (tests/support/inproc_net.h), where the nodes' maps disagree as they do while a new map
 * spreads: a refusal from a node that has no map yet reaches the requester even when another
 * node forwarded the request to it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "runtime/errors.h"
#include "runtime/node.h"
#include "tests/support/inproc_net.h"

enum { P = 16, NODES = 3, MSG_GO = 1, MSG_PING, NO_ANSWER = 1 };

static _Atomic int g_status = NO_ANSWER; /* the asker's answer: a status, or none yet */

/* "@1:0/ask" asks answer:1 once, with a timeout far past the test's wait, and keeps the
 * answer's status. */
static void ask_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    if (env->flags & ROOST_ENV_RESPONSE)
        atomic_store(&g_status, (env->flags & ROOST_ENV_ERROR) ? env->status : ROOST_OK);
    else
        roost_ctx_request(ctx, "answer:1", MSG_PING, NULL, 0, 60000, NULL);
}

static void answer_message(roost_ctx_t *ctx, void *state, roost_env_t *env)
{
    (void)state;
    roost_ctx_reply(ctx, env, MSG_PING, NULL, 0);
}

static const roost_behaviour_t ask = {.kind = "@ask", .on_message = ask_message};
static const roost_behaviour_t answer = {.kind = "answer", .on_message = answer_message};

typedef struct {
    inproc_net_t net;
    roost_node_t *node[NODES + 1];
} trio_t;

/* Nodes 1..3; node id's map names primary[id] for every partition (ROOST_NO_NODE: no map). */
static trio_t *s_trio(const uint32_t primary[NODES + 1])
{
    trio_t *t = calloc(1, sizeof *t);
    for (uint32_t id = 1; id <= NODES; id++) {
        roost_node_config_t nc = {.node_id = id, .workers = 1, .partitions = P};
        t->node[id] = roost_node_new(&nc);
        roost_node_register(t->node[id], &ask);
        roost_node_register(t->node[id], &answer);
        roost_node_set_transport(t->node[id], inproc_transport(&t->net, id));
        for (uint32_t p = 0; p < P; p++)
            roost_node_set_primary(t->node[id], p, primary[id],
                                   primary[id] == ROOST_NO_NODE ? 0 : 1);
        assert_int_equal(roost_node_start(t->node[id]), 0);
    }
    return t;
}

static void s_trio_free(trio_t *t)
{
    for (uint32_t id = 1; id <= NODES; id++)
        inproc_isolate(&t->net, id, true);
    for (uint32_t id = 1; id <= NODES; id++) {
        roost_node_stop(t->node[id]);
        roost_node_destroy(&t->node[id]);
    }
    free(t);
}

static int s_await_answer(int seconds)
{
    struct timespec pause = {0, 1000000};
    for (int i = 0; i < seconds * 1000 && atomic_load(&g_status) == NO_ANSWER; i++)
        nanosleep(&pause, NULL);
    return atomic_load(&g_status);
}

/* Node 1 thinks node 2 leads, node 2 that node 3 does (it forwards), node 3 has no map yet.
 * Node 3's refusal used to go back to node 2, the peer it came from, which never forwards
 * another node's local keys: it died there, and the asker waited out its timeout (the store
 * benchmark's warm-up, while the first map spread). It goes to the asker's node now. */
static void test_a_refusal_reaches_the_asker_past_a_forwarding_node(void **state)
{
    (void)state;
    const uint32_t primary[NODES + 1] = {0, 2, 3, ROOST_NO_NODE};
    trio_t *t = s_trio(primary);
    atomic_store(&g_status, NO_ANSWER);
    roost_node_send(t->node[1], roost_env_new("@1:0/ask", NULL, MSG_GO, NULL, 0));
    assert_int_equal(s_await_answer(5), ROOST_EUNAVAIL);
    s_trio_free(t);
}

/* Once node 3 has its map too, the same request is forwarded to it and answered. */
static void test_a_forwarded_request_is_answered(void **state)
{
    (void)state;
    const uint32_t primary[NODES + 1] = {0, 2, 3, 3};
    trio_t *t = s_trio(primary);
    atomic_store(&g_status, NO_ANSWER);
    roost_node_send(t->node[1], roost_env_new("@1:0/ask", NULL, MSG_GO, NULL, 0));
    assert_int_equal(s_await_answer(5), ROOST_OK);
    s_trio_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_refusal_reaches_the_asker_past_a_forwarding_node),
        cmocka_unit_test(test_a_forwarded_request_is_answered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
