/*
 * kernel/boot.c - the boot state that every layer reads (struct boot_info, the device
 * tree's findings, the direct map's base). main.c fills it in; it is defined here,
 * apart from main.c, so that reading it does not make a file depend on main.c, which
 * calls every layer (tools/kernel-deps.sh checks that files use each other one way).
 */
#include "boot.h"
#include "fdt.h"
#include "kernel.h"

struct boot_info boot;
struct fdt_info fdt;
svmm_va_t kernel_dmap_base;
/* The direct map's base, for kernel/gdbinit's ptwalk (gdb cannot call dmap_base()). */
svmm_va_t svmm_dmap_base_for_gdb;
