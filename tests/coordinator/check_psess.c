/*
 * Tests for coordinator/psess.c: provisioned sessions through a real
 * forked coordinator, the test playing a worker on slot 0 and reading
 * the mirror as a worker does.
 */
#include <sys/types.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "coordinator.h"
#include "config.h"
#include "log.h"
#include "proc.h"
#include "psess.h"
#include "shmq.h"
#include "suites.h"
#include "tcoord.h"

#define NSLOTS		2
#define MAPSIZE		((size_t)64 << 20)
#define TIMEOUT_MS	10000

static char			 statedir[PATH_MAX];
static struct shmq_region	*rg;
static pid_t			 coord_pid;
static struct psess_mirror	*mirror;
static struct psess_ment	 ent;
static uint64_t			 next_id = 1;

static void
cp_start(void)
{
	char	 path[PATH_MAX + 64];
	int	 i;

	coord_pid = tcoord_fork(statedir, rg, MAPSIZE);
	snprintf(path, sizeof(path), "%s/%s", statedir, PSESS_MIRROR_FILE);
	for (i = 0; mirror == NULL && i < TIMEOUT_MS; i++) {
		if ((mirror = psess_mirror_open(path, 0)) == NULL)
			usleep(1000);
	}
	ck_assert_ptr_nonnull(mirror);
}

static void
cp_stop(int sig)
{
	tcoord_stop(&coord_pid, sig);
}

