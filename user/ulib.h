/*
 * user/ulib.h - the user programs' tiny library: system-call stubs and printf.
 */
#ifndef USER_ULIB_H
#define USER_ULIB_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "sys.h"

long syscall4(long n, long a0, long a1, long a2, long a3);

_Noreturn void exit(long code);
long write(const void *buf, size_t len);
long mmap(uintptr_t hint, size_t size, int prot, int flags, uintptr_t *addr);
long munmap(uintptr_t addr, size_t size);
long mprotect(uintptr_t addr, size_t size, int prot);
long yield(uint64_t tag);
long getpid(void);
long report(long kind, uint64_t value);
long info(struct sys_info *out);
long thread(void (*entry)(long), uintptr_t stack_top, long arg);
long fork(void);
long wait(long pid, long *status);
long mapfile(long file, uintptr_t off, size_t size, int prot, int flags, uintptr_t *addr);

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
size_t strlen(const char *s);

static inline uint64_t rdinstret(void)
{
	uint64_t v;
	__asm__ volatile("rdinstret %0" : "=r"(v));
	return v;
}

/* Test helpers: print PASS/FAIL lines and count failures in ufailed. */
extern int ufailed;
#define UCHECK(c) do { if (!(c)) { ufailed++; \
	printf("user FAIL: %s (%s:%d)\n", #c, __FILE__, __LINE__); } } while (0)

/* Every program defines main; its return value is the exit code. */
long main(long arg);

#endif
