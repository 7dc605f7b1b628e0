/*
 * Tests for worker/iscsi/dataout.c through a real worker over a
 * socketpair (initiator.h): R2Ts (offsets, lengths, R2TSN, at most
 * MaxBurstLength and MaxOutstandingR2T), the data sequence checks that
 * accept every byte once and in order (overlaps, unknown TTTs, DataSN,
 * too much or too little data), a short unsolicited burst whose rest is
 * solicited, ordering against waiting writes, and the budget of
 * buffered write data.
 */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "initiator.h"
#include "suites.h"

#define PUBLIC		TI_PREFIX ":alpha"
#define SOLICIT		"ImmediateData=No;InitialR2T=Yes"
#define LBA		16		/* where the tests write */

static struct tworker	 tw;
static struct tini	 ti;
static uint8_t		 data[1 << 20];

static void
setup(void)
{
	size_t	 i;

	ti_worker(&tw, "dataout", "max-pending-data 1M\n");
	ti_open(&ti, &tw, 3);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0x80 | (i % 61));
}

static void
teardown(void)
{
	ti_close(&ti);
	ti_worker_done(&tw);
}

/* WRITE(10) of len bytes at lba, with imm of them immediate; its ITT. */
static uint32_t
write_at(uint32_t lba, uint32_t len, uint32_t imm, int final)
{
	uint8_t	 cdb[16];

	ti_rw10(cdb, 0x2a, lba, (uint16_t)(len / 512));
	return ti_cmd(&ti, (final ? 0x80 : 0) | 0x20 | 1, 0, cdb, len, data,
	    imm);
}

static uint32_t
write_cmd(uint32_t len, uint32_t imm, int final)
{
	return write_at(LBA, len, imm, final);
}

/* The next PDU is an R2T of itt for [off, off + len): its TTT. */
static uint32_t
expect_r2t(uint32_t itt, uint32_t sn, uint32_t off, uint32_t len)
{
	struct tpdu	 p;
	uint32_t	 ttt;

	ti_expect(&ti, &p, OP_R2T);
	ck_assert_uint_eq(be32dec(p.p_bhs + 16), itt);
	ttt = be32dec(p.p_bhs + 20);
	ck_assert_uint_ne(ttt, 0);
	ck_assert_uint_ne(ttt, ISCSI_TTT_NONE);
	ck_assert_uint_eq(be32dec(p.p_bhs + 36), sn);
	ck_assert_uint_eq(be32dec(p.p_bhs + 40), off);
	ck_assert_uint_eq(be32dec(p.p_bhs + 44), len);
	ti_pdu_free(&p);
	return ttt;
}

static void
expect_good(uint32_t itt)
{
	struct tres	 res;

	ti_response(&ti, itt, &res);
	ck_assert_uint_eq(res.r_status, 0);
}

/* What the LU holds at LBA: data (written), or alpha's bytes. */
static void
expect_medium(uint32_t len, int written)
{
	uint8_t		 cdb[16], *buf = malloc(len);
	struct tres	 res;
	uint32_t	 i;

	ti_rw10(cdb, 0x28, LBA, (uint16_t)(len / 512));
	ti_scsi(&ti, 0, cdb, buf, len, TI_READ, &res);
	ck_assert_uint_eq(res.r_status, 0);
	for (i = 0; i < len; i++)
		ck_assert_uint_eq(buf[i], written ? data[i] :
		    ti_image_byte("alpha", LBA * 512 + i));
	free(buf);
}

/* A broken sequence: Reject (reason), then ABORTED COMMAND (asc). */
static void
expect_data_error(uint32_t itt, int reason, uint16_t asc)
{
	struct tpdu	 p;
	struct tres	 res;

	ti_expect(&ti, &p, OP_REJECT);
	ck_assert_uint_eq(p.p_bhs[2], reason);
	ck_assert_uint_eq(p.p_data[0] & ISCSI_OP_MASK, OP_DATA_OUT);
	ti_pdu_free(&p);
	ti_response(&ti, itt, &res);
	ck_assert_uint_eq(res.r_status, 0x02);
	ck_assert_uint_eq(res.r_key, 0x0b);
	ck_assert_uint_eq(res.r_asc, asc);
}

