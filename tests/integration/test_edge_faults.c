/* tests/integration/test_edge_faults.c — the edge under bad and hard conditions, end to end
 * over real sockets (3 shards, 2 edges): every error code of the protocol, bad and oversized
 * frames (the connection stays; too many bad ones close it with 1008), a slow reader cut off
 * without hurting others (its events wait in its inbox), a drained edge whose clients move to
 * the other edge without losing an event; then, in a cluster with fast pings and a small per-IP
 * code limit: a frozen client closed after two missed pings, the per-IP 429, and `unavailable`
 * once the shards are gone. (A lossy link between shards and edges: test_edge_lossy.c; a shard's
 * disk alarms: test_disk_alarms.c.) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "tests/support/edge_cluster.h"

static rc_t *s_open(int k)
{
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%u/v1/ws", ec_port(k));
    return rc_open(url, false, 5000);
}

/* ---- group 1: default pings, a 64 KiB send queue ------------------------------------------ */

static int s_setup(void **state)
{
    (void)state;
    ec_open(
        "limits: {send_queue_bytes: 524288}\nedge: {drain_deadline_ms: 8000, reconnect_ms: 300}",
        0);
    return 0;
}

/* bad_request, unauthorized, forbidden, not_found, conflict, too_large (both kinds) and
 * rate_limited; the connection survives each of the in-session ones. */
static void test_every_error_code(void **state)
{
    (void)state;
    rc_t *c = s_open(0);
    json_t *f = json_pack("{s:s, s:i}", "t", "history", "rid", 1);
    ec_err(rc_call(c, f, 5000), "unauthorized"); /* anything before auth */
    rc_pump(c, 300);
    assert_int_not_equal(rc_closed(c), 0);
    rc_free(&c);
    rc_session_t a, b;
    ec_login(&a, 0, false, "+15550001001", "a1");
    ec_login(&b, 0, false, "+15550001002", "b1");
    json_decref(ec_ok(rc_session_connect(&a, 10000)));
    ec_err(rc_call(a.conn, json_pack("{s:s}", "t", "fly"), 5000), "bad_request");
    ec_err(rc_call(a.conn, json_pack("{s:s, s:i}", "t", "send", "to", 5), 5000), "bad_request");
    ec_err(rc_call(a.conn, json_pack("{s:s, s:s}", "t", "group.info", "group", "777777"), 10000),
           "forbidden");
    ec_err(ec_send(a.conn, "u:123456789012", "nf", "eA=="), "not_found");
    char to_b[32], wrong[64];
    ec_to(to_b, &b);
    snprintf(wrong, sizeof wrong, "%s:nosuchdevice", b.user);
    json_t *conflict = rc_call(a.conn,
                               json_pack("{s:s, s:s, s:s, s:s, s:{s:s}}", "t", "send", "to", to_b,
                                         "cmid", "cf", "kind", "text", "bodies", wrong, "eA=="),
                               15000);
    assert_string_equal(ec_str(conflict, "code"), "conflict");
    assert_true(json_is_array(json_object_get(conflict, "devices")));
    json_decref(conflict);
    /* a frame over 128 KiB: discarded unread, rid null, the connection stays */
    size_t big = 140 * 1024;
    char *raw = malloc(big + 64);
    int n = snprintf(raw, 64, "{\"t\":\"send\",\"rid\":9,\"body\":\"");
    memset(raw + n, 'A', big - (size_t)n - 2);
    memcpy(raw + big - 2, "\"}", 3);
    assert_int_equal(rc_send_raw(a.conn, raw, big), 0);
    json_t *tl = rc_next(a.conn, 5000);
    assert_string_equal(ec_str(tl, "code"), "too_large");
    assert_true(json_is_null(json_object_get(tl, "rid")));
    json_decref(tl);
    /* a body over 64 KiB in a frame under the limit: too_large with its rid */
    size_t b64 = 90 * 1024;
    memset(raw, 'A', b64);
    raw[b64] = '\0';
    ec_err(ec_send(a.conn, to_b, "big", raw), "too_large");
    free(raw);
    json_decref(ec_ok(ec_send(a.conn, to_b, "after", "eA==")));
    /* rate_limited: the HTTP side's 429 carries the code */
    char code[8];
    for (int i = 0; i < 3; i++)
        ec_code(1, "+15550001003", code);
    int st;
    char *body;
    rc_http("127.0.0.1", ec_port(1), "POST", "/v1/auth/otp/request", "{\"phone\":\"+15550001003\"}",
            5000, &st, &body);
    assert_int_equal(st, 429);
    assert_non_null(strstr(body, "\"rate_limited\""));
    free(body);
    rc_free(&a.conn);
}

