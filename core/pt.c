/*
 * pt.c - page tables for Sv39, Sv48 and Sv57.
 *
 * Every mutating call runs in two phases. The first only reads: it checks the request
 * against the tables (EEXIST, ENOENT, EPERM) and counts exactly how many new tables
 * the second phase will need (new intermediate tables, and huge pages to split). Those
 * tables are allocated up front into a private pool; if any allocation fails, the
 * pool is given back and the tables were never touched. The second phase then cannot
 * fail: it takes tables from the pool and must use every one of them, which is
 * checked. Tables that the change frees are collected and only given back after the
 * TLB flush, because a hardware walker may still hold a pointer to them until then
 * (the same order as Linux's mmu_gather).
 *
 * The loops descend into each table once and walk its entries in a straight loop, so
 * mapping n 4 KiB pages costs one walk per leaf table and n stores.
 */
#include <svmm/pt.h>

#define PT_NIL     (~(svmm_pa_t)0)        /* end of a pool or free list of frames */
#define PT_IDX_BITS 9u
#define PT_NPTE    512u

static inline unsigned pt_idx(svmm_va_t va, unsigned level)
{
	return (unsigned)(va >> (SVMM_PAGE_SHIFT + PT_IDX_BITS * level)) & (PT_NPTE - 1u);
}

static inline uint64_t *pt_table(svmm_pa_t pa)
{
	return (uint64_t *)port_pa_to_va(pa);
}

static inline uint64_t pte_make(svmm_pa_t pa, uint64_t bits)
{
	return ((pa >> SVMM_PAGE_SHIFT) << SVMM_PTE_PPN_SHIFT) | bits;
}

static inline uint64_t pt_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The state of one map, unmap or protect call. */
struct pt_op {
	struct pt *pt;
	unsigned flags;
	unsigned maxleaf;     /* highest level at which a leaf may be written */
	bool unmap;           /* unmap, for the shared edit path */
	bool protect;         /* protect, for the shared edit path */
	uint64_t attr;        /* leaf bits other than the PPN (map); bits to set (protect) */
	uint64_t clear;       /* protect: permission bits to clear */
	svmm_pa_t pool;            /* preallocated zeroed tables, linked through word 0 */
	uint64_t npool;
	svmm_pa_t freed;           /* tables to give back after the flush */
	bool changed;         /* a valid entry was changed or removed: flush */
	svmm_va_t flo, fhi;        /* flush range [flo, fhi], inclusive end */
	/* pt_unmap_leaves: removed leaves and subtrees, reported after the flush */
	struct pt_gather *gather;
	svmm_pa_t gather_pa;
	bool stopped;         /* the gather frame is full: the walk stopped at stop */
	svmm_va_t stop;
};

/*
 * The gather frame of pt_unmap_leaves: one 4 KiB frame of records. A record is a leaf
 * (va and its entry) or a whole subtree that left the tree (va, the level of its
 * entries and its table), reported and freed after the flush.
 */
#define GATHER_SUBTREE  8u                /* in the low bits of va, beside the level */
#define GATHER_MAX      ((SVMM_PAGE_SIZE - 8u) / 16u)
struct pt_gather {
	uint64_t n;
	struct { uint64_t va; uint64_t val; } rec[GATHER_MAX];
};

/* ---- small helpers ---- */

static bool pt_canonical(const struct pt *pt, svmm_va_t va)
{
	return svmm_canonical(pt->mode, va);
}

static bool pt_is_user(const struct pt *pt, svmm_va_t va)
{
	return va < svmm_user_end(pt->mode);
}

static uint32_t pt_flush_asid(const struct pt *pt)
{
	return pt->kernel ? PORT_ASID_GLOBAL : pt->asid;
}

/* A root slot of a kernel pt that must keep its boot-time table. */
static bool pt_is_kernel_slot(const struct pt *pt, unsigned level, svmm_va_t va)
{
	return pt->kernel && level == pt->levels - 1u && !pt_is_user(pt, va);
}

/* Common address checks of every range call. */
static int pt_check_range(const struct pt *pt, svmm_va_t va, uint64_t size)
{
	if (size == 0)
		return SVMM_EZEROSIZE;
	if (!SVMM_IS_ALIGNED(va, SVMM_PAGE_SIZE) || !SVMM_IS_ALIGNED(size, SVMM_PAGE_SIZE))
		return SVMM_EUNALIGNED;
	svmm_va_t last = va + size - 1u;
	if (last < va)
		return SVMM_EOVERFLOW;
	bool c0 = pt_canonical(pt, va), c1 = pt_canonical(pt, last);
	if (c0 && c1 && pt_is_user(pt, va) != pt_is_user(pt, last))
		return SVMM_EHALVES;
	if (!c0 || !c1)
		return SVMM_ENONCANON;
	return 0;
}

static svmm_pa_t pool_take(struct pt_op *op)
{
	if (op->pool == PT_NIL)
		port_panic("pt: table pool ran dry (count phase disagrees)");
	svmm_pa_t pa = op->pool;
	uint64_t *t = pt_table(pa);
	op->pool = t[0];
	t[0] = 0;
	op->npool--;
	op->pt->tables++;
	return pa;
}

static void pool_release(struct pt_op *op)
{
	while (op->pool != PT_NIL) {
		svmm_pa_t pa = op->pool;
		op->pool = pt_table(pa)[0];
		port_table_free(pa);
	}
	op->npool = 0;
}

static int pool_fill(struct pt_op *op, uint64_t n)
{
	op->pool = PT_NIL;
	op->npool = 0;
	while (op->npool < n) {
		svmm_pa_t pa;
		int err = port_table_alloc(&pa);
		if (err != 0) {
			pool_release(op);
			return err;
		}
		pt_table(pa)[0] = op->pool;
		op->pool = pa;
		op->npool++;
	}
	return 0;
}

/*
 * Queue a table for freeing after the flush. Word 0 carries the link: a page-aligned
 * address has V clear, so a walker that still reaches the frame sees an invalid entry.
 */
static void freed_push(struct pt_op *op, svmm_pa_t pa)
{
	pt_table(pa)[0] = op->freed;
	op->freed = pa;
	op->pt->tables--;
}

/*
 * The first index >= i, below end, whose entry is valid (end if none). Sparse tables
 * are the rule when a process exits, so eight entries are tested with one branch.
 */
static unsigned next_valid(const uint64_t *t, unsigned i, unsigned end)
{
	while (i + 8u <= end && ((t[i] | t[i + 1] | t[i + 2] | t[i + 3] | t[i + 4] | t[i + 5] |
				  t[i + 6] | t[i + 7]) & SVMM_PTE_V) == 0)
		i += 8u;
	while (i < end && !(t[i] & SVMM_PTE_V))
		i++;
	return i;
}

/* Queue a table and every table below it. level is the level of the table's entries. */
static void free_subtree(struct pt_op *op, svmm_pa_t pa, unsigned level)
{
	if (level > 0) {
		uint64_t *t = pt_table(pa);
		for (unsigned i = next_valid(t, 0, PT_NPTE); i < PT_NPTE;
		     i = next_valid(t, i + 1u, PT_NPTE))
			if (svmm_pte_is_table(t[i]))
				free_subtree(op, svmm_pte_pa(t[i]), level - 1u);
	}
	freed_push(op, pa);
}

static void flush_extend(struct pt_op *op, svmm_va_t lo, uint64_t size)
{
	if (lo < op->flo)
		op->flo = lo;
	if (lo + size - 1u > op->fhi)
		op->fhi = lo + size - 1u;
}

/* Flush what the op changed, then give back the frames it freed. */
static void op_finish(struct pt_op *op)
{
	if (op->npool != 0)
		port_panic("pt: preallocated tables left over (count phase disagrees)");
	if (op->changed || op->freed != PT_NIL)
		port_tlb_flush(pt_flush_asid(op->pt), op->flo, op->fhi - op->flo + 1u);
	while (op->freed != PT_NIL) {
		svmm_pa_t pa = op->freed;
		op->freed = pt_table(pa)[0];
		port_table_free(pa);
	}
}

static bool table_empty(const uint64_t *t)
{
	return next_valid(t, 0, PT_NPTE) == PT_NPTE;
}

/*
 * Is the table empty, given that entries [first, last] were just cleared? Their
 * neighbours are the likeliest survivors (a page unmapped from the middle of a
 * mapping), so they are looked at before the whole table is scanned.
 */
static bool table_empty_after(const uint64_t *t, unsigned first, unsigned last)
{
	if ((last + 1u < PT_NPTE && (t[last + 1u] & SVMM_PTE_V)) || (first > 0 && (t[first - 1u] & SVMM_PTE_V)))
		return false;
	return table_empty(t);
}

/* Fill a new table at level with leaves equivalent to the huge leaf pte one level up. */
static void split_fill(uint64_t *t, uint64_t pte, unsigned level)
{
	uint64_t step = (pt_level_size(level) >> SVMM_PAGE_SHIFT) << SVMM_PTE_PPN_SHIFT;
	for (unsigned i = 0; i < PT_NPTE; i++) {
		t[i] = pte;
		pte += step;
	}
}

/* Rewrite a Svnapot run as 16 ordinary 4 KiB leaves (the translation is unchanged). */
static void napot_demote(uint64_t *t, unsigned i)
{
	unsigned g = i & ~15u;
	svmm_pa_t base = svmm_pte_pa(t[g]) & ~(PT_NAPOT_SIZE - 1u);
	for (unsigned j = 0; j < 16; j++) {
		uint64_t e = t[g + j];
		t[g + j] = (e & ~(SVMM_PTE_N | SVMM_PTE_PPN_MASK)) |
			   pte_make(base + j * SVMM_PAGE_SIZE, 0);
	}
}

/* The entry a protect makes of leaf e: clear, then set, D following W. */
static uint64_t protect_value(const struct pt_op *op, uint64_t e)
{
	uint64_t v = (e & ~op->clear) | op->attr;
	return (v & SVMM_PTE_W) ? v | SVMM_PTE_D : v & ~SVMM_PTE_D;
}

/*
 * Demote a Svnapot run holding boundary address b that [va, va+size) covers in part
 * (a protect that does not change the run leaves it whole).
 */