START_TEST(dataout__solicited_in_order_completes)
{
	uint32_t	 itt, ttt;

	ti_login_ok(&ti, PUBLIC, SOLICIT);
	itt = write_cmd(8192, 0, 1);
	ttt = expect_r2t(itt, 0, 0, 8192);
	ti_dataout(&ti, itt, ttt, 0, 0, data, 4096, 0);
	ck_assert(ti_silent(&ti));
	ti_dataout(&ti, itt, ttt, 1, 4096, data + 4096, 4096, 1);
	expect_good(itt);
	expect_medium(8192, 1);
}
END_TEST

/* The same bytes twice: refused, and nothing of the command is written. */
START_TEST(dataout__overlap_rejected)
{
	uint32_t	 itt, ttt;

	ti_login_ok(&ti, PUBLIC, SOLICIT);
	itt = write_cmd(8192, 0, 1);
	ttt = expect_r2t(itt, 0, 0, 8192);
	ti_dataout(&ti, itt, ttt, 0, 0, data, 4096, 0);
	ti_dataout(&ti, itt, ttt, 1, 0, data, 8192, 1);
	expect_data_error(itt, REJECT_PROTOCOL, 0x4b05);
	expect_medium(8192, 0);
}
END_TEST

START_TEST(dataout__unknown_ttt_rejected)
{
	uint32_t	 itt, ttt;

	ti_login_ok(&ti, PUBLIC, SOLICIT);
	itt = write_cmd(4096, 0, 1);
	ttt = expect_r2t(itt, 0, 0, 4096);
	ti_dataout(&ti, itt, ttt + 1000, 0, 0, data, 4096, 1);
	expect_data_error(itt, REJECT_INVALID_FIELD, 0x4b01);
	expect_medium(4096, 0);
}
END_TEST

START_TEST(dataout__datasn_out_of_order_rejected)
{
	uint32_t	 itt, ttt;

	ti_login_ok(&ti, PUBLIC, SOLICIT);
	itt = write_cmd(4096, 0, 1);
	ttt = expect_r2t(itt, 0, 0, 4096);
	ti_dataout(&ti, itt, ttt, 1, 0, data, 4096, 1);
	expect_data_error(itt, REJECT_PROTOCOL, 0x4b00);
}
END_TEST

START_TEST(dataout__more_than_r2t_rejected)
{
	uint32_t	 itt, ttt;

	ti_login_ok(&ti, PUBLIC, SOLICIT);
	itt = write_cmd(4096, 0, 1);
	ttt = expect_r2t(itt, 0, 0, 4096);
	ti_dataout(&ti, itt, ttt, 0, 0, data, 4608, 1);
	expect_data_error(itt, REJECT_PROTOCOL, 0x4b02);
	expect_medium(4096, 0);
}
END_TEST

/* F before the R2T's bytes are all in: the command cannot complete. */
START_TEST(dataout__sequence_ending_short_rejected)
{
	uint32_t	 itt, ttt;

	ti_login_ok(&ti, PUBLIC, SOLICIT);
	itt = write_cmd(8192, 0, 1);
	ttt = expect_r2t(itt, 0, 0, 8192);
	ti_dataout(&ti, itt, ttt, 0, 0, data, 4096, 1);
	expect_data_error(itt, REJECT_PROTOCOL, 0x4b05);
	expect_medium(8192, 0);
}
END_TEST

/* InitialR2T=Yes: Data-Out without an R2T is not expected. */
START_TEST(dataout__unsolicited_not_expected_rejected)
{
	uint32_t	 itt;

	ti_login_ok(&ti, PUBLIC, SOLICIT);
	itt = write_cmd(4096, 0, 1);
	expect_r2t(itt, 0, 0, 4096);
	ti_dataout(&ti, itt, ISCSI_TTT_NONE, 0, 0, data, 4096, 1);
	expect_data_error(itt, REJECT_PROTOCOL, 0x4b05);
}
END_TEST

/* Data for a command nobody sent (or already answered): dropped. */
START_TEST(dataout__data_for_unknown_task_ignored)
{
	uint8_t		 cdb[16] = { 0 };
	struct tres	 res;

	ti_login_ok(&ti, PUBLIC, SOLICIT);
	ti_dataout(&ti, 0xdead, 1, 0, 0, data, 4096, 1);
	ck_assert(ti_silent(&ti));
	ti_scsi(&ti, 0, cdb, NULL, 0, TI_NONE, &res);
}
END_TEST

