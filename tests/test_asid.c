/* test_asid.c - ASID generations, rollover, reservation and the flush-per-switch fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <svmm/asid.h>
#include "test_rand.h"

static struct asid_allocator alloc;

static uint32_t act(uint64_t *ctx, unsigned hart, bool *flush)
{
	uint32_t asid = asid_activate(&alloc, ctx, hart, flush);
	assert_int_equal(asid_check(&alloc, NULL, NULL), 0);
	assert_int_equal(asid, asid_of(&alloc, *ctx));
	return asid;
}

static void test_init_rejects_bad_arguments(void **state)
{
	(void)state;
	assert_int_equal(asid_init(&alloc, 17, 1), SVMM_EINVAL);
	assert_int_equal(asid_init(&alloc, 16, 0), SVMM_EINVAL);
	assert_int_equal(asid_init(&alloc, 16, ASID_MAX_HARTS + 1), SVMM_EINVAL);
	assert_int_equal(asid_init(NULL, 16, 1), SVMM_EINVAL);
	assert_int_equal(asid_init(&alloc, 16, ASID_MAX_HARTS), 0);
	assert_false(alloc.flush_every_switch);
	assert_int_equal(asid_check(&alloc, NULL, NULL), 0);
}

static void test_distinct_asids_and_first_flush(void **state)
{
	(void)state;
	assert_int_equal(asid_init(&alloc, 4, 1), 0);   /* 16 ASIDs, 0 is the kernel's */
	uint64_t ctx[15] = { 0 };
	bool flush;
	uint32_t seen = 0;
	for (int i = 0; i < 15; i++) {
		uint32_t asid = act(&ctx[i], 0, &flush);
		assert_true(asid >= 1 && asid <= 15);
		assert_false(seen & (1u << asid));
		seen |= 1u << asid;
		/* Only the very first activation flushes: the hart's TLB was unknown. */
		assert_int_equal(flush, i == 0);
	}
	/* Re-activating keeps the ASID and needs no flush. */
	for (int i = 0; i < 15; i++) {
		uint64_t before = ctx[i];
		act(&ctx[i], 0, &flush);
		assert_false(flush);
		assert_int_equal(ctx[i], before);
	}
	assert_int_equal(alloc.rollovers, 0);
}

static void test_rollover_flushes_every_hart_once(void **state)
{
	(void)state;
	assert_int_equal(asid_init(&alloc, 3, 2), 0);   /* 8 ASIDs on 2 harts */
	assert_false(alloc.flush_every_switch);
	uint64_t ctx[9] = { 0 };
	bool flush;
	act(&ctx[0], 1, &flush);                /* hart 1 keeps running ctx[0] */
	assert_true(flush);
	uint32_t pinned = asid_of(&alloc, ctx[0]);
	for (int i = 1; i < 7; i++)
		act(&ctx[i], 0, &flush);
	assert_int_equal(alloc.rollovers, 0);
	/* The eighth address space finds no free ASID: rollover, and hart 0 flushes. */
	act(&ctx[7], 0, &flush);
	assert_int_equal(alloc.rollovers, 1);
	assert_true(flush);
	/* The ASID running on hart 1 was reserved: nobody else got it. */
	assert_int_not_equal(asid_of(&alloc, ctx[7]), pinned);
	/* Hart 1 owes one flush, and keeps its ASID in the new generation. */
	act(&ctx[0], 1, &flush);
	assert_true(flush);
	assert_int_equal(asid_of(&alloc, ctx[0]), pinned);
	act(&ctx[0], 1, &flush);
	assert_false(flush);
	/* Old contexts are re-assigned lazily and stay distinct from the live ones. */
	uint32_t a1 = act(&ctx[1], 0, &flush);
	assert_false(flush);
	assert_int_not_equal(a1, pinned);
	assert_int_not_equal(a1, asid_of(&alloc, ctx[7]));
}

static void test_old_asid_kept_when_free(void **state)
{
	(void)state;
	assert_int_equal(asid_init(&alloc, 3, 1), 0);
	uint64_t ctx[8] = { 0 };
	bool flush;
	for (int i = 0; i < 8; i++)
		act(&ctx[i], 0, &flush);          /* the 8th forces a rollover */
	assert_int_equal(alloc.rollovers, 1);
	asid_deactivate(&alloc, ctx[7], 0);
	assert_int_equal(alloc.active[0], 0);
	/* ctx[3]'s ASID is unused in the new generation unless taken: it keeps it. */
	uint32_t old = (uint32_t)(ctx[3] & 7u);
	uint32_t taken = asid_of(&alloc, ctx[7]);
	uint32_t again = act(&ctx[3], 0, &flush);
	if (old != taken)
		assert_int_equal(again, old);
	else
		assert_int_not_equal(again, taken);
}

