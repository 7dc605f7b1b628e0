/*
 * isctest's small helpers: the step and failure lines every scenario
 * prints, memory, randomness, time, and hex for CHAP values.
 */
#include <sys/types.h>
#include <sys/random.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "isctest.h"

void
step(const char *fmt, ...)
{
	va_list	ap;

	printf("%s: ", scenario);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void
fail(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fprintf(stderr, "isctest: %s: FAIL: ", scenario);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		fail("out of memory");
	return p;
}

void
random_bytes(void *buf, size_t len)
{
	uint8_t	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		if ((n = getrandom(p, len, 0)) == -1) {
			if (errno == EINTR)
				continue;
			fail("getrandom: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
}

int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
hex_enc(const uint8_t *b, size_t n, char *out)
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	*out++ = '0';
	*out++ = 'x';
	for (i = 0; i < n; i++) {
		*out++ = digits[b[i] >> 4];
		*out++ = digits[b[i] & 0xf];
	}
	*out = '\0';
}

static int
hex_nibble(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "0x..." to bytes; -1 if malformed or longer than max. */
int
hex_dec(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t	n, i;
	int	hi, lo;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -1;
	s += 2;
	n = strlen(s);
	if (n == 0 || n % 2 != 0 || n / 2 > max)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if ((hi = hex_nibble(s[2 * i])) < 0 ||
		    (lo = hex_nibble(s[2 * i + 1])) < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return 0;
}
