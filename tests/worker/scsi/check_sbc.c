/*
 * worker/scsi/sbc.c: the read/write family over every CDB size, COMPARE
 * AND WRITE, WRITE ATOMIC, WRITE SAME, UNMAP, GET LBA STATUS, capacity
 * and store errors; worker/scsi/sanitize.c: SANITIZE.
 */
#include <sys/queue.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "memstore.h"
#include "scsi.h"

#define BLOCKS	40000u
#define BS	512u

static struct mtest m;
static uint8_t *buf;			/* Data-Out scratch */

static void
setup(void)
{
	mtest_init(&m, BLOCKS, BS);
	buf = calloc(1, SCSI_MAX_XFER_BYTES + BS);
}

static void
teardown(void)
{
	free(buf);
	mtest_fini(&m);
}

/* Encode lba and n into a read/write-family CDB of op's size. */
static void
mkcdb(uint8_t *cdb, uint8_t op, uint64_t lba, uint32_t n)
{
	memset(cdb, 0, 16);
	cdb[0] = op;
	switch (op >> 5) {
	case 0:
		be24enc(cdb + 1, (uint32_t)lba & 0x1fffff);
		cdb[4] = (uint8_t)n;
		break;
	case 1: case 2:
		be32enc(cdb + 2, (uint32_t)lba);
		be16enc(cdb + 7, (uint16_t)n);
		break;
	case 5:
		be32enc(cdb + 2, (uint32_t)lba);
		be32enc(cdb + 6, n);
		break;
	default:
		be64enc(cdb + 2, lba);
		be32enc(cdb + 10, n);
	}
}

enum kind { K_READ, K_WRITE, K_VERIFY, K_NODATA, K_WSAME };

static const struct {
	const char	*name;
	uint8_t		 op;
	enum kind	 kind;
	int		 good;		/* status for a good command */
} rw[] = {
	{ "read-6", 0x08, K_READ, SCSI_GOOD },
	{ "read-10", 0x28, K_READ, SCSI_GOOD },
	{ "read-12", 0xa8, K_READ, SCSI_GOOD },
	{ "read-16", 0x88, K_READ, SCSI_GOOD },
	{ "write-6", 0x0a, K_WRITE, SCSI_GOOD },
	{ "write-10", 0x2a, K_WRITE, SCSI_GOOD },
	{ "write-12", 0xaa, K_WRITE, SCSI_GOOD },
	{ "write-16", 0x8a, K_WRITE, SCSI_GOOD },
	{ "write-and-verify-10", 0x2e, K_WRITE, SCSI_GOOD },
	{ "write-and-verify-12", 0xae, K_WRITE, SCSI_GOOD },
	{ "write-and-verify-16", 0x8e, K_WRITE, SCSI_GOOD },
	{ "orwrite-16", 0x8b, K_WRITE, SCSI_GOOD },
	{ "verify-10", 0x2f, K_VERIFY, SCSI_GOOD },
	{ "verify-12", 0xaf, K_VERIFY, SCSI_GOOD },
	{ "verify-16", 0x8f, K_VERIFY, SCSI_GOOD },
	{ "pre-fetch-10", 0x34, K_NODATA, SCSI_CONDITION_MET },
	{ "pre-fetch-16", 0x90, K_NODATA, SCSI_CONDITION_MET },
	{ "synchronize-cache-10", 0x35, K_NODATA, SCSI_GOOD },
	{ "synchronize-cache-16", 0x91, K_NODATA, SCSI_GOOD },
	{ "write-same-10", 0x41, K_WSAME, SCSI_GOOD },
	{ "write-same-16", 0x93, K_WSAME, SCSI_GOOD },
};
#define NRW	((int)(sizeof(rw) / sizeof(rw[0])))

/* Run rw[i] at lba for n blocks with the Data-Out it needs. */
static int
run_rw(int i, uint64_t lba, uint32_t n)
{
	uint8_t	 cdb[16];
	uint32_t blocks = (rw[i].op >> 5) == 0 && n == 0 ? 256 : n;

	mkcdb(cdb, rw[i].op, lba, n);
	switch (rw[i].kind) {
	case K_WRITE:
		return mtest_cmd(&m, cdb, buf, blocks * BS);
	case K_VERIFY:
		cdb[1] = 0x02;			/* BYTCHK 01b */
		return mtest_cmd(&m, cdb, buf, blocks * BS);
	case K_WSAME:
		return mtest_cmd(&m, cdb, buf, BS);
	default:
		return mtest_cmd(&m, cdb, NULL, 0);
	}
}

START_TEST(sbc__rw_good)
{
	ck_assert_msg(run_rw(_i, 0, 8) == rw[_i].good, "%s", rw[_i].name);
	ck_assert_msg(run_rw(_i, BLOCKS - 8, 8) == rw[_i].good, "%s",
	    rw[_i].name);
	if (rw[_i].kind == K_READ)
		ck_assert_uint_eq(m.mt_t.t_dinlen, 8 * BS);
}
END_TEST

static void
assert_oob(int i, uint64_t lba, uint32_t n)
{
	ck_assert_msg(run_rw(i, lba, n) == SCSI_CHECK_CONDITION,
	    "%s lba %llu n %u", rw[i].name, (unsigned long long)lba, n);
	ck_assert_int_eq(mtest_key(&m), SK_ILLEGAL_REQUEST);
	ck_assert_int_eq(mtest_asc(&m), ASC_LBA_OUT_OF_RANGE);
}

START_TEST(sbc__rw_beyond_end)
{
	assert_oob(_i, BLOCKS - 1, 2);
	assert_oob(_i, BLOCKS, 1);
	assert_oob(_i, BLOCKS + 1, 0);
	if ((rw[_i].op >> 5) != 0)
		assert_oob(_i, 0xffffffffULL, 1);
	if (rw[_i].op >= 0x80 && rw[_i].op < 0xa0)
		assert_oob(_i, 0xffffffffffffffffULL, 1);
}
END_TEST

