/*
 * isctest's SCSI helpers: a command sent with its immediate data, its
 * R2Ts answered and Data-In collected, its status and sense; READ,
 * WRITE, TEST UNIT READY and READ CAPACITY that must succeed; raw
 * WRITE(16) and Data-Out for the scenarios that break the sequence.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isctest.h"

/* SAM-5 single-level LUN: peripheral below 256, flat space above. */
void
lun_enc(uint8_t *p)
{
	if (opt.o_lun < 256)
		p[1] = (uint8_t)opt.o_lun;
	else {
		p[0] = (uint8_t)(0x40 | opt.o_lun >> 8);
		p[1] = (uint8_t)(opt.o_lun & 0xff);
	}
}

size_t
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
uint32_t
cmd_send(struct conn *c, const struct scsi_io *io)
{
	uint8_t		h[ISCSI_BHS_LEN];
	uint32_t	itt = c->c_itt++;
	uint8_t		flags = ISCSI_FLAG_FINAL |
	    (io->io_attr ? io->io_attr : 0x01);

	if (io->io_in != NULL)
		flags |= 0x40;
	if (io->io_out != NULL)
		flags |= 0x20;
	bhs_init(h, OP_SCSI_CMD | (io->io_immed ? ISCSI_OP_IMMEDIATE : 0),
	    flags);
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

void
cmd_r2t(struct conn *c, const struct pdu *r2t, const struct scsi_io *io)
{
	uint8_t		h[ISCSI_BHS_LEN];
	uint32_t	off = be32dec(r2t->p_bhs + 40);
	uint32_t	len = be32dec(r2t->p_bhs + 44), sn = 0, n;

	if (io->io_out == NULL || (uint64_t)off + len > io->io_outlen ||
	    len == 0)
		fail("R2T for %u bytes at offset %u of a %zu-byte write", len,
		    off, io->io_outlen);
	while (len > 0) {
		n = len < c->c_mrdsl ? len : c->c_mrdsl;
		bhs_init(h, OP_DATA_OUT, n == len ? ISCSI_FLAG_FINAL : 0);
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

void
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
void
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

int
sense_key(const struct scsi_res *r)
{
	if (r->sr_senselen < 3)
		return -1;
	if ((r->sr_sense[0] & 0x7f) >= 0x72)
		return r->sr_sense[1] & 0x0f;
	return r->sr_sense[2] & 0x0f;
}

const char *
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
void
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

void
do_tur(struct conn *c)
{
	struct scsi_io	io = { .io_cdb = { SCSI_TUR } };
	struct scsi_res	res;

	scsi_good(c, &io, &res, "TEST UNIT READY");
	step("TEST UNIT READY -> GOOD");
}

void
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

void
io_rw10(struct scsi_io *io, uint8_t op, uint32_t lba, uint16_t blocks,
    uint32_t blksz)
{
	memset(io, 0, sizeof(*io));
	io->io_cdb[0] = op;
	be32enc(io->io_cdb + 2, lba);
	be16enc(io->io_cdb + 7, blocks);
	io->io_edtl = blocks * blksz;
}

void
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

void
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
void
check_serves(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;

	login_ok(&c, &lo);
	do_tur(&c);
	logout(&c);
	step("daemon still serves");
}

/* A SCSI Command PDU as built by hand: WRITE(16) of len bytes at lba. */
uint32_t
raw_write16(struct conn *c, uint64_t lba, uint32_t len, uint8_t flags,
    const uint8_t *imm, size_t immlen)
{
	uint8_t		h[ISCSI_BHS_LEN];
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

void
data_out(struct conn *c, uint32_t itt, uint32_t ttt, uint32_t sn,
    uint32_t off, const uint8_t *data, uint32_t len, int final)
{
	uint8_t	h[ISCSI_BHS_LEN];

	bhs_init(h, OP_DATA_OUT, final ? ISCSI_FLAG_FINAL : 0);
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
void
r2t_wait(struct conn *c, uint32_t itt, struct pdu *p)
{
	reply_wait(c, p, "R2T");
	if (pdu_op(p) != OP_R2T || be32dec(p->p_bhs + 16) != itt)
		fail("expected an R2T for ITT 0x%08x, got %s", itt,
		    pdu_describe(p));
	step("R2T TTT 0x%08x offset %u length %u", be32dec(p->p_bhs + 20),
	    be32dec(p->p_bhs + 40), be32dec(p->p_bhs + 44));
}

int
sense_asc(const struct scsi_res *r)
{
	if ((r->sr_sense[0] & 0x7f) >= 0x72)
		return r->sr_senselen < 4 ? -1 :
		    r->sr_sense[2] << 8 | r->sr_sense[3];
	return r->sr_senselen < 14 ? -1 :
	    r->sr_sense[12] << 8 | r->sr_sense[13];
}

/* One command, whatever its SCSI status; returns that status. */
uint8_t
scsi_status(struct conn *c, const struct scsi_io *io, struct scsi_res *res)
{
	cmd_finish(c, cmd_send(c, io), io, res);
	if (res->sr_reject >= 0 || res->sr_response != 0)
		fail("SCSI command 0x%02x -> %s", io->io_cdb[0],
		    res_str(res));
	return res->sr_status;
}

void
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

uint8_t
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
