/*
 * Tests for coordinator/session.c: the registry of live sessions, which
 * reinstates (kicks) a session only for a login of the very same I_T
 * nexus, compared in full, and on targets without CHAP only from the
 * same source address.  The kicks are read back from the response ring
 * of the slot they are for.
 */
#include <sys/types.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "bytes.h"
#include "coordinator.h"
#include "log.h"
#include "shmq.h"
#include "suites.h"

static struct shmq_region	*rg;
static struct coord		*c;

static void
sess_setup(void)
{
	log_init(1, 0);
	rg = shmq_region_create(4);
	ck_assert_ptr_nonnull(rg);
	shmq_slot_claim(rg, 1, getpid());
	shmq_slot_claim(rg, 2, getpid());
	ck_assert_ptr_nonnull(c = coord_new("/nonexistent", rg, 4));
}

static void
sess_teardown(void)
{
	coord_free(c);
	shmq_region_destroy(rg);
}

static struct shmq_session
ident(const char *ini, const char *tgt, uint8_t isid_lo, uint8_t addr_lo,
    int byaddr, uint32_t slot, uint64_t conn)
{
	struct shmq_session	 ss;

	memset(&ss, 0, sizeof(ss));
	snprintf(ss.ss_initiator, sizeof(ss.ss_initiator), "%s", ini);
	snprintf(ss.ss_target, sizeof(ss.ss_target), "%s", tgt);
	ss.ss_isid[0] = 0x80;
	ss.ss_isid[5] = isid_lo;
	ss.ss_addr[10] = ss.ss_addr[11] = 0xff;
	ss.ss_addr[12] = 127;
	ss.ss_addr[15] = addr_lo;
	ss.ss_byaddr = (uint8_t)byaddr;
	ss.ss_slot = slot;
	ss.ss_conn = conn;
	return ss;
}

static int
sess_call(uint32_t type, const struct shmq_session *ss)
{
	struct shmq_msg	 req, rsp;

	memset(&req, 0, sizeof(req));
	ck_assert_int_eq(shmq_session_enc(&req, type, ss), 0);
	req.m_gen = 0;
	if (type == SHMQ_SESSION_START)
		return coord_session_start(c, &req, &rsp);
	if (type == SHMQ_SESSION_END)
		return coord_session_end(c, &req, &rsp);
	return coord_target_reset(c, &req, &rsp);
}

/* The connections kicked on slot, in order; returns how many. */
static int
kicked(int slot, uint64_t *conns, int max)
{
	struct shmq_msg	 m;
	uint64_t	 conn;
	int		 n = 0, why;

	coord_session_kicks(c);
	while (shmq_response_pop(rg, slot, &m) == 1) {
		ck_assert_uint_eq(m.m_type, SHMQ_SESSION_KICK);
		ck_assert_int_eq(shmq_kick_dec(&m, &conn, &why), 0);
		if (n < max)
			conns[n] = conn;
		n++;
	}
	return n;
}

/*
 * The registry grows with the sessions (past its first table, as a crowd
 * of idle public sessions makes it): every one is still found, by its
 * reinstatement, and ending them all leaves it empty.
 */
START_TEST(session__registry_grows)
{
	struct shmq_session	 ss;
	char			 name[64];
	uint64_t		 conns[4];
	int			 i, n = 10000;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "iqn.2026-11.test:crowd-%d", i);
		ss = ident(name, "iqn.t:disk", 1, 1, 1, 1, (uint64_t)i + 1);
		ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &ss), 0);
	}
	ck_assert_uint_eq(c->c_sess.cs_n, (uint32_t)n);
	ck_assert_uint_ge(c->c_sess.cs_mask + 1, 2 * (uint32_t)n);
	ck_assert_int_eq(kicked(1, conns, 4), 0);
	/* the 4000th logs in again from slot 2: its twin on slot 1 goes */
	ss = ident("iqn.2026-11.test:crowd-3999", "iqn.t:disk", 1, 1, 1, 2,
	    77);
	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &ss), 0);
	ck_assert_int_eq(kicked(1, conns, 4), 1);
	ck_assert_uint_eq(conns[0], 4000);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "iqn.2026-11.test:crowd-%d", i);
		ss = i == 3999 ? ident(name, "iqn.t:disk", 1, 1, 1, 2, 77) :
		    ident(name, "iqn.t:disk", 1, 1, 1, 1, (uint64_t)i + 1);
		ck_assert_int_eq(sess_call(SHMQ_SESSION_END, &ss), 0);
	}
	ck_assert_uint_eq(c->c_sess.cs_n, 0);
}
END_TEST

