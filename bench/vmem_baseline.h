/*
 * vmem_baseline.h - the side-by-side baseline of bench_vmem: a compact re-implementation
 * of illumos vmem's instant-fit allocator (Bonwick and Adams, "Magazines and Vmem",
 * USENIX 2001; illumos usr/src/uts/common/os/vmem.c), so that svmm's vmem can be quoted
 * as a ratio to it measured in the same program on the same operation stream, a figure
 * that does not drift with the machine as absolute times do. It is a header used only
 * by the bench, written for it (no illumos code), and it does the work illumos does on
 * each call, no less and no more:
 *
 * - Segments as illumos's vmem_seg_t: start, end, an address-ordered doubly linked list
 *   of every segment (anext/aprev), kin links (knext/kprev: the freelist, or for an
 *   allocated segment its hash chain), a type; 56 bytes. They come from a per-arena
 *   free list kept at least IFIT_MINFREE long before each allocation (illumos's
 *   vmem_populate), refilled with a 4 KiB page from the bench's page source, which is
 *   where svmm's vmem gets its pool pages.
 * - Free segments on power-of-two freelists in bytes (list k: sizes in [2^k, 2^(k+1))),
 *   doubly linked, inserted at the head. The lists' heads are linked into one chain in
 *   which they serve as markers, and freemap has bit k set when list k is not empty.
 * - vmem_alloc's instant fit: a size that is a power of two takes the first segment of
 *   the lowest non-empty list >= log2(size), any other size the first of the lowest
 *   non-empty list >= highbit(size), where every segment fits. When there is none, the
 *   lock is dropped and vmem_xalloc runs: it searches from the list that might hold a
 *   fit (one below when nothing lies above) upwards and takes the first segment that
 *   fits, or fails. Aligned requests go to the same vmem_xalloc search, with an aligned
 *   fit.
 * - vmem_seg_alloc: the front of the segment is taken. When the remainder stays in the
 *   same list, the free segment just moves its start and a new segment for the
 *   allocation goes before it; otherwise the segment leaves its list, the remainder
 *   becomes a new free segment and the old one the allocated one.
 * - Allocated segments in a hash table by address (vmem_hash), chained, bucket
 *   ((a + (a >> s) + (a >> 2s)) >> qshift) & mask. illumos resizes the table every
 *   15 s from vmem_update (vmem_hash_rescale: about one bucket per allocation); the
 *   bench calls ifit_hash_rescale after its fill, so the measured loop sees the table a
 *   steady state has. The table starts with 16 buckets inside the arena.
 * - Free by address and size (vmem_free, vmem_xfree): the hash lookup and removal (a
 *   wrong address or size panics, as illumos does), coalescing with the next and then
 *   the previous segment in the address list when free, the freed segment structs going
 *   back to the free list, and the insertion into the freelist.
 * - One struct svmm_lock around each call, taken with port_lock/port_unlock as svmm's
 *   arena takes its own, so that the comparison is of the allocators, not of locks.
 *
 * Where it differs from illumos: no quantum caches (qcache_max 0, tested as illumos
 * tests it; the "instant fit" column); one span, added at init, with no import
 * from a source and so no check that gives a wholly free imported span back; no
 * next-fit rotor; no audit records; of the kstats only the counts of allocations, frees,
 * failures, hash lookups and searches and the bytes in use; the mtbf and waiter tests
 * are kept, but nothing sleeps: a failing allocation returns at once (as VM_NOSLEEP
 * does, without kmem_reap) and is counted. vmem_xalloc takes only an alignment (no
 * phase, nocross or address limits). Freelist heads are told apart by their type rather
 * than by a start of 0.
 *
 * The bench calls the entry points as it calls svmm's (out of line, see IFIT_ENTRY),
 * and ifit_check verifies every invariant after each run.
 */
#ifndef SVMM_VMEM_BASELINE_H
#define SVMM_VMEM_BASELINE_H

#include <stdint.h>
#include <string.h>

#include <svmm/port.h>
#include <svmm/vmem.h>

#define IFIT_LISTS 64            /* one freelist per bit of a size */
#define IFIT_HASH_INITIAL 16     /* buckets of the table inside the arena */
#define IFIT_MINFREE 16          /* segment structs kept ready, as illumos's VMEM_MINFREE */

