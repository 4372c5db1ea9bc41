/*
 * test_pmem.c - unit tests of the physical frame allocator: init and its errors,
 * placement of the frame database, allocation under a limit, gigabyte blocks, every
 * error of free/get/put with the state compared before and after, the consistency
 * checker catching corruption, and a short multithreaded run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include <svmm/pmem.h>
#include "../core/pmem_internal.h"   /* pmem_get_copy, svmm's own */
#include "hostsim.h"

#define RAM0 0x80000000ull
#define KiB SVMM_KiB
#define MiB SVMM_MiB
#define GiB SVMM_GiB
#define SIM_SIZE (6 * GiB)

static struct pmem pm;

static int setup(void **state)
{
	(void)state;
	return hostsim_ram_init(RAM0, SIM_SIZE);
}

static int teardown(void **state)
{
	(void)state;
	hostsim_ram_fini();
	return 0;
}

/* The whole allocator state: the struct and every span's database. */
struct snap {
	struct pmem pm;
	unsigned char *db;
	size_t len;
};

static void snap_take(struct snap *s)
{
	s->pm = pm;
	s->len = 0;
	for (unsigned i = 0; i < pm.nspans; i++)
		s->len += (size_t)pm.span[i].nframes * sizeof(struct pmem_frame);
	s->db = malloc(s->len);
	assert_non_null(s->db);
	size_t off = 0;
	for (unsigned i = 0; i < pm.nspans; i++) {
		size_t n = (size_t)pm.span[i].nframes * sizeof(struct pmem_frame);
		memcpy(s->db + off, pm.span[i].db, n);
		off += n;
	}
}

/* Assert the state is what snap_take saw, then release the snapshot. */
static void snap_same(struct snap *s)
{
	assert_memory_equal(&s->pm, &pm, sizeof(pm));
	size_t off = 0;
	for (unsigned i = 0; i < pm.nspans; i++) {
		size_t n = (size_t)pm.span[i].nframes * sizeof(struct pmem_frame);
		assert_memory_equal(s->db + off, pm.span[i].db, n);
		off += n;
	}
	free(s->db);
	s->db = NULL;
}

static void print_line(void *ctx, const char *line)
{
	(void)ctx;
	fprintf(stderr, "%s\n", line);
}

static void must_check(void)
{
	int err = pmem_check(&pm, print_line, NULL);
	assert_int_equal(err, 0);
}

static int init1(svmm_pa_t base, uint64_t size, svmm_pa_t meta_limit)
{
	struct pmem_range r = { base, size };
	return pmem_init(&pm, &r, 1, NULL, 0, meta_limit);
}

/* ---- init ---- */

static void test_init_single(void **state)
{
	(void)state;
	assert_int_equal(init1(RAM0, 64 * MiB, PMEM_ANY), 0);
	must_check();
	struct pmem_stats st;
	pmem_stats(&pm, &st);
	assert_int_equal(st.total_frames, 16384);
	assert_int_equal(st.meta_frames, 64);          /* 16384 entries of 16 bytes */
	assert_int_equal(st.free_frames, 16384 - 64);
	assert_int_equal(st.alloc_frames, 0);
	assert_int_equal(st.reserved_frames, 0);
	assert_int_equal(st.db_bytes_per_frame, 16);
	assert_int_equal(pmem_free_frames(&pm), 16384 - 64);
	/* Frames [64, 16384) of a 2^19-aligned base: blocks of order 6, 7, ..., 13. */
	for (unsigned k = 0; k < PMEM_NR_ORDERS; k++)
		assert_int_equal(st.free_blocks[k], k >= 6 && k <= 13 ? 1 : 0);
	assert_int_equal(st.nspans, 1);
	assert_int_equal(st.span[0].db_pa, RAM0);
}

static void test_init_ranges_and_holes(void **state)
{
	(void)state;
	/* Unsorted; the last two touch and must become one span. */
	struct pmem_range ram[] = {
		{ RAM0 + 64 * MiB, 16 * MiB },
		{ RAM0, 8 * MiB },
		{ RAM0 + 80 * MiB, 8 * MiB },
	};
	struct pmem_range res[] = {
		{ RAM0, 2 * MiB },                     /* firmware */
		{ RAM0 + 2 * MiB + 100, 5000 },        /* unaligned: frames 512..513 */
		{ RAM0 + 65 * MiB, 4 * KiB },
		{ RAM0 + 30 * MiB, 1 * MiB },          /* in a hole: ignored */
		{ RAM0 + 87 * MiB, 4 * MiB },          /* half outside RAM */
	};
	assert_int_equal(pmem_init(&pm, ram, 3, res, 5, PMEM_ANY), 0);
	must_check();
	struct pmem_stats st;
	pmem_stats(&pm, &st);
	assert_int_equal(st.nspans, 2);
	assert_int_equal(st.span[1].base, RAM0 + 64 * MiB);
	assert_int_equal(st.span[1].end, RAM0 + 88 * MiB);
	assert_int_equal(st.total_frames, (8 + 24) * 256);
	assert_int_equal(st.reserved_frames, 512 + 2 + 1 + 256);
	assert_int_equal(st.meta_frames, 8 * 256 * 16 / 4096 + 24 * 256 * 16 / 4096);
	uint64_t nfree = st.free_frames;
	assert_null(pmem_frame(&pm, RAM0 + 30 * MiB));
	assert_null(pmem_frame(&pm, RAM0 + 88 * MiB));
	assert_non_null(pmem_frame(&pm, RAM0 + 88 * MiB - 1));

	/* Take every frame: none reserved, none of the database, none twice. */
	svmm_pa_t *got = calloc(nfree + 1, sizeof(svmm_pa_t));
	uint64_t n = 0;
	svmm_pa_t pa;
	while (pmem_alloc(&pm, 0, PMEM_ANY, &pa) == 0) {
		assert_true(n < nfree);
		got[n++] = pa;
		for (unsigned i = 0; i < 5; i++)
			assert_false(pa + 4096 > SVMM_ALIGN_DOWN(res[i].base, 4096) &&
				     pa < res[i].base + res[i].size);
		for (unsigned i = 0; i < st.nspans; i++)
			assert_false(pa >= st.span[i].db_pa &&
				     pa < st.span[i].db_pa + st.span[i].db_bytes);
	}
	assert_int_equal(n, nfree);
	assert_int_equal(pmem_free_frames(&pm), 0);
	must_check();
	for (uint64_t i = 0; i < n; i++)
		for (uint64_t j = i + 1; j < n && j < i + 8; j++)
			assert_true(got[i] != got[j]);
	/* Give them back in a scrambled order: everything merges back as it was. */
	for (uint64_t i = 0; i < n; i++) {
		uint64_t j = i + (uint64_t)rand() % (n - i);
		svmm_pa_t t = got[i];
		got[i] = got[j];
		got[j] = t;
		assert_int_equal(pmem_free(&pm, got[i], 0), 0);
	}
	struct pmem_stats st2;
	pmem_stats(&pm, &st2);
	assert_memory_equal(&st, &st2, sizeof(st));
	must_check();
	free(got);
}

/* Every rejected init leaves *pm as it was and writes nothing into RAM. */
static void init_fails(int want, const struct pmem_range *ram, unsigned nram,
		       const struct pmem_range *res, unsigned nres, svmm_pa_t ml)
{
	struct pmem before;
	memset(&pm, 0x5a, sizeof(pm));
	before = pm;
	unsigned char *ram0 = port_pa_to_va(RAM0);
	memset(ram0, 0xc3, 64 * KiB);
	assert_int_equal(pmem_init(&pm, ram, nram, res, nres, ml), want);
	assert_memory_equal(&before, &pm, sizeof(pm));
	for (size_t i = 0; i < 64 * KiB; i++)
		if (ram0[i] != 0xc3)
			fail_msg("RAM written at offset %zu by a failed init", i);
}

