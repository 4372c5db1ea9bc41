/* minikern/user/stack.c - recursion deep enough to grow the user stack page by page. */
#include "ulib.h"

static long depth(long n)
{
	volatile char frame[1024];
	frame[0] = (char)n;
	frame[1023] = (char)n;
	if (n == 0)
		return 0;
	return depth(n - 1) + frame[0] - (char)n + 1;
}

long main(long kib)
{
	return depth(kib) == kib ? 0 : 1;
}
