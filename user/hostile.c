/*
 * user/hostile.c - system calls a hostile or broken program might make, one group per
 * arg, each group in its own process. Every call must come back with its documented
 * error code (docs/kernel.md, "Hostile programs"), never kill the caller or upset the
 * kernel, and leave the process's memory as it was: after each group the program
 * checks that a page it wrote still holds its data and that its counters (regions,
 * resident pages) did not move. The exit code is the number of failed checks.
 */
#include "ulib.h"

#define PAGE 4096ul
#define KERNEL_PTR 0xfffffffff0000000ul    /* the kernel image: mapped, not U */
#define DMAP_PTR   0xffffffc000000000ul    /* somewhere in the kernel half (Sv39 dmap) */

/* Expect exactly code from a call; print what came back when it differs. */
#define EXPECT(call, code) do { long r_ = (call); if (r_ != (code)) { ufailed++; \
	printf("user FAIL: %s = %ld, expected %ld (%s:%d)\n", #call, r_, (long)(code), \
	       __FILE__, __LINE__); } } while (0)

static uintptr_t probe;          /* a written page whose data must survive */
static struct sys_info before;

static void snapshot(void)
{
	UCHECK(mmap(0, PAGE, PROT_READ | PROT_WRITE, 0, &probe) == 0);
	for (unsigned i = 0; i < PAGE / 8; i++)
		((uint64_t *)probe)[i] = 0x5a5a0000u + i;
	UCHECK(info(&before) == 0);
}

/* Nothing the refused calls did may show: same regions, same resident pages, data. */
static void unchanged(const char *group)
{
	struct sys_info now;
	UCHECK(info(&now) == 0);
	UCHECK(now.regions == before.regions);
	UCHECK(now.resident == before.resident);
	for (unsigned i = 0; i < PAGE / 8; i++)
		if (((uint64_t *)probe)[i] != 0x5a5a0000u + i) {
			ufailed++;
			printf("user FAIL: %s: probe page word %u changed\n", group, i);
			break;
		}
	printf("hostile: %s: %s\n", group, ufailed ? "FAILED" : "ok");
}

/* 0: kernel pointers handed to every call that takes one. */
static void kernel_pointers(void)
{
	uintptr_t a = 0;
	EXPECT(write((void *)KERNEL_PTR, 8), E_FAULT);
	EXPECT(write((void *)DMAP_PTR, 8), E_FAULT);
	EXPECT(write((void *)(uintptr_t)-8, 16), E_FAULT);          /* wraps past 2^64 */
	EXPECT(info((struct sys_info *)KERNEL_PTR), E_FAULT);
	EXPECT(info((struct sys_info *)DMAP_PTR), E_FAULT);
	EXPECT(mmap(KERNEL_PTR, PAGE, PROT_READ, MAP_FIXED, &a), E_RANGE);
	EXPECT(mmap(DMAP_PTR, PAGE, PROT_READ | PROT_WRITE, MAP_FIXED, &a), E_RANGE);
	EXPECT(munmap(KERNEL_PTR, PAGE), E_RANGE);
	EXPECT(munmap(DMAP_PTR, 1ul << 30), E_RANGE);
	EXPECT(mprotect(KERNEL_PTR, PAGE, PROT_READ | PROT_WRITE), E_RANGE);
	/* A hint in the kernel half is only a preference: the call places it elsewhere. */
	UCHECK(mmap(KERNEL_PTR, PAGE, PROT_READ, 0, &a) == 0 && a < 0x8000000000000000ul);
	UCHECK(munmap(a, PAGE) == 0);
	/* A thread entering at a kernel address, or with its stack there, is refused. */
	EXPECT(thread((void (*)(long))KERNEL_PTR, probe + PAGE, 0), E_RANGE);
	EXPECT(thread((void (*)(long))(uintptr_t)main, KERNEL_PTR, 0), E_RANGE);
	EXPECT(thread((void (*)(long))(uintptr_t)main, probe + 8, 0), E_UNALIGNED);
	/* An unknown system call and bad prot/flags bits. */
	EXPECT(syscall4(999, 0, 0, 0, 0), E_INVAL);
	EXPECT(syscall4(-1, 0, 0, 0, 0), E_INVAL);
	EXPECT(mmap(0, PAGE, 0x100 | PROT_READ, 0, &a), E_INVAL);
	EXPECT(mmap(0, PAGE, PROT_READ, 0x80, &a), E_INVAL);
	EXPECT(mprotect(probe, PAGE, 0x1 | PROT_READ), E_INVAL);
}

