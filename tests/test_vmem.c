/*
 * test_vmem.c - unit tests for every vmem operation and every error it reports.
 *
 * A failed call must leave the arena exactly as it was: the tests snapshot the region
 * list and the statistics, make the call fail, and compare. Out-of-memory is injected
 * at every page the pool takes from its source (hostsim_fail_point).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include <svmm/vmem.h>
#include "hostsim.h"

#define Q    4096ull
#define BASE 0x40000000ull

#include "vmem_pages.h"

/* ---- snapshots ---- */
#define SNAP_MAX 2048
struct snap_region {
	svmm_va_t a;
	uint64_t s;
	bool used;
};
struct snap {
	size_t n;
	struct snap_region r[SNAP_MAX];
	struct vmem_stats st;
};
static void snap_fn(void *ctx, svmm_va_t a, uint64_t s, bool used)
{
	struct snap *sn = ctx;
	assert_true(sn->n < SNAP_MAX);
	sn->r[sn->n].a = a;
	sn->r[sn->n].s = s;
	sn->r[sn->n].used = used;
	sn->n++;
}
static void snap_take(struct vmem *vm, struct snap *sn)
{
	memset(sn, 0, sizeof(*sn));
	vmem_walk(vm, snap_fn, sn);
	vmem_stats(vm, &sn->st);
}
static void assert_unchanged(struct vmem *vm, const struct snap *before)
{
	static struct snap now;
	snap_take(vm, &now);
	assert_int_equal(now.n, before->n);
	assert_memory_equal(now.r, before->r, now.n * sizeof(now.r[0]));
	assert_memory_equal(&now.st, &before->st, sizeof(now.st));
	assert_int_equal(vm->lock.impl.word, 0);   /* every path unlocks */
}
/* Keep the line a checker prints, to show it in a failure message. */
static void keep_line(void *ctx, const char *line)
{
	snprintf((char *)ctx, 256, "%s", line);
}

static void check_ok(struct vmem *vm)
{
	char why[256] = "?";
	int err = vmem_check(vm, keep_line, why);
	if (err)
		fail_msg("vmem_check: %s", why);
}

static struct vmem vm;
static struct snap before;

static int setup(void **state)
{
	(void)state;
	pages_live = 0;
	pages_taken = 0;
	hostsim_fail_after(0);
	return 0;
}
static int teardown(void **state)
{
	(void)state;
	hostsim_fail_after(0);
	assert_int_equal(pages_live, 0);
	return 0;
}

/* ---- tests ---- */

/*
 * Issue 11's budget: 48 bytes per allocated region and 80 per free one. A region is
 * 24 bytes (block word, address, size), a free region's unit 48 (that and the size
 * index's links); each segment also has a share of a 256-byte block. The share is
 * measured on a churn like W1's (1,000 live, random sizes and victims) and must fit in
 * both budgets.
 */
static void test_sizes(void **state)
{
	(void)state;
	enum { LIVE = 1000, PAIRS = 20000 };
	static struct vmem_region r[LIVE];
	struct vmem_stats st;
	uint64_t x = 12345, segs;
	double share;

	assert_int_equal(sizeof(struct vmem_region), 24);
	assert_int_equal(sizeof(struct rb_node), 24);
	assert_int_equal(VMEM_UNIT_SIZE, 48);
	assert_int_equal(VMEM_BLK_SIZE, 256);
	assert_int_equal(vmem_init(&vm, BASE, 64 * LIVE * Q, Q, &src), 0);
	for (int i = 0; i < LIVE; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		assert_int_equal(vmem_alloc(&vm, (1 + (x >> 60)) * Q, &r[i], NULL), 0);
	}
	for (int k = 0; k < PAIRS; k++) {
		int i;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		i = (int)((x >> 33) % LIVE);
		assert_int_equal(vmem_free_region(&vm, &r[i]), 0);
		assert_int_equal(vmem_alloc(&vm, (1 + (x >> 60)) * Q, &r[i], NULL), 0);
	}
	check_ok(&vm);
	vmem_stats(&vm, &st);
	segs = st.used_regions + st.free_regions;
	share = (double)st.blocks * VMEM_BLK_SIZE / (double)segs;
	printf("test_vmem: %llu segments in %llu blocks (%.2f entries each): %.1f bytes per "
	       "allocated region, %.1f per free one\n", (unsigned long long)segs,
	       (unsigned long long)st.blocks, (double)segs / (double)st.blocks,
	       sizeof(struct vmem_region) + share, VMEM_UNIT_SIZE + share);
	assert_true(sizeof(struct vmem_region) + share <= 48.0);
	assert_true(VMEM_UNIT_SIZE + share <= 80.0);
	for (int i = 0; i < LIVE; i++)
		assert_int_equal(vmem_free_region(&vm, &r[i]), 0);
	assert_int_equal(vmem_destroy(&vm), 0);
}

static void test_init_errors(void **state)
{
	(void)state;
	struct vmem_page_source bad = { NULL, page_free, NULL };
	struct vmem_region r;

	assert_int_equal(vmem_init(&vm, BASE, 16 * Q, 3 * Q, NULL), SVMM_EALIGN);
	assert_int_equal(vmem_init(&vm, BASE, 16 * Q, 0, NULL), SVMM_EALIGN);
	assert_int_equal(vmem_init(&vm, BASE + 1, 16 * Q, Q, NULL), SVMM_EUNALIGNED);
	assert_int_equal(vmem_init(&vm, BASE, 16 * Q + 8, Q, NULL), SVMM_EUNALIGNED);
	assert_int_equal(vmem_init(&vm, ~0ull - 2 * Q + 1, 4 * Q, Q, NULL), SVMM_EOVERFLOW);
	assert_int_equal(vmem_init(&vm, ~0ull - 4 * Q + 1, 4 * Q, Q, NULL), SVMM_EOVERFLOW);
	assert_int_equal(vmem_init(&vm, BASE, 16 * Q, Q, &bad), SVMM_EINVAL);

	/* size 0: an arena without spans until vmem_add */
	assert_int_equal(vmem_init(&vm, 0, 0, Q, NULL), 0);
	check_ok(&vm);
	assert_int_equal(vmem_alloc(&vm, Q, &r, NULL), SVMM_ENOSPC);
	assert_int_equal(vmem_add(&vm, BASE, 4 * Q), 0);
	assert_int_equal(vmem_alloc(&vm, Q, &r, NULL), 0);
	assert_int_equal(r.addr, BASE);
	assert_int_equal(vmem_free(&vm, BASE, Q, NULL), 0);
	assert_int_equal(vmem_destroy(&vm), 0);
}

static void test_alloc_free_merge(void **state)
{
	(void)state;
	struct vmem_region r[4];
	struct vmem_stats st;
	svmm_va_t a;

	assert_int_equal(vmem_init(&vm, BASE, 64 * Q, Q, &src), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(vmem_alloc(&vm, Q, &r[i], &a), 0);
		assert_int_equal(a, BASE + (uint64_t)i * Q);   /* lowest addresses first */
		assert_int_equal(r[i].addr, a);
		assert_int_equal(r[i].size, Q);
		check_ok(&vm);
	}
	vmem_stats(&vm, &st);
	assert_int_equal(st.used_regions, 4);
	assert_int_equal(st.free_regions, 1);
	assert_int_equal(st.used_bytes, 4 * Q);
	assert_int_equal(st.free_bytes, 60 * Q);

	assert_int_equal(vmem_free(&vm, r[1].addr, Q, NULL), 0);   /* a hole */
	check_ok(&vm);
	vmem_stats(&vm, &st);
	assert_int_equal(st.free_regions, 2);
	assert_int_equal(vmem_free(&vm, r[2].addr, Q, NULL), 0);   /* merges down */
	check_ok(&vm);
	vmem_stats(&vm, &st);
	assert_int_equal(st.free_regions, 2);
	assert_int_equal(st.largest_free, 60 * Q);
	assert_int_equal(vmem_free(&vm, r[3].addr, Q, NULL), 0);   /* merges both ways */
	check_ok(&vm);
	vmem_stats(&vm, &st);
	assert_int_equal(st.free_regions, 1);
	assert_int_equal(st.largest_free, 63 * Q);
	assert_int_equal(vmem_free(&vm, r[0].addr, 0, NULL), 0);   /* merges up */
	check_ok(&vm);
	vmem_stats(&vm, &st);
	assert_int_equal(st.free_regions, 1);
	assert_int_equal(st.free_bytes, 64 * Q);
	assert_int_equal(st.used_regions, 0);
	assert_int_equal(vmem_destroy(&vm), 0);
}

