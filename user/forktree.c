/*
 * user/forktree.c - a fork tree eight levels deep: the root (level 0) and every process
 * above the leaves fork children, one after the other, down to level 8: two each on
 * levels 0 to 2, one each below (55 processes in all, at most nine alive at once; a
 * full binary tree, 511 processes, made the kernel test boot seconds slower on a
 * loaded host without testing anything more). A buffer holds one page per level and
 * one common page. Each process checks every byte of what its ancestors wrote there
 * (each level and each child index has its own pattern), writes its own level's page
 * and the common page, and after each child has ended checks again that its own copy
 * is unchanged: the child's writes went to the child's copies only. A process exits
 * with the number of mismatches it found, in itself and its subtree; the root returns
 * that (0: all good).
 */
#include <stdbool.h>

#include "ulib.h"

#define PAGE 4096ul
#define LEVELS 9                     /* levels 0..8: eight levels of forks below the root */
#define BRANCHING 3                  /* levels 0..2 fork two children, the rest one */
#define WORDS (PAGE / 8)

static uint64_t *buf;                /* LEVELS level pages, then the common page */
static unsigned path[LEVELS];        /* the child index of each level on the way here */
static long nprocs;                  /* processes in this subtree, the root's count */

/* The word at index w of the page written by the process at level l, child idx. */
static uint64_t pat(unsigned l, unsigned idx, unsigned long w)
{
	return 0x9e3779b97f4a7c15ull * (l + 1) ^ (uint64_t)(idx + 1) << 56 ^ w * 0x10001ull ^
	       (uint64_t)l << 40;
}

static uint64_t *page_of(unsigned l)
{
	return buf + (unsigned long)l * WORDS;
}

static void fill(uint64_t *pg, unsigned l, unsigned idx)
{
	for (unsigned long w = 0; w < WORDS; w++)
		pg[w] = pat(l, idx, w);
}

/* Mismatching words of pg against level l, child idx (a word differs if a byte does). */
static long verify(const uint64_t *pg, unsigned l, unsigned idx)
{
	long bad = 0;
	for (unsigned long w = 0; w < WORDS; w++)
		bad += pg[w] != pat(l, idx, w);
	return bad;
}

/* Everything this process at level l must see: its ancestors' pages, its own (when
   written), the common page as the last writer at level `common` left it (the root
   finds it zero at first), and zeros in the pages of the levels below it. */
static long verify_all(unsigned l, bool own, unsigned common)
{
	long bad = 0;
	for (unsigned k = 0; k < l; k++)
		bad += verify(page_of(k), k, path[k]);
	if (own)
		bad += verify(page_of(l), l, path[l]);
	for (unsigned k = l + (own ? 1 : 0); k < LEVELS; k++)
		for (unsigned long w = 0; w < WORDS; w++)
			bad += page_of(k)[w] != 0;
	if (l == 0 && !own)                 /* the root, before it wrote anything */
		for (unsigned long w = 0; w < WORDS; w++)
			bad += page_of(LEVELS)[w] != 0;
	else
		bad += verify(page_of(LEVELS), common, path[common]);
	return bad;
}

static long run(unsigned l)
{
	long bad = verify_all(l, false, l ? l - 1 : 0);
	fill(page_of(l), l, path[l]);
	fill(page_of(LEVELS), l, path[l]);
	nprocs = 1;
	if (l + 1 < LEVELS) {
		for (unsigned c = 0; c < (l < BRANCHING ? 2u : 1u); c++) {
			path[l + 1] = c;
			long pid = fork();
			if (pid == 0) {
				long b = run(l + 1);
				/* exit code: mismatches in the low 32 bits, processes above */
				exit(b | nprocs << 32);
			}
			if (pid < 0) {
				printf("forktree: fork at level %u failed: %ld\n", l, pid);
				bad++;
				continue;
			}
			long st = 0;
			long got = wait(pid, &st);
			if (got != pid || st < 0) {
				printf("forktree: wait at level %u: %ld, status %ld\n", l, got, st);
				bad++;
				continue;
			}
			bad += st & 0xffffffff;
			nprocs += st >> 32;
			path[l + 1] = 0;
			/* Our own copy is what we wrote, whatever the child wrote into its own. */
			bad += verify_all(l, true, l);
		}
	}
	return bad;
}

long main(long arg)
{
	(void)arg;
	uintptr_t a;
	if (mmap(0, (LEVELS + 1) * PAGE, PROT_READ | PROT_WRITE, 0, &a) != 0)
		return 1;
	buf = (uint64_t *)a;
	long bad = run(0);
	printf("forktree: %ld processes in a tree %d levels deep, %ld mismatching words\n", nprocs,
	       LEVELS - 1, bad);
	long expect = 0, width = 1;
	for (unsigned l = 0; l < LEVELS; l++) {
		expect += width;
		if (l < BRANCHING)
			width *= 2;
	}
	UCHECK(nprocs == expect);
	return bad || ufailed;
}
