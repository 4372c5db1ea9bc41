/*
 * vmem.c - the virtual range allocator (see svmm/vmem.h and docs/vmem.md).
 *
 * Public functions take the lock, validate their arguments, find what they will
 * change, reserve every pool unit and block the change may need, and only then modify
 * the indexes.
 * Internal helpers below assume the lock is held.
 */
#include <svmm/vmem.h>

#define VMEM_LIVE 0x766d656du   /* "vmem" */

/*
 * A pool unit: a free region, which is a segment (an entry of the segment index points
 * to it, with its free bit; its block word points back, with SEG_FREE) and, right after
 * it, its entry in the size index: a size-tree node or a bucket list's links. Each
 * reaches the other by a constant offset, so no pointer ties them. While the unit is
 * unused it holds its links in the pool's free list instead.
 */
struct vmem_unit {
	union {
		struct {
			struct vmem_region seg;   /* in the segment index, by address */
			union {
				struct rb_node sz;        /* in the size tree, by (size, address) */
				struct {
					struct vmem_unit *next, *prev;
				} bl;                     /* or in its size's bucket */
			};
		} r;
		struct {
			struct vmem_unit *next, *prev;
		} f;
		unsigned char line[VMEM_UNIT_SIZE];   /* 24 + 24 bytes: all of it used */
	};
};

/* The first unit of every page from the page source describes the page. */
struct vmem_pool_page {
	struct vmem_pool_page *next, *prev;
	uint64_t used;   /* units of this page holding a free region */
	uint64_t pad[(VMEM_UNIT_SIZE - 24) / 8];
};

#define UNITS_PER_PAGE (VMEM_POOL_PAGE / VMEM_UNIT_SIZE - 1)

_Static_assert(sizeof(struct vmem_unit) == VMEM_UNIT_SIZE, "unit must be one line");
_Static_assert(sizeof(struct vmem_pool_page) == VMEM_UNIT_SIZE, "page header: one unit");
_Static_assert(sizeof(struct vmem_region) <= 48, "allocated region at most 48 bytes");
_Static_assert(VMEM_BUCKETS % 64 == 0 && VMEM_BUCKETS <= 4096, "buckets: whole bitmap words");


#define UNIT_OF_SZ(n) SVMM_CONTAINER_OF(n, struct vmem_unit, r.sz)
#define UNIT_OF(g)    SVMM_CONTAINER_OF(g, struct vmem_unit, r.seg)

/* A segment is free (a pool unit) or allocated (the caller's). */
static inline bool seg_free(const struct vmem_region *r)
{
	return (r->blk & SEG_FREE) != 0;
}

static inline svmm_va_t seg_end(const struct vmem_region *r)
{
	return r->addr + r->size;
}

/* ---------------------------------------------------------------- the unit pool */

static struct vmem_unit *boot_units(struct vmem *vm)
{
	uintptr_t p = (uintptr_t)vm->boot;

	/* Aligned to 16 bytes (one unit of slack); a 48-byte unit may straddle two lines. */
	return (struct vmem_unit *)((p + 15) & ~(uintptr_t)15);
}

/* The boot units lie inside struct vmem; a page's units never do. */
static inline bool unit_is_boot(const struct vmem *vm, const struct vmem_unit *u)
{
	return (uintptr_t)u - (uintptr_t)vm < sizeof(*vm);
}

static struct vmem_pool_page *page_of(const struct vmem_unit *u)
{
	return (struct vmem_pool_page *)((uintptr_t)u & ~(uintptr_t)(VMEM_POOL_PAGE - 1));
}

static inline void unit_push(struct vmem *vm, struct vmem_unit *u)
{
	u->f.prev = NULL;
	u->f.next = vm->units_free;
	if (vm->units_free)
		vm->units_free->f.prev = u;
	vm->units_free = u;
	vm->nunits_free++;
}

static void unit_unlink(struct vmem *vm, struct vmem_unit *u)
{
	if (u->f.prev)
		u->f.prev->f.next = u->f.next;
	else
		vm->units_free = u->f.next;
	if (u->f.next)
		u->f.next->f.prev = u->f.prev;
	vm->nunits_free--;
}

/*
 * A page from the source for the unit or block pool, or SVMM_ENOMEM (nothing taken).
 * Both pools find a page's header by masking, so a misaligned page is refused: the
 * page goes back, not the contract.
 */
static int src_page(struct vmem *vm, void **mem)
{
	*mem = NULL;
	if (!vm->has_src || vm->src.alloc(vm->src.ctx, mem) != 0 || *mem == NULL)
		return SVMM_ENOMEM;
	if (((uintptr_t)*mem & (VMEM_POOL_PAGE - 1)) != 0) {
		vm->src.free(vm->src.ctx, *mem);
		return SVMM_ENOMEM;
	}
	return 0;
}

/*
 * Make sure n units are free, taking pages from the source as needed. Touches no tree,
 * so a failure leaves the arena's regions unchanged; pages already taken stay in the
 * pool (they are counted, and given back when wholly unused or at destroy).
 */
static int pool_grow(struct vmem *vm, uint64_t n)
{
	while (vm->nunits_free + vm->nucache < n) {
		void *mem = NULL;
		struct vmem_pool_page *pg;
		struct vmem_unit *u;

		if (src_page(vm, &mem) != 0)
			return SVMM_ENOMEM;
		pg = mem;
		pg->used = 0;
		pg->prev = NULL;
		pg->next = vm->pages;
		if (vm->pages)
			vm->pages->prev = pg;
		vm->pages = pg;
		vm->npages++;
		vm->nunits += UNITS_PER_PAGE;
		/* Push in reverse so that the page is used from its start. */
		u = (struct vmem_unit *)mem;
		for (unsigned i = UNITS_PER_PAGE; i >= 1; i--)
			unit_push(vm, &u[i]);
	}
	return 0;
}

static inline int pool_reserve(struct vmem *vm, uint64_t n)
{
	return vm->nunits_free + vm->nucache >= n ? 0 : pool_grow(vm, n);
}

/*
 * The unit cache: up to VMEM_UCACHE units that the hot paths pass from a free that
 * drops a region to an allocation or free that makes one, without the free list's
 * links and the page's use count (a cached unit counts as used in its page, so its page
 * stays until the unit leaves the cache). A singly linked stack: the newest unit is
 * the one most likely in the cache.
 */
#define VMEM_UCACHE 16

/* Take a reserved unit. The caller has called pool_reserve; running dry is a bug. */
static inline struct vmem_unit *unit_get(struct vmem *vm)
{
	struct vmem_unit *u = vm->ucache, *nx;

	if (u != NULL) {
		vm->ucache = u->f.next;
		vm->nucache--;
		return u;
	}
	u = vm->units_free;
	if (u == NULL)
		port_panic("vmem: unit pool empty after reservation");
	/* The head has no predecessor: a pop, not a general unlink. */
	nx = u->f.next;
	vm->units_free = nx;
	if (nx != NULL)
		nx->f.prev = NULL;
	vm->nunits_free--;
	if (!unit_is_boot(vm, u))
		page_of(u)->used++;
	return u;
}

/*
 * A unit for a change that needs one, or NULL (nothing changed) if the pool is dry and
 * the page source fails. A cached unit needs no reservation's test: unit_get pops it.
 */
static inline struct vmem_unit *unit_take(struct vmem *vm)
{
	if (vm->ucache == NULL && pool_reserve(vm, 1) != 0)
		return NULL;
	return unit_get(vm);
}

static void page_release(struct vmem *vm, struct vmem_pool_page *pg)
{
	struct vmem_unit *u = (struct vmem_unit *)(void *)pg;

	for (unsigned i = 1; i <= UNITS_PER_PAGE; i++)
		unit_unlink(vm, &u[i]);
	if (pg->prev)
		pg->prev->next = pg->next;
	else
		vm->pages = pg->next;
	if (pg->next)
		pg->next->prev = pg->prev;
	vm->npages--;
	vm->nunits -= UNITS_PER_PAGE;
	vm->src.free(vm->src.ctx, pg);
}

/*
 * Return a unit. A page whose units are all unused goes back to the source, but only
 * while another page's worth of units stays free, so that an arena hovering at a page
 * boundary does not take and return the same page on every call.
 */
static inline void unit_put(struct vmem *vm, struct vmem_unit *u)
{
	if (vm->nucache < VMEM_UCACHE) {
		u->f.next = vm->ucache;
		vm->ucache = u;
		vm->nucache++;
		return;
	}
	unit_push(vm, u);
	if (!unit_is_boot(vm, u)) {
		struct vmem_pool_page *pg = page_of(u);

		if (--pg->used == 0 && vm->nunits_free >= 2 * UNITS_PER_PAGE)
			page_release(vm, pg);
	}
}

/* ---------------------------------------------------------------- the size index */

/*
 * Free regions by size, for best fit. A region of k quanta with k <= VMEM_BUCKETS is on
 * the list of bucket k - 1 (most recently freed first); a bitmap says which buckets hold
 * any. Larger regions are in the size tree, by (size, address). The common small sizes
 * are thus found, added and removed in O(1), and the tree holds only the few large
 * regions (docs/vmem.md, decision 10).
 */

/*
 * The index of the lowest set bit of x (x != 0). Where the target has an instruction
 * for it (x86-64's tzcnt/bsf, AArch64, RISC-V with Zbb) the builtin is that one
 * instruction; elsewhere (rv64gc) the builtin would become a call to libgcc's __ctzdi2,
 * which the core cannot need, so a de Bruijn multiply and a table lookup do it.
 */
static inline unsigned lowest_bit(uint64_t x)
{
#if defined(__x86_64__) || defined(__aarch64__) || defined(__riscv_zbb)
	return (unsigned)__builtin_ctzll(x);
#else
	static const unsigned char debruijn[64] = {
		0, 1, 2, 53, 3, 7, 54, 27, 4, 38, 41, 8, 34, 55, 48, 28,
		62, 5, 39, 46, 44, 42, 22, 9, 24, 35, 59, 56, 49, 18, 29, 11,
		63, 52, 6, 26, 37, 40, 33, 47, 61, 45, 43, 21, 23, 58, 17, 10,
		51, 25, 36, 32, 60, 20, 57, 16, 50, 31, 19, 15, 30, 14, 13, 12,
	};

	return debruijn[((x & (0 - x)) * 0x022fdd63cc95386dull) >> 58];
#endif
}

