/*
 * kernel/usertest.c - the user-mode tests: programs that must run to a clean exit
 * (isolation, demand paging, stack growth, unmap and reuse, protect) and programs that
 * must be killed for one bad access each, all at once in their own address spaces,
 * switched by the timer; afterwards pmem's free count must be what it was before.
 */
#include <svmm/pmem.h>

#include "cpu.h"
#include "fdt.h"
#include "files.h"
#include "kernel.h"
#include "proc.h"
#include "riscv.h"
#include "vm.h"

struct utest {
	const char *prog;
	long arg;
	bool expect_kill;
	uint64_t cause;          /* scause expected for a kill */
	bool check_addr;
	svmm_va_t addr;               /* stval expected for a kill */
	const char *what;
	const char *line;        /* for a kill: text its kill line must contain, or NULL */
	struct proc *p;
};

static struct utest utests[] = {
	{ "hello", 0, false, 0, false, 0, "hello", NULL, NULL },
	{ "isolation", 1, false, 0, false, 0, "isolation, first process", NULL, NULL },
	{ "isolation", 2, false, 0, false, 0, "isolation, second process", NULL, NULL },
	{ "memtest", 0, false, 0, false, 0, "demand paging, stack, unmap, protect", NULL, NULL },
	{ "bad", 0, true, EXC_LOAD_PAGE_FAULT, true, 0x30000000, "read of unmapped memory", NULL, NULL },
	{ "bad", 1, true, EXC_STORE_PAGE_FAULT, false, 0, "write to a read-only region", NULL, NULL },
	{ "bad", 2, true, EXC_INST_PAGE_FAULT, false, 0, "execution from a data page", NULL, NULL },
	{ "bad", 3, true, EXC_LOAD_PAGE_FAULT, true, 0xfffffffff0000000ull,
	  "read of a kernel address", NULL, NULL },
	{ "bad", 4, true, EXC_STORE_PAGE_FAULT, false, 0, "stack overflow into the guard", NULL, NULL },
	{ "bad", 5, true, EXC_LOAD_PAGE_FAULT, true, 0, "NULL pointer", NULL, NULL },
	{ "bad", 6, true, EXC_LOAD_PAGE_FAULT, false, 0, "use after munmap", NULL, NULL },
	{ "bad", 7, true, EXC_STORE_PAGE_FAULT, false, 0, "write into program text", NULL, NULL },
	{ "bad", 8, true, EXC_INST_PAGE_FAULT, true, 0xfffffffff0000000ull,
	  "jump into kernel text", NULL, NULL },
	{ "bad", 9, true, EXC_STORE_PAGE_FAULT, true, 0xfffffffff0200000ull,
	  "write to a kernel address", NULL, NULL },
	{ "bad", 10, true, EXC_INST_PAGE_FAULT, false, 0, "jump to a non-canonical address", NULL, NULL },
	{ "bad", 11, true, EXC_INST_PAGE_FAULT, false, 0, "execute a read-only page", NULL, NULL },
	{ "bad", 12, true, EXC_LOAD_PAGE_FAULT, true, 0, "NULL in one thread of two", NULL, NULL },
	/* Each cause's line says what stval means for it: the instruction's bits for an
	   illegal instruction, nothing for a breakpoint (its stval is the pc, or 0). */
	{ "bad", 13, true, EXC_BREAKPOINT, false, 0, "ebreak", "breakpoint (ebreak) at pc 0x",
	  NULL },
	{ "bad", 14, true, EXC_ILLEGAL, true, 0x10002573, "csrr sstatus in U-mode",
	  "illegal instruction 0x10002573 at pc", NULL },
	/* Floating point and vectors are off in U-mode: each use is killed, and the line
	   says why. */
	{ "fpu", 0, true, EXC_ILLEGAL, true, 0xf2050053, "FP: write f0, yield, read it back",
	  "illegal instruction 0xf2050053 at pc", NULL },
	{ "fpu", 1, true, EXC_ILLEGAL, true, 0xe2000553, "FP: read another process's f0",
	  "floating-point instruction", NULL },
	{ "fpu", 2, true, EXC_ILLEGAL, true, 0x00302573, "FP: read fcsr",
	  "floating-point instruction", NULL },
	{ "fpu", 3, true, EXC_ILLEGAL, true, 0xa022, "FP: compressed store of f8",
	  "illegal instruction 0xa022 at pc", NULL },
	{ "fpu", 4, true, EXC_ILLEGAL, true, 0x0c007557, "vector: vsetvli",
	  "vector instruction", NULL },
	{ "hostile", 0, false, 0, false, 0, "system calls with kernel pointers", NULL, NULL },
	{ "hostile", 1, false, 0, false, 0, "zero, unaligned, huge sizes, overflow", NULL, NULL },
	{ "hostile", 2, false, 0, false, 0, "fixed maps over null guard, stack, text", NULL, NULL },
	{ "hostile", 3, false, 0, false, 0, "unmap/protect of what is not ours", NULL, NULL },
	{ "hostile", 4, false, 0, false, 0, "W^X: no write+execute mapping", NULL, NULL },
	{ "hostile", 5, false, 0, false, 0, "mapping until the address space is full", NULL, NULL },
	{ "stress", 0, false, 0, false, 0, "stress: map/touch/protect/unmap, verified", NULL, NULL },
	{ "stress", 1, false, 0, false, 0, "stress: map/touch/protect/unmap, verified", NULL, NULL },
	{ "stress", 2, false, 0, false, 0, "stress: map/touch/protect/unmap, verified", NULL, NULL },
	{ "stress", 3, false, 0, false, 0, "stress: map/touch/protect/unmap, verified", NULL, NULL },
	{ "stress", 4, false, 0, false, 0, "stress: map/touch/protect/unmap, verified", NULL, NULL },
	{ "stress", 5, false, 0, false, 0, "stress: map/touch/protect/unmap, verified", NULL, NULL },
	{ "stress", 6, false, 0, false, 0, "stress: map/touch/protect/unmap, verified", NULL, NULL },
	{ "stress", 7, false, 0, false, 0, "stress: map/touch/protect/unmap, verified", NULL, NULL },
	{ "threads", 0, false, 0, false, 0, "150 threads in turn, more than the slots", NULL,
	  NULL },
	{ "stress", 100, false, 0, false, 0, "stress: 4 threads, shootdown game", NULL, NULL },
};

