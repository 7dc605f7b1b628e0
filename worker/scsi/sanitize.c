/*
 * SANITIZE (SBC-4 5.30, 4.11): OVERWRITE and BLOCK ERASE, acting on the
 * LU as its store holds it (an overlay: base images are never written),
 * and EXIT FAILURE MODE; CRYPTO ERASE is not offered (the CDB table has
 * no such service action: INVALID FIELD IN CDB).
 *
 * The store runs a sanitize in the background and keeps its state where
 * every process serving the LU sees it: while it runs, every command
 * but INQUIRY, REPORT LUNS and REQUEST SENSE ends NOT READY, SANITIZE IN
 * PROGRESS with the progress in the sense data; after one failed, they
 * end MEDIUM ERROR, SANITIZE COMMAND FAILED until a SANITIZE succeeds
 * or, if the failed one had AUSE set, EXIT FAILURE MODE.  With IMMED
 * clear the command's status waits for the end (t_wait: the store tells
 * the transport).  No task management function stops a sanitize.
 */
#include <sys/queue.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bytes.h"
#include "scsi.h"

#define SA_OVERWRITE	0x01
#define SA_BLOCK_ERASE	0x02
#define SA_EXIT_FAILURE	0x1f

#define CDB_IMMED	0x80
#define CDB_AUSE	0x20

/* OVERWRITE's parameter list: PARAMETER LIST LENGTH bytes. */
uint32_t
sbc_xfer_sanitize(const uint8_t *cdb, const struct scsi_lu *lu)
{
	(void)lu;
	return be16dec(cdb + 7);
}

int
sbc_sanitize_offered(const struct scsi_lu *lu)
{
	const struct lu_store_ops *ops = lu->lu_ops;

	return ops != NULL && ops->so_sanitize != NULL &&
	    ops->so_sanitize_state != NULL && ops->so_sanitize_exit != NULL &&
	    lu->lu_blksz <= SCSI_PATTERN_MAX;
}

static void
san_state(struct scsi_lu *lu, struct scsi_sanitize *sz)
{
	memset(sz, 0, sizeof(*sz));
	if (sbc_sanitize_offered(lu))
		lu->lu_ops->so_sanitize_state(lu->lu_store, sz);
}

/*
 * Before a command runs: NOT READY while the LU is being sanitized,
 * MEDIUM ERROR once a sanitize failed, but for the commands allowed.
 */
int
sbc_sanitize_gate(struct scsi_task *t, const struct scsi_cmd *c,
    struct scsi_lu *lu)
{
	struct scsi_sanitize sz;

	if (c->c_flags & SCSI_CMD_SANOK)
		return 0;
	san_state(lu, &sz);
	switch (sz.sz_state) {
	case SCSI_SANITIZE_RUNNING:
		scsi_sense_ext(t, SK_NOT_READY, ASC_NOT_READY_SANITIZE, 0,
		    SCSI_SENSE_SKS, sz.sz_progress);
		return -1;
	case SCSI_SANITIZE_FAILED:
		if (c->c_flags & SCSI_CMD_SANITIZE)
			return 0;
		scsi_sense(t, SK_MEDIUM_ERROR, ASC_SANITIZE_FAILED);
		return -1;
	}
	return 0;
}

/* REQUEST SENSE: the sanitize in progress or failed; 0: neither. */
size_t
sbc_sanitize_sense(struct scsi_lu *lu, uint8_t *b, int desc)
{
	struct scsi_sanitize sz;

	san_state(lu, &sz);
	if (sz.sz_state == SCSI_SANITIZE_RUNNING)
		return scsi_sense_build(b, desc, SK_NOT_READY,
		    ASC_NOT_READY_SANITIZE, 0, SCSI_SENSE_SKS, sz.sz_progress);
	if (sz.sz_state == SCSI_SANITIZE_FAILED)
		return scsi_sense_build(b, desc, SK_MEDIUM_ERROR,
		    ASC_SANITIZE_FAILED, 0, 0, 0);
	return 0;
}

/*
 * The OVERWRITE parameter list: one logical block of the pattern into
 * blk.  The last of OVERWRITE COUNT passes writes the pattern as given
 * (INVERT only changes the passes before it), and an overlay has nothing
 * the earlier passes would reach, so one pass is all there is.
 */
