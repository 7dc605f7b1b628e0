/*
 * Tests for worker/iscsi/conn.c through a real worker over a socketpair
 * (initiator.h): PDUs reassembled from any split of the byte stream,
 * AHS skipped, header and data digests both ways, the data segment
 * limit enforced before anything is read or allocated, sessions made
 * known to the coordinator and ended by it, the master told of every
 * close, the timers: login-timeout and the NOP-In keepalive, and a
 * pass's answers held for a command already in the socket.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "bytes.h"
#include "initiator.h"
#include "shmq.h"
#include "suites.h"

#define PUBLIC		TI_PREFIX ":alpha"
#define SHARED		TI_PREFIX ":shared"
#define TIMER_MS	3500	/* a 1 s timer, and a 1 s check after it */

static const char conf[] = "target shared alpha\n";
static const char timers[] =
    "login-timeout 1s\nnopin-interval 1s\nnopin-timeout 1s\n";

static struct tworker	 tw;
static struct tini	 ti;

/* What the worker asked the coordinator for, in order. */
static struct shmq_msg	 asked[16];
static int		 nasked;

static uint32_t
record(const struct shmq_msg *m, void *arg)
{
	(void)arg;
	if (nasked < (int)(sizeof(asked) / sizeof(asked[0])))
		asked[nasked++] = *m;
	return 0;
}

static void
setup(void)
{
	ti_worker(&tw, "conn", conf);
	tw.tw_hook = record;
	nasked = 0;
	ti_open(&ti, &tw, 11);
}

static void
setup_timers(void)
{
	ti_worker(&tw, "conn", timers);
	ti_open(&ti, &tw, 12);
}

static void
teardown(void)
{
	ti_close(&ti);
	ti_worker_done(&tw);
}

/* A NOP-Out ping with data, as bytes (digests as in force). */
static size_t
ping(uint8_t *out, uint32_t itt, const void *data, uint32_t len)
{
	uint8_t	 bhs[ISCSI_BHS_LEN];

	ti_bhs(bhs, ISCSI_OP_IMMEDIATE | OP_NOP_OUT, ISCSI_FLAG_FINAL);
	be32enc(bhs + 16, itt);
	be32enc(bhs + 20, ISCSI_TTT_NONE);
	be32enc(bhs + 24, ti.i_cmdsn);
	be32enc(bhs + 28, ti.i_expstatsn);
	return ti_pdu(&ti, bhs, data, len, out);
}

/* The NOP-In answering ping itt, with its data. */
static void
expect_pong(struct tini *c, uint32_t itt, const void *data, uint32_t len)
{
	struct tpdu	 p;

	ti_expect(c, &p, OP_NOP_IN);
	ck_assert_uint_eq(be32dec(p.p_bhs + 16), itt);
	ck_assert_uint_eq(p.p_dlen, len);
	if (len > 0)
		ck_assert_mem_eq(p.p_data, data, len);
	ti_pdu_free(&p);
}

/* The worker's connection that the master knows as mid. */
static struct conn *
conn_of(uint32_t mid)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &tw.tw_w.w_conns, c_entry)
		if (c->c_mid == mid)
			return c;
	return NULL;
}

/* One byte at a time, the loop run between: one answer. */
START_TEST(conn__pdu_in_pieces_reassembled)
{
	uint8_t		 out[256], data[101];
	size_t		 n, i;

	memset(data, 0x42, sizeof(data));
	ti_login_ok(&ti, PUBLIC, NULL);
	n = ping(out, 0x21, data, sizeof(data));
	for (i = 0; i < n; i++) {
		ti_write(&ti, out + i, 1);
		tw_pass(&tw, 0);
	}
	expect_pong(&ti, 0x21, data, sizeof(data));
	ck_assert(ti_silent(&ti));
}
END_TEST

/* Two PDUs in one write: two answers, in order. */
START_TEST(conn__two_pdus_in_one_write)
{
	uint8_t		 out[512];
	size_t		 n;

	ti_login_ok(&ti, PUBLIC, NULL);
	n = ping(out, 0x22, "one", 3);
	n += ping(out + n, 0x23, "two!", 4);
	ti_write(&ti, out, n);
	expect_pong(&ti, 0x22, "one", 3);
	expect_pong(&ti, 0x23, "two!", 4);
}
END_TEST

/* An AHS is skipped: neither header nor data. */
START_TEST(conn__ahs_skipped)
{
	uint8_t		 out[256], pdu[256];
	size_t		 n;

	ti_login_ok(&ti, PUBLIC, NULL);
	n = ping(pdu, 0x24, "data", 4);
	memcpy(out, pdu, ISCSI_BHS_LEN);
	out[4] = 2;				/* 8 bytes of AHS */
	memset(out + ISCSI_BHS_LEN, 0x99, 8);
	memcpy(out + ISCSI_BHS_LEN + 8, pdu + ISCSI_BHS_LEN,
	    n - ISCSI_BHS_LEN);
	ti_write(&ti, out, n + 8);
	expect_pong(&ti, 0x24, "data", 4);
}
END_TEST

