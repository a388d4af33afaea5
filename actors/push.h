/* actors/push.h — what a session does with an inbox event the user actor pushes
 * (MSG_PUSH_EVENT [prev, frame]), given `got`: the last n it received in order. The edge and
 * the simulator's phones apply the same rule.
 *
 *   n <= got                  a duplicate (a rewind or a failover resends): dropped;
 *   prev == got or prev == 0  in order (prev 0: the first event of a new registration);
 *   otherwise                 an event was lost on the way: dropped, and the session asks
 *                             MSG_SESSION_RESEND [device, session, got] (everything after
 *                             `got` comes again, in order).
 * Without this a lost push left a hole the client's cumulative recv.ack then covered: the
 * message never reached that device (found by the simulator, docs/simulation.md).
 */
#ifndef ROOST_ACTORS_PUSH_H
#define ROOST_ACTORS_PUSH_H

#include <stdint.h>

typedef enum { PUSH_IN_ORDER, PUSH_DUPLICATE, PUSH_GAP } push_verdict_t;

static inline push_verdict_t push_verdict(uint64_t got, uint64_t prev, uint64_t n)
{
    if (n <= got)
        return PUSH_DUPLICATE;
    return prev == got || prev == 0 ? PUSH_IN_ORDER : PUSH_GAP;
}

#endif
