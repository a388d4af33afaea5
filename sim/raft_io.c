/* sim/raft_io.c — see raft_io.h: libraft's I/O over a simulated disk and network. Ownership
 * follows libraft 0.15's contract: loaded entries, snapshots and received messages are
 * raft_malloc'd here and handed over; what libraft passes to append, send and snapshot_put
 * stays libraft's (kept alive until the callback), so the disk and the wire take copies. */
#include "sim/raft_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Allocation failure ends a simulation run: it has no use for a run that ran out of memory. */
static void *s_need(void *p)
{
    if (p == NULL)
        abort();
    return p;
}

/* ---- copies in libraft's memory --------------------------------------------------------- */

static void s_conf_copy(const struct raft_configuration *src, struct raft_configuration *dst)
{
    raft_configuration_init(dst);
    for (unsigned i = 0; i < src->n; i++)
        if (raft_configuration_add(dst, src->servers[i].id, src->servers[i].address,
                                   src->servers[i].role) != 0)
            abort();
}

static struct raft_snapshot *s_snapshot_copy(const struct raft_snapshot *src)
{
    struct raft_snapshot *dst = s_need(raft_calloc(1, sizeof *dst));
    dst->index = src->index;
    dst->term = src->term;
    dst->configuration_index = src->configuration_index;
    s_conf_copy(&src->configuration, &dst->configuration);
    size_t len = 0;
    for (unsigned i = 0; i < src->n_bufs; i++)
        len += src->bufs[i].len;
    dst->bufs = s_need(raft_malloc(sizeof *dst->bufs));
    dst->bufs[0].base = s_need(raft_malloc(len > 0 ? len : 1));
    dst->bufs[0].len = len;
    dst->n_bufs = 1;
    char *at = dst->bufs[0].base;
    for (unsigned i = 0; i < src->n_bufs; i++) {
        memcpy(at, src->bufs[i].base, src->bufs[i].len);
        at += src->bufs[i].len;
    }
    return dst;
}

static void s_snapshot_free(struct raft_snapshot *s)
{
    if (s == NULL)
        return;
    raft_configuration_close(&s->configuration);
    for (unsigned i = 0; i < s->n_bufs; i++)
        raft_free(s->bufs[i].base);
    raft_free(s->bufs);
    raft_free(s);
}

/* n entries in one raft_malloc'd array whose data share one batch (how raft_uv hands them
 * over, and what libraft frees); NULL for none. */
static struct raft_entry *s_entries_copy(const struct raft_entry *src, size_t n)
{
    if (n == 0)
        return NULL;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += src[i].buf.len;
    struct raft_entry *dst = s_need(raft_calloc(n, sizeof *dst));
    char *batch = s_need(raft_malloc(len > 0 ? len : 1)), *at = batch;
    for (size_t i = 0; i < n; i++) {
        dst[i].term = src[i].term;
        dst[i].type = src[i].type;
        dst[i].buf.base = at;
        dst[i].buf.len = src[i].buf.len;
        dst[i].batch = batch;
        memcpy(at, src[i].buf.base, src[i].buf.len);
        at += src[i].buf.len;
    }
    return dst;
}

static void s_entries_free(struct raft_entry *e, size_t n)
{
    if (e != NULL && n > 0)
        raft_free(e[0].batch);
    raft_free(e);
}

/* ---- the state ------------------------------------------------------------------------ */

typedef enum { OP_APPEND, OP_TRUNCATE, OP_SNAPSHOT_PUT, OP_SNAPSHOT_GET, OP_SENT } op_kind_t;

typedef struct op {
    struct op *next;
    op_kind_t kind;
    uint64_t due;
    union {
        struct {
            struct raft_io_append *req;
            const struct raft_entry *entries;
            unsigned n;
        } append;
        raft_index truncate_from;
        struct {
            struct raft_io_snapshot_put *req;
            const struct raft_snapshot *snapshot;
            unsigned trailing;
        } put;
        struct raft_io_snapshot_get *get;
        struct raft_io_send *sent;
    };
} op_t;

typedef struct {
    op_t *head, *tail;
} opq_t;

typedef struct flight {
    struct flight *next;
    uint64_t due, seq;
    uint32_t to, to_incarnation;
    struct raft_message msg; /* a copy in libraft's memory, handed over on delivery */
} flight_t;

