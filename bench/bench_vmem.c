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
 * keeps its region structs does.
 *
 * W1, W2 and W3 also run the same operation stream (same seed, sizes and slot choices)
 * on a baseline in the same program: illumos vmem's instant fit, re-implemented in
 * vmem_baseline.h (power-of-two freelists, an address-ordered segment list, a hash of
 * allocated segments, the same lock; no quantum caches, no span import; the header
 * says where else it differs), freeing by address and size as illumos's vmem_free
 * does. The runs alternate (svmm, baseline, svmm, ...) so that both meet the same
 * machine, and each line adds instantfit_cpu_ns_per_pair (the baseline's median),
 * ratio_to_instantfit (svmm's median CPU time over the baseline's: the figure that does
 * not drift with the machine) and instantfit_failures. W2's 2 MiB-aligned requests go
 * to the baseline's vmem_xalloc search, as in illumos. After each baseline run
 * ifit_check verifies its structure, and the bench fails if it is broken. The scale
 * sweep runs svmm alone. SVMM_BENCH_N=n (diagnostic) runs only the
 * configurations with n live allocations, and SVMM_BENCH_PAIRS=k (diagnostic) measures k
 * pairs instead of 2,000,000, for profiling one of them under valgrind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <svmm/vmem.h>
#include "bench.h"
#include "vmem_baseline.h"

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
	double block_bytes_per_segment, block_page_bytes_per_segment;
	uint64_t blocks, blk_pages, used_regions;
};

static struct vmem arena;
static struct ifit_arena iarena;   /* the instant-fit baseline (vmem_baseline.h) */

/* The baseline's hash table, bigger than a page: the same large-page memory. */
static void *table_alloc(uint64_t bytes)
{
	return bench_map(bytes);
}
static void table_free(void *p, uint64_t bytes)
{
	munmap(p, (bytes + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1));
}
static const struct ifit_mem tmem = { table_alloc, table_free };

/* What the baseline's caller keeps of an allocation: vmem_free takes address and size. */
struct bslot {
	uint64_t addr, size;
};

/*
 * One run's slots: the callers' (svmm's regions, or the baseline's addresses and sizes)
 * and which of them hold an allocation. svmm and the baseline run the same code over
 * them from the same seed (stream_run; base selects the allocator, a constant after
 * inlining), so that they see the same sizes and slot choices.
 */
struct stream {
	struct vmem_region *slot;
	struct bslot *bslot;
	uint32_t *live;    /* slot indices of live allocations (the first nlive after a run) */
	uint32_t *empty;   /* slot indices without one */
	uint64_t nlive;
	bool aligned;
};

static int do_alloc(struct vmem_region *r, uint64_t size, bool aligned)
{
	if (aligned && size >= 2 * SVMM_MiB) {
		struct vmem_constraint c = { .align = 2 * SVMM_MiB };
		return vmem_xalloc(&arena, size, &c, r, NULL);
	}
	return vmem_alloc(&arena, size, r, NULL);
}

/*
 * An allocation of the next size into slot i, by svmm or (base) the baseline; W2's
 * large requests ask for 2 MiB alignment.
 */
static inline __attribute__((always_inline)) bool stream_alloc(uint64_t *rs, struct vmem_region *slot,
							       struct bslot *bslot, uint32_t i, bool aligned,
							       bool base)
{
	uint64_t size = bench_vmem_size(rs);

	if (base) {
		bslot[i].size = size;
		if (aligned && size >= 2 * SVMM_MiB)
			return ifit_xalloc(&iarena, size, 2 * SVMM_MiB, &bslot[i].addr) == 0;
		return ifit_alloc(&iarena, size, &bslot[i].addr) == 0;
	}
	return do_alloc(&slot[i], size, aligned) == 0;
}

/*
 * The fill to n live allocations, then the measured churn; times and failures into
 * *res. Everything the loop uses is a local, as it was before the baseline shared it,
 * so that svmm's loop compiles as it did.
 */
static inline __attribute__((always_inline)) void stream_run(struct stream *s, uint64_t n, bool base,
							     struct result *res)
{
	struct vmem_region *slot = base ? NULL : s->slot;
	struct bslot *bslot = base ? s->bslot : NULL;
	uint32_t *live = s->live, *empty = s->empty;
	uint64_t nlive = 0, nempty = 0, failures = 0, t0, t1, c0, c1;
	uint64_t rs = BENCH_SEED;
	bool aligned = s->aligned;

