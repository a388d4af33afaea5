/* runtime/control.c — the control plane's lifecycle, thread, submit queue and leader duties.
 *
 * Owns: the control thread and everything on it (libuv loop, libraft server, raft_uv I/O,
 * libraft's TCP transport, the state machine in control_fsm.c), plus the state shared with
 * other threads under `lock`: the published map snapshot, the cached leader view, the submit
 * queue and the counters.
 *
 * Why libraft's own TCP transport (raft_uv_tcp) and not the data-plane transport: it is the
 * path libraft is tested with; it keeps the control plane independent of the data plane's
 * queues, so a flooded data plane cannot delay an election or a failover; and raft_io stays
 * pluggable, so the simulator drives this same state machine over sim/raft_io.c instead.
 *
 * Thread states (control thread):
 *   control_start ─spawn─> OPENING ─ok─> RUNNING ─(stopping + wake)─> CLOSING ─> exit
 *                                  └fail─> (tears down what it opened) ─> exit
 * control_start waits for OPENING to end, so the caller learns whether Raft started.
 */
#include "runtime/control.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "runtime/control_internal.h"
#include "runtime/control_tunnel.h"
#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/raft_guard.h"

enum {
    /* How often the control thread refreshes the cached leader view and checks for leader
     * duties: a reader's view of leadership is at most this old. */
    CONTROL_TICK_MS = 50,
    /* libraft's wait between connection attempts to a peer (default 1 s): a restarted peer
     * rejoins within a heartbeat or two on a LAN. */
    CONTROL_CONNECT_RETRY_MS = 200,
    /* Raft log segment size: entries are at most CLUSTERMAP_CMD_BYTES_MAX, and the log is
     * snapshotted every few dozen entries, so 8 MiB preallocated segments would be waste. */
    CONTROL_SEGMENT_BYTES = 1024 * 1024,
    /* Entries kept behind a snapshot so a briefly lagging follower catches up by log. */
    CONTROL_SNAPSHOT_TRAILING = 32,
};

static const char *const COMP = "control";

typedef enum { OPEN_NONE, OPEN_LOOP, OPEN_TCP, OPEN_IO, OPEN_FSM, OPEN_RAFT } open_stage_t;

typedef struct submit_item {
    struct submit_item *next;
    size_t len;
    unsigned char bytes[]; /* an encoded clustermap command */
} submit_item_t;

struct control {
    /* Configuration: read-only after control_new. */
    uint32_t self_id;
    char data_dir[CONTROL_DIR_BYTES_MAX + 1];
    uint32_t n_voters;
    control_voter_t voters[CONTROL_VOTERS_MAX];
    uint32_t partitions, rf;
    void *initial_cmd; /* encoded SET_MEMBERS of the initial members (malloc'd) */
    size_t initial_len;
    unsigned heartbeat_ms, election_ms, snapshot_threshold;
    control_on_map_fn on_map;
    void *on_map_arg;
    control_tunnel_send_fn tunnel_send;
    void *tunnel_arg;
    bool tunnel_live; /* under `lock`: the tunnel transport exists, frames may be delivered */

    /* Shared between threads: only under `lock`. */
    pthread_mutex_t lock;
    pthread_cond_t opened_cond;
    bool open_done;
    int open_rc;
    clustermap_t *published;
    bool is_leader;
    uint32_t leader_id;
    int raft_state; /* RAFT_* as of the last look */
    uint64_t term;
    submit_item_t *head, *tail;
    uint32_t queued;
    bool accepting; /* control_submit allowed */
    bool stopping;
    uint64_t dropped;

    /* Control thread only. */
    pthread_t thread;
    bool started; /* (caller thread) the thread runs and must be joined */
    open_stage_t stage;
    bool closing;
    bool barrier_inflight;
    uv_loop_t loop;
    uv_async_t wake;
    uv_timer_t tick;
    struct raft_uv_transport transport;
    struct raft_io io;
    raft_guard_t guard; /* wraps io: raft_guard.h says why */
    struct raft raft;
    struct raft_barrier barrier;
    control_fsm_t fsm;
};

