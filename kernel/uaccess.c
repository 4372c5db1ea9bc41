/*
 * kernel/uaccess.c - copying to and from user memory.
 *
 * Before any byte moves, every page of the user range is checked in software: it must
 * lie in the user half and be mapped with the needed permission for a U-mode access
 * (pt_translate with PT_PRIV_U); a page the process may touch but has not yet (demand
 * zero, stack growth) is faulted in first, exactly as if the process had touched it.
 * Only then is SUM set, the bytes copied through the process's own mapping, and SUM
 * cleared again, so the kernel can touch user pages only inside these two functions.
 * The copy loop also has an exception-table fixup, as a second line of defence.
 */
#include <svmm/pt.h>

#include "proc.h"
#include "riscv.h"

static int user_range_ok(struct aspace *as, svmm_va_t va, uint64_t n, unsigned access)
{
	if (n == 0)
		return 0;
	if (va + n < va || va + n > svmm_user_end(boot.mode))
		return SVMM_EFAULT;
	svmm_va_t end = va + n;
	for (svmm_va_t pg = SVMM_ALIGN_DOWN(va, SVMM_PAGE_SIZE); pg < end; pg += SVMM_PAGE_SIZE) {
		if (pt_translate(&as->pt, pg, access, PT_PRIV_U, NULL, NULL) == 0)
			continue;
		if (aspace_fault(as, pg, access) != 0)
			return SVMM_EFAULT;
		if (pt_translate(&as->pt, pg, access, PT_PRIV_U, NULL, NULL) != 0)
			return SVMM_EFAULT;
	}
	return 0;
}

int copy_from_user(struct aspace *as, void *dst, svmm_va_t src, uint64_t n)
{
	int err = user_range_ok(as, src, n, PT_R);
	if (err)
		return err;
	sum_on();
	int fault = uaccess_copy(dst, (const void *)(uintptr_t)src, n);
	sum_off();
	return fault ? SVMM_EFAULT : 0;
}

int copy_to_user(struct aspace *as, svmm_va_t dst, const void *src, uint64_t n)
{
	int err = user_range_ok(as, dst, n, PT_W);
	if (err)
		return err;
	sum_on();
	int fault = uaccess_copy((void *)(uintptr_t)dst, src, n);
	sum_off();
	return fault ? SVMM_EFAULT : 0;
}
