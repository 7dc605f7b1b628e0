/*
 * I/O buffers of one worker, kept for reuse in power-of-two size classes
 * so that the steady state allocates nothing: Data-In buffers, Data-Out
 * collected for a command, its task.  A buffer is reference counted: a
 * Data-In buffer handed to libevent by reference (no copy) goes back to
 * the pool once the last PDU that points into it has been sent.
 *
 * The pool keeps at most BUFPOOL_CACHE bytes per worker.  Built with
 * AddressSanitizer it keeps nothing, so a use after put is still caught.
 */
#ifndef SCSIPUB_BUFPOOL_H
#define SCSIPUB_BUFPOOL_H

#include <stddef.h>
#include <stdint.h>

#define BUFPOOL_MIN_SHIFT	8		/* 256 bytes */
#define BUFPOOL_MAX_SHIFT	24		/* 16 MiB */
#define BUFPOOL_CACHE		((size_t)64 << 20)

struct bufpool_stats {
	uint64_t	 bs_gets;	/* buffers handed out */
	uint64_t	 bs_hits;	/* of them, from the cache */
	size_t		 bs_cached;	/* bytes kept now */
	size_t		 bs_out;	/* buffers out now */
	size_t		 bs_limit;	/* most bytes kept (0 under ASan) */
};

/* worker/bufpool.c */
void	*buf_get(size_t);
void	*buf_zget(size_t);
void	*buf_ref(void *);
void	 buf_put(void *);
void	 buf_unref_cb(const void *, size_t, void *);
void	 buf_trim(void);
void	 buf_stats(struct bufpool_stats *);

#endif /* SCSIPUB_BUFPOOL_H */
