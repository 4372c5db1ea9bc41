/*
 * bench_pmem.c - the pmem workloads of BENCHMARKS.md, one JSON line per case:
 *   order0-pair  4 GiB of RAM, half of it taken as order-0 frames, then 2,000,000
 *                times: free a uniformly chosen allocated frame, allocate one
 *   mixed-churn  the same churn at 50% use with orders 0..9, P(k) proportional to 2^-k
 *   init-16g     pmem_init over 16 GiB in four ranges with reserved holes, per frame
 * Setup is outside the timed loop; each case runs BENCH_RUNS times, medians reported,
 * of wall time (ns_per_op) and of this thread's CPU time (cpu_ns_per_op). The order-0
 * cases also run the same operation stream on a plain free list of frames and print
 * freelist_cpu_ns_per_op and ratio_to_freelist (pmem's CPU time over the list's): the
 * figure that means the same on every machine (target: at most 1.5).
 */
#include <stdio.h>
#include <stdlib.h>

#include <svmm/pmem.h>
#include "bench.h"
#include "hostsim.h"

#define RAM0 0x80000000ull
#define PAIRS 2000000u

static struct pmem pm;

static double cpu_ns;   /* CPU time of the last measured loop, per operation */

static double bytes_per_frame(void)
{
	struct pmem_stats st;
	pmem_stats(&pm, &st);
	return (double)st.meta_frames * SVMM_PAGE_SIZE / (double)st.total_frames;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_pmem: %s: %s\n", what, svmm_strerror(err));
	exit(1);
}

/* Order k with probability 2^-k / (2 - 2^-9), k = 0..9. */
static unsigned mixed_order(uint64_t *rng)
{
	uint64_t u = bench_rand(rng) % 1023u;
	unsigned k = 0;
	while (u >= (512u >> k)) {
		u -= 512u >> k;
		k++;
	}
	return k;
}

/*
 * Churn at 50% use: returns ns per free+alloc pair; *failures counts ENOMEM. The fill
 * of BENCHMARKS.md takes a contiguous half of RAM, so every freed frame's buddy is
 * allocated, nothing merges, and LIFO lists hand the same frame straight back. With
 * scattered, all of RAM is taken and a random half given back first, so that the
 * churn meets free buddies, merges and splits (the extra case order0-pair-scattered).
 */
static double churn(bool mixed, bool scattered, uint64_t *failures)
{
	struct pmem_range ram = { RAM0, 4 * SVMM_GiB };
	int err = pmem_init(&pm, &ram, 1, NULL, 0, PMEM_ANY);
	if (err != 0)
		die("init", err);
	uint64_t target = pm.total_frames / 2, used = 0, n = 0;
	uint64_t cap = scattered ? pm.total_frames : target;
	svmm_pa_t *pa = malloc(cap * sizeof(svmm_pa_t));
	uint8_t *ord = calloc(cap, 1);
	uint64_t rng = BENCH_SEED;
	if (scattered) {
		while (n < cap && pmem_alloc(&pm, 0, PMEM_ANY, &pa[n]) == 0)
			n++;
		for (uint64_t i = n - 1; i > 0; i--) {
			uint64_t j = bench_rand(&rng) % (i + 1);
			svmm_pa_t t = pa[i];
			pa[i] = pa[j];
			pa[j] = t;
		}
		while (n > target)
			if (pmem_free(&pm, pa[--n], 0) != 0)
				die("scatter", SVMM_EINVAL);
		used = target;
	}
	while (used < target) {
		unsigned k = mixed ? mixed_order(&rng) : 0;
		err = pmem_alloc(&pm, k, PMEM_ANY, &pa[n]);
		if (err != 0)
			die("fill", err);
		ord[n++] = (uint8_t)k;
		used += 1ull << k;
	}
	*failures = 0;
	uint64_t c0 = bench_cpu_ns();
	uint64_t t0 = bench_now_ns();
	for (uint32_t i = 0; i < PAIRS; i++) {
		uint64_t j = bench_rand(&rng) % n;
		if (pmem_free(&pm, pa[j], ord[j]) != 0)
			die("free", SVMM_EINVAL);
		unsigned k = mixed ? mixed_order(&rng) : 0;
		if (pmem_alloc(&pm, k, PMEM_ANY, &pa[j]) != 0) {
			/* Keep the slot: retry as order 0 so the live set stays the same size. */
			(*failures)++;
			k = 0;
			if (pmem_alloc(&pm, 0, PMEM_ANY, &pa[j]) != 0)
				die("alloc", SVMM_ENOMEM);
		}
		ord[j] = (uint8_t)k;
	}
	uint64_t t1 = bench_now_ns();
	cpu_ns = (double)(bench_cpu_ns() - c0) / PAIRS;
	err = pmem_check(&pm, NULL, NULL);
	if (err != 0)
		die("check", err);
	free(pa);
	free(ord);
	return (double)(t1 - t0) / PAIRS;
}

