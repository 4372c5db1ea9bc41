/*
 * minikern/fdt.c - the one thing this kernel reads from the device tree: the kernel
 * command line (/chosen's bootargs).
 */
#include "defs.h"

#define FDT_MAGIC      0xd00dfeedu
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE   2u
#define FDT_PROP       3u
#define FDT_NOP        4u
#define FDT_END        9u

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* bootargs, or "" when the tree has none or is not a device tree. */
const char *fdt_bootargs(uint64_t dtb)
{
	const uint8_t *t = (const uint8_t *)dtb;
	if (be32(t) != FDT_MAGIC)
		return "";
	uint32_t total = be32(t + 4);
	const uint8_t *p = t + be32(t + 8), *end = t + total;
	const char *strings = (const char *)t + be32(t + 12);
	while (p + 4 <= end) {
		uint32_t tok = be32(p);
		p += 4;
		if (tok == FDT_BEGIN_NODE) {
			while (p < end && *p)
				p++;
			p = (const uint8_t *)(((uint64_t)p + 1 + 3) & ~3ul);
		} else if (tok == FDT_PROP) {
			uint32_t len = be32(p), nameoff = be32(p + 4);
			const char *val = (const char *)p + 8;
			if (strcmp(strings + nameoff, "bootargs") == 0)
				return val;
			p = (const uint8_t *)(((uint64_t)p + 8 + len + 3) & ~3ul);
		} else if (tok == FDT_END) {
			break;
		} else if (tok != FDT_END_NODE && tok != FDT_NOP) {
			break;
		}
	}
	return "";
}
