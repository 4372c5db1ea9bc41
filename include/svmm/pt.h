/*
 * svmm/pt.h - RISC-V page tables for Sv39, Sv48 and Sv57.
 *
 * A struct pt is one tree of page tables: a root and the tables below it, all 4 KiB
 * frames from port_table_alloc reached through port_pa_to_va. Ranges are half-open,
 * [va, va + size), page-aligned. Mapping picks, for each step, the largest page whose
 * virtual and physical alignment and the remaining length allow (4 KiB, 2 MiB, 1 GiB,
 * 512 GiB, 256 TiB). Every call that can fail checks and allocates everything first, so
 * that it either completes or leaves the tables exactly as they were.
 *
 * Locking: map, unmap and protect take pt->lock while they change the tree; the TLB
 * flush and the freeing of tables happen after it is released, before the call
 * returns. The caller owns the range it changes (the aspace lock, or a vmem
 * allocation for kernel mappings), so nobody maps into a range that is still being
 * flushed. translate, walk and dump read the tables without the lock, as the MMU does;
 * a caller that needs a stable view excludes writers itself.
 */
#ifndef SVMM_PT_H
#define SVMM_PT_H

#include <svmm/fmt.h>
#include <svmm/layout.h>
#include <svmm/port.h>

/* The page-table entry, as the privileged specification lays it out. */
#define SVMM_PTE_V          ((uint64_t)1 << 0)   /* valid */
#define SVMM_PTE_R          ((uint64_t)1 << 1)   /* readable */
#define SVMM_PTE_W          ((uint64_t)1 << 2)   /* writable */
#define SVMM_PTE_X          ((uint64_t)1 << 3)   /* executable */
#define SVMM_PTE_U          ((uint64_t)1 << 4)   /* user-accessible */
#define SVMM_PTE_G          ((uint64_t)1 << 5)   /* global: in every address space */
#define SVMM_PTE_A          ((uint64_t)1 << 6)   /* accessed */
#define SVMM_PTE_D          ((uint64_t)1 << 7)   /* dirty */
#define SVMM_PTE_RSW_SHIFT  8                    /* bits 9:8, for software */
#define SVMM_PTE_RSW_MASK   ((uint64_t)3 << SVMM_PTE_RSW_SHIFT)
#define SVMM_PTE_PPN_SHIFT  10                   /* bits 53:10, physical page number */
#define SVMM_PTE_PPN_BITS   44
#define SVMM_PTE_PPN_MASK   ((((uint64_t)1 << SVMM_PTE_PPN_BITS) - 1) << SVMM_PTE_PPN_SHIFT)
#define SVMM_PTE_RSV_MASK   ((uint64_t)0x7f << 54) /* bits 60:54, reserved: must be zero */
#define SVMM_PTE_PBMT_SHIFT 61                   /* bits 62:61, Svpbmt */
#define SVMM_PTE_PBMT_MASK  ((uint64_t)3 << SVMM_PTE_PBMT_SHIFT)
#define SVMM_PTE_PBMT_PMA   ((uint64_t)0 << SVMM_PTE_PBMT_SHIFT)  /* the region's own attributes */
#define SVMM_PTE_PBMT_NC    ((uint64_t)1 << SVMM_PTE_PBMT_SHIFT)  /* non-cacheable, idempotent */
#define SVMM_PTE_PBMT_IO    ((uint64_t)2 << SVMM_PTE_PBMT_SHIFT)  /* non-cacheable, strongly ordered */
#define SVMM_PTE_N          ((uint64_t)1 << 63)  /* Svnapot: part of a 64 KiB naturally aligned run */

#define SVMM_PTE_PERM_MASK  (SVMM_PTE_R | SVMM_PTE_W | SVMM_PTE_X | SVMM_PTE_U | SVMM_PTE_G)
#define PT_PA_LIMIT    ((svmm_pa_t)1 << (SVMM_PTE_PPN_BITS + SVMM_PAGE_SHIFT))  /* 2^56 */
#define PT_NAPOT_SIZE  ((uint64_t)64 << 10)

/* PPN <-> physical address. */
static inline svmm_pa_t svmm_pte_pa(uint64_t pte)
{
	return ((pte & SVMM_PTE_PPN_MASK) >> SVMM_PTE_PPN_SHIFT) << SVMM_PAGE_SHIFT;
}

/* A valid entry with R, W or X set is a leaf; a valid one without is a table pointer. */
static inline bool svmm_pte_is_leaf(uint64_t pte)
{
	return (pte & SVMM_PTE_V) != 0 && (pte & (SVMM_PTE_R | SVMM_PTE_W | SVMM_PTE_X)) != 0;
}

