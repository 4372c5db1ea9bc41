/*
 * aspace.c - user address spaces over pt, vmem and pmem (see svmm/aspace.h and
 * docs/aspace.md).
 *
 * Every operation that changes several structures runs in two steps: first each step
 * that can fail, in an order whose exact reverse undoes it, then the steps that cannot
 * fail (freeing frames, linking lists, updating counters). A failure in the first step
 * walks back through what was done, so the address space is as it was.
 */
#include <svmm/aspace.h>

#define PAGE SVMM_PAGE_SIZE

static struct asid_allocator aspace_asid;
static bool aspace_ready;

/* ---- region structs: a few in the address space, then a slab of 4 KiB pages ---- */

/*
 * A slab page starts with this header, padded to one region's size, followed by
 * region structs. Free regions of a slab are chained through their pa field.
 */
struct aspace_slab {
	struct aspace_slab *next;
	struct aspace_region *free;   /* regions given back */
	uint32_t used;
	uint32_t fresh;               /* regions never handed out start at this index */
};

#define SLAB_HDR     64u
#define SLAB_REGIONS ((unsigned)((PAGE - SLAB_HDR) / sizeof(struct aspace_region)))

_Static_assert(sizeof(struct aspace_slab) <= SLAB_HDR, "slab header too big");
_Static_assert(sizeof(struct aspace_region) <= 64, "aspace_region grew past 64 bytes");

/* Metadata pages come from pmem below its direct-map limit, reached by the direct map. */
static int meta_page_alloc(struct aspace *as, void **page)
{
	svmm_pa_t pa;
	int err = pmem_alloc(as->pm, 0, as->pm->meta_limit, &pa);
	if (err != 0)
		return err;
	*page = port_pa_to_va(pa);
	return 0;
}

static void meta_page_free(struct aspace *as, void *page)
{
	if (pmem_free(as->pm, port_va_to_pa(page), 0) != 0)
		port_panic("aspace: metadata page not allocated from pmem");
}

/* The first region slot of a slab page. */
static inline struct aspace_region *slab_regions(struct aspace_slab *s)
{
	return (void *)((char *)s + SLAB_HDR);
}

/*
 * A zeroed region struct, or SVMM_ENOMEM. The address space's own structs (inl[]) go
 * first, so that a process of a few regions, and each fork of it, takes no slab page
 * (a pmem allocation and its free). Then given-back regions are reused first; a new
 * page is handed out from its start without threading its regions onto a list, so a
 * short-lived address space pays nothing for the 50 it never uses.
 */
static int region_alloc(struct aspace *as, struct aspace_region **rp)
{
	struct aspace_region *r;
	if (as->inl_used != (1u << ASPACE_INLINE_REGIONS) - 1u) {
		/* One of the address space's own structs: no slab page for a few regions. */
		unsigned i = 0;
		while (as->inl_used & (1u << i))
			i++;
		as->inl_used |= 1u << i;
		r = &as->inl[i];
		__builtin_memset(r, 0, sizeof(*r));
		*rp = r;
		return 0;
	}
	struct aspace_slab *s;
	for (s = as->slabs; s != NULL; s = s->next)
		if (s->free != NULL || s->fresh < SLAB_REGIONS)
			break;
	if (s == NULL) {
		void *page;
		int err = meta_page_alloc(as, &page);
		if (err != 0)
			return err;
		s = page;
		s->used = 0;
		s->fresh = 0;
		s->free = NULL;
		s->next = as->slabs;
		as->slabs = s;
		as->slab_pages++;
	}
	if (s->free != NULL) {
		r = s->free;
		s->free = (struct aspace_region *)(uintptr_t)r->pa;
	} else {
		r = &slab_regions(s)[s->fresh++];
	}
	s->used++;
	__builtin_memset(r, 0, sizeof(*r));
	*rp = r;
	return 0;
}

/* Give a region struct back; an empty slab page goes back to pmem at once. */
static void region_free(struct aspace *as, struct aspace_region *r)
{
	/* Compared as integers: r may point into a slab page, another object. */
	uintptr_t i = ((uintptr_t)r - (uintptr_t)as->inl) / sizeof(*r);
	if ((uintptr_t)r >= (uintptr_t)as->inl && i < ASPACE_INLINE_REGIONS) {
		as->inl_used &= ~(1u << (unsigned)i);
		return;
	}
	struct aspace_slab *s = (void *)SVMM_ALIGN_DOWN((uintptr_t)r, PAGE);
	/* A free struct is chained through its pa word, so no list field is the slab's. */
	r->pa = (svmm_pa_t)(uintptr_t)s->free;
	s->free = r;
	if (--s->used != 0)
		return;
	struct aspace_slab **pp = &as->slabs;
	while (*pp != s)
		pp = &(*pp)->next;
	*pp = s->next;
	as->slab_pages--;
	meta_page_free(as, s);
}

/* uvmem's node pool is fed by the same metadata pages. */
static int pool_alloc(void *ctx, void **page)
{
	struct aspace *as = ctx;
	int err = meta_page_alloc(as, page);
	if (err == 0)
		as->pool_pages++;
	return err;
}

static void pool_free(void *ctx, void *page)
{
	struct aspace *as = ctx;
	as->pool_pages--;
	meta_page_free(as, page);
}

/* ---- helpers ---- */

static inline struct aspace_region *node_region(struct vmem_region *n)
{
	return n == NULL ? NULL : SVMM_CONTAINER_OF(n, struct aspace_region, node);
}

static inline svmm_va_t r_end(const struct aspace_region *r)
{
	return r->node.addr + r->node.size;
}

static int check_prot(unsigned prot)
{
	if ((prot & ~(PT_R | PT_W | PT_X)) != 0)
		return SVMM_EINVAL;
	/* No access at all is what unmap is for; W needs R; W^X for user memory. */
	if (prot == 0 || ((prot & PT_W) && !(prot & PT_R)) ||
	    (prot & (PT_W | PT_X)) == (PT_W | PT_X))
		return SVMM_EPERM;
	return 0;
}

static int check_range(const struct aspace *as, svmm_va_t va, uint64_t size)
{
	if (size == 0)
		return SVMM_EZEROSIZE;
	if (!SVMM_IS_ALIGNED(va, PAGE) || !SVMM_IS_ALIGNED(size, PAGE))
		return SVMM_EUNALIGNED;
	if (va + size < va)
		return SVMM_EOVERFLOW;
	if (va < as->user_base || va + size > as->user_end)
		return SVMM_ERANGE;
	return 0;
}

/* A new mapping's place: a fixed one must lie in the user half, any other must fit it. */
static int check_place(const struct aspace *as, unsigned flags, svmm_va_t hint, uint64_t size)
{
	if (flags & ASPACE_FIXED)
		return check_range(as, hint, size);
	return size > as->user_end - as->user_base ? SVMM_ENOSPC : 0;
}

/*
 * A kernel pointer to the 4 KiB frame at pa: through the direct map when pmem says the
 * frame is RAM below its direct-map limit, else through port_kmap (*kmapped: undo it
 * with frame_unmap). Phys regions may name frames outside pmem: those always use kmap.
 */
static void *frame_map(struct aspace *as, svmm_pa_t pa, bool *kmapped)
{
	svmm_pa_t limit = as->pm->meta_limit;
	*kmapped = !((limit == PMEM_ANY || pa + PAGE <= limit) && pmem_frame(as->pm, pa) != NULL);
	return *kmapped ? port_kmap(pa) : port_pa_to_va(pa);
}

static void frame_unmap(void *p, bool kmapped)
{
	if (kmapped)
		port_kunmap(p);
}

/*
 * The regions in address order. uvmem's segment tree is the one index: every region's
 * node is its allocation there, so the order, the neighbours and "the first region at
 * or after va" all come from vmem (issue 11), and nothing else is kept. Only this block
 * knows that; everything else goes through reg_first, reg_ceil, reg_next, reg_prev,
 * reg_insert, reg_link_after and reg_remove.
 */

/* The lowest region, or NULL. */
static inline struct aspace_region *reg_first(struct aspace *as)
{
	return node_region(vmem_first_from(&as->uvmem, 0));
}

/* The first region that ends above va (it holds va or lies after it), or NULL: O(log n). */
static struct aspace_region *reg_ceil(struct aspace *as, svmm_va_t va)
{
	return node_region(vmem_first_from(&as->uvmem, va));
}

static inline struct aspace_region *reg_next(struct aspace *as, const struct aspace_region *r)
{
	return node_region(vmem_next(&as->uvmem, &r->node));
}

static inline struct aspace_region *reg_prev(struct aspace *as, const struct aspace_region *r)
{
	return node_region(vmem_prev(&as->uvmem, &r->node));
}

/* r was just allocated in uvmem, so it is in the order already: count it. */
static void reg_insert(struct aspace *as, struct aspace_region *r)
{
	(void)r;
	as->nregions++;
}

/* piece was just split off r in uvmem, right after it. */
static void reg_link_after(struct aspace *as, struct aspace_region *r,
			   struct aspace_region *piece)
{
	(void)r;
	(void)piece;
	as->nregions++;
}

/* r leaves the order (its uvmem allocation goes, or went, with a free or a join). */
static void reg_remove(struct aspace *as, struct aspace_region *r)
{
	(void)r;
	as->nregions--;
}

/* The order's own invariant, for aspace_check: one region per uvmem allocation. */
static const char *reg_check(struct aspace *as)
{
	struct vmem_stats st;

	vmem_stats(&as->uvmem, &st);
	if (st.used_regions != as->nregions)
		return "every uvmem allocation is one region, and nregions counts them";
	return NULL;
}

/* The first region that overlaps [va, end), or NULL. */
static struct aspace_region *first_overlap(struct aspace *as, svmm_va_t va, svmm_va_t end)
{
	struct aspace_region *r = reg_ceil(as, va);
	return r != NULL && r->node.addr < end ? r : NULL;
}

/* ---- set-up and tear-down ---- */

int aspace_sys_init(unsigned asid_bits, unsigned nharts)
{
	int err = asid_init(&aspace_asid, asid_bits, nharts);
	aspace_ready = err == 0;
	return err;
}

struct asid_allocator *aspace_asids(void)
{
	return &aspace_asid;
}

int aspace_layout_default(enum svmm_mode mode, struct aspace_layout *l)
{
	if (l == NULL)
		return SVMM_EINVAL;
	if (!svmm_mode_valid(mode))
		return SVMM_EMODE;
	uint64_t slot = svmm_slot_size(mode);
	l->user_base = SVMM_NULL_GUARD;
	l->user_end = (svmm_va_t)SVMM_USER_SLOTS * slot;
	l->stack_base = (svmm_va_t)SVMM_USTACK_SLOT * slot;
	/* The top SVMM_USTACK_GUARD of the user half is never mapped: layout's ustack_top. */
	l->stack_top = svmm_user_end(mode) - SVMM_USTACK_GUARD;
	l->stack_guard = ASPACE_STACK_GUARD;
	l->stack_max = ASPACE_STACK_MAX;
	if (l->stack_max > l->stack_top - l->stack_base - l->stack_guard)
		l->stack_max = l->stack_top - l->stack_base - l->stack_guard;
	return 0;
}

