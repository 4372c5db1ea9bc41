/*
 * test_vmobj_prop.c - property test of memory objects against a model of objects,
 * frames and reference counts.
 *
 * The model keeps, for each object, what every page must read as: a token this object
 * wrote, or "never written here", which means zeros (anonymous), the pager's pattern,
 * or whatever the backing object reads (copy-on-write objects). Random operations run
 * on both: create (anonymous, pager, copy-on-write over another object), clone, put,
 * read and write faults (with and without 2 MiB pages; a third of them with VMOBJ_UNDO,
 * half of those taken back with vmobj_fault_end), populate and discard, some of
 * them with pmem nearly empty, in which case a failure must be SVMM_ENOMEM and change
 * nothing the model can see. After every operation: vmobj_check on every object; every
 * frame's pmem count equals the number of index pages naming it, and every index
 * page's the number of objects whose index names it (a clone shares its source's leaf
 * nodes: the single truth the design promises, in two steps, see held.h); and pmem's
 * allocated frames are exactly the data frames, index pages and object pages of the
 * live objects. At the end everything is put and pmem is
 * back to its first free count. SVMM_SEED=<n> replays a run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include <svmm/vmobj.h>
#include "../core/vmobj_internal.h"    /* vmobj_walk_held, svmm's own */
#include "aspace_fixture.h"
#include "held.h"
#include "test_rand.h"

#define PG      SVMM_PAGE_SIZE
#define MiB     SVMM_MiB
#define NOBJ    8
#define UNSET   (~(uint64_t)0)
#define MAXPG   (1u << 12)           /* model pages per object (16 MiB) */

struct mobj {
	struct vmobj *o;
	bool handle;                      /* the test holds a reference */
	int backing;                      /* model slot of the backing object, or -1 */
	uint64_t boff;                    /* in pages */
	uint64_t npages;
	unsigned kind;
	uint64_t *cont;                   /* per page: token written here, or UNSET */
};

static struct mobj m[NOBJ];
static uint64_t seed, token = 1, free0;
static uint64_t n_ops[16], n_huge_seen, n_split_seen, n_shared_seen, n_undone;

static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

/*
 * Model group k (512 model pages) lies at object group gbase[k]: the identity in the
 * dense run; in the sparse run spread over the index's levels, so that interior index
 * nodes (which only an object past ~1 GiB has) get entries below and above those they
 * hold, and grow and shrink.
 */
static bool sparse;
static uint64_t gbase[MAXPG / 512];
static void make_map(void)
{
	uint64_t g = 0;
	for (unsigned k = 0; k < MAXPG / 512; k++) {
		if (k > 0 && !sparse) {
			g++;
		} else if (k > 0) {
			unsigned r = (unsigned)below(6);
			uint64_t step = r == 0 ? 1 : r == 1 ? 1 + below(8) : r == 2 ? 1 + below(600)
				: r == 3 ? (1 + below(300)) << 9 : r == 4 ? (1 + below(100)) << 18
				: (1 + below(30)) << 27;
			g += step;
		}
		gbase[k] = g;
	}
	/* Keep below the largest object (496 << 36 pages, i.e. 496 << 27 groups). */
	if (gbase[MAXPG / 512 - 1] >= (uint64_t)VMOBJ_ROOT_SLOTS << 27)
		make_map();
}

/* The object page of model page p, and the object size that holds npages of them. */
static uint64_t P(uint64_t p)
{
	return gbase[p / 512] * 512 + p % 512;
}
static uint64_t OSZ(uint64_t npages)
{
	return (P(npages - 1) + 1) * PG;
}

static int fill_pattern(void *ctx, uint64_t off, svmm_pa_t pa)
{
	(void)ctx;
	uint64_t *w = port_kmap(pa);
	for (unsigned i = 0; i < PG / 8; i++)
		w[i] = off + i;
	port_kunmap(w);
	return 0;
}

/* What page pg of model object i must read as (its first word). */
static uint64_t expect(int i, uint64_t pg)
{
	const struct mobj *x = &m[i];
	if (x->cont[pg] != UNSET)
		return x->cont[pg];
	if (x->backing >= 0)
		return expect(x->backing, pg + x->boff);
	return x->kind == VMOBJ_PAGER ? P(pg) * PG : 0;
}

static int slot_free(void)
{
	for (int i = 0; i < NOBJ; i++)
		if (m[i].o == NULL)
			return i;
	return -1;
}

/* A random object the test holds a handle to, or -1. */
static int pick(void)
{
	int c[NOBJ], n = 0;
	for (int i = 0; i < NOBJ; i++)
		if (m[i].o != NULL && m[i].handle)
			c[n++] = i;
	return n == 0 ? -1 : c[below((uint64_t)n)];
}

/* ---- whole-system checks ---- */

