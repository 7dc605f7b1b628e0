/*
 * Tests for worker/iscsi/iscsi.c, full feature phase, through a real
 * worker over a socketpair (initiator.h): the opcode table and its
 * phase gates, the CmdSN window, NOP-Out and NOP-In, Data-In sized by
 * the initiator's MaxRecvDataSegmentLength with residuals, answers that
 * wait for the coordinator's commit, Logout, SNACK, Text that spans
 * several PDUs, task management (the functions the SCSI layer
 * reports, run), and commands that run in steps (answered after what
 * came later, limited per connection, stopped by ABORT TASK, LUN RESET
 * and a close).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "initiator.h"
#include "iscsi.h"
#include "scsi.h"
#include "shmq.h"
#include "suites.h"

#define PUBLIC		TI_PREFIX ":alpha"
#define SHARED		TI_PREFIX ":shared"

#define COORD_QUEUE	16	/* max-coordinator-queue below */

static const char conf[] =
    "max-coordinator-queue 16\n"
    "target shared alpha,beta\n"
    "target long-target-name-number-01 beta\n"
    "target long-target-name-number-02 beta\n"
    "target long-target-name-number-03 beta\n"
    "target long-target-name-number-04 beta\n"
    "target long-target-name-number-05 beta\n"
    "target long-target-name-number-06 beta\n";

static struct tworker	 tw;
static struct tini	 ti;

static void
setup(void)
{
	ti_worker(&tw, "iscsi", conf);
	ti_open(&ti, &tw, 7);
}

static void
teardown(void)
{
	ti_close(&ti);
	ti_worker_done(&tw);
}

/* A NOP-Out (immediate or not) with ITT itt and ping data. */
static void
nop_out(uint32_t itt, int immediate, const void *data, uint32_t len)
{
	uint8_t	 bhs[ISCSI_BHS_LEN];

	ti_bhs(bhs, OP_NOP_OUT | (immediate ? ISCSI_OP_IMMEDIATE : 0),
	    ISCSI_FLAG_FINAL);
	bhs[15] = 0x2a;			/* LUN, echoed */
	be32enc(bhs + 16, itt);
	be32enc(bhs + 20, ISCSI_TTT_NONE);
	be32enc(bhs + 24, immediate ? ti.i_cmdsn : ti.i_cmdsn++);
	be32enc(bhs + 28, ti.i_expstatsn);
	ti_send(&ti, bhs, data, len);
}

/* A ping that must be answered: the connection still works. */
static void
still_serves(void)
{
	struct tpdu	 p;

	nop_out(0x7777, 0, NULL, 0);
	ti_expect(&ti, &p, OP_NOP_IN);
	ck_assert_uint_eq(be32dec(p.p_bhs + 16), 0x7777);
	ti_pdu_free(&p);
}

/* TEST UNIT READY with CmdSN sn: answered? */
static int
tur_answered(uint32_t sn)
{
	uint8_t		 cdb[16] = { 0 };
	struct tres	 res;

	ti.i_cmdsn = sn;
	ti_cmd(&ti, ISCSI_FLAG_FINAL | 1, 0, cdb, 0, NULL, 0);
	if (ti_silent(&ti))
		return 0;
	ti_response(&ti, ti.i_itt - 1, &res);
	ck_assert_uint_eq(res.r_status, 0);
	return 1;
}

START_TEST(iscsi__nop_out_echoes_ping_data)
{
	static const char	 ping[] = "ping-data!";
	struct tpdu		 p;
	uint32_t		 statsn;

	ti_login_ok(&ti, PUBLIC, NULL);
	statsn = ti.i_expstatsn;
	nop_out(0x55, 0, ping, sizeof(ping));
	ti_expect(&ti, &p, OP_NOP_IN);
	ck_assert_uint_eq(p.p_bhs[1], ISCSI_FLAG_FINAL);
	ck_assert_uint_eq(p.p_bhs[15], 0x2a);
	ck_assert_uint_eq(be32dec(p.p_bhs + 16), 0x55);
	ck_assert_uint_eq(be32dec(p.p_bhs + 20), ISCSI_TTT_NONE);
	ck_assert_uint_eq(be32dec(p.p_bhs + 24), statsn);
	ck_assert_uint_eq(p.p_dlen, sizeof(ping));
	ck_assert_mem_eq(p.p_data, ping, sizeof(ping));
	ti_pdu_free(&p);
}
END_TEST