/* ------------------------------------------------------------------ configuration */

static bool s_voters_valid(const control_config_t *cfg)
{
    bool self_found = false;
    if (cfg->n_voters == 0 || cfg->n_voters > CONTROL_VOTERS_MAX)
        return false;
    for (uint32_t i = 0; i < cfg->n_voters; i++) {
        const control_voter_t *v = &cfg->voters[i];
        size_t len = strnlen(v->address, sizeof v->address);
        if (v->id == 0 || len == 0 || len == sizeof v->address)
            return false;
        for (uint32_t j = 0; j < i; j++)
            if (cfg->voters[j].id == v->id)
                return false;
        self_found |= v->id == cfg->self_id;
    }
    return self_found;
}

static bool s_config_valid(const control_config_t *cfg)
{
    if (cfg == NULL || cfg->data_dir == NULL || !s_voters_valid(cfg))
        return false;
    size_t dir_len = strlen(cfg->data_dir);
    if (dir_len == 0 || dir_len > CONTROL_DIR_BYTES_MAX)
        return false;
    unsigned hb = cfg->heartbeat_ms ? cfg->heartbeat_ms : CONTROL_HEARTBEAT_MS_DEFAULT;
    unsigned el = cfg->election_ms ? cfg->election_ms : CONTROL_ELECTION_MS_DEFAULT;
    return hb < el && cfg->n_members <= ROOST_MEMBERS_MAX &&
           (cfg->n_members == 0 || cfg->members != NULL);
}

/* Builds and dry-runs SET_MEMBERS(initial) so a bad member list fails here, not in the log. */
static int s_encode_initial(control_t *self, const control_config_t *cfg)
{
    static_assert(sizeof(clustermap_cmd_t) < 64 * 1024, "command lives on the stack");
    clustermap_cmd_t cmd = {.type = CLUSTERMAP_CMD_SET_MEMBERS};
    for (uint32_t i = 0; i < cfg->n_members; i++) {
        const clustermap_member_t *m = &cfg->members[i];
        if (clustermap_cmd_add_member(&cmd, m->id, m->name, m->address) != ROOST_OK)
            return ROOST_EINVAL;
    }
    clustermap_t *probe = clustermap_new(cfg->partitions, cfg->rf);
    if (probe == NULL)
        return ROOST_EINVAL;
    int rc = clustermap_apply(probe, &cmd, 1);
    clustermap_release(&probe);
    if (rc != ROOST_OK)
        return rc;
    return clustermap_cmd_encode(&cmd, &self->initial_cmd, &self->initial_len);
}

control_t *control_new(const control_config_t *cfg)
{
    if (!s_config_valid(cfg))
        return NULL;
    control_t *self = calloc(1, sizeof *self);
    if (self == NULL)
        return NULL;
    self->self_id = cfg->self_id;
    memcpy(self->data_dir, cfg->data_dir, strlen(cfg->data_dir) + 1);
    self->n_voters = cfg->n_voters;
    memcpy(self->voters, cfg->voters, sizeof self->voters);
    self->partitions = cfg->partitions;
    self->rf = cfg->rf;
    self->heartbeat_ms = cfg->heartbeat_ms ? cfg->heartbeat_ms : CONTROL_HEARTBEAT_MS_DEFAULT;
    self->election_ms = cfg->election_ms ? cfg->election_ms : CONTROL_ELECTION_MS_DEFAULT;
    self->snapshot_threshold =
        cfg->snapshot_threshold ? cfg->snapshot_threshold : CONTROL_SNAPSHOT_THRESHOLD_DEFAULT;
    self->on_map = cfg->on_map;
    self->on_map_arg = cfg->on_map_arg;
    self->tunnel_send = cfg->tunnel_send;
    self->tunnel_arg = cfg->tunnel_arg;
    self->published = clustermap_new(cfg->partitions, cfg->rf);
    if (self->published == NULL || s_encode_initial(self, cfg) != ROOST_OK) {
        clustermap_release(&self->published);
        free(self->initial_cmd);
        free(self);
        return NULL;
    }
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->opened_cond, NULL);
    return self;
}

