/*
 * libFuzzer harness for a worker's receive path: bytes on an iSCSI
 * connection, through framing, digests, login (CHAP one-way and mutual),
 * text negotiation and every full-feature PDU, to the SCSI layer and the
 * copy-on-write LUs.  The worker is the real one (fuzzworker.c): the
 * harness hands it one end of a socketpair with conn_accept() and plays
 * the initiator on the other end.
 *
 * Input: one byte saying how the connections start (FI_*), then records
 * [kind][length, 16 bits big-endian][bytes], each written to a
 * connection, the worker's loop run until idle between records.
 *
 * A "framed" record is one PDU that the harness completes: it sets the
 * DataSegmentLength, appends padding and the digests negotiated, and maps
 * the data of WRITE-family commands into the initiators' alphabet
 * (fuzzenv.h); its data may be made up here (FR_GEN), so that the
 * fuzzer's mutations land on headers.  A raw record is written as it
 * is.  With a canned login the harness logs in itself (computing CHAP
 * responses), so that the fuzzer starts in full feature phase.
 *
 * Invariants checked besides crashes, each named for SCSIPUB_FUZZ_SKIP:
 *	readback	every byte of a READ's Data-In is a base image's or
 *			one an initiator wrote, never memory nobody wrote
 *	framing		the target's PDUs: known opcodes, digests right
 *			(the harness computes them with crc32c_sw(), the
 *			target with the SSE4.2 code when the CPU has it),
 *			Data-In in order (DataSN, buffer offset)
 *	mrdsl		no data segment over our MaxRecvDataSegmentLength
 *	chap		the target's mutual CHAP response is right
 *	auth		no session starts on a CHAP target (vault, p-fuzz)
 *			but those the harness logged in with CHAP
 *	hidden		the CHAP target "vault" is never named to a
 *			session that did not authenticate to it
 *	readonly	nothing reaches the LU of the "readonly" target
 *	reservation	nothing reaches vault's LUN 1 while FZ_GHOST holds
 *			it WRITE EXCLUSIVE
 *	lingering	no connection outlives its socket
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/sockios.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bytes.h"
#include "crc32c.h"
#include "fuzzenv.h"
#include "fuzzinput.h"
#include "hash.h"
#include "shmq.h"

#define FI_MRDSL	4096	/* our MaxRecvDataSegmentLength */
#define FI_ITT_MAX	512
#define FI_TEXT_MAX	(64 * 1024)
#define FI_LTEXT_MAX	8192

#define ITT_READ	0x01
#define ITT_WRITE	0x02
#define ITT_OTHER	0x04

struct fi_itt {
	uint32_t	 it_itt;
	int		 it_flags;
};

struct fi_conn {
	int		 fc_fd;		/* ours; -1 once closed */
	int		 fc_idx;
	int		 fc_canned;	/* logged in by the harness */
	int		 fc_ffp;	/* full feature phase: digests on */
	int		 fc_hd, fc_dd;
	int		 fc_vault;	/* authenticated to vault */
	int		 fc_dead;	/* the worker closed it */
	uint8_t		*fc_rx;
	size_t		 fc_rxlen, fc_rxcap;
	int		 fc_outq;
	uint8_t		 fc_login[ISCSI_BHS_LEN];
	char		 fc_ltext[FI_LTEXT_MAX + 1];
	size_t		 fc_ltextlen;
	int		 fc_nlogin;	/* login responses seen */
	uint32_t	 fc_statsn;
	struct fi_itt	 fc_itt[FI_ITT_MAX];
	int		 fc_nitt;
	char		 fc_text[FI_TEXT_MAX + 1];
	size_t		 fc_textlen;
	int		 fc_din_open;	/* Data-In sequence under way */
	uint32_t	 fc_din_itt, fc_din_sn, fc_din_off;
};

static struct tworker	 fi_w;
static struct fi_conn	 fi_c[2];
static int		 fi_nconn;
static int		 fi_raw;	/* a raw record: no readback */
static int		 fi_prefix;
static int		 fi_chap_starts; /* sessions on CHAP targets */

/* ---- Plumbing: the connection's other end ---- */

static void
fi_rx_add(struct fi_conn *c, const uint8_t *p, size_t n)
{
	if (c->fc_rxlen + n > c->fc_rxcap) {
		c->fc_rxcap = (c->fc_rxlen + n) * 2;
		if ((c->fc_rx = realloc(c->fc_rx, c->fc_rxcap)) == NULL)
			abort();
	}
	memcpy(c->fc_rx + c->fc_rxlen, p, n);
	c->fc_rxlen += n;
}

