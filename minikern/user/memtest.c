/*
 * minikern/user/memtest.c - anonymous memory: demand-zero pages, unmapping, and bad
 * arguments refused with the right error.
 */
#include "ulib.h"

#define PAGE 4096ul

long main(long arg)
{
	(void)arg;
	unsigned long size = 16 * PAGE;
	long a = map(size, PROT_R | PROT_W);
	expect(a > 0 && a % PAGE == 0, "map returns a page-aligned address");
	if (a <= 0)
		return 1;
	volatile unsigned long *p = (volatile unsigned long *)a;
	int zero = 1;
	for (unsigned long i = 0; i < size / 8; i += PAGE / 8)
		zero &= p[i] == 0;
	expect(zero, "fresh anonymous pages read as zero");
	for (unsigned long i = 0; i < size / 8; i++)
		p[i] = i * 7 + 1;
	int same = 1;
	for (unsigned long i = 0; i < size / 8; i++)
		same &= p[i] == i * 7 + 1;
	expect(same, "what was written reads back");

	/* Unmap the middle: the rest stays, the hole is gone. */
	expect(unmap(a + 4 * PAGE, 4 * PAGE) == 0, "unmap of the middle");
	expect(p[0] == 1 && p[size / 8 - 1] == (size / 8 - 1) * 7 + 1, "the rest survives");

	/* Mapping again gives zeroed memory, not the old contents. */
	long b = map(4 * PAGE, PROT_R | PROT_W);
	expect(b > 0, "map again");
	if (b > 0)
		expect(((volatile unsigned long *)b)[0] == 0, "new memory is zero again");
	expect(unmap(b, 4 * PAGE) == 0, "unmap the new mapping");
	expect(unmap(a, size) == 0, "unmap across a hole");

	/* Bad arguments, all refused. */
	expect(map(PAGE, PROT_R | PROT_W | PROT_X) == E_PERM, "W+X refused");
	expect(map(PAGE, PROT_W) == E_PERM, "W without R refused");
	expect(map(PAGE + 1, PROT_R) == E_UNALIGNED, "unaligned size refused");
	expect(unmap(a + 1, PAGE) == E_UNALIGNED, "unaligned unmap refused");
	expect(write((void *)8, 4) == E_FAULT, "write from the null guard refused");

	/* Many small mappings, left for exit to reclaim. */
	for (int i = 0; i < 32; i++) {
		long c = map(2 * PAGE, PROT_R | PROT_W);
		expect(c > 0, "small map");
		if (c > 0)
			((volatile char *)c)[PAGE] = 1;
	}
	return failures;
}