/* 1: zero, unaligned, huge sizes and addr + size that wraps. */
static void sizes(void)
{
	uintptr_t a = 0;
	EXPECT(mmap(0, 0, PROT_READ, 0, &a), E_ZEROSIZE);
	EXPECT(mmap(0, PAGE + 1, PROT_READ, 0, &a), E_UNALIGNED);
	EXPECT(mmap(0x10000001ul, PAGE, PROT_READ, MAP_FIXED, &a), E_UNALIGNED);
	EXPECT(mmap(0, ~0ul & ~(PAGE - 1), PROT_READ, 0, &a), E_NOSPC);
	EXPECT(mmap(0, 1ul << 62, PROT_READ, 0, &a), E_NOSPC);
	EXPECT(mmap(0x10000000ul, 1ul << 62, PROT_READ, MAP_FIXED, &a), E_RANGE);
	EXPECT(mmap(0x10000000ul, ~0ul & ~(PAGE - 1), PROT_READ, MAP_FIXED, &a), E_OVERFLOW);
	EXPECT(munmap(probe, 0), E_ZEROSIZE);
	EXPECT(munmap(probe, 3), E_UNALIGNED);
	EXPECT(munmap(probe, ~0ul & ~(PAGE - 1)), E_OVERFLOW);
	EXPECT(munmap(probe, 1ul << 62), E_RANGE);
	EXPECT(mprotect(probe, 0, PROT_READ), E_ZEROSIZE);
	EXPECT(mprotect(probe + 8, PAGE, PROT_READ), E_UNALIGNED);
	EXPECT(mprotect(probe, ~0ul & ~(PAGE - 1), PROT_READ), E_OVERFLOW);
	EXPECT(write((void *)probe, 1ul << 40), E_RANGE);
	EXPECT(write((void *)probe, ~0ul), E_RANGE);
}

/* 2: fixed mappings over the null guard, the stack and the program itself. */
static void fixed_mappings(void)
{
	uintptr_t a = 0;
	uintptr_t sp = (uintptr_t)&a & ~(PAGE - 1);
	EXPECT(mmap(0, PAGE, PROT_READ, MAP_FIXED, &a), E_RANGE);
	EXPECT(mmap(PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_FIXED, &a), E_RANGE);
	EXPECT(mmap(0, 0x20000ul, PROT_READ, MAP_FIXED, &a), E_RANGE);
	EXPECT(mmap(sp, PAGE, PROT_READ | PROT_WRITE, MAP_FIXED, &a), E_RANGE);
	EXPECT(mmap(sp - (64ul << 20), 128ul << 20, PROT_READ, MAP_FIXED, &a), E_RANGE);
	/* The program's own text and the probe page are taken: no silent replacement. */
	EXPECT(mmap((uintptr_t)main & ~(PAGE - 1), PAGE, PROT_READ | PROT_WRITE, MAP_FIXED, &a),
	       E_BUSY);
	EXPECT(mmap(probe, PAGE, PROT_READ | PROT_WRITE, MAP_FIXED, &a), E_BUSY);
}

