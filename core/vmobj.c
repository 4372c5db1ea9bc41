/*
 * vmobj.c - memory objects (see svmm/vmobj.h for the contract and docs/vmobj.md for
 * the model and its invariants).
 *
 * The index is a radix tree over page numbers, as a page table is over addresses: its
 * top level is root[] in the object's own page, every lower level a 4 KiB node of 512
 * entries. It starts with one level and grows on top only as high as the highest page
 * it has indexed needs (index_grow), so a big object that holds a few low pages (an
 * address space's anonymous memory, offsets equal to addresses) walks and frees a
 * short index. An entry is empty (0), a node, a 4 KiB page, or (one level above the
 * pages) a 2 MiB page. Each index page holds one pmem reference for every frame it
 * names: for a 2 MiB page, one on the order-9 block, or one on each of its 512 frames
 * once some holder has split the block. A leaf node may be shared with clones (marked
 * E_SHARED, see node_own): the object then holds one reference on the node, not on its
 * frames. No index node is ever left empty, so the index's size follows what is
 * resident.
 *
 * Every index node keeps in its pmem frame's owner word, which is ours while the page
 * is allocated, how many of its entries are used and bounds on where they lie, so that
 * emptiness is O(1) and a visit scans only the part of a page that can hold something
 * (see slot_set); root[]'s, the object page's owner word, also says which of its
 * words are initialised (see root_meta_of).
 *
 * Every operation that can fail allocates first and changes the index after, or
 * records what it changed (populate marks its new entries) so that a failure restores
 * the object exactly.
 */
#include <svmm/vmobj.h>
#include "pmem_internal.h"
#include "vmobj_internal.h"

#define PAGE  SVMM_PAGE_SIZE
#define FANO  512u                          /* entries in an index node */

/* Entry bits: the low 12 bits of a frame address are free. */
#define E_PAGE ((uint64_t)1 << 0)           /* a 4 KiB page */
#define E_HUGE ((uint64_t)1 << 1)           /* a 2 MiB page (covers 512 pages) */
#define E_NODE ((uint64_t)1 << 2)           /* an index node */
#define E_NEW  ((uint64_t)1 << 3)           /* added by the populate in progress */
#define E_SHARED ((uint64_t)1 << 4)         /* a leaf node clones may share (see node_own) */
#define E_PA(e) ((e) & ~(PAGE - 1))

/*
 * The leaf node (the one holding 4 KiB entries) the last walk reached, kept at the end
 * of the object's page, past root[] (24 bytes: what the header leaves free), with the
 * address of the node's owner word once an insert has looked it up: faults and lookups
 * near the last one (the usual case, as a region fills) find their entry without a
 * walk, and a fault puts a new page into it without a second walk or a pmem lookup of
 * the count (leaf_put). Any node freed or moved clears it; a new object's page is
 * zeroed, so it starts with none.
 */
struct obj_hint {
	uint64_t grp;           /* the node holds pages [grp * 512, grp * 512 + 512) */
	uint64_t *node;         /* NULL: no hint */
	uint64_t *meta;         /* the node's owner word; NULL until an insert needs it */
};

_Static_assert(sizeof(struct vmobj) + sizeof(struct obj_hint) <= 4096,
	       "struct vmobj and the walk hint must fit the object's page");

static inline struct obj_hint *hint_of(struct vmobj *o)
{
	return (struct obj_hint *)(void *)((char *)o + 4096 - sizeof(struct obj_hint));
}

static inline void hint_clear(struct vmobj *o)
{
	hint_of(o)->node = NULL;
}

/* ---- pages of metadata and data ---- */

/* A zeroed page below the direct-map limit, for an object or an index node. */
static int meta_alloc(struct pmem *pm, svmm_pa_t *pa)
{
	int err = pmem_alloc(pm, 0, pm->meta_limit, pa);
	if (err == 0)
		__builtin_memset(port_pa_to_va(*pa), 0, PAGE);
	return err;
}

static void meta_free(struct pmem *pm, svmm_pa_t pa)
{
	if (pmem_free(pm, pa, 0) != 0)
		port_panic("vmobj: index page not allocated from pmem");
}

static inline uint64_t *node_va(uint64_t e)
{
	return port_pa_to_va(E_PA(e));
}

/*
 * An index page's owner word: bits 0-15 count its used entries; bits 16-31 and 32-47
 * are the lowest and highest word of the page (0-511) that may hold a used entry.
 * The bounds only widen while entries come and go, and start afresh with the first
 * entry of an empty page; so they are exact for a page filled once and never worse
 * than the whole page. pmem_alloc zeroes the word: a new page is empty.
 */
#define M_COUNT(m) ((unsigned)((m) & 0xffff))
#define M_LO(m)    ((unsigned)(((m) >> 16) & 0xffff))
#define M_HI(m)    ((unsigned)(((m) >> 32) & 0xffff))
#define M_MAKE(c, lo, hi) ((uint64_t)(c) | (uint64_t)(lo) << 16 | (uint64_t)(hi) << 32)
/* The word of the object's page where root[0] lies. */
#define ROOT_WORD ((unsigned)(offsetof(struct vmobj, root) / sizeof(uint64_t)))

static uint64_t *page_meta_pm(struct pmem *pm, svmm_pa_t page)
{
	struct pmem_frame *f = pmem_frame(pm, page);
	if (f == NULL)
		port_panic("vmobj: index page outside RAM");
	return &f->u.owner;
}

static inline uint64_t *page_meta(struct vmobj *o, svmm_pa_t page)
{
	return page_meta_pm(o->pm, page);
}

/* The pmem record whose owner word is at m. */
static inline struct pmem_frame *owner_frame(uint64_t *m)
{
	return (struct pmem_frame *)(void *)((char *)m - offsetof(struct pmem_frame, u.owner));
}

/* page_meta for a series of lookups in one span (a clone's): see pmem_frame_near. */
static uint64_t *page_meta_near(struct vmobj *o, svmm_pa_t page, struct pmem_span **hint)
{
	struct pmem_frame *f = pmem_frame_near(o->pm, page, hint);
	if (f == NULL)
		port_panic("vmobj: index page outside RAM");
	return &f->u.owner;
}

/*
 * root[]'s count and bounds: the object page's pmem owner word, as for a node. Only
 * root[] words within the bounds are initialised (a new object zeroes its header and
 * tail, not its 3,968 bytes of root[]), and a bound of 0 (a header word) means no word
 * is. Widening the bounds zeroes the words they take in (root_widen).
 */
static uint64_t *root_meta_of(struct vmobj *o)
{
	return page_meta(o, port_va_to_pa(o));
}

static inline uint64_t meta_add(uint64_t m, unsigned w)
{
	if (M_COUNT(m) == 0)
		return M_MAKE(1, w, w);
	unsigned lo = M_LO(m) < w ? M_LO(m) : w, hi = M_HI(m) > w ? M_HI(m) : w;
	return M_MAKE(M_COUNT(m) + 1, lo, hi);
}

static inline uint64_t meta_del(uint64_t m)
{
	return M_COUNT(m) == 1 ? 0 : m - 1;
}

/* Is root[i] initialised (within root[]'s bounds)? */
static inline bool root_valid(uint64_t m, unsigned i)
{
	unsigned w = i + ROOT_WORD;
	return M_LO(m) != 0 && w >= M_LO(m) && w <= M_HI(m);
}

/*
 * Widen bounds m (count not 0 for a node, a low bound not 0 for root[]) to take in
 * word w of a page whose words are t[j - off]: zero the words between w and the
 * bounds, and give the widened owner word.
 */
static uint64_t meta_widen(uint64_t *t, unsigned off, uint64_t m, unsigned w)
{
	unsigned lo = M_LO(m), hi = M_HI(m);
	if (w < lo) {
		for (unsigned j = w; j < lo; j++)
			t[j - off] = 0;
		lo = w;
	} else if (w > hi) {
		for (unsigned j = hi + 1; j <= w; j++)
			t[j - off] = 0;
		hi = w;
	}
	return M_MAKE(M_COUNT(m), lo, hi);
}

/* Take root[i] into root[]'s bounds, zeroing the words that come in with it. */
static void root_widen(struct vmobj *o, unsigned i)
{
	uint64_t *m = root_meta_of(o);
	unsigned w = i + ROOT_WORD;
	if (M_LO(*m) == 0) {
		o->root[i] = 0;
		*m = M_MAKE(M_COUNT(*m), w, w);
	} else {
		*m = meta_widen(o->root, ROOT_WORD, *m, w);
	}
}

/*
 * Interior nodes (those above the leaf nodes: their entries are nodes or 2 MiB pages)
 * are like root[]: only the words within their owner word's bounds are initialised,
 * none while the count is 0, so that a clone's interior node, which holds one entry
 * or a few, is not zeroed whole (copy_index zeroes the run it copies into). Leaf nodes
 * are always initialised whole (the walk hint reaches into them without a lookup).
 */
static inline bool node_valid(uint64_t m, unsigned w)
{
	return M_COUNT(m) != 0 && w >= M_LO(m) && w <= M_HI(m);
}

/* Make word w of interior node n (owner word *m) initialised: zero it and the words
   between it and the bounds, which widen to take them in (with a count of 0 the word
   alone is zeroed: the entry that goes into it sets the bounds, see meta_add). */
static void node_widen(uint64_t *n, uint64_t *m, unsigned w)
{
	if (M_COUNT(*m) == 0)
		n[w] = 0;
	else
		*m = meta_widen(n, 0, *m, w);
}

/* Store v in an index slot, counting the page's used entries (see M_COUNT). */
static void slot_set(struct vmobj *o, uint64_t *slot, uint64_t v)
{
	bool root = slot >= o->root && slot < o->root + VMOBJ_ROOT_SLOTS;
	if (root && !root_valid(*root_meta_of(o), (unsigned)(slot - o->root)))
		root_widen(o, (unsigned)(slot - o->root));
	uint64_t old = *slot;
	*slot = v;
	if ((old == 0) == (v == 0))
		return;
	uint64_t *m;
	unsigned w;
	if (root) {
		m = root_meta_of(o);
		w = (unsigned)(slot - o->root) + ROOT_WORD;
	} else {
		svmm_pa_t pa = port_va_to_pa(slot);
		m = page_meta(o, SVMM_ALIGN_DOWN(pa, PAGE));
		w = (unsigned)((pa % PAGE) / sizeof(uint64_t));
	}
	*m = v != 0 ? meta_add(*m, w) : meta_del(*m);
}

