/*
 * SBC-3 block commands over a logical unit's store: READ/WRITE in all
 * sizes, VERIFY, WRITE AND VERIFY, ORWRITE, COMPARE AND WRITE, WRITE
 * SAME, UNMAP, GET LBA STATUS, PRE-FETCH, SYNCHRONIZE CACHE, READ
 * CAPACITY and READ DEFECT DATA; SBC-4's WRITE ATOMIC(16).  A worker
 * runs one command at a time, so COMPARE AND WRITE and ORWRITE are
 * atomic as they stand.
 */
#include <sys/queue.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "scsi.h"

#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))
#define CHUNK_BYTES	(1u << 20)

static uint64_t
cdb_field(const uint8_t *cdb, struct scsi_field f)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < f.f_len; i++)
		v = v << 8 | cdb[f.f_off + i];
	return v;
}

/*
 * LBA and block count of a block command, from where its entry in the
 * CDB table says they are; -1 for a command without them.
 */
int
sbc_rw_decode(const uint8_t *cdb, uint64_t *lba, uint32_t *n)
{
	const struct scsi_cmd *c;
	int	 sa_bad;

	if ((c = scsi_cmd_find(cdb, &sa_bad)) == NULL || c->c_lba.f_len == 0)
		return -1;
	*lba = cdb_field(cdb, c->c_lba);
	if (c->c_lba.f_len == 3)
		*lba &= 0x1fffff;	/* a 6-byte CDB's 21 bits */
	*n = (uint32_t)cdb_field(cdb, c->c_nblk);
	if (*n == 0 && (c->c_flags & SCSI_CMD_LEN256))
		*n = 256;
	return 0;
}

/* Offset of the running command's TRANSFER LENGTH, for sense pointers. */
static unsigned
nblk_off(const struct scsi_task *t)
{
	return t->t_cmd->c_nblk.f_off;
}

/* LBA OUT OF RANGE unless lba..lba+n-1 lies on the medium. */
static int
check_range(struct scsi_task *t, const struct scsi_lu *lu, uint64_t lba,
    uint64_t n)
{
	if (lba > lu->lu_blocks || n > lu->lu_blocks - lba) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return -1;
	}
	return 0;
}

static int
check_xfer(struct scsi_task *t, const struct scsi_lu *lu, uint64_t n)
{
	if (n * lu->lu_blksz > lu->lu_max_xfer) {
		scsi_sense_cdb(t, nblk_off(t), -1);
		return -1;
	}
	return 0;
}

