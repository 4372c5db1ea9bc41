/*
 * kernel/difftest.c - the differential test against the real MMU.
 *
 * Random mappings are built with the library in a fresh page table (4 KiB and 2 MiB
 * leaves, every permission combination, with and without U, then random partial
 * unmaps and protects that split huge pages), the table is loaded into satp, and for
 * many sampled addresses the software walk (pt_translate) is compared with what a real
 * load, store and instruction fetch do under each combination of SUM and MXR. A fault
 * is caught by the trap handler through the exception table (probe_*). Loads also
 * compare the byte read with the byte at the physical address pt_translate named, and
 * stores check that the byte changed at exactly that address, so the test checks the
 * translation's target as well as its permission.
 *
 * The seed is printed and can be replayed with svmm.seed=N on the command line.
 */
#include <svmm/pmem.h>
#include <svmm/pt.h>

#include "fdt.h"
#include "kernel.h"
#include "memlayout.h"
#include "riscv.h"
#include "vm.h"

#define DT_BASE      0x40000000ull
#define DT_SPAN      (64ull << 20)
#define DT_MAPS      96
#define DT_CHANGES   24
#define DT_SAMPLES   1500
#define DT_UCODE     0x3f000000ull   /* the U-mode probe code page, outside the span */

extern struct trapframe uprobe_tf;
extern const char uprobe_code[], uprobe_code_end[];
uint64_t uprobe_enter(struct trapframe *tf);

/* Run the U-mode probe at offset off (0 load, 8 store, 16 fetch) on va: 0 or 1 (fault). */
static int uprobe(unsigned off, svmm_va_t va, uint8_t val, uint8_t *out, bool mxr)
{
	memset(&uprobe_tf, 0, sizeof uprobe_tf);
	uprobe_tf.sepc = DT_UCODE + off;
	TF_A(&uprobe_tf, 0) = va;
	TF_A(&uprobe_tf, 1) = val;
	if (mxr)
		CSR_SET(sstatus, SSTATUS_MXR);
	uint64_t cause = uprobe_enter(&uprobe_tf);
	CSR_CLEAR(sstatus, SSTATUS_MXR);
	last_fault_cause = cause;
	if (cause == EXC_ECALL_U) {
		if (out)
			*out = (uint8_t)uprobe_tf.x[5];
		return 0;
	}
	if (cause != EXC_LOAD_PAGE_FAULT && cause != EXC_STORE_PAGE_FAULT &&
	    cause != EXC_INST_PAGE_FAULT)
		panic("difftest: U-mode probe ended with %s at %p", trap_cause_name(cause),
		      (void *)uprobe_tf.sepc);
	return 1;
}

static uint64_t rng;

