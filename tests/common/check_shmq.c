/*
 * Unit tests for common/shmq.c, across real processes where it matters,
 * and its payload codecs; the region as a memfd that a master executed
 * anew maps again (attached, refused when not laid out as this build
 * lays it out, its descriptors kept open across exec or not), and the
 * slot generations.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
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
	ck_assert_int_eq(shmq_kv_enc(&m, SHMQ_KV_PUT, "k", 1, big,
	    SHMQ_DATA_MAX - 3), 0);
	ck_assert_uint_eq(m.m_len, SHMQ_DATA_MAX);
	ck_assert_int_eq(shmq_kv_enc(&m, SHMQ_KV_PUT, "k", 1, big,
	    SHMQ_DATA_MAX - 2), -EMSGSIZE);
	ck_assert_int_eq(shmq_kv_enc(&m, SHMQ_KV_GET, "", 0, NULL, 0),
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

/*
 * A producer that found its ring full is woken when room frees, however
 * it freed: the worker's eventfd when the coordinator releases requests
 * (no answer pushed: posts), the doorbell when the worker pops answers
 * the coordinator could not push.  A producer that never waited is not.
 */
START_TEST(shmq__room_wakes_a_waiting_producer)
{
	struct pollfd	 pfd;
	struct shmq_msg	 m;
	uint32_t	 bell;
	uint64_t	 i;

	pfd.fd = shmq_worker_fd(rg, 1);
	pfd.events = POLLIN;
	for (i = 0; i < SHMQ_RING_SIZE; i++) {
		msg_numbered(&m, i);
		ck_assert_int_eq(shmq_request_push(rg, 1, &m), 0);
		ck_assert_int_eq(shmq_response_push(rg, 1, &m), 0);
	}
	shmq_request_release(rg, 1, 1);		/* nobody waited yet */
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	ck_assert_int_eq(shmq_request_push(rg, 1, &m), 0);
	ck_assert_int_eq(shmq_request_push(rg, 1, &m), -EAGAIN);
	shmq_request_release(rg, 1, 2);
	ck_assert_int_eq(poll(&pfd, 1, 0), 1);
	shmq_worker_clear(rg, 1);
	shmq_request_release(rg, 1, 1);		/* woken once per wait */
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);

	ck_assert_int_eq(shmq_response_push(rg, 1, &m), -EAGAIN);
	bell = shmq_doorbell_read(rg);
	ck_assert_int_eq(shmq_response_pop(rg, 1, &m), 1);
	ck_assert_uint_ne(shmq_doorbell_read(rg), bell);
	bell = shmq_doorbell_read(rg);
	ck_assert_int_eq(shmq_response_pop(rg, 1, &m), 1);
	ck_assert_uint_eq(shmq_doorbell_read(rg), bell);
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

/* ---- The region as a memfd (a master executed anew maps it again) ---- */

static size_t
fd_size(int fd)
{
	struct stat	 st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	return (size_t)st.st_size;
}

/*
 * A second view of the region, attached: there is no detach (a master
 * keeps its region), so the test unmaps it.
 */
static void
view_drop(struct shmq_region *view, int fd)
{
	ck_assert_int_eq(munmap(view, fd_size(fd)), 0);
}

/* A memfd holding len bytes of the region's memfd, then zeros to size. */
static int
region_copy(size_t len, size_t size)
{
	uint8_t	*b;
	int	 fd;

	ck_assert_ptr_nonnull(b = calloc(1, (size > len ? size : len) + 1));
	ck_assert_int_eq(pread(shmq_region_fd(rg), b, len, 0), (ssize_t)len);
	ck_assert_int_ge(fd = memfd_create("check-shmq", MFD_CLOEXEC), 0);
	ck_assert_int_eq(write(fd, b, size), (ssize_t)size);
	free(b);
	return fd;
}

/* Attaching the region fd holds fails with EPROTO. */
static void
attach_refused(int fd, const char *what)
{
	errno = 0;
	ck_assert_msg(shmq_region_attach(fd) == NULL, "%s: attached", what);
	ck_assert_msg(errno == EPROTO, "%s: errno %d", what, errno);
	close(fd);
}

