/*
 * pmem.c - the physical frame allocator: a binary buddy allocator with a frame
 * database (see include/svmm/pmem.h for the contract and docs/pmem.md for the theory).
 *
 * The shape of the data, in one paragraph: RAM is cut into spans; each span has an
 * array of 16-byte entries, one per frame, and a free list per order. The span is
 * tiled by blocks: every frame belongs to exactly one block of 2^k frames, aligned to
 * 2^k in physical frame numbers, whose first entry (the head) carries the state and
 * order and whose other entries are PMEM_TAIL. Free blocks are chained by index
 * through their heads. Because tails are always PMEM_TAIL, the head of the block
 * holding any frame can be found by looking at no more than PMEM_NR_ORDERS entries,
 * which is how bad frees are told apart from good ones.
 */
#include <svmm/pmem.h>

_Static_assert(sizeof(struct pmem_frame) == 16, "a frame database entry is 16 bytes");
_Static_assert(PMEM_MAX_ORDER < 31, "orders must fit the free mask");

#define FRAME_SHIFT SVMM_PAGE_SHIFT
/* Spans stay under 2^31 frames (8 TiB) so that indices and PMEM_NIL fit 32 bits. */
#define SPAN_MAX_FRAMES ((uint64_t)1 << 31)

static inline uint64_t bsize(unsigned order)
{
	return (uint64_t)1 << order;
}

/* ---- free lists ---- */

/* Make idx the head of a free block of this order and put it first on its list. */
static void list_push(struct pmem_span *s, uint32_t idx, unsigned order)
{
	struct pmem_frame *f = &s->db[idx];
	uint32_t h = s->head[order];

	f->u.link.next = h;
	f->u.link.prev = PMEM_NIL;
	f->refcnt = 0;
	f->state = PMEM_FREE;
	f->order = (uint8_t)order;
	f->flags = 0;
	if (h != PMEM_NIL)
		s->db[h].u.link.prev = idx;
	s->head[order] = idx;
	s->nfree[order]++;
	s->free_mask |= 1u << order;
}

/* Take the free block at idx off the list of its order. */
static void list_unlink(struct pmem_span *s, uint32_t idx, unsigned order)
{
	struct pmem_frame *f = &s->db[idx];
	uint32_t n = f->u.link.next, p = f->u.link.prev;

	if (p != PMEM_NIL)
		s->db[p].u.link.next = n;
	else
		s->head[order] = n;
	if (n != PMEM_NIL)
		s->db[n].u.link.prev = p;
	if (--s->nfree[order] == 0)
		s->free_mask &= ~(1u << order);
}

/* ---- lookup ---- */

/*
 * The span holding pa, or NULL. The section table gives the first span that can hold
 * pa; the loop only steps past spans that end earlier inside the same section.
 */
static struct pmem_span *span_find(struct pmem *pm, svmm_pa_t pa)
{
	if (pa < pm->lo || pa >= pm->hi)
		return NULL;
	unsigned i = pm->sect[(pa - pm->lo) >> pm->sect_shift];
	while (i < pm->nspans && pa >= pm->span[i].end)
		i++;
	if (i == pm->nspans || pa < pm->span[i].base)
		return NULL;
	return &pm->span[i];
}

/* The first span that ends after section sec begins, as span_find expects. */
static unsigned sect_first(const struct pmem *pm, unsigned sec)
{
	svmm_pa_t start = pm->lo + ((svmm_pa_t)sec << pm->sect_shift);
	unsigned i = 0;
	while (i < pm->nspans && pm->span[i].end <= start)
		i++;
	return i;
}

/*
 * The head of the block holding frame idx. The head is the nearest non-tail entry at
 * an alignment of 2^k below idx for the smallest such k, since every frame between a
 * head and the end of its block is a tail. Returns PMEM_NIL only if the tiling is
 * broken.
 */
static uint32_t span_head_of(const struct pmem_span *s, uint32_t idx)
{
	uint64_t pfn = s->base_pfn + idx;

	for (unsigned k = 0; k <= PMEM_MAX_ORDER; k++) {
		uint64_t hp = pfn & ~(bsize(k) - 1);
		if (hp < s->base_pfn)
			break;
		uint32_t h = (uint32_t)(hp - s->base_pfn);
		const struct pmem_frame *f = &s->db[h];
		if (f->state != PMEM_TAIL)
			return (uint64_t)h + bsize(f->order) > idx ? h : PMEM_NIL;
	}
	return PMEM_NIL;
}

/*
 * Check pa and find its span and frame index. Returns 0, SVMM_EUNALIGNED or
 * SVMM_ERANGE.
 */