/* The rules of struct aspace_layout for a tree of mode: 0 or SVMM_EINVAL. */
static int layout_valid(const struct aspace_layout *l, enum svmm_mode mode)
{
	svmm_va_t half = svmm_user_end(mode);
	if (!SVMM_IS_ALIGNED(l->user_base | l->user_end | l->stack_base | l->stack_top |
			     l->stack_max | l->stack_guard, PAGE))
		return SVMM_EINVAL;
	if (l->user_base >= l->user_end || l->user_end > half)
		return SVMM_EINVAL;
	if (l->stack_top == l->stack_base)
		return 0;                   /* no stack slot: stack_max and guard unused */
	if (l->stack_base < l->user_end || l->stack_base > l->stack_top || l->stack_top > half ||
	    l->stack_max == 0 || l->stack_guard > l->stack_top - l->stack_base ||
	    l->stack_max > l->stack_top - l->stack_base - l->stack_guard)
		return SVMM_EINVAL;
	return 0;
}

int aspace_create(struct aspace *as, const struct pt *kernel, struct pmem *pm,
		  const struct aspace_layout *layout)
{
	if (as == NULL || kernel == NULL || pm == NULL || !aspace_ready ||
	    !svmm_mode_valid(kernel->mode))
		return SVMM_EINVAL;
	struct aspace_layout l;
	if (layout == NULL)
		aspace_layout_default(kernel->mode, &l);
	else if (layout_valid(layout, kernel->mode) != 0)
		return SVMM_EINVAL;
	else
		l = *layout;
	/* pt_init and vmem_init set up their own parts; zero only the rest. */
	as->lock = (struct svmm_lock)SVMM_LOCK_INIT;
	__builtin_memset(&as->pool_src, 0, sizeof(*as) - offsetof(struct aspace, pool_src));
	as->pm = pm;
	as->user_base = l.user_base;
	as->user_end = l.user_end;
	as->stack_base = l.stack_base;
	as->stack_top = l.stack_top;
	as->stack_guard = l.stack_top == l.stack_base ? 0 : l.stack_guard;
	as->stack_limit = l.stack_top - (l.stack_top == l.stack_base ? 0 : l.stack_max);
	as->stack_low = as->stack_top;
	/*
	 * An upper-half kernel (pt_init_kernel) shares its half with every address space.
	 * A lower-half kernel built with pt_init keeps its own tree and maps what its
	 * traps need with aspace_map_kernel.
	 */
	int err = kernel->kernel ? pt_init_user(&as->pt, kernel, 0) : pt_init(&as->pt, kernel->mode, 0);
	if (err != 0)
		return err;
	as->pool_src.alloc = pool_alloc;
	as->pool_src.free = pool_free;
	as->pool_src.ctx = as;
	err = vmem_init(&as->uvmem, as->user_base, as->user_end - as->user_base, PAGE,
			&as->pool_src);
	if (err != 0) {
		pt_destroy(&as->pt, pt_leaf_ignore, NULL);
		return err;
	}
	/*
	 * Every uvmem call below happens under as->lock (or, here and for aspace_lookup's
	 * and the region walk's callers, while the caller owns as alone or holds the lock),
	 * so vmem's own lock would only repeat it: one round trip per page fault, several
	 * per fork.
	 */
	vmem_lock_by_caller(&as->uvmem);
	return 0;
}

/* pt_walk callback: one anonymous leaf less (its frame belongs to an object). */
static int free_leaf(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	struct aspace *as = ctx;
	(void)va;
	(void)pa;
	(void)pte;
	as->resident -= size / PAGE;
	return 0;
}

/* Give back one region of a dying address space: its uvmem range and its struct. */
static void region_destroy(struct aspace *as, struct aspace_region *r)
{
	as->nregions--;
	if (r->obj != NULL)
		vmobj_put(r->obj);
	if (vmem_free_region(&as->uvmem, &r->node) != 0)
		port_panic("aspace_destroy: region unknown to uvmem");
	region_free(as, r);
}

void aspace_destroy(struct aspace *as)
{
	port_lock(&as->lock);
	for (unsigned h = 0; h < aspace_asid.nharts; h++)
		asid_deactivate(&aspace_asid, as->asid_ctx, h);
	/*
	 * No hart runs this address space and its ASID is not handed out again before a
	 * rollover, which flushes every hart, so frames may go back before the tables.
	 */
	if (as->resident > as->stack_pages)
		for (struct aspace_region *r = reg_first(as); r != NULL; r = reg_next(as, r))
			if (r->kind != ASPACE_PHYS)
				pt_walk(&as->pt, r->node.addr, r->node.size, free_leaf, as);
	if (as->stack_pages != 0)
		pt_walk(&as->pt, as->stack_low, as->stack_top - as->stack_low, free_leaf, as);
	pt_destroy(&as->pt, pt_leaf_ignore, NULL);
	if (as->anon != NULL) {
		vmobj_put(as->anon);       /* frees every anonymous frame it still holds */
		as->anon = NULL;
	}
	if (pmem_uncommit(as->pm, as->committed) != 0)
		port_panic("aspace_destroy: commit count below what the address space charged");
	as->committed = 0;
	/*
	 * Every region goes (with its reference to its object: the last one frees the
	 * object's frames): the index is dropped whole rather than node by node. Tear-down
	 * must not need memory, and a uvmem free needs a node only when neither neighbour
	 * is free. In address order that happens only in the run of regions packed against
	 * the start of uvmem, so that run goes last to first (each then merges with the
	 * free space after it, or uvmem has no free region and every node is spare), and
	 * the rest first to last (each merges with the free space before it).
	 */
	struct aspace_region *lead = NULL, *r = reg_first(as);
	for (svmm_va_t at = as->user_base; r != NULL && r->node.addr == at; r = reg_next(as, r)) {
		lead = r;
		at = r_end(r);
	}
	while (r != NULL) {
		struct aspace_region *next = reg_next(as, r);
		region_destroy(as, r);
		r = next;
	}
	while (lead != NULL) {
		struct aspace_region *prev = reg_prev(as, lead);
		region_destroy(as, lead);
		lead = prev;
	}
	if (vmem_destroy(&as->uvmem) != 0)
		port_panic("aspace_destroy: uvmem still holds allocations");
	if (as->resident != 0 || as->slab_pages != 0 || as->slabs != NULL || as->inl_used != 0)
		port_panic("aspace_destroy: frames or region structs unaccounted for");
	port_unlock(&as->lock);
}

/* ---- mapping ---- */

static struct aspace_region *merge_run(struct aspace *as, struct aspace_region *first,
				       svmm_va_t end);

/* Place r (size given) in uvmem: fixed, at the hint, or best fit with an alignment. */
static int place(struct aspace *as, struct aspace_region *r, svmm_va_t hint, uint64_t size,
		 unsigned flags, uint64_t align, uint64_t phase)
{
	if (flags & ASPACE_FIXED)
		return vmem_alloc_fixed(&as->uvmem, hint, size, &r->node);
	if (hint != 0 && check_range(as, hint, size) == 0) {
		int err = vmem_alloc_fixed(&as->uvmem, hint, size, &r->node);
		if (err != SVMM_EBUSY)
			return err;
	}
	svmm_va_t addr;
	if (align > PAGE) {
		struct vmem_constraint c = { 0 };
		c.align = align;
		c.phase = phase;
		int err = vmem_xalloc(&as->uvmem, size, &c, &r->node, &addr);
		if (err != SVMM_ENOSPC)
			return err;
	}
	return vmem_alloc(&as->uvmem, size, &r->node, &addr);
}

static int map_region(struct aspace *as, svmm_va_t hint, svmm_pa_t pa, uint64_t size, unsigned prot,
		      unsigned flags, unsigned kind, svmm_va_t *addrp)
{
	unsigned ptflags = 0;
	uint64_t align = 0, phase = 0;
	int err = check_prot(prot);
	if (err != 0)
		return err;
	if (kind == ASPACE_ANON && (flags & ~(ASPACE_FIXED | ASPACE_COMMIT)) != 0)
		return SVMM_EINVAL;
	if (kind == ASPACE_PHYS) {
		if ((flags & ~(ASPACE_FIXED | ASPACE_IO | ASPACE_NC)) != 0 ||
		    (flags & (ASPACE_IO | ASPACE_NC)) == (ASPACE_IO | ASPACE_NC))
			return SVMM_EINVAL;
		ptflags = (flags & ASPACE_IO) ? PT_IO : (flags & ASPACE_NC) ? PT_NC : 0;
	}
	if (addrp == NULL)
		return SVMM_EINVAL;
	if (size == 0)
		return SVMM_EZEROSIZE;
	if (!SVMM_IS_ALIGNED(size, PAGE) || !SVMM_IS_ALIGNED(pa, PAGE))
		return SVMM_EUNALIGNED;
	if (kind == ASPACE_PHYS && (pa + size < pa || pa + size > PT_PA_LIMIT))
		return pa + size < pa ? SVMM_EOVERFLOW : SVMM_ERANGE;
	err = check_place(as, flags, hint, size);
	if (err != 0)
		return err;
	/* Placement that lets the page tables use 2 MiB (or 1 GiB) pages. */
	if (kind == ASPACE_ANON && size >= 2 * SVMM_MiB) {
		align = 2 * SVMM_MiB;
	} else if (kind == ASPACE_PHYS) {
		/*
		 * Every phys map keeps pa's offset modulo 2 MiB (1 GiB from 1 GiB up), small
		 * ones too: the rule is then one the caller can rely on, and a small window
		 * costs no more address space than its size.
		 */
		align = size >= SVMM_GiB ? SVMM_GiB : 2 * SVMM_MiB;
		phase = pa & (align - 1);
	}

	port_lock(&as->lock);
	/* Charged at map time: the whole size is promised now, or the map fails. */
	uint64_t charge = (flags & ASPACE_COMMIT) ? size / PAGE : 0;
	err = pmem_commit(as->pm, charge);
	if (err != 0)
		goto out;
	struct aspace_region *r;
	err = region_alloc(as, &r);
	if (err != 0)
		goto uncharge;
	err = place(as, r, hint, size, flags, align, phase);
	if (err != 0) {
		region_free(as, r);
		goto uncharge;
	}
	r->prot = (uint16_t)prot;
	r->kind = (uint8_t)kind;
	r->commit = charge != 0;
	r->pa = pa;
	r->ptflags = ptflags;
	if (kind == ASPACE_PHYS) {
		err = pt_map(&as->pt, r->node.addr, pa, size, prot | PT_U | ptflags);
		if (err != 0) {
			/* The allocation just made took what this free gives back: it cannot fail. */
			if (vmem_free(&as->uvmem, r->node.addr, size, NULL) != 0)
				port_panic("aspace: cannot undo a fresh uvmem allocation");
			region_free(as, r);
			goto uncharge;
		}
	}
	reg_insert(as, r);
	as->committed += charge;
	*addrp = r->node.addr;
	/* A heap grown page by page stays one region. */
	merge_run(as, r, r_end(r));
	goto out;
uncharge:
	if (pmem_uncommit(as->pm, charge) != 0)
		port_panic("aspace: cannot give back a commit just taken");
out:
	port_unlock(&as->lock);
	return err;
}

