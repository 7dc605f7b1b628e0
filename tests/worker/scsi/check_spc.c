/*
 * worker/scsi/spc.c: INQUIRY and VPD pages, REPORT LUNS, mode pages,
 * REPORT SUPPORTED OPERATION CODES and TASK MANAGEMENT FUNCTIONS,
 * EXTENDED COPY.
 */
#include <sys/queue.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "memstore.h"
#include "scsi.h"

#define BLOCKS	4096
#define BS	512

static struct mtest m;

static void
setup(void)
{
	mtest_init(&m, BLOCKS, BS);
}

static void
teardown(void)
{
	mtest_fini(&m);
}

static int
inquiry(int evpd, int page, uint16_t alloc)
{
	uint8_t	 cdb[16] = { 0x12 };

	cdb[1] = (uint8_t)evpd;
	cdb[2] = (uint8_t)page;
	be16enc(cdb + 3, alloc);
	return mtest_cmd(&m, cdb, NULL, 0);
}

/* ---------------------------------------------------------------- */
/* INQUIRY */

START_TEST(spc__inquiry_standard)
{
	static const uint16_t want[] = { 0x00a0, 0x0960, 0x0460, 0x04c0 };
	const uint8_t *d = m.mt_din;
	size_t	 i;

	ck_assert_int_eq(inquiry(0, 0, 255), SCSI_GOOD);
	ck_assert_uint_eq(d[0], 0x00);
	ck_assert_uint_eq(d[2], 0x06);
	ck_assert_uint_eq(d[3] & 0x0f, 2);
	ck_assert_uint_eq(d[4] + 5u, m.mt_t.t_dinlen);
	ck_assert_uint_eq(d[5] & 0x08, 0x08);		/* 3PC */
	ck_assert_int_eq(memcmp(d + 8, "SCSIPUB ", 8), 0);
	ck_assert_int_eq(memcmp(d + 16, "disk.img        ", 16), 0);
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(be16dec(d + 58 + 2 * i), want[i]);
}
END_TEST

START_TEST(spc__inquiry_alloc_length)
{
	uint32_t full;

	ck_assert_int_eq(inquiry(0, 0, 255), SCSI_GOOD);
	full = m.mt_t.t_dinlen;
	ck_assert_int_eq(inquiry(0, 0, (uint16_t)_i), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_t.t_dinlen, _i < (int)full ? (uint32_t)_i :
	    full);
}
END_TEST