/*
 * A start is posted, so two twins' starts may come in either order: the
 * later login stays, whichever came first.
 */
START_TEST(session__later_login_stays)
{
	struct shmq_session	 old, new;
	uint64_t		 conns[4];

	old = ident("iqn.i:a", "iqn.t:disk", 1, 1, 1, 1, 10);
	new = ident("iqn.i:a", "iqn.t:disk", 1, 1, 1, 2, 20);
	old.ss_since = 1000000;
	new.ss_since = 2000000;
	/* the newer first: the older, coming second, is the one closed */
	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &new), 0);
	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &old), 0);
	ck_assert_int_eq(kicked(1, conns, 4), 1);
	ck_assert_uint_eq(conns[0], 10);
	ck_assert_int_eq(kicked(2, conns, 4), 0);
	/* and the newer is still the one registered: its end removes it */
	ck_assert_int_eq(sess_call(SHMQ_SESSION_END, &new), 0);
	ck_assert_uint_eq(c->c_sess.cs_n, 0);
	/* in order, the older is closed as before */
	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &old), 0);
	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &new), 0);
	ck_assert_int_eq(kicked(1, conns, 4), 1);
	ck_assert_uint_eq(conns[0], 10);
}
END_TEST

START_TEST(session__same_nexus_reinstates)
{
	struct shmq_session	 a = ident("iqn.I", "iqn.t", 1, 1, 0, 1, 10);
	struct shmq_session	 b = ident("IQN.i", "IQN.T", 1, 9, 0, 2, 20);
	uint64_t		 c[4];

	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &a), 0);
	ck_assert_int_eq(kicked(1, c, 4), 0);
	/* CHAP target: same names (case folded), another address */
	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &b), 0);
	ck_assert_int_eq(kicked(1, c, 4), 1);
	ck_assert_uint_eq(c[0], 10);
	ck_assert_int_eq(kicked(2, c, 4), 0);
}
END_TEST

START_TEST(session__other_names_never_kick)
{
	struct shmq_session	 a = ident("iqn.i", "iqn.t", 1, 1, 0, 1, 10);
	struct shmq_session	 o[3] = {
		ident("iqn.i", "iqn.u", 1, 1, 0, 2, 21),	/* target */
		ident("iqn.j", "iqn.t", 1, 1, 0, 2, 22),	/* initiator */
		ident("iqn.i", "iqn.t", 2, 1, 0, 2, 23),	/* ISID */
	};
	uint64_t		 c[4];
	int			 i;

	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &a), 0);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &o[i]), 0);
	ck_assert_int_eq(kicked(1, c, 4), 0);
	ck_assert_int_eq(kicked(2, c, 4), 0);
}
END_TEST

START_TEST(session__public_target_by_address)
{
	struct shmq_session	 v = ident("iqn.i", "iqn.pub", 1, 1, 1, 1, 10);
	struct shmq_session	 s = ident("iqn.i", "iqn.pub", 1, 2, 1, 2, 20);
	struct shmq_session	 r = ident("iqn.i", "iqn.pub", 1, 1, 1, 2, 30);
	uint64_t		 c[4];

	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &v), 0);
	/* a stranger from 127.0.0.2: a session of its own */
	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &s), 0);
	ck_assert_int_eq(kicked(1, c, 4), 0);
	/* the owner reconnecting from 127.0.0.1: reinstated */
	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &r), 0);
	ck_assert_int_eq(kicked(1, c, 4), 1);
	ck_assert_uint_eq(c[0], 10);
	ck_assert_int_eq(kicked(2, c, 4), 0);
}
END_TEST

/*
 * A session handed live to another worker starts there with its login
 * time: the entry follows it and nobody is kicked; the old worker's id
 * then ends nothing, the new one's end forgets it.
 */
