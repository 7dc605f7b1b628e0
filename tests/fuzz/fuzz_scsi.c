/*
 * libFuzzer harness for the SCSI layer of a worker: every CDB of the
 * direct-access table, with the parameter lists of PERSISTENT RESERVE
 * OUT, UNMAP, EXTENDED COPY, MODE SELECT, WRITE SAME and COMPARE AND
 * WRITE, from two I_T nexuses (A and B) onto two logical units over the
 * tests' in-memory store (tests/worker/scsi/memstore.c).  Commands go
 * through scsi_cmd_decode() and scsi_cmd_exec() as worker/iscsi/iscsi.c
 * hands them over: the same EDTL, Data-Out length and Data-In buffer
 * size rules.
 *
 * Input: one byte of set-up (FS_*), then commands
 *	[flags (FC_*)][CDB, 16 bytes][Data-Out length, 16 bits][Data-Out,
 *	unless FC_GEN: then made up here][EDTL, 32 bits, with FC_EDTL]
 * The Data-Out of WRITE-family commands is mapped into the initiators'
 * alphabet (fuzzenv.h); the LUs start as base-alphabet images.
 *
 * Invariants checked after every command, each named for
 * SCSIPUB_FUZZ_SKIP:
 *	readback	a READ's Data-In holds only bytes of the base
 *			images or written by an initiator (never the poison
 *			the buffer was filled with)
 *	medium		the same of every byte on both LUs
 *	writeprotect	an LU that is read-only or software write
 *			protected did not change
 *	reservation	an LU changed only if the sending nexus might write
 *			it under the reservations in force before the command
 *			(SPC-4 5.13, RESERVE(6) too), decided here from the
 *			state independently of worker/scsi/pr.c
 *	status		a known status; sense data with CHECK CONDITION
 *			only
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bytes.h"
#include "fuzzenv.h"
#include "fuzzinput.h"
#include "memstore.h"
#include "pr.h"
#include "prstate.h"

#define FS_NLU		2
#define FS_MAX_XFER	(1u << 20)	/* Data-Out, Data-In: ours */
#define FS_READ_EDTL	(64u * 1024)	/* a read's EDTL unless given */
#define FS_KEY_B	0xb0b0b0b0b0ULL
#define FS_BASE_MAX	(64u * 1024)

struct fs_lu {
	struct memstore	*fl_ms;
	struct scsi_lu	 fl_lu;
	size_t		 fl_size;
	uint8_t		*fl_before;
	struct pr_state	 fl_pr;		/* before the command */
	int		 fl_wp[2];	/* write protected for A, B, before */
};

static struct fs_lu		 fs_lu[FS_NLU];
static struct scsi_nexus	*fs_a, *fs_b;
static const uint64_t		 fs_luns[4] = { 0, 1, 2, 300 };
static const uint8_t		 fs_types[8] = { PR_TYPE_WE, PR_TYPE_EA,
    PR_TYPE_WE_RO, PR_TYPE_EA_RO, PR_TYPE_WE_AR, PR_TYPE_EA_AR, PR_TYPE_WE,
    PR_TYPE_EA };

/* ---- Set-up ---- */

/* Base image 0 or 1, made once: FS_BASE_MAX bytes. */
static const uint8_t *
fs_base(unsigned seed)
{
	static uint8_t	 base[2][FS_BASE_MAX];
	static int	 made[2];
	size_t		 i;

	if (!made[seed & 1]) {
		for (i = 0; i < FS_BASE_MAX; i++)
			base[seed & 1][i] = fz_base_byte(i, seed);
		made[seed & 1] = 1;
	}
	return base[seed & 1];
}

