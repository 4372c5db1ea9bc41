/*
 * svmm/pmem.h - the physical frame allocator: a binary buddy allocator over several
 * RAM ranges with reserved holes, in 4 KiB frames, blocks of 2^order frames naturally
 * aligned in physical address terms, up to order PMEM_MAX_ORDER (1 GiB).
 *
 * Every frame has a 16-byte entry in the frame database. The database is kept per span
 * of RAM (holes between RAM ranges cost nothing), lives in RAM below the direct-map
 * limit given at init, and is reached through port_pa_to_va. Free lists are doubly
 * linked through database entries by 32-bit frame index, never through the free
 * frames themselves, so frames above the direct-map window are never touched.
 *
 * docs/pmem.md states the invariants, the complexity of each call and the decisions.
 */
#ifndef SVMM_PMEM_H
#define SVMM_PMEM_H

#include <svmm/fmt.h>
#include <svmm/port.h>
#include <svmm/types.h>

#define PMEM_MAX_ORDER    18u                  /* 2^18 frames = 1 GiB */
#define PMEM_NR_ORDERS    (PMEM_MAX_ORDER + 1u)
#define PMEM_MAX_RANGES   16u                  /* RAM ranges accepted by pmem_init */
#define PMEM_MAX_RESERVED 64u                  /* reserved ranges accepted by pmem_init */
#define PMEM_MAX_SPANS    32u                  /* internal spans after cutting */
#define PMEM_ANY          ((svmm_pa_t)~0ull)        /* allocation limit: any frame */
#define PMEM_NIL          0xffffffffu          /* "no frame" in a free-list link */

/* A range of physical memory, [base, base + size). */
struct pmem_range {
	svmm_pa_t base;
	uint64_t size;
};

/*
 * The state of a frame database entry. Only the first frame of a block (its head)
 * says what the block is; every other frame of the block is PMEM_TAIL.
 */
enum pmem_state {
	PMEM_TAIL     = 0,  /* inside a block whose head is at a lower address */
	PMEM_FREE     = 1,  /* head of a free block, on the free list of its order */
	PMEM_ALLOC    = 2,  /* head of an allocated block */
	PMEM_RESERVED = 3,  /* head of a reserved block (firmware, image, DTB, ...) */
	PMEM_META     = 4,  /* head of a block holding the frame database itself */
};

/*
 * One frame database entry, 16 bytes. While a block is free, link chains it into its
 * free list (frame indices within the span). While it is allocated, pmem never reads
 * owner or flags of its head: they belong to whoever allocated it (pmem_alloc zeroes
 * them). Fields of tail entries are not for the owner's use.
 */
struct pmem_frame {
	union {
		struct {
			uint32_t next;
			uint32_t prev;
		} link;
		uint64_t owner;
	} u;
	uint32_t refcnt;    /* references to an allocated block; 0 otherwise */
	uint8_t state;      /* enum pmem_state */
	uint8_t order;      /* block order, valid on heads */
	uint16_t flags;     /* the owner's flags */
};

/*
 * A span: a run of RAM with its own slice of the frame database and its own free
 * lists. RAM ranges become spans at init; a range is cut in two at the direct-map
 * limit so that an allocation under that limit only ever looks at whole spans.
 */
struct pmem_span {
	svmm_pa_t base;                          /* page aligned */
	svmm_pa_t end;                           /* exclusive */
	uint64_t base_pfn;                  /* base >> 12 */
	uint32_t nframes;
	uint32_t free_mask;                 /* bit k set iff head[k] != PMEM_NIL */
	struct pmem_frame *db;              /* port_pa_to_va(db_pa) */
	svmm_pa_t db_pa;
	uint64_t db_bytes;                  /* page-rounded size of db */
	uint64_t free_frames;
	uint64_t reserved_frames;           /* PMEM_RESERVED frames in this span */
	uint64_t meta_frames;               /* PMEM_META frames in this span */
	uint32_t head[PMEM_NR_ORDERS];      /* free list heads, by order */
	uint32_t nfree[PMEM_NR_ORDERS];     /* blocks on each list */
};

#define PMEM_SECTIONS 256u   /* entries of the address-to-span table */

/*
 * The allocator. Callers embed it; pmem_init fills it. Finding the span of an address
 * is O(1): [lo, hi) is cut into PMEM_SECTIONS sections of 2^sect_shift bytes, and
 * sect[i] is the first span that ends after section i begins.
 */
struct pmem {
	struct svmm_lock lock;
	unsigned nspans;
	unsigned nlow;                           /* spans [0, nlow) lie below meta_limit */
	unsigned sect_shift;
	svmm_pa_t meta_limit;
	uint64_t total_frames;
	svmm_pa_t lo, hi;                             /* first and last byte + 1 of RAM */
	uint8_t sect[PMEM_SECTIONS];
	struct pmem_span span[PMEM_MAX_SPANS];   /* sorted by address, disjoint */
	uint64_t committed;                      /* pmem_commit: frames promised */
	uint64_t commit_limit;                   /* their cap; 0: every usable frame */
	uint64_t usable_frames;                  /* RAM minus reserved and database
						    frames, fixed at init */
};

