/*
 * kernel/vm.c - the kernel half of the address space (DESIGN section 1), built once at
 * boot and never changed at the root afterwards.
 *
 * Order matters: pmem needs its frame database reachable, and the early table maps the
 * direct map of the two gigabytes from the image's gigabyte up, so the database and
 * every early page-table frame are taken below min(dmap limit, that end). Then the
 * final table is built with the library (pt_init_kernel gives every kernel root slot a
 * table, so address spaces copy 256 root entries and nothing more), satp switches to
 * it, and the early table is dropped.
 */
#include "vm.h"

#include <svmm/vmem_trace.h>

#include "early.h"
#include "fdt.h"
#include "cpu.h"
#include "kernel.h"
#include "memlayout.h"
#include "riscv.h"

struct svmm_layout klayout;
struct pmem kpmem;
struct pt kpt;
struct vmem karena;
svmm_pa_t vm_dmap_end;
uint64_t vm_tables_live;
uint64_t vm_flushes;
uint64_t vm_kmaps;

/* The fixmap: 512 slots of 4 KiB under the image, 64 per hart (NCPU = 8). */
#define FIXMAP_SLOTS (SVMM_FIXMAP_SIZE / SVMM_PAGE_SIZE)
static uint64_t fixmap_used[FIXMAP_SLOTS / 64];

static uint64_t karena_pages;

static int karena_page_alloc(void *ctx, void **page)
{
	(void)ctx;
	svmm_pa_t pa;
	if (pmem_alloc(&kpmem, 0, vm_dmap_end, &pa) != 0)
		return SVMM_ENOMEM;
	karena_pages++;
	*page = __va(pa);
	return 0;
}

static void karena_page_free(void *ctx, void *page)
{
	(void)ctx;
	karena_pages--;
	if (pmem_free(&kpmem, __pa(page), 0) != 0)
		panic("karena: freeing page %p failed", page);
}

static const struct vmem_page_source karena_src = {
	karena_page_alloc, karena_page_free, NULL
};

/*
 * The kernel arena's trace (svmm.vmtrace=1): every operation as one "vmt" line on the
 * console, so that a boot can be replayed on the host with tools/vmem-trace.
 */
static struct vmem_trace karena_trace;

static void trace_line(void *ctx, const char *line)
{
	(void)ctx;
	kprintf("%s\n", line);
}

void vm_trace_state(void)
{
	vmem_trace_state(&karena_trace, &karena);
}

static void map_or_panic(svmm_va_t va, svmm_pa_t pa, uint64_t size, unsigned flags, const char *what)
{
	int err = pt_map(&kpt, va, pa, size, flags);
	if (err)
		panic("mapping %s [%p, %p) -> %p: %s", what, (void *)va, (void *)(va + size),
		      (void *)pa, svmm_strerror(err));
}

static svmm_pa_t image_pa(const void *sym)
{
	return early_load_pa + ((svmm_va_t)(uintptr_t)sym - KERNEL_VIRT);
}