int aspace_map_anon(struct aspace *as, svmm_va_t hint, uint64_t size, unsigned prot,
		    unsigned flags, svmm_va_t *addrp)
{
	return map_region(as, hint, 0, size, prot, flags, ASPACE_ANON, addrp);
}

int aspace_map_phys(struct aspace *as, svmm_va_t hint, svmm_pa_t pa, uint64_t size, unsigned prot,
		    unsigned flags, svmm_va_t *addrp)
{
	return map_region(as, hint, pa, size, prot, flags, ASPACE_PHYS, addrp);
}

/* ---- cutting regions: shared by unmap and protect ---- */

/*
 * Cut r at address at (strictly inside it): r keeps [start, at), piece gets [at, end)
 * with r's attributes and follows r in the order. vmem cuts an allocation in place,
 * but the new entry may need a block of uvmem's index: cut_range reserved it
 * (vmem_reserve), so this cannot fail.
 */
static void cut_at(struct aspace *as, struct aspace_region *r, svmm_va_t at,
		   struct aspace_region *piece)
{
	svmm_va_t a = r->node.addr;

	if (vmem_split(&as->uvmem, &r->node, at, &piece->node) != 0)
		port_panic("aspace: uvmem refused to cut a region");
	piece->prot = r->prot;
	piece->kind = r->kind;
	piece->commit = r->commit;
	piece->ptflags = r->ptflags;
	piece->pa = r->kind == ASPACE_PHYS ? r->pa + (at - a) : 0;
	/* Both pieces of an object region map the object, at offsets as far apart as
	   their addresses. */
	piece->shared = r->shared;
	if (r->kind == ASPACE_OBJ) {
		piece->obj = r->obj;
		piece->off = r->off + (at - a);
		if (vmobj_get(piece->obj) != 0)
			port_panic("aspace: object reference count overflow");
	}
	reg_link_after(as, r, piece);
}

/* ---- merging: adjacent regions with the same attributes are one ---- */

/* Could a and b (a right before b) be one region? Anonymous ones with equal attributes. */
static bool mergeable(const struct aspace_region *a, const struct aspace_region *b)
{
	return a != NULL && b != NULL && a->kind == ASPACE_ANON && b->kind == ASPACE_ANON &&
	       a->prot == b->prot && a->commit == b->commit && r_end(a) == b->node.addr;
}

/*
 * Join b into a (mergeable): uvmem's two allocations become one under a's node and b's
 * struct goes back. vmem joins two allocations in place: no memory, no failure.
 */
static bool join(struct aspace *as, struct aspace_region *a, struct aspace_region *b)
{
	if (vmem_join(&as->uvmem, &a->node, &b->node) != 0)
		port_panic("aspace: uvmem refused to join two regions");
	reg_remove(as, b);
	region_free(as, b);
	return true;
}

/*
 * Merge every mergeable neighbour pair among the regions from first up to the first
 * region starting at or after end (both included, so the range's outer neighbours
 * join too). first may be NULL. Returns the region now holding first's start.
 */
static struct aspace_region *merge_run(struct aspace *as, struct aspace_region *first,
				       svmm_va_t end)
{
	if (first == NULL)
		return NULL;
	struct aspace_region *prev = reg_prev(as, first), *keep = first;
	if (mergeable(prev, first) && join(as, prev, first))
		keep = first = prev;
	for (struct aspace_region *r = first; r != NULL && r->node.addr < end; ) {
		struct aspace_region *next = reg_next(as, r);
		if (mergeable(r, next) && join(as, r, next))
			continue;           /* r grew: look at its new neighbour */
		r = next;
	}
	return keep;
}

/*
 * The range [va, end) made of whole regions: the regions crossing va or end are cut
 * there, taking region structs from spare[] (two at most, allocated by the caller).
 * Returns the first region inside the range (NULL if none) in *startp, and the pieces
 * made in piece[] for cut_range_undo. On failure nothing has changed.
 */
struct cut_state {
	struct aspace_region *piece[2];
	struct aspace_region *spare[2];
	struct aspace_region *start;      /* first region inside [va, end) after the cuts */
};

/* Join the pieces back into the regions they were cut from, the last cut first. */
static void cut_range_undo(struct aspace *as, struct cut_state *cs)
{
	for (unsigned i = 2; i-- > 0; ) {
		if (cs->piece[i] == NULL)
			continue;
		/* The region a piece was cut from is still right before it. */
		struct aspace_region *from = reg_prev(as, cs->piece[i]);
		if (from == NULL || vmem_join(&as->uvmem, &from->node, &cs->piece[i]->node) != 0)
			port_panic("aspace: cannot undo a cut");
		reg_remove(as, cs->piece[i]);
		if (cs->piece[i]->obj != NULL)
			vmobj_put(cs->piece[i]->obj);   /* the cut region keeps its own */
		cs->piece[i]->obj = NULL;
		cs->piece[i] = NULL;
	}
}

/* Give back the spare structs no cut used (all of them after cut_range_undo). */
static void cut_spares_put(struct aspace *as, struct cut_state *cs)
{
	for (unsigned i = 0; i < 2; i++)
		if (cs->spare[i] != NULL && cs->spare[i] != cs->piece[0] &&
		    cs->spare[i] != cs->piece[1])
			region_free(as, cs->spare[i]);
}

/*
 * Make [va, end) whole regions (see struct cut_state), after setting aside in uvmem
 * the blocks that the cuts need and `more` further units and blocks (vmem_reserve:
 * unmap's free of the first region may need a unit), so that none of them can fail
 * later. Returns 0 or SVMM_ENOMEM with nothing changed.
 */
static int cut_range(struct aspace *as, struct cut_state *cs, svmm_va_t va, svmm_va_t end,
		     struct aspace_region *first, unsigned more)
{
	__builtin_memset(cs, 0, sizeof(*cs));
	/* How many cuts, hence spare structs, the range needs. */
	struct aspace_region *last = node_region(vmem_lookup(&as->uvmem, end - 1));
	bool cut_lo = first != NULL && first->node.addr < va;
	bool cut_hi = last != NULL && r_end(last) > end;
	unsigned n = 0;
	for (unsigned i = 0; i < (unsigned)cut_lo + (unsigned)cut_hi; i++, n++) {
		int err = region_alloc(as, &cs->spare[i]);
		if (err != 0) {
			cut_spares_put(as, cs);
			return err;
		}
	}
	/*
	 * Then uvmem's share, all or nothing, so that its failure has only the structs to
	 * give back. With both in hand the cuts cannot fail.
	 */
	int err = vmem_reserve(&as->uvmem, n + more);
	if (err != 0) {
		cut_spares_put(as, cs);
		return err;
	}
	n = 0;
	cs->start = first;
	if (cut_lo) {
		cut_at(as, first, va, cs->spare[n]);
		cs->piece[0] = cs->spare[n++];
		cs->start = cs->piece[0];
		if (last == first)
			last = cs->piece[0];
	}
	if (cut_hi) {
		cut_at(as, last, end, cs->spare[n]);
		cs->piece[1] = cs->spare[n];
	}
	if (cs->start != NULL && cs->start->node.addr >= end)
		cs->start = NULL;
	return 0;
}

/* ---- unmap ---- */

/*
 * After the flush: the private pages of [va, end) of region r go back (the anonymous
 * object's, or a private object mapping's); a shared object keeps its pages for its
 * other mappings. Private objects never hold 2 MiB pages, and objs_reserve set aside
 * what copying a leaf node they share with a clone needs, so this cannot fail.
 */
static void drop_pages(struct aspace_region *r, svmm_va_t va, svmm_va_t end)
{
	if (r->kind == ASPACE_OBJ && !r->shared &&
	    vmobj_discard(r->obj, r->off + (va - r->node.addr), end - va) != 0)
		port_panic("aspace: discarding 4 KiB pages failed");
}

/*
 * The anonymous object's pages of [va, va + size) are about to be dropped after an
 * unmap that cannot be undone: set aside what splitting its 2 MiB pages at the ends
 * needs, and owning the leaf nodes there that it shares with a clone. It holds pages
 * only under anonymous regions and the stack, so the whole range can go at once.
 * Returns 0 or SVMM_ENOMEM.
 */
static int anon_reserve(struct aspace *as, svmm_va_t va, uint64_t size)
{
	return as->anon != NULL && (as->anon->huge != 0 || as->anon->shares != 0) ?
	       vmobj_reserve(as->anon, va, size) : 0;
}

/* Give back what objs_reserve set aside and the discards did not use. */
static void objs_unreserve(struct aspace *as, struct aspace_region *first, svmm_va_t end)
{
	for (struct aspace_region *r = first; r != NULL && r->node.addr < end;
	     r = reg_next(as, r))
		if (r->kind == ASPACE_OBJ && !r->shared)
			vmobj_unreserve(r->obj);
}

/*
 * The same for the private object mappings among the regions from first that overlap
 * [va, end): a private object's leaf nodes may be shared with its clone in a fork
 * child, and a discard that cuts one copies it. Returns 0, or SVMM_ENOMEM with nothing
 * set aside (objs_unreserve gives back what the discards did not use).
 */
static int objs_reserve(struct aspace *as, struct aspace_region *first, svmm_va_t va,
			svmm_va_t end)
{
	int err = 0;
	for (struct aspace_region *r = first; r != NULL && r->node.addr < end && err == 0;
	     r = reg_next(as, r)) {
		if (r->kind != ASPACE_OBJ || r->shared || r->obj->shares == 0)
			continue;
		svmm_va_t a = r->node.addr > va ? r->node.addr : va;
		svmm_va_t e = r_end(r) < end ? r_end(r) : end;
		err = vmobj_reserve(r->obj, r->off + (a - r->node.addr), e - a);
	}
	if (err != 0)
		objs_unreserve(as, first, end);
	return err;
}

/*
 * Both of the above for an unmap or discard of [va, end) whose regions start at first:
 * the anonymous object's, then the private objects'. Returns 0, or SVMM_ENOMEM with
 * nothing set aside.
 */
static int range_reserve(struct aspace *as, struct aspace_region *first, svmm_va_t va,
			 svmm_va_t end)
{
	int err = anon_reserve(as, va, end - va);
	if (err == 0) {
		err = objs_reserve(as, first, va, end);
		if (err != 0 && as->anon != NULL)
			vmobj_unreserve(as->anon);
	}
	return err;
}

/* Give back what range_reserve set aside, when the unmap or discard does not happen. */
static void range_unreserve(struct aspace *as, struct aspace_region *first, svmm_va_t end)
{
	objs_unreserve(as, first, end);
	if (as->anon != NULL)
		vmobj_unreserve(as->anon);
}

/* After the flush: drop them (with what was set aside, this cannot fail). */
static void anon_drop(struct aspace *as, svmm_va_t va, uint64_t size)
{
	if (as->anon == NULL)
		return;
	if (vmobj_discard(as->anon, va, size) != 0)
		port_panic("aspace: discarding anonymous pages failed");
	vmobj_unreserve(as->anon);
}

/*
 * pt_walk callback: the 4 KiB pages the leaves cover, added to *ctx. Unmap and discard
 * count the leaves of a range with it while uvmem still knows the regions.
 */
