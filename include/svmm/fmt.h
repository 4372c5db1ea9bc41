/*
 * svmm/fmt.h - a small printf-style formatter, so that dumps (ptdump, pmem and vmem
 * statistics, the layout table) can be produced by the freestanding core without libc.
 *
 * Conversions: %d %i %u %x %X %p %s %c %%, with flags '-' and '0', a width, and the
 * length modifiers l, ll and z. Output is always NUL-terminated when n > 0.
 */
#ifndef SVMM_FMT_H
#define SVMM_FMT_H

#include <stdarg.h>
#include <svmm/types.h>

/* Format into buf[0..n); return the length the full output would have had. */
int svmm_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);
int svmm_snprintf(char *buf, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Where dump functions send their lines: one call per complete line, without the
 * trailing newline. ctx is the caller's.
 */
typedef void (*svmm_print_fn)(void *ctx, const char *line);

/* Format one line and hand it to out. Lines longer than 255 bytes are truncated. */
void svmm_printline(svmm_print_fn out, void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Write a size as the largest exact binary unit ("4K", "2M", "1G", "3T", "12345B"). */
int svmm_fmt_size(char *buf, size_t n, uint64_t bytes);

#endif /* SVMM_FMT_H */