static uint64_t rnd(void)
{
	/* xorshift64, as bench/bench.h */
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint64_t rnd_below(uint64_t n)
{
	return rnd() % n;
}

struct dt_stats {
	unsigned maps, maps_exist, maps_perm, changes;
	unsigned loads, stores, fetches, uaccesses, faults, disagree;
};

static void report(const char *what, svmm_va_t va, unsigned priv, int sw, int hw)
{
	kprintf("difftest: %s at %p (SUM %d MXR %d): software %s, MMU %s (cause %lu)\n", what,
		(void *)va, (priv & PT_SUM) != 0, (priv & PT_MXR) != 0, sw ? "faults" : "allows",
		hw ? "faulted" : "allowed", (unsigned long)last_fault_cause);
}

static void set_priv(unsigned priv)
{
	uint64_t bits = ((priv & PT_SUM) ? SSTATUS_SUM : 0) | ((priv & PT_MXR) ? SSTATUS_MXR : 0);
	CSR_CLEAR(sstatus, SSTATUS_SUM | SSTATUS_MXR);
	CSR_SET(sstatus, bits);
}

/* Compare one address under one privilege; stores and fetches only inside the test span. */
static void sample(struct pt *t, svmm_pa_t blk, svmm_va_t va, unsigned priv, bool in_span,
		   struct dt_stats *st)
{
	svmm_pa_t pa = 0;
	uint8_t v = 0;

	int sw = pt_translate(t, va, PT_R, priv, &pa, NULL);
	set_priv(priv);
	int hw = probe_load(va, &v);
	set_priv(0);
	st->loads++;
	st->faults += hw != 0;
	if ((sw == 0) != (hw == 0)) {
		st->disagree++;
		report("load", va, priv, sw, hw);
	} else if (sw == 0 && pa < vm_dmap_end && v != *(volatile uint8_t *)__va(pa)) {
		st->disagree++;
		kprintf("difftest: load at %p read %u, software's pa %p holds %u\n", (void *)va, v,
			(void *)pa, *(volatile uint8_t *)__va(pa));
	}
	if (!in_span)
		return;

	sw = pt_translate(t, va, PT_W, priv, &pa, NULL);
	if (sw == 0 && (pa < blk || pa >= blk + (2ull << 20))) {
		st->disagree++;
		kprintf("difftest: %p translates outside the test block: %p\n", (void *)va, (void *)pa);
		return;
	}
	/* Store a different byte; it must land at the software's pa, then restore it. */
	uint8_t *dm = sw == 0 ? (uint8_t *)__va(pa) : NULL;
	uint8_t old = dm ? *dm : 0;
	set_priv(priv);
	hw = probe_store(va, (uint8_t)(old ^ 0x5a));
	set_priv(0);
	st->stores++;
	st->faults += hw != 0;
	if ((sw == 0) != (hw == 0)) {
		st->disagree++;
		report("store", va, priv, sw, hw);
	} else if (sw == 0 && *(volatile uint8_t *)dm != (uint8_t)(old ^ 0x5a)) {
		st->disagree++;
		kprintf("difftest: store at %p did not reach pa %p\n", (void *)va, (void *)pa);
	}
	if (dm)
		*dm = old;

	/* Fetch: the block holds c.ret everywhere, so a fetch that succeeds returns. */
	svmm_va_t x = va & ~1ull;
	sw = pt_translate(t, x, PT_X, priv, NULL, NULL);
	fence_i();
	set_priv(priv);
	probe_exec_active = x;
	hw = probe_exec(x);
	probe_exec_active = 0;
	set_priv(0);
	st->fetches++;
	st->faults += hw != 0;
	if ((sw == 0) != (hw == 0)) {
		st->disagree++;
		report("fetch", x, priv, sw, hw);
	}
}

/* The same three accesses made from U-mode (MXR on or off), inside the span only. */
static void usample(struct pt *t, svmm_pa_t blk, svmm_va_t va, bool mxr, struct dt_stats *st)
{
	unsigned priv = PT_PRIV_U | (mxr ? PT_MXR : 0);
	svmm_pa_t pa = 0;
	uint8_t v = 0;
	int sw = pt_translate(t, va, PT_R, priv, &pa, NULL);
	int hw = uprobe(0, va, 0, &v, mxr);
	st->uaccesses++;
	st->faults += hw != 0;
	if ((sw == 0) != (hw == 0)) {
		st->disagree++;
		report("U-mode load", va, priv, sw, hw);
	} else if (sw == 0 && v != *(volatile uint8_t *)__va(pa)) {
		st->disagree++;
		kprintf("difftest: U-mode load at %p read %u, pa %p holds %u\n", (void *)va, v,
			(void *)pa, *(volatile uint8_t *)__va(pa));
	}
	sw = pt_translate(t, va, PT_W, priv, &pa, NULL);
	uint8_t *dm = sw == 0 ? (uint8_t *)__va(pa) : NULL;
	uint8_t old = dm ? *dm : 0;
	if (sw == 0 && (pa < blk || pa >= blk + (2ull << 20))) {
		st->disagree++;
		return;
	}
	hw = uprobe(8, va, (uint8_t)(old ^ 0xa5), NULL, mxr);
	st->uaccesses++;
	st->faults += hw != 0;
	if ((sw == 0) != (hw == 0)) {
		st->disagree++;
		report("U-mode store", va, priv, sw, hw);
	} else if (sw == 0 && *(volatile uint8_t *)dm != (uint8_t)(old ^ 0xa5)) {
		st->disagree++;
		kprintf("difftest: U-mode store at %p did not reach pa %p\n", (void *)va, (void *)pa);
	}
	if (dm)
		*dm = old;
	svmm_va_t x = va & ~1ull;
	sw = pt_translate(t, x, PT_X, priv, NULL, NULL);
	fence_i();
	hw = uprobe(16, x, 0, NULL, mxr);
	st->uaccesses++;
	st->faults += hw != 0;
	if ((sw == 0) != (hw == 0)) {
		st->disagree++;
		report("U-mode fetch", x, priv, sw, hw);
	}
}

static unsigned random_perm(void)
{
	static const unsigned perms[] = {
		PT_R, PT_R | PT_W, PT_R | PT_X, PT_X, PT_R | PT_W | PT_X,
	};
	unsigned p = perms[rnd_below(ARRAY_SIZE(perms))];
	if (rnd() & 1)
		p |= PT_U;
	return p;
}

void difftest_run(uint64_t seed);

void difftest_run(uint64_t seed)
{
	rng = seed ? seed : 42;
	kprintf("difftest: seed %lu (replay with svmm.seed=%lu)\n", (unsigned long)rng,
		(unsigned long)rng);
	struct dt_stats st;
	memset(&st, 0, sizeof st);

	/* A 2 MiB block of direct-mapped RAM, all c.ret (0x8082), backs every mapping. */
	svmm_pa_t blk;
	int err = pmem_alloc(&kpmem, 9, vm_dmap_end, &blk);
	KCHECK_EQ(err, 0);
	if (err)
		return;
	uint16_t *h = __va(blk);
	for (uint64_t i = 0; i < (2ull << 20) / 2; i++)
		h[i] = 0x8082;
	/* Every byte pattern is the same, so fetches anywhere return; the store check is
	   what tells frames apart. */

	static struct pt t;
	static struct { svmm_va_t va; uint64_t size; } mapped[DT_MAPS];
	err = pt_init(&t, boot.mode, 0);
	KCHECK_EQ(err, 0);
	if (err) {
		pmem_free(&kpmem, blk, 9);
		return;
	}
	pt_clone_kernel(&t, &kpt);

	/* The U-mode probe code: one user page, R-X. */
	svmm_pa_t code;
	err = pmem_alloc(&kpmem, 0, vm_dmap_end, &code);
	KCHECK_EQ(err, 0);
	if (err) {
		pt_destroy(&t, pt_leaf_ignore, NULL);
		pmem_free(&kpmem, blk, 9);
		return;
	}
	memset(__va(code), 0, SVMM_PAGE_SIZE);
	memcpy(__va(code), uprobe_code, (size_t)(uprobe_code_end - uprobe_code));
	KCHECK_EQ(pt_map(&t, DT_UCODE, code, SVMM_PAGE_SIZE, PT_R | PT_X | PT_U), 0);
	fence_i();

	for (unsigned i = 0; i < DT_MAPS; i++) {
		bool huge = rnd_below(4) == 0;
		uint64_t size = huge ? (2ull << 20) : SVMM_PAGE_SIZE * (1 + rnd_below(4));
		svmm_va_t va = DT_BASE + SVMM_ALIGN_DOWN(rnd_below(DT_SPAN - size), huge ? size : SVMM_PAGE_SIZE);
		svmm_pa_t pa = huge ? blk : blk + SVMM_PAGE_SIZE * rnd_below(512 - 4);
		unsigned fl = random_perm() | (rnd_below(4) == 0 ? PT_REPLACE : 0);
		err = pt_map(&t, va, pa, size, fl);
		if (err == 0) {
			mapped[st.maps].va = va;
			mapped[st.maps++].size = size;
		} else if (err == SVMM_EEXIST) {
			st.maps_exist++;     /* overlaps an earlier mapping, without PT_REPLACE */
		} else if (err == SVMM_EPERM) {
			st.maps_perm++;      /* a combination pt refuses */
		} else {
			KCHECK_EQ(err, 0);
		}
	}
	for (unsigned i = 0; i < DT_CHANGES; i++) {
		svmm_va_t va = DT_BASE + SVMM_ALIGN_DOWN(rnd_below(DT_SPAN), SVMM_PAGE_SIZE);
		uint64_t size = SVMM_PAGE_SIZE * (1 + rnd_below(16));
		if (va + size > DT_BASE + DT_SPAN)
			continue;
		if (rnd() & 1)
			err = pt_unmap(&t, va, size, PT_MISSING_OK);
		else {
			unsigned p = random_perm();
			err = pt_protect(&t, va, size, p, PT_PERMS & ~p, PT_MISSING_OK);
		}
		if (err == 0)
			st.changes++;
		else if (err != SVMM_EPERM)
			KCHECK_EQ(err, 0);
	}
	KCHECK_EQ(pt_check(&t, NULL, NULL), 0);

	w_satp(pt_satp(&t));
	static const unsigned privs[4] = { 0, PT_SUM, PT_MXR, PT_SUM | PT_MXR };
	for (unsigned i = 0; i < DT_SAMPLES; i++) {
		svmm_va_t va;
		bool in_span = true;
		unsigned kind = (unsigned)rnd_below(10);
		if (kind < 4 && st.maps) {
			/* Inside something mapped once (it may have been unmapped or changed since). */
			unsigned m = (unsigned)rnd_below(st.maps);
			va = mapped[m].va + rnd_below(mapped[m].size);
		} else if (kind < 7) {
			va = DT_BASE + rnd_below(DT_SPAN);
		} else if (kind == 7) {
			/* The kernel image, including the guard page under the boot stack. */
			in_span = false;
			va = KERNEL_VIRT + rnd_below((uint64_t)(_kernel_end - _kernel_start));
		} else if (kind == 8) {
			in_span = false;
			va = dmap_base() + blk + rnd_below(2ull << 20);
		} else {
			/* Non-canonical or unmapped user/kernel-half addresses. */
			in_span = false;
			va = rnd();
			svmm_pa_t pa;
			if (pt_translate(&t, va, PT_R, PT_SUM | PT_MXR, &pa, NULL) == 0 &&
			    !(va >= dmap_base() && va < dmap_base() + vm_dmap_end))
				continue;   /* mapped MMIO: reading it could have side effects */
		}
		for (unsigned p = 0; p < 4; p++)
			sample(&t, blk, va, privs[p], in_span, &st);
		if (in_span) {
			usample(&t, blk, va, false, &st);
			usample(&t, blk, va, true, &st);
		}
	}
	/* The comparison must have teeth: against a wrong model (U-mode loads judged by the
	   S-mode rules) it has to find disagreements. */
	unsigned wrong = 0;
	for (unsigned i = 0; i < 200 && st.maps; i++) {
		unsigned m = (unsigned)rnd_below(st.maps);
		svmm_va_t va = mapped[m].va + rnd_below(mapped[m].size);
		int sw = pt_translate(&t, va, PT_R, 0, NULL, NULL);
		uint8_t v;
		int hw = uprobe(0, va, 0, &v, false);
		wrong += (sw == 0) != (hw == 0);
	}
	w_satp(pt_satp(&kpt));
	kprintf("difftest: against a deliberately wrong model, %u of 200 samples disagree\n", wrong);
	KCHECK(wrong > 0);

	kprintf("difftest: %u mappings (%u overlapping and %u refused by pt), %u unmap/protect "
		"changes, S-mode: %u loads, %u stores, %u fetches, U-mode: %u accesses "
		"(%u faulted in all): %u disagreements\n",
		st.maps, st.maps_exist, st.maps_perm,
		st.changes, st.loads, st.stores, st.fetches, st.uaccesses, st.faults, st.disagree);
	KCHECK(st.maps > DT_MAPS / 2);
	KCHECK(st.faults > 0 && st.faults < st.loads + st.stores + st.fetches + st.uaccesses);
	KCHECK(st.uaccesses > 0);
	KCHECK_EQ(st.disagree, 0);
	pt_destroy(&t, pt_leaf_ignore, NULL);
	KCHECK_EQ(pmem_free(&kpmem, blk, 9), 0);
	KCHECK_EQ(pmem_free(&kpmem, code, 0), 0);
}