/* The bucket of a region of size bytes, or VMEM_BUCKETS for the size tree. */
static inline unsigned sz_bucket(const struct vmem *vm, uint64_t size)
{
	uint64_t k = size >> vm->qshift;

	return k <= VMEM_BUCKETS ? (unsigned)k - 1 : VMEM_BUCKETS;
}

/* Mark bucket b as holding regions, or not: a two-level bitmap. */
static inline void map_set(struct vmem *vm, unsigned b)
{
	vm->bucket_map[b >> 6] |= (uint64_t)1 << (b & 63);
	vm->bucket_sum |= (uint64_t)1 << (b >> 6);
}

static inline bool map_test(const struct vmem *vm, unsigned b)
{
	return (vm->bucket_map[b >> 6] >> (b & 63)) & 1;
}

/* Does the key (s, a) order before the size-tree node n? */
static inline bool sz_before(uint64_t s, uint64_t a, const struct rb_node *n)
{
	const struct vmem_region *f = &UNIT_OF_SZ(n)->r.seg;

	/* Evaluated without branches: the outcome is a coin toss at every level. */
	return (s < f->size) | ((s == f->size) & (a < f->addr));
}

/*
 * The bucket lists are linked without branches on their neighbours: whether a region
 * has a neighbour on its list is a coin toss on the hot paths, and a mispredicted
 * branch costs more than the few instructions that select a store's target instead
 * (a missing neighbour's link is written to vm->sink).
 */
static inline void bucket_push(struct vmem *vm, unsigned b, struct vmem_unit *u)
{
	/* The head means something only while the bit is set: mask it to NULL otherwise. */
	uintptr_t live = (uintptr_t)0 - (uintptr_t)map_test(vm, b);
	struct vmem_unit *h = (struct vmem_unit *)((uintptr_t)vm->bucket[b] & live);

	u->r.bl.next = h;
	*(h != NULL ? &h->r.bl.prev : &vm->sink) = u;
	vm->bucket[b] = u;
	map_set(vm, b);
}

/*
 * Only the links between regions of a list are kept: the head's prev link is not, so
 * that taking the head (what an allocation does) writes nothing into the region after
 * it, which at a million regions is a cache miss saved. The head is recognised by the
 * bucket's own pointer; its prev field may hold a stale pointer, never followed.
 */
static inline void bucket_unlink(struct vmem *vm, unsigned b, struct vmem_unit *u)
{
	struct vmem_unit *pv = u->r.bl.prev, *nx = u->r.bl.next;
	/*
	 * The two store targets are chosen by masks (all ones: u is the head; u has a
	 * successor): written as conditional expressions, gcc made them branches, and
	 * on a merging free both are coin tosses.
	 */
	uintptr_t hm = (uintptr_t)0 - (uintptr_t)(vm->bucket[b] == u);
	uintptr_t nm = ((uintptr_t)0 - (uintptr_t)(nx != NULL)) & ~hm;
	uintptr_t pvn = (uintptr_t)pv + __builtin_offsetof(struct vmem_unit, r.bl.next);
	uintptr_t nxp = (uintptr_t)nx + __builtin_offsetof(struct vmem_unit, r.bl.prev);
	uint64_t empty = (hm & 1) & (nx == NULL);   /* u was the bucket's only region */
	uint64_t word;

	*(struct vmem_unit **)(((uintptr_t)&vm->bucket[b] & hm) | (pvn & ~hm)) = nx;
	*(struct vmem_unit **)((nxp & nm) | ((uintptr_t)&vm->sink & ~nm)) = pv;
	word = vm->bucket_map[b >> 6] & ~(empty << (b & 63));
	vm->bucket_map[b >> 6] = word;
	vm->bucket_sum &= ~((uint64_t)(word == 0) << (b >> 6));
}

static inline void sz_insert(struct vmem *vm, struct vmem_unit *u)
{
	uint64_t s = u->r.seg.size, a = u->r.seg.addr;
	unsigned b = sz_bucket(vm, s);
	struct rb_node *n, *p = NULL;
	unsigned d = RB_LEFT;

	if (b < VMEM_BUCKETS) {
		bucket_push(vm, b, u);
		return;
	}
	n = vm->size_tree.rb_node;
	while (n != NULL) {
		p = n;
		d = !sz_before(s, a, n);
		n = rb_child(n, d);
	}
	rb_insert(&vm->size_tree, p, d, &u->r.sz);
}

/* Take free region u out of the size index (it has its current size). */
static inline void sz_remove(struct vmem *vm, struct vmem_unit *u)
{
	unsigned b = sz_bucket(vm, u->r.seg.size);

	if (b == VMEM_BUCKETS)
		rb_erase(&vm->size_tree, &u->r.sz);
	else
		bucket_unlink(vm, b, u);
}

/*
 * Give free region u the size size (its address already set by the caller). In the
 * size tree the key moves one way only, so only the neighbour on that side can come out
 * of order: while it still orders correctly the node keeps its place, which is common
 * for the large regions at the top of the order.
 */
static inline __attribute__((always_inline)) void sz_resize(struct vmem *vm, struct vmem_unit *u,
							    uint64_t size)
{
	unsigned from = sz_bucket(vm, u->r.seg.size), to = sz_bucket(vm, size);

	if (from < VMEM_BUCKETS && to < VMEM_BUCKETS) {
		/* The common move between two buckets. */
		bucket_unlink(vm, from, u);
		u->r.seg.size = size;
		bucket_push(vm, to, u);
		return;
	}
	if (from == VMEM_BUCKETS && to == VMEM_BUCKETS) {
		bool grows = size > u->r.seg.size;
		struct rb_node *nb = grows ? rb_next(&u->r.sz) : rb_prev(&u->r.sz);
		svmm_va_t a = u->r.seg.addr;

		if (nb == NULL || (grows ? sz_before(size, a, nb) : !sz_before(size, a, nb))) {
			u->r.seg.size = size;
			return;
		}
	}
	sz_remove(vm, u);
	u->r.seg.size = size;
	sz_insert(vm, u);
}

/* The first non-empty bucket at or after b, or VMEM_BUCKETS. */
static inline unsigned sz_bucket_from(const struct vmem *vm, unsigned b)
{
	unsigned w = b >> 6;
	uint64_t m, sum;

	if (b >= VMEM_BUCKETS)
		return VMEM_BUCKETS;
	m = vm->bucket_map[w] & (~(uint64_t)0 << (b & 63));
	if (m != 0)
		return (w << 6) + lowest_bit(m);
	/* The summary word: which words of the map have any bit set. */
	sum = w + 1 < 64 ? vm->bucket_sum & (~(uint64_t)0 << (w + 1)) : 0;
	if (sum == 0)
		return VMEM_BUCKETS;
	w = lowest_bit(sum);
	return (w << 6) + lowest_bit(vm->bucket_map[w]);
}

static inline struct vmem_unit *sz_unit(struct rb_node *n)
{
	return n != NULL ? UNIT_OF_SZ(n) : NULL;
}

/* The best fit for s: a free region of the smallest size >= s, or NULL. */
static struct vmem_unit *sz_first(struct vmem *vm, uint64_t s)
{
	unsigned b = sz_bucket_from(vm, sz_bucket(vm, s));
	struct rb_node *n, *best = NULL;

	if (b < VMEM_BUCKETS)
		return vm->bucket[b];
	n = vm->size_tree.rb_node;
	while (n != NULL) {
		unsigned d = UNIT_OF_SZ(n)->r.seg.size < s;   /* RB_LEFT: n is a candidate */

		best = d ? best : n;
		n = rb_child(n, d);
	}
	return sz_unit(best);
}

/* The free region after u in the index's order (size first), or NULL. */
static struct vmem_unit *sz_next(struct vmem *vm, struct vmem_unit *u)
{
	unsigned b = sz_bucket(vm, u->r.seg.size);

	if (b == VMEM_BUCKETS)
		return sz_unit(rb_next(&u->r.sz));
	if (u->r.bl.next != NULL)
		return u->r.bl.next;
	b = sz_bucket_from(vm, b + 1);
	return b < VMEM_BUCKETS ? vm->bucket[b] : sz_unit(rb_first(&vm->size_tree));
}

/* The largest free region's size, or 0. */
static uint64_t sz_largest(struct vmem *vm)
{
	struct rb_node *n = rb_last(&vm->size_tree);
	unsigned b = VMEM_BUCKETS;

	if (n != NULL)
		return UNIT_OF_SZ(n)->r.seg.size;
	while (b-- > 0)
		if (map_test(vm, b))
			return vm->bucket[b]->r.seg.size;
	return 0;
}

/* ---------------------------------------------------------------- the segment blocks */

/*
 * The segment index (docs/vmem.md, decision 14): every region, free or allocated, is
 * an entry of a block: 256 bytes holding up to BLK_SLOTS segments in address order,
 * their start addresses in key[] (so a search reads no segment) and their pointers in
 * seg[], bit 0 set for a free one (so a free knows whether its neighbours are free
 * without loading them). Blocks are nodes of the red-black block tree, ordered by
 * their first key. Each segment points back to its block through its block word
 * (blocks are aligned, so the low bits hold SEG_FREE and SEG_DEAD).
 */
#define BLK_SLOTS 14
/*
 * Where the target has conditional moves and counts time, not instructions, the rank
 * and the shifts run a fixed count without branches; elsewhere (rv64gc, whose demo
 * kernel counts instructions) loops bounded by the entries in use.
 */
#ifndef BLK_BRANCHFREE
#if defined(__x86_64__) || defined(__aarch64__)
#define BLK_BRANCHFREE 1
#else
#define BLK_BRANCHFREE 0
#endif
#endif
#define ENT_FREE  ((uintptr_t)1)
#define KEY_NONE  (~(svmm_va_t)0)
#define BLKS_PER_PAGE (VMEM_POOL_PAGE / VMEM_BLK_SIZE - 1)

struct vmem_blk {
	struct rb_node node;          /* in vm->blks, by key[0] */
	uint64_t n;                   /* entries in use */
	svmm_va_t key[BLK_SLOTS];     /* segment starts, ascending; KEY_NONE from n on */
	uintptr_t seg[BLK_SLOTS];     /* struct vmem_region *, | ENT_FREE for a free one */
};

