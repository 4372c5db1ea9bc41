/*
 * kernel/lock.c - port_lock and port_unlock (include/svmm/port.h), the one lock of the
 * core and of the kernel: the kernel's own spinlock type (struct kspinlock, given to svmm
 * through kernel/svmm_config.h) that also disables interrupts on the holding hart (the
 * timer must not preempt a hart inside the core while it holds a lock) and knows its
 * holder, so a lock taken twice or released by another hart panics at once. In a file
 * of their own, below everything that takes a lock; port.c has the rest of the port.
 */
#include <svmm/port.h>

#include "cpu.h"
#include "kernel.h"
#include "riscv.h"

/* This hart's identity for the holding checks: the low 32 bits of its tp (the struct
   cpus are 8-byte aligned and lie within 4 GiB of each other) with bit 0 set, bit 1
   clear; valid from the first instruction on (no dereference, so it serves before the
   per-hart state is set up too). */
#define LOCK_SIE 2u             /* in holder: sstatus.SIE was set before the lock */

static uint32_t lock_me(void)
{
	uint64_t tp;
	__asm__ volatile("mv %0, tp" : "=r"(tp));
	return ((uint32_t)tp & ~3u) | 1u;
}

void port_lock(struct svmm_lock *lock)
{
	struct kspinlock *l = &lock->impl;
	uint64_t f = intr_save();
	uint32_t me = lock_me();
	if ((l->holder & ~LOCK_SIE) == me)
		panic("port_lock: lock %p already held by this hart", (void *)lock);
	while (atomic_swap32(&l->locked, 1) != 0) {
		/* The holder may be waiting for this hart to answer a shootdown. */
		smp_service();
		cpu_relax();
	}
	l->holder = me | ((f & SSTATUS_SIE) ? LOCK_SIE : 0);
}

void port_unlock(struct svmm_lock *lock)
{
	struct kspinlock *l = &lock->impl;
	uint32_t h = l->holder;
	if ((h & ~LOCK_SIE) != lock_me())
		panic("port_unlock: lock %p not held by this hart", (void *)lock);
	l->holder = 0;
	atomic_release32(&l->locked);
	intr_restore((h & LOCK_SIE) ? SSTATUS_SIE : 0);
}
