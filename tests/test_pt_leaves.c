/*
 * test_pt_leaves.c - page tables for kernels that own their frames (issue 10.5, 13.4):
 * pt_leaf_at, pt_unmap_leaves (every removed leaf reported once, in order, after the
 * flush that made it unreachable, in batches past one gather frame), pt_protect by
 * set and clear masks (a protect that changes nothing splits and allocates nothing),
 * pt_destroy that refuses or reports live leaves, and PT_BOOT refused once a clone of
 * the kernel half exists (13.2). Every error leaves the tables
 * unchanged; out of memory at every allocation point changes nothing; pt_check runs
 * after every call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <svmm/pt.h>
#include "hostsim.h"
#include "pt_testutil.h"
#include "tlb_model.h"

#define RAM_BASE PT_TEST_RAM_BASE
#define PG SVMM_PAGE_SIZE
#define RW (PT_R | PT_W)
static const enum svmm_mode modes[] = { SVMM_SV39, SVMM_SV48, SVMM_SV57 };

/* The RAM of every test: pt_testutil's. */
#define setup    pt_test_setup
#define teardown pt_test_teardown

/* ---- what the callbacks saw ---- */

struct seen {
	struct { svmm_va_t va; svmm_pa_t pa; uint64_t size; uint64_t pte; } l[4096];
	unsigned n;
	uint64_t flushes_at_start;
	const struct pt *pt;
	struct tlb_model *tlb;
};

static void record(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	struct seen *s = ctx;
	/* After the flush: a flush has happened, and no cached entry is stale. */
	assert_true(hostsim_flush_count() > s->flushes_at_start);
	if (s->tlb != NULL)
		assert_int_equal(tlb_model_stale(s->tlb, s->pt, NULL), 0);
	/* The leaf is gone from the tables already. */
	struct pt_leaf lf;
	assert_int_equal(pt_leaf_at(s->pt, va, &lf), SVMM_ENOENT);
	assert_true(s->n < 4096);
	s->l[s->n].va = va;
	s->l[s->n].pa = pa;
	s->l[s->n].size = size;
	s->l[s->n].pte = pte;
	s->n++;
}

static void seen_start(struct seen *s, const struct pt *pt, struct tlb_model *tlb)
{
	s->n = 0;
	s->pt = pt;
	s->tlb = tlb;
	s->flushes_at_start = hostsim_flush_count();
}

/* The reported leaves tile [va, va + size) in order, pa following va + delta. */
static void seen_tiles(const struct seen *s, svmm_va_t va, uint64_t size, svmm_pa_t pa)
{
	svmm_va_t at = va;
	for (unsigned i = 0; i < s->n; i++) {
		assert_int_equal(s->l[i].va, at);
		assert_int_equal(s->l[i].pa, pa + (at - va));
		assert_true(s->l[i].pte & SVMM_PTE_V);
		at += s->l[i].size;
	}
	assert_int_equal(at, va + size);
}

static void never(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	(void)ctx; (void)va; (void)pa; (void)size; (void)pte;
	fail_msg("callback called by a call that failed");
}

/* ---- pt_leaf_at ---- */