typedef struct {
    sim_raft_net_t *net;
    uint32_t id;
    struct raft_io io;
    char address[16];
    bool running; /* between init and close */
    uint32_t incarnation;
    unsigned tick_ms;
    uint64_t next_tick;
    raft_io_tick_cb tick;
    raft_io_recv_cb recv;
    opq_t disk, sent;
    uint64_t disk_last; /* due time of the disk queue's tail: operations complete in order */
    unsigned net_ms, disk_ms;
    /* the disk: what survives a crash */
    raft_term term;
    raft_id vote;
    struct raft_snapshot *snapshot;
    raft_index first; /* index of e[0] (or of the next append, with none) */
    struct raft_entry *e;
    size_t n, cap;
} voter_t;

struct sim_raft_net {
    uint32_t n;
    voter_t v[SIM_RAFT_IO_VOTERS_MAX];
    bool link[SIM_RAFT_IO_VOTERS_MAX][SIM_RAFT_IO_VOTERS_MAX];
    flight_t *flights; /* by (due, seq) */
    uint64_t seq, now;
    roost_rng_t rng;
    uint32_t drop_ppm;
    sim_raft_net_stats_t stats;
};

static void s_push(opq_t *q, op_t *op)
{
    op->next = NULL;
    if (q->tail != NULL)
        q->tail->next = op;
    else
        q->head = op;
    q->tail = op;
}

static op_t *s_pop(opq_t *q)
{
    op_t *op = q->head;
    if (op != NULL && (q->head = op->next) == NULL)
        q->tail = NULL;
    return op;
}

static op_t *s_disk_op(voter_t *v, op_kind_t kind)
{
    op_t *op = s_need(calloc(1, sizeof *op));
    op->kind = kind;
    uint64_t due = v->net->now + v->disk_ms;
    op->due = v->disk_last = due > v->disk_last ? due : v->disk_last;
    s_push(&v->disk, op);
    return op;
}

/* ---- the disk ------------------------------------------------------------------------- */

static void s_disk_append(voter_t *v, const struct raft_entry *entries, unsigned n)
{
    if (v->n + n > v->cap) {
        v->cap = (v->n + n) * 2;
        v->e = s_need(realloc(v->e, v->cap * sizeof *v->e));
    }
    for (unsigned i = 0; i < n; i++) {
        struct raft_entry *e = &v->e[v->n++];
        *e = entries[i];
        e->batch = NULL;
        e->buf.base = s_need(raft_malloc(e->buf.len > 0 ? e->buf.len : 1));
        memcpy(e->buf.base, entries[i].buf.base, e->buf.len);
    }
}

/* Drops the entries from index `from` on (truncate) or below `below` (a snapshot's trim). */
static void s_disk_drop_from(voter_t *v, raft_index from)
{
    while (v->n > 0 && v->first + v->n - 1 >= from)
        raft_free(v->e[--v->n].buf.base);
}

static void s_disk_drop_below(voter_t *v, raft_index below)
{
    size_t k = 0;
    while (k < v->n && v->first + k < below)
        raft_free(v->e[k++].buf.base);
    memmove(v->e, v->e + k, (v->n - k) * sizeof *v->e);
    v->n -= k;
    v->first += k;
}

static void s_disk_put(voter_t *v, const struct raft_snapshot *snap, unsigned trailing)
{
    s_snapshot_free(v->snapshot);
    v->snapshot = s_snapshot_copy(snap);
    if (trailing == 0) { /* installed from a leader: it replaces the whole log */
        s_disk_drop_from(v, 0);
        v->first = snap->index + 1;
        v->net->stats.installs++;
    } else {
        if (snap->index > trailing)
            s_disk_drop_below(v, snap->index - trailing + 1);
        v->net->stats.snapshots++;
    }
}

/* Completes op: written to the disk, or — `lost`, a crash — not. Either way libraft's callback
 * is told it succeeded: libraft 0.15 dereferences NULL when a snapshot put it is closing over
 * fails (the simulator's 3-node seed 112), and its own in-memory test io (raft/fixture.h)
 * completes what is pending at close as done; the raft instance is closing and only frees what it
 * holds. */
static void s_disk_complete(voter_t *v, op_t *op, bool lost)
{
    switch (op->kind) {
    case OP_APPEND:
        if (!lost) {
            s_disk_append(v, op->append.entries, op->append.n);
            v->net->stats.appends++;
        }
        op->append.req->cb(op->append.req, 0);
        break;
    case OP_TRUNCATE:
        if (!lost)
            s_disk_drop_from(v, op->truncate_from);
        break;
    case OP_SNAPSHOT_PUT:
        if (!lost)
            s_disk_put(v, op->put.snapshot, op->put.trailing);
        op->put.req->cb(op->put.req, 0);
        break;
    case OP_SNAPSHOT_GET:
        op->get->cb(op->get, s_snapshot_copy(v->snapshot), 0);
        break;
    case OP_SENT:
        op->sent->cb(op->sent, 0);
        break;
    }
    if (lost)
        v->net->stats.cancelled++;
    free(op);
}