/*
 * fork and wait (after the programs above, on their own): a fork tree eight levels
 * deep, parent and child writing the same pages, fork while another thread unmaps;
 * shared anonymous memory (a counter four processes increment) and files mapped
 * private and shared, including one whose pager fails;
 * then the fork bomb alone, since it fills the process table on purpose (arg: the
 * slots free while it runs, all but its own).
 */
static struct utest fork_tests[] = {
	{ "forktree", 0, false, 0, false, 0, "fork tree 8 levels deep, every copy verified",
	  NULL, NULL },
	{ "cow", 0, false, 0, false, 0, "parent and child write the same pages", NULL, NULL },
	{ "forkunmap", 0, false, 0, false, 0, "fork while another thread unmaps", NULL, NULL },
	{ "shmcount", 0, false, 0, false, 0, "shared counter, four processes", NULL, NULL },
	{ "filemap", 0, false, 0, false, 0, "private file mapping beside a shared one", NULL,
	  NULL },
	{ "filemap", 1, true, EXC_LOAD_PAGE_FAULT, false, 0, "a file whose pager fails",
	  "I/O error: the file's pager failed", NULL },
	{ "huge", 0, false, 0, false, 0, "64 MiB touched: 2 MiB pages, split by fork and unmap",
	  NULL, NULL },
};
static struct utest bomb_tests[] = {
	{ "forkbomb", NPROC - 1, false, 0, false, 0, "fork bomb meets the process limit",
	  NULL, NULL },
};

static uint64_t free_before, tables_before;
static struct proc *hog;
static uint64_t phase_t0;                /* time CSR at the start of the running phase */

/* Milliseconds since the phase began (host time: QEMU's timebase follows the host
   clock), so that a slow phase shows in the log. */
static unsigned long phase_ms(void)
{
	return (unsigned long)((r_time() - phase_t0) * 1000 / timebase_hz);
}

/* Out of memory: the hog must be killed with ENOMEM and give every frame back. */
static void hog_done(void)
{
	bool ok = hog->killed && hog->kill_err == SVMM_ENOMEM &&
		  hog->kill_cause == EXC_STORE_PAGE_FAULT;
	kprintf("  %-4s pid %-2d %-9s %ld: %s (%s, %lu ms)\n", ok ? "ok" : "FAIL", hog->pid, "hog",
		0l, "running out of memory", hog->killed ? "killed" : "exited", phase_ms());
	ktest_check(ok, "hog killed for out of memory", __FILE__, __LINE__);
	proc_reap(hog);
	uint64_t free_after = pmem_free_frames(&kpmem);
	kprintf("leak check after out-of-memory: pmem free frames %lu before, %lu after; "
		"page-table frames %lu before, %lu after\n", (unsigned long)free_before,
		(unsigned long)free_after, (unsigned long)tables_before,
		(unsigned long)vm_tables_live);
	if (free_after != free_before || vm_tables_live != tables_before)
		kprintf("LEAK: %ld frames, %ld table frames not returned after out-of-memory\n",
			(long)(free_before - free_after), (long)(vm_tables_live - tables_before));
	KCHECK_EQ(free_after, free_before);
	KCHECK_EQ(vm_tables_live, tables_before);
	KCHECK_EQ(pmem_check(&kpmem, NULL, NULL), 0);
	KCHECK_EQ(pt_check(&kpt, NULL, NULL), 0);
	selftest_finish();
}