/* ------------------------------------------------------------------ control thread: leader view */

static void s_refresh_leader(control_t *self)
{
    raft_id id = 0;
    const char *address = NULL;
    raft_leader(&self->raft, &id, &address);
    bool leader = raft_state(&self->raft) == RAFT_LEADER;
    pthread_mutex_lock(&self->lock);
    self->is_leader = leader;
    self->leader_id = (uint32_t)id;
    self->raft_state = raft_state(&self->raft);
    self->term = self->raft.current_term;
    pthread_mutex_unlock(&self->lock);
}

/* The fsm's publish hook: share an immutable copy, then tell the consumer. */
static void s_publish(void *arg, const clustermap_t *map)
{
    control_t *self = arg;
    clustermap_t *copy = clustermap_copy(map);
    if (copy == NULL) {
        ROOST_ERROR(COMP, "out of memory publishing map; readers keep the previous one", NULL);
    } else {
        pthread_mutex_lock(&self->lock);
        clustermap_t *old = self->published;
        self->published = copy;
        pthread_mutex_unlock(&self->lock);
        clustermap_release(&old);
    }
    s_refresh_leader(self);
    if (self->on_map != NULL)
        self->on_map(self->on_map_arg, map);
}

/* ------------------------------------------------------------------ control thread: applying */

static void s_on_applied(struct raft_apply *req, int status, void *result)
{
    (void)result;
    if (status != 0)
        ROOST_INFO(COMP, "command not committed", "err=\"%s\"", raft_strerror(status));
    free(req);
}

/* Proposes an encoded command (framed into a fresh raft_malloc'd entry; `bytes` stays the
 * caller's). Returns 0, ROOST_ENOTLEADER, ROOST_ENOMEM or ROOST_EIO. */
static int s_propose(control_t *self, const void *bytes, size_t len)
{
    struct raft_apply *req = malloc(sizeof *req);
    struct raft_buffer buf = {0};
    int rc = req != NULL ? control_fsm_frame(bytes, len, &buf) : ROOST_ENOMEM;
    if (rc != ROOST_OK) {
        free(req);
        return rc;
    }
    req->data = self;
    int rv = raft_apply(&self->raft, req, &buf, 1, s_on_applied);
    if (rv != 0) {
        free(req);
        raft_free(buf.base);
        return rv == RAFT_NOTLEADER ? ROOST_ENOTLEADER : ROOST_EIO;
    }
    return ROOST_OK;
}

/* After a barrier every earlier entry is applied: if the map is still empty, no leader ever
 * committed the initial members, and this one does. */
static void s_on_barrier(struct raft_barrier *req, int status)
{
    control_t *self = req->data;
    self->barrier_inflight = false;
    if (status != 0 || self->closing || raft_state(&self->raft) != RAFT_LEADER)
        return;
    if (clustermap_member_count(self->fsm.map) > 0)
        return;
    int rc = s_propose(self, self->initial_cmd, self->initial_len);
    ROOST_INFO(COMP, "proposing initial members", "err=%s", roost_strerror(rc));
}

static void s_leader_duties(control_t *self)
{
    if (self->barrier_inflight || self->closing || raft_state(&self->raft) != RAFT_LEADER)
        return;
    if (clustermap_member_count(self->fsm.map) > 0 || self->initial_len == 0)
        return;
    self->barrier.data = self;
    if (raft_barrier(&self->raft, &self->barrier, s_on_barrier) == 0)
        self->barrier_inflight = true;
}

static void s_on_tick(uv_timer_t *timer)
{
    control_t *self = timer->data;
    s_refresh_leader(self);
    s_leader_duties(self);
}

/* ------------------------------------------------------------------ control thread: queue */