_Static_assert(sizeof(struct vmem_blk) == VMEM_BLK_SIZE, "a block is 256 bytes");

#define BLK(nd) SVMM_CONTAINER_OF(nd, struct vmem_blk, node)

static inline struct vmem_region *ent_seg(uintptr_t e)
{
	return (struct vmem_region *)(e & ~ENT_FREE);
}

static inline struct vmem_blk *seg_blk(const struct vmem_region *g)
{
	return (struct vmem_blk *)(g->blk & ~(uintptr_t)(VMEM_BLK_SIZE - 1));
}

/* Point segment g (free if e has ENT_FREE) at block b. */
static inline void seg_set_blk(struct vmem_region *g, struct vmem_blk *b, uintptr_t e)
{
	g->blk = (uintptr_t)b | ((e & ENT_FREE) ? SEG_FREE : 0);
}

/* Entries of b whose key is below a: the index of the segment starting at a. */
static inline unsigned blk_rank(const struct vmem_blk *b, svmm_va_t a)
{
	unsigned c = 0;

#if BLK_BRANCHFREE
	/* Unrolled: 14 independent compares, no branch (unused keys are KEY_NONE). */
#pragma GCC unroll 16
	for (unsigned j = 0; j < BLK_SLOTS; j++)
		c += b->key[j] < a;
#else
	{
		/* A pointer walk: no index arithmetic on rv64. */
		const svmm_va_t *k = b->key, *e = b->key + b->n;

		while (k < e && *k < a)
			k++;
		c = (unsigned)(k - b->key);
	}
#endif
	return c;
}

static inline struct vmem_blk *blk_step(struct vmem_blk *b, unsigned dir)
{
	struct rb_node *n = rb_step(&b->node, dir);

	return n ? BLK(n) : NULL;
}

static inline bool blk_remove(struct vmem *vm, struct vmem_blk *b, unsigned i);
static inline void blk_put_at(struct vmem_blk *b, unsigned i, svmm_va_t key, uintptr_t e);

static struct vmem_blk *boot_blks(struct vmem *vm)
{
	uintptr_t p = (uintptr_t)vm->bboot;

	return (struct vmem_blk *)((p + VMEM_BLK_SIZE - 1) & ~(uintptr_t)(VMEM_BLK_SIZE - 1));
}

/*
 * The first block of every page of blocks describes the page: the page list's links
 * and how many of its blocks are in the tree, so that a page whose blocks are all
 * unused can go back to the source (as a unit page does).
 */
struct vmem_blk_page {
	struct vmem_blk_page *next, *prev;
	uint64_t used;
};

_Static_assert(sizeof(struct vmem_blk_page) <= VMEM_BLK_SIZE, "page header: one block");
_Static_assert(VMEM_BOOT_BLKS == (2 * VMEM_BOOT_UNITS + 1 + BLK_SLOTS - 1) / BLK_SLOTS + 2,
	       "boot blocks: the bootstrap segments packed, plus a reservation of two");

static inline bool blk_is_boot(const struct vmem *vm, const struct vmem_blk *b)
{
	return (uintptr_t)b - (uintptr_t)vm < sizeof(*vm);
}

static inline struct vmem_blk_page *blk_page_of(const struct vmem_blk *b)
{
	return (struct vmem_blk_page *)((uintptr_t)b & ~(uintptr_t)(VMEM_POOL_PAGE - 1));
}

/* Free blocks are a doubly linked list through rb_link[0] (next) and rb_link[1] (prev). */
#define BLK_NEXT(b) ((struct vmem_blk *)(b)->node.rb_link[0])
#define BLK_PREV(b) ((struct vmem_blk *)(b)->node.rb_link[1])

static inline void blk_push(struct vmem *vm, struct vmem_blk *b)
{
	b->node.rb_link[0] = (uintptr_t)vm->blk_free;
	b->node.rb_link[1] = 0;
	if (vm->blk_free != NULL)
		vm->blk_free->node.rb_link[1] = (uintptr_t)b;
	vm->blk_free = b;
	vm->nblk_free++;
}

static void blk_unlink(struct vmem *vm, struct vmem_blk *b)
{
	if (BLK_PREV(b) != NULL)
		BLK_PREV(b)->node.rb_link[0] = b->node.rb_link[0];
	else
		vm->blk_free = BLK_NEXT(b);
	if (BLK_NEXT(b) != NULL)
		BLK_NEXT(b)->node.rb_link[1] = b->node.rb_link[1];
	vm->nblk_free--;
}

/*
 * Pack the tree's blocks: move entries down into the block before until it is full, so
 * that S segments take ceil(S / BLK_SLOTS) blocks. Only in an arena without a page
 * source (the bootstrap guarantee below); with one, a failed page is SVMM_ENOMEM as for
 * units, so fault injection sees every page request.
 * Moves entries between blocks only, so regions, their order and the tree's order by
 * first key are unchanged; callers hold no block pointer across a reservation.
 */
static void blk_compact(struct vmem *vm)
{
	struct rb_node *f = rb_first(&vm->blks);
	struct vmem_blk *d = f ? BLK(f) : NULL;

	while (d != NULL) {
		struct vmem_blk *s = blk_step(d, RB_RIGHT);

		while (s != NULL && d->n < BLK_SLOTS) {
			struct vmem_blk *nx = blk_step(s, RB_RIGHT);

			blk_put_at(d, (unsigned)d->n, s->key[0], s->seg[0]);
			if (!blk_remove(vm, s, 0))   /* s emptied: it left the tree */
				s = nx;
		}
		d = s;
	}
}

/*
 * Make sure n blocks are free: pages of BLKS_PER_PAGE blocks from the source, or, in an
 * arena without one, the tree packed. VMEM_BOOT_BLKS is the bootstrap segments
 * (VMEM_BOOT_UNITS free regions and the allocated ones between them) packed, plus the
 * largest reservation, so an arena without a source holds what the unit pool allows.
 */
static int blk_grow(struct vmem *vm, uint64_t n)
{
	while (vm->nblk_free < n) {
		void *mem = NULL;
		struct vmem_blk_page *pg;
		struct vmem_blk *b;

		if (!vm->has_src) {
			blk_compact(vm);
			return vm->nblk_free >= n ? 0 : SVMM_ENOMEM;
		}
		if (src_page(vm, &mem) != 0)
			return SVMM_ENOMEM;
		pg = mem;
		pg->used = 0;
		pg->prev = NULL;
		pg->next = vm->blk_pages;
		if (vm->blk_pages != NULL)
			vm->blk_pages->prev = pg;
		vm->blk_pages = pg;
		vm->nblk_pages++;
		vm->nblks += BLKS_PER_PAGE;
		b = mem;
		for (unsigned i = BLKS_PER_PAGE; i >= 1; i--)
			blk_push(vm, &b[i]);
	}
	return 0;
}

static inline int blk_reserve(struct vmem *vm, uint64_t n)
{
	return __builtin_expect(vm->nblk_free >= n, 1) ? 0 : blk_grow(vm, n);
}

/* A reserved block, empty. */
static struct vmem_blk *blk_get(struct vmem *vm)
{
	struct vmem_blk *b = vm->blk_free, *nx;

	if (b != NULL) {
		nx = BLK_NEXT(b);
		vm->blk_free = nx;
		if (nx != NULL)
			nx->node.rb_link[1] = 0;
	} else if (vm->nblk_boot != 0) {
		/* Boot blocks are handed out in order, first use only: vmem_init links none. */
		b = &boot_blks(vm)[VMEM_BOOT_BLKS - vm->nblk_boot];
		vm->nblk_boot--;
	} else {
		port_panic("vmem: block pool empty after reservation");
	}
	vm->nblk_free--;
	vm->nblk_used++;
	if (!blk_is_boot(vm, b))
		blk_page_of(b)->used++;
	b->n = 0;
	/* Unused entries' pointers are never read: only the keys need clearing. */
#pragma GCC unroll 16
	for (unsigned j = 0; j < BLK_SLOTS; j++)
		b->key[j] = KEY_NONE;
	return b;
}

static void blk_page_release(struct vmem *vm, struct vmem_blk_page *pg)
{
	struct vmem_blk *b = (struct vmem_blk *)(void *)pg;

	for (unsigned i = 1; i <= BLKS_PER_PAGE; i++)
		blk_unlink(vm, &b[i]);
	if (pg->prev != NULL)
		pg->prev->next = pg->next;
	else
		vm->blk_pages = pg->next;
	if (pg->next != NULL)
		pg->next->prev = pg->prev;
	vm->nblk_pages--;
	vm->nblks -= BLKS_PER_PAGE;
	vm->src.free(vm->src.ctx, pg);
}

/*
 * Return a block that left the tree. Its page goes back to the source when none of its
 * blocks is in use, but only while another page's worth of blocks stays free (the unit
 * pool's rule): an arena at a page boundary does not take and return a page on every
 * call, and a reservation made before the call (at most BLKS_PER_PAGE) still holds.
 * The caller must not touch b afterwards.
 */
static void blk_put(struct vmem *vm, struct vmem_blk *b)
{
	vm->nblk_used--;
	blk_push(vm, b);
	if (!blk_is_boot(vm, b)) {
		struct vmem_blk_page *pg = blk_page_of(b);

		if (--pg->used == 0 && vm->nblk_free >= 2 * BLKS_PER_PAGE)
			blk_page_release(vm, pg);
	}
}

/* Remove entry i of b; an emptied block leaves the tree (and false is returned). */
static inline bool blk_remove(struct vmem *vm, struct vmem_blk *b, unsigned i)
{
	uint64_t n = b->n - 1;

#if BLK_BRANCHFREE
	/*
	 * A fixed count of selects, not a loop to n: the trip count is a coin toss, and gcc
	 * made the variable one a computed jump that mispredicted every other time.
	 */
#pragma GCC unroll 16
	for (unsigned j = 0; j < BLK_SLOTS - 1; j++) {
		unsigned k = j + (j >= i);   /* where entry j comes from */

		b->key[j] = b->key[k];
		b->seg[j] = b->seg[k];
	}
	b->key[BLK_SLOTS - 1] = KEY_NONE;
	b->seg[BLK_SLOTS - 1] = 0;
#else
	for (unsigned j = i; j < n; j++) {
		b->key[j] = b->key[j + 1];
		b->seg[j] = b->seg[j + 1];
	}
	b->key[n] = KEY_NONE;
	b->seg[n] = 0;
#endif
	b->n = n;
	if (n == 0) {
		rb_erase(&vm->blks, &b->node);
		blk_put(vm, b);
		return false;
	}
	return true;
}

