/*
 * Tests for coordinator/store.c, the one LMDB wrapper, in this process:
 * runs of blocks merged and split, lookups, the walks, KV and session
 * records, and a full map reported as -ENOSPC without losing what was
 * committed.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "coordinator.h"
#include "log.h"
#include "suites.h"

#define MAPSIZE		((size_t)64 << 20)
#define SMALLMAP	((size_t)256 << 10)

static char		 statedir[PATH_MAX];
static struct store	*st;

static void
store_setup(void)
{
	snprintf(statedir, sizeof(statedir), "/tmp/scsipub-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(statedir));
	log_init(1, 0);
	ck_assert_int_eq(store_open(&st, statedir, MAPSIZE), 0);
	ck_assert_int_eq(store_begin(st, 1), 0);
}

static void
store_teardown(void)
{
	store_close(st);
	st = NULL;
	test_rm_tree(statedir);
}

static void
store_assert_run(uint64_t lu, uint64_t block, uint64_t first, uint64_t count)
{
	uint64_t	 f = 0, c = 0;

	ck_assert_int_eq(store_map_lookup(st, lu, block, &f, &c), 0);
	ck_assert_uint_eq(f, first);
	ck_assert_uint_eq(c, count);
}

static void
store_assert_unmapped(uint64_t lu, uint64_t block)
{
	uint64_t	 f, c;

	ck_assert_int_eq(store_map_lookup(st, lu, block, &f, &c), -ENOENT);
}

/* The runs of an lu, as store_map_foreach() walks them. */
struct runs {
	uint64_t	 r_v[32][2];
	int		 r_n;
	int		 r_stop;	/* stop after this many (0: never) */
};

static int
runs_one(void *arg, uint64_t first, uint64_t count)
{
	struct runs	*r = arg;

	ck_assert_int_lt(r->r_n, 32);
	r->r_v[r->r_n][0] = first;
	r->r_v[r->r_n][1] = count;
	if (++r->r_n == r->r_stop)
		return 42;
	return 0;
}

static void
runs_of(uint64_t lu, struct runs *r, int stop)
{
	memset(r, 0, sizeof(*r));
	r->r_stop = stop;
	ck_assert_int_eq(store_map_foreach(st, lu, runs_one, r),
	    stop != 0 && r->r_n == stop ? 42 : 0);
}

START_TEST(store__runs_merge_and_split)
{
	struct runs	 r;

	ck_assert_int_eq(store_map_set(st, 1, 0, 10), 0);
	ck_assert_int_eq(store_map_set(st, 1, 10, 5), 0);	/* touching */
	store_assert_run(1, 3, 0, 15);
	ck_assert_int_eq(store_map_set(st, 1, 20, 5), 0);
	store_assert_unmapped(1, 17);
	ck_assert_int_eq(store_map_set(st, 1, 12, 10), 0);	/* bridging */
	store_assert_run(1, 24, 0, 25);
	ck_assert_int_eq(store_map_clear(st, 1, 5, 2), 0);	/* a hole */
	store_assert_run(1, 4, 0, 5);
	store_assert_unmapped(1, 5);
	store_assert_unmapped(1, 6);
	store_assert_run(1, 7, 7, 18);
	ck_assert_int_eq(store_map_clear(st, 1, 3, 10), 0);	/* across */
	runs_of(1, &r, 0);
	ck_assert_int_eq(r.r_n, 2);
	ck_assert_uint_eq(r.r_v[0][0], 0);
	ck_assert_uint_eq(r.r_v[0][1], 3);
	ck_assert_uint_eq(r.r_v[1][0], 13);
	ck_assert_uint_eq(r.r_v[1][1], 12);
	ck_assert_int_eq(store_map_clear(st, 1, 0, 100), 0);
	runs_of(1, &r, 0);
	ck_assert_int_eq(r.r_n, 0);
	ck_assert_int_eq(store_map_clear(st, 1, 0, 100), 0);	/* nothing */
	ck_assert_int_eq(store_failed(st), 0);
}
END_TEST