static void	fi_parse(struct fi_conn *);

/* Read what the worker sent; note what it has not read yet. */
static int
fi_io_conn(struct fi_conn *c)
{
	uint8_t		 buf[65536];
	ssize_t		 n;
	int		 moved = 0, outq = 0;

	if (c->fc_fd == -1)
		return 0;
	while ((n = read(c->fc_fd, buf, sizeof(buf))) > 0) {
		moved = 1;
		if (c->fc_canned)
			fi_rx_add(c, buf, (size_t)n);
	}
	if (n == 0)
		c->fc_dead = 1;
	if (moved && c->fc_canned)
		fi_parse(c);
	if (ioctl(c->fc_fd, SIOCOUTQ, &outq) == 0 && outq != c->fc_outq) {
		c->fc_outq = outq;
		moved = 1;
	}
	return moved;
}

static int
fi_io(void *arg)
{
	int	 i, moved = 0;

	(void)arg;
	for (i = 0; i < fi_nconn; i++)
		moved += fi_io_conn(&fi_c[i]);
	return moved;
}

static void
fi_pump(void)
{
	if (tw_pump(&fi_w, fi_io, NULL) == -1 && fz_check("lingering"))
		fz_fail("lingering", "the worker never became idle");
}

/* Write all of buf, running the worker while the socket is full. */
static void
fi_write(struct fi_conn *c, const uint8_t *buf, size_t len)
{
	ssize_t	 n;
	int	 stuck = 0;

	while (len > 0 && c->fc_fd != -1 && !c->fc_dead && stuck < 8) {
		n = write(c->fc_fd, buf, len);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			stuck = 0;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return;		/* the worker closed it */
		fi_pump();
		stuck++;
	}
}

static void
fi_conn_open(struct fi_conn *c, int idx)
{
	free(c->fc_rx);
	memset(c, 0, sizeof(*c));
	c->fc_idx = idx;
	if ((c->fc_fd = tw_connect(&fi_w, 0)) == -1)
		abort();
}

/* ---- The target's PDUs ---- */

static int
fi_target_op(int op)
{
	return (op >= 0x20 && op <= 0x26) || op == 0x31 || op == 0x32 ||
	    op == 0x3f;
}

static struct fi_itt *
fi_itt(struct fi_conn *c, uint32_t itt, int add)
{
	int	 i;

	for (i = 0; i < c->fc_nitt; i++)
		if (c->fc_itt[i].it_itt == itt)
			return &c->fc_itt[i];
	if (!add || c->fc_nitt == FI_ITT_MAX)
		return NULL;
	c->fc_itt[c->fc_nitt].it_itt = itt;
	c->fc_itt[c->fc_nitt].it_flags = 0;
	return &c->fc_itt[c->fc_nitt++];
}

static void
fi_data_in(struct fi_conn *c, const uint8_t *bhs, const uint8_t *d,
    uint32_t dlen)
{
	uint32_t	 itt = be32dec(bhs + 16), sn = be32dec(bhs + 36);
	uint32_t	 off = be32dec(bhs + 40);
	struct fi_itt	*it;
	size_t		 bad;

	if (fz_check("framing")) {
		if (!c->fc_din_open || c->fc_din_itt != itt) {
			c->fc_din_open = 1;
			c->fc_din_itt = itt;
			c->fc_din_sn = c->fc_din_off = 0;
		}
		if (sn != c->fc_din_sn || off != c->fc_din_off)
			fz_fail("framing", "Data-In ITT 0x%08x: DataSN %u "
			    "offset %u, want %u at %u", itt, sn, off,
			    c->fc_din_sn, c->fc_din_off);
		c->fc_din_sn++;
		c->fc_din_off += dlen;
		if (bhs[1] & 0x80)
			c->fc_din_open = 0;
	}
	if (fi_raw || !fz_check("readback") ||
	    (it = fi_itt(c, itt, 0)) == NULL || it->it_flags != ITT_READ)
		return;
	if ((bad = fz_bad_byte(d, dlen)) < dlen)
		fz_fail("readback", "connection %d: READ ITT 0x%08x returned "
		    "byte 0x%02x at offset %u, written by nobody", c->fc_idx,
		    itt, d[bad], off + (uint32_t)bad);
}

