/*
 * bench_aspace.c - host timings of the address-space paths the kernel benchmarks count
 * in instructions (BENCHMARKS.md, "the demonstration kernel"): a demand-zero fault, an
 * address space's whole life with one touched page, and a switch. Host nanoseconds
 * are a proxy for the kernel's instruction counts; they show regressions and where
 * time goes (a 4 KiB zeroing is part of every fault). JSON lines: bench "aspace", case,
 * ns_per_op, cpu_ns_per_op (this thread's CPU time), ops; medians of three runs.
 */
#include <stdio.h>

#include "aspace_fixture.h"
#include "bench.h"

#define PG SVMM_PAGE_SIZE

static struct aspace as, bs;

static void emit(const char *name, double v[BENCH_RUNS], double c[BENCH_RUNS], uint64_t ops)
{
	printf("{\"bench\": \"aspace\", \"case\": \"%s\", \"ns_per_op\": %.1f, "
	       "\"cpu_ns_per_op\": %.1f, \"ops\": %llu}\n",
	       name, bench_median(v), bench_median(c), (unsigned long long)ops);
}

int main(void)
{
	if (fx_setup(1024 * SVMM_MiB, 0, SVMM_SV39, 16) != 0)
		return 1;
	double v[BENCH_RUNS], c[BENCH_RUNS];

	/* fault-anon: demand-zero faults over a 64 MiB region, zeroing included. */
	const uint64_t npages = 16384;
	for (int run = 0; run < BENCH_RUNS; run++) {
		svmm_va_t va;
		if (aspace_create(&as, &fx.kpt, &fx.pm, NULL) != 0 ||
		    aspace_map_anon(&as, 0, npages * PG, PT_R | PT_W, 0, &va) != 0)
			return 1;
		struct bench_t0 t0 = bench_start();
		for (uint64_t i = 0; i < npages; i++)
			if (aspace_fault(&as, va + i * PG, PT_W) != 0)
				return 1;
		bench_stop(t0, (double)npages, &v[run], &c[run]);
		aspace_destroy(&as);
	}
	emit("fault-anon", v, c, npages);

	/* fault-random: the same faults in a random page order (deeper lookups, cold tables). */
	uint64_t rng = BENCH_SEED;
	static uint32_t order[16384];
	for (uint32_t i = 0; i < npages; i++)
		order[i] = i;
	for (uint32_t i = (uint32_t)npages - 1; i > 0; i--) {
		uint32_t j = (uint32_t)bench_range(&rng, 0, i), t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int run = 0; run < BENCH_RUNS; run++) {
		svmm_va_t va[64];
		if (aspace_create(&as, &fx.kpt, &fx.pm, NULL) != 0)
			return 1;
		/* 64 regions of 1 MiB, so that the lookup has a tree to search. */
		for (int r = 0; r < 64; r++)
			if (aspace_map_anon(&as, 0, 256 * PG, PT_R | PT_W, 0, &va[r]) != 0)
				return 1;
		struct bench_t0 t0 = bench_start();
		for (uint64_t i = 0; i < npages; i++) {
			uint32_t p = order[i];
			if (aspace_fault(&as, va[p / 256] + (p % 256) * PG, PT_R) != 0)
				return 1;
		}
		bench_stop(t0, (double)npages, &v[run], &c[run]);
		aspace_destroy(&as);
	}
	emit("fault-random-64-regions", v, c, npages);

	/* create-destroy: create, map and touch one page, destroy. */
	const uint64_t lives = 20000;
	for (int run = 0; run < BENCH_RUNS; run++) {
		struct bench_t0 t0 = bench_start();
		for (uint64_t i = 0; i < lives; i++) {
			svmm_va_t va;
			if (aspace_create(&as, &fx.kpt, &fx.pm, NULL) != 0 ||
			    aspace_map_anon(&as, 0, PG, PT_R | PT_W, 0, &va) != 0 ||
			    aspace_fault(&as, va, PT_W) != 0)
				return 1;
			aspace_destroy(&as);
		}
		bench_stop(t0, (double)lives, &v[run], &c[run]);
	}
	emit("aspace-create-destroy", v, c, lives);

	/* switch: alternate two address spaces on one hart (ASIDs current: no flush). */
	const uint64_t switches = 1000000;
	if (aspace_create(&as, &fx.kpt, &fx.pm, NULL) != 0 ||
	    aspace_create(&bs, &fx.kpt, &fx.pm, NULL) != 0)
		return 1;
	for (int run = 0; run < BENCH_RUNS; run++) {
		bool flush;
		uint64_t sum = 0;
		struct bench_t0 t0 = bench_start();
		for (uint64_t i = 0; i < switches; i++)
			sum += aspace_activate(i & 1 ? &bs : &as, 0, &flush);
		bench_stop(t0, (double)switches, &v[run], &c[run]);
		if (sum == 0)
			return 1;
	}
	emit("switch", v, c, switches);

	/* unmap-split: cut a resident 16-page region in the middle and map it back. */
	const uint64_t cuts = 50000;
	svmm_va_t base;
	if (aspace_map_anon(&as, 0, 16 * PG, PT_R | PT_W, 0, &base) != 0)
		return 1;
	for (int run = 0; run < BENCH_RUNS; run++) {
		struct bench_t0 t0 = bench_start();
		for (uint64_t i = 0; i < cuts; i++) {
			svmm_va_t va;
			if (aspace_fault(&as, base + 7 * PG, PT_W) != 0 ||
			    aspace_unmap(&as, base + 7 * PG, PG) != 0 ||
			    aspace_map_anon(&as, base + 7 * PG, PG, PT_R | PT_W, ASPACE_FIXED, &va) != 0)
				return 1;
		}
		bench_stop(t0, (double)cuts, &v[run], &c[run]);
	}
	emit("fault-unmap-split-remap", v, c, cuts);
	aspace_destroy(&bs);
	aspace_destroy(&as);
	fx_teardown();
	return 0;
}
