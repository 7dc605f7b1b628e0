/*
 * SCSI command dispatch for a worker: the direct-access opcode table,
 * sense data, unit attentions, LUN addressing and the logical units a
 * nexus sees.  Handlers live in worker/spc.c, worker/sbc.c and
 * worker/pr.c (reservations).
 */
#include <sys/queue.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "pr.h"
#include "scsi.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- */
/* Sense data */

static size_t
sense_fixed(uint8_t *b, int key, uint16_t asc, uint64_t info, int flags,
    uint32_t sks)
{
	memset(b, 0, 18);
	b[0] = 0x70;
	if ((flags & SCSI_SENSE_INFO) && info <= UINT32_MAX) {
		b[0] |= 0x80;
		be32enc(b + 3, (uint32_t)info);
	}
	b[2] = key & 0x0f;
	if (flags & SCSI_SENSE_ILI)
		b[2] |= 0x20;
	b[7] = 10;
	b[12] = SENSE_ASC(asc);
	b[13] = SENSE_ASCQ(asc);
	if (flags & SCSI_SENSE_SKS)
		be24enc(b + 15, sks | 0x800000);
	return 18;
}

static size_t
sense_desc(uint8_t *b, int key, uint16_t asc, uint64_t info, int flags,
    uint32_t sks)
{
	size_t	 n = 8;

	memset(b, 0, 8 + 12 + 8 + 4);
	b[0] = 0x72;
	b[1] = key & 0x0f;
	b[2] = SENSE_ASC(asc);
	b[3] = SENSE_ASCQ(asc);
	if (flags & SCSI_SENSE_INFO) {
		b[n] = 0x00;		/* information descriptor */
		b[n + 1] = 0x0a;
		b[n + 2] = 0x80;
		be64enc(b + n + 4, info);
		n += 12;
	}
	if (flags & SCSI_SENSE_SKS) {
		b[n] = 0x02;		/* sense key specific descriptor */
		b[n + 1] = 0x06;
		be24enc(b + n + 4, sks | 0x800000);
		n += 8;
	}
	if (flags & SCSI_SENSE_ILI) {
		b[n] = 0x05;		/* block commands descriptor */
		b[n + 1] = 0x02;
		b[n + 3] = 0x20;
		n += 4;
	}
	b[7] = (uint8_t)(n - 8);
	return n;
}

/* Build sense data into b (at least 32 bytes); returns its length. */
size_t
scsi_sense_build(uint8_t *b, int desc, int key, uint16_t asc, uint64_t info,
    int flags, uint32_t sks)
{
	if (desc)
		return sense_desc(b, key, asc, info, flags, sks);
	return sense_fixed(b, key, asc, info, flags, sks);
}

static struct scsi_lu *
task_lu(struct scsi_task *t)
{
	if (t->t_nexus == NULL || t->t_lun >= (uint64_t)t->t_nexus->n_cap)
		return NULL;
	return t->t_nexus->n_lu[t->t_lun];
}

/* Descriptor sense: asked for (D_SENSE), or LBAs past 32 bits. */
static int
task_dsense(struct scsi_task *t)
{
	const struct scsi_lu *lu = task_lu(t);

	return lu != NULL && (scsi_task_mode(t)->md_dsense ||
	    lu->lu_blocks > ((uint64_t)1 << 32));
}

/* CHECK CONDITION with key and asc (ASC << 8 | ASCQ, sense.h). */
void
scsi_sense_ext(struct scsi_task *t, int key, uint16_t asc, uint64_t info,
    int flags, uint32_t sks)
{
	t->t_status = SCSI_CHECK_CONDITION;
	t->t_dinlen = 0;
	t->t_senselen = (uint32_t)scsi_sense_build(t->t_sense,
	    task_dsense(t), key, asc, info, flags, sks);
}

void
scsi_sense(struct scsi_task *t, int key, uint16_t asc)
{
	scsi_sense_ext(t, key, asc, 0, 0, 0);
}

void
scsi_sense_info(struct scsi_task *t, int key, uint16_t asc, uint64_t info)
{
	scsi_sense_ext(t, key, asc, info, SCSI_SENSE_INFO, 0);
}

static uint32_t
sks_field(unsigned byte, int bit)
{
	uint32_t sks = byte & 0xffff;

	if (bit >= 0)
		sks |= SCSI_SKS_BPV | ((uint32_t)(bit & 7) << 16);
	return sks;
}

/* INVALID FIELD IN CDB, pointing at byte (and bit, or -1). */
void
scsi_sense_cdb(struct scsi_task *t, unsigned byte, int bit)
{
	scsi_sense_ext(t, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0,
	    SCSI_SENSE_SKS, SCSI_SKS_CD | sks_field(byte, bit));
}

/* INVALID FIELD IN PARAMETER LIST, pointing at byte (and bit, or -1). */
void
scsi_sense_param(struct scsi_task *t, unsigned byte, int bit)
{
	scsi_sense_ext(t, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM_LIST,
	    0, SCSI_SENSE_SKS, sks_field(byte, bit));
}

/*
 * Return Data-In: len bytes of p, cut to the allocation length and to
 * the buffer; t_dinlen is what the command transfers.
 */
void
scsi_din(struct scsi_task *t, const void *p, uint32_t len, uint32_t alloc)
{
	uint32_t n = len < alloc ? len : alloc;

	t->t_dinlen = n;
	if (n > t->t_dincap)
		n = t->t_dincap;
	if (n > 0 && t->t_din != NULL)
		memcpy(t->t_din, p, n);
}

/* ---------------------------------------------------------------- */
/* Unit attentions */

