/*
 * isctest scenarios on framing: login and digests, wrong header and
 * data digests, a lying DataSegmentLength, garbage, truncated PDUs,
 * full-feature PDUs before login, unknown opcodes, AHS, the CmdSN
 * window, and login text that never ends.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isctest.h"

void
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

void
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
	if (pdu_op(p) == OP_REJECT && p->p_bhs[2] != REJECT_DIGEST_ERROR)
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

void
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

void
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

void
sc_oversize_dsl(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	struct scsi_io		io;
	uint8_t			h[ISCSI_BHS_LEN], junk[4096];

	login_ok(&c, &lo);
	if (c.c_mrdsl >= 0xffffff)
		fail("target declared MaxRecvDataSegmentLength=%u", c.c_mrdsl);
	io_rw10(&io, SCSI_WRITE10, 0, (uint16_t)(0x1000000 / c.c_blksz),
	    c.c_blksz);
	bhs_init(h, OP_SCSI_CMD, ISCSI_FLAG_FINAL | 0x20 | 0x01);
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

void
sc_garbage(void)
{
	struct conn	c;
	uint8_t		buf[4096];

	conn_open(&c);
	random_bytes(buf, sizeof(buf));
	/* keep it deterministic: never a login */
	if ((buf[0] & ISCSI_OP_MASK) == OP_LOGIN_REQ)
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

void
sc_truncated(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	uint8_t			h[ISCSI_BHS_LEN], ten[10] = "0123456789";

	conn_open(&c);
	c.c_login_itt = c.c_itt++;
	login_bhs(&c, h, LF_T | LF_CSG(0) | LF_NSG(1));
	pdu_send_lying(&c, h, 1000, ten, sizeof(ten));
	conn_close(&c);
	step("Login Request announcing 1000 bytes, sent 10, closed");

	login_ok(&c, &lo);
	bhs_init(h, OP_SCSI_CMD, ISCSI_FLAG_FINAL | 0x20 | 0x01);
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

void
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

void
sc_unknown_opcode(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	struct pdu		p;
	uint8_t			h[ISCSI_BHS_LEN];

	login_ok(&c, &lo);
	bhs_init(h, ISCSI_OP_IMMEDIATE | OP_VENDOR_1C, ISCSI_FLAG_FINAL);
	be32enc(h + 16, c.c_itt++);
	be32enc(h + 24, c.c_cmdsn);
	be32enc(h + 28, c.c_expstatsn);
	if (pdu_send(&c, h, NULL, 0, NULL, 0, 0) == -1)
		fail("send: %s", strerror(errno));
	step("sent a PDU with opcode 0x1c");
	reply_wait(&c, &p, "Reject");
	step("target sent %s", pdu_describe(&p));
	if (pdu_op(&p) != OP_REJECT ||
	    (p.p_bhs[2] != REJECT_PROTOCOL &&
	    p.p_bhs[2] != REJECT_NOT_SUPPORTED))
		fail("expected Reject with reason 0x04 or 0x05");
	if (p.p_dlen < ISCSI_BHS_LEN ||
	    (p.p_data[0] & ISCSI_OP_MASK) != OP_VENDOR_1C)
		fail("Reject does not carry the rejected header");
	pdu_free(&p);
	nop_ping(&c);
	do_tur(&c);
	logout(&c);
	check_serves();
}

void
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

void
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

/*
 * A text negotiation that never ends: Login Requests with the C bit set,
 * 8 KiB of keys each, far past any sane total.  The target must end it
 * with a login failure (or close), not buffer it forever.
 */
void
sc_text_loop(void)
{
	struct conn	c;
	struct pdu	p;
	uint8_t		h[ISCSI_BHS_LEN];
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