/* Entries naming each frame, counted from every object's index. */
static uint32_t *named;          /* by frame index in RAM */
static uint64_t data_frames;
static struct held held;

static void count_entry(void *ctx, uint64_t off, svmm_pa_t pa, unsigned order,
			svmm_pa_t holder)
{
	(void)ctx;
	(void)off;
	if (!held_note(&held, holder))
		return;                  /* a shared node's frames: counted once */
	svmm_pa_t head;
	unsigned o;
	assert_int_equal(pmem_block(&fx.pm, pa, &head, &o, NULL), 0);
	if (order == 9 && !(head == pa && o == 9)) {
		n_split_seen++;
		for (unsigned i = 0; i < 512; i++)       /* split: one reference per frame */
			if (named[(pa - FX_RAM0) / PG + i]++ == 0)
				data_frames++;
		return;
	}
	if (named[(pa - FX_RAM0) / PG]++ == 0)
		data_frames += order == 9 ? 512 : 1;
}

static void check_all(uint64_t op)
{
	uint64_t nframes = 64 * MiB / PG, meta = 0;
	memset(named, 0, nframes * sizeof(*named));
	held_reset(&held);
	data_frames = 0;
	for (int i = 0; i < NOBJ; i++) {
		if (m[i].o == NULL)
			continue;
		if (vmobj_check(m[i].o, fx_print, NULL) != 0)
			fail_msg("vmobj_check failed after op %llu (SVMM_SEED=%llu)",
				 (unsigned long long)op, (unsigned long long)seed);
		held_begin(&held);
		vmobj_walk_held(m[i].o, count_entry, NULL);
		n_huge_seen += m[i].o->huge;
		meta += 1 + m[i].o->nodes;
	}
	svmm_pa_t bad = 0;
	uint32_t refs = 0, objects = 0;
	uint64_t extra = 0;
	if (!held_verify(&held, &fx.pm, &bad, &refs, &objects, &extra))
		fail_msg("index page %llx: %u references, %u objects name it (op %llu, "
			 "SVMM_SEED=%llu)", (unsigned long long)bad, refs, objects,
			 (unsigned long long)op, (unsigned long long)seed);
	meta -= extra;                   /* a shared node is one page */
	n_shared_seen += extra;
	for (uint64_t f = 0; f < nframes; f++) {
		if (named[f] == 0)
			continue;
		uint32_t r = 0;
		assert_int_equal(pmem_refs(&fx.pm, FX_RAM0 + f * PG, &r), 0);
		if (r != named[f])
			fail_msg("frame %llx: %u references, %u entries name it (op %llu, "
				 "SVMM_SEED=%llu)", (unsigned long long)(FX_RAM0 + f * PG), r,
				 named[f], (unsigned long long)op, (unsigned long long)seed);
	}
	if (free0 - pmem_free_frames(&fx.pm) != data_frames + meta)
		fail_msg("%llu frames in use, model %llu data + %llu metadata (op %llu, "
			 "SVMM_SEED=%llu)", (unsigned long long)(free0 - pmem_free_frames(&fx.pm)),
			 (unsigned long long)data_frames, (unsigned long long)meta,
			 (unsigned long long)op, (unsigned long long)seed);
}

/* ---- operations ---- */

static int mcreate(int i, struct vmobj *o, unsigned kind, uint64_t npages, int backing,
		   uint64_t boff)
{
	m[i].o = o;
	m[i].handle = true;
	m[i].kind = kind;
	m[i].npages = npages;
	m[i].backing = backing;
	m[i].boff = boff;
	m[i].cont = malloc(MAXPG * sizeof(uint64_t));
	assert_non_null(m[i].cont);
	for (uint64_t p = 0; p < MAXPG; p++)
		m[i].cont[p] = UNSET;
	return 0;
}

static void op_create(void)
{
	int i = slot_free();
	if (i < 0)
		return;
	uint64_t npages = below(3) == 0 ? 1 + below(600) : 512 * (1 + below(6)) + below(3) * 17;
	struct vmobj *o;
	int err;
	unsigned r = (unsigned)below(3);
	int b = pick();
	if (r == 2 && b >= 0 && m[b].backing < 0 && m[b].npages > 1) {
		uint64_t boff = sparse ? 0 : below(m[b].npages - 1);   /* sparse: the same map */
		npages = 1 + below(m[b].npages - boff);
		err = vmobj_create_cow(m[b].o, boff * PG, sparse ? OSZ(npages) : npages * PG, &o);
		if (err == 0)
			mcreate(i, o, VMOBJ_ANON, npages, b, boff);
	} else if (r == 1) {
		err = vmobj_create_pager(&fx.pm, OSZ(npages), fill_pattern, NULL, &o);
		if (err == 0)
			mcreate(i, o, VMOBJ_PAGER, npages, -1, 0);
	} else {
		err = vmobj_create_anon(&fx.pm, OSZ(npages), &o);
		if (err == 0)
			mcreate(i, o, VMOBJ_ANON, npages, -1, 0);
	}
	assert_true(err == 0 || err == SVMM_ENOMEM);
	n_ops[0]++;
}

