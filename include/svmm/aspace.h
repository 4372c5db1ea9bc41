/*
 * svmm/aspace.h - user address spaces: regions, demand paging, switching.
 *
 * An address space is a page-table tree (whose kernel half, for an upper-half kernel,
 * is a copy of the kernel's 256 root entries, which never change after boot), plus,
 * laid out by a struct aspace_layout (svmm's layout by default, shown here):
 *  - uvmem, a vmem arena over root slots 0..254 above the 64 KiB null guard, whose
 *    allocated regions are struct aspace_region (the vmem node is embedded, so a page
 *    fault finds its region with one used-tree lookup);
 *  - the user stack in root slot 255, ending SVMM_USTACK_GUARD (64 KiB) below the end of
 *    the user half (layout's ustack_top; that top gap is never mapped), growing down on
 *    faults up to a limit, with a guard gap below the limit that is never mapped;
 *  - kernel pages the kernel maps itself outside those (aspace_map_kernel);
 *  - an ASID context word (see svmm/asid.h).
 *
 * The first ASPACE_INLINE_REGIONS region structs live in the address space itself (a
 * process maps a few regions, and a fork or exec then takes no slab page for them);
 * more come from a per-address-space slab of 4 KiB pages, and uvmem's node
 * pool from pages, both taken from pmem below its direct-map limit (pm->meta_limit) and
 * reached through port_pa_to_va. Anonymous memory belongs to a memory object
 * (svmm/vmobj.h): the address space's anonymous regions and its stack map one
 * anonymous object, made at the first fault, at offsets equal to their addresses (as
 * Linux's anon_vma serves a process). Page-table leaves are caches of the object's
 * pages; frames are demand-zero, one 4 KiB frame per fault, or one 2 MiB page for a
 * write into an aligned 2 MiB that an anonymous region covers when pmem has a free
 * order-9 block, taken from pmem anywhere (PMEM_ANY). aspace_clone shares the object's
 * frames copy-on-write (fork).
 * docs/aspace.md and docs/vmobj.md give the invariants and the decisions.
 *
 * Locking: each address space has one lock, taken by every call below except
 * aspace_lookup and the region walk (whose caller holds it). It also serialises uvmem,
 * which is locked by its caller (vmem_lock_by_caller) and takes no lock of its own, so
 * nothing may call vmem on as->uvmem without as->lock. Lock order: aspace -> pt -> pmem,
 * aspace -> vmobj -> pmem, and aspace -> asid allocator. No call sleeps or allocates
 * outside pmem and the port.
 * A struct aspace must not move after aspace_create: uvmem's page source points at it.
 */
#ifndef SVMM_ASPACE_H
#define SVMM_ASPACE_H

#include <svmm/asid.h>
#include <svmm/fmt.h>
#include <svmm/pmem.h>
#include <svmm/port.h>
#include <svmm/pt.h>
#include <svmm/vmem.h>
#include <svmm/vmobj.h>

/* Region kinds. */
#define ASPACE_ANON 1u   /* demand-zero memory owned by the address space */
#define ASPACE_PHYS 2u   /* a physical range owned by the caller, mapped eagerly */
#define ASPACE_OBJ  3u   /* a memory object (svmm/vmobj.h) mapped at an offset */

/* Flags of aspace_map_anon, aspace_map_phys and aspace_map_obj. */
#define ASPACE_FIXED (1u << 0)   /* exactly at hint; SVMM_EBUSY if any part is taken */
#define ASPACE_IO    (1u << 1)   /* map_phys: device memory (Svpbmt IO) */
#define ASPACE_NC    (1u << 2)   /* map_phys: non-cacheable memory (Svpbmt NC) */
#define ASPACE_COMMIT (1u << 3)  /* map_anon: charge the whole size to pmem's commit
                                    count now (else each page when faulted in) */
#define ASPACE_SHARED (1u << 4)  /* map_obj: writes reach the object (else a private
                                    copy-on-write mapping of it) */

/* The stack's defaults: growth limit and the never-mapped gap below it. */
#define ASPACE_STACK_MAX   ((uint64_t)8 << 20)
#define ASPACE_STACK_GUARD ((uint64_t)1 << 20)

/*
 * One region of user memory, 64 bytes (63 fit in a slab page after its header).
 * [node.addr, node.addr + node.size) is the range; node is the region's allocation in
 * uvmem, and uvmem's segment tree is the one index of the regions: a page fault finds
 * its region through it, and the ordered walks (the first region at or after an
 * address, a region's neighbours) are vmem's too.
 */