/* Text Response data: vault must not be named to a stranger. */
static void
fi_text(struct fi_conn *c, const uint8_t *bhs, const uint8_t *d,
    uint32_t dlen)
{
	static const char vault[] = "TargetName=" FZ_PREFIX ":vault";

	if (c->fc_textlen + dlen > FI_TEXT_MAX)
		c->fc_textlen = 0;
	if (dlen <= FI_TEXT_MAX) {
		memcpy(c->fc_text + c->fc_textlen, d, dlen);
		c->fc_textlen += dlen;
	}
	if (!(bhs[1] & 0x80))
		return;			/* more to come (C bit) */
	if (!c->fc_vault && fz_check("hidden") &&
	    memmem(c->fc_text, c->fc_textlen, vault, sizeof(vault) - 1) !=
	    NULL)
		fz_fail("hidden", "connection %d, not authenticated to vault,"
		    " was told its name", c->fc_idx);
	c->fc_textlen = 0;
}

static void
fi_login_rsp(struct fi_conn *c, const uint8_t *bhs, const uint8_t *d,
    uint32_t dlen)
{
	memcpy(c->fc_login, bhs, ISCSI_BHS_LEN);
	c->fc_ltextlen = dlen < FI_LTEXT_MAX ? dlen : FI_LTEXT_MAX;
	memcpy(c->fc_ltext, d, c->fc_ltextlen);
	c->fc_ltext[c->fc_ltextlen] = '\0';
	c->fc_statsn = be32dec(bhs + 24);
	c->fc_nlogin++;
}

/* SCSIPUB_FUZZ_LOG: what the target answered, one line a PDU. */
static void
fi_trace(const struct fi_conn *c, const uint8_t *bhs, uint32_t dlen)
{
	static int	 on = -1;

	if (on == -1)
		on = getenv("SCSIPUB_FUZZ_LOG") != NULL;
	if (on)
		fprintf(stderr, "fuzz_iscsi: conn %d <- op 0x%02x flags 0x%02x "
		    "status 0x%02x%02x ITT 0x%08x TTT 0x%08x StatSN %u "
		    "%u bytes\n", c->fc_idx, bhs[0] & 0x3f, bhs[1], bhs[2],
		    bhs[3], be32dec(bhs + 16), be32dec(bhs + 20),
		    be32dec(bhs + 24), dlen);
}

/* One PDU from the target, its digests already checked. */
static void
fi_pdu(struct fi_conn *c, const uint8_t *bhs, const uint8_t *d,
    uint32_t dlen)
{
	int	 op = bhs[0] & 0x3f;

	fi_trace(c, bhs, dlen);
	if (fz_check("framing") && !fi_target_op(op))
		fz_fail("framing", "connection %d: opcode 0x%02x from the "
		    "target", c->fc_idx, op);
	if (fz_check("mrdsl") && c->fc_ffp && dlen > FI_MRDSL)
		fz_fail("mrdsl", "connection %d: opcode 0x%02x with %u "
		    "bytes of data, over our MaxRecvDataSegmentLength %u",
		    c->fc_idx, op, dlen, FI_MRDSL);
	if (op == 0x23)
		fi_login_rsp(c, bhs, d, dlen);
	else if (op == 0x25)
		fi_data_in(c, bhs, d, dlen);
	else if (op == 0x24)
		fi_text(c, bhs, d, dlen);
	else if (op == 0x21 && c->fc_din_itt == be32dec(bhs + 16))
		c->fc_din_open = 0;
}

static void
fi_digest(struct fi_conn *c, const char *what, const uint8_t *p, size_t len,
    const uint8_t *dig)
{
	if (fz_check("framing") && crc32c_sw(0, p, len) != le32dec(dig))
		fz_fail("framing", "connection %d: %s digest wrong", c->fc_idx,
		    what);
}

