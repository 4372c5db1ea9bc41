/*
 * svmm/vmem_trace.h - record the operations of vmem arenas as text, one line each, so
 * that a run can be replayed on the host (tools/vmem-trace) to reproduce a failure or
 * to compare allocation policies. docs/trace.md defines the format.
 *
 * A struct vmem_trace names one arena and says where its lines go. The wrappers
 * (vmem_trace_alloc and friends) call the vmem function of the same name and record
 * the call with its result; code that calls vmem directly can record afterwards with
 * vmem_trace_record. Recording costs one formatted line per operation and allocates
 * nothing; with out == NULL it is off and the wrappers cost one test.
 */
#ifndef SVMM_VMEM_TRACE_H
#define SVMM_VMEM_TRACE_H

#include <svmm/fmt.h>
#include <svmm/vmem.h>

/* The first word of every trace line; replay ignores lines without it. */
#define VMEM_TRACE_TAG     "vmt"
#define VMEM_TRACE_VERSION 1

/* One recorder: the arena's name in the trace and the output. */
struct vmem_trace {
	const char *arena;    /* short, no spaces: "karena", "u17", ... */
	svmm_print_fn out;    /* NULL: recording off */
	void *ctx;
};

/* The operations a trace holds. */
enum vmem_trace_kind {
	VMEM_TRACE_INIT = 1,  /* vmem_init: addr = base, size, quantum, has_src */
	VMEM_TRACE_ADD,       /* vmem_add: addr = base, size */
	VMEM_TRACE_ALLOC,     /* vmem_alloc: size -> result */
	VMEM_TRACE_XALLOC,    /* vmem_xalloc: size, c -> result */
	VMEM_TRACE_FIXED,     /* vmem_alloc_fixed: addr, size */
	VMEM_TRACE_FREE,      /* vmem_free: addr, size (0 = any) */
	VMEM_TRACE_DESTROY,   /* vmem_destroy */
	VMEM_TRACE_STATE,     /* a checkpoint: the arena's vmem_stats, compared on replay */
};

/* One operation and its outcome, as vmem_trace_record takes it. */
struct vmem_trace_op {
	enum vmem_trace_kind kind;
	svmm_va_t addr;                  /* base (init, add) or address (fixed, free) */
	uint64_t size;
	uint64_t quantum;           /* init only */
	bool has_src;               /* init only: a page source was given */
	struct vmem_constraint c;   /* xalloc only */
	int err;                    /* the call's return value */
	svmm_va_t result;                /* alloc and xalloc: the address, when err == 0 */
	struct vmem_stats st;       /* state only */
};

/*
 * Start a recorder for the arena called arena (a string that outlives t, without
 * spaces) sending lines to out (NULL: off). Writes the header line "vmt <arena> trace 1"
 * so that a replay knows the format version. Never fails.
 */
void vmem_trace_open(struct vmem_trace *t, const char *arena, svmm_print_fn out,
		     void *ctx);

/*
 * Write one line for op (which the caller has just performed on the arena). Does
 * nothing when t->out is NULL.
 */
void vmem_trace_record(const struct vmem_trace *t, const struct vmem_trace_op *op);

/*
 * The vmem calls, recorded: each calls the vmem function of the same name with the
 * same arguments, records the call and its result, and returns that result. Ownership
 * is exactly as for the vmem function.
 */
int vmem_trace_init(const struct vmem_trace *t, struct vmem *vm, svmm_va_t base, uint64_t size,
		    uint64_t quantum, const struct vmem_page_source *src);
int vmem_trace_add(const struct vmem_trace *t, struct vmem *vm, svmm_va_t base, uint64_t size);
int vmem_trace_alloc(const struct vmem_trace *t, struct vmem *vm, uint64_t size,
		     struct vmem_region *r, svmm_va_t *addrp);
int vmem_trace_xalloc(const struct vmem_trace *t, struct vmem *vm, uint64_t size,
		      const struct vmem_constraint *c, struct vmem_region *r, svmm_va_t *addrp);
int vmem_trace_alloc_fixed(const struct vmem_trace *t, struct vmem *vm, svmm_va_t addr,
			   uint64_t size, struct vmem_region *r);
int vmem_trace_free(const struct vmem_trace *t, struct vmem *vm, svmm_va_t addr, uint64_t size,
		    struct vmem_region **rp);
int vmem_trace_destroy(const struct vmem_trace *t, struct vmem *vm);

/*
 * Record a checkpoint of vm's statistics. A replay compares its own arena with it, so
 * a trace that ends with a state line proves it reproduced the final state.
 */
void vmem_trace_state(const struct vmem_trace *t, struct vmem *vm);

/*
 * Write the short name of an error code as traces spell it into buf[0..n): "ok" for 0,
 * "ENOSPC" for SVMM_ENOSPC (svmm_strerror's name without its prefix), "E?" for a value
 * outside enum svmm_err. Returns buf.
 */
char *vmem_trace_errname(int err, char *buf, size_t n);

#endif /* SVMM_VMEM_TRACE_H */
