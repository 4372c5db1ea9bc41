/*
 * test_pmem_prop.c - property tests of pmem against a reference model.
 *
 * The model is a map of frames (not RAM, free, unavailable, allocated) plus the list of
 * live blocks with their orders and reference counts. Random operations - allocations
 * under random limits, frees, gets, puts, and deliberately wrong calls - run on both;
 * every result is checked against the model: a block handed out must be free in the
 * model, aligned, under the limit and inside one span; SVMM_ENOMEM is only allowed when
 * the model has no free aligned block of that size under the limit; a wrong call must
 * return the code the model predicts and leave pmem unchanged. pmem_check runs after
 * every operation on the small configuration (1,000,000 operations) and every 1000 on
 * the larger one. The seed is printed; SVMM_SEED=<n> replays a run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <svmm/pmem.h>
#include "hostsim.h"
#include "test_rand.h"

#define RAM0 0x80000000ull
#define KiB SVMM_KiB
#define MiB SVMM_MiB
#define WINDOW (64 * MiB)                 /* the physical window the model covers */
#define NFRAMES (WINDOW / 4096)

enum { M_NONE, M_FREE, M_UNAVAIL, M_ALLOC };

struct live {
	svmm_pa_t pa;
	unsigned order;
	uint32_t refcnt;
};

static struct pmem pm;
static uint64_t seed;

static uint8_t mst[NFRAMES];          /* model state per frame */
static uint32_t mhead[NFRAMES];       /* allocated frames: frame index of the head */
static uint32_t mlive[NFRAMES];       /* heads: index in live[] */
static struct live *live;
static uint32_t nlive, maxlive;
static uint64_t mfree;
static struct pmem_stats st0;
static uint64_t n_alloc, n_nomem, n_free, n_get, n_put, n_bad, n_split;

static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

static uint64_t fidx(svmm_pa_t pa)
{
	return (pa - RAM0) >> 12;
}

static void print_line(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "%s\n", line);
}

static void must_check(uint64_t op)
{
	if (pmem_check(&pm, print_line, NULL) != 0)
		fail_msg("pmem_check failed after operation %llu (SVMM_SEED=%llu)",
			 (unsigned long long)op, (unsigned long long)seed);
	if (pmem_free_frames(&pm) != mfree)
		fail_msg("free frames %llu, model %llu after operation %llu (SVMM_SEED=%llu)",
			 (unsigned long long)pmem_free_frames(&pm), (unsigned long long)mfree,
			 (unsigned long long)op, (unsigned long long)seed);
}

static void pick_seed(void)
{
	seed = test_seed("pmem property");
}

/* Build the model from the configuration and check pmem's view of it at init. */
static void model_init(const struct pmem_range *ram, unsigned nram,
		       const struct pmem_range *res, unsigned nres, svmm_pa_t ml)
{
	memset(mst, M_NONE, sizeof(mst));
	nlive = 0;
	mfree = 0;
	uint64_t total = 0;
	for (unsigned i = 0; i < nram; i++) {
		for (svmm_pa_t p = ram[i].base; p < ram[i].base + ram[i].size; p += 4096)
			mst[fidx(p)] = M_FREE;
		total += ram[i].size / 4096;
	}
	for (unsigned i = 0; i < nres; i++) {
		svmm_pa_t b = SVMM_ALIGN_DOWN(res[i].base, 4096);
		svmm_pa_t e = SVMM_ALIGN_UP(res[i].base + res[i].size, 4096);
		for (svmm_pa_t p = b; p < e; p += 4096)
			if (p >= RAM0 && p < RAM0 + WINDOW && mst[fidx(p)] != M_NONE)
				mst[fidx(p)] = M_UNAVAIL;
	}
	pmem_stats(&pm, &st0);
	assert_int_equal(st0.total_frames, total);
	for (unsigned i = 0; i < st0.nspans; i++) {
		const struct pmem_span_stats *s = &st0.span[i];
		assert_true(s->db_pa + s->db_bytes <= ml);
		assert_int_equal(s->db_bytes, SVMM_ALIGN_UP(s->frames * 16, 4096));
		for (svmm_pa_t p = s->db_pa; p < s->db_pa + s->db_bytes; p += 4096) {
			/* The database takes only free RAM, and nothing twice. */
			assert_int_equal(mst[fidx(p)], M_FREE);
			mst[fidx(p)] = M_UNAVAIL;
		}
		for (svmm_pa_t p = s->base; p < s->end; p += 4096)
			assert_int_not_equal(mst[fidx(p)], M_NONE);
	}
	for (uint64_t f = 0; f < NFRAMES; f++)
		mfree += mst[f] == M_FREE;
	assert_int_equal(st0.free_frames, mfree);
}

