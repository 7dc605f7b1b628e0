/*
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as used for
 * iSCSI header and data digests (RFC 3720 section 12.1, appendix B.4).
 *
 * All functions take and return the conventional (post-inverted) CRC
 * value: start a fresh digest with crc = 0 and chain calls freely,
 *	crc32c(crc32c(0, a, n), b, m) == crc32c(0, a || b, n + m).
 */

#ifndef CRC32C_H
#define CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fastest available implementation, chosen once at run time. */
uint32_t	 crc32c(uint32_t crc, const void *buf, size_t len);

/* Portable slicing-by-8 implementation. */
uint32_t	 crc32c_sw(uint32_t crc, const void *buf, size_t len);

/*
 * SSE4.2 implementation (x86_64 only).  Must only be called when
 * crc32c_hw_available() returns non-zero; on other architectures it
 * is an alias for crc32c_sw().
 */
uint32_t	 crc32c_hw(uint32_t crc, const void *buf, size_t len);
int		 crc32c_hw_available(void);

/* Name of the implementation crc32c() dispatches to: "sse4.2" or "sw". */
const char	*crc32c_impl(void);

/* Store a digest in iSCSI wire order (little-endian). */
void		 crc32c_le_enc(uint8_t out[4], uint32_t crc);

#ifdef __cplusplus
}
#endif

#endif /* CRC32C_H */