static void test_leaf_at(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		struct pt pt;
		assert_int_equal(pt_init(&pt, modes[m], 1), 0);
		assert_int_equal(pt_map(&pt, 0x40000000, 0x40000000, SVMM_GiB, RW), 0);
		assert_int_equal(pt_map(&pt, 0x200000, 0x80200000, 2 * SVMM_MiB, PT_R | PT_U), 0);
		assert_int_equal(pt_map(&pt, 0x10000, 0x80010000, 0x10000, RW | PT_NAPOT), 0);
		assert_int_equal(pt_map(&pt, 0x5000, 0x90005000, PG, PT_R | PT_X), 0);
		struct pt_leaf lf;

		assert_int_equal(pt_leaf_at(&pt, 0x40000000 + 0x12345678, &lf), 0);
		assert_int_equal(lf.level, 2);
		assert_int_equal(lf.size, SVMM_GiB);
		assert_int_equal(lf.va, 0x40000000);
		assert_int_equal(lf.pa, 0x40000000 + 0x12345678);
		assert_int_equal(*lf.ptep, lf.pte);
		assert_true(svmm_pte_is_leaf(lf.pte));

		assert_int_equal(pt_leaf_at(&pt, 0x3ff000, &lf), 0);
		assert_int_equal(lf.level, 1);
		assert_int_equal(lf.pa, 0x803ff000);
		assert_true(lf.pte & SVMM_PTE_U);

		assert_int_equal(pt_leaf_at(&pt, 0x1a000, &lf), 0);
		assert_int_equal(lf.level, 0);
		assert_int_equal(lf.size, 0x10000);          /* the Svnapot run */
		assert_int_equal(lf.va, 0x10000);
		assert_int_equal(lf.pa, 0x8001a000);
		assert_true(lf.pte & SVMM_PTE_N);

		assert_int_equal(pt_leaf_at(&pt, 0x5abc, &lf), 0);
		assert_int_equal(lf.pa, 0x90005abc);
		assert_int_equal(lf.size, PG);
		/* A kernel edits its entry in place through ptep (and flushes itself). */
		*lf.ptep |= SVMM_PTE_U;
		assert_int_equal(pt_leaf_at(&pt, 0x5000, &lf), 0);
		assert_true(lf.pte & SVMM_PTE_U);
		assert_int_equal(pt_check(&pt, NULL, NULL), 0);

		/* A hole: ENOENT, with the empty entry where the walk stopped. */
		assert_int_equal(pt_leaf_at(&pt, 0x6000, &lf), SVMM_ENOENT);
		assert_int_equal(lf.level, 0);
		assert_int_equal(*lf.ptep, 0);
		assert_int_equal(lf.pte, 0);
		assert_int_equal(pt_leaf_at(&pt, 0x80000000, &lf), SVMM_ENOENT);
		assert_int_equal(lf.level, 2);      /* an empty 1 GiB entry */
		assert_int_equal(*lf.ptep, 0);
		assert_int_equal(pt_leaf_at(&pt, svmm_user_end(modes[m]), &lf), SVMM_ENONCANON);
		pt_destroy(&pt, pt_leaf_ignore, NULL);
		assert_int_equal(hostsim_tables_live(), 0);
	}
}

/* ---- pt_unmap_leaves ---- */

static struct seen seen;

static void test_unmap_leaves_mixed(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		struct tlb_model tlb;
		tlb_model_init(&tlb, 7);
		struct pt pt;
		assert_int_equal(pt_init(&pt, modes[m], 3), 0);
		/* 4 KiB pages, a Svnapot run, 2 MiB pages and a 1 GiB page, contiguous. */
		svmm_va_t va = 0x40000000 - 4 * SVMM_MiB - 0x20000;
		uint64_t size = 4 * SVMM_MiB + 0x20000 + SVMM_GiB;
		svmm_pa_t pa = 0x100000000ull - 4 * SVMM_MiB - 0x20000;
		assert_int_equal(pt_map(&pt, va, pa, size, RW | PT_U | PT_NAPOT), 0);
		for (svmm_va_t a = va; a < va + size; a += 0x10000) {
			svmm_pa_t got;
			assert_int_equal(tlb_model_access(&tlb, &pt, a, PT_R, PT_PRIV_U, &got), 0);
		}
		/* Cut into the first run and the 1 GiB page: both are split first. */
		svmm_va_t uva = va + 0x3000;
		uint64_t usize = size - 0x3000 - 0x5000;
		uint64_t live = hostsim_tables_live();
		seen_start(&seen, &pt, &tlb);
		assert_int_equal(pt_unmap_leaves(&pt, uva, usize, 0, record, &seen), 0);
		assert_int_equal(pt_check(&pt, NULL, NULL), 0);
		seen_tiles(&seen, uva, usize, pa + 0x3000);
		assert_int_equal(tlb_model_stale(&tlb, &pt, NULL), 0);
		/* What is left: the first 12 KiB and the last 20 KiB. */
		struct pt_leaf lf;
		assert_int_equal(pt_leaf_at(&pt, va + 0x2000, &lf), 0);
		assert_int_equal(pt_leaf_at(&pt, va + size - 0x5000, &lf), 0);
		assert_int_equal(lf.pa, pa + size - 0x5000);
		assert_int_equal(pt_leaf_at(&pt, va + 0x3000, &lf), SVMM_ENOENT);
		assert_true(hostsim_tables_live() > 0 && live > 0);
		pt_destroy(&pt, pt_leaf_ignore, NULL);
		assert_int_equal(hostsim_tables_live(), 0);
		tlb_model_fini(&tlb);
	}
}

