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
_Static_assert(LOCK_SIE == SSTATUS_SIE, "the holder keeps sstatus.SIE in its own bit");

static uint32_t lock_me(void)
{
	uint64_t tp;
	__asm__ volatile("mv %0, tp" : "=r"(tp));
	return ((uint32_t)tp & ~3u) | 1u;
}

/* Off the fast path, so that port_lock itself saves no register and makes no call. */
static __attribute__((noinline, cold, noreturn)) void lock_twice(struct svmm_lock *lock)
{
	panic("port_lock: lock %p already held by this hart", (void *)lock);
}

/* The lock is taken: spin until it is free, then take it as port_lock does. */
static __attribute__((noinline, cold)) void lock_spin(struct kspinlock *l, uint32_t holder)
{
	do {
		/* The holder may be waiting for this hart to answer a shootdown. */
		smp_service();
		cpu_relax();
	} while (atomic_swap32(&l->locked, 1) != 0);
	l->holder = holder;
}

void port_lock(struct svmm_lock *lock)
{
	struct kspinlock *l = &lock->impl;
	uint32_t f = (uint32_t)intr_save();    /* SSTATUS_SIE, which is LOCK_SIE, or 0 */
	uint32_t me = lock_me();
	if (__builtin_expect((l->holder & ~LOCK_SIE) == me, 0))
		lock_twice(lock);
	if (__builtin_expect(atomic_swap32(&l->locked, 1) != 0, 0)) {
		lock_spin(l, me | f);
		return;
	}
	l->holder = me | f;
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
