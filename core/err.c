/*
 * err.c - names for svmm's error codes, so that logs and test failures say what went
 * wrong in words rather than a bare negative number.
 */
#include <svmm/types.h>

static const char *const err_names[] = {
	[0]                 = "SVMM_OK: success",
	[-SVMM_EINVAL]      = "SVMM_EINVAL: invalid argument",
	[-SVMM_ENOMEM]      = "SVMM_ENOMEM: out of memory",
	[-SVMM_EZEROSIZE]   = "SVMM_EZEROSIZE: size is zero",
	[-SVMM_EUNALIGNED]  = "SVMM_EUNALIGNED: address or size not aligned",
	[-SVMM_EOVERFLOW]   = "SVMM_EOVERFLOW: address + size overflows",
	[-SVMM_EALIGN]      = "SVMM_EALIGN: bad alignment",
	[-SVMM_ENOSPC]      = "SVMM_ENOSPC: no space",
	[-SVMM_EBUSY]       = "SVMM_EBUSY: in use",
	[-SVMM_ENOENT]      = "SVMM_ENOENT: nothing allocated there",
	[-SVMM_ESIZE]       = "SVMM_ESIZE: size does not match",
	[-SVMM_EDOUBLEFREE] = "SVMM_EDOUBLEFREE: already free",
	[-SVMM_ELIVE]       = "SVMM_ELIVE: allocations or mappings still live",
	[-SVMM_ERANGE]      = "SVMM_ERANGE: out of range",
	[-SVMM_ENONCANON]   = "SVMM_ENONCANON: non-canonical address",
	[-SVMM_EPERM]       = "SVMM_EPERM: permission refused",
	[-SVMM_EEXIST]      = "SVMM_EEXIST: already mapped",
	[-SVMM_EOVERLAP]    = "SVMM_EOVERLAP: ranges overlap",
	[-SVMM_EORDER]      = "SVMM_EORDER: bad order",
	[-SVMM_ERESERVED]   = "SVMM_ERESERVED: frame is reserved",
	[-SVMM_ENOTALLOC]   = "SVMM_ENOTALLOC: not allocated",
	[-SVMM_EREFCNT]     = "SVMM_EREFCNT: reference count out of range",
	[-SVMM_EHALVES]     = "SVMM_EHALVES: range crosses user/kernel halves",
	[-SVMM_EFAULT]      = "SVMM_EFAULT: bad address",
	[-SVMM_EMODE]       = "SVMM_EMODE: bad paging mode",
	[-SVMM_ESTACK]      = "SVMM_ESTACK: stack overflow",
};

const char *svmm_strerror(int err)
{
	if (err > 0 || err < SVMM_ERR_MIN || err_names[-err] == NULL)
		return "SVMM_E?: unknown error";
	return err_names[-err];
}
