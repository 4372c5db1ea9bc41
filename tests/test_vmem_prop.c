/*
 * test_vmem_prop.c - random operations on a vmem arena against the reference model in
 * tests/common/vmem_model.h.
 *
 * Each operation's result is compared with what the model says it must be: best fit
 * exactly for plain allocations (smallest free region, lowest address among equals);
 * for constrained ones, success exactly when some free range meets every constraint,
 * and a result that meets them; fixed allocations, frees (good and bad), lookups and
 * added spans likewise. vmem_check runs after every operation for the first 100,000 and
 * after every 1,000th later; the whole region list and the statistics are compared
 * with the model at those points too.
 *
 * SVMM_SEED=n replays a run, SVMM_OPS=n changes its length (default 1,000,000).
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

#include <svmm/vmem.h>
#include "vmem_model.h"
#include "test_rand.h"

#define Q      4096ull
#define BASE   0x10000000ull
#define SPAN0  (1ull << 28)                 /* first span: 64 Ki quanta */
#define XAREA  (BASE + SPAN0)               /* where later spans are added */
#define XSIZE  (1ull << 28)
#define MAXLIVE 4096

#include "vmem_pages.h"

struct slot {
	struct vmem_region r;
	int live;
};
static struct slot slots[MAXLIVE];
static int live_idx[MAXLIVE];
static int nlive;
static int free_slots[MAXLIVE];
static int nfree_slots;

static struct vmem arena;
static struct vmodel model;
static struct vmodel_range spans[256];
static int nspans;

static uint64_t rand_size(void)
{
	uint64_t p = rnd() % 100;
	if (p < 70)
		return rnd_range(1, 16) * Q;
	if (p < 95)
		return rnd_range(17, 256) * Q;
	return rnd_range(257, 2048) * Q;
}

static uint64_t rand_addr(void)
{
	/* anywhere in the spans area, with a margin below and above */
	return BASE - 16 * Q + rnd() % ((SPAN0 + XSIZE + 32 * Q) / Q) * Q;
}

static struct slot *slot_get(void)
{
	int i = free_slots[--nfree_slots];
	live_idx[nlive++] = i;
	slots[i].live = 1;
	return &slots[i];
}

static void slot_put(int k)   /* k: index into live_idx */
{
	int i = live_idx[k];
	live_idx[k] = live_idx[--nlive];
	slots[i].live = 0;
	free_slots[nfree_slots++] = i;
}

/* Keep the line a checker prints, to show it in a failure message. */
static void keep_line(void *ctx, const char *line)
{
	snprintf((char *)ctx, 256, "%s", line);
}

static void compare_all(uint64_t op)
{
	struct vmem_stats st;
	char why[256] = "?";

	if (vmem_check(&arena, keep_line, why) != 0) {
		fail_msg("op %llu: vmem_check: %s", (unsigned long long)op, why);
	}
	if (!vmodel_same_regions(&model, &arena))
		fail_msg("op %llu: region list differs from the model", (unsigned long long)op);
	vmem_stats(&arena, &st);
	assert_int_equal(st.free_regions, model.fr.n);
	assert_int_equal(st.used_regions, model.ur.n);
	assert_int_equal(st.free_bytes, vmodel_free_bytes(&model));
	assert_int_equal(st.largest_free, vmodel_largest_free(&model));
}

static void op_alloc(void)
{
	uint64_t s = rand_size();
	struct slot *sl;
	long bf = vmodel_best_fit(&model, s);
	svmm_va_t x = 0;
	int err;

	if (nfree_slots == 0)
		return;
	sl = slot_get();
	err = vmem_alloc(&arena, s, &sl->r, &x);
	if (bf < 0) {
		assert_int_equal(err, SVMM_ENOSPC);
		slot_put(nlive - 1);
		return;
	}
	assert_int_equal(err, 0);
	/* best fit: the start of a region of the smallest fitting size */
	long fi = vmodel_best_fit_at(&model, s, x);

	if (fi < 0)
		fail_msg("0x%llx bytes at 0x%llx is not best fit", (unsigned long long)s,
			 (unsigned long long)x);
	assert_int_equal(sl->r.addr, x);
	assert_int_equal(sl->r.size, s);
	vmodel_take(&model, (size_t)fi, x, s);
}

