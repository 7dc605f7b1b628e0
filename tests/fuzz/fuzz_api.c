/*
 * libFuzzer harness for the HTTP API of a worker: routes, methods,
 * headers (Authorization, Accept), JSON bodies, pipelined requests,
 * answers that wait for the coordinator.  The worker is the real one
 * (fuzzworker.c), given a listening socket of 127.0.0.1 as its api-listen
 * socket; each input is written by a fresh TCP client and
 * libevent's HTTP server takes it from there.
 *
 * Input: one byte of mode (FA_*), then the bytes the client sends.
 *
 * The mirror holds two provisioned sessions: FZ_MINE_ID, owned by
 * 127.0.0.1 (an anonymous caller from here), and FZ_PSESS_ID, owned by
 * the token FZ_TOKEN.  Invariants checked, each named for
 * SCSIPUB_FUZZ_SKIP:
 *	http500		no answer is 500 Internal Server Error
 *			(unless the coordinator refused: FA_REFUSE)
 *	owner		an input without FZ_TOKEN never sees that token's
 *			session, nor gets it deleted
 *	secret		no answer holds a session's CHAP secret (only
 *			the creation returns the new session's own)
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzzenv.h"
#include "fuzzinput.h"
#include "psess.h"
#include "shmq.h"

#define FA_RX_MAX	(1024 * 1024)

static struct tworker	 fa_w;
static struct sockaddr_in fa_addr;
static int		 fa_fd = -1;
static int		 fa_mode;
static int		 fa_token;	/* the input holds FZ_TOKEN */
static char		 fa_rx[FA_RX_MAX + 1];
static size_t		 fa_rxlen;
static char		 fa_foreign[PSESS_IDSTR];

/* The coordinator: deletions of the token's session need the token. */
static uint32_t
fa_hook(const struct shmq_msg *m, void *arg)
{
	uint64_t	 id;

	(void)arg;
	if (m->m_type == SHMQ_PSESS_DELETE &&
	    psess_msg_id_parse(m, &id) == 0 && id == FZ_PSESS_ID &&
	    !fa_token && fz_check("owner"))
		fz_fail("owner", "the session of " FZ_TOKEN " deleted by a "
		    "request without it");
	return fa_mode & FA_REFUSE ? ENOSPC : 0;
}

static int
fa_io(void *arg)
{
	char	 buf[65536];
	ssize_t	 n;
	int	 moved = 0;

	(void)arg;
	if (fa_fd == -1)
		return 0;
	while ((n = read(fa_fd, buf, sizeof(buf))) > 0) {
		moved = 1;
		if ((size_t)n > FA_RX_MAX - fa_rxlen)
			n = (ssize_t)(FA_RX_MAX - fa_rxlen);
		memcpy(fa_rx + fa_rxlen, buf, (size_t)n);
		fa_rxlen += (size_t)n;
	}
	return moved;
}

static void
fa_pump(void)
{
	if (tw_pump(&fa_w, fa_io, NULL) == -1 && fz_check("lingering"))
		fz_fail("lingering", "the worker never became idle");
}

/* The api-listen socket, nonblocking as the master opens it. */
static int
fa_listen(void)
{
	socklen_t	 len = sizeof(fa_addr);
	int		 s;

	memset(&fa_addr, 0, sizeof(fa_addr));
	fa_addr.sin_family = AF_INET;
	fa_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    bind(s, (struct sockaddr *)&fa_addr, sizeof(fa_addr)) == -1 ||
	    listen(s, 16) == -1 ||
	    getsockname(s, (struct sockaddr *)&fa_addr, &len) == -1) {
		perror("fuzz_api: listen");
		abort();
	}
	return s;
}

/*
 * A nonblocking connect: libFuzzer's timer interrupts blocking calls,
 * and the worker's loop completes the connection anyway.
 */