static void napot_boundary(const struct pt_op *op, svmm_va_t b, svmm_va_t va, uint64_t size)
{
	const struct pt *pt = op->pt;
	uint64_t *t = pt_table(pt->root);
	for (unsigned level = pt->levels - 1u; level > 0; level--) {
		uint64_t e = t[pt_idx(b, level)];
		if (!svmm_pte_is_table(e))
			return;
		t = pt_table(svmm_pte_pa(e));
	}
	unsigned i = pt_idx(b, 0);
	if (!(t[i] & SVMM_PTE_V) || !(t[i] & SVMM_PTE_N))
		return;
	if (op->protect && protect_value(op, t[i]) == t[i])
		return;
	svmm_va_t g = SVMM_ALIGN_DOWN(b, PT_NAPOT_SIZE);
	if (g < va || g + PT_NAPOT_SIZE - 1u > va + size - 1u)
		napot_demote(t, i);
}

static void napot_boundaries(const struct pt_op *op, svmm_va_t va, uint64_t size)
{
	napot_boundary(op, va, va, size);
	napot_boundary(op, va + size - 1u, va, size);
}

/* ---- init, clone, destroy ---- */

static void pt_setup(struct pt *pt, enum svmm_mode mode, uint32_t asid, bool kernel)
{
	pt->mode = mode;
	pt->asid = asid;
	pt->kernel = kernel;
	pt->cloned = false;
	pt->levels = svmm_mode_levels(mode);
	pt->tables = 1;
	pt->span[0] = ~(svmm_va_t)0;
	pt->span[1] = 0;
	pt->lock = (struct svmm_lock)SVMM_LOCK_INIT;
}

int pt_init(struct pt *pt, enum svmm_mode mode, uint32_t asid)
{
	if (!svmm_mode_valid(mode))
		return SVMM_EMODE;
	svmm_pa_t root;
	int err = port_table_alloc(&root);
	if (err != 0)
		return err;
	pt_setup(pt, mode, asid, false);
	pt->root = root;
	return 0;
}

int pt_init_kernel(struct pt *pt, enum svmm_mode mode)
{
	if (!svmm_mode_valid(mode))
		return SVMM_EMODE;
	svmm_pa_t root;
	int err = port_table_alloc(&root);
	if (err != 0)
		return err;
	uint64_t *r = pt_table(root);
	for (unsigned s = SVMM_DMAP_SLOT0; s < SVMM_ROOT_SLOTS; s++) {
		svmm_pa_t t;
		err = port_table_alloc(&t);
		if (err != 0) {
			/* Nothing can have walked these yet: give them straight back. */
			for (unsigned k = SVMM_DMAP_SLOT0; k < s; k++)
				port_table_free(svmm_pte_pa(r[k]));
			port_table_free(root);
			return err;
		}
		r[s] = pte_make(t, SVMM_PTE_V);
	}
	pt_setup(pt, mode, 0, true);
	pt->root = root;
	pt->tables = 1u + (SVMM_ROOT_SLOTS - SVMM_DMAP_SLOT0);
	return 0;
}

/*
 * The kernel pt remembers that a clone exists, so that PT_BOOT (which may replace a
 * kernel-half root entry) is refused from now on. It is the one field a clone writes;
 * the kernel pt object itself is never const, the parameters only say that its tables
 * are not changed. Once set the flag never clears and the kernel half never changes
 * again, so a clone that finds it set needs no lock to copy the half.
 */
static void kernel_mark_cloned(const struct pt *kernel)
{
	struct pt *k = (struct pt *)(uintptr_t)kernel;
	if (__atomic_load_n(&k->cloned, __ATOMIC_ACQUIRE))
		return;
	port_lock(&k->lock);
	__atomic_store_n(&k->cloned, true, __ATOMIC_RELEASE);
	port_unlock(&k->lock);
}

/*
 * Root entries [SVMM_DMAP_SLOT0, SVMM_ROOT_SLOTS) of kr into d, and with zero, entries
 * [0, SVMM_DMAP_SLOT0) of d cleared in the same rounds. Eight entries per round (each
 * half is 256 slots, a multiple of 8): the loop overhead was as large as the copy, and
 * this runs for every address space.
 */
static void root_fill(uint64_t *d, const uint64_t *kr, bool zero)
{
	_Static_assert(SVMM_DMAP_SLOT0 * 2u == SVMM_ROOT_SLOTS && SVMM_DMAP_SLOT0 % 8u == 0,
		       "two halves of the root, in eights");
	uint64_t *u = d;
	d += SVMM_DMAP_SLOT0;
	kr += SVMM_DMAP_SLOT0;
	for (unsigned s = 0; s < SVMM_DMAP_SLOT0; s += 8u) {
		uint64_t e0 = kr[s], e1 = kr[s + 1], e2 = kr[s + 2], e3 = kr[s + 3];
		uint64_t e4 = kr[s + 4], e5 = kr[s + 5], e6 = kr[s + 6], e7 = kr[s + 7];
		d[s] = e0, d[s + 1] = e1, d[s + 2] = e2, d[s + 3] = e3;
		d[s + 4] = e4, d[s + 5] = e5, d[s + 6] = e6, d[s + 7] = e7;
		if (zero) {
			u[s] = 0, u[s + 1] = 0, u[s + 2] = 0, u[s + 3] = 0;
			u[s + 4] = 0, u[s + 5] = 0, u[s + 6] = 0, u[s + 7] = 0;
		}
	}
}

int pt_clone_kernel(struct pt *dst, const struct pt *kernel)
{
	if (!kernel->kernel || dst->kernel || dst == kernel)
		return SVMM_EINVAL;
	if (dst->mode != kernel->mode)
		return SVMM_EMODE;
	kernel_mark_cloned(kernel);
	root_fill(pt_table(dst->root), pt_table(kernel->root), false);
	return 0;
}

int pt_init_user(struct pt *pt, const struct pt *kernel, uint32_t asid)
{
	if (kernel == NULL || !kernel->kernel)
		return SVMM_EINVAL;
	/* The root is written whole below (one half zeroed, one copied): no zeroing first. */
	svmm_pa_t root;
	int err = port_table_alloc_raw(&root);
	if (err != 0)
		return err;
	kernel_mark_cloned(kernel);
	root_fill(pt_table(root), pt_table(kernel->root), true);
	pt_setup(pt, kernel->mode, asid, false);
	pt->root = root;
	return 0;
}

void pt_leaf_ignore(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	(void)ctx;
	(void)va;
	(void)pa;
	(void)size;
	(void)pte;
}

static bool subtree_has_leaf(const uint64_t *t, unsigned level);
static uint64_t destroy_subtree(svmm_pa_t pa, unsigned level, svmm_va_t va,
				const svmm_va_t *span, pt_leaf_fn fn, void *ctx);

int pt_destroy(struct pt *pt, pt_leaf_fn fn, void *ctx)
{
	uint64_t *r = pt_table(pt->root);
	unsigned top = pt->levels - 1u;
	unsigned end = pt->kernel ? SVMM_ROOT_SLOTS : SVMM_DMAP_SLOT0;
	/* Refused with nothing freed, or reported after the flush and before the frees. */
	if (fn == NULL) {
		for (unsigned s = next_valid(r, 0, end); s < end; s = next_valid(r, s + 1u, end))
			if (svmm_pte_is_leaf(r[s]) ||
			    subtree_has_leaf(pt_table(svmm_pte_pa(r[s])), top - 1u))
				return SVMM_ELIVE;
		fn = pt_leaf_ignore;
	}
	/* Every translation of this ASID goes, and every walk through its tables. */
	port_tlb_flush(pt_flush_asid(pt), 0, 0);
	uint64_t freed = 1;
	unsigned first = 0;
	if (!pt->kernel) {
		/* A user pt: its valid root entries lie in pt_map's span (see destroy_subtree). */
		if (pt->span[0] > pt->span[1])
			end = 0;
		else if (pt_idx(pt->span[1], top) + 1u < end)
			end = pt_idx(pt->span[1], top) + 1u;
		first = pt_idx(pt->span[0], top);
	}
	for (unsigned s = next_valid(r, first, end); s < end; s = next_valid(r, s + 1u, end)) {
		svmm_va_t sva = (svmm_va_t)(s < SVMM_DMAP_SLOT0 ? s : s - SVMM_DMAP_SLOT0) *
				pt_level_size(top);
		if (s >= SVMM_DMAP_SLOT0)
			sva += svmm_kernel_base(pt->mode);
		if (svmm_pte_is_leaf(r[s]))
			fn(ctx, sva, svmm_pte_pa(r[s]), pt_level_size(top), r[s]);
		else
			freed += destroy_subtree(svmm_pte_pa(r[s]), top - 1u, sva, pt->span, fn, ctx);
	}
	port_table_free(pt->root);
	if (freed != pt->tables)
		port_panic("pt_destroy: table count does not match the tree");
	pt->tables = 0;
	pt->root = 0;
	return 0;
}

uint64_t pt_satp(const struct pt *pt)
{
	return ((uint64_t)pt->mode << 60) | ((uint64_t)(pt->asid & 0xffffu) << 44) |
	       (pt->root >> SVMM_PAGE_SHIFT);
}

/* ---- map ---- */

enum pt_kind { T_REAL, T_EMPTY, T_SPLIT };

static bool leafable(const struct pt_op *op, unsigned level, svmm_va_t va, svmm_pa_t pa, uint64_t step)
{
	uint64_t lsz = pt_level_size(level);
	return level <= op->maxleaf && step == lsz && ((va | pa) & (lsz - 1u)) == 0;
}

/* SVMM_EEXIST if any 4 KiB entry of [va, va + size) in leaf table t is valid. */
static int leaves_free(const uint64_t *t, svmm_va_t va, uint64_t size)
{
	unsigned i = pt_idx(va, 0);
	uint64_t n = size >> SVMM_PAGE_SHIFT;
	for (uint64_t k = 0; k < n; k++)
		if (t[i + k] & SVMM_PTE_V)
			return SVMM_EEXIST;
	return 0;
}

