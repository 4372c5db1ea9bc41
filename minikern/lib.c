/*
 * minikern/lib.c - the four memory functions (svmm's core and gcc may call them), a
 * console through SBI, printf over svmm's formatter, panic and power-off.
 */
#include "defs.h"

/*
 * gcc may turn these loops into calls to the functions being defined; the build
 * passes -fno-tree-loop-distribute-patterns so it does not.
 */
void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	while (n-- > 0)
		*d++ = (unsigned char)c;
	return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	while (n-- > 0)
		*d++ = *s++;
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (d < s || d >= s + n)
		return memcpy(dst, src, n);
	while (n-- > 0)
		d[n] = s[n];
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (; n > 0; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

struct sbiret {
	long error, value;
};

static struct sbiret sbi_call(long ext, long fid, long a0, long a1)
{
	register long r0 __asm__("a0") = a0;
	register long r1 __asm__("a1") = a1;
	register long r6 __asm__("a6") = fid;
	register long r7 __asm__("a7") = ext;
	__asm__ volatile("ecall" : "+r"(r0), "+r"(r1) : "r"(r6), "r"(r7) : "memory");
	return (struct sbiret){ r0, r1 };
}

#define SBI_LEGACY_PUTCHAR 0x01
#define SBI_EXT_SRST 0x53525354

static struct spinlock conslock = SPINLOCK_INIT("cons");

void consputs(const char *s, size_t n)
{
	acquire(&conslock);
	for (size_t i = 0; i < n; i++)
		sbi_call(SBI_LEGACY_PUTCHAR, 0, (unsigned char)s[i], 0);
	release(&conslock);
}

static void vprint(const char *fmt, va_list ap)
{
	char buf[200];
	int n = svmm_vsnprintf(buf, sizeof(buf), fmt, ap);
	consputs(buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

void printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
}

/* An svmm_print_fn: one line per call. */
void print_line(void *ctx, const char *line)
{
	printf("%s%s\n", ctx ? (const char *)ctx : "", line);
}

_Noreturn void panic(const char *fmt, ...)
{
	va_list ap;
	intr_off();
	consputs("panic: ", 7);
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	consputs("\n", 1);
	poweroff(1);
}

/*
 * Power off. Success goes through SBI's system-reset extension. OpenSBI 1.1 reports
 * every SRST shutdown as a pass to QEMU, so a failure writes QEMU's test device
 * (identity-mapped) with the failure code: QEMU then exits with that status.
 */
_Noreturn void poweroff(int failed)
{
	if (failed)
		*(volatile uint32_t *)VIRT_TEST = 0x3333u | ((uint32_t)failed << 16);
	sbi_call(SBI_EXT_SRST, 0, 0, failed ? 1 : 0);
	for (;;)
		__asm__ volatile("wfi");
}