START_TEST(session__hand_over_moves_the_entry)
{
	struct shmq_session	 ss, moved;
	uint64_t		 conns[4];

	ss = ident("iqn.t:ini", "iqn.t:disk", 1, 1, 0, 1, 11);
	ss.ss_since = 123456789;
	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &ss), 0);
	moved = ss;
	moved.ss_slot = 2;
	moved.ss_conn = 22;
	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &moved), 0);
	ck_assert_int_eq(kicked(1, conns, 4), 0);
	ck_assert_int_eq(kicked(2, conns, 4), 0);
	ck_assert_uint_eq(c->c_sess.cs_n, 1);
	ck_assert_int_eq(sess_call(SHMQ_SESSION_END, &ss), 0);
	ck_assert_uint_eq(c->c_sess.cs_n, 1);
	ck_assert_int_eq(sess_call(SHMQ_SESSION_END, &moved), 0);
	ck_assert_uint_eq(c->c_sess.cs_n, 0);
}
END_TEST

START_TEST(session__end_forgets_only_its_own)
{
	struct shmq_session	 a = ident("iqn.i", "iqn.t", 1, 1, 0, 1, 10);
	struct shmq_session	 b = ident("iqn.i", "iqn.t", 1, 1, 0, 2, 20);
	uint64_t		 c[4];

	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &a), 0);
	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &b), 0);
	ck_assert_int_eq(kicked(1, c, 4), 1);
	/* the kicked one's late SESSION_END leaves its successor alone */
	ck_assert_int_eq(sess_call(SHMQ_SESSION_END, &a), 0);
	ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &a), 0);
	ck_assert_int_eq(kicked(2, c, 4), 1);
	ck_assert_uint_eq(c[0], 20);
}
END_TEST

START_TEST(session__cold_reset_by_target_name)
{
	struct shmq_session	 s[4] = {
		ident("iqn.a", "iqn.t", 1, 1, 0, 1, 10),
		ident("iqn.b", "iqn.t", 1, 1, 0, 2, 20),
		ident("iqn.c", "iqn.t2", 1, 1, 0, 2, 30),
		ident("iqn.d", "IQN.T", 1, 1, 0, 2, 40),
	};
	uint64_t		 c[4];
	int			 i;

	for (i = 0; i < 4; i++)
		ck_assert_int_eq(sess_call(SHMQ_SESSION_START, &s[i]), 0);
	ck_assert_int_eq(sess_call(SHMQ_TARGET_RESET, &s[0]), 0);
	ck_assert_int_eq(kicked(1, c, 4), 0);		/* the asker spared */
	ck_assert_int_eq(kicked(2, c, 4), 2);		/* not iqn.t2 */
	ck_assert_uint_eq(c[0] + c[1], 60);
}
END_TEST

/*
 * A coordinator that starts while a worker's response ring is full (a
 * predecessor's answers nobody read yet) owes it COORD_HELLO: it goes
 * once the worker makes room, not never.
 */
START_TEST(session__hello_waits_for_room)
{
	struct shmq_msg	 m;
	int		 i, hello = 0;

	memset(&m, 0, sizeof(m));
	m.m_type = SHMQ_PING;
	m.m_gen = shmq_slot_gen(rg, 1);
	for (i = 0; i < SHMQ_RING_SIZE; i++)
		ck_assert_int_eq(shmq_response_push(rg, 1, &m), 0);
	coord_session_hello(c);
	ck_assert_int_eq(shmq_response_pop(rg, 1, &m), 1);
	coord_session_kicks(c);
	while (shmq_response_pop(rg, 1, &m) == 1)
		hello += m.m_type == SHMQ_COORD_HELLO;
	ck_assert_int_eq(hello, 1);
	coord_session_kicks(c);		/* said once */
	ck_assert_int_eq(shmq_response_pop(rg, 1, &m), 0);
	ck_assert_int_eq(shmq_response_pop(rg, 2, &m), 1);
	ck_assert_uint_eq(m.m_type, SHMQ_COORD_HELLO);
}
END_TEST

Suite *
session_suite(void)
{
	Suite	*s = suite_create("session");
	TCase	*tc = tcase_create("registry");

	tcase_add_checked_fixture(tc, sess_setup, sess_teardown);
	tcase_add_test(tc, session__same_nexus_reinstates);
	tcase_add_test(tc, session__registry_grows);
	tcase_add_test(tc, session__later_login_stays);
	tcase_add_test(tc, session__other_names_never_kick);
	tcase_add_test(tc, session__public_target_by_address);
	tcase_add_test(tc, session__end_forgets_only_its_own);
	tcase_add_test(tc, session__hand_over_moves_the_entry);
	tcase_add_test(tc, session__cold_reset_by_target_name);
	tcase_add_test(tc, session__hello_waits_for_room);
	suite_add_tcase(s, tc);
	return s;
}
