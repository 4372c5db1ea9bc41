/*
 * kernel/bench.c - `make bench-kernel`: exact instruction counts under QEMU's
 * -icount shift=0, read from instret (svmm.bench=1 on the command line).
 *
 *   fault-anon             a U-mode store to a fresh demand-zero page: instret read by
 *                          the program just before and after the store, so the count is
 *                          trap entry, aspace_fault (frame, zeroing, pt_map), return.
 *   aspace-create-destroy  in the kernel: create, map one page, fault it in, destroy;
 *                          the line also gives each of the four steps' median.
 *   switch                 process A reads instret and passes it to yield; the kernel
 *                          switches to B, whose yield returns; B reads instret. The
 *                          difference is one trap-to-return context switch.
 *   fault-smp              fault-anon measured while 1, 2 or 4 harts fault at once,
 *                          each in its own address space (harts = how many).
 *   shootdown-remote       instructions on the sending hart of one shootdown to 1 or 3
 *                          other (idle) harts: post, IPI, wait for the acknowledgements.
 *   fork-cow               fork of a process with 256 resident writable pages, instret
 *                          around the call in the parent (trap, new process, aspace_create,
 *                          aspace_clone, return), divided by 256: instructions per resident
 *                          page. Also printed: the whole fork, the same fork with the
 *                          256 pages unmapped (what a fork costs without them), and what
 *                          the fork leaves for later: the child's first read of a page it
 *                          shares (trap to return: the minor fault that maps the parent's
 *                          frame read-only; the child's page tables start empty).
 *   cow-fault              in the child, one store to a page it has read (mapped read-only,
 *                          shared with the parent, which sleeps in wait): trap entry,
 *                          aspace_fault (a new frame, the 4 KiB copy, the leaf replaced),
 *                          return. Both on one hart (the others idle), so that no
 *                          shootdown goes to another hart. The child's first store is
 *                          printed apart (first_write_instructions): the fork shares the
 *                          parent's leaf index nodes, and the first write into one also
 *                          copies it (a reference on each of its frames), the work a
 *                          fork that copied the nodes did up front.
 *   fault-2m               a U-mode store into an untouched, aligned 2 MiB of a large
 *                          anonymous region: one 2 MiB page (512 frames zeroed), trap to
 *                          return. Also printed: what zeroing 512 frames through the direct
 *                          map costs alone (measured here), and the rest in per mille.
 *   fault-smp-seconds      (svmm.bench=2, without -icount) host seconds for 4096 faults
 *                          per hart with 1, 2 or 4 harts at once; the guest's timebase
 *                          follows the host clock when QEMU runs without -icount.
 * Each prints the median of its samples as one JSON line (BENCHMARKS.md).
 */
#include <svmm/aspace.h>

#include "bench.h"
#include "cpu.h"
#include "proc.h"
#include "riscv.h"
#include "sys.h"
#include "vm.h"

#define MAX_SAMPLES 128

struct samples { uint64_t v[MAX_SAMPLES]; unsigned n; };
static struct samples fault_s, switch_s, create_s, fork_s, fork_small_s, cow_s, fork_read_s;
static struct samples cow_first_s;       /* a child's first write: the node copy too */
static struct samples create_parts[4];   /* create, map, first fault, destroy */
static struct samples huge_s, zero2m_s;
static struct samples smp_s[3], shoot_s[2];
static struct svmm_lock bench_lock;      /* smp_s: harts report at once */
static const unsigned phase_harts[3] = { 1, 2, 4 };
static unsigned phase, nphases;
static uint64_t phase_t0;
static bool timed;                       /* svmm.bench=2 */
static uint64_t yield_tag;
static unsigned fork_ncpu;               /* sched_ncpu before the fork phase */
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

static void bench_yield_tag(struct proc *p, uint64_t tag)
{
	yield_tag = tag;
	yield_pid = p->pid;
}

static void bench_report(struct proc *p, long kind, uint64_t value)
{
	if (kind == REPORT_FAULT) {
		add(&fault_s, value);
	} else if (kind == REPORT_FAULT_SMP) {
		port_lock(&bench_lock);
		add(&smp_s[phase], value);
		port_unlock(&bench_lock);
	} else if (kind == REPORT_FORK) {
		add(&fork_s, value);
	} else if (kind == REPORT_FORK_SMALL) {
		add(&fork_small_s, value);
	} else if (kind == REPORT_FAULT_2M) {
		add(&huge_s, value);
	} else if (kind == REPORT_COW) {
		add(&cow_s, value);
	} else if (kind == REPORT_COW_FIRST) {
		add(&cow_first_s, value);
	} else if (kind == REPORT_FORK_READ) {
		add(&fork_read_s, value);
	} else if (kind == REPORT_SWITCH && yield_tag && value > yield_tag && yield_pid != p->pid) {
		add(&switch_s, value - yield_tag);
		yield_tag = 0;
	}
}

