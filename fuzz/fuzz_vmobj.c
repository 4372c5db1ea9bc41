/*
 * fuzz_vmobj.c - libFuzzer target for memory objects.
 *
 * The input is a list of operations on up to four objects: create (anonymous, pager,
 * copy-on-write over another), clone of a range, put, read and write faults (with and
 * without 2 MiB pages), populate, discard, and bad arguments. A model keeps what every
 * page must read as (a token written there, or zeros, the pager's pattern, or the
 * backing object's page); every read is compared with it, every write fault must hand
 * out a frame no other object holds, vmobj_check runs on every object after every
 * operation, every frame's pmem count must equal the number of index pages naming it
 * and every index page's the number of objects whose index names it (clones share
 * leaf nodes, see held.h). At the end everything is put and pmem's free count is what
 * it was.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svmm/vmobj.h>
#include "../core/vmobj_internal.h"    /* vmobj_walk_held, svmm's own */
#include "held.h"
#include "hostsim.h"

#define RAM0   0x80000000ull
#define RAMSZ  (24 * SVMM_MiB)
#define NFR    (RAMSZ / 4096)
#define PG     SVMM_PAGE_SIZE
#define NOBJ   4
#define MAXPG  1600u
#define UNSET  (~(uint64_t)0)

struct in {
	const uint8_t *p;
	size_t n;
};

static unsigned take(struct in *in, unsigned bytes)
{
	unsigned v = 0;
	for (unsigned i = 0; i < bytes; i++) {
		v <<= 8;
		if (in->n > 0) {
			v |= *in->p++;
			in->n--;
		}
	}
	return v;
}

static struct pmem pm;
static uint64_t free0, token;
static uint32_t named[NFR];
static struct held held;

struct mobj {
	struct vmobj *o;
	bool handle;
	int backing;
	uint64_t boff, npages;
	unsigned kind;
	uint64_t cont[MAXPG];
};
static struct mobj m[NOBJ];

static void die(const char *what)
{
	fprintf(stderr, "fuzz_vmobj: %s\n", what);
	abort();
}

static int fill(void *ctx, uint64_t off, svmm_pa_t pa)
{
	(void)ctx;
	uint64_t *w = port_pa_to_va(pa);
	for (unsigned i = 0; i < PG / 8; i++)
		w[i] = off + i;
	return off == 13 * PG ? -1234 : 0;        /* one page the pager cannot read */
}

static uint64_t expect(int i, uint64_t pg)
{
	if (m[i].cont[pg] != UNSET)
		return m[i].cont[pg];
	if (m[i].backing >= 0)
		return expect(m[i].backing, pg + m[i].boff);
	return m[i].kind == VMOBJ_PAGER ? pg * PG : 0;
}

static void count(void *ctx, uint64_t off, svmm_pa_t pa, unsigned order, svmm_pa_t holder)
{
	(void)ctx;
	(void)off;
	if (!held_note(&held, holder))
		return;                  /* a leaf node clones share: counted once */
	svmm_pa_t head;
	unsigned o;
	if (pmem_block(&pm, pa, &head, &o, NULL) != 0)
		die("an entry outside RAM");
	unsigned n = order == 9 && !(head == pa && o == 9) ? 512 : 1;
	for (unsigned j = 0; j < n; j++)
		named[(pa - RAM0) / PG + j]++;
}

static void check_all(void)
{
	memset(named, 0, sizeof(named));
	if (held.objects == NULL && !held_init(&held, RAM0, NFR))
		die("out of host memory");
	held_reset(&held);
	for (int i = 0; i < NOBJ; i++)
		if (m[i].o != NULL) {
			if (vmobj_check(m[i].o, NULL, NULL) != 0)
				die("vmobj_check failed");
			held_begin(&held);
			vmobj_walk_held(m[i].o, count, NULL);
		}
	svmm_pa_t bad;
	uint32_t refs, objects;
	uint64_t extra;
	if (!held_verify(&held, &pm, &bad, &refs, &objects, &extra))
		die("an index page's count differs from the objects naming it");
	for (uint64_t f = 0; f < NFR; f++) {
		uint32_t r = 0;
		if (named[f] != 0 && (pmem_refs(&pm, RAM0 + f * PG, &r) != 0 || r != named[f]))
			die("a frame's count differs from the entries naming it");
	}
}