static int count_leaf(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	uint64_t *n = ctx;
	(void)va;
	(void)pa;
	(void)pte;
	*n += size / PAGE;
	return 0;
}

int aspace_unmap(struct aspace *as, svmm_va_t va, uint64_t size)
{
	int err = check_range(as, va, size);
	if (err != 0)
		return err;
	svmm_va_t end = va + size;
	port_lock(&as->lock);
	struct aspace_region *first = first_overlap(as, va, end);
	if (first == NULL)
		goto out;               /* nothing mapped there: done, as munmap */
	struct cut_state cs;
	/* And a uvmem unit for the free of the first region below. */
	err = cut_range(as, &cs, va, end, first, 1);
	if (err != 0)
		goto out;

	/* Collect the frames of anonymous regions while uvmem still knows the regions. */
	uint64_t leaves = 0;
	struct aspace_region *r;
	uint64_t uncharge = 0;    /* what these regions charged: at map time or per fault */
	for (r = cs.start; r != NULL && r->node.addr < end; r = reg_next(as, r)) {
		if (r->kind == ASPACE_PHYS)
			continue;
		uint64_t n0 = leaves;
		pt_walk(&as->pt, r->node.addr, r->node.size, count_leaf, &leaves);
		if (r->kind == ASPACE_ANON)
			uncharge += r->commit ? r->node.size / PAGE : leaves - n0;
	}

	/*
	 * The fallible steps, each undone: what the objects need set aside, then the page
	 * tables (all or nothing; a table to split a huge page of a phys region). Then the
	 * first region's free, which may need a vmem unit (both its neighbours may be
	 * allocated), cannot fail: cut_range reserved the unit, so no undo has to
	 * re-allocate a freed range. Every later region has a free left neighbour once the
	 * first is gone, so its free only merges and cannot fail; each is freed below,
	 * after its successor is known (a freed region is no longer in the order).
	 */
	struct aspace_region *head = cs.start, *second = reg_next(as, head);
	err = range_reserve(as, head, va, end);
	if (err != 0)
		goto undo_cuts;
	err = pt_unmap(&as->pt, va, size, PT_MISSING_OK);
	if (err != 0)
		goto unreserve;
	if (vmem_free_region(&as->uvmem, &head->node) != 0)
		port_panic("aspace: a uvmem free with its unit reserved failed");
	anon_drop(as, va, size);
	/* The private objects' pages, all of them before what was set aside for them goes
	   (pieces of one object share its spare pages), and before the loop below puts
	   the objects. */
	for (r = head; r != NULL && r->node.addr < end; r = r == head ? second : reg_next(as, r))
		drop_pages(r, r->node.addr, r_end(r));
	for (r = head; r != NULL && r->node.addr < end; r = r == head ? second : reg_next(as, r))
		if (r->kind == ASPACE_OBJ && !r->shared)
			vmobj_unreserve(r->obj);

	/*
	 * The TLB no longer holds the frames: the anonymous object drops the pages of the
	 * removed anonymous regions (its offsets are addresses, so exactly those pages).
	 */
	as->resident -= leaves;
	if (pmem_uncommit(as->pm, uncharge) != 0)
		port_panic("aspace: commit count below what the address space charged");
	as->committed -= uncharge;
	for (r = head; r != NULL; ) {
		struct aspace_region *next = r == head ? second : reg_next(as, r);
		if (next != NULL && next->node.addr >= end)
			next = NULL;
		if (r != head && vmem_free_region(&as->uvmem, &r->node) != 0)
			port_panic("aspace: a merging uvmem free failed");
		reg_remove(as, r);
		if (r->obj != NULL)
			vmobj_put(r->obj);
		region_free(as, r);
		r = next;
	}
	/* Cut pieces inside the range went with the loop above; they are not spares. */
	cut_spares_put(as, &cs);
	goto out;

unreserve:
	range_unreserve(as, head, end);
undo_cuts:
	cut_range_undo(as, &cs);
	cut_spares_put(as, &cs);
out:
	port_unlock(&as->lock);
	return err;
}

/* ---- kernel pages ---- */

/*
 * Kernel pages go where neither regions nor the stack can ever be: in the user half,
 * above the null guard, outside [user_base, user_end) and the stack slot.
 */
static int check_kernel_range(const struct aspace *as, svmm_va_t va, uint64_t size)
{
	if (size == 0)
		return SVMM_EZEROSIZE;
	if (!SVMM_IS_ALIGNED(va, PAGE) || !SVMM_IS_ALIGNED(size, PAGE))
		return SVMM_EUNALIGNED;
	if (va + size < va)
		return SVMM_EOVERFLOW;
	svmm_va_t end = va + size;
	if (va < as->user_base || end > svmm_user_end(as->pt.mode) ||
	    (va < as->user_end && end > as->user_base) ||
	    (va < as->stack_top && end > as->stack_base))
		return SVMM_ERANGE;
	return 0;
}

int aspace_map_kernel(struct aspace *as, svmm_va_t va, svmm_pa_t pa, uint64_t size, unsigned prot,
		      unsigned flags)
{
	int err = check_prot(prot);
	if (err != 0)
		return err;
	if ((flags & ~(ASPACE_IO | ASPACE_NC)) != 0 ||
	    (flags & (ASPACE_IO | ASPACE_NC)) == (ASPACE_IO | ASPACE_NC))
		return SVMM_EINVAL;
	err = check_kernel_range(as, va, size);
	if (err != 0)
		return err;
	if (!SVMM_IS_ALIGNED(pa, PAGE))
		return SVMM_EUNALIGNED;
	if (pa + size < pa)
		return SVMM_EOVERFLOW;
	if (pa + size > PT_PA_LIMIT)
		return SVMM_ERANGE;
	unsigned ptflags = (flags & ASPACE_IO) ? PT_IO : (flags & ASPACE_NC) ? PT_NC : 0;
	port_lock(&as->lock);
	err = pt_map(&as->pt, va, pa, size, prot | ptflags);
	if (err == SVMM_EEXIST)
		err = SVMM_EBUSY;
	if (err == 0)
		as->kernel_bytes += size;
	port_unlock(&as->lock);
	return err;
}

/* pt_walk callback: add up the bytes of the leaves in a range. */
static int sum_leaf(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	(void)va;
	(void)pa;
	(void)pte;
	*(uint64_t *)ctx += size;
	return 0;
}

int aspace_unmap_kernel(struct aspace *as, svmm_va_t va, uint64_t size)
{
	int err = check_kernel_range(as, va, size);
	if (err != 0)
		return err;
	uint64_t bytes = 0;
	port_lock(&as->lock);
	pt_walk(&as->pt, va, size, sum_leaf, &bytes);
	err = pt_unmap(&as->pt, va, size, PT_MISSING_OK);
	if (err == 0)
		as->kernel_bytes -= bytes;
	port_unlock(&as->lock);
	return err;
}

/* ---- protect ---- */

struct shared_ctx {
	struct aspace *as;
	struct aspace_region *r;   /* the region walked */
	bool shared;
};

static struct vmobj **anon_slot(struct aspace *as, struct aspace_region *r, svmm_va_t page,
				uint64_t *off, uint64_t *size);

/*
 * pt_walk callback: may this leaf not become writable? It may only where its object
 * answers "writable" for this very frame: the object's own page, which no other object
 * holds (neither the frame, nor, after a fork, the index node naming it: a frame's own
 * count of 1 does not say that), and not a page read through from a backing object.
 */
static int shared_leaf(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	struct shared_ctx *s = ctx;
	uint64_t off, osize;
	struct vmobj_page pg;
	(void)size;
	(void)pte;
	struct vmobj **slot = anon_slot(s->as, s->r, va, &off, &osize);
	if (*slot == NULL || vmobj_lookup(*slot, off, &pg) != 0 || !pg.writable || pg.pa != pa) {
		s->shared = true;
		return 1;
	}
	return 0;
}

/* Does an anonymous region from start on, below end, map a frame another object holds? */
static bool shared_leaves(struct aspace *as, struct aspace_region *start, svmm_va_t end)
{
	struct shared_ctx s = { as, NULL, false };
	for (struct aspace_region *r = start; r != NULL && r->node.addr < end && !s.shared;
	     r = reg_next(as, r)) {
		s.r = r;
		if (r->kind != ASPACE_PHYS)
			pt_walk(&as->pt, r->node.addr, r->node.size, shared_leaf, &s);
	}
	return s.shared;
}

int aspace_protect(struct aspace *as, svmm_va_t va, uint64_t size, unsigned prot)
{
	int err = check_prot(prot);
	if (err == 0)
		err = check_range(as, va, size);
	if (err != 0)
		return err;
	svmm_va_t end = va + size;
	port_lock(&as->lock);
	/* The range must be covered by regions without a hole, as mprotect requires. */
	struct aspace_region *first = first_overlap(as, va, end);
	svmm_va_t covered = va;
	for (struct aspace_region *r = first; r != NULL && r->node.addr < end; r = reg_next(as, r)) {
		if (r->node.addr > covered)
			break;
		covered = r_end(r);
	}
	if (first == NULL || covered < end) {
		err = SVMM_ENOENT;
		goto out;
	}
	struct cut_state cs;
	err = cut_range(as, &cs, va, end, first, 0);
	if (err != 0)
		goto out;
	/*
	 * A leaf that maps a frame shared copy-on-write must not become writable: when the
	 * range has any, every leaf goes without W first (faults wait on the lock, so a
	 * moment of fewer permissions is never seen) and phys regions get W back; anonymous
	 * pages then take W on their next write fault, copying or taking the frame over.
	 */
	bool cow = (prot & PT_W) && shared_leaves(as, cs.start, end);
	err = pt_protect(&as->pt, va, size,
			 (cow ? prot & ~PT_W : prot) | PT_U, PT_PERMS, PT_MISSING_OK);
	if (err != 0) {
		cut_range_undo(as, &cs);
		cut_spares_put(as, &cs);
		goto out;
	}
	for (struct aspace_region *r = cs.start; r != NULL && r->node.addr < end;
	     r = reg_next(as, r)) {
		r->prot = (uint16_t)prot;
		/* Whole leaves of a region the first call already split at the range's
		   ends: nothing to allocate, so this cannot fail. */
		if (cow && r->kind == ASPACE_PHYS &&
		    pt_protect(&as->pt, r->node.addr, r->node.size,
			       prot | PT_U, PT_PERMS, PT_MISSING_OK) != 0)
			port_panic("aspace: restoring W on a phys region failed");
	}
	/* The cut pieces inside the range and its neighbours may be one region again. */
	cut_spares_put(as, &cs);
	merge_run(as, cs.start, end);
out:
	port_unlock(&as->lock);
	return err;
}

/* ---- page faults ---- */

#define HUGE_SIZE (2 * SVMM_MiB)

/*
 * The leaf entry mapping the page at va, if any: its size (0: none) with *pte (and *pa,
 * the page's frame, if not NULL). One walk down, no callback: it is on every fault's
 * path, and the size it gives saves a copy-on-write fault a second walk to ask whether
 * the leaf is a 2 MiB one. With slot not NULL, *slot is the level-0 entry for va when
 * its table exists (a 4 KiB leaf or none), else NULL: the fault maps through it with
 * pt_map_slot rather than walk again. Not inlined, so that its struct stays off the
 * frames of the deep pt_map callers.
 */
