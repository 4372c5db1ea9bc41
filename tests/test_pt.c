/*
 * test_pt.c - page tables: page-size choice, splits, freeing of empty tables, the
 * specification's walk, errors (each leaving the tables unchanged), out-of-memory at
 * every allocation point, flushes against a model TLB, Svnapot, Svpbmt and ptdump.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>

#include <svmm/pmem.h>
#include <svmm/pt.h>
#include "hostsim.h"
#include "pt_testutil.h"
#include "tlb_model.h"

#define RAM_BASE PT_TEST_RAM_BASE
#define RW (PT_R | PT_W)
static const enum svmm_mode modes[] = { SVMM_SV39, SVMM_SV48, SVMM_SV57 };

/* The RAM of every test: pt_testutil's. */
#define setup    pt_test_setup
#define teardown pt_test_teardown

/* Translate for a read from S-mode with SUM, so that U pages answer too. */
static svmm_pa_t xlate(const struct pt *pt, svmm_va_t va)
{
	svmm_pa_t pa = 0;
	int err = pt_translate(pt, va, PT_R, PT_SUM, &pa, NULL);
	assert_int_equal(err, 0);
	return pa;
}

static uint64_t leaf_size_at(const struct pt *pt, svmm_va_t va)
{
	uint64_t sz = 0;
	assert_int_equal(pt_translate(pt, va, PT_R, PT_SUM, NULL, &sz), 0);
	return sz;
}

static void count_leaf(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	(void)va;
	(void)pa;
	(void)pte;
	*(uint64_t *)ctx += size;
}

/*
 * pt_destroy scans only the span pt_map was asked for: mappings made in any order,
 * at both ends of the user half and across table boundaries, are all reported and
 * every table is freed (pt_destroy panics on a table left behind).
 */
static void test_destroy_span(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		struct pt pt;
		assert_int_equal(pt_init(&pt, modes[m], 1), 0);
		svmm_va_t top = svmm_user_end(modes[m]) - SVMM_PAGE_SIZE;
		svmm_va_t mid = svmm_slot_size(modes[m]) * 3 - 2 * SVMM_PAGE_SIZE;
		assert_int_equal(pt_map(&pt, mid, 0x80000000, 4 * SVMM_PAGE_SIZE, RW), 0);
		assert_int_equal(pt_map(&pt, top, 0x80000000, SVMM_PAGE_SIZE, RW), 0);
		assert_int_equal(pt_map(&pt, 0x1000, 0x80000000, SVMM_PAGE_SIZE, RW), 0);
		assert_int_equal(pt_map(&pt, 0x40000000, 0x80000000, 2 * SVMM_MiB, RW), 0);
		assert_int_equal(pt_unmap(&pt, mid, SVMM_PAGE_SIZE, 0), 0);
		assert_int_equal(pt_check(&pt, NULL, NULL), 0);
		uint64_t bytes = 0;
		assert_int_equal(pt_destroy(&pt, count_leaf, &bytes), 0);
		assert_int_equal(bytes, 5 * SVMM_PAGE_SIZE + 2 * SVMM_MiB);
		assert_int_equal(hostsim_tables_live(), 0);
		/* Nothing ever mapped: only the root goes. */
		assert_int_equal(pt_init(&pt, modes[m], 1), 0);
		assert_int_equal(pt_destroy(&pt, count_leaf, &bytes), 0);
		assert_int_equal(hostsim_tables_live(), 0);
	}
}

static void test_init_destroy(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		struct pt k, u;
		assert_int_equal(pt_init_kernel(&k, modes[m]), 0);
		assert_int_equal(k.tables, 257);
		assert_int_equal(hostsim_tables_live(), 257);
		assert_int_equal(pt_check(&k, NULL, NULL), 0);
		assert_int_equal(pt_init(&u, modes[m], 7), 0);
		pt_clone_kernel(&u, &k);
		assert_int_equal(u.tables, 1);
		assert_int_equal(pt_check(&u, NULL, NULL), 0);
		/* satp: MODE in 63:60, ASID in 59:44, root PPN below. */
		uint64_t satp = pt_satp(&u);
		assert_int_equal(satp >> 60, modes[m]);
		assert_int_equal((satp >> 44) & 0xffff, 7);
		assert_int_equal(satp & ((1ull << 44) - 1), u.root >> 12);
		/* A user mapping, then destroy: only the user tables and root go. */
		assert_int_equal(pt_map(&u, 0x10000, 0x90000000, 8 * SVMM_PAGE_SIZE, RW | PT_U), 0);
		assert_int_equal(u.tables, svmm_mode_levels(modes[m]));
		pt_destroy(&u, pt_leaf_ignore, NULL);
		assert_int_equal(hostsim_tables_live(), 257);
		pt_destroy(&k, pt_leaf_ignore, NULL);
		assert_int_equal(hostsim_tables_live(), 0);
	}
	struct pt p;
	assert_int_equal(pt_init(&p, (enum svmm_mode)7, 0), SVMM_EMODE);
	assert_int_equal(pt_init_kernel(&p, (enum svmm_mode)11), SVMM_EMODE);
	assert_int_equal(hostsim_tables_live(), 0);
}

/* The largest page whose alignment and extent fit is chosen, in every mode. */
static void test_page_size_choice(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		struct pt pt;
		assert_int_equal(pt_init(&pt, modes[m], 1), 0);
		/* 4K + 2M + 1G + 2M + 4K, with va and pa congruent modulo 1G. */
		svmm_va_t va = 2 * SVMM_GiB - SVMM_PAGE_SIZE - 2 * SVMM_MiB;
		svmm_pa_t pa = 6 * SVMM_GiB - SVMM_PAGE_SIZE - 2 * SVMM_MiB;
		uint64_t size = SVMM_GiB + 4 * SVMM_MiB + 2 * SVMM_PAGE_SIZE;
		assert_int_equal(pt_map(&pt, va, pa, size, RW), 0);
		uint64_t n[6];
		pt_count_leaves(&pt, n);
		assert_int_equal(n[0], 2);
		assert_int_equal(n[1], 2);
		assert_int_equal(n[2], 1);
		assert_int_equal(leaf_size_at(&pt, 2 * SVMM_GiB + 5), SVMM_GiB);
		assert_int_equal(xlate(&pt, 2 * SVMM_GiB + 0x12345), 6 * SVMM_GiB + 0x12345);
		assert_int_equal(xlate(&pt, va), pa);
		assert_int_equal(xlate(&pt, va + size - 1), pa + size - 1);
		assert_int_equal(pt_check(&pt, NULL, NULL), 0);
		/* Only 4 KiB congruence: only 4 KiB pages, whatever the size. */
		assert_int_equal(pt_map(&pt, 8 * SVMM_GiB, 0x80001000, 4 * SVMM_MiB, PT_R), 0);
		assert_int_equal(leaf_size_at(&pt, 8 * SVMM_GiB + 2 * SVMM_MiB), SVMM_PAGE_SIZE);
		/* A cap on the page size is obeyed. */
		assert_int_equal(pt_map(&pt, 16 * SVMM_GiB, 0, SVMM_GiB, PT_R | PT_MAX_PAGE_2M), 0);
		assert_int_equal(leaf_size_at(&pt, 16 * SVMM_GiB), 2 * SVMM_MiB);
		assert_int_equal(pt_check(&pt, NULL, NULL), 0);
		pt_destroy(&pt, pt_leaf_ignore, NULL);
		assert_int_equal(hostsim_tables_live(), 0);
	}
}

