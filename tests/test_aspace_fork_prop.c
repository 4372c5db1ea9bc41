/*
 * test_aspace_fork_prop.c - property test of address spaces over memory objects:
 * fork, copy-on-write, shared memory, populate and discard, against a model.
 *
 * The model knows, for up to four address spaces, what every page of a 64-page window
 * is (nothing, private anonymous memory, or page k of one of two shared objects) and
 * what its first word must read: private pages have their own value per address
 * space, shared pages one value per object page. Random operations run on both: fixed
 * maps (anonymous or shared), unmaps, writes and reads (through faults, as user code
 * would), forks (aspace_clone), destroys, discards, populates and protects (read-only
 * and back). After every
 * operation: aspace_check on every address space, vmobj_check on the shared objects,
 * every frame's pmem count equals the number of index pages naming it, and every index
 * page's the number of objects naming it (the objects being each address space's
 * anonymous object and the shared objects; a fork shares leaf nodes, see held.h). At
 * the end every frame is back. SVMM_SEED=<n> replays a run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <cmocka.h>

#include "../core/vmobj_internal.h"    /* vmobj_walk_held, svmm's own */
#include "aspace_fixture.h"
#include "held.h"
#include "test_rand.h"

#define PG    SVMM_PAGE_SIZE
#define MiB   SVMM_MiB
#define W     ((svmm_va_t)0x20000000)
#define NPG   64u
#define NAS   4
#define NSHM  2
#define SHMPG 16u

enum { P_NONE, P_ANON, P_SHM };

struct mpage {
	uint8_t kind;
	uint8_t obj;       /* P_SHM: which shared object */
	uint8_t off;       /* P_SHM: its page */
	uint64_t val;      /* P_ANON: what the first word reads */
};

static struct aspace as[NAS];
static bool live[NAS];
static struct mpage mp[NAS][NPG];
static struct vmobj *shm[NSHM];
static uint64_t shmval[NSHM][SHMPG];
static uint64_t seed, token;
static uint32_t *named;
static uint64_t nframes;

static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

static svmm_pa_t frame_of(struct aspace *a, svmm_va_t va, unsigned access)
{
	svmm_pa_t pa;
	if (pt_translate(&a->pt, va, access, PT_PRIV_U, &pa, NULL) != 0)
		return 0;
	return pa;
}

/* The first word of the page at va, as a user load (faulting first) would read it. */
static uint64_t load(struct aspace *a, svmm_va_t va)
{
	if (frame_of(a, va, PT_R) == 0 && aspace_fault(a, va, PT_R) != 0)
		fail_msg("a read fault failed (SVMM_SEED=%llu)", (unsigned long long)seed);
	return *(uint64_t *)port_pa_to_va(frame_of(a, va, PT_R));
}

static void store(struct aspace *a, svmm_va_t va, uint64_t v)
{
	if (frame_of(a, va, PT_W) == 0 && aspace_fault(a, va, PT_W) != 0)
		fail_msg("a write fault failed (SVMM_SEED=%llu)", (unsigned long long)seed);
	*(uint64_t *)port_pa_to_va(frame_of(a, va, PT_W)) = v;
}

static struct held held;
static unsigned shared_seen;

static void count(void *ctx, uint64_t off, svmm_pa_t pa, unsigned order, svmm_pa_t holder)
{
	(void)ctx;
	(void)off;
	(void)order;
	if (held_note(&held, holder))        /* a shared node's frames: counted once */
		named[(pa - FX_RAM0) / PG]++;
}