static int pick(unsigned v)
{
	for (int k = 0; k < NOBJ; k++) {
		int i = (int)((v + (unsigned)k) % NOBJ);
		if (m[i].o != NULL && m[i].handle)
			return i;
	}
	return -1;
}

static void reap(void)
{
	for (bool again = true; again;) {
		again = false;
		for (int i = 0; i < NOBJ; i++) {
			if (m[i].o == NULL || m[i].handle)
				continue;
			bool used = false;
			for (int j = 0; j < NOBJ; j++)
				used |= m[j].o != NULL && m[j].backing == i;
			if (!used) {
				m[i].o = NULL;
				again = true;
			}
		}
	}
}

static void setup(int i, struct vmobj *o, unsigned kind, uint64_t npages, int b, uint64_t boff)
{
	m[i].o = o;
	m[i].handle = true;
	m[i].kind = kind;
	m[i].npages = npages;
	m[i].backing = b;
	m[i].boff = boff;
	for (unsigned p = 0; p < MAXPG; p++)
		m[i].cont[p] = UNSET;
}

static void op(struct in *in)
{
	unsigned what = take(in, 1) % 9, sel = take(in, 1);
	int i = pick(sel), slot = -1;
	for (int k = 0; k < NOBJ && slot < 0; k++)
		if (m[k].o == NULL)
			slot = k;
	struct vmobj *o;
	struct vmobj_page p;
	int err;
	switch (what) {
	case 0: {                                       /* create */
		if (slot < 0)
			return;
		uint64_t npages = 1 + take(in, 2) % MAXPG;
		unsigned kind = sel % 3;
		if (kind == 2 && i >= 0 && m[i].backing < 0) {
			uint64_t boff = take(in, 2) % m[i].npages;
			npages = 1 + npages % (m[i].npages - boff);
			err = vmobj_create_cow(m[i].o, boff * PG, npages * PG, &o);
			if (err == 0)
				setup(slot, o, VMOBJ_ANON, npages, i, boff);
		} else if (kind == 1) {
			err = vmobj_create_pager(&pm, npages * PG, fill, NULL, &o);
			if (err == 0)
				setup(slot, o, VMOBJ_PAGER, npages, -1, 0);
		} else {
			err = vmobj_create_anon(&pm, npages * PG, &o);
			if (err == 0)
				setup(slot, o, VMOBJ_ANON, npages, -1, 0);
		}
		if (err != 0 && err != SVMM_ENOMEM && err != SVMM_EINVAL)
			die("create failed oddly");
		return;
	}
	case 1: {                                       /* clone of the whole object */
		if (i < 0 || slot < 0)
			return;
		err = vmobj_clone(m[i].o, 0, m[i].npages * PG, &o);
		if (err == SVMM_ENOMEM)
			return;
		if (err != 0)
			die("clone failed");
		setup(slot, o, m[i].kind, m[i].npages, m[i].backing, m[i].boff);
		memcpy(m[slot].cont, m[i].cont, sizeof(m[i].cont));
		return;
	}
	case 2:                                         /* put */
		if (i < 0)
			return;
		m[i].handle = false;
		vmobj_put(m[i].o);
		reap();
		return;
	case 3:
	case 4: {                                       /* read or write fault */
		if (i < 0)
			return;
		uint64_t pg = take(in, 2) % (m[i].npages + 2);   /* now and then past the end */
		unsigned acc = (what == 4 ? VMOBJ_WRITE : VMOBJ_READ) | (sel & 1 ? VMOBJ_HUGE : 0);
		err = vmobj_fault(m[i].o, pg * PG, acc, &p);
		if (pg >= m[i].npages) {
			if (err != SVMM_ERANGE)
				die("a fault past the end was not refused");
			return;
		}
		if (err == SVMM_ENOMEM || err == -1234)
			return;
		if (err != 0)
			die("fault failed");
		svmm_pa_t pa = p.order == 9 ? p.pa + (pg % 512) * PG : p.pa;
		uint64_t *w = port_pa_to_va(pa);
		if (w[0] != expect(i, pg))
			die("a page reads differently from the model");
		if (what == 4) {
			if (!p.writable)
				die("a write fault handed out a read-only frame");
			/* The frame, or the 2 MiB block holding it, has one holder: this object. */
			uint32_t r = 0;
			svmm_pa_t head = 0;
			if (pmem_block(&pm, pa, &head, NULL, NULL) != 0 ||
			    pmem_refs(&pm, head, &r) != 0 || r != 1)
				die("a write fault handed out a shared frame");
			w[0] = ++token;
			m[i].cont[pg] = token;
		}
		return;
	}
	case 5:
	case 6: {                                       /* discard or populate */
		if (i < 0)
			return;
		uint64_t a = take(in, 2) % m[i].npages, n = 1 + take(in, 2) % (m[i].npages - a);
		err = what == 5 ? vmobj_discard(m[i].o, a * PG, n * PG)
				: vmobj_populate(m[i].o, a * PG, n * PG, sel & 1 ? VMOBJ_HUGE : 0);
		if (err != 0 && err != SVMM_ENOMEM && err != -1234)
			die("discard or populate failed");
		if (err == 0 && what == 5)
			for (uint64_t q = a; q < a + n; q++)
				m[i].cont[q] = UNSET;
		return;
	}
	case 7: {                                       /* bad arguments change nothing */
		if (i < 0)
			return;
		uint64_t res = m[i].o->resident, nodes = m[i].o->nodes;
		if (vmobj_fault(m[i].o, PG + 1, VMOBJ_READ, &p) != SVMM_EUNALIGNED ||
		    vmobj_discard(m[i].o, 0, 0) != SVMM_EZEROSIZE ||
		    vmobj_populate(m[i].o, 0, (m[i].npages + 1) * PG, 0) != SVMM_ERANGE ||
		    vmobj_clone(m[i].o, PG, m[i].npages * PG, &o) != SVMM_ERANGE ||
		    vmobj_fault(m[i].o, 0, VMOBJ_READ | VMOBJ_WRITE, &p) != SVMM_EINVAL)
			die("a bad argument was not refused");
		if (m[i].o->resident != res || m[i].o->nodes != nodes)
			die("a refused call changed the object");
		return;
	}
	default: {                                      /* run low on memory for a while */
		static svmm_pa_t held[NFR];
		static unsigned nheld;
		while (nheld > 0)
			if (pmem_free(&pm, held[--nheld], 0) != 0)
				die("cannot give back a held frame");
		unsigned keep = take(in, 1) % 64;
		if (sel & 1)
			while (pmem_free_frames(&pm) > keep &&
			       pmem_alloc(&pm, 0, PMEM_ANY, &held[nheld]) == 0)
				nheld++;
		return;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	if (!ready) {
		if (hostsim_ram_init(RAM0, RAMSZ) != 0)
			die("no simulated RAM");
		struct pmem_range r = { RAM0, RAMSZ };
		if (pmem_init(&pm, &r, 1, NULL, 0, PMEM_ANY) != 0)
			die("pmem_init failed");
		free0 = pmem_free_frames(&pm);
		ready = true;
	}
	struct in in = { data, size };
	for (unsigned n = 0; in.n > 0 && n < 200; n++) {
		op(&in);
		check_all();
	}
	/* Give back the held frames (op 8 with an even selector), then every object. */
	struct in none = { (const uint8_t *)"\x08\x00\x00", 3 };
	op(&none);
	for (int i = 0; i < NOBJ; i++)
		if (m[i].o != NULL && m[i].handle) {
			m[i].handle = false;
			vmobj_put(m[i].o);
		}
	reap();
	if (pmem_free_frames(&pm) != free0 || pmem_check(&pm, NULL, NULL) != 0)
		die("frames leaked");
	return 0;
}
