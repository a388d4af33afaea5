/* cluster/roostd.c — `roostd --manifest M --node NAME`: runs one Roost node in the foreground
 * until SIGINT or SIGTERM. Exit codes: 0 clean stop, 1 failed to start, 2 bad usage or manifest.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/daemon.h"
#include "cluster/manifest.h"
#include "runtime/fault.h"
#include "runtime/log.h"

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: roostd --manifest FILE --node NAME [--data-root DIR] [--log-level LEVEL]\n"
            "\n"
            "Runs the node NAME of the cluster manifest FILE in the foreground.\n"
            "  --manifest FILE    cluster manifest (apiVersion roost/v1), see docs/manifest.md\n"
            "  --node NAME        which node of the manifest this process is\n"
            "  --data-root DIR    prefix for relative data_dir paths (default: current dir)\n"
            "  --log-level LEVEL  debug | info | warn | error (default info)\n"
            "Stops cleanly on SIGINT or SIGTERM. SIGUSR1 drains an edge node (clients get goaway)\n"
            "and stops it once no connection is left (or at edge.drain_deadline_ms).\n"
            "Exit: 0 stopped, 1 failed, 2 bad usage.\n");
}

typedef struct {
    const char *manifest, *node, *data_root, *log_level;
} args_t;

static int s_args(int argc, char **argv, args_t *a)
{
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        if (strcmp(k, "--help") == 0 || strcmp(k, "-h") == 0) {
            s_usage(stdout);
            exit(0);
        }
        const char **slot = strcmp(k, "--manifest") == 0    ? &a->manifest
                            : strcmp(k, "--node") == 0      ? &a->node
                            : strcmp(k, "--data-root") == 0 ? &a->data_root
                            : strcmp(k, "--log-level") == 0 ? &a->log_level
                                                            : NULL;
        if (!slot || i + 1 >= argc) {
            fprintf(stderr, "roostd: %s: %s\n", k, slot ? "needs a value" : "unknown option");
            return -1;
        }
        *slot = argv[++i];
    }
    if (!a->manifest || !a->node) {
        fprintf(stderr, "roostd: --manifest and --node are required\n");
        return -1;
    }
    return 0;
}

/* Waits for SIGINT/SIGTERM, or after SIGUSR1 (drain) for the drain to finish; the signal. */
static int s_wait(daemon_t *d, const sigset_t *set)
{
    bool draining = false;
    for (;;) {
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
        int sig = sigtimedwait(set, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM)
            return sig;
        if (sig == SIGUSR1 && !draining) {
            ROOST_INFO("roostd", "drain requested", "signal=%d", sig);
            daemon_drain(d);
        }
        draining = daemon_draining(d); /* or asked through the admin channel */
        if (draining && daemon_drained(d))
            return SIGUSR1;
    }
}

int main(int argc, char **argv)
{
    args_t a = {.log_level = "info"};
    if (s_args(argc, argv, &a) != 0) {
        s_usage(stderr);
        return 2;
    }
    int level = roost_log_level_parse(a.log_level);
    if (level < 0) {
        fprintf(stderr, "roostd: --log-level: \"%s\" is not debug|info|warn|error\n", a.log_level);
        return 2;
    }
    static manifest_t m;
    char err[MANIFEST_ERR_BYTES_MAX];
    if (manifest_load(a.manifest, &m, err, sizeof err) != 0) {
        fprintf(stderr, "roostd: %s\n", err);
        return 2;
    }
    roost_log_init(a.node, (roost_log_level_t)level);
    char faults[512];
    if (roost_fault_describe(faults, sizeof faults) > 0)
        ROOST_WARN("roostd", "fault points armed (ROOST_FAULT_POINTS): not for production",
                   "sites=%s", faults);
    /* A peer that dies mid-write must cost an EPIPE, not this process (libraft writes raw TCP). */
    signal(SIGPIPE, SIG_IGN);
    /* Block the stop signals in every thread; this one waits for them. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    daemon_config_t dc = {.manifest = &m, .node_name = a.node, .data_root = a.data_root};
    daemon_t *d = daemon_new(&dc);
    if (!d || daemon_start(d) != 0) {
        daemon_destroy(&d);
        return 1;
    }
    int sig = s_wait(d, &stop);
    ROOST_INFO("roostd", "stopping", "signal=%d", sig);
    daemon_destroy(&d);
    ROOST_INFO("roostd", "stopped", NULL);
    return 0;
}
