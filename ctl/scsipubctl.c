/*
 * scsipubctl: the administrator's command line, a client of the HTTP API
 * (one HTTP/1.1 request per run over a plain TCP socket, "Connection:
 * close", the answer read to EOF, JSON through jansson, tables for
 * people and --json for scripts), and the daemon's signals by name:
 * reload and upgrade signal the master whose pid is in the pidfile.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"

#define CTL_DEFAULT_URL	"http://127.0.0.1:8080"
#define CTL_TIMEOUT	30		/* seconds, per socket operation */
#define CTL_MAX_REPLY	(16 * 1024 * 1024)

struct ctl {
	char		 c_host[256];
	char		 c_port[16];
	char		 c_base[256];	/* path prefix, no trailing slash */
	const char	*c_token;
	const char	*c_tier;
	int		 c_json;
	const char	*c_cfgpath;
};

struct reply {
	int		 r_status;
	char		*r_body;
	size_t		 r_len;
};

typedef int (*ctl_cmd_fn)(struct ctl *, int, char **);

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: scsipubctl [-f config] [-u url] [-t token] "
	    "[-T tier] [--json] command [argument ...]\n"
	    "commands: status, images, sessions, create IMAGE..., show ID, "
	    "delete ID, reload, upgrade\n");
	exit(2);
}

/* http://host[:port][/base]; [v6] hosts in brackets. */
static int
ctl_url(struct ctl *c, const char *url)
{
	const char	*p, *end, *slash;
	size_t		 n;

	if (strncasecmp(url, "http://", 7) != 0)
		return -1;
	p = url + 7;
	slash = strchr(p, '/');
	end = slash != NULL ? slash : p + strlen(p);
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));

		if (rb == NULL || (size_t)(rb - p - 1) >= sizeof(c->c_host))
			return -1;
		snprintf(c->c_host, sizeof(c->c_host), "%.*s",
		    (int)(rb - p - 1), p + 1);
		p = rb + 1;
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));

		n = (size_t)((colon != NULL ? colon : end) - p);
		if (n == 0 || n >= sizeof(c->c_host))
			return -1;
		snprintf(c->c_host, sizeof(c->c_host), "%.*s", (int)n, p);
		p += n;
	}
	if (*p == ':') {
		n = (size_t)(end - p - 1);
		if (n == 0 || n >= sizeof(c->c_port))
			return -1;
		snprintf(c->c_port, sizeof(c->c_port), "%.*s", (int)n, p + 1);
	} else if (p == end)
		snprintf(c->c_port, sizeof(c->c_port), "80");
	else
		return -1;
	snprintf(c->c_base, sizeof(c->c_base), "%s", slash != NULL ? slash :
	    "");
	n = strlen(c->c_base);
	while (n > 0 && c->c_base[n - 1] == '/')
		c->c_base[--n] = '\0';
	return 0;
}

/* The first api-listen of the config file, as a URL; NULL if none. */
static const char *
ctl_config_url(const char *path, char *buf, size_t len)
{
	struct config	*cfg;
	FILE		*devnull;
	const char	*addr, *url = NULL;
	char		 host[80];
	int		 i;

	if (access(path, R_OK) == -1 || (cfg = config_new()) == NULL)
		return NULL;
	if ((devnull = fopen("/dev/null", "w")) != NULL) {
		config_load(cfg, path, devnull);
		fclose(devnull);
	}
	for (i = 0; i < cfg->c_nlisten && url == NULL; i++) {
		if (cfg->c_listen[i].cl_kind != LISTEN_API)
			continue;
		addr = cfg->c_listen[i].cl_text;
		snprintf(host, sizeof(host), "%s", addr);
		/* A wildcard address is reached through loopback. */
		if (strncmp(host, "0.0.0.0:", 8) == 0)
			snprintf(host, sizeof(host), "127.0.0.1%s", addr + 7);
		else if (strncmp(host, "[::]:", 5) == 0)
			snprintf(host, sizeof(host), "[::1]%s", addr + 4);
		snprintf(buf, len, "http://%s", host);
		url = buf;
	}
	config_free(cfg);
	return url;
}

static int
ctl_connect(const struct ctl *c)
{
	struct addrinfo	 hints, *res, *ai;
	struct timeval	 tv = { CTL_TIMEOUT, 0 };
	int		 s = -1, rv;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rv = getaddrinfo(c->c_host, c->c_port, &hints, &res)) != 0)
		errx(1, "%s: %s", c->c_host, gai_strerror(rv));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol)) == -1)
			continue;
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(s);
		s = -1;
	}
	freeaddrinfo(res);
	if (s == -1)
		err(1, "cannot connect to %s port %s", c->c_host, c->c_port);
	return s;
}

