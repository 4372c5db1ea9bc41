/*
 * kernel/proc.c - user processes: loading an embedded ELF program into a new address
 * space, the round-robin scheduler, the trap from U-mode (system calls, page faults,
 * the timer) and killing a process that touches what it may not.
 */
#include <svmm/aspace.h>
#include <svmm/vmobj.h>

#include "cpu.h"
#include "files.h"
#include "proc.h"
#include "riscv.h"
#include "sys.h"
#include "vm.h"

struct proc procs[NPROC];
struct proc_counters proc_counters;
/*
 * proc_lock protects every process's state, next_pid, the round-robin cursor and the
 * done hook. It is a leaf lock: nothing else is taken while it is held.
 */
static struct svmm_lock proc_lock;
static int next_pid = 1;
static unsigned rr_next;
static unsigned proc_hwm;        /* slots [0, proc_hwm) have been used: scan no further */
static void (*all_done)(void);
static bool done_claimed;

#define COUNT(field) __atomic_fetch_add(&proc_counters.field, 1, __ATOMIC_RELAXED)
uint64_t sched_quantum;          /* timer ticks per time slice; 0 = no preemption */
bool proc_fork_check;
struct proc_hooks proc_hooks;
static svmm_va_t user_va_end;         /* svmm_user_end(boot.mode), for the fault path */

/* The user programs embedded by kernel.mk (build/kernel/userprogs.S). */
struct uprog { const char *name; const uint8_t *elf; uint64_t size; };
extern const struct uprog user_programs[];
extern const uint64_t user_programs_count;

/* ---- ELF64 loading ---- */

#define PT_LOAD_TYPE 1
#define PF_X 1
#define PF_W 2
#define PF_R 4

struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

static int load_elf(struct aspace *as, const uint8_t *elf, uint64_t size, svmm_va_t *entry)
{
	const struct elf64_ehdr *eh = (const void *)elf;
	if (size < sizeof *eh || memcmp(eh->ident, "\177ELF", 4) != 0 || eh->ident[4] != 2 ||
	    eh->machine != 243 || eh->phentsize != sizeof(struct elf64_phdr) ||
	    eh->phoff > size || (uint64_t)eh->phnum * sizeof(struct elf64_phdr) > size - eh->phoff)
		return SVMM_EINVAL;
	const struct elf64_phdr *ph = (const void *)(elf + eh->phoff);
	for (unsigned i = 0; i < eh->phnum; i++) {
		if (ph[i].type != PT_LOAD_TYPE || ph[i].memsz == 0)
			continue;
		if (ph[i].filesz > ph[i].memsz || ph[i].offset > size ||
		    ph[i].filesz > size - ph[i].offset)
			return SVMM_EINVAL;
		svmm_va_t va = SVMM_ALIGN_DOWN(ph[i].vaddr, SVMM_PAGE_SIZE);
		svmm_va_t end = SVMM_ALIGN_UP(ph[i].vaddr + ph[i].memsz, SVMM_PAGE_SIZE);
		unsigned prot = ((ph[i].flags & PF_R) ? PT_R : 0) | ((ph[i].flags & PF_W) ? PT_W : 0) |
				((ph[i].flags & PF_X) ? PT_X : 0);
		svmm_va_t got;
		int err = aspace_map_anon(as, va, end - va, prot, ASPACE_FIXED, &got);
		if (err)
			return err;
		/* Bring each page in (demand zero) and copy the file's bytes into its frame. */
		for (svmm_va_t pg = va; pg < end; pg += SVMM_PAGE_SIZE) {
			err = aspace_fault(as, pg, prot & PT_X ? PT_X : PT_R);
			svmm_pa_t pa;
			if (!err)
				err = pt_translate(&as->pt, pg, prot & PT_X ? PT_X : PT_R, PT_PRIV_U,
						   &pa, NULL);
			if (err)
				return err;
			svmm_va_t fs = ph[i].vaddr, fe = ph[i].vaddr + ph[i].filesz;
			svmm_va_t b = pg > fs ? pg : fs, e = pg + SVMM_PAGE_SIZE < fe ? pg + SVMM_PAGE_SIZE : fe;
			if (b < e)
				vm_copy_to_frame(pa, b - pg, elf + ph[i].offset + (b - fs), e - b);
		}
	}
	*entry = eh->entry;
	return 0;
}

/* ---- processes ---- */

static void proc_set_state(struct proc *p, enum proc_state st)
{
	port_lock(&proc_lock);
	p->state = st;
	port_unlock(&proc_lock);
}

