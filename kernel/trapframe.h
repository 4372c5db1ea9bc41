/*
 * kernel/trapframe.h - the saved register state of a trap, shared by entry.S and C.
 *
 * A trap from U-mode saves into the current process's frame (sscratch points at it
 * while the process runs); a trap from S-mode saves a frame on the current kernel
 * stack. Offsets are written out so that the assembler sees the same layout.
 */
#ifndef KERNEL_TRAPFRAME_H
#define KERNEL_TRAPFRAME_H

#define TF_REG(n)   ((n) * 8)     /* x1..x31; slot 0 is unused */
#define TF_SEPC     256
#define TF_SSTATUS  264
#define TF_SCAUSE   272
#define TF_STVAL    280
#define TF_KSP      288           /* kernel stack top to use on a trap from U-mode */
#define TF_KTP      296           /* the hart's struct cpu (tp) to use on that trap */
#define TF_SIZE     304           /* a multiple of 16 for the ABI's stack alignment */

#ifndef __ASSEMBLER__
#include <stdint.h>

struct trapframe {
	uint64_t x[32];               /* x[1] = ra, x[2] = sp, x[10] = a0, ... */
	uint64_t sepc;
	uint64_t sstatus;
	uint64_t scause;
	uint64_t stval;
	uint64_t ksp;
	uint64_t ktp;
};
_Static_assert(sizeof(struct trapframe) == TF_SIZE, "trapframe layout");
_Static_assert(__builtin_offsetof(struct trapframe, ksp) == TF_KSP, "trapframe layout");
_Static_assert(__builtin_offsetof(struct trapframe, ktp) == TF_KTP, "trapframe layout");

#define TF_RA(tf) ((tf)->x[1])
#define TF_SP(tf) ((tf)->x[2])
#define TF_A(tf, i) ((tf)->x[10 + (i)])
#define TF_A7(tf) ((tf)->x[17])
#endif

#endif /* KERNEL_TRAPFRAME_H */
