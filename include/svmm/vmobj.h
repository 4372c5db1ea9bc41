/*
 * svmm/vmobj.h - memory objects: reference-counted owners of frames by page offset.
 *
 * An object is what a region of an address space maps at an offset. It owns the
 * frames of its resident pages through an index by page offset, whose pages hold one
 * pmem reference on each frame they name; a clone shares its source's leaf index nodes
 * (one reference on the node). pmem's counts are the single truth about sharing: a
 * frame's says how many index pages name it, a node's how many objects hold it. Three
 * kinds, one structure:
 *  - anonymous: a missing page is a zeroed frame (a 2 MiB-aligned group of 512 missing
 *    pages may come as one 2 MiB block);
 *  - pager-backed: a missing page is filled by the creator's callback;
 *  - copy-on-write over a backing object (private file mappings): a missing page
 *    reads through to the backing object, and the first write copies it.
 * vmobj_clone makes a copy-on-write clone (for fork) that shares every resident frame
 * with its source, through its shared leaf nodes; whichever side writes into a shared
 * node first copies the node, then whichever writes a shared frame first copies it,
 * and a frame (or node) left with one reference is written in place.
 *
 * The object header and the top of its index share one 4 KiB page; index nodes are 4 KiB
 * pages of 512 entries. Both come from pmem below its direct-map limit. Page-table
 * mappings of an object's frames hold no reference: the object outlives its mappings
 * (each region holds a reference to the object), and a caller unmaps before it drops
 * pages (vmobj_discard) or the object (vmobj_put). docs/vmobj.md gives the model, the
 * invariants, the lock order and the reasons.
 *
 * Locking: one lock per object. Lock order: aspace -> object -> its backing object ->
 * pmem. A pager callback runs with the object's lock held.
 */
#ifndef SVMM_VMOBJ_H
#define SVMM_VMOBJ_H

#include <svmm/fmt.h>
#include <svmm/pmem.h>
#include <svmm/port.h>
#include <svmm/types.h>

/* Object kinds. */
#define VMOBJ_ANON  1u     /* demand-zero (with a backing object: copy-on-write over it) */
#define VMOBJ_PAGER 2u     /* missing pages come from a pager callback */

/* Access of vmobj_fault and vmobj_populate. */
#define VMOBJ_READ  1u
#define VMOBJ_WRITE 2u
/* Flag of vmobj_fault and vmobj_populate: a 2 MiB page may answer (anonymous only). */
#define VMOBJ_HUGE  4u
/* Flag of vmobj_fault: the caller may take the fault back (see vmobj_fault_end). */
#define VMOBJ_UNDO  8u

#define VMOBJ_HUGE_PAGES 512u                          /* 4 KiB pages in a 2 MiB page */
/* Index entries in the header page: 496 with an 8-byte lock, one less per 8 bytes
   more that the port's lock type (SVMM_PORT_CONFIG) takes, so the page stays whole. */
#define VMOBJ_ROOT_SLOTS ((unsigned)(496u - (sizeof(struct svmm_lock) - 1u) / 8u))
#define VMOBJ_MAX_LEVELS 5u
/* The largest object: 496 * 512^4 pages, about 124 PiB (more than Sv57's user half). */
#define VMOBJ_MAX_SIZE   ((uint64_t)VMOBJ_ROOT_SLOTS << (SVMM_PAGE_SHIFT + 36))

/*
 * A pager: fill the 4 KiB frame at pa (reach it with port_pa_to_va when it lies below
 * the direct-map limit, else port_kmap) with the object's page at byte offset off.
 * Returns 0, or an error code of its own choosing that fails the fault or populate that
 * asked for the page; it must not call back into the object.
 */
typedef int (*vmobj_fill_fn)(void *ctx, uint64_t off, svmm_pa_t pa);

/*
 * One object; it fills a 4 KiB page, the rest of which is the top of its index. Fields
 * are read by the checker and the tests; only vmobj.c writes them, under lock.
 */