#define BLK_LOW  5    /* a block left with this few entries tries to join a neighbour */
#define BLK_JOIN 13   /* ... if the two then hold at most this many (fill 11.06: docs/vmem.md, decision 14) */

/*
 * Keep blocks reasonably full: a block with at most BLK_LOW entries moves them into a
 * neighbour block that then holds at most BLK_JOIN, and leaves the tree. The moved
 * segments' block pointers are rewritten.
 */
static void blk_underflow(struct vmem *vm, struct vmem_blk *b)
{
	struct vmem_blk *o;
	unsigned n = (unsigned)b->n;

	if (__builtin_expect(n > BLK_LOW, 1))
		return;
	o = blk_step(b, RB_LEFT);
	if (o != NULL && o->n + n <= BLK_JOIN) {
		unsigned at = (unsigned)o->n;

		for (unsigned j = 0; j < n; j++) {
			o->key[at + j] = b->key[j];
			o->seg[at + j] = b->seg[j];
			seg_set_blk(ent_seg(b->seg[j]), o, b->seg[j]);
		}
	} else {
		o = blk_step(b, RB_RIGHT);
		if (o == NULL || o->n + n > BLK_JOIN)
			return;
		for (unsigned j = (unsigned)o->n; j-- > 0;) {
			o->key[j + n] = o->key[j];
			o->seg[j + n] = o->seg[j];
		}
		for (unsigned j = 0; j < n; j++) {
			o->key[j] = b->key[j];
			o->seg[j] = b->seg[j];
			seg_set_blk(ent_seg(b->seg[j]), o, b->seg[j]);
		}
	}
	o->n += n;
	rb_erase(&vm->blks, &b->node);
	blk_put(vm, b);
}

/* Put (key, e) at index i of b, which has room. */
static inline void blk_put_at(struct vmem_blk *b, unsigned i, svmm_va_t key, uintptr_t e)
{
#if BLK_BRANCHFREE
#pragma GCC unroll 16
	for (unsigned j = BLK_SLOTS - 1; j > 0; j--) {
		unsigned k = j - (j > i);

		b->key[j] = b->key[k];
		b->seg[j] = b->seg[k];
	}
#else
	for (unsigned j = (unsigned)b->n; j > i; j--) {
		b->key[j] = b->key[j - 1];
		b->seg[j] = b->seg[j - 1];
	}
#endif
	b->key[i] = key;
	b->seg[i] = e;
	b->n++;
	seg_set_blk(ent_seg(e), b, e);
}

/*
 * Insert segment e (starting at key) at index i of b; a full block splits in two, the
 * upper half moving to a new block (reserved by the caller) linked right after it.
 * Returns the entry's index in the block that now holds it.
 */
static unsigned blk_insert(struct vmem *vm, struct vmem_blk *b, unsigned i, svmm_va_t key, uintptr_t e)
{
	if (__builtin_expect(b->n == BLK_SLOTS, 0)) {
		struct vmem_blk *nb;
		unsigned h = BLK_SLOTS / 2;
		/*
		 * Before splitting, lend an entry to a neighbour block with room (as a B*-tree
		 * does), so that blocks stay fuller: the new entry itself if it goes at b's
		 * near end, else b's end entry on that side.
		 */
		struct vmem_blk *o = blk_step(b, RB_LEFT);

		if (o != NULL && o->n < BLK_SLOTS) {
			if (i > 0) {
				svmm_va_t mk = b->key[0];
				uintptr_t m = b->seg[0];

				blk_remove(vm, b, 0);   /* b was full: it does not empty */
				blk_put_at(o, (unsigned)o->n, mk, m);
				blk_put_at(b, i - 1, key, e);
				return i - 1;
			}
			blk_put_at(o, (unsigned)o->n, key, e);
			return (unsigned)o->n - 1;
		}
		o = blk_step(b, RB_RIGHT);
		if (o != NULL && o->n < BLK_SLOTS) {
			if (i < BLK_SLOTS) {
				svmm_va_t mk = b->key[BLK_SLOTS - 1];
				uintptr_t m = b->seg[BLK_SLOTS - 1];

				blk_remove(vm, b, BLK_SLOTS - 1);
				blk_put_at(o, 0, mk, m);
				blk_put_at(b, i, key, e);
				return i;
			}
			blk_put_at(o, 0, key, e);
			return 0;
		}
		nb = blk_get(vm);

		for (unsigned j = h; j < BLK_SLOTS; j++) {
			nb->key[j - h] = b->key[j];
			nb->seg[j - h] = b->seg[j];
			seg_set_blk(ent_seg(b->seg[j]), nb, b->seg[j]);
			b->key[j] = KEY_NONE;
			b->seg[j] = 0;
		}
		nb->n = BLK_SLOTS - h;
		b->n = h;
		rb_insert_beside(&vm->blks, &b->node, RB_RIGHT, &nb->node);
		if (i > h) {
			b = nb;
			i -= h;
		}
	}
	blk_put_at(b, i, key, e);
	return i;
}

/* The block with the greatest first key <= addr, or NULL. */
static struct vmem_blk *blk_floor(struct vmem *vm, svmm_va_t addr)
{
	struct rb_node *n = vm->blks.rb_node;
	struct vmem_blk *best = NULL;

	while (n != NULL) {
		struct vmem_blk *b = BLK(n);
#if BLK_BRANCHFREE
		unsigned d = addr >= b->key[0];

		best = d ? b : best;
		n = rb_child(n, d);
#else
		/* Without conditional moves a select costs more than the branch. */
		if (addr >= b->key[0]) {
			best = b;
			n = rb_child(n, RB_RIGHT);
		} else {
			n = rb_child(n, RB_LEFT);
		}
#endif
	}
	return best;
}

/* The segment with the greatest address <= addr, or NULL. */
static inline __attribute__((always_inline)) struct vmem_region *seg_floor(struct vmem *vm,
									     svmm_va_t addr)
{
	struct vmem_blk *b = blk_floor(vm, addr);
	const svmm_va_t *k, *e;

	if (b == NULL)
		return NULL;
	/* A pointer walk from key[1] (key[0] <= addr). */
	k = b->key + 1;
	e = b->key + b->n;
	while (k < e && *k <= addr)
		k++;
	return ent_seg(b->seg[k - b->key - 1]);
}

/* The segment next to g in direction dir, or NULL. */
static struct vmem_region *seg_step(const struct vmem_region *g, unsigned dir)
{
	struct vmem_blk *b = seg_blk(g);
	unsigned i = blk_rank(b, g->addr);

	if (dir == RB_RIGHT) {
		if (i + 1 < b->n)
			return ent_seg(b->seg[i + 1]);
		b = blk_step(b, RB_RIGHT);
		return b ? ent_seg(b->seg[0]) : NULL;
	}
	if (i > 0)
		return ent_seg(b->seg[i - 1]);
	b = blk_step(b, RB_LEFT);
	return b ? ent_seg(b->seg[b->n - 1]) : NULL;
}

/* The first segment in address order, or NULL. */
static struct vmem_region *seg_first(struct vmem *vm)
{
	struct rb_node *n = rb_first(&vm->blks);

	return n ? ent_seg(BLK(n)->seg[0]) : NULL;
}

/* The first allocated segment from g on in direction dir (g included), or NULL. */
static struct vmem_region *used_from(struct vmem_region *g, unsigned dir)
{
	while (g != NULL && seg_free(g))
		g = seg_step(g, dir);
	return g;
}

/*
 * The first allocated segment past g in direction dir, or NULL: one rank, then the
 * entries' free bits (no free segment is loaded).
 */
static struct vmem_region *used_step(const struct vmem_region *g, unsigned dir)
{
	struct vmem_blk *b = seg_blk(g);
	unsigned i = blk_rank(b, g->addr);

	for (;;) {
		if (dir == RB_RIGHT) {
			if (++i >= b->n) {
				b = blk_step(b, RB_RIGHT);
				if (b == NULL)
					return NULL;
				i = 0;
			}
		} else {
			if (i-- == 0) {
				b = blk_step(b, RB_LEFT);
				if (b == NULL)
					return NULL;
				i = (unsigned)b->n - 1;
			}
		}
		if (!(b->seg[i] & ENT_FREE))
			return ent_seg(b->seg[i]);
	}
}

/* Make u a free region [addr, addr + size). */
static void unit_fill(struct vmem_unit *u, svmm_va_t addr, uint64_t size)
{
	u->r.seg.addr = addr;
	u->r.seg.size = size;
}

static void free_unit_linked(struct vmem *vm, struct vmem_unit *u)
{
	u->r.seg.blk |= SEG_FREE;
	sz_insert(vm, u);
	vm->nfree++;
}

/* Take free region u (its block entry already removed) out of the index, unit back. */
static inline void free_drop(struct vmem *vm, struct vmem_unit *u)
{
	sz_remove(vm, u);
	vm->nfree--;
	unit_put(vm, u);
}

/*
 * Join [addr, addr + size), which has no entry now, with the free regions p (ending at
 * addr) and n (starting at addr + size, entry ni of block nb); at least one is not NULL.
 * Needs no unit and no block.
 */
static inline __attribute__((always_inline)) void merge(struct vmem *vm, struct vmem_region *p,
							struct vmem_region *n, struct vmem_blk *nb,
							unsigned ni, svmm_va_t addr, uint64_t size)
{
	struct vmem_region *keep = p != NULL ? p : n;
	uint64_t total = size + (p != NULL ? p->size : 0) + (n != NULL ? n->size : 0);

	if (p != NULL && n != NULL) {
		blk_remove(vm, nb, ni);
		free_drop(vm, UNIT_OF(n));
	} else if (p == NULL) {
		nb->key[ni] = addr;   /* growing downwards: nothing lies between, n keeps its place */
		n->addr = addr;
	}
	sz_resize(vm, UNIT_OF(keep), total);
}

/*
 * Add [addr, addr + size), which meets no segment, as free space (vmem_init, vmem_add).
 * Needs a unit and a block unless it touches a free region; fails only then, with
 * nothing changed.
 */
