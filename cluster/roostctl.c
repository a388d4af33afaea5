/* cluster/roostctl.c — the operator's CLI: `roostctl [-m MANIFEST] COMMAND [options]`.
 * Exit codes: 0 success, 1 the operation failed, 2 bad usage or manifest. */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/ctl.h"

static void s_usage(FILE *out)
{
    fprintf(out, "usage: roostctl [-m MANIFEST] COMMAND [options]\n"
                 "\n"
                 "commands:\n"
                 "  up MANIFEST [--data-dir DIR]   start this host's nodes of MANIFEST in the\n"
                 "                                 foreground; Ctrl-C stops them all\n"
                 "  ring [--partition P | --key K] where partitions live: per node, or one\n"
                 "                                 partition's (or key's) replica list\n"
                 "  keys gen [--out PATH]          a new CurveZMQ key pair (printed, or saved as\n"
                 "                                 the certificate PATH + PATH_secret)\n"
                 "  status                         every node: role, address, up/down, pid, Raft\n"
                 "                                 role and term, partitions (primary/replica),\n"
                 "                                 actors, connections, msgs/s, disk use\n"
                 "  top [--count N]                status refreshed every second (N times)\n"
                 "  metrics [NODE]                 Prometheus text of every node (or one)\n"
                 "  apply [--dry-run]              make the running cluster's nodes the\n"
                 "                                 manifest's: new nodes join, removed shard\n"
                 "                                 nodes hand their partitions off; prints the\n"
                 "                                 plan, then progress until it settled\n"
                 "  user show WHO                  an account: phone, name, role, devices and\n"
                 "                                 their cursors, inbox, contacts (WHO: a user\n"
                 "                                 id or +E.164 phone number)\n"
                 "  user role WHO [ROLE]           read or set the account's role (user,\n"
                 "                                 moderator, admin)\n"
                 "  drain NODE                     an edge stops taking connections, sends its\n"
                 "                                 clients goaway and exits once empty; a shard\n"
                 "                                 hands every partition to the others\n"
                 "\n"
                 "options:\n"
                 "  -m, --manifest FILE   the cluster manifest (docs/manifest.md)\n"
                 "  --data-dir DIR        prefix for the manifest's relative paths (data_dir,\n"
                 "                        key files, certificates)\n"
                 "  --cert PATH           operator certificate for the admin ports when\n"
                 "                        security.curve is on (default: the first operator\n"
                 "                        in the manifest whose secret half is readable)\n"
                 "  --timeout S           apply/drain: give up after S seconds (600)\n"
                 "  --json                machine-readable output\n"
                 "  -h, --help            this text\n"
                 "\n"
                 "exit codes: 0 success, 1 the operation failed, 2 bad usage or manifest\n");
}

manifest_t *ctl_load_manifest(const ctl_opts_t *o)
{
    if (!o->manifest) {
        fprintf(stderr, "roostctl: no manifest given (-m FILE)\n");
        return NULL;
    }
    manifest_t *m = malloc(sizeof *m);
    char err[MANIFEST_ERR_BYTES_MAX];
    if (!m || manifest_load(o->manifest, m, err, sizeof err) != 0) {
        fprintf(stderr, "roostctl: %s\n", m ? err : "out of memory");
        free(m);
        return NULL;
    }
    return m;
}

void ctl_sibling_path(const char *name, char *out, size_t cap)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        snprintf(out, cap, "%s", name);
        return;
    }
    self[n] = '\0';
    snprintf(out, cap, "%s/%s", dirname(self), name);
}

int main(int argc, char **argv)
{
    ctl_opts_t o = {0};
    const char *cmd = NULL, *positional = NULL, *partition = NULL, *key = NULL, *count = NULL;
    const char *timeout = NULL, *extra[2] = {NULL, NULL};
    bool dry_run = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            s_usage(stdout);
            return 0;
        } else if ((strcmp(a, "-m") == 0 || strcmp(a, "--manifest") == 0) && i + 1 < argc) {
            o.manifest = argv[++i];
        } else if (strcmp(a, "--data-dir") == 0 && i + 1 < argc) {
            o.data_dir = argv[++i];
        } else if (strcmp(a, "--cert") == 0 && i + 1 < argc) {
            o.cert = argv[++i];
        } else if (strcmp(a, "--out") == 0 && i + 1 < argc) {
            o.out = argv[++i];
        } else if (strcmp(a, "--partition") == 0 && i + 1 < argc) {
            partition = argv[++i];
        } else if (strcmp(a, "--key") == 0 && i + 1 < argc) {
            key = argv[++i];
        } else if (strcmp(a, "--count") == 0 && i + 1 < argc) {
            count = argv[++i];
        } else if (strcmp(a, "--timeout") == 0 && i + 1 < argc) {
            timeout = argv[++i];
        } else if (strcmp(a, "--dry-run") == 0) {
            dry_run = true;
        } else if (strcmp(a, "--json") == 0) {
            o.json = true;
        } else if (a[0] == '-') {
            fprintf(stderr, "roostctl: unknown option %s\n", a);
            return 2;
        } else if (!cmd) {
            cmd = a;
        } else if (!positional) {
            positional = a;
        } else if (!extra[0] || !extra[1]) {
            extra[extra[0] ? 1 : 0] = a;
        } else {
            fprintf(stderr, "roostctl: unexpected argument %s\n", a);
            return 2;
        }
    }
    if (cmd && strcmp(cmd, "up") == 0) {
        if (positional)
            o.manifest = positional;
        return ctl_up(&o);
    }
    if (cmd && strcmp(cmd, "keys") == 0)
        return ctl_keys(&o, positional);
    if (cmd && strcmp(cmd, "ring") == 0) {
        if (positional)
            o.manifest = positional;
        return ctl_ring(&o, partition, key);
    }
    if (cmd && strcmp(cmd, "status") == 0)
        return ctl_status(&o);
    if (cmd && strcmp(cmd, "top") == 0)
        return ctl_top(&o, count ? strtoull(count, NULL, 10) : 0);
    if (cmd && strcmp(cmd, "metrics") == 0)
        return ctl_metrics(&o, positional);
    o.timeout_s = timeout ? (unsigned)strtoul(timeout, NULL, 10) : 0;
    if (cmd && strcmp(cmd, "drain") == 0)
        return ctl_drain(&o, positional);
    if (cmd && strcmp(cmd, "apply") == 0)
        return ctl_apply(&o, dry_run, o.timeout_s, NULL);
    if (cmd && strcmp(cmd, "user") == 0)
        return ctl_user(&o, positional, extra[0], extra[1]);
    fprintf(stderr, cmd ? "roostctl: unknown command %s\n\n" : "roostctl: no command\n\n", cmd);
    s_usage(stderr);
    return 2;
}