/* Take every whole PDU out of the receive buffer. */
static void
fi_parse(struct fi_conn *c)
{
	const uint8_t	*p;
	size_t		 off = 0, hlen, need;
	uint32_t	 dlen, dpad;
	int		 hd, dd;

	for (;;) {
		p = c->fc_rx + off;
		hd = c->fc_ffp && c->fc_hd ? 4 : 0;
		dd = c->fc_ffp && c->fc_dd ? 4 : 0;
		if (c->fc_rxlen - off < ISCSI_BHS_LEN)
			break;
		hlen = ISCSI_BHS_LEN + (size_t)p[4] * 4;
		dlen = be24dec(p + 5);
		dpad = (dlen + 3) & ~3U;
		need = hlen + hd + dpad + (dlen > 0 ? dd : 0);
		if (c->fc_rxlen - off < need)
			break;
		if (hd)
			fi_digest(c, "header", p, hlen, p + hlen);
		if (dd && dlen > 0)
			fi_digest(c, "data", p + hlen + hd, dpad,
			    p + hlen + hd + dpad);
		fi_pdu(c, p, p + hlen + hd, dlen);
		off += need;
	}
	memmove(c->fc_rx, c->fc_rx + off, c->fc_rxlen - off);
	c->fc_rxlen -= off;
}

/* ---- Canned logins ---- */

static const char *
fi_key(const struct fi_conn *c, const char *key)
{
	size_t	 off = 0, n = strlen(key);

	while (off < c->fc_ltextlen) {
		if (strncmp(c->fc_ltext + off, key, n) == 0 &&
		    c->fc_ltext[off + n] == '=')
			return c->fc_ltext + off + n + 1;
		off += strlen(c->fc_ltext + off) + 1;
	}
	return NULL;
}

static void	fi_login_fail(const struct fi_conn *, const char *)
		    __attribute__((noreturn));

static void
fi_login_fail(const struct fi_conn *c, const char *why)
{
	fprintf(stderr, "fuzz_iscsi: canned login of connection %d: %s "
	    "(status 0x%02x%02x)\n", c->fc_idx, why, c->fc_login[36],
	    c->fc_login[37]);
	abort();
}

/* Send one Login Request and wait for its response. */
static void
fi_login_pdu(struct fi_conn *c, int csg, int nsg, int transit,
    const char *text, size_t len)
{
	uint8_t		 bhs[ISCSI_BHS_LEN];
	static const uint8_t pad[4];
	int		 seen = c->fc_nlogin;

	memset(bhs, 0, sizeof(bhs));
	bhs[0] = 0x40 | 0x03;
	bhs[1] = (uint8_t)((transit ? 0x80 : 0) | csg << 2 | nsg);
	be24enc(bhs + 5, (uint32_t)len);
	bhs[8] = 0x80;
	bhs[13] = (uint8_t)(1 + c->fc_idx);
	be32enc(bhs + 16, 0x1000 + (uint32_t)seen);
	be32enc(bhs + 24, 1);
	be32enc(bhs + 28, c->fc_statsn + (seen ? 1 : 0));
	fi_write(c, bhs, sizeof(bhs));
	fi_write(c, (const uint8_t *)text, len);
	fi_write(c, pad, (4 - (len & 3)) & 3);
	fi_pump();
	if (c->fc_nlogin == seen)
		fi_login_fail(c, "no answer");
	if (c->fc_login[36] != 0)
		fi_login_fail(c, "refused");
}

static size_t
fi_kv(char *buf, size_t off, const char *key, const char *val)
{
	int	 n;

	n = snprintf(buf + off, FI_LTEXT_MAX - off, "%s=%s", key, val);
	if (n < 0 || (size_t)n >= FI_LTEXT_MAX - off)
		abort();
	return off + (size_t)n + 1;
}

static void
fi_hex(char *out, const uint8_t *p, size_t n)
{
	size_t	 i;

	out[0] = '0';
	out[1] = 'x';
	for (i = 0; i < n; i++)
		snprintf(out + 2 + 2 * i, 3, "%02x", p[i]);
}

static size_t
fi_unhex(const char *s, uint8_t *out, size_t max)
{
	size_t		 n = 0;
	unsigned	 v;

	if (s == NULL || strncmp(s, "0x", 2) != 0)
		return 0;
	for (s += 2; s[0] != '\0' && s[1] != '\0' && n < max; s += 2) {
		if (sscanf(s, "%2x", &v) != 1)
			return 0;
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void
fi_md5(uint8_t id, const char *secret, const uint8_t *chal, size_t clen,
    uint8_t out[16])
{
	EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
	unsigned	 n = 16;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, &id, 1) != 1 ||
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) != 1 ||
	    EVP_DigestUpdate(ctx, chal, clen) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1)
		abort();
	EVP_MD_CTX_free(ctx);
}

