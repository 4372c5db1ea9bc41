/*
 * user/fpu.c - floating-point and vector instructions, which the demo kernel keeps off
 * in U-mode (docs/kernel.md, "Floating point and vectors"): each arg runs one such
 * instruction, and the kernel must kill the process with one line naming the
 * instruction's bits. Were the units on, arg 0 would leave a value in f0 that the next
 * process on this hart could read (arg 1) or overwrite, since the kernel saves no FP
 * state; the program then returns normally, which the kernel's test counts as a failure.
 *
 * The programs are built for rv64imac, so the instructions are enabled here, for the
 * assembler only, with .option arch.
 */
#include "ulib.h"

long main(long arg)
{
	long v = 0x5eed;
	switch (arg) {
	case 0:   /* write f0 (0xf2050053), and look whether it survives a yield */
		__asm__ volatile("mv a0, %0\n.option push\n.option arch, +d\n"
				 "fmv.d.x f0, a0\n.option pop" :: "r"(v) : "a0");
		yield(0);
		__asm__ volatile(".option push\n.option arch, +d\nfmv.x.d a0, f0\n"
				 ".option pop\nmv %0, a0" : "=r"(v) :: "a0");
		return v == 0x5eed ? 0 : 1;
	case 1:   /* read f0 (0xe2000553): another process's value, if the unit were on */
		__asm__ volatile(".option push\n.option arch, +d\nfmv.x.d a0, f0\n"
				 ".option pop\nmv %0, a0" : "=r"(v) :: "a0");
		return 0;
	case 2:   /* read fcsr (0x00302573) */
		__asm__ volatile(".option push\n.option arch, +f\nfrcsr a0\n.option pop\n"
				 "mv %0, a0" : "=r"(v) :: "a0");
		return 0;
	case 3:   /* a compressed store of f8 (0xa022) */
		__asm__ volatile("addi sp, sp, -16\n.option push\n.option arch, +d, +c\n"
				 "c.fsdsp f8, 0(sp)\n.option pop\naddi sp, sp, 16" ::: "memory");
		return 0;
	case 4:   /* vector: vsetvli (0x0c007557) */
		__asm__ volatile(".option push\n.option arch, +v\n"
				 "vsetvli a0, zero, e8, m1, ta, ma\n.option pop\nmv %0, a0"
				 : "=r"(v) :: "a0");
		return 0;
	}
	return 0;
}
