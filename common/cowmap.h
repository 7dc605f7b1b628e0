/*
 * The shared copy-on-write map file of a shared LU (PATH.map), as
 * workers and the coordinator both see it: a header page, then two bits
 * per COW block, M (the overlay holds the block) and Z (deallocated:
 * reads zeros).  Workers set bits as they write; the coordinator keeps
 * the same runs in LMDB and puts them back into the file when it starts.
 * Bits change with atomic operations: several processes map the file.
 *
 * The file, by offset:
 *	0			header page; all zeros but for
 *	COWMAP_STORE		the store's own state of the LU: WRITE
 *				ATOMIC's slot, SANITIZE's progress (struct
 *				lu_hdr, worker/store/lu.h)
 *	COWMAP_RESET_GEN	u32, native order: the LU's LUN reset counter
 *	COWMAP_BITS		the bits, cowmap_bytes(blocks) of them
 * Workers also take an OFD lock on the one byte COWMAP_LOCKS + b while
 * they copy block b in from the base (the lock, not the byte, matters),
 * and on bytes from COWMAP_STORE on (worker/store/lu.c: LU_LOCK_*).
 */
#ifndef SCSIPUB_COWMAP_H
#define SCSIPUB_COWMAP_H

#include <stddef.h>
#include <stdint.h>

#define COWMAP_HDR	4096			/* the header page */
#define COWMAP_RESET_GEN (COWMAP_HDR - 64)	/* the LUN reset counter */
#define COWMAP_BITS	COWMAP_HDR		/* the bits */
#define COWMAP_LOCKS	COWMAP_HDR		/* block b's lock: + b */
#define COWMAP_STORE	2048			/* the store's, to RESET_GEN */
#define COWMAP_M	0x1
#define COWMAP_Z	0x2
#define COWMAP_ZLU	(1ULL << 63)	/* LMDB lu key of the Z runs */

static inline size_t
cowmap_bytes(uint64_t nblocks)
{
	return nblocks == 0 ? 1 : (size_t)((nblocks + 3) / 4);
}

/* The size of the map file of an LU of nblocks blocks. */
static inline size_t
cowmap_file_len(uint64_t nblocks)
{
	return COWMAP_BITS + cowmap_bytes(nblocks);
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