START_TEST(sbc__rw_zero_blocks)
{
	int	 st = run_rw(_i, 0, 0);

	if (rw[_i].kind == K_WSAME) {		/* to the end: too many */
		ck_assert_int_eq(st, SCSI_CHECK_CONDITION);
		ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
		memset(buf, 'e', BS);
		ck_assert_int_eq(run_rw(_i, BLOCKS - 3, 0), SCSI_GOOD);
		ck_assert_uint_eq(m.mt_ms->ms_data[(BLOCKS - 3) * BS], 'e');
		ck_assert_uint_eq(m.mt_ms->ms_data[BLOCKS * BS - 1], 'e');
		ck_assert_int_eq(run_rw(_i, BLOCKS, 0), SCSI_GOOD);
		return;
	}
	ck_assert_msg(st == rw[_i].good, "%s", rw[_i].name);
	if (rw[_i].op == 0x08)			/* READ(6): 0 is 256 */
		ck_assert_uint_eq(m.mt_t.t_dinlen, 256 * BS);
	else if (rw[_i].kind == K_READ)
		ck_assert_uint_eq(m.mt_t.t_dinlen, 0);
}
END_TEST

/* RDPROTECT/WRPROTECT/VRPROTECT and the NACA bit are not supported. */
START_TEST(sbc__rw_reserved_bits)
{
	uint8_t	 cdb[16];
	int	 len = (rw[_i].op >> 5) == 0 ? 6 : (rw[_i].op >> 5) == 5 ?
	    12 : (rw[_i].op >> 5) == 4 ? 16 : 10;

	mkcdb(cdb, rw[_i].op, 0, 1);
	cdb[len - 1] = 0x04;			/* NACA */
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	if (len == 6)
		return;
	mkcdb(cdb, rw[_i].op, 0, 1);
	cdb[1] |= 0x20;
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Data movement */

START_TEST(sbc__read_write_roundtrip)
{
	uint8_t	 cdb[16];
	uint32_t i;

	for (i = 0; i < 16 * BS; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	mkcdb(cdb, 0x8a, 100, 16);
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, 16 * BS), SCSI_GOOD);
	ck_assert(memstore_mapped(m.mt_ms, 100));
	ck_assert(!memstore_mapped(m.mt_ms, 116));
	mkcdb(cdb, 0x28, 100, 16);
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(memcmp(m.mt_din, buf, 16 * BS), 0);
	mkcdb(cdb, 0x08, 104, 2);
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(memcmp(m.mt_din, buf + 4 * BS, 2 * BS), 0);
}
END_TEST

/* EDTL short of the CDB: the whole blocks received are written. */
START_TEST(sbc__write_short_dataout_writes_received_blocks)
{
	uint8_t	 cdb[16];

	memset(m.mt_ms->ms_data, 'a', 2 * BS);
	memset(buf, 'b', 2 * BS);
	mkcdb(cdb, 0x2a, 0, 2);
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_ms->ms_data[0], 'b');
	ck_assert_uint_eq(m.mt_ms->ms_data[BS], 'a');
	mkcdb(cdb, 0x2a, 1, 1);
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, 200), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_ms->ms_data[BS], 'a');
}
END_TEST

START_TEST(sbc__read_partial_buffer)
{
	uint8_t	 cdb[16];

	memset(m.mt_ms->ms_data, 'x', 2 * BS);
	memset(m.mt_din, 0, 1024);
	m.mt_dincap = 200;
	mkcdb(cdb, 0x28, 0, 2);
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_t.t_dinlen, 2 * BS);
	ck_assert_uint_eq(m.mt_din[199], 'x');
	ck_assert_uint_eq(m.mt_din[200], 0);
	m.mt_dincap = BS + 10;
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[BS + 9], 'x');
	ck_assert_uint_eq(m.mt_din[BS + 10], 0);
}
END_TEST

START_TEST(sbc__max_transfer_length)
{
	uint8_t	 cdb[16];

	mkcdb(cdb, 0x88, 0, SCSI_MAX_XFER_BYTES / BS + 1);
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	mkcdb(cdb, 0x8a, 0, SCSI_MAX_XFER_BYTES / BS + 1);
	mtest_cmd(&m, cdb, NULL, 0);
	ck_assert_uint_eq(m.mt_len, 0);		/* transport takes none */
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
}
END_TEST

START_TEST(sbc__fua_and_write_cache)
{
	uint8_t	 cdb[16];

	mkcdb(cdb, 0x2a, 0, 1);
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_GOOD);
	ck_assert_int_eq(m.mt_ms->ms_syncs, 0);
	cdb[1] = 0x08;				/* FUA */
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_GOOD);
	ck_assert_int_eq(m.mt_ms->ms_syncs, 1);
	cdb[1] = 0x10;				/* DPO */
	m.mt_nx->n_lunex[0].ln_mode.md_wce = 0;	/* write through */
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_GOOD);
	ck_assert_int_eq(m.mt_ms->ms_syncs, 2);
	mkcdb(cdb, 0x35, 0, 0);
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(m.mt_ms->ms_syncs, 3);
}
END_TEST

START_TEST(sbc__write_protected)
{
	static const uint8_t ops[] = { 0x0a, 0x2a, 0xaa, 0x8a, 0x2e, 0x8b,
	    0x41, 0x93 };
	uint8_t	 cdb[16], um[16] = { 0x42, 0, 0, 0, 0, 0, 0, 0, 24 };
	size_t	 i;

	m.mt_lu.lu_readonly = 1;
	for (i = 0; i < sizeof(ops); i++) {
		mkcdb(cdb, ops[i], 0, 1);
		ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS),
		    SCSI_CHECK_CONDITION);
		ck_assert_int_eq(mtest_key(&m), SK_DATA_PROTECT);
		ck_assert_int_eq(mtest_asc(&m), ASC_WRITE_PROTECTED);
	}
	mkcdb(cdb, 0x41, 0, 1);
	cdb[1] = 0x08;				/* UNMAP, no Data-Out */
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_WRITE_PROTECTED);
	memset(buf, 0, 24);
	be16enc(buf, 22);
	be16enc(buf + 2, 16);
	be32enc(buf + 16, 1);
	ck_assert_int_eq(mtest_cmd(&m, um, buf, 24), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_WRITE_PROTECTED);
	mkcdb(cdb, 0x28, 0, 1);
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_GOOD);
}
END_TEST

/* ---------------------------------------------------------------- */
/* WRITE ATOMIC(16): the memstore's unit is 8 blocks, its most 512 */

static int
watomic(uint64_t lba, uint32_t n, uint32_t sent)
{
	uint8_t	 cdb[16] = { 0x9c };

	be64enc(cdb + 2, lba);
	be16enc(cdb + 12, (uint16_t)n);
	return mtest_cmd(&m, cdb, buf, sent);
}

