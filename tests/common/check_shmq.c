/*
 * Unit tests for common/shmq.c, across real processes where it matters.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "bytes.h"
#include "shmq.h"

#define STREAM_COUNT	100000

static struct shmq_region	*rg;

static void
region_setup(void)
{
	rg = shmq_region_create(2);
	ck_assert_ptr_nonnull(rg);
}

static void
region_teardown(void)
{
	shmq_region_destroy(rg);
	rg = NULL;
}

static int
ms_since(const struct timespec *t0)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int)((now.tv_sec - t0->tv_sec) * 1000 +
	    (now.tv_nsec - t0->tv_nsec) / 1000000);
}

static void
msg_numbered(struct shmq_msg *m, uint64_t i)
{
	memset(m, 0, sizeof(*m));
	m->m_type = SHMQ_PING;
	m->m_id = i;
	m->m_len = 16;
	be64enc(m->m_data, i * 2654435761u);
	be64enc(m->m_data + 8, ~i);
}

static int
msg_is_numbered(const struct shmq_msg *m, uint64_t i)
{
	return m->m_type == SHMQ_PING && m->m_id == i && m->m_len == 16 &&
	    be64dec(m->m_data) == i * 2654435761u &&
	    be64dec(m->m_data + 8) == ~i;
}

static void
child_exited(pid_t pid, int status)
{
	int	 st;

	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st), "child died of signal %d",
	    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	ck_assert_int_eq(WEXITSTATUS(st), status);
}

START_TEST(shmq__type_names_from_xmacro)
{
	uint32_t	 t, u;

	ck_assert_str_eq(shmq_type_name(SHMQ_PING), "PING");
	ck_assert_str_eq(shmq_type_name(SHMQ_MAP_SET), "MAP_SET");
	ck_assert_str_eq(shmq_type_name(SHMQ_KV_GET), "KV_GET");
	ck_assert_str_eq(shmq_type_name(SHMQ_TYPE_MAX), "UNKNOWN");
	ck_assert_str_eq(shmq_type_name(0xdeadbeef), "UNKNOWN");
	for (t = SHMQ_PING; t < SHMQ_TYPE_MAX; t++) {
		ck_assert_str_ne(shmq_type_name(t), "UNKNOWN");
		for (u = t + 1; u < SHMQ_TYPE_MAX; u++)
			ck_assert_str_ne(shmq_type_name(t), shmq_type_name(u));
	}
}
END_TEST

/* Child: the worker; pushes requests and checks the echoes in order. */
static int
stream_worker(void)
{
	struct shmq_msg	 m;
	uint64_t	 sent = 0, got = 0;
	int		 progress;

	while (got < STREAM_COUNT) {
		progress = 0;
		while (sent < STREAM_COUNT) {
			msg_numbered(&m, sent);
			if (shmq_request_push(rg, 0, &m) == -EAGAIN)
				break;
			sent++;
			progress = 1;
		}
		shmq_doorbell_ring(rg);
		while (shmq_response_pop(rg, 0, &m) == 1) {
			if (!msg_is_numbered(&m, got++))
				return 1;
			progress = 1;
		}
		if (!progress)
			sched_yield();
	}
	return shmq_response_pop(rg, 0, &m) == 0 ? 0 : 2;
}

START_TEST(shmq__fork_stream_100k_in_order)
{
	struct shmq_msg	 m;
	uint64_t	 got = 0;
	uint32_t	 seen;
	pid_t		 pid;

	shmq_slot_claim(rg, 0, getpid());
	if ((pid = fork()) == 0)
		_exit(stream_worker());
	ck_assert_int_ne(pid, -1);
	while (got < STREAM_COUNT) {
		seen = shmq_doorbell_read(rg);
		if (shmq_request_pop(rg, 0, &m) == 0) {
			shmq_doorbell_wait(rg, seen, 100);
			continue;
		}
		ck_assert_msg(msg_is_numbered(&m, got), "request %llu",
		    (unsigned long long)got);
		while (shmq_response_push(rg, 0, &m) == -EAGAIN)
			sched_yield();
		got++;
	}
	child_exited(pid, 0);
	ck_assert_int_eq(shmq_request_pop(rg, 0, &m), 0);
}
END_TEST

