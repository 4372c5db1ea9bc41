/*
 * test_pmem_commit.c - pmem's commit ledger: frames promised to later allocations,
 * against a limit (by default every frame pmem can hand out). Bad calls change nothing.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <svmm/pmem.h>
#include "hostsim.h"

#define RAM0 ((svmm_pa_t)0x80000000ull)
#define MiB  SVMM_MiB

static struct pmem pm;

static int setup(void **state)
{
	(void)state;
	if (hostsim_ram_init(RAM0, 64 * MiB) != 0)
		return -1;
	struct pmem_range ram = { RAM0, 64 * MiB };
	struct pmem_range res = { RAM0 + 8 * MiB, 4 * MiB };      /* a reserved hole */
	return pmem_init(&pm, &ram, 1, &res, 1, PMEM_ANY);
}

static int teardown(void **state)
{
	(void)state;
	hostsim_ram_fini();
	return 0;
}

static void test_commit_ledger(void **state)
{
	(void)state;
	uint64_t c, limit;
	pmem_commit_stats(&pm, &c, &limit);
	assert_int_equal(c, 0);
	/* The default limit: RAM minus the reserved hole and the frame database. */
	struct pmem_stats st;
	pmem_stats(&pm, &st);
	assert_int_equal(limit, st.total_frames - st.reserved_frames - st.meta_frames);
	assert_true(limit < 64 * MiB / SVMM_PAGE_SIZE - 1024 + 1);
	/* Up to the limit and not one frame more; a refusal changes nothing. */
	assert_int_equal(pmem_commit(&pm, limit - 10), 0);
	assert_int_equal(pmem_commit(&pm, 11), SVMM_ENOMEM);
	assert_int_equal(pmem_commit(&pm, UINT64_MAX), SVMM_ENOMEM);
	assert_int_equal(pmem_commit(&pm, 10), 0);
	assert_int_equal(pmem_commit(&pm, 1), SVMM_ENOMEM);
	assert_int_equal(pmem_commit(&pm, 0), 0);
	pmem_commit_stats(&pm, &c, NULL);
	assert_int_equal(c, limit);
	/* The ledger is not the free list: allocation still works, and is not counted. */
	svmm_pa_t pa;
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &pa), 0);
	assert_int_equal(pmem_free(&pm, pa, 0), 0);
	/* Giving back more than is committed is refused. */
	assert_int_equal(pmem_uncommit(&pm, limit + 1), SVMM_EINVAL);
	assert_int_equal(pmem_uncommit(&pm, limit - 5), 0);
	assert_int_equal(pmem_uncommit(&pm, 6), SVMM_EINVAL);
	assert_int_equal(pmem_uncommit(&pm, 5), 0);
	pmem_commit_stats(&pm, &c, NULL);
	assert_int_equal(c, 0);
	/* A limit of the kernel's choosing; lowered below what is committed, later
	 * commits fail until enough comes back; 0 restores the default. */
	pmem_commit_limit(&pm, 100);
	assert_int_equal(pmem_commit(&pm, 80), 0);
	pmem_commit_limit(&pm, 50);
	pmem_commit_stats(&pm, &c, &limit);
	assert_int_equal(c, 80);
	assert_int_equal(limit, 50);
	assert_int_equal(pmem_commit(&pm, 1), SVMM_ENOMEM);
	assert_int_equal(pmem_commit(&pm, 0), 0);
	assert_int_equal(pmem_uncommit(&pm, 40), 0);
	assert_int_equal(pmem_commit(&pm, 10), 0);
	assert_int_equal(pmem_commit(&pm, 1), SVMM_ENOMEM);
	pmem_commit_limit(&pm, 0);
	assert_int_equal(pmem_commit(&pm, 1000), 0);
	assert_int_equal(pmem_uncommit(&pm, 1050), 0);
	assert_int_equal(pmem_check(&pm, NULL, NULL), 0);
}

/*
 * The ledger is lock-free (a compare-and-swap): threads that commit one frame at a
 * time against a limit get exactly the limit's worth between them, and giving it all
 * back concurrently leaves zero. A lost update would show as a count off by some.
 */
#define RACE_THREADS 4
#define RACE_TRIES   20000
#define RACE_LIMIT   25000

static void *commit_racer(void *arg)
{
	uint64_t *won = arg;
	for (unsigned i = 0; i < RACE_TRIES; i++)
		if (pmem_commit(&pm, 1) == 0)
			(*won)++;
	return NULL;
}

static void *uncommit_racer(void *arg)
{
	uint64_t *won = arg;
	for (uint64_t i = 0; i < *won; i++)
		if (pmem_uncommit(&pm, 1) != 0)
			return arg;
	return NULL;
}

static void test_commit_race(void **state)
{
	(void)state;
	pthread_t t[RACE_THREADS];
	uint64_t won[RACE_THREADS] = { 0 }, sum = 0, c;
	pmem_commit_limit(&pm, RACE_LIMIT);
	for (unsigned i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, commit_racer, &won[i]), 0);
	for (unsigned i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (unsigned i = 0; i < RACE_THREADS; i++)
		sum += won[i];
	pmem_commit_stats(&pm, &c, NULL);
	assert_int_equal(sum, RACE_LIMIT);
	assert_int_equal(c, RACE_LIMIT);
	for (unsigned i = 0; i < RACE_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, uncommit_racer, &won[i]), 0);
	for (unsigned i = 0; i < RACE_THREADS; i++) {
		void *bad;
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_null(bad);
	}
	pmem_commit_stats(&pm, &c, NULL);
	assert_int_equal(c, 0);
	pmem_commit_limit(&pm, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_ledger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_race, setup, teardown),
	};
	return cmocka_run_group_tests_name("pmem_commit", tests, NULL, NULL);
}
