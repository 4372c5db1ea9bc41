/*
 * minikern/spinlock_types.h - the spinlock's type alone, for headers that embed locks
 * without taking them (svmm_config.h).
 */
#ifndef MINIKERN_SPINLOCK_TYPES_H
#define MINIKERN_SPINLOCK_TYPES_H

#include <stdint.h>

/*
 * WORKAROUND (svmm defect): 8 bytes, no name. include/svmm/vmobj.h sizes struct
 * vmobj's root[] (VMOBJ_ROOT_SLOTS) for svmm's own 8-byte lock, so any larger lock type
 * fails core/vmobj.c's _Static_assert that the object fits its page; the lock's name
 * (for panics) had to go.
 */
struct spinlock {
	volatile uint32_t locked;
	int32_t hart;          /* holder's hart + 1, 0 when free */
};

#define SPINLOCK_INIT { 0, 0 }

#endif /* MINIKERN_SPINLOCK_TYPES_H */