static int add_free(struct vmem *vm, svmm_va_t addr, uint64_t size)
{
	struct vmem_blk *b, *nb;
	struct vmem_region *p, *nx;
	unsigned i, ni;

again:
	b = blk_floor(vm, addr);
	p = nx = NULL;
	i = ni = 0;
	if (b != NULL) {
		i = blk_rank(b, addr);   /* >= 1: key[0] < addr */
		p = ent_seg(b->seg[i - 1]);
		nb = b;
		ni = i;
		if (i == b->n) {
			nb = blk_step(b, RB_RIGHT);
			ni = 0;
		}
	} else {
		struct rb_node *f = rb_first(&vm->blks);

		nb = f ? BLK(f) : NULL;
	}
	if (nb != NULL)
		nx = ent_seg(nb->seg[ni]);
	p = p != NULL && seg_free(p) && seg_end(p) == addr ? p : NULL;
	nx = nx != NULL && seg_free(nx) && nx->addr == addr + size ? nx : NULL;
	if (p == NULL && nx == NULL) {
		struct vmem_unit *u;
		int err = pool_reserve(vm, 1);

		if (!err && vm->nblk_free < 1) {
			/* A packing reservation moves entries: find the place again. */
			err = blk_reserve(vm, 1);
			if (!err)
				goto again;
		}
		if (err)
			return err;
		u = unit_get(vm);
		unit_fill(u, addr, size);
		if (b != NULL) {
			blk_insert(vm, b, i, addr, (uintptr_t)&u->r.seg | ENT_FREE);
		} else if (nb != NULL) {
			blk_insert(vm, nb, 0, addr, (uintptr_t)&u->r.seg | ENT_FREE);
		} else {
			b = blk_get(vm);
			rb_insert(&vm->blks, NULL, RB_LEFT, &b->node);
			blk_put_at(b, 0, addr, (uintptr_t)&u->r.seg | ENT_FREE);
		}
		free_unit_linked(vm, u);
	} else {
		merge(vm, p, nx, nb, ni, addr, size);
	}
	return 0;
}

/*
 * Take [x, x + s) out of free region u and make it the allocated region r, entered right
 * beside what is left of u. The caller has reserved one unit if the range lies strictly
 * inside u (the remainder is then two regions) and two blocks (an entry or two more may
 * split a block).
 */
static void carve(struct vmem *vm, struct vmem_unit *u, svmm_va_t x, uint64_t s,
		  struct vmem_region *r)
{
	struct vmem_region *f = &u->r.seg;
	uint64_t front = x - f->addr, back = seg_end(f) - (x + s);
	struct vmem_blk *b = seg_blk(f);
	unsigned i = blk_rank(b, f->addr);

	r->addr = x;
	r->size = s;
	vm->used_bytes += s;
	vm->nused++;
	if (front == 0 && back == 0) {
		sz_remove(vm, u);
		b->seg[i] = (uintptr_t)r;
		seg_set_blk(r, b, 0);
		vm->nfree--;
		unit_put(vm, u);
	} else if (front == 0) {
		b->key[i] = x + s;
		f->addr = x + s;
		blk_insert(vm, b, i, x, (uintptr_t)r);
		sz_resize(vm, u, back);
	} else {
		unsigned ri = blk_insert(vm, b, i + 1, x, (uintptr_t)r);   /* r's index in its block */

		sz_resize(vm, u, front);
		if (back != 0) {
			struct vmem_unit *bu = unit_get(vm);

			unit_fill(bu, x + s, back);
			blk_insert(vm, seg_blk(r), ri + 1, x + s, (uintptr_t)&bu->r.seg | ENT_FREE);
			free_unit_linked(vm, bu);
		}
	}
}

/*
 * Give the allocated region r back as free space, merging with free neighbours, which
 * are the entries beside r's (in its block, or at the near end of the next block).
 * Whether they are free is the entries' bit 0: no neighbour is loaded unless free.
 * Needs a unit only when neither neighbour is free; fails only then (SVMM_ENOMEM), with
 * nothing changed.
 */
static inline __attribute__((always_inline)) int seg_release(struct vmem *vm, struct vmem_region *r)
{
	struct vmem_blk *b = seg_blk(r), *nb = b, *pb;
	svmm_va_t addr = r->addr;
	uint64_t size = r->size;
	unsigned i = blk_rank(b, addr), n = (unsigned)b->n, ni = i + 1;
	uintptr_t pe = 0, ne = 0;
	svmm_va_t nkey = KEY_NONE;
	struct vmem_region *p, *nx;

	if (i > 0) {
		pe = b->seg[i - 1];
	} else {
		pb = blk_step(b, RB_LEFT);
		if (pb != NULL)
			pe = pb->seg[pb->n - 1];
	}
	if (i + 1 < n) {
		ne = b->seg[i + 1];
		nkey = b->key[i + 1];
	} else {
		nb = blk_step(b, RB_RIGHT);
		ni = 0;
		if (nb != NULL) {
			ne = nb->seg[0];
			nkey = nb->key[0];
		}
	}
	p = (pe & ENT_FREE) ? ent_seg(pe) : NULL;
	if (p != NULL && seg_end(p) != addr)
		p = NULL;
	nx = (((ne & ENT_FREE) != 0) & (nkey == addr + size)) ? ent_seg(ne) : NULL;
	if (p == NULL && nx == NULL) {
		struct vmem_unit *u = unit_take(vm);

		if (u == NULL)
			return SVMM_ENOMEM;
		unit_fill(u, addr, size);
		u->r.seg.blk = (uintptr_t)b | SEG_FREE;
		b->seg[i] = (uintptr_t)&u->r.seg | ENT_FREE;
		sz_insert(vm, u);
		vm->nfree++;
	} else {
		/*
		 * b does not empty here if nx is in it. A block that empties (here, or in merge
		 * when it held just r and nx) is unused, and its page may have gone back to the
		 * source: decide before merge whether b is still there to join.
		 */
		bool live = blk_remove(vm, b, i);

		if (nb == b) {
			ni = i;
			live = p == NULL || nx == NULL || b->n != 1;
		}
		merge(vm, p, nx, nb, ni, addr, size);
		if (live)
			blk_underflow(vm, b);
	}
	r->blk = SEG_DEAD;
	vm->used_bytes -= size;
	vm->nused--;
	return 0;
}

/* ---------------------------------------------------------------- validation and fit */

static int check_range(const struct vmem *vm, svmm_va_t addr, uint64_t size)
{
	if (size == 0)
		return SVMM_EZEROSIZE;
	if (!SVMM_IS_ALIGNED(addr, vm->quantum) || !SVMM_IS_ALIGNED(size, vm->quantum))
		return SVMM_EUNALIGNED;
	if (addr + size < addr || addr + size == 0)
		return SVMM_EOVERFLOW;
	return 0;
}

/* Normalised constraints: align >= quantum, maxaddr 0 = the top of the address space. */
struct xc {
	uint64_t align, phase, nocross;
	svmm_va_t minaddr, maxaddr;
	bool ranged;
};

/* Smallest x >= lo with x % align == phase; false if that wraps past 2^64 - 1. */
static bool align_phase(uint64_t lo, uint64_t align, uint64_t phase, uint64_t *xp)
{
	uint64_t base = lo & ~(align - 1);
	uint64_t x = base + phase;

	if (x < base)
		return false;
	if (x < lo) {
		if (x + align < x)
			return false;
		x += align;
	}
	*xp = x;
	return true;
}

static bool crosses(uint64_t x, uint64_t s, uint64_t nocross)
{
	return nocross != 0 && ((x ^ (x + s - 1)) & ~(nocross - 1)) != 0;
}

/* The lowest start in the free region [a, a + size) that meets every constraint. */
static bool fit(uint64_t a, uint64_t size, uint64_t s, const struct xc *c, svmm_va_t *xp)
{
	uint64_t lo = a, hi = a + size;   /* no wrap: spans end below 2^64 */
	uint64_t x;

	if (lo < c->minaddr)
		lo = c->minaddr;
	if (hi > c->maxaddr)
		hi = c->maxaddr;
	if (lo >= hi || hi - lo < s)
		return false;
	if (!align_phase(lo, c->align, c->phase, &x))
		return false;
	if (crosses(x, s, c->nocross)) {
		/*
		 * Restart at the next boundary. The offset of the first aligned start past a
		 * boundary is the smallest any window allows, so if that start crosses too,
		 * every later one does.
		 */
		uint64_t b = (x | (c->nocross - 1)) + 1;

		if (b == 0 || !align_phase(b, c->align, c->phase, &x) || crosses(x, s, c->nocross))
			return false;
	}
	if (x > hi - s)
		return false;
	*xp = x;
	return true;
}

static int make_xc(const struct vmem *vm, uint64_t size, const struct vmem_constraint *c,
		   struct xc *xc)
{
	uint64_t q = vm->quantum;

	xc->align = q;
	xc->phase = 0;
	xc->nocross = 0;
	xc->minaddr = 0;
	xc->maxaddr = ~(uint64_t)0;
	xc->ranged = false;
	if (c == NULL)
		return 0;
	if (c->align != 0) {
		if (!SVMM_IS_POW2(c->align) || c->align < q)
			return SVMM_EALIGN;
		xc->align = c->align;
	}
	if (c->nocross != 0 && (!SVMM_IS_POW2(c->nocross) || c->nocross < q))
		return SVMM_EALIGN;
	if (!SVMM_IS_ALIGNED(c->phase, q) || !SVMM_IS_ALIGNED(c->minaddr, q) ||
	    !SVMM_IS_ALIGNED(c->maxaddr, q))
		return SVMM_EUNALIGNED;
	if (c->phase >= xc->align)
		return SVMM_EINVAL;
	if (c->nocross != 0 && size > c->nocross)
		return SVMM_EINVAL;   /* can never be met */
	if (c->maxaddr != 0 && c->maxaddr <= c->minaddr)
		return SVMM_EINVAL;
	xc->phase = c->phase;
	xc->nocross = c->nocross;
	xc->minaddr = c->minaddr;
	if (c->maxaddr != 0)
		xc->maxaddr = c->maxaddr;
	xc->ranged = c->minaddr != 0 || c->maxaddr != 0;
	return 0;
}

/* Candidates tried in size order before jumping to a size that must fit. */
#define XALLOC_SCAN 16

/*
 * Find a free region and a start for an allocation: *up gets the region, *xp the start.
 */