static _Noreturn void hog_run(void)
{
	kprintf("out-of-memory test: one process touches pages until RAM runs out\n");
	phase_t0 = r_time();
	hog = proc_spawn("hog", 0);
	if (!hog)
		panic("could not start hog");
	proc_run_all(hog_done);
}

/* Start a group of programs; done() runs when the last process is gone. */
static _Noreturn void run_group(struct utest *g, unsigned n, void (*done)(void))
{
	phase_t0 = r_time();
	for (unsigned i = 0; i < n; i++) {
		g[i].p = proc_spawn(g[i].prog, g[i].arg);
		if (!g[i].p)
			panic("could not start %s %ld", g[i].prog, g[i].arg);
	}
	proc_run_all(done);
}

/* Report and reap a finished group: each program must have exited with 0, or have
   been killed as expected. */
static void group_results(struct utest *g, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct utest *t = &g[i];
		struct proc *p = t->p;
		bool ok = t->expect_kill ? p->killed && p->kill_cause == t->cause &&
					   (!t->line || strstr(p->kill_line, t->line)) :
			  !p->killed && p->exit_code == 0;
		kprintf("  %-4s pid %-2d %-9s %ld: %s (%s, status %ld)\n", ok ? "ok" : "FAIL", p->pid,
			t->prog, t->arg, t->what, p->killed ? "killed" : "exited", p->exit_code);
		ktest_check(ok, t->what, __FILE__, __LINE__);
		proc_reap(p);
	}
}

/* Every slot is free and every frame and table frame is back (after a phase). */
static void leak_check(const char *after)
{
	/* The files' page cache is the kernel's: it goes first, then every frame must be
	   back. */
	files_drop();
	unsigned left = 0;
	for (unsigned i = 0; i < NPROC; i++)
		left += procs[i].state != PROC_FREE;
	KCHECK_EQ(left, 0);
	uint64_t free_after = pmem_free_frames(&kpmem);
	kprintf("leak check after %s: pmem free frames %lu before, %lu after; page-table "
		"frames %lu before, %lu after; %u process slots in use\n", after,
		(unsigned long)free_before, (unsigned long)free_after,
		(unsigned long)tables_before, (unsigned long)vm_tables_live, left);
	if (free_after != free_before || vm_tables_live != tables_before)
		kprintf("LEAK: %ld frames, %ld table frames not returned after %s\n",
			(long)(free_before - free_after), (long)(vm_tables_live - tables_before), after);
	KCHECK_EQ(free_after, free_before);
	KCHECK_EQ(vm_tables_live, tables_before);
	KCHECK_EQ(pmem_check(&kpmem, NULL, NULL), 0);
	KCHECK_EQ(pt_check(&kpt, NULL, NULL), 0);
}

static void bomb_done(void)
{
	kprintf("fork bomb finished (%lu ms):\n", phase_ms());
	group_results(bomb_tests, ARRAY_SIZE(bomb_tests));
	leak_check("the fork bomb");
	proc_fork_check = false;
	hog_run();
}

static void fork_tests_done(void)
{
	kprintf("fork programs finished (%lu ms):\n", phase_ms());
	group_results(fork_tests, ARRAY_SIZE(fork_tests));
	leak_check("the fork programs");
	kprintf("fork bomb: one process forks until the process table is full\n");
	run_group(bomb_tests, ARRAY_SIZE(bomb_tests), bomb_done);
}

static _Noreturn void fork_run(void)
{
	/* aspace_check of parent and child after every fork: the invariants hold with
	   another thread unmapping during the clone. */
	proc_fork_check = true;
	kprintf("fork tests: %u programs (fork, copy-on-write, wait)\n",
		(unsigned)ARRAY_SIZE(fork_tests));
	run_group(fork_tests, ARRAY_SIZE(fork_tests), fork_tests_done);
}