/* Our challenge for mutual CHAP, and the target's answer checked. */
static const uint8_t fi_mchal[16] = "fuzz-mutual-chal";

static void
fi_mutual_check(struct fi_conn *c)
{
	uint8_t		 want[16], got[16];

	fi_md5(77, FZ_VAULT_MSECRET, fi_mchal, sizeof(fi_mchal), want);
	if (!fz_check("chap"))
		return;
	if (fi_key(c, "CHAP_N") == NULL ||
	    strcmp(fi_key(c, "CHAP_N"), FZ_VAULT_MUSER) != 0 ||
	    fi_unhex(fi_key(c, "CHAP_R"), got, sizeof(got)) != 16 ||
	    memcmp(want, got, 16) != 0)
		fz_fail("chap", "mutual CHAP: the target answered CHAP_N=%s "
		    "CHAP_R=%s", fi_key(c, "CHAP_N") ? fi_key(c, "CHAP_N") :
		    "-", fi_key(c, "CHAP_R") ? fi_key(c, "CHAP_R") : "-");
}

static void
fi_chap(struct fi_conn *c, char *t, size_t off, const char *user,
    const char *secret, int mutual)
{
	uint8_t		 chal[1024], r[16];
	char		 hex[2 + 2 * 1024 + 1];
	size_t		 clen;
	int		 id;

	off = fi_kv(t, off, "AuthMethod", "CHAP");
	fi_login_pdu(c, 0, 1, 0, t, off);
	fi_login_pdu(c, 0, 1, 0, "CHAP_A=5", 9);
	if (fi_key(c, "CHAP_I") == NULL ||
	    (clen = fi_unhex(fi_key(c, "CHAP_C"), chal, sizeof(chal))) == 0)
		fi_login_fail(c, "no CHAP challenge");
	id = atoi(fi_key(c, "CHAP_I"));
	fi_md5((uint8_t)id, secret, chal, clen, r);
	fi_hex(hex, r, sizeof(r));
	off = fi_kv(t, 0, "CHAP_N", user);
	off = fi_kv(t, off, "CHAP_R", hex);
	if (mutual) {
		fi_hex(hex, fi_mchal, sizeof(fi_mchal));
		off = fi_kv(t, off, "CHAP_I", "77");
		off = fi_kv(t, off, "CHAP_C", hex);
	}
	fi_login_pdu(c, 0, 1, 1, t, off);
	if (mutual)
		fi_mutual_check(c);
}

static const char *
fi_target(int prefix)
{
	switch (prefix) {
	case PFX_CHAP:
	case PFX_MUTUAL:
		return FZ_PREFIX ":vault";
	case PFX_MULTI:
		return FZ_PREFIX ":multi";
	case PFX_PSESS:
		return FZ_PREFIX ":" FZ_PSESS_IQN;
	case PFX_READONLY:
		return FZ_PREFIX ":ro";
	default:
		return FZ_PREFIX ":alpha";
	}
}

static void
fi_security(struct fi_conn *c, int prefix)
{
	char	 t[FI_LTEXT_MAX];
	size_t	 off;

	off = fi_kv(t, 0, "InitiatorName", c->fc_idx ?
	    "iqn.2025-01.test:fuzz-b" : "iqn.2025-01.test:fuzz-a");
	if (prefix == PFX_DISCOVERY)
		off = fi_kv(t, off, "SessionType", "Discovery");
	else {
		off = fi_kv(t, off, "SessionType", "Normal");
		off = fi_kv(t, off, "TargetName", fi_target(prefix));
	}
	if (prefix == PFX_CHAP || prefix == PFX_MUTUAL)
		fi_chap(c, t, off, FZ_VAULT_USER, FZ_VAULT_SECRET,
		    prefix == PFX_MUTUAL);
	else if (prefix == PFX_PSESS)
		fi_chap(c, t, off, FZ_PSESS_USER, FZ_PSESS_SECRET, 0);
	else {
		off = fi_kv(t, off, "AuthMethod", "None");
		fi_login_pdu(c, 0, 1, 1, t, off);
	}
	c->fc_vault = prefix == PFX_CHAP || prefix == PFX_MUTUAL;
}