static __attribute__((noinline)) uint64_t leaf_at(struct aspace *as, svmm_va_t va,
						  uint64_t *pte, svmm_pa_t *pa,
						  uint64_t **slot)
{
	struct pt_leaf l;
	int err = pt_leaf_at(&as->pt, SVMM_ALIGN_DOWN(va, PAGE), &l);
	if (slot != NULL)
		*slot = (err == 0 || err == SVMM_ENOENT) && l.level == 0 ? l.ptep : NULL;
	if (err != 0)
		return 0;
	*pte = l.pte;
	if (pa != NULL)
		*pa = l.pa;
	return l.size;
}

/*
 * What a user access at va may reach: the region holding it or the stack. Fills *prot
 * and *rp (NULL for the stack). Returns 0, SVMM_EFAULT, SVMM_ESTACK (the guard gap)
 * or SVMM_EPERM (access, if not 0, is not allowed there).
 */
static int fault_target(struct aspace *as, svmm_va_t va, unsigned access,
			struct aspace_region **rp, unsigned *prot)
{
	*rp = NULL;
	if (va >= as->user_base && va < as->user_end) {
		struct aspace_region *r = node_region(vmem_lookup(&as->uvmem, va));
		if (r == NULL)
			return SVMM_EFAULT;
		*rp = r;
		*prot = r->prot;
	} else if (va < as->stack_top && va >= as->stack_limit) {
		*prot = PT_R | PT_W;
	} else {
		bool guard = va < as->stack_limit && va >= as->stack_limit - as->stack_guard;
		return guard ? SVMM_ESTACK : SVMM_EFAULT;
	}
	return (access & *prot) != access ? SVMM_EPERM : 0;
}

/*
 * The object that holds the address space's private anonymous memory (its anonymous
 * regions and its stack) at offsets equal to addresses, and its size: the whole user
 * range, so that regions merge and grow without moving pages between objects.
 */
static struct vmobj **anon_slot(struct aspace *as, struct aspace_region *r, svmm_va_t page,
				uint64_t *off, uint64_t *size)
{
	if (r != NULL && r->kind == ASPACE_OBJ) {
		*off = r->off + (page - r->node.addr);
		*size = r->obj->size;
		return &r->obj;
	}
	*off = page;
	*size = as->stack_top > as->user_end ? as->stack_top : as->user_end;
	if (*size > VMOBJ_MAX_SIZE)
		*size = VMOBJ_MAX_SIZE;
	return &as->anon;
}

/*
 * An anonymous fault in three steps, so that the deep pt_map call is made from a small
 * frame: anon_prepare finds the frame and the leaf's flags, the caller maps it, and
 * anon_finish counts the new leaf or undoes what prepare did.
 */
struct anon_prep {
	/* One word for two uses, so that the struct stays 32 bytes: it lives in the frames
	   of the two deepest callers of pt_map. */
	union {
		uint64_t leaf;         /* present: a 2 MiB leaf to split for a write: its
					  pte (pa: its frame) */
		svmm_pa_t unshared;    /* else: an index node the object stopped sharing */
	};
	svmm_pa_t pa;          /* the frame to map */
	svmm_pa_t copied;      /* a shared frame the object copied from, else 0 */
	uint16_t flags;        /* pt_map's flags for the leaf */
	uint16_t charge;       /* pages charged to pmem's commit count */
	uint8_t present;       /* a read-only leaf is replaced (copy-on-write) */
	uint8_t made;          /* the anonymous object was made for this fault */
	uint8_t fresh;         /* the object made the page for this fault */
	uint8_t huge;          /* the leaf is a 2 MiB page (at page's 2 MiB boundary) */
};

static inline uint64_t prep_size(const struct anon_prep *p)
{
	return p->huge ? HUGE_SIZE : PAGE;
}

/* Is the leaf at page a 2 MiB one? Then its pte goes in p->leaf and its frame in p->pa. */
static __attribute__((noinline)) bool huge_leaf(struct aspace *as, svmm_va_t page,
						struct anon_prep *p)
{
	uint64_t pte;
	svmm_pa_t pa;
	if (leaf_at(as, page, &pte, &pa, NULL) != HUGE_SIZE)
		return false;
	p->pa = pa - (page - SVMM_ALIGN_DOWN(page, HUGE_SIZE));
	p->leaf = pte;
	return true;
}

/* End the object's side of a fault made with VMOBJ_UNDO (see vmobj_fault_end). */
static void anon_end(struct vmobj *obj, uint64_t off, const struct anon_prep *p, bool keep)
{
	if (p->copied != 0 || p->unshared != 0) {
		struct vmobj_page pg = { .pa = p->pa, .copied = p->copied,
					 .unshared = p->unshared };
		vmobj_fault_end(obj, off, &pg, keep);
	}
}

/* Take back what anon_prepare did for a new leaf at region r: the page, the object,
   the charge. */
static void anon_undo(struct aspace *as, struct aspace_region *r, struct vmobj **slot,
		      uint64_t off, const struct anon_prep *p)
{
	/* A page the object made for this fault goes again, whole: nothing to split. In
	   an index node the object stopped sharing for it, it goes with the node's copy
	   below instead (a discard could fold that copy into the object's root first). */
	if (p->fresh && p->unshared == 0 &&
	    vmobj_discard(*slot, SVMM_ALIGN_DOWN(off, prep_size(p)), prep_size(p)) != 0)
		port_panic("aspace: cannot undo a fresh object page");
	/* Then the copy, and the index node the object stopped sharing for it (a shared
	   object keeps both, see anon_prepare). */
	anon_end(*slot, off, p, r != NULL && r->shared);
	if (p->made) {
		vmobj_put(*slot);
		*slot = NULL;
	}
	if (pmem_uncommit(as->pm, p->charge) != 0)
		port_panic("aspace: cannot give back a commit just taken");
}

/*
 * Nothing mapped at page (present 0): the object's page for this access (for a write, a
 * frame of the object's own, copied while shared), made at the first fault with the
 * object itself, to be mapped read-only while shared; a new leaf is charged unless its
 * region was at map time. A read-only leaf of present bytes (a write fault): the
 * object's own frame, a copy or the same frame once nobody else holds it, to replace
 * the leaf. Returns 0 or SVMM_ENOMEM with nothing changed.
 */
static __attribute__((noinline)) int anon_prepare(struct aspace *as, struct aspace_region *r,
						  svmm_va_t page, unsigned access,
						  unsigned prot, uint64_t present,
						  struct anon_prep *p)
{
	uint64_t off, size;
	struct vmobj **slot = anon_slot(as, r, page, &off, &size);
	struct vmobj_page pg;
	__builtin_memset(p, 0, sizeof(*p));
	if (present) {
		/* A 2 MiB leaf: the caller splits it first (see anon_fault). */
		p->present = 1;
		if (present == HUGE_SIZE && huge_leaf(as, page, p))
			return 0;
		int err = vmobj_fault(*slot, off, VMOBJ_WRITE, &pg);
		p->pa = pg.pa;
		p->flags = (uint16_t)(prot | PT_U | PT_REPLACE);
		return err;
	}
	/*
	 * A write into an anonymous region that covers the whole aligned 2 MiB around page
	 * may get one 2 MiB page (the object decides: a free order-9 block, nothing
	 * resident there), charged as 512 pages; else one 4 KiB page. Reads take 4 KiB:
	 * a probe of untouched memory should not cost 2 MiB.
	 */
	svmm_va_t big = SVMM_ALIGN_DOWN(page, HUGE_SIZE);
	bool huge = r != NULL && r->kind == ASPACE_ANON && big >= r->node.addr &&
		    big + HUGE_SIZE <= r_end(r);
	p->charge = r != NULL && (r->commit || r->kind == ASPACE_OBJ) ? 0 : 1;
	if (huge && p->charge != 0) {
		if (pmem_commit(as->pm, HUGE_SIZE / PAGE) == 0)
			p->charge = HUGE_SIZE / PAGE;
		else
			huge = false;
	}
	int err = p->charge == 1 ? pmem_commit(as->pm, 1) : 0;
	if (err != 0)
		return err;
	if (*slot == NULL) {
		err = vmobj_create_anon(as->pm, size, slot);
		p->made = err == 0;
	}
	if (err == 0) {
		/*
		 * A read maps an existing 2 MiB page whole, but never makes one: only then
		 * is the object asked first whether it has the page.
		 */
		if (huge && !(access & PT_W))
			huge = vmobj_lookup(*slot, off, &pg) == 0;
		err = vmobj_fault(*slot, off, ((access & PT_W) ? VMOBJ_WRITE : VMOBJ_READ) |
				  (huge ? VMOBJ_HUGE : 0) | VMOBJ_UNDO, &pg);
		/* Another address space may map a shared object's new page at once: it
		   stays even if this fault cannot map it. So do its copy of a frame and
		   its copy of an index node it shared with a clone: another address space
		   may have put its own page into that node's copy meanwhile, which taking
		   the copy back would free under that address space's leaf. */
		p->fresh = err == 0 && (r == NULL || !r->shared) && pg.made;
	}
	if (err != 0) {
		p->fresh = 0;
		anon_undo(as, r, slot, off, p);
		return err;
	}
	if (pg.order == 9) {
		p->huge = 1;
	} else if (p->charge > 1) {
		/* A 4 KiB page after all: give back the rest of the charge. */
		if (pmem_uncommit(as->pm, p->charge - 1u) != 0)
			port_panic("aspace: cannot give back a commit just taken");
		p->charge = 1;
	}
	p->pa = pg.pa;
	p->copied = pg.copied;
	p->unshared = pg.unshared;
	p->flags = (uint16_t)((pg.writable ? prot : prot & ~PT_W) | PT_U);
	return 0;
}

/* The leaf of a prepared fault was mapped (err 0): count it; or not: undo prepare. */
static __attribute__((noinline)) void anon_finish(struct aspace *as, struct aspace_region *r,
						  svmm_va_t page, struct anon_prep *p, int err)
{
	uint64_t off, size;
	struct vmobj **slot = anon_slot(as, r, page, &off, &size);
	if (p->present) {
		/* Over an existing 4 KiB leaf nothing is allocated; the old one is flushed. */
		if (err != 0)
			port_panic("aspace: cannot replace a 4 KiB leaf");
		as->cow_faults++;
		return;
	}
	if (err != 0) {
		anon_undo(as, r, slot, off, p);
		return;
	}
	anon_end(*slot, off, p, true);
	as->cow_faults += p->copied != 0;
	as->resident += prep_size(p) / PAGE;
	as->faults++;
	as->committed += p->charge;
	if (r == NULL) {
		as->stack_pages++;
		if (page < as->stack_low)
			as->stack_low = page;
	}
}

/*
 * Resolve a fault on anonymous memory at page; see anon_prepare. present: the size of
 * the leaf the caller found there (a write to a read-only one), 0 if none, so that
 * nobody walks twice.
 */
