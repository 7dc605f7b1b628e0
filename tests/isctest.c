/*
 * isctest: a small iSCSI initiator of our own, for what libiscsi cannot
 * do: data digests, malformed and hostile PDUs, CHAP edge cases, two
 * initiators fencing each other with persistent reservations.  Each
 * scenario asserts the target's exact answer (RFC 7143 layouts) and,
 * after anything hostile, proves that the daemon still serves a fresh
 * login.  Exit 0: the target behaved; 1: it did not (reason on stderr).
 */
#include <sys/types.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bytes.h"
#include "crc32c.h"

#define BHS_LEN		48
#define OUR_MRDSL	(256 * 1024)	/* MaxRecvDataSegmentLength we declare */
#define OUR_MAX_BURST	(256 * 1024)
#define OUR_FIRST_BURST	(64 * 1024)
#define RSVD_TAG	0xffffffffu
#define REPLY_MS	5000		/* how long any expected answer may take */
#define CLOSE_MS	2000		/* how long a hostile PDU may take to kill */
#define DEFAULT_INITIATOR "iqn.2025-01.pub.scsipub:isctest"

/* Opcodes (RFC 7143 11.2.1.2). */
#define OP_I		0x40		/* immediate delivery bit */
#define OP_NOP_OUT	0x00
#define OP_SCSI_CMD	0x01
#define OP_TMF_REQ	0x02
#define OP_LOGIN_REQ	0x03
#define OP_TEXT_REQ	0x04
#define OP_DATA_OUT	0x05
#define OP_LOGOUT_REQ	0x06
#define OP_VENDOR_1C	0x1c
#define OP_NOP_IN	0x20
#define OP_SCSI_RSP	0x21
#define OP_TMF_RSP	0x22
#define OP_LOGIN_RSP	0x23
#define OP_TEXT_RSP	0x24
#define OP_DATA_IN	0x25
#define OP_LOGOUT_RSP	0x26
#define OP_R2T		0x31
#define OP_ASYNC	0x32
#define OP_REJECT	0x3f
#define OP_NONE		0xff		/* "no opcode is forbidden" */

/* Login Request/Response byte 1 (RFC 7143 11.12.2). */
#define LF_T		0x80
#define LF_C		0x40
#define LF_CSG(s)	((s) << 2)
#define LF_NSG(s)	(s)

/* SCSI Response byte 1 (RFC 7143 11.4.5). */
#define RSP_O		0x04
#define RSP_U		0x02

/* Reject reasons (RFC 7143 11.17.1). */
#define REJ_DIGEST	0x02
#define REJ_PROTOCOL	0x04
#define REJ_NOT_SUPP	0x05

#define LOGIN_AUTH_FAILED	0x0201
#define LOGIN_NO_SESSION	0x020a

/* SCSI. */
#define SCSI_TUR	0x00
#define SCSI_READCAP10	0x25
#define SCSI_READ10	0x28
#define SCSI_WRITE10	0x2a
#define SCSI_PRIN	0x5e
#define SCSI_PROUT	0x5f
#define SENSE_UA	0x06
#define ST_GOOD		0x00
#define ST_CHECK	0x02
#define ST_CONFLICT	0x18
#define ST_BUSY		0x08

/* Persistent reservations: the two initiators of pr-fence and pr-check. */
#define PR_KEY_A	0xa1a1a1a1a1a1a1a1ULL
#define PR_KEY_B	0xb2b2b2b2b2b2b2b2ULL
#define PR_RESERVE	0x01
#define PR_CLEAR	0x03
#define PR_PREEMPT	0x04
#define PR_REG_IGNORE	0x06
#define PR_WE		0x1		/* Write Exclusive */
#define DEFAULT_INITIATOR_B DEFAULT_INITIATOR "-b"

/* pdu_send flags. */
#define TX_BAD_HD	0x01
#define TX_BAD_DD	0x02

static struct {
	const char	*o_host;
	const char	*o_port;
	const char	*o_target;
	const char	*o_initiator;
	const char	*o_initiator_b;	/* -I: the second initiator (pr-*) */
	const char	*o_user;	/* -u/-s: we authenticate to the target */
	const char	*o_secret;
	const char	*o_tuser;	/* -U/-S: the target to us (mutual) */
	const char	*o_tsecret;
	int		 o_digests;
	int		 o_verbose;	/* -v: trace every PDU */
	int		 o_lun;
	int		 o_wait;
	int		 o_count;
	int		 o_timeout;
	const char	*o_bind;	/* -b: the stranger's source address */
	const char	*o_bind_all;	/* -B: every connection's */
} opt = {
	.o_initiator = DEFAULT_INITIATOR,
	.o_initiator_b = DEFAULT_INITIATOR_B,
	.o_wait = 5,
	.o_count = 1,
	.o_timeout = 10,
};

static const char *scenario = "isctest";
static const char *conn_bind;		/* source address of the next connect */
static const char *close_how = "EOF";	/* how the last close was seen */

struct pdu {
	uint8_t		 p_bhs[BHS_LEN];
	uint8_t		 p_ahs[255 * 4];
	size_t		 p_ahslen;
	uint8_t		*p_data;	/* NUL-terminated past the padding */
	size_t		 p_dlen;
};

struct conn {
	int		 c_fd;
	uint8_t		 c_isid[6];
	uint16_t	 c_tsih;
	uint32_t	 c_itt;		/* next Initiator Task Tag */
	uint32_t	 c_login_itt;
	uint32_t	 c_cmdsn;	/* next CmdSN to send */
	uint32_t	 c_expstatsn;
	uint32_t	 c_expcmdsn;	/* target's window, from its PDUs */
	uint32_t	 c_maxcmdsn;
	int		 c_hd;		/* digests in force */
	int		 c_dd;
	int		 c_neg_hd;	/* digests negotiated, in force after login */
	int		 c_neg_dd;
	uint32_t	 c_mrdsl;	/* target's MaxRecvDataSegmentLength */
	uint32_t	 c_first_burst;
	uint32_t	 c_max_burst;
	int		 c_immediate;
	int		 c_initial_r2t;
	int		 c_nopin_answer;	/* answer target NOP-Ins */
	unsigned	 c_nopins;	/* target NOP-Ins seen */
	unsigned	 c_hd_ok;	/* digests verified */
	unsigned	 c_dd_ok;
	uint64_t	 c_blocks;	/* from READ CAPACITY(10) */
	uint32_t	 c_blksz;
};

enum rx {
	RX_OK = 0,
	RX_TIMEOUT,
	RX_CLOSED,	/* EOF or ECONNRESET */
};

enum chap_mode {
	CHAP_OFF = 0,
	CHAP_GOOD,
	CHAP_BAD_SECRET,
	CHAP_REFLECT,	/* mutual, with the target's own challenge */
	CHAP_SHORT_R,	/* CHAP_R of 15 bytes */
	CHAP_BAD_HEX,	/* CHAP_R=0xZZ... */
	CHAP_MUTUAL,
};

struct login_opts {
	const char	*lo_target;	/* NULL: discovery session */
	int		 lo_digests;
	enum chap_mode	 lo_chap;
	uint16_t	 lo_tsih;
	const uint8_t	*lo_isid;	/* NULL: a random one */
	const char	*lo_initiator;	/* NULL: -i */
};

/* Login text, "key=value\0" pairs. */
struct kv {
	char		 k_buf[8192];
	size_t		 k_len;
};

struct scsi_io {
	uint8_t		 io_cdb[16];
	const uint8_t	*io_out;
	size_t		 io_outlen;
	uint8_t		*io_in;
	size_t		 io_inlen;
	uint32_t	 io_edtl;
	int		 io_immed;	/* immediate delivery (I bit) */
	int		 io_txflags;	/* TX_BAD_* for the command PDU */
	const uint8_t	*io_ahs;
	size_t		 io_ahslen;
	int		 io_attr;	/* task attribute; 0: SIMPLE */
};

struct scsi_res {
	uint8_t		 sr_response;
	uint8_t		 sr_status;
	uint8_t		 sr_flags;	/* o u O U of the SCSI Response */
	uint32_t	 sr_residual;
	size_t		 sr_inlen;	/* Data-In bytes received */
	uint8_t		 sr_sense[64];
	size_t		 sr_senselen;
	int		 sr_reject;	/* Reject reason, or -1 */
};

/* ---- output and small helpers ---- */

static void __attribute__((format(printf, 1, 2)))
step(const char *fmt, ...)
{
	va_list	ap;

	printf("%s: ", scenario);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fprintf(stderr, "isctest: %s: FAIL: ", scenario);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		fail("out of memory");
	return p;
}

