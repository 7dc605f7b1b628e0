/*
 * Tests for coordinator/coordinator.c: the coordinator as a real forked
 * process with the test playing the worker on slot 0.  The store on its
 * own: tests/coordinator/check_store.c.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "bytes.h"
#include "coordinator.h"
#include "config.h"
#include "log.h"
#include "proc.h"
#include "shmq.h"
#include "suites.h"
#include "tcoord.h"

#define NSLOTS		2
#define MAPSIZE		((size_t)64 << 20)
#define TIMEOUT_MS	10000

static char			 statedir[PATH_MAX];
static struct shmq_region	*rg;
static pid_t			 coord_pid;
static uint64_t			 next_id = 1;
static int			 hellos;	/* COORD_HELLO seen */

static void
statedir_setup(void)
{
	snprintf(statedir, sizeof(statedir), "/tmp/scsipub-coord-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(statedir));
	log_init(1, 0);
}

static void
statedir_teardown(void)
{
	test_rm_tree(statedir);
}

static void
coord_setup(void)
{
	statedir_setup();
	rg = shmq_region_create(NSLOTS);
	ck_assert_ptr_nonnull(rg);
	shmq_slot_claim(rg, 0, getpid());
	coord_pid = 0;
}

static int
coord_wait(pid_t pid)
{
	int	 st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

static void
coord_stop(int sig)
{
	tcoord_stop(&coord_pid, sig);
}

static void
coord_teardown(void)
{
	coord_stop(SIGTERM);
	shmq_region_destroy(rg);
	statedir_teardown();
}

static void
coord_start(void)
{
	coord_pid = tcoord_fork(statedir, rg, MAPSIZE);
}

/* The worker's side: queue a request (waiting for room), ring. */
static void
send_on(int slot, struct shmq_msg *m)
{
	struct timespec	 ts = { 0, 1000000 };
	int		 i;

	m->m_id = next_id++;
	for (i = 0; shmq_request_push(rg, slot, m) == -EAGAIN; i++) {
		ck_assert_int_lt(i, TIMEOUT_MS);
		shmq_doorbell_ring(rg);
		nanosleep(&ts, NULL);
	}
	shmq_doorbell_ring(rg);
}

/*
 * Next response on slot 0, as a worker's event loop would get it; what
 * a starting coordinator says unasked (COORD_HELLO) is counted.
 */
static void
recv_one(struct shmq_msg *m)
{
	struct pollfd	 pfd = { shmq_worker_fd(rg, 0), POLLIN, 0 };

	for (;;) {
		shmq_worker_clear(rg, 0);
		while (shmq_response_pop(rg, 0, m) == 1) {
			if (m->m_type != SHMQ_COORD_HELLO)
				return;
			hellos++;
		}
		ck_assert_msg(poll(&pfd, 1, TIMEOUT_MS) == 1,
		    "no response within %d ms", TIMEOUT_MS);
	}
}

static uint32_t
call(struct shmq_msg *req, struct shmq_msg *rsp)
{
	send_on(0, req);
	recv_one(rsp);
	ck_assert_uint_eq(rsp->m_id, req->m_id);
	ck_assert_uint_eq(rsp->m_type, req->m_type);
	return rsp->m_status;
}

static uint32_t
call_map(uint32_t type, uint64_t lu, uint64_t first, uint32_t count)
{
	struct shmq_msg	 req, rsp;

	shmq_map_enc(&req, type, lu, first, count);
	return call(&req, &rsp);
}

/* 0 and the run holding block, or the error status. */
static uint32_t
call_lookup(uint64_t lu, uint64_t block, uint64_t *first, uint64_t *count)
{
	struct shmq_msg	 req, rsp;
	uint32_t	 status;

	shmq_map_enc(&req, SHMQ_MAP_LOOKUP, lu, block, 0);
	if ((status = call(&req, &rsp)) == 0)
		ck_assert_int_eq(shmq_lookup_dec(&rsp, first, count), 0);
	return status;
}

static void
assert_run(uint64_t lu, uint64_t block, uint64_t first, uint64_t count)
{
	uint64_t	 f = 0, c = 0;

	ck_assert_uint_eq(call_lookup(lu, block, &f, &c), 0);
	ck_assert_uint_eq(f, first);
	ck_assert_uint_eq(c, count);
}

static void
assert_unmapped(uint64_t lu, uint64_t block)
{
	uint64_t	 f, c;

	ck_assert_uint_eq(call_lookup(lu, block, &f, &c), ENOENT);
}

static uint32_t
call_kv(uint32_t type, const char *key, const char *val, struct shmq_msg *rsp)
{
	struct shmq_msg	 req;

	ck_assert_int_eq(shmq_kv_enc(&req, type, key, strlen(key), val,
	    val ? strlen(val) : 0), 0);
	return call(&req, rsp);
}

/*
 * A request marked SHMQ_NOREPLY is executed, in order, and answered by
 * nothing: the next answer on the ring is the next request's.
 */
START_TEST(coordinator__noreply_executed_unanswered)
{
	struct shmq_msg	 req, rsp;

	coord_start();
	ck_assert_int_eq(shmq_kv_enc(&req, SHMQ_KV_PUT, "k", 1, "posted", 6),
	    0);
	req.m_status = SHMQ_NOREPLY;
	send_on(0, &req);
	ck_assert_uint_eq(call_kv(SHMQ_KV_GET, "k", NULL, &rsp), 0);
	ck_assert_uint_eq(rsp.m_len, 6);
	ck_assert_mem_eq(rsp.m_data, "posted", 6);
	ck_assert_int_eq(shmq_response_pop(rg, 0, &rsp), 0);
}
END_TEST

START_TEST(coordinator__ping_echoes_payload)
{
	struct shmq_msg	 req, rsp;

	coord_start();
	memset(&req, 0, sizeof(req));
	req.m_type = SHMQ_PING;
	req.m_len = 5;
	memcpy(req.m_data, "hello", 5);
	ck_assert_uint_eq(call(&req, &rsp), 0);
	ck_assert_uint_eq(rsp.m_len, 5);
	ck_assert_mem_eq(rsp.m_data, "hello", 5);
	ck_assert_int_eq(shmq_coordinator_alive(rg), 1);
}
END_TEST

START_TEST(coordinator__map_set_lookup_sync)
{
	struct shmq_stats	 st;

	coord_start();
	ck_assert_uint_eq(call_map(SHMQ_MAP_SET, 7, 100, 10), 0);
	assert_run(7, 100, 100, 10);
	assert_run(7, 109, 100, 10);
	assert_unmapped(7, 99);
	assert_unmapped(7, 110);
	assert_unmapped(8, 105);
	ck_assert_uint_eq(call_map(SHMQ_MAP_SYNC, 0, 0, 0), 0);
	shmq_stats_get(rg, &st);
	ck_assert_uint_ge(st.st_syncs, 1);
	ck_assert_uint_ge(st.st_commits, 1);
}
END_TEST

START_TEST(coordinator__map_runs_merge_and_split)
{
	coord_start();
	ck_assert_uint_eq(call_map(SHMQ_MAP_SET, 1, 0, 10), 0);
	ck_assert_uint_eq(call_map(SHMQ_MAP_SET, 1, 10, 5), 0);
	assert_run(1, 3, 0, 15);
	ck_assert_uint_eq(call_map(SHMQ_MAP_SET, 1, 20, 5), 0);
	assert_unmapped(1, 17);
	ck_assert_uint_eq(call_map(SHMQ_MAP_SET, 1, 12, 10), 0);
	assert_run(1, 24, 0, 25);
	ck_assert_uint_eq(call_map(SHMQ_MAP_CLEAR, 1, 5, 2), 0);
	assert_run(1, 4, 0, 5);
	assert_unmapped(1, 5);
	assert_unmapped(1, 6);
	assert_run(1, 7, 7, 18);
	ck_assert_uint_eq(call_map(SHMQ_MAP_CLEAR, 1, 3, 10), 0);
	assert_run(1, 0, 0, 3);
	assert_run(1, 13, 13, 12);
	ck_assert_uint_eq(call_map(SHMQ_MAP_CLEAR, 1, 0, 100), 0);
	assert_unmapped(1, 0);
	assert_unmapped(1, 24);
	ck_assert_uint_eq(call_map(SHMQ_MAP_CLEAR, 1, 0, 100), 0);
}
END_TEST

START_TEST(coordinator__bad_requests_get_einval)
{
	struct shmq_msg	 req, rsp;

	coord_start();
	memset(&req, 0, sizeof(req));
	req.m_type = 999;
	ck_assert_uint_eq(call(&req, &rsp), EINVAL);
	req.m_type = SHMQ_NONE;
	ck_assert_uint_eq(call(&req, &rsp), EINVAL);
	shmq_map_enc(&req, SHMQ_MAP_SET, 1, 0, 1);
	req.m_len = 3;
	ck_assert_uint_eq(call(&req, &rsp), EINVAL);
	ck_assert_uint_eq(call_map(SHMQ_MAP_SET, 1, 0, 0), EINVAL);
	ck_assert_uint_eq(call_map(SHMQ_MAP_SET, 1, UINT64_MAX, 2), EINVAL);
	ck_assert_int_eq(shmq_kv_enc(&req, SHMQ_KV_GET, "key", 3, NULL, 0), 0);
	be16enc(req.m_data, 200);
	ck_assert_uint_eq(call(&req, &rsp), EINVAL);
	req.m_type = SHMQ_PING;
	req.m_len = 0;
	ck_assert_uint_eq(call(&req, &rsp), 0);
}
END_TEST

START_TEST(coordinator__kv_put_get_del)
{
	struct shmq_msg	 rsp;

	coord_start();
	ck_assert_uint_eq(call_kv(SHMQ_KV_GET, "s1", NULL, &rsp), ENOENT);
	ck_assert_uint_eq(call_kv(SHMQ_KV_PUT, "s1", "first", &rsp), 0);
	ck_assert_uint_eq(call_kv(SHMQ_KV_PUT, "s1", "second", &rsp), 0);
	ck_assert_uint_eq(call_kv(SHMQ_KV_GET, "s1", NULL, &rsp), 0);
	ck_assert_uint_eq(rsp.m_len, 6);
	ck_assert_mem_eq(rsp.m_data, "second", 6);
	ck_assert_uint_eq(call_kv(SHMQ_KV_DEL, "s1", NULL, &rsp), 0);
	ck_assert_uint_eq(call_kv(SHMQ_KV_DEL, "s1", NULL, &rsp), ENOENT);
	ck_assert_uint_eq(call_kv(SHMQ_KV_GET, "s1", NULL, &rsp), ENOENT);
}
END_TEST

START_TEST(coordinator__group_commit_many_requests)
{
	struct shmq_stats	 st;
	struct shmq_msg		 m;
	uint64_t		 first_id = next_id;
	int			 i, n = SHMQ_RING_SIZE;

	coord_start();
	for (i = 0; i < n; i++) {
		shmq_map_enc(&m, SHMQ_MAP_SET, 2, 2 * (uint64_t)i, 1);
		m.m_id = next_id++;
		ck_assert_int_eq(shmq_request_push(rg, 0, &m), 0);
	}
	shmq_doorbell_ring(rg);
	for (i = 0; i < n; i++) {
		recv_one(&m);
		ck_assert_uint_eq(m.m_id, first_id + i);
		ck_assert_uint_eq(m.m_status, 0);
	}
	shmq_stats_get(rg, &st);
	ck_assert_uint_eq(st.st_requests, n);
	ck_assert_msg(st.st_commits * 10 < st.st_requests,
	    "%llu commits for %llu requests",
	    (unsigned long long)st.st_commits,
	    (unsigned long long)st.st_requests);
	assert_run(2, 2 * 500, 2 * 500, 1);
	assert_unmapped(2, 2 * 500 + 1);
}
END_TEST

START_TEST(coordinator__full_response_ring_keeps_answers)
{
	struct shmq_stats	 st;
	struct shmq_msg		 m;
	struct timespec		 ts = { 0, 1000000 };
	uint64_t		 first_id;
	int			 i, n = SHMQ_RING_SIZE + 500;

	coord_start();
	memset(&m, 0, sizeof(m));
	m.m_type = SHMQ_PING;
	call(&m, &m);			/* its COORD_HELLO out of the ring */
	first_id = next_id;
	for (i = 0; i < n; i++)
		send_on(0, &m);		/* waits while the request ring is full */
	/* Wait until answers are owed beyond what the ring holds. */
	for (i = 0; i < TIMEOUT_MS; i++) {
		shmq_stats_get(rg, &st);
		if (st.st_requests > SHMQ_RING_SIZE)
			break;
		nanosleep(&ts, NULL);
	}
	ck_assert_uint_gt(st.st_requests, SHMQ_RING_SIZE);
	for (i = 0; i < n; i++) {
		recv_one(&m);
		ck_assert_uint_eq(m.m_id, first_id + i);
	}
	ck_assert_int_eq(shmq_response_pop(rg, 0, &m), 0);
}
END_TEST

START_TEST(coordinator__schema_mismatch_exits_78)
{
	struct store	*st;
	int		 status;

	ck_assert_int_eq(store_open(&st, statedir, MAPSIZE), 0);
	ck_assert_int_eq(store_begin(st, 1), 0);
	ck_assert_int_eq(store_schema_put(st, COORD_SCHEMA + 1), 0);
	ck_assert_int_eq(store_commit(st), 0);
	store_close(st);
	status = coord_wait(tcoord_fork(statedir, rg, MAPSIZE));
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), EX_CONFIG);
}
END_TEST

