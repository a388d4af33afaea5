/* sim/chat.h — simulated phones speaking the client protocol to the real messaging actors.
 *
 * M phones, each a user with two devices living as actors on the client node, where an edge's
 * sessions would. The first device ("d1") claims its phone number, authenticates, then sends
 * text messages to random other users or to a group it is in (groups of five consecutive
 * phones, created by their first member once all have accounts; a fresh cmid each; a failed
 * or unanswered send is sent again with the same cmid until it is answered ok), reads,
 * receives pushes, acknowledges them (`recv.ack`) and renews its session every 10 s as an edge
 * does. The second ("d2", the twin) claims the number racing the first claim, authenticates,
 * receives and acknowledges, and logs in again now and then. Everything the devices see is
 * recorded for the checkers:
 *   M1. every acknowledged send reaches both devices of its recipient, or of every other
 *       member in a group, and its sender's twin (at least once; once after dedupe by mid) —
 *       a twin is owed what was first sent after its claim was answered;
 *   M2. a device sees each conversation's messages in increasing seq (after dedupe by mid);
 *   M3. one (conversation, seq) is one message everywhere, and a retried cmid is always
 *       answered the same mid and seq;
 *   M4. liveness: after the faults stop, every send is acknowledged and delivered;
 *   M5. receipts never go backwards, a `delivered` one covers only messages one of its
 *       reader's devices has, a `read` one only what the reader said it read (phones send
 *       `read` now and then);
 *   M6. a phone number is one user and a user one phone: every claim of a number (by either
 *       device, first or later) names the same user, and no two numbers name one user.
 * Groups change members — the admin removes and adds back, members leave, the admin promotes
 * and demotes (chat_groups.c) — and phones block each other (chat_blocks.c): M1 holds
 * for the recipients a message is owed to, and one that was out of the group or blocking its
 * sender all along never gets it.
 */
#ifndef ROOST_SIM_CHAT_H
#define ROOST_SIM_CHAT_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/actor.h"

struct sim_world;
typedef struct sim_chat sim_chat_t;

extern const roost_behaviour_t sim_device_behaviour;

typedef struct {
    uint32_t phones, sends_each;
    bool verbose;
    const uint64_t *now_ns; /* the world's clock */
    uint32_t partitions;    /* the cluster's */
    bool may_lose;          /* sync: none (see suspect_t in chat_internal.h) */
} sim_chat_config_t;

sim_chat_t *sim_chat_new(const sim_chat_config_t *cfg);
void sim_chat_destroy(sim_chat_t **self_p);
/* Lets every device that is due take its next step (claim, auth, send, ack, renew). */
void sim_chat_tick(struct sim_world *w);
/* True once every send is acknowledged and delivered (or, under sync: none, lost inside the
 * store's loss window). */
bool sim_chat_quiet(const struct sim_world *w);
/* With --edges: the client node hosts the phones' sessions (the edge's own session actor,
 * edge/session.h) and signs their access tokens (sim/chat_edge.c). */
void sim_chat_edge_host(struct sim_world *w);
/* A fault: the edge restarts, and every connection drops (the phones connect again). */
void sim_chat_edge_restart(struct sim_world *w);
/* Prints what keeps the chat from being quiet (stderr). */
void sim_chat_report(struct sim_world *w);

typedef struct {
    uint32_t violations;
    char first[256];
    uint64_t sends, acked, delivered, duplicates, receipts;
    uint64_t groups, group_sends; /* groups created, messages sent to them */
    uint64_t claims;              /* claim answers checked (M6) */
    uint64_t moves;          /* members removed or added back by their group's admin, or leaving */
    uint64_t leaves;         /* …of which leaves (group.leave) answered */
    uint64_t role_changes;   /* promotions and demotions asked for */
    uint64_t refused;        /* group sends refused: their sender had been removed */
    uint64_t withheld;       /* (send, recipient out of its group or blocking all along) */
    uint64_t blocks;         /* blocks and unblocks asked for */
    uint64_t prekeys;        /* one-time prekeys handed out (each once: M6) */
    uint64_t reconnects;     /* --edges: connections closed (by a session or a restart) */
    uint64_t lost_in_window; /* sync: none — messages lost, and the violations their loss
                              * explains, inside the store's loss window (excused) */
} sim_chat_check_t;
/* Adds the chat invariants' violations (M1–M3; M3 is also checked as answers arrive). */
void sim_chat_check(const struct sim_world *w, sim_chat_check_t *out);

#endif