static int
check_wp(struct scsi_task *t, const struct scsi_lu *lu)
{
	if (scsi_wp(t, lu)) {
		scsi_sense(t, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
		return -1;
	}
	return 0;
}

/*
 * Store errors: space exhausted; not serving for now (a node of a
 * cluster that lost it), which initiators retry; else a medium error.
 */
static void
io_error(struct scsi_task *t, int rc, int write)
{
	if (rc == -ENOSPC || rc == -EDQUOT)
		scsi_sense(t, SK_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED);
	else if (rc == -EAGAIN)
		scsi_sense(t, SK_NOT_READY, ASC_BECOMING_READY);
	else if (write)
		scsi_sense(t, SK_MEDIUM_ERROR, ASC_WRITE_ERROR);
	else
		scsi_sense(t, SK_MEDIUM_ERROR, ASC_READ_ERROR);
}

static int
lu_read(struct scsi_task *t, const struct scsi_lu *lu, void *buf,
    uint64_t lba, uint64_t n)
{
	int	 rc;

	rc = lu->lu_ops->so_read(lu->lu_store, buf, n * lu->lu_blksz,
	    lba * lu->lu_blksz);
	if (rc != 0)
		io_error(t, rc, 0);
	return rc;
}

static int
lu_write(struct scsi_task *t, const struct scsi_lu *lu, const void *buf,
    uint64_t lba, uint64_t n)
{
	int	 rc;

	rc = lu->lu_ops->so_write(lu->lu_store, buf, n * lu->lu_blksz,
	    lba * lu->lu_blksz);
	if (rc != 0)
		io_error(t, rc, 1);
	return rc;
}

static int
lu_sync(struct scsi_task *t, const struct scsi_lu *lu)
{
	int	 rc;

	if (lu->lu_ops->so_sync == NULL)
		return 0;
	if ((rc = lu->lu_ops->so_sync(lu->lu_store)) != 0)
		io_error(t, rc, 1);
	return rc;
}

/* ---------------------------------------------------------------- */
/* Transfer lengths for the transport */

uint32_t
sbc_xfer_rw(const uint8_t *cdb, const struct scsi_lu *lu)
{
	uint64_t lba, bytes;
	uint32_t n;

	if (sbc_rw_decode(cdb, &lba, &n) != 0)
		return 0;
	bytes = (uint64_t)n * lu->lu_blksz;
	return bytes <= lu->lu_max_xfer ? (uint32_t)bytes : 0;
}

uint32_t
sbc_xfer_verify(const uint8_t *cdb, const struct scsi_lu *lu)
{
	switch ((cdb[1] >> 1) & 3) {
	case 1:
		return sbc_xfer_rw(cdb, lu);
	case 3:
		return lu->lu_blksz;
	}
	return 0;
}

uint32_t
sbc_xfer_caw(const uint8_t *cdb, const struct scsi_lu *lu)
{
	uint64_t lba;
	uint32_t n;

	if (sbc_rw_decode(cdb, &lba, &n) != 0)
		return 0;
	return 2u * n * lu->lu_blksz;
}

uint32_t
sbc_xfer_ws(const uint8_t *cdb, const struct scsi_lu *lu)
{
	if (cdb[0] == 0x93 && (cdb[1] & 0x01))	/* NDOB */
		return 0;
	return lu->lu_blksz;
}

uint32_t
sbc_xfer_unmap(const uint8_t *cdb, const struct scsi_lu *lu)
{
	(void)lu;
	return be16dec(cdb + 7);
}

/* ---------------------------------------------------------------- */
/* READ 6/10/12/16 */

/* Read into t_din up to its capacity; a partial last block bounces. */
static void
read_din(struct scsi_task *t, const struct scsi_lu *lu, uint64_t lba,
    uint32_t n)
{
	uint64_t bs = lu->lu_blksz, total = n * bs, full, part;
	uint8_t	*tmp;

	t->t_dinlen = (uint32_t)total;
	full = MIN(total, t->t_dincap) / bs;
	part = MIN(total, t->t_dincap) % bs;
	if (full > 0 && lu_read(t, lu, t->t_din, lba, full) != 0)
		return;
	if (part == 0)
		return;
	if ((tmp = malloc(bs)) == NULL) {
		scsi_sense(t, SK_HARDWARE_ERROR, ASC_SYSTEM_RESOURCE_FAILURE);
		return;
	}
	if (lu_read(t, lu, tmp, lba + full, 1) == 0)
		memcpy(t->t_din + full * bs, tmp, part);
	free(tmp);
}

void
sbc_read(struct scsi_task *t, struct scsi_lu *lu)
{
	uint64_t lba;
	uint32_t n;

	sbc_rw_decode(t->t_cdb, &lba, &n);
	if (check_range(t, lu, lba, n) != 0 || check_xfer(t, lu, n) != 0)
		return;
	if (n > 0)
		read_din(t, lu, lba, n);
}

/* ---------------------------------------------------------------- */
/* WRITE 6/10/12/16, WRITE AND VERIFY 10/12/16 */

/*
 * Write the blocks the initiator sent: when its expected transfer
 * length was short, only the whole blocks received are written (and
 * the transport reports the residual), as iSCSI targets commonly do.
 */
static void
do_write(struct scsi_task *t, struct scsi_lu *lu, int fua)
{
	uint64_t lba;
	uint32_t n, got;

	sbc_rw_decode(t->t_cdb, &lba, &n);
	if (check_range(t, lu, lba, n) != 0 || check_xfer(t, lu, n) != 0)
		return;
	if (n == 0 || check_wp(t, lu) != 0)
		return;
	got = MIN(n, t->t_doutlen / lu->lu_blksz);
	if (got == 0)
		return;
	if (lu_write(t, lu, t->t_dout, lba, got) != 0)
		return;
	if (fua || !scsi_task_mode(t)->md_wce)
		lu_sync(t, lu);
}

void
sbc_write(struct scsi_task *t, struct scsi_lu *lu)
{
	do_write(t, lu, (t->t_cmd->c_flags & SCSI_CMD_FUA) &&
	    (t->t_cdb[1] & 0x08));
}

/* The store is what was written; verification is durability. */
void
sbc_write_verify(struct scsi_task *t, struct scsi_lu *lu)
{
	do_write(t, lu, 1);
}

/* ---------------------------------------------------------------- */
/* WRITE ATOMIC(16) (SBC-4) */

/*
 * The store's atomic unit and most in blocks, as Block Limits reports
 * them (ATOMIC ALIGNMENT and TRANSFER LENGTH GRANULARITY are the unit);
 * 0 and 0 when the store has no atomic write.
 */
void
sbc_atomic_limits(const struct scsi_lu *lu, uint32_t *unit, uint32_t *max)
{
	uint32_t u = 0, m = 0, bs = lu->lu_blksz;

	*unit = *max = 0;
	if (bs == 0 || lu->lu_ops == NULL ||
	    lu->lu_ops->so_write_atomic == NULL ||
	    lu->lu_ops->so_atomic_limits == NULL)
		return;
	lu->lu_ops->so_atomic_limits(lu->lu_store, &u, &m);
	u = u <= bs ? 1 : u / bs;
	m = MIN(m, lu->lu_max_xfer) / bs;
	m -= m % u;
	if (m == 0)
		return;
	*unit = u;
	*max = m;
}

static int
check_atomic(struct scsi_task *t, const struct scsi_lu *lu, uint64_t lba,
    uint32_t n)
{
	uint32_t unit, max;

	sbc_atomic_limits(lu, &unit, &max);
	if (max == 0) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
		return -1;
	}
	if (n > max || n % unit != 0) {
		scsi_sense_cdb(t, nblk_off(t), -1);
		return -1;
	}
	if (lba % unit != 0) {
		scsi_sense_cdb(t, t->t_cmd->c_lba.f_off, -1);
		return -1;
	}
	return 0;
}