/* The span (from the stats taken at init) holding pa, or NULL. */
static const struct pmem_span_stats *mspan(svmm_pa_t pa)
{
	for (unsigned i = 0; i < st0.nspans; i++)
		if (pa >= st0.span[i].base && pa < st0.span[i].end)
			return &st0.span[i];
	return NULL;
}

/* Does the model hold a free, aligned block of 2^order frames, in one span, < limit? */
static bool model_fits(unsigned order, svmm_pa_t limit)
{
	uint64_t size = 4096ull << order;
	for (unsigned i = 0; i < st0.nspans; i++) {
		const struct pmem_span_stats *s = &st0.span[i];
		svmm_pa_t end = s->end < limit ? s->end : limit;
		for (svmm_pa_t p = SVMM_ALIGN_UP(s->base, size); p + size <= end && p + size > p;
		     p += size) {
			uint64_t f = fidx(p), n = size / 4096, j = 0;
			while (j < n && mst[f + j] == M_FREE)
				j++;
			if (j == n)
				return true;
		}
	}
	return false;
}

static void model_take(svmm_pa_t pa, unsigned order)
{
	uint64_t f = fidx(pa), n = 1ull << order;
	for (uint64_t j = 0; j < n; j++) {
		mst[f + j] = M_ALLOC;
		mhead[f + j] = (uint32_t)f;
	}
	mfree -= n;
	assert_true(nlive < maxlive);
	live[nlive] = (struct live){ pa, order, 1 };
	mlive[f] = nlive++;
}

static void model_release(uint32_t li)
{
	uint64_t f = fidx(live[li].pa), n = 1ull << live[li].order;
	for (uint64_t j = 0; j < n; j++)
		mst[f + j] = M_FREE;
	mfree += n;
	live[li] = live[--nlive];
	if (li < nlive)
		mlive[fidx(live[li].pa)] = li;
}

static void op_alloc(unsigned maxorder, svmm_pa_t ml)
{
	unsigned order = 0;
	while (order < maxorder && below(3) == 0)
		order++;
	if (below(50) == 0)
		order = (unsigned)below(maxorder + 3);        /* now and then too big */
	svmm_pa_t limit;
	switch (below(4)) {
	case 0:
		limit = ml;
		break;
	case 1:
		limit = RAM0 + below(NFRAMES + 1) * 4096;
		break;
	default:
		limit = PMEM_ANY;
	}
	svmm_pa_t pa = 1;
	int err = pmem_alloc(&pm, order, limit, &pa);
	if (order > PMEM_MAX_ORDER) {
		assert_int_equal(err, SVMM_EORDER);
		return;
	}
	if (err == SVMM_ENOMEM) {
		n_nomem++;
		assert_int_equal(pa, 1);
		if (model_fits(order, limit))
			fail_msg("ENOMEM for order %u below %llx, the model has room (SVMM_SEED=%llu)",
				 order, (unsigned long long)limit, (unsigned long long)seed);
		return;
	}
	assert_int_equal(err, 0);
	uint64_t size = 4096ull << order;
	assert_true(SVMM_IS_ALIGNED(pa, size));
	assert_true(pa + size <= limit);
	const struct pmem_span_stats *s = mspan(pa);
	assert_non_null(s);
	assert_true(pa + size <= s->end);
	for (uint64_t j = 0; j < size / 4096; j++)
		if (mst[fidx(pa) + j] != M_FREE)
			fail_msg("block %llx order %u overlaps model state %u (SVMM_SEED=%llu)",
				 (unsigned long long)pa, order, mst[fidx(pa) + j],
				 (unsigned long long)seed);
	model_take(pa, order);
	n_alloc++;
}