static void check_all(unsigned step)
{
	memset(named, 0, nframes * sizeof(*named));
	held_reset(&held);
	for (int i = 0; i < NAS; i++) {
		if (!live[i])
			continue;
		if (aspace_check(&as[i], fx_print, NULL) != 0)
			fail_msg("aspace_check failed on %d at step %u (SVMM_SEED=%llu)", i, step,
				 (unsigned long long)seed);
		held_begin(&held);
		if (as[i].anon != NULL)
			vmobj_walk_held(as[i].anon, count, NULL);
	}
	for (int j = 0; j < NSHM; j++) {
		if (vmobj_check(shm[j], fx_print, NULL) != 0)
			fail_msg("vmobj_check failed at step %u", step);
		held_begin(&held);
		vmobj_walk_held(shm[j], count, NULL);
	}
	svmm_pa_t bad = 0;
	uint32_t refs = 0, objects = 0;
	uint64_t extra = 0;
	if (!held_verify(&held, &fx.pm, &bad, &refs, &objects, &extra))
		fail_msg("index page %llx: %u references, %u objects name it (step %u, "
			 "SVMM_SEED=%llu)", (unsigned long long)bad, refs, objects, step,
			 (unsigned long long)seed);
	shared_seen += extra != 0;
	for (uint64_t f = 0; f < nframes; f++) {
		if (named[f] == 0)
			continue;
		uint32_t r = 0;
		if (pmem_refs(&fx.pm, FX_RAM0 + f * PG, &r) != 0 || r != named[f])
			fail_msg("frame %llx: %u references, %u object entries (step %u, "
				 "SVMM_SEED=%llu)", (unsigned long long)(FX_RAM0 + f * PG), r,
				 named[f], step, (unsigned long long)seed);
	}
}

static int pick(void)
{
	int c[NAS], n = 0;
	for (int i = 0; i < NAS; i++)
		if (live[i])
			c[n++] = i;
	return c[below((uint64_t)n)];
}

static uint64_t expect(int i, unsigned p)
{
	const struct mpage *m = &mp[i][p];
	return m->kind == P_SHM ? shmval[m->obj][m->off] : m->val;
}

static void op_map(int i)
{
	unsigned a = (unsigned)below(NPG), n = 1 + (unsigned)below(8);
	if (a + n > NPG)
		n = NPG - a;
	bool busy = false;
	for (unsigned p = a; p < a + n; p++)
		busy |= mp[i][p].kind != P_NONE;
	svmm_va_t va;
	int j = -1, err;
	unsigned off = 0;
	if (below(2)) {
		j = (int)below(NSHM);
		if (n > SHMPG)
			n = SHMPG;
		off = (unsigned)below(SHMPG - n + 1);
		err = aspace_map_obj(&as[i], W + a * PG, n * PG, PT_R | PT_W,
				     ASPACE_FIXED | ASPACE_SHARED, shm[j], off * PG, &va);
	} else {
		err = aspace_map_anon(&as[i], W + a * PG, n * PG, PT_R | PT_W, ASPACE_FIXED, &va);
	}
	if (busy) {
		assert_int_equal(err, SVMM_EBUSY);
		return;
	}
	assert_int_equal(err, 0);
	for (unsigned p = a; p < a + n; p++)
		mp[i][p] = (struct mpage){ j < 0 ? P_ANON : P_SHM, (uint8_t)(j < 0 ? 0 : j),
					   (uint8_t)(off + p - a), 0 };
}

static void op_range(int i, unsigned what)
{
	unsigned a = (unsigned)below(NPG), n = 1 + (unsigned)below(12);
	if (a + n > NPG)
		n = NPG - a;
	bool holes = false;
	for (unsigned p = a; p < a + n; p++)
		holes |= mp[i][p].kind == P_NONE;
	int err;
	switch (what) {
	case 0:
		assert_int_equal(aspace_unmap(&as[i], W + a * PG, n * PG), 0);
		for (unsigned p = a; p < a + n; p++)
			mp[i][p].kind = P_NONE;
		return;
	case 1:
		err = aspace_discard(&as[i], W + a * PG, n * PG);
		assert_int_equal(err, holes ? SVMM_ENOENT : 0);
		if (err == 0)
			for (unsigned p = a; p < a + n; p++)
				if (mp[i][p].kind == P_ANON)
					mp[i][p].val = 0;
		return;
	case 2:
		err = aspace_populate(&as[i], W + a * PG, n * PG);
		assert_int_equal(err, holes ? SVMM_ENOENT : 0);
		return;
	default:
		/* Read-only and back: W must not come back over a shared page. */
		err = aspace_protect(&as[i], W + a * PG, n * PG, PT_R);
		assert_int_equal(err, holes ? SVMM_ENOENT : 0);
		if (err == 0)
			assert_int_equal(aspace_protect(&as[i], W + a * PG, n * PG,
							PT_R | PT_W), 0);
		return;
	}
}