static const struct {
	uint32_t	ua;
	uint16_t	asc;
} ua_codes[] = {
	{ UA_POWER_ON,		ASC_POWER_ON_RESET },
	{ UA_BUS_RESET,		ASC_BUS_DEVICE_RESET },
	{ UA_NEXUS_LOSS,	ASC_I_T_NEXUS_LOSS },
	{ UA_MODE_CHANGED,	ASC_MODE_PARAMS_CHANGED },
	{ UA_RESV_PREEMPTED,	ASC_RESERVATIONS_PREEMPTED },
	{ UA_RESV_RELEASED,	ASC_RESERVATIONS_RELEASED },
	{ UA_REG_PREEMPTED,	ASC_REGISTRATIONS_PREEMPTED },
	{ UA_CAPACITY_CHANGED,	ASC_CAPACITY_CHANGED },
	{ UA_LUNS_CHANGED,	ASC_LUNS_DATA_CHANGED },
	{ UA_CMDS_CLEARED,	ASC_COMMANDS_CLEARED_BY_OTHER },
	{ UA_MEDIUM_CHANGED,	ASC_MEDIUM_MAY_HAVE_CHANGED },
};

/* Take the highest-priority pending UA; 0 when none. */
uint32_t
scsi_ua_pop(struct scsi_lunex *ln, uint16_t *asc)
{
	size_t	 i;

	for (i = 0; i < nitems(ua_codes); i++) {
		if ((ln->ln_ua & ua_codes[i].ua) == 0)
			continue;
		ln->ln_ua &= ~ua_codes[i].ua;
		*asc = ua_codes[i].asc;
		return ua_codes[i].ua;
	}
	ln->ln_ua = 0;
	return 0;
}

/* Raise ua for every nexus of lu except the one given (NULL: all). */
void
scsi_ua_set(struct scsi_lu *lu, struct scsi_nexus *except, uint32_t ua)
{
	struct scsi_lunex *ln;

	LIST_FOREACH(ln, &lu->lu_nexuses, ln_entry) {
		if (ln->ln_nexus != except)
			ln->ln_ua |= ua;
	}
}

/* Raise ua on every logical unit the nexus sees. */
void
scsi_ua_set_nexus(struct scsi_nexus *n, uint32_t ua)
{
	int	 i;

	for (i = 0; i < n->n_nlun; i++) {
		if (n->n_lu[i] != NULL)
			n->n_lunex[i].ln_ua |= ua;
	}
}

struct scsi_lunex *
scsi_task_lunex(struct scsi_task *t)
{
	if (task_lu(t) == NULL)
		return NULL;
	return &t->t_nexus->n_lunex[t->t_lun];
}

static const struct scsi_mode mode_default = { .md_wce = 1 };

/* The mode values of the task's nexus on its LU (defaults: none there). */
struct scsi_mode *
scsi_task_mode(struct scsi_task *t)
{
	static struct scsi_mode	 none;
	struct scsi_lunex	*ln = scsi_task_lunex(t);

	if (ln != NULL)
		return &ln->ln_mode;
	none = mode_default;
	return &none;
}

/* Write protected for this nexus: read-only, or its SWP. */
int
scsi_lunex_wp(const struct scsi_lunex *ln)
{
	return ln->ln_lu->lu_readonly || ln->ln_mode.md_swp;
}

/*
 * This nexus's SWP on or off.  The LU counts the nexuses here with it
 * on, and the store tells other processes while there is any: SANITIZE
 * erases the LU for all of them.
 */
void
scsi_lunex_swp(struct scsi_lunex *ln, int on)
{
	struct scsi_lu	*lu = ln->ln_lu;

	on = on != 0;
	if (ln->ln_mode.md_swp == on)
		return;
	ln->ln_mode.md_swp = (uint8_t)on;
	lu->lu_nswp += on ? 1 : -1;
	if (lu->lu_nswp == on && lu->lu_ops != NULL &&
	    lu->lu_ops->so_wp_hold != NULL)
		lu->lu_ops->so_wp_hold(lu->lu_store, on);
}

int
scsi_wp(struct scsi_task *t, const struct scsi_lu *lu)
{
	return lu->lu_readonly || scsi_task_mode(t)->md_swp;
}

/* LOGICAL UNIT RESET: drop RESERVE and tell every nexus, the caller too. */
void
scsi_lun_reset(struct scsi_lu *lu, struct scsi_nexus *from)
{
	struct scsi_lunex *ln;

	uint32_t	 gen = 0;

	(void)from;
	pr_lun_reset(lu);
	if (lu->lu_reset_gen != NULL)
		gen = __atomic_add_fetch(lu->lu_reset_gen, 1, __ATOMIC_ACQ_REL);
	LIST_FOREACH(ln, &lu->lu_nexuses, ln_entry) {
		ln->ln_ua = (ln->ln_ua & ~UA_POWER_ON) | UA_BUS_RESET;
		ln->ln_reset_seen = gen;
	}
}

/* A reset made through another worker becomes this nexus's UA. */
static void
shared_reset_ua(struct scsi_lunex *ln)
{
	uint32_t	 gen;

	if (ln->ln_lu->lu_reset_gen == NULL)
		return;
	gen = __atomic_load_n(ln->ln_lu->lu_reset_gen, __ATOMIC_ACQUIRE);
	if (gen != ln->ln_reset_seen) {
		ln->ln_reset_seen = gen;
		ln->ln_ua |= UA_BUS_RESET;
	}
}

/* ---------------------------------------------------------------- */
/* Logical units and nexuses */

