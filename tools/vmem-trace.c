/*
 * vmem-trace - replay a vmem trace (docs/trace.md) on the host.
 *
 *   vmem-trace [-c N] [-n] [-p] [-q] [FILE]
 *
 * Reads FILE (or standard input), ignores every line that is not a trace line (so a
 * whole boot log can be given), and replays the trace against fresh vmem arenas,
 * checking at every operation that the result is the recorded one and agrees with a
 * reference model, and running vmem_check every N operations (-c, default 1000; 0 =
 * only at the end). -n skips the reference model (for traces too long for its
 * O(live) cost). -p also replays each arena's requests under first fit, next fit and
 * best fit in the model and prints what each leaves behind, next to vmem's own result.
 * -q prints nothing on success.
 *
 * Exit status: 0 when the replay reproduced the trace, 1 at the first divergence or
 * failed check (with the line number and why), 2 for usage or I/O errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmem_replay.h"

static void usage(void)
{
	fprintf(stderr, "usage: vmem-trace [-c N] [-n] [-p] [-q] [FILE]\n");
	exit(2);
}

/* The trace's lines, kept for the policy passes. */
struct lines {
	struct rp_line *v;
	size_t n, cap;
};

static void keep(struct lines *ls, const struct rp_line *l)
{
	if (ls->n == ls->cap) {
		ls->cap = ls->cap ? 2 * ls->cap : 1024;
		ls->v = realloc(ls->v, ls->cap * sizeof(*ls->v));
		if (ls->v == NULL) {
			fprintf(stderr, "vmem-trace: out of memory\n");
			exit(2);
		}
	}
	ls->v[ls->n++] = *l;
}

static void print_result(const char *arena, const char *policy, uint64_t allocs,
			 uint64_t failures, uint64_t free_regions, uint64_t largest,
			 uint64_t free_bytes)
{
	printf("{\"arena\": \"%s\", \"policy\": \"%s\", \"requests\": %llu, \"failures\": %llu, "
	       "\"free_regions\": %llu, \"largest_free\": %llu, \"largest_free_ratio\": %.4f}\n",
	       arena, policy, (unsigned long long)allocs, (unsigned long long)failures,
	       (unsigned long long)free_regions, (unsigned long long)largest,
	       free_bytes ? (double)largest / (double)free_bytes : 1.0);
}

int main(int argc, char **argv)
{
	struct replay *rp = malloc(sizeof(*rp));
	bool policies = false, quiet = false;
	int c;

	if (rp == NULL)
		return 2;
	rp_init(rp);
	while ((c = getopt(argc, argv, "c:npq")) != -1) {
		switch (c) {
		case 'c':
			rp->check_every = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			rp->ref = false;
			break;
		case 'p':
			policies = true;
			break;
		case 'q':
			quiet = true;
			break;
		default:
			usage();
		}
	}
	if (argc - optind > 1)
		usage();
	FILE *f = stdin;
	const char *fname = "<stdin>";
	if (optind < argc) {
		fname = argv[optind];
		f = fopen(fname, "r");
		if (f == NULL) {
			perror(fname);
			return 2;
		}
	}

	struct lines ls = { 0 };
	char buf[1024];
	int bad = 0;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		if (rp_replay_line(rp, buf) != 0) {
			bad = 1;
			break;
		}
		if (policies) {
			struct rp_line l;
			if (rp_parse(buf, &l) == 0)
				keep(&ls, &l);
		}
	}
	if (f != stdin)
		fclose(f);
	if (!bad && rp_finish(rp) != 0)
		bad = 1;
	if (bad) {
		fprintf(stderr, "vmem-trace: %s: %s\n", fname, rp->msg);
		rp_fini(rp);
		return 1;
	}

	if (!quiet) {
		printf("vmem-trace: %s: %llu lines (%llu not trace), %llu operations on %u arenas "
		       "replayed with the recorded results; %s; vmem_check passed %llu times\n",
		       fname, (unsigned long long)rp->line, (unsigned long long)rp->ignored,
		       (unsigned long long)rp->ops, rp->narenas,
		       rp->ref ? "the reference model agrees" : "reference model off",
		       (unsigned long long)rp->checks);
		for (unsigned i = 0; i < rp->narenas; i++) {
			struct rp_arena *A = &rp->arena[i];
			if (!A->live) {
				printf("  arena %s: destroyed\n", A->name);
				continue;
			}
			struct vmem_stats st;
			vmem_stats(A->vm, &st);
			printf("  arena %s: %llu operations, %llu ENOSPC, %llu allocated regions "
			       "(0x%llx bytes), %llu free regions (0x%llx bytes, largest 0x%llx)\n",
			       A->name, (unsigned long long)A->ops, (unsigned long long)A->failures,
			       (unsigned long long)st.used_regions, (unsigned long long)st.used_bytes,
			       (unsigned long long)st.free_regions, (unsigned long long)st.free_bytes,
			       (unsigned long long)st.largest_free);
		}
	}

	if (policies) {
		for (unsigned i = 0; i < rp->narenas; i++) {
			struct rp_arena *A = &rp->arena[i];
			if (A->live) {
				struct vmem_stats st;
				uint64_t requests = 0, failures = 0;
				vmem_stats(A->vm, &st);
				for (size_t k = 0; k < ls.n; k++)
					if (strcmp(ls.v[k].arena, A->name) == 0 &&
					    (ls.v[k].kind == VMEM_TRACE_ALLOC ||
					     ls.v[k].kind == VMEM_TRACE_XALLOC ||
					     ls.v[k].kind == VMEM_TRACE_FIXED) &&
					    (ls.v[k].op.err == 0 || ls.v[k].op.err == SVMM_ENOSPC ||
					     ls.v[k].op.err == SVMM_EBUSY))
						requests++, failures += ls.v[k].op.err != 0;
				print_result(A->name, "vmem", requests, failures, st.free_regions,
					     st.largest_free, st.free_bytes);
			}
			for (enum rp_policy p = RP_BEST; p <= RP_NEXT; p++) {
				struct rp_policy_run run;
				memset(&run, 0, sizeof(run));
				run.pol = p;
				snprintf(run.arena, sizeof(run.arena), "%s", A->name);
				for (size_t k = 0; k < ls.n; k++)
					rp_policy_line(&run, &ls.v[k]);
				struct rp_policy_result r = rp_policy_done(&run);
				print_result(A->name, rp_policy_name(p), r.allocs, r.failures,
					     r.free_regions, r.largest_free, r.free_bytes);
			}
		}
	}
	free(ls.v);
	rp_fini(rp);
	free(rp);
	return 0;
}