/*
 * Phase 1 of pt_map: check [va, va + size) inside one table at level and add to *need
 * the tables phase 2 will allocate. kind says whether the table exists (T_REAL, t
 * valid), will be new (T_EMPTY) or will come from splitting a huge leaf (T_SPLIT).
 */
static int map_count(const struct pt_op *op, const uint64_t *t, enum pt_kind kind,
		     unsigned level, svmm_va_t va, uint64_t size, svmm_pa_t pa, uint64_t *need)
{
	bool replace = (op->flags & PT_REPLACE) != 0;
	if (level == 0)
		return kind == T_REAL && !replace ? leaves_free(t, va, size) : 0;
	uint64_t lsz = pt_level_size(level);
	while (size != 0) {
		uint64_t step = pt_min(lsz - (va & (lsz - 1u)), size);
		uint64_t e = kind == T_REAL ? t[pt_idx(va, level)] : kind == T_SPLIT ? SVMM_PTE_V | SVMM_PTE_R : 0;
		int err = 0;
		if (leafable(op, level, va, pa, step)) {
			if ((e & SVMM_PTE_V) && !replace) {
				/* A boot-time gigapage may take over its slot's still-empty table. */
				bool empty_slot = kind == T_REAL && pt_is_kernel_slot(op->pt, level, va) &&
						  svmm_pte_is_table(e) && table_empty(pt_table(svmm_pte_pa(e)));
				if (!empty_slot)
					return SVMM_EEXIST;
			}
		} else if (!(e & SVMM_PTE_V)) {
			*need += 1;
			if (level > 1)
				err = map_count(op, NULL, T_EMPTY, level - 1u, va, step, pa, need);
		} else if (svmm_pte_is_leaf(e)) {
			if (!replace)
				return SVMM_EEXIST;
			if (kind == T_REAL && pt_is_kernel_slot(op->pt, level, va) &&
			    !(op->flags & PT_BOOT))
				return SVMM_EPERM;
			*need += 1;
			if (level > 1)
				err = map_count(op, NULL, T_SPLIT, level - 1u, va, step, pa, need);
		} else if (level == 1) {
			/* The leaf table is checked from here, one frame less on the stack. */
			if (!replace)
				err = leaves_free(pt_table(svmm_pte_pa(e)), va, step);
		} else {
			err = map_count(op, pt_table(svmm_pte_pa(e)), T_REAL, level - 1u, va, step, pa,
					need);
		}
		if (err != 0)
			return err;
		va += step;
		pa += step;
		size -= step;
	}
	return 0;
}

/* Write 4 KiB (or Svnapot 64 KiB) leaves: the loop every small mapping ends in. */
static void map_leaves(struct pt_op *op, uint64_t *t, svmm_va_t va, uint64_t size, svmm_pa_t pa)
{
	uint64_t *e = t + pt_idx(va, 0);
	uint64_t n = size >> SVMM_PAGE_SHIFT;
	uint64_t pte = pte_make(pa, op->attr);
	uint64_t old = 0;
	const uint64_t one = (uint64_t)1 << SVMM_PTE_PPN_SHIFT;
	if (!(op->flags & PT_NAPOT)) {
		for (uint64_t k = 0; k < n; k++) {
			old |= e[k];
			e[k] = pte;
			pte += one;
		}
	} else {
		uint64_t k = 0;
		while (k < n) {
			svmm_va_t v = va + (k << SVMM_PAGE_SHIFT);
			svmm_pa_t p = pa + (k << SVMM_PAGE_SHIFT);
			if (n - k >= 16 && ((v | p) & (PT_NAPOT_SIZE - 1u)) == 0) {
				/* Svnapot: ppn[3:0] = 1000b names a 64 KiB run; all 16 alike. */
				uint64_t np = pte_make(p | ((svmm_pa_t)8 << SVMM_PAGE_SHIFT), op->attr | SVMM_PTE_N);
				for (unsigned j = 0; j < 16; j++, k++) {
					old |= e[k];
					e[k] = np;
				}
			} else {
				old |= e[k];
				e[k] = pte_make(p, op->attr);
				k++;
			}
		}
	}
	if (old & SVMM_PTE_V)
		op->changed = true;
}

/*
 * The table below entry *e at level, made first if the entry is empty (from the pool)
 * or a huge leaf (split into a table of equivalent leaves, filled before it becomes
 * visible to a walker). Out of line: it keeps map_apply's recursive frame small.
 */
static __attribute__((noinline)) uint64_t *child_table(struct pt_op *op, uint64_t *e,
						       unsigned level)
{
	svmm_pa_t child;
	if (!(*e & SVMM_PTE_V)) {
		child = pool_take(op);
		*e = pte_make(child, SVMM_PTE_V);
	} else if (svmm_pte_is_leaf(*e)) {
		child = pool_take(op);
		split_fill(pt_table(child), *e, level - 1u);
		*e = pte_make(child, SVMM_PTE_V);
	} else {
		child = svmm_pte_pa(*e);
	}
	return pt_table(child);
}

static void map_apply(struct pt_op *op, uint64_t *t, unsigned level, svmm_va_t va, uint64_t size,
		      svmm_pa_t pa)
{
	if (level == 0) {
		map_leaves(op, t, va, size, pa);
		return;
	}
	uint64_t lsz = pt_level_size(level);
	while (size != 0) {
		uint64_t step = pt_min(lsz - (va & (lsz - 1u)), size);
		uint64_t *e = &t[pt_idx(va, level)];
		if (leafable(op, level, va, pa, step)) {
			uint64_t old = *e;
			*e = pte_make(pa, op->attr);
			/* A table replaced by a leaf goes, with everything below it, after the flush. */
			if (svmm_pte_is_table(old))
				free_subtree(op, svmm_pte_pa(old), level - 1u);
			if (old & SVMM_PTE_V)
				op->changed = true;
		} else {
			uint64_t *child = child_table(op, e, level);
			/* The leaf level is written from here, one frame less on the stack. */
			if (level == 1)
				map_leaves(op, child, va, step, pa);
			else
				map_apply(op, child, level - 1u, va, step, pa);
		}
		va += step;
		pa += step;
		size -= step;
	}
}

/* Turn PT_* permission and attribute flags into leaf bits. */
static uint64_t leaf_attr(unsigned flags)
{
	uint64_t a = SVMM_PTE_V | SVMM_PTE_A | (flags & PT_PERMS);
	if (flags & PT_W)
		a |= SVMM_PTE_D;
	if (flags & PT_IO)
		a |= SVMM_PTE_PBMT_IO;
	if (flags & PT_NC)
		a |= SVMM_PTE_PBMT_NC;
	return a;
}

/* Checks of permission bits shared by map and protect. */
static int check_perms(const struct pt *pt, svmm_va_t va, unsigned perms)
{
	if ((perms & (PT_R | PT_W | PT_X)) == 0)
		return SVMM_EPERM;          /* such an entry would be a table pointer */
	if ((perms & PT_W) && !(perms & PT_R))
		return SVMM_EPERM;          /* reserved encoding */
	if (!pt->kernel && (perms & PT_G))
		return SVMM_EPERM;          /* a global user mapping leaks into other ASIDs */
	if (!pt->kernel && !pt_is_user(pt, va))
		return SVMM_EPERM;          /* the kernel half belongs to the kernel pt */
	return 0;
}

static unsigned op_maxleaf(const struct pt *pt, svmm_va_t va, unsigned flags)
{
	unsigned m = pt->levels - 1u;
	if (pt->kernel && !pt_is_user(pt, va) && !(flags & PT_BOOT))
		m = pt->levels - 2u;
	unsigned cap = (flags & PT_MAX_PAGE_MASK) >> PT_MAX_PAGE_SHIFT;
	if (cap != 0 && cap - 1u < m)
		m = cap - 1u;
	return m;
}

/*
 * The existing leaf (level-0) table that holds all of [va, va + size), found by one walk
 * from the root; NULL when the range spans more than one leaf table or the walk meets
 * a hole or a huge leaf. The fast paths below start from it.
 */
static uint64_t *leaf_table_of(const struct pt *pt, svmm_va_t va, uint64_t size)
{
	const uint64_t leaf_span = pt_level_size(1);
	if (size >= leaf_span || (va & (leaf_span - 1u)) + size > leaf_span)
		return NULL;
	uint64_t *t = pt_table(pt->root);
	for (unsigned level = pt->levels - 1u; level > 0; level--) {
		uint64_t e = t[pt_idx(va, level)];
		if (!svmm_pte_is_table(e))
			return NULL;
		t = pt_table(svmm_pte_pa(e));
	}
	return t;
}

/*
 * The common case of a page fault: fewer than 512 small pages inside one leaf table
 * that already exists. One walk down, a check that the entries are free, the stores;
 * nothing to allocate, nothing to flush (invalid -> valid). With PT_REPLACE (a
 * copy-on-write fault) the entries may be valid small leaves: they are overwritten and
 * *flush tells the caller to flush the range; a Svnapot entry there, which would need
 * its group demoted, takes the general path. Returns false, having changed nothing,
 * when the case does not apply and the general path must run.
 */
static bool map_fast(struct pt *pt, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t attr,
		     unsigned flags, int *err, bool *flush)
{
	uint64_t *t = leaf_table_of(pt, va, size);
	if (t == NULL)
		return false;
	uint64_t *e = t + pt_idx(va, 0);
	uint64_t n = size >> SVMM_PAGE_SHIFT, any = 0;
	for (uint64_t k = 0; k < n; k++)
		any |= e[k];
	if (flags & PT_REPLACE) {
		if (any & SVMM_PTE_N)
			return false;
		*flush = (any & SVMM_PTE_V) != 0;
	} else if (any & SVMM_PTE_V) {
		*err = SVMM_EEXIST;
		return true;
	}
	uint64_t pte = pte_make(pa, attr);
	for (uint64_t k = 0; k < n; k++) {
		e[k] = pte;
		pte += (uint64_t)1 << SVMM_PTE_PPN_SHIFT;
	}
	*err = 0;
	return true;
}

/* The argument checks of pt_map, in its order of errors (inlined: pt_map_slot is on
   every page fault's path). */
