/*
 * user/stress.c - the SMP stress test's programs.
 *
 * arg < 100: a process that maps, touches, protects and unmaps memory in a loop,
 * verifying every word it wrote, with a few regions live at a time.
 * arg 100: one address space with four threads that the harts run at once: two run
 * the same loop in their own regions, and two play a TLB shootdown game on one page:
 * the reader caches the page's translation by reading it, the writer unmaps it and
 * maps a fresh page at the same address, and the reader must then see the fresh page
 * (zero), not the old frame through a stale TLB entry on its hart.
 * The exit code is the number of errors; a thread that finds one prints it.
 */
#include "ulib.h"

#define PAGE 4096ul
#define ITERS 60
#define SLOTS 4
#define ROUNDS 60
#define GAME_VA 0x50000000ul

static volatile long errors;
static volatile long finished;
static volatile long phase, ack;
static long stale_reads;

static void error(const char *what, long id, uintptr_t a)
{
	__atomic_fetch_add(&errors, 1, __ATOMIC_RELAXED);
	printf("stress %ld: %s at %p\n", id, what, (void *)a);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t tag(long id, unsigned it, uintptr_t a)
{
	return ((uint64_t)id << 48) ^ ((uint64_t)it << 32) ^ a;
}

static void verify(long id, uintptr_t a, size_t pages, unsigned it, uintptr_t hole)
{
	for (size_t i = 0; i < pages; i++) {
		uintptr_t p = a + i * PAGE;
		if (p == hole)
			continue;
		if (*(volatile uint64_t *)(p + 8 * (i % 512)) != tag(id, it, p))
			error("data lost", id, p);
	}
}

/* Unmap a slot's region around its hole: the hole may belong to a newer region now. */
static void release(long id, uintptr_t a, size_t pages, uintptr_t hole)
{
	uintptr_t end = a + pages * PAGE;
	if (!hole) {
		if (munmap(a, pages * PAGE) != 0)
			error("munmap", id, a);
		return;
	}
	if (munmap(a, hole - a) != 0 || munmap(hole + PAGE, end - hole - PAGE) != 0)
		error("munmap halves", id, a);
}

/* Map, write, verify, protect, split, unmap: ITERS times, SLOTS regions live. */
static void work(long id)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);
	struct { uintptr_t a; size_t pages; unsigned it; uintptr_t hole; } slot[SLOTS];
	memset(slot, 0, sizeof slot);
	for (unsigned it = 1; it <= ITERS; it++) {
		unsigned k = (unsigned)(rnd(&s) % SLOTS);
		if (slot[k].a) {
			verify(id, slot[k].a, slot[k].pages, slot[k].it, slot[k].hole);
			release(id, slot[k].a, slot[k].pages, slot[k].hole);
			slot[k].a = 0;
		}
		size_t pages = 1 + rnd(&s) % 12;
		uintptr_t a;
		long r = mmap(0, pages * PAGE, PROT_READ | PROT_WRITE, 0, &a);
		if (r != 0) {
			error("mmap", id, (uintptr_t)r);
			continue;
		}
		for (size_t i = 0; i < pages; i++) {
			uintptr_t p = a + i * PAGE;
			*(volatile uint64_t *)(p + 8 * (i % 512)) = tag(id, it, p);
		}
		verify(id, a, pages, it, 0);
		if (rnd(&s) & 1) {
			/* Read-only for a while: the data stays, then writable again. */
			if (mprotect(a, pages * PAGE, PROT_READ) != 0)
				error("mprotect ro", id, a);
			verify(id, a, pages, it, 0);
			if (mprotect(a, pages * PAGE, PROT_READ | PROT_WRITE) != 0)
				error("mprotect rw", id, a);
		}
		uintptr_t hole = 0;
		if (pages >= 3) {
			/* Unmap one page inside: the region splits, the rest stays. */
			hole = a + (1 + rnd(&s) % (pages - 2)) * PAGE;
			if (munmap(hole, PAGE) != 0)
				error("munmap hole", id, hole);
			verify(id, a, pages, it, hole);
		}
		slot[k].a = a;
		slot[k].pages = pages;
		slot[k].it = it;
		slot[k].hole = hole;
		if (it % 16 == 0)
			yield(0);
	}
	for (unsigned k = 0; k < SLOTS; k++)
		if (slot[k].a) {
			verify(id, slot[k].a, slot[k].pages, slot[k].it, slot[k].hole);
			release(id, slot[k].a, slot[k].pages, slot[k].hole);
		}
}

static void wait_for(volatile long *v, long want)
{
	for (unsigned spin = 0; __atomic_load_n(v, __ATOMIC_ACQUIRE) != want; spin++)
		if (spin % 4096 == 4095)
			yield(0);        /* the other side may be waiting for this hart */
}

/* The shootdown game's reader: cache the page, then it must be gone. */
static void reader(long round_count)
{
	for (long r = 1; r <= round_count; r++) {
		wait_for(&phase, 2 * r - 1);
		uint64_t v = *(volatile uint64_t *)GAME_VA;   /* translation now cached here */
		if (v != (uint64_t)r)
			error("game page before the unmap", r, v);
		__atomic_store_n(&ack, 2 * r - 1, __ATOMIC_RELEASE);
		wait_for(&phase, 2 * r);
		v = *(volatile uint64_t *)GAME_VA;
		if (v != 0) {
			stale_reads++;
			error("stale TLB entry: old frame read after munmap", r, v);
		}
		__atomic_store_n(&ack, 2 * r, __ATOMIC_RELEASE);
	}
}

static void writer(long round_count)
{
	uintptr_t a;
	for (long r = 1; r <= round_count; r++) {
		if (mmap(GAME_VA, PAGE, PROT_READ | PROT_WRITE, MAP_FIXED, &a) != 0)
			error("game mmap", r, GAME_VA);
		*(volatile uint64_t *)GAME_VA = (uint64_t)r;
		__atomic_store_n(&phase, 2 * r - 1, __ATOMIC_RELEASE);
		wait_for(&ack, 2 * r - 1);
		/* The reader's hart holds the translation: unmapping must shoot it down. */
		if (munmap(GAME_VA, PAGE) != 0 ||
		    mmap(GAME_VA, PAGE, PROT_READ | PROT_WRITE, MAP_FIXED, &a) != 0)
			error("game remap", r, GAME_VA);
		__atomic_store_n(&phase, 2 * r, __ATOMIC_RELEASE);
		wait_for(&ack, 2 * r);
		if (munmap(GAME_VA, PAGE) != 0)
			error("game munmap", r, GAME_VA);
	}
}

static void thread_main(long which)
{
	if (which == 3)
		reader(ROUNDS);
	else
		work(1000 + which);
	__atomic_fetch_add(&finished, 1, __ATOMIC_ACQ_REL);
	exit(0);
}

long main(long arg)
{
	if (arg < 100) {
		work(arg);
		return errors;
	}
	uintptr_t stacks;
	if (mmap(0, 3 * 16 * PAGE, PROT_READ | PROT_WRITE, 0, &stacks) != 0)
		return 1;
	for (long t = 1; t <= 3; t++)
		if (thread(thread_main, stacks + (uintptr_t)t * 16 * PAGE, t) <= 0)
			error("thread", t, 0);
	writer(ROUNDS);
	wait_for(&finished, 3);
	printf("stress threads: 4 threads, %d shootdown rounds, %ld stale reads, %ld errors\n",
	       ROUNDS, stale_reads, errors);
	return errors;
}
