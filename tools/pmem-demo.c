/*
 * pmem-demo.c - show pmem on a machine shaped like QEMU virt: 1 GiB of RAM at 2 GiB
 * with OpenSBI, the kernel image and the device tree reserved, plus 2 GiB more above a
 * direct-map window that ends at 4 GiB (as if set by the kernel command line). Prints
 * the allocator after init, after some allocations, and after freeing them again.
 */
#include <stdio.h>
#include <stdlib.h>

#include <svmm/pmem.h>
#include "hostsim.h"

static void print(void *ctx, const char *line)
{
	(void)ctx;
	puts(line);
}

static void must(int err, const char *what)
{
	if (err != 0) {
		fprintf(stderr, "pmem-demo: %s: %s\n", what, svmm_strerror(err));
		exit(1);
	}
}

int main(void)
{
	static struct pmem pm;
	const svmm_pa_t base = 0x80000000ull, window = 0x100000000ull;
	must(hostsim_ram_init(base, 5 * SVMM_GiB) != 0 ? SVMM_ENOMEM : 0, "simulated RAM");

	struct pmem_range ram[] = {
		{ base, 1 * SVMM_GiB },
		{ 0x140000000ull, 2 * SVMM_GiB },              /* above the window */
	};
	struct pmem_range res[] = {
		{ base, 0x200000 },                            /* OpenSBI */
		{ 0x80200000ull, 0x1a3456 },                   /* kernel image, unaligned end */
		{ 0xbfe00000ull + 0x123, 0x2000 },             /* device tree */
	};
	must(pmem_init(&pm, ram, 2, res, 3, window), "init");
	puts("== after init (the upper range's database sits in the window)");
	pmem_dump(&pm, print, NULL);

	svmm_pa_t table, user, huge;
	must(pmem_alloc(&pm, 0, window, &table), "page-table frame");
	must(pmem_alloc(&pm, 0, PMEM_ANY, &user), "user frame");
	must(pmem_alloc(&pm, PMEM_MAX_ORDER, PMEM_ANY, &huge), "1 GiB block");
	must(pmem_get(&pm, user), "share the user frame");
	printf("\n== page table at 0x%llx, user frame at 0x%llx (2 refs), 1 GiB at 0x%llx\n",
	       (unsigned long long)table, (unsigned long long)user, (unsigned long long)huge);
	pmem_dump(&pm, print, NULL);

	printf("\nfree of the shared frame: %s\n", svmm_strerror(pmem_free(&pm, user, 0)));
	printf("free of the kernel image: %s\n", svmm_strerror(pmem_free(&pm, 0x80200000ull, 0)));
	printf("free with the wrong order: %s\n", svmm_strerror(pmem_free(&pm, huge, 9)));
	must(pmem_put(&pm, user), "put");
	must(pmem_put(&pm, user), "last put");
	must(pmem_free(&pm, huge, PMEM_MAX_ORDER), "free 1 GiB");
	must(pmem_free(&pm, table, 0), "free table");
	must(pmem_check(&pm, print, NULL), "check");
	puts("\n== everything freed and merged back; pmem_check passes");
	pmem_dump(&pm, print, NULL);
	hostsim_ram_fini();
	return 0;
}
