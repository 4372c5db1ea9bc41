/* test_aspace.c - address spaces: create/destroy, map, fault, unmap, protect, switch, OOM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aspace_fixture.h"
#include "pt_testutil.h"

#define MiB SVMM_MiB
#define GiB SVMM_GiB
#define PG  SVMM_PAGE_SIZE
#define RW  (PT_R | PT_W)

static struct aspace as;
static uint64_t free0;      /* pmem's free frames before the test's address spaces */

static int setup(void **state)
{
	(void)state;
	if (fx_setup(64 * MiB, 0, SVMM_SV39, 16) != 0)
		return -1;
	free0 = pmem_free_frames(&fx.pm);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fx_teardown();
	return 0;
}

static void check(struct aspace *a)
{
	if (aspace_check(a, fx_print, NULL) != 0) {
		aspace_dump(a, fx_print, NULL);
		fail_msg("aspace_check failed");
	}
}

/* The frame a user address maps to, through the direct map, or NULL. */
static unsigned char *user_ptr(struct aspace *a, svmm_va_t va)
{
	svmm_pa_t pa;
	if (pt_translate(&a->pt, va, PT_R, PT_PRIV_U | PT_MXR, &pa, NULL) != 0)
		return NULL;
	return port_pa_to_va(pa);
}

