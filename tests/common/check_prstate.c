/*
 * Tests for common/prstate.c, the mirror of a logical unit's persistent
 * reservation state: a new or broken file opens as a blank whole state,
 * a change is made in the spare copy and made current by one flip, the
 * CRC tells a whole copy from a torn one, and a state is replaced as
 * one change.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "log.h"
#include "prstate.h"
#include "suites.h"

#define HDR_LEN		4096		/* the file: header page, then */
#define COPY_LEN	((sizeof(struct pr_state) + 4095) & ~(size_t)4095)
#define FILE_LEN	(HDR_LEN + 2 * COPY_LEN)	/* two copies */
#define ACTIVE_OFF	16		/* the header's current copy, u32 */
#define KEY		0x1122334455667788ULL

static char		 dir[PATH_MAX], path[PATH_MAX + PR_FNAME_MAX + 16];
static struct pr_state	 snap;

static void
prs_setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/scsipub-prstate-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/static-t-0.pr", dir);
	log_init(1, 0);
}

static void
prs_teardown(void)
{
	test_rm_tree(dir);
}

/* Register KEY for nexus 0 and count a durable change, as PR OUT does. */
static void
prs_register(struct pr_lu *pl)
{
	struct pr_state	*s;

	ck_assert_ptr_nonnull(s = pr_begin(pl));
	snprintf(s->ps_nexus[0].pn_name, PR_NAME_MAX, "iqn.2025-01.test:a");
	s->ps_nexus[0].pn_key = KEY;
	s->ps_nexus[0].pn_flags = PN_REG;
	s->ps_generation++;
	s->ps_commit++;
	pr_commit(pl);
}