/* The echo is no longer than the initiator said it can take. */
START_TEST(iscsi__nop_in_data_capped_by_initiator_mrdsl)
{
	uint8_t		 ping[1024];
	struct tpdu	 p;

	memset(ping, 0x5a, sizeof(ping));
	ti_login_ok(&ti, PUBLIC, "MaxRecvDataSegmentLength=512");
	nop_out(0x56, 0, ping, sizeof(ping));
	ti_expect(&ti, &p, OP_NOP_IN);
	ck_assert_uint_eq(p.p_dlen, 512);
	ck_assert_mem_eq(p.p_data, ping, 512);
	ti_pdu_free(&p);
}
END_TEST

/* ITT 0xffffffff: an answer to a NOP-In, or a ping wanting none. */
START_TEST(iscsi__nop_out_without_itt_not_answered)
{
	ti_login_ok(&ti, PUBLIC, NULL);
	nop_out(ISCSI_TTT_NONE, 1, NULL, 0);
	ck_assert(ti_silent(&ti));
	still_serves();
}
END_TEST

START_TEST(iscsi__window_is_cmd_window_wide)
{
	ti_login_ok(&ti, PUBLIC, NULL);
	still_serves();
	ck_assert_uint_eq(ti.i_expcmdsn, ti.i_cmdsn);
	ck_assert_uint_eq(ti.i_maxcmdsn, ti.i_expcmdsn + ISCSI_CMD_WINDOW - 1);
}
END_TEST

/* Below ExpCmdSN (a duplicate) or past MaxCmdSN: dropped silently. */
START_TEST(iscsi__cmdsn_outside_window_dropped)
{
	uint32_t	 exp;

	ti_login_ok(&ti, PUBLIC, NULL);
	still_serves();			/* the window of full feature phase */
	exp = ti.i_expcmdsn;
	ck_assert(!tur_answered(exp - 1));
	ck_assert(!tur_answered(ti.i_maxcmdsn + 1));
	ck_assert(tur_answered(exp));
	ck_assert_uint_eq(ti.i_expcmdsn, exp + 1);
	ck_assert(!tur_answered(exp));
	ck_assert(tur_answered(exp + 2));	/* within: a gap is allowed */
	ck_assert_uint_eq(ti.i_expcmdsn, exp + 3);
}
END_TEST

/* Serial number arithmetic: the window slides across 2^32. */
START_TEST(iscsi__cmdsn_window_wraps)
{
	uint32_t	 sn;
	int		 i;

	ti.i_cmdsn = 0xfffffff0u;
	ti_login_ok(&ti, PUBLIC, NULL);
	for (i = 0, sn = 0xfffffff0u; i < 32; i++, sn++)
		ck_assert_msg(tur_answered(sn), "CmdSN 0x%08x dropped", sn);
	ck_assert_uint_eq(ti.i_expcmdsn, 0x10);
	ck_assert(!tur_answered(0xfffffffeu));
}
END_TEST

/* An immediate PDU is not numbered: ExpCmdSN stays. */
START_TEST(iscsi__immediate_pdu_keeps_expcmdsn)
{
	struct tpdu	 p;
	uint32_t	 exp;

	ti_login_ok(&ti, PUBLIC, NULL);
	exp = ti.i_expcmdsn;
	nop_out(0x60, 1, NULL, 0);
	ti_expect(&ti, &p, OP_NOP_IN);
	ck_assert_uint_eq(be32dec(p.p_bhs + 28), exp);
	ti_pdu_free(&p);
}
END_TEST

/* Reject: F, the reason, the offending header as its data. */
static void
expect_reject(const uint8_t *bad, int reason)
{
	struct tpdu	 p;

	ti_expect(&ti, &p, OP_REJECT);
	ck_assert_uint_eq(p.p_bhs[1], ISCSI_FLAG_FINAL);
	ck_assert_uint_eq(p.p_bhs[2], reason);
	ck_assert_uint_eq(be32dec(p.p_bhs + 16), ISCSI_TTT_NONE);
	ck_assert_uint_eq(p.p_dlen, ISCSI_BHS_LEN);
	ck_assert_mem_eq(p.p_data, bad, ISCSI_BHS_LEN);
	ti_pdu_free(&p);
}

START_TEST(iscsi__unknown_opcode_rejected)
{
	uint8_t	 bhs[ISCSI_BHS_LEN];

	ti_login_ok(&ti, PUBLIC, NULL);
	ti_bhs(bhs, 0x1c, ISCSI_FLAG_FINAL);
	be32enc(bhs + 16, 0x61);
	ti_send(&ti, bhs, NULL, 0);
	expect_reject(bhs, REJECT_NOT_SUPPORTED);
	still_serves();
}
END_TEST

START_TEST(iscsi__login_in_full_feature_rejected)
{
	uint8_t	 bhs[ISCSI_BHS_LEN];

	ti_login_ok(&ti, PUBLIC, NULL);
	ti_bhs(bhs, ISCSI_OP_IMMEDIATE | OP_LOGIN_REQ, 0x87);
	be32enc(bhs + 16, 0x62);
	ti_send(&ti, bhs, NULL, 0);
	expect_reject(bhs, REJECT_PROTOCOL);
	still_serves();
}
END_TEST

