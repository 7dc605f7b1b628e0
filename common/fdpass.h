/*
 * The one place that passes file descriptors between processes:
 * SCM_RIGHTS over a UNIX socket, a small message with up to FDPASS_MAX
 * descriptors in one datagram.
 */
#ifndef SCSIPUB_FDPASS_H
#define SCSIPUB_FDPASS_H

#include <stddef.h>
#include <stdint.h>

#define FDPASS_MAX	4	/* descriptors in one message */

/* What the master sends a worker with a connection (fdpass_send). */
struct fdpass_msg {
	uint32_t	fm_tag;		/* listen_kind, or PROC_TAG_* (proc.h) */
	uint32_t	fm_seq;		/* master's connection number */
};

/* common/fdpass.c */
int	fdpass_sendv(int, const void *, size_t, const int *, int);
int	fdpass_recvv(int, void *, size_t, int *, int, int *, int);
int	fdpass_send(int, int, const struct fdpass_msg *);
int	fdpass_recv(int, int *, struct fdpass_msg *);

#endif /* SCSIPUB_FDPASS_H */
