/* runtime/raft_guard.h — a struct raft_io that wraps another (raft_uv in roostd, the simulator's
 * in sim/) and keeps a follower from claiming more of the leader's log than it has shown to hold.
 *
 * libraft 0.15's leader takes a successful AppendEntries result's last_log_index as the
 * follower's match index, and a follower answers a heartbeat with the end of its own log. A
 * follower holding an uncommitted entry of an older term past the heartbeat's prev_log_index
 * (it led that term, cut off) is then counted as holding the leader's entry at that index: the
 * leader ignores its later rejections as stale, the follower never applies another entry, and
 * the leader may count it toward a commit it does not hold (found by the simulator, seed 1223
 * with phones, session 11). The guard bounds the last_log_index of a success result sent while
 * an AppendEntries is being handled to that message's prev_log_index + n_entries — what its
 * acceptance proves. Results sent later (after the follower's disk write) end where the written
 * entries end and pass unchanged. Everything else is forwarded as is.
 */
#ifndef ROOST_RAFT_GUARD_H
#define ROOST_RAFT_GUARD_H

#include <raft.h>
#include <stdint.h>

typedef struct {
    struct raft_io io; /* hand this to raft_init */
    struct raft_io *inner;
    raft_io_tick_cb tick;
    raft_io_recv_cb recv;
    raft_io_close_cb close_cb;
    const struct raft_message *handling; /* the AppendEntries being received, if any */
    uint64_t bounded;                    /* results whose last_log_index it lowered */
} raft_guard_t;

/* Wraps inner (initialized, not yet handed to raft_init); the guard must outlive both. */
void raft_guard_init(raft_guard_t *self, struct raft_io *inner);

#endif