static void s_begin_close(control_t *self);

static void s_on_wake(uv_async_t *handle)
{
    control_t *self = handle->data;
    pthread_mutex_lock(&self->lock);
    submit_item_t *item = self->head;
    self->head = self->tail = NULL;
    self->queued = 0;
    bool stop = self->stopping;
    pthread_mutex_unlock(&self->lock);

    uint64_t dropped = 0;
    while (item != NULL) {
        submit_item_t *next = item->next;
        bool leader = !stop && !self->closing && raft_state(&self->raft) == RAFT_LEADER;
        if (!leader || s_propose(self, item->bytes, item->len) != ROOST_OK)
            dropped++;
        free(item);
        item = next;
    }
    pthread_mutex_lock(&self->lock);
    self->dropped += dropped;
    pthread_mutex_unlock(&self->lock);
    if (stop && !self->closing)
        s_begin_close(self);
}

/* ------------------------------------------------------------------ control thread: open/close */

static int s_bootstrap_if_pristine(control_t *self)
{
    struct raft_configuration conf;
    raft_configuration_init(&conf);
    int rv = 0;
    for (uint32_t i = 0; i < self->n_voters && rv == 0; i++)
        rv = raft_configuration_add(&conf, self->voters[i].id, self->voters[i].address, RAFT_VOTER);
    if (rv == 0)
        rv = raft_bootstrap(&self->raft, &conf);
    raft_configuration_close(&conf);
    if (rv == RAFT_CANTBOOTSTRAP)
        return 0; /* the data dir already holds a log: start from it */
    return rv;
}

static const char *s_self_address(const control_t *self)
{
    for (uint32_t i = 0; i < self->n_voters; i++)
        if (self->voters[i].id == self->self_id)
            return self->voters[i].address;
    assert(false); /* control_new checked that self is a voter */
    return NULL;
}

static int s_start_raft(control_t *self)
{
    int rv = s_bootstrap_if_pristine(self);
    if (rv != 0)
        return rv;
    raft_set_heartbeat_timeout(&self->raft, self->heartbeat_ms);
    raft_set_election_timeout(&self->raft, self->election_ms);
    raft_set_install_snapshot_timeout(&self->raft,
                                      CONTROL_INSTALL_SNAPSHOT_ELECTIONS * self->election_ms);
    raft_set_snapshot_threshold(&self->raft, self->snapshot_threshold);
    raft_set_snapshot_trailing(&self->raft, CONTROL_SNAPSHOT_TRAILING);
    raft_set_pre_vote(&self->raft, true); /* a node cut off and back cannot depose the leader */
    rv = raft_start(&self->raft);
    if (rv != 0)
        return rv;
    return uv_timer_start(&self->tick, s_on_tick, CONTROL_TICK_MS, CONTROL_TICK_MS);
}

/* Opens everything in order, recording how far it got in self->stage for s_teardown. */
static int s_open(control_t *self)
{
    if (uv_loop_init(&self->loop) != 0)
        return -1;
    self->stage = OPEN_LOOP;
    uv_async_init(&self->loop, &self->wake, s_on_wake); /* can't fail on an open loop */
    uv_timer_init(&self->loop, &self->tick);
    self->wake.data = self->tick.data = self;
    if (self->tunnel_send) {
        control_tunnel_config_t tc = {.self_id = self->self_id,
                                      .n_voters = self->n_voters,
                                      .voters = self->voters,
                                      .send = self->tunnel_send,
                                      .send_arg = self->tunnel_arg};
        if (control_tunnel_init(&self->transport, &self->loop, &tc) != 0)
            return -1;
        pthread_mutex_lock(&self->lock);
        self->tunnel_live = true;
        pthread_mutex_unlock(&self->lock);
    } else if (raft_uv_tcp_init(&self->transport, &self->loop) != 0) {
        return -1;
    }
    self->stage = OPEN_TCP;
    if (raft_uv_init(&self->io, &self->loop, self->data_dir, &self->transport) != 0)
        return -1;
    self->stage = OPEN_IO;
    raft_uv_set_segment_size(&self->io, CONTROL_SEGMENT_BYTES);
    raft_uv_set_connect_retry_delay(&self->io, CONTROL_CONNECT_RETRY_MS);
    if (control_fsm_init(&self->fsm, &self->raft, self->partitions, self->rf, s_publish, self))
        return -1;
    self->stage = OPEN_FSM;
    raft_guard_init(&self->guard, &self->io);
    if (raft_init(&self->raft, &self->guard.io, &self->fsm.fsm, self->self_id,
                  s_self_address(self)))
        return -1;
    self->stage = OPEN_RAFT;
    self->raft.data = self;
    return s_start_raft(self);
}