/* Attached from its descriptor: the same rings, both ways. */
START_TEST(shmq__attached_region_shares_the_rings)
{
	struct shmq_region	*view;
	struct shmq_msg		 m;
	int			 fd = shmq_region_fd(rg);

	shmq_slot_claim(rg, 1, getpid());
	msg_numbered(&m, 7);
	ck_assert_int_eq(shmq_request_push(rg, 1, &m), 0);
	ck_assert_ptr_nonnull(view = shmq_region_attach(fd));
	ck_assert_int_eq(shmq_region_nslots(view), 2);
	ck_assert_int_eq(shmq_region_fd(view), fd);
	ck_assert_int_eq(shmq_slot_pid(view, 1), getpid());
	ck_assert_int_eq(shmq_worker_fd(view, 1), shmq_worker_fd(rg, 1));
	ck_assert_int_eq(shmq_request_pop(view, 1, &m), 1);
	ck_assert(msg_is_numbered(&m, 7));
	ck_assert_int_eq(shmq_request_pop(rg, 1, &m), 0);
	msg_numbered(&m, 8);
	m.m_gen = shmq_slot_gen(view, 1);
	ck_assert_int_eq(shmq_response_push(view, 1, &m), 0);
	ck_assert_int_eq(shmq_response_pop(rg, 1, &m), 1);
	ck_assert(msg_is_numbered(&m, 8));
	view_drop(view, fd);
}
END_TEST

/*
 * A file not laid out as this build lays a region out: empty, small, of
 * another size than its header says, without the magic.  A copy as it
 * is attaches (so that each refusal is the change's).
 */
START_TEST(shmq__attach_refuses_other_layouts)
{
	struct shmq_region	*view;
	size_t			 size = fd_size(shmq_region_fd(rg));
	size_t			 pg = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t			 b;
	int			 fd;

	fd = region_copy(size, size);
	ck_assert_ptr_nonnull(view = shmq_region_attach(fd));
	view_drop(view, fd);
	close(fd);
	attach_refused(region_copy(0, 0), "empty");
	attach_refused(region_copy(16, 16), "16 bytes");
	attach_refused(region_copy(size, size + pg), "a page longer");
	attach_refused(region_copy(size - pg, size - pg), "a page shorter");
	attach_refused(region_copy(0, size), "zeros");
	fd = region_copy(size, size);
	ck_assert_int_eq(pread(fd, &b, 1, 0), 1);	/* the magic's */
	b ^= 0x01;
	ck_assert_int_eq(pwrite(fd, &b, 1, 0), 1);
	attach_refused(fd, "another magic");
}
END_TEST

static int
cloexec(int fd)
{
	int	 fl = fcntl(fd, F_GETFD);

	ck_assert_int_ne(fl, -1);
	return (fl & FD_CLOEXEC) != 0;
}

/* Its memfd and every slot's eventfd, open across exec or not. */
START_TEST(shmq__inherit_flags_every_descriptor)
{
	int	 i, on;

	ck_assert(cloexec(shmq_region_fd(rg)));
	for (on = 1; on >= 0; on--) {
		ck_assert_int_eq(shmq_region_inherit(rg, on), 0);
		ck_assert_int_eq(cloexec(shmq_region_fd(rg)), !on);
		for (i = 0; i < 2; i++)
			ck_assert_int_eq(cloexec(shmq_worker_fd(rg, i)), !on);
	}
}
END_TEST

/* A release starts a new generation; a new owner after another, too. */
START_TEST(shmq__slot_gen_moves_on_release)
{
	uint32_t	 g0 = shmq_slot_gen(rg, 0), g1 = shmq_slot_gen(rg, 1);

	shmq_slot_claim(rg, 1, 1000);
	ck_assert_uint_eq(shmq_slot_gen(rg, 1), g1);
	shmq_slot_release(rg, 1);
	ck_assert_uint_eq(shmq_slot_gen(rg, 1), g1 + 1);
	shmq_slot_claim(rg, 1, 1001);
	ck_assert_uint_eq(shmq_slot_gen(rg, 1), g1 + 1);
	shmq_slot_claim(rg, 1, 1002);		/* 1001 not released */
	ck_assert_uint_eq(shmq_slot_gen(rg, 1), g1 + 2);
	shmq_slot_claim(rg, 1, 1002);
	ck_assert_uint_eq(shmq_slot_gen(rg, 1), g1 + 2);
	ck_assert_uint_eq(shmq_slot_gen(rg, 0), g0);
}
END_TEST

/* ---- The payload codecs: round trips, and malformed lengths refused. */

