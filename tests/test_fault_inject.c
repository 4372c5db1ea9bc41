/*
 * test_fault_inject.c - out-of-memory at every allocation point of a whole address-space
 * lifecycle, in every paging mode.
 *
 * One scenario touches every kind of allocation the core makes: the root table and
 * uvmem at create, region structs (slab pages), uvmem pool pages, page tables at every
 * level, data frames on faults and stack growth, a table to split a huge page of a
 * physical mapping on unmap and on protect, the teardown at destroy, and a fork: the
 * copy-on-write clone (region structs, object clones and their index nodes), copy-on-
 * write faults on both sides (copying and taking over), a kernel copy into a shared
 * page, and a cut and a protect of the child's region. For every step
 * k and every n, the steps before k run normally, then step k runs with only n frames
 * left in pmem (and once more with the n-th port_table_alloc failing). A failure must
 * be SVMM_ENOMEM and leave the address space exactly as it was (regions, every leaf,
 * counters, frames: the fixture's snapshot), with aspace_check clean; the same step
 * retried with memory back must then succeed, the scenario runs to its end, the data
 * written on the way reads back, and after destroy every frame and every table frame
 * is back. The test ends for a step once n is large enough for it to succeed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aspace_fixture.h"

#define PG  SVMM_PAGE_SIZE
#define MiB SVMM_MiB
#define RW  (PT_R | PT_W)

static struct aspace as, as2;           /* as2: as's copy-on-write clone (fork) */
static struct vmobj *shm, *file;         /* shared memory and a pager-backed "file" */
static const svmm_va_t S = 0x50000000;   /* shared memory, in both */
static const svmm_va_t F = 0x51000000;   /* the file, mapped privately */

/* The file's page n holds n * 4096 + 8 * index in every word. */
static int file_fill(void *ctx, uint64_t off, svmm_pa_t pa)
{
	(void)ctx;
	uint64_t *w = port_kmap(pa);
	for (unsigned i = 0; i < SVMM_PAGE_SIZE / 8; i++)
		w[i] = off + i * 8;
	port_kunmap(w);
	return 0;
}
static uint64_t free0, tables0;
static const svmm_va_t A = 0x10000000;         /* 8 MiB anonymous, 2 MiB aligned */
static const svmm_va_t B = 0x10000000 + 8 * MiB;
static const svmm_va_t P = 0x40000000;         /* 4 MiB of physical memory, huge pages */

static void check(struct aspace *a)
{
	if (aspace_check(a, fx_print, NULL) != 0) {
		aspace_dump(a, fx_print, NULL);
		fail_msg("aspace_check failed");
	}
}

static uint64_t *user_word(svmm_va_t va)
{
	svmm_pa_t pa;
	if (pt_translate(&as.pt, va, PT_R, PT_PRIV_U, &pa, NULL) != 0)
		return NULL;
	return port_pa_to_va(pa);
}

#define STEP_COPY 61   /* the kernel copies three pages and more into untouched memory */