/* Root-level leaves: 1G in Sv39, 512G in Sv48, 256T in Sv57 (user half). */
static void test_root_leaves(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		struct pt pt;
		assert_int_equal(pt_init(&pt, modes[m], 1), 0);
		uint64_t s = svmm_slot_size(modes[m]);
		assert_int_equal(pt_map(&pt, 3 * s, s, s, RW | PT_X), 0);
		assert_int_equal(pt.tables, 1);
		assert_int_equal(leaf_size_at(&pt, 3 * s + 4096), s);
		assert_int_equal(xlate(&pt, 4 * s - 8), 2 * s - 8);
		/* Split it down to a 4 KiB hole at the very end. */
		assert_int_equal(pt_unmap(&pt, 4 * s - 4096, 4096, 0), 0);
		assert_int_equal(pt.tables, svmm_mode_levels(modes[m]));
		assert_int_equal(pt_translate(&pt, 4 * s - 4096, PT_R, 0, NULL, NULL), SVMM_EFAULT);
		assert_int_equal(xlate(&pt, 4 * s - 4097), 2 * s - 4097);
		assert_int_equal(xlate(&pt, 3 * s), s);
		assert_int_equal(pt_check(&pt, NULL, NULL), 0);
		assert_int_equal(pt_unmap(&pt, 3 * s, s - 4096, 0), 0);
		assert_int_equal(pt.tables, 1);
		assert_int_equal(hostsim_tables_live(), 1);
		pt_destroy(&pt, pt_leaf_ignore, NULL);
	}
	/* 512 GiB pages below the root of Sv57. */
	struct pt p57;
	assert_int_equal(pt_init(&p57, SVMM_SV57, 1), 0);
	assert_int_equal(pt_map(&p57, 1024 * SVMM_GiB, 512 * SVMM_GiB, 1024 * SVMM_GiB, PT_R), 0);
	assert_int_equal(leaf_size_at(&p57, 1536 * SVMM_GiB + 77), 512 * SVMM_GiB);
	assert_int_equal(xlate(&p57, 1536 * SVMM_GiB + 77), 1024 * SVMM_GiB + 77);
	assert_int_equal(p57.tables, 2);
	pt_destroy(&p57, pt_leaf_ignore, NULL);
}

/* Partial unmap/protect split huge pages; emptied tables are freed. */
static void test_split_and_free(void **state)
{
	(void)state;
	struct pt pt;
	assert_int_equal(pt_init(&pt, SVMM_SV48, 3), 0);
	svmm_va_t va = 0x40000000;   /* 1 GiB */
	assert_int_equal(pt_map(&pt, va, 0xc0000000, SVMM_GiB, RW), 0);
	assert_int_equal(pt.tables, 2);   /* root, and the table holding the gigapage */
	/* Protect one 4 KiB page in the middle: 1G -> 2M table -> 4K table. */
	svmm_va_t mid = va + 300 * SVMM_MiB + 5 * SVMM_PAGE_SIZE;
	assert_int_equal(pt_protect(&pt, mid, SVMM_PAGE_SIZE, PT_R, PT_PERMS & ~PT_R, 0), 0);
	assert_int_equal(pt.tables, 4);
	assert_int_equal(pt_translate(&pt, mid, PT_W, 0, NULL, NULL), SVMM_EFAULT);
	assert_int_equal(pt_translate(&pt, mid + 4096, PT_W, 0, NULL, NULL), 0);
	assert_int_equal(pt_translate(&pt, mid - 4096, PT_W, 0, NULL, NULL), 0);
	assert_int_equal(leaf_size_at(&pt, va), 2 * SVMM_MiB);
	assert_int_equal(leaf_size_at(&pt, mid + 4096), SVMM_PAGE_SIZE);
	assert_int_equal(xlate(&pt, mid), 0xc0000000 + (mid - va));
	uint64_t pte;
	assert_true(pt_lookup(&pt, mid, NULL, &pte));
	assert_true(pte & SVMM_PTE_A);
	assert_false(pte & SVMM_PTE_D);   /* D follows W */
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	/* Unmap everything but that page: the 2M table and the 4K table stay. */
	assert_int_equal(pt_unmap(&pt, va, mid - va, 0), 0);
	assert_int_equal(pt_unmap(&pt, mid + 4096, va + SVMM_GiB - mid - 4096, 0), 0);
	assert_int_equal(pt.tables, 4);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	/* Unmapping the last page frees every table below the root. */
	assert_int_equal(pt_unmap(&pt, mid, 4096, 0), 0);
	assert_int_equal(pt.tables, 1);
	assert_int_equal(hostsim_tables_live(), 1);
	/* Unmapping it again is reported; with PT_MISSING_OK it is not. */
	assert_int_equal(pt_unmap(&pt, mid, 4096, 0), SVMM_ENOENT);
	assert_int_equal(pt_unmap(&pt, mid, 4096, PT_MISSING_OK), 0);
	pt_destroy(&pt, pt_leaf_ignore, NULL);
	assert_int_equal(hostsim_tables_live(), 0);
}

/* Bad input: a specific error, and the tables exactly as they were. */
static void test_errors(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		enum svmm_mode md = modes[m];
		struct pt pt, k;
		assert_int_equal(pt_init(&pt, md, 1), 0);
		assert_int_equal(pt_init_kernel(&k, md), 0);
		svmm_va_t ue = svmm_user_end(md), kb = svmm_kernel_base(md);
		assert_int_equal(pt_map(&pt, 0x200000, 0x80200000, 0x400000, RW), 0);
		assert_int_equal(pt_map(&pt, 0x10000, 0x90000000, 0x3000, RW), 0);
		struct pt_snap before, after;
		pt_snap_take(&before, &pt, 0, 0);
		uint64_t flushes = hostsim_flush_count();
		struct { int got, want; const char *what; } c[] = {
			{ pt_map(&pt, 0x1000, 0x1000, 0, RW), SVMM_EZEROSIZE, "zero size" },
			{ pt_map(&pt, 0x1001, 0x1000, 4096, RW), SVMM_EUNALIGNED, "va" },
			{ pt_map(&pt, 0x1000, 0x1008, 4096, RW), SVMM_EUNALIGNED, "pa" },
			{ pt_map(&pt, 0x1000, 0x1000, 4095, RW), SVMM_EUNALIGNED, "size" },
			{ pt_map(&pt, ~0ull - 0xfff, 0, 0x2000, RW), SVMM_EOVERFLOW, "wrap" },
			{ pt_map(&pt, ue, 0, 4096, RW), SVMM_ENONCANON, "hole start" },
			{ pt_map(&pt, ue - 4096, 0, 8192, RW), SVMM_ENONCANON, "into hole" },
			{ pt_map(&k, kb - 4096, 0, 8192, RW), SVMM_ENONCANON, "from hole" },
			{ pt_map(&pt, ue - 4096, 0, kb - ue + 8192, RW), SVMM_EHALVES, "halves" },
			{ pt_map(&pt, 0x1000, PT_PA_LIMIT, 4096, RW), SVMM_ERANGE, "pa limit" },
			{ pt_map(&pt, 0x1000, PT_PA_LIMIT - 4096, 8192, RW), SVMM_ERANGE, "pa end" },
			{ pt_map(&pt, 0x1000, 0x1000, 4096, PT_W), SVMM_EPERM, "W without R" },
			{ pt_map(&pt, 0x1000, 0x1000, 4096, PT_W | PT_X), SVMM_EPERM, "WX" },
			{ pt_map(&pt, 0x1000, 0x1000, 4096, PT_U), SVMM_EPERM, "no RWX" },
			{ pt_map(&pt, 0x1000, 0x1000, 4096, 0), SVMM_EPERM, "none" },
			{ pt_map(&pt, 0x1000, 0x1000, 4096, PT_R | PT_G), SVMM_EPERM, "G user" },
			{ pt_map(&pt, kb, 0x1000, 4096, PT_R), SVMM_EPERM, "kernel via user" },
			{ pt_map(&pt, 0x1000, 0x1000, 4096, PT_R | (1u << 30)), SVMM_EINVAL, "flag" },
			{ pt_map(&pt, 0x1000, 0x1000, 4096, PT_R | PT_IO | PT_NC), SVMM_EINVAL, "io+nc" },
			{ pt_map(&pt, 0x1000, 0x1000, 4096, PT_R | PT_BOOT), SVMM_EINVAL, "boot user" },
			{ pt_map(&pt, 0x1000, 0x1000, 4096, PT_R | (5u << PT_MAX_PAGE_SHIFT)),
			  SVMM_EINVAL, "cap" },
			{ pt_map(&pt, 0x12000, 0x1000, 4096, RW), SVMM_EEXIST, "exists 4K" },
			{ pt_map(&pt, 0x0, 0x0, 0x400000, RW), SVMM_EEXIST, "exists 2M" },
			{ pt_map(&pt, 0x3ff000, 0x1000, 8192, RW), SVMM_EEXIST, "exists edge" },
			{ pt_unmap(&pt, 0x1000, 0, 0), SVMM_EZEROSIZE, "unmap zero" },
			{ pt_unmap(&pt, 0x1800, 4096, 0), SVMM_EUNALIGNED, "unmap va" },
			{ pt_unmap(&pt, 0x10000, 0x4000, 0), SVMM_ENOENT, "unmap hole" },
			{ pt_unmap(&pt, 0x100000, 0x200000, 0), SVMM_ENOENT, "unmap before" },
			{ pt_unmap(&pt, 0x10000, 0x3000, 1u << 20), SVMM_EINVAL, "unmap flag" },
			{ pt_unmap(&pt, ue - 4096, kb - ue + 8192, 0), SVMM_EHALVES, "unmap halves" },
			{ pt_unmap(&pt, kb, 4096, PT_MISSING_OK), SVMM_EPERM, "unmap kernel" },
			{ pt_protect(&pt, 0x10000, 0x3000, PT_W, PT_PERMS & ~PT_W, 0), SVMM_EPERM, "protect W" },
			{ pt_protect(&pt, 0x10000, 0x3000, PT_R | PT_G, PT_PERMS & ~(PT_R | PT_G), 0), SVMM_EPERM, "protect G" },
			{ pt_protect(&pt, 0x10000, 0x3000, PT_R, PT_PERMS & ~PT_R, PT_REPLACE), SVMM_EINVAL, "prot flag" },
			{ pt_protect(&pt, 0x10000, 0x4000, PT_R, PT_PERMS & ~PT_R, 0), SVMM_ENOENT, "protect hole" },
			{ pt_protect(&pt, ue, 4096, PT_R, PT_PERMS & ~PT_R, 0), SVMM_ENONCANON, "protect hole addr" },
			{ pt_walk(&pt, 0x1000, 0, NULL, NULL), SVMM_EZEROSIZE, "walk zero" },
		};
		for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			if (c[i].got != c[i].want)
				fail_msg("%s: %s: got %s, want %s", svmm_mode_name(md), c[i].what,
					 svmm_strerror(c[i].got), svmm_strerror(c[i].want));
		}
		pt_snap_take(&after, &pt, 0, 0);
		assert_true(pt_snap_equal(&before, &after));
		assert_int_equal(hostsim_flush_count(), flushes);
		assert_int_equal(pt_check(&pt, NULL, NULL), 0);
		pt_snap_free(&before);
		pt_snap_free(&after);
		/* With PT_REPLACE the same map succeeds and takes over. */
		assert_int_equal(pt_map(&pt, 0x0, 0x40000000, 0x400000, PT_R | PT_REPLACE), 0);
		assert_int_equal(xlate(&pt, 0x3ff000), 0x403ff000);
		assert_int_equal(pt_check(&pt, NULL, NULL), 0);
		pt_destroy(&pt, pt_leaf_ignore, NULL);
		pt_destroy(&k, pt_leaf_ignore, NULL);
		assert_int_equal(hostsim_tables_live(), 0);
	}
}

