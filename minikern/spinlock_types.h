/*
 * minikern/spinlock_types.h - the spinlock's type alone, for headers that embed locks
 * without taking them (svmm_config.h).
 */
#ifndef MINIKERN_SPINLOCK_TYPES_H
#define MINIKERN_SPINLOCK_TYPES_H

#include <stdint.h>

struct spinlock {
	volatile uint32_t locked;
	int32_t hart;          /* holder's hart + 1, 0 when free */
	const char *name;      /* for panics; NULL in svmm's zero-filled locks */
};

#define SPINLOCK_INIT(n) { 0, 0, (n) }

#endif /* MINIKERN_SPINLOCK_TYPES_H */
