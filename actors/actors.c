/* actors/actors.c — registration of the messaging behaviours on a shard node. */
#include "actors/actors.h"

#include "actors/conv.h"
#include "actors/phone.h"
#include "actors/user.h"
#include "runtime/errors.h"

const actors_config_t *actors_config(roost_ctx_t *ctx)
{
    static const actors_config_t defaults = {.retention_ms = 30ull * 24 * 3600 * 1000,
                                             .retention_count = 10000,
                                             .group_max_members = 256};
    const actors_config_t *c = roost_ctx_service(ctx, ACTORS_CONFIG_SERVICE);
    return c ? c : &defaults;
}

int actors_register(roost_node_t *node)
{
    const roost_behaviour_t *all[] = {&user_behaviour, &conv_direct_behaviour,
                                      &conv_group_behaviour, &phone_behaviour, &sweep_behaviour};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        int rc = roost_node_register(node, all[i]);
        if (rc != ROOST_OK)
            return rc;
    }
    return ROOST_OK;
}