static void test_init_errors(void **state)
{
	(void)state;
	struct pmem_range ok = { RAM0, 8 * MiB };
	struct pmem_range many[PMEM_MAX_RANGES + 1];
	for (unsigned i = 0; i <= PMEM_MAX_RANGES; i++)
		many[i] = (struct pmem_range){ RAM0 + i * MiB, 64 * KiB };

	assert_int_equal(pmem_init(NULL, &ok, 1, NULL, 0, PMEM_ANY), SVMM_EINVAL);
	init_fails(SVMM_EINVAL, NULL, 1, NULL, 0, PMEM_ANY);
	init_fails(SVMM_EINVAL, &ok, 0, NULL, 0, PMEM_ANY);
	init_fails(SVMM_EINVAL, many, PMEM_MAX_RANGES + 1, NULL, 0, PMEM_ANY);
	init_fails(SVMM_EINVAL, &ok, 1, NULL, 1, PMEM_ANY);
	init_fails(SVMM_EINVAL, &ok, 1, many, PMEM_MAX_RESERVED + 1, PMEM_ANY);

	struct pmem_range zero[] = { ok, { RAM0 + 16 * MiB, 0 } };
	init_fails(SVMM_EZEROSIZE, zero, 2, NULL, 0, PMEM_ANY);
	struct pmem_range ubase = { RAM0 + 512, 8 * MiB };
	init_fails(SVMM_EUNALIGNED, &ubase, 1, NULL, 0, PMEM_ANY);
	struct pmem_range usize = { RAM0, 8 * MiB + 100 };
	init_fails(SVMM_EUNALIGNED, &usize, 1, NULL, 0, PMEM_ANY);
	struct pmem_range wrap = { 0xfffffffffffff000ull, 0x2000 };
	init_fails(SVMM_EOVERFLOW, &wrap, 1, NULL, 0, PMEM_ANY);
	struct pmem_range top = { 0xfffffffffffff000ull, 0x1000 };
	init_fails(SVMM_EOVERFLOW, &top, 1, NULL, 0, PMEM_ANY);
	struct pmem_range ov[] = { { RAM0 + 4 * MiB, 8 * MiB }, ok };
	init_fails(SVMM_EOVERLAP, ov, 2, NULL, 0, PMEM_ANY);
	struct pmem_range same[] = { ok, ok };
	init_fails(SVMM_EOVERLAP, same, 2, NULL, 0, PMEM_ANY);

	struct pmem_range rzero = { RAM0, 0 };
	init_fails(SVMM_EZEROSIZE, &ok, 1, &rzero, 1, PMEM_ANY);
	struct pmem_range rwrap = { 0xffffffffffffff00ull, 0x200 };
	init_fails(SVMM_EOVERFLOW, &ok, 1, &rwrap, 1, PMEM_ANY);
	struct pmem_range rup = { 0xffffffffffffff00ull, 0x80 };  /* rounds past 2^64 */
	init_fails(SVMM_EOVERFLOW, &ok, 1, &rup, 1, PMEM_ANY);

	/* No room for the database: below all RAM, or everything below it reserved. */
	init_fails(SVMM_ENOMEM, &ok, 1, NULL, 0, RAM0);
	init_fails(SVMM_ENOMEM, &ok, 1, &ok, 1, PMEM_ANY);
	init_fails(SVMM_ENOMEM, &ok, 1, NULL, 0, RAM0 + 4 * KiB);  /* needs 8 frames */

	/* A failed re-init leaves a working allocator alone, database included. */
	assert_int_equal(pmem_init(&pm, &ok, 1, NULL, 0, PMEM_ANY), 0);
	svmm_pa_t pa;
	assert_int_equal(pmem_alloc(&pm, 3, PMEM_ANY, &pa), 0);
	struct snap s;
	snap_take(&s);
	assert_int_equal(pmem_init(&pm, ov, 2, NULL, 0, PMEM_ANY), SVMM_EOVERLAP);
	assert_int_equal(pmem_init(&pm, &ok, 1, NULL, 0, RAM0), SVMM_ENOMEM);
	snap_same(&s);
	must_check();
}

/*
 * The database is the one thing init allocates, one piece per span. Fail each
 * placement in turn by leaving just too little room below the limit: init must fail
 * cleanly at every point and succeed once there is exactly enough.
 */
static void test_init_nomem_each_placement(void **state)
{
	(void)state;
	/* Spans of 1024, 2048 and 4096 frames need 4, 8 and 16 database frames; only
	   the first lies below the limit. */
	struct pmem_range ram[] = {
		{ RAM0, 4 * MiB },
		{ RAM0 + 64 * MiB, 8 * MiB },
		{ RAM0 + 128 * MiB, 16 * MiB },
	};
	unsigned failures = 0;
	for (uint64_t room = 0; room <= 28; room++) {
		/* Everything of the first range is reserved except `room` frames. */
		struct pmem_range res = { RAM0 + room * 4096, 4 * MiB - room * 4096 };
		unsigned nres = room < 1024 ? 1 : 0;
		if (room < 28) {
			init_fails(SVMM_ENOMEM, ram, 3, &res, nres, RAM0 + 4 * MiB);
			failures++;
			continue;
		}
		assert_int_equal(pmem_init(&pm, ram, 3, &res, nres, RAM0 + 4 * MiB), 0);
		must_check();
		struct pmem_stats st;
		pmem_stats(&pm, &st);
		assert_int_equal(st.nspans, 3);
		for (unsigned i = 0; i < 3; i++)
			assert_true(st.span[i].db_pa + st.span[i].db_bytes <= RAM0 + 4 * MiB);
		assert_int_equal(st.span[0].free_frames, 0);
		assert_int_equal(st.span[0].meta_frames, 28);
		assert_int_equal(st.span[1].meta_frames, 0);
		assert_int_equal(st.free_frames, 2048 + 4096);
	}
	assert_int_equal(failures, 28);
}

/* A range that crosses the limit is cut there; limited requests stay below it. */
static void test_limit_and_preference(void **state)
{
	(void)state;
	svmm_pa_t ml = RAM0 + 32 * MiB;
	assert_int_equal(init1(RAM0, 64 * MiB, ml), 0);
	must_check();
	struct pmem_stats st;
	pmem_stats(&pm, &st);
	assert_int_equal(st.nspans, 2);
	assert_int_equal(st.span[0].end, ml);
	assert_true(st.span[1].db_pa < ml);
	assert_int_equal(st.span[1].meta_frames, 0);

	/* PMEM_ANY takes high memory first, and only then low memory. */
	uint64_t high = st.span[1].free_frames, low = st.span[0].free_frames;
	svmm_pa_t pa;
	for (uint64_t i = 0; i < high; i++) {
		assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &pa), 0);
		assert_true(pa >= ml);
	}
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &pa), 0);
	assert_true(pa < ml);
	assert_int_equal(pmem_free(&pm, pa, 0), 0);

	/* Limited requests come from below the limit until it is exhausted. */
	for (uint64_t i = 0; i < low; i++) {
		assert_int_equal(pmem_alloc(&pm, 0, ml, &pa), 0);
		assert_true(pa + 4096 <= ml);
	}
	struct snap s;
	snap_take(&s);
	assert_int_equal(pmem_alloc(&pm, 0, ml, &pa), SVMM_ENOMEM);
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &pa), SVMM_ENOMEM);
	assert_int_equal(pmem_alloc(&pm, 0, RAM0, &pa), SVMM_ENOMEM);
	assert_int_equal(pmem_alloc(&pm, 0, 0, &pa), SVMM_ENOMEM);
	snap_same(&s);
	must_check();
}

/*
 * Above the window, a frame is cut from the smallest fitting block of any span before
 * a large block is split; the window itself is used only when nothing above is left.
 */
