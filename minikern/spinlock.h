/*
 * minikern/spinlock.h - the kernel's own mutual-exclusion lock, with a record of its
 * holder so that "am I holding it?" can be asserted (acquire of a lock this hart
 * already holds is a deadlock and panics at once, release of one it does not hold
 * too). svmm's locks are spinlocks too (svmm_config.h); a zeroed one is unlocked.
 * Interrupts stay off on a hart while it holds any spinlock; push_off and pop_off
 * count the nesting, and spinlocks_held tells how deep it is.
 */
#ifndef MINIKERN_SPINLOCK_H
#define MINIKERN_SPINLOCK_H

#include "spinlock_types.h"

void initlock(struct spinlock *lk, const char *name);
void acquire(struct spinlock *lk);
void release(struct spinlock *lk);
int holding(struct spinlock *lk);
void push_off(void);
void pop_off(void);
int spinlocks_held(void);

#endif /* MINIKERN_SPINLOCK_H */
