/*
 * Tests for worker/api/apiconn.c, the API's connection limits, on a real
 * evhttp server in-process and clients on loopback (127.0.0.2 and up are
 * other addresses): a burst is held to api-max-connections exactly, the
 * rest wait in the backlog until a connection ends; past an address's
 * share a connection is answered 503 and closed while other addresses
 * are served; a request trickled a byte at a time is answered 408 and
 * closed at api-request-timeout, as is an idle kept-alive connection,
 * while one that keeps sending whole requests stays.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "api.h"
#include "config.h"
#include "suites.h"
#include "worker.h"

#define NCLIENTS	100
#define REQUEST		"GET / HTTP/1.1\r\nHost: x\r\n\r\n"

struct client {
	int	 cl_fd;
	char	 cl_got[512];	/* what the server sent */
	size_t	 cl_len;
	int	 cl_eof;
};

static struct worker	 w;
static struct evhttp	*h;
static struct client	 cl[NCLIENTS];
static uint16_t		 port;

static void
gencb(struct evhttp_request *req, void *arg)
{
	struct evbuffer	*b = evbuffer_new();

	(void)arg;
	apiconn_request(w.w_apiconns, req);
	evbuffer_add_printf(b, "ok\n");
	evhttp_send_reply(req, 200, NULL, b);
	evbuffer_free(b);
}

static void
setup(void)
{
	memset(&w, 0, sizeof(w));
	memset(cl, 0, sizeof(cl));
	ck_assert_ptr_nonnull(w.w_cfg = config_new());
	ck_assert_ptr_nonnull(w.w_base = event_base_new());
}

/* The server, on 127.0.0.1 and a free port, with the limits set. */
static void
serve(void)
{
	struct evhttp_bound_socket *bound;
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof(sin);
	int			 fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0),
	    0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 512), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	port = ntohs(sin.sin_port);
	ck_assert_ptr_nonnull(h = evhttp_new(w.w_base));
	evhttp_set_gencb(h, gencb, NULL);
	ck_assert_ptr_nonnull(bound = evhttp_accept_socket_with_handle(h, fd));
	ck_assert_ptr_nonnull(w.w_apiconns = apiconn_start(&w, h, &bound, 1));
}

static void
teardown(void)
{
	int	 i;

	for (i = 0; i < NCLIENTS; i++)
		if (cl[i].cl_fd > 0)
			close(cl[i].cl_fd);
	apiconn_stop(w.w_apiconns);
	if (h != NULL)
		evhttp_free(h);
	h = NULL;
	event_base_free(w.w_base);
	config_free(w.w_cfg);
}

/* Client i, connected from 127.0.0.<from>; the request sent if asked. */
static void
client(int i, int from, int send_request)
{
	struct sockaddr_in	 sin;
	int			 fd;

	ck_assert_int_ge(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x7f000000 | (uint32_t)from);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	cl[i].cl_fd = fd;
	if (send_request)
		ck_assert_int_eq(send(fd, REQUEST, strlen(REQUEST),
		    MSG_NOSIGNAL), (ssize_t)strlen(REQUEST));
}

static void
client_read(struct client *c)
{
	ssize_t	 n;

	if (c->cl_fd <= 0 || c->cl_eof)
		return;
	while ((n = recv(c->cl_fd, c->cl_got + c->cl_len,
	    sizeof(c->cl_got) - 1 - c->cl_len, 0)) > 0)
		c->cl_len += (size_t)n;
	c->cl_got[c->cl_len] = '\0';
	if (n == 0 || (n == -1 && errno != EAGAIN))
		c->cl_eof = 1;
}

/* The server's loop for ms, then what the clients got. */
static void
pump(int ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };
	int		 i;

	event_base_loopexit(w.w_base, &tv);
	event_base_dispatch(w.w_base);
	for (i = 0; i < NCLIENTS; i++)
		client_read(&cl[i]);
}

static int
answered(const struct client *c, const char *status)
{
	return strncmp(c->cl_got, status, strlen(status)) == 0;
}

static int
count(const char *status)
{
	int	 i, n = 0;

	for (i = 0; i < NCLIENTS; i++)
		n += answered(&cl[i], status);
	return n;
}

/*
 * 100 connections in one burst, from 10 addresses (within their share):
 * 80 accepted and served, the others not accepted until one goes.
 */
