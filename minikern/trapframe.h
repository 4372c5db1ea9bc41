/*
 * minikern/trapframe.h - a process's saved user registers, shared by the trampoline
 * and C. Each process's frame has a page of its own, mapped at TRAPFRAME in its
 * address space (for the kernel only); C reaches it at its own address.
 */
#ifndef MINIKERN_TRAPFRAME_H
#define MINIKERN_TRAPFRAME_H

#define TF_KSATP  0     /* the kernel's satp, loaded on a trap from U-mode */
#define TF_KSP    8     /* top of the process's kernel stack */
#define TF_KTRAP  16    /* usertrap's address */
#define TF_KFLUSH 24    /* nonzero: flush the TLB after that satp write (no ASIDs) */
#define TF_EPC    32    /* user pc */
#define TF_X(n)   (40 + 8 * (n))   /* x1..x31; slot 0 unused */
#define TF_SIZE   296

/*
 * The top two pages of the lower half (MAXVA - PGSIZE and below, as xv6 places them):
 * the trampoline code, in the kernel's table and every address space, and the
 * process's trap frame, in its address space.
 */
#define TRAMPOLINE 0x3ffffff000ul
#define TRAPFRAME  (TRAMPOLINE - 4096ul)

#ifndef __ASSEMBLER__
#include <stdint.h>

struct trapframe {
	uint64_t ksatp, ksp, ktrap, kflush, epc;
	uint64_t x[32];               /* x[1] = ra, x[2] = sp, x[10] = a0, x[17] = a7 */
};
_Static_assert(sizeof(struct trapframe) == TF_SIZE, "trapframe layout");
_Static_assert(__builtin_offsetof(struct trapframe, x) == TF_X(0), "trapframe layout");
#endif

#endif /* MINIKERN_TRAPFRAME_H */
