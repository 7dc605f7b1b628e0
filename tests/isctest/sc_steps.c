/*
 * isctest scenarios on the commands a worker runs in steps
 * (worker/scsi/scsi.h, struct scsi_step): whole-LU VERIFYs on one
 * connection while another connection's reads are answered in time,
 * what is past max-long-commands answered TASK SET FULL, ABORT TASK of
 * one that runs, and a connection that closes under one.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isctest.h"

#define LV_SENT		5	/* whole-LU VERIFYs sent at once */
#define LV_MAX_LONG	4	/* the daemon's max-long-commands (default) */
#define LV_READ_MS	1000	/* the slowest read allowed beside them */
#define LV_ALL_MS	120000	/* for all of them to be answered */
#define ST_TASK_SET_FULL 0x28
#define TMF_ABORT_TASK	1

/* VERIFY(16), BYTCHK 11b, of the whole LU against a block of zeros. */
static uint32_t
verify_all(struct conn *c, const uint8_t *zero)
{
	struct scsi_io	io;

	memset(&io, 0, sizeof(io));
	io.io_cdb[0] = 0x8f;
	io.io_cdb[1] = 0x06;
	be32enc(io.io_cdb + 10, (uint32_t)c->c_blocks);
	io.io_out = zero;
	io.io_outlen = c->c_blksz;
	io.io_edtl = c->c_blksz;
	return cmd_send(c, &io);
}

/* A READ(10) of 8 blocks, its time in ms. */
static int64_t
timed_read(struct conn *c, uint32_t lba, uint8_t *buf)
{
	struct scsi_io	io;
	struct scsi_res	res;
	int64_t		t0 = now_ms();

	io_rw10(&io, SCSI_READ10, lba, 8, c->c_blksz);
	io.io_in = buf;
	io.io_inlen = io.io_edtl;
	if (scsi_status(c, &io, &res) != ST_GOOD)
		fail("READ(10) beside the VERIFYs -> %s", res_str(&res));
	return now_ms() - t0;
}

/* One answer of a, if one is there by deadline: its status, or -1. */
static int
verify_answer(struct conn *a, int64_t deadline, const uint32_t *itt)
{
	struct pdu	p;
	struct scsi_res	res;
	uint32_t	tag;
	int		i;

	if (pdu_wait(a, &p, deadline) != RX_OK)
		return -1;
	tag = be32dec(p.p_bhs + 16);
	for (i = 0; i < LV_SENT && itt[i] != tag; i++)
		;
	if (pdu_op(&p) != OP_SCSI_RSP || i == LV_SENT)
		fail("waiting for the VERIFYs: %s", pdu_describe(&p));
	memset(&res, 0, sizeof(res));
	res.sr_reject = -1;
	cmd_response(&p, &res);
	pdu_free(&p);
	if (res.sr_status != ST_GOOD && res.sr_status != ST_TASK_SET_FULL)
		fail("VERIFY %d -> %s", i, res_str(&res));
	return res.sr_status;
}

/*
 * A sends LV_SENT whole-LU VERIFYs at once; while they run, B reads,
 * and each of its reads is answered within LV_READ_MS.  The VERIFYs
 * past max-long-commands are answered TASK SET FULL, the others GOOD
 * (the LU reads zeros: a sparse image).
 */
static void
lv_beside(struct conn *a, struct conn *b, const uint8_t *zero)
{
	uint32_t	 itt[LV_SENT];
	uint8_t		*buf = xmalloc(8 * b->c_blksz);
	int64_t		 t0, ms, worst = 0, end;
	int		 i, st, answered = 0, good = 0, full = 0, reads = 0;

	for (i = 0; i < LV_SENT; i++)
		itt[i] = verify_all(a, zero);
	step("A: %d VERIFY(16) BYTCHK 11b of all %llu blocks", LV_SENT,
	    (unsigned long long)a->c_blocks);
	t0 = now_ms();
	end = t0 + LV_ALL_MS;
	while (answered < LV_SENT && now_ms() < end) {
		ms = timed_read(b, (uint32_t)((reads * 64) % (b->c_blocks - 8)),
		    buf);
		worst = ms > worst ? ms : worst;
		reads++;
		while ((st = verify_answer(a, now_ms() + 1, itt)) != -1) {
			answered++;
			good += st == ST_GOOD;
			full += st == ST_TASK_SET_FULL;
		}
		usleep(10000);
	}
	step("B: %d reads while they ran (%lld ms), the slowest %lld ms",
	    reads, (long long)(now_ms() - t0), (long long)worst);
	if (answered < LV_SENT)
		fail("%d of %d VERIFYs answered in %d ms", answered, LV_SENT,
		    LV_ALL_MS);
	if (worst > LV_READ_MS)
		fail("B's slowest read took %lld ms beside the VERIFYs "
		    "(at most %d)", (long long)worst, LV_READ_MS);
	if (good != LV_MAX_LONG || full != LV_SENT - LV_MAX_LONG)
		fail("%d GOOD and %d TASK SET FULL; expected %d and %d", good,
		    full, LV_MAX_LONG, LV_SENT - LV_MAX_LONG);
	step("A: %d GOOD, %d TASK SET FULL (past max-long-commands)", good,
	    full);
	free(buf);
}

/* ABORT TASK of a VERIFY that runs: no answer to it, the TMF's is 0. */
static void
lv_abort(struct conn *a, const uint8_t *zero)
{
	uint8_t		 h[ISCSI_BHS_LEN];
	struct pdu	 p;
	uint32_t	 vitt, itt;

	vitt = verify_all(a, zero);
	usleep(50000);
	itt = a->c_itt++;
	bhs_init(h, ISCSI_OP_IMMEDIATE | OP_TMF_REQ, ISCSI_FLAG_FINAL |
	    TMF_ABORT_TASK);
	lun_enc(h + 8);
	be32enc(h + 16, itt);
	be32enc(h + 20, vitt);
	be32enc(h + 24, a->c_cmdsn);
	be32enc(h + 28, a->c_expstatsn);
	be32enc(h + 32, a->c_cmdsn - 1);	/* RefCmdSN */
	if (pdu_send(a, h, NULL, 0, NULL, 0, 0) == -1)
		fail("sending ABORT TASK: %s", strerror(errno));
	reply_wait(a, &p, "Task Management Response");
	if (pdu_op(&p) != OP_TMF_RSP || be32dec(p.p_bhs + 16) != itt ||
	    p.p_bhs[2] != 0)
		fail("ABORT TASK of a running VERIFY answered with %s, "
		    "response %u", pdu_describe(&p), p.p_bhs[2]);
	pdu_free(&p);
	step("A: ABORT TASK of a running VERIFY -> Function complete");
	do_tur(a);		/* fails on any answer to the aborted one */
}

void
sc_long_verify(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		a, b;
	uint8_t			*zero;

	login_ok(&a, &lo);
	do_readcap(&a);
	login_ok(&b, &lo);
	do_readcap(&b);
	zero = calloc(1, a.c_blksz);
	lv_beside(&a, &b, zero);
	lv_abort(&a, zero);
	logout(&a);
	login_ok(&a, &lo);
	do_readcap(&a);
	verify_all(&a, zero);
	usleep(50000);
	conn_close(&a);
	step("A: a whole-LU VERIFY, then the connection closed under it");
	do_tur(&b);
	logout(&b);
	free(zero);
}