/* Write one raw PTE (for the walk tests): the entry for va at level in pt. */
static uint64_t *raw_pte(const struct pt *pt, svmm_va_t va, unsigned level)
{
	uint64_t *t = port_pa_to_va(pt->root);
	for (unsigned l = pt->levels - 1; l > level; l--) {
		uint64_t e = t[(va >> (12 + 9 * l)) & 511];
		assert_true(svmm_pte_is_table(e));
		t = port_pa_to_va(svmm_pte_pa(e));
	}
	return &t[(va >> (12 + 9 * level)) & 511];
}

/* The privileged specification's walk, including the cases that must fault. */
static void test_translate_spec(void **state)
{
	(void)state;
	struct pt pt;
	assert_int_equal(pt_init(&pt, SVMM_SV39, 1), 0);
	svmm_va_t v = 0x40000000;
	assert_int_equal(pt_map(&pt, v, 0x80000000, 0x1000, PT_R | PT_U), 0);
	assert_int_equal(pt_map(&pt, v + 0x1000, 0x80001000, 0x1000, PT_X), 0);
	assert_int_equal(pt_map(&pt, v + 0x2000, 0x80002000, 0x1000, RW), 0);
	assert_int_equal(pt_map(&pt, v + 0x3000, 0x80003000, 0x1000, PT_X | PT_U), 0);
	svmm_pa_t pa;
	uint64_t ls;
	/* U page: U-mode yes; S-mode only with SUM, and never execute. */
	assert_int_equal(pt_translate(&pt, v + 8, PT_R, PT_PRIV_U, &pa, &ls), 0);
	assert_int_equal(pa, 0x80000008);
	assert_int_equal(ls, 4096);
	assert_int_equal(pt_translate(&pt, v, PT_R, 0, NULL, NULL), SVMM_EFAULT);
	assert_int_equal(pt_translate(&pt, v, PT_R, PT_SUM, NULL, NULL), 0);
	assert_int_equal(pt_translate(&pt, v, PT_W, PT_PRIV_U, NULL, NULL), SVMM_EFAULT);
	assert_int_equal(pt_translate(&pt, v + 0x3000, PT_X, PT_SUM, NULL, NULL), SVMM_EFAULT);
	assert_int_equal(pt_translate(&pt, v + 0x3000, PT_X, PT_PRIV_U, NULL, NULL), 0);
	/* S page from U-mode faults. */
	assert_int_equal(pt_translate(&pt, v + 0x2000, PT_R, PT_PRIV_U, NULL, NULL), SVMM_EFAULT);
	assert_int_equal(pt_translate(&pt, v + 0x2000, PT_R | PT_W, 0, NULL, NULL), 0);
	/* Execute-only: reads fault unless MXR. */
	assert_int_equal(pt_translate(&pt, v + 0x1000, PT_R, 0, NULL, NULL), SVMM_EFAULT);
	assert_int_equal(pt_translate(&pt, v + 0x1000, PT_R, PT_MXR, NULL, NULL), 0);
	assert_int_equal(pt_translate(&pt, v + 0x1000, PT_X, 0, NULL, NULL), 0);
	assert_int_equal(pt_translate(&pt, v + 0x1000, 0, 0, NULL, NULL), SVMM_EINVAL);
	/* Non-canonical and unmapped addresses fault. */
	assert_int_equal(pt_translate(&pt, 1ull << 40, PT_R, 0, NULL, NULL), SVMM_EFAULT);
	assert_int_equal(pt_translate(&pt, v + 0x4000, PT_R, 0, NULL, NULL), SVMM_EFAULT);

	uint64_t *e = raw_pte(&pt, v + 0x2000, 0);
	const uint64_t good = *e;
	struct { uint64_t pte; int want; const char *what; } leaf[] = {
		{ good, 0, "good" },
		{ good & ~SVMM_PTE_R, SVMM_EFAULT, "W without R" },
		{ good | (1ull << 54), SVMM_EFAULT, "reserved bit 54" },
		{ good | (1ull << 60), SVMM_EFAULT, "reserved bit 60" },
		{ good | SVMM_PTE_PBMT_MASK, SVMM_EFAULT, "PBMT 3" },
		{ good | SVMM_PTE_PBMT_IO, 0, "PBMT IO" },
		{ good & ~SVMM_PTE_A, SVMM_EFAULT, "A clear" },
		{ good & ~SVMM_PTE_D, SVMM_EFAULT, "D clear on write" },
		{ good | SVMM_PTE_N, SVMM_EFAULT, "N with ppn[3:0] != 1000" },
		{ (good & ~SVMM_PTE_V), SVMM_EFAULT, "invalid" },
		{ good & ~(SVMM_PTE_R | SVMM_PTE_W | SVMM_PTE_X), SVMM_EFAULT, "pointer at level 0" },
	};
	for (size_t i = 0; i < sizeof(leaf) / sizeof(leaf[0]); i++) {
		*e = leaf[i].pte;
		int got = pt_translate(&pt, v + 0x2000, PT_R | PT_W, 0, NULL, NULL);
		if (got != leaf[i].want)
			fail_msg("leaf %s: got %d", leaf[i].what, got);
	}
	*e = good & ~SVMM_PTE_D;   /* D clear: reads still pass */
	assert_int_equal(pt_translate(&pt, v + 0x2000, PT_R, 0, NULL, NULL), 0);
	*e = good;

	/* Non-leaf entries with A, D, U, N or PBMT are reserved encodings. */
	uint64_t *ne = raw_pte(&pt, v, 1);
	const uint64_t ngood = *ne;
	const uint64_t bad[] = { SVMM_PTE_A, SVMM_PTE_D, SVMM_PTE_U, SVMM_PTE_N, SVMM_PTE_PBMT_NC, 1ull << 57 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		*ne = ngood | bad[i];
		assert_int_equal(pt_translate(&pt, v + 0x2000, PT_R, 0, NULL, NULL), SVMM_EFAULT);
	}
	*ne = ngood;
	assert_int_equal(pt_translate(&pt, v + 0x2000, PT_R, 0, NULL, NULL), 0);

	/* A misaligned superpage faults; an aligned one translates. */
	uint64_t *r = raw_pte(&pt, 5 * SVMM_GiB, 2);
	*r = ((0x80000000ull + 0x1000) >> 12 << 10) | SVMM_PTE_V | SVMM_PTE_R | SVMM_PTE_A;
	assert_int_equal(pt_translate(&pt, 5 * SVMM_GiB, PT_R, 0, NULL, NULL), SVMM_EFAULT);
	*r = (0x80000000ull >> 12 << 10) | SVMM_PTE_V | SVMM_PTE_R | SVMM_PTE_A;
	assert_int_equal(pt_translate(&pt, 5 * SVMM_GiB + 0x1234, PT_R, 0, &pa, &ls), 0);
	assert_int_equal(pa, 0x80001234);
	assert_int_equal(ls, SVMM_GiB);
	/* Svnapot: N on a superpage is reserved. */
	*r |= SVMM_PTE_N;
	assert_int_equal(pt_translate(&pt, 5 * SVMM_GiB, PT_R, 0, NULL, NULL), SVMM_EFAULT);
	*r = 0;
	pt_destroy(&pt, pt_leaf_ignore, NULL);
}