static int frame_locate(struct pmem *pm, svmm_pa_t pa, struct pmem_span **sp, uint32_t *idxp)
{
	if (!SVMM_IS_ALIGNED(pa, SVMM_PAGE_SIZE))
		return SVMM_EUNALIGNED;
	struct pmem_span *s = span_find(pm, pa);
	if (s == NULL)
		return SVMM_ERANGE;
	*sp = s;
	*idxp = (uint32_t)((pa - s->base) >> FRAME_SHIFT);
	return 0;
}

/*
 * The state of the block holding frame idx, for error reports about a frame that is
 * not the head of an allocated block.
 */
static enum pmem_state block_state(const struct pmem_span *s, uint32_t idx)
{
	uint32_t h = span_head_of(s, idx);
	if (h == PMEM_NIL)
		port_panic("pmem: frame database tiling is broken");
	return (enum pmem_state)s->db[h].state;
}

/* ---- blocks ---- */

/* The largest order of a naturally aligned block at pfn that fits in n >= 1 frames. */
static unsigned fit_order(uint64_t pfn, uint64_t n)
{
	unsigned k = 0;
	while (k < PMEM_MAX_ORDER && (pfn & bsize(k)) == 0 && bsize(k + 1) <= n)
		k++;
	return k;
}

/*
 * Tile frames [from, to) of a span with maximal aligned blocks in state st. Entries
 * must be zero (PMEM_TAIL) already. Free blocks go on the free lists.
 */
static void span_tile(struct pmem_span *s, uint64_t from, uint64_t to, enum pmem_state st)
{
	while (from < to) {
		unsigned k = fit_order(s->base_pfn + from, to - from);
		if (st == PMEM_FREE) {
			list_push(s, (uint32_t)from, k);
			s->free_frames += bsize(k);
		} else {
			s->db[from].state = (uint8_t)st;
			s->db[from].order = (uint8_t)k;
			if (st == PMEM_RESERVED)
				s->reserved_frames += bsize(k);
			else
				s->meta_frames += bsize(k);
		}
		from += bsize(k);
	}
}

/* Take free block idx of order j off its list and split it down to order k. */
static void span_take(struct pmem_span *s, uint32_t idx, unsigned j, unsigned k)
{
	list_unlink(s, idx, j);
	/* Keep the lower half and give back the upper one at each level. */
	while (j > k) {
		j--;
		list_push(s, idx + (uint32_t)bsize(j), j);
	}
	struct pmem_frame *f = &s->db[idx];
	f->u.owner = 0;
	f->refcnt = 1;
	f->state = PMEM_ALLOC;
	f->order = (uint8_t)k;
	f->flags = 0;
	s->free_frames -= bsize(k);
}

/* Return allocated block idx of this order, merging with free buddies completely. */
static void span_release(struct pmem_span *s, uint32_t idx, unsigned order)
{
	uint64_t pfn = s->base_pfn + idx;

	s->free_frames += bsize(order);
	while (order < PMEM_MAX_ORDER) {
		uint64_t bpfn = pfn ^ bsize(order);
		if (bpfn < s->base_pfn || bpfn - s->base_pfn + bsize(order) > s->nframes)
			break;
		uint32_t bidx = (uint32_t)(bpfn - s->base_pfn);
		struct pmem_frame *b = &s->db[bidx];
		if (b->state != PMEM_FREE || b->order != order)
			break;
		list_unlink(s, bidx, order);
		/* The upper head of the pair becomes a tail of the merged block. */
		uint64_t upper = (bpfn > pfn ? bpfn : pfn) - s->base_pfn;
		struct pmem_frame zero = { .u.owner = 0 };
		s->db[upper] = zero;
		pfn &= ~bsize(order);
		order++;
	}
	list_push(s, (uint32_t)(pfn - s->base_pfn), order);
}

/*
 * A free block of at least this order lying wholly below limit, in a span that
 * straddles the limit. The lists are unordered, so this walks them: it only happens
 * for limits other than the meta_limit the spans were cut at.
 */
static bool span_scan(const struct pmem_span *s, unsigned order, svmm_pa_t limit,
		      unsigned *jp, uint32_t *idxp)
{
	uint64_t bytes = bsize(order) << FRAME_SHIFT;

	for (unsigned j = order; j <= PMEM_MAX_ORDER; j++) {
		uint32_t seen = 0;
		for (uint32_t i = s->head[j]; i != PMEM_NIL && seen < s->nfree[j];
		     i = s->db[i].u.link.next, seen++) {
			svmm_pa_t pa = s->base + ((uint64_t)i << FRAME_SHIFT);
			/* A larger block qualifies if its lowest 2^order frames do:
			   splitting keeps the lowest part. */
			if (pa + bytes <= limit) {
				*jp = j;
				*idxp = i;
				return true;
			}
		}
	}
	return false;
}

