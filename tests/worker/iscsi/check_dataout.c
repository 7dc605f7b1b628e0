/*
 * Tests for worker/iscsi/dataout.c through a real worker over a
 * socketpair (initiator.h): R2Ts (offsets, lengths, R2TSN, at most
 * MaxBurstLength and MaxOutstandingR2T), the data sequence checks that
 * accept every byte once and in order (overlaps, unknown TTTs, DataSN,
 * too much or too little data), a short unsolicited burst whose rest is
 * solicited, ordering against waiting writes, the budgets of buffered
 * write data (per connection, per address, per worker, each given back
 * on every path), and dataout-timeout (a stalled data phase, a wait for
 * room).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bytes.h"
#include "initiator.h"
#include "suites.h"
#include "taskrec.h"

#define PUBLIC		TI_PREFIX ":alpha"
#define SOLICIT		"ImmediateData=No;InitialR2T=Yes"
#define LBA		16		/* where the tests write */
#define RTTT		0x77		/* a restored task's R2T */
#define RTAG		6		/* any section tag: restore reads none */

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

/* ---- Limits: an address's share, dataout-timeout ---- */

/*
 * max-pending-data 1M, a worker's 3M, an address's 2M; one second for
 * owed Data-Out or for room.
 */
#define LIMITS		"max-pending-data 1M\nmax-pending-data-worker 3M\n" \
			"max-pending-data-address 2M\ndataout-timeout 1s\n"
#define MIB		(1U << 20)
#define BIG		SOLICIT ";MaxBurstLength=1048576"
#define NOTHER		3

static struct tini	 other[NOTHER];

static int64_t
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
setup_limits(void)
{
	int	 i;

	ti_worker(&tw, "dataout", LIMITS);
	ti_open(&ti, &tw, 3);
	for (i = 0; i < NOTHER; i++) {
		memset(&other[i], 0, sizeof(other[i]));
		other[i].i_fd = -1;
	}
	for (i = 0; i < (int)sizeof(data); i++)
		data[i] = (uint8_t)(0x80 | (i % 61));
}

static void
teardown_limits(void)
{
	int	 i;

	for (i = 0; i < NOTHER; i++)
		ti_close(&other[i]);
	teardown();
}

static struct conn *
conn_of(uint32_t mid)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &tw.tw_w.w_conns, c_entry)
		if (c->c_mid == mid)
			return c;
	ck_abort_msg("no connection %u", mid);
	return NULL;
}

/* t logged in with big R2Ts, as if from 10.0.0.host (IPv4 mapped). */
static void
login_from(struct tini *t, uint8_t host)
{
	struct conn	*c;

	ti_login_ok(t, PUBLIC, BIG);
	c = conn_of(t->i_mid);
	memset(c->c_addr, 0, sizeof(c->c_addr));
	c->c_addr[10] = c->c_addr[11] = 0xff;
	c->c_addr[12] = 10;
	c->c_addr[15] = host;
}

/* A WRITE(10) of len bytes on t, all of its data to be solicited. */
static uint32_t
write_on(struct tini *t, uint32_t len)
{
	uint8_t	 cdb[16];

	ti_rw10(cdb, 0x2a, 0, (uint16_t)(len / 512));
	return ti_cmd(t, 0x80 | 0x20 | 1, 0, cdb, len, NULL, 0);
}

/* The next PDU on t is an R2T for all len bytes of itt: its TTT. */
static uint32_t
r2t_on(struct tini *t, uint32_t itt, uint32_t len)
{
	struct tpdu	 p;
	uint32_t	 ttt;

	ti_expect(t, &p, OP_R2T);
	ck_assert_uint_eq(be32dec(p.p_bhs + 16), itt);
	ck_assert_uint_eq(be32dec(p.p_bhs + 44), len);
	ttt = be32dec(p.p_bhs + 20);
	ti_pdu_free(&p);
	return ttt;
}

/*
 * Two connections from one address hold its 2M share; a third from it
 * waits, and one from another address still gets its R2T at once (the
 * worker's 3M would have let the first address take it all).  When one
 * of the first goes, the one that waited gets its turn.
 */