/* Before login completes, a full-feature PDU ends the connection. */
START_TEST(iscsi__full_feature_pdu_before_login_closes)
{
	nop_out(0x63, 1, NULL, 0);
	ck_assert(ti_closed(&ti, TI_REPLY_MS));
	ck_assert_uint_eq(ti.i_rxlen, 0);
}
END_TEST

START_TEST(iscsi__snack_rejected)
{
	uint8_t	 bhs[ISCSI_BHS_LEN];

	ti_login_ok(&ti, PUBLIC, NULL);
	ti_bhs(bhs, OP_SNACK_REQ, ISCSI_FLAG_FINAL);
	be32enc(bhs + 16, 0x64);
	ti_send(&ti, bhs, NULL, 0);
	expect_reject(bhs, REJECT_SNACK);
	still_serves();
}
END_TEST

/* SCSI Command headers no target may accept: R and W, data past EDTL... */
static const struct bad_cmd {
	uint8_t		 bc_flags;	/* byte 1 */
	uint32_t	 bc_edtl;
	uint32_t	 bc_dlen;	/* immediate data */
} bad_cmds[] = {
	{ 0x80 | 0x40 | 0x20 | 1, 512, 0 },	/* read and write */
	{ 0x80 | 0x20 | 1, 512, 1024 },		/* more data than EDTL */
	{ 0x80 | 0x40 | 1, 512, 512 },		/* data with a read */
	{ 0x80 | 1, 512, 16 },			/* data, no W bit */
};

START_TEST(iscsi__bad_scsi_command_rejected)
{
	const struct bad_cmd *bc = &bad_cmds[_i];
	uint8_t		 cdb[16], data[1024];
	struct tpdu	 p;
	uint32_t	 itt;

	memset(data, 0xaa, sizeof(data));
	ti_login_ok(&ti, PUBLIC, NULL);
	ti_rw10(cdb, bc->bc_flags & 0x40 ? 0x28 : 0x2a, 0, 1);
	itt = ti_cmd(&ti, bc->bc_flags, 0, cdb, bc->bc_edtl, data,
	    bc->bc_dlen);
	ti_expect(&ti, &p, OP_REJECT);
	ck_assert_uint_eq(p.p_bhs[2], REJECT_PROTOCOL);
	ck_assert_uint_eq(be32dec(p.p_data + 16), itt);
	ti_pdu_free(&p);
	still_serves();
}
END_TEST

/* A read in Data-In PDUs of MaxRecvDataSegmentLength, status on the last. */
START_TEST(iscsi__read_split_by_initiator_mrdsl)
{
	uint8_t		 cdb[16];
	struct tpdu	 p;
	uint32_t	 itt, i, k;

	ti_login_ok(&ti, PUBLIC, "MaxRecvDataSegmentLength=4096");
	ti_rw10(cdb, 0x28, 8, 32);
	itt = ti_cmd(&ti, 0x80 | 0x40 | 1, 0, cdb, 16384, NULL, 0);
	for (i = 0; i < 4; i++) {
		ti_expect(&ti, &p, OP_DATA_IN);
		ck_assert_uint_eq(be32dec(p.p_bhs + 16), itt);
		ck_assert_uint_eq(be32dec(p.p_bhs + 36), i);
		ck_assert_uint_eq(be32dec(p.p_bhs + 40), i * 4096);
		ck_assert_uint_eq(p.p_dlen, 4096);
		ck_assert_uint_eq(p.p_bhs[1], i < 3 ? 0 : 0x81);
		for (k = 0; k < 4096; k++)
			ck_assert_uint_eq(p.p_data[k], ti_image_byte("alpha",
			    8 * 512 + i * 4096 + k));
		if (i == 3)
			ck_assert_uint_eq(p.p_bhs[3], 0);
		ti_pdu_free(&p);
	}
	ck_assert(ti_silent(&ti));	/* the status rode on the last */
}
END_TEST

/* EDTL against what the command transfers: U or O, and the residual. */
static const struct residual {
	uint32_t	 rs_edtl;
	uint8_t		 rs_flag;
	uint32_t	 rs_residual;
	uint32_t	 rs_din;
} residuals[] = {
	{ 1024, 0x02, 512, 512 },	/* underflow */
	{ 256, 0x04, 256, 256 },	/* overflow: only EDTL comes */
	{ 512, 0x00, 0, 512 },
};

