/*
 * kernel/selftest.c - the in-kernel self-tests, run in S-mode in every paging mode.
 * Each check counts as one test; the run ends with "N passed, N failed".
 */
#include "early.h"
#include "fdt.h"
#include "kernel.h"
#include "memlayout.h"
#include "riscv.h"
#if KERNEL_VM
#include "vm.h"
#endif

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

/* The trap path: a breakpoint-free check that faults are caught and fixed up. */
static void test_trap_fixup(void)
{
	uint8_t v = 0;
	/* The null page is never mapped: a load must fault and come back with 1. */
	KCHECK_EQ(probe_load(0, &v), 1);
	KCHECK_EQ(last_fault_cause, EXC_LOAD_PAGE_FAULT);
	KCHECK_EQ(last_fault_addr, 0);
	KCHECK_EQ(probe_store(8, 1), 1);
	KCHECK_EQ(last_fault_cause, EXC_STORE_PAGE_FAULT);
	/* A kernel-image byte reads back the same through the probe. */
	static const uint8_t marker = 0x5a;
	KCHECK_EQ(probe_load((vm_t)(uintptr_t)&marker, &v), 0);
	KCHECK_EQ(v, 0x5a);
}

/* The mode in use is the one satp reports, and is one the probe accepted. */
static void test_mode(void)
{
	KCHECK_EQ(r_satp() >> SATP_MODE_SHIFT, boot.mode);
	KCHECK(boot.modes & (1u << boot.mode));
	/* Sv39 is mandatory for any hart with paging; QEMU 7.2 has all three. */
	KCHECK(boot.modes & (1u << SVMM_SV39));
}

/* Command-line and device-tree helpers, including what they must refuse. */
static void test_cmdline_fdt(void)
{
	char v[16];
	uint64_t n = 0;
	KCHECK(cmdline_get("a=1 svmm.mode=sv48 b", "svmm.mode", v, sizeof v));
	KCHECK(strcmp(v, "sv48") == 0);
	KCHECK(!cmdline_get("svmm.modex=1 xsvmm.mode=2", "svmm.mode", v, sizeof v));
	KCHECK_EQ(parse_size("256M", &n), 0);
	KCHECK_EQ(n, 256ull << 20);
	KCHECK_EQ(parse_size("4096", &n), 0);
	KCHECK_EQ(n, 4096);
	KCHECK_EQ(parse_size("12Q", &n), SVMM_EINVAL);
	KCHECK_EQ(parse_size("", &n), SVMM_EINVAL);
	KCHECK_EQ(parse_size("99999999999999999999", &n), SVMM_EOVERFLOW);
	KCHECK_EQ(parse_size("17179869184G", &n), SVMM_EOVERFLOW);
	/* A blob with a wrong magic is refused. */
	static const uint8_t bad[64] = { 0xde, 0xad, 0xbe, 0xef };
	struct fdt_info fi;
	KCHECK_EQ(fdt_parse(bad, sizeof bad, &fi), SVMM_EINVAL);
	/* The real device tree: RAM found, and a UART. */
	KCHECK(fdt.nram >= 1);
	KCHECK(fdt.uart.size != 0);
	KCHECK(fdt.timebase != 0);
	/* A truncated copy of the real blob is refused, not overrun. */
	KCHECK_EQ(fdt_parse(__va(boot.dtb_pa), 100, &fi), SVMM_EINVAL);
}

#if KERNEL_VM
void difftest_run(uint64_t seed);

/* The MMU differential test, which must give back every frame it took. */
static void test_difftest(void)
{
	uint64_t seed = 0;
	char v[24];
	if (cmdline_get(boot.bootargs, "svmm.seed", v, sizeof v))
		parse_size(v, &seed);
	uint64_t free0 = pmem_free_frames(&kpmem), tables0 = vm_tables_live;
	difftest_run(seed);
	KCHECK_EQ(pmem_free_frames(&kpmem), free0);
	KCHECK_EQ(vm_tables_live, tables0);
}
#endif

void selftest_run(void)
{
	kprintf("self-tests:\n");
	unsigned p0 = ktests.passed, f0 = ktests.failed;
	test_trap_fixup();
	test_mode();
	test_cmdline_fdt();
#if KERNEL_VM
	test_difftest();
#endif
	kprintf("self-tests: %u checks passed, %u failed\n", ktests.passed - p0, ktests.failed - f0);
}