/* 3: unmap and protect what is not this process's to change. */
static void not_owned(void)
{
	uintptr_t sp = (uintptr_t)&sp & ~(PAGE - 1);
	EXPECT(munmap(0, PAGE), E_RANGE);                 /* the null guard */
	EXPECT(munmap(sp, PAGE), E_RANGE);                /* the stack is the kernel's */
	EXPECT(mprotect(sp, PAGE, PROT_READ), E_RANGE);
	EXPECT(mprotect(0, PAGE, PROT_READ), E_RANGE);
	/* A hole: protect needs the whole range mapped; munmap of nothing is a no-op. */
	EXPECT(mprotect(0x30000000ul, PAGE, PROT_READ), E_NOENT);
	uintptr_t a = 0;
	UCHECK(mmap(0x40000000ul, PAGE, PROT_READ, MAP_FIXED, &a) == 0 && a == 0x40000000ul);
	EXPECT(mprotect(a, 2 * PAGE, PROT_READ | PROT_WRITE), E_NOENT);
	EXPECT(mprotect(a - PAGE, 2 * PAGE, PROT_READ | PROT_WRITE), E_NOENT);
	UCHECK(munmap(a, PAGE) == 0);
	EXPECT(munmap(0x30000000ul, 16 * PAGE), 0);
}

/* 4: W^X: no call may produce a writable and executable user page. */
static void write_exec(void)
{
	uintptr_t a = 0;
	EXPECT(mmap(0, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, 0, &a), E_PERM);
	EXPECT(mmap(0, PAGE, PROT_WRITE | PROT_EXEC, 0, &a), E_PERM);
	EXPECT(mmap(0, PAGE, PROT_WRITE, 0, &a), E_PERM);           /* W without R */
	EXPECT(mprotect(probe, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC), E_PERM);
	EXPECT(mprotect((uintptr_t)main & ~(PAGE - 1), PAGE, PROT_READ | PROT_WRITE | PROT_EXEC),
	       E_PERM);
	EXPECT(mprotect(probe, PAGE, 0), E_PERM);
	/* The allowed road, W then X, takes two calls and leaves no page both. */
	UCHECK(mmap(0, PAGE, PROT_READ | PROT_WRITE, 0, &a) == 0);
	*(volatile uint32_t *)a = 0x00008067;   /* ret */
	UCHECK(mprotect(a, PAGE, PROT_READ | PROT_EXEC) == 0);
	__asm__ volatile("fence.i" ::: "memory");
	((void (*)(void))a)();
	UCHECK(munmap(a, PAGE) == 0);
}

/* 5: map address space until there is none left (nothing touched, so no frames). */
static void map_until_full(void)
{
	uintptr_t a, first = 0;
	unsigned long size = 1ul << 60, total = 0;
	unsigned n = 0;
	while (size >= PAGE) {
		long r = mmap(0, size, PROT_READ, 0, &a);
		if (r == 0) {
			if (!first)
				first = a;
			total += size;
			n++;
		} else if (r == E_NOSPC) {
			size >>= 1;
		} else {
			EXPECT(r, E_NOSPC);
			break;
		}
	}
	EXPECT(mmap(0, PAGE, PROT_READ, 0, &a), E_NOSPC);
	/* The data of the probe page is untouched, and reads of a full space still work. */
	UCHECK(*(volatile uint64_t *)first == 0);
	printf("hostile: mapped %u regions, %lu GiB, until the address space was full\n", n,
	       total >> 30);
	UCHECK(n > 0 && total > (1ul << 37));
	/* The regions are all there and one page (the read) is resident: nothing else.
	   Adjacent anonymous regions with the same permissions merge (aspace), so the n
	   maps make at least one region and at most n. */
	struct sys_info si;
	UCHECK(info(&si) == 0);
	UCHECK(si.regions >= before.regions + 1 && si.regions <= before.regions + n);
	UCHECK(si.resident == before.resident + 1);
	before = si;
}

long main(long arg)
{
	snapshot();
	switch (arg) {
	case 0: kernel_pointers(); unchanged("kernel pointers"); break;
	case 1: sizes(); unchanged("sizes and overflow"); break;
	case 2: fixed_mappings(); unchanged("fixed mappings over guard and stack"); break;
	case 3: not_owned(); unchanged("unmap/protect of what is not ours"); break;
	case 4: write_exec(); unchanged("W^X"); break;
	case 5: map_until_full(); unchanged("mapping until the space is full"); break;
	default: return 99;
	}
	return ufailed;
}
