/*
 * In-memory store and a CDB runner for the worker's SCSI unit tests.
 */
#include <sys/queue.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "memstore.h"
#include "pr.h"

static int
ms_range(const struct memstore *ms, uint64_t off, size_t len)
{
	uint64_t size = ms->ms_blocks * ms->ms_blksz;

	if (off % ms->ms_blksz != 0 || len % ms->ms_blksz != 0)
		return -EINVAL;
	if (off > size || len > size - off)
		return -EINVAL;
	return 0;
}

static void
ms_mark(struct memstore *ms, uint64_t off, uint64_t len, int on)
{
	uint64_t b;

	for (b = off / ms->ms_blksz; b < (off + len) / ms->ms_blksz; b++) {
		if (on)
			ms->ms_map[b / 8] |= 1 << (b % 8);
		else
			ms->ms_map[b / 8] &= ~(1 << (b % 8));
	}
}

/* Bytes moved by a read, write or unmap, counted for the tests. */
static void
ms_io(struct memstore *ms, uint64_t len)
{
	ms->ms_io_bytes += len;
	if (len > ms->ms_io_max)
		ms->ms_io_max = len;
}

int
memstore_mapped(const struct memstore *ms, uint64_t b)
{
	return (ms->ms_map[b / 8] >> (b % 8)) & 1;
}

static int
ms_read(void *p, void *buf, size_t len, uint64_t off)
{
	struct memstore *ms = p;
	int	 rc;

	if ((rc = ms->ms_fail_read) != 0) {
		ms->ms_fail_read = 0;
		return rc;
	}
	if ((rc = ms_range(ms, off, len)) != 0)
		return rc;
	memcpy(buf, ms->ms_data + off, len);
	ms_io(ms, len);
	return 0;
}

static int
ms_write(void *p, const void *buf, size_t len, uint64_t off)
{
	struct memstore *ms = p;
	int	 rc;

	if ((rc = ms->ms_fail_write) != 0) {
		ms->ms_fail_write = 0;
		return rc;
	}
	if ((rc = ms_range(ms, off, len)) != 0)
		return rc;
	memcpy(ms->ms_data + off, buf, len);
	ms_mark(ms, off, len, 1);
	ms_io(ms, len);
	return 0;
}

static int
ms_unmap(void *p, uint64_t off, uint64_t len)
{
	struct memstore *ms = p;
	int	 rc;

	if ((rc = ms_range(ms, off, len)) != 0)
		return rc;
	memset(ms->ms_data + off, 0, len);
	ms_mark(ms, off, len, 0);
	ms->ms_unmaps++;
	ms_io(ms, len);
	return 0;
}

static int
ms_sync(void *p)
{
	struct memstore *ms = p;

	ms->ms_syncs++;
	return 0;
}

static int
ms_status(void *p, uint64_t off, uint64_t *len, int *mapped)
{
	struct memstore *ms = p;
	uint64_t b = off / ms->ms_blksz, e;

	e = b + *len / ms->ms_blksz;
	if (e > ms->ms_blocks)
		e = ms->ms_blocks;
	*mapped = memstore_mapped(ms, b);
	for (b++; b < e && memstore_mapped(ms, b) == *mapped; b++)
		;
	*len = (b - off / ms->ms_blksz) * ms->ms_blksz;
	return 0;
}

/* One process, one command at a time: a plain write is atomic. */
static int
ms_write_atomic(void *p, const void *buf, size_t len, uint64_t off)
{
	struct memstore *ms = p;

	ms->ms_atomic_writes++;
	return ms_write(p, buf, len, off);
}

static void
ms_atomic_limits(void *p, uint32_t *unit, uint32_t *max)
{
	struct memstore *ms = p;

	*unit = ms->ms_atomic_unit;
	*max = ms->ms_atomic_max;
}

/* A sanitize runs until the test says it is over (memstore_sanitize_end). */
static int
ms_sanitize(void *p, const struct scsi_sanitize *sz)
{
	struct memstore *ms = p;

	if (ms->ms_san_state == SCSI_SANITIZE_RUNNING)
		return -EBUSY;
	ms->ms_san_state = SCSI_SANITIZE_RUNNING;
	ms->ms_san_method = sz->sz_method;
	ms->ms_san_ause = sz->sz_ause;
	memset(ms->ms_san_pattern, 0, sizeof(ms->ms_san_pattern));
	if (sz->sz_method == SCSI_SANITIZE_OVERWRITE)
		memcpy(ms->ms_san_pattern, sz->sz_pattern, sz->sz_blksz);
	ms->ms_sanitizes++;
	return 0;
}