/*
 * The entry points stay out of line and unspecialised (gcc would otherwise clone them
 * for the bench's one arena), as svmm's vmem functions, in another translation unit, are.
 */
#if defined(__GNUC__) && !defined(__clang__)
#define IFIT_ENTRY __attribute__((noinline, noipa))
#else
#define IFIT_ENTRY __attribute__((noinline))
#endif

enum { IFIT_FREE = 1, IFIT_ALLOC = 2, IFIT_SPAN = 4, IFIT_HEAD = 8 };

struct ifit_seg {
	uint64_t start, end;               /* [start, end); a list head has start 0, end 2^k */
	struct ifit_seg *knext, *kprev;    /* freelist links; hash chain (knext) when allocated */
	struct ifit_seg *anext, *aprev;    /* every segment of the arena, by address */
	uint8_t type;
	uint8_t mark;                      /* ifit_check's visit marks; 0 between checks */
};

/* The arena's memory for what is bigger than a page (the hash table); zeroed by the user. */
struct ifit_mem {
	void *(*alloc)(uint64_t bytes);
	void (*free)(void *p, uint64_t bytes);
};

struct ifit_arena {
	struct svmm_lock lock;
	uint64_t quantum;
	unsigned qshift;
	uint64_t freemap;                  /* bit k: freelist k is not empty */
	struct ifit_seg **hash;            /* allocated segments by address */
	uint64_t hash_mask;
	unsigned hash_shift;
	struct ifit_seg *segfree;          /* spare segment structs, through knext */
	uint64_t nsegfree, nsegs;          /* spare; carved in all */
	uint64_t nalloc, nfree, inuse;     /* allocations and frees made, bytes allocated */
	uint64_t failures;                 /* allocations that found no segment */
	uint64_t lookups, searches;        /* hash chain steps past a miss; xalloc's list steps */
	uint64_t qcache_max, mtbf;         /* always 0 here: tested on each call, as illumos does */
	uint64_t waiters;                  /* always 0: the wake-up test of each freelist insert */
	void *pages;                       /* pages carved into segments, linked by their first word */
	struct vmem_page_source src;
	struct ifit_mem mem;
	struct ifit_seg seg0;              /* anchor of the address list */
	struct ifit_seg *hash0[IFIT_HASH_INITIAL];
	struct ifit_seg freelist[IFIT_LISTS + 1];   /* list heads, chained; the last ends the chain */
};

/* 1 + the index of the highest set bit of x, 0 for x = 0 (illumos's highbit). */
static inline unsigned ifit_highbit(uint64_t x)
{
	return x ? 64u - (unsigned)__builtin_clzll(x) : 0;
}

/* 1 + the index of the lowest set bit of x, 0 for x = 0 (illumos's lowbit). */
static inline unsigned ifit_lowbit(uint64_t x)
{
	return x ? 1u + (unsigned)__builtin_ctzll(x) : 0;
}

static inline uint64_t ifit_size(const struct ifit_seg *s)
{
	return s->end - s->start;
}

static inline struct ifit_seg **ifit_bucket(struct ifit_arena *a, uint64_t addr)
{
	return &a->hash[((addr + (addr >> a->hash_shift) + (addr >> (a->hash_shift << 1))) >>
			 a->qshift) & a->hash_mask];
}

/* Put s after prev in the address list. */
static inline void ifit_alink(struct ifit_seg *prev, struct ifit_seg *s)
{
	struct ifit_seg *next = prev->anext;

	s->anext = next;
	s->aprev = prev;
	prev->anext = s;
	next->aprev = s;
}

/* Take segment structs from a fresh page until IFIT_MINFREE are spare; false without one. */
static bool ifit_populate(struct ifit_arena *a)
{
	void *page;
	struct ifit_seg *s;
	unsigned per = (4096 - sizeof(void *)) / sizeof(struct ifit_seg);

	while (a->nsegfree < IFIT_MINFREE) {
		if (a->src.alloc(a->src.ctx, &page) != 0)
			return false;
		*(void **)page = a->pages;
		a->pages = page;
		s = (struct ifit_seg *)((char *)page + sizeof(void *));
		for (unsigned i = 0; i < per; i++) {
			s[i].knext = a->segfree;
			a->segfree = &s[i];
		}
		a->nsegfree += per;
		a->nsegs += per;
	}
	return true;
}

