/* runtime/raft_guard.c — see raft_guard.h: a forwarding struct raft_io whose only change is the
 * bound on a synchronous AppendEntries success's last_log_index. */
#include "runtime/raft_guard.h"

#include <string.h>

static raft_guard_t *s_outer(struct raft_io *io)
{
    return io->impl;
}

static raft_guard_t *s_of_inner(struct raft_io *inner)
{
    return inner->data;
}

/* libraft reads a failed call's message from the io it holds: ours. */
static int s_said(raft_guard_t *g, int rv)
{
    if (rv != 0)
        memcpy(g->io.errmsg, g->inner->errmsg, sizeof g->io.errmsg);
    return rv;
}

/* ---- what the inner io calls back --------------------------------------------------------- */

static void s_tick(struct raft_io *inner)
{
    raft_guard_t *g = s_of_inner(inner);
    g->tick(&g->io);
}

static void s_recv(struct raft_io *inner, struct raft_message *msg)
{
    raft_guard_t *g = s_of_inner(inner);
    const struct raft_message *outer = g->handling;
    if (msg->type == RAFT_IO_APPEND_ENTRIES)
        g->handling = msg;
    g->recv(&g->io, msg);
    g->handling = outer;
}

static void s_closed(struct raft_io *inner)
{
    raft_guard_t *g = s_of_inner(inner);
    if (g->close_cb != NULL)
        g->close_cb(&g->io);
}

/* ---- the bound ---------------------------------------------------------------------------- */

static int s_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *msg,
                  raft_io_send_cb cb)
{
    raft_guard_t *g = s_outer(io);
    const struct raft_message *in = g->handling;
    if (msg->type != RAFT_IO_APPEND_ENTRIES_RESULT || in == NULL ||
        msg->append_entries_result.rejected != 0 || in->server_id != msg->server_id)
        return g->inner->send(g->inner, req, msg, cb);
    raft_index proven = in->append_entries.prev_log_index + in->append_entries.n_entries;
    if (msg->append_entries_result.last_log_index <= proven)
        return g->inner->send(g->inner, req, msg, cb);
    struct raft_message bounded = *msg; /* a result holds no pointers: the copy is whole */
    bounded.append_entries_result.last_log_index = proven;
    g->bounded++;
    return g->inner->send(g->inner, req, &bounded, cb);
}

/* ---- forwarded as they are ---------------------------------------------------------------- */

static int s_init(struct raft_io *io, raft_id id, const char *address)
{
    raft_guard_t *g = s_outer(io);
    return s_said(g, g->inner->init(g->inner, id, address));
}

static void s_close(struct raft_io *io, raft_io_close_cb cb)
{
    raft_guard_t *g = s_outer(io);
    g->close_cb = cb;
    g->inner->close(g->inner, s_closed);
}

static int s_load(struct raft_io *io, raft_term *term, raft_id *vote,
                  struct raft_snapshot **snapshot, raft_index *start, struct raft_entry *entries[],
                  size_t *n)
{
    raft_guard_t *g = s_outer(io);
    return s_said(g, g->inner->load(g->inner, term, vote, snapshot, start, entries, n));
}

static int s_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    raft_guard_t *g = s_outer(io);
    g->tick = tick;
    g->recv = recv;
    return s_said(g, g->inner->start(g->inner, msecs, s_tick, s_recv));
}

static int s_bootstrap(struct raft_io *io, const struct raft_configuration *conf)
{
    raft_guard_t *g = s_outer(io);
    return s_said(g, g->inner->bootstrap(g->inner, conf));
}

static int s_recover(struct raft_io *io, const struct raft_configuration *conf)
{
    raft_guard_t *g = s_outer(io);
    return s_said(g, g->inner->recover(g->inner, conf));
}

static int s_set_term(struct raft_io *io, raft_term term)
{
    raft_guard_t *g = s_outer(io);
    return g->inner->set_term(g->inner, term);
}

static int s_set_vote(struct raft_io *io, raft_id id)
{
    raft_guard_t *g = s_outer(io);
    return g->inner->set_vote(g->inner, id);
}

static int s_append(struct raft_io *io, struct raft_io_append *req,
                    const struct raft_entry entries[], unsigned n, raft_io_append_cb cb)
{
    raft_guard_t *g = s_outer(io);
    return g->inner->append(g->inner, req, entries, n, cb);
}

static int s_truncate(struct raft_io *io, raft_index index)
{
    raft_guard_t *g = s_outer(io);
    return g->inner->truncate(g->inner, index);
}

static int s_snapshot_put(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *req,
                          const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb)
{
    raft_guard_t *g = s_outer(io);
    return g->inner->snapshot_put(g->inner, trailing, req, snapshot, cb);
}

static int s_snapshot_get(struct raft_io *io, struct raft_io_snapshot_get *req,
                          raft_io_snapshot_get_cb cb)
{
    raft_guard_t *g = s_outer(io);
    return g->inner->snapshot_get(g->inner, req, cb);
}

static raft_time s_time(struct raft_io *io)
{
    raft_guard_t *g = s_outer(io);
    return g->inner->time(g->inner);
}

static int s_random(struct raft_io *io, int min, int max)
{
    raft_guard_t *g = s_outer(io);
    return g->inner->random(g->inner, min, max);
}

static int s_async_work(struct raft_io *io, struct raft_io_async_work *req,
                        raft_io_async_work_cb cb)
{
    raft_guard_t *g = s_outer(io);
    return g->inner->async_work(g->inner, req, cb);
}

void raft_guard_init(raft_guard_t *self, struct raft_io *inner)
{
    memset(self, 0, sizeof *self);
    self->inner = inner;
    inner->data = self;
    struct raft_io *io = &self->io;
    io->version = inner->version;
    io->impl = self;
    io->init = s_init;
    io->close = s_close;
    io->load = s_load;
    io->start = s_start;
    io->bootstrap = s_bootstrap;
    io->recover = s_recover;
    io->set_term = s_set_term;
    io->set_vote = s_set_vote;
    io->send = s_send;
    io->append = s_append;
    io->truncate = s_truncate;
    io->snapshot_put = s_snapshot_put;
    io->snapshot_get = s_snapshot_get;
    io->time = s_time;
    io->random = s_random;
    io->async_work = inner->version >= 2 ? s_async_work : NULL;
}