START_TEST(shmq__full_ring_refuses_instead_of_overwriting)
{
	struct shmq_msg	 m;
	uint64_t	 i;

	for (i = 0; i < SHMQ_RING_SIZE; i++) {
		msg_numbered(&m, i);
		ck_assert_int_eq(shmq_request_push(rg, 1, &m), 0);
		ck_assert_int_eq(shmq_response_push(rg, 1, &m), 0);
	}
	msg_numbered(&m, i);
	ck_assert_int_eq(shmq_request_push(rg, 1, &m), -EAGAIN);
	ck_assert_int_eq(shmq_response_push(rg, 1, &m), -EAGAIN);
	for (i = 0; i < SHMQ_RING_SIZE; i++) {
		ck_assert_int_eq(shmq_request_pop(rg, 1, &m), 1);
		ck_assert(msg_is_numbered(&m, i));
		ck_assert_int_eq(shmq_response_pop(rg, 1, &m), 1);
		ck_assert(msg_is_numbered(&m, i));
	}
	ck_assert_int_eq(shmq_request_pop(rg, 1, &m), 0);
	ck_assert_int_eq(shmq_response_pop(rg, 1, &m), 0);
	msg_numbered(&m, 7);
	ck_assert_int_eq(shmq_request_push(rg, 1, &m), 0);
	ck_assert_int_eq(shmq_request_pop(rg, 1, &m), 1);
	ck_assert(msg_is_numbered(&m, 7));
}
END_TEST

START_TEST(shmq__oversized_message_refused)
{
	struct shmq_msg	 m;
	uint8_t		 big[SHMQ_DATA_MAX];

	msg_numbered(&m, 1);
	m.m_len = SHMQ_DATA_MAX + 1;
	ck_assert_int_eq(shmq_request_push(rg, 0, &m), -EMSGSIZE);
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(shmq_msg_kv(&m, SHMQ_KV_PUT, "k", 1, big,
	    SHMQ_DATA_MAX - 3), 0);
	ck_assert_uint_eq(m.m_len, SHMQ_DATA_MAX);
	ck_assert_int_eq(shmq_msg_kv(&m, SHMQ_KV_PUT, "k", 1, big,
	    SHMQ_DATA_MAX - 2), -EMSGSIZE);
	ck_assert_int_eq(shmq_msg_kv(&m, SHMQ_KV_GET, "", 0, NULL, 0),
	    -EMSGSIZE);
}
END_TEST

START_TEST(shmq__peek_leaves_request_until_release)
{
	struct shmq_msg	 m;

	msg_numbered(&m, 1);
	ck_assert_int_eq(shmq_request_push(rg, 0, &m), 0);
	msg_numbered(&m, 2);
	ck_assert_int_eq(shmq_request_push(rg, 0, &m), 0);
	ck_assert_int_eq(shmq_request_peek(rg, 0, 1, &m), 1);
	ck_assert(msg_is_numbered(&m, 2));
	ck_assert_int_eq(shmq_request_peek(rg, 0, 2, &m), 0);
	ck_assert_int_eq(shmq_request_peek(rg, 0, 0, &m), 1);
	ck_assert(msg_is_numbered(&m, 1));
	shmq_request_release(rg, 0, 1);
	ck_assert_int_eq(shmq_request_peek(rg, 0, 0, &m), 1);
	ck_assert(msg_is_numbered(&m, 2));
}
END_TEST

/* Poll /proc until pid sleeps, so the ring hits a real futex waiter. */
static void
wait_until_sleeping(pid_t pid)
{
	char		 path[64], buf[256], *p;
	struct timespec	 t0;
	FILE		*f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < 2000) {
		if ((f = fopen(path, "r")) == NULL)
			break;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (p != NULL && (p = strrchr(buf, ')')) != NULL &&
		    p[1] == ' ' && p[2] == 'S')
			return;
		sched_yield();
	}
}