/*
 * The order-0 churn of churn(false, scattered) on a plain singly linked free list of
 * frames (a next index per frame, the head in a variable): the physical limit of an
 * order-0 allocator, which BENCHMARKS.md has pmem's order-0 cases measured against. The
 * same frames, the same fill, the same random choices in the same order, so the two
 * loops see one operation stream. Returns wall ns per pair; cpu_ns gets the CPU time.
 */
static double freelist_churn(bool scattered)
{
	const uint64_t frames = 4 * SVMM_GiB / SVMM_PAGE_SIZE, none = UINT32_MAX;
	uint32_t *next = malloc(frames * sizeof(uint32_t));
	uint64_t target = frames / 2, n = 0;
	uint64_t cap = scattered ? frames : target;
	svmm_pa_t *pa = malloc(cap * sizeof(svmm_pa_t));
	uint64_t rng = BENCH_SEED;
	if (!next || !pa)
		die("freelist", SVMM_ENOMEM);
	/* Address order from the head, as a boot-time list would be built. */
	for (uint64_t f = 0; f < frames; f++)
		next[f] = f + 1 < frames ? (uint32_t)(f + 1) : (uint32_t)none;
	uint64_t head = 0;
#define FL_ALLOC(out) do { if (head == none) die("freelist alloc", SVMM_ENOMEM); \
		(out) = RAM0 + head * SVMM_PAGE_SIZE; head = next[head]; } while (0)
#define FL_FREE(p) do { uint64_t f_ = ((p) - RAM0) / SVMM_PAGE_SIZE; \
		next[f_] = (uint32_t)head; head = f_; } while (0)
	if (scattered) {
		while (n < cap && head != none)
			FL_ALLOC(pa[n++]);
		for (uint64_t i = n - 1; i > 0; i--) {
			uint64_t j = bench_rand(&rng) % (i + 1);
			svmm_pa_t t = pa[i];
			pa[i] = pa[j];
			pa[j] = t;
		}
		while (n > target)
			FL_FREE(pa[--n]);
	}
	while (n < target)
		FL_ALLOC(pa[n++]);
	struct bench_t0 t0 = bench_start();
	for (uint32_t i = 0; i < PAIRS; i++) {
		uint64_t j = bench_rand(&rng) % n;
		FL_FREE(pa[j]);
		FL_ALLOC(pa[j]);
	}
	double wall;
	bench_stop(t0, PAIRS, &wall, &cpu_ns);
#undef FL_ALLOC
#undef FL_FREE
	/* Keep the result live, so that the loop is not optimised away. */
	if (head == none && n == 0)
		die("freelist", SVMM_EINVAL);
	free(next);
	free(pa);
	return wall;
}

