/*
 * The one place that passes file descriptors between processes:
 * SCM_RIGHTS over a UNIX socket with a small tag (listener kind).
 */
#ifndef SCSIPUB_FDPASS_H
#define SCSIPUB_FDPASS_H

#include <stdint.h>

struct fdpass_msg {
	uint32_t	fm_tag;		/* listen_kind of the socket */
	uint32_t	fm_seq;		/* master's connection number */
};

/* common/fdpass.c */
int	fdpass_send(int, int, const struct fdpass_msg *);
int	fdpass_recv(int, int *, struct fdpass_msg *);

#endif /* SCSIPUB_FDPASS_H */
