/*
 * user/bench.c - benchmark workloads (svmm.bench=1). arg 0: demand-zero faults, each
 * measured with instret around one store; arg 1 and 2: a pair of processes that yield
 * to each other, each passing instret just before its ecall to the kernel and
 * reporting instret just after its yield returns. arg 3: demand-zero faults while
 * other harts fault in their own address spaces, each measured as for arg 0; arg 4:
 * the same faults unmeasured (the kernel times the whole run).
 */
#include "ulib.h"

#define PAGE 4096ul
#define FAULTS 64
#define SWITCHES 64
#define SMP_FAULTS_MEASURED 128
#define SMP_FAULTS_TIMED 4096   /* per process; kernel/bench.c says the same */

long main(long arg)
{
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