START_TEST(iscsi__read_residuals)
{
	const struct residual *rs = &residuals[_i];
	uint8_t		 cdb[16];
	struct tpdu	 p;

	ti_login_ok(&ti, PUBLIC, NULL);
	ti_rw10(cdb, 0x28, 0, 1);
	ti_cmd(&ti, 0x80 | 0x40 | 1, 0, cdb, rs->rs_edtl, NULL, 0);
	ti_expect(&ti, &p, OP_DATA_IN);
	ck_assert_uint_eq(p.p_dlen, rs->rs_din);
	ck_assert_uint_eq(p.p_bhs[1], 0x81 | rs->rs_flag);
	ck_assert_uint_eq(be32dec(p.p_bhs + 44), rs->rs_residual);
	ti_pdu_free(&p);
}
END_TEST

/* A failed command: a SCSI Response with sense, no Data-In. */
START_TEST(iscsi__check_condition_carries_sense)
{
	uint8_t		 cdb[16], buf[512];
	struct tres	 res;

	ti_login_ok(&ti, PUBLIC, NULL);
	ti_rw10(cdb, 0x28, TI_ALPHA_SIZE / 512, 1);
	ti_scsi(&ti, 0, cdb, buf, sizeof(buf), TI_READ, &res);
	ck_assert_uint_eq(res.r_status, 0x02);
	ck_assert_uint_eq(res.r_key, 0x05);
	ck_assert_uint_eq(res.r_asc, 0x2100);	/* LBA out of range */
	ck_assert_uint_eq(res.r_din, 0);
}
END_TEST

/* A write that maps blocks of a shared LU: GOOD only once committed. */
START_TEST(iscsi__shared_write_answered_after_commit)
{
	uint8_t		 cdb[16], data[512];
	struct shmq_msg	 m;
	struct tres	 res;
	uint32_t	 itt;

	memset(data, 0x3c, sizeof(data));
	ti_login_ok(&ti, SHARED, NULL);
	ck_assert(ti_silent(&ti));
	tw.tw_hold = 1;
	ti_rw10(cdb, 0x2a, 4, 1);
	itt = ti_cmd(&ti, 0x80 | 0x20 | 1, 0, cdb, 512, data, 512);
	ck_assert(ti_silent(&ti));
	ck_assert_int_eq(shmq_request_peek(tw.tw_w.w_region, 0, 0, &m), 1);
	ck_assert_uint_eq(m.m_type, SHMQ_MAP_SET);
	tw.tw_hold = 0;
	ti_response(&ti, itt, &res);
	ck_assert_uint_eq(res.r_status, 0);
}
END_TEST

/*
 * A coordinator that stays behind: SYNCHRONIZE CACHE on a shared LU
 * (one MAP_SYNC each) fills the ring and max-coordinator-queue more in
 * the worker.  Past that a command that would commit gets TASK SET FULL
 * before it runs (a write's data never lands), a read is still served,
 * and what was held is answered once the coordinator catches up.
 */
START_TEST(iscsi__coordinator_backlog_answers_task_set_full)
{
	uint8_t		 cdb[16] = { 0x35 }, wcdb[16], data[512], back[512];
	struct tres	 res;
	uint32_t	 first, itt;
	int		 i, n = SHMQ_RING_SIZE + COORD_QUEUE;

	memset(data, 0x5a, sizeof(data));
	ti_login_ok(&ti, SHARED, NULL);
	ck_assert(ti_silent(&ti));
	tw.tw_hold = 1;
	first = ti.i_itt;
	for (i = 0; i < n; i++) {
		ti_cmd(&ti, ISCSI_FLAG_FINAL | 1, 0, cdb, 0, NULL, 0);
		if (i % 32 == 31)	/* within the CmdSN window */
			ck_assert_int_eq(tw_pump(&tw, NULL, NULL), 0);
	}
	ck_assert(ti_silent(&ti));
	ti_rw10(wcdb, 0x2a, 9, 1);
	itt = ti_cmd(&ti, 0x80 | 0x20 | 1, 0, wcdb, 512, data, 512);
	ti_response(&ti, itt, &res);
	ck_assert_uint_eq(res.r_status, 0x28);	/* TASK SET FULL */
	ti_rw10(wcdb, 0x28, 9, 1);
	ti_scsi(&ti, 0, wcdb, back, sizeof(back), TI_READ, &res);
	ck_assert_uint_eq(res.r_status, 0);
	ck_assert_uint_eq(back[0], ti_image_byte("alpha", 9 * 512));
	ck_assert_uint_ne(back[0], data[0]);
	tw.tw_hold = 0;
	for (i = 0; i < n; i++) {
		ti_response(&ti, first + (uint32_t)i, &res);
		ck_assert_uint_eq(res.r_status, 0);
	}
	ti_rw10(wcdb, 0x2a, 9, 1);
	ti_scsi(&ti, 0, wcdb, data, sizeof(data), TI_WRITE, &res);
	ck_assert_uint_eq(res.r_status, 0);
}
END_TEST

