/*
 * minikern/trampoline.S - the page that switches between user and kernel page tables.
 *
 * It is mapped at TRAMPOLINE in the kernel's table and in every address space (vm.c),
 * so that execution continues across the satp write. sscratch holds the address of the
 * running process's trap frame in its TRAPFRAME alias while U-mode runs.
 */
#include "trapframe.h"

	.section .trampoline, "ax"
	.balign 4096
	.globl trampoline, uservec, userret
trampoline:
uservec:
	csrrw	a0, sscratch, a0
	sd	x1, TF_X(1)(a0)
	.irp n, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	sd	x\n, TF_X(\n)(a0)
	.endr
	csrr	t0, sscratch
	sd	t0, TF_X(10)(a0)
	ld	sp, TF_KSP(a0)
	ld	t1, TF_KTRAP(a0)
	ld	t0, TF_KSATP(a0)
	ld	t2, TF_KFLUSH(a0)
	/* The kernel's table never changes after boot and, with ASIDs, its ASID (0) is
	   never a user's: no fence is needed to use it. Without ASIDs, user and kernel
	   translations share ASID 0 and must not survive the switch. */
	csrw	satp, t0
	beqz	t2, 1f
	sfence.vma zero, zero
1:	jr	t1

/* userret(frame alias, user satp, flush): enter U-mode at sepc with the frame's registers. */
userret:
	csrw	satp, a1
	beqz	a2, 2f
	sfence.vma zero, zero
2:	csrw	sscratch, a0
	ld	x1, TF_X(1)(a0)
	.irp n, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	ld	x\n, TF_X(\n)(a0)
	.endr
	ld	a0, TF_X(10)(a0)
	sret
	.balign 4096
