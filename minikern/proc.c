/*
 * minikern/proc.c - processes: one address space (svmm's aspace), one 4 KiB kernel
 * stack and one trap frame each; program loading, spawn, exit and wait; and the
 * scheduler.
 *
 * One hart, interrupts always off in the kernel, no preemption: a process runs until
 * it exits or waits, and the state below changes only on this hart between switches,
 * so it needs no lock.
 */
#include "defs.h"
#include "proc.h"
#include "user/sys.h"

/* One page per trap frame: each is mapped into its own process's address space only. */
static union {
	struct trapframe tf;
	char page[4096];
} tfpages[NPROC] __attribute__((aligned(4096)));
_Static_assert(sizeof(tfpages[0]) == 4096, "a trap frame page");
_Static_assert(TRAMPOLINE == MAXVA - PGSIZE, "the trampoline at the top of the lower half");

/*
 * Where an address space puts things: user memory from 64 KiB up to KERNBASE (never
 * the kernel's RAM), the stack slot in the top 4 GiB of the lower half below
 * the trap frame, and the trap frame and trampoline (aspace_map_kernel) above it.
 */
static const struct aspace_layout user_layout = {
	.user_base = 0x10000,
	.user_end = KERNBASE,
	.stack_base = MAXVA - (4ul << 30),
	.stack_top = TRAPFRAME - PGSIZE,
	.stack_max = 8ul << 20,
	.stack_guard = 1ul << 20,
};

static struct proc procs[NPROC];
static struct proc *current;
static struct context sched_ctx;
static int nextpid = 1;
size_t kstack_max;              /* the most any process's kernel stack held */
extern unsigned asid_bits;

void swtch(struct context *old, struct context *new);
extern char trampoline[], userret[];

/* Stack use: paint a stack when it is handed out, find the paint's low edge later. */
#define PAINT 0x5a5a5a5a5a5a5a5aul

void stack_paint(void *bottom)
{
	uint64_t *w = bottom;
	for (size_t i = 0; i < KSTACK_SIZE / 8; i++)
		w[i] = PAINT;
}

size_t stack_used(const void *bottom)
{
	const uint64_t *w = bottom;
	size_t i = 0;
	while (i < KSTACK_SIZE / 8 && w[i] == PAINT)
		i++;
	return KSTACK_SIZE - i * 8;
}

struct proc *myproc(void)
{
	return current;
}

void procinit(void)
{
	int err = aspace_sys_init(asid_bits, NHART);
	if (err)
		panic("aspace_sys_init(%u): %s", asid_bits, svmm_strerror(err));
	for (int i = 0; i < NPROC; i++) {
		procs[i].tf = &tfpages[i].tf;
		procs[i].kstack = kstacks + (size_t)i * KSTACK_SLOT + PGSIZE;
	}
}

static void proc_start(void)
{
	usertrapret();
}

static struct proc *proc_alloc(const char *name)
{
	struct proc *p = NULL;
	for (int i = 0; i < NPROC && !p; i++)
		if (procs[i].state == UNUSED)
			p = &procs[i];
	if (!p)
		return NULL;
	int err = aspace_create(&p->as, &kpt, &kpmem, &user_layout);
	if (err) {
		printf("%s: aspace_create: %s\n", name, svmm_strerror(err));
		return NULL;
	}
	/* What the trap path needs in the process's table, for the kernel alone. */
	err = aspace_map_kernel(&p->as, TRAMPOLINE, (svmm_pa_t)trampoline, PGSIZE,
				PT_R | PT_X, 0);
	if (!err)
		err = aspace_map_kernel(&p->as, TRAPFRAME, (svmm_pa_t)p->tf, PGSIZE,
					PT_R | PT_W, 0);
	if (err) {
		printf("%s: aspace_map_kernel: %s\n", name, svmm_strerror(err));
		aspace_destroy(&p->as);
		return NULL;
	}
	p->has_as = true;
	p->state = EMBRYO;
	p->pid = nextpid++;
	p->parent = NULL;
	p->toplevel = false;
	p->nseg = 0;
	p->xstate = 0;
	memset(p->tf, 0, sizeof(*p->tf));
	p->tf->x[2] = p->as.stack_top;
	memset(&p->ctx, 0, sizeof(p->ctx));
	p->ctx.ra = (uint64_t)proc_start;
	p->ctx.sp = (uint64_t)p->kstack + KSTACK_SIZE;
	stack_paint(p->kstack);
	size_t n = strlen(name);
	if (n >= sizeof(p->name))
		n = sizeof(p->name) - 1;
	memcpy(p->name, name, n);
	p->name[n] = 0;
	return p;
}

