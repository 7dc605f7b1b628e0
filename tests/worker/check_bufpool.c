/* Tests for worker/bufpool.c: the worker's I/O buffer pool. */
#include <stdint.h>
#include <string.h>

#include <check.h>

#include "bufpool.h"
#include "suites.h"

static void
pool_setup(void)
{
	buf_trim();
}

START_TEST(bufpool__get_put_reuses_within_the_class)
{
	struct bufpool_stats s0, s1;
	uint8_t		*a, *b;

	buf_stats(&s0);
	ck_assert_ptr_nonnull(a = buf_get(5000));	/* 8 KiB class */
	memset(a, 0xab, 8192);				/* the whole class */
	buf_put(a);
	ck_assert_ptr_nonnull(b = buf_get(8192));
	buf_stats(&s1);
	ck_assert_uint_eq(s1.bs_gets - s0.bs_gets, 2);
	if (s1.bs_limit > 0) {
		ck_assert_ptr_eq(a, b);
		ck_assert_uint_eq(s1.bs_hits - s0.bs_hits, 1);
	} else
		ck_assert_uint_eq(s1.bs_hits, s0.bs_hits);
	ck_assert_uint_eq(s1.bs_out, s0.bs_out + 1);
	buf_put(b);
	buf_stats(&s1);
	ck_assert_uint_eq(s1.bs_out, s0.bs_out);
	ck_assert_uint_le(s1.bs_cached, s1.bs_limit);
}
END_TEST

START_TEST(bufpool__references_keep_the_buffer)
{
	struct bufpool_stats s0, s1;
	uint8_t		*a;

	buf_stats(&s0);
	ck_assert_ptr_nonnull(a = buf_get(100000));
	ck_assert_ptr_eq(buf_ref(a), a);
	buf_unref_cb(a, 10, a);		/* as libevent, once sent */
	buf_stats(&s1);
	ck_assert_uint_eq(s1.bs_out, s0.bs_out + 1);
	memset(a, 1, 100000);		/* still ours */
	buf_put(a);
	buf_stats(&s1);
	ck_assert_uint_eq(s1.bs_out, s0.bs_out);
	buf_put(NULL);
}
END_TEST

START_TEST(bufpool__zeroed_and_aligned)
{
	uint8_t		*a;
	size_t		 i;

	a = buf_get(256);
	memset(a, 0xff, 256);
	buf_put(a);
	ck_assert_ptr_nonnull(a = buf_zget(200));
	ck_assert_uint_eq((uintptr_t)a % 16, 0);
	for (i = 0; i < 200; i++)
		ck_assert_uint_eq(a[i], 0);
	buf_put(a);
}
END_TEST

START_TEST(bufpool__huge_and_limit)
{
	struct bufpool_stats s;
	uint8_t		*a, *v[8];
	size_t		 i;

	/* bigger than the largest class: plain memory, never kept */
	ck_assert_ptr_nonnull(a = buf_get(((size_t)1 << BUFPOOL_MAX_SHIFT) + 1));
	a[(size_t)1 << BUFPOOL_MAX_SHIFT] = 1;
	buf_put(a);
	buf_stats(&s);
	ck_assert_uint_eq(s.bs_cached, 0);
	/* eight 16 MiB buffers: the pool keeps no more than its limit */
	for (i = 0; i < 8; i++)
		ck_assert_ptr_nonnull(v[i] = buf_get((size_t)16 << 20));
	for (i = 0; i < 8; i++)
		buf_put(v[i]);
	buf_stats(&s);
	ck_assert_uint_le(s.bs_cached, s.bs_limit);
	ck_assert_uint_le(s.bs_limit, BUFPOOL_CACHE);
	buf_trim();
	buf_stats(&s);
	ck_assert_uint_eq(s.bs_cached, 0);
	/* absurd sizes fail cleanly */
	ck_assert_ptr_null(buf_get(SIZE_MAX - 8));
}
END_TEST

Suite *
bufpool_suite(void)
{
	Suite	*s = suite_create("bufpool");
	TCase	*tc = tcase_create("pool");

	tcase_add_checked_fixture(tc, pool_setup, NULL);
	tcase_add_test(tc, bufpool__get_put_reuses_within_the_class);
	tcase_add_test(tc, bufpool__references_keep_the_buffer);
	tcase_add_test(tc, bufpool__zeroed_and_aligned);
	tcase_add_test(tc, bufpool__huge_and_limit);
	suite_add_tcase(s, tc);
	return s;
}