static void test_napot_pbmt(void **state)
{
	(void)state;
	struct pt pt;
	assert_int_equal(pt_init(&pt, SVMM_SV48, 1), 0);
	svmm_va_t v = 0x10000000;
	/* 4K + 3 x 64K + 4K: the middle becomes Svnapot runs. */
	assert_int_equal(pt_map(&pt, v + 0xf000, 0x8000f000, 0x32000, RW | PT_NAPOT), 0);
	uint64_t n[6];
	pt_count_leaves(&pt, n);
	assert_int_equal(n[5], 3);
	assert_int_equal(n[0], 2);
	uint64_t ls;
	svmm_pa_t pa;
	assert_int_equal(pt_translate(&pt, v + 0x23456, PT_W, 0, &pa, &ls), 0);
	assert_int_equal(ls, PT_NAPOT_SIZE);
	assert_int_equal(pa, 0x80023456);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	/* Unmap one page inside a run: the run is demoted, the rest stays. */
	assert_int_equal(pt_unmap(&pt, v + 0x24000, 0x1000, 0), 0);
	assert_int_equal(pt_translate(&pt, v + 0x24000, PT_R, 0, NULL, NULL), SVMM_EFAULT);
	assert_int_equal(pt_translate(&pt, v + 0x25000, PT_R, 0, &pa, &ls), 0);
	assert_int_equal(pa, 0x80025000);
	assert_int_equal(ls, SVMM_PAGE_SIZE);
	assert_int_equal(pt_translate(&pt, v + 0x35000, PT_R, 0, NULL, &ls), 0);
	assert_int_equal(ls, PT_NAPOT_SIZE);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	/* Protect a page inside another run: demoted too. */
	assert_int_equal(pt_protect(&pt, v + 0x31000, 0x1000, PT_R, PT_PERMS & ~PT_R, 0), 0);
	assert_int_equal(pt_translate(&pt, v + 0x31000, PT_W, 0, NULL, NULL), SVMM_EFAULT);
	assert_int_equal(pt_translate(&pt, v + 0x32000, PT_W, 0, NULL, &ls), 0);
	assert_int_equal(ls, SVMM_PAGE_SIZE);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	/* Replace over part of the last run. */
	assert_int_equal(pt_map(&pt, v + 0x3e000, 0x90000000, 0x2000, PT_R | PT_REPLACE), 0);
	assert_int_equal(xlate(&pt, v + 0x3d000), 0x8003d000);
	assert_int_equal(xlate(&pt, v + 0x3e000), 0x90000000);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);

	/* Svpbmt: IO and NC land in bits 62:61 and survive protect. */
	assert_int_equal(pt_map(&pt, 0x20000000, 0x10000000, 0x2000, RW | PT_IO), 0);
	assert_int_equal(pt_map(&pt, 0x20002000, 0x10002000, 0x1000, RW | PT_NC), 0);
	uint64_t pte;
	assert_true(pt_lookup(&pt, 0x20000000, NULL, &pte));
	assert_int_equal(pte & SVMM_PTE_PBMT_MASK, SVMM_PTE_PBMT_IO);
	assert_int_equal(pt_protect(&pt, 0x20000000, 0x3000, PT_R, PT_PERMS & ~PT_R, 0), 0);
	assert_true(pt_lookup(&pt, 0x20001000, NULL, &pte));
	assert_int_equal(pte & SVMM_PTE_PBMT_MASK, SVMM_PTE_PBMT_IO);
	assert_true(pt_lookup(&pt, 0x20002000, NULL, &pte));
	assert_int_equal(pte & SVMM_PTE_PBMT_MASK, SVMM_PTE_PBMT_NC);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	pt_destroy(&pt, pt_leaf_ignore, NULL);
}

/*
 * The fast path's leaf loop does eight valid entries a step and works out from their
 * OR and AND whether anything changed: for every start and length in a leaf table with
 * holes (groups of eight with and without a hole), the right leaves change, the rest
 * stay as they were, a protect that changes something flushes, and one that changes
 * nothing (all four at a time or not) does not.
 */