START_TEST(coordinator__missing_state_dir_exits_78)
{
	int	 status;

	statedir_teardown();
	status = coord_wait(tcoord_fork(statedir, rg, MAPSIZE));
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), EX_CONFIG);
}
END_TEST

START_TEST(coordinator__state_survives_kill9)
{
	struct shmq_msg	 rsp;

	coord_start();
	ck_assert_uint_eq(call_kv(SHMQ_KV_PUT, "session:1", "hello world",
	    &rsp), 0);
	ck_assert_uint_eq(call_map(SHMQ_MAP_SET, 3, 1000, 8), 0);
	coord_stop(SIGKILL);
	ck_assert_int_eq(shmq_coordinator_alive(rg), 0);
	coord_start();
	ck_assert_uint_eq(call_kv(SHMQ_KV_GET, "session:1", NULL, &rsp), 0);
	ck_assert_uint_eq(rsp.m_len, 11);
	ck_assert_mem_eq(rsp.m_data, "hello world", 11);
	assert_run(3, 1004, 1000, 8);
}
END_TEST

/*
 * A coordinator that starts asks every worker with a slot to register
 * its sessions again, since it knows none: once each time it starts.
 */
START_TEST(coordinator__start_asks_for_sessions)
{
	struct shmq_msg	 m;

	hellos = 0;
	shmq_slot_claim(rg, 0, getpid());
	coord_start();
	memset(&m, 0, sizeof(m));
	m.m_type = SHMQ_PING;
	ck_assert_uint_eq(call(&m, &m), 0);
	ck_assert_int_eq(hellos, 1);
	coord_stop(SIGKILL);
	coord_start();
	memset(&m, 0, sizeof(m));
	m.m_type = SHMQ_PING;
	ck_assert_uint_eq(call(&m, &m), 0);
	ck_assert_int_eq(hellos, 2);
}
END_TEST