/* True for a valid entry that points at the next level's table (no R, W or X). */
static inline bool svmm_pte_is_table(uint64_t pte)
{
	return (pte & (SVMM_PTE_V | SVMM_PTE_R | SVMM_PTE_W | SVMM_PTE_X)) == SVMM_PTE_V;
}

/*
 * Flags of pt_map (and, where said, of pt_unmap and pt_protect). Permission bits have
 * the PTE's values so that they are copied straight into entries.
 */
#define PT_R            ((unsigned)SVMM_PTE_R)
#define PT_W            ((unsigned)SVMM_PTE_W)
#define PT_X            ((unsigned)SVMM_PTE_X)
#define PT_U            ((unsigned)SVMM_PTE_U)
#define PT_G            ((unsigned)SVMM_PTE_G)
#define PT_PERMS        (PT_R | PT_W | PT_X | PT_U | PT_G)
#define PT_REPLACE      (1u << 8)   /* map over existing mappings instead of SVMM_EEXIST */
#define PT_NAPOT        (1u << 9)   /* use Svnapot 64 KiB runs where 4 KiB pages would be */
#define PT_IO           (1u << 10)  /* Svpbmt IO: MMIO, strongly ordered, uncached */
#define PT_NC           (1u << 11)  /* Svpbmt NC: uncached main memory */
#define PT_MISSING_OK   (1u << 12)  /* unmap/protect: holes in the range are not an error */
#define PT_BOOT         (1u << 13)  /* kernel pt only, before any pt_clone_kernel: allow
                                       root-level leaves in the kernel half (gigapages of
                                       the Sv39 direct map) */
#define PT_MAX_PAGE_SHIFT 14        /* 3-bit field: cap on the page size chosen */
#define PT_MAX_PAGE_MASK  (7u << PT_MAX_PAGE_SHIFT)
#define PT_MAX_PAGE_4K    (1u << PT_MAX_PAGE_SHIFT)
#define PT_MAX_PAGE_2M    (2u << PT_MAX_PAGE_SHIFT)
#define PT_MAX_PAGE_1G    (3u << PT_MAX_PAGE_SHIFT)
#define PT_MAX_PAGE_512G  (4u << PT_MAX_PAGE_SHIFT)

/* Privilege of an access, for pt_translate (the sstatus bits that change the checks). */
#define PT_PRIV_U   (1u << 0)   /* the access is made in U-mode (else S-mode) */
#define PT_SUM      (1u << 1)   /* sstatus.SUM: S-mode may read/write U pages */
#define PT_MXR      (1u << 2)   /* sstatus.MXR: loads from executable pages succeed */

/* One tree of page tables. */
struct pt {
	svmm_pa_t root;              /* physical address of the root table */
	enum svmm_mode mode;
	uint32_t asid;          /* tag for flushes of a user pt; the address-space code
	                           may change it (new ASID or generation) between calls */
	bool kernel;            /* built by pt_init_kernel: owns both halves */
	bool cloned;            /* kernel pt: pt_clone_kernel has copied its half */
	unsigned levels;        /* 3, 4 or 5 */
	uint64_t tables;        /* table frames this pt owns, root included */
	svmm_va_t span[2];      /* every address pt_map was asked for lies in
	                           [span[0], span[1]] (empty: [0] > [1]); never shrinks,
	                           so pt_destroy scans only the tables' entries there */
	struct svmm_lock lock;
};

/*
 * An empty user pt: a zeroed root. Returns 0, SVMM_EMODE, or SVMM_ENOMEM (nothing
 * allocated). The kernel half stays empty until pt_clone_kernel.
 */
int pt_init(struct pt *pt, enum svmm_mode mode, uint32_t asid);

/*
 * The kernel pt: a root and one table under every kernel root slot 256..511, so that
 * the kernel half of the root never changes afterwards and every address space can
 * share it by copying those entries. Returns 0, SVMM_EMODE or SVMM_ENOMEM (nothing
 * allocated). Its flushes use PORT_ASID_GLOBAL.
 */
int pt_init_kernel(struct pt *pt, enum svmm_mode mode);

/*
 * Copy root entries 256..511 of kernel into dst (same mode). dst does not own the
 * tables behind them: pt_destroy of dst never frees them. From the first clone on,
 * kernel refuses PT_BOOT (SVMM_EPERM): the root entries the clones copied never change
 * again. Returns 0, SVMM_EINVAL (kernel is not from pt_init_kernel, or dst is) or
 * SVMM_EMODE (the modes differ); dst is untouched on error.
 */