static inline __attribute__((always_inline)) int map_check(const struct pt *pt, svmm_va_t va, svmm_pa_t pa, uint64_t size,
		     unsigned flags)
{
	const unsigned known = PT_PERMS | PT_REPLACE | PT_NAPOT | PT_IO | PT_NC | PT_BOOT |
			       PT_MAX_PAGE_MASK;
	int err = pt_check_range(pt, va, size);
	if (err != 0)
		return err;
	if (!SVMM_IS_ALIGNED(pa, SVMM_PAGE_SIZE))
		return SVMM_EUNALIGNED;
	if (pa >= PT_PA_LIMIT || size > PT_PA_LIMIT - pa)
		return SVMM_ERANGE;
	if ((flags & ~known) != 0 || (flags & PT_IO && flags & PT_NC) ||
	    ((flags & PT_MAX_PAGE_MASK) >> PT_MAX_PAGE_SHIFT) > 4u ||
	    ((flags & PT_BOOT) && !pt->kernel))
		return SVMM_EINVAL;
	return check_perms(pt, va, flags & PT_PERMS);
}

/* Widen the span of what was ever mapped to take in [va, va + size). Lock held. */
static void span_widen(struct pt *pt, svmm_va_t va, uint64_t size)
{
	if (va < pt->span[0])
		pt->span[0] = va;
	if (va + size - 1u > pt->span[1])
		pt->span[1] = va + size - 1u;
}

int pt_map_slot(struct pt *pt, svmm_va_t va, uint64_t *slot, svmm_pa_t pa, unsigned flags)
{
	if (slot == NULL || (flags & (PT_NAPOT | PT_BOOT)) != 0)
		return SVMM_EINVAL;
	int err = map_check(pt, va, pa, SVMM_PAGE_SIZE, flags);
	if (err != 0)
		return err;
	port_lock(&pt->lock);
	uint64_t old = *slot;
	if ((old & SVMM_PTE_V) && !(flags & PT_REPLACE)) {
		port_unlock(&pt->lock);
		return SVMM_EEXIST;
	}
	if (old & SVMM_PTE_N) {
		/* A Svnapot run must be demoted first: pt_map's general path does that. */
		port_unlock(&pt->lock);
		return SVMM_EINVAL;
	}
	span_widen(pt, va, SVMM_PAGE_SIZE);
	*slot = pte_make(pa, leaf_attr(flags));
	port_unlock(&pt->lock);
	/* Outside the lock, as pt_map's: invalid -> valid needs none. */
	if (old & SVMM_PTE_V)
		port_tlb_flush(pt_flush_asid(pt), va, SVMM_PAGE_SIZE);
	return 0;
}

int pt_map(struct pt *pt, svmm_va_t va, svmm_pa_t pa, uint64_t size, unsigned flags)
{
	int err = map_check(pt, va, pa, size, flags);
	if (err != 0)
		return err;

	struct pt_op op = {
		.pt = pt, .flags = flags, .maxleaf = op_maxleaf(pt, va, flags),
		.attr = leaf_attr(flags), .pool = PT_NIL, .freed = PT_NIL,
		.flo = va, .fhi = va + size - 1u,
	};
	port_lock(&pt->lock);
	/* Widened before anything is built: a superset of what was mapped is all it says. */
	span_widen(pt, va, size);
	if ((flags & PT_BOOT) && pt->cloned) {
		/* A root entry that clones share may no longer change. */
		port_unlock(&pt->lock);
		return SVMM_EPERM;
	}
	bool flush = false;
	if (!(flags & PT_NAPOT) && map_fast(pt, va, pa, size, op.attr, flags, &err, &flush)) {
		port_unlock(&pt->lock);
		if (flush)   /* outside the lock, as below */
			port_tlb_flush(pt_flush_asid(pt), va, size);
		return err;
	}
	uint64_t need = 0;
	err = map_count(&op, pt_table(pt->root), T_REAL, pt->levels - 1u, va, size, pa, &need);
	if (err == 0)
		err = pool_fill(&op, need);
	if (err == 0) {
		if (flags & PT_REPLACE)
			napot_boundaries(&op, va, size);
		map_apply(&op, pt_table(pt->root), pt->levels - 1u, va, size, pa);
	}
	port_unlock(&pt->lock);
	/*
	 * The flush runs without the lock: a shootdown that waits for other harts must not
	 * do so while one of them may be spinning on this lock with interrupts off. The
	 * freed tables are already out of the tree, so nobody else can reach them.
	 */
	if (err == 0)
		op_finish(&op);
	return err;
}

/* ---- unmap and protect ---- */

/* Is the leaf e acceptable after op (protect: R, W or X left, no W without R)? */
static bool edit_leaf_ok(const struct pt_op *op, uint64_t e)
{
	if (op->unmap)
		return true;
	uint64_t v = protect_value(op, e);
	return (v & (SVMM_PTE_R | SVMM_PTE_W | SVMM_PTE_X)) != 0 &&
	       !((v & SVMM_PTE_W) && !(v & SVMM_PTE_R));
}

/*
 * Phase 1's scan of [va, va + size): SVMM_ENOENT at a hole (unless PT_MISSING_OK),
 * SVMM_EPERM for a leaf that protect would leave without R, W and X or with W alone.
 * Read-only. A loop rather than a recursion, so that it costs one frame whatever the
 * depth: each step walks down from the root to the entry holding va, and then covers
 * a whole huge leaf, a whole hole, or the rest of a leaf table in one go.
 */
static int edit_scan(const struct pt_op *op, svmm_va_t va, uint64_t size)
{
	const struct pt *pt = op->pt;
	const bool holes_ok = (op->flags & PT_MISSING_OK) != 0;
	/*
	 * Only a protect that touches R, W or X, or sets W, can make a leaf invalid; and
	 * one that replaces all three gives every leaf set's, which pt_protect has checked
	 * before any walk (a fork's write-protect, any aspace_protect).
	 */
	const uint64_t rwx = SVMM_PTE_R | SVMM_PTE_W | SVMM_PTE_X;
	const bool leaves = !op->unmap && (op->clear & rwx) != rwx &&
		((op->clear & rwx) || (op->attr & SVMM_PTE_W));
	const svmm_va_t last = va + size - 1u;
	if (holes_ok && !leaves)
		return 0;
	for (;;) {
		const uint64_t *t = pt_table(pt->root);
		unsigned level = pt->levels - 1u;
		uint64_t e = t[pt_idx(va, level)];
		while (level > 0 && svmm_pte_is_table(e)) {
			t = pt_table(svmm_pte_pa(e));
			level--;
			e = t[pt_idx(va, level)];
		}
		/* The last address this step covers: the entry's, or the leaf table's. */
		svmm_va_t stop = va | (pt_level_size(level == 0 ? 1u : level) - 1u);
		if (stop > last)
			stop = last;
		if (level == 0) {
			for (unsigned i = pt_idx(va, 0); i <= pt_idx(stop, 0); i++) {
				if (!(t[i] & SVMM_PTE_V)) {
					if (!holes_ok)
						return SVMM_ENOENT;
				} else if (!edit_leaf_ok(op, t[i])) {
					return SVMM_EPERM;
				}
			}
		} else if (!(e & SVMM_PTE_V)) {
			if (!holes_ok)
				return SVMM_ENOENT;
		} else if (!edit_leaf_ok(op, e)) {
			return SVMM_EPERM;
		}
		if (stop == last)
			return 0;
		va = stop + 1u;
	}
}

/*
 * The huge leaves that boundary b cuts, as (level, base) pairs; returns how many. A
 * protect leaves a leaf whose permissions it would not change whole.
 */
static unsigned boundary_splits(const struct pt_op *op, svmm_va_t b, unsigned lv[],
				svmm_va_t base[])
{
	const struct pt *pt = op->pt;
	const uint64_t *t = pt_table(pt->root);
	unsigned level = pt->levels - 1u;
	for (;;) {
		uint64_t e = t[pt_idx(b, level)];
		if (!(e & SVMM_PTE_V) || level == 0)
			return 0;
		if (svmm_pte_is_table(e)) {
			t = pt_table(svmm_pte_pa(e));
			level--;
			continue;
		}
		if (op->protect && protect_value(op, e) == e)
			return 0;
		/* A leaf at level: split it, then the child leaf holding b, until b is aligned. */
		unsigned n = 0;
		while (level > 0 && !SVMM_IS_ALIGNED(b, pt_level_size(level))) {
			lv[n] = level;
			base[n] = SVMM_ALIGN_DOWN(b, pt_level_size(level));
			n++;
			level--;
		}
		return n;
	}
}

/* Does [va, va + size) touch a root-level leaf in the kernel half of a kernel pt? */
static bool touches_kernel_root_leaf(const struct pt *pt, svmm_va_t va, uint64_t size)
{
	if (!pt->kernel || pt_is_user(pt, va))
		return false;
	const uint64_t *r = pt_table(pt->root);
	unsigned top = pt->levels - 1u;
	unsigned first = pt_idx(va, top), last = pt_idx(va + size - 1u, top);
	for (unsigned s = first; s <= last; s++)
		if (svmm_pte_is_leaf(r[s]))
			return true;
	return false;
}

/*
 * Phase 1 of unmap and protect: holes, forbidden leaves, and the splits needed. Kept
 * out of line so that its arrays are off the stack before phase 2 recurses down the
 * levels (make check-stack).
 */
static __attribute__((noinline)) int edit_count(const struct pt_op *op, svmm_va_t va,
						 uint64_t size, uint64_t *need)
{
	const struct pt *pt = op->pt;
	if (touches_kernel_root_leaf(pt, va, size))
		return SVMM_EPERM;
	int err = edit_scan(op, va, size);
	if (err != 0)
		return err;
	unsigned lv[2][5];
	svmm_va_t base[2][5];
	unsigned n0 = boundary_splits(op, va, lv[0], base[0]);
	unsigned n1 = 0;
	svmm_va_t end = va + size;
	if (end != 0)
		n1 = boundary_splits(op, end, lv[1], base[1]);
	/* The two ends may cut the same huge leaf: count each split once. */
	uint64_t n = n0;
	for (unsigned j = 0; j < n1; j++) {
		bool dup = false;
		for (unsigned i = 0; i < n0; i++)
			if (lv[0][i] == lv[1][j] && base[0][i] == base[1][j])
				dup = true;
		if (!dup)
			n++;
	}
	*need = n;
	return 0;
}

