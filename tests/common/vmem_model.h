/*
 * vmem_model.h - a deliberately simple reference model of a vmem arena, shared by the
 * property test and the fuzzer: two address-sorted arrays of ranges (free and used),
 * binary search to find, memmove to change, and brute force for every decision that
 * the real arena makes with its trees. Header-only so that the fuzzer, which is not
 * linked with tests/common, can use it too.
 */
#ifndef SVMM_VMEM_MODEL_H
#define SVMM_VMEM_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <svmm/vmem.h>

struct vmodel_range {
	uint64_t a, s;
};

struct vmodel_set {
	struct vmodel_range *v;
	size_t n, cap;
};

struct vmodel {
	struct vmodel_set fr, ur;   /* free and used ranges, sorted by address */
	uint64_t q;
};

static inline void vmodel_init(struct vmodel *m, uint64_t q)
{
	memset(m, 0, sizeof(*m));
	m->q = q;
}

static inline void vmodel_fini(struct vmodel *m)
{
	free(m->fr.v);
	free(m->ur.v);
	memset(m, 0, sizeof(*m));
}

/* Index of the first range with start > a (so index - 1 is the floor). */
static inline size_t vmodel_upper(const struct vmodel_set *set, uint64_t a)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (set->v[mid].a <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static inline void vmodel_insert_at(struct vmodel_set *set, size_t i, uint64_t a, uint64_t s)
{
	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 64;
		set->v = realloc(set->v, set->cap * sizeof(*set->v));
		if (!set->v)
			abort();
	}
	memmove(&set->v[i + 1], &set->v[i], (set->n - i) * sizeof(*set->v));
	set->v[i].a = a;
	set->v[i].s = s;
	set->n++;
}

static inline void vmodel_remove_at(struct vmodel_set *set, size_t i)
{
	memmove(&set->v[i], &set->v[i + 1], (set->n - i - 1) * sizeof(*set->v));
	set->n--;
}

/* The range of set containing addr, or -1. */
static inline long vmodel_containing(const struct vmodel_set *set, uint64_t addr)
{
	size_t i = vmodel_upper(set, addr);

	if (i > 0 && addr - set->v[i - 1].a < set->v[i - 1].s)
		return (long)(i - 1);
	return -1;
}

/* Does any range of set meet [a, a + s)? */
static inline bool vmodel_meets(const struct vmodel_set *set, uint64_t a, uint64_t s)
{
	size_t i = vmodel_upper(set, a + s - 1);

	return i > 0 && set->v[i - 1].a + set->v[i - 1].s > a;
}

/* Add free space [a, a + s), merging with touching free neighbours. */
static inline void vmodel_release(struct vmodel *m, uint64_t a, uint64_t s)
{
	struct vmodel_set *f = &m->fr;
	size_t i = vmodel_upper(f, a);

	if (i > 0 && f->v[i - 1].a + f->v[i - 1].s == a) {
		f->v[i - 1].s += s;
		if (i < f->n && f->v[i - 1].a + f->v[i - 1].s == f->v[i].a) {
			f->v[i - 1].s += f->v[i].s;
			vmodel_remove_at(f, i);
		}
	} else if (i < f->n && a + s == f->v[i].a) {
		f->v[i].a = a;
		f->v[i].s += s;
	} else {
		vmodel_insert_at(f, i, a, s);
	}
}

/* Move [x, x + s), which lies inside free range fi, to the used set. */
static inline void vmodel_take(struct vmodel *m, size_t fi, uint64_t x, uint64_t s)
{
	struct vmodel_range r = m->fr.v[fi];
	uint64_t front = x - r.a, back = r.a + r.s - (x + s);

	if (front == 0 && back == 0) {
		vmodel_remove_at(&m->fr, fi);
	} else if (front == 0) {
		m->fr.v[fi].a = x + s;
		m->fr.v[fi].s = back;
	} else {
		m->fr.v[fi].s = front;
		if (back)
			vmodel_insert_at(&m->fr, fi + 1, x + s, back);
	}
	vmodel_insert_at(&m->ur, vmodel_upper(&m->ur, x), x, s);
}

