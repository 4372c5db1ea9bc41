/* pt_testutil.c - see pt_testutil.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostsim.h"
#include "pt_testutil.h"

static int snap_cb(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	struct pt_snap *s = ctx;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->leaf = realloc(s->leaf, s->cap * sizeof(*s->leaf));
		if (s->leaf == NULL)
			abort();
	}
	s->leaf[s->n++] = (struct snap_leaf){ va, pa, size, pte };
	return 0;
}

void pt_snap_take(struct pt_snap *s, const struct pt *pt, svmm_va_t va, uint64_t size)
{
	memset(s, 0, sizeof(*s));
	if (size == 0) {
		svmm_va_t ue = svmm_user_end(pt->mode), kb = svmm_kernel_base(pt->mode);
		pt_walk(pt, 0, ue, snap_cb, s);
		pt_walk(pt, kb, 0 - kb, snap_cb, s);
	} else {
		pt_walk(pt, va, size, snap_cb, s);
	}
	s->tables = pt->tables;
	s->tables_live = hostsim_tables_live();
}

void pt_snap_free(struct pt_snap *s)
{
	free(s->leaf);
	memset(s, 0, sizeof(*s));
}

bool pt_snap_equal(const struct pt_snap *a, const struct pt_snap *b)
{
	if (a->n != b->n || a->tables != b->tables || a->tables_live != b->tables_live)
		return false;
	return a->n == 0 || memcmp(a->leaf, b->leaf, a->n * sizeof(*a->leaf)) == 0;
}

struct lookup_ctx {
	svmm_pa_t pa;
	uint64_t pte;
	bool found;
};

static int lookup_cb(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	struct lookup_ctx *l = ctx;
	(void)va;
	(void)size;
	l->pa = pa;
	l->pte = pte;
	l->found = true;
	return 1;
}

bool pt_lookup(const struct pt *pt, svmm_va_t va, svmm_pa_t *pa, uint64_t *pte)
{
	struct lookup_ctx l = { 0 };
	if (pt_walk(pt, SVMM_ALIGN_DOWN(va, SVMM_PAGE_SIZE), SVMM_PAGE_SIZE, lookup_cb, &l) < 0)
		return false;
	if (!l.found)
		return false;
	if (pa != NULL)
		*pa = l.pa + (va & (SVMM_PAGE_SIZE - 1));
	if (pte != NULL)
		*pte = l.pte;
	return true;
}

struct count_ctx {
	uint64_t *out;
	svmm_va_t last_napot;
};

static int count_cb(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	struct count_ctx *c = ctx;
	(void)pa;
	if (pte & SVMM_PTE_N) {
		c->out[5]++;
		return 0;
	}
	/* Leaves are reported clipped; a whole walk reports them whole. */
	for (unsigned l = 0; l < 5; l++)
		if (size == pt_level_size(l) && SVMM_IS_ALIGNED(va, size))
			c->out[l]++;
	return 0;
}

void pt_count_leaves(const struct pt *pt, uint64_t out[6])
{
	memset(out, 0, 6 * sizeof(out[0]));
	struct count_ctx c = { out, 0 };
	svmm_va_t ue = svmm_user_end(pt->mode), kb = svmm_kernel_base(pt->mode);
	pt_walk(pt, 0, ue, count_cb, &c);
	pt_walk(pt, kb, 0 - kb, count_cb, &c);
}

uint64_t pt_test_seed(const char *name, uint64_t dflt)
{
	const char *env = getenv("SVMM_SEED");
	uint64_t seed = dflt;
	if (env != NULL && *env != '\0')
		seed = strtoull(env, NULL, 0);
	if (seed == 0)
		seed = 1;
	printf("%s: seed %llu (replay with SVMM_SEED=%llu)\n", name, (unsigned long long)seed,
	       (unsigned long long)seed);
	return seed;
}

uint64_t pt_test_rand(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

int pt_test_setup(void **state)
{
	(void)state;
	return hostsim_ram_init(PT_TEST_RAM_BASE, 512 * SVMM_MiB);
}

int pt_test_teardown(void **state)
{
	(void)state;
	hostsim_ram_fini();
	return 0;
}
