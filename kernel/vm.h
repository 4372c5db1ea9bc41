/*
 * kernel/vm.h - the kernel's address space: pmem over the device tree's RAM, the
 * kernel page table, the direct map, the kernel image, the kernel dynamic arena
 * (ioremap, kernel stacks) and the fixmap (kmap).
 */
#ifndef KERNEL_VM_H
#define KERNEL_VM_H

#include <svmm/layout.h>
#include <svmm/pmem.h>
#include <svmm/pt.h>
#include <svmm/vmem.h>

extern struct svmm_layout klayout; /* the layout of the mode in use */
extern struct pmem kpmem;       /* every frame of RAM */
extern struct pt kpt;           /* the kernel page table; its upper half is shared */
extern struct vmem karena;      /* kernel dynamic arena in slot 511 */
extern svmm_pa_t vm_dmap_end;        /* direct map covers physical [0, vm_dmap_end) */
extern uint64_t vm_tables_live; /* page-table frames from port_table_alloc */
extern uint64_t vm_flushes;     /* port_tlb_flush calls */
extern uint64_t vm_kmaps;       /* kmap calls */

/* Build the kernel address space and switch to it. Panics on failure (boot). */
void vm_init(void);

/* Print the layout table and what the kernel half maps, per page size. */
void vm_print_layout(void);

/* With svmm.vmtrace=1: record the kernel arena's statistics as a trace checkpoint. */
void vm_trace_state(void);

/*
 * Map device registers [pa, pa + size) into the kernel arena, uncached where the
 * hardware offers it. Returns 0 and the address in *va, or an svmm error code.
 */
int ioremap(svmm_pa_t pa, uint64_t size, svmm_va_t *va);
int iounmap(svmm_va_t va);

/*
 * Map one 4 KiB frame of any RAM (direct-mapped or not) at a fixmap slot, for
 * short-lived access; returns the kernel pointer or NULL when no slot is free.
 * Release with kunmap. Slots are per hart; interrupts stay off in between is not
 * required since the kernel never blocks holding one.
 */
void *kmap(svmm_pa_t pa);
void kunmap(void *va);
/* Zero a frame wherever it lies: through the direct map or through kmap. */
void vm_zero_frame(svmm_pa_t pa);
/* Copy a frame's bytes (page-sized) wherever it lies. */
void vm_copy_to_frame(svmm_pa_t pa, uint64_t off, const void *src, uint64_t n);

/*
 * A kernel stack of size bytes in the arena, with an unmapped guard page below it.
 * Returns 0 and its top in *top.
 */
int kstack_alloc(uint64_t size, svmm_va_t *top);
/* Does [va, va + size) lie in the fixmap (per-hart kmap slots)? */
bool vm_is_fixmap(svmm_va_t va, uint64_t size);

#endif
