/*
 * svmm/asid.h - address-space identifiers with generations.
 *
 * An ASID tags TLB entries so that a context switch need not flush them. The hardware
 * offers 2^w ASIDs (w probed at boot, 0..16 on RV64); far more address spaces may
 * exist over the system's life, so ASIDs are handed out in generations, as Linux does
 * on arm64 and RISC-V:
 *
 *  - An address space remembers a context word: generation | asid. It is current when
 *    its generation equals the allocator's; a current context keeps its ASID (the
 *    allocator's lock is still taken briefly, to record which hart runs it).
 *  - A stale context gets a fresh ASID from a bitmap of those used in this generation.
 *    ASIDs are never reused within a generation, so no flush is needed per allocation.
 *  - When the bitmap is full the allocator rolls over: generation + 1, bitmap cleared
 *    except for the ASIDs that are running on some hart right now (they keep their ASID
 *    in the new generation, so remote flushes by ASID keep reaching those harts), and
 *    every hart owes one full local TLB flush, taken at its next activation.
 *  - With too few ASIDs to be worth it (width 0, or no more than two per hart) the
 *    allocator falls back to ASID 0 for everybody and a local flush on every switch to
 *    a different address space.
 *
 * ASID 0 is never given to an address space: it belongs to the kernel's own table.
 */
#ifndef SVMM_ASID_H
#define SVMM_ASID_H

#include <svmm/fmt.h>
#include <svmm/port.h>
#include <svmm/types.h>

#define ASID_MAX_BITS  16u            /* satp.ASID is 16 bits wide on RV64 */
#define ASID_MAX_HARTS 64u
#define ASID_MAP_WORDS ((1u << ASID_MAX_BITS) / 64u)

struct asid_allocator {
	struct svmm_lock lock;
	unsigned bits;              /* usable ASID width as probed */
	unsigned nharts;
	bool flush_every_switch;    /* the fallback: too few ASIDs */
	uint32_t nasids;            /* 2^bits */
	uint32_t next;              /* where the bitmap search resumes */
	uint64_t generation;        /* a multiple of nasids; never 0 */
	uint64_t serial;            /* fallback mode: last identity handed out */
	uint64_t rollovers;         /* statistics */
	uint64_t allocations;
	uint64_t active[ASID_MAX_HARTS];    /* context running on each hart, 0 = being
	                                       rolled over or none */
	uint64_t reserved[ASID_MAX_HARTS];  /* context kept across the last rollover */
	bool flush_pending[ASID_MAX_HARTS]; /* hart owes a full local flush */
	uint64_t map[ASID_MAP_WORDS];       /* ASIDs used in this generation */
};

/*
 * Set up the allocator for ASIDs of `bits` usable bits (0..16, as probed by writing
 * all ones to satp.ASID and reading back) on `nharts` harts (1..ASID_MAX_HARTS).
 * Returns 0, or SVMM_EINVAL for a width or hart count out of range. Every hart starts
 * owing a full flush, since nothing is known about what its TLB holds.
 */
int asid_init(struct asid_allocator *a, unsigned bits, unsigned nharts);

/*
 * Make the address space whose context word is *ctxp current on `hart`, assigning it
 * a new ASID when its context is from an older generation (or 0: never assigned);
 * *ctxp is updated. Returns the ASID to put in satp. *flush_local is set to true when
 * the hart must flush its whole local TLB (all ASIDs, sfence.vma x0, x0) after writing
 * satp and before running user code: after a rollover, and on every switch to a
 * different address space in the fallback mode. The caller holds no allocator lock;
 * the owner of *ctxp serialises activations of one address space with its own lock.
 */
uint32_t asid_activate(struct asid_allocator *a, uint64_t *ctxp, unsigned hart,
		       bool *flush_local);

/*
 * The ASID a context word names (0 in the fallback mode). Address spaces use it to
 * tag the TLB flushes of their mapping changes; a context from an old generation still
 * names the ASID its TLB entries carry, so flushing by it stays correct.
 */
uint32_t asid_of(const struct asid_allocator *a, uint64_t ctx);

/*
 * Forget that `hart` runs the context ctx (the hart switched to the kernel table, or
 * the address space is being destroyed). Cheap; keeps the reserved set small.
 */
void asid_deactivate(struct asid_allocator *a, uint64_t ctx, unsigned hart);

/*
 * Consistency check: 0 or SVMM_EINVAL. When out is not NULL, the first broken
 * invariant is printed through it as one line that names it. Never modifies (takes
 * the allocator's lock).
 */
int asid_check(struct asid_allocator *a, svmm_print_fn out, void *ctx);

#endif /* SVMM_ASID_H */
