/*
 * svmm/vmem.h - the virtual range allocator: one arena of addresses, handed out in
 * multiples of a quantum, with best fit, Bonwick-style constraints and fixed-address
 * allocation. docs/vmem.md states the theory, the invariants and the costs.
 *
 * Two indexes describe the arena:
 *   - the segment index: every region, free or allocated, by address, as entries of
 *     256-byte blocks (up to 14 sorted entries: the start address, and a pointer to the
 *     region with a free bit) in a red-black tree of blocks keyed by their first
 *     address. It answers "which region holds this address" (a page fault), finds a
 *     freed region's merge partners (the entries beside its own) and enters a new
 *     allocation right beside the free region it was cut from, without a search;
 *   - the size index: free regions by (size, address), for best fit. Regions of up to
 *     VMEM_BUCKETS quanta sit on a list per exact size (found through a bitmap),
 *     larger ones in one size tree.
 * A free region is one 48-byte pool unit: its segment, then its size-index entry at a
 * fixed offset. An allocated region is a struct vmem_region that the caller embeds in
 * its own structure (24 bytes), so the arena never allocates for it, a lookup lands on
 * the caller's data, and vmem_free_region frees it with no search at all. Each segment
 * points back to its block.
 *
 * Free-region units and blocks come from pools: some inside struct vmem, then 4 KiB
 * pages from the caller's page source. Every operation reserves what it may need
 * before it changes anything, so a failed call (ENOMEM included) leaves the arena as it
 * was. Every public function takes the arena's lock through port_lock, unless the
 * caller has declared with vmem_lock_by_caller that it serialises every call on the
 * arena itself (then vmem takes no lock of its own on it). No function recurses or
 * keeps arrays on the stack.
 */
#ifndef SVMM_VMEM_H
#define SVMM_VMEM_H

#include <svmm/fmt.h>
#include <svmm/port.h>
#include <svmm/rbtree.h>
#include <svmm/types.h>

/* Free regions that an arena can hold before it needs its page source. */
#define VMEM_BOOT_UNITS 32
#ifndef VMEM_UNIT_SIZE
#define VMEM_UNIT_SIZE  48   /* segment 24 + size-index entry 24 (64 before the blocks) */
#endif
#define VMEM_POOL_PAGE  4096
struct vmem_unit;        /* a free region's node pair, or a free pool unit (private) */
struct vmem_blk;         /* a block of the segment index (private) */
#ifndef VMEM_BLK_SIZE
#define VMEM_BLK_SIZE   256   /* 14 entries of 16 bytes (32-bit keys were slower: docs/vmem.md, decision 14) */
#endif
/*
 * Blocks inside struct vmem: the 2 * VMEM_BOOT_UNITS + 1 segments of a full bootstrap
 * arena packed 14 to a block, plus the two that an operation may reserve (vmem.c packs
 * the blocks when it has no page source to ask).
 */
#define VMEM_BOOT_BLKS  7
struct vmem_blk_page;    /* header of a page of blocks (private) */
/* The most segment entries one vmem_reserve can set aside for. */
#define VMEM_RESERVE_MAX 8
struct vmem_pool_page;   /* header of a page from the page source (private) */

/* Free regions of up to this many quanta are indexed by exact size (docs/vmem.md). */
#define VMEM_BUCKETS    512

/*
 * An allocated region. The caller embeds it in its own structure and hands it to
 * vmem_alloc and friends, which fill addr and size; it stays the caller's memory, and
 * is owned by the arena (an entry of its segment index) until vmem_free returns it.
 */
struct vmem_region {
	uintptr_t blk;         /* private to vmem: the block holding its entry, and flags */
	svmm_va_t addr;
	uint64_t size;
};
#define SEG_DEAD ((uintptr_t)1)   /* private: in no block (freed) */
#define SEG_FREE ((uintptr_t)2)   /* private: a free region's segment */

/*
 * Where the pool gets pages for free-region nodes. alloc stores one 4 KiB page,
 * 4 KiB-aligned, in *page and returns 0, or returns SVMM_ENOMEM. Both are called with
 * the arena's lock held (or, for an arena locked by its caller, inside the caller's
 * serialised call) and must not call back into the same arena.
 */
