/*
 * kernel/main.c - kmain: from the early table to the final kernel address space, then
 * the self-tests, the user programs and power-off.
 */
#include "cpu.h"
#include "early.h"
#include "fdt.h"
#include "kernel.h"
#include "memlayout.h"
#include "riscv.h"
#include "bench.h"
#include "boot.h"
#include "proc.h"
#include "vm.h"


static void set_mode(enum svmm_mode m)
{
	boot.mode = m;
	kernel_dmap_base = svmm_dmap_base(m);
}

static const char *mode_name(enum svmm_mode m)
{
	return m == SVMM_SV39 ? "sv39" : m == SVMM_SV48 ? "sv48" : m == SVMM_SV57 ? "sv57" : "?";
}

/*
 * svmm.dmap_limit=SIZE: the physical address where the direct map stops, rounded down
 * to whole gigabytes. The kernel's page tables and pmem's metadata are reached through
 * the direct map, so it must cover the gigabyte the kernel was loaded in; on QEMU virt
 * RAM starts at 2 GiB, so the least limit there is 3G. Anything else is refused here,
 * in one line that says why, before pmem_init could fail on it with a bare ENOMEM.
 */
static void check_dmap_limit(const char *v)
{
	uint64_t need = SVMM_ALIGN_DOWN(early_load_pa, SVMM_GiB) + SVMM_GiB;
	uint64_t limit = 0;
	char need_s[24], got_s[24], problem[96];
	svmm_fmt_size(need_s, sizeof need_s, need);
	if (parse_size(v, &limit) != 0 || limit == 0) {
		svmm_snprintf(problem, sizeof problem, "not a size (a number with K, M or G)");
	} else if (SVMM_ALIGN_DOWN(limit, SVMM_GiB) < need) {
		uint64_t got = SVMM_ALIGN_DOWN(limit, SVMM_GiB);
		if (got)
			svmm_fmt_size(got_s, sizeof got_s, got);
		else
			svmm_snprintf(got_s, sizeof got_s, "0");
		svmm_snprintf(problem, sizeof problem,
			      "the direct map would stop at %s (rounded down to whole gigabytes)",
			      got_s);
	} else {
		boot.dmap_limit = limit;
		return;
	}
	panic("svmm.dmap_limit=%s: %s; it must be at least %s here, to cover the gigabyte the "
	      "kernel was loaded in (at %p; RAM starts at %p), since page tables and pmem's "
	      "metadata are reached through the direct map", v, problem, need_s,
	      (void *)early_load_pa, (void *)fdt.ram[0].base);
}

/*
 * Options: svmm.mode=sv39|sv48|sv57, svmm.dmap_limit=SIZE, svmm.bench=1|2, svmm.vmtrace=1
 * (print every kernel-arena vmem operation as a docs/trace.md line).
 */
static void parse_cmdline(void)
{
	char v[32];
	if (cmdline_get(boot.bootargs, "svmm.mode", v, sizeof v)) {
		if (strcmp(v, "sv39") == 0)
			boot.mode_req = SVMM_SV39;
		else if (strcmp(v, "sv48") == 0)
			boot.mode_req = SVMM_SV48;
		else if (strcmp(v, "sv57") == 0)
			boot.mode_req = SVMM_SV57;
		else
			panic("svmm.mode=%s: expected sv39, sv48 or sv57", v);
	}
	if (cmdline_get(boot.bootargs, "svmm.dmap_limit", v, sizeof v))
		check_dmap_limit(v);
	if (cmdline_get(boot.bootargs, "svmm.vmtrace", v, sizeof v))
		boot.vmtrace = strcmp(v, "0") != 0;
	if (cmdline_get(boot.bootargs, "svmm.bench", v, sizeof v)) {
		boot.bench = strcmp(v, "0") != 0;
		boot.bench_timed = strcmp(v, "2") == 0;
	}
}


