/* cluster/faults.c — see faults.h (test builds only). */
#include "cluster/faults.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/limits.h"
#include "runtime/log.h"
#include "runtime/transport_zmq.h"
#include "runtime/util.h"

struct faults {
    char *path;
    roost_transport_t *transport;
    uint32_t peers[ROOST_NODES_MAX];
    bool blocked[ROOST_NODES_MAX];
    uint32_t npeers;
    atomic_bool *hold_fanout;
};

void faults_hold_fanout(faults_t *f, atomic_bool *flag)
{
    if (f)
        f->hold_fanout = flag;
}

faults_t *faults_new(const char *path, roost_transport_t *transport, const uint32_t *peers,
                     uint32_t npeers)
{
    if (!path || !transport || npeers > ROOST_NODES_MAX)
        return NULL;
    faults_t *f = roost_xcalloc(1, sizeof *f);
    f->path = roost_xstrdup(path);
    f->transport = transport;
    memcpy(f->peers, peers, npeers * sizeof *peers);
    f->npeers = npeers;
    ROOST_WARN("faults", "fault injection enabled", "file=%s", path);
    return f;
}

/* Reads the file: the ids after "block" into want, and whether it says "hold-fanout". */
static void s_read(const faults_t *f, bool *want, bool *hold)
{
    memset(want, 0, ROOST_NODES_MAX * sizeof *want);
    *hold = false;
    FILE *in = fopen(f->path, "r");
    char word[16];
    if (!in)
        return;
    while (fscanf(in, "%15s", word) == 1) {
        if (strcmp(word, "hold-fanout") == 0) {
            *hold = true;
            continue;
        }
        if (strcmp(word, "block") != 0)
            continue;
        unsigned id;
        while (fscanf(in, "%u", &id) == 1)
            for (uint32_t i = 0; i < f->npeers; i++)
                want[i] |= f->peers[i] == id;
    }
    fclose(in);
}

void faults_poll(faults_t *f)
{
    if (!f)
        return;
    bool want[ROOST_NODES_MAX], hold;
    s_read(f, want, &hold);
    if (f->hold_fanout && atomic_load(f->hold_fanout) != hold) {
        atomic_store(f->hold_fanout, hold);
        ROOST_WARN("faults", hold ? "fan-out held" : "fan-out released", "file=%s", f->path);
    }
    for (uint32_t i = 0; i < f->npeers; i++) {
        if (want[i] == f->blocked[i])
            continue;
        f->blocked[i] = want[i];
        transport_zmq_block(f->transport, f->peers[i], want[i]);
        ROOST_WARN("faults", want[i] ? "link cut" : "link healed", "peer=%u", f->peers[i]);
    }
}

void faults_destroy(faults_t **f_p)
{
    if (!*f_p)
        return;
    free((*f_p)->path);
    free(*f_p);
    *f_p = NULL;
}
