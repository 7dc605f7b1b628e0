/*
 * Tests for daemon/upgrade.c: the master's state as a record
 * (upgrade_record) read back by the master executed next
 * (upgrade_restore): its listeners, its children (pid, slot, state,
 * control socket), the ring region and its slot count, its connection
 * records, every descriptor closed on exec again.  Refused: descriptors
 * that are not open, a child's slot past the region's or taken twice, a
 * slot count the region does not have, a child of no known kind, a
 * record cut short or of another major version.  A child that waited
 * for its respawn comes back idle, to be started at once.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bytes.h"
#include "daemon.h"
#include "netaddr.h"
#include "pack.h"
#include "shmq.h"
#include "suites.h"

#define NSLOTS		3
#define NOT_OPEN	100000		/* no descriptor of the test's */
#define PIDFILE		"/run/check-upgrade.pid"

static struct config	*cfg;
static struct master	 m;		/* the master that executes */
static struct master	 m2;		/* the one executed */
static int64_t		 id0, id2;	/* connections on slots 0 and 2 */

/* One end of a control socket (the other stays open, unused). */
static int
ctl_socket(void)
{
	int	 sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC,
	    0, sv), 0);
	return sv[0];
}

static void
listener(int i, enum listen_kind kind, const char *text)
{
	struct listener	*l = &m.m_listen[i];

	ck_assert_int_ge(l->l_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
	    0), 0);
	l->l_kind = kind;
	snprintf(l->l_text, sizeof(l->l_text), "%s", text);
	l->l_master = &m;
}

static void
child(struct child *ch, enum child_kind kind, enum child_state state,
    pid_t pid, int slot)
{
	ch->ch_kind = kind;
	ch->ch_state = state;
	ch->ch_pid = pid;
	ch->ch_slot = slot;
	ch->ch_index = slot;
	ch->ch_ctl = -1;
	ch->ch_master = &m;
}

static const uint8_t *
addr(uint8_t n)
{
	static uint8_t	 a[NETADDR_KEY_LEN];

	memset(a, 0, sizeof(a));
	a[10] = a[11] = 0xff;
	a[12] = 10;
	a[15] = n;
	return a;
}

/*
 * A master as it runs: two listeners, the coordinator, a worker
 * running, one waiting for its respawn, one handing its connections
 * over; two connections; a request in the region.
 */
static void
setup(void)
{
	struct shmq_msg	 msg;
	const char	*why;

	memset(&m, 0, sizeof(m));
	memset(&m2, 0, sizeof(m2));
	ck_assert_ptr_nonnull(cfg = config_new());
	m.m_cfg = m2.m_cfg = cfg;
	m.m_nslots = NSLOTS;
	ck_assert_ptr_nonnull(m.m_region = shmq_region_create(NSLOTS));
	ck_assert_ptr_nonnull(m.m_workers = calloc(NSLOTS,
	    sizeof(struct child)));
	listener(0, LISTEN_ISCSI, "127.0.0.1:3260");
	listener(1, LISTEN_API, "127.0.0.1:8080");
	m.m_nlisten = 2;
	child(&m.m_coord, CHILD_COORDINATOR, CHILD_RUNNING, 4000, 0);
	m.m_coord.ch_started = 1700000000;
	child(&m.m_workers[0], CHILD_WORKER, CHILD_RUNNING, 4001, 0);
	m.m_workers[0].ch_ctl = ctl_socket();
	m.m_workers[0].ch_conns = 1;
	m.m_workers[0].ch_ready = 1;
	m.m_workers[0].ch_started = 1700000001;
	child(&m.m_workers[1], CHILD_WORKER, CHILD_WAITING, 4002, 1);
	m.m_workers[1].ch_deaths = 3;
	m.m_workers[1].ch_backoff_ms = 400;
	child(&m.m_workers[2], CHILD_WORKER, CHILD_DRAINING, 4003, 2);
	m.m_workers[2].ch_ctl = ctl_socket();
	m.m_workers[2].ch_conns = 1;
	m.m_workers[2].ch_handoff = HANDOFF_TOLD;
	ck_assert_ptr_nonnull(m.m_conns = conns_new(cfg->c_max_conns));
	ck_assert_int_ge(id0 = conns_add(m.m_conns, addr(1), 0, 10, 1, &why),
	    0);
	ck_assert_int_ge(id2 = conns_add(m.m_conns, addr(2), 2, 10, 1, &why),
	    0);
	snprintf(m.m_pidfile, sizeof(m.m_pidfile), "%s", PIDFILE);
	shmq_slot_claim(m.m_region, 2, 4003);
	memset(&msg, 0, sizeof(msg));
	msg.m_type = SHMQ_PING;
	msg.m_id = 77;
	ck_assert_int_eq(shmq_request_push(m.m_region, 2, &msg), 0);
	ck_assert_int_eq(fcntl(NOT_OPEN, F_GETFD), -1);
}

