/*
 * minikern/param.h - sizes, shared by C and assembly.
 */
#ifndef MINIKERN_PARAM_H
#define MINIKERN_PARAM_H

#define NHART 1          /* harts this kernel runs on */
#define NPROC 8          /* process slots */

/*
 * One kernel stack, per process and for boot, 4 KiB as in a small teaching kernel; each
 * sits above an unmapped 4 KiB guard page. svmm's deepest calls take about 1 KiB of it
 * (the boot log prints the most any stack held; main.c fails past three quarters).
 */
#define KSTACK_SIZE 4096
#define KSTACK_SLOT (4096 + KSTACK_SIZE)   /* guard page + stack */

#endif /* MINIKERN_PARAM_H */
