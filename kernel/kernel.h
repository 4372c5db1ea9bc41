/*
 * kernel/kernel.h - declarations shared by the demo kernel's files.
 */
#ifndef KERNEL_KERNEL_H
#define KERNEL_KERNEL_H

#include <stdarg.h>
#include <svmm/fmt.h>
#include <svmm/layout.h>
#include <svmm/types.h>

#include "trapframe.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* lib.c: what the compiler and the core may call. */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strstr(const char *s, const char *sub);

/* console.c */
void console_putc(char c);
void console_write(const char *s, size_t n);
void console_write_locked(const char *s, size_t n);
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int kvprintf(const char *fmt, va_list ap);
void kprint_line(void *ctx, const char *line);   /* an svmm_print_fn */
_Noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void console_use_uart(uintptr_t base);

/* sbi.c */
void sbi_putchar(char c);
void sbi_set_timer(uint64_t when);
_Noreturn void sbi_shutdown(int failed);
void sbi_probe(void);
extern uintptr_t poweroff_mmio;   /* sifive,test1 mapping, or 0 */
extern uintptr_t poweroff_early;  /* its identity address under the early table, or 0 */

/* trap.c */
void trap_init(void);
void kernel_trap(struct trapframe *tf);
struct trapframe *user_trap(struct trapframe *tf);
const char *trap_cause_name(uint64_t scause);
int trap_describe(char *buf, size_t n, uint64_t scause, uint64_t stval, uint32_t insn,
		  uint64_t sepc);
extern volatile uint64_t probe_exec_active;   /* set while probe_exec runs */
extern volatile uint64_t last_fault_cause, last_fault_addr;
extern uint64_t timebase_hz;
/* A supervisor software interrupt taken in S-mode calls this (smp.c sets it to answer
   shootdowns); a hook, so that trap.c depends on no layer above it. */
extern void (*trap_ipi_hook)(void);

/* entry.S */
extern char trap_vector[];
int probe_load(svmm_va_t va, uint8_t *out);
int probe_store(svmm_va_t va, uint8_t val);
int probe_exec(svmm_va_t va);
extern char probe_exec_fault[];
int uaccess_copy(void *dst, const void *src, size_t n);
_Noreturn void user_return(struct trapframe *tf);

/* boot state (main.c) */
struct boot_info {
	enum svmm_mode mode;       /* paging mode in use */
	unsigned modes;            /* bit m: satp.MODE m supported */
	uint64_t hartid;
	svmm_pa_t dtb_pa;
	uint64_t dtb_size;
	char bootargs[256];
	uint64_t dmap_limit;       /* svmm.dmap_limit= or 0 */
	enum svmm_mode mode_req;   /* svmm.mode= or 0 */
	bool bench;                /* svmm.bench=1: run the benchmarks */
	bool bench_timed;          /* svmm.bench=2: only the timed SMP fault runs */
	bool vmtrace;              /* svmm.vmtrace=1: print the kernel arena's vmem trace */
};
extern struct boot_info boot;

/* The direct map of the mode in use: set when the mode is chosen, read on hot paths. */
extern svmm_va_t kernel_dmap_base;
static inline svmm_va_t dmap_base(void) { return kernel_dmap_base; }
static inline void *__va(svmm_pa_t pa) { return (void *)(uintptr_t)(dmap_base() + pa); }
static inline svmm_pa_t __pa(const void *va) { return (svmm_pa_t)((uintptr_t)va - dmap_base()); }

/* selftest.c: test bookkeeping */
struct ktest_result { unsigned passed, failed; };
extern struct ktest_result ktests;
void ktest_check(bool ok, const char *what, const char *file, int line);
#define KCHECK(cond) ktest_check((cond), #cond, __FILE__, __LINE__)
#define KCHECK_EQ(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
	if (a_ != b_) kprintf("  %s = %lld, expected %lld\n", #a, a_, b_); \
	ktest_check(a_ == b_, #a " == " #b, __FILE__, __LINE__); } while (0)
void selftest_run(void);
_Noreturn void selftest_user_run(void);
_Noreturn void selftest_finish(void);

struct fdt_info;
extern struct fdt_info fdt;

#endif /* KERNEL_KERNEL_H */
