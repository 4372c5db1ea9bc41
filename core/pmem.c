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
#include "pmem_internal.h"

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
static inline __attribute__((always_inline)) void list_push(struct pmem_span *s, uint32_t idx,
							    unsigned order)
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
static inline __attribute__((always_inline)) void list_unlink(struct pmem_span *s, uint32_t idx,
							      unsigned order)
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
static inline __attribute__((always_inline)) struct pmem_span *span_lookup(struct pmem *pm,
									     svmm_pa_t pa)
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

/* span_lookup out of line, for the callers off the hottest paths. */
static __attribute__((noinline)) struct pmem_span *span_find(struct pmem *pm, svmm_pa_t pa)
{
	return span_lookup(pm, pa);
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
 * Init plans without sorted copies of its inputs, so that its stack stays small (a
 * kernel calls it on a boot stack of a few KiB): RAM runs, spans and reserved runs are
 * found afresh from the caller's arrays each time they are needed. The inputs hold at
 * most 16 RAM and 64 reserved ranges, so the quadratic searches cost microseconds at
 * boot. Only the database placements are remembered, 12 bytes a span.
 */
struct pmem_plan {
	const struct pmem_range *ram, *res;
	unsigned nram, nres;
	svmm_pa_t ml;                          /* meta_limit, page-rounded down */
	unsigned ndb;                     /* databases placed so far */
	svmm_pa_t dbpa[PMEM_MAX_SPANS];        /* where span i's database goes */
	uint32_t dbfr[PMEM_MAX_SPANS];    /* its size in frames */
};

/* A reserved range rounded outwards to whole frames (validated before use). */
static void res_round(const struct pmem_range *r, svmm_pa_t *b, svmm_pa_t *e)
{
	*b = SVMM_ALIGN_DOWN(r->base, SVMM_PAGE_SIZE);
	*e = SVMM_ALIGN_UP(r->base + r->size, SVMM_PAGE_SIZE);
}

/*
 * The run of RAM (touching ranges joined) that holds at or starts first after at:
 * [*b, *e) with *b >= at. Returns false when no RAM lies at or above at. The ranges
 * are known to be disjoint.
 */
static bool ram_run(const struct pmem_plan *p, svmm_pa_t at, svmm_pa_t *b, svmm_pa_t *e)
{
	bool found = false;
	*b = *e = 0;
	for (unsigned i = 0; i < p->nram; i++) {
		svmm_pa_t rb = p->ram[i].base, re = rb + p->ram[i].size;
		if (re > at && (!found || rb < *b)) {
			*b = rb;
			*e = re;
			found = true;
		}
	}
	if (!found)
		return false;
	if (*b < at)
		*b = at;
	for (bool grew = true; grew;) {
		grew = false;
		for (unsigned i = 0; i < p->nram; i++)
			if (p->ram[i].base == *e) {
				*e += p->ram[i].size;
				grew = true;
			}
	}
	return true;
}

/*
 * The span that starts first at or after at: RAM runs cut at the direct-map limit and
 * into pieces of fewer than 2^31 frames. Spans are visited in address order by
 * passing the end of one as at for the next.
 */
static bool span_next(const struct pmem_plan *p, svmm_pa_t at, svmm_pa_t *b, svmm_pa_t *c)
{
	svmm_pa_t e;
	if (!ram_run(p, at, b, &e))
		return false;
	*c = e;
	if (*b < p->ml && p->ml < *c)
		*c = p->ml;
	if ((*c - *b) >> FRAME_SHIFT >= SPAN_MAX_FRAMES)
		*c = SVMM_ALIGN_DOWN(*b + ((SPAN_MAX_FRAMES - 1) << FRAME_SHIFT), SVMM_GiB);
	return true;
}

/* The database size of a span of [b, e), page-rounded, in frames. */
static uint32_t db_frames(svmm_pa_t b, svmm_pa_t e)
{
	uint64_t bytes = ((e - b) >> FRAME_SHIFT) * sizeof(struct pmem_frame);
	return (uint32_t)(SVMM_ALIGN_UP(bytes, SVMM_PAGE_SIZE) >> FRAME_SHIFT);
}

/* Does an excluded interval (reserved, or a database placed so far) cover pa? */
static bool excluded(const struct pmem_plan *p, svmm_pa_t pa)
{
	for (unsigned i = 0; i < p->nres; i++) {
		svmm_pa_t b, e;
		res_round(&p->res[i], &b, &e);
		if (b <= pa && pa < e)
			return true;
	}
	for (unsigned i = 0; i < p->ndb; i++)
		if (p->dbpa[i] <= pa && pa < p->dbpa[i] + ((svmm_pa_t)p->dbfr[i] << FRAME_SHIFT))
			return true;
	return false;
}

/* The lowest start of an excluded interval above pa, or hi if none lies below hi. */
static svmm_pa_t next_excluded(const struct pmem_plan *p, svmm_pa_t pa, svmm_pa_t hi)
{
	svmm_pa_t n = hi;
	for (unsigned i = 0; i < p->nres; i++) {
		svmm_pa_t b, e;
		res_round(&p->res[i], &b, &e);
		if (b > pa && b < n)
			n = b;
	}
	for (unsigned i = 0; i < p->ndb; i++)
		if (p->dbpa[i] > pa && p->dbpa[i] < n)
			n = p->dbpa[i];
	return n;
}

/*
 * Consider the free gap of [lo, hi) that starts at c, if c starts one: c is lo or the
 * end of an excluded interval, and no excluded interval covers it.
 */
static void gap_try(const struct pmem_plan *p, svmm_pa_t c, svmm_pa_t lo, svmm_pa_t hi, uint64_t need,
		    svmm_pa_t *best, uint64_t *best_len, bool *found)
{
	if (c < lo || c >= hi || excluded(p, c))
		return;
	uint64_t len = next_excluded(p, c, hi) - c;
	if (len >= need && (len < *best_len || (len == *best_len && c < *best))) {
		*best = c;
		*best_len = len;
		*found = true;
	}
}

/*
 * The smallest free gap of at least need bytes in [lo, hi), lowest first among equals.
 * Best fit keeps large runs intact for huge blocks and tends to put the database
 * beside what is already reserved.
 */
static bool gap_fit(const struct pmem_plan *p, svmm_pa_t lo, svmm_pa_t hi, uint64_t need, svmm_pa_t *best,
		    uint64_t *best_len)
{
	bool found = false;
	gap_try(p, lo, lo, hi, need, best, best_len, &found);
	for (unsigned i = 0; i < p->nres; i++) {
		svmm_pa_t b, e;
		res_round(&p->res[i], &b, &e);
		gap_try(p, e, lo, hi, need, best, best_len, &found);
	}
	for (unsigned i = 0; i < p->ndb; i++)
		gap_try(p, p->dbpa[i] + ((svmm_pa_t)p->dbfr[i] << FRAME_SHIFT), lo, hi, need, best,
			best_len, &found);
	return found;
}

/* Check the caller's ranges; count the spans they make in *nsp. */
static int plan_check(const struct pmem_plan *p, unsigned *nsp)
{
	for (unsigned i = 0; i < p->nram; i++) {
		if (p->ram[i].size == 0)
			return SVMM_EZEROSIZE;
		if (!SVMM_IS_ALIGNED(p->ram[i].base, SVMM_PAGE_SIZE) ||
		    !SVMM_IS_ALIGNED(p->ram[i].size, SVMM_PAGE_SIZE))
			return SVMM_EUNALIGNED;
		if (p->ram[i].base + p->ram[i].size <= p->ram[i].base)
			return SVMM_EOVERFLOW;
	}
	for (unsigned i = 0; i < p->nram; i++)
		for (unsigned j = i + 1; j < p->nram; j++)
			if (p->ram[i].base < p->ram[j].base + p->ram[j].size &&
			    p->ram[j].base < p->ram[i].base + p->ram[i].size)
				return SVMM_EOVERLAP;
	for (unsigned i = 0; i < p->nres; i++) {
		if (p->res[i].size == 0)
			return SVMM_EZEROSIZE;
		svmm_pa_t end = p->res[i].base + p->res[i].size;
		if (end < p->res[i].base || SVMM_ALIGN_UP(end, SVMM_PAGE_SIZE) < end)
			return SVMM_EOVERFLOW;
	}
	svmm_pa_t b, c;
	*nsp = 0;
	for (svmm_pa_t at = 0; span_next(p, at, &b, &c); at = c)
		if (++*nsp > PMEM_MAX_SPANS)
			return SVMM_EINVAL;
	return 0;
}

/*
 * Plan where each span's database goes: the best-fitting free gap below the limit in
 * the span itself, else in any other span. Nothing is written until every span has a
 * place, so failure leaves no trace.
 */
static int plan_databases(struct pmem_plan *p)
{
	svmm_pa_t b, c;
	p->ndb = 0;
	for (svmm_pa_t at = 0; span_next(p, at, &b, &c); at = c) {
		uint32_t fr = db_frames(b, c);
		uint64_t need = (uint64_t)fr << FRAME_SHIFT, best_len = ~(uint64_t)0;
		svmm_pa_t best = 0, ob, oc;
		bool found = false;
		if (b < p->ml)
			found = gap_fit(p, b, c < p->ml ? c : p->ml, need, &best, &best_len);
		for (svmm_pa_t o = 0; !found && span_next(p, o, &ob, &oc); o = oc)
			if (ob != b && ob < p->ml)
				found = gap_fit(p, ob, oc < p->ml ? oc : p->ml, need, &best,
						&best_len);
		if (!found)
			return SVMM_ENOMEM;
		p->dbpa[p->ndb] = best;
		p->dbfr[p->ndb++] = fr;
	}
	return 0;
}

/*
 * The excluded run of the span's frames that starts first at or after pa: a database
 * (*meta) or reserved ranges joined where they overlap or touch, as [*b, *e). Returns
 * false when none starts before the span ends.
 */
static bool excl_next(const struct pmem_plan *p, svmm_pa_t pa, svmm_pa_t end, svmm_pa_t *b, svmm_pa_t *e,
		      bool *meta)
{
	svmm_pa_t rb, re;
	*b = end;
	*e = end;
	for (unsigned i = 0; i < p->nres; i++) {
		res_round(&p->res[i], &rb, &re);
		if (re > pa && (rb > pa ? rb : pa) < *b) {
			*b = rb > pa ? rb : pa;
			*e = re;
			*meta = false;
		}
	}
	for (unsigned i = 0; i < p->ndb; i++)
		if (p->dbpa[i] >= pa && p->dbpa[i] < *b) {
			*b = p->dbpa[i];
			*e = p->dbpa[i] + ((svmm_pa_t)p->dbfr[i] << FRAME_SHIFT);
			*meta = true;
		}
	if (*b >= end)
		return false;
	for (bool grew = !*meta; grew;) {
		grew = false;
		for (unsigned i = 0; i < p->nres; i++) {
			res_round(&p->res[i], &rb, &re);
			if (rb <= *e && re > *e) {
				*e = re;
				grew = true;
			}
		}
	}
	if (*e > end)
		*e = end;
	return true;
}

/* Tile a fresh span's database: free blocks everywhere but the excluded runs. */
static void span_fill(const struct pmem_plan *p, struct pmem_span *s)
{
	svmm_pa_t at = s->base, b = 0, e = 0;
	bool meta = false;

	/* Zero means PMEM_TAIL: only block heads are written below. */
	__builtin_memset(s->db, 0, (size_t)s->nframes * sizeof(struct pmem_frame));
	while (excl_next(p, at, s->end, &b, &e, &meta)) {
		span_tile(s, (at - s->base) >> FRAME_SHIFT, (b - s->base) >> FRAME_SHIFT,
			  PMEM_FREE);
		span_tile(s, (b - s->base) >> FRAME_SHIFT, (e - s->base) >> FRAME_SHIFT,
			  meta ? PMEM_META : PMEM_RESERVED);
		at = e;
	}
	span_tile(s, (at - s->base) >> FRAME_SHIFT, s->nframes, PMEM_FREE);
}

int pmem_init(struct pmem *pm, const struct pmem_range *ram, unsigned nram,
	      const struct pmem_range *res, unsigned nres, svmm_pa_t meta_limit)
{
	struct pmem_plan p;
	unsigned nsp;

	if (pm == NULL || ram == NULL || nram == 0 || nram > PMEM_MAX_RANGES ||
	    (nres > 0 && res == NULL) || nres > PMEM_MAX_RESERVED)
		return SVMM_EINVAL;
	p.ram = ram;
	p.nram = nram;
	p.res = res;
	p.nres = nres;
	p.ndb = 0;
	p.ml = meta_limit == PMEM_ANY ? PMEM_ANY : SVMM_ALIGN_DOWN(meta_limit, SVMM_PAGE_SIZE);
	int err = plan_check(&p, &nsp);
	if (err == 0)
		err = plan_databases(&p);
	if (err != 0)
		return err;

	/* Commit. */
	__builtin_memset(pm, 0, sizeof(*pm));
	pm->nspans = nsp;
	pm->meta_limit = p.ml;
	svmm_pa_t b, c;
	unsigned i = 0;
	for (svmm_pa_t at = 0; span_next(&p, at, &b, &c); at = c, i++) {
		struct pmem_span *s = &pm->span[i];
		s->base = b;
		s->end = c;
		s->base_pfn = s->base >> FRAME_SHIFT;
		s->nframes = (uint32_t)((s->end - s->base) >> FRAME_SHIFT);
		s->db_pa = p.dbpa[i];
		s->db_bytes = (uint64_t)p.dbfr[i] << FRAME_SHIFT;
		s->db = port_pa_to_va(s->db_pa);
		for (unsigned k = 0; k < PMEM_NR_ORDERS; k++)
			s->head[k] = PMEM_NIL;
		pm->total_frames += s->nframes;
	}
	/* Sections: the smallest power of two that covers [lo, hi) in PMEM_SECTIONS. */
	pm->lo = pm->span[0].base;
	pm->hi = pm->span[nsp - 1].end;
	pm->sect_shift = FRAME_SHIFT;
	while (((pm->hi - pm->lo - 1) >> pm->sect_shift) >= PMEM_SECTIONS)
		pm->sect_shift++;
	for (i = 0; i < PMEM_SECTIONS; i++)
		pm->sect[i] = (uint8_t)sect_first(pm, i);
	while (pm->nlow < nsp && pm->span[pm->nlow].base < pm->meta_limit)
		pm->nlow++;
	for (i = 0; i < nsp; i++) {
		span_fill(&p, &pm->span[i]);
		const struct pmem_span *s = &pm->span[i];
		pm->usable_frames += s->nframes - s->reserved_frames - s->meta_frames;
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
 * The spans are sorted and cut at meta_limit: [nlow, nspans) is the class above,
 * [0, nlow) the class inside. The first class a request below limit looks at, as
 * [*lo, *hi): the class above, unless the limit rules it out (at or below meta_limit:
 * the usual request, a table or metadata page, then looks at no span twice) or it is
 * empty; else the class inside, which is also the second class when there is one.
 */
static inline __attribute__((always_inline)) void first_class(const struct pmem *pm,
							       svmm_pa_t limit, unsigned *lo,
							       unsigned *hi)
{
	*lo = pm->nlow;
	*hi = pm->nspans;
	if (limit <= pm->meta_limit || *lo == *hi) {
		*hi = *lo;
		*lo = 0;
	}
}

/*
 * Choose where an allocation comes from. Spans fall in two classes: those above the
 * direct-map window (only PMEM_ANY requests can use them) and those inside it. The
 * class above is tried first, so user pages leave direct-mapped memory to page tables
 * and metadata. Within a class the span whose smallest fitting free block is smallest
 * wins, the highest span among equals: a single frame is then cut from an existing
 * fragment anywhere in the class before a gigabyte block is split for it.
 */
static __attribute__((noinline)) bool alloc_pick(struct pmem *pm, unsigned order, svmm_pa_t limit,
						 struct pmem_span **sp,
		       unsigned *jp, uint32_t *idxp)
{
	uint64_t bytes = bsize(order) << FRAME_SHIFT;
	unsigned best_j = PMEM_NR_ORDERS;
	unsigned lo, hi;
	first_class(pm, limit, &lo, &hi);
	for (;;) {
		for (unsigned i = hi; i-- > lo;) {
			struct pmem_span *s = &pm->span[i];
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
		if (lo == 0)
			return false;
		hi = lo;
		lo = 0;
	}
}

/*
 * alloc_pick's answer without its search, when the first class the limit allows is one
 * span lying wholly below the limit with a block that fits (the demo kernel's case:
 * one span on each side of meta_limit): that span's lowest non-empty list from order
 * up. false: alloc_pick decides.
 */
static inline __attribute__((always_inline)) bool pick_one(struct pmem *pm, unsigned order,
							    svmm_pa_t limit, struct pmem_span **sp,
							    unsigned *jp)
{
	unsigned lo, hi;
	first_class(pm, limit, &lo, &hi);
	if (hi - lo != 1)
		return false;
	struct pmem_span *s = &pm->span[lo];
	uint32_t mask = s->free_mask >> order;
	if (s->end > limit || mask == 0)
		return false;
	unsigned j = order;
	while ((mask & 1u) == 0) {
		mask >>= 1;
		j++;
	}
	*sp = s;
	*jp = j;
	return true;
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
	if (pick_one(pm, order, limit, &s, &j)) {
		idx = s->head[j];
	} else if (!alloc_pick(pm, order, limit, &s, &j, &idx)) {
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

/* One more reference on the allocated block headed by f, or SVMM_EREFCNT (the count is full). */
static inline __attribute__((always_inline)) int ref_take(struct pmem_frame *f)
{
	if (f->refcnt == UINT32_MAX)
		return SVMM_EREFCNT;
	f->refcnt++;
	return 0;
}

int pmem_get(struct pmem *pm, svmm_pa_t pa)
{
	struct pmem_span *s;
	uint32_t idx;

	port_lock(&pm->lock);
	int err = alloc_head(pm, pa, false, &s, &idx);
	if (err == 0)
		err = ref_take(&s->db[idx]);
	port_unlock(&pm->lock);
	return err;
}

int pmem_get_frame(struct pmem *pm, struct pmem_frame *f)
{
	port_lock(&pm->lock);
	int err = f->state != PMEM_ALLOC ? SVMM_ENOTALLOC : ref_take(f);
	port_unlock(&pm->lock);
	return err;
}

/*
 * One step of pmem_get_many's fast path: take a reference on the frame at entry e
 * when it lies in [lo, lo + len) of a span whose database (from lo) is db and is the
 * head of an allocated block whose count does not overflow; else change nothing and
 * return false. One subtract and compare find the frame (tag bits below the page
 * cannot carry a page-aligned address past the span's page-aligned end). On a
 * little-endian machine one load reads the count with the state above it: adding 1
 * carries into the state exactly when the count would overflow, so a single compare of
 * the state after the add checks both.
 */
static inline __attribute__((always_inline)) bool get_one(struct pmem_frame *db, svmm_pa_t lo,
							   uint64_t len, uint64_t e)
{
	uint64_t off = e - lo;
	if (off >= len)
		return false;
	struct pmem_frame *f = &db[off >> FRAME_SHIFT];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	_Static_assert(offsetof(struct pmem_frame, state) == offsetof(struct pmem_frame, refcnt) + 4,
		       "the state lies just above the count");
	uint64_t w;
	/* An entry is 16 bytes and 8-aligned, so the count's word is 8-aligned too. */
	__builtin_memcpy(&w, __builtin_assume_aligned(&f->refcnt, 8), sizeof(w));
	w++;
	if ((w & ((uint64_t)0xff << 32)) != ((uint64_t)PMEM_ALLOC << 32))
		return false;
	f->refcnt = (uint32_t)w;
#else
	uint32_t r = f->refcnt + 1;
	if (f->state != PMEM_ALLOC || r == 0)
		return false;
	f->refcnt = r;
#endif
	return true;
}

/*
 * pmem_get_many's fast path: take a reference on frames[i], frames[i + 1], ... while
 * each lies in span s and get_one takes it, four a step, and return the index of the
 * first frame not taken (n if none is left), which the caller decides about: a zero
 * entry, a frame of another span, or an error. With copy, each entry read is stored
 * at the same index of copy as well (also the one the run stops at, which the caller
 * stores again). The run starts at the span's second page when the span begins at 0,
 * so that a zero entry (tags or not) always stops it.
 */
static inline __attribute__((always_inline)) size_t get_run(struct pmem_span *s,
							    const uint64_t *frames,
							    uint64_t *copy, size_t i, size_t n)
{
	svmm_pa_t lo = s->base;
	uint64_t len = s->end - lo;
	struct pmem_frame *db = s->db;
	if (lo == 0) {
		lo = SVMM_PAGE_SIZE;
		len -= SVMM_PAGE_SIZE;
		db++;
	}
	const uint64_t *p = frames + i, *fours = p + ((n - i) & ~(size_t)3), *end = frames + n;
	uint64_t *c = copy != NULL ? copy + i : NULL;
	for (; p != fours; p += 4) {
		uint64_t e0 = p[0], e1 = p[1], e2 = p[2], e3 = p[3];
		if (copy != NULL) {
			c[0] = e0;
			c[1] = e1;
			c[2] = e2;
			c[3] = e3;
			c += 4;
		}
		if (!get_one(db, lo, len, e0))
			return (size_t)(p - frames);
		if (!get_one(db, lo, len, e1))
			return (size_t)(p + 1 - frames);
		if (!get_one(db, lo, len, e2))
			return (size_t)(p + 2 - frames);
		if (!get_one(db, lo, len, e3))
			return (size_t)(p + 3 - frames);
	}
	for (; p != end; p++) {
		if (copy != NULL)
			*c++ = *p;
		if (!get_one(db, lo, len, *p))
			break;
	}
	return (size_t)(p - frames);
}

/* The body of pmem_get_many, inlined once with a copy and once without. */
static inline __attribute__((always_inline)) int get_many(struct pmem *pm, const uint64_t *frames,
							  size_t n, uint64_t *copy)
{
	struct pmem_span *s = NULL;   /* the last frame's span: a run mostly stays in one */
	size_t i = 0;
	int err = 0;

	port_lock(&pm->lock);
	while (i < n) {
		if (s != NULL) {
			i = get_run(s, frames, copy, i, n);
			if (i == n)
				break;
		}
		/* The frame the run stopped at: a zero entry, another span, or an error. */
		svmm_pa_t pa = frames[i] & ~(svmm_pa_t)(SVMM_PAGE_SIZE - 1);
		if (copy != NULL)
			copy[i] = frames[i];
		if (pa == 0) {
			/* A run of zero entries (a sparse node's holes) is skipped here. */
			const uint64_t *p = frames + i + 1, *end = frames + n;
			uint64_t *c = copy != NULL ? copy + i + 1 : NULL;
			for (; p != end && *p < SVMM_PAGE_SIZE; p++)
				if (copy != NULL)
					*c++ = *p;
			i = (size_t)(p - frames);
			continue;
		}
		/* A frame of another span (the first one, mostly): run from it there. A run
		   that stops at it again leaves the same span, and the check below. */
		struct pmem_span *t = span_lookup(pm, pa);
		if (t != NULL && t != s) {
			s = t;
			continue;
		}
		uint32_t idx;
		err = alloc_head(pm, pa, false, &s, &idx);
		if (err == 0)
			err = ref_take(&s->db[idx]);
		if (err != 0)
			break;
		i++;
	}
	if (err != 0) {
		/* All or nothing: give back what this call took (each count stays >= 1). */
		while (i-- > 0) {
			svmm_pa_t pa = frames[i] & ~(svmm_pa_t)(SVMM_PAGE_SIZE - 1);
			if (pa != 0)
				pmem_frame(pm, pa)->refcnt--;
		}
	}
	port_unlock(&pm->lock);
	return err;
}

/* Both calls' one body, so that the clone's two kinds of leaf share its code. */
static __attribute__((noinline)) int get_many_or_copy(struct pmem *pm, const uint64_t *frames,
						       size_t n, uint64_t *copy)
{
	return copy != NULL ? get_many(pm, frames, n, copy) : get_many(pm, frames, n, NULL);
}

int pmem_get_many(struct pmem *pm, const uint64_t *frames, size_t n)
{
	return get_many_or_copy(pm, frames, n, NULL);
}

int pmem_get_copy(struct pmem *pm, const uint64_t *src, uint64_t *dst, size_t n)
{
	return get_many_or_copy(pm, src, n, dst);
}

/*
 * One reference less on the block at pa, the last one freeing it; with keep_last the
 * last one stays (the count 1), and *dropped says whether a reference went.
 */
static inline __attribute__((always_inline)) int put_ref(struct pmem *pm, svmm_pa_t pa,
							  bool keep_last, bool *dropped)
{
	struct pmem_span *s;
	uint32_t idx;

	port_lock(&pm->lock);
	int err = alloc_head(pm, pa, true, &s, &idx);
	if (err == 0) {
		struct pmem_frame *f = &s->db[idx];
		if (f->refcnt == 0)
			port_panic("pmem: allocated block with no reference");
		bool drop = !keep_last || f->refcnt > 1;
		if (dropped != NULL)
			*dropped = drop;
		if (drop && --f->refcnt == 0)
			span_release(s, idx, f->order);
	}
	port_unlock(&pm->lock);
	return err;
}

int pmem_put(struct pmem *pm, svmm_pa_t pa)
{
	return put_ref(pm, pa, false, NULL);
}

int pmem_put_unless_last(struct pmem *pm, svmm_pa_t pa, bool *dropped)
{
	return put_ref(pm, pa, true, dropped);
}

int pmem_split(struct pmem *pm, svmm_pa_t pa)
{
	struct pmem_span *s;
	uint32_t idx;

	port_lock(&pm->lock);
	int err = alloc_head(pm, pa, false, &s, &idx);
	if (err == 0) {
		const struct pmem_frame head = s->db[idx];
		/* Every tail becomes a head of its own: nothing else changes, not even the
		   free counters, since every frame stays allocated. */
		for (uint32_t i = 1; i < (uint32_t)bsize(head.order); i++)
			s->db[idx + i] = head;
		for (uint32_t i = 0; i < (uint32_t)bsize(head.order); i++)
			s->db[idx + i].order = 0;
	}
	port_unlock(&pm->lock);
	return err;
}

int pmem_refs(struct pmem *pm, svmm_pa_t pa, uint32_t *refs)
{
	struct pmem_span *s;
	uint32_t idx;

	if (refs == NULL)
		return SVMM_EINVAL;
	port_lock(&pm->lock);
	int err = alloc_head(pm, pa, false, &s, &idx);
	if (err == 0)
		*refs = s->db[idx].refcnt;
	port_unlock(&pm->lock);
	return err;
}

/* ---- queries ---- */

struct pmem_frame *pmem_frame(struct pmem *pm, svmm_pa_t pa)
{
	/* Inline: vmobj looks up an index page's owner word this way at every node. */
	struct pmem_span *s = span_lookup(pm, pa);
	if (s == NULL)
		return NULL;
	return &s->db[(pa - s->base) >> FRAME_SHIFT];
}

/* pmem_frame_near's other span: out of line, so that the usual case saves no register. */
static __attribute__((noinline)) struct pmem_frame *frame_near_miss(struct pmem *pm, svmm_pa_t pa,
								   struct pmem_span **hint)
{
	struct pmem_span *s = span_find(pm, pa);
	if (s == NULL)
		return NULL;
	*hint = s;
	return &s->db[(pa - s->base) >> FRAME_SHIFT];
}

struct pmem_frame *pmem_frame_near(struct pmem *pm, svmm_pa_t pa, struct pmem_span **hint)
{
	struct pmem_span *s = *hint;
	if (s != NULL && pa - s->base < s->end - s->base)
		return &s->db[(pa - s->base) >> FRAME_SHIFT];
	return frame_near_miss(pm, pa, hint);
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
	      "pmem: each span's geometry is consistent: span %u is not", si);
	CHECK(si == 0 || pm->span[si - 1].end <= s->base, "pmem: spans are sorted and disjoint: span %u starts inside span %u", si, si - 1);
	CHECK((si < pm->nlow) == (s->base < pm->meta_limit) &&
	      (s->base >= pm->meta_limit || s->end <= pm->meta_limit),
	      "pmem: spans [0, nlow) and only they lie below meta_limit: span %u", si);

	/* Walk the tiling: heads step by their block size; tails must be tails. */
	for (uint64_t i = 0; i < s->nframes;) {
		const struct pmem_frame *f = &s->db[i];
		unsigned k = f->order;
		CHECK(f->state >= PMEM_FREE && f->state <= PMEM_META,
		      "pmem: blocks tile every span: span %u frame %llu starts a block but has state %u",
		      si, (unsigned long long)i, f->state);
		CHECK(k <= PMEM_MAX_ORDER && ((s->base_pfn + i) & (bsize(k) - 1)) == 0 &&
		      i + bsize(k) <= s->nframes,
		      "pmem: blocks are aligned to their order inside their span: span %u frame %llu, order %u",
		      si, (unsigned long long)i, k);
		for (uint64_t t = i + 1; t < i + bsize(k); t++)
			CHECK(s->db[t].state == PMEM_TAIL,
			      "pmem: every frame inside a block is a tail: span %u frame %llu inside block %llu has state %u",
			      si, (unsigned long long)t, (unsigned long long)i, s->db[t].state);
		switch (f->state) {
		case PMEM_FREE: {
			CHECK(f->refcnt == 0, "pmem: a free block has no references: span %u frame %llu",
			      si, (unsigned long long)i);
			seen[k]++;
			nfree += bsize(k);
			uint64_t bpfn = (s->base_pfn + i) ^ bsize(k);
			if (k < PMEM_MAX_ORDER && bpfn >= s->base_pfn &&
			    bpfn - s->base_pfn + bsize(k) <= s->nframes) {
				const struct pmem_frame *b = &s->db[bpfn - s->base_pfn];
				CHECK(!(b->state == PMEM_FREE && b->order == k),
				      "pmem: no two free buddies are left unmerged: span %u frame %llu, order %u",
				      si, (unsigned long long)i, k);
			}
			break;
		}
		case PMEM_ALLOC:
			CHECK(f->refcnt > 0, "pmem: an allocated block has a reference: span %u frame %llu has none",
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
			      "pmem: free lists hold only free blocks: span %u order %u list runs past its blocks", si, k);
			const struct pmem_frame *f = &s->db[i];
			CHECK(f->state == PMEM_FREE && f->order == k && f->u.link.prev == prev,
			      "pmem: free lists hold only free blocks of their order: span %u order %u entry %u",
			      si, k, i);
			prev = i;
			n++;
		}
		CHECK(n == seen[k] && s->nfree[k] == n,
		      "pmem: every free block is on its list once: span %u order %u: %u listed, %u counted, %u free blocks",
		      si, k, n, s->nfree[k], seen[k]);
		CHECK(((s->free_mask >> k) & 1u) == (n != 0),
		      "pmem: the free mask matches the lists: span %u order %u", si, k);
	}
	CHECK((s->free_mask >> PMEM_NR_ORDERS) == 0, "pmem: the free mask matches the lists: span %u has stray bits", si);
	CHECK(nfree == s->free_frames && nres == s->reserved_frames &&
	      nmeta == s->meta_frames, "pmem: frame counters match the blocks: span %u", si);

	/* The span's database must lie in frames marked as database, below the limit. */
	CHECK(s->db_bytes == SVMM_ALIGN_UP((uint64_t)s->nframes * sizeof(struct pmem_frame),
					   SVMM_PAGE_SIZE) &&
	      s->db_pa + s->db_bytes <= pm->meta_limit,
	      "pmem: each database has its size and lies below meta_limit: span %u", si);
	for (svmm_pa_t pa = s->db_pa; pa < s->db_pa + s->db_bytes; pa += SVMM_PAGE_SIZE) {
		const struct pmem_span *d = NULL;
		for (unsigned j = 0; j < pm->nspans; j++)
			if (pa >= pm->span[j].base && pa < pm->span[j].end)
				d = &pm->span[j];
		CHECK(d != NULL, "pmem: each database lies in RAM: span %u", si);
		uint32_t h = span_head_of(d, (uint32_t)((pa - d->base) >> FRAME_SHIFT));
		CHECK(h != PMEM_NIL && d->db[h].state == PMEM_META,
		      "pmem: database frames are PMEM_META: span %u frame 0x%llx is not", si,
		      (unsigned long long)pa);
	}
	return 0;
}

int pmem_check(struct pmem *pm, svmm_print_fn out, void *ctx)
{
	int err = 0;
	uint64_t total = 0, meta = 0, db = 0;

	port_lock(&pm->lock);
	if (pm->nspans == 0 || pm->nspans > PMEM_MAX_SPANS || pm->nlow > pm->nspans) {
		if (out != NULL)
			svmm_printline(out, ctx, "pmem: the span count is 1..PMEM_MAX_SPANS and nlow at most it: %u, %u",
				       pm->nspans, pm->nlow);
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
			svmm_printline(out, ctx, "pmem: totals match the spans (frames, database frames)");
		err = SVMM_EINVAL;
	}
	if (err == 0 && (pm->lo != pm->span[0].base || pm->hi != pm->span[pm->nspans - 1].end ||
			 pm->sect_shift < FRAME_SHIFT || pm->sect_shift > 63 ||
			 ((pm->hi - pm->lo - 1) >> pm->sect_shift) >= PMEM_SECTIONS)) {
		if (out != NULL)
			svmm_printline(out, ctx, "pmem: the section table covers [lo, hi)");
		err = SVMM_EINVAL;
	}
	for (unsigned i = 0; err == 0 && i < PMEM_SECTIONS; i++)
		if (pm->sect[i] != sect_first(pm, i)) {
			if (out != NULL)
				svmm_printline(out, ctx, "pmem: each section names the first span ending after it: section %u names span %u", i,
					       pm->sect[i]);
			err = SVMM_EINVAL;
		}
	port_unlock(&pm->lock);
	return err;
}

/*
 * One span's lines of pmem_dump. Kept out of line so that its line buffer and
 * svmm_printline's own never share a stack frame.
 */
static __attribute__((noinline)) void span_dump(const struct pmem_span *s, svmm_print_fn out,
						 void *ctx)
{
	char line[256];

	int n = svmm_snprintf(line, sizeof(line), "    free blocks by order:");
	for (unsigned k = 0; k < PMEM_NR_ORDERS && n >= 0 && (size_t)n < sizeof(line); k++)
		if (s->nfree[k] != 0)
			n += svmm_snprintf(line + n, sizeof(line) - (size_t)n, " %u:%u", k,
					   s->nfree[k]);
	out(ctx, line);
}

void pmem_dump(struct pmem *pm, svmm_print_fn out, void *ctx)
{
	char sz[24];

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
		span_dump(s, out, ctx);
	}
	port_unlock(&pm->lock);
}

/* ---- commit accounting (see svmm/pmem.h) ---- */

/*
 * The ledger is two words updated with atomic operations, not under pm's lock: every
 * fault that charges a page goes through here, and a compare-and-swap is a few
 * instructions where a lock round trip is dozens. The limit is read once per attempt;
 * a commit that races with pmem_commit_limit is ordered before or after it, as it
 * would be under a lock.
 */

/* The limit in effect. usable_frames is fixed at init. */
static uint64_t commit_limit_now(const struct pmem *pm)
{
	uint64_t l = __atomic_load_n(&pm->commit_limit, __ATOMIC_RELAXED);
	return l != 0 ? l : pm->usable_frames;
}

int pmem_commit(struct pmem *pm, uint64_t frames)
{
	uint64_t limit = commit_limit_now(pm);
	uint64_t c = __atomic_load_n(&pm->committed, __ATOMIC_RELAXED);
	do {
		if (c > limit || frames > limit - c)
			return frames == 0 ? 0 : SVMM_ENOMEM;
	} while (!__atomic_compare_exchange_n(&pm->committed, &c, c + frames, true,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return 0;
}

int pmem_uncommit(struct pmem *pm, uint64_t frames)
{
	uint64_t c = __atomic_load_n(&pm->committed, __ATOMIC_RELAXED);
	do {
		if (frames > c)
			return SVMM_EINVAL;
	} while (!__atomic_compare_exchange_n(&pm->committed, &c, c - frames, true,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	return 0;
}

void pmem_commit_limit(struct pmem *pm, uint64_t frames)
{
	__atomic_store_n(&pm->commit_limit, frames, __ATOMIC_RELAXED);
}

void pmem_commit_stats(struct pmem *pm, uint64_t *committed, uint64_t *limit)
{
	if (committed != NULL)
		*committed = __atomic_load_n(&pm->committed, __ATOMIC_RELAXED);
	if (limit != NULL)
		*limit = commit_limit_now(pm);
}