static void test_create_destroy_accounting(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	check(&as);
	/* The kernel half is the kernel's: root entries 256..511 are equal. */
	uint64_t *kroot = port_pa_to_va(fx.kpt.root), *root = port_pa_to_va(as.pt.root);
	assert_memory_equal(kroot + 256, root + 256, 256 * sizeof(uint64_t));
	for (unsigned i = 0; i < 256; i++)
		assert_int_equal(root[i], 0);
	assert_true(pmem_free_frames(&fx.pm) < free0);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
	/* The kernel's tables are untouched. */
	assert_int_equal(pt_check(&fx.kpt, NULL, NULL), 0);
	assert_int_equal(aspace_create(NULL, &fx.kpt, &fx.pm, NULL), SVMM_EINVAL);
	assert_int_equal(aspace_create(&as, NULL, &fx.pm, NULL), SVMM_EINVAL);
	assert_int_equal(aspace_create(&as, &fx.kpt, NULL, NULL), SVMM_EINVAL);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

static void test_demand_zero(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t va;
	assert_int_equal(aspace_map_anon(&as, 0, 16 * PG, RW, 0, &va), 0);
	assert_true(va >= SVMM_NULL_GUARD && va + 16 * PG <= as.user_end);
	assert_int_equal(as.resident, 0);                 /* nothing before a fault */
	assert_null(user_ptr(&as, va));
	for (unsigned i = 0; i < 16; i++) {
		/* Dirty free frames first, to see that the fault zeroes what it maps. */
		svmm_pa_t junk;
		assert_int_equal(pmem_alloc(&fx.pm, 0, PMEM_ANY, &junk), 0);
		memset(port_pa_to_va(junk), 0xee, PG);
		assert_int_equal(pmem_free(&fx.pm, junk, 0), 0);
		assert_int_equal(aspace_fault(&as, va + i * PG + 123, i % 2 ? PT_W : PT_R), 0);
		unsigned char *p = user_ptr(&as, va + i * PG);
		assert_non_null(p);
		for (unsigned k = 0; k < PG; k++)
			assert_int_equal(p[k], 0);
		memset(p, 0xa0 + i, PG);
	}
	assert_int_equal(as.resident, 16);
	assert_int_equal(as.faults, 16);
	/* A second fault on a mapped page is spurious: resolved, nothing allocated. */
	uint64_t f = pmem_free_frames(&fx.pm);
	assert_int_equal(aspace_fault(&as, va, PT_W), 0);
	assert_int_equal(pmem_free_frames(&fx.pm), f);
	assert_int_equal(user_ptr(&as, va + 5 * PG)[7], 0xa5);
	/* The page is user RW, not executable, and S-mode needs SUM to touch it. */
	assert_int_equal(pt_translate(&as.pt, va, PT_W, PT_PRIV_U, NULL, NULL), 0);
	assert_int_equal(pt_translate(&as.pt, va, PT_X, PT_PRIV_U, NULL, NULL), SVMM_EFAULT);
	assert_int_equal(pt_translate(&as.pt, va, PT_R, 0, NULL, NULL), SVMM_EFAULT);
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

static void test_fault_errors_and_stack(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t ro, xo;
	assert_int_equal(aspace_map_anon(&as, 0, 4 * PG, PT_R, 0, &ro), 0);
	assert_int_equal(aspace_map_anon(&as, 0, 4 * PG, PT_X, 0, &xo), 0);
	assert_int_equal(aspace_fault(&as, ro, PT_W), SVMM_EPERM);
	assert_int_equal(aspace_fault(&as, ro, PT_X), SVMM_EPERM);
	assert_int_equal(aspace_fault(&as, xo, PT_R), SVMM_EPERM);
	assert_int_equal(aspace_fault(&as, xo, PT_X), 0);
	assert_int_equal(aspace_fault(&as, 0, PT_R), SVMM_EFAULT);          /* null guard */
	assert_int_equal(aspace_fault(&as, ro + 64 * MiB, PT_R), SVMM_EFAULT);
	assert_int_equal(aspace_fault(&as, ro, 0), SVMM_EINVAL);
	assert_int_equal(aspace_fault(&as, ro, PT_R | PT_W), SVMM_EINVAL);
	assert_int_equal(aspace_fault(&as, svmm_kernel_base(SVMM_SV39), PT_R), SVMM_EFAULT);
	/* The stack: grows down on faults up to its limit; the guard gap below is an
	 * overflow; the rest of slot 255 is nothing. */
	svmm_va_t top = as.stack_top;
	assert_int_equal(top, (svmm_va_t)256 * GiB - SVMM_USTACK_GUARD);
	assert_int_equal(aspace_fault(&as, top - 8, PT_W), 0);
	assert_int_equal(aspace_fault(&as, top - 3 * PG, PT_R), 0);
	assert_int_equal(as.stack_pages, 2);
	assert_int_equal(as.stack_low, top - 3 * PG);
	assert_int_equal(aspace_fault(&as, top - PG, PT_X), SVMM_EPERM);
	assert_int_equal(aspace_fault(&as, as.stack_limit, PT_W), 0);
	assert_int_equal(aspace_fault(&as, as.stack_limit - 1, PT_W), SVMM_ESTACK);
	assert_int_equal(aspace_fault(&as, as.stack_limit - ASPACE_STACK_GUARD, PT_W),
			 SVMM_ESTACK);
	assert_int_equal(aspace_fault(&as, as.stack_limit - ASPACE_STACK_GUARD - 1, PT_W),
			 SVMM_EFAULT);
	assert_int_equal(aspace_fault(&as, as.user_end, PT_W), SVMM_EFAULT);
	assert_int_equal(as.stack_pages, 3);
	assert_int_equal(as.resident, 4);
	/* The limit moves (setrlimit), but not above pages in use. */
	assert_int_equal(aspace_set_stack_limit(&as, 0), SVMM_EZEROSIZE);
	assert_int_equal(aspace_set_stack_limit(&as, PG + 1), SVMM_EUNALIGNED);
	assert_int_equal(aspace_set_stack_limit(&as, GiB), SVMM_ERANGE);
	assert_int_equal(aspace_set_stack_limit(&as, 4 * PG), SVMM_EBUSY);
	assert_int_equal(aspace_set_stack_limit(&as, 64 * SVMM_MiB), 0);
	assert_int_equal(as.stack_limit, top - 64 * SVMM_MiB);
	assert_int_equal(aspace_fault(&as, top - 32 * SVMM_MiB, PT_W), 0);
	assert_int_equal(aspace_fault(&as, top - 64 * SVMM_MiB - PG, PT_W), SVMM_ESTACK);
	assert_int_equal(as.stack_pages, 4);
	assert_int_equal(aspace_set_stack_limit(&as, 16 * SVMM_MiB), SVMM_EBUSY);
	/* The stack is not part of uvmem: map/unmap/protect refuse it. */
	svmm_va_t va;
	assert_int_equal(aspace_map_anon(&as, top - PG, PG, RW, ASPACE_FIXED, &va), SVMM_ERANGE);
	assert_int_equal(aspace_unmap(&as, top - PG, PG), SVMM_ERANGE);
	check(&as);
	assert_int_equal(as.resident, 5);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

static void test_bad_input_changes_nothing(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t va, a;
	assert_int_equal(aspace_map_anon(&as, 0, 8 * PG, RW, 0, &va), 0);
	assert_int_equal(aspace_fault(&as, va, PT_W), 0);
	static struct fx_snap before, after;
	fx_snap_take(&as, &before);
	const svmm_va_t g = SVMM_NULL_GUARD;
	/* map_anon */
	assert_int_equal(aspace_map_anon(&as, 0, 0, RW, 0, &a), SVMM_EZEROSIZE);
	assert_int_equal(aspace_map_anon(&as, 0, 100, RW, 0, &a), SVMM_EUNALIGNED);
	assert_int_equal(aspace_map_anon(&as, g + 1, PG, RW, ASPACE_FIXED, &a), SVMM_EUNALIGNED);
	assert_int_equal(aspace_map_anon(&as, ~(svmm_va_t)0 - PG + 1, 2 * PG, RW, ASPACE_FIXED, &a),
			 SVMM_EOVERFLOW);
	assert_int_equal(aspace_map_anon(&as, 0, PG, RW, ASPACE_FIXED, &a), SVMM_ERANGE);
	assert_int_equal(aspace_map_anon(&as, as.user_end - PG, 2 * PG, RW, ASPACE_FIXED, &a),
			 SVMM_ERANGE);
	assert_int_equal(aspace_map_anon(&as, g, PG, PT_W, 0, &a), SVMM_EPERM);
	assert_int_equal(aspace_map_anon(&as, g, PG, PT_R | PT_W | PT_X, 0, &a), SVMM_EPERM);
	assert_int_equal(aspace_map_anon(&as, g, PG, 0, 0, &a), SVMM_EPERM);
	assert_int_equal(aspace_map_anon(&as, g, PG, PT_U | PT_R, 0, &a), SVMM_EINVAL);
	assert_int_equal(aspace_map_anon(&as, g, PG, PT_R, ASPACE_IO, &a), SVMM_EINVAL);
	assert_int_equal(aspace_map_anon(&as, g, PG, PT_R, 0, NULL), SVMM_EINVAL);
	assert_int_equal(aspace_map_anon(&as, va + PG, PG, PT_R, ASPACE_FIXED, &a), SVMM_EBUSY);
	assert_int_equal(aspace_map_anon(&as, 0, as.user_end, PT_R, 0, &a), SVMM_ENOSPC);
	/* map_phys */
	assert_int_equal(aspace_map_phys(&as, 0, FX_RAM0 + 1, PG, PT_R, 0, &a), SVMM_EUNALIGNED);
	assert_int_equal(aspace_map_phys(&as, 0, ~(svmm_pa_t)0 - PG + 1, 2 * PG, PT_R, 0, &a),
			 SVMM_EOVERFLOW);
	assert_int_equal(aspace_map_phys(&as, 0, PT_PA_LIMIT, PG, PT_R, 0, &a), SVMM_ERANGE);
	assert_int_equal(aspace_map_phys(&as, 0, FX_RAM0, PG, PT_R, ASPACE_IO | ASPACE_NC, &a),
			 SVMM_EINVAL);
	/* unmap, protect */
	assert_int_equal(aspace_unmap(&as, va, 0), SVMM_EZEROSIZE);
	assert_int_equal(aspace_unmap(&as, va + 1, PG), SVMM_EUNALIGNED);
	assert_int_equal(aspace_unmap(&as, va, PG + 1), SVMM_EUNALIGNED);
	assert_int_equal(aspace_unmap(&as, ~(svmm_va_t)0 - PG + 1, 2 * PG), SVMM_EOVERFLOW);
	assert_int_equal(aspace_unmap(&as, 0, PG), SVMM_ERANGE);
	assert_int_equal(aspace_protect(&as, va, PG, PT_W), SVMM_EPERM);
	assert_int_equal(aspace_protect(&as, va, PG, PT_R | PT_W | PT_X), SVMM_EPERM);
	assert_int_equal(aspace_protect(&as, va, 9 * PG, PT_R), SVMM_ENOENT);   /* hole */
	assert_int_equal(aspace_protect(&as, va + 7 * PG, 2 * PG, PT_R), SVMM_ENOENT);
	assert_int_equal(aspace_protect(&as, va + 9 * PG, 2 * PG, PT_R), SVMM_ENOENT);
	assert_int_equal(aspace_protect(&as, va, 0, PT_R), SVMM_EZEROSIZE);
	fx_snap_take(&as, &after);
	assert_true(fx_snap_equal(&before, &after));
	/* Unmapping a hole is not an error (munmap), and changes nothing. */
	assert_int_equal(aspace_unmap(&as, va + 64 * PG, 4 * PG), 0);
	fx_snap_take(&as, &after);
	assert_true(fx_snap_equal(&before, &after));
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

static void test_placement_and_fixed(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t small, big, fixed, hinted;
	assert_int_equal(aspace_map_anon(&as, 0, PG, RW, 0, &small), 0);
	assert_int_equal(aspace_map_anon(&as, 0, 6 * MiB, RW, 0, &big), 0);
	assert_true(SVMM_IS_ALIGNED(big, 2 * MiB));
	assert_int_equal(aspace_map_anon(&as, 0x40000000, 3 * PG, PT_R, ASPACE_FIXED, &fixed), 0);
	assert_int_equal(fixed, 0x40000000);
	/* A free hint is taken; a busy one falls back to any address. */
	assert_int_equal(aspace_map_anon(&as, 0x50000000, PG, PT_R, 0, &hinted), 0);
	assert_int_equal(hinted, 0x50000000);
	assert_int_equal(aspace_map_anon(&as, 0x50000000, PG, PT_R, 0, &hinted), 0);
	assert_int_not_equal(hinted, 0x50000000);
	assert_int_equal(as.nregions, 5);
	assert_ptr_equal(aspace_lookup(&as, fixed + 2 * PG), aspace_lookup(&as, fixed));
	assert_null(aspace_lookup(&as, fixed + 3 * PG));
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

static int count_leaf(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	uint64_t *n = ctx;
	(void)va;
	(void)pa;
	(void)pte;
	n[size == 2 * MiB ? 1 : 0]++;
	return 0;
}

static void test_map_phys(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	/* A 4 MiB physical range keeps its phase modulo 2 MiB: 2 MiB leaves. */
	svmm_pa_t blk;
	assert_int_equal(pmem_alloc(&fx.pm, 11, PMEM_ANY, &blk), 0);   /* 8 MiB */
	svmm_va_t va;
	assert_int_equal(aspace_map_phys(&as, 0, blk, 4 * MiB, RW, 0, &va), 0);
	assert_int_equal(va % (2 * MiB), blk % (2 * MiB));
	uint64_t n[2] = { 0, 0 };
	pt_walk(&as.pt, va, 4 * MiB, count_leaf, n);
	assert_int_equal(n[1], 2);           /* two 2 MiB leaves */
	assert_int_equal(n[0], 0);
	svmm_pa_t pa;
	assert_int_equal(pt_translate(&as.pt, va + 5 * PG + 3, PT_W, PT_PRIV_U, &pa, NULL), 0);
	assert_int_equal(pa, blk + 5 * PG + 3);
	/* Mapped eagerly: a fault there is spurious. */
	assert_int_equal(aspace_fault(&as, va, PT_W), 0);
	assert_int_equal(aspace_fault(&as, va, PT_X), SVMM_EPERM);
	assert_int_equal(as.resident, 0);
	/* Unmapping part of it splits a huge page; the frames stay the caller's. */
	assert_int_equal(aspace_unmap(&as, va + 2 * MiB + PG, PG), 0);
	assert_int_equal(as.nregions, 2);
	assert_int_equal(pt_translate(&as.pt, va + 2 * MiB + PG, PT_R, PT_PRIV_U, NULL, NULL),
			 SVMM_EFAULT);
	assert_int_equal(pt_translate(&as.pt, va + 2 * MiB + 2 * PG, PT_R, PT_PRIV_U, &pa, NULL), 0);
	assert_int_equal(pa, blk + 2 * MiB + 2 * PG);
	check(&as);
	assert_int_equal(pmem_frame(&fx.pm, blk)->state, PMEM_ALLOC);
	/* Device memory with Svpbmt IO. */
	svmm_va_t io;
	assert_int_equal(aspace_map_phys(&as, 0, 0x10000000, PG, RW, ASPACE_IO, &io), 0);
	svmm_pa_t iopa;
	uint64_t pte = 0;
	assert_true(pt_lookup(&as.pt, io, &iopa, &pte));
	assert_int_equal(iopa, 0x10000000);
	assert_int_equal(pte & SVMM_PTE_PBMT_MASK, SVMM_PTE_PBMT_IO);
	/* Protect keeps the memory type, and the cut piece keeps the physical offset. */
	svmm_va_t io2;
	assert_int_equal(aspace_map_phys(&as, 0, 0x10001000, 4 * PG, RW, ASPACE_IO, &io2), 0);
	assert_int_equal(aspace_protect(&as, io2 + 2 * PG, PG, PT_R), 0);
	assert_true(pt_lookup(&as.pt, io2 + 2 * PG, &iopa, &pte));
	assert_int_equal(iopa, 0x10003000);
	assert_int_equal(pte & SVMM_PTE_PBMT_MASK, SVMM_PTE_PBMT_IO);
	assert_int_equal(pte & (SVMM_PTE_R | SVMM_PTE_W | SVMM_PTE_X), SVMM_PTE_R);
	assert_int_equal(aspace_lookup(&as, io2 + 3 * PG)->pa, 0x10004000);
	assert_int_equal(aspace_lookup(&as, io2 + 3 * PG)->node.addr, io2 + 3 * PG);
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free(&fx.pm, blk, 11), 0);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* Fault every page of [va, va + n pages) and tag it with its index. */
static void touch(struct aspace *a, svmm_va_t va, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(aspace_fault(a, va + i * PG, PT_R), 0);
		user_ptr(a, va + i * PG)[0] = (unsigned char)(i + 1);
	}
}

static void test_unmap_splits(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t va;
	assert_int_equal(aspace_map_anon(&as, 0, 16 * PG, RW, 0, &va), 0);
	touch(&as, va, 16);
	uint64_t f = pmem_free_frames(&fx.pm);
	/* The middle: one region becomes two, four frames come back. */
	assert_int_equal(aspace_unmap(&as, va + 6 * PG, 4 * PG), 0);
	check(&as);
	assert_int_equal(as.nregions, 2);
	assert_int_equal(as.resident, 12);
	assert_true(pmem_free_frames(&fx.pm) >= f + 4);
	assert_int_equal(aspace_fault(&as, va + 7 * PG, PT_R), SVMM_EFAULT);
	assert_int_equal(user_ptr(&as, va + 5 * PG)[0], 6);
	assert_int_equal(user_ptr(&as, va + 10 * PG)[0], 11);
	/* The head and the tail. */
	assert_int_equal(aspace_unmap(&as, va, PG), 0);
	assert_int_equal(aspace_unmap(&as, va + 15 * PG, PG), 0);
	check(&as);
	assert_int_equal(as.nregions, 2);
	assert_int_equal(as.resident, 10);
	/* Across both regions and the hole between them, cutting each. */
	assert_int_equal(aspace_unmap(&as, va + 4 * PG, 8 * PG), 0);
	check(&as);
	assert_int_equal(as.resident, 6);
	assert_int_equal(user_ptr(&as, va + 3 * PG)[0], 4);
	assert_int_equal(user_ptr(&as, va + 12 * PG)[0], 13);
	/* Several whole regions at once. */
	svmm_va_t b, c;
	assert_int_equal(aspace_map_anon(&as, va + 64 * PG, 2 * PG, RW, ASPACE_FIXED, &b), 0);
	assert_int_equal(aspace_map_anon(&as, va + 70 * PG, 2 * PG, RW, ASPACE_FIXED, &c), 0);
	touch(&as, b, 2);
	touch(&as, c, 2);
	assert_int_equal(aspace_unmap(&as, va, 128 * PG), 0);
	check(&as);
	assert_int_equal(as.nregions, 0);
	assert_int_equal(as.resident, 0);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

static void test_protect_splits(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t va;
	assert_int_equal(aspace_map_anon(&as, 0, 12 * PG, RW, 0, &va), 0);
	touch(&as, va, 6);                     /* half resident, half not */
	assert_int_equal(aspace_protect(&as, va + 4 * PG, 4 * PG, PT_R), 0);
	check(&as);
	assert_int_equal(as.nregions, 3);
	/* Resident pages lost W; a fault there now is a protection error. */
	assert_int_equal(pt_translate(&as.pt, va + 4 * PG, PT_W, PT_PRIV_U, NULL, NULL),
			 SVMM_EFAULT);
	assert_int_equal(pt_translate(&as.pt, va + 3 * PG, PT_W, PT_PRIV_U, NULL, NULL), 0);
	assert_int_equal(aspace_fault(&as, va + 5 * PG, PT_W), SVMM_EPERM);
	assert_int_equal(aspace_fault(&as, va + 7 * PG, PT_W), SVMM_EPERM);
	assert_int_equal(aspace_fault(&as, va + 7 * PG, PT_R), 0);   /* demand zero, read-only */
	assert_int_equal(pt_translate(&as.pt, va + 7 * PG, PT_W, PT_PRIV_U, NULL, NULL),
			 SVMM_EFAULT);
	/* Back to RW over all three: every page writable again, contents kept. */
	assert_int_equal(aspace_protect(&as, va, 12 * PG, RW), 0);
	check(&as);
	assert_int_equal(pt_translate(&as.pt, va + 4 * PG, PT_W, PT_PRIV_U, NULL, NULL), 0);
	assert_int_equal(user_ptr(&as, va + 5 * PG)[0], 6);
	/* Execute-only for one page. */
	assert_int_equal(aspace_protect(&as, va + PG, PG, PT_X), 0);
	assert_int_equal(pt_translate(&as.pt, va + PG, PT_X, PT_PRIV_U, NULL, NULL), 0);
	assert_int_equal(pt_translate(&as.pt, va + PG, PT_R, PT_PRIV_U, NULL, NULL), SVMM_EFAULT);
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

static void test_activate(void **state)
{
	(void)state;
	static struct aspace b;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	assert_int_equal(aspace_create(&b, &fx.kpt, &fx.pm, NULL), 0);
	bool flush;
	uint64_t s1 = aspace_activate(&as, 0, &flush);
	assert_true(flush);                     /* first switch on the hart */
	assert_int_equal(s1 >> 60, SVMM_SV39);
	assert_int_equal((s1 & ((1ull << 44) - 1)) << 12, as.pt.root);
	uint32_t asid = (uint32_t)((s1 >> 44) & 0xffff);
	assert_int_not_equal(asid, 0);
	assert_int_equal(as.pt.asid, asid);
	uint64_t s2 = aspace_activate(&b, 0, &flush);
	assert_false(flush);
	assert_int_not_equal((s2 >> 44) & 0xffff, asid);
	assert_int_equal(aspace_activate(&as, 0, &flush), s1);
	assert_false(flush);
	aspace_deactivate(&as, 0);
	aspace_destroy(&b);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
	/* Without ASIDs: ASID 0 and a flush on every switch to another space. */
	assert_int_equal(aspace_sys_init(0, 2), 0);
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	assert_int_equal(aspace_create(&b, &fx.kpt, &fx.pm, NULL), 0);
	assert_int_equal((aspace_activate(&as, 1, &flush) >> 44) & 0xffff, 0);
	assert_true(flush);
	aspace_activate(&b, 1, &flush);
	assert_true(flush);
	aspace_activate(&b, 1, &flush);
	assert_false(flush);
	aspace_destroy(&b);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* Rollover seen through address spaces: 8 ASIDs, 12 address spaces, two harts. */
static void test_activate_rollover(void **state)
{
	(void)state;
	static struct aspace sp[12];
	assert_int_equal(aspace_sys_init(3, 2), 0);
	for (int i = 0; i < 12; i++)
		assert_int_equal(aspace_create(&sp[i], &fx.kpt, &fx.pm, NULL), 0);
	bool flush;
	uint64_t flushes = 0;
	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 12; i++) {
			unsigned hart = (unsigned)(i & 1);
			uint64_t satp = aspace_activate(&sp[i], hart, &flush);
			uint32_t asid = (uint32_t)((satp >> 44) & 0xffff);
			flushes += flush;
			/* The pt flushes by the ASID the hart runs it with. */
			assert_int_equal(sp[i].pt.asid, asid);
			assert_true(asid >= 1 && asid < 8);
			/* The other hart's current space never shares it. */
			int o = i == 0 ? 11 : i - 1;
			uint64_t osatp = pt_satp(&sp[o].pt);
			if (round > 0 || i > 0)
				assert_int_not_equal((osatp >> 44) & 0xffff, asid);
		}
	assert_true(aspace_asids()->rollovers >= 4);
	assert_true(flushes >= aspace_asids()->rollovers);
	assert_int_equal(asid_check(aspace_asids(), NULL, NULL), 0);
	for (int i = 0; i < 12; i++) {
		aspace_deactivate(&sp[i], 0);
		aspace_deactivate(&sp[i], 1);
		aspace_destroy(&sp[i]);
	}
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* ---- out of memory at every allocation point ---- */

typedef int (*oom_op)(struct aspace *a);

/*
 * Run op with only `budget` free frames, for budget = 0, 1, 2, ... until it succeeds;
 * every failure must be SVMM_ENOMEM with the address space exactly as before. Then
 * the same with hostsim_fail_after(n) over each page-table allocation point.
 * prepare builds the state the op starts from, in a fresh address space.
 */
static void oom_sweep(const char *name, void (*prepare)(struct aspace *a), oom_op op)
{
	static struct fx_snap before, after;
	unsigned failures = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (uint64_t n = pass == 0 ? 0 : 1; ; n++) {
			assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
			prepare(&as);
			fx_snap_take(&as, &before);
			if (pass == 0)
				fx_hold_all_but(n);
			else
				hostsim_fail_after(n);
			int err = op(&as);
			fx_release_all();
			hostsim_fail_after(0);
			if (err == 0) {
				check(&as);
				aspace_destroy(&as);
				break;
			}
			if (err != SVMM_ENOMEM)
				fail_msg("%s: %s %llu: %s", name, pass ? "table point" : "budget",
					 (unsigned long long)n, svmm_strerror(err));
			failures++;
			check(&as);
			fx_snap_take(&as, &after);
			if (!fx_snap_equal(&before, &after))
				fail_msg("%s: %s %llu: state changed by a failed call", name,
					 pass ? "table point" : "budget", (unsigned long long)n);
			aspace_destroy(&as);
			assert_int_equal(pmem_free_frames(&fx.pm), free0);
			assert_true(n < 64);
		}
	}
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
	printf("oom %s: %u failing points rolled back\n", name, failures);
	assert_true(failures > 0);
}

static const svmm_va_t base_va = 0x10000000;

static void prep_none(struct aspace *a)
{
	(void)a;
}

/* The address space's own region structs all taken: the next region needs a slab page. */
static void prep_inline_full(struct aspace *a)
{
	svmm_va_t va;
	for (unsigned i = 0; i < ASPACE_INLINE_REGIONS; i++)
		assert_int_equal(aspace_map_anon(a, base_va + 2 * i * PG, PG, RW, ASPACE_FIXED,
						 &va), 0);
	assert_int_equal(a->nregions, ASPACE_INLINE_REGIONS);
	assert_int_equal(a->slab_pages, 0);
}

static void prep_region(struct aspace *a)
{
	svmm_va_t va;
	assert_int_equal(aspace_map_anon(a, base_va, 32 * PG, RW, ASPACE_FIXED, &va), 0);
	touch(a, va, 32);
	/* Neighbours on both sides, so that frees need vmem nodes. */
	assert_int_equal(aspace_map_anon(a, base_va - PG, PG, PT_R, ASPACE_FIXED, &va), 0);
	assert_int_equal(aspace_map_anon(a, base_va + 32 * PG, PG, PT_R, ASPACE_FIXED, &va), 0);
}

/*
 * prep_region, then no spare region struct in the slab and no free node in uvmem's
 * pool, so that the next cut must allocate both.
 */
static void prep_tight(struct aspace *a)
{
	prep_region(a);
	struct vmem_stats st;
	svmm_va_t x = base_va + GiB;
	for (;;) {
		vmem_stats(&a->uvmem, &st);
		if (st.pool_units_free == 0)
			break;
		/* An island in a free region splits it: one more free-region node. */
		assert_int_equal(aspace_map_anon(a, x, PG, PT_R, ASPACE_FIXED, &x), 0);
		x += 2 * PG;
	}
	x -= PG;
	for (unsigned k = 0;
	     a->nregions != ASPACE_INLINE_REGIONS +
			    a->slab_pages * ((SVMM_PAGE_SIZE - 64) / sizeof(struct aspace_region));
	     k++) {
		/* Growing a free region's neighbour only shrinks it: no node needed. The
		 * permissions alternate so that the pages stay regions of their own. */
		assert_int_equal(aspace_map_anon(a, x, PG, k % 2 ? PT_R : PT_X, ASPACE_FIXED, &x), 0);
		x += PG;
	}
	vmem_stats(&a->uvmem, &st);
	assert_int_equal(st.pool_units_free, 0);
}

static void prep_phys(struct aspace *a)
{
	svmm_va_t va;
	assert_int_equal(aspace_map_phys(a, base_va, FX_RAM0 + 16 * MiB, 4 * MiB, RW,
					 ASPACE_FIXED, &va), 0);
}

static void prep_for_fault(struct aspace *a)
{
	svmm_va_t va;
	assert_int_equal(aspace_map_anon(a, base_va + 40 * PG, PG, RW, ASPACE_FIXED, &va), 0);
}

static int op_map_anon(struct aspace *a)
{
	svmm_va_t va;
	return aspace_map_anon(a, 0, 8 * PG, RW, 0, &va);
}

static int op_map_phys(struct aspace *a)
{
	svmm_va_t va;
	return aspace_map_phys(a, 0x40000000 + 2 * MiB, FX_RAM0 + 16 * MiB, 6 * MiB + 3 * PG,
			       RW, ASPACE_FIXED, &va);
}

static int op_fault(struct aspace *a)
{
	return aspace_fault(a, base_va + 40 * PG, PT_W);
}

static int op_stack_fault(struct aspace *a)
{
	return aspace_fault(a, a->stack_top - 5 * PG, PT_W);
}

static int op_unmap_middle(struct aspace *a)
{
	return aspace_unmap(a, base_va + 4 * PG, 8 * PG);
}

static int op_unmap_across(struct aspace *a)
{
	return aspace_unmap(a, base_va + 4 * PG, 29 * PG);
}

static int op_unmap_phys_split(struct aspace *a)
{
	return aspace_unmap(a, base_va + MiB, 2 * MiB);
}

static int op_protect_middle(struct aspace *a)
{
	return aspace_protect(a, base_va + 4 * PG, 8 * PG, PT_R);
}

static int op_protect_phys_split(struct aspace *a)
{
	return aspace_protect(a, base_va + 3 * MiB, PG, PT_R);
}

static int op_map_kernel(struct aspace *a)
{
	return aspace_map_kernel(a, a->stack_top, FX_RAM0 + 16 * MiB, 16 * PG, RW, 0);
}

static int op_copy_to(struct aspace *a)
{
	static const char msg[] = "hello";
	return aspace_copy_to(a, base_va + 40 * PG + 5, msg, sizeof(msg), NULL);
}

static int op_map_anon_commit(struct aspace *a)
{
	svmm_va_t va;
	return aspace_map_anon(a, 0, 8 * PG, RW, ASPACE_COMMIT, &va);
}

static void test_oom_every_point(void **state)
{
	(void)state;
	/* create: the root table and uvmem. */
	unsigned failures = 0;
	for (uint64_t budget = 0; ; budget++) {
		fx_hold_all_but(budget);
		int err = aspace_create(&as, &fx.kpt, &fx.pm, NULL);
		fx_release_all();
		if (err == 0)
			break;
		assert_int_equal(err, SVMM_ENOMEM);
		assert_int_equal(pmem_free_frames(&fx.pm), free0);
		failures++;
	}
	assert_true(failures > 0);
	aspace_destroy(&as);
	hostsim_fail_after(1);
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), SVMM_ENOMEM);
	hostsim_fail_after(0);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);

	oom_sweep("map_anon", prep_inline_full, op_map_anon);
	oom_sweep("map_anon, slab and pool full", prep_tight, op_map_anon);
	oom_sweep("map_phys", prep_region, op_map_phys);
	oom_sweep("fault", prep_for_fault, op_fault);
	oom_sweep("stack fault", prep_none, op_stack_fault);
	oom_sweep("unmap middle", prep_tight, op_unmap_middle);
	oom_sweep("unmap across", prep_tight, op_unmap_across);
	oom_sweep("unmap phys split", prep_phys, op_unmap_phys_split);
	oom_sweep("protect middle", prep_tight, op_protect_middle);
	oom_sweep("protect phys split", prep_phys, op_protect_phys_split);
	oom_sweep("map kernel pages", prep_none, op_map_kernel);
	oom_sweep("copy into a fresh page", prep_for_fault, op_copy_to);
	oom_sweep("map_anon charged, slab and pool full", prep_tight, op_map_anon_commit);
}

/* Frames above the direct map are zeroed through port_kmap. */
static void test_kmap_above_window(void **state)
{
	(void)state;
	fx_teardown();
	assert_int_equal(fx_setup(64 * MiB, 16 * MiB, SVMM_SV48, 16), 0);
	free0 = pmem_free_frames(&fx.pm);
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	assert_int_equal(as.stack_top, ((svmm_va_t)1 << 47) - SVMM_USTACK_GUARD);
	svmm_va_t va;
	assert_int_equal(aspace_map_anon(&as, 0, 4 * PG, RW, 0, &va), 0);
	uint64_t k0 = hostsim_kmap_count();
	touch(&as, va, 4);
	assert_int_equal(hostsim_kmap_count(), k0 + 4);      /* PMEM_ANY: high frames */
	assert_int_equal(hostsim_kmaps_live(), 0);
	svmm_pa_t pa;
	assert_int_equal(pt_translate(&as.pt, va, PT_R, PT_PRIV_U, &pa, NULL), 0);
	assert_true(pa >= FX_RAM0 + 16 * MiB);
	/* Region structs and tables stay below the window (past the inline structs). */
	for (unsigned i = 0; i < ASPACE_INLINE_REGIONS; i++)
		assert_int_equal(aspace_map_anon(&as, 0, PG, i % 2 ? PT_R : PT_X, 0, &va), 0);
	assert_true(as.slabs != NULL);
	assert_true(as.pt.root < FX_RAM0 + 16 * MiB);
	assert_true(port_va_to_pa(as.slabs) < FX_RAM0 + 16 * MiB);
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* Many regions: more than one slab page and more than vmem's bootstrap nodes. */
static void test_many_regions(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	static svmm_va_t va[300];
	for (unsigned i = 0; i < 300; i++) {
		/* Every other page, so that each region has free neighbours. */
		assert_int_equal(aspace_map_anon(&as, base_va + 2 * i * PG, PG, RW, ASPACE_FIXED,
						 &va[i]), 0);
		if (i % 7 == 0)
			assert_int_equal(aspace_fault(&as, va[i], PT_W), 0);
	}
	assert_true(as.slab_pages >= 300 / 63);
	assert_true(as.pool_pages >= 1);
	check(&as);
	for (unsigned i = 0; i < 300; i += 2)
		assert_int_equal(aspace_unmap(&as, va[i], PG), 0);
	check(&as);
	assert_int_equal(as.nregions, 150);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * A port may keep freed table frames (a cache, or frames waiting for a shootdown), so
 * destroy cannot count on pt_destroy handing pmem a frame. This source parks them.
 */
static svmm_pa_t parked[16];
static unsigned nparked;

static void park_table_free(void *ctx, svmm_pa_t pa)
{
	(void)ctx;
	if (nparked == 16)
		abort();
	parked[nparked++] = pa;
}

/*
 * Destroy needs no memory. Regions packed against the start of uvmem, and exactly as
 * many gaps as vmem's bootstrap nodes, leave vmem's node pool empty; freeing the first
 * region then (both neighbours allocated) needed a new node page, pmem had none, and
 * destroy panicked.
 */
static void test_destroy_needs_no_memory(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t va;
	assert_int_equal(aspace_map_anon(&as, SVMM_NULL_GUARD, PG, RW, ASPACE_FIXED, &va), 0);
	assert_int_equal(aspace_map_anon(&as, SVMM_NULL_GUARD + PG, PG, PT_R, ASPACE_FIXED, &va), 0);
	struct vmem_stats st;
	vmem_stats(&as.uvmem, &st);
	for (unsigned k = 0; st.pool_units_free != 0 && k < 1000; k++) {
		assert_int_equal(aspace_map_anon(&as, SVMM_NULL_GUARD + (4 + 2 * k) * PG, PG, RW,
						 ASPACE_FIXED, &va), 0);
		vmem_stats(&as.uvmem, &st);
	}
	assert_int_equal(st.pool_units_free, 0);
	check(&as);

	fx_hold_all_but(0);
	struct hostsim_table_source park = { fx_table_alloc, park_table_free, NULL };
	hostsim_set_table_source(&park);
	nparked = 0;
	aspace_destroy(&as);
	struct hostsim_table_source back = { fx_table_alloc, fx_table_free, NULL };
	hostsim_set_table_source(&back);
	while (nparked > 0)
		assert_int_equal(pmem_free(&fx.pm, parked[--nparked], 0), 0);
	fx_release_all();
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * One truth about the top of the user half: layout says its last SVMM_USTACK_GUARD
 * bytes are never mapped and the stack ends at ustack_top; the address space agrees in
 * every mode (the stack used to end at the very end of the half, and pages there were
 * mapped).
 */
static void test_stack_top_is_layouts(void **state)
{
	(void)state;
	static const enum svmm_mode modes[] = { SVMM_SV39, SVMM_SV48, SVMM_SV57 };
	for (unsigned i = 0; i < 3; i++) {
		fx_teardown();
		assert_int_equal(fx_setup(64 * MiB, 0, modes[i], 16), 0);
		free0 = pmem_free_frames(&fx.pm);
		struct svmm_layout l;
		assert_int_equal(layout_init(&l, modes[i], 0), 0);
		assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
		assert_int_equal(as.stack_top, l.ustack_top);
		assert_int_equal(layout_area_of(&l, as.stack_top - 1), LAYOUT_USTACK);
		assert_int_equal(layout_area_of(&l, as.stack_top), LAYOUT_NONE);
		/* The guard above the stack: every page of it is a plain bad address. */
		for (svmm_va_t va = as.stack_top; va < l.user_end; va += PG) {
			assert_int_equal(aspace_fault(&as, va, PT_W), SVMM_EFAULT);
			assert_int_equal(aspace_fault(&as, va + PG - 1, PT_R), SVMM_EFAULT);
		}
		assert_int_equal(aspace_fault(&as, as.stack_top - 1, PT_W), 0);
		assert_int_equal(as.stack_low, as.stack_top - PG);
		assert_int_equal(pt_translate(&as.pt, l.user_end - PG, PT_R, PT_PRIV_U, NULL, NULL),
				 SVMM_EFAULT);
		check(&as);
		aspace_destroy(&as);
		assert_int_equal(pmem_free_frames(&fx.pm), free0);
	}
}

/*
 * A fault on a page that is mapped answers at once: 0 when the leaf allows the access
 * (no frame: with no free frame at all it still succeeds), the permission error when
 * it does not. It used to allocate and zero a frame, meet SVMM_EEXIST and free it.
 */
static void test_fault_on_present_page(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t va, ro, ph;
	assert_int_equal(aspace_map_anon(&as, 0, 4 * PG, RW, 0, &va), 0);
	assert_int_equal(aspace_map_anon(&as, 0, 4 * PG, PT_R, 0, &ro), 0);
	assert_int_equal(aspace_map_phys(&as, 0, FX_RAM0 + 8 * MiB, 2 * PG, PT_R, 0, &ph), 0);
	assert_int_equal(aspace_fault(&as, va, PT_W), 0);
	assert_int_equal(aspace_fault(&as, ro, PT_R), 0);
	assert_int_equal(aspace_fault(&as, as.stack_top - PG, PT_W), 0);
	user_ptr(&as, va)[9] = 0x77;
	static struct fx_snap before, after;
	fx_snap_take(&as, &before);
	uint64_t faults = as.faults;
	fx_hold_all_but(0);
	hostsim_fail_after(1);
	assert_int_equal(aspace_fault(&as, va + 9, PT_W), 0);
	assert_int_equal(aspace_fault(&as, va, PT_R), 0);
	assert_int_equal(aspace_fault(&as, ro + 5, PT_R), 0);
	assert_int_equal(aspace_fault(&as, ph + PG, PT_R), 0);
	assert_int_equal(aspace_fault(&as, as.stack_top - 8, PT_R), 0);
	/* Present, and the access is not allowed: the error, at once. */
	assert_int_equal(aspace_fault(&as, ro, PT_W), SVMM_EPERM);
	assert_int_equal(aspace_fault(&as, ro, PT_X), SVMM_EPERM);
	assert_int_equal(aspace_fault(&as, va, PT_X), SVMM_EPERM);
	assert_int_equal(aspace_fault(&as, ph, PT_W), SVMM_EPERM);
	assert_int_equal(aspace_fault(&as, as.stack_top - PG, PT_X), SVMM_EPERM);
	/* No allocation was attempted: the injected table failure is still pending. */
	assert_true(hostsim_fail_point());
	hostsim_fail_after(0);
	fx_release_all();
	assert_int_equal(as.faults, faults);
	fx_snap_take(&as, &after);
	assert_true(fx_snap_equal(&before, &after));
	assert_int_equal(user_ptr(&as, va)[9], 0x77);
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* Small physical ranges keep pa's offset modulo 2 MiB too, as the contract says. */
static void test_map_phys_small_keeps_phase(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t va, first;
	assert_int_equal(aspace_map_anon(&as, 0, 5 * PG, RW, 0, &first), 0);
	for (unsigned i = 0; i < 24; i++) {
		svmm_pa_t pa = FX_RAM0 + 4 * MiB + (svmm_pa_t)((i * 37) % 512) * PG;
		uint64_t size = (1 + i % 7) * PG;
		assert_int_equal(aspace_map_phys(&as, 0, pa, size, PT_R, 0, &va), 0);
		assert_int_equal(va % (2 * MiB), pa % (2 * MiB));
		svmm_pa_t got;
		assert_int_equal(pt_translate(&as.pt, va + size - 1, PT_R, PT_PRIV_U, &got, NULL), 0);
		assert_int_equal(got, pa + size - 1);
	}
	/* A free hint still wins over the phase. */
	assert_int_equal(aspace_map_phys(&as, 0x70000000, FX_RAM0 + 3 * PG, PG, PT_R, 0, &va), 0);
	assert_int_equal(va, 0x70000000);
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* svmm's layout, and the rules every layout must keep (SVMM_EINVAL, nothing allocated). */
static void test_layout_rules(void **state)
{
	(void)state;
	struct aspace_layout d, l;
	assert_int_equal(aspace_layout_default(SVMM_SV39, &d), 0);
	assert_int_equal(d.user_base, SVMM_NULL_GUARD);
	assert_int_equal(d.user_end, 255 * GiB);
	assert_int_equal(d.stack_base, 255 * GiB);
	assert_int_equal(d.stack_top, 256 * GiB - SVMM_USTACK_GUARD);
	assert_int_equal(d.stack_max, ASPACE_STACK_MAX);
	assert_int_equal(d.stack_guard, ASPACE_STACK_GUARD);
	assert_int_equal(aspace_layout_default((enum svmm_mode)7, &d), SVMM_EMODE);
	assert_int_equal(aspace_layout_default(SVMM_SV39, NULL), SVMM_EINVAL);
	/* The default given explicitly is the default. */
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, &d), 0);
	assert_int_equal(as.user_base, d.user_base);
	assert_int_equal(as.stack_limit, d.stack_top - d.stack_max);
	check(&as);
	aspace_destroy(&as);
	struct { svmm_va_t *field; svmm_va_t value; } bad[] = {
		{ &l.user_base, 1 },                          /* unaligned */
		{ &l.user_base, 255 * GiB },                  /* empty user range */
		{ &l.user_end, 257 * GiB },                   /* beyond the user half */
		{ &l.stack_base, 254 * GiB },                 /* stack slot over uvmem */
		{ &l.stack_top, 256 * GiB + PG },             /* beyond the user half */
		{ &l.stack_max, 0 },                          /* a stack that cannot grow */
		{ &l.stack_max, GiB },                        /* no room for the guard */
		{ &l.stack_guard, 2 * GiB },                  /* guard bigger than the slot */
		{ &l.stack_guard, PG + 8 },                   /* unaligned */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		l = d;
		*bad[i].field = bad[i].value;
		assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, &l), SVMM_EINVAL);
		assert_int_equal(pmem_free_frames(&fx.pm), free0);
	}
	/* No stack at all: every fault outside regions is a bad address, no limit to set. */
	l = d;
	l.stack_base = l.stack_top = 0;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, &l), 0);
	assert_int_equal(aspace_fault(&as, d.stack_top - PG, PT_W), SVMM_EFAULT);
	assert_int_equal(aspace_fault(&as, d.stack_top - d.stack_max - PG, PT_W), SVMM_EFAULT);
	assert_int_equal(aspace_set_stack_limit(&as, PG), SVMM_ERANGE);
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * A kernel of its own kind: identity-mapped in the lower half (its tree built with
 * pt_init), running on its own table, xv6-like: user memory from one page up, the
 * stack slot below a trap frame and a trampoline at the top of the Sv39 half that every
 * address space maps for the kernel alone.
 */
#define MAXVA       ((svmm_va_t)1 << 38)
#define TRAMPOLINE  (MAXVA - PG)
#define TRAPFRAME   (TRAMPOLINE - PG)

static void test_lower_half_kernel(void **state)
{
	(void)state;
	struct pt kpt;
	assert_int_equal(pt_init(&kpt, SVMM_SV39, 0), 0);
	assert_int_equal(pt_map(&kpt, FX_RAM0, FX_RAM0, 64 * MiB, PT_R | PT_W), 0);
	struct aspace_layout l = {
		.user_base = PG, .user_end = 64 * GiB,
		.stack_base = 64 * GiB, .stack_top = TRAPFRAME - PG,
		.stack_max = MiB, .stack_guard = 64 * SVMM_KiB,
	};
	assert_int_equal(aspace_create(&as, &kpt, &fx.pm, &l), 0);
	/* Nothing of the kernel's tree is shared. */
	uint64_t *root = port_pa_to_va(as.pt.root);
	for (unsigned i = 0; i < 512; i++)
		assert_int_equal(root[i], 0);
	/* User memory right above the one-page null guard, and the stack. */
	svmm_va_t va;
	assert_int_equal(aspace_map_anon(&as, PG, 4 * PG, RW, ASPACE_FIXED, &va), 0);
	assert_int_equal(aspace_fault(&as, PG + 8, PT_W), 0);
	assert_int_equal(aspace_fault(&as, 8, PT_R), SVMM_EFAULT);
	assert_int_equal(aspace_fault(&as, l.stack_top - 8, PT_W), 0);
	assert_int_equal(aspace_fault(&as, l.stack_top - MiB, PT_W), 0);
	assert_int_equal(aspace_fault(&as, l.stack_top - MiB - 8, PT_W), SVMM_ESTACK);
	assert_int_equal(aspace_fault(&as, l.stack_top - MiB - 64 * SVMM_KiB - 8, PT_W),
			 SVMM_EFAULT);
	/* The trampoline (R+X) and the trap frame (RW), kernel-only. */
	svmm_pa_t tramp, tf;
	assert_int_equal(pmem_alloc(&fx.pm, 0, PMEM_ANY, &tramp), 0);
	assert_int_equal(pmem_alloc(&fx.pm, 0, PMEM_ANY, &tf), 0);
	static struct fx_snap before, after;
	fx_snap_take(&as, &before);
	/* Bad input first: each refused, nothing changed. */
	assert_int_equal(aspace_map_kernel(&as, TRAMPOLINE, tramp, 0, PT_R, 0), SVMM_EZEROSIZE);
	assert_int_equal(aspace_map_kernel(&as, TRAMPOLINE + 8, tramp, PG, PT_R, 0),
			 SVMM_EUNALIGNED);
	assert_int_equal(aspace_map_kernel(&as, TRAMPOLINE, tramp + 8, PG, PT_R, 0),
			 SVMM_EUNALIGNED);
	assert_int_equal(aspace_map_kernel(&as, ~(svmm_va_t)0 - PG + 1, tramp, 2 * PG, PT_R, 0),
			 SVMM_EOVERFLOW);
	assert_int_equal(aspace_map_kernel(&as, 0, tramp, PG, PT_R, 0), SVMM_ERANGE);  /* guard */
	assert_int_equal(aspace_map_kernel(&as, 2 * PG, tramp, PG, PT_R, 0), SVMM_ERANGE);
	assert_int_equal(aspace_map_kernel(&as, l.stack_top - PG, tramp, PG, PT_R, 0),
			 SVMM_ERANGE);
	assert_int_equal(aspace_map_kernel(&as, l.stack_top - PG, tramp, 2 * PG, PT_R, 0),
			 SVMM_ERANGE);
	assert_int_equal(aspace_map_kernel(&as, svmm_user_end(SVMM_SV39), tramp, PG, PT_R, 0),
			 SVMM_ERANGE);
	assert_int_equal(aspace_map_kernel(&as, TRAMPOLINE, PT_PA_LIMIT, PG, PT_R, 0),
			 SVMM_ERANGE);
	assert_int_equal(aspace_map_kernel(&as, TRAMPOLINE, tramp, PG, PT_W | PT_X, 0),
			 SVMM_EPERM);
	assert_int_equal(aspace_map_kernel(&as, TRAMPOLINE, tramp, PG, PT_U | PT_R, 0),
			 SVMM_EINVAL);
	assert_int_equal(aspace_map_kernel(&as, TRAMPOLINE, tramp, PG, PT_R, ASPACE_FIXED),
			 SVMM_EINVAL);
	assert_int_equal(aspace_unmap_kernel(&as, PG, PG), SVMM_ERANGE);
	fx_snap_take(&as, &after);
	assert_true(fx_snap_equal(&before, &after));
	assert_int_equal(aspace_map_kernel(&as, TRAMPOLINE, tramp, PG, PT_R | PT_X, 0), 0);
	assert_int_equal(aspace_map_kernel(&as, TRAPFRAME, tf, PG, RW, 0), 0);
	assert_int_equal(aspace_map_kernel(&as, TRAPFRAME, tf, 2 * PG, RW, 0), SVMM_EBUSY);
	assert_int_equal(as.kernel_bytes, 2 * PG);
	check(&as);
	svmm_pa_t pa;
	assert_int_equal(pt_translate(&as.pt, TRAMPOLINE + 4, PT_X, 0, &pa, NULL), 0);
	assert_int_equal(pa, tramp + 4);
	assert_int_equal(pt_translate(&as.pt, TRAPFRAME, PT_W, 0, &pa, NULL), 0);
	assert_int_equal(pt_translate(&as.pt, TRAMPOLINE, PT_X, PT_PRIV_U, NULL, NULL),
			 SVMM_EFAULT);
	assert_int_equal(pt_translate(&as.pt, TRAPFRAME, PT_R, PT_PRIV_U | PT_SUM, NULL, NULL),
			 SVMM_EFAULT);
	/* The user cannot reach them: no region, no fault resolution, no map there. */
	assert_int_equal(aspace_fault(&as, TRAPFRAME, PT_R), SVMM_EFAULT);
	assert_int_equal(aspace_fault(&as, TRAMPOLINE, PT_X), SVMM_EFAULT);
	assert_int_equal(aspace_map_anon(&as, TRAPFRAME, PG, RW, ASPACE_FIXED, &va), SVMM_ERANGE);
	assert_int_equal(aspace_unmap(&as, TRAPFRAME, PG), SVMM_ERANGE);
	/* Unmap one, keep the other; destroy leaves the kernel's frames alone. */
	assert_int_equal(aspace_unmap_kernel(&as, TRAPFRAME, PG), 0);
	assert_int_equal(as.kernel_bytes, PG);
	assert_int_equal(aspace_unmap_kernel(&as, TRAPFRAME, PG), 0);      /* a hole: fine */
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_frame(&fx.pm, tramp)->state, PMEM_ALLOC);
	assert_int_equal(pmem_free(&fx.pm, tramp, 0), 0);
	assert_int_equal(pmem_free(&fx.pm, tf, 0), 0);
	assert_int_equal(pt_unmap(&kpt, FX_RAM0, 64 * MiB, 0), 0);
	pt_destroy(&kpt, pt_leaf_ignore, NULL);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* In svmm's layout the kernel half is shared; the only room for kernel pages is the top gap. */
static void test_kernel_pages_default_layout(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t half = svmm_user_end(SVMM_SV39);
	assert_int_equal(aspace_map_kernel(&as, half - 2 * SVMM_USTACK_GUARD, FX_RAM0, PG, PT_R, 0),
			 SVMM_ERANGE);
	assert_int_equal(aspace_map_kernel(&as, as.stack_top, FX_RAM0, PG, PT_R, ASPACE_NC), 0);
	assert_int_equal(aspace_fault(&as, as.stack_top, PT_R), SVMM_EFAULT);
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* The regions in address order, through the API: first at or after an address, next. */
static void test_region_iteration(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	assert_null(aspace_region_first(&as, 0));
	svmm_va_t a, b, c;
	assert_int_equal(aspace_map_anon(&as, 0x30000000, 4 * PG, PT_R, ASPACE_FIXED, &c), 0);
	assert_int_equal(aspace_map_anon(&as, 0x10000000, 2 * PG, RW, ASPACE_FIXED, &a), 0);
	assert_int_equal(aspace_map_anon(&as, 0x20000000, PG, PT_X, ASPACE_FIXED, &b), 0);
	struct aspace_region *r = aspace_region_first(&as, 0);
	assert_int_equal(r->node.addr, a);
	r = aspace_region_next(&as, r);
	assert_int_equal(r->node.addr, b);
	r = aspace_region_next(&as, r);
	assert_int_equal(r->node.addr, c);
	assert_null(aspace_region_next(&as, r));
	assert_null(aspace_region_next(&as, NULL));
	/* An address inside a region gives that region; one in a hole, the next. */
	assert_int_equal(aspace_region_first(&as, a + PG + 5)->node.addr, a);
	assert_int_equal(aspace_region_first(&as, a + 2 * PG)->node.addr, b);
	assert_int_equal(aspace_region_first(&as, c + 4 * PG - 1)->node.addr, c);
	assert_null(aspace_region_first(&as, c + 4 * PG));
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

static unsigned char buf[8 * 4096], back[8 * 4096];

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed + i * 7 + (i >> 9));
}

/* Copies into and out of an address space: faulting in, permissions, the stack. */
static void test_copy_to_from(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t rw, ro, xo, io, ram;
	assert_int_equal(aspace_map_anon(&as, 0x10000000, 8 * PG, RW, ASPACE_FIXED, &rw), 0);
	assert_int_equal(aspace_map_anon(&as, rw + 8 * PG, 4 * PG, PT_R, ASPACE_FIXED, &ro), 0);
	assert_int_equal(aspace_map_anon(&as, 0x20000000, 2 * PG, PT_X, ASPACE_FIXED, &xo), 0);
	assert_int_equal(aspace_map_phys(&as, 0, 0x10000000, PG, RW, ASPACE_IO, &io), 0);
	svmm_pa_t blk;
	assert_int_equal(pmem_alloc(&fx.pm, 1, PMEM_ANY, &blk), 0);
	assert_int_equal(aspace_map_phys(&as, 0, blk, 2 * PG, RW, 0, &ram), 0);
	/* Into fresh demand-zero pages, unaligned, across three pages. */
	fill(buf, sizeof(buf), 1);
	uint64_t done = 77;
	assert_int_equal(aspace_copy_to(&as, rw + 100, buf, 2 * PG + 300, &done), 0);
	assert_int_equal(done, 2 * PG + 300);
	assert_int_equal(as.resident, 3);
	assert_int_equal(user_ptr(&as, rw)[99], 0);              /* zero before the copy */
	assert_memory_equal(user_ptr(&as, rw) + 100, buf, PG - 100);
	assert_int_equal(user_ptr(&as, rw + 2 * PG)[400], 0);    /* zero after it */
	/* Out again, across resident and absent pages: absent ones read as zeros and stay
	 * absent. */
	memset(back, 0xcc, sizeof(back));
	assert_int_equal(aspace_copy_from(&as, back, rw, 8 * PG, &done), 0);
	assert_int_equal(done, 8 * PG);
	assert_int_equal(as.resident, 3);
	assert_int_equal(back[99], 0);
	assert_memory_equal(back + 100, buf, 2 * PG + 300);
	for (size_t i = 3 * PG; i < 8 * PG; i++)
		assert_int_equal(back[i], 0);
	/* Out of a read-only region and across the boundary into it. */
	assert_int_equal(aspace_copy_from(&as, back, rw + 7 * PG, 2 * PG, NULL), 0);
	/* The stack: a copy to its top grows it, as a push would. */
	assert_int_equal(aspace_copy_to(&as, as.stack_top - 100, buf, 100, NULL), 0);
	assert_int_equal(as.stack_pages, 1);
	assert_int_equal(aspace_copy_from(&as, back, as.stack_top - 100, 100, NULL), 0);
	assert_memory_equal(back, buf, 100);
	/* A phys region of RAM is copied through its frames. */
	assert_int_equal(aspace_copy_to(&as, ram + PG - 8, buf, 16, NULL), 0);
	assert_memory_equal((unsigned char *)port_pa_to_va(blk) + PG - 8, buf, 16);
	/* Refusals, each before any byte moves. */
	static struct fx_snap before, after;
	fx_snap_take(&as, &before);
	memcpy(back, user_ptr(&as, rw + PG), PG);
	done = 5;
	assert_int_equal(aspace_copy_to(&as, ro, buf, 8, &done), SVMM_EPERM);
	assert_int_equal(done, 0);
	assert_int_equal(aspace_copy_to(&as, rw + PG, buf, 8 * PG, &done), SVMM_EPERM);  /* into ro */
	assert_int_equal(aspace_copy_to(&as, xo, buf, 8, NULL), SVMM_EPERM);
	assert_int_equal(aspace_copy_from(&as, back + PG, xo, 8, NULL), SVMM_EPERM);
	assert_int_equal(aspace_copy_to(&as, io, buf, 8, NULL), SVMM_EPERM);
	assert_int_equal(aspace_copy_from(&as, back + PG, io, 8, NULL), SVMM_EPERM);
	assert_int_equal(aspace_copy_to(&as, ro + 4 * PG, buf, 8, NULL), SVMM_EFAULT);  /* hole */
	assert_int_equal(aspace_copy_to(&as, rw + PG, buf, 16 * PG, NULL), SVMM_EPERM);
	assert_int_equal(aspace_copy_from(&as, back + PG, rw + 8 * PG, 8 * PG, NULL),
			 SVMM_EFAULT);                                 /* runs past ro */
	assert_int_equal(aspace_copy_to(&as, 8, buf, 8, NULL), SVMM_EFAULT);        /* null */
	assert_int_equal(aspace_copy_to(&as, as.stack_limit - 8, buf, 16, NULL), SVMM_EFAULT);
	assert_int_equal(aspace_copy_to(&as, as.stack_top - 8, buf, 16, NULL), SVMM_EFAULT);
	assert_int_equal(aspace_copy_from(&as, back + PG, svmm_kernel_base(SVMM_SV39), 8, NULL),
			 SVMM_EFAULT);
	assert_int_equal(aspace_copy_to(&as, ~(svmm_va_t)0 - 4, buf, 8, NULL), SVMM_EOVERFLOW);
	assert_int_equal(aspace_copy_to(&as, rw, NULL, 8, NULL), SVMM_EINVAL);
	assert_int_equal(aspace_copy_from(&as, NULL, rw, 8, NULL), SVMM_EINVAL);
	assert_int_equal(aspace_copy_to(NULL, rw, buf, 8, NULL), SVMM_EINVAL);
	assert_int_equal(aspace_copy_to(&as, rw, NULL, 0, &done), 0);       /* nothing to do */
	assert_int_equal(done, 0);
	fx_snap_take(&as, &after);
	assert_true(fx_snap_equal(&before, &after));
	assert_memory_equal(back, user_ptr(&as, rw + PG), PG);
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free(&fx.pm, blk, 1), 0);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * A copy that runs out of memory half way: the bytes before the failing page are
 * copied and *done says how many; the pages faulted in stay; the rest goes through
 * once memory is back. Reading never allocates, so it copies all with no frame left.
 */
static void test_copy_partial_failure(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t va;
	assert_int_equal(aspace_map_anon(&as, 0x10000000, 6 * PG, RW, ASPACE_FIXED, &va), 0);
	assert_int_equal(aspace_fault(&as, va, PT_W), 0);       /* the tables exist now */
	fill(buf, sizeof(buf), 9);
	fx_hold_all_but(2);
	uint64_t done = 0;
	assert_int_equal(aspace_copy_to(&as, va + 16, buf, 5 * PG, &done), SVMM_ENOMEM);
	assert_int_equal(done, 3 * PG - 16);
	assert_int_equal(as.resident, 3);
	check(&as);
	memset(back, 0, sizeof(back));
	assert_int_equal(aspace_copy_from(&as, back, va + 16, 5 * PG, &done), 0);
	assert_int_equal(done, 5 * PG);
	assert_memory_equal(back, buf, 3 * PG - 16);
	for (size_t i = 3 * PG - 16; i < 5 * PG; i++)
		assert_int_equal(back[i], 0);
	fx_release_all();
	assert_int_equal(aspace_copy_to(&as, va + 3 * PG, buf + 3 * PG - 16, 2 * PG + 16, &done),
			 0);
	assert_int_equal(aspace_copy_from(&as, back, va + 16, 5 * PG, NULL), 0);
	assert_memory_equal(back, buf, 5 * PG);
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* Frames above the direct-map window are copied through port_kmap, one page at a time. */
static void test_copy_above_window(void **state)
{
	(void)state;
	fx_teardown();
	assert_int_equal(fx_setup(64 * MiB, 16 * MiB, SVMM_SV39, 16), 0);
	free0 = pmem_free_frames(&fx.pm);
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t va;
	assert_int_equal(aspace_map_anon(&as, 0, 4 * PG, RW, 0, &va), 0);
	fill(buf, sizeof(buf), 3);
	uint64_t k0 = hostsim_kmap_count();
	assert_int_equal(aspace_copy_to(&as, va + 8, buf, 3 * PG, NULL), 0);
	/* Per page: one kmap to zero it, one to copy into it. */
	assert_int_equal(hostsim_kmap_count(), k0 + 8);
	assert_int_equal(hostsim_kmaps_live(), 0);
	svmm_pa_t pa;
	assert_int_equal(pt_translate(&as.pt, va, PT_R, PT_PRIV_U, &pa, NULL), 0);
	assert_true(pa >= FX_RAM0 + 16 * MiB);
	memset(back, 0, sizeof(back));
	assert_int_equal(aspace_copy_from(&as, back, va + 8, 3 * PG, NULL), 0);
	assert_memory_equal(back, buf, 3 * PG);
	assert_int_equal(hostsim_kmap_count(), k0 + 8 + 4);
	assert_int_equal(hostsim_kmaps_live(), 0);
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * Adjacent anonymous regions with the same attributes are one region, as Linux merges
 * compatible VMAs: a heap grown by 30,000 calls of 4 KiB is one region, with
 * aspace_check after every call. Unmap and protect split it again; protect back and
 * refilling the hole merge it again. Different permissions and phys regions never merge.
 */
static void test_merge_regions(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t heap = 0x10000000, brk = heap, va;
	for (unsigned i = 0; i < 30000; i++) {
		assert_int_equal(aspace_map_anon(&as, brk, PG, RW, ASPACE_FIXED, &va), 0);
		assert_int_equal(va, brk);
		brk += PG;
		assert_int_equal(as.nregions, 1);
		if (i % 16 == 0 || i > 29900)
			check(&as);
	}
	assert_int_equal(aspace_lookup(&as, heap)->node.size, 30000 * PG);
	assert_int_equal(as.slab_pages, 0);      /* one region: an inline struct */
	/* Grown by hint too (no ASPACE_FIXED), and downwards. */
	assert_int_equal(aspace_map_anon(&as, brk, 4 * PG, RW, 0, &va), 0);
	assert_int_equal(aspace_map_anon(&as, heap - 2 * PG, 2 * PG, RW, ASPACE_FIXED, &va), 0);
	assert_int_equal(as.nregions, 1);
	heap -= 2 * PG;
	brk += 4 * PG;
	touch(&as, heap, 8);
	/* Protect splits a region in three and merges it back. */
	assert_int_equal(aspace_protect(&as, heap + 2 * PG, 3 * PG, PT_R), 0);
	assert_int_equal(as.nregions, 3);
	check(&as);
	assert_int_equal(aspace_protect(&as, heap + 3 * PG, PG, RW), 0);
	assert_int_equal(as.nregions, 5);
	assert_int_equal(aspace_protect(&as, heap, brk - heap, RW), 0);
	assert_int_equal(as.nregions, 1);
	check(&as);
	/* Unmap splits; mapping the hole again with the same attributes joins all three. */
	assert_int_equal(aspace_unmap(&as, heap + 4 * PG, 2 * PG), 0);
	assert_int_equal(as.nregions, 2);
	assert_int_equal(aspace_map_anon(&as, heap + 4 * PG, 2 * PG, RW, ASPACE_FIXED, &va), 0);
	assert_int_equal(as.nregions, 1);
	assert_int_equal(user_ptr(&as, heap + 3 * PG)[0], 4);   /* contents kept */
	check(&as);
	/* Different permissions and physical ranges stay apart. */
	assert_int_equal(aspace_map_anon(&as, brk, PG, PT_R, ASPACE_FIXED, &va), 0);
	assert_int_equal(aspace_map_phys(&as, brk + PG, FX_RAM0, PG, PT_R, ASPACE_FIXED, &va), 0);
	assert_int_equal(aspace_map_phys(&as, brk + 2 * PG, FX_RAM0 + PG, PG, PT_R, ASPACE_FIXED,
					 &va), 0);
	assert_int_equal(aspace_map_anon(&as, brk + 3 * PG, PG, PT_R, ASPACE_FIXED, &va), 0);
	assert_int_equal(as.nregions, 5);
	check(&as);
	/* The whole heap goes in one unmap. */
	assert_int_equal(aspace_unmap(&as, heap, brk - heap), 0);
	assert_int_equal(as.nregions, 4);
	assert_int_equal(as.resident, 0);
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * Commit accounting: ASPACE_COMMIT charges a region's whole size to pmem's commit
 * count at map time, so that a map fails cleanly past the limit and faults there
 * always find their promise; other anonymous memory and the stack are charged one
 * page per fault. unmap and destroy give every charge back.
 */
static void test_commit_accounting(void **state)
{
	(void)state;
	uint64_t c0;
	pmem_commit_stats(&fx.pm, &c0, NULL);
	assert_int_equal(c0, 0);
	pmem_commit_limit(&fx.pm, 100);
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t heap, more, lazy;
	assert_int_equal(aspace_map_anon(&as, 0x10000000, 64 * PG, RW, ASPACE_FIXED | ASPACE_COMMIT,
					 &heap), 0);
	assert_int_equal(as.committed, 64);
	/* Past the limit: refused at once, nothing changed. */
	static struct fx_snap before, after;
	fx_snap_take(&as, &before);
	assert_int_equal(aspace_map_anon(&as, 0, 40 * PG, RW, ASPACE_COMMIT, &more), SVMM_ENOMEM);
	assert_int_equal(aspace_map_anon(&as, 0, 8 * PG, RW, ASPACE_COMMIT | ASPACE_IO, &more),
			 SVMM_EINVAL);
	assert_int_equal(aspace_map_phys(&as, 0, FX_RAM0, PG, PT_R, ASPACE_COMMIT, &more),
			 SVMM_EINVAL);
	fx_snap_take(&as, &after);
	assert_true(fx_snap_equal(&before, &after));
	assert_int_equal(as.committed, 64);
	assert_int_equal(aspace_map_anon(&as, 0, 30 * PG, RW, ASPACE_COMMIT, &more), 0);
	/* A region charged at map time and one charged per fault never merge. */
	assert_int_equal(aspace_map_anon(&as, heap + 64 * PG, 16 * PG, RW, ASPACE_FIXED, &lazy), 0);
	assert_int_equal(as.nregions, 3);
	assert_int_equal(as.committed, 94);
	/* Faults in charged regions charge nothing; per-fault charges meet the limit. */
	touch(&as, heap, 64);
	assert_int_equal(as.committed, 94);
	for (unsigned i = 0; i < 6; i++)
		assert_int_equal(aspace_fault(&as, lazy + i * PG, PT_W), 0);
	assert_int_equal(as.committed, 100);
	fx_snap_take(&as, &before);
	assert_int_equal(aspace_fault(&as, lazy + 6 * PG, PT_W), SVMM_ENOMEM);
	assert_int_equal(aspace_fault(&as, as.stack_top - PG, PT_W), SVMM_ENOMEM);
	assert_int_equal(aspace_copy_to(&as, lazy + 7 * PG, "x", 1, NULL), SVMM_ENOMEM);
	fx_snap_take(&as, &after);
	assert_true(fx_snap_equal(&before, &after));
	/* ...while the promise of a charged region holds. */
	assert_int_equal(aspace_fault(&as, more + 29 * PG, PT_W), 0);
	check(&as);
	/* Unmap gives back: a charged range by its size, the rest by its frames. */
	assert_int_equal(aspace_unmap(&as, heap + 60 * PG, 8 * PG), 0);   /* 4 + 4 pages */
	assert_int_equal(as.committed, 100 - 4 - 4);
	assert_int_equal(aspace_fault(&as, as.stack_top - PG, PT_W), 0);
	assert_int_equal(as.committed, 93);
	assert_int_equal(aspace_protect(&as, heap, 8 * PG, PT_R), 0);       /* cuts keep it */
	assert_int_equal(aspace_unmap(&as, heap, 4 * PG), 0);
	assert_int_equal(as.committed, 89);
	uint64_t c;
	pmem_commit_stats(&fx.pm, &c, NULL);
	assert_int_equal(c, 89);
	check(&as);
	aspace_destroy(&as);
	pmem_commit_stats(&fx.pm, &c, NULL);
	assert_int_equal(c, 0);
	pmem_commit_limit(&fx.pm, 0);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * Merging is best effort: with uvmem's node pool empty and no free frame, a protect
 * that makes two regions compatible succeeds and leaves them apart (a join needs a
 * node); once memory is back, the next protect there joins them.
 */
/* Merging needs no memory (vmem joins allocations in place), so it always happens. */
static void test_merge_needs_no_memory(void **state)
{
	(void)state;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	svmm_va_t a = base_va, x;
	assert_int_equal(aspace_map_anon(&as, a, 2 * PG, RW, ASPACE_FIXED, &x), 0);
	assert_int_equal(aspace_map_anon(&as, a + 2 * PG, 2 * PG, PT_R, ASPACE_FIXED, &x), 0);
	assert_int_equal(aspace_map_anon(&as, a + 4 * PG, 2 * PG, PT_X, ASPACE_FIXED, &x), 0);
	touch(&as, a, 2);
	struct vmem_stats st;
	x = base_va + GiB;
	for (;;) {
		vmem_stats(&as.uvmem, &st);
		if (st.pool_units_free == 0)
			break;
		assert_int_equal(aspace_map_anon(&as, x, PG, PT_R, ASPACE_FIXED, &x), 0);
		x += 2 * PG;
	}
	uint64_t n = as.nregions;
	/* with no frame to be had and no spare vmem node, the protect still joins */
	fx_hold_all_but(0);
	assert_int_equal(aspace_protect(&as, a + 2 * PG, 2 * PG, RW), 0);
	fx_release_all();
	assert_int_equal(as.nregions, n - 1);         /* joined: vmem joins in place */
	assert_int_equal(aspace_lookup(&as, a)->node.size, 4 * PG);
	assert_int_equal(user_ptr(&as, a + PG)[0], 2);
	check(&as);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_destroy_accounting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_demand_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_errors_and_stack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_placement_and_fixed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_phys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmap_splits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protect_splits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_activate_rollover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom_every_point, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kmap_above_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_needs_no_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stack_top_is_layouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_on_present_page, setup, teardown),
		cmocka_unit_test_setup_teardown(test_map_phys_small_keeps_phase, setup, teardown),
		cmocka_unit_test_setup_teardown(test_layout_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lower_half_kernel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kernel_pages_default_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_region_iteration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_to_from, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_partial_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_above_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_regions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_accounting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_needs_no_memory, setup, teardown),
	};
	return cmocka_run_group_tests_name("aspace", tests, NULL, NULL);
}
