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
static inline vm_t svmm_kernel_base(enum svmm_mode mode)
{
	return ~(vm_t)0 << (svmm_mode_va_bits(mode) - 1u);
}

/* End (exclusive) of the user (lower) half. */
static inline vm_t svmm_user_end(enum svmm_mode mode)
{
	return (vm_t)1 << (svmm_mode_va_bits(mode) - 1u);
}

/* Canonical: bits 63..va_bits-1 are all equal (a sign extension). */
static inline bool svmm_canonical(enum svmm_mode mode, vm_t va)
{
	return va < svmm_user_end(mode) || va >= svmm_kernel_base(mode);
}

/* Start of the direct map: the first kernel slot. va = dmap_base + pa. */
static inline vm_t svmm_dmap_base(enum svmm_mode mode)
{
	return svmm_kernel_base(mode);
}

/* The direct map's largest window: 255 slots. */
static inline uint64_t svmm_dmap_size(enum svmm_mode mode)
{
	return (uint64_t)SVMM_DMAP_SLOTS * svmm_slot_size(mode);
}

/* Start of slot 511 (kernel IO). */
static inline vm_t svmm_kio_base(enum svmm_mode mode)
{
	return ~(vm_t)0 - svmm_slot_size(mode) + 1u;
}

/*
 * Mode-independent addresses at the top of slot 511 (its top 256 MiB sits inside
 * slot 511 in every mode, since Sv39's slot is the smallest at 1 GiB).
 */
#define SVMM_KIMAGE_BASE  ((vm_t)0xfffffffff0000000ull)  /* kernel image: top 256 MiB */
#define SVMM_FIXMAP_SIZE  ((uint64_t)2 << 20)             /* 512 4 KiB slots */
#define SVMM_FIXMAP_BASE  (SVMM_KIMAGE_BASE - SVMM_FIXMAP_SIZE)
#define SVMM_NULL_GUARD   ((uint64_t)64 << 10)            /* first 64 KiB never mapped */

#endif /* SVMM_LAYOUT_H */
