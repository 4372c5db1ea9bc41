/*
 * tests/namespace/bad_header.h - a header that breaks the namespace rule on purpose:
 * make check-namespace must reject it, which shows that the stage can fail.
 */
#ifndef NS_BAD_HEADER_H
#define NS_BAD_HEADER_H

#define PTE_V ((unsigned long)1)

#endif /* NS_BAD_HEADER_H */
