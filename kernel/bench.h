/*
 * kernel/bench.h - the in-kernel benchmarks (bench.c), run instead of the tests with
 * svmm.bench=1 or 2 on the command line.
 */
#ifndef KERNEL_BENCH_H
#define KERNEL_BENCH_H

/* Run the benchmarks, print their JSON lines and power off. */
_Noreturn void bench_run(void);

#endif
