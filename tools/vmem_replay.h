/*
 * vmem_replay.h - the replay engine behind tools/vmem-trace (host only).
 *
 * A trace (docs/trace.md) is replayed line by line against fresh vmem arenas. Three
 * things are checked at every operation:
 *   1. the replay gets the same result as the recording (error code, and the address
 *      of a successful allocation): a difference is a divergence, the first sign that
 *      this vmem behaves differently from the one that wrote the trace;
 *   2. the result agrees with a reference model of the arena, a sorted array of spans
 *      and one of allocations, simple enough to be obviously right: an allocation lies
 *      in free space and meets its constraints, ENOSPC only when nothing fits, a plain
 *      allocation lands exactly where best fit (smallest free region, lowest address;
 *      among small regions of one size, vmem may take any)
 *      says, fixed allocations and frees fail exactly when the model says they must;
 *   3. vmem_check, every N operations and at the end.
 * The model costs O(live allocations) per operation, which is fine for the traces of a
 * kernel run or a test; long synthetic traces can switch it off.
 *
 * Policy comparison replays only the requests (sizes and constraints, and which
 * earlier allocation each free releases) through the model under first fit, next fit
 * and best fit, and reports what each leaves behind.
 *
 * Whatever a line's outcome, the model is left describing exactly what vmem holds
 * (a success is entered even when it diverges from the recording), so that after a
 * failed line the arenas can still be checked and released.
 *
 * Everything is static so that tests/test_vmem_trace.c and fuzz/fuzz_vmem_trace.c can
 * include this file and reach the model's checks directly.
 */
#ifndef SVMM_VMEM_REPLAY_H
#define SVMM_VMEM_REPLAY_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svmm/vmem.h>
#include <svmm/vmem_trace.h>

#define RP_UNUSED __attribute__((unused))
#define RP_MAX_ARENAS 64
#define RP_NAME_MAX 32

/* ------------------------------------------------------------------ parsing */

/* One parsed trace line. */
struct rp_line {
	char arena[RP_NAME_MAX];
	enum vmem_trace_kind kind;   /* 0 for the header line ("trace 1") */
	unsigned version;            /* header only */
	struct vmem_trace_op op;
};

static const char *rp_skip(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* Copy the next space-delimited word into w[0..n); returns the rest or NULL if none. */
static const char *rp_word(const char *s, char *w, size_t n)
{
	size_t i = 0;
	s = rp_skip(s);
	if (*s == '\0' || *s == '\n' || *s == '\r')
		return NULL;
	while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
		if (i + 1 >= n)
			return NULL;
		w[i++] = *s++;
	}
	w[i] = '\0';
	return s;
}

static const char *rp_num(const char *s, uint64_t *v)
{
	char w[32], *end;
	s = rp_word(s, w, sizeof(w));
	if (s == NULL || w[0] < '0' || w[0] > '9')
		return NULL;
	*v = strtoull(w, &end, 0);
	return *end == '\0' ? s : NULL;
}

/* The error code a trace's short name stands for; 1 if the name is unknown. */
static int rp_errcode(const char *name)
{
	char buf[24];
	if (strcmp(name, "ok") == 0)
		return 0;
	for (int e = -1; e >= SVMM_ERR_MIN; e--)
		if (strcmp(name, vmem_trace_errname(e, buf, sizeof(buf))) == 0)
			return e;
	return 1;
}

/*
 * Parse one line. Returns 0 for a trace line (filled into *l), 1 for a line that is
 * not part of a trace (no "vmt" word first), -1 for a malformed trace line.
 */