/* The first index of a table worth looking at from want, given its page's bounds. */
static inline unsigned first_idx(uint64_t want, uint64_t m, unsigned off)
{
	uint64_t lo = M_LO(m) > off ? M_LO(m) - off : 0;
	if (want > FANO)
		want = FANO;          /* past the index's span (it has not grown that far) */
	return (unsigned)(want > lo ? want : lo);
}

static inline bool direct(const struct pmem *pm, svmm_pa_t pa)
{
	return pm->meta_limit == PMEM_ANY || pa + PAGE <= pm->meta_limit;
}

/* Zero a data frame, through the direct map when it lies in it, else through kmap. */
static void frame_zero(struct pmem *pm, svmm_pa_t pa)
{
	if (direct(pm, pa)) {
		__builtin_memset(port_pa_to_va(pa), 0, PAGE);
		return;
	}
	void *p = port_kmap(pa);
	__builtin_memset(p, 0, PAGE);
	port_kunmap(p);
}

static void frame_copy(struct pmem *pm, svmm_pa_t dst, svmm_pa_t src)
{
	void *d = direct(pm, dst) ? port_pa_to_va(dst) : port_kmap(dst);
	void *s = direct(pm, src) ? port_pa_to_va(src) : port_kmap(src);
	__builtin_memcpy(d, s, PAGE);
	if (!direct(pm, src))
		port_kunmap(s);
	if (!direct(pm, dst))
		port_kunmap(d);
}

/* Free a data frame this object allocated and never shared. */
static void frame_free(struct pmem *pm, svmm_pa_t pa)
{
	if (pmem_free(pm, pa, 0) != 0)
		port_panic("vmobj: cannot free a fresh frame");
}

static void frame_put(struct pmem *pm, svmm_pa_t pa)
{
	if (pmem_put(pm, pa) != 0)
		port_panic("vmobj: indexed frame not allocated in pmem");
}

/* Is the 2 MiB page at pa still one order-9 block (rather than 512 split frames)? */
static bool huge_whole(struct pmem *pm, svmm_pa_t pa)
{
	svmm_pa_t head;
	unsigned order;
	if (pmem_block(pm, pa, &head, &order, NULL) != 0)
		port_panic("vmobj: 2 MiB page outside RAM");
	return head == pa && order == 9;
}

/* Drop the references a leaf entry holds. */
static void entry_release(struct vmobj *o, uint64_t e)
{
	svmm_pa_t pa = E_PA(e);
	if (e & E_PAGE) {
		frame_put(o->pm, pa);
		o->resident--;
	} else if (huge_whole(o->pm, pa)) {
		frame_put(o->pm, pa);
		o->resident -= FANO;
		o->huge--;
	} else {
		for (unsigned i = 0; i < FANO; i++)
			frame_put(o->pm, pa + i * PAGE);
		o->resident -= FANO;
		o->huge--;
	}
}

/* Take one more reference for each frame a leaf entry names (a clone's copy of it). */
static int entry_share(struct pmem *pm, uint64_t e)
{
	svmm_pa_t pa = E_PA(e);
	if ((e & E_PAGE) || huge_whole(pm, pa))
		return pmem_get(pm, pa);
	for (unsigned i = 0; i < FANO; i++) {
		int err = pmem_get(pm, pa + i * PAGE);
		if (err != 0) {
			while (i-- > 0)
				frame_put(pm, pa + i * PAGE);
			return err;
		}
	}
	return 0;
}

/* Is this object the only holder of the frame (4 KiB) or of every frame (2 MiB)? */
static bool entry_exclusive(struct pmem *pm, uint64_t e)
{
	uint32_t refs = 0;
	if ((e & E_HUGE) && !huge_whole(pm, E_PA(e)))
		return false;       /* a split page is written only after it is unfolded */
	if (pmem_refs(pm, E_PA(e), &refs) != 0)
		port_panic("vmobj: indexed frame not allocated in pmem");
	return refs == 1;
}

/* ---- the index ---- */

static inline uint64_t npages(const struct vmobj *o)
{
	return o->size >> SVMM_PAGE_SHIFT;
}

/* Pages covered by one entry of the top level. */
static inline uint64_t top_cover(const struct vmobj *o)
{
	return (uint64_t)1 << (9 * (o->levels - 1));
}

/* The nodes a creating walk made (their parent slots, so that a failure can take
   them back), and its error. */
struct made {
	uint64_t *slot[VMOBJ_MAX_LEVELS];
	unsigned n;
	int err;
};

/*
 * The entry that covers page pg at the deepest level the index reaches, or the
 * entry covering exactly `want` pages (1 or 512) if the index goes that deep. With mk
 * (create), missing nodes on the way are made (recorded in mk) until the entry
 * covering `want` pages is reached.
 * Returns the entry's address and its cover in *cover; NULL when create fails, or
 * when pg lies past what the index spans or outside root[]'s bounds (then nothing is
 * there; create never is: it widens the bounds). With up, *up is the entry naming the
 * leaf node that holds the slot returned when that node may be shared with a clone
 * (E_SHARED), else NULL: such a slot may be read, but not changed before node_own.
 */
static uint64_t *index_slot(struct vmobj *o, uint64_t pg, uint64_t want, struct made *mk,
			    uint64_t *cover, uint64_t **up)
{
	struct obj_hint *h = hint_of(o);
	bool create = mk != NULL;
	if (up != NULL)
		*up = NULL;
	if (want == 1 && h->node != NULL && pg / FANO == h->grp) {
		*cover = 1;
		return &h->node[pg % FANO];
	}
	uint64_t c = top_cover(o);
	if (pg / c >= VMOBJ_ROOT_SLOTS)
		return NULL;          /* past the index's span: nothing there (see index_grow) */
	if (!root_valid(*root_meta_of(o), (unsigned)(pg / c))) {
		if (!create)
			return NULL;  /* an uninitialised root word: nothing there */
		root_widen(o, (unsigned)(pg / c));
	}
	uint64_t *e = &o->root[pg / c];
	while (c > want) {
		if (*e == 0 && create) {
			/* An interior node is not zeroed: the walk initialises the words it
			   takes (node_widen); a leaf node is zeroed whole. */
			svmm_pa_t pa;
			mk->err = c > FANO ? pmem_alloc(o->pm, 0, o->pm->meta_limit, &pa)
					   : meta_alloc(o->pm, &pa);
			if (mk->err != 0)
				return NULL;
			slot_set(o, e, pa | E_NODE);
			o->nodes++;
			mk->slot[mk->n++] = e;
		}
		if (!(*e & E_NODE))
			break;
		uint64_t *n = node_va(*e);
		unsigned w = (unsigned)((pg / (c / FANO)) % FANO);
		if (c > FANO) {
			/* An interior node: the word may lie outside what is initialised. */
			uint64_t *m = page_meta(o, E_PA(*e));
			if (!node_valid(*m, w)) {
				if (!create)
					return NULL;      /* nothing there */
				node_widen(n, m, w);
			}
		}
		c /= FANO;
		uint64_t *pe = e;
		e = &n[w];
		if (c == 1 && (*pe & E_SHARED)) {
			/* A leaf node a clone may share: never the hint (see node_own). */
			if (up != NULL)
				*up = pe;
			break;
		}
		if (c == 1) {
			h->grp = pg / FANO;
			h->node = e - pg % FANO;
			h->meta = NULL;
		}
	}
	*cover = c;
	return e;
}

/* Take back nodes index_slot made, deepest first (they hold nothing yet). */
static void index_unmake(struct vmobj *o, struct made *mk)
{
	hint_clear(o);
	while (mk->n-- > 0) {
		meta_free(o->pm, E_PA(*mk->slot[mk->n]));
		slot_set(o, mk->slot[mk->n], 0);
		o->nodes--;
	}
}

/*
 * Add levels on top until the index spans page pg (below the object's size): an empty
 * index just counts one more level; a used one moves root[] into a new node that
 * becomes root[0]. Allocates every node first. Returns 0 with the number of levels
 * added in *grown, or SVMM_ENOMEM with nothing changed. Not inlined: its array stays
 * off the frame of index_insert, which is on the deepest fault path.
 */
static __attribute__((noinline)) int index_grow(struct vmobj *o, uint64_t pg,
						 unsigned *grown)
{
	svmm_pa_t pa[VMOBJ_MAX_LEVELS];
	unsigned k = 0;
	*grown = 0;
	while (pg / (top_cover(o) << (9 * k)) >= VMOBJ_ROOT_SLOTS)
		k++;
	if (k == 0)
		return 0;
	uint64_t *m = root_meta_of(o);
	if (M_COUNT(*m) == 0) {
		o->levels = (uint8_t)(o->levels + k);
		*grown = k;
		return 0;
	}
	for (unsigned i = 0; i < k; i++) {
		int err = meta_alloc(o->pm, &pa[i]);
		if (err != 0) {
			while (i-- > 0)
				meta_free(o->pm, pa[i]);
			return err;
		}
	}
	for (unsigned i = 0; i < k; i++) {
		uint64_t *n = port_pa_to_va(pa[i]);
		unsigned lo = M_LO(*m) - ROOT_WORD, hi = M_HI(*m) - ROOT_WORD;
		for (unsigned j = lo; j <= hi; j++) {
			n[j] = o->root[j];
			o->root[j] = 0;
		}
		*page_meta(o, pa[i]) = M_MAKE(M_COUNT(*m), lo, hi);
		o->root[0] = pa[i] | E_NODE;
		*m = M_MAKE(1, ROOT_WORD, ROOT_WORD);
		o->nodes++;
		o->levels++;
	}
	*grown = k;
	return 0;
}

/*
 * Can the index lose its top level? Yes when it is empty, or when root[0] is its only
 * entry and a node with nothing past entry 495 (so that root[] can take its entries),
 * unless that node is a leaf node a clone may share: its entries cannot move, so the
 * index keeps the level until the node is its own.
 */
static bool index_shrinkable(struct vmobj *o, uint64_t m)
{
	if (o->levels == 1)
		return false;
	if (M_COUNT(m) == 0)
		return true;
	if (M_COUNT(m) != 1 || M_LO(m) != ROOT_WORD || !(o->root[0] & E_NODE) ||
	    (o->root[0] & E_SHARED))
		return false;
	/* Only words within the node's bounds are initialised (an interior node's). */
	const uint64_t *n = node_va(o->root[0]);
	uint64_t nm = *page_meta(o, E_PA(o->root[0]));
	for (unsigned j = M_LO(nm) > VMOBJ_ROOT_SLOTS ? M_LO(nm) : VMOBJ_ROOT_SLOTS;
	     j <= M_HI(nm); j++)
		if (n[j] != 0)
			return false;
	return true;
}