	for (uint64_t i = 0; i < n; i++) {
		if (stream_alloc(&rs, slot, bslot, (uint32_t)i, aligned, base))
			live[nlive++] = (uint32_t)i;
		else
			empty[nempty++] = (uint32_t)i;
	}
	if (base)
		ifit_hash_rescale(&iarena);   /* what illumos's vmem_update does every 15 s */
	t0 = bench_now_ns();
	c0 = cpu_now_ns();
	for (uint64_t it = 0; it < PAIRS; it++) {
		if (nlive > 0) {
			uint64_t k = bench_rand(&rs) % nlive;
			uint32_t i = live[k];

			if (base)
				ifit_free(&iarena, bslot[i].addr, bslot[i].size);
			else
				vmem_free_region(&arena, &slot[i]);
			live[k] = live[--nlive];
			empty[nempty++] = i;
		}
		{
			uint32_t i = empty[--nempty];

			if (stream_alloc(&rs, slot, bslot, i, aligned, base)) {
				live[nlive++] = i;
			} else {
				empty[nempty++] = i;
				failures++;
			}
		}
	}
	c1 = cpu_now_ns();
	t1 = bench_now_ns();
	s->nlive = nlive;
	res->ns_per_pair = (double)(t1 - t0) / (double)PAIRS;
	res->cpu_ns_per_pair = (double)(c1 - c0) / (double)PAIRS;
	res->failures = failures;
}

static void stream_open(struct stream *s, uint64_t n, bool aligned, bool base)
{
	memset(s, 0, sizeof(*s));
	s->aligned = aligned;
	if (base)
		s->bslot = bench_map(n * sizeof(*s->bslot));
	else
		s->slot = bench_map(n * sizeof(*s->slot));
	s->live = malloc(n * sizeof(*s->live));
	s->empty = malloc(n * sizeof(*s->empty));
	if ((s->slot == NULL && s->bslot == NULL) || !s->live || !s->empty) {
		fprintf(stderr, "bench_vmem: setup failed\n");
		exit(1);
	}
}

static void stream_close(struct stream *s, uint64_t n)
{
	size_t bytes = n * (s->slot != NULL ? sizeof(*s->slot) : sizeof(*s->bslot));

	munmap(s->slot != NULL ? (void *)s->slot : (void *)s->bslot,
	       (bytes + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1));
	free(s->live);
	free(s->empty);
}

static struct result run(uint64_t n, unsigned arena_log2, bool aligned)
{
	struct stream s;
	struct vmem_stats st;
	struct result res;

	stream_open(&s, n, aligned, false);
	if (vmem_init(&arena, 0x100000000000ull, 1ull << arena_log2, Q, &src) != 0) {
		fprintf(stderr, "bench_vmem: setup failed\n");
		exit(1);
	}
	stream_run(&s, n, false, &res);
	vmem_stats(&arena, &st);
	res.free_regions = st.free_regions;
	res.blocks = st.blocks;
	res.blk_pages = st.blk_pages;
	res.used_regions = st.used_regions;
	res.largest_free_ratio = st.free_bytes ? (double)st.largest_free / (double)st.free_bytes : 0;
	res.pool_bytes_per_free_region =
		st.free_regions ? (double)(st.pool_pages * VMEM_POOL_PAGE +
					   VMEM_BOOT_UNITS * VMEM_UNIT_SIZE) / (double)st.free_regions
				: 0;
	/*
	 * Every segment, free or allocated, is an entry of a block: its share is the blocks
	 * in use over the segments (as a free region's unit counts VMEM_UNIT_SIZE), and,
	 * counting what the arena holds, the block pages (their header and free blocks
	 * too) and the boot blocks.
	 */
	{
		double segs = (double)(st.free_regions + st.used_regions);

		res.block_bytes_per_segment = segs ? (double)st.blocks * VMEM_BLK_SIZE / segs : 0;
		res.block_page_bytes_per_segment =
			segs ? (double)(st.blk_pages * VMEM_POOL_PAGE +
					VMEM_BOOT_BLKS * VMEM_BLK_SIZE) / segs
			     : 0;
	}
	if (vmem_check(&arena, NULL, NULL) != 0) {
		fprintf(stderr, "bench_vmem: vmem_check failed\n");
		exit(1);
	}
	for (uint64_t k = 0; k < s.nlive; k++)
		vmem_free(&arena, s.slot[s.live[k]].addr, 0, NULL);
	vmem_destroy(&arena);
	stream_close(&s, n);
	return res;
}

/* ifit_check, failing the bench loudly: a broken baseline measures nothing. */
static void base_check(const char *when)
{
	const char *why = NULL;

	if (ifit_check(&iarena, &why) != 0) {
		fprintf(stderr, "bench_vmem: the instant-fit baseline is broken %s: %s\n", when, why);
		exit(1);
	}
}