static void test_pick_smallest_fit(void **state)
{
	(void)state;
	svmm_pa_t ml = RAM0 + 16 * MiB;
	struct pmem_range ram[] = {
		{ RAM0, 16 * MiB },                      /* the window */
		{ RAM0 + 32 * MiB + 4 * KiB, 4 * MiB },  /* above, unaligned: has fragments */
		{ RAM0 + 64 * MiB, 8 * MiB },            /* above: one 8 MiB block */
	};
	assert_int_equal(pmem_init(&pm, ram, 3, NULL, 0, ml), 0);
	struct pmem_stats st;
	pmem_stats(&pm, &st);
	assert_int_equal(st.span[2].free_blocks[11], 1);
	svmm_pa_t pa;
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &pa), 0);
	assert_true(pa >= ram[1].base && pa < ram[1].base + ram[1].size);
	pmem_stats(&pm, &st);
	assert_int_equal(st.span[2].free_blocks[11], 1);
	assert_int_equal(pmem_alloc(&pm, 11, PMEM_ANY, &pa), 0);
	assert_int_equal(pa, RAM0 + 64 * MiB);
	assert_int_equal(pmem_free(&pm, pa, 11), 0);
	/* Everything above the window goes before anything in it. */
	uint64_t above = st.span[1].free_frames + st.span[2].free_frames;
	for (uint64_t i = 0; i < above; i++) {
		assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &pa), 0);
		assert_true(pa >= ml);
	}
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &pa), 0);
	assert_true(pa < ml);
	must_check();
}

/* A limit inside a span (not the one it was cut at) is honoured exactly. */
static void test_limit_inside_span(void **state)
{
	(void)state;
	assert_int_equal(init1(RAM0, 64 * MiB, PMEM_ANY), 0);
	/* Database in frames [0, 64). The limit cuts a 2 MiB block in two. */
	svmm_pa_t limit = RAM0 + 9 * MiB + 12 * KiB;
	uint64_t below = (limit - RAM0) / 4096 - 64;
	svmm_pa_t pa;
	uint64_t n = 0;
	/* An order-2 block fits just below the limit only at 9 MiB - 4 KiB... */
	while (pmem_alloc(&pm, 0, limit, &pa) == 0) {
		assert_true(pa + 4096 <= limit);
		n++;
		must_check();
		if (n > below)
			fail_msg("more frames below the limit than exist");
	}
	assert_int_equal(n, below);
	/* ...and nothing larger is left below it; above it everything is. */
	assert_int_equal(pmem_alloc(&pm, 0, limit, &pa), SVMM_ENOMEM);
	assert_int_equal(pmem_alloc(&pm, 13, PMEM_ANY, &pa), 0);
	assert_true(pa >= limit);
	assert_int_equal(pmem_free_frames(&pm), 16384 - 64 - below - 8192);
	must_check();
}

/* Blocks of 1 GiB exist and are naturally aligned even if the range is not. */
static void test_gigabyte_blocks(void **state)
{
	(void)state;
	struct pmem_range ram = { RAM0, 2 * GiB };
	struct pmem_range fw = { RAM0, 2 * MiB };
	assert_int_equal(pmem_init(&pm, &ram, 1, &fw, 1, PMEM_ANY), 0);
	must_check();
	struct pmem_stats st;
	pmem_stats(&pm, &st);
	assert_int_equal(st.free_blocks[PMEM_MAX_ORDER], 1);
	assert_int_equal(st.span[0].db_pa, RAM0 + 2 * MiB);   /* beside the firmware */
	svmm_pa_t pa;
	assert_int_equal(pmem_alloc(&pm, PMEM_MAX_ORDER, RAM0 + GiB, &pa), SVMM_ENOMEM);
	assert_int_equal(pmem_alloc(&pm, PMEM_MAX_ORDER, PMEM_ANY, &pa), 0);
	assert_int_equal(pa, RAM0 + GiB);
	assert_int_equal(pmem_alloc(&pm, PMEM_MAX_ORDER, PMEM_ANY, &pa), SVMM_ENOMEM);
	assert_int_equal(pmem_alloc(&pm, PMEM_MAX_ORDER + 1, PMEM_ANY, &pa), SVMM_EORDER);
	assert_int_equal(pmem_free(&pm, RAM0 + GiB, PMEM_MAX_ORDER), 0);
	must_check();

	/* A range starting one frame late: the 1 GiB block is still at 0xc0000000. */
	struct pmem_range odd = { RAM0 + 4 * KiB, 2 * GiB };
	assert_int_equal(pmem_init(&pm, &odd, 1, NULL, 0, PMEM_ANY), 0);
	must_check();
	assert_int_equal(pmem_alloc(&pm, PMEM_MAX_ORDER, PMEM_ANY, &pa), 0);
	assert_int_equal(pa, RAM0 + GiB);
	assert_int_equal(pmem_alloc(&pm, 17, PMEM_ANY, &pa), 0);
	assert_true(SVMM_IS_ALIGNED(pa, 512 * MiB));
	must_check();
}

/* ---- alloc, free and their errors ---- */

static void test_alloc_free(void **state)
{
	(void)state;
	assert_int_equal(init1(RAM0, 64 * MiB, PMEM_ANY), 0);
	struct pmem_stats st0, st;
	pmem_stats(&pm, &st0);
	svmm_pa_t pa[PMEM_MAX_ORDER];
	for (unsigned k = 0; k < 12; k++) {
		assert_int_equal(pmem_alloc(&pm, k, PMEM_ANY, &pa[k]), 0);
		assert_true(SVMM_IS_ALIGNED(pa[k], 4096ull << k));
		struct pmem_frame *f = pmem_frame(&pm, pa[k]);
		assert_non_null(f);
		assert_int_equal(f->state, PMEM_ALLOC);
		assert_int_equal(f->order, k);
		assert_int_equal(f->refcnt, 1);
		assert_int_equal(f->flags, 0);
		assert_int_equal(f->u.owner, 0);
		/* The owner's fields are the owner's. */
		f->flags = (uint16_t)(0x100 + k);
		f->u.owner = 0xdeadbeef00ull + k;
		if (k > 0)
			assert_int_equal(pmem_frame(&pm, pa[k] + 4096)->state, PMEM_TAIL);
		must_check();
	}
	/* Every frame of a block leads back to its head. */
	for (unsigned k = 0; k < 12; k++)
		for (uint64_t off = 0; off < (4096ull << k); off += 4096ull << (k / 2)) {
			svmm_pa_t h = 0;
			unsigned o = 99;
			enum pmem_state ps = PMEM_TAIL;
			assert_int_equal(pmem_block(&pm, pa[k] + off + 123, &h, &o, &ps), 0);
			assert_int_equal(h, pa[k]);
			assert_int_equal(o, k);
			assert_int_equal(ps, PMEM_ALLOC);
		}
	svmm_pa_t h;
	unsigned o;
	enum pmem_state ps;
	assert_int_equal(pmem_block(&pm, RAM0 + 4096, &h, &o, &ps), 0);
	assert_int_equal(h, RAM0);
	assert_int_equal(o, 6);
	assert_int_equal(ps, PMEM_META);
	assert_int_equal(pmem_block(&pm, RAM0 + 64 * MiB, &h, NULL, NULL), SVMM_ERANGE);
	assert_int_equal(pmem_block(&pm, RAM0 + 63 * MiB, NULL, NULL, &ps), 0);
	assert_int_equal(ps, PMEM_FREE);

	pmem_stats(&pm, &st);
	assert_int_equal(st.alloc_frames, (1u << 12) - 1);
	assert_int_equal(st.free_frames, st0.free_frames - st.alloc_frames);
	for (unsigned k = 0; k < 12; k++) {
		assert_int_equal(pmem_frame(&pm, pa[k])->flags, 0x100 + k);
		assert_int_equal(pmem_frame(&pm, pa[k])->u.owner, 0xdeadbeef00ull + k);
	}
	for (unsigned k = 12; k-- > 0;) {
		assert_int_equal(pmem_free(&pm, pa[k], k), 0);
		must_check();
	}
	pmem_stats(&pm, &st);
	assert_memory_equal(&st, &st0, sizeof(st));
}

static void test_alloc_errors(void **state)
{
	(void)state;
	assert_int_equal(init1(RAM0, 1 * MiB, PMEM_ANY), 0);
	svmm_pa_t pa = 0x1234;
	struct snap s;
	snap_take(&s);
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, NULL), SVMM_EINVAL);
	assert_int_equal(pmem_alloc(&pm, PMEM_MAX_ORDER + 1, PMEM_ANY, &pa), SVMM_EORDER);
	assert_int_equal(pmem_alloc(&pm, 100, PMEM_ANY, &pa), SVMM_EORDER);
	assert_int_equal(pmem_alloc(&pm, 8, PMEM_ANY, &pa), SVMM_ENOMEM);  /* 255 frames */
	assert_int_equal(pa, 0x1234);
	snap_same(&s);
	/* Use every frame, then ask for one more. */
	while (pmem_alloc(&pm, 0, PMEM_ANY, &pa) == 0)
		;
	snap_take(&s);
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &pa), SVMM_ENOMEM);
	snap_same(&s);
	must_check();
}

