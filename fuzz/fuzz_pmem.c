/*
 * fuzz_pmem.c - libFuzzer target for pmem.
 *
 * The input describes an init (up to four RAM ranges, up to four reserved ranges,
 * possibly malformed, and a database limit) followed by operations. A refused init
 * must leave the struct untouched; an accepted one must pass pmem_check and account
 * for every frame. Each operation is mirrored in a frame map: blocks handed out must be
 * free and aligned, frees/gets/puts aimed at arbitrary addresses must either be right
 * by the map or be refused without changing anything, and pmem_check runs after
 * every operation.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svmm/pmem.h>
#include "hostsim.h"

#define RAM0 0x80000000ull
#define NFRAMES 4096u                  /* 16 MiB of simulated RAM */
#define MAXLIVE 1024u

struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct in *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++) {
		v <<= 8;
		if (in->n > 0) {
			v |= *in->p++;
			in->n--;
		}
	}
	return v;
}

static struct pmem pm, before;
static uint8_t map[NFRAMES];           /* 0 not RAM, 1 free, 2 other, 3 allocated */
static uint16_t headof[NFRAMES];
static struct {
	svmm_pa_t pa;
	unsigned order;
	uint32_t ref;
} live[MAXLIVE];
static unsigned nlive;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_pmem: %s\n", what);
	abort();
}

static void check(void)
{
	if (pmem_check(&pm, NULL, NULL) != 0)
		die("pmem_check failed");
}

static int find_live(svmm_pa_t pa)
{
	for (unsigned i = 0; i < nlive; i++)
		if (live[i].pa == pa)
			return (int)i;
	return -1;
}