/* Every bad frame is answered and the connection kept, until more than 20 in a minute. */
static void test_bad_frames_then_1008(void **state)
{
    (void)state;
    rc_session_t a;
    ec_login(&a, 0, true, "+15550001011", "a1");
    json_decref(ec_ok(rc_session_connect(&a, 10000)));
    const uint8_t not_a_map[] = {0x93, 1, 2, 3};
    for (int i = 0; i < 20; i++) {
        assert_int_equal(rc_send_raw(a.conn, not_a_map, sizeof not_a_map), 0);
        json_t *e = rc_next(a.conn, 5000);
        assert_string_equal(ec_str(e, "code"), "bad_request");
        json_decref(e);
    }
    assert_int_equal(rc_closed(a.conn), 0);
    rc_send_raw(a.conn, not_a_map, sizeof not_a_map);
    json_decref(rc_next(a.conn, 5000));
    for (int i = 0; i < 20 && !rc_closed(a.conn); i++)
        rc_pump(a.conn, 100);
    assert_int_equal(rc_closed(a.conn), 1008);
    rc_free(&a.conn);
}

/* A reader that stops reading is cut off once its send queue passes the limit; others are
 * not slowed, and its events wait in its inbox for its next connection. Inbox pushes are
 * flow-controlled by acks (they never fill a queue by themselves), so the reader here asks for
 * large history pages without reading the answers. */
static void test_slow_reader_is_disconnected(void **state)
{
    (void)state;
    rc_session_t a, b;
    ec_login(&a, 0, false, "+15550001021", "a1");
    ec_login(&b, 1, false, "+15550001022", "b1");
    json_decref(ec_ok(rc_session_connect(&a, 10000)));
    json_decref(ec_ok(rc_session_connect(&b, 10000)));
    char to_b[32];
    ec_to(to_b, &b);
    size_t len = 60 * 1024;
    char *body = malloc(len + 1);
    memset(body, 'Q', len);
    body[len] = '\0';
    char conv[48] = "";
    for (int i = 0; i < 10; i++) {
        char cmid[16];
        snprintf(cmid, sizeof cmid, "s%d", i);
        json_t *ok = ec_ok(ec_send(a.conn, to_b, cmid, body));
        snprintf(conv, sizeof conv, "%s", ec_str(ok, "conv"));
        json_decref(ok);
    }
    free(body);
    for (int i = 0; i < 10; i++) { /* a reader that keeps up gets the large backlog whole */
        json_t *m = ec_event(b.conn, "msg", 10000);
        assert_non_null(m);
        rc_ack(b.conn, (uint64_t)ec_int(m, "n"));
        json_decref(m);
    }
    rc_pause_reading(b.conn, true);
    json_t *h = json_pack("{s:s, s:s, s:i}", "t", "history", "conv", conv, "limit", 100);
    for (int i = 0; i < 200 && !rc_closed(b.conn); i++)
        rc_send(b.conn, h); /* ~250 KB answers, never read */
    json_decref(h);
    json_decref(ec_ok(ec_send(a.conn, to_b, "while", "eA=="))); /* the sender is not slowed */
    /* Still not reading: the answers pile up at the edge until its queue limit closes the
     * connection. Resuming at once raced them under ThreadSanitizer (the shard was still
     * answering, the reader drained what had come, and nothing was ever over the limit). */
    struct timespec pile_up = {3, 0};
    nanosleep(&pile_up, NULL);
    rc_pause_reading(b.conn, false);
    int closed = 0;
    for (int i = 0; i < 400 && !closed; i++) {
        json_decref(rc_next(b.conn, 50));
        closed = rc_closed(b.conn);
    }
    assert_int_equal(closed, 1008);
    json_decref(ec_ok(rc_session_connect(&b, 10000)));
    json_t *m = ec_event(b.conn, "msg", 10000); /* it waited in the inbox */
    assert_non_null(m);
    assert_string_equal(ec_str(m, "body"), "eA==");
    json_decref(m);
    rc_free(&a.conn);
    rc_free(&b.conn);
}

