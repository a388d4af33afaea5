/* edge/metrics.c — the edge's Prometheus series (`GET /metrics` on the client port): its
 * connections, frames, refusals and closes, HTTP answers, and its node's actor counts. */
#include <stdlib.h>

#include "edge/edge_internal.h"

static metrics_counter_t *s_counter(edge_t *e, const char *name, const char *help)
{
    return metrics_register_counter(e->m.reg, name, help, NULL, 0);
}

static metrics_counter_t *s_closed(edge_t *e, const char *why)
{
    metrics_label_t l = {"reason", why};
    return metrics_register_counter(e->m.reg, "roost_edge_closed_total",
                                    "Connections the edge closed, by reason.", &l, 1);
}

static metrics_counter_t *s_http(edge_t *e, const char *class)
{
    metrics_label_t l = {"class", class};
    return metrics_register_counter(e->m.reg, "roost_edge_http_responses_total",
                                    "HTTP answers, by status class.", &l, 1);
}

void edge_metrics_init(edge_t *e)
{
    edge_metrics_t *m = &e->m;
    m->reg = metrics_registry_new();
    m->connections = metrics_register_gauge(m->reg, "roost_edge_connections",
                                            "Open WebSocket connections.", NULL, 0);
    m->accepted = s_counter(e, "roost_edge_accepted_total", "WebSocket connections accepted.");
    m->refused = s_counter(e, "roost_edge_refused_total",
                           "WebSocket connections refused (draining, or the table is full).");
    m->frames_in = s_counter(e, "roost_edge_frames_in_total", "Frames received from clients.");
    m->frames_out = s_counter(e, "roost_edge_frames_out_total", "Frames sent to clients.");
    m->bad_frames =
        s_counter(e, "roost_edge_bad_frames_total", "Frames answered bad_request or too_large.");
    m->too_large = s_counter(e, "roost_edge_too_large_total",
                             "Frames over the frame limit, discarded unread.");
    m->auth_ok = s_counter(e, "roost_edge_auth_ok_total", "Sessions authenticated.");
    m->auth_failed = s_counter(e, "roost_edge_auth_failed_total", "auth frames refused.");
    m->slow_closed = s_closed(e, "slow_reader");
    m->ping_closed = s_closed(e, "missed_pings");
    m->bad_closed = s_closed(e, "bad_frames");
    m->http[0] = s_http(e, "2xx");
    m->http[1] = s_http(e, "4xx");
    m->http[2] = s_http(e, "5xx");
}

void edge_metrics_fini(edge_t *e)
{
    metrics_registry_destroy(&e->m.reg);
}

char *edge_metrics_render(edge_t *e, size_t *len)
{
    roost_node_stats_t st;
    roost_node_stats(e->cfg.node, &st);
    metrics_gauge_set(metrics_register_gauge(e->m.reg, "roost_node_actors_active",
                                             "Actors active on this node.", NULL, 0),
                      (int64_t)st.actors_active);
    metrics_gauge_set(metrics_register_gauge(e->m.reg, "roost_node_messages",
                                             "Messages handled by this node's actors.", NULL, 0),
                      (int64_t)st.messages);
    char *out = NULL;
    return metrics_render(e->m.reg, &out, len) == 0 ? out : NULL;
}