static void
refused_at(int asc, unsigned byte)
{
	uint32_t sks;

	ck_assert_int_eq(mtest_key(&m), SK_ILLEGAL_REQUEST);
	ck_assert_int_eq(mtest_asc(&m), asc);
	if (asc == ASC_INVALID_FIELD_IN_CDB) {
		ck_assert(mtest_sks(&m, &sks));
		ck_assert_uint_eq(sks & 0xffff, byte);
	}
	ck_assert_int_eq(m.mt_ms->ms_atomic_writes, 0);
}

START_TEST(sbc__write_atomic_writes_through_the_store)
{
	uint8_t	 cdb[16];

	memset(buf, 0xa6, 512 * BS);
	ck_assert_int_eq(watomic(8, 512, 512 * BS), SCSI_GOOD);
	ck_assert_int_eq(m.mt_ms->ms_atomic_writes, 1);
	ck_assert(memcmp(m.mt_ms->ms_data + 8 * BS, buf, 512 * BS) == 0);
	ck_assert_int_eq(watomic(BLOCKS - 8, 8, 8 * BS), SCSI_GOOD);
	ck_assert_int_eq(watomic(0, 0, 0), SCSI_GOOD);	/* no blocks */
	ck_assert_int_eq(m.mt_ms->ms_atomic_writes, 2);
	/* FUA: written, then synchronized */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x9c;
	cdb[1] = 0x08;
	be16enc(cdb + 12, 8);
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, 8 * BS), SCSI_GOOD);
	ck_assert_int_eq(m.mt_ms->ms_syncs, 1);
}
END_TEST

START_TEST(sbc__write_atomic_refusals)
{
	ck_assert_int_eq(watomic(BLOCKS - 8, 16, 16 * BS),
	    SCSI_CHECK_CONDITION);
	refused_at(ASC_LBA_OUT_OF_RANGE, 0);
	ck_assert_int_eq(watomic(1, 8, 8 * BS), SCSI_CHECK_CONDITION);
	refused_at(ASC_INVALID_FIELD_IN_CDB, 2);	/* alignment */
	ck_assert_int_eq(watomic(0, 1, BS), SCSI_CHECK_CONDITION);
	refused_at(ASC_INVALID_FIELD_IN_CDB, 12);	/* granularity */
	ck_assert_int_eq(watomic(0, 520, 520 * BS), SCSI_CHECK_CONDITION);
	refused_at(ASC_INVALID_FIELD_IN_CDB, 12);	/* past the most */
	ck_assert_int_eq(watomic(0, 16, 8 * BS), SCSI_CHECK_CONDITION);
	refused_at(ASC_INVALID_FIELD_IN_CDB, 12);	/* short: nothing */
	m.mt_lu.lu_readonly = 1;
	ck_assert_int_eq(watomic(0, 8, 8 * BS), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_key(&m), SK_DATA_PROTECT);
	m.mt_lu.lu_readonly = 0;
	m.mt_ms->ms_atomic_max = 0;			/* the store has none */
	ck_assert_int_eq(watomic(0, 8, 8 * BS), SCSI_CHECK_CONDITION);
	refused_at(ASC_INVALID_OPCODE, 0);
}
END_TEST

static const struct {
	uint8_t	 op;
	int	 rc, key, asc;
} ioerr[] = {
	{ 0x28, -EIO, SK_MEDIUM_ERROR, ASC_READ_ERROR },
	{ 0x2a, -EIO, SK_MEDIUM_ERROR, ASC_WRITE_ERROR },
	{ 0x2a, -ENOSPC, SK_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED },
	{ 0x2a, -EDQUOT, SK_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED },
	{ 0x41, -ENOSPC, SK_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED },
	{ 0x28, -EAGAIN, SK_NOT_READY, ASC_BECOMING_READY },
	{ 0x2a, -EAGAIN, SK_NOT_READY, ASC_BECOMING_READY },
};

START_TEST(sbc__store_errors)
{
	uint8_t	 cdb[16];

	buf[0] = 1;
	mkcdb(cdb, ioerr[_i].op, 0, 1);
	if (ioerr[_i].op == 0x28)
		m.mt_ms->ms_fail_read = ioerr[_i].rc;
	else
		m.mt_ms->ms_fail_write = ioerr[_i].rc;
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, ioerr[_i].op == 0x28 ? 0 :
	    BS), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_key(&m), ioerr[_i].key);
	ck_assert_int_eq(mtest_asc(&m), ioerr[_i].asc);
}
END_TEST

/* ---------------------------------------------------------------- */
/* VERIFY, ORWRITE, COMPARE AND WRITE */

START_TEST(sbc__verify_miscompare_offset)
{
	uint8_t	 cdb[16];
	uint64_t info;

	memset(m.mt_ms->ms_data + 10 * BS, 'v', 4 * BS);
	memset(buf, 'v', 4 * BS);
	mkcdb(cdb, 0x8f, 10, 4);
	cdb[1] = 0x02;
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, 4 * BS), SCSI_GOOD);
	buf[3 * BS + 27] = 'X';
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, 4 * BS),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_key(&m), SK_MISCOMPARE);
	ck_assert_int_eq(mtest_asc(&m), ASC_MISCOMPARE_DURING_VERIFY);
	ck_assert(mtest_info(&m, &info));
	ck_assert_uint_eq(info, 3 * BS + 27);
	cdb[1] = 0x00;				/* no compare */
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, 4 * BS), SCSI_GOOD);
	cdb[1] = 0x06;				/* BYTCHK 11b: one block */
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_GOOD);
	m.mt_ms->ms_data[12 * BS + 5] = 'Y';
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_CHECK_CONDITION);
	ck_assert(mtest_info(&m, &info));
	ck_assert_uint_eq(info, 2 * BS + 5);
	cdb[1] = 0x04;				/* BYTCHK 10b reserved */
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
}
END_TEST

/*
 * Run the held command's steps, at most most of them, each moving no
 * more than SCSI_STEP_BYTES of the medium: how many ran.
 */
static int
held_steps(int most)
{
	uint64_t io;
	int	 n, more = m.mt_t.t_step != NULL;

	for (n = 0; more && n < most; n++) {
		io = m.mt_ms->ms_io_bytes;
		more = scsi_task_step(&m.mt_t);
		ck_assert_uint_le(m.mt_ms->ms_io_bytes - io, SCSI_STEP_BYTES);
	}
	return n;
}

/* VERIFY(16) BYTCHK 11b: n blocks at lba against one block. */
static int
verify_same(uint64_t lba, uint32_t n)
{
	uint8_t	 cdb[16];

	mkcdb(cdb, 0x8f, lba, n);
	cdb[1] = 0x06;
	return mtest_cmd(&m, cdb, buf, BS);
}

