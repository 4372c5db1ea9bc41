/*
 * asid.c - ASID allocation with generations and rollover (see svmm/asid.h).
 *
 * Every call takes the allocator's lock. A context switch costs one uncontended lock
 * and a compare when the address space's context is current; the allocation and the
 * rollover below it are rare (once per address space per generation).
 */
#include <svmm/asid.h>
#include <svmm/fmt.h>

static inline uint64_t asid_mask(const struct asid_allocator *a)
{
	return (uint64_t)a->nasids - 1u;
}

static inline bool map_test(const struct asid_allocator *a, uint32_t asid)
{
	return (a->map[asid / 64u] >> (asid % 64u)) & 1u;
}

static inline void map_set(struct asid_allocator *a, uint32_t asid)
{
	a->map[asid / 64u] |= (uint64_t)1 << (asid % 64u);
}

/*
 * Index of the lowest set bit of w (w != 0), by halving. __builtin_ctzll would be
 * shorter, but on rv64gc without Zbb it becomes a call to libgcc's __ctzdi2, and the
 * core promises to need nothing beyond port.h and the four memory functions.
 */
static unsigned lowest_bit(uint64_t w)
{
	unsigned n = 0;

	for (unsigned half = 32; half != 0; half /= 2) {
		uint64_t low = ((uint64_t)1 << half) - 1;
		if ((w & low) == 0) {
			n += half;
			w >>= half;
		}
	}
	return n;
}

/*
 * Allocators are written with an explicit word loop rather than a bitmap library:
 * the core has no library, and the map is at most 1024 words.
 */
static uint32_t map_find_zero(const struct asid_allocator *a, uint32_t from)
{
	for (uint32_t i = from; i < a->nasids; ) {
		uint64_t w = ~a->map[i / 64u] >> (i % 64u);
		if (w != 0) {
			uint32_t hit = i + (uint32_t)lowest_bit(w);
			return hit < a->nasids ? hit : a->nasids;
		}
		i = (i / 64u + 1u) * 64u;
	}
	return a->nasids;
}

int asid_init(struct asid_allocator *a, unsigned bits, unsigned nharts)
{
	if (a == NULL || bits > ASID_MAX_BITS || nharts == 0 || nharts > ASID_MAX_HARTS)
		return SVMM_EINVAL;
	__builtin_memset(a, 0, sizeof(*a));
	a->bits = bits;
	a->nharts = nharts;
	a->nasids = (uint32_t)1 << bits;
	/*
	 * Each hart may pin one ASID across a rollover and ASID 0 is the kernel's, so with
	 * no more than 2 * nharts ASIDs a generation would hold almost nothing new and
	 * rollovers would come at nearly every switch; flushing per switch is cheaper.
	 */
	a->flush_every_switch = a->nasids <= 2u * nharts;
	a->generation = a->nasids;
	a->next = 1;
	map_set(a, 0);
	for (unsigned h = 0; h < nharts; h++)
		a->flush_pending[h] = true;
	return 0;
}

uint32_t asid_of(const struct asid_allocator *a, uint64_t ctx)
{
	if (a->flush_every_switch)
		return 0;
	return (uint32_t)(ctx & asid_mask(a));
}

/*
 * Start a new generation: forget every ASID except those running on a hart now, and
 * make every hart flush its whole TLB at its next activation, since entries of the
 * forgotten ASIDs may survive in any of them.
 */
static void asid_rollover(struct asid_allocator *a)
{
	a->generation += a->nasids;
	__builtin_memset(a->map, 0, sizeof(a->map));
	map_set(a, 0);
	for (unsigned h = 0; h < a->nharts; h++) {
		uint64_t ctx = a->active[h];
		a->reserved[h] = ctx;
		if (ctx != 0)
			map_set(a, (uint32_t)(ctx & asid_mask(a)));
		a->flush_pending[h] = true;
	}
	a->next = 1;
	a->rollovers++;
}

/*
 * A context reserved across the rollover keeps its ASID: rewrite every hart's
 * reserved copy (an address space may be active on several harts) to the new
 * generation, and the active word of every hart running it. Returns true if ctx was
 * reserved.
 */
static bool asid_keep_reserved(struct asid_allocator *a, uint64_t ctx, uint64_t newctx)
{
	bool hit = false;
	for (unsigned h = 0; h < a->nharts; h++) {
		if (a->reserved[h] == ctx) {
			a->reserved[h] = newctx;
			hit = true;
		}
		if (a->active[h] == ctx)
			a->active[h] = newctx;
	}
	return hit;
}