static bool find_fit(struct vmem *vm, uint64_t s, const struct xc *c, struct vmem_unit **up,
		     svmm_va_t *xp)
{
	unsigned tried = 0;
	uint64_t sure = s + c->align - vm->quantum;   /* any region this big fits */
	bool can_jump = !c->ranged && c->nocross == 0 && sure >= s;

	if (c->ranged) {
		/*
		 * An address window: walk the segments that meet it and keep the best free one
		 * (smallest, then lowest). Cost is the number of segments in the window.
		 */
		struct vmem_region *best = NULL, *f = seg_floor(vm, c->minaddr);
		svmm_va_t bestx = 0;

		struct vmem_region *g = f != NULL ? f : seg_first(vm);

		for (; g != NULL && g->addr < c->maxaddr; g = seg_step(g, RB_RIGHT)) {
			svmm_va_t x;

			if (seg_free(g) && fit(g->addr, g->size, s, c, &x) &&
			    (best == NULL || g->size < best->size)) {
				best = g;
				bestx = x;
			}
		}
		if (best == NULL)
			return false;
		*up = UNIT_OF(best);
		*xp = bestx;
		return true;
	}

	/* Best fit: the first region in (size, address) order that can hold the request. */
	for (struct vmem_unit *u = sz_first(vm, s); u != NULL;) {
		if (fit(u->r.seg.addr, u->r.seg.size, s, c, xp)) {
			*up = u;
			return true;
		}
		if (++tried == XALLOC_SCAN && can_jump && u->r.seg.size < sure) {
			/*
			 * Alignment keeps failing on regions barely large enough: jump to the
			 * smallest region that fits whatever its address. If there is none,
			 * keep scanning the rest one by one, so a fit is never missed.
			 */
			struct vmem_unit *m = sz_first(vm, sure);

			if (m != NULL) {
				u = m;
				continue;
			}
		}
		u = sz_next(vm, u);
	}
	return false;
}

/* ---------------------------------------------------------------- public interface */

/*
 * The arena's lock, unless the caller declared with vmem_lock_by_caller that it
 * serialises every call itself (an address space's uvmem, under the address-space lock).
 * The flag never changes after vmem_init's caller sets it, so the test is one branch
 * that always goes the same way for a given arena. The hint keeps the locking call on
 * the straight path: without it gcc moved port_lock out of line and an ordinary
 * arena paid a jump there and back on top of the test.
 */
static inline void arena_lock(struct vmem *vm)
{
	if (__builtin_expect(!vm->caller_locks, 1))
		port_lock(&vm->lock);
}

static inline void arena_unlock(struct vmem *vm)
{
	if (__builtin_expect(!vm->caller_locks, 1))
		port_unlock(&vm->lock);
}

int vmem_init(struct vmem *vm, svmm_va_t base, uint64_t size, uint64_t quantum,
	      const struct vmem_page_source *src)
{
	struct vmem_unit *b;

	if (!SVMM_IS_POW2(quantum))
		return SVMM_EALIGN;
	if (!SVMM_IS_ALIGNED(base, quantum) || !SVMM_IS_ALIGNED(size, quantum))
		return SVMM_EUNALIGNED;
	if (size != 0 && (base + size < base || base + size == 0))
		return SVMM_EOVERFLOW;
	if (src != NULL && (src->alloc == NULL || src->free == NULL))
		return SVMM_EINVAL;
	/* Everything but the bucket heads (meaningless while their bits are clear) and the
	 * bootstrap units (pushed on the free list below). */
	__builtin_memset(vm, 0, __builtin_offsetof(struct vmem, bucket));
	vm->quantum = quantum;
	while (((uint64_t)1 << vm->qshift) < quantum)
		vm->qshift++;
	if (src != NULL) {
		vm->src = *src;
		vm->has_src = true;
	}
	b = boot_units(vm);
	for (unsigned i = VMEM_BOOT_UNITS; i > 0; i--)
		unit_push(vm, &b[i - 1]);
	vm->nunits = VMEM_BOOT_UNITS;
	vm->nblks = vm->nblk_free = vm->nblk_boot = VMEM_BOOT_BLKS;   /* none listed yet */
	vm->live = VMEM_LIVE;
	if (size != 0) {
		(void)add_free(vm, base, size);   /* the boot units cannot run dry here */
		vm->nspans = 1;
		vm->span_bytes = size;
	}
	return 0;
}

void vmem_lock_by_caller(struct vmem *vm)
{
	vm->caller_locks = true;
}

/* Does any segment, free or allocated, meet [addr, addr + size)? */
static bool overlaps_any(struct vmem *vm, svmm_va_t addr, uint64_t size)
{
	struct vmem_region *f = seg_floor(vm, addr + size - 1);

	/* Segments do not overlap: the last one starting in the range decides. */
	return f != NULL && seg_end(f) > addr;
}

int vmem_add(struct vmem *vm, svmm_va_t base, uint64_t size)
{
	int err = check_range(vm, base, size);

	if (err)
		return err;
	arena_lock(vm);
	if (overlaps_any(vm, base, size)) {
		err = SVMM_EOVERLAP;
	} else {
		err = add_free(vm, base, size);
		if (!err) {
			vm->nspans++;
			vm->span_bytes += size;
		}
	}
	arena_unlock(vm);
	return err;
}

int vmem_xalloc(struct vmem *vm, uint64_t size, const struct vmem_constraint *c,
		struct vmem_region *r, svmm_va_t *addrp)
{
	struct xc xc;
	struct vmem_unit *u;
	svmm_va_t x;
	int err;

	if (size == 0)
		return SVMM_EZEROSIZE;
	if (!SVMM_IS_ALIGNED(size, vm->quantum))
		return SVMM_EUNALIGNED;
	err = make_xc(vm, size, c, &xc);
	if (err)
		return err;
	arena_lock(vm);
	if (!find_fit(vm, size, &xc, &u, &x)) {
		err = SVMM_ENOSPC;
	} else {
		/* A cut strictly inside the region leaves two: one more unit. */
		bool inside = x != u->r.seg.addr && x + size != seg_end(&u->r.seg);

		err = pool_reserve(vm, inside ? 1 : 0);
		if (!err)
			err = blk_reserve(vm, 2);
		if (!err) {
			carve(vm, u, x, size, r);
			if (addrp)
				*addrp = x;
		}
	}
	arena_unlock(vm);
	return err;
}

/*
 * carve() for the common allocation: the front of the head of bucket b, all of it if
 * exact (b is the request's own size). The region leaves its list by a pop and its
 * remainder, smaller, stays in a bucket, so none of the general case's tests are needed.
 */
static void carve_head(struct vmem *vm, unsigned b, bool exact, uint64_t s,
		       struct vmem_region *r)
{
	struct vmem_unit *u = vm->bucket[b];
	struct vmem_region *f = &u->r.seg;
	struct vmem_blk *blk = seg_blk(f);
	svmm_va_t a = f->addr;
	unsigned i = blk_rank(blk, a);

	r->addr = a;
	r->size = s;
	vm->used_bytes += s;
	vm->nused++;
	bucket_unlink(vm, b, u);
	if (exact) {
		blk->seg[i] = (uintptr_t)r;   /* the entry's key is the same */
		r->blk = (uintptr_t)blk;
		vm->nfree--;
		unit_put(vm, u);
	} else {
		blk->key[i] = a + s;
		f->addr = a + s;
		f->size -= s;
		blk_insert(vm, blk, i, a, (uintptr_t)r);
		bucket_push(vm, b - (unsigned)(s >> vm->qshift), u);
	}
}

int vmem_alloc(struct vmem *vm, uint64_t size, struct vmem_region *r, svmm_va_t *addrp)
{
	struct vmem_unit *u;
	unsigned b0, b;
	int err = 0;

	if (size == 0)
		return SVMM_EZEROSIZE;
	if (!SVMM_IS_ALIGNED(size, vm->quantum))
		return SVMM_EUNALIGNED;
	arena_lock(vm);
	/*
	 * A new entry may split a block: reserve one once a fit is found (nothing changed
	 * yet), so that no fit is SVMM_ENOSPC whatever the page source does.
	 */
	b0 = sz_bucket(vm, size);
	b = sz_bucket_from(vm, b0);
	if (b < VMEM_BUCKETS) {
		if (blk_reserve(vm, 1) != 0) {
			arena_unlock(vm);
			return SVMM_ENOMEM;
		}
		if (addrp)
			*addrp = vm->bucket[b]->r.seg.addr;
		/*
		 * A bucket holds one exact size, so the fit is exact iff the request's own
		 * bucket is not empty: a bitmap bit, known before the region is loaded. The
		 * choice is a coin toss, and a mispredicted branch resolves that much sooner.
		 */
		carve_head(vm, b, map_test(vm, b0), size, r);
		arena_unlock(vm);
		return 0;
	}
	u = sz_first(vm, size);
	if (u == NULL) {
		err = SVMM_ENOSPC;
	} else if (blk_reserve(vm, 1) != 0) {
		err = SVMM_ENOMEM;
	} else {
		/* Best fit takes the front of the region: never a cut inside, never a unit. */
		svmm_va_t x = u->r.seg.addr;

		carve(vm, u, x, size, r);
		if (addrp)
			*addrp = x;
	}
	arena_unlock(vm);
	return err;
}

int vmem_alloc_fixed(struct vmem *vm, svmm_va_t addr, uint64_t size, struct vmem_region *r)
{
	struct vmem_region *f;
	int err = check_range(vm, addr, size);

	if (err)
		return err;
	arena_lock(vm);
	f = seg_floor(vm, addr);
	if (f != NULL && seg_free(f) && addr + size <= seg_end(f)) {
		bool inside = addr != f->addr && addr + size != seg_end(f);

		err = pool_reserve(vm, inside ? 1 : 0);
		if (!err)
			err = blk_reserve(vm, 2);
		if (!err)
			carve(vm, UNIT_OF(f), addr, size, r);
	} else {
		/*
		 * Free regions never touch, so a range not inside one free region either
		 * meets an allocation or leaves the spans. Look back from its end over the
		 * segments that meet it.
		 */
		err = SVMM_ERANGE;
		for (f = seg_floor(vm, addr + size - 1); f != NULL && seg_end(f) > addr;
		     f = seg_step(f, RB_LEFT)) {
			if (!seg_free(f)) {
				err = SVMM_EBUSY;
				break;
			}
		}
	}
	arena_unlock(vm);
	return err;
}