/* The handler does one step; each later one is bounded too. */
START_TEST(sbc__verify_bytchk3_runs_in_bounded_steps)
{
	uint64_t whole = (uint64_t)BLOCKS * BS;

	memset(buf, 0, BS);
	m.mt_hold = 1;
	ck_assert_int_eq(verify_same(0, BLOCKS), SCSI_GOOD);
	ck_assert_uint_le(m.mt_ms->ms_io_bytes, SCSI_STEP_BYTES);
	ck_assert_ptr_nonnull(m.mt_t.t_step);
	ck_assert_int_ge(held_steps(1000), (int)(whole / SCSI_STEP_BYTES) - 1);
	ck_assert_ptr_null(m.mt_t.t_step);
	ck_assert_int_eq(m.mt_t.t_status, SCSI_GOOD);
	ck_assert_uint_eq(m.mt_ms->ms_io_bytes, whole);
}
END_TEST

START_TEST(sbc__verify_bytchk3_miscompare_in_a_late_step)
{
	uint64_t info;

	memset(buf, 0, BS);
	m.mt_ms->ms_data[30000 * BS + 7] = 'Z';
	ck_assert_int_eq(verify_same(100, BLOCKS - 100),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_gt(m.mt_steps, 1);
	ck_assert_int_eq(mtest_key(&m), SK_MISCOMPARE);
	ck_assert(mtest_info(&m, &info));
	ck_assert_uint_eq(info, (30000 - 100) * BS + 7);
	ck_assert_ptr_null(m.mt_t.t_step);
}
END_TEST

/* Task management between two steps: nothing more is read. */
START_TEST(sbc__verify_aborted_between_steps)
{
	uint64_t io;

	memset(buf, 0, BS);
	m.mt_hold = 1;
	ck_assert_int_eq(verify_same(0, BLOCKS), SCSI_GOOD);
	ck_assert_int_eq(held_steps(3), 3);
	io = m.mt_ms->ms_io_bytes;
	scsi_task_abort(&m.mt_t);
	ck_assert_int_eq(m.mt_t.t_status, SCSI_TASK_ABORTED);
	ck_assert_ptr_null(m.mt_t.t_step);
	ck_assert_int_eq(held_steps(10), 0);
	ck_assert_uint_eq(m.mt_ms->ms_io_bytes, io);
	ck_assert_uint_lt(io, (uint64_t)BLOCKS * BS);
}
END_TEST

/*
 * What began a command is looked at again before each step: a sanitize
 * started meanwhile, a RESERVE(6) another nexus took, end it.
 */
START_TEST(sbc__steps_end_on_a_sanitize_or_a_reservation)
{
	static const uint8_t reserve6[16] = { 0x16 };
	struct scsi_nexus *nx2;
	struct scsi_task held;
	uint8_t	 cdb[16];

	memset(buf, 0, BS);
	m.mt_hold = 1;
	ck_assert_int_eq(verify_same(0, BLOCKS), SCSI_GOOD);
	m.mt_ms->ms_san_state = SCSI_SANITIZE_RUNNING;
	ck_assert_int_eq(held_steps(10), 1);
	ck_assert_int_eq(mtest_key(&m), SK_NOT_READY);
	ck_assert_int_eq(mtest_asc(&m), ASC_NOT_READY_SANITIZE);
	m.mt_ms->ms_san_state = SCSI_SANITIZE_IDLE;

	mkcdb(cdb, 0x93, 0, sbc_max_ws(&m.mt_lu));
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_GOOD);
	ck_assert_ptr_nonnull(m.mt_t.t_step);
	held = m.mt_t;			/* mtest_run reuses m.mt_t */
	nx2 = mtest_nexus("iqn.2025-01.pub.scsipub:disk", 1);
	scsi_nexus_attach(nx2, 0, &m.mt_lu);
	mtest_clear_ua(&m, nx2, 0);
	ck_assert_int_eq(mtest_run(&m, nx2, 0, reserve6, NULL, 0), SCSI_GOOD);
	m.mt_t = held;
	ck_assert_int_eq(held_steps(10), 1);
	ck_assert_int_eq(m.mt_t.t_status, SCSI_RESERVATION_CONFLICT);
	ck_assert_ptr_null(m.mt_t.t_step);
	scsi_nexus_detach(nx2);
	free(nx2);
}
END_TEST

START_TEST(sbc__orwrite_ors_data)
{
	uint8_t	 cdb[16];

	memset(m.mt_ms->ms_data + 5 * BS, 0xa5, 2 * BS);
	memset(buf, 0x5a, 2 * BS);
	mkcdb(cdb, 0x8b, 5, 2);
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, 2 * BS), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_ms->ms_data[5 * BS], 0xff);
	ck_assert_uint_eq(m.mt_ms->ms_data[7 * BS - 1], 0xff);
	ck_assert_uint_eq(m.mt_ms->ms_data[7 * BS], 0);
}
END_TEST

static int
caw(uint64_t lba, uint8_t n, const uint8_t *d, uint32_t len, uint32_t edtl)
{
	uint8_t	 cdb[16] = { 0x89 };

	be64enc(cdb + 2, lba);
	cdb[13] = n;
	m.mt_edtl = edtl;
	return mtest_cmd(&m, cdb, d, len);
}

START_TEST(sbc__compare_and_write)
{
	uint64_t info;

	memset(m.mt_ms->ms_data + 8 * BS, 'A', 2 * BS);
	memset(buf, 'A', 2 * BS);
	memset(buf + 2 * BS, 'B', 2 * BS);
	ck_assert_int_eq(caw(8, 2, buf, 4 * BS, 4 * BS), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_ms->ms_data[8 * BS], 'B');
	ck_assert_uint_eq(m.mt_ms->ms_data[10 * BS - 1], 'B');
	/* now the medium holds B: comparing against A miscompares */
	buf[2 * BS - 27] = 'C';
	ck_assert_int_eq(caw(8, 2, buf, 4 * BS, 4 * BS), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_key(&m), SK_MISCOMPARE);
	ck_assert_int_eq(mtest_asc(&m), ASC_MISCOMPARE_DURING_VERIFY);
	ck_assert(mtest_info(&m, &info));
	ck_assert_uint_eq(info, 0);
	ck_assert_uint_eq(m.mt_ms->ms_data[8 * BS], 'B');
	ck_assert_int_eq(caw(8, 0, NULL, 0, 0), SCSI_GOOD);
	ck_assert_int_eq(caw(8, 0, buf, BS, BS), SCSI_GOOD);	/* overflow */
}
END_TEST

