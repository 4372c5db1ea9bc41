/*
 * minikern/user/sys.h - the system calls of minikern, shared by the kernel and its
 * user programs. ecall with the number in a7, arguments in a0..a2; the result in a0:
 * >= 0, or a negative svmm error code (include/svmm/types.h).
 */
#ifndef MINIKERN_SYS_H
#define MINIKERN_SYS_H

#define SYS_EXIT   1   /* exit(status): never returns */
#define SYS_WRITE  2   /* write(buf, len): to the console; bytes written */
#define SYS_MAP    3   /* map(size, prot, flags): demand-zero memory; its address */
#define SYS_UNMAP  4   /* unmap(addr, size) */
#define SYS_SPAWN  5   /* spawn(start, fn, arg): a child running a copy of this
                          program's image, entered at start(fn, arg); its pid */
#define SYS_WAIT   6   /* wait(pid, &status): reap that child; its pid */
#define SYS_GETPID 7   /* getpid() */

/* prot bits of SYS_MAP: the page-table entry's R, W, X values. */
#define PROT_R 0x2
#define PROT_W 0x4
#define PROT_X 0x8

/* flags of SYS_MAP */
#define MAP_COMMIT 0x1 /* charge the whole size now: fail with E_NOMEM, never at a fault */

/* Error codes the programs test for (the values of enum svmm_err). */
#define E_INVAL     (-1)
#define E_NOMEM     (-2)
#define E_UNALIGNED (-4)
#define E_NOENT     (-9)
#define E_PERM      (-15)
#define E_FAULT     (-23)

#endif