int vmem_free(struct vmem *vm, svmm_va_t addr, uint64_t size, struct vmem_region **rp)
{
	struct vmem_region *f;
	int err;

	if (!SVMM_IS_ALIGNED(addr, vm->quantum) || !SVMM_IS_ALIGNED(size, vm->quantum))
		return SVMM_EUNALIGNED;
	arena_lock(vm);
	f = seg_floor(vm, addr);
	if (f == NULL || addr - f->addr >= f->size)
		err = SVMM_ENOENT;
	else if (seg_free(f))
		err = SVMM_EDOUBLEFREE;
	else if (f->addr != addr)
		err = SVMM_ENOENT;   /* inside an allocation: no partial frees */
	else if (size != 0 && size != f->size)
		err = SVMM_ESIZE;
	else
		err = seg_release(vm, f);
	if (!err && rp)
		*rp = f;
	arena_unlock(vm);
	return err;
}

int vmem_free_region(struct vmem *vm, struct vmem_region *r)
{
	int err;

	arena_lock(vm);
	if (r->blk & (SEG_DEAD | SEG_FREE))
		err = SVMM_EDOUBLEFREE;
	else
		err = seg_release(vm, r);
	arena_unlock(vm);
	return err;
}

/*
 * Both pools are topped up here, and only operations take from them: a unit page goes
 * back only while a page's worth of units stays free, and a block page only while a
 * page's worth of blocks does, so what this sets aside stays until operations use it.
 */
_Static_assert(VMEM_RESERVE_MAX <= UNITS_PER_PAGE && VMEM_RESERVE_MAX <= BLKS_PER_PAGE,
	       "a reservation must survive a page given back, and take one page at most");

int vmem_reserve(struct vmem *vm, unsigned n)
{
	uint64_t pages;
	int err;

	if (n > VMEM_RESERVE_MAX)
		return SVMM_EINVAL;
	arena_lock(vm);
	pages = vm->npages;
	err = pool_reserve(vm, n);
	if (!err) {
		err = blk_reserve(vm, n);
		/* All or nothing: a unit page just taken, wholly unused, goes back. */
		while (err && vm->npages > pages)
			page_release(vm, vm->pages);
	}
	arena_unlock(vm);
	return err;
}

int vmem_split(struct vmem *vm, struct vmem_region *r, svmm_va_t at, struct vmem_region *tail)
{
	int err = 0;

	if (!SVMM_IS_ALIGNED(at, vm->quantum))
		return SVMM_EUNALIGNED;
	arena_lock(vm);
	if (r->blk & (SEG_DEAD | SEG_FREE)) {
		err = SVMM_ENOENT;
	} else if (at <= r->addr || at >= seg_end(r)) {
		err = SVMM_ERANGE;
	} else if ((err = blk_reserve(vm, 1)) == 0) {
		/* The tail's entry may split a block, so a split may need memory. */
		struct vmem_blk *b = seg_blk(r);

		tail->addr = at;
		tail->size = seg_end(r) - at;
		r->size = at - r->addr;
		blk_insert(vm, b, blk_rank(b, r->addr) + 1, at, (uintptr_t)tail);
		vm->nused++;
	}
	arena_unlock(vm);
	return err;
}

int vmem_join(struct vmem *vm, struct vmem_region *r, struct vmem_region *next)
{
	int err = 0;

	arena_lock(vm);
	if ((r->blk & (SEG_DEAD | SEG_FREE)) || (next->blk & (SEG_DEAD | SEG_FREE)))
		err = SVMM_ENOENT;
	else if (seg_end(r) != next->addr || seg_step(r, RB_RIGHT) != next)
		err = SVMM_ERANGE;
	else {
		struct vmem_blk *b = seg_blk(next);

		blk_remove(vm, b, blk_rank(b, next->addr));
		next->blk = SEG_DEAD;
		r->size += next->size;
		vm->nused--;
	}
	arena_unlock(vm);
	return err;
}

struct vmem_region *vmem_lookup(struct vmem *vm, svmm_va_t addr)
{
	struct vmem_region *r;

	arena_lock(vm);
	r = seg_floor(vm, addr);
	if (r != NULL && (seg_free(r) || addr - r->addr >= r->size))
		r = NULL;
	arena_unlock(vm);
	return r;
}

struct vmem_region *vmem_first_from(struct vmem *vm, svmm_va_t addr)
{
	struct vmem_region *r;

	arena_lock(vm);
	r = seg_floor(vm, addr);
	if (r == NULL)
		r = used_from(seg_first(vm), RB_RIGHT);
	else if (seg_free(r) || addr - r->addr >= r->size)
		r = used_step(r, RB_RIGHT);
	arena_unlock(vm);
	return r;
}

/* The allocated neighbour of r in direction dir, under the lock. */
static struct vmem_region *used_neighbour(struct vmem *vm, const struct vmem_region *r,
					  unsigned dir)
{
	struct vmem_region *n;

	arena_lock(vm);
	n = used_step(r, dir);
	arena_unlock(vm);
	return n;
}

struct vmem_region *vmem_next(struct vmem *vm, const struct vmem_region *r)
{
	return used_neighbour(vm, r, RB_RIGHT);
}

struct vmem_region *vmem_prev(struct vmem *vm, const struct vmem_region *r)
{
	return used_neighbour(vm, r, RB_LEFT);
}

static void walk_locked(struct vmem *vm, void (*fn)(void *ctx, svmm_va_t addr, uint64_t size, bool used),
			void *ctx)
{
	for (struct rb_node *n = rb_first(&vm->blks); n != NULL; n = rb_next(n))
		for (unsigned i = 0; i < BLK(n)->n; i++) {
			const struct vmem_region *g = ent_seg(BLK(n)->seg[i]);

			fn(ctx, g->addr, g->size, !seg_free(g));
		}
}

void vmem_walk(struct vmem *vm, void (*fn)(void *ctx, svmm_va_t addr, uint64_t size, bool used),
	       void *ctx)
{
	arena_lock(vm);
	walk_locked(vm, fn, ctx);
	arena_unlock(vm);
}

static void stats_locked(struct vmem *vm, struct vmem_stats *st)
{
	st->free_bytes = vm->span_bytes - vm->used_bytes;   /* the regions tile the spans */
	st->used_bytes = vm->used_bytes;
	st->free_regions = vm->nfree;
	st->used_regions = vm->nused;
	st->largest_free = sz_largest(vm);
	st->span_bytes = vm->span_bytes;
	st->spans = vm->nspans;
	st->pool_pages = vm->npages;
	st->pool_units = vm->nunits;
	st->pool_units_free = vm->nunits_free + vm->nucache;
	st->blocks = vm->nblk_used;
	st->blk_pages = vm->nblk_pages;
}

void vmem_stats(struct vmem *vm, struct vmem_stats *st)
{
	arena_lock(vm);
	stats_locked(vm, st);
	arena_unlock(vm);
}

struct dump_ctx {
	svmm_print_fn out;
	void *ctx;
};

static void dump_region(void *ctx, svmm_va_t addr, uint64_t size, bool used)
{
	struct dump_ctx *d = ctx;
	char sz[24];

	svmm_fmt_size(sz, sizeof(sz), size);
	svmm_printline(d->out, d->ctx, "  [0x%016llx, 0x%016llx) %6s %s",
		       (unsigned long long)addr, (unsigned long long)(addr + size), sz,
		       used ? "used" : "free");
}

void vmem_dump(struct vmem *vm, bool regions, svmm_print_fn out, void *ctx)
{
	struct vmem_stats st;
	struct dump_ctx d = { out, ctx };

	arena_lock(vm);
	stats_locked(vm, &st);
	svmm_printline(out, ctx,
		       "vmem: %llu span(s), %llu bytes; used %llu bytes in %llu region(s); "
		       "free %llu bytes in %llu region(s), largest %llu",
		       (unsigned long long)st.spans, (unsigned long long)st.span_bytes,
		       (unsigned long long)st.used_bytes, (unsigned long long)st.used_regions,
		       (unsigned long long)st.free_bytes, (unsigned long long)st.free_regions,
		       (unsigned long long)st.largest_free);
	svmm_printline(out, ctx, "vmem: pool %llu unit(s), %llu free, %llu page(s) from the source",
		       (unsigned long long)st.pool_units, (unsigned long long)st.pool_units_free,
		       (unsigned long long)st.pool_pages);
	if (regions)
		walk_locked(vm, dump_region, &d);
	arena_unlock(vm);
}

/* ---------------------------------------------------------------- consistency */