/*
 * vmem_free given the size finds a merging neighbour's place in the size tree during
 * its first search when exactly one neighbour touches. Exercise each case (predecessor
 * only, successor only, both, neither) in a tree deep enough for the searches to end at
 * different times, with sizes that make the grown region sometimes keep and sometimes
 * change its place in the size tree.
 */
#define MERGE_BLOCKS 600
static void test_free_merge_cases(void **state)
{
	(void)state;
	static struct vmem_region r[MERGE_BLOCKS];
	struct vmem_stats st;
	uint64_t total = 0, nfree;

	for (int i = 0; i < MERGE_BLOCKS; i++)
		total += (1 + (uint64_t)(i * 7) % 13) * Q;
	assert_int_equal(vmem_init(&vm, BASE, total, Q, &src), 0);
	for (int i = 0; i < MERGE_BLOCKS; i++)
		assert_int_equal(vmem_alloc(&vm, (1 + (uint64_t)(i * 7) % 13) * Q, &r[i], NULL), 0);
	/* holes at every third block: they merge with nothing */
	for (int i = 0; i < MERGE_BLOCKS; i += 3)
		assert_int_equal(vmem_free(&vm, r[i].addr, r[i].size, NULL), 0);
	check_ok(&vm);
	vmem_stats(&vm, &st);
	nfree = st.free_regions;
	assert_int_equal(nfree, MERGE_BLOCKS / 3);
	/* block 3k+1 touches the hole below it only; block 3k+2 the hole above it only */
	for (int i = 0; i + 3 < MERGE_BLOCKS; i += 3) {
		int j = (i / 3) % 2 ? i + 2 : i + 1;

		assert_int_equal(vmem_free(&vm, r[j].addr, r[j].size, NULL), 0);
		assert_int_equal(vmem_check(&vm, NULL, NULL), 0);
	}
	check_ok(&vm);
	vmem_stats(&vm, &st);
	assert_int_equal(st.free_regions, nfree);   /* every free merged into one region */
	/*
	 * The rest touch free space on both sides, except the last two. Without the size,
	 * only the predecessor is recognised early, and the successor must still merge.
	 */
	for (int i = 0; i + 3 < MERGE_BLOCKS; i += 3) {
		int j = (i / 3) % 2 ? i + 1 : i + 2;

		assert_int_equal(vmem_free(&vm, r[j].addr, (i / 3) % 3 ? r[j].size : 0, NULL), 0);
		assert_int_equal(vmem_check(&vm, NULL, NULL), 0);
	}
	vmem_stats(&vm, &st);
	assert_int_equal(st.free_regions, 1);
	assert_int_equal(st.used_regions, 2);
	assert_int_equal(vmem_free(&vm, r[MERGE_BLOCKS - 1].addr, r[MERGE_BLOCKS - 1].size, NULL), 0);
	assert_int_equal(vmem_free(&vm, r[MERGE_BLOCKS - 2].addr, 0, NULL), 0);
	check_ok(&vm);
	vmem_stats(&vm, &st);
	assert_int_equal(st.free_regions, 1);
	assert_int_equal(st.free_bytes, total);
	assert_int_equal(vmem_destroy(&vm), 0);
}

/* Carve holes of the given sizes (in quanta), separated by one-quantum allocations. */
static svmm_va_t make_holes(const unsigned *sizes, int n, struct vmem_region *sep, struct vmem_region *hole)
{
	svmm_va_t a = BASE;
	for (int i = 0; i < n; i++) {
		assert_int_equal(vmem_alloc_fixed(&vm, a, sizes[i] * Q, &hole[i]), 0);
		a += sizes[i] * Q;
		assert_int_equal(vmem_alloc_fixed(&vm, a, Q, &sep[i]), 0);
		a += Q;
	}
	for (int i = 0; i < n; i++)
		assert_int_equal(vmem_free(&vm, hole[i].addr, 0, NULL), 0);
	check_ok(&vm);
	return a;
}

static void test_best_fit(void **state)
{
	(void)state;
	static const unsigned sizes[] = { 3, 1, 2, 5, 2 };
	struct vmem_region sep[5], hole[5], r[6];
	svmm_va_t hole_at[5], a, end;

	assert_int_equal(vmem_init(&vm, BASE, 256 * Q, Q, &src), 0);
	end = make_holes(sizes, 5, sep, hole);
	a = BASE;
	for (int i = 0; i < 5; i++) {
		hole_at[i] = a;
		a += (sizes[i] + 1) * Q;
	}
	assert_int_equal(vmem_alloc(&vm, 2 * Q, &r[0], &a), 0);
	assert_int_equal(a, hole_at[4]);   /* smallest fit; of two small equals the newer */
	assert_int_equal(vmem_alloc(&vm, Q, &r[1], &a), 0);
	assert_int_equal(a, hole_at[1]);
	assert_int_equal(vmem_alloc(&vm, 2 * Q, &r[2], &a), 0);
	assert_int_equal(a, hole_at[2]);
	assert_int_equal(vmem_alloc(&vm, 2 * Q, &r[3], &a), 0);
	assert_int_equal(a, hole_at[0]);   /* 3-hole beats 5-hole and the tail */
	assert_int_equal(vmem_alloc(&vm, 2 * Q, &r[4], &a), 0);
	assert_int_equal(a, hole_at[3]);   /* 5-hole (now the smallest >= 2) */
	assert_int_equal(vmem_alloc(&vm, 4 * Q, &r[5], &a), 0);
	assert_int_equal(a, end);          /* only the tail is large enough */
	check_ok(&vm);
	for (int i = 0; i < 6; i++)
		assert_int_equal(vmem_free(&vm, r[i].addr, r[i].size, NULL), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(vmem_free(&vm, sep[i].addr, Q, NULL), 0);
	check_ok(&vm);
	assert_int_equal(vmem_destroy(&vm), 0);
}

/* Above VMEM_BUCKETS quanta the size tree decides: smallest, then lowest address. */
static void test_best_fit_large(void **state)
{
	(void)state;
	const uint64_t B = VMEM_BUCKETS;
	const unsigned sizes[] = { (unsigned)B + 3, (unsigned)B + 1, (unsigned)B + 2,
				   (unsigned)B + 5, (unsigned)B + 2 };
	struct vmem_region sep[5], hole[5], r[4];
	svmm_va_t hole_at[5], a;

	assert_int_equal(vmem_init(&vm, BASE, 8 * (B + 8) * Q, Q, &src), 0);
	make_holes(sizes, 5, sep, hole);
	a = BASE;
	for (int i = 0; i < 5; i++) {
		hole_at[i] = a;
		a += (sizes[i] + 1) * Q;
	}
	assert_int_equal(vmem_alloc(&vm, (B + 2) * Q, &r[0], &a), 0);
	assert_int_equal(a, hole_at[2]);   /* smallest fit, lowest address of the two */
	assert_int_equal(vmem_alloc(&vm, (B + 2) * Q, &r[1], &a), 0);
	assert_int_equal(a, hole_at[4]);
	assert_int_equal(vmem_alloc(&vm, (B + 2) * Q, &r[2], &a), 0);
	assert_int_equal(a, hole_at[0]);   /* B+3 beats B+5 and the tail */
	/* a small request takes the smallest large region when no bucket can serve it */
	assert_int_equal(vmem_alloc(&vm, Q, &r[3], &a), 0);
	assert_int_equal(a, hole_at[0] + (B + 2) * Q);   /* the B+3 hole's last quantum */
	check_ok(&vm);
	for (int i = 0; i < 4; i++)
		assert_int_equal(vmem_free_region(&vm, &r[i]), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(vmem_free(&vm, sep[i].addr, Q, NULL), 0);
	check_ok(&vm);
	assert_int_equal(vmem_destroy(&vm), 0);
}

/* Freeing, splitting and joining by region, and ordered iteration, with their errors. */
static void test_regions_in_place(void **state)
{
	(void)state;
	struct vmem_region a, b, c, t;

	assert_int_equal(vmem_init(&vm, BASE, 64 * Q, Q, &src), 0);
	assert_null(vmem_first_from(&vm, 0));
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 4 * Q, 4 * Q, &a), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 8 * Q, 2 * Q, &b), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 20 * Q, Q, &c), 0);
	check_ok(&vm);
	/* ordered queries skip free space */
	assert_ptr_equal(vmem_first_from(&vm, 0), &a);
	assert_ptr_equal(vmem_first_from(&vm, BASE + 5 * Q), &a);
	assert_ptr_equal(vmem_first_from(&vm, BASE + 10 * Q), &c);
	assert_null(vmem_first_from(&vm, BASE + 21 * Q));
	assert_ptr_equal(vmem_next(&vm, &a), &b);
	assert_ptr_equal(vmem_next(&vm, &b), &c);
	assert_null(vmem_next(&vm, &c));
	assert_ptr_equal(vmem_prev(&vm, &c), &b);
	assert_null(vmem_prev(&vm, &a));
	/* split: errors change nothing */
	snap_take(&vm, &before);
	assert_int_equal(vmem_split(&vm, &a, BASE + 4 * Q, &t), SVMM_ERANGE);
	assert_int_equal(vmem_split(&vm, &a, BASE + 8 * Q, &t), SVMM_ERANGE);
	assert_int_equal(vmem_split(&vm, &a, BASE + 5 * Q + 1, &t), SVMM_EUNALIGNED);
	assert_int_equal(vmem_join(&vm, &b, &c), SVMM_ERANGE);   /* not adjacent */
	assert_int_equal(vmem_join(&vm, &b, &a), SVMM_ERANGE);   /* wrong order */
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_split(&vm, &a, BASE + 6 * Q, &t), 0);
	assert_int_equal(a.size, 2 * Q);
	assert_int_equal(t.addr, BASE + 6 * Q);
	assert_int_equal(t.size, 2 * Q);
	assert_ptr_equal(vmem_lookup(&vm, BASE + 7 * Q), &t);
	assert_ptr_equal(vmem_next(&vm, &a), &t);
	check_ok(&vm);
	assert_int_equal(vmem_join(&vm, &t, &b), 0);
	assert_int_equal(t.size, 4 * Q);
	assert_ptr_equal(vmem_lookup(&vm, BASE + 9 * Q), &t);
	check_ok(&vm);
	/* free by region; a region freed already is refused, as are split/join of it */
	assert_int_equal(vmem_free_region(&vm, &t), 0);
	check_ok(&vm);
	snap_take(&vm, &before);
	assert_int_equal(vmem_free_region(&vm, &t), SVMM_EDOUBLEFREE);
	assert_int_equal(vmem_split(&vm, &t, BASE + 7 * Q, &b), SVMM_ENOENT);
	assert_int_equal(vmem_join(&vm, &a, &t), SVMM_ENOENT);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_free_region(&vm, &a), 0);
	assert_int_equal(vmem_free_region(&vm, &c), 0);
	check_ok(&vm);
	assert_int_equal(vmem_destroy(&vm), 0);
}

