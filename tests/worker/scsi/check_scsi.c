/*
 * worker/scsi/scsi.c: opcode table and dispatch, sense formats, unit
 * attentions, LUN addressing, RESERVE conflicts.
 */
#include <sys/queue.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "memstore.h"
#include "scsi.h"

#define BLOCKS	2048
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

/* ---------------------------------------------------------------- */
/* Opcode table */

START_TEST(scsi__unknown_opcode_is_invalid_opcode)
{
	const struct scsi_cmd *tab = scsi_cmd_table();
	uint8_t	 cdb[16];
	int	 op;

	for (op = 0; op < 256; op++) {
		if (tab[op].c_handler != NULL || tab[op].c_sa != NULL)
			continue;
		memset(cdb, 0, sizeof(cdb));
		cdb[0] = (uint8_t)op;
		ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0),
		    SCSI_CHECK_CONDITION);
		ck_assert_int_eq(m.mt_decode, -1);
		ck_assert_int_eq(mtest_key(&m), SK_ILLEGAL_REQUEST);
		ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_OPCODE);
	}
}
END_TEST

static const uint8_t bad_sa[][2] = {
	{ 0x9e, 0x11 }, { 0x9e, 0x00 }, { 0xa3, 0x00 }, { 0xa3, 0x0a },
	{ 0x83, 0x01 }, { 0x83, 0x1f }, { 0x84, 0x05 }, { 0x84, 0x04 },
};

START_TEST(scsi__bad_service_action)
{
	uint8_t	 cdb[16] = { 0 };
	uint32_t sks;

	cdb[0] = bad_sa[_i][0];
	cdb[1] = bad_sa[_i][1];
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_key(&m), SK_ILLEGAL_REQUEST);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
	ck_assert(mtest_sks(&m, &sks));
	ck_assert_uint_eq(sks & 0xffff, 1);
	ck_assert(sks & SCSI_SKS_CD);
}
END_TEST

/* Set each bit the table says is unused: INVALID FIELD at that bit. */
static void
check_unused_bits(const struct scsi_cmd *c, int op, int has_sa)
{
	uint8_t	 cdb[16], mask;
	uint32_t sks;
	int	 i, bit;

	for (i = 1; i < c->c_cdblen; i++) {
		mask = c->c_usage[i] | (i == 1 && has_sa ? 0x1f : 0);
		for (bit = 0; bit < 8; bit++) {
			if (mask & (1 << bit))
				continue;
			memset(cdb, 0, sizeof(cdb));
			cdb[0] = (uint8_t)op;
			cdb[1] = has_sa ? c->c_saval : 0;
			cdb[i] |= (uint8_t)(1 << bit);
			mtest_cmd(&m, cdb, NULL, 0);
			ck_assert_msg(m.mt_decode == -1, "%s byte %d bit %d",
			    c->c_name, i, bit);
			ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_CDB);
			ck_assert(mtest_sks(&m, &sks));
			ck_assert_uint_eq(sks & 0xffff, (unsigned)i);
			ck_assert_uint_eq((sks >> 16) & 0x0f, 0x08 | bit);
		}
	}
}

START_TEST(scsi__reserved_bits_rejected_for_every_opcode)
{
	const struct scsi_cmd *tab = scsi_cmd_table(), *c = &tab[_i];
	int	 j;

	if (c->c_sa == NULL && c->c_handler != NULL)
		check_unused_bits(c, _i, 0);
	for (j = 0; c->c_sa != NULL && j < c->c_nsa; j++)
		check_unused_bits(&c->c_sa[j], _i, 1);
}
END_TEST

START_TEST(scsi__usage_byte0_is_opcode)
{
	const struct scsi_cmd *tab = scsi_cmd_table();
	int	 op, j;

	for (op = 0; op < 256; op++) {
		if (tab[op].c_handler != NULL) {
			ck_assert_int_eq(tab[op].c_usage[0], op);
			ck_assert(tab[op].c_cdblen == 6 ||
			    tab[op].c_cdblen == 10 || tab[op].c_cdblen == 12 ||
			    tab[op].c_cdblen == 16);
		}
		for (j = 0; tab[op].c_sa != NULL && j < tab[op].c_nsa; j++) {
			ck_assert_int_eq(tab[op].c_sa[j].c_usage[0], op);
			ck_assert_int_eq(tab[op].c_sa[j].c_usage[1] & 0x1f,
			    tab[op].c_sa[j].c_saval);
			ck_assert_ptr_nonnull(tab[op].c_sa[j].c_handler);
		}
	}
}
END_TEST