static void
teardown(void)
{
	conns_free(m.m_conns);
	conns_free(m2.m_conns);
	free(m.m_workers);
	free(m2.m_workers);
	if (m2.m_base != NULL)
		event_base_free(m2.m_base);
	config_free(cfg);
}

static int
cloexec(int fd)
{
	int	 fl = fcntl(fd, F_GETFD);

	ck_assert_int_ne(fl, -1);
	return (fl & FD_CLOEXEC) != 0;
}

/* As an exec leaves them: every descriptor of m open across it. */
static void
inherited(void)
{
	int	 i;

	ck_assert_int_eq(shmq_region_inherit(m.m_region, 1), 0);
	for (i = 0; i < m.m_nlisten; i++)
		fcntl(m.m_listen[i].l_fd, F_SETFD, 0);
	for (i = 0; i < NSLOTS; i++)
		if (m.m_workers[i].ch_ctl >= 0)
			fcntl(m.m_workers[i].ch_ctl, F_SETFD, 0);
}

/* m's record, restored into m2: upgrade_restore's result. */
static int
restored(void)
{
	int	 fd;

	ck_assert_int_ge(fd = upgrade_record(&m), 0);
	inherited();
	return upgrade_restore(&m2, fd);
}

static void
child_is(const struct child *ch, const struct child *was,
    enum child_state state)
{
	ck_assert_int_eq(ch->ch_kind, was->ch_kind);
	ck_assert_int_eq(ch->ch_state, state);
	ck_assert_int_eq(ch->ch_pid, was->ch_pid);
	ck_assert_int_eq(ch->ch_slot, was->ch_slot);
	ck_assert_int_eq(ch->ch_index, was->ch_index);
	ck_assert_int_eq(ch->ch_ctl, was->ch_ctl);
	if (ch->ch_ctl != -1)
		ck_assert(cloexec(ch->ch_ctl));
	ck_assert_int_eq(ch->ch_conns, was->ch_conns);
	ck_assert_int_eq(ch->ch_ready, was->ch_ready);
	ck_assert_int_eq(ch->ch_deaths, was->ch_deaths);
	ck_assert_int_eq(ch->ch_backoff_ms, was->ch_backoff_ms);
	ck_assert_int_eq(ch->ch_started, was->ch_started);
	ck_assert_int_eq(ch->ch_handoff, was->ch_handoff);
	ck_assert_ptr_eq(ch->ch_master, &m2);
}

START_TEST(upgrade__record_round_trip)
{
	struct shmq_msg	 msg;
	int		 i;

	ck_assert_int_eq(restored(), 0);
	ck_assert_int_eq(m2.m_nslots, NSLOTS);
	ck_assert_str_eq(m2.m_pidfile, PIDFILE);
	ck_assert_int_eq(m2.m_nlisten, 2);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(m2.m_listen[i].l_fd, m.m_listen[i].l_fd);
		ck_assert_int_eq(m2.m_listen[i].l_kind, m.m_listen[i].l_kind);
		ck_assert_str_eq(m2.m_listen[i].l_text, m.m_listen[i].l_text);
		ck_assert(cloexec(m2.m_listen[i].l_fd));
	}
	ck_assert_ptr_nonnull(m2.m_region);
	ck_assert_int_eq(shmq_region_nslots(m2.m_region), NSLOTS);
	ck_assert_int_eq(shmq_region_fd(m2.m_region),
	    shmq_region_fd(m.m_region));
	ck_assert(cloexec(shmq_region_fd(m2.m_region)));
	for (i = 0; i < NSLOTS; i++)
		ck_assert(cloexec(shmq_worker_fd(m2.m_region, i)));
	ck_assert_int_eq(shmq_slot_pid(m2.m_region, 2), 4003);
	ck_assert_int_eq(shmq_request_pop(m2.m_region, 2, &msg), 1);
	ck_assert_uint_eq(msg.m_id, 77);
	child_is(&m2.m_coord, &m.m_coord, CHILD_RUNNING);
	child_is(&m2.m_workers[0], &m.m_workers[0], CHILD_RUNNING);
	child_is(&m2.m_workers[2], &m.m_workers[2], CHILD_DRAINING);
	ck_assert_uint_eq(conns_count(m2.m_conns), 2);
	conns_closed(m2.m_conns, 0, (uint32_t)id0);
	conns_closed(m2.m_conns, 2, (uint32_t)id2);
	ck_assert_uint_eq(conns_count(m2.m_conns), 0);
}
END_TEST

