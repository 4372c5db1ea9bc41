/*
 * user/huge.c - 2 MiB pages from user mode: touch 64 MiB (one write into every 4 KiB
 * page, so every 2 MiB that the region covers may come as one 2 MiB page when pmem has
 * a free order-9 block) and report how many 2 MiB pages the process got (info's
 * huge_pages); check every word of the 64 MiB (the written word, zeros elsewhere).
 * Then the cases that split a 2 MiB page: a fork whose child writes one 4 KiB page of
 * one (copy-on-write unfolds it) and must see everything else as the parent wrote it
 * while the parent keeps its own; an unmap of one 4 KiB page in the middle of another,
 * after which the rest still reads back. Exits with the failed checks.
 */
#include "ulib.h"

#define PAGE 4096ul
#define HUGE 0x200000ul
#define SIZE (64ul << 20)

static uint64_t *base;

static uint64_t pat(unsigned long pg)
{
	return 0xb16b00b500000000ull ^ pg * 0x10001ull;
}

/* Mismatching words in pages [first, end), skipping the page `hole` (~0: none). */
static long check(unsigned long first, unsigned long end, unsigned long hole, unsigned long mine,
		  uint64_t mine_val)
{
	long bad = 0;
	for (unsigned long pg = first; pg < end; pg++) {
		if (pg == hole)
			continue;
		const uint64_t *p = base + pg * (PAGE / 8);
		bad += p[0] != (pg == mine ? mine_val : pat(pg));
		for (unsigned long w = 1; w < PAGE / 8; w++)
			bad += p[w] != 0;
	}
	return bad;
}

long main(long arg)
{
	(void)arg;
	uintptr_t a;
	if (mmap(0, SIZE, PROT_READ | PROT_WRITE, 0, &a) != 0)
		return 1;
	base = (uint64_t *)a;
	UCHECK(a % HUGE == 0);                     /* regions of 2 MiB or more are aligned */
	for (unsigned long pg = 0; pg < SIZE / PAGE; pg++)
		base[pg * (PAGE / 8)] = pat(pg);
	struct sys_info si;
	info(&si);
	printf("huge: touched 64 MiB and got %lu 2 MiB pages (of %lu)\n", si.huge_pages,
	       SIZE / HUGE);
	UCHECK(si.huge_pages >= 1 && si.huge_pages <= SIZE / HUGE);
	UCHECK(check(0, SIZE / PAGE, ~0ul, ~0ul, 0) == 0);

	/* The child writes page 3 of the first 2 MiB: copy-on-write inside a 2 MiB page. */
	long pid = fork();
	if (pid == 0) {
		base[3 * (PAGE / 8)] = 42;
		exit(check(0, 2 * HUGE / PAGE, ~0ul, 3, 42));
	}
	UCHECK(pid > 0);
	long st = -1;
	UCHECK(wait(pid, &st) == pid);
	UCHECK(st == 0);
	UCHECK(check(0, 2 * HUGE / PAGE, ~0ul, ~0ul, 0) == 0);

	/* An unmap of one 4 KiB page inside the second 2 MiB page. */
	unsigned long hole = HUGE / PAGE + 7;
	UCHECK(munmap(a + hole * PAGE, PAGE) == 0);
	UCHECK(check(0, 4 * HUGE / PAGE, hole, ~0ul, 0) == 0);
	UCHECK(munmap(a, SIZE) == 0);
	return ufailed;
}