/* Replace the huge leaf *e at level by a table of equivalent leaves one level down. */
static uint64_t *split_entry(struct pt_op *op, uint64_t *e, unsigned level)
{
	svmm_pa_t child = pool_take(op);
	split_fill(pt_table(child), *e, level - 1u);
	*e = pte_make(child, SVMM_PTE_V);
	return pt_table(child);
}

/*
 * Gather one removed leaf or subtree for pt_unmap_leaves. False, having recorded
 * nothing, when the frame is full: the walk stops at va and resumes after a flush.
 */
static bool gather(struct pt_op *op, svmm_va_t va, uint64_t tag, uint64_t val)
{
	struct pt_gather *g = op->gather;
	if (g == NULL)
		return true;
	if (g->n == GATHER_MAX) {
		op->stopped = true;
		op->stop = va;
		return false;
	}
	g->rec[g->n].va = va | tag;
	g->rec[g->n].val = val;
	g->n++;
	return true;
}

/* Tables in the subtree under table pa with entries at level, pa included. */
static uint64_t subtree_tables(svmm_pa_t pa, unsigned level)
{
	uint64_t n = 1;
	if (level > 0) {
		const uint64_t *t = pt_table(pa);
		for (unsigned i = next_valid(t, 0, PT_NPTE); i < PT_NPTE;
		     i = next_valid(t, i + 1u, PT_NPTE))
			if (svmm_pte_is_table(t[i]))
				n += subtree_tables(svmm_pte_pa(t[i]), level - 1u);
	}
	return n;
}

/* Clear the 4 KiB entries of [va, va + size) in leaf table t. */
static void unmap_leaves(struct pt_op *op, uint64_t *t, svmm_va_t va, uint64_t size)
{
	uint64_t *e = t + pt_idx(va, 0);
	uint64_t n = size >> SVMM_PAGE_SHIFT, old = 0;
	for (uint64_t k = 0; k < n; k++) {
		if ((e[k] & SVMM_PTE_V) && !gather(op, va + (k << SVMM_PAGE_SHIFT), 0, e[k]))
			break;
		old |= e[k];
		e[k] = 0;
	}
	if (old & SVMM_PTE_V)
		op->changed = true;
}

/*
 * The whole entry *e at level goes: a leaf, or a table with everything below it,
 * which goes without being cleared (to the freed list, or whole to the gather frame
 * to be reported). False, having changed nothing, when the gather frame is full. Out
 * of line, so that unmap_apply's recursive frame stays small.
 */
static __attribute__((noinline)) bool remove_entry(struct pt_op *op, uint64_t *e,
						   unsigned level, svmm_va_t va)
{
	uint64_t old = *e;
	if (svmm_pte_is_table(old)) {
		if (!gather(op, va, GATHER_SUBTREE | (level - 1u), svmm_pte_pa(old)))
			return false;
		*e = 0;
		if (op->gather != NULL)
			op->pt->tables -= subtree_tables(svmm_pte_pa(old), level - 1u);
		else
			free_subtree(op, svmm_pte_pa(old), level - 1u);
	} else {
		if (!gather(op, va, level, old))
			return false;
		*e = 0;
	}
	op->changed = true;
	return true;
}

/* Unmap [va, va + size) in table t at level (1 or more; level 0 is unmap_leaves). */
static void unmap_apply(struct pt_op *op, uint64_t *t, unsigned level, svmm_va_t va, uint64_t size)
{
	uint64_t lsz = pt_level_size(level);
	while (size != 0 && !op->stopped) {
		uint64_t step = pt_min(lsz - (va & (lsz - 1u)), size);
		uint64_t *e = &t[pt_idx(va, level)];
		bool slot = pt_is_kernel_slot(op->pt, level, va);
		if (!(*e & SVMM_PTE_V)) {
			/* a hole: phase 1 allowed it */
		} else if (step == lsz && !slot) {
			if (!remove_entry(op, e, level, va))
				break;
		} else {
			uint64_t *child = svmm_pte_is_leaf(*e) ? split_entry(op, e, level)
							  : pt_table(svmm_pte_pa(*e));
			/* The leaf level is cleared from here, one frame less on the stack. */
			if (level == 1)
				unmap_leaves(op, child, va, step);
			else
				unmap_apply(op, child, level - 1u, va, step);
			if (!slot && table_empty_after(child, pt_idx(va, level - 1u),
						       pt_idx(va + step - 1u, level - 1u))) {
				svmm_pa_t cpa = svmm_pte_pa(*e);
				*e = 0;
				freed_push(op, cpa);
				/* A walker may have cached this pointer for any address it covers. */
				flush_extend(op, SVMM_ALIGN_DOWN(va, lsz), lsz);
			}
		}
		va += step;
		size -= step;
	}
}

/*
 * The leaf loop of a protect that decides W (and D with it) for every leaf alike:
 * one and-or per valid entry of e[0, n), tight enough for a fork's write-protect of
 * every resident page. With napot_stop it stops at a Svnapot entry and returns false
 * (the entries before it done: protect is idempotent, so the general path may do
 * them again).
 *
 * Eight entries a step when all eight are valid (and, with napot_stop, none is
 * Svnapot), as in a region's resident pages: one test for the eight, then eight
 * and-ors and stores, without a compare each (~7 instructions an entry, against ~11
 * with a compare and branch each; four a step were ~8), and when all eight already
 * have every bit the protect sets (a fork's: R, U and X stay), one and each (~6 an
 * entry). Whether anything changed (so needs a flush) follows from the OR and AND of
 * the old entries: some entry loses a bit that is cleared and not set exactly when the
 * OR has one, and some entry gains a set bit exactly when the AND lacks one. Other
 * groups go one entry at a time.
 */
static inline __attribute__((always_inline)) bool protect_run(struct pt_op *op, uint64_t *e,
								uint64_t n, bool napot_stop)
{
	bool w = (op->attr & SVMM_PTE_W) != 0, changed = false;
	uint64_t clear = op->clear | (w ? 0 : SVMM_PTE_D), attr = op->attr | (w ? SVMM_PTE_D : 0);
	uint64_t stop_bits = napot_stop ? SVMM_PTE_N : 0;
	uint64_t keep = ~(clear & ~attr);       /* the same, for entries that have attr */
	uint64_t any = 0, all = ~(uint64_t)0;   /* over the entries done eight at a time */
	uint64_t *p = e, *eights = e + (n & ~(uint64_t)7), *end = e + n, *q = eights;
	for (; p != end; p = q) {
		if (p != eights) {
			uint64_t o0 = p[0], o1 = p[1], o2 = p[2], o3 = p[3];
			uint64_t o4 = p[4], o5 = p[5], o6 = p[6], o7 = p[7];
			uint64_t a = o0 & o1 & o2 & o3 & o4 & o5 & o6 & o7;
			uint64_t y = o0 | o1 | o2 | o3 | o4 | o5 | o6 | o7;
			q = p + 8;
			if ((a & SVMM_PTE_V) && !(y & stop_bits) && (a & attr) == attr) {
				/* Every set bit is there already (a fork's R and U): one and each. */
				p[0] = o0 & keep;
				p[1] = o1 & keep;
				p[2] = o2 & keep;
				p[3] = o3 & keep;
				p[4] = o4 & keep;
				p[5] = o5 & keep;
				p[6] = o6 & keep;
				p[7] = o7 & keep;
				any |= y;
				continue;
			}
			if ((a & SVMM_PTE_V) && !(y & stop_bits)) {
				p[0] = (o0 & ~clear) | attr;
				p[1] = (o1 & ~clear) | attr;
				p[2] = (o2 & ~clear) | attr;
				p[3] = (o3 & ~clear) | attr;
				p[4] = (o4 & ~clear) | attr;
				p[5] = (o5 & ~clear) | attr;
				p[6] = (o6 & ~clear) | attr;
				p[7] = (o7 & ~clear) | attr;
				any |= y;
				all &= a;
				continue;
			}
		} else {
			q = end;
		}
		for (; p != q; p++) {
			uint64_t o = *p, v = (o & ~clear) | attr;
			if (o & stop_bits)
				break;
			if ((o & SVMM_PTE_V) && v != o) {
				*p = v;
				changed = true;
			}
		}
		if (p != q)
			break;
	}
	if (changed || (any & clear & ~attr) != 0 || (~all & attr) != 0)
		op->changed = true;
	return p == end;
}

/* Protect the 4 KiB entries of [va, va + size) in leaf table t. */
static void protect_leaves(struct pt_op *op, uint64_t *t, svmm_va_t va, uint64_t size)
{
	uint64_t *e = t + pt_idx(va, 0);
	uint64_t n = size >> SVMM_PAGE_SHIFT;
	if ((op->clear | op->attr) & SVMM_PTE_W) {
		protect_run(op, e, n, false);
		return;
	}
	/* W stays as each leaf has it, and D with it: protect_value per leaf. */
	for (uint64_t k = 0; k < n; k++) {
		if (!(e[k] & SVMM_PTE_V))
			continue;
		uint64_t v = protect_value(op, e[k]);
		if (v != e[k]) {
			e[k] = v;
			op->changed = true;
		}
	}
}

/*
 * The common case of a fork's write-protect and of an mprotect of a few pages: holes
 * allowed, R, W and X all replaced (so no leaf can become invalid: set alone decides,
 * checked before any walk), and a range inside one leaf table that exists. No check
 * phase, nothing to allocate or split: one walk down and the leaf loop. Returns false
 * when the general path must run (another case, or a Svnapot run met in the range).
 */
static bool protect_fast(struct pt_op *op, svmm_va_t va, uint64_t size)
{
	const uint64_t rwx = SVMM_PTE_R | SVMM_PTE_W | SVMM_PTE_X;
	if (!(op->flags & PT_MISSING_OK) || (op->clear & rwx) != rwx)
		return false;
	uint64_t *t = leaf_table_of(op->pt, va, size);
	return t != NULL && protect_run(op, t + pt_idx(va, 0), size >> SVMM_PAGE_SHIFT, true);
}

static void protect_apply(struct pt_op *op, uint64_t *t, unsigned level, svmm_va_t va,
			  uint64_t size);