/* GET /metrics on a metrics port: Prometheus text, every line a comment (HELP, TYPE) or a
 * sample `name{labels} value`, with the series `want` among them. */
static void s_scrape_and_parse(int port, const char *want, const char *want2)
{
    int st = 0;
    char *body = NULL;
    assert_int_equal(
        rc_http("127.0.0.1", (uint16_t)port, "GET", "/metrics", NULL, 5000, &st, &body), 0);
    assert_int_equal(st, 200);
    bool seen = false, seen2 = false;
    int samples = 0;
    for (char *line = strtok(body, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0)
            continue;
        char *sp = strrchr(line, ' ');
        if (!sp || sp == line)
            fail_msg("port %d: not a Prometheus sample: %s", port, line);
        char *end;
        strtod(sp + 1, &end);
        if (*end != '\0')
            fail_msg("port %d: bad value in: %s", port, line);
        size_t name =
            strspn(line, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:");
        if (name == 0 || (line[name] != ' ' && line[name] != '{'))
            fail_msg("port %d: bad metric name in: %s", port, line);
        seen |= strncmp(line, want, strlen(want)) == 0;
        seen2 |= strncmp(line, want2, strlen(want2)) == 0;
        samples++;
    }
    assert_true(samples > 5);
    if (!seen || !seen2)
        fail_msg("port %d: no %s or no %s", port, want, want2);
    free(body);
    rc_http("127.0.0.1", (uint16_t)port, "GET", "/nope", NULL, 5000, &st, &body);
    assert_int_equal(st, 404);
    free(body);
}

/* `roostctl status` sees every node up, with the edges' connections, the Raft roles and the
 * partitions; every node's metrics port serves Prometheus text. */
static void test_roostctl_status(void **state)
{
    (void)state;
    json_t *j = ec_status_json(NULL);
    assert_int_equal(ec_int(j, "down"), 0);
    assert_int_equal(json_array_size(json_object_get(j, "nodes")), EC_NODES);
    json_t *e4 = json_array_get(json_object_get(j, "nodes"), EC_SHARDS);
    assert_string_equal(ec_str(e4, "name"), "e4");
    assert_string_equal(ec_str(e4, "status"), "up");
    assert_int_equal(ec_int(e4, "pid"), EC->proc[EC_SHARDS + 1].pid);
    assert_string_equal(ec_str(e4, "raft"), "none"); /* edges do not vote */
    int leaders = 0, primaries = 0, replicas = 0;
    for (int i = 0; i < EC_SHARDS; i++) {
        json_t *s = json_array_get(json_object_get(j, "nodes"), (size_t)i);
        leaders += strcmp(ec_str(s, "raft"), "leader") == 0;
        assert_true(ec_int(s, "term") >= 1);
        assert_true(ec_int(s, "disk_bytes") > 0);
        assert_true(ec_int(s, "disk_free_bytes") > 0);
        assert_string_equal(ec_str(s, "disk"), "ok");
        primaries += (int)ec_int(json_object_get(s, "partitions"), "primary");
        replicas += (int)ec_int(json_object_get(s, "partitions"), "replica");
    }
    assert_int_equal(leaders, 1);
    assert_int_equal(primaries, EC_P); /* every partition led once, held three times */
    assert_int_equal(replicas, EC_P * 3);
    json_decref(j);
    /* a shard's and an edge's metrics port; the shard has committed (measured) appends */
    s_scrape_and_parse(EC->metrics[1], "roost_store_replication_behind_entries",
                       "roost_store_commit_latency_us_count");
    s_scrape_and_parse(EC->metrics[1], "roost_store_hints_pending_entries",
                       "roost_cluster_map_epochs_max");
    s_scrape_and_parse(EC->metrics[1], "roost_store_disk_free_bytes",
                       "roost_store_disk_headroom_low");
    s_scrape_and_parse(EC->metrics[EC_SHARDS + 1], "roost_edge_connections", "roost_node_queued");
    /* every node counts what its transport sent, received and dropped */
    s_scrape_and_parse(EC->metrics[1], "roost_transport_sent_total",
                       "roost_transport_dropped_total");
    s_scrape_and_parse(EC->metrics[EC_SHARDS + 1], "roost_transport_received_total",
                       "roost_transport_malformed_total");
    /* `roostctl metrics`: Prometheus text from every node (an edge's, a shard's store) */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "'%s' -m '%s' metrics", getenv("ROOSTCTL"), EC->manifest);
    FILE *p = popen(cmd, "r");
    char *text = calloc(1, 1 << 20);
    assert_true(fread(text, 1, (1 << 20) - 1, p) > 0);
    assert_int_equal(WEXITSTATUS(pclose(p)), 0);
    assert_non_null(strstr(text, "# node: s1\n"));
    assert_non_null(strstr(text, "# TYPE roost_store_commits_total counter"));
    assert_non_null(strstr(text, "# node: e4\n"));
    assert_non_null(strstr(text, "roost_edge_connections "));
    free(text);
}