/* vmem_init leaves the bucket heads as they were: nothing may read one whose bit is clear. */
static void test_init_over_garbage(void **state)
{
	(void)state;
	struct vmem_region r[64];

	memset(&vm, 0xa5, sizeof(vm));
	assert_int_equal(vmem_init(&vm, BASE, 4096 * Q, Q, &src), 0);
	for (int i = 0; i < 64; i++)
		assert_int_equal(vmem_alloc(&vm, (uint64_t)(i % 7 + 1) * Q, &r[i], NULL), 0);
	for (int i = 0; i < 64; i += 2)
		assert_int_equal(vmem_free_region(&vm, &r[i]), 0);
	check_ok(&vm);
	for (int i = 0; i < 64; i += 2)
		assert_int_equal(vmem_alloc(&vm, (uint64_t)(i % 7 + 1) * Q, &r[i], NULL), 0);
	check_ok(&vm);
	for (int i = 0; i < 64; i++)
		assert_int_equal(vmem_free_region(&vm, &r[i]), 0);
	check_ok(&vm);
	assert_int_equal(vmem_destroy(&vm), 0);
}

static void test_alloc_errors(void **state)
{
	(void)state;
	struct vmem_region r, keep;
	svmm_va_t a = 0xdead;

	assert_int_equal(vmem_init(&vm, BASE, 16 * Q, Q, &src), 0);
	assert_int_equal(vmem_alloc(&vm, 3 * Q, &keep, NULL), 0);
	snap_take(&vm, &before);
	assert_int_equal(vmem_alloc(&vm, 0, &r, &a), SVMM_EZEROSIZE);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_alloc(&vm, Q + 512, &r, &a), SVMM_EUNALIGNED);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_alloc(&vm, 14 * Q, &r, &a), SVMM_ENOSPC);
	assert_unchanged(&vm, &before);
	assert_int_equal(a, 0xdead);   /* no result on failure */
	assert_int_equal(vmem_alloc(&vm, 13 * Q, &r, &a), 0);   /* exactly the rest */
	assert_int_equal(vmem_alloc(&vm, Q, &r, &a) == 0 ? 1 : 0, 0);
	assert_int_equal(vmem_free(&vm, BASE + 3 * Q, 13 * Q, NULL), 0);
	assert_int_equal(vmem_free(&vm, BASE, 3 * Q, NULL), 0);
	assert_int_equal(vmem_destroy(&vm), 0);
}

static void test_free_errors(void **state)
{
	(void)state;
	struct vmem_region r1, r2, *back = NULL;

	assert_int_equal(vmem_init(&vm, BASE, 32 * Q, Q, &src), 0);
	assert_int_equal(vmem_alloc(&vm, 4 * Q, &r1, NULL), 0);
	assert_int_equal(vmem_alloc(&vm, 2 * Q, &r2, NULL), 0);
	snap_take(&vm, &before);
	assert_int_equal(vmem_free(&vm, BASE - Q, 0, NULL), SVMM_ENOENT);        /* outside */
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_free(&vm, BASE + Q, 0, NULL), SVMM_ENOENT);        /* inside r1 */
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_free(&vm, BASE + 10 * Q, 0, NULL), SVMM_EDOUBLEFREE); /* free */
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_free(&vm, BASE, 2 * Q, NULL), SVMM_ESIZE);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_free(&vm, BASE, 5 * Q, NULL), SVMM_ESIZE);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_free(&vm, BASE + 100, 0, NULL), SVMM_EUNALIGNED);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_free(&vm, BASE, 4 * Q + 1, NULL), SVMM_EUNALIGNED);
	assert_unchanged(&vm, &before);

	assert_int_equal(vmem_free(&vm, BASE, 0, &back), 0);   /* size 0: whatever is there */
	assert_ptr_equal(back, &r1);
	snap_take(&vm, &before);
	assert_int_equal(vmem_free(&vm, BASE, 4 * Q, NULL), SVMM_EDOUBLEFREE);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_free(&vm, r2.addr, 2 * Q, &back), 0);
	assert_ptr_equal(back, &r2);
	check_ok(&vm);
	assert_int_equal(vmem_destroy(&vm), 0);
}

static void test_fixed(void **state)
{
	(void)state;
	struct vmem_region r[4];
	struct vmem_stats st;

	assert_int_equal(vmem_init(&vm, BASE, 32 * Q, Q, &src), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 8 * Q, 4 * Q, &r[0]), 0);   /* splits */
	assert_int_equal(r[0].addr, BASE + 8 * Q);
	check_ok(&vm);
	vmem_stats(&vm, &st);
	assert_int_equal(st.free_regions, 2);
	snap_take(&vm, &before);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 8 * Q, Q, &r[1]), SVMM_EBUSY);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 6 * Q, 4 * Q, &r[1]), SVMM_EBUSY);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 11 * Q, 2 * Q, &r[1]), SVMM_EBUSY);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 30 * Q, 4 * Q, &r[1]), SVMM_ERANGE);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE - Q, 2 * Q, &r[1]), SVMM_ERANGE);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 100 * Q, Q, &r[1]), SVMM_ERANGE);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE, 0, &r[1]), SVMM_EZEROSIZE);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 1, Q, &r[1]), SVMM_EUNALIGNED);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_alloc_fixed(&vm, ~0ull - Q + 1, 2 * Q, &r[1]), SVMM_EOVERFLOW);
	assert_unchanged(&vm, &before);
	/* exactly a whole free region, from its start, up to its end */
	assert_int_equal(vmem_alloc_fixed(&vm, BASE, 8 * Q, &r[1]), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 12 * Q, 2 * Q, &r[2]), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 30 * Q, 2 * Q, &r[3]), 0);
	check_ok(&vm);
	vmem_stats(&vm, &st);
	assert_int_equal(st.free_regions, 1);
	assert_int_equal(st.free_bytes, 16 * Q);
	for (int i = 0; i < 4; i++)
		assert_int_equal(vmem_free(&vm, r[i].addr, r[i].size, NULL), 0);
	check_ok(&vm);
	assert_int_equal(vmem_destroy(&vm), 0);
}

/*
 * A new entry in a full block whose neighbours are full needs a new block, and every
 * call that may insert one reserves it first: once no free block is left, vmem_split
 * and vmem_alloc_fixed need a page, and without one fail with SVMM_ENOMEM and change
 * nothing. vmem_reserve sets the blocks aside first (all or
 * nothing), after which the same calls need no page.
 */
#define FB_N 512
static struct vmem_region fb[FB_N];
static unsigned fb_n;

