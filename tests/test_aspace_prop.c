/*
 * test_aspace_prop.c - random map/unmap/protect/fault sequences on several address
 * spaces at once, against a reference model that says, for every page of a window,
 * what it is (nothing, anonymous, physical), its permissions, whether it is resident
 * and what it holds. After every few steps the page tables are compared with the model
 * page by page and aspace_check runs. The seed is printed; SVMM_SEED=... replays it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "aspace_fixture.h"
#include "test_rand.h"

#define MiB    SVMM_MiB
#define PG     SVMM_PAGE_SIZE
#define NPAGES 256u
#define NAS    3u
#define WIN    ((svmm_va_t)0x20000000)

enum { M_NONE, M_ANON, M_PHYS };

struct mpage {
	uint8_t kind, prot;
	bool resident;
	bool charged;            /* mapped with ASPACE_COMMIT */
	uint32_t tag;            /* what the first word of a resident anonymous page holds */
};

struct model {
	struct aspace as;
	struct mpage page[NPAGES];
};

static struct model m[NAS];
static svmm_pa_t phys_base;       /* a block the phys mappings point into, owned by the test */
static uint32_t next_tag = 1;

static unsigned rnd_prot(void)
{
	static const unsigned p[] = { PT_R, PT_R | PT_W, PT_X, PT_R | PT_X };
	return p[rnd() % 4];
}

static void verify(struct model *md, uint64_t seed, unsigned step)
{
	struct aspace *as = &md->as;
	uint64_t resident = 0;
	for (unsigned i = 0; i < NPAGES; i++) {
		svmm_va_t va = WIN + i * PG;
		struct mpage *p = &md->page[i];
		svmm_pa_t pa;
		int err = pt_translate(&as->pt, va, PT_R, PT_PRIV_U | PT_MXR, &pa, NULL);
		bool mapped = p->kind == M_PHYS || (p->kind == M_ANON && p->resident);
		if (mapped != (err == 0))
			fail_msg("seed %#llx step %u: page %u mapped %d, model %d/%d",
				 (unsigned long long)seed, step, i, err == 0, p->kind, p->resident);
		if (!mapped)
			continue;
		if (p->kind == M_PHYS && pa != phys_base + i * PG)
			fail_msg("seed %#llx step %u: page %u maps a wrong frame",
				 (unsigned long long)seed, step, i);
		if (p->kind == M_ANON) {
			resident++;
			uint32_t v;
			memcpy(&v, port_pa_to_va(pa), sizeof(v));
			if (v != p->tag)
				fail_msg("seed %#llx step %u: page %u holds %u, model %u",
					 (unsigned long long)seed, step, i, v, p->tag);
		}
		static const unsigned acc[] = { PT_R, PT_W, PT_X };
		for (unsigned k = 0; k < 3; k++) {
			bool ok = pt_translate(&as->pt, va, acc[k], PT_PRIV_U, NULL, NULL) == 0;
			if (ok != ((p->prot & acc[k]) != 0))
				fail_msg("seed %#llx step %u: page %u access %u: pt %d, model prot %u",
					 (unsigned long long)seed, step, i, acc[k], ok, p->prot);
		}
	}
	assert_int_equal(as->resident, resident);
	/* Commit: charged pages by their number, the other anonymous pages when resident. */
	uint64_t committed = 0;
	for (unsigned i = 0; i < NPAGES; i++)
		committed += md->page[i].kind == M_ANON &&
			     (md->page[i].charged || md->page[i].resident);
	assert_int_equal(as->committed, committed + as->stack_pages);
	/*
	 * Regions are merged as far as they can be: an anonymous region never has an
	 * anonymous neighbour page with its permissions outside it (memory is plentiful
	 * here, so the best-effort merge always happens).
	 */
	for (struct aspace_region *r = aspace_region_first(as, WIN); r != NULL;
	     r = aspace_region_next(as, r)) {
		if (r->kind != ASPACE_ANON)
			continue;
		unsigned a = (unsigned)((r->node.addr - WIN) / PG);
		unsigned e = (unsigned)((r->node.addr + r->node.size - WIN) / PG);
		for (unsigned i = a; i < e; i++)
			if (md->page[i].kind != M_ANON || md->page[i].prot != r->prot ||
			    md->page[i].charged != r->commit)
				fail_msg("seed %#llx step %u: region holds page %u the model disagrees on",
					 (unsigned long long)seed, step, i);
		bool lo = a > 0 && md->page[a - 1].kind == M_ANON &&
			  md->page[a - 1].prot == r->prot && md->page[a - 1].charged == r->commit;
		bool hi = e < NPAGES && md->page[e].kind == M_ANON && md->page[e].prot == r->prot &&
			  md->page[e].charged == r->commit;
		if (lo || hi)
			fail_msg("seed %#llx step %u: region at page %u not merged with its neighbour",
				 (unsigned long long)seed, step, a);
	}
	if (aspace_check(as, fx_print, NULL) != 0)
		fail_msg("seed %#llx step %u: aspace_check failed", (unsigned long long)seed, step);
}

