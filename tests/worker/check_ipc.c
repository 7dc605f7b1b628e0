/*
 * Tests for worker/ipc.c, the worker's side of the coordinator rings,
 * over an in-process shmq region of one slot: the test plays the
 * coordinator (pops requests, pushes answers, rings the worker's
 * eventfd) and runs the worker's loop.  Answers reach the callback of
 * their request, once, in any order; cancelled callbacks are never
 * called; what the coordinator sends unasked goes to the layer's
 * callback; a full ring holds requests back until answers drain.
 */
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "shmq.h"
#include "suites.h"
#include "worker.h"

#define MAX_CALLS	(SHMQ_RING_SIZE + 16)

struct call {
	void		*c_arg;
	uint64_t	 c_id;
	uint32_t	 c_status;
	uint32_t	 c_type;
};

static struct worker	 w;
static struct call	 calls[MAX_CALLS];
static int		 ncalls;
static struct shmq_msg	 unasked;
static int		 nunasked;
static uint32_t		 gen;		/* the slot's generation */

static void
answered(struct worker *wk, const struct shmq_msg *m, void *arg)
{
	ck_assert_ptr_eq(wk, &w);
	ck_assert_int_lt(ncalls, MAX_CALLS);
	calls[ncalls].c_arg = arg;
	calls[ncalls].c_id = m->m_id;
	calls[ncalls].c_status = m->m_status;
	calls[ncalls].c_type = m->m_type;
	ncalls++;
}

static void
layer(struct worker *wk, const struct shmq_msg *m, void *arg)
{
	ck_assert_ptr_eq(wk, &w);
	ck_assert_ptr_null(arg);
	unasked = *m;
	nunasked++;
}

/* The coordinator takes the next request (which must be there). */
static void
take(struct shmq_msg *m)
{
	ck_assert_int_eq(shmq_request_pop(w.w_region, 0, m), 1);
}

static int
pending(void)
{
	struct shmq_msg	 m;

	return shmq_request_peek(w.w_region, 0, 0, &m) != 0;
}

/* ... and answers it with status, then the worker's loop runs. */
static void
answer(const struct shmq_msg *req, uint32_t status)
{
	struct shmq_msg	 m = *req;

	m.m_status = status;
	m.m_len = 0;
	ck_assert_int_eq(shmq_response_push(w.w_region, 0, &m), 0);
}

static void
deliver(void)
{
	shmq_worker_notify(w.w_region, 0);
	event_base_loop(w.w_base, EVLOOP_NONBLOCK);
}

static void
setup(void)
{
	struct shmq_msg	 ping;

	memset(&w, 0, sizeof(w));
	ncalls = nunasked = 0;
	ck_assert_ptr_nonnull(w.w_base = event_base_new());
	ck_assert_ptr_nonnull(w.w_region = shmq_region_create(1));
	shmq_slot_claim(w.w_region, 0, getpid());
	ck_assert_int_eq(ipc_start(&w, layer), 0);
	take(&ping);
	ck_assert_uint_eq(ping.m_type, SHMQ_PING);
	gen = ping.m_gen;
	answer(&ping, 0);
	deliver();
	ck_assert_int_eq(ncalls, 0);
}

static void
teardown(void)
{
	shmq_region_destroy(w.w_region);
	event_base_free(w.w_base);
}

/* A request of type type for arg; its id. */
static uint64_t
request(uint32_t type, void *arg)
{
	struct shmq_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = type;
	ck_assert_int_eq(ipc_request(&w, &m, answered, arg), 0);
	return m.m_id;
}

START_TEST(ipc__request_goes_out_with_a_fresh_id)
{
	struct shmq_msg	 m;
	uint64_t	 a, b;

	a = request(SHMQ_MAP_SYNC, NULL);
	b = request(SHMQ_KV_GET, NULL);
	ck_assert_uint_gt(b, a);
	take(&m);
	ck_assert_uint_eq(m.m_type, SHMQ_MAP_SYNC);
	ck_assert_uint_eq(m.m_id, a);
	take(&m);
	ck_assert_uint_eq(m.m_id, b);
	ck_assert(!pending());
}
END_TEST