/*
 * All of its blocks or none, as every reader sees them and across the
 * death of any process (the store's so_write_atomic); so a short
 * Data-Out writes nothing.
 */
void
sbc_write_atomic(struct scsi_task *t, struct scsi_lu *lu)
{
	uint64_t lba, bytes;
	uint32_t n;
	int	 rc;

	sbc_rw_decode(t->t_cdb, &lba, &n);
	if (check_range(t, lu, lba, n) != 0 || n == 0)
		return;
	if (check_atomic(t, lu, lba, n) != 0 || check_wp(t, lu) != 0)
		return;
	bytes = (uint64_t)n * lu->lu_blksz;
	if (t->t_doutlen < bytes) {
		scsi_sense_cdb(t, nblk_off(t), -1);
		return;
	}
	rc = lu->lu_ops->so_write_atomic(lu->lu_store, t->t_dout, bytes,
	    lba * lu->lu_blksz);
	if (rc != 0) {
		io_error(t, rc, 1);
		return;
	}
	if ((t->t_cdb[1] & 0x08) || !scsi_task_mode(t)->md_wce)
		lu_sync(t, lu);
}

/* ---------------------------------------------------------------- */
/* VERIFY 10/12/16 */

static uint32_t
first_diff(const uint8_t *a, const uint8_t *b, uint32_t len)
{
	uint32_t i;

	for (i = 0; i < len && a[i] == b[i]; i++)
		;
	return i;
}

/*
 * Compare k blocks read into buf with data (one block repeated when
 * pat), the first of them off bytes into the command: 0 if equal, -1
 * after sense (MISCOMPARE, INFORMATION = the byte offset).
 */
static int
compare_chunk(struct scsi_task *t, const struct scsi_lu *lu,
    const uint8_t *buf, uint32_t k, const uint8_t *data, int pat,
    uint64_t off)
{
	uint32_t bs = lu->lu_blksz, i;
	const uint8_t *b, *d;

	for (i = 0; i < k; i++) {
		b = buf + (size_t)i * bs;
		d = pat ? data : data + (size_t)i * bs;
		if (memcmp(b, d, bs) == 0)
			continue;
		scsi_sense_info(t, SK_MISCOMPARE, ASC_MISCOMPARE_DURING_VERIFY,
		    off + (uint64_t)i * bs + first_diff(b, d, bs));
		return -1;
	}
	return 0;
}