struct aspace_region {
	struct vmem_region node;
	union {
		svmm_pa_t pa;    /* ASPACE_PHYS: the physical address of node.addr */
		uint64_t off;    /* ASPACE_OBJ: obj's offset at node.addr */
	};
	struct vmobj *obj;       /* ASPACE_OBJ: the object mapped (private: the region's
	                            copy-on-write object over the caller's) */
	uint16_t prot;           /* PT_R, PT_W, PT_X */
	uint8_t kind;            /* ASPACE_ANON, ASPACE_PHYS or ASPACE_OBJ */
	uint8_t commit;          /* ASPACE_ANON: charged when mapped (ASPACE_COMMIT) */
	uint16_t ptflags;        /* ASPACE_PHYS: PT_IO or PT_NC */
	uint8_t shared;          /* ASPACE_OBJ: mapped with ASPACE_SHARED */
};

#define ASPACE_INLINE_REGIONS 4u

struct aspace {
	struct svmm_lock lock;
	/* pt, uvmem and inl stay first: aspace_create zeroes what follows them. */
	struct pt pt;                      /* pt.asid follows the ASID context */
	struct vmem uvmem;                 /* [user_base, user_end) */
	struct aspace_region inl[ASPACE_INLINE_REGIONS];  /* region structs before any slab;
							     zeroed as handed out */
	struct vmem_page_source pool_src;  /* uvmem's node pool pages, from pmem */
	uint32_t inl_used;                 /* bit i: inl[i] holds a region */
	struct pmem *pm;
	struct vmobj *anon;                /* private anonymous memory, offset = address */
	struct aspace_slab *slabs;         /* slab pages of region structs */
	svmm_va_t user_base;               /* start of uvmem: the null guard's end */
	svmm_va_t user_end;                /* end of uvmem */
	svmm_va_t stack_base;              /* the stack slot [stack_base, stack_top) */
	svmm_va_t stack_top;               /* svmm's layout: ustack_top, half end - 64 KiB */
	uint64_t stack_guard;              /* never-mapped gap below stack_limit */
	svmm_va_t stack_limit;             /* lowest address the stack may grow to */
	svmm_va_t stack_low;               /* lowest stack page mapped so far (= top: none) */
	uint64_t asid_ctx;                 /* generation | ASID, see svmm/asid.h */
	uint64_t nregions;                 /* regions in uvmem */
	uint64_t resident;                 /* anonymous frames mapped, stack included */
	uint64_t stack_pages;              /* of which in the stack */
	uint64_t slab_pages;               /* pages holding region structs */
	uint64_t pool_pages;               /* pages lent to uvmem's node pool */
	uint64_t faults;                   /* demand-zero faults resolved */
	uint64_t cow_faults;               /* writes to read-only anonymous leaves resolved */
	uint64_t kernel_bytes;             /* mapped by aspace_map_kernel */
	uint64_t committed;                /* frames charged to pmem's commit count */
};

/* What aspace_stats reports. */
struct aspace_stats {
	uint64_t regions, resident, stack_pages, slab_pages, pool_pages, tables, faults;
	uint64_t mapped_bytes;             /* total size of all regions */
	uint64_t kernel_bytes;             /* kernel pages (aspace_map_kernel) */
	uint64_t committed;                /* frames charged to pmem_commit */
};

/*
 * Where an address space puts things in the user half; every field page aligned.
 *  - [0, user_base) is the null guard, never mapped;
 *  - [user_base, user_end) is uvmem, where regions go (map/unmap/protect);
 *  - [stack_base, stack_top), above user_end, is the stack slot: the stack grows down
 *    from stack_top on faults to stack_top - stack_max (aspace_set_stack_limit moves
 *    that limit), and the stack_guard bytes below the limit are never mapped (a fault
 *    there is SVMM_ESTACK). stack_base == stack_top means no stack at all;
 *  - everything else in the user half up to svmm_user_end(mode) may hold kernel pages
 *    (aspace_map_kernel), and nothing else.
 * svmm's own layout (aspace_layout_default) is: null guard 64 KiB, uvmem root slots
 * 0..254, stack slot 255 up to layout's ustack_top (the top 64 KiB of the half is left
 * out), stack_max ASPACE_STACK_MAX, stack_guard ASPACE_STACK_GUARD.
 */
