/*
 * user/memtest.c - demand paging, stack growth, unmap and reuse, protect, hints and
 * the system calls' argument checks.
 */
#include "ulib.h"

#define PAGE 4096ul

static unsigned long deep(unsigned depth)
{
	/* About 1 KiB of stack per level: 200 levels grow the stack by ~200 KiB. */
	volatile char pad[1000];
	pad[0] = (char)depth;
	pad[999] = (char)(depth >> 8);
	if (depth == 0)
		return pad[0];
	return deep(depth - 1) + (unsigned char)pad[999] + 1;
}

long main(long arg)
{
	(void)arg;
	uintptr_t a, b;

	/* Demand paging: 64 pages, zero on first touch, touched in a scattered order. */
	UCHECK(mmap(0, 64 * PAGE, PROT_READ | PROT_WRITE, 0, &a) == 0);
	for (unsigned i = 0; i < 64; i++) {
		unsigned pg = (i * 37) % 64;
		uint64_t *p = (uint64_t *)(a + pg * PAGE);
		UCHECK(p[pg] == 0);
		p[pg] = 0x1000 + pg;
	}
	for (unsigned pg = 0; pg < 64; pg++)
		UCHECK(((uint64_t *)(a + pg * PAGE))[pg] == 0x1000 + pg);

	/* Unmap, then map the same size with the old address as hint: the range is free
	   again, it comes back, and it is zero again. */
	UCHECK(munmap(a, 64 * PAGE) == 0);
	UCHECK(mmap(a, 64 * PAGE, PROT_READ | PROT_WRITE, 0, &b) == 0);
	UCHECK(b == a);
	UCHECK(((uint64_t *)b)[0] == 0 && ((uint64_t *)(b + 5 * PAGE))[5] == 0);

	/* Partial unmap in the middle splits the region; the rest stays usable. */
	UCHECK(munmap(b + 8 * PAGE, 8 * PAGE) == 0);
	((uint64_t *)(b + 20 * PAGE))[0] = 7;
	UCHECK(((uint64_t *)(b + 20 * PAGE))[0] == 7);
	UCHECK(mmap(b + 8 * PAGE, 8 * PAGE, PROT_READ, MAP_FIXED, &a) == 0 && a == b + 8 * PAGE);
	UCHECK(((volatile uint64_t *)a)[3] == 0);

	/* MAP_FIXED over a taken range is refused; bad arguments get their codes. */
	UCHECK(mmap(b, PAGE, PROT_READ, MAP_FIXED, &a) == E_BUSY);
	UCHECK(mmap(0, 0, PROT_READ, 0, &a) == E_ZEROSIZE);
	UCHECK(mmap(0, 100, PROT_READ, 0, &a) == E_UNALIGNED);
	UCHECK(mmap(0, PAGE, PROT_WRITE | PROT_EXEC | PROT_READ, 0, &a) == E_PERM);
	UCHECK(mmap(0xffffffc000000000ul, PAGE, PROT_READ, MAP_FIXED, &a) < 0);
	UCHECK(munmap(b + 1, PAGE) == E_UNALIGNED);

	/* Protect: write, make read-only, the data stays readable. */
	UCHECK(mmap(0, 4 * PAGE, PROT_READ | PROT_WRITE, 0, &a) == 0);
	((uint64_t *)a)[0] = 42;
	UCHECK(mprotect(a, 4 * PAGE, PROT_READ) == 0);
	UCHECK(((volatile uint64_t *)a)[0] == 42);
	UCHECK(mprotect(a, 4 * PAGE, PROT_READ | PROT_WRITE) == 0);
	((uint64_t *)a)[1] = 43;
	UCHECK(((uint64_t *)a)[1] == 43);

	/* write() checks user pointers: a kernel address or an unmapped one is an error
	   for the call, not a fault of the kernel or a kill. */
	UCHECK(write((void *)0xffffffff80000000ul, 4) == E_FAULT);
	UCHECK(write((void *)0x30000000ul, 4) == E_FAULT);
	UCHECK(write((void *)(a + 4 * PAGE - 2), 4) == E_FAULT);

	/* Stack growth: ~200 KiB deep, page by page on faults. */
	UCHECK(deep(200) == 200);

	/* info() writes through copy_to_user: the counters are there, and a read-only or
	   kernel destination is refused without a kill. */
	struct sys_info si;
	UCHECK(info(&si) == 0);
	UCHECK(si.pid == getpid());
	UCHECK(si.stack_pages >= 50);        /* the 200 KiB of stack above */
	UCHECK(si.resident > si.stack_pages);   /* program pages and touched heap too */
	UCHECK(si.faults >= si.resident);
	UCHECK(mprotect(a, 4 * PAGE, PROT_READ) == 0);
	UCHECK(info((struct sys_info *)a) == E_FAULT);
	UCHECK(info((struct sys_info *)0xfffffffff0000000ul) == E_FAULT);
	/* A fresh page the destination spans is faulted in by the kernel's copy. */
	UCHECK(mmap(0, 2 * PAGE, PROT_READ | PROT_WRITE, 0, &a) == 0);
	UCHECK(info((struct sys_info *)(a + PAGE - 16)) == 0);
	UCHECK(((struct sys_info *)(a + PAGE - 16))->pid == getpid());

	printf("memtest: demand paging, unmap/reuse, split, protect, stack growth: %s\n",
	       ufailed ? "FAILED" : "ok");
	return ufailed;
}