static void
fs_lu_new(struct fs_lu *l, uint64_t blocks, uint32_t bs, const char *name,
    uint64_t id, unsigned seed)
{
	memset(l, 0, sizeof(*l));
	l->fl_ms = memstore_new(blocks, bs);
	l->fl_size = (size_t)blocks * bs;
	if (l->fl_size > FS_BASE_MAX)
		abort();
	memcpy(l->fl_ms->ms_data, fs_base(seed), l->fl_size);
	scsi_lu_init(&l->fl_lu, blocks, bs, name, id, &memstore_ops,
	    l->fl_ms);
	if ((l->fl_lu.lu_pr = pr_lu_anon()) == NULL ||
	    (l->fl_before = malloc(l->fl_size)) == NULL)
		abort();
}

static void
fs_lu_free(struct fs_lu *l)
{
	pr_lu_close(l->fl_lu.lu_pr);
	memstore_free(l->fl_ms);
	free(l->fl_before);
}

static struct scsi_nexus *
fs_nexus(const char *name, uint8_t port)
{
	struct scsi_nexus *nx = scsi_nexus_new(SCSI_MAX_LUNS);
	int	 i;

	if (nx == NULL)
		abort();
	snprintf(nx->n_initiator, sizeof(nx->n_initiator), "%s", name);
	nx->n_isid[0] = 0x80;
	nx->n_isid[5] = port;
	snprintf(nx->n_target, sizeof(nx->n_target), FZ_PREFIX ":fuzz");
	nx->n_tpgt = 1;
	nx->n_relport = 1;
	for (i = 0; i < FS_NLU; i++)
		scsi_nexus_attach(nx, i, &fs_lu[i].fl_lu);
	return nx;
}

/* Run one CDB of the set-up; it must succeed. */
static void
fs_setup_cmd(struct scsi_nexus *nx, uint64_t lun, const uint8_t *cdb,
    const uint8_t *dout, uint32_t len)
{
	struct scsi_task t;
	enum scsi_dir	 dir;
	uint32_t	 xfer;

	memset(&t, 0, sizeof(t));
	t.t_cdb = cdb;
	t.t_cdblen = 16;
	t.t_lun = lun;
	t.t_nexus = nx;
	t.t_dout = dout;
	t.t_doutlen = len;
	t.t_edtl = len;
	if (scsi_cmd_decode(&t, &dir, &xfer) == 0)
		scsi_cmd_exec(&t);
	while (scsi_task_step(&t))
		;
	if (t.t_status != SCSI_GOOD) {
		fprintf(stderr, "fuzz_scsi: set-up command 0x%02x failed\n",
		    cdb[0]);
		abort();
	}
}

/* B registers and reserves LU 1 with the given type. */
static void
fs_reserve(int type)
{
	uint8_t	 cdb[16] = { 0x5f }, p[24];

	memset(p, 0, sizeof(p));
	be64enc(p + 8, FS_KEY_B);
	be32enc(cdb + 5, sizeof(p));
	fs_setup_cmd(fs_b, 1, cdb, p, sizeof(p));
	be64enc(p, FS_KEY_B);
	memset(p + 8, 0, 8);
	cdb[1] = 0x01;
	cdb[2] = (uint8_t)type;
	fs_setup_cmd(fs_b, 1, cdb, p, sizeof(p));
}

static void
fs_setup(uint8_t flags)
{
	static const uint8_t reserve6[16] = { 0x16 };

	fs_lu_new(&fs_lu[0], 64, 512, "alpha", 0x11111111, 0);
	if (flags & FS_BIGBLK1)
		fs_lu_new(&fs_lu[1], 16, 4096, "beta", 0x22222222, 1);
	else
		fs_lu_new(&fs_lu[1], 96, 512, "beta", 0x22222222, 1);
	fs_a = fs_nexus("iqn.2025-01.test:alpha", 1);
	fs_b = fs_nexus("iqn.2025-01.test:bravo", 2);
	if (flags & FS_RESV1)
		fs_reserve(fs_types[FS_TYPE(flags)]);
	if (flags & FS_R6)
		fs_setup_cmd(fs_b, 0, reserve6, NULL, 0);
	if (flags & FS_RO0)
		fs_lu[0].fl_lu.lu_readonly = 1;
	if (flags & FS_NOPR0)
		fs_lu[0].fl_lu.lu_pr_enabled = 0;
}