START_TEST(store__set_inside_a_run_and_clear_its_ends)
{
	ck_assert_int_eq(store_map_set(st, 4, 100, 50), 0);
	ck_assert_int_eq(store_map_set(st, 4, 110, 5), 0);	/* inside */
	store_assert_run(4, 149, 100, 50);
	ck_assert_int_eq(store_map_clear(st, 4, 100, 1), 0);	/* its head */
	store_assert_unmapped(4, 100);
	store_assert_run(4, 101, 101, 49);
	ck_assert_int_eq(store_map_clear(st, 4, 149, 10), 0);	/* its tail */
	store_assert_unmapped(4, 149);
	store_assert_run(4, 148, 101, 48);
	ck_assert_int_eq(store_map_clear(st, 4, 120, 1), 0);	/* its middle */
	store_assert_run(4, 119, 101, 19);
	store_assert_run(4, 121, 121, 28);
}
END_TEST

START_TEST(store__bad_ranges_refused)
{
	ck_assert_int_eq(store_map_set(st, 3, 5, 0), -EINVAL);
	ck_assert_int_eq(store_map_clear(st, 3, 5, 0), -EINVAL);
	ck_assert_int_eq(store_map_set(st, 3, UINT64_MAX, 2), -EINVAL);
	ck_assert_int_eq(store_map_clear(st, 3, UINT64_MAX - 1, 3), -EINVAL);
	store_assert_unmapped(3, 5);
	ck_assert_int_eq(store_failed(st), 0);
}
END_TEST

START_TEST(store__foreach_walks_one_lu_in_order_and_stops)
{
	struct runs	 r;
	int		 i;

	for (i = 9; i >= 0; i--)
		ck_assert_int_eq(store_map_set(st, 7, 10 * (uint64_t)i, 2), 0);
	ck_assert_int_eq(store_map_set(st, 6, 0, 1000), 0);
	ck_assert_int_eq(store_map_set(st, 8, 0, 1000), 0);
	runs_of(7, &r, 0);
	ck_assert_int_eq(r.r_n, 10);
	for (i = 0; i < 10; i++) {
		ck_assert_uint_eq(r.r_v[i][0], 10 * (uint64_t)i);
		ck_assert_uint_eq(r.r_v[i][1], 2);
	}
	runs_of(7, &r, 3);
	ck_assert_int_eq(r.r_n, 3);
	runs_of(5, &r, 0);
	ck_assert_int_eq(r.r_n, 0);
}
END_TEST

/* The KV entries under a prefix, as store_kv_foreach() walks them. */
struct kvs {
	char		 k_keys[8][16];
	int		 k_n;
};

static int
kvs_one(void *arg, const uint8_t *k, size_t klen, const uint8_t *v,
    size_t vlen)
{
	struct kvs	*kv = arg;

	ck_assert_int_lt(kv->k_n, 8);
	ck_assert_uint_lt(klen, 16);
	ck_assert_uint_eq(vlen, 1);
	ck_assert_uint_eq(v[0], k[klen - 1]);
	memcpy(kv->k_keys[kv->k_n], k, klen);
	kv->k_keys[kv->k_n++][klen] = '\0';
	return 0;
}

START_TEST(store__kv_foreach_by_prefix)
{
	static const char *const keys[] = { "b1", "a2", "a1", "ab", "c" };
	struct kvs	 kv;
	size_t		 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_int_eq(store_kv_put(st, keys[i], strlen(keys[i]),
		    keys[i] + strlen(keys[i]) - 1, 1), 0);
	memset(&kv, 0, sizeof(kv));
	ck_assert_int_eq(store_kv_foreach(st, "a", 1, kvs_one, &kv), 0);
	ck_assert_int_eq(kv.k_n, 3);
	ck_assert_str_eq(kv.k_keys[0], "a1");		/* byte order */
	ck_assert_str_eq(kv.k_keys[1], "a2");
	ck_assert_str_eq(kv.k_keys[2], "ab");
	memset(&kv, 0, sizeof(kv));
	ck_assert_int_eq(store_kv_foreach(st, "z", 1, kvs_one, &kv), 0);
	ck_assert_int_eq(kv.k_n, 0);
}
END_TEST

static int
psess_one(uint64_t id, const void *v, size_t len, void *arg)
{
	uint64_t	*ids = arg;

	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(v, "rec", 3);
	ids[ids[0] + 1] = id;
	ids[0]++;
	return 0;
}

