/* cluster/faults.h — fault injection for tests: cut this node's data-plane links to chosen
 * peers while it runs, through the transport's block hook.
 *
 * Built only into test builds (CMake ROOST_FAULT_INJECTION, on with sanitizers); release
 * builds link faults_off.c, where faults_new returns NULL and nothing can be injected.
 * roostd reads $ROOST_FAULTS at start: the path of a file the test writes, re-read on every
 * heartbeat tick. Its words: "block <id> <id> …" (the peers to cut, both directions on this
 * side) and "hold-fanout" (conversations hold their fan-out: a message is acknowledged but
 * reaches no inbox while it is set); an empty or missing file heals every link and holds
 * nothing.
 */
#ifndef ROOST_FAULTS_H
#define ROOST_FAULTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "runtime/transport.h"

typedef struct faults faults_t;

/* NULL when path is NULL or fault injection is not built in. */
faults_t *faults_new(const char *path, roost_transport_t *transport, const uint32_t *peers,
                     uint32_t npeers);
/* The flag "hold-fanout" sets (the messaging actors' config). Safe on NULL. */
void faults_hold_fanout(faults_t *f, atomic_bool *flag);
/* Applies the file's current content. Safe on NULL. */
void faults_poll(faults_t *f);
void faults_destroy(faults_t **f_p);

#endif
