/*
 * kernel/entry.S - the first instructions, the trap vector and the return to U-mode.
 *
 * OpenSBI enters _start in S-mode at the load address with the MMU off, a0 = hart id
 * and a1 = physical address of the device tree. The code here is position independent
 * (auipc-based) until it jumps to the linked high address.
 */
#include "cpu.h"
#include "trapframe.h"

/*
 * Store or load the general registers at TF_REG(n)(base): x1 and x3..x31, that is
 * every register but sp, whose trap-time value each path saves its own way. A load may
 * skip one register (the base itself, loaded last by the caller) and may include sp.
 */
.macro SAVE_GPRS base
	sd	x1, TF_REG(1)(\base)
	.irp n, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	sd	x\n, TF_REG(\n)(\base)
	.endr
.endm

.macro LOAD_GPRS base, skip=0, with_sp=0
	ld	x1, TF_REG(1)(\base)
	.if \with_sp
	ld	x2, TF_REG(2)(\base)
	.endif
	.irp n, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
	.if \n - \skip
	ld	x\n, TF_REG(\n)(\base)
	.endif
	.endr
.endm

	.section .text.entry
	.globl _start
_start:
	/* One hart boots here; the others are started later through SBI HSM at
	   secondary_entry. Should firmware send a second hart here anyway, it parks. */
	lla	t0, boot_hart_claimed
	li	t1, 1
	amoswap.w t1, t1, (t0)
	bnez	t1, park

	/* Boot stack: its physical address, since the MMU is still off. */
	lla	sp, _stack_top
	csrw	sscratch, zero
	csrw	sie, zero

	/* Zero .bss before any C code reads it. */
	lla	t0, _bss_start
	lla	t1, _bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:
	mv	s0, a0              /* hart id */
	mv	s1, a1              /* dtb pa */
	/* early_boot(dtb_pa, load_pa): probes the mode, turns on the early table. */
	mv	a0, s1
	lla	a1, _start
	call	early_boot
	mv	s2, a0              /* chosen mode */

	/* Jump to the linked (high) address of high_entry. */
	lla	t0, high_entry_addr
	ld	t0, 0(t0)
	jr	t0

park:
	wfi
	j	park

/*
 * A hart started by sbi_hart_start(hartid, pa of secondary_entry, pa of its
 * struct hart_boot): S-mode, MMU off, a0 = hart id, a1 = the record. The record gives
 * the kernel's satp, the hart's stack and struct cpu, and the high address to go on
 * at. Turning on the kernel table makes the next fetch fault (this physical page is
 * not mapped there), and the fault goes to stvec: the high address.
 */
	.globl secondary_entry
secondary_entry:
	csrw	sie, zero
	csrw	sscratch, zero
	ld	t0, 0(a1)           /* satp */
	ld	sp, 8(a1)
	ld	tp, 16(a1)
	ld	t1, 24(a1)          /* secondary_high */
	csrw	stvec, t1
	sfence.vma
	csrw	satp, t0
	sfence.vma
	j	park                /* not reached: the fetch above faults to stvec */

	.balign 8
high_entry_addr:
	.dword	high_entry

	.text
	.balign 4
	.globl secondary_high
secondary_high:
	lla	t0, trap_vector
	csrw	stvec, t0
	mv	a0, tp
	call	secondary_main
	j	park

high_entry:
	/* Now at the high address: the stack and everything else by link address. */
	lla	sp, _stack_top
	lla	t0, trap_vector
	csrw	stvec, t0
	mv	a0, s0
	mv	a1, s1
	mv	a2, s2
	call	kmain
	j	park

/*
 * The trap vector. sscratch holds the current process's trapframe while U-mode runs
 * and zero while S-mode runs, so one swap tells where the trap came from.
 */
	.balign 4
	.globl trap_vector
trap_vector:
	csrrw	sp, sscratch, sp
	bnez	sp, from_user

	/* From S-mode: put sp back and push a frame on the current kernel stack. */
	csrrw	sp, sscratch, sp
	addi	sp, sp, -TF_SIZE
	SAVE_GPRS sp
	addi	t0, sp, TF_SIZE
	sd	t0, TF_REG(2)(sp)
	csrr	t0, sepc
	sd	t0, TF_SEPC(sp)
	csrr	t0, sstatus
	sd	t0, TF_SSTATUS(sp)
	csrr	t0, scause
	sd	t0, TF_SCAUSE(sp)
	csrr	t0, stval
	sd	t0, TF_STVAL(sp)
	mv	a0, sp
	call	kernel_trap
	/* kernel_trap may have changed sepc (a fixup) or sstatus in the frame. */
	ld	t0, TF_SEPC(sp)
	csrw	sepc, t0
	ld	t0, TF_SSTATUS(sp)
	csrw	sstatus, t0
	LOAD_GPRS sp
	addi	sp, sp, TF_SIZE
	sret

from_user:
	/* sp = this process's trapframe, sscratch = user sp. */
	SAVE_GPRS sp
	csrrw	t0, sscratch, zero
	sd	t0, TF_REG(2)(sp)
	csrr	t0, sepc
	sd	t0, TF_SEPC(sp)
	csrr	t0, scause
	sd	t0, TF_SCAUSE(sp)
	csrr	t0, stval
	sd	t0, TF_STVAL(sp)
	mv	a0, sp
	ld	sp, TF_KSP(a0)
	ld	tp, TF_KTP(a0)
	/* A U-mode probe of the MMU test comes back to its caller, not to a process. */
	lla	t0, uprobe_tf
	beq	a0, t0, uprobe_trap_entry
	call	user_trap
	/* a0 = the trapframe to resume: the same process or the next one. */
	.globl user_return
