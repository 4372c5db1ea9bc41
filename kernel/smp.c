/*
 * kernel/smp.c - every hart QEMU offers: finding them and starting them through SBI HSM,
 * and remote TLB shootdowns through SBI RFENCE.
 *
 * Shootdowns. A hart may cache translations tagged with an ASID once it has run an
 * address space with that ASID, so the kernel keeps, per ASID, the set of harts that
 * have (asid_harts, set by proc.c at every activation). A user mapping that is removed
 * or narrowed is flushed on this hart with sfence.vma and on the other harts of its
 * set with remote_sfence_vma_asid; kernel mappings (global: vmalloc, ioremap, kmap,
 * kernel stacks) with remote_sfence_vma on every started hart. OpenSBI's RFENCE
 * returns only once every target hart has executed the fence (it waits for their
 * acknowledgement), which is what the core's contract with port_tlb_flush needs: when
 * pt_unmap returns, no hart can still use the old translation. A hart's bit is
 * dropped from every set when it flushes its whole TLB (an ASID rollover), since it
 * then holds nothing.
 */
#include "cpu.h"
#include "early.h"
#include "kernel.h"
#include "proc.h"
#include "riscv.h"
#include "vm.h"

#define SBI_EXT_BASE   0x10
#define SBI_EXT_HSM    0x48534d
#define SBI_EXT_RFENCE 0x52464e43
#define SBI_HSM_START  0
#define SBI_HSM_STATUS 2
#define SBI_RFENCE_VMA      1
#define SBI_RFENCE_VMA_ASID 2
#define SBI_FLUSH_ALL  (~0ul)

struct cpu cpus[NCPU];
unsigned ncpu = 1;
volatile unsigned sched_ncpu = 1;
uint64_t smp_remote_flushes;
static bool has_rfence;

/* bit i: cpus[i] has run this ASID since its last full flush */
static uint32_t asid_harts[1u << 16];

/* What secondary_entry reads with the MMU off (by physical address). */
struct hart_boot {
	uint64_t satp, sp, tp, entry;
};
static struct hart_boot hart_boot[NCPU];

extern char _kernel_start[], secondary_entry[], secondary_high[];
void secondary_main(struct cpu *c);

static pm_t image_pa(const void *va)
{
	return (pm_t)((uintptr_t)va - (uintptr_t)_kernel_start) + early_load_pa;
}

void smp_init_boot_hart(uint64_t hartid)
{
	cpus[0].id = 0;
	cpus[0].hartid = hartid;
	cpus[0].started = true;
	__asm__ volatile("mv tp, %0" :: "r"(&cpus[0]));
	/* Harts the firmware knows of: HSM answers a status for each, an error otherwise. */
	bool hsm = sbi_call(SBI_EXT_BASE, 3, SBI_EXT_HSM, 0, 0).value != 0;
	has_rfence = sbi_call(SBI_EXT_BASE, 3, SBI_EXT_RFENCE, 0, 0).value != 0;
	if (!hsm)
		return;
	for (uint64_t h = 0; h < 64 && ncpu < NCPU; h++) {
		if (h == hartid)
			continue;
		if (sbi_call(SBI_EXT_HSM, SBI_HSM_STATUS, h, 0, 0).error != 0)
			continue;
		cpus[ncpu].id = ncpu;
		cpus[ncpu].hartid = h;
		ncpu++;
	}
}

void secondary_main(struct cpu *c)
{
	trap_init();
	/* Published before the local flush: a shootdown sent after this hart is seen as
	   started reaches it, and the flush covers every change made before. */
	__atomic_store_n(&c->started, true, __ATOMIC_RELEASE);
	sfence_vma_all();
	proc_idle();
}