/* A free slot, cleared and EMBRYO with a new pid, or NULL when the table is full. */
static struct proc *proc_alloc(void)
{
	struct proc *p = NULL;
	port_lock(&proc_lock);
	for (unsigned i = 0; i < NPROC; i++)
		if (procs[i].state == PROC_FREE) {
			p = &procs[i];
			/* as_own is not: aspace_create sets up the whole of it (a fork or a
			   spawn), and a thread never uses its own. */
			memset(p, 0, offsetof(struct proc, as_own));
			p->state = PROC_EMBRYO;
			p->pid = next_pid++;
			if (i + 1 > proc_hwm)
				proc_hwm = i + 1;
			break;
		}
	port_unlock(&proc_lock);
	return p;
}

struct proc *proc_spawn(const char *name, long arg)
{
	const struct uprog *up = NULL;
	for (uint64_t i = 0; i < user_programs_count; i++)
		if (strcmp(user_programs[i].name, name) == 0)
			up = &user_programs[i];
	if (!up)
		panic("proc_spawn: no user program \"%s\"", name);
	struct proc *p = proc_alloc();
	if (!p)
		return NULL;
	p->as = &p->as_own;
	p->owner = p;
	p->as_users = 1;
	int err = aspace_create(p->as, &kpt, &kpmem, NULL);
	if (err) {
		kprintf("spawn %s: aspace_create: %s\n", name, svmm_strerror(err));
		proc_set_state(p, PROC_FREE);
		return NULL;
	}
	svmm_va_t entry;
	err = load_elf(p->as, up->elf, up->size, &entry);
	if (err) {
		kprintf("spawn %s: loading: %s\n", name, svmm_strerror(err));
		aspace_destroy(p->as);
		proc_set_state(p, PROC_FREE);
		return NULL;
	}
	/* The loader wrote code through other mappings: order it before any fetch, here
	   and on whichever hart runs it (proc_switch does fence.i there). */
	fence_i();
	p->name = up->name;
	p->arg = arg;
	p->tf.sepc = entry;
	TF_SP(&p->tf) = p->as->stack_top;
	TF_A(&p->tf, 0) = (uint64_t)arg;
	proc_set_state(p, PROC_RUNNABLE);
	return p;
}

void proc_init(void)
{
	/* How many ASID bits the hart keeps: write all ones and read back (WARL). */
	uint64_t satp = pt_satp(&kpt);
	w_satp(satp | (SATP_ASID_MASK << SATP_ASID_SHIFT));
	uint64_t bits = (r_satp() >> SATP_ASID_SHIFT) & SATP_ASID_MASK;
	w_satp(satp);
	unsigned nbits = 0;
	while (bits & 1) {
		nbits++;
		bits >>= 1;
	}
	int err = aspace_sys_init(nbits, ncpu);
	if (err)
		panic("aspace_sys_init(%u bits, %u harts): %s", nbits, ncpu, svmm_strerror(err));
	if (kstack_alloc(16384, &cpus[0].kstack_top) != 0)
		panic("no kernel trap stack");
	sched_quantum = timebase_hz / 100;
	user_va_end = svmm_user_end(boot.mode);
	kprintf("processes: %u ASID bits, trap stack top %p (guard page below), time slice 10 ms\n",
		nbits, (void *)cpus[0].kstack_top);
}

void proc_reap(struct proc *p)
{
	if (p->state != PROC_ZOMBIE)
		panic("proc_reap: pid %d is not a zombie", p->pid);
	if (__atomic_load_n(&p->as_users, __ATOMIC_ACQUIRE) != 0)
		panic("proc_reap: pid %d: its address space still has users", p->pid);
	proc_set_state(p, PROC_FREE);
}

/* ---- fork and wait: parents, releases, sleepers (all under proc_lock) ---- */

/* A zombie its parent (or, for an orphan, the kernel) may free now. */
static bool reapable_locked(const struct proc *q)
{
	return q->state == PROC_ZOMBIE && q->released &&
	       __atomic_load_n(&q->as_users, __ATOMIC_ACQUIRE) == 0;
}

/* Does owner have a child wait() could reap now (any pid when pid <= 0)? */
static bool child_ready_locked(const struct proc *owner, long pid)
{
	for (unsigned i = 0; i < proc_hwm; i++) {
		const struct proc *q = &procs[i];
		if (q->state != PROC_FREE && q->parent == owner && (pid <= 0 || q->pid == pid) &&
		    reapable_locked(q))
			return true;
	}
	return false;
}

