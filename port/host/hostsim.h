/*
 * hostsim.h - the host port's controls, for tests and benchmarks only.
 *
 * The host port simulates physical memory as one large lazily-committed mapping at a
 * chosen physical base, hands page-table frames out of it, counts what is live, and
 * can be told to fail the Nth allocation (fault injection).
 */
#ifndef SVMM_HOSTSIM_H
#define SVMM_HOSTSIM_H

#include <svmm/port.h>

/*
 * Reserve simulated RAM covering physical [base, base + size). Pages are committed
 * only when touched, so a 64 GiB span costs nothing until used. Returns 0 or -1.
 */
int hostsim_ram_init(svmm_pa_t base, uint64_t size);
/* Release simulated RAM and reset every counter and hook. */
void hostsim_ram_fini(void);
/* Is [pa, pa + size) inside simulated RAM? */
bool hostsim_ram_contains(svmm_pa_t pa, uint64_t size);

/*
 * Where page-table frames come from. By default, a private free list over the top
 * `table_pool` bytes of simulated RAM (set by hostsim_ram_init: 1/8 of it, at most
 * 256 MiB). A test may install its own source (for example one backed by pmem).
 */
struct hostsim_table_source {
	int (*alloc)(void *ctx, svmm_pa_t *pa);
	void (*free)(void *ctx, svmm_pa_t pa);
	void *ctx;
};
void hostsim_set_table_source(const struct hostsim_table_source *src);

/* Is the lock held (by any thread)? Tests use it to see that every path unlocks. */
bool hostsim_lock_held(const struct svmm_lock *lock);

/* Page-table frames currently allocated through port_table_alloc. */
uint64_t hostsim_tables_live(void);

/*
 * Fault injection. hostsim_fail_after(n): the n-th allocation from now fails (n = 1:
 * the very next one), then allocations succeed again. n = 0 disables it.
 * hostsim_fail_point() is what every allocation point calls: true means "fail now".
 * hostsim_alloc_points() counts calls to hostsim_fail_point since the last reset, so a
 * test can run an operation once, learn how many allocation points it passes, and then
 * fail each of them in turn.
 */
void hostsim_fail_after(uint64_t n);
bool hostsim_fail_point(void);
uint64_t hostsim_alloc_points(void);
void hostsim_reset_alloc_points(void);

/*
 * TLB flush observer: the page-table tests install a model TLB here. Called for each
 * port_tlb_flush after the counters below are updated.
 */
typedef void (*hostsim_flush_hook)(void *ctx, uint32_t asid, svmm_va_t va, uint64_t size);
void hostsim_set_flush_hook(hostsim_flush_hook hook, void *ctx);
uint64_t hostsim_flush_count(void);

/* port_kmap calls since hostsim_ram_init, and mappings not yet undone by port_kunmap. */
uint64_t hostsim_kmap_count(void);
uint64_t hostsim_kmaps_live(void);

#endif /* SVMM_HOSTSIM_H */