/* One level down: the leaf level is done from here, one frame less on the stack. */
static inline void protect_next(struct pt_op *op, uint64_t *t, unsigned level, svmm_va_t va,
				uint64_t size)
{
	if (level == 0)
		protect_leaves(op, t, va, size);
	else
		protect_apply(op, t, level, va, size);
}

/* Protect [va, va + size) in table t at level (1 or more; level 0 is protect_leaves). */
static void protect_apply(struct pt_op *op, uint64_t *t, unsigned level, svmm_va_t va,
			  uint64_t size)
{
	uint64_t lsz = pt_level_size(level);
	while (size != 0) {
		uint64_t step = pt_min(lsz - (va & (lsz - 1u)), size);
		uint64_t *e = &t[pt_idx(va, level)];
		if (!(*e & SVMM_PTE_V)) {
			/* a hole: phase 1 allowed it */
		} else if (svmm_pte_is_leaf(*e)) {
			uint64_t v = protect_value(op, *e);
			if (v == *e) {
				/* unchanged: a huge page stays whole */
			} else if (step == lsz) {
				*e = v;
				op->changed = true;
			} else {
				protect_next(op, split_entry(op, e, level), level - 1u, va, step);
			}
		} else {
			protect_next(op, pt_table(svmm_pte_pa(*e)), level - 1u, va, step);
		}
		va += step;
		size -= step;
	}
}

/*
 * The common case of munmap: a range inside one existing leaf table, with 4 KiB leaves
 * only, that leaves something else in that table. One walk, the stores, one flush.
 * Returns false, having changed nothing, when the general path must run (a huge page
 * or Svnapot run on the way, the table would become empty, or a hole without
 * PT_MISSING_OK, which the general path reports).
 */
static bool unmap_fast(struct pt *pt, svmm_va_t va, uint64_t size, unsigned flags)
{
	uint64_t *t = leaf_table_of(pt, va, size);
	if (t == NULL)
		return false;
	unsigned first = pt_idx(va, 0), last = pt_idx(va + size - 1u, 0);
	uint64_t all = SVMM_PTE_V, any = 0;
	for (unsigned i = first; i <= last; i++) {
		if (t[i] & SVMM_PTE_N)
			return false;
		all &= t[i];
		any |= t[i];
	}
	if (!all && !(flags & PT_MISSING_OK))
		return false;
	/* Something must stay behind in the table, or it has to be freed. */
	bool other = (last + 1u < PT_NPTE && (t[last + 1u] & SVMM_PTE_V)) ||
		     (first > 0 && (t[first - 1u] & SVMM_PTE_V));
	for (unsigned i = 0; !other && i < PT_NPTE; i++)
		if ((i < first || i > last) && (t[i] & SVMM_PTE_V))
			other = true;
	if (!other)
		return false;
	for (unsigned i = first; i <= last; i++)
		t[i] = 0;
	port_unlock(&pt->lock);
	if (any & SVMM_PTE_V)
		port_tlb_flush(pt_flush_asid(pt), va, size);
	return true;
}

/* The frame leaf e maps at va, which it covers (a Svnapot run: va's page in the run). */
static inline svmm_pa_t leaf_pa(uint64_t e, svmm_va_t va)
{
	svmm_pa_t pa = svmm_pte_pa(e);
	if (e & SVMM_PTE_N)
		pa = (pa & ~(PT_NAPOT_SIZE - 1u)) + (va & (PT_NAPOT_SIZE - 1u));
	return pa;
}

/* Does the subtree under table t (entries at level) hold any leaf? Read-only. */
static bool subtree_has_leaf(const uint64_t *t, unsigned level)
{
	for (unsigned i = next_valid(t, 0, PT_NPTE); i < PT_NPTE;
	     i = next_valid(t, i + 1u, PT_NPTE)) {
		if (svmm_pte_is_leaf(t[i]))
			return true;
		if (level > 0 && svmm_pte_is_table(t[i]) &&
		    subtree_has_leaf(pt_table(svmm_pte_pa(t[i])), level - 1u))
			return true;
	}
	return false;
}

/*
 * Hand the leaves of the subtree under table pa (entries at level, covering from va)
 * to fn in address order and give its tables back: it left the tree, and the flush
 * is done. Returns the number of tables freed.
 */
static uint64_t report_subtree(svmm_pa_t pa, unsigned level, svmm_va_t va, pt_leaf_fn fn,
			       void *ctx)
{
	const uint64_t *t = pt_table(pa);
	uint64_t lsz = pt_level_size(level), n = 1;
	for (unsigned i = next_valid(t, 0, PT_NPTE); i < PT_NPTE;
	     i = next_valid(t, i + 1u, PT_NPTE)) {
		uint64_t e = t[i];
		svmm_va_t eva = va + i * lsz;
		if (svmm_pte_is_leaf(e)) {
			fn(ctx, eva, leaf_pa(e, eva), lsz, e);
		} else if (level > 0 && svmm_pte_is_table(e)) {
			n += report_subtree(svmm_pte_pa(e), level - 1u, eva, fn, ctx);
		}
	}
	port_table_free(pa);
	return n;
}

/*
 * The same for pt_destroy, with the scan of each table bounded by pt_map's span
 * (struct pt): a separate function so that report_subtree's frames, deep in
 * pt_unmap_leaves' chain, stay small.
 */
static uint64_t destroy_subtree(svmm_pa_t pa, unsigned level, svmm_va_t va,
				const svmm_va_t *span, pt_leaf_fn fn, void *ctx)
{
	const uint64_t *t = pt_table(pa);
	uint64_t lsz = pt_level_size(level), n = 1;
	/*
	 * Only entries inside [span[0], span[1]] (see struct pt) can be valid: a
	 * process that touched a few pages has its tables scanned over a few entries, not
	 * 512. A table that does not meet the span is empty, so any bounds do for it.
	 */
	unsigned first = span[0] > va ? pt_idx(span[0], level) : 0;
	unsigned end = span[1] - va < lsz * PT_NPTE - 1u ? pt_idx(span[1], level) + 1u : PT_NPTE;
	for (unsigned i = next_valid(t, first, end); i < end; i = next_valid(t, i + 1u, end)) {
		uint64_t e = t[i];
		svmm_va_t eva = va + i * lsz;
		if (svmm_pte_is_leaf(e)) {
			fn(ctx, eva, leaf_pa(e, eva), lsz, e);
		} else if (level > 0 && svmm_pte_is_table(e)) {
			n += destroy_subtree(svmm_pte_pa(e), level - 1u, eva, span, fn, ctx);
		}
	}
	port_table_free(pa);
	return n;
}

/* After the flush: hand the gathered leaves to fn, free the gathered subtrees. */
static void gather_report(struct pt_gather *g, pt_leaf_fn fn, void *ctx)
{
	for (uint64_t k = 0; k < g->n; k++) {
		svmm_va_t va = g->rec[k].va & ~(SVMM_PAGE_SIZE - 1u);
		unsigned level = (unsigned)(g->rec[k].va & 7u);
		uint64_t val = g->rec[k].val;
		if (g->rec[k].va & GATHER_SUBTREE) {
			/* Its tables were taken off pt->tables when it left the tree. */
			report_subtree(val, level, va, fn, ctx);
		} else {
			fn(ctx, va, leaf_pa(val, va), pt_level_size(level), val);
		}
	}
	g->n = 0;
}

/* Flush what one pass changed, give back the tables it freed; the op goes on. */
static void op_flush(struct pt_op *op)
{
	if (op->changed || op->freed != PT_NIL)
		port_tlb_flush(pt_flush_asid(op->pt), op->flo, op->fhi - op->flo + 1u);
	while (op->freed != PT_NIL) {
		svmm_pa_t pa = op->freed;
		op->freed = pt_table(pa)[0];
		port_table_free(pa);
	}
	op->changed = false;
}

/*
 * Phase 1 of unmap and protect, shared: with the pt's lock taken, check and count
 * (edit_count), preallocate the tables for splits and, for pt_unmap_leaves, the gather
 * frame, and demote the Svnapot runs cut at the ends. Returns 0 with the lock held, or
 * an error with the lock released and nothing changed.
 */
static __attribute__((noinline)) int edit_prepare(struct pt_op *op, svmm_va_t va,
						  uint64_t size, bool gather_frame)
{
	uint64_t need = 0;
	int err = edit_count(op, va, size, &need);
	if (err == 0)
		err = pool_fill(op, need + gather_frame);
	if (err != 0) {
		port_unlock(&op->pt->lock);
		return err;
	}
	if (gather_frame) {
		op->gather_pa = op->pool;
		op->pool = pt_table(op->pool)[0];
		op->npool--;
		op->gather = (struct pt_gather *)(void *)pt_table(op->gather_pa);
		op->gather->n = 0;
	}
	napot_boundaries(op, va, size);
	return 0;
}

/*
 * An edit op over [va, va + size), every field stored one by one: an initializer that
 * leaves most of the struct zero becomes a memset call of its unaligned tail, which a
 * freestanding kernel's memset may do a byte at a time (~430 instructions a call in the
 * demo kernel, more than a fork's write-protect of a small region otherwise costs).
 */
static inline void op_init_edit(struct pt_op *op, struct pt *pt, svmm_va_t va, uint64_t size,
				unsigned flags)
{
	op->pt = pt;
	op->flags = flags;
	op->maxleaf = 0;
	op->unmap = false;
	op->protect = false;
	op->attr = 0;
	op->clear = 0;
	op->pool = PT_NIL;
	op->npool = 0;
	op->freed = PT_NIL;
	op->changed = false;
	op->flo = va;
	op->fhi = va + size - 1u;
	op->gather = NULL;
	op->gather_pa = 0;
	op->stopped = false;
	op->stop = 0;
}