static uint32_t
refuse_maps(const struct shmq_msg *m, void *arg)
{
	return m->m_type == SHMQ_MAP_SET ? *(uint32_t *)arg : 0;
}

/* The coordinator could not commit: the write fails, saying why. */
static const struct commit_err {
	uint32_t	 ce_errno;
	uint8_t		 ce_key;
	uint16_t	 ce_asc;
} commit_errs[] = {
	{ ENOSPC, 0x07, 0x2707 },	/* DATA PROTECT, SPACE ALLOC FAILED */
	{ EIO, 0x04, 0x4400 },		/* HARDWARE ERROR, INTERNAL */
};

START_TEST(iscsi__failed_commit_fails_the_write)
{
	uint8_t		 cdb[16], data[512];
	uint32_t	 err = commit_errs[_i].ce_errno;
	struct tres	 res;

	memset(data, 0x3d, sizeof(data));
	ti_login_ok(&ti, SHARED, NULL);
	tw.tw_hook = refuse_maps;
	tw.tw_arg = &err;
	ti_rw10(cdb, 0x2a, 4, 1);
	ti_scsi(&ti, 0, cdb, data, sizeof(data), TI_WRITE, &res);
	ck_assert_uint_eq(res.r_status, 0x02);
	ck_assert_uint_eq(res.r_key, commit_errs[_i].ce_key);
	ck_assert_uint_eq(res.r_asc, commit_errs[_i].ce_asc);
}
END_TEST

static void
logout(int reason, uint32_t itt)
{
	uint8_t	 bhs[ISCSI_BHS_LEN];

	ti_bhs(bhs, ISCSI_OP_IMMEDIATE | OP_LOGOUT_REQ, 0x80 | reason);
	be32enc(bhs + 16, itt);
	be32enc(bhs + 24, ti.i_cmdsn);
	be32enc(bhs + 28, ti.i_expstatsn);
	ti_send(&ti, bhs, NULL, 0);
}

/* Logout: the response, then the connection closes; the master hears. */
START_TEST(iscsi__logout_answers_then_closes)
{
	struct tpdu	 p;

	ti_login_ok(&ti, PUBLIC, NULL);
	logout(0, 0x70);
	ck_assert(ti_closed(&ti, TI_REPLY_MS));
	ti_expect(&ti, &p, OP_LOGOUT_RSP);
	ck_assert_uint_eq(p.p_bhs[2], 0);
	ck_assert_uint_eq(be32dec(p.p_bhs + 16), 0x70);
	ti_pdu_free(&p);
	ck_assert_int_eq(tw.tw_w.w_nconns, 0);
	ck_assert_uint_eq(tw.tw_nclosed, 1);
	ck_assert_uint_eq(tw.tw_closed, 7);
}
END_TEST

/* "Remove the connection for recovery": not supported, it stays. */
START_TEST(iscsi__logout_for_recovery_refused)
{
	struct tpdu	 p;

	ti_login_ok(&ti, PUBLIC, NULL);
	logout(2, 0x71);
	ti_expect(&ti, &p, OP_LOGOUT_RSP);
	ck_assert_uint_eq(p.p_bhs[2], 2);
	ti_pdu_free(&p);
	still_serves();
}
END_TEST

static void
text_req(uint32_t itt, uint32_t ttt, const char *text, uint32_t len)
{
	uint8_t	 bhs[ISCSI_BHS_LEN];

	ti_bhs(bhs, ISCSI_OP_IMMEDIATE | OP_TEXT_REQ, ISCSI_FLAG_FINAL);
	be32enc(bhs + 16, itt);
	be32enc(bhs + 20, ttt);
	be32enc(bhs + 24, ti.i_cmdsn);
	be32enc(bhs + 28, ti.i_expstatsn);
	ti_send(&ti, bhs, text, len);
}

/* A long SendTargets answer comes in pieces, each asked for by its TTT. */
START_TEST(iscsi__text_continues_past_initiator_mrdsl)
{
	static const char st[] = "SendTargets=All";
	char		 all[8192];
	struct tpdu	 p;
	size_t		 len = 0;
	int		 parts = 0, more;

	ti_login_ok(&ti, NULL, "MaxRecvDataSegmentLength=512");
	text_req(0x80, ISCSI_TTT_NONE, st, sizeof(st));
	do {
		ti_expect(&ti, &p, OP_TEXT_RSP);
		ck_assert_uint_eq(be32dec(p.p_bhs + 16), 0x80);
		ck_assert_uint_le(p.p_dlen, 512);
		ck_assert_uint_lt(len + p.p_dlen, sizeof(all));
		memcpy(all + len, p.p_data, p.p_dlen);
		len += p.p_dlen;
		more = (p.p_bhs[1] & 0x40) != 0;
		ck_assert_int_eq(!more, (p.p_bhs[1] & 0x80) != 0);
		if (more)
			text_req(0x80, be32dec(p.p_bhs + 20), NULL, 0);
		else
			ck_assert_uint_eq(be32dec(p.p_bhs + 20),
			    ISCSI_TTT_NONE);
		parts++;
		ti_pdu_free(&p);
	} while (more);
	ck_assert_int_gt(parts, 1);
	ck_assert_ptr_nonnull(memmem(all, len, "TargetName=" TI_PREFIX
	    ":long-target-name-number-06", 50));
	ck_assert_ptr_nonnull(memmem(all, len, "TargetName=" PUBLIC, 35));
}
END_TEST