/* More leaves than one gather frame holds: batches, each flushed before it is told. */
static void test_unmap_leaves_batches(void **state)
{
	(void)state;
	struct tlb_model tlb;
	tlb_model_init(&tlb, 9);
	struct pt pt;
	assert_int_equal(pt_init(&pt, SVMM_SV48, 2), 0);
	/* 3000 pages in runs of 3 with one-page holes: 4 KiB leaves only. */
	const svmm_va_t base = 0x7000000;
	for (unsigned i = 0; i < 1000; i++)
		assert_int_equal(pt_map(&pt, base + i * 4 * PG, 0x90000000 + i * 4 * PG, 3 * PG,
					RW), 0);
	for (unsigned i = 0; i < 1000; i += 7) {
		svmm_pa_t got;
		assert_int_equal(tlb_model_access(&tlb, &pt, base + i * 4 * PG, PT_R, 0, &got), 0);
	}
	uint64_t flushes = hostsim_flush_count();
	seen_start(&seen, &pt, &tlb);
	assert_int_equal(pt_unmap_leaves(&pt, base, 4000 * PG, 0, record, &seen), SVMM_ENOENT);
	assert_int_equal(seen.n, 0);
	assert_int_equal(hostsim_flush_count(), flushes);
	assert_int_equal(pt_unmap_leaves(&pt, base, 4000 * PG, PT_MISSING_OK, record, &seen), 0);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	assert_int_equal(seen.n, 3000);
	for (unsigned i = 0; i < 3000; i++) {
		svmm_va_t want = base + (i / 3) * 4 * PG + (i % 3) * PG;
		assert_int_equal(seen.l[i].va, want);
		assert_int_equal(seen.l[i].pa, 0x90000000 + (want - base));
		assert_int_equal(seen.l[i].size, PG);
	}
	assert_int_equal(pt.tables, 1);
	/*
	 * Leaf tables that the range covers whole leave as one record each; those it
	 * covers in part stay, and their 1022 leaves need four gather frames' worth:
	 * each batch is flushed before it is reported.
	 */
	assert_int_equal(pt_map(&pt, 0x40000000, 0x90000000, 4 * SVMM_MiB, RW), 0);
	assert_int_equal(pt_protect(&pt, 0x40000000, 4 * SVMM_MiB, 0, PT_W, 0), 0);
	assert_int_equal(pt_unmap(&pt, 0x40000000, 8 * PG, 0), 0);   /* now 4 KiB leaves */
	assert_int_equal(pt_map(&pt, 0x40000000, 0x90000000, 8 * PG, RW), 0);
	flushes = hostsim_flush_count();
	seen_start(&seen, &pt, &tlb);
	assert_int_equal(pt_unmap_leaves(&pt, 0x40000000 + PG, 4 * SVMM_MiB - 2 * PG, 0, record,
					 &seen), 0);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	assert_int_equal(seen.n, 1022);
	seen_tiles(&seen, 0x40000000 + PG, 4 * SVMM_MiB - 2 * PG, 0x90000000 + PG);
	assert_int_equal(hostsim_flush_count() - flushes, 5);
	assert_int_equal(pt_unmap(&pt, 0x40000000, PG, 0), 0);
	assert_int_equal(pt_unmap(&pt, 0x40000000 + 4 * SVMM_MiB - PG, PG, 0), 0);
	pt_destroy(&pt, NULL, NULL);
	assert_int_equal(hostsim_tables_live(), 0);
	tlb_model_fini(&tlb);
}

/* Whole subtrees leave the tree at once and are reported from the detached tables. */
static void test_unmap_leaves_subtrees(void **state)
{
	(void)state;
	struct pt pt;
	assert_int_equal(pt_init(&pt, SVMM_SV57, 4), 0);
	/* 4 MiB of 4 KiB pages (two leaf tables) and 4 MiB of 2 MiB pages. */
	assert_int_equal(pt_map(&pt, 0x40000000, 0x90000000, 4 * SVMM_MiB, RW | PT_MAX_PAGE_4K), 0);
	assert_int_equal(pt_map(&pt, 0x40400000, 0x90400000, 4 * SVMM_MiB, RW), 0);
	uint64_t tables = pt.tables;
	assert_int_equal(tables, 1 + 3 + 2);
	seen_start(&seen, &pt, NULL);
	assert_int_equal(pt_unmap_leaves(&pt, 0x40000000, 8 * SVMM_MiB, 0, record, &seen), 0);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	assert_int_equal(seen.n, 1024 + 2);
	seen_tiles(&seen, 0x40000000, 8 * SVMM_MiB, 0x90000000);
	assert_int_equal(pt.tables, 1);
	assert_int_equal(hostsim_tables_live(), 1);
	pt_destroy(&pt, NULL, NULL);
	assert_int_equal(hostsim_tables_live(), 0);
}

