/*
 * kernel/boot.h - boot.c's variables that only main.c and the debugger use; the rest of
 * the boot state (boot, fdt, dmap_base()) is declared in kernel.h.
 */
#ifndef KERNEL_BOOT_H
#define KERNEL_BOOT_H

#include <svmm/types.h>

extern svmm_va_t svmm_dmap_base_for_gdb;

#endif
