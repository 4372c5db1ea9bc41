/*
 * minikern/main.c - boot, then the test suite: each user program runs to its end, its
 * exit status is compared with the expected one, and every frame it used must be back
 * in pmem. Powers off with status 0 when everything passed.
 */
#include "defs.h"
#include "user/sys.h"

extern char kernelvec[];
extern size_t kstack_max;
extern uint64_t user_leaves_checked;

struct test {
	const char *prog;
	long arg;
	long expect;         /* exit status */
	const char *what;
};

static const struct test tests[] = {
	{ "hello", 0, 0, "write and exit from U-mode" },
	{ "memtest", 0, 0, "map, touch, unmap anonymous memory; bad arguments" },
	{ "spawn", 3, 0, "children spawned from a copy of the parent's image" },
	{ "stack", 64, 0, "the user stack grows on faults" },
	{ "commit", 0, 0, "memory charged at map time fails cleanly, is given back" },
	{ "bad", 0, E_FAULT, "a load from an unmapped page kills the process" },
	{ "bad", 1, E_PERM, "a store to the program's own text kills it" },
	{ "bad", 2, E_FAULT, "a load from its own trap frame (a kernel page) kills it" },
};

/*
 * With "minikern.selftest-fail" on the command line, one more test is built to fail
 * and to leak a frame: the harness (check.sh) must see both and a failure status, or
 * its verdict on the real runs could not be trusted.
 */
static const struct test selftest_fail = {
	"hello", 0, 1, "harness self-test: a wrong status and a leaked frame must be caught"
};

static bool has_word(const char *s, const char *w)
{
	size_t n = strlen(w);
	for (; *s; s++)
		if ((s[0] != ' ') && memcmp(s, w, n) == 0 && (s[n] == 0 || s[n] == ' '))
			return true;
	return false;
}

static int checks_failed;

static void check(bool ok, const char *what)
{
	if (!ok) {
		printf("FAIL %s\n", what);
		checks_failed++;
	}
}

void kmain(uint64_t hartid, uint64_t dtb)
{
	csr_write(stvec, (uint64_t)kernelvec);
	uint64_t sp;
	__asm__ volatile("mv %0, sp" : "=r"(sp));
	/* Paint the boot stack below the current frame, to measure what it ever uses. */
	for (uint64_t *w = (uint64_t *)boot_stack; (uint64_t)w < sp - 64; w++)
		*w = 0x5a5a5a5a5a5a5a5aul;

	const char *args = fdt_bootargs(dtb);
	printf("minikern: hart %lu, dtb %p, RAM %p..%p, Sv39, args \"%s\"\n", hartid,
	       (void *)dtb, (void *)KERNBASE, (void *)PHYSTOP, args);
	bool selftest = has_word(args, "minikern.selftest-fail");
	kvminit(dtb);
	kvminithart();
	procinit();
	pmem_check(&kpmem, print_line, "pmem_check: ");
	uint64_t free0 = pmem_free_frames(&kpmem), tables0 = tables_live;
	printf("minikern: paging on, %lu free frames, %lu kernel tables\n", free0, tables0);

	int passed = 0, failed = 0;
	size_t ntests = sizeof(tests) / sizeof(tests[0]);
	for (size_t i = 0; i < ntests + selftest; i++) {
		const struct test *t = i < ntests ? &tests[i] : &selftest_fail;
		long status = 0;
		int err = run_program(t->prog, t->arg, &status);
		svmm_pa_t leaked;
		if (t == &selftest_fail && pmem_alloc(&kpmem, 0, PMEM_ANY, &leaked) != 0)
			panic("selftest: no frame to leak");
		uint64_t free1 = pmem_free_frames(&kpmem);
		bool ok = err == 0 && status == t->expect;
		uint64_t committed;
		pmem_commit_stats(&kpmem, &committed, NULL);
		if (free1 != free0) {
			printf("LEAK %s %ld: %ld frames not given back\n", t->prog, t->arg,
			       (long)(free0 - free1));
			ok = false;
		}
		if (committed != 0) {
			printf("LEAK %s %ld: %lu frames still committed\n", t->prog, t->arg,
			       committed);
			ok = false;
		}
		if (ok) {
			printf("PASS %s %ld: %s\n", t->prog, t->arg, t->what);
			passed++;
		} else {
			printf("FAIL %s %ld: %s (status %ld, expected %ld)\n", t->prog, t->arg,
			       t->what, status, t->expect);
			failed++;
		}
	}

	/* The end: nothing may be left over anywhere. */
	check(pmem_check(&kpmem, print_line, "pmem_check: ") == 0, "pmem_check");
	check(pt_check(&kpt, print_line, "pt_check: ") == 0, "pt_check of the kernel table");
	check(tables_live == tables0, "every page table given back");
	check(user_leaves_checked > 0, "user leaves read with the kernel's own PTE_* macros");
	if (pmem_free_frames(&kpmem) != free0)
		printf("LEAK: %ld frames\n", (long)(free0 - pmem_free_frames(&kpmem)));
	size_t boot_used = stack_used(boot_stack);
	printf("minikern: kernel stack use: processes %lu, boot %lu of %d bytes\n",
	       kstack_max, boot_used, KSTACK_SIZE);
	/* An overflow hits a guard page and panics; this catches the creep before it. */
	check(kstack_max <= KSTACK_SIZE * 3 / 4 && boot_used <= KSTACK_SIZE * 3 / 4,
	      "kernel stacks keep a quarter free");
	failed += checks_failed;
	printf("%d passed, %d failed\n", passed, failed);
	poweroff(failed ? 1 : 0);
}
