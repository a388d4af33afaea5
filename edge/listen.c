/* edge/listen.c — the edge's own listening socket, shared with the other edge processes of the
 * host through SO_REUSEPORT (the kernel spreads new connections over them). Debian's
 * libwebsockets 4.1 does not set SO_REUSEPORT on its listener, so the edge listens itself: the
 * socket is adopted into the lws loop as a raw descriptor, and each accepted connection is
 * handed to lws as if its own listener had taken it (lws_adopt_socket_vhost). When the
 * process is out of descriptors, a reserved one is given up to accept and close the newcomer
 * (otherwise the listener would stay readable and the loop would spin). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "edge/edge_internal.h"
#include "runtime/log.h"

static const char *const COMP = "edge";

enum { BACKLOG = 4096 };

int listen_open(const char *host, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, BACKLOG) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void s_accept_all(edge_t *e)
{
    for (;;) {
        int fd = accept4(e->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE) && e->spare_fd >= 0) {
            close(e->spare_fd); /* make room to accept and refuse the newcomer */
            fd = accept(e->listen_fd, NULL, NULL);
            if (fd >= 0)
                close(fd);
            e->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            metrics_counter_add(e->m.refused, 1);
            ROOST_WARN(COMP, "out of descriptors: connection refused", "limit_hit=%d", 1);
            continue;
        }
        if (fd < 0)
            return; /* EAGAIN: all taken */
        if (!lws_adopt_socket_vhost(e->vhost, fd))
            metrics_counter_add(e->m.refused, 1); /* lws closed it */
    }
}

int listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user, (void)in, (void)len;
    edge_t *e = lws_context_user(lws_get_context(wsi));
    if (reason == LWS_CALLBACK_RAW_RX_FILE)
        s_accept_all(e);
    return 0;
}

int listen_adopt(edge_t *e)
{
    e->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    lws_sock_file_fd_type fd = {.filefd = e->listen_fd};
    return lws_adopt_descriptor_vhost(e->vhost, LWS_ADOPT_RAW_FILE_DESC, fd, "roost-listen", NULL)
               ? 0
               : -1;
}
