/* kernel/early.h - the early page table (early.c). */
#ifndef KERNEL_EARLY_H
#define KERNEL_EARLY_H

#include <stdint.h>

extern uint64_t early_load_pa;
extern uint64_t early_satp;
extern unsigned early_modes;

/* Called from entry.S with the MMU off: probe modes, enable the best; returns it. */
unsigned early_boot(uint64_t dtb_pa, uint64_t load_pa);
/* From high addresses: rebuild the early table in mode and switch to it. 0 or -1. */
int early_switch_mode(unsigned mode, uint64_t dtb_pa);

#endif
