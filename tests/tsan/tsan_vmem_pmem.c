/*
 * tsan_vmem_pmem.c - vmem and pmem used by several threads at once through the host
 * port's locks, built with ThreadSanitizer (mk/tsan.mk, `make check-tsan`).
 *
 * Four threads share one pmem and one vmem arena whose pool pages come from that pmem
 * (so vmem's page source runs under contention too). Each thread allocates, writes,
 * checks and frees at random. Ownership is checked against a reference model that is
 * itself thread-safe: one byte per quantum (vmem) and per frame (pmem), claimed with an
 * atomic exchange on allocation and released on free. A second owner of any unit, a
 * block that comes back with another thread's data in it, or a data race TSan sees,
 * fails the test. At the end everything is freed and both allocators must be back to
 * their starting counts with their invariant checkers clean.
 *
 * The seed is printed; SVMM_SEED=N replays a thread schedule's random choices (the
 * interleaving itself is up to the host).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include <svmm/pmem.h>
#include <svmm/port.h>
#include <svmm/vmem.h>

#include "hostsim.h"

#define RAM_BASE   0x80000000ull
#define RAM_SIZE   (256 * SVMM_MiB)
#define ARENA_BASE 0x100000000ull
#define ARENA_SIZE (64 * SVMM_MiB)
#define Q          SVMM_PAGE_SIZE
#define NTHREADS   4
#define OPS        20000
#define HELD_MAX   48

static struct pmem pm;
static struct vmem arena;
static unsigned char vowner[ARENA_SIZE / Q];       /* 0 = free, else thread id + 1 */
static unsigned char fowner[RAM_SIZE / Q];
static int errors;
static uint64_t seed;

/* vmem keeps the caller's region node in its tree, so held slots never move. */
struct vheld { svmm_va_t addr; uint64_t size; struct vmem_region reg; };
struct pheld { svmm_pa_t pa; unsigned order; };

