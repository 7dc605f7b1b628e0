/*
 * Tests for ctl/scsipubctl.c: the built binary (next to tests/, as
 * the build leaves it) run against a small HTTP server played here, one
 * canned answer per run.  What it asks (method, path, headers, body),
 * what it prints from the answer (tables, --json), and its exit status
 * for usage errors, HTTP errors and bad answers.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "suites.h"

#define RUN_MS		5000	/* how long one run may take */

/* One run: what it asked, printed and returned. */
struct run {
	char	 r_req[16384];
	size_t	 r_reqlen;
	char	 r_out[16384];
	char	 r_err[4096];
	int	 r_exit;
	int	 r_asked;	/* it connected */
};

static char		 ctl[PATH_MAX];
static char		 url[64];
static char		 dir[64];
static int		 lfd;
static uint16_t		 port;
static struct run	 r;

static void
setup(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof(sin);
	char			 self[PATH_MAX];
	ssize_t			 n;

	ck_assert_int_gt(n = readlink("/proc/self/exe", self,
	    sizeof(self) - 1), 0);
	self[n] = '\0';
	snprintf(ctl, sizeof(ctl), "%s/../scsipubctl", dirname(self));
	ck_assert_msg(access(ctl, X_OK) == 0, "%s is not built", ctl);
	ck_assert_int_ge(lfd = socket(AF_INET, SOCK_STREAM, 0), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	port = ntohs(sin.sin_port);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	snprintf(dir, sizeof(dir), "/tmp/check_scsipubctl.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&r, 0, sizeof(r));
}

static void
teardown(void)
{
	if (lfd != -1)
		close(lfd);
	test_rm_tree(dir);
}

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The request is whole: headers, and as much body as they announce. */
static int
request_whole(void)
{
	const char	*end = strstr(r.r_req, "\r\n\r\n"), *cl;
	size_t		 body = 0;

	if (end == NULL)
		return 0;
	if ((cl = strcasestr(r.r_req, "\r\nContent-Length: ")) != NULL &&
	    cl < end)
		body = strtoul(cl + 18, NULL, 10);
	return r.r_reqlen >= (size_t)(end + 4 - r.r_req) + body;
}

/* One connection: read the request, send answer, close. */
static void
serve(const char *answer)
{
	ssize_t	 n;
	int	 s;

	ck_assert_int_ge(s = accept(lfd, NULL, NULL), 0);
	r.r_asked = 1;
	while (!request_whole() && r.r_reqlen < sizeof(r.r_req) - 1) {
		n = read(s, r.r_req + r.r_reqlen, sizeof(r.r_req) - 1 -
		    r.r_reqlen);
		if (n <= 0)
			break;
		r.r_reqlen += (size_t)n;
		r.r_req[r.r_reqlen] = '\0';
	}
	ck_assert_int_eq(write(s, answer, strlen(answer)),
	    (ssize_t)strlen(answer));
	close(s);
}

static void
slurp(FILE *f, char *buf, size_t len)
{
	size_t	 n;

	rewind(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
}

static void
child(FILE *out, FILE *err, const char *token, char **argv)
{
	dup2(fileno(out), 1);
	dup2(fileno(err), 2);
	unsetenv("SCSIPUB_TOKEN");
	if (token != NULL)
		setenv("SCSIPUB_TOKEN", token, 1);
	execv(ctl, argv);
	_exit(127);
}

#define ARGS(...)	((const char *const []){ __VA_ARGS__, NULL })

/*
 * Run scsipubctl with args (NULL-terminated), the server answering
 * answer (NULL: it is not expected to ask), with SCSIPUB_TOKEN token
 * (or none).  Fills r.
 */
static void
run(const char *answer, const char *token, const char *const *args)
{
	char		*argv[16];
	struct pollfd	 pfd = { lfd, POLLIN, 0 };
	int64_t		 deadline = now_ms() + RUN_MS;
	FILE		*out = tmpfile(), *err = tmpfile();
	pid_t		 pid;
	int		 n = 0, st;

	memset(&r, 0, sizeof(r));
	argv[n++] = ctl;
	while (n < 15 && *args != NULL)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	ck_assert(out != NULL && err != NULL);
	ck_assert_int_ge(pid = fork(), 0);
	if (pid == 0)
		child(out, err, token, argv);
	while (waitpid(pid, &st, WNOHANG) == 0) {
		ck_assert_msg(now_ms() < deadline, "scsipubctl hangs");
		if (poll(&pfd, 1, 10) == 1) {
			ck_assert_msg(answer != NULL, "it asked the server");
			serve(answer);
		}
	}
	ck_assert(WIFEXITED(st));
	r.r_exit = WEXITSTATUS(st);
	slurp(out, r.r_out, sizeof(r.r_out));
	slurp(err, r.r_err, sizeof(r.r_err));
}

/* An HTTP answer (static storage) with a JSON body. */
static const char *
answer(int code, const char *body)
{
	static char	 buf[8192];

	snprintf(buf, sizeof(buf), "HTTP/1.1 %d X\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\nConnection: close"
	    "\r\n\r\n%s", code, strlen(body), body);
	return buf;
}

static int
asked(const char *s)
{
	return strstr(r.r_req, s) != NULL;
}

static int
printed(const char *s)
{
	return strstr(r.r_out, s) != NULL;
}

static const char status_json[] = "{\"version\":\"9.9\",\"uptime\":3700,"
    "\"connections\":3,\"images\":2,\"workers\":[{\"worker\":0,"
    "\"pid\":4242,\"connections\":3,\"read_bytes_per_second\":2048,"
    "\"write_bytes_per_second\":0,\"commands_per_second\":7}],"
    "\"sessions\":{\"total\":2,\"waiting\":1,\"active\":1,\"suspended\":0,"
    "\"tiers\":{\"gold\":{\"waiting\":1,\"active\":1,\"suspended\":0}}},"
    "\"throughput\":{\"read_bytes_per_second\":1048576,"
    "\"write_bytes_per_second\":0,\"commands_per_second\":7},"
    "\"coordinator\":{\"pid\":99,\"queue_depth\":0,\"commits\":5,"
    "\"commit_latency_ms\":0.25}}";

START_TEST(scsipubctl__status_asks_and_prints)
{
	run(answer(200, status_json), NULL, ARGS("-u", url, "status"));
	ck_assert_int_eq(r.r_exit, 0);
	ck_assert(strncmp(r.r_req, "GET /api/status HTTP/1.1\r\n", 26) == 0);
	ck_assert(asked("\r\nHost: 127.0.0.1\r\n"));
	ck_assert(asked("\r\nConnection: close\r\n"));
	ck_assert(!asked("Authorization"));
	ck_assert(printed("scsipub 9.9, up 1h01m, 3 connections, 2 images"));
	ck_assert(printed("4242"));
	ck_assert(printed("2.0 KiB"));
	ck_assert(printed("gold"));
	ck_assert(printed("read 1.0 MiB/s"));
	ck_assert(printed("commit latency 0.250 ms"));
}
END_TEST

START_TEST(scsipubctl__token_sent_as_bearer)
{
	run(answer(200, "{\"images\":[]}"), NULL, ARGS("-u", url, "-t",
	    "tok-1", "images"));
	ck_assert(asked("\r\nAuthorization: Bearer tok-1\r\n"));
	run(answer(200, "{\"images\":[]}"), "tok-2", ARGS("-u", url,
	    "images"));
	ck_assert(asked("\r\nAuthorization: Bearer tok-2\r\n"));
	run(answer(200, "{\"images\":[]}"), "tok-2", ARGS("-u", url,
	    "--token", "tok-3", "images"));
	ck_assert(asked("\r\nAuthorization: Bearer tok-3\r\n"));
}
END_TEST

static const char session_json[] = "{\"id\":\"00000000000000ab\","
    "\"iqn\":\"iqn.2025-01.pub.test:p-ab\",\"portals\":[\"127.0.0.1:3260\"],"
    "\"chap\":{\"user\":\"u-ab\",\"secret\":\"s3cret-s3cret\"},"
    "\"tier\":\"gold\",\"luns\":[{\"lun\":0,\"image\":\"alpha\","
    "\"size\":1048576}],\"expires_at\":\"2026-12-01T00:00:00Z\"}";

/* The body of the request, parsed. */
static json_t *
request_body(void)
{
	const char	*body = strstr(r.r_req, "\r\n\r\n");
	json_t		*j;

	ck_assert_ptr_nonnull(body);
	ck_assert_ptr_nonnull(j = json_loads(body + 4, 0, NULL));
	return j;
}

START_TEST(scsipubctl__create_posts_images_and_tier)
{
	json_t		*j, *want;
	const char	*body;
	char		 cl[64];

	run(answer(201, session_json), NULL, ARGS("-u", url, "-T", "gold",
	    "create", "alpha", "beta"));
	ck_assert_int_eq(r.r_exit, 0);
	ck_assert(strncmp(r.r_req, "POST /api/sessions HTTP/1.1\r\n", 29) == 0);
	ck_assert(asked("\r\nContent-Type: application/json\r\n"));
	body = strstr(r.r_req, "\r\n\r\n") + 4;
	snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", strlen(body));
	ck_assert(asked(cl));
	j = request_body();
	want = json_pack("{s:[s,s],s:s}", "images", "alpha", "beta", "tier",
	    "gold");
	ck_assert(json_equal(j, want));
	json_decref(j);
	json_decref(want);
	ck_assert(printed("iqn.2025-01.pub.test:p-ab"));
	ck_assert(printed("s3cret-s3cret"));
	ck_assert(printed("127.0.0.1:3260"));
	ck_assert(printed("alpha (1.0 MiB)"));
}
END_TEST

/* --json: the answer itself, for scripts. */
START_TEST(scsipubctl__json_prints_the_answer)
{
	json_t	*got, *want;

	run(answer(200, session_json), NULL, ARGS("--json", "-u", url, "show",
	    "00000000000000ab"));
	ck_assert_int_eq(r.r_exit, 0);
	ck_assert(asked("GET /api/sessions/00000000000000ab HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(got = json_loads(r.r_out, 0, NULL));
	ck_assert_ptr_nonnull(want = json_loads(session_json, 0, NULL));
	ck_assert(json_equal(got, want));
	json_decref(got);
	json_decref(want);
}
END_TEST

START_TEST(scsipubctl__delete_says_so)
{
	run(answer(200, "{}"), NULL, ARGS("-u", url, "delete",
	    "00000000000000ab"));
	ck_assert_int_eq(r.r_exit, 0);
	ck_assert(asked("DELETE /api/sessions/00000000000000ab HTTP/1.1\r\n"));
	ck_assert(printed("session 00000000000000ab deleted"));
}
END_TEST

/* An HTTP error: exit 1, saying the status and the server's reason. */
START_TEST(scsipubctl__http_error_exits_1)
{
	run(answer(404, "{\"error\":\"no such session\"}"), NULL,
	    ARGS("-u", url, "show", "0123456789abcdef"));
	ck_assert_int_eq(r.r_exit, 1);
	ck_assert_ptr_nonnull(strstr(r.r_err, "HTTP 404: no such session"));
	ck_assert_str_eq(r.r_out, "");
}
END_TEST

START_TEST(scsipubctl__malformed_answer_exits_1)
{
	run(answer(200, "this is not json"), NULL, ARGS("-u", url,
	    "images"));
	ck_assert_int_eq(r.r_exit, 1);
	ck_assert_ptr_nonnull(strstr(r.r_err, "malformed JSON"));
	run("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", NULL, ARGS("-u", url,
	    "images"));
	ck_assert_int_eq(r.r_exit, 1);
	ck_assert_ptr_nonnull(strstr(r.r_err, "truncated HTTP answer"));
}
END_TEST

/* A path in the URL prefixes every request's. */
START_TEST(scsipubctl__url_path_prefix)
{
	char	 u[128];

	snprintf(u, sizeof(u), "%s/base/", url);
	run(answer(200, "{\"images\":[]}"), NULL, ARGS("-u", u, "images"));
	ck_assert_int_eq(r.r_exit, 0);
	ck_assert(asked("GET /base/api/images HTTP/1.1\r\n"));
}
END_TEST

/* No -u: the config file's api-listen, a wildcard through loopback. */
START_TEST(scsipubctl__url_from_config)
{
	char	 path[128];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/scsipubd.conf", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fprintf(f, "image-dir %s\nstate-dir %s\napi-listen 0.0.0.0:%u\n",
	    dir, dir, port);
	fclose(f);
	run(answer(200, "{\"images\":[]}"), NULL, ARGS("-f", path,
	    "images"));
	ck_assert_int_eq(r.r_exit, 0);
	ck_assert(asked("\r\nHost: 127.0.0.1\r\n"));
}
END_TEST

/* A session id is 16 hex digits: anything else never reaches the API. */
START_TEST(scsipubctl__bad_session_id_not_sent)
{
	run(NULL, NULL, ARGS("-u", url, "show", "0123456789abcdef/"));
	ck_assert_int_eq(r.r_exit, 1);
	ck_assert(!r.r_asked);
	run(NULL, NULL, ARGS("-u", url, "show", "../../api/status"));
	ck_assert_int_eq(r.r_exit, 1);
	ck_assert(!r.r_asked);
	ck_assert_ptr_nonnull(strstr(r.r_err, "not a session id"));
}
END_TEST

START_TEST(scsipubctl__unreachable_server_exits_1)
{
	close(lfd);
	lfd = -1;			/* nobody listens on the port now */
	run(NULL, NULL, ARGS("-u", url, "images"));
	ck_assert_int_eq(r.r_exit, 1);
	ck_assert_ptr_nonnull(strstr(r.r_err, "cannot connect"));
}
END_TEST

/* Usage errors: exit 2, nothing asked. */
static const char *const usage_errors[][4] = {
	{ NULL },
	{ "frobnicate", NULL },
	{ "status", "extra", NULL },
	{ "create", NULL },
	{ "-u", "ftp://127.0.0.1/", "status", NULL },
	{ "-u", "http://:80", "status", NULL },
	{ "--bogus", "status", NULL },
};

START_TEST(scsipubctl__usage_errors_exit_2)
{
	run(NULL, NULL, usage_errors[_i]);
	ck_assert_int_eq(r.r_exit, 2);
	ck_assert(!r.r_asked);
	ck_assert(strstr(r.r_err, "usage") != NULL ||
	    strstr(r.r_err, "want http://") != NULL);
}
END_TEST

Suite *
scsipubctl_suite(void)
{
	Suite	*s = suite_create("scsipubctl");
	TCase	*tc;

	tc = tcase_create("api");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, scsipubctl__status_asks_and_prints);
	tcase_add_test(tc, scsipubctl__token_sent_as_bearer);
	tcase_add_test(tc, scsipubctl__create_posts_images_and_tier);
	tcase_add_test(tc, scsipubctl__json_prints_the_answer);
	tcase_add_test(tc, scsipubctl__delete_says_so);
	tcase_add_test(tc, scsipubctl__http_error_exits_1);
	tcase_add_test(tc, scsipubctl__malformed_answer_exits_1);
	tcase_add_test(tc, scsipubctl__url_path_prefix);
	tcase_add_test(tc, scsipubctl__url_from_config);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, scsipubctl__bad_session_id_not_sent);
	tcase_add_test(tc, scsipubctl__unreachable_server_exits_1);
	tcase_add_loop_test(tc, scsipubctl__usage_errors_exit_2, 0,
	    sizeof(usage_errors) / sizeof(usage_errors[0]));
	suite_add_tcase(s, tc);
	return s;
}