/*
 * The table svmm built, read with the kernel's own PTE_* macros: every user leaf is
 * valid and user-accessible and not global; the trap frame and trampoline at the top
 * are valid, neither global nor user-accessible.
 */
struct leafcheck {
	uint64_t want, mask;   /* (pte & mask) == want */
	uint64_t leaves;
	svmm_va_t bad;
};

static int leaf_check(void *ctx, svmm_va_t va, svmm_pa_t pa, uint64_t size, uint64_t pte)
{
	struct leafcheck *c = ctx;
	(void)pa;
	(void)size;
	c->leaves++;
	if ((pte & c->mask) != c->want) {
		c->bad = va;
		return 1;
	}
	return 0;
}

uint64_t user_leaves_checked;

/* The leaf at va (pt_leaf_at): a 4 KiB page of pa, for the kernel alone. */
static void kernel_page_check(struct proc *p, svmm_va_t va, svmm_pa_t pa)
{
	struct pt_leaf l;
	int err = pt_leaf_at(&p->as.pt, va, &l);
	if (err || l.level != 0 || (l.pte & (PTE_V | PTE_U | PTE_G)) != PTE_V ||
	    PTE2PA(l.pte) != pa)
		panic("%s: kernel page %p: %s, level %u, pte %p (want pa %p, V, not U or G)",
		      p->name, (void *)va, err ? svmm_strerror(err) : "found", l.level,
		      (void *)l.pte, (void *)pa);
}

static void table_check(struct proc *p)
{
	struct leafcheck u = { PTE_V | PTE_U, PTE_V | PTE_U | PTE_G, 0, 0 };
	if (pt_walk(&p->as.pt, 0, TRAPFRAME, leaf_check, &u) != 0)
		panic("%s: user leaf at %p: not V|U or global (%lu leaves)", p->name,
		      (void *)u.bad, u.leaves);
	kernel_page_check(p, TRAPFRAME, (svmm_pa_t)p->tf);
	kernel_page_check(p, TRAMPOLINE, (svmm_pa_t)trampoline);
	user_leaves_checked += u.leaves;
}

/* Release the address space: every frame, table and metadata page goes back. */
static void proc_release_as(struct proc *p)
{
	if (!p->has_as)
		return;
	aspace_deactivate(&p->as, 0);
	table_check(p);
	int err = aspace_check(&p->as, print_line, "aspace_check: ");
	if (err)
		panic("%s: aspace_check failed", p->name);
	aspace_destroy(&p->as);
	p->has_as = false;
}

static void proc_free(struct proc *p)
{
	proc_release_as(p);
	size_t used = stack_used(p->kstack);
	if (used > kstack_max)
		kstack_max = used;
	p->state = UNUSED;
}

/*
 * Map [va, va + size) as demand-zero memory, writable while the kernel fills it, and
 * record it as an image segment of p with its final permissions.
 */
static int segment_map(struct proc *p, svmm_va_t va, uint64_t size, unsigned prot)
{
	if (p->nseg == NSEG)
		return SVMM_ENOSPC;
	svmm_va_t got;
	int err = aspace_map_anon(&p->as, va, size, PT_R | PT_W, ASPACE_FIXED, &got);
	if (err)
		return err;
	p->seg[p->nseg++] = (struct segment){ va, size, prot };
	return 0;
}

/* Give each segment its final permissions (text R-X, rodata R--). */
static int segments_protect(struct proc *p)
{
	for (int i = 0; i < p->nseg; i++) {
		if (p->seg[i].prot == (PT_R | PT_W))
			continue;
		int err = aspace_protect(&p->as, p->seg[i].va, p->seg[i].size, p->seg[i].prot);
		if (err)
			return err;
	}
	return 0;
}

/* ---- ELF64 ---- */

