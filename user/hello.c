/* user/hello.c - the smallest demo: print, map, touch, unmap, exit. */
#include "ulib.h"

long main(long arg)
{
	(void)arg;
	printf("hello from user mode, pid %ld\n", getpid());
	uintptr_t a;
	if (mmap(0, 8192, PROT_READ | PROT_WRITE, 0, &a) != 0)
		return 1;
	char *p = (char *)a;
	p[0] = 'h';
	p[4096] = 'i';
	printf("hello: mapped 8 KiB at %p and touched both pages\n", (void *)a);
	return munmap(a, 8192) == 0 ? 0 : 1;
}