START_TEST(spc__inquiry_page_without_evpd)
{
	ck_assert_int_eq(inquiry(0, 0x80, 255), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
}
END_TEST

START_TEST(spc__inquiry_every_listed_vpd_page)
{
	uint8_t	 pages[64];
	int	 i, n;

	ck_assert_int_eq(inquiry(1, 0x00, 255), SCSI_GOOD);
	n = m.mt_din[3];
	ck_assert_int_eq(n, 7);
	memcpy(pages, m.mt_din + 4, (size_t)n);
	for (i = 0; i < n; i++) {
		ck_assert_int_eq(inquiry(1, pages[i], 1024), SCSI_GOOD);
		ck_assert_uint_eq(m.mt_din[1], pages[i]);
		ck_assert_uint_eq(be16dec(m.mt_din + 2) + 4u,
		    m.mt_t.t_dinlen);
	}
	ck_assert_int_eq(inquiry(1, 0x81, 255), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
}
END_TEST

/* Walk the designators of page 83h looking for (byte1, prefix). */
static const uint8_t *
find_desig(uint8_t b1)
{
	const uint8_t *d = m.mt_din;
	uint32_t off, end = 4u + be16dec(d + 2);

	for (off = 4; off + 4 <= end; off += 4u + d[off + 3]) {
		if (d[off + 1] == b1)
			return d + off;
	}
	return NULL;
}

START_TEST(spc__inquiry_device_identification)
{
	const uint8_t *p;
	uint8_t	 naa[8];

	ck_assert_int_eq(inquiry(1, 0x83, 1024), SCSI_GOOD);
	spc_lu_naa(&m.mt_lu, naa);
	ck_assert_ptr_nonnull(p = find_desig(0x03));
	ck_assert_uint_eq(p[3], 8);
	ck_assert_uint_eq(p[4] >> 4, 3);
	ck_assert_int_eq(memcmp(p + 4, naa, 8), 0);
	ck_assert_ptr_nonnull(p = find_desig(0x01));
	ck_assert_int_eq(memcmp(p + 4, "SCSIPUB disk.img", 16), 0);
	ck_assert_ptr_nonnull(p = find_desig(0x98));
	ck_assert_str_eq((const char *)p + 4,
	    "iqn.2025-01.pub.scsipub:disk,t,0x0001");
	ck_assert_uint_eq(p[3] % 4, 0);
	ck_assert_ptr_nonnull(p = find_desig(0xa8));
	ck_assert_str_eq((const char *)p + 4, "iqn.2025-01.pub.scsipub:disk");
	ck_assert_ptr_nonnull(p = find_desig(0x94));
	ck_assert_uint_eq(be16dec(p + 6), 1);
	ck_assert_ptr_nonnull(p = find_desig(0x95));
	ck_assert_uint_eq(be16dec(p + 6), 1);
}
END_TEST

START_TEST(spc__inquiry_block_limits_and_provisioning)
{
	const uint8_t *d = m.mt_din;

	ck_assert_int_eq(inquiry(1, 0xb0, 64), SCSI_GOOD);
	ck_assert_uint_eq(d[3], 0x3c);
	ck_assert_uint_eq(d[4] & 1, 0);			/* WSNZ */
	ck_assert_uint_eq(d[5], SCSI_MAX_CAW_BLOCKS);
	ck_assert_uint_eq(be32dec(d + 8), SCSI_MAX_XFER_BYTES / BS);
	ck_assert_uint_gt(be32dec(d + 20), 0);
	ck_assert_uint_le(be32dec(d + 20), 1024 * 1024);
	ck_assert_uint_ge(be32dec(d + 24), 256);
	ck_assert_uint_eq(be32dec(d + 28), 8);
	ck_assert_uint_eq(be64dec(d + 36), sbc_max_ws(&m.mt_lu));
	ck_assert_uint_le(be64dec(d + 36) * BS, be32dec(d + 8) * BS);
	/* WRITE ATOMIC: 256 KiB at most, in 4 KiB units (the memstore's) */
	ck_assert_uint_eq(be32dec(d + 44), 512);
	ck_assert_uint_le(be32dec(d + 44), be32dec(d + 8));
	ck_assert_uint_eq(be32dec(d + 48), 8);
	ck_assert_uint_eq(be32dec(d + 52), 8);
	ck_assert_uint_eq(be64dec(d + 56), 0);		/* no boundaries */
	ck_assert_int_eq(inquiry(1, 0xb2, 64), SCSI_GOOD);
	ck_assert_uint_eq(d[5], 0xe4);
	ck_assert_uint_eq(d[6] & 7, 2);
	ck_assert_int_eq(inquiry(1, 0xb1, 64), SCSI_GOOD);
	ck_assert_uint_eq(be16dec(d + 4), 1);
}
END_TEST

/*
 * The unit serial number is the LU's identity (its NAA in hex), not its
 * image's name: two overlays of one image are two serials.  The T10
 * vendor designator carries it too.
 */
START_TEST(spc__inquiry_serial_is_identity)
{
	const uint8_t *d = m.mt_din, *p;
	uint8_t	 naa[8];
	char	 want[17];

	spc_lu_naa(&m.mt_lu, naa);
	snprintf(want, sizeof(want), "%016llx",
	    (unsigned long long)be64dec(naa));
	ck_assert_int_eq(inquiry(1, 0x80, 64), SCSI_GOOD);
	ck_assert_uint_eq(be16dec(d + 2), 16);
	ck_assert_int_eq(memcmp(d + 4, want, 16), 0);
	ck_assert_int_eq(inquiry(1, 0x83, 1024), SCSI_GOOD);
	ck_assert_ptr_nonnull(p = find_desig(0x01));
	ck_assert_uint_eq(p[3], 8 + 16 + 16);
	ck_assert_int_eq(memcmp(p + 4, "SCSIPUB disk.img        ", 24), 0);
	ck_assert_int_eq(memcmp(p + 28, want, 16), 0);
}
END_TEST

/* ---------------------------------------------------------------- */
/* REPORT LUNS */

START_TEST(spc__report_luns_select_and_alloc)
{
	struct scsi_lu lu2;
	uint8_t	 cdb[16] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };

	scsi_lu_init(&lu2, BLOCKS, BS, "two", 2, &memstore_ops, m.mt_ms);
	scsi_nexus_attach(m.mt_nx, 3, &lu2);
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(be32dec(m.mt_din), 16);
	ck_assert_uint_eq(m.mt_din[8 + 1], 0);
	ck_assert_uint_eq(m.mt_din[16 + 1], 3);
	cdb[2] = 1;
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(be32dec(m.mt_din), 0);
	cdb[2] = 3;
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	cdb[2] = 2;
	cdb[8] = 0;
	cdb[9] = 15;
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_CHECK_CONDITION);
	cdb[9] = 16;
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_t.t_dinlen, 16);
	scsi_nexus_detach_lun(m.mt_nx, 3);
	ck_assert_int_eq(m.mt_nx->n_nlun, 1);
}
END_TEST

