/*
 * test_aspace_smp.c - several threads ("harts") on one address space at once: faults on
 * the same pages race (one must win, the others see a spurious fault), while another
 * thread maps, unmaps and protects regions beside them and a third switches between
 * address spaces. Afterwards the invariants hold and every frame is accounted for.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aspace_fixture.h"

#define PG     SVMM_PAGE_SIZE
#define SHARED ((svmm_va_t)0x30000000)
#define NSHARE 512u

static struct aspace as, other;
static volatile int failed;

static void *faulter(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg;
	for (unsigned round = 0; round < 4; round++)
		for (unsigned i = 0; i < NSHARE; i++) {
			/* Both faulters walk the same pages, in opposite directions. */
			unsigned p = id ? NSHARE - 1 - i : i;
			if (aspace_fault(&as, SHARED + p * PG, round & 1 ? PT_W : PT_R) != 0)
				failed = 1;
		}
	return NULL;
}

static void *mapper(void *arg)
{
	(void)arg;
	uint64_t rng = 12345;
	for (unsigned i = 0; i < 3000; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		svmm_va_t va = 0x40000000 + (rng % 64) * PG, got;
		switch (rng >> 60 & 3) {
		case 0:
			(void)aspace_map_anon(&as, va, (1 + rng % 4) * PG, PT_R | PT_W, ASPACE_FIXED,
					      &got);
			break;
		case 1:
			if (aspace_unmap(&as, va, (1 + rng % 8) * PG) != 0)
				failed = 1;
			break;
		case 2:
			(void)aspace_protect(&as, va, PG, rng & 1 ? PT_R : PT_R | PT_W);
			break;
		default:
			(void)aspace_fault(&as, va, PT_R);
			break;
		}
	}
	return NULL;
}

static void *switcher(void *arg)
{
	(void)arg;
	bool flush;
	for (unsigned i = 0; i < 20000; i++)
		if (aspace_activate(i & 1 ? &other : &as, 1, &flush) == 0)
			failed = 1;
	return NULL;
}

static void test_concurrent_faults_and_maps(void **state)
{
	(void)state;
	assert_int_equal(fx_setup(64 * SVMM_MiB, 0, SVMM_SV39, 16), 0);
	uint64_t free0 = pmem_free_frames(&fx.pm);
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	assert_int_equal(aspace_create(&other, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t va;
	assert_int_equal(aspace_map_anon(&as, SHARED, NSHARE * PG, PT_R | PT_W, ASPACE_FIXED, &va),
			 0);
	pthread_t t[4];
	pthread_create(&t[0], NULL, faulter, (void *)0);
	pthread_create(&t[1], NULL, faulter, (void *)1);
	pthread_create(&t[2], NULL, mapper, NULL);
	pthread_create(&t[3], NULL, switcher, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	assert_false(failed);
	/* Exactly one frame per shared page, however the faults raced. */
	assert_int_equal(aspace_check(&as, fx_print, NULL), 0);
	uint64_t shared = 0;
	for (unsigned i = 0; i < NSHARE; i++)
		shared += pt_translate(&as.pt, SHARED + i * PG, PT_W, PT_PRIV_U, NULL, NULL) == 0;
	assert_int_equal(shared, NSHARE);
	assert_true(as.resident >= NSHARE);
	aspace_deactivate(&as, 1);
	aspace_deactivate(&other, 1);
	aspace_destroy(&other);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
	fx_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_faults_and_maps),
	};
	return cmocka_run_group_tests_name("aspace_smp", tests, NULL, NULL);
}
