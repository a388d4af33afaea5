/* cluster/daemon_apply.c — `roostctl apply` as a node sees it: an edited manifest's new nodes
 * become peers (transport, CURVE allow-list, failure detector) and a control-plane voter
 * proposes the new member list (SET_MEMBERS); the partitions' primaries then carry out the
 * handoffs the map plans (docs/store.md, docs/operations.md). Also the admin channel's "map".
 *
 * What an apply may change: nodes added (any role), shard nodes removed or drained. What it may
 * not (refused with the reason): the cluster's name, partitions, replication factor or CURVE
 * switch, an existing node's address or key, or the control plane's voters (the first five
 * shard nodes by id, cluster.voters) — changing those is a restart with the new manifest. */
#include "cluster/daemon_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/errors.h"
#include "runtime/log.h"
#include "runtime/util.h"

static const char *const COMP = "daemon";

static const manifest_node_t *s_by_id(const manifest_t *m, uint32_t id)
{
    for (uint32_t i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].id == id)
            return &m->nodes[i];
    return NULL;
}

static bool s_same_node(const manifest_node_t *a, const manifest_node_t *b)
{
    return strcmp(a->name, b->name) == 0 && strcmp(a->host, b->host) == 0 &&
           a->peer_port == b->peer_port && a->roles == b->roles &&
           strcmp(a->curve_public, b->curve_public) == 0 &&
           strcmp(a->curve_cert, b->curve_cert) == 0;
}

static bool s_same_voters(const manifest_t *a, const manifest_t *b)
{
    const manifest_node_t *va[CONTROL_VOTERS_MAX], *vb[CONTROL_VOTERS_MAX];
    uint32_t na = manifest_voters(a, va, CONTROL_VOTERS_MAX);
    uint32_t nb = manifest_voters(b, vb, CONTROL_VOTERS_MAX);
    if (na != nb)
        return false;
    for (uint32_t i = 0; i < na; i++)
        if (va[i]->id != vb[i]->id)
            return false;
    return true;
}

static uint32_t s_members(const manifest_t *m, const char *drain)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < m->n_nodes; i++)
        n += (m->nodes[i].roles & ROLE_SHARD) && strcmp(m->nodes[i].name, drain) != 0;
    return n;
}

/* What the running cluster cannot take without a restart; 0 or -1 with the reason. */
static int s_check(daemon_t *d, const manifest_t *m, const char *drain, char *err, size_t cap)
{
    const manifest_t *cur = &d->manifest;
    if (strcmp(m->cluster_name, cur->cluster_name) != 0 || m->partitions != cur->partitions ||
        m->replication_factor != cur->replication_factor || m->voters != cur->voters ||
        m->security.curve != cur->security.curve) {
        snprintf(err, cap,
                 "cluster.name, partitions, replication_factor, voters and "
                 "security.curve cannot change in a running cluster");
        return -1;
    }
    for (uint32_t i = 0; i < m->n_nodes; i++) {
        const manifest_node_t *n = &m->nodes[i], *old = s_by_id(cur, n->id);
        const manifest_node_t *named = manifest_node(cur, n->name);
        if ((old && !s_same_node(old, n)) || (!old && named)) {
            snprintf(err, cap,
                     "node %s (id %u) changed its name, roles, address or key: restart it "
                     "with the new manifest instead",
                     n->name, n->id);
            return -1;
        }
    }
    if (!s_by_id(m, d->self->id)) {
        snprintf(err, cap, "the manifest leaves out this node (%s): drain it first", d->self->name);
        return -1;
    }
    if (!s_same_voters(cur, m)) {
        snprintf(err, cap,
                 "the control plane's voters (the first cluster.voters shard nodes by "
                 "id) would change: give new shard nodes higher ids, and keep the voters");
        return -1;
    }
    const manifest_node_t *dn = drain[0] ? manifest_node(m, drain) : NULL;
    if (drain[0] && (!dn || !(dn->roles & ROLE_SHARD))) {
        snprintf(err, cap, "drain: %s is not a shard node of the manifest", drain);
        return -1;
    }
    if (s_members(m, drain) < m->replication_factor) {
        snprintf(err, cap, "%u shard nodes would remain, fewer than the replication factor %u",
                 s_members(m, drain), m->replication_factor);
        return -1;
    }
    return 0;
}

