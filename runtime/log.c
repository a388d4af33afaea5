/* runtime/log.c — logfmt lines on stderr; see log.h. */
#include "runtime/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { LOG_LINE_BYTES_MAX = 1024 }; /* longer lines are cut: a log line is not a data channel */

static char s_node[64] = "-";
static _Thread_local const char *t_tag; /* see roost_log_tag */
static roost_log_level_t s_level = ROOST_LOG_INFO;
static const char *const s_level_names[] = {"debug", "info", "warn", "error"};

void roost_log_init(const char *node, roost_log_level_t level)
{
    snprintf(s_node, sizeof s_node, "%s", node ? node : "-");
    s_level = level;
}

void roost_log_tag(const char *tag)
{
    t_tag = tag;
}

bool roost_log_has_node(void)
{
    return strcmp(s_node, "-") != 0;
}

int roost_log_level_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, s_level_names[i]) == 0)
            return i;
    return -1;
}

static size_t s_timestamp(char *out, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts); /* log timestamps are wall time by definition */
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(out + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return n;
}

void roost_log(roost_log_level_t level, const char *comp, const char *msg, const char *fmt, ...)
{
    if (level < s_level)
        return;
    char line[LOG_LINE_BYTES_MAX];
    char ts[40];
    s_timestamp(ts, sizeof ts);
    int n = snprintf(line, sizeof line - 2, "ts=%s level=%s node=%s comp=%s msg=\"%s\"", ts,
                     s_level_names[level], t_tag ? t_tag : s_node, comp, msg);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)(sizeof line - 2);
    if (fmt && (size_t)n < sizeof line - 3) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(line + n, sizeof line - 2 - (size_t)n, fmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
        if ((size_t)n > sizeof line - 2)
            n = (int)(sizeof line - 2);
    }
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