START_TEST(store__psess_records)
{
	uint64_t	 ids[4] = { 0 };
	char		 buf[8];
	size_t		 len;

	ck_assert_int_eq(store_psess_put(st, 0x300, "rec", 3), 0);
	ck_assert_int_eq(store_psess_put(st, 0x2, "rec", 3), 0);
	ck_assert_int_eq(store_psess_get(st, 0x2, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_int_eq(store_psess_get(st, 0x2, buf, 2, &len), -EMSGSIZE);
	ck_assert_int_eq(store_psess_get(st, 0x7, buf, sizeof(buf), &len),
	    -ENOENT);
	ck_assert_int_eq(store_psess_foreach(st, psess_one, ids), 0);
	ck_assert_uint_eq(ids[0], 2);
	ck_assert_uint_eq(ids[1], 0x2);			/* id order */
	ck_assert_uint_eq(ids[2], 0x300);
	ck_assert_int_eq(store_psess_del(st, 0x2), 0);
	ck_assert_int_eq(store_psess_del(st, 0x2), -ENOENT);
	ck_assert_int_eq(store_failed(st), 0);
}
END_TEST

START_TEST(store__abort_forgets_and_commit_keeps)
{
	char	 buf[8];
	size_t	 len;

	ck_assert_int_eq(store_map_set(st, 2, 0, 4), 0);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_begin(st, 1), 0);
	ck_assert_int_eq(store_map_set(st, 2, 100, 4), 0);
	ck_assert_int_eq(store_kv_put(st, "k", 1, "v", 1), 0);
	store_abort(st);
	ck_assert_int_eq(store_begin(st, 0), 0);
	store_assert_run(2, 3, 0, 4);
	store_assert_unmapped(2, 100);
	ck_assert_int_eq(store_kv_del(st, "k", 1), -EACCES);	/* read-only */
	store_abort(st);
	ck_assert_int_eq(store_begin(st, 1), 0);
	ck_assert_int_eq(store_kv_get(st, "k", 1, buf, sizeof(buf), &len),
	    -ENOENT);
}
END_TEST

/*
 * A map that fills up: -ENOSPC, the transaction marked failed and its
 * commit refused; what was committed before stays, and the next
 * transaction works.
 */
START_TEST(store__map_full_is_enospc)
{
	char	 key[32], val[200];
	size_t	 len;
	int	 i, rv = 0;

	store_abort(st);
	store_close(st);
	ck_assert_int_eq(store_open(&st, statedir, SMALLMAP), 0);
	ck_assert_int_eq(store_begin(st, 1), 0);
	ck_assert_int_eq(store_kv_put(st, "first", 5, "kept", 4), 0);
	ck_assert_int_eq(store_commit(st), 0);
	memset(val, 'v', sizeof(val));
	ck_assert_int_eq(store_begin(st, 1), 0);
	for (i = 0; i < 100000 && rv == 0; i++) {
		snprintf(key, sizeof(key), "key%08d", i);
		rv = store_kv_put(st, key, strlen(key), val, sizeof(val));
	}
	ck_assert_int_eq(rv, -ENOSPC);
	ck_assert_int_eq(store_failed(st), -ENOSPC);
	ck_assert_int_eq(store_commit(st), -ENOSPC);
	ck_assert_int_eq(store_failed(st), 0);		/* none open */
	ck_assert_int_eq(store_begin(st, 0), 0);
	ck_assert_int_eq(store_kv_get(st, "first", 5, val, sizeof(val), &len),
	    0);
	ck_assert_uint_eq(len, 4);
	ck_assert_int_eq(store_kv_get(st, "key00000000", 11, val, sizeof(val),
	    &len), -ENOENT);
	store_abort(st);
	ck_assert_int_eq(store_begin(st, 1), 0);
	ck_assert_int_eq(store_map_set(st, 1, 0, 1), 0);
}
END_TEST

START_TEST(store__runs_stay_per_lu_at_the_edges)
{
	uint64_t	 f, c;

	ck_assert_int_eq(store_map_set(st, 1, UINT64_MAX - 4, 4), 0);
	ck_assert_int_eq(store_map_set(st, 2, 0, 4), 0);
	ck_assert_int_eq(store_map_set(st, 0, UINT64_MAX - 10, 3), 0);
	store_assert_run(1, UINT64_MAX - 1, UINT64_MAX - 4, 4);
	ck_assert_int_eq(store_map_lookup(st, 1, UINT64_MAX, &f, &c), -ENOENT);
	ck_assert_int_eq(store_map_lookup(st, 2, 4, &f, &c), -ENOENT);
	ck_assert_int_eq(store_map_lookup(st, 1, 0, &f, &c), -ENOENT);
	store_assert_run(2, 0, 0, 4);
	store_assert_run(0, UINT64_MAX - 8, UINT64_MAX - 10, 3);
	ck_assert_int_eq(store_map_clear(st, 2, 0, 100), 0);
	store_assert_run(1, UINT64_MAX - 4, UINT64_MAX - 4, 4);
	ck_assert_int_eq(store_map_set(st, 3, 5, 0), -EINVAL);
	ck_assert_int_eq(store_failed(st), 0);
}
END_TEST

START_TEST(store__set_absorbs_several_runs)
{
	int	 i;

	for (i = 0; i < 10; i++)
		ck_assert_int_eq(store_map_set(st, 9, 10 * i, 5), 0);
	ck_assert_int_eq(store_map_set(st, 9, 3, 60), 0);
	store_assert_run(9, 0, 0, 65);
	store_assert_run(9, 70, 70, 5);
	ck_assert_int_eq(store_map_clear(st, 9, 10, 5), 0);
	store_assert_run(9, 9, 0, 10);
	store_assert_run(9, 15, 15, 50);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_begin(st, 0), 0);
	store_assert_run(9, 64, 15, 50);
}
END_TEST

