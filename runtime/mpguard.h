/* runtime/mpguard.h — a bounds check for untrusted msgpack bytes, run before msgpack-c sees them.
 *
 * msgpack-c's C unpacker trusts a container's declared element count and allocates for it up
 * front: a 5-byte frame claiming a 2^32-element array makes it try to allocate 64 GiB. This walk
 * reads the same bytes without allocating and refuses any value whose declared sizes cannot fit
 * in what remains (each element takes at least one byte), nested deeper than `depth_max`, or
 * using a reserved type byte. Only after it passes does the caller unpack.
 *
 * It is a validator, not a parser: it produces no values.
 */
#ifndef ROOST_MPGUARD_H
#define ROOST_MPGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Nesting no envelope, frame or record of Roost needs to exceed. */
#define MPGUARD_DEPTH_MAX 16

/* True if data[0..len) starts with one well-formed msgpack value within the limits; its size
 * goes to *used. */
bool mpguard_check(const uint8_t *data, size_t len, unsigned depth_max, size_t *used);

#endif
