/*
 * vmem_trace.c - the vmem trace recorder (svmm/vmem_trace.h, docs/trace.md).
 *
 * Every line is "vmt <arena> <op> <arguments> = <result>", numbers in hex with 0x, so
 * that a boot log can be cut down to its trace with grep and replayed as it is.
 */
#include <svmm/vmem_trace.h>

#define HX(v) ((unsigned long long)(v))

char *vmem_trace_errname(int err, char *buf, size_t n)
{
	const char *s = svmm_strerror(err);
	size_t i = 0;

	if (n == 0)
		return buf;
	if (err == 0) {
		svmm_snprintf(buf, n, "ok");
		return buf;
	}
	/* "SVMM_ENOSPC: no space" -> "ENOSPC" */
	if (s[0] == 'S' && s[1] == 'V' && s[2] == 'M' && s[3] == 'M' && s[4] == '_')
		s += 5;
	while (s[i] != '\0' && s[i] != ':' && i + 1 < n) {
		buf[i] = s[i];
		i++;
	}
	buf[i] = '\0';
	return buf;
}

void vmem_trace_open(struct vmem_trace *t, const char *arena, svmm_print_fn out, void *ctx)
{
	t->arena = arena;
	t->out = out;
	t->ctx = ctx;
	if (out != NULL)
		svmm_printline(out, ctx, VMEM_TRACE_TAG " %s trace %d", arena, VMEM_TRACE_VERSION);
}

void vmem_trace_record(const struct vmem_trace *t, const struct vmem_trace_op *op)
{
	char e[24];
	const char *a = t->arena;

	if (t->out == NULL)
		return;
	vmem_trace_errname(op->err, e, sizeof(e));
	switch (op->kind) {
	case VMEM_TRACE_INIT:
		svmm_printline(t->out, t->ctx, VMEM_TRACE_TAG " %s init 0x%llx 0x%llx 0x%llx %d = %s",
			       a, HX(op->addr), HX(op->size), HX(op->quantum), op->has_src ? 1 : 0, e);
		break;
	case VMEM_TRACE_ADD:
		svmm_printline(t->out, t->ctx, VMEM_TRACE_TAG " %s add 0x%llx 0x%llx = %s", a,
			       HX(op->addr), HX(op->size), e);
		break;
	case VMEM_TRACE_ALLOC:
		if (op->err == 0)
			svmm_printline(t->out, t->ctx, VMEM_TRACE_TAG " %s alloc 0x%llx = ok 0x%llx",
				       a, HX(op->size), HX(op->result));
		else
			svmm_printline(t->out, t->ctx, VMEM_TRACE_TAG " %s alloc 0x%llx = %s", a,
				       HX(op->size), e);
		break;
	case VMEM_TRACE_XALLOC:
		if (op->err == 0)
			svmm_printline(t->out, t->ctx,
				       VMEM_TRACE_TAG " %s xalloc 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx = ok 0x%llx",
				       a, HX(op->size), HX(op->c.align), HX(op->c.phase),
				       HX(op->c.nocross), HX(op->c.minaddr), HX(op->c.maxaddr),
				       HX(op->result));
		else
			svmm_printline(t->out, t->ctx,
				       VMEM_TRACE_TAG " %s xalloc 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx = %s",
				       a, HX(op->size), HX(op->c.align), HX(op->c.phase),
				       HX(op->c.nocross), HX(op->c.minaddr), HX(op->c.maxaddr), e);
		break;
	case VMEM_TRACE_FIXED:
		svmm_printline(t->out, t->ctx, VMEM_TRACE_TAG " %s fixed 0x%llx 0x%llx = %s", a,
			       HX(op->addr), HX(op->size), e);
		break;
	case VMEM_TRACE_FREE:
		svmm_printline(t->out, t->ctx, VMEM_TRACE_TAG " %s free 0x%llx 0x%llx = %s", a,
			       HX(op->addr), HX(op->size), e);
		break;
	case VMEM_TRACE_DESTROY:
		svmm_printline(t->out, t->ctx, VMEM_TRACE_TAG " %s destroy = %s", a, e);
		break;
	case VMEM_TRACE_STATE:
		svmm_printline(t->out, t->ctx,
			       VMEM_TRACE_TAG " %s state 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx", a,
			       HX(op->st.free_bytes), HX(op->st.used_bytes),
			       HX(op->st.free_regions), HX(op->st.used_regions),
			       HX(op->st.largest_free));
		break;
	}
}

