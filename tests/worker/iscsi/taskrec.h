/*
 * A write waiting for Data-Out as dataout_save() writes it into a
 * hand-over record (worker/iscsi/dataout.c), field by field, for the
 * tests that give dataout_restore() and handoff_adopt() records of
 * their own making: the fields in the order they are packed.
 */
#ifndef SCSIPUB_TEST_TASKREC_H
#define SCSIPUB_TEST_TASKREC_H

#include <stddef.h>
#include <stdint.h>

#include "iscsi.h"
#include "pack.h"

struct ttask {
	uint32_t	 tt_itt;
	uint32_t	 tt_edtl;
	uint64_t	 tt_lun;
	uint8_t		 tt_attr;
	uint8_t		 tt_cdb[16];
	uint32_t	 tt_want;
	uint32_t	 tt_got;
	uint32_t	 tt_xfer;
	uint8_t		 tt_waiting;
	uint32_t	 tt_unsol;
	uint32_t	 tt_unsol_off;
	uint32_t	 tt_unsol_sn;
	uint8_t		 tt_unsol_open;
	uint32_t	 tt_gap_off;
	uint32_t	 tt_gap_end;
	uint32_t	 tt_r2t_off;
	uint32_t	 tt_r2tsn;
	uint32_t	 tt_r2t_out;
	struct {
		uint32_t	 r_ttt;		/* 0: free */
		uint32_t	 r_off;
		uint32_t	 r_len;
		uint32_t	 r_got;
		uint32_t	 r_datasn;
	}		 tt_r2t[ISCSI_MAX_R2T];
	const uint8_t	*tt_buf;		/* not owned */
	size_t		 tt_buflen;
};

/* tests/worker/iscsi/taskrec.c */
void	 tt_pack(struct pack *, const struct ttask *);
int	 tt_unpack(struct pack *, struct ttask *);

#endif /* SCSIPUB_TEST_TASKREC_H */