/* A spare segment for [start, end), linked after prev in the address list. */
static inline struct ifit_seg *ifit_seg_create(struct ifit_arena *a, struct ifit_seg *prev,
					       uint64_t start, uint64_t end)
{
	struct ifit_seg *s = a->segfree;

	a->segfree = s->knext;
	a->nsegfree--;
	s->start = start;
	s->end = end;
	s->type = 0;
	ifit_alink(prev, s);
	return s;
}

/* Unlink s from the address list and make it spare. */
static inline void ifit_seg_destroy(struct ifit_arena *a, struct ifit_seg *s)
{
	s->aprev->anext = s->anext;
	s->anext->aprev = s->aprev;
	s->knext = a->segfree;
	a->segfree = s;
	a->nsegfree++;
}

/* Put free segment s at the head of its size's list. */
static inline void ifit_freelist_insert(struct ifit_arena *a, struct ifit_seg *s)
{
	struct ifit_seg *head = &a->freelist[ifit_highbit(ifit_size(s)) - 1];
	struct ifit_seg *next = head->knext;

	s->type = IFIT_FREE;
	a->freemap |= ifit_size(head);   /* a head's size is its list's bit */
	s->knext = next;
	s->kprev = head;
	head->knext = s;
	next->kprev = s;
	if (a->waiters != 0)   /* illumos's cv_broadcast: nobody sleeps on a VM_NOSLEEP arena */
		port_panic("ifit: a waiter on an arena that never sleeps");
}

/* Take free segment s off its list; its list is empty after when both neighbours are heads. */
static inline void ifit_freelist_delete(struct ifit_arena *a, struct ifit_seg *s)
{
	if (s->knext->type == IFIT_HEAD && s->kprev->type == IFIT_HEAD)
		a->freemap ^= ifit_size(s->kprev);
	s->kprev->knext = s->knext;
	s->knext->kprev = s->kprev;
}

static inline void ifit_hash_insert(struct ifit_arena *a, struct ifit_seg *s)
{
	struct ifit_seg **b = ifit_bucket(a, s->start);

	s->type = IFIT_ALLOC;
	s->knext = *b;
	*b = s;
	a->nalloc++;
	a->inuse += ifit_size(s);
}

/* Unchain the allocated segment at addr; it must exist and have this size. */
static inline struct ifit_seg *ifit_hash_delete(struct ifit_arena *a, uint64_t addr, uint64_t size)
{
	struct ifit_seg *s, **prevp = ifit_bucket(a, addr);

	while ((s = *prevp) != NULL) {
		if (s->start == addr) {
			*prevp = s->knext;
			break;
		}
		a->lookups++;
		prevp = &s->knext;
	}
	if (s == NULL)
		port_panic("ifit_free: no allocation at this address");
	if (ifit_size(s) != size)
		port_panic("ifit_free: wrong size");
	a->nfree++;
	a->inuse -= size;
	return s;
}

/* Allocate [addr, addr + size) out of free segment s (illumos's vmem_seg_alloc). */
static inline void ifit_seg_alloc(struct ifit_arena *a, struct ifit_seg *s, uint64_t addr, uint64_t size)
{
	uint64_t start = s->start, end = s->end, ssize = end - start;
	uint64_t real = (size + a->quantum - 1) & ~(a->quantum - 1);
	uint64_t aend = addr + real, rest = ssize - real;

	/* From the front, with a remainder in the same list: the free segment stays put. */
	if ((ssize ^ rest) < (ssize & rest) && addr == start) {
		s->start = aend;
		ifit_hash_insert(a, ifit_seg_create(a, s->aprev, addr, addr + size));
		return;
	}
	ifit_freelist_delete(a, s);
	if (end != aend)
		ifit_freelist_insert(a, ifit_seg_create(a, s, aend, end));
	if (start != addr)
		ifit_freelist_insert(a, ifit_seg_create(a, s->aprev, start, addr));
	s->start = addr;
	s->end = addr + size;
	ifit_hash_insert(a, s);
}

