/*
 * fuzz_pt.c - libFuzzer target for the page tables.
 *
 * The input is a paging mode byte followed by 10-byte records, each one pt_map,
 * pt_unmap or pt_protect call over [0, 2 GiB) (crossing Sv39's root-slot boundary at
 * 1 GiB), with sizes from one page to a gigapage, flags the fuzzer picks (replace,
 * missing-ok, Svnapot, IO, page-size cap) and, now and then, an allocation made to fail.
 * A per-page reference array predicts every return code and every translation; after
 * each call the edges of the range and pages the input names are compared, the
 * table count is checked against the port, and pt_check runs. At the end the pt is
 * destroyed and every table frame must be back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svmm/pt.h>
#include "hostsim.h"

#define PAGE   SVMM_PAGE_SIZE
#define SPAN   (2 * SVMM_GiB)
#define NPAGES (SPAN / PAGE)

/* Per page: pa | perm bits | 1 (mapped). Pages are aligned so the low bits are free. */
static uint64_t *ref;

static void die(const char *what, uint64_t a, uint64_t b)
{
	fprintf(stderr, "fuzz_pt: %s (0x%llx, 0x%llx)\n", what, (unsigned long long)a,
		(unsigned long long)b);
	abort();
}

static uint64_t rd(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void check_page(const struct pt *pt, uint64_t page)
{
	svmm_va_t va = page * PAGE;
	svmm_pa_t pa;
	uint64_t r = ref[page];
	int err = pt_translate(pt, va, PT_R, PT_SUM | PT_MXR, &pa, NULL);
	if (!(r & 1)) {
		if (err != SVMM_EFAULT)
			die("mapped, reference says not", va, pa);
		return;
	}
	if (err != 0 || pa != (r & ~(PAGE - 1)))
		die("translation differs", va, pa);
	int w = pt_translate(pt, va, PT_W, PT_SUM, NULL, NULL);
	if ((w == 0) != ((r & PT_W) != 0))
		die("write permission differs", va, r);
}

static const unsigned perms[] = {
	PT_R, PT_R | PT_W, PT_R | PT_X, PT_R | PT_W | PT_X, PT_X, PT_R | PT_U, PT_W, 0,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		if (hostsim_ram_init(0x80000000ull, 256 * SVMM_MiB) != 0)
			abort();
		ref = calloc(NPAGES, sizeof(*ref));
		if (ref == NULL)
			abort();
		ready = true;
	}
	if (size < 1)
		return 0;
	enum svmm_mode mode = (enum svmm_mode)(SVMM_SV39 + data[0] % 3);
	struct pt pt;
	if (pt_init(&pt, mode, 1) != 0)
		abort();
	uint64_t lo = NPAGES, hi = 0;   /* reference pages touched, to clear them after */
	data++;
	size--;
	for (; size >= 10; data += 10, size -= 10) {
		unsigned kind = data[0] % 3;
		unsigned fl = data[1];
		uint64_t start = rd(data + 2, 3) % NPAGES;
		uint64_t sc = data[5] >> 6, n = rd(data + 5, 2) & 0x3fff;
		/* Gigapage-sized calls are rare: they make every later check slow. */
		if (sc == 3 && n % 8 != 0)
			sc = 2;
		uint64_t npages = sc == 0 ? 1 + n % 64 : sc == 1 ? 512 * (1 + n % 4) + n % 3 :
				  sc == 2 ? 1 + n : 262144;
		if (data[9] & 0x80)
			start &= ~(uint64_t)(sc == 3 ? 262143 : 511);   /* aligned starts */
		if (npages > NPAGES - start)
			npages = NPAGES - start;
		uint64_t skew = rd(data + 7, 2);
		unsigned perm = perms[data[9] & 7];
		unsigned fail_at = (data[9] >> 3) & 7;   /* 1..3: fail that allocation */
		svmm_va_t va = start * PAGE;
		uint64_t len = npages * PAGE;
		svmm_pa_t pa = 0x100000000ull + va + (skew & 1 ? (skew >> 1) * PAGE : 0);
		bool any = false, all = true;
		for (uint64_t p = start; p < start + npages; p++) {
			if (ref[p] & 1)
				any = true;
			else
				all = false;
		}
		bool bad_perm = (perm & (PT_R | PT_W | PT_X)) == 0 ||
				((perm & PT_W) && !(perm & PT_R));
		unsigned flags;
		int want;
		if (kind == 0) {
			flags = perm | (fl & 1 ? PT_REPLACE : 0) | (fl & 2 ? PT_NAPOT : 0) |
				(fl & 4 ? PT_IO : 0) | ((fl >> 3) % 5) << PT_MAX_PAGE_SHIFT;
			want = bad_perm ? SVMM_EPERM : any && !(flags & PT_REPLACE) ? SVMM_EEXIST : 0;
		} else {
			flags = fl & 1 ? PT_MISSING_OK : 0;
			want = !all && !(flags & PT_MISSING_OK) ? SVMM_ENOENT : 0;
			if (kind == 2 && bad_perm) {
				/*
				 * Replacing R, W and X all at once is refused before any walk;
				 * otherwise the walk meets, in address order, either a hole
				 * (ENOENT, unless holes are skipped) or a leaf that would end
				 * with a bad set (EPERM) first.
				 */
				bool early = (perm & PT_R) == 0 && (perm & PT_W) == 0 &&
					     (perm & PT_X) == 0;
				uint64_t p = start;

				if (flags & PT_MISSING_OK)
					while (p < start + npages && !(ref[p] & 1))
						p++;
				if (early || (p < start + npages && (ref[p] & 1)))
					want = SVMM_EPERM;
			}
		}
		if (start < lo)
			lo = start;
		if (start + npages > hi)
			hi = start + npages;
		uint64_t tables = pt.tables;
		if (fail_at >= 1 && fail_at <= 3)
			hostsim_fail_after(fail_at);
		int err = kind == 0 ? pt_map(&pt, va, pa, len, flags) :
			  kind == 1 ? pt_unmap(&pt, va, len, flags) :
				      pt_protect(&pt, va, len, perm, PT_PERMS & ~perm, flags);
		hostsim_fail_after(0);
		if (err == SVMM_ENOMEM && want == 0 && fail_at >= 1 && fail_at <= 3) {
			if (pt.tables != tables)
				die("ENOMEM changed the table count", tables, pt.tables);
		} else if (err != want) {
			die("unexpected return", (uint64_t)(int64_t)err, (uint64_t)(int64_t)want);
		} else if (err == 0) {
			for (uint64_t p = start; p < start + npages; p++) {
				if (kind == 0)
					ref[p] = (pa + (p - start) * PAGE) | perm | 1;
				else if (kind == 1)
					ref[p] = 0;
				else if (ref[p] & 1)
					ref[p] = (ref[p] & ~(uint64_t)PT_PERMS) | perm;
			}
		}
		if (pt.tables != hostsim_tables_live())
			die("table count differs from the port", pt.tables, hostsim_tables_live());
		/* A full check reads every table: after each call while the tree is small. */
		if ((pt.tables <= 64 || size < 20) && pt_check(&pt, NULL, NULL) != 0)
			die("pt_check failed", va, len);
		check_page(&pt, start);
		check_page(&pt, start + npages - 1);
		if (start > 0)
			check_page(&pt, start - 1);
		if (start + npages < NPAGES)
			check_page(&pt, start + npages);
		check_page(&pt, (start + skew * 977) % NPAGES);
	}
	pt_destroy(&pt, pt_leaf_ignore, NULL);
	if (hi > lo)
		memset(ref + lo, 0, (hi - lo) * sizeof(*ref));
	if (hostsim_tables_live() != 0)
		die("tables leaked", hostsim_tables_live(), 0);
	return 0;
}