/*
 * Undo index_grow where entries went: drop top levels while they are not needed, so
 * that the index always has the fewest levels that span its highest page (one when
 * empty). A failed call that grew the index thus leaves it exactly as it was.
 */
static void index_shrink(struct vmobj *o)
{
	uint64_t *m = root_meta_of(o);
	while (index_shrinkable(o, *m)) {
		hint_clear(o);
		if (M_COUNT(*m) == 0) {
			o->levels = 1;
			return;
		}
		svmm_pa_t pa = E_PA(o->root[0]);
		uint64_t *n = port_pa_to_va(pa), nm = *page_meta(o, pa);
		unsigned hi = M_HI(nm) < VMOBJ_ROOT_SLOTS ? M_HI(nm) : VMOBJ_ROOT_SLOTS - 1;
		o->root[0] = 0;
		for (unsigned j = M_LO(nm); j <= hi; j++)
			o->root[j] = n[j];
		*m = M_MAKE(M_COUNT(nm), M_LO(nm) + ROOT_WORD, hi + ROOT_WORD);
		meta_free(o->pm, pa);
		o->nodes--;
		o->levels--;
	}
}


/* A full scan: only the checker uses it, to check the counts. */
static bool node_empty(const uint64_t *n)
{
	for (unsigned i = 0; i < FANO; i++)
		if (n[i] != 0)
			return false;
	return true;
}

/*
 * Visit every leaf entry overlapping pages [start, end), calling fn on it; free any
 * node the visit leaves empty. fn may clear the entry. Each table is scanned only
 * between its page's bounds, so a sparse index costs what it holds, not its span.
 * Iterative, with one small frame per index level, so that its stack does not grow
 * with the depth of the index.
 */
typedef void (*leaf_fn)(struct vmobj *o, uint64_t *e, uint64_t pg, uint64_t cover, void *ctx);
static void release_leaf(struct vmobj *o, uint64_t *e, uint64_t pg, uint64_t cover, void *ctx);
static bool node_drop(struct vmobj *o, uint64_t *pe, uint64_t pg, uint64_t start,
		      uint64_t end);

/* The owner word of the table at depth d of a visit (tab[] and idx[] of the levels above). */
static uint64_t *visit_meta(struct vmobj *o, uint64_t *const *tab, const unsigned *idx,
			    unsigned d)
{
	return d == 0 ? root_meta_of(o) : page_meta(o, E_PA(tab[d - 1][idx[d - 1]]));
}

static void visit_range(struct vmobj *o, uint64_t start, uint64_t end, leaf_fn fn, void *ctx)
{
	uint64_t *tab[VMOBJ_MAX_LEVELS], base[VMOBJ_MAX_LEVELS];
	unsigned idx[VMOBJ_MAX_LEVELS], d = 0;
	uint64_t top = top_cover(o);

	tab[0] = o->root;
	base[0] = 0;
	/* The current table's owner word; its words start at off. */
	uint64_t *m = visit_meta(o, tab, idx, 0);
	unsigned off = ROOT_WORD;
	idx[0] = first_idx(start / top, *m, off);
	for (;;) {
		uint64_t cover = top >> (9 * d);
		unsigned n = d == 0 ? VMOBJ_ROOT_SLOTS : FANO;
		if (idx[d] >= n || idx[d] + off > M_HI(*m) || M_COUNT(*m) == 0 ||
		    base[d] + idx[d] * cover >= end) {
			if (d == 0)
				break;
			/* Back up one level: the node just finished may be empty now. */
			bool empty = M_COUNT(*m) == 0;
			d--;
			m = visit_meta(o, tab, idx, d);
			off = d == 0 ? ROOT_WORD : 0;
			uint64_t *pe = &tab[d][idx[d]];
			if (empty) {
				hint_clear(o);
				meta_free(o->pm, E_PA(*pe));
				*pe = 0;
				*m = meta_del(*m);
				o->nodes--;
			}
			idx[d]++;
			continue;
		}
		uint64_t *pe = &tab[d][idx[d]], pg = base[d] + idx[d] * cover;
		if (*pe == 0) {
			idx[d]++;
		} else if ((*pe & E_SHARED) && fn == release_leaf &&
			   node_drop(o, pe, pg, start, end)) {
			/* The only visit that changes entries lets a shared node go whole;
			   the others only read (no populate mark is ever in one). */
			*m = meta_del(*m);
			idx[d]++;
		} else if (*pe & E_NODE) {
			tab[d + 1] = node_va(*pe);
			base[d + 1] = pg;
			m = page_meta(o, E_PA(*pe));
			off = 0;
			idx[d + 1] = first_idx(start > pg ? (start - pg) / (cover / FANO) : 0, *m, 0);
			d++;
		} else {
			fn(o, pe, pg, cover, ctx);
			if (*pe == 0)
				*m = meta_del(*m);
			idx[d]++;
		}
	}
	index_shrink(o);
}

/*
 * Replace the 2 MiB entry *e by the node at node_pa (allocated by the caller) naming
 * its 512 frames one by one, splitting the pmem block first if nobody has yet. The
 * object then holds one reference on each frame, as before.
 */
static void huge_unfold(struct vmobj *o, uint64_t *e, svmm_pa_t node_pa)
{
	svmm_pa_t pa = E_PA(*e);
	if (huge_whole(o->pm, pa) && pmem_split(o->pm, pa) != 0)
		port_panic("vmobj: cannot split a 2 MiB page");
	uint64_t *n = port_pa_to_va(node_pa);
	for (unsigned i = 0; i < FANO; i++)
		n[i] = (pa + i * PAGE) | E_PAGE | (*e & E_NEW);
	*page_meta(o, node_pa) = M_MAKE(FANO, 0, FANO - 1);
	*e = node_pa | E_NODE;
	o->nodes++;
	o->huge--;
}

/*
 * Leaf nodes shared with clones. vmobj_clone gives the clone its source's leaf nodes
 * themselves (the whole node lies in the cloned range): one more pmem reference on the
 * node's page, where a copy would take one more on each of its frames, and both
 * entries naming the node get E_SHARED. A node's pmem count is then how many objects
 * index it, and a frame's count how many index pages name it, so pmem's counts stay
 * the one truth about sharing, in two steps. A shared node is never changed: an object
 * that must change one (a page put in, a copy-on-write, a discard of part of it) first
 * takes its own copy (node_own), and the walk hint never names one, so that the
 * fault's fast path cannot write into it. E_SHARED means "may be shared": the other
 * holders may have gone since, and node_own then only clears the mark.
 */

/* Does [start, end) take every used entry of the leaf node (owner word m) at pg? */
static inline bool covers(uint64_t m, uint64_t pg, uint64_t start, uint64_t end)
{
	return M_COUNT(m) != 0 && start <= pg + M_LO(m) && pg + M_HI(m) < end;
}

/*
 * Does the leaf node n (owner word m) at page pg, which overlaps pages [start, end),
 * hold an entry there? A discard that takes none of a shared node's entries leaves
 * the node alone: no copy of it, so no page to find (the undo of a fault that read
 * through to a backing object discards a page the object never held).
 */
static bool holds_in(const uint64_t *n, uint64_t m, uint64_t pg, uint64_t start,
		     uint64_t end)
{
	uint64_t lo = start > pg ? start - pg : 0, hi = end - pg;
	if (M_COUNT(m) == 0)
		return false;
	if (lo < M_LO(m))
		lo = M_LO(m);
	if (hi > M_HI(m) + 1u)
		hi = M_HI(m) + 1u;
	for (uint64_t i = lo; i < hi; i++)
		if (n[i] != 0)
			return true;
	return false;
}

/* The count of the index node page pa: how many objects hold it. */
static inline uint32_t node_refs(struct pmem *pm, svmm_pa_t pa)
{
	uint32_t refs;
	if (pmem_refs(pm, pa, &refs) != 0)
		port_panic("vmobj: index node not allocated in pmem");
	return refs;
}

/*
 * Is the leaf node that *up names with E_SHARED still held by another object? If not,
 * the mark goes: under o's lock no other holder can come back (only a clone of o adds
 * one), so no copy of the node is needed.
 */
static bool still_shared(struct vmobj *o, uint64_t *up)
{
	bool shared = node_refs(o->pm, E_PA(*up)) != 1;
	if (!shared)
		*up &= ~E_SHARED;
	return shared;
}

/*
 * Give o its own copy, in page pa (the caller's, or 0: one is allocated here), of the
 * leaf node that entry *up names with E_SHARED: the same entries, a reference more on
 * each frame. *left is then the node left behind, on which o still holds its reference
 * (node_left lets it go, node_back takes the copy back). When o turns out to be the
 * node's only holder, only the mark goes: *left is 0, and no page is used or
 * allocated. Fails (SVMM_ENOMEM, SVMM_EREFCNT: a frame's count is full) with nothing
 * changed (a page allocated here is freed again).
 */
static int node_own(struct vmobj *o, uint64_t *up, svmm_pa_t pa, svmm_pa_t *left)
{
	svmm_pa_t old = E_PA(*up);
	*left = 0;
	if (!still_shared(o, up))
		return 0;
	svmm_pa_t mine = 0;
	if (pa == 0) {
		int err = pmem_alloc(o->pm, 0, o->pm->meta_limit, &mine);
		if (err != 0)
			return err;
		pa = mine;
	}
	uint64_t m = *page_meta(o, old);
	unsigned lo = M_LO(m), hi = M_HI(m);
	const uint64_t *sn = port_pa_to_va(old);
	uint64_t *dn = port_pa_to_va(pa);
	/* The copy of the used run takes its references in the same pass. */
	int err = pmem_get_copy(o->pm, sn + lo, dn + lo, hi - lo + 1);
	if (err != 0) {
		if (mine != 0)
			meta_free(o->pm, mine);
		return err;
	}
	__builtin_memset(dn, 0, lo * sizeof(uint64_t));
	__builtin_memset(dn + hi + 1, 0, (FANO - 1 - hi) * sizeof(uint64_t));
	*page_meta(o, pa) = m;
	*up = pa | E_NODE;
	*left = old;
	return 0;
}

/* Drop the references of leaf node page pa, whose only holder the caller is, and free it. */
static void node_release(struct pmem *pm, svmm_pa_t pa)
{
	const uint64_t *n = port_pa_to_va(pa);
	uint64_t m = *page_meta_pm(pm, pa);
	for (unsigned i = M_LO(m); M_COUNT(m) != 0 && i <= M_HI(m); i++)
		if (n[i] != 0)
			frame_put(pm, E_PA(n[i]));
	meta_free(pm, pa);
}

