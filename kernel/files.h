/*
 * kernel/files.h - read-only "files" built into the kernel image, mapped by user
 * programs through memory objects whose pager copies the file's bytes (the page cache
 * of a kernel with a file system, reduced to a table).
 */
#ifndef KERNEL_FILES_H
#define KERNEL_FILES_H

/* The pattern file: this many 64-bit words (18,000 bytes: five pages, the last one
   partly past the end, which reads as zeros). Shared with files.S and user/filemap.c. */
#define FILE_PATTERN_WORDS 2250

#ifndef __ASSEMBLER__
#include <svmm/aspace.h>

/* What a failing pager answers (the "broken" file past its first page): the fault
   fails with it and the process is killed with a line that says so. */
#define FILE_EIO (-100)

/*
 * Map file number file (user/sys.h's FILE_*) at [off, off + size) into as with prot,
 * shared (writes would reach the file: refused, the files are read-only) or private
 * (copy-on-write: writes go to private copies), placed anywhere (ASPACE_FIXED in flags:
 * exactly at hint). Every mapping of a file maps the same object, so a private write
 * can be seen not to reach the file. Returns 0 and the address in *addrp, SVMM_ENOENT (no
 * such file), SVMM_EPERM (shared and writable, or what aspace_map_obj refuses), or
 * aspace_map_obj's errors (SVMM_EUNALIGNED, SVMM_ERANGE past the file's end, ...).
 */
int files_map(struct aspace *as, unsigned long file, uint64_t off, uint64_t size,
	      unsigned prot, bool shared, svmm_va_t hint, bool fixed, svmm_va_t *addrp);

/* Does [va, va + size) of as hold any part of a file mapped shared? For mprotect,
   which must not make a read-only file writable. Takes as->lock. */
bool files_shared_in(struct aspace *as, svmm_va_t va, uint64_t size);

/* Drop the kernel's reference to every file's object (its cached pages go with the last
   mapping): before a leak check, which expects every frame back. */
void files_drop(void);

/* The name of a pager error for a kill line, or NULL when err is not one. */
const char *files_strerror(int err);
#endif

#endif
