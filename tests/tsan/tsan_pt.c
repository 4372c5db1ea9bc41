/*
 * tsan_pt.c - page tables used by several threads at once, built with ThreadSanitizer
 * (mk/tsan.mk, `make check-tsan`).
 *
 * shared_pt: four threads map, protect, translate and unmap in disjoint 1 GiB windows
 * of one Sv48 pt. The windows share the root and the table above them, so the tree's
 * upper levels are created, used and freed under contention; pt->lock must order all
 * of it, and the flush and freeing that happen after the lock is dropped must not race.
 * own_pts: four threads, each with its own pt, share the host port's table pool and
 * flush counter. Every call's result is checked; at the end every table frame must be
 * back and pt_check clean. A data race TSan sees fails the test.
 *
 * The seed is printed; SVMM_SEED=N replays each thread's random choices (the
 * interleaving itself is up to the host).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <svmm/pt.h>

#include "hostsim.h"
#include "pt_testutil.h"

#define NTHREADS 4
#define OPS      4000

struct worker {
	struct pt *pt;         /* shared, or the worker's own */
	svmm_va_t base;             /* its 1 GiB window */
	uint64_t seed;
	int errors;
};

/* One map / protect / translate / unmap round in the worker's window. */
static void *work(void *p)
{
	struct worker *w = p;
	uint64_t s = w->seed;
	for (int i = 0; i < OPS; i++) {
		uint64_t npages = 1 + pt_test_rand(&s) % 700;
		svmm_va_t va = w->base + (pt_test_rand(&s) % (256 - 2)) * 2 * SVMM_MiB +
			  (pt_test_rand(&s) % 512) * SVMM_PAGE_SIZE;
		uint64_t size = npages * SVMM_PAGE_SIZE;
		/* pa congruent with va modulo 2 MiB half of the time: 2 MiB pages too. */
		svmm_pa_t pa = 0x100000000ull + (va & (SVMM_GiB - 1)) +
			  (pt_test_rand(&s) % 2 ? SVMM_PAGE_SIZE : 0);
		if (pt_map(w->pt, va, pa, size, PT_R | PT_W) != 0)
			w->errors++;
		if (pt_protect(w->pt, va, size, PT_R, PT_PERMS & ~PT_R, 0) != 0)
			w->errors++;
		svmm_va_t probe = va + (pt_test_rand(&s) % npages) * SVMM_PAGE_SIZE;
		svmm_pa_t got;
		if (pt_translate(w->pt, probe, PT_R, 0, &got, NULL) != 0 || got != pa + (probe - va))
			w->errors++;
		if (pt_translate(w->pt, probe, PT_W, 0, NULL, NULL) != SVMM_EFAULT)
			w->errors++;
		if (pt_unmap(w->pt, va, size, 0) != 0)
			w->errors++;
	}
	return NULL;
}

static void run(bool shared, uint64_t seed)
{
	assert_int_equal(hostsim_ram_init(0x80000000ull, 256 * SVMM_MiB), 0);
	struct pt pts[NTHREADS];
	struct worker w[NTHREADS];
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		if (i == 0 || !shared)
			assert_int_equal(pt_init(&pts[i], SVMM_SV48, (uint32_t)i + 1), 0);
		w[i] = (struct worker){ shared ? &pts[0] : &pts[i], (svmm_va_t)(i + 1) * SVMM_GiB,
					seed + (uint64_t)i * 7919, 0 };
	}
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(w[i].errors, 0);
		if (i == 0 || !shared) {
			/* Everything was unmapped: only the root may remain. */
			assert_int_equal(pts[i].tables, 1);
			assert_int_equal(pt_check(&pts[i], NULL, NULL), 0);
			pt_destroy(&pts[i], pt_leaf_ignore, NULL);
		}
	}
	assert_int_equal(hostsim_tables_live(), 0);
	hostsim_ram_fini();
}

static void shared_pt(void **state)
{
	(void)state;
	run(true, pt_test_seed("tsan-pt shared", 0x7a5a));
}

static void own_pts(void **state)
{
	(void)state;
	run(false, pt_test_seed("tsan-pt own", 0x7a5b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shared_pt),
		cmocka_unit_test(own_pts),
	};
	return cmocka_run_group_tests_name("tsan-pt", tests, NULL, NULL);
}
