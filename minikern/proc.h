/*
 * minikern/proc.h - a process: one address space (svmm's aspace), one 4 KiB kernel
 * stack, one trap frame.
 */
#ifndef MINIKERN_PROC_H
#define MINIKERN_PROC_H

#include "defs.h"
#include "trapframe.h"

enum procstate { UNUSED, EMBRYO, RUNNABLE, RUNNING, SLEEPING, ZOMBIE };

struct context {
	uint64_t ra, sp, s[12];
};

/* An image segment: what spawn copies into a child. */
struct segment {
	svmm_va_t va;
	uint64_t size;
	unsigned prot;
};

#define NSEG 4

struct proc {
	enum procstate state;
	int pid;
	struct proc *parent;
	int waitpid;              /* SLEEPING: the child waited for */
	bool toplevel;            /* started by the kernel: the kernel reaps it */
	bool has_as;
	long xstate;
	struct aspace as;         /* must not move after aspace_create */
	struct context ctx;
	struct trapframe *tf;
	char *kstack;
	struct segment seg[NSEG];
	int nseg;
	char name[16];
};

struct proc *myproc(void);
_Noreturn void proc_exit(struct proc *p, long status);

#endif /* MINIKERN_PROC_H */