/* A header announcing a segment as long as we declared we take. */
static void
segment(uint32_t dlen)
{
	uint8_t	 bhs[ISCSI_BHS_LEN];

	ti_bhs(bhs, ISCSI_OP_IMMEDIATE | OP_NOP_OUT, ISCSI_FLAG_FINAL);
	be24enc(bhs + 5, dlen);
	be32enc(bhs + 16, 0x25);
	be32enc(bhs + 20, ISCSI_TTT_NONE);
	ti_write(&ti, bhs, sizeof(bhs));
}

/* MaxRecvDataSegmentLength, exactly: taken. */
START_TEST(conn__segment_at_limit_accepted)
{
	uint8_t		*data = calloc(1, ISCSI_OUR_MRDSL);

	ti_login_ok(&ti, PUBLIC, NULL);
	ck_assert_uint_eq(ti.i_mrdsl, ISCSI_OUR_MRDSL);
	segment(ISCSI_OUR_MRDSL);
	ti_write(&ti, data, ISCSI_OUR_MRDSL);
	expect_pong(&ti, 0x25, data, 8192);	/* ours: the default 8 KiB */
	free(data);
}
END_TEST

/* One byte more: the connection ends on the header alone. */
START_TEST(conn__oversized_segment_closes)
{
	ti_login_ok(&ti, PUBLIC, NULL);
	segment(ISCSI_OUR_MRDSL + 1);
	ck_assert(ti_closed(&ti, TI_REPLY_MS));
	ck_assert_uint_eq(ti.i_rxlen, 0);
	ck_assert_uint_eq(tw.tw_nclosed, 1);
	ck_assert_uint_eq(tw.tw_closed, 11);
}
END_TEST

START_TEST(conn__oversized_login_segment_closes)
{
	uint8_t	 bhs[ISCSI_BHS_LEN];

	ti_bhs(bhs, ISCSI_OP_IMMEDIATE | OP_LOGIN_REQ, 0x87);
	be24enc(bhs + 5, ISCSI_OUR_MRDSL + 4);
	ti_write(&ti, bhs, sizeof(bhs));
	ck_assert(ti_closed(&ti, TI_REPLY_MS));
	ck_assert_uint_eq(ti.i_rxlen, 0);
}
END_TEST

#define DIGESTS		"HeaderDigest=CRC32C;DataDigest=CRC32C"

/* CRC32C both ways: ours accepted, the target's checked by ti_recv. */
START_TEST(conn__digests_both_ways)
{
	uint8_t		 out[256];

	ti_login_ok(&ti, PUBLIC, DIGESTS);
	ck_assert(ti.i_hd && ti.i_dd);
	ti_write(&ti, out, ping(out, 0x26, "crc32c!", 7));
	expect_pong(&ti, 0x26, "crc32c!", 7);
}
END_TEST

/* A header digest is wrong: nothing in it can be trusted, close. */
START_TEST(conn__bad_header_digest_closes)
{
	uint8_t		 out[256];
	size_t		 n;

	ti_login_ok(&ti, PUBLIC, DIGESTS);
	n = ping(out, 0x27, "x", 1);
	out[ISCSI_BHS_LEN] ^= 0x01;
	ti_write(&ti, out, n);
	ck_assert(ti_closed(&ti, TI_REPLY_MS));
	ck_assert_uint_eq(ti.i_rxlen, 0);
}
END_TEST

/* A data digest is wrong: Reject (digest error), then the close. */
START_TEST(conn__bad_data_digest_rejected)
{
	uint8_t		 out[256];
	struct tpdu	 p;
	size_t		 n;

	ti_login_ok(&ti, PUBLIC, DIGESTS);
	n = ping(out, 0x28, "data", 4);
	out[n - 1] ^= 0x80;
	ti_write(&ti, out, n);
	ck_assert(ti_closed(&ti, TI_REPLY_MS));
	ti_expect(&ti, &p, OP_REJECT);
	ck_assert_uint_eq(p.p_bhs[2], REJECT_DIGEST_ERROR);
	ck_assert_mem_eq(p.p_data, out, ISCSI_BHS_LEN);
	ti_pdu_free(&p);
}
END_TEST

