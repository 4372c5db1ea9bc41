/*
 * bench_vmem.c - the vmem workloads of BENCHMARKS.md (W1 steady churn, W2 aligned,
 * W3 pressure), one JSON line per configuration, median of three runs.
 *
 * Memory as a kernel has it: the callers' region structs and the pool's pages come from
 * memory mapped with large pages (in svmm's kernel, the direct map uses gigapages), so
 * the host run asks for transparent huge pages there. Set SVMM_BENCH_NOHUGE=1 to run on
 * plain 4 KiB pages instead; the difference is the TLB-miss cost of random tree walks.
 *
 * Every line gives both clocks, as BENCHMARKS.md says: ns_per_pair from CLOCK_MONOTONIC
 * and cpu_ns_per_pair from the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which on a
 * shared, overloaded machine does not count time spent waiting for a core; targets are
 * in the latter. Frees hand vmem its own region (vmem_free_region), as a kernel that
 * keeps its region structs does. SVMM_BENCH_N=n (diagnostic) runs only the
 * configurations with n live allocations, and SVMM_BENCH_PAIRS=k (diagnostic) measures k
 * pairs instead of 2,000,000, for profiling one of them under valgrind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <svmm/vmem.h>
#include "bench.h"

#define Q 4096ull
#define PAIRS_DEFAULT 2000000ull
static uint64_t PAIRS = PAIRS_DEFAULT;   /* SVMM_BENCH_PAIRS (diagnostic) */

static bool use_huge = true;
static uint64_t only_n;   /* SVMM_BENCH_N: 0 = every configuration */