/* ---------------------------------------------------------------- */
/* MODE SENSE / MODE SELECT */

static int
mode_sense(int ten, uint8_t b1, uint8_t pcpage, uint8_t sub)
{
	uint8_t	 cdb[16] = { 0 };

	cdb[0] = ten ? 0x5a : 0x1a;
	cdb[1] = b1;
	cdb[2] = pcpage;
	cdb[3] = sub;
	if (ten)
		be16enc(cdb + 7, 1024);
	else
		cdb[4] = 255;
	return mtest_cmd(&m, cdb, NULL, 0);
}

START_TEST(spc__mode_sense_all_pages)
{
	const uint8_t *d = m.mt_din;

	ck_assert_int_eq(mode_sense(0, 0, 0x3f, 0), SCSI_GOOD);
	ck_assert_uint_eq(d[0] + 1u, m.mt_t.t_dinlen);
	ck_assert_uint_eq(d[2], 0x10);			/* DPOFUA, no WP */
	ck_assert_uint_eq(d[3], 8);
	ck_assert_uint_eq(be32dec(d + 4), BLOCKS);
	ck_assert_uint_eq(be24dec(d + 9), BS);
	ck_assert_uint_eq(d[12], 0x08);
	ck_assert_uint_eq(d[12 + 20], 0x0a);
	ck_assert_uint_eq(d[12 + 32], 0x1c);
	ck_assert_uint_eq(m.mt_t.t_dinlen, 12 + 20 + 12 + 12);
	ck_assert_int_eq(mode_sense(1, 0x18, 0x3f, 0xff), SCSI_GOOD);
	ck_assert_uint_eq(be16dec(d) + 2u, m.mt_t.t_dinlen);
	ck_assert_uint_eq(be16dec(d + 6), 0);
	ck_assert_int_eq(mode_sense(1, 0x10, 0x0a, 0), SCSI_GOOD);
	ck_assert_uint_eq(d[4] & 1, 1);			/* LONGLBA */
	ck_assert_uint_eq(be16dec(d + 6), 16);
	ck_assert_uint_eq(be64dec(d + 8), BLOCKS);
}
END_TEST

