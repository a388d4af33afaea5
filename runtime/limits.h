/* runtime/limits.h — every bound of the runtime, with the reason beside it.
 *
 * Components size queues, batches and loops from these names only; the _Static_asserts are
 * the compile-time ceilings that keep a careless edit from turning a bound into a hazard.
 */
#ifndef ROOST_LIMITS_H
#define ROOST_LIMITS_H

/* A cache line on the machines we run on (x86-64, arm64): data written by one thread is kept off
 * the lines another thread reads on its hot path. */
#define ROOST_CACHE_LINE_BYTES 64

/* An actor key "kind:id". "d:<lo>:<hi>" with two 48-byte user ids fits; keys travel in every
 * envelope header, so they stay short. */
#define ROOST_KEY_BYTES_MAX 128
/* A kind (the part before ':') is a short tag: "u", "g", "d", "p", "bench". */
#define ROOST_KIND_BYTES_MAX 16
/* Behaviours registered per node: one per actor kind; a linear scan stays cheap. */
#define ROOST_KINDS_MAX 32
/* Largest envelope payload: a 64 KiB body fanned out as per-device ciphertexts (5 devices)
 * plus headroom. Anything larger is refused at encode and decode. */
#define ROOST_PAYLOAD_BYTES_MAX (1024 * 1024)
/* Largest state a behaviour may have allocated with its actors' records (roost_behaviour_t
 * .state_bytes): meant for small fixed-size states; a bigger one is its own allocation anyway. */
#define ROOST_STATE_BYTES_MAX (64 * 1024)
/* Messages one actor handles per turn before the worker moves on: fairness between actors. */
#define ROOST_ACTOR_TURN_MSGS_MAX 64
/* Actor turns per worker pass before timers and the inbound queue are looked at again. */
#define ROOST_WORKER_PASS_ACTORS_MAX 256
/* Turns (of other actors, on its worker) a ready actor may wait on the ready stack (newest first,
 * runtime/readyq.h) before it moves to the round-robin FIFO: however fast a fan-out keeps readying
 * new actors, an older one's place in the FIFO is fixed after at most this many turns. Large
 * enough that a fan-out's subtree of a few thousand actors usually finishes on the stack
 * (depth-first, in cache) before its siblings age out; a turn is typically a microsecond or two,
 * so the delay is milliseconds. */
#define ROOST_READY_STACK_AGE_TURNS 8192
/* The FIFO's head gets every this-many-th turn of its worker when the FIFO is not empty (every
 * turn when the stack is): older ready actors keep progressing whatever the stack holds. Each
 * FIFO turn starts a fresh subtree of a fan-out on the stack, so a larger share makes the worker
 * run wider (more actors alive at once, fewer of them in cache). */
#define ROOST_READY_FIFO_EVERY 32
/* Turns an actor may take from the ready stack before its next readying goes to the FIFO (and
 * its count starts again when the FIFO gives it a turn): two actors messaging each other would
 * otherwise keep the top of the stack to themselves, and everyone else would get only the FIFO's
 * share. A skynet parent takes 11 (its spawn and ten results), so a fan-out still runs depth-first.
 */
#define ROOST_READY_STACK_TURNS_MAX 16
/* On the worker that runs the transport's I/O (runtime.io: worker): its actor turns stop for a
 * transport pass once a pass has run this long, so the network — heartbeats, the tunnelled
 * control plane — waits at most about this long plus one turn. */
#define ROOST_IO_WORKER_PASS_NS (2 * 1000 * 1000)
/* Inbound envelopes moved into mailboxes per pass: a flood from other threads cannot starve
 * actors that already have work. */
#define ROOST_WORKER_PASS_INBOUND_MAX 4096
/* …but only as many as the pass has turns when a pass's worth of actors is ready already:
 * moving more then only readies (and, for new keys, activates) actors before they can run. With
 * 4096 always, skynet's faster worker piled its spawns onto the slower one's ready stack (27–66k
 * deep against 3.7k with one worker) and the live set and page faults doubled; what waits in the
 * queue is an envelope, not an actor, and keeps its order. A worker with few ready actors still
 * takes in a flood's 4096, so a message behind a burst to one busy actor reaches its own
 * mailbox after one turn of the busy one. */
