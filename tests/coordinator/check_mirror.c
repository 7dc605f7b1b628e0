/*
 * Tests for coordinator/mirror.c, the coordinator's side of the shared
 * copy-on-write maps, in this process: a map file rebuilt from the runs
 * LMDB holds, a MAP_SET or MAP_CLEAR committed as the file holds the
 * blocks (not as the message says), and names that could leave
 * state-dir/overlays refused.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "coordinator.h"
#include "cowmap.h"
#include "log.h"
#include "shmq.h"
#include "suites.h"

#define MAPSIZE		((size_t)64 << 20)
#define LU		0x5000ULL
#define NBLOCKS		1000
#define NAME		"static-shared-0"

static char		 statedir[PATH_MAX];
static struct coord	*coord;
static uint8_t		*map;		/* the test's view of NAME.map */

static void
mirror_start(void)
{
	ck_assert_ptr_nonnull(coord = coord_new(statedir, NULL, 0));
	ck_assert_int_eq(store_open(&coord->c_store, statedir, MAPSIZE), 0);
	ck_assert_int_eq(coord_mirror_init(coord), 0);
}

static void
mirror_stop(void)
{
	coord_mirror_fini(coord);
	store_close(coord->c_store);
	coord_free(coord);
	coord = NULL;
}

static void
map_unmap(void)
{
	if (map != NULL)
		munmap(map - COWMAP_BITS, cowmap_file_len(NBLOCKS));
	map = NULL;
}