/* The scenario: step k's operation. Returns what the core returned. */
static int step(unsigned k)
{
	svmm_va_t va;
	/* Steps 3..42: write faults spread over A (every 51st page), with the data. */
	if (k >= 3 && k < 43) {
		svmm_va_t a = A + (svmm_va_t)(k - 3) * 51 * PG;
		int err = aspace_fault(&as, a, PT_W);
		if (err == 0)
			*user_word(a) = a ^ 0x5eed;
		return err;
	}
	/* Steps 50..57: stack growth, one page at a time. */
	if (k >= 50 && k < 58)
		return aspace_fault(&as, as.stack_top - (svmm_va_t)(k - 49) * PG, PT_W);
	switch (k) {
	case 0: return aspace_create(&as, &fx.kpt, &fx.pm, NULL);
	case 1: return aspace_map_anon(&as, A, 8 * MiB, RW, ASPACE_FIXED, &va);
	case 2: return aspace_map_anon(&as, B, 16 * PG, RW, ASPACE_FIXED, &va);
	case 43: return aspace_map_phys(&as, P, FX_RAM0 + 16 * MiB, 4 * MiB, RW, ASPACE_FIXED,
				       &va);
	case 44: return aspace_unmap(&as, A + MiB, 64 * PG);           /* split a region */
	case 45: return aspace_protect(&as, A + 3 * MiB, 16 * PG, PT_R);
	case 46: return aspace_unmap(&as, P + MiB, 4 * PG);            /* split a 2 MiB leaf */
	case 47: return aspace_protect(&as, P + 3 * MiB, PG, PT_R);
	case 48: return aspace_fault(&as, B + 3 * PG, PT_W);
	case 49: return aspace_map_anon(&as, 0, 3 * PG, PT_R | PT_X, ASPACE_COMMIT, &va);
	case 58: return aspace_unmap(&as, B - 4 * PG, 8 * PG);         /* across A and B */
	case 59: return aspace_protect(&as, A + 2 * MiB, MiB, PT_R);
	case 60: return aspace_map_kernel(&as, as.stack_top, FX_RAM0 + 20 * MiB, 16 * PG, RW, 0);
	case STEP_COPY: {
		/* The kernel writes into pages nobody touched yet: faulted in on the way. */
		static const char msg[3 * 4096 + 7] = "copied by the kernel";
		return aspace_copy_to(&as, B + 8 * PG - 7, msg, sizeof(msg), NULL);
	}
	case 62: return aspace_unmap_kernel(&as, as.stack_top + 4 * PG, 2 * PG);
	/* Fork: the clone, then copy-on-write faults and changes on both sides. */
	case 63: return aspace_create(&as2, &fx.kpt, &fx.pm, NULL);
	case 64: return aspace_clone(&as, &as2);
	case 65: return aspace_fault(&as, A + 51 * PG, PT_W);          /* the parent copies */
	case 66: return aspace_fault(&as2, A + 51 * PG, PT_W);         /* the child takes over */
	case 67: return aspace_fault(&as2, A + 2 * 51 * PG, PT_W);     /* the child copies */
	case 68: {
		static const uint64_t v = 0xc0ffee;
		return aspace_copy_to(&as2, A + 3 * 51 * PG + 8, &v, sizeof(v), NULL);
	}
	case 69: return aspace_unmap(&as2, A + 4 * 51 * PG, 3 * PG);   /* cut the child's region */
	case 70: return aspace_protect(&as2, A + 5 * 51 * PG, PG, PT_R);
	case 71: return aspace_fault(&as2, as2.stack_top - PG, PT_W);  /* the child's stack */
	/* Objects: shared memory and a file, mapped, faulted, populated, discarded. */
	case 72: return vmobj_create_anon(&fx.pm, 8 * PG, &shm);
	case 73: return aspace_map_obj(&as, S, 8 * PG, RW, ASPACE_FIXED | ASPACE_SHARED, shm, 0,
				       &va);
	case 74: return aspace_map_obj(&as2, S, 8 * PG, RW, ASPACE_FIXED | ASPACE_SHARED, shm, 0,
				       &va);
	case 75: return aspace_fault(&as, S + 2 * PG, PT_W);
	case 76: return vmobj_create_pager(&fx.pm, 16 * PG, file_fill, NULL, &file);
	case 77: return aspace_map_obj(&as, F, 16 * PG, RW, ASPACE_FIXED, file, 0, &va);
	case 78: return aspace_fault(&as, F + 3 * PG, PT_R);            /* the pager fills */
	case 79: return aspace_fault(&as, F + 3 * PG, PT_W);            /* a private copy */
	case 80: return aspace_fault(&as, F + 4 * PG, PT_W);            /* read and copied */
	case 81: return aspace_populate(&as, F + 8 * PG, 4 * PG);
	case 82: return aspace_discard(&as, F + 3 * PG, 2 * PG);
	case 83: return aspace_discard(&as, A + 2 * MiB, 64 * PG);
	default: return 0;
	}
}
#define NSTEPS 84
#define STEP_POPULATE 81   /* like a copy, a populate that fails part way keeps its pages */
#define STEP_SHARED 73     /* from here on, the shared objects (the shared memory and
			      the file) may keep a page they made for a failed fault */