static void
fs_teardown(void)
{
	int	 i;

	scsi_nexus_detach(fs_a);
	scsi_nexus_detach(fs_b);
	free(fs_a);
	free(fs_b);
	for (i = 0; i < FS_NLU; i++)
		fs_lu_free(&fs_lu[i]);
}

/* ---- The model: may nexus nx write LU l, as things stood? ---- */

static int
fs_is(const struct pr_nexus *pn, const struct scsi_nexus *nx)
{
	return (pn->pn_flags & PN_REG) &&
	    strncasecmp(pn->pn_name, nx->n_initiator, PR_NAME_MAX) == 0 &&
	    ((pn->pn_flags & PN_ALLTGPT) || pn->pn_relport == nx->n_relport) &&
	    ((pn->pn_flags & PN_ANYISID) ||
	    memcmp(pn->pn_isid, nx->n_isid, 6) == 0);
}

static int
fs_r6_other(const struct pr_state *st, const struct scsi_nexus *nx)
{
	return st->ps_r6 && !(st->ps_r6relport == nx->n_relport &&
	    memcmp(st->ps_r6isid, nx->n_isid, 6) == 0 &&
	    strncasecmp(st->ps_r6name, nx->n_initiator, PR_NAME_MAX) == 0);
}

static int
fs_may_write(const struct fs_lu *l, const struct scsi_nexus *nx)
{
	const struct pr_state *st = &l->fl_pr;
	int	 i, reg = 0, holds = 0, ro, ar;

	if (fs_r6_other(st, nx))
		return 0;
	if (!pr_enabled(&l->fl_lu) || st->ps_type == 0)
		return 1;
	ro = st->ps_type == PR_TYPE_WE_RO || st->ps_type == PR_TYPE_EA_RO;
	ar = st->ps_type == PR_TYPE_WE_AR || st->ps_type == PR_TYPE_EA_AR;
	for (i = 0; i < PR_MAX_NEXUS; i++) {
		if (!fs_is(&st->ps_nexus[i], nx))
			continue;
		reg = 1;
		holds |= ar || st->ps_holder == i + 1;
	}
	return holds || (reg && (ro || ar));
}

/* ---- One command ---- */

struct fs_cmd {
	uint8_t		 fc_flags;
	uint8_t		 fc_cdb[16];
	const uint8_t	*fc_data;
	uint32_t	 fc_dlen;
	uint32_t	 fc_edtl;
};

/* Parse one command at *off; 0, or -1 at the end of the input. */
static int
fs_next(const uint8_t *d, size_t size, size_t *off, struct fs_cmd *c)
{
	size_t	 o = *off;

	if (size - o < 1 + 16 + 2)
		return -1;
	c->fc_flags = d[o];
	memcpy(c->fc_cdb, d + o + 1, 16);
	c->fc_dlen = be16dec(d + o + 17);
	o += 19;
	c->fc_data = NULL;
	if (!(c->fc_flags & FC_GEN)) {
		if (c->fc_dlen > size - o)
			c->fc_dlen = (uint32_t)(size - o);
		c->fc_data = d + o;
		o += c->fc_dlen;
	}
	c->fc_edtl = 0;
	if ((c->fc_flags & FC_EDTL) && size - o >= 4) {
		c->fc_edtl = be32dec(d + o);
		o += 4;
	}
	*off = o;
	return 0;
}

static void
fs_before(void)
{
	int	 i;

	for (i = 0; i < FS_NLU; i++) {
		memcpy(fs_lu[i].fl_before, fs_lu[i].fl_ms->ms_data,
		    fs_lu[i].fl_size);
		pr_lu_snapshot(fs_lu[i].fl_lu.lu_pr, &fs_lu[i].fl_pr);
		/* mode pages, SWP among them, are each nexus's own */
		fs_lu[i].fl_wp[0] = scsi_lunex_wp(&fs_a->n_lunex[i]);
		fs_lu[i].fl_wp[1] = scsi_lunex_wp(&fs_b->n_lunex[i]);
	}
}