START_TEST(apiconn__burst_holds_the_limit)
{
	int	 i;

	w.w_cfg->c_api_max_conns = 80;
	serve();
	for (i = 0; i < NCLIENTS; i++)
		client(i, 1 + i % 10, 1);
	pump(300);
	ck_assert_int_eq(count("HTTP/1.1 200"), 80);
	ck_assert_uint_eq(apiconn_count(w.w_apiconns), 80);
	for (i = 0; i < NCLIENTS; i++)
		ck_assert_int_eq(cl[i].cl_eof, 0);
	/* Ten go: ten of those waiting are served. */
	for (i = 0; i < NCLIENTS && count("HTTP/1.1 200") > 70; i++)
		if (answered(&cl[i], "HTTP/1.1 200")) {
			close(cl[i].cl_fd);
			memset(&cl[i], 0, sizeof(cl[i]));
		}
	pump(300);
	ck_assert_int_eq(count("HTTP/1.1 200"), 80);
	ck_assert_uint_eq(apiconn_count(w.w_apiconns), 80);
}
END_TEST

/* Past an address's share: 503 with a JSON error, then closed. */
START_TEST(apiconn__per_address_share)
{
	int	 i;

	w.w_cfg->c_api_max_conns_addr = 4;
	serve();
	for (i = 0; i < 10; i++)
		client(i, 1, 1);
	client(10, 2, 1);
	pump(300);
	ck_assert_int_eq(count("HTTP/1.1 200"), 5);
	ck_assert_int_eq(count("HTTP/1.1 503"), 6);
	ck_assert(answered(&cl[10], "HTTP/1.1 200"));
	for (i = 0; i < 10; i++) {
		if (!answered(&cl[i], "HTTP/1.1 503"))
			continue;
		ck_assert_int_eq(cl[i].cl_eof, 1);
		ck_assert_ptr_nonnull(strstr(cl[i].cl_got,
		    "{\"error\":\"too many connections "
		    "(max-connections-per-address)\"}"));
	}
	ck_assert_uint_eq(apiconn_count(w.w_apiconns), 5);
	/* One of the address's own goes: the next from it is served. */
	for (i = 0; !answered(&cl[i], "HTTP/1.1 200"); i++)
		;
	close(cl[i].cl_fd);
	memset(&cl[i], 0, sizeof(cl[i]));
	client(11, 1, 1);
	pump(200);
	ck_assert(answered(&cl[11], "HTTP/1.1 200"));
}
END_TEST

/*
 * api-request-timeout 2s: a request trickled a byte each 100 ms is
 * answered 408 and closed at 2 s, an idle kept-alive connection is
 * closed, one that sends a whole request each 400 ms stays.
 */
START_TEST(apiconn__deadline_not_moved_by_bytes)
{
	static const char trickle[] = "GET / HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaa";
	int	 i, asked = 0;

	w.w_cfg->c_api_req_timeout = 2;
	serve();
	client(0, 1, 0);	/* trickles */
	client(1, 2, 1);	/* one request, then idle */
	client(2, 3, 1);	/* a request each 400 ms */
	for (i = 0; i < 40; i++) {
		if (!cl[0].cl_eof)
			send(cl[0].cl_fd, trickle + i % (sizeof(trickle) - 1),
			    1, MSG_NOSIGNAL);
		if (i % 4 == 3 && answered(&cl[2], "HTTP/1.1 200")) {
			cl[2].cl_len = 0;
			cl[2].cl_got[0] = '\0';
			send(cl[2].cl_fd, REQUEST, strlen(REQUEST),
			    MSG_NOSIGNAL);
			asked++;
		}
		pump(100);
		if (i == 9)	/* 1 s: nobody cut yet */
			ck_assert(!cl[0].cl_eof && !cl[1].cl_eof);
	}
	ck_assert_int_eq(cl[0].cl_eof, 1);
	ck_assert(answered(&cl[0], "HTTP/1.1 408"));
	ck_assert_ptr_nonnull(strstr(cl[0].cl_got, "api-request-timeout"));
	ck_assert_int_eq(cl[1].cl_eof, 1);
	ck_assert_int_eq(cl[2].cl_eof, 0);
	ck_assert_int_ge(asked, 8);
	ck_assert_uint_eq(apiconn_count(w.w_apiconns), 1);
}
END_TEST

Suite *
apiconn_suite(void)
{
	Suite	*s = suite_create("apiconn");
	TCase	*tc = tcase_create("limits");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, apiconn__burst_holds_the_limit);
	tcase_add_test(tc, apiconn__per_address_share);
	tcase_add_test(tc, apiconn__deadline_not_moved_by_bytes);
	suite_add_tcase(s, tc);
	return s;
}