START_TEST(dataout__address_share_leaves_room_for_others)
{
	struct tres	 res;
	uint32_t	 a0, a1, a2, b, ttt;

	ti_open(&other[0], &tw, 4);
	ti_open(&other[1], &tw, 5);
	ti_open(&other[2], &tw, 6);
	login_from(&ti, 1);
	login_from(&other[0], 1);
	login_from(&other[1], 1);
	login_from(&other[2], 2);
	a0 = write_on(&ti, MIB);
	r2t_on(&ti, a0, MIB);
	a1 = write_on(&other[0], MIB);
	r2t_on(&other[0], a1, MIB);
	a2 = write_on(&other[1], MIB);
	ck_assert(ti_silent(&other[1]));
	b = write_on(&other[2], MIB);
	ttt = r2t_on(&other[2], b, MIB);
	ck_assert_uint_eq(tw.tw_w.w_pendbytes, 3 * MIB);
	ti_sequence(&other[2], b, ttt, data, 0, MIB);
	ti_response(&other[2], b, &res);
	ck_assert_uint_eq(res.r_status, 0);
	ck_assert(ti_silent(&other[1]));
	ti_close(&ti);
	ttt = r2t_on(&other[1], a2, MIB);
	ti_sequence(&other[1], a2, ttt, data, 0, MIB);
	ti_response(&other[1], a2, &res);
	ck_assert_uint_eq(res.r_status, 0);
	ck_assert_uint_eq(tw.tw_w.w_pendbytes, MIB);
}
END_TEST

/*
 * A connection that owes Data-Out and sends none for dataout-timeout
 * (1s) is closed, and what it held is free again.
 */
START_TEST(dataout__stalled_connection_closed)
{
	uint32_t	 itt;

	ti_login_ok(&ti, PUBLIC, SOLICIT);
	itt = write_cmd(8192, 0, 1);
	expect_r2t(itt, 0, 0, 8192);
	ck_assert_uint_eq(tw.tw_w.w_pendbytes, 8192);
	ck_assert(!ti_closed(&ti, 500));
	ck_assert(ti_closed(&ti, 3000));
	ck_assert_uint_eq(tw.tw_w.w_pendbytes, 0);
	ck_assert(TAILQ_EMPTY(&tw.tw_w.w_conns));
	ck_assert(LIST_EMPTY(&tw.tw_w.w_pendaddrs));
}
END_TEST

/* Data-Out of itt from off on, DataSN from sn, to the end of len. */
static void
send_rest(uint32_t itt, uint32_t ttt, uint32_t sn, uint32_t off,
    uint32_t len)
{
	uint32_t	 n;

	while (off < len) {
		n = len - off < ti.i_mrdsl ? len - off : ti.i_mrdsl;
		ti_dataout(&ti, itt, ttt, sn++, off, data + off, n,
		    off + n == len);
		off += n;
	}
}

/*
 * A write that waits for room longer than dataout-timeout is answered
 * TASK SET FULL; the connection, whose Data-Out keeps coming, stays.
 */
START_TEST(dataout__wait_for_room_ends_task_set_full)
{
	struct tpdu	 p;
	struct tres	 res;
	uint32_t	 a, b, ttt, sn = 0, off = 0;
	int64_t		 t0 = now_ms(), ms = 0;
	int		 r = 0;

	ti_login_ok(&ti, PUBLIC, BIG);
	a = write_at(0, MIB, 0, 1);
	ttt = expect_r2t(a, 0, 0, MIB);
	b = write_at(0, MIB, 0, 1);
	while (r == 0 && (ms = now_ms() - t0) < 5000) {
		ti_dataout(&ti, a, ttt, sn++, off, data + off, 4096, 0);
		off += 4096;
		r = ti_recv(&ti, &p, 200);
	}
	ck_assert_msg(r == 1, "no answer for the waiting write in %lld ms",
	    (long long)ms);
	ck_assert_uint_ge(ms, 800);
	ck_assert_uint_eq(p.p_bhs[0] & ISCSI_OP_MASK, OP_SCSI_RSP);
	ck_assert_uint_eq(be32dec(p.p_bhs + 16), b);
	ck_assert_uint_eq(p.p_bhs[3], 0x28);
	ti_pdu_free(&p);
	send_rest(a, ttt, sn, off, MIB);
	ti_response(&ti, a, &res);
	ck_assert_uint_eq(res.r_status, 0);
	ck_assert_uint_eq(tw.tw_w.w_pendbytes, 0);
}
END_TEST

/*
 * Every way a waiting write ends gives back exactly what it held:
 * ABORT TASK, LOGICAL UNIT RESET, the connection's end; and a command
 * that waited for room gets it when another ends that way.
 */