static int rp_parse(const char *s, struct rp_line *l)
{
	char w[RP_NAME_MAX];
	uint64_t v[7], q = 0;
	unsigned nargs = 0;

	memset(l, 0, sizeof(*l));
	const char *p = rp_word(s, w, sizeof(w));
	if (p == NULL || strcmp(w, VMEM_TRACE_TAG) != 0)
		return 1;
	if ((p = rp_word(p, l->arena, sizeof(l->arena))) == NULL)
		return -1;
	if ((p = rp_word(p, w, sizeof(w))) == NULL)
		return -1;
	if (strcmp(w, "trace") == 0) {
		if ((p = rp_num(p, &q)) == NULL || rp_skip(p)[0] > ' ')
			return -1;
		l->version = (unsigned)q;
		return 0;
	}
	static const struct { const char *name; enum vmem_trace_kind kind; unsigned args; } ops[] = {
		{ "init", VMEM_TRACE_INIT, 4 },   { "add", VMEM_TRACE_ADD, 2 },
		{ "alloc", VMEM_TRACE_ALLOC, 1 }, { "xalloc", VMEM_TRACE_XALLOC, 6 },
		{ "fixed", VMEM_TRACE_FIXED, 2 }, { "free", VMEM_TRACE_FREE, 2 },
		{ "destroy", VMEM_TRACE_DESTROY, 0 }, { "state", VMEM_TRACE_STATE, 5 },
	};
	unsigned k;
	for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
		if (strcmp(w, ops[k].name) == 0)
			break;
	if (k == sizeof(ops) / sizeof(ops[0]))
		return -1;
	l->kind = ops[k].kind;
	nargs = ops[k].args;
	for (unsigned i = 0; i < nargs; i++)
		if ((p = rp_num(p, &v[i])) == NULL)
			return -1;
	struct vmem_trace_op *op = &l->op;
	op->kind = l->kind;
	switch (l->kind) {
	case VMEM_TRACE_INIT:
		op->addr = v[0], op->size = v[1], op->quantum = v[2], op->has_src = v[3] != 0;
		break;
	case VMEM_TRACE_ADD:
	case VMEM_TRACE_FIXED:
	case VMEM_TRACE_FREE:
		op->addr = v[0], op->size = v[1];
		break;
	case VMEM_TRACE_ALLOC:
		op->size = v[0];
		break;
	case VMEM_TRACE_XALLOC:
		op->size = v[0];
		op->c = (struct vmem_constraint){ v[1], v[2], v[3], v[4], v[5] };
		break;
	case VMEM_TRACE_STATE:
		op->st.free_bytes = v[0], op->st.used_bytes = v[1], op->st.free_regions = v[2];
		op->st.used_regions = v[3], op->st.largest_free = v[4];
		return rp_skip(p)[0] > ' ' ? -1 : 0;
	case VMEM_TRACE_DESTROY:
		break;
	}
	/* "= ok [addr]" or "= ENAME" */
	if ((p = rp_word(p, w, sizeof(w))) == NULL || strcmp(w, "=") != 0)
		return -1;
	if ((p = rp_word(p, w, sizeof(w))) == NULL || (op->err = rp_errcode(w)) > 0)
		return -1;
	if (op->err == 0 && (l->kind == VMEM_TRACE_ALLOC || l->kind == VMEM_TRACE_XALLOC))
		if ((p = rp_num(p, &op->result)) == NULL)
			return -1;
	return rp_skip(p)[0] > ' ' ? -1 : 0;
}

/* ------------------------------------------------------------------ the model */

/* An interval [a, a + s); r is the replayed region for allocations, id for policies. */
struct rp_iv {
	svmm_va_t a;
	uint64_t s;
	struct vmem_region *r;
	uint64_t key;
};

struct rp_vec {
	struct rp_iv *v;
	size_t n, cap;
};

/* Index of the last interval with a <= x, or (size_t)-1. */
static size_t rp_floor(const struct rp_vec *x, svmm_va_t a)
{
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->v[mid].a <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - 1;
}

static void rp_insert(struct rp_vec *x, struct rp_iv iv)
{
	if (x->n == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 64;
		x->v = realloc(x->v, x->cap * sizeof(*x->v));
		if (x->v == NULL) {
			fprintf(stderr, "vmem-trace: out of memory\n");
			exit(2);
		}
	}
	size_t i = rp_floor(x, iv.a) + 1;
	memmove(&x->v[i + 1], &x->v[i], (x->n - i) * sizeof(*x->v));
	x->v[i] = iv;
	x->n++;
}

static void rp_remove(struct rp_vec *x, size_t i)
{
	memmove(&x->v[i], &x->v[i + 1], (x->n - i - 1) * sizeof(*x->v));
	x->n--;
}

/* An arena's model: spans (merged when they touch) and allocations, both sorted. */
struct rp_model {
	uint64_t quantum;
	struct rp_vec spans, allocs;
	uint64_t span_bytes, used_bytes;
	svmm_va_t rover;   /* next fit */
};

static bool rp_overlap(svmm_va_t a, uint64_t s, svmm_va_t b, uint64_t t)
{
	return a < b + t && b < a + s;
}

/* Does [a, a + s) meet an allocation? */
static bool rp_meets_alloc(const struct rp_model *m, svmm_va_t a, uint64_t s)
{
	size_t i = rp_floor(&m->allocs, a + s - 1);
	return i != (size_t)-1 && rp_overlap(a, s, m->allocs.v[i].a, m->allocs.v[i].s);
}

/* Is [a, a + s) inside one span? */
static bool rp_in_spans(const struct rp_model *m, svmm_va_t a, uint64_t s)
{
	size_t i = rp_floor(&m->spans, a);
	return i != (size_t)-1 && a + s <= m->spans.v[i].a + m->spans.v[i].s &&
	       a + s > a;
}

/* Is [a, a + s) entirely free: inside a span, meeting no allocation? */
static bool rp_is_free(const struct rp_model *m, svmm_va_t a, uint64_t s)
{
	return s != 0 && rp_in_spans(m, a, s) && !rp_meets_alloc(m, a, s);
}