void vm_init(void)
{
	enum svmm_mode mode = boot.mode;
	/* The shared layout decides the window: a limit is rounded down to gigabytes. */
	int err = layout_init(&klayout, mode, boot.dmap_limit);
	if (err)
		panic("layout_init(%s, dmap_limit %p): %s (svmm.dmap_limit must be at least 1G)",
		      svmm_mode_name(mode), (void *)boot.dmap_limit, svmm_strerror(err));
	vm_dmap_end = klayout.dmap_size;

	/* RAM and holes: the device tree's reservations, the image and the blob itself. */
	struct pmem_range ram[FDT_MAX_RANGES], res[FDT_MAX_RANGES + 2];
	unsigned nres = 0;
	for (unsigned i = 0; i < fdt.nram; i++) {
		ram[i].base = fdt.ram[i].base;
		ram[i].size = fdt.ram[i].size;
	}
	for (unsigned i = 0; i < fdt.nreserved; i++) {
		res[nres].base = fdt.reserved[i].base;
		res[nres++].size = fdt.reserved[i].size;
	}
	res[nres].base = early_load_pa;
	res[nres++].size = (uint64_t)(_kernel_end - _kernel_start);
	res[nres].base = boot.dtb_pa;
	res[nres++].size = boot.dtb_size;

	/* What the early table reaches: two gigabytes from the image's gigabyte. */
	svmm_pa_t early_end = SVMM_ALIGN_DOWN(early_load_pa, SVMM_GiB) + 2 * SVMM_GiB;
	svmm_pa_t meta_limit = vm_dmap_end < early_end ? vm_dmap_end : early_end;
	err = pmem_init(&kpmem, ram, fdt.nram, res, nres, meta_limit);
	if (err)
		panic("pmem_init: %s", svmm_strerror(err));
	svmm_pa_t saved_end = vm_dmap_end;
	vm_dmap_end = meta_limit;   /* table frames must be early-reachable until the switch */

	err = pt_init_kernel(&kpt, mode);
	if (err)
		panic("pt_init_kernel: %s", svmm_strerror(err));

	/*
	 * The direct map: RAM only, clipped to the window; pt picks gigapages. In Sv39 a
	 * gigapage is a root entry: PT_BOOT lets pt place it there now, before any address
	 * space copies the kernel half, so the root still never changes after boot.
	 */
	for (unsigned i = 0; i < fdt.nram; i++) {
		svmm_pa_t b = ram[i].base, e = ram[i].base + ram[i].size;
		if (e > saved_end)
			e = saved_end;
		if (b < e)
			map_or_panic(dmap_base() + b, b, e - b, PT_R | PT_W | PT_G | PT_BOOT,
				     "direct map");
	}

	/* The image, W^X by section; the page under the boot stack stays unmapped. */
	map_or_panic((svmm_va_t)(uintptr_t)_kernel_start, image_pa(_kernel_start),
		     (uint64_t)(_etext - _kernel_start), PT_R | PT_X | PT_G, "kernel text");
	map_or_panic((svmm_va_t)(uintptr_t)_etext, image_pa(_etext),
		     (uint64_t)(_erodata - _etext), PT_R | PT_G, "kernel rodata");
	map_or_panic((svmm_va_t)(uintptr_t)_erodata, image_pa(_erodata),
		     (uint64_t)(_stack_guard - _erodata), PT_R | PT_W | PT_G, "kernel data+bss");
	map_or_panic((svmm_va_t)(uintptr_t)_stack_bottom, image_pa(_stack_bottom),
		     (uint64_t)(_kernel_end - _stack_bottom), PT_R | PT_W | PT_G, "boot stack");

	/* The kernel arena: slot 511 below the fixmap, with a guard page between. */
	svmm_va_t kio = svmm_kio_base(mode);
	vmem_trace_open(&karena_trace, "karena", boot.vmtrace ? trace_line : NULL, NULL);
	err = vmem_trace_init(&karena_trace, &karena, kio,
			      SVMM_FIXMAP_BASE - SVMM_PAGE_SIZE - kio, SVMM_PAGE_SIZE, &karena_src);
	if (err)
		panic("vmem_init(kernel arena): %s", svmm_strerror(err));

	/* The fixmap's last slot stays mapped (read-only, to the first page of rodata), so
	   that the fixmap's page table never empties: kmap then never allocates a table
	   and cannot fail for want of memory, which port_kmap's contract needs. */
	map_or_panic(SVMM_FIXMAP_BASE + SVMM_FIXMAP_SIZE - SVMM_PAGE_SIZE, image_pa(_etext),
		     SVMM_PAGE_SIZE, PT_R | PT_G | PT_MAX_PAGE_4K, "fixmap anchor");
	fixmap_used[FIXMAP_SLOTS / 64 - 1] |= 1ull << 63;

	w_satp(pt_satp(&kpt));
	early_satp = 0;
	vm_dmap_end = saved_end;
}

