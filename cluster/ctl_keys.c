/* cluster/ctl_keys.c — `roostctl keys gen [--out PATH]`: a new CurveZMQ key pair for a node or
 * an operator. Printed as Z85 text (as libzmq makes it), or saved as a CZMQ certificate: PATH
 * (the public half, for the manifest's curve_cert or anyone) and PATH_secret (mode 0600, for the
 * node's or operator's host only). The public key goes into the manifest (curve_public), the
 * secret never does. */
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "cluster/ctl.h"
#include "cluster/curve_keys.h"

static int s_save(const ctl_opts_t *o)
{
    char err[512] = "", pub[41];
    bool made = false;
    if (curve_generate(NULL, o->out, &made, err, sizeof err) != 0) {
        fprintf(stderr, "roostctl keys gen: %s\n", err);
        return 1;
    }
    if (!made) {
        fprintf(stderr, "roostctl keys gen: %s_secret exists; not replacing a key\n", o->out);
        return 1;
    }
    uint8_t key[CURVE_KEY_BYTES];
    if (curve_public_key(NULL, NULL, o->out, key, err, sizeof err) != 0) {
        fprintf(stderr, "roostctl keys gen: %s\n", err);
        return 1;
    }
    zmq_z85_encode(pub, key, sizeof key);
    if (o->json)
        printf("{\"public\":\"%s\",\"cert\":\"%s\",\"secret_file\":\"%s_secret\"}\n", pub, o->out,
               o->out);
    else
        printf("%-12s %s\n%-12s %s\n%-12s %s_secret\n", "PUBLIC", pub, "CERT", o->out,
               "SECRET FILE", o->out);
    return 0;
}

int ctl_keys(const ctl_opts_t *o, const char *sub)
{
    if (!sub || strcmp(sub, "gen") != 0) {
        fprintf(stderr, "roostctl: keys takes one subcommand: gen [--out PATH]\n");
        return 2;
    }
    if (o->out)
        return s_save(o);
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