int vmem_trace_init(const struct vmem_trace *t, struct vmem *vm, svmm_va_t base, uint64_t size,
		    uint64_t quantum, const struct vmem_page_source *src)
{
	struct vmem_trace_op op = { .kind = VMEM_TRACE_INIT, .addr = base, .size = size,
				    .quantum = quantum, .has_src = src != NULL };

	op.err = vmem_init(vm, base, size, quantum, src);
	vmem_trace_record(t, &op);
	return op.err;
}

int vmem_trace_add(const struct vmem_trace *t, struct vmem *vm, svmm_va_t base, uint64_t size)
{
	struct vmem_trace_op op = { .kind = VMEM_TRACE_ADD, .addr = base, .size = size };

	op.err = vmem_add(vm, base, size);
	vmem_trace_record(t, &op);
	return op.err;
}

int vmem_trace_alloc(const struct vmem_trace *t, struct vmem *vm, uint64_t size,
		     struct vmem_region *r, svmm_va_t *addrp)
{
	struct vmem_trace_op op = { .kind = VMEM_TRACE_ALLOC, .size = size };

	op.err = vmem_alloc(vm, size, r, &op.result);
	if (op.err == 0 && addrp != NULL)
		*addrp = op.result;
	vmem_trace_record(t, &op);
	return op.err;
}

int vmem_trace_xalloc(const struct vmem_trace *t, struct vmem *vm, uint64_t size,
		      const struct vmem_constraint *c, struct vmem_region *r, svmm_va_t *addrp)
{
	struct vmem_trace_op op = { .kind = VMEM_TRACE_XALLOC, .size = size };

	if (c != NULL)
		op.c = *c;
	op.err = vmem_xalloc(vm, size, c, r, &op.result);
	if (op.err == 0 && addrp != NULL)
		*addrp = op.result;
	vmem_trace_record(t, &op);
	return op.err;
}

int vmem_trace_alloc_fixed(const struct vmem_trace *t, struct vmem *vm, svmm_va_t addr,
			   uint64_t size, struct vmem_region *r)
{
	struct vmem_trace_op op = { .kind = VMEM_TRACE_FIXED, .addr = addr, .size = size };

	op.err = vmem_alloc_fixed(vm, addr, size, r);
	vmem_trace_record(t, &op);
	return op.err;
}

int vmem_trace_free(const struct vmem_trace *t, struct vmem *vm, svmm_va_t addr, uint64_t size,
		    struct vmem_region **rp)
{
	struct vmem_trace_op op = { .kind = VMEM_TRACE_FREE, .addr = addr, .size = size };

	op.err = vmem_free(vm, addr, size, rp);
	vmem_trace_record(t, &op);
	return op.err;
}

int vmem_trace_destroy(const struct vmem_trace *t, struct vmem *vm)
{
	struct vmem_trace_op op = { .kind = VMEM_TRACE_DESTROY };

	op.err = vmem_destroy(vm);
	vmem_trace_record(t, &op);
	return op.err;
}

void vmem_trace_state(const struct vmem_trace *t, struct vmem *vm)
{
	struct vmem_trace_op op = { .kind = VMEM_TRACE_STATE };

	if (t->out == NULL)
		return;
	vmem_stats(vm, &op.st);
	vmem_trace_record(t, &op);
}
