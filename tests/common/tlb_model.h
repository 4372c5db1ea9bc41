/*
 * tlb_model.h - a model TLB for the host tests.
 *
 * It caches translations the way a hart's TLB may: a filled entry stays until a
 * port_tlb_flush that covers it, whatever happens to the page tables meanwhile. A test
 * fills it by "accessing" addresses through it, and after every page-table call asks
 * tlb_model_stale() whether any cached entry now disagrees with the tables: if one
 * does, the call forgot a flush.
 */
#ifndef SVMM_TLB_MODEL_H
#define SVMM_TLB_MODEL_H

#include <svmm/pt.h>

#define TLB_MODEL_ENTRIES 64

struct tlb_model_entry {
	bool valid;
	bool global;
	uint32_t asid;
	svmm_va_t va;            /* leaf base */
	uint64_t size;      /* leaf size */
	svmm_pa_t pa;            /* physical base of the leaf */
	uint64_t attr;      /* R W X U G and PBMT bits of the leaf */
};

struct tlb_model {
	struct tlb_model_entry e[TLB_MODEL_ENTRIES];
	uint64_t rng;
	uint64_t hits, fills, drops, flushes;
};

/* Empty the model, seed its replacement choice, and hook it into the host port. */
void tlb_model_init(struct tlb_model *t, uint64_t seed);

/* Detach the flush hook. */
void tlb_model_fini(struct tlb_model *t);

/*
 * One access through the TLB: a hit answers from the cached entry (stale or not),
 * a miss walks pt with pt_translate and caches the leaf. Returns 0 with *pa, or
 * SVMM_EFAULT (nothing cached).
 */
int tlb_model_access(struct tlb_model *t, const struct pt *pt, svmm_va_t va, unsigned access,
		     unsigned priv, svmm_pa_t *pa);

/*
 * Number of cached entries of pt's ASID (and global ones) that no longer match the
 * page tables, checked at the leaf's first and last page and one page between.
 * When where is not NULL, the first stale entry's address is stored there.
 */
unsigned tlb_model_stale(const struct tlb_model *t, const struct pt *pt, svmm_va_t *where);

/* Flush hook (installed by tlb_model_init). */
void tlb_model_flush(void *ctx, uint32_t asid, svmm_va_t va, uint64_t size);

#endif /* SVMM_TLB_MODEL_H */
