/* cluster/manifest_security.c — the manifest's `security` section (CurveZMQ on or off, dev key
 * generation, the operators allowed on admin ports) and the checks that tie it to the nodes'
 * curve_cert / curve_public fields. docs/manifest.md documents each field. */
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "cluster/manifest_internal.h"

void mf_z85_key(ctx_t *c, yaml_node_t *n, const char *field, char *out, size_t cap)
{
    mf_string(c, n, field, out, cap);
    uint8_t bin[32];
    if (!c->failed && (strlen(out) != MANIFEST_Z85_KEY_BYTES || !zmq_z85_decode(bin, out)))
        mf_fail(c, n, field, "not a CURVE public key (40 Z85 characters: roostctl keys gen)");
}

typedef struct {
    manifest_operator_t *op;
    char field[40];
} op_arg_t;

static void s_operator_field(ctx_t *c, const char *key, yaml_node_t *v, void *varg)
{
    op_arg_t *a = varg;
    char f[64];
    snprintf(f, sizeof f, "%s.%s", a->field, key);
    if (strcmp(key, "name") == 0)
        mf_string(c, v, f, a->op->name, sizeof a->op->name);
    else if (strcmp(key, "curve_public") == 0)
        mf_z85_key(c, v, f, a->op->curve_public, sizeof a->op->curve_public);
    else
        mf_string(c, v, f, a->op->cert, sizeof a->op->cert);
}

static const char *const s_operator_keys[] = {"name", "curve_public", "cert", NULL};

static void s_operators(ctx_t *c, yaml_node_t *v)
{
    manifest_security_t *se = &c->m->security;
    if (!v || v->type != YAML_SEQUENCE_NODE) {
        mf_fail(c, v, "security.operators", "expected a list of operators");
        return;
    }
    for (yaml_node_item_t *i = v->data.sequence.items.start;
         i < v->data.sequence.items.top && !c->failed; i++) {
        yaml_node_t *item = mf_node(c, *i);
        if (se->n_operators == MANIFEST_OPERATORS_MAX) {
            mf_fail(c, item, "security.operators", "more than %d operators",
                    MANIFEST_OPERATORS_MAX);
            return;
        }
        manifest_operator_t *op = &se->operators[se->n_operators];
        memset(op, 0, sizeof *op);
        op_arg_t a = {.op = op};
        snprintf(a.field, sizeof a.field, "security.operators[%u]", se->n_operators);
        mf_each(c, item, a.field, s_operator_keys, s_operator_field, &a);
        if (!c->failed && (!op->name[0] || (!op->curve_public[0] && !op->cert[0])))
            mf_fail(c, item, a.field, "needs a name and curve_public or cert");
        for (uint32_t j = 0; j < se->n_operators && !c->failed; j++)
            if (strcmp(se->operators[j].name, op->name) == 0)
                mf_fail(c, item, a.field, "name \"%s\" is already used", op->name);
        se->n_operators++;
    }
}

static void s_security_field(ctx_t *c, const char *key, yaml_node_t *v, void *arg)
{
    (void)arg;
    manifest_security_t *se = &c->m->security;
    if (strcmp(key, "curve") == 0) {
        se->curve = mf_bool(c, v, "security.curve");
        se->curve_set = true;
    } else if (strcmp(key, "generate_keys") == 0) {
        se->generate_keys = mf_bool(c, v, "security.generate_keys");
    } else {
        s_operators(c, v);
    }
}

static const char *const s_security_keys[] = {"curve", "generate_keys", "operators", NULL};

void mf_security(ctx_t *c, yaml_node_t *v)
{
    mf_each(c, v, "security", s_security_keys, s_security_field, NULL);
}

/* With CURVE on, every node needs a certificate (its secret half is read on its own host);
 * admin ports need at least one operator. */
void mf_security_validate(ctx_t *c, yaml_node_t *root)
{
    manifest_security_t *se = &c->m->security;
    bool any_key = false, any_admin = false;
    for (uint32_t k = 0; k < c->m->n_nodes; k++) {
        any_key |= c->m->nodes[k].curve_cert[0] || c->m->nodes[k].curve_public[0];
        any_admin |= c->m->nodes[k].admin_port != 0;
    }
    if (!se->curve_set)
        se->curve = any_key;
    if (!se->curve)
        return;
    for (uint32_t k = 0; k < c->m->n_nodes && !c->failed; k++) {
        const manifest_node_t *n = &c->m->nodes[k];
        yaml_node_t at = {.start_mark = {.line = (size_t)(n->line - 1)}};
        char f[32];
        snprintf(f, sizeof f, "nodes[%u].curve_cert", k);
        if (!n->curve_cert[0])
            mf_fail(c, &at, f,
                    "%s has no certificate, and security.curve is on (roostctl keys "
                    "gen --out PATH)",
                    n->name);
    }
    if (!c->failed && any_admin && se->n_operators == 0)
        mf_fail(c, root, "security.operators",
                "admin ports need at least one operator key while security.curve is on");
}