/* Every sleeper looks again: a child may have become reapable, or it was killed. */
static void wake_sleepers_locked(void)
{
	for (unsigned i = 0; i < proc_hwm; i++)
		if (procs[i].state == PROC_SLEEPING)
			procs[i].state = PROC_RUNNABLE;
}

/* An orphaned process is freed as soon as it is reapable (no one will wait for it). */
static void free_orphan_locked(struct proc *q)
{
	if (q->forked && q->parent == NULL && reapable_locked(q))
		q->state = PROC_FREE;
}

/*
 * The hart that ran p has left it for good (p exited or was killed, and the hart is
 * off its address space): free what no one will reap, orphan p's children, wake
 * sleepers. After this the hart does not touch p again.
 */
static void proc_release_locked(struct proc *p)
{
	struct proc *owner = p->owner;
	p->released = true;
	if (p->is_thread) {
		p->state = PROC_FREE;
		/* The owner may have waited for its last thread to become reapable. */
		if (owner != p)
			free_orphan_locked(owner);
	} else {
		for (unsigned i = 0; i < proc_hwm; i++) {
			struct proc *q = &procs[i];
			if (q->state != PROC_FREE && q->parent == p) {
				q->parent = NULL;
				free_orphan_locked(q);
			}
		}
		free_orphan_locked(p);
	}
	wake_sleepers_locked();
}

/* Leave p's address space: the hart runs on the kernel table from here. */
static void proc_leave(struct cpu *c)
{
	struct proc *p = c->current;
	w_satp(pt_satp(&kpt));
	aspace_deactivate(p->as, c->id);
	c->current = NULL;
}

static void proc_teardown(struct proc *p)
{
	struct cpu *c = mycpu();
	if (c->current == p)
		proc_leave(c);
	/* The last user of the address space destroys it: no hart runs it any more,
	   since every hart leaves an address space before giving its process up. */
	if (p->is_thread)           /* counted while the owner surely still exists */
		__atomic_fetch_add(p->killed ? &p->owner->threads_killed : &p->owner->threads_exited,
				   1, __ATOMIC_RELAXED);
	if (__atomic_sub_fetch(&p->owner->as_users, 1, __ATOMIC_ACQ_REL) == 0) {
		__atomic_fetch_add(&proc_counters.faults, p->as->faults, __ATOMIC_RELAXED);
		aspace_destroy(p->as);
	}
	proc_set_state(p, PROC_ZOMBIE);
}

static void proc_exit(struct proc *p, long code)
{
	p->exit_code = code;
	proc_teardown(p);
}

static const char *fault_reason(int err, svmm_va_t va)
{
	if (va >= svmm_user_end(boot.mode))
		return (va >> 63) ? "kernel address" : "not a user address (non-canonical)";
	if (va < SVMM_NULL_GUARD && err == SVMM_EFAULT)
		return "null guard (a NULL pointer?)";
	switch (err) {
	case SVMM_EFAULT: return "no mapping there";
	case SVMM_EPERM: return "the region does not allow this access";
	case SVMM_ENOMEM: return "out of memory";
	case SVMM_ESTACK: return "stack overflow into the guard gap";
	default: return files_strerror(err) ? files_strerror(err) : svmm_strerror(err);
	}
}

/*
 * The bits of the instruction that trapped as illegal: stval holds them on QEMU, but the
 * privileged spec lets a hart report 0 instead, and then they are read at sepc.
 * Returns 0 when they cannot be read.
 */
static uint32_t illegal_insn_bits(struct proc *p, struct trapframe *tf)
{
	if (tf->stval)
		return (uint32_t)tf->stval;
	uint16_t half[2];
	if (copy_from_user(p->as, &half[0], tf->sepc, 2) != 0)
		return 0;
	if ((half[0] & 3) != 3)
		return half[0];
	if (copy_from_user(p->as, &half[1], tf->sepc + 2, 2) != 0)
		return 0;
	return half[0] | (uint32_t)half[1] << 16;
}

/*
 * Which unit an instruction belongs to, if it is one the kernel keeps off in U-mode:
 * "floating-point", "vector", or NULL. The opcodes are those of the unprivileged spec
 * (LOAD-FP and STORE-FP carry both, told apart by the width field), plus the CSRs of
 * each unit (fflags, frm, fcsr; vstart, vxsat, vxrm, vcsr, vl, vtype, vlenb).
 */