/* Split the last region's front off, entry after entry, until a split needs a page. */
static void fb_split_until_dry(void)
{
	for (;;) {
		assert_true(fb_n < FB_N);
		bool dry = vm.nblk_free == 0;
		if (dry) {
			snap_take(&vm, &before);
			fail_next_page = 1;
		}
		struct vmem_region *last = &fb[fb_n - 1];
		int err = vmem_split(&vm, last, last->addr + 4 * Q, &fb[fb_n]);
		fail_next_page = 0;
		if (err == SVMM_ENOMEM) {
			assert_true(dry);
			assert_unchanged(&vm, &before);
			check_ok(&vm);
			return;
		}
		assert_int_equal(err, 0);
		fb_n++;
	}
}

static void test_full_block_enomem(void **state)
{
	(void)state;
	struct vmem_region x;

	assert_int_equal(vmem_init(&vm, BASE, 4 * FB_N * Q, Q, &src), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE, 4 * FB_N * Q, &fb[0]), 0);
	fb_n = 1;
	fb_split_until_dry();
	/* The boot blocks all in use: every later split needs a block page first. */
	assert_int_equal(vm.nblk_used, VMEM_BOOT_BLKS);
	assert_true(fb_n > 3 * 14);
	/* Reserved first, the split needs no page. */
	assert_int_equal(vmem_reserve(&vm, VMEM_RESERVE_MAX + 1), SVMM_EINVAL);
	snap_take(&vm, &before);
	long live = pages_live;
	fail_next_page = 1;
	assert_int_equal(vmem_reserve(&vm, 1), SVMM_ENOMEM);
	assert_unchanged(&vm, &before);
	assert_int_equal(pages_live, live);
	assert_int_equal(vmem_reserve(&vm, 1), 0);
	check_ok(&vm);
	fail_next_page = 1;
	assert_int_equal(vmem_split(&vm, &fb[fb_n - 1], fb[fb_n - 1].addr + 4 * Q, &fb[fb_n]), 0);
	fail_next_page = 0;
	fb_n++;
	check_ok(&vm);
	/* Dry again (the page's blocks used up); then a cut inside a free region. */
	fb_split_until_dry();
	assert_int_equal(vmem_free_region(&vm, &fb[1]), 0);   /* between two allocations */
	snap_take(&vm, &before);
	fail_next_page = 1;
	assert_int_equal(vmem_alloc_fixed(&vm, fb[1].addr + Q, Q, &x), SVMM_ENOMEM);
	fail_next_page = 0;
	assert_unchanged(&vm, &before);
	check_ok(&vm);
	assert_int_equal(vmem_reserve(&vm, 2), 0);
	fail_next_page = 1;
	assert_int_equal(vmem_alloc_fixed(&vm, fb[1].addr + Q, Q, &x), 0);
	fail_next_page = 0;
	check_ok(&vm);
	assert_int_equal(vmem_free_region(&vm, &x), 0);
	for (unsigned i = 0; i < fb_n; i++)
		if (i != 1)
			assert_int_equal(vmem_free_region(&vm, &fb[i]), 0);
	check_ok(&vm);
	assert_int_equal(vmem_destroy(&vm), 0);
}

static void test_xalloc_constraints(void **state)
{
	(void)state;
	struct vmem_region r[8], pad;
	struct vmem_constraint c;
	svmm_va_t a;

	assert_int_equal(vmem_init(&vm, BASE, 1024 * Q, Q, &src), 0);
	assert_int_equal(vmem_alloc(&vm, Q, &pad, NULL), 0);   /* misalign the free space */

	memset(&c, 0, sizeof(c));
	c.align = 16 * Q;
	assert_int_equal(vmem_xalloc(&vm, 3 * Q, &c, &r[0], &a), 0);
	assert_int_equal(a, BASE + 16 * Q);
	c.phase = 2 * Q;
	assert_int_equal(vmem_xalloc(&vm, Q, &c, &r[1], &a), 0);
	assert_int_equal(a % (16 * Q), 2 * Q);
	assert_int_equal(a, BASE + 2 * Q);   /* the lowest start with that phase */
	memset(&c, 0, sizeof(c));
	c.nocross = 8 * Q;   /* free space now starts at BASE + 3Q */
	assert_int_equal(vmem_xalloc(&vm, 6 * Q, &c, &r[2], &a), 0);
	assert_int_equal(a / (8 * Q), (a + 6 * Q - 1) / (8 * Q));
	assert_int_equal(a, BASE + 8 * Q);   /* best fit [3Q, 16Q): 3Q.. would cross 8Q */
	memset(&c, 0, sizeof(c));
	c.minaddr = BASE + 500 * Q;
	c.maxaddr = BASE + 510 * Q;
	assert_int_equal(vmem_xalloc(&vm, 10 * Q, &c, &r[3], &a), 0);
	assert_int_equal(a, BASE + 500 * Q);
	assert_int_equal(vmem_xalloc(&vm, Q, &c, &r[4], &a), SVMM_ENOSPC);
	c.minaddr = BASE + 1000 * Q;
	c.maxaddr = 0;
	c.align = 8 * Q;
	assert_int_equal(vmem_xalloc(&vm, 8 * Q, &c, &r[4], &a), 0);
	assert_int_equal(a, BASE + 1000 * Q);
	c.maxaddr = BASE + 1016 * Q;
	assert_int_equal(vmem_xalloc(&vm, 8 * Q, &c, &r[5], &a), 0);
	assert_int_equal(a, BASE + 1008 * Q);
	check_ok(&vm);

	/* every malformed constraint, with the arena unchanged */
	snap_take(&vm, &before);
	memset(&c, 0, sizeof(c));
	c.align = 3 * Q;
	assert_int_equal(vmem_xalloc(&vm, Q, &c, &r[6], &a), SVMM_EALIGN);
	c.align = Q / 2;
	assert_int_equal(vmem_xalloc(&vm, Q, &c, &r[6], &a), SVMM_EALIGN);
	c.align = 4 * Q;
	c.phase = 4 * Q;
	assert_int_equal(vmem_xalloc(&vm, Q, &c, &r[6], &a), SVMM_EINVAL);
	c.phase = 100;
	assert_int_equal(vmem_xalloc(&vm, Q, &c, &r[6], &a), SVMM_EUNALIGNED);
	memset(&c, 0, sizeof(c));
	c.nocross = 6 * Q;
	assert_int_equal(vmem_xalloc(&vm, Q, &c, &r[6], &a), SVMM_EALIGN);
	c.nocross = 2 * Q;
	assert_int_equal(vmem_xalloc(&vm, 4 * Q, &c, &r[6], &a), SVMM_EINVAL);
	memset(&c, 0, sizeof(c));
	c.minaddr = BASE + 8 * Q;
	c.maxaddr = BASE + 8 * Q;
	assert_int_equal(vmem_xalloc(&vm, Q, &c, &r[6], &a), SVMM_EINVAL);
	c.maxaddr = BASE + 9 * Q + 1;
	assert_int_equal(vmem_xalloc(&vm, Q, &c, &r[6], &a), SVMM_EUNALIGNED);
	memset(&c, 0, sizeof(c));
	c.align = 1ull << 40;   /* no such aligned start in the arena */
	assert_int_equal(vmem_xalloc(&vm, Q, &c, &r[6], &a), SVMM_ENOSPC);
	assert_int_equal(vmem_xalloc(&vm, 0, &c, &r[6], &a), SVMM_EZEROSIZE);
	assert_int_equal(vmem_xalloc(&vm, 5, &c, &r[6], &a), SVMM_EUNALIGNED);
	assert_unchanged(&vm, &before);
	/* NULL constraints: the same as vmem_alloc */
	assert_int_equal(vmem_xalloc(&vm, Q, NULL, &r[6], &a), 0);
	assert_int_equal(a, BASE + Q);   /* best fit: the one-quantum hole */

	for (int i = 0; i < 7; i++)
		assert_int_equal(vmem_free(&vm, r[i].addr, r[i].size, NULL), 0);
	assert_int_equal(vmem_free(&vm, pad.addr, 0, NULL), 0);
	check_ok(&vm);
	assert_int_equal(vmem_destroy(&vm), 0);
}

/*
 * Alignment must never make xalloc fail while a fitting range exists, even when more
 * than the scanned number of barely-large-enough regions fail first and no region is
 * large enough to fit at any address. Then, with such a region present, the search
 * jumps to it instead of scanning on.
 */
