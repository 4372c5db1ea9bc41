/*
 * fuzz_aspace.c - libFuzzer target: every input is a program of address-space
 * operations (map anon/phys, unmap, protect, fault, activate, and out-of-memory
 * injection) on one address space over an 8 MiB machine. After every operation
 * aspace_check must pass, a failed call must leave a snapshot unchanged, and after the
 * final destroy pmem's free count must be what it was before create.
 */
#include <stdint.h>
#include <stdlib.h>

#include "aspace_fixture.h"

#define PG  SVMM_PAGE_SIZE
#define WIN ((svmm_va_t)0x20000000)

static bool ready;
static uint64_t free0;
static struct aspace as;
static struct fx_snap before, after;

static void die(const char *why)
{
	fprintf(stderr, "fuzz_aspace: %s\n", why);
	aspace_dump(&as, fx_print, NULL);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ready) {
		if (fx_setup(8 * SVMM_MiB, 0, SVMM_SV39, 3) != 0)
			die("setup");
		ready = true;
	}
	free0 = pmem_free_frames(&fx.pm);
	uint64_t pending_fail = 0, pending_budget = 0;
	if (aspace_create(&as, &fx.kpt, &fx.pm, NULL) != 0)
		die("create");
	static const unsigned prots[] = { PT_R, PT_R | PT_W, PT_X, PT_R | PT_X,
					  PT_W, PT_R | PT_W | PT_X, 0, PT_U };
	for (size_t i = 0; i + 4 <= size && i < 4 * 256; i += 4) {
		unsigned op = data[i] % 9;
		svmm_va_t va = WIN + (svmm_va_t)data[i + 1] * PG;
		uint64_t len = ((uint64_t)(data[i + 2] % 40) + (data[i + 2] >= 250 ? 0 : 1)) * PG;
		unsigned prot = prots[data[i + 3] % 8];
		bool fixed = (data[i + 3] & 0x80) != 0;
		svmm_va_t got;
		int err = 0;
		fx_snap_take(&as, &before);
		if (pending_fail != 0)
			hostsim_fail_after(pending_fail);
		if (pending_budget != 0)
			fx_hold_all_but(pending_budget - 1);
		pending_fail = pending_budget = 0;
		switch (op) {
		case 0:
		case 1:
			/* op 1 charges at map time when bit 6 asks for it */
			err = aspace_map_anon(&as, va, len, prot,
					      (fixed ? ASPACE_FIXED : 0) |
					      (op == 1 && (data[i + 3] & 0x40) ? ASPACE_COMMIT : 0),
					      &got);
			break;
		case 2:
			err = aspace_map_phys(&as, va, FX_RAM0 + (data[i + 2] % 8) * SVMM_MiB, len,
					      prot, fixed ? ASPACE_FIXED : 0, &got);
			break;
		case 3:
			err = aspace_unmap(&as, va, len);
			break;
		case 4: {
			/* A kernel copy inside one page, so that a failure changes nothing. */
			static unsigned char kbuf[PG];
			svmm_va_t at = va + data[i + 2] * 13u;
			uint64_t n = 1 + (data[i + 3] * 29u) % (PG - at % PG);
			/*
			 * Phys regions here map RAM that pmem manages (page tables among it),
			 * which the fuzzer does not own: writing there would corrupt the
			 * tables, breaking map_phys's contract, not svmm. Read them only.
			 */
			struct aspace_region *tr = aspace_lookup(&as, at);
			bool to = (data[i + 3] & 1) && !(tr != NULL && tr->kind == ASPACE_PHYS);
			err = to ? aspace_copy_to(&as, at, kbuf, n, NULL)
				 : aspace_copy_from(&as, kbuf, at, n, NULL);
			break;
		}
		case 5:
			err = aspace_protect(&as, va, len, prot);
			break;
		case 6:
		case 7: {
			static const unsigned acc[] = { PT_R, PT_W, PT_X, 0 };
			svmm_va_t at = (data[i + 3] & 0x40) ? as.stack_top - (svmm_va_t)data[i + 1] * PG * 64
						       : va + data[i + 2];
			err = aspace_fault(&as, at, acc[data[i + 3] % 4]);
			break;
		}
		case 8: {
			/* The next operation fails at its n-th allocation point. */
			if (data[i + 1] & 1)
				pending_fail = 1 + data[i + 2] % 4;
			else
				pending_budget = 1 + data[i + 2] % 8;
			bool flush;
			aspace_activate(&as, data[i + 3] % 2, &flush);
			break;
		}
		}
		fx_release_all();
		hostsim_fail_after(0);
		if (aspace_check(&as, fx_print, NULL) != 0)
			die("aspace_check failed");
		if (err != 0) {
			fx_snap_take(&as, &after);
			if (!fx_snap_equal(&before, &after))
				die("a failed call changed the address space");
		}
	}
	fx_release_all();
	hostsim_fail_after(0);
	aspace_deactivate(&as, 0);
	aspace_deactivate(&as, 1);
	aspace_destroy(&as);
	if (pmem_free_frames(&fx.pm) != free0)
		die("frames leaked");
	return 0;
}