static void test_free_errors(void **state)
{
	(void)state;
	struct pmem_range ram[] = { { RAM0, 8 * MiB }, { RAM0 + 16 * MiB, 8 * MiB } };
	struct pmem_range res = { RAM0 + 6 * MiB, 64 * KiB };
	assert_int_equal(pmem_init(&pm, ram, 2, &res, 1, PMEM_ANY), 0);
	struct pmem_stats st;
	pmem_stats(&pm, &st);
	svmm_pa_t a, b, c, d;
	assert_int_equal(pmem_alloc(&pm, 2, PMEM_ANY, &a), 0);
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &b), 0);
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &c), 0);
	assert_int_equal(pmem_alloc(&pm, 3, PMEM_ANY, &d), 0);
	assert_int_equal(pmem_free(&pm, c, 0), 0);     /* c is now free */
	assert_int_equal(pmem_get(&pm, d), 0);         /* d is shared */
	must_check();

	struct snap s;
	snap_take(&s);
	assert_int_equal(pmem_free(&pm, a + 8, 2), SVMM_EUNALIGNED);
	assert_int_equal(pmem_free(&pm, RAM0 + 12 * MiB, 0), SVMM_ERANGE);   /* hole */
	assert_int_equal(pmem_free(&pm, RAM0 - 4096, 0), SVMM_ERANGE);
	assert_int_equal(pmem_free(&pm, RAM0 + 24 * MiB, 0), SVMM_ERANGE);   /* past end */
	assert_int_equal(pmem_free(&pm, a, PMEM_MAX_ORDER + 1), SVMM_EORDER);
	assert_int_equal(pmem_free(&pm, a, 1), SVMM_EORDER);
	assert_int_equal(pmem_free(&pm, a, 3), SVMM_EORDER);
	assert_int_equal(pmem_free(&pm, b, 1), SVMM_EORDER);
	assert_int_equal(pmem_free(&pm, a + 4096, 0), SVMM_ENOTALLOC);       /* a tail */
	assert_int_equal(pmem_free(&pm, a + 3 * 4096, 0), SVMM_ENOTALLOC);
	assert_int_equal(pmem_free(&pm, c, 0), SVMM_EDOUBLEFREE);
	assert_int_equal(pmem_free(&pm, RAM0 + 4 * MiB, 0), SVMM_EDOUBLEFREE);  /* free head */
	assert_int_equal(pmem_free(&pm, RAM0 + 4 * MiB + 4096, 0), SVMM_EDOUBLEFREE); /* tail */
	assert_int_equal(pmem_free(&pm, res.base, 0), SVMM_ERESERVED);
	assert_int_equal(pmem_free(&pm, res.base + 4096, 0), SVMM_ERESERVED);
	assert_int_equal(pmem_free(&pm, st.span[0].db_pa, 0), SVMM_ERESERVED);
	assert_int_equal(pmem_free(&pm, st.span[1].db_pa + 4096, 0), SVMM_ERESERVED);
	assert_int_equal(pmem_free(&pm, d, 3), SVMM_EBUSY);
	enum pmem_state ps;
	assert_int_equal(pmem_block(&pm, res.base + 8192, NULL, NULL, &ps), 0);
	assert_int_equal(ps, PMEM_RESERVED);
	assert_int_equal(pmem_block(&pm, RAM0 + 12 * MiB, NULL, NULL, &ps), SVMM_ERANGE);
	snap_same(&s);
	must_check();

	assert_int_equal(pmem_put(&pm, d), 0);
	assert_int_equal(pmem_free(&pm, d, 3), 0);
	assert_int_equal(pmem_free(&pm, a, 2), 0);
	assert_int_equal(pmem_free(&pm, b, 0), 0);
	snap_take(&s);
	assert_int_equal(pmem_free(&pm, b, 0), SVMM_EDOUBLEFREE);
	assert_int_equal(pmem_free(&pm, a, 2), SVMM_EDOUBLEFREE);
	snap_same(&s);
	struct pmem_stats st2;
	pmem_stats(&pm, &st2);
	assert_memory_equal(&st, &st2, sizeof(st));
	must_check();
}

static void test_refcount(void **state)
{
	(void)state;
	struct pmem_range ram = { RAM0, 8 * MiB };
	struct pmem_range res = { RAM0 + 6 * MiB, 64 * KiB };
	assert_int_equal(pmem_init(&pm, &ram, 1, &res, 1, PMEM_ANY), 0);
	uint64_t nfree = pmem_free_frames(&pm);
	svmm_pa_t a;
	assert_int_equal(pmem_alloc(&pm, 1, PMEM_ANY, &a), 0);
	struct pmem_frame *f = pmem_frame(&pm, a);
	assert_int_equal(pmem_get(&pm, a), 0);
	assert_int_equal(pmem_get(&pm, a), 0);
	assert_int_equal(f->refcnt, 3);
	must_check();

	struct snap s;
	snap_take(&s);
	assert_int_equal(pmem_get(&pm, a + 4096), SVMM_ENOTALLOC);
	assert_int_equal(pmem_put(&pm, a + 4096), SVMM_ENOTALLOC);
	assert_int_equal(pmem_get(&pm, a + 1), SVMM_EUNALIGNED);
	assert_int_equal(pmem_put(&pm, a + 1), SVMM_EUNALIGNED);
	assert_int_equal(pmem_get(&pm, RAM0 + 64 * MiB), SVMM_ERANGE);
	assert_int_equal(pmem_put(&pm, RAM0 + 64 * MiB), SVMM_ERANGE);
	assert_int_equal(pmem_get(&pm, res.base), SVMM_ERESERVED);
	assert_int_equal(pmem_put(&pm, res.base + 4096), SVMM_ERESERVED);
	struct pmem_stats st;
	pmem_stats(&pm, &st);
	assert_int_equal(pmem_get(&pm, st.span[0].db_pa), SVMM_ERESERVED);
	assert_int_equal(pmem_get(&pm, RAM0 + 4 * MiB), SVMM_ENOTALLOC);   /* free */
	assert_int_equal(pmem_put(&pm, RAM0 + 4 * MiB), SVMM_EREFCNT);     /* underflow */
	assert_int_equal(pmem_put(&pm, RAM0 + 4 * MiB + 4096), SVMM_EREFCNT);
	snap_same(&s);

	/* Overflow of the count. */
	f->refcnt = UINT32_MAX;
	snap_take(&s);
	assert_int_equal(pmem_get(&pm, a), SVMM_EREFCNT);
	snap_same(&s);
	f->refcnt = 3;

	assert_int_equal(pmem_put(&pm, a), 0);
	assert_int_equal(pmem_put(&pm, a), 0);
	assert_int_equal(f->refcnt, 1);
	assert_int_equal(pmem_free_frames(&pm), nfree - 2);
	assert_int_equal(pmem_put(&pm, a), 0);                 /* the last one frees */
	assert_int_equal(pmem_free_frames(&pm), nfree);
	assert_int_equal(pmem_put(&pm, a), SVMM_EREFCNT);
	assert_int_equal(pmem_free(&pm, a, 1), SVMM_EDOUBLEFREE);
	must_check();
}

/*
 * pmem_get_many takes a reference on each listed block under one lock, skipping zero
 * entries and ignoring tag bits below the page size, and changes nothing when any
 * entry is bad or would overflow (including the ones before it).
 */