/* A TMF request; the response byte. */
static int
tmf(int fn, uint64_t lun, uint32_t rtt)
{
	return ti_tmf(&ti, fn, lun, rtt);
}

/* Function, LUN, the answer (RFC 7143 11.6.1). */
static const struct tmf_case {
	int		 tc_fn;
	uint64_t	 tc_lun;
	int		 tc_rsp;
} tmf_cases[] = {
	{ 1, 0, 1 },		/* ABORT TASK, no such task */
	{ 2, 0, 0 },		/* ABORT TASK SET */
	{ 2, 9, 2 },		/* ... of a LUN that does not exist */
	{ 3, 0, 0 },		/* CLEAR ACA */
	{ 4, 9, 2 },		/* CLEAR TASK SET, no LUN */
	{ 5, 9, 2 },		/* LOGICAL UNIT RESET, no LUN */
	{ 6, 0, 0 },		/* TARGET WARM RESET */
	{ 8, 0, 5 },		/* TASK REASSIGN: not supported */
	{ 14, 0, 5 },		/* no such function */
};

START_TEST(iscsi__tmf_answers)
{
	const struct tmf_case *tc = &tmf_cases[_i];

	ti_login_ok(&ti, PUBLIC, NULL);
	ck_assert_int_eq(tmf(tc->tc_fn, tc->tc_lun, 0x1234), tc->tc_rsp);
	still_serves();
}
END_TEST

/* Nothing to manage in a discovery session. */
START_TEST(iscsi__tmf_in_discovery_rejected)
{
	ti_login_ok(&ti, NULL, NULL);
	ck_assert_int_eq(tmf(5, 0, 0), 255);
}
END_TEST

/* LOGICAL UNIT RESET: the LU's next command sees a unit attention. */
START_TEST(iscsi__tmf_lun_reset_resets_the_lu)
{
	uint8_t		 cdb[16] = { 0 };
	struct tres	 res;

	ti_login_ok(&ti, PUBLIC, NULL);
	ti_scsi(&ti, 0, cdb, NULL, 0, TI_NONE, &res);	/* power-on UA */
	ti_scsi(&ti, 0, cdb, NULL, 0, TI_NONE, &res);
	ck_assert_uint_eq(res.r_status, 0);
	ck_assert_int_eq(tmf(5, 0, 0), 0);
	ti_scsi(&ti, 0, cdb, NULL, 0, TI_NONE, &res);
	ck_assert_uint_eq(res.r_status, 0x02);
	ck_assert_uint_eq(res.r_key, 0x06);
	ck_assert_uint_eq(res.r_asc >> 8, 0x29);
}
END_TEST

/* TARGET COLD RESET: answered, then the connection closes. */
START_TEST(iscsi__tmf_cold_reset_closes)
{
	ti_login_ok(&ti, PUBLIC, NULL);
	ck_assert_int_eq(tmf(7, 0, 0), 0);
	ck_assert(ti_closed(&ti, TI_REPLY_MS));
}
END_TEST

/* ABORT TASK of a write waiting for Data-Out: gone, its data ignored. */
START_TEST(iscsi__tmf_abort_task_forgets_waiting_write)
{
	uint8_t		 cdb[16], data[4096];
	struct tpdu	 p;
	uint32_t	 itt, ttt;

	memset(data, 0x11, sizeof(data));
	ti_login_ok(&ti, PUBLIC, "ImmediateData=No;InitialR2T=Yes");
	ti_rw10(cdb, 0x2a, 0, 8);
	itt = ti_cmd(&ti, 0x80 | 0x20 | 1, 0, cdb, 4096, NULL, 0);
	ti_expect(&ti, &p, OP_R2T);
	ttt = be32dec(p.p_bhs + 20);
	ti_pdu_free(&p);
	ck_assert_int_eq(tmf(1, 0, itt), 0);
	ti_dataout(&ti, itt, ttt, 0, 0, data, sizeof(data), 1);
	ck_assert(ti_silent(&ti));
	ck_assert_int_eq(tmf(1, 0, itt), 1);	/* no longer there */
}
END_TEST

