/* minikern/user/crt0.S - program entry, and the entry of spawned children. */
	.section .text.start
	.globl _start, spawn_start
/* _start(arg): exit(main(arg)). */
_start:
	call	main
	call	exit
1:	j	1b
/* spawn_start(fn, arg): exit(fn(arg)), on the child's fresh stack. */
spawn_start:
	mv	t0, a0
	mv	a0, a1
	jalr	t0
	call	exit
2:	j	2b