/* Draining edge 0: its clients get goaway naming edge 1, new connections are refused, clients
 * resume on edge 1 with nothing lost, and the edge exits once empty. */
static void test_drain_moves_clients_without_loss(void **state)
{
    (void)state;
    rc_session_t a, b;
    ec_login(&a, 0, true, "+15550001031", "a1");
    ec_login(&b, 1, false, "+15550001032", "b1");
    json_decref(ec_ok(rc_session_connect(&a, 10000)));
    json_decref(ec_ok(rc_session_connect(&b, 10000)));
    char to_a[32];
    ec_to(to_a, &a);
    json_decref(ec_ok(ec_send(b.conn, to_a, "d0", "MA==")));
    json_t *m = ec_event(a.conn, "msg", 10000);
    assert_non_null(m);
    a.last_n = (uint64_t)ec_int(m, "n");
    rc_ack(a.conn, a.last_n);
    json_decref(m);
    proc_t ctl; /* `roostctl drain e4` follows the drain until the edge is empty */
    char *argv[] = {getenv("ROOSTCTL"), "-m", EC->manifest, "drain", "e4", NULL};
    assert_true(proc_spawn(&ctl, argv, NULL));
    json_t *g = ec_event(a.conn, "goaway", 10000);
    assert_non_null(g);
    char want[64];
    snprintf(want, sizeof want, "ws://127.0.0.1:%u/v1/ws", ec_port(1));
    assert_string_equal(json_string_value(json_array_get(json_object_get(g, "edges"), 0)), want);
    assert_true(ec_int(g, "reconnect_ms") >= 150 && ec_int(g, "reconnect_ms") <= 450);
    json_decref(g);
    assert_null(s_open(0));       /* no new connections */
    for (int i = 0; i < 5; i++) { /* sent while a moves */
        char cmid[8];
        snprintf(cmid, sizeof cmid, "d%d", i + 1);
        json_decref(ec_ok(ec_send(b.conn, to_a, cmid, "MQ==")));
    }
    rc_free(&a.conn);
    a.port = ec_port(1);
    json_decref(ec_ok(rc_session_connect(&a, 10000)));
    for (int i = 0; i < 5; i++) {
        m = ec_event(a.conn, "msg", 10000);
        assert_non_null(m);
        assert_true((uint64_t)ec_int(m, "n") == a.last_n + 1 + (uint64_t)i);
        json_decref(m);
    }
    int status = proc_stop(&EC->proc[EC_SHARDS + 1], 0, 15000); /* it exits by itself */
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    status = proc_stop(&ctl, 0, 15000);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    rc_free(&a.conn);
    rc_free(&b.conn);
}