struct elf64_ehdr {
	unsigned char ident[16];
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

#define PT_LOAD 1
#define PF_X 1
#define PF_W 2
#define PF_R 4

static int elf_load(struct proc *p, const uint8_t *elf, uint64_t len)
{
	const struct elf64_ehdr *eh = (const void *)elf;
	if (len < sizeof(*eh) || memcmp(eh->ident, "\177ELF", 4) != 0 || eh->machine != 243 ||
	    eh->phentsize != sizeof(struct elf64_phdr) ||
	    eh->phoff + (uint64_t)eh->phnum * sizeof(struct elf64_phdr) > len)
		return SVMM_EINVAL;
	for (unsigned i = 0; i < eh->phnum; i++) {
		const struct elf64_phdr *ph = (const void *)(elf + eh->phoff + i * sizeof(*ph));
		if (ph->type != PT_LOAD || ph->memsz == 0)
			continue;
		if (ph->filesz > ph->memsz || ph->offset + ph->filesz > len)
			return SVMM_EINVAL;
		unsigned prot = (ph->flags & PF_R ? PT_R : 0) | (ph->flags & PF_W ? PT_W : 0) |
				(ph->flags & PF_X ? PT_X : 0);
		svmm_va_t va = PGROUNDDOWN(ph->vaddr);
		uint64_t size = PGROUNDUP(ph->vaddr + ph->memsz) - va;
		int err = segment_map(p, va, size, prot);
		if (!err)
			err = aspace_copy_to(&p->as, ph->vaddr, elf + ph->offset, ph->filesz, NULL);
		if (err)
			return err;
	}
	p->tf->epc = eh->entry;
	return segments_protect(p);
}

/* The programs built into the image (userprogs.S). */
struct uprog {
	const char *name;
	const uint8_t *elf;
	uint64_t len;
};
extern const struct uprog user_programs[];
extern const uint64_t user_programs_count;

static const struct uprog *uprog_find(const char *name)
{
	for (uint64_t i = 0; i < user_programs_count; i++)
		if (strcmp(user_programs[i].name, name) == 0)
			return &user_programs[i];
	return NULL;
}

/* ---- spawn, exit, wait ---- */

/*
 * A child of p running a copy of p's image (its segments, as they are now) with a
 * fresh stack, entered at start(fn, arg). Each page goes through a kernel bounce page:
 * aspace_copy_from out of the parent (a page the parent never touched reads as zeros
 * and costs it no frame), aspace_copy_to into the child, whose segments are writable
 * until segments_protect. Returns its pid or an error.
 */
static long spawn(struct proc *p, svmm_va_t start, uint64_t fn, uint64_t arg)
{
	struct proc *c = proc_alloc(p->name);
	if (!c)
		return SVMM_ENOMEM;
	/* One bounce page: the parent's bytes come in, then go out to the child. */
	svmm_pa_t bounce;
	int err = pmem_alloc(&kpmem, 0, PHYSTOP, &bounce);
	bool have_bounce = err == 0;
	for (int i = 0; err == 0 && i < p->nseg; i++) {
		struct segment *s = &p->seg[i];
		err = segment_map(c, s->va, s->size, s->prot);
		for (uint64_t off = 0; err == 0 && off < s->size; off += PGSIZE) {
			err = aspace_copy_from(&p->as, (void *)bounce, s->va + off, PGSIZE, NULL);
			if (!err)
				err = aspace_copy_to(&c->as, s->va + off, (void *)bounce, PGSIZE, NULL);
		}
	}
	if (have_bounce)
		pmem_free(&kpmem, bounce, 0);
	if (err == 0)
		err = segments_protect(c);
	if (err) {
		proc_free(c);
		return err;
	}
	c->tf->epc = start;
	c->tf->x[10] = fn;
	c->tf->x[11] = arg;
	c->parent = p;
	c->state = RUNNABLE;
	return c->pid;
}

static void sched(void)
{
	struct proc *p = myproc();
	swtch(&p->ctx, &sched_ctx);
}

_Noreturn void proc_exit(struct proc *p, long status)
{
	/* The address space goes now; the stack and slot when the parent reaps. */
	proc_release_as(p);
	p->xstate = status;
	for (int i = 0; i < NPROC; i++) {
		struct proc *c = &procs[i];
		if (c->state != UNUSED && c->parent == p) {
			c->parent = NULL;
			if (c->state == ZOMBIE)
				proc_free(c);
		}
	}
	p->state = ZOMBIE;
	if (p->parent && p->parent->state == SLEEPING && p->parent->waitpid == p->pid)
		p->parent->state = RUNNABLE;
	sched();
	panic("zombie %d ran", p->pid);
}

static long wait(struct proc *p, int pid, svmm_va_t status)
{
	struct proc *c = NULL;
	for (int i = 0; i < NPROC && !c; i++)
		if (procs[i].state != UNUSED && procs[i].parent == p && procs[i].pid == pid)
			c = &procs[i];
	if (!c)
		return SVMM_ENOENT;
	while (c->state != ZOMBIE) {
		p->waitpid = pid;
		p->state = SLEEPING;
		sched();
	}
	long xs = c->xstate;
	proc_free(c);
	if (status) {
		int err = aspace_copy_to(&p->as, status, &xs, sizeof(xs), NULL);
		if (err)
			return err;
	}
	return pid;
}

long syscall(struct proc *p)
{
	struct trapframe *tf = p->tf;
	uint64_t a0 = tf->x[10], a1 = tf->x[11], a2 = tf->x[12];
	switch (tf->x[17]) {
	case SYS_EXIT:
		proc_exit(p, (long)a0);
	case SYS_WRITE: {
		char buf[64];
		for (uint64_t done = 0; done < a1;) {
			uint64_t n = a1 - done < sizeof(buf) ? a1 - done : sizeof(buf);
			int err = aspace_copy_from(&p->as, buf, a0 + done, n, NULL);
			if (err)
				return err;
			consputs(buf, n);
			done += n;
		}
		return (long)a1;
	}
	case SYS_MAP: {
		svmm_va_t va;
		if (a2 & ~(uint64_t)MAP_COMMIT)
			return SVMM_EINVAL;
		unsigned flags = a2 & MAP_COMMIT ? ASPACE_COMMIT : 0;
		int err = aspace_map_anon(&p->as, 0, a0, (unsigned)a1, flags, &va);
		return err ? err : (long)va;
	}
	case SYS_UNMAP:
		return aspace_unmap(&p->as, a0, a1);
	case SYS_SPAWN:
		return spawn(p, a0, a1, a2);
	case SYS_WAIT:
		return wait(p, (int)a0, a1);
	case SYS_GETPID:
		return p->pid;
	}
	return SVMM_EINVAL;
}

/* ---- the scheduler ---- */

/* Run processes until none can run. */
static void scheduler(void)
{
	for (bool ran = true; ran;) {
		ran = false;
		for (int i = 0; i < NPROC; i++) {
			struct proc *p = &procs[i];
			if (p->state != RUNNABLE)
				continue;
			p->state = RUNNING;
			current = p;
			swtch(&sched_ctx, &p->ctx);
			current = NULL;
			if (p->has_as)
				aspace_deactivate(&p->as, 0);
			/* An orphan that exited has nobody to reap it. */
			if (p->state == ZOMBIE && !p->parent && !p->toplevel)
				proc_free(p);
			ran = true;
		}
	}
}

/*
 * Run program name with argument arg until it and every process it started are
 * gone; its exit status in *status. Returns 0, or -1 if it could not be started or
 * left processes that can never run again.
 */
int run_program(const char *name, long arg, long *status)
{
	const struct uprog *u = uprog_find(name);
	if (!u)
		panic("no program %s", name);
	struct proc *p = proc_alloc(name);
	if (!p)
		return -1;
	p->toplevel = true;
	int err = elf_load(p, u->elf, u->len);
	if (err) {
		printf("%s: load: %s\n", name, svmm_strerror(err));
		proc_free(p);
		return -1;
	}
	p->tf->x[10] = (uint64_t)arg;
	p->state = RUNNABLE;
	scheduler();
	int stuck = 0;
	for (int i = 0; i < NPROC; i++) {
		struct proc *q = &procs[i];
		if (q->state != UNUSED && q != p) {
			printf("%s: process %d (%s) left in state %d\n", name, q->pid, q->name,
			       q->state);
			proc_free(q);
			stuck = 1;
		}
	}
	if (p->state != ZOMBIE) {
		printf("%s: never exited\n", name);
		stuck = 1;
	}
	*status = p->xstate;
	proc_free(p);
	return stuck ? -1 : 0;
}

/* ---- the way back to U-mode ---- */

extern char uservec[];

_Noreturn void usertrapret(void)
{
	struct proc *p = myproc();
	/* Every lock, svmm's included, must be released before user code runs. */
	if (spinlocks_held() != 0)
		panic("%s: returning to U-mode holding %d spinlocks", p->name, spinlocks_held());
	intr_off();
	csr_write(stvec, TRAMPOLINE + (uservec - trampoline));
	p->tf->ksatp = kernel_satp;
	p->tf->ksp = (uint64_t)p->kstack + KSTACK_SIZE;
	p->tf->ktrap = (uint64_t)usertrap;
	p->tf->kflush = asid_bits == 0;
	/* U-mode next (SPP = 0), and interrupts stay as they are (none are enabled). */
	csr_clear(sstatus, SSTATUS_SPP | SSTATUS_SPIE);
	csr_write(sepc, p->tf->epc);
	bool flush;
	uint64_t satp = aspace_activate(&p->as, 0, &flush);
	void (*ret)(uint64_t, uint64_t, uint64_t) =
		(void (*)(uint64_t, uint64_t, uint64_t))(TRAMPOLINE + (userret - trampoline));
	ret(TRAPFRAME, satp, flush);
	__builtin_unreachable();
}
