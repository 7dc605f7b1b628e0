/*
 * isctest scenarios on what one session may do to others: a stranger's
 * login with a live session's names, sessions held open, write data
 * buffered past the budgets, the quota while UNMAP and WRITE race, and
 * MODE SELECT changing one nexus's pages only.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "isctest.h"

/*
 * A stranger, from another source address, logs in with the
 * InitiatorName and ISID of a live session to a target that
 * authenticates nobody: it gets a session of its own, and the first
 * keeps its connection and what it wrote.
 */
void
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
void
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

#define PW_BYTES	(1 << 20)	/* each write; max-pending-data 1088K */

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

#define SW_STALLERS	6		/* more than the address's share holds */
#define SW_BYTES	(1 << 20)	/* each write: max-pending-data 1M */
#define SW_PROMPT_MS	2000		/* "at once", with a margin */

/* A WRITE(10) of len bytes on c: GOOD, and in SW_PROMPT_MS. */
static void
write_promptly(struct conn *c, uint32_t len, const uint8_t *buf,
    const char *who)
{
	int64_t	 t0 = now_ms(), ms;

	do_write(c, DO_LBA, (uint16_t)(len / c->c_blksz), buf);
	if ((ms = now_ms() - t0) > SW_PROMPT_MS)
		fail("%s: a write of %u bytes took %lld ms", who, len,
		    (long long)ms);
	step("%s: WRITE of %u bytes GOOD in %lld ms", who, len,
	    (long long)ms);
}

/*
 * A connection of the stalled ones: it must end (its data phase
 * stalled) or its write be answered TASK SET FULL (it never had
 * room), before deadline.  R2Ts on the way are left unanswered.
 */
static void
stall_ends(struct conn *c, int n, int64_t deadline)
{
	struct scsi_res	res;
	struct pdu	p;

	for (;;) {
		switch (pdu_recv(c, &p, deadline)) {
		case RX_CLOSED:
			step("stalled connection %d closed by the target", n);
			conn_close(c);
			return;
		case RX_TIMEOUT:
			fail("stalled connection %d: neither closed nor "
			    "answered", n);
		case RX_OK:
			break;
		}
		if (pdu_op(&p) == OP_SCSI_RSP) {
			cmd_response(&p, &res);
			if (res.sr_status != 0x28)
				fail("stalled connection %d: %s", n,
				    res_str(&res));
			step("stalled connection %d: TASK SET FULL", n);
			pdu_free(&p);
			conn_close(c);
			return;
		}
		pdu_free(&p);
	}
}

/*
 * Run with max-pending-data 1M, max-pending-data-address 2M,
 * max-pending-data-worker 4M, one worker, dataout-timeout -w: six
 * connections from our address each send a 1 MiB WRITE and never its
 * data.  Another address (-b) still has room: a session with
 * InitialR2T=Yes and ImmediateData=No, and one with our usual keys,
 * get their writes answered GOOD at once.  Within three -w periods
 * every stalled write is over (its connection closed, or TASK SET
 * FULL), and our address writes again.
 */
void
sc_stalled_writes(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		st[SW_STALLERS], c, d;
	uint8_t			*buf = xmalloc(SW_BYTES);
	int64_t			deadline;
	int			i;

	if (opt.o_bind == NULL)
		fail("this scenario needs -b OTHER_ADDR");
	random_bytes(buf, SW_BYTES);
	for (i = 0; i < SW_STALLERS; i++) {
		login_ok(&st[i], &lo);
		do_readcap(&st[i]);
		raw_write16(&st[i], DO_LBA, SW_BYTES, ISCSI_FLAG_FINAL, NULL,
		    0);
	}
	step("%d connections: a WRITE(16) of %d bytes each, no data",
	    SW_STALLERS, SW_BYTES);
	deadline = now_ms() + 3000LL * opt.o_wait + 2000;
	conn_bind = opt.o_bind;
	lo.lo_solicit = 1;
	login_ok(&c, &lo);
	lo.lo_solicit = 0;
	login_ok(&d, &lo);
	conn_bind = NULL;
	do_readcap(&c);
	do_readcap(&d);
	write_promptly(&c, 4096, buf, "InitialR2T=Yes");
	write_promptly(&c, SW_BYTES, buf, "InitialR2T=Yes");
	write_promptly(&d, SW_BYTES, buf, "ImmediateData=Yes");
	for (i = 0; i < SW_STALLERS; i++)
		stall_ends(&st[i], i, deadline);
	login_ok(&st[0], &lo);
	do_readcap(&st[0]);
	write_promptly(&st[0], SW_BYTES, buf, "the stalled address again");
	logout(&st[0]);
	logout(&c);
	logout(&d);
	free(buf);
}

/*
 * With max-pending-data 1088K and max-pending-data-worker 1536K: of three
 * 1 MiB writes on one connection only the first is solicited; each
 * next one once the one before is done.  A write on a second
 * connection waits for the worker's room the same way.
 */
void
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
		    PW_BYTES, ISCSI_FLAG_FINAL, i == 1 ? data + PW_BYTES : NULL,
		    i == 1 ? 4096 : 0);
	step("three WRITE(16) of 1 MiB, the second with 4096 bytes immediate");
	r2t_wait(&c, itt[0], &p);
	pdu_free(&p);
	quiet_for(&c, 500, "no R2T for the second and third yet");
	ditt = raw_write16(&d, DO_LBA + 3 * (PW_BYTES / d.c_blksz),
	    PW_BYTES, ISCSI_FLAG_FINAL, NULL, 0);
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
void
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
void
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