/* Connects to every node of m this node does not know yet. */
static int s_add_nodes(daemon_t *d, const manifest_t *m, char *err, size_t cap)
{
    for (uint32_t i = 0; i < m->n_nodes; i++) {
        const manifest_node_t *n = &m->nodes[i];
        pthread_mutex_lock(&d->manifest_lock);
        bool known = s_by_id(&d->manifest, n->id) != NULL;
        pthread_mutex_unlock(&d->manifest_lock);
        if (known)
            continue;
        transport_peer_t peer = {.id = n->id};
        snprintf(peer.endpoint, sizeof peer.endpoint, "tcp://%s:%u", n->host, n->peer_port);
        char kerr[512] = "";
        if (d->manifest.security.curve &&
            curve_public_key(daemon_root(d), n->curve_public, n->curve_cert, peer.curve_public,
                             kerr, sizeof kerr) != 0) {
            snprintf(err, cap, "node %s: no CURVE public key: %s", n->name, kerr);
            return -1;
        }
        if (transport_zmq_add_peer(d->transport, &peer) != ROOST_OK) {
            snprintf(err, cap, "node %s: too many joins at once; apply again", n->name);
            return -1;
        }
        pthread_mutex_lock(&d->manifest_lock);
        if (d->manifest.n_nodes < ROOST_NODES_MAX) {
            d->manifest.nodes[d->manifest.n_nodes++] = *n;
            if ((n->roles & ROLE_SHARD) && d->n_joined < ROOST_NODES_MAX)
                d->joined[d->n_joined++] = n->id;
        }
        pthread_mutex_unlock(&d->manifest_lock);
        ROOST_INFO(COMP, "node joined the manifest", "node=%s id=%u endpoint=%s", n->name, n->id,
                   peer.endpoint);
    }
    return 0;
}

/* A voter proposes m's shard nodes, minus `drain`, as the members (only the leader's counts);
 * true if this node leads. */
static bool s_propose(daemon_t *d, const manifest_t *m, const char *drain)
{
    if (!d->control)
        return false;
    clustermap_cmd_t *cmd = roost_xcalloc(1, sizeof *cmd);
    cmd->type = CLUSTERMAP_CMD_SET_MEMBERS;
    for (uint32_t i = 0; i < m->n_nodes; i++) {
        const manifest_node_t *n = &m->nodes[i];
        char addr[ROOST_MEMBER_ADDR_BYTES_MAX + 1];
        if (!(n->roles & ROLE_SHARD) || strcmp(n->name, drain) == 0)
            continue;
        snprintf(addr, sizeof addr, "%s:%u", n->host, n->peer_port);
        clustermap_cmd_add_member(cmd, n->id, n->name, addr);
    }
    int rc = control_submit(d->control, cmd);
    bool leading = rc == ROOST_OK && control_is_leader(d->control);
    ROOST_INFO(COMP, "members proposed", "members=%u leader=%s rc=%s", cmd->n_members,
               leading ? "yes" : "no", roost_strerror(rc));
    free(cmd);
    return leading;
}

int daemon_apply(void *arg, const char *text, size_t len, const char *drain, bool *leading,
                 char *err, size_t errcap)
{
    daemon_t *d = arg;
    manifest_t *m = roost_xcalloc(1, sizeof *m);
    int rc = manifest_parse(text, len, "(applied manifest)", m, err, errcap);
    if (rc == ROOST_OK)
        rc = s_check(d, m, drain, err, errcap) == 0 && s_add_nodes(d, m, err, errcap) == 0
                 ? ROOST_OK
                 : ROOST_EINVAL;
    *leading = rc == ROOST_OK && s_propose(d, m, drain);
    free(m);
    return rc == ROOST_OK ? 0 : -1;
}

void daemon_apply_tick(daemon_t *d, uint64_t now_ns)
{
    uint32_t ids[ROOST_NODES_MAX], n;
    pthread_mutex_lock(&d->manifest_lock);
    n = d->n_joined;
    memcpy(ids, d->joined, n * sizeof *ids);
    d->n_joined = 0;
    pthread_mutex_unlock(&d->manifest_lock);
    for (uint32_t i = 0; i < n && d->detector; i++)
        detector_add_peer(d->detector, ids[i], now_ns);
}

void *daemon_map_bytes(void *arg, size_t *len)
{
    daemon_t *d = arg;
    if (!d->control)
        return NULL;
    clustermap_t *map = control_map_get(d->control);
    void *out = NULL;
    if (clustermap_version(map) == 0 || clustermap_encode(map, &out, len) != ROOST_OK)
        out = NULL;
    clustermap_release(&map);
    return out;
}
