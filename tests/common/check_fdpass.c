/*
 * common/fdpass.c: a descriptor and its tag cross a socket; a malformed
 * message is an error that leaks nothing.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fdpass.h"
#include "suites.h"

static int sp[2];

static void
setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sp), 0);
}

static void
teardown(void)
{
	close(sp[0]);
	close(sp[1]);
}

static int
count_fds(void)
{
	int	 fd, n = 0;

	for (fd = 0; fd < 256; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

START_TEST(fdpass__roundtrip_keeps_tag)
{
	struct fdpass_msg out = { 2, 77 }, in;
	int		 p[2], fd = -1;
	char		 c;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(fdpass_send(sp[0], p[1], &out), 0);
	ck_assert_int_eq(fdpass_recv(sp[1], &fd, &in), 1);
	ck_assert_uint_eq(in.fm_tag, 2);
	ck_assert_uint_eq(in.fm_seq, 77);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	ck_assert_int_eq(c, 'x');
	close(fd);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(fdpass__message_without_fd_is_error)
{
	struct fdpass_msg out = { 1, 1 }, in;
	int		 fd = -1;

	ck_assert_int_eq(send(sp[0], &out, sizeof(out), 0), sizeof(out));
	ck_assert_int_eq(fdpass_recv(sp[1], &fd, &in), -1);
	ck_assert_int_eq(errno, EBADMSG);
}
END_TEST

/* Two descriptors in one message: both closed, none leaked. */
START_TEST(fdpass__extra_fds_closed_not_leaked)
{
	struct fdpass_msg out = { 1, 1 }, in;
	struct msghdr	 msg;
	struct iovec	 iov = { &out, sizeof(out) };
	char		 buf[CMSG_SPACE(2 * sizeof(int))];
	struct cmsghdr	*c;
	int		 fds[2], before, fd = -1;

	ck_assert_int_eq(pipe(fds), 0);
	memset(&msg, 0, sizeof(msg));
	memset(buf, 0, sizeof(buf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = buf;
	msg.msg_controllen = sizeof(buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(2 * sizeof(int));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	ck_assert_int_eq(sendmsg(sp[0], &msg, 0), sizeof(out));
	close(fds[0]);
	close(fds[1]);
	before = count_fds();
	ck_assert_int_eq(fdpass_recv(sp[1], &fd, &in), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(count_fds(), before);
}
END_TEST

START_TEST(fdpass__eof_returns_zero)
{
	struct fdpass_msg in;
	int		 fd = -1;

	close(sp[0]);
	sp[0] = -1;
	ck_assert_int_eq(fdpass_recv(sp[1], &fd, &in), 0);
}
END_TEST

/* Two descriptors and a message of another size: both arrive, in order. */
START_TEST(fdpass__several_fds_roundtrip)
{
	uint32_t	 out[3] = { 7, 8, 9 }, in[3];
	int		 p1[2], p2[2], fds[2], got[FDPASS_MAX], eof;
	char		 ch;

	ck_assert_int_eq(pipe(p1), 0);
	ck_assert_int_eq(pipe(p2), 0);
	fds[0] = p1[1];
	fds[1] = p2[1];
	ck_assert_int_eq(fdpass_sendv(sp[0], out, sizeof(out), fds, 2), 0);
	ck_assert_int_eq(fdpass_recvv(sp[1], in, sizeof(in), got, FDPASS_MAX,
	    &eof, 0), 2);
	ck_assert_int_eq(eof, 0);
	ck_assert_mem_eq(in, out, sizeof(in));
	ck_assert_int_eq(write(got[0], "a", 1), 1);
	ck_assert_int_eq(write(got[1], "b", 1), 1);
	ck_assert_int_eq(read(p1[0], &ch, 1), 1);
	ck_assert_int_eq(ch, 'a');
	ck_assert_int_eq(read(p2[0], &ch, 1), 1);
	ck_assert_int_eq(ch, 'b');
	close(got[0]);
	close(got[1]);
	close(p1[0]);
	close(p1[1]);
	close(p2[0]);
	close(p2[1]);
}
END_TEST

/* A message with none: 0 descriptors, not end of file. */
START_TEST(fdpass__no_fds_is_a_message)
{
	uint32_t	 out[2] = { 1, 2 }, in[2];
	int		 got[FDPASS_MAX], eof = 1;

	ck_assert_int_eq(fdpass_sendv(sp[0], out, sizeof(out), NULL, 0), 0);
	ck_assert_int_eq(fdpass_recvv(sp[1], in, sizeof(in), got, FDPASS_MAX,
	    &eof, 0), 0);
	ck_assert_int_eq(eof, 0);
	ck_assert_mem_eq(in, out, sizeof(in));
}
END_TEST

/* More descriptors than the receiver takes: EBADMSG, each one closed. */
START_TEST(fdpass__more_than_asked_closed)
{
	uint32_t	 out[2] = { 1, 2 }, in[2];
	int		 p1[2], fds[2], got[FDPASS_MAX], eof, before;

	ck_assert_int_eq(pipe(p1), 0);
	fds[0] = p1[0];
	fds[1] = p1[1];
	ck_assert_int_eq(fdpass_sendv(sp[0], out, sizeof(out), fds, 2), 0);
	close(p1[0]);
	close(p1[1]);
	before = count_fds();
	ck_assert_int_eq(fdpass_recvv(sp[1], in, sizeof(in), got, 1, &eof,
	    0), -1);
	ck_assert_int_eq(errno, EBADMSG);
	ck_assert_int_eq(count_fds(), before);
	/* and a message of the wrong size is one too */
	ck_assert_int_eq(fdpass_sendv(sp[0], out, sizeof(out) - 1, NULL, 0),
	    0);
	ck_assert_int_eq(fdpass_recvv(sp[1], in, sizeof(in), got, 1, &eof,
	    0), -1);
	ck_assert_int_eq(errno, EBADMSG);
}
END_TEST

Suite *
fdpass_suite(void)
{
	Suite	*s = suite_create("fdpass");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fdpass__roundtrip_keeps_tag);
	tcase_add_test(tc, fdpass__message_without_fd_is_error);
	tcase_add_test(tc, fdpass__extra_fds_closed_not_leaked);
	tcase_add_test(tc, fdpass__several_fds_roundtrip);
	tcase_add_test(tc, fdpass__no_fds_is_a_message);
	tcase_add_test(tc, fdpass__more_than_asked_closed);
	tcase_add_test(tc, fdpass__eof_returns_zero);
	suite_add_tcase(s, tc);
	return s;
}