static void test_xalloc_scans_past_misaligned(void **state)
{
	(void)state;
	enum { SEG = 40 };
	static struct vmem_region lo[SEG + 1], hi[SEG + 1], hole[SEG + 1], got, got2;
	struct vmem_constraint c = { .align = 8 * Q };
	svmm_va_t found;

	assert_int_equal(vmem_init(&vm, BASE, 1024 * Q, Q, &src), 0);
	/* segment i: [8i, 8i+1) used, [8i+1, 8i+3) a hole no 8Q-aligned start fits, rest used */
	for (int i = 0; i < SEG; i++) {
		svmm_va_t s = BASE + (uint64_t)i * 8 * Q;
		assert_int_equal(vmem_alloc_fixed(&vm, s, Q, &lo[i]), 0);
		assert_int_equal(vmem_alloc_fixed(&vm, s + Q, 2 * Q, &hole[i]), 0);
		assert_int_equal(vmem_alloc_fixed(&vm, s + 3 * Q, 5 * Q, &hi[i]), 0);
	}
	/* last: an aligned two-quantum hole, the highest-addressed of all equal holes */
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 320 * Q, 2 * Q, &hole[SEG]), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 322 * Q, 702 * Q, &hi[SEG]), 0);
	for (int i = 0; i <= SEG; i++)
		assert_int_equal(vmem_free(&vm, hole[i].addr, 0, NULL), 0);
	check_ok(&vm);
	assert_int_equal(vmem_xalloc(&vm, 2 * Q, &c, &got, &found), 0);
	assert_int_equal(found, BASE + 320 * Q);
	assert_int_equal(vmem_xalloc(&vm, 2 * Q, &c, &got2, &found), SVMM_ENOSPC);
	/* open a large region: now the search jumps to it */
	assert_int_equal(vmem_free(&vm, hi[SEG].addr, 0, NULL), 0);
	assert_int_equal(vmem_xalloc(&vm, 2 * Q, &c, &got2, &found), 0);
	assert_int_equal(found, BASE + 328 * Q);
	check_ok(&vm);
	assert_int_equal(vmem_free(&vm, got.addr, 0, NULL), 0);
	assert_int_equal(vmem_free(&vm, got2.addr, 0, NULL), 0);
	for (int i = 0; i < SEG; i++) {
		assert_int_equal(vmem_free(&vm, lo[i].addr, 0, NULL), 0);
		assert_int_equal(vmem_free(&vm, hi[i].addr, 0, NULL), 0);
	}
	check_ok(&vm);
	assert_int_equal(vmem_destroy(&vm), 0);
}

static void test_lookup(void **state)
{
	(void)state;
	struct vmem_region r1, r2;

	assert_int_equal(vmem_init(&vm, BASE, 32 * Q, Q, &src), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 4 * Q, 3 * Q, &r1), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 7 * Q, Q, &r2), 0);
	assert_null(vmem_lookup(&vm, BASE));
	assert_null(vmem_lookup(&vm, BASE + 4 * Q - 1));
	assert_ptr_equal(vmem_lookup(&vm, BASE + 4 * Q), &r1);
	assert_ptr_equal(vmem_lookup(&vm, BASE + 5 * Q + 123), &r1);
	assert_ptr_equal(vmem_lookup(&vm, BASE + 7 * Q - 1), &r1);
	assert_ptr_equal(vmem_lookup(&vm, BASE + 7 * Q), &r2);
	assert_null(vmem_lookup(&vm, BASE + 8 * Q));
	assert_null(vmem_lookup(&vm, ~0ull));
	assert_null(vmem_lookup(&vm, 0));
	assert_int_equal(vmem_free(&vm, r1.addr, 0, NULL), 0);
	assert_null(vmem_lookup(&vm, BASE + 5 * Q));
	assert_int_equal(vmem_free(&vm, r2.addr, 0, NULL), 0);
	assert_int_equal(vmem_destroy(&vm), 0);
}

static void test_spans(void **state)
{
	(void)state;
	struct vmem_region r;
	struct vmem_stats st;
	svmm_va_t a;

	assert_int_equal(vmem_init(&vm, BASE, 16 * Q, Q, &src), 0);
	assert_int_equal(vmem_add(&vm, BASE + 32 * Q, 16 * Q), 0);   /* disjoint */
	check_ok(&vm);
	vmem_stats(&vm, &st);
	assert_int_equal(st.spans, 2);
	assert_int_equal(st.free_regions, 2);
	snap_take(&vm, &before);
	assert_int_equal(vmem_add(&vm, BASE + 8 * Q, 16 * Q), SVMM_EOVERLAP);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_add(&vm, BASE + 40 * Q, Q), SVMM_EOVERLAP);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_add(&vm, BASE + 20 * Q, 0), SVMM_EZEROSIZE);
	assert_int_equal(vmem_add(&vm, BASE + 20 * Q + 1, Q), SVMM_EUNALIGNED);
	assert_int_equal(vmem_add(&vm, ~0ull - Q + 1, 2 * Q), SVMM_EOVERFLOW);
	assert_unchanged(&vm, &before);
	/* an allocated span is overlapped too */
	assert_int_equal(vmem_alloc_fixed(&vm, BASE, 16 * Q, &r), 0);
	a = BASE;
	assert_int_equal(vmem_add(&vm, BASE + 15 * Q, Q), SVMM_EOVERLAP);
	/* the gap, abutting both: the free space merges into one region across spans */
	assert_int_equal(vmem_add(&vm, BASE + 16 * Q, 16 * Q), 0);
	check_ok(&vm);
	vmem_stats(&vm, &st);
	assert_int_equal(st.spans, 3);
	assert_int_equal(st.free_regions, 1);
	assert_int_equal(st.largest_free, 32 * Q);
	assert_int_equal(vmem_free(&vm, BASE, 0, NULL), 0);
	vmem_stats(&vm, &st);
	assert_int_equal(st.free_regions, 1);
	assert_int_equal(st.span_bytes, 48 * Q);
	assert_int_equal(vmem_alloc(&vm, 48 * Q, &r, &a), 0);   /* across all three */
	assert_int_equal(vmem_free(&vm, a, 48 * Q, NULL), 0);
	assert_int_equal(vmem_destroy(&vm), 0);
}

static void test_destroy_live(void **state)
{
	(void)state;
	struct vmem_region r[300];
	svmm_va_t a = BASE;

	assert_int_equal(vmem_init(&vm, BASE, 1024 * Q, Q, &src), 0);
	for (int i = 0; i < 300; i++, a += 2 * Q)   /* 300 free regions: pool pages in use */
		assert_int_equal(vmem_alloc_fixed(&vm, a, Q, &r[i]), 0);
	assert_true(pages_live > 0);
	snap_take(&vm, &before);
	assert_int_equal(vmem_destroy(&vm), SVMM_ELIVE);
	assert_unchanged(&vm, &before);
	check_ok(&vm);
	for (int i = 0; i < 299; i++)
		assert_int_equal(vmem_free(&vm, r[i].addr, 0, NULL), 0);
	assert_int_equal(vmem_destroy(&vm), SVMM_ELIVE);
	assert_int_equal(vmem_free(&vm, r[299].addr, 0, NULL), 0);
	assert_int_equal(vmem_destroy(&vm), 0);
	assert_int_equal(pages_live, 0);
	assert_int_equal(vmem_check(&vm, NULL, NULL), SVMM_EINVAL);   /* a destroyed arena is not valid */
}

/*
 * Without a page source the arena holds at most VMEM_BOOT_UNITS free regions; every
 * operation that would need one more fails with SVMM_ENOMEM and changes nothing.
 */
