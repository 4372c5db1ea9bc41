/*
 * pt_testutil.h - helpers shared by the page-table tests: a snapshot of every leaf of
 * a pt (to prove that a failed call changed nothing), leaf lookups and counters.
 */
#ifndef SVMM_PT_TESTUTIL_H
#define SVMM_PT_TESTUTIL_H

#include <svmm/pt.h>

struct snap_leaf {
	svmm_va_t va;
	svmm_pa_t pa;
	uint64_t size;
	uint64_t pte;
};

/* Every leaf of [va, va + size) (clipped, in order), and the table frames in use. */
struct pt_snap {
	struct snap_leaf *leaf;
	size_t n, cap;
	uint64_t tables;
	uint64_t tables_live;
};

/* Take a snapshot of both halves of pt (size 0) or of [va, va + size). */
void pt_snap_take(struct pt_snap *s, const struct pt *pt, svmm_va_t va, uint64_t size);
void pt_snap_free(struct pt_snap *s);
/* True when both snapshots hold the same leaves with the same PTEs and counts. */
bool pt_snap_equal(const struct pt_snap *a, const struct pt_snap *b);

/* The leaf holding va: true with its pa (for va), PTE and clipped page size. */
bool pt_lookup(const struct pt *pt, svmm_va_t va, svmm_pa_t *pa, uint64_t *pte);

/* Count leaves in the whole pt by page size: out[level] (level 0 = 4 KiB, 5 = 64 KiB). */
void pt_count_leaves(const struct pt *pt, uint64_t out[6]);

/* Seed from SVMM_SEED (decimal or 0x hex) or a default, printed for replay. */
uint64_t pt_test_seed(const char *name, uint64_t dflt);
uint64_t pt_test_rand(uint64_t *s);

/* The page-table tests' RAM: 512 MiB of simulated memory at PT_TEST_RAM_BASE. */
#define PT_TEST_RAM_BASE 0x80000000ull

/* cmocka group set-up and tear-down: that RAM, fresh for each test. */
int pt_test_setup(void **state);
int pt_test_teardown(void **state);

#endif /* SVMM_PT_TESTUTIL_H */