static inline __attribute__((always_inline)) int anon_fault(struct aspace *as,
							    struct aspace_region *r,
							    svmm_va_t page, unsigned access,
							    unsigned prot, uint64_t present,
							    uint64_t *slot)
{
	struct anon_prep p;
	svmm_va_t big = SVMM_ALIGN_DOWN(page, HUGE_SIZE);
	int err = anon_prepare(as, r, page, access, prot, present, &p);
	if (err == 0 && p.present && p.leaf != 0) {
		/*
		 * A write to a 2 MiB leaf: split it first (the same translation for this page
		 * as a 4 KiB leaf: the only step that needs memory), then ask the object; if
		 * the object fails, the 2 MiB leaf goes back, which frees the table and
		 * cannot fail.
		 */
		unsigned perms = (unsigned)(p.leaf & (PT_R | PT_W | PT_X)) | PT_U | PT_REPLACE;
		svmm_pa_t head = p.pa;
		err = pt_map(&as->pt, page, head + (page - big), PAGE, perms);
		if (err != 0)
			return err;
		err = anon_prepare(as, r, page, access, prot, PAGE, &p);
		if (err != 0 && pt_map(&as->pt, big, head, HUGE_SIZE, perms) != 0)
			port_panic("aspace: cannot put a 2 MiB leaf back");
	}
	if (err != 0)
		return err;
	/* The leaf table the caller's walk found, if any, takes a 4 KiB leaf at once (a
	   2 MiB leaf was split above through pt_map: slot came from no such walk then). */
	if (slot != NULL && !p.huge && (!p.present || p.leaf == 0))
		err = pt_map_slot(&as->pt, page, slot, p.pa, p.flags);
	else
		err = pt_map(&as->pt, p.huge ? big : page, p.pa, prep_size(&p), p.flags);
	anon_finish(as, r, page, &p, err);
	return err;
}

int aspace_fault(struct aspace *as, svmm_va_t va, unsigned access)
{
	if (access != PT_R && access != PT_W && access != PT_X)
		return SVMM_EINVAL;
	struct aspace_region *r;
	unsigned prot;
	uint64_t pte, leaf, *slot;
	port_lock(&as->lock);
	/* Which region, and may this access reach it at all. */
	int err = fault_target(as, va, access, &r, &prot);
	if (err != 0)
		goto out;
	bool anon = r == NULL || r->kind != ASPACE_PHYS;
	/*
	 * A page that is mapped already answers at once, without a frame: another hart
	 * resolved the fault first or a TLB held a stale entry (0), or the leaf does not
	 * allow what the region does: a write to a copy-on-write page, or the leaf is
	 * not the user's (SVMM_EPERM).
	 */
	if ((leaf = leaf_at(as, va, &pte, NULL, &slot)) != 0) {
		if ((pte & SVMM_PTE_U) && (pte & access))
			err = 0;
		else if ((pte & SVMM_PTE_U) && anon && access == PT_W)
			err = anon_fault(as, r, SVMM_ALIGN_DOWN(va, PAGE), access, prot, leaf,
					 slot);
		else
			err = SVMM_EPERM;
		goto out;
	}
	/* Phys regions are mapped eagerly: a missing leaf there is no demand-zero page. */
	if (!anon) {
		err = SVMM_EFAULT;
		goto out;
	}
	err = anon_fault(as, r, SVMM_ALIGN_DOWN(va, PAGE), access, prot, 0, slot);
out:
	port_unlock(&as->lock);
	return err;
}

/* ---- fork ---- */

/* Take dst's regions back out, last first, after a failed clone. */
static void clone_undo(struct aspace *dst)
{
	struct aspace_region *r = reg_first(dst);
	while (r != NULL && reg_next(dst, r) != NULL)
		r = reg_next(dst, r);
	while (r != NULL) {
		struct aspace_region *prev = reg_prev(dst, r);
		/* The highest region borders free space above it: the free only merges. */
		if (vmem_free(&dst->uvmem, r->node.addr, r->node.size, NULL) != 0)
			port_panic("aspace_clone: cannot undo a uvmem allocation");
		if (r->kind == ASPACE_PHYS &&
		    pt_unmap(&dst->pt, r->node.addr, r->node.size, PT_MISSING_OK) != 0)
			port_panic("aspace_clone: cannot undo a phys mapping");
		reg_remove(dst, r);
		if (r->obj != NULL)
			vmobj_put(r->obj);
		region_free(dst, r);
		r = prev;
	}
	if (dst->anon != NULL) {
		vmobj_put(dst->anon);
		dst->anon = NULL;
	}
	if (pmem_uncommit(dst->pm, dst->committed) != 0)
		port_panic("aspace_clone: cannot give back the clone's commit");
	dst->committed = 0;
}

/* One region of src into dst: same range, permissions and kind; objects cloned. */
static __attribute__((noinline)) int clone_region(struct aspace *dst, const struct aspace_region *s)
{
	struct aspace_region *r;
	int err = region_alloc(dst, &r);
	if (err != 0)
		return err;
	err = vmem_alloc_fixed(&dst->uvmem, s->node.addr, s->node.size, &r->node);
	if (err != 0) {
		region_free(dst, r);
		return err;
	}
	r->prot = s->prot;
	r->kind = s->kind;
	r->pa = s->pa;
	r->ptflags = s->ptflags;
	r->commit = s->commit;
	r->shared = s->shared;
	/* A region charged at map time is charged in the child too (no pmem call else). */
	uint64_t charge = s->commit ? s->node.size / PAGE : 0;
	err = charge != 0 ? pmem_commit(dst->pm, charge) : 0;
	bool charged = err == 0;
	/* Shared objects stay shared across fork; private ones are cloned. */
	if (err == 0 && s->kind == ASPACE_OBJ && s->shared) {
		err = vmobj_get(s->obj);
		r->obj = err == 0 ? s->obj : NULL;
	} else if (err == 0 && s->kind == ASPACE_OBJ) {
		err = vmobj_clone(s->obj, s->off, s->node.size, &r->obj);
	} else if (err == 0 && s->kind == ASPACE_PHYS)
		err = pt_map(&dst->pt, s->node.addr, s->pa, s->node.size,
			     s->prot | PT_U | s->ptflags);
	if (err != 0) {
		if (vmem_free(&dst->uvmem, s->node.addr, s->node.size, NULL) != 0)
			port_panic("aspace_clone: cannot undo a fresh uvmem allocation");
		region_free(dst, r);
		if (charged && charge != 0 && pmem_uncommit(dst->pm, charge) != 0)
			port_panic("aspace_clone: cannot give back a commit just taken");
		return err;
	}
	dst->committed += charge;
	reg_insert(dst, r);
	return 0;
}

/*
 * Every frame of src is now shared: its writable anonymous leaves go read-only and are
 * flushed. Anonymous leaves are 4 KiB, so nothing is split or allocated.
 */
static void clone_protect(struct aspace *src)
{
	for (struct aspace_region *r = reg_first(src); r != NULL; r = reg_next(src, r))
		if ((r->kind == ASPACE_ANON || (r->kind == ASPACE_OBJ && !r->shared)) &&
		    (r->prot & PT_W) &&
		    pt_protect(&src->pt, r->node.addr, r->node.size,
			       (r->prot & ~PT_W) | PT_U, PT_PERMS, PT_MISSING_OK) != 0)
			port_panic("aspace_clone: write-protecting anonymous leaves failed");
	if (src->stack_pages != 0 &&
	    pt_protect(&src->pt, src->stack_low, src->stack_top - src->stack_low,
		       PT_R | PT_U, PT_PERMS, PT_MISSING_OK) != 0)
		port_panic("aspace_clone: write-protecting the stack failed");
}

int aspace_clone(struct aspace *src, struct aspace *dst)
{
	if (src == NULL || dst == NULL || src == dst)
		return SVMM_EINVAL;
	port_lock(&src->lock);
	port_lock(&dst->lock);
	int err = 0;
	if (dst->nregions != 0 || dst->resident != 0 || dst->anon != NULL ||
	    dst->committed != 0 ||
	    dst->pt.mode != src->pt.mode || dst->user_base != src->user_base ||
	    dst->user_end != src->user_end || dst->stack_base != src->stack_base ||
	    dst->stack_top != src->stack_top) {
		err = SVMM_EINVAL;
		goto out;
	}
	for (struct aspace_region *r = reg_first(src); r != NULL; r = reg_next(src, r)) {
		err = clone_region(dst, r);
		if (err != 0)
			goto fail;
	}
	/* One clone of the anonymous object: pages exist only under regions and the stack. */
	if (src->anon != NULL) {
		err = vmobj_clone(src->anon, 0, src->anon->size, &dst->anon);
		if (err != 0)
			goto fail;
	}
	clone_protect(src);
	dst->stack_limit = src->stack_limit;
	goto out;
fail:
	clone_undo(dst);
out:
	port_unlock(&dst->lock);
	port_unlock(&src->lock);
	return err;
}

/* ---- object mappings, populate, discard ---- */

int aspace_map_obj(struct aspace *as, svmm_va_t hint, uint64_t size, unsigned prot,
		   unsigned flags, struct vmobj *obj, uint64_t off, svmm_va_t *addrp)
{
	int err = check_prot(prot);
	if (err != 0)
		return err;
	if (as == NULL || obj == NULL || addrp == NULL ||
	    (flags & ~(ASPACE_FIXED | ASPACE_SHARED)) != 0 || obj->backing != NULL)
		return SVMM_EINVAL;
	if (size == 0)
		return SVMM_EZEROSIZE;
	if (!SVMM_IS_ALIGNED(size, PAGE) || !SVMM_IS_ALIGNED(off, PAGE))
		return SVMM_EUNALIGNED;
	if (off > obj->size || size > obj->size - off)
		return SVMM_ERANGE;
	err = check_place(as, flags, hint, size);
	if (err != 0)
		return err;
	/* Keep the object's offset modulo 2 MiB, as map_phys keeps pa's. */
	uint64_t align = size >= 2 * SVMM_MiB ? 2 * SVMM_MiB : 0;
	bool shared = (flags & ASPACE_SHARED) != 0;
	struct vmobj *m = obj;
	port_lock(&as->lock);
	/* The region's own reference: obj itself, or a private object over it. */
	err = shared ? vmobj_get(obj) : vmobj_create_cow(obj, off, size, &m);
	if (err != 0)
		goto out;
	struct aspace_region *r;
	err = region_alloc(as, &r);
	if (err != 0) {
		vmobj_put(m);
		goto out;
	}
	err = place(as, r, hint, size, flags & ASPACE_FIXED, align, align ? off & (align - 1) : 0);
	if (err != 0) {
		region_free(as, r);
		vmobj_put(m);
		goto out;
	}
	r->prot = (uint16_t)prot;
	r->kind = ASPACE_OBJ;
	r->obj = m;
	r->off = shared ? off : 0;
	r->shared = shared;
	reg_insert(as, r);
	*addrp = r->node.addr;
out:
	port_unlock(&as->lock);
	return err;
}

/*
 * The regions from the one holding va cover [va, end) without a hole, and none is a
 * phys region: the first of them in *firstp, or SVMM_ENOENT.
 */