static void
ctl_send(int s, const char *buf, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(s, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "send");
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Everything the server sends until it closes. */
static char *
ctl_recv(int s, size_t *len)
{
	char	*buf = NULL, *p;
	size_t	 cap = 0;
	ssize_t	 n;

	*len = 0;
	for (;;) {
		if (*len + 4096 + 1 > cap) {
			cap = cap == 0 ? 16384 : cap * 2;
			if (cap > CTL_MAX_REPLY)
				errx(1, "reply too large");
			if ((p = realloc(buf, cap)) == NULL)
				err(1, "realloc");
			buf = p;
		}
		if ((n = read(s, buf + *len, cap - *len - 1)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "receive");
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	buf[*len] = '\0';
	return buf;
}

static void
ctl_parse_reply(char *raw, size_t len, struct reply *r)
{
	char	*hdrend;

	if (strncmp(raw, "HTTP/1.", 7) != 0 || len < 12 ||
	    sscanf(raw + 9, "%3d", &r->r_status) != 1)
		errx(1, "not an HTTP answer");
	if ((hdrend = strstr(raw, "\r\n\r\n")) == NULL)
		errx(1, "truncated HTTP answer");
	r->r_body = hdrend + 4;
	r->r_len = len - (size_t)(r->r_body - raw);
}

/* One request; exits on transport errors.  The reply owns *rawp. */
static void
ctl_request(const struct ctl *c, const char *method, const char *path,
    const char *body, struct reply *r, char **rawp)
{
	char	*req = NULL;
	size_t	 len;
	FILE	*f;
	int	 s;

	if ((f = open_memstream(&req, &len)) == NULL)
		err(1, "open_memstream");
	fprintf(f, "%s %s%s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
	    "Accept: application/json\r\nUser-Agent: scsipubctl/%s\r\n",
	    method, c->c_base, path, c->c_host, PACKAGE_VERSION);
	if (c->c_token != NULL)
		fprintf(f, "Authorization: Bearer %s\r\n", c->c_token);
	if (body != NULL)
		fprintf(f, "Content-Type: application/json\r\n"
		    "Content-Length: %zu\r\n", strlen(body));
	fprintf(f, "\r\n%s", body != NULL ? body : "");
	fclose(f);
	s = ctl_connect(c);
	ctl_send(s, req, len);
	free(req);
	*rawp = ctl_recv(s, &len);
	close(s);
	memset(r, 0, sizeof(*r));
	ctl_parse_reply(*rawp, len, r);
}

/* Request, check the status, parse the JSON; prints it under --json. */
static json_t *
ctl_call(const struct ctl *c, const char *method, const char *path,
    const char *body)
{
	struct reply	 r;
	json_error_t	 je;
	json_t		*j, *e;
	char		*raw;

	ctl_request(c, method, path, body, &r, &raw);
	j = json_loadb(r.r_body, r.r_len, 0, &je);
	if (r.r_status < 200 || r.r_status > 299) {
		e = j != NULL ? json_object_get(j, "error") : NULL;
		fprintf(stderr, "scsipubctl: %s %s: HTTP %d: %s\n", method,
		    path, r.r_status, json_is_string(e) ? json_string_value(e) :
		    "(no explanation)");
		exit(1);
	}
	if (j == NULL)
		errx(1, "%s %s: malformed JSON in the answer: %s", method, path,
		    je.text);
	free(raw);
	if (c->c_json) {
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	return j;
}

static const char *
str(json_t *o, const char *key)
{
	json_t	*v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : "-";
}

static long long
num(json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

static const char *
human(long long v, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double	 d = (double)v;
	int	 i = 0;

	while (d >= 1024 && i < 4) {
		d /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%lld B", v);
	else
		snprintf(buf, len, "%.1f %s", d, unit[i]);
	return buf;
}

static const char *
duration(long long s, char *buf, size_t len)
{
	if (s >= 86400)
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	return buf;
}

static void
print_workers(json_t *workers)
{
	char	 r[32], w[32];
	json_t	*wk;
	size_t	 i;

	printf("%-7s %-8s %-6s %12s %12s %8s\n", "WORKER", "PID", "CONNS",
	    "READ/s", "WRITE/s", "CMDS/s");
	json_array_foreach(workers, i, wk)
		printf("%-7lld %-8lld %-6lld %12s %12s %8lld\n",
		    num(wk, "worker"), num(wk, "pid"), num(wk, "connections"),
		    human(num(wk, "read_bytes_per_second"), r, sizeof(r)),
		    human(num(wk, "write_bytes_per_second"), w, sizeof(w)),
		    num(wk, "commands_per_second"));
}

static void
print_tiers(json_t *sess)
{
	const char	*name;
	json_t		*t;

	printf("%-16s %8s %8s %10s\n", "TIER", "WAITING", "ACTIVE",
	    "SUSPENDED");
	json_object_foreach(json_object_get(sess, "tiers"), name, t)
		printf("%-16s %8lld %8lld %10lld\n", name, num(t, "waiting"),
		    num(t, "active"), num(t, "suspended"));
}

static int
cmd_status(struct ctl *c, int argc, char **argv)
{
	json_t	*j, *sess, *tp, *co;
	char	 b1[32], b2[32];

	(void)argv;
	if (argc != 0)
		usage();
	j = ctl_call(c, "GET", "/api/status", NULL);
	if (c->c_json) {
		json_decref(j);
		return 0;
	}
	printf("scsipub %s, up %s, %lld connections, %lld images\n\n",
	    str(j, "version"), duration(num(j, "uptime"), b1, sizeof(b1)),
	    num(j, "connections"), num(j, "images"));
	print_workers(json_object_get(j, "workers"));
	sess = json_object_get(j, "sessions");
	printf("\nsessions: %lld (%lld waiting, %lld active, %lld "
	    "suspended)\n", num(sess, "total"), num(sess, "waiting"),
	    num(sess, "active"), num(sess, "suspended"));
	print_tiers(sess);
	tp = json_object_get(j, "throughput");
	printf("\nthroughput: read %s/s, write %s/s, %lld commands/s\n",
	    human(num(tp, "read_bytes_per_second"), b1, sizeof(b1)),
	    human(num(tp, "write_bytes_per_second"), b2, sizeof(b2)),
	    num(tp, "commands_per_second"));
	co = json_object_get(j, "coordinator");
	printf("coordinator: pid %lld, queue depth %lld, %lld commits, "
	    "commit latency %.3f ms\n", num(co, "pid"), num(co, "queue_depth"),
	    num(co, "commits"),
	    json_number_value(json_object_get(co, "commit_latency_ms")));
	json_decref(j);
	return 0;
}

static int
cmd_images(struct ctl *c, int argc, char **argv)
{
	json_t	*j, *im;
	size_t	 i;
	char	 b[32];

	(void)argv;
	if (argc != 0)
		usage();
	j = ctl_call(c, "GET", "/api/images", NULL);
	if (c->c_json) {
		json_decref(j);
		return 0;
	}
	printf("%-24s %10s  %s\n", "NAME", "SIZE", "IQN");
	json_array_foreach(json_object_get(j, "images"), i, im)
		printf("%-24s %10s  %s\n", str(im, "name"),
		    human(num(im, "size"), b, sizeof(b)), str(im, "iqn"));
	json_decref(j);
	return 0;
}

static int
cmd_sessions(struct ctl *c, int argc, char **argv)
{
	json_t	*j, *s;
	size_t	 i;

	(void)argv;
	if (argc != 0)
		usage();
	j = ctl_call(c, "GET", "/api/sessions", NULL);
	if (c->c_json) {
		json_decref(j);
		return 0;
	}
	printf("%-16s %-9s %-10s %4s %5s %-20s  %s\n", "ID", "STATE", "TIER",
	    "LUNS", "CONNS", "EXPIRES", "IQN");
	json_array_foreach(json_object_get(j, "sessions"), i, s)
		printf("%-16s %-9s %-10s %4zu %5zu %-20s  %s\n", str(s, "id"),
		    str(s, "state"), str(s, "tier"),
		    json_array_size(json_object_get(s, "luns")),
		    json_array_size(json_object_get(s, "connections")),
		    str(s, "expires_at"), str(s, "iqn"));
	json_decref(j);
	return 0;
}

static void
print_list(const char *label, json_t *a)
{
	json_t	*v;
	size_t	 i;

	printf("%-14s", label);
	json_array_foreach(a, i, v)
		printf("%s%s", i ? ", " : "", json_string_value(v));
	printf("%s\n", json_array_size(a) == 0 ? "-" : "");
}

static void
print_session(json_t *s)
{
	json_t	*l, *chap = json_object_get(s, "chap");
	size_t	 i;
	char	 b[32], q[32];

	printf("%-14s%s\n", "id:", str(s, "id"));
	printf("%-14s%s\n", "iqn:", str(s, "iqn"));
	print_list("portals:", json_object_get(s, "portals"));
	if (json_array_size(json_object_get(s, "tls_portals")) > 0)
		print_list("tls portals:", json_object_get(s, "tls_portals"));
	printf("%-14s%s\n", "chap user:", str(chap, "user"));
	if (json_object_get(chap, "secret") != NULL)
		printf("%-14s%s\n", "chap secret:", str(chap, "secret"));
	printf("%-14s%s\n", "tier:", str(s, "tier"));
	if (json_object_get(s, "state") != NULL)
		printf("%-14s%s\n", "state:", str(s, "state"));
	if (json_object_get(s, "bytes_written") != NULL)
		printf("%-14s%s of %s\n", "written:",
		    human(num(s, "bytes_written"), b, sizeof(b)),
		    num(s, "quota") ? human(num(s, "quota"), q, sizeof(q)) :
		    "unlimited");
	printf("%-14s%s\n", "expires:", json_is_string(json_object_get(s,
	    "expires_at")) ? str(s, "expires_at") : "not while connected");
	json_array_foreach(json_object_get(s, "luns"), i, l)
		printf("%-14s%lld %s (%s)\n", i ? "" : "luns:", num(l, "lun"),
		    str(l, "image"), human(num(l, "size"), b, sizeof(b)));
	json_array_foreach(json_object_get(s, "connections"), i, l)
		printf("%-14s%s from %s (worker slot %lld) since %s\n",
		    i ? "" : "connections:", str(l, "initiator"),
		    str(l, "peer"), num(l, "worker_slot"), str(l, "since"));
}

static int
cmd_create(struct ctl *c, int argc, char **argv)
{
	json_t	*req, *images, *j;
	char	*body;
	int	 i;

	if (argc < 1)
		usage();
	images = json_array();
	for (i = 0; i < argc; i++)
		json_array_append_new(images, json_string(argv[i]));
	req = json_pack("{s:o}", "images", images);
	if (c->c_tier != NULL)
		json_object_set_new(req, "tier", json_string(c->c_tier));
	if ((body = json_dumps(req, JSON_COMPACT)) == NULL)
		errx(1, "cannot encode the request");
	json_decref(req);
	j = ctl_call(c, "POST", "/api/sessions", body);
	free(body);
	if (!c->c_json)
		print_session(j);
	json_decref(j);
	return 0;
}

/* The API path of the session named on the command line. */
static void
ctl_session_path(char *path, size_t len, int argc, char **argv)
{
	if (argc != 1)
		usage();
	if (strlen(argv[0]) != 16 ||
	    strspn(argv[0], "0123456789abcdef") != 16)
		errx(1, "%s: not a session id (16 hex digits)", argv[0]);
	snprintf(path, len, "/api/sessions/%s", argv[0]);
}

static int
cmd_show(struct ctl *c, int argc, char **argv)
{
	char	 path[64];
	json_t	*j;

	ctl_session_path(path, sizeof(path), argc, argv);
	j = ctl_call(c, "GET", path, NULL);
	if (!c->c_json)
		print_session(j);
	json_decref(j);
	return 0;
}

static int
cmd_delete(struct ctl *c, int argc, char **argv)
{
	char	 path[64];
	json_t	*j;

	ctl_session_path(path, sizeof(path), argc, argv);
	j = ctl_call(c, "DELETE", path, NULL);
	if (!c->c_json)
		printf("session %s deleted\n", argv[0]);
	json_decref(j);
	return 0;
}

/*
 * The master's pid, from the pidfile in the configuration's state-dir,
 * and what the running master executes (its binary, by path).
 */
static pid_t
ctl_daemon(const struct ctl *c, char *exe, size_t len)
{
	struct config	*cfg;
	FILE		*f, *devnull;
	char		 path[CFG_PATH_MAX + 32];
	long		 pid = 0;
	ssize_t		 n;

	if ((cfg = config_new()) == NULL)
		errx(1, "out of memory");
	if ((devnull = fopen("/dev/null", "w")) != NULL) {
		config_load(cfg, c->c_cfgpath, devnull);
		fclose(devnull);
	}
	snprintf(path, sizeof(path), "%s/scsipubd.pid", cfg->c_state_dir);
	config_free(cfg);
	if ((f = fopen(path, "r")) == NULL)
		err(1, "%s (is scsipubd running?)", path);
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1)
		errx(1, "%s: no process ID in it", path);
	fclose(f);
	if (kill((pid_t)pid, 0) == -1)
		err(1, "scsipubd (pid %ld from %s)", pid, path);
	snprintf(path, sizeof(path), "/proc/%ld/exe", pid);
	if ((n = readlink(path, exe, len - 1)) == -1)
		err(1, "%s", path);
	exe[n] = '\0';
	return (pid_t)pid;
}

/* The inode the process runs, and the one its binary's path names. */
static int
ctl_exe_current(pid_t pid, const char *exe)
{
	struct stat	 run, disk;
	char		 path[64];

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	return stat(path, &run) == 0 && stat(exe, &disk) == 0 &&
	    run.st_dev == disk.st_dev && run.st_ino == disk.st_ino;
}

static int
cmd_reload(struct ctl *c, int argc, char **argv)
{
	char	 exe[CFG_PATH_MAX];
	pid_t	 pid;

	(void)argv;
	if (argc != 0)
		usage();
	pid = ctl_daemon(c, exe, sizeof(exe));
	if (kill(pid, SIGHUP) == -1)
		err(1, "kill %d", (int)pid);
	printf("scsipubd (pid %d): reloading %s; its log says whether the "
	    "file was good\n", (int)pid, c->c_cfgpath);
	return 0;
}

/*
 * SIGUSR2: the binary on disk takes over; wait (10 s at most) until the
 * master runs it.  A binary that was current already is replaced by
 * itself (every process new); one that refuses leaves things as they
 * were, and we say so.
 */
static int
cmd_upgrade(struct ctl *c, int argc, char **argv)
{
	struct timespec	 ts = { 0, 50 * 1000 * 1000 };
	char		 exe[CFG_PATH_MAX];
	pid_t		 pid;
	int		 i, n, current;

	(void)argv;
	if (argc != 0)
		usage();
	pid = ctl_daemon(c, exe, sizeof(exe));
	if ((n = (int)strlen(exe)) > 10 &&
	    strcmp(exe + n - 10, " (deleted)") == 0)
		exe[n - 10] = '\0';
	current = ctl_exe_current(pid, exe);
	if (kill(pid, SIGUSR2) == -1)
		err(1, "kill %d", (int)pid);
	if (current) {
		printf("scsipubd (pid %d) runs %s already: every process is "
		    "replaced by it, sessions moving live (see the log)\n",
		    (int)pid, exe);
		return 0;
	}
	for (i = 0; i < 200; i++) {
		if (ctl_exe_current(pid, exe)) {
			printf("scsipubd (pid %d) now runs %s; its sessions "
			    "move to new workers live\n", (int)pid, exe);
			return 0;
		}
		nanosleep(&ts, NULL);
	}
	errx(1, "scsipubd (pid %d) kept its binary: %s did not take over "
	    "(see the log)", (int)pid, exe);
}

static const struct {
	const char	*cc_name;
	ctl_cmd_fn	 cc_fn;
} ctl_cmds[] = {
	{ "status",	cmd_status },
	{ "images",	cmd_images },
	{ "sessions",	cmd_sessions },
	{ "create",	cmd_create },
	{ "show",	cmd_show },
	{ "delete",	cmd_delete },
	{ "reload",	cmd_reload },
	{ "upgrade",	cmd_upgrade },
};

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json",	no_argument,		NULL, 'j' },
		{ "url",	required_argument,	NULL, 'u' },
		{ "token",	required_argument,	NULL, 't' },
		{ "tier",	required_argument,	NULL, 'T' },
		{ "config",	required_argument,	NULL, 'f' },
		{ NULL,		0,			NULL, 0 },
	};
	const char	*url = NULL, *cfgpath = CFG_DEFAULT_PATH;
	struct ctl	 c;
	char		 buf[128];
	size_t		 i;
	int		 ch;

	memset(&c, 0, sizeof(c));
	c.c_token = getenv("SCSIPUB_TOKEN");
	while ((ch = getopt_long(argc, argv, "+f:jt:T:u:", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'f': cfgpath = optarg; break;
		case 'j': c.c_json = 1; break;
		case 't': c.c_token = optarg; break;
		case 'T': c.c_tier = optarg; break;
		case 'u': url = optarg; break;
		default: usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	c.c_cfgpath = cfgpath;
	if (url == NULL && (url = ctl_config_url(cfgpath, buf,
	    sizeof(buf))) == NULL)
		url = CTL_DEFAULT_URL;
	if (ctl_url(&c, url) == -1)
		errx(2, "%s: want http://HOST[:PORT][/PATH]", url);
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
		if (strcmp(argv[0], ctl_cmds[i].cc_name) == 0)
			return ctl_cmds[i].cc_fn(&c, argc - 1, argv + 1);
	warnx("unknown command \"%s\"", argv[0]);
	usage();
}