/* What the scenario wrote and must read back, as far as step `done` went. */
static void verify_data(unsigned done)
{
	for (unsigned k = 3; k < 43 && k < done; k++) {
		svmm_va_t a = A + (svmm_va_t)(k - 3) * 51 * PG;
		if (a >= A + MiB && a < A + MiB + 64 * PG)
			continue;                         /* unmapped by step 44 */
		if (done > 58 && a >= B - 4 * PG)
			continue;                         /* unmapped by step 58 */
		if (done > 83 && a >= A + 2 * MiB && a < A + 2 * MiB + 64 * PG)
			continue;                         /* discarded by step 83 */
		uint64_t *w = user_word(a);
		if (w == NULL || *w != (a ^ 0x5eed))
			fail_msg("data at 0x%llx lost (scenario up to step %u)", (unsigned long long)a,
				 done);
	}
	if (done > 61) {
		char got[21];
		assert_int_equal(aspace_copy_from(&as, got, B + 8 * PG - 7, sizeof(got), NULL), 0);
		assert_memory_equal(got, "copied by the kernel", sizeof(got));
	}
}

/* The child's copy reads what the parent wrote before the fork, except its changes. */
static void verify_child(void)
{
	for (unsigned k = 3; k < 43; k++) {
		svmm_va_t a = A + (svmm_va_t)(k - 3) * 51 * PG;
		if ((a >= A + MiB && a < A + MiB + 64 * PG) || a >= B - 4 * PG || k == 7)
			continue;                         /* unmapped in the parent or the child */
		svmm_pa_t pa;
		if (pt_translate(&as2.pt, a, PT_R, PT_PRIV_U, &pa, NULL) != 0) {
			assert_int_equal(aspace_fault(&as2, a, PT_R), 0);
			assert_int_equal(pt_translate(&as2.pt, a, PT_R, PT_PRIV_U, &pa, NULL), 0);
		}
		uint64_t *w = port_pa_to_va(pa);
		if (w[0] != (a ^ 0x5eed) || (k == 6 && w[1] != 0xc0ffee))
			fail_msg("the child's data at 0x%llx is wrong", (unsigned long long)a);
	}
}

static void finish(void)
{
	check(&as);
	check(&as2);
	/* The objects die with their last mapping: the creator's references go first. */
	vmobj_put(shm);
	vmobj_put(file);
	verify_child();
	check(&as2);
	aspace_destroy(&as2);
	aspace_destroy(&as);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
	assert_int_equal(hostsim_tables_live(), tables0);
}

/*
 * Run the scenario with step `k` limited: mode 0 leaves n free frames in pmem, mode 1
 * fails the n-th page-table allocation. Returns true if step k failed (and everything
 * was checked), false once it succeeded without meeting the limit.
 */
static bool run_limited(unsigned k, uint64_t n, int mode)
{
	static struct fx_snap before, after, before2, after2;
	for (unsigned i = 0; i < k; i++)
		if (step(i) != 0)
			fail_msg("step %u failed without a limit", i);
	if (k > 0)
		fx_snap_take(&as, &before);
	if (k > 63)
		fx_snap_take(&as2, &before2);
	uint64_t shm_pages = k >= STEP_SHARED ? shm->resident + (k > 76 ? file->resident : 0) : 0;
	if (mode == 0)
		fx_hold_all_but(n);
	else
		hostsim_fail_after(n);
	int err = step(k);
	fx_release_all();
	hostsim_fail_after(0);
	if (err != 0) {
		if (err != SVMM_ENOMEM)
			fail_msg("step %u, %s %llu: %s", k, mode ? "table point" : "budget",
				 (unsigned long long)n, svmm_strerror(err));
		if (k == 0) {
			/* A failed create leaves nothing behind. */
			assert_int_equal(pmem_free_frames(&fx.pm), free0);
			assert_int_equal(hostsim_tables_live(), tables0);
			return true;
		}
		check(&as);
		fx_snap_take(&as, &after);
		if (k >= STEP_SHARED) {
			/* Another mapping may use that page at once: it is the object's now. */
			uint64_t now = shm->resident + (k > 76 ? file->resident : 0);
			after.free_frames += now - shm_pages;
			if (vmobj_check(shm, fx_print, NULL) != 0 ||
			    (k > 76 && vmobj_check(file, fx_print, NULL) != 0))
				fail_msg("a shared object is broken");
		}
		if (k > 63) {
			check(&as2);
			fx_snap_take(&as2, &after2);
			if (k >= STEP_SHARED)
				after2.free_frames += shm->resident +
						      (k > 76 ? file->resident : 0) - shm_pages;
			if (!fx_snap_equal(&before2, &after2))
				fail_msg("step %u, %s %llu: the clone changed by a failed call", k,
					 mode ? "table point" : "budget", (unsigned long long)n);
		}
		if (k == STEP_COPY || k == STEP_POPULATE) {
			/*
			 * A copy that fails part way keeps what it did (documented): the
			 * pages it faulted in stay, nothing else changes.
			 */
			after.resident = before.resident;
			after.nleaf = before.nleaf;
			memcpy(after.leaf, before.leaf, sizeof(after.leaf));
			after.free_frames = before.free_frames;
			after.committed = before.committed;
		}
		if (!fx_snap_equal(&before, &after))
			fail_msg("step %u, %s %llu: state changed by a failed call", k,
				 mode ? "table point" : "budget", (unsigned long long)n);
		/* With memory back, the same call goes through. */
		if (step(k) != 0)
			fail_msg("step %u: retry after the failure failed", k);
	}
	for (unsigned i = k + 1; i < NSTEPS; i++)
		if (step(i) != 0)
			fail_msg("step %u failed after step %u's rollback", i, k);
	verify_data(NSTEPS);
	assert_int_equal(as.kernel_bytes, 14 * PG);
	finish();
	return err != 0;
}

