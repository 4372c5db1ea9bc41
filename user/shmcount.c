/*
 * user/shmcount.c - a shared counter incremented by four processes on four harts. The
 * first maps shared anonymous memory (MAP_SHARED) and forks three children; fork gives
 * each the same object. All four wait at a barrier in that memory, then each adds 1 to
 * the counter 20,000 times (amoadd) and fills its own page of the shared memory with its
 * own pattern. The parent reaps them and checks the counter (exactly 80,000) and every
 * byte of the four pages; private memory written by a child stays the parent's. The
 * shared memory goes with its last mapping (the leak check after the phase says so).
 * Also: mmap's argument errors with MAP_SHARED. Exits with the failed checks.
 */
#include "ulib.h"

#define PAGE 4096ul
#define PROCS 4
#define ROUNDS 20000

struct shared {
	volatile long counter;
	volatile long ready;
	volatile long done;
};

static uint64_t pat(unsigned who, unsigned long w)
{
	return (uint64_t)(who + 1) << 56 ^ w * 0x9e3779b97f4a7c15ull;
}

static uint64_t private_word = 11;

static void work(struct shared *sh, uint64_t *page, unsigned who)
{
	__atomic_fetch_add(&sh->ready, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE) < PROCS)
		;
	for (unsigned i = 0; i < ROUNDS; i++)
		__atomic_fetch_add(&sh->counter, 1, __ATOMIC_RELAXED);
	for (unsigned long w = 0; w < PAGE / 8; w++)
		page[w] = pat(who, w);
	__atomic_fetch_add(&sh->done, 1, __ATOMIC_ACQ_REL);
}

long main(long arg)
{
	(void)arg;
	uintptr_t a, b;
	/* Argument errors of a shared map, nothing mapped by any of them. */
	struct sys_info before, after;
	info(&before);
	UCHECK(mmap(0, 0, PROT_READ | PROT_WRITE, MAP_SHARED, &b) == E_ZEROSIZE);
	UCHECK(mmap(0x40001000ul, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, &b) == 0 &&
	       munmap(b, PAGE) == 0);
	UCHECK(mmap(0x40000800ul, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, &b) == E_UNALIGNED);
	UCHECK(mmap(~0ul & ~(PAGE - 1), 2 * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, &b) ==
	       E_OVERFLOW);
	UCHECK(mmap(0, PAGE, PROT_WRITE, MAP_SHARED, &b) == E_PERM);     /* W without R */
	UCHECK(mmap(0, 100, PROT_READ | PROT_WRITE, MAP_SHARED, &b) == E_UNALIGNED);
	UCHECK(mmap(0, PAGE, PROT_WRITE | PROT_EXEC | PROT_READ, MAP_SHARED, &b) == E_PERM);
	UCHECK(mmap(0, PAGE, PROT_READ, MAP_SHARED | 0x100, &b) == E_INVAL);
	UCHECK(mmap(0x1000, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, &b) == E_RANGE);
	info(&after);
	UCHECK(after.regions == before.regions && after.resident == before.resident);

	if (mmap(0, (PROCS + 1) * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, &a) != 0)
		return 1;
	struct shared *sh = (struct shared *)a;
	long pids[PROCS - 1];
	for (unsigned i = 1; i < PROCS; i++) {
		long pid = fork();
		if (pid == 0) {
			private_word = 100 + i;     /* private: the parent keeps 11 */
			work(sh, (uint64_t *)(a + i * PAGE), i);
			exit(private_word != 100 + i);
		}
		UCHECK(pid > 0);
		pids[i - 1] = pid;
	}
	work(sh, (uint64_t *)(a + PROCS * PAGE), 0);
	for (unsigned i = 1; i < PROCS; i++) {
		long st = -1;
		UCHECK(wait(pids[i - 1], &st) == pids[i - 1]);
		UCHECK(st == 0);
	}
	UCHECK(sh->counter == PROCS * ROUNDS);
	UCHECK(sh->done == PROCS);
	UCHECK(private_word == 11);
	long bad = 0;
	for (unsigned i = 0; i < PROCS; i++) {
		const uint64_t *page = (const uint64_t *)(a + (i ? i : PROCS) * PAGE);
		for (unsigned long w = 0; w < PAGE / 8; w++)
			bad += page[w] != pat(i, w);
	}
	UCHECK(bad == 0);
	printf("shmcount: %d processes added %ld to a shared counter, %ld words wrong\n", PROCS,
	       sh->counter, bad);
	UCHECK(munmap(a, (PROCS + 1) * PAGE) == 0);
	return ufailed;
}