static void test_protect_groups(void **state)
{
	(void)state;
	struct pt pt;
	assert_int_equal(pt_init(&pt, SVMM_SV39, 1), 0);
	const svmm_va_t v = 0x10000000;
	const unsigned npages = 40;
	/* Holes at 9 and 22..23 and 31: whole groups of four and broken ones. */
	for (unsigned i = 0; i < npages; i++)
		if (i != 9 && i != 22 && i != 23 && i != 31)
			assert_int_equal(pt_map(&pt, v + i * 0x1000, 0x80000000 + i * 0x1000, 0x1000,
						RW | PT_U), 0);
	for (unsigned first = 0; first < 12; first++) {
		for (unsigned len = 1; first + len <= npages; len++) {
			svmm_va_t a = v + first * 0x1000;
			uint64_t f = hostsim_flush_count();
			assert_int_equal(pt_protect(&pt, a, len * 0x1000, PT_R | PT_U, PT_PERMS,
						    PT_MISSING_OK), 0);
			bool any = false;
			for (unsigned i = 0; i < npages; i++) {
				uint64_t pte;
				bool mapped = pt_lookup(&pt, v + i * 0x1000, NULL, &pte);
				assert_int_equal(mapped, i != 9 && i != 22 && i != 23 && i != 31);
				if (!mapped)
					continue;
				bool in = i >= first && i < first + len;
				any |= in;
				assert_int_equal((pte & (SVMM_PTE_W | SVMM_PTE_D)) == 0, in);
				assert_true(pte & SVMM_PTE_R);
			}
			assert_int_equal(hostsim_flush_count() != f, any);
			/* Again: nothing changes, nothing is flushed. */
			f = hostsim_flush_count();
			assert_int_equal(pt_protect(&pt, a, len * 0x1000, PT_R | PT_U, PT_PERMS,
						    PT_MISSING_OK), 0);
			assert_int_equal(hostsim_flush_count(), f);
			/* W back: a set bit gained (the AND lacks it) flushes as well. */
			assert_int_equal(pt_protect(&pt, a, len * 0x1000, RW | PT_U, PT_PERMS,
						    PT_MISSING_OK), 0);
			assert_int_equal(hostsim_flush_count() != f, any);
			f = hostsim_flush_count();
			assert_int_equal(pt_protect(&pt, a, len * 0x1000, RW | PT_U, PT_PERMS,
						    PT_MISSING_OK), 0);
			assert_int_equal(hostsim_flush_count(), f);
			for (unsigned i = 0; i < npages; i++) {
				uint64_t pte;
				if (pt_lookup(&pt, v + i * 0x1000, NULL, &pte))
					assert_true((pte & (SVMM_PTE_W | SVMM_PTE_D)) ==
						    (SVMM_PTE_W | SVMM_PTE_D));
			}
			assert_int_equal(pt_check(&pt, NULL, NULL), 0);
		}
	}
	pt_destroy(&pt, pt_leaf_ignore, NULL);
}

/* A pt in mode md with a 4K page at v and a 64K Svnapot run at v + 0x10000, RW. */
static void init_page_and_run(struct pt *pt, enum svmm_mode md, svmm_va_t v)
{
	assert_int_equal(pt_init(pt, md, 1), 0);
	assert_int_equal(pt_map(pt, v, 0x80000000, 0x1000, RW), 0);
	assert_int_equal(pt_map(pt, v + 0x10000, 0x80010000, 0x10000, RW | PT_NAPOT), 0);
}

/* The 64K run at run lost W in its first half only, so it was demoted to 4K pages. */
static void assert_run_cut_at_half(const struct pt *pt, svmm_va_t run)
{
	assert_int_equal(pt_translate(pt, run + 0x7000, PT_W, 0, NULL, NULL), SVMM_EFAULT);
	assert_int_equal(pt_translate(pt, run + 0x8000, PT_W, 0, NULL, NULL), 0);
	assert_int_equal(leaf_size_at(pt, run + 0x8000), SVMM_PAGE_SIZE);
}

/*
 * pt_protect's fast path (holes allowed, R W X all replaced, the range inside one leaf
 * table): W and D decided for every leaf alike, a Svnapot run met in the range sends
 * the call down the general path (which demotes a run cut at an end), and without
 * PT_MISSING_OK the general path reports a hole with nothing changed.
 */
static void test_protect_fast(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		struct pt pt;
		svmm_va_t v = 0x10000000;
		/* 4K, a hole, a 64K run, a hole, 4K; all in one leaf table. */
		init_page_and_run(&pt, modes[m], v);
		assert_int_equal(pt_map(&pt, v + 0x30000, 0x80030000, 0x1000, RW), 0);
		uint64_t pte;
		assert_true(pt_lookup(&pt, v, NULL, &pte));
		assert_true(pte & SVMM_PTE_D);
		assert_int_equal(pt_protect(&pt, v + 0x30000, 0x1000, PT_R, PT_PERMS & ~PT_R, 0), 0);
		assert_true(pt_lookup(&pt, v + 0x30000, NULL, &pte));
		assert_false(pte & (SVMM_PTE_W | SVMM_PTE_D));
		/* A hole without PT_MISSING_OK: refused, nothing changed. */
		assert_int_equal(pt_protect(&pt, v, 0x2000, PT_R, PT_PERMS & ~PT_R, 0), SVMM_ENOENT);
		assert_true(pt_lookup(&pt, v, NULL, &pte));
		assert_true(pte & SVMM_PTE_W);
		/* Over the whole run: it stays whole and loses W and D. */
		assert_int_equal(pt_protect(&pt, v, 0x31000, PT_R, PT_PERMS & ~PT_R, PT_MISSING_OK), 0);
		for (svmm_va_t a = v; a < v + 0x31000; a += 0x1000) {
			if (!pt_lookup(&pt, a, NULL, &pte))
				continue;
			assert_false(pte & (SVMM_PTE_W | SVMM_PTE_D));
		}
		assert_int_equal(leaf_size_at(&pt, v + 0x15000), PT_NAPOT_SIZE);
		assert_int_equal(pt_check(&pt, NULL, NULL), 0);
		/* W back for everything (D with it), then off for a range cutting the run. */
		assert_int_equal(pt_protect(&pt, v, 0x31000, RW, PT_PERMS & ~RW, PT_MISSING_OK), 0);
		assert_true(pt_lookup(&pt, v + 0x1f000, NULL, &pte));
		assert_true((pte & (SVMM_PTE_W | SVMM_PTE_D)) == (SVMM_PTE_W | SVMM_PTE_D));
		assert_int_equal(pt_protect(&pt, v, 0x18000, PT_R, PT_PERMS & ~PT_R, PT_MISSING_OK), 0);
		assert_run_cut_at_half(&pt, v + 0x10000);
		assert_int_equal(pt_translate(&pt, v, PT_W, 0, NULL, NULL), SVMM_EFAULT);
		assert_int_equal(pt_check(&pt, NULL, NULL), 0);
		pt_destroy(&pt, pt_leaf_ignore, NULL);
	}
}

/*
 * The fast path itself (PT_MISSING_OK, R W X all replaced), which test_protect_fast's
 * calls do not all take: a range ending inside a Svnapot run must stop the groups of
 * eight and go down the general path, which demotes the run; holes anywhere in a
 * group stay zero (no attribute bits written into an empty entry).
 */
static void test_protect_fast_stops(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		struct pt pt;
		svmm_va_t v = 0x10000000;
		init_page_and_run(&pt, modes[m], v);
		assert_int_equal(pt_protect(&pt, v + 0x10000, 0x8000, PT_R, PT_PERMS, PT_MISSING_OK), 0);
		assert_int_equal(pt_check(&pt, NULL, NULL), 0);
		assert_run_cut_at_half(&pt, v + 0x10000);
		assert_int_equal(pt_translate(&pt, v, PT_W, 0, NULL, NULL), 0);
		pt_destroy(&pt, pt_leaf_ignore, NULL);

		/* 16 pages with one hole, at every place; the range starts at every offset. */
		for (unsigned hole = 0; hole < 16; hole++) {
			for (unsigned from = 0; from <= hole; from++) {
				assert_int_equal(pt_init(&pt, modes[m], 1), 0);
				for (unsigned i = 0; i < 16; i++)
					if (i != hole)
						assert_int_equal(pt_map(&pt, v + i * 0x1000,
									0x80000000 + i * 0x1000, 0x1000, RW), 0);
				assert_int_equal(pt_protect(&pt, v + from * 0x1000, (16 - from) * 0x1000,
							    PT_R, PT_PERMS, PT_MISSING_OK), 0);
				struct pt_leaf l;
				assert_int_equal(pt_leaf_at(&pt, v + hole * 0x1000, &l), SVMM_ENOENT);
				assert_int_equal(*l.ptep, 0);
				for (unsigned i = 0; i < 16; i++) {
					if (i == hole)
						continue;
					int want = i < from ? 0 : SVMM_EFAULT;
					assert_int_equal(pt_translate(&pt, v + i * 0x1000, PT_W, 0, NULL, NULL), want);
					assert_int_equal(pt_translate(&pt, v + i * 0x1000, PT_R, 0, NULL, NULL), 0);
				}
				assert_int_equal(pt_check(&pt, NULL, NULL), 0);
				pt_destroy(&pt, pt_leaf_ignore, NULL);
			}
		}
	}
}