/* Let go of the node node_own left behind: one reference less, or, when the other
   holders have all gone meanwhile, its frames' references and the page. */
static void node_left(struct pmem *pm, svmm_pa_t left)
{
	bool dropped;
	if (pmem_put_unless_last(pm, left, &dropped) != 0)
		port_panic("vmobj: index node not allocated in pmem");
	if (!dropped)
		node_release(pm, left);
}

/* Take back node_own: *up names the shared node left again, and the copy (with
   whatever went into it since: a page the fault made) goes. */
static void node_back(struct vmobj *o, uint64_t *up, svmm_pa_t left)
{
	svmm_pa_t copy = E_PA(*up);
	hint_clear(o);
	/* A page put into the copy since goes with it (see vmobj_fault_end). */
	o->resident -= M_COUNT(*page_meta(o, copy)) - M_COUNT(*page_meta(o, left));
	*up = left | E_NODE | E_SHARED;
	node_release(o->pm, copy);
}

/*
 * release_leaf's visit (discard, the last put) reaches leaf node *pe, marked shared,
 * at page pg: drop o's reference on the node rather than on its frames, which the
 * other holders still name. The range must take the whole node or none of its entries
 * (a discard that cuts one gives o its own copy first, see crossing). Returns true
 * when dropped (*pe is then 0); false when none of its entries goes (the node stays
 * as it is, and the visit finds nothing in it), or when o turns out to be the node's
 * only holder: the mark goes, and the visit takes the node apart as any other.
 */
static bool node_drop(struct vmobj *o, uint64_t *pe, uint64_t pg, uint64_t start,
		      uint64_t end)
{
	svmm_pa_t pa = E_PA(*pe);
	uint64_t m = *page_meta(o, pa);
	bool dropped = false;
	if (covers(m, pg, start, end)) {
		if (pmem_put_unless_last(o->pm, pa, &dropped) != 0)
			port_panic("vmobj: index node not allocated in pmem");
	} else if (!holds_in(node_va(*pe), m, pg, start, end)) {
		return false;             /* nothing of it goes: the visit only reads it */
	} else if (node_refs(o->pm, pa) != 1) {
		port_panic("vmobj: a discard cuts a shared index node");
	}
	if (!dropped) {
		*pe &= ~E_SHARED;
		return false;
	}
	o->resident -= M_COUNT(m);
	o->nodes--;
	*pe = 0;
	return true;
}

/* ---- creation and destruction ---- */

static int check_size(uint64_t size)
{
	if (size == 0)
		return SVMM_EZEROSIZE;
	if (!SVMM_IS_ALIGNED(size, PAGE))
		return SVMM_EUNALIGNED;
	if (size > VMOBJ_MAX_SIZE)
		return SVMM_ERANGE;
	return 0;
}

static int obj_new(struct pmem *pm, uint64_t size, unsigned kind, struct vmobj **objp)
{
	svmm_pa_t pa;
	int err = pmem_alloc(pm, 0, pm->meta_limit, &pa);
	if (err != 0)
		return err;
	/* The header and the tail; root[] words are zeroed as its bounds take them in. */
	struct vmobj *o = port_pa_to_va(pa);
	__builtin_memset(o, 0, offsetof(struct vmobj, root));
	__builtin_memset(hint_of(o), 0, sizeof(struct obj_hint));
	o->pm = pm;
	o->size = size;
	o->kind = (uint8_t)kind;
	o->refs = 1;
	o->levels = 1;        /* grows with the highest page indexed (index_grow) */
	*objp = o;
	return 0;
}

int vmobj_create_anon(struct pmem *pm, uint64_t size, struct vmobj **objp)
{
	if (pm == NULL || objp == NULL)
		return SVMM_EINVAL;
	int err = check_size(size);
	return err != 0 ? err : obj_new(pm, size, VMOBJ_ANON, objp);
}

int vmobj_create_pager(struct pmem *pm, uint64_t size, vmobj_fill_fn fill, void *ctx,
		       struct vmobj **objp)
{
	if (pm == NULL || objp == NULL || fill == NULL)
		return SVMM_EINVAL;
	int err = check_size(size);
	if (err == 0)
		err = obj_new(pm, size, VMOBJ_PAGER, objp);
	if (err == 0) {
		(*objp)->fill = fill;
		(*objp)->fill_ctx = ctx;
	}
	return err;
}

int vmobj_create_cow(struct vmobj *backing, uint64_t off, uint64_t size,
		     struct vmobj **objp)
{
	if (backing == NULL || objp == NULL || backing->backing != NULL)
		return SVMM_EINVAL;
	int err = check_size(size);
	if (err != 0)
		return err;
	if (!SVMM_IS_ALIGNED(off, PAGE))
		return SVMM_EUNALIGNED;
	if (off > backing->size || size > backing->size - off)
		return SVMM_ERANGE;
	err = vmobj_get(backing);
	if (err != 0)
		return err;
	err = obj_new(backing->pm, size, VMOBJ_ANON, objp);
	if (err != 0) {
		vmobj_put(backing);
		return err;
	}
	(*objp)->backing = backing;
	(*objp)->backing_off = off;
	return 0;
}

int vmobj_get(struct vmobj *obj)
{
	int err = 0;
	port_lock(&obj->lock);
	if (obj->refs == UINT32_MAX)
		err = SVMM_EREFCNT;
	else
		obj->refs++;
	port_unlock(&obj->lock);
	return err;
}

static void release_leaf(struct vmobj *o, uint64_t *e, uint64_t pg, uint64_t cover, void *ctx)
{
	(void)pg;
	(void)cover;
	(void)ctx;
	entry_release(o, *e);
	*e = 0;
}

/*
 * Index pages set aside by vmobj_reserve, a stack chained through the first word of
 * each (zeroed again when taken, so a page comes out as meta_alloc gives it).
 */
static void spare_push(struct vmobj *o, svmm_pa_t pa)
{
	*(uint64_t *)port_pa_to_va(pa) = o->spare;
	o->spare = pa;
}

static svmm_pa_t spare_pop(struct vmobj *o)
{
	svmm_pa_t pa = o->spare;
	if (pa != 0) {
		uint64_t *w = port_pa_to_va(pa);
		o->spare = w[0];
		w[0] = 0;
	}
	return pa;
}

/* Free every frame, node and the object's own page. */
static void obj_free(struct vmobj *o)
{
	visit_range(o, 0, npages(o), release_leaf, NULL);
	for (svmm_pa_t pa; (pa = spare_pop(o)) != 0;)
		meta_free(o->pm, pa);
	if (o->resident != 0 || o->nodes != 0 || o->huge != 0)
		port_panic("vmobj: frames or index pages unaccounted for");
	struct vmobj *b = o->backing;
	meta_free(o->pm, port_va_to_pa(o));
	if (b != NULL)
		vmobj_put(b);
}

void vmobj_put(struct vmobj *obj)
{
	port_lock(&obj->lock);
	if (obj->refs == 0)
		port_panic("vmobj: put of an object without references");
	bool last = --obj->refs == 0;
	port_unlock(&obj->lock);
	if (last)
		obj_free(obj);
}

/* ---- clone ---- */

/*
 * Copy the used entries of leaf node sn in words [lo, hi), a range that takes only
 * part of it (a whole node is shared, see node_own), into the new node dn, whose owner
 * word is *dm, taking their references with one pmem call. dn comes unzeroed. On
 * failure dn is left empty (all zero).
 */
static int copy_leaf(struct vmobj *c, const uint64_t *sn, uint64_t *dn, uint64_t *dm,
		     unsigned lo, unsigned hi)
{
	unsigned cnt = 0, first = 0, last = 0;
	__builtin_memset(dn, 0, PAGE);
	for (unsigned i = lo; i < hi; i++) {
		uint64_t e = sn[i];
		if (e == 0)
			continue;
		dn[i] = e;
		if (cnt++ == 0)
			first = i;
		last = i;
	}
	if (cnt == 0)
		return 0;
	int err = pmem_get_many(c->pm, dn + first, last - first + 1);
	if (err != 0) {
		__builtin_memset(dn + first, 0, (last - first + 1) * sizeof(uint64_t));
		return err;
	}
	*dm = M_MAKE(cnt, first, last);
	c->resident += cnt;
	return 0;
}

/*
 * The state of one table open in copy_index: the source table and its copy, the
 * copy's owner word (where it goes, and its value as built so far), the first page
 * the table covers, the scan's next index and end, the table's first word in its
 * page, and the used entries the scan has not reached yet (see below).
 */
struct copy_level {
	uint64_t *st;
	uint64_t *dt;
	uint64_t *dm;
	uint64_t dw;
	uint64_t base;
	unsigned idx, hi, woff, unseen;
};

/*
 * Copy the entries of src that overlap pages [start, end) into the clone c, taking a
 * reference for every frame; iterative, as visit_range. Each source table (root[]
 * included) is scanned only between its page's bounds (see M_LO), runs of empty
 * entries in a tight loop (a sparse index, such as an address space's object with its
 * code at the bottom and its stack at the top, is mostly empty entries). A copied
 * table's count and bounds are kept in a local word and stored in its owner word once,
 * when the copy leaves it (entries go in in increasing order, so its first and last
 * are its bounds); the clone's root[] words within the source's bounds are zeroed
 * once at the start, so that its bounds may be set the same way. A leaf node the range
 * takes whole is shared (one reference on the node, see node_own); one it cuts is
 * copied in part by copy_leaf, one pmem lock for all its frames. Stops at the first failure,
 * after storing the words of the tables still open; what was copied so far is an
 * index that obj_free can take apart (empty nodes included). The open tables' state
 * is one array of structs reached through a pointer to the current one (l), and the
 * current table's cover is kept in a local and shifted on the way down and up: each
 * field is then one load or store from l, where separate per-level arrays cost an
 * address computation for each and kept more values live across the calls.
 */
