/*
 * test_rand.h - the random numbers of the property tests: xorshift64 (Marsaglia), the
 * generator the benchmarks use too (bench/bench.h). Each test seeds rng from its
 * printed seed (never 0), so that any run can be replayed.
 */
#ifndef SVMM_TEST_RAND_H
#define SVMM_TEST_RAND_H

#include <stdint.h>

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

#endif /* SVMM_TEST_RAND_H */