/* UART and poweroff device through ioremap: MMIO is never in the direct map. */
static void map_devices(void)
{
	svmm_va_t va;
	if (fdt.uart.size) {
		int err = ioremap(fdt.uart.base, fdt.uart.size, &va);
		if (err)
			panic("ioremap(uart): %s", svmm_strerror(err));
		console_use_uart(va);
		kprintf("uart    %p -> %p (ioremap)\n", (void *)fdt.uart.base, (void *)va);
	}
	if (fdt.poweroff.size) {
		int err = ioremap(fdt.poweroff.base, fdt.poweroff.size, &va);
		if (err)
			panic("ioremap(poweroff): %s", svmm_strerror(err));
		poweroff_mmio = va;
		kprintf("test    %p -> %p (ioremap)\n", (void *)fdt.poweroff.base, (void *)va);
	}
	if (fdt.plic.size) {
		int err = ioremap(fdt.plic.base, fdt.plic.size, &va);
		if (err)
			panic("ioremap(plic): %s", svmm_strerror(err));
		kprintf("plic    %p -> %p (ioremap)\n", (void *)fdt.plic.base, (void *)va);
	}
	if (fdt.clint.size) {
		int err = ioremap(fdt.clint.base, fdt.clint.size, &va);
		if (err)
			panic("ioremap(clint): %s", svmm_strerror(err));
		kprintf("clint   %p -> %p (ioremap)\n", (void *)fdt.clint.base, (void *)va);
	}
}

/* Every hart but the boot hart, once smp_start_harts has started it. */
static void secondary_run(void)
{
	trap_init();
	smp_hart_online();
	proc_idle();
}

_Noreturn void kmain(uint64_t hartid, svmm_pa_t dtb_pa, unsigned mode);

_Noreturn void kmain(uint64_t hartid, svmm_pa_t dtb_pa, unsigned mode)
{
	boot.hartid = hartid;
	boot.dtb_pa = dtb_pa;
	smp_init_boot_hart(hartid);
	set_mode((enum svmm_mode)mode);
	boot.modes = early_modes;
	trap_init();
	sbi_probe();

	kprintf("\nsvmm demo kernel: hart %lu, loaded at %p, device tree at %p\n",
		(unsigned long)hartid, (void *)early_load_pa, (void *)dtb_pa);
	kprintf("paging modes: sv39 %s, sv48 %s, sv57 %s; early table in %s\n",
		(early_modes & (1u << 8)) ? "yes" : "no", (early_modes & (1u << 9)) ? "yes" : "no",
		(early_modes & (1u << 10)) ? "yes" : "no", mode_name(boot.mode));

	/* The early table maps the device tree's gigabyte in the direct map. */
	uint64_t dtb_room = SVMM_ALIGN_UP(dtb_pa + 1, SVMM_GiB) + SVMM_GiB - dtb_pa;
	int err = fdt_parse(__va(dtb_pa), dtb_room, &fdt);
	if (err)
		panic("device tree at %p unreadable: %s", (void *)dtb_pa, svmm_strerror(err));
	if (fdt.nram == 0)
		panic("no memory node in the device tree");
	boot.dtb_size = fdt.total_size;
	if (fdt.poweroff.size && fdt.poweroff.base + fdt.poweroff.size <= SVMM_GiB)
		poweroff_early = fdt.poweroff.base;
	memcpy(boot.bootargs, fdt.bootargs, sizeof boot.bootargs);
	if (fdt.timebase)
		timebase_hz = fdt.timebase;
	kprintf("command line: \"%s\"\n", boot.bootargs);
	parse_cmdline();

	if (boot.mode_req && boot.mode_req != boot.mode) {
		if (early_switch_mode(boot.mode_req, dtb_pa) != 0)
			panic("svmm.mode=%s: mode not supported by this hart", mode_name(boot.mode_req));
		set_mode(boot.mode_req);
	}
	svmm_dmap_base_for_gdb = dmap_base();
	kprintf("paging mode: %s (%u levels, %u-bit virtual addresses)\n", mode_name(boot.mode),
		svmm_mode_levels(boot.mode), svmm_mode_va_bits(boot.mode));
	for (unsigned i = 0; i < fdt.nram; i++)
		kprintf("RAM      [%p, %p) %lu MiB\n", (void *)fdt.ram[i].base,
			(void *)(fdt.ram[i].base + fdt.ram[i].size),
			(unsigned long)(fdt.ram[i].size >> 20));
	for (unsigned i = 0; i < fdt.nreserved; i++)
		kprintf("reserved [%p, %p)\n", (void *)fdt.reserved[i].base,
			(void *)(fdt.reserved[i].base + fdt.reserved[i].size));

	vm_init();
	map_devices();
	vm_print_layout();
	proc_init();
	for (unsigned i = 1; i < ncpu; i++)
		if (kstack_alloc(16384, &cpus[i].kstack_top) != 0)
			panic("smp: no trap stack for hart %lu", (unsigned long)cpus[i].hartid);
	smp_start_harts(pt_satp(&kpt), secondary_run);
	if (boot.bench)
		bench_run();
	selftest_run();
	selftest_user_run();
}
