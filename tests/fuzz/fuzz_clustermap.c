/* tests/fuzz/fuzz_clustermap.c — libFuzzer target: cluster-map commands and snapshots as they
 * arrive from the Raft log (untrusted bytes from disk or a peer). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "runtime/clustermap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    clustermap_cmd_t *cmd = malloc(sizeof *cmd);
    if (cmd && clustermap_cmd_decode(data, size, cmd) == 0) {
        clustermap_t *map = clustermap_new(64, 3);
        clustermap_apply(map, cmd, 1);
        clustermap_release(&map);
    }
    free(cmd);
    clustermap_t *map = NULL;
    if (clustermap_decode(data, size, &map) == 0) {
        void *out;
        size_t len;
        if (clustermap_encode(map, &out, &len) == 0)
            free(out);
        clustermap_release(&map);
    }
    return 0;
}