/* ---- the network ---------------------------------------------------------------------- */

static void s_message_copy(const struct raft_message *src, struct raft_message *dst)
{
    *dst = *src;
    if (src->type == RAFT_IO_APPEND_ENTRIES) {
        dst->append_entries.entries =
            s_entries_copy(src->append_entries.entries, src->append_entries.n_entries);
    } else if (src->type == RAFT_IO_INSTALL_SNAPSHOT) {
        const struct raft_install_snapshot *is = &src->install_snapshot;
        s_conf_copy(&is->conf, &dst->install_snapshot.conf);
        dst->install_snapshot.data.base = s_need(raft_malloc(is->data.len ? is->data.len : 1));
        memcpy(dst->install_snapshot.data.base, is->data.base, is->data.len);
    }
}

static void s_message_free(struct raft_message *m)
{
    if (m->type == RAFT_IO_APPEND_ENTRIES) {
        s_entries_free(m->append_entries.entries, m->append_entries.n_entries);
    } else if (m->type == RAFT_IO_INSTALL_SNAPSHOT) {
        raft_configuration_close(&m->install_snapshot.conf);
        raft_free(m->install_snapshot.data.base);
    }
}

static bool s_reachable(const sim_raft_net_t *net, uint32_t from, uint32_t to)
{
    return net->link[from - 1][to - 1] && net->v[to - 1].running;
}

static void s_fly(sim_raft_net_t *net, voter_t *from, const struct raft_message *msg)
{
    net->stats.messages++;
    uint32_t to = (uint32_t)msg->server_id;
    if (to < 1 || to > net->n || !s_reachable(net, from->id, to) ||
        (net->drop_ppm && roost_rng_below(&net->rng, 1000000) < net->drop_ppm)) {
        net->stats.dropped++;
        return;
    }
    flight_t *f = s_need(calloc(1, sizeof *f));
    s_message_copy(msg, &f->msg);
    f->msg.server_id = from->id; /* the receiver sees the sender */
    f->msg.server_address = from->address;
    f->to = to;
    f->to_incarnation = net->v[to - 1].incarnation;
    f->due = net->now + from->net_ms + roost_rng_below(&net->rng, 3);
    f->seq = net->seq++;
    flight_t **at = &net->flights;
    while (*at != NULL && ((*at)->due < f->due || ((*at)->due == f->due && (*at)->seq < f->seq)))
        at = &(*at)->next;
    f->next = *at;
    *at = f;
}

static void s_land(sim_raft_net_t *net)
{
    flight_t *f = net->flights;
    net->flights = f->next;
    voter_t *to = &net->v[f->to - 1];
    if (s_reachable(net, (uint32_t)f->msg.server_id, f->to) &&
        to->incarnation == f->to_incarnation && to->recv != NULL) {
        to->recv(&to->io, &f->msg); /* the copy is libraft's now */
    } else {
        net->stats.dropped++;
        s_message_free(&f->msg);
    }
    free(f);
}

/* ---- struct raft_io ------------------------------------------------------------------- */

static int s_init(struct raft_io *io, raft_id id, const char *address)
{
    voter_t *v = io->impl;
    (void)address;
    if (id != v->id)
        return RAFT_INVALID;
    v->running = true;
    return 0;
}

static void s_close(struct raft_io *io, raft_io_close_cb cb)
{
    voter_t *v = io->impl;
    v->running = false; /* from here on nothing reaches it, and it sends nothing */
    v->incarnation++;
    v->tick = NULL;
    v->recv = NULL;
    for (op_t *op; (op = s_pop(&v->sent)) != NULL;)
        s_disk_complete(v, op, true);
    for (op_t *op; (op = s_pop(&v->disk)) != NULL;)
        s_disk_complete(v, op, true);
    if (cb != NULL)
        cb(io);
}

static int s_load(struct raft_io *io, raft_term *term, raft_id *vote,
                  struct raft_snapshot **snapshot, raft_index *start, struct raft_entry *entries[],
                  size_t *n)
{
    voter_t *v = io->impl;
    *term = v->term;
    *vote = v->vote;
    *snapshot = v->snapshot != NULL ? s_snapshot_copy(v->snapshot) : NULL;
    *start = v->first;
    *entries = s_entries_copy(v->e, v->n);
    *n = v->n;
    return 0;
}

