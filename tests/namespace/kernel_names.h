/*
 * tests/namespace/kernel_names.h - names that RISC-V kernels commonly define for
 * themselves (xv6, Linux and teaching kernels), as macros and typedefs.
 *
 * make check-namespace compiles every public header of svmm once after this file and
 * once before it, with -Werror: a header that defines one of these names ("PTE_V
 * redefined"), declares a typedef of the same name, or uses one of them (and so would
 * pick up the kernel's meaning) stops the build. Each object-like macro expands to a
 * token sequence that cannot compile, so any use inside a header is an error too.
 */
#ifndef NS_KERNEL_NAMES_H
#define NS_KERNEL_NAMES_H

#define KERNEL_NAME_USED_BY_SVMM_HEADER @

/* Page-table entry bits and helpers (xv6 riscv.h, Linux pgtable-bits.h). */
#define PTE_V KERNEL_NAME_USED_BY_SVMM_HEADER
#define PTE_R KERNEL_NAME_USED_BY_SVMM_HEADER
#define PTE_W KERNEL_NAME_USED_BY_SVMM_HEADER
#define PTE_X KERNEL_NAME_USED_BY_SVMM_HEADER
#define PTE_U KERNEL_NAME_USED_BY_SVMM_HEADER
#define PTE_G KERNEL_NAME_USED_BY_SVMM_HEADER
#define PTE_A KERNEL_NAME_USED_BY_SVMM_HEADER
#define PTE_D KERNEL_NAME_USED_BY_SVMM_HEADER
#define PTE_N KERNEL_NAME_USED_BY_SVMM_HEADER
#define PTE_RSW KERNEL_NAME_USED_BY_SVMM_HEADER
#define PTE_PPN_SHIFT KERNEL_NAME_USED_BY_SVMM_HEADER
#define PTE_FLAGS(pte) KERNEL_NAME_USED_BY_SVMM_HEADER
#define PA2PTE(pa) KERNEL_NAME_USED_BY_SVMM_HEADER
#define PTE2PA(pte) KERNEL_NAME_USED_BY_SVMM_HEADER
#define PX(level, va) KERNEL_NAME_USED_BY_SVMM_HEADER
#define PXMASK KERNEL_NAME_USED_BY_SVMM_HEADER
#define PXSHIFT(level) KERNEL_NAME_USED_BY_SVMM_HEADER
#define SATP_SV39 KERNEL_NAME_USED_BY_SVMM_HEADER
#define SATP_SV48 KERNEL_NAME_USED_BY_SVMM_HEADER
#define MAKE_SATP(pt) KERNEL_NAME_USED_BY_SVMM_HEADER

/* Page sizes and rounding. */
#define PAGE_SIZE KERNEL_NAME_USED_BY_SVMM_HEADER
#define PAGE_SHIFT KERNEL_NAME_USED_BY_SVMM_HEADER
#define PAGE_MASK KERNEL_NAME_USED_BY_SVMM_HEADER
#define PGSIZE KERNEL_NAME_USED_BY_SVMM_HEADER
#define PGSHIFT KERNEL_NAME_USED_BY_SVMM_HEADER
#define PGROUNDUP(sz) KERNEL_NAME_USED_BY_SVMM_HEADER
#define PGROUNDDOWN(a) KERNEL_NAME_USED_BY_SVMM_HEADER
#define PAGE_ALIGN(a) KERNEL_NAME_USED_BY_SVMM_HEADER
#define HUGE_PAGE_SIZE KERNEL_NAME_USED_BY_SVMM_HEADER

/* The kernel's memory layout. */
#define KERNBASE KERNEL_NAME_USED_BY_SVMM_HEADER
#define PHYSTOP KERNEL_NAME_USED_BY_SVMM_HEADER
#define MAXVA KERNEL_NAME_USED_BY_SVMM_HEADER
#define TRAMPOLINE KERNEL_NAME_USED_BY_SVMM_HEADER
#define TRAPFRAME KERNEL_NAME_USED_BY_SVMM_HEADER
#define KSTACK(p) KERNEL_NAME_USED_BY_SVMM_HEADER
#define PAGE_OFFSET KERNEL_NAME_USED_BY_SVMM_HEADER
#define VA_BITS KERNEL_NAME_USED_BY_SVMM_HEADER
#define __va(pa) KERNEL_NAME_USED_BY_SVMM_HEADER
#define __pa(va) KERNEL_NAME_USED_BY_SVMM_HEADER
#define NCPU KERNEL_NAME_USED_BY_SVMM_HEADER
#define NPROC KERNEL_NAME_USED_BY_SVMM_HEADER