static void test_unmap_leaves_errors(void **state)
{
	(void)state;
	struct pt k, pt;
	assert_int_equal(pt_init_kernel(&k, SVMM_SV39), 0);
	assert_int_equal(pt_init(&pt, SVMM_SV39, 1), 0);
	pt_clone_kernel(&pt, &k);
	assert_int_equal(pt_map(&pt, 0x10000, 0x80010000, 0x3000, RW), 0);
	svmm_va_t ue = svmm_user_end(SVMM_SV39), kb = svmm_kernel_base(SVMM_SV39);
	struct pt_snap before, after;
	pt_snap_take(&before, &pt, 0, 0);
	uint64_t flushes = hostsim_flush_count();
	struct { int got, want; const char *what; } c[] = {
		{ pt_unmap_leaves(&pt, 0x10000, 0x3000, 0, NULL, NULL), SVMM_EINVAL, "NULL fn" },
		{ pt_unmap_leaves(&pt, 0x10000, 0, 0, never, NULL), SVMM_EZEROSIZE, "zero" },
		{ pt_unmap_leaves(&pt, 0x10800, PG, 0, never, NULL), SVMM_EUNALIGNED, "va" },
		{ pt_unmap_leaves(&pt, 0x10000, 0x4000, 0, never, NULL), SVMM_ENOENT, "hole" },
		{ pt_unmap_leaves(&pt, 0x10000, 0x3000, PT_R, never, NULL), SVMM_EINVAL, "flag" },
		{ pt_unmap_leaves(&pt, ue - PG, kb - ue + 2 * PG, 0, never, NULL), SVMM_EHALVES,
		  "halves" },
		{ pt_unmap_leaves(&pt, ue, PG, 0, never, NULL), SVMM_ENONCANON, "noncanon" },
		{ pt_unmap_leaves(&pt, kb, PG, PT_MISSING_OK, never, NULL), SVMM_EPERM, "kernel" },
		{ pt_unmap_leaves(&pt, 0 - PG, 2 * PG, 0, never, NULL), SVMM_EOVERFLOW, "wrap" },
	};
	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (c[i].got != c[i].want)
			fail_msg("%s: got %s, want %s", c[i].what, svmm_strerror(c[i].got),
				 svmm_strerror(c[i].want));
	pt_snap_take(&after, &pt, 0, 0);
	assert_true(pt_snap_equal(&before, &after));
	assert_int_equal(hostsim_flush_count(), flushes);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	pt_snap_free(&before);
	pt_snap_free(&after);
	pt_destroy(&pt, pt_leaf_ignore, NULL);
	pt_destroy(&k, pt_leaf_ignore, NULL);
	assert_int_equal(hostsim_tables_live(), 0);
}

/* Out of memory at every allocation point (splits and the gather frame): no change. */
static void test_unmap_leaves_oom(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		uint64_t points = 0;
		for (uint64_t k = 0; k == 0 || k <= points; k++) {
			struct pt pt;
			assert_int_equal(pt_init(&pt, modes[m], 1), 0);
			assert_int_equal(pt_map(&pt, 0x40000000, 0x40000000, SVMM_GiB, RW), 0);
			struct pt_snap before, after;
			pt_snap_take(&before, &pt, 0, 0);
			uint64_t flushes = hostsim_flush_count();
			hostsim_reset_alloc_points();
			hostsim_fail_after(k);
			seen_start(&seen, &pt, NULL);
			int err = pt_unmap_leaves(&pt, 0x40001000, 0x10000000, 0,
						  k == 0 ? record : never, &seen);
			hostsim_fail_after(0);
			if (k == 0) {
				assert_int_equal(err, 0);
				points = hostsim_alloc_points();
				/* 1 GiB and 2 MiB at the start, 2 MiB at the end, gather */
				assert_int_equal(points, 3 + 1);
				seen_tiles(&seen, 0x40001000, 0x10000000, 0x40001000);
			} else {
				assert_int_equal(err, SVMM_ENOMEM);
				pt_snap_take(&after, &pt, 0, 0);
				assert_true(pt_snap_equal(&before, &after));
				assert_int_equal(hostsim_flush_count(), flushes);
				pt_snap_free(&after);
			}
			assert_int_equal(pt_check(&pt, NULL, NULL), 0);
			pt_snap_free(&before);
			pt_destroy(&pt, pt_leaf_ignore, NULL);
			assert_int_equal(hostsim_tables_live(), 0);
		}
	}
}

