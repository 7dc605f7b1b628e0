/*
 * Tests for daemon/listen.c and the hand-off it feeds (master_handoff
 * in daemon/master.c), with a master struct set up here, no children:
 * one "worker", as if it had said PROC_READY, is the test's end of a
 * control socket.  Listeners open all or nothing and survive a reload;
 * an accepted connection reaches the worker with its id, or is closed
 * by the master when a limit says so or no worker runs, or waits while
 * none is ready; API listeners are the workers' to accept on; out of
 * descriptors, accepts pause and resume.
 */
#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "fdpass.h"
#include "suites.h"

static char		 dir[64];
static struct master	 m;
static struct child	 worker;
static int		 wfd;		/* the worker's end */
static struct config	*cfg;
static uint16_t		 port[3];

/* A port nobody listens on now. */
static uint16_t
free_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof(sin);
	int			 s;

	ck_assert_int_ge(s = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sin, &sl), 0);
	close(s);
	return ntohs(sin.sin_port);
}

/* A configuration of image-dir, state-dir and text (printf). */
static struct config *
config(const char *fmt, ...)
{
	struct config	*c;
	char		 path[128];
	va_list		 ap;
	FILE		*f;

	snprintf(path, sizeof(path), "%s/scsipubd.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "image-dir %s\nstate-dir %s\n", dir, dir);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
	ck_assert_ptr_nonnull(c = config_new());
	ck_assert_int_eq(config_load(c, path, stderr), 0);
	return c;
}

static void
setup(void)
{
	int	 sv[2], i;

	snprintf(dir, sizeof(dir), "/tmp/check_listen.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (i = 0; i < 3; i++)
		port[i] = free_port();
	cfg = config("listen 127.0.0.1:%u\nlisten 127.0.0.1:%u\n"
	    "api-listen 127.0.0.1:%u\nmax-connections-per-address 2\n",
	    port[0], port[1], port[2]);
	memset(&m, 0, sizeof(m));
	ck_assert_ptr_nonnull(m.m_base = event_base_new());
	m.m_cfg = cfg;
	ck_assert_ptr_nonnull(m.m_conns = conns_new(cfg->c_max_conns));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK,
	    0, sv), 0);
	memset(&worker, 0, sizeof(worker));
	worker.ch_kind = CHILD_WORKER;
	worker.ch_state = CHILD_RUNNING;
	worker.ch_ready = 1;		/* it said PROC_READY */
	worker.ch_ctl = sv[0];
	worker.ch_slot = 3;
	worker.ch_master = &m;
	wfd = sv[1];
	m.m_workers = &worker;
	m.m_nslots = 1;
}

static void
teardown(void)
{
	listen_close(&m);
	close(wfd);
	close(worker.ch_ctl);
	conns_free(m.m_conns);
	config_free(cfg);
	test_rm_tree(dir);
}

/* A client connection to 127.0.0.1:p: its socket, or -1. */
static int
dial(uint16_t p)
{
	struct sockaddr_in	 sin;
	int			 s;

	ck_assert_int_ge(s = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(p);
	if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(s);
		return -1;
	}
	return s;
}

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Run the master's loop until the worker gets a connection (its socket
 * and message), or ms pass: -1.
 */
static int
handed(struct fdpass_msg *fm, int ms)
{
	int64_t	 deadline = now_ms() + ms;
	int	 s;

	do {
		event_base_loop(m.m_base, EVLOOP_NONBLOCK);
		if (fdpass_recv(wfd, &s, fm) == 1)
			return s;
		usleep(1000);
	} while (now_ms() < deadline);
	return -1;
}

/* Has the master closed the client's connection (within 500 ms)? */
static int
closed_by_master(int s)
{
	struct pollfd	 pfd = { s, POLLIN, 0 };
	int64_t		 deadline = now_ms() + 500;
	char		 c;

	do {
		event_base_loop(m.m_base, EVLOOP_NONBLOCK);
		if (poll(&pfd, 1, 10) == 1)
			return recv(s, &c, 1, 0) == 0;
	} while (now_ms() < deadline);
	return 0;
}