static const char *insn_unit(uint32_t insn)
{
	if ((insn & 3) != 3) {          /* compressed: C.FLD, C.FSD, C.FLDSP, C.FSDSP */
		unsigned op = insn & 3, f3 = (insn >> 13) & 7;
		return (op == 0 || op == 2) && (f3 == 1 || f3 == 5) ? "floating-point" : NULL;
	}
	unsigned opcode = insn & 0x7f, f3 = (insn >> 12) & 7, csr = insn >> 20;
	switch (opcode) {
	case 0x07:                      /* LOAD-FP */
	case 0x27:                      /* STORE-FP */
		return f3 >= 1 && f3 <= 4 ? "floating-point" : "vector";
	case 0x43: case 0x47: case 0x4b: case 0x4f: case 0x53:   /* FMADD .. OP-FP */
		return "floating-point";
	case 0x57:                      /* OP-V */
		return "vector";
	case 0x73:                      /* SYSTEM: the units' CSRs */
		if (f3 == 0 || f3 == 4)
			return NULL;
		if (csr >= 0x001 && csr <= 0x003)
			return "floating-point";
		if (csr == 0x008 || csr == 0x009 || csr == 0x00a || csr == 0x00f ||
		    (csr >= 0xc20 && csr <= 0xc22))
			return "vector";
		return NULL;
	}
	return NULL;
}

static void proc_kill(struct proc *p, struct trapframe *tf, const char *why)
{
	uint32_t insn = tf->scause == EXC_ILLEGAL ? illegal_insn_bits(p, tf) : 0;
	const char *unit = insn ? insn_unit(insn) : NULL;
	char what[96];
	trap_describe(what, sizeof what, tf->scause, tf->stval, insn, tf->sepc);
	svmm_snprintf(p->kill_line, sizeof p->kill_line, "%s: %s%s", what, unit ? unit : why,
		      unit ? " instruction, and this kernel keeps that unit off in U-mode" : "");
	kprintf("pid %d (%s %ld) killed: %s\n", p->pid, p->name, p->arg, p->kill_line);
	p->killed = true;
	COUNT(kills);
	p->kill_cause = tf->scause;
	p->kill_addr = tf->stval;
	/* A fault kills the whole process: the other threads follow at their next trap
	   (the timer brings one within a time slice). */
	__atomic_store_n(&p->owner->doomed, true, __ATOMIC_RELEASE);
	/* A sibling asleep in wait() must wake to be killed. */
	port_lock(&proc_lock);
	wake_sleepers_locked();
	port_unlock(&proc_lock);
	proc_exit(p, -1);
}

/* A thread whose process was killed by another thread's fault. */
static void proc_kill_sibling(struct proc *p)
{
	kprintf("pid %d (%s %ld) killed: another thread of its process was killed\n", p->pid,
		p->name, p->arg);
	p->killed = true;
	COUNT(kills);
	proc_exit(p, -1);
}

/* The next runnable process in round-robin order, marked RUNNING. Under proc_lock. */
static struct proc *pick_locked(void)
{
	for (unsigned k = 0; k < proc_hwm; k++) {
		struct proc *p = &procs[(rr_next + k) % proc_hwm];
		if (p->state == PROC_RUNNABLE) {
			rr_next = (unsigned)(p - procs) + 1;
			p->state = PROC_RUNNING;
			return p;
		}
	}
	return NULL;
}

/* Make p (RUNNING, picked by this hart) the hart's process: its satp and ASID. */
static void proc_switch(struct cpu *c, struct proc *p)
{
	bool flush = false;
	uint64_t satp = aspace_activate(p->as, c->id, &flush);
	/* Seen by every later shootdown of this ASID before this hart can walk with it. */
	smp_note_asid((unsigned)((satp >> SATP_ASID_SHIFT) & SATP_ASID_MASK), flush);
	__asm__ volatile("fence rw, rw" ::: "memory");
	w_satp_nofence(satp);
	if (flush)
		sfence_vma_all();
	/* The program may have been loaded by another hart. */
	fence_i();
	if (c->current)
		aspace_deactivate(c->current->as, c->id);
	c->current = p;
	c->switches++;
	COUNT(switches);
}

static void arm_timer(void)
{
	sbi_set_timer(sched_quantum ? r_time() + sched_quantum : ~0ull);
}

/*
 * The process this hart runs next, from a trap of cur (this hart's process, RUNNING,
 * or already a zombie and left). cur stays RUNNING, and so owned by this hart, until
 * the hart has left its address space: only then may another hart pick it up.
 */
