/* runtime/rng.h — the seam through which every component draws randomness.
 *
 * A roost_rng_t is a xoshiro256** generator owned by one thread (not thread-safe). The real
 * seed comes from libsodium's CSPRNG; sim/ seeds it from the run's seed, so a run is
 * reproducible. Not for key material: keys come from libsodium directly.
 */
#ifndef ROOST_RNG_H
#define ROOST_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} roost_rng_t;

/* Seeds from a fixed value (deterministic; the simulator and tests use this). */
void roost_rng_seed(roost_rng_t *self, uint64_t seed);
/* Seeds from the OS's CSPRNG. */
void roost_rng_seed_random(roost_rng_t *self);
uint64_t roost_rng_next(roost_rng_t *self);
/* Uniform in [0, bound); bound > 0. */
uint64_t roost_rng_below(roost_rng_t *self, uint64_t bound);
/* Uniform double in [0, 1). */
double roost_rng_unit(roost_rng_t *self);

#endif