START_TEST(sbc__compare_and_write_bad_sizes)
{
	ck_assert_int_eq(caw(0, 1, buf, 2 * BS, 4 * BS), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_key(&m), SK_ILLEGAL_REQUEST);
	ck_assert_int_eq(caw(0, 3, buf, 4 * BS, 4 * BS), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_key(&m), SK_ILLEGAL_REQUEST);
	ck_assert_int_eq(caw(0, 0, buf, BS, 256 * 2 * BS),
	    SCSI_CHECK_CONDITION);		/* 256 blocks wrapped to 0 */
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	ck_assert_int_eq(caw(BLOCKS - 1, 2, buf, 4 * BS, 4 * BS),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_LBA_OUT_OF_RANGE);
}
END_TEST

/* ---------------------------------------------------------------- */
/* WRITE SAME, UNMAP, GET LBA STATUS */

static int
gls(uint64_t lba, uint32_t alloc)
{
	uint8_t	 cdb[16] = { 0x9e, 0x12 };

	be64enc(cdb + 2, lba);
	be32enc(cdb + 10, alloc);
	return mtest_cmd(&m, cdb, NULL, 0);
}

START_TEST(sbc__write_same_fills_and_unmaps)
{
	uint8_t	 cdb[16];
	uint32_t i;

	memset(buf, 'w', BS);
	mkcdb(cdb, 0x93, 20, 300);
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_GOOD);
	for (i = 20; i < 320; i++)
		ck_assert_uint_eq(m.mt_ms->ms_data[i * BS + BS - 1], 'w');
	ck_assert_uint_eq(m.mt_ms->ms_data[320 * BS], 0);
	cdb[1] = 0x08;				/* UNMAP: data ignored */
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_GOOD);
	ck_assert(!memstore_mapped(m.mt_ms, 20));
	ck_assert_uint_eq(m.mt_ms->ms_data[20 * BS], 0);
	ck_assert_int_eq(m.mt_ms->ms_unmaps, 1);
	cdb[1] = 0x01;				/* NDOB writes zeros */
	mkcdb(cdb, 0x93, 0, 4);
	cdb[1] = 0x01;
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_GOOD);
	ck_assert(memstore_mapped(m.mt_ms, 3));
	ck_assert_uint_eq(m.mt_len, 0);
}
END_TEST

START_TEST(sbc__write_same_rejects)
{
	uint8_t	 cdb[16];

	mkcdb(cdb, 0x41, 0, 1);
	cdb[1] = 0x08;
	m.mt_edtl = BS / 2;			/* too small Data-Out */
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS / 2),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_key(&m), SK_ILLEGAL_REQUEST);
	m.mt_edtl = 2 * BS;			/* too large */
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_CHECK_CONDITION);
	m.mt_edtl = 0;
	cdb[1] = 0x18;				/* ANCHOR: not supported */
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	m.mt_lu.lu_blocks = 1u << 24;		/* fails before any I/O */
	mkcdb(cdb, 0x93, 0, sbc_max_ws(&m.mt_lu) + 1);
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	m.mt_lu.lu_blocks = BLOCKS;
}
END_TEST

/* As many blocks as one WRITE SAME may: written a step at a time. */
START_TEST(sbc__write_same_runs_in_bounded_steps)
{
	uint8_t	 cdb[16];
	uint32_t n = sbc_max_ws(&m.mt_lu);

	ck_assert_uint_gt((uint64_t)n * BS, 4 * SCSI_STEP_BYTES);
	memset(buf, 'S', BS);
	mkcdb(cdb, 0x93, 0, n);
	m.mt_hold = 1;
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_GOOD);
	ck_assert_uint_le(m.mt_ms->ms_io_bytes, SCSI_STEP_BYTES);
	ck_assert_uint_eq(m.mt_ms->ms_data[(uint64_t)(n - 1) * BS], 0);
	ck_assert_int_ge(held_steps(1000), 3);
	ck_assert_int_eq(m.mt_t.t_status, SCSI_GOOD);
	ck_assert_uint_eq(m.mt_ms->ms_data[(uint64_t)(n - 1) * BS], 'S');
	ck_assert_uint_eq(m.mt_ms->ms_data[(uint64_t)n * BS], 0);
	cdb[1] = 0x08;				/* UNMAP, aborted half-way */
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BS), SCSI_GOOD);
	ck_assert_int_eq(held_steps(1), 1);
	scsi_task_abort(&m.mt_t);
	ck_assert(!memstore_mapped(m.mt_ms, 0));
	ck_assert(memstore_mapped(m.mt_ms, n - 1));
}
END_TEST

/* Build an UNMAP parameter list of n descriptors into buf. */
static uint32_t
unmap_list(uint32_t n, const uint64_t *lba, const uint32_t *cnt)
{
	uint32_t i;

	memset(buf, 0, 8 + 16 * n);
	be16enc(buf, (uint16_t)(6 + 16 * n));
	be16enc(buf + 2, (uint16_t)(16 * n));
	for (i = 0; i < n; i++) {
		be64enc(buf + 8 + 16 * i, lba[i]);
		be32enc(buf + 8 + 16 * i + 8, cnt[i]);
	}
	return 8 + 16 * n;
}

static int
unmap(uint32_t plen, uint32_t doutlen)
{
	uint8_t	 cdb[16] = { 0x42 };

	be16enc(cdb + 7, (uint16_t)plen);
	return mtest_cmd(&m, cdb, buf, doutlen);
}