static struct proc *schedule(struct cpu *c, struct proc *cur)
{
	struct proc *p = NULL;
	bool keep = cur && cur->state == PROC_RUNNING;
	bool sleep = keep && cur->want_sleep;
	/* A process or thread that ended is released here, by the hart that ran it, once
	   the hart has left its address space (proc_teardown did): a thread's slot is
	   freed, so a process can start and end any number of threads; a forked process
	   becomes reapable by wait(). Nothing here touches the slot after this. */
	if (cur && !keep && cur->state == PROC_ZOMBIE) {
		port_lock(&proc_lock);
		proc_release_locked(cur);
		port_unlock(&proc_lock);
		cur = NULL;
	}
	if (c->id < sched_ncpu) {
		port_lock(&proc_lock);
		p = pick_locked();
		port_unlock(&proc_lock);
	}
	if (!p && keep && !sleep && c->id < sched_ncpu)
		return cur;
	if (p)
		proc_switch(c, p);
	else if (c->current)
		proc_leave(c);
	/* A plain release store: pickers read the state under proc_lock, and either
	   value is consistent for them; this saves a lock round trip per switch. A wait()
	   goes to sleep only if, under the lock every release takes, there is still
	   nothing to reap and no kill: then the next release wakes it, none is lost. */
	if (sleep) {
		port_lock(&proc_lock);
		cur->want_sleep = false;
		cur->state = child_ready_locked(cur->owner, cur->wait_pid) ||
			     __atomic_load_n(&cur->owner->doomed, __ATOMIC_ACQUIRE) ?
			     PROC_RUNNABLE : PROC_SLEEPING;
		port_unlock(&proc_lock);
	} else if (keep) {
		__atomic_store_n(&cur->state, PROC_RUNNABLE, __ATOMIC_RELEASE);
	}
	if (!p)
		proc_idle();
	return p;
}

_Noreturn void proc_idle(void)
{
	struct cpu *c = mycpu();
	if (c->current)
		panic("proc_idle: hart %u still runs pid %d", c->id, c->current->pid);
	c->started = true;
	sie_set(SIE_STIE | SIE_SSIE);
	for (;;) {
		struct proc *p = NULL;
		void (*done)(void) = NULL;
		port_lock(&proc_lock);
		if (c->id < sched_ncpu)
			p = pick_locked();
		if (!p && all_done && !done_claimed) {
			bool any = false;
			for (unsigned i = 0; i < proc_hwm && !any; i++)
				any = procs[i].state == PROC_EMBRYO || procs[i].state == PROC_RUNNABLE ||
				      procs[i].state == PROC_RUNNING ||
				      procs[i].state == PROC_SLEEPING ||
				      (procs[i].state == PROC_ZOMBIE &&
				       (procs[i].is_thread || procs[i].forked || !procs[i].released));
			if (!any) {
				done_claimed = true;
				done = all_done;
			}
		}
		port_unlock(&proc_lock);
		if (p) {
			proc_switch(c, p);
			arm_timer();
			c->user_entries++;
			user_return(&p->tf);
		}
		if (done) {
			done();
			panic("proc: the done hook returned");
		}
		/* Nothing to do: sleep until a timer a millisecond away (wfi wakes on a
		   pending interrupt even with sstatus.SIE clear), then look again. */
		c->idle_loops++;
		sbi_set_timer(r_time() + timebase_hz / 1000);
		smp_service();
		wfi();
		sip_clear(SIP_SSIP);
		smp_service();
	}
}

/*
 * Run processes on every hart allowed (sched_ncpu) until none is left; then one hart
 * calls done(). Called on a hart with no process.
 */
_Noreturn void proc_run_all(void (*done)(void))
{
	port_lock(&proc_lock);
	all_done = done;
	done_claimed = false;
	port_unlock(&proc_lock);
	proc_idle();
}

/* ---- system calls ---- */

static long sys_write(struct proc *p, svmm_va_t buf, uint64_t len)
{
	char kbuf[128];
	uint64_t done = 0;
	if (len > 65536)
		return SVMM_ERANGE;
	while (done < len) {
		uint64_t n = len - done < sizeof kbuf ? len - done : sizeof kbuf;
		int err = copy_from_user(p->as, kbuf, buf + done, n);
		if (err)
			return err;
		console_write_locked(kbuf, n);
		done += n;
	}
	return (long)done;
}

/*
 * mmap: demand-zero memory, private (the address space's own anonymous memory) or,
 * with MAP_SHARED, one new anonymous object mapped shared: fork gives the child the
 * same object, so every process sees every write; the object goes with its last
 * mapping.
 */
