/* edge/sms.c — the development SMS sink (see sms.h). */
#include "edge/sms.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int sms_file_send(const char *path, const char *phone, const char *code)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%s %s\n", phone, code);
    if (n <= 0 || (size_t)n >= sizeof line)
        return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, line, (size_t)n);
    close(fd);
    return w == n ? 0 : -1;
}
