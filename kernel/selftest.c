/*
 * kernel/selftest.c - the in-kernel self-tests, run in S-mode in every paging mode.
 * Each check counts as one test; the run ends with "N passed, N failed".
 */
#include "early.h"
#include "fdt.h"
#include "cpu.h"
#include "kernel.h"
#include "memlayout.h"
#include "riscv.h"
#include "vm.h"


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
	KCHECK_EQ(probe_load((svmm_va_t)(uintptr_t)&marker, &v), 0);
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

/* ---- a tiny device-tree writer, to feed fdt_parse blobs with known contents ---- */

struct fdtw {
	uint8_t buf[1024];
	uint32_t len;            /* structure block bytes written, after the header */
	char strings[256];
	uint32_t slen;
};

#define FDTW_HDR 40
#define FDTW_RSV 32          /* one memreserve entry and the terminating pair */

static void w32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static void fdtw_u32(struct fdtw *w, uint32_t v)
{
	w32(w->buf + FDTW_HDR + FDTW_RSV + w->len, v);
	w->len += 4;
}

static void fdtw_bytes(struct fdtw *w, const void *d, uint32_t n)
{
	memcpy(w->buf + FDTW_HDR + FDTW_RSV + w->len, d, n);
	w->len += n;
	while (w->len & 3)
		w->buf[FDTW_HDR + FDTW_RSV + w->len++] = 0;
}

static void fdtw_begin(struct fdtw *w, const char *name)
{
	fdtw_u32(w, 1);
	fdtw_bytes(w, name, (uint32_t)strlen(name) + 1);
}

static void fdtw_prop(struct fdtw *w, const char *name, const void *val, uint32_t n)
{
	uint32_t off = w->slen;
	memcpy(w->strings + off, name, strlen(name) + 1);
	w->slen += (uint32_t)strlen(name) + 1;
	fdtw_u32(w, 3);
	fdtw_u32(w, n);
	fdtw_u32(w, off);
	fdtw_bytes(w, val, n);
}

static void fdtw_cells(struct fdtw *w, const char *name, const uint32_t *c, unsigned n)
{
	uint8_t v[32];
	for (unsigned i = 0; i < n; i++)
		w32(v + 4 * i, c[i]);
	fdtw_prop(w, name, v, 4 * n);
}

/* Finish: header, one memreserve entry [0x9000_0000, +64 KiB), strings. */
static uint32_t fdtw_finish(struct fdtw *w)
{
	fdtw_u32(w, 9);
	uint32_t off_struct = FDTW_HDR + FDTW_RSV, off_strings = off_struct + w->len;
	memcpy(w->buf + off_strings, w->strings, w->slen);
	uint32_t total = off_strings + w->slen;
	memset(w->buf, 0, FDTW_HDR + FDTW_RSV);
	w32(w->buf, 0xd00dfeed);
	w32(w->buf + 4, total);
	w32(w->buf + 8, off_struct);
	w32(w->buf + 12, off_strings);
	w32(w->buf + 16, FDTW_HDR);
	w32(w->buf + 20, 17);
	w32(w->buf + 24, 16);
	w32(w->buf + 32, w->slen);
	w32(w->buf + 36, w->len);
	w32(w->buf + FDTW_HDR + 4, 0x90000000);
	w32(w->buf + FDTW_HDR + 12, 0x10000);
	return total;
}

/* A blob with two memory ranges, a reserved-memory child, an initrd, bootargs and a
   UART under a bus with one address cell: everything fdt_parse must find. */
