/*
 * check-docs-bad.h - a header that tools/check-docs.awk must reject (make check-docs
 * runs it on this file and expects failure, so that the check itself can fail).
 */
#ifndef CHECK_DOCS_BAD_H
#define CHECK_DOCS_BAD_H

/* A documented function. */
int documented(int x);

int undocumented(int x);

/* A struct's comment does not document the function that follows its body. */
struct thing {
	int a;
};
int after_struct(struct thing *t);

#endif
