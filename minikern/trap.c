/*
 * minikern/trap.c - traps from U-mode (system calls and page faults) and the
 * kernel's own traps, which are all fatal.
 */
#include "proc.h"

extern char kernelvec[], _stacks_start[], _stacks_end[];

/* Entered from the trampoline on the process's kernel stack, kernel table in satp. */
void usertrap(void)
{
	csr_write(stvec, (uint64_t)kernelvec);
	struct proc *p = myproc();
	struct trapframe *tf = p->tf;
	tf->epc = csr_read(sepc);
	uint64_t cause = csr_read(scause), tval = csr_read(stval);
	unsigned access = 0;
	switch (cause) {
	case SCAUSE_ECALL_U:
		tf->epc += 4;
		tf->x[10] = (uint64_t)syscall(p);
		break;
	case SCAUSE_INST_PAGE:
		access = PT_X;
		break;
	case SCAUSE_LOAD_PAGE:
		access = PT_R;
		break;
	case SCAUSE_STORE_PAGE:
		access = PT_W;
		break;
	default:
		printf("pid %d: exception %lu at pc %p, killed\n", p->pid, cause,
		       (void *)tf->epc);
		proc_exit(p, -100 - (long)cause);
	}
	if (access) {
		int err = aspace_fault(&p->as, tval, access);
		if (err) {
			printf("pid %d: fault at %p (pc %p): %s, killed\n", p->pid,
			       (void *)tval, (void *)tf->epc, svmm_strerror(err));
			proc_exit(p, err);
		}
	}
	usertrapret();
}

/* A trap in S-mode: this kernel never expects one. */
void kerneltrap(void)
{
	uint64_t tval = csr_read(stval);
	if (tval >= (uint64_t)_stacks_start && tval < (uint64_t)_stacks_end)
		panic("kernel stack overflow: fault at %p, pc %p", (void *)tval,
		      (void *)csr_read(sepc));
	panic("kernel trap: scause %lu sepc %p stval %p", csr_read(scause),
	      (void *)csr_read(sepc), (void *)tval);
}
