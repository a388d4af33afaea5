/* tests/unit/test_raft_guard.c — runtime/raft_guard.c over a recording io: a success result sent
 * while an AppendEntries is handled claims no more than that message proves; results sent later,
 * rejections and other messages pass unchanged; failures keep their message. (End to end: the
 * simulator's seed 1223 with phones, test_sim_chat_1223.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/raft_guard.h"

typedef struct {
    struct raft_io io;
    raft_io_recv_cb recv;
    struct raft_message sent; /* the last message sent */
    int nsent;
    int init_rv;
} fake_t;

static int f_init(struct raft_io *io, raft_id id, const char *address)
{
    (void)id, (void)address;
    fake_t *f = io->impl;
    if (f->init_rv != 0)
        strcpy(io->errmsg, "disk on fire");
    return f->init_rv;
}

static int f_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    (void)msecs, (void)tick;
    ((fake_t *)io->impl)->recv = recv;
    return 0;
}

static int f_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *msg,
                  raft_io_send_cb cb)
{
    (void)req, (void)cb;
    fake_t *f = io->impl;
    f->sent = *msg;
    f->nsent++;
    return 0;
}

static void s_fake(fake_t *f)
{
    memset(f, 0, sizeof *f);
    f->io.version = 1;
    f->io.impl = f;
    f->io.init = f_init;
    f->io.start = f_start;
    f->io.send = f_send;
}

/* The "raft" above the guard: answers every AppendEntries at once with a success whose
 * last_log_index is the end of its own log (3), as libraft 0.15 answers a heartbeat. */
static raft_guard_t *g_guard;
static struct raft_io_send g_req;

static struct raft_message s_result(raft_id to, int rejected)
{
    struct raft_message m = {.type = RAFT_IO_APPEND_ENTRIES_RESULT, .server_id = to};
    m.append_entries_result.term = 4;
    m.append_entries_result.rejected = (raft_index)rejected;
    m.append_entries_result.last_log_index = 3;
    return m;
}

static void s_raft_recv(struct raft_io *io, struct raft_message *msg)
{
    assert_ptr_equal(io, &g_guard->io); /* the guard hands up its own io */
    if (msg->type != RAFT_IO_APPEND_ENTRIES)
        return;
    struct raft_message r = s_result(msg->server_id, (int)msg->append_entries.term - 4);
    assert_int_equal(io->send(io, &g_req, &r, NULL), 0);
}

static void s_tick(struct raft_io *io)
{
    (void)io;
}

static void s_deliver(fake_t *f, raft_index prev, unsigned n, raft_term term)
{
    struct raft_entry entries[2] = {{.term = 4}, {.term = 4}};
    struct raft_message m = {.type = RAFT_IO_APPEND_ENTRIES, .server_id = 1};
    m.append_entries.term = term;
    m.append_entries.prev_log_index = prev;
    m.append_entries.prev_log_term = 4;
    m.append_entries.n_entries = n;
    m.append_entries.entries = n ? entries : NULL;
    f->recv(&f->io, &m);
}

static void test_a_heartbeat_success_claims_only_its_prev_index(void **state)
{
    (void)state;
    fake_t f;
    raft_guard_t g;
    s_fake(&f);
    raft_guard_init(&g, &f.io);
    g_guard = &g;
    assert_int_equal(g.io.start(&g.io, 100, s_tick, s_raft_recv), 0);

    s_deliver(&f, 1, 0, 4); /* a heartbeat after entry 1: the follower holds 3 entries */
    assert_int_equal(f.nsent, 1);
    assert_int_equal(f.sent.type, RAFT_IO_APPEND_ENTRIES_RESULT);
    assert_int_equal(f.sent.append_entries_result.last_log_index, 1);
    assert_int_equal(g.bounded, 1);

    s_deliver(&f, 1, 2, 4); /* entries 2 and 3 carried: 3 is proven */
    assert_int_equal(f.sent.append_entries_result.last_log_index, 3);

    s_deliver(&f, 1, 0, 5); /* (term 5: the "raft" rejects it) a rejection passes as it is */
    assert_int_equal(f.sent.append_entries_result.rejected, 1);
    assert_int_equal(f.sent.append_entries_result.last_log_index, 3);
    assert_int_equal(g.bounded, 1);

    struct raft_message later = s_result(1, 0); /* after a disk write: not while receiving */
    assert_int_equal(g.io.send(&g.io, &g_req, &later, NULL), 0);
    assert_int_equal(f.sent.append_entries_result.last_log_index, 3);
    assert_int_equal(f.nsent, 4);
    assert_int_equal(g.bounded, 1);
}

static void test_a_failure_keeps_its_message(void **state)
{
    (void)state;
    fake_t f;
    raft_guard_t g;
    s_fake(&f);
    f.init_rv = RAFT_IOERR;
    raft_guard_init(&g, &f.io);
    assert_int_equal(g.io.init(&g.io, 1, "a"), RAFT_IOERR);
    assert_string_equal(g.io.errmsg, "disk on fire");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_heartbeat_success_claims_only_its_prev_index),
        cmocka_unit_test(test_a_failure_keeps_its_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