/* ---- pt_protect by masks ---- */

static uint64_t perms_at(const struct pt *pt, svmm_va_t va)
{
	struct pt_leaf lf;
	assert_int_equal(pt_leaf_at(pt, va, &lf), 0);
	return lf.pte & (SVMM_PTE_PERM_MASK | SVMM_PTE_D);
}

static void test_protect_masks(void **state)
{
	(void)state;
	struct pt pt;
	assert_int_equal(pt_init(&pt, SVMM_SV39, 1), 0);
	assert_int_equal(pt_map(&pt, 0x10000, 0x80010000, 0x4000, RW | PT_U), 0);
	assert_int_equal(pt_map(&pt, 0x20000, 0x80020000, PG, PT_X), 0);
	/* Clear U alone, then W alone (D follows), then set U and X. */
	assert_int_equal(pt_protect(&pt, 0x10000, 0x4000, 0, PT_U, 0), 0);
	assert_int_equal(perms_at(&pt, 0x11000), SVMM_PTE_R | SVMM_PTE_W | SVMM_PTE_D);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	assert_int_equal(pt_protect(&pt, 0x10000, 0x2000, 0, PT_W, 0), 0);
	assert_int_equal(perms_at(&pt, 0x10000), SVMM_PTE_R);
	assert_int_equal(perms_at(&pt, 0x12000), SVMM_PTE_R | SVMM_PTE_W | SVMM_PTE_D);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	assert_int_equal(pt_protect(&pt, 0x10000, 0x4000, PT_U | PT_X, 0, 0), 0);
	assert_int_equal(perms_at(&pt, 0x10000), SVMM_PTE_R | SVMM_PTE_X | SVMM_PTE_U);
	assert_int_equal(perms_at(&pt, 0x13000),
			 SVMM_PTE_R | SVMM_PTE_W | SVMM_PTE_X | SVMM_PTE_U | SVMM_PTE_D);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	/* Set exactly, as the old call did. */
	assert_int_equal(pt_protect(&pt, 0x10000, 0x4000, PT_R, PT_PERMS, 0), 0);
	assert_int_equal(perms_at(&pt, 0x13000), SVMM_PTE_R);

	struct pt_snap before, after;
	pt_snap_take(&before, &pt, 0, 0);
	uint64_t flushes = hostsim_flush_count();
	struct { int got, want; const char *what; } c[] = {
		/* a leaf would lose R, W and X */
		{ pt_protect(&pt, 0x10000, 0x4000, 0, PT_R, 0), SVMM_EPERM, "none left" },
		{ pt_protect(&pt, 0x10000, 0x4000, PT_U, PT_R | PT_W | PT_X, 0), SVMM_EPERM,
		  "none set" },
		/* W without R: on the X-only page, and by clearing R */
		{ pt_protect(&pt, 0x20000, PG, PT_W, 0, 0), SVMM_EPERM, "W on X" },
		{ pt_protect(&pt, 0x10000, 0x4000, PT_W, PT_R, 0), SVMM_EPERM, "W without R" },
		{ pt_protect(&pt, 0x10000, 0x4000, PT_R | PT_G, 0, 0), SVMM_EPERM, "G user" },
		{ pt_protect(&pt, 0x10000, 0x4000, PT_R | PT_MISSING_OK, 0, 0), SVMM_EINVAL,
		  "flag in set" },
		{ pt_protect(&pt, 0x10000, 0x4000, PT_R, PT_NAPOT, 0), SVMM_EINVAL,
		  "flag in clear" },
		{ pt_protect(&pt, 0x10000, 0x4000, PT_R, 0, PT_REPLACE), SVMM_EINVAL, "flags" },
		{ pt_protect(&pt, 0x10000, 0x5000, PT_W, 0, 0), SVMM_ENOENT, "hole" },
		{ pt_protect(&pt, 0x10000, 0, PT_W, 0, 0), SVMM_EZEROSIZE, "zero" },
		{ pt_protect(&pt, 0x10001, PG, PT_W, 0, 0), SVMM_EUNALIGNED, "unaligned" },
	};
	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (c[i].got != c[i].want)
			fail_msg("%s: got %s, want %s", c[i].what, svmm_strerror(c[i].got),
				 svmm_strerror(c[i].want));
	pt_snap_take(&after, &pt, 0, 0);
	assert_true(pt_snap_equal(&before, &after));
	assert_int_equal(hostsim_flush_count(), flushes);
	pt_snap_free(&before);
	pt_snap_free(&after);
	/* With PT_MISSING_OK the hole is skipped. */
	assert_int_equal(pt_protect(&pt, 0x10000, 0x10000, PT_W, 0, PT_MISSING_OK), 0);
	assert_int_equal(perms_at(&pt, 0x10000), SVMM_PTE_R | SVMM_PTE_W | SVMM_PTE_D);
	assert_int_equal(perms_at(&pt, 0x20000), SVMM_PTE_X);   /* not in the range */
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	pt_destroy(&pt, pt_leaf_ignore, NULL);
	assert_int_equal(hostsim_tables_live(), 0);
}