static void test_bootstrap_only(void **state)
{
	(void)state;
	static struct vmem_region r[VMEM_BOOT_UNITS + 2], abc[3], extra;
	struct vmem_stats st;
	int i;

	assert_int_equal(vmem_init(&vm, BASE, 256 * Q, Q, NULL), 0);
	for (i = 0; i < 3; i++)   /* A, B, C at the start: cuts from the front need no unit */
		assert_int_equal(vmem_alloc(&vm, Q, &abc[i], NULL), 0);
	for (i = 0; i < VMEM_BOOT_UNITS - 1; i++)   /* each splits the tail: one unit each */
		assert_int_equal(vmem_alloc_fixed(&vm, BASE + (uint64_t)(4 + 2 * i) * Q, Q, &r[i]), 0);
	vmem_stats(&vm, &st);
	assert_int_equal(st.free_regions, VMEM_BOOT_UNITS);
	assert_int_equal(st.pool_units_free, 0);
	snap_take(&vm, &before);
	/* a cut inside a region needs a unit */
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 100 * Q, Q, &extra), SVMM_ENOMEM);
	assert_unchanged(&vm, &before);
	{
		/* 2Q: only the tail fits, at an aligned start strictly inside it */
		struct vmem_constraint c = { .align = 128 * Q };
		assert_int_equal(vmem_xalloc(&vm, 2 * Q, &c, &extra, NULL), SVMM_ENOMEM);
		assert_unchanged(&vm, &before);
	}
	/* B has allocated neighbours on both sides: its free would be a new region */
	assert_int_equal(vmem_free(&vm, abc[1].addr, 0, NULL), SVMM_ENOMEM);
	assert_unchanged(&vm, &before);
	assert_int_equal(vmem_free_region(&vm, &abc[1]), SVMM_ENOMEM);   /* the same by region */
	assert_unchanged(&vm, &before);
	/* splitting and joining allocations needs no unit */
	assert_int_equal(vmem_join(&vm, &abc[0], &abc[1]), 0);
	assert_int_equal(abc[0].size, 2 * Q);
	assert_int_equal(vmem_split(&vm, &abc[0], BASE + Q, &abc[1]), 0);
	assert_int_equal(abc[1].addr, BASE + Q);
	assert_unchanged(&vm, &before);
	/* so would a span apart from everything */
	assert_int_equal(vmem_add(&vm, BASE + 1024 * Q, Q), SVMM_ENOMEM);
	assert_unchanged(&vm, &before);
	check_ok(&vm);
	/* what needs no unit still works: C merges with the hole after it, then B with C */
	assert_int_equal(vmem_free(&vm, abc[2].addr, 0, NULL), 0);
	assert_int_equal(vmem_free(&vm, abc[1].addr, 0, NULL), 0);
	assert_int_equal(vmem_alloc(&vm, Q, &extra, NULL), 0);   /* an exact fit frees a unit */
	vmem_stats(&vm, &st);
	assert_int_equal(st.pool_units_free, 1);
	assert_int_equal(vmem_add(&vm, BASE + 1024 * Q, Q), 0);   /* which a span can use */
	check_ok(&vm);
	for (int j = 0; j < i; j++)   /* each merges with a free neighbour */
		assert_int_equal(vmem_free(&vm, r[j].addr, 0, NULL), 0);
	assert_int_equal(vmem_free(&vm, extra.addr, 0, NULL), 0);
	assert_int_equal(vmem_free(&vm, abc[0].addr, 0, NULL), 0);
	check_ok(&vm);
	vmem_stats(&vm, &st);
	assert_int_equal(st.free_regions, 2);
	assert_int_equal(vmem_destroy(&vm), 0);
}

/*
 * Without a page source the blocks are packed when they run short, so the guarantee
 * holds whatever order the regions came and went in: random fixed allocations at odd
 * quanta (never adjacent, so at most 2 * free + 1 segments) fail only when every boot
 * unit holds a free region, and a failure changes nothing.
 */
static void test_bootstrap_random(void **state)
{
	(void)state;
	enum { SLOTS = 120 };
	static struct vmem_region r[SLOTS];
	static bool live[SLOTS];
	struct vmem_stats st;
	uint64_t x = 99, fails = 0;

	memset(live, 0, sizeof(live));
	assert_int_equal(vmem_init(&vm, BASE, (2 * SLOTS + 2) * Q, Q, NULL), 0);
	for (int k = 0; k < 20000; k++) {
		int i, err;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		i = (int)((x >> 33) % SLOTS);
		if (live[i]) {
			assert_int_equal(vmem_free_region(&vm, &r[i]), 0);   /* merges: no unit */
			live[i] = false;
		} else {
			vmem_stats(&vm, &st);
			snap_take(&vm, &before);
			err = vmem_alloc_fixed(&vm, BASE + (uint64_t)(2 * i + 1) * Q, Q, &r[i]);
			if (err == SVMM_ENOMEM) {
				assert_int_equal(st.free_regions, VMEM_BOOT_UNITS);
				assert_unchanged(&vm, &before);
				fails++;
			} else {
				assert_int_equal(err, 0);
				live[i] = true;
			}
		}
		check_ok(&vm);
	}
	assert_true(fails > 0);   /* the units ran out: the blocks were at their limit */
	for (int i = 0; i < SLOTS; i++)
		if (live[i])
			assert_int_equal(vmem_free_region(&vm, &r[i]), 0);
	assert_int_equal(vmem_destroy(&vm), 0);
}

/*
 * A script that needs several pool pages. Every operation is checked against a snapshot
 * when it fails with ENOMEM, then retried (the injected failure is one-shot).
 */
static void run_script(bool inject, uint64_t *enomem_seen)
{
	enum { N = 400 };
	static struct vmem_region r[N], x[N], y[N];
	struct vmem_constraint c = { .align = 4 * Q, .phase = Q };
	int err;

	assert_int_equal(vmem_init(&vm, BASE, 4096 * Q, Q, &src), 0);
#define STEP(call)                                                          \
	do {                                                                \
		if (inject)                                                 \
			snap_take(&vm, &before);                            \
		err = (call);                                               \
		if (err == SVMM_ENOMEM) {                                   \
			assert_true(inject);                                \
			assert_unchanged(&vm, &before);                     \
			check_ok(&vm);                                      \
			(*enomem_seen)++;                                   \
			err = (call);                                       \
		}                                                           \
		assert_int_equal(err, 0);                                   \
	} while (0)
	for (int i = 0; i < N; i++)   /* every other quantum: N free regions */
		STEP(vmem_alloc_fixed(&vm, BASE + (uint64_t)(2 * i + 1) * Q, Q, &r[i]));
	for (int i = 0; i < N; i += 2)   /* merge pairs of holes */
		STEP(vmem_free(&vm, r[i].addr, Q, NULL));
	for (int i = 0; i < N / 4; i++)  /* cuts inside the tail: each needs a unit */
		STEP(vmem_xalloc(&vm, Q, &c, &x[i], NULL));
	for (int i = 1; i < N; i += 2)
		STEP(vmem_free(&vm, r[i].addr, 0, NULL));
	for (int i = 0; i < N / 4; i++)
		STEP(vmem_free(&vm, x[i].addr, 0, NULL));
	/* frees that touch no free region: every other quantum of an allocated block */
	for (int i = 0; i < N / 4; i++)
		STEP(vmem_alloc_fixed(&vm, BASE + (3000 + (uint64_t)i) * Q, Q, &y[i]));
	for (int i = 1; i < N / 4 - 1; i += 2)
		STEP(vmem_free(&vm, y[i].addr, Q, NULL));
	/* spans apart from everything: each needs a unit */
	for (int i = 0; i < N / 8; i++)
		STEP(vmem_add(&vm, BASE + (8192 + 2 * (uint64_t)i) * Q, Q));
	for (int i = 0; i < N / 4; i += 2)
		STEP(vmem_free(&vm, y[i].addr, 0, NULL));
	STEP(vmem_free(&vm, y[N / 4 - 1].addr, 0, NULL));
#undef STEP
	check_ok(&vm);
	assert_int_equal(vmem_destroy(&vm), 0);
	assert_int_equal(pages_live, 0);
}

static void test_fault_injection(void **state)
{
	(void)state;
	uint64_t points, seen = 0;

	hostsim_reset_alloc_points();
	run_script(false, &seen);
	points = hostsim_alloc_points();
	assert_true(points >= 3);   /* the script must need pages, or this proves nothing */
	printf("test_vmem: fault injection over %llu page requests, each failed in turn\n",
	       (unsigned long long)points);
	for (uint64_t n = 1; n <= points; n++) {
		uint64_t before_seen = seen;
		hostsim_fail_after(n);
		run_script(true, &seen);
		assert_int_equal(seen, before_seen + 1);   /* the n-th page request failed */
	}
	hostsim_fail_after(0);
}

/*
 * Pages wholly unused go back to the source, keeping one page's worth in reserve: the
 * unit pool's pages (free regions) and the block pool's (every segment's entry).
 */
