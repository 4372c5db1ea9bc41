/* minikern/user/bad.c - accesses the kernel must refuse by killing the process. */
#include "ulib.h"

long main(long what)
{
	switch (what) {
	case 0:
		return *(volatile long *)0x40000000;             /* nothing mapped there */
	case 1:
		*(volatile unsigned *)main = 0;                  /* text is R-X */
		return 0;
	case 2:
		return *(volatile long *)0x3fffffe000ul;          /* trap frame: no U bit */
	}
	return 0;
}
