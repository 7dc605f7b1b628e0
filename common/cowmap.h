/*
 * The shared copy-on-write map file of a shared LU, as workers and the
 * coordinator both see it: a 4096-byte header page, then two bits per
 * COW block, M (the overlay holds the block) and Z (deallocated: reads
 * zeros).  Workers set bits as they write; the coordinator keeps the
 * same runs in LMDB and puts them back into the file when it starts.
 * Bits change with atomic operations: several processes map the file.
 */
#ifndef SCSIPUB_COWMAP_H
#define SCSIPUB_COWMAP_H

#include <stddef.h>
#include <stdint.h>

#define COWMAP_HDR	4096
#define COWMAP_M	0x1
#define COWMAP_Z	0x2
#define COWMAP_ZLU	(1ULL << 63)	/* LMDB lu key of the Z runs */

/*
 * Where in the header page the workers keep the store's own state of
 * the LU (WRITE ATOMIC's slot, SANITIZE's progress: struct lu_hdr in
 * worker/store/lu.h), and the bytes from there on they lock against
 * each other.  The coordinator leaves the header page alone.
 */
#define COWMAP_STORE	2048

static inline size_t
cowmap_bytes(uint64_t nblocks)
{
	return nblocks == 0 ? 1 : (size_t)((nblocks + 3) / 4);
}

static inline int
cowmap_get(const uint8_t *map, uint64_t b)
{
	return (__atomic_load_n(&map[b >> 2], __ATOMIC_ACQUIRE) >>
	    ((b & 3) * 2)) & 3;
}

/*
 * Set the bits of block b to bits, in one atomic store (a reader never
 * sees the block between its old and new state); returns the old ones.
 */
static inline int
cowmap_put(uint8_t *map, uint64_t b, int bits)
{
	int	 sh = (int)(b & 3) * 2;
	uint8_t	 old = __atomic_load_n(&map[b >> 2], __ATOMIC_RELAXED), new;

	do
		new = (uint8_t)((old & ~(3 << sh)) | (bits << sh));
	while (!__atomic_compare_exchange_n(&map[b >> 2], &old, new, 0,
	    __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));
	return (old >> sh) & 3;
}

static inline void
cowmap_or(uint8_t *map, uint64_t b, int bits)
{
	__atomic_or_fetch(&map[b >> 2], (uint8_t)(bits << ((b & 3) * 2)),
	    __ATOMIC_RELEASE);
}

static inline void
cowmap_andnot(uint8_t *map, uint64_t b, int bits)
{
	__atomic_and_fetch(&map[b >> 2], (uint8_t)~(bits << ((b & 3) * 2)),
	    __ATOMIC_RELEASE);
}

#endif /* SCSIPUB_COWMAP_H */