START_TEST(shmq__map_round_trip_and_bad_lengths)
{
	struct shmq_msg	 m;
	uint64_t	 lu, first;
	uint32_t	 count;

	memset(&m, 0xee, sizeof(m));
	shmq_map_enc(&m, SHMQ_MAP_CLEAR, UINT64_MAX - 1, 0x0102030405060708ULL,
	    0xfffffffe);
	ck_assert_uint_eq(m.m_type, SHMQ_MAP_CLEAR);
	ck_assert_uint_eq(m.m_status, 0);
	ck_assert_int_eq(shmq_map_dec(&m, &lu, &first, &count), 0);
	ck_assert_uint_eq(lu, UINT64_MAX - 1);
	ck_assert_uint_eq(first, 0x0102030405060708ULL);
	ck_assert_uint_eq(count, 0xfffffffe);
	ck_assert_uint_eq(m.m_data[0], 0xff);		/* big-endian */
	m.m_len = SHMQ_MAP_LEN - 1;
	ck_assert_int_eq(shmq_map_dec(&m, &lu, &first, &count), -EINVAL);
	m.m_len = SHMQ_MAP_LEN + 1;
	ck_assert_int_eq(shmq_map_dec(&m, &lu, &first, &count), -EINVAL);
	m.m_len = 0;
	ck_assert_int_eq(shmq_map_dec(&m, &lu, &first, &count), -EINVAL);
}
END_TEST

START_TEST(shmq__lookup_round_trip_and_bad_lengths)
{
	struct shmq_msg	 m;
	uint64_t	 first, count;

	memset(&m, 0, sizeof(m));
	m.m_type = SHMQ_MAP_LOOKUP;
	shmq_lookup_enc(&m, 1ULL << 40, 77);
	ck_assert_uint_eq(m.m_type, SHMQ_MAP_LOOKUP);	/* the answer's */
	ck_assert_int_eq(shmq_lookup_dec(&m, &first, &count), 0);
	ck_assert_uint_eq(first, 1ULL << 40);
	ck_assert_uint_eq(count, 77);
	m.m_len = 0;				/* an ENOENT answer */
	ck_assert_int_eq(shmq_lookup_dec(&m, &first, &count), -EINVAL);
	m.m_len = SHMQ_LOOKUP_LEN + 4;
	ck_assert_int_eq(shmq_lookup_dec(&m, &first, &count), -EINVAL);
}
END_TEST