struct aspace_layout {
	svmm_va_t user_base, user_end;
	svmm_va_t stack_base, stack_top;
	uint64_t stack_max, stack_guard;
};

/* Fill *l with svmm's layout for mode. Returns 0, SVMM_EINVAL (l NULL) or SVMM_EMODE. */
int aspace_layout_default(enum svmm_mode mode, struct aspace_layout *l);

/*
 * Boot-time set-up of what all address spaces share: the ASID allocator for ASIDs of
 * asid_bits usable bits (as probed) on nharts harts. Call once before aspace_create
 * (tests may call it again between cases). Returns 0 or SVMM_EINVAL.
 */
int aspace_sys_init(unsigned asid_bits, unsigned nharts);

/* The shared ASID allocator, for statistics and tests. */
struct asid_allocator *aspace_asids(void);

/*
 * Create an empty address space in *as using frames from pm, laid out by layout (NULL:
 * svmm's, aspace_layout_default for kernel's mode): a new root table, an empty uvmem
 * and no stack pages. kernel is the kernel's own tree, which gives the paging mode.
 * Built by pt_init_kernel (an upper-half kernel), its kernel half is shared: root
 * entries 256..511 are copied. Built by pt_init (a kernel in the lower half, which
 * runs on its own table and switches satp on traps), nothing is copied, and the
 * kernel maps what its trap path needs with aspace_map_kernel. Returns 0, SVMM_EINVAL
 * (NULL arguments, a layout that breaks the rules of struct aspace_layout,
 * aspace_sys_init not called) or SVMM_ENOMEM, with nothing allocated.
 */
int aspace_create(struct aspace *as, const struct pt *kernel, struct pmem *pm,
		  const struct aspace_layout *layout);

/*
 * Free every user frame, every user table page, every region struct and uvmem's pool
 * pages. The kernel half (shared with every address space) is untouched. The caller
 * guarantees that no hart runs on it any more (each switched satp to another table),
 * and calls aspace_deactivate for the harts that did.
 */
void aspace_destroy(struct aspace *as);

/*
 * Reserve size bytes of demand-zero memory with prot (PT_R, PT_W, PT_X; W needs R;
 * W with X is refused) and return its address in *addrp. Without ASPACE_FIXED, hint is
 * a preference taken when free (0: none), and regions of 2 MiB or more are placed
 * 2 MiB-aligned. With ASPACE_FIXED the region is exactly [hint, hint + size) or the call
 * fails with SVMM_EBUSY (nothing is replaced). No frame is allocated before a fault.
 * Commit accounting (see pmem_commit): with ASPACE_COMMIT the whole size is charged
 * now, so that the call fails cleanly (SVMM_ENOMEM) when the promise cannot be kept,
 * and faults there charge nothing more; without it each page is charged when it is
 * faulted in (that fault fails with SVMM_ENOMEM past the limit). Charges go back on
 * unmap and destroy. A new region joins touching anonymous regions with the same
 * permissions and charging (always: joining needs no memory). Errors, all leaving the
 * address space unchanged: SVMM_EZEROSIZE, SVMM_EUNALIGNED, SVMM_EOVERFLOW,
 * SVMM_ERANGE (outside uvmem), SVMM_EPERM, SVMM_EINVAL (flags other than ASPACE_FIXED
 * and ASPACE_COMMIT), SVMM_EBUSY, SVMM_ENOSPC, SVMM_ENOMEM (no memory, or the commit
 * limit).
 */
int aspace_map_anon(struct aspace *as, svmm_va_t hint, uint64_t size, unsigned prot,
		    unsigned flags, svmm_va_t *addrp);

/*
 * Map the physical range [pa, pa + size) (device memory or RAM the caller owns and
 * keeps alive while mapped; no reference is taken) with prot, eagerly, using the
 * largest pages the alignment allows. Without ASPACE_FIXED, and unless a free hint is
 * taken, the address has the same offset as pa modulo 2 MiB (modulo 1 GiB for ranges
 * of 1 GiB and more), whatever the size; only when no such address is free does any
 * free address do. Flags ASPACE_FIXED, ASPACE_IO, ASPACE_NC. Errors as aspace_map_anon,
 * plus SVMM_ERANGE for a pa the page tables cannot express.
 */