/* Few devices are mapped, so their region structs sit in a small static table. */
#define IOREMAP_MAX 16
static struct vmem_region io_regions[IOREMAP_MAX];
static bool io_used[IOREMAP_MAX];

int ioremap(svmm_pa_t pa, uint64_t size, svmm_va_t *va)
{
	svmm_pa_t base = SVMM_ALIGN_DOWN(pa, SVMM_PAGE_SIZE);
	if (size == 0)
		return SVMM_EZEROSIZE;
	if (pa + size < pa)
		return SVMM_EOVERFLOW;
	uint64_t len = SVMM_ALIGN_UP(pa + size, SVMM_PAGE_SIZE) - base;
	unsigned i;
	for (i = 0; i < IOREMAP_MAX && io_used[i]; i++)
		;
	if (i == IOREMAP_MAX)
		return SVMM_ENOSPC;
	/* Same offset modulo 2 MiB as the registers, so that large devices get 2 MiB pages. */
	struct vmem_constraint c = { 0, 0, 0, 0, 0 };
	if (len >= (2ull << 20)) {
		c.align = 2ull << 20;
		c.phase = base & (c.align - 1);
	}
	svmm_va_t v;
	int err = vmem_trace_xalloc(&karena_trace, &karena, len, &c, &io_regions[i], &v);
	if (err)
		return err;
	err = pt_map(&kpt, v, base, len, PT_R | PT_W | PT_G);
	if (err) {
		vmem_trace_free(&karena_trace, &karena, v, len, NULL);
		return err;
	}
	io_used[i] = true;
	*va = v + (pa - base);
	return 0;
}

int iounmap(svmm_va_t va)
{
	svmm_va_t base = SVMM_ALIGN_DOWN(va, SVMM_PAGE_SIZE);
	struct vmem_region *r = vmem_lookup(&karena, base);
	if (!r || r->addr != base || r < io_regions || r >= io_regions + IOREMAP_MAX)
		return SVMM_ENOENT;
	uint64_t len = r->size;
	int err = pt_unmap(&kpt, base, len, 0);
	if (err)
		return err;
	err = vmem_trace_free(&karena_trace, &karena, base, len, NULL);
	if (err)
		panic("iounmap(%p): %s", (void *)va, svmm_strerror(err));
	io_used[r - io_regions] = false;
	return 0;
}

/* The fixmap's bitmap; taken before kpt's own lock (docs/kernel.md, lock order). */
static struct svmm_lock kmap_lock;

_Static_assert(FIXMAP_SLOTS / 64 == NCPU, "one 64-slot fixmap word per hart");

bool vm_is_fixmap(svmm_va_t va, uint64_t size)
{
	return va >= SVMM_FIXMAP_BASE && size <= SVMM_FIXMAP_SIZE &&
	       va - SVMM_FIXMAP_BASE <= SVMM_FIXMAP_SIZE - size;
}

void *kmap(svmm_pa_t pa)
{
	port_lock(&kmap_lock);
	/* Each hart has its own word of 64 slots, so a slot's translation is only ever
	   used by one hart and kunmap flushes it there alone (port_tlb_flush). */
	for (unsigned w = mycpu()->id; w == mycpu()->id; w++) {
		if (fixmap_used[w] == ~0ull)
			continue;
		unsigned b = 0;  /* lowest free slot; a loop, as libgcc is not linked */
		while (fixmap_used[w] >> b & 1u)
			b++;
		unsigned slot = w * 64 + b;
		svmm_va_t va = SVMM_FIXMAP_BASE + (uint64_t)slot * SVMM_PAGE_SIZE;
		if (pt_map(&kpt, va, SVMM_ALIGN_DOWN(pa, SVMM_PAGE_SIZE), SVMM_PAGE_SIZE,
			   PT_R | PT_W | PT_G | PT_MAX_PAGE_4K) != 0)
			break;
		fixmap_used[w] |= 1ull << b;
		vm_kmaps++;
		port_unlock(&kmap_lock);
		return (void *)(uintptr_t)(va + (pa & (SVMM_PAGE_SIZE - 1)));
	}
	port_unlock(&kmap_lock);
	return NULL;
}