void
scsi_lu_init(struct scsi_lu *lu, uint64_t blocks, uint32_t blksz,
    const char *name, uint64_t id, const struct lu_store_ops *ops,
    void *store)
{
	memset(lu, 0, sizeof(*lu));
	lu->lu_blocks = blocks;
	lu->lu_blksz = blksz;
	lu->lu_max_xfer = SCSI_MAX_XFER_BYTES;
	strncpy(lu->lu_name, name, sizeof(lu->lu_name) - 1);
	lu->lu_id = id;
	lu->lu_ops = ops;
	lu->lu_store = store;
	lu->lu_readonly = ops == NULL || ops->so_write == NULL;
	lu->lu_pr_enabled = 1;
	LIST_INIT(&lu->lu_nexuses);
}

/* Put lu at lun of the nexus; a power-on UA is pending for it. */
/*
 * A nexus with room for LUNs 0 .. cap-1 (a target's LUN count, at most
 * SCSI_MAX_LUNS), no LU attached yet: one allocation, or NULL.
 */
struct scsi_nexus *
scsi_nexus_new(int cap)
{
	struct scsi_nexus *n;

	if (cap < 1)
		cap = 1;
	if (cap > SCSI_MAX_LUNS)
		cap = SCSI_MAX_LUNS;
	if ((n = calloc(1, sizeof(*n) + (size_t)cap * (sizeof(*n->n_lu) +
	    sizeof(*n->n_lunex)))) == NULL)
		return NULL;
	n->n_lunex = (struct scsi_lunex *)(n + 1);
	n->n_lu = (struct scsi_lu **)(n->n_lunex + cap);
	n->n_cap = cap;
	return n;
}

/* A nexus detached from its LUs (scsi_nexus_detach) goes. */
void
scsi_nexus_free(struct scsi_nexus *n)
{
	free(n);
}

void
scsi_nexus_attach(struct scsi_nexus *n, int lun, struct scsi_lu *lu)
{
	struct scsi_lunex *ln;

	if (lun < 0 || lun >= n->n_cap || n->n_lu[lun] != NULL)
		return;
	ln = &n->n_lunex[lun];
	memset(ln, 0, sizeof(*ln));
	ln->ln_nexus = n;
	ln->ln_lu = lu;
	/*
	 * No unit attention for a new I_T nexus: an initiator that logs in
	 * again (reconnect, reinstatement, a worker restart) would see its
	 * retried commands fail with 29h/00h, and nothing about the LU changed.
	 */
	ln->ln_ua = 0;
	ln->ln_mode = mode_default;
	ln->ln_reset_seen = lu->lu_reset_gen != NULL ?
	    __atomic_load_n(lu->lu_reset_gen, __ATOMIC_ACQUIRE) : 0;
	LIST_INSERT_HEAD(&lu->lu_nexuses, ln, ln_entry);
	n->n_lu[lun] = lu;
	if (lun >= n->n_nlun)
		n->n_nlun = lun + 1;
}

/*
 * Take the LU at lun away from the nexus: I_T nexus loss drops RESERVE,
 * unless the nexus lives on in another worker (n_moving).
 */
void
scsi_nexus_detach_lun(struct scsi_nexus *n, int lun)
{
	struct scsi_lu *lu;

	if (lun < 0 || lun >= n->n_cap || (lu = n->n_lu[lun]) == NULL)
		return;
	if (!n->n_moving)
		pr_nexus_loss(&n->n_lunex[lun]);
	scsi_lunex_swp(&n->n_lunex[lun], 0);
	LIST_REMOVE(&n->n_lunex[lun], ln_entry);
	n->n_lu[lun] = NULL;
	while (n->n_nlun > 0 && n->n_lu[n->n_nlun - 1] == NULL)
		n->n_nlun--;
}

/* I_T nexus loss: unhook from every LU. */
void
scsi_nexus_detach(struct scsi_nexus *n)
{
	int	 i;

	for (i = n->n_nlun - 1; i >= 0; i--)
		scsi_nexus_detach_lun(n, i);
	n->n_nlun = 0;
}

/* ---------------------------------------------------------------- */
/* LUN addressing (SAM-5 single level, peripheral or flat) */

#define LUN_INVALID	UINT64_MAX

uint64_t
scsi_lun_decode(const uint8_t *b)
{
	int	 i;

	for (i = 2; i < 8; i++) {
		if (b[i] != 0)
			return LUN_INVALID;
	}
	switch (b[0] >> 6) {
	case 0:			/* peripheral device, bus 0 only */
		if ((b[0] & 0x3f) != 0)
			return LUN_INVALID;
		return b[1];
	case 1:			/* flat space */
		return ((uint64_t)(b[0] & 0x3f) << 8) | b[1];
	default:
		return LUN_INVALID;
	}
}

void
scsi_lun_encode(uint8_t *b, uint64_t lun)
{
	memset(b, 0, 8);
	if (lun < 256) {
		b[1] = (uint8_t)lun;
	} else {
		b[0] = 0x40 | ((lun >> 8) & 0x3f);
		b[1] = lun & 0xff;
	}
}

/* ---------------------------------------------------------------- */
/* The direct-access (SBC-3) command table */

#define C10	0x00, 0x00, 0x00, 0x00
#define LBA32	0xff, 0xff, 0xff, 0xff
#define LBA64	LBA32, LBA32
#define LEN16	0xff, 0xff
#define LEN32	0xff, 0xff, 0xff, 0xff
#define GRP	0x1f
#define CTL	0x00

#define RD	SCSI_DIR_READ
#define WR	SCSI_DIR_WRITE
#define NO	SCSI_DIR_NONE
#define NOUA	(SCSI_CMD_NOUA | SCSI_CMD_ANYLUN | SCSI_CMD_RESV_OK | \
	    SCSI_CMD_SANOK)