/* ---- init ---- */

/*
 * An interval [base, end) used while planning init. Bases are frame aligned, so bit 0
 * of base is free to mark the database's own intervals (IV_META) among the reserved
 * ones; that keeps the planning arrays, which live on the boot stack, at 16 bytes an
 * entry.
 */
struct pmem_iv {
	svmm_pa_t base, end;
};
#define IV_META ((svmm_pa_t)1)

static inline svmm_pa_t iv_base(const struct pmem_iv *iv)
{
	return iv->base & ~IV_META;
}

/* Insert iv into the array a[0..*n), kept sorted by base. */
static void iv_insert(struct pmem_iv *a, unsigned *n, struct pmem_iv iv)
{
	unsigned i = *n;
	while (i > 0 && iv_base(&a[i - 1]) > iv_base(&iv)) {
		a[i] = a[i - 1];
		i--;
	}
	a[i] = iv;
	(*n)++;
}

/*
 * The smallest gap of at least need bytes in [lo, hi) between the sorted excluded
 * intervals ex[], lowest first among equals. Best fit keeps large runs intact for
 * huge blocks and tends to put the database beside what is already reserved.
 */
static bool gap_fit(const struct pmem_iv *ex, unsigned nex, svmm_pa_t lo, svmm_pa_t hi, uint64_t need,
		    svmm_pa_t *best, uint64_t *best_len)
{
	bool found = false;
	svmm_pa_t cur = lo;

	for (unsigned i = 0; i <= nex; i++) {
		svmm_pa_t gap_end = hi;
		if (i < nex) {
			if (ex[i].end <= cur)
				continue;
			if (iv_base(&ex[i]) < hi)
				gap_end = iv_base(&ex[i]);
		}
		if (gap_end > cur && gap_end - cur >= need && gap_end - cur < *best_len) {
			*best = cur;
			*best_len = gap_end - cur;
			found = true;
		}
		if (i == nex || ex[i].end >= hi)
			break;
		cur = ex[i].end;
	}
	return found;
}