user_return:
	/* a0 = trapframe of the process to enter; interrupts are off. The next trap
	   from U-mode comes back to this hart's stack and struct cpu. */
	ld	t0, CPU_KSP(tp)
	sd	t0, TF_KSP(a0)
	sd	tp, TF_KTP(a0)
	csrw	sscratch, a0
	ld	t0, TF_SEPC(a0)
	csrw	sepc, t0
	/* Return to U-mode with interrupts enabled there (SPP = 0, SPIE = 1). */
	li	t0, (1 << 8)
	csrc	sstatus, t0
	li	t0, (1 << 5)
	csrs	sstatus, t0
	LOAD_GPRS a0, skip=10, with_sp=1
	ld	a0, TF_REG(10)(a0)
	sret

/*
 * Probes for the MMU differential test and for uaccess. Each faulting instruction has
 * an entry in __ex_table; kernel_trap sends a fault there to the fixup, which returns 1.
 */
	.globl probe_load, probe_store, probe_exec, uaccess_copy
/* int probe_load(svmm_va_t va, uint8_t *out) */
probe_load:
10:	lbu	t0, 0(a0)
	sb	t0, 0(a1)
	li	a0, 0
	ret
/* int probe_store(svmm_va_t va, uint8_t val) */
probe_store:
11:	sb	a1, 0(a0)
	li	a0, 0
	ret
/* int probe_exec(svmm_va_t va): calls va, which must hold a `ret`. The trap handler turns an
   instruction fault during the call into a return with a0 = 1 (see probe_exec_active). */
probe_exec:
	addi	sp, sp, -16
	sd	ra, 8(sp)
	jalr	ra, 0(a0)
	li	a0, 0
	ld	ra, 8(sp)
	addi	sp, sp, 16
	ret
	.globl probe_exec_fault
probe_exec_fault:
	li	a0, 1
	ld	ra, 8(sp)
	addi	sp, sp, 16
	ret
/* int uaccess_copy(void *dst, const void *src, size_t n): 0, or 1 on a fault. */
uaccess_copy:
	beqz	a2, 13f
12:	lbu	t0, 0(a1)
14:	sb	t0, 0(a0)
	addi	a0, a0, 1
	addi	a1, a1, 1
	addi	a2, a2, -1
	bnez	a2, 12b
13:	li	a0, 0
	ret
probe_fault:
	li	a0, 1
	ret

/*
 * U-mode probes for the MMU differential test. uprobe_enter(tf) saves the kernel's
 * callee-saved state, enters U-mode with tf (which must be uprobe_tf) and comes back,
 * as its own return, with the scause of the trap that ended the probe: ecall for an
 * access that went through, a page fault otherwise.
 */
	.globl uprobe_enter, uprobe_code, uprobe_code_end
uprobe_enter:
	lla	t0, uprobe_ctx
	sd	ra, 0(t0)
	sd	sp, 8(t0)
	sd	s0, 16(t0)
	sd	s1, 24(t0)
	sd	s2, 32(t0)
	sd	s3, 40(t0)
	sd	s4, 48(t0)
	sd	s5, 56(t0)
	sd	s6, 64(t0)
	sd	s7, 72(t0)
	sd	s8, 80(t0)
	sd	s9, 88(t0)
	sd	s10, 96(t0)
	sd	s11, 104(t0)
	sd	sp, TF_KSP(a0)
	j	user_return
uprobe_trap_entry:
	/* a0 = uprobe_tf, registers saved; return scause from uprobe_enter. */
	ld	a0, TF_SCAUSE(a0)
	lla	t0, uprobe_ctx
	ld	ra, 0(t0)
	ld	sp, 8(t0)
	ld	s0, 16(t0)
	ld	s1, 24(t0)
	ld	s2, 32(t0)
	ld	s3, 40(t0)
	ld	s4, 48(t0)
	ld	s5, 56(t0)
	ld	s6, 64(t0)
	ld	s7, 72(t0)
	ld	s8, 80(t0)
	ld	s9, 88(t0)
	ld	s10, 96(t0)
	ld	s11, 104(t0)
	ret

/* The U-mode side, copied into a user page: load at +0, store at +8, fetch at +16. */
	.section .rodata
	.balign 4
	.option push
	.option norvc
uprobe_code:
	lbu	t0, 0(a0)
	ecall
	sb	a1, 0(a0)
	ecall
	jalr	ra, 0(a0)
	ecall
uprobe_code_end:
	.option pop

	.section __ex_table, "a"
	.balign 8
	.globl __ex_table_start, __ex_table_end
__ex_table_start:
	.dword	10b, probe_fault
	.dword	11b, probe_fault
	.dword	12b, probe_fault
	.dword	14b, probe_fault
__ex_table_end:

	.data
boot_hart_claimed:
	.word	0
	.bss
	.balign 16
	.globl uprobe_tf
uprobe_tf:
	.space	TF_SIZE
uprobe_ctx:
	.space	112