#define SAN	SCSI_CMD_SANITIZE
#define RESVOK	SCSI_CMD_RESV_OK
#define PRR	SCSI_PR_EA
#define PRW	(SCSI_PR_EA | SCSI_PR_WE)
#define PRCDB	(PRW | SCSI_PR_CDB)
#define PR	SCSI_CMD_PR
#define SYNC	SCSI_CMD_SYNC
#define FUA	SCSI_CMD_FUA
#define L256	SCSI_CMD_LEN256
#define STEPS	SCSI_CMD_STEPS

#define CMD(nm, h, x, len, dir, fl, pr, ...)				\
	{ .c_name = (nm), .c_handler = (h), .c_xferlen = (x),		\
	  .c_cdblen = (len), .c_dir = (dir), .c_flags = (fl),		\
	  .c_pr = (pr), .c_usage = { __VA_ARGS__ } }
#define SA(sa, nm, h, x, len, dir, fl, pr, op, ...)			\
	{ .c_name = (nm), .c_handler = (h), .c_xferlen = (x),		\
	  .c_saval = (sa), .c_cdblen = (len), .c_dir = (dir),		\
	  .c_flags = (fl), .c_pr = (pr), .c_usage = { op, sa, __VA_ARGS__ } }
/* A service action whose byte 1 also holds flags: usage b1 there too. */
#define SAB(sa, b1, nm, h, x, len, dir, fl, pr, op, ...)		\
	{ .c_name = (nm), .c_handler = (h), .c_xferlen = (x),		\
	  .c_saval = (sa), .c_cdblen = (len), .c_dir = (dir),		\
	  .c_flags = (fl), .c_pr = (pr),				\
	  .c_usage = { op, (sa) | (b1), __VA_ARGS__ } }
/* The same for a command sending a parameter list of at most max bytes. */
#define CMDL(nm, h, x, max, len, dir, fl, pr, ...)			\
	{ .c_name = (nm), .c_handler = (h), .c_xferlen = (x),		\
	  .c_maxlen = (max), .c_cdblen = (len), .c_dir = (dir),		\
	  .c_flags = (fl), .c_pr = (pr), .c_usage = { __VA_ARGS__ } }
#define SAL(max, sa, nm, h, x, len, dir, fl, pr, op, ...)		\
	{ .c_name = (nm), .c_handler = (h), .c_xferlen = (x),		\
	  .c_maxlen = (max), .c_saval = (sa), .c_cdblen = (len),	\
	  .c_dir = (dir), .c_flags = (fl), .c_pr = (pr),		\
	  .c_usage = { op, sa, __VA_ARGS__ } }
/*
 * A block command, with where its LOGICAL BLOCK ADDRESS and TRANSFER
 * LENGTH fields are: F(byte offset, size in bytes).  A 6-byte CDB's
 * 3-byte LBA field holds 21 bits.
 */
#define BLK(nm, h, x, len, dir, fl, pr, lba, nblk, ...)			\
	{ .c_name = (nm), .c_handler = (h), .c_xferlen = (x),		\
	  .c_cdblen = (len), .c_dir = (dir), .c_flags = (fl),		\
	  .c_pr = (pr), .c_lba = lba, .c_nblk = nblk,			\
	  .c_usage = { __VA_ARGS__ } }
#define F(off, len)	{ (off), (len) }
#define PRO	PR_OUT_MAX_PARAM
#define SATAB(nm, tab, len, dir)					\
	{ .c_name = (nm), .c_sa = (tab), .c_nsa = nitems(tab),		\
	  .c_cdblen = (len), .c_dir = (dir) }
#define SATABF(nm, tab, len, dir, fl)					\
	{ .c_name = (nm), .c_sa = (tab), .c_nsa = nitems(tab),		\
	  .c_cdblen = (len), .c_dir = (dir), .c_flags = (fl) }

static const struct scsi_cmd xcopy_cmds[] = {
	SAL(SCSI_XCOPY_MAX_PARAM, 0x00, "extended-copy", spc_xcopy,
	    spc_xfer_xcopy, 16, WR, SCSI_CMD_XLU | STEPS, PRW, 0x83, 0, 0, 0, 0, 0,
	    0, 0, 0, LEN32, 0, CTL),
};

static const struct scsi_cmd copyres_cmds[] = {
	SA(0x00, "receive-copy-status", spc_copy_results, NULL, 16, RD, 0,
	    PRR, 0x84, 0xff, 0, 0, 0, 0, 0, 0, 0, LEN32, 0, CTL),
	SA(0x03, "receive-copy-op-params", spc_copy_results, NULL, 16, RD,
	    0, PRR, 0x84, 0, 0, 0, 0, 0, 0, 0, 0, LEN32, 0, CTL),
};

/* SANITIZE: IMMED, AUSE; CRYPTO ERASE (03h) is not offered. */
static const struct scsi_cmd sanitize_cmds[] = {
	SAB(0x01, 0xa0, "sanitize-overwrite", sbc_sanitize,
	    sbc_xfer_sanitize, 10, WR, SAN, PRW, 0x48, 0, 0, 0, 0, 0, LEN16,
	    CTL),
	SAB(0x02, 0xa0, "sanitize-block-erase", sbc_sanitize, NULL, 10, NO,
	    SAN, PRW, 0x48, 0, 0, 0, 0, 0, 0, 0, CTL),
	SAB(0x1f, 0xa0, "sanitize-exit-failure-mode", sbc_sanitize, NULL, 10,
	    NO, SAN, PRW, 0x48, 0, 0, 0, 0, 0, 0, 0, CTL),
};

static const struct scsi_cmd sai16_cmds[] = {
	SA(0x10, "read-capacity-16", sbc_read_capacity16, NULL, 16, RD, 0,
	    0, 0x9e, LBA64, LEN32, 0x01, CTL),
	SA(0x12, "get-lba-status", sbc_get_lba_status, NULL, 16, RD, 0, PRR,
	    0x9e, LBA64, LEN32, 0, CTL),
};

