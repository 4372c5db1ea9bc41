/*
 * test_checkers.c - pt_check, layout_check and asid_check in the common checker shape
 * (13.14): 0 for a sound object; SVMM_EINVAL for a broken one, with one line through
 * out that names the broken invariant; nothing printed with out NULL or when all is
 * well.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <svmm/asid.h>
#include <svmm/layout.h>
#include <svmm/pt.h>
#include "hostsim.h"

#define RAM_BASE 0x80000000ull

struct lines {
	unsigned n;
	char last[256];
};

static void collect(void *ctx, const char *line)
{
	struct lines *l = ctx;
	l->n++;
	snprintf(l->last, sizeof(l->last), "%s", line);
}

static int setup(void **state)
{
	(void)state;
	return hostsim_ram_init(RAM_BASE, 64 * SVMM_MiB);
}

static int teardown(void **state)
{
	(void)state;
	hostsim_ram_fini();
	return 0;
}

/* Break one entry in a copy-and-restore way and see the invariant named. */
static void expect_pt(struct pt *pt, uint64_t *e, uint64_t bad, const char *words)
{
	uint64_t saved = *e;
	struct lines l = { 0 };
	*e = bad;
	assert_int_equal(pt_check(pt, NULL, NULL), SVMM_EINVAL);
	assert_int_equal(pt_check(pt, collect, &l), SVMM_EINVAL);
	*e = saved;
	assert_int_equal(l.n, 1);
	if (strstr(l.last, words) == NULL || strncmp(l.last, "pt: ", 4) != 0)
		fail_msg("pt_check said \"%s\", expected it to name \"%s\"", l.last, words);
	assert_int_equal(pt_check(pt, collect, &l), 0);
	assert_int_equal(l.n, 1);
}

static void test_pt_check_names(void **state)
{
	(void)state;
	struct pt pt;
	assert_int_equal(pt_init(&pt, SVMM_SV39, 1), 0);
	assert_int_equal(pt_map(&pt, 0x10000, 0x80010000, 0x3000, PT_R | PT_W), 0);
	assert_int_equal(pt_map(&pt, 0x40000000, 0x40000000, 2 * SVMM_MiB, PT_R), 0);
	struct pt_leaf lf;
	assert_int_equal(pt_leaf_at(&pt, 0x11000, &lf), 0);
	uint64_t *e = lf.ptep, v = *e;
	expect_pt(&pt, e, v | ((uint64_t)1 << 55), "reserved bits");
	expect_pt(&pt, e, v & ~SVMM_PTE_R, "writable without being readable");
	expect_pt(&pt, e, v & ~SVMM_PTE_A, "every leaf has A");
	expect_pt(&pt, e, v & ~SVMM_PTE_D, "D exactly when it has W");
	expect_pt(&pt, e, v | SVMM_PTE_PBMT_MASK, "PBMT value 3");
	expect_pt(&pt, e, v | SVMM_PTE_G, "no global leaf");
	expect_pt(&pt, e, v | SVMM_PTE_N, "Svnapot");
	/* A table pointer at level 0 is a pointer to nowhere. */
	expect_pt(&pt, e, (v & SVMM_PTE_PPN_MASK) | SVMM_PTE_V, "no table pointer at level 0");
	assert_int_equal(pt_leaf_at(&pt, 0x40000000, &lf), 0);
	expect_pt(&pt, lf.ptep, lf.pte + ((uint64_t)1 << SVMM_PTE_PPN_SHIFT), "aligned");
	/* A table pointer with A, and an emptied table: walk to the level-1 entry. */
	uint64_t *root = port_pa_to_va(pt.root);
	uint64_t *l1 = (uint64_t *)port_pa_to_va(svmm_pte_pa(root[0]));
	expect_pt(&pt, &root[0], root[0] | SVMM_PTE_A, "table pointers have no");
	uint64_t *l0 = (uint64_t *)port_pa_to_va(svmm_pte_pa(l1[0]));
	uint64_t saved[3] = { l0[16], l0[17], l0[18] };
	memset(&l0[16], 0, sizeof(saved));
	struct lines l = { 0 };
	assert_int_equal(pt_check(&pt, collect, &l), SVMM_EINVAL);
	assert_non_null(strstr(l.last, "is empty"));
	memcpy(&l0[16], saved, sizeof(saved));
	/* The count. */
	pt.tables++;
	assert_int_equal(pt_check(&pt, collect, &l), SVMM_EINVAL);
	assert_non_null(strstr(l.last, "pt->tables"));
	pt.tables--;
	assert_int_equal(pt_check(&pt, collect, &l), 0);
	pt_destroy(&pt, pt_leaf_ignore, NULL);
	assert_int_equal(hostsim_tables_live(), 0);
}