/* Starts closing the handles and Raft; the loop ends once every close callback has run. */
static void s_begin_close(control_t *self)
{
    self->closing = true;
    if (self->stage >= OPEN_RAFT)
        raft_close(&self->raft, NULL); /* fails pending applies/barriers, closes io + transport */
    uv_timer_stop(&self->tick);
    uv_close((uv_handle_t *)&self->tick, NULL);
    uv_close((uv_handle_t *)&self->wake, NULL);
}

/* After the loop has ended: frees what the close callbacks leave to us. */
static void s_teardown(control_t *self)
{
    if (self->stage >= OPEN_LOOP)
        uv_run(&self->loop, UV_RUN_DEFAULT); /* let any remaining close callbacks run */
    if (self->stage >= OPEN_FSM)
        control_fsm_close(&self->fsm);
    if (self->stage >= OPEN_IO)
        raft_uv_close(&self->io);
    if (self->stage >= OPEN_TCP && self->tunnel_send) {
        pthread_mutex_lock(&self->lock);
        self->tunnel_live = false;
        control_tunnel_free(&self->transport);
        pthread_mutex_unlock(&self->lock);
    } else if (self->stage >= OPEN_TCP) {
        raft_uv_tcp_close(&self->transport);
    }
    if (self->stage >= OPEN_LOOP) {
        int rv = uv_loop_close(&self->loop);
        if (rv != 0)
            ROOST_WARN(COMP, "loop closed with live handles", "err=%s", uv_strerror(rv));
    }
    self->stage = OPEN_NONE;
}

static void s_report_open(control_t *self, int rc)
{
    pthread_mutex_lock(&self->lock);
    self->open_rc = rc;
    self->open_done = true;
    self->accepting = rc == ROOST_OK;
    pthread_cond_signal(&self->opened_cond);
    pthread_mutex_unlock(&self->lock);
}

static void *s_main(void *arg)
{
    control_t *self = arg;
    pthread_setname_np(pthread_self(), "roost-control");
    if (s_open(self) != 0) {
        const char *why = self->stage >= OPEN_RAFT ? raft_errmsg(&self->raft) : "init";
        ROOST_ERROR(COMP, "raft failed to start", "dir=%s why=\"%s\"", self->data_dir, why);
        if (self->stage >= OPEN_LOOP)
            s_begin_close(self);
        s_teardown(self);
        s_report_open(self, ROOST_EIO);
        return NULL;
    }
    ROOST_INFO(COMP, "raft started", "id=%u voters=%u", self->self_id, self->n_voters);
    s_report_open(self, ROOST_OK);
    uv_run(&self->loop, UV_RUN_DEFAULT);
    s_teardown(self);
    return NULL;
}

/* ------------------------------------------------------------------ public API */