START_TEST(store__kv_and_schema)
{
	char		 buf[16];
	size_t		 len;
	uint32_t	 v;

	ck_assert_int_eq(store_schema_get(st, &v), -ENOENT);
	ck_assert_int_eq(store_schema_put(st, 42), 0);
	ck_assert_int_eq(store_schema_get(st, &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(store_kv_put(st, "k", 1, "value", 5), 0);
	ck_assert_int_eq(store_kv_get(st, "k", 1, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(buf, "value", 5);
	ck_assert_int_eq(store_kv_get(st, "k", 1, buf, 2, &len), -EMSGSIZE);
	ck_assert_int_eq(store_kv_put(st, "", 0, "x", 1), -EINVAL);
	ck_assert_int_eq(store_kv_del(st, "nope", 4), -ENOENT);
	ck_assert_int_eq(store_failed(st), 0);
}
END_TEST

START_TEST(store__errno_mapping)
{
	ck_assert_int_eq(store_errno(0), 0);
	ck_assert_int_eq(store_errno(-30792 /* MDB_MAP_FULL */), -ENOSPC);
	ck_assert_int_eq(store_errno(-30798 /* MDB_NOTFOUND */), -ENOENT);
	ck_assert_int_eq(store_errno(-30796 /* MDB_CORRUPTED */), -EIO);
	ck_assert_int_eq(store_errno(EACCES), -EACCES);
}
END_TEST

Suite *
coord_store_suite(void)
{
	Suite	*s = suite_create("coord_store");
	TCase	*tc;

	tc = tcase_create("store");
	tcase_add_checked_fixture(tc, store_setup, store_teardown);
	tcase_add_test(tc, store__runs_merge_and_split);
	tcase_add_test(tc, store__set_inside_a_run_and_clear_its_ends);
	tcase_add_test(tc, store__runs_stay_per_lu_at_the_edges);
	tcase_add_test(tc, store__set_absorbs_several_runs);
	tcase_add_test(tc, store__bad_ranges_refused);
	tcase_add_test(tc, store__foreach_walks_one_lu_in_order_and_stops);
	tcase_add_test(tc, store__kv_and_schema);
	tcase_add_test(tc, store__kv_foreach_by_prefix);
	tcase_add_test(tc, store__psess_records);
	tcase_add_test(tc, store__abort_forgets_and_commit_keeps);
	tcase_add_test(tc, store__map_full_is_enospc);
	tcase_add_test(tc, store__errno_mapping);
	suite_add_tcase(s, tc);
	return s;
}
