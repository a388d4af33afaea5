/* tests/support/ports.h — a free TCP port on 127.0.0.1 for a test server.
 *
 * Chosen below the kernel's ephemeral range (32768–60999 here): a port from that range can be
 * taken, while its node is down between a kill and a restart, as the source port of some
 * outgoing connection (the peers keep reconnecting to it), and the restart then fails to bind.
 * Random in [20000, 32000) and checked by binding it; a tiny window remains between closing
 * the check and the server's own bind. */
#ifndef ROOST_TEST_PORTS_H
#define ROOST_TEST_PORTS_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline bool test_port_bindable(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static inline int test_free_port(void)
{
    static int given[256]; /* never the same port twice in one process (one manifest) */
    static unsigned ngiven;
    static uint64_t state;
    if (!state) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        state = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_sec;
    }
    for (int tries = 0; tries < 1000; tries++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        int port = 20000 + (int)((state >> 33) % 12000);
        bool seen = false;
        for (unsigned i = 0; i < ngiven && i < 256; i++)
            seen |= given[i] == port;
        if (seen || !test_port_bindable(port))
            continue;
        given[ngiven++ % 256] = port;
        return port;
    }
    return -1;
}

#endif
