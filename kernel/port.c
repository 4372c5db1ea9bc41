/*
 * kernel/port.c - include/svmm/port.h for the demo kernel.
 *
 * Locks (port_lock, port_unlock) are in lock.c, since every layer of the kernel uses
 * them, below the memory code that this file calls. Table frames come from
 * pmem below the direct-map limit and are zeroed through the direct map. TLB flushes
 * are sfence.vma on this hart plus SBI RFENCE to the other harts that may hold the
 * entries (kernel/smp.c).
 */
#include <svmm/pmem.h>
#include <svmm/port.h>

#include "cpu.h"
#include "kernel.h"
#include "riscv.h"
#include "vm.h"

_Noreturn void port_panic(const char *msg)
{
	panic("svmm core: %s", msg);
}

void *port_pa_to_va(svmm_pa_t pa)
{
	if (__builtin_expect(pa >= vm_dmap_end, 0))
		panic("port_pa_to_va(%p): beyond the direct map (limit %p)", (void *)pa,
		      (void *)vm_dmap_end);
	return (void *)(uintptr_t)(dmap_base() + pa);
}

svmm_pa_t port_va_to_pa(const void *va)
{
	svmm_va_t v = (svmm_va_t)(uintptr_t)va;
	if (v < dmap_base() || v - dmap_base() >= vm_dmap_end)
		panic("port_va_to_pa(%p): not a direct-map address", va);
	return v - dmap_base();
}

int port_table_alloc_raw(svmm_pa_t *pa)
{
	svmm_pa_t p;
	int err = pmem_alloc(&kpmem, 0, vm_dmap_end, &p);
	if (err)
		return SVMM_ENOMEM;
	__atomic_fetch_add(&vm_tables_live, 1, __ATOMIC_RELAXED);
	*pa = p;
	return 0;
}

int port_table_alloc(svmm_pa_t *pa)
{
	int err = port_table_alloc_raw(pa);
	if (err == 0)
		memset(port_pa_to_va(*pa), 0, SVMM_PAGE_SIZE);
	return err;
}

void port_table_free(svmm_pa_t pa)
{
	int err = pmem_free(&kpmem, pa, 0);
	if (err)
		panic("port_table_free(%p): %s", (void *)pa, svmm_strerror(err));
	__atomic_fetch_sub(&vm_tables_live, 1, __ATOMIC_RELAXED);
}

/* Past this many pages, one full flush is cheaper than a flush per page. */
#define FLUSH_PAGES_MAX 32

/*
 * This hart with sfence.vma, then the other harts that may hold the translation
 * (smp.c): for a user ASID those that have run it, for kernel (global) mappings all.
 * Returns after every one of them has flushed.
 */
void port_tlb_flush(uint32_t asid, svmm_va_t va, uint64_t size)
{
	__atomic_fetch_add(&vm_flushes, 1, __ATOMIC_RELAXED);
	/* A fixmap slot belongs to one hart (vm.c): only this hart can hold it. */
	if (asid == PORT_ASID_GLOBAL && !(size && vm_is_fixmap(va, size)))
		smp_flush_global(va, size);
	else if (asid != PORT_ASID_GLOBAL)
		smp_flush_asid(asid, va, size);
	if (size == 0 || size / SVMM_PAGE_SIZE > FLUSH_PAGES_MAX) {
		if (asid == PORT_ASID_GLOBAL)
			sfence_vma_all();
		else
			sfence_vma_asid(asid);
		return;
	}
	svmm_va_t end = va + size;
	for (svmm_va_t a = SVMM_ALIGN_DOWN(va, SVMM_PAGE_SIZE); a < end; a += SVMM_PAGE_SIZE) {
		if (asid == PORT_ASID_GLOBAL)
			sfence_vma_va(a);
		else
			sfence_vma_va_asid(a, asid);
	}
}

void *port_kmap(svmm_pa_t pa)
{
	void *p = kmap(pa);
	if (!p)
		panic("port_kmap(%p): no free fixmap slot", (void *)pa);
	return p;
}

void port_kunmap(void *va)
{
	kunmap(va);
}