static void test_pages_given_back(void **state)
{
	(void)state;
	enum { N = 1000 };
	enum { UNITS_PAGE = 4096 / VMEM_UNIT_SIZE - 1, BLKS_PAGE = 4096 / VMEM_BLK_SIZE - 1 };
	static struct vmem_region r[N];
	struct vmem_stats st;
	long taken;

	assert_int_equal(vmem_init(&vm, BASE, 4 * N * Q, Q, &src), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(vmem_alloc_fixed(&vm, BASE + (uint64_t)(2 * i + 1) * Q, Q, &r[i]), 0);
	vmem_stats(&vm, &st);
	assert_true(st.pool_pages >= (N - VMEM_BOOT_UNITS) / UNITS_PAGE);
	/* 2N + 1 segments, at most 14 to a block */
	assert_true(st.blk_pages >= ((2 * N + 1) / 14 - VMEM_BOOT_BLKS) / BLKS_PAGE);
	assert_int_equal(pages_live, (long)(st.pool_pages + st.blk_pages));
	for (int i = 0; i < N; i++)
		assert_int_equal(vmem_free(&vm, r[i].addr, 0, NULL), 0);
	check_ok(&vm);
	vmem_stats(&vm, &st);
	assert_int_equal(st.free_regions, 1);
	assert_int_equal(st.blocks, 1);
	assert_true(st.pool_pages <= 2);
	assert_true(st.blk_pages <= 2);
	assert_int_equal(pages_live, (long)(st.pool_pages + st.blk_pages));
	/*
	 * Hovering at a boundary takes no page: allocations and frees of a few regions
	 * after the give-back are served from the pages kept in reserve.
	 */
	taken = pages_taken;
	for (int k = 0; k < 100; k++) {
		for (int i = 0; i < 40; i++)
			assert_int_equal(vmem_alloc_fixed(&vm, BASE + (uint64_t)(2 * i + 1) * Q, Q,
							  &r[i]), 0);
		for (int i = 0; i < 40; i++)
			assert_int_equal(vmem_free_region(&vm, &r[i]), 0);
	}
	assert_true(pages_taken - taken <= 2);
	check_ok(&vm);
	assert_int_equal(vmem_destroy(&vm), 0);
	assert_int_equal(pages_live, 0);   /* destroy returns every page, blocks' included */
}

struct lines {
	int n;
	char text[4096];
};
static void collect(void *ctx, const char *line)
{
	struct lines *l = ctx;
	l->n++;
	strncat(l->text, line, sizeof(l->text) - strlen(l->text) - 2);
	strcat(l->text, "\n");
}

static void test_walk_stats_dump(void **state)
{
	(void)state;
	struct vmem_region r1, r2;
	struct vmem_stats st;
	struct lines out;
	static struct snap sn;

	assert_int_equal(vmem_init(&vm, BASE, 16 * Q, Q, &src), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 2 * Q, 2 * Q, &r1), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 8 * Q, Q, &r2), 0);
	snap_take(&vm, &sn);
	assert_int_equal(sn.n, 5);
	const struct snap_region want[5] = {
		{ BASE, 2 * Q, false }, { BASE + 2 * Q, 2 * Q, true }, { BASE + 4 * Q, 4 * Q, false },
		{ BASE + 8 * Q, Q, true }, { BASE + 9 * Q, 7 * Q, false },
	};
	for (int i = 0; i < 5; i++) {
		assert_int_equal(sn.r[i].a, want[i].a);
		assert_int_equal(sn.r[i].s, want[i].s);
		assert_int_equal(sn.r[i].used, want[i].used);
	}
	vmem_stats(&vm, &st);
	assert_int_equal(st.free_bytes, 13 * Q);
	assert_int_equal(st.used_bytes, 3 * Q);
	assert_int_equal(st.free_regions, 3);
	assert_int_equal(st.used_regions, 2);
	assert_int_equal(st.largest_free, 7 * Q);
	assert_int_equal(st.span_bytes, 16 * Q);
	assert_int_equal(st.spans, 1);
	assert_int_equal(st.pool_units, VMEM_BOOT_UNITS);
	assert_int_equal(st.pool_units_free, VMEM_BOOT_UNITS - 3);
	memset(&out, 0, sizeof(out));
	vmem_dump(&vm, true, collect, &out);
	assert_int_equal(out.n, 2 + 5);
	assert_non_null(strstr(out.text, "[0x0000000040002000, 0x0000000040004000)     8K used"));
	assert_non_null(strstr(out.text, "largest 28672"));
	assert_int_equal(vmem_free(&vm, r1.addr, 0, NULL), 0);
	assert_int_equal(vmem_free(&vm, r2.addr, 0, NULL), 0);
	assert_int_equal(vmem_destroy(&vm), 0);
}

/* The checker must notice broken invariants, or the property test proves nothing. */
static void test_check_detects_corruption(void **state)
{
	(void)state;
	struct vmem_region r1, r2;
	char why[256] = "";

	assert_int_equal(vmem_init(&vm, BASE, 16 * Q, Q, &src), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 2 * Q, 2 * Q, &r1), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 8 * Q, Q, &r2), 0);
	check_ok(&vm);
	r1.size = 3 * Q;   /* now reaches into free space */
	assert_int_equal(vmem_check(&vm, keep_line, why), SVMM_EINVAL);
	assert_non_null(strstr(why, "vmem: regions do not overlap"));
	r1.size = 2 * Q;
	r2.addr = BASE + 3 * Q;   /* out of order in the used tree */
	assert_int_equal(vmem_check(&vm, NULL, NULL), SVMM_EINVAL);
	r2.addr = BASE + 8 * Q;
	vm.used_bytes += Q;   /* the byte counter no longer matches the regions */
	assert_int_equal(vmem_check(&vm, NULL, NULL), SVMM_EINVAL);
	vm.used_bytes -= Q;
	vm.span_bytes += Q;   /* the regions no longer cover the spans */
	assert_int_equal(vmem_check(&vm, NULL, NULL), SVMM_EINVAL);
	vm.span_bytes -= Q;
	vm.nunits_free++;
	assert_int_equal(vmem_check(&vm, NULL, NULL), SVMM_EINVAL);
	vm.nunits_free--;
	check_ok(&vm);
	assert_int_equal(vmem_free(&vm, r1.addr, 0, NULL), 0);   /* merges: a unit is cached */
	assert_true(vm.nucache > 0);
	check_ok(&vm);
	vm.nucache++;   /* the unit cache's count no longer matches its list */
	assert_int_equal(vmem_check(&vm, keep_line, why), SVMM_EINVAL);
	assert_non_null(strstr(why, "unit cache"));
	vm.nucache--;
	check_ok(&vm);
	assert_int_equal(vmem_free(&vm, r2.addr, 0, NULL), 0);
	assert_int_equal(vmem_destroy(&vm), 0);
}

/*
 * The block index's invariants, each damaged on purpose and restored. The test sees a
 * block through this mirror of vmem.c's private struct vmem_blk (a white-box test, as
 * the counters poked above are).
 */
struct blk_view {
	struct rb_node node;
	uint64_t n;
	svmm_va_t key[14];
	uintptr_t seg[14];
};
_Static_assert(sizeof(struct blk_view) == VMEM_BLK_SIZE, "the mirror matches vmem.c's block");

static void expect_corrupt(const char *what)
{
	char why[256] = "";

	assert_int_equal(vmem_check(&vm, keep_line, why), SVMM_EINVAL);
	if (strstr(why, what) == NULL)
		fail_msg("vmem_check said \"%s\", expected \"%s\"", why, what);
}

static void test_check_detects_block_corruption(void **state)
{
	(void)state;
	struct vmem_region r1, r2;
	struct blk_view *b, saved;
	svmm_va_t k;
	uintptr_t e;

	assert_int_equal(vmem_init(&vm, BASE, 16 * Q, Q, &src), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 2 * Q, 2 * Q, &r1), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 8 * Q, Q, &r2), 0);
	check_ok(&vm);
	/* free [0,2), r1 [2,4), free [4,8), r2 [8,9), free [9,16): one block, r1 entry 1 */
	b = (struct blk_view *)(r1.blk & ~(uintptr_t)(VMEM_BLK_SIZE - 1));
	assert_int_equal(b->n, 5);
	assert_int_equal(b->key[1], r1.addr);
	assert_int_equal(b->seg[1], (uintptr_t)&r1);

	/* keys out of order: entries 1 and 2 swapped, each key still its segment's */
	k = b->key[1], e = b->seg[1];
	b->key[1] = b->key[2], b->seg[1] = b->seg[2];
	b->key[2] = k, b->seg[2] = e;
	expect_corrupt("keys ascend");
	b->key[2] = b->key[1], b->seg[2] = b->seg[1];
	b->key[1] = k, b->seg[1] = e;
	check_ok(&vm);

	/* a key that is not its segment's address (still in order) */
	b->key[1] += Q;
	expect_corrupt("keys are its segments' addresses");
	b->key[1] -= Q;
	check_ok(&vm);

	/* an entry's free bit that does not match its segment */
	b->seg[1] ^= 1;
	expect_corrupt("free bit");
	b->seg[1] ^= 1;
	check_ok(&vm);

	/* a segment whose block pointer is wrong */
	r1.blk += VMEM_BLK_SIZE;
	expect_corrupt("points at its block");
	r1.blk -= VMEM_BLK_SIZE;
	check_ok(&vm);

	/* a block whose count is wrong, low (an entry beyond n) and high (a hole within) */
	b->n--;
	expect_corrupt("unused keys are KEY_NONE");
	b->n += 2;
	expect_corrupt("keys are its segments' addresses");
	b->n--;
	check_ok(&vm);

	/* an empty block left in the tree */
	memcpy(&saved, b, sizeof(saved));
	b->n = 0;
	for (int j = 0; j < 14; j++)
		b->key[j] = ~(svmm_va_t)0, b->seg[j] = 0;
	expect_corrupt("a block holds 1 to 14 entries (0)");
	memcpy(b, &saved, sizeof(saved));
	check_ok(&vm);

	assert_int_equal(vmem_free_region(&vm, &r1), 0);
	assert_int_equal(vmem_free_region(&vm, &r2), 0);
	assert_int_equal(vmem_destroy(&vm), 0);
}

