/*
 * Fixed-width field helpers for packet and CDB buffers: big-endian, as
 * SCSI and iSCSI fields are, and little-endian for what is stored that
 * way (iSCSI digests, CRC32C's words).  Never cast a pointer into a wire
 * buffer; go through these.
 */
#ifndef SCSIPUB_BYTES_H
#define SCSIPUB_BYTES_H

#include <stdint.h>

static inline uint16_t
be16dec(const void *p)
{
	const uint8_t *b = p;

	return (uint16_t)((b[0] << 8) | b[1]);
}

static inline uint32_t
be24dec(const void *p)
{
	const uint8_t *b = p;

	return ((uint32_t)b[0] << 16) | ((uint32_t)b[1] << 8) | b[2];
}

static inline uint32_t
be32dec(const void *p)
{
	const uint8_t *b = p;

	return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) |
	    ((uint32_t)b[2] << 8) | b[3];
}

static inline uint64_t
be64dec(const void *p)
{
	const uint8_t *b = p;

	return ((uint64_t)be32dec(b) << 32) | be32dec(b + 4);
}

static inline uint32_t
le32dec(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 24;
}

static inline void
be16enc(void *p, uint16_t v)
{
	uint8_t *b = p;

	b[0] = v >> 8;
	b[1] = v & 0xff;
}

static inline void
be24enc(void *p, uint32_t v)
{
	uint8_t *b = p;

	b[0] = (v >> 16) & 0xff;
	b[1] = (v >> 8) & 0xff;
	b[2] = v & 0xff;
}

static inline void
be32enc(void *p, uint32_t v)
{
	uint8_t *b = p;

	b[0] = v >> 24;
	b[1] = (v >> 16) & 0xff;
	b[2] = (v >> 8) & 0xff;
	b[3] = v & 0xff;
}

static inline void
be64enc(void *p, uint64_t v)
{
	be32enc(p, (uint32_t)(v >> 32));
	be32enc((uint8_t *)p + 4, (uint32_t)v);
}

#endif /* SCSIPUB_BYTES_H */
