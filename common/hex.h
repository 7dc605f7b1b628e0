/*
 * Hexadecimal digits, for the text the network sends us: CHAP values
 * (worker/iscsi/chap.c) and the ISIDs of TransportIDs (worker/scsi/pr.c).
 */
#ifndef SCSIPUB_HEX_H
#define SCSIPUB_HEX_H

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

#endif /* SCSIPUB_HEX_H */
