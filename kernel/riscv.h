/*
 * kernel/riscv.h - every CSR access and every piece of inline assembly of the demo
 * kernel, in one place, so that the rest of the kernel is plain C.
 *
 * Names follow the privileged specification (sstatus, sie, stvec, satp, ...). Only
 * supervisor-mode state is touched: OpenSBI owns machine mode.
 */
#ifndef KERNEL_RISCV_H
#define KERNEL_RISCV_H

#include <stdint.h>

/* sstatus bits */
#define SSTATUS_SIE  (1ull << 1)
#define SSTATUS_SPIE (1ull << 5)
#define SSTATUS_SPP  (1ull << 8)
#define SSTATUS_VS   (3ull << 9)
#define SSTATUS_FS   (3ull << 13)
#define SSTATUS_SUM  (1ull << 18)
#define SSTATUS_MXR  (1ull << 19)

/* sie / sip bits */
#define SIE_SSIE (1ull << 1)
#define SIE_STIE (1ull << 5)
#define SIE_SEIE (1ull << 9)

/* scause values */
#define SCAUSE_INTR            (1ull << 63)
#define EXC_INST_MISALIGNED    0
#define EXC_INST_ACCESS        1
#define EXC_ILLEGAL            2
#define EXC_BREAKPOINT         3
#define EXC_LOAD_MISALIGNED    4
#define EXC_LOAD_ACCESS        5
#define EXC_STORE_MISALIGNED   6
#define EXC_STORE_ACCESS       7
#define EXC_ECALL_U            8
#define EXC_ECALL_S            9
#define EXC_INST_PAGE_FAULT    12
#define EXC_LOAD_PAGE_FAULT    13
#define EXC_STORE_PAGE_FAULT   15
#define IRQ_S_SOFT             1
#define IRQ_S_TIMER            5
#define IRQ_S_EXT              9

#define SATP_MODE_SHIFT 60
#define SATP_ASID_SHIFT 44
#define SATP_ASID_MASK  0xffffull
#define SATP_PPN_MASK   ((1ull << 44) - 1)