/* A burst ended short of FirstBurstLength: the gap is solicited. */
START_TEST(dataout__short_unsolicited_burst_solicited)
{
	uint32_t	 itt, ttt;

	ti_login_ok(&ti, PUBLIC, "ImmediateData=No;InitialR2T=No;"
	    "FirstBurstLength=65536");
	itt = write_cmd(16384, 0, 0);
	ti_dataout(&ti, itt, ISCSI_TTT_NONE, 0, 0, data, 4096, 1);
	ttt = expect_r2t(itt, 0, 4096, 12288);
	ti_dataout(&ti, itt, ttt, 0, 4096, data + 4096, 12288, 1);
	expect_good(itt);
	expect_medium(16384, 1);
}
END_TEST

/* Immediate data, then one R2T for the rest. */
START_TEST(dataout__immediate_then_r2t_for_rest)
{
	uint32_t	 itt, ttt;

	ti_login_ok(&ti, PUBLIC, "ImmediateData=Yes;InitialR2T=Yes");
	itt = write_cmd(8192, 2048, 1);
	ttt = expect_r2t(itt, 0, 2048, 6144);
	ti_dataout(&ti, itt, ttt, 0, 2048, data + 2048, 6144, 1);
	expect_good(itt);
	expect_medium(8192, 1);
}
END_TEST

/* R2Ts of MaxBurstLength, no more than MaxOutstandingR2T at a time. */
START_TEST(dataout__r2ts_bounded_by_burst_and_outstanding)
{
	uint32_t	 itt, ttt[3];

	ti_login_ok(&ti, PUBLIC, SOLICIT ";MaxBurstLength=4096;"
	    "MaxOutstandingR2T=2");
	itt = write_cmd(12288, 0, 1);
	ttt[0] = expect_r2t(itt, 0, 0, 4096);
	ttt[1] = expect_r2t(itt, 1, 4096, 4096);
	ck_assert_uint_ne(ttt[0], ttt[1]);
	ck_assert(ti_silent(&ti));
	ti_dataout(&ti, itt, ttt[1], 0, 4096, data + 4096, 4096, 1);
	ttt[2] = expect_r2t(itt, 2, 8192, 4096);
	ti_dataout(&ti, itt, ttt[0], 0, 0, data, 4096, 1);
	ck_assert(ti_silent(&ti));
	ti_dataout(&ti, itt, ttt[2], 0, 8192, data + 8192, 4096, 1);
	expect_good(itt);
	expect_medium(12288, 1);
}
END_TEST

/* A second command under an ITT still waiting for its data. */
START_TEST(dataout__itt_in_use_rejected)
{
	struct tpdu	 p;
	uint32_t	 itt;

	ti_login_ok(&ti, PUBLIC, SOLICIT);
	itt = write_cmd(4096, 0, 1);
	expect_r2t(itt, 0, 0, 4096);
	ti.i_itt = itt;
	write_cmd(4096, 0, 1);
	ti_expect(&ti, &p, OP_REJECT);
	ck_assert_uint_eq(p.p_bhs[2], REJECT_TASK_IN_PROGRESS);
	ti_pdu_free(&p);
}
END_TEST

/* Whatever unit attention a new session has is reported now. */
static void
ua_clear(void)
{
	uint8_t		 cdb[16] = { 0 };
	struct tres	 res;

	ti_scsi(&ti, 0, cdb, NULL, 0, TI_NONE, &res);
}

/* TEST UNIT READY with a task attribute: its status. */
static uint8_t
tur_status(int attr)
{
	uint8_t		 cdb[16] = { 0 };
	struct tres	 res;
	uint32_t	 itt;

	itt = ti_cmd(&ti, 0x80 | attr, 0, cdb, 0, NULL, 0);
	ti_response(&ti, itt, &res);
	return res.r_status;
}