int aspace_map_phys(struct aspace *as, svmm_va_t hint, svmm_pa_t pa, uint64_t size,
		    unsigned prot, unsigned flags, svmm_va_t *addrp);

/*
 * Map [va, va + size) to [pa, pa + size) for the kernel alone (no U bit, not global),
 * eagerly, at exactly va: a trampoline or a trap frame that a lower-half kernel needs
 * in every address space. The range must lie in the user half outside the null guard,
 * uvmem and the stack slot (see struct aspace_layout). prot as for map_anon; flags 0,
 * ASPACE_IO or ASPACE_NC. The frames stay the kernel's: unmap and destroy never free
 * them. User faults there are SVMM_EFAULT. Errors, all leaving everything unchanged:
 * SVMM_EZEROSIZE, SVMM_EUNALIGNED, SVMM_EOVERFLOW, SVMM_ERANGE (va range not allowed,
 * or pa beyond the page tables' reach), SVMM_EPERM, SVMM_EINVAL (flags), SVMM_EBUSY
 * (part of the range holds kernel pages already), SVMM_ENOMEM.
 */
int aspace_map_kernel(struct aspace *as, svmm_va_t va, svmm_pa_t pa, uint64_t size,
		      unsigned prot, unsigned flags);

/*
 * Remove the kernel pages in [va, va + size) (holes are fine). The range obeys
 * aspace_map_kernel's rules. Errors, leaving everything unchanged: SVMM_EZEROSIZE,
 * SVMM_EUNALIGNED, SVMM_EOVERFLOW, SVMM_ERANGE, SVMM_ENOMEM (a table to split a huge
 * page covered in part).
 */
int aspace_unmap_kernel(struct aspace *as, svmm_va_t va, uint64_t size);

/*
 * Remove every mapping in [va, va + size) of uvmem: regions inside it go away, regions
 * crossing its ends are cut (a region containing the whole range splits in two), their
 * anonymous frames are freed after the TLB flush and their commit charges given back.
 * Holes in the range are fine, as with munmap. Errors, leaving everything unchanged:
 * SVMM_EZEROSIZE, SVMM_EUNALIGNED, SVMM_EOVERFLOW, SVMM_ERANGE, SVMM_ENOMEM (a region
 * struct, a uvmem unit or index block for the cuts and the free, a table to split a huge page, or an object's index page set
 * aside to unfold a 2 MiB page or copy a leaf node shared with a fork's clone that the
 * range cuts: vmobj_reserve).
 */
int aspace_unmap(struct aspace *as, svmm_va_t va, uint64_t size);

/*
 * Set the permissions of every region in [va, va + size) to prot (rules as for
 * map_anon), cutting regions that cross the ends, and of their resident pages; then
 * touching anonymous regions with equal attributes merge. A resident page gets W only
 * where its object answers it writable (vmobj_lookup: its own page, in no index node
 * shared with a clone, not read through from a backing object); when the regions
 * map any other page, every page of the range stays without W and takes it at its
 * next write fault (phys regions get W at once). Asking costs, when prot has W, a
 * vmobj_lookup per resident page of the regions until one answers no. The range must be wholly covered
 * by regions: a hole is SVMM_ENOENT. Other errors as aspace_unmap plus SVMM_EPERM; all
 * leave everything unchanged.
 */
int aspace_protect(struct aspace *as, svmm_va_t va, uint64_t size, unsigned prot);

/*
 * Resolve a page fault at va for an access of type access (PT_R, PT_W or PT_X) made
 * by user code. Returns 0 when the access may be retried (a demand-zero frame was
 * mapped; a write to a page mapped read-only in a writable anonymous region was given
 * a frame of its own: copied when the frame is shared copy-on-write after
 * aspace_clone, taken over in place when no other object holds it any more; or the
 * page was mapped already and allows the access: a spurious fault, answered without
 * allocating anything), or the reason to kill the process:
 * SVMM_EFAULT (no region there, kernel pages included), SVMM_EPERM (the region, or the
 * page's mapping, forbids this access), SVMM_ESTACK (a stack overflow: inside the
 * stack's guard gap), SVMM_ENOMEM (no frame or table, or pmem's commit limit for a
 * page charged when faulted in), SVMM_EINVAL (access not exactly one of PT_R, PT_W,
 * PT_X), SVMM_EREFCNT (a frame's count is full: see vmobj_fault), or the error code
 * of the pager of a mapped object. Nothing changes unless a page was mapped, except
 * that a shared object (or the object under a private object mapping) keeps a page it
 * made for a fault that then failed: another mapping may use it at once, and it is
 * the object's data (so does a copy it made of a frame or of an index node it shared
 * with a clone: the same data).
 */