static int copy_index(struct vmobj *c, struct vmobj *src, uint64_t start, uint64_t end)
{
	struct copy_level lv[VMOBJ_MAX_LEVELS], *l = lv;
	uint64_t cover = top_cover(src);
	struct pmem_span *hint = NULL;      /* index pages mostly share one span */
	int err = 0;

	/* Only root[]'s initialised words are read (see root_meta_of). */
	uint64_t rm = *page_meta_near(src, port_va_to_pa(src), &hint);
	if (M_LO(rm) == 0)
		return 0;
	l->st = src->root;
	l->dt = c->root;
	l->dm = page_meta_near(c, port_va_to_pa(c), &hint);
	l->dw = 0;
	l->woff = ROOT_WORD;
	l->base = 0;
	l->idx = first_idx(start / cover, rm, ROOT_WORD);
	l->hi = M_HI(rm) - ROOT_WORD + 1;
	l->unseen = l->idx + ROOT_WORD == M_LO(rm) ? M_COUNT(rm) : UINT32_MAX;
	__builtin_memset(c->root + l->idx, 0,
			 l->idx < l->hi ? (l->hi - l->idx) * sizeof(uint64_t) : 0);
	for (;;) {
		uint64_t *t = l->st;
		unsigned i = l->idx, h = l->hi;
		/* Past the range: at most the entries below end are worth a look. */
		uint64_t left = (end - l->base + cover - 1) / cover;
		if (left < h)
			h = (unsigned)left;
		if (i > h)
			i = h;   /* the scan starts past what is in sight: nothing to look at */
		const uint64_t *p = t + i, *pe = t + h;
		/*
		 * A scan that began at the table's low bound knows how many used entries it
		 * has not reached (its count less those seen; else UINT32_MAX): none left
		 * ends it, and one left that is the last word in sight is that word (the
		 * stack's entry at the top of a sparse index, with nothing between).
		 */
		if (l->unseen == 0) {
			p = pe;
		} else if (l->unseen == 1 && p != pe && pe[-1] != 0) {
			p = pe - 1;
		} else {
			/* Four words a step while four remain: one branch for each four. */
			while (pe - p >= 4 && (p[0] | p[1] | p[2] | p[3]) == 0)
				p += 4;
			while (p != pe && *p == 0)
				p++;
		}
		i = (unsigned)(p - t);
		if (i >= h) {
			*l->dm = l->dw;
			if (l == lv)
				return 0;
			l--;
			cover *= FANO;
			continue;
		}
		/* The scan goes on past this entry, whatever it is (a table below is
		   scanned first): idx need not be kept across the calls below. */
		l->idx = i + 1;
		l->unseen--;
		uint64_t e = t[i], pg = l->base + i * cover;
		if (!(e & E_NODE)) {
			err = entry_share(c->pm, e);
			if (err != 0)
				break;
			if (e & E_HUGE) {
				c->resident += FANO;
				c->huge++;
			} else {
				c->resident++;
			}
			l->dt[i] = e;
			l->dw = meta_add(l->dw, i + l->woff);
			continue;
		}
		if (cover == FANO) {
			/* A leaf node the range takes whole is shared, not copied. */
			uint64_t *smp = page_meta_near(src, E_PA(e), &hint), sm = *smp;
			if (covers(sm, pg, start, end)) {
				/* The owner word is the record's: no second lookup. */
				err = pmem_get_frame(c->pm, owner_frame(smp));
				if (err != 0)
					break;
				t[i] = e | E_SHARED;
				l->dt[i] = e | E_SHARED;
				l->dw = meta_add(l->dw, i + l->woff);
				c->nodes++;
				c->resident += M_COUNT(sm);
				src->shares = c->shares = 1;
				continue;
			}
		}
		/* A leaf node's words are all written by copy_leaf, an interior node's run
		   is zeroed below: no zeroing of the page. */
		svmm_pa_t pa;
		err = pmem_alloc(c->pm, 0, c->pm->meta_limit, &pa);
		if (err != 0)
			break;
		uint64_t v = pa | E_NODE;
		l->dt[i] = v;
		l->dw = meta_add(l->dw, i + l->woff);
		if (cover == FANO) {
			/* A leaf node the range cuts: copy its part, one pmem call for its
			   frames. The calls come before the bounds are worked out from sm,
			   so that those need not be kept across them. */
			uint64_t sm = *page_meta_near(src, E_PA(e), &hint);
			const uint64_t *sn = node_va(e);
			uint64_t *dn = node_va(v), *dmw = page_meta_near(c, E_PA(v), &hint);
			unsigned lo = first_idx(start > pg ? start - pg : 0, sm, 0);
			uint64_t lh = M_COUNT(sm) == 0 ? 0 : M_HI(sm) + 1;
			if (lh > end - pg)
				lh = end - pg;
			c->nodes++;
			err = copy_leaf(c, sn, dn, dmw, lo, (unsigned)lh);
			if (err != 0)
				break;
		} else {
			uint64_t sm = *page_meta_near(src, E_PA(e), &hint);
			c->nodes++;
			cover /= FANO;
			l++;
			l->st = node_va(e);
			l->dt = node_va(v);
			l->dm = page_meta_near(c, E_PA(v), &hint);
			l->dw = 0;
			l->woff = 0;
			l->base = pg;
			l->idx = first_idx(start > pg ? (start - pg) / cover : 0, sm, 0);
			l->hi = M_COUNT(sm) == 0 ? 0 : M_HI(sm) + 1;
			l->unseen = l->idx == M_LO(sm) ? M_COUNT(sm) : UINT32_MAX;
			/* An interior node: only the words the scan may fill are initialised. */
			__builtin_memset(l->dt + l->idx, 0,
					 l->idx < l->hi ? (l->hi - l->idx) * sizeof(uint64_t) : 0);
		}
	}
	for (;; l--) {
		*l->dm = l->dw;
		if (l == lv)
			break;
	}
	return err;
}

static void keep_leaf(struct vmobj *o, uint64_t *e, uint64_t pg, uint64_t cover, void *ctx)
{
	(void)o;
	(void)e;
	(void)pg;
	(void)cover;
	(void)ctx;
}

int vmobj_clone(struct vmobj *obj, uint64_t off, uint64_t size, struct vmobj **clonep)
{
	if (obj == NULL || clonep == NULL)
		return SVMM_EINVAL;
	int err = check_size(size);
	if (err != 0)
		return err;
	if (!SVMM_IS_ALIGNED(off, PAGE))
		return SVMM_EUNALIGNED;
	if (off > obj->size || size > obj->size - off)
		return SVMM_ERANGE;
	struct vmobj *c;
	port_lock(&obj->lock);
	hint_clear(obj);          /* it may name a node the clone is about to share */
	err = obj_new(obj->pm, obj->size, obj->kind, &c);
	if (err != 0)
		goto out;
	c->fill = obj->fill;
	c->fill_ctx = obj->fill_ctx;
	c->levels = obj->levels;          /* copy_index copies the shape */
	c->backing_off = obj->backing_off;
	if (obj->backing != NULL) {
		err = vmobj_get(obj->backing);
		if (err != 0) {
			obj_free(c);
			goto out;
		}
		c->backing = obj->backing;
	}
	uint64_t start = off >> SVMM_PAGE_SHIFT, end = start + (size >> SVMM_PAGE_SHIFT);
	err = copy_index(c, obj, start, end);
	if (err != 0) {
		obj_free(c);
		goto out;
	}
	/* A node whose entries all lay outside the range was copied empty: prune it. */
	if (start != 0 || end != npages(obj))
		visit_range(c, 0, npages(c), keep_leaf, NULL);
	*clonep = c;
out:
	port_unlock(&obj->lock);
	return err;
}

/* ---- faults ---- */

static int check_off(const struct vmobj *o, uint64_t off)
{
	if (!SVMM_IS_ALIGNED(off, PAGE))
		return SVMM_EUNALIGNED;
	if (off >= o->size)
		return SVMM_ERANGE;
	return 0;
}

/*
 * The leaf entry (0 if none) covering page pg, and its cover; *shared (unless NULL):
 * it lies in a leaf node another object holds too (asked of pmem: the mark may be
 * stale, after a failed clone or once the other holders went). Never allocates.
 */
static uint64_t leaf_at(struct vmobj *o, uint64_t pg, uint64_t *cover, bool *shared)
{
	uint64_t *up;
	uint64_t *e = index_slot(o, pg, 1, NULL, cover, &up);
	if (shared != NULL)
		*shared = up != NULL && node_refs(o->pm, E_PA(*up)) != 1;
	return e == NULL || (*e & E_NODE) ? 0 : *e;
}

/*
 * Give o its own copy of the shared leaf node *up (see node_own) for a change at page
 * pg: the hint names the node then. *left as node_own says. Fails with SVMM_ENOMEM or
 * SVMM_EREFCNT, with nothing changed.
 */
static __attribute__((noinline)) int own_leaf(struct vmobj *o, uint64_t *up, uint64_t pg,
						    svmm_pa_t *left)
{
	int err = node_own(o, up, 0, left);
	if (err != 0)
		return err;
	struct obj_hint *h = hint_of(o);
	h->grp = pg / FANO;
	h->node = node_va(*up);
	h->meta = NULL;
	return 0;
}

/*
 * Before a page goes in at pg through index_insert (populate, a backing object's page
 * for a copy-on-write object): give o its own copy of the leaf node there if a clone
 * may share it, at once (such a caller does not take it back). Fails with SVMM_ENOMEM
 * or SVMM_EREFCNT, with nothing changed. Not inlined: its frame stays off the paths
 * that do not need it.
 */
static __attribute__((noinline)) int own_at(struct vmobj *o, uint64_t pg)
{
	uint64_t *up, cover;
	svmm_pa_t left = 0;
	(void)index_slot(o, pg, 1, NULL, &cover, &up);
	int err = up != NULL ? own_leaf(o, up, pg, &left) : 0;
	if (left != 0)
		node_left(o->pm, left);
	return err;
}

/*
 * What a resident leaf answers for page pg; excl is entry_exclusive's answer for it,
 * which the caller has (a fault asks it once, and pmem_refs takes pmem's lock).
 */
static void answer(uint64_t e, uint64_t pg, bool huge_ok, bool excl, struct vmobj_page *res)
{
	res->copied = 0;
	res->writable = excl;
	if ((e & E_HUGE) && huge_ok) {
		res->pa = E_PA(e);
		res->order = 9;
		return;
	}
	res->order = 0;
	res->pa = (e & E_HUGE) ? E_PA(e) + (pg % FANO) * PAGE : E_PA(e);
}

/*
 * Put the 4 KiB page entry v into the empty slot of the lowest level that a walk of
 * this object has just returned (so that no node is missing on the way). In the hint's
 * node (the usual case: the walk set it), the count is updated through the hint's
 * owner-word address, looked up once per node rather than once per page.
 */