static int s_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv)
{
    voter_t *v = io->impl;
    v->tick_ms = msecs > 0 ? msecs : 1;
    v->next_tick = v->net->now + v->tick_ms;
    v->tick = tick;
    v->recv = recv;
    return 0;
}

static int s_bootstrap(struct raft_io *io, const struct raft_configuration *conf)
{
    voter_t *v = io->impl;
    if (v->term != 0 || v->n != 0 || v->snapshot != NULL)
        return RAFT_CANTBOOTSTRAP;
    struct raft_entry e = {.term = 1, .type = RAFT_CHANGE};
    if (raft_configuration_encode(conf, &e.buf) != 0)
        return RAFT_NOMEM;
    v->first = 1;
    s_disk_append(v, &e, 1);
    raft_free(e.buf.base);
    v->term = 1;
    return 0;
}

static int s_recover(struct raft_io *io, const struct raft_configuration *conf)
{
    (void)io;
    (void)conf;
    return RAFT_NOTFOUND; /* the simulated operator never forces a configuration */
}

static int s_set_term(struct raft_io *io, raft_term term)
{
    voter_t *v = io->impl;
    v->term = term;
    v->vote = 0;
    return 0;
}

static int s_set_vote(struct raft_io *io, raft_id id)
{
    voter_t *v = io->impl;
    v->vote = id;
    return 0;
}

static int s_send(struct raft_io *io, struct raft_io_send *req, const struct raft_message *msg,
                  raft_io_send_cb cb)
{
    voter_t *v = io->impl;
    if (!v->running)
        return RAFT_CANCELED;
    req->cb = cb;
    s_fly(v->net, v, msg);
    op_t *op = s_need(calloc(1, sizeof *op));
    op->kind = OP_SENT;
    op->due = v->net->now;
    op->sent = req;
    s_push(&v->sent, op);
    return 0;
}

static int s_append(struct raft_io *io, struct raft_io_append *req,
                    const struct raft_entry entries[], unsigned n, raft_io_append_cb cb)
{
    voter_t *v = io->impl;
    if (!v->running)
        return RAFT_CANCELED;
    req->cb = cb;
    op_t *op = s_disk_op(v, OP_APPEND);
    op->append.req = req;
    op->append.entries = entries;
    op->append.n = n;
    return 0;
}

static int s_truncate(struct raft_io *io, raft_index index)
{
    voter_t *v = io->impl;
    if (!v->running)
        return RAFT_CANCELED;
    s_disk_op(v, OP_TRUNCATE)->truncate_from = index;
    return 0;
}

static int s_snapshot_put(struct raft_io *io, unsigned trailing, struct raft_io_snapshot_put *req,
                          const struct raft_snapshot *snapshot, raft_io_snapshot_put_cb cb)
{
    voter_t *v = io->impl;
    if (!v->running)
        return RAFT_CANCELED;
    req->cb = cb;
    op_t *op = s_disk_op(v, OP_SNAPSHOT_PUT);
    op->put.req = req;
    op->put.snapshot = snapshot;
    op->put.trailing = trailing;
    return 0;
}

static int s_snapshot_get(struct raft_io *io, struct raft_io_snapshot_get *req,
                          raft_io_snapshot_get_cb cb)
{
    voter_t *v = io->impl;
    if (!v->running || v->snapshot == NULL)
        return v->running ? RAFT_NOTFOUND : RAFT_CANCELED;
    req->cb = cb;
    s_disk_op(v, OP_SNAPSHOT_GET)->get = req;
    return 0;
}

static raft_time s_time(struct raft_io *io)
{
    return ((voter_t *)io->impl)->net->now;
}

static int s_random(struct raft_io *io, int min, int max)
{
    sim_raft_net_t *net = ((voter_t *)io->impl)->net;
    return max > min ? min + (int)roost_rng_below(&net->rng, (uint64_t)(max - min)) : min;
}

static void s_io_init(voter_t *v)
{
    memset(&v->io, 0, sizeof v->io);
    v->io.version = 1;
    v->io.impl = v;
    v->io.init = s_init;
    v->io.close = s_close;
    v->io.load = s_load;
    v->io.start = s_start;
    v->io.bootstrap = s_bootstrap;
    v->io.recover = s_recover;
    v->io.set_term = s_set_term;
    v->io.set_vote = s_set_vote;
    v->io.send = s_send;
    v->io.append = s_append;
    v->io.truncate = s_truncate;
    v->io.snapshot_put = s_snapshot_put;
    v->io.snapshot_get = s_snapshot_get;
    v->io.time = s_time;
    v->io.random = s_random;
}