int pmem_init(struct pmem *pm, const struct pmem_range *ram, unsigned nram,
	      const struct pmem_range *res, unsigned nres, svmm_pa_t meta_limit)
{
	struct pmem_iv r[PMEM_MAX_RANGES];
	struct pmem_iv ex[PMEM_MAX_RESERVED + PMEM_MAX_SPANS];
	struct pmem_iv sp[PMEM_MAX_SPANS];
	svmm_pa_t dbpa[PMEM_MAX_SPANS];
	unsigned nr = 0, nex = 0, nsp = 0;

	if (pm == NULL || ram == NULL || nram == 0 || nram > PMEM_MAX_RANGES ||
	    (nres > 0 && res == NULL) || nres > PMEM_MAX_RESERVED)
		return SVMM_EINVAL;

	/* RAM: each range must be whole frames; then sorted, disjoint, touching joined. */
	for (unsigned i = 0; i < nram; i++) {
		if (ram[i].size == 0)
			return SVMM_EZEROSIZE;
		if (!SVMM_IS_ALIGNED(ram[i].base, SVMM_PAGE_SIZE) ||
		    !SVMM_IS_ALIGNED(ram[i].size, SVMM_PAGE_SIZE))
			return SVMM_EUNALIGNED;
		if (ram[i].base + ram[i].size <= ram[i].base)
			return SVMM_EOVERFLOW;
		struct pmem_iv iv = { ram[i].base, ram[i].base + ram[i].size };
		iv_insert(r, &nr, iv);
	}
	unsigned m = 0;
	for (unsigned i = 0; i < nr; i++) {
		if (m > 0 && r[i].base < r[m - 1].end)
			return SVMM_EOVERLAP;
		if (m > 0 && r[i].base == r[m - 1].end)
			r[m - 1].end = r[i].end;
		else
			r[m++] = r[i];
	}
	nr = m;

	/* Reserved: rounded outwards to frames, sorted, overlapping ones joined. */
	for (unsigned i = 0; i < nres; i++) {
		if (res[i].size == 0)
			return SVMM_EZEROSIZE;
		svmm_pa_t end = res[i].base + res[i].size;
		if (end < res[i].base)
			return SVMM_EOVERFLOW;
		svmm_pa_t b = SVMM_ALIGN_DOWN(res[i].base, SVMM_PAGE_SIZE);
		svmm_pa_t e = SVMM_ALIGN_UP(end, SVMM_PAGE_SIZE);
		if (e < end)
			return SVMM_EOVERFLOW;
		struct pmem_iv iv = { b, e };
		iv_insert(ex, &nex, iv);
	}
	m = 0;
	for (unsigned i = 0; i < nex; i++) {
		if (m > 0 && ex[i].base <= ex[m - 1].end) {
			if (ex[i].end > ex[m - 1].end)
				ex[m - 1].end = ex[i].end;
		} else {
			ex[m++] = ex[i];
		}
	}
	nex = m;

	/* Spans: RAM cut at the direct-map limit and into pieces of at most 2^31 frames. */
	svmm_pa_t ml = meta_limit == PMEM_ANY ? PMEM_ANY : SVMM_ALIGN_DOWN(meta_limit, SVMM_PAGE_SIZE);
	for (unsigned i = 0; i < nr; i++) {
		svmm_pa_t b = r[i].base, e = r[i].end;
		while (b < e) {
			svmm_pa_t c = e;
			if (b < ml && ml < c)
				c = ml;
			if ((c - b) >> FRAME_SHIFT >= SPAN_MAX_FRAMES)
				c = SVMM_ALIGN_DOWN(b + ((SPAN_MAX_FRAMES - 1) << FRAME_SHIFT),
						    SVMM_GiB);
			if (nsp == PMEM_MAX_SPANS)
				return SVMM_EINVAL;
			struct pmem_iv iv = { b, c };
			sp[nsp++] = iv;
			b = c;
		}
	}

	/*
	 * Plan where each span's database goes: the best-fitting free gap below the
	 * limit in the span itself, else in any other span. Nothing is written until
	 * every span has a place, so failure leaves no trace.
	 */
	for (unsigned i = 0; i < nsp; i++) {
		uint64_t need = SVMM_ALIGN_UP(((sp[i].end - sp[i].base) >> FRAME_SHIFT) *
					      sizeof(struct pmem_frame), SVMM_PAGE_SIZE);
		svmm_pa_t best = 0;
		uint64_t best_len = ~(uint64_t)0;
		bool found = false;
		if (sp[i].base < ml)
			found = gap_fit(ex, nex, sp[i].base, sp[i].end < ml ? sp[i].end : ml,
					need, &best, &best_len);
		for (unsigned j = 0; !found && j < nsp; j++) {
			if (j == i || sp[j].base >= ml)
				continue;
			found = gap_fit(ex, nex, sp[j].base, sp[j].end < ml ? sp[j].end : ml,
					need, &best, &best_len);
		}
		if (!found)
			return SVMM_ENOMEM;
		dbpa[i] = best;
		struct pmem_iv iv = { best | IV_META, best + need };
		iv_insert(ex, &nex, iv);
	}

	/* Commit. */
	__builtin_memset(pm, 0, sizeof(*pm));
	pm->nspans = nsp;
	pm->meta_limit = ml;
	for (unsigned i = 0; i < nsp; i++) {
		struct pmem_span *s = &pm->span[i];
		s->base = sp[i].base;
		s->end = sp[i].end;
		s->base_pfn = s->base >> FRAME_SHIFT;
		s->nframes = (uint32_t)((s->end - s->base) >> FRAME_SHIFT);
		s->db_pa = dbpa[i];
		s->db_bytes = SVMM_ALIGN_UP((uint64_t)s->nframes * sizeof(struct pmem_frame),
					    SVMM_PAGE_SIZE);
		s->db = port_pa_to_va(s->db_pa);
		for (unsigned k = 0; k < PMEM_NR_ORDERS; k++)
			s->head[k] = PMEM_NIL;
		pm->total_frames += s->nframes;
	}
	/* Sections: the smallest power of two that covers [lo, hi) in PMEM_SECTIONS. */
	pm->lo = sp[0].base;
	pm->hi = sp[nsp - 1].end;
	pm->sect_shift = FRAME_SHIFT;
	while (((pm->hi - pm->lo - 1) >> pm->sect_shift) >= PMEM_SECTIONS)
		pm->sect_shift++;
	for (unsigned i = 0; i < PMEM_SECTIONS; i++)
		pm->sect[i] = (uint8_t)sect_first(pm, i);
	for (unsigned i = 0; i < nsp; i++) {
		struct pmem_span *s = &pm->span[i];
		/* Zero means PMEM_TAIL: only block heads are written below. */
		__builtin_memset(s->db, 0, (size_t)s->nframes * sizeof(struct pmem_frame));
		uint64_t cur = 0;
		for (unsigned j = 0; j < nex; j++) {
			svmm_pa_t b = iv_base(&ex[j]) > s->base ? iv_base(&ex[j]) : s->base;
			svmm_pa_t e = ex[j].end < s->end ? ex[j].end : s->end;
			if (b >= e)
				continue;
			uint64_t bi = (b - s->base) >> FRAME_SHIFT;
			uint64_t ei = (e - s->base) >> FRAME_SHIFT;
			span_tile(s, cur, bi, PMEM_FREE);
			span_tile(s, bi, ei, (ex[j].base & IV_META) ? PMEM_META : PMEM_RESERVED);
			cur = ei;
		}
		span_tile(s, cur, s->nframes, PMEM_FREE);
	}
	return 0;
}

