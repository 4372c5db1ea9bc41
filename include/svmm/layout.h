/*
 * svmm/layout.h - the paging modes and the address-space layout (DESIGN section 1).
 *
 * Every paging mode has a 512-entry root table; a root entry ("slot") covers
 * S = 2^(va_bits - 9) bytes: 1 GiB in Sv39, 512 GiB in Sv48, 256 TiB in Sv57. The layout
 * hands out whole root slots:
 *
 *   slots 0..254    user memory (uvmem), above a 64 KiB null guard
 *   slot  255       user call stack, growing down from the top of the user half
 *   slots 256..510  direct map of physical memory: va = dmap_base + pa
 *   slot  511       kernel IO: kernel dynamic arena, fixmap, kernel image
 *
 * Slot 511's contents are placed from the top of the address space down, so the
 * kernel image and fixmap have the same virtual address in every mode.
 *
 * This header starts with the per-mode arithmetic every module shares; the full
 * description of the areas follows below it.
 */
#ifndef SVMM_LAYOUT_H
#define SVMM_LAYOUT_H

#include <svmm/fmt.h>
#include <svmm/types.h>

/* Paging modes, valued as satp.MODE encodes them (privileged spec, satp register). */
enum svmm_mode {
	SVMM_SV39 = 8,
	SVMM_SV48 = 9,
	SVMM_SV57 = 10,
};

#define SVMM_PT_ENTRIES   512u
#define SVMM_ROOT_SLOTS   512u
#define SVMM_USER_SLOTS   255u   /* slots 0..254 */
#define SVMM_USTACK_SLOT  255u
#define SVMM_DMAP_SLOT0   256u   /* slots 256..510 */
#define SVMM_DMAP_SLOTS   255u
#define SVMM_KIO_SLOT     511u

/* True for the three modes svmm supports. */
static inline bool svmm_mode_valid(enum svmm_mode mode)
{
	return mode == SVMM_SV39 || mode == SVMM_SV48 || mode == SVMM_SV57;
}

/* Page-table levels: 3, 4 or 5. */
static inline unsigned svmm_mode_levels(enum svmm_mode mode)
{
	return (unsigned)mode - 5u;
}

/* Virtual address bits: 39, 48 or 57. */
static inline unsigned svmm_mode_va_bits(enum svmm_mode mode)
{
	return SVMM_PAGE_SHIFT + 9u * svmm_mode_levels(mode);
}

/* Bytes covered by one root slot: 1 GiB, 512 GiB or 256 TiB. */
static inline uint64_t svmm_slot_size(enum svmm_mode mode)
{
	return (uint64_t)1 << (svmm_mode_va_bits(mode) - 9u);
}

/* Lowest address of the kernel (upper) half: bits va_bits-1..63 all set. */
static inline svmm_va_t svmm_kernel_base(enum svmm_mode mode)
{
	return ~(svmm_va_t)0 << (svmm_mode_va_bits(mode) - 1u);
}

/* End (exclusive) of the user (lower) half. */
static inline svmm_va_t svmm_user_end(enum svmm_mode mode)
{
	return (svmm_va_t)1 << (svmm_mode_va_bits(mode) - 1u);
}

/* Canonical: bits 63..va_bits-1 are all equal (a sign extension). */
static inline bool svmm_canonical(enum svmm_mode mode, svmm_va_t va)
{
	return va < svmm_user_end(mode) || va >= svmm_kernel_base(mode);
}

/* Start of the direct map: the first kernel slot. va = dmap_base + pa. */
static inline svmm_va_t svmm_dmap_base(enum svmm_mode mode)
{
	return svmm_kernel_base(mode);
}

/* The direct map's largest window: 255 slots. */
static inline uint64_t svmm_dmap_size(enum svmm_mode mode)
{
	return (uint64_t)SVMM_DMAP_SLOTS * svmm_slot_size(mode);
}

/* Start of slot 511 (kernel IO). */
static inline svmm_va_t svmm_kio_base(enum svmm_mode mode)
{
	return ~(svmm_va_t)0 - svmm_slot_size(mode) + 1u;
}

/*
 * Mode-independent addresses at the top of slot 511 (its top 256 MiB sits inside
 * slot 511 in every mode, since Sv39's slot is the smallest at 1 GiB).
 */
#define SVMM_KIMAGE_BASE  ((svmm_va_t)0xfffffffff0000000ull)  /* kernel image: top 256 MiB */
#define SVMM_FIXMAP_SIZE  ((uint64_t)2 << 20)             /* 512 4 KiB slots */
#define SVMM_FIXMAP_BASE  (SVMM_KIMAGE_BASE - SVMM_FIXMAP_SIZE)
#define SVMM_NULL_GUARD   ((uint64_t)64 << 10)            /* first 64 KiB never mapped */

/* Gap left unmapped at the very top of the user half, above the stack's top. */
#define SVMM_USTACK_GUARD ((uint64_t)64 << 10)

/*
 * The same arithmetic as constant expressions of the level count (3, 4 or 5), so that
 * core/layout.c can check the layout of every mode with _Static_assert.
 */