/* Call fn for every free region (maximal gap) in address order; stop on non-zero. */
static int rp_gaps(const struct rp_model *m, int (*fn)(void *ctx, svmm_va_t a, uint64_t s),
		   void *ctx)
{
	size_t j = 0;
	for (size_t i = 0; i < m->spans.n; i++) {
		svmm_va_t a = m->spans.v[i].a, end = a + m->spans.v[i].s;
		while (j < m->allocs.n && m->allocs.v[j].a < end) {
			if (m->allocs.v[j].a > a) {
				int r = fn(ctx, a, m->allocs.v[j].a - a);
				if (r)
					return r;
			}
			a = m->allocs.v[j].a + m->allocs.v[j].s;
			j++;
		}
		if (end != a) {
			int r = fn(ctx, a, end - a);
			if (r)
				return r;
		}
	}
	return 0;
}

/*
 * The lowest start in the free region [g, g + gs) for size bytes under c (NULL: none),
 * or false when none exists there. Conservative: a placement that needs more than a
 * few steps of alignment and boundary skipping is reported as absent, so that the
 * model never claims a fit that is not there.
 */
static bool rp_fit(uint64_t q, svmm_va_t g, uint64_t gs, uint64_t size,
		   const struct vmem_constraint *c, svmm_va_t *out)
{
	uint64_t align = q, phase = 0, nocross = 0;
	svmm_va_t lo = g, last = g + gs - 1;   /* inclusive, so a region may end at 2^64 */
	if (c != NULL) {
		if (c->align)
			align = c->align;
		phase = c->phase, nocross = c->nocross;
		if (c->minaddr > lo)
			lo = c->minaddr;
		if (c->maxaddr != 0 && c->maxaddr - 1 < last)
			last = c->maxaddr - 1;
	}
	if (size == 0 || phase >= align || lo > last)
		return false;
	svmm_va_t s = lo;
	for (int step = 0; step < 4; step++) {
		/* The first address at or above s that is phase modulo align. */
		svmm_va_t down = SVMM_ALIGN_DOWN(s, align), t = down + phase;
		if (t < s)
			t += align;
		if (t < down)
			return false;   /* wrapped past 2^64 */
		s = t;
		if (nocross && s / nocross != (s + size - 1) / nocross) {
			svmm_va_t nb = SVMM_ALIGN_UP(s + 1, nocross);
			if (nb <= s)
				return false;
			s = nb;
			continue;
		}
		break;
	}
	if (s < lo || s + (size - 1) < s || s + (size - 1) > last)
		return false;
	if (s % align != phase)
		return false;
	if (nocross && s / nocross != (s + size - 1) / nocross)
		return false;
	*out = s;
	return true;
}

/* Does a placement of [a, a + size) meet c? */
static bool rp_meets(uint64_t q, svmm_va_t a, uint64_t size, const struct vmem_constraint *c)
{
	if (a % q != 0)
		return false;
	if (c == NULL)
		return true;
	if (c->align && a % c->align != c->phase)
		return false;
	if (c->nocross && a / c->nocross != (a + size - 1) / c->nocross)
		return false;
	if (a < c->minaddr)
		return false;
	if (c->maxaddr && a + size > c->maxaddr)
		return false;
	return true;
}

enum rp_policy { RP_BEST, RP_FIRST, RP_NEXT };

struct rp_search {
	const struct rp_model *m;
	uint64_t size;
	const struct vmem_constraint *c;
	enum rp_policy pol;
	bool found;
	svmm_va_t at;
	uint64_t gap;          /* size of the free region chosen */
	bool after_rover;      /* next fit: second pass wraps around */
};

static int rp_search_cb(void *ctx, svmm_va_t a, uint64_t s)
{
	struct rp_search *x = ctx;
	svmm_va_t at;
	if (x->pol == RP_NEXT && x->after_rover && a + s <= x->m->rover)
		return 0;
	if (!rp_fit(x->m->quantum, a, s, x->size, x->c, &at))
		return 0;
	if (x->pol == RP_NEXT && x->after_rover && at < x->m->rover) {
		/* Retry from the rover inside this region. */
		svmm_va_t lo = x->m->rover;
		if (!rp_fit(x->m->quantum, lo, a + s - lo, x->size, x->c, &at))
			return 0;
	}
	if (x->pol == RP_BEST) {
		if (!x->found || s < x->gap)
			x->found = true, x->at = at, x->gap = s;
		return 0;
	}
	x->found = true, x->at = at, x->gap = s;
	return 1;   /* first and next fit stop at the first fit */
}

