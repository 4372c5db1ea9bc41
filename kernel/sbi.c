/*
 * kernel/sbi.c - calls into OpenSBI: console output before the UART is mapped, the
 * timer, and power-off with a status.
 *
 * Power-off: QEMU's sifive,test1 device exits QEMU with a status when written
 * 0x3333 | code << 16 (FAIL) or 0x5555 (PASS). OpenSBI 1.1's SRST extension always
 * writes PASS, so on failure the kernel writes the device itself (mapped through
 * ioremap, found in the device tree) so that QEMU's exit status reflects the result;
 * SRST with a failure reason is the fallback.
 */
#include "kernel.h"
#include "early.h"
#include "riscv.h"

#define SBI_EXT_LEGACY_PUTCHAR 0x01
#define SBI_EXT_BASE 0x10
#define SBI_EXT_TIME 0x54494d45
#define SBI_EXT_SRST 0x53525354

static bool has_time, has_srst;
uintptr_t poweroff_mmio;
uintptr_t poweroff_early;   /* its identity address while the early table is live */

void sbi_probe(void)
{
	/* Base extension, probe_extension (fid 3): nonzero value = present. */
	has_time = sbi_call(SBI_EXT_BASE, 3, SBI_EXT_TIME, 0, 0).value != 0;
	has_srst = sbi_call(SBI_EXT_BASE, 3, SBI_EXT_SRST, 0, 0).value != 0;
}

void sbi_putchar(char c)
{
	sbi_call(SBI_EXT_LEGACY_PUTCHAR, 0, (unsigned char)c, 0, 0);
}

void sbi_set_timer(uint64_t when)
{
	if (has_time)
		sbi_call(SBI_EXT_TIME, 0, when, 0, 0);
	else
		sbi_call(0x00, 0, when, 0, 0);    /* legacy set_timer */
}

_Noreturn void sbi_shutdown(int failed)
{
	if (!poweroff_mmio && early_satp && r_satp() == early_satp)
		poweroff_mmio = poweroff_early;
	if (poweroff_mmio) {
		uint32_t v = failed ? (0x3333u | ((uint32_t)failed << 16)) : 0x5555u;
		mmio_write32(poweroff_mmio, v);
	}
	if (has_srst)   /* type 0 = shutdown; reason 0 = none, 1 = system failure */
		sbi_call(SBI_EXT_SRST, 0, 0, failed ? 1 : 0, 0);
	sbi_call(0x08, 0, 0, 0, 0);   /* legacy shutdown */
	for (;;)
		wfi();
}