static const struct scsi_cmd mtin_cmds[] = {
	SA(0x0c, "report-supported-opcodes", spc_report_opcodes, NULL, 12,
	    RD, RESVOK, PRR, 0xa3, 0x87, 0xff, LEN16, LEN32, 0, CTL),
	SA(0x0d, "report-supported-tmfs", spc_report_tmf, NULL, 12, RD,
	    RESVOK, PRR, 0xa3, 0x80, 0, 0, 0, LEN32, 0, CTL),
};

/*
 * Reservations decide for themselves (worker/pr.c): class 0.  One
 * handler each for IN and OUT, which goes by the service action.
 */
static const struct scsi_cmd prin_cmds[] = {
	SA(0x00, "pr-in-read-keys", pr_in_cmd, NULL, 10, RD, PR, 0,
	    0x5e, 0, 0, 0, 0, 0, LEN16, CTL),
	SA(0x01, "pr-in-read-reservation", pr_in_cmd, NULL, 10, RD, PR, 0,
	    0x5e, 0, 0, 0, 0, 0, LEN16, CTL),
	SA(0x02, "pr-in-report-capabilities", pr_in_cmd, NULL, 10, RD, PR, 0,
	    0x5e, 0, 0, 0, 0, 0, LEN16, CTL),
	SA(0x03, "pr-in-read-full-status", pr_in_cmd, NULL, 10, RD, PR, 0,
	    0x5e, 0, 0, 0, 0, 0, LEN16, CTL),
};

static const struct scsi_cmd prout_cmds[] = {
	SAL(PRO, 0x00, "pr-out-register", pr_out_cmd, pr_xfer_out, 10,
	    WR, PR, 0, 0x5f, 0xff, 0, 0, LEN32, CTL),
	SAL(PRO, 0x01, "pr-out-reserve", pr_out_cmd, pr_xfer_out, 10,
	    WR, PR, 0, 0x5f, 0xff, 0, 0, LEN32, CTL),
	SAL(PRO, 0x02, "pr-out-release", pr_out_cmd, pr_xfer_out, 10,
	    WR, PR, 0, 0x5f, 0xff, 0, 0, LEN32, CTL),
	SAL(PRO, 0x03, "pr-out-clear", pr_out_cmd, pr_xfer_out, 10,
	    WR, PR, 0, 0x5f, 0xff, 0, 0, LEN32, CTL),
	SAL(PRO, 0x04, "pr-out-preempt", pr_out_cmd, pr_xfer_out, 10,
	    WR, PR, 0, 0x5f, 0xff, 0, 0, LEN32, CTL),
	SAL(PRO, 0x05, "pr-out-preempt-and-abort", pr_out_cmd, pr_xfer_out,
	    10, WR, PR, 0, 0x5f, 0xff, 0, 0, LEN32, CTL),
	SAL(PRO, 0x06, "pr-out-register-and-ignore", pr_out_cmd, pr_xfer_out,
	    10, WR, PR, 0, 0x5f, 0xff, 0, 0, LEN32, CTL),
	SAL(PRO, 0x07, "pr-out-register-and-move", pr_out_cmd, pr_xfer_out,
	    10, WR, PR, 0, 0x5f, 0xff, 0, 0, LEN32, CTL),
};