static void test_fdt_synthetic(void)
{
	static struct fdtw w;
	memset(&w, 0, sizeof w);
	static const uint32_t two[] = { 2 }, one[] = { 1 };
	fdtw_begin(&w, "");
	fdtw_cells(&w, "#address-cells", two, 1);
	fdtw_cells(&w, "#size-cells", two, 1);
	fdtw_begin(&w, "memory@80000000");
	fdtw_prop(&w, "device_type", "memory", 7);
	static const uint32_t mem[] = { 0, 0x80000000, 0, 0x10000000, 1, 0, 0, 0x20000000 };
	fdtw_cells(&w, "reg", mem, 8);
	fdtw_u32(&w, 2);
	fdtw_begin(&w, "reserved-memory");
	fdtw_cells(&w, "#address-cells", two, 1);
	fdtw_cells(&w, "#size-cells", two, 1);
	fdtw_begin(&w, "fw@80000000");
	static const uint32_t fw[] = { 0, 0x80000000, 0, 0x80000 };
	fdtw_cells(&w, "reg", fw, 4);
	fdtw_u32(&w, 2);
	fdtw_u32(&w, 2);
	fdtw_begin(&w, "chosen");
	fdtw_prop(&w, "bootargs", "svmm.mode=sv48 x=1", 19);
	static const uint32_t rs[] = { 0x88000000 }, re[] = { 0x88100000 };
	fdtw_cells(&w, "linux,initrd-start", rs, 1);
	fdtw_cells(&w, "linux,initrd-end", re, 1);
	fdtw_u32(&w, 2);
	fdtw_begin(&w, "soc");
	fdtw_cells(&w, "#address-cells", one, 1);
	fdtw_cells(&w, "#size-cells", one, 1);
	fdtw_begin(&w, "serial@10000000");
	fdtw_prop(&w, "compatible", "ns16550a", 9);
	static const uint32_t uart[] = { 0x10000000, 0x100 };
	fdtw_cells(&w, "reg", uart, 2);
	fdtw_u32(&w, 2);
	fdtw_u32(&w, 2);
	fdtw_u32(&w, 2);
	uint32_t total = fdtw_finish(&w);

	static struct fdt_info fi;
	KCHECK_EQ(fdt_parse(w.buf, total, &fi), 0);
	KCHECK_EQ(fi.nram, 2);
	KCHECK_EQ(fi.ram[0].base, 0x80000000);
	KCHECK_EQ(fi.ram[0].size, 0x10000000);
	KCHECK_EQ(fi.ram[1].base, 0x100000000ull);
	KCHECK_EQ(fi.ram[1].size, 0x20000000);
	KCHECK_EQ(fi.nreserved, 3);   /* memreserve, reserved-memory child, initrd */
	KCHECK_EQ(fi.reserved[0].base, 0x90000000);
	KCHECK_EQ(fi.reserved[1].size, 0x80000);
	KCHECK_EQ(fi.reserved[2].base, 0x88000000);
	KCHECK_EQ(fi.reserved[2].size, 0x100000);
	KCHECK(strcmp(fi.bootargs, "svmm.mode=sv48 x=1") == 0);
	KCHECK_EQ(fi.uart.base, 0x10000000);
	KCHECK_EQ(fi.uart.size, 0x100);
	KCHECK_EQ(fi.total_size, total);
	/* Unbalanced nesting and a cut-off structure block are refused. */
	w32(w.buf + FDTW_HDR + FDTW_RSV + w.len - 8, 4);   /* an END_NODE becomes a NOP */
	KCHECK_EQ(fdt_parse(w.buf, total, &fi), SVMM_EINVAL);
	KCHECK_EQ(fdt_parse(w.buf, total - 1, &fi), SVMM_EINVAL);
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

/* The image is W^X by section, and the page under the boot stack is a guard. */
static void test_image_wx(void)
{
	static const uint16_t ret_in_rodata = 0x8082;   /* c.ret */
	static uint16_t ret_in_data = 0x8082;
	uint8_t v;
	KCHECK_EQ(probe_load((svmm_va_t)(uintptr_t)test_image_wx, &v), 0);
	KCHECK_EQ(probe_store((svmm_va_t)(uintptr_t)test_image_wx, v), 1);
	KCHECK_EQ(last_fault_cause, EXC_STORE_PAGE_FAULT);
	KCHECK_EQ(probe_store((svmm_va_t)(uintptr_t)&ret_in_rodata, 0x82), 1);
	fence_i();
	probe_exec_active = (svmm_va_t)(uintptr_t)&ret_in_rodata;
	KCHECK_EQ(probe_exec((svmm_va_t)(uintptr_t)&ret_in_rodata), 1);
	probe_exec_active = (svmm_va_t)(uintptr_t)&ret_in_data;
	KCHECK_EQ(probe_exec((svmm_va_t)(uintptr_t)&ret_in_data), 1);
	KCHECK_EQ(last_fault_cause, EXC_INST_PAGE_FAULT);
	probe_exec_active = 0;
	KCHECK_EQ(probe_store((svmm_va_t)(uintptr_t)&ret_in_data, 0x82), 0);
	KCHECK_EQ(probe_load((svmm_va_t)(uintptr_t)_stack_guard, &v), 1);
	KCHECK_EQ(probe_load((svmm_va_t)(uintptr_t)_stack_guard + SVMM_PAGE_SIZE - 1, &v), 1);
	KCHECK_EQ(probe_load((svmm_va_t)(uintptr_t)_stack_bottom, &v), 0);
}

/* The direct map holds RAM only, up to the window, with the largest pages that fit. */
static void test_dmap(void)
{
	svmm_pa_t pa;
	uint64_t leaf;
	uint8_t v;
	for (unsigned i = 0; i < fdt.nram; i++) {
		svmm_pa_t b = fdt.ram[i].base, e = b + fdt.ram[i].size;
		if (b >= vm_dmap_end)
			continue;
		KCHECK_EQ(pt_translate(&kpt, dmap_base() + b, PT_R | PT_W, 0, &pa, &leaf), 0);
		KCHECK_EQ(pa, b);
		/* Gigapages in every mode (in Sv39 they are root entries, set at boot). */
		uint64_t want = SVMM_GiB;
		if (SVMM_IS_ALIGNED(b, want) && (e < vm_dmap_end ? e : vm_dmap_end) - b >= want)
			KCHECK_EQ(leaf, want);
		/* Not executable. */
		KCHECK_EQ(pt_translate(&kpt, dmap_base() + b, PT_X, 0, NULL, NULL), SVMM_EFAULT);
		if (e > vm_dmap_end) {
			/* RAM above the window is not mapped there: only kmap reaches it. */
			KCHECK_EQ(pt_translate(&kpt, dmap_base() + vm_dmap_end, PT_R, 0, NULL, NULL),
				  SVMM_EFAULT);
			KCHECK_EQ(probe_load(dmap_base() + vm_dmap_end, &v), 1);
		}
	}
	/* MMIO is never in the direct map. */
	if (fdt.uart.size)
		KCHECK_EQ(pt_translate(&kpt, dmap_base() + fdt.uart.base, PT_R, 0, NULL, NULL),
			  SVMM_EFAULT);
}

/* What the kernel mapped agrees with the shared layout. */
struct area_check { unsigned bad, leaves; };

static int check_leaf_area(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	struct area_check *c = ctx;
	enum layout_area a = layout_area_of(&klayout, va);
	enum layout_area e = layout_area_of(&klayout, va + size - 1);
	bool ok = a == e && (a == LAYOUT_KARENA || a == LAYOUT_FIXMAP || a == LAYOUT_KIMAGE ||
			     (a == LAYOUT_DMAP && pa == va - klayout.dmap_base));
	/* Only the image may be executable, and nothing in the kernel half is U. */
	ok = ok && !(pte & SVMM_PTE_U) && (!(pte & SVMM_PTE_X) || a == LAYOUT_KIMAGE);
	/* Nothing writable and executable. */
	ok = ok && !((pte & SVMM_PTE_W) && (pte & SVMM_PTE_X));
	c->bad += !ok;
	c->leaves++;
	return 0;
}

static void test_layout(void)
{
	struct area_check c = { 0, 0 };
	svmm_va_t kb = svmm_kernel_base(boot.mode);
	KCHECK_EQ(pt_walk(&kpt, kb, 0 - kb, check_leaf_area, &c), 0);
	KCHECK(c.leaves > 0);
	KCHECK_EQ(c.bad, 0);
	KCHECK_EQ(layout_area_of(&klayout, KERNEL_VIRT), LAYOUT_KIMAGE);
	KCHECK_EQ(layout_area_of(&klayout, dmap_base()), LAYOUT_DMAP);
	if (vm_dmap_end < svmm_dmap_size(boot.mode))   /* a shrunken window ends in a hole */
		KCHECK_EQ(layout_area_of(&klayout, dmap_base() + vm_dmap_end), LAYOUT_NONE);
	KCHECK_EQ(klayout.dmap_size, vm_dmap_end);
}

/* kmap reaches any frame, also above the window; the fixmap runs out cleanly. */
static void test_kmap(void)
{
	svmm_pa_t pa;
	uint64_t free0 = pmem_free_frames(&kpmem), tables0 = vm_tables_live;
	KCHECK_EQ(pmem_alloc(&kpmem, 0, PMEM_ANY, &pa), 0);   /* the highest free frame */
	uint64_t *p = kmap(pa);
	KCHECK(p != NULL);
	if (!p)
		return;
	for (unsigned i = 0; i < 512; i++)
		p[i] = pa ^ i;
	void *other = kmap(pa);
	KCHECK(other != NULL && other != (void *)p);
	kunmap(p);
	/* A stale translation would still let this read succeed: it must fault now. */
	uint8_t v;
	KCHECK_EQ(probe_load((svmm_va_t)(uintptr_t)p, &v), 1);
	uint64_t *q = other;
	bool same = true;
	for (unsigned i = 0; i < 512; i++)
		same &= q[i] == (pa ^ i);
	KCHECK(same);
	kunmap(other);
	static void *slots[SVMM_FIXMAP_SIZE / SVMM_PAGE_SIZE];
	unsigned n = 0;
	while (n < ARRAY_SIZE(slots) && (slots[n] = kmap(pa)) != NULL)
		n++;
	/* One word of 64 slots per hart; the last slot of all (hart 7's) anchors the table. */
	KCHECK_EQ(n, mycpu()->id == NCPU - 1 ? 63u : 64u);
	KCHECK(kmap(pa) == NULL);
	while (n)
		kunmap(slots[--n]);
	KCHECK_EQ(pmem_free(&kpmem, pa, 0), 0);
	KCHECK_EQ(pmem_free_frames(&kpmem), free0);
	KCHECK_EQ(vm_tables_live, tables0);
	if (vm_dmap_end < fdt.ram[fdt.nram - 1].base + fdt.ram[fdt.nram - 1].size)
		KCHECK(pa >= vm_dmap_end);   /* the test really went beyond the window */
}

/* ioremap refuses bad ranges; a kernel stack has a guard page. */
static void test_arena(void)
{
	svmm_va_t va, top;
	KCHECK_EQ(ioremap(0x10000000, 0, &va), SVMM_EZEROSIZE);
	KCHECK_EQ(ioremap(~0ull - 100, 4096, &va), SVMM_EOVERFLOW);
	KCHECK_EQ(iounmap(svmm_kio_base(boot.mode) + (512ull << 20)), SVMM_ENOENT);
	/* Map the UART a second time, read a register, unmap: the address then faults,
	   and the slot and the range are reusable. */
	uint8_t v;
	unsigned good = 0;
	for (unsigned round = 0; round < 20; round++) {
		/* The LSR register: reading it has no side effects. */
		bool ok = ioremap(fdt.uart.base + 5, 1, &va) == 0;
		ok = ok && (va & (SVMM_PAGE_SIZE - 1)) == 5 && probe_load(va, &v) == 0;
		ok = ok && iounmap(va) == 0 && probe_load(va, &v) == 1;
		good += ok;
	}
	KCHECK_EQ(good, 20);
	KCHECK_EQ(iounmap(va), SVMM_ENOENT);
	KCHECK_EQ(kstack_alloc(8192, &top), 0);
	KCHECK_EQ(probe_store(top - 8, 1), 0);
	KCHECK_EQ(probe_store(top - 8192, 1), 0);
	KCHECK_EQ(probe_load(top - 8192 - 1, &v), 1);
	KCHECK_EQ(probe_load(top, &v), 1);
	KCHECK_EQ(vmem_check(&karena, NULL, NULL), 0);
	KCHECK_EQ(pt_check(&kpt, NULL, NULL), 0);
	KCHECK_EQ(pmem_check(&kpmem, NULL, NULL), 0);
}

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

void selftest_run(void)
{
	kprintf("self-tests:\n");
	unsigned p0 = ktests.passed, f0 = ktests.failed;
	test_trap_fixup();
	test_mode();
	test_cmdline_fdt();
	test_fdt_synthetic();
	test_image_wx();
	test_layout();
	test_dmap();
	test_kmap();
	test_arena();
	test_difftest();
	kprintf("self-tests: %u checks passed, %u failed\n", ktests.passed - p0, ktests.failed - f0);
}