static int
san_pattern(struct scsi_task *t, const struct scsi_lu *lu, uint8_t *blk)
{
	const uint8_t *p = t->t_dout;
	uint32_t plen = be16dec(t->t_cdb + 7), ipl, i;

	if (plen <= 4 || plen >= lu->lu_blksz + 5) {
		scsi_sense_cdb(t, 7, -1);
		return -1;
	}
	if (t->t_doutlen < plen) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		return -1;
	}
	if ((p[0] & 0x1f) == 0 || (p[0] & 0x60) != 0) {	/* COUNT, TEST */
		scsi_sense_param(t, 0, (p[0] & 0x60) ? 6 : 4);
		return -1;
	}
	if (p[1] != 0) {
		scsi_sense_param(t, 1, -1);
		return -1;
	}
	ipl = be16dec(p + 2);
	if (ipl == 0 || ipl > lu->lu_blksz || ipl > plen - 4) {
		scsi_sense_param(t, 2, -1);
		return -1;
	}
	for (i = 0; i < lu->lu_blksz; i++)
		blk[i] = p[4 + i % ipl];
	return 0;
}

/* Write protected for this nexus, or by any nexus's SWP anywhere. */
static int
san_wp(struct scsi_task *t, struct scsi_lu *lu)
{
	const struct lu_store_ops *ops = lu->lu_ops;

	if (lu->lu_readonly) {
		scsi_sense(t, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
		return -1;
	}
	if (lu->lu_nswp > 0 || (ops->so_wp_elsewhere != NULL &&
	    ops->so_wp_elsewhere(lu->lu_store))) {
		scsi_sense(t, SK_DATA_PROTECT, ASC_SOFTWARE_WRITE_PROTECTED);
		return -1;
	}
	return 0;
}

/* EXIT FAILURE MODE: allowed out of a failure only if it had AUSE. */
static void
san_exit(struct scsi_task *t, struct scsi_lu *lu,
    const struct scsi_sanitize *sz)
{
	if (sz->sz_state != SCSI_SANITIZE_FAILED)
		return;
	if (!sz->sz_ause) {
		scsi_sense_cdb(t, 1, 4);
		return;
	}
	lu->lu_ops->so_sanitize_exit(lu->lu_store);
}

static void
san_start(struct scsi_task *t, struct scsi_lu *lu, struct scsi_sanitize *sz)
{
	int	 rc;

	rc = lu->lu_ops->so_sanitize(lu->lu_store, sz);
	if (rc == -EBUSY)
		scsi_sense_ext(t, SK_NOT_READY, ASC_NOT_READY_SANITIZE, 0,
		    SCSI_SENSE_SKS, 0);
	else if (rc != 0)
		scsi_sense(t, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
	else if (!(t->t_cdb[1] & CDB_IMMED))
		t->t_wait = 1;
}

void
sbc_sanitize(struct scsi_task *t, struct scsi_lu *lu)
{
	struct scsi_sanitize sz;
	uint8_t	 blk[SCSI_PATTERN_MAX];
	int	 sa = t->t_cdb[1] & 0x1f, ause = (t->t_cdb[1] & CDB_AUSE) != 0;

	if (!sbc_sanitize_offered(lu)) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return;
	}
	san_state(lu, &sz);
	if (sa == SA_EXIT_FAILURE) {
		san_exit(t, lu, &sz);
		return;
	}
	/* restricted completion: only another with AUSE clear gets out */
	if (sz.sz_state == SCSI_SANITIZE_FAILED && !sz.sz_ause && ause) {
		scsi_sense_cdb(t, 1, 5);
		return;
	}
	if (sa == SA_OVERWRITE && san_pattern(t, lu, blk) != 0)
		return;
	if (san_wp(t, lu) != 0)
		return;
	memset(&sz, 0, sizeof(sz));
	sz.sz_method = sa == SA_OVERWRITE ? SCSI_SANITIZE_OVERWRITE :
	    SCSI_SANITIZE_ERASE;
	sz.sz_ause = ause;
	sz.sz_blksz = lu->lu_blksz;
	sz.sz_pattern = blk;
	san_start(t, lu, &sz);
}