/* A block command's LBA and TRANSFER LENGTH lie in bits it uses. */
static void
check_field(const struct scsi_cmd *c, struct scsi_field f)
{
	unsigned i;

	ck_assert_msg(f.f_len == 1 || f.f_len == 2 || f.f_len == 3 ||
	    f.f_len == 4 || f.f_len == 8, "%s: field size", c->c_name);
	ck_assert_msg(f.f_off >= 1 && f.f_off + f.f_len < c->c_cdblen,
	    "%s: field past the CDB", c->c_name);
	for (i = f.f_off; i < (unsigned)f.f_off + f.f_len; i++)
		ck_assert_msg(c->c_usage[i] != 0, "%s: byte %u unused",
		    c->c_name, i);
}

START_TEST(scsi__block_fields_are_used_bits)
{
	const struct scsi_cmd *tab = scsi_cmd_table();
	int	 op, n = 0;

	for (op = 0; op < 256; op++) {
		if (tab[op].c_lba.f_len == 0) {
			ck_assert_uint_eq(tab[op].c_nblk.f_len, 0);
			continue;
		}
		check_field(&tab[op], tab[op].c_lba);
		check_field(&tab[op], tab[op].c_nblk);
		n++;
	}
	ck_assert_int_ge(n, 20);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Transfer lengths the transport is told */

static const struct {
	uint8_t		 cdb[16];
	enum scsi_dir	 dir;
	uint32_t	 len;
} xfer_vec[] = {
	{ { 0x28, 0, 0, 0, 0, 0, 0, 0, 8 }, SCSI_DIR_READ, 8 * BS },
	{ { 0x08, 0, 0, 0, 0 }, SCSI_DIR_READ, 256 * BS },
	{ { 0x0a, 0, 0, 0, 2 }, SCSI_DIR_WRITE, 2 * BS },
	{ { 0xaa, 0, 0, 0, 0, 0, 0, 0, 0, 3 }, SCSI_DIR_WRITE, 3 * BS },
	{ { 0x8a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4 }, SCSI_DIR_WRITE,
	    4 * BS },
	{ { 0x2f, 0x00, 0, 0, 0, 0, 0, 0, 4 }, SCSI_DIR_WRITE, 0 },
	{ { 0x2f, 0x02, 0, 0, 0, 0, 0, 0, 4 }, SCSI_DIR_WRITE, 4 * BS },
	{ { 0x2f, 0x06, 0, 0, 0, 0, 0, 0, 4 }, SCSI_DIR_WRITE, BS },
	{ { 0x89, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2 }, SCSI_DIR_WRITE,
	    4 * BS },
	{ { 0x41, 0, 0, 0, 0, 0, 0, 0, 8 }, SCSI_DIR_WRITE, BS },
	{ { 0x93, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8 }, SCSI_DIR_WRITE,
	    0 },
	{ { 0x42, 0, 0, 0, 0, 0, 0, 0, 24 }, SCSI_DIR_WRITE, 24 },
	{ { 0x15, 0x10, 0, 0, 24 }, SCSI_DIR_WRITE, 24 },
	{ { 0x55, 0x10, 0, 0, 0, 0, 0, 1, 2 }, SCSI_DIR_WRITE, 258 },
	{ { 0x83, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 76 }, SCSI_DIR_WRITE,
	    76 },
	{ { 0x12, 0, 0, 0, 96 }, SCSI_DIR_READ, 0 },
	{ { 0x00 }, SCSI_DIR_NONE, 0 },
	{ { 0x35 }, SCSI_DIR_NONE, 0 },
};

START_TEST(scsi__decode_reports_direction_and_length)
{
	mtest_cmd(&m, xfer_vec[_i].cdb, NULL, 0);
	ck_assert_int_eq(m.mt_decode, 0);
	ck_assert_int_eq(m.mt_dir, xfer_vec[_i].dir);
	ck_assert_uint_eq(m.mt_len, xfer_vec[_i].len);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Missing logical units */

START_TEST(scsi__missing_lun_not_supported)
{
	uint8_t	 cdb[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1 };

	ck_assert_int_eq(mtest_run(&m, m.mt_nx, 5, cdb, NULL, 0),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(m.mt_decode, -1);
	ck_assert_int_eq(mtest_key(&m), SK_ILLEGAL_REQUEST);
	ck_assert_int_eq(mtest_asc(&m), ASC_LUN_NOT_SUPPORTED);
	ck_assert_int_eq(mtest_run(&m, m.mt_nx, 70000, cdb, NULL, 0),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_LUN_NOT_SUPPORTED);
}
END_TEST

START_TEST(scsi__missing_lun_inquiry_pq3)
{
	uint8_t	 cdb[16] = { 0x12, 0, 0, 0, 96 };

	ck_assert_int_eq(mtest_run(&m, m.mt_nx, 9, cdb, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[0], 0x7f);
	ck_assert_uint_ge(m.mt_t.t_dinlen, 36);
}
END_TEST

START_TEST(scsi__missing_lun_report_luns_and_request_sense)
{
	uint8_t	 rl[16] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	uint8_t	 rs[16] = { 0x03, 0, 0, 0, 18 };

	ck_assert_int_eq(mtest_run(&m, m.mt_nx, 9, rl, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(be32dec(m.mt_din), 8);
	ck_assert_int_eq(mtest_run(&m, m.mt_nx, 9, rs, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[2] & 0x0f, SK_ILLEGAL_REQUEST);
	ck_assert_uint_eq(m.mt_din[12], 0x25);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Unit attentions */

static const uint8_t tur[16];

/* A new nexus (a reconnect, say) starts without a unit attention. */
START_TEST(scsi__no_ua_pending_at_attach)
{
	struct scsi_nexus *nx = mtest_nexus("iqn.2025-01.test:t", 1);

	scsi_nexus_attach(nx, 0, &m.mt_lu);
	ck_assert_int_eq(mtest_run(&m, nx, 0, tur, NULL, 0), SCSI_GOOD);
	scsi_nexus_detach(nx);
	free(nx);
}
END_TEST

START_TEST(scsi__ua_reported_in_priority_order)
{
	static const int order[] = { ASC_POWER_ON_RESET,
	    ASC_BUS_DEVICE_RESET, ASC_MODE_PARAMS_CHANGED, ASC_CAPACITY_CHANGED,
	    ASC_LUNS_DATA_CHANGED };
	size_t	 i;

	m.mt_nx->n_lunex[0].ln_ua = UA_LUNS_CHANGED | UA_CAPACITY_CHANGED |
	    UA_MODE_CHANGED | UA_BUS_RESET | UA_POWER_ON;
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		ck_assert_int_eq(mtest_cmd(&m, tur, NULL, 0),
		    SCSI_CHECK_CONDITION);
		ck_assert_int_eq(mtest_asc(&m), order[i]);
	}
	ck_assert_int_eq(mtest_cmd(&m, tur, NULL, 0), SCSI_GOOD);
}
END_TEST

START_TEST(scsi__ua_not_reported_to_inquiry_report_luns)
{
	uint8_t	 inq[16] = { 0x12, 0, 0, 0, 36 };
	uint8_t	 rl[16] = { 0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	uint8_t	 rd[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1 };

	scsi_ua_set(&m.mt_lu, NULL, UA_CAPACITY_CHANGED);
	ck_assert_int_eq(mtest_cmd(&m, inq, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(mtest_cmd(&m, rl, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(mtest_cmd(&m, rd, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_CAPACITY_CHANGED);
	ck_assert_int_eq(mtest_cmd(&m, rd, NULL, 0), SCSI_GOOD);
}
END_TEST

START_TEST(scsi__request_sense_returns_and_clears_ua)
{
	uint8_t	 rs[16] = { 0x03, 0, 0, 0, 252 };

	scsi_ua_set_nexus(m.mt_nx, UA_MODE_CHANGED);
	ck_assert_int_eq(mtest_cmd(&m, rs, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[0], 0x70);
	ck_assert_uint_eq(m.mt_din[2] & 0x0f, SK_UNIT_ATTENTION);
	ck_assert_uint_eq(m.mt_din[12], 0x2a);
	ck_assert_uint_eq(m.mt_din[13], 0x01);
	ck_assert_int_eq(mtest_cmd(&m, tur, NULL, 0), SCSI_GOOD);
	rs[1] = 0x01;				/* DESC */
	ck_assert_int_eq(mtest_cmd(&m, rs, NULL, 0), SCSI_GOOD);
	ck_assert_uint_eq(m.mt_din[0], 0x72);
	ck_assert_uint_eq(m.mt_din[1], SK_NO_SENSE);
}
END_TEST

START_TEST(scsi__ua_set_skips_the_given_nexus)
{
	struct scsi_nexus *nx = mtest_nexus("iqn.2025-01.test:t", 1);

	scsi_nexus_attach(nx, 0, &m.mt_lu);
	mtest_clear_ua(&m, nx, 0);
	scsi_ua_set(&m.mt_lu, m.mt_nx, UA_MODE_CHANGED);
	ck_assert_int_eq(mtest_cmd(&m, tur, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(mtest_run(&m, nx, 0, tur, NULL, 0),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_MODE_PARAMS_CHANGED);
	scsi_nexus_detach(nx);
	free(nx);
}
END_TEST

START_TEST(scsi__lun_reset_ua_on_every_nexus)
{
	struct scsi_nexus *nx = mtest_nexus("iqn.2025-01.test:t", 1);

	uint8_t	 res[16] = { 0x16 };

	scsi_nexus_attach(nx, 0, &m.mt_lu);
	mtest_clear_ua(&m, nx, 0);
	ck_assert_int_eq(mtest_run(&m, nx, 0, res, NULL, 0), SCSI_GOOD);
	scsi_lun_reset(&m.mt_lu, m.mt_nx);
	ck_assert_int_eq(mtest_cmd(&m, tur, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_BUS_DEVICE_RESET);
	ck_assert_int_eq(mtest_cmd(&m, tur, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(mtest_run(&m, nx, 0, tur, NULL, 0),
	    SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_BUS_DEVICE_RESET);
	ck_assert_int_eq(mtest_run(&m, nx, 0, tur, NULL, 0), SCSI_GOOD);
	/* the reset released nx's RESERVE */
	ck_assert_int_eq(mtest_cmd(&m, res, NULL, 0), SCSI_GOOD);
	scsi_nexus_detach(nx);
	free(nx);
}
END_TEST

START_TEST(scsi__ua_before_invalid_opcode)
{
	uint8_t	 cdb[16] = { 0x02 };

	scsi_ua_set(&m.mt_lu, NULL, UA_MODE_CHANGED);
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_key(&m), SK_UNIT_ATTENTION);
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_OPCODE);
}
END_TEST

/* ---------------------------------------------------------------- */
/* Sense formats */

START_TEST(scsi__sense_fixed_by_default)
{
	uint8_t	 cdb[16] = { 0x28, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 1 };

	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_uint_eq(m.mt_t.t_sense[0], 0x70);
	ck_assert_uint_eq(m.mt_t.t_senselen, 18);
	ck_assert_uint_eq(m.mt_t.t_sense[7], 10);
	ck_assert_int_eq(mtest_asc(&m), ASC_LBA_OUT_OF_RANGE);
}
END_TEST

START_TEST(scsi__sense_descriptor_with_d_sense)
{
	uint8_t	 cdb[16] = { 0x28, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 1 };

	m.mt_nx->n_lunex[0].ln_mode.md_dsense = 1;
	ck_assert_int_eq(mtest_cmd(&m, cdb, NULL, 0), SCSI_CHECK_CONDITION);
	ck_assert_uint_eq(m.mt_t.t_sense[0], 0x72);
	ck_assert_int_eq(mtest_key(&m), SK_ILLEGAL_REQUEST);
	ck_assert_int_eq(mtest_asc(&m), ASC_LBA_OUT_OF_RANGE);
}
END_TEST

START_TEST(scsi__sense_descriptor_beyond_2tb)
{
	struct scsi_lu big;
	struct scsi_nexus *nx = mtest_nexus("iqn.2025-01.test:big", 1);
	uint8_t	 cdb[16] = { 0x88, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0, 0, 0, 1 };

	scsi_lu_init(&big, (1ULL << 33), BS, "big", 7, &memstore_ops,
	    m.mt_ms);
	scsi_nexus_attach(nx, 0, &big);
	mtest_clear_ua(&m, nx, 0);
	ck_assert_int_eq(mtest_run(&m, nx, 0, cdb, NULL, 0),
	    SCSI_CHECK_CONDITION);
	ck_assert_uint_eq(m.mt_t.t_sense[0], 0x72);
	ck_assert_int_eq(mtest_asc(&m), ASC_LBA_OUT_OF_RANGE);
	scsi_nexus_detach(nx);
	free(nx);
}
END_TEST

START_TEST(scsi__sense_information_and_ili)
{
	uint8_t	 b[64];
	uint64_t info;

	scsi_sense_ext(&m.mt_t, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY,
	    1234, SCSI_SENSE_INFO | SCSI_SENSE_ILI, 0);
	ck_assert_uint_eq(m.mt_t.t_sense[0], 0xf0);
	ck_assert_uint_eq(m.mt_t.t_sense[2], 0x20 | SK_MISCOMPARE);
	ck_assert(mtest_info(&m, &info));
	ck_assert_uint_eq(info, 1234);
	/* 64-bit INFORMATION does not fit fixed format: VALID stays 0 */
	scsi_sense_ext(&m.mt_t, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY,
	    1ULL << 40,
	    SCSI_SENSE_INFO, 0);
	ck_assert_uint_eq(m.mt_t.t_sense[0], 0x70);
	ck_assert_uint_eq(scsi_sense_build(b, 1, SK_MISCOMPARE,
	    ASC_MISCOMPARE_DURING_VERIFY, 1ULL << 40,
	    SCSI_SENSE_INFO | SCSI_SENSE_ILI, 0), 8 + 12 + 4);
	ck_assert_uint_eq(b[8], 0x00);
	ck_assert_uint_eq(b[10], 0x80);
	ck_assert_uint_eq(be64dec(b + 12), 1ULL << 40);
	ck_assert_uint_eq(b[20], 0x05);
	ck_assert_uint_eq(b[23], 0x20);
}
END_TEST

START_TEST(scsi__sense_key_specific_pointer)
{
	uint8_t	 b[64];
	uint32_t sks;

	scsi_sense_cdb(&m.mt_t, 9, 3);
	ck_assert(mtest_sks(&m, &sks));
	ck_assert_uint_eq(sks, 0x800000 | SCSI_SKS_CD | SCSI_SKS_BPV |
	    0x030000 | 9);
	scsi_sense_param(&m.mt_t, 300, -1);
	ck_assert(mtest_sks(&m, &sks));
	ck_assert_uint_eq(sks, 0x800000 | 300);
	ck_assert_int_eq(mtest_asc(&m), ASC_INVALID_FIELD_IN_PARAM_LIST);
	ck_assert_uint_eq(scsi_sense_build(b, 1, SK_ILLEGAL_REQUEST,
	    ASC_INVALID_FIELD_IN_CDB, 0, SCSI_SENSE_SKS, 7), 16);
	ck_assert_uint_eq(b[8], 0x02);
	ck_assert_uint_eq(b[12], 0x80);
	ck_assert_uint_eq(b[14], 7);
}
END_TEST

/* ---------------------------------------------------------------- */
/* LUN addressing */

START_TEST(scsi__lun_encode_decode)
{
	static const uint64_t luns[] = { 0, 1, 5, 255, 256, 300, 16383 };
	uint8_t	 b[8];
	size_t	 i;

	scsi_lun_encode(b, 5);
	ck_assert_uint_eq(b[0], 0);
	ck_assert_uint_eq(b[1], 5);
	scsi_lun_encode(b, 300);
	ck_assert_uint_eq(b[0], 0x41);
	ck_assert_uint_eq(b[1], 0x2c);
	for (i = 0; i < sizeof(luns) / sizeof(luns[0]); i++) {
		scsi_lun_encode(b, luns[i]);
		ck_assert_uint_eq(scsi_lun_decode(b), luns[i]);
	}
}
END_TEST

START_TEST(scsi__lun_decode_rejects_other_methods)
{
	static const uint8_t bad[][8] = {
		{ 0x01, 0x00 },			/* bus 1 */
		{ 0x80, 0x01 },			/* logical unit addressing */
		{ 0xc0, 0x01 },			/* extended */
		{ 0x00, 0x01, 0x00, 0x02 },	/* second level */
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_uint_ge(scsi_lun_decode(bad[i]), SCSI_MAX_LUNS);
}
END_TEST

/* ---------------------------------------------------------------- */
/* RESERVE(6) conflicts for other nexuses */

START_TEST(scsi__reserve_conflicts_other_nexus)
{
	struct scsi_nexus *nx = mtest_nexus("iqn.2025-01.test:t", 1);
	uint8_t	 res[16] = { 0x16 }, rel[16] = { 0x17 };
	uint8_t	 rd[16] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t	 inq[16] = { 0x12, 0, 0, 0, 36 };
	uint8_t	 ms[16] = { 0x1a, 0, 0x3f, 0, 255 };

	scsi_nexus_attach(nx, 0, &m.mt_lu);
	mtest_clear_ua(&m, nx, 0);
	ck_assert_int_eq(mtest_cmd(&m, res, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(mtest_cmd(&m, res, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(mtest_run(&m, nx, 0, rd, NULL, 0),
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(mtest_run(&m, nx, 0, ms, NULL, 0),
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(mtest_run(&m, nx, 0, res, NULL, 0),
	    SCSI_RESERVATION_CONFLICT);
	ck_assert_int_eq(mtest_run(&m, nx, 0, inq, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(mtest_run(&m, nx, 0, rel, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(mtest_run(&m, nx, 0, rd, NULL, 0),
	    SCSI_RESERVATION_CONFLICT);	/* another's RELEASE did nothing */
	ck_assert_int_eq(mtest_cmd(&m, ms, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(mtest_cmd(&m, rel, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(mtest_run(&m, nx, 0, res, NULL, 0), SCSI_GOOD);
	ck_assert_int_eq(mtest_cmd(&m, rd, NULL, 0),
	    SCSI_RESERVATION_CONFLICT);
	scsi_nexus_detach(nx);		/* nexus loss drops the RESERVE */
	ck_assert_int_eq(mtest_cmd(&m, rd, NULL, 0), SCSI_GOOD);
	free(nx);
}
END_TEST

Suite *
scsi_suite(void)
{
	Suite	*s = suite_create("scsi");
	TCase	*tc = tcase_create("dispatch");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, scsi__unknown_opcode_is_invalid_opcode);
	tcase_add_loop_test(tc, scsi__bad_service_action, 0,
	    sizeof(bad_sa) / sizeof(bad_sa[0]));
	tcase_add_loop_test(tc, scsi__reserved_bits_rejected_for_every_opcode,
	    0, 256);
	tcase_add_test(tc, scsi__usage_byte0_is_opcode);
	tcase_add_test(tc, scsi__block_fields_are_used_bits);
	tcase_add_loop_test(tc, scsi__decode_reports_direction_and_length, 0,
	    sizeof(xfer_vec) / sizeof(xfer_vec[0]));
	tcase_add_test(tc, scsi__missing_lun_not_supported);
	tcase_add_test(tc, scsi__missing_lun_inquiry_pq3);
	tcase_add_test(tc, scsi__missing_lun_report_luns_and_request_sense);
	tcase_add_test(tc, scsi__no_ua_pending_at_attach);
	tcase_add_test(tc, scsi__ua_reported_in_priority_order);
	tcase_add_test(tc, scsi__ua_not_reported_to_inquiry_report_luns);
	tcase_add_test(tc, scsi__request_sense_returns_and_clears_ua);
	tcase_add_test(tc, scsi__ua_set_skips_the_given_nexus);
	tcase_add_test(tc, scsi__lun_reset_ua_on_every_nexus);
	tcase_add_test(tc, scsi__ua_before_invalid_opcode);
	tcase_add_test(tc, scsi__sense_fixed_by_default);
	tcase_add_test(tc, scsi__sense_descriptor_with_d_sense);
	tcase_add_test(tc, scsi__sense_descriptor_beyond_2tb);
	tcase_add_test(tc, scsi__sense_information_and_ili);
	tcase_add_test(tc, scsi__sense_key_specific_pointer);
	tcase_add_test(tc, scsi__lun_encode_decode);
	tcase_add_test(tc, scsi__lun_decode_rejects_other_methods);
	tcase_add_test(tc, scsi__reserve_conflicts_other_nexus);
	suite_add_tcase(s, tc);
	return s;
}