/* Utility macros every kernel has its own copy of. */
#define MIN(a, b) KERNEL_NAME_USED_BY_SVMM_HEADER
#define MAX(a, b) KERNEL_NAME_USED_BY_SVMM_HEADER
#define ALIGN(x, a) KERNEL_NAME_USED_BY_SVMM_HEADER
#define ALIGN_UP(x, a) KERNEL_NAME_USED_BY_SVMM_HEADER
#define ALIGN_DOWN(x, a) KERNEL_NAME_USED_BY_SVMM_HEADER
#define IS_ALIGNED(x, a) KERNEL_NAME_USED_BY_SVMM_HEADER
#define ROUNDUP(x, a) KERNEL_NAME_USED_BY_SVMM_HEADER
#define ROUNDDOWN(x, a) KERNEL_NAME_USED_BY_SVMM_HEADER
#define ARRAY_SIZE(a) KERNEL_NAME_USED_BY_SVMM_HEADER
#define NELEM(a) KERNEL_NAME_USED_BY_SVMM_HEADER
#define container_of(p, t, m) KERNEL_NAME_USED_BY_SVMM_HEADER
#define BIT(n) KERNEL_NAME_USED_BY_SVMM_HEADER
#define KiB KERNEL_NAME_USED_BY_SVMM_HEADER
#define MiB KERNEL_NAME_USED_BY_SVMM_HEADER
#define GiB KERNEL_NAME_USED_BY_SVMM_HEADER
#define likely(x) KERNEL_NAME_USED_BY_SVMM_HEADER
#define unlikely(x) KERNEL_NAME_USED_BY_SVMM_HEADER
#define panic KERNEL_NAME_USED_BY_SVMM_HEADER
#define assert KERNEL_NAME_USED_BY_SVMM_HEADER
#define BUG_ON KERNEL_NAME_USED_BY_SVMM_HEADER
#define NULL_GUARD KERNEL_NAME_USED_BY_SVMM_HEADER
#define ASID_BITS KERNEL_NAME_USED_BY_SVMM_HEADER
#define EINVAL KERNEL_NAME_USED_BY_SVMM_HEADER
#define ENOMEM KERNEL_NAME_USED_BY_SVMM_HEADER
#define EFAULT KERNEL_NAME_USED_BY_SVMM_HEADER
#define EBUSY KERNEL_NAME_USED_BY_SVMM_HEADER
#define ENOENT KERNEL_NAME_USED_BY_SVMM_HEADER
#define EEXIST KERNEL_NAME_USED_BY_SVMM_HEADER
#define EPERM KERNEL_NAME_USED_BY_SVMM_HEADER
#define ERANGE KERNEL_NAME_USED_BY_SVMM_HEADER

/* Types: a typedef of the same name in a header is a redefinition error. */
typedef unsigned int uint;
typedef unsigned short ushort;
typedef unsigned char uchar;
typedef unsigned long uint64;
typedef unsigned int uint32;
typedef uint64 pte_t;
typedef uint64 pde_t;
typedef uint64 *pagetable_t;
typedef struct kernel_vm_opaque *vm_t;
typedef struct kernel_pm_opaque *pm_t;
typedef uint64 vaddr_t;
typedef uint64 paddr_t;
typedef uint64 phys_addr_t;
typedef struct kernel_spinlock_opaque spinlock_t;

/* Functions with the kernel's own prototypes: a declaration in a header conflicts. */
void *memset(void *dst, int c, uint n);
int printf(char *fmt, ...);
void kfree(void *pa);
void *kalloc(void);
pte_t *walk(pagetable_t pagetable, uint64 va, int alloc);
int mappages(pagetable_t pagetable, uint64 va, uint64 size, uint64 pa, int perm);

#endif /* NS_KERNEL_NAMES_H */