void pmem_remap(struct pmem *pm)
{
	port_lock(&pm->lock);
	for (unsigned i = 0; i < pm->nspans; i++)
		pm->span[i].db = port_pa_to_va(pm->span[i].db_pa);
	port_unlock(&pm->lock);
}

/* ---- allocation ---- */

/*
 * Choose where an allocation comes from. Spans fall in two classes: those above the
 * direct-map window (only PMEM_ANY requests can use them) and those inside it. The
 * class above is tried first, so user pages leave direct-mapped memory to page tables
 * and metadata. Within a class the span whose smallest fitting free block is smallest
 * wins, the highest span among equals: a single frame is then cut from an existing
 * fragment anywhere in the class before a gigabyte block is split for it.
 */
static bool alloc_pick(struct pmem *pm, unsigned order, svmm_pa_t limit, struct pmem_span **sp,
		       unsigned *jp, uint32_t *idxp)
{
	uint64_t bytes = bsize(order) << FRAME_SHIFT;
	unsigned best_j = PMEM_NR_ORDERS;

	for (int above = 1; above >= 0; above--) {
		for (unsigned i = pm->nspans; i-- > 0;) {
			struct pmem_span *s = &pm->span[i];
			if ((s->base >= pm->meta_limit) != (above != 0))
				continue;
			if (s->base >= limit || limit - s->base < bytes)
				continue;
			uint32_t mask = s->free_mask >> order;
			if (mask == 0)
				continue;
			unsigned j = order;
			uint32_t idx;
			if (s->end <= limit) {
				while ((mask & 1u) == 0) {
					mask >>= 1;
					j++;
				}
				idx = s->head[j];
			} else if (!span_scan(s, order, limit, &j, &idx)) {
				continue;
			}
			if (j < best_j) {
				best_j = j;
				*sp = s;
				*jp = j;
				*idxp = idx;
				if (j == order)
					return true;    /* an exact fit: nothing is better */
			}
		}
		if (best_j != PMEM_NR_ORDERS)
			return true;
	}
	return false;
}

int pmem_alloc(struct pmem *pm, unsigned order, svmm_pa_t limit, svmm_pa_t *pa)
{
	struct pmem_span *s;
	unsigned j;
	uint32_t idx;

	if (pa == NULL)
		return SVMM_EINVAL;
	if (order > PMEM_MAX_ORDER)
		return SVMM_EORDER;
	port_lock(&pm->lock);
	if (!alloc_pick(pm, order, limit, &s, &j, &idx)) {
		port_unlock(&pm->lock);
		return SVMM_ENOMEM;
	}
	span_take(s, idx, j, order);
	*pa = s->base + ((uint64_t)idx << FRAME_SHIFT);
	port_unlock(&pm->lock);
	return 0;
}

int pmem_free(struct pmem *pm, svmm_pa_t pa, unsigned order)
{
	struct pmem_span *s;
	uint32_t idx;

	if (!SVMM_IS_ALIGNED(pa, SVMM_PAGE_SIZE))
		return SVMM_EUNALIGNED;
	if (order > PMEM_MAX_ORDER)
		return SVMM_EORDER;
	port_lock(&pm->lock);
	int err = frame_locate(pm, pa, &s, &idx);
	if (err == 0) {
		struct pmem_frame *f = &s->db[idx];
		switch (f->state) {
		case PMEM_ALLOC:
			if (f->order != order)
				err = SVMM_EORDER;
			else if (f->refcnt != 1)
				err = SVMM_EBUSY;
			else
				span_release(s, idx, order);
			break;
		case PMEM_FREE:
			err = SVMM_EDOUBLEFREE;
			break;
		case PMEM_RESERVED:
		case PMEM_META:
			err = SVMM_ERESERVED;
			break;
		default:
			switch (block_state(s, idx)) {
			case PMEM_FREE:
				err = SVMM_EDOUBLEFREE;
				break;
			case PMEM_RESERVED:
			case PMEM_META:
				err = SVMM_ERESERVED;
				break;
			default:
				err = SVMM_ENOTALLOC;
				break;
			}
		}
	}
	port_unlock(&pm->lock);
	return err;
}