struct vmem_page_source {
	int (*alloc)(void *ctx, void **page);
	void (*free)(void *ctx, void *page);
	void *ctx;
};

/*
 * Constraints for vmem_xalloc, as in Bonwick's vmem_xalloc; every field 0 = none.
 *   align    the start is a multiple of align (a power of two >= the quantum) ...
 *   phase    ... plus phase: start % align == phase (a multiple of the quantum < align)
 *   nocross  [start, start + size) does not cross a multiple of nocross (a power of two
 *            >= the quantum, >= size)
 *   minaddr  start >= minaddr
 *   maxaddr  start + size <= maxaddr (an exclusive end; 0 = no limit)
 */
struct vmem_constraint {
	uint64_t align, phase, nocross;
	svmm_va_t minaddr, maxaddr;
};

struct vmem_stats {
	uint64_t free_bytes, used_bytes;
	uint64_t free_regions, used_regions;
	uint64_t largest_free;   /* size of the largest free region */
	uint64_t span_bytes;     /* bytes given by vmem_init and vmem_add */
	uint64_t spans;
	uint64_t pool_pages;     /* pages held from the page source */
	uint64_t pool_units;     /* free-region units, boot ones included */
	uint64_t pool_units_free;
	uint64_t blocks, blk_pages;   /* segment-index blocks in use, pages holding blocks */
};


/* The arena. Callers embed it and treat every field as private. */
struct vmem {
	struct svmm_lock lock;
	uint32_t live;              /* VMEM_LIVE between init and destroy */
	uint64_t quantum;
	struct rb_root blks;        /* blocks of segments (every region), by first address */
	struct rb_root size_tree;   /* free regions above VMEM_BUCKETS quanta, by (size, address) */
	uint64_t bucket_map[VMEM_BUCKETS / 64];   /* bit k: bucket[k] holds regions */
	uint64_t bucket_sum;        /* bit w: bucket_map[w] is not 0 */
	unsigned qshift;            /* log2(quantum) */
	uint64_t used_bytes, nfree, nused, nspans, span_bytes;   /* free bytes: span - used */
	struct vmem_page_source src;
	bool has_src;
	bool caller_locks;          /* vmem_lock_by_caller: vm->lock is never taken */
	struct vmem_unit *units_free;   /* doubly linked list of free pool units */
	uint64_t nunits, nunits_free;
	struct vmem_pool_page *pages;   /* doubly linked list of source pages */
	uint64_t npages;
	struct vmem_unit *sink;     /* takes the bucket lists' stores to a missing neighbour */
	struct vmem_unit *ucache;   /* a few free units for the hot paths (vmem.c) */
	uint64_t nucache;
	struct vmem_blk *blk_free;  /* free blocks, linked through rb_link[0] */
	uint64_t nblks, nblk_free, nblk_used;
	uint64_t nblk_boot;         /* boot blocks never used yet (counted in nblk_free) */
	struct vmem_blk_page *blk_pages;   /* doubly linked list of pages of blocks */
	uint64_t nblk_pages;
	/*
	 * Free regions of k + 1 quanta, newest first. Only the heads whose bitmap bit is set
	 * mean anything, so vmem_init need not clear 4 KiB of them.
	 */
	struct vmem_unit *bucket[VMEM_BUCKETS];
	/* The bootstrap units; aligned to a cache line at run time (one unit of slack). */
	unsigned char boot[(VMEM_BOOT_UNITS + 1) * VMEM_UNIT_SIZE];
	unsigned char bboot[(VMEM_BOOT_BLKS + 1) * VMEM_BLK_SIZE];
};

/*
 * Set up an arena over [base, base + size) with the given quantum (a power of two:
 * SVMM_EALIGN otherwise). base and size must be multiples of the quantum
 * (SVMM_EUNALIGNED) and base + size must not wrap past 2^64 - 1 (SVMM_EOVERFLOW). size 0
 * makes an arena with no span yet (add some with vmem_add). src may be NULL: the arena
 * then holds at most VMEM_BOOT_UNITS free regions, and operations that would need more
 * fail with SVMM_ENOMEM. The source is copied; its ctx must outlive the arena.
 */