#define ROOST_WORKER_PASS_INBOUND_BUSY_MAX ROOST_WORKER_PASS_ACTORS_MAX
/* Timers fired per pass: 1M timers due at once cannot stall message processing. */
#define ROOST_WORKER_PASS_TIMERS_MAX 1024
/* Actor-table slots examined per pass when looking for idle actors to passivate. */
#define ROOST_WORKER_PASS_SCAN_SLOTS 1024
/* Worker threads per node: one per core is the default; more is a configuration error. */
#define ROOST_WORKERS_MAX 64
/* Node-wide services behaviours can look up by name (the store, the clock of record, …). */
#define ROOST_SERVICES_MAX 8
/* Nodes a transport can address: the cluster map's member ceiling. */
#define ROOST_NODES_MAX 64
/* How many times an envelope may be forwarded between nodes whose maps disagree before it is
 * refused with ESTALE (a routing loop must end). */
#define ROOST_ENV_HOPS_MAX 3
/* Default idle time before an actor is passivated. */
#define ROOST_PASSIVATE_AFTER_MS_DEFAULT (5 * 60 * 1000)
/* Default idle spin of a worker before it sleeps (see roost_node_config_t.idle_spin_us). 20 µs
 * until session 19; 1 µs took the store benchmark from 23.2 k to 25.3 k acknowledged writes/s
 * (3 alternating pairs, every pair) — on 2 cores a spinning worker holds a core that the
 * node's syncer and I/O threads need — and moved the runtime's benchmarks by less than their
 * spread (docs/benchmarks.md). */
#define ROOST_IDLE_SPIN_US_DEFAULT 1
/* Default request timeout when the caller passes 0. */
#define ROOST_REQUEST_TIMEOUT_MS_DEFAULT 5000

/* Transport: envelopes batched into one ZeroMQ frame up to this size (amortises syscalls
 * without building latency). */
#define ROOST_TRANSPORT_BATCH_BYTES_MAX (64 * 1024)
/* Envelopes waiting for the I/O thread, all peers together; beyond it sends fail with EAGAIN
 * instead of growing memory without bound. */
#define ROOST_TRANSPORT_OUTBOUND_MAX (1024 * 1024)
/* ZeroMQ send high-water mark per peer, in batches: a dead peer holds at most this many. */
#define ROOST_TRANSPORT_PEER_HWM 1000
/* Bytes held for one peer whose ZeroMQ pipe is full (sealed frames + the open batch): rides
 * out a slow peer or a reconnect; beyond it new envelopes for that peer are dropped, counted. */
#define ROOST_TRANSPORT_PEER_PENDING_BYTES_MAX (16 * 1024 * 1024)
/* A received frame larger than this is dropped unread. */
#define ROOST_TRANSPORT_FRAME_BYTES_MAX                                                            \
    (ROOST_TRANSPORT_BATCH_BYTES_MAX + ROOST_PAYLOAD_BYTES_MAX + 4096)

_Static_assert(ROOST_WORKER_PASS_INBOUND_BUSY_MAX >= 1 &&
                   ROOST_WORKER_PASS_INBOUND_BUSY_MAX <= ROOST_WORKER_PASS_INBOUND_MAX,
               "a busy worker takes in less, not more");
_Static_assert(ROOST_KEY_BYTES_MAX < 65535, "keys are length-prefixed with 16 bits");
_Static_assert(ROOST_PAYLOAD_BYTES_MAX <= 16 * 1024 * 1024, "envelopes are not a bulk channel");
_Static_assert(ROOST_READY_STACK_AGE_TURNS > 0 && ROOST_READY_STACK_AGE_TURNS < (1u << 30),
               "ready stamps are turns mod 2^32");
_Static_assert(ROOST_READY_FIFO_EVERY >= 1, "the FIFO gets turns");
_Static_assert(ROOST_READY_STACK_TURNS_MAX >= 1 && ROOST_READY_STACK_TURNS_MAX < 255,
               "a uint8_t count");
_Static_assert(ROOST_WORKERS_MAX <= 64, "a worker's outboxes are flagged in a 64-bit mask (and ids "
                                        "fit the top byte of a correlation id)");

#endif