static void op_xalloc(void)
{
	uint64_t s = rnd_range(1, 64) * Q;
	struct vmem_constraint c;
	struct slot *sl;
	svmm_va_t x = 0;
	int err;
	bool any;

	memset(&c, 0, sizeof(c));
	if (rnd() % 4 != 0)
		c.align = Q << rnd_range(0, 6);
	if (c.align && rnd() % 3 == 0)
		c.phase = rnd() % (c.align / Q) * Q;
	if (rnd() % 3 == 0) {
		uint64_t nc = Q;
		while (nc < s)
			nc <<= 1;
		c.nocross = nc << rnd_range(0, 3);
	}
	if (rnd() % 3 == 0) {
		c.minaddr = rand_addr();
		if (rnd() % 2)
			c.maxaddr = c.minaddr + rnd_range(1, 4096) * Q;
	} else if (rnd() % 4 == 0) {
		c.maxaddr = BASE + rnd_range(1, (SPAN0 + XSIZE) / Q) * Q;
	}
	if (nfree_slots == 0)
		return;
	any = vmodel_any_fit(&model, s, c.align ? c.align : Q, c.phase, c.nocross, c.minaddr,
			     c.maxaddr);
	sl = slot_get();
	err = vmem_xalloc(&arena, s, &c, &sl->r, &x);
	if (!any) {
		assert_int_equal(err, SVMM_ENOSPC);
		slot_put(nlive - 1);
		return;
	}
	assert_int_equal(err, 0);
	if (c.align)
		assert_int_equal(x % c.align, c.phase);
	if (c.nocross)
		assert_int_equal(x / c.nocross, (x + s - 1) / c.nocross);
	assert_true(x >= c.minaddr);
	if (c.maxaddr)
		assert_true(x + s <= c.maxaddr);
	long fi = vmodel_containing(&model.fr, x);
	assert_true(fi >= 0);
	assert_true(x + s <= model.fr.v[fi].a + model.fr.v[fi].s);
	vmodel_take(&model, (size_t)fi, x, s);
}

static void op_fixed(void)
{
	uint64_t a = rand_addr(), s = rnd_range(1, 32) * Q;
	long fi = vmodel_containing(&model.fr, a);
	struct slot *sl;
	int err, want;

	if (nfree_slots == 0)
		return;
	if (fi >= 0 && a + s <= model.fr.v[fi].a + model.fr.v[fi].s)
		want = 0;
	else if (vmodel_meets(&model.ur, a, s))
		want = SVMM_EBUSY;
	else
		want = SVMM_ERANGE;
	sl = slot_get();
	err = vmem_alloc_fixed(&arena, a, s, &sl->r);
	assert_int_equal(err, want);
	if (err) {
		slot_put(nlive - 1);
		return;
	}
	vmodel_take(&model, (size_t)fi, a, s);
}

static void op_free(void)
{
	int k;
	struct slot *sl;
	struct vmem_region *back = NULL;
	long ui;

	if (nlive == 0)
		return;
	k = (int)(rnd() % (uint64_t)nlive);
	sl = &slots[live_idx[k]];
	if (rnd() % 8 == 0) {   /* wrong size first: must fail and change nothing */
		assert_int_equal(vmem_free(&arena, sl->r.addr, sl->r.size + Q, NULL), SVMM_ESIZE);
	}
	ui = vmodel_containing(&model.ur, sl->r.addr);
	assert_true(ui >= 0);
	uint64_t a = sl->r.addr, s = sl->r.size;
	if (rnd() % 3 == 0) {
		/* the caller's own region: no search */
		assert_int_equal(vmem_free_region(&arena, &sl->r), 0);
		assert_int_equal(vmem_free_region(&arena, &sl->r), SVMM_EDOUBLEFREE);
	} else {
		assert_int_equal(vmem_free(&arena, a, rnd() % 2 ? s : 0, &back), 0);
		assert_ptr_equal(back, &sl->r);
	}
	vmodel_remove_at(&model.ur, (size_t)ui);
	vmodel_release(&model, a, s);
	slot_put(k);
}

