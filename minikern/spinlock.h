/*
 * minikern/spinlock.h - the kernel's own mutual-exclusion lock, with a record of its
 * holder so that "am I holding it?" can be asserted (acquire of a lock this hart
 * already holds is a deadlock and panics at once, release of one it does not hold
 * too). Interrupts stay off on a hart while it holds any spinlock; push_off/pop_off
 * count the nesting.
 */
#ifndef MINIKERN_SPINLOCK_H
#define MINIKERN_SPINLOCK_H

#include <stdint.h>

struct spinlock {
	volatile uint32_t locked;
	int hart;              /* holder's hart + 1, 0 when free */
	const char *name;      /* for panics */
};

#define SPINLOCK_INIT(n) { 0, 0, (n) }

void initlock(struct spinlock *lk, const char *name);
void acquire(struct spinlock *lk);
void release(struct spinlock *lk);
int holding(struct spinlock *lk);
void push_off(void);
void pop_off(void);

#endif /* MINIKERN_SPINLOCK_H */
