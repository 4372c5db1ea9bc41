/*
 * kernel/cpu.h - per-hart state. Each hart's tp register points at its struct cpu while
 * it runs in S-mode: a trap from U-mode reloads tp from the trapframe (user code may
 * have changed it), and the return to U-mode stores it there again, so a process that
 * moves between harts always finds the right one.
 */
#ifndef KERNEL_CPU_H
#define KERNEL_CPU_H

#define NCPU 8                    /* harts this kernel will start at most */
#define CPU_KSP 0                 /* offsetof(struct cpu, kstack_top), for entry.S */

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>

struct proc;

struct cpu {
	uint64_t kstack_top;      /* first: the trap stack entry.S switches to */
	unsigned id;              /* index 0..ncpu-1: the "hart" of the core's ASID calls */
	uint64_t hartid;          /* the platform's hart id (SBI, satp, IPIs) */
	struct proc *current;     /* process whose address space is in satp, or NULL */
	bool started;             /* reached the scheduler */
	/* Shootdown mailbox: senders take tickets from flush_req, this hart acknowledges
	   with flush_ack after a full local sfence.vma (kernel/smp.c). */
	uint64_t flush_req, flush_ack;
	/* statistics, this hart's own */
	uint64_t switches, faults, idle_loops, shootdowns_sent, user_entries;
};

extern struct cpu cpus[NCPU];
extern unsigned ncpu;             /* harts found (SBI HSM), each with a struct cpu */
extern volatile unsigned sched_ncpu;   /* harts allowed to run processes now */

static inline struct cpu *mycpu(void)
{
	struct cpu *c;
	__asm__ volatile("mv %0, tp" : "=r"(c));
	return c;
}

/* smp.c */
void smp_init_boot_hart(uint64_t hartid);
/* Start every other hart found (each cpus[i].kstack_top already allocated), on the
   kernel table satp, in hart_main, which must call smp_hart_online once it can take
   traps and never returns. */
void smp_start_harts(uint64_t satp, void (*hart_main)(void));
void smp_hart_online(void);      /* this hart answers shootdowns from now on */
/* Remote TLB shootdowns (port.c calls these). */
void smp_note_asid(unsigned asid, bool flushed_all);
void smp_shootdown(unsigned mask);   /* those harts of mask but this one, waits */
void smp_shootdown_sleepy(unsigned mask);   /* the same, waiting in wfi (bench) */
void smp_service(void);          /* answer pending shootdowns to this hart */
void smp_flush_asid(unsigned asid, uint64_t va, uint64_t size);
void smp_flush_global(uint64_t va, uint64_t size);
extern uint64_t smp_remote_flushes;
extern uint64_t smp_last_sender_instret, smp_last_target_instret;

#endif
#endif
