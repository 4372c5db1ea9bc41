/*
 * test_vmem_baseline.c - the instant-fit baseline of bench_vmem (bench/vmem_baseline.h),
 * so that the ratio the bench prints is to an allocator known to be right.
 *
 * Instant fit's choices on a hand-built arena (the list sure to fit, powers of two one
 * list lower, the fallback search, aligned requests), random operations with
 * ifit_check after each and instant fit's success rule checked against a walk of the
 * free segments, ifit_check failing on every kind of damage, and every page and table
 * given back. SVMM_SEED=n replays the random test, SVMM_OPS=n changes its length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmem_pages.h"
#include "vmem_baseline.h"
#include "test_rand.h"

#define Q    4096ull
#define BASE 0x40000000ull

static long tables_live;

static void *table_alloc(uint64_t bytes)
{
	tables_live++;
	return malloc(bytes);
}

static void table_free(void *p, uint64_t bytes)
{
	(void)bytes;
	tables_live--;
	free(p);
}

static const struct ifit_mem tmem = { table_alloc, table_free };
static struct ifit_arena a;

static void check_ok(void)
{
	const char *why = NULL;

	if (ifit_check(&a, &why) != 0)
		fail_msg("ifit_check: %s", why);
}

static uint64_t take(uint64_t size)
{
	uint64_t addr = 0;

	assert_int_equal(ifit_alloc(&a, size, &addr), 0);
	check_ok();
	return addr;
}

/* The largest free segment, by a walk of the address list. */
static uint64_t largest_free(void)
{
	uint64_t big = 0;

	for (struct ifit_seg *s = a.seg0.anext; s != &a.seg0; s = s->anext)
		if (s->type == IFIT_FREE && ifit_size(s) > big)
			big = ifit_size(s);
	return big;
}

static void test_instant_fit_choices(void **state)
{
	uint64_t x, y, hole3, hole5, addr;

	(void)state;
	assert_int_equal(ifit_init(&a, BASE, 64 * Q, Q, &src, &tmem), 0);
	check_ok();
	/* Front of the one free segment, in order. */
	hole3 = take(3 * Q);
	assert_int_equal(hole3, BASE);
	x = take(1 * Q);
	hole5 = take(5 * Q);
	y = take(1 * Q);
	assert_int_equal(y, BASE + 9 * Q);
	ifit_free(&a, hole3, 3 * Q);
	ifit_free(&a, hole5, 5 * Q);
	check_ok();
	/* Free: [0,3) [4,9) [10,64) quanta. 3 quanta is not a power of two: the list sure
	 * to fit (4..7 quanta) holds the 5-quantum hole, taken before the exact fit. */
	assert_int_equal(take(3 * Q), BASE + 4 * Q);
	ifit_free(&a, BASE + 4 * Q, 3 * Q);
	/* 2 quanta is: its own list (2..3 quanta) fits, and holds the 3-quantum hole. */
	assert_int_equal(take(2 * Q), BASE);
	ifit_free(&a, BASE, 2 * Q);
	/* Take the big segment away; 5 quanta then has no list sure to fit (8 and up are
	 * empty), and the fallback search finds the 5-quantum hole in the 4..7 list. */
	addr = take(54 * Q);
	assert_int_equal(addr, BASE + 10 * Q);
	assert_int_equal(take(5 * Q), BASE + 4 * Q);
	/* Nothing of 4 quanta is left: a failure, counted, with nothing changed. */
	assert_int_equal(ifit_alloc(&a, 4 * Q, &addr), SVMM_ENOSPC);
	assert_int_equal(a.failures, 1);
	check_ok();
	ifit_free(&a, BASE + 4 * Q, 5 * Q);
	ifit_free(&a, BASE + 10 * Q, 54 * Q);
	/* Aligned, 4 quanta at 16: from the 4..7 list up, the first segment with an aligned
	 * fit. The 5-quantum hole at 4 has none; the next non-empty list's segment at 10
	 * has one at 16. */
	assert_int_equal(ifit_xalloc(&a, 4 * Q, 16 * Q, &addr), 0);
	assert_int_equal(addr, BASE + 16 * Q);
	check_ok();
	ifit_free(&a, addr, 4 * Q);
	ifit_free(&a, x, Q);
	ifit_free(&a, y, Q);
	check_ok();
	/* Everything free again: one segment over the span. */
	assert_int_equal(a.freemap, 64 * Q);
	ifit_destroy(&a);
	assert_int_equal(pages_live, 0);
}

#define MAXLIVE 2048

