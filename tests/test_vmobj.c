/*
 * test_vmobj.c - unit tests of memory objects: demand-zero, pagers and their errors,
 * copy-on-write clones and objects over a backing object, 2 MiB pages and their
 * splitting, populate and discard, bad arguments, and out of memory at every
 * allocation point of each operation (the state before and after a failure is compared
 * entry by entry, with pmem's free count). vmobj_check runs after every step.
 *
 * RAM is 64 MiB with the direct map ending at 32 MiB, so data frames above it are
 * reached through kmap, as on a machine with more RAM than direct map.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <svmm/vmobj.h>
#include "aspace_fixture.h"

#define PG  SVMM_PAGE_SIZE
#define MiB SVMM_MiB
#define RD  VMOBJ_READ
#define WR  VMOBJ_WRITE

static void check(struct vmobj *o)
{
	if (vmobj_check(o, fx_print, NULL) != 0)
		fail_msg("vmobj_check failed");
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

/* The words of a frame, through the host's simulated RAM. */
static uint64_t *words(svmm_pa_t pa)
{
	return port_pa_to_va(pa);
}

/* Write through a write fault: the page's first word. */
static void wr(struct vmobj *o, uint64_t off, uint64_t v)
{
	struct vmobj_page p;
	assert_int_equal(vmobj_fault(o, off, WR, &p), 0);
	assert_true(p.writable);
	assert_int_equal(p.order, 0);
	words(p.pa)[0] = v;
}

static uint64_t rd(struct vmobj *o, uint64_t off)
{
	struct vmobj_page p;
	assert_int_equal(vmobj_fault(o, off, RD, &p), 0);
	return p.order == 9 ? words(p.pa + (off & (2 * MiB - 1)))[0] : words(p.pa)[0];
}

static uint32_t refs(svmm_pa_t pa)
{
	uint32_t r = 0;
	assert_int_equal(pmem_refs(&fx.pm, pa, &r), 0);
	return r;
}

/* ---- a snapshot: every entry and every counter ---- */

#define SNAP_MAX 2048

struct snap {
	struct { uint64_t off; svmm_pa_t pa; unsigned order; } e[SNAP_MAX];
	unsigned n;
	uint64_t resident, huge, nodes, free_frames;
	uint32_t refs;
};

static void snap_entry(void *ctx, uint64_t off, svmm_pa_t pa, unsigned order)
{
	struct snap *s = ctx;
	if (s->n < SNAP_MAX) {
		s->e[s->n].off = off;
		s->e[s->n].pa = pa;
		s->e[s->n].order = order;
	}
	s->n++;
}

static void snap_take(struct vmobj *o, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	vmobj_walk(o, snap_entry, s);
	s->resident = o->resident;
	s->huge = o->huge;
	s->nodes = o->nodes;
	s->refs = o->refs;
	s->free_frames = pmem_free_frames(&fx.pm);
}

static void snap_same(struct vmobj *o, const struct snap *a)
{
	static struct snap b;
	snap_take(o, &b);
	if (memcmp(a, &b, sizeof(b)) != 0)
		fail_msg("state changed: %u -> %u entries, resident %llu -> %llu, free %llu -> %llu",
			 a->n, b.n, (unsigned long long)a->resident,
			 (unsigned long long)b.resident, (unsigned long long)a->free_frames,
			 (unsigned long long)b.free_frames);
}

/* ---- creation ---- */

static void test_create(void **state)
{
	(void)state;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	struct vmobj *o = NULL;
	assert_int_equal(vmobj_create_anon(NULL, PG, &o), SVMM_EINVAL);
	assert_int_equal(vmobj_create_anon(&fx.pm, PG, NULL), SVMM_EINVAL);
	assert_int_equal(vmobj_create_anon(&fx.pm, 0, &o), SVMM_EZEROSIZE);
	assert_int_equal(vmobj_create_anon(&fx.pm, PG + 1, &o), SVMM_EUNALIGNED);
	assert_int_equal(vmobj_create_anon(&fx.pm, VMOBJ_MAX_SIZE + PG, &o), SVMM_ERANGE);
	assert_int_equal(vmobj_create_pager(&fx.pm, PG, NULL, NULL, &o), SVMM_EINVAL);
	assert_null(o);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);

	/*
	 * The index starts with one level and grows on top as pages are indexed, to the
	 * fewest levels that cover the highest one: 496 pages in the header page.
	 */
	static const struct { uint64_t size; unsigned levels; } lv[] = {
		{ PG, 1 }, { 496 * PG, 1 }, { 497 * PG, 2 }, { 496ull * 512 * PG, 2 },
		{ 496ull * 512 * PG + PG, 3 }, { 496ull * 512 * 512 * 512 * PG, 4 },
		{ VMOBJ_MAX_SIZE, 5 },
	};
	for (unsigned i = 0; i < sizeof(lv) / sizeof(lv[0]); i++) {
		assert_int_equal(vmobj_create_anon(&fx.pm, lv[i].size, &o), 0);
		assert_int_equal(o->levels, 1);
		check(o);
		/* The last page of the largest object works as well as the first. */
		wr(o, lv[i].size - PG, 42 + i);
		assert_int_equal(rd(o, lv[i].size - PG), 42 + i);
		assert_int_equal(o->levels, lv[i].levels);
		check(o);
		/* Growing over a used root moves it down under a new root[0]. */
		if (lv[i].levels > 1) {
			vmobj_put(o);
			assert_int_equal(vmobj_create_anon(&fx.pm, lv[i].size, &o), 0);
			wr(o, 5 * PG, 7);
			assert_int_equal(o->levels, 1);
			wr(o, lv[i].size - PG, 42 + i);
			assert_int_equal(o->levels, lv[i].levels);
			assert_true(o->nodes >= lv[i].levels - 1u);
			assert_int_equal(rd(o, 5 * PG), 7);
			check(o);
		}
		vmobj_put(o);
	}
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* ---- demand zero, lookup, discard ---- */