/* ---- group 2: fast pings, 3 code requests an hour per address ------------------------------- */

static rc_session_t s_fa, s_fb; /* signed up before the restart: no codes from the small limit */

/* Restarted with the small per-IP limit, and the shards with a disk that cannot read message
 * records (the fault point conv.read_record; nothing else in this group reads them). */
static int s_setup_fast(void **state)
{
    (void)state;
    ec_open("edge: {ping_ms: 300}", 0);
    ec_login(&s_fa, 0, false, "+15550002021", "a1");
    ec_login(&s_fb, 0, false, "+15550002022", "b1");
    EC->ip_limit = 3;
    for (int i = 1; i <= EC_NODES; i++)
        proc_stop(&EC->proc[i], SIGTERM, 10000);
    ec_write_files();
    for (int i = 1; i <= EC_NODES; i++) {
        if (i <= EC_SHARDS)
            setenv("ROOST_FAULT_POINTS", "conv.read_record", 1);
        ec_start(i);
        unsetenv("ROOST_FAULT_POINTS");
    }
    return 0;
}

/* internal: a history page whose records the disk cannot read is an error, not a page with
 * holes; the connection stays. */
static void test_read_error_is_internal(void **state)
{
    (void)state;
    if (!ROOST_FAULTS_ARMED)
        skip(); /* a build without fault points (Release): nothing to provoke it */
    json_t *r = NULL;
    for (int i = 0; i < 100; i++) { /* the restarted cluster reconciles first */
        r = rc_session_connect(&s_fa, 5000);
        if (r && strcmp(ec_str(r, "t"), "ok") == 0)
            break;
        json_decref(r);
        r = NULL;
        rc_free(&s_fa.conn);
        proc_sleep_ms(200);
    }
    json_decref(ec_ok(r));
    char to_b[32], conv[48] = "";
    ec_to(to_b, &s_fb);
    for (int i = 0; i < 100 && !conv[0]; i++) { /* its partition may still be reconciling */
        json_t *ok = ec_send(s_fa.conn, to_b, "x1", "eA==");
        if (ok && strcmp(ec_str(ok, "t"), "ok") == 0)
            snprintf(conv, sizeof conv, "%s", ec_str(ok, "conv"));
        else
            proc_sleep_ms(200);
        json_decref(ok);
    }
    assert_true(conv[0]);
    json_t *h = json_pack("{s:s, s:s}", "t", "history", "conv", conv);
    json_t *e = rc_call(s_fa.conn, h, 15000);
    assert_non_null(strstr(ec_str(e, "msg"), "could not read message 1"));
    ec_err(e, "internal");
    json_decref(ec_ok(rc_call(s_fa.conn, json_pack("{s:s}", "t", "contacts.list"), 15000)));
    rc_free(&s_fa.conn);
}

/* A client that stops answering pings is closed after two of them. */
static void test_frozen_client_closed_after_two_missed_pings(void **state)
{
    (void)state;
    rc_t *c = NULL;
    for (int i = 0; i < 100 && !c; i++) {
        c = s_open(0);
        if (!c)
            proc_sleep_ms(100);
    }
    assert_non_null(c);
    rc_pump(c, 1500); /* answering: still open after several pings */
    assert_int_equal(rc_closed(c), 0);
    proc_sleep_ms(1500); /* frozen */
    rc_pump(c, 500);
    assert_int_not_equal(rc_closed(c), 0);
    rc_free(&c);
}