/* The initiator hangs up: the worker forgets it and tells the master. */
START_TEST(conn__eof_closes_and_tells_master)
{
	ti_login_ok(&ti, PUBLIC, NULL);
	ck_assert_int_eq(tw.tw_w.w_nconns, 1);
	ti_close(&ti);
	ck_assert_int_eq(tw_pump(&tw, NULL, NULL), 0);
	ck_assert_int_eq(tw.tw_w.w_nconns, 0);
	ck_assert_uint_eq(tw.tw_nclosed, 1);
	ck_assert_uint_eq(tw.tw_closed, 11);
}
END_TEST

START_TEST(conn__ids_distinct)
{
	struct tini	 b;

	ti_open(&b, &tw, 13);
	ck_assert_int_eq(tw.tw_w.w_nconns, 2);
	ck_assert_ptr_nonnull(conn_of(11));
	ck_assert_ptr_nonnull(conn_of(13));
	ck_assert_uint_ne(conn_of(11)->c_id, conn_of(13)->c_id);
	ti_close(&b);
}
END_TEST

/* The session's identity as the coordinator got it. */
static const struct shmq_msg *
asked_for(uint32_t type, struct shmq_session *ss)
{
	int	 i;

	for (i = 0; i < nasked; i++)
		if (asked[i].m_type == type) {
			ck_assert_int_eq(shmq_session_dec(&asked[i], ss), 0);
			return &asked[i];
		}
	return NULL;
}

/* A normal session starts and ends at the coordinator. */
START_TEST(conn__session_registered_and_ended)
{
	struct shmq_session	 ss;
	uint64_t		 id;

	ti_login_ok(&ti, SHARED, NULL);
	id = conn_of(11)->c_id;
	ck_assert(ti_silent(&ti));
	ck_assert_ptr_nonnull(asked_for(SHMQ_SESSION_START, &ss));
	ck_assert_uint_eq(ss.ss_conn, id);
	ck_assert_str_eq(ss.ss_initiator, TI_INITIATOR);
	ck_assert_str_eq(ss.ss_target, SHARED);
	ck_assert_mem_eq(ss.ss_isid, ti.i_isid, 6);
	ck_assert_ptr_null(asked_for(SHMQ_SESSION_END, &ss));
	ti_close(&ti);
	ck_assert_int_eq(tw_pump(&tw, NULL, NULL), 0);
	ck_assert_ptr_nonnull(asked_for(SHMQ_SESSION_END, &ss));
	ck_assert_uint_eq(ss.ss_conn, id);
}
END_TEST

START_TEST(conn__discovery_not_registered)
{
	struct shmq_session	 ss;

	ti_login_ok(&ti, NULL, NULL);
	ck_assert(ti_silent(&ti));
	ck_assert_ptr_null(asked_for(SHMQ_SESSION_START, &ss));
}
END_TEST

/* The coordinator kicks a session: only that connection closes. */
START_TEST(conn__kick_closes_that_connection)
{
	struct shmq_msg	 m;
	struct tini	 b;

	ti_open(&b, &tw, 14);
	ti_login_ok(&ti, PUBLIC, NULL);
	ti_login_ok(&b, PUBLIC, NULL);
	memset(&m, 0, sizeof(m));
	shmq_kick_enc(&m, conn_of(14)->c_id, SHMQ_KICK_REINSTATE);
	ck_assert_int_eq(shmq_response_push(tw.tw_w.w_region, 0, &m), 0);
	shmq_worker_notify(tw.tw_w.w_region, 0);
	ck_assert(ti_closed(&b, TI_REPLY_MS));
	ck_assert(ti_silent(&ti));
	ck_assert_ptr_null(conn_of(14));
	ck_assert_ptr_nonnull(conn_of(11));
	ti_close(&b);
}
END_TEST

/* No login within login-timeout: closed, and the master told. */
START_TEST(conn__login_timeout_closes)
{
	ck_assert(ti_closed(&ti, TIMER_MS));
	ck_assert_uint_eq(ti.i_rxlen, 0);
	ck_assert_uint_eq(tw.tw_nclosed, 1);
	ck_assert_uint_eq(tw.tw_closed, 12);
}
END_TEST

/* The NOP-In a quiet initiator gets; its TTT. */
static uint32_t
expect_nopin(void)
{
	struct tpdu	 p;
	uint32_t	 ttt;

	ck_assert_int_eq(ti_recv(&ti, &p, TIMER_MS), 1);
	ck_assert_uint_eq(p.p_bhs[0], OP_NOP_IN);
	ck_assert_uint_eq(be32dec(p.p_bhs + 16), ISCSI_TTT_NONE);
	ttt = be32dec(p.p_bhs + 20);
	ck_assert_uint_ne(ttt, ISCSI_TTT_NONE);
	ck_assert_uint_eq(be32dec(p.p_bhs + 24), ti.i_expstatsn);
	ti_pdu_free(&p);
	return ttt;
}