static const struct scsi_cmd sbc_cmds[256] = {
	[0x00] = CMD("test-unit-ready", spc_test_unit_ready, NULL, 6, NO, 0,
	    0, 0x00, 0, 0, 0, 0, CTL),
	[0x03] = CMD("request-sense", spc_request_sense, NULL, 6, RD, NOUA,
	    0, 0x03, 0x01, 0, 0, 0xff, CTL),
	[0x08] = BLK("read-6", sbc_read, sbc_xfer_rw, 6, RD, L256, PRR,
	    F(1, 3), F(4, 1), 0x08, 0x1f, 0xff, 0xff, 0xff, CTL),
	[0x0a] = BLK("write-6", sbc_write, sbc_xfer_rw, 6, WR, L256, PRW,
	    F(1, 3), F(4, 1), 0x0a, 0x1f, 0xff, 0xff, 0xff, CTL),
	[0x12] = CMD("inquiry", spc_inquiry, NULL, 6, RD, NOUA, 0,
	    0x12, 0x01, 0xff, LEN16, CTL),
	[0x15] = CMD("mode-select-6", spc_mode_select, spc_xfer_mode_select,
	    6, WR, 0, PRW, 0x15, 0x11, 0, 0, 0xff, CTL),
	[0x16] = CMD("reserve-6", pr_reserve6, NULL, 6, NO, 0, 0,
	    0x16, 0, 0, 0, 0, CTL),
	[0x17] = CMD("release-6", pr_release6, NULL, 6, NO, RESVOK, 0,
	    0x17, 0, 0, 0, 0, CTL),
	[0x1a] = CMD("mode-sense-6", spc_mode_sense, NULL, 6, RD, 0, PRR,
	    0x1a, 0x08, 0xff, 0xff, 0xff, CTL),
	[0x1b] = CMD("start-stop-unit", spc_start_stop, NULL, 6, NO, 0, PRCDB,
	    0x1b, 0x01, 0, 0x0f, 0xf7, CTL),
	[0x1e] = CMD("prevent-allow-medium-removal", spc_prevent_allow, NULL,
	    6, NO, 0, PRCDB, 0x1e, 0, 0, 0, 0x03, CTL),
	[0x25] = CMD("read-capacity-10", sbc_read_capacity10, NULL, 10, RD,
	    0, 0, 0x25, 0, LBA32, 0, 0, 0x01, CTL),
	[0x28] = BLK("read-10", sbc_read, sbc_xfer_rw, 10, RD, 0, PRR,
	    F(2, 4), F(7, 2), 0x28, 0x1a, LBA32, GRP, LEN16, CTL),
	[0x2a] = BLK("write-10", sbc_write, sbc_xfer_rw, 10, WR, FUA, PRW,
	    F(2, 4), F(7, 2), 0x2a, 0x1a, LBA32, GRP, LEN16, CTL),
	[0x2e] = BLK("write-and-verify-10", sbc_write_verify, sbc_xfer_rw,
	    10, WR, SYNC, PRW, F(2, 4), F(7, 2),
	    0x2e, 0x12, LBA32, GRP, LEN16, CTL),
	[0x2f] = BLK("verify-10", sbc_verify, sbc_xfer_verify, 10, WR, STEPS,
	    PRR, F(2, 4), F(7, 2), 0x2f, 0x16, LBA32, GRP, LEN16, CTL),
	[0x34] = BLK("pre-fetch-10", sbc_prefetch, NULL, 10, NO, 0, PRR,
	    F(2, 4), F(7, 2), 0x34, 0x02, LBA32, GRP, LEN16, CTL),
	[0x35] = BLK("synchronize-cache-10", sbc_sync_cache, NULL, 10, NO,
	    SYNC, PRW, F(2, 4), F(7, 2), 0x35, 0x06, LBA32, GRP, LEN16, CTL),
	[0x37] = CMD("read-defect-data-10", sbc_read_defect, NULL, 10, RD, 0,
	    PRR, 0x37, 0, 0x1f, 0, 0, 0, 0, LEN16, CTL),
	[0x41] = BLK("write-same-10", sbc_write_same, sbc_xfer_ws, 10, WR,
	    STEPS, PRW, F(2, 4), F(7, 2), 0x41, 0x08, LBA32, GRP, LEN16, CTL),
	[0x42] = CMD("unmap", sbc_unmap, sbc_xfer_unmap, 10, WR, STEPS, PRW,
	    0x42, 0, 0, 0, 0, 0, GRP, LEN16, CTL),
	[0x48] = SATABF("sanitize", sanitize_cmds, 10, WR, SAN),
	[0x55] = CMDL("mode-select-10", spc_mode_select, spc_xfer_mode_select,
	    SCSI_MSEL_MAX_PARAM, 10, WR, 0, PRW, 0x55, 0x11, C10, 0, LEN16, CTL),
	[0x56] = CMD("reserve-10", pr_reserve6, NULL, 10, NO, 0, 0,
	    0x56, 0, 0, 0, C10, 0, CTL),
	[0x57] = CMD("release-10", pr_release6, NULL, 10, NO, RESVOK, 0,
	    0x57, 0, 0, 0, C10, 0, CTL),
	[0x5a] = CMD("mode-sense-10", spc_mode_sense, NULL, 10, RD, 0, PRR,
	    0x5a, 0x18, 0xff, 0xff, 0, 0, 0, LEN16, CTL),
	[0x5e] = SATABF("persistent-reserve-in", prin_cmds, 10, RD, PR),
	[0x5f] = SATABF("persistent-reserve-out", prout_cmds, 10, WR, PR),
	[0x83] = SATAB("extended-copy", xcopy_cmds, 16, WR),
	[0x84] = SATAB("receive-copy-results", copyres_cmds, 16, RD),
	[0x88] = BLK("read-16", sbc_read, sbc_xfer_rw, 16, RD, 0, PRR,
	    F(2, 8), F(10, 4), 0x88, 0x1a, LBA64, LEN32, GRP, CTL),
	[0x89] = BLK("compare-and-write", sbc_caw, sbc_xfer_caw, 16, WR, 0,
	    PRW, F(2, 8), F(13, 1), 0x89, 0x1a, LBA64, 0, 0, 0, 0xff, GRP,
	    CTL),
	[0x8a] = BLK("write-16", sbc_write, sbc_xfer_rw, 16, WR, FUA, PRW,
	    F(2, 8), F(10, 4), 0x8a, 0x1a, LBA64, LEN32, GRP, CTL),
	[0x8b] = BLK("orwrite-16", sbc_orwrite, sbc_xfer_rw, 16, WR, 0, PRW,
	    F(2, 8), F(10, 4), 0x8b, 0x1a, LBA64, LEN32, GRP, CTL),
	[0x8e] = BLK("write-and-verify-16", sbc_write_verify, sbc_xfer_rw,
	    16, WR, SYNC, PRW, F(2, 8), F(10, 4),
	    0x8e, 0x12, LBA64, LEN32, GRP, CTL),
	[0x8f] = BLK("verify-16", sbc_verify, sbc_xfer_verify, 16, WR, STEPS,
	    PRR, F(2, 8), F(10, 4), 0x8f, 0x16, LBA64, LEN32, GRP, CTL),
	[0x90] = BLK("pre-fetch-16", sbc_prefetch, NULL, 16, NO, 0, PRR,
	    F(2, 8), F(10, 4), 0x90, 0x02, LBA64, LEN32, GRP, CTL),
	[0x91] = BLK("synchronize-cache-16", sbc_sync_cache, NULL, 16, NO,
	    SYNC, PRW, F(2, 8), F(10, 4), 0x91, 0x06, LBA64, LEN32, GRP, CTL),
	[0x93] = BLK("write-same-16", sbc_write_same, sbc_xfer_ws, 16, WR,
	    STEPS, PRW, F(2, 8), F(10, 4), 0x93, 0x09, LBA64, LEN32, GRP, CTL),
	[0x9c] = BLK("write-atomic-16", sbc_write_atomic, sbc_xfer_rw, 16, WR,
	    FUA | SCSI_CMD_ATOMIC, PRW, F(2, 8), F(12, 2),
	    0x9c, 0x18, LBA64, 0, 0, LEN16, GRP, CTL),
	[0x9e] = SATAB("service-action-in-16", sai16_cmds, 16, RD),
	[0xa0] = CMD("report-luns", spc_report_luns, NULL, 12, RD, NOUA, 0,
	    0xa0, 0, 0xff, 0, 0, 0, LEN32, 0, CTL),
	[0xa3] = SATAB("maintenance-in", mtin_cmds, 12, RD),
	[0xa8] = BLK("read-12", sbc_read, sbc_xfer_rw, 12, RD, 0, PRR,
	    F(2, 4), F(6, 4), 0xa8, 0x1a, LBA32, LEN32, GRP, CTL),
	[0xaa] = BLK("write-12", sbc_write, sbc_xfer_rw, 12, WR, FUA, PRW,
	    F(2, 4), F(6, 4), 0xaa, 0x1a, LBA32, LEN32, GRP, CTL),
	[0xae] = BLK("write-and-verify-12", sbc_write_verify, sbc_xfer_rw,
	    12, WR, SYNC, PRW, F(2, 4), F(6, 4),
	    0xae, 0x12, LBA32, LEN32, GRP, CTL),
	[0xaf] = BLK("verify-12", sbc_verify, sbc_xfer_verify, 12, WR, STEPS,
	    PRR, F(2, 4), F(6, 4), 0xaf, 0x16, LBA32, LEN32, GRP, CTL),
	[0xb7] = CMD("read-defect-data-12", sbc_read_defect, NULL, 12, RD, 0,
	    PRR, 0xb7, 0x1f, LBA32, LEN32, 0, CTL),
};

