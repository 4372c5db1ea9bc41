/*
 * minikern/riscv.h - the machine as this kernel names it: page-table bits, the
 * physical memory map of QEMU virt, CSRs and fences.
 *
 * These are the kernel's own names (as a small teaching kernel spells them: PTE_V,
 * PGSIZE, KERNBASE, PHYSTOP, MAXVA). defs.h includes svmm's public headers after this
 * file; that the whole kernel builds with -Werror is the proof that svmm's names do
 * not clash with them.
 */
#ifndef MINIKERN_RISCV_H
#define MINIKERN_RISCV_H

#include <stdint.h>

#define PGSIZE  4096ul
#define PGSHIFT 12
#define PGROUNDUP(a)   (((a) + PGSIZE - 1) & ~(PGSIZE - 1))
#define PGROUNDDOWN(a) ((a) & ~(PGSIZE - 1))

/* Page-table entry bits, as the privileged specification lays them out. */
#define PTE_V (1L << 0)
#define PTE_R (1L << 1)
#define PTE_W (1L << 2)
#define PTE_X (1L << 3)
#define PTE_U (1L << 4)
#define PTE_G (1L << 5)
#define PTE_A (1L << 6)
#define PTE_D (1L << 7)
#define PA2PTE(pa) ((((uint64_t)(pa)) >> 12) << 10)
#define PTE2PA(pte) (((pte) >> 10) << 12)

/* QEMU virt: RAM from KERNBASE; the kernel owns PHYSTOP - KERNBASE bytes of it. */
#define KERNBASE 0x80000000ul
#define KERNLOAD 0x80200000ul        /* where OpenSBI jumps */
#define PHYSTOP  (KERNBASE + 128ul * 1024 * 1024)
#define VIRT_TEST 0x100000ul         /* sifive,test1: power-off with a status */
/* One past the highest Sv39 address, as xv6 defines it (bit 38 stays clear). */
#define MAXVA (1ul << (9 + 9 + 9 + 12 - 1))

#define SATP_SV39 (8ul << 60)
#define MAKE_SATP(asid, root) (SATP_SV39 | ((uint64_t)(asid) << 44) | ((root) >> 12))

#define SSTATUS_SIE  (1ul << 1)
#define SSTATUS_SPIE (1ul << 5)
#define SSTATUS_SPP  (1ul << 8)
#define SSTATUS_SUM  (1ul << 18)

#define SCAUSE_ECALL_U        8
#define SCAUSE_INST_PAGE      12
#define SCAUSE_LOAD_PAGE      13
#define SCAUSE_STORE_PAGE     15

#define csr_read(name) ({ uint64_t v_; __asm__ volatile("csrr %0, " #name : "=r"(v_)); v_; })
#define csr_write(name, v) __asm__ volatile("csrw " #name ", %0" :: "r"((uint64_t)(v)) : "memory")
#define csr_clear(name, v) __asm__ volatile("csrc " #name ", %0" :: "r"((uint64_t)(v)) : "memory")

static inline void sfence_vma(void)
{
	__asm__ volatile("sfence.vma zero, zero" ::: "memory");
}

static inline void intr_off(void)
{
	csr_clear(sstatus, SSTATUS_SIE);
}

static inline int intr_get(void)
{
	return (csr_read(sstatus) & SSTATUS_SIE) != 0;
}

static inline void intr_on(void)
{
	__asm__ volatile("csrs sstatus, %0" :: "r"(SSTATUS_SIE) : "memory");
}

#endif /* MINIKERN_RISCV_H */