static void op_free(void)
{
	uint32_t li = (uint32_t)below(nlive);
	struct live *l = &live[li];
	if (l->refcnt > 1) {
		struct pmem before = pm;
		assert_int_equal(pmem_free(&pm, l->pa, l->order), SVMM_EBUSY);
		assert_memory_equal(&before, &pm, sizeof(pm));
		assert_int_equal(pmem_put(&pm, l->pa), 0);
		l->refcnt--;
		return;
	}
	assert_int_equal(pmem_free(&pm, l->pa, l->order), 0);
	model_release(li);
	n_free++;
}

static void op_get(void)
{
	uint32_t li = (uint32_t)below(nlive);
	if (live[li].refcnt >= 4)
		return;
	assert_int_equal(pmem_get(&pm, live[li].pa), 0);
	live[li].refcnt++;
	n_get++;
}

static void op_put(void)
{
	uint32_t li = (uint32_t)below(nlive);
	assert_int_equal(pmem_put(&pm, live[li].pa), 0);
	if (--live[li].refcnt == 0)
		model_release(li);
	n_put++;
}

/*
 * Split a live block into order-0 blocks: each frame becomes a block of its own with
 * the block's reference count, and pmem_refs reports it.
 */
static void op_split(void)
{
	uint32_t li = (uint32_t)below(nlive);
	struct live l = live[li];
	assert_int_equal(pmem_split(&pm, l.pa), 0);
	uint64_t f = fidx(l.pa);
	live[li].order = 0;
	for (uint64_t j = 1; j < (1ull << l.order); j++) {
		assert_true(nlive < maxlive);
		live[nlive] = (struct live){ l.pa + j * 4096, 0, l.refcnt };
		mlive[f + j] = nlive++;
		mhead[f + j] = (uint32_t)(f + j);
	}
	uint64_t j = below(1ull << l.order);
	uint32_t refs = 0;
	assert_int_equal(pmem_refs(&pm, l.pa + j * 4096, &refs), 0);
	assert_int_equal(refs, l.refcnt);
	n_split++;
}

/* pmem_block on a random frame agrees with the model. */
static void op_block(void)
{
	svmm_pa_t pa = RAM0 + below(NFRAMES) * 4096, head = 0;
	unsigned order = 99;
	enum pmem_state ps = PMEM_TAIL;
	int err = pmem_block(&pm, pa, &head, &order, &ps);
	uint8_t m = mst[fidx(pa)];
	if (m == M_NONE) {
		assert_int_equal(err, SVMM_ERANGE);
		return;
	}
	assert_int_equal(err, 0);
	assert_true(head <= pa && pa < head + (4096ull << order));
	if (m == M_UNAVAIL) {
		assert_true(ps == PMEM_RESERVED || ps == PMEM_META);
	} else if (m == M_FREE) {
		assert_int_equal(ps, PMEM_FREE);
	} else {
		assert_int_equal(ps, PMEM_ALLOC);
		assert_int_equal(fidx(head), mhead[fidx(pa)]);
		assert_int_equal(order, live[mlive[mhead[fidx(pa)]]].order);
	}
}

/* A call that must fail: predict the code from the model, and see nothing change. */
static void op_bad(bool compare_db)
{
	svmm_pa_t pa = RAM0 + below(NFRAMES) * 4096;
	unsigned order = (unsigned)below(5);
	unsigned which = (unsigned)below(5);    /* free, get, put, split, refs */
	int want;
	if (below(20) == 0) {
		pa += 1 + below(4095);
		want = SVMM_EUNALIGNED;
	} else {
		switch (mst[fidx(pa)]) {
		case M_NONE:
			want = SVMM_ERANGE;
			break;
		case M_UNAVAIL:
			want = SVMM_ERESERVED;
			break;
		case M_FREE:
			want = which == 0 ? SVMM_EDOUBLEFREE :
			       which == 2 ? SVMM_EREFCNT : SVMM_ENOTALLOC;
			break;
		default: {
			uint32_t h = mhead[fidx(pa)];
			const struct live *l = &live[mlive[h]];
			if (h != fidx(pa))
				want = SVMM_ENOTALLOC;
			else if (which == 0 && order != l->order)
				want = SVMM_EORDER;
			else if (which == 0 && l->refcnt > 1)
				want = SVMM_EBUSY;
			else
				return;                 /* that call would be right */
		}
		}
	}
	struct pmem before = pm;
	static unsigned char dbcopy[4][4096];
	if (compare_db)
		for (unsigned i = 0; i < pm.nspans && i < 4; i++)
			memcpy(dbcopy[i], pm.span[i].db, pm.span[i].nframes * 16);
	uint32_t refs = 77;
	int err = which == 0 ? pmem_free(&pm, pa, order) :
		  which == 1 ? pmem_get(&pm, pa) :
		  which == 2 ? pmem_put(&pm, pa) :
		  which == 3 ? pmem_split(&pm, pa) : pmem_refs(&pm, pa, &refs);
	assert_int_equal(refs, 77);
	if (err != want)
		fail_msg("call %u on %llx order %u: %s, model says %s (SVMM_SEED=%llu)", which,
			 (unsigned long long)pa, order, svmm_strerror(err), svmm_strerror(want),
			 (unsigned long long)seed);
	assert_memory_equal(&before, &pm, sizeof(pm));
	n_bad++;
	if (compare_db)
		for (unsigned i = 0; i < pm.nspans && i < 4; i++)
			assert_memory_equal(dbcopy[i], pm.span[i].db, pm.span[i].nframes * 16);
}