/* Answered out of order: each callback gets its own answer. */
START_TEST(ipc__answer_reaches_its_callback)
{
	struct shmq_msg	 ma, mb;
	int		 a, b;

	request(SHMQ_MAP_SET, &a);
	request(SHMQ_MAP_CLEAR, &b);
	take(&ma);
	take(&mb);
	answer(&mb, 28);
	answer(&ma, 0);
	deliver();
	ck_assert_int_eq(ncalls, 2);
	ck_assert_ptr_eq(calls[0].c_arg, &b);
	ck_assert_uint_eq(calls[0].c_status, 28);
	ck_assert_uint_eq(calls[0].c_type, SHMQ_MAP_CLEAR);
	ck_assert_ptr_eq(calls[1].c_arg, &a);
	ck_assert_uint_eq(calls[1].c_status, 0);
}
END_TEST

/* A coordinator restarted answers again: the callback runs once. */
START_TEST(ipc__answer_taken_once)
{
	struct shmq_msg	 m;
	int		 a;

	request(SHMQ_MAP_SET, &a);
	take(&m);
	answer(&m, 0);
	answer(&m, 0);
	deliver();
	deliver();
	ck_assert_int_eq(ncalls, 1);
}
END_TEST

/* An answer nobody waits for is dropped; the waiting one still works. */
START_TEST(ipc__stray_answer_ignored)
{
	struct shmq_msg	 m, stray;
	int		 a;

	request(SHMQ_MAP_SET, &a);
	take(&m);
	stray = m;
	stray.m_id += 1000;
	answer(&stray, 0);
	deliver();
	ck_assert_int_eq(ncalls, 0);
	answer(&m, 0);
	deliver();
	ck_assert_int_eq(ncalls, 1);
	ck_assert_ptr_eq(calls[0].c_arg, &a);
}
END_TEST

/* A connection going away: its callbacks are forgotten, not others'. */
START_TEST(ipc__cancel_forgets_callbacks)
{
	struct shmq_msg	 m1, m2, m3;
	int		 gone, kept;

	request(SHMQ_MAP_SET, &gone);
	request(SHMQ_MAP_SET, &kept);
	request(SHMQ_MAP_SYNC, &gone);
	ipc_cancel(&w, &gone);
	take(&m1);
	take(&m2);
	take(&m3);
	answer(&m1, 0);
	answer(&m2, 0);
	answer(&m3, 0);
	deliver();
	ck_assert_int_eq(ncalls, 1);
	ck_assert_ptr_eq(calls[0].c_arg, &kept);
}
END_TEST

/* SESSION_KICK is nobody's answer: it goes to the layer. */
START_TEST(ipc__unasked_goes_to_layer)
{
	struct shmq_msg	 m, req;
	uint64_t	 conn;
	int		 a, why;

	request(SHMQ_MAP_SET, &a);
	take(&req);
	memset(&m, 0, sizeof(m));
	shmq_kick_enc(&m, 0x5a, SHMQ_KICK_REINSTATE);
	m.m_id = req.m_id;		/* even with an id someone waits for */
	m.m_gen = gen;
	ck_assert_int_eq(shmq_response_push(w.w_region, 0, &m), 0);
	deliver();
	ck_assert_int_eq(nunasked, 1);
	ck_assert_uint_eq(unasked.m_type, SHMQ_SESSION_KICK);
	ck_assert_int_eq(shmq_kick_dec(&unasked, &conn, &why), 0);
	ck_assert_uint_eq(conn, 0x5a);
	ck_assert_int_eq(ncalls, 0);
	answer(&req, 0);
	deliver();
	ck_assert_int_eq(ncalls, 1);
}
END_TEST

/* More requests than the ring holds: the rest go out as answers drain. */
START_TEST(ipc__full_ring_holds_requests_back)
{
	static struct shmq_msg	 m[SHMQ_RING_SIZE];
	uint64_t		 first = 0, id;
	int			 i, n, total = SHMQ_RING_SIZE + 5;

	for (i = 0; i < total; i++) {
		id = request(SHMQ_MAP_SET, NULL);
		if (i == 0)
			first = id;
	}
	for (n = 0; pending(); n++)
		take(&m[n]);
	ck_assert_int_eq(n, SHMQ_RING_SIZE);
	for (i = 0; i < n; i++)
		answer(&m[i], 0);
	deliver();
	ck_assert_int_eq(ncalls, SHMQ_RING_SIZE);
	for (n = 0; pending(); n++)
		take(&m[n]);
	ck_assert_int_eq(n, 5);
	for (i = 0; i < n; i++)
		answer(&m[i], 0);
	deliver();
	ck_assert_int_eq(ncalls, total);
	for (i = 0; i < total; i++)
		ck_assert_uint_eq(calls[i].c_id, first + (uint64_t)i);
}
END_TEST