/*
 * Compare n blocks at lba with data (one block repeated when pat):
 * 0 if equal, -1 after sense (MISCOMPARE, INFORMATION = byte offset).
 * No more than one command's Data-Out (lu_max_xfer) at a time.
 */
static int
compare_medium(struct scsi_task *t, const struct scsi_lu *lu, uint64_t lba,
    uint32_t n, const uint8_t *data, int pat)
{
	uint32_t bs = lu->lu_blksz, per = CHUNK_BYTES / bs, k;
	uint64_t done;
	uint8_t	*buf;
	int	 rc = 0;

	if ((buf = malloc((size_t)MIN(per, n) * bs)) == NULL) {
		scsi_sense(t, SK_HARDWARE_ERROR, ASC_SYSTEM_RESOURCE_FAILURE);
		return -1;
	}
	for (done = 0; done < n && rc == 0; done += k) {
		k = (uint32_t)MIN(per, n - done);
		if ((rc = lu_read(t, lu, buf, lba + done, k)) == 0)
			rc = compare_chunk(t, lu, buf, k, pat ? data :
			    data + done * bs, pat, done * bs);
	}
	free(buf);
	return rc != 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- */
/* Commands that run in steps over a range of blocks (scsi.h) */

/* VERIFY with BYTCHK 11b, WRITE SAME: where it is, one block it uses. */
struct sbc_step {
	struct scsi_step	 ss_sp;
	uint64_t		 ss_lba;	/* the next block */
	uint64_t		 ss_left;	/* blocks still to do */
	uint64_t		 ss_done;	/* blocks done */
	int			 ss_unmap;	/* WRITE SAME: deallocate */
	uint8_t			 ss_blk[];	/* one block: the pattern */
};

static struct sbc_step *
step_new(struct scsi_task *t, const struct scsi_lu *lu, uint64_t lba,
    uint64_t n, const uint8_t *blk)
{
	struct sbc_step *ss;

	if ((ss = calloc(1, sizeof(*ss) + lu->lu_blksz)) == NULL) {
		scsi_sense(t, SK_HARDWARE_ERROR, ASC_SYSTEM_RESOURCE_FAILURE);
		return NULL;
	}
	ss->ss_lba = lba;
	ss->ss_left = n;
	if (blk != NULL)
		memcpy(ss->ss_blk, blk, lu->lu_blksz);
	return ss;
}

/* The blocks of this step: at most SCSI_STEP_BYTES of them. */
static uint32_t
step_blocks(const struct sbc_step *ss, const struct scsi_lu *lu)
{
	uint32_t per = SCSI_STEP_BYTES / lu->lu_blksz;

	return (uint32_t)MIN(ss->ss_left, per > 0 ? per : 1);
}

/* k more blocks done: 1 while some are left. */
static int
step_advance(struct sbc_step *ss, uint32_t k)
{
	ss->ss_lba += k;
	ss->ss_done += k;
	ss->ss_left -= k;
	return ss->ss_left > 0;
}

/* ---------------------------------------------------------------- */
/* VERIFY 10/12/16 */

/* BYTCHK 11b: one step of the blocks against the one block sent. */
static int
verify_step(struct scsi_task *t, struct scsi_step *sp)
{
	struct sbc_step *ss = (struct sbc_step *)sp;
	const struct scsi_lu *lu = sp->sp_lu;
	uint32_t k = step_blocks(ss, lu);
	uint8_t	*buf;
	int	 rc;

	if ((buf = malloc((size_t)k * lu->lu_blksz)) == NULL) {
		scsi_sense(t, SK_HARDWARE_ERROR, ASC_SYSTEM_RESOURCE_FAILURE);
		return 0;
	}
	rc = lu_read(t, lu, buf, ss->ss_lba, k);
	if (rc == 0)
		rc = compare_chunk(t, lu, buf, k, ss->ss_blk, 1,
		    ss->ss_done * lu->lu_blksz);
	free(buf);
	return rc == 0 && step_advance(ss, k);
}

void
sbc_verify(struct scsi_task *t, struct scsi_lu *lu)
{
	struct sbc_step *ss;
	uint64_t lba;
	uint32_t n, bs = lu->lu_blksz;
	int	 bytchk = (t->t_cdb[1] >> 1) & 3;

	sbc_rw_decode(t->t_cdb, &lba, &n);
	if (bytchk == 2) {
		scsi_sense_cdb(t, 1, 2);
		return;
	}
	if (check_range(t, lu, lba, n) != 0)
		return;
	if (bytchk == 0 || n == 0)
		return;			/* medium verification: nothing to do */
	if (bytchk == 1 && check_xfer(t, lu, n) != 0)
		return;
	if (bytchk == 1) {		/* as much as a WRITE may send */
		n = MIN(n, t->t_doutlen / bs);
		if (n > 0)
			compare_medium(t, lu, lba, n, t->t_dout, 0);
		return;
	}
	if (t->t_doutlen < bs)
		return;
	/* BYTCHK 11b: up to the whole medium, in steps */
	if ((ss = step_new(t, lu, lba, n, t->t_dout)) != NULL)
		scsi_step_start(t, &ss->ss_sp, lu, verify_step);
}

/* ---------------------------------------------------------------- */
/* ORWRITE 16 */

void
sbc_orwrite(struct scsi_task *t, struct scsi_lu *lu)
{
	uint64_t lba, done, j;
	uint32_t n, bs = lu->lu_blksz, per = CHUNK_BYTES / bs, k;
	uint8_t	*buf;

	sbc_rw_decode(t->t_cdb, &lba, &n);
	if (check_range(t, lu, lba, n) != 0 || check_xfer(t, lu, n) != 0)
		return;
	if (n == 0 || check_wp(t, lu) != 0)
		return;
	n = MIN(n, t->t_doutlen / bs);
	if (n == 0)
		return;
	if ((buf = malloc((size_t)MIN(per, n) * bs)) == NULL) {
		scsi_sense(t, SK_HARDWARE_ERROR, ASC_SYSTEM_RESOURCE_FAILURE);
		return;
	}
	for (done = 0; done < n; done += k) {
		k = (uint32_t)MIN(per, n - done);
		if (lu_read(t, lu, buf, lba + done, k) != 0)
			break;
		for (j = 0; j < (uint64_t)k * bs; j++)
			buf[j] |= t->t_dout[done * bs + j];
		if (lu_write(t, lu, buf, lba + done, k) != 0)
			break;
	}
	free(buf);
	if (t->t_status == SCSI_GOOD && (t->t_cdb[1] & 0x08))
		lu_sync(t, lu);
}

/* ---------------------------------------------------------------- */
/* COMPARE AND WRITE */

/* Hold or let go of the blocks against other workers' COMPARE AND WRITE. */
static int
caw_hold(struct scsi_task *t, struct scsi_lu *lu, uint64_t lba, uint32_t n,
    int on)
{
	uint64_t bs = lu->lu_blksz;
	int	 rc;

	if (lu->lu_ops->so_excl == NULL)
		return 0;
	rc = lu->lu_ops->so_excl(lu->lu_store, lba * bs, n * bs, on);
	if (rc != 0 && on)
		io_error(t, rc, 1);
	return rc;
}

void
sbc_caw(struct scsi_task *t, struct scsi_lu *lu)
{
	uint64_t lba;
	uint32_t n, half;

	sbc_rw_decode(t->t_cdb, &lba, &n);
	half = n * lu->lu_blksz;
	if (check_range(t, lu, lba, n) != 0)
		return;
	/*
	 * No blocks is no operation, but a Data-Out buffer big enough to
	 * hold a verify and write pair contradicts the field (a length
	 * of 256 does not fit in it): INVALID FIELD IN CDB.
	 */
	if (n == 0) {
		if (t->t_edtl >= 2 * lu->lu_blksz)
			scsi_sense_cdb(t, 13, -1);
		return;
	}
	if (check_wp(t, lu) != 0)
		return;
	if (t->t_edtl != 2 * half || t->t_doutlen != 2 * half) {
		scsi_sense_cdb(t, 13, -1);
		return;
	}
	if (caw_hold(t, lu, lba, n, 1) != 0)
		return;
	if (compare_medium(t, lu, lba, n, t->t_dout, 0) == 0 &&
	    lu_write(t, lu, t->t_dout + half, lba, n) == 0 &&
	    ((t->t_cdb[1] & 0x08) || !scsi_task_mode(t)->md_wce))
		lu_sync(t, lu);
	caw_hold(t, lu, lba, n, 0);
}

/* ---------------------------------------------------------------- */
/* WRITE SAME 10/16 */

/*
 * MAXIMUM WRITE SAME LENGTH: no more than one READ may fetch, so an
 * initiator that reads back what it wrote stays within the limits.
 */
uint32_t
sbc_max_ws(const struct scsi_lu *lu)
{
	uint32_t n = lu->lu_max_xfer / (lu->lu_blksz ? lu->lu_blksz : 512);

	return MIN(n, SCSI_MAX_WS_BLOCKS);
}

static void
ws_unmap(struct scsi_task *t, const struct scsi_lu *lu, uint64_t lba,
    uint32_t n)
{
	uint64_t bs = lu->lu_blksz;
	int	 rc;

	rc = lu->lu_ops->so_unmap(lu->lu_store, lba * bs, n * bs);
	if (rc != 0)
		io_error(t, rc, 1);
}

/* Write one block's pattern k times at lba. */
static void
ws_fill(struct scsi_task *t, const struct scsi_lu *lu, uint64_t lba,
    uint32_t k, const uint8_t *blk)
{
	uint32_t bs = lu->lu_blksz, i;
	uint8_t	*buf;

	if ((buf = malloc((size_t)k * bs)) == NULL) {
		scsi_sense(t, SK_HARDWARE_ERROR, ASC_SYSTEM_RESOURCE_FAILURE);
		return;
	}
	for (i = 0; i < k; i++)
		memcpy(buf + (size_t)i * bs, blk, bs);
	lu_write(t, lu, buf, lba, k);
	free(buf);
}

/* One step of WRITE SAME; the cache written through after the last. */
static int
ws_step(struct scsi_task *t, struct scsi_step *sp)
{
	struct sbc_step *ss = (struct sbc_step *)sp;
	const struct scsi_lu *lu = sp->sp_lu;
	uint32_t k = step_blocks(ss, lu);

	if (ss->ss_unmap)
		ws_unmap(t, lu, ss->ss_lba, k);
	else
		ws_fill(t, lu, ss->ss_lba, k, ss->ss_blk);
	if (t->t_status != SCSI_GOOD)
		return 0;
	if (step_advance(ss, k))
		return 1;
	if (!scsi_task_mode(t)->md_wce)
		lu_sync(t, lu);
	return 0;
}

static const uint8_t *
ws_data(struct scsi_task *t, const struct scsi_lu *lu, uint8_t **zero)
{
	*zero = NULL;
	if (t->t_cdb[0] == 0x93 && (t->t_cdb[1] & 0x01)) {	/* NDOB */
		if ((*zero = calloc(1, lu->lu_blksz)) == NULL)
			scsi_sense(t, SK_HARDWARE_ERROR, ASC_SYSTEM_RESOURCE_FAILURE);
		return *zero;
	}
	if (t->t_edtl != lu->lu_blksz || t->t_doutlen < lu->lu_blksz) {
		scsi_sense_cdb(t, nblk_off(t), -1);
		return NULL;
	}
	return t->t_dout;
}

void
sbc_write_same(struct scsi_task *t, struct scsi_lu *lu)
{
	struct sbc_step *ss;
	const uint8_t *blk;
	uint8_t	*zero;
	uint64_t lba;
	uint32_t n;

	sbc_rw_decode(t->t_cdb, &lba, &n);
	if (check_range(t, lu, lba, n) != 0)
		return;
	if (n == 0)				/* to the end of the medium */
		n = (uint32_t)MIN(lu->lu_blocks - lba, UINT32_MAX);
	if (n > sbc_max_ws(lu)) {
		scsi_sense_cdb(t, nblk_off(t), -1);
		return;
	}
	if (n == 0)
		return;
	if (check_wp(t, lu) != 0 || (blk = ws_data(t, lu, &zero)) == NULL)
		return;
	ss = step_new(t, lu, lba, n, blk);
	free(zero);
	if (ss == NULL)
		return;
	/* UNMAP: deallocate whatever the block holds; reads give zeros */
	ss->ss_unmap = (t->t_cdb[1] & 0x08) && lu->lu_ops->so_unmap != NULL;
	scsi_step_start(t, &ss->ss_sp, lu, ws_step);
}

/* ---------------------------------------------------------------- */
/* UNMAP */

/* All descriptors are checked before any block is deallocated. */
static int
unmap_check(struct scsi_task *t, const struct scsi_lu *lu, uint32_t nd)
{
	const uint8_t *d;
	uint64_t total = 0;
	uint32_t i;

	if (nd > SCSI_MAX_UNMAP_DESC) {
		scsi_sense_param(t, 2, -1);
		return -1;
	}
	for (i = 0; i < nd; i++) {
		d = t->t_dout + 8 + 16 * i;
		if (check_range(t, lu, be64dec(d), be32dec(d + 8)) != 0)
			return -1;
		total += be32dec(d + 8);
		if (total > SCSI_MAX_UNMAP_BLOCKS) {
			scsi_sense_param(t, 8 + 16 * i + 8, -1);
			return -1;
		}
	}
	return 0;
}

/* UNMAP in steps: the descriptors (checked), and how far it got. */
struct unmap_step {
	struct scsi_step	 us_sp;
	uint32_t		 us_nd;
	uint32_t		 us_i;		/* the descriptor being done */
	uint32_t		 us_done;	/* of its blocks, deallocated */
	uint8_t			 us_desc[];	/* us_nd descriptors of 16 bytes */
};

/* Up to SCSI_STEP_BYTES of the descriptors' blocks: 1 while more are left. */
static int
unmap_step(struct scsi_task *t, struct scsi_step *sp)
{
	struct unmap_step *us = (struct unmap_step *)sp;
	const struct scsi_lu *lu = sp->sp_lu;
	const uint8_t *d;
	uint32_t left = MAX(SCSI_STEP_BYTES / lu->lu_blksz, 1), k;

	while (us->us_i < us->us_nd && left > 0) {
		d = us->us_desc + 16 * us->us_i;
		k = MIN(be32dec(d + 8) - us->us_done, left);
		if (k > 0)
			ws_unmap(t, lu, be64dec(d) + us->us_done, k);
		if (t->t_status != SCSI_GOOD)
			return 0;
		left -= k;
		us->us_done += k;
		if (us->us_done == be32dec(d + 8)) {
			us->us_i++;
			us->us_done = 0;
		}
	}
	return us->us_i < us->us_nd;
}

void
sbc_unmap(struct scsi_task *t, struct scsi_lu *lu)
{
	struct unmap_step *us;
	uint32_t plen = be16dec(t->t_cdb + 7), nd;

	if (plen == 0)
		return;
	if (check_wp(t, lu) != 0)
		return;
	if (plen < 8 || t->t_doutlen < plen) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		return;
	}
	nd = MIN(be16dec(t->t_dout + 2), plen - 8) / 16;
	if (unmap_check(t, lu, nd) != 0 || nd == 0 ||
	    lu->lu_ops->so_unmap == NULL)
		return;
	if ((us = calloc(1, sizeof(*us) + 16 * (size_t)nd)) == NULL) {
		scsi_sense(t, SK_HARDWARE_ERROR, ASC_SYSTEM_RESOURCE_FAILURE);
		return;
	}
	us->us_nd = nd;
	memcpy(us->us_desc, t->t_dout + 8, 16 * (size_t)nd);
	scsi_step_start(t, &us->us_sp, lu, unmap_step);
}