static int covered(struct aspace *as, svmm_va_t va, svmm_va_t end,
		   struct aspace_region **firstp)
{
	struct aspace_region *first = first_overlap(as, va, end);
	svmm_va_t at = va;
	for (struct aspace_region *r = first; r != NULL && r->node.addr < end;
	     r = reg_next(as, r)) {
		if (r->node.addr > at || r->kind == ASPACE_PHYS)
			return SVMM_ENOENT;
		at = r_end(r);
	}
	*firstp = first;
	return first == NULL || at < end ? SVMM_ENOENT : 0;
}

int aspace_populate(struct aspace *as, svmm_va_t va, uint64_t size)
{
	int err = check_range(as, va, size);
	if (err != 0)
		return err;
	svmm_va_t end = va + size;
	struct aspace_region *r;
	port_lock(&as->lock);
	err = covered(as, va, end, &r);
	for (svmm_va_t page = va; err == 0 && page < end; page += PAGE) {
		if (page >= r_end(r))
			r = reg_next(as, r);
		uint64_t pte, *slot;
		/* A read fault's worth: new pages come writable where the region allows. */
		if (!leaf_at(as, page, &pte, NULL, &slot))
			err = anon_fault(as, r, page, PT_R, r->prot, 0, slot);
	}
	port_unlock(&as->lock);
	return err;
}

/* The leaves of [va, end) that discard drops, and the commit charges they carry. */
static __attribute__((noinline)) void discard_count(struct aspace *as,
						   struct aspace_region *first, svmm_va_t va,
						   svmm_va_t end, uint64_t *leaves,
						   uint64_t *uncharge)
{
	*leaves = *uncharge = 0;
	for (struct aspace_region *r = first; r != NULL && r->node.addr < end;
	     r = reg_next(as, r)) {
		svmm_va_t a = r->node.addr > va ? r->node.addr : va;
		svmm_va_t e = r_end(r) < end ? r_end(r) : end;
		uint64_t n = 0;
		pt_walk(&as->pt, a, e - a, count_leaf, &n);
		*leaves += n;
		if (r->kind == ASPACE_ANON && !r->commit)
			*uncharge += n;
	}
}

/* After the flush: the private pages of [va, end) go back, and the counts with them. */
static __attribute__((noinline)) void discard_drop(struct aspace *as,
						  struct aspace_region *first, svmm_va_t va,
						  svmm_va_t end, uint64_t leaves,
						  uint64_t uncharge)
{
	for (struct aspace_region *r = first; r != NULL && r->node.addr < end;
	     r = reg_next(as, r))
		drop_pages(r, r->node.addr > va ? r->node.addr : va,
			   r_end(r) < end ? r_end(r) : end);
	objs_unreserve(as, first, end);
	anon_drop(as, va, end - va);
	as->resident -= leaves;
	if (pmem_uncommit(as->pm, uncharge) != 0)
		port_panic("aspace: commit count below what the address space charged");
	as->committed -= uncharge;
}

int aspace_discard(struct aspace *as, svmm_va_t va, uint64_t size)
{
	int err = check_range(as, va, size);
	if (err != 0)
		return err;
	struct aspace_region *first;
	uint64_t leaves, uncharge;
	port_lock(&as->lock);
	err = covered(as, va, va + size, &first);
	if (err == 0)
		err = range_reserve(as, first, va, va + size);
	if (err == 0) {
		discard_count(as, first, va, va + size, &leaves, &uncharge);
		/* All or nothing (a 2 MiB leaf cut in part needs a table). */
		err = pt_unmap(&as->pt, va, size, PT_MISSING_OK);
		if (err == 0)
			discard_drop(as, first, va, va + size, leaves, uncharge);
		else
			range_unreserve(as, first, va + size);
	}
	port_unlock(&as->lock);
	return err;
}

/* ---- switching ---- */

uint64_t aspace_activate(struct aspace *as, unsigned hart, bool *flush_local)
{
	port_lock(&as->lock);
	as->pt.asid = asid_activate(&aspace_asid, &as->asid_ctx, hart, flush_local);
	uint64_t satp = pt_satp(&as->pt);
	port_unlock(&as->lock);
	return satp;
}

int aspace_set_stack_limit(struct aspace *as, uint64_t max)
{
	if (max == 0)
		return SVMM_EZEROSIZE;
	if (!SVMM_IS_ALIGNED(max, PAGE))
		return SVMM_EUNALIGNED;
	if (max > as->stack_top - as->stack_base - as->stack_guard || max > VMOBJ_MAX_SIZE)
		return SVMM_ERANGE;
	int err = 0;
	port_lock(&as->lock);
	if (as->stack_top - max > as->stack_low)
		err = SVMM_EBUSY;
	else
		as->stack_limit = as->stack_top - max;
	port_unlock(&as->lock);
	return err;
}

void aspace_deactivate(struct aspace *as, unsigned hart)
{
	port_lock(&as->lock);
	asid_deactivate(&aspace_asid, as->asid_ctx, hart);
	port_unlock(&as->lock);
}

/* ---- queries ---- */

struct aspace_region *aspace_lookup(struct aspace *as, svmm_va_t va)
{
	if (va < as->user_base || va >= as->user_end)
		return NULL;
	return node_region(vmem_lookup(&as->uvmem, va));
}

struct aspace_region *aspace_region_first(struct aspace *as, svmm_va_t va)
{
	return reg_ceil(as, va);
}

struct aspace_region *aspace_region_next(struct aspace *as, const struct aspace_region *r)
{
	return r == NULL ? NULL : reg_next(as, r);
}

/* ---- copying between the kernel and an address space ---- */

/*
 * May the kernel copy [va, va + n) for an access of type access (PT_W: into, PT_R: out
 * of the address space)? Every byte must lie in a region or the stack that allows
 * the access, and not in device memory. Looks at each region once.
 */
static int copy_check(struct aspace *as, svmm_va_t va, uint64_t n, unsigned access)
{
	svmm_va_t end = va + n;
	for (svmm_va_t at = va; at < end; ) {
		struct aspace_region *r;
		unsigned prot;
		int err = fault_target(as, at, access, &r, &prot);
		if (err == SVMM_ESTACK)
			err = SVMM_EFAULT;
		if (err != 0)
			return err;
		if (r != NULL && r->kind == ASPACE_PHYS && r->ptflags != 0)
			return SVMM_EPERM;
		svmm_va_t stop = r != NULL ? r_end(r) : as->stack_top;
		if (stop >= end)
			break;
		at = stop;
	}
	return 0;
}

/* copy_pages stopped at a page that must be faulted in first (see copy_common). */
#define COPY_FAULT 1

struct copy_fault {
	struct aspace_region *r;
	svmm_va_t page;
	unsigned prot;
	uint32_t present;          /* the size of the leaf there, 0 if none (32 bits: the
				      largest user leaf is 1 GiB) */
};

/*
 * Copy n bytes between kbuf and [va, va + n), checked by copy_check, page by page,
 * until done or until a page needs a fault-in: into the address space an absent or
 * copy-on-write page (demand zero, stack growth, a private copy), out of it an object's
 * absent page (its data may be a file's); an absent anonymous page reads as zeros
 * without taking a frame. Returns 0, or COPY_FAULT with *need set to that page's
 * address and its region and permissions in *rp, *protp; *done is the bytes copied.
 * Out of line, so that its frame is not under the fault's (copy_common).
 */
static __attribute__((noinline)) int copy_pages(struct aspace *as, svmm_va_t va, void *kbuf,
						uint64_t n, bool into, uint64_t *done,
						struct copy_fault *need)
{
	char *k = kbuf;
	uint64_t off = 0;
	int err = 0;
	while (off < n) {
		svmm_va_t at = va + off;
		svmm_va_t page = SVMM_ALIGN_DOWN(at, PAGE);
		uint64_t chunk = PAGE - (at - page);
		if (chunk > n - off)
			chunk = n - off;
		uint64_t pte;
		svmm_pa_t pa;
		uint64_t present = leaf_at(as, at, &pte, &pa, NULL);
		if (!present || (into && !(pte & SVMM_PTE_W))) {
			struct aspace_region *r;
			unsigned prot;
			if (fault_target(as, at, 0, &r, &prot) != 0 ||
			    (r != NULL && r->kind == ASPACE_PHYS))
				port_panic("aspace: a checked copy met a page it cannot fault in");
			if (!present && !into && (r == NULL || r->kind == ASPACE_ANON)) {
				__builtin_memset(k + off, 0, chunk);
				off += chunk;
				continue;
			}
			need->r = r;
			need->page = page;
			need->prot = prot;
			need->present = (uint32_t)present;
			err = COPY_FAULT;
			break;
		}
		bool kmapped;
		char *p = frame_map(as, pa, &kmapped);
		if (into)
			__builtin_memcpy(p + (at - page), k + off, chunk);
		else
			__builtin_memcpy(k + off, p + (at - page), chunk);
		frame_unmap(p, kmapped);
		off += chunk;
	}
	*done = off;
	return err;
}

/*
 * A copy: check the whole range, then copy, faulting pages in as copy_pages meets them.
 * The fault is made from this small frame, not from copy_pages', so that the deepest
 * chain (down to pt_map) stays under the 1 KiB stack bound. Only a fault-in can fail
 * (SVMM_ENOMEM); *done is the number of bytes copied.
 */
static int copy_common(struct aspace *as, svmm_va_t va, void *kbuf, uint64_t n, bool into,
		       uint64_t *done)
{
	if (done != NULL)
		*done = 0;
	if (as == NULL || (kbuf == NULL && n != 0))
		return SVMM_EINVAL;
	if (n == 0)
		return 0;
	if (va + n < va)
		return SVMM_EOVERFLOW;
	port_lock(&as->lock);
	uint64_t off = 0;
	int err = copy_check(as, va, n, into ? PT_W : PT_R);
	while (err == 0 && off < n) {
		struct copy_fault need;
		uint64_t did;
		err = copy_pages(as, va + off, (char *)kbuf + off, n - off, into, &did, &need);
		off += did;
		if (err == COPY_FAULT)
			err = anon_fault(as, need.r, need.page, into ? PT_W : PT_R, need.prot,
					 need.present, NULL);
	}
	if (done != NULL)
		*done = off;
	port_unlock(&as->lock);
	return err;
}

int aspace_copy_to(struct aspace *as, svmm_va_t va, const void *src, uint64_t n,
		   uint64_t *done)
{
	/* copy_pages only reads kbuf when copying into the address space. */
	return copy_common(as, va, (void *)(uintptr_t)src, n, true, done);
}

int aspace_copy_from(struct aspace *as, void *dst, svmm_va_t va, uint64_t n, uint64_t *done)
{
	return copy_common(as, va, dst, n, false, done);
}

void aspace_stats(struct aspace *as, struct aspace_stats *st)
{
	port_lock(&as->lock);
	__builtin_memset(st, 0, sizeof(*st));
	st->regions = as->nregions;
	st->resident = as->resident;
	st->stack_pages = as->stack_pages;
	st->slab_pages = as->slab_pages;
	st->pool_pages = as->pool_pages;
	st->tables = as->pt.tables;
	st->faults = as->faults;
	st->kernel_bytes = as->kernel_bytes;
	st->committed = as->committed;
	for (struct aspace_region *r = reg_first(as); r != NULL; r = reg_next(as, r))
		st->mapped_bytes += r->node.size;
	port_unlock(&as->lock);
}

