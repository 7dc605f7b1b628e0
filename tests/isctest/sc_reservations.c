/*
 * isctest scenarios with two initiators on one shared LU, A (-i) and B
 * (-I): persistent reservations fencing and preempting, their state
 * after a restart, CLEAR; TARGET COLD RESET; COMPARE AND WRITE as a
 * counter; EXTENDED COPY answering to every LU it touches, and refusing
 * a parameter list no copy needs.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isctest.h"

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

/*
 * A registers and takes WRITE EXCLUSIVE; B's WRITE conflicts, its READ
 * does not; B preempts A; A gets REGISTRATIONS PREEMPTED, then the
 * conflict.  Both connections stay up, so they sit on two workers.
 */
void
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
void
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
void
sc_cold_reset(void)
{
	struct conn	 a, b;
	struct pdu	 p;
	uint8_t		 h[ISCSI_BHS_LEN];
	uint32_t	 itt;

	pr_login(&a, opt.o_initiator, pr_isid_a);
	pr_login(&b, opt.o_initiator_b, pr_isid_b);
	itt = a.c_itt++;
	bhs_init(h, ISCSI_OP_IMMEDIATE | OP_TMF_REQ, ISCSI_FLAG_FINAL | 7);
	be32enc(h + 16, itt);
	be32enc(h + 20, ISCSI_TTT_NONE);
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
void
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
void
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
void
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
void
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
void
sc_xcopy_huge(void)
{
	struct login_opts	lo = login_defaults();
	struct conn		c;
	struct pdu		p;
	struct scsi_res		res;
	uint8_t			h[ISCSI_BHS_LEN];
	uint32_t		itt;

	login_ok(&c, &lo);
	itt = c.c_itt++;
	bhs_init(h, OP_SCSI_CMD, ISCSI_FLAG_FINAL | 0x20 | 0x01);
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