static void release(unsigned i)
{
	uint64_t f = (live[i].pa - RAM0) >> 12;
	for (uint64_t j = 0; j < (1ull << live[i].order); j++)
		map[f + j] = 1;
	live[i] = live[--nlive];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		if (hostsim_ram_init(RAM0, NFRAMES * 4096ull) != 0)
			die("hostsim");
		ready = 1;
	}
	struct in in = { data, size };
	struct pmem_range ram[4], res[4];
	unsigned nram = (unsigned)take(&in, 1) % 4 + 1;
	unsigned nres = (unsigned)take(&in, 1) % 5;
	for (unsigned i = 0; i < nram; i++) {
		uint64_t b = take(&in, 2) % NFRAMES, s = take(&in, 2) % 1024;
		uint64_t skew = take(&in, 1);
		ram[i].base = RAM0 + b * 4096 + (skew == 0xff ? 8 : 0);
		ram[i].size = s * 4096;
		if (ram[i].base + ram[i].size > RAM0 + NFRAMES * 4096ull)
			ram[i].size = RAM0 + NFRAMES * 4096ull - ram[i].base;
	}
	for (unsigned i = 0; i < nres; i++) {
		res[i].base = RAM0 + take(&in, 3) % (NFRAMES * 4096ull);
		res[i].size = take(&in, 2) * 16 + take(&in, 1);
	}
	uint64_t lim = take(&in, 2);
	svmm_pa_t ml = lim >= NFRAMES ? PMEM_ANY : RAM0 + lim * 4096;

	memset(&pm, 0xa5, sizeof(pm));
	before = pm;
	int err = pmem_init(&pm, ram, nram, res, nres, ml);
	if (err != 0) {
		if (memcmp(&pm, &before, sizeof(pm)) != 0)
			die("failed init changed the struct");
		if (err != SVMM_EZEROSIZE && err != SVMM_EUNALIGNED && err != SVMM_EOVERLAP &&
		    err != SVMM_ENOMEM && err != SVMM_EOVERFLOW)
			die("unexpected init error");
		return 0;
	}
	check();

	/* The map: RAM from the spans, unavailable = RAM that is neither free nor ours. */
	struct pmem_stats st;
	pmem_stats(&pm, &st);
	memset(map, 0, sizeof(map));
	uint64_t total = 0;
	for (unsigned i = 0; i < st.nspans; i++)
		for (svmm_pa_t p = st.span[i].base; p < st.span[i].end; p += 4096)
			map[(p - RAM0) >> 12] = 1;
	for (unsigned i = 0; i < nram; i++)
		total += ram[i].size / 4096;
	if (st.total_frames != total)
		die("frames lost at init");
	for (unsigned i = 0; i < nres; i++)
		for (svmm_pa_t p = SVMM_ALIGN_DOWN(res[i].base, 4096); p < res[i].base + res[i].size;
		     p += 4096)
			if (p < RAM0 + NFRAMES * 4096ull && map[(p - RAM0) >> 12])
				map[(p - RAM0) >> 12] = 2;
	for (unsigned i = 0; i < st.nspans; i++)
		for (svmm_pa_t p = st.span[i].db_pa; p < st.span[i].db_pa + st.span[i].db_bytes;
		     p += 4096) {
			if (map[(p - RAM0) >> 12] != 1 || p >= ml)
				die("database not in free RAM below the limit");
			map[(p - RAM0) >> 12] = 2;
		}
	uint64_t nfree = 0;
	for (unsigned f = 0; f < NFRAMES; f++)
		nfree += map[f] == 1;
	if (nfree != st.free_frames)
		die("free frames disagree at init");
	nlive = 0;

	while (in.n > 0) {
		unsigned op = (unsigned)take(&in, 1);
		if (op % 4 == 0) {
			unsigned order = op / 4 % 12;
			uint64_t l = take(&in, 1);
			svmm_pa_t limit = l == 0 ? PMEM_ANY : l == 1 ? ml : RAM0 + l * 16 * 4096;
			svmm_pa_t pa;
			err = pmem_alloc(&pm, order, limit, &pa);
			if (err == 0) {
				uint64_t f = (pa - RAM0) >> 12, n = 1ull << order;
				if (!SVMM_IS_ALIGNED(pa, n * 4096) || pa + n * 4096 > limit ||
				    nlive == MAXLIVE)
					die("bad block");
				for (uint64_t j = 0; j < n; j++) {
					if (map[f + j] != 1)
						die("block not free in the map");
					map[f + j] = 3;
					headof[f + j] = (uint16_t)f;
				}
				live[nlive].pa = pa;
				live[nlive].order = order;
				live[nlive++].ref = 1;
			} else if (err != SVMM_ENOMEM) {
				die("alloc error");
			}
		} else if (op % 4 == 1 && nlive > 0) {
			unsigned i = (unsigned)take(&in, 2) % nlive;
			if (live[i].ref > 1) {
				if (pmem_put(&pm, live[i].pa) != 0)
					die("put");
				live[i].ref--;
			} else {
				if (pmem_free(&pm, live[i].pa, live[i].order) != 0)
					die("free");
				release(i);
			}
		} else if (op % 4 == 2 && nlive > 0) {
			unsigned i = (unsigned)take(&in, 2) % nlive;
			if (pmem_get(&pm, live[i].pa) != 0)
				die("get");
			live[i].ref++;
		} else {
			/* Aim free/get/put at any address: right by the map, or refused. */
			svmm_pa_t pa = RAM0 + take(&in, 2) % NFRAMES * 4096;
			unsigned order = (unsigned)take(&in, 1) % 20;
			unsigned which = op / 4 % 3;
			/* pmem_block agrees with the map on what holds pa. */
			svmm_pa_t bh;
			unsigned bo;
			enum pmem_state bs;
			uint8_t bm = map[(pa - RAM0) >> 12];
			err = pmem_block(&pm, pa, &bh, &bo, &bs);
			if ((err == SVMM_ERANGE) != (bm == 0) ||
			    (bm == 1 && bs != PMEM_FREE) ||
			    (bm == 2 && bs != PMEM_RESERVED && bs != PMEM_META) ||
			    (bm == 3 && (bs != PMEM_ALLOC ||
					 (bh - RAM0) >> 12 != headof[(pa - RAM0) >> 12])))
				die("pmem_block disagrees with the map");
			before = pm;
			err = which == 0 ? pmem_free(&pm, pa, order) :
			      which == 1 ? pmem_get(&pm, pa) : pmem_put(&pm, pa);
			int i = find_live(pa);
			if (err == 0) {
				if (i < 0)
					die("call accepted on a frame that is no block");
				if (which == 0 && (live[i].order != order || live[i].ref != 1))
					die("free accepted with the wrong order or count");
				if (which == 1)
					live[i].ref++;
				else if (which == 0 || --live[i].ref == 0)
					release((unsigned)i);
			} else {
				if (memcmp(&pm, &before, sizeof(pm)) != 0)
					die("refused call changed the struct");
				if (i >= 0 && which == 1 && live[i].ref < UINT32_MAX)
					die("get refused on a live block");
				if (i >= 0 && which == 2)
					die("put refused on a live block");
				if (which == 0 && order > PMEM_MAX_ORDER) {
					if (err != SVMM_EORDER)
						die("order out of range not refused as such");
					check();
					continue;
				}
				uint8_t m = map[(pa - RAM0) >> 12];
				if ((m == 0) != (err == SVMM_ERANGE))
					die("ERANGE disagrees with the map");
				if ((m == 2) != (err == SVMM_ERESERVED))
					die("ERESERVED disagrees with the map");
				if (m == 3 && headof[(pa - RAM0) >> 12] != (pa - RAM0) >> 12 &&
				    err != SVMM_ENOTALLOC)
					die("a tail was not refused as such");
			}
		}
		check();
	}
	/* Everything back: every free frame is free again. */
	while (nlive > 0) {
		while (live[nlive - 1].ref > 1) {
			if (pmem_put(&pm, live[nlive - 1].pa) != 0)
				die("final put");
			live[nlive - 1].ref--;
		}
		if (pmem_free(&pm, live[nlive - 1].pa, live[nlive - 1].order) != 0)
			die("final free");
		release(nlive - 1);
	}
	check();
	if (pmem_free_frames(&pm) != nfree)
		die("frames lost");
	return 0;
}