int vmem_init(struct vmem *vm, svmm_va_t base, uint64_t size, uint64_t quantum,
	      const struct vmem_page_source *src);

/*
 * Declare that the caller serialises every call on vm itself, under a lock of its own
 * (as Linux's maple tree takes an external lock): from now on no vmem function takes
 * vm's lock, which saves a lock round trip per call. Call it right after vmem_init and
 * before any other call; it lasts until the next vmem_init. The caller must then hold
 * its lock, or own the arena alone, around every call on vm, lookups and
 * vmem_check/vmem_stats included, and for as long as it uses a region pointer that a
 * lookup returned. Arenas that do not call it lock as before.
 */
void vmem_lock_by_caller(struct vmem *vm);

/*
 * Add the span [base, base + size). It must not overlap any span of the arena
 * (SVMM_EOVERLAP). A span that abuts another merges with its free neighbour: the arena
 * does not remember span boundaries (docs/vmem.md, decision 2). Size and alignment are
 * checked as for vmem_init (SVMM_EZEROSIZE, SVMM_EUNALIGNED, SVMM_EOVERFLOW); a span
 * touching no free region needs a pool unit and maybe a block (SVMM_ENOMEM if none
 * can be had).
 */
int vmem_add(struct vmem *vm, svmm_va_t base, uint64_t size);

/*
 * Allocate size bytes by best fit: the smallest free region that holds size, and the
 * lowest addresses within it. Among free regions of equal size, one of up to
 * VMEM_BUCKETS quanta is the most recently freed or resized, a larger one the
 * lowest-addressed. O(1) when a region of up to VMEM_BUCKETS quanta fits, else O(log n).
 * Fills r (the caller's, owned by the arena until freed) and *addrp (addrp may be NULL).
 * SVMM_EZEROSIZE for size 0, SVMM_EUNALIGNED if size is not a multiple of the quantum,
 * SVMM_ENOSPC if no free region is large enough. Never needs a pool unit, but the new
 * entry may need a new block of the segment index: SVMM_ENOMEM if none can be had.
 */
int vmem_alloc(struct vmem *vm, uint64_t size, struct vmem_region *r, svmm_va_t *addrp);

/*
 * Allocate under constraints (c may be NULL: same as vmem_alloc). Never fails while a
 * free range satisfying every constraint exists. Usually the smallest fitting region is
 * chosen, but a request whose alignment is large next to its size may take a region up
 * to size + align bigger instead of searching further (docs/vmem.md). Malformed
 * constraints: SVMM_EALIGN, SVMM_EUNALIGNED or SVMM_EINVAL (docs/vmem.md, decision 6);
 * a cut strictly inside a region needs a pool unit, and the entries a block
 * (SVMM_ENOMEM).
 */
int vmem_xalloc(struct vmem *vm, uint64_t size, const struct vmem_constraint *c,
		struct vmem_region *r, svmm_va_t *addrp);

/*
 * Allocate exactly [addr, addr + size). SVMM_EBUSY if part of it is allocated,
 * SVMM_ERANGE if part of it lies outside every span; argument errors as for vmem_add;
 * SVMM_ENOMEM if a cut strictly inside a free region finds no pool unit, or the new
 * entries (up to two) no block. Counts as two entries for vmem_reserve.
 */
int vmem_alloc_fixed(struct vmem *vm, svmm_va_t addr, uint64_t size, struct vmem_region *r);

/*
 * Free the allocation that starts at addr. size must be its size, or 0 for "whatever
 * was allocated there". If rp is not NULL, *rp gets the caller's region back, so it
 * can free the structure that embeds it. SVMM_ENOENT: no allocation starts at addr;
 * SVMM_EDOUBLEFREE: addr lies in a free region; SVMM_ESIZE: wrong size;
 * SVMM_EUNALIGNED: addr or size not a multiple of the quantum; SVMM_ENOMEM: the range
 * touches no free region and no pool unit can be had. O(log n): one search.
 */
int vmem_free(struct vmem *vm, svmm_va_t addr, uint64_t size, struct vmem_region **rp);