static void
fi_operational(struct fi_conn *c, int mode)
{
	char	 t[FI_LTEXT_MAX];
	size_t	 off;
	int	 i;

	off = fi_kv(t, 0, "HeaderDigest", mode & FI_HDIGEST ? "CRC32C" :
	    "None");
	off = fi_kv(t, off, "DataDigest", mode & FI_DDIGEST ? "CRC32C" :
	    "None");
	off = fi_kv(t, off, "InitialR2T", mode & FI_UNSOL ? "No" : "Yes");
	off = fi_kv(t, off, "ImmediateData", mode & FI_NOIMM ? "No" : "Yes");
	off = fi_kv(t, off, "MaxRecvDataSegmentLength", "4096");
	off = fi_kv(t, off, "FirstBurstLength", "16384");
	off = fi_kv(t, off, "MaxBurstLength", "65536");
	off = fi_kv(t, off, "MaxOutstandingR2T", "2");
	off = fi_kv(t, off, "ErrorRecoveryLevel", "0");
	for (i = 0; i < 3; i++) {
		fi_login_pdu(c, 1, 3, 1, t, off);
		if ((c->fc_login[1] & 0x83) == 0x83)
			break;
		off = 0;
	}
	if ((c->fc_login[1] & 0x83) != 0x83)
		fi_login_fail(c, "no full feature phase");
	c->fc_hd = fi_key(c, "HeaderDigest") != NULL &&
	    strcmp(fi_key(c, "HeaderDigest"), "CRC32C") == 0;
	c->fc_dd = fi_key(c, "DataDigest") != NULL &&
	    strcmp(fi_key(c, "DataDigest"), "CRC32C") == 0;
	c->fc_ffp = 1;
}

static void
fi_canned_login(struct fi_conn *c, int mode)
{
	c->fc_canned = 1;
	fi_security(c, mode & FI_PFX_MASK);
	fi_operational(c, mode);
}

/* ---- Records ---- */

/* Should this PDU's data be mapped into the initiators' alphabet? */
static int
fi_map_data(struct fi_conn *c, const uint8_t *bhs)
{
	uint32_t	 itt = be32dec(bhs + 16);
	struct fi_itt	*it;
	int		 op = bhs[0] & 0x3f, flag;

	if (op == 0x01) {
		flag = fz_read_op(bhs[32]) ? ITT_READ :
		    fz_write_op(bhs[32]) ? ITT_WRITE : ITT_OTHER;
		if ((it = fi_itt(c, itt, 1)) != NULL)
			it->it_flags |= flag;
		return flag == ITT_WRITE || it == NULL;
	}
	if (op == 0x05) {
		it = fi_itt(c, itt, 0);
		return it == NULL || (it->it_flags & ITT_WRITE);
	}
	return 0;
}

/*
 * The data segment of a framed record: the rest of the record, or with
 * FR_GEN as many bytes as its two bytes say, made up here.
 */
static size_t
fi_frame_data(int kind, const uint8_t *r, size_t n, uint8_t *data)
{
	size_t	 dlen, i;

	if (!(kind & FR_GEN)) {
		memcpy(data, r, n);
		return n;
	}
	dlen = n >= 2 ? be16dec(r) : 0;
	for (i = 0; i < dlen; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 9));
	return dlen;
}

/* A framed record: one PDU, completed as the connection negotiated. */
static size_t
fi_frame(struct fi_conn *c, int kind, const uint8_t *r, size_t n,
    uint8_t *out)
{
	uint8_t		*data;
	size_t		 ahs, hlen, dlen, i, o;

	memset(out, 0, ISCSI_BHS_LEN);
	memcpy(out, r, n < ISCSI_BHS_LEN ? n : ISCSI_BHS_LEN);
	ahs = (size_t)out[4] * 4;
	hlen = ISCSI_BHS_LEN + ahs;
	memset(out + ISCSI_BHS_LEN, 0, ahs);
	if (n > ISCSI_BHS_LEN)
		memcpy(out + ISCSI_BHS_LEN, r + ISCSI_BHS_LEN,
		    n - ISCSI_BHS_LEN < ahs ? n - ISCSI_BHS_LEN : ahs);
	o = n < hlen ? n : hlen;
	data = out + hlen + (c->fc_ffp && c->fc_hd ? 4 : 0);
	dlen = fi_frame_data(kind, r + o, n - o, data);
	be24enc(out + 5, (uint32_t)dlen);
	if (c->fc_ffp && c->fc_hd)
		crc32c_le_enc(out + hlen, crc32c_sw(0, out, hlen));
	if (fi_map_data(c, out))
		for (i = 0; i < dlen; i++)
			data[i] = fz_ini_byte(data[i]);
	o = (size_t)(data - out) + dlen;
	while (o & 3)
		out[o++] = 0;
	if (c->fc_ffp && c->fc_dd && dlen > 0) {
		crc32c_le_enc(out + o, crc32c_sw(0, data, (size_t)(out + o -
		    data)));
		o += 4;
	}
	return o;
}