struct vmobj {
	struct svmm_lock lock;
	struct pmem *pm;
	struct vmobj *backing;     /* copy-on-write objects: where missing pages come from */
	uint64_t backing_off;      /* byte offset in backing of this object's offset 0 */
	uint64_t size;             /* bytes, a multiple of 4 KiB */
	vmobj_fill_fn fill;        /* VMOBJ_PAGER */
	void *fill_ctx;
	uint64_t resident;         /* pages indexed (a 2 MiB entry counts 512) */
	uint64_t huge;             /* 2 MiB entries */
	uint64_t nodes;            /* index node pages besides this one (a leaf node
				      shared with clones counts in each of them, as do
				      its pages in resident) */
	uint32_t refs;             /* holders: mappings, clones' backing links, callers */
	uint8_t kind;
	uint8_t levels;            /* index levels, the top one in root[] */
	uint8_t shares;            /* 1 once a clone shared a leaf node with it (or it is
				      such a clone): a discard may need a node to unshare */
	uint8_t pad;
	svmm_pa_t spare;           /* index pages set aside by vmobj_reserve, chained */
	uint64_t root[VMOBJ_ROOT_SLOTS];
};

/* What vmobj_fault answers: the frame to map for the page asked about. */
struct vmobj_page {
	svmm_pa_t pa;                   /* 4 KiB frame, or the head of a 2 MiB page */
	unsigned order;            /* 0, or 9 for a 2 MiB page */
	bool writable;             /* false: map it read-only (shared, or not this object's) */
	bool made;                 /* vmobj_fault: the object held no page of its own at off
				      before this call (the page was made, or read through) */
	svmm_pa_t copied;          /* a write fault that copied a shared 4 KiB frame: that
				      frame, else 0 */
	svmm_pa_t unshared;        /* VMOBJ_UNDO: the index node the fault stopped sharing
				      with a clone (see vmobj_fault_end), else 0 */
};

/*
 * Create an anonymous object of size bytes (page aligned, at most VMOBJ_MAX_SIZE) with
 * one reference, in *objp. No frame is allocated before a fault. Returns 0,
 * SVMM_EINVAL (NULL pointers), SVMM_EZEROSIZE, SVMM_EUNALIGNED, SVMM_ERANGE (too big)
 * or SVMM_ENOMEM, with nothing allocated on failure.
 */
int vmobj_create_anon(struct pmem *pm, uint64_t size, struct vmobj **objp);

/*
 * Create a pager-backed object of size bytes whose missing pages fill(ctx, off, pa)
 * provides. Errors as vmobj_create_anon; fill NULL is SVMM_EINVAL.
 */
int vmobj_create_pager(struct pmem *pm, uint64_t size, vmobj_fill_fn fill, void *ctx,
		       struct vmobj **objp);

/*
 * Create a copy-on-write object of size bytes over [off, off + size) of backing (a
 * private mapping of a file or of shared memory): reads see the backing object's
 * pages until this object writes its own copy. Takes a reference to backing. Errors as
 * vmobj_create_anon, plus SVMM_EUNALIGNED (off), SVMM_ERANGE (past backing's end) and
 * SVMM_EINVAL (backing has a backing itself: chains are one level deep).
 */
int vmobj_create_cow(struct vmobj *backing, uint64_t off, uint64_t size,
		     struct vmobj **objp);

/*
 * A copy-on-write clone of the pages of obj in [off, off + size), in *clonep (one
 * reference): same kind, size, offsets, pager and backing, indexing every frame obj
 * indexes in the range (a 2 MiB page that overlaps it, whole); pages outside the range
 * are missing in the clone. A leaf index node (512 pages' entries) the range takes
 * whole is shared: one more pmem reference on the node, none on its frames, and the
 * first write into it through either object copies it (see vmobj_fault); a node the
 * range cuts is copied, one more reference on each of its frames in the range, as are
 * 2 MiB pages and the page entries of a one-level index (in root[] itself). Costs
 * O(interior index nodes + entries of the nodes the range cuts); no page is copied. The
 * caller must make sure no mapping of obj can write without faulting first (it
 * write-protects them before the clone is used), since every shared frame is now
 * read-only to both. Returns 0, SVMM_EINVAL, SVMM_EZEROSIZE, SVMM_EUNALIGNED,
 * SVMM_ERANGE (past the end), SVMM_ENOMEM or SVMM_EREFCNT (a node's or a frame's count
 * is full), with nothing changed on failure: every reference taken is dropped (a leaf
 * node of obj may keep its mark "may be shared", which the next change to it clears).
 */
