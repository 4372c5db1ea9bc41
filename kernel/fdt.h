/*
 * kernel/fdt.h - what the kernel needs from the flattened device tree.
 */
#ifndef KERNEL_FDT_H
#define KERNEL_FDT_H

#include <svmm/types.h>

#define FDT_MAX_RANGES 16

struct fdt_range { svmm_pa_t base; uint64_t size; };

struct fdt_info {
	struct fdt_range ram[FDT_MAX_RANGES];        /* memory nodes' reg */
	unsigned nram;
	struct fdt_range reserved[FDT_MAX_RANGES];   /* /reserved-memory + memreserve */
	unsigned nreserved;
	uint64_t total_size;                         /* the blob's own size */
	char bootargs[256];                          /* /chosen bootargs */
	struct fdt_range uart, plic, clint, poweroff;/* size 0 = absent */
	uint64_t timebase;                           /* /cpus timebase-frequency */
	struct fdt_range initrd;                     /* /chosen linux,initrd-start/end */
};

/*
 * Parse the blob at blob (a kernel pointer to it). Returns 0, or SVMM_EINVAL when the
 * header is wrong (bad magic, version below 16, sizes beyond limit bytes).
 */
int fdt_parse(const void *blob, uint64_t limit, struct fdt_info *out);

/* Find "key=value" in a command line; copy value into buf. True if found. */
bool cmdline_get(const char *cmdline, const char *key, char *buf, size_t n);
/* Parse a size with optional K/M/G suffix. 0 on success. */
int parse_size(const char *s, uint64_t *out);

#endif
