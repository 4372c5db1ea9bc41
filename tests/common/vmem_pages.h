/*
 * vmem_pages.h - the page source of the vmem tests and fuzzer: 4 KiB pages from the C
 * heap, counted so that a test can prove the arena gave every page back, and failing
 * on demand (fail_next_page for the next request, or the host port's fault injection,
 * hostsim_fail_after, for the n-th).
 */
#ifndef SVMM_VMEM_PAGES_H
#define SVMM_VMEM_PAGES_H

#include <stdlib.h>

#include <svmm/vmem.h>

#include "hostsim.h"

static long pages_live;        /* pages the arena holds now */
static long pages_taken;       /* pages handed out since the test reset it */
static int fail_next_page;     /* set: the next request fails, then this clears */

static int page_alloc(void *ctx, void **page)
{
	(void)ctx;
	if (fail_next_page) {
		fail_next_page = 0;
		return SVMM_ENOMEM;
	}
	if (hostsim_fail_point())
		return SVMM_ENOMEM;
	*page = aligned_alloc(4096, 4096);
	if (!*page)
		return SVMM_ENOMEM;
	pages_live++;
	pages_taken++;
	return 0;
}

static void page_free(void *ctx, void *page)
{
	(void)ctx;
	free(page);
	pages_live--;
}

static const struct vmem_page_source src = { page_alloc, page_free, NULL };

#endif /* SVMM_VMEM_PAGES_H */
