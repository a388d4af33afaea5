/* runtime/log.h — one logfmt line per event on stderr.
 *
 *   ts=2026-11-29T05:50:01.123Z level=info node=shard-1 comp=transport msg="peer up" peer=shard-2
 *
 * The node name and the level threshold are the process's read-only configuration snapshot,
 * set once at start-up (roost_log_init) before any thread starts; logging itself is thread-safe
 * (one write(2) per line). Callers pass extra key=value pairs already formatted in `fmt`.
 */
#ifndef ROOST_LOG_H
#define ROOST_LOG_H

#include <stdbool.h>

typedef enum { ROOST_LOG_DEBUG, ROOST_LOG_INFO, ROOST_LOG_WARN, ROOST_LOG_ERROR } roost_log_level_t;

/* Sets the node name (copied, truncated to 63 bytes) and the threshold. Not thread-safe:
 * call before starting threads. */
void roost_log_init(const char *node, roost_log_level_t level);

/* Names what this thread runs now in place of the node name (NULL: the node name again), for a
 * process that runs several nodes on one thread: the simulator tags each node's turn. */
void roost_log_tag(const char *tag);

/* True once roost_log_init named the node (a daemon); false in a process of several nodes. */
bool roost_log_has_node(void);

/* Parses "debug" | "info" | "warn" | "error"; returns -1 for anything else. */
int roost_log_level_parse(const char *name);

/* `msg` is quoted for you; `fmt` (may be NULL) formats the trailing key=value pairs. */
void roost_log(roost_log_level_t level, const char *comp, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define ROOST_DEBUG(comp, msg, ...) roost_log(ROOST_LOG_DEBUG, comp, msg, __VA_ARGS__)
#define ROOST_INFO(comp, msg, ...)  roost_log(ROOST_LOG_INFO, comp, msg, __VA_ARGS__)
#define ROOST_WARN(comp, msg, ...)  roost_log(ROOST_LOG_WARN, comp, msg, __VA_ARGS__)
#define ROOST_ERROR(comp, msg, ...) roost_log(ROOST_LOG_ERROR, comp, msg, __VA_ARGS__)

#endif