static void
fi_record(int kind, const uint8_t *r, size_t n)
{
	static uint8_t	 out[ISCSI_BHS_LEN + 1020 + 4 + 65536 + 8];
	struct fi_conn	*c = &fi_c[(kind & FR_CONN2) && fi_nconn > 1];
	const uint8_t	*p = r;
	size_t		 len = n;

	if (kind & FR_FRAMED) {
		len = fi_frame(c, kind, r, n, out);
		p = out;
	} else
		fi_raw = 1;
	if (kind & FR_SPLIT) {
		fi_write(c, p, len / 2);
		fi_pump();
		p += len / 2;
		len -= len / 2;
	}
	fi_write(c, p, len);
	fi_pump();
}

/* ---- One input ---- */

/* The coordinator hears of every session start: count the CHAP ones. */
static uint32_t
fi_hook(const struct shmq_msg *m, void *arg)
{
	static const char *const chap[] = { FZ_PREFIX ":vault",
	    FZ_PREFIX ":" FZ_PSESS_IQN };
	struct shmq_session ss;
	size_t		 i;

	(void)arg;
	if (m->m_type != SHMQ_SESSION_START || shmq_session_dec(m, &ss) != 0)
		return 0;
	for (i = 0; i < sizeof(chap) / sizeof(chap[0]); i++)
		if (strcasecmp(ss.ss_target, chap[i]) == 0)
			fi_chap_starts++;
	return 0;
}

/* Only the harness's own CHAP logins may start sessions on CHAP targets. */
static void
fi_check_auth(void)
{
	int	 want = 0;

	if (fi_prefix == PFX_CHAP || fi_prefix == PFX_MUTUAL ||
	    fi_prefix == PFX_PSESS)
		want = fi_nconn;
	if (fi_chap_starts > want && fz_check("auth"))
		fz_fail("auth", "%d session(s) on a CHAP target, %d of them "
		    "authenticated", fi_chap_starts, want);
}

static void
fi_start(int mode)
{
	int	 i;

	fi_prefix = mode & FI_PFX_MASK;
	fi_nconn = mode & FI_TWO ? 2 : 1;
	fi_raw = 0;
	fi_chap_starts = 0;
	for (i = 0; i < fi_nconn; i++) {
		fi_conn_open(&fi_c[i], i);
		if (fi_prefix != PFX_RAW)
			fi_canned_login(&fi_c[i], mode);
	}
}

/* Close our ends; the worker must let go of every connection. */
static void
fi_finish(void)
{
	int	 i;

	for (i = 0; i < fi_nconn; i++) {
		close(fi_c[i].fc_fd);
		fi_c[i].fc_fd = -1;
	}
	fi_pump();
	fi_check_auth();
	if (fi_w.tw_w.w_nconns != 0 && fz_check("lingering"))
		fz_fail("lingering", "%d connection(s) left after their "
		    "sockets closed", fi_w.tw_w.w_nconns);
	if (fz_check("readonly") && fz_overlay_written(&fi_w, "static-ro-0"))
		fz_fail("readonly", "the LU of the readonly target changed");
	if (fz_check("reservation") && fz_ghost_holds(&fi_w) &&
	    fz_overlay_written(&fi_w, "static-vault-1"))
		fz_fail("reservation", "vault LUN 1 changed while "
		    FZ_GHOST " held it WRITE EXCLUSIVE");
	fz_worker_reset(&fi_w);
}

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_seeds("iscsi");
	fz_worker_init(&fi_w, "iscsi", NULL, 0);
	fi_w.tw_hook = fi_hook;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t	 off = 1, n;

	if (size < 1)
		return 0;
	fi_start(data[0]);
	while (off + 3 <= size) {
		n = be16dec(data + off + 1);
		if (n > size - off - 3)
			n = size - off - 3;
		fi_record(data[off], data + off + 3, n);
		off += 3 + n;
	}
	fi_finish();
	return 0;
}