static inline __attribute__((always_inline)) void leaf_put(struct vmobj *o, uint64_t *slot,
							   uint64_t v)
{
	struct obj_hint *h = hint_of(o);
	uintptr_t at = (uintptr_t)slot - (uintptr_t)h->node;
	if (h->node != NULL && at < FANO * sizeof(uint64_t)) {
		if (h->meta == NULL)
			h->meta = page_meta(o, port_va_to_pa(h->node));
		*slot = v;
		*h->meta = meta_add(*h->meta, (unsigned)(at / sizeof(uint64_t)));
	} else {
		slot_set(o, slot, v);
	}
	o->resident++;
}

/* Put a frame in at page pg (a 2 MiB page when huge). Allocates index nodes only; the
   leaf node the page goes into must be o's own (see own_at). */
static int index_insert(struct vmobj *o, uint64_t pg, uint64_t e)
{
	struct made mk;
	uint64_t cover;
	int err = 0;
	uint64_t want = (e & E_HUGE) ? FANO : 1;
	unsigned grown = 0;
	/* A 2 MiB entry needs a level under the root: the index spans page 496 then. */
	uint64_t need = want == FANO && pg < VMOBJ_ROOT_SLOTS ? VMOBJ_ROOT_SLOTS : pg;
	if (need / top_cover(o) >= VMOBJ_ROOT_SLOTS) {
		err = index_grow(o, need, &grown);
		if (err != 0)
			return err;
	}
	mk.n = 0;
	mk.err = 0;
	uint64_t *slot = index_slot(o, pg, want, &mk, &cover, NULL);
	if (slot == NULL) {
		index_unmake(o, &mk);
		if (grown != 0)
			index_shrink(o);
		return mk.err;
	}
	if (cover != want || *slot != 0)
		port_panic("vmobj: inserting over a resident page");
	if (want == 1) {
		leaf_put(o, slot, e);
	} else {
		slot_set(o, slot, e);
		o->resident += FANO;
		o->huge++;
	}
	return 0;
}

/* Does the index hold nothing in page pg's aligned group of 512 pages? */
static bool group_empty(struct vmobj *o, uint64_t pg)
{
	uint64_t cover;
	if (o->levels == 1)       /* root[] spans pages 0-495, all of group 0 it holds */
		return pg >= FANO || M_COUNT(*root_meta_of(o)) == 0;
	uint64_t *g = index_slot(o, pg, FANO, NULL, &cover, NULL);
	return g == NULL || *g == 0;
}

static int page_new(struct vmobj *o, uint64_t pg, uint64_t mark, uint64_t *slot,
		    struct vmobj_page *res);

/*
 * Make page pg resident in o (no backing object), new: a 2 MiB page when huge_ok and
 * its whole group is empty and inside the object, else 4 KiB, zeroed or filled by the
 * pager. mark is E_NEW for populate. Fails with nothing changed.
 */
static int make_page(struct vmobj *o, uint64_t pg, bool huge_ok, uint64_t mark,
		     uint64_t *slot, struct vmobj_page *res)
{
	svmm_pa_t pa;
	if (huge_ok && o->kind == VMOBJ_ANON && SVMM_ALIGN_DOWN(pg, FANO) + FANO <= npages(o) &&
	    group_empty(o, pg) && pmem_alloc(o->pm, 9, PMEM_ANY, &pa) == 0) {
		for (unsigned i = 0; i < FANO; i++)
			frame_zero(o->pm, pa + i * PAGE);
		int err = index_insert(o, SVMM_ALIGN_DOWN(pg, FANO), pa | E_HUGE | mark);
		if (err != 0) {
			if (pmem_free(o->pm, pa, 9) != 0)
				port_panic("vmobj: cannot free a fresh 2 MiB page");
			return err;
		}
		answer(pa | E_HUGE, pg, true, true, res);
		return 0;
	}
	return page_new(o, pg, mark, slot, res);
}

/*
 * make_page's 4 KiB page: a frame, zeroed or filled, put in at *slot (an empty slot of
 * the lowest level, or NULL: index_insert walks and makes the nodes). Inlined into
 * make_page and into vmobj_fault's demand-zero path.
 */
static inline __attribute__((always_inline)) int page_new(struct vmobj *o, uint64_t pg,
							  uint64_t mark, uint64_t *slot,
							  struct vmobj_page *res)
{
	svmm_pa_t pa;
	int err = pmem_alloc(o->pm, 0, PMEM_ANY, &pa);
	if (err != 0)
		return err;
	if (o->kind == VMOBJ_PAGER)
		err = o->fill(o->fill_ctx, pg << SVMM_PAGE_SHIFT, pa);
	else
		frame_zero(o->pm, pa);
	if (err == 0 && slot != NULL)
		leaf_put(o, slot, pa | E_PAGE | mark);
	else if (err == 0)
		err = index_insert(o, pg, pa | E_PAGE | mark);
	if (err != 0) {
		frame_free(o->pm, pa);
		return err;
	}
	res->pa = pa;
	res->order = 0;
	res->writable = true;
	return 0;
}

/*
 * Write to page pg whose entry e, at *slot, this object shares (a 4 KiB page, or a
 * 2 MiB page, which must be cut down to 4 KiB pages first): give o its own copy. With
 * undo the reference on the copied frame stays (res->copied, see vmobj_fault_end).
 * Fails with nothing changed.
 */
static int copy_on_write(struct vmobj *o, uint64_t pg, uint64_t e, uint64_t *slot,
			 bool undo, struct vmobj_page *res)
{
	svmm_pa_t node = 0, pa;
	int err;
	if (e & E_HUGE) {
		err = meta_alloc(o->pm, &node);
		if (err != 0)
			return err;
	}
	bool copy = true;
	err = pmem_alloc(o->pm, 0, PMEM_ANY, &pa);
	if (err != 0) {
		if (node != 0)
			meta_free(o->pm, node);
		return err;
	}
	/* Nothing can fail from here. */
	if (e & E_HUGE) {
		uint64_t *g = slot;       /* the 2 MiB entry */
		huge_unfold(o, g, node);
		/* The page may now be ours alone: another holder may have gone. */
		uint64_t *s = &node_va(*g)[pg % FANO];
		if (entry_exclusive(o->pm, *s)) {
			frame_free(o->pm, pa);
			copy = false;
		}
		slot = s;
	}
	res->copied = 0;
	if (copy) {
		frame_copy(o->pm, pa, E_PA(*slot));
		res->copied = E_PA(*slot);
		if (!undo)
			frame_put(o->pm, E_PA(*slot));
		*slot = pa | E_PAGE;
	}
	res->pa = E_PA(*slot);
	res->order = 0;
	res->writable = true;
	return 0;
}

static void unmark_leaf(struct vmobj *o, uint64_t *e, uint64_t pg, uint64_t cover, void *ctx);
static void drop_new_leaf(struct vmobj *o, uint64_t *e, uint64_t pg, uint64_t cover,
			  void *ctx);

/*
 * The backing object's page for page pg of o (o's lock held; takes the backing lock):
 * for a read, its frame, read-only; for a write, a copy of it put into o.
 */
static int through_backing(struct vmobj *o, uint64_t pg, bool write, uint64_t mark,
			   struct vmobj_page *res)
{
	struct vmobj *b = o->backing;
	uint64_t bpg = pg + (o->backing_off >> SVMM_PAGE_SHIFT), cover;
	svmm_pa_t pa = 0;
	int err = 0;
	if (write) {
		err = pmem_alloc(o->pm, 0, PMEM_ANY, &pa);
		if (err != 0)
			return err;
	}
	port_lock(&b->lock);
	bool shared;
	uint64_t e = leaf_at(b, bpg, &cover, &shared);
	if (e != 0) {
		answer(e, bpg, false, !shared && entry_exclusive(b->pm, e), res);
	} else {
		/* No answer from a missing entry when owning the node fails. */
		err = own_at(b, bpg);
		if (err == 0)
			err = make_page(b, bpg, false, E_NEW, NULL, res);   /* marked until this succeeds */
	}
	if (err == 0 && write) {
		frame_copy(o->pm, pa, res->pa);
		err = index_insert(o, pg, pa | E_PAGE | mark);
		if (err == 0) {
			res->pa = pa;
			res->writable = true;
		}
	} else {
		res->writable = false;
	}
	/* A failure takes back the page the backing object made for it. */
	visit_range(b, bpg, bpg + 1, err == 0 ? unmark_leaf : drop_new_leaf, NULL);
	port_unlock(&b->lock);
	if (err != 0 && pa != 0)
		frame_free(o->pm, pa);
	return err;
}

/*
 * The end of a fault that gave o its own copy of the leaf node *own (pg->unshared:
 * the node left behind, 0 if o held it alone): taken back if the fault failed, else
 * left to vmobj_fault_end (undo) or let go, and the index folded if it now can (a leaf
 * node at root[0] cannot fold while shared). Not inlined: off the fault's usual path
 * and frame.
 */
static __attribute__((noinline)) void own_end(struct vmobj *o, uint64_t *own, int err,
					       bool undo, struct vmobj_page *pg)
{
	svmm_pa_t left = pg->unshared;
	if (left != 0 && undo && err == 0)
		return;                   /* vmobj_fault_end lets it go, and folds */
	pg->unshared = 0;
	if (left != 0 && err != 0) {
		node_back(o, own, left);
	} else if (err == 0) {
		if (left != 0)
			node_left(o->pm, left);
		index_shrink(o);
	}
}

