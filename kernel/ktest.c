/*
 * kernel/ktest.c - the test bookkeeping every kernel test file uses (selftest.c,
 * difftest.c, usertest.c): counting checks, and the summary line and power-off that end
 * a test boot. Apart from the tests themselves, so that they need not use each other.
 */
#include "kernel.h"
#include "vm.h"

struct ktest_result ktests;

void ktest_check(bool ok, const char *what, const char *file, int line)
{
	if (ok) {
		ktests.passed++;
	} else {
		ktests.failed++;
		kprintf("FAIL: %s (%s:%d)\n", what, file, line);
	}
}

/* The end of a test boot: the summary line make check-kernel reads, and power-off with
   the result (QEMU's exit status says it too). */
_Noreturn void selftest_finish(void)
{
	vm_trace_state();
	kprintf("%u passed, %u failed\n", ktests.passed, ktests.failed);
	sbi_shutdown(ktests.failed ? 1 : 0);
}
