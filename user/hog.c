/*
 * user/hog.c - touches fresh pages of a region far larger than RAM until the kernel
 * runs out of frames. The kernel must kill it (out of memory), free everything it
 * had, and go on; run alone, after the other programs.
 */
#include "ulib.h"

#define PAGE 4096ul

long main(long arg)
{
	(void)arg;
	uintptr_t a;
	unsigned long size = 64ul << 30;   /* 64 GiB of address space */
	if (mmap(0, size, PROT_READ | PROT_WRITE, 0, &a) != 0)
		return 1;
	for (unsigned long off = 0; off < size; off += PAGE)
		*(volatile unsigned long *)(a + off) = off;
	return 2;   /* never reached: RAM is smaller than the region */
}
