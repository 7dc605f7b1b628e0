/*
 * isctest's transport: TCP to the portal, PDUs sent with the digests in
 * force (or deliberately wrong ones), PDUs received with their digests
 * checked and StatSN and the command window tracked, the target's
 * NOP-In pings answered, and a close awaited.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isctest.h"

const char	*conn_bind;		/* source address of the next connect */
static const char *close_how = "EOF";	/* how the last close was seen */

static const char *const op_names[64] = {
	[OP_NOP_OUT] = "NOP-Out",	[OP_SCSI_CMD] = "SCSI Command",
	[OP_LOGIN_REQ] = "Login Request", [OP_TEXT_REQ] = "Text Request",
	[OP_DATA_OUT] = "Data-Out",	[OP_LOGOUT_REQ] = "Logout Request",
	[OP_NOP_IN] = "NOP-In",		[OP_SCSI_RSP] = "SCSI Response",
	[OP_TMF_RSP] = "Task Management Response",
	[OP_LOGIN_RSP] = "Login Response", [OP_TEXT_RSP] = "Text Response",
	[OP_DATA_IN] = "Data-In",	[OP_LOGOUT_RSP] = "Logout Response",
	[OP_R2T] = "R2T",		[OP_ASYNC] = "Async Message",
	[OP_REJECT] = "Reject",
};

uint8_t
pdu_op(const struct pdu *p)
{
	return p->p_bhs[0] & ISCSI_OP_MASK;
}

const char *
pdu_describe(const struct pdu *p)
{
	static char	 buf[160];
	const uint8_t	*h = p->p_bhs;
	const char	*name = op_names[pdu_op(p)];
	int		 n;

	n = snprintf(buf, sizeof(buf), "%s (opcode 0x%02x)",
	    name != NULL ? name : "unknown PDU", pdu_op(p));
	if (pdu_op(p) == OP_REJECT)
		snprintf(buf + n, sizeof(buf) - n, " reason 0x%02x", h[2]);
	else if (pdu_op(p) == OP_LOGIN_RSP)
		snprintf(buf + n, sizeof(buf) - n, " status 0x%04x",
		    be16dec(h + 36));
	else if (pdu_op(p) == OP_SCSI_RSP)
		snprintf(buf + n, sizeof(buf) - n, " status 0x%02x", h[3]);
	else if (pdu_op(p) == OP_NOP_IN)
		snprintf(buf + n, sizeof(buf) - n, " ITT 0x%08x TTT 0x%08x",
		    be32dec(h + 16), be32dec(h + 20));
	return buf;
}

/* -v: one line per PDU, milliseconds since start, > sent, < received. */
static void
pdu_trace(char dir, const uint8_t *bhs, size_t dlen)
{
	static int64_t	start;
	struct pdu	p;

	if (!opt.o_verbose)
		return;
	if (start == 0)
		start = now_ms();
	memcpy(p.p_bhs, bhs, ISCSI_BHS_LEN);
	printf("%s: %6lld ms %c %s ITT 0x%08x SN %u/%u dlen %zu\n", scenario,
	    (long long)(now_ms() - start), dir, pdu_describe(&p),
	    be32dec(bhs + 16), be32dec(bhs + 24), be32dec(bhs + 28), dlen);
	fflush(stdout);
}

void
pdu_free(struct pdu *p)
{
	free(p->p_data);
	p->p_data = NULL;
	p->p_dlen = 0;
}

/* Connect from conn_bind (port chosen by the kernel). */
static void
tcp_bind(int fd, int family)
{
	struct addrinfo	 hints, *res;
	int		 error;
	const char	*addr = conn_bind != NULL ? conn_bind : opt.o_bind_all;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	if ((error = getaddrinfo(addr, "0", &hints, &res)) != 0)
		fail("source address %s: %s", addr, gai_strerror(error));
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1)
		fail("bind %s: %s", addr, strerror(errno));
	freeaddrinfo(res);
}

static int
tcp_connect(void)
{
	struct addrinfo	 hints, *res, *ai;
	int		 fd = -1, on = 1, error;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(opt.o_host, opt.o_port, &hints, &res)) != 0)
		fail("%s:%s: %s", opt.o_host, opt.o_port, gai_strerror(error));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd == -1)
			continue;
		if (conn_bind != NULL || opt.o_bind_all != NULL)
			tcp_bind(fd, ai->ai_family);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		fail("connect %s:%s: %s", opt.o_host, opt.o_port,
		    strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	return fd;
}

