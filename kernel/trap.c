/*
 * kernel/trap.c - what happens after entry.S has saved the registers.
 *
 * Traps from S-mode are either expected faults of a probe or of a user copy (found in
 * the exception table, and sent to their fixup), or bugs (panic with the cause, the
 * address and the pc). Traps from U-mode go to the process layer (proc.c): system
 * calls, page faults, and the timer that preempts.
 */
#include "kernel.h"
#include "riscv.h"

struct ex_entry { uint64_t insn, fixup; };
extern const struct ex_entry __ex_table_start[], __ex_table_end[];

volatile uint64_t probe_exec_active;
volatile uint64_t last_fault_cause, last_fault_addr;
uint64_t timebase_hz = 10000000;
void (*trap_ipi_hook)(void);

static const char *const exc_names[] = {
	[EXC_INST_MISALIGNED] = "instruction address misaligned",
	[EXC_INST_ACCESS] = "instruction access fault",
	[EXC_ILLEGAL] = "illegal instruction",
	[EXC_BREAKPOINT] = "breakpoint",
	[EXC_LOAD_MISALIGNED] = "load address misaligned",
	[EXC_LOAD_ACCESS] = "load access fault",
	[EXC_STORE_MISALIGNED] = "store address misaligned",
	[EXC_STORE_ACCESS] = "store access fault",
	[EXC_ECALL_U] = "ecall from U-mode",
	[EXC_ECALL_S] = "ecall from S-mode",
	[EXC_INST_PAGE_FAULT] = "instruction page fault",
	[EXC_LOAD_PAGE_FAULT] = "load page fault",
	[EXC_STORE_PAGE_FAULT] = "store page fault",
};

const char *trap_cause_name(uint64_t scause)
{
	if (scause & SCAUSE_INTR) {
		switch (scause & ~SCAUSE_INTR) {
		case IRQ_S_SOFT: return "supervisor software interrupt";
		case IRQ_S_TIMER: return "supervisor timer interrupt";
		case IRQ_S_EXT: return "supervisor external interrupt";
		default: return "unknown interrupt";
		}
	}
	if (scause < ARRAY_SIZE(exc_names) && exc_names[scause])
		return exc_names[scause];
	return "unknown exception";
}

/*
 * What a trap was, as the start of a message: the cause and what stval means for it,
 * then the pc. Page, access and misaligned faults: stval is the address; an illegal
 * instruction: its bits (insn, which the caller reads at the pc when stval is 0); a
 * breakpoint: stval is the pc or 0, so it is left out; anything else: stval in hex.
 */
int trap_describe(char *buf, size_t n, uint64_t scause, uint64_t stval, uint32_t insn,
		  uint64_t sepc)
{
	const char *name = trap_cause_name(scause);
	void *pc = (void *)sepc;
	if (scause & SCAUSE_INTR)
		return svmm_snprintf(buf, n, "%s at pc %p", name, pc);
	switch (scause) {
	case EXC_INST_MISALIGNED: case EXC_INST_ACCESS: case EXC_LOAD_MISALIGNED:
	case EXC_LOAD_ACCESS: case EXC_STORE_MISALIGNED: case EXC_STORE_ACCESS:
	case EXC_INST_PAGE_FAULT: case EXC_LOAD_PAGE_FAULT: case EXC_STORE_PAGE_FAULT:
		return svmm_snprintf(buf, n, "%s at address %p, pc %p", name, (void *)stval, pc);
	case EXC_ILLEGAL:
		if (insn == 0)
			return svmm_snprintf(buf, n, "%s (bits unknown) at pc %p", name, pc);
		return svmm_snprintf(buf, n, (insn & 3) == 3 ? "%s 0x%08x at pc %p" :
			"%s 0x%04x at pc %p", name, insn, pc);
	case EXC_BREAKPOINT:
		return svmm_snprintf(buf, n, "breakpoint (ebreak) at pc %p", pc);
	default:
		return svmm_snprintf(buf, n, "%s (scause %lu, stval %p) at pc %p", name,
				     (unsigned long)scause, (void *)stval, pc);
	}
}

void trap_init(void)
{
	w_stvec((uint64_t)(uintptr_t)trap_vector);
	w_sscratch(0);
	/* Let U-mode read instret, cycle and time (the benchmarks read instret). */
	CSR_WRITE(scounteren, 0x7);
	/* The floating-point and vector units stay off (firmware may leave them on): the
	   kernel saves no FP or vector registers, so a process that could use them would
	   see and change another's. With FS and VS off, every such instruction traps as
	   illegal, in S-mode and U-mode alike, and proc.c kills the process
	   (docs/kernel.md, "Floating point and vectors"). */
	CSR_CLEAR(sstatus, SSTATUS_FS | SSTATUS_VS);
}

static bool is_page_fault(uint64_t c)
{
	return c == EXC_INST_PAGE_FAULT || c == EXC_LOAD_PAGE_FAULT ||
	       c == EXC_STORE_PAGE_FAULT || c == EXC_LOAD_ACCESS ||
	       c == EXC_STORE_ACCESS || c == EXC_INST_ACCESS;
}

void kernel_trap(struct trapframe *tf)
{
	uint64_t c = tf->scause;
	if (c & SCAUSE_INTR) {
		if ((c & ~SCAUSE_INTR) == IRQ_S_TIMER) {
			/* A tick while in S-mode: push the next one away; U-mode ticks preempt. */
			sbi_set_timer(~0ull);
			return;
		}
		if ((c & ~SCAUSE_INTR) == IRQ_S_SOFT) {
			sip_clear(SIP_SSIP);
			if (trap_ipi_hook)
				trap_ipi_hook();
			return;
		}
		panic("unexpected interrupt %s in S-mode, sepc %p",
		      trap_cause_name(c), (void *)tf->sepc);
	}
	if (is_page_fault(c)) {
		/* probe_exec: the fetch itself faulted, sepc is the probed address. */
		if (probe_exec_active && c == EXC_INST_PAGE_FAULT && tf->sepc == probe_exec_active) {
			last_fault_cause = c;
			last_fault_addr = tf->stval;
			tf->sepc = (uint64_t)(uintptr_t)probe_exec_fault;
			return;
		}
		for (const struct ex_entry *e = __ex_table_start; e < __ex_table_end; e++) {
			if (e->insn == tf->sepc) {
				last_fault_cause = c;
				last_fault_addr = tf->stval;
				tf->sepc = e->fixup;
				return;
			}
		}
	}
	char what[128];
	trap_describe(what, sizeof what, c, tf->stval,
		      c == EXC_ILLEGAL ? (uint32_t)tf->stval : 0, tf->sepc);
	panic("S-mode trap: %s, ra %p", what, (void *)TF_RA(tf));
}