/* Someone else listens on 127.0.0.1:p. */
static int
occupy(uint16_t p)
{
	struct sockaddr_in	 sin;
	int			 s;

	ck_assert_int_ge(s = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(p);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(s, 1), 0);
	return s;
}

START_TEST(listen__opens_every_listener)
{
	int	 s;

	ck_assert_int_eq(listen_open(&m, cfg, stderr), 0);
	ck_assert_int_eq(m.m_nlisten, 3);
	ck_assert_int_eq(m.m_listen[2].l_kind, LISTEN_API);
	ck_assert_int_ge(s = dial(port[1]), 0);
	close(s);
}
END_TEST

/* One address taken: none opened, the others not left listening. */
START_TEST(listen__all_or_nothing)
{
	char	 buf[256] = "";
	FILE	*err;
	int	 taken;

	taken = occupy(port[1]);
	ck_assert_ptr_nonnull(err = fmemopen(buf, sizeof(buf) - 1, "w"));
	ck_assert_int_eq(listen_open(&m, cfg, err), -1);
	fclose(err);
	ck_assert_ptr_nonnull(strstr(buf, "cannot listen on 127.0.0.1:"));
	ck_assert_int_eq(m.m_nlisten, 0);
	ck_assert_int_eq(dial(port[0]), -1);
	close(taken);
}
END_TEST

/* Reload: the same addresses keep their sockets; a dropped one closes. */
START_TEST(listen__reload_keeps_sockets)
{
	struct config	*next;
	struct stat	 before, after;

	ck_assert_int_eq(listen_open(&m, cfg, stderr), 0);
	ck_assert_int_eq(fstat(m.m_listen[0].l_fd, &before), 0);
	next = config("listen 127.0.0.1:%u\n", port[0]);
	ck_assert_int_eq(listen_open(&m, next, stderr), 0);
	ck_assert_int_eq(m.m_nlisten, 1);
	ck_assert_int_eq(fstat(m.m_listen[0].l_fd, &after), 0);
	ck_assert_uint_eq(before.st_ino, after.st_ino);
	ck_assert_int_eq(dial(port[1]), -1);
	config_free(next);
}
END_TEST

/* Accepted, counted, and passed to the worker with its id. */
START_TEST(listen__connection_handed_to_worker)
{
	struct fdpass_msg fm;
	char		 buf[4] = "";
	int		 c, s;

	ck_assert_int_eq(listen_open(&m, cfg, stderr), 0);
	listen_enable(&m);
	ck_assert_int_ge(c = dial(port[0]), 0);
	ck_assert_int_ge(s = handed(&fm, 2000), 0);
	ck_assert_uint_eq(fm.fm_tag, LISTEN_ISCSI);
	ck_assert_uint_eq(conns_count(m.m_conns), 1);
	ck_assert_int_eq(worker.ch_conns, 1);
	ck_assert_int_eq(write(c, "hi", 2), 2);
	ck_assert_int_eq(read(s, buf, 2), 2);
	ck_assert_str_eq(buf, "hi");
	conns_closed(m.m_conns, worker.ch_slot, fm.fm_seq);
	ck_assert_uint_eq(conns_count(m.m_conns), 0);
	close(s);
	close(c);
}
END_TEST

/* Over max-connections-per-address: the master closes it, unseen. */
START_TEST(listen__over_limit_closed_by_master)
{
	struct fdpass_msg fm;
	int		 c[3], s[2], i;

	ck_assert_int_eq(listen_open(&m, cfg, stderr), 0);
	listen_enable(&m);
	for (i = 0; i < 2; i++) {
		ck_assert_int_ge(c[i] = dial(port[0]), 0);
		ck_assert_int_ge(s[i] = handed(&fm, 2000), 0);
	}
	ck_assert_int_ge(c[2] = dial(port[1]), 0);
	ck_assert_int_eq(handed(&fm, 200), -1);
	ck_assert(closed_by_master(c[2]));
	ck_assert_uint_eq(conns_count(m.m_conns), 2);
	for (i = 0; i < 2; i++)
		close(s[i]);
	for (i = 0; i < 3; i++)
		close(c[i]);
}
END_TEST