static void test_fallback_flushes_on_switch(void **state)
{
	(void)state;
	bool flush;
	assert_int_equal(asid_init(&alloc, 0, 1), 0);
	assert_true(alloc.flush_every_switch);
	uint64_t a = 0, b = 0;
	assert_int_equal(act(&a, 0, &flush), 0);
	assert_true(flush);
	assert_int_equal(act(&a, 0, &flush), 0);
	assert_false(flush);                  /* same address space again: TLB still valid */
	assert_int_equal(act(&b, 0, &flush), 0);
	assert_true(flush);
	assert_int_equal(act(&a, 0, &flush), 0);
	assert_true(flush);
	/* Two ASIDs per hart or fewer: fallback as well. */
	assert_int_equal(asid_init(&alloc, 2, 2), 0);
	assert_true(alloc.flush_every_switch);
	assert_int_equal(asid_init(&alloc, 3, 2), 0);
	assert_false(alloc.flush_every_switch);
}

/*
 * Property test against a model TLB: per hart, which address space each ASID's
 * entries may belong to. Activating must never let a hart run address space X under
 * an ASID whose entries there may still belong to Y; a flush empties the hart's model.
 */

#define NSPACES 40
#define NHARTS  4

static void test_property_model_tlb(void **state)
{
	(void)state;
	const char *env = getenv("SVMM_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 0x5eed0001ull;
	printf("test_asid property: SVMM_SEED=%#llx\n", (unsigned long long)seed);
	rng = seed ? seed : 1;
	static const unsigned widths[] = { 0, 2, 3, 4, 5, 8, 16 };
	for (unsigned wi = 0; wi < sizeof(widths) / sizeof(widths[0]); wi++) {
		assert_int_equal(asid_init(&alloc, widths[wi], NHARTS), 0);
		uint32_t nasids = 1u << widths[wi];
		static int tlb[NHARTS][1u << 16];    /* owner id + 1 of cached entries, 0 none */
		memset(tlb, 0, sizeof(tlb));
		uint64_t ctx[NSPACES] = { 0 };
		int running[NHARTS];
		for (int h = 0; h < NHARTS; h++)
			running[h] = -1;
		for (int step = 0; step < 20000; step++) {
			unsigned h = (unsigned)(rnd() % NHARTS);
			int s = (int)(rnd() % NSPACES);
			if (rnd() % 16 == 0) {
				/* The address space dies and a new one takes its slot. Its TLB
				 * entries stay behind in the model, tagged with the dead owner. */
				bool busy = false;
				for (int g = 0; g < NHARTS; g++)
					busy |= running[g] == s;
				if (!busy) {
					ctx[s] = 0;
					for (int g = 0; g < NHARTS; g++)
						for (uint32_t x = 0; x < nasids; x++)
							if (tlb[g][x] == s + 1)
								tlb[g][x] = -1;  /* a dead owner */
				}
				continue;
			}
			bool flush;
			uint32_t asid = act(&ctx[s], h, &flush);
			assert_true(asid < nasids);
			if (flush)
				memset(tlb[h], 0, sizeof(tlb[h]));
			if (tlb[h][asid] != 0 && tlb[h][asid] != s + 1)
				fail_msg("seed %#llx step %d: hart %u runs space %d under ASID %u "
					 "holding entries of %d", (unsigned long long)seed, step, h,
					 s, asid, tlb[h][asid] - 1);
			tlb[h][asid] = s + 1;
			running[h] = s;
			/* A mapping change by a running space flushes its ASID on all harts. */
			if (rnd() % 8 == 0)
				for (int g = 0; g < NHARTS; g++)
					if (tlb[g][asid] == s + 1)
						tlb[g][asid] = 0;
		}
		if (!alloc.flush_every_switch && nasids < NSPACES)
			assert_true(alloc.rollovers > 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects_bad_arguments),
		cmocka_unit_test(test_distinct_asids_and_first_flush),
		cmocka_unit_test(test_rollover_flushes_every_hart_once),
		cmocka_unit_test(test_old_asid_kept_when_free),
		cmocka_unit_test(test_fallback_flushes_on_switch),
		cmocka_unit_test(test_property_model_tlb),
	};
	return cmocka_run_group_tests_name("asid", tests, NULL, NULL);
}
