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

/* This hart's identity for the holding checks: its tp, valid from the first instruction
   on (no dereference, so it serves before the per-hart state is set up too). */
static uint64_t lock_me(void)
{
	uint64_t tp;
	__asm__ volatile("mv %0, tp" : "=r"(tp));
	return tp | 1u;
}

void port_lock(struct svmm_lock *lock)
{
	struct kspinlock *l = &lock->impl;
	uint64_t f = intr_save();
	if (l->holder == lock_me())
		panic("port_lock: lock %p already held by this hart", (void *)lock);
	while (atomic_swap32(&l->locked, 1) != 0) {
		/* The holder may be waiting for this hart to answer a shootdown. */
		smp_service();
		cpu_relax();
	}
	l->irqflags = (uint32_t)f;
	l->holder = lock_me();
}

void port_unlock(struct svmm_lock *lock)
{
	struct kspinlock *l = &lock->impl;
	if (l->holder != lock_me())
		panic("port_unlock: lock %p not held by this hart", (void *)lock);
	uint64_t f = l->irqflags;
	l->holder = 0;
	atomic_release32(&l->locked);
	intr_restore(f);
}
