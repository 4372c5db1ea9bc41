/*
 * kernel/console.c - kernel output: kprintf over the SBI console at first, then over
 * the ns16550 UART once ioremap has mapped it.
 */
#include "kernel.h"
#include "riscv.h"

#include <svmm/port.h>

static uintptr_t uart;   /* virtual address of the UART, 0 = use SBI */
/* One line at a time from all harts; a panicking hart no longer waits for it. */
static struct svmm_lock console_lock;
static volatile int panicking;

#define UART_THR 0
#define UART_LSR 5
#define UART_LSR_THRE 0x20

void console_use_uart(uintptr_t base)
{
	uart = base;
}

void console_putc(char c)
{
	if (uart) {
		while (!(mmio_read8(uart + UART_LSR) & UART_LSR_THRE))
			cpu_relax();
		mmio_write8(uart + UART_THR, (uint8_t)c);
	} else {
		sbi_putchar(c);
	}
}

void console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			console_putc('\r');
		console_putc(s[i]);
	}
}

/* Bytes from a user program's write(): one chunk at a time between kernel lines. */
void console_write_locked(const char *s, size_t n)
{
	port_lock(&console_lock);
	console_write(s, n);
	port_unlock(&console_lock);
}

int kvprintf(const char *fmt, va_list ap)
{
	char buf[512];
	int n = svmm_vsnprintf(buf, sizeof buf, fmt, ap);
	size_t len = n < 0 ? 0 : (size_t)n;
	if (len >= sizeof buf)
		len = sizeof buf - 1;
	if (panicking) {
		console_write(buf, len);
		return n;
	}
	port_lock(&console_lock);
	console_write(buf, len);
	port_unlock(&console_lock);
	return n;
}

int kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = kvprintf(fmt, ap);
	va_end(ap);
	return n;
}

void kprint_line(void *ctx, const char *line)
{
	(void)ctx;
	kprintf("%s\n", line);
}

_Noreturn void panic(const char *fmt, ...)
{
	intr_off();
	panicking = 1;
	va_list ap;
	va_start(ap, fmt);
	kprintf("panic: ");
	kvprintf(fmt, ap);
	kprintf("\n");
	va_end(ap);
	sbi_shutdown(2);
}
