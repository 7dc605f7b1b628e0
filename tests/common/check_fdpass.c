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

Suite *
fdpass_suite(void)
{
	Suite	*s = suite_create("fdpass");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fdpass__roundtrip_keeps_tag);
	tcase_add_test(tc, fdpass__message_without_fd_is_error);
	tcase_add_test(tc, fdpass__extra_fds_closed_not_leaked);
	tcase_add_test(tc, fdpass__eof_returns_zero);
	suite_add_tcase(s, tc);
	return s;
}
