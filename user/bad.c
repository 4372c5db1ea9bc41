/*
 * user/bad.c - one forbidden access chosen by arg. The kernel must kill the process
 * with one line (pid, cause, address, pc) and go on; the kernel's test list says which
 * cause it expects for each arg.
 */
#include "ulib.h"

#define PAGE 4096ul

static long recurse(long n)
{
	volatile char pad[2048];
	pad[0] = (char)n;
	if (n > (1l << 40))   /* never reached: the guard stops it first */
		return 0;
	return recurse(n + 1) + pad[0];
}

static void spin_forever(long arg)
{
	for (volatile long i = arg;; i++)
		;
}

long main(long arg)
{
	uintptr_t a = 0;
	switch (arg) {
	case 0:   /* read of an address no region covers */
		return *(volatile long *)0x30000000ul;
	case 1:   /* write to a read-only region */
		mmap(0, PAGE, PROT_READ | PROT_WRITE, 0, &a);
		mprotect(a, PAGE, PROT_READ);
		*(volatile long *)a = 1;
		break;
	case 2: { /* execute from a data page */
		mmap(0, PAGE, PROT_READ | PROT_WRITE, 0, &a);
		*(volatile uint32_t *)a = 0x00008067;   /* ret */
		((void (*)(void))a)();
		break;
	}
	case 3:   /* read a kernel address */
		return *(volatile long *)0xfffffffff0000000ul;
	case 4:   /* run the stack into its guard */
		return recurse(0);
	case 5:   /* NULL pointer */
		return *(volatile long *)0;
	case 6:   /* use after munmap */
		mmap(0, PAGE, PROT_READ | PROT_WRITE, 0, &a);
		*(volatile long *)a = 1;
		munmap(a, PAGE);
		return *(volatile long *)a;
	case 7:   /* write into our own text */
		*(volatile uint32_t *)(uintptr_t)main = 0;
		break;
	case 8:   /* jump into the kernel's text (mapped executable, but without U) */
		((void (*)(void))0xfffffffff0000000ul)();
		break;
	case 9:   /* write through a kernel page (mapped writable, without U) */
		*(volatile long *)(0xfffffffff0000000ul + (2ul << 20)) = 1;
		break;
	case 10:  /* jump to an address that is not canonical in any mode */
		((void (*)(void))0x4000000000000000ul)();
		break;
	case 12:  /* a fault in one thread kills its siblings too */
		mmap(0, 16 * PAGE, PROT_READ | PROT_WRITE, 0, &a);
		thread(spin_forever, a + 16 * PAGE, 0);
		for (int i = 0; i < 4; i++)
			yield(0);
		return *(volatile long *)0;
	case 11:  /* execute a page mapped read-only, never executable */
		mmap(0, PAGE, PROT_READ, 0, &a);
		((void (*)(void))a)();
		break;
	case 13:  /* a breakpoint, with no debugger to take it */
		__asm__ volatile("ebreak");
		break;
	case 14:  /* a supervisor CSR (0x10002573: csrr a0, sstatus) */
		__asm__ volatile("csrr a0, sstatus" ::: "a0");
		break;
	}
	return 0;
}
