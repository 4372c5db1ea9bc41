/*
 * minikern/user/commit.c - commit accounting: a mapping charged when it is made fails
 * cleanly when RAM (128 MiB) cannot back it, instead of killing the process at a
 * later fault; without the charge the same size maps (demand zero, nothing touched).
 */
#include "ulib.h"

#define MiB (1ul << 20)

long main(long arg)
{
	(void)arg;
	expect(map_flags(256 * MiB, PROT_R | PROT_W, MAP_COMMIT) == E_NOMEM,
	       "256 MiB charged at map time: E_NOMEM, at once");
	long big = map(256 * MiB, PROT_R | PROT_W);
	expect(big > 0, "256 MiB uncharged: mapped, nothing promised");
	if (big > 0)
		expect(unmap(big, 256 * MiB) == 0, "unmap the uncharged mapping");

	long a = map_flags(4 * MiB, PROT_R | PROT_W, MAP_COMMIT);
	expect(a > 0, "4 MiB charged at map time");
	if (a > 0) {
		for (unsigned long off = 0; off < 4 * MiB; off += 4096)
			((volatile char *)a)[off] = 1;
		/* Half goes back now, the rest at exit: both must return their charge. */
		expect(unmap(a, 2 * MiB) == 0, "unmap half of it");
	}
	expect(map_flags(4096, PROT_R, 2) == E_INVAL, "unknown map flags refused");
	return failures;
}
