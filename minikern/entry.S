/*
 * minikern/entry.S - boot, the kernel trap vector, the context switch, and the stacks.
 *
 * OpenSBI jumps to _start at 0x80200000 in S-mode, MMU off, a0 = hart id, a1 = device
 * tree. The kernel is linked at that same address (identity), so nothing here needs to
 * care whether paging is on.
 */
#include "param.h"

	.section .text.entry
	.globl _start
_start:
	csrw	sie, zero
	li	tp, 0               /* this kernel's hart index, not the hart id */
	lla	sp, boot_stack + KSTACK_SIZE
	lla	t0, _bss_start
	lla	t1, _bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:	call	kmain
3:	wfi
	j	3b

/*
 * Every trap taken in S-mode is a bug in this kernel (it never touches user memory
 * directly and keeps interrupts off), so the vector switches to a stack of its own (a
 * stack overflow into a guard page traps here too) and panics.
 */
	.text
	.balign 4
	.globl kernelvec
kernelvec:
	lla	sp, panic_stack + KSTACK_SIZE
	call	kerneltrap
4:	wfi
	j	4b

/* swtch(old, new): save the callee-saved registers in *old, load them from *new. */
	.globl swtch
swtch:
	sd	ra, 0(a0)
	sd	sp, 8(a0)
	.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
	sd	s\n, (16 + 8 * \n)(a0)
	.endr
	ld	ra, 0(a1)
	ld	sp, 8(a1)
	.irp n, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
	ld	s\n, (16 + 8 * \n)(a1)
	.endr
	ret

/*
 * The stacks, KSTACK_SIZE each, every one above a 4 KiB guard page that the kernel's
 * page table leaves unmapped (vm.c), so an overflow faults instead of overwriting the
 * neighbour: boot (the scheduler), one per process, and the panic stack.
 */
	.section .stacks, "aw", @nobits
	.balign 4096
	.globl boot_stack, kstacks, panic_stack
	.space	4096
boot_stack:
	.space	KSTACK_SIZE
kstacks:
	.rept	NPROC
	.space	4096
	.space	KSTACK_SIZE
	.endr
	.space	4096
panic_stack:
	.space	KSTACK_SIZE
