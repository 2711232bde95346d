/* rng.h - the seeded pseudo-random generator of the simulator and the load
 * tester: xoshiro256** seeded through splitmix64. Deterministic for a seed,
 * so a seed reproduces a simulated run or a load test's schedule exactly;
 * not for anything that needs unpredictability.
 */
#ifndef INFERD_RNG_H
#define INFERD_RNG_H

#include <stdint.h>

typedef struct rng {
    uint64_t s[4];
} rng_t;

void rng_seed(rng_t *r, uint64_t seed);

/* An independent stream of one seed: each use of a seed gets its own, so
 * that changing how one thing is drawn does not move the others. */
void rng_seed_stream(rng_t *r, uint64_t seed, uint64_t stream);

/* Uniform in [0, 1). */
double rng_uniform(rng_t *r);

/* Exponential with that mean (finite: the logarithm never sees 0). */
double rng_exponential(rng_t *r, double mean);

/* Standard normal (Box-Muller). */
double rng_normal(rng_t *r);

#endif
