/* minikern/user/ulib.c - system calls and a few helpers for minikern's programs. */
#include "ulib.h"

int failures;

static long sys(long n, long a0, long a1, long a2)
{
	register long r0 __asm__("a0") = a0;
	register long r1 __asm__("a1") = a1;
	register long r2 __asm__("a2") = a2;
	register long r7 __asm__("a7") = n;
	__asm__ volatile("ecall" : "+r"(r0) : "r"(r1), "r"(r2), "r"(r7) : "memory");
	return r0;
}

_Noreturn void exit(long status)
{
	sys(SYS_EXIT, status, 0, 0);
	for (;;)
		;
}

long write(const void *buf, unsigned long len)
{
	return sys(SYS_WRITE, (long)buf, (long)len, 0);
}

long map(unsigned long size, unsigned prot)
{
	return sys(SYS_MAP, (long)size, prot, 0);
}

long map_flags(unsigned long size, unsigned prot, unsigned flags)
{
	return sys(SYS_MAP, (long)size, prot, flags);
}

long unmap(unsigned long addr, unsigned long size)
{
	return sys(SYS_UNMAP, (long)addr, (long)size, 0);
}

void spawn_start(void);

long spawn(long (*fn)(long), long arg)
{
	return sys(SYS_SPAWN, (long)spawn_start, (long)fn, arg);
}

long wait(long pid, long *status)
{
	return sys(SYS_WAIT, pid, (long)status, 0);
}

long getpid(void)
{
	return sys(SYS_GETPID, 0, 0, 0);
}

void puts(const char *s)
{
	unsigned long n = 0;
	while (s[n])
		n++;
	write(s, n);
}

void putnum(long v)
{
	char buf[24];
	int i = sizeof(buf);
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
	do
		buf[--i] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		buf[--i] = '-';
	write(buf + i, sizeof(buf) - i);
}

void expect(int ok, const char *what)
{
	if (ok)
		return;
	puts("user FAIL: ");
	puts(what);
	puts("\n");
	failures++;
}