/* 13.4: a protect that changes nothing over part of a huge page keeps it whole. */
static void test_protect_noop_keeps_huge(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		struct pt pt;
		assert_int_equal(pt_init(&pt, modes[m], 1), 0);
		assert_int_equal(pt_map(&pt, 0x40000000, 0x40000000, SVMM_GiB, RW | PT_U), 0);
		assert_int_equal(pt_map(&pt, 0x200000, 0x80200000, 2 * SVMM_MiB, PT_R), 0);
		assert_int_equal(pt_map(&pt, 0x10000, 0x80010000, 0x10000, RW | PT_NAPOT), 0);
		struct pt_snap before, after;
		pt_snap_take(&before, &pt, 0, 0);
		uint64_t flushes = hostsim_flush_count();
		/* Every allocation would fail: none may happen. */
		hostsim_reset_alloc_points();
		hostsim_fail_after(1);
		assert_int_equal(pt_protect(&pt, 0x40005000, 0x3000, RW | PT_U, PT_PERMS, 0), 0);
		assert_int_equal(pt_protect(&pt, 0x40005000, 0x3000, PT_U, 0, 0), 0);
		assert_int_equal(pt_protect(&pt, 0x40005000, 0x3000, 0, PT_X | PT_G, 0), 0);
		assert_int_equal(pt_protect(&pt, 0x201000, 0x1000, PT_R, PT_PERMS, 0), 0);
		assert_int_equal(pt_protect(&pt, 0x14000, 0x1000, RW, 0, 0), 0);
		assert_int_equal(pt_protect(&pt, 0x201000, 0x1000, 0, 0, 0), 0);
		hostsim_fail_after(0);
		assert_int_equal(hostsim_alloc_points(), 0);
		pt_snap_take(&after, &pt, 0, 0);
		assert_true(pt_snap_equal(&before, &after));
		assert_int_equal(hostsim_flush_count(), flushes);
		struct pt_leaf lf;
		assert_int_equal(pt_leaf_at(&pt, 0x40006000, &lf), 0);
		assert_int_equal(lf.size, SVMM_GiB);
		assert_int_equal(pt_leaf_at(&pt, 0x14000, &lf), 0);
		assert_int_equal(lf.size, 0x10000);       /* the Svnapot run stays one */
		assert_int_equal(pt_check(&pt, NULL, NULL), 0);
		pt_snap_free(&before);
		pt_snap_free(&after);
		/* A real change there does split (and may fail cleanly without memory). */
		hostsim_fail_after(1);
		assert_int_equal(pt_protect(&pt, 0x40005000, 0x3000, 0, PT_W, 0), SVMM_ENOMEM);
		hostsim_fail_after(0);
		assert_int_equal(pt_protect(&pt, 0x40005000, 0x3000, 0, PT_W, 0), 0);
		assert_int_equal(pt_leaf_at(&pt, 0x40006000, &lf), 0);
		assert_int_equal(lf.size, PG);
		assert_int_equal(pt_check(&pt, NULL, NULL), 0);
		pt_destroy(&pt, pt_leaf_ignore, NULL);
		assert_int_equal(hostsim_tables_live(), 0);
	}
}

/* ---- pt_destroy ---- */

/* pt_destroy reports before it frees the tables, but after the flush. */
static void record_destroy_cb(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size,
			      uint64_t pte)
{
	struct seen *s = ctx;
	assert_true(hostsim_flush_count() > s->flushes_at_start);
	assert_true(s->n < 4096);
	s->l[s->n].va = va;
	s->l[s->n].pa = pa;
	s->l[s->n].size = size;
	s->l[s->n].pte = pte;
	s->n++;
}

