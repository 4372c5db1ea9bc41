/*
 * bench_ptsweep.c - page-table cost per 4 KiB page against the size of the range,
 * JSON lines on stdout (the data behind docs/img/pt-sweep.png).
 *
 * For each range size from 4 KiB to 1 GiB (powers of 4) and each mode (Sv39, Sv48):
 *   4k-aligned   pt_map then pt_unmap with va and pa aligned only to 4 KiB, so every
 *                page is a 4 KiB leaf (the case of bench-pt's map-unmap-4k);
 *   huge-aligned the same with va and pa 1 GiB-aligned, so pt_map picks 2 MiB and 1 GiB
 *                leaves wherever the range allows;
 *   4k-warm      4k-aligned with one more page mapped just below the range for the
 *                whole run, so that the tables the range uses first are never empty
 *                and pt_unmap does not free them (as in a populated address space);
 *   baseline     the per-page baseline of bench-pt: every page mapped and unmapped by
 *                its own walk from the root. It never frees a table, so after the
 *                first round it pays no table allocation at all.
 * A small range pays the walk from the root and the table allocations once per call,
 * a large one spreads them over many pages: the curves show where that stops
 * mattering. Each point repeats map+unmap until about 2^18 pages (and at least 64
 * calls) have gone through, three times; the median time per page (wall, and this thread's CPU time as cpu_ns_per_page) is
 * reported.
 */
#include <stdio.h>
#include <stdlib.h>

#include <svmm/pt.h>
#include "bench.h"
#include "hostsim.h"
#include "pt_baseline.h"

#define VA_4K  (0x100000000ull + 0x1000)   /* 4 KiB-aligned only */
#define PA_4K  (0x200000000ull + 0x3000)
#define VA_BIG 0x100000000ull               /* 4 GiB: 1 GiB-aligned */
#define PA_BIG 0x40000000ull                /* 1 GiB */

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_ptsweep: %s: %s\n", what, svmm_strerror(err));
	exit(1);
}

enum sweep_case { SWEEP_4K, SWEEP_WARM, SWEEP_HUGE, SWEEP_BASELINE };
static const char *const case_name[] = { "4k-aligned", "4k-warm", "huge-aligned", "baseline" };

struct point {
	double ns_per_page, ns_per_call;
	double cpu_ns_per_page;     /* this thread's CPU time */
	uint64_t leaves;
};

static int count_leaf(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	(void)va, (void)pa, (void)size, (void)pte;
	(*(uint64_t *)ctx)++;
	return 0;
}

static struct point measure(enum svmm_mode mode, enum sweep_case c, uint64_t size)
{
	const uint64_t npages = size / SVMM_PAGE_SIZE;
	uint64_t reps = ((uint64_t)1 << 18) / npages;
	if (reps < 64)
		reps = 64;
	svmm_va_t va = c == SWEEP_HUGE ? VA_BIG : VA_4K;
	svmm_pa_t pa = c == SWEEP_HUGE ? PA_BIG : PA_4K;
	double t[BENCH_RUNS], ct[BENCH_RUNS];
	struct point p = { 0, 0, 0, 0 };
	int err;

	for (int run = 0; run < BENCH_RUNS; run++) {
		struct pt pt;
		if ((err = pt_init(&pt, mode, 1)) != 0)
			die("pt_init", err);
		if (c == SWEEP_WARM &&
		    (err = pt_map(&pt, va - SVMM_PAGE_SIZE, pa - SVMM_PAGE_SIZE, SVMM_PAGE_SIZE,
				  PT_R)) != 0)
			die("pt_map neighbour", err);
		struct bench_t0 t0 = bench_start();
		for (uint64_t r = 0; r < reps; r++) {
			if (c == SWEEP_BASELINE) {
				if ((err = base_map(&pt, va, pa, npages)) != 0)
					die("baseline map", err);
				base_unmap(&pt, va, npages);
				continue;
			}
			if ((err = pt_map(&pt, va, pa, size, PT_R | PT_W)) != 0)
				die("pt_map", err);
			if (r == 0 && run == 0)
				pt_walk(&pt, va, size, count_leaf, &p.leaves);
			if ((err = pt_unmap(&pt, va, size, 0)) != 0)
				die("pt_unmap", err);
		}
		bench_stop(t0, (double)(reps * npages), &t[run], &ct[run]);
		pt_destroy(&pt, pt_leaf_ignore, NULL);
	}
	p.ns_per_page = bench_median(t);
	p.cpu_ns_per_page = bench_median(ct);
	p.ns_per_call = p.ns_per_page * (double)npages;
	if (c == SWEEP_BASELINE)
		p.leaves = npages;
	return p;
}

int main(void)
{
	if (hostsim_ram_init(0x80000000ull, 256 * SVMM_MiB) != 0) {
		fprintf(stderr, "bench_ptsweep: no simulated RAM\n");
		return 1;
	}
	const enum svmm_mode modes[] = { SVMM_SV39, SVMM_SV48 };
	for (unsigned m = 0; m < 2; m++) {
		/* One untimed round first, so that the table pool's frames are committed. */
		measure(modes[m], SWEEP_4K, SVMM_GiB);
		for (int c = SWEEP_4K; c <= SWEEP_BASELINE; c++) {
			for (uint64_t size = SVMM_PAGE_SIZE; size <= SVMM_GiB; size *= 4) {
				struct point p = measure(modes[m], (enum sweep_case)c, size);
				printf("{\"bench\": \"ptsweep\", \"case\": \"%s\", \"mode\": \"%s\", "
				       "\"size\": %llu, \"pages\": %llu, \"ns_per_page\": %.5g, "
				       "\"ns_per_call\": %.1f, \"cpu_ns_per_page\": %.5g, "
				       "\"leaves\": %llu}\n",
				       case_name[c], svmm_mode_name(modes[m]),
				       (unsigned long long)size,
				       (unsigned long long)(size / SVMM_PAGE_SIZE), p.ns_per_page,
				       p.ns_per_call, p.cpu_ns_per_page, (unsigned long long)p.leaves);
				fflush(stdout);
			}
		}
	}
	hostsim_ram_fini();
	return 0;
}