/*
 * Set up an arena over [base, base + size), base > 0, quantum a power of two, taking
 * segment pages from pages and the hash table from mem. Returns 0, or SVMM_ENOMEM.
 */
static int ifit_init(struct ifit_arena *a, uint64_t base, uint64_t size, uint64_t quantum,
		     const struct vmem_page_source *pages, const struct ifit_mem *mem)
{
	struct ifit_seg *span;

	memset(a, 0, sizeof(*a));
	a->quantum = quantum;
	a->qshift = ifit_highbit(quantum) - 1;
	a->src = *pages;
	a->mem = *mem;
	a->hash = a->hash0;
	a->hash_mask = IFIT_HASH_INITIAL - 1;
	a->hash_shift = ifit_highbit(a->hash_mask);
	for (unsigned k = 0; k <= IFIT_LISTS; k++) {
		struct ifit_seg *h = &a->freelist[k];

		h->type = IFIT_HEAD;
		h->start = 0;
		h->end = k < IFIT_LISTS ? (uint64_t)1 << k : 0;   /* the last head's bit is none */
		h->knext = k < IFIT_LISTS ? h + 1 : NULL;
		h->kprev = k > 0 ? h - 1 : NULL;
	}
	a->seg0.anext = a->seg0.aprev = &a->seg0;
	a->seg0.type = IFIT_SPAN;
	if (!ifit_populate(a))
		return SVMM_ENOMEM;
	/* The span's marker, then one free segment over it (illumos's vmem_span_create). */
	span = ifit_seg_create(a, a->seg0.aprev, base, base + size);
	span->type = IFIT_SPAN;
	ifit_freelist_insert(a, ifit_seg_create(a, span, base, base + size));
	return 0;
}

/*
 * Resize the hash table to about one bucket per live allocation when it is more than
 * twice off (illumos's vmem_hash_rescale, which vmem_update runs every 15 s). A failed
 * table allocation keeps the old table.
 */
static void ifit_hash_rescale(struct ifit_arena *a)
{
	uint64_t nseg = a->nalloc - a->nfree;
	uint64_t want = (uint64_t)1 << (ifit_highbit(3 * nseg + 4) - 2);
	uint64_t old = a->hash_mask + 1;
	struct ifit_seg **table, **old_table = a->hash;

	if (want < IFIT_HASH_INITIAL)
		want = IFIT_HASH_INITIAL;
	if (old / 2 <= want && want <= old * 2)
		return;
	table = a->mem.alloc(want * sizeof(*table));
	if (table == NULL)
		return;
	memset(table, 0, want * sizeof(*table));
	port_lock(&a->lock);
	a->hash = table;
	a->hash_mask = want - 1;
	a->hash_shift = ifit_highbit(a->hash_mask);
	for (uint64_t h = 0; h < old; h++) {
		struct ifit_seg *s = old_table[h];

		while (s != NULL) {
			struct ifit_seg *next = s->knext, **b = ifit_bucket(a, s->start);

			s->knext = *b;
			*b = s;
			s = next;
		}
	}
	port_unlock(&a->lock);
	if (old_table != a->hash0)
		a->mem.free(old_table, old * sizeof(*old_table));
}

/*
 * Allocate size bytes (a multiple of the quantum, > 0) at a multiple of align (a power
 * of two, >= the quantum): the first segment that fits, searched from the list that
 * might hold one upwards (illumos's vmem_xalloc without VM_BESTFIT). Returns 0 with the
 * address in *addrp, or SVMM_ENOSPC (counted in failures) or SVMM_ENOMEM.
 */