int
write_all(int fd, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static enum rx
read_full(int fd, void *buf, size_t len, int64_t deadline)
{
	uint8_t		*p = buf;
	struct pollfd	 pfd;
	int64_t		 left;
	ssize_t		 n;

	while (len > 0) {
		if ((left = deadline - now_ms()) <= 0)
			return RX_TIMEOUT;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = read(fd, p, len);
		if (n == 0 || (n == -1 && errno == ECONNRESET)) {
			close_how = n == 0 ? "EOF" : "RST";
			return RX_CLOSED;
		}
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fail("read: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return RX_OK;
}

void
conn_open(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	c->c_fd = tcp_connect();
	c->c_itt = 0x100;
	c->c_cmdsn = 1;
	c->c_nopin_answer = 1;
	c->c_blksz = 512;
	random_bytes(c->c_isid, sizeof(c->c_isid));
	c->c_isid[0] = 0x80;	/* T=01b: random format (RFC 7143 11.12.5) */
}

void
conn_close(struct conn *c)
{
	if (c->c_fd != -1)
		close(c->c_fd);
	c->c_fd = -1;
}

void
bhs_init(uint8_t *h, uint8_t op, uint8_t flags)
{
	memset(h, 0, ISCSI_BHS_LEN);
	h[0] = op;
	h[1] = flags;
}

/*
 * Send one PDU: BHS, AHS, header digest, data, padding, data digest.
 * flags makes a digest deliberately wrong.  -1 with errno on failure.
 */
int
pdu_send(struct conn *c, uint8_t *bhs, const uint8_t *ahs, size_t ahslen,
    const void *data, size_t dlen, int flags)
{
	size_t		 pad = (4 - dlen % 4) % 4, len = ISCSI_BHS_LEN;
	uint8_t		*buf;
	uint32_t	 crc;
	int		 rv;

	bhs[4] = (uint8_t)(ahslen / 4);
	be24enc(bhs + 5, (uint32_t)dlen);
	buf = xmalloc(ISCSI_BHS_LEN + ahslen + 4 + dlen + pad + 4);
	memcpy(buf, bhs, ISCSI_BHS_LEN);
	if (ahslen > 0)
		memcpy(buf + len, ahs, ahslen);
	len += ahslen;
	if (c->c_hd) {
		crc = crc32c(0, buf, len) ^ (flags & TX_BAD_HD ? 1 : 0);
		crc32c_le_enc(buf + len, crc);
		len += 4;
	}
	if (dlen > 0) {
		memcpy(buf + len, data, dlen);
		memset(buf + len + dlen, 0, pad);
		crc = crc32c(0, buf + len, dlen + pad);
		len += dlen + pad;
		if (c->c_dd) {
			crc32c_le_enc(buf + len, crc ^ (flags & TX_BAD_DD));
			len += 4;
		}
	}
	pdu_trace('>', bhs, dlen);
	rv = write_all(c->c_fd, buf, len);
	free(buf);
	return rv;
}

/* A header whose DataSegmentLength lies: claim bytes, send n of data. */
void
pdu_send_lying(struct conn *c, uint8_t *bhs, uint32_t claim,
    const uint8_t *data, size_t n)
{
	uint8_t	dig[4];

	bhs[4] = 0;
	be24enc(bhs + 5, claim);
	if (write_all(c->c_fd, bhs, ISCSI_BHS_LEN) == -1)
		return;
	if (c->c_hd) {
		crc32c_le_enc(dig, crc32c(0, bhs, ISCSI_BHS_LEN));
		if (write_all(c->c_fd, dig, 4) == -1)
			return;
	}
	(void)write_all(c->c_fd, data, n);
}

static void
digest_check(struct conn *c, const struct pdu *p, const void *buf,
    uint32_t crc, const char *what)
{
	uint8_t	want[4];

	crc32c_le_enc(want, crc);
	if (memcmp(buf, want, 4) != 0)
		fail("%s with a wrong %s digest", pdu_describe(p), what);
	if (what[0] == 'h')
		c->c_hd_ok++;
	else
		c->c_dd_ok++;
}

/* Track the target's StatSN and command window from what it sent. */
static void
pdu_note(struct conn *c, const struct pdu *p)
{
	const uint8_t	*h = p->p_bhs;
	int		 status = 0;

	switch (pdu_op(p)) {
	case OP_SCSI_RSP: case OP_TMF_RSP: case OP_LOGIN_RSP:
	case OP_TEXT_RSP: case OP_LOGOUT_RSP: case OP_REJECT: case OP_ASYNC:
		status = 1;
		break;
	case OP_DATA_IN:
		status = h[1] & 0x01;
		break;
	case OP_NOP_IN:
		status = be32dec(h + 16) != ISCSI_TTT_NONE;
		break;
	case OP_R2T:
		break;
	default:
		fail("target sent initiator opcode: %s", pdu_describe(p));
	}
	c->c_expcmdsn = be32dec(h + 28);
	c->c_maxcmdsn = be32dec(h + 32);
	if (status)
		c->c_expstatsn = be32dec(h + 24) + 1;
}

/*
 * The rest of a PDU that has begun.  It must arrive: a timeout here would
 * lose the bytes already read and desynchronise the stream.
 */
static enum rx
read_rest(struct conn *c, void *buf, size_t len)
{
	enum rx	rx = read_full(c->c_fd, buf, len, now_ms() + REPLY_MS);

	if (rx == RX_TIMEOUT)
		fail("target began a PDU but the rest (%zu bytes) did not "
		    "arrive within %d ms", len, REPLY_MS);
	return rx;
}

static enum rx
pdu_recv_digest(struct conn *c, struct pdu *p, uint32_t crc,
    const char *what)
{
	uint8_t	dig[4];
	enum rx	rx;

	if ((rx = read_rest(c, dig, 4)) == RX_OK)
		digest_check(c, p, dig, crc, what);
	return rx;
}

/* deadline is for the PDU to begin; once it has, all of it must follow. */
enum rx
pdu_recv(struct conn *c, struct pdu *p, int64_t deadline)
{
	size_t	pad;
	enum rx	rx;

	memset(p, 0, sizeof(*p));
	if ((rx = read_full(c->c_fd, p->p_bhs, 1, deadline)) != RX_OK ||
	    (rx = read_rest(c, p->p_bhs + 1, ISCSI_BHS_LEN - 1)) != RX_OK)
		return rx;
	p->p_ahslen = (size_t)p->p_bhs[4] * 4;
	if ((rx = read_rest(c, p->p_ahs, p->p_ahslen)) != RX_OK ||
	    (c->c_hd && (rx = pdu_recv_digest(c, p, crc32c(crc32c(0,
	    p->p_bhs, ISCSI_BHS_LEN), p->p_ahs, p->p_ahslen), "header")) !=
	    RX_OK))
		return rx;
	p->p_dlen = be24dec(p->p_bhs + 5);
	if (p->p_dlen > OUR_MRDSL)
		fail("%s with %zu bytes of data, above our "
		    "MaxRecvDataSegmentLength %d", pdu_describe(p), p->p_dlen,
		    OUR_MRDSL);
	pad = (4 - p->p_dlen % 4) % 4;
	p->p_data = xmalloc(p->p_dlen + pad + 1);
	p->p_data[p->p_dlen + pad] = '\0';
	if ((rx = read_rest(c, p->p_data, p->p_dlen + pad)) != RX_OK ||
	    (c->c_dd && p->p_dlen > 0 && (rx = pdu_recv_digest(c, p,
	    crc32c(0, p->p_data, p->p_dlen + pad), "data")) != RX_OK))
		return rx;
	pdu_trace('<', p->p_bhs, p->p_dlen);
	pdu_note(c, p);
	return RX_OK;
}

/* Answer a target's NOP-In ping: echo TTT, LUN and ping data. */
static void
nopin_answer(struct conn *c, const struct pdu *p)
{
	uint8_t	h[ISCSI_BHS_LEN];

	bhs_init(h, ISCSI_OP_IMMEDIATE | OP_NOP_OUT, ISCSI_FLAG_FINAL);
	memcpy(h + 8, p->p_bhs + 8, 8);
	be32enc(h + 16, ISCSI_TTT_NONE);
	memcpy(h + 20, p->p_bhs + 20, 4);
	be32enc(h + 24, c->c_cmdsn);
	be32enc(h + 28, c->c_expstatsn);
	if (pdu_send(c, h, NULL, 0, p->p_data, p->p_dlen, 0) == -1)
		fail("answering NOP-In: %s", strerror(errno));
}

/* Receive the next PDU that is not an unsolicited NOP-In or event. */
enum rx
pdu_wait(struct conn *c, struct pdu *p, int64_t deadline)
{
	enum rx	rx;

	for (;;) {
		if ((rx = pdu_recv(c, p, deadline)) != RX_OK)
			return rx;
		if (pdu_op(p) == OP_NOP_IN && be32dec(p->p_bhs + 16) ==
		    ISCSI_TTT_NONE) {
			c->c_nopins++;
			if (c->c_nopin_answer &&
			    be32dec(p->p_bhs + 20) != ISCSI_TTT_NONE)
				nopin_answer(c, p);
		} else if (pdu_op(p) == OP_ASYNC) {
			step("target sent Async Message, event %u",
			    p->p_bhs[36]);
		} else
			return RX_OK;
		pdu_free(p);
	}
}

void
reply_wait(struct conn *c, struct pdu *p, const char *what)
{
	switch (pdu_wait(c, p, now_ms() + REPLY_MS)) {
	case RX_OK:
		return;
	case RX_TIMEOUT:
		fail("no %s within %d ms", what, REPLY_MS);
	case RX_CLOSED:
		fail("target closed the connection (%s) instead of sending %s",
		    close_how, what);
	}
}

/*
 * The target must close the connection within ms; what it sends first
 * is shown, and a PDU with opcode forbidden fails the scenario.
 */
void
expect_close(struct conn *c, int ms, uint8_t forbidden)
{
	int64_t		start = now_ms();
	struct pdu	p;

	for (;;) {
		switch (pdu_recv(c, &p, start + ms)) {
		case RX_CLOSED:
			step("target closed the connection (%s) after %lld ms",
			    close_how, (long long)(now_ms() - start));
			pdu_free(&p);
			conn_close(c);
			return;
		case RX_TIMEOUT:
			fail("connection still open %d ms later", ms);
		case RX_OK:
			step("target sent %s", pdu_describe(&p));
			if (pdu_op(&p) == forbidden)
				fail("target should not have answered with %s",
				    pdu_describe(&p));
			pdu_free(&p);
			break;
		}
	}
}

void
nop_ping(struct conn *c)
{
	static const uint8_t	ping[] = "isctest ping";
	uint8_t			h[ISCSI_BHS_LEN];
	struct pdu		p;
	uint32_t		itt = c->c_itt++;

	bhs_init(h, ISCSI_OP_IMMEDIATE | OP_NOP_OUT, ISCSI_FLAG_FINAL);
	be32enc(h + 16, itt);
	be32enc(h + 20, ISCSI_TTT_NONE);
	be32enc(h + 24, c->c_cmdsn);
	be32enc(h + 28, c->c_expstatsn);
	if (pdu_send(c, h, NULL, 0, ping, sizeof(ping), 0) == -1)
		fail("sending NOP-Out: %s", strerror(errno));
	reply_wait(c, &p, "NOP-In");
	if (pdu_op(&p) != OP_NOP_IN || be32dec(p.p_bhs + 16) != itt ||
	    be32dec(p.p_bhs + 20) != ISCSI_TTT_NONE)
		fail("NOP-Out ping answered with %s", pdu_describe(&p));
	if (p.p_dlen != sizeof(ping) || memcmp(p.p_data, ping, p.p_dlen))
		fail("NOP-In did not echo the %zu bytes of ping data",
		    sizeof(ping));
	pdu_free(&p);
	step("NOP-Out ping answered");
}

/* Nothing may arrive for ms, and the connection stays up. */
void
quiet_for(struct conn *c, int ms, const char *what)
{
	struct pdu	p;

	switch (pdu_wait(c, &p, now_ms() + ms)) {
	case RX_OK:
		fail("%s: got %s", what, pdu_describe(&p));
	case RX_CLOSED:
		fail("%s: the target closed the connection (%s)", what,
		    close_how);
	case RX_TIMEOUT:
		break;
	}
	step("%s: nothing for %d ms, still connected", what, ms);
}
