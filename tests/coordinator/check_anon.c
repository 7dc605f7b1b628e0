/*
 * Tests for coordinator/anon.c, the upkeep of the anonymous overlays'
 * directories (state-dir/overlays/anon-KEY): what it costs follows what
 * changed, not how many directories there are.  The directories read
 * are counted through opendir (the test binary is linked with
 * --wrap=opendir) or by the index (ca_reads); time is given to
 * coord_anon_tick, or is the real clock for coord_anon_periodic.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "coordinator.h"
#include "digest.h"
#include "log.h"
#include "shmq.h"
#include "suites.h"

#define NDIRS		64
#define GROUP		"I-800000000001"

static char		 state[64];
static char		 ovl[128];
static struct coord	*c;
static int		 held[NDIRS];	/* descriptors holding a group */

DIR	*__real_opendir(const char *);
DIR	*__wrap_opendir(const char *);

static int	 counting;
static int	 nread;		/* anon-KEY directories opened */

DIR *
__wrap_opendir(const char *path)
{
	const char	*base = strrchr(path, '/');

	if (counting && base != NULL && strncmp(base + 1, "anon-", 5) == 0)
		nread++;
	return __real_opendir(path);
}

static void
anon_setup(void)
{
	log_init(1, 0);
	snprintf(state, sizeof(state), "/tmp/check_anon.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(state));
	snprintf(ovl, sizeof(ovl), "%s/overlays", state);
	ck_assert_int_eq(mkdir(ovl, 0700), 0);
	ck_assert_ptr_nonnull(c = coord_new(state, NULL, 0));
	c->c_anon.ca_retain = 60;
	memset(held, -1, sizeof(held));
	nread = 0;
	counting = 1;
}

static void
anon_teardown(void)
{
	char	 cmd[128];
	int	 i;

	counting = 0;
	for (i = 0; i < NDIRS; i++)
		if (held[i] != -1)
			close(held[i]);
	coord_free(c);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", state);
	ck_assert_int_eq(system(cmd), 0);
}

/* An anonymous directory name with a group's counter; its fd, held? */
static int
make_dir(const char *name, int hold)
{
	char		 p[256];
	struct flock	 fl;
	int		 fd;

	snprintf(p, sizeof(p), "%s/%s", ovl, name);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/%s/" GROUP ".quota", ovl, name);
	ck_assert_int_ne(fd = open(p, O_RDWR | O_CREAT, 0600), -1);
	if (!hold) {
		close(fd);
		return -1;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_RDLCK;
	fl.l_whence = SEEK_SET;
	fl.l_len = 1;
	ck_assert_int_eq(fcntl(fd, F_OFD_SETLK, &fl), 0);
	return fd;
}

static int
exists(const char *name, const char *file)
{
	char		 p[256];
	struct stat	 sb;

	snprintf(p, sizeof(p), "%s/%s/%s", ovl, name, file);
	return stat(p, &sb) == 0;
}

/* NDIRS directories, half of them held by a live session. */
static void
make_dirs(void)
{
	char	 name[64];
	int	 i;

	for (i = 0; i < NDIRS; i++) {
		snprintf(name, sizeof(name), "anon-%032x", i);
		held[i] = make_dir(name, i % 2);
	}
}

/*
 * Nothing changed: once the directories are known (their reading is
 * spread over seconds if it takes long), the upkeep two seconds later
 * reads none of them (it read every one every two seconds).
 */
START_TEST(anon__idle_upkeep_reads_no_directory)
{
	int	 i, got = 0;

	make_dirs();
	for (i = 0; i < 10; i++) {
		nread = 0;
		coord_anon_periodic(c);
		got += nread;
		if (i > 0 && nread == 0)
			break;
		usleep(1100 * 1000);
	}
	ck_assert_int_ge(got, NDIRS);
	nread = 0;
	usleep(2100 * 1000);
	coord_anon_periodic(c);
	ck_assert_int_eq(nread, 0);
}
END_TEST

/*
 * A session that ends has its directory read, that one only, a moment
 * later; its group goes once nobody held it for anonymous-retain, a
 * tombstone stays, and nothing else is read on the way.
 */
START_TEST(anon__session_end_reads_its_directory_only)
{
	struct shmq_session ss;
	struct shmq_msg	 m, rsp;
	char		 name[DIGEST_ANON_DIR_LEN + 1];

	c->c_anon.ca_retain = 5;
	c->c_anon.ca_tick_ms = 60000;
	make_dirs();
	coord_anon_tick(c, 100, 1000000);
	ck_assert_uint_eq(c->c_anon.ca_reads, NDIRS);
	memset(&ss, 0, sizeof(ss));
	snprintf(ss.ss_initiator, sizeof(ss.ss_initiator), "iqn.x:churn");
	snprintf(ss.ss_target, sizeof(ss.ss_target), "iqn.y:alpha");
	ss.ss_addr[10] = ss.ss_addr[11] = 0xff;
	ss.ss_addr[12] = 127;
	ss.ss_addr[15] = 1;
	ss.ss_byaddr = 1;
	ck_assert_int_eq(digest_anon_dir(ss.ss_initiator, ss.ss_target,
	    ss.ss_addr, name), 0);
	make_dir(name, 0);		/* written, then its session ended */
	memset(&m, 0, sizeof(m));
	ck_assert_int_eq(shmq_session_enc(&m, SHMQ_SESSION_END, &ss), 0);
	ck_assert_int_eq(coord_session_end(c, &m, &rsp), 0);
	c->c_anon.ca_reads = 0;
	coord_anon_tick(c, 101, 1000001);
	ck_assert_uint_eq(c->c_anon.ca_reads, 1);
	ck_assert(exists(name, GROUP ".quota"));
	coord_anon_tick(c, 104, 1000004);
	ck_assert_uint_eq(c->c_anon.ca_reads, 1);
	coord_anon_tick(c, 100 + 5, 1000005);	/* the unheld half's retain */
	ck_assert_uint_eq(c->c_anon.ca_reads, 1 + NDIRS / 2);
	ck_assert(!exists("anon-00000000000000000000000000000000",
	    GROUP ".quota"));
	ck_assert(exists("anon-00000000000000000000000000000001",
	    GROUP ".quota"));
	ck_assert(exists(name, GROUP ".quota"));
	coord_anon_tick(c, 101 + 5, 1000006);	/* the ended one's */
	ck_assert_uint_eq(c->c_anon.ca_reads, 1 + NDIRS / 2 + 1);
	ck_assert(!exists(name, GROUP ".quota"));
	ck_assert(exists(name, "lost"));
	c->c_anon.ca_reads = 0;
	coord_anon_tick(c, 200, 1000100);
	ck_assert_uint_eq(c->c_anon.ca_reads, 0);
}
END_TEST

/* A tombstone goes after a day, and its emptied directory with it. */
START_TEST(anon__tombstone_due_after_a_day)
{
	char	 name[64];
	time_t	 wall = time(NULL);

	c->c_anon.ca_retain = 0;
	c->c_anon.ca_tick_ms = 60000;
	snprintf(name, sizeof(name), "anon-%032x", 7);
	make_dir(name, 0);
	coord_anon_tick(c, 10, wall);
	ck_assert(exists(name, "lost"));
	c->c_anon.ca_reads = 0;
	coord_anon_tick(c, 10 + 3600, wall + 3600);
	ck_assert_uint_eq(c->c_anon.ca_reads, 0);
	coord_anon_tick(c, 10 + 24 * 3600 + 5, wall + 24 * 3600 + 5);
	ck_assert_uint_eq(c->c_anon.ca_reads, 1);
	ck_assert(!exists(name, "lost"));
	ck_assert(!exists(name, ""));
}
END_TEST

Suite *
coord_anon_suite(void)
{
	Suite	*s = suite_create("coord_anon");
	TCase	*tc = tcase_create("upkeep");

	tcase_add_checked_fixture(tc, anon_setup, anon_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, anon__idle_upkeep_reads_no_directory);
	tcase_add_test(tc, anon__session_end_reads_its_directory_only);
	tcase_add_test(tc, anon__tombstone_due_after_a_day);
	suite_add_tcase(s, tc);
	return s;
}