static void
mirror_setup(void)
{
	char	 path[PATH_MAX + 16];

	snprintf(statedir, sizeof(statedir), "/tmp/scsipub-mirror-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(statedir));
	snprintf(path, sizeof(path), "%s/overlays", statedir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	log_init(1, 0);
	mirror_start();
}

static void
mirror_teardown(void)
{
	map_unmap();
	if (coord != NULL)
		mirror_stop();
	test_rm_tree(statedir);
}

/* A coordinator restart: everything in memory forgotten. */
static void
mirror_restart(void)
{
	mirror_stop();
	mirror_start();
}

static void
map_path(char *path, size_t size)
{
	snprintf(path, size, "%s/overlays/%s.map", statedir, NAME);
}

/* NAME.map mapped as a worker maps it. */
static void
map_open(void)
{
	char		 path[PATH_MAX + 64];
	struct stat	 sb;
	void		*m;
	int		 fd;

	map_unmap();
	map_path(path, sizeof(path));
	ck_assert_int_ne(fd = open(path, O_RDWR), -1);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	ck_assert_uint_eq(sb.st_size, cowmap_file_len(NBLOCKS));
	m = mmap(NULL, cowmap_file_len(NBLOCKS), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	close(fd);
	ck_assert_ptr_ne(m, MAP_FAILED);
	map = (uint8_t *)m + COWMAP_BITS;
}

/* MAP_REGISTER as the round runs it, in a transaction of its own. */
static int
register_lu(uint64_t lu, const char *name)
{
	struct shmq_msg	 req, rsp;
	int		 rv;

	memset(&req, 0, sizeof(req));
	ck_assert_int_eq(shmq_register_enc(&req, lu, NBLOCKS, name), 0);
	ck_assert_int_eq(store_begin(coord->c_store, 1), 0);
	if ((rv = coord_map_register(coord, &req, &rsp)) == 0)
		ck_assert_int_eq(store_commit(coord->c_store), 0);
	else
		store_abort(coord->c_store);
	return rv;
}

/* MAP_SET or MAP_CLEAR of blocks, as the round commits it. */
static int
commit(uint64_t lu, uint64_t first, uint64_t count)
{
	int	 rv;

	ck_assert_int_eq(store_begin(coord->c_store, 1), 0);
	if ((rv = coord_mirror_commit(coord, lu, first, count)) == 0)
		ck_assert_int_eq(store_commit(coord->c_store), 0);
	else
		store_abort(coord->c_store);
	return rv;
}

/* 0 and the run of lu holding block, or -ENOENT. */
static int
lookup(uint64_t lu, uint64_t block, uint64_t *first, uint64_t *count)
{
	int	 rv;

	ck_assert_int_eq(store_begin(coord->c_store, 0), 0);
	rv = store_map_lookup(coord->c_store, lu, block, first, count);
	store_abort(coord->c_store);
	return rv;
}

static void
assert_run(uint64_t lu, uint64_t block, uint64_t first, uint64_t count)
{
	uint64_t	 f = 0, c = 0;

	ck_assert_int_eq(lookup(lu, block, &f, &c), 0);
	ck_assert_uint_eq(f, first);
	ck_assert_uint_eq(c, count);
}

static void
assert_unmapped(uint64_t lu, uint64_t block)
{
	uint64_t	 f, c;

	ck_assert_int_eq(lookup(lu, block, &f, &c), -ENOENT);
}

START_TEST(mirror__register_makes_the_file)
{
	char		 path[PATH_MAX + 64];
	struct stat	 sb;

	ck_assert_int_eq(register_lu(LU, NAME), 0);
	map_path(path, sizeof(path));
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_size, cowmap_file_len(NBLOCKS));
	ck_assert_int_eq(register_lu(LU, NAME), 0);	/* again: harmless */
	map_open();
	ck_assert_int_eq(cowmap_get(map, 0), 0);
	ck_assert_int_eq(cowmap_get(map, NBLOCKS - 1), 0);
}
END_TEST

START_TEST(mirror__file_rebuilt_from_lmdb)
{
	char	 path[PATH_MAX + 64];

	ck_assert_int_eq(register_lu(LU, NAME), 0);
	ck_assert_int_eq(store_begin(coord->c_store, 1), 0);
	ck_assert_int_eq(store_map_set(coord->c_store, LU, 10, 5), 0);
	ck_assert_int_eq(store_map_set(coord->c_store, LU, 20, 5), 0);
	ck_assert_int_eq(store_map_set(coord->c_store, LU | COWMAP_ZLU, 20, 2),
	    0);
	ck_assert_int_eq(store_commit(coord->c_store), 0);
	map_path(path, sizeof(path));
	ck_assert_int_eq(unlink(path), 0);		/* lost */
	mirror_restart();
	map_open();
	ck_assert_int_eq(cowmap_get(map, 9), 0);
	ck_assert_int_eq(cowmap_get(map, 10), COWMAP_M);
	ck_assert_int_eq(cowmap_get(map, 14), COWMAP_M);
	ck_assert_int_eq(cowmap_get(map, 15), 0);
	ck_assert_int_eq(cowmap_get(map, 20), COWMAP_M | COWMAP_Z);
	ck_assert_int_eq(cowmap_get(map, 21), COWMAP_M | COWMAP_Z);
	ck_assert_int_eq(cowmap_get(map, 22), COWMAP_M);
	ck_assert_int_eq(cowmap_get(map, 25), 0);
}
END_TEST

/* A bit a worker set whose MAP_SET is still queued is left alone. */
START_TEST(mirror__rebuild_only_adds_bits)
{
	ck_assert_int_eq(register_lu(LU, NAME), 0);
	map_open();
	cowmap_or(map, 500, COWMAP_M);
	ck_assert_int_eq(store_begin(coord->c_store, 1), 0);
	ck_assert_int_eq(store_map_set(coord->c_store, LU, 0, 1), 0);
	ck_assert_int_eq(store_commit(coord->c_store), 0);
	mirror_restart();
	ck_assert_int_eq(cowmap_get(map, 0), COWMAP_M);
	ck_assert_int_eq(cowmap_get(map, 500), COWMAP_M);
	assert_unmapped(LU, 500);
}
END_TEST

START_TEST(mirror__commit_takes_the_files_state)
{
	ck_assert_int_eq(register_lu(LU, NAME), 0);
	map_open();
	cowmap_put(map, 3, COWMAP_M);
	cowmap_put(map, 4, COWMAP_M);
	cowmap_put(map, 5, COWMAP_M);
	cowmap_put(map, 8, COWMAP_M | COWMAP_Z);
	/* blocks 0-9 changed: committed as the file holds them */
	ck_assert_int_eq(commit(LU, 0, 10), 0);
	assert_unmapped(LU, 2);
	assert_run(LU, 4, 3, 3);
	assert_unmapped(LU, 6);
	assert_run(LU, 8, 8, 1);
	assert_unmapped(LU | COWMAP_ZLU, 3);
	ck_assert_int_eq(commit(LU | COWMAP_ZLU, 0, 10), 0);
	assert_run(LU | COWMAP_ZLU, 8, 8, 1);
	/* the file moves on; a commit of part of it takes only that part */
	cowmap_put(map, 4, 0);
	cowmap_put(map, 9, COWMAP_M);
	ck_assert_int_eq(commit(LU, 4, 1), 0);
	assert_run(LU, 3, 3, 1);
	assert_unmapped(LU, 4);
	assert_run(LU, 5, 5, 1);
	assert_unmapped(LU, 9);
	ck_assert_int_eq(commit(LU, 9, 1), 0);
	assert_run(LU, 9, 8, 2);
}
END_TEST

START_TEST(mirror__commit_outside_the_lu_or_of_no_lu)
{
	ck_assert_int_eq(register_lu(LU, NAME), 0);
	ck_assert_int_eq(commit(LU + 1, 0, 1), -ENOENT);
	ck_assert_int_eq(commit(LU, NBLOCKS, 1), -EINVAL);
	ck_assert_int_eq(commit(LU, NBLOCKS - 1, 2), -EINVAL);
	ck_assert_int_eq(commit(LU, 0, NBLOCKS), 0);
	ck_assert_int_eq(commit(LU | COWMAP_ZLU, NBLOCKS - 1, 1), 0);
}
END_TEST

START_TEST(mirror__bad_names_refused)
{
	struct shmq_msg	 req, rsp;

	ck_assert(coord_mirror_name_ok("static-t-0", 10));
	ck_assert(coord_mirror_name_ok("a.b", 3));
	ck_assert(!coord_mirror_name_ok("", 0));
	ck_assert(!coord_mirror_name_ok(".hidden", 7));
	ck_assert(!coord_mirror_name_ok("..", 2));
	ck_assert(!coord_mirror_name_ok("a/b", 3));
	ck_assert(!coord_mirror_name_ok("ab\0c", 4));
	ck_assert_int_eq(register_lu(LU, "../escape"), -EINVAL);
	ck_assert_int_eq(register_lu(LU, ".map"), -EINVAL);
	ck_assert_int_eq(register_lu(LU, "sub/dir"), -EINVAL);
	/* a NUL inside the name, which strlen() would have cut */
	ck_assert_int_eq(shmq_register_enc(&req, LU, NBLOCKS, "abcdef"), 0);
	req.m_data[SHMQ_REGISTER_LEN + 2] = '\0';
	ck_assert_int_eq(store_begin(coord->c_store, 1), 0);
	ck_assert_int_eq(coord_map_register(coord, &req, &rsp), -EINVAL);
	store_abort(coord->c_store);
	ck_assert_int_eq(commit(LU, 0, 1), -ENOENT);	/* nothing registered */
}
END_TEST

START_TEST(mirror__forgotten_lu_not_rebuilt)
{
	char		 path[PATH_MAX + 64];
	struct stat	 sb;

	ck_assert_int_eq(register_lu(LU, "psess-00000000000000ab-0"), 0);
	ck_assert_int_eq(register_lu(LU + 1, NAME), 0);
	ck_assert_int_eq(store_begin(coord->c_store, 1), 0);
	ck_assert_int_eq(coord_mirror_forget(coord, "psess-00000000000000ab-"),
	    0);
	ck_assert_int_eq(store_commit(coord->c_store), 0);
	ck_assert_int_eq(commit(LU, 0, 1), -ENOENT);
	ck_assert_int_eq(commit(LU + 1, 0, 1), 0);
	snprintf(path, sizeof(path), "%s/overlays/%s.map", statedir,
	    "psess-00000000000000ab-0");
	ck_assert_int_eq(unlink(path), 0);
	mirror_restart();
	ck_assert_int_eq(stat(path, &sb), -1);
	ck_assert_int_eq(commit(LU, 0, 1), -ENOENT);
	ck_assert_int_eq(commit(LU + 1, 0, 1), 0);
}
END_TEST

/* Another LU's map file, mapped as a worker maps it (munmap_bits). */
static uint8_t *
map_bits(const char *name)
{
	char	 path[PATH_MAX + 64];
	void	*m;
	int	 fd;

	snprintf(path, sizeof(path), "%s/overlays/%s.map", statedir, name);
	ck_assert_int_ne(fd = open(path, O_RDWR), -1);
	m = mmap(NULL, cowmap_file_len(NBLOCKS), PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0);
	close(fd);
	ck_assert_ptr_ne(m, MAP_FAILED);
	return (uint8_t *)m + COWMAP_BITS;
}

static void
munmap_bits(uint8_t *bits)
{
	munmap(bits - COWMAP_BITS, cowmap_file_len(NBLOCKS));
}

/* Every other block of [first, first + 2 * n) deallocated: n runs. */
static void
stripe(uint8_t *bits, uint64_t first, uint64_t n)
{
	uint64_t	 i;

	for (i = 0; i < n; i++)
		cowmap_put(bits, first + 2 * i, COWMAP_M | COWMAP_Z);
}

/*
 * UNMAP of every other block makes a record per block, free of quota:
 * a session's records stop at max-map-extents (its LUs together), the
 * commit that would pass it taken back whole, another session's not.
 */
START_TEST(mirror__records_bounded_per_session)
{
	uint8_t	*other;

	coord->c_mirror.cm_max = 16;
	ck_assert_int_eq(register_lu(LU, NAME), 0);
	ck_assert_int_eq(register_lu(LU + 1, "static-shared-1"), 0);
	ck_assert_int_eq(register_lu(LU + 2, "static-other-0"), 0);
	map_open();
	stripe(map, 0, 10);
	ck_assert_int_eq(commit(LU | COWMAP_ZLU, 0, 20), 0);
	assert_run(LU | COWMAP_ZLU, 18, 18, 1);
	/* the same session's other LU: 10 more would be 20 */
	other = map_bits("static-shared-1");
	stripe(other, 0, 10);
	ck_assert_int_eq(commit((LU + 1) | COWMAP_ZLU, 0, 20), -EDQUOT);
	assert_unmapped((LU + 1) | COWMAP_ZLU, 0);
	/* what does not add records still goes: one run of five */
	cowmap_put(other, 1, COWMAP_M | COWMAP_Z);
	cowmap_put(other, 3, COWMAP_M | COWMAP_Z);
	ck_assert_int_eq(commit((LU + 1) | COWMAP_ZLU, 0, 5), 0);
	assert_run((LU + 1) | COWMAP_ZLU, 2, 0, 5);
	munmap_bits(other);
	/* another session is not touched by this one's count */
	other = map_bits("static-other-0");
	stripe(other, 0, 12);
	ck_assert_int_eq(commit((LU + 2) | COWMAP_ZLU, 0, 24), 0);
	munmap_bits(other);
	/* fewer records: allowed, and the count follows, across a restart */
	stripe(map, 1, 10);
	ck_assert_int_eq(commit(LU | COWMAP_ZLU, 0, 20), 0);
	assert_run(LU | COWMAP_ZLU, 7, 0, 20);
	mirror_restart();
	coord->c_mirror.cm_max = 16;
	other = map_bits("static-shared-1");
	stripe(other, 100, 14);
	ck_assert_int_eq(commit((LU + 1) | COWMAP_ZLU, 100, 28), 0);
	stripe(other, 200, 2);
	ck_assert_int_eq(commit((LU + 1) | COWMAP_ZLU, 200, 4), -EDQUOT);
	munmap_bits(other);
}
END_TEST

/* An environment without the counts (an older one): counted at need. */
START_TEST(mirror__records_counted_in_an_older_environment)
{
	uint8_t	 k[] = "Estatic-shared";

	ck_assert_int_eq(register_lu(LU, NAME), 0);
	map_open();
	stripe(map, 0, 10);
	ck_assert_int_eq(commit(LU | COWMAP_ZLU, 0, 20), 0);
	ck_assert_int_eq(store_begin(coord->c_store, 1), 0);
	ck_assert_int_eq(store_kv_del(coord->c_store, k, sizeof(k) - 1), 0);
	ck_assert_int_eq(store_commit(coord->c_store), 0);
	mirror_restart();
	coord->c_mirror.cm_max = 12;
	stripe(map, 100, 3);
	ck_assert_int_eq(commit(LU | COWMAP_ZLU, 100, 6), -EDQUOT);
	stripe(map, 200, 2);
	ck_assert_int_eq(commit(LU | COWMAP_ZLU, 200, 4), 0);
}
END_TEST

Suite *
coord_mirror_suite(void)
{
	Suite	*s = suite_create("coord_mirror");
	TCase	*tc;

	tc = tcase_create("maps");
	tcase_add_checked_fixture(tc, mirror_setup, mirror_teardown);
	tcase_add_test(tc, mirror__register_makes_the_file);
	tcase_add_test(tc, mirror__file_rebuilt_from_lmdb);
	tcase_add_test(tc, mirror__rebuild_only_adds_bits);
	tcase_add_test(tc, mirror__commit_takes_the_files_state);
	tcase_add_test(tc, mirror__commit_outside_the_lu_or_of_no_lu);
	tcase_add_test(tc, mirror__bad_names_refused);
	tcase_add_test(tc, mirror__forgotten_lu_not_rebuilt);
	tcase_add_test(tc, mirror__records_bounded_per_session);
	tcase_add_test(tc, mirror__records_counted_in_an_older_environment);
	suite_add_tcase(s, tc);
	return s;
}
