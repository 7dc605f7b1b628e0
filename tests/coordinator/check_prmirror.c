/*
 * Tests for coordinator/prmirror.c (and the LMDB side of ending a
 * session in coordinator/mirror.c): reservations committed from the
 * mirror into LMDB, and the mirror made to agree with LMDB at start.
 * The store and the coordinator's handlers run in this process.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "bytes.h"
#include "coordinator.h"
#include "cowmap.h"
#include "log.h"
#include "prstate.h"
#include "shmq.h"
#include "suites.h"

#define MAPSIZE		((size_t)64 << 20)
#define COPY_LEN	((sizeof(struct pr_state) + 4095) & ~(size_t)4095)
#define KEY_A		0x0a0a0a0a0a0a0a0aULL
#define KEY_B		0x0b0b0b0b0b0b0b0bULL

static char		 statedir[PATH_MAX], ovldir[PATH_MAX + 16];
static struct coord	*coord;
static struct store	*st;
static struct pr_state	 snap;

static void
prm_setup(void)
{
	snprintf(statedir, sizeof(statedir), "/tmp/scsipub-prm-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(statedir));
	snprintf(ovldir, sizeof(ovldir), "%s/overlays", statedir);
	ck_assert_int_eq(mkdir(ovldir, 0700), 0);
	log_init(1, 0);
	ck_assert_ptr_nonnull(coord = coord_new(statedir, NULL, 0));
	ck_assert_int_eq(store_open(&st, statedir, MAPSIZE), 0);
	coord->c_store = st;
	ck_assert_int_eq(coord_mirror_init(coord), 0);
	ck_assert_int_eq(coord_prmirror_init(coord), 0);
}

static void
prm_teardown(void)
{
	coord_prmirror_fini(coord);
	coord_mirror_fini(coord);
	store_close(st);
	coord_free(coord);
	test_rm_tree(statedir);
}

/* A coordinator restart: forget everything, then start again. */
static void
prm_restart(void)
{
	coord_prmirror_fini(coord);
	ck_assert_int_eq(coord_prmirror_init(coord), 0);
}

static struct pr_lu *
mirror_open(const char *name)
{
	char		 path[PATH_MAX + 300];
	struct pr_lu	*pl;

	snprintf(path, sizeof(path), "%s/%s.pr", ovldir, name);
	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	return pl;
}

/* As a worker's PERSISTENT RESERVE OUT: register key, durably. */
static void
worker_register(struct pr_lu *pl, int slot, const char *iqn, uint64_t key,
    uint32_t *epoch, uint64_t *commit)
{
	struct pr_state	*s;

	ck_assert_ptr_nonnull(s = pr_begin(pl));
	snprintf(s->ps_nexus[slot].pn_name, PR_NAME_MAX, "%s", iqn);
	s->ps_nexus[slot].pn_key = key;
	s->ps_nexus[slot].pn_flags = PN_REG;
	s->ps_generation++;
	s->ps_commit++;
	*epoch = s->ps_epoch;
	*commit = s->ps_commit;
	pr_commit(pl);
}

/* PR_COMMIT as the coordinator's round runs it: 0 or -errno. */
static int
pr_commit_req(const char *name, uint32_t epoch, uint64_t commit)
{
	struct shmq_msg	 req, rsp;
	int		 rv;

	memset(&req, 0, sizeof(req));
	memset(&rsp, 0, sizeof(rsp));
	ck_assert_int_eq(shmq_pr_enc(&req, epoch, commit, name), 0);
	ck_assert_int_eq(store_begin(st, 1), 0);
	rv = coord_pr_commit(coord, &req, &rsp);
	if (rv == 0)
		ck_assert_int_eq(store_commit(st), 0);
	else
		store_abort(st);
	return rv;
}

static void
assert_keys(const char *name, uint64_t key0, uint64_t key1, uint32_t gen)
{
	struct pr_lu	*pl = mirror_open(name);

	pr_lu_snapshot(pl, &snap);
	pr_lu_close(pl);
	ck_assert_uint_eq(snap.ps_nexus[0].pn_flags & PN_REG, key0 ? PN_REG : 0);
	ck_assert_uint_eq(snap.ps_nexus[0].pn_key, key0);
	ck_assert_uint_eq(snap.ps_nexus[1].pn_flags & PN_REG, key1 ? PN_REG : 0);
	ck_assert_uint_eq(snap.ps_nexus[1].pn_key, key1);
	ck_assert_uint_eq(snap.ps_generation, gen);
}

static void
rm_mirror(const char *name)
{
	char	 path[PATH_MAX + 300];

	snprintf(path, sizeof(path), "%s/%s.pr", ovldir, name);
	ck_assert_int_eq(unlink(path), 0);
}

/* The mirror of name with A registered and committed to LMDB. */
static struct pr_lu *
mirror_committed(const char *name)
{
	struct pr_lu	*pl = mirror_open(name);
	uint32_t	 epoch;
	uint64_t	 commit;

	worker_register(pl, 0, "iqn.2025-01.test:a", KEY_A, &epoch, &commit);
	ck_assert_int_eq(pr_commit_req(name, epoch, commit), 0);
	return pl;
}