const struct scsi_cmd *
scsi_cmd_table(void)
{
	return sbc_cmds;
}

/*
 * Find the entry for a CDB.  NULL with *sa_bad = 0 for an unknown
 * opcode, *sa_bad = 1 for an unknown service action.
 */
const struct scsi_cmd *
scsi_cmd_find(const uint8_t *cdb, int *sa_bad)
{
	const struct scsi_cmd *c = &sbc_cmds[cdb[0]];
	size_t	 i;

	*sa_bad = 0;
	if (c->c_sa == NULL)
		return c->c_handler != NULL ? c : NULL;
	for (i = 0; i < c->c_nsa; i++) {
		if (c->c_sa[i].c_saval == (cdb[1] & 0x1f))
			return &c->c_sa[i];
	}
	*sa_bad = 1;
	return NULL;
}

/* ---------------------------------------------------------------- */
/* Dispatch */

/* Any CDB bit the command does not use: INVALID FIELD IN CDB. */
static int
check_usage(struct scsi_task *t, const struct scsi_cmd *c)
{
	unsigned i;
	uint8_t	 mask, bad;
	int	 bit;

	if (t->t_cdblen < c->c_cdblen) {
		scsi_sense_cdb(t, 0, -1);
		return -1;
	}
	for (i = 1; i < c->c_cdblen; i++) {
		mask = c->c_usage[i];
		if (i == 1 && sbc_cmds[t->t_cdb[0]].c_sa != NULL)
			mask |= 0x1f;	/* the service action, matched */
		if ((bad = t->t_cdb[i] & ~mask) == 0)
			continue;
		for (bit = 7; (bad & (1 << bit)) == 0; bit--)
			;
		scsi_sense_cdb(t, i, bit);
		return -1;
	}
	return 0;
}

static int
report_ua(struct scsi_task *t, const struct scsi_cmd *c)
{
	struct scsi_lunex *ln = scsi_task_lunex(t);
	uint16_t asc;

	if (ln != NULL)
		shared_reset_ua(ln);
	if (ln == NULL || ln->ln_ua == 0)
		return 0;
	if (c != NULL && (c->c_flags & SCSI_CMD_NOUA))
		return 0;
	if (scsi_ua_pop(ln, &asc) == 0)
		return 0;
	scsi_sense(t, SK_UNIT_ATTENTION, asc);
	return -1;
}

/* PERSISTENT RESERVE IN/OUT on an LU without them (a "pr no" tier). */
static int
check_pr_off(struct scsi_task *t, const struct scsi_lu *lu)
{
	if (!(scsi_cmd_table()[t->t_cdb[0]].c_flags & SCSI_CMD_PR) ||
	    lu == NULL || pr_enabled(lu))
		return 0;
	scsi_sense_ext(t, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0,
	    SCSI_SENSE_SKS, SCSI_SKS_CD);
	return -1;
}

static void
task_reset(struct scsi_task *t)
{
	t->t_status = SCSI_GOOD;
	t->t_senselen = 0;
	t->t_dinlen = 0;
	t->t_cmd = NULL;
	t->t_wait = 0;
}

/*
 * Check a new command before any data moves: unit attention, opcode,
 * logical unit, reservation and CDB.  Tells the transport the
 * direction and the Data-Out length the CDB asks for (Data-In: the
 * length it returns, 0 when bounded by an allocation length).
 */