/*
 * The transport runs every task management function the SCSI layer's
 * table has (and REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS reports,
 * spc_tmf) and no other: each iSCSI function code it maps is one of
 * them, and answers; every other one is "not supported".
 */
START_TEST(iscsi__tmf_runs_what_scsi_reports)
{
	uint8_t		 cdb[16] = { 0xa3, 0x0d, 0, 0, 0, 0, 0, 0, 0, 4 };
	uint8_t		 want[4] = { 0 }, got[4];
	const struct scsi_tmf_desc *d;
	struct tres	 res;
	int		 id, fn, reached;

	for (id = 0; id < SCSI_TMF_COUNT; id++) {
		d = spc_tmf(id);
		ck_assert_msg(iscsi_tmf_handled(id), "%s not run", d->tm_name);
		want[d->tm_byte] |= (uint8_t)(1 << d->tm_bit);
		for (reached = 0, fn = 0; fn < 128; fn++)
			reached |= iscsi_tmf_id(fn) == id;
		ck_assert_msg(reached, "%s: no iSCSI function", d->tm_name);
	}
	ti_login_ok(&ti, PUBLIC, NULL);
	for (fn = 1; fn < 16; fn++) {
		id = iscsi_tmf_id(fn);
		ck_assert(id == -1 || (id >= 0 && id < SCSI_TMF_COUNT));
		if (fn == 7)		/* TARGET COLD RESET: closes */
			continue;
		ck_assert_int_eq(tmf(fn, 0, 0x1234) == 5, id == -1);
	}
	ti_scsi(&ti, 0, cdb, got, sizeof(got), TI_READ, &res);	/* a UA */
	ti_scsi(&ti, 0, cdb, got, sizeof(got), TI_READ, &res);
	ck_assert_uint_eq(res.r_status, 0);
	ck_assert_mem_eq(got, want, sizeof(want));
}
END_TEST

/* ---- Commands that run in steps ---- */

#define BIG		TI_PREFIX ":big"
#define BIG_SIZE	(64u << 20)	/* images/big.img, sparse: zeros */