static void test_anon(void **state)
{
	(void)state;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	struct vmobj *o;
	struct vmobj_page p, q;
	assert_int_equal(vmobj_create_anon(&fx.pm, 4 * MiB, &o), 0);
	assert_int_equal(vmobj_lookup(o, 0, &p), SVMM_ENOENT);
	assert_int_equal(vmobj_fault(o, 5 * PG, RD, &p), 0);
	assert_true(p.writable);
	assert_true(p.made);                                /* a new page */
	for (unsigned i = 0; i < PG / 8; i++)
		assert_int_equal(words(p.pa)[i], 0);
	words(p.pa)[3] = 77;
	assert_int_equal(vmobj_fault(o, 5 * PG, WR, &q), 0);
	assert_int_equal(q.pa, p.pa);                       /* ours alone: no copy */
	assert_false(q.made);                               /* it was there */
	assert_int_equal(vmobj_lookup(o, 5 * PG, &q), 0);
	assert_int_equal(q.pa, p.pa);
	assert_int_equal(o->resident, 1);
	check(o);

	/* Bad arguments change nothing. */
	struct snap s;
	snap_take(o, &s);
	assert_int_equal(vmobj_fault(o, 5 * PG + 1, RD, &p), SVMM_EUNALIGNED);
	assert_int_equal(vmobj_fault(o, 4 * MiB, RD, &p), SVMM_ERANGE);
	assert_int_equal(vmobj_fault(o, 0, 0, &p), SVMM_EINVAL);
	assert_int_equal(vmobj_fault(o, 0, RD | WR, &p), SVMM_EINVAL);
	assert_int_equal(vmobj_fault(o, 0, RD | 64, &p), SVMM_EINVAL);
	assert_int_equal(vmobj_fault(o, 0, RD, NULL), SVMM_EINVAL);
	assert_int_equal(vmobj_lookup(o, 4 * MiB, &p), SVMM_ERANGE);
	assert_int_equal(vmobj_discard(o, 0, 0), SVMM_EZEROSIZE);
	assert_int_equal(vmobj_discard(o, 1, PG), SVMM_EUNALIGNED);
	assert_int_equal(vmobj_discard(o, PG, ~0ull - 4095), SVMM_EOVERFLOW);
	assert_int_equal(vmobj_discard(o, 4 * MiB - PG, 2 * PG), SVMM_ERANGE);
	assert_int_equal(vmobj_populate(o, 0, PG, RD), SVMM_EINVAL);
	assert_int_equal(vmobj_populate(o, 0, 8 * MiB, 0), SVMM_ERANGE);
	snap_same(o, &s);

	/* Pages far apart need nodes; discarding them frees the nodes again. */
	wr(o, 3 * MiB, 1);
	assert_int_equal(o->nodes, 2);
	check(o);
	assert_int_equal(vmobj_discard(o, 0, 4 * MiB), 0);
	assert_int_equal(o->resident, 0);
	assert_int_equal(o->nodes, 0);
	check(o);
	assert_int_equal(rd(o, 5 * PG), 0);                 /* zeros again */
	vmobj_put(o);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* ---- pagers ---- */

static unsigned fills;
static int fail_at = -1;

static int fill_pattern(void *ctx, uint64_t off, svmm_pa_t pa)
{
	(void)ctx;
	if (fail_at >= 0 && off == (uint64_t)fail_at * PG)
		return -1000;                                /* the pager's own code */
	fills++;
	uint64_t *w = port_kmap(pa);
	for (unsigned i = 0; i < PG / 8; i++)
		w[i] = off + i;
	port_kunmap(w);
	return 0;
}

static void test_pager(void **state)
{
	(void)state;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	struct vmobj *o;
	struct vmobj_page p;
	fills = 0;
	fail_at = 7;
	assert_int_equal(vmobj_create_pager(&fx.pm, 64 * PG, fill_pattern, NULL, &o), 0);
	assert_int_equal(rd(o, 3 * PG), 3 * PG);
	assert_int_equal(rd(o, 3 * PG), 3 * PG);
	assert_int_equal(fills, 1);
	struct snap s;
	snap_take(o, &s);
	assert_int_equal(vmobj_fault(o, 7 * PG, RD, &p), -1000);
	snap_same(o, &s);
	/* Populate fails at the pager's error with every page it added dropped. */
	assert_int_equal(vmobj_populate(o, 0, 16 * PG, 0), -1000);
	snap_same(o, &s);
	assert_int_equal(vmobj_populate(o, 8 * PG, 16 * PG, 0), 0);
	assert_int_equal(o->resident, 17);
	check(o);
	/* A shared mapping writes the object's own page. */
	assert_int_equal(vmobj_fault(o, 9 * PG, WR, &p), 0);
	words(p.pa)[1] = 5;
	assert_int_equal(vmobj_fault(o, 9 * PG, RD, &p), 0);
	assert_int_equal(words(p.pa)[1], 5);
	/* Discard: the pager's data comes back. */
	assert_int_equal(vmobj_discard(o, 9 * PG, PG), 0);
	assert_int_equal(vmobj_fault(o, 9 * PG, RD, &p), 0);
	assert_int_equal(words(p.pa)[1], 9 * PG + 1);
	check(o);
	fail_at = -1;
	vmobj_put(o);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* ---- copy-on-write clones ---- */

static void test_clone(void **state)
{
	(void)state;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	struct vmobj *a, *b;
	struct vmobj_page p, q;
	assert_int_equal(vmobj_create_anon(&fx.pm, 4 * MiB, &a), 0);
	for (unsigned i = 0; i < 8; i++)
		wr(a, i * 100 * PG, 1000 + i);
	assert_int_equal(vmobj_clone(a, 0, a->size, &b), 0);
	check(a);
	check(b);
	assert_int_equal(b->resident, 8);
	/* The clone's page only: it shares the source's two leaf nodes. */
	assert_int_equal(b->nodes, a->nodes);
	assert_int_equal(pmem_free_frames(&fx.pm), free0 - 8 - 1 - 1 - a->nodes);
	/* Both read the same frame, read-only. */
	assert_int_equal(vmobj_fault(a, 100 * PG, RD, &p), 0);
	assert_int_equal(vmobj_fault(b, 100 * PG, RD, &q), 0);
	assert_int_equal(p.pa, q.pa);
	assert_false(p.writable);
	assert_false(q.writable);
	assert_int_equal(refs(p.pa), 1);             /* named by one node, which both hold */
	/* The clone writes first: it copies; the source keeps the old frame, alone. */
	assert_int_equal(vmobj_fault(b, 100 * PG, WR, &q), 0);
	assert_int_not_equal(q.pa, p.pa);
	assert_true(q.writable);
	assert_int_equal(words(q.pa)[0], 1001);
	words(q.pa)[0] = 2001;
	assert_int_equal(refs(p.pa), 1);
	/* The source's write then takes its frame over without a copy. */
	svmm_pa_t old = p.pa;
	assert_int_equal(vmobj_fault(a, 100 * PG, WR, &p), 0);
	assert_int_equal(p.pa, old);
	assert_true(p.writable);
	assert_int_equal(rd(a, 100 * PG), 1001);
	assert_int_equal(rd(b, 100 * PG), 2001);
	/* A page missing in both is made separately in each. */
	wr(b, 3 * MiB, 3);
	assert_int_equal(vmobj_lookup(a, 3 * MiB, &p), SVMM_ENOENT);
	check(a);
	check(b);
	/* A clone of a range shares only that range, with its index pruned to it. */
	struct vmobj *r;
	assert_int_equal(vmobj_clone(a, 0, 0, &r), SVMM_EZEROSIZE);
	assert_int_equal(vmobj_clone(a, 1, PG, &r), SVMM_EUNALIGNED);
	assert_int_equal(vmobj_clone(a, 4 * MiB, PG, &r), SVMM_ERANGE);
	assert_int_equal(vmobj_clone(a, 200 * PG, 300 * PG, &r), 0);
	assert_int_equal(r->resident, 3);                 /* pages 200, 300 and 400 */
	assert_int_equal(r->nodes, 0);                    /* they fit in root[]: one level */
	assert_int_equal(r->levels, 1);
	assert_int_equal(vmobj_lookup(r, 100 * PG, &q), SVMM_ENOENT);
	assert_int_equal(rd(r, 300 * PG), 1003);
	check(r);
	vmobj_put(r);
	/* The source goes first; the clone's frames stay. */
	vmobj_put(a);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(rd(b, i * 100 * PG), i == 1 ? 2001 : 1000 + i);
	assert_int_equal(vmobj_fault(b, 0, WR, &q), 0);     /* sole holder: no copy */
	assert_int_equal(refs(q.pa), 1);
	check(b);
	vmobj_put(b);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * A clone of a sparse, deep index (an address space's: a page at the bottom, one at the
 * top, one between), where the clone's scan uses the tables' used counts to skip what
 * lies between: every page comes across, also once a discard has left root[]'s upper
 * bound stale, and in a clone of a range that starts inside a table.
 */
/* The leaf node (a 4 MiB object has two levels) holding page pg of o: its page. */
static svmm_pa_t leaf_node(const struct vmobj *o, uint64_t pg)
{
	assert_int_equal(o->levels, 2);
	return o->root[pg / 512] & ~(svmm_pa_t)(PG - 1);
}

/*
 * A clone shares its source's leaf nodes: one reference on each node, none on the
 * frames, until a side changes a node (a write, a new page, a discard of part of it),
 * which first takes its own copy; a fault made with VMOBJ_UNDO takes that back with
 * vmobj_fault_end, or lets the node go.
 */
static void test_clone_shares_nodes(void **state)
{
	(void)state;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	struct vmobj *a, *b, *c;
	struct vmobj_page p, q;
	static struct snap s;
	assert_int_equal(vmobj_create_anon(&fx.pm, 4 * MiB, &a), 0);
	for (unsigned i = 0; i < 4; i++) {
		wr(a, i * 10 * PG, 100 + i);             /* node 0 */
		wr(a, (600 + i) * PG, 200 + i);          /* node 1 */
	}
	svmm_pa_t n0 = leaf_node(a, 0), n1 = leaf_node(a, 600), f0 = 0;
	assert_int_equal(vmobj_clone(a, 0, a->size, &b), 0);
	check(a);
	check(b);
	assert_int_equal(leaf_node(b, 0), n0);
	assert_int_equal(leaf_node(b, 600), n1);
	assert_int_equal(refs(n0), 2);
	assert_int_equal(refs(n1), 2);
	assert_int_equal(pmem_free_frames(&fx.pm), free0 - 8 - 2 - 2);
	/* Reads on both sides: the same frame, read-only although its count is 1. */
	assert_int_equal(vmobj_fault(a, 10 * PG, RD, &p), 0);
	assert_int_equal(vmobj_fault(b, 10 * PG, RD, &q), 0);
	assert_int_equal(p.pa, q.pa);
	assert_int_equal(refs(p.pa), 1);
	assert_false(p.writable);
	assert_false(q.writable);
	assert_int_equal(vmobj_lookup(b, 10 * PG, &q), 0);
	assert_false(q.writable);
	f0 = p.pa;

	/* A write with VMOBJ_UNDO, taken back: exactly as before, node shared again. */
	snap_take(b, &s);
	assert_int_equal(vmobj_fault(b, 10 * PG, WR | VMOBJ_UNDO, &q), 0);
	assert_true(q.writable);
	assert_int_equal(q.copied, f0);
	assert_int_not_equal(q.unshared, 0);
	assert_int_not_equal(leaf_node(b, 0), n0);
	assert_int_equal(refs(n0), 2);               /* held until the fault ends */
	check(b);
	vmobj_fault_end(b, 10 * PG, &q, false);
	snap_same(b, &s);
	assert_int_equal(leaf_node(b, 0), n0);
	assert_int_equal(refs(n0), 2);
	assert_int_equal(refs(f0), 1);
	check(a);
	check(b);
	/* The same write kept: b has its own node 0, the frames counted twice. */
	assert_int_equal(vmobj_fault(b, 10 * PG, WR | VMOBJ_UNDO, &q), 0);
	vmobj_fault_end(b, 10 * PG, &q, true);
	words(q.pa)[0] = 999;
	assert_int_not_equal(leaf_node(b, 0), n0);
	assert_int_equal(refs(n0), 1);
	assert_int_equal(refs(f0), 1);               /* a's only: b copied it */
	assert_int_equal(rd(a, 10 * PG), 101);
	assert_int_equal(rd(b, 10 * PG), 999);
	assert_int_equal(rd(b, 20 * PG), 102);
	check(a);
	check(b);
	/* a's node 0 is its own again: its write takes the frame over, no copy. */
	assert_int_equal(vmobj_fault(a, 30 * PG, RD, &p), 0);
	assert_int_equal(refs(p.pa), 2);             /* named by a's node and b's copy */
	assert_int_equal(vmobj_fault(a, 10 * PG, WR, &p), 0);
	assert_int_equal(p.pa, f0);
	assert_true(p.writable);

	/* A new page in a shared node, with VMOBJ_UNDO, discarded and taken back. */
	snap_take(a, &s);
	assert_int_equal(vmobj_fault(a, 700 * PG, WR | VMOBJ_UNDO, &p), 0);
	assert_true(p.made);
	assert_int_equal(p.copied, 0);
	assert_int_equal(p.unshared, n1);
	assert_int_equal(vmobj_discard(a, 700 * PG, PG), 0);
	vmobj_fault_end(a, 700 * PG, &p, false);
	snap_same(a, &s);
	assert_int_equal(refs(n1), 2);
	check(a);

	/* The source goes: b's node 1 is its own now, and its write takes over. */
	vmobj_put(a);
	check(b);
	assert_int_equal(refs(n1), 1);
	assert_int_equal(vmobj_fault(b, 601 * PG, RD, &q), 0);
	svmm_pa_t f1 = q.pa;
	assert_int_equal(vmobj_fault(b, 601 * PG, WR, &q), 0);
	assert_int_equal(q.pa, f1);
	assert_int_equal(words(q.pa)[0], 201);
	assert_int_equal(leaf_node(b, 600), n1);     /* the mark went, the node stayed */
	check(b);

	/* A discard that cuts a shared node takes b's own copy of it first; one that takes
	   the node whole drops b's reference on it. */
	assert_int_equal(vmobj_clone(b, 0, b->size, &c), 0);
	assert_int_equal(refs(n1), 2);
	assert_int_equal(vmobj_reserve(c, 601 * PG, 2 * PG), 0);
	assert_int_equal(vmobj_discard(c, 601 * PG, 2 * PG), 0);
	vmobj_unreserve(c);
	assert_int_equal(refs(n1), 1);
	assert_int_not_equal(leaf_node(c, 600), n1);
	assert_int_equal(c->resident, 6);
	assert_int_equal(rd(b, 602 * PG), 202);
	assert_int_equal(vmobj_lookup(c, 602 * PG, &q), SVMM_ENOENT);
	assert_int_equal(rd(c, 603 * PG), 203);
	check(b);
	check(c);
	svmm_pa_t c0 = leaf_node(c, 0);
	assert_int_equal(refs(c0), 2);
	assert_int_equal(vmobj_discard(c, 0, 2 * MiB), 0);
	assert_int_equal(refs(c0), 1);
	assert_int_equal(rd(b, 20 * PG), 102);
	check(b);
	check(c);
	vmobj_put(c);
	vmobj_put(b);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

static void test_clone_sparse(void **state)
{
	(void)state;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	const uint64_t size = 256 * SVMM_GiB, low = 16 * PG, mid = 100 * SVMM_GiB;
	const uint64_t top = size - PG;
	struct vmobj *a, *b, *c, *r;
	assert_int_equal(vmobj_create_anon(&fx.pm, size, &a), 0);
	wr(a, low, 1);
	wr(a, top, 2);
	assert_int_equal(vmobj_clone(a, 0, size, &b), 0);
	check(b);
	assert_int_equal(b->resident, 2);
	assert_int_equal(rd(b, low), 1);
	assert_int_equal(rd(b, top), 2);
	wr(a, mid, 3);
	assert_int_equal(vmobj_discard(a, top, PG), 0);
	check(a);
	assert_int_equal(vmobj_clone(a, 0, size, &c), 0);
	check(c);
	assert_int_equal(c->resident, 2);
	assert_int_equal(rd(c, low), 1);
	assert_int_equal(rd(c, mid), 3);
	struct vmobj_page p;
	assert_int_equal(vmobj_lookup(c, top, &p), SVMM_ENOENT);
	assert_int_equal(vmobj_clone(a, 50 * SVMM_GiB, size - 50 * SVMM_GiB, &r), 0);
	check(r);
	assert_int_equal(r->resident, 1);
	assert_int_equal(rd(r, mid), 3);     /* a clone keeps the offsets */
	vmobj_put(r);
	vmobj_put(c);
	vmobj_put(b);
	vmobj_put(a);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * A clone of a range that lies wholly below or above a table's used entries has
 * nothing to copy. copy_index once formed its scan's start past its end there and
 * read words outside the table: root[] words an object page never initialised (a
 * recycled page's old contents, copied into the clone as an entry with a reference
 * on a stranger's frame) or words beyond root[] itself. The object's page is made to
 * be a recycled one whose word for root[49] names frame x, as a freed index page might.
 */
static void test_clone_outside_entries(void **state)
{
	(void)state;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	svmm_pa_t x, junk;
	assert_int_equal(pmem_alloc(&fx.pm, 0, PMEM_ANY, &x), 0);
	assert_int_equal(pmem_alloc(&fx.pm, 0, fx.pm.meta_limit, &junk), 0);
	words(junk)[offsetof(struct vmobj, root) / 8 + 49] = x | 1;
	assert_int_equal(pmem_free(&fx.pm, junk, 0), 0);
	struct vmobj *o, *c;
	assert_int_equal(vmobj_create_anon(&fx.pm, 256 * PG, &o), 0);
	assert_true(port_va_to_pa(o) == junk);   /* else this test proves nothing */
	wr(o, 100 * PG, 7);                      /* the one entry: root[100] */
	static const uint64_t ranges[][2] = { { 0, 50 }, { 0, 100 }, { 101, 155 }, { 200, 256 } };
	for (unsigned k = 0; k < sizeof(ranges) / sizeof(ranges[0]); k++) {
		uint64_t off = ranges[k][0] * PG, len = (ranges[k][1] - ranges[k][0]) * PG;
		assert_int_equal(vmobj_clone(o, off, len, &c), 0);
		check(c);
		assert_int_equal(c->resident, 0);
		struct vmobj_page p;
		assert_int_equal(vmobj_lookup(c, 49 * PG, &p), SVMM_ENOENT);
		assert_int_equal(refs(x), 1);
		vmobj_put(c);
	}
	assert_int_equal(vmobj_clone(o, 50 * PG, 100 * PG, &c), 0);   /* and one that holds it */
	check(c);
	assert_int_equal(c->resident, 1);
	assert_int_equal(rd(c, 100 * PG), 7);
	vmobj_put(c);
	vmobj_put(o);
	assert_int_equal(pmem_put(&fx.pm, x), 0);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * A shared leaf node at root[0] (levels 2, nothing past entry 495), the index's only
 * node: a new page with VMOBJ_UNDO, taken back. The page goes with the node's copy: a
 * discard of it first would fold the copy into root[], and vmobj_fault_end could not
 * find it.
 */
static void test_shared_root_undo(void **state)
{
	(void)state;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	struct vmobj *a, *b;
	struct vmobj_page p;
	static struct snap s;
	assert_int_equal(vmobj_create_anon(&fx.pm, 4 * MiB, &a), 0);
	wr(a, 1 * PG, 1);
	wr(a, 600 * PG, 2);
	assert_int_equal(vmobj_clone(a, 0, a->size, &b), 0);
	assert_int_equal(vmobj_discard(a, 512 * PG, 512 * PG), 0);   /* drops shared node 1 */
	check(a);
	assert_int_equal(a->levels, 2);
	snap_take(a, &s);
	assert_int_equal(vmobj_fault(a, 5 * PG, WR | VMOBJ_UNDO, &p), 0);
	assert_true(p.made);
	assert_int_not_equal(p.unshared, 0);
	vmobj_fault_end(a, 5 * PG, &p, false);
	snap_same(a, &s);
	check(a);
	vmobj_put(a);
	vmobj_put(b);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * A read through to a backing object whose leaf node there is still marked shared
 * after its clone went (the mark is stale: the node is the backing object's alone),
 * with no page free for the node's copy. The fault failed with SVMM_ENOMEM, and then
 * answered from the missing entry anyway: entry_exclusive asked pmem about frame 0,
 * which panicked.
 */
static void test_backing_stale_shared(void **state)
{
	(void)state;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	struct vmobj *file, *c, *priv;
	struct vmobj_page p;
	static struct snap s;
	fail_at = -1;
	assert_int_equal(vmobj_create_pager(&fx.pm, 4 * MiB, fill_pattern, NULL, &file), 0);
	assert_int_equal(rd(file, 600 * PG), 600 * PG);
	assert_int_equal(vmobj_clone(file, 0, file->size, &c), 0);
	vmobj_put(c);                             /* file's node 1 keeps its mark */
	assert_int_equal(vmobj_create_cow(file, 0, file->size, &priv), 0);
	snap_take(file, &s);
	fx_hold_all_but(0);
	assert_int_equal(vmobj_fault(priv, 601 * PG, RD, &p), SVMM_ENOMEM);
	fx_release_all();
	snap_same(file, &s);
	check(priv);
	assert_int_equal(rd(priv, 601 * PG), 601 * PG);
	check(priv);
	vmobj_put(priv);
	vmobj_put(file);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * A leaf node whose clone went is the source's alone, though still marked shared: a
 * write into it needs no memory (the frame's count is 1: written in place, the mark
 * cleared). The fault allocated the node's copy before it asked whether one was
 * needed, and so failed with SVMM_ENOMEM when no page was free.
 */
static void test_stale_shared_write(void **state)
{
	(void)state;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	struct vmobj *a, *b;
	struct vmobj_page p;
	assert_int_equal(vmobj_create_anon(&fx.pm, 4 * MiB, &a), 0);
	wr(a, 600 * PG, 1);
	assert_int_equal(vmobj_lookup(a, 600 * PG, &p), 0);
	svmm_pa_t f = p.pa;
	assert_int_equal(vmobj_clone(a, 0, a->size, &b), 0);
	vmobj_put(b);
	fx_hold_all_but(0);
	assert_int_equal(vmobj_fault(a, 600 * PG, WR | VMOBJ_UNDO, &p), 0);
	fx_release_all();
	assert_int_equal(p.pa, f);
	assert_true(p.writable);
	assert_int_equal(p.copied, 0);
	assert_int_equal(p.unshared, 0);
	check(a);
	vmobj_put(a);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/*
 * The same for a discard that cuts such a node: it needs no copy of it, so neither it
 * nor vmobj_reserve needs memory. Both set a page aside for the copy whatever the
 * node's count, and failed with SVMM_ENOMEM when none was free.
 */
static void test_stale_shared_discard(void **state)
{
	(void)state;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	struct vmobj *a, *b;
	struct vmobj_page p;
	assert_int_equal(vmobj_create_anon(&fx.pm, 4 * MiB, &a), 0);
	wr(a, 600 * PG, 1);
	wr(a, 700 * PG, 2);
	svmm_pa_t n1 = leaf_node(a, 600);
	assert_int_equal(vmobj_clone(a, 0, a->size, &b), 0);
	vmobj_put(b);
	fx_hold_all_but(0);
	assert_int_equal(vmobj_reserve(a, 600 * PG, PG), 0);
	assert_int_equal(vmobj_discard(a, 600 * PG, PG), 0);
	vmobj_unreserve(a);
	fx_release_all();
	assert_int_equal(leaf_node(a, 600), n1);      /* no copy: the mark went */
	assert_int_equal(vmobj_lookup(a, 600 * PG, &p), SVMM_ENOENT);
	assert_int_equal(rd(a, 700 * PG), 2);
	assert_int_equal(a->resident, 1);
	check(a);
	vmobj_put(a);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* ---- copy-on-write over a backing object (a private file mapping) ---- */

static void test_cow_backing(void **state)
{
	(void)state;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	struct vmobj *file, *priv, *bad;
	struct vmobj_page p, q;
	fail_at = -1;
	assert_int_equal(vmobj_create_pager(&fx.pm, 32 * PG, fill_pattern, NULL, &file), 0);
	assert_int_equal(vmobj_create_cow(file, 31 * PG, 2 * PG, &priv), SVMM_ERANGE);
	assert_int_equal(vmobj_create_cow(file, 1, PG, &priv), SVMM_EUNALIGNED);
	assert_int_equal(vmobj_create_cow(file, 0, 0, &priv), SVMM_EZEROSIZE);
	assert_int_equal(vmobj_create_cow(NULL, 0, PG, &priv), SVMM_EINVAL);
	assert_int_equal(vmobj_create_cow(file, 4 * PG, 8 * PG, &priv), 0);
	assert_int_equal(file->refs, 2);
	assert_int_equal(vmobj_create_cow(priv, 0, PG, &bad), SVMM_EINVAL);  /* one level */
	/* A read sees the file's page, read-only. */
	assert_int_equal(vmobj_fault(priv, PG, RD, &p), 0);
	assert_false(p.writable);
	assert_int_equal(words(p.pa)[0], 5 * PG);
	assert_int_equal(vmobj_lookup(file, 5 * PG, &q), 0);
	assert_int_equal(q.pa, p.pa);
	/* A write copies into the private object; the file is unchanged. */
	assert_int_equal(vmobj_fault(priv, PG, WR, &q), 0);
	assert_true(q.writable);
	assert_int_not_equal(q.pa, p.pa);
	assert_int_equal(words(q.pa)[0], 5 * PG);
	words(q.pa)[0] = 99;
	assert_int_equal(rd(file, 5 * PG), 5 * PG);
	assert_int_equal(rd(priv, PG), 99);
	/* A write to a page the file has not read yet reads it and copies it. */
	wr(priv, 6 * PG, 7);
	assert_int_equal(rd(file, 10 * PG), 10 * PG);
	check(priv);
	/* Clone the private object: the backing is shared, one more reference. */
	struct vmobj *c;
	assert_int_equal(vmobj_clone(priv, 0, priv->size, &c), 0);
	assert_int_equal(file->refs, 3);
	assert_int_equal(rd(c, PG), 99);
	check(c);
	vmobj_put(c);
	/* Discard: the file's data shows through again. */
	assert_int_equal(vmobj_discard(priv, 0, 8 * PG), 0);
	assert_int_equal(rd(priv, PG), 5 * PG);
	/* Populate of a private object fills the file's pages. */
	assert_int_equal(vmobj_populate(priv, 0, 8 * PG, 0), 0);
	assert_int_equal(priv->resident, 0);
	assert_int_equal(file->resident, 8);
	check(priv);
	vmobj_put(file);                      /* the private object keeps it alive */
	assert_int_equal(rd(priv, 2 * PG), 6 * PG);
	vmobj_put(priv);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* ---- 2 MiB pages ---- */

static void test_huge(void **state)
{
	(void)state;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	struct vmobj *a, *b;
	struct vmobj_page p, q;
	assert_int_equal(vmobj_create_anon(&fx.pm, 6 * MiB + 64 * PG, &a), 0);
	/* An aligned group inside the object: one 2 MiB page, zeroed. */
	assert_int_equal(vmobj_fault(a, 2 * MiB + 7 * PG, WR | VMOBJ_HUGE, &p), 0);
	assert_int_equal(p.order, 9);
	assert_true(p.writable);
	assert_true(SVMM_IS_ALIGNED(p.pa, 2 * MiB));
	assert_int_equal(a->resident, 512);
	assert_int_equal(a->huge, 1);
	for (unsigned i = 0; i < 512; i++)
		words(p.pa + i * PG)[0] = i;
	/* The group that runs past the end gets 4 KiB pages. */
	assert_int_equal(vmobj_fault(a, 6 * MiB, WR | VMOBJ_HUGE, &q), 0);
	assert_int_equal(q.order, 0);
	/* A group with a 4 KiB page in it stays 4 KiB. */
	wr(a, 4 * MiB + PG, 1);
	assert_int_equal(vmobj_fault(a, 4 * MiB, WR | VMOBJ_HUGE, &q), 0);
	assert_int_equal(q.order, 0);
	/* Without VMOBJ_HUGE a 2 MiB page answers with its 4 KiB frame. */
	assert_int_equal(vmobj_fault(a, 2 * MiB + 9 * PG, WR, &q), 0);
	assert_int_equal(q.order, 0);
	assert_int_equal(q.pa, p.pa + 9 * PG);
	assert_true(q.writable);
	check(a);

	/* Clone: one more reference on the block. */
	assert_int_equal(vmobj_clone(a, 0, a->size, &b), 0);
	assert_int_equal(refs(p.pa), 2);
	assert_int_equal(vmobj_fault(b, 2 * MiB, RD | VMOBJ_HUGE, &q), 0);
	assert_int_equal(q.order, 9);
	assert_false(q.writable);
	/* The clone writes one page: the block splits, the clone copies one 4 KiB page. */
	assert_int_equal(vmobj_fault(b, 2 * MiB + 5 * PG, WR | VMOBJ_HUGE, &q), 0);
	assert_int_equal(q.order, 0);
	assert_true(q.writable);
	assert_int_equal(words(q.pa)[0], 5);
	words(q.pa)[0] = 555;
	assert_int_equal(b->huge, 0);
	assert_int_equal(a->huge, 1);                      /* still one entry, split frames */
	check(a);
	check(b);
	assert_int_equal(refs(p.pa + 5 * PG), 1);
	assert_int_equal(refs(p.pa + 6 * PG), 2);
	assert_int_equal(rd(a, 2 * MiB + 5 * PG), 5);
	assert_int_equal(rd(b, 2 * MiB + 5 * PG), 555);
	/* The source's entry is split underneath: reads are read-only 2 MiB views... */
	assert_int_equal(vmobj_fault(a, 2 * MiB, RD | VMOBJ_HUGE, &q), 0);
	assert_int_equal(q.order, 9);
	assert_false(q.writable);
	/* ...and a write unfolds it: page 5 is its own already, no copy. */
	assert_int_equal(vmobj_fault(a, 2 * MiB + 5 * PG, WR | VMOBJ_HUGE, &q), 0);
	assert_int_equal(q.pa, p.pa + 5 * PG);
	assert_int_equal(a->huge, 0);
	check(a);
	vmobj_put(b);
	check(a);

	/* Discard across a 2 MiB page's ends splits it. */
	assert_int_equal(vmobj_create_anon(&fx.pm, 4 * MiB, &b), 0);
	assert_int_equal(vmobj_fault(b, 0, WR | VMOBJ_HUGE, &q), 0);
	assert_int_equal(q.order, 9);
	assert_int_equal(vmobj_discard(b, 16 * PG, 32 * PG), 0);
	assert_int_equal(b->resident, 512 - 32);
	assert_int_equal(b->huge, 0);
	assert_int_equal(vmobj_lookup(b, 16 * PG, &q), SVMM_ENOENT);
	assert_int_equal(vmobj_lookup(b, 48 * PG, &q), 0);
	check(b);
	/* A discard of the whole page drops it whole. */
	assert_int_equal(vmobj_fault(b, 2 * MiB, WR | VMOBJ_HUGE, &q), 0);
	assert_int_equal(q.order, 9);
	assert_int_equal(vmobj_discard(b, 2 * MiB, 2 * MiB), 0);
	assert_int_equal(b->huge, 0);
	check(b);
	/* Populate with VMOBJ_HUGE uses 2 MiB pages where the range covers a group. */
	assert_int_equal(vmobj_populate(b, 0, 4 * MiB, VMOBJ_HUGE), 0);
	assert_int_equal(b->huge, 1);
	assert_int_equal(b->resident, 1024);
	check(b);
	vmobj_put(b);
	vmobj_put(a);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* ---- out of memory at every allocation point ---- */

/*
 * Run op with budget frames free for n = 0, 1, ... until it succeeds. Each failure must
 * be SVMM_ENOMEM with the object exactly as before.
 */
#define sweep(o, op, n) sweep_(o, op, n, #op)
static void sweep_(struct vmobj *o, int (*op)(struct vmobj *o), unsigned expect_failures,
		   const char *name)
{
	static struct snap s;
	unsigned failures = 0;
	for (uint64_t n = 0;; n++) {
		snap_take(o, &s);
		fx_hold_all_but(n);
		s.free_frames = pmem_free_frames(&fx.pm);
		int err = op(o);
		if (err == 0) {
			fx_release_all();
			break;
		}
		assert_int_equal(err, SVMM_ENOMEM);
		snap_same(o, &s);
		check(o);
		fx_release_all();
		failures++;
		assert_true(n < 64);
	}
	check(o);
	if (failures < expect_failures)
		fail_msg("%s: only %u failing budgets, expected at least %u", name, failures,
			 expect_failures);
}

static struct vmobj *made;

static int op_fault_deep(struct vmobj *o)
{
	struct vmobj_page p;
	return vmobj_fault(o, 1000 * MiB, WR, &p);         /* two nodes and a frame */
}

static int op_clone(struct vmobj *o)
{
	return vmobj_clone(o, 0, o->size, &made);
}

static int op_cow(struct vmobj *o)
{
	struct vmobj_page p;
	return vmobj_fault(o, 300 * MiB, WR, &p);
}

static int op_cow_shared(struct vmobj *o)
{
	struct vmobj_page p;
	return vmobj_fault(o, 2 * MiB, WR, &p);            /* resident, in a shared node */
}

static int op_new_shared(struct vmobj *o)
{
	struct vmobj_page p;
	return vmobj_fault(o, 20 * MiB + 5 * PG, WR, &p);  /* missing, in a shared node */
}

static int op_discard_shared(struct vmobj *o)
{
	return vmobj_discard(o, 100 * MiB - 6 * PG, 2 * PG);
}

static int op_cow_huge(struct vmobj *o)
{
	struct vmobj_page p;
	return vmobj_fault(o, 2 * MiB + 3 * PG, WR | VMOBJ_HUGE, &p);
}

static int op_populate(struct vmobj *o)
{
	return vmobj_populate(o, 100 * MiB - 8 * PG, 16 * PG, 0);  /* across a node edge */
}

static int op_discard_split(struct vmobj *o)
{
	return vmobj_discard(o, 2 * MiB + 100 * PG, 2 * MiB);     /* cuts two 2 MiB pages */
}

static int op_backing_write(struct vmobj *o)
{
	struct vmobj_page p;
	return vmobj_fault(o, 300 * PG, WR, &p);
}

static void test_oom(void **state)
{
	(void)state;
	uint64_t free0 = pmem_free_frames(&fx.pm);
	struct vmobj *a, *b, *f, *pv;
	struct vmobj_page p;

	/* Create: the object's page. */
	fx_hold_all_but(0);
	assert_int_equal(vmobj_create_anon(&fx.pm, 1024 * MiB, &a), SVMM_ENOMEM);
	fx_release_all();
	assert_int_equal(vmobj_create_anon(&fx.pm, 1024 * MiB, &a), 0);
	sweep(a, op_fault_deep, 3);
	assert_int_equal(a->levels, 3);
	wr(a, 2 * MiB, 1);
	assert_int_equal(vmobj_fault(a, 8 * MiB, WR | VMOBJ_HUGE, &p), 0);
	assert_int_equal(p.order, 9);
	sweep(a, op_populate, 2);
	/* A 2 MiB fault with no 2 MiB block free falls back to a 4 KiB page. */
	fx_hold_all_but(8);
	assert_int_equal(vmobj_fault(a, 20 * MiB, WR | VMOBJ_HUGE, &p), 0);
	assert_int_equal(p.order, 0);
	fx_release_all();
	check(a);

	/* Clone: its page and its interior node (the leaf nodes are shared), and nothing
	   changes in the source on failure. */
	sweep(a, op_clone, 2);
	check(made);
	/* Faults in the clone: a frame; in a shared leaf node also its copy first, taken
	   back when the frame cannot be had. */
	b = made;
	sweep(b, op_cow, 1);
	sweep(b, op_cow_shared, 2);
	sweep(b, op_new_shared, 2);
	/* A discard that cuts a shared node: its copy first. */
	sweep(b, op_discard_shared, 1);
	vmobj_put(b);

	/* A 2 MiB page shared by a clone: a node and a frame before anything changes. */
	assert_int_equal(vmobj_create_anon(&fx.pm, 8 * MiB, &b), 0);
	assert_int_equal(vmobj_fault(b, 2 * MiB, WR | VMOBJ_HUGE, &p), 0);
	assert_int_equal(vmobj_fault(b, 4 * MiB, WR | VMOBJ_HUGE, &p), 0);
	struct vmobj *c;
	assert_int_equal(vmobj_clone(b, 0, b->size, &c), 0);
	sweep(c, op_cow_huge, 2);
	/* Discard cutting two 2 MiB pages: two nodes first. */
	sweep(b, op_discard_split, 2);
	check(c);
	vmobj_put(c);
	vmobj_put(b);

	/* A write through a backing object: its page, the copy, a node. */
	assert_int_equal(vmobj_create_pager(&fx.pm, 4 * MiB, fill_pattern, NULL, &f), 0);
	assert_int_equal(vmobj_create_cow(f, 0, 4 * MiB, &pv), 0);
	sweep(pv, op_backing_write, 2);
	assert_int_equal(rd(pv, 300 * PG), 300 * PG);
	vmobj_put(pv);
	vmobj_put(f);
	vmobj_put(a);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
}

/* ---- the checker names what it catches ---- */

struct grab {
	char text[512];
};

static void grab_line(void *ctx, const char *line)
{
	struct grab *g = ctx;
	snprintf(g->text, sizeof(g->text), "%s", line);
}

static void expect_broken(struct vmobj *o, const char *what)
{
	struct grab g = { "" };
	assert_int_equal(vmobj_check(o, grab_line, &g), SVMM_EINVAL);
	if (strstr(g.text, what) == NULL)
		fail_msg("check said \"%s\", expected \"%s\"", g.text, what);
}

static void test_check_catches(void **state)
{
	(void)state;
	struct vmobj *o;
	struct vmobj_page p;
	assert_int_equal(vmobj_create_anon(&fx.pm, 8 * MiB, &o), 0);
	wr(o, 3 * PG, 1);
	wr(o, 8 * MiB - PG, 2);            /* the index grows to two levels */
	check(o);
	o->resident++;
	expect_broken(o, "counters match");
	o->resident--;
	uint64_t *e = &((uint64_t *)port_pa_to_va(o->root[0] & ~(PG - 1)))[3];
	*e |= 8;
	expect_broken(o, "exactly one of");
	*e &= ~(uint64_t)8;
	svmm_pa_t pa = *e & ~(PG - 1);
	assert_int_equal(pmem_get(&fx.pm, pa), 0);
	assert_int_equal(pmem_free(&fx.pm, pa, 0), SVMM_EBUSY);
	assert_int_equal(pmem_put(&fx.pm, pa), 0);
	uint64_t keep = *e;
	*e = 0;
	o->resident--;
	expect_broken(o, "no index node is empty");
	*e = keep;
	o->resident++;
	/* The node's used-entry count and bounds live in its pmem owner word. */
	uint64_t *m = &pmem_frame(&fx.pm, o->root[0] & ~(PG - 1))->u.owner;
	(*m)++;
	expect_broken(o, "counts its used entries");
	(*m)--;
	*m += (uint64_t)4 << 16;        /* the lowest used word would be 4: entry 3 is out */
	expect_broken(o, "within its bounds");
	*m -= (uint64_t)4 << 16;
	check(o);
	o->levels = 3;
	expect_broken(o, "fewest levels");
	o->levels = 2;
	o->kind = VMOBJ_PAGER;
	expect_broken(o, "kind agrees");
	o->kind = VMOBJ_ANON;
	check(o);
	/* The shared mark: only on a leaf node's entry; a node without it has one holder. */
	*e |= 16;
	expect_broken(o, "only a leaf node's may be marked shared");
	*e &= ~(uint64_t)16;
	svmm_pa_t node = o->root[0] & ~(PG - 1);
	assert_int_equal(pmem_get(&fx.pm, node), 0);
	expect_broken(o, "a node not marked shared is this object's alone");
	o->root[0] |= 16;
	check(o);                          /* marked: two holders are fine */
	assert_int_equal(pmem_put(&fx.pm, node), 0);
	check(o);                          /* and a stale mark too */
	o->root[0] &= ~(uint64_t)16;
	check(o);
	assert_int_equal(vmobj_fault(o, 0, RD, &p), 0);
	vmobj_put(o);
	/* An empty index has one level: a higher one would be walked for nothing. */
	assert_int_equal(vmobj_create_anon(&fx.pm, 8 * MiB, &o), 0);
	o->levels = 2;
	expect_broken(o, "span its highest page");
	o->levels = 1;
	check(o);
	vmobj_put(o);
}


/*
 * Interior nodes (levels >= 3: pages past 992 MiB) are initialised only within their
 * bounds. Widen one node's bounds down and up, look up the words in between, clone a
 * range that reaches into a node without taking any of its entries (an empty, unzeroed
 * node the clone then prunes), with every free frame poisoned before each step.
 */
static void test_interior_bounds(void **state)
{
	(void)state;
	const uint64_t G = 1024 * MiB, M2 = 2 * MiB, size = 4 * G;
	struct vmobj *o, *c;
	struct vmobj_page p;
	assert_int_equal(vmobj_create_anon(&fx.pm, size, &o), 0);
	fx_poison_free(64 * MiB);
	wr(o, G + 5 * M2, 5);              /* root[1]'s node: word 5 */
	check(o);
	fx_poison_free(64 * MiB);
	wr(o, G + 2 * M2, 2);              /* down to word 2 */
	check(o);
	fx_poison_free(64 * MiB);
	wr(o, G + 9 * M2, 9);              /* up to word 9 */
	check(o);
	for (unsigned w = 0; w < 12; w++)
		if (w != 2 && w != 5 && w != 9)
			assert_int_equal(vmobj_lookup(o, G + w * M2, &p), SVMM_ENOENT);
	fx_poison_free(64 * MiB);
	/* A clone of a range inside root[1]'s span that holds none of its entries. */
	assert_int_equal(vmobj_clone(o, G + 10 * M2, G - 10 * M2, &c), 0);
	check(c);
	assert_int_equal(vmobj_lookup(c, G + 9 * M2, &p), SVMM_ENOENT);
	vmobj_put(c);
	fx_poison_free(64 * MiB);
	assert_int_equal(vmobj_clone(o, G + 3 * M2, 7 * M2, &c), 0);   /* word 5 only */
	check(c);
	assert_int_equal(vmobj_lookup(c, G + 5 * M2, &p), 0);
	assert_int_equal(words(p.pa)[0], 5);
	assert_int_equal(vmobj_lookup(c, G + 2 * M2, &p), SVMM_ENOENT);
	vmobj_put(c);
	fx_poison_free(64 * MiB);
	assert_int_equal(vmobj_discard(o, G, G), 0);
	check(o);
	fx_poison_free(64 * MiB);
	wr(o, G + 7 * M2, 7);              /* the node went with the discard: a new one */
	check(o);
	vmobj_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_interior_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_anon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pager, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone_shares_nodes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shared_root_undo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backing_stale_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_shared_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_shared_discard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone_sparse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clone_outside_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cow_backing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_huge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_catches, setup, teardown),
	};
	return cmocka_run_group_tests_name("vmobj", tests, NULL, NULL);
}
