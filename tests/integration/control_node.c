/* tests/integration/control_node.c — one control-plane node as a process, for test_control.
 *
 *   control_node --id N --data DIR --voters 1=127.0.0.1:P1,2=127.0.0.1:P2,3=127.0.0.1:P3
 *                [--partitions 1024] [--rf 3] [--heartbeat-ms 50] [--election-ms 500]
 *
 * Every voter is also a member, named "shard-<id>", its address the voter address.
 * stdout, one line per applied map (flushed), from the control thread:
 *   map version=V digest=D leader=L down=ID,ID|- prim=ID:COUNT,... esum=SUM
 * (prim: partitions each member is primary of; esum: sum of all partition epochs.)
 * stdin, one command per line: "down ID", "up ID", "status" (prints
 *   "status leader=L is_leader=0|1 version=V dropped=N"), "quit". EOF is quit.
 * Exit status 0 after a clean shutdown.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/clustermap.h"
#include "runtime/control.h"
#include "runtime/errors.h"
#include "runtime/log.h"

enum { LINE_BYTES_MAX = 4096, FIELD_BYTES_MAX = 1024 };

typedef struct {
    control_t *ctl;
    control_config_t cfg;
    clustermap_member_t members[CONTROL_VOTERS_MAX];
} node_t;

static void s_usage(void)
{
    fprintf(stderr, "usage: control_node --id N --data DIR --voters ID=HOST:PORT,... "
                    "[--partitions P] [--rf RF] [--heartbeat-ms MS] [--election-ms MS]\n");
    exit(2);
}

static int s_parse_voters(node_t *node, char *list)
{
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        uint32_t i = node->cfg.n_voters;
        if (eq == NULL || i >= CONTROL_VOTERS_MAX || strlen(eq + 1) > CONTROL_ADDR_BYTES_MAX)
            return -1;
        *eq = '\0';
        control_voter_t *v = &node->cfg.voters[i];
        v->id = (uint32_t)strtoul(tok, NULL, 10);
        snprintf(v->address, sizeof v->address, "%s", eq + 1);
        clustermap_member_t *m = &node->members[i];
        m->id = v->id;
        snprintf(m->name, sizeof m->name, "shard-%u", v->id);
        memcpy(m->address, v->address, strlen(v->address) + 1); /* length checked above */
        node->cfg.n_voters++;
    }
    node->cfg.members = node->members;
    node->cfg.n_members = node->cfg.n_voters;
    return node->cfg.n_voters > 0 ? 0 : -1;
}

static void s_parse_args(node_t *node, int argc, char **argv)
{
    node->cfg.partitions = 1024;
    node->cfg.rf = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--id") == 0)
            node->cfg.self_id = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(k, "--data") == 0)
            node->cfg.data_dir = v;
        else if (strcmp(k, "--voters") == 0) {
            if (s_parse_voters(node, argv[i + 1]) != 0)
                s_usage();
        } else if (strcmp(k, "--partitions") == 0)
            node->cfg.partitions = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(k, "--rf") == 0)
            node->cfg.rf = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(k, "--heartbeat-ms") == 0)
            node->cfg.heartbeat_ms = (unsigned)strtoul(v, NULL, 10);
        else if (strcmp(k, "--election-ms") == 0)
            node->cfg.election_ms = (unsigned)strtoul(v, NULL, 10);
        else
            s_usage();
    }
    if (node->cfg.self_id == 0 || node->cfg.data_dir == NULL || node->cfg.n_voters == 0)
        s_usage();
}

/* Appends "id:count" per member and the DOWN ids to the two fields. */
static uint64_t s_summarise(const clustermap_t *map, char *prim, char *down)
{
    size_t np = 0, nd = 0;
    uint64_t esum = 0;
    prim[0] = down[0] = '\0';
    for (uint32_t i = 0; i < clustermap_member_count(map); i++) {
        const clustermap_member_t *m = clustermap_member_at(map, i);
        uint32_t count = 0;
        for (uint32_t p = 0; p < clustermap_partitions(map); p++)
            count += clustermap_primary_of(map, p) == m->id;
        np += (size_t)snprintf(prim + np, FIELD_BYTES_MAX - np, "%s%u:%u", np ? "," : "", m->id,
                               count);
        if (m->status == CLUSTERMAP_DOWN)
            nd += (size_t)snprintf(down + nd, FIELD_BYTES_MAX - nd, "%s%u", nd ? "," : "", m->id);
    }
    for (uint32_t p = 0; p < clustermap_partitions(map); p++)
        esum += clustermap_epoch_of(map, p);
    if (nd == 0)
        snprintf(down, FIELD_BYTES_MAX, "-");
    return esum;
}

static void s_on_map(void *arg, const clustermap_t *map)
{
    node_t *node = arg;
    char prim[FIELD_BYTES_MAX], down[FIELD_BYTES_MAX];
    uint64_t esum = s_summarise(map, prim, down);
    printf("map version=%llu digest=%016llx leader=%u down=%s prim=%s esum=%llu\n",
           (unsigned long long)clustermap_version(map), (unsigned long long)clustermap_digest(map),
           control_leader_id(node->ctl), down, prim, (unsigned long long)esum);
    fflush(stdout);
}

static void s_status(node_t *node)
{
    clustermap_t *map = control_map_get(node->ctl);
    printf("status leader=%u is_leader=%d version=%llu dropped=%llu\n",
           control_leader_id(node->ctl), control_is_leader(node->ctl) ? 1 : 0,
           (unsigned long long)clustermap_version(map),
           (unsigned long long)control_dropped(node->ctl));
    fflush(stdout);
    clustermap_release(&map);
}

static void s_command(node_t *node, const char *line)
{
    unsigned id = 0;
    clustermap_cmd_t cmd = {0};
    if (sscanf(line, "down %u", &id) == 1)
        cmd.type = CLUSTERMAP_CMD_NODE_DOWN;
    else if (sscanf(line, "up %u", &id) == 1)
        cmd.type = CLUSTERMAP_CMD_NODE_UP;
    else if (strncmp(line, "status", 6) == 0) {
        s_status(node);
        return;
    } else {
        fprintf(stderr, "control_node: unknown command: %s", line);
        return;
    }
    cmd.node_id = id;
    int rc = control_submit(node->ctl, &cmd);
    if (rc != ROOST_OK)
        fprintf(stderr, "control_node: submit: %s\n", roost_strerror(rc));
}

int main(int argc, char **argv)
{
    static node_t node; /* ~1 KiB of config; static keeps main's frame small */
    s_parse_args(&node, argc, argv);
    signal(SIGPIPE, SIG_IGN); /* libuv writes to peers that may have died */
    char name[32];
    snprintf(name, sizeof name, "control-%u", node.cfg.self_id);
    roost_log_init(name, ROOST_LOG_INFO);
    node.cfg.on_map = s_on_map;
    node.cfg.on_map_arg = &node;
    node.ctl = control_new(&node.cfg);
    if (node.ctl == NULL || control_start(node.ctl) != ROOST_OK) {
        fprintf(stderr, "control_node: cannot start\n");
        control_destroy(&node.ctl);
        return 1;
    }
    char line[LINE_BYTES_MAX];
    while (fgets(line, sizeof line, stdin) != NULL && strncmp(line, "quit", 4) != 0)
        s_command(&node, line);
    control_destroy(&node.ctl);
    return 0;
}