/* ---------------------------------------------------------------- */
/* GET LBA STATUS */

#define GLS_MAX_DESC	64

static uint32_t
gls_desc(const struct scsi_lu *lu, uint8_t *b, uint64_t lba, uint32_t maxd)
{
	uint64_t bs = lu->lu_blksz, off = lba * bs, end, len;
	uint32_t nd, blocks;
	int	 mapped;

	end = lu->lu_blocks * bs;
	for (nd = 0; nd < maxd && off < end; nd++) {
		len = MIN(end - off, (uint64_t)UINT32_MAX * bs);
		mapped = 1;
		if (lu->lu_ops->so_status != NULL &&
		    lu->lu_ops->so_status(lu->lu_store, off, &len, &mapped) != 0)
			return nd;
		if ((blocks = (uint32_t)(len / bs)) == 0)
			return nd;
		memset(b + 16 * nd, 0, 16);
		be64enc(b + 16 * nd, off / bs);
		be32enc(b + 16 * nd + 8, blocks);
		b[16 * nd + 12] = mapped ? 0x00 : 0x01;
		off += (uint64_t)blocks * bs;
	}
	return nd;
}

void
sbc_get_lba_status(struct scsi_task *t, struct scsi_lu *lu)
{
	uint8_t	 b[8 + 16 * GLS_MAX_DESC];
	uint64_t lba = be64dec(t->t_cdb + 2);
	uint32_t alloc = be32dec(t->t_cdb + 10), maxd, nd;

	if (lba >= lu->lu_blocks) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		return;
	}
	maxd = alloc > 24 ? (alloc - 8) / 16 : 1;
	nd = gls_desc(lu, b + 8, lba, MIN(maxd, GLS_MAX_DESC));
	memset(b, 0, 8);
	be32enc(b, 4 + 16 * nd);
	scsi_din(t, b, 8 + 16 * nd, alloc);
}