static long sys_mmap(struct proc *p, svmm_va_t hint, uint64_t size, uint64_t prot, uint64_t flags)
{
	if (prot & ~(uint64_t)(PROT_READ | PROT_WRITE | PROT_EXEC) ||
	    flags & ~(uint64_t)(MAP_FIXED | MAP_SHARED))
		return SVMM_EINVAL;
	svmm_va_t addr;
	unsigned fixed = (flags & MAP_FIXED) ? ASPACE_FIXED : 0;
	int err;
	if (flags & MAP_SHARED) {
		struct vmobj *obj;
		err = vmobj_create_anon(&kpmem, size, &obj);
		if (err)
			return err;
		err = aspace_map_obj(p->as, hint, size, (unsigned)prot, fixed | ASPACE_SHARED, obj,
				     0, &addr);
		vmobj_put(obj);             /* the region holds its own reference */
	} else {
		err = aspace_map_anon(p->as, hint, size, (unsigned)prot, fixed, &addr);
	}
	return err ? err : (long)addr;
}

/* mapfile(file, off, size, prot, flags): see files_map; flags MAP_SHARED only. */
static long sys_mapfile(struct proc *p, uint64_t file, uint64_t off, uint64_t size,
			uint64_t prot, uint64_t flags)
{
	if (prot & ~(uint64_t)(PROT_READ | PROT_WRITE | PROT_EXEC) || flags & ~(uint64_t)MAP_SHARED)
		return SVMM_EINVAL;
	svmm_va_t addr;
	int err = files_map(p->as, file, off, size, (unsigned)prot, flags & MAP_SHARED, 0, false,
			    &addr);
	return err ? err : (long)addr;
}

/*
 * A thread of p: a new schedulable entity in p's address space, entering at entry with
 * sp = stack and a0 = arg (it ends with exit, ra is 0). Returns its pid, SVMM_ERANGE
 * for an entry or stack outside the user half, SVMM_EUNALIGNED for a stack not
 * 16-byte aligned, SVMM_ENOSPC when the process table is full.
 */
static long sys_thread(struct proc *p, svmm_va_t entry, svmm_va_t stack, uint64_t arg)
{
	if (entry >= user_va_end || stack > user_va_end || stack < SVMM_NULL_GUARD)
		return SVMM_ERANGE;
	if (__atomic_load_n(&p->owner->doomed, __ATOMIC_ACQUIRE))
		return SVMM_EPERM;          /* the process is being killed */
	if (stack & 15)
		return SVMM_EUNALIGNED;
	struct proc *t = proc_alloc();
	if (!t)
		return SVMM_ENOSPC;
	__atomic_fetch_add(&p->owner->as_users, 1, __ATOMIC_ACQ_REL);
	t->as = p->as;
	t->owner = p->owner;
	t->is_thread = true;
	t->name = p->name;
	t->arg = p->arg;
	t->tf = p->tf;
	t->tf.sepc = entry;
	TF_SP(&t->tf) = stack;
	TF_RA(&t->tf) = 0;
	TF_A(&t->tf, 0) = arg;
	int pid = t->pid;
	proc_set_state(t, PROC_RUNNABLE);
	return pid;
}

/* An svmm_print_fn that keeps the line in a 160-byte buffer (a checker's finding). */
static void keep_line(void *ctx, const char *line)
{
	svmm_snprintf(ctx, 160, "%s", line);
}

/*
 * fork: a copy-on-write copy of p's process (aspace_clone) with one thread, a copy of
 * the calling one, which returns 0 from the same call; the other threads of p are not
 * copied (POSIX). The child's parent is p's process (its owner), so that any of its
 * threads may wait for it. Returns the child's pid, SVMM_ENOSPC (process table full),
 * SVMM_ENOMEM, or SVMM_EPERM (p's process is being killed); nothing is left behind.
 */
static long sys_fork(struct proc *p, struct trapframe *tf)
{
	struct proc *owner = p->owner;
	if (__atomic_load_n(&owner->doomed, __ATOMIC_ACQUIRE))
		return SVMM_EPERM;
	struct proc *c = proc_alloc();
	if (!c)
		return SVMM_ENOSPC;
	c->as = &c->as_own;
	c->owner = c;
	c->as_users = 1;
	int err = aspace_create(c->as, &kpt, &kpmem, NULL);
	if (!err) {
		err = aspace_clone(p->as, c->as);
		if (err)
			aspace_destroy(c->as);
	}
	if (err) {
		proc_set_state(c, PROC_FREE);
		return err;
	}
	if (proc_fork_check) {
		char why[160] = "";
		if (aspace_check(p->as, keep_line, why) != 0 || aspace_check(c->as, keep_line, why) != 0)
			panic("fork of pid %d: %s", p->pid, why);
	}
	c->name = p->name;
	c->arg = p->arg;
	c->tf = *tf;                /* sepc is past the ecall already */
	TF_A(&c->tf, 0) = 0;
	c->forked = true;
	int pid = c->pid;
	/* The parent link is made under the lock its release takes, so a parent that has
	   been released already (only its threads still run) leaves an orphan. */
	port_lock(&proc_lock);
	c->parent = owner->released ? NULL : owner;
	c->state = PROC_RUNNABLE;
	port_unlock(&proc_lock);
	return pid;
}