void kunmap(void *p)
{
	svmm_va_t va = SVMM_ALIGN_DOWN((svmm_va_t)(uintptr_t)p, SVMM_PAGE_SIZE);
	uint64_t slot = (va - SVMM_FIXMAP_BASE) / SVMM_PAGE_SIZE;
	if (va < SVMM_FIXMAP_BASE || slot >= FIXMAP_SLOTS ||
	    !(fixmap_used[slot / 64] & (1ull << (slot % 64))))
		panic("kunmap(%p): not a kmap address", p);
	if (slot / 64 != mycpu()->id)
		panic("kunmap(%p): another hart's fixmap slot", p);
	port_lock(&kmap_lock);
	/* pt_unmap flushes the slot's translation before it can be reused. */
	int err = pt_unmap(&kpt, va, SVMM_PAGE_SIZE, 0);
	if (err)
		panic("kunmap(%p): %s", p, svmm_strerror(err));
	fixmap_used[slot / 64] &= ~(1ull << (slot % 64));
	port_unlock(&kmap_lock);
}

void vm_zero_frame(svmm_pa_t pa)
{
	if (pa + SVMM_PAGE_SIZE <= vm_dmap_end) {
		memset(__va(pa), 0, SVMM_PAGE_SIZE);
		return;
	}
	void *p = kmap(pa);
	if (!p)
		panic("vm_zero_frame(%p): no fixmap slot", (void *)pa);
	memset(p, 0, SVMM_PAGE_SIZE);
	kunmap(p);
}

void vm_copy_to_frame(svmm_pa_t pa, uint64_t off, const void *src, uint64_t n)
{
	if (pa + SVMM_PAGE_SIZE <= vm_dmap_end) {
		memcpy((char *)__va(pa) + off, src, n);
		return;
	}
	char *p = kmap(pa);
	if (!p)
		panic("vm_copy_to_frame(%p): no fixmap slot", (void *)pa);
	memcpy(p + off, src, n);
	kunmap(p);
}

int kstack_alloc(uint64_t size, svmm_va_t *top)
{
	/* A trap stack per hart plus the self-test's; kernel stacks are never freed. */
	static struct vmem_region regions[NCPU + 4];
	static struct svmm_lock lock;
	static unsigned nused;
	port_lock(&lock);
	unsigned slot = nused < ARRAY_SIZE(regions) ? nused++ : ~0u;
	port_unlock(&lock);
	if (slot == ~0u)
		return SVMM_ENOSPC;
	svmm_va_t v;
	int err = vmem_trace_alloc(&karena_trace, &karena, size + SVMM_PAGE_SIZE,
				   &regions[slot], &v);
	if (err)
		return err;
	for (uint64_t o = 0; o < size; o += SVMM_PAGE_SIZE) {
		svmm_pa_t pa;
		err = pmem_alloc(&kpmem, 0, vm_dmap_end, &pa);
		if (!err)
			err = pt_map(&kpt, v + SVMM_PAGE_SIZE + o, pa, SVMM_PAGE_SIZE,
				     PT_R | PT_W | PT_G);
		if (err)
			panic("kstack_alloc: %s", svmm_strerror(err));
	}
	*top = v + SVMM_PAGE_SIZE + size;
	return 0;
}

/* ---- the boot report ---- */

struct leaf_count { uint64_t n[5]; uint64_t bytes[5]; uint64_t misplaced; };

static int count_leaf(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	(void)pte;
	struct leaf_count *c = ctx;
	/* Every kernel leaf lies in the area the layout gives it. */
	enum layout_area a = layout_area_of(&klayout, va);
	bool ok = a == LAYOUT_KARENA || a == LAYOUT_FIXMAP || a == LAYOUT_KIMAGE ||
		  (a == LAYOUT_DMAP && pa == va - klayout.dmap_base);
	c->misplaced += !ok;
	unsigned lvl = 0;
	while (lvl < 4 && size >= pt_level_size(lvl + 1))
		lvl++;
	c->n[lvl]++;
	c->bytes[lvl] += size;
	return 0;
}