/*
 * Free the allocated region r itself, which the caller holds: no search, O(1) amortised
 * plus the size tree's update. r must have been allocated from vm; a region freed
 * already gives SVMM_EDOUBLEFREE, and SVMM_ENOMEM as for vmem_free.
 */
int vmem_free_region(struct vmem *vm, struct vmem_region *r);

/*
 * Cut the allocated region r at at (a multiple of the quantum strictly inside it): r
 * keeps [r->addr, at) and tail becomes the allocated region [at, old end). The tail's
 * entry may need a new block of the segment index: SVMM_ENOMEM (nothing changed) if
 * none can be had; a caller that must not fail reserves it first (vmem_reserve).
 * SVMM_EUNALIGNED, SVMM_ERANGE (at not strictly inside), SVMM_ENOENT (r is not
 * allocated).
 */
int vmem_split(struct vmem *vm, struct vmem_region *r, svmm_va_t at, struct vmem_region *tail);

/*
 * Set aside, all or nothing, n pool units and n blocks of the segment index (n at most
 * VMEM_RESERVE_MAX, else SVMM_EINVAL), taking pages from the source as needed, so that
 * the calls that follow cannot fail with SVMM_ENOMEM as long as together they need no
 * more: vmem_split and vmem_alloc one block each, vmem_xalloc and vmem_alloc_fixed two
 * blocks and a unit, vmem_add a block and a unit, a free a unit (vmem_join nothing).
 * What is set aside stays in the pools (no release call: frees only add to them, and
 * pages go back only above the reserve); another user of the arena may take it, so a
 * caller relies on it only while it keeps others off (vmem_lock_by_caller, or its own
 * exclusion). SVMM_ENOMEM with nothing changed if the source fails.
 */
int vmem_reserve(struct vmem *vm, unsigned n);

/*
 * Join the allocated region next, which must start where r ends, into r: r grows over
 * it and next is no longer the arena's. Needs no memory. SVMM_ENOENT (either is not
 * allocated), SVMM_ERANGE (not adjacent).
 */
int vmem_join(struct vmem *vm, struct vmem_region *r, struct vmem_region *next);

/* The allocated region containing addr, or NULL. O(log n). */
struct vmem_region *vmem_lookup(struct vmem *vm, svmm_va_t addr);

/*
 * Ordered iteration over allocated regions: vmem_first_from gives the one containing
 * addr or else the first one after it, vmem_next and vmem_prev the allocated neighbours
 * of r (NULL at either end). A step is O(1) amortised; r must be allocated in vm.
 */
struct vmem_region *vmem_first_from(struct vmem *vm, svmm_va_t addr);
struct vmem_region *vmem_next(struct vmem *vm, const struct vmem_region *r);
struct vmem_region *vmem_prev(struct vmem *vm, const struct vmem_region *r);

/*
 * Call fn for every region, free and allocated, in address order, with the lock held
 * (fn must not call into this arena). Space outside the spans is not reported.
 */
void vmem_walk(struct vmem *vm, void (*fn)(void *ctx, svmm_va_t addr, uint64_t size, bool used),
	       void *ctx);

/* Fill *st with the arena's counters, read under its lock; O(log n) for largest_free. */
void vmem_stats(struct vmem *vm, struct vmem_stats *st);

/* Print the statistics and, if regions is true, every region, one line each. */
void vmem_dump(struct vmem *vm, bool regions, svmm_print_fn out, void *ctx);

/*
 * Verify every invariant of docs/vmem.md: the block tree's and the size tree's
 * red-black rules, order and counts, each block's entries (sorted keys equal to their
 * regions' addresses, free bits, back pointers), the size index's lists and bitmap, no
 * overlap and no two adjacent free regions, the counters, and the unit and block pools'
 * accounting. Returns 0, or SVMM_EINVAL after printing one line naming
 * the first broken invariant through out (out may be NULL). Never modifies the arena.
 */
int vmem_check(struct vmem *vm, svmm_print_fn out, void *ctx);

/*
 * Tear the arena down: SVMM_ELIVE (and nothing changes) while allocations are live;
 * otherwise every pool page goes back to the page source.
 */
int vmem_destroy(struct vmem *vm);

#endif /* SVMM_VMEM_H */
