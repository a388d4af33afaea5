/* runtime/zap.h — the ZAP handler (ZeroMQ RFC 27) that lets a CURVE server socket accept only
 * the public keys it was given: the cluster's nodes on the peer transport, the operators on
 * the admin port.
 *
 * libzmq asks "inproc://zeromq.zap.01" of the server socket's context about every CURVE
 * handshake; zap_new binds a REP there (one handler per context: create it before binding the
 * server socket) and answers from an allow-list of (public key, user id). Every message of an
 * accepted connection carries that user id as its "User-Id" property (zmq_msg_gets), so the
 * transport can check that a node speaks under its own routing id. A refusal is counted and
 * logged (at most one line a second) with the client's address and Z85 key.
 *
 * Why not CZMQ's zauth: it serves CZMQ's one process-wide context, while every Roost node owns
 * its context and tests run several nodes in one process; it cannot tag a connection with the
 * node it authenticated (User-Id), which stops a listed node from speaking as another; and its
 * refusals go to stdout, uncounted. Certificates themselves are CZMQ's (zcert files).
 *
 * Not thread-safe: its owner thread calls zap_serve when zap_socket(z) is readable (zmq_poll).
 * A handshake waits for that answer, so the owner must poll it promptly.
 */
#ifndef ROOST_ZAP_H
#define ROOST_ZAP_H

#include <stdint.h>

enum { ZAP_KEY_BYTES = 32, ZAP_USER_BYTES_MAX = 32 };

typedef struct {
    uint8_t key[ZAP_KEY_BYTES];
    char user[ZAP_USER_BYTES_MAX]; /* the User-Id of its connections ("n3", "operator") */
} zap_allow_t;

typedef struct zap zap_t;

/* Binds the handler in zctx. `who` names it in log lines ("transport", "admin"). NULL (logged)
 * if another handler is bound in that context. */
zap_t *zap_new(void *zctx, const char *who, const zap_allow_t *allow, uint32_t n);
/* Accepts one more key (a node that joined); the owner thread only. */
void zap_allow_add(zap_t *z, const zap_allow_t *allow);
/* The REP socket to poll for ZMQ_POLLIN. */
void *zap_socket(zap_t *z);
/* Answers every waiting request. */
void zap_serve(zap_t *z);
uint64_t zap_accepted(const zap_t *z);
uint64_t zap_refused(const zap_t *z);
/* Closes the socket. Safe on NULL. */
void zap_destroy(zap_t **z_p);

#endif
