/*
 * FNV-1a, 64 bits: stable identifiers (NAA designators, nexus keys) from
 * names.  Not for anything an attacker chooses to collide with.
 */
#ifndef SCSIPUB_HASH_H
#define SCSIPUB_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A_INIT	0xcbf29ce484222325ULL

static inline uint64_t
fnv1a(uint64_t h, const void *buf, size_t len)
{
	const uint8_t	*p = buf;

	while (len-- > 0)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

#endif /* SCSIPUB_HASH_H */
