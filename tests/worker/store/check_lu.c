/*
 * worker/store/lu.c: copy-on-write overlays over a read-only base image.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lu.h"
#include "suites.h"

#define IMG_SIZE	(1024 * 1024)

static char		 dir[64];
static struct image	 im;
static uint8_t		*pristine;

static void
setup(void)
{
	int	 fd, i;

	snprintf(dir, sizeof(dir), "/tmp/check_lu.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	pristine = malloc(IMG_SIZE);
	for (i = 0; i < IMG_SIZE; i++)
		pristine[i] = (uint8_t)(i * 7 + (i >> 9));
	memset(&im, 0, sizeof(im));
	snprintf(im.im_name, sizeof(im.im_name), "base");
	snprintf(im.im_path, sizeof(im.im_path), "%s/base.img", dir);
	fd = open(im.im_path, O_RDWR | O_CREAT, 0600);
	ck_assert_int_eq(write(fd, pristine, IMG_SIZE), IMG_SIZE);
	close(fd);
	im.im_fd = open(im.im_path, O_RDONLY);
	im.im_size = IMG_SIZE;
}

static void
teardown(void)
{
	char	 cmd[128];

	close(im.im_fd);
	free(pristine);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
base_unchanged(void)
{
	uint8_t	*b = malloc(IMG_SIZE);

	ck_assert_int_eq(pread(im.im_fd, b, IMG_SIZE, 0), IMG_SIZE);
	ck_assert_mem_eq(b, pristine, IMG_SIZE);
	free(b);
}

/* A fresh anonymous overlay of its own (files dir/anon-N). */
static struct lu_cow *
anon(struct lu_quota *q)
{
	static int	 n;
	char		 path[PATH_MAX];
	int		 existed;
	struct lu_cow	*cw;

	snprintf(path, sizeof(path), "%s/anon-%d", dir, ++n);
	cw = lu_cow_anon(&im, path, 4096, q, &existed);
	ck_assert_int_eq(existed, 0);
	return cw;
}

START_TEST(lu__reads_pristine_base)
{
	struct lu_cow	*cw = anon(NULL);
	uint8_t		 buf[8192];

	ck_assert_ptr_nonnull(cw);
	ck_assert_int_eq(lu_cow_ops.so_read(cw, buf, sizeof(buf), 4096), 0);
	ck_assert_mem_eq(buf, pristine + 4096, sizeof(buf));
	lu_cow_free(cw);
}
END_TEST

/* A 512-byte write into an unmapped 4 KiB block keeps the other 3.5 KiB. */
START_TEST(lu__partial_block_write_merges_base)
{
	struct lu_cow	*cw = anon(NULL);
	uint8_t		 data[512], buf[3 * 4096], want[3 * 4096];

	memset(data, 0xab, sizeof(data));
	ck_assert_int_eq(lu_cow_ops.so_write(cw, data, 512, 4096 + 1024), 0);
	ck_assert_int_eq(lu_cow_ops.so_read(cw, buf, sizeof(buf), 0), 0);
	memcpy(want, pristine, sizeof(want));
	memset(want + 4096 + 1024, 0xab, 512);
	ck_assert_mem_eq(buf, want, sizeof(want));
	base_unchanged();
	lu_cow_free(cw);
}
END_TEST

START_TEST(lu__unaligned_multiblock_write)
{
	struct lu_cow	*cw = anon(NULL);
	uint8_t		*data = malloc(5 * 4096), *buf = malloc(IMG_SIZE);
	uint8_t		*want = malloc(IMG_SIZE);
	size_t		 i;

	for (i = 0; i < 5 * 4096; i++)
		data[i] = (uint8_t)(i ^ 0x5a);
	ck_assert_int_eq(lu_cow_ops.so_write(cw, data, 5 * 4096 - 1024,
	    3 * 512), 0);
	ck_assert_int_eq(lu_cow_ops.so_read(cw, buf, IMG_SIZE, 0), 0);
	memcpy(want, pristine, IMG_SIZE);
	memcpy(want + 3 * 512, data, 5 * 4096 - 1024);
	ck_assert_mem_eq(buf, want, IMG_SIZE);
	base_unchanged();
	free(data);
	free(buf);
	free(want);
	lu_cow_free(cw);
}
END_TEST