/* The per-IP limit on code requests (whatever the number). */
static void test_per_ip_code_limit(void **state)
{
    (void)state;
    char code[8];
    int st = 0;
    for (int i = 0; i < 50 && st != 202; i++) { /* wait for the restarted cluster */
        st = ec_code(0, "+15550002001", code);
        if (st != 202)
            proc_sleep_ms(200);
    }
    assert_int_equal(st, 202);
    assert_int_equal(ec_code(0, "+15550002002", code), 202);
    assert_int_equal(ec_code(0, "+15550002003", code), 202);
    assert_int_equal(ec_code(0, "+15550002004", code), 429);
    assert_int_equal(ec_code(1, "+15550002004", code), 202); /* the other edge counts its own */
}

/* With every shard gone, a request is answered unavailable. */
static void test_unavailable_without_shards(void **state)
{
    (void)state;
    rc_session_t a;
    ec_session(&a, 1, false);
    char code[8];
    assert_int_equal(ec_code(1, "+15550002011", code), 202);
    assert_int_equal(rc_login(&a, "+15550002011", code, "a1"), 200);
    json_decref(ec_ok(rc_session_connect(&a, 10000)));
    for (int i = 1; i <= EC_SHARDS; i++)
        proc_stop(&EC->proc[i], SIGKILL, 5000);
    json_t *r = rc_call(a.conn, json_pack("{s:s}", "t", "contacts.list"), 30000);
    ec_err(r, "unavailable");
    rc_free(&a.conn);
}

/* ---- group 3: the webhook SMS driver ------------------------------------------------------- */

static int s_hook_fd = -1;

static int s_setup_webhook(void **state)
{
    (void)state;
    int port = test_free_port();
    s_hook_fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s_hook_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s_hook_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s_hook_fd, 8), 0);
    ec_prepare();
    snprintf(EC->sms_url, sizeof EC->sms_url, "http://127.0.0.1:%d/sms/hook", port);
    ec_launch(); /* ready once codes are accepted (they queue at the hook, answered below) */
    return 0;
}

static int s_teardown_webhook(void **state)
{
    close(s_hook_fd);
    return ec_teardown(state);
}

static void s_hook_answer(int c, char *req, size_t cap);

/* Answers the hook's POSTs until one names `phone`: its request line, headers and body. */
static void s_hook_next(const char *phone, char *req, size_t cap)
{
    for (int tries = 0; tries < 20 && !strstr(req, phone); tries++) {
        req[0] = '\0';
        struct pollfd p = {.fd = s_hook_fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 10000), 1);
        int c = accept(s_hook_fd, NULL, NULL);
        s_hook_answer(c, req, cap);
    }
    assert_non_null(strstr(req, phone));
}