START_TEST(sbc__unmap_deallocates)
{
	static const uint64_t lba[] = { 4, 100, BLOCKS };
	static const uint32_t cnt[] = { 4, 1, 0 };
	uint8_t	 cdb[16];
	uint32_t len;

	mkcdb(cdb, 0x8a, 0, 200);
	memset(buf, 'u', 200 * BS);
	ck_assert_int_eq(mtest_cmd(&m, cdb, buf, 200 * BS), SCSI_GOOD);
	len = unmap_list(3, lba, cnt);
	ck_assert_int_eq(unmap(len, len), SCSI_GOOD);
	ck_assert(memstore_mapped(m.mt_ms, 3));
	ck_assert(!memstore_mapped(m.mt_ms, 4));
	ck_assert(!memstore_mapped(m.mt_ms, 7));
	ck_assert(memstore_mapped(m.mt_ms, 8));
	ck_assert(!memstore_mapped(m.mt_ms, 100));
	ck_assert_uint_eq(m.mt_ms->ms_data[4 * BS], 0);
	ck_assert_int_eq(gls(4, 1024), SCSI_GOOD);
	ck_assert_uint_eq(be64dec(m.mt_din + 8), 4);
	ck_assert_uint_eq(be32dec(m.mt_din + 16), 4);
	ck_assert_uint_eq(m.mt_din[20], 0x01);	/* deallocated */
	ck_assert_uint_eq(be64dec(m.mt_din + 24), 8);
	ck_assert_uint_eq(be32dec(m.mt_din + 32), 92);
	ck_assert_uint_eq(m.mt_din[36], 0x00);	/* mapped */
	ck_assert_int_eq(gls(8, 24), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_t.t_dinlen, 24);
	ck_assert_uint_eq(be32dec(m.mt_din), 20);
}
END_TEST

/* Descriptors of more than a step's worth: deallocated a step at a time. */
START_TEST(sbc__unmap_runs_in_bounded_steps)
{
	static const uint64_t lba[] = { 0, 10000, 30000 };
	static const uint32_t cnt[] = { 3000, 3000, 3000 };
	uint8_t	 cdb[16];
	uint32_t len, i;

	for (i = 0; i < 2; i++) {		/* all of it mapped */
		mkcdb(cdb, 0x8a, i * (BLOCKS / 2), BLOCKS / 2);
		ck_assert_int_eq(mtest_cmd(&m, cdb, buf, BLOCKS / 2 * BS),
		    SCSI_GOOD);
	}
	m.mt_ms->ms_io_bytes = 0;
	len = unmap_list(3, lba, cnt);
	m.mt_hold = 1;
	ck_assert_int_eq(unmap(len, len), SCSI_GOOD);
	ck_assert_uint_le(m.mt_ms->ms_io_bytes, SCSI_STEP_BYTES);
	ck_assert_ptr_nonnull(m.mt_t.t_step);
	ck_assert(memstore_mapped(m.mt_ms, 30000));
	ck_assert_int_ge(held_steps(100), 3);
	ck_assert_int_eq(m.mt_t.t_status, SCSI_GOOD);
	for (i = 0; i < 3; i++) {
		ck_assert(!memstore_mapped(m.mt_ms, lba[i]));
		ck_assert(!memstore_mapped(m.mt_ms, lba[i] + cnt[i] - 1));
		ck_assert(memstore_mapped(m.mt_ms, lba[i] + cnt[i]));
	}
	ck_assert_uint_eq(m.mt_ms->ms_io_bytes, 9000 * BS);
}
END_TEST

START_TEST(sbc__unmap_parameter_checks)
{
	static const uint64_t lba[] = { BLOCKS - 1, 0 };
	static const uint32_t cnt[] = { 2, 1 };
	uint32_t len;

	ck_assert_int_eq(unmap(0, 0), SCSI_GOOD);
	ck_assert_int_eq(unmap(4, 4), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_PARAM_LIST_LENGTH_ERROR);
	ck_assert_int_eq(unmap(8, 8), SCSI_GOOD);	/* no descriptors */
	len = unmap_list(2, lba, cnt);
	ck_assert_int_eq(unmap(len, len), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_LBA_OUT_OF_RANGE);
	ck_assert_int_eq(m.mt_ms->ms_unmaps, 0);	/* nothing done */
	ck_assert_int_eq(unmap(len, len - 1), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_PARAM_LIST_LENGTH_ERROR);
	be16enc(buf + 2, 16 * (SCSI_MAX_UNMAP_DESC + 1));
	len = 8 + 16 * (SCSI_MAX_UNMAP_DESC + 1);
	memset(buf + 8, 0, len - 8);
	ck_assert_int_eq(unmap(len, len), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_PARAM_LIST);
}
END_TEST

