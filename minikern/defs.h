/*
 * minikern/defs.h - what every file of the kernel sees: its own machine definitions
 * and lock type first, then svmm's public headers, then its own functions.
 */
#ifndef MINIKERN_DEFS_H
#define MINIKERN_DEFS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The kernel's own names first, svmm's headers after them: svmm prefixes every public
 * name (SVMM_PTE_V, ...), so nothing here is redefined, and -Werror proves it.
 */
#include "riscv.h"
#include "spinlock.h"

#include <svmm/aspace.h>
#include <svmm/pmem.h>
#include <svmm/pt.h>

#include "param.h"

/* lib.c */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
void consputs(const char *s, size_t n);
void printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
_Noreturn void poweroff(int failed);
void print_line(void *ctx, const char *line);

/* vm.c */
extern struct pmem kpmem;
extern struct pt kpt;
extern uint64_t kernel_satp;
extern uint64_t tables_live;
void kvminit(uint64_t dtb);
void kvminithart(void);

/* fdt.c */
const char *fdt_bootargs(uint64_t dtb);

/* main.c, proc.c, trap.c */
void kmain(uint64_t hartid, uint64_t dtb);
void kerneltrap(void);
struct proc;
void procinit(void);
int run_program(const char *name, long arg, long *status);
void usertrap(void);
_Noreturn void usertrapret(void);
long syscall(struct proc *p);

/* Stacks (entry.S, kernel.ld) and how much of them was ever used. */
extern char boot_stack[], kstacks[];
void stack_paint(void *bottom);
size_t stack_used(const void *bottom);

#endif /* MINIKERN_DEFS_H */
