/* actors/record.h — a conversation record (what conv_send.c and group.c store at
 * <conv>/m/<seq>) and how it turns into the frames clients get.
 *
 * A message:  {seq, mid, from, device, kind, ts, body | bodies, meta?, hide?}
 *             bodies: {"<user>:<device>": bin}; hide: users whose inbox must not get it (the
 *             recipient of a direct message who blocks the sender)
 * An event:   {seq, ev, by, users, ts, name?}   (groups: created, added, removed, promoted,
 *             demoted, left, renamed)
 */
#ifndef ROOST_ACTORS_RECORD_H
#define ROOST_ACTORS_RECORD_H

#include <stdbool.h>
#include <stdint.h>

#include "actors/mp.h"

bool record_is_event(const msgpack_object *rec);
uint64_t record_seq(const msgpack_object *rec);
/* The sender of a message, the actor of an event (0 if malformed). */
uint64_t record_from(const msgpack_object *rec);
/* True if `user` is listed in the message's hide list. */
bool record_hidden_for(const msgpack_object *rec, uint64_t user);
/* True if the event concerns `user` beyond the members (the users it added or removed). */
bool record_event_names(const msgpack_object *rec, uint64_t user);

/* Packs the client's `msg` map (with n when n > 0) for `user`'s `device`: with bodies, that
 * device's own entry becomes `body` (empty when it has none). */
void record_pack_msg(msgpack_packer *pk, const char *conv, const msgpack_object *rec, uint64_t user,
                     const char *device, uint64_t n);

#endif