static void
cp_setup(void)
{
	char	 path[PATH_MAX + 16];

	snprintf(statedir, sizeof(statedir), "/tmp/scsipub-cpsess-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(statedir));
	snprintf(path, sizeof(path), "%s/overlays", statedir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	log_init(1, 0);
	rg = shmq_region_create(NSLOTS);
	ck_assert_ptr_nonnull(rg);
	shmq_slot_claim(rg, 0, getpid());
	mirror = NULL;
	cp_start();
}

static void
cp_teardown(void)
{
	cp_stop(SIGTERM);
	psess_mirror_close(mirror);
	mirror = NULL;
	shmq_region_destroy(rg);
	test_rm_tree(statedir);
}

static uint32_t
call(struct shmq_msg *req)
{
	struct pollfd	 pfd = { shmq_worker_fd(rg, 0), POLLIN, 0 };
	struct shmq_msg	 rsp;

	req->m_id = next_id++;
	ck_assert_int_eq(shmq_request_push(rg, 0, req), 0);
	shmq_doorbell_ring(rg);
	for (;;) {
		shmq_worker_clear(rg, 0);
		/* every message the ring holds (a COORD_HELLO among them) */
		while (shmq_response_pop(rg, 0, &rsp) == 1)
			if (rsp.m_id == req->m_id)
				return rsp.m_status;
		ck_assert_msg(poll(&pfd, 1, TIMEOUT_MS) == 1, "no answer");
	}
}

static uint32_t	 create_flags;	/* more PSESS_F_* for sess_create */

static uint64_t
sess_create(uint64_t id, uint64_t owner, uint64_t ttl, int persistent,
    int nluns, const struct psess_limits *pl, uint32_t *status)
{
	static struct psess_rec	 r;
	struct psess_limits	 none = { 0, 0, 0 };
	struct shmq_msg		 m;
	int			 lun = 0, i;

	memset(&r, 0, sizeof(r));
	r.ps_id = id;
	r.ps_owner = owner;
	r.ps_created = (uint64_t)time(NULL);
	r.ps_ttl = ttl;
	r.ps_flags = (persistent ? PSESS_F_PERSISTENT : 0) | create_flags;
	r.ps_nluns = (uint16_t)nluns;
	snprintf(r.ps_tier, sizeof(r.ps_tier), "t");
	snprintf(r.ps_iqn, sizeof(r.ps_iqn), "p-%016llx",
	    (unsigned long long)id);
	for (i = 0; i < nluns; i++)
		snprintf(r.ps_images[i], CFG_NAME_MAX, "image-%d", i);
	while (lun < nluns) {
		lun = psess_msg_luns(&m, &r, lun);
		ck_assert_uint_eq(call(&m), 0);
	}
	psess_msg_create(&m, &r, pl != NULL ? pl : &none);
	*status = call(&m);
	return id;
}

static void
create_ok(uint64_t id, uint64_t ttl, int persistent)
{
	uint32_t	 st;

	sess_create(id, 1, ttl, persistent, 2, NULL, &st);
	ck_assert_uint_eq(st, 0);
}

static uint32_t
touch(uint64_t id, uint64_t conn, int start)
{
	struct psess_touch	 t;
	struct shmq_msg		 m;

	memset(&t, 0, sizeof(t));
	t.pt_id = id;
	t.pt_start = start;
	t.pt_conn.pc_conn = conn;
	t.pt_conn.pc_slot = 0;
	snprintf(t.pt_conn.pc_peer, sizeof(t.pt_conn.pc_peer), "127.0.0.1:1");
	snprintf(t.pt_conn.pc_initiator, sizeof(t.pt_conn.pc_initiator),
	    "iqn.test:ini");
	psess_msg_touch(&m, &t);
	return call(&m);
}

/* The connection from, handed over live, now called conn. */
static uint32_t
touch_moved(uint64_t id, uint64_t from, uint64_t conn)
{
	struct psess_touch	 t;
	struct shmq_msg		 m;

	memset(&t, 0, sizeof(t));
	t.pt_id = id;
	t.pt_start = 1;
	t.pt_from = from;
	t.pt_conn.pc_conn = conn;
	t.pt_conn.pc_slot = 0;
	snprintf(t.pt_conn.pc_initiator, sizeof(t.pt_conn.pc_initiator),
	    "iqn.test:moved");
	psess_msg_touch(&m, &t);
	return call(&m);
}

static uint64_t
live_conn(int n)
{
	return (uint64_t)getpid() << 32 | (uint64_t)n;
}

static int
find(uint64_t id)
{
	return psess_mirror_find(mirror, id, NULL, &ent);
}

/* Wait (the coordinator's periodic work) until id is gone or timeout. */
static int
gone_within(uint64_t id, int ms)
{
	int	 i;

	for (i = 0; i < ms / 10; i++) {
		if (find(id) == -1)
			return 1;
		usleep(10000);
	}
	return find(id) == -1;
}

static void
make_file(uint64_t id, const char *suffix)
{
	char	 path[PATH_MAX + 64], ids[PSESS_IDSTR];
	int	 fd;

	psess_id_fmt(id, ids);
	snprintf(path, sizeof(path), "%s/overlays/psess-%s%s", statedir, ids,
	    suffix);
	ck_assert_int_ne(fd = open(path, O_CREAT | O_WRONLY, 0600), -1);
	close(fd);
}

static int
file_exists(uint64_t id, const char *suffix)
{
	char	 path[PATH_MAX + 64], ids[PSESS_IDSTR];

	psess_id_fmt(id, ids);
	snprintf(path, sizeof(path), "%s/overlays/psess-%s%s", statedir, ids,
	    suffix);
	return access(path, F_OK) == 0;
}

START_TEST(cpsess__create_publishes_in_the_mirror)
{
	create_ok(0x1111, 3600, 1);
	ck_assert_int_ge(find(0x1111), 0);
	ck_assert_uint_eq(ent.me_rec.ps_nluns, 2);
	ck_assert_str_eq(ent.me_rec.ps_images[1], "image-1");
	ck_assert_int_eq(psess_state(&ent.me_rec, ent.me_nconns),
	    PSESS_WAITING);
	ck_assert_int_ge(psess_mirror_find(mirror, 0, "P-0000000000001111",
	    &ent), 0);
	/* A CREATE repeated (a restarted coordinator) changes nothing. */
	create_ok(0x1111, 3600, 1);
}
END_TEST

START_TEST(cpsess__create_needs_its_luns)
{
	struct psess_limits	 pl = { 0, 0, 0 };
	struct psess_rec	 r;
	struct shmq_msg		 m;

	memset(&r, 0, sizeof(r));
	r.ps_id = 0x2222;
	r.ps_nluns = 3;
	psess_msg_create(&m, &r, &pl);
	ck_assert_uint_eq(call(&m), ENOENT);
	ck_assert_int_eq(find(0x2222), -1);
}
END_TEST

START_TEST(cpsess__sessions_per_owner_and_rate)
{
	struct psess_limits	 quota = { 2, 0, 0 }, rate = { 0, 2, 0 };
	uint32_t		 st;

	sess_create(0x31, 7, 60, 1, 1, &quota, &st);
	ck_assert_uint_eq(st, 0);
	sess_create(0x32, 7, 60, 1, 1, &quota, &st);
	ck_assert_uint_eq(st, 0);
	sess_create(0x33, 7, 60, 1, 1, &quota, &st);
	ck_assert_uint_eq(st, EDQUOT);
	sess_create(0x34, 8, 60, 1, 1, &quota, &st);	/* another owner */
	ck_assert_uint_eq(st, 0);
	sess_create(0x41, 9, 60, 1, 1, &rate, &st);
	ck_assert_uint_eq(st, 0);
	sess_create(0x42, 9, 60, 1, 1, &rate, &st);
	ck_assert_uint_eq(st, 0);
	sess_create(0x43, 9, 60, 1, 1, &rate, &st);
	ck_assert_uint_eq(st, EBUSY);
	ck_assert_int_eq(find(0x33), -1);
	ck_assert_int_eq(find(0x43), -1);
}
END_TEST

/* Anonymous sessions stop at pl_anon_max in all; token holders do not. */
START_TEST(cpsess__anonymous_sessions_capped_in_all)
{
	struct psess_limits	 pl = { 0, 0, 2 };
	uint32_t		 st;

	create_flags = PSESS_F_ANON;
	sess_create(0x35, 11, 60, 0, 1, &pl, &st);
	ck_assert_uint_eq(st, 0);
	sess_create(0x36, 12, 60, 0, 1, &pl, &st);	/* another address */
	ck_assert_uint_eq(st, 0);
	sess_create(0x37, 13, 60, 0, 1, &pl, &st);
	ck_assert_uint_eq(st, EMLINK);
	create_flags = 0;
	sess_create(0x38, 14, 60, 0, 1, &pl, &st);	/* a token's */
	ck_assert_uint_eq(st, 0);
	ck_assert_int_eq(find(0x37), -1);
	ck_assert_int_ne(find(0x38), -1);
}
END_TEST

START_TEST(cpsess__non_persistent_ends_with_its_last_connection)
{
	create_ok(0x51, 3600, 0);
	make_file(0x51, "-0.ovl");
	make_file(0x51, "-0.pr");
	make_file(0x51, ".quota");
	make_file(0x510, "-0.ovl");	/* another session's, with a prefix */
	ck_assert_uint_eq(touch(0x51, live_conn(1), 1), 0);
	ck_assert_uint_eq(touch(0x51, live_conn(2), 1), 0);
	ck_assert_uint_eq(touch(0x51, live_conn(2), 1), 0);	/* repeated */
	ck_assert_int_ge(find(0x51), 0);
	ck_assert_uint_eq(ent.me_nconns, 2);
	ck_assert_str_eq(ent.me_conns[0].pc_initiator, "iqn.test:ini");
	ck_assert_uint_eq(touch(0x51, live_conn(1), 0), 0);
	ck_assert_int_ge(find(0x51), 0);
	ck_assert_int_eq(psess_state(&ent.me_rec, ent.me_nconns),
	    PSESS_ACTIVE);
	ck_assert_uint_eq(touch(0x51, live_conn(2), 0), 0);
	ck_assert_int_eq(find(0x51), -1);
	ck_assert(!file_exists(0x51, "-0.ovl"));
	ck_assert(!file_exists(0x51, "-0.pr"));
	ck_assert(!file_exists(0x51, ".quota"));
	ck_assert(file_exists(0x510, "-0.ovl"));
	/* A late login to it is refused. */
	ck_assert_uint_eq(touch(0x51, live_conn(3), 1), ENOENT);
}
END_TEST

/*
 * A hand-over is not a connection end: the entry takes the new id, the
 * count stays, and the session ends only when that connection closes.
 */
START_TEST(cpsess__a_moved_connection_keeps_the_session)
{
	uint64_t	 since;

	create_ok(0x55, 3600, 0);
	ck_assert_uint_eq(touch(0x55, live_conn(1), 1), 0);
	ck_assert_int_ge(find(0x55), 0);
	since = ent.me_conns[0].pc_since;
	ck_assert_uint_eq(touch_moved(0x55, live_conn(1), live_conn(2)), 0);
	ck_assert_uint_eq(touch_moved(0x55, live_conn(1), live_conn(2)), 0);
	ck_assert_int_ge(find(0x55), 0);
	ck_assert_uint_eq(ent.me_nconns, 1);
	ck_assert_uint_eq(ent.me_conns[0].pc_conn, live_conn(2));
	ck_assert_uint_eq(ent.me_conns[0].pc_since, since);
	ck_assert_str_eq(ent.me_conns[0].pc_initiator, "iqn.test:moved");
	/* the old id is no longer one of its connections */
	ck_assert_uint_eq(touch(0x55, live_conn(1), 0), 0);
	ck_assert_int_ge(find(0x55), 0);
	ck_assert_uint_eq(ent.me_nconns, 1);
	/* a move whose old entry is unknown (pruned) counts it once */
	ck_assert_uint_eq(touch_moved(0x55, live_conn(7), live_conn(3)), 0);
	ck_assert_int_ge(find(0x55), 0);
	ck_assert_uint_eq(ent.me_nconns, 2);
	ck_assert_uint_eq(touch(0x55, live_conn(3), 0), 0);
	ck_assert_uint_eq(touch(0x55, live_conn(2), 0), 0);
	ck_assert_int_eq(find(0x55), -1);
}
END_TEST

START_TEST(cpsess__persistent_suspends_and_survives_restart)
{
	create_ok(0x61, 3600, 1);
	ck_assert_uint_eq(touch(0x61, live_conn(1), 1), 0);
	ck_assert_uint_eq(touch(0x61, live_conn(1), 0), 0);
	ck_assert_int_ge(find(0x61), 0);
	ck_assert_int_eq(psess_state(&ent.me_rec, ent.me_nconns),
	    PSESS_SUSPENDED);
	ck_assert_uint_ne(ent.me_rec.ps_idle, 0);
	cp_stop(SIGKILL);
	psess_mirror_close(mirror);
	mirror = NULL;
	/* Even a mirror lost with it is rebuilt from LMDB. */
	{
		char path[PATH_MAX + 64];

		snprintf(path, sizeof(path), "%s/%s", statedir,
		    PSESS_MIRROR_FILE);
		unlink(path);
	}
	cp_start();
	ck_assert_int_ge(find(0x61), 0);
	ck_assert_int_eq(psess_state(&ent.me_rec, ent.me_nconns),
	    PSESS_SUSPENDED);
}
END_TEST

START_TEST(cpsess__connections_survive_a_coordinator_restart)
{
	create_ok(0x71, 3600, 0);
	ck_assert_uint_eq(touch(0x71, live_conn(1), 1), 0);
	cp_stop(SIGKILL);
	cp_start();
	ck_assert_int_ge(find(0x71), 0);
	ck_assert_uint_eq(ent.me_nconns, 1);
	ck_assert_uint_eq(touch(0x71, live_conn(1), 0), 0);
	ck_assert_int_eq(find(0x71), -1);
}
END_TEST

START_TEST(cpsess__dead_workers_connections_are_dropped)
{
	/* Connections of a process that does not own slot 0. */
	create_ok(0x81, 2, 0);
	ck_assert_uint_eq(touch(0x81, (uint64_t)1 << 32 | 9, 1), 0);
	/* Pruned, but given a grace (its TTL, 2 s, here) to come back. */
	usleep(1500000);
	ck_assert_int_ge(find(0x81), 0);
	ck_assert_uint_eq(ent.me_nconns, 0);
	ck_assert(gone_within(0x81, 4000));
	/* One that comes back in time keeps it. */
	create_ok(0x82, 3, 0);
	ck_assert_uint_eq(touch(0x82, (uint64_t)1 << 32 | 9, 1), 0);
	usleep(1500000);
	ck_assert_uint_eq(touch(0x82, live_conn(1), 1), 0);
	sleep(3);
	ck_assert_int_ge(find(0x82), 0);
	ck_assert_uint_eq(ent.me_nconns, 1);
	/* A persistent one is suspended. */
	create_ok(0x83, 3600, 1);
	ck_assert_uint_eq(touch(0x83, (uint64_t)1 << 32 | 9, 1), 0);
	usleep(2500000);
	ck_assert_int_ge(find(0x83), 0);
	ck_assert_int_eq(psess_state(&ent.me_rec, ent.me_nconns),
	    PSESS_SUSPENDED);
}
END_TEST

START_TEST(cpsess__delete_and_expiry)
{
	struct shmq_msg	 m;

	create_ok(0x91, 3600, 1);
	make_file(0x91, "-1.map");
	ck_assert_uint_eq(touch(0x91, live_conn(1), 1), 0);
	psess_msg_id(&m, SHMQ_PSESS_DELETE, 0x91);
	ck_assert_uint_eq(call(&m), 0);
	ck_assert_int_eq(find(0x91), -1);
	ck_assert(!file_exists(0x91, "-1.map"));
	psess_msg_id(&m, SHMQ_PSESS_DELETE, 0x91);
	ck_assert_uint_eq(call(&m), 0);		/* already gone: fine */
	/* Nobody logs in: it expires after its TTL. */
	create_ok(0x92, 1, 1);
	ck_assert_int_ge(find(0x92), 0);
	ck_assert(gone_within(0x92, 4000));
	/* Connected: it does not expire. */
	create_ok(0x93, 1, 1);
	ck_assert_uint_eq(touch(0x93, live_conn(1), 1), 0);
	sleep(2);
	ck_assert_int_ge(find(0x93), 0);
}
END_TEST

Suite *
coord_psess_suite(void)
{
	Suite	*s = suite_create("coord_psess");
	TCase	*tc;

	tc = tcase_create("sessions");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, cp_setup, cp_teardown);
	tcase_add_test(tc, cpsess__create_publishes_in_the_mirror);
	tcase_add_test(tc, cpsess__create_needs_its_luns);
	tcase_add_test(tc, cpsess__sessions_per_owner_and_rate);
	tcase_add_test(tc, cpsess__anonymous_sessions_capped_in_all);
	tcase_add_test(tc, cpsess__non_persistent_ends_with_its_last_connection);
	tcase_add_test(tc, cpsess__a_moved_connection_keeps_the_session);
	tcase_add_test(tc, cpsess__persistent_suspends_and_survives_restart);
	tcase_add_test(tc, cpsess__connections_survive_a_coordinator_restart);
	tcase_add_test(tc, cpsess__dead_workers_connections_are_dropped);
	tcase_add_test(tc, cpsess__delete_and_expiry);
	suite_add_tcase(s, tc);
	return s;
}
