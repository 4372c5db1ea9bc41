/*
 * minikern/user/spawn.c - children spawned from a copy of this program's image. A
 * child sees the parent's data as it was at spawn (not as the file had it), its own
 * changes stay its own, and its exit status comes back through wait.
 */
#include "ulib.h"

static long counter = 5;       /* .data: the file says 5 */
static char scratch[8192];     /* .bss */
static char want = 'p';        /* what a child must find in scratch[4096] */

static long child(long arg)
{
	if (counter != 100 + arg)
		return 1000;           /* did not see the parent's value at spawn */
	if (scratch[4096] != want)
		return 1001;
	counter = -1;              /* only the child's copy */
	scratch[4096] = 'c';
	puts("  child ");
	putnum(arg);
	puts(" (pid ");
	putnum(getpid());
	puts(") runs a copy of its parent\n");
	if (arg > 1) {
		/* A grandchild, spawned from the child's own (changed) image. */
		counter = 100 + arg - 1;
		want = 'c';
		long pid = spawn(child, arg - 1);
		long st = -1;
		if (pid <= 0 || wait(pid, &st) != pid || st != 2 * (arg - 1))
			return 1002;
	}
	return 2 * arg;
}

long main(long n)
{
	scratch[4096] = 'p';
	for (long i = 1; i <= n; i++) {
		counter = 100 + i;
		long pid = spawn(child, i);
		expect(pid > 0, "spawn");
		if (pid <= 0)
			return 1;
		counter = 7;           /* after the spawn: the child must not see it */
		long st = -1;
		expect(wait(pid, &st) == pid, "wait returns the child's pid");
		expect(st == 2 * i, "the child's exit status comes back");
		expect(counter == 7 && scratch[4096] == 'p', "the child's writes stay its own");
	}
	long st;
	expect(wait(12345, &st) == E_NOENT, "wait for a process that is not a child");
	/* A child left running when the parent exits is reaped by the kernel. */
	counter = 101;
	expect(spawn(child, 1) > 0, "spawn an orphan");
	return failures;
}