int pt_clone_kernel(struct pt *dst, const struct pt *kernel);

/*
 * pt_init in kernel's mode followed by pt_clone_kernel, in one pass over the new root
 * (its user half zeroed, its kernel half copied, each word written once: an address
 * space's creation and every fork pay for one root, not for zeroing it whole and then
 * copying half). Returns 0, SVMM_EINVAL (kernel is NULL or not from pt_init_kernel) or
 * SVMM_ENOMEM (nothing allocated).
 */
int pt_init_user(struct pt *pt, const struct pt *kernel, uint32_t asid);

/*
 * What pt_unmap_leaves and pt_destroy hand back: one leaf that is gone, as [va, va +
 * size) mapped to pa with the entry pte (a Svnapot entry is reported per 4 KiB page).
 * It is called after the TLB flush, so the frame behind it may be freed at once.
 */
typedef void (*pt_leaf_fn)(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size,
			   uint64_t pte);

/* A pt_leaf_fn that does nothing, for an owner that tracks its frames elsewhere. */
void pt_leaf_ignore(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte);

/*
 * Free every table the pt owns: for a user pt the user-half tables and the root, for
 * a kernel pt everything. Stale translations of the pt's ASID are flushed before any
 * frame is given back. Leaves still mapped in the pt's own part are handed to fn
 * (after the flush, before the tables go) so that their frames can be freed; with fn
 * NULL, a pt that still maps anything is refused with SVMM_ELIVE and nothing is freed
 * (a kernel's leak check). Returns 0 or SVMM_ELIVE.
 */
int pt_destroy(struct pt *pt, pt_leaf_fn fn, void *ctx);

/*
 * Map [va, va + size) to [pa, pa + size) with flags (PT_R.. permissions, PT_REPLACE,
 * PT_NAPOT, PT_IO or PT_NC, PT_MAX_PAGE_*, PT_BOOT). Leaves get A, and D when writable.
 * Errors, all leaving the tables unchanged: SVMM_EZEROSIZE, SVMM_EUNALIGNED (va, pa or
 * size not 4 KiB-aligned), SVMM_EOVERFLOW, SVMM_ENONCANON, SVMM_EHALVES (crosses the
 * halves), SVMM_ERANGE (pa beyond 2^56), SVMM_EPERM (no R/W/X, W without R, G on a
 * user pt, kernel half through a user pt, PT_BOOT after a pt_clone_kernel), SVMM_EINVAL (unknown flags, IO with NC),
 * SVMM_EEXIST (something mapped there, without PT_REPLACE), SVMM_ENOMEM.
 */
int pt_map(struct pt *pt, svmm_va_t va, svmm_pa_t pa, uint64_t size, unsigned flags);

/*
 * pt_map of the one 4 KiB page at va, with the walk already done: slot is the level-0
 * entry for va, as pt_leaf_at(pt, va) returned it in ptep with level 0, and nothing may
 * have unmapped va's table since (the caller serialises that: an address space does
 * both under its own lock). The page fault path uses it so that the table is walked
 * once per fault, not twice. The same flags and errors as pt_map for one page, except
 * SVMM_EINVAL also for a NULL slot, PT_NAPOT or PT_BOOT; SVMM_EEXIST when the entry is
 * valid without PT_REPLACE. With PT_REPLACE a valid leaf is overwritten and flushed;
 * a Svnapot entry there is refused with SVMM_EINVAL, unchanged (pt_map demotes such
 * runs; address spaces never map them in the user half).
 */
int pt_map_slot(struct pt *pt, svmm_va_t va, uint64_t *slot, svmm_pa_t pa, unsigned flags);

/*
 * Unmap [va, va + size), splitting huge pages that the range covers in part and
 * freeing tables that become empty (never the kernel slot tables of a kernel pt).
 * flags: PT_MISSING_OK, else a hole anywhere in the range is SVMM_ENOENT with nothing
 * changed. Other errors as pt_map, plus SVMM_EPERM for a root-level kernel leaf.
 */
int pt_unmap(struct pt *pt, svmm_va_t va, uint64_t size, unsigned flags);

/*
 * pt_unmap that hands every removed leaf to fn after the TLB flush, in address order,
 * so that a kernel that owns its frames frees them in the same walk and never before
 * the flush. A leaf the range covers in part is split first and only the removed part
 * is reported. The removed entries are gathered in one preallocated table frame; more
 * than 256 of them are handled in batches, each flushed before it is reported (the
 * pt's lock is dropped between batches: the caller owns the range). Errors as
 * pt_unmap, plus SVMM_EINVAL for a NULL fn; SVMM_ENOMEM changes nothing.
 */
