/*
 * kernel/svmm_config.h - the demo kernel's port configuration (SVMM_PORT_CONFIG, see
 * include/svmm/port.h), given to every file that includes svmm's headers
 * (kernel/kernel.mk).
 *
 * The kernel's spinlock is its own type: besides the lock word it keeps the interrupt
 * state to restore and the hart that holds it, so that port.c can catch a lock taken
 * twice on one hart or released by a hart that does not hold it. All zero is unlocked.
 */
#ifndef KERNEL_SVMM_CONFIG_H
#define KERNEL_SVMM_CONFIG_H

#include <stdint.h>

struct kspinlock {
	volatile uint32_t locked;
	uint32_t irqflags;     /* interrupt state of the holder, restored at release */
	uint64_t holder;       /* the holding hart's tp (its struct cpu), 0 when free */
};

#define SVMM_PORT_LOCK_TYPE struct kspinlock
#define SVMM_PORT_LOCK_INIT { 0, 0, 0 }

#endif /* KERNEL_SVMM_CONFIG_H */
