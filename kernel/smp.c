/*
 * kernel/smp.c - every hart QEMU offers: finding them and starting them through SBI HSM,
 * and remote TLB shootdowns through SBI RFENCE.
 *
 * Shootdowns. A hart may cache translations tagged with an ASID once it has run an
 * address space with that ASID, so the kernel keeps, per ASID, the set of harts that
 * have (asid_harts, set by proc.c at every activation, never cleared: a superset is
 * safe). A user mapping that is removed or narrowed is flushed on this hart with
 * sfence.vma and on the other harts of its set by a shootdown; kernel mappings
 * (global: vmalloc, ioremap, kernel stacks) on every started hart, fixmap slots only
 * on their own hart.
 *
 * A shootdown is a mailbox per hart and an IPI: the sender takes a ticket from the
 * target's flush_req, sends an SBI IPI (a supervisor software interrupt on the
 * target), and waits until the target's flush_ack reaches its ticket. The target
 * answers with a full local sfence.vma wherever it notices the request first: the
 * interrupt when it runs U-mode, its idle loop (wfi wakes on the pending interrupt),
 * and every lock spin and shootdown wait in the kernel, so a target spinning on a lock
 * that the sender holds still answers, and two harts shooting at each other do not
 * deadlock. pt_unmap and pt_protect therefore return only when no hart can still use
 * the old translation, as the core's contract with port_tlb_flush requires.
 *
 * Why not SBI RFENCE, which does all this in firmware: with Debian's OpenSBI 1.1 on
 * QEMU 7.2 and four harts, concurrent remote_sfence_vma_asid calls hung with a hart
 * waiting in M-mode forever for an acknowledgement, even when serialized by a kernel
 * lock and sent to one hart per call. The IPI extension has no acknowledgement in
 * firmware, so it cannot hang there.
 */
#include "cpu.h"
#include "early.h"
#include "kernel.h"
#include "riscv.h"

#define SBI_EXT_BASE   0x10
#define SBI_EXT_HSM    0x48534d
#define SBI_EXT_IPI    0x735049
#define SBI_HSM_START  0
#define SBI_HSM_STATUS 2

struct cpu cpus[NCPU];
unsigned ncpu = 1;
volatile unsigned sched_ncpu = 1;
uint64_t smp_remote_flushes;
/* For bench-kernel: the last shootdown's instructions on the sender up to the IPI, and
   on a target for its flush and acknowledgement. */
uint64_t smp_last_sender_instret, smp_last_target_instret;
static bool has_ipi;
static unsigned harts_left;   /* harts the firmware has beyond NCPU, never started */

#include <svmm/port.h>

/* bit i: cpus[i] has run this ASID since its last full flush */
static uint32_t asid_harts[1u << 16];

/* What secondary_entry reads with the MMU off (by physical address). */
struct hart_boot {
	uint64_t satp, sp, tp, entry;
};
static struct hart_boot hart_boot[NCPU];

extern char _kernel_start[], secondary_entry[], secondary_high[];
void secondary_main(struct cpu *c);
static void (*secondary_run)(void);   /* smp_start_harts' hart_main */

static svmm_pa_t image_pa(const void *va)
{
	return (svmm_pa_t)((uintptr_t)va - (uintptr_t)_kernel_start) + early_load_pa;
}

void smp_init_boot_hart(uint64_t hartid)
{
	cpus[0].id = 0;
	cpus[0].hartid = hartid;
	cpus[0].started = true;
	__asm__ volatile("mv tp, %0" :: "r"(&cpus[0]));
	trap_ipi_hook = smp_service;     /* a shootdown request taken in S-mode */
	/* Harts the firmware knows of: HSM answers a status for each, an error otherwise. */
	bool hsm = sbi_call(SBI_EXT_BASE, 3, SBI_EXT_HSM, 0, 0).value != 0;
	has_ipi = sbi_call(SBI_EXT_BASE, 3, SBI_EXT_IPI, 0, 0).value != 0;
	if (!hsm)
		return;
	for (uint64_t h = 0; h < 64; h++) {
		if (h == hartid)
			continue;
		if (sbi_call(SBI_EXT_HSM, SBI_HSM_STATUS, h, 0, 0).error != 0)
			continue;
		if (ncpu == NCPU) {
			harts_left++;     /* said in smp_start_harts' line, not quietly dropped */
			continue;
		}
		cpus[ncpu].id = ncpu;
		cpus[ncpu].hartid = h;
		ncpu++;
	}
}

/* A started hart, on its trap stack with tp = its struct cpu (entry.S). */
void secondary_main(struct cpu *c)
{
	(void)c;
	secondary_run();
	panic("smp: a hart's main function returned");
}

void smp_hart_online(void)
{
	/* Published before the local flush: a shootdown sent after this hart is seen as
	   started reaches it, and the flush covers every change made before. */
	__atomic_store_n(&mycpu()->started, true, __ATOMIC_RELEASE);
	sfence_vma_all();
}