static void test_get_many(void **state)
{
	(void)state;
	struct pmem_range ram = { RAM0, 8 * MiB };
	assert_int_equal(pmem_init(&pm, &ram, 1, NULL, 0, PMEM_ANY), 0);
	svmm_pa_t a, b, c;
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &a), 0);
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &b), 0);
	assert_int_equal(pmem_alloc(&pm, 1, PMEM_ANY, &c), 0);
	uint64_t ok[] = { a | 1, 0, b | 0x5, c, a };
	assert_int_equal(pmem_get_many(&pm, ok, 5), 0);
	assert_int_equal(pmem_frame(&pm, a)->refcnt, 3);
	assert_int_equal(pmem_frame(&pm, b)->refcnt, 2);
	assert_int_equal(pmem_frame(&pm, c)->refcnt, 2);
	assert_int_equal(pmem_get_many(&pm, ok, 0), 0);
	must_check();

	struct snap s;
	snap_take(&s);
	uint64_t tail[] = { a, b, c + 4096 };           /* not a head: ENOTALLOC */
	assert_int_equal(pmem_get_many(&pm, tail, 3), SVMM_ENOTALLOC);
	uint64_t far[] = { a, RAM0 + 64 * MiB };
	assert_int_equal(pmem_get_many(&pm, far, 2), SVMM_ERANGE);
	pmem_frame(&pm, b)->refcnt = UINT32_MAX;
	uint64_t over[] = { a, c, b };
	assert_int_equal(pmem_get_many(&pm, over, 3), SVMM_EREFCNT);
	pmem_frame(&pm, b)->refcnt = 2;
	snap_same(&s);
	assert_int_equal(pmem_frame(&pm, a)->refcnt, 3);
	assert_int_equal(pmem_frame(&pm, c)->refcnt, 2);
	must_check();
}

/* Each frame's count in list[0..n) must be base plus how often the list names it. */
static void counts_are(const uint64_t *list, size_t n, uint32_t base)
{
	for (size_t i = 0; i < n; i++) {
		svmm_pa_t pa = list[i] & ~(svmm_pa_t)4095;
		if (pa == 0)
			continue;
		uint32_t times = 0;
		for (size_t j = 0; j < n; j++)
			times += (list[j] & ~(svmm_pa_t)4095) == pa;
		assert_int_equal(pmem_frame(&pm, pa)->refcnt, base + times);
	}
}

/*
 * pmem_get_many's fast path (a run of frames of one span, two a step) against the
 * slow one: a long list mixing two spans, tags, runs of zero entries and a repeated
 * frame takes exactly one reference per entry (and, asked to, copies the list exactly,
 * zero entries and all, and nothing past it); a bad entry or an overflowing count at
 * any position (either half of a step, the first, the last, after a zero run or a
 * span change) changes nothing; a frame listed twice whose count can take only one
 * more overflows; and a span that begins at address 0 never counts a zero entry as
 * its first frame.
 */
static void test_get_many_runs(void **state)
{
	(void)state;
	struct pmem_range ram[] = { { RAM0, 8 * MiB }, { RAM0 + 64 * MiB, 8 * MiB } };
	assert_int_equal(pmem_init(&pm, ram, 2, NULL, 0, PMEM_ANY), 0);
	svmm_pa_t lo[48], hi[8];
	unsigned nlo = 0, nhi = 0;
	while (nlo < 48 || nhi < 8) {
		svmm_pa_t pa;
		assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &pa), 0);
		if (pa < RAM0 + 64 * MiB && nlo < 48)
			lo[nlo++] = pa;
		else if (pa >= RAM0 + 64 * MiB && nhi < 8)
			hi[nhi++] = pa;
	}
	uint64_t list[80];
	size_t n = 0;
	for (unsigned i = 0; i < 21; i++)
		list[n++] = lo[i] | (i & 7);
	list[n++] = 0;
	list[n++] = 5;
	list[n++] = 0;
	list[n++] = hi[0];
	for (unsigned i = 21; i < 30; i++)
		list[n++] = lo[i];
	for (unsigned i = 1; i < 8; i++)
		list[n++] = hi[i] | 1;
	list[n++] = lo[3];
	for (unsigned i = 30; i < 48; i++)
		list[n++] = lo[i];
	list[n++] = 0;
	assert_true(n <= 80);
	uint64_t copy[80];
	memset(copy, 0xa5, sizeof(copy));
	assert_int_equal(pmem_get_copy(&pm, list, copy, n), 0);
	assert_memory_equal(copy, list, n * sizeof(list[0]));
	assert_int_equal(copy[n], 0xa5a5a5a5a5a5a5a5ull);       /* nothing past n */
	counts_are(list, n, 1);
	must_check();

	/* Bad entries at every position: nothing changes. */
	svmm_pa_t freed;
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &freed), 0);
	assert_int_equal(pmem_free(&pm, freed, 0), 0);
	for (size_t k = 0; k < n; k++) {
		uint64_t bad[80];
		memcpy(bad, list, n * sizeof(bad[0]));
		struct snap s;
		snap_take(&s);
		bad[k] = freed;
		assert_int_equal(pmem_get_many(&pm, bad, n), SVMM_ENOTALLOC);
		assert_int_equal(pmem_get_copy(&pm, bad, copy, n), SVMM_ENOTALLOC);
		bad[k] = RAM0 + 32 * MiB;                      /* between the spans */
		assert_int_equal(pmem_get_many(&pm, bad, n), SVMM_ERANGE);
		snap_same(&s);
		svmm_pa_t pa = list[k] & ~(svmm_pa_t)4095;
		if (pa == 0)
			continue;
		struct pmem_frame *f = pmem_frame(&pm, pa);
		uint32_t keep = f->refcnt;
		f->refcnt = UINT32_MAX;
		snap_take(&s);
		assert_int_equal(pmem_get_many(&pm, list, n), SVMM_EREFCNT);
		assert_int_equal(pmem_get_copy(&pm, list, copy, n), SVMM_EREFCNT);
		snap_same(&s);
		f->refcnt = keep;
	}
	counts_are(list, n, 1);

	/* One more reference fits, two do not: the second naming overflows. */
	struct pmem_frame *f = pmem_frame(&pm, lo[5]);
	f->refcnt = UINT32_MAX - 1;
	uint64_t twice[] = { lo[4], lo[5], lo[6], lo[5] | 3 };
	struct snap s;
	snap_take(&s);
	assert_int_equal(pmem_get_many(&pm, twice, 4), SVMM_EREFCNT);
	snap_same(&s);
	assert_int_equal(pmem_get_many(&pm, twice, 3), 0);
	assert_int_equal(f->refcnt, UINT32_MAX);
	f->refcnt = 2;
	assert_int_equal(pmem_frame(&pm, lo[4])->refcnt, 3);
	assert_int_equal(pmem_frame(&pm, lo[6])->refcnt, 3);
	must_check();

	/* RAM at address 0 (as test_ram_at_zero: two free frames, 0 and 4 KiB): frame 0
	   allocated, and the zero entries in a run of frame 4 KiB leave it alone. */
	hostsim_ram_fini();
	assert_int_equal(hostsim_ram_init(0, 16 * MiB), 0);
	struct pmem_range one = { 0, 1 * MiB };
	struct pmem_range res = { 8 * KiB, 1 * MiB - 12 * KiB };
	assert_int_equal(pmem_init(&pm, &one, 1, &res, 1, PMEM_ANY), 0);
	svmm_pa_t p0, p1;
	assert_int_equal(pmem_alloc(&pm, 0, 64 * KiB, &p0), 0);
	assert_int_equal(pmem_alloc(&pm, 0, 64 * KiB, &p1), 0);
	assert_int_equal(p0 + p1, 4 * KiB);
	uint64_t withzero[] = { 4 * KiB, 0, 4 * KiB | 1, 5, 4 * KiB, 0 };
	assert_int_equal(pmem_get_many(&pm, withzero, 6), 0);
	assert_int_equal(pmem_frame(&pm, 0)->refcnt, 1);
	assert_int_equal(pmem_frame(&pm, 4 * KiB)->refcnt, 4);
	assert_int_equal(pmem_get_copy(&pm, withzero, copy, 6), 0);
	assert_memory_equal(copy, withzero, sizeof(withzero));
	assert_int_equal(pmem_frame(&pm, 0)->refcnt, 1);
	assert_int_equal(pmem_frame(&pm, 4 * KiB)->refcnt, 7);
	must_check();
}

