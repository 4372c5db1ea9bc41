/* tlb_model.c - see tlb_model.h. */
#include <string.h>

#include "hostsim.h"
#include "pt_testutil.h"
#include "tlb_model.h"

#define ATTR_MASK (SVMM_PTE_R | SVMM_PTE_W | SVMM_PTE_X | SVMM_PTE_U | SVMM_PTE_G | SVMM_PTE_PBMT_MASK)

void tlb_model_init(struct tlb_model *t, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	t->rng = seed ? seed : 1;
	hostsim_set_flush_hook(tlb_model_flush, t);
}

void tlb_model_fini(struct tlb_model *t)
{
	(void)t;
	hostsim_set_flush_hook(NULL, NULL);
}

static uint64_t rnd(struct tlb_model *t)
{
	uint64_t x = t->rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	t->rng = x;
	return x;
}

static bool matches(const struct tlb_model_entry *e, uint32_t asid, svmm_va_t va)
{
	return e->valid && (e->global || e->asid == asid) && va >= e->va &&
	       va - e->va < e->size;
}

/* Leaf lookup without permission checks: pa and PTE of va, or false. */
int tlb_model_access(struct tlb_model *t, const struct pt *pt, svmm_va_t va, unsigned access,
		     unsigned priv, svmm_pa_t *pa)
{
	for (unsigned i = 0; i < TLB_MODEL_ENTRIES; i++) {
		const struct tlb_model_entry *e = &t->e[i];
		if (matches(e, pt->asid, va)) {
			t->hits++;
			*pa = e->pa + (va - e->va);
			return 0;
		}
	}
	svmm_pa_t p;
	uint64_t leaf;
	int err = pt_translate(pt, va, access, priv, &p, &leaf);
	if (err != 0)
		return err;
	uint64_t pte = 0;
	pt_lookup(pt, va, NULL, &pte);
	unsigned slot = TLB_MODEL_ENTRIES;
	for (unsigned i = 0; i < TLB_MODEL_ENTRIES && slot == TLB_MODEL_ENTRIES; i++)
		if (!t->e[i].valid)
			slot = i;
	if (slot == TLB_MODEL_ENTRIES)
		slot = (unsigned)(rnd(t) % TLB_MODEL_ENTRIES);
	struct tlb_model_entry *e = &t->e[slot];
	e->valid = true;
	e->global = (pte & SVMM_PTE_G) != 0;
	e->asid = pt->asid;
	e->va = SVMM_ALIGN_DOWN(va, leaf);
	e->size = leaf;
	e->pa = p - (va - e->va);
	e->attr = pte & ATTR_MASK;
	t->fills++;
	*pa = p;
	return 0;
}

static bool still_true(const struct tlb_model_entry *e, const struct pt *pt, svmm_va_t va)
{
	svmm_pa_t pa;
	uint64_t pte;
	return pt_lookup(pt, va, &pa, &pte) && pa == e->pa + (va - e->va) &&
	       (pte & ATTR_MASK) == e->attr;
}

unsigned tlb_model_stale(const struct tlb_model *t, const struct pt *pt, svmm_va_t *where)
{
	unsigned n = 0;
	for (unsigned i = 0; i < TLB_MODEL_ENTRIES; i++) {
		const struct tlb_model_entry *e = &t->e[i];
		if (!e->valid || (!e->global && e->asid != pt->asid))
			continue;
		svmm_va_t last = e->va + e->size - SVMM_PAGE_SIZE;
		svmm_va_t mid = e->va + SVMM_ALIGN_DOWN(e->size / 2, SVMM_PAGE_SIZE);
		if (!still_true(e, pt, e->va) || !still_true(e, pt, last) ||
		    !still_true(e, pt, mid)) {
			if (n == 0 && where != NULL)
				*where = e->va;
			n++;
		}
	}
	return n;
}

void tlb_model_flush(void *ctx, uint32_t asid, svmm_va_t va, uint64_t size)
{
	struct tlb_model *t = ctx;
	t->flushes++;
	for (unsigned i = 0; i < TLB_MODEL_ENTRIES; i++) {
		struct tlb_model_entry *e = &t->e[i];
		if (!e->valid)
			continue;
		/* An ASID flush keeps global entries, as sfence.vma with rs2 != x0 does. */
		if (asid != PORT_ASID_GLOBAL && (e->global || e->asid != asid))
			continue;
		bool hit = size == 0 ||
			   (e->va <= va + size - 1u && va <= e->va + e->size - 1u);
		if (hit) {
			e->valid = false;
			t->drops++;
		}
	}
}
