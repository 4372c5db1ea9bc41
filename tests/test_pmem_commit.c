/*
 * test_pmem_commit.c - pmem's commit ledger: frames promised to later allocations,
 * against a limit (by default every frame pmem can hand out). Bad calls change nothing.
 */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_ledger, setup, teardown),
	};
	return cmocka_run_group_tests_name("pmem_commit", tests, NULL, NULL);
}
