/*
 * user/forkbomb.c - a fork bomb that meets the process limit: every process forks until
 * fork fails (children three generations down stop), then reaps all its children and
 * exits with what its subtree saw. The table fills (zombies hold their slots until
 * reaped), so someone must get SVMM_ENOSPC, and nothing else may go wrong: no other
 * error, no lost child, wait ends with SVMM_ENOENT. Afterwards, with every slot back,
 * the root forks children that exit at once until the table is full again: exactly arg
 * of them fit (the free slots when it runs alone). Exits with the failed checks.
 */
#include "ulib.h"

#define MAXDEPTH 3

/* A subtree's status: bit 0 someone saw ENOSPC, bit 1 something went wrong, then the
   number of processes in the subtree. */
#define SAW 1l
#define BAD 2l

long main(long arg)
{
	unsigned depth = 0;
	long kids = 0, saw = 0, bad = 0, procs = 1;
	while (depth < MAXDEPTH) {
		long r = fork();
		if (r == 0) {
			depth++;
			kids = 0;
			continue;
		}
		if (r < 0) {
			if (r == E_NOSPC)
				saw = SAW;
			else
				bad = BAD;
			break;
		}
		kids++;
	}
	long st, pid, reaped = 0;
	while ((pid = wait(-1, &st)) > 0) {
		reaped++;
		if (st < 0) {
			bad = BAD;
			continue;
		}
		saw |= st & SAW;
		bad |= st & BAD;
		procs += st >> 2;
	}
	if (pid != E_NOENT || reaped != kids)
		bad = BAD;
	if (depth > 0)
		exit(saw | bad | procs << 2);
	printf("forkbomb: %ld processes, the table was full %s, all reaped%s\n", procs,
	       saw ? "(ENOSPC seen)" : "(never?)", bad ? ", BUT SOMETHING WENT WRONG" : "");
	UCHECK(saw);
	UCHECK(!bad);
	/* Every slot came back: exactly arg children fit now. */
	long n = 0, r;
	while ((r = fork()) > 0)
		n++;
	if (r == 0)
		exit(0);
	UCHECK(r == E_NOSPC);
	UCHECK(n == arg);
	while (wait(-1, 0) > 0)
		n--;
	UCHECK(n == 0);
	printf("forkbomb: then %ld children at once, as many as the table has free slots\n",
	       arg);
	return ufailed;
}
