/*
 * port_host.c - the port layer for host tests and benchmarks.
 *
 * Physical memory is one anonymous mapping with MAP_NORESERVE, so a simulated machine
 * of many GiB costs only the pages a test touches. Locks are spinlocks on C11-style
 * atomics that yield the CPU, so that the multithreaded tests exercise real contention
 * without burning a core; they are the port's own type (svmm_host_config.h) and know
 * their holder, so a lock taken twice or released by a non-holder panics. Everything here is test scaffolding; the kernel's port is
 * kernel/port.c.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hostsim.h"

static unsigned char *ram;        /* host pointer of physical address ram_base */
static svmm_pa_t ram_base;
static uint64_t ram_size;

/* Default table-frame source: a free list threaded through free frames, then a bump. */
static svmm_pa_t pool_next, pool_end, pool_free_head;
static uint64_t tables_live;
static struct hostsim_table_source table_src;

static uint64_t fail_countdown;
static uint64_t alloc_points;

static uint64_t kmap_count, kmaps_live;

static hostsim_flush_hook flush_hook;
static void *flush_ctx;
static uint64_t flush_count;

int hostsim_ram_init(svmm_pa_t base, uint64_t size)
{
	if (ram != NULL || size == 0 || !SVMM_IS_ALIGNED(base, SVMM_PAGE_SIZE) ||
	    !SVMM_IS_ALIGNED(size, SVMM_PAGE_SIZE))
		return -1;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	ram = p;
	ram_base = base;
	ram_size = size;
	uint64_t pool = size / 8;
	if (pool > 256 * SVMM_MiB)
		pool = 256 * SVMM_MiB;
	pool = SVMM_ALIGN_DOWN(pool, SVMM_PAGE_SIZE);
	pool_end = base + size;
	pool_next = pool_end - pool;
	pool_free_head = 0;
	return 0;
}

void hostsim_ram_fini(void)
{
	if (ram != NULL)
		munmap(ram, ram_size);
	ram = NULL;
	ram_base = ram_size = 0;
	pool_next = pool_end = pool_free_head = 0;
	tables_live = 0;
	memset(&table_src, 0, sizeof(table_src));
	fail_countdown = 0;
	alloc_points = 0;
	flush_hook = NULL;
	flush_ctx = NULL;
	flush_count = 0;
	kmap_count = kmaps_live = 0;
}

bool hostsim_ram_contains(svmm_pa_t pa, uint64_t size)
{
	return ram != NULL && pa >= ram_base && size <= ram_size &&
	       pa - ram_base <= ram_size - size;
}

void hostsim_set_table_source(const struct hostsim_table_source *src)
{
	if (src != NULL)
		table_src = *src;
	else
		memset(&table_src, 0, sizeof(table_src));
}

uint64_t hostsim_tables_live(void)
{
	return tables_live;
}

void hostsim_fail_after(uint64_t n)
{
	fail_countdown = n;
}

bool hostsim_fail_point(void)
{
	alloc_points++;
	if (fail_countdown == 0)
		return false;
	if (--fail_countdown == 0)
		return true;
	return false;
}

uint64_t hostsim_alloc_points(void)
{
	return alloc_points;
}

void hostsim_reset_alloc_points(void)
{
	alloc_points = 0;
}

void hostsim_set_flush_hook(hostsim_flush_hook hook, void *ctx)
{
	flush_hook = hook;
	flush_ctx = ctx;
}

uint64_t hostsim_flush_count(void)
{
	return flush_count;
}

/* ---- the port interface ---- */

/* A small number per thread, never 0, so that a lock can say who holds it. */
static uint32_t thread_token(void)
{
	static uint32_t next_token;
	static _Thread_local uint32_t me;
	if (me == 0)
		me = __atomic_add_fetch(&next_token, 1u, __ATOMIC_RELAXED);
	return me;
}

/*
 * The contended path of port_lock, out of line and reached by a tail call, so that the
 * uncontended lock needs no stack frame (no registers saved around sched_yield).
 */
static __attribute__((noinline)) void lock_wait(struct hostsim_lock *l, uint32_t me)
{
	do {
		while (__atomic_load_n(&l->word, __ATOMIC_RELAXED) != 0)
			sched_yield();
	} while (__atomic_exchange_n(&l->word, 1u, __ATOMIC_ACQUIRE) != 0);
	__atomic_store_n(&l->holder, me, __ATOMIC_RELAXED);
}

void port_lock(struct svmm_lock *lock)
{
	struct hostsim_lock *l = &lock->impl;
	uint32_t me = thread_token();
	if (__atomic_load_n(&l->holder, __ATOMIC_RELAXED) == me)
		port_panic("port_lock: lock already held by this thread");
	if (__atomic_exchange_n(&l->word, 1u, __ATOMIC_ACQUIRE) != 0)
		lock_wait(l, me);   /* it records the holder itself */
	else
		__atomic_store_n(&l->holder, me, __ATOMIC_RELAXED);
}

