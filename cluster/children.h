/* cluster/children.h — stopping the child processes we started, bounded: SIGTERM to each,
 * then SIGKILL for any still running after a wait. roostctl up and roost-bench share it. */
#ifndef ROOST_CLUSTER_CHILDREN_H
#define ROOST_CLUSTER_CHILDREN_H

#include <stddef.h>
#include <sys/types.h>

/* Told of child i (pids[i] before it was cleared), killed after wait_ms without stopping. */
typedef void (*children_killed_fn)(size_t i, pid_t pid, void *arg);

/* SIGTERM to every pids[i] > 0, reaps them as they exit, and after wait_ms SIGKILLs and reaps
 * the rest (on_killed, if given, names each). Every pids[i] is 0 on return. Only our own
 * children: a pid we cannot wait for counts as gone. Returns how many were killed. */
size_t children_stop(pid_t *pids, size_t n, int wait_ms, children_killed_fn on_killed, void *arg);

#endif