int vmobj_clone(struct vmobj *obj, uint64_t off, uint64_t size, struct vmobj **clonep);

/* Take one more reference to obj. Returns 0 or SVMM_EREFCNT (overflow). */
int vmobj_get(struct vmobj *obj);

/*
 * Drop one reference; the last one drops the object's pmem references (one on each
 * frame its own index pages name, one on each leaf node it shares with a clone, whose
 * frames go with the node's last holder), frees its index pages and the object, and
 * drops its reference to its backing object. The caller has unmapped the object's
 * frames from every page table.
 */
void vmobj_put(struct vmobj *obj);

/*
 * The frame to map for an access (VMOBJ_READ or VMOBJ_WRITE, plus VMOBJ_HUGE when a 2
 * MiB page would do) to the page at off, in *pg. A write always gets a frame this
 * object alone holds: a shared one is copied, and the other holders keep the old one
 * (whose own mappings stay valid). A missing page is made: zeroed, filled by the pager,
 * or (copy-on-write objects) read from the backing object, and copied into this
 * object on a write. With VMOBJ_HUGE, an anonymous object answers with a 2 MiB page
 * (pg->order 9, pg->pa its head) for an empty, 2 MiB-aligned group of 512 pages inside
 * the object when pmem has a block of that order, or an existing 2 MiB page; a write to
 * a shared 2 MiB page splits it (pmem_split) and copies the one 4 KiB page. The frame
 * stays valid until the object drops it (vmobj_discard, a later write fault, the last
 * vmobj_put), which its callers serialise with their mappings. Returns 0,
 * SVMM_EUNALIGNED (off), SVMM_ERANGE (off past the end), SVMM_EINVAL (access), SVMM_ENOMEM,
 * SVMM_EREFCNT (a frame's count is full where a shared leaf node is copied) or
 * the pager's error, leaving the object unchanged on failure. A fault that must
 * change a part of the index the object shares with a clone (a new page or a copy in
 * a leaf node both hold since vmobj_clone) first gives the object its own copy of that
 * node: one index page more, a reference on each of its frames. A caller that may have
 * to take the fault back (it cannot map the page) passes VMOBJ_UNDO and ends the fault
 * with vmobj_fault_end; pg->made tells it whether the page was new (vmobj_discard of
 * that page first). Without VMOBJ_UNDO the fault ends by itself.
 */
int vmobj_fault(struct vmobj *obj, uint64_t off, unsigned access, struct vmobj_page *pg);

/*
 * End a fault made with VMOBJ_UNDO at off, whose answer is *pg. Such a fault keeps its
 * reference on what it replaced: the shared frame it copied (pg->copied) and the
 * index node it stopped sharing with a clone (pg->unshared; a clone shares its source's
 * leaf nodes until either side writes into one, see docs/vmobj.md). keep: let them go
 * (a frame or a node whose other holders have all gone meanwhile is freed here). Else
 * take the fault back: the copy is freed, and the object indexes the shared frame and
 * the shared node again, as before the fault (a shared 2 MiB page the fault cut down
 * to copy one 4 KiB page stays cut: the same frames, 512 entries). A page the fault made (pg->made) is the
 * caller's to discard first, unless pg->unshared is set: the page then goes with the
 * node's copy (a discard first could fold that copy into root[], see docs/vmobj.md).
 * Taking back must follow that fault with no other change to the object in between
 * (it would free what another fault put into the node's copy); keep may come after
 * other faults on the object, as for a shared object that several address spaces
 * fault on. Nothing to do when both fields are 0; a fault that failed has nothing to
 * end.
 */
