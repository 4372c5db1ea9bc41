/*
 * held.h - who holds which frame, for the property tests that check pmem's counts
 * against the objects' indexes (vmobj_walk_held, core/vmobj_internal.h). A frame's
 * count is the number of distinct index pages naming it; an index page's count is the
 * number of objects whose index names it (more than one for a leaf node that clones
 * share). So each holder's frames are counted once, by the first walk that meets it.
 */
#ifndef HELD_H
#define HELD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <svmm/pmem.h>

struct held {
	svmm_pa_t ram0;
	uint64_t nframes;
	uint32_t *objects;   /* per RAM page as an index page: objects naming it */
	uint32_t *first;     /* per index page: the first walk that met it (0: none) */
	uint32_t *last;      /* ... and the last */
	uint32_t walk;       /* the current walk, from 1 */
};

static inline bool held_init(struct held *h, svmm_pa_t ram0, uint64_t nframes)
{
	h->ram0 = ram0;
	h->nframes = nframes;
	h->objects = calloc(nframes, sizeof(uint32_t));
	h->first = calloc(nframes, sizeof(uint32_t));
	h->last = calloc(nframes, sizeof(uint32_t));
	return h->objects != NULL && h->first != NULL && h->last != NULL;
}

static inline void held_fini(struct held *h)
{
	free(h->objects);
	free(h->first);
	free(h->last);
}

/* Start a check: no walk has met any index page yet. */
static inline void held_reset(struct held *h)
{
	memset(h->objects, 0, h->nframes * sizeof(uint32_t));
	memset(h->first, 0, h->nframes * sizeof(uint32_t));
	memset(h->last, 0, h->nframes * sizeof(uint32_t));
	h->walk = 0;
}

/* Before each object's walk. */
static inline void held_begin(struct held *h)
{
	h->walk++;
}

/* A frame named from index page holder: true when the frame is to be counted (this
   walk is the first to meet holder), false when another object counted it already. */
static inline bool held_note(struct held *h, svmm_pa_t holder)
{
	uint64_t i = (holder - h->ram0) / SVMM_PAGE_SIZE;
	if (h->last[i] != h->walk) {
		h->last[i] = h->walk;
		h->objects[i]++;
		if (h->first[i] == 0)
			h->first[i] = h->walk;
	}
	return h->first[i] == h->walk;
}

/*
 * After the walks: the first index page whose pmem count is not the number of objects
 * naming it, in *bad (returns false), else true with the index pages counted by more
 * than one object in *extra (the sum of their objects less one each: what a sum of
 * every object's node count counts twice).
 */
static inline bool held_verify(struct held *h, struct pmem *pm, svmm_pa_t *bad,
			       uint32_t *refs, uint32_t *objects, uint64_t *extra)
{
	*extra = 0;
	for (uint64_t i = 0; i < h->nframes; i++) {
		if (h->objects[i] == 0)
			continue;
		svmm_pa_t pa = h->ram0 + i * SVMM_PAGE_SIZE;
		uint32_t r = 0;
		if (pmem_refs(pm, pa, &r) != 0 || r != h->objects[i]) {
			*bad = pa;
			*refs = r;
			*objects = h->objects[i];
			return false;
		}
		*extra += h->objects[i] - 1;
	}
	return true;
}

#endif