void smp_start_harts(void)
{
	if (ncpu > 1 && !has_rfence)
		panic("smp: %u harts but no SBI RFENCE extension for shootdowns", ncpu);
	for (unsigned i = 1; i < ncpu; i++) {
		struct cpu *c = &cpus[i];
		if (kstack_alloc(16384, &c->kstack_top) != 0)
			panic("smp: no trap stack for hart %lu", (unsigned long)c->hartid);
		hart_boot[i] = (struct hart_boot){ pt_satp(&kpt), c->kstack_top,
						   (uint64_t)(uintptr_t)c,
						   (uint64_t)(uintptr_t)secondary_high };
		__asm__ volatile("fence rw, rw" ::: "memory");
		struct sbiret r = sbi_call(SBI_EXT_HSM, SBI_HSM_START, c->hartid,
					   image_pa(secondary_entry), image_pa(&hart_boot[i]));
		if (r.error != 0)
			panic("smp: sbi_hart_start(%lu): SBI error %ld", (unsigned long)c->hartid,
			      r.error);
		uint64_t t0 = r_time();
		while (!__atomic_load_n(&c->started, __ATOMIC_ACQUIRE))
			if (r_time() - t0 > timebase_hz)
				panic("smp: hart %lu did not start within a second",
				      (unsigned long)c->hartid);
	}
	kprintf("smp: %u harts started through SBI HSM (hart ids", ncpu);
	for (unsigned i = 0; i < ncpu; i++)
		kprintf(" %lu", (unsigned long)cpus[i].hartid);
	kprintf("), shootdowns through SBI RFENCE%s\n", has_rfence ? "" : " (absent)");
}

void smp_note_asid(unsigned asid, bool flushed_all)
{
	struct cpu *c = mycpu();
	uint32_t bit = 1u << c->id;
	if (flushed_all)
		for (unsigned a = 0; a < ARRAY_SIZE(asid_harts); a++)
			if (asid_harts[a] & bit)
				__atomic_fetch_and(&asid_harts[a], ~bit, __ATOMIC_RELAXED);
	if (!(asid_harts[asid & 0xffff] & bit))
		__atomic_fetch_or(&asid_harts[asid & 0xffff], bit, __ATOMIC_RELAXED);
}

/* The other started harts in mask (bits of cpus[]), as an SBI hart mask. */
static unsigned long remote_mask(unsigned mask)
{
	unsigned me = mycpu()->id;
	unsigned long hm = 0;
	for (unsigned i = 0; i < ncpu; i++)
		if (i != me && (mask & (1u << i)) &&
		    __atomic_load_n(&cpus[i].started, __ATOMIC_ACQUIRE))
			hm |= 1ul << cpus[i].hartid;
	return hm;
}

void smp_flush_asid(unsigned asid, uint64_t va, uint64_t size)
{
	/* The fence orders this hart's page-table stores before the remote fences. */
	__asm__ volatile("fence rw, rw" ::: "memory");
	unsigned long hm = remote_mask(__atomic_load_n(&asid_harts[asid & 0xffff],
						       __ATOMIC_RELAXED));
	if (!hm)
		return;
	mycpu()->shootdowns_sent++;
	__atomic_fetch_add(&smp_remote_flushes, 1, __ATOMIC_RELAXED);
	struct sbiret r = sbi_call5(SBI_EXT_RFENCE, SBI_RFENCE_VMA_ASID, hm, 0,
				    size ? va : 0, size ? size : SBI_FLUSH_ALL, asid);
	if (r.error != 0)
		panic("smp: remote_sfence_vma_asid: SBI error %ld", r.error);
}

void smp_flush_global(uint64_t va, uint64_t size)
{
	__asm__ volatile("fence rw, rw" ::: "memory");
	unsigned long hm = remote_mask(~0u);
	if (!hm)
		return;
	mycpu()->shootdowns_sent++;
	__atomic_fetch_add(&smp_remote_flushes, 1, __ATOMIC_RELAXED);
	struct sbiret r = sbi_call5(SBI_EXT_RFENCE, SBI_RFENCE_VMA, hm, 0, size ? va : 0,
				    size ? size : SBI_FLUSH_ALL, 0);
	if (r.error != 0)
		panic("smp: remote_sfence_vma: SBI error %ld", r.error);
}