void vmobj_fault_end(struct vmobj *obj, uint64_t off, const struct vmobj_page *pg, bool keep);

/*
 * The frame indexed at off, without making one: 0 with *pg filled, SVMM_ENOENT (not
 * resident in this object), SVMM_EUNALIGNED or SVMM_ERANGE. pg->writable: the object
 * alone holds the frame and the leaf node naming it, as pmem's counts say now (a read
 * fault answers read-only for any page of a node still marked shared with a clone,
 * though the clone may have gone since).
 */
int vmobj_lookup(struct vmobj *obj, uint64_t off, struct vmobj_page *pg);

/*
 * Make every page of [off, off + size) resident (VMOBJ_HUGE: 2 MiB pages where they
 * fit), so that no read needs the pager or a zero-fill afterwards. For a copy-on-write
 * object, the backing object's pages are made resident. All or nothing: on SVMM_ENOMEM
 * or a pager error every page this call added is dropped again (a leaf node it had to
 * stop sharing with a clone to put a page in stays the object's own copy: the same
 * pages, not shared). Other errors: SVMM_EZEROSIZE, SVMM_EUNALIGNED, SVMM_EOVERFLOW,
 * SVMM_ERANGE, SVMM_EINVAL (flags), SVMM_EREFCNT (a frame's count is full).
 */
int vmobj_populate(struct vmobj *obj, uint64_t off, uint64_t size, unsigned flags);

/*
 * Drop this object's resident pages in [off, off + size): the next fault sees zeros,
 * the pager's data again, or the backing object's page. A 2 MiB page that crosses an
 * end of the range is split first. The caller has unmapped the range from every page
 * table that maps it. Returns 0, SVMM_EZEROSIZE, SVMM_EUNALIGNED, SVMM_EOVERFLOW,
 * SVMM_ERANGE or SVMM_ENOMEM (an index page to split a 2 MiB page, or to copy a leaf
 * node shared with a clone that the range cuts; nothing changed), or SVMM_EREFCNT (a
 * frame of such a node has a full count: no page dropped).
 */
int vmobj_discard(struct vmobj *obj, uint64_t off, uint64_t size);

/*
 * Set aside the index pages (at most two) that a vmobj_discard of [off, off + size)
 * needs to unfold the 2 MiB pages crossing its ends and to copy the leaf nodes shared
 * with a clone that it cuts, so that that discard cannot fail for want of memory (only
 * with SVMM_EREFCNT, which takes 2^32 index pages naming one frame): for a caller
 * that must unmap the range first and could not undo the unmap. The pages add to what
 * earlier calls set aside, so that one caller may reserve for several discards.
 * Returns 0 or SVMM_ENOMEM with nothing more set aside. vmobj_unreserve gives back
 * what the discards did not use.
 */
int vmobj_reserve(struct vmobj *obj, uint64_t off, uint64_t size);

/* Give back the index pages vmobj_reserve set aside and no discard used. */
void vmobj_unreserve(struct vmobj *obj);

/*
 * Check every invariant of docs/vmobj.md for obj (and its backing object): the header,
 * the index shape, that no index page is empty, that every entry is a frame allocated
 * in pmem with a reference (2 MiB entries: a whole order-9 block or 512 split frames),
 * that an index node not marked shared with a clone has one reference, and the
 * counters. Counts across objects (a frame's count is the number of index pages that
 * name it) are for the caller to check: see core/vmobj_internal.h. Returns 0 or
 * SVMM_EINVAL, printing the first broken invariant through out when it is not NULL.
 * Never modifies.
 */
int vmobj_check(struct vmobj *obj, svmm_print_fn out, void *ctx);

/*
 * Call fn for every resident entry of obj in offset order: its byte offset, frame (the
 * head for a 2 MiB entry) and order. For tests and dumps; takes obj's lock, so fn must
 * not call back into obj.
 */
void vmobj_walk(struct vmobj *obj, void (*fn)(void *ctx, uint64_t off, svmm_pa_t pa,
					      unsigned order), void *ctx);

#endif /* SVMM_VMOBJ_H */