static IFIT_ENTRY int ifit_xalloc(struct ifit_arena *a, uint64_t size, uint64_t align,
						  uint64_t *addrp)
{
	struct ifit_seg *s, *best = NULL;
	uint64_t addr = 0;
	unsigned flist, hb;

	if (a->mtbf != 0)   /* illumos's induced failures, off */
		return SVMM_ENOMEM;
	port_lock(&a->lock);
	if (a->nsegfree < IFIT_MINFREE && !ifit_populate(a)) {
		port_unlock(&a->lock);
		return SVMM_ENOMEM;
	}
	if ((size & (size - 1)) == 0) {
		flist = ifit_lowbit(a->freemap & -size);
	} else {
		hb = ifit_highbit(size);
		if (hb >= IFIT_LISTS || (a->freemap >> hb) == 0)
			hb--;
		flist = ifit_lowbit(a->freemap & -((uint64_t)1 << hb));
	}
	for (s = flist == 0 ? NULL : a->freelist[flist - 1].knext; s != NULL; s = s->knext) {
		uint64_t x;

		a->searches++;
		if (s->type == IFIT_HEAD) {
			/* The end of a list: go on with the next non-empty one. */
			flist = ifit_lowbit(a->freemap & -ifit_size(s));
			if (flist-- == 0)
				break;
			s = &a->freelist[flist];
			continue;
		}
		x = (s->start + align - 1) & -align;
		if ((x - s->start) + size > s->end - s->start)
			continue;
		best = s;
		addr = x;
		break;
	}
	if (best == NULL) {
		a->failures++;
		port_unlock(&a->lock);
		return SVMM_ENOSPC;
	}
	ifit_seg_alloc(a, best, addr, size);
	port_unlock(&a->lock);
	*addrp = addr;
	return 0;
}

/*
 * Allocate size bytes (a multiple of the quantum, > 0) by instant fit (illumos's
 * vmem_alloc); falls back to ifit_xalloc's search when no list is sure to fit. Returns
 * 0 with the address in *addrp, or SVMM_ENOSPC (counted in failures) or SVMM_ENOMEM.
 */
static IFIT_ENTRY int ifit_alloc(struct ifit_arena *a, uint64_t size, uint64_t *addrp)
{
	struct ifit_seg *s;
	unsigned flist = 0, hb;

	if (size - 1 < a->qcache_max)   /* illumos hands these to its quantum caches: none here */
		port_panic("ifit_alloc: a quantum-cached size");
	if (a->mtbf != 0)   /* illumos's induced failures, off */
		return SVMM_ENOMEM;
	port_lock(&a->lock);
	if (a->nsegfree >= IFIT_MINFREE || ifit_populate(a)) {
		if ((size & (size - 1)) == 0)
			flist = ifit_lowbit(a->freemap & -size);
		else if ((hb = ifit_highbit(size)) < IFIT_LISTS)
			flist = ifit_lowbit(a->freemap & -((uint64_t)1 << hb));
	}
	if (flist-- == 0) {
		port_unlock(&a->lock);
		return ifit_xalloc(a, size, a->quantum, addrp);
	}
	s = a->freelist[flist].knext;
	*addrp = s->start;
	ifit_seg_alloc(a, s, s->start, size);
	port_unlock(&a->lock);
	return 0;
}

/* Free [addr, addr + size), which an allocation returned; anything else panics. */
static IFIT_ENTRY void ifit_free(struct ifit_arena *a, uint64_t addr, uint64_t size)
{
	struct ifit_seg *s, *next, *prev;

	if (size - 1 < a->qcache_max)   /* as in ifit_alloc */
		port_panic("ifit_free: a quantum-cached size");
	port_lock(&a->lock);
	s = ifit_hash_delete(a, addr, size);
	s->end = (s->end + a->quantum - 1) & ~(a->quantum - 1);
	next = s->anext;
	if (next->type == IFIT_FREE) {
		ifit_freelist_delete(a, next);
		s->end = next->end;
		ifit_seg_destroy(a, next);
	}
	prev = s->aprev;
	if (prev->type == IFIT_FREE) {
		ifit_freelist_delete(a, prev);
		prev->end = s->end;
		ifit_seg_destroy(a, s);
		s = prev;
	}
	ifit_freelist_insert(a, s);
	port_unlock(&a->lock);
}

/* Give back the hash table and the segment pages. Allocations still live are dropped. */
static void ifit_destroy(struct ifit_arena *a)
{
	if (a->hash != a->hash0)
		a->mem.free(a->hash, (a->hash_mask + 1) * sizeof(*a->hash));
	while (a->pages != NULL) {
		void *p = a->pages;

		a->pages = *(void **)p;
		a->src.free(a->src.ctx, p);
	}
}

