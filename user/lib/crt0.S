/* user/lib/crt0.S - program entry: main(arg) with the argument the kernel put in a0. */
	.section .text.start
	.globl _start
_start:
	call	main
	call	exit
1:	j	1b