START_TEST(shmq__register_round_trip_and_bad_names)
{
	struct shmq_msg	 m;
	char		 name[SHMQ_DATA_MAX + 1], big[SHMQ_DATA_MAX + 2];
	uint64_t	 id, nblocks;

	ck_assert_int_eq(shmq_register_enc(&m, 0x1234, 1ULL << 33,
	    "psess-00000000000000ab-0"), 0);
	ck_assert_uint_eq(m.m_type, SHMQ_MAP_REGISTER);
	ck_assert_int_eq(shmq_register_dec(&m, &id, &nblocks, name,
	    sizeof(name)), 0);
	ck_assert_uint_eq(id, 0x1234);
	ck_assert_uint_eq(nblocks, 1ULL << 33);
	ck_assert_str_eq(name, "psess-00000000000000ab-0");
	/* a buffer one byte short of the name and its NUL */
	ck_assert_int_eq(shmq_register_dec(&m, &id, &nblocks, name, 24),
	    -EINVAL);
	ck_assert_int_eq(shmq_register_dec(&m, &id, &nblocks, name, 25), 0);
	m.m_data[SHMQ_REGISTER_LEN + 3] = '\0';		/* a NUL inside */
	ck_assert_int_eq(shmq_register_dec(&m, &id, &nblocks, name,
	    sizeof(name)), -EINVAL);
	m.m_len = SHMQ_REGISTER_LEN;			/* no name */
	ck_assert_int_eq(shmq_register_dec(&m, &id, &nblocks, name,
	    sizeof(name)), -EINVAL);
	m.m_len = SHMQ_DATA_MAX + 1;
	ck_assert_int_eq(shmq_register_dec(&m, &id, &nblocks, name,
	    sizeof(name)), -EINVAL);
	ck_assert_int_eq(shmq_register_enc(&m, 1, 1, ""), -EMSGSIZE);
	memset(big, 'n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[SHMQ_DATA_MAX - SHMQ_REGISTER_LEN + 1] = '\0';
	ck_assert_int_eq(shmq_register_enc(&m, 1, 1, big), -EMSGSIZE);
	big[SHMQ_DATA_MAX - SHMQ_REGISTER_LEN] = '\0';
	ck_assert_int_eq(shmq_register_enc(&m, 1, 1, big), 0);
	ck_assert_uint_eq(m.m_len, SHMQ_DATA_MAX);
	ck_assert_int_eq(shmq_register_dec(&m, &id, &nblocks, name,
	    sizeof(name)), 0);
	ck_assert_str_eq(name, big);
}
END_TEST

START_TEST(shmq__kv_round_trip_and_bad_lengths)
{
	struct shmq_msg	 m;
	const uint8_t	*key, *val;
	size_t		 klen, vlen;

	ck_assert_int_eq(shmq_kv_enc(&m, SHMQ_KV_PUT, "key", 3, "value", 5),
	    0);
	ck_assert_uint_eq(m.m_type, SHMQ_KV_PUT);
	ck_assert_int_eq(shmq_kv_dec(&m, &key, &klen, &val, &vlen), 0);
	ck_assert_uint_eq(klen, 3);
	ck_assert_mem_eq(key, "key", 3);
	ck_assert_uint_eq(vlen, 5);
	ck_assert_mem_eq(val, "value", 5);
	ck_assert_int_eq(shmq_kv_enc(&m, SHMQ_KV_GET, "k", 1, NULL, 0), 0);
	ck_assert_int_eq(shmq_kv_dec(&m, &key, &klen, &val, &vlen), 0);
	ck_assert_uint_eq(klen, 1);
	ck_assert_uint_eq(vlen, 0);
	be16enc(m.m_data, 2);			/* a key longer than sent */
	ck_assert_int_eq(shmq_kv_dec(&m, &key, &klen, &val, &vlen), -EINVAL);
	be16enc(m.m_data, 0);			/* no key */
	ck_assert_int_eq(shmq_kv_dec(&m, &key, &klen, &val, &vlen), -EINVAL);
	m.m_len = 1;				/* not even a length */
	ck_assert_int_eq(shmq_kv_dec(&m, &key, &klen, &val, &vlen), -EINVAL);
	m.m_len = SHMQ_DATA_MAX + 1;
	be16enc(m.m_data, 1);
	ck_assert_int_eq(shmq_kv_dec(&m, &key, &klen, &val, &vlen), -EINVAL);
}
END_TEST

START_TEST(shmq__pr_round_trip_and_bad_lengths)
{
	struct shmq_msg	 m;
	char		 name[64];
	uint64_t	 commit;
	uint32_t	 epoch;

	ck_assert_int_eq(shmq_pr_enc(&m, 0xa1b2c3d4, 1ULL << 50,
	    "static-t-0"), 0);
	ck_assert_uint_eq(m.m_type, SHMQ_PR_COMMIT);
	ck_assert_int_eq(shmq_pr_dec(&m, &epoch, &commit, name, sizeof(name)),
	    0);
	ck_assert_uint_eq(epoch, 0xa1b2c3d4);
	ck_assert_uint_eq(commit, 1ULL << 50);
	ck_assert_str_eq(name, "static-t-0");
	ck_assert_int_eq(shmq_pr_dec(&m, &epoch, &commit, name, 10), -EINVAL);
	m.m_len = SHMQ_PR_LEN;			/* no name */
	ck_assert_int_eq(shmq_pr_dec(&m, &epoch, &commit, name, sizeof(name)),
	    -EINVAL);
	m.m_len = 4;
	ck_assert_int_eq(shmq_pr_dec(&m, &epoch, &commit, name, sizeof(name)),
	    -EINVAL);
	ck_assert_int_eq(shmq_pr_enc(&m, 1, 1, ""), -EMSGSIZE);
}
END_TEST

START_TEST(shmq__kick_round_trip_and_bad_lengths)
{
	struct shmq_msg	 m;
	uint64_t	 conn;
	int		 why;

	shmq_kick_enc(&m, 0x1122334455667788ULL, SHMQ_KICK_TARGET_RESET);
	ck_assert_uint_eq(m.m_type, SHMQ_SESSION_KICK);
	ck_assert_int_eq(shmq_kick_dec(&m, &conn, &why), 0);
	ck_assert_uint_eq(conn, 0x1122334455667788ULL);
	ck_assert_int_eq(why, SHMQ_KICK_TARGET_RESET);
	shmq_kick_enc(&m, 5, SHMQ_KICK_REINSTATE);
	ck_assert_int_eq(shmq_kick_dec(&m, &conn, &why), 0);
	ck_assert_int_eq(why, SHMQ_KICK_REINSTATE);
	m.m_len = 8;				/* no reason */
	ck_assert_int_eq(shmq_kick_dec(&m, &conn, &why), -EINVAL);
	m.m_len = SHMQ_KICK_LEN + 1;
	ck_assert_int_eq(shmq_kick_dec(&m, &conn, &why), -EINVAL);
	m.m_len = SHMQ_KICK_LEN;
	m.m_data[8] = 7;			/* a reason nobody sends */
	ck_assert_int_eq(shmq_kick_dec(&m, &conn, &why), -EINVAL);
}
END_TEST

START_TEST(shmq__session_round_trip_and_bad_lengths)
{
	struct shmq_session	 a, b;
	struct shmq_msg		 m;

	memset(&a, 0, sizeof(a));
	a.ss_conn = 77;
	a.ss_slot = 2;
	a.ss_byaddr = 1;
	a.ss_isid[0] = 0x80;
	a.ss_addr[15] = 1;
	a.ss_since = 0x123456789abcULL * 1000;	/* microseconds, 48 bits */
	memset(a.ss_initiator, 'x', SHMQ_NAME_MAX - 1);
	memset(a.ss_target, 'y', SHMQ_NAME_MAX - 1);	/* both the longest */
	ck_assert_int_eq(shmq_session_enc(&m, SHMQ_SESSION_START, &a), 0);
	ck_assert_uint_le(m.m_len, SHMQ_DATA_MAX);
	ck_assert_int_eq(shmq_session_dec(&m, &b), 0);
	ck_assert_mem_eq(&a, &b, sizeof(a));
	memset(a.ss_target, 0, sizeof(a.ss_target));
	snprintf(a.ss_target, sizeof(a.ss_target), "iqn.t");
	ck_assert_int_eq(shmq_session_enc(&m, SHMQ_SESSION_START, &a), 0);
	ck_assert_uint_eq(m.m_type, SHMQ_SESSION_START);
	ck_assert_int_eq(shmq_session_dec(&m, &b), 0);
	ck_assert_mem_eq(&a, &b, sizeof(a));
	m.m_len--;			/* the target name cut short */
	ck_assert_int_ne(shmq_session_dec(&m, &b), 0);
	m.m_len += 2;			/* a byte past the names */
	ck_assert_int_ne(shmq_session_dec(&m, &b), 0);
	m.m_len = 10;
	ck_assert_int_ne(shmq_session_dec(&m, &b), 0);
	a.ss_initiator[0] = '\0';	/* no initiator: refused */
	ck_assert_int_eq(shmq_session_enc(&m, SHMQ_SESSION_START, &a), 0);
	ck_assert_int_ne(shmq_session_dec(&m, &b), 0);
	memset(a.ss_target, 't', sizeof(a.ss_target));	/* no NUL */
	ck_assert_int_eq(shmq_session_enc(&m, SHMQ_SESSION_START, &a),
	    -EMSGSIZE);
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
	tcase_add_test(tc, shmq__room_wakes_a_waiting_producer);
	suite_add_tcase(s, tc);

	tc = tcase_create("ownership");
	tcase_add_checked_fixture(tc, region_setup, region_teardown);
	tcase_add_test(tc, shmq__dead_peer_noticed);
	tcase_add_test(tc, shmq__slot_claim_resets_rings);
	tcase_add_test(tc, shmq__slot_release_resets_rings);
	tcase_add_test(tc, shmq__slot_gen_moves_on_release);
	suite_add_tcase(s, tc);

	tc = tcase_create("memfd");
	tcase_add_checked_fixture(tc, region_setup, region_teardown);
	tcase_add_test(tc, shmq__attached_region_shares_the_rings);
	tcase_add_test(tc, shmq__attach_refuses_other_layouts);
	tcase_add_test(tc, shmq__inherit_flags_every_descriptor);
	suite_add_tcase(s, tc);

	tc = tcase_create("codec");
	tcase_add_test(tc, shmq__map_round_trip_and_bad_lengths);
	tcase_add_test(tc, shmq__lookup_round_trip_and_bad_lengths);
	tcase_add_test(tc, shmq__register_round_trip_and_bad_names);
	tcase_add_test(tc, shmq__kv_round_trip_and_bad_lengths);
	tcase_add_test(tc, shmq__pr_round_trip_and_bad_lengths);
	tcase_add_test(tc, shmq__kick_round_trip_and_bad_lengths);
	tcase_add_test(tc, shmq__session_round_trip_and_bad_lengths);
	suite_add_tcase(s, tc);
	return s;
}
