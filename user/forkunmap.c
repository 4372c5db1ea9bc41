/*
 * user/forkunmap.c - fork while another thread of the same process maps, writes and
 * unmaps memory on another hart. The main thread forks 16 times; each child checks
 * every byte of a buffer that no thread changes, writes its own pattern into it, and
 * checks that the other thread did not come with it (POSIX fork copies only the calling
 * thread: the counter that thread advances stands still in the child). The parent reaps
 * each child, checks its status and that its own buffer is unchanged; the other thread
 * checks every word it wrote before each unmap. Exits with the number of failed checks.
 */
#include "ulib.h"

#define PAGE 4096ul
#define STABLE 8
#define VOLATILE 8
#define ROUNDS 16

static uint64_t *stable;
static uintptr_t vol;
static volatile long counter, stop, thread_done, thread_bad;

static uint64_t pat(unsigned who, unsigned long w)
{
	return (uint64_t)who << 48 ^ w * 0x9e3779b97f4a7c15ull;
}

static long check(const uint64_t *p, unsigned long words, unsigned who)
{
	long bad = 0;
	for (unsigned long w = 0; w < words; w++)
		bad += p[w] != pat(who, w);
	return bad;
}

/* Map, fill, check and unmap the volatile range until told to stop. */
static void unmapper(long arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		uintptr_t got;
		long r = mmap(vol, VOLATILE * PAGE, PROT_READ | PROT_WRITE, MAP_FIXED, &got);
		if (r != 0 || got != vol) {
			thread_bad++;
			break;
		}
		uint64_t *p = (uint64_t *)vol;
		unsigned who = (unsigned)(counter & 0xffff) + 100;
		for (unsigned long w = 0; w < VOLATILE * PAGE / 8; w++)
			p[w] = pat(who, w);
		thread_bad += check(p, VOLATILE * PAGE / 8, who);
		if (munmap(vol, VOLATILE * PAGE) != 0)
			thread_bad++;
		__atomic_fetch_add(&counter, 1, __ATOMIC_ACQ_REL);
	}
	__atomic_store_n(&thread_done, 1, __ATOMIC_RELEASE);
	exit(0);
}

long main(long arg)
{
	(void)arg;
	uintptr_t a, stk;
	/* The volatile range is reserved and freed last, so nothing else lands in it. */
	if (mmap(0, STABLE * PAGE, PROT_READ | PROT_WRITE, 0, &a) != 0 ||
	    mmap(0, 4 * PAGE, PROT_READ | PROT_WRITE, 0, &stk) != 0 ||
	    mmap(0, VOLATILE * PAGE, PROT_READ | PROT_WRITE, 0, &vol) != 0 ||
	    munmap(vol, VOLATILE * PAGE) != 0)
		return 1;
	stable = (uint64_t *)a;
	for (unsigned long w = 0; w < STABLE * PAGE / 8; w++)
		stable[w] = pat(1, w);
	if (thread(unmapper, stk + 4 * PAGE, 0) <= 0)
		return 1;
	while (__atomic_load_n(&counter, __ATOMIC_ACQUIRE) == 0 &&
	       !__atomic_load_n(&thread_done, __ATOMIC_ACQUIRE))
		yield(0);
	UCHECK(thread_bad == 0 && !thread_done);
	long c_start = counter;
	for (unsigned r = 0; r < ROUNDS; r++) {
		long pid = fork();
		if (pid == 0) {
			long bad = check(stable, STABLE * PAGE / 8, 1);
			long c0 = counter;
			for (unsigned long w = 0; w < STABLE * PAGE / 8; w++)
				stable[w] = pat(2 + r, w);
			for (int i = 0; i < 4; i++)
				yield(0);
			bad += counter != c0;          /* no unmapper thread in the child */
			bad += check(stable, STABLE * PAGE / 8, 2 + r);
			/* Whatever state the volatile range was copied in, it can go. */
			bad += munmap(vol, VOLATILE * PAGE) != 0;
			exit(bad);
		}
		UCHECK(pid > 0);
		long st = -1;
		UCHECK(wait(pid, &st) == pid);
		UCHECK(st == 0);
		UCHECK(check(stable, STABLE * PAGE / 8, 1) == 0);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&thread_done, __ATOMIC_ACQUIRE))
		yield(0);
	UCHECK(thread_bad == 0);
	UCHECK(counter > c_start);
	printf("forkunmap: %d forks while another thread unmapped %ld times\n", ROUNDS,
	       counter - c_start);
	return ufailed;
}
