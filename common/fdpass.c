/*
 * SCM_RIGHTS helpers.  A message whose control data was truncated, or
 * that carries more descriptors than the receiver takes, is an error and
 * every descriptor it brought is closed: a bad message never leaks an fd.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fdpass.h"

/*
 * Send the len-byte message msg with nfds descriptors (0 to FDPASS_MAX)
 * in one datagram.
 */
int
fdpass_sendv(int sock, const void *msg, size_t len, const int *fds, int nfds)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * FDPASS_MAX)];
	} cm;
	struct cmsghdr	*c;
	ssize_t		 n;

	if (nfds < 0 || nfds > FDPASS_MAX) {
		errno = EINVAL;
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = (void *)(uintptr_t)msg;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (nfds > 0) {
		mh.msg_control = cm.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int
fdpass_send(int sock, int fd, const struct fdpass_msg *m)
{
	return fdpass_sendv(sock, m, sizeof(*m), &fd, 1);
}

/* Close every descriptor in the control data; return how many. */
static int
fdpass_close_all(struct msghdr *msg)
{
	struct cmsghdr	*c;
	int		 fd, n = 0;
	size_t		 i, cnt;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < cnt; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
			n++;
		}
	}
	return n;
}

/*
 * Receive one datagram of exactly len bytes into msg and its descriptors
 * (at most maxfds) into fds, recvmsg(2) flags (MSG_DONTWAIT) added: the
 * number of descriptors, or 0 with *eof set at end of file, or -1 on
 * error (errno set; EBADMSG for a malformed message, whose descriptors
 * are closed; EMFILE when the message came whole but its descriptors
 * could not be taken, the receiver being out of them: msg is good then).
 */
int
fdpass_recvv(int sock, void *msg, size_t len, int *fds, int maxfds, int *eof,
    int flags)
{
	struct msghdr	 mh;
	struct iovec	 iov;
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * (FDPASS_MAX + 2))];
	} cm;
	struct cmsghdr	*c;
	ssize_t		 n;
	size_t		 nfds = 0;

	*eof = 0;
	if (maxfds < 0 || maxfds > FDPASS_MAX) {
		errno = EINVAL;
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = msg;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | flags);
	while (n == -1 && errno == EINTR);
	if (n == 0)
		*eof = 1;
	if (n <= 0)
		return (int)n;
	c = CMSG_FIRSTHDR(&mh);
	if ((mh.msg_flags & MSG_CTRUNC) && c == NULL && (size_t)n == len) {
		errno = EMFILE;
		return -1;
	}
	if (c != NULL && c->cmsg_level == SOL_SOCKET &&
	    c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(0))
		nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	if ((mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC)) || (size_t)n != len ||
	    (c != NULL && (c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int) * nfds) ||
	    CMSG_NXTHDR(&mh, c) != NULL)) || nfds > (size_t)maxfds) {
		fdpass_close_all(&mh);
		errno = EBADMSG;
		return -1;
	}
	if (nfds > 0)
		memcpy(fds, CMSG_DATA(c), sizeof(int) * nfds);
	return (int)nfds;
}

/*
 * One descriptor and a struct fdpass_msg: 1 with *fd set, 0 at end of
 * file, -1 on error as fdpass_recvv says (a message without exactly one
 * descriptor is EBADMSG).
 */
int
fdpass_recv(int sock, int *fd, struct fdpass_msg *m)
{
	int	 fds[FDPASS_MAX], n, eof, i;

	if ((n = fdpass_recvv(sock, m, sizeof(*m), fds, FDPASS_MAX, &eof,
	    0)) == -1)
		return -1;
	if (eof)
		return 0;
	if (n != 1) {
		for (i = 0; i < n; i++)
			close(fds[i]);
		errno = EBADMSG;
		return -1;
	}
	*fd = fds[0];
	return 1;
}
