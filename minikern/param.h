/*
 * minikern/param.h - sizes, shared by C and assembly.
 */
#ifndef MINIKERN_PARAM_H
#define MINIKERN_PARAM_H

#define NHART 1          /* harts this kernel runs on */
#define NPROC 8          /* process slots */

/*
 * One kernel stack, per process and for boot; each sits above an unmapped 4 KiB guard
 * page. The goal is 4 KiB.
 * WORKAROUND (svmm defect, issue 10 item 1): vmem_free alone has a 4.9 KiB frame
 * (vmem_xalloc 3.7 KiB) with this kernel's flags, so a process's first unmap or exit
 * overflows a 4 KiB stack into its guard. Until vmem's frames shrink, 16 KiB.
 */
#define KSTACK_SIZE 16384
#define KSTACK_SLOT (4096 + KSTACK_SIZE)   /* guard page + stack */

#endif /* MINIKERN_PARAM_H */