/* Common part of get and put: the allocated head at pa, or the right error. */
static int alloc_head(struct pmem *pm, svmm_pa_t pa, bool for_put, struct pmem_span **sp,
		      uint32_t *idxp)
{
	int err = frame_locate(pm, pa, sp, idxp);
	if (err != 0)
		return err;
	struct pmem_span *s = *sp;
	const struct pmem_frame *f = &s->db[*idxp];
	enum pmem_state st = (enum pmem_state)f->state;
	if (st == PMEM_ALLOC)
		return 0;
	if (st == PMEM_TAIL)
		st = block_state(s, *idxp);
	if (st == PMEM_RESERVED || st == PMEM_META)
		return SVMM_ERESERVED;
	/* A put on a free frame is one put too many: the count would go below zero. */
	if (st == PMEM_FREE && for_put)
		return SVMM_EREFCNT;
	return SVMM_ENOTALLOC;
}

int pmem_get(struct pmem *pm, svmm_pa_t pa)
{
	struct pmem_span *s;
	uint32_t idx;

	port_lock(&pm->lock);
	int err = alloc_head(pm, pa, false, &s, &idx);
	if (err == 0) {
		struct pmem_frame *f = &s->db[idx];
		if (f->refcnt == UINT32_MAX)
			err = SVMM_EREFCNT;
		else
			f->refcnt++;
	}
	port_unlock(&pm->lock);
	return err;
}

int pmem_put(struct pmem *pm, svmm_pa_t pa)
{
	struct pmem_span *s;
	uint32_t idx;

	port_lock(&pm->lock);
	int err = alloc_head(pm, pa, true, &s, &idx);
	if (err == 0) {
		struct pmem_frame *f = &s->db[idx];
		if (f->refcnt == 0)
			port_panic("pmem: allocated block with no reference");
		if (--f->refcnt == 0)
			span_release(s, idx, f->order);
	}
	port_unlock(&pm->lock);
	return err;
}

/* ---- queries ---- */

struct pmem_frame *pmem_frame(struct pmem *pm, svmm_pa_t pa)
{
	struct pmem_span *s = span_find(pm, pa);
	if (s == NULL)
		return NULL;
	return &s->db[(pa - s->base) >> FRAME_SHIFT];
}

int pmem_block(struct pmem *pm, svmm_pa_t pa, svmm_pa_t *head, unsigned *order, enum pmem_state *state)
{
	port_lock(&pm->lock);
	struct pmem_span *s = span_find(pm, pa);
	if (s == NULL) {
		port_unlock(&pm->lock);
		return SVMM_ERANGE;
	}
	uint32_t h = span_head_of(s, (uint32_t)((pa - s->base) >> FRAME_SHIFT));
	if (h == PMEM_NIL)
		port_panic("pmem: frame database tiling is broken");
	if (head != NULL)
		*head = s->base + ((uint64_t)h << FRAME_SHIFT);
	if (order != NULL)
		*order = s->db[h].order;
	if (state != NULL)
		*state = (enum pmem_state)s->db[h].state;
	port_unlock(&pm->lock);
	return 0;
}

uint64_t pmem_free_frames(struct pmem *pm)
{
	uint64_t n = 0;
	port_lock(&pm->lock);
	for (unsigned i = 0; i < pm->nspans; i++)
		n += pm->span[i].free_frames;
	port_unlock(&pm->lock);
	return n;
}

void pmem_stats(struct pmem *pm, struct pmem_stats *st)
{
	__builtin_memset(st, 0, sizeof(*st));
	port_lock(&pm->lock);
	st->nspans = pm->nspans;
	st->total_frames = pm->total_frames;
	st->db_bytes_per_frame = sizeof(struct pmem_frame);
	for (unsigned i = 0; i < pm->nspans; i++) {
		const struct pmem_span *s = &pm->span[i];
		struct pmem_span_stats *ss = &st->span[i];
		ss->base = s->base;
		ss->end = s->end;
		ss->db_pa = s->db_pa;
		ss->db_bytes = s->db_bytes;
		ss->frames = s->nframes;
		ss->free_frames = s->free_frames;
		ss->reserved_frames = s->reserved_frames;
		ss->meta_frames = s->meta_frames;
		ss->alloc_frames = s->nframes - s->free_frames - s->reserved_frames -
				   s->meta_frames;
		for (unsigned k = 0; k < PMEM_NR_ORDERS; k++) {
			ss->free_blocks[k] = s->nfree[k];
			st->free_blocks[k] += s->nfree[k];
		}
		st->free_frames += ss->free_frames;
		st->reserved_frames += ss->reserved_frames;
		st->meta_frames += ss->meta_frames;
		st->alloc_frames += ss->alloc_frames;
	}
	port_unlock(&pm->lock);
}

/* ---- consistency ---- */

#define CHECK(cond, ...)                                          \
	do {                                                      \
		if (!(cond)) {                                    \
			if (out != NULL)                          \
				svmm_printline(out, ctx, __VA_ARGS__); \
			return SVMM_EINVAL;                       \
		}                                                 \
	} while (0)