START_TEST(dataout__budgets_given_back_on_every_path)
{
	uint32_t	 a, b, ttt;
	int64_t		 t0 = now_ms();

	ti_login_ok(&ti, PUBLIC, BIG);
	a = write_at(0, MIB, 0, 1);
	expect_r2t(a, 0, 0, MIB);
	b = write_at(0, MIB, 0, 1);
	ck_assert(ti_silent(&ti));
	ck_assert_int_eq(ti_tmf(&ti, 1, 0, a), 0);	/* ABORT TASK */
	ttt = expect_r2t(b, 0, 0, MIB);
	ck_assert_uint_eq(tw.tw_w.w_pendbytes, MIB);
	ck_assert_int_eq(ti_tmf(&ti, 5, 0, 0), 0);	/* LUN RESET */
	ck_assert_uint_eq(tw.tw_w.w_pendbytes, 0);
	ti_dataout(&ti, b, ttt, 0, 0, data, 4096, 0);	/* ignored */
	ua_clear();
	a = write_at(0, 8192, 0, 1);
	expect_r2t(a, 0, 0, 8192);
	ck_assert_uint_eq(tw.tw_w.w_pendbytes, 8192);
	ti_close(&ti);
	while (tw.tw_w.w_nconns > 0 && now_ms() - t0 < 3000)
		tw_pass(&tw, 10);
	ck_assert_int_eq(tw.tw_w.w_nconns, 0);
	ck_assert_uint_eq(tw.tw_w.w_pendbytes, 0);
	ck_assert(TAILQ_EMPTY(&tw.tw_w.w_taskconns));
	ck_assert(LIST_EMPTY(&tw.tw_w.w_pendaddrs));
}
END_TEST

/* ---- dataout_restore ---- */

static uint8_t		 rbuf[2 << 20];

static struct conn *
the_conn(void)
{
	struct conn	*c = TAILQ_FIRST(&tw.tw_w.w_conns);

	ck_assert_ptr_nonnull(c);
	return c;
}

/*
 * A sane waiting write, as a worker would hand it over: WRITE(10) of
 * 8192 bytes at LBA, its one R2T (RTTT) half answered.
 */
static void
task_sane(struct ttask *t)
{
	memset(t, 0, sizeof(*t));
	t->tt_itt = 0x900;
	t->tt_edtl = t->tt_want = t->tt_xfer = 8192;
	t->tt_attr = SCSI_ATTR_SIMPLE;
	ti_rw10(t->tt_cdb, 0x2a, LBA, 16);
	t->tt_got = 4096;
	t->tt_r2t_off = 8192;
	t->tt_r2tsn = 1;
	t->tt_r2t_out = 1;
	t->tt_r2t[0].r_ttt = RTTT;
	t->tt_r2t[0].r_len = 8192;
	t->tt_r2t[0].r_got = 4096;
	t->tt_r2t[0].r_datasn = 1;
	memset(rbuf, 0, sizeof(rbuf));
	memcpy(rbuf, data, 4096);
	t->tt_buf = rbuf;
	t->tt_buflen = 8192;
}

/* t as a section, cut bytes short, given to dataout_restore: its result. */
static int
restore(const struct ttask *t, size_t cut)
{
	struct pack	 pk, rd, sec;
	uint16_t	 minor, tag;
	size_t		 m;
	int		 rv;

	pack_init(&pk, "TESTTASK", 1, 0);
	m = pack_section(&pk, RTAG);
	tt_pack(&pk, t);
	pack_section_end(&pk, m);
	ck_assert_int_eq(pk.pk_err, 0);
	ck_assert_int_eq(unpack_init(&rd, pk.pk_buf, pk.pk_len, "TESTTASK",
	    1, &minor), 0);
	ck_assert_int_eq(unpack_section(&rd, &tag, &sec), 1);
	ck_assert_uint_gt(sec.pk_len, cut);
	sec.pk_len -= cut;
	rv = dataout_restore(the_conn(), &sec);
	pack_free(&pk);
	return rv;
}

/* Restored, it waits for the rest of its R2T and runs as if never moved. */
START_TEST(dataout__restored_task_goes_on)
{
	struct ttask	 t;

	ti_login_ok(&ti, PUBLIC, SOLICIT);
	ua_clear();
	task_sane(&t);
	ck_assert_int_eq(restore(&t, 0), 0);
	ck_assert_int_eq(the_conn()->c_ntasks, 1);
	ck_assert_uint_eq(tw.tw_w.w_pendbytes, 8192);
	ck_assert(ti_silent(&ti));
	ti_dataout(&ti, t.tt_itt, RTTT, 1, 4096, data + 4096, 4096, 1);
	expect_good(t.tt_itt);
	ck_assert_int_eq(the_conn()->c_ntasks, 0);
	ck_assert_uint_eq(tw.tw_w.w_pendbytes, 0);
	expect_medium(8192, 1);
}
END_TEST

static void
got_past_want(struct ttask *t)
{
	t->tt_got = t->tt_want + 1;
}

static void
buffer_short(struct ttask *t)
{
	t->tt_buflen = t->tt_want - 512;
}

static void
buffer_long(struct ttask *t)
{
	t->tt_buflen = t->tt_want + 512;
}

static void
lun_out_of_range(struct ttask *t)
{
	t->tt_lun = SCSI_MAX_LUNS;
}

