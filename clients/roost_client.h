/* clients/roost_client.h — libroost-client: a small blocking C client of the Roost protocol
 * (shared/design/PROTOCOL.md), used by the tests, the benchmarks and roost-chat.
 *
 * A connection (rc_t) is one WebSocket to an edge's /v1/ws with one of the two subprotocols;
 * frames are handled as jansson objects either way (in msgpack mode byte fields travel as bin
 * and come back as base64 strings, exactly like the JSON form). Each rc_t has its own
 * libwebsockets context, driven only inside the calls below: one thread per connection.
 *
 *   rc_open → rc_auth → rc_call / rc_next (events; rc_ack) … → rc_free
 *
 * The session layer (rc_session_t) adds what a real client does: log in over HTTP, keep the
 * tokens and the last processed `n`, reconnect with jittered backoff and `resume`.
 */
#ifndef ROOST_CLIENT_H
#define ROOST_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct rc rc_t;

/* Connects to url ("ws://host:port/v1/ws"); NULL if it fails within timeout_ms. */
rc_t *rc_open(const char *url, bool msgpack, int timeout_ms);
void rc_free(rc_t **c_p);

/* Sends one frame (not consumed). 0, or -1 if the connection is closed. */
int rc_send(rc_t *c, const json_t *frame);
/* Sends raw bytes as one frame (text in JSON mode, binary in msgpack mode): for tests of bad
 * input. */
int rc_send_raw(rc_t *c, const void *data, size_t len);
/* The next frame that is not the answer to a pending rc_call (an event, or an answer to a
 * frame sent with rc_send); NULL after timeout_ms or once closed. Caller owns it. */
json_t *rc_next(rc_t *c, int timeout_ms);
/* Sends frame with a fresh integer rid and waits for its answer (ok or err); events that come
 * meanwhile are kept for rc_next. NULL on timeout or close. frame is consumed. */
json_t *rc_call(rc_t *c, json_t *frame, int timeout_ms);
/* rc_call of {"t":"auth","token":…[,"resume":n]}; resume < 0 omits it. */
json_t *rc_auth(rc_t *c, const char *token, int64_t resume, int timeout_ms);
/* {"t":"recv.ack","n":n} without rid. */
int rc_ack(rc_t *c, uint64_t n);
/* 0 while open; the close code once the server closed (1006 when no code came). */
int rc_closed(rc_t *c);
/* Stops (or resumes) reading from the socket: a reader that fell behind, for tests. */
void rc_pause_reading(rc_t *c, bool paused);
/* Services the connection for up to ms (answers pings, reads frames into the queue). A client
 * that stops calling into its rc_t answers no pings: what a frozen client looks like. */
void rc_pump(rc_t *c, int ms);

/* ---- HTTP ------------------------------------------------------------------------------- */

/* method "GET"/"POST" to http://host:port/path with an optional body; *status and *body (the
 * answer's body, caller frees) filled. 0, or -1 if no answer came within timeout_ms. */
int rc_http(const char *host, uint16_t port, const char *method, const char *path, const char *body,
            int timeout_ms, int *status, char **resp);

/* ---- sessions (login, tokens, resume, reconnect) --------------------------------------------- */

typedef struct {
    char host[64];
    uint16_t port;
    bool msgpack;
    char user[24];
    char device[65];
    char access[2048];
    char refresh[256];
    uint64_t last_n; /* the highest n processed (acked) */
    rc_t *conn;
} rc_session_t;

/* POST /v1/auth/otp/request. The HTTP status, or -1. */
int rc_otp_request(const char *host, uint16_t port, const char *phone);
/* POST /v1/auth/otp/verify; fills s->user, access and refresh tokens. The HTTP status or -1. */
int rc_login(rc_session_t *s, const char *phone, const char *code, const char *device);
/* POST /v1/auth/refresh with s->refresh; new pair into s. The HTTP status or -1. */
int rc_refresh(rc_session_t *s);
/* Connects and authenticates with resume = s->last_n (when > 0), retrying with jittered
 * backoff (100 ms doubling to 2 s) until timeout_ms; refreshes the access token once if it is
 * refused. The auth answer (caller owns), or NULL. */
json_t *rc_session_connect(rc_session_t *s, int timeout_ms);
/* The newest code for phone in a `PHONE CODE` SMS sink file ("" if none). */
int rc_code_from_file(const char *path, const char *phone, char code[8]);

#endif
