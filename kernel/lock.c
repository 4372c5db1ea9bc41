/*
 * kernel/lock.c - port_lock and port_unlock (include/svmm/port.h), the one lock of the
 * core and of the kernel: a spinlock that also disables interrupts on the holding hart
 * (the timer must not preempt a hart inside the core while it holds a lock). In a file
 * of their own, below everything that takes a lock; port.c has the rest of the port.
 */
#include <svmm/port.h>

#include "cpu.h"
#include "riscv.h"

void port_lock(struct svmm_lock *lock)
{
	uint64_t f = intr_save();
	while (atomic_swap32(&lock->word, 1) != 0) {
		/* The holder may be waiting for this hart to answer a shootdown. */
		smp_service();
		cpu_relax();
	}
	lock->irqflags = (uint32_t)f;
}

void port_unlock(struct svmm_lock *lock)
{
	uint64_t f = lock->irqflags;
	atomic_release32(&lock->word);
	intr_restore(f);
}