/*
 * pmem_frame_near finds what pmem_frame finds, for frames of the hint's span and of
 * others (which move the hint to their span), and leaves the hint alone for an address
 * that is not RAM.
 */
static void test_frame_near(void **state)
{
	(void)state;
	struct pmem_range ram[] = { { RAM0, 8 * MiB }, { RAM0 + 64 * MiB, 8 * MiB } };
	assert_int_equal(pmem_init(&pm, ram, 2, NULL, 0, PMEM_ANY), 0);
	struct pmem_span *hint = NULL;
	const svmm_pa_t at[] = { RAM0 + 4 * KiB + 17, RAM0 + 8 * MiB - 1, RAM0 + 64 * MiB,
				 RAM0 + 70 * MiB + 5, RAM0, RAM0 + 3 * MiB };
	for (unsigned i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		assert_ptr_equal(pmem_frame_near(&pm, at[i], &hint), pmem_frame(&pm, at[i]));
		assert_ptr_equal(hint, &pm.span[at[i] < RAM0 + 64 * MiB ? 0 : 1]);
	}
	const svmm_pa_t none[] = { RAM0 + 8 * MiB, RAM0 + 32 * MiB, RAM0 + 72 * MiB, 0, RAM0 - 1 };
	for (unsigned i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		assert_null(pmem_frame_near(&pm, none[i], &hint));
		assert_ptr_equal(hint, &pm.span[0]);
	}
	struct pmem_span *fresh = NULL;
	assert_null(pmem_frame_near(&pm, RAM0 + 32 * MiB, &fresh));
	assert_null(fresh);
}

/* pmem_get_frame: pmem_get through a record the caller holds, with pmem_get's checks. */
static void test_get_frame(void **state)
{
	(void)state;
	struct pmem_range ram[] = { { RAM0, 8 * MiB } };
	assert_int_equal(pmem_init(&pm, ram, 1, NULL, 0, PMEM_ANY), 0);
	svmm_pa_t pa, big;
	uint32_t r = 0;
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &pa), 0);
	assert_int_equal(pmem_get_frame(&pm, pmem_frame(&pm, pa)), 0);
	assert_int_equal(pmem_refs(&pm, pa, &r), 0);
	assert_int_equal(r, 2);
	/* A tail of an allocated block, a free frame: refused, nothing changed. */
	assert_int_equal(pmem_alloc(&pm, 2, PMEM_ANY, &big), 0);
	assert_int_equal(pmem_get_frame(&pm, pmem_frame(&pm, big + SVMM_PAGE_SIZE)), SVMM_ENOTALLOC);
	assert_int_equal(pmem_free(&pm, big, 2), 0);
	assert_int_equal(pmem_get_frame(&pm, pmem_frame(&pm, big)), SVMM_ENOTALLOC);
	/* A full count. */
	pmem_frame(&pm, pa)->refcnt = UINT32_MAX;
	assert_int_equal(pmem_get_frame(&pm, pmem_frame(&pm, pa)), SVMM_EREFCNT);
	pmem_frame(&pm, pa)->refcnt = 2;
	assert_int_equal(pmem_put(&pm, pa), 0);
	assert_int_equal(pmem_put(&pm, pa), 0);
	assert_int_equal(pmem_check(&pm, NULL, NULL), 0);
}

/*
 * pmem_put_unless_last drops a reference only while another one stays: the last holder
 * learns it is the last and the block stays allocated, with its count of 1.
 */
static void test_put_unless_last(void **state)
{
	(void)state;
	struct pmem_range ram[] = { { RAM0, 8 * MiB } };
	assert_int_equal(pmem_init(&pm, ram, 1, NULL, 0, PMEM_ANY), 0);
	uint64_t free0 = pmem_free_frames(&pm);
	svmm_pa_t pa;
	uint32_t r = 0;
	bool dropped = false;
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &pa), 0);
	assert_int_equal(pmem_get(&pm, pa), 0);
	assert_int_equal(pmem_put_unless_last(&pm, pa, &dropped), 0);
	assert_true(dropped);
	assert_int_equal(pmem_refs(&pm, pa, &r), 0);
	assert_int_equal(r, 1);
	assert_int_equal(pmem_put_unless_last(&pm, pa, &dropped), 0);
	assert_false(dropped);
	assert_int_equal(pmem_refs(&pm, pa, &r), 0);
	assert_int_equal(r, 1);
	assert_int_equal(pmem_free_frames(&pm), free0 - 1);
	assert_int_equal(pmem_check(&pm, NULL, NULL), 0);
	assert_int_equal(pmem_put(&pm, pa), 0);
	assert_int_equal(pmem_free_frames(&pm), free0);
	/* A free frame or one outside RAM: the error, nothing changed. */
	assert_int_equal(pmem_put_unless_last(&pm, pa, &dropped), SVMM_EREFCNT);
	assert_int_equal(pmem_put_unless_last(&pm, RAM0 + 64 * MiB, &dropped), SVMM_ERANGE);
	assert_int_equal(pmem_free_frames(&pm), free0);
	assert_int_equal(pmem_check(&pm, NULL, NULL), 0);
}

/*
 * A 2 MiB block held twice splits into 512 frames held twice each; dropping them one
 * by one frees each frame at its last reference, and the block merges back whole.
 */
static void test_split(void **state)
{
	(void)state;
	struct pmem_range ram = { RAM0, 8 * MiB };
	struct pmem_range res = { RAM0 + 6 * MiB, 64 * KiB };
	assert_int_equal(pmem_init(&pm, &ram, 1, &res, 1, PMEM_ANY), 0);
	uint64_t nfree = pmem_free_frames(&pm);
	svmm_pa_t a;
	uint32_t refs = 0;
	assert_int_equal(pmem_alloc(&pm, 9, PMEM_ANY, &a), 0);
	assert_int_equal(pmem_get(&pm, a), 0);
	pmem_frame(&pm, a)->u.owner = 0x1234;
	pmem_frame(&pm, a)->flags = 7;
	assert_int_equal(pmem_refs(&pm, a, &refs), 0);
	assert_int_equal(refs, 2);

	/* Wrong calls change nothing. */
	struct snap s;
	snap_take(&s);
	assert_int_equal(pmem_split(&pm, a + 4096), SVMM_ENOTALLOC);
	assert_int_equal(pmem_split(&pm, a + 1), SVMM_EUNALIGNED);
	assert_int_equal(pmem_split(&pm, RAM0 + 64 * MiB), SVMM_ERANGE);
	assert_int_equal(pmem_split(&pm, res.base), SVMM_ERESERVED);
	svmm_pa_t fr = RAM0;
	enum pmem_state fst = PMEM_TAIL;
	while (pmem_block(&pm, fr, NULL, NULL, &fst) == 0 && fst != PMEM_FREE)
		fr += 4096;
	assert_int_equal(fst, PMEM_FREE);
	assert_int_equal(pmem_split(&pm, fr), SVMM_ENOTALLOC);             /* free */
	assert_int_equal(pmem_refs(&pm, a + 4096, &refs), SVMM_ENOTALLOC);
	assert_int_equal(pmem_refs(&pm, a, NULL), SVMM_EINVAL);
	assert_int_equal(pmem_refs(&pm, res.base, &refs), SVMM_ERESERVED);
	snap_same(&s);

	assert_int_equal(pmem_split(&pm, a), 0);
	must_check();
	for (unsigned i = 0; i < 512; i++) {
		svmm_pa_t head = 0;
		unsigned order = 99;
		enum pmem_state st = PMEM_TAIL;
		assert_int_equal(pmem_block(&pm, a + i * 4096ull, &head, &order, &st), 0);
		assert_int_equal(head, a + i * 4096ull);
		assert_int_equal(order, 0);
		assert_int_equal(st, PMEM_ALLOC);
		assert_int_equal(pmem_refs(&pm, head, &refs), 0);
		assert_int_equal(refs, 2);
		assert_int_equal(pmem_frame(&pm, head)->u.owner, 0x1234);
		assert_int_equal(pmem_frame(&pm, head)->flags, 7);
	}
	/* The old order no longer describes the frames. */
	assert_int_equal(pmem_free(&pm, a, 9), SVMM_EORDER);
	/* Splitting an order-0 block is a no-op. */
	assert_int_equal(pmem_split(&pm, a), 0);
	/* One holder drops every frame; the other frees them in a scattered order. */
	for (unsigned i = 0; i < 512; i++)
		assert_int_equal(pmem_put(&pm, a + i * 4096ull), 0);
	assert_int_equal(pmem_free_frames(&pm), nfree - 512);
	must_check();
	for (unsigned i = 0; i < 512; i++) {
		unsigned j = (i * 37u) % 512u;
		assert_int_equal(pmem_free(&pm, a + j * 4096ull, 0), 0);
	}
	must_check();
	assert_int_equal(pmem_free_frames(&pm), nfree);
	/* Merged back completely: a 2 MiB block is there again at the same place. */
	svmm_pa_t b;
	assert_int_equal(pmem_alloc(&pm, 9, PMEM_ANY, &b), 0);
	assert_int_equal(pmem_free(&pm, b, 9), 0);
	must_check();
}