/* Nothing but HEAD OF QUEUE passes an ORDERED write that waits. */
START_TEST(dataout__ordered_write_waiting_holds_others)
{
	uint8_t		 cdb[16];
	uint32_t	 itt;

	ti_login_ok(&ti, PUBLIC, SOLICIT);
	ua_clear();
	ck_assert_uint_eq(tur_status(1), 0);
	ti_rw10(cdb, 0x2a, LBA, 8);
	itt = ti_cmd(&ti, 0x80 | 0x20 | 2, 0, cdb, 4096, NULL, 0);
	expect_r2t(itt, 0, 0, 4096);
	ck_assert_uint_eq(tur_status(1), 0x08);		/* SIMPLE: BUSY */
	ck_assert_uint_eq(tur_status(2), 0x08);		/* ORDERED */
	ck_assert_uint_eq(tur_status(3), 0);		/* HEAD OF QUEUE */
}
END_TEST

/* An ORDERED command waits for SIMPLE writes still awaiting data. */
START_TEST(dataout__ordered_waits_for_simple_write)
{
	uint32_t	 itt;

	ti_login_ok(&ti, PUBLIC, SOLICIT);
	ua_clear();
	itt = write_cmd(4096, 0, 1);
	expect_r2t(itt, 0, 0, 4096);
	ck_assert_uint_eq(tur_status(1), 0);
	ck_assert_uint_eq(tur_status(2), 0x08);
}
END_TEST

/*
 * max-pending-data 1M: a second 1 MiB write gets its R2T only once the
 * first one's buffer is given back.
 */
START_TEST(dataout__r2t_waits_for_buffer_room)
{
	uint32_t	 a, b, ttt;

	ti_login_ok(&ti, PUBLIC, SOLICIT ";MaxBurstLength=1048576");
	a = write_at(0, 1 << 20, 0, 1);
	ttt = expect_r2t(a, 0, 0, 1 << 20);
	b = write_at(0, 1 << 20, 0, 1);
	ck_assert(ti_silent(&ti));
	ti_sequence(&ti, a, ttt, data, 0, 1 << 20);
	expect_good(a);
	ttt = expect_r2t(b, 0, 0, 1 << 20);
	ti_sequence(&ti, b, ttt, data, 0, 1 << 20);
	expect_good(b);
}
END_TEST

/* No room even for what comes unsolicited: TASK SET FULL. */
START_TEST(dataout__task_set_full_without_room)
{
	struct tres	 res;
	uint32_t	 a, b, ttt;

	ti_login_ok(&ti, PUBLIC, "ImmediateData=No;InitialR2T=No;"
	    "FirstBurstLength=65536;MaxBurstLength=1048576");
	a = write_at(0, 1 << 20, 0, 1);
	ttt = expect_r2t(a, 0, 0, 1 << 20);
	b = write_at(0, 1 << 20, 0, 0);
	ti_response(&ti, b, &res);
	ck_assert_uint_eq(res.r_status, 0x28);
	ti_sequence(&ti, a, ttt, data, 0, 1 << 20);
	expect_good(a);
}
END_TEST

Suite *
dataout_suite(void)
{
	Suite	*s = suite_create("dataout");
	TCase	*tc;

	tc = tcase_create("sequence");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, dataout__solicited_in_order_completes);
	tcase_add_test(tc, dataout__overlap_rejected);
	tcase_add_test(tc, dataout__unknown_ttt_rejected);
	tcase_add_test(tc, dataout__datasn_out_of_order_rejected);
	tcase_add_test(tc, dataout__more_than_r2t_rejected);
	tcase_add_test(tc, dataout__sequence_ending_short_rejected);
	tcase_add_test(tc, dataout__unsolicited_not_expected_rejected);
	tcase_add_test(tc, dataout__data_for_unknown_task_ignored);
	tcase_add_test(tc, dataout__itt_in_use_rejected);
	suite_add_tcase(s, tc);

	tc = tcase_create("r2t");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, dataout__short_unsolicited_burst_solicited);
	tcase_add_test(tc, dataout__immediate_then_r2t_for_rest);
	tcase_add_test(tc, dataout__r2ts_bounded_by_burst_and_outstanding);
	tcase_add_test(tc, dataout__ordered_write_waiting_holds_others);
	tcase_add_test(tc, dataout__ordered_waits_for_simple_write);
	suite_add_tcase(s, tc);

	tc = tcase_create("budget");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, dataout__r2t_waits_for_buffer_room);
	tcase_add_test(tc, dataout__task_set_full_without_room);
	suite_add_tcase(s, tc);
	return s;
}