START_TEST(lu__private_overlays_are_isolated)
{
	struct lu_cow	*a = anon(NULL);
	struct lu_cow	*b = anon(NULL);
	uint8_t		 data[4096], buf[4096];

	memset(data, 0x11, sizeof(data));
	ck_assert_int_eq(lu_cow_ops.so_write(a, data, 4096, 0), 0);
	ck_assert_int_eq(lu_cow_ops.so_read(b, buf, 4096, 0), 0);
	ck_assert_mem_eq(buf, pristine, 4096);
	lu_cow_free(a);
	lu_cow_free(b);
}
END_TEST

START_TEST(lu__quota_refuses_and_keeps_data)
{
	struct lu_quota	 q = { .q_limit = 8192 };
	struct lu_cow	*cw = anon(&q);
	uint8_t		 data[3 * 4096], buf[3 * 4096];

	memset(data, 0x22, sizeof(data));
	ck_assert_int_eq(lu_cow_ops.so_write(cw, data, 8192, 0), 0);
	ck_assert_uint_eq(q.q_used, 8192);
	/* Rewriting mapped blocks costs nothing. */
	ck_assert_int_eq(lu_cow_ops.so_write(cw, data, 4096, 0), 0);
	memset(data, 0x33, sizeof(data));
	ck_assert_int_eq(lu_cow_ops.so_write(cw, data, 3 * 4096, 4096),
	    -EDQUOT);
	ck_assert_int_eq(lu_cow_ops.so_read(cw, buf, sizeof(buf), 0), 0);
	memset(data, 0x22, 8192);
	ck_assert_mem_eq(buf, data, 8192);
	ck_assert_mem_eq(buf + 8192, pristine + 8192, 4096);
	lu_cow_free(cw);
}
END_TEST

START_TEST(lu__unmap_reads_zero_and_credits)
{
	struct lu_quota	 q = { .q_limit = 0 };
	struct lu_cow	*cw = anon(&q);
	uint8_t		 data[16384], zero[16384], buf[16384];
	uint64_t	 len = 16384;
	int		 mapped = -1;

	memset(data, 0x44, sizeof(data));
	memset(zero, 0, sizeof(zero));
	ck_assert_int_eq(lu_cow_ops.so_write(cw, data, sizeof(data), 0), 0);
	ck_assert_uint_eq(q.q_used, 16384);
	ck_assert_int_eq(lu_cow_ops.so_unmap(cw, 4096, 8192), 0);
	ck_assert_uint_eq(q.q_used, 8192);
	ck_assert_int_eq(lu_cow_ops.so_read(cw, buf, sizeof(buf), 0), 0);
	ck_assert_mem_eq(buf, data, 4096);
	ck_assert_mem_eq(buf + 4096, zero, 8192);
	ck_assert_mem_eq(buf + 12288, data, 4096);
	ck_assert_int_eq(lu_cow_ops.so_status(cw, 4096, &len, &mapped), 0);
	ck_assert_int_eq(mapped, 0);
	ck_assert_uint_eq(len, 8192);
	len = 4096;
	ck_assert_int_eq(lu_cow_ops.so_status(cw, 0, &len, &mapped), 0);
	ck_assert_int_eq(mapped, 1);
	/* Unmapping base blocks makes them read zero too. */
	ck_assert_int_eq(lu_cow_ops.so_unmap(cw, 65536, 4096), 0);
	ck_assert_int_eq(lu_cow_ops.so_read(cw, buf, 4096, 65536), 0);
	ck_assert_mem_eq(buf, zero, 4096);
	base_unchanged();
	lu_cow_free(cw);
}
END_TEST

