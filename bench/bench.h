/*
 * bench.h - what every benchmark shares, so that all of them follow BENCHMARKS.md the
 * same way: xorshift64 seeded with 42, CLOCK_MONOTONIC and the thread's CPU time around
 * the measured loop only (bench_start, bench_stop), three runs of each configuration and
 * the medians reported.
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
 * This thread's CPU time. BENCHMARKS.md reports it beside the wall time (fields
 * prefixed cpu_): on a shared machine the wall clock also counts other processes' time,
 * and machines differ, so the CPU figure (and a baseline's ratio) is the one to compare.
 */
static inline uint64_t bench_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The start of one measured loop: both clocks, read together. */
struct bench_t0 { uint64_t wall, cpu; };

static inline struct bench_t0 bench_start(void)
{
	struct bench_t0 t = { bench_now_ns(), bench_cpu_ns() };
	return t;
}

/* The end of the loop begun at t0: wall and CPU nanoseconds per op into *wall, *cpu. */
static inline void bench_stop(struct bench_t0 t0, double ops, double *wall, double *cpu)
{
	uint64_t c = bench_cpu_ns(), w = bench_now_ns();
	*wall = (double)(w - t0.wall) / ops;
	*cpu = (double)(c - t0.cpu) / ops;
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