/*
 * wait(pid, status): reap a child of p's process that has ended (pid <= 0: any child),
 * store its exit code at status (WAIT_KILLED if it was killed; status 0: not stored)
 * and return its pid. With children but none ended yet, p sleeps and the call runs
 * again when woken. SVMM_ENOENT: no such child; SVMM_EFAULT: status is not writable
 * memory of p (the child stays, to be reaped by a later call).
 */
static long sys_wait(struct proc *p, struct trapframe *tf, long pid, svmm_va_t status)
{
	struct proc *owner = p->owner, *q = NULL;
	bool any = false;
	port_lock(&proc_lock);
	for (unsigned i = 0; i < proc_hwm && !q; i++) {
		struct proc *x = &procs[i];
		if (x->state == PROC_FREE || x->parent != owner || (pid > 0 && x->pid != pid))
			continue;
		any = true;
		if (reapable_locked(x)) {
			q = x;
			q->state = PROC_EMBRYO;     /* claimed: no other waiter takes it */
		}
	}
	port_unlock(&proc_lock);
	if (!any)
		return SVMM_ENOENT;
	if (!q) {
		p->wait_pid = pid;
		p->want_sleep = true;
		tf->sepc -= 4;              /* run the ecall again when woken */
		return 0;
	}
	long st = q->killed ? WAIT_KILLED : q->exit_code;
	long rpid = q->pid;
	int err = status ? copy_to_user(p->as, status, &st, sizeof st) : 0;
	port_lock(&proc_lock);
	if (err) {
		q->state = PROC_ZOMBIE;
		free_orphan_locked(q);
	} else {
		q->state = PROC_FREE;
	}
	port_unlock(&proc_lock);
	return err ? err : rpid;
}

static void syscall(struct proc *p, struct trapframe *tf)
{
	uint64_t a0 = TF_A(tf, 0), a1 = TF_A(tf, 1), a2 = TF_A(tf, 2), a3 = TF_A(tf, 3);
	long r;
	tf->sepc += 4;
	switch (TF_A7(tf)) {
	case SYS_EXIT:
		proc_exit(p, (long)a0);
		return;
	case SYS_WRITE:
		r = sys_write(p, a0, a1);
		break;
	case SYS_MMAP:
		r = sys_mmap(p, a0, a1, a2, a3);
		break;
	case SYS_MUNMAP:
		r = aspace_unmap(p->as, a0, a1);
		break;
	case SYS_MPROTECT:
		/* A read-only file mapped shared never becomes writable. */
		r = a2 & ~(uint64_t)(PROT_READ | PROT_WRITE | PROT_EXEC) ? SVMM_EINVAL :
		    (a2 & PROT_WRITE) && a0 + a1 >= a0 && files_shared_in(p->as, a0, a1) ? SVMM_EPERM :
			aspace_protect(p->as, a0, a1, (unsigned)a2);
		break;
	case SYS_MAPFILE:
		r = sys_mapfile(p, a0, a1, a2, a3, TF_A(tf, 4));
		break;
	case SYS_YIELD:
		if (proc_hooks.yield_tag)
			proc_hooks.yield_tag(p, a0);
		TF_A(tf, 0) = 0;
		schedule(mycpu(), p);
		return;
	case SYS_GETPID:
		r = p->pid;
		break;
	case SYS_INFO: {
		struct sys_info si;
		memset(&si, 0, sizeof si);
		si.pid = p->pid;
		si.resident = p->as->resident;
		si.stack_pages = p->as->stack_pages;
		si.regions = p->as->nregions;
		si.faults = p->as->faults;
		si.cow_faults = p->as->cow_faults;
		/* The object's 2 MiB entries: a counter, read without its lock (the object
		   lives as long as the address space, which this process keeps alive). */
		si.huge_pages = p->as->anon ? p->as->anon->huge : 0;
		r = copy_to_user(p->as, a0, &si, sizeof si);
		break;
	}
	case SYS_THREAD:
		r = sys_thread(p, a0, a1, a2);
		break;
	case SYS_FORK:
		r = sys_fork(p, tf);
		break;
	case SYS_WAIT:
		r = sys_wait(p, tf, (long)a0, a1);
		if (p->want_sleep) {
			schedule(mycpu(), p);
			return;
		}
		break;
	case SYS_REPORT:
		if (proc_hooks.report)
			proc_hooks.report(p, (long)a0, a1);
		r = 0;
		break;
	default:
		r = SVMM_EINVAL;
		break;
	}
	TF_A(tf, 0) = (uint64_t)r;
}

