/* minikern/user/ulib.h - system calls and a few helpers for minikern's programs. */
#ifndef MINIKERN_ULIB_H
#define MINIKERN_ULIB_H

#include "sys.h"

typedef unsigned long size_t;

_Noreturn void exit(long status);
long write(const void *buf, unsigned long len);
long map(unsigned long size, unsigned prot);
long map_flags(unsigned long size, unsigned prot, unsigned flags);
long unmap(unsigned long addr, unsigned long size);
long spawn(long (*fn)(long), long arg);
long wait(long pid, long *status);
long getpid(void);

void puts(const char *s);
void putnum(long v);
/* Print "name: FAIL what" and count it, when ok is false. */
void expect(int ok, const char *what);
extern int failures;

#endif
