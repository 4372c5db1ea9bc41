/*
 * bench_vmemfrag.c - fragmentation of a vmem arena over the W3 churn run of
 * BENCHMARKS.md, sampled as it goes (the data behind docs/img/vmem-frag.png).
 *
 * W3: an arena of 2^40 bytes at 0x100000000000, quantum 4 KiB, filled with 100,000
 * allocations (sizes 4096 * k, k 70% in 1..16, 25% in 17..512, 5% in 513..65536), then
 * 2,000,000 iterations of "free a uniformly chosen live allocation, allocate a new
 * one"; an allocation that fails counts and leaves its slot empty until a later one
 * succeeds. bench-vmem reports the state at the end; this program prints one line
 * every SAMPLE iterations (and one before the first), so that the plot shows whether
 * fragmentation settles or keeps growing:
 *   free_regions, largest_free_ratio (largest free region / free bytes), failures so
 *   far, utilisation, and the time per pair over the last window.
 * One run only: the samples are a time series, not a timing to take the median of.
 *
 * With an argument, "bench_vmemfrag trace FILE", it instead records W3 scaled down to
 * 2,000 live regions in a 22 GiB arena (the same utilisation) and 100,000 pairs as a
 * vmem trace (docs/trace.md) in FILE, for tools/vmem-trace -p to compare policies on.
 */
#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include <svmm/vmem.h>
#include <svmm/vmem_trace.h>
#include "bench.h"

#define ARENA_BASE 0x100000000000ull
#define ARENA_LOG2 40
#define LIVE       100000u
#define PAIRS      2000000u
#define SAMPLE     20000u
#define Q          4096u

/* Free-region node pages for the arena, from malloc; never the bottleneck here. */
static int page_alloc(void *ctx, void **page)
{
	(void)ctx;
	return posix_memalign(page, VMEM_POOL_PAGE, VMEM_POOL_PAGE) == 0 ? 0 : SVMM_ENOMEM;
}

static void page_free(void *ctx, void *page)
{
	(void)ctx;
	free(page);
}

static struct vmem arena;

static void file_line(void *ctx, const char *line)
{
	fprintf(ctx, "%s\n", line);
}

/* W3 scaled down, recorded as a trace: see the comment at the top. */
static int record_trace(const char *path)
{
	enum { N = 2000, PAIRS_SMALL = 100000 };
	static const struct vmem_page_source src = { page_alloc, page_free, NULL };
	static struct vmem_region slot[N];
	static uint32_t live[N], empty[N];
	uint64_t nlive = 0, nempty = 0, rs = BENCH_SEED;
	struct vmem_trace t;
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		perror(path);
		return 1;
	}
	vmem_trace_open(&t, "w3small", file_line, f);
	if (vmem_trace_init(&t, &arena, ARENA_BASE, 22 * SVMM_GiB, Q, &src) != 0)
		return 1;
	for (uint32_t i = 0; i < N; i++) {
		if (vmem_trace_alloc(&t, &arena, bench_vmem_size(&rs), &slot[i], NULL) == 0)
			live[nlive++] = i;
		else
			empty[nempty++] = i;
	}
	for (uint64_t it = 0; it < PAIRS_SMALL; it++) {
		if (nlive > 0) {
			uint64_t k = bench_rand(&rs) % nlive;
			uint32_t i = live[k];
			vmem_trace_free(&t, &arena, slot[i].addr, slot[i].size, NULL);
			live[k] = live[--nlive];
			empty[nempty++] = i;
		}
		uint32_t i = empty[--nempty];
		if (vmem_trace_alloc(&t, &arena, bench_vmem_size(&rs), &slot[i], NULL) == 0)
			live[nlive++] = i;
		else
			empty[nempty++] = i;
	}
	vmem_trace_state(&t, &arena);
	fclose(f);
	for (uint64_t k = 0; k < nlive; k++)
		vmem_free(&arena, slot[live[k]].addr, 0, NULL);
	return vmem_destroy(&arena) == 0 ? 0 : 1;
}

static void sample(uint64_t it, uint64_t failures, double ns_per_pair, double cpu_ns_per_pair)
{
	struct vmem_stats st;
	vmem_stats(&arena, &st);
	printf("{\"bench\": \"vmemfrag\", \"workload\": \"W3\", \"iteration\": %llu, "
	       "\"live\": %llu, \"utilisation\": %.4f, \"free_regions\": %llu, "
	       "\"largest_free_ratio\": %.4f, \"failures\": %llu, \"ns_per_pair\": %.1f, "
	       "\"cpu_ns_per_pair\": %.1f}\n",
	       (unsigned long long)it, (unsigned long long)st.used_regions,
	       (double)st.used_bytes / (double)st.span_bytes, (unsigned long long)st.free_regions,
	       st.free_bytes ? (double)st.largest_free / (double)st.free_bytes : 1.0,
	       (unsigned long long)failures, ns_per_pair, cpu_ns_per_pair);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "trace") == 0)
		return record_trace(argv[2]);
	static const struct vmem_page_source src = { page_alloc, page_free, NULL };
	struct vmem_region *slot = calloc(LIVE, sizeof(*slot));
	uint32_t *live = malloc(LIVE * sizeof(*live));    /* slots holding an allocation */
	uint32_t *empty = malloc(LIVE * sizeof(*empty));  /* slots without one */
	uint64_t nlive = 0, nempty = 0, failures = 0, rs = BENCH_SEED;

	if (slot == NULL || live == NULL || empty == NULL ||
	    vmem_init(&arena, ARENA_BASE, 1ull << ARENA_LOG2, Q, &src) != 0) {
		fprintf(stderr, "bench_vmemfrag: setup failed\n");
		return 1;
	}
	for (uint32_t i = 0; i < LIVE; i++) {
		if (vmem_alloc(&arena, bench_vmem_size(&rs), &slot[i], NULL) == 0)
			live[nlive++] = i;
		else
			empty[nempty++] = i, failures++;
	}
	sample(0, failures, 0, 0);
	struct bench_t0 t0 = bench_start();
	for (uint64_t it = 1; it <= PAIRS; it++) {
		if (nlive > 0) {
			uint64_t k = bench_rand(&rs) % nlive;
			uint32_t i = live[k];
			if (vmem_free_region(&arena, &slot[i]) != 0) {
				fprintf(stderr, "bench_vmemfrag: free failed\n");
				return 1;
			}
			live[k] = live[--nlive];
			empty[nempty++] = i;
		}
		uint32_t i = empty[--nempty];
		if (vmem_alloc(&arena, bench_vmem_size(&rs), &slot[i], NULL) == 0)
			live[nlive++] = i;
		else
			empty[nempty++] = i, failures++;
		if (it % SAMPLE == 0) {
			double wall, cpu;

			bench_stop(t0, SAMPLE, &wall, &cpu);
			sample(it, failures, wall, cpu);
			t0 = bench_start();   /* the sample itself is not timed */
		}
	}
	if (vmem_check(&arena, NULL, NULL) != 0) {
		fprintf(stderr, "bench_vmemfrag: vmem_check failed\n");
		return 1;
	}
	for (uint64_t k = 0; k < nlive; k++)
		vmem_free(&arena, slot[live[k]].addr, 0, NULL);
	vmem_destroy(&arena);
	free(slot);
	free(live);
	free(empty);
	return 0;
}
