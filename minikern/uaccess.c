/*
 * minikern/uaccess.c - copying between the kernel and an address space.
 *
 * WORKAROUND (svmm defect, issue 10 item 8): svmm has no kernel-side copy into or out
 * of an address space yet. Until it does, each page is translated with pt_translate
 * through the address space's table (as->pt, a field of the public struct), faulted
 * in with aspace_fault when absent, and reached at its physical address, which this
 * kernel maps identically.
 */
#include "defs.h"

/* The frame behind user address va for an access of type acc, faulting it in. */
static int user_page(struct aspace *as, svmm_va_t va, unsigned acc, svmm_pa_t *pa)
{
	int err = pt_translate(&as->pt, va, acc, PT_PRIV_U, pa, NULL);
	if (err == SVMM_EFAULT) {
		err = aspace_fault(as, va, acc);
		if (err == 0)
			err = pt_translate(&as->pt, va, acc, PT_PRIV_U, pa, NULL);
	}
	return err;
}

static int copy(struct aspace *as, svmm_va_t uva, char *k, size_t n, unsigned acc)
{
	while (n > 0) {
		size_t chunk = PGSIZE - (uva & (PGSIZE - 1));
		if (chunk > n)
			chunk = n;
		svmm_pa_t pa;
		int err = user_page(as, uva, acc, &pa);
		if (err)
			return err;
		if (acc == PT_W)
			memcpy((void *)pa, k, chunk);
		else
			memcpy(k, (const void *)pa, chunk);
		uva += chunk;
		k += chunk;
		n -= chunk;
	}
	return 0;
}

int copy_in(struct aspace *as, void *dst, svmm_va_t src, size_t n)
{
	return copy(as, src, dst, n, PT_R);
}

int copy_out(struct aspace *as, svmm_va_t dst, const void *src, size_t n)
{
	return copy(as, dst, (char *)src, n, PT_W);
}
