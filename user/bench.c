/*
 * user/bench.c - benchmark workloads (svmm.bench=1). arg 0: demand-zero faults, each
 * measured with instret around one store; arg 1 and 2: a pair of processes that yield
 * to each other, each passing instret just before its ecall to the kernel and
 * reporting instret just after its yield returns. arg 3: demand-zero faults while
 * other harts fault in their own address spaces, each measured as for arg 0; arg 4:
 * the same faults unmeasured (the kernel times the whole run). arg 5: fork and
 * copy-on-write: forks of this process with 256 resident, writable pages (instret
 * around the call, in the parent), in each child the first read of a page (instret
 * around it: the minor fault that maps the shared frame read-only, the price of a fork
 * that leaves the child's page tables empty) and then a copy-on-write fault (instret
 * around one store to that page, so mapped read-only and shared with the parent,
 * asleep in wait), then forks with those pages unmapped (the fixed part of a fork).
 * arg 6: 2 MiB faults: one store into each 2 MiB of a 32 MiB region (placed 2 MiB
 * aligned), instret around it, reported when the fault brought a whole 2 MiB page.
 */
#include "ulib.h"

#define PAGE 4096ul
#define FAULTS 64
#define SWITCHES 64
#define SMP_FAULTS_MEASURED 128
#define SMP_FAULTS_TIMED 4096   /* per process; kernel/bench.c says the same */
#define FORK_PAGES 256
#define FORK_ROUNDS 16
#define COW_PER_CHILD 8

static void bench_fork(void)
{
	uintptr_t a;
	if (mmap(0, FORK_PAGES * PAGE, PROT_READ | PROT_WRITE, 0, &a) != 0)
		exit(1);
	for (unsigned r = 0; r < FORK_ROUNDS; r++) {
		/* Every page resident and writable again (demand zero at first, then the
		   frames the last child no longer shares are taken over). */
		for (unsigned i = 0; i < FORK_PAGES; i++)
			*(volatile uint64_t *)(a + i * PAGE) = r;
		uint64_t t0 = rdinstret();
		long pid = fork();
		uint64_t t1 = rdinstret();
		if (pid == 0) {
			for (unsigned j = 0; j < COW_PER_CHILD; j++) {
				volatile uint64_t *p = (uint64_t *)(a + (j * 31 % FORK_PAGES) * PAGE);
				uint64_t r0 = rdinstret();
				uint64_t v = *p;
				uint64_t r1 = rdinstret();
				report(REPORT_FORK_READ, r1 - r0);
				uint64_t c0 = rdinstret();
				*p = v + 1;
				uint64_t c1 = rdinstret();
				/* The first write also gives the child its own copy of
				   the leaf index node it shares with the parent. */
				report(j == 0 ? REPORT_COW_FIRST : REPORT_COW, c1 - c0);
			}
			exit(0);
		}
		if (pid < 0)
			exit(1);
		report(REPORT_FORK, t1 - t0);
		if (wait(pid, 0) != pid)
			exit(1);
	}
	if (munmap(a, FORK_PAGES * PAGE) != 0)
		exit(1);
	for (unsigned r = 0; r < FORK_ROUNDS; r++) {
		uint64_t t0 = rdinstret();
		long pid = fork();
		uint64_t t1 = rdinstret();
		if (pid == 0)
			exit(0);
		if (pid < 0)
			exit(1);
		report(REPORT_FORK_SMALL, t1 - t0);
		if (wait(pid, 0) != pid)
			exit(1);
	}
}

#define HUGE_FAULTS 16
#define HUGE 0x200000ul

static void bench_fault_2m(void)
{
	uintptr_t a;
	if (mmap(0, HUGE_FAULTS * HUGE, PROT_READ | PROT_WRITE, 0, &a) != 0)
		exit(1);
	for (unsigned i = 0; i < HUGE_FAULTS; i++) {
		struct sys_info before, after;
		info(&before);
		volatile uint64_t *p = (uint64_t *)(a + i * HUGE);
		uint64_t t0 = rdinstret();
		*p = i;
		uint64_t t1 = rdinstret();
		info(&after);
		if (after.huge_pages == before.huge_pages + 1)
			report(REPORT_FAULT_2M, t1 - t0);
	}
}

long main(long arg)
{
	if (arg == 6) {
		bench_fault_2m();
		return 0;
	}
	if (arg == 5) {
		bench_fork();
		return 0;
	}
	if (arg == 3 || arg == 4) {
		uintptr_t a;
		unsigned n = arg == 3 ? SMP_FAULTS_MEASURED : SMP_FAULTS_TIMED;
		if (mmap(0, n * PAGE, PROT_READ | PROT_WRITE, 0, &a) != 0)
			return 1;
		for (unsigned i = 0; i < n; i++) {
			volatile uint64_t *p = (uint64_t *)(a + i * PAGE);
			uint64_t t0 = rdinstret();
			*p = i;
			uint64_t t1 = rdinstret();
			if (arg == 3)
				report(REPORT_FAULT_SMP, t1 - t0);
		}
		return 0;
	}
	if (arg == 0) {
		uintptr_t a;
		if (mmap(0, FAULTS * PAGE, PROT_READ | PROT_WRITE, 0, &a) != 0)
			return 1;
		for (unsigned i = 0; i < FAULTS; i++) {
			volatile uint64_t *p = (uint64_t *)(a + i * PAGE);
			uint64_t t0 = rdinstret();
			*p = i;
			uint64_t t1 = rdinstret();
			report(REPORT_FAULT, t1 - t0);
		}
		return 0;
	}
	for (unsigned i = 0; i < SWITCHES; i++) {
		uint64_t t0 = rdinstret();
		yield(t0);
		uint64_t t1 = rdinstret();
		report(REPORT_SWITCH, t1);
	}
	return 0;
}