/* A size in the largest binary unit that keeps it >= 1, with one decimal. */
static void human_size(char *buf, size_t n, uint64_t bytes)
{
	static const char units[] = "BKMGTPE";
	unsigned u = 0;
	uint64_t whole = bytes, rem = 0;
	while (whole >= 1024 && u < 6) {
		rem = whole & 1023;
		whole >>= 10;
		u++;
	}
	unsigned tenth = (unsigned)(rem * 10 / 1024);
	if (tenth)
		svmm_snprintf(buf, n, "%lu.%u%c", (unsigned long)whole, tenth, units[u]);
	else
		svmm_snprintf(buf, n, "%lu%c", (unsigned long)whole, units[u]);
}

static void print_area(const char *name, svmm_va_t b, svmm_va_t e, const char *what)
{
	char sz[24];
	human_size(sz, sizeof sz, e - b);
	kprintf("  %-10s %016lx-%016lx %8s  %s\n", name, (unsigned long)b, (unsigned long)(e - 1),
		sz, what);
}

void vm_print_layout(void)
{
	enum svmm_mode m = boot.mode;
	char sz[24];
	human_size(sz, sizeof sz, klayout.slot_size);
	kprintf("virtual memory layout (%s, %u levels, root slot = %s):\n",
		svmm_mode_name(m), klayout.levels, sz);
	for (unsigned a = LAYOUT_NULL_GUARD; a < LAYOUT_NAREAS; a++) {
		const struct layout_region *r = layout_region(&klayout, (enum layout_area)a);
		print_area(r->name, r->base, r->base + r->size, r->purpose);
	}
	kprintf("kernel image sections:\n");
	print_area("text", KERNEL_VIRT, (svmm_va_t)(uintptr_t)_etext, "kernel text R-X");
	print_area("rodata", (svmm_va_t)(uintptr_t)_etext, (svmm_va_t)(uintptr_t)_erodata, "kernel rodata R--");
	print_area("data", (svmm_va_t)(uintptr_t)_erodata, (svmm_va_t)(uintptr_t)_stack_guard,
		   "kernel data+bss RW-");
	print_area("stack", (svmm_va_t)(uintptr_t)_stack_bottom, (svmm_va_t)(uintptr_t)_kernel_end,
		   "boot stack RW- (guard page below)");

	struct leaf_count c;
	memset(&c, 0, sizeof c);
	svmm_va_t kb = svmm_kernel_base(m);
	pt_walk(&kpt, kb, 0 - kb, count_leaf, &c);
	static const char *const names[5] = { "4K", "2M", "1G", "512G", "256T" };
	kprintf("kernel mappings by page size:");
	for (unsigned l = 0; l < 5; l++) {
		if (c.n[l] == 0)
			continue;
		svmm_fmt_size(sz, sizeof sz, c.bytes[l]);
		kprintf(" %s x %lu (%s)", names[l], (unsigned long)c.n[l], sz);
	}
	kprintf("; %lu table frames\n", (unsigned long)kpt.tables);
	if (c.misplaced)
		panic("%lu kernel mappings lie outside their layout area", (unsigned long)c.misplaced);
	kprintf("kernel page table:\n");
	pt_dump(&kpt, kb, 0 - kb, kprint_line, NULL);
	static struct pmem_stats st;   /* large: keep it off the boot stack */
	pmem_stats(&kpmem, &st);
	kprintf("pmem: %lu frames, %lu free, %lu reserved, %lu frame database (%lu bytes/frame)\n",
		(unsigned long)st.total_frames, (unsigned long)st.free_frames,
		(unsigned long)st.reserved_frames, (unsigned long)st.meta_frames,
		(unsigned long)st.db_bytes_per_frame);
}
