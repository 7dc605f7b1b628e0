/*
 * Versioned binary records (pack.h): a growing buffer to write them,
 * bounds-checked reads that never fail halfway but say so at the end.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "pack.h"

#define PACK_HDR_LEN	(PACK_MAGIC_LEN + 4)
#define PACK_SEC_LEN	6	/* u16 tag, u32 length */

/* ---- Writing ---- */

static uint8_t *
pack_room(struct pack *pk, size_t n)
{
	uint8_t	*nb;
	size_t	 cap;

	if (pk->pk_err)
		return NULL;
	if (n > pk->pk_cap - pk->pk_len) {
		cap = pk->pk_cap < 4096 ? 4096 : pk->pk_cap;
		while (cap - pk->pk_len < n) {
			if (cap > SIZE_MAX / 2) {
				pk->pk_err = ENOMEM;
				return NULL;
			}
			cap *= 2;
		}
		if ((nb = realloc(pk->pk_buf, cap)) == NULL) {
			pk->pk_err = ENOMEM;
			return NULL;
		}
		pk->pk_buf = nb;
		pk->pk_cap = cap;
	}
	pk->pk_len += n;
	return pk->pk_buf + pk->pk_len - n;
}

/* A new record: magic (PACK_MAGIC_LEN bytes), major, minor. */
void
pack_init(struct pack *pk, const char *magic, uint16_t major, uint16_t minor)
{
	memset(pk, 0, sizeof(*pk));
	pack_bytes(pk, magic, PACK_MAGIC_LEN);
	pack_u16(pk, major);
	pack_u16(pk, minor);
}

void
pack_free(struct pack *pk)
{
	free(pk->pk_buf);
	memset(pk, 0, sizeof(*pk));
}

/* Open a section: what it returns closes it (pack_section_end). */
size_t
pack_section(struct pack *pk, uint16_t tag)
{
	pack_u16(pk, tag);
	pack_u32(pk, 0);
	return pk->pk_len;
}

void
pack_section_end(struct pack *pk, size_t mark)
{
	size_t	 n = pk->pk_len - mark;

	if (pk->pk_err)
		return;
	if (n > UINT32_MAX) {
		pk->pk_err = EMSGSIZE;
		return;
	}
	be32enc(pk->pk_buf + mark - 4, (uint32_t)n);
}

void
pack_u8(struct pack *pk, uint8_t v)
{
	uint8_t	*p;

	if ((p = pack_room(pk, 1)) != NULL)
		*p = v;
}

void
pack_u16(struct pack *pk, uint16_t v)
{
	uint8_t	*p;

	if ((p = pack_room(pk, 2)) != NULL)
		be16enc(p, v);
}

void
pack_u32(struct pack *pk, uint32_t v)
{
	uint8_t	*p;

	if ((p = pack_room(pk, 4)) != NULL)
		be32enc(p, v);
}

void
pack_u64(struct pack *pk, uint64_t v)
{
	uint8_t	*p;

	if ((p = pack_room(pk, 8)) != NULL)
		be64enc(p, v);
}

/* n bytes as they are: a fixed-width field. */
void
pack_bytes(struct pack *pk, const void *b, size_t n)
{
	uint8_t	*p;

	if (n > 0 && (p = pack_room(pk, n)) != NULL)
		memcpy(p, b, n);
}

/* A u32 length, then that many bytes. */
void
pack_blob(struct pack *pk, const void *b, size_t n)
{
	if (n > UINT32_MAX) {
		pk->pk_err = EMSGSIZE;
		return;
	}
	pack_u32(pk, (uint32_t)n);
	pack_bytes(pk, b, n);
}

void
pack_str(struct pack *pk, const char *s)
{
	pack_blob(pk, s, strlen(s));
}

/* ---- Reading ---- */

/*
 * Read a record's header: 0 with *minor set, or -1 (pk_err EBADMSG when
 * it is not one of ours, EPROTO when its major version is not major).
 */
int
unpack_init(struct pack *pk, const void *buf, size_t len, const char *magic,
    uint16_t major, uint16_t *minor)
{
	memset(pk, 0, sizeof(*pk));
	pk->pk_buf = (uint8_t *)(uintptr_t)buf;
	pk->pk_len = len;
	if (len < PACK_HDR_LEN ||
	    memcmp(buf, magic, PACK_MAGIC_LEN) != 0) {
		pk->pk_err = EBADMSG;
		return -1;
	}
	pk->pk_off = PACK_MAGIC_LEN;
	if (unpack_u16(pk) != major) {
		pk->pk_err = EPROTO;
		return -1;
	}
	*minor = unpack_u16(pk);
	return 0;
}