static unsigned dump_count;
static void count_lines(void *ctx, const char *line)
{
	(void)ctx;
	(void)line;
	dump_count++;
}

/* The kernel pt: slot tables stay, G mappings, boot-time gigapages in Sv39. */
static void test_kernel_pt(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		enum svmm_mode md = modes[m];
		struct pt k, u;
		assert_int_equal(pt_init_kernel(&k, md), 0);
		uint64_t root_kernel[256];
		memcpy(root_kernel, (uint64_t *)port_pa_to_va(k.root) + 256, sizeof(root_kernel));
		svmm_va_t kio = svmm_kio_base(md);
		assert_int_equal(pt_map(&k, kio, 0x10000000, 0x3000, RW | PT_G | PT_IO), 0);
		assert_int_equal(pt_map(&k, SVMM_KIMAGE_BASE, 0x80200000, 0x400000,
					PT_R | PT_X | PT_G), 0);
		assert_int_equal(pt_check(&k, NULL, NULL), 0);
		assert_int_equal(pt_init(&u, md, 5), 0);
		pt_clone_kernel(&u, &k);
		/* The user pt sees kernel mappings through the shared tables. */
		assert_int_equal(xlate(&u, kio + 0x1000), 0x10001000);
		assert_int_equal(xlate(&u, SVMM_KIMAGE_BASE + 0x201000), 0x80401000);
		/* Unmapping everything keeps the slot tables: the root never changes. */
		assert_int_equal(pt_unmap(&k, kio, 0x3000, 0), 0);
		assert_int_equal(pt_unmap(&k, SVMM_KIMAGE_BASE, 0x400000, 0), 0);
		assert_int_equal(k.tables, 257);
		assert_memory_equal((uint64_t *)port_pa_to_va(k.root) + 256, root_kernel,
				    sizeof(root_kernel));
		assert_int_equal(pt_check(&k, NULL, NULL), 0);
		/* A direct map of 8 GiB at 2 GiB; whole-slot ranges still go below the root. */
		svmm_va_t d = svmm_dmap_base(md);
		assert_int_equal(pt_map(&k, d + 2 * SVMM_GiB, 2 * SVMM_GiB, 8 * SVMM_GiB,
					RW | PT_G), 0);
		uint64_t n[6];
		pt_count_leaves(&k, n);
		if (md == SVMM_SV39) {
			/* Root-level leaves are refused without PT_BOOT: 2 MiB pages. */
			assert_int_equal(n[1], 8 * 512);
			assert_int_equal(n[2], 0);
		} else {
			assert_int_equal(n[2], 8);
		}
		assert_memory_equal((uint64_t *)port_pa_to_va(k.root) + 256, root_kernel,
				    sizeof(root_kernel));
		assert_int_equal(pt_unmap(&k, d + 2 * SVMM_GiB, 8 * SVMM_GiB, 0), 0);
		assert_int_equal(k.tables, 257);
		if (md == SVMM_SV39) {
			/* PT_BOOT is for before any clone (13.2): u is one. */
			assert_int_equal(pt_map(&k, d + 2 * SVMM_GiB, 2 * SVMM_GiB, 8 * SVMM_GiB,
						RW | PT_G | PT_BOOT), SVMM_EPERM);
			/* On a kernel pt not yet cloned, the Sv39 direct map is root gigapages. */
			struct pt k2;
			assert_int_equal(pt_init_kernel(&k2, md), 0);
			assert_int_equal(pt_map(&k2, d + 2 * SVMM_GiB, 2 * SVMM_GiB, 8 * SVMM_GiB,
						RW | PT_G | PT_BOOT), 0);
			pt_count_leaves(&k2, n);
			assert_int_equal(n[2], 8);
			assert_int_equal(k2.tables, 257 - 8);
			assert_int_equal(pt_check(&k2, NULL, NULL), 0);
			/* Those root entries are permanent. */
			assert_int_equal(pt_unmap(&k2, d + 2 * SVMM_GiB, SVMM_PAGE_SIZE, 0),
					 SVMM_EPERM);
			assert_int_equal(pt_protect(&k2, d + 3 * SVMM_GiB, SVMM_GiB, PT_R,
						    PT_PERMS & ~PT_R, 0), SVMM_EPERM);
			pt_destroy(&k2, pt_leaf_ignore, NULL);
		}
		/* Ranges that end exactly at 2^64 (the last page of the image area). */
		svmm_va_t top = 0 - 2 * SVMM_MiB - 0x3000;
		assert_int_equal(pt_map(&k, top, 0x90000000 - 0x3000, 0 - top, RW | PT_G), 0);
		assert_int_equal(xlate(&k, ~0ull), 0x90000000 + 2 * SVMM_MiB - 1);
		assert_int_equal(leaf_size_at(&k, ~0ull), 2 * SVMM_MiB);
		dump_count = 0;
		pt_dump(&k, top, 0 - top, count_lines, NULL);
		assert_int_equal(dump_count, 2);
		assert_int_equal(pt_protect(&k, 0 - 0x1000, 0x1000, PT_R | PT_G, PT_PERMS & ~(PT_R | PT_G), 0), 0);
		assert_int_equal(pt_translate(&k, ~0ull, PT_W, 0, NULL, NULL), SVMM_EFAULT);
		assert_int_equal(pt_unmap(&k, top, 0 - top, 0), 0);
		assert_int_equal(pt_translate(&k, ~0ull, PT_R, 0, NULL, NULL), SVMM_EFAULT);
		assert_int_equal(k.tables, 257);
		assert_int_equal(pt_check(&k, NULL, NULL), 0);
		pt_destroy(&u, pt_leaf_ignore, NULL);
		pt_destroy(&k, pt_leaf_ignore, NULL);
		assert_int_equal(hostsim_tables_live(), 0);
	}
}

/*
 * Out of memory at every allocation point of a call: the call fails with SVMM_ENOMEM,
 * the tables are unchanged, and nothing leaks.
 */
typedef int (*pt_scenario)(struct pt *pt, bool prepare);

static int sc_map_new(struct pt *pt, bool prepare)
{
	if (prepare)
		return pt_map(pt, 0x40000000, 0x80000000, 0x1000, PT_R);
	/* Needs new tables at several levels on both sides of a 1 GiB boundary. */
	return pt_map(pt, 0x7fe00000 - 0x3000, 0x90000000, 0x400000 + 0x6000, RW);
}

static int sc_replace_split(struct pt *pt, bool prepare)
{
	if (prepare)
		return pt_map(pt, 0x40000000, 0x40000000, SVMM_GiB, RW);
	return pt_map(pt, 0x40201000, 0x1000, 0x3000, PT_R | PT_REPLACE);
}

static int sc_unmap_split(struct pt *pt, bool prepare)
{
	if (prepare)
		return pt_map(pt, 0x40000000, 0x40000000, SVMM_GiB, RW);
	/* Two ends in different 2 MiB pages: splits at both boundaries. */
	return pt_unmap(pt, 0x40001000, 0x10000000, 0);
}

static int sc_protect_split(struct pt *pt, bool prepare)
{
	if (prepare)
		return pt_map(pt, 0x40000000, 0x40000000, SVMM_GiB, RW);
	return pt_protect(pt, 0x40005000, 0x1000, PT_R, PT_PERMS & ~PT_R, 0);
}

static int sc_kernel_init(struct pt *pt, bool prepare)
{
	(void)pt;
	if (prepare)
		return 0;
	struct pt k;
	int err = pt_init_kernel(&k, SVMM_SV48);
	if (err == 0)
		pt_destroy(&k, pt_leaf_ignore, NULL);
	return err;
}

