/*
 * user/filemap.c - files built into the kernel, mapped through their pager.
 * arg 0: the pattern file (18,000 bytes) mapped shared (read-only) and private
 * (writable) side by side: both read the file's bytes, every byte checked, zeros past
 * its end; writing every byte of the private mapping leaves the shared one (the file)
 * unchanged, and a second private mapping still reads the file. After a fork the child
 * sees the parent's private writes, writes its own, and the parent's stay. The hello
 * file reads as its text. Then mapfile's argument errors, and mprotect may not make the
 * shared mapping writable.
 * arg 1: the broken file: its first page reads, the second fails in the pager, and the
 * process must be killed for it (usertest checks the kill line).
 */
#include "ulib.h"

#define PAGE 4096ul
#define FILE_BYTES 18000ul
#define FILE_PAGES 5ul

static const char hello[] =
	"Hello from a file built into the kernel image.\n"
	"Its pages come from a pager, one 4 KiB frame at a time.\n";

/* Byte i of the pattern file (little-endian words), 0 past its end. */
static unsigned char file_byte(unsigned long i)
{
	if (i >= FILE_BYTES)
		return 0;
	uint64_t w = 0x5ca1ab1e00000000ull + (i / 8) * 0x100010001ull;
	return (unsigned char)(w >> (i % 8 * 8));
}

static long check_file(const unsigned char *p)
{
	long bad = 0;
	for (unsigned long i = 0; i < FILE_PAGES * PAGE; i++)
		bad += p[i] != file_byte(i);
	return bad;
}

static unsigned char mine(unsigned who, unsigned long i)
{
	return (unsigned char)(i * 13 + who * 101 + (i >> 12));
}

static long check_mine(const unsigned char *p, unsigned who)
{
	long bad = 0;
	for (unsigned long i = 0; i < FILE_PAGES * PAGE; i++)
		bad += p[i] != mine(who, i);
	return bad;
}

long main(long arg)
{
	uintptr_t sh, pr, pr2, h, x;
	if (arg == 1) {
		if (mapfile(FILE_BROKEN, 0, 4 * PAGE, PROT_READ, 0, &x) != 0)
			return 1;
		const volatile unsigned char *p = (const unsigned char *)x;
		long bad = 0;
		for (unsigned long i = 0; i < PAGE; i++)
			bad += p[i] != file_byte(i);
		if (bad)
			return 2;
		(void)p[PAGE];                  /* the pager fails: killed here */
		return 3;
	}
	UCHECK(mapfile(FILE_PATTERN, 0, FILE_PAGES * PAGE, PROT_READ, MAP_SHARED, &sh) == 0);
	UCHECK(mapfile(FILE_PATTERN, 0, FILE_PAGES * PAGE, PROT_READ | PROT_WRITE, 0, &pr) == 0);
	unsigned char *s = (unsigned char *)sh, *p = (unsigned char *)pr;
	UCHECK(check_file(s) == 0);
	UCHECK(check_file(p) == 0);
	for (unsigned long i = 0; i < FILE_PAGES * PAGE; i++)
		p[i] = mine(1, i);
	UCHECK(check_mine(p, 1) == 0);
	UCHECK(check_file(s) == 0);                 /* the file did not change */
	UCHECK(mapfile(FILE_PATTERN, 0, FILE_PAGES * PAGE, PROT_READ, 0, &pr2) == 0);
	UCHECK(check_file((unsigned char *)pr2) == 0);
	/* An offset: page 2 of the file at the start of a mapping. */
	UCHECK(mapfile(FILE_PATTERN, 2 * PAGE, PAGE, PROT_READ, MAP_SHARED, &x) == 0);
	long bad = 0;
	for (unsigned long i = 0; i < PAGE; i++)
		bad += ((unsigned char *)x)[i] != file_byte(2 * PAGE + i);
	UCHECK(bad == 0);
	UCHECK(munmap(x, PAGE) == 0);

	long pid = fork();
	if (pid == 0) {
		long b = check_mine(p, 1) + check_file(s);
		for (unsigned long i = 0; i < FILE_PAGES * PAGE; i++)
			p[i] = mine(2, i);
		b += check_mine(p, 2) + check_file(s);
		exit(b);
	}
	UCHECK(pid > 0);
	long st = -1;
	UCHECK(wait(pid, &st) == pid);
	UCHECK(st == 0);
	UCHECK(check_mine(p, 1) == 0);
	UCHECK(check_file(s) == 0);

	UCHECK(mapfile(FILE_HELLO, 0, PAGE, PROT_READ, MAP_SHARED, &h) == 0);
	bad = 0;
	for (unsigned long i = 0; i < PAGE; i++)
		bad += ((unsigned char *)h)[i] != (i < sizeof hello - 1 ? (unsigned char)hello[i] : 0);
	UCHECK(bad == 0);

	/* Bad input: nothing is mapped by any of these (info's counters stay). */
	struct sys_info before, after;
	info(&before);
	long r = mapfile(FILE_PATTERN, ~0ul & ~(PAGE - 1), 2 * PAGE, PROT_READ, 0, &x);
	UCHECK(r == E_RANGE);                       /* off + size wraps: past the end */
	UCHECK(mapfile(99, 0, PAGE, PROT_READ, 0, &x) == E_NOENT);
	UCHECK(mapfile(-1, 0, PAGE, PROT_READ, 0, &x) == E_NOENT);
	UCHECK(mapfile(FILE_PATTERN, 0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, &x) == E_PERM);
	UCHECK(mapfile(FILE_PATTERN, 0, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, 0, &x) == E_PERM);
	UCHECK(mapfile(FILE_PATTERN, 100, PAGE, PROT_READ, 0, &x) == E_UNALIGNED);
	UCHECK(mapfile(FILE_PATTERN, 0, 100, PROT_READ, 0, &x) == E_UNALIGNED);
	UCHECK(mapfile(FILE_PATTERN, 0, 0, PROT_READ, 0, &x) == E_ZEROSIZE);
	UCHECK(mapfile(FILE_PATTERN, 0, 6 * PAGE, PROT_READ, 0, &x) == E_RANGE);
	UCHECK(mapfile(FILE_PATTERN, 5 * PAGE, PAGE, PROT_READ, 0, &x) == E_RANGE);
	UCHECK(mapfile(FILE_PATTERN, 0, PAGE, PROT_READ, 0x100, &x) == E_INVAL);
	UCHECK(mapfile(FILE_PATTERN, 0, PAGE, 0x40, 0, &x) == E_INVAL);
	info(&after);
	UCHECK(after.regions == before.regions && after.resident == before.resident);
	UCHECK(mprotect(sh, PAGE, PROT_READ | PROT_WRITE) == E_PERM);
	UCHECK(mprotect(pr, PAGE, PROT_READ) == 0);  /* the private one may change */
	UCHECK(check_mine(p, 1) == 0 && check_file(s) == 0);
	UCHECK(munmap(sh, FILE_PAGES * PAGE) == 0 && munmap(pr, FILE_PAGES * PAGE) == 0 &&
	       munmap(pr2, FILE_PAGES * PAGE) == 0 && munmap(h, PAGE) == 0);
	printf("filemap: private writes to a file mapping left the file (and its shared "
	       "mapping) unchanged\n");
	return ufailed;
}