/* Best fit: smallest free range >= s, lowest address among equals; -1 if none. */
static inline long vmodel_best_fit(const struct vmodel *m, uint64_t s)
{
	long best = -1;

	for (size_t i = 0; i < m->fr.n; i++)
		if (m->fr.v[i].s >= s && (best < 0 || m->fr.v[i].s < m->fr.v[best].s))
			best = (long)i;
	return best;
}

/*
 * Is x where vmem's best fit may put s? It must start a free range of the smallest size
 * that fits; among equal sizes vmem takes the lowest address in its size tree, but any
 * one of a bucketed size (up to VMEM_BUCKETS quanta: most recently freed first). Returns
 * the range's index, or -1.
 */
static inline long vmodel_best_fit_at(const struct vmodel *m, uint64_t s, uint64_t x)
{
	long bf = vmodel_best_fit(m, s), fi = vmodel_containing(&m->fr, x);

	if (bf < 0 || fi < 0 || m->fr.v[fi].a != x || m->fr.v[fi].s != m->fr.v[bf].s)
		return -1;
	if (m->fr.v[bf].s > VMEM_BUCKETS * m->q && fi != bf)
		return -1;
	return fi;
}

/*
 * Brute force: is there any start x in free range r with x % align == phase,
 * minaddr <= x, x + s <= maxaddr (0 = none), not crossing a multiple of nocross?
 * Steps through aligned starts one by one (tests keep align/nocross small).
 */
static inline bool vmodel_range_fits(struct vmodel_range r, uint64_t s, uint64_t align,
				     uint64_t phase, uint64_t nocross, uint64_t minaddr,
				     uint64_t maxaddr)
{
	uint64_t lo = r.a > minaddr ? r.a : minaddr;
	uint64_t hi = r.a + r.s;

	if (maxaddr && hi > maxaddr)
		hi = maxaddr;
	if (lo >= hi || hi - lo < s)
		return false;
	uint64_t x = lo - (lo % align) + phase;
	if (x < lo)
		x += align;
	for (unsigned steps = 0; x + s <= hi && steps < 100000; x += align, steps++) {
		if (nocross == 0 || x / nocross == (x + s - 1) / nocross)
			return true;
	}
	return false;
}

static inline bool vmodel_any_fit(const struct vmodel *m, uint64_t s, uint64_t align,
				  uint64_t phase, uint64_t nocross, uint64_t minaddr,
				  uint64_t maxaddr)
{
	for (size_t i = 0; i < m->fr.n; i++)
		if (vmodel_range_fits(m->fr.v[i], s, align, phase, nocross, minaddr, maxaddr))
			return true;
	return false;
}

static inline uint64_t vmodel_free_bytes(const struct vmodel *m)
{
	uint64_t t = 0;

	for (size_t i = 0; i < m->fr.n; i++)
		t += m->fr.v[i].s;
	return t;
}

static inline uint64_t vmodel_largest_free(const struct vmodel *m)
{
	uint64_t t = 0;

	for (size_t i = 0; i < m->fr.n; i++)
		if (m->fr.v[i].s > t)
			t = m->fr.v[i].s;
	return t;
}

/* ---- comparing an arena with the model ---- */

struct vmodel_walk {
	const struct vmodel *m;
	size_t fi, ui;
	bool bad;
};

static inline void vmodel_walk_fn(void *ctx, svmm_va_t addr, uint64_t size, bool used)
{
	struct vmodel_walk *w = ctx;
	const struct vmodel_set *set = used ? &w->m->ur : &w->m->fr;
	size_t *i = used ? &w->ui : &w->fi;

	if (*i >= set->n || set->v[*i].a != addr || set->v[*i].s != size)
		w->bad = true;
	(*i)++;
}

/* Does vmem_walk of vm list exactly the model's free and used ranges, in order? */
static inline bool vmodel_same_regions(const struct vmodel *m, struct vmem *vm)
{
	struct vmodel_walk w = { m, 0, 0, false };
	vmem_walk(vm, vmodel_walk_fn, &w);
	return !w.bad && w.fi == m->fr.n && w.ui == m->ur.n;
}

#endif /* SVMM_VMEM_MODEL_H */