static uint64_t cpu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Anonymous memory, backed by 2 MiB pages where the host allows. */
static void *bench_map(size_t bytes)
{
	void *p;

	bytes = (bytes + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (use_huge)
		madvise(p, bytes, MADV_HUGEPAGE);
	return p;
}

/* The page source: 4 KiB pages carved from one large mapping, reused LIFO. */
#define SLAB_BYTES (256ull << 20)
static char *slab;
static uint64_t slab_used;
static void *page_list;
static uint64_t pages_live;

static int page_alloc(void *ctx, void **page)
{
	(void)ctx;
	if (page_list != NULL) {
		*page = page_list;
		page_list = *(void **)page_list;
	} else {
		if (slab_used + 4096 > SLAB_BYTES)
			return SVMM_ENOMEM;
		*page = slab + slab_used;
		slab_used += 4096;
	}
	pages_live++;
	return 0;
}
static void page_free(void *ctx, void *page)
{
	(void)ctx;
	*(void **)page = page_list;
	page_list = page;
	pages_live--;
}
static const struct vmem_page_source src = { page_alloc, page_free, NULL };

struct result {
	double ns_per_pair, cpu_ns_per_pair;
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
	struct vmem_region *slot = bench_map(n * sizeof(*slot));
	uint32_t *live = malloc(n * sizeof(*live));    /* slot indices of live allocations */
	uint32_t *empty = malloc(n * sizeof(*empty));  /* slot indices without one */
	uint64_t nlive = 0, nempty = 0, failures = 0, t0, t1, c0, c1;
	uint64_t rs = BENCH_SEED;
	struct vmem_stats st;
	struct result res;

	if (!slot || !live || !empty || vmem_init(&arena, 0x100000000000ull,
						 1ull << arena_log2, Q, &src) != 0) {
		fprintf(stderr, "bench_vmem: setup failed\n");
		exit(1);
	}
	for (uint64_t i = 0; i < n; i++) {
		if (do_alloc(&slot[i], bench_vmem_size(&rs), aligned) == 0)
			live[nlive++] = (uint32_t)i;
		else
			empty[nempty++] = (uint32_t)i;
	}
	t0 = bench_now_ns();
	c0 = cpu_now_ns();
	for (uint64_t it = 0; it < PAIRS; it++) {
		if (nlive > 0) {
			uint64_t k = bench_rand(&rs) % nlive;
			uint32_t i = live[k];

			vmem_free_region(&arena, &slot[i]);
			live[k] = live[--nlive];
			empty[nempty++] = i;
		}
		{
			uint32_t i = empty[--nempty];

			if (do_alloc(&slot[i], bench_vmem_size(&rs), aligned) == 0) {
				live[nlive++] = i;
			} else {
				empty[nempty++] = i;
				failures++;
			}
		}
	}
	c1 = cpu_now_ns();
	t1 = bench_now_ns();
	vmem_stats(&arena, &st);
	res.ns_per_pair = (double)(t1 - t0) / (double)PAIRS;
	res.cpu_ns_per_pair = (double)(c1 - c0) / (double)PAIRS;
	res.failures = failures;
	res.free_regions = st.free_regions;
	res.largest_free_ratio = st.free_bytes ? (double)st.largest_free / (double)st.free_bytes : 0;
	res.pool_bytes_per_free_region =
		st.free_regions ? (double)(st.pool_pages * VMEM_POOL_PAGE +
					   VMEM_BOOT_UNITS * VMEM_UNIT_SIZE) / (double)st.free_regions
				: 0;
	if (vmem_check(&arena, NULL, NULL) != 0) {
		fprintf(stderr, "bench_vmem: vmem_check failed\n");
		exit(1);
	}
	for (uint64_t k = 0; k < nlive; k++)
		vmem_free(&arena, slot[live[k]].addr, 0, NULL);
	vmem_destroy(&arena);
	munmap(slot, (n * sizeof(*slot) + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1));
	free(live);
	free(empty);
	return res;
}

static void config(const char *workload, uint64_t n, unsigned arena_log2, bool aligned)
{
	double ns[BENCH_RUNS], cpu[BENCH_RUNS];
	struct result r = { 0 };

	if (only_n != 0 && n != only_n)
		return;
	for (int i = 0; i < BENCH_RUNS; i++) {
		r = run(n, arena_log2, aligned);   /* same seed: every run is identical but for time */
		ns[i] = r.ns_per_pair;
		cpu[i] = r.cpu_ns_per_pair;
	}
	printf("{\"bench\": \"vmem\", \"workload\": \"%s\", \"live\": %llu, \"arena_log2\": %u, "
	       "\"ns_per_pair\": %.1f, \"cpu_ns_per_pair\": %.1f, \"failures\": %llu, \"bytes_per_free_region\": %zu, "
	       "\"bytes_per_used_region\": %zu, \"free_regions\": %llu, "
	       "\"largest_free_ratio\": %.4f, \"pool_bytes_per_free_region\": %.1f}\n",
	       workload, (unsigned long long)n, arena_log2, bench_median(ns), bench_median(cpu),
	       (unsigned long long)r.failures, (size_t)VMEM_UNIT_SIZE,
	       sizeof(struct vmem_region), (unsigned long long)r.free_regions,
	       r.largest_free_ratio, r.pool_bytes_per_free_region);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;

	use_huge = getenv("SVMM_BENCH_NOHUGE") == NULL;
	if (getenv("SVMM_BENCH_PAIRS") != NULL)
		PAIRS = strtoull(getenv("SVMM_BENCH_PAIRS"), NULL, 0);
	if (getenv("SVMM_BENCH_N") != NULL)
		only_n = strtoull(getenv("SVMM_BENCH_N"), NULL, 0);
	slab = bench_map(SLAB_BYTES);
	if (slab == NULL)
		return 1;

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
	if (!only || !strcmp(only, "scale")) {
		/* W1 at ten sizes, 1e2 to 1e6 live, evenly spaced in log scale */
		static const uint64_t pts[] = { 100, 278, 774, 2154, 5995, 16681, 46416,
						129155, 359381, 1000000 };

		for (unsigned i = 0; i < sizeof(pts) / sizeof(pts[0]); i++)
			config("scale", pts[i], 47, false);
	}
	return pages_live != 0;
}
