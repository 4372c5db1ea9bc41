/*
 * bench_vmem.c - the vmem workloads of BENCHMARKS.md (W1 steady churn, W2 aligned,
 * W3 pressure), one JSON line per configuration, median of three runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svmm/vmem.h>
#include "bench.h"

#define Q 4096ull
#define PAIRS 2000000ull

static uint64_t pages_live;
static int page_alloc(void *ctx, void **page)
{
	(void)ctx;
	*page = aligned_alloc(4096, 4096);
	if (!*page)
		return SVMM_ENOMEM;
	pages_live++;
	return 0;
}
static void page_free(void *ctx, void *page)
{
	(void)ctx;
	free(page);
	pages_live--;
}
static const struct vmem_page_source src = { page_alloc, page_free, NULL };

/* 4096 * k, k: 70% in 1..16, 25% in 17..512, 5% in 513..65536. */
static uint64_t draw_size(uint64_t *rs)
{
	uint64_t p = bench_rand(rs) % 100;

	if (p < 70)
		return bench_range(rs, 1, 16) * Q;
	if (p < 95)
		return bench_range(rs, 17, 512) * Q;
	return bench_range(rs, 513, 65536) * Q;
}

struct result {
	double ns_per_pair;
	uint64_t failures, free_regions;
	double largest_free_ratio, pool_bytes_per_free_region;
};

static struct vmem arena;

static int do_alloc(struct vmem_region *r, uint64_t size, bool aligned)
{
	if (aligned && size >= 2 * SVMM_MiB) {
		struct vmem_constraint c = { .align = 2 * SVMM_MiB };
		return vmem_xalloc(&arena, size, &c, r, NULL);
	}
	return vmem_alloc(&arena, size, r, NULL);
}

static struct result run(uint64_t n, unsigned arena_log2, bool aligned)
{
	struct vmem_region *slot = malloc(n * sizeof(*slot));
	uint32_t *live = malloc(n * sizeof(*live));    /* slot indices of live allocations */
	uint32_t *empty = malloc(n * sizeof(*empty));  /* slot indices without one */
	uint64_t nlive = 0, nempty = 0, failures = 0, t0, t1;
	uint64_t rs = BENCH_SEED;
	struct vmem_stats st;
	struct result res;

	if (!slot || !live || !empty || vmem_init(&arena, 0x100000000000ull,
						 1ull << arena_log2, Q, &src) != 0) {
		fprintf(stderr, "bench_vmem: setup failed\n");
		exit(1);
	}
	for (uint64_t i = 0; i < n; i++) {
		if (do_alloc(&slot[i], draw_size(&rs), aligned) == 0)
			live[nlive++] = (uint32_t)i;
		else
			empty[nempty++] = (uint32_t)i;
	}
	t0 = bench_now_ns();
	for (uint64_t it = 0; it < PAIRS; it++) {
		if (nlive > 0) {
			uint64_t k = bench_rand(&rs) % nlive;
			uint32_t i = live[k];

			vmem_free(&arena, slot[i].addr, slot[i].size, NULL);
			live[k] = live[--nlive];
			empty[nempty++] = i;
		}
		{
			uint32_t i = empty[--nempty];

			if (do_alloc(&slot[i], draw_size(&rs), aligned) == 0) {
				live[nlive++] = i;
			} else {
				empty[nempty++] = i;
				failures++;
			}
		}
	}
	t1 = bench_now_ns();
	vmem_stats(&arena, &st);
	res.ns_per_pair = (double)(t1 - t0) / (double)PAIRS;
	res.failures = failures;
	res.free_regions = st.free_regions;
	res.largest_free_ratio = st.free_bytes ? (double)st.largest_free / (double)st.free_bytes : 0;
	res.pool_bytes_per_free_region =
		st.free_regions ? (double)(st.pool_pages * VMEM_POOL_PAGE +
					   VMEM_BOOT_UNITS * VMEM_UNIT_SIZE) / (double)st.free_regions
				: 0;
	if (vmem_check(&arena) != 0) {
		fprintf(stderr, "bench_vmem: vmem_check failed\n");
		exit(1);
	}
	for (uint64_t k = 0; k < nlive; k++)
		vmem_free(&arena, slot[live[k]].addr, 0, NULL);
	vmem_destroy(&arena);
	free(slot);
	free(live);
	free(empty);
	return res;
}

static void config(const char *workload, uint64_t n, unsigned arena_log2, bool aligned)
{
	double ns[BENCH_RUNS];
	struct result r = { 0 };

	for (int i = 0; i < BENCH_RUNS; i++) {
		r = run(n, arena_log2, aligned);   /* same seed: every run is identical but for time */
		ns[i] = r.ns_per_pair;
	}
	printf("{\"bench\": \"vmem\", \"workload\": \"%s\", \"live\": %llu, \"arena_log2\": %u, "
	       "\"ns_per_pair\": %.1f, \"failures\": %llu, \"bytes_per_free_region\": %zu, "
	       "\"bytes_per_used_region\": %zu, \"free_regions\": %llu, "
	       "\"largest_free_ratio\": %.4f, \"pool_bytes_per_free_region\": %.1f}\n",
	       workload, (unsigned long long)n, arena_log2, bench_median(ns),
	       (unsigned long long)r.failures, (size_t)VMEM_UNIT_SIZE,
	       sizeof(struct vmem_region), (unsigned long long)r.free_regions,
	       r.largest_free_ratio, r.pool_bytes_per_free_region);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;

	if (!only || !strcmp(only, "W1")) {
		config("W1", 1000, 47, false);
		config("W1", 10000, 47, false);
		config("W1", 100000, 47, false);
		config("W1", 1000000, 47, false);
	}
	if (!only || !strcmp(only, "W2"))
		config("W2", 100000, 47, true);
	if (!only || !strcmp(only, "W3"))
		config("W3", 100000, 40, false);
	return pages_live != 0;
}
