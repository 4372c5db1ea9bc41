/*
 * minikern/spinlock.c - test-and-set spinlocks that know their holder.
 */
#include "defs.h"

/* Nesting depth of push_off on this hart, and whether interrupts were on before. */
static struct {
	int noff;
	int intena;
} harts[NHART];

static inline int hartid(void)
{
	uint64_t tp;
	__asm__ volatile("mv %0, tp" : "=r"(tp));
	return (int)tp;
}

void initlock(struct spinlock *lk, const char *name)
{
	lk->locked = 0;
	lk->hart = 0;
	lk->name = name;
}

void push_off(void)
{
	int old = intr_get();
	intr_off();
	if (harts[hartid()].noff++ == 0)
		harts[hartid()].intena = old;
}

void pop_off(void)
{
	if (intr_get())
		panic("pop_off: interrupts on");
	if (harts[hartid()].noff < 1)
		panic("pop_off: not pushed");
	if (--harts[hartid()].noff == 0 && harts[hartid()].intena)
		intr_on();
}

int spinlocks_held(void)
{
	return harts[hartid()].noff;
}

int holding(struct spinlock *lk)
{
	return lk->locked && lk->hart == hartid() + 1;
}

void acquire(struct spinlock *lk)
{
	push_off();
	if (holding(lk))
		panic("acquire %s %p: already held by this hart", lk->name ? lk->name : "svmm",
		      (void *)lk);
	while (__atomic_exchange_n(&lk->locked, 1u, __ATOMIC_ACQUIRE) != 0)
		;
	lk->hart = hartid() + 1;
}

void release(struct spinlock *lk)
{
	if (!holding(lk))
		panic("release %s %p: not held by this hart", lk->name ? lk->name : "svmm",
		      (void *)lk);
	lk->hart = 0;
	__atomic_store_n(&lk->locked, 0u, __ATOMIC_RELEASE);
	pop_off();
}