static void
fa_connect(void)
{
	if ((fa_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    (connect(fa_fd, (struct sockaddr *)&fa_addr, sizeof(fa_addr)) ==
	    -1 && errno != EINPROGRESS && errno != EINTR)) {
		perror("fuzz_api: connect");
		abort();
	}
}

static void
fa_write(const uint8_t *p, size_t len)
{
	ssize_t	 n;
	int	 stuck = 0;

	while (len > 0 && stuck < 8) {
		n = write(fa_fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			stuck = 0;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return;
		fa_pump();
		stuck++;
	}
}

/*
 * The status of the answer at *off, which moves to the next answer; -1
 * at the end.  A body is Content-Length long, or empty when the bytes
 * after the header are already the next answer (the answer to HEAD).
 */
static int
fa_status(size_t *off)
{
	const char	*p = fa_rx + *off, *end, *cl;
	size_t		 next, body = 0;

	if (fa_rxlen - *off < 12 || strncmp(p, "HTTP/1.", 7) != 0 ||
	    (end = memmem(p, fa_rxlen - *off, "\r\n\r\n", 4)) == NULL)
		return -1;
	next = (size_t)(end - fa_rx) + 4;
	if ((cl = memmem(p, (size_t)(end - p), "\r\nContent-Length: ", 18)) !=
	    NULL)
		body = strtoul(cl + 18, NULL, 10);
	if (body <= fa_rxlen - next && (body == fa_rxlen - next ||
	    strncmp(fa_rx + next + body, "HTTP/1.", 7) == 0))
		next += body;
	*off = next;
	return atoi(p + 9);
}

static void
fa_check_status(void)
{
	size_t	 off = 0;
	int	 st;

	if ((fa_mode & FA_REFUSE) || !fz_check("http500"))
		return;
	while ((st = fa_status(&off)) != -1)
		if (st == 500)
			fz_fail("http500", "an answer was 500:\n%.2000s",
			    fa_rx);
}

/*
 * The foreign session and the secret as fields of a JSON answer: an
 * error message that quotes the request has its quotes escaped.
 */
static void
fa_check(void)
{
	static const char secret[] = "\"secret\":\"" FZ_PSESS_SECRET "\"";
	static const char iqn[] = "\"iqn\":\"" FZ_PREFIX ":" FZ_PSESS_IQN "\"";
	char		 id[64];

	fa_rx[fa_rxlen] = '\0';
	if (getenv("SCSIPUB_FUZZ_LOG") != NULL)
		fprintf(stderr, "fuzz_api: answers:\n%s\n", fa_rx);
	fa_check_status();
	snprintf(id, sizeof(id), "\"id\":\"%s\"", fa_foreign);
	if (!fa_token && fz_check("owner") && (memmem(fa_rx, fa_rxlen, id,
	    strlen(id)) != NULL || memmem(fa_rx, fa_rxlen, iqn,
	    sizeof(iqn) - 1) != NULL))
		fz_fail("owner", "the session of " FZ_TOKEN " shown to a "
		    "request without it:\n%.2000s", fa_rx);
	if (fz_check("secret") && memmem(fa_rx, fa_rxlen, secret,
	    sizeof(secret) - 1) != NULL)
		fz_fail("secret", "a session's CHAP secret in an answer:\n"
		    "%.2000s", fa_rx);
}

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int	 s;

	(void)argc;
	(void)argv;
	fz_seeds("api");
	s = fa_listen();
	fz_worker_init(&fa_w, "api", &s, 1);
	fa_w.tw_hook = fa_hook;
	psess_id_fmt(FZ_PSESS_ID, fa_foreign);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fa_mode = data[0];
	fa_token = memmem(data, size, FZ_TOKEN, strlen(FZ_TOKEN)) != NULL;
	fa_rxlen = 0;
	fa_connect();
	fa_write(data + 1, size - 1);
	if (!(fa_mode & FA_HANGUP))
		fa_pump();
	close(fa_fd);
	fa_fd = -1;
	fa_pump();
	fa_check();
	return 0;
}