static void sweep(enum svmm_mode mode)
{
	assert_int_equal(fx_setup(64 * MiB, 0, mode, 16), 0);
	free0 = pmem_free_frames(&fx.pm);
	tables0 = hostsim_tables_live();
	unsigned points[2] = { 0, 0 }, steps_failing = 0;
	for (unsigned k = 0; k < NSTEPS; k++) {
		bool any = false;
		for (int m = 0; m < 2; m++)
			for (uint64_t n = m; ; n++) {
				if (!run_limited(k, n, m))
					break;
				points[m]++;
				any = true;
				assert_true(n < 256);
			}
		steps_failing += any;
	}
	printf("fault injection, mode %d: %u steps, %u of them with allocation points; "
	       "%u frame budgets and %u table points failed and rolled back\n", (int)mode,
	       NSTEPS, steps_failing, points[0], points[1]);
	/*
	 * Every kind of step allocates somewhere: create, maps, faults, splits. Write
	 * faults into A map a 2 MiB page at the first touch of each aligned 2 MiB, so the
	 * later ones in the same 2 MiB allocate nothing.
	 */
	assert_true(steps_failing >= 35);
	assert_true(points[1] > 0);
	fx_teardown();
}

/*
 * Cuts in full blocks of uvmem's index. 16 regions of 64 pages side by side (their
 * permissions alternate, so none merge), then `k` one-page protects inside them, each
 * two more segments made by vmem_split alone, fill uvmem's blocks of 14 entries and use
 * up its free blocks; for every k up to 30 (the 4 boot blocks full, and past it), an
 * unmap or protect that cuts may need a new block, and so a page, for a tail's entry.
 * Each operation runs on a fresh address space with only n frames left, and with the
 * n-th table allocation failing, for every n until it succeeds: a failure must be
 * SVMM_ENOMEM with the address space as it was, the retry must succeed, and destroy
 * must give every frame back. A physical mapping after the regions adds cuts of a 2 MiB
 * leaf, whose table may fail after the cuts. Before vmem_reserve such a cut panicked
 * ("aspace: uvmem refused to cut a region"), and so did an unmap whose table failed
 * after it had freed the range, when re-allocating it needed a block page ("cannot
 * undo a uvmem free").
 */
#define FULL_BASE 0x20000000ull
#define FULL_NREG 16
#define FULL_RSIZE (64 * PG)
#define FULL_PHYS (FULL_BASE + FULL_NREG * FULL_RSIZE)   /* 2 MiB aligned */

static unsigned full_prot(unsigned i)
{
	return (i & 1) ? RW : PT_R;
}