/* The live-set index of the slot holding region r. */
static int live_index_of(const struct vmem_region *r)
{
	int i = (int)(SVMM_CONTAINER_OF(r, struct slot, r) - slots);

	for (int k = 0; k < nlive; k++)
		if (live_idx[k] == i)
			return k;
	fail_msg("region 0x%llx is not in the live set", (unsigned long long)r->addr);
	return -1;
}

/* Cut an allocation in two at a random quantum, or join it with the next one. */
static void op_split_join(void)
{
	struct slot *sl;
	struct vmem_region *nx;
	long ui;

	if (nlive == 0 || nfree_slots == 0)
		return;
	sl = &slots[live_idx[rnd() % (uint64_t)nlive]];
	ui = vmodel_containing(&model.ur, sl->r.addr);
	assert_true(ui >= 0);
	/* the allocated neighbours by address, as the model has them */
	nx = vmem_next(&arena, &sl->r);
	if ((size_t)ui + 1 < model.ur.n)
		assert_true(nx != NULL && nx->addr == model.ur.v[ui + 1].a);
	else
		assert_null(nx);
	{
		struct vmem_region *pv = vmem_prev(&arena, &sl->r);

		if (ui > 0)
			assert_true(pv != NULL && pv->addr == model.ur.v[ui - 1].a);
		else
			assert_null(pv);
	}
	if (rnd() % 2 && sl->r.size >= 2 * Q) {
		uint64_t a = sl->r.addr, s = sl->r.size;
		svmm_va_t at = a + rnd_range(1, s / Q - 1) * Q;
		struct slot *tail = slot_get();

		assert_int_equal(vmem_split(&arena, &sl->r, a, &tail->r), SVMM_ERANGE);
		assert_int_equal(vmem_split(&arena, &sl->r, at + 1, &tail->r), SVMM_EUNALIGNED);
		assert_int_equal(vmem_split(&arena, &sl->r, at, &tail->r), 0);
		assert_int_equal(sl->r.size, at - a);
		assert_int_equal(tail->r.addr, at);
		assert_int_equal(tail->r.size, a + s - at);
		vmodel_remove_at(&model.ur, (size_t)ui);
		vmodel_insert_at(&model.ur, (size_t)ui, a, at - a);
		vmodel_insert_at(&model.ur, (size_t)ui + 1, at, a + s - at);
	} else if (nx != NULL) {
		bool adjacent = sl->r.addr + sl->r.size == nx->addr;

		assert_int_equal(vmem_join(&arena, &sl->r, nx), adjacent ? 0 : SVMM_ERANGE);
		if (adjacent) {
			uint64_t a = model.ur.v[ui].a, s = model.ur.v[ui].s + model.ur.v[ui + 1].s;

			assert_int_equal(sl->r.size, s);
			vmodel_remove_at(&model.ur, (size_t)ui + 1);
			vmodel_remove_at(&model.ur, (size_t)ui);
			vmodel_insert_at(&model.ur, (size_t)ui, a, s);
			slot_put(live_index_of(nx));
		}
	}
}

/* The first allocation containing or after an address, as the model finds it. */
static void op_first_from(void)
{
	uint64_t a = rand_addr() + rnd() % Q;
	size_t i = vmodel_upper(&model.ur, a);
	struct vmem_region *r = vmem_first_from(&arena, a);

	if (i > 0 && a < model.ur.v[i - 1].a + model.ur.v[i - 1].s)
		i--;
	if (i == model.ur.n) {
		assert_null(r);
	} else {
		assert_non_null(r);
		assert_int_equal(r->addr, model.ur.v[i].a);
	}
}

