/*
 * test_pt_prop.c - property test of the page tables against a reference model.
 *
 * In each mode, 100,000 random map / unmap / protect calls (sizes mostly a few pages,
 * some of 2 MiB multiples and some of 1 GiB; addresses around a root-slot boundary
 * so that every level is exercised) run against the tables and against a reference: a
 * sorted array of runs [va, va + size) -> pa, permissions. After each call:
 *  - the return code is the one the reference predicts (EEXIST, ENOENT or 0);
 *  - translation agrees with the reference at the call's edges and at random pages,
 *    through pt_translate (MMU semantics) and through a model TLB;
 *  - no translation cached in the model TLB disagrees with the tables (flushes);
 *  - the pt's table count equals the frames the host port has handed out.
 * Every 500 calls and at the end, the whole window is compared leaf by leaf with the
 * reference, the number of tables is recomputed from the leaves (so an empty table
 * left behind is caught), and pt_check runs.
 * The seed is printed; SVMM_SEED=<n> replays a run, SVMM_PT_OPS=<n> changes the count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <svmm/pt.h>
#include "hostsim.h"
#include "pt_testutil.h"
#include "tlb_model.h"

#define PAGE SVMM_PAGE_SIZE
/* The window the calls fall in; set per run. */
static uint64_t WINDOW = 4 * SVMM_GiB;

struct run {
	svmm_va_t va;
	uint64_t size;
	svmm_pa_t pa;
	unsigned perm;     /* PT_R.. and PT_IO */
};

static struct run *runs;
static size_t nruns, cap;

static void ref_reset(void)
{
	nruns = 0;
}