/* Quiet past nopin-interval: a NOP-In; unanswered: closed. */
START_TEST(conn__nopin_unanswered_closes)
{
	ti_login_ok(&ti, PUBLIC, NULL);
	expect_nopin();
	ck_assert(ti_closed(&ti, TIMER_MS));
	ck_assert_uint_eq(ti.i_rxlen, 0);
}
END_TEST

/* Answered: the connection lives on, and is asked again later. */
START_TEST(conn__nopin_answered_keeps_connection)
{
	uint8_t		 bhs[ISCSI_BHS_LEN];
	uint32_t	 ttt;

	ti_login_ok(&ti, PUBLIC, NULL);
	ttt = expect_nopin();
	ti_bhs(bhs, ISCSI_OP_IMMEDIATE | OP_NOP_OUT, ISCSI_FLAG_FINAL);
	be32enc(bhs + 16, ISCSI_TTT_NONE);
	be32enc(bhs + 20, ttt);
	be32enc(bhs + 24, ti.i_cmdsn);
	be32enc(bhs + 28, ti.i_expstatsn);
	ti_send(&ti, bhs, NULL, 0);
	ck_assert_uint_ne(expect_nopin(), ttt);
}
END_TEST

/* Bytes from the worker on the initiator's socket, without running it. */
static int
ti_readable(void)
{
	struct pollfd	 pfd = { ti.i_fd, POLLIN, 0 };

	return ti.i_rxlen > 0 || poll(&pfd, 1, 0) == 1;
}

/*
 * A command already in the socket when a pass ends: the answers of that
 * pass wait for it (conn_flush_cb), and go out with its own.  The
 * worker is made to read one ping a pass, so that the second is still
 * in the socket when the first one's answer would be written.
 */
START_TEST(conn__answers_wait_for_a_command_in_the_socket)
{
	uint8_t		 out[256];
	size_t		 n, one;

	ti_login_ok(&ti, PUBLIC, NULL);
	ck_assert(ti_silent(&ti));
	one = ping(out, 0x31, "abcd", 4);
	n = one + ping(out + one, 0x32, "efgh", 4);
	bufferevent_set_max_single_read(conn_of(11)->c_bev, one);
	ti_write(&ti, out, n);
	/* one pass (one poll, what it found run): the first ping read and
	   answered, its answer held */
	event_base_loop(tw.tw_w.w_base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	ck_assert_msg(!ti_readable(), "the answer went out before the "
	    "command waiting in the socket was read");
	expect_pong(&ti, 0x31, "abcd", 4);
	expect_pong(&ti, 0x32, "efgh", 4);
	ck_assert(ti_silent(&ti));
}
END_TEST

/* Nothing in the socket: the answer goes out in the pass that made it. */
START_TEST(conn__answer_not_held_when_nothing_waits)
{
	uint8_t		 out[256];
	size_t		 n;

	ti_login_ok(&ti, PUBLIC, NULL);
	ck_assert(ti_silent(&ti));
	n = ping(out, 0x33, "ijkl", 4);
	ti_write(&ti, out, n);
	event_base_loop(tw.tw_w.w_base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	ck_assert_msg(ti_readable(), "an answer held with nothing to wait for");
	expect_pong(&ti, 0x33, "ijkl", 4);
}
END_TEST

Suite *
conn_suite(void)
{
	Suite	*s = suite_create("conn");
	TCase	*tc;

	tc = tcase_create("framing");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, conn__pdu_in_pieces_reassembled);
	tcase_add_test(tc, conn__two_pdus_in_one_write);
	tcase_add_test(tc, conn__ahs_skipped);
	tcase_add_test(tc, conn__segment_at_limit_accepted);
	tcase_add_test(tc, conn__oversized_segment_closes);
	tcase_add_test(tc, conn__oversized_login_segment_closes);
	tcase_add_test(tc, conn__digests_both_ways);
	tcase_add_test(tc, conn__bad_header_digest_closes);
	tcase_add_test(tc, conn__bad_data_digest_rejected);
	tcase_add_test(tc, conn__answers_wait_for_a_command_in_the_socket);
	tcase_add_test(tc, conn__answer_not_held_when_nothing_waits);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifetime");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, conn__eof_closes_and_tells_master);
	tcase_add_test(tc, conn__ids_distinct);
	tcase_add_test(tc, conn__session_registered_and_ended);
	tcase_add_test(tc, conn__discovery_not_registered);
	tcase_add_test(tc, conn__kick_closes_that_connection);
	suite_add_tcase(s, tc);

	tc = tcase_create("timers");
	tcase_add_checked_fixture(tc, setup_timers, teardown);
	tcase_add_test(tc, conn__login_timeout_closes);
	tcase_add_test(tc, conn__nopin_unanswered_closes);
	tcase_add_test(tc, conn__nopin_answered_keeps_connection);
	suite_add_tcase(s, tc);
	return s;
}