/* ---- the whole ------------------------------------------------------------------------ */

sim_raft_net_t *sim_raft_net_new(uint32_t voters, roost_rng_t *rng)
{
    if (voters < 1 || voters > SIM_RAFT_IO_VOTERS_MAX)
        return NULL;
    sim_raft_net_t *net = s_need(calloc(1, sizeof *net));
    net->n = voters;
    roost_rng_seed(&net->rng, roost_rng_next(rng));
    for (uint32_t i = 0; i < voters; i++) {
        voter_t *v = &net->v[i];
        v->net = net;
        v->id = i + 1;
        snprintf(v->address, sizeof v->address, "sim:%u", i + 1);
        v->first = 1;
        v->net_ms = 1 + (unsigned)roost_rng_below(&net->rng, 5);
        v->disk_ms = 1 + (unsigned)roost_rng_below(&net->rng, 3);
        s_io_init(v);
        for (uint32_t j = 0; j < voters; j++)
            net->link[i][j] = true;
    }
    return net;
}

void sim_raft_net_destroy(sim_raft_net_t **self_p)
{
    sim_raft_net_t *net = *self_p;
    if (net == NULL)
        return;
    while (net->flights != NULL) {
        flight_t *f = net->flights;
        net->flights = f->next;
        s_message_free(&f->msg);
        free(f);
    }
    for (uint32_t i = 0; i < net->n; i++) {
        voter_t *v = &net->v[i];
        s_disk_drop_from(v, 0);
        free(v->e);
        s_snapshot_free(v->snapshot);
    }
    free(net);
    *self_p = NULL;
}

struct raft_io *sim_raft_net_io(sim_raft_net_t *self, uint32_t id)
{
    return id >= 1 && id <= self->n ? &self->v[id - 1].io : NULL;
}

const char *sim_raft_net_address(const sim_raft_net_t *self, uint32_t id)
{
    return id >= 1 && id <= self->n ? self->v[id - 1].address : NULL;
}

void sim_raft_net_set_drop_ppm(sim_raft_net_t *self, uint32_t ppm)
{
    self->drop_ppm = ppm;
}

void sim_raft_net_set_link(sim_raft_net_t *self, uint32_t from, uint32_t to, bool up)
{
    if (from >= 1 && from <= self->n && to >= 1 && to <= self->n)
        self->link[from - 1][to - 1] = up;
}

/* The earliest due event: ticks first, then completed sends, then the disk, then the wire;
 * lower voter ids first. Returns its time (UINT64_MAX: none) and what it is. */
typedef enum { EV_NONE, EV_TICK, EV_SENT, EV_DISK, EV_LAND } ev_kind_t;

static uint64_t s_earliest(const sim_raft_net_t *net, ev_kind_t *kind, uint32_t *who)
{
    uint64_t best = UINT64_MAX;
    *kind = EV_NONE;
    for (uint32_t i = 0; i < net->n; i++) {
        const voter_t *v = &net->v[i];
        uint64_t at[3] = {v->tick != NULL ? v->next_tick : UINT64_MAX,
                          v->sent.head != NULL ? v->sent.head->due : UINT64_MAX,
                          v->disk.head != NULL ? v->disk.head->due : UINT64_MAX};
        for (int k = 0; k < 3; k++)
            if (at[k] < best) {
                best = at[k];
                *kind = (ev_kind_t)(EV_TICK + k);
                *who = i;
            }
    }
    if (net->flights != NULL && net->flights->due < best) {
        best = net->flights->due;
        *kind = EV_LAND;
    }
    return best;
}

bool sim_raft_net_step(sim_raft_net_t *self, uint64_t now_ms)
{
    ev_kind_t kind;
    uint32_t i = 0;
    uint64_t at = s_earliest(self, &kind, &i);
    if (kind == EV_NONE || at > now_ms) {
        if (self->now < now_ms)
            self->now = now_ms;
        return false;
    }
    if (self->now < at)
        self->now = at;
    voter_t *v = &self->v[i];
    switch (kind) {
    case EV_TICK:
        v->next_tick += v->tick_ms;
        v->tick(&v->io);
        break;
    case EV_SENT:
        s_disk_complete(v, s_pop(&v->sent), false);
        break;
    case EV_DISK:
        s_disk_complete(v, s_pop(&v->disk), false);
        break;
    case EV_LAND:
        s_land(self);
        break;
    case EV_NONE:
        break;
    }
    return true;
}

void sim_raft_net_stats(const sim_raft_net_t *self, sim_raft_net_stats_t *out)
{
    *out = self->stats;
}