/* A worker with a 64 MiB image of zeros, max-long-commands 2. */
static void
setup_steps(void)
{
	char	 p[1024];
	int	 fd;

	ti_worker_dirs(&tw, "steps");
	snprintf(p, sizeof(p), "%s/images/big.img", tw.tw_dir);
	ck_assert_int_ge(fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
	ck_assert_int_eq(ftruncate(fd, BIG_SIZE), 0);
	close(fd);
	ti_worker_config(&tw, "max-long-commands 2\n");
	ck_assert_int_eq(tw_start(&tw, NULL, 0), 0);
	ti_open(&ti, &tw, 7);
	ti_login_ok(&ti, BIG, NULL);
	ck_assert_int_eq(tur_answered(ti.i_cmdsn), 1);	/* the power-on UA */
}

/* VERIFY(16) BYTCHK 11b of all of big.img against a block of zeros. */
static uint32_t
verify_big(void)
{
	static const uint8_t zero[512];
	uint8_t	 cdb[16] = { 0x8f, 0x06 };

	be32enc(cdb + 10, BIG_SIZE / 512);
	return ti_cmd(&ti, ISCSI_FLAG_FINAL | 0x20 | 1, 0, cdb, 512, zero,
	    512);
}

/*
 * Another command sent after it is answered before it (the loop reads
 * the socket between two steps).
 */
START_TEST(iscsi__command_in_steps_lets_others_through)
{
	struct tpdu	 p;
	struct tres	 res;
	uint32_t	 itt;

	itt = verify_big();
	nop_out(0x7777, 0, NULL, 0);
	ti_expect(&ti, &p, OP_NOP_IN);
	ck_assert_uint_eq(be32dec(p.p_bhs + 16), 0x7777);
	ti_pdu_free(&p);
	ti_response(&ti, itt, &res);
	ck_assert_uint_eq(res.r_status, 0);
	ck_assert(TAILQ_EMPTY(&tw.tw_w.w_steps));
}
END_TEST

/* Past max-long-commands: TASK SET FULL, unrun; the others GOOD. */
START_TEST(iscsi__commands_in_steps_past_the_limit_refused)
{
	struct tres	 res;
	uint32_t	 itt[3];
	int		 i;

	for (i = 0; i < 3; i++)
		itt[i] = verify_big();
	ti_response(&ti, itt[2], &res);
	ck_assert_uint_eq(res.r_status, 0x28);
	for (i = 0; i < 2; i++) {
		ti_response(&ti, itt[i], &res);
		ck_assert_uint_eq(res.r_status, 0);
	}
}
END_TEST

/* ABORT TASK, LUN RESET: stopped, never answered. */
START_TEST(iscsi__tmf_stops_a_command_in_steps)
{
	uint32_t	 itt;

	itt = verify_big();
	ck_assert_int_eq(tmf(1, 0, itt), 0);
	ck_assert(TAILQ_EMPTY(&tw.tw_w.w_steps));
	ck_assert(ti_silent(&ti));
	ck_assert_int_eq(tmf(1, 0, itt), 1);
	verify_big();
	ck_assert_int_eq(tmf(5, 0, 0), 0);
	ck_assert(TAILQ_EMPTY(&tw.tw_w.w_steps));
	ck_assert(ti_silent(&ti));
	still_serves();
}
END_TEST

/*
 * Its connection closes under it (the worker reads the commands, starts
 * them, then the end of the stream): freed, the worker goes on.
 */
START_TEST(iscsi__close_under_a_command_in_steps)
{
	int	 i;

	verify_big();
	verify_big();
	ti_close(&ti);
	for (i = 0; i < 100 && tw.tw_w.w_nconns > 0; i++)
		tw_pass(&tw, 10);
	ck_assert_int_eq(tw.tw_w.w_nconns, 0);
	ck_assert(TAILQ_EMPTY(&tw.tw_w.w_steps));
	ti_open(&ti, &tw, 8);
	ti_login_ok(&ti, BIG, NULL);
	still_serves();
}
END_TEST

Suite *
iscsi_suite(void)
{
	Suite	*s = suite_create("iscsi");
	TCase	*tc;

	tc = tcase_create("pdus");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, iscsi__nop_out_echoes_ping_data);
	tcase_add_test(tc, iscsi__nop_in_data_capped_by_initiator_mrdsl);
	tcase_add_test(tc, iscsi__nop_out_without_itt_not_answered);
	tcase_add_test(tc, iscsi__unknown_opcode_rejected);
	tcase_add_test(tc, iscsi__login_in_full_feature_rejected);
	tcase_add_test(tc, iscsi__full_feature_pdu_before_login_closes);
	tcase_add_test(tc, iscsi__snack_rejected);
	tcase_add_test(tc, iscsi__logout_answers_then_closes);
	tcase_add_test(tc, iscsi__logout_for_recovery_refused);
	tcase_add_test(tc, iscsi__text_continues_past_initiator_mrdsl);
	suite_add_tcase(s, tc);

	tc = tcase_create("cmdsn");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, iscsi__window_is_cmd_window_wide);
	tcase_add_test(tc, iscsi__cmdsn_outside_window_dropped);
	tcase_add_test(tc, iscsi__cmdsn_window_wraps);
	tcase_add_test(tc, iscsi__immediate_pdu_keeps_expcmdsn);
	suite_add_tcase(s, tc);

	tc = tcase_create("scsi");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, iscsi__bad_scsi_command_rejected, 0,
	    sizeof(bad_cmds) / sizeof(bad_cmds[0]));
	tcase_add_test(tc, iscsi__read_split_by_initiator_mrdsl);
	tcase_add_loop_test(tc, iscsi__read_residuals, 0,
	    sizeof(residuals) / sizeof(residuals[0]));
	tcase_add_test(tc, iscsi__check_condition_carries_sense);
	tcase_add_test(tc, iscsi__shared_write_answered_after_commit);
	tcase_add_test(tc, iscsi__coordinator_backlog_answers_task_set_full);
	tcase_add_loop_test(tc, iscsi__failed_commit_fails_the_write, 0,
	    sizeof(commit_errs) / sizeof(commit_errs[0]));
	suite_add_tcase(s, tc);

	tc = tcase_create("tmf");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, iscsi__tmf_answers, 0,
	    sizeof(tmf_cases) / sizeof(tmf_cases[0]));
	tcase_add_test(tc, iscsi__tmf_in_discovery_rejected);
	tcase_add_test(tc, iscsi__tmf_lun_reset_resets_the_lu);
	tcase_add_test(tc, iscsi__tmf_cold_reset_closes);
	tcase_add_test(tc, iscsi__tmf_abort_task_forgets_waiting_write);
	tcase_add_test(tc, iscsi__tmf_runs_what_scsi_reports);
	suite_add_tcase(s, tc);

	tc = tcase_create("steps");
	tcase_add_checked_fixture(tc, setup_steps, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, iscsi__command_in_steps_lets_others_through);
	tcase_add_test(tc, iscsi__commands_in_steps_past_the_limit_refused);
	tcase_add_test(tc, iscsi__tmf_stops_a_command_in_steps);
	tcase_add_test(tc, iscsi__close_under_a_command_in_steps);
	suite_add_tcase(s, tc);
	return s;
}