static void
fs_after_lu(int i, const struct scsi_nexus *nx, const uint8_t *cdb)
{
	const struct fs_lu *l = &fs_lu[i];
	size_t		 bad;

	if (memcmp(l->fl_before, l->fl_ms->ms_data, l->fl_size) == 0)
		return;
	if (fz_check("medium") && (bad = fz_bad_byte(l->fl_ms->ms_data,
	    l->fl_size)) < l->fl_size)
		fz_fail("medium", "LU %d byte %zu is 0x%02x after command "
		    "0x%02x: written by nobody", i, bad,
		    l->fl_ms->ms_data[bad], cdb[0]);
	if (l->fl_wp[nx == fs_b] && fz_check("writeprotect"))
		fz_fail("writeprotect", "command 0x%02x from %s changed "
		    "write-protected LU %d", cdb[0], nx->n_initiator, i);
	if (!fs_may_write(l, nx) && fz_check("reservation"))
		fz_fail("reservation", "command 0x%02x from %s changed LU %d, "
		    "which its reservations forbade it to write", cdb[0],
		    nx->n_initiator, i);
}

/* SCSIPUB_FUZZ_LOG: each command and its status, one line. */
static void
fs_trace(const struct scsi_task *t)
{
	static int	 on = -1;
	const uint8_t	*s = t->t_sense;
	int		 d = (s[0] & 0x7f) >= 0x72;

	if (on == -1)
		on = getenv("SCSIPUB_FUZZ_LOG") != NULL;
	if (on)
		fprintf(stderr, "fuzz_scsi: %s LUN %llu op 0x%02x/%02x: status "
		    "0x%02x sense %x/%02x/%02x, %u bytes in\n",
		    t->t_nexus == fs_a ? "A" : "B",
		    (unsigned long long)t->t_lun,
		    t->t_cdb[0], t->t_cdb[1], t->t_status,
		    t->t_senselen ? (d ? s[1] : s[2]) & 0x0f : 0,
		    t->t_senselen ? (d ? s[2] : s[12]) : 0,
		    t->t_senselen ? (d ? s[3] : s[13]) : 0, t->t_dinlen);
}

static void
fs_check_status(const struct scsi_task *t)
{
	fs_trace(t);
	if (!fz_check("status"))
		return;
	switch (t->t_status) {
	case SCSI_GOOD:
	case SCSI_CONDITION_MET:
	case SCSI_BUSY:
	case SCSI_RESERVATION_CONFLICT:
	case SCSI_TASK_SET_FULL:
		if (t->t_senselen != 0)
			fz_fail("status", "status 0x%02x with sense data",
			    t->t_status);
		return;
	case SCSI_CHECK_CONDITION:
		if (t->t_senselen == 0 || t->t_senselen > SCSI_SENSE_MAX)
			fz_fail("status", "CHECK CONDITION with %u bytes of "
			    "sense", t->t_senselen);
		return;
	default:
		fz_fail("status", "status 0x%02x", t->t_status);
	}
}

static void
fs_readback(const struct scsi_task *t, uint32_t cap)
{
	uint32_t	 len = t->t_dinlen < cap ? t->t_dinlen : cap;
	size_t		 bad;

	if (!fz_read_op(t->t_cdb[0]) || !fz_check("readback"))
		return;
	if ((bad = fz_bad_byte(t->t_din, len)) < len)
		fz_fail("readback", "READ 0x%02x returned byte 0x%02x at "
		    "offset %zu of %u", t->t_cdb[0], t->t_din[bad], bad, len);
}

/* The Data-In buffer the transport would give a reading command. */
static uint32_t
fs_dincap(uint32_t edtl, uint32_t xfer)
{
	uint32_t	 cap = edtl;

	if (xfer > 0 && xfer < cap)
		cap = xfer;
	else if (xfer == 0 && cap > FS_MAX_XFER)
		cap = FS_MAX_XFER;
	return cap < FS_MAX_XFER ? cap : FS_MAX_XFER;
}

