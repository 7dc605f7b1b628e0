/*
 * A waiting write's section of a hand-over record (taskrec.h), written
 * and read here as the tests see the format, not with dataout.c's code.
 */
#include <string.h>

#include "taskrec.h"

/* The fields of t, into the section open in pk. */
void
tt_pack(struct pack *pk, const struct ttask *t)
{
	int	 i;

	pack_u32(pk, t->tt_itt);
	pack_u32(pk, t->tt_edtl);
	pack_u64(pk, t->tt_lun);
	pack_u8(pk, t->tt_attr);
	pack_bytes(pk, t->tt_cdb, sizeof(t->tt_cdb));
	pack_u32(pk, t->tt_want);
	pack_u32(pk, t->tt_got);
	pack_u32(pk, t->tt_xfer);
	pack_u8(pk, t->tt_waiting);
	pack_u32(pk, t->tt_unsol);
	pack_u32(pk, t->tt_unsol_off);
	pack_u32(pk, t->tt_unsol_sn);
	pack_u8(pk, t->tt_unsol_open);
	pack_u32(pk, t->tt_gap_off);
	pack_u32(pk, t->tt_gap_end);
	pack_u32(pk, t->tt_r2t_off);
	pack_u32(pk, t->tt_r2tsn);
	pack_u32(pk, t->tt_r2t_out);
	for (i = 0; i < ISCSI_MAX_R2T; i++) {
		pack_u32(pk, t->tt_r2t[i].r_ttt);
		pack_u32(pk, t->tt_r2t[i].r_off);
		pack_u32(pk, t->tt_r2t[i].r_len);
		pack_u32(pk, t->tt_r2t[i].r_got);
		pack_u32(pk, t->tt_r2t[i].r_datasn);
	}
	pack_blob(pk, t->tt_buf, t->tt_buflen);
}

/* A section tt_pack's layout: into t (its buffer points into sec). 0/-1. */
int
tt_unpack(struct pack *sec, struct ttask *t)
{
	int	 i;

	memset(t, 0, sizeof(*t));
	t->tt_itt = unpack_u32(sec);
	t->tt_edtl = unpack_u32(sec);
	t->tt_lun = unpack_u64(sec);
	t->tt_attr = unpack_u8(sec);
	unpack_bytes(sec, t->tt_cdb, sizeof(t->tt_cdb));
	t->tt_want = unpack_u32(sec);
	t->tt_got = unpack_u32(sec);
	t->tt_xfer = unpack_u32(sec);
	t->tt_waiting = unpack_u8(sec);
	t->tt_unsol = unpack_u32(sec);
	t->tt_unsol_off = unpack_u32(sec);
	t->tt_unsol_sn = unpack_u32(sec);
	t->tt_unsol_open = unpack_u8(sec);
	t->tt_gap_off = unpack_u32(sec);
	t->tt_gap_end = unpack_u32(sec);
	t->tt_r2t_off = unpack_u32(sec);
	t->tt_r2tsn = unpack_u32(sec);
	t->tt_r2t_out = unpack_u32(sec);
	for (i = 0; i < ISCSI_MAX_R2T; i++) {
		t->tt_r2t[i].r_ttt = unpack_u32(sec);
		t->tt_r2t[i].r_off = unpack_u32(sec);
		t->tt_r2t[i].r_len = unpack_u32(sec);
		t->tt_r2t[i].r_got = unpack_u32(sec);
		t->tt_r2t[i].r_datasn = unpack_u32(sec);
	}
	t->tt_buf = unpack_blob(sec, &t->tt_buflen);
	return sec->pk_err || sec->pk_short ? -1 : 0;
}
