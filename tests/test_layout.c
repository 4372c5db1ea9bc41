/*
 * test_layout.c - the layout of every mode: DESIGN's table for Sv39, areas in order
 * without overlap or gaps where none are meant, area lookup, and the checked
 * __va()/__pa() of the direct map, including a shrunk window.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <svmm/layout.h>

static const enum svmm_mode modes[] = { SVMM_SV39, SVMM_SV48, SVMM_SV57 };

static void test_sv39_matches_design(void **state)
{
	(void)state;
	struct svmm_layout l;
	assert_int_equal(layout_init(&l, SVMM_SV39, 0), 0);
	assert_int_equal(l.levels, 3);
	assert_int_equal(l.va_bits, 39);
	assert_int_equal(l.slot_size, SVMM_GiB);
	const struct layout_region *u = layout_region(&l, LAYOUT_USER);
	assert_int_equal(u->base, 0x10000);
	assert_int_equal(u->base + u->size - 1, 0x3fbfffffffull);
	assert_int_equal(layout_region(&l, LAYOUT_USTACK)->base, 0x3fc0000000ull);
	assert_int_equal(l.ustack_top, 0x4000000000ull - SVMM_USTACK_GUARD);
	const struct layout_region *d = layout_region(&l, LAYOUT_DMAP);
	assert_int_equal(d->base, 0xffffffc000000000ull);
	assert_int_equal(d->base + d->size - 1, 0xffffffffbfffffffull);
	assert_int_equal(layout_region(&l, LAYOUT_KARENA)->base, 0xffffffffc0000000ull);
	assert_int_equal(layout_region(&l, LAYOUT_FIXMAP)->base, 0xffffffffefe00000ull);
	assert_int_equal(layout_region(&l, LAYOUT_KIMAGE)->base, 0xfffffffff0000000ull);
	assert_int_equal(layout_region(&l, LAYOUT_KIMAGE)->size, 256 * SVMM_MiB);
	assert_string_equal(svmm_mode_name(SVMM_SV39), "sv39");
}

/* Areas come in address order, never overlap, and cover their slots exactly. */
static void test_areas_ordered(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		struct svmm_layout l;
		assert_int_equal(layout_init(&l, modes[m], 0), 0);
		uint64_t s = svmm_slot_size(modes[m]);
		svmm_va_t prev_end = 0;
		for (int a = LAYOUT_NULL_GUARD; a < LAYOUT_NAREAS; a++) {
			const struct layout_region *r = layout_region(&l, (enum layout_area)a);
			assert_non_null(r);
			assert_true(r->size > 0);
			assert_true(SVMM_IS_ALIGNED(r->base, SVMM_PAGE_SIZE));
			assert_true(r->base >= prev_end || a == LAYOUT_NULL_GUARD);
			prev_end = r->base + r->size;
			/* Every area lies in canonical space, start and end. */
			assert_true(svmm_canonical(l.mode, r->base));
			assert_true(svmm_canonical(l.mode, r->base + r->size - 1));
			assert_int_equal(layout_area_of(&l, r->base), a);
			assert_int_equal(layout_area_of(&l, r->base + r->size - 1), a);
		}
		/* Slot rules: user 0..254, stack 255, dmap 256..510, slot 511 kernel IO. */
		assert_int_equal(layout_region(&l, LAYOUT_USER)->base +
				 layout_region(&l, LAYOUT_USER)->size, 255 * s);
		assert_int_equal(layout_region(&l, LAYOUT_USTACK)->base, 255 * s);
		assert_int_equal(layout_region(&l, LAYOUT_DMAP)->size, 255 * s);
		assert_int_equal(layout_region(&l, LAYOUT_KARENA)->base, svmm_kio_base(modes[m]));
		assert_int_equal(layout_region(&l, LAYOUT_DMAP)->base + 255 * s,
				 svmm_kio_base(modes[m]));
		/* The image ends at the top of the space, the fixmap right below it. */
		const struct layout_region *k = layout_region(&l, LAYOUT_KIMAGE);
		assert_int_equal(k->base + k->size, 0);
		assert_int_equal(layout_region(&l, LAYOUT_FIXMAP)->base +
				 layout_region(&l, LAYOUT_FIXMAP)->size, k->base);
		/* Outside every area: the hole, and the stack's top guard. */
		assert_int_equal(layout_area_of(&l, l.user_end), LAYOUT_NONE);
		assert_int_equal(layout_area_of(&l, l.kernel_base - 1), LAYOUT_NONE);
		assert_int_equal(layout_area_of(&l, l.user_end - 1), LAYOUT_NONE);
		assert_int_equal(layout_area_of(&l, l.ustack_top - 1), LAYOUT_USTACK);
		assert_false(svmm_canonical(l.mode, l.user_end));
		assert_false(svmm_canonical(l.mode, l.kernel_base - 1));
		assert_null(layout_region(&l, LAYOUT_NONE));
		assert_null(layout_region(&l, LAYOUT_NAREAS));
	}
}