static int span_check(const struct pmem *pm, unsigned si, svmm_print_fn out, void *ctx)
{
	const struct pmem_span *s = &pm->span[si];
	uint32_t seen[PMEM_NR_ORDERS] = { 0 };
	uint64_t nfree = 0, nres = 0, nmeta = 0;

	CHECK(s->nframes > 0 && SVMM_IS_ALIGNED(s->base, SVMM_PAGE_SIZE) &&
	      s->end == s->base + ((uint64_t)s->nframes << FRAME_SHIFT) &&
	      s->base_pfn == s->base >> FRAME_SHIFT && s->db != NULL,
	      "pmem: span %u: bad geometry", si);
	CHECK(si == 0 || pm->span[si - 1].end <= s->base, "pmem: span %u: not sorted", si);

	/* Walk the tiling: heads step by their block size; tails must be tails. */
	for (uint64_t i = 0; i < s->nframes;) {
		const struct pmem_frame *f = &s->db[i];
		unsigned k = f->order;
		CHECK(f->state >= PMEM_FREE && f->state <= PMEM_META,
		      "pmem: span %u frame %llu: tail or bad state %u where a block starts",
		      si, (unsigned long long)i, f->state);
		CHECK(k <= PMEM_MAX_ORDER && ((s->base_pfn + i) & (bsize(k) - 1)) == 0 &&
		      i + bsize(k) <= s->nframes,
		      "pmem: span %u frame %llu: order %u misaligned or past the end",
		      si, (unsigned long long)i, k);
		for (uint64_t t = i + 1; t < i + bsize(k); t++)
			CHECK(s->db[t].state == PMEM_TAIL,
			      "pmem: span %u frame %llu: inside block %llu but state %u",
			      si, (unsigned long long)t, (unsigned long long)i, s->db[t].state);
		switch (f->state) {
		case PMEM_FREE: {
			CHECK(f->refcnt == 0, "pmem: span %u frame %llu: free with refcount",
			      si, (unsigned long long)i);
			seen[k]++;
			nfree += bsize(k);
			uint64_t bpfn = (s->base_pfn + i) ^ bsize(k);
			if (k < PMEM_MAX_ORDER && bpfn >= s->base_pfn &&
			    bpfn - s->base_pfn + bsize(k) <= s->nframes) {
				const struct pmem_frame *b = &s->db[bpfn - s->base_pfn];
				CHECK(!(b->state == PMEM_FREE && b->order == k),
				      "pmem: span %u frame %llu: free buddies of order %u unmerged",
				      si, (unsigned long long)i, k);
			}
			break;
		}
		case PMEM_ALLOC:
			CHECK(f->refcnt > 0, "pmem: span %u frame %llu: allocated, no reference",
			      si, (unsigned long long)i);
			break;
		case PMEM_RESERVED:
			nres += bsize(k);
			break;
		default:
			nmeta += bsize(k);
			break;
		}
		i += bsize(k);
	}

	/* The lists: every entry a free head of the list's order, links consistent. */
	for (unsigned k = 0; k < PMEM_NR_ORDERS; k++) {
		uint32_t n = 0, prev = PMEM_NIL;
		for (uint32_t i = s->head[k]; i != PMEM_NIL; i = s->db[i].u.link.next) {
			CHECK(i < s->nframes && n < seen[k],
			      "pmem: span %u order %u: list runs past its blocks", si, k);
			const struct pmem_frame *f = &s->db[i];
			CHECK(f->state == PMEM_FREE && f->order == k && f->u.link.prev == prev,
			      "pmem: span %u order %u: entry %u is not a free block of the list",
			      si, k, i);
			prev = i;
			n++;
		}
		CHECK(n == seen[k] && s->nfree[k] == n,
		      "pmem: span %u order %u: %u listed, %u counted, %u free blocks",
		      si, k, n, s->nfree[k], seen[k]);
		CHECK(((s->free_mask >> k) & 1u) == (n != 0),
		      "pmem: span %u order %u: free mask disagrees", si, k);
	}
	CHECK((s->free_mask >> PMEM_NR_ORDERS) == 0, "pmem: span %u: stray mask bits", si);
	CHECK(nfree == s->free_frames && nres == s->reserved_frames &&
	      nmeta == s->meta_frames, "pmem: span %u: frame counters disagree", si);

	/* The span's database must lie in frames marked as database, below the limit. */
	CHECK(s->db_bytes == SVMM_ALIGN_UP((uint64_t)s->nframes * sizeof(struct pmem_frame),
					   SVMM_PAGE_SIZE) &&
	      s->db_pa + s->db_bytes <= pm->meta_limit,
	      "pmem: span %u: database size or place wrong", si);
	for (svmm_pa_t pa = s->db_pa; pa < s->db_pa + s->db_bytes; pa += SVMM_PAGE_SIZE) {
		const struct pmem_span *d = NULL;
		for (unsigned j = 0; j < pm->nspans; j++)
			if (pa >= pm->span[j].base && pa < pm->span[j].end)
				d = &pm->span[j];
		CHECK(d != NULL, "pmem: span %u: database outside RAM", si);
		uint32_t h = span_head_of(d, (uint32_t)((pa - d->base) >> FRAME_SHIFT));
		CHECK(h != PMEM_NIL && d->db[h].state == PMEM_META,
		      "pmem: span %u: database frame %llx not marked as such", si,
		      (unsigned long long)pa);
	}
	return 0;
}