/* ---- the checker must catch what it claims to ---- */

struct lines {
	char text[1024];
};

static void grab(void *ctx, const char *line)
{
	struct lines *l = ctx;
	size_t n = strlen(l->text);
	snprintf(l->text + n, sizeof(l->text) - n, "%s\n", line);
}

static void expect_corrupt(const char *what)
{
	struct lines l = { "" };
	assert_int_equal(pmem_check(&pm, grab, &l), SVMM_EINVAL);
	if (strstr(l.text, what) == NULL)
		fail_msg("check said \"%s\", expected \"%s\"", l.text, what);
}

static void test_check_catches(void **state)
{
	(void)state;
	assert_int_equal(init1(RAM0, 8 * MiB, PMEM_ANY), 0);
	struct pmem_span *s = &pm.span[0];
	svmm_pa_t a, b;
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &a), 0);
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &b), 0);
	assert_int_equal(b, a ^ 4096);    /* buddies */
	assert_int_equal(pmem_alloc(&pm, 4, PMEM_ANY, &b), 0);
	assert_int_equal(pmem_free(&pm, a, 0), 0);
	must_check();
	struct snap keep;
	snap_take(&keep);
	struct pmem_frame save;

	/* The class boundary: every span lies below PMEM_ANY, so nlow is the span count. */
	assert_int_equal(pm.nlow, pm.nspans);
	pm.nlow = pm.nspans + 1;
	expect_corrupt("nlow at most");
	pm.nlow = pm.nspans - 1;
	expect_corrupt("below meta_limit");
	pm.nlow = pm.nspans;
	must_check();

	/* A tail that claims to be free. */
	struct pmem_frame *t = pmem_frame(&pm, b + 4096);
	t->state = PMEM_FREE;
	expect_corrupt("inside block");
	t->state = PMEM_TAIL;
	must_check();

	/* A free head with the wrong order. */
	uint32_t h = s->head[10];
	assert_true(h != PMEM_NIL);
	s->db[h].order = 9;
	assert_int_not_equal(pmem_check(&pm, NULL, NULL), 0);
	s->db[h].order = 10;

	/* A broken back link. */
	assert_int_equal(pmem_alloc(&pm, 0, PMEM_ANY, &a), 0);
	svmm_pa_t a2;
	assert_int_equal(pmem_alloc(&pm, 3, PMEM_ANY, &a2), 0);
	assert_int_equal(pmem_free(&pm, a2, 3), 0);
	assert_int_equal(pmem_free(&pm, a, 0), 0);
	must_check();

	/* Two free buddies left unmerged: free a's buddy by hand without merging. */
	uint32_t bi = (uint32_t)(((a ^ 4096) - s->base) >> 12);
	struct pmem_frame *bf = &s->db[bi];
	save = *bf;
	assert_int_equal(bf->state, PMEM_ALLOC);
	uint32_t ai = (uint32_t)((a - s->base) >> 12);
	assert_int_equal(s->db[ai].state, PMEM_FREE);
	bf->state = PMEM_FREE;
	bf->refcnt = 0;
	bf->u.link.prev = PMEM_NIL;
	bf->u.link.next = s->head[0];
	if (s->head[0] != PMEM_NIL)
		s->db[s->head[0]].u.link.prev = bi;
	s->head[0] = bi;
	s->nfree[0]++;
	s->free_frames++;
	expect_corrupt("unmerged");
	/* Undo by hand. */
	s->head[0] = bf->u.link.next;
	s->db[s->head[0]].u.link.prev = PMEM_NIL;
	s->nfree[0]--;
	s->free_frames--;
	*bf = save;
	must_check();

	/* A list entry appearing twice: a cycle. */
	h = s->head[0];
	assert_true(h != PMEM_NIL);
	uint32_t old_next = s->db[h].u.link.next;
	s->db[h].u.link.next = h;
	expect_corrupt("list");
	s->db[h].u.link.next = old_next;

	/* A bad back link. */
	uint32_t n2 = s->db[h].u.link.next;
	if (n2 != PMEM_NIL) {
		s->db[n2].u.link.prev = PMEM_NIL;
		expect_corrupt("free lists hold only free blocks of their order");
		s->db[n2].u.link.prev = h;
	}

	/* Counters, mask, and the database's own frames. */
	s->free_frames++;
	expect_corrupt("counters");
	s->free_frames--;
	s->free_mask ^= 1u << 17;
	expect_corrupt("mask");
	s->free_mask ^= 1u << 17;
	assert_int_equal(s->db_pa, RAM0);
	uint64_t dbn = 1ull << s->db[0].order;
	s->db[0].state = PMEM_RESERVED;
	s->meta_frames -= dbn;
	s->reserved_frames += dbn;
	expect_corrupt("database");
	s->db[0].state = PMEM_META;
	s->meta_frames += dbn;
	s->reserved_frames -= dbn;
	/* An allocated block with no reference. */
	pmem_frame(&pm, b)->refcnt = 0;
	expect_corrupt("an allocated block has a reference");
	pmem_frame(&pm, b)->refcnt = 1;
	pm.total_frames++;
	expect_corrupt("totals");
	pm.total_frames--;
	/* The address-to-span table. */
	pm.sect[7] = 1;
	expect_corrupt("section 7");
	pm.sect[7] = 0;
	pm.sect_shift--;
	expect_corrupt("section table");
	pm.sect_shift++;
	snap_same(&keep);
	must_check();
}

/* pmem_remap finds the databases again through port_pa_to_va. */
static void test_remap(void **state)
{
	(void)state;
	struct pmem_range ram[] = { { RAM0, 8 * MiB }, { RAM0 + 16 * MiB, 8 * MiB } };
	assert_int_equal(pmem_init(&pm, ram, 2, NULL, 0, PMEM_ANY), 0);
	struct pmem_frame *db0 = pm.span[0].db, *db1 = pm.span[1].db;
	/* As if the kernel had switched mappings: the old pointers are useless. */
	pm.span[0].db = NULL;
	pm.span[1].db = (struct pmem_frame *)(uintptr_t)0x1000;
	pmem_remap(&pm);
	assert_ptr_equal(pm.span[0].db, db0);
	assert_ptr_equal(pm.span[1].db, db1);
	assert_ptr_equal(pm.span[1].db, port_pa_to_va(pm.span[1].db_pa));
	must_check();
}

/* ---- dump ---- */

static void test_dump(void **state)
{
	(void)state;
	struct pmem_range ram[] = { { RAM0, 8 * MiB }, { RAM0 + 16 * MiB, 8 * MiB } };
	assert_int_equal(pmem_init(&pm, ram, 2, NULL, 0, PMEM_ANY), 0);
	struct lines l = { "" };
	pmem_dump(&pm, grab, &l);
	assert_non_null(strstr(l.text, "2 spans, 4096 frames"));
	assert_non_null(strstr(l.text, "[0x81000000, 0x81800000) 8M"));
	assert_non_null(strstr(l.text, "free blocks by order: 3:1 4:1"));
	assert_non_null(strstr(l.text, "16 bytes per frame"));
}

/* ---- threads: the port lock serialises everything ---- */