static void test_other_quantum(void **state)
{
	(void)state;
	struct vmem_region r[3];
	svmm_va_t a;

	assert_int_equal(vmem_init(&vm, 0x1000, 0x100, 1, &src), 0);   /* byte quantum */
	assert_int_equal(vmem_alloc(&vm, 3, &r[0], &a), 0);
	assert_int_equal(a, 0x1000);
	assert_int_equal(vmem_alloc_fixed(&vm, 0x1010, 5, &r[1]), 0);
	{
		struct vmem_constraint c = { .align = 16, .phase = 3 };
		assert_int_equal(vmem_xalloc(&vm, 1, &c, &r[2], &a), 0);
		assert_int_equal(a, 0x1003);
	}
	check_ok(&vm);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vmem_free(&vm, r[i].addr, 0, NULL), 0);
	assert_int_equal(vmem_destroy(&vm), 0);
	assert_int_equal(vmem_init(&vm, 0, 1ull << 47, 2 * SVMM_MiB, &src), 0);   /* big quantum */
	assert_int_equal(vmem_alloc(&vm, 4 * SVMM_MiB, &r[0], &a), 0);
	assert_int_equal(vmem_alloc(&vm, SVMM_MiB, &r[1], &a), SVMM_EUNALIGNED);
	assert_int_equal(vmem_free(&vm, 0, 0, NULL), 0);
	assert_int_equal(vmem_destroy(&vm), 0);
}

/*
 * vmem_lock_by_caller: the arena then never touches its own lock. The probes are the
 * page source and vmem_walk's callback, which a locking arena calls with its lock held
 * (a control arena shows that they see it), and the lock word itself: the test thread
 * holds the arena's lock as if it were the caller's own lock around every call, so any
 * port_lock inside vmem panics ("lock already held by this thread") and fails the test.
 */
static long probe_calls, probe_locked;
static int probe_alloc(void *ctx, void **page)
{
	probe_calls++;
	probe_locked += hostsim_lock_held(&vm.lock);
	return page_alloc(ctx, page);
}
static const struct vmem_page_source probe_src = { probe_alloc, page_free, NULL };
static void probe_walk(void *ctx, svmm_va_t a, uint64_t s, bool used)
{
	(void)ctx, (void)a, (void)s, (void)used;
	probe_calls++;
	probe_locked += hostsim_lock_held(&vm.lock);
}
static void quiet(void *ctx, const char *line)
{
	(void)ctx, (void)line;
}

static void test_lock_by_caller(void **state)
{
	(void)state;
	enum { N = 200 };   /* more free regions than the boot units hold: pool pages */
	static struct vmem_region r[N];
	struct vmem_region a, b, tail;
	struct vmem_constraint c = { .align = 16 * Q };
	struct vmem_stats st;
	svmm_va_t x;

	/* Control: a locking arena calls both probes with its lock held. */
	probe_calls = probe_locked = 0;
	assert_int_equal(vmem_init(&vm, BASE, 4 * N * Q, Q, &probe_src), 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(vmem_alloc_fixed(&vm, BASE + (uint64_t)(2 * i + 1) * Q, Q, &r[i]), 0);
	vmem_walk(&vm, probe_walk, NULL);
	assert_true(probe_calls > 2 * N);
	assert_int_equal(probe_locked, probe_calls);
	for (int i = 0; i < N; i++)
		assert_int_equal(vmem_free_region(&vm, &r[i]), 0);
	assert_int_equal(vmem_destroy(&vm), 0);

	/* The same work on an opted-in arena: neither probe sees the lock. */
	probe_calls = probe_locked = 0;
	assert_int_equal(vmem_init(&vm, BASE, 4 * N * Q, Q, &probe_src), 0);
	vmem_lock_by_caller(&vm);
	for (int i = 0; i < N; i++)
		assert_int_equal(vmem_alloc_fixed(&vm, BASE + (uint64_t)(2 * i + 1) * Q, Q, &r[i]), 0);
	vmem_walk(&vm, probe_walk, NULL);
	assert_true(probe_calls > 2 * N);
	assert_int_equal(probe_locked, 0);
	check_ok(&vm);

	/* Every call, with the lock word held by the caller: vmem must not take it. */
	port_lock(&vm.lock);
	assert_ptr_equal(vmem_lookup(&vm, r[5].addr), &r[5]);
	assert_null(vmem_lookup(&vm, r[5].addr + Q));
	assert_ptr_equal(vmem_first_from(&vm, r[5].addr + Q), &r[6]);
	assert_ptr_equal(vmem_next(&vm, &r[6]), &r[7]);
	assert_ptr_equal(vmem_prev(&vm, &r[6]), &r[5]);
	for (int i = 0; i < N; i++)
		assert_int_equal(vmem_free(&vm, r[i].addr, Q, NULL), 0);
	assert_int_equal(vmem_alloc(&vm, 4 * Q, &a, &x), 0);
	assert_int_equal(x, a.addr);
	assert_int_equal(vmem_split(&vm, &a, a.addr + Q, &tail), 0);
	assert_int_equal(vmem_join(&vm, &a, &tail), 0);
	assert_int_equal(vmem_xalloc(&vm, 2 * Q, &c, &b, &x), 0);
	assert_int_equal(x % (16 * Q), 0);
	assert_int_equal(vmem_add(&vm, BASE + 8 * N * Q, 8 * Q), 0);
	assert_int_equal(vmem_alloc_fixed(&vm, BASE + 8 * N * Q, 8 * Q, &r[0]), 0);
	assert_int_equal(vmem_free_region(&vm, &r[0]), 0);
	assert_int_equal(vmem_free_region(&vm, &b), 0);
	assert_int_equal(vmem_free(&vm, a.addr, 0, NULL), 0);
	assert_int_equal(vmem_free_region(&vm, &a), SVMM_EDOUBLEFREE);
	vmem_stats(&vm, &st);
	assert_int_equal(st.used_regions, 0);
	assert_int_equal(st.spans, 2);
	vmem_dump(&vm, true, quiet, NULL);
	assert_int_equal(vmem_check(&vm, quiet, NULL), 0);
	assert_int_equal(vmem_destroy(&vm), 0);
	port_unlock(&vm.lock);
	assert_int_equal(probe_locked, 0);
	assert_int_equal(pages_live, 0);

	/* vmem_init clears the declaration: the next arena in vm locks again. */
	probe_calls = probe_locked = 0;
	assert_int_equal(vmem_init(&vm, BASE, 4 * Q, Q, &probe_src), 0);
	vmem_walk(&vm, probe_walk, NULL);
	assert_int_equal(probe_calls, 1);
	assert_int_equal(probe_locked, 1);
	assert_int_equal(vmem_destroy(&vm), 0);
}

/*
 * Two threads churn one arena at once; the arena's lock must keep it consistent. (The
 * counting page source is not thread-safe, so this arena uses only its boot units.)
 */
struct churn_arg {
	unsigned seed;
	int errors;
};
static void *churn(void *p)
{
	struct churn_arg *a = p;
	struct vmem_region r[8];
	uint64_t x = a->seed;

	for (int round = 0; round < 5000; round++) {
		for (int i = 0; i < 8; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			if (vmem_alloc(&vm, (x % 4 + 1) * Q, &r[i], NULL) != 0)
				a->errors++;
		}
		for (int i = 0; i < 8; i++)
			if (vmem_free(&vm, r[i].addr, r[i].size, NULL) != 0)
				a->errors++;
	}
	return NULL;
}

static void test_two_threads(void **state)
{
	(void)state;
	pthread_t t[2];
	struct churn_arg a[2] = { { 1, 0 }, { 2, 0 } };
	struct vmem_stats st;

	assert_int_equal(vmem_init(&vm, BASE, 1024 * Q, Q, NULL), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, churn, &a[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(a[0].errors + a[1].errors, 0);
	check_ok(&vm);
	vmem_stats(&vm, &st);
	assert_int_equal(st.used_regions, 0);
	assert_int_equal(st.free_regions, 1);
	assert_int_equal(vmem_destroy(&vm), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_free_merge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_merge_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_best_fit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_best_fit_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_regions_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_over_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_block_enomem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xalloc_constraints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xalloc_scans_past_misaligned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_live, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bootstrap_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bootstrap_random, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_injection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pages_given_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_stats_dump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_detects_corruption, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_detects_block_corruption, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_quantum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_by_caller, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_threads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
