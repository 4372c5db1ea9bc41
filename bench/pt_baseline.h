/*
 * pt_baseline.h - the per-page baseline of the page-table benchmarks: every 4 KiB page
 * mapped or unmapped by its own walk from the root, as the simplest kernels do. It
 * writes PTEs directly, counts the tables it adds in pt->tables and widens pt->span over
 * what it maps, as pt_map does, so that pt_destroy finds and frees them as its own.
 */
#ifndef SVMM_PT_BASELINE_H
#define SVMM_PT_BASELINE_H

#include <svmm/port.h>
#include <svmm/pt.h>

/* The leaf entry of va, allocating missing tables on the way when alloc is set. */
static inline uint64_t *base_walk(struct pt *pt, svmm_va_t va, bool alloc)
{
	uint64_t *t = port_pa_to_va(pt->root);
	for (unsigned l = pt->levels - 1; l > 0; l--) {
		uint64_t *e = &t[(va >> (12 + 9 * l)) & 511];
		if (!(*e & SVMM_PTE_V)) {
			svmm_pa_t pa;
			if (!alloc || port_table_alloc(&pa) != 0)
				return NULL;
			pt->tables++;
			*e = ((pa >> 12) << SVMM_PTE_PPN_SHIFT) | SVMM_PTE_V;
		}
		t = port_pa_to_va(svmm_pte_pa(*e));
	}
	return &t[(va >> 12) & 511];
}

/* Map npages pages read-write, one walk each. Returns 0 or SVMM_ENOMEM. */
static inline int base_map(struct pt *pt, svmm_va_t va, svmm_pa_t pa, uint64_t npages)
{
	if (npages != 0 && va < pt->span[0])
		pt->span[0] = va;
	if (npages != 0 && va + npages * SVMM_PAGE_SIZE - 1 > pt->span[1])
		pt->span[1] = va + npages * SVMM_PAGE_SIZE - 1;
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t *e = base_walk(pt, va + i * SVMM_PAGE_SIZE, true);
		if (e == NULL)
			return SVMM_ENOMEM;
		*e = (((pa + i * SVMM_PAGE_SIZE) >> 12) << SVMM_PTE_PPN_SHIFT) | SVMM_PTE_V | SVMM_PTE_R | SVMM_PTE_W |
		     SVMM_PTE_A | SVMM_PTE_D;
	}
	return 0;
}

/* Clear the leaf entries of npages pages, one walk each; tables stay. */
static inline void base_unmap(struct pt *pt, svmm_va_t va, uint64_t npages)
{
	for (uint64_t i = 0; i < npages; i++) {
		uint64_t *e = base_walk(pt, va + i * SVMM_PAGE_SIZE, false);
		if (e != NULL)
			*e = 0;
	}
}

#endif /* SVMM_PT_BASELINE_H */