/* Its respawn's timer did not come across: idle, to be started now. */
START_TEST(upgrade__waiting_child_comes_back_idle)
{
	ck_assert_int_eq(restored(), 0);
	ck_assert_int_eq(m2.m_workers[1].ch_state, CHILD_IDLE);
	ck_assert_int_eq(m2.m_workers[1].ch_ctl, -1);
	m.m_workers[0].ch_pid = 0;		/* and one without a pid */
	memset(&m2, 0, sizeof(m2));
	m2.m_cfg = cfg;
	ck_assert_int_eq(restored(), 0);
	ck_assert_int_eq(m2.m_workers[0].ch_state, CHILD_IDLE);
}
END_TEST

static void
listen_fd_closed(void)
{
	m.m_listen[1].l_fd = NOT_OPEN;
}

static void
listen_fd_negative(void)
{
	m.m_listen[1].l_fd = -2;
}

static void
ctl_fd_closed(void)
{
	m.m_workers[0].ch_ctl = NOT_OPEN;
}

static void
slot_past_region(void)
{
	m.m_workers[2].ch_slot = NSLOTS;
}

static void
slot_negative(void)
{
	m.m_workers[2].ch_slot = -1;
}

static void
slot_taken_twice(void)
{
	m.m_workers[2].ch_slot = 0;
}

static void
nslots_not_the_region(void)
{
	m.m_nslots = NSLOTS - 1;
}

/* In a slot of its own: no other check refuses it. */
static void
kind_unknown(void)
{
	m.m_workers[2].ch_kind = CHILD_KINDS;
}

static const struct bad {
	const char	*b_what;
	void		(*b_break)(void);
} bad[] = {
	{ "a listener not open", listen_fd_closed },
	{ "a listener's descriptor negative", listen_fd_negative },
	{ "a control socket not open", ctl_fd_closed },
	{ "a worker's slot past the region's", slot_past_region },
	{ "a worker's slot negative", slot_negative },
	{ "two workers on one slot", slot_taken_twice },
	{ "a slot count the region does not have", nslots_not_the_region },
	{ "a child of no known kind", kind_unknown },
};

START_TEST(upgrade__restore_refuses)
{
	bad[_i].b_break();
	ck_assert_msg(restored() == -1, "%s: restored", bad[_i].b_what);
}
END_TEST

/* The record's bytes, changed by the test, in a memfd again. */
static int
record_redo(int fd, size_t keep, int major)
{
	struct stat	 st;
	uint8_t		*b;
	int		 nfd;

	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_ptr_nonnull(b = malloc((size_t)st.st_size));
	ck_assert_int_eq(pread(fd, b, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	if (major != 0)
		be16enc(b + PACK_MAGIC_LEN, (uint16_t)major);
	ck_assert_int_ge(nfd = memfd_create("check-upgrade", 0), 0);
	ck_assert_int_eq(write(nfd, b, keep), (ssize_t)keep);
	free(b);
	return nfd;
}

/* Cut in its last section, or of the next major version: refused. */
START_TEST(upgrade__restore_refuses_cut_or_newer)
{
	struct stat	 st;
	int		 fd;

	ck_assert_int_ge(fd = upgrade_record(&m), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	fd = record_redo(fd, (size_t)st.st_size - 1, 0);
	ck_assert_int_eq(upgrade_restore(&m2, fd), -1);
	memset(&m2, 0, sizeof(m2));
	m2.m_cfg = cfg;
	ck_assert_int_ge(fd = upgrade_record(&m), 0);
	fd = record_redo(fd, (size_t)st.st_size, 2);
	ck_assert_int_eq(upgrade_restore(&m2, fd), -1);
	memset(&m2, 0, sizeof(m2));
	m2.m_cfg = cfg;
	ck_assert_int_ge(fd = upgrade_record(&m), 0);
	fd = record_redo(fd, (size_t)st.st_size, 1);	/* the control */
	ck_assert_int_eq(upgrade_restore(&m2, fd), 0);
}
END_TEST

Suite *
upgrade_suite(void)
{
	Suite	*s = suite_create("upgrade");
	TCase	*tc;

	tc = tcase_create("record");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, upgrade__record_round_trip);
	tcase_add_test(tc, upgrade__waiting_child_comes_back_idle);
	tcase_add_loop_test(tc, upgrade__restore_refuses, 0,
	    sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, upgrade__restore_refuses_cut_or_newer);
	suite_add_tcase(s, tc);
	return s;
}