static void one_step(struct model *md)
{
	struct aspace *as = &md->as;
	unsigned p = (unsigned)(rnd() % NPAGES);
	unsigned n = 1 + (unsigned)(rnd() % 24);
	if (p + n > NPAGES)
		n = NPAGES - p;
	svmm_va_t va = WIN + p * PG, got;
	bool any = false, all = true;
	for (unsigned i = p; i < p + n; i++) {
		any |= md->page[i].kind != M_NONE;
		all &= md->page[i].kind != M_NONE;
	}
	unsigned op = (unsigned)(rnd() % 16);
	if (op < 3) {                                    /* map anonymous memory */
		unsigned prot = rnd_prot();
		bool charged = rnd() % 4 == 0;
		int err = aspace_map_anon(as, va, n * PG, prot,
					  ASPACE_FIXED | (charged ? ASPACE_COMMIT : 0), &got);
		assert_int_equal(err, any ? SVMM_EBUSY : 0);
		if (err == 0)
			for (unsigned i = p; i < p + n; i++)
				md->page[i] = (struct mpage){ M_ANON, (uint8_t)prot, false, charged, 0 };
	} else if (op < 4) {                             /* map physical memory */
		unsigned prot = rnd_prot();
		int err = aspace_map_phys(as, va, phys_base + p * PG, n * PG, prot, ASPACE_FIXED,
					  &got);
		assert_int_equal(err, any ? SVMM_EBUSY : 0);
		if (err == 0)
			for (unsigned i = p; i < p + n; i++)
				md->page[i] = (struct mpage){ M_PHYS, (uint8_t)prot, true, false, 0 };
	} else if (op < 6) {                             /* unmap */
		assert_int_equal(aspace_unmap(as, va, n * PG), 0);
		for (unsigned i = p; i < p + n; i++)
			md->page[i] = (struct mpage){ M_NONE, 0, false, false, 0 };
	} else if (op < 8) {                             /* protect */
		unsigned prot = rnd_prot();
		int err = aspace_protect(as, va, n * PG, prot);
		assert_int_equal(err, all ? 0 : SVMM_ENOENT);
		if (err == 0)
			for (unsigned i = p; i < p + n; i++)
				md->page[i].prot = (uint8_t)prot;
	} else if (op == 14) {                           /* the kernel copies into it */
		struct mpage *pg = &md->page[p];
		uint32_t tag = next_tag;
		/* At the page's first word (the model's tag), or past it. */
		svmm_va_t at = rnd() % 2 ? va : va + sizeof(tag) + rnd() % (PG - 2 * sizeof(tag) + 1);
		int want = pg->kind == M_NONE ? SVMM_EFAULT : !(pg->prot & PT_W) ? SVMM_EPERM : 0;
		uint64_t done = 1;
		assert_int_equal(aspace_copy_to(as, at, &tag, sizeof(tag), &done), want);
		assert_int_equal(done, want == 0 ? sizeof(tag) : 0);
		if (want == 0 && pg->kind == M_ANON && at == va) {
			pg->resident = true;
			pg->tag = next_tag++;
		} else if (want == 0 && pg->kind == M_ANON) {
			/* Written elsewhere in the page: the first word is what it was. */
			pg->resident = true;
		}
	} else if (op == 15) {                           /* the kernel copies out of it */
		struct mpage *pg = &md->page[p];
		uint32_t v = 0xdeadbeef;
		int want = pg->kind == M_NONE ? SVMM_EFAULT : !(pg->prot & PT_R) ? SVMM_EPERM : 0;
		uint64_t resident = as->resident;
		assert_int_equal(aspace_copy_from(as, &v, va, sizeof(v), NULL), want);
		assert_int_equal(as->resident, resident);       /* reading never faults in */
		if (want == 0 && pg->kind == M_ANON)
			assert_int_equal(v, pg->resident ? pg->tag : 0);
	} else {                                         /* a fault */
		static const unsigned acc[] = { PT_R, PT_W, PT_X };
		unsigned a = acc[rnd() % 3];
		struct mpage *pg = &md->page[p];
		int want = pg->kind == M_NONE ? SVMM_EFAULT :
			   (pg->prot & a) != a ? SVMM_EPERM : 0;
		assert_int_equal(aspace_fault(as, va + (rnd() % PG), a), want);
		if (want == 0 && pg->kind == M_ANON && !pg->resident) {
			/* Demand zero: the new page reads zero; then give it a tag. */
			svmm_pa_t pa;
			assert_int_equal(pt_translate(&as->pt, va, PT_R, PT_PRIV_U | PT_MXR, &pa,
						      NULL), 0);
			uint32_t v;
			memcpy(&v, port_pa_to_va(pa), sizeof(v));
			assert_int_equal(v, 0);
			pg->resident = true;
			pg->tag = next_tag++;
			memcpy(port_pa_to_va(pa), &pg->tag, sizeof(pg->tag));
		}
	}
}