/* ---- the invariant checker ---- */

struct check_ctx {
	struct aspace *as;
	svmm_print_fn out;
	void *octx;
	int err;
	uint64_t anon, stack, kernel;
	uint64_t charged;               /* frames charged per fault, by the leaf walk */
};

/*
 * Record a broken invariant: the first one is printed as one line that names it
 * ("aspace: <invariant>: at 0x..."), the common shape of every svmm checker.
 */
static void check_fail(struct check_ctx *c, const char *invariant, svmm_va_t va)
{
	if (c->err == 0 && c->out != NULL)
		svmm_printline(c->out, c->octx, "aspace: %s: at 0x%llx", invariant,
			       (unsigned long long)va);
	c->err = SVMM_EINVAL;
}

/*
 * Does one object alone hold the frame at pa (a 4 KiB frame, or the block or frames
 * of a 2 MiB leaf when size says so)? A 4 KiB view of a whole 2 MiB block asks the
 * block's head.
 */
static bool frame_alone(struct pmem *pm, svmm_pa_t pa, uint64_t size)
{
	svmm_pa_t head;
	unsigned order;
	uint32_t refs = 0;
	if (pmem_block(pm, pa, &head, &order, NULL) != 0)
		return false;
	if (size != PAGE && (head != pa || order != 9))
		return false;        /* a split 2 MiB page is only ever mapped read-only */
	return pmem_refs(pm, head, &refs) == 0 && refs == 1;
}

static int check_leaf(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	struct check_ctx *c = ctx;
	struct aspace *as = c->as;
	struct aspace_region *r = NULL;
	unsigned prot;
	if ((pte & SVMM_PTE_G) != 0)
		check_fail(c, "no leaf of the user half is global", va);
	if ((pte & SVMM_PTE_U) == 0) {
		if (check_kernel_range(as, va, size) != 0)
			check_fail(c, "kernel pages lie outside the regions and the stack slot", va);
		c->kernel += size;
		return 0;
	}
	if (va < as->user_base || va >= as->user_end) {
		prot = PT_R | PT_W;
		if (va < as->stack_limit || va + size > as->stack_top || va < as->stack_low)
			check_fail(c, "every user leaf lies in a region or the stack", va);
		c->stack += size / PAGE;
		c->charged += size / PAGE;
	} else {
		r = aspace_lookup(as, va);
		if (r == NULL || va + size > r_end(r)) {
			check_fail(c, "every user leaf lies in a region or the stack", va);
			return 0;
		}
		prot = r->prot;
		if (r->kind == ASPACE_PHYS) {
			if (pa != r->pa + (va - r->node.addr))
				check_fail(c, "a phys region maps its own frames", va);
			if ((pte & (SVMM_PTE_R | SVMM_PTE_W | SVMM_PTE_X)) != prot)
				check_fail(c, "leaves have their region's permissions", va);
			return 0;
		}
		c->anon += size / PAGE;
		c->charged += r->kind == ASPACE_ANON && !r->commit ? size / PAGE : 0;
	}
	/* Anonymous leaves: the region's permissions, W only where it may be written. */
	unsigned bits = (unsigned)(pte & (SVMM_PTE_R | SVMM_PTE_W | SVMM_PTE_X));
	if ((bits & ~PT_W) != (prot & ~PT_W) || (bits & ~prot) != 0)
		check_fail(c, "leaves have their region's permissions (anonymous: W may be off)",
			   va);
	if (size != PAGE && (size != HUGE_SIZE || !SVMM_IS_ALIGNED(va | pa, HUGE_SIZE) ||
			     r == NULL || r->kind != ASPACE_ANON)) {
		check_fail(c, "anonymous leaves are 4 KiB, or aligned 2 MiB in anonymous regions",
			   va);
		return 0;
	}
	/* The leaf caches its object's page; a writable one maps a frame no one else holds. */
	uint64_t off, osize;
	struct vmobj **slot = anon_slot(as, r, va, &off, &osize);
	struct vmobj_page pg;
	bool own = *slot != NULL && vmobj_lookup(*slot, off, &pg) == 0;
	/* A copy-on-write object's missing page reads through to its backing object. */
	if (!own && *slot != NULL && (*slot)->backing != NULL &&
	    vmobj_lookup((*slot)->backing, off + (*slot)->backing_off, &pg) == 0 && !(bits & PT_W))
		own = true;
	if (!own || pg.pa != pa)
		check_fail(c, "an anonymous leaf maps its object's page at its offset", va);
	else if ((bits & PT_W) && (!frame_alone(as->pm, pa, size) || !pg.writable))
		check_fail(c, "a writable anonymous leaf maps a frame no other object holds", va);
	return 0;
}

/*
 * Everything aspace_check verifies but the other modules' checkers (uvmem's, the page
 * tables', the objects'), which it calls from its small frame: this one's frame is
 * large, and their recursion would go on top of it, past the 1 KiB stack bound. Called
 * with the lock held.
 */
static __attribute__((noinline)) int check_locked(struct aspace *as, svmm_print_fn out,
						  void *ctx)
{
	struct check_ctx c = { as, out, ctx, 0, 0, 0, 0, 0 };
	/* The regions: sorted, disjoint, inside uvmem, each its own uvmem node. */
	uint64_t n = 0, map_charged = 0;
	svmm_va_t prev_end = as->user_base;
	for (struct aspace_region *r = reg_first(as); r != NULL; r = reg_next(as, r), n++) {
		if (r->node.addr < prev_end || r_end(r) > as->user_end || r->node.size == 0 ||
		    !SVMM_IS_ALIGNED(r->node.addr | r->node.size, PAGE))
			check_fail(&c, "regions are sorted, disjoint, page aligned and inside uvmem",
				   r->node.addr);
		if (aspace_lookup(as, r->node.addr) != r ||
		    aspace_lookup(as, r_end(r) - 1) != r)
			check_fail(&c, "a uvmem lookup of a region's first and last byte finds it",
				   r->node.addr);
		if (check_prot(r->prot) != 0 ||
		    (r->kind != ASPACE_ANON && r->kind != ASPACE_PHYS && r->kind != ASPACE_OBJ) ||
		    (r->kind == ASPACE_OBJ) != (r->obj != NULL) ||
		    (r->obj != NULL && r->off + r->node.size > r->obj->size))
			check_fail(&c, "region permissions and kind are valid, an object region's "
				   "object covers it", r->node.addr);
		if (r->commit && r->kind != ASPACE_ANON)
			check_fail(&c, "only anonymous regions are charged at map time", r->node.addr);
		map_charged += r->commit ? r->node.size / PAGE : 0;
		prev_end = r_end(r);
	}
	if (n != as->nregions)
		check_fail(&c, "nregions counts the regions", n);
	const char *why = reg_check(as);
	if (why != NULL)
		check_fail(&c, why, 0);
	/* Region structs: the slabs hold exactly the live regions. */
	uint64_t used = 0, slabs = 0;
	for (struct aspace_slab *s = as->slabs; s != NULL; s = s->next, slabs++) {
		used += s->used;
		if (s->used == 0 || s->used > s->fresh || s->fresh > SLAB_REGIONS)
			check_fail(&c, "each slab page holds at least one region and at most those it handed out",
				   slabs);
	}
	for (unsigned i = 0; i < ASPACE_INLINE_REGIONS; i++)
		used += (as->inl_used >> i) & 1u;
	if (used != as->nregions || slabs != as->slab_pages ||
	    (as->inl_used >> ASPACE_INLINE_REGIONS) != 0)
		check_fail(&c, "the slabs and the inline structs hold exactly the live regions, in slab_pages pages", used);
	/* Every user leaf, against the regions and the stack. */
	pt_walk(&as->pt, 0, svmm_user_end(as->pt.mode), check_leaf, &c);
	if (c.anon + c.stack != as->resident || c.stack != as->stack_pages)
		check_fail(&c, "resident and stack_pages count the anonymous leaves", c.anon + c.stack);
	if (map_charged + c.charged != as->committed)
		check_fail(&c, "committed is the charged regions' pages plus the other anonymous "
			   "and stack leaves", map_charged + c.charged);
	if (c.kernel != as->kernel_bytes)
		check_fail(&c, "kernel_bytes counts the kernel pages", c.kernel);
	return c.err;
}

int aspace_check(struct aspace *as, svmm_print_fn out, void *ctx)
{
	if (as == NULL)
		return SVMM_EINVAL;
	port_lock(&as->lock);
	int err = 0;
	if (vmem_check(&as->uvmem, out, ctx) != 0) {
		if (out != NULL)
			svmm_printline(out, ctx, "aspace: uvmem passes vmem_check: at 0x%llx",
				       (unsigned long long)as->user_base);
		err = SVMM_EINVAL;
	} else if (pt_check(&as->pt, out, ctx) != 0) {
		if (out != NULL)
			svmm_printline(out, ctx, "aspace: the page tables pass pt_check: at 0x0");
		err = SVMM_EINVAL;
	} else {
		err = check_locked(as, out, ctx);
	}
	/* Every object a region maps, and the anonymous object, pass their own checker. */
	for (struct aspace_region *r = reg_first(as); err == 0 && r != NULL; r = reg_next(as, r)) {
		if (r->obj != NULL && vmobj_check(r->obj, out, ctx) != 0) {
			if (out != NULL)
				svmm_printline(out, ctx, "aspace: an object region's object passes "
					       "vmobj_check: at 0x%llx", (unsigned long long)r->node.addr);
			err = SVMM_EINVAL;
		}
	}
	if (err == 0 && as->anon != NULL && vmobj_check(as->anon, out, ctx) != 0) {
		if (out != NULL)
			svmm_printline(out, ctx, "aspace: the anonymous object passes vmobj_check: at 0x0");
		err = SVMM_EINVAL;
	}
	port_unlock(&as->lock);
	return err;
}

void aspace_dump(struct aspace *as, svmm_print_fn out, void *ctx)
{
	static const char *const kinds[] = { "?", "anon", "phys", "obj" };
	port_lock(&as->lock);
	svmm_printline(out, ctx, "aspace: %llu regions, %llu resident pages, satp 0x%llx",
		       (unsigned long long)as->nregions, (unsigned long long)as->resident,
		       (unsigned long long)pt_satp(&as->pt));
	for (struct aspace_region *r = reg_first(as); r != NULL; r = reg_next(as, r)) {
		char sz[16];
		svmm_fmt_size(sz, sizeof(sz), r->node.size);
		svmm_printline(out, ctx, "  0x%llx-0x%llx %6s %c%c%c %s", (unsigned long long)r->node.addr,
			       (unsigned long long)r_end(r), sz, (r->prot & PT_R) ? 'r' : '-',
			       (r->prot & PT_W) ? 'w' : '-', (r->prot & PT_X) ? 'x' : '-',
			       kinds[r->kind <= 3 ? r->kind : 0]);
	}
	svmm_printline(out, ctx, "  stack 0x%llx-0x%llx, %llu pages, limit 0x%llx",
		       (unsigned long long)as->stack_low, (unsigned long long)as->stack_top,
		       (unsigned long long)as->stack_pages,
		       (unsigned long long)as->stack_limit);
	port_unlock(&as->lock);
}