static void op_access(int i, bool write)
{
	unsigned p = (unsigned)below(NPG);
	svmm_va_t va = W + p * PG;
	if (mp[i][p].kind == P_NONE) {
		assert_int_equal(aspace_fault(&as[i], va, write ? PT_W : PT_R), SVMM_EFAULT);
		return;
	}
	uint64_t got = load(&as[i], va);
	if (got != expect(i, p))
		fail_msg("space %d page %u reads %llx, model %llx (SVMM_SEED=%llu)", i, p,
			 (unsigned long long)got, (unsigned long long)expect(i, p),
			 (unsigned long long)seed);
	if (!write)
		return;
	store(&as[i], va, ++token);
	if (mp[i][p].kind == P_SHM)
		shmval[mp[i][p].obj][mp[i][p].off] = token;
	else
		mp[i][p].val = token;
}

static void op_fork(int i)
{
	int c = -1;
	for (int k = 0; k < NAS && c < 0; k++)
		if (!live[k])
			c = k;
	if (c < 0)
		return;
	assert_int_equal(aspace_create(&as[c], &fx.kpt, &fx.pm, NULL), 0);
	assert_int_equal(aspace_clone(&as[i], &as[c]), 0);
	live[c] = true;
	memcpy(mp[c], mp[i], sizeof(mp[i]));
}

static void test_model(void **state)
{
	(void)state;
	seed = test_seed("aspace fork property");
	assert_int_equal(fx_setup(64 * MiB, 32 * MiB, SVMM_SV39, 16), 0);
	nframes = 64 * MiB / PG;
	named = calloc(nframes, sizeof(*named));
	assert_non_null(named);
	assert_true(held_init(&held, FX_RAM0, nframes));
	uint64_t free0 = pmem_free_frames(&fx.pm);
	for (int j = 0; j < NSHM; j++)
		assert_int_equal(vmobj_create_anon(&fx.pm, SHMPG * PG, &shm[j]), 0);
	assert_int_equal(aspace_create(&as[0], &fx.kpt, &fx.pm, NULL), 0);
	live[0] = true;
	unsigned forks = 0, destroys = 0;
	for (unsigned step = 1; step <= 4000; step++) {
		int i = pick();
		uint64_t r = below(100);
		if (r < 15)
			op_map(i);
		else if (r < 22)
			op_range(i, 0);
		else if (r < 27)
			op_range(i, 1);
		else if (r < 31)
			op_range(i, 2);
		else if (r < 38)
			op_range(i, 3);
		else if (r < 62)
			op_access(i, true);
		else if (r < 90)
			op_access(i, false);
		else if (r < 96) {
			op_fork(i);
			forks++;
		} else {
			int n = 0;
			for (int k = 0; k < NAS; k++)
				n += live[k];
			if (n > 1) {
				aspace_destroy(&as[i]);
				live[i] = false;
				destroys++;
			}
		}
		check_all(step);
	}
	printf("aspace fork property: %u forks, %u destroys, %u checks saw shared leaf nodes\n",
	       forks, destroys, shared_seen);
	assert_true(shared_seen > 0);
	for (int i = 0; i < NAS; i++)
		if (live[i]) {
			aspace_destroy(&as[i]);
			live[i] = false;
		}
	for (int j = 0; j < NSHM; j++)
		vmobj_put(shm[j]);
	assert_int_equal(pmem_free_frames(&fx.pm), free0);
	free(named);
	held_fini(&held);
	fx_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_model),
	};
	return cmocka_run_group_tests_name("aspace fork property", tests, NULL, NULL);
}
