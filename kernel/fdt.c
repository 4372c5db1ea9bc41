/*
 * kernel/fdt.c - a small reader of the flattened device tree (devicetree spec v0.4,
 * chapter 5): the header, the memory reservation block and the structure block.
 *
 * It is a single pass over the structure block with a stack of (#address-cells,
 * #size-cells) per depth, since a node's reg is decoded with its parent's cells. It
 * collects only what the kernel needs: RAM, reserved memory, bootargs, the timebase
 * and the registers of the UART, PLIC, CLINT and the poweroff device. Every read is
 * bounds-checked against the sizes in the header, so a corrupt blob is refused, not
 * followed.
 */
#include "fdt.h"
#include "kernel.h"

#define FDT_MAGIC 0xd00dfeedu
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE 2u
#define FDT_PROP 3u
#define FDT_NOP 4u
#define FDT_END 9u
#define FDT_MAX_DEPTH 16

static uint32_t be32(const void *p)
{
	const uint8_t *b = p;
	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static uint64_t be64(const void *p)
{
	return ((uint64_t)be32(p) << 32) | be32((const uint8_t *)p + 4);
}

/* Read a number of `cells` 32-bit cells. */
static uint64_t read_cells(const uint8_t *p, unsigned cells)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < cells; i++)
		v = (v << 32) | be32(p + 4 * i);
	return v;
}

/* Does the NUL-separated compatible list hold name? */
static bool compat_has(const char *list, uint32_t len, const char *name)
{
	uint32_t i = 0;
	while (i < len) {
		const char *s = list + i;
		uint32_t n = 0;
		while (i + n < len && s[n])
			n++;
		if (n == strlen(name) && memcmp(s, name, n) == 0)
			return true;
		i += n + 1;
	}
	return false;
}

static bool prefix(const char *name, const char *p)
{
	return strncmp(name, p, strlen(p)) == 0 &&
	       (name[strlen(p)] == 0 || name[strlen(p)] == '@');
}

struct node_state {
	uint32_t addr_cells, size_cells;   /* for this node's children */
	const uint8_t *reg;
	uint32_t reg_len;
	const char *compat;
	uint32_t compat_len;
	const char *name;
	bool is_memory, in_reserved, is_reserved_root, is_chosen, is_cpus;
};

static void add_range(struct fdt_range *arr, unsigned *n, svmm_pa_t base, uint64_t size)
{
	if (*n < FDT_MAX_RANGES && size != 0) {
		arr[*n].base = base;
		arr[*n].size = size;
		(*n)++;
	}
}

static void node_done(struct fdt_info *out, struct node_state *st, const struct node_state *parent)
{
	if (!st->reg || !parent)
		return;
	unsigned ac = parent->addr_cells, sc = parent->size_cells;
	unsigned entry = 4 * (ac + sc);
	if (entry == 0 || ac > 2 || sc > 2)
		return;
	for (uint32_t off = 0; off + entry <= st->reg_len; off += entry) {
		svmm_pa_t base = read_cells(st->reg + off, ac);
		uint64_t size = read_cells(st->reg + off + 4 * ac, sc);
		if (st->is_memory)
			add_range(out->ram, &out->nram, base, size);
		else if (st->in_reserved)
			add_range(out->reserved, &out->nreserved, base, size);
		else if (st->compat && off == 0) {
			struct fdt_range r = { base, size };
			if (compat_has(st->compat, st->compat_len, "ns16550a") && !out->uart.size)
				out->uart = r;
			else if ((compat_has(st->compat, st->compat_len, "riscv,plic0") ||
				  compat_has(st->compat, st->compat_len, "sifive,plic-1.0.0")) &&
				 !out->plic.size)
				out->plic = r;
			else if ((compat_has(st->compat, st->compat_len, "riscv,clint0") ||
				  compat_has(st->compat, st->compat_len, "sifive,clint0")) &&
				 !out->clint.size)
				out->clint = r;
			else if (compat_has(st->compat, st->compat_len, "sifive,test1") &&
				 !out->poweroff.size)
				out->poweroff = r;
		}
	}
}