static void run_oom(enum svmm_mode md, pt_scenario sc, const char *name)
{
	/* Count the allocation points of the call once. */
	struct pt pt;
	assert_int_equal(pt_init(&pt, md, 1), 0);
	assert_int_equal(sc(&pt, true), 0);
	hostsim_reset_alloc_points();
	assert_int_equal(sc(&pt, false), 0);
	uint64_t points = hostsim_alloc_points();
	pt_destroy(&pt, pt_leaf_ignore, NULL);
	assert_int_equal(hostsim_tables_live(), 0);
	assert_true(points > 0);
	for (uint64_t k = 1; k <= points; k++) {
		assert_int_equal(pt_init(&pt, md, 1), 0);
		assert_int_equal(sc(&pt, true), 0);
		struct pt_snap before, after;
		pt_snap_take(&before, &pt, 0, 0);
		uint64_t flushes = hostsim_flush_count();
		hostsim_fail_after(k);
		int err = sc(&pt, false);
		hostsim_fail_after(0);
		if (err != SVMM_ENOMEM)
			fail_msg("%s: failing point %llu of %llu gave %s", name,
				 (unsigned long long)k, (unsigned long long)points,
				 svmm_strerror(err));
		pt_snap_take(&after, &pt, 0, 0);
		assert_true(pt_snap_equal(&before, &after));
		assert_int_equal(hostsim_flush_count(), flushes);
		assert_int_equal(pt_check(&pt, NULL, NULL), 0);
		pt_snap_free(&before);
		pt_snap_free(&after);
		/* And then the same call succeeds. */
		assert_int_equal(sc(&pt, false), 0);
		assert_int_equal(pt_check(&pt, NULL, NULL), 0);
		pt_destroy(&pt, pt_leaf_ignore, NULL);
		assert_int_equal(hostsim_tables_live(), 0);
	}
}

static void test_oom_every_point(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		run_oom(modes[m], sc_map_new, "map new");
		run_oom(modes[m], sc_replace_split, "replace split");
		run_oom(modes[m], sc_unmap_split, "unmap split");
		run_oom(modes[m], sc_protect_split, "protect split");
	}
	run_oom(SVMM_SV48, sc_kernel_init, "init kernel");
}

/* Flushes: after each call no stale translation is cached, and no needless flushes. */
static void test_flush_exact(void **state)
{
	(void)state;
	struct tlb_model tlb;
	tlb_model_init(&tlb, 99);
	struct pt pt;
	assert_int_equal(pt_init(&pt, SVMM_SV39, 4), 0);
	svmm_pa_t pa;
	assert_int_equal(pt_map(&pt, 0x40000000, 0x40000000, SVMM_GiB, RW), 0);
	for (svmm_va_t v = 0x40000000; v < 0x80000000; v += 0x3000000)
		assert_int_equal(tlb_model_access(&tlb, &pt, v, PT_R, 0, &pa), 0);
	/* A fresh map over nothing needs no flush. */
	uint64_t f = hostsim_flush_count();
	assert_int_equal(pt_map(&pt, 0x1000000, 0x1000000, 0x1000, PT_R), 0);
	assert_int_equal(hostsim_flush_count(), f);
	/* Protect a page inside the gigapage: the cached gigapage must go. */
	assert_int_equal(pt_protect(&pt, 0x40000000 + 0x3001000, 0x1000, PT_R, PT_PERMS & ~PT_R, 0), 0);
	assert_int_equal(tlb_model_stale(&tlb, &pt, NULL), 0);
	assert_int_equal(tlb_model_access(&tlb, &pt, 0x43001000, PT_W, 0, &pa), SVMM_EFAULT);
	/* A protect that changes nothing does not flush. */
	f = hostsim_flush_count();
	assert_int_equal(pt_protect(&pt, 0x43001000, 0x1000, PT_R, PT_PERMS & ~PT_R, 0), 0);
	assert_int_equal(hostsim_flush_count(), f);
	/* Unmap with MISSING_OK over nothing: no flush either. */
	assert_int_equal(pt_unmap(&pt, 0x100000000, 0x1000, PT_MISSING_OK), 0);
	assert_int_equal(hostsim_flush_count(), f);
	for (svmm_va_t v = 0x40000000; v < 0x80000000; v += 0x1000000)
		tlb_model_access(&tlb, &pt, v, PT_R, 0, &pa);
	assert_int_equal(pt_unmap(&pt, 0x40000000, 0x20000000, 0), 0);
	assert_int_equal(tlb_model_stale(&tlb, &pt, NULL), 0);
	assert_int_equal(pt_map(&pt, 0x50000000, 0x90000000, 0x10000, RW | PT_REPLACE), 0);
	assert_int_equal(tlb_model_stale(&tlb, &pt, NULL), 0);
	/* Without the flush the model would see it: prove the check can fail. */
	hostsim_set_flush_hook(NULL, NULL);
	tlb_model_access(&tlb, &pt, 0x60000000, PT_R, 0, &pa);
	assert_int_equal(pt_unmap(&pt, 0x60000000, 0x1000, 0), 0);
	assert_int_equal(tlb_model_stale(&tlb, &pt, NULL), 1);
	tlb_model_fini(&tlb);
	pt_destroy(&pt, pt_leaf_ignore, NULL);
}

/*
 * pt_map_slot: the fault path's map through the entry pt_leaf_at found. It maps what
 * pt_map would (the same PTE), refuses what pt_map refuses with the same codes,
 * leaves an existing leaf alone without PT_REPLACE, and with it replaces the leaf and
 * flushes it (the TLB model sees no stale entry). A Svnapot entry is refused.
 */
static void test_map_slot(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		struct pt pt, ref;
		struct pt_leaf l;
		struct tlb_model tlb;
		svmm_pa_t pa;
		tlb_model_init(&tlb, 7);
		assert_int_equal(pt_init(&pt, modes[m], 5), 0);
		assert_int_equal(pt_init(&ref, modes[m], 6), 0);
		const svmm_va_t va = 0x40201000;
		/* A neighbour makes the leaf table; the page itself is a hole in it. */
		assert_int_equal(pt_map(&pt, va + 0x1000, 0x90000000, 0x1000, RW | PT_U), 0);
		assert_int_equal(pt_map(&ref, va + 0x1000, 0x90000000, 0x1000, RW | PT_U), 0);
		assert_int_equal(pt_leaf_at(&pt, va, &l), SVMM_ENOENT);
		assert_int_equal(l.level, 0);
		/* Bad arguments: pt_map's codes, nothing written. */
		assert_int_equal(pt_map_slot(&pt, va, NULL, 0x91000000, RW | PT_U), SVMM_EINVAL);
		assert_int_equal(pt_map_slot(&pt, va, l.ptep, 0x91000800, RW | PT_U),
				 SVMM_EUNALIGNED);
		assert_int_equal(pt_map_slot(&pt, va, l.ptep, 0x91000000, PT_W | PT_U), SVMM_EPERM);
		assert_int_equal(pt_map_slot(&pt, va, l.ptep, 0x91000000, RW | PT_NAPOT),
				 SVMM_EINVAL);
		assert_int_equal(*l.ptep, 0);
		/* The same leaf as pt_map makes, and the same span for pt_destroy. */
		assert_int_equal(pt_map_slot(&pt, va, l.ptep, 0x91000000, RW | PT_U), 0);
		assert_int_equal(pt_map(&ref, va, 0x91000000, 0x1000, RW | PT_U), 0);
		struct pt_snap a, b;
		pt_snap_take(&a, &pt, 0, 0);
		pt_snap_take(&b, &ref, 0, 0);
		assert_true(pt_snap_equal(&a, &b));
		pt_snap_free(&a);
		pt_snap_free(&b);
		assert_int_equal(pt.span[0], ref.span[0]);
		assert_int_equal(pt.span[1], ref.span[1]);
		/* Valid now: refused without PT_REPLACE, replaced and flushed with it. */
		assert_int_equal(pt_map_slot(&pt, va, l.ptep, 0x92000000, RW | PT_U), SVMM_EEXIST);
		assert_int_equal(tlb_model_access(&tlb, &pt, va, PT_R, PT_SUM, &pa), 0);
		assert_int_equal(pa, 0x91000000);
		uint64_t f = hostsim_flush_count();
		assert_int_equal(pt_map_slot(&pt, va, l.ptep, 0x92000000, PT_R | PT_U | PT_REPLACE),
				 0);
		assert_int_equal(hostsim_flush_count(), f + 1);
		assert_int_equal(tlb_model_stale(&tlb, &pt, NULL), 0);
		assert_int_equal(xlate(&pt, va), 0x92000000);
		/* A Svnapot entry is left for pt_map to demote. */
		assert_int_equal(pt_map(&pt, 0x40400000, 0xa0000000, 0x10000, RW | PT_NAPOT), 0);
		assert_int_equal(pt_leaf_at(&pt, 0x40400000, &l), 0);
		uint64_t old = *l.ptep;
		assert_int_equal(pt_map_slot(&pt, 0x40400000, l.ptep, 0xb0000000,
					     RW | PT_REPLACE), SVMM_EINVAL);
		assert_int_equal(*l.ptep, old);
		tlb_model_fini(&tlb);
		pt_destroy(&pt, pt_leaf_ignore, NULL);
		pt_destroy(&ref, pt_leaf_ignore, NULL);
	}
}

