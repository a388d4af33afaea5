/* actors/hidden.h — which senders' messages a reader never received in one conversation.
 *
 * A message from someone the reader blocks never reaches the reader's inbox, and no receipt may
 * ever claim it (PROTOCOL.md: "no delivery receipt ever comes for it"). Receipts are cumulative
 * ("everything up to seq"), so the first message of sender S hidden from reader R caps every
 * later receipt R's watermarks cause for S at the seq before it, for good. The reader's user
 * actor records the first hidden seq per sender as it filters (durable with the inbox batch)
 * and hands the list to the conversation with every watermark it reports; the conversation keeps
 * it in the member's record and caps the receipts it emits.
 *
 * Bounded: HIDDEN_MAX senders by name; beyond them `any` caps every sender (conservative: a
 * receipt is withheld rather than a hidden message claimed). Wire form: [[sender, seq], …] with
 * sender 0 meaning any.
 */
#ifndef ROOST_ACTORS_HIDDEN_H
#define ROOST_ACTORS_HIDDEN_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

enum { HIDDEN_MAX = 4 };

typedef struct {
    uint64_t from[HIDDEN_MAX], seq[HIDDEN_MAX]; /* first hidden seq per named sender */
    uint32_t n;
    uint64_t any; /* first hidden seq of senders beyond HIDDEN_MAX; 0: none */
} hidden_t;

/* Records that `seq` from `from` was hidden (keeps the lowest per sender). */
void hidden_add(hidden_t *h, uint64_t from, uint64_t seq);
/* Merges another list in (the union, lowest seq per sender). */
void hidden_merge(hidden_t *h, const hidden_t *other);
/* The highest seq a receipt to `sender` may name given `upto`; 0: none may be sent. */
uint64_t hidden_cap(const hidden_t *h, uint64_t sender, uint64_t upto);
bool hidden_empty(const hidden_t *h);

void hidden_pack(msgpack_packer *pk, const hidden_t *h);
/* Parses the wire form defensively; false (and *h empty) on anything malformed. */
bool hidden_parse(const msgpack_object *o, hidden_t *h);

#endif