int aspace_fault(struct aspace *as, svmm_va_t va, unsigned access);

/*
 * Copy-on-write clone of src into dst (fork): dst, made by aspace_create with the same
 * layout and still empty, gets every region of src with its permissions, commit and
 * the stack's limit; its anonymous object, and each private object mapping's object,
 * is a clone of src's (vmobj_clone: it shares src's leaf index nodes, one more
 * reference on each, and so every resident frame; none copied); a shared object
 * mapping maps the same object (one more reference); physical regions map the same
 * physical range. src's writable anonymous and private leaves are made read-only and
 * flushed from every TLB before this returns, so that the first write on either side
 * copies (or takes over) the frame; dst's tables start empty and fill on faults. Costs
 * O(regions + the objects' interior index nodes + src's page tables); no page is
 * copied. The first write into each shared leaf node afterwards, on either side, pays
 * for copying that node (one index page, a reference on each frame it names; see
 * docs/vmobj.md). Returns 0, SVMM_EINVAL (NULL, the same address space, different
 * layouts, or dst not empty), SVMM_ENOMEM (also pmem's commit limit for regions
 * charged at map time) or SVMM_EREFCNT (an object's, a node's or a frame's count is
 * full); on failure src is unchanged and dst is empty again, as aspace_create left it.
 */
int aspace_clone(struct aspace *src, struct aspace *dst);

/*
 * Map [off, off + size) of the memory object obj with prot (rules as for map_anon),
 * placed as map_anon places (ASPACE_FIXED as there). With ASPACE_SHARED the region maps
 * obj itself: every mapping of it, in any address space, sees every write, and fork
 * shares it. Without, the region maps a private copy-on-write object over obj (a file
 * mapped MAP_PRIVATE): reads see obj's pages, writes go to private copies that fork
 * clones. The region takes its own reference; obj's pages come on faults (a pager's
 * error fails the fault with its code). Errors, all leaving everything unchanged:
 * SVMM_EINVAL (NULL, flags, obj has a backing object), SVMM_EZEROSIZE, SVMM_EUNALIGNED
 * (size, off), SVMM_ERANGE (past obj's end, or outside uvmem), SVMM_EOVERFLOW,
 * SVMM_EPERM, SVMM_EBUSY, SVMM_ENOSPC, SVMM_ENOMEM.
 */
int aspace_map_obj(struct aspace *as, svmm_va_t hint, uint64_t size, unsigned prot,
		   unsigned flags, struct vmobj *obj, uint64_t off, svmm_va_t *addrp);

/*
 * Map every page of [va, va + size) now, as faults would (writable pages writable
 * where no copy is needed), so that no fault follows a read; the range must be covered
 * by anonymous and object regions. Errors: SVMM_EZEROSIZE, SVMM_EUNALIGNED,
 * SVMM_EOVERFLOW, SVMM_ERANGE, SVMM_ENOENT (a hole or a phys region: nothing done),
 * SVMM_ENOMEM or a pager's code, in which case the pages mapped before the failing
 * one stay (as with a copy that fails part way): the address space is consistent.
 */
int aspace_populate(struct aspace *as, svmm_va_t va, uint64_t size);

/*
 * Drop the pages of [va, va + size) (madvise DONTNEED): unmapped and flushed, and
 * given back by private memory, so that the next touch sees zeros (anonymous) or the
 * object's data again (private object mappings); a shared object keeps its pages
 * (other mappings may use them). The range must be covered by anonymous and object
 * regions. Errors, leaving everything unchanged: SVMM_EZEROSIZE, SVMM_EUNALIGNED,
 * SVMM_EOVERFLOW, SVMM_ERANGE, SVMM_ENOENT (a hole or a phys region), SVMM_ENOMEM (a
 * table to split a 2 MiB leaf covered in part, or an object's index page as for
 * aspace_unmap).
 */
int aspace_discard(struct aspace *as, svmm_va_t va, uint64_t size);