void smp_start_harts(uint64_t satp, void (*hart_main)(void))
{
	if (ncpu > 1 && !has_ipi)
		panic("smp: %u harts but no SBI IPI extension for shootdowns", ncpu);
	secondary_run = hart_main;
	for (unsigned i = 1; i < ncpu; i++) {
		struct cpu *c = &cpus[i];
		if (!c->kstack_top)
			panic("smp: no trap stack for hart %lu", (unsigned long)c->hartid);
		hart_boot[i] = (struct hart_boot){ satp, c->kstack_top,
						   (uint64_t)(uintptr_t)c,
						   (uint64_t)(uintptr_t)secondary_high };
		__asm__ volatile("fence rw, rw" ::: "memory");
		struct sbiret r = sbi_call(SBI_EXT_HSM, SBI_HSM_START, c->hartid,
					   image_pa(secondary_entry), image_pa(&hart_boot[i]));
		if (r.error != 0)
			panic("smp: sbi_hart_start(%lu): SBI error %ld", (unsigned long)c->hartid,
			      r.error);
		/* Wait in wfi, not in a spin: under QEMU's -icount the harts take turns,
		   and a spinning hart would keep the new one from running. */
		/* A hang detector, not a budget: without -icount the time is the host's, and
		   a loaded two-core host once left a new hart unscheduled for over a second. */
		uint64_t t0 = r_time();
		sie_set(SIE_STIE);      /* wfi wakes on enabled interrupts only */
		while (!__atomic_load_n(&c->started, __ATOMIC_ACQUIRE)) {
			if (r_time() - t0 > 30 * timebase_hz)
				panic("smp: hart %lu did not start within 30 seconds",
				      (unsigned long)c->hartid);
			sbi_set_timer(r_time() + timebase_hz / 1000);
			wfi();
			smp_service();
		}
		sbi_set_timer(~0ull);
	}
	kprintf("smp: %u harts started through SBI HSM (hart ids", ncpu);
	for (unsigned i = 0; i < ncpu; i++)
		kprintf(" %lu", (unsigned long)cpus[i].hartid);
	kprintf("), shootdowns by IPI (SBI IPI extension)%s\n", has_ipi ? "" : " absent");
	if (harts_left)
		kprintf("smp: %u more harts left stopped: this kernel runs at most %u (NCPU in "
			"kernel/cpu.h)\n", harts_left, NCPU);
}

void smp_note_asid(unsigned asid, bool flushed_all)
{
	/* Bits are never cleared, not even after a full flush (flushed_all): clearing a
	   hart's bit in 65,536 words on every flush costs far more than the extra IPIs
	   it would save, and with too few ASIDs the allocator flushes on every switch. */
	(void)flushed_all;
	uint32_t bit = 1u << mycpu()->id;
	if (!(__atomic_load_n(&asid_harts[asid & 0xffff], __ATOMIC_RELAXED) & bit))
		__atomic_fetch_or(&asid_harts[asid & 0xffff], bit, __ATOMIC_SEQ_CST);
}

void smp_service(void)
{
	struct cpu *c = mycpu();
	if (c == NULL)
		return;               /* before smp_init_boot_hart: one hart, nothing to do */
	uint64_t r = __atomic_load_n(&c->flush_req, __ATOMIC_ACQUIRE);
	if (r == c->flush_ack)
		return;
	/* Every request up to ticket r was posted after its page-table change. */
	uint64_t t0 = r_instret();
	sfence_vma_all();
	smp_last_target_instret = r_instret() - t0;
	__atomic_store_n(&c->flush_ack, r, __ATOMIC_RELEASE);
}

static void shootdown(unsigned mask, bool sleep);

/* Flush every started hart of mask (bits of cpus[]) but this one; wait for all. */
void smp_shootdown(unsigned mask)
{
	shootdown(mask, false);
}

/*
 * The same, waiting in wfi (1 ms timer) instead of a spin: for bench-kernel, because
 * under QEMU's -icount the harts take turns, and a spinning sender keeps its targets
 * from running for seconds of host time.
 */
void smp_shootdown_sleepy(unsigned mask)
{
	shootdown(mask, true);
}

static void shootdown(unsigned mask, bool sleep)
{
	struct cpu *me = mycpu();
	uint64_t t0 = r_instret();
	uint64_t ticket[NCPU];
	unsigned long hm = 0;
	/* Order this hart's page-table stores before the requests. */
	__asm__ volatile("fence rw, rw" ::: "memory");
	for (unsigned i = 0; i < ncpu; i++) {
		ticket[i] = 0;
		if (&cpus[i] == me || !(mask & (1u << i)) ||
		    !__atomic_load_n(&cpus[i].started, __ATOMIC_ACQUIRE))
			continue;
		ticket[i] = __atomic_add_fetch(&cpus[i].flush_req, 1, __ATOMIC_ACQ_REL);
		hm |= 1ul << cpus[i].hartid;
	}
	if (!hm)
		return;
	me->shootdowns_sent++;
	__atomic_fetch_add(&smp_remote_flushes, 1, __ATOMIC_RELAXED);
	struct sbiret r = sbi_call(SBI_EXT_IPI, 0, hm, 0, 0);
	if (r.error != 0)
		panic("smp: sbi_send_ipi(%#lx): SBI error %ld", hm, r.error);
	smp_last_sender_instret = r_instret() - t0;
	for (unsigned i = 0; i < ncpu; i++)
		while (ticket[i] && __atomic_load_n(&cpus[i].flush_ack, __ATOMIC_ACQUIRE) < ticket[i]) {
			smp_service();    /* another hart may be waiting for this one */
			cpu_relax();
			if (sleep) {
				sbi_set_timer(r_time() + timebase_hz / 1000);
				wfi();
			}
		}
}

void smp_flush_asid(unsigned asid, uint64_t va, uint64_t size)
{
	(void)va;
	(void)size;
	__asm__ volatile("fence rw, rw" ::: "memory");
	shootdown(__atomic_load_n(&asid_harts[asid & 0xffff], __ATOMIC_RELAXED), false);
}

void smp_flush_global(uint64_t va, uint64_t size)
{
	(void)va;
	(void)size;
	shootdown(~0u, false);
}