START_TEST(sbc__get_lba_status_beyond_end)
{
	ck_assert_int_eq(gls(BLOCKS, 24), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_LBA_OUT_OF_RANGE);
	ck_assert_int_eq(gls(0xffffffffffffffffULL, 24), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(gls(BLOCKS - 1, 24), SCSI_GOOD);
	ck_assert_uint_eq(be32dec(m.mt_din + 16), 1);
}
END_TEST

/* ---------------------------------------------------------------- */
/* READ CAPACITY, READ DEFECT DATA */

START_TEST(sbc__read_capacity)
{
	uint8_t	 rc10[16] = { 0x25 }, rc16[16] = { 0x9e, 0x10 };

	ck_assert_int_eq(mtest_cmd(&m, rc10, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(be32dec(m.mt_din), BLOCKS - 1);
	ck_assert_uint_eq(be32dec(m.mt_din + 4), BS);
	rc10[5] = 1;				/* LBA without PMI */
	ck_assert_int_eq(mtest_cmd(&m, rc10, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	be32enc(rc16 + 10, 32);
	ck_assert_int_eq(mtest_cmd(&m, rc16, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_t.t_dinlen, 32);
	ck_assert_uint_eq(be64dec(m.mt_din), BLOCKS - 1);
	ck_assert_uint_eq(be32dec(m.mt_din + 8), BS);
	ck_assert_uint_eq(m.mt_din[12], 0);		/* no protection */
	ck_assert_uint_eq(m.mt_din[13], 0);		/* LBPPBE */
	ck_assert_uint_eq(m.mt_din[14] & 0xc0, 0xc0);	/* LBPME LBPRZ */
	be32enc(rc16 + 10, 0);
	ck_assert_int_eq(mtest_cmd(&m, rc16, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_t.t_dinlen, 0);
}
END_TEST

START_TEST(sbc__read_defect_data)
{
	uint8_t	 r10[16] = { 0x37, 0, 0x18, 0, 0, 0, 0, 0, 32 };
	uint8_t	 r12[16] = { 0xb7, 0x1d, 0, 0, 0, 0, 0, 0, 0, 32 };

	ck_assert_int_eq(mtest_cmd(&m, r10, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_t.t_dinlen, 4);
	ck_assert_uint_eq(m.mt_din[1], 0x18);
	ck_assert_uint_eq(be16dec(m.mt_din + 2), 0);
	ck_assert_int_eq(mtest_cmd(&m, r12, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_t.t_dinlen, 8);
	ck_assert_uint_eq(m.mt_din[1], 0x1d);
	ck_assert_uint_eq(be32dec(m.mt_din + 4), 0);
}
END_TEST

/* ---------------------------------------------------------------- */
/* SANITIZE (worker/scsi/sanitize.c) over the memstore */

#define SAN_IMMED	0x80
#define SAN_AUSE	0x20

static int
sanitize(uint8_t b1, uint16_t plen, const uint8_t *p)
{
	uint8_t	 cdb[16] = { 0x48 };

	cdb[1] = b1;
	be16enc(cdb + 7, plen);
	return mtest_cmd(&m, cdb, p, plen);
}

/* OVERWRITE's parameter list: count 1, ipl bytes of pattern c. */
static uint16_t
overwrite_list(uint8_t *p, uint16_t ipl, uint8_t c)
{
	memset(p, 0, 4 + ipl);
	p[0] = 0x01;
	be16enc(p + 2, ipl);
	memset(p + 4, c, ipl);
	return (uint16_t)(4 + ipl);
}

static void
sense_is(int key, int asc)
{
	ck_assert_int_eq(m.mt_t.t_status, SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_key(&m), key);
	ck_assert_int_eq(mtest_asc(&m), asc);
}

/*
 * While it runs, commands end NOT READY with the progress, but INQUIRY,
 * REPORT LUNS and REQUEST SENSE; after it, every block is the pattern.
 */
START_TEST(sbc__sanitize_overwrite_runs_in_the_background)
{
	uint8_t	 p[4 + BS], tur[16] = { 0 }, inq[16] = { 0x12, 0, 0, 0, 96 };
	uint8_t	 rl[16] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	uint8_t	 rs[16] = { 0x03, 0, 0, 0, 64 }, cdb[16];
	uint32_t sks;

	ck_assert_int_eq(sanitize(0x01 | SAN_IMMED, overwrite_list(p, 3,
	    0xaa), p), SCSI_GOOD);
	ck_assert_int_eq(m.mt_t.t_wait, 0);
	ck_assert_int_eq(m.mt_ms->ms_san_state, SCSI_SANITIZE_RUNNING);
	ck_assert_int_eq(mtest_cmd(&m, tur, NULL, 0), SCSI_CHECK_CONDITION);
	sense_is(SK_NOT_READY, ASC_NOT_READY_SANITIZE);
	ck_assert(mtest_sks(&m, &sks));
	ck_assert_uint_eq(sks & 0xffff, 0x8000);
	mkcdb(cdb, 0x28, 0, 1);
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_CHECK_CONDITION);
	sense_is(SK_NOT_READY, ASC_NOT_READY_SANITIZE);
	ck_assert_int_eq(sanitize(0x02, 0, NULL), SCSI_CHECK_CONDITION);
	sense_is(SK_NOT_READY, ASC_NOT_READY_SANITIZE);
	ck_assert_int_eq(mtest_cmd(&m, inq, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(mtest_cmd(&m, rl, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(mtest_cmd(&m, rs, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[2] & 0x0f, SK_NOT_READY);
	ck_assert_uint_eq(be16dec(m.mt_din + 12), ASC_NOT_READY_SANITIZE);
	memstore_sanitize_end(m.mt_ms, 0);
	ck_assert_int_eq(mtest_cmd(&m, tur, NULL, 0), SCSI_GOOD);
	/* the pattern starts again at each block */
	ck_assert_uint_eq(m.mt_ms->ms_san_pattern[0], 0xaa);
	ck_assert_uint_eq(m.mt_ms->ms_san_pattern[BS - 1], 0xaa);
	ck_assert_uint_eq(m.mt_ms->ms_data[BLOCKS * BS - 1], 0xaa);
	/* with IMMED clear, the status waits for the end */
	ck_assert_int_eq(sanitize(0x02, 0, NULL), SCSI_GOOD);
	ck_assert_int_eq(m.mt_t.t_wait, 1);
	ck_assert_int_eq(m.mt_ms->ms_san_method, SCSI_SANITIZE_ERASE);
}
END_TEST

START_TEST(sbc__sanitize_parameter_checks)
{
	uint8_t	 p[8 + BS];
	uint16_t n;
	int	 sa;

	for (n = 0; n <= 4; n++) {
		ck_assert_int_eq(sanitize(0x01, n, p), SCSI_CHECK_CONDITION);
		sense_is(SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	}
	ck_assert_int_eq(sanitize(0x01, BS + 5, p), SCSI_CHECK_CONDITION);
	sense_is(SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	n = overwrite_list(p, BS, 0xaa);
	p[0] = 0;				/* OVERWRITE COUNT 0 */
	ck_assert_int_eq(sanitize(0x01, n, p), SCSI_CHECK_CONDITION);
	sense_is(SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM_LIST);
	n = overwrite_list(p, BS, 0xaa);
	be16enc(p + 2, 0);			/* no pattern */
	ck_assert_int_eq(sanitize(0x01, n, p), SCSI_CHECK_CONDITION);
	sense_is(SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM_LIST);
	be16enc(p + 2, BS + 4);			/* longer than a block */
	ck_assert_int_eq(sanitize(0x01, n, p), SCSI_CHECK_CONDITION);
	sense_is(SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM_LIST);
	/* BLOCK ERASE and EXIT FAILURE MODE take no parameter list */
	ck_assert_int_eq(sanitize(0x02, 8, p), SCSI_CHECK_CONDITION);
	sense_is(SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	ck_assert_int_eq(sanitize(0x1f, 8, p), SCSI_CHECK_CONDITION);
	sense_is(SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	ck_assert_int_eq(sanitize(0x02 | 0x40, 0, NULL), SCSI_CHECK_CONDITION);
	sense_is(SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	/* CRYPTO ERASE and the reserved service actions are not offered */
	for (sa = 0; sa < 0x1f; sa++) {
		if (sa == 0x01 || sa == 0x02)
			continue;
		ck_assert_int_eq(sanitize((uint8_t)sa, 0, NULL),
		    SCSI_CHECK_CONDITION);
		sense_is(SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	}
	ck_assert_int_eq(m.mt_ms->ms_sanitizes, 0);
}
END_TEST

/*
 * A failed sanitize: MEDIUM ERROR until EXIT FAILURE MODE (if it had
 * AUSE) or another sanitize (with AUSE clear if it had it clear).
 */
START_TEST(sbc__sanitize_failure_mode)
{
	uint8_t	 tur[16] = { 0 };

	ck_assert_int_eq(sanitize(0x1f, 0, NULL), SCSI_GOOD);	/* no-op */
	ck_assert_int_eq(sanitize(0x02 | SAN_AUSE, 0, NULL), SCSI_GOOD);
	memstore_sanitize_end(m.mt_ms, 1);
	ck_assert_int_eq(mtest_cmd(&m, tur, NULL, 0), SCSI_CHECK_CONDITION);
	sense_is(SK_MEDIUM_ERROR, ASC_SANITIZE_FAILED);
	ck_assert_int_eq(sanitize(0x1f, 0, NULL), SCSI_GOOD);
	ck_assert_int_eq(mtest_cmd(&m, tur, NULL, 0), SCSI_GOOD);
	/* restricted: EXIT refused, only a sanitize without AUSE */
	ck_assert_int_eq(sanitize(0x02, 0, NULL), SCSI_GOOD);
	memstore_sanitize_end(m.mt_ms, 1);
	ck_assert_int_eq(sanitize(0x1f, 0, NULL), SCSI_CHECK_CONDITION);
	sense_is(SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	ck_assert_int_eq(sanitize(0x02 | SAN_AUSE, 0, NULL),
	    SCSI_CHECK_CONDITION);
	sense_is(SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
	ck_assert_int_eq(sanitize(0x02, 0, NULL), SCSI_GOOD);
	memstore_sanitize_end(m.mt_ms, 0);
	ck_assert_int_eq(mtest_cmd(&m, tur, NULL, 0), SCSI_GOOD);
}
END_TEST

/* SANITIZE erases the LU for every nexus: any nexus's SWP stops it. */
START_TEST(sbc__sanitize_honours_every_swp)
{
	struct scsi_nexus *nx = mtest_nexus("iqn.2025-01.test:other", 1);
	uint8_t	 ms[16] = { 0x1a, 0x08, 0x0a, 0, 64 };
	uint8_t	 sel[16] = { 0x15, 0x10, 0, 0, 16 }, p[16];

	scsi_nexus_attach(nx, 0, &m.mt_lu);
	mtest_clear_ua(&m, nx, 0);
	ck_assert_int_eq(mtest_run(&m, nx, 0, ms, NULL, 0), SCSI_GOOD);
	memcpy(p + 4, m.mt_din + 4, 12);
	memset(p, 0, 4);
	p[4 + 4] |= 0x08;			/* SWP, the other nexus's */
	ck_assert_int_eq(mtest_run(&m, nx, 0, sel, p, 16), SCSI_GOOD);
	ck_assert_int_eq(m.mt_ms->ms_wp_holds, 1);
	ck_assert_int_eq(sanitize(0x02, 0, NULL), SCSI_CHECK_CONDITION);
	sense_is(SK_DATA_PROTECT, ASC_SOFTWARE_WRITE_PROTECTED);
	scsi_nexus_detach(nx);			/* its SWP goes with it */
	free(nx);
	ck_assert_int_eq(m.mt_ms->ms_wp_holds, 0);
	m.mt_ms->ms_wp_elsewhere = 1;		/* a nexus of another worker */
	ck_assert_int_eq(sanitize(0x02, 0, NULL), SCSI_CHECK_CONDITION);
	sense_is(SK_DATA_PROTECT, ASC_SOFTWARE_WRITE_PROTECTED);
	m.mt_ms->ms_wp_elsewhere = 0;
	m.mt_lu.lu_readonly = 1;
	ck_assert_int_eq(sanitize(0x02, 0, NULL), SCSI_CHECK_CONDITION);
	sense_is(SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
	ck_assert_int_eq(m.mt_ms->ms_sanitizes, 0);
}
END_TEST

Suite *
sbc_suite(void)
{
	Suite	*s = suite_create("sbc");
	TCase	*tc = tcase_create("sbc");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, sbc__rw_good, 0, NRW);
	tcase_add_loop_test(tc, sbc__rw_beyond_end, 0, NRW);
	tcase_add_loop_test(tc, sbc__rw_zero_blocks, 0, NRW);
	tcase_add_loop_test(tc, sbc__rw_reserved_bits, 0, NRW);
	tcase_add_test(tc, sbc__read_write_roundtrip);
	tcase_add_test(tc, sbc__write_short_dataout_writes_received_blocks);
	tcase_add_test(tc, sbc__read_partial_buffer);
	tcase_add_test(tc, sbc__max_transfer_length);
	tcase_add_test(tc, sbc__fua_and_write_cache);
	tcase_add_test(tc, sbc__write_protected);
	tcase_add_test(tc, sbc__write_atomic_writes_through_the_store);
	tcase_add_test(tc, sbc__write_atomic_refusals);
	tcase_add_loop_test(tc, sbc__store_errors, 0,
	    sizeof(ioerr) / sizeof(ioerr[0]));
	tcase_add_test(tc, sbc__verify_miscompare_offset);
	tcase_add_test(tc, sbc__verify_bytchk3_runs_in_bounded_steps);
	tcase_add_test(tc, sbc__verify_bytchk3_miscompare_in_a_late_step);
	tcase_add_test(tc, sbc__verify_aborted_between_steps);
	tcase_add_test(tc, sbc__steps_end_on_a_sanitize_or_a_reservation);
	tcase_add_test(tc, sbc__orwrite_ors_data);
	tcase_add_test(tc, sbc__compare_and_write);
	tcase_add_test(tc, sbc__compare_and_write_bad_sizes);
	tcase_add_test(tc, sbc__write_same_fills_and_unmaps);
	tcase_add_test(tc, sbc__write_same_rejects);
	tcase_add_test(tc, sbc__write_same_runs_in_bounded_steps);
	tcase_add_test(tc, sbc__unmap_deallocates);
	tcase_add_test(tc, sbc__unmap_runs_in_bounded_steps);
	tcase_add_test(tc, sbc__unmap_parameter_checks);
	tcase_add_test(tc, sbc__get_lba_status_beyond_end);
	tcase_add_test(tc, sbc__read_capacity);
	tcase_add_test(tc, sbc__read_defect_data);
	suite_add_tcase(s, tc);
	tc = tcase_create("sanitize");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, sbc__sanitize_overwrite_runs_in_the_background);
	tcase_add_test(tc, sbc__sanitize_parameter_checks);
	tcase_add_test(tc, sbc__sanitize_failure_mode);
	tcase_add_test(tc, sbc__sanitize_honours_every_swp);
	suite_add_tcase(s, tc);
	return s;
}
