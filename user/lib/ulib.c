/*
 * user/lib/ulib.c - system-call stubs, printf over write(), and memory helpers.
 */
#include "ulib.h"

int ufailed;

long syscall4(long n, long a0, long a1, long a2, long a3)
{
	register long r0 __asm__("a0") = a0;
	register long r1 __asm__("a1") = a1;
	register long r2 __asm__("a2") = a2;
	register long r3 __asm__("a3") = a3;
	register long r7 __asm__("a7") = n;
	__asm__ volatile("ecall" : "+r"(r0) : "r"(r1), "r"(r2), "r"(r3), "r"(r7) : "memory");
	return r0;
}

_Noreturn void exit(long code)
{
	syscall4(SYS_EXIT, code, 0, 0, 0);
	for (;;)
		;
}

long write(const void *buf, size_t len)
{
	return syscall4(SYS_WRITE, (long)buf, (long)len, 0, 0);
}

long mmap(uintptr_t hint, size_t size, int prot, int flags, uintptr_t *addr)
{
	long r = syscall4(SYS_MMAP, (long)hint, (long)size, prot, flags);
	if (r >= 0 && addr)
		*addr = (uintptr_t)r;
	return r < 0 ? r : 0;
}

long munmap(uintptr_t addr, size_t size)
{
	return syscall4(SYS_MUNMAP, (long)addr, (long)size, 0, 0);
}

long mprotect(uintptr_t addr, size_t size, int prot)
{
	return syscall4(SYS_MPROTECT, (long)addr, (long)size, prot, 0);
}

long yield(uint64_t tag)
{
	return syscall4(SYS_YIELD, (long)tag, 0, 0, 0);
}

long thread(void (*entry)(long), uintptr_t stack_top, long arg)
{
	return syscall4(SYS_THREAD, (long)(uintptr_t)entry, (long)stack_top, arg, 0);
}

long getpid(void)
{
	return syscall4(SYS_GETPID, 0, 0, 0, 0);
}

long report(long kind, uint64_t value)
{
	return syscall4(SYS_REPORT, kind, (long)value, 0, 0);
}

long info(struct sys_info *out)
{
	return syscall4(SYS_INFO, (long)out, 0, 0, 0);
}

void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;
	while (n--)
		*dp++ = *sp++;
	return d;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* The core's formatter is freestanding, so user programs link it too. */
int svmm_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);

int printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	int n = svmm_vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n;
	if (len >= sizeof buf)
		len = sizeof buf - 1;
	write(buf, len);
	return n;
}

long fork(void)
{
	return syscall4(SYS_FORK, 0, 0, 0, 0);
}

long wait(long pid, long *status)
{
	return syscall4(SYS_WAIT, pid, (long)status, 0, 0);
}

long mapfile(long file, uintptr_t off, size_t size, int prot, int flags, uintptr_t *addr)
{
	register long r0 __asm__("a0") = file;
	register long r1 __asm__("a1") = (long)off;
	register long r2 __asm__("a2") = (long)size;
	register long r3 __asm__("a3") = prot;
	register long r4 __asm__("a4") = flags;
	register long r7 __asm__("a7") = SYS_MAPFILE;
	__asm__ volatile("ecall" : "+r"(r0) : "r"(r1), "r"(r2), "r"(r3), "r"(r4), "r"(r7)
			 : "memory");
	if (r0 >= 0 && addr)
		*addr = (uintptr_t)r0;
	return r0 < 0 ? r0 : 0;
}