int fdt_parse(const void *blob, uint64_t limit, struct fdt_info *out)
{
	const uint8_t *b = blob;
	memset(out, 0, sizeof *out);
	if (limit < 40 || be32(b) != FDT_MAGIC)
		return SVMM_EINVAL;
	uint32_t total = be32(b + 4), off_struct = be32(b + 8), off_strings = be32(b + 12);
	uint32_t off_rsv = be32(b + 16), version = be32(b + 20);
	uint32_t size_strings = be32(b + 32), size_struct = be32(b + 36);
	if (version < 16 || total > limit || off_struct > total || size_struct > total - off_struct ||
	    off_strings > total || size_strings > total - off_strings || off_rsv > total)
		return SVMM_EINVAL;
	out->total_size = total;

	/* Memory reservation block: (address, size) pairs ending with a zero pair. */
	for (uint32_t o = off_rsv; o + 16 <= total; o += 16) {
		uint64_t a = be64(b + o), s = be64(b + o + 8);
		if (a == 0 && s == 0)
			break;
		add_range(out->reserved, &out->nreserved, a, s);
	}

	struct node_state stack[FDT_MAX_DEPTH];
	int depth = -1;
	uint64_t initrd_end = 0;
	uint32_t o = off_struct, end = off_struct + size_struct;
	while (o + 4 <= end) {
		uint32_t tok = be32(b + o);
		o += 4;
		if (tok == FDT_BEGIN_NODE) {
			const char *name = (const char *)b + o;
			uint32_t n = 0;
			while (o + n < end && name[n])
				n++;
			if (o + n >= end)
				return SVMM_EINVAL;
			o = (o + n + 1 + 3) & ~3u;
			if (++depth >= FDT_MAX_DEPTH)
				return SVMM_EINVAL;
			struct node_state *st = &stack[depth];
			memset(st, 0, sizeof *st);
			st->addr_cells = 2;   /* spec defaults */
			st->size_cells = 1;
			st->name = name;
			const struct node_state *parent = depth > 0 ? &stack[depth - 1] : NULL;
			if (depth == 1) {
				st->is_memory = prefix(name, "memory");
				st->is_reserved_root = prefix(name, "reserved-memory");
				st->is_chosen = prefix(name, "chosen");
				st->is_cpus = prefix(name, "cpus");
			}
			if (parent && parent->is_reserved_root)
				st->in_reserved = true;
		} else if (tok == FDT_END_NODE) {
			if (depth < 0)
				return SVMM_EINVAL;
			node_done(out, &stack[depth], depth > 0 ? &stack[depth - 1] : NULL);
			depth--;
		} else if (tok == FDT_PROP) {
			if (o + 8 > end || depth < 0)
				return SVMM_EINVAL;
			uint32_t len = be32(b + o), nameoff = be32(b + o + 4);
			o += 8;
			if (len > end - o || nameoff >= size_strings)
				return SVMM_EINVAL;
			const char *pname = (const char *)b + off_strings + nameoff;
			const uint8_t *val = b + o;
			struct node_state *st = &stack[depth];
			if (strcmp(pname, "#address-cells") == 0 && len == 4)
				st->addr_cells = be32(val);
			else if (strcmp(pname, "#size-cells") == 0 && len == 4)
				st->size_cells = be32(val);
			else if (strcmp(pname, "reg") == 0) {
				st->reg = val;
				st->reg_len = len;
			} else if (strcmp(pname, "compatible") == 0) {
				st->compat = (const char *)val;
				st->compat_len = len;
			} else if (strcmp(pname, "device_type") == 0 && depth == 1 &&
				   len >= 7 && memcmp(val, "memory", 7) == 0) {
				st->is_memory = true;
			} else if (strcmp(pname, "bootargs") == 0 && st->is_chosen) {
				uint32_t n = len < sizeof out->bootargs - 1 ? len : sizeof out->bootargs - 1;
				memcpy(out->bootargs, val, n);
				out->bootargs[n] = 0;
			} else if ((strcmp(pname, "linux,initrd-start") == 0 ||
				    strcmp(pname, "linux,initrd-end") == 0) && st->is_chosen &&
				   (len == 4 || len == 8)) {
				uint64_t a = len == 4 ? be32(val) : be64(val);
				if (pname[13] == 's')
					out->initrd.base = a;
				else
					initrd_end = a;
			} else if (strcmp(pname, "timebase-frequency") == 0 && st->is_cpus &&
				   (len == 4 || len == 8)) {
				out->timebase = len == 4 ? be32(val) : be64(val);
			}
			o = (o + len + 3) & ~3u;
		} else if (tok == FDT_NOP) {
			continue;
		} else if (tok == FDT_END) {
			if (depth != -1)
				return SVMM_EINVAL;
			/* The initrd is a reservation like any other. */
			if (initrd_end > out->initrd.base) {
				out->initrd.size = initrd_end - out->initrd.base;
				add_range(out->reserved, &out->nreserved, out->initrd.base,
					  out->initrd.size);
			}
			return 0;
		} else {
			return SVMM_EINVAL;
		}
	}
	return SVMM_EINVAL;
}

bool cmdline_get(const char *cmdline, const char *key, char *buf, size_t n)
{
	size_t kl = strlen(key);
	const char *p = cmdline;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *w = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - w) > kl && strncmp(w, key, kl) == 0 && w[kl] == '=') {
			size_t vl = (size_t)(p - w) - kl - 1;
			if (n == 0)
				return true;
			if (vl >= n)
				vl = n - 1;
			memcpy(buf, w + kl + 1, vl);
			buf[vl] = 0;
			return true;
		}
	}
	return false;
}

int parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (*s < '0' || *s > '9')
		return SVMM_EINVAL;
	while (*s >= '0' && *s <= '9') {
		uint64_t d = (uint64_t)(*s - '0');
		if (v > (~0ull - d) / 10)
			return SVMM_EOVERFLOW;
		v = v * 10 + d;
		s++;
	}
	unsigned shift = 0;
	if (*s == 'K' || *s == 'k') shift = 10;
	else if (*s == 'M' || *s == 'm') shift = 20;
	else if (*s == 'G' || *s == 'g') shift = 30;
	else if (*s != 0) return SVMM_EINVAL;
	if (shift && *++s != 0)
		return SVMM_EINVAL;
	if (shift && v > (~0ull >> shift))
		return SVMM_EOVERFLOW;
	*out = v << shift;
	return 0;
}