static const char *mode_str(void)
{
	return boot.mode == SVMM_SV39 ? "sv39" : boot.mode == SVMM_SV48 ? "sv48" : "sv57";
}

static void print_json_h(const char *name, unsigned harts, struct samples *s)
{
	kprintf("{\"bench\":\"kernel\",\"case\":\"%s\",\"mode\":\"%s\",\"harts\":%u,"
		"\"instructions\":%lu,\"samples\":%u}\n", name, mode_str(), harts,
		(unsigned long)median(s), s->n);
}

static void print_json(const char *name, struct samples *s)
{
	print_json_h(name, 1, s);
}

static void reap_all(void)
{
	for (unsigned i = 0; i < NPROC; i++)
		if (procs[i].state == PROC_ZOMBIE)
			proc_reap(&procs[i]);
}

/*
 * One shootdown to idle harts: the sender's instructions up to and including the IPI
 * (the SBI call's M-mode instructions count: instret counts them) plus one target's
 * flush and acknowledgement. The sender's wait is left out: under -icount the harts
 * take turns, so the wait measures QEMU's round robin, not the kernel.
 */
static void bench_shootdowns(void)
{
	static const unsigned masks[2] = { 1u << 1, 0xeu };
	for (unsigned k = 0; k < 2 && ncpu >= (k ? 4u : 2u); k++) {
		for (unsigned i = 0; i < 32; i++) {
			smp_shootdown_sleepy(masks[k]);
			add(&shoot_s[k], smp_last_sender_instret + smp_last_target_instret);
		}
		print_json_h("shootdown-remote", k ? 4 : 2, &shoot_s[k]);
	}
}

static _Noreturn void smp_phase_run(void);

static void smp_phase_done(void)
{
	uint64_t t1 = r_time();
	reap_all();
	unsigned h = phase_harts[phase];
	if (timed) {
		/* seconds as a fixed-point decimal: the kernel has no floating point */
		uint64_t us = (t1 - phase_t0) * 1000000 / timebase_hz;
		kprintf("{\"bench\":\"kernel\",\"case\":\"fault-smp-seconds\",\"mode\":\"%s\","
			"\"harts\":%u,\"faults_per_hart\":4096,\"seconds\":%lu.%06lu}\n", mode_str(), h,
			(unsigned long)(us / 1000000), (unsigned long)(us % 1000000));
	} else {
		print_json_h("fault-smp", h, &smp_s[phase]);
	}
	phase++;
	smp_phase_run();
}

static _Noreturn void smp_phase_run(void)
{
	if (phase >= nphases) {
		bool ok = timed || (fault_s.n > 0 && switch_s.n > 0 && create_s.n > 0 &&
				    smp_s[0].n > 0 && fork_s.n > 0 && fork_small_s.n > 0 &&
				    cow_s.n > 0 && cow_first_s.n > 0 && huge_s.n > 0);
		if (!timed)
			bench_shootdowns();
		kprintf("%u passed, %u failed\n", ok ? 1u : 0u, ok ? 0u : 1u);
		sbi_shutdown(ok ? 0 : 1);
	}
	unsigned h = phase_harts[phase];
	sched_ncpu = h;
	for (unsigned i = 0; i < h; i++)
		if (!proc_spawn("bench", timed ? 4 : 3))
			panic("bench: spawn failed");
	phase_t0 = r_time();
	proc_run_all(smp_phase_done);
}

#define FORK_PAGES 256               /* user/bench.c's resident pages at each fork */

/* What zeroing a 2 MiB page costs alone: 512 frames, each through the direct map as
   the core's vmobj zeroes them. */
static void measure_zero_2m(void)
{
	svmm_pa_t pa;
	for (unsigned i = 0; i < 8; i++) {
		if (pmem_alloc(&kpmem, 9, kpmem.meta_limit, &pa) != 0)
			return;
		uint64_t t0 = r_instret();
		for (unsigned f = 0; f < 512; f++)
			memset(port_pa_to_va(pa + f * SVMM_PAGE_SIZE), 0, SVMM_PAGE_SIZE);
		uint64_t t1 = r_instret();
		pmem_free(&kpmem, pa, 9);
		add(&zero2m_s, t1 - t0);
	}
}