START_TEST(coordinator__requests_queued_while_down_are_answered)
{
	struct shmq_msg	 req, rsp;

	coord_start();
	ck_assert_uint_eq(call_map(SHMQ_MAP_SYNC, 0, 0, 0), 0);
	coord_stop(SIGKILL);
	shmq_map_enc(&req, SHMQ_MAP_SET, 4, 0, 16);
	send_on(0, &req);
	coord_start();
	recv_one(&rsp);
	ck_assert_uint_eq(rsp.m_id, req.m_id);
	ck_assert_uint_eq(rsp.m_status, 0);
	assert_run(4, 15, 0, 16);
}
END_TEST

START_TEST(coordinator__dead_workers_requests_not_executed)
{
	struct shmq_msg	 req;
	struct timespec	 ts = { 0, 1000000 };
	int		 i;

	shmq_slot_claim(rg, 1, getppid());
	shmq_map_enc(&req, SHMQ_MAP_SET, 5, 0, 16);
	send_on(1, &req);
	shmq_slot_release(rg, 1);	/* reaped before anyone ran it */
	coord_start();
	assert_unmapped(5, 0);
	for (i = 0; shmq_request_peek(rg, 1, 0, &req) != 0; i++) {
		ck_assert_int_lt(i, TIMEOUT_MS);
		nanosleep(&ts, NULL);
	}
	ck_assert_int_eq(shmq_request_pop(rg, 1, &req), 0);
}
END_TEST

