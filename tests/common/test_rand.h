/*
 * test_rand.h - the random numbers of the property tests: xorshift64 (Marsaglia), the
 * generator the benchmarks use too (bench/bench.h). Each test seeds rng from its
 * printed seed (never 0), so that any run can be replayed.
 */
#ifndef SVMM_TEST_RAND_H
#define SVMM_TEST_RAND_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static uint64_t rng;

static inline uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Uniform in [lo, hi]; the modulo bias is irrelevant for test workloads. */
static inline uint64_t rnd_range(uint64_t lo, uint64_t hi)
{
	return lo + rnd() % (hi - lo + 1);
}

/*
 * Seed rng for a property test and return the seed: SVMM_SEED when it is set, else
 * one from the clock, never 0. The line printed names the test and the seed, so that
 * a failing run can be replayed.
 */
static inline uint64_t test_seed(const char *name)
{
	const char *s = getenv("SVMM_SEED");
	uint64_t seed = s != NULL ? strtoull(s, NULL, 0)
				  : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
	if (seed == 0)
		seed = 1;
	rng = seed;
	printf("%s: SVMM_SEED=%llu\n", name, (unsigned long long)seed);
	return seed;
}

#endif /* SVMM_TEST_RAND_H */