int pmem_check_report(struct pmem *pm, svmm_print_fn out, void *ctx)
{
	int err = 0;
	uint64_t total = 0, meta = 0, db = 0;

	port_lock(&pm->lock);
	if (pm->nspans == 0 || pm->nspans > PMEM_MAX_SPANS) {
		if (out != NULL)
			svmm_printline(out, ctx, "pmem: bad span count %u", pm->nspans);
		err = SVMM_EINVAL;
	}
	for (unsigned i = 0; err == 0 && i < pm->nspans; i++) {
		err = span_check(pm, i, out, ctx);
		total += pm->span[i].nframes;
		meta += pm->span[i].meta_frames;
		db += pm->span[i].db_bytes >> FRAME_SHIFT;
	}
	if (err == 0 && (total != pm->total_frames || meta != db)) {
		if (out != NULL)
			svmm_printline(out, ctx, "pmem: totals disagree");
		err = SVMM_EINVAL;
	}
	if (err == 0 && (pm->lo != pm->span[0].base || pm->hi != pm->span[pm->nspans - 1].end ||
			 pm->sect_shift < FRAME_SHIFT || pm->sect_shift > 63 ||
			 ((pm->hi - pm->lo - 1) >> pm->sect_shift) >= PMEM_SECTIONS)) {
		if (out != NULL)
			svmm_printline(out, ctx, "pmem: section table geometry wrong");
		err = SVMM_EINVAL;
	}
	for (unsigned i = 0; err == 0 && i < PMEM_SECTIONS; i++)
		if (pm->sect[i] != sect_first(pm, i)) {
			if (out != NULL)
				svmm_printline(out, ctx, "pmem: section %u points at span %u", i,
					       pm->sect[i]);
			err = SVMM_EINVAL;
		}
	port_unlock(&pm->lock);
	return err;
}

int pmem_check(struct pmem *pm)
{
	return pmem_check_report(pm, NULL, NULL);
}

void pmem_dump(struct pmem *pm, svmm_print_fn out, void *ctx)
{
	char sz[24], line[256];

	port_lock(&pm->lock);
	uint64_t fr = 0, res = 0, meta = 0;
	for (unsigned i = 0; i < pm->nspans; i++) {
		fr += pm->span[i].free_frames;
		res += pm->span[i].reserved_frames;
		meta += pm->span[i].meta_frames;
	}
	svmm_printline(out, ctx, "pmem: %u spans, %llu frames: %llu free, %llu allocated, "
		       "%llu reserved, %llu database (%u bytes per frame)", pm->nspans,
		       (unsigned long long)pm->total_frames, (unsigned long long)fr,
		       (unsigned long long)(pm->total_frames - fr - res - meta),
		       (unsigned long long)res, (unsigned long long)meta,
		       (unsigned)sizeof(struct pmem_frame));
	for (unsigned i = 0; i < pm->nspans; i++) {
		const struct pmem_span *s = &pm->span[i];
		svmm_fmt_size(sz, sizeof(sz), s->end - s->base);
		svmm_printline(out, ctx, "  [0x%llx, 0x%llx) %s: %llu free, %llu reserved, "
			       "database at 0x%llx (%llu bytes)",
			       (unsigned long long)s->base, (unsigned long long)s->end, sz,
			       (unsigned long long)s->free_frames,
			       (unsigned long long)s->reserved_frames,
			       (unsigned long long)s->db_pa, (unsigned long long)s->db_bytes);
		int n = svmm_snprintf(line, sizeof(line), "    free blocks by order:");
		for (unsigned k = 0; k < PMEM_NR_ORDERS && n >= 0 && (size_t)n < sizeof(line); k++)
			if (s->nfree[k] != 0)
				n += svmm_snprintf(line + n, sizeof(line) - (size_t)n, " %u:%u", k,
						   s->nfree[k]);
		svmm_printline(out, ctx, "%s", line);
	}
	port_unlock(&pm->lock);
}