static void *churn(void *arg)
{
	uint64_t x = (uintptr_t)arg;
	svmm_pa_t held[64];
	unsigned ord[64], n = 0;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (n < 64 && (n == 0 || x % 2 == 0)) {
			unsigned k = (unsigned)(x >> 8) % 4;
			if (pmem_alloc(&pm, k, PMEM_ANY, &held[n]) == 0)
				ord[n++] = k;
		} else {
			unsigned j = (unsigned)(x >> 20) % n;
			if (pmem_free(&pm, held[j], ord[j]) != 0)
				return (void *)1;
			held[j] = held[--n];
			ord[j] = ord[n];
		}
	}
	while (n > 0) {
		n--;
		if (pmem_free(&pm, held[n], ord[n]) != 0)
			return (void *)1;
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	assert_int_equal(init1(RAM0, 4 * MiB, PMEM_ANY), 0);
	uint64_t nfree = pmem_free_frames(&pm);
	pthread_t t[2];
	for (uintptr_t i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, churn, (void *)(i * 7919 + 1)), 0);
	for (int i = 0; i < 2; i++) {
		void *r;
		assert_int_equal(pthread_join(t[i], &r), 0);
		assert_null(r);
	}
	assert_int_equal(pmem_free_frames(&pm), nfree);
	must_check();
}

/* ---- pmem as the source of page-table frames, the way a kernel port uses it ---- */

static int table_alloc(void *ctx, svmm_pa_t *pa)
{
	struct pmem *p = ctx;
	return pmem_alloc(p, 0, p->meta_limit, pa);
}

static void table_free(void *ctx, svmm_pa_t pa)
{
	if (pmem_free(ctx, pa, 0) != 0)
		fail_msg("table frame %llx was not a pmem frame", (unsigned long long)pa);
}

static void test_table_source(void **state)
{
	(void)state;
	svmm_pa_t ml = RAM0 + 16 * MiB;
	struct pmem_range ram = { RAM0, 64 * MiB };
	assert_int_equal(pmem_init(&pm, &ram, 1, NULL, 0, ml), 0);
	struct hostsim_table_source src = { table_alloc, table_free, &pm };
	hostsim_set_table_source(&src);
	uint64_t nfree = pmem_free_frames(&pm);
	svmm_pa_t t[64];
	/* Two rounds: the second gets back the frames the first dirtied (LIFO lists),
	   and they must come zeroed. */
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 64; i++) {
			assert_int_equal(port_table_alloc(&t[i]), 0);
			assert_true(t[i] + 4096 <= ml);
			unsigned char *p = port_pa_to_va(t[i]);
			for (int j = 0; j < 4096; j++)
				assert_int_equal(p[j], 0);
			memset(p, 0xee, 4096);
		}
		if (round == 0)
			for (int i = 0; i < 64; i++)
				port_table_free(t[i]);
	}
	assert_int_equal(hostsim_tables_live(), 64);
	assert_int_equal(pmem_free_frames(&pm), nfree - 64);
	/* An injected failure leaves pmem as it was. */
	struct snap s;
	snap_take(&s);
	hostsim_fail_after(1);
	svmm_pa_t x = 0;
	assert_int_equal(port_table_alloc(&x), SVMM_ENOMEM);
	assert_int_equal(x, 0);
	snap_same(&s);
	for (int i = 0; i < 64; i++)
		port_table_free(t[i]);
	assert_int_equal(hostsim_tables_live(), 0);
	assert_int_equal(pmem_free_frames(&pm), nfree);
	must_check();
	hostsim_set_table_source(NULL);
}

/* Physical address 0 is an address like any other. */
static void test_ram_at_zero(void **state)
{
	(void)state;
	hostsim_ram_fini();
	assert_int_equal(hostsim_ram_init(0, 16 * MiB), 0);
	struct pmem_range ram = { 0, 8 * MiB };
	assert_int_equal(pmem_init(&pm, &ram, 1, NULL, 0, PMEM_ANY), 0);
	must_check();
	struct pmem_stats st;
	pmem_stats(&pm, &st);
	assert_int_equal(st.span[0].db_pa, 0);
	assert_int_equal(pmem_free(&pm, 0, 0), SVMM_ERESERVED);
	svmm_pa_t pa;
	assert_int_equal(pmem_alloc(&pm, 10, PMEM_ANY, &pa), 0);
	assert_int_equal(pa, 4 * MiB);
	assert_int_equal(pmem_free(&pm, pa, 10), 0);
	/* The database takes the one-frame gap at the top (best fit), frame 0 stays free
	   and is handed out and freed like any other. */
	struct pmem_range one = { 0, 1 * MiB };
	struct pmem_range res = { 8 * KiB, 1 * MiB - 12 * KiB };
	assert_int_equal(pmem_init(&pm, &one, 1, &res, 1, PMEM_ANY), 0);
	pmem_stats(&pm, &st);
	assert_int_equal(st.span[0].db_pa, 1 * MiB - 4 * KiB);
	assert_int_equal(st.free_frames, 2);
	bool got_zero = false;
	while (pmem_alloc(&pm, 0, 64 * KiB, &pa) == 0)
		got_zero |= pa == 0;
	assert_true(got_zero);
	assert_int_equal(pmem_free(&pm, 0, 0), 0);
	assert_int_equal(pmem_free(&pm, 0, 0), SVMM_EDOUBLEFREE);
	must_check();
}

/* The most ranges and reserved ranges init accepts. */
static void test_init_limits(void **state)
{
	(void)state;
	struct pmem_range ram[PMEM_MAX_RANGES], res[PMEM_MAX_RESERVED];
	for (unsigned i = 0; i < PMEM_MAX_RANGES; i++)
		ram[i] = (struct pmem_range){ RAM0 + (uint64_t)(PMEM_MAX_RANGES - 1 - i) * 4 * MiB,
					      3 * MiB };
	for (unsigned i = 0; i < PMEM_MAX_RESERVED; i++)
		res[i] = (struct pmem_range){ RAM0 + (uint64_t)i * MiB + 77, 3000 };
	assert_int_equal(pmem_init(&pm, ram, PMEM_MAX_RANGES, res, PMEM_MAX_RESERVED,
				   RAM0 + 30 * MiB), 0);
	must_check();
	struct pmem_stats st;
	pmem_stats(&pm, &st);
	/* The range [28M, 31M) is cut at the limit. */
	assert_int_equal(st.nspans, PMEM_MAX_RANGES + 1);
	assert_int_equal(st.total_frames, PMEM_MAX_RANGES * 768);
	for (unsigned i = 0; i < st.nspans; i++)
		assert_true(st.span[i].db_pa + st.span[i].db_bytes <= RAM0 + 30 * MiB);
	assert_int_equal(st.reserved_frames, 3 * PMEM_MAX_RANGES);
	/* Lookups through the section table: every span's ends, every hole, outside. */
	for (unsigned i = 0; i < st.nspans; i++) {
		const struct pmem_span *s = &pm.span[i];
		assert_ptr_equal(pmem_frame(&pm, st.span[i].base), &s->db[0]);
		assert_ptr_equal(pmem_frame(&pm, st.span[i].end - 1), &s->db[s->nframes - 1]);
		if (i + 1 < st.nspans && st.span[i].end < st.span[i + 1].base) {
			assert_null(pmem_frame(&pm, st.span[i].end));
			assert_null(pmem_frame(&pm, st.span[i + 1].base - 1));
		}
	}
	assert_null(pmem_frame(&pm, st.span[0].base - 1));
	assert_null(pmem_frame(&pm, st.span[st.nspans - 1].end));
	assert_null(pmem_frame(&pm, 0));
	assert_null(pmem_frame(&pm, ~0ull));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_single, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_ranges_and_holes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_nomem_each_placement, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_and_preference, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_inside_span, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pick_smallest_fit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gigabyte_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_free, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alloc_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refcount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_many_runs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_frame_near, setup, teardown),
		cmocka_unit_test_setup_teardown(test_put_unless_last, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_catches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_source, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ram_at_zero, setup, teardown),
	};
	return cmocka_run_group_tests_name("pmem", tests, NULL, NULL);
}