static void s_hook_answer(int c, char *req, size_t cap)
{
    size_t n = 0;
    for (int i = 0; i < 50 && !strstr(req, "}"); i++) {
        ssize_t k = recv(c, req + n, cap - 1 - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
        req[n] = '\0';
    }
    const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    assert_true(send(c, ok, strlen(ok), 0) > 0);
    close(c);
}

/* A code requested over HTTP arrives at the operator's webhook as JSON, and logs in. */
static void test_webhook_sms_driver(void **state)
{
    (void)state;
    char req[4096] = "";
    assert_int_equal(rc_otp_request("127.0.0.1", ec_port(0), "+15550003001"), 202);
    s_hook_next("+15550003001", req, sizeof req);
    assert_non_null(strstr(req, "POST /sms/hook HTTP/1.1"));
    assert_non_null(strstr(req, "application/json"));
    const char *body = strstr(req, "\r\n\r\n");
    assert_non_null(body);
    json_t *j = json_loads(body + 4, 0, NULL);
    assert_non_null(j);
    assert_string_equal(ec_str(j, "phone"), "+15550003001");
    assert_int_equal(strlen(ec_str(j, "code")), 6);
    assert_non_null(strstr(ec_str(j, "text"), ec_str(j, "code")));
    rc_session_t s;
    ec_session(&s, 0, false);
    assert_int_equal(rc_login(&s, "+15550003001", ec_str(j, "code"), "w1"), 200);
    json_decref(j);
}

/* ---- group 4: a node whose key is not the manifest's --------------------------------------- */

/* Shards and e4 as the manifest says; e5 runs with a certificate of its own (its copy of the
 * manifest names it), as a stolen address or a stale host would. */
static int s_setup_rogue(void **state)
{
    (void)state;
    ec_prepare();
    ec_write_files();
    char listed[128], rogue_manifest[128];
    snprintf(listed, sizeof listed, "%s", EC->cert[EC_NODES]);
    snprintf(EC->cert[EC_NODES], sizeof EC->cert[EC_NODES], "%s/rogue.cert", EC->dir);
    ec_make_cert(EC->cert[EC_NODES]);
    snprintf(rogue_manifest, sizeof rogue_manifest, "%s/rogue.yaml", EC->dir);
    ec_write_manifest(rogue_manifest);
    snprintf(EC->cert[EC_NODES], sizeof EC->cert[EC_NODES], "%s", listed);
    for (int i = 1; i < EC_NODES; i++)
        ec_start(i);
    char real[sizeof EC->manifest];
    snprintf(real, sizeof real, "%s", EC->manifest);
    snprintf(EC->manifest, sizeof EC->manifest, "%s", rogue_manifest);
    ec_start(EC_NODES);
    snprintf(EC->manifest, sizeof EC->manifest, "%s", real);
    return 0;
}

/* The shards refuse the unlisted key (logged and counted), so it can neither send to them nor
 * get the cluster map from them: the listed edge serves, the rogue one never does. */
static void test_an_unlisted_key_cannot_join_or_send(void **state)
{
    (void)state;
    char code[8];
    int st = 0;
    for (int i = 0; i < 300 && st != 202; i++, proc_sleep_ms(200))
        st = ec_code(0, "+15550004001", code);
    assert_int_equal(st, 202); /* e4 has the map: the cluster is up */
    uint64_t until = proc_now_ms() + 4000;
    while (proc_now_ms() < until) {
        assert_int_not_equal(ec_code(1, "+15550004002", code), 202);
        proc_sleep_ms(250);
    }
    json_t *j = ec_status_json(NULL);
    for (int i = 0; i < EC_SHARDS; i++) {
        json_t *node = json_array_get(json_object_get(j, "nodes"), (size_t)i);
        assert_string_equal(ec_str(node, "status"), "up");
        assert_true(ec_int(node, "peer_refused") > 0);
    }
    json_decref(j);
    assert_true(ec_log_has("s1", "connection refused: key not in the manifest\" who=transport"));
    /* nor can it speak Raft: no shard listens on a raft port any more (the manifest still names
     * one); the control plane rides the CURVE-authenticated peer port */
    for (int i = 1; i <= EC_SHARDS; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)EC->raft[i])};
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        assert_int_not_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        close(fd);
    }
}

/* `roostctl user ARGS --json`: its stdout (parsed when it is JSON) and exit code. */
static json_t *s_ctl_user(const char *args, int *code, char *err, size_t cap)
{
    char cmd[512], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' -m '%s' user %s --json 2>%s/user.err", getenv("ROOSTCTL"),
             EC->manifest, args, EC->dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    *code = WEXITSTATUS(pclose(p));
    char path[160];
    snprintf(path, sizeof path, "%s/user.err", EC->dir);
    FILE *f = fopen(path, "r");
    size_t e = f ? fread(err, 1, cap - 1, f) : 0;
    err[e] = '\0';
    if (f)
        fclose(f);
    return json_loads(out, 0, NULL);
}

/* `roostctl user show|role`: an account by phone and by id through the admin bridge, its
 * role set durably and read back; unknown accounts and roles are refused by name. */