int control_start(control_t *self)
{
    assert(self != NULL);
    if (self->started)
        return ROOST_EINVAL;
    if (mkdir(self->data_dir, 0700) != 0 && errno != EEXIST) {
        ROOST_ERROR(COMP, "cannot create data dir", "dir=%s errno=%d", self->data_dir, errno);
        return ROOST_EIO;
    }
    if (pthread_create(&self->thread, NULL, s_main, self) != 0)
        return ROOST_EIO;
    pthread_mutex_lock(&self->lock);
    while (!self->open_done)
        pthread_cond_wait(&self->opened_cond, &self->lock);
    int rc = self->open_rc;
    pthread_mutex_unlock(&self->lock);
    if (rc != ROOST_OK) {
        pthread_join(self->thread, NULL);
        return rc;
    }
    self->started = true;
    return ROOST_OK;
}

void control_destroy(control_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    control_t *self = *self_p;
    *self_p = NULL;
    if (self->started) {
        pthread_mutex_lock(&self->lock);
        self->stopping = true;
        self->accepting = false;
        pthread_mutex_unlock(&self->lock);
        uv_async_send(&self->wake);
        pthread_join(self->thread, NULL);
    }
    while (self->head != NULL) {
        submit_item_t *next = self->head->next;
        free(self->head);
        self->head = next;
    }
    clustermap_release(&self->published);
    free(self->initial_cmd);
    pthread_cond_destroy(&self->opened_cond);
    pthread_mutex_destroy(&self->lock);
    free(self);
}

int control_submit(control_t *self, const clustermap_cmd_t *cmd)
{
    assert(self != NULL && cmd != NULL);
    void *bytes;
    size_t len;
    int rc = clustermap_cmd_encode(cmd, &bytes, &len);
    if (rc != ROOST_OK)
        return rc;
    submit_item_t *item = malloc(sizeof *item + len);
    if (item == NULL) {
        free(bytes);
        return ROOST_ENOMEM;
    }
    item->next = NULL;
    item->len = len;
    memcpy(item->bytes, bytes, len);
    free(bytes);
    pthread_mutex_lock(&self->lock);
    rc = !self->accepting                           ? ROOST_ECLOSED
         : self->queued >= CONTROL_SUBMIT_QUEUE_MAX ? ROOST_EAGAIN
                                                    : ROOST_OK;
    if (rc == ROOST_OK) {
        if (self->tail != NULL)
            self->tail->next = item;
        else
            self->head = item;
        self->tail = item;
        self->queued++;
        uv_async_send(&self->wake); /* under the lock: destroy cannot close `wake` meanwhile */
    }
    pthread_mutex_unlock(&self->lock);
    if (rc != ROOST_OK)
        free(item);
    return rc;
}

bool control_is_leader(control_t *self)
{
    pthread_mutex_lock(&self->lock);
    bool leader = self->is_leader;
    pthread_mutex_unlock(&self->lock);
    return leader;
}

uint32_t control_leader_id(control_t *self)
{
    pthread_mutex_lock(&self->lock);
    uint32_t id = self->leader_id;
    pthread_mutex_unlock(&self->lock);
    return id;
}

const char *control_raft_role(control_t *self, uint64_t *term)
{
    pthread_mutex_lock(&self->lock);
    int state = self->raft_state;
    *term = self->term;
    pthread_mutex_unlock(&self->lock);
    return state == RAFT_LEADER      ? "leader"
           : state == RAFT_CANDIDATE ? "candidate"
           : state == RAFT_FOLLOWER  ? "follower"
                                     : "unavailable";
}

clustermap_t *control_map_get(control_t *self)
{
    pthread_mutex_lock(&self->lock);
    clustermap_t *map = clustermap_retain(self->published);
    pthread_mutex_unlock(&self->lock);
    return map;
}

uint64_t control_dropped(control_t *self)
{
    pthread_mutex_lock(&self->lock);
    uint64_t n = self->dropped;
    pthread_mutex_unlock(&self->lock);
    return n;
}

void control_tunnel_frame(control_t *self, uint32_t from, const void *frame, size_t len)
{
    if (!self)
        return;
    pthread_mutex_lock(&self->lock); /* the tunnel is freed under it */
    if (self->tunnel_live)
        control_tunnel_deliver(&self->transport, from, frame, len);
    pthread_mutex_unlock(&self->lock);
}