/*
 * The Data-Out the transport collects: for a WRITE-direction command
 * min(transfer length, EDTL) bytes, and nothing runs until all came.
 * Returns the buffer (exactly *len bytes), or NULL when it never would.
 */
static uint8_t *
fs_dout(const struct fs_cmd *c, enum scsi_dir dir, uint32_t xfer,
    uint32_t edtl, uint32_t *len, int *skip)
{
	uint8_t		*b;
	uint32_t	 i, want = c->fc_dlen;

	*skip = 0;
	if (dir == SCSI_DIR_WRITE) {
		want = xfer < edtl ? xfer : edtl;
		if (want > FS_MAX_XFER || want > c->fc_dlen) {
			*skip = 1;
			return NULL;
		}
	}
	*len = want;
	if (want == 0 || (b = malloc(want)) == NULL)
		return NULL;
	for (i = 0; i < want; i++)
		b[i] = c->fc_data != NULL ? c->fc_data[i] :
		    (uint8_t)(i * 7 + (i >> 9));
	if (fz_write_op(c->fc_cdb[0]))
		for (i = 0; i < want; i++)
			b[i] = fz_ini_byte(b[i]);
	return b;
}

static void
fs_exec(const struct fs_cmd *c, struct scsi_nexus *nx, struct scsi_task *t,
    enum scsi_dir dir, uint32_t xfer)
{
	uint8_t		*dout, *din = NULL;
	uint32_t	 doutlen = 0, cap = 0;
	int		 i, skip;

	if ((dout = fs_dout(c, dir, xfer, t->t_edtl, &doutlen, &skip)) ==
	    NULL && skip)
		return;
	t->t_dout = dout;
	t->t_doutlen = doutlen;
	if (dir == SCSI_DIR_READ && t->t_edtl > 0) {
		cap = fs_dincap(t->t_edtl, xfer);
		if ((din = malloc(cap)) == NULL)
			abort();
		memset(din, FZ_POISON, cap);
	}
	t->t_din = din;
	t->t_dincap = cap;
	fs_before();
	if (din != NULL || dir != SCSI_DIR_READ || t->t_edtl == 0)
		scsi_cmd_exec(t);
	while (scsi_task_step(t))	/* as the transport, one per pass */
		;
	fs_check_status(t);
	if (din != NULL)
		fs_readback(t, cap);
	for (i = 0; i < FS_NLU; i++)
		fs_after_lu(i, nx, c->fc_cdb);
	free(dout);
	free(din);
}

static void
fs_command(const struct fs_cmd *c)
{
	struct scsi_nexus *nx = c->fc_flags & FC_NEXUS_B ? fs_b : fs_a;
	struct scsi_task t;
	enum scsi_dir	 dir;
	uint32_t	 xfer;

	memset(&t, 0, sizeof(t));
	t.t_cdb = c->fc_cdb;
	t.t_cdblen = 16;
	t.t_lun = fs_luns[FC_LUN(c->fc_flags)];
	t.t_nexus = nx;
	if (scsi_cmd_decode(&t, &dir, &xfer) == -1) {
		fs_check_status(&t);
		return;
	}
	if (c->fc_flags & FC_EDTL)
		t.t_edtl = c->fc_edtl;
	else if (dir == SCSI_DIR_WRITE)
		t.t_edtl = c->fc_dlen;
	else if (dir == SCSI_DIR_READ)
		t.t_edtl = FS_READ_EDTL;
	fs_exec(c, nx, &t, dir, xfer);
}

int	 LLVMFuzzerInitialize(int *, char ***);
int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_seeds("scsi");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fs_cmd	 c;
	size_t		 off = 1;

	if (size < 1)
		return 0;
	fs_setup(data[0]);
	while (fs_next(data, size, &off, &c) == 0)
		fs_command(&c);
	fs_teardown();
	return 0;
}
