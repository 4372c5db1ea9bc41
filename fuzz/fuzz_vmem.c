/*
 * fuzz_vmem.c - libFuzzer target: the input is a sequence of vmem operations, each
 * decoded from an opcode byte and a few argument bytes. Every result is compared with
 * the reference model (tests/common/vmem_model.h), vmem_check runs after every
 * operation, and the whole region list is compared with the model. Page-source failures
 * are part of the input too: a failed call must leave the arena equal to the model.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <svmm/vmem.h>
#include "vmem_model.h"

#define Q     4096ull
#define BASE  0x100000ull
#define SPAN0 (256 * Q)
#define XAREA (BASE + SPAN0 + 64 * Q)   /* where later spans go */
#define MAXLIVE 256

#define REQUIRE(c)                                                            \
	do {                                                                  \
		if (!(c)) {                                                   \
			fprintf(stderr, "fuzz_vmem: %s:%d: %s\n", __FILE__, __LINE__, #c); \
			abort();                                              \
		}                                                             \
	} while (0)

#include "vmem_pages.h"

static struct vmem arena;
static struct vmodel model;
static struct vmem_region regs[MAXLIVE];
static int live[MAXLIVE];
static int nspans;
static struct vmodel_range spans[64];

struct input {
	const uint8_t *p;
	size_t n;
};
static unsigned byte(struct input *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static void compare(void)
{
	REQUIRE(vmem_check(&arena, NULL, NULL) == 0);
	REQUIRE(vmodel_same_regions(&model, &arena));
}

static int free_slot(void)
{
	for (int i = 0; i < MAXLIVE; i++)
		if (!live[i])
			return i;
	return -1;
}

static uint64_t addr_arg(struct input *in)
{
	/* quantum index from 8 below the arena to past the extension area */
	uint64_t idx = (byte(in) | (byte(in) << 8)) % 700;
	return BASE - 8 * Q + idx * Q;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size > 4096 ? 4096 : size };   /* keep runs short */
	static int trace = -1;

	if (trace < 0)
		trace = getenv("FUZZ_VMEM_TRACE") != NULL;

	memset(live, 0, sizeof(live));
	fail_next_page = 0;
	vmodel_init(&model, Q);
	REQUIRE(vmem_init(&arena, BASE, SPAN0, Q, &src) == 0);
	vmodel_release(&model, BASE, SPAN0);
	spans[0].a = BASE;
	spans[0].s = SPAN0;
	nspans = 1;

	while (in.n > 0) {
		unsigned op = byte(&in) % 10;
		int slot = free_slot();
		int err;

		if (trace)
			fprintf(stderr, "op %u (free %zu used %zu)\n", op, model.fr.n, model.ur.n);

		switch (op) {
		case 0: {   /* best-fit allocation */
			uint64_t s = (byte(&in) % 64 + 1) * Q;
			long bf = vmodel_best_fit(&model, s);
			svmm_va_t x = 0;

			if (slot < 0)
				break;
			err = vmem_alloc(&arena, s, &regs[slot], &x);
			if (bf < 0) {
				REQUIRE(err == SVMM_ENOSPC);
				break;
			}
			if (err == SVMM_ENOMEM)
				break;   /* a failed page: compare() proves nothing changed */
			REQUIRE(err == 0);
			bf = vmodel_best_fit_at(&model, s, x);
			REQUIRE(bf >= 0);
			vmodel_take(&model, (size_t)bf, x, s);
			live[slot] = 1;
			break;
		}
		case 1: {   /* constrained allocation */
			uint64_t s = (byte(&in) % 16 + 1) * Q;
			unsigned b = byte(&in);
			struct vmem_constraint c = { 0 };
			svmm_va_t x = 0;
			bool any;

			c.align = (b & 7) ? Q << (b & 7) : 0;
			if (c.align && (b & 8))
				c.phase = byte(&in) % (c.align / Q) * Q;
			if (b & 16) {
				uint64_t nc = Q;
				while (nc < s)
					nc <<= 1;
				c.nocross = nc << (byte(&in) % 3);
			}
			if (b & 32)
				c.minaddr = addr_arg(&in);
			if (b & 64)
				c.maxaddr = c.minaddr + (byte(&in) % 128 + 1) * Q;
			if (slot < 0)
				break;
			any = vmodel_any_fit(&model, s, c.align ? c.align : Q, c.phase, c.nocross,
					     c.minaddr, c.maxaddr);
			err = vmem_xalloc(&arena, s, &c, &regs[slot], &x);
			if (!any) {
				REQUIRE(err == SVMM_ENOSPC);
				break;
			}
			if (err == SVMM_ENOMEM)
				break;
			REQUIRE(err == 0);
			REQUIRE(!c.align || x % c.align == c.phase);
			REQUIRE(!c.nocross || x / c.nocross == (x + s - 1) / c.nocross);
			REQUIRE(x >= c.minaddr && (!c.maxaddr || x + s <= c.maxaddr));
			long fi = vmodel_containing(&model.fr, x);
			REQUIRE(fi >= 0 && x + s <= model.fr.v[fi].a + model.fr.v[fi].s);
			vmodel_take(&model, (size_t)fi, x, s);
			live[slot] = 1;
			break;
		}
		case 2: {   /* fixed allocation */
			uint64_t a = addr_arg(&in), s = (byte(&in) % 16 + 1) * Q;
			long fi = vmodel_containing(&model.fr, a);
			int want;

			if (slot < 0)
				break;
			if (fi >= 0 && a + s <= model.fr.v[fi].a + model.fr.v[fi].s)
				want = 0;
			else if (vmodel_meets(&model.ur, a, s))
				want = SVMM_EBUSY;
			else
				want = SVMM_ERANGE;
			err = vmem_alloc_fixed(&arena, a, s, &regs[slot]);
			if (err == SVMM_ENOMEM && want == 0)
				break;
			REQUIRE(err == want);
			if (err == 0) {
				vmodel_take(&model, (size_t)fi, a, s);
				live[slot] = 1;
			}
			break;
		}
		case 3: {   /* free a live allocation */
			unsigned k = byte(&in) % MAXLIVE, mode = byte(&in) % 4;
			struct vmem_region *back = NULL;
			uint64_t a, s;

			while (k < MAXLIVE && !live[k])
				k++;
			if (k == MAXLIVE)
				break;
			a = regs[k].addr;
			s = regs[k].size;
			if (mode == 2) {
				REQUIRE(vmem_free(&arena, a, s + Q, NULL) == SVMM_ESIZE);
				break;
			}
			if (mode == 3) {   /* by region: no search */
				err = vmem_free_region(&arena, &regs[k]);
				back = &regs[k];
			} else {
				err = vmem_free(&arena, a, mode ? s : 0, &back);
			}
			if (err == SVMM_ENOMEM)
				break;
			REQUIRE(err == 0 && back == &regs[k]);
			if (mode == 3)
				REQUIRE(vmem_free_region(&arena, &regs[k]) == SVMM_EDOUBLEFREE);
			vmodel_remove_at(&model.ur, (size_t)vmodel_containing(&model.ur, a));
			vmodel_release(&model, a, s);
			live[k] = 0;
			break;
		}
		case 4: {   /* free of something that is not an allocation */
			uint64_t a = addr_arg(&in);
			long ui = vmodel_containing(&model.ur, a);

			if (ui >= 0 && model.ur.v[ui].a == a)
				break;
			REQUIRE(vmem_free(&arena, a, 0, NULL) ==
				(vmodel_containing(&model.fr, a) >= 0 ? SVMM_EDOUBLEFREE : SVMM_ENOENT));
			break;
		}
		case 5: {   /* lookup */
			uint64_t a = addr_arg(&in) + byte(&in) * 16;
			long ui = vmodel_containing(&model.ur, a);
			struct vmem_region *r = vmem_lookup(&arena, a);

			REQUIRE(ui < 0 ? r == NULL : (r && r->addr == model.ur.v[ui].a));
			break;
		}
		case 6: {   /* add a span in the extension area */
			uint64_t a = XAREA + (byte(&in) % 200) * Q, s = (byte(&in) % 32 + 1) * Q;
			bool overlap = false;

			if (nspans == 64)
				break;
			for (int i = 0; i < nspans; i++)
				if (a < spans[i].a + spans[i].s && spans[i].a < a + s)
					overlap = true;
			err = vmem_add(&arena, a, s);
			if (err == SVMM_ENOMEM && !overlap)
				break;
			REQUIRE(err == (overlap ? SVMM_EOVERLAP : 0));
			if (!err) {
				spans[nspans].a = a;
				spans[nspans].s = s;
				nspans++;
				vmodel_release(&model, a, s);
			}
			break;
		}
		case 7:
			fail_next_page = 1;
			break;
		case 8: {   /* split a live allocation, or join it with the next one */
			unsigned k = byte(&in) % MAXLIVE, cut = byte(&in);

			while (k < MAXLIVE && !live[k])
				k++;
			if (k == MAXLIVE)
				break;
			long ui = vmodel_containing(&model.ur, regs[k].addr);
			uint64_t a = regs[k].addr, s = regs[k].size;
			struct vmem_region *nx = vmem_next(&arena, &regs[k]);

			REQUIRE(ui >= 0);
			REQUIRE((size_t)ui + 1 < model.ur.n ? nx && nx->addr == model.ur.v[ui + 1].a
							  : nx == NULL);
			if (cut % 2 == 0 && s >= 2 * Q && slot >= 0) {
				svmm_va_t at = a + (1 + cut / 2 % (s / Q - 1)) * Q;

				err = vmem_split(&arena, &regs[k], at, &regs[slot]);
				if (err == SVMM_ENOMEM)
					break;   /* the tail's entry needed a block and the page failed */
				REQUIRE(err == 0);
				live[slot] = 1;
				vmodel_remove_at(&model.ur, (size_t)ui);
				vmodel_insert_at(&model.ur, (size_t)ui, a, at - a);
				vmodel_insert_at(&model.ur, (size_t)ui + 1, at, a + s - at);
			} else if (nx != NULL) {
				bool adj = a + s == nx->addr;

				REQUIRE(vmem_join(&arena, &regs[k], nx) == (adj ? 0 : SVMM_ERANGE));
				if (adj) {
					uint64_t t = s + model.ur.v[ui + 1].s;

					live[nx - regs] = 0;
					vmodel_remove_at(&model.ur, (size_t)ui + 1);
					model.ur.v[ui].s = t;
				}
			}
			break;
		}
		case 9: {   /* the first allocation at or after an address, and its predecessor */
			uint64_t a = addr_arg(&in) + byte(&in) * 16;
			size_t i = vmodel_upper(&model.ur, a);
			struct vmem_region *r = vmem_first_from(&arena, a);

			if (i > 0 && a < model.ur.v[i - 1].a + model.ur.v[i - 1].s)
				i--;
			REQUIRE(i == model.ur.n ? r == NULL : (r && r->addr == model.ur.v[i].a));
			if (r != NULL) {
				struct vmem_region *pv = vmem_prev(&arena, r);

				REQUIRE(i > 0 ? pv && pv->addr == model.ur.v[i - 1].a : pv == NULL);
			}
			break;
		}
		}
		compare();
	}
	fail_next_page = 0;
	for (int i = 0; i < MAXLIVE; i++) {
		if (!live[i])
			continue;
		REQUIRE(vmem_free(&arena, regs[i].addr, 0, NULL) == 0);
		vmodel_remove_at(&model.ur, (size_t)vmodel_containing(&model.ur, regs[i].addr));
		vmodel_release(&model, regs[i].addr, regs[i].size);
	}
	compare();
	REQUIRE(model.ur.n == 0);
	REQUIRE(vmem_destroy(&arena) == 0);
	REQUIRE(pages_live == 0);
	vmodel_fini(&model);
	return 0;
}