static uint64_t asid_new_context(struct asid_allocator *a, uint64_t ctx)
{
	if (ctx != 0) {
		uint32_t old = (uint32_t)(ctx & asid_mask(a));
		uint64_t newctx = a->generation | old;
		if (asid_keep_reserved(a, ctx, newctx))
			return newctx;
		/* Nobody took our old ASID in this generation: keep it, no flush needed. */
		if (!map_test(a, old)) {
			map_set(a, old);
			a->allocations++;
			return newctx;
		}
	}
	uint32_t asid = map_find_zero(a, a->next);
	if (asid == a->nasids) {
		asid_rollover(a);
		asid = map_find_zero(a, 1);
		if (asid == a->nasids)
			port_panic("asid: no free ASID right after a rollover");
	}
	map_set(a, asid);
	a->next = asid + 1u;
	a->allocations++;
	return a->generation | asid;
}

uint32_t asid_activate(struct asid_allocator *a, uint64_t *ctxp, unsigned hart,
		       bool *flush_local)
{
	if (hart >= a->nharts)
		port_panic("asid_activate: hart number out of range");
	port_lock(&a->lock);
	uint64_t ctx = *ctxp;
	uint32_t asid;
	bool flush;
	if (a->flush_every_switch) {
		/* Contexts are only identities here; everyone runs with ASID 0. */
		if (ctx == 0)
			*ctxp = ctx = ++a->serial;
		flush = a->active[hart] != ctx || a->flush_pending[hart];
		asid = 0;
	} else {
		if (ctx == 0 || (ctx & ~asid_mask(a)) != a->generation)
			*ctxp = ctx = asid_new_context(a, ctx);
		flush = a->flush_pending[hart];
		asid = (uint32_t)(ctx & asid_mask(a));
	}
	a->flush_pending[hart] = false;
	a->active[hart] = ctx;
	port_unlock(&a->lock);
	*flush_local = flush;
	return asid;
}

void asid_deactivate(struct asid_allocator *a, uint64_t ctx, unsigned hart)
{
	if (hart >= a->nharts)
		port_panic("asid_deactivate: hart number out of range");
	port_lock(&a->lock);
	if (a->active[hart] == ctx)
		a->active[hart] = 0;
	port_unlock(&a->lock);
}

int asid_check(struct asid_allocator *a, svmm_print_fn out, void *ctx)
{
	const char *why = NULL;
	unsigned bad_hart = 0;
	port_lock(&a->lock);
	if (a->nasids != (uint32_t)1 << a->bits)
		why = "nasids is 2^bits";
	else if (a->nharts == 0 || a->nharts > ASID_MAX_HARTS)
		why = "the hart count is 1..ASID_MAX_HARTS";
	else if (a->generation == 0 || (a->generation & asid_mask(a)) != 0)
		why = "the generation is a non-zero multiple of nasids";
	else if (!map_test(a, 0))
		why = "ASID 0 (the kernel's) is always marked used";
	for (unsigned h = 0; why == NULL && h < a->nharts; h++) {
		uint64_t c = a->active[h];
		bad_hart = h;
		if (c == 0 || a->flush_every_switch)
			continue;
		/* A running context is either current and marked, or reserved. */
		uint32_t asid = (uint32_t)(c & asid_mask(a));
		if (asid == 0 || !map_test(a, asid))
			why = "a running context's ASID is non-zero and marked used";
		else if ((c & ~asid_mask(a)) != a->generation && a->reserved[h] != c)
			why = "a running context is current or reserved across the rollover";
		/* Two harts run the same ASID only for the same context. */
		for (unsigned g = 0; why == NULL && g < h; g++) {
			uint64_t o = a->active[g];
			if (o != 0 && o != c && (o & asid_mask(a)) == asid)
				why = "two harts run one ASID only for one context";
		}
	}
	/* Bits past the width are never set. */
	if (why == NULL && a->nasids < 64u && (a->map[0] >> a->nasids) != 0)
		why = "no bit past the ASID width is set in the map";
	for (uint32_t w = (a->nasids + 63u) / 64u; why == NULL && w < ASID_MAP_WORDS; w++)
		if (a->map[w] != 0)
			why = "no bit past the ASID width is set in the map";
	port_unlock(&a->lock);
	if (why == NULL)
		return 0;
	if (out != NULL)
		svmm_printline(out, ctx, "asid: %s (hart %u, generation 0x%llx)", why, bad_hart,
			       (unsigned long long)a->generation);
	return SVMM_EINVAL;
}
