/*
 * minikern/port.c - include/svmm/port.h for this kernel.
 *
 * Physical memory is identity-mapped, so every translation is the identity (checked
 * against RAM) and kmap has nothing to map. Table frames come from pmem. One hart:
 * a TLB flush is a local sfence.vma.
 */
#include "defs.h"

uint64_t tables_live;

/* svmm's locks are the kernel's spinlocks (svmm_config.h). */
void port_lock(struct svmm_lock *lock)
{
	acquire(&lock->impl);
}

void port_unlock(struct svmm_lock *lock)
{
	release(&lock->impl);
}

_Noreturn void port_panic(const char *msg)
{
	panic("svmm: %s", msg);
}

void *port_pa_to_va(svmm_pa_t pa)
{
	if (pa < KERNBASE || pa >= PHYSTOP)
		panic("port_pa_to_va(%p): not RAM", (void *)pa);
	return (void *)pa;
}

svmm_pa_t port_va_to_pa(const void *va)
{
	uint64_t v = (uint64_t)va;
	if (v < KERNBASE || v >= PHYSTOP)
		panic("port_va_to_pa(%p): not RAM", va);
	return v;
}

/* All of RAM is mapped: svmm never needs this (meta_limit is PHYSTOP). */
void *port_kmap(svmm_pa_t pa)
{
	return port_pa_to_va(pa);
}

void port_kunmap(void *va)
{
	(void)va;
}

int port_table_alloc_raw(svmm_pa_t *pa)
{
	svmm_pa_t p;
	if (pmem_alloc(&kpmem, 0, PHYSTOP, &p) != 0)
		return SVMM_ENOMEM;
	tables_live++;
	*pa = p;
	return 0;
}

int port_table_alloc(svmm_pa_t *pa)
{
	int err = port_table_alloc_raw(pa);
	if (err == 0)
		memset((void *)*pa, 0, PGSIZE);
	return err;
}

void port_table_free(svmm_pa_t pa)
{
	int err = pmem_free(&kpmem, pa, 0);
	if (err)
		panic("port_table_free(%p): %s", (void *)pa, svmm_strerror(err));
	tables_live--;
}

/* Past this many pages one full flush is cheaper than one per page. */
#define FLUSH_PAGES_MAX 32

void port_tlb_flush(uint32_t asid, svmm_va_t va, uint64_t size)
{
	if (size == 0 || size / PGSIZE > FLUSH_PAGES_MAX) {
		if (asid == PORT_ASID_GLOBAL)
			sfence_vma();
		else
			__asm__ volatile("sfence.vma zero, %0" :: "r"((uint64_t)asid) : "memory");
		return;
	}
	for (svmm_va_t a = PGROUNDDOWN(va); a < va + size; a += PGSIZE) {
		if (asid == PORT_ASID_GLOBAL)
			__asm__ volatile("sfence.vma %0, zero" :: "r"(a) : "memory");
		else
			__asm__ volatile("sfence.vma %0, %1" :: "r"(a), "r"((uint64_t)asid)
					 : "memory");
	}
}
