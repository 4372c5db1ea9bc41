/*
 * aspace_fixture.h - the machine the address-space tests run on: simulated RAM at
 * 2 GiB, one pmem over it that also feeds page-table frames (so every frame is counted
 * in one place), a kernel pt, and helpers for out-of-memory sweeps and snapshots.
 * Header-only (static inline) so that it costs nothing in test binaries that do not
 * include it.
 */
#ifndef SVMM_ASPACE_FIXTURE_H
#define SVMM_ASPACE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svmm/aspace.h>
#include "hostsim.h"

#define FX_RAM0 ((svmm_pa_t)0x80000000ull)

struct fx {
	struct pmem pm;
	struct pt kpt;
	svmm_pa_t *hold;              /* frames held back to simulate a small machine */
	size_t nhold, caphold;
};

static struct fx fx;

static inline int fx_table_alloc(void *ctx, svmm_pa_t *pa)
{
	(void)ctx;
	return pmem_alloc(&fx.pm, 0, fx.pm.meta_limit, pa);
}

static inline void fx_table_free(void *ctx, svmm_pa_t pa)
{
	(void)ctx;
	if (pmem_free(&fx.pm, pa, 0) != 0)
		abort();
}

/*
 * Fill every free frame with a pattern, as RAM holds anything at boot: the core may not
 * rely on a frame it did not zero (interior index nodes are initialised only within
 * their bounds, the new root of pt_init_user only as it is written).
 */
#define FX_POISON 0xa5
static inline void fx_poison_free(uint64_t ram_size)
{
	for (svmm_pa_t pa = FX_RAM0; pa < FX_RAM0 + ram_size;) {
		svmm_pa_t head;
		unsigned order;
		enum pmem_state st;
		if (pmem_block(&fx.pm, pa, &head, &order, &st) != 0)
			abort();
		svmm_pa_t end = head + ((svmm_pa_t)SVMM_PAGE_SIZE << order);
		if (st == PMEM_FREE)
			memset(port_pa_to_va(pa), FX_POISON, end - pa);
		pa = end;
	}
}

/* RAM of ram_size bytes; the direct map (pmem's meta limit) ends dmap bytes in (0: all). */
static inline int fx_setup(uint64_t ram_size, uint64_t dmap, enum svmm_mode mode,
			   unsigned asid_bits)
{
	memset(&fx, 0, sizeof(fx));
	if (hostsim_ram_init(FX_RAM0, ram_size) != 0)
		return -1;
	struct pmem_range r = { FX_RAM0, ram_size };
	if (pmem_init(&fx.pm, &r, 1, NULL, 0, dmap ? FX_RAM0 + dmap : PMEM_ANY) != 0)
		return -1;
	fx_poison_free(ram_size);
	struct hostsim_table_source src = { fx_table_alloc, fx_table_free, NULL };
	hostsim_set_table_source(&src);
	if (pt_init_kernel(&fx.kpt, mode) != 0)
		return -1;
	return aspace_sys_init(asid_bits, 2);
}

static inline void fx_teardown(void)
{
	pt_destroy(&fx.kpt, pt_leaf_ignore, NULL);
	free(fx.hold);
	fx.hold = NULL;
	fx.nhold = fx.caphold = 0;
	hostsim_ram_fini();
}

/* Hold every free frame but `budget`, so that the budget+1-th allocation fails. */
static inline void fx_hold_all_but(uint64_t budget)
{
	svmm_pa_t pa;
	while (pmem_alloc(&fx.pm, 0, PMEM_ANY, &pa) == 0) {
		if (fx.nhold == fx.caphold) {
			fx.caphold = fx.caphold ? 2 * fx.caphold : 1024;
			fx.hold = realloc(fx.hold, fx.caphold * sizeof(*fx.hold));
			if (fx.hold == NULL)
				abort();
		}
		fx.hold[fx.nhold++] = pa;
	}
	/* PMEM_ANY hands out high frames first, so the last ones held are the lowest:
	 * give those back, since metadata must come from below the meta limit. */
	for (uint64_t i = 0; i < budget && fx.nhold > 0; i++)
		if (pmem_free(&fx.pm, fx.hold[--fx.nhold], 0) != 0)
			abort();
}

static inline void fx_release_all(void)
{
	while (fx.nhold > 0)
		if (pmem_free(&fx.pm, fx.hold[--fx.nhold], 0) != 0)
			abort();
}

/* Print through printf, for aspace_check and dumps. */
static inline void fx_print(void *ctx, const char *line)
{
	(void)ctx;
	printf("%s\n", line);
}

/*
 * Everything a failed call must leave as it was: the regions, every leaf, the counters,
 * and the frames in use (pages that uvmem keeps in its node pool are a cache of vmem's,
 * so they count as free).
 */
#define FX_SNAP_REG  64
#define FX_SNAP_LEAF 512

struct fx_snap {
	struct {
		svmm_va_t addr;
		uint64_t size;
		unsigned prot, kind, commit;
	} reg[FX_SNAP_REG];
	unsigned nreg;
	struct {
		svmm_va_t va;
		svmm_pa_t pa;
		uint64_t size, pte;
	} leaf[FX_SNAP_LEAF];
	unsigned nleaf;
	uint64_t resident, stack_pages, free_frames, kernel_bytes, committed;
};

static inline int fx_snap_leaf(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	struct fx_snap *s = ctx;
	if (s->nleaf < FX_SNAP_LEAF) {
		s->leaf[s->nleaf].va = va;
		s->leaf[s->nleaf].pa = pa;
		s->leaf[s->nleaf].size = size;
		s->leaf[s->nleaf].pte = pte;
	}
	s->nleaf++;
	return 0;
}

static inline void fx_snap_take(struct aspace *as, struct fx_snap *s)
{
	memset(s, 0, sizeof(*s));
	for (struct aspace_region *r = aspace_region_first(as, 0); r != NULL;
	     r = aspace_region_next(as, r)) {
		if (s->nreg < FX_SNAP_REG) {
			s->reg[s->nreg].addr = r->node.addr;
			s->reg[s->nreg].size = r->node.size;
			s->reg[s->nreg].prot = r->prot;
			s->reg[s->nreg].kind = r->kind;
			s->reg[s->nreg].commit = r->commit;
		}
		s->nreg++;
	}
	pt_walk(&as->pt, 0, svmm_user_end(as->pt.mode), fx_snap_leaf, s);
	s->resident = as->resident;
	s->stack_pages = as->stack_pages;
	s->kernel_bytes = as->kernel_bytes;
	s->committed = as->committed;
	s->free_frames = pmem_free_frames(&fx.pm) + as->pool_pages;
}

static inline bool fx_snap_equal(const struct fx_snap *a, const struct fx_snap *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

#endif /* SVMM_ASPACE_FIXTURE_H */