static void full_setup(unsigned k)
{
	svmm_va_t va;
	assert_int_equal(aspace_create(&as, &fx.kpt, &fx.pm, NULL), 0);
	for (unsigned i = 0; i < FULL_NREG; i++)
		assert_int_equal(aspace_map_anon(&as, FULL_BASE + (svmm_va_t)i * FULL_RSIZE,
						 FULL_RSIZE, full_prot(i), ASPACE_FIXED, &va), 0);
	/* Physical memory after them, in 2 MiB leaves: cutting one needs a table. */
	assert_int_equal(aspace_map_phys(&as, FULL_PHYS, FX_RAM0 + 16 * MiB, 4 * MiB, RW,
					 ASPACE_FIXED, &va), 0);
	/* Cut j: region j % 16, its page 4 * (j / 16) + 1, to the other permission. */
	for (unsigned j = 0; j < k; j++) {
		unsigned i = j % FULL_NREG;
		svmm_va_t a = FULL_BASE + (svmm_va_t)i * FULL_RSIZE + (4 * (j / FULL_NREG) + 1) * PG;
		assert_int_equal(aspace_protect(&as, a, PG, full_prot(i + 1)), 0);
	}
	check(&as);
}

/* The operation under the limit, in region 7 (page 40 on: untouched by the cuts). */
static int full_op(unsigned op)
{
	svmm_va_t r7 = FULL_BASE + 7 * FULL_RSIZE;
	switch (op) {
	case 0: return aspace_unmap(&as, r7 + 41 * PG, PG);                /* two cuts */
	case 1: return aspace_protect(&as, r7 + 41 * PG, PG, full_prot(8));
	case 2: return aspace_unmap(&as, r7 + 60 * PG, 8 * PG);           /* across two regions */
	case 3: return aspace_protect(&as, r7 + 60 * PG, 8 * PG, PT_R | PT_X);
	/* A failed table for a 2 MiB leaf undoes the cuts (and, before, unmap's free). */
	case 4: return aspace_unmap(&as, FULL_PHYS + MiB, 4 * PG);
	default: return aspace_protect(&as, FULL_PHYS + MiB, PG, PT_R);
	}
}

static void test_full_block(void **state)
{
	(void)state;
	assert_int_equal(fx_setup(64 * MiB, 0, SVMM_SV39, 16), 0);
	free0 = pmem_free_frames(&fx.pm);
	tables0 = hostsim_tables_live();
	unsigned failed = 0, grew = 0;
	static struct fx_snap before, after;
	for (unsigned k = 0; k <= 30; k++) {
		for (unsigned op = 0; op < 6; op++) {
			for (int m = 0; m < 2; m++) {
				for (uint64_t n = m; ; n++) {
					assert_true(n < 64);
					full_setup(k);
					struct vmem_stats st0, st1;
					vmem_stats(&as.uvmem, &st0);
					fx_snap_take(&as, &before);
					if (m == 0)
						fx_hold_all_but(n);
					else
						hostsim_fail_after(n);
					int err = full_op(op);
					fx_release_all();
					hostsim_fail_after(0);
					bool ok = err == 0;
					if (err != 0) {
						if (err != SVMM_ENOMEM)
							fail_msg("%u cuts, op %u, n %llu: %s", k, op,
								 (unsigned long long)n, svmm_strerror(err));
						check(&as);
						fx_snap_take(&as, &after);
						if (!fx_snap_equal(&before, &after))
							fail_msg("%u cuts, op %u, n %llu: state changed by a "
								 "failed call", k, op, (unsigned long long)n);
						failed++;
						assert_int_equal(full_op(op), 0);
					}
					check(&as);
					vmem_stats(&as.uvmem, &st1);
					grew += st1.blk_pages > st0.blk_pages;
					aspace_destroy(&as);
					assert_int_equal(pmem_free_frames(&fx.pm), free0);
					assert_int_equal(hostsim_tables_live(), tables0);
					if (ok)
						break;   /* enough memory: this operation's sweep is done */
				}
			}
		}
	}
	printf("full blocks: %u operations took a block page, %u limits failed and rolled "
	       "back\n", grew, failed);
	/* The sweep must reach the case it is about: an operation needing a block page. */
	assert_true(grew > 0);
	assert_true(failed > 0);
	fx_teardown();
}

static void test_lifecycle_sv39(void **state)
{
	(void)state;
	sweep(SVMM_SV39);
}

static void test_lifecycle_sv57(void **state)
{
	(void)state;
	sweep(SVMM_SV57);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lifecycle_sv39),
		cmocka_unit_test(test_lifecycle_sv57),
		cmocka_unit_test(test_full_block),
	};
	return cmocka_run_group_tests_name("fault_inject", tests, NULL, NULL);
}