static void op_bad_free(void)
{
	uint64_t a = rand_addr();
	long ui = vmodel_containing(&model.ur, a);
	int want;

	if (ui >= 0 && model.ur.v[ui].a == a)
		return;   /* a real allocation: not this operation's business */
	want = vmodel_containing(&model.fr, a) >= 0 ? SVMM_EDOUBLEFREE : SVMM_ENOENT;
	assert_int_equal(vmem_free(&arena, a, 0, NULL), want);
}

static void op_lookup(void)
{
	uint64_t a = rand_addr() + rnd() % Q;
	long ui = vmodel_containing(&model.ur, a);
	struct vmem_region *r = vmem_lookup(&arena, a);

	if (ui < 0) {
		assert_null(r);
	} else {
		assert_non_null(r);
		assert_int_equal(r->addr, model.ur.v[ui].a);
		assert_int_equal(r->size, model.ur.v[ui].s);
	}
}

static void op_add(void)
{
	uint64_t a = XAREA + rnd() % (XSIZE / Q) * Q;
	uint64_t s = rnd_range(1, 512) * Q;
	bool overlap = false;
	int err;

	if (a + s > XAREA + XSIZE || nspans == 256)
		return;
	for (int i = 0; i < nspans; i++)
		if (a < spans[i].a + spans[i].s && spans[i].a < a + s)
			overlap = true;
	err = vmem_add(&arena, a, s);
	assert_int_equal(err, overlap ? SVMM_EOVERLAP : 0);
	if (!err) {
		spans[nspans].a = a;
		spans[nspans].s = s;
		nspans++;
		vmodel_release(&model, a, s);
	}
}

static void test_random_against_model(void **state)
{
	(void)state;
	const char *se = getenv("SVMM_SEED"), *so = getenv("SVMM_OPS");
	uint64_t seed = se ? strtoull(se, NULL, 0) : (uint64_t)time(NULL);
	uint64_t ops = so ? strtoull(so, NULL, 0) : 1000000;

	if (seed == 0)
		seed = 1;
	printf("test_vmem_prop: seed %llu, %llu ops (replay: SVMM_SEED=%llu SVMM_OPS=%llu)\n",
	       (unsigned long long)seed, (unsigned long long)ops, (unsigned long long)seed,
	       (unsigned long long)ops);
	rng = seed;
	nlive = 0;
	nfree_slots = 0;
	for (int i = MAXLIVE - 1; i >= 0; i--)
		free_slots[nfree_slots++] = i;
	vmodel_init(&model, Q);
	assert_int_equal(vmem_init(&arena, BASE, SPAN0, Q, &src), 0);
	vmodel_release(&model, BASE, SPAN0);
	spans[0].a = BASE;
	spans[0].s = SPAN0;
	nspans = 1;

	for (uint64_t op = 0; op < ops; op++) {
		/* keep the live set around a few hundred, swinging slowly */
		uint64_t target = 200 + (op / 50000 % 4) * 150;
		uint64_t p = rnd() % 1000;
		uint64_t palloc = nlive < (int)target ? 450 : 300;

		if (p < palloc)
			op_alloc();
		else if (p < palloc + 100)
			op_xalloc();
		else if (p < palloc + 160)
			op_fixed();
		else if (p < 880)
			op_free();
		else if (p < 920)
			op_bad_free();
		else if (p < 960)
			op_lookup();
		else if (p < 980)
			op_split_join();
		else if (p < 998)
			op_first_from();
		else
			op_add();
		if (op < 100000 || op % 1000 == 0)
			compare_all(op);
	}
	compare_all(ops);
	while (nlive > 0) {
		struct slot *sl = &slots[live_idx[nlive - 1]];
		assert_int_equal(vmem_free(&arena, sl->r.addr, sl->r.size, NULL), 0);
		slot_put(nlive - 1);
	}
	assert_int_equal(vmem_check(&arena, NULL, NULL), 0);
	assert_int_equal(vmem_destroy(&arena), 0);
	assert_int_equal(pages_live, 0);
	vmodel_fini(&model);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