/* Where the model would place size bytes under c with policy pol. */
static bool rp_place(const struct rp_model *m, uint64_t size, const struct vmem_constraint *c,
		     enum rp_policy pol, svmm_va_t *at)
{
	struct rp_search x = { .m = m, .size = size, .c = c, .pol = pol };
	if (pol == RP_NEXT) {
		x.after_rover = true;
		rp_gaps(m, rp_search_cb, &x);
		x.after_rover = false;
	}
	if (!x.found)
		rp_gaps(m, rp_search_cb, &x);
	if (x.found)
		*at = x.at;
	return x.found;
}

static void rp_model_alloc(struct rp_model *m, svmm_va_t a, uint64_t s, struct vmem_region *r,
			   uint64_t key)
{
	rp_insert(&m->allocs, (struct rp_iv){ a, s, r, key });
	m->used_bytes += s;
	m->rover = a + s;
}

struct rp_gapstat {
	uint64_t n, largest;
};

static int rp_gapstat_cb(void *ctx, svmm_va_t a, uint64_t s)
{
	struct rp_gapstat *g = ctx;
	(void)a;
	g->n++;
	if (s > g->largest)
		g->largest = s;
	return 0;
}

/* The model's version of vmem_stats' main fields. */
static void rp_model_stats(const struct rp_model *m, struct vmem_stats *st)
{
	struct rp_gapstat g = { 0, 0 };
	rp_gaps(m, rp_gapstat_cb, &g);
	memset(st, 0, sizeof(*st));
	st->free_bytes = m->span_bytes - m->used_bytes;
	st->used_bytes = m->used_bytes;
	st->free_regions = g.n;
	st->used_regions = m->allocs.n;
	st->largest_free = g.largest;
	st->span_bytes = m->span_bytes;
}

static void rp_model_add_span(struct rp_model *m, svmm_va_t a, uint64_t s)
{
	rp_insert(&m->spans, (struct rp_iv){ a, s, NULL, 0 });
	m->span_bytes += s;
	/* Merge spans that touch, as vmem does: it keeps no span boundaries. */
	for (size_t i = 0; i + 1 < m->spans.n;) {
		struct rp_iv *x = &m->spans.v[i];
		if (x->a + x->s == m->spans.v[i + 1].a) {
			x->s += m->spans.v[i + 1].s;
			rp_remove(&m->spans, i + 1);
		} else {
			i++;
		}
	}
}

static void rp_model_fini(struct rp_model *m)
{
	free(m->spans.v);
	free(m->allocs.v);
	memset(m, 0, sizeof(*m));
}

/* Argument errors, which vmem reports before it looks at the arena. */
static bool rp_is_arg_error(int e)
{
	return e == SVMM_EINVAL || e == SVMM_EZEROSIZE || e == SVMM_EUNALIGNED ||
	       e == SVMM_EOVERFLOW || e == SVMM_EALIGN;
}

/* ------------------------------------------------------------------ replay */

struct rp_arena {
	char name[RP_NAME_MAX];
	bool live;
	struct vmem *vm;
	struct rp_model m;
	uint64_t ops, failures;
};

struct replay {
	/* options */
	uint64_t check_every;   /* vmem_check every N operations (0: only at the end) */
	bool ref;               /* check against the model */
	/* state */
	struct rp_arena arena[RP_MAX_ARENAS];
	unsigned narenas;
	uint64_t line, ops, checks, ignored;
	uint64_t pages_live;
	char msg[512];
};

static int rp_page_alloc(void *ctx, void **page)
{
	struct replay *rp = ctx;
	void *p = NULL;
	if (posix_memalign(&p, VMEM_POOL_PAGE, VMEM_POOL_PAGE) != 0)
		return SVMM_ENOMEM;
	rp->pages_live++;
	*page = p;
	return 0;
}

static void rp_page_free(void *ctx, void *page)
{
	struct replay *rp = ctx;
	rp->pages_live--;
	free(page);
}

static RP_UNUSED void rp_init(struct replay *rp)
{
	memset(rp, 0, sizeof(*rp));
	rp->check_every = 1000;
	rp->ref = true;
}

