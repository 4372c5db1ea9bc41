/*
 * vmem-demo - a short narrated session with the vmem range allocator, as a kernel's
 * vmalloc/ioremap arena would use it: allocations, frees that merge, best fit reusing
 * a hole, constrained and fixed allocations, a fault-style lookup that lands on the
 * caller's own structure, the errors a caller can meet, and a region dump.
 * Exits 0 when every step behaved as narrated and vmem_check held throughout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svmm/vmem.h>

#define KiB 1024ull
#define MiB (1024ull * KiB)

/* The caller's own region structure: vmem's node is embedded in it. */
struct kregion {
	struct vmem_region vr;
	const char *name;
};

static int page_alloc(void *ctx, void **page)
{
	(void)ctx;
	*page = aligned_alloc(4096, 4096);
	return *page ? 0 : SVMM_ENOMEM;
}
static void page_free(void *ctx, void *page)
{
	(void)ctx;
	free(page);
}
static const struct vmem_page_source src = { page_alloc, page_free, NULL };

static struct vmem arena;
static int failures;

static void print_line(void *ctx, const char *line)
{
	(void)ctx;
	printf("    %s\n", line);
}

/* Keep the line a checker prints, to show it in a failure message. */
static void keep_line(void *ctx, const char *line)
{
	snprintf((char *)ctx, 256, "%s", line);
}

static void check(const char *step)
{
	char why[256] = "?";

	if (vmem_check(&arena, keep_line, why) != 0) {
		printf("!! vmem_check failed after %s: %s\n", step, why);
		failures++;
	}
}

static void expect(int got, int want, const char *what)
{
	printf("  %-52s -> %s\n", what, got ? svmm_strerror(got) : "ok");
	if (got != want) {
		printf("!! expected %s\n", want ? svmm_strerror(want) : "ok");
		failures++;
	}
}

static void show_stats(void)
{
	struct vmem_stats st;

	vmem_stats(&arena, &st);
	printf("  now: %llu used region(s), %llu free region(s), largest free %llu KiB\n",
	       (unsigned long long)st.used_regions, (unsigned long long)st.free_regions,
	       (unsigned long long)(st.largest_free / KiB));
}

static svmm_va_t alloc_named(struct kregion *k, const char *name, uint64_t size)
{
	svmm_va_t a = 0;

	k->name = name;
	expect(vmem_alloc(&arena, size, &k->vr, &a), 0, name);
	printf("    %s at 0x%llx, %llu KiB\n", name, (unsigned long long)a,
	       (unsigned long long)(size / KiB));
	return a;
}

