/*
 * fmt.c - the formatter behind svmm_snprintf. It supports what the dumps need and no
 * more: integers in decimal and hex, strings, characters, pointers, width and padding.
 */
#include <svmm/fmt.h>

struct out {
	char *buf;
	size_t n;
	size_t len;   /* characters produced so far, even past the end of buf */
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->n)
		o->buf[o->len] = c;
	o->len++;
}

static void put_padded(struct out *o, const char *s, size_t slen, int width, bool left,
		       char pad)
{
	size_t w = width > 0 ? (size_t)width : 0;
	if (!left) {
		/* A zero pad goes after the sign, as printf does. */
		if (pad == '0' && slen > 0 && s[0] == '-') {
			put(o, '-');
			s++;
			slen--;
			if (w > 0)
				w--;
		}
		for (size_t i = slen; i < w; i++)
			put(o, pad);
	}
	for (size_t i = 0; i < slen; i++)
		put(o, s[i]);
	if (left)
		for (size_t i = slen; i < w; i++)
			put(o, ' ');
}

static size_t utoa(char *tmp, uint64_t v, unsigned base, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char rev[24];
	size_t k = 0;
	do {
		rev[k++] = digits[v % base];
		v /= base;
	} while (v != 0);
	for (size_t i = 0; i < k; i++)
		tmp[i] = rev[k - 1 - i];
	return k;
}

int svmm_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
	struct out o = { buf, n, 0 };
	for (const char *p = fmt; *p != '\0'; p++) {
		if (*p != '%') {
			put(&o, *p);
			continue;
		}
		p++;
		bool left = false;
		char pad = ' ';
		for (;; p++) {
			if (*p == '-')
				left = true;
			else if (*p == '0')
				pad = '0';
			else
				break;
		}
		int width = 0;
		while (*p >= '0' && *p <= '9')
			width = width * 10 + (*p++ - '0');
		int lng = 0;
		while (*p == 'l' || *p == 'z') {
			lng++;
			p++;
		}
		char tmp[32];
		size_t len;
		switch (*p) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, long long) : va_arg(ap, int);
			if (lng == 1)
				v = (long)v;
			uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
			len = 0;
			if (v < 0)
				tmp[len++] = '-';
			len += utoa(tmp + len, mag, 10, false);
			put_padded(&o, tmp, len, width, left, pad);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			uint64_t v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned int);
			len = utoa(tmp, v, *p == 'u' ? 10 : 16, *p == 'X');
			put_padded(&o, tmp, len, width, left, pad);
			break;
		}
		case 'p': {
			uint64_t v = (uint64_t)(uintptr_t)va_arg(ap, void *);
			tmp[0] = '0';
			tmp[1] = 'x';
			len = 2 + utoa(tmp + 2, v, 16, false);
			put_padded(&o, tmp, len, width, left, pad);
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (s == NULL)
				s = "(null)";
			size_t sl = 0;
			while (s[sl] != '\0')
				sl++;
			put_padded(&o, s, sl, width, left, ' ');
			break;
		}
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			put_padded(&o, tmp, 1, width, left, ' ');
			break;
		case '%':
			put(&o, '%');
			break;
		case '\0':
			p--;
			break;
		default:
			put(&o, '%');
			put(&o, *p);
			break;
		}
	}
	if (n > 0)
		buf[o.len < n ? o.len : n - 1] = '\0';
	return (int)o.len;
}

int svmm_snprintf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = svmm_vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

void svmm_printline(svmm_print_fn out, void *ctx, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	svmm_vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	out(ctx, line);
}

int svmm_fmt_size(char *buf, size_t n, uint64_t bytes)
{
	static const char units[] = "KMGTPE";
	if (bytes == 0 || (bytes & 1023) != 0)
		return svmm_snprintf(buf, n, "%lluB", (unsigned long long)bytes);
	int u = -1;
	while ((bytes & 1023) == 0 && u < 5) {
		bytes >>= 10;
		u++;
	}
	return svmm_snprintf(buf, n, "%llu%c", (unsigned long long)bytes, units[u]);
}