int vmobj_fault(struct vmobj *obj, uint64_t off, unsigned access, struct vmobj_page *pg)
{
	unsigned kind = access & (VMOBJ_READ | VMOBJ_WRITE);
	if (obj == NULL || pg == NULL ||
	    (access & ~(VMOBJ_READ | VMOBJ_WRITE | VMOBJ_HUGE | VMOBJ_UNDO)) ||
	    (kind != VMOBJ_READ && kind != VMOBJ_WRITE))
		return SVMM_EINVAL;
	int err = check_off(obj, off);
	if (err != 0)
		return err;
	bool write = kind == VMOBJ_WRITE, huge_ok = (access & VMOBJ_HUGE) != 0;
	uint64_t p = off >> SVMM_PAGE_SHIFT, cover;
	pg->copied = 0;
	pg->unshared = 0;
	port_lock(&obj->lock);
	/*
	 * The usual fault first: a demand-zero page in the 2 MiB of the last walk (the
	 * hint's node, so its group holds pages already and no 2 MiB page can come; the
	 * hint never names a node a clone may share).
	 */
	struct obj_hint *h = hint_of(obj);
	uint64_t *slot, *up = NULL;
	if (h->node != NULL && p / FANO == h->grp) {
		slot = &h->node[p % FANO];
		cover = 1;
		if (*slot == 0 && obj->backing == NULL && obj->kind == VMOBJ_ANON) {
			pg->made = true;
			err = page_new(obj, p, 0, slot, pg);
			port_unlock(&obj->lock);
			return err;
		}
	} else {
		/* A walk finds the entry, and the slot a new page goes into when its leaf
		   node exists already. */
		slot = index_slot(obj, p, 1, NULL, &cover, &up);
	}
	uint64_t e = slot == NULL || (*slot & E_NODE) ? 0 : *slot;
	pg->made = e == 0;
	/* A change in a leaf node a clone may share needs o's own copy of it first (the
	   node left behind goes in pg->unshared until own_end; the hint names the copy). */
	uint64_t *own = NULL;
	if (up != NULL && (write || (e == 0 && obj->backing == NULL))) {
		err = own_leaf(obj, up, p, &pg->unshared);
		if (err != 0)
			goto out;
		slot = &h->node[p % FANO];
		own = up;
		up = NULL;
	}
	if (e != 0) {
		bool excl = up == NULL && entry_exclusive(obj->pm, e);
		if (!write || (excl && ((e & E_PAGE) || huge_ok)))
			answer(e, p, huge_ok, excl, pg);
		else if (excl)
			answer(e, p, false, true, pg);    /* 2 MiB, ours alone: a 4 KiB view of it */
		else
			err = copy_on_write(obj, p, e, slot, (access & VMOBJ_UNDO) != 0, pg);
	} else if (obj->backing != NULL) {
		err = through_backing(obj, p, write, 0, pg);
	} else {
		err = make_page(obj, p, huge_ok, 0, slot != NULL && cover == 1 ? slot : NULL, pg);
	}
	if (own != NULL)
		own_end(obj, own, err, (access & VMOBJ_UNDO) != 0, pg);
out:
	port_unlock(&obj->lock);
	return err;
}

void vmobj_fault_end(struct vmobj *obj, uint64_t off, const struct vmobj_page *pg, bool keep)
{
	if (pg->copied == 0 && pg->unshared == 0)
		return;
	/* What the fault replaced is no longer indexed here: no lock to let it go. */
	if (keep && pg->copied != 0)
		frame_put(obj->pm, pg->copied);
	if (keep && pg->unshared == 0)
		return;
	uint64_t p = off >> SVMM_PAGE_SHIFT, cover;
	port_lock(&obj->lock);
	if (keep) {
		node_left(obj->pm, pg->unshared);
		/* The node the object owns now may fold into root[] (see vmobj_fault). */
		index_shrink(obj);
	} else if (pg->unshared != 0) {
		/* The copy of the node goes whole, with the copied page in it. */
		uint64_t *up = index_slot(obj, p, FANO, NULL, &cover, NULL);
		if (up == NULL || cover != FANO || !(*up & E_NODE) || (*up & E_SHARED))
			port_panic("vmobj: no unshared node to take back");
		node_back(obj, up, pg->unshared);
		if (pg->copied != 0)
			frame_put(obj->pm, pg->copied);
	} else {
		uint64_t *slot = index_slot(obj, p, 1, NULL, &cover, NULL);
		if (slot == NULL || cover != 1 || !(*slot & E_PAGE))
			port_panic("vmobj: no copy to undo");
		frame_put(obj->pm, E_PA(*slot));
		*slot = pg->copied | E_PAGE;      /* with the reference the fault kept */
	}
	port_unlock(&obj->lock);
}

int vmobj_lookup(struct vmobj *obj, uint64_t off, struct vmobj_page *pg)
{
	int err = check_off(obj, off);
	if (err != 0)
		return err;
	uint64_t p = off >> SVMM_PAGE_SHIFT, cover;
	bool shared;
	port_lock(&obj->lock);
	uint64_t e = leaf_at(obj, p, &cover, &shared);
	if (e == 0)
		err = SVMM_ENOENT;
	else
		answer(e, p, false, !shared && entry_exclusive(obj->pm, e), pg);
	port_unlock(&obj->lock);
	return err;
}

/* ---- populate and discard ---- */

static int check_range(const struct vmobj *o, uint64_t off, uint64_t size)
{
	if (size == 0)
		return SVMM_EZEROSIZE;
	if (!SVMM_IS_ALIGNED(off, PAGE) || !SVMM_IS_ALIGNED(size, PAGE))
		return SVMM_EUNALIGNED;
	if (off + size < off)
		return SVMM_EOVERFLOW;
	if (off + size > o->size)
		return SVMM_ERANGE;
	return 0;
}

/* populate's end: keep (clear the marks) or take back the pages it added. */
static void unmark_leaf(struct vmobj *o, uint64_t *e, uint64_t pg, uint64_t cover, void *ctx)
{
	(void)o;
	(void)pg;
	(void)cover;
	(void)ctx;
	if (*e & E_NEW)           /* no store into a node a clone may share */
		*e &= ~E_NEW;
}

static void drop_new_leaf(struct vmobj *o, uint64_t *e, uint64_t pg, uint64_t cover,
			  void *ctx)
{
	(void)pg;
	(void)cover;
	(void)ctx;
	if (*e & E_NEW) {
		entry_release(o, *e);
		*e = 0;
	}
}

int vmobj_populate(struct vmobj *obj, uint64_t off, uint64_t size, unsigned flags)
{
	if (obj == NULL || (flags & ~VMOBJ_HUGE) != 0)
		return SVMM_EINVAL;
	int err = check_range(obj, off, size);
	if (err != 0)
		return err;
	if (obj->backing != NULL)
		return vmobj_populate(obj->backing, off + obj->backing_off, size, 0);
	uint64_t start = off >> SVMM_PAGE_SHIFT, end = start + (size >> SVMM_PAGE_SHIFT), cover;
	struct vmobj_page res;
	port_lock(&obj->lock);
	for (uint64_t p = start; p < end && err == 0;) {
		uint64_t e = leaf_at(obj, p, &cover, NULL);
		if (e != 0) {
			p = (e & E_HUGE) ? SVMM_ALIGN_DOWN(p, FANO) + FANO : p + 1;
			continue;
		}
		/* A 2 MiB page only where the whole group lies inside the range. */
		bool huge = (flags & VMOBJ_HUGE) && SVMM_IS_ALIGNED(p, FANO) && p + FANO <= end;
		err = own_at(obj, p);
		if (err == 0)
			err = make_page(obj, p, huge, E_NEW, NULL, &res);
		p += err == 0 && res.order == 9 ? FANO : 1;
	}
	visit_range(obj, start, end, err == 0 ? unmark_leaf : drop_new_leaf, NULL);
	port_unlock(&obj->lock);
	return err;
}

/*
 * The entries that cross the ends of pages [start, end) and that discarding the range
 * must take apart first, one index page each: 2 MiB pages (unfolded) and leaf nodes
 * another object shares with entries both in and outside the range (owned, node_own),
 * in cut[]; returns how many.
 */
static unsigned crossing(struct vmobj *obj, uint64_t start, uint64_t end, uint64_t *cut[2])
{
	uint64_t ends[2] = { start, end - 1 }, cover;
	unsigned n = 0;
	cut[0] = cut[1] = NULL;
	for (unsigned i = 0; i < 2; i++) {
		uint64_t *up;
		uint64_t *g = index_slot(obj, ends[i], 1, NULL, &cover, &up);
		uint64_t gs = SVMM_ALIGN_DOWN(ends[i], FANO);
		uint64_t um = up != NULL ? *page_meta(obj, E_PA(*up)) : 0;
		if (up != NULL && !covers(um, gs, start, end) &&
		    holds_in(node_va(*up), um, gs, start, end) && still_shared(obj, up))
			g = up;           /* a shared leaf node with entries in and outside it */
		else if (g == NULL || !(*g & E_HUGE) || (gs >= start && gs + FANO <= end))
			continue;
		if (n > 0 && g == cut[0])
			continue;
		cut[n++] = g;
	}
	return n;
}

int vmobj_reserve(struct vmobj *obj, uint64_t off, uint64_t size)
{
	int err = check_range(obj, off, size);
	if (err != 0)
		return err;
	uint64_t *cut[2];
	port_lock(&obj->lock);
	unsigned n = crossing(obj, off >> SVMM_PAGE_SHIFT, (off + size) >> SVMM_PAGE_SHIFT, cut);
	/* On top of what earlier calls set aside: a caller may discard several ranges of
	   one object (the pieces of a cut private mapping). */
	unsigned pushed = 0;
	for (svmm_pa_t pa; pushed < n && err == 0;) {
		err = meta_alloc(obj->pm, &pa);
		if (err == 0) {
			spare_push(obj, pa);
			pushed++;
		}
	}
	while (err != 0 && pushed-- > 0)
		meta_free(obj->pm, spare_pop(obj));
	port_unlock(&obj->lock);
	return err;
}

void vmobj_unreserve(struct vmobj *obj)
{
	port_lock(&obj->lock);
	for (svmm_pa_t pa; (pa = spare_pop(obj)) != 0;)
		meta_free(obj->pm, pa);
	port_unlock(&obj->lock);
}

int vmobj_discard(struct vmobj *obj, uint64_t off, uint64_t size)
{
	if (obj == NULL)
		return SVMM_EINVAL;
	int err = check_range(obj, off, size);
	if (err != 0)
		return err;
	uint64_t start = off >> SVMM_PAGE_SHIFT, end = start + (size >> SVMM_PAGE_SHIFT);
	port_lock(&obj->lock);
	/* A 2 MiB page crossing either end is unfolded first, and a shared leaf node
	   crossing it owned: the page each needs comes first, from what vmobj_reserve set
	   aside if it did. */
	uint64_t *cut[2];
	svmm_pa_t node[2] = { 0, 0 };
	unsigned n = crossing(obj, start, end, cut);
	for (unsigned i = 0; i < n; i++) {
		node[i] = spare_pop(obj);
		if (node[i] != 0)
			continue;
		err = meta_alloc(obj->pm, &node[i]);
		if (err != 0) {
			if (i > 0)
				meta_free(obj->pm, node[0]);
			goto out;
		}
	}
	for (unsigned i = 0; i < n && err == 0; i++) {
		svmm_pa_t left = 0;
		if (*cut[i] & E_HUGE) {
			huge_unfold(obj, cut[i], node[i]);
			continue;
		}
		err = node_own(obj, cut[i], node[i], &left);
		if (left != 0)
			node_left(obj->pm, left);
		else
			meta_free(obj->pm, node[i]);
		if (err != 0 && i == 0 && n > 1)
			meta_free(obj->pm, node[1]);
	}
	if (err == 0)
		visit_range(obj, start, end, release_leaf, NULL);
out:
	port_unlock(&obj->lock);
	return err;
}