/* Run ops random operations; usage hovers around `fill` of the free frames. */
static void run(uint64_t ops, unsigned maxorder, svmm_pa_t ml, uint64_t check_every,
		bool compare_db)
{
	uint64_t start_free = mfree;
	n_alloc = n_nomem = n_free = n_get = n_put = n_bad = n_split = 0;
	for (uint64_t op = 1; op <= ops; op++) {
		/* Lean towards allocation when much is free and towards freeing when not. */
		uint64_t used_pct = 100 - mfree * 100 / start_free;
		uint64_t r = below(100);
		if (r < 2)
			op_block();
		else if (r < 3 && nlive > 0)
			op_split();
		else if (r < 10)
			op_bad(compare_db);
		else if (nlive == 0 || r < 10 + (used_pct < 60 ? 50 : 30))
			op_alloc(maxorder, ml);
		else if (r < 85)
			op_free();
		else if (r < 92)
			op_get();
		else
			op_put();
		if (op % check_every == 0)
			must_check(op);
	}
	printf("pmem property: %llu ops: %llu allocs, %llu ENOMEM, %llu frees, %llu gets, "
	       "%llu puts, %llu splits, %llu wrong calls refused\n", (unsigned long long)ops,
	       (unsigned long long)n_alloc, (unsigned long long)n_nomem,
	       (unsigned long long)n_free, (unsigned long long)n_get,
	       (unsigned long long)n_put, (unsigned long long)n_split,
	       (unsigned long long)n_bad);
	/* Give everything back: the free blocks must be exactly those after init. */
	while (nlive > 0) {
		uint32_t li = nlive - 1;
		while (live[li].refcnt > 1) {
			assert_int_equal(pmem_put(&pm, live[li].pa), 0);
			live[li].refcnt--;
		}
		assert_int_equal(pmem_free(&pm, live[li].pa, live[li].order), 0);
		model_release(li);
	}
	must_check(ops);
	struct pmem_stats st;
	pmem_stats(&pm, &st);
	assert_memory_equal(&st, &st0, sizeof(st));
}

static int setup(void **state)
{
	(void)state;
	maxlive = NFRAMES;
	live = calloc(maxlive, sizeof(*live));
	return live == NULL || hostsim_ram_init(RAM0, WINDOW) != 0;
}

static int teardown(void **state)
{
	(void)state;
	free(live);
	hostsim_ram_fini();
	return 0;
}

/* About 300 frames in three ranges, one cut by the limit; full check after each op. */
static void test_small_million(void **state)
{
	(void)state;
	pick_seed();
	struct pmem_range ram[] = {
		{ RAM0 + 4 * MiB, 256 * KiB },
		{ RAM0, 512 * KiB },
		{ RAM0 + 1 * MiB + 64 * KiB, 384 * KiB },
	};
	struct pmem_range res[] = {
		{ RAM0 + 20 * KiB + 5, 9000 },
		{ RAM0 + 1 * MiB + 192 * KiB, 4096 },
		{ RAM0 + 4 * MiB + 252 * KiB, 8 * KiB },
		{ RAM0 + 300 * KiB, 64 * KiB },
	};
	svmm_pa_t ml = RAM0 + 1 * MiB + 256 * KiB;
	assert_int_equal(pmem_init(&pm, ram, 3, res, 4, ml), 0);
	model_init(ram, 3, res, 4, ml);
	assert_int_equal(st0.nspans, 4);
	run(1000000, 7, ml, 1, true);
}