static void test_va_pa(void **state)
{
	(void)state;
	for (unsigned m = 0; m < 3; m++) {
		struct svmm_layout l;
		assert_int_equal(layout_init(&l, modes[m], 0), 0);
		svmm_va_t va = 0x1234;
		svmm_pa_t pa = 0x5678;
		assert_int_equal(layout_pa_to_va(&l, 0x80001000, &va), 0);
		assert_int_equal(va, l.dmap_base + 0x80001000);
		assert_int_equal(layout_va_to_pa(&l, va, &pa), 0);
		assert_int_equal(pa, 0x80001000);
		assert_int_equal(layout_pa_to_va(&l, l.dmap_size - 1, &va), 0);
		/* Outside the window: an error, and the out-parameter untouched. */
		va = 0x1234;
		assert_int_equal(layout_pa_to_va(&l, l.dmap_size, &va), SVMM_ERANGE);
		assert_int_equal(va, 0x1234);
		pa = 0x5678;
		assert_int_equal(layout_va_to_pa(&l, l.dmap_base - 1, &pa), SVMM_ERANGE);
		assert_int_equal(layout_va_to_pa(&l, svmm_kio_base(modes[m]), &pa), SVMM_ERANGE);
		assert_int_equal(layout_va_to_pa(&l, 0x1000, &pa), SVMM_ERANGE);
		assert_int_equal(pa, 0x5678);
	}
}

/* svmm.dmap_limit= shrinks the window: addresses above it are not __va()-able. */
static void test_dmap_limit(void **state)
{
	(void)state;
	struct svmm_layout l;
	assert_int_equal(layout_init(&l, SVMM_SV48, 3 * SVMM_GiB + 12345), 0);
	assert_int_equal(l.dmap_size, 3 * SVMM_GiB);
	svmm_va_t va;
	svmm_pa_t pa;
	assert_int_equal(layout_pa_to_va(&l, 3 * SVMM_GiB - 1, &va), 0);
	assert_int_equal(layout_pa_to_va(&l, 3 * SVMM_GiB, &va), SVMM_ERANGE);
	assert_int_equal(layout_va_to_pa(&l, l.dmap_base + 3 * SVMM_GiB, &pa), SVMM_ERANGE);
	assert_int_equal(layout_area_of(&l, l.dmap_base + 3 * SVMM_GiB), LAYOUT_NONE);
	assert_int_equal(layout_area_of(&l, l.dmap_base + 3 * SVMM_GiB - 1), LAYOUT_DMAP);
	/* A limit above the window changes nothing; below 1 GiB it is refused. */
	assert_int_equal(layout_init(&l, SVMM_SV39, 1000 * SVMM_GiB), 0);
	assert_int_equal(l.dmap_size, 255 * SVMM_GiB);
	struct svmm_layout before = l;
	assert_int_equal(layout_init(&l, SVMM_SV39, SVMM_GiB - 4096), SVMM_ERANGE);
	assert_int_equal(layout_init(&l, (enum svmm_mode)7, 0), SVMM_EMODE);
	assert_memory_equal(&before, &l, sizeof(l));
	assert_string_equal(svmm_mode_name((enum svmm_mode)7), "?");
}

static char dump[2048];
static void dump_out(void *ctx, const char *line)
{
	(void)ctx;
	strncat(dump, line, sizeof(dump) - strlen(dump) - 2);
	strcat(dump, "\n");
}

static void test_dump(void **state)
{
	(void)state;
	struct svmm_layout l;
	assert_int_equal(layout_init(&l, SVMM_SV39, 0), 0);
	dump[0] = 0;
	layout_dump(&l, dump_out, NULL);
	const char *want =
		"svmm layout sv39: 3 levels, 39-bit va, root slot 1G\n"
		"  null-guard 0x0000000000000000-0x000000000000ffff       64K slot   0-  0  -\n"
		"  user       0x0000000000010000-0x0000003fbfffffff  255G-64K slot   0-254  1G 2M 4K\n"
		"  ustack     0x0000003fc0000000-0x0000003ffffeffff    1G-64K slot 255-255  4K\n"
		"  dmap       0xffffffc000000000-0xffffffffbfffffff      255G slot 256-510  1G 2M 4K\n"
		"  karena     0xffffffffc0000000-0xffffffffefdfffff      766M slot 511-511  2M 4K\n"
		"  fixmap     0xffffffffefe00000-0xffffffffefffffff        2M slot 511-511  4K\n"
		"  kimage     0xfffffffff0000000-0xffffffffffffffff      256M slot 511-511  2M 4K\n";
	assert_string_equal(dump, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sv39_matches_design),
		cmocka_unit_test(test_areas_ordered),
		cmocka_unit_test(test_va_pa),
		cmocka_unit_test(test_dmap_limit),
		cmocka_unit_test(test_dump),
	};
	return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
