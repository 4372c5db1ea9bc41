/*
 * kernel/memlayout.h - where things are, physically and virtually, in the demo kernel.
 *
 * Physical map of QEMU `virt` (what the device tree says on QEMU 7.2; the kernel reads
 * the real values from the device tree and uses these only as the names of devices):
 *
 *   0x0000_0000_0010_0000  sifive,test1 (poweroff/reboot "syscon")
 *   0x0000_0000_0200_0000  CLINT (timer, software interrupts; used by OpenSBI)
 *   0x0000_0000_0c00_0000  PLIC
 *   0x0000_0000_1000_0000  UART ns16550a
 *   0x0000_0000_8000_0000  RAM: OpenSBI firmware (reserved-memory, 2 MiB on QEMU)
 *   0x0000_0000_8020_0000  RAM: this kernel image (KERNEL_PHYS)
 *   ...                    RAM: the device tree blob wherever OpenSBI put it, then free
 *   0x0000_0000_8000_0000 + RAM size: end of RAM
 *
 * Virtual map (DESIGN section 1; S = root-slot size: 1 GiB Sv39, 512 GiB Sv48,
 * 256 TiB Sv57). Addresses shown for Sv39:
 *
 *   0x0000_0000_0000_0000 +------------------------------+
 *                         | null guard (64 KiB)          |
 *   0x0000_0000_0001_0000 +------------------------------+
 *                         | user memory: program, heap,  |  slots 0..254
 *                         | mmap arena (per process)     |
 *   0x0000_003f_c000_0000 +------------------------------+
 *                         | user stack, grows down, with |  slot 255
 *                         | a guard gap below it         |
 *   0x0000_0040_0000_0000 +------------------------------+
 *                         | (non-canonical hole)         |
 *   0xffff_ffc0_0000_0000 +------------------------------+
 *                         | direct map: va = base + pa,  |  slots 256..510
 *                         | RAM only, up to dmap_limit   |
 *   0xffff_ffff_c000_0000 +------------------------------+
 *                         | kernel dynamic arena (vmem): |  slot 511
 *                         | ioremap, kernel stacks       |
 *   0xffff_ffff_efe0_0000 +------------------------------+
 *                         | fixmap: kmap slots (2 MiB)   |
 *   0xffff_ffff_f000_0000 +------------------------------+
 *                         | kernel image: text R-X,      |  KERNEL_VIRT
 *                         | rodata R--, data+bss RW-     |
 *   0xffff_ffff_ffff_ffff +------------------------------+
 */
#ifndef KERNEL_MEMLAYOUT_H
#define KERNEL_MEMLAYOUT_H

#include <svmm/layout.h>

#define KERNEL_PHYS  0x80200000ull
#define KERNEL_VIRT  SVMM_KIMAGE_BASE

/* User address-space layout of the demo. */
#define USER_TEXT_BASE   0x10000ull          /* first address above the null guard */
#define USER_STACK_MAX   (1ull << 20)        /* stack growth limit: 1 MiB */
#define USER_STACK_GUARD (64ull << 10)       /* unmapped gap below the stack limit */

/* Symbols from kernel.ld. */
extern char _kernel_start[], _etext[], _erodata[], _edata[], _bss_start[], _bss_end[];
extern char _stack_guard[], _stack_bottom[], _stack_top[], _kernel_end[];

#endif /* KERNEL_MEMLAYOUT_H */