/*
 * Check every invariant: the address list tiles each span with segments in order, no
 * two free segments side by side; the freelists hold exactly the free segments, each
 * in its size's list, doubly linked, with freemap's bits matching; the hash holds
 * exactly the allocated segments, each in its bucket; the counts and bytes in use and
 * the spare structs agree. Returns 0, or -1 with a sentence in *why.
 */
static int ifit_check(struct ifit_arena *a, const char **why)
{
	struct ifit_seg *s, *span = NULL;
	uint64_t nfree = 0, nalloc = 0, nspans = 0, inuse = 0, nspare = 0, n = 0;
	uint64_t limit = a->nsegs + 1, pos = 0, map = 0;
	int err = 0;

#define IFIT_FAIL(msg) do { *why = (msg); err = -1; goto out; } while (0)
	for (s = a->seg0.anext; s != &a->seg0; s = s->anext) {
		if (++n > limit || s->anext->aprev != s)
			IFIT_FAIL("the address list is broken");
		s->mark = 1;
		if (s->type == IFIT_SPAN) {
			if (span != NULL && pos != span->end)
				IFIT_FAIL("a span is not tiled to its end");
			span = s;
			pos = s->start;
			nspans++;
			continue;
		}
		if (span == NULL || s->start != pos || s->end <= s->start)
			IFIT_FAIL("a segment does not start where the one before it ends");
		pos = s->end;
		if (s->type == IFIT_FREE) {
			if (s->aprev->type == IFIT_FREE)
				IFIT_FAIL("two free segments side by side");
			nfree++;
		} else if (s->type == IFIT_ALLOC) {
			nalloc++;
			inuse += ifit_size(s);
		} else {
			IFIT_FAIL("a segment of no known type");
		}
	}
	if (span != NULL && pos != span->end)
		IFIT_FAIL("the last span is not tiled to its end");
	n = 0;
	for (unsigned k = 0; k < IFIT_LISTS; k++) {
		struct ifit_seg *h = &a->freelist[k];

		if (h->knext == NULL || h->knext->kprev != h)
			IFIT_FAIL("a freelist head is unlinked");
		for (s = h->knext; s->type != IFIT_HEAD; s = s->knext) {
			if (++n > nfree || s->mark != 1 || s->type != IFIT_FREE)
				IFIT_FAIL("a freelist holds what is not a free segment of the arena");
			if (ifit_highbit(ifit_size(s)) - 1 != k)
				IFIT_FAIL("a free segment is on the wrong list");
			if (s->knext->kprev != s)
				IFIT_FAIL("a freelist's back link is wrong");
			s->mark = 2;
			map |= (uint64_t)1 << k;
		}
		if (s != h + 1)
			IFIT_FAIL("the freelist heads are out of order");
	}
	if (n != nfree)
		IFIT_FAIL("a free segment is on no freelist");
	if (map != a->freemap)
		IFIT_FAIL("freemap does not match the freelists");
	n = 0;
	for (uint64_t b = 0; b <= a->hash_mask; b++)
		for (s = a->hash[b]; s != NULL; s = s->knext) {
			if (++n > nalloc || s->mark != 1 || s->type != IFIT_ALLOC)
				IFIT_FAIL("the hash holds what is not an allocated segment of the arena");
			if (ifit_bucket(a, s->start) != &a->hash[b])
				IFIT_FAIL("an allocated segment is in the wrong bucket");
			s->mark = 2;
		}
	if (n != nalloc || a->nalloc - a->nfree != nalloc || a->inuse != inuse)
		IFIT_FAIL("the hash and the counts do not match the allocated segments");
	for (s = a->segfree; s != NULL; s = s->knext)
		if (++nspare > a->nsegfree)
			break;
	if (nspare != a->nsegfree || a->nsegs != nspare + nfree + nalloc + nspans)
		IFIT_FAIL("segment structs are lost");
out:
	n = 0;
	for (s = a->seg0.anext; s != &a->seg0 && ++n <= limit; s = s->anext)
		s->mark = 0;
	return err;
#undef IFIT_FAIL
}

#endif /* SVMM_VMEM_BASELINE_H */