static void
random_bytes(void *buf, size_t len)
{
	uint8_t	*p = buf;
	ssize_t	 n;

	while (len > 0) {
		if ((n = getrandom(p, len, 0)) == -1) {
			if (errno == EINTR)
				continue;
			fail("getrandom: %s", strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
hex_enc(const uint8_t *b, size_t n, char *out)
{
	static const char	digits[] = "0123456789abcdef";
	size_t			i;

	*out++ = '0';
	*out++ = 'x';
	for (i = 0; i < n; i++) {
		*out++ = digits[b[i] >> 4];
		*out++ = digits[b[i] & 0xf];
	}
	*out = '\0';
}

static int
hex_nibble(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "0x..." to bytes; -1 if malformed or longer than max. */
static int
hex_dec(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t	n, i;
	int	hi, lo;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -1;
	s += 2;
	n = strlen(s);
	if (n == 0 || n % 2 != 0 || n / 2 > max)
		return -1;
	for (i = 0; i < n / 2; i++) {
		if ((hi = hex_nibble(s[2 * i])) < 0 ||
		    (lo = hex_nibble(s[2 * i + 1])) < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return 0;
}

static void
chap_md5(uint8_t id, const char *secret, const uint8_t *chal, size_t clen,
    uint8_t out[16])
{
	EVP_MD_CTX	*ctx;
	unsigned int	 len = 0;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		fail("EVP_MD_CTX_new failed");
	ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, &id, 1) == 1 &&
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
	    EVP_DigestUpdate(ctx, chal, clen) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == 16;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		fail("MD5 failed");
}

/* ---- PDU names ---- */

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

static uint8_t
pdu_op(const struct pdu *p)
{
	return p->p_bhs[0] & 0x3f;
}

static const char *
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
	memcpy(p.p_bhs, bhs, BHS_LEN);
	printf("%s: %6lld ms %c %s ITT 0x%08x SN %u/%u dlen %zu\n", scenario,
	    (long long)(now_ms() - start), dir, pdu_describe(&p),
	    be32dec(bhs + 16), be32dec(bhs + 24), be32dec(bhs + 28), dlen);
	fflush(stdout);
}

static void
pdu_free(struct pdu *p)
{
	free(p->p_data);
	p->p_data = NULL;
	p->p_dlen = 0;
}

/* ---- transport ---- */

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

static int
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

static void
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

static void
conn_close(struct conn *c)
{
	if (c->c_fd != -1)
		close(c->c_fd);
	c->c_fd = -1;
}

static void
bhs_init(uint8_t *h, uint8_t op, uint8_t flags)
{
	memset(h, 0, BHS_LEN);
	h[0] = op;
	h[1] = flags;
}

/*
 * Send one PDU: BHS, AHS, header digest, data, padding, data digest.
 * flags makes a digest deliberately wrong.  -1 with errno on failure.
 */
static int
pdu_send(struct conn *c, uint8_t *bhs, const uint8_t *ahs, size_t ahslen,
    const void *data, size_t dlen, int flags)
{
	size_t		 pad = (4 - dlen % 4) % 4, len = BHS_LEN;
	uint8_t		*buf;
	uint32_t	 crc;
	int		 rv;

	bhs[4] = (uint8_t)(ahslen / 4);
	be24enc(bhs + 5, (uint32_t)dlen);
	buf = xmalloc(BHS_LEN + ahslen + 4 + dlen + pad + 4);
	memcpy(buf, bhs, BHS_LEN);
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
static void
pdu_send_lying(struct conn *c, uint8_t *bhs, uint32_t claim,
    const uint8_t *data, size_t n)
{
	uint8_t	dig[4];

	bhs[4] = 0;
	be24enc(bhs + 5, claim);
	if (write_all(c->c_fd, bhs, BHS_LEN) == -1)
		return;
	if (c->c_hd) {
		crc32c_le_enc(dig, crc32c(0, bhs, BHS_LEN));
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
		status = be32dec(h + 16) != RSVD_TAG;
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
static enum rx
pdu_recv(struct conn *c, struct pdu *p, int64_t deadline)
{
	size_t	pad;
	enum rx	rx;

	memset(p, 0, sizeof(*p));
	if ((rx = read_full(c->c_fd, p->p_bhs, 1, deadline)) != RX_OK ||
	    (rx = read_rest(c, p->p_bhs + 1, BHS_LEN - 1)) != RX_OK)
		return rx;
	p->p_ahslen = (size_t)p->p_bhs[4] * 4;
	if ((rx = read_rest(c, p->p_ahs, p->p_ahslen)) != RX_OK ||
	    (c->c_hd && (rx = pdu_recv_digest(c, p, crc32c(crc32c(0,
	    p->p_bhs, BHS_LEN), p->p_ahs, p->p_ahslen), "header")) != RX_OK))
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
	uint8_t	h[BHS_LEN];

	bhs_init(h, OP_I | OP_NOP_OUT, 0x80);
	memcpy(h + 8, p->p_bhs + 8, 8);
	be32enc(h + 16, RSVD_TAG);
	memcpy(h + 20, p->p_bhs + 20, 4);
	be32enc(h + 24, c->c_cmdsn);
	be32enc(h + 28, c->c_expstatsn);
	if (pdu_send(c, h, NULL, 0, p->p_data, p->p_dlen, 0) == -1)
		fail("answering NOP-In: %s", strerror(errno));
}

/* Receive the next PDU that is not an unsolicited NOP-In or event. */
static enum rx
pdu_wait(struct conn *c, struct pdu *p, int64_t deadline)
{
	enum rx	rx;

	for (;;) {
		if ((rx = pdu_recv(c, p, deadline)) != RX_OK)
			return rx;
		if (pdu_op(p) == OP_NOP_IN && be32dec(p->p_bhs + 16) ==
		    RSVD_TAG) {
			c->c_nopins++;
			if (c->c_nopin_answer &&
			    be32dec(p->p_bhs + 20) != RSVD_TAG)
				nopin_answer(c, p);
		} else if (pdu_op(p) == OP_ASYNC) {
			step("target sent Async Message, event %u",
			    p->p_bhs[36]);
		} else
			return RX_OK;
		pdu_free(p);
	}
}

static void
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
static void
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

/* ---- login ---- */

static void __attribute__((format(printf, 3, 4)))
kv_add(struct kv *kv, const char *key, const char *fmt, ...)
{
	size_t	room = sizeof(kv->k_buf) - kv->k_len;
	va_list	ap;
	int	n, m;

	n = snprintf(kv->k_buf + kv->k_len, room, "%s=", key);
	va_start(ap, fmt);
	m = vsnprintf(kv->k_buf + kv->k_len + n, room - n, fmt, ap);
	va_end(ap);
	if (n < 0 || m < 0 || (size_t)(n + m) + 1 > room)
		fail("login text too long");
	kv->k_len += (size_t)(n + m) + 1;
}

static const char *
kv_get(const struct pdu *p, const char *key)
{
	size_t		 klen = strlen(key), off = 0, len;
	const char	*s;

	while (off < p->p_dlen) {
		s = (const char *)p->p_data + off;
		len = strnlen(s, p->p_dlen - off);
		if (len > klen && strncmp(s, key, klen) == 0 && s[klen] == '=')
			return s + klen + 1;
		off += len + 1;
	}
	return NULL;
}

static void
login_bhs(struct conn *c, uint8_t *h, uint8_t flags)
{
	bhs_init(h, OP_I | OP_LOGIN_REQ, flags);
	memcpy(h + 8, c->c_isid, 6);
	be16enc(h + 14, c->c_tsih);
	be32enc(h + 16, c->c_login_itt);
	be32enc(h + 24, c->c_cmdsn);
	be32enc(h + 28, c->c_expstatsn);
}

static void
login_recv(struct conn *c, struct pdu *rsp)
{
	reply_wait(c, rsp, "Login Response");
	if (pdu_op(rsp) != OP_LOGIN_RSP)
		fail("during login the target sent %s", pdu_describe(rsp));
}

/* One login request and its response; continuations (C bit) followed. */
static uint16_t
login_rt(struct conn *c, uint8_t flags, const struct kv *kv, struct pdu *rsp)
{
	uint8_t		h[BHS_LEN];
	struct pdu	more;

	login_bhs(c, h, flags);
	if (pdu_send(c, h, NULL, 0, kv->k_buf, kv->k_len, 0) == -1)
		fail("sending Login Request: %s", strerror(errno));
	login_recv(c, rsp);
	while ((rsp->p_bhs[1] & LF_C) && be16dec(rsp->p_bhs + 36) == 0) {
		login_bhs(c, h, flags & (LF_CSG(3)));
		if (pdu_send(c, h, NULL, 0, NULL, 0, 0) == -1)
			fail("sending Login Request: %s", strerror(errno));
		login_recv(c, &more);
		rsp->p_data = realloc(rsp->p_data, rsp->p_dlen + more.p_dlen +
		    1);
		if (rsp->p_data == NULL)
			fail("out of memory");
		memcpy(rsp->p_data + rsp->p_dlen, more.p_data, more.p_dlen);
		rsp->p_dlen += more.p_dlen;
		rsp->p_data[rsp->p_dlen] = '\0';
		memcpy(rsp->p_bhs, more.p_bhs, BHS_LEN);
		pdu_free(&more);
	}
	return be16dec(rsp->p_bhs + 36);
}

static int
login_transit(const struct pdu *rsp, int nsg)
{
	return (rsp->p_bhs[1] & LF_T) && (rsp->p_bhs[1] & 3) == nsg;
}

/* CHAP_R (and for mutual CHAP, CHAP_I/CHAP_C) as the mode asks. */
static void
chap_answer(struct kv *kv, enum chap_mode mode, uint8_t id,
    const uint8_t *chal, size_t clen, const char *chal_text,
    uint8_t mine[17])
{
	char	hex[2 + 2 * 16 + 1];
	uint8_t	md[16];

	chap_md5(id, mode == CHAP_BAD_SECRET ? "not-the-secret" : opt.o_secret,
	    chal, clen, md);
	hex_enc(md, mode == CHAP_SHORT_R ? 15 : 16, hex);
	if (mode == CHAP_BAD_HEX) {
		memset(hex + 2, 'Z', 32);
		hex[34] = '\0';
	}
	kv_add(kv, "CHAP_N", "%s", opt.o_user);
	kv_add(kv, "CHAP_R", "%s", hex);
	if (mode == CHAP_REFLECT) {
		kv_add(kv, "CHAP_I", "%u", id);
		kv_add(kv, "CHAP_C", "%s", chal_text);
	} else if (mode == CHAP_MUTUAL) {
		random_bytes(mine, 17);
		hex_enc(mine + 1, 16, hex);
		kv_add(kv, "CHAP_I", "%u", mine[0]);
		kv_add(kv, "CHAP_C", "%s", hex);
	}
}

/* Mutual CHAP: the target must prove it knows -S. */
static void
chap_check_target(const struct pdu *rsp, const uint8_t mine[17])
{
	const char	*n = kv_get(rsp, "CHAP_N"), *r = kv_get(rsp, "CHAP_R");
	uint8_t		 want[16], got[16];
	size_t		 len;

	if (n == NULL || r == NULL)
		fail("mutual CHAP: target sent no CHAP_N/CHAP_R");
	if (strcmp(n, opt.o_tuser) != 0)
		fail("mutual CHAP: target says CHAP_N=%s, expected %s", n,
		    opt.o_tuser);
	chap_md5(mine[0], opt.o_tsecret, mine + 1, 16, want);
	if (hex_dec(r, got, sizeof(got), &len) == -1 || len != 16 ||
	    memcmp(got, want, 16) != 0)
		fail("mutual CHAP: target's CHAP_R=%s is wrong", r);
	step("mutual CHAP: target proved its secret (CHAP_N=%s)", n);
}

static uint16_t
login_chap(struct conn *c, enum chap_mode mode, struct pdu *rsp)
{
	struct kv	 kv = { .k_len = 0 };
	const char	*a, *i, *ch;
	uint8_t		 chal[1024], mine[17];
	size_t		 clen;
	uint16_t	 status;
	char		 chal_text[2100];

	kv_add(&kv, "CHAP_A", "5");
	pdu_free(rsp);
	if ((status = login_rt(c, LF_CSG(0), &kv, rsp)) != 0)
		return status;
	a = kv_get(rsp, "CHAP_A");
	i = kv_get(rsp, "CHAP_I");
	ch = kv_get(rsp, "CHAP_C");
	if (a == NULL || strcmp(a, "5") != 0 || i == NULL || ch == NULL)
		fail("CHAP: target answered CHAP_A=%s CHAP_I=%s CHAP_C=%s",
		    a ? a : "-", i ? i : "-", ch ? ch : "-");
	if (hex_dec(ch, chal, sizeof(chal), &clen) == -1 || atoi(i) < 0 ||
	    atoi(i) > 255)
		fail("CHAP: malformed CHAP_I=%s or CHAP_C=%s", i, ch);
	snprintf(chal_text, sizeof(chal_text), "%s", ch);
	step("CHAP: target challenge CHAP_I=%s, %zu bytes", i, clen);
	kv.k_len = 0;
	chap_answer(&kv, mode, (uint8_t)atoi(i), chal, clen, chal_text, mine);
	pdu_free(rsp);
	status = login_rt(c, LF_T | LF_CSG(0) | LF_NSG(1), &kv, rsp);
	if (status == 0 && mode == CHAP_MUTUAL)
		chap_check_target(rsp, mine);
	return status;
}

static uint16_t
login_security(struct conn *c, const struct login_opts *lo, struct pdu *rsp)
{
	struct kv	 kv = { .k_len = 0 };
	const char	*am;
	uint16_t	 status;

	kv_add(&kv, "InitiatorName", "%s", lo->lo_initiator != NULL ?
	    lo->lo_initiator : opt.o_initiator);
	if (lo->lo_target == NULL)
		kv_add(&kv, "SessionType", "Discovery");
	else {
		kv_add(&kv, "SessionType", "Normal");
		kv_add(&kv, "TargetName", "%s", lo->lo_target);
	}
	if (lo->lo_chap == CHAP_OFF) {
		kv_add(&kv, "AuthMethod", "None");
		return login_rt(c, LF_T | LF_CSG(0) | LF_NSG(1), &kv, rsp);
	}
	kv_add(&kv, "AuthMethod", "CHAP");
	if ((status = login_rt(c, LF_CSG(0), &kv, rsp)) != 0)
		return status;
	if ((am = kv_get(rsp, "AuthMethod")) == NULL || strcmp(am, "CHAP"))
		fail("CHAP: target answered AuthMethod=%s", am ? am : "-");
	return login_chap(c, lo->lo_chap, rsp);
}

static void
login_params(struct conn *c, const struct pdu *rsp)
{
	const char	*v;

	if ((v = kv_get(rsp, "HeaderDigest")) != NULL)
		c->c_neg_hd = strcmp(v, "CRC32C") == 0;
	if ((v = kv_get(rsp, "DataDigest")) != NULL)
		c->c_neg_dd = strcmp(v, "CRC32C") == 0;
	if ((v = kv_get(rsp, "MaxRecvDataSegmentLength")) != NULL)
		c->c_mrdsl = (uint32_t)strtoul(v, NULL, 10);
	if ((v = kv_get(rsp, "ImmediateData")) != NULL)
		c->c_immediate = strcmp(v, "Yes") == 0;
	if ((v = kv_get(rsp, "InitialR2T")) != NULL)
		c->c_initial_r2t = strcmp(v, "Yes") == 0;
	if ((v = kv_get(rsp, "FirstBurstLength")) != NULL)
		c->c_first_burst = (uint32_t)strtoul(v, NULL, 10);
	if ((v = kv_get(rsp, "MaxBurstLength")) != NULL)
		c->c_max_burst = (uint32_t)strtoul(v, NULL, 10);
	if (c->c_mrdsl < 512 || c->c_mrdsl > 0xffffff)
		fail("target declared MaxRecvDataSegmentLength=%u", c->c_mrdsl);
	if (c->c_first_burst < 512 || c->c_max_burst < 512)
		fail("target negotiated FirstBurstLength=%u MaxBurstLength=%u",
		    c->c_first_burst, c->c_max_burst);
}

static uint16_t
login_operational(struct conn *c, const struct login_opts *lo,
    struct pdu *rsp)
{
	struct kv	 kv = { .k_len = 0 };
	const char	*dig = lo->lo_digests ? "CRC32C,None" : "None";
	uint16_t	 status;
	int		 i;

	kv_add(&kv, "HeaderDigest", "%s", dig);
	kv_add(&kv, "DataDigest", "%s", dig);
	kv_add(&kv, "MaxRecvDataSegmentLength", "%d", OUR_MRDSL);
	if (lo->lo_target != NULL) {
		kv_add(&kv, "ImmediateData", "Yes");
		kv_add(&kv, "InitialR2T", "No");
		kv_add(&kv, "MaxBurstLength", "%d", OUR_MAX_BURST);
		kv_add(&kv, "FirstBurstLength", "%d", OUR_FIRST_BURST);
		kv_add(&kv, "MaxOutstandingR2T", "1");
		kv_add(&kv, "DataPDUInOrder", "Yes");
		kv_add(&kv, "DataSequenceInOrder", "Yes");
	}
	kv_add(&kv, "ErrorRecoveryLevel", "0");
	kv_add(&kv, "DefaultTime2Wait", "0");
	kv_add(&kv, "DefaultTime2Retain", "0");
	c->c_mrdsl = 8192;	/* RFC 7143 defaults until the target says */
	c->c_first_burst = 65536;
	c->c_max_burst = 262144;
	c->c_immediate = c->c_initial_r2t = 1;
	for (i = 0; i < 4; i++) {
		pdu_free(rsp);
		status = login_rt(c, LF_T | LF_CSG(1) | LF_NSG(3), &kv, rsp);
		if (status != 0)
			return status;
		login_params(c, rsp);
		if (login_transit(rsp, 3))
			return 0;
		kv.k_len = 0;
	}
	fail("target never completed the operational stage");
}

/* Connect and log in; returns the final Login Response status. */
static uint16_t
login(struct conn *c, const struct login_opts *lo)
{
	struct pdu	rsp = { .p_data = NULL };
	uint16_t	status;

	conn_open(c);
	if (lo->lo_isid != NULL)
		memcpy(c->c_isid, lo->lo_isid, 6);
	c->c_tsih = lo->lo_tsih;
	c->c_login_itt = c->c_itt++;
	status = login_security(c, lo, &rsp);
	if (status == 0 && !login_transit(&rsp, 1))
		fail("security stage: target did not transit to stage 1 "
		    "(flags 0x%02x)", rsp.p_bhs[1]);
	if (status == 0)
		status = login_operational(c, lo, &rsp);
	if (status == 0) {
		c->c_tsih = be16dec(rsp.p_bhs + 14);
		c->c_hd = c->c_neg_hd;
		c->c_dd = c->c_neg_dd;
	}
	pdu_free(&rsp);
	return status;
}

static struct login_opts
login_defaults(void)
{
	struct login_opts	lo = {
		.lo_target = opt.o_target,
		.lo_digests = opt.o_digests,
		.lo_chap = opt.o_user != NULL ? CHAP_GOOD : CHAP_OFF,
	};

	return lo;
}

static void
login_ok(struct conn *c, const struct login_opts *lo)
{
	uint16_t	status;

	if ((status = login(c, lo)) != 0)
		fail("login to %s failed: status 0x%04x", lo->lo_target,
		    status);
	step("logged in to %s: TSIH 0x%04x, HeaderDigest=%s DataDigest=%s, "
	    "MaxRecvDataSegmentLength=%u", lo->lo_target ? lo->lo_target :
	    "discovery", c->c_tsih, c->c_hd ? "CRC32C" : "None",
	    c->c_dd ? "CRC32C" : "None", c->c_mrdsl);
}

/* A login that must fail with status want (0 in detail: any of class). */
static void
login_fails(const struct login_opts *lo, uint16_t want, uint16_t also)
{
	struct conn	c;
	uint16_t	status;

	if ((status = login(&c, lo)) != want && status != also)
		fail("login answered status 0x%04x, expected 0x%04x",
		    status, want);
	step("login refused with status 0x%04x, as required", status);
	expect_close(&c, CLOSE_MS, OP_NONE);
}

/* ---- full feature phase ---- */

static void
logout(struct conn *c)
{
	uint8_t		h[BHS_LEN];
	struct pdu	p;
	uint32_t	itt = c->c_itt++;

	bhs_init(h, OP_I | OP_LOGOUT_REQ, 0x80);	/* close the session */
	be32enc(h + 16, itt);
	be32enc(h + 24, c->c_cmdsn);
	be32enc(h + 28, c->c_expstatsn);
	if (pdu_send(c, h, NULL, 0, NULL, 0, 0) == -1)
		fail("sending Logout Request: %s", strerror(errno));
	reply_wait(c, &p, "Logout Response");
	if (pdu_op(&p) != OP_LOGOUT_RSP || be32dec(p.p_bhs + 16) != itt ||
	    p.p_bhs[2] != 0)
		fail("logout answered with %s, response %u", pdu_describe(&p),
		    p.p_bhs[2]);
	pdu_free(&p);
	step("logout -> response 0 (closed successfully)");
	conn_close(c);
}

static void
nop_ping(struct conn *c)
{
	static const uint8_t	ping[] = "isctest ping";
	uint8_t			h[BHS_LEN];
	struct pdu		p;
	uint32_t		itt = c->c_itt++;

	bhs_init(h, OP_I | OP_NOP_OUT, 0x80);
	be32enc(h + 16, itt);
	be32enc(h + 20, RSVD_TAG);
	be32enc(h + 24, c->c_cmdsn);
	be32enc(h + 28, c->c_expstatsn);
	if (pdu_send(c, h, NULL, 0, ping, sizeof(ping), 0) == -1)
		fail("sending NOP-Out: %s", strerror(errno));
	reply_wait(c, &p, "NOP-In");
	if (pdu_op(&p) != OP_NOP_IN || be32dec(p.p_bhs + 16) != itt ||
	    be32dec(p.p_bhs + 20) != RSVD_TAG)
		fail("NOP-Out ping answered with %s", pdu_describe(&p));
	if (p.p_dlen != sizeof(ping) || memcmp(p.p_data, ping, p.p_dlen))
		fail("NOP-In did not echo the %zu bytes of ping data",
		    sizeof(ping));
	pdu_free(&p);
	step("NOP-Out ping answered");
}

/* SAM-5 single-level LUN: peripheral below 256, flat space above. */
static void
lun_enc(uint8_t *p)
{
	if (opt.o_lun < 256)
		p[1] = (uint8_t)opt.o_lun;
	else {
		p[0] = (uint8_t)(0x40 | opt.o_lun >> 8);
		p[1] = (uint8_t)(opt.o_lun & 0xff);
	}
}

static size_t
cmd_immediate_len(const struct conn *c, const struct scsi_io *io)
{
	size_t	n = io->io_outlen;

	if (io->io_out == NULL || !c->c_immediate)
		return 0;
	if (n > c->c_first_burst)
		n = c->c_first_burst;
	if (n > c->c_mrdsl)
		n = c->c_mrdsl;
	return n;
}

/*
 * Send a SCSI Command.  F is always set: no unsolicited Data-Out follows
 * (allowed even with InitialR2T=No); the rest of a write goes by R2T.
 */
static uint32_t
cmd_send(struct conn *c, const struct scsi_io *io)
{
	uint8_t		h[BHS_LEN];
	uint32_t	itt = c->c_itt++;
	uint8_t		flags = 0x80 | (io->io_attr ? io->io_attr : 0x01);

	if (io->io_in != NULL)
		flags |= 0x40;
	if (io->io_out != NULL)
		flags |= 0x20;
	bhs_init(h, OP_SCSI_CMD | (io->io_immed ? OP_I : 0), flags);
	lun_enc(h + 8);
	be32enc(h + 16, itt);
	be32enc(h + 20, io->io_edtl);
	be32enc(h + 24, c->c_cmdsn);
	be32enc(h + 28, c->c_expstatsn);
	memcpy(h + 32, io->io_cdb, 16);
	if (pdu_send(c, h, io->io_ahs, io->io_ahslen, io->io_out,
	    cmd_immediate_len(c, io), io->io_txflags) == -1)
		fail("sending SCSI command 0x%02x: %s", io->io_cdb[0],
		    strerror(errno));
	if (!io->io_immed)
		c->c_cmdsn++;
	return itt;
}

static void
cmd_r2t(struct conn *c, const struct pdu *r2t, const struct scsi_io *io)
{
	uint8_t		h[BHS_LEN];
	uint32_t	off = be32dec(r2t->p_bhs + 40);
	uint32_t	len = be32dec(r2t->p_bhs + 44), sn = 0, n;

	if (io->io_out == NULL || (uint64_t)off + len > io->io_outlen ||
	    len == 0)
		fail("R2T for %u bytes at offset %u of a %zu-byte write", len,
		    off, io->io_outlen);
	while (len > 0) {
		n = len < c->c_mrdsl ? len : c->c_mrdsl;
		bhs_init(h, OP_DATA_OUT, n == len ? 0x80 : 0);
		memcpy(h + 8, r2t->p_bhs + 8, 8);
		memcpy(h + 16, r2t->p_bhs + 16, 8);	/* ITT, TTT */
		be32enc(h + 28, c->c_expstatsn);
		be32enc(h + 36, sn++);
		be32enc(h + 40, off);
		if (pdu_send(c, h, NULL, 0, io->io_out + off, n, 0) == -1)
			fail("sending Data-Out: %s", strerror(errno));
		off += n;
		len -= n;
	}
}

/* Returns 1 when the Data-In carried the status (S bit). */
static int
cmd_data_in(const struct pdu *p, const struct scsi_io *io,
    struct scsi_res *res)
{
	uint32_t	off = be32dec(p->p_bhs + 40);

	if (io->io_in == NULL || (uint64_t)off + p->p_dlen > io->io_inlen)
		fail("Data-In of %zu bytes at offset %u for a %zu-byte read",
		    p->p_dlen, off, io->io_inlen);
	memcpy(io->io_in + off, p->p_data, p->p_dlen);
	res->sr_inlen += p->p_dlen;
	if (!(p->p_bhs[1] & 0x01))
		return 0;
	res->sr_status = p->p_bhs[3];
	res->sr_flags = p->p_bhs[1] & (RSP_O | RSP_U);
	res->sr_residual = be32dec(p->p_bhs + 44);
	return 1;
}

static void
cmd_response(const struct pdu *p, struct scsi_res *res)
{
	size_t	len;

	res->sr_response = p->p_bhs[2];
	res->sr_status = p->p_bhs[3];
	res->sr_flags = p->p_bhs[1] & 0x1e;
	res->sr_residual = be32dec(p->p_bhs + 44);
	if (p->p_dlen < 2)
		return;
	len = be16dec(p->p_data);
	if (len > p->p_dlen - 2)
		fail("SCSI Response: SenseLength %zu in %zu bytes of data",
		    len, p->p_dlen);
	if (len > sizeof(res->sr_sense))
		len = sizeof(res->sr_sense);
	memcpy(res->sr_sense, p->p_data + 2, len);
	res->sr_senselen = len;
}

/* Collect a command's Data-In, answer its R2Ts, and take its status. */
static void
cmd_finish(struct conn *c, uint32_t itt, const struct scsi_io *io,
    struct scsi_res *res)
{
	struct pdu	p;
	int		done = 0;

	memset(res, 0, sizeof(*res));
	res->sr_reject = -1;
	while (!done) {
		reply_wait(c, &p, "answer to the SCSI command");
		if (pdu_op(&p) != OP_REJECT && be32dec(p.p_bhs + 16) != itt)
			fail("unexpected %s (ITT 0x%08x) waiting for ITT "
			    "0x%08x", pdu_describe(&p), be32dec(p.p_bhs + 16),
			    itt);
		if (pdu_op(&p) == OP_DATA_IN)
			done = cmd_data_in(&p, io, res);
		else if (pdu_op(&p) == OP_R2T)
			cmd_r2t(c, &p, io);
		else if (pdu_op(&p) == OP_SCSI_RSP) {
			cmd_response(&p, res);
			done = 1;
		} else if (pdu_op(&p) == OP_REJECT) {
			res->sr_reject = p.p_bhs[2];
			done = 1;
		} else
			fail("unexpected %s", pdu_describe(&p));
		pdu_free(&p);
	}
}

static int
sense_key(const struct scsi_res *r)
{
	if (r->sr_senselen < 3)
		return -1;
	if ((r->sr_sense[0] & 0x7f) >= 0x72)
		return r->sr_sense[1] & 0x0f;
	return r->sr_sense[2] & 0x0f;
}

static const char *
res_str(const struct scsi_res *r)
{
	static char	buf[96];

	if (r->sr_reject >= 0)
		snprintf(buf, sizeof(buf), "Reject reason 0x%02x",
		    r->sr_reject);
	else
		snprintf(buf, sizeof(buf), "response 0x%02x status 0x%02x "
		    "sense key %d", r->sr_response, r->sr_status,
		    sense_key(r));
	return buf;
}

/* Run a command that must end GOOD; one UNIT ATTENTION is retried. */
static void
scsi_good(struct conn *c, const struct scsi_io *io, struct scsi_res *res,
    const char *what)
{
	int	i;

	for (i = 0; i < 2; i++) {
		cmd_finish(c, cmd_send(c, io), io, res);
		if (res->sr_reject < 0 && res->sr_response == 0 &&
		    res->sr_status == 0)
			return;
		if (i > 0 || res->sr_status != 0x02 ||
		    sense_key(res) != SENSE_UA)
			break;
		step("%s -> UNIT ATTENTION, retrying", what);
	}
	fail("%s -> %s", what, res_str(res));
}

static void
do_tur(struct conn *c)
{
	struct scsi_io	io = { .io_cdb = { SCSI_TUR } };
	struct scsi_res	res;

	scsi_good(c, &io, &res, "TEST UNIT READY");
	step("TEST UNIT READY -> GOOD");
}

static void
do_readcap(struct conn *c)
{
	uint8_t		buf[8];
	struct scsi_io	io = { .io_cdb = { SCSI_READCAP10 }, .io_in = buf,
			    .io_inlen = 8, .io_edtl = 8 };
	struct scsi_res	res;

	scsi_good(c, &io, &res, "READ CAPACITY(10)");
	if (res.sr_inlen != 8)
		fail("READ CAPACITY(10) returned %zu bytes", res.sr_inlen);
	c->c_blocks = (uint64_t)be32dec(buf) + 1;
	c->c_blksz = be32dec(buf + 4);
	if (c->c_blksz < 512 || c->c_blksz > 65536)
		fail("READ CAPACITY(10): block length %u", c->c_blksz);
	step("READ CAPACITY(10) -> %llu blocks of %u bytes (%llu bytes)",
	    (unsigned long long)c->c_blocks, c->c_blksz,
	    (unsigned long long)c->c_blocks * c->c_blksz);
}

static void
io_rw10(struct scsi_io *io, uint8_t op, uint32_t lba, uint16_t blocks,
    uint32_t blksz)
{
	memset(io, 0, sizeof(*io));
	io->io_cdb[0] = op;
	be32enc(io->io_cdb + 2, lba);
	be16enc(io->io_cdb + 7, blocks);
	io->io_edtl = blocks * blksz;
}

static void
do_read(struct conn *c, uint32_t lba, uint16_t n, uint8_t *buf)
{
	struct scsi_io	io;
	struct scsi_res	res;

	io_rw10(&io, SCSI_READ10, lba, n, c->c_blksz);
	io.io_in = buf;
	io.io_inlen = io.io_edtl;
	scsi_good(c, &io, &res, "READ(10)");
	if (res.sr_inlen != io.io_edtl || res.sr_flags != 0)
		fail("READ(10) of %u bytes returned %zu, flags 0x%02x",
		    io.io_edtl, res.sr_inlen, res.sr_flags);
	step("READ(10) LBA %u, %u blocks -> GOOD", lba, n);
}

static void
do_write(struct conn *c, uint32_t lba, uint16_t n, const uint8_t *buf)
{
	struct scsi_io	io;
	struct scsi_res	res;

	io_rw10(&io, SCSI_WRITE10, lba, n, c->c_blksz);
	io.io_out = buf;
	io.io_outlen = io.io_edtl;
	scsi_good(c, &io, &res, "WRITE(10)");
	step("WRITE(10) LBA %u, %u blocks (%zu bytes immediate) -> GOOD",
	    lba, n, cmd_immediate_len(c, &io));
}

/* Open a fresh connection, log in, TEST UNIT READY must be GOOD. */
static void
check_serves(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;

	login_ok(&c, &lo);
	do_tur(&c);
	logout(&c);
	step("daemon still serves");
}

static void
need_chap(void)
{
	if (opt.o_user == NULL || opt.o_secret == NULL)
		fail("this scenario needs -u CHAPUSER -s CHAPSECRET");
}

static void
need_digests(const struct conn *c, int hd, int dd)
{
	if ((hd && !c->c_hd) || (dd && !c->c_dd))
		fail("target did not accept CRC32C (HeaderDigest=%s "
		    "DataDigest=%s)", c->c_hd ? "CRC32C" : "None",
		    c->c_dd ? "CRC32C" : "None");
}

/* ---- scenarios ---- */

static void
sc_login(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;

	login_ok(&c, &lo);
	if (c.c_expcmdsn != c.c_cmdsn)
		fail("final Login Response ExpCmdSN %u, our CmdSN is %u",
		    c.c_expcmdsn, c.c_cmdsn);
	do_tur(&c);
	do_readcap(&c);
	logout(&c);
}

static void
write_read_check(struct conn *c, uint32_t lba, uint16_t n)
{
	size_t	len = (size_t)n * c->c_blksz;
	uint8_t	*out = xmalloc(len), *in = xmalloc(len);

	if (lba + n > c->c_blocks)
		fail("LU too small for LBA %u + %u", lba, n);
	random_bytes(out, len);
	do_write(c, lba, n, out);
	memset(in, 0, len);
	do_read(c, lba, n, in);
	if (memcmp(in, out, len) != 0)
		fail("data read back from LBA %u differs from what was written",
		    lba);
	step("%zu bytes read back intact", len);
	free(out);
	free(in);
}

static void
sc_digests(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;

	lo.lo_digests = 1;
	login_ok(&c, &lo);
	need_digests(&c, 1, 1);
	step("ImmediateData=%s InitialR2T=%s FirstBurstLength=%u "
	    "MaxBurstLength=%u", c.c_immediate ? "Yes" : "No",
	    c.c_initial_r2t ? "Yes" : "No", c.c_first_burst, c.c_max_burst);
	if (!c.c_immediate)
		fail("target refused ImmediateData=Yes");
	do_readcap(&c);
	write_read_check(&c, 100, 8);
	write_read_check(&c, 128, (uint16_t)(256 * 1024 / c.c_blksz));
	nop_ping(&c);
	step("%u header digests and %u data digests verified", c.c_hd_ok,
	    c.c_dd_ok);
	if (c.c_hd_ok == 0 || c.c_dd_ok == 0)
		fail("no digest was received");
	logout(&c);
}

/* What may follow the bad WRITE: a Reject 0x02, never a GOOD status. */
static void
bad_dd_check(const struct pdu *p, uint32_t itt)
{
	if (pdu_op(p) == OP_REJECT && p->p_bhs[2] != REJ_DIGEST)
		fail("Reject reason 0x%02x, expected 0x02", p->p_bhs[2]);
	if (pdu_op(p) == OP_SCSI_RSP && be32dec(p->p_bhs + 16) == itt &&
	    p->p_bhs[3] == 0)
		fail("target completed the WRITE with GOOD despite the wrong "
		    "data digest");
	if (pdu_op(p) != OP_REJECT && pdu_op(p) != OP_SCSI_RSP &&
	    pdu_op(p) != OP_R2T)
		fail("unexpected %s", pdu_describe(p));
}

/* The target must reject the bad WRITE and/or close the connection. */
static void
bad_dd_answer(struct conn *c, uint32_t itt)
{
	int64_t		deadline = now_ms() + CLOSE_MS;
	struct pdu	p;
	int		rejected = 0;

	for (;;) {
		switch (pdu_wait(c, &p, deadline)) {
		case RX_TIMEOUT:
			if (!rejected)
				fail("neither a Reject nor a close within %d "
				    "ms", CLOSE_MS);
			return;
		case RX_CLOSED:
			step("target closed the connection");
			pdu_free(&p);
			conn_close(c);
			return;
		case RX_OK:
			break;
		}
		step("target sent %s", pdu_describe(&p));
		bad_dd_check(&p, itt);
		if (pdu_op(&p) == OP_REJECT) {
			rejected = 1;
			deadline = now_ms() + 500;	/* a GOOD may follow */
		}
		pdu_free(&p);
	}
}

static void
sc_bad_data_digest(void)
{
	struct login_opts	 lo = login_defaults();
	struct conn		 c;
	struct scsi_io		 io;
	uint8_t			*before, *bad, *after;
	size_t			 len, i;

	lo.lo_digests = 1;
	login_ok(&c, &lo);
	need_digests(&c, 0, 1);
	if (!c.c_immediate)
		fail("target refused ImmediateData=Yes");
	do_readcap(&c);
	len = 8 * (size_t)c.c_blksz;
	before = xmalloc(len);
	bad = xmalloc(len);
	after = xmalloc(len);
	do_read(&c, 200, 8, before);
	for (i = 0; i < len; i++)
		bad[i] = (uint8_t)~before[i];
	io_rw10(&io, SCSI_WRITE10, 200, 8, c.c_blksz);
	io.io_out = bad;
	io.io_outlen = len;
	io.io_txflags = TX_BAD_DD;
	step("WRITE(10) LBA 200 with %zu bytes of immediate data and a wrong "
	    "data digest", cmd_immediate_len(&c, &io));
	bad_dd_answer(&c, cmd_send(&c, &io));
	conn_close(&c);
	login_ok(&c, &lo);
	do_read(&c, 200, 8, after);
	if (memcmp(before, after, len) != 0)
		fail("LBA 200 was written despite the wrong data digest");
	step("LBA 200 unchanged");
	do_tur(&c);
	logout(&c);
	free(before);
	free(bad);
	free(after);
}

static void
sc_bad_header_digest(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	struct scsi_io		io = { .io_cdb = { SCSI_TUR },
				    .io_txflags = TX_BAD_HD };

	lo.lo_digests = 1;
	login_ok(&c, &lo);
	need_digests(&c, 1, 0);
	cmd_send(&c, &io);
	step("sent TEST UNIT READY with a wrong header digest");
	expect_close(&c, CLOSE_MS, OP_SCSI_RSP);
	check_serves();
}

static void
sc_oversize_dsl(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	struct scsi_io		io;
	uint8_t			h[BHS_LEN], junk[4096];

	login_ok(&c, &lo);
	if (c.c_mrdsl >= 0xffffff)
		fail("target declared MaxRecvDataSegmentLength=%u", c.c_mrdsl);
	io_rw10(&io, SCSI_WRITE10, 0, (uint16_t)(0x1000000 / c.c_blksz),
	    c.c_blksz);
	bhs_init(h, OP_SCSI_CMD, 0x80 | 0x20 | 0x01);
	be32enc(h + 16, c.c_itt++);
	be32enc(h + 20, 0x1000000);
	be32enc(h + 24, c.c_cmdsn);
	be32enc(h + 28, c.c_expstatsn);
	memcpy(h + 32, io.io_cdb, 16);
	memset(junk, 0xa5, sizeof(junk));
	pdu_send_lying(&c, h, 0xffffff, junk, sizeof(junk));
	step("sent WRITE(10) with DataSegmentLength 16 MiB - 1 (target "
	    "declared %u) and 4 KiB of it", c.c_mrdsl);
	expect_close(&c, CLOSE_MS, OP_SCSI_RSP);
	check_serves();
}

static void
sc_garbage(void)
{
	struct conn	c;
	uint8_t		buf[4096];

	conn_open(&c);
	random_bytes(buf, sizeof(buf));
	if ((buf[0] & 0x3f) == OP_LOGIN_REQ)	/* keep it deterministic */
		buf[0] ^= 0x01;
	/*
	 * The first header claims no AHS and no data, so that it is whole:
	 * a length that reaches past the 4 KiB would leave the target
	 * waiting for the rest (login-timeout is hostile.sh's other test).
	 */
	memset(buf + 4, 0, 4);
	(void)write_all(c.c_fd, buf, sizeof(buf));
	step("sent 4 KiB of random bytes, first byte 0x%02x", buf[0]);
	expect_close(&c, CLOSE_MS, OP_SCSI_RSP);
	check_serves();
}

static void
sc_truncated(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	uint8_t			h[BHS_LEN], ten[10] = "0123456789";

	conn_open(&c);
	c.c_login_itt = c.c_itt++;
	login_bhs(&c, h, LF_T | LF_CSG(0) | LF_NSG(1));
	pdu_send_lying(&c, h, 1000, ten, sizeof(ten));
	conn_close(&c);
	step("Login Request announcing 1000 bytes, sent 10, closed");

	login_ok(&c, &lo);
	bhs_init(h, OP_SCSI_CMD, 0x80 | 0x20 | 0x01);
	be32enc(h + 16, c.c_itt++);
	be32enc(h + 20, 2 * c.c_blksz);
	be32enc(h + 24, c.c_cmdsn);
	be32enc(h + 28, c.c_expstatsn);
	h[32] = SCSI_WRITE10;
	h[32 + 8] = 2;
	pdu_send_lying(&c, h, 1000, ten, sizeof(ten));
	conn_close(&c);
	step("WRITE(10) announcing 1000 bytes of data, sent 10, closed");
	check_serves();
}

static void
sc_ffp_before_login(void)
{
	struct conn	c;
	struct scsi_io	io = { .io_cdb = { SCSI_TUR } };

	conn_open(&c);
	cmd_send(&c, &io);
	step("sent TEST UNIT READY as the first PDU");
	expect_close(&c, CLOSE_MS, OP_SCSI_RSP);
	check_serves();
}

static void
sc_unknown_opcode(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	struct pdu		p;
	uint8_t			h[BHS_LEN];

	login_ok(&c, &lo);
	bhs_init(h, OP_I | OP_VENDOR_1C, 0x80);
	be32enc(h + 16, c.c_itt++);
	be32enc(h + 24, c.c_cmdsn);
	be32enc(h + 28, c.c_expstatsn);
	if (pdu_send(&c, h, NULL, 0, NULL, 0, 0) == -1)
		fail("send: %s", strerror(errno));
	step("sent a PDU with opcode 0x1c");
	reply_wait(&c, &p, "Reject");
	step("target sent %s", pdu_describe(&p));
	if (pdu_op(&p) != OP_REJECT ||
	    (p.p_bhs[2] != REJ_PROTOCOL && p.p_bhs[2] != REJ_NOT_SUPP))
		fail("expected Reject with reason 0x04 or 0x05");
	if (p.p_dlen < BHS_LEN || (p.p_data[0] & 0x3f) != OP_VENDOR_1C)
		fail("Reject does not carry the rejected header");
	pdu_free(&p);
	nop_ping(&c);
	do_tur(&c);
	logout(&c);
	check_serves();
}

static void
sc_ahs(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	struct pdu		p;
	uint8_t			ahs[16];
	struct scsi_io		io = { .io_cdb = { SCSI_TUR }, .io_immed = 1,
				    .io_ahs = ahs, .io_ahslen = sizeof(ahs) };
	uint32_t		itt;

	login_ok(&c, &lo);
	random_bytes(ahs, sizeof(ahs));
	itt = cmd_send(&c, &io);
	step("sent TEST UNIT READY with a 16-byte AHS of garbage "
	    "(%02x%02x%02x%02x...)", ahs[0], ahs[1], ahs[2], ahs[3]);
	reply_wait(&c, &p, "SCSI Response or Reject");
	step("target sent %s", pdu_describe(&p));
	if (pdu_op(&p) != OP_REJECT && (pdu_op(&p) != OP_SCSI_RSP ||
	    be32dec(p.p_bhs + 16) != itt))
		fail("expected a SCSI Response or a Reject");
	pdu_free(&p);
	nop_ping(&c);
	do_tur(&c);
	logout(&c);
	check_serves();
}

/* A TEST UNIT READY with CmdSN off by delta: no answer within 1 s. */
static void
cmdsn_dropped(struct conn *c, int32_t delta)
{
	struct scsi_io	io = { .io_cdb = { SCSI_TUR } };
	uint32_t	save = c->c_cmdsn;
	struct pdu	p;

	c->c_cmdsn = save + (uint32_t)delta;
	cmd_send(c, &io);
	c->c_cmdsn = save;
	step("sent TEST UNIT READY with CmdSN %u (window %u..%u)",
	    save + (uint32_t)delta, c->c_expcmdsn, c->c_maxcmdsn);
	switch (pdu_wait(c, &p, now_ms() + 1000)) {
	case RX_TIMEOUT:
		step("no answer within 1 s: dropped");
		return;
	case RX_CLOSED:
		fail("target closed the connection");
	case RX_OK:
		fail("target answered the out-of-window command: %s",
		    pdu_describe(&p));
	}
}

static void
sc_cmdsn_window(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;

	login_ok(&c, &lo);
	do_tur(&c);
	cmdsn_dropped(&c, 0x100000);
	cmdsn_dropped(&c, -0x1000);
	do_tur(&c);
	logout(&c);
	check_serves();
}

static void
chap_scenario(enum chap_mode mode)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;

	need_chap();
	lo.lo_chap = mode;
	switch (mode) {
	case CHAP_GOOD:
	case CHAP_MUTUAL:
		login_ok(&c, &lo);
		do_tur(&c);
		logout(&c);
		return;
	case CHAP_BAD_HEX:
		login_fails(&lo, LOGIN_AUTH_FAILED, 0x0200);
		break;
	default:
		login_fails(&lo, LOGIN_AUTH_FAILED, LOGIN_AUTH_FAILED);
		break;
	}
	check_serves();
}

static void sc_chap_ok(void) { chap_scenario(CHAP_GOOD); }
static void sc_chap_bad_secret(void) { chap_scenario(CHAP_BAD_SECRET); }
static void sc_chap_reflect(void) { chap_scenario(CHAP_REFLECT); }
static void sc_chap_bad_length(void) { chap_scenario(CHAP_SHORT_R); }
static void sc_chap_bad_hex(void) { chap_scenario(CHAP_BAD_HEX); }

static void
sc_chap_mutual(void)
{
	if (opt.o_tuser == NULL || opt.o_tsecret == NULL)
		fail("chap-mutual needs -U TUSER -S TSECRET");
	chap_scenario(CHAP_MUTUAL);
}

static void
sc_tsih_nonzero(void)
{
	struct login_opts	lo = login_defaults();

	lo.lo_tsih = 5;
	step("leading login with TSIH 0x0005");
	login_fails(&lo, LOGIN_NO_SESSION, LOGIN_NO_SESSION);
	check_serves();
}

/*
 * A text negotiation that never ends: Login Requests with the C bit set,
 * 8 KiB of keys each, far past any sane total.  The target must end it
 * with a login failure (or close), not buffer it forever.
 */
static void
sc_text_loop(void)
{
	struct conn	c;
	struct pdu	p;
	uint8_t		h[BHS_LEN];
	uint8_t		*junk = xmalloc(8192);
	int		i;

	memset(junk, 'a', 8192);
	memcpy(junk, "X-a=", 4);
	conn_open(&c);
	for (i = 0; i < 64; i++) {
		login_bhs(&c, h, LF_C | LF_CSG(1) | LF_NSG(3));
		if (pdu_send(&c, h, NULL, 0, junk, 8192, 0) == -1)
			break;
		if (pdu_recv(&c, &p, now_ms() + 1000) != RX_OK)
			break;
		if (pdu_op(&p) == OP_LOGIN_RSP && be16dec(p.p_bhs + 36) != 0) {
			step("after %d continued PDUs: Login Response status "
			    "0x%04x", i + 1, be16dec(p.p_bhs + 36));
			pdu_free(&p);
			break;
		}
		pdu_free(&p);
	}
	if (i == 64)
		fail("512 KiB of continued login text accepted");
	free(junk);
	expect_close(&c, CLOSE_MS, OP_NONE);
	check_serves();
}

/*
 * A discovery session asks SendTargets=<-t>, a CHAP target hidden from
 * discovery: nothing about it comes back (its name must stay unknown
 * to strangers, and so must its portals).
 */
static void
sc_sendtargets_hidden(void)
{
	struct login_opts	lo = { .lo_target = NULL };
	char			st[300];
	struct conn		c;
	struct pdu		p;
	uint8_t			h[BHS_LEN];
	int			n;

	n = snprintf(st, sizeof(st), "SendTargets=%s", opt.o_target);
	login_ok(&c, &lo);
	bhs_init(h, OP_I | OP_TEXT_REQ, 0x80);
	be32enc(h + 16, c.c_itt++);
	be32enc(h + 20, RSVD_TAG);
	be32enc(h + 24, c.c_cmdsn);
	be32enc(h + 28, c.c_expstatsn);
	if (pdu_send(&c, h, NULL, 0, st, (size_t)n + 1, 0) == -1)
		fail("send: %s", strerror(errno));
	reply_wait(&c, &p, "Text Response");
	if (pdu_op(&p) != OP_TEXT_RSP)
		fail("SendTargets: %s", pdu_describe(&p));
	if (kv_get(&p, "TargetName") != NULL ||
	    kv_get(&p, "TargetAddress") != NULL)
		fail("SendTargets=%s listed it: %.*s", opt.o_target,
		    (int)p.p_dlen, p.p_data);
	step("SendTargets=%s -> nothing", opt.o_target);
	pdu_free(&p);
	conn_close(&c);
}

/* Data-Out for a task the target never saw: ignored, session fine. */
static void
sc_unknown_task_data(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	uint8_t			h[BHS_LEN], data[512];
	int			i;

	login_ok(&c, &lo);
	memset(data, 0x5a, sizeof(data));
	for (i = 0; i < 8; i++) {
		bhs_init(h, OP_DATA_OUT, i == 7 ? 0x80 : 0);
		be32enc(h + 16, 0x7000 + i);		/* unknown ITT */
		be32enc(h + 20, i & 1 ? 0x1234 : 0xffffffff);
		be32enc(h + 28, c.c_expstatsn);
		be32enc(h + 36, 0);
		be32enc(h + 40, 512 * i);
		if (pdu_send(&c, h, NULL, 0, data, sizeof(data), 0) == -1)
			fail("send: %s", strerror(errno));
	}
	step("sent 8 Data-Out PDUs for tasks that do not exist");
	nop_ping(&c);
	do_tur(&c);
	logout(&c);
	check_serves();
}

/*
 * ORDERED: a command with the ORDERED attribute sent while a large write
 * still waits for its Data-Out must not run before it (BUSY is the
 * target's answer); once the write is done the same command runs.
 */
static void
sc_ordered(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	struct pdu		p;
	struct scsi_res		res;
	struct scsi_io		w, tur = { .io_cdb = { SCSI_TUR }, .io_attr = 2 };
	uint8_t			*buf = xmalloc(1 << 20);
	uint32_t		witt, titt;
	int			status = -1;

	login_ok(&c, &lo);
	do_readcap(&c);
	memset(buf, 0x4f, 1 << 20);
	io_rw10(&w, SCSI_WRITE10, 4096, (1 << 20) / c.c_blksz, c.c_blksz);
	w.io_out = buf;
	w.io_outlen = w.io_edtl;
	witt = cmd_send(&c, &w);
	titt = cmd_send(&c, &tur);
	step("WRITE(10) of 1 MiB, then an ORDERED TEST UNIT READY");
	while (status == -1) {
		reply_wait(&c, &p, "R2T or the TEST UNIT READY answer");
		if (pdu_op(&p) == OP_R2T && be32dec(p.p_bhs + 16) == witt)
			cmd_r2t(&c, &p, &w);
		else if (pdu_op(&p) == OP_SCSI_RSP &&
		    be32dec(p.p_bhs + 16) == titt)
			status = p.p_bhs[3];
		else
			fail("unexpected %s", pdu_describe(&p));
		pdu_free(&p);
	}
	step("ORDERED TEST UNIT READY during the write -> status 0x%02x",
	    status);
	if (status != ST_BUSY)
		fail("expected BUSY while the earlier write waits for data");
	cmd_finish(&c, witt, &w, &res);
	if (res.sr_status != ST_GOOD)
		fail("WRITE(10) -> %s", res_str(&res));
	scsi_good(&c, &tur, &res, "ORDERED TEST UNIT READY");
	step("after the write: ORDERED TEST UNIT READY -> GOOD");
	free(buf);
	logout(&c);
	check_serves();
}

/* Wait for a target NOP-In without answering it. */
static void
nopin_first(struct conn *c)
{
	int64_t		start = now_ms();
	struct pdu	p;

	switch (pdu_recv(c, &p, start + opt.o_wait * 1000)) {
	case RX_TIMEOUT:
		fail("no NOP-In within %d s", opt.o_wait);
	case RX_CLOSED:
		fail("target closed the connection before any NOP-In");
	case RX_OK:
		break;
	}
	if (pdu_op(&p) != OP_NOP_IN || be32dec(p.p_bhs + 16) != RSVD_TAG ||
	    be32dec(p.p_bhs + 20) == RSVD_TAG)
		fail("expected a NOP-In ping, got %s", pdu_describe(&p));
	step("NOP-In after %lld ms, TTT 0x%08x", (long long)(now_ms() - start),
	    be32dec(p.p_bhs + 20));
	pdu_free(&p);
}

static void
sc_nopin(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;

	login_ok(&c, &lo);
	c.c_nopin_answer = 0;
	nopin_first(&c);
	step("not answering");
	expect_close(&c, opt.o_wait * 1000, OP_NONE);
	check_serves();
}

static void
sc_nopin_answer(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	struct pdu		p;

	login_ok(&c, &lo);
	switch (pdu_wait(&c, &p, now_ms() + opt.o_wait * 3000)) {
	case RX_TIMEOUT:
		break;
	case RX_CLOSED:
		fail("target closed the connection although we answered %u "
		    "NOP-In(s)", c.c_nopins);
	case RX_OK:
		fail("unexpected %s", pdu_describe(&p));
	}
	if (c.c_nopins == 0)
		fail("no NOP-In in %d s", opt.o_wait * 3);
	step("answered %u NOP-In(s); connection up after %d s", c.c_nopins,
	    opt.o_wait * 3);
	nop_ping(&c);
	logout(&c);
}

static void
sc_reinstate(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		a, b;
	uint8_t			isid[6];

	random_bytes(isid, sizeof(isid));
	isid[0] = 0x80;
	lo.lo_isid = isid;
	login_ok(&a, &lo);
	do_tur(&a);
	step("second login, same InitiatorName and ISID, TSIH 0");
	login_ok(&b, &lo);
	expect_close(&a, CLOSE_MS, OP_SCSI_RSP);
	do_tur(&b);
	logout(&b);
}

static void	quiet_for(struct conn *, int, const char *);

/*
 * A stranger, from another source address, logs in with the
 * InitiatorName and ISID of a live session to a target that
 * authenticates nobody: it gets a session of its own, and the first
 * keeps its connection and what it wrote.
 */
static void
sc_stranger_reinstate(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		a, b;
	uint8_t			isid[6], *buf, *back;

	if (opt.o_bind == NULL)
		fail("this scenario needs -b STRANGER_ADDR");
	random_bytes(isid, sizeof(isid));
	isid[0] = 0x80;
	lo.lo_isid = isid;
	login_ok(&a, &lo);
	do_readcap(&a);
	buf = xmalloc(8 * a.c_blksz);
	back = xmalloc(8 * a.c_blksz);
	random_bytes(buf, 8 * a.c_blksz);
	do_write(&a, 100, 8, buf);
	conn_bind = opt.o_bind;
	step("a login from %s, same InitiatorName and ISID, TSIH 0",
	    opt.o_bind);
	login_ok(&b, &lo);
	conn_bind = NULL;
	do_tur(&b);
	quiet_for(&a, 1000, "the first session");
	do_read(&a, 100, 8, back);
	if (memcmp(buf, back, 8 * a.c_blksz) != 0)
		fail("the first session lost what it wrote");
	step("the first session still reads what it wrote");
	logout(&b);
	logout(&a);
	free(buf);
	free(back);
}

/* Log in, then hold the session -w seconds (answering NOP-Ins). */
static void
sc_hold(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	struct pdu		p;

	login_ok(&c, &lo);
	do_tur(&c);
	if (pdu_wait(&c, &p, now_ms() + 1000 * opt.o_wait) != RX_TIMEOUT)
		fail("the session did not stay quiet for %d s", opt.o_wait);
	do_tur(&c);
	logout(&c);
}

static void
sc_write_residual(void)
{
	struct login_opts	 lo = login_defaults();
	struct conn		 c;
	struct scsi_io		 io;
	struct scsi_res		 res;
	uint8_t			*out, *in;

	login_ok(&c, &lo);
	do_readcap(&c);
	out = xmalloc(2 * (size_t)c.c_blksz);
	in = xmalloc(c.c_blksz);
	random_bytes(out, 2 * (size_t)c.c_blksz);
	io_rw10(&io, SCSI_WRITE10, 300, 1, c.c_blksz);
	io.io_edtl = 2 * c.c_blksz;
	io.io_out = out;
	io.io_outlen = io.io_edtl;
	scsi_good(&c, &io, &res, "WRITE(10)");
	step("WRITE(10) 1 block, EDTL %u -> GOOD, flags 0x%02x residual %u",
	    io.io_edtl, res.sr_flags, res.sr_residual);
	if ((res.sr_flags & (RSP_U | RSP_O)) != RSP_U ||
	    res.sr_residual != c.c_blksz)
		fail("expected U set, O clear and residual %u", c.c_blksz);
	do_read(&c, 300, 1, in);
	if (memcmp(in, out, c.c_blksz) != 0)
		fail("LBA 300 does not hold the first block written");
	step("LBA 300 holds the written block");
	logout(&c);
	free(out);
	free(in);
}

static int	sense_asc(const struct scsi_res *);

/* ---- the Data-Out sequence: every byte once, in order ---- */

#define DO_LBA		2048	/* where the Data-Out scenarios write */
#define DO_BYTES	8192

/* A SCSI Command PDU as built by hand: WRITE(16) of len bytes at lba. */
static uint32_t
raw_write16(struct conn *c, uint64_t lba, uint32_t len, uint8_t flags,
    const uint8_t *imm, size_t immlen)
{
	uint8_t		h[BHS_LEN];
	uint32_t	itt = c->c_itt++;

	bhs_init(h, OP_SCSI_CMD, (uint8_t)(flags | 0x20 | 0x01));
	lun_enc(h + 8);
	be32enc(h + 16, itt);
	be32enc(h + 20, len);
	be32enc(h + 24, c->c_cmdsn++);
	be32enc(h + 28, c->c_expstatsn);
	h[32] = 0x8a;
	be64enc(h + 34, lba);
	be32enc(h + 42, len / c->c_blksz);
	if (pdu_send(c, h, NULL, 0, imm, immlen, 0) == -1)
		fail("sending WRITE(16): %s", strerror(errno));
	return itt;
}

static void
data_out(struct conn *c, uint32_t itt, uint32_t ttt, uint32_t sn,
    uint32_t off, const uint8_t *data, uint32_t len, int final)
{
	uint8_t	h[BHS_LEN];

	bhs_init(h, OP_DATA_OUT, final ? 0x80 : 0);
	lun_enc(h + 8);
	be32enc(h + 16, itt);
	be32enc(h + 20, ttt);
	be32enc(h + 28, c->c_expstatsn);
	be32enc(h + 36, sn);
	be32enc(h + 40, off);
	if (pdu_send(c, h, NULL, 0, data, len, 0) == -1)
		fail("sending Data-Out: %s", strerror(errno));
	step("Data-Out ITT 0x%08x TTT 0x%08x DataSN %u offset %u, %u bytes%s",
	    itt, ttt, sn, off, len, final ? ", F" : "");
}

/* The next PDU must be an R2T for itt; returns it. */
static void
r2t_wait(struct conn *c, uint32_t itt, struct pdu *p)
{
	reply_wait(c, p, "R2T");
	if (pdu_op(p) != OP_R2T || be32dec(p->p_bhs + 16) != itt)
		fail("expected an R2T for ITT 0x%08x, got %s", itt,
		    pdu_describe(p));
	step("R2T TTT 0x%08x offset %u length %u", be32dec(p->p_bhs + 20),
	    be32dec(p->p_bhs + 40), be32dec(p->p_bhs + 44));
}

/*
 * A Data-Out that breaks its sequence: a Reject with reason, then the
 * command ends CHECK CONDITION, ABORTED COMMAND, DATA PHASE ERROR/ascq.
 * Returns what went wrong, or NULL; the caller checks the disk first.
 */
static const char *
data_error(struct conn *c, uint32_t itt, int reason, int ascq)
{
	static char	why[160];
	struct pdu	p;
	struct scsi_res	res;
	int		rejected = -1;

	for (;;) {
		reply_wait(c, &p, "Reject and SCSI Response");
		if (pdu_op(&p) == OP_REJECT)
			rejected = p.p_bhs[2];
		else if (pdu_op(&p) == OP_SCSI_RSP &&
		    be32dec(p.p_bhs + 16) == itt)
			break;
		else
			fail("unexpected %s", pdu_describe(&p));
		pdu_free(&p);
	}
	memset(&res, 0, sizeof(res));
	res.sr_reject = -1;
	cmd_response(&p, &res);
	pdu_free(&p);
	step("the command ended %s, ASC/ASCQ 0x%04x", res_str(&res),
	    sense_asc(&res));
	if (rejected != reason)
		snprintf(why, sizeof(why), "the bad Data-Out got Reject "
		    "reason %d, expected 0x%02x", rejected, reason);
	else if (res.sr_status != ST_CHECK || sense_key(&res) != 0x0b ||
	    sense_asc(&res) != (0x4b00 | ascq))
		snprintf(why, sizeof(why), "command ended %s, expected "
		    "ABORTED COMMAND 0x%04x", res_str(&res), 0x4b00 | ascq);
	else
		return NULL;
	return why;
}

/*
 * Before an attack: what DO_LBA holds, and a second connection (the
 * victim, on the same worker when there is one) that writes and reads
 * back a pattern, so that pool buffers of the attack's size last held
 * its data.
 */
static void
victim_and_base(uint8_t *base)
{
	struct login_opts	lo = login_defaults();
	struct conn		v;
	uint8_t			*buf = xmalloc(DO_BYTES);

	login_ok(&v, &lo);
	do_readcap(&v);
	do_read(&v, DO_LBA, DO_BYTES / v.c_blksz, base);
	memset(buf, 0xa5, DO_BYTES);
	do_write(&v, DO_LBA + 64, DO_BYTES / v.c_blksz, buf);
	do_read(&v, DO_LBA + 64, DO_BYTES / v.c_blksz, buf);
	logout(&v);
	free(buf);
	step("victim wrote and read back a 0xa5 pattern");
}

/* After an attack: DO_LBA must still hold exactly what it held. */
static void
unchanged(struct conn *c, const uint8_t *base)
{
	uint8_t	*now = xmalloc(DO_BYTES);

	do_read(c, DO_LBA, DO_BYTES / c->c_blksz, now);
	if (memcmp(now, base, DO_BYTES) != 0)
		fail("LBA %u changed: %s", DO_LBA, memchr(now, 0xa5, DO_BYTES) ?
		    "it holds the victim's bytes" : "bytes never sent");
	step("LBA %u holds what it held before", DO_LBA);
	free(now);
}

/* Two unsolicited Data-Out at the same offset: never GOOD, no leak. */
static void
sc_dataout_overlap(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	uint8_t			*base = xmalloc(DO_BYTES), data[4096];
	uint32_t		itt;
	const char		*why;

	victim_and_base(base);
	login_ok(&c, &lo);
	do_readcap(&c);
	if (c.c_initial_r2t || c.c_first_burst < DO_BYTES)
		fail("needs InitialR2T=No and FirstBurstLength >= %d",
		    DO_BYTES);
	memset(data, 0x11, sizeof(data));
	itt = raw_write16(&c, DO_LBA, DO_BYTES, 0, NULL, 0);
	step("WRITE(16) of %d bytes, no immediate data, F clear", DO_BYTES);
	data_out(&c, itt, RSVD_TAG, 0, 0, data, sizeof(data), 0);
	data_out(&c, itt, RSVD_TAG, 1, 0, data, sizeof(data), 1);
	why = data_error(&c, itt, REJ_PROTOCOL, 0x05);
	unchanged(&c, base);
	if (why != NULL)
		fail("%s", why);
	logout(&c);
	free(base);
}

/* The same twice at an R2T's offset. */
static void
sc_dataout_overlap_r2t(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	struct pdu		p;
	uint8_t			*base = xmalloc(DO_BYTES), data[4096];
	uint32_t		itt, ttt;
	const char		*why;

	victim_and_base(base);
	login_ok(&c, &lo);
	do_readcap(&c);
	memset(data, 0x22, sizeof(data));
	itt = raw_write16(&c, DO_LBA, DO_BYTES, 0x80, NULL, 0);
	step("WRITE(16) of %d bytes, no immediate data, F set", DO_BYTES);
	r2t_wait(&c, itt, &p);
	ttt = be32dec(p.p_bhs + 20);
	pdu_free(&p);
	data_out(&c, itt, ttt, 0, 0, data, sizeof(data), 0);
	data_out(&c, itt, ttt, 1, 0, data, sizeof(data), 1);
	why = data_error(&c, itt, REJ_PROTOCOL, 0x05);
	unchanged(&c, base);
	if (why != NULL)
		fail("%s", why);
	logout(&c);
	free(base);
}

/* A Target Transfer Tag we never gave (0, and one off): rejected. */
static void
sc_dataout_bad_ttt(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	struct pdu		p;
	uint8_t			*base = xmalloc(DO_BYTES), *data;
	uint32_t		itt, ttt, bad[2];
	const char		*why;
	int			i;

	data = xmalloc(DO_BYTES);
	memset(data, 0x33, DO_BYTES);
	login_ok(&c, &lo);
	do_readcap(&c);
	do_read(&c, DO_LBA, DO_BYTES / c.c_blksz, base);
	for (i = 0; i < 2; i++) {
		itt = raw_write16(&c, DO_LBA, DO_BYTES, 0x80, NULL, 0);
		r2t_wait(&c, itt, &p);
		ttt = be32dec(p.p_bhs + 20);
		pdu_free(&p);
		bad[0] = 0;
		bad[1] = ttt + 1000;
		data_out(&c, itt, bad[i], 0, 0, data, DO_BYTES, 1);
		if ((why = data_error(&c, itt, 0x09, 0x01)) != NULL)
			fail("%s", why);
	}
	unchanged(&c, base);
	logout(&c);
	free(base);
	free(data);
}

/*
 * An unsolicited burst that ends (F) short of FirstBurstLength: the
 * rest must be solicited with an R2T; so must everything after the
 * immediate data of a command whose F bit says none follows.
 */
static void
unsol_short(struct conn *c, uint32_t itt, const uint8_t *data, uint32_t from)
{
	struct pdu	p;
	struct scsi_res	res;
	uint32_t	off, len;

	r2t_wait(c, itt, &p);
	off = be32dec(p.p_bhs + 40);
	len = be32dec(p.p_bhs + 44);
	if (off != from || off + len != 4 * 4096)
		fail("R2T for [%u, %u), expected [%u, %u)", off, off + len,
		    from, 4 * 4096);
	data_out(c, itt, be32dec(p.p_bhs + 20), 0, off, data + off, len, 1);
	pdu_free(&p);
	reply_wait(c, &p, "SCSI Response");
	memset(&res, 0, sizeof(res));
	res.sr_reject = -1;
	if (pdu_op(&p) != OP_SCSI_RSP)
		fail("unexpected %s", pdu_describe(&p));
	cmd_response(&p, &res);
	pdu_free(&p);
	if (res.sr_status != ST_GOOD)
		fail("WRITE(16) -> %s", res_str(&res));
	step("WRITE(16) -> GOOD");
}

static void
sc_unsol_short(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	uint8_t			data[4 * 4096], back[4 * 4096];
	uint32_t		itt;

	login_ok(&c, &lo);
	do_readcap(&c);
	if (c.c_initial_r2t || c.c_first_burst < sizeof(data))
		fail("needs InitialR2T=No and FirstBurstLength >= %zu",
		    sizeof(data));
	random_bytes(data, sizeof(data));
	itt = raw_write16(&c, DO_LBA, sizeof(data), 0, NULL, 0);
	step("WRITE(16) of %zu bytes, F clear", sizeof(data));
	data_out(&c, itt, RSVD_TAG, 0, 0, data, 4096, 1);
	unsol_short(&c, itt, data, 4096);
	random_bytes(data, sizeof(data));
	itt = raw_write16(&c, DO_LBA, sizeof(data), 0x80, data, 4096);
	step("WRITE(16) of %zu bytes, 4096 immediate, F set", sizeof(data));
	unsol_short(&c, itt, data, 4096);
	do_read(&c, DO_LBA, sizeof(back) / c.c_blksz, back);
	if (memcmp(back, data, sizeof(data)) != 0)
		fail("read back differs from what was written");
	step("read back what was written");
	logout(&c);
}

/* ---- persistent reservations: initiator A (-i) and B (-I) ---- */

static const uint8_t pr_isid_a[6] = { 0x80, 0x00, 0x00, 0x00, 0x50, 0x0a };
static const uint8_t pr_isid_b[6] = { 0x80, 0x00, 0x00, 0x00, 0x50, 0x0b };

static int
sense_asc(const struct scsi_res *r)
{
	if ((r->sr_sense[0] & 0x7f) >= 0x72)
		return r->sr_senselen < 4 ? -1 :
		    r->sr_sense[2] << 8 | r->sr_sense[3];
	return r->sr_senselen < 14 ? -1 :
	    r->sr_sense[12] << 8 | r->sr_sense[13];
}

/* One command, whatever its SCSI status; returns that status. */
static uint8_t
scsi_status(struct conn *c, const struct scsi_io *io, struct scsi_res *res)
{
	cmd_finish(c, cmd_send(c, io), io, res);
	if (res->sr_reject >= 0 || res->sr_response != 0)
		fail("SCSI command 0x%02x -> %s", io->io_cdb[0],
		    res_str(res));
	return res->sr_status;
}

static void
status_is(const char *what, uint8_t got, uint8_t want)
{
	static const char *const name[256] = {
		[ST_GOOD] = "GOOD", [ST_CHECK] = "CHECK CONDITION",
		[ST_CONFLICT] = "RESERVATION CONFLICT",
	};

	if (got != want)
		fail("%s -> status 0x%02x, expected %s", what, got,
		    name[want]);
	step("%s -> %s", what, name[want]);
}

static uint8_t
pr_out(struct conn *c, int sa, int type, uint64_t key, uint64_t sakey)
{
	uint8_t		p[24];
	struct scsi_io	io;
	struct scsi_res	res;

	memset(p, 0, sizeof(p));
	memset(&io, 0, sizeof(io));
	be64enc(p, key);
	be64enc(p + 8, sakey);
	io.io_cdb[0] = SCSI_PROUT;
	io.io_cdb[1] = (uint8_t)sa;
	io.io_cdb[2] = (uint8_t)type;
	be32enc(io.io_cdb + 5, sizeof(p));
	io.io_out = p;
	io.io_outlen = io.io_edtl = sizeof(p);
	return scsi_status(c, &io, &res);
}

static void
pr_in(struct conn *c, int sa, uint8_t *buf, uint16_t len)
{
	struct scsi_io	io;
	struct scsi_res	res;

	memset(&io, 0, sizeof(io));
	io.io_cdb[0] = SCSI_PRIN;
	io.io_cdb[1] = (uint8_t)sa;
	be16enc(io.io_cdb + 7, len);
	io.io_in = buf;
	io.io_inlen = io.io_edtl = len;
	memset(buf, 0, len);
	if (scsi_status(c, &io, &res) != ST_GOOD)
		fail("PERSISTENT RESERVE IN (%d) -> %s", sa, res_str(&res));
}

static uint8_t
rw_status(struct conn *c, uint8_t op)
{
	struct scsi_io	io;
	struct scsi_res	res;
	uint8_t		*buf = xmalloc(c->c_blksz);

	memset(buf, 0x5c, c->c_blksz);
	io_rw10(&io, op, 64, 1, c->c_blksz);
	if (op == SCSI_WRITE10) {
		io.io_out = buf;
		io.io_outlen = c->c_blksz;
	} else {
		io.io_in = buf;
		io.io_inlen = c->c_blksz;
	}
	scsi_status(c, &io, &res);
	free(buf);
	return res.sr_status;
}

static void
pr_login(struct conn *c, const char *initiator, const uint8_t *isid)
{
	struct login_opts	lo = login_defaults();

	lo.lo_initiator = initiator;
	lo.lo_isid = isid;
	login_ok(c, &lo);
	do_tur(c);
	do_readcap(c);
}

/*
 * A registers and takes WRITE EXCLUSIVE; B's WRITE conflicts, its READ
 * does not; B preempts A; A gets REGISTRATIONS PREEMPTED, then the
 * conflict.  Both connections stay up, so they sit on two workers.
 */
static void
sc_pr_fence(void)
{
	struct conn	 a, b;
	struct scsi_io	 io = { .io_cdb = { SCSI_TUR } };
	struct scsi_res	 res;

	pr_login(&a, opt.o_initiator, pr_isid_a);
	pr_login(&b, opt.o_initiator_b, pr_isid_b);
	status_is("A: REGISTER AND IGNORE EXISTING KEY", pr_out(&a,
	    PR_REG_IGNORE, 0, 0, PR_KEY_A), ST_GOOD);
	status_is("A: RESERVE Write Exclusive", pr_out(&a, PR_RESERVE, PR_WE,
	    PR_KEY_A, 0), ST_GOOD);
	status_is("B: REGISTER AND IGNORE EXISTING KEY", pr_out(&b,
	    PR_REG_IGNORE, 0, 0, PR_KEY_B), ST_GOOD);
	status_is("B: WRITE(10)", rw_status(&b, SCSI_WRITE10), ST_CONFLICT);
	status_is("B: READ(10)", rw_status(&b, SCSI_READ10), ST_GOOD);
	status_is("A: WRITE(10)", rw_status(&a, SCSI_WRITE10), ST_GOOD);
	status_is("B: PREEMPT A", pr_out(&b, PR_PREEMPT, PR_WE, PR_KEY_B,
	    PR_KEY_A), ST_GOOD);
	status_is("A: TEST UNIT READY", scsi_status(&a, &io, &res), ST_CHECK);
	if (sense_key(&res) != SENSE_UA || sense_asc(&res) != 0x2a05)
		fail("A: expected UNIT ATTENTION 2Ah/05h, got key %d ASC "
		    "0x%04x", sense_key(&res), sense_asc(&res));
	step("A: UNIT ATTENTION, REGISTRATIONS PREEMPTED");
	status_is("A: WRITE(10)", rw_status(&a, SCSI_WRITE10), ST_CONFLICT);
	status_is("A: READ(10)", rw_status(&a, SCSI_READ10), ST_GOOD);
	status_is("B: WRITE(10)", rw_status(&b, SCSI_WRITE10), ST_GOOD);
	logout(&a);
	logout(&b);
}

/*
 * What pr-fence left: B's key alone, B holding WRITE EXCLUSIVE, and
 * enforced at once.  Prints the keys and the reservation to compare.
 */
static void
sc_pr_check(void)
{
	struct conn	 a, b;
	uint8_t		 buf[256];
	char		 keys[160];
	uint32_t	 i, n;
	size_t		 o = 0;

	pr_login(&a, opt.o_initiator, pr_isid_a);
	pr_in(&a, 0, buf, sizeof(buf));
	n = be32dec(buf + 4) / 8;
	for (i = 0; i < n && i < 8; i++)
		o += (size_t)snprintf(keys + o, sizeof(keys) - o, " 0x%016llx",
		    (unsigned long long)be64dec(buf + 8 + 8 * i));
	keys[o] = '\0';
	step("READ KEYS: generation %u, %u key(s):%s", be32dec(buf), n, keys);
	if (n != 1 || be64dec(buf + 8) != PR_KEY_B)
		fail("expected B's key alone");
	pr_in(&a, 1, buf, sizeof(buf));
	if (be32dec(buf + 4) != 16)
		fail("READ RESERVATION: not reserved");
	step("READ RESERVATION: generation %u, key 0x%016llx, type %u",
	    be32dec(buf), (unsigned long long)be64dec(buf + 8), buf[21] & 0xf);
	if (be64dec(buf + 8) != PR_KEY_B || (buf[21] & 0xf) != PR_WE)
		fail("expected B holding Write Exclusive");
	status_is("A: WRITE(10)", rw_status(&a, SCSI_WRITE10), ST_CONFLICT);
	status_is("A: READ(10)", rw_status(&a, SCSI_READ10), ST_GOOD);
	pr_login(&b, opt.o_initiator_b, pr_isid_b);
	status_is("B: WRITE(10)", rw_status(&b, SCSI_WRITE10), ST_GOOD);
	logout(&a);
	logout(&b);
}

/*
 * TARGET COLD RESET (RFC 7143 11.5.1): A asks for it and gets Function
 * complete, then its connection closes; so does B's, another session of
 * the target that sits on another worker.
 */
static void
sc_cold_reset(void)
{
	struct conn	 a, b;
	struct pdu	 p;
	uint8_t		 h[BHS_LEN];
	uint32_t	 itt;

	pr_login(&a, opt.o_initiator, pr_isid_a);
	pr_login(&b, opt.o_initiator_b, pr_isid_b);
	itt = a.c_itt++;
	bhs_init(h, OP_I | OP_TMF_REQ, 0x80 | 7);
	be32enc(h + 16, itt);
	be32enc(h + 20, RSVD_TAG);
	be32enc(h + 24, a.c_cmdsn);
	be32enc(h + 28, a.c_expstatsn);
	if (pdu_send(&a, h, NULL, 0, NULL, 0, 0) == -1)
		fail("sending the TMF request: %s", strerror(errno));
	reply_wait(&a, &p, "Task Management Response");
	if (pdu_op(&p) != OP_TMF_RSP || be32dec(p.p_bhs + 16) != itt ||
	    p.p_bhs[2] != 0)
		fail("TARGET COLD RESET answered with %s, response %u",
		    pdu_describe(&p), p.p_bhs[2]);
	pdu_free(&p);
	step("A: TARGET COLD RESET -> Function complete");
	expect_close(&a, 5000, OP_NONE);
	expect_close(&b, 5000, OP_NONE);
	step("B's connection closed too");
}

#define CAW_SWAPS	1000
#define SENSE_MISCOMPARE 0x0e

/* The counter in the first 8 bytes of LBA 0, read without a step line. */
static uint64_t
caw_counter(struct conn *c, uint8_t *blk)
{
	struct scsi_io	io;
	struct scsi_res	res;

	io_rw10(&io, SCSI_READ10, 0, 1, c->c_blksz);
	io.io_in = blk;
	io.io_inlen = io.io_edtl;
	scsi_good(c, &io, &res, "READ(10)");
	return be64dec(blk);
}

/*
 * COMPARE AND WRITE as a lock word: CAW_SWAPS times, read LBA 0 and swap
 * its counter for counter + 1, reading again after a MISCOMPARE.  Run
 * in several processes at once (connections on several workers), the
 * counter gains exactly their swaps only if every COMPARE AND WRITE is
 * atomic against the others.
 */
static void
sc_caw_count(void)
{
	struct login_opts	lo = login_defaults();
	struct scsi_io		io;
	struct scsi_res		res;
	struct conn		c;
	uint8_t			*buf;
	uint32_t		 bs;
	int			 done = 0, missed = 0;
	uint8_t			 st;

	login_ok(&c, &lo);
	do_tur(&c);
	do_readcap(&c);
	bs = c.c_blksz;
	buf = xmalloc(2 * (size_t)bs);
	while (done < CAW_SWAPS) {
		be64enc(buf + bs, caw_counter(&c, buf) + 1);
		memcpy(buf + bs + 8, buf + 8, bs - 8);
		memset(&io, 0, sizeof(io));
		io.io_cdb[0] = 0x89;
		io.io_cdb[13] = 1;
		io.io_out = buf;
		io.io_outlen = io.io_edtl = 2 * bs;
		st = scsi_status(&c, &io, &res);
		if (st == ST_GOOD)
			done++;
		else if (st == ST_CHECK && sense_key(&res) == SENSE_MISCOMPARE)
			missed++;
		else
			fail("COMPARE AND WRITE -> %s", res_str(&res));
	}
	step("%d swaps, %d miscompares", done, missed);
	free(buf);
	logout(&c);
}

/* Print the counter caw-count swaps. */
static void
sc_caw_value(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	uint8_t			*buf;

	login_ok(&c, &lo);
	do_tur(&c);
	do_readcap(&c);
	buf = xmalloc(c.c_blksz);
	step("counter %llu", (unsigned long long)caw_counter(&c, buf));
	free(buf);
	logout(&c);
}

/* B clears what pr-fence left: no key, no reservation. */
static void
sc_pr_clear(void)
{
	struct conn	 b;
	uint8_t		 buf[64];

	pr_login(&b, opt.o_initiator_b, pr_isid_b);
	status_is("B: CLEAR", pr_out(&b, PR_CLEAR, 0, PR_KEY_B, 0), ST_GOOD);
	pr_in(&b, 0, buf, sizeof(buf));
	if (be32dec(buf + 4) != 0)
		fail("READ KEYS: %u bytes of keys left", be32dec(buf + 4));
	pr_in(&b, 1, buf, sizeof(buf));
	if (be32dec(buf + 4) != 0)
		fail("READ RESERVATION: still reserved");
	step("no keys, no reservation");
	logout(&b);
}

/* ---- write data buffered: budgets, and R2Ts that wait ---- */

#define PW_BYTES	(1 << 20)	/* each write; max-pending-data 1088K */

/* Nothing may arrive for ms, and the connection stays up. */
static void
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

/* Answer every R2T of itt from data until its SCSI Response: GOOD. */
static void
write_through(struct conn *c, uint32_t itt, const uint8_t *data,
    size_t len)
{
	struct scsi_io	io;
	struct scsi_res	res;

	memset(&io, 0, sizeof(io));
	io.io_out = data;
	io.io_outlen = len;
	cmd_finish(c, itt, &io, &res);
	if (res.sr_reject >= 0 || res.sr_status != ST_GOOD)
		fail("WRITE(16) ITT 0x%08x -> %s", itt, res_str(&res));
	step("WRITE(16) ITT 0x%08x -> GOOD", itt);
}

/*
 * With max-pending-data 1088K and max-pending-data-worker 1536K: of three
 * 1 MiB writes on one connection only the first is solicited; each
 * next one once the one before is done.  A write on a second
 * connection waits for the worker's room the same way.
 */
static void
sc_pending_wait(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c, d;
	struct pdu		p;
	uint8_t			*data = xmalloc(3 * PW_BYTES), *back;
	uint32_t		itt[3], ditt;
	int			i;

	random_bytes(data, 3 * PW_BYTES);
	login_ok(&c, &lo);
	do_readcap(&c);
	login_ok(&d, &lo);
	do_readcap(&d);
	for (i = 0; i < 3; i++)
		itt[i] = raw_write16(&c, DO_LBA + i * (PW_BYTES / c.c_blksz),
		    PW_BYTES, 0x80, i == 1 ? data + PW_BYTES : NULL,
		    i == 1 ? 4096 : 0);
	step("three WRITE(16) of 1 MiB, the second with 4096 bytes immediate");
	r2t_wait(&c, itt[0], &p);
	pdu_free(&p);
	quiet_for(&c, 500, "no R2T for the second and third yet");
	ditt = raw_write16(&d, DO_LBA + 3 * (PW_BYTES / d.c_blksz),
	    PW_BYTES, 0x80, NULL, 0);
	quiet_for(&d, 500, "no R2T on the second connection yet");
	/* cmd_finish answers the R2T already seen once it is sent again */
	data_out(&c, itt[0], be32dec(p.p_bhs + 20), 0, 0, data,
	    be32dec(p.p_bhs + 44), 1);
	write_through(&c, itt[0], data, PW_BYTES);
	write_through(&c, itt[1], data + PW_BYTES, PW_BYTES);
	write_through(&c, itt[2], data + 2 * PW_BYTES, PW_BYTES);
	write_through(&d, ditt, data, PW_BYTES);
	back = xmalloc(PW_BYTES);
	for (i = 0; i < 3; i++) {
		do_read(&c, DO_LBA + i * (PW_BYTES / c.c_blksz),
		    PW_BYTES / c.c_blksz, back);
		if (memcmp(back, data + i * PW_BYTES, PW_BYTES) != 0)
			fail("write %d reads back different", i);
	}
	step("all three read back as written");
	logout(&c);
	logout(&d);
	free(back);
	free(data);
}

/* ---- quota counted exactly while UNMAP and WRITE race ---- */

#define QR_BLOCKS	128	/* 64 KiB of 512-byte blocks at a time */
#define QR_SPAN		2048	/* within the first MiB */

static uint32_t
qr_write(struct conn *c, uint32_t lba, const uint8_t *buf)
{
	struct scsi_io	io;

	io_rw10(&io, SCSI_WRITE10, lba, QR_BLOCKS, c->c_blksz);
	io.io_out = buf;
	io.io_outlen = io.io_edtl;
	return cmd_send(c, &io);
}

static uint32_t
qr_unmap(struct conn *c, uint32_t lba, uint8_t *p)
{
	struct scsi_io	io;

	memset(p, 0, 24);
	be16enc(p, 22);
	be16enc(p + 2, 16);
	be64enc(p + 8, lba);
	be32enc(p + 16, QR_BLOCKS);
	memset(&io, 0, sizeof(io));
	io.io_cdb[0] = 0x42;
	be16enc(io.io_cdb + 7, 24);
	io.io_out = p;
	io.io_outlen = io.io_edtl = 24;
	return cmd_send(c, &io);
}

/* A's writes and B's unmaps of the same blocks, -w seconds, at once. */
static void
sc_quota_race(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		a, b;
	struct scsi_io		io;
	struct scsi_res		res;
	uint8_t			*buf, unmap[24];
	int64_t			 end;
	uint32_t		 lba, ia, ib;
	int			 n = 0, full = 0;

	login_ok(&a, &lo);
	do_readcap(&a);
	login_ok(&b, &lo);
	do_readcap(&b);
	buf = xmalloc(QR_BLOCKS * a.c_blksz);
	memset(buf, 0x7e, QR_BLOCKS * a.c_blksz);
	memset(&io, 0, sizeof(io));
	end = now_ms() + 1000 * opt.o_wait;
	while (now_ms() < end) {
		lba = (uint32_t)(n % (QR_SPAN / QR_BLOCKS)) * QR_BLOCKS;
		ia = qr_write(&a, lba, buf);
		ib = qr_unmap(&b, lba, unmap);
		cmd_finish(&a, ia, &io, &res);
		if (res.sr_status == ST_CHECK && sense_asc(&res) == 0x2707)
			full++;
		else if (res.sr_status != ST_GOOD)
			fail("WRITE(10) -> %s", res_str(&res));
		cmd_finish(&b, ib, &io, &res);
		if (res.sr_status != ST_GOOD)
			fail("UNMAP -> %s", res_str(&res));
		n++;
	}
	step("%d writes raced %d unmaps of the same blocks (%d over quota)",
	    n, n, full);
	logout(&a);
	logout(&b);
	free(buf);
}

/* ---- MODE SELECT changes the nexus's own mode pages ---- */

/* Set or clear SWP in the control page of c's nexus. */
static void
set_swp(struct conn *c, int on)
{
	uint8_t		ms[8 + 12], sel[8 + 12];
	struct scsi_io	io;
	struct scsi_res	res;

	memset(&io, 0, sizeof(io));
	io.io_cdb[0] = 0x5a;			/* MODE SENSE(10) */
	io.io_cdb[1] = 0x08;			/* no block descriptors */
	io.io_cdb[2] = 0x0a;			/* control page, current */
	be16enc(io.io_cdb + 7, sizeof(ms));
	io.io_in = ms;
	io.io_inlen = io.io_edtl = sizeof(ms);
	scsi_good(c, &io, &res, "MODE SENSE(10) control page");
	memset(sel, 0, 8);
	memcpy(sel + 8, ms + 8, 12);
	sel[8] &= 0x3f;				/* PS */
	sel[8 + 4] = (uint8_t)((sel[8 + 4] & ~0x08) | (on ? 0x08 : 0));
	memset(&io, 0, sizeof(io));
	io.io_cdb[0] = 0x55;			/* MODE SELECT(10) */
	io.io_cdb[1] = 0x10;			/* PF */
	be16enc(io.io_cdb + 7, sizeof(sel));
	io.io_out = sel;
	io.io_outlen = io.io_edtl = sizeof(sel);
	scsi_good(c, &io, &res, "MODE SELECT(10) SWP");
	step("MODE SELECT(10): SWP %s", on ? "on" : "off");
}

/*
 * Two initiators on one shared LU: A turns on software write protect;
 * A's writes are refused, B's are not, and B is told nothing.
 */
static void
sc_mode_isolation(void)
{
	struct conn	 a, b;

	pr_login(&a, opt.o_initiator, pr_isid_a);
	pr_login(&b, opt.o_initiator_b, pr_isid_b);
	set_swp(&a, 1);
	if (rw_status(&a, SCSI_WRITE10) != ST_CHECK)
		fail("A: WRITE(10) with its SWP on was not refused");
	step("A: WRITE(10) -> CHECK CONDITION (write protected)");
	status_is("B: WRITE(10)", rw_status(&b, SCSI_WRITE10), ST_GOOD);
	set_swp(&a, 0);
	status_is("A: WRITE(10) with SWP off", rw_status(&a, SCSI_WRITE10),
	    ST_GOOD);
	logout(&a);
	logout(&b);
}

/* ---- EXTENDED COPY answers to every LU it touches ---- */

#define PR_RELEASE	0x02
#define PR_EA		0x3		/* Exclusive Access */

/* The NAA designator of the LUN in opt.o_lun (VPD page 83h). */
static void
lun_naa(struct conn *c, uint8_t naa[8])
{
	uint8_t		buf[256];
	struct scsi_io	io;
	struct scsi_res	res;
	size_t		off, len;

	memset(&io, 0, sizeof(io));
	io.io_cdb[0] = 0x12;
	io.io_cdb[1] = 0x01;
	io.io_cdb[2] = 0x83;
	be16enc(io.io_cdb + 3, sizeof(buf));
	io.io_in = buf;
	io.io_inlen = io.io_edtl = sizeof(buf);
	scsi_good(c, &io, &res, "INQUIRY VPD 83h");
	len = 4 + be16dec(buf + 2);
	for (off = 4; off + 4 <= len && off + 4 + buf[off + 3] <= len;
	    off += 4 + buf[off + 3])
		if ((buf[off + 1] & 0x0f) == 3 && buf[off + 3] == 8) {
			memcpy(naa, buf + off + 4, 8);
			return;
		}
	fail("LUN %d: no NAA designator", opt.o_lun);
}

/* EXTENDED COPY to LUN 0: n blocks from (src, slba) to (dst, dlba). */
static uint8_t
xcopy(struct conn *c, const uint8_t *src, const uint8_t *dst, uint64_t slba,
    uint64_t dlba, uint16_t n)
{
	uint8_t		p[16 + 2 * 32 + 28];
	const uint8_t	*naa[2] = { src, dst };
	struct scsi_io	io;
	struct scsi_res	res;
	uint8_t		*d;
	int		i, lun = opt.o_lun;

	memset(p, 0, sizeof(p));
	p[1] = 0x18;			/* LIST ID USAGE 11b: none */
	be16enc(p + 2, 2 * 32);
	be32enc(p + 8, 28);
	for (i = 0; i < 2; i++) {
		d = p + 16 + 32 * i;
		d[0] = 0xe4;		/* identification descriptor */
		d[4] = 0x01;		/* binary */
		d[5] = 0x03;		/* NAA */
		d[7] = 8;
		memcpy(d + 8, naa[i], 8);
		be24enc(d + 29, c->c_blksz);
	}
	d = p + 16 + 64;
	d[0] = 0x02;			/* block to block */
	be16enc(d + 2, 24);
	be16enc(d + 4, 0);
	be16enc(d + 6, 1);
	be16enc(d + 10, n);
	be64enc(d + 12, slba);
	be64enc(d + 20, dlba);
	memset(&io, 0, sizeof(io));
	io.io_cdb[0] = 0x83;
	be32enc(io.io_cdb + 10, sizeof(p));
	io.io_out = p;
	io.io_outlen = io.io_edtl = sizeof(p);
	opt.o_lun = 0;
	scsi_status(c, &io, &res);
	opt.o_lun = lun;
	return res.sr_status;
}

/* What LUN 0 and LUN 1 hold at LBA 0..7, as B (who may read both). */
static void
xc_snapshot(struct conn *b, uint8_t *l0, uint8_t *l1)
{
	opt.o_lun = 0;
	do_read(b, 0, 8, l0);
	opt.o_lun = 1;
	do_read(b, 0, 8, l1);
}

/*
 * A holds LUN 1 WRITE EXCLUSIVE: B's copy into LUN 1, sent to LUN 0,
 * conflicts as B's WRITE to LUN 1 does.  A then holds EXCLUSIVE ACCESS:
 * B's copy out of LUN 1 conflicts as B's READ of it does.
 */
static void
sc_xcopy_pr(void)
{
	struct conn	 a, b;
	uint8_t		 naa0[8], naa1[8], *l0, *l1, *now;

	pr_login(&a, opt.o_initiator, pr_isid_a);
	pr_login(&b, opt.o_initiator_b, pr_isid_b);
	l0 = xmalloc(8 * b.c_blksz);
	l1 = xmalloc(8 * b.c_blksz);
	now = xmalloc(8 * b.c_blksz);
	opt.o_lun = 0;
	lun_naa(&b, naa0);
	opt.o_lun = 1;
	lun_naa(&b, naa1);
	status_is("A: REGISTER on LUN 1", pr_out(&a, PR_REG_IGNORE, 0, 0,
	    PR_KEY_A), ST_GOOD);
	status_is("A: RESERVE Write Exclusive", pr_out(&a, PR_RESERVE, PR_WE,
	    PR_KEY_A, 0), ST_GOOD);
	status_is("B: WRITE(10) to LUN 1", rw_status(&b, SCSI_WRITE10),
	    ST_CONFLICT);
	xc_snapshot(&b, l0, l1);
	status_is("B: EXTENDED COPY LUN 0 -> LUN 1, sent to LUN 0",
	    xcopy(&b, naa0, naa1, 0, 0, 8), ST_CONFLICT);
	opt.o_lun = 1;
	do_read(&b, 0, 8, now);
	if (memcmp(now, l1, 8 * b.c_blksz) != 0)
		fail("the copy wrote LUN 1");
	step("LUN 1 unchanged");
	status_is("A: RELEASE", pr_out(&a, PR_RELEASE, PR_WE, PR_KEY_A, 0),
	    ST_GOOD);
	status_is("A: RESERVE Exclusive Access", pr_out(&a, PR_RESERVE,
	    PR_EA, PR_KEY_A, 0), ST_GOOD);
	status_is("B: READ(10) of LUN 1", rw_status(&b, SCSI_READ10),
	    ST_CONFLICT);
	status_is("B: EXTENDED COPY LUN 1 -> LUN 0, sent to LUN 0",
	    xcopy(&b, naa1, naa0, 0, 0, 8), ST_CONFLICT);
	opt.o_lun = 0;
	do_read(&b, 0, 8, now);
	if (memcmp(now, l0, 8 * b.c_blksz) != 0)
		fail("the copy read LUN 1 into LUN 0");
	step("LUN 0 unchanged");
	opt.o_lun = 1;
	status_is("A: CLEAR", pr_out(&a, PR_CLEAR, 0, PR_KEY_A, 0), ST_GOOD);
	status_is("B: EXTENDED COPY LUN 1 -> LUN 0 once nothing is reserved",
	    xcopy(&b, naa1, naa0, 0, 0, 8), ST_GOOD);
	logout(&a);
	logout(&b);
	free(l0);
	free(l1);
	free(now);
}

/* A parameter list longer than any EXTENDED COPY needs: refused at once. */
static void
sc_xcopy_huge(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	struct pdu		p;
	struct scsi_res		res;
	uint8_t			h[BHS_LEN];
	uint32_t		itt;

	login_ok(&c, &lo);
	itt = c.c_itt++;
	bhs_init(h, OP_SCSI_CMD, 0x80 | 0x20 | 0x01);
	lun_enc(h + 8);
	be32enc(h + 16, itt);
	be32enc(h + 20, 64 << 20);
	be32enc(h + 24, c.c_cmdsn++);
	be32enc(h + 28, c.c_expstatsn);
	h[32] = 0x83;
	be32enc(h + 42, 64 << 20);
	if (pdu_send(&c, h, NULL, 0, NULL, 0, 0) == -1)
		fail("send: %s", strerror(errno));
	step("EXTENDED COPY with a 64 MiB parameter list");
	reply_wait(&c, &p, "SCSI Response");
	if (pdu_op(&p) != OP_SCSI_RSP)
		fail("expected the SCSI Response at once, got %s",
		    pdu_describe(&p));
	memset(&res, 0, sizeof(res));
	res.sr_reject = -1;
	cmd_response(&p, &res);
	pdu_free(&p);
	if (res.sr_status != ST_CHECK || sense_key(&res) != 0x05 ||
	    sense_asc(&res) != 0x1a00)
		fail("-> %s ASC/ASCQ 0x%04x, expected PARAMETER LIST LENGTH "
		    "ERROR", res_str(&res), sense_asc(&res));
	step("-> CHECK CONDITION, PARAMETER LIST LENGTH ERROR");
	do_tur(&c);
	logout(&c);
}

static const struct scenario {
	const char	*sc_name;
	void		(*sc_fn)(void);
	int		 sc_waits;	/* -w periods it may take, beyond -T */
} scenarios[] = {
	{ "login",		sc_login,		0 },
	{ "digests",		sc_digests,		0 },
	{ "bad-data-digest",	sc_bad_data_digest,	0 },
	{ "bad-header-digest",	sc_bad_header_digest,	0 },
	{ "oversize-dsl",	sc_oversize_dsl,	0 },
	{ "garbage",		sc_garbage,		0 },
	{ "truncated",		sc_truncated,		0 },
	{ "ffp-before-login",	sc_ffp_before_login,	0 },
	{ "unknown-opcode",	sc_unknown_opcode,	0 },
	{ "ahs",		sc_ahs,			0 },
	{ "cmdsn-window",	sc_cmdsn_window,	0 },
	{ "chap-ok",		sc_chap_ok,		0 },
	{ "chap-bad-secret",	sc_chap_bad_secret,	0 },
	{ "chap-reflect",	sc_chap_reflect,	0 },
	{ "chap-bad-length",	sc_chap_bad_length,	0 },
	{ "chap-bad-hex",	sc_chap_bad_hex,	0 },
	{ "chap-mutual",	sc_chap_mutual,		0 },
	{ "tsih-nonzero",	sc_tsih_nonzero,	0 },
	{ "text-loop",		sc_text_loop,		0 },
	{ "ordered",		sc_ordered,		0 },
	{ "unknown-task-data",	sc_unknown_task_data,	0 },
	{ "sendtargets-hidden",	sc_sendtargets_hidden,	0 },
	{ "nopin",		sc_nopin,		2 },
	{ "nopin-answer",	sc_nopin_answer,	3 },
	{ "reinstate",		sc_reinstate,		0 },
	{ "stranger-reinstate",	sc_stranger_reinstate,	1 },
	{ "hold",		sc_hold,		1 },
	{ "write-residual",	sc_write_residual,	0 },
	{ "dataout-overlap",	sc_dataout_overlap,	0 },
	{ "dataout-overlap-r2t", sc_dataout_overlap_r2t, 0 },
	{ "dataout-bad-ttt",	sc_dataout_bad_ttt,	0 },
	{ "unsol-short",	sc_unsol_short,		0 },
	{ "pending-wait",	sc_pending_wait,	1 },
	{ "quota-race",		sc_quota_race,		1 },
	{ "pr-fence",		sc_pr_fence,		0 },
	{ "pr-check",		sc_pr_check,		0 },
	{ "pr-clear",		sc_pr_clear,		0 },
	{ "xcopy-pr",		sc_xcopy_pr,		0 },
	{ "mode-isolation",	sc_mode_isolation,	0 },
	{ "xcopy-huge",		sc_xcopy_huge,		0 },
	{ "cold-reset",		sc_cold_reset,		0 },
	{ "caw-count",		sc_caw_count,		0 },
	{ "caw-value",		sc_caw_value,		0 },
};

/* ---- discovery (when no -t was given) ---- */

static void
discover(void)
{
	struct login_opts	lo = { .lo_target = NULL };
	static const char	st[] = "SendTargets=All";
	static char		name[256];
	struct conn		c;
	struct pdu		p;
	uint8_t			h[BHS_LEN];
	const char		*v;

	login_ok(&c, &lo);
	bhs_init(h, OP_I | OP_TEXT_REQ, 0x80);
	be32enc(h + 16, c.c_itt++);
	be32enc(h + 20, RSVD_TAG);
	be32enc(h + 24, c.c_cmdsn);
	be32enc(h + 28, c.c_expstatsn);
	if (pdu_send(&c, h, NULL, 0, st, sizeof(st), 0) == -1)
		fail("send: %s", strerror(errno));
	reply_wait(&c, &p, "Text Response");
	if (pdu_op(&p) != OP_TEXT_RSP || (v = kv_get(&p, "TargetName")) ==
	    NULL)
		fail("SendTargets: %s without TargetName", pdu_describe(&p));
	snprintf(name, sizeof(name), "%s", v);
	opt.o_target = name;
	step("discovered %s", name);
	pdu_free(&p);
	conn_close(&c);
}

/* ---- main ---- */

static void
on_alarm(int sig)
{
	static const char	pre[] = "isctest: ";
	static const char	post[] = ": FAIL: global timeout (-T)\n";
	ssize_t			r;

	(void)sig;
	r = write(2, pre, sizeof(pre) - 1);
	r = write(2, scenario, strlen(scenario));
	r = write(2, post, sizeof(post) - 1);
	(void)r;
	_exit(1);
}

static void __attribute__((noreturn))
usage(void)
{
	size_t	i;

	fprintf(stderr, "usage: isctest -p HOST:PORT [-t TARGET_IQN] "
	    "[-i INITIATOR_IQN] [-I INITIATOR2_IQN] [-u CHAPUSER -s CHAPSECRET]\n"
	    "\t[-U TUSER -S TSECRET] [-D] [-l LUN] [-v] [-w SECONDS] [-n COUNT] "
	    "[-T SECONDS] [-b STRANGER_ADDR] [-B SOURCE_ADDR] SCENARIO\n"
	    "scenarios:");
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		fprintf(stderr, " %s", scenarios[i].sc_name);
	fputc('\n', stderr);
	exit(1);
}

static void
parse_portal(char *s)
{
	char	*colon = strrchr(s, ':');

	if (colon == NULL || colon[1] == '\0')
		usage();
	*colon = '\0';
	opt.o_port = colon + 1;
	if (s[0] == '[' && colon > s + 1 && colon[-1] == ']') {
		colon[-1] = '\0';
		s++;
	}
	opt.o_host = s;
}

static int
num_arg(const char *s, int min)
{
	char	*ep;
	long	 v = strtol(s, &ep, 10);

	if (*s == '\0' || *ep != '\0' || v < min || v > 16383)
		usage();
	return (int)v;
}

static const struct scenario *
parse_args(int argc, char **argv)
{
	int	ch;
	size_t	i;

	while ((ch = getopt(argc, argv, "B:b:p:t:i:I:u:s:U:S:Dl:vw:n:T:")) !=
	    -1) {
		switch (ch) {
		case 'B': opt.o_bind_all = optarg; break;
		case 'b': opt.o_bind = optarg; break;
		case 'p': parse_portal(optarg); break;
		case 't': opt.o_target = optarg; break;
		case 'i': opt.o_initiator = optarg; break;
		case 'I': opt.o_initiator_b = optarg; break;
		case 'u': opt.o_user = optarg; break;
		case 's': opt.o_secret = optarg; break;
		case 'U': opt.o_tuser = optarg; break;
		case 'S': opt.o_tsecret = optarg; break;
		case 'D': opt.o_digests = 1; break;
		case 'v': opt.o_verbose = 1; break;
		case 'l': opt.o_lun = num_arg(optarg, 0); break;
		case 'w': opt.o_wait = num_arg(optarg, 1); break;
		case 'n': opt.o_count = num_arg(optarg, 1); break;
		case 'T': opt.o_timeout = num_arg(optarg, 1); break;
		default: usage();
		}
	}
	if (opt.o_host == NULL || optind != argc - 1 ||
	    (opt.o_user == NULL) != (opt.o_secret == NULL))
		usage();
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(scenarios[i].sc_name, argv[optind]) == 0)
			return &scenarios[i];
	usage();
}

int
main(int argc, char **argv)
{
	const struct scenario	*sc = parse_args(argc, argv);
	struct sigaction	 sa;
	int			 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)opt.o_timeout);
	if (opt.o_target == NULL)
		discover();
	scenario = sc->sc_name;
	for (i = 1; i <= opt.o_count; i++) {
		alarm((unsigned)(opt.o_timeout + sc->sc_waits * opt.o_wait));
		sc->sc_fn();
		alarm(0);
		step("PASS (%d/%d)", i, opt.o_count);
	}
	return 0;
}
