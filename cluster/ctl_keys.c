/* cluster/ctl_keys.c — `roostctl keys gen`: a new CurveZMQ key pair for a node (Z85 text, as
 * libzmq makes it). The public key goes into the manifest; the secret key stays on the node's
 * host, readable only by the daemon's user. */
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "cluster/ctl.h"

int ctl_keys(const ctl_opts_t *o, const char *sub)
{
    if (!sub || strcmp(sub, "gen") != 0) {
        fprintf(stderr, "roostctl: keys takes one subcommand: gen\n");
        return 2;
    }
    char pub[41], sec[41];
    if (zmq_curve_keypair(pub, sec) != 0) {
        fprintf(stderr, "roostctl: this libzmq has no CURVE support\n");
        return 1;
    }
    if (o->json)
        printf("{\"public\":\"%s\",\"secret\":\"%s\"}\n", pub, sec);
    else
        printf("%-8s %s\n%-8s %s\n", "PUBLIC", pub, "SECRET", sec);
    memset(sec, 0, sizeof sec);
    return 0;
}
