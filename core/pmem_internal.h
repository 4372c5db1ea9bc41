/*
 * pmem_internal.h - pmem calls for svmm's own modules only: not part of the public
 * API (include/svmm/), so they may change between releases.
 */
#ifndef SVMM_PMEM_INTERNAL_H
#define SVMM_PMEM_INTERNAL_H

#include <svmm/pmem.h>

/*
 * pmem_get_many(pm, src, n) that also copies src[0..n) to dst[0..n) (which must not
 * overlap it) in the same pass: a clone's leaf copy, which takes a reference for every
 * entry it copies, saves a second pass over the entries. After an error no count has
 * changed and dst's contents are undefined.
 */
int pmem_get_copy(struct pmem *pm, const uint64_t *src, uint64_t *dst, size_t n);

/*
 * pmem_get for a caller that has the frame's record already (pmem_frame or
 * pmem_frame_near): no span lookup. f must be a record of pm's database; the block
 * must be allocated and f its head (SVMM_ENOTALLOC otherwise, for a tail too), its count
 * below UINT32_MAX (SVMM_EREFCNT). A clone takes its reference on each leaf node it
 * shares this way, having looked up the node's owner word in the same record.
 */
int pmem_get_frame(struct pmem *pm, struct pmem_frame *f);

/*
 * Drop one reference on the block at pa unless it is the last: then *dropped is false
 * and the count stays 1, so that the caller, now its only holder, can take apart what
 * the block holds before freeing it. An index node that several memory objects share
 * is given up this way: deciding "not the last" and dropping in one step under pmem's
 * lock means two holders letting go at once cannot both think the other one is left.
 * Returns 0 or pmem_put's errors, with nothing changed on error.
 */
int pmem_put_unless_last(struct pmem *pm, svmm_pa_t pa, bool *dropped);

#endif
