/* runtime/phi.h — a phi-accrual failure detector for one peer (Hayashibara et al. 2004, as in
 * Akka's PhiAccrualFailureDetector and Cassandra).
 *
 * Owns: the recent history of one peer's heartbeat inter-arrival intervals and the suspicion
 * level derived from it. Instead of a yes/no verdict it answers "how surprised should we be that
 * nothing arrived for this long": phi = -log10(P(an interval at least this long)), assuming
 * intervals are normally distributed with the history's mean and standard deviation. phi = 1
 * means a 10% chance the peer is merely slow, phi = 8 one in 10^8. The caller picks a threshold.
 *
 * Model (Akka's choices):
 *   - mean  = history mean + acceptable_pause_ns (a known pause, e.g. GC, is not suspicious);
 *   - sigma = max(history standard deviation, min_std_dev_ns) (a perfectly regular peer would
 *             otherwise make phi jump from 0 to huge within a millisecond of lateness);
 *   - P(X > t) uses the logistic approximation 1 / (1 + exp(y (1.5976 + 0.070566 y^2))),
 *     y = (t - mean) / sigma, whose error against the normal CDF is below 1.4e-4.
 *   - The history starts seeded with two intervals, first_estimate ± first_estimate/4, so a
 *     peer with one heartbeat already has a sensible distribution.
 *   - Intervals longer than max_interval_ns are not recorded (Cassandra's rule): such a gap is a
 *     restart or a partition, not a sample of the peer's normal rhythm.
 *
 * State: NO_HEARTBEAT --phi_heartbeat--> LIVE; phi() is 0 until the first heartbeat.
 * Invariants: count <= PHI_SAMPLES_MAX; sum_us and sumsq_us2 are the exact sums of the `count`
 * samples in the ring (integers, so the running mean and variance never drift).
 *
 * Pure logic: no allocation, no clock (times are uint64 nanoseconds from the caller's monotonic
 * clock), no globals. One owner; not thread-safe. Caller-allocated, initialised by phi_init.
 */
#ifndef ROOST_PHI_H
#define ROOST_PHI_H

#include <stdbool.h>
#include <stdint.h>

enum {
    /* Intervals kept per peer: at a 500 ms heartbeat, 200 samples are the last 100 s, long
     * enough to smooth jitter, short enough to follow a change of network conditions. */
    PHI_SAMPLES_MAX = 200,
};

/* Longest interval the history can hold, in microseconds. Samples are stored in microseconds so
 * that PHI_SAMPLES_MAX squared samples fit an exact uint64 sum (see the _Static_assert). */
#define PHI_INTERVAL_US_MAX (60ull * 1000 * 1000)

_Static_assert(PHI_INTERVAL_US_MAX <= UINT64_MAX / 2 / PHI_SAMPLES_MAX / PHI_INTERVAL_US_MAX,
               "the running sum of squared intervals must not overflow");

typedef struct {
    uint64_t first_estimate_ns;   /* expected interval before any is measured (the heartbeat) */
    uint64_t min_std_dev_ns;      /* floor of sigma; > 0 */
    uint64_t acceptable_pause_ns; /* added to the mean */
    uint64_t max_interval_ns;     /* longer gaps are not recorded; <= PHI_INTERVAL_US_MAX µs */
} phi_config_t;

typedef struct {
    phi_config_t cfg;
    uint32_t samples_us[PHI_SAMPLES_MAX]; /* ring; the oldest is at head when count is full */
    uint32_t head;                        /* next slot written */
    uint32_t count;
    uint64_t sum_us;
    uint64_t sumsq_us2;
    uint64_t last_ns; /* arrival of the latest heartbeat, valid when has_last */
    bool has_last;
} phi_t;

/* Initialises `self` with an empty arrival record and the seeded history. Returns 0, or
 * ROOST_EINVAL if first_estimate_ns or min_std_dev_ns is 0, first_estimate_ns exceeds
 * max_interval_ns, or max_interval_ns exceeds PHI_INTERVAL_US_MAX microseconds. */
int phi_init(phi_t *self, const phi_config_t *cfg);

/* Records a heartbeat arriving at now_ns. An earlier now_ns than the previous heartbeat counts
 * as an interval of 0. Can't fail. */
void phi_heartbeat(phi_t *self, uint64_t now_ns);

/* Suspicion level at now_ns: 0 before the first heartbeat, then >= 0, finite, and
 * non-decreasing in now_ns. Can't fail. */
double phi_value(const phi_t *self, uint64_t now_ns);

/* The model's mean interval (history mean, without the acceptable pause) and standard
 * deviation (history, without the floor), in nanoseconds: for tests and diagnostics. */
double phi_mean_ns(const phi_t *self);
double phi_std_dev_ns(const phi_t *self);

/* Heartbeats seen (false until the first). */
bool phi_has_heartbeat(const phi_t *self);

#endif
