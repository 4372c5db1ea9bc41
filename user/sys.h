/*
 * user/sys.h - the system-call interface between the demo kernel and its user
 * programs (both include this file).
 *
 * A call is `ecall` with the number in a7 and arguments in a0..a3; the result comes
 * back in a0: a value >= 0, or a negative svmm error code (include/svmm/types.h).
 */
#ifndef USER_SYS_H
#define USER_SYS_H

#define SYS_EXIT     1   /* exit(code): never returns */
#define SYS_WRITE    2   /* write(buf, len): to the console; bytes written */
#define SYS_MMAP     3   /* mmap(hint, size, prot, flags): demand-zero memory; address */
#define SYS_MUNMAP   4   /* munmap(addr, size) */
#define SYS_MPROTECT 5   /* mprotect(addr, size, prot) */
#define SYS_YIELD    6   /* yield(tag): give the hart away; tag is a benchmark timestamp */
#define SYS_GETPID   7   /* getpid() */
#define SYS_REPORT   8   /* report(kind, value): benchmark samples for the kernel */
#define SYS_INFO     9   /* info(struct sys_info *out): this process's memory counters */
#define SYS_THREAD  10   /* thread(entry, stack_top, arg): a thread in this address space;
                            it starts at entry(arg) and must end with exit(); its pid */
#define SYS_FORK    11   /* fork(): copy-on-write copy of the process with the calling
                            thread only; the child's pid in the parent, 0 in the child */
#define SYS_WAIT    12   /* wait(pid, long *status): reap an ended child (pid <= 0: any);
                            sleeps until one ends; its pid, or SVMM_ENOENT: no such child */

#define SYS_MAPFILE 13   /* mapfile(file, off, size, prot, flags): map a file built into
                            the kernel (FILE_*), MAP_SHARED or private; its address */

/* The status wait() stores for a child that was killed (an exit code cannot be it). */
#define WAIT_KILLED (-0x7fffffffffffffffL - 1)

/* What SYS_INFO writes into user memory (through copy_to_user). */
struct sys_info {
	long pid;
	unsigned long resident;      /* anonymous pages mapped, stack included */
	unsigned long stack_pages;
	unsigned long regions;
	unsigned long faults;        /* demand-zero faults resolved so far */
	unsigned long cow_faults;    /* writes to shared (copy-on-write) pages resolved so far */
	unsigned long huge_pages;    /* 2 MiB pages in its private anonymous memory */
};

/* prot bits: the PTE's R, W, X bit values. */
#define PROT_READ  0x2
#define PROT_WRITE 0x4
#define PROT_EXEC  0x8

/* mmap flags */
#define MAP_FIXED 0x1    /* exactly at hint, or fail with SVMM_EBUSY */
#define MAP_SHARED 0x2   /* mmap: shared anonymous memory (fork shares it, every mapping
                            sees every write); mapfile: map the file itself (read-only
                            files: no PROT_WRITE), else a private copy-on-write mapping */

/* The files mapfile knows (kernel/files.c). */
#define FILE_HELLO   0   /* a short text */
#define FILE_PATTERN 1   /* 18,000 bytes: 64-bit word i = 0x5ca1ab1e00000000 + i * 0x100010001 */
#define FILE_BROKEN  2   /* four pages; reading any but the first fails in the pager */

/* report kinds */
#define REPORT_FAULT  1  /* value: instructions around one demand-zero fault */
#define REPORT_SWITCH 2  /* value: instret right after a yield returned */
#define REPORT_FAULT_SMP 3  /* value: instructions around one fault, harts faulting at once */
#define REPORT_FORK   4  /* value: instructions around one fork of 256 resident pages */
#define REPORT_FORK_SMALL 5 /* value: the same fork with those 256 pages unmapped */
#define REPORT_COW    6  /* value: instructions around one copy-on-write write fault */
#define REPORT_FAULT_2M 7 /* value: instructions around one fault that mapped a 2 MiB page */
#define REPORT_FORK_READ 8 /* value: instructions around a fork child's first read of a
                              page it shares with its parent (a minor fault) */
#define REPORT_COW_FIRST 9 /* value: instructions around a fork child's first write: the
                              copy-on-write fault that also copies the index node */

/* Error codes user programs test for (same values as enum svmm_err). */
#define E_INVAL    (-1)
#define E_NOMEM    (-2)
#define E_ZEROSIZE (-3)
#define E_UNALIGNED (-4)
#define E_OVERFLOW (-5)
#define E_NOSPC    (-7)
#define E_BUSY     (-8)
#define E_NOENT    (-9)
#define E_RANGE    (-13)
#define E_PERM     (-15)
#define E_FAULT    (-23)

#endif