static void op_clone(void)
{
	int s = pick(), i = slot_free();
	if (s < 0 || i < 0)
		return;
	struct vmobj *c;
	/* The whole object, or a range in whole 2 MiB groups (a 2 MiB page that
	   overlaps the range is cloned whole, which the model does not track), or, when
	   the object holds no 2 MiB page, any range of pages. */
	uint64_t a = 0, n = m[s].npages;
	if (below(3) == 0 && m[s].o->huge == 0) {
		/* No 2 MiB page: any range of pages, which may start or end inside an
		   index node or lie wholly beside its used entries. */
		a = below(n);
		n = 1 + below(n - a);
	} else if (below(2) && n > 512) {
		a = below(n / 512) * 512;
		n = 1 + below(n - a);
		if (a + n < m[s].npages)
			n = SVMM_ALIGN_UP(n, 512) < m[s].npages - a ? SVMM_ALIGN_UP(n, 512)
								       : m[s].npages - a;
	}
	int err = vmobj_clone(m[s].o, P(a) * PG, (P(a + n - 1) + 1 - P(a)) * PG, &c);
	assert_true(err == 0 || err == SVMM_ENOMEM);
	if (err != 0)
		return;
	mcreate(i, c, m[s].kind, m[s].npages, m[s].backing, m[s].boff);
	memcpy(m[i].cont + a, m[s].cont + a, n * sizeof(uint64_t));
	n_ops[1]++;
}

/* Drop model slots no longer referenced by a handle or a copy-on-write object. */
static void reap(void)
{
	for (bool again = true; again;) {
		again = false;
		for (int i = 0; i < NOBJ; i++) {
			if (m[i].o == NULL || m[i].handle)
				continue;
			bool used = false;
			for (int j = 0; j < NOBJ; j++)
				used |= m[j].o != NULL && m[j].backing == i;
			if (!used) {
				free(m[i].cont);
				m[i].o = NULL;
				again = true;
			}
		}
	}
}

static void op_put(void)
{
	int i = pick();
	if (i < 0)
		return;
	/* The object goes when its last holder does: the handle, or a cow object. */
	m[i].handle = false;
	vmobj_put(m[i].o);
	reap();
	n_ops[2]++;
}

/*
 * Fault a random page of a random live object for access (2 MiB allowed at random):
 * false when there is no object or the fault ran out of memory; else the object, the
 * page, the answer and the 4 KiB frame of that page.
 */
static bool fault_some(unsigned access, int *ip, uint64_t *pgp, struct vmobj_page *p,
		       svmm_pa_t *pap)
{
	int i = pick();
	if (i < 0)
		return false;
	uint64_t pg = below(m[i].npages);
	unsigned huge = below(2) ? VMOBJ_HUGE : 0;
	/* A third of the faults may be taken back, as a caller that cannot map the page
	   does; half of those are (the model then stays as it was). */
	unsigned undo = below(3) == 0 ? VMOBJ_UNDO : 0;
	int err = vmobj_fault(m[i].o, P(pg) * PG, access | huge | undo, p);
	assert_true(err == 0 || err == SVMM_ENOMEM);
	if (err != 0)
		return false;
	if (undo && below(2) == 0) {
		uint64_t size = p->order == 9 ? 512 * PG : PG;
		if (p->made && p->unshared == 0)
			assert_int_equal(vmobj_discard(m[i].o, SVMM_ALIGN_DOWN(P(pg) * PG, size),
						       size), 0);
		n_undone += p->unshared != 0;
		vmobj_fault_end(m[i].o, P(pg) * PG, p, false);
		return false;
	}
	if (undo)
		vmobj_fault_end(m[i].o, P(pg) * PG, p, true);
	*ip = i;
	*pgp = pg;
	*pap = p->order == 9 ? p->pa + (pg % 512) * PG : p->pa;
	return true;
}

static void op_write(void)
{
	int i;
	uint64_t pg;
	struct vmobj_page p;
	svmm_pa_t pa;
	if (!fault_some(VMOBJ_WRITE, &i, &pg, &p, &pa))
		return;
	assert_true(p.writable);
	uint64_t *w = port_kmap(pa);
	assert_int_equal(w[0], expect(i, pg));       /* the copy holds the old data */
	w[0] = ++token;
	port_kunmap(w);
	m[i].cont[pg] = token;
	n_ops[3]++;
}