static void
file_pwrite(off_t off, const void *buf, size_t len)
{
	int	 fd;

	ck_assert_int_ne(fd = open(path, O_WRONLY), -1);
	ck_assert_int_eq(pwrite(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

static uint32_t
file_active(void)
{
	uint32_t	 a;
	int		 fd;

	ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
	ck_assert_int_eq(pread(fd, &a, sizeof(a), ACTIVE_OFF), sizeof(a));
	close(fd);
	return a;
}

START_TEST(prstate__new_file_is_a_blank_whole_state)
{
	struct pr_lu	*pl;
	struct stat	 sb;
	uint32_t	 seq;

	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	ck_assert_str_eq(pl->pl_name, "static-t-0");
	ck_assert(pr_lu_ptpl(pl));
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_size, FILE_LEN);
	ck_assert_ptr_eq(pr_current(pl, &seq), pl->pl_st[0]);
	ck_assert_uint_eq(seq & 1, 0);
	pr_lu_snapshot(pl, &snap);
	ck_assert_uint_eq(snap.ps_generation, 0);
	ck_assert_uint_eq(snap.ps_epoch, 0);
	ck_assert_uint_eq(snap.ps_commit, 0);
	ck_assert_uint_eq(snap.ps_type, 0);
	ck_assert_uint_eq(snap.ps_crc, pr_state_crc(&snap));
	ck_assert_uint_eq(snap.ps_nexus[0].pn_flags, 0);
	pr_lu_close(pl);
}
END_TEST

START_TEST(prstate__commit_flips_to_the_spare_copy)
{
	struct pr_lu	*pl, *other;
	uint32_t	 seq0, seq;

	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	ck_assert_ptr_nonnull(other = pr_lu_open(path));	/* a worker */
	pr_current(pl, &seq0);
	ck_assert_ptr_eq(pr_begin(pl), pl->pl_st[1]);	/* the spare */
	pr_abort(pl);
	prs_register(pl);
	ck_assert_ptr_eq(pr_current(pl, &seq), pl->pl_st[1]);
	ck_assert_uint_eq(seq & 1, 0);
	ck_assert_uint_gt(seq, seq0);
	ck_assert_uint_eq(file_active(), 1);
	pr_lu_snapshot(other, &snap);		/* seen at once, elsewhere */
	ck_assert_uint_eq(snap.ps_nexus[0].pn_key, KEY);
	ck_assert_uint_eq(snap.ps_generation, 1);
	ck_assert_uint_eq(snap.ps_crc, pr_state_crc(&snap));
	/* the old copy still holds the state before */
	ck_assert_uint_eq(pl->pl_st[0]->ps_nexus[0].pn_key, 0);
	prs_register(other);			/* and back to copy 0 */
	ck_assert_uint_eq(file_active(), 0);
	pr_lu_snapshot(pl, &snap);
	ck_assert_uint_eq(snap.ps_generation, 2);
	ck_assert_uint_eq(snap.ps_commit, 2);
	pr_lu_close(other);
	pr_lu_close(pl);
}
END_TEST

START_TEST(prstate__abort_leaves_the_state)
{
	struct pr_lu	*pl;
	struct pr_state	*s;

	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	prs_register(pl);
	ck_assert_ptr_nonnull(s = pr_begin(pl));
	s->ps_nexus[0].pn_key = 0;
	s->ps_generation = 99;
	pr_abort(pl);
	pr_lu_snapshot(pl, &snap);
	ck_assert_uint_eq(snap.ps_nexus[0].pn_key, KEY);
	ck_assert_uint_eq(snap.ps_generation, 1);
	ck_assert_uint_eq(file_active(), 1);
	ck_assert_ptr_nonnull(pr_begin(pl));	/* the lock was let go */
	pr_abort(pl);
	pr_lu_close(pl);
}
END_TEST

START_TEST(prstate__state_kept_across_opens)
{
	struct pr_lu	*pl;

	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	prs_register(pl);
	pr_lu_close(pl);
	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	pr_lu_snapshot(pl, &snap);
	ck_assert_uint_eq(snap.ps_nexus[0].pn_key, KEY);
	ck_assert_str_eq(snap.ps_nexus[0].pn_name, "iqn.2025-01.test:a");
	pr_lu_close(pl);
}
END_TEST

START_TEST(prstate__crc_tells_a_torn_copy)
{
	struct pr_lu	*pl;
	uint8_t		 junk[64];

	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	prs_register(pl);			/* current: copy 1 */
	pr_lu_snapshot(pl, &snap);
	ck_assert_uint_eq(snap.ps_crc, pr_state_crc(&snap));
	snap.ps_nexus[5].pn_key = 1;		/* any byte sealed */
	ck_assert_uint_ne(snap.ps_crc, pr_state_crc(&snap));
	pr_lu_close(pl);

	/* the spare torn: nothing lost */
	memset(junk, 0x5a, sizeof(junk));
	file_pwrite(HDR_LEN + 100, junk, sizeof(junk));
	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	pr_lu_snapshot(pl, &snap);
	ck_assert_uint_eq(snap.ps_nexus[0].pn_key, KEY);
	pr_lu_close(pl);

	/* the current copy torn: a blank state, for LMDB's to replace */
	file_pwrite(HDR_LEN + COPY_LEN + 100, junk, sizeof(junk));
	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	pr_lu_snapshot(pl, &snap);
	ck_assert_uint_eq(snap.ps_nexus[0].pn_key, 0);
	ck_assert_uint_eq(snap.ps_generation, 0);
	ck_assert_uint_eq(snap.ps_crc, pr_state_crc(&snap));
	pr_lu_close(pl);
}
END_TEST

START_TEST(prstate__bad_header_or_size_formats_anew)
{
	struct pr_lu	*pl;
	uint32_t	 two = 2;
	int		 fd;

	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	prs_register(pl);
	pr_lu_close(pl);
	file_pwrite(0, "notapr!!", 8);			/* magic */
	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	pr_lu_snapshot(pl, &snap);
	ck_assert_uint_eq(snap.ps_nexus[0].pn_key, 0);
	prs_register(pl);
	pr_lu_close(pl);
	file_pwrite(ACTIVE_OFF, &two, sizeof(two));	/* no copy 2 */
	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	pr_lu_snapshot(pl, &snap);
	ck_assert_uint_eq(snap.ps_nexus[0].pn_key, 0);
	pr_lu_close(pl);
	ck_assert_int_ne(fd = open(path, O_WRONLY | O_TRUNC), -1);
	ck_assert_int_eq(write(fd, "short", 5), 5);
	close(fd);
	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	pr_lu_snapshot(pl, &snap);
	ck_assert_uint_eq(snap.ps_crc, pr_state_crc(&snap));
	ck_assert_uint_eq(snap.ps_generation, 0);
	pr_lu_close(pl);
}
END_TEST

START_TEST(prstate__replace_and_compare)
{
	static struct pr_state want, other;
	struct pr_lu	*pl;

	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	memset(&want, 0, sizeof(want));
	want.ps_generation = 7;
	want.ps_epoch = 3;
	want.ps_commit = 12;
	want.ps_type = 5;
	want.ps_holder = 0;
	want.ps_nexus[2].pn_key = KEY;
	want.ps_nexus[2].pn_flags = PN_REG;
	snprintf(want.ps_nexus[2].pn_name, PR_NAME_MAX, "iqn.x");
	ck_assert_int_eq(pr_lu_replace(pl, &want), 0);
	pr_lu_snapshot(pl, &snap);
	ck_assert_uint_eq(snap.ps_epoch, 3);
	ck_assert_uint_eq(snap.ps_commit, 12);
	ck_assert_uint_eq(snap.ps_crc, pr_state_crc(&snap));
	ck_assert(pr_state_same(&snap, &want));
	other = want;
	other.ps_nexus[2].pn_ua = 0xff;		/* attentions: not durable */
	other.ps_r6 = 1;			/* nor RESERVE(6) */
	ck_assert(pr_state_same(&other, &want));
	other.ps_nexus[2].pn_key = KEY + 1;
	ck_assert(!pr_state_same(&other, &want));
	other = want;
	other.ps_generation++;
	ck_assert(!pr_state_same(&other, &want));
	other = want;
	other.ps_nexus[3].pn_flags = PN_REG;	/* one more registrant */
	ck_assert(!pr_state_same(&other, &want));
	pr_lu_close(pl);
}
END_TEST

START_TEST(prstate__anonymous_and_long_names)
{
	char		 name[PR_FNAME_MAX + 8];
	struct pr_lu	*pl;

	ck_assert_ptr_nonnull(pl = pr_lu_anon());
	ck_assert(!pr_lu_ptpl(pl));
	prs_register(pl);
	pr_lu_snapshot(pl, &snap);
	ck_assert_uint_eq(snap.ps_nexus[0].pn_key, KEY);
	pr_lu_close(pl);
	memset(name, 'n', PR_FNAME_MAX + 1);
	snprintf(path, sizeof(path), "%s/%.*s.pr", dir, PR_FNAME_MAX + 1,
	    name);
	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	ck_assert_str_eq(pl->pl_name, "");	/* the coordinator could not */
	pr_lu_close(pl);
	snprintf(path, sizeof(path), "%s/%.*s.pr", dir, PR_FNAME_MAX, name);
	ck_assert_ptr_nonnull(pl = pr_lu_open(path));
	ck_assert_uint_eq(strlen(pl->pl_name), PR_FNAME_MAX);
	pr_lu_close(pl);
}
END_TEST

Suite *
prstate_suite(void)
{
	Suite	*s = suite_create("prstate");
	TCase	*tc;

	tc = tcase_create("mirror");
	tcase_add_checked_fixture(tc, prs_setup, prs_teardown);
	tcase_add_test(tc, prstate__new_file_is_a_blank_whole_state);
	tcase_add_test(tc, prstate__commit_flips_to_the_spare_copy);
	tcase_add_test(tc, prstate__abort_leaves_the_state);
	tcase_add_test(tc, prstate__state_kept_across_opens);
	tcase_add_test(tc, prstate__crc_tells_a_torn_copy);
	tcase_add_test(tc, prstate__bad_header_or_size_formats_anew);
	tcase_add_test(tc, prstate__replace_and_compare);
	tcase_add_test(tc, prstate__anonymous_and_long_names);
	suite_add_tcase(s, tc);
	return s;
}
