/*
 * user/threads.c - one process starts and ends many more threads than the kernel has
 * process slots (NPROC, 48), four at a time: a thread's slot must come back when it
 * exits, or thread() fails with SVMM_ENOSPC long before the end (and other processes
 * could not start either). Exits with 0, or 1 when a
 * thread could not be started.
 */
#include "ulib.h"

#define PAGE 4096ul
#define TOTAL 150           /* more than three times the process table */
#define WAVE 4              /* threads alive at once */
#define STACKS 8            /* a stack is reused only two waves later */

static volatile long done_count;

static void thread_main(long n)
{
	(void)n;
	__atomic_fetch_add(&done_count, 1, __ATOMIC_ACQ_REL);
	exit(0);
}

long main(long arg)
{
	(void)arg;
	uintptr_t stacks = 0;
	if (mmap(0, STACKS * 4 * PAGE, PROT_READ | PROT_WRITE, 0, &stacks) != 0)
		return 1;
	for (long started = 0; started < TOTAL;) {
		for (int i = 0; i < WAVE && started < TOTAL; i++, started++) {
			uintptr_t top = stacks + (uintptr_t)(started % STACKS + 1) * 4 * PAGE;
			long pid = thread(thread_main, top, started);
			if (pid <= 0) {
				printf("threads: thread %ld of %d not started: %ld\n", started, TOTAL,
				       pid);
				return 1;
			}
		}
		while (__atomic_load_n(&done_count, __ATOMIC_ACQUIRE) < started)
			yield(0);
	}
	printf("threads: %d threads started and ended, %d at a time\n", TOTAL, WAVE);
	return 0;
}