static void test_destroy_refuses_or_reports(void **state)
{
	(void)state;
	struct pt pt;
	assert_int_equal(pt_init(&pt, SVMM_SV48, 5), 0);
	assert_int_equal(pt_destroy(&pt, NULL, NULL), 0);       /* empty: fine */
	assert_int_equal(hostsim_tables_live(), 0);

	assert_int_equal(pt_init(&pt, SVMM_SV48, 5), 0);
	assert_int_equal(pt_map(&pt, 0x40000000, 0x40000000, 4 * SVMM_MiB, RW), 0);
	assert_int_equal(pt_map(&pt, 0x7000, 0x90007000, 3 * PG, PT_R), 0);
	assert_int_equal(pt_map(&pt, 0x8000000000ull, 0x80000000, SVMM_GiB, PT_R), 0);
	uint64_t live = hostsim_tables_live(), flushes = hostsim_flush_count();
	assert_int_equal(pt_destroy(&pt, NULL, NULL), SVMM_ELIVE);
	assert_int_equal(hostsim_tables_live(), live);
	assert_int_equal(hostsim_flush_count(), flushes);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	/* With a callback, every live leaf is handed over, in address order. */
	seen_start(&seen, &pt, NULL);
	assert_int_equal(pt_destroy(&pt, record_destroy_cb, &seen), 0);
	assert_int_equal(hostsim_tables_live(), 0);
	assert_int_equal(seen.n, 3 + 2 + 1);
	assert_int_equal(seen.l[0].va, 0x7000);
	assert_int_equal(seen.l[0].pa, 0x90007000);
	assert_int_equal(seen.l[3].va, 0x40000000);
	assert_int_equal(seen.l[3].size, 2 * SVMM_MiB);
	assert_int_equal(seen.l[5].va, 0x8000000000ull);
	assert_int_equal(seen.l[5].size, SVMM_GiB);

	/* Unmapped first, it goes with no callback; a kernel pt too. */
	assert_int_equal(pt_init(&pt, SVMM_SV39, 5), 0);
	assert_int_equal(pt_map(&pt, 0x7000, 0x90007000, 3 * PG, PT_R), 0);
	assert_int_equal(pt_unmap(&pt, 0x7000, 3 * PG, 0), 0);
	assert_int_equal(pt_destroy(&pt, NULL, NULL), 0);
	struct pt k;
	assert_int_equal(pt_init_kernel(&k, SVMM_SV39), 0);
	assert_int_equal(pt_map(&k, svmm_kernel_base(SVMM_SV39), 0x80000000, PG, PT_R | PT_G), 0);
	assert_int_equal(pt_destroy(&k, NULL, NULL), SVMM_ELIVE);
	assert_int_equal(pt_unmap(&k, svmm_kernel_base(SVMM_SV39), PG, 0), 0);
	assert_int_equal(pt_destroy(&k, NULL, NULL), 0);
	assert_int_equal(hostsim_tables_live(), 0);
}

/* ---- 13.2: PT_BOOT only before any clone; clone's own bad input ---- */

static void test_boot_only_before_clone(void **state)
{
	(void)state;
	struct pt k, u, u48;
	assert_int_equal(pt_init_kernel(&k, SVMM_SV39), 0);
	svmm_va_t kb = svmm_kernel_base(SVMM_SV39);
	/* Before any clone: a gigapage of the direct map as a root entry. */
	assert_int_equal(pt_map(&k, kb, 0, SVMM_GiB, RW | PT_G | PT_BOOT), 0);
	assert_int_equal(pt_check(&k, NULL, NULL), 0);
	assert_int_equal(pt_init(&u, SVMM_SV39, 1), 0);
	assert_int_equal(pt_init(&u48, SVMM_SV48, 1), 0);

	/* Clone's bad input: an error, and dst untouched. */
	struct pt_snap before, after;
	pt_snap_take(&before, &u, 0, 0);
	assert_int_equal(pt_clone_kernel(&u, &u48), SVMM_EINVAL);   /* not a kernel pt */
	assert_int_equal(pt_clone_kernel(&k, &k), SVMM_EINVAL);     /* into a kernel pt */
	assert_int_equal(pt_clone_kernel(&u48, &k), SVMM_EMODE);
	pt_snap_take(&after, &u, 0, 0);
	assert_true(pt_snap_equal(&before, &after));
	pt_snap_free(&before);
	pt_snap_free(&after);
	assert_false(k.cloned);

	assert_int_equal(pt_clone_kernel(&u, &k), 0);
	assert_true(k.cloned);
	/* From now on PT_BOOT is refused, with nothing changed; plain maps still work. */
	pt_snap_take(&before, &k, 0, 0);
	uint64_t tables = k.tables, live = hostsim_tables_live();
	assert_int_equal(pt_map(&k, kb + SVMM_GiB, SVMM_GiB, SVMM_GiB, RW | PT_G | PT_BOOT),
			 SVMM_EPERM);
	assert_int_equal(pt_map(&k, kb + SVMM_GiB, SVMM_GiB, SVMM_GiB,
				RW | PT_G | PT_BOOT | PT_REPLACE), SVMM_EPERM);
	pt_snap_take(&after, &k, 0, 0);
	assert_true(pt_snap_equal(&before, &after));
	assert_int_equal(k.tables, tables);
	assert_int_equal(hostsim_tables_live(), live);
	pt_snap_free(&before);
	pt_snap_free(&after);
	assert_int_equal(pt_map(&k, kb + SVMM_GiB, SVMM_GiB, 2 * SVMM_MiB, RW | PT_G), 0);
	assert_int_equal(pt_check(&k, NULL, NULL), 0);
	/* The clone still translates the kernel half through the slot tables. */
	svmm_pa_t pa;
	assert_int_equal(pt_translate(&u, kb + SVMM_GiB + 0x1234, PT_R, 0, &pa, NULL), 0);
	assert_int_equal(pa, SVMM_GiB + 0x1234);
	assert_int_equal(pt_destroy(&u, NULL, NULL), 0);
	assert_int_equal(pt_destroy(&u48, NULL, NULL), 0);
	pt_destroy(&k, pt_leaf_ignore, NULL);
	assert_int_equal(hostsim_tables_live(), 0);
}