#define CSR_READ(name) ({ uint64_t v_; \
	__asm__ volatile("csrr %0, " #name : "=r"(v_)); v_; })
#define CSR_WRITE(name, val) \
	__asm__ volatile("csrw " #name ", %0" :: "rK"((uint64_t)(val)) : "memory")
#define CSR_SET(name, bits) \
	__asm__ volatile("csrs " #name ", %0" :: "rK"((uint64_t)(bits)) : "memory")
#define CSR_CLEAR(name, bits) \
	__asm__ volatile("csrc " #name ", %0" :: "rK"((uint64_t)(bits)) : "memory")
#define CSR_SWAP(name, val) ({ uint64_t v_; \
	__asm__ volatile("csrrw %0, " #name ", %1" : "=r"(v_) : "rK"((uint64_t)(val)) : "memory"); v_; })

static inline uint64_t r_sstatus(void) { return CSR_READ(sstatus); }
static inline void w_sstatus(uint64_t v) { CSR_WRITE(sstatus, v); }
static inline uint64_t r_satp(void) { return CSR_READ(satp); }
static inline uint64_t r_scause(void) { return CSR_READ(scause); }
static inline uint64_t r_stval(void) { return CSR_READ(stval); }
static inline uint64_t r_sepc(void) { return CSR_READ(sepc); }
static inline uint64_t r_time(void) { return CSR_READ(time); }
static inline uint64_t r_instret(void) { return CSR_READ(instret); }
static inline uint64_t r_cycle(void) { return CSR_READ(cycle); }
static inline void w_stvec(uint64_t v) { CSR_WRITE(stvec, v); }
static inline void w_sscratch(uint64_t v) { CSR_WRITE(sscratch, v); }
static inline uint64_t r_sscratch(void) { return CSR_READ(sscratch); }
static inline void w_sie(uint64_t v) { CSR_WRITE(sie, v); }
static inline void sie_set(uint64_t v) { CSR_SET(sie, v); }
static inline void sie_clear(uint64_t v) { CSR_CLEAR(sie, v); }
#define SIP_SSIP (1ull << 1)
static inline void sip_clear(uint64_t v) { CSR_CLEAR(sip, v); }

/* Write satp and drop every cached translation, as a mode or root change needs. */
static inline void w_satp(uint64_t v)
{
	__asm__ volatile("csrw satp, %0\n\tsfence.vma" :: "r"(v) : "memory");
}

/* Write satp without a fence: an ASID-tagged switch whose ASID holds no stale entry. */
static inline void w_satp_nofence(uint64_t v)
{
	__asm__ volatile("csrw satp, %0" :: "r"(v) : "memory");
}

static inline void sfence_vma_all(void)
{
	__asm__ volatile("sfence.vma" ::: "memory");
}
static inline void sfence_vma_va(uint64_t va)
{
	__asm__ volatile("sfence.vma %0, zero" :: "r"(va) : "memory");
}
static inline void sfence_vma_asid(uint64_t asid)
{
	__asm__ volatile("sfence.vma zero, %0" :: "r"(asid) : "memory");
}
static inline void sfence_vma_va_asid(uint64_t va, uint64_t asid)
{
	__asm__ volatile("sfence.vma %0, %1" :: "r"(va), "r"(asid) : "memory");
}
static inline void fence_i(void)
{
	__asm__ volatile("fence.i" ::: "memory");
}

/* Interrupt enable state: the previous state is returned so that sections nest. */
static inline uint64_t intr_save(void)
{
	uint64_t v;
	__asm__ volatile("csrrci %0, sstatus, 2" : "=r"(v) :: "memory");
	return v & SSTATUS_SIE;
}
static inline void intr_restore(uint64_t flags)
{
	if (flags & SSTATUS_SIE)
		__asm__ volatile("csrsi sstatus, 2" ::: "memory");
}
static inline void intr_on(void) { __asm__ volatile("csrsi sstatus, 2" ::: "memory"); }
static inline void intr_off(void) { __asm__ volatile("csrci sstatus, 2" ::: "memory"); }

static inline void wfi(void) { __asm__ volatile("wfi" ::: "memory"); }
static inline void cpu_relax(void) { __asm__ volatile("nop" ::: "memory"); }

/* Allow or forbid supervisor access to user pages (SUM); only uaccess.c uses these. */
static inline void sum_on(void) { CSR_SET(sstatus, SSTATUS_SUM); }
static inline void sum_off(void) { CSR_CLEAR(sstatus, SSTATUS_SUM); }

/* MMIO accessors: the volatile access and a fence so device writes are ordered. */
static inline uint32_t mmio_read32(uintptr_t a)
{
	uint32_t v = *(volatile uint32_t *)a;
	__asm__ volatile("fence i,r" ::: "memory");
	return v;
}
static inline void mmio_write32(uintptr_t a, uint32_t v)
{
	__asm__ volatile("fence w,o" ::: "memory");
	*(volatile uint32_t *)a = v;
}
static inline uint8_t mmio_read8(uintptr_t a)
{
	uint8_t v = *(volatile uint8_t *)a;
	__asm__ volatile("fence i,r" ::: "memory");
	return v;
}
static inline void mmio_write8(uintptr_t a, uint8_t v)
{
	__asm__ volatile("fence w,o" ::: "memory");
	*(volatile uint8_t *)a = v;
}

/* Atomic swap for the spinlock. */
static inline uint32_t atomic_swap32(volatile uint32_t *p, uint32_t v)
{
	uint32_t old;
	__asm__ volatile("amoswap.w.aq %0, %2, %1" : "=r"(old), "+A"(*p) : "r"(v) : "memory");
	return old;
}
static inline void atomic_release32(volatile uint32_t *p)
{
	__asm__ volatile("amoswap.w.rl zero, zero, %0" : "+A"(*p) :: "memory");
}

/* An SBI call (SBI v0.2+ calling convention): a7 = extension, a6 = function. */
struct sbiret { long error; long value; };
static inline struct sbiret sbi_call(long ext, long fid, unsigned long a0, unsigned long a1,
				     unsigned long a2)
{
	register unsigned long r0 __asm__("a0") = a0;
	register unsigned long r1 __asm__("a1") = a1;
	register unsigned long r2 __asm__("a2") = a2;
	register unsigned long r6 __asm__("a6") = (unsigned long)fid;
	register unsigned long r7 __asm__("a7") = (unsigned long)ext;
	__asm__ volatile("ecall" : "+r"(r0), "+r"(r1) : "r"(r2), "r"(r6), "r"(r7) : "memory");
	struct sbiret r = { (long)r0, (long)r1 };
	return r;
}

/* An SBI call with five arguments (RFENCE). */
static inline struct sbiret sbi_call5(long ext, long fid, unsigned long a0, unsigned long a1,
				      unsigned long a2, unsigned long a3, unsigned long a4)
{
	register unsigned long r0 __asm__("a0") = a0;
	register unsigned long r1 __asm__("a1") = a1;
	register unsigned long r2 __asm__("a2") = a2;
	register unsigned long r3 __asm__("a3") = a3;
	register unsigned long r4 __asm__("a4") = a4;
	register unsigned long r6 __asm__("a6") = (unsigned long)fid;
	register unsigned long r7 __asm__("a7") = (unsigned long)ext;
	__asm__ volatile("ecall" : "+r"(r0), "+r"(r1) : "r"(r2), "r"(r3), "r"(r4), "r"(r6),
			 "r"(r7) : "memory");
	struct sbiret r = { (long)r0, (long)r1 };
	return r;
}

#endif /* KERNEL_RISCV_H */
