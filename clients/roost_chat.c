/* clients/roost_chat.c — roost-chat, a command-line chat client for people and scripts, on
 * libroost-client. Its session (edge, user, device, tokens, last processed n) lives in
 * $ROOST_CHAT_HOME or ~/.config/roost/session.json (mode 600).
 *
 *   roost-chat --edge ws://127.0.0.1:8081 login +15551234567 [--code C | --code-from-file F]
 *   roost-chat whoami | send TO TEXT | listen [--once] | history CONV [--limit N]
 *   roost-chat group create NAME [USER…] | group add GROUP USER… | group info GROUP
 *
 * Exit: 0 done, 1 refused or failed (the server's code on stderr), 2 bad usage.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clients/roost_client.h"

typedef struct {
    const char *edge, *code, *code_file, *device, *home;
    bool once, json, msgpack;
    int limit;
    int argc;
    char **argv; /* the command and its arguments */
} opts_t;

static void s_usage(FILE *out)
{
    fprintf(
        out,
        "usage: roost-chat [options] COMMAND [ARGS]\n"
        "\n"
        "commands:\n"
        "  login PHONE            request a code and log this device in (prompts for the code)\n"
        "  whoami                 print the logged-in user id\n"
        "  send TO TEXT           send TEXT to u:<user> or g:<group>\n"
        "  listen [--once]        print messages as they come and acknowledge them\n"
        "                         (--once: what is queued now, then exit)\n"
        "  history CONV           the latest messages of a conversation (--limit N)\n"
        "  group create NAME [USER...] | group add GROUP USER... | group info GROUP\n"
        "\n"
        "options:\n"
        "  --edge URL             ws://host:port of an edge (login; kept in the session)\n"
        "  --code CODE            the one-time code (login)\n"
        "  --code-from-file FILE  read the newest code for PHONE from a dev SMS sink file\n"
        "  --device NAME          this device's id (login; default: cli-<random>)\n"
        "  --msgpack              use the msgpack subprotocol\n"
        "  --json                 print frames as JSON lines (for scripts)\n"
        "  --home DIR             where the session is kept (default ~/.config/roost)\n"
        "exit: 0 done, 1 refused or failed, 2 bad usage\n");
}

/* ---- the session file --------------------------------------------------------------------- */

static void s_session_path(const opts_t *o, char *out, size_t cap)
{
    const char *home = o->home ? o->home : getenv("ROOST_CHAT_HOME");
    if (home)
        snprintf(out, cap, "%s/session.json", home);
    else
        snprintf(out, cap, "%s/.config/roost/session.json", getenv("HOME") ? getenv("HOME") : ".");
}

static int s_save(const opts_t *o, const rc_session_t *s)
{
    char path[512];
    s_session_path(o, path, sizeof path);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    char parent[512];
    snprintf(parent, sizeof parent, "%s", path);
    char *p2 = strrchr(parent, '/');
    if (p2) {
        *p2 = '\0';
        mkdir(parent, 0700);
    }
    mkdir(path, 0700);
    *slash = '/';
    json_t *j =
        json_pack("{s:s, s:i, s:b, s:s, s:s, s:s, s:s, s:I}", "host", s->host, "port", s->port,
                  "msgpack", s->msgpack, "user", s->user, "device", s->device, "access", s->access,
                  "refresh", s->refresh, "last_n", (json_int_t)s->last_n);
    char tmp[520];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    umask(077);
    int rc = json_dump_file(j, tmp, JSON_INDENT(2)) == 0 && rename(tmp, path) == 0 ? 0 : -1;
    json_decref(j);
    if (rc != 0)
        fprintf(stderr, "roost-chat: cannot write %s: %s\n", path, strerror(errno));
    return rc;
}

static int s_load(const opts_t *o, rc_session_t *s)
{
    char path[512];
    s_session_path(o, path, sizeof path);
    json_t *j = json_load_file(path, 0, NULL);
    if (!j) {
        fprintf(stderr, "roost-chat: not logged in (no %s); run: roost-chat login PHONE\n", path);
        return -1;
    }
    memset(s, 0, sizeof *s);
    snprintf(s->host, sizeof s->host, "%s", json_string_value(json_object_get(j, "host")));
    s->port = (uint16_t)json_integer_value(json_object_get(j, "port"));
    s->msgpack = o->msgpack || json_is_true(json_object_get(j, "msgpack"));
    snprintf(s->user, sizeof s->user, "%s", json_string_value(json_object_get(j, "user")));
    snprintf(s->device, sizeof s->device, "%s", json_string_value(json_object_get(j, "device")));
    snprintf(s->access, sizeof s->access, "%s", json_string_value(json_object_get(j, "access")));
    snprintf(s->refresh, sizeof s->refresh, "%s", json_string_value(json_object_get(j, "refresh")));
    s->last_n = (uint64_t)json_integer_value(json_object_get(j, "last_n"));
    json_decref(j);
    return 0;
}