int main(void)
{
	const svmm_va_t base = 0xffffffffc0000000ull;   /* Sv39 root slot 511: kernel IO */
	struct kregion uart, stack, buf, small, aligned, window, fixed, other;
	struct vmem_constraint c;
	struct vmem_region *back;
	svmm_va_t a;

	printf("vmem demo: an arena over [0x%llx, +64 MiB), quantum 4 KiB\n\n",
	       (unsigned long long)base);
	if (vmem_init(&arena, base, 64 * MiB, 4096, &src) != 0)
		return 1;

	printf("1. Three allocations take the lowest addresses of the one free region:\n");
	alloc_named(&uart, "uart mmio", 4 * KiB);
	alloc_named(&stack, "kernel stack", 64 * KiB);
	alloc_named(&buf, "dma buffer", 16 * KiB);
	check("allocations");
	show_stats();

	printf("\n2. Freeing the stack leaves a 64 KiB hole; best fit puts a 32 KiB request in it\n"
	       "   (the smallest free region that fits), not at the end of the arena:\n");
	expect(vmem_free(&arena, stack.vr.addr, 64 * KiB, NULL), 0, "free kernel stack");
	a = alloc_named(&small, "32 KiB table", 32 * KiB);
	if (a != uart.vr.addr + 4 * KiB) {
		printf("!! best fit did not reuse the hole\n");
		failures++;
	}
	check("best fit");
	show_stats();

	printf("\n3. Freeing next to free space merges: never two adjacent free regions:\n");
	expect(vmem_free(&arena, small.vr.addr, 0, NULL), 0, "free the 32 KiB table (size 0 = all)");
	show_stats();
	expect(vmem_free(&arena, buf.vr.addr, 16 * KiB, &back), 0, "free the dma buffer");
	printf("    vmem_free handed back the caller's struct: \"%s\"\n",
	       SVMM_CONTAINER_OF(back, struct kregion, vr)->name);
	check("merges");
	show_stats();

	printf("\n4. Constrained allocations (Bonwick's vmem_xalloc):\n");
	memset(&c, 0, sizeof(c));
	c.align = 2 * MiB;
	aligned.name = "2 MiB-aligned 4 MiB (for huge pages)";
	expect(vmem_xalloc(&arena, 4 * MiB, &c, &aligned.vr, &a), 0, aligned.name);
	printf("    at 0x%llx, %s\n", (unsigned long long)a,
	       a % (2 * MiB) == 0 ? "a multiple of 2 MiB" : "NOT ALIGNED");
	if (a % (2 * MiB) != 0)
		failures++;
	memset(&c, 0, sizeof(c));
	c.minaddr = base + 32 * MiB;
	c.maxaddr = base + 33 * MiB;
	c.nocross = 64 * KiB;
	window.name = "48 KiB in [base+32M, base+33M), not crossing 64 KiB";
	expect(vmem_xalloc(&arena, 48 * KiB, &c, &window.vr, &a), 0, window.name);
	printf("    at 0x%llx\n", (unsigned long long)a);
	c.minaddr = base + 32 * MiB;
	c.maxaddr = base + 32 * MiB + 64 * KiB;
	expect(vmem_xalloc(&arena, 48 * KiB, &c, &other.vr, &a), SVMM_ENOSPC,
	       "another 48 KiB in that 64 KiB window");
	check("constraints");

	printf("\n5. A fixed-address allocation, and one that overlaps it:\n");
	fixed.name = "fixed at base+16 MiB, 1 MiB";
	expect(vmem_alloc_fixed(&arena, base + 16 * MiB, MiB, &fixed.vr), 0, fixed.name);
	expect(vmem_alloc_fixed(&arena, base + 16 * MiB + 512 * KiB, MiB, &other.vr), SVMM_EBUSY,
	       "fixed at base+16.5 MiB (overlaps)");
	expect(vmem_alloc_fixed(&arena, base + 64 * MiB, 4 * KiB, &other.vr), SVMM_ERANGE,
	       "fixed just past the arena");
	check("fixed");

	printf("\n6. A page fault at an address: the lookup lands on the caller's struct:\n");
	{
		svmm_va_t fault = base + 16 * MiB + 12345;
		struct vmem_region *r = vmem_lookup(&arena, fault);

		printf("  fault at 0x%llx -> %s\n", (unsigned long long)fault,
		       r ? SVMM_CONTAINER_OF(r, struct kregion, vr)->name : "(no region)");
		if (r != &fixed.vr)
			failures++;
		fault = base + 20 * MiB;
		r = vmem_lookup(&arena, fault);
		printf("  fault at 0x%llx -> %s\n", (unsigned long long)fault,
		       r ? SVMM_CONTAINER_OF(r, struct kregion, vr)->name : "(no region: a bad access)");
		if (r != NULL)
			failures++;
	}

	printf("\n7. Mistakes are refused with their own error code, and change nothing:\n");
	expect(vmem_free(&arena, buf.vr.addr, 0, NULL), SVMM_EDOUBLEFREE, "free the dma buffer again");
	expect(vmem_free(&arena, fixed.vr.addr, 4 * KiB, NULL), SVMM_ESIZE, "free the fixed region with a wrong size");
	expect(vmem_free(&arena, fixed.vr.addr + 4 * KiB, 0, NULL), SVMM_ENOENT, "free from the middle of a region");
	expect(vmem_alloc(&arena, 6000, &other.vr, NULL), SVMM_EUNALIGNED, "allocate 6000 bytes");
	expect(vmem_alloc(&arena, 0, &other.vr, NULL), SVMM_EZEROSIZE, "allocate nothing");
	expect(vmem_alloc(&arena, 128 * MiB, &other.vr, NULL), SVMM_ENOSPC, "allocate 128 MiB");
	expect(vmem_destroy(&arena), SVMM_ELIVE, "destroy while allocations are live");
	check("errors");

	printf("\n8. Statistics and every region, in address order:\n");
	vmem_dump(&arena, true, print_line, NULL);

	printf("\n9. Free everything: one free region again, then destroy:\n");
	expect(vmem_free(&arena, uart.vr.addr, 0, NULL), 0, "free uart mmio");
	expect(vmem_free(&arena, aligned.vr.addr, 0, NULL), 0, "free the aligned region");
	expect(vmem_free(&arena, window.vr.addr, 0, NULL), 0, "free the window region");
	expect(vmem_free(&arena, fixed.vr.addr, 0, NULL), 0, "free the fixed region");
	check("final frees");
	vmem_dump(&arena, true, print_line, NULL);
	expect(vmem_destroy(&arena), 0, "destroy");

	printf("\nvmem demo: %s\n", failures ? "FAILED" : "every step as expected");
	return failures ? 1 : 0;
}