static void run_model(enum svmm_mode mode, unsigned steps)
{
	const char *env = getenv("SVMM_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 0xa5ace5eedull;
	printf("test_aspace_prop: mode %d, SVMM_SEED=%#llx\n", (int)mode, (unsigned long long)seed);
	rng = seed ? seed : 1;
	assert_int_equal(fx_setup(64 * MiB, 0, mode, 4), 0);   /* 16 ASIDs */
	uint64_t free0 = pmem_free_frames(&fx.pm);
	assert_int_equal(pmem_alloc(&fx.pm, 8, PMEM_ANY, &phys_base), 0);   /* 1 MiB */
	for (unsigned k = 0; k < NAS; k++) {
		memset(m[k].page, 0, sizeof(m[k].page));
		assert_int_equal(aspace_create(&m[k].as, &fx.kpt, &fx.pm, NULL), 0);
	}
	for (unsigned step = 0; step < steps; step++) {
		struct model *md = &m[rnd() % NAS];
		one_step(md);
		if (step % 8 == 0)
			verify(md, seed, step);
		if (step % 64 == 0) {
			/* Switch, and now and then replace an address space with a new one. */
			bool flush;
			aspace_activate(&md->as, (unsigned)(rnd() % 2), &flush);
			if (rnd() % 32 == 0) {
				aspace_deactivate(&md->as, 0);
				aspace_deactivate(&md->as, 1);
				aspace_destroy(&md->as);
				memset(md->page, 0, sizeof(md->page));
				assert_int_equal(aspace_create(&md->as, &fx.kpt, &fx.pm, NULL), 0);
			}
		}
	}
	for (unsigned k = 0; k < NAS; k++) {
		verify(&m[k], seed, steps);
		printf("space %u: %llu regions, %llu resident, %llu faults\n", k,
		       (unsigned long long)m[k].as.nregions, (unsigned long long)m[k].as.resident,
		       (unsigned long long)m[k].as.faults);
		aspace_destroy(&m[k].as);
	}
	assert_int_equal(pmem_free(&fx.pm, phys_base, 8), 0);
	uint64_t committed;
	pmem_commit_stats(&fx.pm, &committed, NULL);
	assert_int_equal(committed, 0);
	/* Every frame came back: data, tables, region slabs, vmem pool pages. */
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
	assert_int_equal(pmem_check(&fx.pm, NULL, NULL), 0);
	fx_teardown();
}

static void test_model_sv39(void **state)
{
	(void)state;
	run_model(SVMM_SV39, 40000);
}

static void test_model_sv48(void **state)
{
	(void)state;
	run_model(SVMM_SV48, 10000);
}

static void test_model_sv57(void **state)
{
	(void)state;
	run_model(SVMM_SV57, 10000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model_sv39),
		cmocka_unit_test(test_model_sv48),
		cmocka_unit_test(test_model_sv57),
	};
	return cmocka_run_group_tests_name("aspace_prop", tests, NULL, NULL);
}