/* The body of pt_unmap and pt_unmap_leaves, after the argument checks. */
static int unmap_edit(struct pt *pt, svmm_va_t va, uint64_t size, unsigned flags,
		      pt_leaf_fn fn, void *ctx)
{
	struct pt_op op;
	op_init_edit(&op, pt, va, size, flags);
	op.unmap = true;
	port_lock(&pt->lock);
	if (fn == NULL && unmap_fast(pt, va, size, flags))
		return 0;   /* it unlocked and flushed */
	int err = edit_prepare(&op, va, size, fn != NULL);
	if (err != 0)
		return err;
	svmm_va_t last = va + size - 1u;
	for (;;) {
		unmap_apply(&op, pt_table(pt->root), pt->levels - 1u, va, last - va + 1u);
		if (!op.stopped)
			break;
		/* The gather frame is full: flush, report, and go on from where it stopped. */
		port_unlock(&pt->lock);
		op_flush(&op);
		gather_report(op.gather, fn, ctx);
		va = op.stop;
		op.stopped = false;
		op.flo = va;
		op.fhi = last;
		port_lock(&pt->lock);
	}
	port_unlock(&pt->lock);
	op_finish(&op);   /* outside the lock, as in pt_map */
	if (fn != NULL) {
		gather_report(op.gather, fn, ctx);
		port_table_free(op.gather_pa);
	}
	return 0;
}

/* The body of pt_protect, after the argument checks. */
static int protect_edit(struct pt *pt, svmm_va_t va, uint64_t size, unsigned flags,
			uint64_t set, uint64_t clear)
{
	struct pt_op op;
	op_init_edit(&op, pt, va, size, flags);
	op.protect = true;
	op.attr = set;
	op.clear = clear;
	port_lock(&pt->lock);
	if (protect_fast(&op, va, size)) {
		port_unlock(&pt->lock);
		op_finish(&op);
		return 0;
	}
	int err = edit_prepare(&op, va, size, false);
	if (err != 0)
		return err;
	protect_apply(&op, pt_table(pt->root), pt->levels - 1u, va, size);
	port_unlock(&pt->lock);
	op_finish(&op);   /* outside the lock, as in pt_map */
	return 0;
}

static int unmap_common(struct pt *pt, svmm_va_t va, uint64_t size, unsigned flags,
			pt_leaf_fn fn, void *ctx)
{
	int err = pt_check_range(pt, va, size);
	if (err != 0)
		return err;
	if ((flags & ~PT_MISSING_OK) != 0)
		return SVMM_EINVAL;
	if (!pt->kernel && !pt_is_user(pt, va))
		return SVMM_EPERM;
	return unmap_edit(pt, va, size, flags, fn, ctx);
}

int pt_unmap(struct pt *pt, svmm_va_t va, uint64_t size, unsigned flags)
{
	return unmap_common(pt, va, size, flags, NULL, NULL);
}

int pt_unmap_leaves(struct pt *pt, svmm_va_t va, uint64_t size, unsigned flags,
		    pt_leaf_fn fn, void *ctx)
{
	if (fn == NULL)
		return SVMM_EINVAL;
	return unmap_common(pt, va, size, flags, fn, ctx);
}

int pt_protect(struct pt *pt, svmm_va_t va, uint64_t size, unsigned set, unsigned clear,
	       unsigned flags)
{
	int err = pt_check_range(pt, va, size);
	if (err != 0)
		return err;
	if ((set & ~PT_PERMS) != 0 || (clear & ~PT_PERMS) != 0 ||
	    (flags & ~PT_MISSING_OK) != 0)
		return SVMM_EINVAL;
	if (!pt->kernel && ((set & PT_G) || !pt_is_user(pt, va)))
		return SVMM_EPERM;
	/* When R, W and X are all replaced, set alone decides: check it before any walk. */
	if ((clear & (PT_R | PT_W | PT_X)) == (PT_R | PT_W | PT_X) &&
	    ((set & (PT_R | PT_W | PT_X)) == 0 || ((set & PT_W) && !(set & PT_R))))
		return SVMM_EPERM;
	return protect_edit(pt, va, size, flags, set, clear);
}

int pt_leaf_at(const struct pt *pt, svmm_va_t va, struct pt_leaf *leaf)
{
	if (!pt_canonical(pt, va))
		return SVMM_ENONCANON;
	uint64_t *t = pt_table(pt->root);
	unsigned level = pt->levels - 1u;
	for (;;) {
		uint64_t *e = &t[pt_idx(va, level)];
		uint64_t v = *e;
		leaf->ptep = e;
		leaf->level = level;
		if (level > 0 && svmm_pte_is_table(v)) {
			t = pt_table(svmm_pte_pa(v));
			level--;
			continue;
		}
		if (!svmm_pte_is_leaf(v)) {
			leaf->pte = 0;
			leaf->va = SVMM_ALIGN_DOWN(va, pt_level_size(level));
			leaf->pa = 0;
			leaf->size = pt_level_size(level);
			return SVMM_ENOENT;
		}
		uint64_t size = pt_level_size(level);
		svmm_pa_t base = svmm_pte_pa(v);
		if (level == 0 && (v & SVMM_PTE_N)) {
			size = PT_NAPOT_SIZE;
			base &= ~(PT_NAPOT_SIZE - 1u);
		}
		leaf->pte = v;
		leaf->va = SVMM_ALIGN_DOWN(va, size);
		leaf->pa = base + (va & (size - 1u));
		leaf->size = size;
		return 0;
	}
}

/* ---- translate, walk, dump, check ---- */

int pt_translate(const struct pt *pt, svmm_va_t va, unsigned access, unsigned priv, svmm_pa_t *pap,
		 uint64_t *leaf_size)
{
	if (access == 0 || (access & ~(PT_R | PT_W | PT_X)) != 0)
		return SVMM_EINVAL;
	if (!pt_canonical(pt, va))
		return SVMM_EFAULT;
	svmm_pa_t a = pt->root;
	for (int i = (int)pt->levels - 1; i >= 0; i--) {
		uint64_t pte = pt_table(a)[pt_idx(va, (unsigned)i)];
		/* Invalid, W without R, reserved bits, or the reserved PBMT value 3. */
		if (!(pte & SVMM_PTE_V) || ((pte & SVMM_PTE_W) && !(pte & SVMM_PTE_R)))
			return SVMM_EFAULT;
		if ((pte & SVMM_PTE_RSV_MASK) || (pte & SVMM_PTE_PBMT_MASK) == SVMM_PTE_PBMT_MASK)
			return SVMM_EFAULT;
		if (!svmm_pte_is_leaf(pte)) {
			/* Non-leaf entries must have D, A, U, N and PBMT clear. */
			if (i == 0 || (pte & (SVMM_PTE_D | SVMM_PTE_A | SVMM_PTE_U | SVMM_PTE_N | SVMM_PTE_PBMT_MASK)))
				return SVMM_EFAULT;
			a = svmm_pte_pa(pte);
			continue;
		}
		/* A leaf: permissions as the current privilege and sstatus see them. */
		bool r = (pte & SVMM_PTE_R) || ((priv & PT_MXR) && (pte & SVMM_PTE_X));
		if (((access & PT_R) && !r) || ((access & PT_W) && !(pte & SVMM_PTE_W)) ||
		    ((access & PT_X) && !(pte & SVMM_PTE_X)))
			return SVMM_EFAULT;
		if (priv & PT_PRIV_U) {
			if (!(pte & SVMM_PTE_U))
				return SVMM_EFAULT;
		} else if (pte & SVMM_PTE_U) {
			/* S-mode never executes user pages, and touches them only with SUM. */
			if ((access & PT_X) || !(priv & PT_SUM))
				return SVMM_EFAULT;
		}
		uint64_t lsz = pt_level_size((unsigned)i);
		svmm_pa_t ppa = svmm_pte_pa(pte);
		if (ppa & (lsz - 1u))
			return SVMM_EFAULT;     /* misaligned superpage */
		if (pte & SVMM_PTE_N) {
			/* Svnapot: only 64 KiB runs (ppn[3:0] = 1000b) of 4 KiB leaves exist. */
			if (i != 0 || ((ppa >> SVMM_PAGE_SHIFT) & 0xfu) != 8u)
				return SVMM_EFAULT;
			lsz = PT_NAPOT_SIZE;
			ppa &= ~(PT_NAPOT_SIZE - 1u);
		}
		/* Svade: hardware that does not set A and D faults instead. */
		if (!(pte & SVMM_PTE_A) || ((access & PT_W) && !(pte & SVMM_PTE_D)))
			return SVMM_EFAULT;
		if (pap != NULL)
			*pap = ppa + (va & (lsz - 1u));
		if (leaf_size != NULL)
			*leaf_size = lsz;
		return 0;
	}
	return SVMM_EFAULT;
}

/* The walk calls this for each leaf, clipped to the range; leaf is the page size. */
typedef int (*walk_fn)(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte,
		       uint64_t leaf);

static int walk_level(walk_fn fn, void *ctx, const uint64_t *t, unsigned level, svmm_va_t va,
		      uint64_t size)
{
	uint64_t lsz = pt_level_size(level);
	while (size != 0) {
		uint64_t step = pt_min(lsz - (va & (lsz - 1u)), size);
		uint64_t e = t[pt_idx(va, level)];
		int err = 0;
		if (svmm_pte_is_leaf(e)) {
			uint64_t run = lsz;
			svmm_pa_t base = svmm_pte_pa(e);
			if (level == 0 && (e & SVMM_PTE_N)) {
				/* Report the Svnapot run once, clipped to the range. */
				run = PT_NAPOT_SIZE;
				base &= ~(PT_NAPOT_SIZE - 1u);
				step = pt_min(PT_NAPOT_SIZE - (va & (PT_NAPOT_SIZE - 1u)), size);
			}
			err = fn(ctx, va, base + (va & (run - 1u)), step, e, run);
		} else if (svmm_pte_is_table(e) && level > 0) {
			err = walk_level(fn, ctx, pt_table(svmm_pte_pa(e)), level - 1u, va, step);
		}
		if (err != 0)
			return err;
		va += step;
		size -= step;
	}
	return 0;
}

struct walk_adapter {
	int (*fn)(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte);
	void *ctx;
};

static int walk_adapt(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte, uint64_t leaf)
{
	const struct walk_adapter *w = ctx;
	(void)leaf;
	return w->fn(w->ctx, va, pa, size, pte);
}

