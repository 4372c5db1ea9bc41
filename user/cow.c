/*
 * user/cow.c - parent and child write the same pages after fork, and each sees only its
 * own writes. Round 1: both overwrite all 16 pages of a buffer (and a global) with their
 * own patterns, yielding in between, and check every byte; each of the parent's writes
 * is a copy-on-write fault (info's cow_faults says so). Round 2: the parent writes the
 * even pages and the child the odd ones; each must still see the other pages as they
 * were at the fork. Round 3: a child that is killed (NULL store) is reaped with
 * WAIT_KILLED, and the parent's memory is untouched. Then wait's errors: no child, a
 * pid that is not a child, a status pointer into the kernel (the child stays to be
 * reaped properly). Exits with the number of failed checks.
 */
#include "ulib.h"

#define PAGE 4096ul
#define NPAGES 16
#define WORDS (NPAGES * PAGE / 8)

static uint64_t *buf;
static volatile long global = 1;

static uint64_t pat(unsigned who, unsigned long w)
{
	return (uint64_t)who * 0x0101010101010101ull ^ w * 0x9e3779b1ull;
}

static void fill_pages(unsigned who, unsigned first, unsigned step)
{
	for (unsigned pg = first; pg < NPAGES; pg += step)
		for (unsigned long w = pg * PAGE / 8; w < (pg + 1) * PAGE / 8; w++)
			buf[w] = pat(who, w);
}

/* Mismatching words: pages first, first + step, ... hold who's pattern. */
static long check_pages(unsigned who, unsigned first, unsigned step)
{
	long bad = 0;
	for (unsigned pg = first; pg < NPAGES; pg += step)
		for (unsigned long w = pg * PAGE / 8; w < (pg + 1) * PAGE / 8; w++)
			bad += buf[w] != pat(who, w);
	return bad;
}

long main(long arg)
{
	(void)arg;
	uintptr_t a;
	if (mmap(0, NPAGES * PAGE, PROT_READ | PROT_WRITE, 0, &a) != 0)
		return 1;
	buf = (uint64_t *)a;
	fill_pages(1, 0, 1);

	/* Round 1: both write everything. */
	long pid = fork();
	if (pid == 0) {
		long bad = check_pages(1, 0, 1) + (global != 1);
		fill_pages(2, 0, 1);
		global = 2;
		for (int i = 0; i < 5; i++)
			yield(0);
		bad += check_pages(2, 0, 1) + (global != 2);
		exit(bad);
	}
	UCHECK(pid > 0);
	struct sys_info before, after;
	info(&before);
	fill_pages(3, 0, 1);
	info(&after);
	/* One fault per page, a few more for the stack page info() writes into. */
	UCHECK(after.cow_faults - before.cow_faults >= NPAGES);
	UCHECK(after.cow_faults - before.cow_faults <= NPAGES + 4);
	global = 3;
	for (int i = 0; i < 5; i++)
		yield(0);
	UCHECK(check_pages(3, 0, 1) == 0);
	long st = -1;
	UCHECK(wait(pid, &st) == pid);
	UCHECK(st == 0);
	UCHECK(check_pages(3, 0, 1) == 0 && global == 3);

	/* Round 2: the parent writes the even pages, the child the odd ones. */
	pid = fork();
	if (pid == 0) {
		fill_pages(5, 1, 2);
		for (int i = 0; i < 3; i++)
			yield(0);
		exit(check_pages(5, 1, 2) + check_pages(3, 0, 2) + (global != 3));
	}
	UCHECK(pid > 0);
	fill_pages(4, 0, 2);
	for (int i = 0; i < 3; i++)
		yield(0);
	UCHECK(check_pages(4, 0, 2) == 0);
	UCHECK(check_pages(3, 1, 2) == 0);
	st = -1;
	UCHECK(wait(-1, &st) == pid);
	UCHECK(st == 0);
	UCHECK(check_pages(4, 0, 2) == 0 && check_pages(3, 1, 2) == 0);

	/* Round 3: a child killed for a NULL store is reaped as killed. */
	pid = fork();
	if (pid == 0) {
		fill_pages(6, 0, 1);
		*(volatile long *)0 = 1;
		exit(0);
	}
	UCHECK(pid > 0);
	st = 0;
	UCHECK(wait(pid, &st) == pid);
	UCHECK(st == WAIT_KILLED);
	UCHECK(check_pages(4, 0, 2) == 0 && check_pages(3, 1, 2) == 0);

	/* wait's errors. */
	UCHECK(wait(-1, &st) == E_NOENT);
	pid = fork();
	if (pid == 0)
		exit(7);
	UCHECK(pid > 0);
	UCHECK(wait(pid + 1000, &st) == E_NOENT);
	UCHECK(wait(1, &st) == E_NOENT);            /* pid 1 is not our child */
	UCHECK(wait(pid, (long *)0xfffffffff0000000ul) == E_FAULT);
	st = 0;
	UCHECK(wait(pid, &st) == pid);
	UCHECK(st == 7);
	UCHECK(wait(pid, &st) == E_NOENT);
	printf("cow: parent and child wrote the same pages and saw only their own writes\n");
	return ufailed;
}
