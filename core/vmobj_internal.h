/*
 * vmobj_internal.h - memory-object calls for svmm's own tests and modules only: not
 * part of the public API (include/svmm/), so they may change between releases.
 */
#ifndef SVMM_VMOBJ_INTERNAL_H
#define SVMM_VMOBJ_INTERNAL_H

#include <svmm/vmobj.h>

/*
 * vmobj_walk that also gives, for each frame, the index page whose entry names it
 * (holder: a node, or the object's own page for root[]'s entries). A leaf node that
 * clones share is reported by each of them, with the same holder, so that a test can
 * check pmem's counts in their two steps: a frame's count is the number of distinct
 * holders naming it, a holder's count the number of objects whose index names it.
 */
void vmobj_walk_held(struct vmobj *obj,
		     void (*fn)(void *ctx, uint64_t off, svmm_pa_t pa, unsigned order,
				svmm_pa_t holder),
		     void *ctx);

#endif