static void user_tests_done(void)
{
	unsigned threads_exited = 0, threads_killed = 0, doomed = 0;
	kprintf("user programs finished (%lu ms):\n", phase_ms());
	for (unsigned i = 0; i < ARRAY_SIZE(utests); i++) {
		struct utest *t = &utests[i];
		struct proc *p = t->p;
		bool ok;
		if (t->expect_kill)
			ok = p->killed && p->kill_cause == t->cause &&
			     (!t->check_addr || p->kill_addr == t->addr) &&
			     (!t->line || strstr(p->kill_line, t->line));
		else
			ok = !p->killed && p->exit_code == 0;
		kprintf("  %-4s pid %-2d %-9s %ld: %s (%s)\n", ok ? "ok" : "FAIL", p->pid, t->prog,
			t->arg, t->what, p->killed ? "killed" : "exited");
		ktest_check(ok, t->what, __FILE__, __LINE__);
		threads_exited += p->threads_exited;
		threads_killed += p->threads_killed;
		if (strcmp(t->prog, "bad") == 0 && t->arg == 12)
			doomed += p->threads_killed;
		proc_reap(p);
	}
	/* The threads: the stress test's three exit cleanly; bad 12's spinning thread
	   must have been killed with its process; the threads program's 150 exit. Each
	   thread's slot was freed when it ended, so none is left. */
	KCHECK_EQ(threads_exited, 3 + 150);
	KCHECK_EQ(threads_killed, 1);
	KCHECK_EQ(doomed, 1);
	unsigned left = 0;
	for (unsigned i = 0; i < NPROC; i++)
		left += procs[i].state != PROC_FREE;
	KCHECK_EQ(left, 0);
	for (unsigned i = 0; i < ncpu; i++)
		kprintf("hart %lu: %lu entries to U-mode from idle, %lu switches, %lu shootdowns sent, "
			"%lu idle loops\n", (unsigned long)cpus[i].hartid,
			(unsigned long)cpus[i].user_entries, (unsigned long)cpus[i].switches,
			(unsigned long)cpus[i].shootdowns_sent, (unsigned long)cpus[i].idle_loops);
	/* Every hart ran processes, and remote shootdowns happened. */
	if (ncpu > 1) {
		for (unsigned i = 0; i < ncpu; i++)
			KCHECK(cpus[i].switches > 0);
		KCHECK(smp_remote_flushes > 0);
	}
	uint64_t free_after = pmem_free_frames(&kpmem);
	kprintf("leak check: pmem free frames %lu before the programs, %lu after; "
		"page-table frames %lu before, %lu after\n", (unsigned long)free_before,
		(unsigned long)free_after, (unsigned long)tables_before,
		(unsigned long)vm_tables_live);
	if (free_after != free_before || vm_tables_live != tables_before)
		kprintf("LEAK: %ld frames, %ld table frames not returned\n",
			(long)(free_before - free_after), (long)(vm_tables_live - tables_before));
	kprintf("statistics: %lu context switches, %lu timer ticks, %lu system calls, "
		"%lu demand-zero faults, %lu kills, %lu kmaps, %lu TLB flush calls, "
		"%lu remote shootdowns\n",
		(unsigned long)proc_counters.switches, (unsigned long)proc_counters.ticks,
		(unsigned long)proc_counters.syscalls, (unsigned long)proc_counters.faults,
		(unsigned long)proc_counters.kills, (unsigned long)vm_kmaps,
		(unsigned long)vm_flushes, (unsigned long)smp_remote_flushes);
	/* With RAM above the direct-map window, user frames come from there (pmem serves
	   unlimited requests from the top), so the kmap path must have been used. */
	if (vm_dmap_end < fdt.ram[fdt.nram - 1].base + fdt.ram[fdt.nram - 1].size)
		KCHECK(vm_kmaps > 100);
	KCHECK(proc_counters.ticks > 0);   /* preemption by the timer happened */
	KCHECK_EQ(free_after, free_before);
	KCHECK_EQ(vm_tables_live, tables_before);
	KCHECK_EQ(pmem_check(&kpmem, NULL, NULL), 0);
	KCHECK_EQ(vmem_check(&karena, NULL, NULL), 0);
	KCHECK_EQ(pt_check(&kpt, NULL, NULL), 0);
	fork_run();
}

_Noreturn void selftest_user_run(void)
{

	free_before = pmem_free_frames(&kpmem);
	tables_before = vm_tables_live;
	sched_ncpu = ncpu;
	phase_t0 = r_time();
	kprintf("starting %u user processes\n", (unsigned)ARRAY_SIZE(utests));
	for (unsigned i = 0; i < ARRAY_SIZE(utests); i++) {
		utests[i].p = proc_spawn(utests[i].prog, utests[i].arg);
		if (!utests[i].p)
			panic("could not start %s %ld", utests[i].prog, utests[i].arg);
	}
	proc_run_all(user_tests_done);
}
