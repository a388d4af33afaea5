/* cluster/faults_off.c — release builds: no fault injection (see faults.h). */
#include "cluster/faults.h"

#include <stddef.h>

faults_t *faults_new(const char *path, roost_transport_t *transport, const uint32_t *peers,
                     uint32_t npeers)
{
    (void)path, (void)transport, (void)peers, (void)npeers;
    return NULL;
}

void faults_poll(faults_t *f)
{
    (void)f;
}

void faults_destroy(faults_t **f_p)
{
    (void)f_p;
}

void faults_hold_fanout(faults_t *f, atomic_bool *flag)
{
    (void)f, (void)flag;
}