/* Two handles on one shared overlay: as two workers see it. */
START_TEST(lu__shared_overlay_seen_by_both_and_kept)
{
	char		 path[128];
	struct lu_cow	*a, *b;
	uint8_t		 data[4096], buf[4096];

	snprintf(path, sizeof(path), "%s/shared-0", dir);
	a = lu_cow_shared(&im, path, 4096, NULL);
	b = lu_cow_shared(&im, path, 4096, NULL);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	memset(data, 0x55, sizeof(data));
	ck_assert_int_eq(lu_cow_ops.so_write(a, data, 512, 8192 + 512), 0);
	ck_assert_int_eq(lu_cow_ops.so_sync(a), 0);
	ck_assert_int_eq(lu_cow_ops.so_read(b, buf, 4096, 8192), 0);
	ck_assert_mem_eq(buf, pristine + 8192, 512);
	ck_assert_mem_eq(buf + 512, data, 512);
	lu_cow_free(a);
	lu_cow_free(b);
	a = lu_cow_shared(&im, path, 4096, NULL);
	ck_assert_int_eq(lu_cow_ops.so_read(a, buf, 4096, 8192), 0);
	ck_assert_mem_eq(buf + 512, data, 512);
	ck_assert_uint_eq(lu_cow_mapped_bytes(a), 4096);
	lu_cow_free(a);
	base_unchanged();
}
END_TEST

/*
 * An anonymous overlay outlives its process: opened again by its path
 * it holds what was written (existed), until its session discards it.
 */
START_TEST(lu__anonymous_overlay_kept_until_discarded)
{
	char		 path[PATH_MAX];
	uint8_t		 data[4096], buf[4096];
	struct lu_cow	*cw;
	int		 existed;

	snprintf(path, sizeof(path), "%s/anon-kept", dir);
	cw = lu_cow_anon(&im, path, 4096, NULL, &existed);
	ck_assert_int_eq(existed, 0);
	ck_assert_int_eq(lu_anon_exists(path), 0);	/* nothing until written */
	memset(data, 0x6b, sizeof(data));
	ck_assert_int_eq(lu_cow_ops.so_write(cw, data, 4096, 8192), 0);
	lu_cow_free(cw);
	ck_assert_int_eq(lu_anon_exists(path), 1);
	cw = lu_cow_anon(&im, path, 4096, NULL, &existed);
	ck_assert_int_eq(existed, 1);
	ck_assert_int_eq(lu_cow_ops.so_read(cw, buf, 4096, 8192), 0);
	ck_assert_mem_eq(buf, data, 4096);
	lu_cow_discard(cw);
	lu_cow_free(cw);
	ck_assert_int_eq(lu_anon_exists(path), 0);
	base_unchanged();
}
END_TEST

/*
 * A session's counter held by one process cannot be claimed by another
 * (a stranger never takes over a live session's files); once let go it
 * can, and keeps its count.
 */
START_TEST(lu__quota_held_not_claimed)
{
	struct lu_quota	 a = { .q_limit = 0 }, b = { .q_limit = 0 };
	char		 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/I-held.quota", dir);
	a.q_page = strdup(path);
	b.q_page = strdup(path);
	a.q_used = 12288;
	ck_assert_int_eq(lu_quota_hold(&a), 0);
	ck_assert_uint_eq(*a.q_shared, 12288);
	ck_assert_int_eq(lu_quota_claim(&b), -EBUSY);
	lu_quota_release(&a, 0);
	ck_assert_int_eq(access(path, F_OK), 0);	/* kept */
	ck_assert_int_eq(lu_quota_claim(&b), 0);
	ck_assert_uint_eq(*b.q_shared, 12288);
	lu_quota_release(&b, 1);			/* discarded */
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

Suite *
lu_suite(void)
{
	Suite	*s = suite_create("lu");
	TCase	*tc = tcase_create("cow");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, lu__reads_pristine_base);
	tcase_add_test(tc, lu__anonymous_overlay_kept_until_discarded);
	tcase_add_test(tc, lu__quota_held_not_claimed);
	tcase_add_test(tc, lu__partial_block_write_merges_base);
	tcase_add_test(tc, lu__unaligned_multiblock_write);
	tcase_add_test(tc, lu__private_overlays_are_isolated);
	tcase_add_test(tc, lu__quota_refuses_and_keeps_data);
	tcase_add_test(tc, lu__unmap_reads_zero_and_credits);
	tcase_add_test(tc, lu__shared_overlay_seen_by_both_and_kept);
	suite_add_tcase(s, tc);
	return s;
}
