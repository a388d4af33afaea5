/* edge/sms.h — delivering one-time codes. The `file` driver (development) appends
 * "PHONE CODE\n" to a file, as PROTOCOL.md describes the dev sink; the `webhook` driver (an
 * HTTP POST to the operator's URL) is not built yet. */
#ifndef ROOST_EDGE_SMS_H
#define ROOST_EDGE_SMS_H

/* Appends the line (one write, O_APPEND, so concurrent edges never interleave); 0 or -1. */
int sms_file_send(const char *path, const char *phone, const char *code);

#endif
