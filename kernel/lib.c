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
		/* 32 stores per iteration: zeroing a page is the hot path of a fault, and
		   each iteration costs three instructions of loop overhead. */
		for (; n >= 256; n -= 256, w += 32) {
			w[0] = v; w[1] = v; w[2] = v; w[3] = v;
			w[4] = v; w[5] = v; w[6] = v; w[7] = v;
			w[8] = v; w[9] = v; w[10] = v; w[11] = v;
			w[12] = v; w[13] = v; w[14] = v; w[15] = v;
			w[16] = v; w[17] = v; w[18] = v; w[19] = v;
			w[20] = v; w[21] = v; w[22] = v; w[23] = v;
			w[24] = v; w[25] = v; w[26] = v; w[27] = v;
			w[28] = v; w[29] = v; w[30] = v; w[31] = v;
		}
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
		/* 16 words per iteration: a copy-on-write fault copies a whole page, and a
		   word at a time spent three of every five instructions on the loop. */
		for (; n >= 128; n -= 128, dw += 16, sw += 16) {
			uint64_t a0 = sw[0], a1 = sw[1], a2 = sw[2], a3 = sw[3];
			uint64_t a4 = sw[4], a5 = sw[5], a6 = sw[6], a7 = sw[7];
			dw[0] = a0; dw[1] = a1; dw[2] = a2; dw[3] = a3;
			dw[4] = a4; dw[5] = a5; dw[6] = a6; dw[7] = a7;
			a0 = sw[8]; a1 = sw[9]; a2 = sw[10]; a3 = sw[11];
			a4 = sw[12]; a5 = sw[13]; a6 = sw[14]; a7 = sw[15];
			dw[8] = a0; dw[9] = a1; dw[10] = a2; dw[11] = a3;
			dw[12] = a4; dw[13] = a5; dw[14] = a6; dw[15] = a7;
		}
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
