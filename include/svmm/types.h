/*
 * svmm/types.h - the scalar types and error codes shared by every part of svmm.
 *
 * Only freestanding headers are used here (<stdint.h>, <stddef.h>, <stdbool.h>):
 * the portable core must build with -ffreestanding -nostdinc and no libc.
 */
#ifndef SVMM_TYPES_H
#define SVMM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A virtual address. Kept distinct in name from svmm_pa_t so that signatures say which. */
typedef uint64_t svmm_va_t;
/* A physical address. */
typedef uint64_t svmm_pa_t;

#define SVMM_PAGE_SHIFT 12
#define SVMM_PAGE_SIZE  ((uint64_t)1 << SVMM_PAGE_SHIFT)

#define SVMM_KiB ((uint64_t)1 << 10)
#define SVMM_MiB ((uint64_t)1 << 20)
#define SVMM_GiB ((uint64_t)1 << 30)
#define SVMM_TiB ((uint64_t)1 << 40)

#define SVMM_IS_POW2(x)       ((x) != 0 && (((x) & ((x) - 1)) == 0))
#define SVMM_ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))
#define SVMM_ALIGN_UP(x, a)   (((x) + ((uint64_t)(a) - 1)) & ~((uint64_t)(a) - 1))
#define SVMM_IS_ALIGNED(x, a) (((x) & ((uint64_t)(a) - 1)) == 0)

/* Recover the struct that embeds a member; intrusive nodes depend on it. */
#define SVMM_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/*
 * Error codes. Every fallible call in svmm returns 0 on success or one of these
 * (negative) values, and leaves its object unchanged when it fails. Results such as
 * addresses travel through out-parameters, because 0 is a valid address.
 * The list is shared so that one code means one thing in every module.
 */
enum svmm_err {
	SVMM_OK          = 0,
	SVMM_EINVAL      = -1,  /* an argument is malformed in a way no other code names */
	SVMM_ENOMEM      = -2,  /* a metadata or frame allocation failed */
	SVMM_EZEROSIZE   = -3,  /* size is zero */
	SVMM_EUNALIGNED  = -4,  /* address or size is not a multiple of the quantum/page */
	SVMM_EOVERFLOW   = -5,  /* addr + size wraps around */
	SVMM_EALIGN      = -6,  /* alignment not a power of two or below the quantum */
	SVMM_ENOSPC      = -7,  /* no free range satisfies the request */
	SVMM_EBUSY       = -8,  /* in use: part of a fixed range is taken, or a frame still
	                           has other references */
	SVMM_ENOENT      = -9,  /* no allocation/mapping starts at that address */
	SVMM_ESIZE       = -10, /* size given does not match the allocation */
	SVMM_EDOUBLEFREE = -11, /* the range is already free */
	SVMM_ELIVE       = -12, /* destroy while allocations or mappings are still live */
	SVMM_ERANGE      = -13, /* outside the arena, RAM, window or mode's address range */
	SVMM_ENONCANON   = -14, /* virtual address is not canonical in this paging mode */
	SVMM_EPERM       = -15, /* permission refused: a bad combination (W without R, W+X
	                           for users, G in a user table) or an access
	                           the region does not allow */
	SVMM_EEXIST      = -16, /* something is already mapped/registered there */
	SVMM_EOVERLAP    = -17, /* ranges overlap (RAM ranges at init, a span added over
	                           an existing span) */
	SVMM_EORDER      = -18, /* order out of range or not the block's order */
	SVMM_ERESERVED   = -19, /* the frame is reserved (firmware, image, ...) */
	SVMM_ENOTALLOC   = -20, /* the frame or region is not allocated */
	SVMM_EREFCNT     = -21, /* reference count would underflow or overflow */
	SVMM_EHALVES     = -22, /* range crosses the user/kernel boundary */
	SVMM_EFAULT      = -23, /* bad address: no region or mapping holds it (a page
	                           fault the caller must report) */
	SVMM_EMODE       = -24, /* paging mode unknown or unsupported */
	SVMM_ESTACK      = -25, /* a fault in the stack's guard gap: stack overflow */
	SVMM_ERR_MIN     = -25
};

/* A constant, human-readable name for an error code ("SVMM_ENOSPC: no space"). */
const char *svmm_strerror(int err);

#endif /* SVMM_TYPES_H */