/*
 * pt_init_user is pt_init + pt_clone_kernel in one pass: the host port hands it a
 * poisoned frame (port_table_alloc_raw), so a word it did not write would show. Its
 * bad input allocates nothing; out of memory leaves the kernel pt unmarked.
 */
static void test_init_user(void **state)
{
	(void)state;
	struct pt k, u, v, ref;
	assert_int_equal(pt_init_kernel(&k, SVMM_SV48), 0);
	uint64_t live = hostsim_tables_live();
	assert_int_equal(pt_init_user(&u, NULL, 1), SVMM_EINVAL);
	assert_int_equal(pt_init(&ref, SVMM_SV48, 1), 0);
	assert_int_equal(pt_init_user(&u, &ref, 1), SVMM_EINVAL);   /* not a kernel pt */
	hostsim_fail_after(1);
	assert_int_equal(pt_init_user(&u, &k, 1), SVMM_ENOMEM);
	hostsim_fail_after(0);
	assert_int_equal(hostsim_tables_live(), live + 1);          /* ref's root only */
	assert_false(k.cloned);

	assert_int_equal(pt_init_user(&u, &k, 7), 0);
	assert_true(k.cloned);
	assert_int_equal(pt_clone_kernel(&ref, &k), 0);
	assert_int_equal(u.mode, SVMM_SV48);
	assert_int_equal(u.asid, 7);
	assert_false(u.kernel);
	assert_int_equal(u.tables, 1);
	/* The same root as pt_init + pt_clone_kernel, word for word. */
	assert_memory_equal(port_pa_to_va(u.root), port_pa_to_va(ref.root), SVMM_PAGE_SIZE);
	/* A second one takes the fast way (the kernel pt is marked already). */
	assert_int_equal(pt_init_user(&v, &k, 8), 0);
	assert_memory_equal(port_pa_to_va(v.root), port_pa_to_va(ref.root), SVMM_PAGE_SIZE);
	assert_int_equal(pt_check(&u, NULL, NULL), 0);
	/* It maps and destroys as any user pt, never freeing the kernel's tables. */
	assert_int_equal(pt_map(&u, 0x10000, 0x200000, PG, RW | PT_U), 0);
	assert_int_equal(pt_check(&u, NULL, NULL), 0);
	assert_int_equal(pt_destroy(&u, pt_leaf_ignore, NULL), 0);
	assert_int_equal(pt_destroy(&v, NULL, NULL), 0);
	assert_int_equal(pt_destroy(&ref, NULL, NULL), 0);
	assert_int_equal(pt_check(&k, NULL, NULL), 0);
	pt_destroy(&k, pt_leaf_ignore, NULL);
	assert_int_equal(hostsim_tables_live(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_leaf_at, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_leaves_mixed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_leaves_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_leaves_subtrees, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_leaves_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_leaves_oom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protect_masks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protect_noop_keeps_huge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_refuses_or_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boot_only_before_clone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_user, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