/* ---------------------------------------------------------------- */
/* PRE-FETCH, SYNCHRONIZE CACHE */

/* Nothing to stage: every block is "in cache" as far as we can tell. */
void
sbc_prefetch(struct scsi_task *t, struct scsi_lu *lu)
{
	uint64_t lba;
	uint32_t n;

	sbc_rw_decode(t->t_cdb, &lba, &n);
	if (check_range(t, lu, lba, n) != 0)
		return;
	t->t_status = SCSI_CONDITION_MET;
}

void
sbc_sync_cache(struct scsi_task *t, struct scsi_lu *lu)
{
	uint64_t lba;
	uint32_t n;

	sbc_rw_decode(t->t_cdb, &lba, &n);
	if (check_range(t, lu, lba, n) != 0)
		return;
	lu_sync(t, lu);
}

/* ---------------------------------------------------------------- */
/* READ CAPACITY 10/16, READ DEFECT DATA 10/12 */

void
sbc_read_capacity10(struct scsi_task *t, struct scsi_lu *lu)
{
	uint8_t	 b[8];
	uint64_t last = lu->lu_blocks - 1;

	if (!(t->t_cdb[8] & 0x01) && be32dec(t->t_cdb + 2) != 0) {
		scsi_sense_cdb(t, 2, -1);
		return;
	}
	be32enc(b, last > UINT32_MAX ? UINT32_MAX : (uint32_t)last);
	be32enc(b + 4, lu->lu_blksz);
	scsi_din(t, b, sizeof(b), sizeof(b));
}