static void
ms_sanitize_state(void *p, struct scsi_sanitize *sz)
{
	struct memstore *ms = p;

	memset(sz, 0, sizeof(*sz));
	sz->sz_state = ms->ms_san_state;
	sz->sz_method = ms->ms_san_method;
	sz->sz_ause = ms->ms_san_ause;
	sz->sz_progress = ms->ms_san_state == SCSI_SANITIZE_RUNNING ?
	    0x8000 : 0;
}

static void
ms_sanitize_exit(void *p)
{
	struct memstore *ms = p;

	ms->ms_san_state = SCSI_SANITIZE_IDLE;
}

static int
ms_wp_hold(void *p, int on)
{
	struct memstore *ms = p;

	ms->ms_wp_holds += on ? 1 : -1;
	return 0;
}

static int
ms_wp_elsewhere(void *p)
{
	struct memstore *ms = p;

	return ms->ms_wp_elsewhere;
}

/* The sanitize the store runs is over: done as asked, or failed. */
void
memstore_sanitize_end(struct memstore *ms, int failed)
{
	uint64_t b;

	if (failed) {
		ms->ms_san_state = SCSI_SANITIZE_FAILED;
		return;
	}
	for (b = 0; b < ms->ms_blocks; b++)
		memcpy(ms->ms_data + b * ms->ms_blksz, ms->ms_san_pattern,
		    ms->ms_blksz);
	ms_mark(ms, 0, ms->ms_blocks * ms->ms_blksz,
	    ms->ms_san_method == SCSI_SANITIZE_OVERWRITE);
	ms->ms_san_state = SCSI_SANITIZE_IDLE;
}

const struct lu_store_ops memstore_ops = {
	.so_read = ms_read,
	.so_write = ms_write,
	.so_unmap = ms_unmap,
	.so_sync = ms_sync,
	.so_status = ms_status,
	.so_write_atomic = ms_write_atomic,
	.so_atomic_limits = ms_atomic_limits,
	.so_sanitize = ms_sanitize,
	.so_sanitize_state = ms_sanitize_state,
	.so_sanitize_exit = ms_sanitize_exit,
	.so_wp_hold = ms_wp_hold,
	.so_wp_elsewhere = ms_wp_elsewhere,
};

struct memstore *
memstore_new(uint64_t blocks, uint32_t blksz)
{
	struct memstore *ms = calloc(1, sizeof(*ms));

	ms->ms_blocks = blocks;
	ms->ms_blksz = blksz;
	ms->ms_data = calloc(blocks, blksz);
	ms->ms_map = calloc((blocks + 7) / 8, 1);
	ms->ms_atomic_unit = 4096;
	ms->ms_atomic_max = 256 * 1024;
	return ms;
}

void
memstore_free(struct memstore *ms)
{
	free(ms->ms_data);
	free(ms->ms_map);
	free(ms);
}

/* ---------------------------------------------------------------- */

struct scsi_nexus *
mtest_nexus(const char *target, uint16_t tpgt)
{
	static uint8_t	 next;
	struct scsi_nexus *nx = scsi_nexus_new(SCSI_MAX_LUNS);

	strncpy(nx->n_initiator, "iqn.2025-01.test:initiator",
	    sizeof(nx->n_initiator) - 1);
	nx->n_isid[0] = 0x80;		/* each one its own initiator port */
	nx->n_isid[5] = ++next;
	strncpy(nx->n_target, target, sizeof(nx->n_target) - 1);
	nx->n_tpgt = tpgt;
	nx->n_relport = 1;
	return nx;
}

void
mtest_init(struct mtest *m, uint64_t blocks, uint32_t blksz)
{
	memset(m, 0, sizeof(*m));
	m->mt_ms = memstore_new(blocks, blksz);
	scsi_lu_init(&m->mt_lu, blocks, blksz, "disk.img", 0x1234567890ULL,
	    &memstore_ops, m->mt_ms);
	m->mt_lu.lu_pr = pr_lu_anon();
	m->mt_nx = mtest_nexus("iqn.2025-01.pub.scsipub:disk", 1);
	scsi_nexus_attach(m->mt_nx, 0, &m->mt_lu);
	m->mt_dincap = MT_DINCAP;
	m->mt_din = malloc(m->mt_dincap);
	mtest_clear_ua(m, m->mt_nx, 0);
}