struct pmem_span_stats {
	svmm_pa_t base, end;
	svmm_pa_t db_pa;
	uint64_t db_bytes;
	uint64_t frames, free_frames, reserved_frames, meta_frames, alloc_frames;
	uint64_t free_blocks[PMEM_NR_ORDERS];
};

struct pmem_stats {
	uint64_t total_frames;      /* every frame of every RAM range */
	uint64_t free_frames;
	uint64_t alloc_frames;
	uint64_t reserved_frames;   /* reserved holes inside RAM */
	uint64_t meta_frames;       /* the frame database */
	uint64_t free_blocks[PMEM_NR_ORDERS];
	uint64_t db_bytes_per_frame;/* sizeof(struct pmem_frame) */
	unsigned nspans;
	struct pmem_span_stats span[PMEM_MAX_SPANS];
};

/*
 * Set up pm over the nram RAM ranges ram[] (page aligned, non-empty, disjoint; any
 * order; touching ranges are joined), minus the nres reserved ranges res[] (any
 * alignment: each is rounded outwards to whole frames; parts outside RAM are ignored).
 * The frame database is carved out of free RAM below meta_limit (page-rounded down;
 * PMEM_ANY = no limit) and reached with port_pa_to_va, so RAM below meta_limit must
 * be direct-mapped. Returns 0, SVMM_EINVAL (NULL pointers, no RAM, too many ranges),
 * SVMM_EZEROSIZE, SVMM_EUNALIGNED, SVMM_EOVERFLOW, SVMM_EOVERLAP, or SVMM_ENOMEM when the
 * database does not fit below meta_limit. On failure neither *pm nor RAM is written.
 */
int pmem_init(struct pmem *pm, const struct pmem_range *ram, unsigned nram,
	      const struct pmem_range *res, unsigned nres, svmm_pa_t meta_limit);

/*
 * Recompute the database pointers with port_pa_to_va. pmem_init computes them once;
 * a kernel that initialises pmem under its boot mapping and then switches to the
 * final direct map (where port_pa_to_va gives other addresses) calls this right after
 * the switch, before any other pmem call. Takes the lock.
 */
void pmem_remap(struct pmem *pm);

/*
 * Allocate one block of 2^order frames lying wholly below limit (block end <= limit;
 * PMEM_ANY for any frame) and store its physical address in *pa. The block has a
 * reference count of 1; its memory is not zeroed (it may not be mapped). RAM above
 * the direct-map window is used before RAM inside it, which stays for page tables and
 * metadata; within each, the smallest fitting free block is split (the highest among
 * equals). Returns 0, SVMM_EORDER, SVMM_EINVAL (pa NULL) or SVMM_ENOMEM (no free block
 * of that order lies below limit).
 */
int pmem_alloc(struct pmem *pm, unsigned order, svmm_pa_t limit, svmm_pa_t *pa);

/*
 * Free the block at pa, which must be the head of an allocated block of exactly this
 * order held by one reference. Buddies are merged completely. Returns 0,
 * SVMM_EUNALIGNED, SVMM_ERANGE (not RAM), SVMM_EORDER (out of range or not the block's
 * order), SVMM_ERESERVED, SVMM_EDOUBLEFREE (already free), SVMM_ENOTALLOC (inside a
 * block but not its head) or SVMM_EBUSY (more than one reference: use pmem_put).
 */
int pmem_free(struct pmem *pm, svmm_pa_t pa, unsigned order);

/*
 * Take one more reference to the allocated block whose head is pa. Returns 0,
 * SVMM_EUNALIGNED, SVMM_ERANGE, SVMM_ERESERVED, SVMM_ENOTALLOC (free or not a head) or
 * SVMM_EREFCNT (the count would overflow).
 */
int pmem_get(struct pmem *pm, svmm_pa_t pa);

/*
 * pmem_get for each of frames[0..n) under one lock. An entry's bits below the page size
 * are ignored (a caller's tags, as in an index or page-table entry); an entry whose
 * frame bits are all 0 is skipped, any other must name the head of an allocated block.
 * All or nothing: on an error (as pmem_get's) no count has changed.
 */
int pmem_get_many(struct pmem *pm, const uint64_t *frames, size_t n);

/*
 * Drop one reference to the allocated block whose head is pa; the last one frees the
 * block. Returns 0, SVMM_EUNALIGNED, SVMM_ERANGE, SVMM_ERESERVED, SVMM_EREFCNT (the
 * frame is free: the count would underflow) or SVMM_ENOTALLOC (inside an allocated
 * block but not its head).
 */
int pmem_put(struct pmem *pm, svmm_pa_t pa);