/* About 10,000 frames in four ranges with holes; checked every 1000 operations. */
static void test_large(void **state)
{
	(void)state;
	pick_seed();
	struct pmem_range ram[] = {
		{ RAM0, 16 * MiB },
		{ RAM0 + 20 * MiB + 12 * KiB, 8 * MiB },
		{ RAM0 + 32 * MiB, 12 * MiB },
		{ RAM0 + 48 * MiB - 4 * KiB, 4 * MiB },
	};
	struct pmem_range res[] = {
		{ RAM0, 2 * MiB },
		{ RAM0 + 2 * MiB, 3 * MiB + 77 },
		{ RAM0 + 33 * MiB + 100, 1 },
		{ RAM0 + 50 * MiB, 16 * KiB },
	};
	svmm_pa_t ml = RAM0 + 24 * MiB;
	assert_int_equal(pmem_init(&pm, ram, 4, res, 4, ml), 0);
	model_init(ram, 4, res, 4, ml);
	run(200000, 10, ml, 1000, false);
}

/*
 * Random configurations: RAM ranges and reserved ranges anywhere in the window, some
 * touching, some overlapping. Init either refuses with the code the configuration
 * calls for or succeeds with databases only in free RAM (model_init checks that) and
 * a database that passes pmem_check.
 */
static void test_random_init(void **state)
{
	(void)state;
	pick_seed();
	unsigned ok = 0, nomem = 0, overlap = 0;
	for (unsigned round = 0; round < 3000; round++) {
		struct pmem_range ram[6], res[8];
		unsigned nram = 1 + (unsigned)below(6), nres = (unsigned)below(9);
		for (unsigned i = 0; i < nram; i++) {
			ram[i].base = RAM0 + below(NFRAMES / 2) * 4096 * 2;
			ram[i].size = (1 + below(NFRAMES / 8)) * 4096;
			if (i > 0 && below(3) == 0)     /* touching the previous one */
				ram[i].base = ram[i - 1].base + ram[i - 1].size;
			if (ram[i].base + ram[i].size > RAM0 + WINDOW)
				ram[i].size = RAM0 + WINDOW - ram[i].base;
			if (ram[i].size == 0)
				ram[i].size = 4096, ram[i].base -= 4096;
		}
		bool ov = false;
		for (unsigned i = 0; i < nram; i++)
			for (unsigned j = i + 1; j < nram; j++)
				ov |= ram[i].base < ram[j].base + ram[j].size &&
				      ram[j].base < ram[i].base + ram[i].size;
		for (unsigned i = 0; i < nres; i++) {
			res[i].base = RAM0 + below(WINDOW);
			res[i].size = 1 + below(2 * MiB);
			if (res[i].base + res[i].size > RAM0 + WINDOW)
				res[i].size = RAM0 + WINDOW - res[i].base;
		}
		svmm_pa_t ml = below(2) ? PMEM_ANY : RAM0 + below(NFRAMES) * 4096;
		memset(&pm, 0xa5, sizeof(pm));
		int err = pmem_init(&pm, ram, nram, res, nres, ml);
		if (ov) {
			assert_int_equal(err, SVMM_EOVERLAP);
			overlap++;
			continue;
		}
		if (err == SVMM_ENOMEM) {
			nomem++;
			continue;
		}
		assert_int_equal(err, 0);
		model_init(ram, nram, res, nres, ml == PMEM_ANY ? PMEM_ANY :
			   SVMM_ALIGN_DOWN(ml, 4096));
		must_check(round);
		ok++;
	}
	printf("pmem property: random init: %u accepted, %u ENOMEM, %u overlapping\n", ok,
	       nomem, overlap);
	assert_true(ok > 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_small_million, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_init, setup, teardown),
	};
	return cmocka_run_group_tests_name("pmem property", tests, NULL, NULL);
}
