/*
 * user/isolation.c - run twice at once (arg 1 and 2): both map the same fixed address
 * and fill it with their own pattern, then yield to each other many times and check
 * that what they read is still their own.
 */
#include "ulib.h"

#define ISO_ADDR 0x40000000ul
#define ISO_SIZE (4 * 4096ul)

long main(long arg)
{
	uintptr_t a = 0;
	long r = mmap(ISO_ADDR, ISO_SIZE, PROT_READ | PROT_WRITE, MAP_FIXED, &a);
	UCHECK(r == 0 && a == ISO_ADDR);
	if (r != 0)
		return 1;
	uint64_t *w = (uint64_t *)a;
	for (size_t i = 0; i < ISO_SIZE / 8; i++)
		w[i] = ((uint64_t)arg << 56) | i;
	for (int round = 0; round < 20; round++) {
		yield(0);
		for (size_t i = 0; i < ISO_SIZE / 8; i += 61)
			if (w[i] != (((uint64_t)arg << 56) | i)) {
				UCHECK(w[i] == (((uint64_t)arg << 56) | i));
				return 1;
			}
	}
	/* Spin a while so that the timer, not only yield, switches between the two. */
	volatile uint64_t spin = 0;
	for (uint64_t i = 0; i < 3000000; i++)
		spin += w[i % (ISO_SIZE / 8)];
	for (size_t i = 0; i < ISO_SIZE / 8; i++)
		UCHECK(w[i] == (((uint64_t)arg << 56) | i));
	printf("isolation %ld: %p held this process's data through 20 yields and preemption\n",
	       arg, (void *)a);
	return ufailed;
}