/*
 * Split the allocated block whose head is pa, of order k, into 2^k allocated blocks of
 * order 0, each with the head's reference count, owner word and flags: whoever held a
 * reference to the block now holds one to every frame of it, and may drop them one by
 * one (a 2 MiB page partly unmapped, or copied on write). A block of order 0 is left as
 * it is. The frames merge again when the last of them is freed. Returns 0,
 * SVMM_EUNALIGNED, SVMM_ERANGE, SVMM_ERESERVED or SVMM_ENOTALLOC (free, or not a head).
 * O(2^k).
 */
int pmem_split(struct pmem *pm, svmm_pa_t pa);

/*
 * The reference count of the allocated block whose head is pa, in *refs. A holder
 * that reads 1 knows it is the only one; a count above 1 may drop at any moment as
 * other holders put theirs. Returns 0, SVMM_EINVAL (refs NULL), SVMM_EUNALIGNED,
 * SVMM_ERANGE, SVMM_ERESERVED or SVMM_ENOTALLOC (free, or not a head). O(1), locked.
 */
int pmem_refs(struct pmem *pm, svmm_pa_t pa, uint32_t *refs);

/*
 * The database entry of the frame at pa (any address inside the frame), or NULL if pa
 * is not RAM. O(1), without locking: the entry's address never changes, but reading
 * its fields races with other harts unless the caller owns the block.
 */
struct pmem_frame *pmem_frame(struct pmem *pm, svmm_pa_t pa);

/*
 * pmem_frame for a series of lookups that mostly stay in one span (the index pages of
 * a clone): *hint is NULL before the first call and then the span of the last frame
 * found. A frame in that span is found with one compare instead of the span lookup;
 * any other as by pmem_frame, which sets *hint to its span. NULL if pa is not RAM
 * (*hint unchanged). O(1), without locking, as pmem_frame.
 */
struct pmem_frame *pmem_frame_near(struct pmem *pm, svmm_pa_t pa, struct pmem_span **hint);

/*
 * The block holding the frame at pa (any address inside it): its head's physical
 * address, order and state (PMEM_FREE, PMEM_ALLOC, PMEM_RESERVED or PMEM_META), each
 * out-parameter optional. For example the owner of a huge block finds the head from
 * any of its pages. Returns 0 or SVMM_ERANGE (not RAM). O(orders), locked.
 */
int pmem_block(struct pmem *pm, svmm_pa_t pa, svmm_pa_t *head, unsigned *order, enum pmem_state *state);

/* Free frames in total. */
uint64_t pmem_free_frames(struct pmem *pm);

/* Fill *st with counts in total, per order and per span. */
void pmem_stats(struct pmem *pm, struct pmem_stats *st);

/*
 * Verify every invariant listed in docs/pmem.md: every frame of every span belongs to
 * exactly one block, free lists and states agree, no block is on two lists, no two
 * free buddies are left unmerged, and the counters match. Returns 0 or SVMM_EINVAL;
 * when out is not NULL the first broken invariant is printed through it as one line
 * that names it. Never modifies pm. Costs O(frames) (every tail entry is looked at).
 */
int pmem_check(struct pmem *pm, svmm_print_fn out, void *ctx);

/*
 * Print the spans, their databases and free blocks per order through out. out is
 * called with pm's lock held and must not call back into pmem.
 */
void pmem_dump(struct pmem *pm, svmm_print_fn out, void *ctx);

/*
 * ---- commit accounting ----
 * A ledger of frames promised to users that will allocate them later: an address
 * space charges anonymous memory when it is mapped (or each page when it is faulted
 * in), so that a kernel can refuse an sbrk or mmap cleanly instead of killing the
 * process at its next fault. pmem_alloc does not look at it: the promise holds as long
 * as every large consumer of frames charges here, and the limit leaves room for the
 * rest (page tables, metadata), as Linux's strict overcommit mode does.
 */

/*
 * Add frames to the committed count if it stays within the limit. Returns 0, or
 * SVMM_ENOMEM with nothing changed. frames == 0 always succeeds. Lock-free (an atomic
 * compare-and-swap; the port's lock is not taken), so it may be called from anywhere
 * pmem may.
 */
int pmem_commit(struct pmem *pm, uint64_t frames);

/*
 * Give back frames committed before. Returns 0, or SVMM_EINVAL (more than is
 * committed) with nothing changed. Lock-free, as pmem_commit.
 */
int pmem_uncommit(struct pmem *pm, uint64_t frames);

/*
 * Set the commit limit in frames; 0 (the value after pmem_init) means every frame
 * pmem can hand out (RAM minus reserved and database frames). A limit below what is
 * committed already makes later commits fail until enough is given back. An atomic
 * store: a commit running at the same time is checked against the old or the new limit.
 */
void pmem_commit_limit(struct pmem *pm, uint64_t frames);

/* The committed count and the limit in effect (either pointer may be NULL); atomic
   reads, each exact when it was made. */
void pmem_commit_stats(struct pmem *pm, uint64_t *committed, uint64_t *limit);

#endif /* SVMM_PMEM_H */