static void huge_done(void)
{
	reap_all();
	measure_zero_2m();
	uint64_t all = median(&huge_s), zero = median(&zero2m_s);
	if (huge_s.n == 0) {
		kprintf("bench: no fault brought a 2 MiB page\n");
	} else {
		kprintf("{\"bench\":\"kernel\",\"case\":\"fault-2m\",\"mode\":\"%s\",\"harts\":1,"
			"\"instructions\":%lu,\"samples\":%u,\"zeroing_instructions\":%lu,"
			"\"outside_zeroing_per_mille\":%lu}\n", mode_str(), (unsigned long)all, huge_s.n,
			(unsigned long)zero,
			(unsigned long)(all > zero ? (all - zero) * 1000 / all : 0));
	}
	sched_ncpu = fork_ncpu;
	smp_phase_run();
}

static void fork_done(void)
{
	reap_all();
	uint64_t all = median(&fork_s), small = median(&fork_small_s);
	kprintf("{\"bench\":\"kernel\",\"case\":\"fork-cow\",\"mode\":\"%s\",\"harts\":1,"
		"\"instructions\":%lu,\"samples\":%u,\"per\":\"resident page\","
		"\"resident_pages\":%u,\"fork_instructions\":%lu,"
		"\"fork_instructions_without_them\":%lu,\"child_first_read_instructions\":%lu}\n",
		mode_str(), (unsigned long)((all + FORK_PAGES / 2) / FORK_PAGES), fork_s.n,
		FORK_PAGES, (unsigned long)all, (unsigned long)small,
		(unsigned long)median(&fork_read_s));
	kprintf("{\"bench\":\"kernel\",\"case\":\"cow-fault\",\"mode\":\"%s\",\"harts\":1,"
		"\"instructions\":%lu,\"samples\":%u,\"first_write_instructions\":%lu,"
		"\"first_write_samples\":%u}\n", mode_str(), (unsigned long)median(&cow_s),
		cow_s.n, (unsigned long)median(&cow_first_s), cow_first_s.n);
	/* One 2 MiB fault at a time, on one hart as the forks. */
	if (!proc_spawn("bench", 6))
		panic("bench: spawn failed");
	proc_run_all(huge_done);
}

static void bench_done(void)
{
	reap_all();
	print_json("fault-anon", &fault_s);
	/* The case's parts, each a median of its own (so they need not add up exactly). */
	kprintf("{\"bench\":\"kernel\",\"case\":\"aspace-create-destroy\",\"mode\":\"%s\","
		"\"harts\":1,\"instructions\":%lu,\"samples\":%u,\"create\":%lu,\"map\":%lu,"
		"\"first_fault\":%lu,\"destroy\":%lu}\n", mode_str(), (unsigned long)median(&create_s),
		create_s.n, (unsigned long)median(&create_parts[0]),
		(unsigned long)median(&create_parts[1]), (unsigned long)median(&create_parts[2]),
		(unsigned long)median(&create_parts[3]));
	print_json("switch", &switch_s);
	/* fork and copy-on-write on one hart: parent and child take turns there. */
	fork_ncpu = sched_ncpu;
	sched_ncpu = 1;
	if (!proc_spawn("bench", 5))
		panic("bench: spawn failed");
	proc_run_all(fork_done);
}

_Noreturn void bench_run(void)
{
	static struct aspace as;
	proc_hooks.report = bench_report;
	proc_hooks.yield_tag = bench_yield_tag;
	nphases = ncpu >= 4 ? 3 : ncpu >= 2 ? 2 : 1;
	if (boot.bench_timed) {
		timed = true;
		sched_quantum = timebase_hz / 100;
		smp_phase_run();
	}
	for (unsigned i = 0; i < 32; i++) {
		svmm_va_t va;
		uint64_t t0 = r_instret();
		int err = aspace_create(&as, &kpt, &kpmem, NULL);
		uint64_t t1 = r_instret();
		if (!err)
			err = aspace_map_anon(&as, 0, SVMM_PAGE_SIZE, PT_R | PT_W, 0, &va);
		uint64_t t2 = r_instret();
		if (!err)
			err = aspace_fault(&as, va, PT_W);
		uint64_t t3 = r_instret();
		aspace_destroy(&as);
		uint64_t t4 = r_instret();
		if (err)
			panic("bench: aspace: %s", svmm_strerror(err));
		add(&create_s, t4 - t0);
		add(&create_parts[0], t1 - t0);
		add(&create_parts[1], t2 - t1);
		add(&create_parts[2], t3 - t2);
		add(&create_parts[3], t4 - t3);
	}
	/* No preemption: the fault program runs alone to its end, then the pair alternates. */
	sched_quantum = 0;
	if (!proc_spawn("bench", 0) || !proc_spawn("bench", 1) || !proc_spawn("bench", 2))
		panic("bench: spawn failed");
	proc_run_all(bench_done);
}