START_TEST(listen__no_worker_running_refuses)
{
	struct fdpass_msg fm;
	int		 c;

	worker.ch_state = CHILD_WAITING;
	ck_assert_int_eq(listen_open(&m, cfg, stderr), 0);
	listen_enable(&m);
	ck_assert_int_ge(c = dial(port[0]), 0);
	ck_assert_int_eq(handed(&fm, 200), -1);
	ck_assert(closed_by_master(c));
	ck_assert_uint_eq(conns_count(m.m_conns), 0);
	close(c);
}
END_TEST

/*
 * The only worker running has not said PROC_READY: the listeners pause
 * and the connection waits in the backlog, neither handed nor closed;
 * once the worker is ready and accepting resumes (master_child_ready()
 * does both on PROC_READY), it is handed over.
 */
START_TEST(listen__waits_for_a_ready_worker)
{
	struct fdpass_msg fm;
	int		 c, s;

	worker.ch_ready = 0;
	ck_assert_int_eq(listen_open(&m, cfg, stderr), 0);
	listen_enable(&m);
	ck_assert_int_ge(c = dial(port[0]), 0);
	ck_assert_int_eq(handed(&fm, 200), -1);
	ck_assert(!closed_by_master(c));
	ck_assert_int_eq(m.m_waitready, 1);
	ck_assert_ptr_null(m.m_listen[0].l_ev);
	ck_assert_uint_eq(conns_count(m.m_conns), 0);
	worker.ch_ready = 1;
	listen_enable(&m);
	ck_assert_int_ge(s = handed(&fm, 2000), 0);
	ck_assert_int_eq(worker.ch_conns, 1);
	close(s);
	close(c);
}
END_TEST

/* The master never accepts on api-listen: the workers do. */
START_TEST(listen__api_left_to_workers)
{
	struct fdpass_msg fm;
	int		 c;

	ck_assert_int_eq(listen_open(&m, cfg, stderr), 0);
	listen_enable(&m);
	ck_assert_ptr_null(m.m_listen[2].l_ev);
	ck_assert_int_ge(c = dial(port[2]), 0);
	ck_assert_int_eq(handed(&fm, 200), -1);
	ck_assert(!closed_by_master(c));
	close(c);
}
END_TEST

/* The lowest descriptor free now. */
static int
lowest_free_fd(void)
{
	int	 fd = open("/dev/null", O_RDONLY);

	ck_assert_int_ge(fd, 0);
	close(fd);
	return fd;
}

/* Out of descriptors: accepts pause, then resume by themselves. */
START_TEST(listen__emfile_pauses_accepts)
{
	struct fdpass_msg fm;
	struct rlimit	 rl, low;
	int		 c, s;

	ck_assert_int_eq(listen_open(&m, cfg, stderr), 0);
	listen_enable(&m);
	ck_assert_int_ge(c = dial(port[0]), 0);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	low = rl;
	low.rlim_cur = (rlim_t)lowest_free_fd();
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	event_base_loop(m.m_base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_ptr_null(m.m_listen[0].l_ev);
	ck_assert_ptr_null(m.m_listen[1].l_ev);
	ck_assert_int_eq(m.m_backoff_ms, LISTEN_BACKOFF_MIN_MS);
	ck_assert_int_ge(s = handed(&fm, 2000), 0);
	ck_assert_ptr_nonnull(m.m_listen[0].l_ev);
	ck_assert_int_eq(m.m_backoff_ms, 0);
	close(s);
	close(c);
}
END_TEST

Suite *
listen_suite(void)
{
	Suite	*s = suite_create("listen");
	TCase	*tc;

	tc = tcase_create("listeners");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, listen__opens_every_listener);
	tcase_add_test(tc, listen__all_or_nothing);
	tcase_add_test(tc, listen__reload_keeps_sockets);
	suite_add_tcase(s, tc);

	tc = tcase_create("accept");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, listen__connection_handed_to_worker);
	tcase_add_test(tc, listen__over_limit_closed_by_master);
	tcase_add_test(tc, listen__no_worker_running_refuses);
	tcase_add_test(tc, listen__waits_for_a_ready_worker);
	tcase_add_test(tc, listen__api_left_to_workers);
	tcase_add_test(tc, listen__emfile_pauses_accepts);
	suite_add_tcase(s, tc);
	return s;
}
