/*
 * test_aspace_cow.c - copy-on-write clones of address spaces (fork) over memory objects.
 *
 * What is checked: the child sees the parent's data and shares its frames; the
 * parent's writable leaves are read-only and flushed when aspace_clone returns (a model
 * TLB filled with writable entries before the clone holds no stale one after it); the
 * first write on either side copies, and a write to a frame the other side has given up
 * takes it over in place; protect, copy_to and unmap keep the copies apart; a fork tree
 * in which every process checks its own copy; bad arguments; out of memory at every
 * allocation point of aspace_clone, which must leave the source as it was and the
 * destination empty; shared anonymous memory mapped twice in one address space and
 * across a fork; a pager-backed "file" mapped private and shared side by side, with a
 * failing pager; populate and discard. aspace_check runs on both sides after every step.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aspace_fixture.h"
#include "tlb_model.h"

#define PG  SVMM_PAGE_SIZE
#define MiB SVMM_MiB
#define RW  (PT_R | PT_W)
#define A   ((svmm_va_t)0x10000000)

static void check(struct aspace *a)
{
	if (aspace_check(a, fx_print, NULL) != 0) {
		aspace_dump(a, fx_print, NULL);
		fail_msg("aspace_check failed");
	}
}

static int setup(void **state)
{
	(void)state;
	return fx_setup(64 * MiB, 32 * MiB, SVMM_SV39, 16);
}

static int teardown(void **state)
{
	(void)state;
	fx_release_all();
	fx_teardown();
	return 0;
}

/* The frame mapped at va for access, or 0 when the hardware would fault. */
static svmm_pa_t frame_of(struct aspace *a, svmm_va_t va, unsigned access)
{
	svmm_pa_t pa;
	if (pt_translate(&a->pt, va, access, PT_PRIV_U, &pa, NULL) != 0)
		return 0;
	return SVMM_ALIGN_DOWN(pa, PG);
}

/* A user store as the hardware does it: fault until the page is writable, then write. */
static void store(struct aspace *a, svmm_va_t va, uint64_t v)
{
	if (frame_of(a, va, PT_W) == 0)
		assert_int_equal(aspace_fault(a, va, PT_W), 0);
	svmm_pa_t pa = frame_of(a, va, PT_W);
	assert_int_not_equal(pa, 0);
	bool k = pmem_frame(&fx.pm, pa) == NULL || pa + PG > fx.pm.meta_limit;
	uint64_t *p = k ? port_kmap(pa) : port_pa_to_va(pa);
	p[(va % PG) / 8] = v;
	if (k)
		port_kunmap(p);
}

static uint64_t load(struct aspace *a, svmm_va_t va)
{
	if (frame_of(a, va, PT_R) == 0)
		assert_int_equal(aspace_fault(a, va, PT_R), 0);
	svmm_pa_t pa = frame_of(a, va, PT_R);
	bool k = pa + PG > fx.pm.meta_limit;
	uint64_t *p = k ? port_kmap(pa) : port_pa_to_va(pa);
	uint64_t v = p[(va % PG) / 8];
	if (k)
		port_kunmap(p);
	return v;
}

static uint32_t refs(svmm_pa_t pa)
{
	uint32_t r = 0;
	assert_int_equal(pmem_refs(&fx.pm, pa, &r), 0);
	return r;
}

static void make(struct aspace *a)
{
	assert_int_equal(aspace_create(a, &fx.kpt, &fx.pm, NULL), 0);
}