START_TEST(prm__committed_state_rebuilds_a_lost_mirror)
{
	struct pr_lu	*pl = mirror_committed("static-t-0");

	pr_lu_close(pl);
	rm_mirror("static-t-0");
	prm_restart();
	assert_keys("static-t-0", KEY_A, 0, 1);
	ck_assert_uint_eq(snap.ps_commit, 1);
	ck_assert_uint_eq(snap.ps_epoch, 1);
	ck_assert_str_eq(snap.ps_nexus[0].pn_name, "iqn.2025-01.test:a");
}
END_TEST

START_TEST(prm__commit_against_a_rebuilt_mirror_is_stale)
{
	struct pr_lu	*pl = mirror_committed("static-t-0");
	uint32_t	 epoch;
	uint64_t	 commit;

	/* asked for a commit the mirror never reached */
	pr_lu_snapshot(pl, &snap);
	ck_assert_int_eq(pr_commit_req("static-t-0", snap.ps_epoch,
	    snap.ps_commit + 1), -ESTALE);
	pr_lu_close(pl);
	rm_mirror("static-t-0");
	pl = mirror_open("static-t-0");		/* a worker's blank mirror */
	worker_register(pl, 1, "iqn.2025-01.test:b", KEY_B, &epoch, &commit);
	prm_restart();				/* LMDB's state back */
	ck_assert_int_eq(pr_commit_req("static-t-0", epoch, commit), -ESTALE);
	pr_lu_close(pl);
	assert_keys("static-t-0", KEY_A, 0, 1);
}
END_TEST

START_TEST(prm__mirror_ahead_of_lmdb_is_committed_at_start)
{
	struct pr_lu	*pl = mirror_committed("static-t-0");
	uint32_t	 epoch;
	uint64_t	 commit;

	/* made visible, then the coordinator died before its commit */
	worker_register(pl, 1, "iqn.2025-01.test:b", KEY_B, &epoch, &commit);
	prm_restart();
	pr_lu_snapshot(pl, &snap);
	ck_assert_uint_eq(snap.ps_epoch, 0);	/* kept, not rebuilt */
	/* a PR_COMMIT still queued for it now succeeds */
	ck_assert_int_eq(pr_commit_req("static-t-0", epoch, commit), 0);
	pr_lu_close(pl);
	rm_mirror("static-t-0");
	prm_restart();
	assert_keys("static-t-0", KEY_A, KEY_B, 2);
}
END_TEST

START_TEST(prm__mirror_behind_or_torn_gets_lmdb_state)
{
	char		 path[PATH_MAX + 300];
	struct pr_lu	*pl = mirror_open("static-t-0");
	uint8_t		 junk[8192];
	uint32_t	 epoch;
	uint64_t	 commit;
	int		 fd;

	worker_register(pl, 0, "iqn.2025-01.test:a", KEY_A, &epoch, &commit);
	ck_assert_int_eq(pr_commit_req("static-t-0", epoch, commit), 0);
	worker_register(pl, 1, "iqn.2025-01.test:b", KEY_B, &epoch, &commit);
	ck_assert_int_eq(pr_commit_req("static-t-0", epoch, commit), 0);
	/* behind: an older state of the same epoch, as a lost write leaves */
	ck_assert_ptr_nonnull(pr_begin(pl));
	pl->pl_w->ps_nexus[1].pn_flags = 0;
	pl->pl_w->ps_nexus[1].pn_key = 0;
	pl->pl_w->ps_commit--;
	pr_commit(pl);
	prm_restart();
	pr_lu_snapshot(pl, &snap);
	pr_lu_close(pl);
	ck_assert_uint_eq(snap.ps_epoch, 1);
	assert_keys("static-t-0", KEY_A, KEY_B, 2);

	/* torn: both copies overwritten */
	memset(junk, 0x5a, sizeof(junk));
	snprintf(path, sizeof(path), "%s/static-t-0.pr", ovldir);
	ck_assert_int_ne(fd = open(path, O_WRONLY), -1);
	ck_assert_int_eq(pwrite(fd, junk, sizeof(junk), 4096), sizeof(junk));
	ck_assert_int_eq(pwrite(fd, junk, sizeof(junk), 4096 + COPY_LEN),
	    sizeof(junk));
	close(fd);
	prm_restart();
	assert_keys("static-t-0", KEY_A, KEY_B, 2);
}
END_TEST

START_TEST(prm__same_commit_different_state_is_rebuilt)
{
	struct pr_lu	*pl = mirror_committed("static-t-0");

	ck_assert_ptr_nonnull(pr_begin(pl));
	pl->pl_w->ps_nexus[0].pn_key = KEY_B;	/* not how it was committed */
	pr_commit(pl);
	prm_restart();
	pr_lu_close(pl);
	assert_keys("static-t-0", KEY_A, 0, 1);
}
END_TEST