int pt_walk(const struct pt *pt, svmm_va_t va, uint64_t size,
	    int (*fn)(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte), void *ctx)
{
	int err = pt_check_range(pt, va, size);
	if (err != 0)
		return err;
	struct walk_adapter w = { fn, ctx };
	return walk_level(walk_adapt, &w, pt_table(pt->root), pt->levels - 1u, va, size);
}

/* ptdump: the current run of equal attributes. */
struct dump_ctx {
	svmm_print_fn out;
	void *octx;
	bool have;
	svmm_va_t start, end;     /* end exclusive; may be 0 at the top of the space */
	svmm_pa_t pa, pa_end;
	uint64_t attr;       /* PTE bits that must match, PPN removed */
	uint64_t page;       /* leaf size */
};

static void dump_flush(struct dump_ctx *d)
{
	if (!d->have)
		return;
	char sz[24], pg[24];
	svmm_fmt_size(sz, sizeof(sz), d->end - d->start);
	svmm_fmt_size(pg, sizeof(pg), d->page);
	uint64_t a = d->attr;
	const char *pbmt = (a & SVMM_PTE_PBMT_MASK) == SVMM_PTE_PBMT_IO ? " io" :
			   (a & SVMM_PTE_PBMT_MASK) == SVMM_PTE_PBMT_NC ? " nc" : "";
	svmm_printline(d->out, d->octx, "0x%016llx-0x%016llx %6s pa 0x%014llx %c%c%c%c%c%c%c %s%s",
		       (unsigned long long)d->start, (unsigned long long)d->end,
		       sz, (unsigned long long)d->pa,
		       (a & SVMM_PTE_R) ? 'r' : '-', (a & SVMM_PTE_W) ? 'w' : '-', (a & SVMM_PTE_X) ? 'x' : '-',
		       (a & SVMM_PTE_U) ? 'u' : '-', (a & SVMM_PTE_G) ? 'g' : '-', (a & SVMM_PTE_A) ? 'a' : '-',
		       (a & SVMM_PTE_D) ? 'd' : '-', pg, pbmt);
	d->have = false;
}

static int dump_leaf(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte,
		     uint64_t leaf)
{
	struct dump_ctx *d = ctx;
	uint64_t attr = pte & ~SVMM_PTE_PPN_MASK;
	if (d->have && d->end == va && d->pa_end == pa && d->attr == attr && d->page == leaf) {
		d->end = va + size;
		d->pa_end = pa + size;
		return 0;
	}
	dump_flush(d);
	d->have = true;
	d->start = va;
	d->end = va + size;
	d->pa = pa;
	d->pa_end = pa + size;
	d->attr = attr;
	d->page = leaf;
	return 0;
}

static void dump_range(const struct pt *pt, svmm_va_t va, uint64_t size, struct dump_ctx *d)
{
	if (pt_check_range(pt, va, size) == 0)
		walk_level(dump_leaf, d, pt_table(pt->root), pt->levels - 1u, va, size);
}

void pt_dump(const struct pt *pt, svmm_va_t va, uint64_t size, svmm_print_fn out, void *ctx)
{
	struct dump_ctx d = { .out = out, .octx = ctx };
	if (size == 0) {
		/* Both halves, each walked as one range. */
		svmm_va_t ue = svmm_user_end(pt->mode), kb = svmm_kernel_base(pt->mode);
		dump_range(pt, 0, ue, &d);
		dump_flush(&d);
		dump_range(pt, kb, 0 - kb, &d);
	} else {
		dump_range(pt, va, size, &d);
	}
	dump_flush(&d);
}

/* pt_check's state: the table count so far, and the first broken invariant. */
struct check_ctx {
	const struct pt *pt;
	uint64_t tables;
	const char *why;       /* the invariant, as a sentence that holds when all is well */
	svmm_va_t va;          /* where: the entry's first address, its value and level */
	uint64_t e;
	unsigned level;
};

static bool check_fail(struct check_ctx *c, const char *why, svmm_va_t va, uint64_t e,
		       unsigned level)
{
	c->why = why;
	c->va = va;
	c->e = e;
	c->level = level;
	return false;
}

/* The checks of one valid entry that is a leaf (at level, covering from va). */
static bool check_leaf(struct check_ctx *c, const uint64_t *t, unsigned i, unsigned level,
		       svmm_va_t va)
{
	uint64_t e = t[i];
	if ((e & SVMM_PTE_W) && !(e & SVMM_PTE_R))
		return check_fail(c, "no leaf is writable without being readable", va, e, level);
	if (!(e & SVMM_PTE_A) || (((e & SVMM_PTE_W) != 0) != ((e & SVMM_PTE_D) != 0)))
		return check_fail(c, "every leaf has A, and D exactly when it has W", va, e,
				  level);
	if ((e & SVMM_PTE_PBMT_MASK) == SVMM_PTE_PBMT_MASK)
		return check_fail(c, "no leaf has the reserved PBMT value 3", va, e, level);
	if (e & SVMM_PTE_N) {
		/* A Svnapot run: 16 equal entries starting at a 16-aligned index. */
		if (level != 0 || ((e >> SVMM_PTE_PPN_SHIFT) & 0xfu) != 8u)
			return check_fail(c, "Svnapot leaves are 4 KiB entries of 64 KiB runs", va,
					  e, level);
		for (unsigned j = i & ~15u; j < (i & ~15u) + 16u; j++)
			if (t[j] != e)
				return check_fail(c, "a Svnapot run is 16 equal entries", va, e,
						  level);
	} else if (svmm_pte_pa(e) & (pt_level_size(level) - 1u)) {
		return check_fail(c, "every superpage is aligned to its size", va, e, level);
	}
	if (!c->pt->kernel && (e & SVMM_PTE_G))
		return check_fail(c, "a user pt holds no global leaf", va, e, level);
	return true;
}

static bool check_table(struct check_ctx *c, const uint64_t *t, unsigned level, svmm_va_t va,
			bool must_not_be_empty)
{
	uint64_t lsz = pt_level_size(level);
	bool any = false;
	for (unsigned i = next_valid(t, 0, PT_NPTE); i < PT_NPTE;
	     i = next_valid(t, i + 1u, PT_NPTE)) {
		uint64_t e = t[i];
		svmm_va_t eva = va + i * lsz;
		any = true;
		if (e & SVMM_PTE_RSV_MASK)
			return check_fail(c, "reserved bits 60:54 are zero", eva, e, level);
		if (!svmm_pte_is_table(e)) {
			if (!check_leaf(c, t, i, level, eva))
				return false;
			continue;
		}
		if (level == 0)
			return check_fail(c, "no table pointer at level 0", eva, e, level);
		if (e & (SVMM_PTE_D | SVMM_PTE_A | SVMM_PTE_U | SVMM_PTE_N | SVMM_PTE_PBMT_MASK |
			 SVMM_PTE_G))
			return check_fail(c, "table pointers have no D, A, U, N, PBMT or G", eva,
					  e, level);
		c->tables++;
		if (!check_table(c, pt_table(svmm_pte_pa(e)), level - 1u, eva, true))
			return false;
	}
	if (must_not_be_empty && !any)
		return check_fail(c, "no table below the root is empty (but kernel slot tables)",
				  va, 0, level);
	return true;
}

/* Out of line, so that the print's buffer is never on the stack under the recursion. */
static __attribute__((noinline)) void check_print(const struct check_ctx *c,
						  svmm_print_fn out, void *ctx)
{
	if (c->e == 0 && c->level == 0 && c->va == 0)
		svmm_printline(out, ctx, "pt: %s", c->why);
	else
		svmm_printline(out, ctx, "pt: %s: entry 0x%016llx at level %u for va 0x%llx",
			       c->why, (unsigned long long)c->e, c->level,
			       (unsigned long long)c->va);
}

int pt_check(const struct pt *pt, svmm_print_fn out, void *ctx)
{
	struct check_ctx c = { .pt = pt, .tables = 1 };
	const uint64_t *r = pt_table(pt->root);
	unsigned top = pt->levels - 1u;
	uint64_t rsz = pt_level_size(top);
	unsigned end = pt->kernel ? SVMM_ROOT_SLOTS : SVMM_DMAP_SLOT0;
	bool ok = true;
	for (unsigned s = 0; ok && s < end; s++) {
		uint64_t e = r[s];
		svmm_va_t va = s < SVMM_DMAP_SLOT0 ? s * rsz : svmm_kernel_base(pt->mode) +
							  (s - SVMM_DMAP_SLOT0) * rsz;
		if (pt->kernel && s >= SVMM_DMAP_SLOT0 && !(e & SVMM_PTE_V))
			ok = check_fail(&c, "kernel root slots 256..511 always hold something", va,
					e, top);
		else if (!(e & SVMM_PTE_V))
			continue;
		else if (e & SVMM_PTE_RSV_MASK)
			ok = check_fail(&c, "reserved bits 60:54 are zero", va, e, top);
		else if (svmm_pte_is_table(e) &&
			 (e & (SVMM_PTE_D | SVMM_PTE_A | SVMM_PTE_U | SVMM_PTE_N |
			       SVMM_PTE_PBMT_MASK | SVMM_PTE_G)))
			ok = check_fail(&c, "table pointers have no D, A, U, N, PBMT or G", va, e,
					top);
		else if (svmm_pte_is_table(e)) {
			c.tables++;
			ok = check_table(&c, pt_table(svmm_pte_pa(e)), top - 1u, va,
					 !pt_is_kernel_slot(pt, top, va));
		} else if (e & SVMM_PTE_N)
			ok = check_fail(&c, "Svnapot leaves are 4 KiB entries of 64 KiB runs", va,
					e, top);
		else
			ok = check_leaf(&c, r, s, top, va);
	}
	if (ok && c.tables != pt->tables) {
		ok = false;
		c.why = "the tables in the tree are the tables pt->tables counts";
		c.va = 0;
		c.e = 0;
		c.level = 0;
		if (out != NULL)
			svmm_printline(out, ctx, "pt: %s: %llu in the tree, %llu counted", c.why,
				       (unsigned long long)c.tables,
				       (unsigned long long)pt->tables);
		return SVMM_EINVAL;
	}
	if (ok)
		return 0;
	if (out != NULL)
		check_print(&c, out, ctx);
	return SVMM_EINVAL;
}
