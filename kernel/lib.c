/*
 * kernel/lib.c - the few libc functions a freestanding kernel must supply itself:
 * the compiler may emit calls to memset/memcpy/memmove/memcmp, and the core uses them.
 * Word-at-a-time when both pointers allow it, since page zeroing dominates fault cost.
 */
#include "kernel.h"

void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;
	if ((((uintptr_t)p | n) & 7) == 0) {
		uint64_t v = (uint8_t)c;
		v |= v << 8;
		v |= v << 16;
		v |= v << 32;
		uint64_t *w = d;
		/* 64 stores per iteration: zeroing a page is the hot path of a fault, and
		   each iteration costs three instructions of loop overhead (a page: 8
		   iterations, 24 instructions besides its 512 stores). */
#define SET8(i) (w[i] = v, w[i + 1] = v, w[i + 2] = v, w[i + 3] = v, \
		 w[i + 4] = v, w[i + 5] = v, w[i + 6] = v, w[i + 7] = v)
		for (; n >= 512; n -= 512, w += 64) {
			SET8(0); SET8(8); SET8(16); SET8(24);
			SET8(32); SET8(40); SET8(48); SET8(56);
		}
#undef SET8
		for (; n; n -= 8)
			*w++ = v;
		return d;
	}
	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;
	if ((((uintptr_t)dp | (uintptr_t)sp | n) & 7) == 0) {
		uint64_t *dw = d;
		const uint64_t *sw = s;
		/* 64 words per iteration, in groups of eight loads then eight stores: a
		   copy-on-write fault copies a whole page, and a word at a time spent three
		   of every five instructions on the loop (a page now: 8 iterations). */
#define COPY8(g) do { \
		uint64_t a0 = sw[g], a1 = sw[g + 1], a2 = sw[g + 2], a3 = sw[g + 3]; \
		uint64_t a4 = sw[g + 4], a5 = sw[g + 5], a6 = sw[g + 6], a7 = sw[g + 7]; \
		dw[g] = a0; dw[g + 1] = a1; dw[g + 2] = a2; dw[g + 3] = a3; \
		dw[g + 4] = a4; dw[g + 5] = a5; dw[g + 6] = a6; dw[g + 7] = a7; \
	} while (0)
		for (; n >= 512; n -= 512, dw += 64, sw += 64) {
			COPY8(0); COPY8(8); COPY8(16); COPY8(24);
			COPY8(32); COPY8(40); COPY8(48); COPY8(56);
		}
#undef COPY8
		for (; n; n -= 8)
			*dw++ = *sw++;
		return d;
	}
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;
	if (dp <= sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

char *strstr(const char *s, const char *sub)
{
	size_t n = strlen(sub);
	for (; *s; s++)
		if (strncmp(s, sub, n) == 0)
			return (char *)(uintptr_t)s;
	return n == 0 ? (char *)(uintptr_t)s : NULL;
}
