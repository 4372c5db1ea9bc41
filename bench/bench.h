/*
 * bench.h - what every benchmark shares, so that all of them follow BENCHMARKS.md the
 * same way: xorshift64 seeded with 42, CLOCK_MONOTONIC around the measured loop only,
 * three runs of each configuration and the median reported.
 */
#ifndef SVMM_BENCH_H
#define SVMM_BENCH_H

#include <stdint.h>
#include <time.h>

#define BENCH_SEED 42u
#define BENCH_RUNS 3

/* xorshift64 (Marsaglia); the state must never be zero. */
static inline uint64_t bench_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

/* Uniform in [lo, hi]; the slight modulo bias does not matter for workloads. */
static inline uint64_t bench_range(uint64_t *state, uint64_t lo, uint64_t hi)
{
	return lo + bench_rand(state) % (hi - lo + 1);
}

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * A request size of BENCHMARKS.md's vmem workloads: 4096 * k bytes, with k drawn 70%
 * uniform in 1..16, 25% in 17..512, 5% in 513..65536.
 */
static inline uint64_t bench_vmem_size(uint64_t *state)
{
	uint64_t p = bench_rand(state) % 100;
	if (p < 70)
		return bench_range(state, 1, 16) * 4096u;
	if (p < 95)
		return bench_range(state, 17, 512) * 4096u;
	return bench_range(state, 513, 65536) * 4096u;
}

/* Median of BENCH_RUNS values (sorts them in place). */
static inline double bench_median(double v[BENCH_RUNS])
{
	for (int i = 1; i < BENCH_RUNS; i++)
		for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			double t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	return v[BENCH_RUNS / 2];
}

#endif /* SVMM_BENCH_H */
