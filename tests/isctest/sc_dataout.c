/*
 * isctest scenarios on Data-Out: every byte once and in order (overlaps,
 * unknown TTTs, a short unsolicited burst), residuals of a write, data
 * for a task nobody started, and ORDERED commands against waiting
 * writes.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isctest.h"

/* Data-Out for a task the target never saw: ignored, session fine. */
void
sc_unknown_task_data(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	uint8_t			h[ISCSI_BHS_LEN], data[512];
	int			i;

	login_ok(&c, &lo);
	memset(data, 0x5a, sizeof(data));
	for (i = 0; i < 8; i++) {
		bhs_init(h, OP_DATA_OUT, i == 7 ? ISCSI_FLAG_FINAL : 0);
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
void
sc_ordered(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	struct pdu		p;
	struct scsi_res		res;
	struct scsi_io		w;
	struct scsi_io		tur = { .io_cdb = { SCSI_TUR }, .io_attr = 2 };
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

void
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
void
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
	data_out(&c, itt, ISCSI_TTT_NONE, 0, 0, data, sizeof(data), 0);
	data_out(&c, itt, ISCSI_TTT_NONE, 1, 0, data, sizeof(data), 1);
	why = data_error(&c, itt, REJECT_PROTOCOL, 0x05);
	unchanged(&c, base);
	if (why != NULL)
		fail("%s", why);
	logout(&c);
	free(base);
}

/* The same twice at an R2T's offset. */
void
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
	itt = raw_write16(&c, DO_LBA, DO_BYTES, ISCSI_FLAG_FINAL, NULL, 0);
	step("WRITE(16) of %d bytes, no immediate data, F set", DO_BYTES);
	r2t_wait(&c, itt, &p);
	ttt = be32dec(p.p_bhs + 20);
	pdu_free(&p);
	data_out(&c, itt, ttt, 0, 0, data, sizeof(data), 0);
	data_out(&c, itt, ttt, 1, 0, data, sizeof(data), 1);
	why = data_error(&c, itt, REJECT_PROTOCOL, 0x05);
	unchanged(&c, base);
	if (why != NULL)
		fail("%s", why);
	logout(&c);
	free(base);
}

/* A Target Transfer Tag we never gave (0, and one off): rejected. */
void
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
		itt = raw_write16(&c, DO_LBA, DO_BYTES, ISCSI_FLAG_FINAL, NULL,
		    0);
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

void
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
	data_out(&c, itt, ISCSI_TTT_NONE, 0, 0, data, 4096, 1);
	unsol_short(&c, itt, data, 4096);
	random_bytes(data, sizeof(data));
	itt = raw_write16(&c, DO_LBA, sizeof(data), ISCSI_FLAG_FINAL, data,
	    4096);
	step("WRITE(16) of %zu bytes, 4096 immediate, F set", sizeof(data));
	unsol_short(&c, itt, data, 4096);
	do_read(&c, DO_LBA, sizeof(back) / c.c_blksz, back);
	if (memcmp(back, data, sizeof(data)) != 0)
		fail("read back differs from what was written");
	step("read back what was written");
	logout(&c);
}