static char dump_buf[4096];
static void dump_out(void *ctx, const char *line)
{
	(void)ctx;
	strncat(dump_buf, line, sizeof(dump_buf) - strlen(dump_buf) - 2);
	strcat(dump_buf, "\n");
}

static void test_dump(void **state)
{
	(void)state;
	struct pt pt;
	assert_int_equal(pt_init(&pt, SVMM_SV39, 1), 0);
	assert_int_equal(pt_map(&pt, 0x40000000, 0x80000000, 0x80000000, RW | PT_U), 0);
	assert_int_equal(pt_map(&pt, 0x200000, 0x80200000, 0x3000, PT_R | PT_X | PT_U), 0);
	assert_int_equal(pt_map(&pt, 0x203000, 0x80203000, 0x1000, PT_R | PT_U), 0);
	assert_int_equal(pt_map(&pt, 0x204000, 0x10000000, 0x1000, RW | PT_IO), 0);
	dump_buf[0] = 0;
	pt_dump(&pt, 0, 0, dump_out, NULL);
	const char *want =
		"0x0000000000200000-0x0000000000203000    12K pa 0x00000080200000 r-xu-a- 4K\n"
		"0x0000000000203000-0x0000000000204000     4K pa 0x00000080203000 r--u-a- 4K\n"
		"0x0000000000204000-0x0000000000205000     4K pa 0x00000010000000 rw---ad 4K io\n"
		"0x0000000040000000-0x00000000c0000000     2G pa 0x00000080000000 rw-u-ad 1G\n";
	assert_string_equal(dump_buf, want);
	dump_buf[0] = 0;
	pt_dump(&pt, 0x201000, 0x1000, dump_out, NULL);
	assert_string_equal(dump_buf,
		"0x0000000000201000-0x0000000000202000     4K pa 0x00000080201000 r-xu-a- 4K\n");
	pt_destroy(&pt, pt_leaf_ignore, NULL);
}

/* Table frames from pmem over simulated RAM, as the kernel gets them. */
static struct pmem test_pm;

static int pmem_table_alloc(void *ctx, svmm_pa_t *pa)
{
	return pmem_alloc(ctx, 0, PMEM_ANY, pa);
}

static void pmem_table_free(void *ctx, svmm_pa_t pa)
{
	if (pmem_free(ctx, pa, 0) != 0)
		fail_msg("pmem_free of table frame 0x%llx failed", (unsigned long long)pa);
}

static void test_tables_from_pmem(void **state)
{
	(void)state;
	/* 2 MiB of RAM after a 1 MiB "firmware" hole: a few hundred frames in all. */
	const struct pmem_range ram = { RAM_BASE, 3 * SVMM_MiB };
	const struct pmem_range fw = { RAM_BASE, SVMM_MiB };
	assert_int_equal(pmem_init(&test_pm, &ram, 1, &fw, 1, PMEM_ANY), 0);
	const struct hostsim_table_source src = { pmem_table_alloc, pmem_table_free, &test_pm };
	hostsim_set_table_source(&src);
	uint64_t free0 = pmem_free_frames(&test_pm);
	struct pt pt;
	assert_int_equal(pt_init(&pt, SVMM_SV48, 2), 0);
	assert_true(pt.root >= RAM_BASE + SVMM_MiB && pt.root < RAM_BASE + 3 * SVMM_MiB);
	/* 64 leaf tables' worth of 4 KiB pages, a gigapage split down to 4 KiB. */
	assert_int_equal(pt_map(&pt, 0x40001000, 0x80001000, 128 * SVMM_MiB, RW), 0);
	assert_int_equal(pt_map(&pt, 0x80000000, 0x80000000, SVMM_GiB, RW), 0);
	assert_int_equal(pt_protect(&pt, 0x80201000, 0x1000, PT_R, PT_PERMS & ~PT_R, 0), 0);
	assert_int_equal(pmem_free_frames(&test_pm), free0 - pt.tables);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	assert_int_equal(pmem_check(&test_pm, NULL, NULL), 0);
	/* Real exhaustion, not injection: map until pmem runs dry, then nothing changed. */
	struct pt_snap before, after;
	pt_snap_take(&before, &pt, 0, 0);
	uint64_t freeb = pmem_free_frames(&test_pm);
	int err = pt_map(&pt, 0x100000000, 0x80001000, (freeb + 8) * 2 * SVMM_MiB, RW);
	assert_int_equal(err, SVMM_ENOMEM);
	assert_int_equal(pmem_free_frames(&test_pm), freeb);
	pt_snap_take(&after, &pt, 0, 0);
	assert_true(pt_snap_equal(&before, &after));
	pt_snap_free(&before);
	pt_snap_free(&after);
	pt_destroy(&pt, pt_leaf_ignore, NULL);
	assert_int_equal(pmem_free_frames(&test_pm), free0);
	assert_int_equal(pmem_check(&test_pm, NULL, NULL), 0);
	hostsim_set_table_source(NULL);
}

/*
 * Two threads map, protect and unmap in disjoint windows of one pt: pt->lock keeps
 * the shared upper tables consistent (both windows share the root and the tables
 * above 1 GiB), and at the end everything is gone and every frame is back.
 */
struct thread_arg {
	struct pt *pt;
	svmm_va_t base;
	int errors;
};

static void *pt_thread(void *p)
{
	struct thread_arg *a = p;
	uint64_t s = a->base | 1;
	for (int i = 0; i < 3000; i++) {
		svmm_va_t va = a->base + (pt_test_rand(&s) % 256) * 2 * SVMM_MiB;
		uint64_t size = (1 + pt_test_rand(&s) % 600) * SVMM_PAGE_SIZE;
		int e1 = pt_map(a->pt, va, 0x80000000 + (va & 0x3fffffff), size, RW | PT_REPLACE);
		int e2 = pt_protect(a->pt, va, size, PT_R, PT_PERMS & ~PT_R, 0);
		svmm_pa_t pa;
		int e3 = pt_translate(a->pt, va + size - 4096, PT_R, 0, &pa, NULL);
		if (e1 || e2 || e3 || pa != 0x80000000 + ((va + size - 4096) & 0x3fffffff))
			a->errors++;
		if (pt_unmap(a->pt, va, size, 0) != 0)
			a->errors++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	struct pt pt;
	assert_int_equal(pt_init(&pt, SVMM_SV48, 1), 0);
	struct thread_arg a[2] = { { &pt, 0x40000000, 0 }, { &pt, 0x80000000, 0 } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, pt_thread, &a[i]), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(a[0].errors + a[1].errors, 0);
	assert_int_equal(pt.tables, 1);
	assert_int_equal(hostsim_tables_live(), 1);
	assert_int_equal(pt_check(&pt, NULL, NULL), 0);
	pt_destroy(&pt, pt_leaf_ignore, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_destroy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_page_size_choice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_leaves, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_and_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_translate_spec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_napot_pbmt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protect_fast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protect_fast_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protect_groups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_pt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom_every_point, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_span, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tables_from_pmem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};
	return cmocka_run_group_tests_name("pt", tests, NULL, NULL);
}
