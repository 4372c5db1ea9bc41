/* minikern/user/hello.c - the smallest program: one write, one exit. */
#include "ulib.h"

long main(long arg)
{
	(void)arg;
	long n = write("hello from U-mode\n", 18);
	return n == 18 ? 0 : 1;
}