static void
want_past_edtl(struct ttask *t)
{
	t->tt_edtl = t->tt_want - 512;
}

/* More than max-pending-data (1M), its buffer as long. */
static void
want_past_max_pending(struct ttask *t)
{
	t->tt_edtl = t->tt_want = t->tt_xfer = t->tt_r2t_off = 2 << 20;
	t->tt_buflen = 2 << 20;
}

static void
unsol_past_edtl(struct ttask *t)
{
	t->tt_unsol = t->tt_edtl + 512;
}

static void
unsol_off_past_unsol(struct ttask *t)
{
	t->tt_unsol = 4096;
	t->tt_unsol_off = 4097;
}

static void
gap_backwards(struct ttask *t)
{
	t->tt_gap_off = 4096;
	t->tt_gap_end = 512;
}

static void
gap_past_want(struct ttask *t)
{
	t->tt_gap_end = t->tt_want + 512;
}

static void
r2t_out_past_max(struct ttask *t)
{
	t->tt_r2t_out = ISCSI_MAX_R2T + 1;
}

static void
r2t_off_past_want(struct ttask *t)
{
	t->tt_r2t[0].r_off = t->tt_want + 512;
}

static void
r2t_end_past_want(struct ttask *t)
{
	t->tt_r2t[0].r_off = 4096;
}

static void
r2t_got_past_len(struct ttask *t)
{
	t->tt_r2t[0].r_got = t->tt_r2t[0].r_len + 1;
}

/* Waiting for room (its buffer what comes unasked: none), yet an R2T. */
static void
waiting_with_r2t(struct ttask *t)
{
	t->tt_waiting = 1;
	t->tt_buflen = 0;
}

static void
r2t_count_wrong(struct ttask *t)
{
	t->tt_r2t_out = 2;
}

static const struct insane {
	const char	*in_what;
	void		(*in_break)(struct ttask *);
} insane[] = {
	{ "got > want", got_past_want },
	{ "buffer shorter than want", buffer_short },
	{ "buffer longer than want", buffer_long },
	{ "lun out of range", lun_out_of_range },
	{ "want > edtl", want_past_edtl },
	{ "want > max-pending-data", want_past_max_pending },
	{ "unsolicited past edtl", unsol_past_edtl },
	{ "unsolicited offset past its end", unsol_off_past_unsol },
	{ "gap ending before it starts", gap_backwards },
	{ "gap past want", gap_past_want },
	{ "more R2Ts out than may be", r2t_out_past_max },
	{ "R2T offset past the buffer", r2t_off_past_want },
	{ "R2T ending past the buffer", r2t_end_past_want },
	{ "R2T answered past its length", r2t_got_past_len },
	{ "waiting, with an R2T out", waiting_with_r2t },
	{ "R2Ts out not as many as used", r2t_count_wrong },
};

/* Each insane field refused: no task kept, nothing charged. */
START_TEST(dataout__restore_refuses_insane)
{
	struct ttask	 t;

	ti_login_ok(&ti, PUBLIC, SOLICIT);
	task_sane(&t);
	insane[_i].in_break(&t);
	ck_assert_msg(restore(&t, 0) == -1, "%s: restored",
	    insane[_i].in_what);
	ck_assert_int_eq(the_conn()->c_ntasks, 0);
	ck_assert_uint_eq(tw.tw_w.w_pendbytes, 0);
}
END_TEST

/* A section cut short, or a task whose ITT is taken: refused. */
START_TEST(dataout__restore_refuses_short_or_twice)
{
	struct ttask	 t;

	ti_login_ok(&ti, PUBLIC, SOLICIT);
	task_sane(&t);
	ck_assert_int_eq(restore(&t, 1), -1);
	ck_assert_int_eq(restore(&t, 4100), -1);
	ck_assert_int_eq(the_conn()->c_ntasks, 0);
	ck_assert_int_eq(restore(&t, 0), 0);
	ck_assert_int_eq(restore(&t, 0), -1);
	ck_assert_int_eq(the_conn()->c_ntasks, 1);
	ck_assert_uint_eq(tw.tw_w.w_pendbytes, 8192);
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

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup_limits, teardown_limits);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, dataout__address_share_leaves_room_for_others);
	tcase_add_test(tc, dataout__stalled_connection_closed);
	tcase_add_test(tc, dataout__wait_for_room_ends_task_set_full);
	tcase_add_test(tc, dataout__budgets_given_back_on_every_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("restore");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, dataout__restored_task_goes_on);
	tcase_add_loop_test(tc, dataout__restore_refuses_insane, 0,
	    sizeof(insane) / sizeof(insane[0]));
	tcase_add_test(tc, dataout__restore_refuses_short_or_twice);
	suite_add_tcase(s, tc);
	return s;
}
