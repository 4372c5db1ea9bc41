/*
 * minikern/vm.c - physical memory (svmm's pmem) and the kernel's page table (svmm's
 * pt): RAM identity-mapped in the lower half, W^X by section, every kernel stack above
 * an unmapped guard page, and the trampoline at the top of the lower half.
 */
#include "defs.h"
#include "trapframe.h"

extern char _kernel_start[], _etext[], _erodata[], _stacks_start[], _stacks_end[],
	_kernel_end[], _trampoline[];

struct pmem kpmem;
struct pt kpt;
uint64_t kernel_satp;
unsigned asid_bits;

static void kmap_range(uint64_t va, uint64_t pa, uint64_t size, unsigned perm)
{
	int err = pt_map(&kpt, va, pa, size, perm);
	if (err)
		panic("kvminit: map %p..%p: %s", (void *)va, (void *)(va + size),
		      svmm_strerror(err));
}

/* The device tree's size from its header (big-endian totalsize at offset 4). */
static uint64_t fdt_size(uint64_t dtb)
{
	const uint8_t *h = (const uint8_t *)dtb;
	return (uint64_t)h[4] << 24 | (uint64_t)h[5] << 16 | (uint64_t)h[6] << 8 | h[7];
}

/* Called with the MMU off: physical addresses are the kernel's addresses already. */
void kvminit(uint64_t dtb)
{
	struct pmem_range ram = { KERNBASE, PHYSTOP - KERNBASE };
	struct pmem_range res[2] = {
		{ KERNBASE, (uint64_t)_kernel_end - KERNBASE },   /* OpenSBI and the image */
		{ dtb, fdt_size(dtb) },
	};
	/* All of RAM is identity-mapped, so the frame database may go anywhere in it. */
	int err = pmem_init(&kpmem, &ram, 1, res, 2, PHYSTOP);
	if (err)
		panic("pmem_init: %s", svmm_strerror(err));

	/*
	 * A lower-half kernel's table is a plain tree (pt_init): the upper half stays
	 * empty, and its flushes are tagged with ASID 0, which no address space gets.
	 */
	err = pt_init(&kpt, SVMM_SV39, 0);
	if (err)
		panic("pt_init: %s", svmm_strerror(err));

	uint64_t text = (uint64_t)_kernel_start, etext = (uint64_t)_etext;
	uint64_t erodata = (uint64_t)_erodata, stacks = (uint64_t)_stacks_start;
	kmap_range(text, text, etext - text, PT_R | PT_X);
	kmap_range(etext, etext, erodata - etext, PT_R);
	kmap_range(erodata, erodata, stacks - erodata, PT_R | PT_W);
	/* Stacks: each slot is a guard page, left unmapped, and the stack. */
	for (uint64_t a = stacks; a < (uint64_t)_stacks_end; a += KSTACK_SLOT)
		kmap_range(a + PGSIZE, a + PGSIZE, KSTACK_SIZE, PT_R | PT_W);
	/* The rest of RAM: frames of pmem, page tables, user memory. */
	uint64_t end = (uint64_t)_kernel_end;
	kmap_range(end, end, PHYSTOP - end, PT_R | PT_W);
	kmap_range(VIRT_TEST, VIRT_TEST, PGSIZE, PT_R | PT_W);

	/* The trampoline: at the same address here and in every address space (proc.c). */
	kmap_range(TRAMPOLINE, (uint64_t)_trampoline, PGSIZE, PT_R | PT_X);
	kernel_satp = pt_satp(&kpt);
}

/* Turn paging on, and count the ASID bits the hart implements. */
void kvminithart(void)
{
	csr_write(satp, kernel_satp | (0xfffful << 44));
	uint64_t asid = (csr_read(satp) >> 44) & 0xffff;
	csr_write(satp, kernel_satp);
	sfence_vma();
	for (asid_bits = 0; asid & 1; asid >>= 1)
		asid_bits++;
}
