/*
 * Versioned binary records: what one process writes for another to read
 * back, perhaps a newer build of it (a connection handed from one worker
 * to the next, the master's state across a re-exec).
 *
 * A record is a header (an 8-byte magic, u16 major, u16 minor) and then
 * sections, each a u16 tag, a u32 length and its fields; integers are
 * big-endian.  The rules that let a newer reader take an older writer's
 * record, and the other way round within a major version:
 *	- a section's fields are only ever appended to; a reader that runs
 *	  past the end of a section reads zeros (pk_short says so);
 *	- a reader skips sections whose tag it does not know;
 *	- anything else changes the major version, which readers refuse.
 * A length that runs past what holds it makes the whole record bad
 * (pk_err), never a read out of bounds.
 */
#ifndef SCSIPUB_PACK_H
#define SCSIPUB_PACK_H

#include <stddef.h>
#include <stdint.h>

#define PACK_MAGIC_LEN	8

struct pack {
	uint8_t		*pk_buf;
	size_t		 pk_len;	/* bytes written, or readable */
	size_t		 pk_cap;	/* writer: allocated */
	size_t		 pk_off;	/* reader: position */
	int		 pk_err;	/* ENOMEM writing, EBADMSG reading */
	int		 pk_short;	/* reader: ran past the end (zeros read) */
};

/* common/pack.c: writing */
void	 pack_init(struct pack *, const char *, uint16_t, uint16_t);
void	 pack_free(struct pack *);
size_t	 pack_section(struct pack *, uint16_t);
void	 pack_section_end(struct pack *, size_t);
void	 pack_u8(struct pack *, uint8_t);
void	 pack_u16(struct pack *, uint16_t);
void	 pack_u32(struct pack *, uint32_t);
void	 pack_u64(struct pack *, uint64_t);
void	 pack_bytes(struct pack *, const void *, size_t);
void	 pack_blob(struct pack *, const void *, size_t);
void	 pack_str(struct pack *, const char *);

/* common/pack.c: reading */
int	 unpack_init(struct pack *, const void *, size_t, const char *,
	    uint16_t, uint16_t *);
int	 unpack_section(struct pack *, uint16_t *, struct pack *);
uint8_t	 unpack_u8(struct pack *);
uint16_t unpack_u16(struct pack *);
uint32_t unpack_u32(struct pack *);
uint64_t unpack_u64(struct pack *);
void	 unpack_bytes(struct pack *, void *, size_t);
const uint8_t *unpack_blob(struct pack *, size_t *);
void	 unpack_str(struct pack *, char *, size_t);

/* common/pack.c: records in a memfd */
int	 pack_memfd(const struct pack *, const char *, unsigned int);
const uint8_t *unpack_map(int, size_t, size_t *);

#endif /* SCSIPUB_PACK_H */