START_TEST(prm__bad_requests)
{
	struct shmq_msg	 req, rsp;

	memset(&req, 0, sizeof(req));
	memset(&rsp, 0, sizeof(rsp));
	ck_assert_int_eq(shmq_pr_enc(&req, 0, 1, ""), -EMSGSIZE);
	ck_assert_int_eq(store_begin(st, 1), 0);
	ck_assert_int_eq(shmq_pr_enc(&req, 0, 1, "../escape"), 0);
	ck_assert_int_eq(coord_pr_commit(coord, &req, &rsp), -EINVAL);
	ck_assert_int_eq(shmq_pr_enc(&req, 0, 1, ".hidden"), 0);
	ck_assert_int_eq(coord_pr_commit(coord, &req, &rsp), -EINVAL);
	req.m_len = SHMQ_PR_LEN;
	ck_assert_int_eq(coord_pr_commit(coord, &req, &rsp), -EINVAL);
	req.m_len = SHMQ_PR_LEN + PR_FNAME_MAX + 1;
	memset(req.m_data + SHMQ_PR_LEN, 'a', PR_FNAME_MAX + 1);
	ck_assert_int_eq(coord_pr_commit(coord, &req, &rsp), -EINVAL);
	/* a fresh mirror is at commit 0: commit 1 was never made */
	ck_assert_int_eq(shmq_pr_enc(&req, 0, 1, "static-new-0"), 0);
	ck_assert_int_eq(coord_pr_commit(coord, &req, &rsp), -ESTALE);
	store_abort(st);
}
END_TEST

START_TEST(prm__ended_session_leaves_lmdb)
{
	struct pr_lu	*pa = mirror_open("psess-00000000000000ab-0");
	struct pr_lu	*pb = mirror_open("static-t-0");
	struct shmq_msg	 req, rsp;
	uint8_t		 key[1 + PR_FNAME_MAX], buf[64];
	const char	*name = "psess-00000000000000ab-0";
	uint64_t	 commit, f, c;
	uint32_t	 epoch;
	size_t		 vlen;

	worker_register(pa, 0, "iqn.2025-01.test:a", KEY_A, &epoch, &commit);
	ck_assert_int_eq(pr_commit_req(name, epoch, commit), 0);
	worker_register(pb, 0, "iqn.2025-01.test:a", KEY_A, &epoch, &commit);
	ck_assert_int_eq(pr_commit_req("static-t-0", epoch, commit), 0);
	pr_lu_close(pa);
	pr_lu_close(pb);

	/* its shared map registered, with a run */
	memset(&req, 0, sizeof(req));
	ck_assert_int_eq(shmq_register_enc(&req, 0x5000, 1024, name), 0);
	ck_assert_int_eq(store_begin(st, 1), 0);
	ck_assert_int_eq(coord_map_register(coord, &req, &rsp), 0);
	ck_assert_int_eq(store_map_set(st, 0x5000, 10, 5), 0);
	ck_assert_int_eq(store_map_set(st, 0x5000 | COWMAP_ZLU, 20, 5), 0);
	ck_assert_int_eq(store_commit(st), 0);

	ck_assert_int_eq(store_begin(st, 1), 0);
	ck_assert_int_eq(coord_mirror_forget(coord, "psess-00000000000000ab-"),
	    0);
	ck_assert_int_eq(coord_prmirror_forget(coord, "psess-00000000000000ab-"),
	    0);
	ck_assert_int_eq(store_commit(st), 0);

	ck_assert_int_eq(store_begin(st, 0), 0);
	key[0] = 'P';
	memcpy(key + 1, name, strlen(name));
	ck_assert_int_eq(store_kv_get(st, key, 1 + strlen(name), NULL, 0,
	    &vlen), -ENOENT);
	memcpy(key + 1, "static-t-0", 10);
	ck_assert_int_eq(store_kv_get(st, key, 11, NULL, 0, &vlen),
	    -EMSGSIZE);			/* still there */
	key[0] = 'L';
	be64enc(key + 1, 0x5000);
	ck_assert_int_eq(store_kv_get(st, key, 9, buf, sizeof(buf), &vlen),
	    -ENOENT);
	ck_assert_int_eq(store_map_lookup(st, 0x5000, 12, &f, &c), -ENOENT);
	ck_assert_int_eq(store_map_lookup(st, 0x5000 | COWMAP_ZLU, 22, &f, &c),
	    -ENOENT);
	store_abort(st);
}
END_TEST

Suite *
coord_prmirror_suite(void)
{
	Suite	*s = suite_create("coord_prmirror");
	TCase	*tc;

	tc = tcase_create("reservations");
	tcase_add_checked_fixture(tc, prm_setup, prm_teardown);
	tcase_add_test(tc, prm__committed_state_rebuilds_a_lost_mirror);
	tcase_add_test(tc, prm__commit_against_a_rebuilt_mirror_is_stale);
	tcase_add_test(tc, prm__mirror_ahead_of_lmdb_is_committed_at_start);
	tcase_add_test(tc, prm__mirror_behind_or_torn_gets_lmdb_state);
	tcase_add_test(tc, prm__same_commit_different_state_is_rebuilt);
	tcase_add_test(tc, prm__bad_requests);
	tcase_add_test(tc, prm__ended_session_leaves_lmdb);
	suite_add_tcase(s, tc);
	return s;
}
