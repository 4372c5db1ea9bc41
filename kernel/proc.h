/*
 * kernel/proc.h - processes: one address space, one trapframe, run in U-mode,
 * scheduled round-robin by the timer and by yield.
 *
 * The kernel never blocks inside a system call or a fault, so a process needs no
 * kernel stack of its own: its state while it does not run is its trapframe, and every
 * trap from U-mode runs on the one kernel trap stack (allocated in the kernel arena
 * with a guard page). A switch is: save into one frame, satp, restore another.
 */
#ifndef KERNEL_PROC_H
#define KERNEL_PROC_H

#include <svmm/aspace.h>

#include "kernel.h"

#define NPROC 48

/*
 * FREE -> EMBRYO (being loaded or forked) -> RUNNABLE <-> RUNNING (on exactly one hart)
 * -> ZOMBIE -> FREE (reaped); RUNNING -> SLEEPING -> RUNNABLE for a wait() that found
 * no child to reap yet (woken by any release, below). state changes under proc_lock; a
 * RUNNING process's other fields belong to the hart running it.
 *
 * A slot is *released* once the hart that ran it last has left it (in the scheduler,
 * after the exit): only then may anyone free it. A thread has no one waiting for it, so
 * its slot is freed at its release, after counting its end in the owner
 * (threads_exited, threads_killed). A process the kernel started (proc_spawn) stays a
 * zombie until its starter reaps it (proc_reap). A forked process stays a zombie until
 * its parent reaps it with wait(); when the parent is released first, its children
 * become orphans (parent NULL) and an orphan's slot is freed at its release (or at once,
 * if it is a released zombie already), as if init had reaped it.
 */
enum proc_state { PROC_FREE = 0, PROC_EMBRYO, PROC_RUNNABLE, PROC_RUNNING, PROC_ZOMBIE,
		  PROC_SLEEPING };

struct proc {
	struct trapframe tf;        /* first: entry.S finds it through sscratch */
	enum proc_state state;
	int pid;
	const char *name;
	long arg;
	long exit_code;
	bool killed;
	uint64_t kill_cause;        /* scause of the kill */
	uint64_t kill_addr;
	int kill_err;               /* aspace_fault's answer for a fault kill, else 0 */
	char kill_line[160];        /* the kill's message, as printed (without the pid) */
	/*
	 * The address space: as_own for a process, its owner's for a thread (SYS_THREAD).
	 * as_users (in the owner) counts the processes and threads using it; the last to
	 * exit destroys it. An owner's slot is not reaped while as_users is not zero.
	 */
	struct aspace *as;
	struct proc *owner;
	uint32_t as_users;
	bool is_thread;
	bool doomed;                /* in the owner: a thread was killed, the rest follow */
	uint32_t threads_exited;    /* in the owner: its threads that ended with exit */
	uint32_t threads_killed;    /* in the owner: its threads that were killed */
	/*
	 * fork and wait, under proc_lock: the process (an owner) that forked this one and
	 * may reap it (NULL: none, or an orphan), whether it was forked, whether its hart
	 * has let go of the slot (see above), and a wait() that asks the scheduler to put it
	 * to sleep until a child can be reaped.
	 */
	struct proc *parent;
	bool forked;
	bool released;
	bool want_sleep;
	long wait_pid;              /* the pid argument of the wait() asleep */
	struct aspace as_own;
};

/* Probe ASID bits, set up the ASID allocator and the trap stack. Once, at boot. */
void proc_init(void);

/* A program to start: the embedded ELF named name, with arg in a0. */
struct proc *proc_spawn(const char *name, long arg);
/* Run every runnable process until all have exited; then call done(). */
_Noreturn void proc_run_all(void (*done)(void));
/* This hart has nothing to run: pick up runnable processes (or run the done hook once
   nothing is left anywhere); never returns. */
_Noreturn void proc_idle(void);
/* Free a zombie's slot (after the caller has looked at its exit status). */
void proc_reap(struct proc *p);

extern struct proc procs[NPROC];

struct proc_counters {
	uint64_t switches, syscalls, ticks, faults, kills;
};
extern struct proc_counters proc_counters;
extern struct pmem kpmem;

/* uaccess.c: copy between the kernel and the current process's user memory. */
int copy_from_user(struct aspace *as, void *dst, svmm_va_t src, uint64_t n);
int copy_to_user(struct aspace *as, svmm_va_t dst, const void *src, uint64_t n);

/*
 * What a layer above may watch (bench.c sets these for svmm.bench=): the report system
 * call's samples, and the tag of every yield. NULL: report is accepted and ignored.
 * Hooks rather than calls, so that proc.c does not depend on the benchmarks.
 */
struct proc_hooks {
	void (*report)(struct proc *p, long kind, uint64_t value);
	void (*yield_tag)(struct proc *p, uint64_t tag);
};
extern struct proc_hooks proc_hooks;
extern uint64_t sched_quantum;  /* timer ticks per time slice; 0 = no preemption */
/* Run aspace_check on parent and child after every fork (the tests; not the benchmarks). */
extern bool proc_fork_check;

#endif