void port_unlock(struct svmm_lock *lock)
{
	struct hostsim_lock *l = &lock->impl;
	if (__atomic_load_n(&l->holder, __ATOMIC_RELAXED) != thread_token())
		port_panic("port_unlock: lock not held by this thread");
	__atomic_store_n(&l->holder, 0u, __ATOMIC_RELAXED);
	__atomic_store_n(&l->word, 0u, __ATOMIC_RELEASE);
}

bool hostsim_lock_held(const struct svmm_lock *lock)
{
	return __atomic_load_n(&lock->impl.word, __ATOMIC_RELAXED) != 0;
}

_Noreturn void port_panic(const char *msg)
{
	fprintf(stderr, "svmm panic: %s\n", msg);
	fflush(stderr);
	abort();
}

void *port_pa_to_va(svmm_pa_t pa)
{
	if (!hostsim_ram_contains(pa, 1))
		port_panic("port_pa_to_va: address outside simulated RAM");
	return ram + (pa - ram_base);
}

svmm_pa_t port_va_to_pa(const void *va)
{
	const unsigned char *p = va;
	if (ram == NULL || p < ram || p >= ram + ram_size)
		port_panic("port_va_to_pa: pointer outside simulated RAM");
	return ram_base + (svmm_pa_t)(p - ram);
}

uint64_t hostsim_kmap_count(void)
{
	return kmap_count;
}

uint64_t hostsim_kmaps_live(void)
{
	return kmaps_live;
}

/* All of simulated RAM is reachable, so a kmap only counts and checks its pairing. */
void *port_kmap(svmm_pa_t pa)
{
	if (!SVMM_IS_ALIGNED(pa, SVMM_PAGE_SIZE) || !hostsim_ram_contains(pa, SVMM_PAGE_SIZE))
		port_panic("port_kmap: not a frame of simulated RAM");
	kmap_count++;
	kmaps_live++;
	return port_pa_to_va(pa);
}

void port_kunmap(void *va)
{
	if (kmaps_live == 0)
		port_panic("port_kunmap: no kmap to undo");
	(void)port_va_to_pa(va);
	kmaps_live--;
}

/*
 * The table pool, its counters and the flush counter are shared by every thread of a
 * test; this lock makes them safe to use from several at once (the core calls
 * port_table_free and port_tlb_flush outside its own locks).
 */
static struct svmm_lock port_mu;

/* What a raw table frame holds: valid-looking entries, so a word left unwritten shows. */
#define TABLE_POISON 0xa5

static int table_alloc_locked(svmm_pa_t *pa, bool zero)
{
	if (hostsim_fail_point())
		return SVMM_ENOMEM;
	svmm_pa_t frame;
	if (table_src.alloc != NULL) {
		int err = table_src.alloc(table_src.ctx, &frame);
		if (err != 0)
			return err;
	} else if (pool_free_head != 0) {
		frame = pool_free_head;
		memcpy(&pool_free_head, port_pa_to_va(frame), sizeof(pool_free_head));
	} else if (pool_next < pool_end) {
		frame = pool_next;
		pool_next += SVMM_PAGE_SIZE;
	} else {
		return SVMM_ENOMEM;
	}
	memset(port_pa_to_va(frame), zero ? 0 : TABLE_POISON, SVMM_PAGE_SIZE);
	tables_live++;
	*pa = frame;
	return 0;
}

int port_table_alloc(svmm_pa_t *pa)
{
	port_lock(&port_mu);
	int err = table_alloc_locked(pa, true);
	port_unlock(&port_mu);
	return err;
}

int port_table_alloc_raw(svmm_pa_t *pa)
{
	port_lock(&port_mu);
	int err = table_alloc_locked(pa, false);
	port_unlock(&port_mu);
	return err;
}

static void table_free_locked(svmm_pa_t pa);

void port_table_free(svmm_pa_t pa)
{
	port_lock(&port_mu);
	table_free_locked(pa);
	port_unlock(&port_mu);
}

static void table_free_locked(svmm_pa_t pa)
{
	if (tables_live == 0)
		port_panic("port_table_free: more frees than allocations");
	tables_live--;
	if (table_src.free != NULL) {
		table_src.free(table_src.ctx, pa);
		return;
	}
	/* Poison the frame so that a use after free shows up as garbage, not old PTEs. */
	memset(port_pa_to_va(pa), 0xa5, SVMM_PAGE_SIZE);
	memcpy(port_pa_to_va(pa), &pool_free_head, sizeof(pool_free_head));
	pool_free_head = pa;
}

void port_tlb_flush(uint32_t asid, svmm_va_t va, uint64_t size)
{
	port_lock(&port_mu);
	flush_count++;
	if (flush_hook != NULL)
		flush_hook(flush_ctx, asid, va, size);
	port_unlock(&port_mu);
}