static void test_clone_shares_and_copies(void **state)
{
	(void)state;
	static struct aspace p, c;
	struct tlb_model t;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	svmm_va_t va;
	bool fl;
	make(&p);
	aspace_activate(&p, 0, &fl);
	assert_int_equal(aspace_map_anon(&p, A, 64 * PG, RW, ASPACE_FIXED, &va), 0);
	for (unsigned i = 0; i < 64; i += 3)
		store(&p, A + i * PG, 100 + i);
	svmm_va_t sp = p.stack_top - PG;
	store(&p, sp, 77);
	check(&p);

	/* Fill a model TLB with the parent's writable translations. */
	tlb_model_init(&t, 1);
	svmm_pa_t pa;
	for (unsigned i = 0; i < 64; i += 3)
		assert_int_equal(tlb_model_access(&t, &p.pt, A + i * PG, PT_W, PT_PRIV_U, &pa), 0);
	assert_int_equal(tlb_model_access(&t, &p.pt, sp, PT_W, PT_PRIV_U, &pa), 0);

	make(&c);
	uint64_t before = pmem_free_frames(&fx.pm);
	assert_int_equal(aspace_clone(&p, &c), 0);
	/* Flushed before the call returned: no cached translation disagrees any more. */
	svmm_va_t where = 0;
	if (tlb_model_stale(&t, &p.pt, &where) != 0)
		fail_msg("a stale TLB entry survived the clone at 0x%llx",
			 (unsigned long long)where);
	tlb_model_fini(&t);
	/* No page was copied: the clone took object pages, interior index nodes and
	   metadata only; it shares the parent's two leaf nodes (the region's, the stack's). */
	assert_int_equal(before - pmem_free_frames(&fx.pm),
			 c.slab_pages + c.pool_pages + 1 + c.anon->nodes - 2);
	assert_int_equal(c.resident, 0);
	check(&p);
	check(&c);
	/* The parent's pages are read-only now, the frames shared (through the node:
	   one reference, from the one node both objects hold). */
	svmm_pa_t f3 = frame_of(&p, A + 3 * PG, PT_R);
	assert_int_equal(frame_of(&p, A + 3 * PG, PT_W), 0);
	assert_int_equal(refs(f3), 1);

	/* The child reads the parent's data from the same frames. */
	for (unsigned i = 0; i < 64; i += 3)
		assert_int_equal(load(&c, A + i * PG), 100 + i);
	assert_int_equal(load(&c, sp), 77);
	assert_int_equal(frame_of(&c, A + 3 * PG, PT_R), f3);
	check(&c);
	/* The child writes: it copies; the parent still reads its own data. */
	store(&c, A + 3 * PG, 555);
	assert_int_not_equal(frame_of(&c, A + 3 * PG, PT_R), f3);
	assert_int_equal(c.cow_faults, 1);
	assert_int_equal(load(&p, A + 3 * PG), 103);
	assert_int_equal(refs(f3), 1);
	/* The parent writes the page the child gave up: it takes the frame over. */
	store(&p, A + 3 * PG, 333);
	assert_int_equal(frame_of(&p, A + 3 * PG, PT_W), f3);
	assert_int_equal(load(&c, A + 3 * PG), 555);
	/* A page the child never touched: the parent's write copies. */
	svmm_pa_t f6 = frame_of(&p, A + 6 * PG, PT_R);
	store(&p, A + 6 * PG, 666);
	assert_int_not_equal(frame_of(&p, A + 6 * PG, PT_W), f6);
	assert_int_equal(load(&c, A + 6 * PG), 106);
	/* The stack too. */
	store(&c, sp, 78);
	assert_int_equal(load(&p, sp), 77);
	/* A page untouched before the fork is demand-zero and private on each side. */
	store(&c, A + PG, 1);
	assert_int_equal(load(&p, A + PG), 0);
	check(&p);
	check(&c);

	/* The kernel writing into a copy-on-write page copies it first. */
	uint64_t v = 4242;
	assert_int_equal(aspace_copy_to(&p, A + 9 * PG, &v, sizeof(v), NULL), 0);
	assert_int_equal(load(&c, A + 9 * PG), 109);
	assert_int_equal(load(&p, A + 9 * PG), 4242);

	/* Protect back to writable must not hand out a shared frame. */
	assert_int_equal(aspace_protect(&p, A, 64 * PG, PT_R), 0);
	assert_int_equal(aspace_protect(&p, A, 64 * PG, RW), 0);
	check(&p);
	assert_int_equal(frame_of(&p, A + 12 * PG, PT_W), 0);
	store(&p, A + 12 * PG, 1212);
	assert_int_equal(load(&c, A + 12 * PG), 112);

	/* The parent unmaps part: the child keeps its data; the object pieces stay sane. */
	assert_int_equal(aspace_unmap(&p, A + 15 * PG, 10 * PG), 0);
	check(&p);
	assert_int_equal(load(&c, A + 18 * PG), 118);
	assert_int_equal(load(&c, A + 24 * PG), 124);
	check(&c);
	aspace_destroy(&p);
	for (unsigned i = 27; i < 64; i += 3)
		assert_int_equal(load(&c, A + i * PG), 100 + i);
	check(&c);
	aspace_destroy(&c);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

static void test_clone_errors(void **state)
{
	(void)state;
	static struct aspace p, c;
	svmm_va_t va;
	make(&p);
	make(&c);
	assert_int_equal(aspace_clone(NULL, &c), SVMM_EINVAL);
	assert_int_equal(aspace_clone(&p, NULL), SVMM_EINVAL);
	assert_int_equal(aspace_clone(&p, &p), SVMM_EINVAL);
	assert_int_equal(aspace_map_anon(&c, A, PG, RW, ASPACE_FIXED, &va), 0);
	assert_int_equal(aspace_clone(&p, &c), SVMM_EINVAL);      /* not empty */
	aspace_destroy(&c);
	struct aspace_layout l;
	assert_int_equal(aspace_layout_default(SVMM_SV39, &l), 0);
	l.user_end /= 2;
	assert_int_equal(aspace_create(&c, &fx.kpt, &fx.pm, &l), 0);
	assert_int_equal(aspace_clone(&p, &c), SVMM_EINVAL);      /* another layout */
	aspace_destroy(&c);
	aspace_destroy(&p);
}

/* A fork tree: every process writes its own mark and checks every ancestor's page. */
#define DEPTH 5
static struct aspace tree[DEPTH + 1];

static void test_fork_tree(void **state)
{
	(void)state;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	svmm_va_t va;
	make(&tree[0]);
	assert_int_equal(aspace_map_anon(&tree[0], A, 16 * PG, RW, ASPACE_FIXED, &va), 0);
	for (unsigned i = 0; i < 16; i++)
		store(&tree[0], A + i * PG, 1000 + i);
	for (unsigned d = 1; d <= DEPTH; d++) {
		make(&tree[d]);
		assert_int_equal(aspace_clone(&tree[d - 1], &tree[d]), 0);
		/* Each level overwrites page d with its own mark. */
		store(&tree[d], A + d * PG, 10 * d);
		check(&tree[d - 1]);
		check(&tree[d]);
	}
	for (unsigned d = 0; d <= DEPTH; d++)
		for (unsigned i = 0; i < 16; i++) {
			uint64_t want = i >= 1 && i <= d ? 10 * i : 1000 + i;
			assert_int_equal(load(&tree[d], A + i * PG), want);
		}
	/* Die in a scattered order; the rest keep their data. */
	static const unsigned order[DEPTH + 1] = { 2, 0, 5, 1, 4, 3 };
	for (unsigned k = 0; k <= DEPTH; k++) {
		aspace_destroy(&tree[order[k]]);
		for (unsigned j = k + 1; j <= DEPTH; j++) {
			unsigned d = order[j];
			assert_int_equal(load(&tree[d], A + 15 * PG), 1015);
			check(&tree[d]);
		}
	}
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* Out of memory at every allocation point of aspace_clone. */
static void test_clone_oom(void **state)
{
	(void)state;
	static struct aspace p, c;
	static struct fx_snap before, after;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	svmm_va_t va;
	make(&p);
	assert_int_equal(aspace_map_anon(&p, A, 600 * PG, RW, ASPACE_FIXED, &va), 0);
	assert_int_equal(aspace_map_anon(&p, A + 8 * MiB, 4 * PG, PT_R, ASPACE_FIXED, &va), 0);
	assert_int_equal(aspace_map_phys(&p, A + 64 * MiB, FX_RAM0 + 60 * MiB, 2 * MiB, RW,
					 ASPACE_FIXED, &va), 0);
	for (unsigned i = 0; i < 600; i += 7)
		store(&p, A + i * PG, i);
	assert_int_equal(load(&p, A + 8 * MiB), 0);
	store(&p, p.stack_top - PG, 5);
	unsigned failures = 0;
	for (uint64_t n = 0;; n++) {
		make(&c);
		uint64_t free_c = pmem_free_frames(&fx.pm);
		fx_snap_take(&p, &before);
		fx_hold_all_but(n);
		int err = aspace_clone(&p, &c);
		fx_release_all();
		if (err == 0)
			break;
		assert_int_equal(err, SVMM_ENOMEM);
		failures++;
		fx_snap_take(&p, &after);
		if (!fx_snap_equal(&before, &after))
			fail_msg("budget %llu: the source changed", (unsigned long long)n);
		check(&p);
		check(&c);
		assert_int_equal(c.nregions, 0);
		assert_null(c.anon);
		assert_int_equal(pmem_free_frames(&fx.pm), free_c);
		aspace_destroy(&c);
		assert_true(n < 64);
	}
	/* The child's uvmem, object page and interior index nodes (its leaf nodes are
	   the parent's, shared: no page each). */
	assert_true(failures >= 4);
	check(&p);
	check(&c);
	for (unsigned i = 0; i < 600; i += 7)
		assert_int_equal(load(&c, A + i * PG), i);
	aspace_destroy(&c);
	aspace_destroy(&p);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* ---- object mappings: shared memory and files ---- */

static int pager_fail_at = -1;

/* A "file": every word of page n holds n * 4096 + its index. */
static int file_fill(void *ctx, uint64_t off, svmm_pa_t pa)
{
	(void)ctx;
	if (pager_fail_at >= 0 && off == (uint64_t)pager_fail_at * PG)
		return -77;                                  /* the pager's own code */
	uint64_t *w = port_kmap(pa);
	for (unsigned i = 0; i < PG / 8; i++)
		w[i] = off + i * 8;
	port_kunmap(w);
	return 0;
}

static void test_shared_anon(void **state)
{
	(void)state;
	static struct aspace p, c;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	struct vmobj *shm;
	svmm_va_t a1, a2, b;
	make(&p);
	assert_int_equal(vmobj_create_anon(&fx.pm, 16 * PG, &shm), 0);
	/* Twice in one address space, and in a fork of it. */
	assert_int_equal(aspace_map_obj(&p, 0, 16 * PG, RW, ASPACE_SHARED, shm, 0, &a1), 0);
	assert_int_equal(aspace_map_obj(&p, 0, 8 * PG, RW, ASPACE_SHARED, shm, 8 * PG, &a2), 0);
	vmobj_put(shm);                            /* the regions keep it alive */
	store(&p, a1 + 9 * PG, 99);
	assert_int_equal(load(&p, a2 + PG), 99);
	assert_int_equal(frame_of(&p, a1 + 9 * PG, PT_R), frame_of(&p, a2 + PG, PT_R));
	check(&p);
	make(&c);
	assert_int_equal(aspace_clone(&p, &c), 0);
	store(&c, a1 + 10 * PG, 1010);             /* the child writes: every mapping sees it */
	assert_int_equal(load(&p, a2 + 2 * PG), 1010);
	assert_int_equal(load(&p, a1 + 10 * PG), 1010);
	store(&p, a2 + 3 * PG, 1111);
	assert_int_equal(load(&c, a1 + 11 * PG), 1111);
	check(&p);
	check(&c);
	/* Discard through one mapping: the shared data stays. */
	assert_int_equal(aspace_discard(&p, a1, 16 * PG), 0);
	assert_int_equal(load(&p, a1 + 9 * PG), 99);
	/* Private anonymous memory next to it stays private. */
	assert_int_equal(aspace_map_anon(&p, 0, PG, RW, 0, &b), 0);
	store(&p, b, 5);
	check(&p);
	aspace_destroy(&p);
	assert_int_equal(load(&c, a2 + 3 * PG), 1111);
	check(&c);
	aspace_destroy(&c);                        /* the last mapping frees the object */
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * aspace_protect that gives W back never makes a leaf writable over a page its object
 * shares: after a fork (the frames' counts are 1, the leaf nodes holding them shared)
 * and over a private file mapping's page read through from the file.
 */
static void test_protect_after_fork(void **state)
{
	(void)state;
	static struct aspace p, c;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	svmm_va_t va, priv;
	make(&p);
	assert_int_equal(aspace_map_anon(&p, A, 16 * PG, RW, ASPACE_FIXED, &va), 0);
	for (unsigned i = 0; i < 16; i++)
		store(&p, A + i * PG, 100 + i);
	make(&c);
	assert_int_equal(aspace_clone(&p, &c), 0);
	/* Neither side has written since the fork: every node is still shared. */
	assert_int_equal(aspace_protect(&p, A, 16 * PG, PT_R), 0);
	assert_int_equal(aspace_protect(&p, A, 16 * PG, RW), 0);
	check(&p);
	assert_int_equal(frame_of(&p, A + 5 * PG, PT_W), 0);
	store(&p, A + 5 * PG, 555);
	assert_int_equal(load(&c, A + 5 * PG), 105);
	assert_int_equal(load(&p, A + 5 * PG), 555);
	/* The same from the child's side. */
	assert_int_equal(aspace_protect(&c, A, 16 * PG, PT_R), 0);
	assert_int_equal(aspace_protect(&c, A, 16 * PG, RW), 0);
	check(&c);
	assert_int_equal(frame_of(&c, A + 7 * PG, PT_W), 0);
	store(&c, A + 7 * PG, 777);
	assert_int_equal(load(&p, A + 7 * PG), 107);
	check(&p);
	check(&c);
	aspace_destroy(&c);

	/* A private file mapping: the file's page, read through, stays read-only. */
	struct vmobj *file;
	assert_int_equal(vmobj_create_pager(&fx.pm, 4 * PG, file_fill, NULL, &file), 0);
	assert_int_equal(aspace_map_obj(&p, 0, 4 * PG, RW, 0, file, 0, &priv), 0);
	assert_int_equal(load(&p, priv + PG + 8), PG + 8);
	assert_int_equal(aspace_protect(&p, priv, 4 * PG, PT_R), 0);
	assert_int_equal(aspace_protect(&p, priv, 4 * PG, RW), 0);
	check(&p);
	assert_int_equal(frame_of(&p, priv + PG, PT_W), 0);
	store(&p, priv + PG, 99);
	struct vmobj_page pg;
	assert_int_equal(vmobj_lookup(file, PG, &pg), 0);
	assert_int_equal(((uint64_t *)port_pa_to_va(pg.pa))[0], PG);
	check(&p);
	aspace_destroy(&p);
	vmobj_put(file);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

struct grab {
	char text[512];
};

static void grab_line(void *ctx, const char *line)
{
	struct grab *g = ctx;
	if (g->text[0] == 0)
		snprintf(g->text, sizeof(g->text), "%s", line);
}

/*
 * aspace_check catches a writable leaf over a page its object does not answer writable:
 * after a fork the frame's count is 1 (its one index page is the leaf node both
 * objects share), so only the object's answer says it is shared.
 */
static void test_check_writable_shared(void **state)
{
	(void)state;
	static struct aspace p, c;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	svmm_va_t va;
	make(&p);
	assert_int_equal(aspace_map_anon(&p, A, 4 * PG, RW, ASPACE_FIXED, &va), 0);
	store(&p, A, 1);
	make(&c);
	assert_int_equal(aspace_clone(&p, &c), 0);
	assert_int_equal(refs(frame_of(&p, A, PT_R)), 1);
	assert_int_equal(pt_protect(&p.pt, A, PG, RW | PT_U, PT_PERMS, PT_MISSING_OK), 0);
	struct grab g = { "" };
	assert_int_equal(aspace_check(&p, grab_line, &g), SVMM_EINVAL);
	if (strstr(g.text, "a writable anonymous leaf maps a frame no other object holds") == NULL)
		fail_msg("check said \"%s\"", g.text);
	assert_int_equal(pt_protect(&p.pt, A, PG, PT_R | PT_U, PT_PERMS, PT_MISSING_OK), 0);
	check(&p);
	check(&c);
	aspace_destroy(&c);
	aspace_destroy(&p);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

static void test_file_maps(void **state)
{
	(void)state;
	static struct aspace p, c;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	struct vmobj *file;
	svmm_va_t priv, shr, va;
	pager_fail_at = 5;
	make(&p);
	assert_int_equal(vmobj_create_pager(&fx.pm, 8 * PG, file_fill, NULL, &file), 0);
	/* Bad arguments change nothing. */
	assert_int_equal(aspace_map_obj(&p, 0, 9 * PG, PT_R, 0, file, 0, &va), SVMM_ERANGE);
	assert_int_equal(aspace_map_obj(&p, 0, PG, PT_R, 0, file, 1, &va), SVMM_EUNALIGNED);
	assert_int_equal(aspace_map_obj(&p, 0, 0, PT_R, 0, file, 0, &va), SVMM_EZEROSIZE);
	assert_int_equal(aspace_map_obj(&p, 0, PG, PT_R, ASPACE_IO, file, 0, &va), SVMM_EINVAL);
	assert_int_equal(aspace_map_obj(&p, 0, PG, PT_W | PT_X | PT_R, 0, file, 0, &va),
			 SVMM_EPERM);
	assert_int_equal(aspace_map_obj(&p, 0, PG, PT_R, 0, NULL, 0, &va), SVMM_EINVAL);
	assert_int_equal(p.nregions, 0);
	/* The file mapped privately and shared, side by side. */
	assert_int_equal(aspace_map_obj(&p, 0, 8 * PG, RW, 0, file, 0, &priv), 0);
	assert_int_equal(aspace_map_obj(&p, 0, 8 * PG, RW, ASPACE_SHARED, file, 0, &shr), 0);
	assert_int_equal(load(&p, priv + 2 * PG + 16), 2 * PG + 16);
	assert_int_equal(frame_of(&p, priv + 2 * PG, PT_W), 0);   /* the file's page, read-only */
	store(&p, priv + 2 * PG, 42);                  /* a private copy */
	assert_int_equal(load(&p, shr + 2 * PG), 2 * PG);
	store(&p, shr + 3 * PG, 43);                   /* reaches the file */
	struct vmobj_page pg;
	assert_int_equal(vmobj_lookup(file, 3 * PG, &pg), 0);
	assert_int_equal(((uint64_t *)port_pa_to_va(pg.pa))[0], 43);
	check(&p);
	/* A failing pager fails the fault with its code, and nothing changes. */
	static struct fx_snap before, after;
	fx_snap_take(&p, &before);
	assert_int_equal(aspace_fault(&p, priv + 5 * PG, PT_R), -77);
	assert_int_equal(aspace_fault(&p, shr + 5 * PG, PT_W), -77);
	assert_int_equal(aspace_populate(&p, shr + 5 * PG, PG), -77);
	fx_snap_take(&p, &after);
	assert_true(fx_snap_equal(&before, &after));
	pager_fail_at = -1;
	/* Fork: the private copy is cloned, the shared mapping stays shared. */
	make(&c);
	assert_int_equal(aspace_clone(&p, &c), 0);
	assert_int_equal(load(&c, priv + 2 * PG), 42);
	store(&c, priv + 2 * PG, 4242);
	assert_int_equal(load(&p, priv + 2 * PG), 42);
	store(&c, shr + 4 * PG, 44);
	assert_int_equal(load(&p, shr + 4 * PG), 44);
	check(&p);
	check(&c);
	/* Discard of the private mapping: the file's data shows again. */
	assert_int_equal(aspace_discard(&p, priv, 8 * PG), 0);
	assert_int_equal(load(&p, priv + 2 * PG), 2 * PG);
	/* Populate maps every page now. */
	assert_int_equal(aspace_populate(&p, priv, 8 * PG), 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_not_equal(frame_of(&p, priv + i * PG, PT_R), 0);
	/* Holes and phys regions are refused with nothing done. */
	assert_int_equal(aspace_populate(&p, priv, 64 * PG), SVMM_ENOENT);
	assert_int_equal(aspace_discard(&p, shr + 7 * PG, 2 * PG), SVMM_ENOENT);
	check(&p);
	/* Unmap part of the private mapping: the pieces keep working. */
	assert_int_equal(aspace_unmap(&p, priv + 3 * PG, 2 * PG), 0);
	assert_int_equal(load(&p, priv + 6 * PG + 8), 6 * PG + 8);
	check(&p);
	vmobj_put(file);
	aspace_destroy(&c);
	aspace_destroy(&p);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * A private file mapping cloned by a fork: the child's object shares the parent's
 * object's leaf nodes. p has written pages 10, 20 and 600 of the mapping at priv_va
 * (two leaf nodes), c is its fork.
 */
static struct vmobj *priv_file;
static svmm_va_t priv_va;

static void fork_private_file(struct aspace *p, struct aspace *c)
{
	make(p);
	assert_int_equal(vmobj_create_pager(&fx.pm, 4 * MiB, file_fill, NULL, &priv_file), 0);
	assert_int_equal(aspace_map_obj(p, 0, 4 * MiB, RW, 0, priv_file, 0, &priv_va), 0);
	store(p, priv_va + 10 * PG, 10);
	store(p, priv_va + 20 * PG, 20);
	store(p, priv_va + 600 * PG, 600);
	make(c);
	assert_int_equal(aspace_clone(p, c), 0);
	check(p);
	check(c);
}

/* One call of the out-of-memory sweeps below: a fault, a discard or an unmap of a. */
struct oom_step {
	enum { STEP_FAULT, STEP_DISCARD, STEP_UNMAP } kind;
	struct aspace *a;
	svmm_va_t va;
	uint64_t size;          /* STEP_FAULT: the access */
};

static int oom_call(const struct oom_step *st)
{
	switch (st->kind) {
	case STEP_FAULT:
		return aspace_fault(st->a, st->va, (unsigned)st->size);
	case STEP_DISCARD:
		return aspace_discard(st->a, st->va, st->size);
	default:
		return aspace_unmap(st->a, st->va, st->size);
	}
}

/*
 * Run the step with n = 0, 1, ... frames left in pmem until it succeeds: every failure
 * must be SVMM_ENOMEM and leave the address space exactly as it was (the fixture's
 * snapshot), with aspace_check clean.
 */
static void oom_sweep(const struct oom_step *st)
{
	static struct fx_snap before, after;
	for (uint64_t n = 0;; n++) {
		fx_snap_take(st->a, &before);
		fx_hold_all_but(n);
		int err = oom_call(st);
		fx_release_all();
		if (err == 0)
			break;
		assert_int_equal(err, SVMM_ENOMEM);
		fx_snap_take(st->a, &after);
		if (!fx_snap_equal(&before, &after))
			fail_msg("step %d at 0x%llx, budget %llu: the address space changed",
				 (int)st->kind, (unsigned long long)st->va, (unsigned long long)n);
		check(st->a);
		assert_true(n < 16);
	}
	check(st->a);
}

/*
 * A write fault that gives the child its own copy of a shared node at root[0] (the
 * index's only node, kept at two levels while shared), then cannot map the page: the
 * undo once discarded the page first, which folded the copy into root[], and then
 * found no node to take back (a panic).
 */
static void test_fork_private_root_undo(void **state)
{
	(void)state;
	static struct aspace p, c;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	fork_private_file(&p, &c);
	svmm_va_t priv = priv_va;
	/* The child drops its pages past 2 MiB: root[1]'s shared node goes whole. */
	assert_int_equal(aspace_discard(&c, priv + 512 * PG, 4 * MiB - 512 * PG), 0);
	check(&c);
	/* The file's page is there already: the file keeps a page it made for a fault. */
	assert_int_equal(vmobj_populate(priv_file, 0, 32 * PG, 0), 0);
	oom_sweep(&(struct oom_step){ STEP_FAULT, &c, priv + 5 * PG, PT_W });
	assert_int_equal(load(&c, priv + 10 * PG), 10);
	assert_int_equal(load(&p, priv + 10 * PG), 10);
	vmobj_put(priv_file);
	aspace_destroy(&c);
	aspace_destroy(&p);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * A read through to the file in the child's shared node, out of memory: the undo
 * discards the page the object never held, which once asked for a copy of the node
 * (a panic when memory was short, a copy for nothing else).
 */
static void test_fork_private_read_oom(void **state)
{
	(void)state;
	static struct aspace p, c;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	fork_private_file(&p, &c);
	svmm_va_t priv = priv_va;
	assert_int_equal(load(&c, priv + 4 * PG), 4 * PG);     /* the file's page 4 exists */
	aspace_destroy(&c);
	make(&c);
	assert_int_equal(aspace_clone(&p, &c), 0);
	oom_sweep(&(struct oom_step){ STEP_FAULT, &c, priv + 4 * PG, PT_R });
	assert_int_equal(load(&c, priv + 4 * PG), 4 * PG);
	vmobj_put(priv_file);
	aspace_destroy(&c);
	aspace_destroy(&p);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * Discards and unmaps that cut the parent's shared nodes, out of memory at every
 * point: the private object's discard copies a node it cuts, which they now set aside
 * beforehand (it once ran out of memory after the flush: a panic). The last unmap,
 * after a fresh fork, takes two pieces of one object (split by a protect), each
 * cutting its own node: what is set aside for the second adds to what the first set
 * aside.
 */
static void test_fork_private_discard_oom(void **state)
{
	(void)state;
	static struct aspace p, c;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	fork_private_file(&p, &c);
	svmm_va_t priv = priv_va;
	store(&p, priv + 700 * PG, 700);
	aspace_destroy(&c);
	make(&c);
	assert_int_equal(aspace_clone(&p, &c), 0);
	assert_int_equal(aspace_protect(&p, priv + 300 * PG, 724 * PG, PT_R), 0);
	const struct oom_step steps[3] = {
		{ STEP_DISCARD, &p, priv + 20 * PG, PG },
		{ STEP_UNMAP, &p, priv + 10 * PG, PG },
		{ STEP_UNMAP, &p, priv + 15 * PG, 635 * PG },
	};
	for (int k = 0; k < 3; k++) {
		oom_sweep(&steps[k]);
		check(&c);
		if (k == 1) {
			/* A fresh fork over pages 12, 20 | 600, 700: both nodes shared. */
			store(&p, priv + 12 * PG, 12);
			store(&p, priv + 20 * PG, 20);
			aspace_destroy(&c);
			make(&c);
			assert_int_equal(aspace_clone(&p, &c), 0);
		}
	}
	assert_int_equal(load(&p, priv + 12 * PG), 12);
	assert_int_equal(load(&p, priv + 700 * PG), 700);
	assert_int_equal(load(&c, priv + 12 * PG), 12);
	assert_int_equal(load(&c, priv + 20 * PG), 20);
	assert_int_equal(load(&c, priv + 600 * PG), 600);
	vmobj_put(priv_file);
	aspace_destroy(&c);
	aspace_destroy(&p);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * A shared object that a clone shares leaf nodes with (the caller cloned it), mapped
 * in two address spaces: x's write fault gives the object its own copy of a node and
 * then cannot map its page, while y, between the two steps, put its own copy of
 * another page into that node copy (the table allocation of x's map runs y's fault).
 */
static struct aspace *race_y;
static svmm_va_t race_va;
static int race_armed;

static int race_table_alloc(void *ctx, svmm_pa_t *pa)
{
	if (race_armed == 1) {
		race_armed = 2;
		store(race_y, race_va, 4242);
		return SVMM_ENOMEM;
	}
	return fx_table_alloc(ctx, pa);
}

static void test_shared_obj_clone_race(void **state)
{
	(void)state;
	static struct aspace x, y;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	struct vmobj *o, *c;
	struct vmobj_page pg;
	svmm_va_t xa, ya;
	assert_int_equal(vmobj_create_anon(&fx.pm, 4 * MiB, &o), 0);
	static const unsigned pages[] = { 0, 1, 2, 600 };
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(vmobj_fault(o, pages[i] * PG, VMOBJ_WRITE, &pg), 0);
		((uint64_t *)port_pa_to_va(pg.pa))[0] = pages[i];
	}
	assert_int_equal(vmobj_clone(o, 0, o->size, &c), 0);
	make(&x);
	make(&y);
	assert_int_equal(aspace_map_obj(&x, 0, 4 * MiB, RW, ASPACE_SHARED, o, 0, &xa), 0);
	assert_int_equal(aspace_map_obj(&y, 0, 4 * MiB, RW, ASPACE_SHARED, o, 0, &ya), 0);
	vmobj_put(o);
	assert_int_equal(load(&y, ya + PG), 1);      /* y's leaf table is there */
	race_y = &y;
	race_va = ya + 2 * PG;
	race_armed = 1;
	struct hostsim_table_source src = { race_table_alloc, fx_table_free, NULL };
	hostsim_set_table_source(&src);
	int err = aspace_fault(&x, xa, PT_W);
	struct hostsim_table_source back = { fx_table_alloc, fx_table_free, NULL };
	hostsim_set_table_source(&back);
	assert_int_equal(race_armed, 2);
	assert_int_equal(err, SVMM_ENOMEM);
	check(&y);
	check(&x);
	assert_int_equal(load(&y, ya + 2 * PG), 4242);
	assert_int_equal(load(&x, xa + 2 * PG), 4242);
	struct vmobj_page q;
	assert_int_equal(vmobj_lookup(c, 2 * PG, &q), 0);
	assert_int_equal(((uint64_t *)port_pa_to_va(q.pa))[0], 2);   /* the clone's own */
	aspace_destroy(&x);
	aspace_destroy(&y);
	vmobj_put(c);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

static void test_populate_discard_anon(void **state)
{
	(void)state;
	static struct aspace p;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	svmm_va_t va;
	make(&p);
	assert_int_equal(aspace_map_anon(&p, A, 32 * PG, RW, ASPACE_FIXED, &va), 0);
	assert_int_equal(aspace_populate(&p, A + 4 * PG, 8 * PG), 0);
	assert_int_equal(p.resident, 8);
	for (unsigned i = 4; i < 12; i++)
		assert_int_not_equal(frame_of(&p, A + i * PG, PT_W), 0);   /* no fault follows */
	store(&p, A + 5 * PG, 55);
	check(&p);
	assert_int_equal(aspace_discard(&p, A, 0), SVMM_EZEROSIZE);
	assert_int_equal(aspace_discard(&p, A + 1, PG), SVMM_EUNALIGNED);
	assert_int_equal(aspace_discard(&p, A + 5 * PG, 2 * PG), 0);
	assert_int_equal(p.resident, 6);
	assert_int_equal(load(&p, A + 5 * PG), 0);            /* zeros again */
	check(&p);
	/* Populate with too little memory keeps what it mapped, consistently. */
	fx_hold_all_but(3);
	int err = aspace_populate(&p, A + 16 * PG, 16 * PG);
	fx_release_all();
	assert_int_equal(err, SVMM_ENOMEM);
	check(&p);
	assert_int_equal(aspace_populate(&p, A + 16 * PG, 16 * PG), 0);
	check(&p);
	aspace_destroy(&p);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* ---- 2 MiB pages of anonymous memory ---- */

static uint64_t leaf_size(struct aspace *a, svmm_va_t va)
{
	svmm_pa_t pa;
	uint64_t size = 0;
	if (pt_translate(&a->pt, va, PT_R, PT_PRIV_U, &pa, &size) != 0)
		return 0;
	return size;
}

static void test_huge_pages(void **state)
{
	(void)state;
	static struct aspace p, c;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	svmm_va_t va;
	const svmm_va_t H = A + 2 * MiB;
	make(&p);
	assert_int_equal(aspace_map_anon(&p, A, 8 * MiB, RW, ASPACE_FIXED, &va), 0);
	/* A write in an aligned 2 MiB that the region covers: one 2 MiB page. */
	store(&p, H + 5 * PG, 5);
	assert_int_equal(leaf_size(&p, H), 2 * MiB);
	assert_int_equal(p.resident, 512);
	assert_int_equal(p.committed, 512);
	for (unsigned i = 0; i < 512; i += 37)
		store(&p, H + i * PG, 1000 + i);
	check(&p);
	/* Fork: the child maps the shared 2 MiB page read-only; writes split and copy. */
	make(&c);
	assert_int_equal(aspace_clone(&p, &c), 0);
	assert_int_equal(load(&c, H + 37 * PG), 1037);
	assert_int_equal(leaf_size(&c, H), 2 * MiB);
	assert_int_equal(frame_of(&c, H, PT_W), 0);
	store(&c, H + 74 * PG, 7474);
	assert_int_equal(leaf_size(&c, H + 74 * PG), PG);
	assert_int_equal(load(&c, H + 111 * PG), 1111);
	assert_int_equal(load(&p, H + 74 * PG), 1074);
	store(&p, H + 74 * PG, 1);                     /* the parent's own copy, or its frame */
	assert_int_equal(load(&c, H + 74 * PG), 7474);
	check(&p);
	check(&c);
	aspace_destroy(&c);
	/* Part of a 2 MiB page unmapped, protected, discarded: it splits, the rest stays. */
	store(&p, A + 4 * MiB, 44);
	assert_int_equal(leaf_size(&p, A + 4 * MiB), 2 * MiB);
	assert_int_equal(aspace_unmap(&p, A + 4 * MiB + 100 * PG, 10 * PG), 0);
	assert_int_equal(leaf_size(&p, A + 4 * MiB), PG);
	assert_int_equal(load(&p, A + 4 * MiB), 44);
	check(&p);
	assert_int_equal(aspace_protect(&p, H + 300 * PG, 4 * PG, PT_R), 0);
	assert_int_equal(load(&p, H + 296 * PG), 1296);
	check(&p);
	assert_int_equal(aspace_discard(&p, H + 400 * PG, 3 * PG), 0);
	assert_int_equal(load(&p, H + 400 * PG), 0);
	assert_int_equal(load(&p, H + 407 * PG), 1407);
	check(&p);
	/* A read takes 4 KiB (a probe should not cost 2 MiB); a write after it too. */
	assert_int_equal(load(&p, A + 6 * MiB), 0);
	assert_int_equal(leaf_size(&p, A + 6 * MiB), PG);
	store(&p, A + 6 * MiB + PG, 1);
	assert_int_equal(leaf_size(&p, A + 6 * MiB + PG), PG);
	/* Without a free 2 MiB block, 4 KiB pages as before. */
	fx_hold_all_but(16);
	store(&p, A, 3);
	fx_release_all();
	assert_int_equal(leaf_size(&p, A), PG);
	check(&p);
	aspace_destroy(&p);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clone_shares_and_copies, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone_oom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_anon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_maps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protect_after_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_writable_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_private_read_oom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_private_discard_oom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_private_root_undo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_obj_clone_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_populate_discard_anon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge_pages, setup, teardown),
	};
	return cmocka_run_group_tests_name("aspace copy-on-write", tests, NULL, NULL);
}