void
sbc_read_capacity16(struct scsi_task *t, struct scsi_lu *lu)
{
	uint8_t	 b[32];

	if (!(t->t_cdb[14] & 0x01) && be64dec(t->t_cdb + 2) != 0) {
		scsi_sense_cdb(t, 2, -1);
		return;
	}
	memset(b, 0, sizeof(b));
	be64enc(b, lu->lu_blocks - 1);
	be32enc(b + 8, lu->lu_blksz);
	/*
	 * Physical block = logical block (LBPPBE 0): initiators align to
	 * the OPTIMAL UNMAP/TRANSFER GRANULARITY of VPD B0h instead, and
	 * GET LBA STATUS answers per logical block.
	 */
	b[14] = 0x80 | 0x40;		/* LBPME, LBPRZ */
	scsi_din(t, b, sizeof(b), be32dec(t->t_cdb + 10));
}

/* No defects: the list header alone, echoing what was asked for. */
void
sbc_read_defect(struct scsi_task *t, struct scsi_lu *lu)
{
	uint8_t	 b[8];

	(void)lu;
	memset(b, 0, sizeof(b));
	if (t->t_cdb[0] == 0xb7) {
		b[1] = t->t_cdb[1] & 0x1f;
		scsi_din(t, b, 8, be32dec(t->t_cdb + 6));
	} else {
		b[1] = t->t_cdb[2] & 0x1f;
		scsi_din(t, b, 4, be16dec(t->t_cdb + 7));
	}
}