int pt_unmap_leaves(struct pt *pt, svmm_va_t va, uint64_t size, unsigned flags,
		    pt_leaf_fn fn, void *ctx);

/*
 * Change the permissions of every mapping in [va, va + size): each leaf gets
 * (its permissions & ~clear) | set, with D following W (set and clear: PT_R, PT_W,
 * PT_X, PT_U, PT_G, else SVMM_EINVAL; a bit in both ends set). pt_protect(pt, va,
 * size, prot, PT_PERMS, 0) sets prot exactly; setting or clearing PT_U alone needs no
 * read first. A huge page covered in part is split only when its permissions change, so
 * a protect that changes nothing never allocates. flags: PT_MISSING_OK skips holes;
 * otherwise a hole is SVMM_ENOENT. A leaf that would end with no R, W or X, or W
 * without R, is SVMM_EPERM; other errors as pt_unmap. Every error changes nothing.
 */
int pt_protect(struct pt *pt, svmm_va_t va, uint64_t size, unsigned set, unsigned clear,
	       unsigned flags);

/* One leaf as pt_leaf_at finds it. */
struct pt_leaf {
	uint64_t pte;       /* the entry's value */
	uint64_t *ptep;     /* where the entry lives (through port_pa_to_va) */
	unsigned level;     /* 0 for a 4 KiB page table entry, 1 for 2 MiB, ... */
	svmm_va_t va;       /* start of the page (of the 64 KiB run for Svnapot) */
	svmm_pa_t pa;       /* the physical address that the va asked about maps to */
	uint64_t size;      /* bytes of the page (64 KiB for a Svnapot run) */
};

/*
 * The leaf entry that maps va, with its level and location, without any permission
 * check (unlike pt_translate). Returns 0 and *leaf; SVMM_ENOENT when no valid leaf
 * maps va (then leaf->ptep and leaf->level name the empty entry where the walk
 * stopped, leaf->pte is 0); SVMM_ENONCANON. Reads without the lock, as translate does.
 * A kernel that writes through ptep bypasses svmm: it must keep pt_check's invariants
 * and flush itself.
 */
int pt_leaf_at(const struct pt *pt, svmm_va_t va, struct pt_leaf *leaf);

/*
 * Translate va exactly as the MMU's walk would for an access of type access (PT_R,
 * PT_W or PT_X, or several: all must pass) with privilege priv (PT_PRIV_U, PT_SUM,
 * PT_MXR). Returns 0 with *pa and *leaf_size (either may be NULL), SVMM_EFAULT where
 * the hardware raises a page fault, or SVMM_EINVAL for an empty access mask.
 */
int pt_translate(const struct pt *pt, svmm_va_t va, unsigned access, unsigned priv, svmm_pa_t *pa,
		 uint64_t *leaf_size);

/*
 * Call fn for every leaf in [va, va + size), in address order, clipped to the range:
 * fn(ctx, va, pa, size, pte). A Svnapot run is one call of 64 KiB. A non-zero return
 * from fn stops the walk and is returned. Errors as pt_map's address checks.
 */
int pt_walk(const struct pt *pt, svmm_va_t va, uint64_t size,
	    int (*fn)(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte), void *ctx);

/*
 * ptdump: one line per maximal run of equal attributes, page size and contiguous
 * physical addresses, as "start-end size pa perms pagesize". size 0 = whole space.
 */
void pt_dump(const struct pt *pt, svmm_va_t va, uint64_t size, svmm_print_fn out, void *ctx);

/* The satp value that selects this pt: MODE | ASID | PPN(root). */
uint64_t pt_satp(const struct pt *pt);

/* Bytes covered by one entry at level (0 = 4 KiB leaf level). */
static inline uint64_t pt_level_size(unsigned level)
{
	return (uint64_t)1 << (SVMM_PAGE_SHIFT + 9u * level);
}

/*
 * Consistency check of the whole tree: no reserved bits, non-leaf entries without A,
 * D, U, N or PBMT, leaves with A (and D exactly when writable), superpages aligned,
 * Svnapot runs whole, no global leaf in a user pt, no empty table other than the root
 * and kernel slot tables, and the count of tables equal to pt->tables. Returns 0 or
 * SVMM_EINVAL; when out is not NULL, the first broken invariant is printed through it
 * as one line that names it and the entry ("pt: every leaf has A, and D exactly when
 * it has W: entry 0x... at level 0 for va 0x..."). Never modifies.
 */
int pt_check(const struct pt *pt, svmm_print_fn out, void *ctx);

#endif /* SVMM_PT_H */