void
mtest_fini(struct mtest *m)
{
	scsi_task_abort(&m->mt_t);	/* a held command's steps */
	scsi_nexus_detach(m->mt_nx);
	free(m->mt_nx);
	free(m->mt_din);
	memstore_free(m->mt_ms);
	pr_lu_close(m->mt_lu.lu_pr);
}

/* Decode and run one CDB for nexus/lun; returns the SCSI status. */
int
mtest_run(struct mtest *m, struct scsi_nexus *nx, uint64_t lun,
    const uint8_t *cdb, const void *dout, uint32_t doutlen)
{
	struct scsi_task *t = &m->mt_t;

	memset(t, 0, sizeof(*t));
	t->t_cdb = cdb;
	t->t_cdblen = 16;
	t->t_lun = lun;
	t->t_nexus = nx;
	t->t_dout = dout;
	t->t_doutlen = doutlen;
	t->t_din = m->mt_din;
	t->t_dincap = m->mt_dincap;
	m->mt_decode = scsi_cmd_decode(t, &m->mt_dir, &m->mt_len);
	if (m->mt_edtl != 0)
		t->t_edtl = m->mt_edtl;
	else if (m->mt_dir == SCSI_DIR_WRITE)
		t->t_edtl = doutlen;
	else if (m->mt_dir == SCSI_DIR_READ)
		t->t_edtl = m->mt_dincap;
	if (m->mt_decode == 0)
		scsi_cmd_exec(t);
	m->mt_steps = 0;
	while (!m->mt_hold && scsi_task_step(t))
		m->mt_steps++;
	return t->t_status;
}

int
mtest_cmd(struct mtest *m, const uint8_t *cdb, const void *dout,
    uint32_t doutlen)
{
	return mtest_run(m, m->mt_nx, 0, cdb, dout, doutlen);
}

void
mtest_clear_ua(struct mtest *m, struct scsi_nexus *nx, uint64_t lun)
{
	static const uint8_t tur[16];
	int	 i;

	for (i = 0; i < 16; i++) {
		if (mtest_run(m, nx, lun, tur, NULL, 0) != SCSI_CHECK_CONDITION)
			return;
	}
}

int
mtest_key(const struct mtest *m)
{
	const uint8_t *s = m->mt_t.t_sense;

	if (m->mt_t.t_senselen == 0)
		return -1;
	return (s[0] & 0x7f) >= 0x72 ? s[1] & 0x0f : s[2] & 0x0f;
}

int
mtest_asc(const struct mtest *m)
{
	const uint8_t *s = m->mt_t.t_sense;

	if (m->mt_t.t_senselen == 0)
		return -1;
	if ((s[0] & 0x7f) >= 0x72)
		return s[2] << 8 | s[3];
	return s[12] << 8 | s[13];
}

/* Find descriptor type in descriptor-format sense. */
static const uint8_t *
sense_desc(const struct mtest *m, uint8_t type)
{
	const uint8_t *s = m->mt_t.t_sense;
	uint32_t off;

	for (off = 8; off + 2 <= 8u + s[7]; off += 2 + s[off + 1]) {
		if (s[off] == type)
			return s + off;
	}
	return NULL;
}

int
mtest_info(const struct mtest *m, uint64_t *info)
{
	const uint8_t *s = m->mt_t.t_sense, *d;

	if ((s[0] & 0x7f) < 0x72) {
		*info = be32dec(s + 3);
		return (s[0] & 0x80) != 0;
	}
	if ((d = sense_desc(m, 0x00)) == NULL)
		return 0;
	*info = be64dec(d + 4);
	return 1;
}

int
mtest_sks(const struct mtest *m, uint32_t *sks)
{
	const uint8_t *s = m->mt_t.t_sense, *d;

	d = (s[0] & 0x7f) < 0x72 ? s + 15 : sense_desc(m, 0x02);
	if (d == NULL)
		return 0;
	if ((s[0] & 0x7f) >= 0x72)
		d += 4;
	*sks = be24dec(d);
	return (*sks & 0x800000) != 0;
}