static void test_random_with_checks(void **state)
{
	static uint64_t addr[MAXLIVE], size[MAXLIVE];
	const char *so = getenv("SVMM_OPS");
	uint64_t ops = so ? strtoull(so, NULL, 0) : 200000, n = 0;

	(void)state;
	test_seed("test_vmem_baseline");
	assert_int_equal(ifit_init(&a, BASE, 4096 * Q, Q, &src, &tmem), 0);
	for (uint64_t op = 0; op < ops; op++) {
		uint64_t p = rnd() % 100, sz = rnd_range(1, rnd() % 8 ? 16 : 600) * Q, at;
		uint64_t big = largest_free();
		int err;

		if (n > 0 && (p < 45 || n == MAXLIVE)) {
			uint64_t k = rnd() % n;

			ifit_free(&a, addr[k], size[k]);
			addr[k] = addr[--n];
			size[k] = size[n];
		} else if (p < 90) {
			err = ifit_alloc(&a, sz, &at);
			/* Instant fit fails exactly when no free segment is large enough. */
			assert_int_equal(err == SVMM_ENOSPC, big < sz);
			if (err == 0) {
				addr[n] = at;
				size[n++] = sz;
			}
		} else {
			uint64_t align = Q << rnd_range(0, 6);

			/* Instant fit may miss an aligned fit in the list below the one it
			 * starts from; a success is aligned, a failure finds nothing large. */
			err = ifit_xalloc(&a, sz, align, &at);
			assert_true(err == 0 || err == SVMM_ENOSPC);
			if (err == 0) {
				assert_int_equal(at % align, 0);
				addr[n] = at;
				size[n++] = sz;
			} else if (big >= sz + align) {
				fail_msg("xalloc failed with a free segment of %llu bytes",
					 (unsigned long long)big);
			}
		}
		if (op % 4096 == 0)
			ifit_hash_rescale(&a);
		if (op < 20000 || op % 64 == 0)
			check_ok();
		assert_int_equal(a.nalloc - a.nfree, n);
	}
	printf("test_vmem_baseline: %llu operations, %llu allocations failed\n", (unsigned long long)ops,
	       (unsigned long long)a.failures);
	assert_true(a.failures > 0);   /* the arena did run full */
	while (n > 0) {
		n--;
		ifit_free(&a, addr[n], size[n]);
	}
	check_ok();
	assert_int_equal(a.freemap, 4096 * Q);
	ifit_destroy(&a);
	assert_int_equal(pages_live, 0);
	assert_int_equal(tables_live, 0);
}

/* A little arena with free and allocated segments on several lists and hash chains. */
static void damage_setup(uint64_t *x)
{
	assert_int_equal(ifit_init(&a, BASE, 256 * Q, Q, &src, &tmem), 0);
	for (int i = 0; i < 8; i++)
		x[i] = take((uint64_t)(i + 1) * Q);
	ifit_free(&a, x[1], 2 * Q);
	ifit_free(&a, x[4], 5 * Q);
	check_ok();
}

static void expect_broken(const char *what)
{
	const char *why = NULL;

	if (ifit_check(&a, &why) == 0)
		fail_msg("ifit_check accepted %s", what);
	printf("ifit_check on %s: %s\n", what, why);
}

static void test_check_catches_damage(void **state)
{
	uint64_t x[8];
	struct ifit_seg *f, *u, **b;

	(void)state;
	damage_setup(x);
	f = a.freelist[ifit_highbit(5 * Q) - 1].knext;   /* the free 5-quantum segment */
	assert_int_equal(f->start, x[4]);
	u = f->anext;                                     /* the allocated one after it */
	assert_int_equal(u->type, IFIT_ALLOC);

	a.freemap ^= (uint64_t)1 << 40;
	expect_broken("a freemap bit of an empty list");
	a.freemap ^= (uint64_t)1 << 40;

	u->end += Q;
	expect_broken("overlapping segments");
	u->end -= Q;

	u->start -= Q;
	expect_broken("a gap in the address list");
	u->start += Q;

	f->type = IFIT_ALLOC;
	expect_broken("a free segment marked allocated");
	f->type = IFIT_FREE;

	for (b = ifit_bucket(&a, u->start); *b != u; b = &(*b)->knext)
		assert_non_null(*b);
	*b = u->knext;
	expect_broken("an allocation missing from the hash");
	*b = u;

	f->end -= 2 * Q;   /* 3 quanta, on the 4..7 list */
	f->anext->start -= 2 * Q;
	f->anext->type = IFIT_FREE;
	expect_broken("two free segments side by side, one on the wrong list");
	f->anext->type = IFIT_ALLOC;
	f->anext->start += 2 * Q;
	f->end += 2 * Q;

	a.nsegfree++;
	expect_broken("a miscounted spare list");
	a.nsegfree--;

	a.inuse += Q;
	expect_broken("wrong bytes in use");
	a.inuse -= Q;

	check_ok();   /* every repair put it back */
	ifit_destroy(&a);
	assert_int_equal(pages_live, 0);
}

static void test_init_without_pages(void **state)
{
	(void)state;
	fail_next_page = 1;
	assert_int_equal(ifit_init(&a, BASE, 256 * Q, Q, &src, &tmem), SVMM_ENOMEM);
	ifit_destroy(&a);
	assert_int_equal(pages_live, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_instant_fit_choices),
		cmocka_unit_test(test_random_with_checks),
		cmocka_unit_test(test_check_catches_damage),
		cmocka_unit_test(test_init_without_pages),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