static void test_roostctl_user(void **state)
{
    (void)state;
    rc_session_t s;
    ec_login(&s, 0, false, "+15550004001", "ops1");
    int code;
    char err[512];
    json_t *j = s_ctl_user("show +15550004001", &code, err, sizeof err);
    if (code != 0 || !j)
        fail_msg("user show: exit %d: %s", code, err);
    assert_string_equal(ec_str(j, "phone"), "+15550004001");
    assert_string_equal(ec_str(j, "role"), "user");
    json_t *devs = json_object_get(j, "devices");
    assert_int_equal(json_array_size(devs), 1);
    assert_string_equal(ec_str(json_array_get(devs, 0), "id"), "ops1");
    char id[32], args[96];
    snprintf(id, sizeof id, "%s", ec_str(j, "id"));
    json_decref(j);

    snprintf(args, sizeof args, "role %s moderator", id);
    j = s_ctl_user(args, &code, err, sizeof err);
    assert_int_equal(code, 0);
    assert_string_equal(json_string_value(json_array_get(j, 0)), "user");
    assert_string_equal(json_string_value(json_array_get(j, 1)), "moderator");
    json_decref(j);
    j = s_ctl_user("role +15550004001", &code, err, sizeof err); /* read it back */
    assert_int_equal(code, 0);
    assert_string_equal(json_string_value(json_array_get(j, 1)), "moderator");
    json_decref(j);

    snprintf(args, sizeof args, "role %s superuser", id);
    json_decref(s_ctl_user(args, &code, err, sizeof err));
    assert_int_equal(code, 1);
    assert_non_null(strstr(err, "unknown role"));
    json_decref(s_ctl_user("show +15550009999", &code, err, sizeof err));
    assert_int_equal(code, 1);
    assert_non_null(strstr(err, "no account has this number"));
    json_decref(s_ctl_user("show nobody", &code, err, sizeof err));
    assert_int_equal(code, 1);
    assert_non_null(strstr(err, "neither a user id nor a phone number"));
}

/* An operator key the manifest does not list gets "refused" from every node, not "down". */
static void test_an_unlisted_operator_is_refused(void **state)
{
    (void)state;
    char rogue[128], extra[160];
    snprintf(rogue, sizeof rogue, "%s/rogue-op.cert", EC->dir);
    ec_make_cert(rogue);
    snprintf(extra, sizeof extra, "--cert '%s'", rogue);
    json_t *j = ec_status_json(extra);
    json_t *s1 = json_array_get(json_object_get(j, "nodes"), 0);
    assert_string_equal(ec_str(s1, "status"), "refused");
    assert_int_equal(ec_int(s1, "pid"), 0);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_error_code),
        cmocka_unit_test(test_bad_frames_then_1008),
        cmocka_unit_test(test_slow_reader_is_disconnected),
        cmocka_unit_test(test_roostctl_status),
        cmocka_unit_test(test_roostctl_user),
        cmocka_unit_test(test_an_unlisted_operator_is_refused),
        cmocka_unit_test(test_drain_moves_clients_without_loss),
    };
    const struct CMUnitTest fast[] = {
        cmocka_unit_test(test_read_error_is_internal),
        cmocka_unit_test(test_frozen_client_closed_after_two_missed_pings),
        cmocka_unit_test(test_per_ip_code_limit),
        cmocka_unit_test(test_unavailable_without_shards),
    };
    const struct CMUnitTest hook[] = {
        cmocka_unit_test(test_webhook_sms_driver),
    };
    const struct CMUnitTest rogue[] = {
        cmocka_unit_test(test_an_unlisted_key_cannot_join_or_send),
    };
    int failed = cmocka_run_group_tests(tests, s_setup, ec_teardown);
    failed += cmocka_run_group_tests(fast, s_setup_fast, ec_teardown);
    failed += cmocka_run_group_tests(rogue, s_setup_rogue, ec_teardown);
    return failed + cmocka_run_group_tests(hook, s_setup_webhook, s_teardown_webhook);
}
