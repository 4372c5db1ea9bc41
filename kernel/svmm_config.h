/*
 * kernel/svmm_config.h - the demo kernel's port configuration (SVMM_PORT_CONFIG, see
 * include/svmm/port.h), given to every file that includes svmm's headers
 * (kernel/kernel.mk).
 *
 * The kernel's spinlock is its own type: besides the lock word it keeps the interrupt
 * state to restore and the hart that holds it, so that lock.c can catch a lock taken
 * twice on one hart or released by a hart that does not hold it. All zero is unlocked.
 */
#ifndef KERNEL_SVMM_CONFIG_H
#define KERNEL_SVMM_CONFIG_H

#include <stdint.h>

struct kspinlock {
	volatile uint32_t locked;
	/* The holder, 0 when free: the low 32 bits of the holding hart's tp (its struct
	   cpu, 8-byte aligned) with bit 0 set, and in bit 1 the interrupt state
	   (sstatus.SIE) to restore at release. Eight bytes in all, as the library's own
	   lock: a memory object's header and index share one 4 KiB page with no room to
	   spare (a 16-byte lock broke the core's static assertion in vmobj.c). */
	uint32_t holder;
};

#define SVMM_PORT_LOCK_TYPE struct kspinlock
#define SVMM_PORT_LOCK_INIT { 0, 0 }

#endif /* KERNEL_SVMM_CONFIG_H */
