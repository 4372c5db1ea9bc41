/*
 * svmm/port.h - everything the portable core needs from the kernel that embeds it.
 *
 * This is the only door between the core and its platform, in the spirit of musl's
 * glue header: the core calls these functions and nothing else outside itself. Two
 * implementations exist: port/host/ (simulated physical memory, a model TLB and
 * pthread-safe locks, for tests and benchmarks) and kernel/port.c (the demo kernel on
 * QEMU). docs/porting.md describes each function for a new kernel.
 *
 * Besides these, the embedding environment provides memset, memcpy, memmove and
 * memcmp, as any freestanding C compiler may emit calls to them.
 */
#ifndef SVMM_PORT_H
#define SVMM_PORT_H

#include <svmm/types.h>

/*
 * The port's configuration. An embedder that wants to supply types of its own compiles
 * the core, and everything else that includes svmm's headers, with
 * -DSVMM_PORT_CONFIG='"its_header.h"'; that header may define:
 *
 *   SVMM_PORT_LOCK_TYPE   the type of the lock inside struct svmm_lock (the kernel's own
 *                         spinlock, with its debugging and "holding" checks);
 *   SVMM_PORT_LOCK_INIT   a static initializer of that type for an unlocked lock.
 *
 * Either way, a lock whose bytes are all zero must be an unlocked lock: the core
 * creates its objects by zero-filling them. Without a configuration the library's own
 * type below is used. docs/porting.md shows both ports.
 */
#ifdef SVMM_PORT_CONFIG
#include SVMM_PORT_CONFIG
#endif

/*
 * A lock. The core only embeds it and passes it to port_lock/port_unlock; it never
 * looks inside. The port decides how it spins or sleeps.
 */
#ifdef SVMM_PORT_LOCK_TYPE
struct svmm_lock {
	SVMM_PORT_LOCK_TYPE impl;
};
#ifndef SVMM_PORT_LOCK_INIT
#error "SVMM_PORT_CONFIG defines SVMM_PORT_LOCK_TYPE without SVMM_PORT_LOCK_INIT"
#endif
#define SVMM_LOCK_INIT { SVMM_PORT_LOCK_INIT }
#else
struct svmm_lock {
	volatile uint32_t word;
	uint32_t irqflags;   /* the port may save interrupt state here while held */
};
#define SVMM_LOCK_INIT { 0, 0 }
#endif

/* Take and release a lock. Not recursive. May be called from any hart. */
void port_lock(struct svmm_lock *lock);
void port_unlock(struct svmm_lock *lock);

/* Stop the system: an invariant of the core is broken. Never returns. */
_Noreturn void port_panic(const char *msg);

/*
 * Translate a physical address that lies in the direct map to a kernel pointer, and
 * back. Only valid for direct-mapped RAM (page tables and core metadata always are).
 */
void *port_pa_to_va(svmm_pa_t pa);
svmm_pa_t port_va_to_pa(const void *va);

/*
 * Map the 4 KiB frame at pa, which may lie above the direct map, at a temporary kernel
 * address, and unmap it. Mappings nest per hart (the kernel uses fixmap slots); the
 * caller neither sleeps nor migrates between the two calls. For RAM inside the direct
 * map port_pa_to_va is cheaper and the core uses it instead.
 */
void *port_kmap(svmm_pa_t pa);
void port_kunmap(void *va);

/*
 * One zeroed 4 KiB frame for a page table, from direct-mapped memory. Returns 0 and
 * the frame's physical address in *pa, or SVMM_ENOMEM with *pa untouched.
 */
int port_table_alloc(svmm_pa_t *pa);
/*
 * port_table_alloc without the zeroing: the frame's contents are unspecified, and the
 * caller writes every word of it before any walk can reach it (pt_init_user zeroes one
 * half of a new root and copies the other, and so writes each word once). Given back
 * with port_table_free.
 */
int port_table_alloc_raw(svmm_pa_t *pa);
/* Give back a frame obtained from port_table_alloc or port_table_alloc_raw. */
void port_table_free(svmm_pa_t pa);

/* The ASID value that names global (kernel) mappings in port_tlb_flush. */
#define PORT_ASID_GLOBAL ((uint32_t)0xffffffffu)

/*
 * Drop stale translations of [va, va + size) tagged with asid, on every hart that may
 * hold them, and return only when they are gone. size == 0 means every address of that
 * ASID; asid == PORT_ASID_GLOBAL means global mappings, which every hart may cache
 * under every ASID.
 */
void port_tlb_flush(uint32_t asid, svmm_va_t va, uint64_t size);

#endif /* SVMM_PORT_H */