/*
 * Set how far the stack may grow: [stack_top - max, stack_top), with the guard gap
 * below (setrlimit(RLIMIT_STACK)). max is page aligned, at least one page, and leaves
 * room for the guard in the stack slot. Returns 0, SVMM_EZEROSIZE, SVMM_EUNALIGNED,
 * SVMM_ERANGE (too big, or the layout has no stack), or SVMM_EBUSY (the stack already
 * reaches below the new limit).
 */
int aspace_set_stack_limit(struct aspace *as, uint64_t max);

/*
 * Make as current on hart: returns the satp value to write (mode, ASID, root). When
 * *flush_local comes back true, the hart must flush its whole local TLB
 * (sfence.vma x0, x0) after the satp write and before returning to user mode.
 */
uint64_t aspace_activate(struct aspace *as, unsigned hart, bool *flush_local);

/* The hart no longer runs as (it switched to another table). */
void aspace_deactivate(struct aspace *as, unsigned hart);

/* The region containing va, or NULL. The caller holds as->lock or owns as alone. */
struct aspace_region *aspace_lookup(struct aspace *as, svmm_va_t va);

/*
 * The regions in address order, for callers that walk them (exec, fork, a /proc map):
 * aspace_region_first gives the first region that ends above va (the one holding va,
 * else the next one after it), aspace_region_next the one after r; NULL at the end.
 * The caller holds as->lock or owns as alone, and changes nothing while it walks.
 */
struct aspace_region *aspace_region_first(struct aspace *as, svmm_va_t va);
struct aspace_region *aspace_region_next(struct aspace *as, const struct aspace_region *r);

/*
 * Copy n bytes from the kernel's src into the address space at va (exec's loader,
 * argv, a read() into user memory). Every byte must lie in a region (or the stack)
 * that allows PT_W and is not device memory; this is checked for the whole range
 * first, and a failure there changes nothing. Then pages are written in address order
 * through the direct map or, above it, port_kmap; an absent page is faulted in first
 * (demand zero or stack growth, exactly as a user write would). The only failure
 * after the check is SVMM_ENOMEM from such a fault-in: the bytes before it are copied
 * and the pages faulted in so far stay mapped (as after a user's partial write).
 * *done (may be NULL) gets the number of bytes copied: n on success. n == 0 copies
 * nothing and returns 0. Errors: SVMM_EINVAL (as NULL, src NULL with n > 0),
 * SVMM_EOVERFLOW (va + n wraps), SVMM_EFAULT (a byte outside every region and the
 * stack: a hole, a guard, kernel pages), SVMM_EPERM (a region without PT_W, or device
 * memory), SVMM_ENOMEM. Takes as->lock for the whole copy.
 */
int aspace_copy_to(struct aspace *as, svmm_va_t va, const void *src, uint64_t n,
		   uint64_t *done);

/*
 * Copy n bytes out of the address space at va into the kernel's dst (fork, a write()
 * from user memory). The same checks with PT_R (an execute-only region is
 * SVMM_EPERM), all before any byte moves. Absent anonymous pages read as zeros without
 * taking a frame, so nothing can fail after the check and the address space never
 * changes. *done as for aspace_copy_to. Errors as aspace_copy_to, without SVMM_ENOMEM.
 */
int aspace_copy_from(struct aspace *as, void *dst, svmm_va_t va, uint64_t n, uint64_t *done);

/* Counters; see struct aspace_stats. */
void aspace_stats(struct aspace *as, struct aspace_stats *st);

/*
 * Check every invariant of docs/aspace.md: the regions and uvmem agree, uvmem and the
 * page tables pass their own checkers, every user leaf lies in a region (or the stack)
 * with its permissions, phys regions map their own frames, anonymous leaves are 4 KiB
 * frames allocated in pmem counted by resident and stack_pages, kernel pages lie
 * outside regions and stack and add up to kernel_bytes, and committed is what the
 * regions and faults charged. The checker shape of every svmm module: returns 0 or
 * SVMM_EINVAL (as NULL, or an invariant broken); when out is not NULL the first broken
 * invariant is printed through it as one line that names it ("aspace: <invariant>: at
 * 0x..."). Never modifies. Takes as->lock.
 */
int aspace_check(struct aspace *as, svmm_print_fn out, void *ctx);

/* Print the regions and the stack through out. */
void aspace_dump(struct aspace *as, svmm_print_fn out, void *ctx);

#endif /* SVMM_ASPACE_H */
