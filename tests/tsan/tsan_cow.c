/*
 * tsan_cow.c - copy-on-write under ThreadSanitizer: a child writes the pages it shares
 * with its parent (copy-on-write faults: copies, and take-overs once the parent has
 * copied) while, on other threads, the parent is cloned again and again (each clone
 * sharing the parent's leaf index nodes, the clones thrown away while the child and
 * the parent copy those nodes on their first writes into them) and the parent unmaps,
 * remaps and writes pages of the shared range. The objects, pmem's reference counts
 * and the page tables meet on the nodes and frames both sides share; any
 * unsynchronised access is a TSan report.
 * Afterwards both address spaces pass their checkers, the child reads exactly what it
 * wrote, and every frame is back after destroy.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aspace_fixture.h"

#define PG     SVMM_PAGE_SIZE
#define BASE   ((svmm_va_t)0x30000000)
#define NPAGES 256u

static struct aspace parent, child;
static volatile int failed;

/* Write v to the word at va of a as the hardware does: fault until writable. */
static int store(struct aspace *a, svmm_va_t va, uint64_t v)
{
	svmm_pa_t pa;
	while (pt_translate(&a->pt, va, PT_W, PT_PRIV_U, &pa, NULL) != 0) {
		int err = aspace_fault(a, va, PT_W);
		if (err != 0)
			return err;
	}
	*(volatile uint64_t *)port_pa_to_va(pa) = v;
	return 0;
}

/* The child writes its own marks over every shared page, four times. */
static void *writer(void *arg)
{
	(void)arg;
	for (unsigned round = 0; round < 16; round++)
		for (unsigned i = 0; i < NPAGES; i++)
			if (store(&child, BASE + i * PG, ((uint64_t)round << 32) | i) != 0)
				failed = 1;
	return NULL;
}

/* The parent is forked and the fork thrown away, again and again. */
static void *cloner(void *arg)
{
	(void)arg;
	static struct aspace c;
	for (unsigned i = 0; i < 150; i++) {
		if (aspace_create(&c, &fx.kpt, &fx.pm, NULL) != 0) {
			failed = 1;
			break;
		}
		if (aspace_clone(&parent, &c) != 0)
			failed = 1;
		aspace_destroy(&c);
	}
	return NULL;
}

/* The parent unmaps, maps again and writes pages of the shared range. */
static void *unmapper(void *arg)
{
	(void)arg;
	uint64_t rng = 99;
	for (unsigned i = 0; i < 3000; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		svmm_va_t va = BASE + (rng % NPAGES) * PG, got;
		switch (rng >> 61) {
		case 0:
		case 1:
			if (aspace_unmap(&parent, va, PG) != 0)
				failed = 1;
			break;
		case 2:
			(void)aspace_map_anon(&parent, va, PG, PT_R | PT_W, ASPACE_FIXED, &got);
			break;
		default:
			if (aspace_lookup(&parent, va) != NULL)
				(void)aspace_fault(&parent, va, PT_W);
			break;
		}
	}
	return NULL;
}

static void test_cow_races(void **state)
{
	(void)state;
	assert_int_equal(fx_setup(64 * SVMM_MiB, 0, SVMM_SV39, 16), 0);
	uint64_t free0 = pmem_free_frames(&fx.pm);
	svmm_va_t va;
	assert_int_equal(aspace_create(&parent, &fx.kpt, &fx.pm, NULL), 0);
	assert_int_equal(aspace_map_anon(&parent, BASE, NPAGES * PG, PT_R | PT_W, ASPACE_FIXED,
					 &va), 0);
	for (unsigned i = 0; i < NPAGES; i++)
		assert_int_equal(store(&parent, BASE + i * PG, 7000 + i), 0);
	assert_int_equal(aspace_create(&child, &fx.kpt, &fx.pm, NULL), 0);
	assert_int_equal(aspace_clone(&parent, &child), 0);

	pthread_t t[3];
	assert_int_equal(pthread_create(&t[0], NULL, writer, NULL), 0);
	assert_int_equal(pthread_create(&t[1], NULL, cloner, NULL), 0);
	assert_int_equal(pthread_create(&t[2], NULL, unmapper, NULL), 0);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(failed, 0);

	assert_int_equal(aspace_check(&parent, fx_print, NULL), 0);
	assert_int_equal(aspace_check(&child, fx_print, NULL), 0);
	for (unsigned i = 0; i < NPAGES; i++) {
		svmm_pa_t pa;
		assert_int_equal(pt_translate(&child.pt, BASE + i * PG, PT_R, PT_PRIV_U, &pa, NULL),
				 0);
		assert_int_equal(*(uint64_t *)port_pa_to_va(pa), ((uint64_t)15 << 32) | i);
	}
	aspace_destroy(&child);
	aspace_destroy(&parent);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
	fx_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cow_races),
	};
	return cmocka_run_group_tests_name("tsan copy-on-write", tests, NULL, NULL);
}
