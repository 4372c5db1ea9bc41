/*
 * kernel/bench.c - `make bench-kernel`: exact instruction counts under QEMU's
 * -icount shift=0, read from instret (svmm.bench=1 on the command line).
 *
 *   fault-anon             a U-mode store to a fresh demand-zero page: instret read by
 *                          the program just before and after the store, so the count is
 *                          trap entry, aspace_fault (frame, zeroing, pt_map), return.
 *   aspace-create-destroy  in the kernel: create, map one page, fault it in, destroy.
 *   switch                 process A reads instret and passes it to yield; the kernel
 *                          switches to B, whose yield returns; B reads instret. The
 *                          difference is one trap-to-return context switch.
 * Each prints the median of its samples as one JSON line (BENCHMARKS.md).
 */
#include <svmm/aspace.h>

#include "proc.h"
#include "riscv.h"
#include "sys.h"
#include "vm.h"

#define MAX_SAMPLES 128

struct samples { uint64_t v[MAX_SAMPLES]; unsigned n; };
static struct samples fault_s, switch_s, create_s;
static uint64_t yield_tag;
static int yield_pid;

static void add(struct samples *s, uint64_t v)
{
	if (s->n < MAX_SAMPLES)
		s->v[s->n++] = v;
}

static uint64_t median(struct samples *s)
{
	/* Insertion sort: at most MAX_SAMPLES values. */
	for (unsigned i = 1; i < s->n; i++)
		for (unsigned j = i; j > 0 && s->v[j - 1] > s->v[j]; j--) {
			uint64_t t = s->v[j];
			s->v[j] = s->v[j - 1];
			s->v[j - 1] = t;
		}
	return s->n ? s->v[s->n / 2] : 0;
}

void bench_yield_tag(struct proc *p, uint64_t tag)
{
	yield_tag = tag;
	yield_pid = p->pid;
}

void bench_report(struct proc *p, long kind, uint64_t value)
{
	if (kind == REPORT_FAULT) {
		add(&fault_s, value);
	} else if (kind == REPORT_SWITCH && yield_tag && value > yield_tag && yield_pid != p->pid) {
		add(&switch_s, value - yield_tag);
		yield_tag = 0;
	}
}

static const char *mode_str(void)
{
	return boot.mode == SVMM_SV39 ? "sv39" : boot.mode == SVMM_SV48 ? "sv48" : "sv57";
}

static void print_json(const char *name, struct samples *s)
{
	kprintf("{\"bench\":\"kernel\",\"case\":\"%s\",\"mode\":\"%s\",\"harts\":1,"
		"\"instructions\":%lu,\"samples\":%u}\n", name, mode_str(),
		(unsigned long)median(s), s->n);
}

static void bench_done(void)
{
	for (unsigned i = 0; i < NPROC; i++)
		if (procs[i].state == PROC_ZOMBIE)
			proc_reap(&procs[i]);
	print_json("fault-anon", &fault_s);
	print_json("aspace-create-destroy", &create_s);
	print_json("switch", &switch_s);
	bool ok = fault_s.n > 0 && switch_s.n > 0 && create_s.n > 0;
	kprintf("%u passed, %u failed\n", ok ? 1u : 0u, ok ? 0u : 1u);
	sbi_shutdown(ok ? 0 : 1);
}

_Noreturn void bench_run(void)
{
	static struct aspace as;
	for (unsigned i = 0; i < 32; i++) {
		vm_t va;
		uint64_t t0 = r_instret();
		int err = aspace_create(&as, &kpt, &kpmem);
		if (!err)
			err = aspace_map_anon(&as, 0, SVMM_PAGE_SIZE, PT_R | PT_W, 0, &va);
		if (!err)
			err = aspace_fault(&as, va, PT_W);
		aspace_destroy(&as);
		uint64_t t1 = r_instret();
		if (err)
			panic("bench: aspace: %s", svmm_strerror(err));
		add(&create_s, t1 - t0);
	}
	/* No preemption: the fault program runs alone to its end, then the pair alternates. */
	sched_quantum = 0;
	if (!proc_spawn("bench", 0) || !proc_spawn("bench", 1) || !proc_spawn("bench", 2))
		panic("bench: spawn failed");
	proc_run_all(bench_done);
}
