/*
 * The initiator's end of a connection to an in-process worker
 * (initiator.h).  The digests of the target's PDUs are checked with
 * crc32c_sw(), not with the code the target uses.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "bytes.h"
#include "crc32c.h"
#include "initiator.h"
#include "scsi.h"
#include "suites.h"

#define TI_WRITE_MS	5000	/* how long a full socket may stay full */

static int64_t
ti_now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Byte off of images/NAME.img: alpha and beta differ everywhere. */
uint8_t
ti_image_byte(const char *name, uint64_t off)
{
	unsigned	 seed = strcmp(name, "alpha") == 0 ? 1 : 5;

	return (uint8_t)(off * 7 + (off >> 9) + seed);
}

static void
ti_image(struct tworker *tw, const char *name, size_t size)
{
	char		 p[1024];
	uint8_t		*b;
	size_t		 i;
	int		 fd;

	snprintf(p, sizeof(p), "%s/images/%s.img", tw->tw_dir, name);
	ck_assert_ptr_nonnull(b = malloc(size));
	for (i = 0; i < size; i++)
		b[i] = ti_image_byte(name, i);
	ck_assert_int_ge(fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	ck_assert_int_eq(write(fd, b, size), (ssize_t)size);
	close(fd);
	free(b);
}

/* A scratch directory named after tag, images alpha and beta in it. */
void
ti_worker_dirs(struct tworker *tw, const char *tag)
{
	const char	*tmp = getenv("TMPDIR");
	char		 dir[512];

	snprintf(dir, sizeof(dir), "%s/check_%s.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp", tag);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(tw_dirs(tw, dir), 0);
	ti_image(tw, "alpha", TI_ALPHA_SIZE);
	ti_image(tw, "beta", TI_BETA_SIZE);
}

/* Its configuration: TI_PREFIX, listen 127.0.0.1:3260, then conf. */
void
ti_worker_config(struct tworker *tw, const char *conf)
{
	char	 text[4096];

	snprintf(text, sizeof(text), "iqn-prefix %s\nlisten 127.0.0.1:3260\n%s",
	    TI_PREFIX, conf != NULL ? conf : "");
	ck_assert_int_eq(tw_config(tw, text), 0);
}

/* A worker serving alpha and beta, with conf added to its configuration. */
void
ti_worker(struct tworker *tw, const char *tag, const char *conf)
{
	ti_worker_dirs(tw, tag);
	ti_worker_config(tw, conf);
	ck_assert_int_eq(tw_start(tw, NULL, 0), 0);
}

void
ti_worker_done(struct tworker *tw)
{
	test_rm_tree(tw->tw_dir);
}

void
ti_open(struct tini *ti, struct tworker *tw, uint32_t mid)
{
	memset(ti, 0, sizeof(*ti));
	ti->i_tw = tw;
	ti->i_mid = mid;
	ti->i_fd = tw_connect(tw, mid);
	ck_assert_int_ge(ti->i_fd, 0);
	ti->i_isid[0] = 0x80;
	ti->i_isid[4] = (uint8_t)(mid >> 8);
	ti->i_isid[5] = (uint8_t)mid;
	ti->i_itt = 0x100;
	ti->i_cmdsn = 1;
	ti->i_mrdsl = 8192;
	ti->i_first_burst = 65536;
	ti->i_max_burst = 262144;
	ti->i_immediate = 1;
	ti->i_initial_r2t = 1;
}

void
ti_close(struct tini *ti)
{
	if (ti->i_fd != -1)
		close(ti->i_fd);
	ti->i_fd = -1;
	free(ti->i_rx);
	ti->i_rx = NULL;
	ti->i_rxlen = ti->i_rxcap = 0;
}

void
ti_bhs(uint8_t *bhs, uint8_t op, uint8_t flags)
{
	memset(bhs, 0, ISCSI_BHS_LEN);
	bhs[0] = op;
	bhs[1] = flags;
}

/* Bytes the worker sent, kept for ti_recv; the number read. */
static size_t
ti_read_some(struct tini *ti)
{
	uint8_t		 buf[65536];
	ssize_t		 n;
	size_t		 got = 0;

	while (ti->i_fd != -1 && !ti->i_eof) {
		n = read(ti->i_fd, buf, sizeof(buf));
		if (n == 0 || (n == -1 && errno == ECONNRESET))
			ti->i_eof = 1;
		if (n <= 0)
			break;
		if (ti->i_rxlen + (size_t)n > ti->i_rxcap) {
			ti->i_rxcap = (ti->i_rxlen + (size_t)n) * 2;
			ti->i_rx = realloc(ti->i_rx, ti->i_rxcap);
			ck_assert_ptr_nonnull(ti->i_rx);
		}
		memcpy(ti->i_rx + ti->i_rxlen, buf, (size_t)n);
		ti->i_rxlen += (size_t)n;
		got += (size_t)n;
	}
	return got;
}

static int
ti_io(void *arg)
{
	return ti_read_some(arg) > 0;
}

/* Write all of it, running the worker while the socket is full. */
void
ti_write(struct tini *ti, const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	int64_t		 deadline = ti_now_ms() + TI_WRITE_MS;
	ssize_t		 n;

	while (len > 0) {
		n = write(ti->i_fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		ck_assert_msg(n == -1 && errno == EAGAIN,
		    "write to the worker: %s", strerror(errno));
		ck_assert_msg(ti_now_ms() < deadline,
		    "the worker reads no more");
		ti_read_some(ti);
		tw_pass(ti->i_tw, 1);
	}
}

/*
 * One PDU into out (room for the BHS, the data, padding and digests):
 * its length filled in, padded, with the digests in force.  Its size.
 */
size_t
ti_pdu(const struct tini *ti, uint8_t *bhs, const void *data, uint32_t dlen,
    uint8_t *out)
{
	uint32_t	 pad = (4 - (dlen & 3)) & 3, crc;
	size_t		 n = ISCSI_BHS_LEN;

	be24enc(bhs + 5, dlen);
	memcpy(out, bhs, ISCSI_BHS_LEN);
	if (ti->i_hd) {
		crc32c_le_enc(out + n, crc32c_sw(0, bhs, ISCSI_BHS_LEN));
		n += 4;
	}
	if (dlen == 0)
		return n;
	memcpy(out + n, data, dlen);
	memset(out + n + dlen, 0, pad);
	crc = crc32c_sw(0, out + n, dlen + pad);
	n += dlen + pad;
	if (ti->i_dd) {
		crc32c_le_enc(out + n, crc);
		n += 4;
	}
	return n;
}

/* One PDU, as ti_pdu() makes it. */
void
ti_send(struct tini *ti, uint8_t *bhs, const void *data, uint32_t dlen)
{
	uint8_t		*out;

	ck_assert_ptr_nonnull(out = malloc(ISCSI_BHS_LEN + dlen + 12));
	ti_write(ti, out, ti_pdu(ti, bhs, data, dlen, out));
	free(out);
}

static uint32_t
ti_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* StatSN, ExpCmdSN, MaxCmdSN of a PDU the target sent. */
static void
ti_note(struct tini *ti, const struct tpdu *p)
{
	uint8_t	 op = p->p_bhs[0] & ISCSI_OP_MASK;
	int	 status = op != OP_R2T && op != OP_DATA_IN;

	if (op == OP_DATA_IN && (p->p_bhs[1] & 0x01))
		status = 1;
	if (op == OP_NOP_IN && be32dec(p->p_bhs + 16) == ISCSI_TTT_NONE)
		status = 0;		/* StatSN is not advanced */
	if (status)
		ti->i_expstatsn = be32dec(p->p_bhs + 24) + 1;
	ti->i_expcmdsn = be32dec(p->p_bhs + 28);
	ti->i_maxcmdsn = be32dec(p->p_bhs + 32);
}

/* A whole PDU at the front of i_rx: taken into p, digests checked. */
static int
ti_parse(struct tini *ti, struct tpdu *p)
{
	const uint8_t	*b = ti->i_rx;
	uint32_t	 ahs, dlen, plen, hd = ti->i_hd ? 4 : 0, dd, need;

	if (ti->i_rxlen < ISCSI_BHS_LEN)
		return 0;
	ahs = (uint32_t)b[4] * 4;
	dlen = be24dec(b + 5);
	plen = (dlen + 3) & ~3U;
	dd = ti->i_dd && dlen > 0 ? 4 : 0;
	need = ISCSI_BHS_LEN + ahs + hd + plen + dd;
	if (ti->i_rxlen < need)
		return 0;
	if (hd)
		ck_assert_msg(ti_le32(b + ISCSI_BHS_LEN + ahs) ==
		    crc32c_sw(0, b, ISCSI_BHS_LEN + ahs),
		    "the target's header digest is wrong");
	if (dd)
		ck_assert_msg(ti_le32(b + ISCSI_BHS_LEN + ahs + hd + plen) ==
		    crc32c_sw(0, b + ISCSI_BHS_LEN + ahs + hd, plen),
		    "the target's data digest is wrong");
	memcpy(p->p_bhs, b, ISCSI_BHS_LEN);
	p->p_dlen = dlen;
	p->p_data = calloc(1, plen + 1);
	ck_assert_ptr_nonnull(p->p_data);
	memcpy(p->p_data, b + ISCSI_BHS_LEN + ahs + hd, dlen);
	memmove(ti->i_rx, ti->i_rx + need, ti->i_rxlen - need);
	ti->i_rxlen -= need;
	ti_note(ti, p);
	return 1;
}

/*
 * The target's next PDU, the worker's loop run until it comes: 1, 0
 * when none came within ms, -1 when the connection was closed.
 */
int
ti_recv(struct tini *ti, struct tpdu *p, int ms)
{
	int64_t	 deadline = ti_now_ms() + ms;

	memset(p, 0, sizeof(*p));
	for (;;) {
		ti_read_some(ti);
		if (ti_parse(ti, p))
			return 1;
		if (ti->i_eof)
			return -1;
		if (ti_now_ms() >= deadline)
			return 0;
		tw_pass(ti->i_tw, 10);
	}
}

/* The next PDU, which must come. */
void
ti_expect_any(struct tini *ti, struct tpdu *p)
{
	int	 r = ti_recv(ti, p, TI_REPLY_MS);

	ck_assert_msg(r == 1, "waiting for a PDU: %s",
	    r == 0 ? "nothing came" : "the connection closed");
}

/* The next PDU must be op. */
void
ti_expect(struct tini *ti, struct tpdu *p, uint8_t op)
{
	ti_expect_any(ti, p);
	ck_assert_msg((p->p_bhs[0] & ISCSI_OP_MASK) == op,
	    "opcode 0x%02x (byte 2: 0x%02x), expected 0x%02x",
	    p->p_bhs[0] & ISCSI_OP_MASK, p->p_bhs[2], op);
}

/* Run the worker until idle: 1 if it sent nothing and kept the socket. */
int
ti_silent(struct tini *ti)
{
	ck_assert_int_eq(tw_pump(ti->i_tw, ti_io, ti), 0);
	ti_read_some(ti);
	return ti->i_rxlen == 0 && !ti->i_eof;
}

/* Has the worker closed the connection within ms?  PDUs stay readable. */
int
ti_closed(struct tini *ti, int ms)
{
	int64_t	 deadline = ti_now_ms() + ms;

	while (!ti->i_eof && ti_now_ms() < deadline) {
		if (ti_read_some(ti) == 0)
			tw_pass(ti->i_tw, 10);
	}
	return ti->i_eof;
}

void
ti_pdu_free(struct tpdu *p)
{
	free(p->p_data);
	p->p_data = NULL;
}

/* The value of key in a PDU's "key=value" text, or NULL. */
const char *
ti_key(const struct tpdu *p, const char *key)
{
	size_t		 n = strlen(key), off = 0, len;
	const char	*s;

	while (off < p->p_dlen) {
		s = (const char *)p->p_data + off;
		len = strnlen(s, p->p_dlen - off);
		if (len > n && strncmp(s, key, n) == 0 && s[n] == '=')
			return s + n + 1;
		off += len + 1;
	}
	return NULL;
}

static void
ti_text_add(char *buf, size_t *len, size_t cap, const char *kv, size_t n)
{
	ck_assert_uint_lt(*len + n + 1, cap);
	memcpy(buf + *len, kv, n);
	buf[*len + n] = '\0';
	*len += n + 1;
}

/* What the login settled, from the target's answer or the defaults. */
static void
ti_login_params(struct tini *ti, const struct tpdu *p)
{
	const char	*v;

	if ((v = ti_key(p, "HeaderDigest")) != NULL)
		ti->i_hd = strcmp(v, "CRC32C") == 0;
	if ((v = ti_key(p, "DataDigest")) != NULL)
		ti->i_dd = strcmp(v, "CRC32C") == 0;
	if ((v = ti_key(p, "MaxRecvDataSegmentLength")) != NULL)
		ti->i_mrdsl = (uint32_t)strtoul(v, NULL, 10);
	if ((v = ti_key(p, "FirstBurstLength")) != NULL)
		ti->i_first_burst = (uint32_t)strtoul(v, NULL, 10);
	if ((v = ti_key(p, "MaxBurstLength")) != NULL)
		ti->i_max_burst = (uint32_t)strtoul(v, NULL, 10);
	if ((v = ti_key(p, "ImmediateData")) != NULL)
		ti->i_immediate = strcmp(v, "Yes") == 0;
	if ((v = ti_key(p, "InitialR2T")) != NULL)
		ti->i_initial_r2t = strcmp(v, "Yes") == 0;
}

/*
 * A login in one PDU, straight to full feature phase: to target (NULL:
 * a discovery session), with keys ("Key=Value;..." or NULL) besides
 * the names.  The login status; the digests are in force after a
 * successful one.
 */
uint16_t
ti_login(struct tini *ti, const char *target, const char *keys)
{
	uint8_t		 bhs[ISCSI_BHS_LEN];
	char		 text[4096], kv[512];
	const char	*k, *end;
	size_t		 len = 0;
	struct tpdu	 p;
	uint16_t	 status;
	int		 hd, dd;

	snprintf(kv, sizeof(kv), "InitiatorName=%s", TI_INITIATOR);
	ti_text_add(text, &len, sizeof(text), kv, strlen(kv));
	snprintf(kv, sizeof(kv), "SessionType=%s", target != NULL ? "Normal" :
	    "Discovery");
	ti_text_add(text, &len, sizeof(text), kv, strlen(kv));
	if (target != NULL) {
		snprintf(kv, sizeof(kv), "TargetName=%s", target);
		ti_text_add(text, &len, sizeof(text), kv, strlen(kv));
	}
	for (k = keys; k != NULL && *k != '\0'; k = *end ? end + 1 : end) {
		end = k + strcspn(k, ";");
		ti_text_add(text, &len, sizeof(text), k, (size_t)(end - k));
	}
	ti_bhs(bhs, ISCSI_OP_IMMEDIATE | OP_LOGIN_REQ, 0x80 | 1 << 2 | 3);
	memcpy(bhs + 8, ti->i_isid, 6);
	be32enc(bhs + 16, ti->i_itt++);
	be32enc(bhs + 24, ti->i_cmdsn);
	be32enc(bhs + 28, ti->i_expstatsn);
	hd = ti->i_hd;
	dd = ti->i_dd;
	ti->i_hd = ti->i_dd = 0;	/* never during login */
	ti_send(ti, bhs, text, (uint32_t)len);
	ti_expect(ti, &p, OP_LOGIN_RSP);
	status = be16dec(p.p_bhs + 36);
	if (status == LOGIN_STATUS_SUCCESS)
		ti_login_params(ti, &p);
	else {
		ti->i_hd = hd;
		ti->i_dd = dd;
	}
	ti_pdu_free(&p);
	return status;
}

void
ti_login_ok(struct tini *ti, const char *target, const char *keys)
{
	uint16_t	 st = ti_login(ti, target, keys);

	ck_assert_msg(st == LOGIN_STATUS_SUCCESS, "login to %s: status 0x%04x",
	    target != NULL ? target : "discovery", st);
}

/* A SCSI Command PDU (byte 1 as given); its ITT. */
uint32_t
ti_cmd(struct tini *ti, uint8_t flags, uint64_t lun, const uint8_t *cdb,
    uint32_t edtl, const void *imm, uint32_t immlen)
{
	uint8_t		 bhs[ISCSI_BHS_LEN];
	uint32_t	 itt = ti->i_itt++;

	ti_bhs(bhs, OP_SCSI_CMD, flags);
	scsi_lun_encode(bhs + 8, lun);
	be32enc(bhs + 16, itt);
	be32enc(bhs + 20, edtl);
	be32enc(bhs + 24, ti->i_cmdsn++);
	be32enc(bhs + 28, ti->i_expstatsn);
	memcpy(bhs + 32, cdb, 16);
	ti_send(ti, bhs, imm, immlen);
	return itt;
}

/* A task management request (function fn, immediate): the response. */
int
ti_tmf(struct tini *ti, int fn, uint64_t lun, uint32_t rtt)
{
	uint8_t		 bhs[ISCSI_BHS_LEN];
	struct tpdu	 p;
	int		 r;

	ti_bhs(bhs, ISCSI_OP_IMMEDIATE | OP_TMF_REQ, 0x80 | fn);
	bhs[9] = (uint8_t)lun;
	be32enc(bhs + 16, 0x90);
	be32enc(bhs + 20, rtt);
	be32enc(bhs + 24, ti->i_cmdsn);
	be32enc(bhs + 28, ti->i_expstatsn);
	ti_send(ti, bhs, NULL, 0);
	ti_expect(ti, &p, OP_TMF_RSP);
	ck_assert_uint_eq(be32dec(p.p_bhs + 16), 0x90);
	r = p.p_bhs[2];
	ti_pdu_free(&p);
	return r;
}

void
ti_dataout(struct tini *ti, uint32_t itt, uint32_t ttt, uint32_t sn,
    uint32_t off, const void *data, uint32_t len, int final)
{
	uint8_t		 bhs[ISCSI_BHS_LEN];

	ti_bhs(bhs, OP_DATA_OUT, final ? ISCSI_FLAG_FINAL : 0);
	be32enc(bhs + 16, itt);
	be32enc(bhs + 20, ttt);
	be32enc(bhs + 28, ti->i_expstatsn);
	be32enc(bhs + 36, sn);
	be32enc(bhs + 40, off);
	ti_send(ti, bhs, data, len);
}

/* Status, residual and sense of a SCSI Response. */
static void
ti_status(const struct tpdu *p, struct tres *res)
{
	const uint8_t	*s = p->p_data + 2;

	res->r_flags = p->p_bhs[1];
	res->r_status = p->p_bhs[3];
	res->r_residual = be32dec(p->p_bhs + 44);
	if (res->r_status != 0x02 || p->p_dlen < 2 + 14)
		return;
	if ((s[0] & 0x7f) == 0x72) {
		res->r_key = s[1] & 0x0f;
		res->r_asc = (uint16_t)(s[2] << 8 | s[3]);
	} else {
		res->r_key = s[2] & 0x0f;
		res->r_asc = (uint16_t)(s[12] << 8 | s[13]);
	}
}

/* The next PDU is the SCSI Response to itt. */
void
ti_response(struct tini *ti, uint32_t itt, struct tres *res)
{
	struct tpdu	 p;

	memset(res, 0, sizeof(*res));
	ti_expect(ti, &p, OP_SCSI_RSP);
	ck_assert_uint_eq(be32dec(p.p_bhs + 16), itt);
	ti_status(&p, res);
	ti_pdu_free(&p);
}

/* Bytes [off, off + len) of buf as a Data-Out sequence of TTT ttt. */
void
ti_sequence(struct tini *ti, uint32_t itt, uint32_t ttt, const uint8_t *buf,
    uint32_t off, uint32_t len)
{
	uint32_t	 sn = 0, n;

	while (len > 0) {
		n = len < ti->i_mrdsl ? len : ti->i_mrdsl;
		ti_dataout(ti, itt, ttt, sn++, off, buf + off, n, n == len);
		off += n;
		len -= n;
	}
}

/* A PDU that belongs to command itt: 1 once its status is in res. */
static int
ti_scsi_pdu(struct tini *ti, uint32_t itt, const struct tpdu *p,
    uint8_t *buf, uint32_t len, struct tres *res)
{
	uint32_t	 off = be32dec(p->p_bhs + 40);

	ck_assert_uint_eq(be32dec(p->p_bhs + 16), itt);
	switch (p->p_bhs[0] & ISCSI_OP_MASK) {
	case OP_R2T:
		ck_assert_uint_le(off + be32dec(p->p_bhs + 44), len);
		ti_sequence(ti, itt, be32dec(p->p_bhs + 20), buf, off,
		    be32dec(p->p_bhs + 44));
		return 0;
	case OP_DATA_IN:
		ck_assert_uint_le(off + p->p_dlen, len);
		memcpy(buf + off, p->p_data, p->p_dlen);
		res->r_din += p->p_dlen;
		if (!(p->p_bhs[1] & 0x01))
			return 0;
		ti_status(p, res);
		return 1;
	case OP_SCSI_RSP:
		ti_status(p, res);
		return 1;
	}
	ck_abort_msg("opcode 0x%02x during a command", p->p_bhs[0]);
	return 1;
}

/*
 * A whole SCSI command on lun: len bytes of buf read (dir TI_READ) or
 * written (TI_WRITE), with immediate, unsolicited and solicited data as
 * negotiated.
 */
void
ti_scsi(struct tini *ti, uint64_t lun, const uint8_t *cdb, void *buf,
    uint32_t len, int dir, struct tres *res)
{
	struct tpdu	 p;
	uint32_t	 itt, imm = 0, unsol = 0, fb = ti->i_first_burst;
	uint8_t		 flags = ISCSI_FLAG_FINAL | SCSI_ATTR_SIMPLE;
	int		 done;

	memset(res, 0, sizeof(*res));
	if (dir == TI_WRITE) {
		flags |= 0x20;
		unsol = ti->i_initial_r2t ? 0 : len < fb ? len : fb;
		if (ti->i_immediate)
			imm = len < fb ? len : fb;
		if (imm > ti->i_mrdsl)
			imm = ti->i_mrdsl;
		if (unsol < imm)
			unsol = imm;
		if (unsol > imm)
			flags &= ~ISCSI_FLAG_FINAL;
	} else if (dir == TI_READ)
		flags |= 0x40;
	itt = ti_cmd(ti, flags, lun, cdb, len, buf, imm);
	if (unsol > imm)
		ti_sequence(ti, itt, ISCSI_TTT_NONE, buf, imm, unsol - imm);
	do {
		ti_expect_any(ti, &p);
		done = ti_scsi_pdu(ti, itt, &p, buf, len, res);
		ti_pdu_free(&p);
	} while (!done);
}

/* READ(10) or WRITE(10) of blocks at lba, in a 16-byte CDB. */
void
ti_rw10(uint8_t *cdb, uint8_t op, uint32_t lba, uint16_t blocks)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	be32enc(cdb + 2, lba);
	be16enc(cdb + 7, blocks);
}

/* One INQUIRY of VPD page through ti (again past a unit attention). */
static void
ti_vpd(struct tini *ti, int lun, uint8_t page, uint8_t *buf, uint16_t len)
{
	uint8_t		 cdb[16] = { 0x12, 0x01 };
	struct tres	 res;
	int		 i;

	cdb[2] = page;
	be16enc(cdb + 3, len);
	for (i = 0; i < 4; i++) {
		ti_scsi(ti, (uint64_t)lun, cdb, buf, len, TI_READ, &res);
		if (res.r_status != 0x02 || res.r_key != 0x06)
			break;
	}
	ck_assert_msg(res.r_status == 0, "LUN %d VPD %02x: status %u, "
	    "sense %x/%04x", lun, page, res.r_status, res.r_key, res.r_asc);
}

/*
 * LUN lun's identity as the initiator sees it: its NAA designator (VPD
 * 0x83) and unit serial number (VPD 0x80), "NAA/SERIAL".
 */
void
ti_identity(struct tini *ti, int lun, char *out, size_t outlen)
{
	uint8_t		 buf[255];
	const uint8_t	*d, *naa = NULL;
	unsigned	 off, end;

	ti_vpd(ti, lun, 0x83, buf, sizeof(buf));
	end = 4u + be16dec(buf + 2);
	ck_assert_uint_le(end, sizeof(buf));
	for (off = 4; naa == NULL && off + 4 <= end; off += 4u + d[3]) {
		d = buf + off;
		if ((d[1] & 0x0f) == 3 && d[3] == 8 && off + 12 <= end)
			naa = d + 4;
	}
	ck_assert_msg(naa != NULL, "LUN %d: no NAA designator", lun);
	snprintf(out, outlen, "%016llx/", (unsigned long long)be64dec(naa));
	ti_vpd(ti, lun, 0x80, buf, sizeof(buf));
	ck_assert_uint_le(4u + be16dec(buf + 2), sizeof(buf));
	snprintf(out + strlen(out), outlen - strlen(out), "%.*s",
	    (int)be16dec(buf + 2), (const char *)buf + 4);
}