static int s_edge(const char *url, rc_session_t *s)
{
    char host[64];
    unsigned port = 0;
    if (!url || sscanf(url, "ws://%63[^:/]:%u", host, &port) != 2 || port == 0 || port > 65535) {
        fprintf(stderr, "roost-chat: --edge: expected ws://HOST:PORT\n");
        return -1;
    }
    snprintf(s->host, sizeof s->host, "%s", host);
    s->port = (uint16_t)port;
    return 0;
}

/* ---- commands ----------------------------------------------------------------------------- */

static int s_login(const opts_t *o)
{
    if (o->argc != 2)
        return 2;
    const char *phone = o->argv[1];
    rc_session_t s = {.msgpack = o->msgpack};
    if (s_edge(o->edge, &s) != 0)
        return 2;
    char code[16] = "";
    if (o->code) {
        snprintf(code, sizeof code, "%s", o->code);
    } else {
        int st = rc_otp_request(s.host, s.port, phone);
        if (st != 202) {
            fprintf(stderr, "roost-chat: code request refused (HTTP %d)\n", st);
            return 1;
        }
        if (o->code_file) {
            for (int i = 0; i < 50 && rc_code_from_file(o->code_file, phone, code) != 0; i++)
                usleep(100 * 1000);
        } else {
            fprintf(stderr, "code sent to %s; enter it: ", phone);
            if (!fgets(code, sizeof code, stdin))
                return 1;
            code[strcspn(code, "\r\n")] = '\0';
        }
    }
    char device[65];
    if (o->device)
        snprintf(device, sizeof device, "%s", o->device);
    else
        snprintf(device, sizeof device, "cli-%08x", randombytes_random());
    int st = rc_login(&s, phone, code, device);
    if (st != 200) {
        fprintf(stderr, "roost-chat: login refused (HTTP %d)\n", st);
        return 1;
    }
    if (s_save(o, &s) != 0)
        return 1;
    printf("logged in as %s (device %s)\n", s.user, s.device);
    return 0;
}

/* Connects (resume from the saved n), keeping refreshed tokens. */
static int s_connect(const opts_t *o, rc_session_t *s)
{
    if (s_load(o, s) != 0)
        return 1;
    json_t *ok = rc_session_connect(s, 15000);
    s_save(o, s); /* a refresh may have rotated the tokens */
    if (!ok) {
        fprintf(stderr, "roost-chat: cannot connect to ws://%s:%u\n", s->host, s->port);
        return 1;
    }
    json_decref(ok);
    return 0;
}

static int s_answer(const opts_t *o, json_t *a)
{
    const char *t = json_string_value(json_object_get(a, "t"));
    if (!a || !t || strcmp(t, "ok") != 0) {
        fprintf(stderr, "roost-chat: %s: %s\n",
                a ? json_string_value(json_object_get(a, "code")) : "timeout",
                a ? json_string_value(json_object_get(a, "msg")) : "no answer");
        json_decref(a);
        return 1;
    }
    if (o->json) {
        char *text = json_dumps(a, JSON_COMPACT);
        puts(text);
        free(text);
    }
    json_decref(a);
    return 0;
}

static int s_send(const opts_t *o, rc_session_t *s)
{
    if (o->argc != 3)
        return 2;
    const char *text = o->argv[2];
    size_t cap = sodium_base64_ENCODED_LEN(strlen(text), sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(cap), cmid[24];
    sodium_bin2base64(b64, cap, (const uint8_t *)text, strlen(text),
                      sodium_base64_VARIANT_ORIGINAL);
    snprintf(cmid, sizeof cmid, "cli-%08x%08x", randombytes_random(), randombytes_random());
    json_t *a = rc_call(s->conn,
                        json_pack("{s:s, s:s, s:s, s:s, s:s}", "t", "send", "to", o->argv[1],
                                  "cmid", cmid, "kind", "text", "body", b64),
                        15000);
    free(b64);
    if (!o->json && a && json_object_get(a, "seq"))
        printf("sent to %s: seq %lld\n", json_string_value(json_object_get(a, "conv")),
               (long long)json_integer_value(json_object_get(a, "seq")));
    return s_answer(o, a);
}

static void s_print_msg(const opts_t *o, json_t *m)
{
    if (o->json) {
        char *text = json_dumps(m, JSON_COMPACT);
        puts(text);
        free(text);
        return;
    }
    const char *b64 = json_string_value(json_object_get(m, "body"));
    size_t len = 0, cap = b64 ? strlen(b64) : 0;
    char *body = malloc(cap + 1);
    if (!b64 || sodium_base642bin((uint8_t *)body, cap, b64, cap, NULL, &len, NULL,
                                  sodium_base64_VARIANT_ORIGINAL) != 0)
        len = 0;
    body[len] = '\0';
    printf("[%s] %s: %s\n", json_string_value(json_object_get(m, "conv")),
           json_string_value(json_object_get(m, "from")), body);
    free(body);
    fflush(stdout);
}

static int s_listen(const opts_t *o, rc_session_t *s)
{
    for (;;) {
        json_t *e = rc_next(s->conn, o->once ? 1000 : 15000);
        if (!e) {
            if (o->once || rc_closed(s->conn))
                break;
            continue;
        }
        const char *t = json_string_value(json_object_get(e, "t"));
        json_int_t n = json_integer_value(json_object_get(e, "n"));
        if (t && strcmp(t, "msg") == 0)
            s_print_msg(o, e);
        else if (o->json) {
            char *text = json_dumps(e, JSON_COMPACT);
            puts(text);
            free(text);
        }
        if (n > 0 && (uint64_t)n > s->last_n) {
            s->last_n = (uint64_t)n;
            rc_ack(s->conn, s->last_n);
            s_save(o, s);
        }
        json_decref(e);
    }
    rc_pump(s->conn, 200); /* let the last ack out */
    return rc_closed(s->conn) && !o->once ? 1 : 0;
}

static json_t *s_users(char **argv, int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(argv[i]));
    return a;
}