static void test_layout_check(void **state)
{
	(void)state;
	const enum svmm_mode modes[] = { SVMM_SV39, SVMM_SV48, SVMM_SV57 };
	for (unsigned m = 0; m < 3; m++) {
		struct svmm_layout l, bad;
		struct lines out = { 0 };
		assert_int_equal(layout_init(&l, modes[m], 0), 0);
		assert_int_equal(layout_check(&l, collect, &out), 0);
		assert_int_equal(layout_init(&l, modes[m], 4 * SVMM_GiB + 123), 0);
		assert_int_equal(layout_check(&l, collect, &out), 0);
		assert_int_equal(out.n, 0);

		bad = l;
		bad.ustack_top = bad.user_end;
		assert_int_equal(layout_check(&bad, NULL, NULL), SVMM_EINVAL);
		assert_int_equal(layout_check(&bad, collect, &out), SVMM_EINVAL);
		assert_non_null(strstr(out.last, "layout: the stack's top"));
		bad = l;
		bad.dmap_size += SVMM_MiB;
		assert_int_equal(layout_check(&bad, collect, &out), SVMM_EINVAL);
		assert_non_null(strstr(out.last, "direct map"));
		bad = l;
		bad.area[LAYOUT_FIXMAP].base -= SVMM_PAGE_SIZE;
		assert_int_equal(layout_check(&bad, collect, &out), SVMM_EINVAL);
		assert_non_null(strstr(out.last, "do not overlap"));
		bad = l;
		bad.area[LAYOUT_USTACK].size += 2 * SVMM_USTACK_GUARD;
		assert_int_equal(layout_check(&bad, collect, &out), SVMM_EINVAL);
		assert_non_null(strstr(out.last, "inside one half"));
		bad = l;
		bad.levels++;
		assert_int_equal(layout_check(&bad, collect, &out), SVMM_EINVAL);
		assert_non_null(strstr(out.last, "agree"));
		assert_int_equal(out.n, 5);
		/* The canonical test is the one of layout.h. */
		assert_true(svmm_canonical(l.mode, l.user_end - 1));
		assert_false(svmm_canonical(l.mode, l.user_end));
		assert_true(svmm_canonical(l.mode, l.kernel_base));
	}
}

static void test_asid_check(void **state)
{
	(void)state;
	static struct asid_allocator a;
	struct lines out = { 0 };
	assert_int_equal(asid_init(&a, 8, 4), 0);
	uint64_t ctx = 0;
	bool flush;
	(void)asid_activate(&a, &ctx, 1, &flush);
	assert_int_equal(asid_check(&a, collect, &out), 0);
	assert_int_equal(out.n, 0);
	a.map[0] &= ~(uint64_t)1;         /* ASID 0 is the kernel's */
	assert_int_equal(asid_check(&a, NULL, NULL), SVMM_EINVAL);
	assert_int_equal(asid_check(&a, collect, &out), SVMM_EINVAL);
	assert_non_null(strstr(out.last, "asid: ASID 0"));
	a.map[0] |= 1;
	a.map[ASID_MAP_WORDS - 1] = 1;
	assert_int_equal(asid_check(&a, collect, &out), SVMM_EINVAL);
	assert_non_null(strstr(out.last, "past the ASID width"));
	a.map[ASID_MAP_WORDS - 1] = 0;
	assert_int_equal(asid_check(&a, collect, &out), 0);
	assert_int_equal(out.n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pt_check_names, setup, teardown),
		cmocka_unit_test(test_layout_check),
		cmocka_unit_test(test_asid_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
