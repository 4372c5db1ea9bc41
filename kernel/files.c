/*
 * kernel/files.c - a few read-only files built into the kernel image, each served
 * through one pager-backed memory object (vmobj_create_pager): a missing page is a
 * frame the pager fills with the file's bytes at that offset (zeros past the end). The
 * object is made at the first mapping and kept (the kernel holds a reference) until
 * files_drop, so every mapping of a file maps the same object, as a page cache would:
 * shared mappings map it directly, private ones a copy-on-write object over it.
 */
#include <svmm/vmobj.h>

#include "files.h"
#include "kernel.h"
#include "sys.h"
#include "vm.h"

struct kfile {
	const char *name;
	const uint8_t *data;
	uint64_t size;               /* bytes; the object covers it in whole pages */
	uint64_t fail_from;          /* the pager fails from this offset on (~0: never) */
	struct vmobj *obj;           /* the page cache, under files_lock */
};

extern const uint8_t file_pattern_data[];
static const char hello_text[] =
	"Hello from a file built into the kernel image.\n"
	"Its pages come from a pager, one 4 KiB frame at a time.\n";

static struct kfile files[] = {
	[FILE_HELLO] = { "hello", (const uint8_t *)hello_text, sizeof hello_text - 1, ~0ull, NULL },
	[FILE_PATTERN] = { "pattern", file_pattern_data, FILE_PATTERN_WORDS * 8ull, ~0ull, NULL },
	/* Four pages of the pattern whose pager fails after the first: a disk error. */
	[FILE_BROKEN] = { "broken", file_pattern_data, 4 * SVMM_PAGE_SIZE, SVMM_PAGE_SIZE, NULL },
};
/* Protects every file's obj pointer; a leaf below nothing but the caller's. */
static struct svmm_lock files_lock;

/* The pager: the file's bytes at off, zeros after its end; or the file's own error. */
static int file_fill(void *ctx, uint64_t off, svmm_pa_t pa)
{
	const struct kfile *f = ctx;
	if (off >= f->fail_from)
		return FILE_EIO;
	vm_zero_frame(pa);
	if (off < f->size) {
		uint64_t n = f->size - off < SVMM_PAGE_SIZE ? f->size - off : SVMM_PAGE_SIZE;
		vm_copy_to_frame(pa, 0, f->data + off, n);
	}
	return 0;
}

int files_map(struct aspace *as, unsigned long file, uint64_t off, uint64_t size,
	      unsigned prot, bool shared, svmm_va_t hint, bool fixed, svmm_va_t *addrp)
{
	if (file >= ARRAY_SIZE(files))
		return SVMM_ENOENT;
	if (shared && (prot & PT_W))
		return SVMM_EPERM;          /* the files are read-only */
	struct kfile *f = &files[file];
	struct vmobj *obj;
	int err = 0;
	port_lock(&files_lock);
	if (!f->obj)
		err = vmobj_create_pager(&kpmem, SVMM_ALIGN_UP(f->size, SVMM_PAGE_SIZE), file_fill, f,
					 &f->obj);
	obj = f->obj;
	if (!err)
		err = vmobj_get(obj);       /* ours until the mapping holds its own */
	port_unlock(&files_lock);
	if (err)
		return err;
	err = aspace_map_obj(as, hint, size, prot, (fixed ? ASPACE_FIXED : 0) |
			     (shared ? ASPACE_SHARED : 0), obj, off, addrp);
	vmobj_put(obj);
	return err;
}

bool files_shared_in(struct aspace *as, svmm_va_t va, uint64_t size)
{
	bool found = false;
	port_lock(&as->lock);
	for (struct aspace_region *r = aspace_region_first(as, va);
	     r && r->node.addr < va + size && !found; r = aspace_region_next(as, r))
		found = r->kind == ASPACE_OBJ && r->shared && r->obj->kind == VMOBJ_PAGER;
	port_unlock(&as->lock);
	return found;
}

void files_drop(void)
{
	for (unsigned i = 0; i < ARRAY_SIZE(files); i++) {
		port_lock(&files_lock);
		struct vmobj *obj = files[i].obj;
		files[i].obj = NULL;
		port_unlock(&files_lock);
		if (obj)
			vmobj_put(obj);
	}
}

const char *files_strerror(int err)
{
	return err == FILE_EIO ? "I/O error: the file's pager failed" : NULL;
}