static int s_group(const opts_t *o, rc_session_t *s)
{
    if (o->argc < 3)
        return 2;
    const char *sub = o->argv[1];
    json_t *f;
    if (strcmp(sub, "create") == 0)
        f = json_pack("{s:s, s:s, s:o}", "t", "group.create", "name", o->argv[2], "members",
                      s_users(o->argv + 3, o->argc - 3));
    else if (strcmp(sub, "add") == 0 && o->argc >= 4)
        f = json_pack("{s:s, s:s, s:o}", "t", "group.add", "group", o->argv[2], "users",
                      s_users(o->argv + 3, o->argc - 3));
    else if (strcmp(sub, "info") == 0 && o->argc == 3)
        f = json_pack("{s:s, s:s}", "t", "group.info", "group", o->argv[2]);
    else
        return 2;
    json_t *a = rc_call(s->conn, f, 15000);
    if (!o->json && a && json_object_get(a, "group"))
        printf("group %s\n", json_string_value(json_object_get(a, "group")));
    if (!o->json && a && json_object_get(a, "members")) {
        char *m = json_dumps(json_object_get(a, "members"), JSON_COMPACT);
        printf("%s: members %s\n", json_string_value(json_object_get(a, "name")), m);
        free(m);
    }
    return s_answer(o, a);
}

static int s_history(const opts_t *o, rc_session_t *s)
{
    if (o->argc != 2)
        return 2;
    json_t *a = rc_call(
        s->conn,
        json_pack("{s:s, s:s, s:i}", "t", "history", "conv", o->argv[1], "limit", o->limit), 15000);
    json_t *msgs = json_object_get(a, "msgs");
    for (size_t i = json_array_size(msgs); !o->json && i > 0; i--)
        s_print_msg(o, json_array_get(msgs, i - 1));
    return s_answer(o, a);
}

/* ---- main --------------------------------------------------------------------------------- */

static int s_args(int argc, char **argv, opts_t *o)
{
    static char *rest[64];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = strcmp(a, "--edge") == 0             ? &o->edge
                            : strcmp(a, "--code") == 0           ? &o->code
                            : strcmp(a, "--code-from-file") == 0 ? &o->code_file
                            : strcmp(a, "--device") == 0         ? &o->device
                            : strcmp(a, "--home") == 0           ? &o->home
                                                                 : NULL;
        if (slot && i + 1 < argc)
            *slot = argv[++i];
        else if (strcmp(a, "--limit") == 0 && i + 1 < argc)
            o->limit = atoi(argv[++i]);
        else if (strcmp(a, "--once") == 0)
            o->once = true;
        else if (strcmp(a, "--json") == 0)
            o->json = true;
        else if (strcmp(a, "--msgpack") == 0)
            o->msgpack = true;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        else if (a[0] == '-' && a[1] == '-')
            return -1;
        else if (n < 63)
            rest[n++] = argv[i];
    }
    o->argc = n;
    o->argv = rest;
    return n ? 0 : -1;
}

int main(int argc, char **argv)
{
    opts_t o = {.limit = 20};
    int a = s_args(argc, argv, &o);
    if (a != 0) {
        s_usage(a > 0 ? stdout : stderr);
        return a > 0 ? 0 : 2;
    }
    if (sodium_init() < 0)
        return 1;
    const char *cmd = o.argv[0];
    int rc;
    if (strcmp(cmd, "login") == 0)
        rc = s_login(&o);
    else if (strcmp(cmd, "whoami") == 0) {
        rc_session_t s;
        rc = s_load(&o, &s) == 0 ? (printf("%s\n", s.user), 0) : 1;
    } else if (strcmp(cmd, "send") == 0 || strcmp(cmd, "listen") == 0 ||
               strcmp(cmd, "group") == 0 || strcmp(cmd, "history") == 0) {
        rc_session_t s;
        rc = s_connect(&o, &s);
        if (rc == 0)
            rc = cmd[0] == 's'   ? s_send(&o, &s)
                 : cmd[0] == 'l' ? s_listen(&o, &s)
                 : cmd[0] == 'g' ? s_group(&o, &s)
                                 : s_history(&o, &s);
        rc_free(&s.conn);
    } else {
        rc = 2;
    }
    if (rc == 2)
        s_usage(stderr);
    return rc;
}