/* The same run on the instant-fit baseline: times and failures (the other fields are 0). */
static struct result run_base(uint64_t n, unsigned arena_log2, bool aligned)
{
	struct stream s;
	struct result res = { 0 };

	stream_open(&s, n, aligned, true);
	if (ifit_init(&iarena, 0x100000000000ull, 1ull << arena_log2, Q, &src, &tmem) != 0) {
		fprintf(stderr, "bench_vmem: baseline setup failed\n");
		exit(1);
	}
	stream_run(&s, n, true, &res);
	if (iarena.failures != res.failures) {
		fprintf(stderr, "bench_vmem: the baseline counts %llu failures, the bench %llu\n",
			(unsigned long long)iarena.failures, (unsigned long long)res.failures);
		exit(1);
	}
	base_check("after the measured loop");
	for (uint64_t k = 0; k < s.nlive; k++)
		ifit_free(&iarena, s.bslot[s.live[k]].addr, s.bslot[s.live[k]].size);
	base_check("after freeing everything");
	if (iarena.inuse != 0 || iarena.freemap != 1ull << (arena_log2)) {
		fprintf(stderr, "bench_vmem: the baseline is not one free span after freeing everything\n");
		exit(1);
	}
	ifit_destroy(&iarena);
	stream_close(&s, n);
	return res;
}

/*
 * One configuration: svmm and (with base) the baseline, run in turn BENCH_RUNS times
 * each (svmm, baseline, svmm, ...), so that both see the same machine state.
 */
static void config(const char *workload, uint64_t n, unsigned arena_log2, bool aligned, bool base)
{
	double ns[BENCH_RUNS], cpu[BENCH_RUNS], bcpu[BENCH_RUNS];
	struct result r = { 0 }, b = { 0 };

	if (only_n != 0 && n != only_n)
		return;
	for (int i = 0; i < BENCH_RUNS; i++) {
		r = run(n, arena_log2, aligned);   /* same seed: every run is identical but for time */
		ns[i] = r.ns_per_pair;
		cpu[i] = r.cpu_ns_per_pair;
		if (base) {
			b = run_base(n, arena_log2, aligned);
			bcpu[i] = b.cpu_ns_per_pair;
		}
	}
	printf("{\"bench\": \"vmem\", \"workload\": \"%s\", \"live\": %llu, \"arena_log2\": %u, "
	       "\"ns_per_pair\": %.1f, \"cpu_ns_per_pair\": %.1f, \"failures\": %llu, \"bytes_per_free_region\": %.1f, "
	       "\"bytes_per_used_region\": %.1f, \"block_bytes_per_segment\": %.1f, "
	       "\"block_page_bytes_per_segment\": %.1f, \"free_regions\": %llu, "
	       "\"largest_free_ratio\": %.4f, \"pool_bytes_per_free_region\": %.1f",
	       workload, (unsigned long long)n, arena_log2, bench_median(ns), bench_median(cpu),
	       (unsigned long long)r.failures, VMEM_UNIT_SIZE + r.block_bytes_per_segment,
	       sizeof(struct vmem_region) + r.block_bytes_per_segment, r.block_bytes_per_segment,
	       r.block_page_bytes_per_segment, (unsigned long long)r.free_regions,
	       r.largest_free_ratio, r.pool_bytes_per_free_region);
	printf(", \"blocks\": %llu, \"blk_pages\": %llu, \"entries_per_block\": %.2f",
	       (unsigned long long)r.blocks, (unsigned long long)r.blk_pages,
	       r.blocks ? (double)(r.free_regions + r.used_regions) / (double)r.blocks : 0);
	if (base)
		printf(", \"instantfit_cpu_ns_per_pair\": %.1f, \"ratio_to_instantfit\": %.2f, "
		       "\"instantfit_failures\": %llu",
		       bench_median(bcpu), bench_median(cpu) / bench_median(bcpu),
		       (unsigned long long)b.failures);
	printf("}\n");
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
		config("W1", 1000, 47, false, true);
		config("W1", 10000, 47, false, true);
		config("W1", 100000, 47, false, true);
		config("W1", 1000000, 47, false, true);
	}
	if (!only || !strcmp(only, "W2"))
		config("W2", 100000, 47, true, true);
	if (!only || !strcmp(only, "W3"))
		config("W3", 100000, 40, false, true);
	if (!only || !strcmp(only, "scale")) {
		/* W1 at ten sizes, 1e2 to 1e6 live, evenly spaced in log scale */
		static const uint64_t pts[] = { 100, 278, 774, 2154, 5995, 16681, 46416,
						129155, 359381, 1000000 };

		for (unsigned i = 0; i < sizeof(pts) / sizeof(pts[0]); i++)
			config("scale", pts[i], 47, false, false);
	}
	return pages_live != 0;
}
