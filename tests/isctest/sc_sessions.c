/*
 * isctest scenarios on a session's life: the NOP-In keepalive, answered
 * or not, and a new login reinstating the session of the same names.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isctest.h"

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
	if (pdu_op(&p) != OP_NOP_IN ||
	    be32dec(p.p_bhs + 16) != ISCSI_TTT_NONE ||
	    be32dec(p.p_bhs + 20) == ISCSI_TTT_NONE)
		fail("expected a NOP-In ping, got %s", pdu_describe(&p));
	step("NOP-In after %lld ms, TTT 0x%08x", (long long)(now_ms() - start),
	    be32dec(p.p_bhs + 20));
	pdu_free(&p);
}

void
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

void
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

void
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

/*
 * One anonymous identity that writes once and goes: an initiator name
 * of its own (this process and a counter) and a random ISID, one block
 * written, the connection dropped without a logout, so that its
 * overlay's directory stays (state-dir/overlays/anon-KEY) for the
 * coordinator's upkeep.  Run with -n for login churn (tests/
 * integration/hostile.sh), while another initiator's writes are timed.
 */
void
sc_churn(void)
{
	static unsigned	 serial;
	struct login_opts lo = login_defaults();
	struct scsi_io	 io;
	struct scsi_res	 res;
	struct conn	 c;
	char		 name[96];
	uint8_t		 buf[512];
	uint8_t		 st;

	snprintf(name, sizeof(name), "iqn.2025-01.test.churn:%d-%u",
	    (int)getpid(), serial++);
	lo.lo_initiator = name;
	login_ok(&c, &lo);
	memset(buf, 0xc5, sizeof(buf));
	memset(&io, 0, sizeof(io));
	io_rw10(&io, SCSI_WRITE10, 0, 1, 512);
	io.io_out = buf;
	io.io_outlen = sizeof(buf);
	if ((st = scsi_status(&c, &io, &res)) != ST_GOOD &&
	    (res.sr_status != ST_CHECK || sense_key(&res) != SENSE_UA ||
	    scsi_status(&c, &io, &res) != ST_GOOD))
		fail("WRITE(10) -> %s", res_str(&res));
	conn_close(&c);
}