static void op_read(void)
{
	int i;
	uint64_t pg;
	struct vmobj_page p;
	svmm_pa_t pa;
	if (!fault_some(VMOBJ_READ, &i, &pg, &p, &pa))
		return;
	uint64_t *w = port_kmap(pa);
	if (w[0] != expect(i, pg))
		fail_msg("object %d page %llu reads %llx, model %llx (SVMM_SEED=%llu)", i,
			 (unsigned long long)pg, (unsigned long long)w[0],
			 (unsigned long long)expect(i, pg), (unsigned long long)seed);
	port_kunmap(w);
	/* Writable only when no other object can see the frame. */
	if (p.writable)
		for (int j = 0; j < NOBJ; j++)
			if (j != i && m[j].o != NULL && m[j].npages > pg) {
				struct vmobj_page q;
				if (vmobj_lookup(m[j].o, P(pg) * PG, &q) == 0)
					assert_int_not_equal(q.pa, pa);
			}
	n_ops[4]++;
}

static void op_range(bool discard)
{
	int i = pick();
	if (i < 0)
		return;
	uint64_t a = below(m[i].npages), n = 1 + below(m[i].npages - a);
	if (n > 600)
		n = 600;
	/* A populate stays in one group: in the sparse run the pages between groups are
	   no model pages. A discard there drops nothing the model has. */
	if (sparse && !discard && a % 512 + n > 512)
		n = 512 - a % 512;
	uint64_t oa = P(a), on = P(a + n - 1) + 1 - oa;
	int err = discard ? vmobj_discard(m[i].o, oa * PG, on * PG)
			  : vmobj_populate(m[i].o, oa * PG, on * PG, below(2) ? VMOBJ_HUGE : 0);
	assert_true(err == 0 || err == SVMM_ENOMEM);
	if (err == 0 && discard)
		for (uint64_t p = a; p < a + n; p++)
			m[i].cont[p] = UNSET;
	n_ops[discard ? 5 : 6]++;
}

static void run(uint64_t ops)
{
	for (uint64_t op = 1; op <= ops; op++) {
		bool tight = below(40) == 0;
		if (tight)
			fx_hold_all_but(below(6));
		uint64_t r = below(100);
		if (r < 8)
			op_create();
		else if (r < 14)
			op_clone();
		else if (r < 20)
			op_put();
		else if (r < 55)
			op_write();
		else if (r < 85)
			op_read();
		else if (r < 93)
			op_range(true);
		else
			op_range(false);
		if (tight)
			fx_release_all();
		check_all(op);
		/* Recycled frames then hold junk, not stale zeros: a read of an index word
		   that was never initialised shows. */
		if (sparse)
			fx_poison_free(64 * MiB);
	}
}

static void model_run(bool sparse_map, uint64_t ops)
{
	sparse = sparse_map;
	seed = test_seed(sparse ? "vmobj property (sparse)" : "vmobj property");
	assert_int_equal(fx_setup(64 * MiB, 32 * MiB, SVMM_SV39, 16), 0);
	named = calloc(64 * MiB / PG, sizeof(*named));
	assert_non_null(named);
	assert_true(held_init(&held, FX_RAM0, 64 * MiB / PG));
	free0 = pmem_free_frames(&fx.pm);
	for (unsigned i = 0; i < 16; i++)
		n_ops[i] = 0;
	n_huge_seen = n_split_seen = n_shared_seen = n_undone = 0;
	make_map();
	run(ops);
	for (int i = 0; i < NOBJ; i++)
		if (m[i].o != NULL && m[i].handle) {
			m[i].handle = false;
			vmobj_put(m[i].o);
		}
	reap();
	for (int i = 0; i < NOBJ; i++)
		assert_null(m[i].o);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
	assert_int_equal(pmem_check(&fx.pm, fx_print, NULL), 0);
	printf("vmobj property: %llu creates, %llu clones, %llu puts, %llu writes, %llu reads, "
	       "%llu discards, %llu populates; 2 MiB entries seen %llu times, split ones %llu, "
	       "shared leaf nodes %llu, unshared nodes taken back %llu\n",
	       (unsigned long long)n_ops[0],
	       (unsigned long long)n_ops[1], (unsigned long long)n_ops[2],
	       (unsigned long long)n_ops[3], (unsigned long long)n_ops[4],
	       (unsigned long long)n_ops[5], (unsigned long long)n_ops[6],
	       (unsigned long long)n_huge_seen, (unsigned long long)n_split_seen,
	       (unsigned long long)n_shared_seen, (unsigned long long)n_undone);
	assert_true(n_huge_seen > 0);
	assert_true(n_shared_seen > 0);
	free(named);
	held_fini(&held);
	fx_teardown();
}

static void test_model(void **state)
{
	(void)state;
	model_run(false, 6000);
}

/* Objects up to 2^36 pages, their pages in groups spread over every index level. */
static void test_model_sparse(void **state)
{
	(void)state;
	model_run(true, 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_model_sparse),
	};
	return cmocka_run_group_tests_name("vmobj property", tests, NULL, NULL);
}