#define SVMM_VA_BITS_L(lv)     (SVMM_PAGE_SHIFT + 9u * (lv))
#define SVMM_SLOT_SIZE_L(lv)   ((uint64_t)1 << (SVMM_VA_BITS_L(lv) - 9u))
#define SVMM_USER_END_L(lv)    ((svmm_va_t)1 << (SVMM_VA_BITS_L(lv) - 1u))
#define SVMM_KERNEL_BASE_L(lv) (~(svmm_va_t)0 << (SVMM_VA_BITS_L(lv) - 1u))
#define SVMM_KIO_BASE_L(lv)    (~(svmm_va_t)0 - SVMM_SLOT_SIZE_L(lv) + 1u)

/*
 * The areas of the layout, in address order. LAYOUT_NONE is an address outside every
 * area: the non-canonical hole, or the part of the direct-map window above the limit
 * the kernel was given (svmm.dmap_limit=).
 */
enum layout_area {
	LAYOUT_NONE = 0,
	LAYOUT_NULL_GUARD,   /* [0, 64 KiB): never mapped, catches NULL + small offsets */
	LAYOUT_USER,         /* slots 0..254 above the guard: uvmem */
	LAYOUT_USTACK,       /* slot 255: user stack, top SVMM_USTACK_GUARD left unmapped */
	LAYOUT_DMAP,         /* slots 256..510, possibly shrunk: va = dmap_base + pa */
	LAYOUT_KARENA,       /* slot 511 below the fixmap: kernel vmem (ioremap, stacks) */
	LAYOUT_FIXMAP,       /* per-hart temporary mappings (kmap) */
	LAYOUT_KIMAGE,       /* the kernel image, top 256 MiB */
	LAYOUT_NAREAS
};

/* One area: [base, base + size), with words for the layout table. */
struct layout_region {
	svmm_va_t base;
	uint64_t size;
	const char *name;      /* short lowercase name: "user", "dmap", ... */
	const char *purpose;   /* one phrase */
	const char *pages;     /* the page sizes svmm uses there */
};

/*
 * The whole layout of one mode, computed once at boot by layout_init and read-only
 * afterwards. The direct map's window may be smaller than its 255 slots when the
 * kernel is told to (dmap_limit), so that the beyond-the-window path is testable.
 */
struct svmm_layout {
	enum svmm_mode mode;
	unsigned levels;
	unsigned va_bits;
	uint64_t slot_size;
	svmm_va_t user_end;          /* end of the lower half */
	svmm_va_t kernel_base;       /* start of the upper half */
	svmm_va_t ustack_top;        /* initial user stack pointer (exclusive end of the stack) */
	svmm_va_t dmap_base;
	uint64_t dmap_size;     /* window actually direct-mapped: pa in [0, dmap_size) */
	struct layout_region area[LAYOUT_NAREAS];
};

/*
 * Fill *l for mode. dmap_limit caps the direct-map window (bytes of physical address
 * space, rounded down to 1 GiB, at least 1 GiB); 0 means the full 255 slots. Returns
 * 0, SVMM_EMODE for an unknown mode or SVMM_ERANGE for a limit below 1 GiB; *l is
 * untouched on error.
 */
int layout_init(struct svmm_layout *l, enum svmm_mode mode, uint64_t dmap_limit);

/* The area holding va (LAYOUT_NONE if none). */
enum layout_area layout_area_of(const struct svmm_layout *l, svmm_va_t va);

/* The description of area a, or NULL for LAYOUT_NONE or an out-of-range value. */
const struct layout_region *layout_region(const struct svmm_layout *l, enum layout_area a);

/*
 * Consistency check of a layout (as layout_init makes it, or after a kernel changed
 * it): the mode's arithmetic, the stack's top, the direct-map window, and areas that
 * are inside one half each, in address order and disjoint. Returns 0 or SVMM_EINVAL;
 * when out is not NULL, the first broken invariant is printed through it as one line
 * that names it. Never modifies. (Whether an address is canonical: svmm_canonical.)
 */
int layout_check(const struct svmm_layout *l, svmm_print_fn out, void *ctx);

/*
 * __va(): the direct-map address of physical pa. Returns 0 and *va, or SVMM_ERANGE
 * (and *va untouched) when pa is outside the window, so that a caller never gets an
 * address that points at something else.
 */
int layout_pa_to_va(const struct svmm_layout *l, svmm_pa_t pa, svmm_va_t *va);

/* __pa(): the inverse, SVMM_ERANGE unless va lies in the direct map's window. */
int layout_va_to_pa(const struct svmm_layout *l, svmm_va_t va, svmm_pa_t *pa);

/*
 * Print the layout through out, one line per area ("name start-end size slots pages"),
 * for a kernel's boot log. Sizes that are not a whole unit print as a sum ("1G-64K").
 */
void layout_dump(const struct svmm_layout *l, svmm_print_fn out, void *ctx);

/* Name of a paging mode ("sv39"), or "?". */
const char *svmm_mode_name(enum svmm_mode mode);

#endif /* SVMM_LAYOUT_H */