/* ---- the trap from U-mode (entry.S) ---- */

/* Everything but a resolvable page fault: system calls, the timer, kills. */
static __attribute__((noinline)) struct trapframe *user_trap_slow(struct proc *p,
								    struct trapframe *tf)
{
	uint64_t c = tf->scause;
	if (__builtin_expect(__atomic_load_n(&p->owner->doomed, __ATOMIC_ACQUIRE), 0)) {
		if ((c & SCAUSE_INTR) && (c & ~SCAUSE_INTR) == IRQ_S_SOFT) {
			sip_clear(SIP_SSIP);
			smp_service();
		}
		if ((c & SCAUSE_INTR) && (c & ~SCAUSE_INTR) == IRQ_S_TIMER)
			arm_timer();
		proc_kill_sibling(p);
		return &schedule(mycpu(), p)->tf;
	}
	if (c & SCAUSE_INTR) {
		if ((c & ~SCAUSE_INTR) == IRQ_S_SOFT) {
			/* A shootdown: flush, answer, and go on with the same process. */
			sip_clear(SIP_SSIP);
			smp_service();
			return tf;
		}
		COUNT(ticks);
		if ((c & ~SCAUSE_INTR) != IRQ_S_TIMER)
			panic("unexpected interrupt from U-mode: %s", trap_cause_name(c));
		arm_timer();
		return &schedule(mycpu(), p)->tf;
	}
	switch (c) {
	case EXC_ECALL_U:
		COUNT(syscalls);
		syscall(p, tf);
		break;
	case EXC_BREAKPOINT:
		proc_kill(p, tf, "no debugger takes breakpoints from user programs");
		break;
	case EXC_INST_PAGE_FAULT:
	case EXC_LOAD_PAGE_FAULT:
	case EXC_STORE_PAGE_FAULT: {
		unsigned access = c == EXC_INST_PAGE_FAULT ? PT_X :
				  c == EXC_LOAD_PAGE_FAULT ? PT_R : PT_W;
		svmm_va_t va = tf->stval;
		int err = va >= svmm_user_end(boot.mode) ? SVMM_EFAULT :
			  aspace_fault(p->as, va, access);
		if (err) {
			p->kill_err = err;
			proc_kill(p, tf, fault_reason(err, va));
		}
		break;
	}
	default:
		proc_kill(p, tf, "not an instruction U-mode may execute");
		break;
	}
	/* SUM is set only inside copy_from_user/copy_to_user. */
	if (r_sstatus() & SSTATUS_SUM)
		panic("sstatus.SUM left set after %s", trap_cause_name(c));
	/* A yield has already switched; an exit or a kill switches now. */
	struct cpu *cpu = mycpu();
	if (cpu->current == p && p->state == PROC_RUNNING)
		return tf;
	if (cpu->current != NULL && cpu->current != p)
		return &cpu->current->tf;           /* the yield switched */
	return &schedule(cpu, p)->tf;           /* an exit or a kill left p */
}

static __attribute__((noinline)) struct trapframe *user_fault_kill(struct proc *p,
								     struct trapframe *tf, int err)
{
	p->kill_err = err;
	proc_kill(p, tf, fault_reason(err, tf->stval));
	return &schedule(mycpu(), p)->tf;
}

struct trapframe *user_trap(struct trapframe *tf)
{
	struct proc *p = mycpu()->current;
	if (__builtin_expect(!p || tf != &p->tf, 0))
		panic("user trap without a current process");
	/* The hot path: a demand-zero or stack-growth fault that resolves. */
	uint64_t c = tf->scause;
	if (c == EXC_STORE_PAGE_FAULT || c == EXC_LOAD_PAGE_FAULT) {
		svmm_va_t va = tf->stval;
		int err = va < user_va_end ?
			aspace_fault(p->as, va, c == EXC_STORE_PAGE_FAULT ? PT_W : PT_R) :
			SVMM_EFAULT;
		if (err == 0)
			return tf;
		return user_fault_kill(p, tf, err);
	}
	return user_trap_slow(p, tf);
}