START_TEST(spc__mode_sense_page_control)
{
	ck_assert_int_eq(mode_sense(0, 0x08, 0x40 | 0x0a, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[4 + 2], 0x24);	/* TST, D_SENSE */
	ck_assert_uint_eq(m.mt_din[4 + 4], 0x08);	/* SWP */
	ck_assert_int_eq(mode_sense(0, 0x08, 0x80 | 0x08, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[4 + 2], 0x04);	/* WCE default on */
	ck_assert_int_eq(mode_sense(0, 0x08, 0xc0 | 0x08, 0),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_SAVING_PARAMS_UNSUPPORTED);
	ck_assert_int_eq(mode_sense(0, 0x08, 0x19, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	ck_assert_int_eq(mode_sense(0, 0x08, 0x0a, 1), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
}
END_TEST

START_TEST(spc__mode_sense_write_protect_bit)
{
	m.mt_lu.lu_readonly = 1;
	ck_assert_int_eq(mode_sense(0, 0x08, 0x3f, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[2], 0x90);
	ck_assert_int_eq(mode_sense(1, 0x08, 0x3f, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[3], 0x90);
}
END_TEST

/* MODE SELECT(6) of the current control page with byte 4 changed. */
static int
select_control(uint8_t b2, uint8_t b4, uint8_t len)
{
	uint8_t	 cdb[16] = { 0x15, 0x10, 0, 0, 16 };
	uint8_t	 p[16];

	ck_assert_int_eq(mode_sense(0, 0x08, 0x0a, 0), SCSI_GOOD);
	memcpy(p + 4, m.mt_din + 4, 12);
	memset(p, 0, 4);
	p[4 + 1] = len;
	p[4 + 2] = b2;
	p[4 + 4] = b4;
	return mtest_cmd(&m, cdb, p, sizeof(p));
}

/*
 * SWP write-protects the LU for the nexus that set it, and only for it:
 * another initiator's MODE SELECT never changes someone else's LU.
 */
START_TEST(spc__mode_select_swp_write_protects)
{
	struct scsi_nexus *nx = mtest_nexus("iqn.2025-01.test:t", 1);
	uint8_t	 wr[16] = { 0x2a, 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t	 blk[BS] = { 0 };

	scsi_nexus_attach(nx, 0, &m.mt_lu);
	mtest_clear_ua(&m, nx, 0);
	ck_assert_int_eq(select_control(0x02, 0x08, 0x0a), SCSI_GOOD);
	ck_assert_int_eq(m.mt_nx->n_lunex[0].ln_mode.md_swp, 1);
	ck_assert_int_eq(mtest_cmd(&m, wr, blk, BS), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_key(&m), SK_DATA_PROTECT);
	ck_assert_int_eq(mtest_asc(&m), ASC_WRITE_PROTECTED);
	ck_assert_int_eq(mode_sense(0, 0, 0x3f, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[2] & 0x80, 0x80);
	/* the other nexus may still write, and was told nothing */
	ck_assert_int_eq(mtest_run(&m, nx, 0, wr, blk, BS), SCSI_GOOD);
	ck_assert_int_eq(select_control(0x02, 0x00, 0x0a), SCSI_GOOD);
	ck_assert_int_eq(mtest_cmd(&m, wr, blk, BS), SCSI_GOOD);
	scsi_nexus_detach(nx);
	free(nx);
}
END_TEST

START_TEST(spc__mode_select_d_sense)
{
	uint8_t	 rd[16] = { 0x28, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 1 };

	ck_assert_int_eq(select_control(0x02 | 0x04, 0, 0x0a), SCSI_GOOD);
	ck_assert_int_eq(mtest_cmd(&m, rd, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_uint_eq(m.mt_t.t_sense[0], 0x72);
}
END_TEST

START_TEST(spc__mode_select_rejects_bad_lists)
{
	uint8_t	 sp[16] = { 0x15, 0x11, 0, 0, 16 };
	uint8_t	 shorter[16] = { 0x15, 0x10, 0, 0, 3 };
	uint8_t	 p[16] = { 0 };
	uint32_t sks;

	ck_assert_int_eq(select_control(0x02 | 0x80, 0, 0x0a),
	    SCSI_CHECK_CONDITION);			/* TST 100b */
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_PARAM_LIST);
	ck_assert(mtest_sks(&m, &sks));
	ck_assert_uint_eq(sks & 0xffff, 6);
	ck_assert_int_eq(select_control(0x02, 0, 0x0b), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_PARAM_LIST);
	ck_assert_int_eq(mtest_cmd(&m, sp, p, 16), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	ck_assert_int_eq(mtest_cmd(&m, shorter, p, 3), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_PARAM_LIST_LENGTH_ERROR);
	p[4] = 0x0a;				/* page cut short */
	p[5] = 0x0a;
	shorter[4] = 8;
	ck_assert_int_eq(mtest_cmd(&m, shorter, p, 8), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_PARAM_LIST_LENGTH_ERROR);
}
END_TEST

/* ---------------------------------------------------------------- */
/* REPORT SUPPORTED OPERATION CODES, task management functions */

static int
rsoc(uint8_t opts, uint8_t op, uint16_t sa)
{
	uint8_t	 cdb[16] = { 0xa3, 0x0c };

	cdb[2] = opts;
	cdb[3] = op;
	be16enc(cdb + 4, sa);
	be32enc(cdb + 6, 65535);
	return mtest_cmd(&m, cdb, NULL, 0);
}

/* A store without atomic writes: no limits, WRITE ATOMIC not listed. */
START_TEST(spc__no_atomic_write_without_the_store)
{
	const uint8_t *d = m.mt_din;

	m.mt_ms->ms_atomic_max = 0;
	ck_assert_int_eq(inquiry(1, 0xb0, 64), SCSI_GOOD);
	ck_assert_uint_eq(be32dec(d + 44), 0);
	ck_assert_uint_eq(be32dec(d + 48), 0);
	ck_assert_uint_eq(be32dec(d + 52), 0);
	ck_assert_int_eq(rsoc(1, 0x9c, 0), SCSI_GOOD);
	ck_assert_uint_eq(d[1] & 0x07, 0x01);		/* not supported */
	m.mt_ms->ms_atomic_max = 256 * 1024;
	ck_assert_int_eq(rsoc(1, 0x9c, 0), SCSI_GOOD);
	ck_assert_uint_eq(d[1] & 0x07, 0x03);
	ck_assert_uint_eq(d[4 + 1], 0x18);		/* DPO FUA */
}
END_TEST

START_TEST(spc__rsoc_all_lists_every_table_entry)
{
	const struct scsi_cmd *tab = scsi_cmd_table();
	uint32_t len, off, want = 0;
	int	 op;

	for (op = 0; op < 256; op++)
		want += tab[op].c_sa ? tab[op].c_nsa : tab[op].c_handler != NULL;
	ck_assert_int_eq(rsoc(0, 0, 0), SCSI_GOOD);
	len = be32dec(m.mt_din);
	ck_assert_uint_eq(len, want * 8);
	for (off = 4; off < 4 + len; off += 8) {
		if (!(m.mt_din[off + 5] & 1))
			ck_assert_uint_eq(be16dec(m.mt_din + off + 2), 0);
	}
	ck_assert_int_eq(rsoc(0x80, 0, 0), SCSI_GOOD);
	len = be32dec(m.mt_din);
	ck_assert_uint_eq(len, want * 20);
	for (off = 4; off < 4 + len; off += 20) {
		ck_assert_uint_eq(m.mt_din[off + 5] & 2, 2);
		ck_assert_uint_eq(be16dec(m.mt_din + off + 8), 0x0a);
	}
}
END_TEST

START_TEST(spc__rsoc_one_command)
{
	uint8_t	 all[4096];
	uint32_t len, off;
	int	 sa;

	ck_assert_int_eq(rsoc(0, 0, 0), SCSI_GOOD);
	len = be32dec(m.mt_din);
	memcpy(all, m.mt_din, 4 + len);
	for (off = 4; off < 4 + len; off += 8) {
		sa = all[off + 5] & 1;
		ck_assert_int_eq(rsoc(sa ? 1 : 2, all[off],
		    be16dec(all + off + 2)), SCSI_CHECK_CONDITION);
		ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
		ck_assert_int_eq(rsoc(sa ? 2 : 1, all[off],
		    be16dec(all + off + 2)), SCSI_GOOD);
		ck_assert_uint_eq(m.mt_din[1] & 7, 3);
		ck_assert_uint_eq(be16dec(m.mt_din + 2),
		    be16dec(all + off + 6));
		ck_assert_uint_eq(m.mt_din[4], all[off]);
	}
	ck_assert_int_eq(rsoc(1, 0x28, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[4 + 1] & 0x18, 0x18);	/* DPO FUA */
	ck_assert_int_eq(rsoc(1, 0x02, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[1] & 7, 1);			/* unsupported */
	ck_assert_int_eq(rsoc(2, 0x9e, 0x13), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[1] & 7, 1);
	ck_assert_int_eq(rsoc(0x83, 0x9e, 0x10), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[1], 0x83);
	ck_assert_uint_eq(m.mt_t.t_dinlen, 4 + 16 + 12);
	ck_assert_int_eq(rsoc(7, 0, 0), SCSI_CHECK_CONDITION);
}
END_TEST

START_TEST(spc__report_tmfs)
{
	uint8_t	 cdb[16] = { 0xa3, 0x0d, 0x80, 0, 0, 0, 0, 0, 0, 16 };

	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_t.t_dinlen, 16);
	ck_assert_uint_eq(m.mt_din[0] & 0x08, 0x08);	/* LU reset */
	ck_assert_uint_eq(m.mt_din[3], 0x0c);
}
END_TEST

/*
 * REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS reports every function of
 * the SCSI layer's table and nothing else (that the transport runs
 * exactly those: tests/worker/iscsi/check_iscsi.c).
 */
START_TEST(spc__report_tmfs_reports_the_table)
{
	uint8_t	 cdb[16] = { 0xa3, 0x0d, 0x80, 0, 0, 0, 0, 0, 0, 16 };
	uint8_t	 want[16] = { 0 };
	const struct scsi_tmf_desc *d;
	int	 id;

	for (id = 0; id < SCSI_TMF_COUNT; id++) {
		ck_assert_ptr_nonnull(d = spc_tmf(id));
		ck_assert_uint_lt(d->tm_byte, 4);
		want[d->tm_byte] |= (uint8_t)(1 << d->tm_bit);
	}
	ck_assert_ptr_null(spc_tmf(SCSI_TMF_COUNT));
	ck_assert_uint_eq(want[0] & 0x20, 0x20);	/* CLEAR ACA too */
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_GOOD);
	ck_assert_mem_eq(m.mt_din, want, 3);
}
END_TEST

START_TEST(spc__start_stop_and_prevent)
{
	uint8_t	 ssu[16] = { 0x1b, 0, 0, 0, 0x01 };
	uint8_t	 pa[16] = { 0x1e, 0, 0, 0, 0x01 };

	ck_assert_int_eq(mtest_cmd(&m, ssu, NULL, 0), SCSI_GOOD);
	ssu[4] = 0x02;				/* eject a fixed disk */
	ck_assert_int_eq(mtest_cmd(&m, ssu, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	ssu[4] = 0x40;				/* reserved power condition */
	ck_assert_int_eq(mtest_cmd(&m, ssu, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_cmd(&m, pa, NULL, 0), SCSI_GOOD);
	pa[4] = 0x02;
	ck_assert_int_eq(mtest_cmd(&m, pa, NULL, 0), SCSI_CHECK_CONDITION);
}
END_TEST

/* ---------------------------------------------------------------- */
/* EXTENDED COPY and RECEIVE COPY RESULTS */

/* Identification target descriptor naming lu by its NAA designator. */
static void
xc_target(uint8_t *d, const struct scsi_lu *lu)
{
	memset(d, 0, 32);
	d[0] = 0xe4;
	d[4] = 0x01;
	d[5] = 0x03;
	d[7] = 8;
	spc_lu_naa(lu, d + 8);
	be24enc(d + 29, lu->lu_blksz);
}

static void
xc_segment(uint8_t *d, uint16_t src, uint16_t dst, uint16_t n,
    uint64_t slba, uint64_t dlba)
{
	memset(d, 0, 28);
	d[0] = 0x02;
	be16enc(d + 2, 24);
	be16enc(d + 4, src);
	be16enc(d + 6, dst);
	be16enc(d + 10, n);
	be64enc(d + 12, slba);
	be64enc(d + 20, dlba);
}

static uint32_t
xc_list(uint8_t *p, uint8_t listid, int ntgt, int nseg)
{
	memset(p, 0, 16);
	p[0] = listid;
	be16enc(p + 2, (uint16_t)(32 * ntgt));
	be32enc(p + 8, (uint32_t)(28 * nseg));
	return 16u + 32u * (uint32_t)ntgt + 28u * (uint32_t)nseg;
}

static int
xcopy(struct scsi_nexus *nx, const uint8_t *p, uint32_t len)
{
	uint8_t	 cdb[16] = { 0x83 };

	be32enc(cdb + 10, len);
	return mtest_run(&m, nx, 0, cdb, p, len);
}

START_TEST(spc__xcopy_between_luns_of_the_nexus)
{
	struct memstore *ms2 = memstore_new(BLOCKS, BS);
	struct scsi_lu lu2;
	uint8_t	 p[256], rcr[16] = { 0x84, 0x00, 7 };
	uint32_t len;

	scsi_lu_init(&lu2, BLOCKS, BS, "two", 2, &memstore_ops, ms2);
	scsi_nexus_attach(m.mt_nx, 1, &lu2);
	memset(m.mt_ms->ms_data + 10 * BS, 'A', 20 * BS);
	len = xc_list(p, 7, 2, 2);
	xc_target(p + 16, &m.mt_lu);
	xc_target(p + 48, &lu2);
	xc_segment(p + 80, 0, 1, 20, 10, 100);
	xc_segment(p + 108, 0, 0, 20, 10, 15);	/* overlapping, same LU */
	ck_assert_int_eq(xcopy(m.mt_nx, p, len), SCSI_GOOD);
	ck_assert_int_eq(memcmp(ms2->ms_data + 100 * BS,
	    m.mt_ms->ms_data + 10 * BS, 20 * BS), 0);
	ck_assert_uint_eq(m.mt_ms->ms_data[34 * BS], 'A');
	ck_assert_uint_eq(m.mt_ms->ms_data[35 * BS], 0);
	be32enc(rcr + 10, 1024);
	ck_assert_int_eq(mtest_cmd(&m, rcr, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[4], 0x00);
	ck_assert_uint_eq(be16dec(m.mt_din + 5), 2);
	ck_assert_uint_eq(be32dec(m.mt_din + 8), 40 * BS);
	rcr[2] = 8;
	ck_assert_int_eq(mtest_cmd(&m, rcr, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	scsi_nexus_detach_lun(m.mt_nx, 1);
	memstore_free(ms2);
}
END_TEST

/* A copy of more than a step's worth goes on in steps, each bounded. */
START_TEST(spc__xcopy_runs_in_bounded_steps)
{
	struct memstore *ms2 = memstore_new(BLOCKS, BS);
	struct scsi_lu lu2;
	uint8_t	 p[256], rcr[16] = { 0x84, 0x00, 9 };
	uint32_t len, n = 3000;
	uint64_t io;
	int	 steps = 0;

	scsi_lu_init(&lu2, BLOCKS, BS, "two", 2, &memstore_ops, ms2);
	scsi_nexus_attach(m.mt_nx, 1, &lu2);
	memset(m.mt_ms->ms_data, 'C', (size_t)n * BS);
	len = xc_list(p, 9, 2, 1);
	xc_target(p + 16, &m.mt_lu);
	xc_target(p + 48, &lu2);
	xc_segment(p + 80, 0, 1, (uint16_t)n, 0, 0);
	m.mt_hold = 1;
	ck_assert_int_eq(xcopy(m.mt_nx, p, len), SCSI_GOOD);
	ck_assert_ptr_nonnull(m.mt_t.t_step);
	ck_assert_uint_le(m.mt_ms->ms_io_max, SCSI_STEP_BYTES);
	ck_assert_uint_le(ms2->ms_io_bytes, SCSI_STEP_BYTES);
	ck_assert_uint_eq(ms2->ms_data[(n - 1) * BS], 0);
	do {
		io = m.mt_ms->ms_io_bytes + ms2->ms_io_bytes;
		steps++;
		ck_assert_int_lt(steps, 100);
	} while (scsi_task_step(&m.mt_t) &&
	    m.mt_ms->ms_io_bytes + ms2->ms_io_bytes - io <=
	    2 * SCSI_STEP_BYTES);
	ck_assert_ptr_null(m.mt_t.t_step);
	ck_assert_int_eq(m.mt_t.t_status, SCSI_GOOD);
	ck_assert_uint_le(ms2->ms_io_max, SCSI_STEP_BYTES);
	ck_assert_uint_eq(ms2->ms_data[(n - 1) * BS], 'C');
	m.mt_hold = 0;
	be32enc(rcr + 10, 1024);
	ck_assert_int_eq(mtest_cmd(&m, rcr, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(be32dec(m.mt_din + 8), n * BS);
	scsi_nexus_detach_lun(m.mt_nx, 1);
	memstore_free(ms2);
}
END_TEST

/* CVE-2020-28374: a descriptor naming another nexus's LU must not reach it. */
START_TEST(spc__xcopy_refuses_foreign_lu)
{
	struct memstore *ms2 = memstore_new(BLOCKS, BS);
	struct scsi_nexus *other = mtest_nexus("iqn.2025-01.test:private", 1);
	struct scsi_lu lu2;
	uint8_t	 p[256];
	uint32_t len;

	scsi_lu_init(&lu2, BLOCKS, BS, "secret", 99, &memstore_ops, ms2);
	scsi_nexus_attach(other, 0, &lu2);
	memset(ms2->ms_data, 'S', 8 * BS);
	len = xc_list(p, 1, 2, 2);
	xc_target(p + 16, &m.mt_lu);
	xc_target(p + 48, &lu2);
	xc_segment(p + 80, 1, 0, 8, 0, 0);		/* read theirs */
	xc_segment(p + 108, 0, 1, 8, 0, 0);		/* write theirs */
	ck_assert_int_eq(xcopy(m.mt_nx, p, len), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_key(&m), SK_COPY_ABORTED);
	ck_assert_int_eq(mtest_asc(&m), ASC_COPY_TARGET_UNREACHABLE);
	ck_assert_uint_eq(m.mt_ms->ms_data[0], 0);
	ck_assert_uint_eq(ms2->ms_data[0], 'S');
	scsi_nexus_detach(other);
	free(other);
	memstore_free(ms2);
}
END_TEST

START_TEST(spc__xcopy_parameter_list_errors)
{
	uint8_t	 p[2048];
	uint32_t len;
	int	 i;

	ck_assert_int_eq(xcopy(m.mt_nx, NULL, 0), SCSI_GOOD);
	len = xc_list(p, 1, 1, 1);
	xc_target(p + 16, &m.mt_lu);
	xc_segment(p + 48, 0, 0, 8, 0, 100);
	ck_assert_int_eq(xcopy(m.mt_nx, p, len - 1), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_PARAM_LIST_LENGTH_ERROR);
	ck_assert_int_eq(xcopy(m.mt_nx, p, 16 + 31), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_PARAM_LIST_LENGTH_ERROR);
	p[16] = 0xe0;				/* FC N_Port_Name target */
	ck_assert_int_eq(xcopy(m.mt_nx, p, len), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_UNSUPPORTED_TARGET_DESC);
	p[16] = 0xe4;
	p[48] = 0x03;				/* stream to stream */
	ck_assert_int_eq(xcopy(m.mt_nx, p, len), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_UNSUPPORTED_SEGMENT_DESC);
	p[48] = 0x02;
	be16enc(p + 48 + 6, 1);			/* no target descriptor 1 */
	ck_assert_int_eq(xcopy(m.mt_nx, p, len), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_key(&m), SK_COPY_ABORTED);
	ck_assert_int_eq(mtest_asc(&m), ASC_COPY_TARGET_UNREACHABLE);
	xc_segment(p + 48, 0, 0, 8, 0, BLOCKS - 7);	/* beyond the end */
	ck_assert_int_eq(xcopy(m.mt_nx, p, len), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_key(&m), SK_COPY_ABORTED);
	len = xc_list(p, 2, 9, 1);
	for (i = 0; i < 9; i++)
		xc_target(p + 16 + 32 * i, &m.mt_lu);
	xc_segment(p + 16 + 32 * 9, 0, 0, 1, 0, 1);
	ck_assert_int_eq(xcopy(m.mt_nx, p, len), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_TOO_MANY_TARGET_DESCS);
	len = xc_list(p, 3, 1, 17);
	xc_target(p + 16, &m.mt_lu);
	for (i = 0; i < 17; i++)
		xc_segment(p + 48 + 28 * i, 0, 0, 1, 0, 1);
	ck_assert_int_eq(xcopy(m.mt_nx, p, len), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_TOO_MANY_SEGMENT_DESCS);
	len = xc_list(p, 4, 9, 27);		/* beyond the list length */
	ck_assert_int_eq(xcopy(m.mt_nx, p, len), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_PARAM_LIST_LENGTH_ERROR);
}
END_TEST

START_TEST(spc__copy_results_operating_parameters)
{
	uint8_t	 cdb[16] = { 0x84, 0x03 };

	be32enc(cdb + 10, 1024);
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(be32dec(m.mt_din) + 4, m.mt_t.t_dinlen);
	ck_assert_uint_eq(be16dec(m.mt_din + 8), 8);
	ck_assert_uint_eq(be16dec(m.mt_din + 10), 16);
	ck_assert_uint_eq(be32dec(m.mt_din + 12), 1024);
	ck_assert_uint_eq(m.mt_din[43], 2);
}
END_TEST

Suite *
spc_suite(void)
{
	Suite	*s = suite_create("spc");
	TCase	*tc = tcase_create("spc");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, spc__inquiry_standard);
	tcase_add_loop_test(tc, spc__inquiry_alloc_length, 0, 257);
	tcase_add_test(tc, spc__inquiry_page_without_evpd);
	tcase_add_test(tc, spc__inquiry_every_listed_vpd_page);
	tcase_add_test(tc, spc__inquiry_device_identification);
	tcase_add_test(tc, spc__inquiry_block_limits_and_provisioning);
	tcase_add_test(tc, spc__inquiry_serial_is_identity);
	tcase_add_test(tc, spc__report_luns_select_and_alloc);
	tcase_add_test(tc, spc__mode_sense_all_pages);
	tcase_add_test(tc, spc__mode_sense_page_control);
	tcase_add_test(tc, spc__mode_sense_write_protect_bit);
	tcase_add_test(tc, spc__mode_select_swp_write_protects);
	tcase_add_test(tc, spc__mode_select_d_sense);
	tcase_add_test(tc, spc__mode_select_rejects_bad_lists);
	tcase_add_test(tc, spc__rsoc_all_lists_every_table_entry);
	tcase_add_test(tc, spc__rsoc_one_command);
	tcase_add_test(tc, spc__report_tmfs);
	tcase_add_test(tc, spc__no_atomic_write_without_the_store);
	tcase_add_test(tc, spc__report_tmfs_reports_the_table);
	tcase_add_test(tc, spc__start_stop_and_prevent);
	tcase_add_test(tc, spc__xcopy_between_luns_of_the_nexus);
	tcase_add_test(tc, spc__xcopy_runs_in_bounded_steps);
	tcase_add_test(tc, spc__xcopy_refuses_foreign_lu);
	tcase_add_test(tc, spc__xcopy_parameter_list_errors);
	tcase_add_test(tc, spc__copy_results_operating_parameters);
	suite_add_tcase(s, tc);
	return s;
}