static int size_cmp(const struct rb_node *a, const struct rb_node *b)
{
	const struct vmem_region *x = &UNIT_OF_SZ(a)->r.seg, *y = &UNIT_OF_SZ(b)->r.seg;

	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int seg_cmp(const struct rb_node *a, const struct rb_node *b)
{
	svmm_va_t x = BLK(a)->key[0], y = BLK(b)->key[0];

	return x < y ? -1 : x > y;
}

/* Report the first broken invariant (through out, if given) and fail. */
#define CHECK(cond, ...)                                              \
	do {                                                          \
		if (!(cond)) {                                        \
			if (out != NULL)                              \
				svmm_printline(out, ctx, "vmem: " __VA_ARGS__); \
			return SVMM_EINVAL;                           \
		}                                                     \
	} while (0)

static int check_locked(struct vmem *vm, svmm_print_fn out, void *ctx)
{
	uint64_t free_bytes = 0, used_bytes = 0, nfree = 0, nused = 0, on_list = 0;
	uint64_t page_used = 0, in_index = 0;
	const struct vmem_region *prev = NULL;
	int rc;

	CHECK(vm->live == VMEM_LIVE, "the arena is initialised and not destroyed");
	rc = rb_check(&vm->blks, seg_cmp, vm->nblk_used);
	CHECK(rc == RB_OK, "the block tree is a red-black tree of %llu blocks in address order: %s",
	      (unsigned long long)vm->nblk_used, rb_check_what(rc));
	/*
	 * Each block: 1..BLK_SLOTS entries, keys ascending and equal to their segments'
	 * addresses, unused keys KEY_NONE, each entry's free bit its segment's, each
	 * segment pointing back at its block. (Order across blocks: the walk below.)
	 */
	{
		uint64_t nent = 0, nfb = 0;

		for (struct rb_node *n = rb_first(&vm->blks); n != NULL; n = rb_next(n)) {
			const struct vmem_blk *b = BLK(n);

			CHECK(((uintptr_t)b & (VMEM_BLK_SIZE - 1)) == 0, "blocks are aligned");
			CHECK(b->n >= 1 && b->n <= BLK_SLOTS, "a block holds 1 to %u entries (%llu)",
			      BLK_SLOTS, (unsigned long long)b->n);
			for (unsigned j = 0; j < BLK_SLOTS; j++) {
				const struct vmem_region *g;

				if (j >= b->n) {
					CHECK(b->key[j] == KEY_NONE, "a block's unused keys are KEY_NONE");
					continue;
				}
				g = ent_seg(b->seg[j]);
				CHECK(g != NULL && b->key[j] == g->addr,
				      "a block's keys are its segments' addresses (0x%llx)",
				      (unsigned long long)b->key[j]);
				CHECK(j == 0 || b->key[j - 1] < b->key[j], "a block's keys ascend");
				CHECK(seg_blk(g) == b, "each segment points at its block (0x%llx)",
				      (unsigned long long)g->addr);
				CHECK(((b->seg[j] & ENT_FREE) != 0) == seg_free(g),
				      "an entry's free bit is its segment's (0x%llx)", (unsigned long long)g->addr);
				nent++;
			}
		}
		CHECK(nent == vm->nfree + vm->nused, "the blocks hold nfree+nused entries (%llu)",
		      (unsigned long long)nent);
		uint64_t bpages = 0, bcounted = 0, bpage_used = 0;

		for (struct vmem_blk *b = vm->blk_free, *pv = NULL; b != NULL; pv = b, b = BLK_NEXT(b)) {
			CHECK(++nfb <= vm->nblks, "the free block list is no longer than the pool");
			CHECK(BLK_PREV(b) == pv, "the free block list is well linked");
		}
		CHECK(vm->nblk_boot <= VMEM_BOOT_BLKS && nfb + vm->nblk_boot == vm->nblk_free,
		      "the free block count matches its list and the boot blocks not yet used");
		for (struct rb_node *n = rb_first(&vm->blks); n != NULL; n = rb_next(n))
			bpage_used += !blk_is_boot(vm, BLK(n));
		for (struct vmem_blk_page *pg = vm->blk_pages; pg != NULL; pg = pg->next) {
			CHECK(++bpages <= vm->nblk_pages, "the block page list is no longer than its count");
			CHECK(pg->next == NULL || pg->next->prev == pg, "the block page list is well linked");
			bcounted += pg->used;
		}
		CHECK(bpages == vm->nblk_pages, "the block page count matches its list");
		CHECK(bcounted == bpage_used, "each block page counts its blocks in the tree");
		CHECK(vm->nblks == VMEM_BOOT_BLKS + vm->nblk_pages * BLKS_PER_PAGE &&
		      vm->nblks == vm->nblk_free + vm->nblk_used,
		      "the block pool holds the boot blocks plus %u per page, free or in use",
		      (unsigned)BLKS_PER_PAGE);
	}

	/*
	 * The size index: each bucket lists regions of exactly its size, well linked, and
	 * its bit says whether it holds any; the size tree holds the larger ones in (size,
	 * address) order; every entry is a free segment; together they hold every free
	 * region once (counted here, matched below).
	 */
	rc = rb_check(&vm->size_tree, size_cmp, RB_CHECK_ANY_COUNT);
	CHECK(rc == RB_OK, "the size tree is a red-black tree in (size, address) order: %s",
	      rb_check_what(rc));
	for (struct rb_node *n = rb_first(&vm->size_tree); n != NULL; n = rb_next(n)) {
		const struct vmem_region *g = &UNIT_OF_SZ(n)->r.seg;

		CHECK(sz_bucket(vm, g->size) == VMEM_BUCKETS && seg_free(g),
		      "the size tree holds free regions above %u quanta (0x%llx)", VMEM_BUCKETS,
		      (unsigned long long)g->addr);
		in_index++;
	}
	for (unsigned w = 0; w < VMEM_BUCKETS / 64; w++)
		CHECK(((vm->bucket_sum >> w) & 1) == (vm->bucket_map[w] != 0),
		      "the bitmap's summary says which of its words have bits (word %u)", w);
	for (unsigned b = 0; b < VMEM_BUCKETS; b++) {
		if (!map_test(vm, b))
			continue;
		CHECK(vm->bucket[b] != NULL, "a bucket whose bitmap bit is set holds regions (bucket %u)", b);
		for (struct vmem_unit *u = vm->bucket[b], *pv = NULL; u != NULL; pv = u, u = u->r.bl.next) {
			CHECK(pv == NULL || u->r.bl.prev == pv, "bucket %u's list is well linked", b);
			CHECK(sz_bucket(vm, u->r.seg.size) == b && seg_free(&u->r.seg),
			      "bucket %u lists free regions of %u quanta (0x%llx)", b, b + 1,
			      (unsigned long long)u->r.seg.addr);
			in_index++;
			CHECK(in_index <= vm->nfree, "the size index holds no more than nfree regions");
		}
	}
	CHECK(in_index == vm->nfree, "the size index holds every free region once (%llu, nfree %llu)",
	      (unsigned long long)in_index, (unsigned long long)vm->nfree);

	/* Every segment in address order: sizes, no overlap, no two free ones touching. */
	for (const struct vmem_region *g = seg_first(vm); g != NULL; g = seg_step(g, RB_RIGHT)) {
		svmm_va_t a = g->addr;
		uint64_t s = g->size;

		CHECK(s != 0, "no region is empty (at 0x%llx)", (unsigned long long)a);
		CHECK(SVMM_IS_ALIGNED(a, vm->quantum) && SVMM_IS_ALIGNED(s, vm->quantum),
		      "regions are quantum-aligned ([0x%llx, +0x%llx))", (unsigned long long)a,
		      (unsigned long long)s);
		CHECK(a + s > a, "no region wraps (at 0x%llx)", (unsigned long long)a);
		if (prev != NULL) {
			CHECK(seg_end(prev) <= a, "regions do not overlap (0x%llx)", (unsigned long long)a);
			CHECK(!(seg_free(prev) && seg_free(g) && seg_end(prev) == a),
			      "no two free regions are adjacent (at 0x%llx)", (unsigned long long)a);
		}
		if (seg_free(g)) {
			const struct vmem_unit *u = UNIT_OF(g);

			if (!unit_is_boot(vm, u))
				page_used++;
			free_bytes += s;
			nfree++;
		} else {
			used_bytes += s;
			nused++;
		}
		prev = g;
	}
	CHECK(nfree == vm->nfree && nused == vm->nused,
	      "the region counters match the tree (free %llu/%llu, used %llu/%llu)",
	      (unsigned long long)nfree, (unsigned long long)vm->nfree,
	      (unsigned long long)nused, (unsigned long long)vm->nused);
	CHECK(used_bytes == vm->used_bytes, "the byte counter matches the allocated regions");
	CHECK(free_bytes + used_bytes == vm->span_bytes, "the regions cover exactly the spans");

	/* The pool: list length, units in use = free regions, page counts. */
	for (struct vmem_unit *it = vm->units_free; it != NULL; it = it->f.next) {
		CHECK(it->f.next == NULL || it->f.next->f.prev == it, "the pool's free list is well linked");
		on_list++;
		CHECK(on_list <= vm->nunits, "the pool's free list is no longer than the pool");
	}
	CHECK(on_list == vm->nunits_free, "the pool's free count matches its list");
	on_list = 0;
	for (struct vmem_unit *it = vm->ucache; it != NULL; it = it->f.next) {
		CHECK(++on_list <= VMEM_UCACHE, "the unit cache holds at most %u units", VMEM_UCACHE);
		if (!unit_is_boot(vm, it))
			page_used++;   /* a cached unit counts as used in its page */
	}
	CHECK(on_list == vm->nucache, "the unit cache's count matches its list");
	CHECK(vm->nunits == VMEM_BOOT_UNITS + vm->npages * UNITS_PER_PAGE,
	      "the pool holds the boot units plus %u per page", (unsigned)UNITS_PER_PAGE);
	CHECK(vm->nunits - vm->nunits_free - vm->nucache == vm->nfree,
	      "pool units in use equal free regions (cached units aside)");
	{
		uint64_t pages = 0, counted = 0;

		for (struct vmem_pool_page *pg = vm->pages; pg != NULL; pg = pg->next) {
			pages++;
			CHECK(pages <= vm->npages, "the pool's page list is no longer than its count");
			counted += pg->used;
		}
		CHECK(pages == vm->npages, "the pool's page count matches its list");
		CHECK(counted == page_used, "each pool page counts the free regions it holds");
	}
	return 0;
}

int vmem_check(struct vmem *vm, svmm_print_fn out, void *ctx)
{
	int err;

	arena_lock(vm);
	err = check_locked(vm, out, ctx);
	arena_unlock(vm);
	return err;
}

int vmem_destroy(struct vmem *vm)
{
	arena_lock(vm);
	if (vm->nused != 0) {
		arena_unlock(vm);
		return SVMM_ELIVE;
	}
	/* Free regions need no unlinking: their units die with the pool. */
	while (vm->pages != NULL) {
		struct vmem_pool_page *pg = vm->pages;

		vm->pages = pg->next;
		vm->src.free(vm->src.ctx, pg);
	}
	vm->npages = 0;
	while (vm->blk_pages != NULL) {
		struct vmem_blk_page *pg = vm->blk_pages;

		vm->blk_pages = pg->next;
		vm->src.free(vm->src.ctx, pg);
	}
	vm->nblk_pages = vm->nblks = vm->nblk_free = vm->nblk_used = vm->nblk_boot = 0;
	vm->blk_free = NULL;
	vm->size_tree.rb_node = vm->blks.rb_node = NULL;
	for (unsigned w = 0; w < VMEM_BUCKETS / 64; w++)
		vm->bucket_map[w] = 0;
	vm->bucket_sum = 0;
	vm->units_free = vm->ucache = NULL;
	vm->nucache = 0;
	vm->nunits = vm->nunits_free = vm->nfree = 0;
	vm->span_bytes = vm->nspans = 0;
	vm->live = 0;
	arena_unlock(vm);
	return 0;
}