__attribute__((format(printf, 2, 3)))
static int rp_fail(struct replay *rp, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(rp->msg, sizeof(rp->msg), "line %" PRIu64 ": ", rp->line);
	va_start(ap, fmt);
	vsnprintf(rp->msg + n, sizeof(rp->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static struct rp_arena *rp_arena(struct replay *rp, const char *name, bool create)
{
	for (unsigned i = 0; i < rp->narenas; i++)
		if (strcmp(rp->arena[i].name, name) == 0)
			return &rp->arena[i];
	if (!create || rp->narenas == RP_MAX_ARENAS)
		return NULL;
	struct rp_arena *a = &rp->arena[rp->narenas++];
	memset(a, 0, sizeof(*a));
	snprintf(a->name, sizeof(a->name), "%s", name);
	return a;
}

static const char *rp_en(int e)
{
	static char b[4][24];
	static unsigned k;
	k = (k + 1) % 4;
	return vmem_trace_errname(e, b[k], sizeof(b[k]));
}

struct rp_gapfind {
	svmm_va_t at;
	uint64_t size;   /* of the gap starting at at; 0 if no gap starts there */
};

static int rp_gapfind_cb(void *ctx, svmm_va_t a, uint64_t s)
{
	struct rp_gapfind *g = ctx;
	if (a != g->at)
		return 0;
	g->size = s;
	return 1;
}

/*
 * Best fit's tie among equal sizes: regions of up to VMEM_BUCKETS quanta are kept per
 * size, most recently freed first (docs/vmem.md), so vmem may take another region of
 * the same small size than the lowest-addressed one the model finds. Both must start a
 * gap, of one size.
 */
static bool rp_same_small_gap(const struct rp_model *m, svmm_va_t want, svmm_va_t at)
{
	struct rp_gapfind w = { want, 0 }, g = { at, 0 };
	rp_gaps(m, rp_gapfind_cb, &w);
	rp_gaps(m, rp_gapfind_cb, &g);
	return g.size != 0 && g.size == w.size && g.size <= VMEM_BUCKETS * m->quantum;
}

/* The model's verdict on an allocation (plain when c == NULL) that returned err/at. */
static int rp_ref_alloc(struct replay *rp, struct rp_arena *A, uint64_t size,
			const struct vmem_constraint *c, bool plain, int err, svmm_va_t at)
{
	struct rp_model *m = &A->m;
	svmm_va_t want = 0;
	bool fits = size != 0 && size % m->quantum == 0 && rp_place(m, size, c, RP_BEST, &want);
	if (err == 0) {
		if (!rp_is_free(m, at, size))
			return rp_fail(rp, "allocation [0x%" PRIx64 ", +0x%" PRIx64 ") is not free space",
				       at, size);
		if (!rp_meets(m->quantum, at, size, c))
			return rp_fail(rp, "allocation at 0x%" PRIx64 " breaks its constraints", at);
		if (plain && fits && at != want && !rp_same_small_gap(m, want, at))
			return rp_fail(rp, "best fit puts 0x%" PRIx64 " bytes at 0x%" PRIx64
				       ", vmem at 0x%" PRIx64, size, want, at);
		return 0;
	}
	if (err == SVMM_ENOSPC && fits)
		return rp_fail(rp, "ENOSPC, but [0x%" PRIx64 ", +0x%" PRIx64 ") fits", want, size);
	if (err == SVMM_ENOSPC || err == SVMM_ENOMEM || rp_is_arg_error(err))
		return 0;
	return rp_fail(rp, "allocation failed with %s, which vmem_xalloc never returns",
		       rp_en(err));
}

static int rp_ref_fixed(struct replay *rp, struct rp_arena *A, svmm_va_t a, uint64_t s, int err)
{
	struct rp_model *m = &A->m;
	int want;
	if (s == 0 || a % m->quantum || s % m->quantum || a + s < a || a + s == 0)
		want = 1;   /* some argument error */
	else if (rp_is_free(m, a, s))
		want = 0;
	else if (rp_meets_alloc(m, a, s))
		want = SVMM_EBUSY;
	else
		want = SVMM_ERANGE;
	if (want == 1 ? !rp_is_arg_error(err) : (err != want && err != SVMM_ENOMEM))
		return rp_fail(rp, "fixed [0x%" PRIx64 ", +0x%" PRIx64 "): vmem says %s, model %s",
			       a, s, rp_en(err), want == 1 ? "an argument error" : rp_en(want));
	return 0;
}

static int rp_ref_free(struct replay *rp, struct rp_arena *A, svmm_va_t a, uint64_t s, int err,
		       size_t *idx)
{
	struct rp_model *m = &A->m;
	int want;
	size_t i = rp_floor(&m->allocs, a);
	*idx = (size_t)-1;
	if (a % m->quantum || s % m->quantum)
		want = SVMM_EUNALIGNED;
	else if (i == (size_t)-1 || m->allocs.v[i].a != a)
		want = rp_is_free(m, a, m->quantum) ? SVMM_EDOUBLEFREE : SVMM_ENOENT;
	else if (s != 0 && s != m->allocs.v[i].s)
		want = SVMM_ESIZE;
	else
		want = 0, *idx = i;
	if (err != want && !(err == SVMM_ENOMEM && want == 0))
		return rp_fail(rp, "free 0x%" PRIx64 " 0x%" PRIx64 ": vmem says %s, model %s", a, s,
			       rp_en(err), rp_en(want));
	return 0;
}

static int rp_compare_stats(struct replay *rp, const char *who, const struct vmem_stats *x,
			    const struct vmem_stats *y)
{
	if (x->free_bytes != y->free_bytes || x->used_bytes != y->used_bytes ||
	    x->free_regions != y->free_regions || x->used_regions != y->used_regions ||
	    x->largest_free != y->largest_free)
		return rp_fail(rp, "state differs from %s: free 0x%" PRIx64 "/0x%" PRIx64
			       " used 0x%" PRIx64 "/0x%" PRIx64 " free regions %" PRIu64 "/%" PRIu64
			       " used regions %" PRIu64 "/%" PRIu64 " largest 0x%" PRIx64 "/0x%" PRIx64,
			       who, x->free_bytes, y->free_bytes, x->used_bytes, y->used_bytes,
			       x->free_regions, y->free_regions, x->used_regions, y->used_regions,
			       x->largest_free, y->largest_free);
	return 0;
}

/* Keep the line vmem_check prints, for the failure message. */
static void rp_keep_line(void *ctx, const char *line)
{
	snprintf((char *)ctx, 256, "%s", line);
}

static int rp_vmem_check(struct replay *rp, struct rp_arena *A)
{
	char why[256] = "?";
	rp->checks++;
	if (vmem_check(A->vm, rp_keep_line, why) != 0)
		return rp_fail(rp, "vmem_check of arena %s: %s", A->name, why);
	return 0;
}

static int rp_result(struct replay *rp, const struct rp_line *l, int got)
{
	if (got != l->op.err)
		return rp_fail(rp, "%s: recorded %s, replay got %s", l->arena, rp_en(l->op.err),
			       rp_en(got));
	return 0;
}

/* Replay one parsed line. Returns 0, or -1 with rp->msg saying why. */
static int rp_apply(struct replay *rp, const struct rp_line *l)
{
	const struct vmem_trace_op *op = &l->op;
	struct rp_arena *A;
	int err;

	if (l->kind == 0) {
		if (l->version != VMEM_TRACE_VERSION)
			return rp_fail(rp, "trace version %u, this tool reads %d", l->version,
				       VMEM_TRACE_VERSION);
		return 0;
	}
	A = rp_arena(rp, l->arena, l->kind == VMEM_TRACE_INIT);
	if (A == NULL)
		return rp_fail(rp, "arena %s used before init (or too many arenas)", l->arena);
	if (l->kind != VMEM_TRACE_INIT && !A->live)
		return rp_fail(rp, "arena %s used after destroy or failed init", l->arena);
	rp->ops++;
	A->ops++;

	switch (l->kind) {
	case VMEM_TRACE_INIT: {
		if (A->live)
			return rp_fail(rp, "init of arena %s, which is live", l->arena);
		static const struct vmem_page_source src0 = { rp_page_alloc, rp_page_free, NULL };
		struct vmem_page_source src = src0;
		src.ctx = rp;
		A->vm = calloc(1, sizeof(*A->vm));
		if (A->vm == NULL)
			return rp_fail(rp, "out of memory");
		err = vmem_init(A->vm, op->addr, op->size, op->quantum, op->has_src ? &src : NULL);
		/* Whatever was recorded, the arena is live exactly when this init succeeded. */
		if (err != 0) {
			free(A->vm);
			A->vm = NULL;
		} else {
			A->live = true;
			rp_model_fini(&A->m);
			A->m.quantum = op->quantum;
			if (op->size)
				rp_model_add_span(&A->m, op->addr, op->size);
		}
		return rp_result(rp, l, err);
	}
	case VMEM_TRACE_ADD: {
		bool overlap = false;
		for (size_t i = 0; i < A->m.spans.n; i++)
			overlap |= rp_overlap(op->addr, op->size, A->m.spans.v[i].a,
					      A->m.spans.v[i].s);
		err = vmem_add(A->vm, op->addr, op->size);
		if (err == 0)
			rp_model_add_span(&A->m, op->addr, op->size);
		if (rp_result(rp, l, err))
			return -1;
		if (rp->ref && err == 0 && overlap)
			return rp_fail(rp, "add of a span that overlaps the arena succeeded");
		if (rp->ref && err == SVMM_EOVERLAP && !overlap)
			return rp_fail(rp, "EOVERLAP for a span that overlaps nothing");
		break;
	}
	case VMEM_TRACE_ALLOC:
	case VMEM_TRACE_XALLOC:
	case VMEM_TRACE_FIXED: {
		struct vmem_region *r = malloc(sizeof(*r));
		svmm_va_t at = 0;
		uint64_t size = op->size;
		if (r == NULL)
			return rp_fail(rp, "out of memory");
		if (l->kind == VMEM_TRACE_ALLOC)
			err = vmem_alloc(A->vm, size, r, &at);
		else if (l->kind == VMEM_TRACE_XALLOC)
			err = vmem_xalloc(A->vm, size, &op->c, r, &at);
		else
			err = vmem_alloc_fixed(A->vm, at = op->addr, size, r);
		if (err != 0) {
			free(r);
			r = NULL;
		}
		/*
		 * The model is checked against the state before this call, so a success is
		 * entered into it only afterwards; until then vmem owns r, and every exit
		 * below enters it first so that rp_fini can give it back.
		 */
		int bad = rp_result(rp, l, err);
		if (!bad && err == 0 && l->kind != VMEM_TRACE_FIXED && at != op->result)
			bad = rp_fail(rp, "%s: recorded address 0x%" PRIx64 ", replay got 0x%" PRIx64,
				      l->arena, op->result, at);
		if (err == SVMM_ENOSPC)
			A->failures++;
		if (!bad && rp->ref)
			bad = l->kind == VMEM_TRACE_FIXED
				      ? rp_ref_fixed(rp, A, at, size, err)
				      : rp_ref_alloc(rp, A, size,
						     l->kind == VMEM_TRACE_XALLOC ? &op->c : NULL,
						     l->kind == VMEM_TRACE_ALLOC, err, at);
		if (err == 0)
			rp_model_alloc(&A->m, at, size, r, 0);
		if (bad)
			return -1;
		break;
	}
	case VMEM_TRACE_FREE: {
		struct vmem_region *r = NULL;
		size_t idx = (size_t)-1;
		err = vmem_free(A->vm, op->addr, op->size, &r);
		int bad = rp_result(rp, l, err);
		if (!bad && rp->ref)
			bad = rp_ref_free(rp, A, op->addr, op->size, err, &idx);
		if (err == 0) {
			/* The region is back from vmem: out of the model, whatever else holds. */
			idx = rp_floor(&A->m.allocs, op->addr);
			if (idx == (size_t)-1 || A->m.allocs.v[idx].a != op->addr) {
				free(r);
				return rp_fail(rp, "freed an allocation the replay never made");
			}
			if (A->m.allocs.v[idx].r != r && !bad)
				bad = rp_fail(rp, "vmem_free returned another region than allocated there");
			A->m.used_bytes -= A->m.allocs.v[idx].s;
			free(A->m.allocs.v[idx].r);
			rp_remove(&A->m.allocs, idx);
		}
		if (bad)
			return -1;
		break;
	}
	case VMEM_TRACE_DESTROY:
		if (rp->ref && (op->err == SVMM_ELIVE) != (A->m.allocs.n != 0))
			return rp_fail(rp, "destroy recorded %s with %zu allocations live",
				       rp_en(op->err), A->m.allocs.n);
		if (rp_vmem_check(rp, A))
			return -1;
		err = vmem_destroy(A->vm);
		if (err == 0) {
			free(A->vm);
			A->vm = NULL;
			A->live = false;
			rp_model_fini(&A->m);
		}
		return rp_result(rp, l, err);
	case VMEM_TRACE_STATE: {
		struct vmem_stats st, ms;
		vmem_stats(A->vm, &st);
		if (rp_compare_stats(rp, "the recorded checkpoint", &st, &op->st))
			return -1;
		if (rp->ref) {
			rp_model_stats(&A->m, &ms);
			if (rp_compare_stats(rp, "the model", &st, &ms))
				return -1;
		}
		return 0;
	}
	}
	if (rp->check_every && A->ops % rp->check_every == 0)
		return rp_vmem_check(rp, A);
	return 0;
}

/*
 * Replay one line of text. Returns 0 (replayed or not a trace line) or -1 with
 * rp->msg saying why (malformed line, divergence, model disagreement, check failure).
 */
static RP_UNUSED int rp_replay_line(struct replay *rp, const char *text)
{
	struct rp_line l;
	rp->line++;
	int r = rp_parse(text, &l);
	if (r > 0) {
		rp->ignored++;
		return 0;
	}
	if (r < 0)
		return rp_fail(rp, "malformed trace line: %.200s", text);
	return rp_apply(rp, &l);
}

/* Final checks of every live arena; 0 or -1. */
static RP_UNUSED int rp_finish(struct replay *rp)
{
	for (unsigned i = 0; i < rp->narenas; i++) {
		struct rp_arena *A = &rp->arena[i];
		if (!A->live)
			continue;
		if (rp_vmem_check(rp, A))
			return -1;
		if (rp->ref) {
			struct vmem_stats st, ms;
			vmem_stats(A->vm, &st);
			rp_model_stats(&A->m, &ms);
			if (rp_compare_stats(rp, "the model at the end", &st, &ms))
				return -1;
		}
	}
	return 0;
}

/* Free every arena (their live regions first) and every pool page. */
static RP_UNUSED void rp_fini(struct replay *rp)
{
	for (unsigned i = 0; i < rp->narenas; i++) {
		struct rp_arena *A = &rp->arena[i];
		if (A->live) {
			/*
			 * An arena without a page source may refuse a free that opens a new
			 * hole (ENOMEM); one next to free space always succeeds, so passes that
			 * skip the refused ones make progress.
			 */
			size_t left = A->m.allocs.n, before;
			do {
				before = left;
				for (size_t k = 0; k < A->m.allocs.n; k++) {
					struct vmem_region *r = NULL;
					if (A->m.allocs.v[k].r == NULL ||
					    vmem_free(A->vm, A->m.allocs.v[k].a, 0, &r) != 0)
						continue;
					free(r);
					A->m.allocs.v[k].r = NULL;
					left--;
				}
			} while (left > 0 && left < before);
			for (size_t k = 0; k < A->m.allocs.n; k++)
				free(A->m.allocs.v[k].r);   /* only if vmem kept refusing */
			vmem_destroy(A->vm);
			free(A->vm);
		}
		rp_model_fini(&A->m);
	}
	rp->narenas = 0;
}

/* ------------------------------------------------------------------ policies */

/* Requests of one arena, as the program made them, for replay under a policy. */
struct rp_policy_result {
	uint64_t allocs, failures, free_regions, largest_free, free_bytes;
};

struct rp_policy_run {
	enum rp_policy pol;
	char arena[RP_NAME_MAX];
	struct rp_model m;
	struct rp_vec ids;       /* recorded address -> key of the live policy allocation */
	uint64_t next_key;
	struct rp_policy_result res;
	bool started;
};

/* Feed one parsed line of the arena to a policy run. */
static RP_UNUSED void rp_policy_line(struct rp_policy_run *p, const struct rp_line *l)
{
	const struct vmem_trace_op *op = &l->op;
	if (l->kind == 0 || strcmp(l->arena, p->arena) != 0)
		return;
	switch (l->kind) {
	case VMEM_TRACE_INIT:
		if (op->err != 0)
			return;
		rp_model_fini(&p->m);
		free(p->ids.v);
		memset(&p->ids, 0, sizeof(p->ids));
		memset(&p->res, 0, sizeof(p->res));
		p->m.quantum = op->quantum;
		if (op->size)
			rp_model_add_span(&p->m, op->addr, op->size);
		p->started = true;
		return;
	case VMEM_TRACE_ADD:
		if (op->err == 0 && p->started)
			rp_model_add_span(&p->m, op->addr, op->size);
		return;
	case VMEM_TRACE_ALLOC:
	case VMEM_TRACE_XALLOC:
	case VMEM_TRACE_FIXED: {
		/* Requests the program made successfully or that ran out of space. */
		if (!p->started || (op->err != 0 && op->err != SVMM_ENOSPC && op->err != SVMM_EBUSY))
			return;
		svmm_va_t at;
		bool ok;
		if (l->kind == VMEM_TRACE_FIXED) {
			at = op->addr;
			ok = rp_is_free(&p->m, at, op->size);
		} else {
			ok = rp_place(&p->m, op->size, l->kind == VMEM_TRACE_XALLOC ? &op->c : NULL,
				      p->pol, &at);
		}
		p->res.allocs++;
		if (!ok) {
			p->res.failures++;
			return;
		}
		uint64_t key = ++p->next_key;
		rp_model_alloc(&p->m, at, op->size, NULL, key);
		if (op->err == 0) {
			svmm_va_t rec = l->kind == VMEM_TRACE_FIXED ? op->addr : op->result;
			rp_insert(&p->ids, (struct rp_iv){ rec, op->size, NULL, key });
		}
		return;
	}
	case VMEM_TRACE_FREE: {
		if (!p->started || op->err != 0)
			return;
		size_t i = rp_floor(&p->ids, op->addr);
		if (i == (size_t)-1 || p->ids.v[i].a != op->addr)
			return;   /* the policy never got this one */
		uint64_t key = p->ids.v[i].key;
		rp_remove(&p->ids, i);
		for (size_t k = 0; k < p->m.allocs.n; k++)
			if (p->m.allocs.v[k].key == key) {
				p->m.used_bytes -= p->m.allocs.v[k].s;
				rp_remove(&p->m.allocs, k);
				break;
			}
		return;
	}
	default:
		return;
	}
}

/* What a policy run leaves behind; the run's memory is released. */
static RP_UNUSED struct rp_policy_result rp_policy_done(struct rp_policy_run *p)
{
	struct vmem_stats st;
	rp_model_stats(&p->m, &st);
	p->res.free_regions = st.free_regions;
	p->res.largest_free = st.largest_free;
	p->res.free_bytes = st.free_bytes;
	rp_model_fini(&p->m);
	free(p->ids.v);
	memset(&p->ids, 0, sizeof(p->ids));
	return p->res;
}

static RP_UNUSED const char *rp_policy_name(enum rp_policy p)
{
	return p == RP_BEST ? "best-fit" : p == RP_FIRST ? "first-fit" : "next-fit";
}

#endif /* SVMM_VMEM_REPLAY_H */