/*
 * Posts (a session's start or end) fill the ring and more wait in the
 * worker; the coordinator executes them and answers nothing, as its
 * round does (peek, then release).  The room that frees wakes the
 * worker, which pushes what waited with nothing else sent or answered.
 */
START_TEST(ipc__posts_drain_without_another_send)
{
	struct shmq_msg	 m;
	uint32_t	 n;
	int		 i, total = SHMQ_RING_SIZE + 5;

	for (i = 0; i < total; i++) {
		memset(&m, 0, sizeof(m));
		m.m_type = SHMQ_SESSION_START;
		ck_assert_int_eq(ipc_post(&w, &m), 0);
	}
	for (n = 0; shmq_request_peek(w.w_region, 0, n, &m) == 1; n++)
		ck_assert_uint_eq(m.m_status, SHMQ_NOREPLY);
	ck_assert_uint_eq(n, SHMQ_RING_SIZE);
	shmq_request_release(w.w_region, 0, n);
	event_base_loop(w.w_base, EVLOOP_NONBLOCK);
	for (n = 0; shmq_request_peek(w.w_region, 0, n, &m) == 1; n++)
		ck_assert_uint_eq(m.m_type, SHMQ_SESSION_START);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(ncalls, 0);
}
END_TEST

/* No callback: answered, and nothing else happens. */
START_TEST(ipc__request_without_callback)
{
	struct shmq_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = SHMQ_SESSION_END;
	ck_assert_int_eq(ipc_request(&w, &m, NULL, NULL), 0);
	take(&m);
	answer(&m, 0);
	deliver();
	ck_assert_int_eq(ncalls, 0);
	ck_assert_int_eq(nunasked, 0);
}
END_TEST

/*
 * A posted message (a session's start or end) goes out marked
 * SHMQ_NOREPLY; the doorbell rings within the post delay, not at once,
 * so that a burst wakes the coordinator once; a request rings it at
 * once, the posts before it with it.
 */
START_TEST(ipc__post_rings_later_and_waits_for_nothing)
{
	struct shmq_msg	 m;
	struct timeval	 tv = { 0, 20000 };
	uint32_t	 bell;
	int		 i;

	bell = shmq_doorbell_read(w.w_region);
	for (i = 0; i < 3; i++) {
		memset(&m, 0, sizeof(m));
		m.m_type = SHMQ_SESSION_START;
		ck_assert_int_eq(ipc_post(&w, &m), 0);
	}
	ck_assert_uint_eq(shmq_doorbell_read(w.w_region), bell);
	event_base_loopexit(w.w_base, &tv);
	event_base_dispatch(w.w_base);
	ck_assert_uint_ne(shmq_doorbell_read(w.w_region), bell);
	for (i = 0; i < 3; i++) {
		take(&m);
		ck_assert_uint_eq(m.m_type, SHMQ_SESSION_START);
		ck_assert_uint_eq(m.m_status, SHMQ_NOREPLY);
	}
	/* a request after a post: both out, the bell rung now */
	bell = shmq_doorbell_read(w.w_region);
	memset(&m, 0, sizeof(m));
	m.m_type = SHMQ_SESSION_END;
	ck_assert_int_eq(ipc_post(&w, &m), 0);
	request(SHMQ_KV_GET, NULL);
	ck_assert_uint_ne(shmq_doorbell_read(w.w_region), bell);
	take(&m);
	ck_assert_uint_eq(m.m_status, SHMQ_NOREPLY);
	take(&m);
	ck_assert_uint_eq(m.m_status, 0);
	answer(&m, 0);
	deliver();
	ck_assert_int_eq(ncalls, 1);	/* the request's answer only */
}
END_TEST

Suite *
ipc_suite(void)
{
	Suite	*s = suite_create("ipc");
	TCase	*tc;

	tc = tcase_create("ring");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ipc__request_goes_out_with_a_fresh_id);
	tcase_add_test(tc, ipc__answer_reaches_its_callback);
	tcase_add_test(tc, ipc__answer_taken_once);
	tcase_add_test(tc, ipc__stray_answer_ignored);
	tcase_add_test(tc, ipc__cancel_forgets_callbacks);
	tcase_add_test(tc, ipc__unasked_goes_to_layer);
	tcase_add_test(tc, ipc__full_ring_holds_requests_back);
	tcase_add_test(tc, ipc__posts_drain_without_another_send);
	tcase_add_test(tc, ipc__request_without_callback);
	tcase_add_test(tc, ipc__post_rings_later_and_waits_for_nothing);
	suite_add_tcase(s, tc);
	return s;
}
