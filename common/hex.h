/*
 * Hexadecimal digits, for the text the network sends us: CHAP values
 * (worker/iscsi/chap.c) and the ISIDs of TransportIDs (worker/scsi/pr.c);
 * and the hex we write: CHAP values, names made from digests.
 */
#ifndef SCSIPUB_HEX_H
#define SCSIPUB_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of hex digit ch (either case), or -1. */
static inline int
hex_digit(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* n bytes as 2n lower-case hex digits and a NUL: out holds 2n + 1. */
static inline void
hex_encode(const uint8_t *bin, size_t n, char *out)
{
	static const char	 digits[] = "0123456789abcdef";
	size_t			 i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[bin[i] >> 4];
		out[2 * i + 1] = digits[bin[i] & 0xf];
	}
	out[2 * n] = '\0';
}

#endif /* SCSIPUB_HEX_H */