START_TEST(coordinator__full_store_reports_enospc)
{
	struct shmq_msg	 rsp;
	char		 key[32], val[200];
	int		 i, full = 0;

	coord_pid = tcoord_fork(statedir, rg, (size_t)256 << 10);
	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	for (i = 0; i < 10000 && !full; i++) {
		snprintf(key, sizeof(key), "key%08d", i);
		switch (call_kv(SHMQ_KV_PUT, key, val, &rsp)) {
		case 0:
			break;
		case ENOSPC:
			full = 1;
			break;
		default:
			ck_abort_msg("unexpected status %u", rsp.m_status);
		}
	}
	ck_assert_msg(full, "store never filled");
	ck_assert_uint_eq(call_kv(SHMQ_KV_GET, "key00000000", NULL, &rsp), 0);
	ck_assert_uint_eq(rsp.m_len, sizeof(val) - 1);
	ck_assert_uint_eq(call_kv(SHMQ_KV_DEL, "key00000001", NULL, &rsp), 0);
	ck_assert_int_eq(shmq_coordinator_alive(rg), 1);
}
END_TEST

Suite *
coordinator_suite(void)
{
	Suite	*s = suite_create("coordinator");
	TCase	*tc;

	tc = tcase_create("process");
	tcase_add_checked_fixture(tc, coord_setup, coord_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, coordinator__ping_echoes_payload);
	tcase_add_test(tc, coordinator__noreply_executed_unanswered);
	tcase_add_test(tc, coordinator__map_set_lookup_sync);
	tcase_add_test(tc, coordinator__map_runs_merge_and_split);
	tcase_add_test(tc, coordinator__bad_requests_get_einval);
	tcase_add_test(tc, coordinator__kv_put_get_del);
	tcase_add_test(tc, coordinator__group_commit_many_requests);
	tcase_add_test(tc, coordinator__full_response_ring_keeps_answers);
	tcase_add_test(tc, coordinator__schema_mismatch_exits_78);
	tcase_add_test(tc, coordinator__missing_state_dir_exits_78);
	tcase_add_test(tc, coordinator__state_survives_kill9);
	tcase_add_test(tc, coordinator__start_asks_for_sessions);
	tcase_add_test(tc, coordinator__requests_queued_while_down_are_answered);
	tcase_add_test(tc, coordinator__dead_workers_requests_not_executed);
	tcase_add_test(tc, coordinator__full_store_reports_enospc);
	suite_add_tcase(s, tc);
	return s;
}