static void model_fail(const char *what, uint64_t a)
{
	__atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
	fprintf(stderr, "tsan_vmem_pmem: %s at 0x%llx (seed %llu)\n", what,
		(unsigned long long)a, (unsigned long long)seed);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Claim (tid + 1) or release (0) n units of an owner map; each must change hands. */
static void own(unsigned char *map, uint64_t first, uint64_t n, unsigned char tid, bool claim)
{
	for (uint64_t i = first; i < first + n; i++) {
		unsigned char want = claim ? 0 : tid, got;
		got = __atomic_exchange_n(&map[i], claim ? tid : 0, __ATOMIC_ACQ_REL);
		if (got != want)
			model_fail(claim ? "unit handed out twice" : "unit freed by a non-owner", i * Q);
	}
}

static int pool_alloc(void *ctx, void **page)
{
	svmm_pa_t pa;
	if (pmem_alloc(ctx, 0, PMEM_ANY, &pa) != 0)
		return SVMM_ENOMEM;
	*page = port_pa_to_va(pa);
	return 0;
}

static void pool_free(void *ctx, void *page)
{
	if (pmem_free(ctx, port_va_to_pa(page), 0) != 0)
		model_fail("pool page free", (uint64_t)(uintptr_t)page);
}

static void vfree_one(struct vheld *h, unsigned char tid)
{
	own(vowner, (h->addr - ARENA_BASE) / Q, h->size / Q, tid, false);
	struct vmem_region *back = NULL;
	int err = vmem_free(&arena, h->addr, h->size, &back);
	if (err != 0 || back != &h->reg)
		model_fail("vmem_free", h->addr);
	h->size = 0;
}

static void pfree_one(struct pheld *h, unsigned char tid)
{
	uint64_t *w = port_pa_to_va(h->pa);
	uint64_t last = ((uint64_t)Q << h->order) / 8 - 1;
	uint64_t tag = ((uint64_t)tid << 56) | h->pa;
	if (w[0] != tag || w[last] != tag)
		model_fail("frame data changed while owned", h->pa);
	own(fowner, (h->pa - RAM_BASE) / Q, 1ull << h->order, tid, false);
	if (pmem_free(&pm, h->pa, h->order) != 0)
		model_fail("pmem_free", h->pa);
}

static void *worker(void *arg)
{
	unsigned char tid = (unsigned char)((uintptr_t)arg + 1);
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + tid;
	static __thread struct vheld vh[HELD_MAX];
	struct pheld ph[HELD_MAX];
	unsigned np = 0;
	for (unsigned op = 0; op < OPS; op++) {
		uint64_t r = rnd(&s);
		switch (r % 6) {
		case 0:
		case 1: {   /* vmem: best fit or aligned */
			struct vheld *h = &vh[(r >> 32) % HELD_MAX];
			if (h->size != 0)
				break;
			uint64_t size = (1 + (r >> 8) % 32) * Q;
			svmm_va_t a;
			int err;
			if (r & (1u << 20)) {
				struct vmem_constraint c = { .align = Q << ((r >> 21) % 6) };
				err = vmem_xalloc(&arena, size, &c, &h->reg, &a);
				if (err == 0 && (a & (c.align - 1)) != 0)
					model_fail("vmem_xalloc ignored its alignment", a);
			} else {
				err = vmem_alloc(&arena, size, &h->reg, &a);
			}
			if (err == SVMM_ENOSPC || err == SVMM_ENOMEM)
				break;
			if (err != 0) {
				model_fail("vmem_alloc", size);
				break;
			}
			if (a < ARENA_BASE || a + size > ARENA_BASE + ARENA_SIZE) {
				model_fail("vmem_alloc outside the arena", a);
				break;
			}
			own(vowner, (a - ARENA_BASE) / Q, size / Q, tid, true);
			h->addr = a;
			h->size = size;
			break;
		}
		case 2:
			if (vh[(r >> 8) % HELD_MAX].size != 0)
				vfree_one(&vh[(r >> 8) % HELD_MAX], tid);
			break;
		case 3:
		case 4: {   /* pmem: orders 0..4, tagged at both ends */
			if (np == HELD_MAX)
				break;
			unsigned order = (unsigned)((r >> 8) % 5);
			svmm_pa_t pa;
			int err = pmem_alloc(&pm, order, PMEM_ANY, &pa);
			if (err == SVMM_ENOMEM)
				break;
			if (err != 0 || (pa & ((Q << order) - 1)) != 0) {
				model_fail("pmem_alloc", pa);
				break;
			}
			own(fowner, (pa - RAM_BASE) / Q, 1ull << order, tid, true);
			uint64_t *w = port_pa_to_va(pa);
			uint64_t tag = ((uint64_t)tid << 56) | pa;
			w[0] = tag;
			w[((uint64_t)Q << order) / 8 - 1] = tag;
			ph[np++] = (struct pheld){ pa, order };
			break;
		}
		default:
			if (np > 0) {
				unsigned i = (unsigned)((r >> 8) % np);
				pfree_one(&ph[i], tid);
				ph[i] = ph[--np];
			}
			break;
		}
	}
	for (unsigned i = 0; i < HELD_MAX; i++)
		if (vh[i].size != 0)
			vfree_one(&vh[i], tid);
	while (np > 0)
		pfree_one(&ph[--np], tid);
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	const char *env = getenv("SVMM_SEED");
	seed = env ? strtoull(env, NULL, 0) : 42;
	printf("tsan_vmem_pmem: seed %llu (SVMM_SEED=N replays), %d threads x %d ops\n",
	       (unsigned long long)seed, NTHREADS, OPS);
	assert_int_equal(hostsim_ram_init(RAM_BASE, RAM_SIZE), 0);
	struct pmem_range ram = { RAM_BASE, RAM_SIZE };
	assert_int_equal(pmem_init(&pm, &ram, 1, NULL, 0, PMEM_ANY), 0);
	uint64_t free0 = pmem_free_frames(&pm);
	struct vmem_page_source src = { pool_alloc, pool_free, &pm };
	assert_int_equal(vmem_init(&arena, ARENA_BASE, ARENA_SIZE, Q, &src), 0);

	pthread_t t[NTHREADS];
	for (uintptr_t i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	for (unsigned i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);

	assert_int_equal(errors, 0);
	assert_int_equal(vmem_check(&arena, NULL, NULL), 0);
	assert_int_equal(pmem_check(&pm, NULL, NULL), 0);
	struct vmem_stats st;
	vmem_stats(&arena, &st);
	assert_int_equal(st.used_bytes, 0);
	assert_int_equal(st.free_bytes, ARENA_SIZE);
	for (size_t i = 0; i < sizeof vowner; i++)
		assert_int_equal(vowner[i], 0);
	for (size_t i = 0; i < sizeof fowner; i++)
		assert_int_equal(fowner[i], 0);
	/* vmem may keep pool pages (units and blocks) for later; those are the only
	   frames out, and destroying the arena returns them. */
	printf("tsan_vmem_pmem: vmem holds %llu unit and %llu block pages at the end\n",
	       (unsigned long long)st.pool_pages, (unsigned long long)st.blk_pages);
	assert_int_equal(pmem_free_frames(&pm), free0 - st.pool_pages - st.blk_pages);
	assert_int_equal(vmem_destroy(&arena), 0);
	assert_int_equal(pmem_free_frames(&pm), free0);
	hostsim_ram_fini();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
