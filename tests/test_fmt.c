/* test_fmt.c - the core's formatter and error names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <svmm/fmt.h>

/* Compare svmm_snprintf with the C library's snprintf on the same format. */
#define SAME_AS_LIBC(fmt, ...)                                               \
	do {                                                                 \
		char a[128], b[128];                                         \
		int ra = svmm_snprintf(a, sizeof(a), fmt, __VA_ARGS__);      \
		int rb = snprintf(b, sizeof(b), fmt, __VA_ARGS__);           \
		assert_string_equal(a, b);                                   \
		assert_int_equal(ra, rb);                                    \
	} while (0)

static void test_matches_libc(void **state)
{
	(void)state;
	SAME_AS_LIBC("%d|%i|%u", -42, 7, 3000000000u);
	SAME_AS_LIBC("%x|%X|%08x|%-6x|", 0xbeefu, 0xbeefu, 0x12u, 0xau);
	SAME_AS_LIBC("%llx %lld %zu", 0xffffffffc0000000ull, -1ll, (size_t)12345);
	SAME_AS_LIBC("%lu %ld", 18446744073709551615ul, -9223372036854775807l - 1);
	SAME_AS_LIBC("[%10s][%-10s][%c]", "abc", "de", 'z');
	SAME_AS_LIBC("%05d %%", -42);
	SAME_AS_LIBC("%s", "");
}

static void test_truncation(void **state)
{
	(void)state;
	char buf[6];
	int r = svmm_snprintf(buf, sizeof(buf), "%s", "0123456789");
	assert_int_equal(r, 10);
	assert_string_equal(buf, "01234");
	assert_int_equal(svmm_snprintf(NULL, 0, "%d", 12345), 5);
}

static void test_fmt_size(void **state)
{
	(void)state;
	char buf[32];
	svmm_fmt_size(buf, sizeof(buf), 4096);
	assert_string_equal(buf, "4K");
	svmm_fmt_size(buf, sizeof(buf), 2 * SVMM_MiB);
	assert_string_equal(buf, "2M");
	svmm_fmt_size(buf, sizeof(buf), 255 * SVMM_GiB);
	assert_string_equal(buf, "255G");
	svmm_fmt_size(buf, sizeof(buf), 256 * SVMM_TiB);
	assert_string_equal(buf, "256T");
	svmm_fmt_size(buf, sizeof(buf), 1000);
	assert_string_equal(buf, "1000B");
}

static void test_strerror(void **state)
{
	(void)state;
	for (int e = 0; e >= SVMM_ERR_MIN; e--)
		assert_non_null(strstr(svmm_strerror(e), "SVMM_"));
	assert_string_equal(svmm_strerror(1), "SVMM_E?: unknown error");
	assert_string_equal(svmm_strerror(SVMM_ERR_MIN - 1), "SVMM_E?: unknown error");
	assert_non_null(strstr(svmm_strerror(SVMM_ENOSPC), "ENOSPC"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_libc),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_fmt_size),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests_name("fmt", tests, NULL, NULL);
}
