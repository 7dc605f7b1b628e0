/*
 * worker/store/lu.c: copy-on-write overlays over a read-only base image,
 * their atomic writes and sanitizes.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cowmap.h"
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

/*
 * The test binary is linked with --wrap=pwrite: every pwrite of lu.c
 * comes here, and the largest is kept.
 */
ssize_t	__real_pwrite(int, const void *, size_t, off_t);
ssize_t	__wrap_pwrite(int, const void *, size_t, off_t);
static size_t	 pwrite_max;

ssize_t
__wrap_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	if (len > pwrite_max)
		pwrite_max = len;
	return __real_pwrite(fd, buf, len, off);
}

/*
 * A 1 MiB write reaches the overlay file 256 KiB a pwrite at most, so
 * that the page cache's folios stay small (README, Speed), and whole.
 */
START_TEST(lu__large_write_in_pieces)
{
	struct lu_cow	*cw = anon(NULL);
	uint8_t		*data = malloc(IMG_SIZE), *buf = malloc(IMG_SIZE);
	size_t		 i;

	for (i = 0; i < IMG_SIZE; i++)
		data[i] = (uint8_t)(i * 13 + 1);
	pwrite_max = 0;
	ck_assert_int_eq(lu_cow_ops.so_write(cw, data, IMG_SIZE, 0), 0);
	ck_assert_uint_gt(pwrite_max, 0);
	ck_assert_uint_le(pwrite_max, 256 * 1024);
	ck_assert_int_eq(lu_cow_ops.so_read(cw, buf, IMG_SIZE, 0), 0);
	ck_assert_mem_eq(buf, data, IMG_SIZE);
	base_unchanged();
	free(data);
	free(buf);
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

/* A shared LU whose changes are logged, every other block written. */
static struct lu_cow *
shared_striped(const char *name, struct lu_quota *q)
{
	char		 path[128];
	struct lu_cow	*cw;
	struct cow_logent *e;
	uint8_t		 data[4096];
	uint64_t	 b;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(cw = lu_cow_shared(&im, path, 4096, q));
	lu_cow_log_enable(cw, 1);
	memset(data, 0x66, sizeof(data));
	for (b = 0; b < IMG_SIZE / 4096; b += 2)
		ck_assert_int_eq(lu_cow_ops.so_write(cw, data, 4096, b * 4096),
		    0);
	ck_assert_int_ge(lu_cow_log_take(cw, &e), 1);
	return cw;
}

/*
 * An UNMAP of the whole LU logs one run, whatever its blocks held
 * (every other one written here): not an entry per block and per bit.
 */
START_TEST(lu__whole_unmap_logs_a_run)
{
	struct lu_cow	*cw = shared_striped("striped-0", NULL);
	struct cow_logent *e;

	ck_assert_int_eq(lu_cow_ops.so_unmap(cw, 0, IMG_SIZE), 0);
	ck_assert_int_le(lu_cow_log_take(cw, &e), 2);
	/* an UNMAP of what is already deallocated changes nothing */
	ck_assert_int_eq(lu_cow_ops.so_unmap(cw, 0, IMG_SIZE), 0);
	ck_assert_int_eq(lu_cow_log_take(cw, &e), 0);
	lu_cow_free(cw);
}
END_TEST

/* The run says what the blocks hold now and what the quota gave back. */
START_TEST(lu__logged_run_holds_the_new_state)
{
	struct lu_quota	 q = { .q_limit = 0 };
	struct lu_cow	*cw = shared_striped("striped-1", &q);
	struct cow_logent *e;
	uint8_t		 data[3 * 4096];

	ck_assert_uint_eq(q.q_used, IMG_SIZE / 2);
	ck_assert_int_eq(lu_cow_ops.so_unmap(cw, 0, IMG_SIZE), 0);
	ck_assert_uint_eq(q.q_used, 0);
	ck_assert_int_eq(lu_cow_log_take(cw, &e), 1);
	ck_assert_uint_eq(e[0].le_first, 0);
	ck_assert_uint_eq(e[0].le_count, IMG_SIZE / 4096);
	ck_assert_uint_eq(e[0].le_credit, IMG_SIZE / 4096 / 2);
	ck_assert_uint_eq(e[0].le_bits, COWMAP_M | COWMAP_Z);
	ck_assert_uint_eq(e[0].le_zchg, 1);
	/* written again: one run of data, its Z bits cleared */
	memset(data, 0x77, sizeof(data));
	ck_assert_int_eq(lu_cow_ops.so_write(cw, data, sizeof(data), 8192), 0);
	ck_assert_int_eq(lu_cow_log_take(cw, &e), 1);
	ck_assert_uint_eq(e[0].le_first, 2);
	ck_assert_uint_eq(e[0].le_count, 3);
	ck_assert_uint_eq(e[0].le_bits, COWMAP_M);
	ck_assert_uint_eq(e[0].le_zchg, 1);
	lu_cow_free(cw);
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

/* ---------------------------------------------------------------- */
/* WRITE ATOMIC on a shared overlay */

START_TEST(lu__atomic_write_seen_whole_by_the_other)
{
	char		 path[128];
	struct lu_cow	*a, *b;
	uint8_t		*data = malloc(65536), *got = malloc(65536);
	uint32_t	 unit, max;

	snprintf(path, sizeof(path), "%s/shared-0", dir);
	ck_assert_ptr_nonnull(a = lu_cow_shared(&im, path, 4096, NULL));
	ck_assert_ptr_nonnull(b = lu_cow_shared(&im, path, 4096, NULL));
	lu_cow_ops.so_atomic_limits(a, &unit, &max);
	ck_assert_uint_eq(unit, 4096);
	ck_assert_uint_eq(max, LU_ATOMIC_MAX);
	memset(data, 0xa6, 65536);
	ck_assert_int_eq(lu_cow_ops.so_write_atomic(a, data, 65536, 8192), 0);
	ck_assert_int_eq(lu_cow_ops.so_read(b, got, 65536, 8192), 0);
	ck_assert_mem_eq(got, data, 65536);
	ck_assert_uint_eq(lu_cow_mapped_bytes(b), 65536);
	ck_assert_uint_eq(a->cw_hdr->h_aword, 2);	/* applied, closed */
	/* whole COW blocks, no more than the slot */
	ck_assert_int_eq(lu_cow_ops.so_write_atomic(a, data, 4096, 512),
	    -EINVAL);
	ck_assert_int_eq(lu_cow_ops.so_write_atomic(a, data, 512, 0),
	    -EINVAL);
	ck_assert_int_eq(lu_cow_ops.so_write_atomic(a, data,
	    LU_ATOMIC_MAX + 4096, 0), -EINVAL);
	lu_cow_free(a);
	lu_cow_free(b);
	free(data);
	free(got);
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

/*
 * A writer killed while applying (its slot left odd, half its blocks
 * written in place): readers get all of the new data from the slot, and
 * the next write over those bytes finishes the job first.
 */
START_TEST(lu__atomic_slot_of_a_dead_writer)
{
	char		 path[128];
	struct lu_cow	*a, *b;
	uint8_t		 data[16384], got[16384], other[4096];

	snprintf(path, sizeof(path), "%s/shared-0", dir);
	ck_assert_ptr_nonnull(a = lu_cow_shared(&im, path, 4096, NULL));
	ck_assert_ptr_nonnull(b = lu_cow_shared(&im, path, 4096, NULL));
	memset(data, 0x3c, sizeof(data));
	/* what the dead writer did: staged, opened the slot, half applied */
	ck_assert_int_eq(pwrite(a->cw_ovl, data, sizeof(data), IMG_SIZE),
	    (ssize_t)sizeof(data));
	a->cw_hdr->h_aoff = 16384;
	a->cw_hdr->h_alen = sizeof(data);
	a->cw_hdr->h_aword = 1;
	ck_assert_int_eq(pwrite(a->cw_ovl, data, 8192, 16384), 8192);
	ck_assert_int_eq(lu_cow_ops.so_read(b, got, sizeof(got), 16384), 0);
	ck_assert_mem_eq(got, data, sizeof(data));
	/* a write elsewhere leaves it; one over it finishes it first */
	memset(other, 0x77, sizeof(other));
	ck_assert_int_eq(lu_cow_ops.so_write(b, other, 4096, 65536), 0);
	ck_assert_uint_eq(b->cw_hdr->h_aword, 1);
	ck_assert_int_eq(lu_cow_ops.so_write(b, other, 512, 16384 + 12288),
	    0);
	ck_assert_uint_eq(b->cw_hdr->h_aword, 2);
	ck_assert_int_eq(lu_cow_ops.so_read(a, got, sizeof(got), 16384), 0);
	ck_assert_mem_eq(got, data, 12288);
	ck_assert_mem_eq(got + 12288, other, 512);
	ck_assert_mem_eq(got + 12800, data, sizeof(data) - 12800);
	ck_assert_uint_eq(lu_cow_mapped_bytes(a), 16384 + 4096);
	lu_cow_free(a);
	lu_cow_free(b);
	base_unchanged();
}
END_TEST

/* A private overlay has one nexus in one process: a plain write. */
START_TEST(lu__atomic_write_private)
{
	struct lu_cow	*cw;
	uint8_t		 data[8192], got[8192];

	ck_assert_ptr_nonnull(cw = anon(NULL));
	memset(data, 0x19, sizeof(data));
	ck_assert_int_eq(lu_cow_ops.so_write_atomic(cw, data, 8192, 4096), 0);
	ck_assert_int_eq(lu_cow_ops.so_read(cw, got, 8192, 4096), 0);
	ck_assert_mem_eq(got, data, 8192);
	lu_cow_free(cw);
	base_unchanged();
}
END_TEST

/* ---------------------------------------------------------------- */
/* SANITIZE on an overlay, and SWP across processes */

static int
san_run(struct lu_cow *cw)
{
	int	 r;

	while ((r = lu_cow_sanitize_step(cw, 100 * 1024)) > 0)
		continue;
	lu_cow_sanitize_end(cw, -r);
	return r;
}

static void
san_start(struct lu_cow *cw, int method, const uint8_t *blk)
{
	struct scsi_sanitize sz;

	memset(&sz, 0, sizeof(sz));
	sz.sz_method = method;
	sz.sz_blksz = 512;
	sz.sz_pattern = blk;
	ck_assert_int_eq(lu_cow_ops.so_sanitize(cw, &sz), 0);
}

static int
san_state(struct lu_cow *cw)
{
	struct scsi_sanitize sz;

	lu_cow_ops.so_sanitize_state(cw, &sz);
	return sz.sz_state;
}

START_TEST(lu__sanitize_erase_punches_the_overlay)
{
	char		 path[128];
	struct lu_cow	*cw;
	uint8_t		 data[8192], *got = malloc(IMG_SIZE), *zero;
	uint64_t	 len = IMG_SIZE;
	int		 mapped;

	snprintf(path, sizeof(path), "%s/shared-0", dir);
	ck_assert_ptr_nonnull(cw = lu_cow_shared(&im, path, 4096, NULL));
	memset(data, 0x5a, sizeof(data));
	ck_assert_int_eq(lu_cow_ops.so_write(cw, data, 8192, 4096), 0);
	san_start(cw, SCSI_SANITIZE_ERASE, NULL);
	ck_assert_int_eq(san_state(cw), SCSI_SANITIZE_RUNNING);
	ck_assert_int_eq(san_run(cw), 0);
	ck_assert_int_eq(san_state(cw), SCSI_SANITIZE_IDLE);
	ck_assert_int_eq(lu_cow_ops.so_read(cw, got, IMG_SIZE, 0), 0);
	zero = calloc(1, IMG_SIZE);
	ck_assert_mem_eq(got, zero, IMG_SIZE);
	ck_assert_int_eq(lu_cow_ops.so_status(cw, 0, &len, &mapped), 0);
	ck_assert_int_eq(mapped, 0);			/* all deallocated */
	ck_assert_uint_eq(len, IMG_SIZE);
	ck_assert_uint_eq(lu_cow_mapped_bytes(cw), 0);
	lu_cow_free(cw);
	free(got);
	free(zero);
	base_unchanged();
}
END_TEST

START_TEST(lu__sanitize_overwrite_writes_the_pattern)
{
	struct lu_cow	*cw;
	uint8_t		 blk[512], got[1536];
	struct lu_quota	 q = { .q_limit = 0 };

	ck_assert_ptr_nonnull(cw = anon(&q));
	memset(blk, 0xaa, sizeof(blk));
	blk[0] = 0x01;
	san_start(cw, SCSI_SANITIZE_OVERWRITE, blk);
	ck_assert_int_eq(san_run(cw), 0);
	ck_assert_int_eq(lu_cow_ops.so_read(cw, got, 1536, IMG_SIZE - 1536),
	    0);
	ck_assert_mem_eq(got, blk, 512);
	ck_assert_mem_eq(got + 1024, blk, 512);
	ck_assert_uint_eq(q.q_used, IMG_SIZE);
	lu_cow_free(cw);
	/* a quota too small fails it, and says so */
	q.q_limit = IMG_SIZE / 2;
	q.q_used = 0;
	ck_assert_ptr_nonnull(cw = anon(&q));
	san_start(cw, SCSI_SANITIZE_OVERWRITE, blk);
	ck_assert_int_eq(san_run(cw), -EDQUOT);
	ck_assert_int_eq(san_state(cw), SCSI_SANITIZE_FAILED);
	lu_cow_ops.so_sanitize_exit(cw);
	ck_assert_int_eq(san_state(cw), SCSI_SANITIZE_IDLE);
	lu_cow_free(cw);
	base_unchanged();
}
END_TEST

/* The process running a sanitize dies: the next one to look goes on. */
START_TEST(lu__sanitize_taken_over_from_a_dead_process)
{
	char		 path[128];
	struct lu_cow	*a, *b;
	uint8_t		 got[4096], zero[4096] = { 0 };

	snprintf(path, sizeof(path), "%s/shared-0", dir);
	ck_assert_ptr_nonnull(a = lu_cow_shared(&im, path, 4096, NULL));
	ck_assert_ptr_nonnull(b = lu_cow_shared(&im, path, 4096, NULL));
	san_start(a, SCSI_SANITIZE_ERASE, NULL);
	ck_assert_int_eq(lu_cow_sanitize_step(a, 65536), 1);
	ck_assert_int_eq(lu_cow_ops.so_sanitize(b, NULL), -EBUSY);
	ck_assert_int_eq(san_state(b), SCSI_SANITIZE_RUNNING);
	ck_assert_ptr_null(b->cw_job);		/* a runs it */
	lu_cow_free(a);				/* as its death: lock gone */
	ck_assert_int_eq(san_state(b), SCSI_SANITIZE_RUNNING);
	ck_assert_ptr_nonnull(b->cw_job);	/* b took it over */
	ck_assert_uint_eq(b->cw_hdr->h_snext, 65536);
	ck_assert_int_eq(san_run(b), 0);
	ck_assert_int_eq(lu_cow_ops.so_read(b, got, 4096, IMG_SIZE - 4096),
	    0);
	ck_assert_mem_eq(got, zero, 4096);
	lu_cow_free(b);
	base_unchanged();
}
END_TEST

START_TEST(lu__swp_seen_by_another_process)
{
	char		 path[128];
	struct lu_cow	*a, *b;

	snprintf(path, sizeof(path), "%s/shared-0", dir);
	ck_assert_ptr_nonnull(a = lu_cow_shared(&im, path, 4096, NULL));
	ck_assert_ptr_nonnull(b = lu_cow_shared(&im, path, 4096, NULL));
	ck_assert_int_eq(lu_cow_ops.so_wp_elsewhere(b), 0);
	ck_assert_int_eq(lu_cow_ops.so_wp_hold(a, 1), 0);
	ck_assert_int_eq(lu_cow_ops.so_wp_elsewhere(b), 1);
	ck_assert_int_eq(lu_cow_ops.so_wp_elsewhere(a), 0);	/* its own */
	ck_assert_int_eq(lu_cow_ops.so_wp_hold(a, 0), 0);
	ck_assert_int_eq(lu_cow_ops.so_wp_elsewhere(b), 0);
	lu_cow_free(a);
	lu_cow_free(b);
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
	tcase_add_test(tc, lu__large_write_in_pieces);
	tcase_add_test(tc, lu__private_overlays_are_isolated);
	tcase_add_test(tc, lu__quota_refuses_and_keeps_data);
	tcase_add_test(tc, lu__unmap_reads_zero_and_credits);
	tcase_add_test(tc, lu__shared_overlay_seen_by_both_and_kept);
	tcase_add_test(tc, lu__whole_unmap_logs_a_run);
	tcase_add_test(tc, lu__logged_run_holds_the_new_state);
	tcase_add_test(tc, lu__atomic_write_seen_whole_by_the_other);
	tcase_add_test(tc, lu__atomic_slot_of_a_dead_writer);
	tcase_add_test(tc, lu__atomic_write_private);
	tcase_add_test(tc, lu__sanitize_erase_punches_the_overlay);
	tcase_add_test(tc, lu__sanitize_overwrite_writes_the_pattern);
	tcase_add_test(tc, lu__sanitize_taken_over_from_a_dead_process);
	tcase_add_test(tc, lu__swp_seen_by_another_process);
	suite_add_tcase(s, tc);
	return s;
}