/* First run whose end lies above va. */
static size_t ref_first(svmm_va_t va)
{
	size_t lo = 0, hi = nruns;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (runs[mid].va + runs[mid].size <= va)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void ref_insert_at(size_t i, struct run r)
{
	if (nruns == cap) {
		cap = cap ? cap * 2 : 1024;
		runs = realloc(runs, cap * sizeof(*runs));
		assert_non_null(runs);
	}
	memmove(&runs[i + 1], &runs[i], (nruns - i) * sizeof(*runs));
	runs[i] = r;
	nruns++;
}

static void ref_delete_at(size_t i)
{
	memmove(&runs[i], &runs[i + 1], (nruns - i - 1) * sizeof(*runs));
	nruns--;
}

/* Split the run holding x so that a run starts at x. */
static void ref_split_at(svmm_va_t x)
{
	size_t i = ref_first(x);
	if (i < nruns && runs[i].va < x) {
		struct run r = runs[i];
		uint64_t left = x - r.va;
		runs[i].size = left;
		ref_insert_at(i + 1, (struct run){ x, r.size - left, r.pa + left, r.perm });
	}
}

static void ref_remove(svmm_va_t va, uint64_t size)
{
	ref_split_at(va);
	ref_split_at(va + size);
	size_t i = ref_first(va);
	while (i < nruns && runs[i].va < va + size)
		ref_delete_at(i);
}

static void ref_map(svmm_va_t va, uint64_t size, svmm_pa_t pa, unsigned perm)
{
	ref_remove(va, size);
	ref_insert_at(ref_first(va), (struct run){ va, size, pa, perm });
}

static void ref_protect(svmm_va_t va, uint64_t size, unsigned perm)
{
	ref_split_at(va);
	ref_split_at(va + size);
	for (size_t i = ref_first(va); i < nruns && runs[i].va < va + size; i++)
		runs[i].perm = (runs[i].perm & PT_IO) | perm;
}

/* pt_protect by masks: each run gets (perm & ~clear) | set. */
static void ref_protect_masks(svmm_va_t va, uint64_t size, unsigned set, unsigned clear)
{
	ref_split_at(va);
	ref_split_at(va + size);
	for (size_t i = ref_first(va); i < nruns && runs[i].va < va + size; i++)
		runs[i].perm = (runs[i].perm & ~clear) | set;
}

/* Bytes of [va, va + size) the reference has mapped. */
static uint64_t ref_mapped_bytes(svmm_va_t va, uint64_t size)
{
	uint64_t n = 0;
	svmm_va_t end = va + size;
	for (size_t i = ref_first(va); i < nruns && runs[i].va < end; i++) {
		svmm_va_t s = runs[i].va > va ? runs[i].va : va;
		svmm_va_t e = runs[i].va + runs[i].size < end ? runs[i].va + runs[i].size : end;
		n += e - s;
	}
	return n;
}

static const struct run *ref_lookup(svmm_va_t va)
{
	size_t i = ref_first(va);
	if (i < nruns && runs[i].va <= va)
		return &runs[i];
	return NULL;
}

/* ---- checks ---- */

static struct tlb_model tlb;

/* Compare one address through pt_translate, the model TLB and the raw leaf. */
static void check_addr(const struct pt *pt, svmm_va_t va, uint64_t opno)
{
	const struct run *r = ref_lookup(va);
	svmm_pa_t pa = 0;
	uint64_t pte = 0;
	bool mapped = pt_lookup(pt, va, &pa, &pte);
	if (r == NULL) {
		if (mapped)
			fail_msg("op %llu: 0x%llx mapped, reference has nothing",
				 (unsigned long long)opno, (unsigned long long)va);
		assert_int_equal(pt_translate(pt, va, PT_R, PT_SUM | PT_MXR, NULL, NULL),
				 SVMM_EFAULT);
		return;
	}
	svmm_pa_t want = r->pa + (va - r->va);
	if (!mapped || pa != want)
		fail_msg("op %llu: 0x%llx -> 0x%llx (%d), reference 0x%llx",
			 (unsigned long long)opno, (unsigned long long)va, (unsigned long long)pa,
			 mapped, (unsigned long long)want);
	unsigned perm = r->perm & PT_PERMS;
	if ((pte & SVMM_PTE_PERM_MASK) != perm || ((pte & SVMM_PTE_PBMT_MASK) != 0) != ((r->perm & PT_IO) != 0))
		fail_msg("op %llu: 0x%llx perms 0x%llx, reference 0x%x", (unsigned long long)opno,
			 (unsigned long long)va, (unsigned long long)pte, r->perm);
	/* The MMU's view: U pages from U-mode, others from S-mode. */
	unsigned priv = (perm & PT_U) ? PT_PRIV_U : 0;
	svmm_pa_t got;
	int err = pt_translate(pt, va, PT_R, priv | PT_MXR, &got, NULL);
	assert_int_equal(err, 0);
	assert_int_equal(got, want);
	err = pt_translate(pt, va, PT_W, priv, NULL, NULL);
	assert_int_equal(err, (perm & PT_W) ? 0 : SVMM_EFAULT);
	err = pt_translate(pt, va, PT_X, priv, NULL, NULL);
	assert_int_equal(err, (perm & PT_X) ? 0 : SVMM_EFAULT);
	/* Fill the model TLB, so that a later missing flush shows as a stale entry. */
	assert_int_equal(tlb_model_access(&tlb, pt, va, PT_R, priv | PT_MXR, &got), 0);
	assert_int_equal(got, want);
}

/* Leaf-by-leaf comparison of the window and the table count implied by the leaves. */
struct full_ctx {
	const struct pt *pt;
	size_t next;        /* reference run being consumed */
	uint64_t used;      /* bytes of it consumed */
	uint64_t opno;
	uint64_t *keys;     /* (level, table index) of every table a leaf needs */
	size_t nkeys, capkeys;
};

static void add_key(struct full_ctx *c, uint64_t key)
{
	if (c->nkeys == c->capkeys) {
		c->capkeys = c->capkeys ? 2 * c->capkeys : 1024;
		c->keys = realloc(c->keys, c->capkeys * sizeof(*c->keys));
		assert_non_null(c->keys);
	}
	c->keys[c->nkeys++] = key;
}

static int full_cb(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	struct full_ctx *c = ctx;
	/* The leaf must continue the reference exactly. */
	if (c->next >= nruns)
		fail_msg("op %llu: extra leaf at 0x%llx", (unsigned long long)c->opno,
			 (unsigned long long)va);
	/*
	 * The leaf may cover several runs of the reference: a protect that changes
	 * nothing leaves a huge page whole, while the reference records a new run.
	 */
	for (uint64_t left = size, off = 0; left != 0; ) {
		if (c->next >= nruns)
			fail_msg("op %llu: extra leaf at 0x%llx", (unsigned long long)c->opno,
				 (unsigned long long)(va + off));
		const struct run *r = &runs[c->next];
		uint64_t take = r->size - c->used < left ? r->size - c->used : left;
		if (va + off != r->va + c->used || pa + off != r->pa + c->used ||
		    (pte & SVMM_PTE_PERM_MASK) != (r->perm & PT_PERMS))
			fail_msg("op %llu: leaf 0x%llx+0x%llx -> 0x%llx disagrees with run "
				 "0x%llx+0x%llx", (unsigned long long)c->opno,
				 (unsigned long long)va, (unsigned long long)size,
				 (unsigned long long)pa, (unsigned long long)r->va,
				 (unsigned long long)r->size);
		c->used += take;
		off += take;
		left -= take;
		if (c->used == r->size) {
			c->next++;
			c->used = 0;
		}
	}
	/* Which page size is this leaf? Walks report whole leaves inside the window. */
	unsigned leaf_level = 0;
	if (!(pte & SVMM_PTE_N))
		while (pt_level_size(leaf_level) < size)
			leaf_level++;
	/* Tables at levels leaf_level .. top-1 are needed above it (the root is counted apart). */
	unsigned top_table = c->pt->kernel ? c->pt->levels - 2 : c->pt->levels - 1;
	for (unsigned l = leaf_level; l < top_table; l++) {
		uint64_t idx = (va & (svmm_user_end(c->pt->mode) * 2 - 1)) >>
			       (SVMM_PAGE_SHIFT + 9 * (l + 1));
		add_key(c, ((uint64_t)l << 58) | idx);
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void check_full(const struct pt *pt, svmm_va_t wbase, uint64_t opno)
{
	struct full_ctx c = { .pt = pt, .opno = opno };
	assert_int_equal(pt_walk(pt, wbase, WINDOW, full_cb, &c), 0);
	if (c.next != nruns)
		fail_msg("op %llu: reference run at 0x%llx has no leaves", (unsigned long long)opno,
			 (unsigned long long)runs[c.next].va);
	qsort(c.keys, c.nkeys, sizeof(*c.keys), cmp_u64);
	/* The root, and for a kernel pt its 256 slot tables, empty or not. */
	uint64_t tables = pt->kernel ? 257 : 1;
	for (size_t i = 0; i < c.nkeys; i++)
		if (i == 0 || c.keys[i] != c.keys[i - 1])
			tables++;
	if (tables != pt->tables)
		fail_msg("op %llu: %llu tables, the leaves need %llu", (unsigned long long)opno,
			 (unsigned long long)pt->tables, (unsigned long long)tables);
	free(c.keys);
	assert_int_equal(pt_check(pt, NULL, NULL), 0);
}

/* ---- the random calls ---- */

static const unsigned perms[] = {
	PT_R, PT_R | PT_W, PT_R | PT_X, PT_R | PT_W | PT_X, PT_X,
	PT_R | PT_U, PT_R | PT_W | PT_U, PT_R | PT_X | PT_U,
};

static uint64_t pick_size(uint64_t *s)
{
	uint64_t r = pt_test_rand(s) % 100;
	if (r < 80)
		return (1 + pt_test_rand(s) % 16) * PAGE;
	if (r < 97)
		return (1 + pt_test_rand(s) % 3) * 2 * SVMM_MiB +
		       (pt_test_rand(s) % 2 ? (pt_test_rand(s) % 8) * PAGE : 0);
	return SVMM_GiB + (pt_test_rand(s) % 2 ? (pt_test_rand(s) % 4) * PAGE : 0);
}

struct leaves_ctx {
	uint64_t bytes;
	uint64_t opno;
};

/* pt_unmap_leaves's callback: the leaf must be the reference's, exactly. */
static void leaves_cb(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	struct leaves_ctx *c = ctx;
	/* A huge leaf may span runs that a no-op protect made in the reference only. */
	bool ok = true;
	for (uint64_t off = 0; ok && off < size; ) {
		const struct run *r = ref_lookup(va + off);
		ok = r != NULL && pa + off == r->pa + (va + off - r->va) &&
		     (pte & SVMM_PTE_PERM_MASK) == (r->perm & PT_PERMS);
		if (ok)
			off = r->va + r->size - va;
	}
	if (!ok)
		fail_msg("op %llu: unmap_leaves reported 0x%llx+0x%llx -> 0x%llx, not the "
			 "reference's", (unsigned long long)c->opno, (unsigned long long)va,
			 (unsigned long long)size, (unsigned long long)pa);
	c->bytes += size;
}

static void run_mode(enum svmm_mode md, uint64_t seed, uint64_t nops, bool kernel)
{
	assert_int_equal(hostsim_ram_init(0x80000000ull, 512 * SVMM_MiB), 0);
	tlb_model_init(&tlb, seed);
	ref_reset();
	struct pt pt;
	uint64_t slot = svmm_slot_size(md);
	svmm_va_t wbase;
	if (kernel) {
		/*
		 * Across the last direct-map slot into slot 511, stopping short of 2^64 so
		 * that the reference's arithmetic never wraps.
		 */
		assert_int_equal(pt_init_kernel(&pt, md), 0);
		wbase = svmm_kio_base(md) - 3 * SVMM_GiB;
		WINDOW = 3 * SVMM_GiB + 512 * SVMM_MiB;
	} else {
		assert_int_equal(pt_init(&pt, md, 9), 0);
		wbase = slot >= 2 * SVMM_GiB ? slot - 2 * SVMM_GiB : 0;
		WINDOW = 4 * SVMM_GiB;
	}
	uint64_t s = seed;
	uint64_t counts[3] = { 0 };
	for (uint64_t op = 1; op <= nops; op++) {
		uint64_t size = pick_size(&s);
		if (size > WINDOW)
			size = WINDOW;
		/* Aligned starts now and then, so that huge pages get a chance. */
		uint64_t align = PAGE;
		uint64_t a = pt_test_rand(&s) % 10;
		if (a < 2)
			align = 2 * SVMM_MiB;
		else if (a < 3)
			align = SVMM_GiB;
		svmm_va_t va = wbase + SVMM_ALIGN_DOWN(pt_test_rand(&s) % (WINDOW - size + 1), align);
		unsigned kind = (unsigned)(pt_test_rand(&s) % 100);
		int err, want;
		if (kind < 45) {
			/* pa congruent with va modulo 1 GiB most of the time. */
			svmm_pa_t pa = 0x100000000ull + (va - wbase);
			uint64_t skew = pt_test_rand(&s) % 10;
			if (skew == 0)
				pa += (1 + pt_test_rand(&s) % 511) * PAGE;
			else if (skew == 1)
				pa += (1 + pt_test_rand(&s) % 511) * 2 * SVMM_MiB;
			unsigned perm = perms[pt_test_rand(&s) % 8];
			if (kernel && pt_test_rand(&s) % 2)
				perm |= PT_G;
			unsigned flags = perm;
			if (pt_test_rand(&s) % 3 == 0)
				flags |= PT_REPLACE;
			if (pt_test_rand(&s) % 10 == 0)
				flags |= PT_NAPOT;
			if (pt_test_rand(&s) % 20 == 0)
				flags |= PT_IO;
			bool overlap = ref_mapped_bytes(va, size) != 0;
			want = overlap && !(flags & PT_REPLACE) ? SVMM_EEXIST : 0;
			err = pt_map(&pt, va, pa, size, flags);
			if (err == 0)
				ref_map(va, size, pa, perm | (flags & PT_IO));
			counts[0]++;
		} else if (kind < 80) {
			unsigned flags = pt_test_rand(&s) % 2 ? PT_MISSING_OK : 0;
			bool full = ref_mapped_bytes(va, size) == size;
			want = !full && !(flags & PT_MISSING_OK) ? SVMM_ENOENT : 0;
			if (pt_test_rand(&s) % 2) {
				err = pt_unmap(&pt, va, size, flags);
			} else {
				/* Every reported leaf is what the reference had there. */
				struct leaves_ctx lc = { 0, op };
				err = pt_unmap_leaves(&pt, va, size, flags, leaves_cb, &lc);
				if (err == 0 && lc.bytes != ref_mapped_bytes(va, size))
					fail_msg("op %llu: unmap_leaves reported 0x%llx bytes, "
						 "0x%llx were mapped", (unsigned long long)op,
						 (unsigned long long)lc.bytes,
						 (unsigned long long)ref_mapped_bytes(va, size));
			}
			if (err == 0)
				ref_remove(va, size);
			counts[1]++;
		} else {
			unsigned perm = perms[pt_test_rand(&s) % 8];
			if (kernel && pt_test_rand(&s) % 2)
				perm |= PT_G;
			unsigned flags = pt_test_rand(&s) % 2 ? PT_MISSING_OK : 0;
			bool full = ref_mapped_bytes(va, size) == size;
			want = !full && !(flags & PT_MISSING_OK) ? SVMM_ENOENT : 0;
			if (pt_test_rand(&s) % 2) {
				err = pt_protect(&pt, va, size, perm, PT_PERMS & ~perm, flags);
				if (err == 0)
					ref_protect(va, size, perm);
			} else {
				/* Masks that keep every leaf valid: R stays, W X U come and go. */
				unsigned set = PT_R | (unsigned)(pt_test_rand(&s) % 8) * PT_W;
				set &= PT_R | PT_W | PT_X | PT_U;
				unsigned clear = (unsigned)(pt_test_rand(&s) % 8) * PT_W;
				clear &= (PT_W | PT_X | PT_U) & ~set;
				err = pt_protect(&pt, va, size, set, clear, flags);
				if (err == 0)
					ref_protect_masks(va, size, set, clear);
			}
			counts[2]++;
		}
		if (err != want)
			fail_msg("%s op %llu (kind %u va 0x%llx size 0x%llx): got %s, want %s",
				 svmm_mode_name(md), (unsigned long long)op, kind,
				 (unsigned long long)va, (unsigned long long)size,
				 svmm_strerror(err), svmm_strerror(want));
		/* Nothing cached may disagree with the tables once a call has returned. */
		svmm_va_t stale_at = 0;
		if (tlb_model_stale(&tlb, &pt, &stale_at) != 0)
			fail_msg("%s op %llu: stale TLB entry at 0x%llx", svmm_mode_name(md),
				 (unsigned long long)op, (unsigned long long)stale_at);
		if (pt.tables != hostsim_tables_live())
			fail_msg("op %llu: pt says %llu tables, port %llu", (unsigned long long)op,
				 (unsigned long long)pt.tables,
				 (unsigned long long)hostsim_tables_live());
		check_addr(&pt, va, op);
		check_addr(&pt, va + size - PAGE, op);
		if (va > wbase)
			check_addr(&pt, va - PAGE, op);
		if (va + size < wbase + WINDOW)
			check_addr(&pt, va + size, op);
		for (int k = 0; k < 3; k++)
			check_addr(&pt, wbase + SVMM_ALIGN_DOWN(pt_test_rand(&s) % WINDOW, PAGE), op);
		if (op % 500 == 0 || op == nops)
			check_full(&pt, wbase, op);
	}
	printf("%s%s: %llu maps, %llu unmaps, %llu protects; %zu runs, %llu tables at the end; "
	       "TLB %llu fills, %llu drops\n", svmm_mode_name(md), kernel ? " kernel" : "",
	       (unsigned long long)counts[0], (unsigned long long)counts[1],
	       (unsigned long long)counts[2], nruns, (unsigned long long)pt.tables,
	       (unsigned long long)tlb.fills, (unsigned long long)tlb.drops);
	/* Unmapping the whole window leaves only what must always exist. */
	assert_int_equal(pt_unmap(&pt, wbase, WINDOW, PT_MISSING_OK), 0);
	assert_int_equal(pt.tables, kernel ? 257 : 1);
	assert_int_equal(tlb_model_stale(&tlb, &pt, NULL), 0);
	pt_destroy(&pt, pt_leaf_ignore, NULL);
	assert_int_equal(hostsim_tables_live(), 0);
	tlb_model_fini(&tlb);
	hostsim_ram_fini();
}

static uint64_t nops(void)
{
	const char *e = getenv("SVMM_PT_OPS");
	return e != NULL ? strtoull(e, NULL, 0) : 100000;
}

static void test_prop_sv39(void **state)
{
	(void)state;
	run_mode(SVMM_SV39, pt_test_seed("pt-prop sv39", 0x5eed39), nops(), false);
}

static void test_prop_sv48(void **state)
{
	(void)state;
	run_mode(SVMM_SV48, pt_test_seed("pt-prop sv48", 0x5eed48), nops(), false);
}

static void test_prop_sv57(void **state)
{
	(void)state;
	run_mode(SVMM_SV57, pt_test_seed("pt-prop sv57", 0x5eed57), nops(), false);
}

/* The kernel pt: kernel half, G mappings, slot tables that never go, global flushes. */
static void test_prop_kernel(void **state)
{
	(void)state;
	uint64_t n = nops() / 4;
	run_mode(SVMM_SV39, pt_test_seed("pt-prop kernel sv39", 0x6eed39), n, true);
	run_mode(SVMM_SV48, pt_test_seed("pt-prop kernel sv48", 0x6eed48), n, true);
	run_mode(SVMM_SV57, pt_test_seed("pt-prop kernel sv57", 0x6eed57), n, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prop_sv39),
		cmocka_unit_test(test_prop_sv48),
		cmocka_unit_test(test_prop_sv57),
		cmocka_unit_test(test_prop_kernel),
	};
	int r = cmocka_run_group_tests_name("pt-prop", tests, NULL, NULL);
	free(runs);
	return r;
}