/* ---- walking and checking ---- */

struct walk_ctx {
	void (*fn)(void *ctx, uint64_t off, svmm_pa_t pa, unsigned order);
	void (*held)(void *ctx, uint64_t off, svmm_pa_t pa, unsigned order, svmm_pa_t holder);
	void *ctx;
};

static void walk_leaf(struct vmobj *o, uint64_t *e, uint64_t pg, uint64_t cover, void *ctx)
{
	struct walk_ctx *w = ctx;
	(void)o;
	unsigned order = cover == 1 ? 0 : 9;
	if (w->held != NULL)
		w->held(w->ctx, pg << SVMM_PAGE_SHIFT, E_PA(*e), order,
			SVMM_ALIGN_DOWN(port_va_to_pa(e), PAGE));
	else
		w->fn(w->ctx, pg << SVMM_PAGE_SHIFT, E_PA(*e), order);
}

static void walk_all(struct vmobj *obj, struct walk_ctx *w)
{
	port_lock(&obj->lock);
	visit_range(obj, 0, npages(obj), walk_leaf, w);
	port_unlock(&obj->lock);
}

void vmobj_walk(struct vmobj *obj, void (*fn)(void *ctx, uint64_t off, svmm_pa_t pa,
					      unsigned order), void *ctx)
{
	struct walk_ctx w = { fn, NULL, ctx };
	walk_all(obj, &w);
}

void vmobj_walk_held(struct vmobj *obj,
		     void (*fn)(void *ctx, uint64_t off, svmm_pa_t pa, unsigned order,
				svmm_pa_t holder),
		     void *ctx)
{
	struct walk_ctx w = { NULL, fn, ctx };
	walk_all(obj, &w);
}

struct check_ctx {
	struct vmobj *o;
	svmm_print_fn out;
	void *octx;
	int err;
	uint64_t resident, huge, nodes;
	const char *what;          /* the first broken invariant */
	uint64_t pg;
};

/* Record the first broken invariant; check_one prints it once the walk is back up. */
static void check_fail(struct check_ctx *c, const char *what, uint64_t pg)
{
	if (c->err == 0) {
		c->what = what;
		c->pg = pg;
	}
	c->err = SVMM_EINVAL;
}

/* A frame named by the index is an allocated order-0 head with a reference. */
static bool frame_held(struct pmem *pm, svmm_pa_t pa, unsigned order)
{
	svmm_pa_t head;
	unsigned o;
	enum pmem_state st;
	uint32_t refs;
	return pmem_block(pm, pa, &head, &o, &st) == 0 && st == PMEM_ALLOC && head == pa &&
	       o == order && pmem_refs(pm, pa, &refs) == 0 && refs >= 1;
}

/* Has the block at pa exactly one reference? Not inlined: check_tab recurses. */
static __attribute__((noinline)) bool held_once(struct pmem *pm, svmm_pa_t pa)
{
	uint32_t refs = 0;
	return pmem_refs(pm, pa, &refs) == 0 && refs == 1;
}

static void check_tab(struct check_ctx *c, const uint64_t *tab, unsigned n, uint64_t cover,
		      uint64_t base)
{
	struct vmobj *o = c->o;
	/* A node's count and bounds are in its pmem owner word, root[]'s in the tail. */
	uint64_t m;
	unsigned w0 = 0, i0 = 0, used = 0;
	bool ok = true;
	if (tab == o->root) {
		m = *root_meta_of(o);
		w0 = ROOT_WORD;
		/* Only the initialised words of root[] are looked at. */
		if (M_LO(m) == 0) {
			n = 0;
			ok = M_COUNT(m) == 0;
		} else if (M_LO(m) < ROOT_WORD || M_HI(m) < M_LO(m) ||
			   M_HI(m) >= ROOT_WORD + VMOBJ_ROOT_SLOTS) {
			n = 0;
			ok = false;
		} else {
			i0 = M_LO(m) - ROOT_WORD;
			n = M_HI(m) - ROOT_WORD + 1;
		}
	} else {
		struct pmem_frame *f = pmem_frame(o->pm, port_va_to_pa(tab));
		ok = f != NULL;
		m = ok ? f->u.owner : 0;
		/* An interior node's words outside its bounds are not initialised. */
		if (ok && cover > 1) {
			if (M_COUNT(m) == 0) {
				n = 0;
			} else if (M_HI(m) < M_LO(m) || M_HI(m) >= FANO) {
				n = 0;
				ok = false;
			} else {
				i0 = M_LO(m);
				n = M_HI(m) + 1;
			}
		}
	}
	for (unsigned i = i0; i < n && ok; i++)
		if (tab[i] != 0 && (used++, w0 + i < M_LO(m) || w0 + i > M_HI(m)))
			ok = false;
	if (!ok || used != M_COUNT(m)) {
		check_fail(c, "every index page counts its used entries (a node in its pmem "
			   "owner word), and they lie within its bounds", base);
		return;
	}
	for (unsigned i = i0; i < n && c->err == 0; i++) {
		uint64_t e = tab[i], pg = base + i * cover;
		if (e == 0)
			continue;
		unsigned kinds = ((e & E_PAGE) != 0) + ((e & E_HUGE) != 0) + ((e & E_NODE) != 0);
		uint64_t tags = E_PAGE | E_HUGE | E_NODE | (cover == FANO ? E_SHARED : 0);
		if (kinds != 1 || (e & (PAGE - 1) & ~tags) != 0 ||
		    ((e & E_SHARED) && !(e & E_NODE)))
			check_fail(c, "an entry is exactly one of page, 2 MiB page, node, "
				   "carries no populate mark, and only a leaf node's may be marked "
				   "shared", pg);
		else if (pg >= npages(o))
			check_fail(c, "no entry lies past the object's end", pg);
		else if ((e & E_NODE) && cover == 1)
			check_fail(c, "nodes stop above the pages", pg);
		else if ((e & E_PAGE) && cover != 1)
			check_fail(c, "4 KiB pages sit at the lowest level", pg);
		else if ((e & E_HUGE) && (cover != FANO || pg + FANO > npages(o) ||
					  o->kind != VMOBJ_ANON || o->backing != NULL))
			check_fail(c, "2 MiB pages sit one level up, inside the object, in "
				   "anonymous objects only", pg);
		if (c->err != 0)
			return;
		if (e & E_NODE) {
			const uint64_t *child = node_va(e);
			c->nodes++;
			if (!frame_held(o->pm, E_PA(e), 0))
				check_fail(c, "index nodes are pmem frames", pg);
			else if (!(e & E_SHARED) && !held_once(o->pm, E_PA(e)))
				check_fail(c, "a node not marked shared is this object's alone", pg);
			else if (cover > FANO ? M_COUNT(*page_meta(o, E_PA(e))) == 0 : node_empty(child))
				check_fail(c, "no index node is empty", pg);
			else
				check_tab(c, child, FANO, cover / FANO, pg);
		} else if (e & E_PAGE) {
			c->resident++;
			if (!frame_held(o->pm, E_PA(e), 0))
				check_fail(c, "every page is an allocated frame with a reference",
					   pg);
		} else {
			svmm_pa_t pa = E_PA(e);
			c->resident += FANO;
			c->huge++;
			if (!SVMM_IS_ALIGNED(pa, FANO * PAGE))
				check_fail(c, "2 MiB pages are 2 MiB aligned", pg);
			else if (!frame_held(o->pm, pa, 9))
				for (unsigned j = 0; j < FANO && c->err == 0; j++)
					if (!frame_held(o->pm, pa + j * PAGE, 0))
						check_fail(c, "a 2 MiB page is one order-9 block "
							   "or 512 split frames, each held", pg);
		}
	}
}

static int check_one(struct vmobj *o, svmm_print_fn out, void *octx)
{
	struct check_ctx c = { o, out, octx, 0, 0, 0, 0, NULL, 0 };
	port_lock(&o->lock);
	if (o->refs == 0)
		check_fail(&c, "a live object has a reference", 0);
	else if (o->size == 0 || !SVMM_IS_ALIGNED(o->size, PAGE) || o->size > VMOBJ_MAX_SIZE)
		check_fail(&c, "the size is whole pages, at most VMOBJ_MAX_SIZE", 0);
	else if (o->levels < 1 || o->levels > VMOBJ_MAX_LEVELS ||
		 (o->levels > 1 && (uint64_t)VMOBJ_ROOT_SLOTS * (top_cover(o) / FANO) >=
		  npages(o)))
		check_fail(&c, "the index has at most the fewest levels that cover the size",
			   0);
	else if ((o->kind != VMOBJ_ANON && o->kind != VMOBJ_PAGER) ||
		 (o->kind == VMOBJ_PAGER) != (o->fill != NULL) ||
		 (o->backing != NULL && o->kind != VMOBJ_ANON))
		check_fail(&c, "the kind agrees with the pager and the backing", 0);
	else if (o->backing != NULL &&
		 (o->backing->backing != NULL || !SVMM_IS_ALIGNED(o->backing_off, PAGE) ||
		  o->backing_off > o->backing->size ||
		  o->size > o->backing->size - o->backing_off))
		check_fail(&c, "a backing object has no backing and covers the range", 0);
	else
		check_tab(&c, o->root, VMOBJ_ROOT_SLOTS, top_cover(o), 0);
	if (c.err == 0 && index_shrinkable(o, *root_meta_of(o)))
		check_fail(&c, "the index has the fewest levels that span its highest page "
			   "(one when empty, two over a shared leaf node at root[0])", 0);
	if (c.err == 0 && (c.resident != o->resident || c.huge != o->huge ||
			   c.nodes != o->nodes))
		check_fail(&c, "the resident, 2 MiB and node counters match the index",
			   c.resident);
	port_unlock(&o->lock);
	if (c.err != 0 && out != NULL)
		svmm_printline(out, octx, "vmobj: %s: page 0x%llx", c.what,
			       (unsigned long long)c.pg);
	return c.err;
}

int vmobj_check(struct vmobj *obj, svmm_print_fn out, void *ctx)
{
	if (obj == NULL)
		return SVMM_EINVAL;
	int err = check_one(obj, out, ctx);
	if (err == 0 && obj->backing != NULL)
		err = check_one(obj->backing, out, ctx);
	return err;
}