/* The order-0 cases: pmem and the free list on the same stream, medians of three. */
static void order0_case(const char *name, bool scattered)
{
	double v[BENCH_RUNS], c[BENCH_RUNS], fv[BENCH_RUNS], fc[BENCH_RUNS];
	uint64_t fails = 0;
	for (int r = 0; r < BENCH_RUNS; r++) {
		v[r] = churn(false, scattered, &fails), c[r] = cpu_ns;
		fv[r] = freelist_churn(scattered), fc[r] = cpu_ns;
	}
	double cpu = bench_median(c), fl_cpu = bench_median(fc);
	printf("{\"bench\":\"pmem\",\"case\":\"%s\",\"ns_per_op\":%.1f,"
	       "\"bytes_per_frame\":%.1f,\"failures\":%llu,\"cpu_ns_per_op\":%.1f,"
	       "\"freelist_ns_per_op\":%.1f,\"freelist_cpu_ns_per_op\":%.1f,"
	       "\"ratio_to_freelist\":%.2f}\n",
	       name, bench_median(v), bytes_per_frame(), (unsigned long long)fails, cpu,
	       bench_median(fv), fl_cpu, cpu / fl_cpu);
	fflush(stdout);
}

/* 16 GiB in four ranges of 4 GiB with gaps between them and reserved holes inside. */
static double init16(void)
{
	const uint64_t G = SVMM_GiB, M = SVMM_MiB;
	struct pmem_range ram[4] = {
		{ RAM0, 4 * G },
		{ RAM0 + 4 * G + 256 * M, 4 * G },
		{ RAM0 + 8 * G + 512 * M, 4 * G },
		{ RAM0 + 12 * G + 768 * M, 4 * G },
	};
	struct pmem_range res[6] = {
		{ RAM0, 2 * M },                           /* firmware */
		{ RAM0 + 2 * M, 7 * M + 12345 },           /* kernel image */
		{ RAM0 + 96 * M + 100, 70000 },            /* device tree */
		{ RAM0 + 128 * M, 48 * M + 4096 },         /* initrd */
		{ RAM0 + 4 * G + 1 * G + 3 * M, 1 * M },
		{ RAM0 + 12 * G + 768 * M + 777 * 4096, 9 * 4096 },
	};
	/* Databases below 6 GiB: the upper ranges' go to low memory. */
	uint64_t c0 = bench_cpu_ns();
	uint64_t t0 = bench_now_ns();
	int err = pmem_init(&pm, ram, 4, res, 6, RAM0 + 4 * G);
	uint64_t t1 = bench_now_ns();
	cpu_ns = (double)(bench_cpu_ns() - c0) / (double)pm.total_frames;
	if (err != 0)
		die("init", err);
	return (double)(t1 - t0) / (double)pm.total_frames;
}

int main(void)
{
	double v[BENCH_RUNS], c[BENCH_RUNS];
	uint64_t fails = 0;

	if (hostsim_ram_init(RAM0, 17 * SVMM_GiB) != 0)
		die("hostsim", SVMM_ENOMEM);

	order0_case("order0-pair", false);
	order0_case("order0-pair-scattered", true);

	for (int r = 0; r < BENCH_RUNS; r++)
		v[r] = churn(true, false, &fails), c[r] = cpu_ns;
	printf("{\"bench\":\"pmem\",\"case\":\"mixed-churn\",\"ns_per_op\":%.1f,"
	       "\"bytes_per_frame\":%.1f,\"failures\":%llu,\"cpu_ns_per_op\":%.1f}\n",
	       bench_median(v), bytes_per_frame(), (unsigned long long)fails, bench_median(c));
	fflush(stdout);

	/* The first run also pays the host's page faults on the fresh database pages,
	   which a kernel over real RAM does not; it is reported beside the median. */
	for (int r = 0; r < BENCH_RUNS; r++)
		v[r] = init16(), c[r] = cpu_ns;
	double cold = v[0];
	int err = pmem_check(&pm, NULL, NULL);
	if (err != 0)
		die("check", err);
	printf("{\"bench\":\"pmem\",\"case\":\"init-16g\",\"ns_per_op\":%.2f,"
	       "\"bytes_per_frame\":%.1f,\"frames\":%llu,\"first_run_ns_per_op\":%.2f,\"cpu_ns_per_op\":%.2f}\n",
	       bench_median(v), bytes_per_frame(), (unsigned long long)pm.total_frames, cold,
	       bench_median(c));
	hostsim_ram_fini();
	return 0;
}