START_TEST(shmq__doorbell_wakes_waiting_process)
{
	struct timespec	 t0;
	uint32_t	 seen = shmq_doorbell_read(rg);
	int		 fds[2], rv;
	pid_t		 pid;
	char		 c = 0;

	ck_assert_int_eq(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (write(fds[1], "r", 1) != 1)
			_exit(3);
		rv = shmq_doorbell_wait(rg, seen, 5000);
		_exit(rv != 0 ? 1 : ms_since(&t0) > 4000 ? 2 : 0);
	}
	ck_assert_int_ne(pid, -1);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	wait_until_sleeping(pid);
	shmq_doorbell_ring(rg);
	child_exited(pid, 0);
	ck_assert_uint_ne(shmq_doorbell_read(rg), seen);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(shmq__doorbell_wait_times_out_or_returns_at_once)
{
	struct timespec	 t0;
	uint32_t	 seen = shmq_doorbell_read(rg);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(shmq_doorbell_wait(rg, seen, 50), -ETIMEDOUT);
	ck_assert_int_ge(ms_since(&t0), 40);
	shmq_doorbell_ring(rg);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(shmq_doorbell_wait(rg, seen, 5000), 0);
	ck_assert_int_lt(ms_since(&t0), 1000);
}
END_TEST

START_TEST(shmq__eventfd_readable_after_notify)
{
	struct pollfd	 pfd;
	pid_t		 pid;

	pfd.fd = shmq_worker_fd(rg, 1);
	pfd.events = POLLIN;
	ck_assert_int_ge(pfd.fd, 0);
	ck_assert_int_ne(pfd.fd, shmq_worker_fd(rg, 0));
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	if ((pid = fork()) == 0) {
		shmq_worker_notify(rg, 1);
		_exit(0);
	}
	ck_assert_int_ne(pid, -1);
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	ck_assert(pfd.revents & POLLIN);
	child_exited(pid, 0);
	shmq_worker_clear(rg, 1);
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	pfd.fd = shmq_worker_fd(rg, 0);
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
}
END_TEST

START_TEST(shmq__dead_peer_noticed)
{
	pid_t	 pid;

	ck_assert_int_eq(shmq_peer_alive(rg, 0), 0);
	if ((pid = fork()) == 0) {
		for (;;)
			pause();
	}
	ck_assert_int_ne(pid, -1);
	shmq_slot_claim(rg, 0, pid);
	shmq_coordinator_set(rg, pid);
	ck_assert_int_eq(shmq_peer_alive(rg, 0), 1);
	ck_assert_int_eq(shmq_coordinator_alive(rg), 1);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(shmq_peer_alive(rg, 0), 0);
	ck_assert_int_eq(shmq_coordinator_alive(rg), 0);
	shmq_coordinator_set(rg, getpid());
	ck_assert_int_eq(shmq_coordinator_alive(rg), 1);
	shmq_coordinator_set(rg, 0);
	ck_assert_int_eq(shmq_coordinator_alive(rg), 0);
	shmq_slot_release(rg, 0);
	ck_assert_int_eq(shmq_peer_alive(rg, 0), 0);
}
END_TEST

START_TEST(shmq__slot_claim_resets_rings)
{
	struct shmq_msg	 m, old;
	struct pollfd	 pfd = { shmq_worker_fd(rg, 0), POLLIN, 0 };
	uint64_t	 i;

	shmq_slot_claim(rg, 0, getpid());
	for (i = 0; i < 5; i++) {
		msg_numbered(&m, i);
		ck_assert_int_eq(shmq_request_push(rg, 0, &m), 0);
	}
	ck_assert_int_eq(shmq_request_peek(rg, 0, 0, &old), 1);
	ck_assert_int_eq(shmq_response_push(rg, 0, &old), 0);
	shmq_worker_notify(rg, 0);
	shmq_slot_claim(rg, 0, getppid());	/* a new owner */
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	ck_assert_int_eq(shmq_response_pop(rg, 0, &m), 0);
	ck_assert_int_eq(shmq_request_peek(rg, 0, 0, &m), -ESTALE);
	ck_assert_int_eq(shmq_request_pop(rg, 0, &m), 0);
	/* An answer to the old owner, pushed late, is not delivered. */
	ck_assert_int_eq(shmq_response_push(rg, 0, &old), 0);
	ck_assert_int_eq(shmq_response_pop(rg, 0, &m), 0);
	/* The new owner's traffic flows. */
	msg_numbered(&m, 42);
	ck_assert_int_eq(shmq_request_push(rg, 0, &m), 0);
	ck_assert_int_eq(shmq_request_peek(rg, 0, 0, &m), 1);
	ck_assert_int_eq(shmq_response_push(rg, 0, &m), 0);
	ck_assert_int_eq(shmq_response_pop(rg, 0, &m), 1);
	ck_assert(msg_is_numbered(&m, 42));
}
END_TEST

START_TEST(shmq__slot_release_resets_rings)
{
	struct shmq_msg	 m;

	shmq_slot_claim(rg, 1, getpid());
	msg_numbered(&m, 1);
	ck_assert_int_eq(shmq_request_push(rg, 1, &m), 0);
	ck_assert_int_eq(shmq_request_peek(rg, 1, 0, &m), 1);
	ck_assert_int_eq(shmq_response_push(rg, 1, &m), 0);
	shmq_slot_release(rg, 1);
	shmq_slot_claim(rg, 1, getpid());
	ck_assert_int_eq(shmq_response_pop(rg, 1, &m), 0);
	ck_assert_int_eq(shmq_request_pop(rg, 1, &m), 0);
}
END_TEST

START_TEST(shmq__region_rejects_bad_slot_counts)
{
	ck_assert_ptr_null(shmq_region_create(0));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(shmq_region_create(SHMQ_SLOTS_MAX + 1));
	ck_assert_int_eq(shmq_region_nslots(rg), 2);
}
END_TEST

START_TEST(shmq__stats_accumulate)
{
	struct shmq_stats	 add = { 10, 2, 1, 5000 }, got;

	shmq_stats_add(rg, &add);
	shmq_stats_add(rg, &add);
	shmq_stats_get(rg, &got);
	ck_assert_uint_eq(got.st_requests, 20);
	ck_assert_uint_eq(got.st_commits, 4);
	ck_assert_uint_eq(got.st_syncs, 2);
	ck_assert_uint_eq(got.st_commit_ns, 10000);
}
END_TEST

Suite *
shmq_suite(void)
{
	Suite	*s = suite_create("shmq");
	TCase	*tc;

	tc = tcase_create("ring");
	tcase_add_checked_fixture(tc, region_setup, region_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, shmq__type_names_from_xmacro);
	tcase_add_test(tc, shmq__fork_stream_100k_in_order);
	tcase_add_test(tc, shmq__full_ring_refuses_instead_of_overwriting);
	tcase_add_test(tc, shmq__oversized_message_refused);
	tcase_add_test(tc, shmq__peek_leaves_request_until_release);
	tcase_add_test(tc, shmq__region_rejects_bad_slot_counts);
	tcase_add_test(tc, shmq__stats_accumulate);
	suite_add_tcase(s, tc);

	tc = tcase_create("wakeup");
	tcase_add_checked_fixture(tc, region_setup, region_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, shmq__doorbell_wakes_waiting_process);
	tcase_add_test(tc, shmq__doorbell_wait_times_out_or_returns_at_once);
	tcase_add_test(tc, shmq__eventfd_readable_after_notify);
	suite_add_tcase(s, tc);

	tc = tcase_create("ownership");
	tcase_add_checked_fixture(tc, region_setup, region_teardown);
	tcase_add_test(tc, shmq__dead_peer_noticed);
	tcase_add_test(tc, shmq__slot_claim_resets_rings);
	tcase_add_test(tc, shmq__slot_release_resets_rings);
	suite_add_tcase(s, tc);
	return s;
}