int
scsi_cmd_decode(struct scsi_task *t, enum scsi_dir *dir, uint32_t *len)
{
	const struct scsi_cmd *c;
	struct scsi_lu *lu = task_lu(t);
	int	 sa_bad;

	task_reset(t);
	*dir = SCSI_DIR_NONE;
	*len = 0;
	c = scsi_cmd_find(t->t_cdb, &sa_bad);
	if (lu != NULL)
		pr_sync(scsi_task_lunex(t));
	if (report_ua(t, c) != 0 || check_pr_off(t, lu) != 0)
		return -1;
	if (c == NULL) {
		if (sa_bad)
			scsi_sense_cdb(t, 1, 4);
		else
			scsi_sense_ext(t, SK_ILLEGAL_REQUEST,
			    ASC_INVALID_OPCODE, 0, SCSI_SENSE_SKS,
			    SCSI_SKS_CD);
		return -1;
	}
	if (lu == NULL && !(c->c_flags & SCSI_CMD_ANYLUN)) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
		return -1;
	}
	if ((lu != NULL && sbc_sanitize_gate(t, c, lu) != 0) ||
	    pr_check(t, c, scsi_task_lunex(t)) != 0 ||
	    check_usage(t, c) != 0)
		return -1;
	t->t_cmd = c;
	*dir = c->c_dir;
	if (c->c_xferlen != NULL && lu != NULL)
		*len = c->c_xferlen(t->t_cdb, lu);
	if (c->c_maxlen != 0 && *len > c->c_maxlen) {
		scsi_sense(t, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR);
		t->t_cmd = NULL;
		*dir = SCSI_DIR_NONE;
		*len = 0;
		return -1;
	}
	return 0;
}

/* Run a decoded command to completion; status, sense, Data-In set. */
void
scsi_cmd_exec(struct scsi_task *t)
{
	const struct scsi_cmd *c = t->t_cmd;
	enum scsi_dir dir;
	uint32_t len;

	if (c == NULL) {
		if (t->t_status != SCSI_GOOD)
			return;
		if (scsi_cmd_decode(t, &dir, &len) != 0)
			return;
		c = t->t_cmd;
	}
	t->t_status = SCSI_GOOD;
	t->t_senselen = 0;
	t->t_dinlen = 0;
	c->c_handler(t, task_lu(t));
	t->t_cmdflags = c->c_flags;
	t->t_cmd = NULL;
}

/*
 * What the store could not finish for a command after it ran (making
 * its changes durable, or the SANITIZE it waited for): its sense.
 */
void
scsi_task_failed(struct scsi_task *t, int err)
{
	if (t->t_wait)
		scsi_sense(t, SK_MEDIUM_ERROR, ASC_SANITIZE_FAILED);
	else if (err == ENOSPC || err == EDQUOT)
		scsi_sense(t, SK_DATA_PROTECT, ASC_SPACE_ALLOC_FAILED);
	else
		scsi_sense(t, SK_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE);
}

/* Must what the run command changed be durable before its status? */
int
scsi_task_durable(const struct scsi_task *t)
{
	if (t->t_cmdflags & SCSI_CMD_SYNC)
		return 1;
	return (t->t_cmdflags & SCSI_CMD_FUA) && t->t_cdb != NULL &&
	    (t->t_cdb[1] & 0x08);
}

/*
 * May a command with this CDB, once run, have something to commit: a
 * change of the medium, of its reservations, or a durability asked
 * for?  Asked before it runs, to hold it back while the coordinator
 * is behind (worker/iscsi/iscsi.c).
 */
int
scsi_cdb_commits(const uint8_t *cdb)
{
	const struct scsi_cmd *c;
	int	 sa_bad;

	if ((c = scsi_cmd_find(cdb, &sa_bad)) == NULL)
		return 0;
	return (c->c_pr & SCSI_PR_WE) != 0 || (c->c_flags & (SCSI_CMD_PR |
	    SCSI_CMD_SYNC | SCSI_CMD_XLU | SCSI_CMD_SANITIZE)) != 0;
}

/* May the run command have changed other LUs than its own? */
int
scsi_task_xlu(const struct scsi_task *t)
{
	return (t->t_cmdflags & SCSI_CMD_XLU) != 0;
}

/*
 * Might the decoded command run in steps?  The transport counts such
 * commands against its limit before it runs one.
 */
int
scsi_task_long(const struct scsi_task *t)
{
	return t->t_cmd != NULL && (t->t_cmd->c_flags & SCSI_CMD_STEPS);
}

/*
 * A handler's command goes on in steps: sp (allocated, its state filled)
 * is the task's, each step run by fn; the first runs now.
 */
void
scsi_step_start(struct scsi_task *t, struct scsi_step *sp,
    struct scsi_lu *lu, scsi_step_fn *fn)
{
	sp->sp_run = fn;
	sp->sp_lu = lu;
	sp->sp_cmd = t->t_cmd;
	t->t_step = sp;
	scsi_task_step(t);
}

/*
 * Before each step, what the command met when it began: a sanitize
 * started on the LU meanwhile, or a reservation another nexus took,
 * ends it as either would have refused it.
 */
static int
step_gate(struct scsi_task *t, const struct scsi_step *sp)
{
	struct scsi_lunex *ln = scsi_task_lunex(t);

	if (ln != NULL)
		pr_sync(ln);
	if (sbc_sanitize_gate(t, sp->sp_cmd, sp->sp_lu) != 0 ||
	    pr_check(t, sp->sp_cmd, ln) != 0)
		return -1;
	return 0;
}

/*
 * The next step of a command that runs in steps: 1 while more are to
 * come, 0 once it is over (status and sense set).
 */
int
scsi_task_step(struct scsi_task *t)
{
	struct scsi_step *sp = t->t_step;

	if (sp == NULL)
		return 0;
	if (step_gate(t, sp) == 0 && sp->sp_run(t, sp) > 0)
		return 1;
	free(sp);
	t->t_step = NULL;
	return 0;
}

/* Task management or a closed connection ends it between two steps. */
void
scsi_task_abort(struct scsi_task *t)
{
	free(t->t_step);
	t->t_step = NULL;
	t->t_status = SCSI_TASK_ABORTED;
	t->t_senselen = 0;
}
