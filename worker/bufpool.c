/*
 * The worker's buffer pool (bufpool.h).  Each buffer is a header and
 * the space asked for, rounded up to its class; a free buffer of a class
 * waits on that class's list, linked through its header.  A worker is
 * one thread: nothing here locks.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "bufpool.h"
#include "log.h"

#define BUF_NCLASS	(BUFPOOL_MAX_SHIFT - BUFPOOL_MIN_SHIFT + 1)
#define BUF_HUGE	0xffffu		/* bigger than any class: malloc */
#define BUF_MAGIC	0x62756621u	/* "buf!" */

#if defined(__SANITIZE_ADDRESS__)
#define BUF_CACHE_MAX	0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BUF_CACHE_MAX	0
#endif
#endif
#ifndef BUF_CACHE_MAX
#define BUF_CACHE_MAX	BUFPOOL_CACHE
#endif

struct bufhdr {
	uint32_t	 bh_magic;
	uint16_t	 bh_class;	/* 0..BUF_NCLASS-1, or BUF_HUGE */
	uint16_t	 bh_pad;
	uint32_t	 bh_refs;
	uint32_t	 bh_pad2;
	struct bufhdr	*bh_next;	/* on a free list */
	uint64_t	 bh_align;	/* data 16-byte aligned after 32 bytes */
};

static struct bufhdr	*buf_free[BUF_NCLASS];
static struct bufpool_stats buf_st;

static struct bufhdr *
buf_hdr(void *p)
{
	struct bufhdr	*h = (struct bufhdr *)(void *)((uint8_t *)p -
	    sizeof(struct bufhdr));

	if (h->bh_magic != BUF_MAGIC || h->bh_refs == 0)
		fatalx("%s: not a live pool buffer", __func__);
	return h;
}

static unsigned
buf_class(size_t len)
{
	unsigned	 c = 0;

	while (c < BUF_NCLASS && ((size_t)1 << (BUFPOOL_MIN_SHIFT + c)) < len)
		c++;
	return c < BUF_NCLASS ? c : BUF_HUGE;
}

/* A buffer of at least len bytes, contents undefined; NULL: no memory. */
void *
buf_get(size_t len)
{
	unsigned	 c = buf_class(len);
	struct bufhdr	*h;
	size_t		 size;

	buf_st.bs_gets++;
	if (c != BUF_HUGE && (h = buf_free[c]) != NULL) {
		buf_free[c] = h->bh_next;
		buf_st.bs_cached -= (size_t)1 << (BUFPOOL_MIN_SHIFT + c);
		buf_st.bs_hits++;
	} else {
		size = c == BUF_HUGE ? len : (size_t)1 << (BUFPOOL_MIN_SHIFT + c);
		if (size > SIZE_MAX - sizeof(*h) ||
		    (h = malloc(sizeof(*h) + size)) == NULL)
			return NULL;
		h->bh_magic = BUF_MAGIC;
		h->bh_class = (uint16_t)c;
	}
	h->bh_refs = 1;
	h->bh_next = NULL;
	buf_st.bs_out++;
	return h + 1;
}

/* As buf_get, zeroed. */
void *
buf_zget(size_t len)
{
	void	*p;

	if ((p = buf_get(len)) != NULL)
		memset(p, 0, len);
	return p;
}

/* One more reference to p (returned). */
void *
buf_ref(void *p)
{
	buf_hdr(p)->bh_refs++;
	return p;
}

/* Drop a reference; the last one gives the buffer back.  NULL is ignored. */
void
buf_put(void *p)
{
	struct bufhdr	*h;
	size_t		 size;

	if (p == NULL)
		return;
	h = buf_hdr(p);
	if (--h->bh_refs > 0)
		return;
	buf_st.bs_out--;
	if (h->bh_class == BUF_HUGE) {
		h->bh_magic = 0;
		free(h);
		return;
	}
	size = (size_t)1 << (BUFPOOL_MIN_SHIFT + h->bh_class);
	if (buf_st.bs_cached + size > BUF_CACHE_MAX) {
		h->bh_magic = 0;
		free(h);
		return;
	}
	h->bh_next = buf_free[h->bh_class];
	buf_free[h->bh_class] = h;
	buf_st.bs_cached += size;
}

/* evbuffer_add_reference's cleanup: extra is the buffer. */
void
buf_unref_cb(const void *data, size_t len, void *extra)
{
	(void)data;
	(void)len;
	buf_put(extra);
}

/* Give every cached buffer back to the system (an idle worker). */
void
buf_trim(void)
{
	struct bufhdr	*h;
	unsigned	 c;

	for (c = 0; c < BUF_NCLASS; c++) {
		while ((h = buf_free[c]) != NULL) {
			buf_free[c] = h->bh_next;
			h->bh_magic = 0;
			free(h);
		}
	}
	buf_st.bs_cached = 0;
}

void
buf_stats(struct bufpool_stats *st)
{
	*st = buf_st;
	st->bs_limit = BUF_CACHE_MAX;
}