/*
 * The next section: 1 with its tag and a reader of its fields in *sec,
 * 0 at the end of the record, -1 when the record is bad.
 */
int
unpack_section(struct pack *pk, uint16_t *tag, struct pack *sec)
{
	uint32_t	 n;

	if (pk->pk_err)
		return -1;
	if (pk->pk_off == pk->pk_len)
		return 0;
	if (pk->pk_len - pk->pk_off < PACK_SEC_LEN) {
		pk->pk_err = EBADMSG;
		return -1;
	}
	*tag = be16dec(pk->pk_buf + pk->pk_off);
	n = be32dec(pk->pk_buf + pk->pk_off + 2);
	pk->pk_off += PACK_SEC_LEN;
	if (n > pk->pk_len - pk->pk_off) {
		pk->pk_err = EBADMSG;
		return -1;
	}
	memset(sec, 0, sizeof(*sec));
	sec->pk_buf = pk->pk_buf + pk->pk_off;
	sec->pk_len = n;
	pk->pk_off += n;
	return 1;
}

/* n bytes to read, or NULL past the end (zeros, pk_short set). */
static const uint8_t *
unpack_take(struct pack *pk, size_t n)
{
	if (pk->pk_err || n > pk->pk_len - pk->pk_off) {
		pk->pk_short = 1;
		pk->pk_off = pk->pk_len;
		return NULL;
	}
	pk->pk_off += n;
	return pk->pk_buf + pk->pk_off - n;
}

uint8_t
unpack_u8(struct pack *pk)
{
	const uint8_t	*p = unpack_take(pk, 1);

	return p != NULL ? *p : 0;
}

uint16_t
unpack_u16(struct pack *pk)
{
	const uint8_t	*p = unpack_take(pk, 2);

	return p != NULL ? be16dec(p) : 0;
}

uint32_t
unpack_u32(struct pack *pk)
{
	const uint8_t	*p = unpack_take(pk, 4);

	return p != NULL ? be32dec(p) : 0;
}

uint64_t
unpack_u64(struct pack *pk)
{
	const uint8_t	*p = unpack_take(pk, 8);

	return p != NULL ? be64dec(p) : 0;
}

void
unpack_bytes(struct pack *pk, void *b, size_t n)
{
	const uint8_t	*p = unpack_take(pk, n);

	if (p != NULL)
		memcpy(b, p, n);
	else
		memset(b, 0, n);
}

/*
 * A blob: a pointer into the record and its length (*n), or NULL with
 * *n 0 past the end; a length longer than what is left makes the
 * record bad.
 */
const uint8_t *
unpack_blob(struct pack *pk, size_t *n)
{
	const uint8_t	*p;
	uint32_t	 len;

	*n = 0;
	len = unpack_u32(pk);
	if (pk->pk_short)
		return NULL;
	if (len > pk->pk_len - pk->pk_off) {
		pk->pk_err = EBADMSG;
		return NULL;
	}
	p = unpack_take(pk, len);
	*n = len;
	return p;
}

/* A string into buf (NUL-terminated); one too long makes the record bad. */
void
unpack_str(struct pack *pk, char *buf, size_t cap)
{
	const uint8_t	*p;
	size_t		 n;

	buf[0] = '\0';
	if ((p = unpack_blob(pk, &n)) == NULL)
		return;
	if (n >= cap || memchr(p, '\0', n) != NULL) {
		pk->pk_err = EBADMSG;
		return;
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
}

/* ---- Records in a memfd, to pass to another process ---- */

/*
 * The record in a new memfd named name (flags: memfd_create's,
 * MFD_CLOEXEC or 0 for one an exec keeps): its descriptor, or -1.
 */
int
pack_memfd(const struct pack *pk, const char *name, unsigned int flags)
{
	size_t	 off = 0;
	ssize_t	 n;
	int	 fd;

	if (pk->pk_err || (fd = memfd_create(name, flags)) == -1)
		return -1;
	while (off < pk->pk_len) {
		n = write(fd, pk->pk_buf + off, pk->pk_len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	return fd;
}

/*
 * What a memfd from another process holds, mapped read-only: its bytes
 * and length, or NULL when it is empty, longer than max or cannot be
 * mapped.  The caller unmaps it (munmap) and closes fd.
 */
const uint8_t *
unpack_map(int fd, size_t max, size_t *len)
{
	struct stat	 st;
	void		*p;

	if (fstat(fd, &st) == -1 || st.st_size <= 0 ||
	    (uint64_t)st.st_size > max)
		return NULL;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*len = (size_t)st.st_size;
	return p;
}
