/*
 * kernel/early.c - the early page table and the paging-mode probe.
 *
 * early_boot runs at the physical load address with the MMU off, so it must use only
 * PC-relative addressing: no pointers stored in data, no jump tables (this file is
 * built with -fno-jump-tables), no calls outside this file. It builds, for the best
 * mode first, a table that maps
 *   - the 1 GiB around the load address to itself (so the next instruction after the
 *     satp write still runs),
 *   - the kernel image at KERNEL_VIRT with 2 MiB pages (RWX for now: the final table
 *     maps it W^X by section),
 *   - the direct-map addresses of the 1 GiB regions holding the image and the device
 *     tree, so kmain can read the device tree before the final table exists,
 *   - physical gigabyte 0 (QEMU's devices) to itself, read-write, so that a panic
 *     before the final table can still power off with a failure status,
 * writes satp and reads it back. satp is WARL: a mode the hart does not implement
 * leaves satp unchanged, so the read-back tells whether the mode exists, as Linux's
 * set_satp_mode does. Because the table is valid for that mode, a successful write is
 * harmless: the identity mapping keeps execution going.
 */
#include <stdint.h>

#include "early.h"
#include "memlayout.h"

#define EARLY_POOL 12
#define PTE_V 0x1ull
#define PTE_RWX 0xeull
#define PTE_RW 0x6ull
#define PTE_A 0x40ull
#define PTE_D 0x80ull
#define PTE_G 0x20ull

/* Two pools, so that a mode change from high addresses never edits the live table. */
static uint64_t early_pt[2][EARLY_POOL][512] __attribute__((aligned(4096)));
static unsigned early_used[2];

uint64_t early_load_pa;     /* physical address of _kernel_start */
uint64_t early_satp;        /* satp value of the early table in use */
unsigned early_modes;       /* bit m set: satp.MODE m accepted by the hart */

static uint64_t *early_table(unsigned pool)
{
	if (early_used[pool] >= EARLY_POOL)
		return 0;
	uint64_t *t = early_pt[pool][early_used[pool]++];
	for (unsigned i = 0; i < 512; i++)
		t[i] = 0;
	return t;
}

/*
 * Map one leaf of level `leaf` (0 = 4 KiB, 1 = 2 MiB, 2 = 1 GiB) at va -> pa. off is
 * (virtual address of the tables - their physical address): 0 while the MMU is off.
 */
static int early_map(unsigned pool, uint64_t *root, unsigned levels, uint64_t va,
		     uint64_t pa, unsigned leaf, uint64_t off, uint64_t perm)
{
	uint64_t *t = root;
	for (unsigned lvl = levels - 1; lvl > leaf; lvl--) {
		unsigned idx = (unsigned)(va >> (12 + 9 * lvl)) & 511;
		if (!(t[idx] & PTE_V)) {
			uint64_t *n = early_table(pool);
			if (!n)
				return -1;
			t[idx] = ((((uint64_t)(uintptr_t)n - off) >> 12) << 10) | PTE_V;
		}
		t = (uint64_t *)(uintptr_t)(((t[idx] >> 10) << 12) + off);
	}
	unsigned idx = (unsigned)(va >> (12 + 9 * leaf)) & 511;
	t[idx] = ((pa >> 12) << 10) | PTE_V | perm | PTE_A | PTE_D | PTE_G;
	return 0;
}

static uint64_t dmap_va(unsigned levels, uint64_t pa)
{
	return (~0ull << (12 + 9 * levels - 1)) + pa;
}

/* Build the early table for mode into pool; return its satp value or 0. */
static uint64_t early_build(unsigned pool, unsigned mode, uint64_t dtb_pa, uint64_t off)
{
	unsigned levels = mode - 5;
	early_used[pool] = 0;
	uint64_t *root = early_table(pool);
	uint64_t gig = 1ull << 30, two = 2ull << 20;
	uint64_t img = early_load_pa & ~(two - 1);
	int err = 0;

	err |= early_map(pool, root, levels, img & ~(gig - 1), img & ~(gig - 1), 2, off, PTE_RWX);
	/* 32 MiB of image window: far more than the image needs. */
	for (uint64_t o = 0; o < 32ull << 20; o += two)
		err |= early_map(pool, root, levels, KERNEL_VIRT + o, img + o, 1, off, PTE_RWX);
	for (uint64_t g = 0; g < 2; g++) {
		uint64_t a = (early_load_pa & ~(gig - 1)) + g * gig;
		uint64_t d = (dtb_pa & ~(gig - 1)) + g * gig;
		err |= early_map(pool, root, levels, dmap_va(levels, a), a, 2, off, PTE_RW);
		err |= early_map(pool, root, levels, dmap_va(levels, d), d, 2, off, PTE_RW);
	}
	/* The first gigabyte (QEMU's devices) identity-mapped, read-write: only so that a
	   panic before ioremap works can still power off with a failure status. */
	if ((img & ~(gig - 1)) != 0)
		err |= early_map(pool, root, levels, 0, 0, 2, off, PTE_RW);
	if (err)
		return 0;
	return ((uint64_t)mode << 60) | (((uint64_t)(uintptr_t)root - off) >> 12);
}

static inline uint64_t satp_try(uint64_t v)
{
	uint64_t r;
	__asm__ volatile("csrw satp, %1\n\tsfence.vma\n\tcsrr %0, satp"
			 : "=r"(r) : "r"(v) : "memory");
	return r;
}

unsigned early_boot(uint64_t dtb_pa, uint64_t load_pa)
{
	early_load_pa = load_pa;
	unsigned best = 0;
	/* Probe every mode; keep the table of the best one in the end. */
	for (unsigned mode = 10; mode >= 8; mode--) {
		uint64_t v = early_build(0, mode, dtb_pa, 0);
		if (v && satp_try(v) == v) {
			early_modes |= 1u << mode;
			if (best == 0)
				best = mode;
		}
		satp_try(0);
	}
	if (best == 0) {
		/* No paging at all: nothing sensible can follow. */
		for (;;)
			__asm__ volatile("wfi");
	}
	early_satp = early_build(0, best, dtb_pa, 0);
	satp_try(early_satp);
	return best;
}

int early_switch_mode(unsigned mode, uint64_t dtb_pa)
{
	if (mode < 8 || mode > 10 || !(early_modes & (1u << mode)))
		return -1;
	/* Alternate pools so the live table is never the one being rebuilt. */
	unsigned pool = (early_satp & ((1ull << 44) - 1)) << 12 ==
		(uint64_t)(uintptr_t)early_pt[0] - (KERNEL_VIRT - early_load_pa) ? 1 : 0;
	uint64_t v = early_build(pool, mode, dtb_pa, KERNEL_VIRT - early_load_pa);
	if (!v || satp_try(v) != v)
		return -1;
	early_satp = v;
	return 0;
}
