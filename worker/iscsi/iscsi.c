/*
 * Full-feature phase of an iSCSI connection (RFC 7143): one opcode
 * table, SCSI commands with immediate, unsolicited and solicited data,
 * Data-In sized by the initiator's MaxRecvDataSegmentLength, residuals,
 * the CmdSN window, NOP, Text (SendTargets), Logout, task management,
 * Reject and Async logout requests.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>

#include "bufpool.h"
#include "bytes.h"
#include "iscsi.h"
#include "log.h"
#include "shmq.h"

#define FLAG_READ		0x40
#define FLAG_WRITE		0x20
#define BHS_IMMEDIATE		0x40

typedef enum pdu_result (*pdu_handler)(struct conn *);

struct pdu_op {
	const char	*po_name;
	pdu_handler	 po_fn;
	int		 po_ffp_only;
};

static enum pdu_result	iscsi_nop_out(struct conn *);
static enum pdu_result	iscsi_scsi_cmd(struct conn *);
static enum pdu_result	iscsi_tmf(struct conn *);
static enum pdu_result	iscsi_login(struct conn *);
static enum pdu_result	iscsi_text(struct conn *);
static enum pdu_result	iscsi_logout(struct conn *);
static enum pdu_result	iscsi_snack(struct conn *);

static const struct pdu_op pdu_ops[64] = {
	[OP_NOP_OUT]	= { "nop-out",	iscsi_nop_out,	1 },
	[OP_SCSI_CMD]	= { "scsi-cmd",	iscsi_scsi_cmd,	1 },
	[OP_TMF_REQ]	= { "tmf",	iscsi_tmf,	1 },
	[OP_LOGIN_REQ]	= { "login",	iscsi_login,	0 },
	[OP_TEXT_REQ]	= { "text",	iscsi_text,	1 },
	[OP_DATA_OUT]	= { "data-out",	dataout_pdu,	1 },
	[OP_LOGOUT_REQ]	= { "logout",	iscsi_logout,	1 },
	[OP_SNACK_REQ]	= { "snack",	iscsi_snack,	1 },
};

/* CLOCK_MONOTONIC in nanoseconds: the same clock in every process. */
uint64_t
iscsi_now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Serial number arithmetic (RFC 1982) on 32-bit sequence numbers. */
static int
sn_lt(uint32_t a, uint32_t b)
{
	return a != b && (int32_t)(a - b) < 0;
}

uint32_t
iscsi_maxcmdsn(struct conn *c)
{
	int	 room = ISCSI_CMD_WINDOW - c->c_ntasks;

	if (room < 1)
		room = 1;
	return c->c_expcmdsn + room - 1;
}

/* The most data one PDU to the initiator may carry. */
uint32_t
iscsi_seg(const struct conn *c)
{
	return c->c_p.ip_mrdsl_ini != 0 ? c->c_p.ip_mrdsl_ini : 8192;
}

/* A Target Transfer Tag for an R2T, a NOP-In or a Text: never 0 or ~0. */
uint32_t
iscsi_next_ttt(struct conn *c)
{
	if (++c->c_next_ttt == ISCSI_TTT_NONE || c->c_next_ttt == 0)
		c->c_next_ttt = 1;
	return c->c_next_ttt;
}

/* StatSN, ExpCmdSN, MaxCmdSN at bytes 24..35 of a response. */
void
iscsi_seq(struct conn *c, uint8_t *bhs, int advance)
{
	be32enc(bhs + 24, c->c_statsn);
	if (advance)
		c->c_statsn++;
	be32enc(bhs + 28, c->c_expcmdsn);
	be32enc(bhs + 32, iscsi_maxcmdsn(c));
}

void
iscsi_reject(struct conn *c, int reason, const uint8_t *bad)
{
	uint8_t	 bhs[ISCSI_BHS_LEN];

	memset(bhs, 0, sizeof(bhs));
	bhs[0] = OP_REJECT;
	bhs[1] = ISCSI_FLAG_FINAL;
	bhs[2] = reason;
	be32enc(bhs + 16, 0xffffffff);
	iscsi_seq(c, bhs, 1);
	conn_send(c, bhs, bad, ISCSI_BHS_LEN);
}

void
iscsi_async_logout(struct conn *c, int secs)
{
	uint8_t	 bhs[ISCSI_BHS_LEN];

	memset(bhs, 0, sizeof(bhs));
	bhs[0] = OP_ASYNC;
	bhs[1] = ISCSI_FLAG_FINAL;
	be32enc(bhs + 16, 0xffffffff);
	iscsi_seq(c, bhs, 1);
	bhs[36] = 1;			/* AsyncEvent: logout requested */
	be16enc(bhs + 42, secs);	/* Parameter3: time to logout */
	conn_send(c, bhs, NULL, 0);
}

/*
 * CmdSN check for a non-immediate command.  Returns 0 to process, -1 to
 * drop silently (outside the window).
 */
static int
iscsi_cmdsn(struct conn *c, const uint8_t *bhs)
{
	uint32_t	 sn = be32dec(bhs + 24);

	if (bhs[0] & BHS_IMMEDIATE)
		return 0;
	if (sn_lt(sn, c->c_expcmdsn) || sn_lt(iscsi_maxcmdsn(c), sn)) {
		log_debug("%s: %s: CmdSN %u outside [%u, %u], dropped",
		    __func__, c->c_peer, sn, c->c_expcmdsn, iscsi_maxcmdsn(c));
		return -1;
	}
	c->c_expcmdsn = sn + 1;
	return 0;
}

enum pdu_result
iscsi_pdu(struct conn *c)
{
	int			 op = c->c_bhs[0] & 0x3f;
	const struct pdu_op	*po = &pdu_ops[op];

	if (po->po_fn == NULL) {
		log_debug("%s: %s: unknown opcode 0x%02x", __func__,
		    c->c_peer, op);
		if (c->c_state != CONN_FFP)
			return CONN_CLOSE;
		iscsi_reject(c, REJECT_NOT_SUPPORTED, c->c_bhs);
		return PDU_REJECT;
	}
	if (c->c_state == CONN_LOGIN && po->po_ffp_only) {
		log_warnx("%s: %s: %s before login completed", __func__,
		    c->c_peer, po->po_name);
		return CONN_CLOSE;
	}
	if (c->c_state == CONN_FFP && !po->po_ffp_only) {
		iscsi_reject(c, REJECT_PROTOCOL, c->c_bhs);
		return PDU_REJECT;
	}
	return po->po_fn(c);
}

/* ---- Login ---- */

static void
iscsi_login_done(struct conn *c)
{
	struct login	*l = &c->c_login;

	c->c_state = CONN_FFP;
	c->c_type = l->l_type;
	c->c_p = l->l_params;
	c->c_statsn = l->l_statsn;
	c->c_expcmdsn = l->l_expcmdsn;
	if (c->c_type == LOGIN_SESSION_NORMAL && target_attach(c) == -1)
		return;
	if (c->c_type == LOGIN_SESSION_NORMAL) {
		c->c_login_ns = iscsi_now_ns();
		conn_register(c, SHMQ_SESSION_START);
		c->c_registered = 1;
	}
	conn_nopin_arm(c);
	if (c->c_type == LOGIN_SESSION_NORMAL)
		log_info("session start: target %s initiator %s from %s "
		    "tier %s digests %s/%s", l->l_target, l->l_initiator,
		    c->c_peer, c->c_target != NULL &&
		    c->c_target->tg_tier != NULL ?
		    c->c_target->tg_tier->ct_name : "-",
		    c->c_p.ip_header_digest ? "crc32c" : "none",
		    c->c_p.ip_data_digest ? "crc32c" : "none");
	handoff_mark(c);	/* logged in to a worker handing over */
}

static enum pdu_result
iscsi_login(struct conn *c)
{
	uint8_t			 rsp[ISCSI_BHS_LEN];
	uint8_t			*data = NULL;
	size_t			 dlen = 0;
	enum login_result	 r;

	c->c_login.l_tsih_next = ++c->c_w->w_tsih == 0 ? ++c->c_w->w_tsih :
	    c->c_w->w_tsih;
	r = login_pdu(&c->c_login, c->c_bhs, c->c_data, c->c_dlen, rsp,
	    &data, &dlen);
	if (r == LOGIN_CLOSE) {
		free(data);
		return CONN_CLOSE;
	}
	conn_send(c, rsp, data, (uint32_t)dlen);
	free(data);
	if (r == LOGIN_FAIL) {
		log_info("login from %s (%s) refused: status 0x%02x%02x",
		    c->c_peer, c->c_login.l_initiator, rsp[36], rsp[37]);
		return CONN_CLOSE;
	}
	if (r == LOGIN_DONE)
		iscsi_login_done(c);
	return c->c_state == CONN_CLOSING ? CONN_CLOSE : PDU_OK;
}

/* ---- NOP ---- */

static enum pdu_result
iscsi_nop_out(struct conn *c)
{
	uint8_t		 bhs[ISCSI_BHS_LEN];
	uint32_t	 itt = be32dec(c->c_bhs + 16);

	if (iscsi_cmdsn(c, c->c_bhs) == -1)
		return PDU_OK;
	if (itt == 0xffffffff)		/* answer to our NOP-In, or a ping */
		return PDU_OK;
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = OP_NOP_IN;
	bhs[1] = ISCSI_FLAG_FINAL;
	memcpy(bhs + 8, c->c_bhs + 8, 8);
	be32enc(bhs + 16, itt);
	be32enc(bhs + 20, 0xffffffff);
	iscsi_seq(c, bhs, 1);
	/* the ping data back, no more than the initiator said it takes */
	conn_send(c, bhs, c->c_data, c->c_dlen < iscsi_seg(c) ? c->c_dlen :
	    iscsi_seg(c));
	return PDU_OK;
}

static enum pdu_result
iscsi_snack(struct conn *c)
{
	iscsi_reject(c, REJECT_SNACK, c->c_bhs);
	return PDU_REJECT;
}

/* ---- Logout ---- */

static enum pdu_result
iscsi_logout(struct conn *c)
{
	uint8_t		 bhs[ISCSI_BHS_LEN];
	int		 reason = c->c_bhs[1] & 0x7f;

	if (iscsi_cmdsn(c, c->c_bhs) == -1)
		return PDU_OK;
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = OP_LOGOUT_RSP;
	bhs[1] = ISCSI_FLAG_FINAL;
	bhs[2] = reason == 2 ? 2 : (reason > 2 ? 3 : 0);
	memcpy(bhs + 16, c->c_bhs + 16, 4);
	iscsi_seq(c, bhs, 1);
	conn_send(c, bhs, NULL, 0);
	if (bhs[2] != 0)
		return PDU_OK;
	c->c_logged_out = reason != 2;	/* 2: kept for recovery */
	c->c_state = CONN_CLOSING;
	return CONN_CLOSE;
}

/* ---- SCSI commands ---- */

static void
iscsi_residual(uint8_t *bhs, uint32_t edtl, uint32_t would)
{
	if (would < edtl) {
		bhs[1] |= 0x02;				/* U */
		be32enc(bhs + 44, edtl - would);
	} else if (would > edtl) {
		bhs[1] |= 0x04;				/* O */
		be32enc(bhs + 44, would - edtl);
	}
}

void
iscsi_scsi_rsp(struct conn *c, uint32_t itt, struct scsi_task *t,
    uint32_t would)
{
	uint8_t		 bhs[ISCSI_BHS_LEN];
	uint8_t		 sense[2 + SCSI_SENSE_MAX];
	uint32_t	 slen = 0;

	memset(bhs, 0, sizeof(bhs));
	bhs[0] = OP_SCSI_RSP;
	bhs[1] = ISCSI_FLAG_FINAL;
	bhs[3] = t->t_status;
	be32enc(bhs + 16, itt);
	iscsi_seq(c, bhs, 1);
	if (t->t_status == SCSI_GOOD || t->t_status == SCSI_CONDITION_MET)
		iscsi_residual(bhs, t->t_edtl, would);
	if (t->t_status == SCSI_CHECK_CONDITION && t->t_senselen > 0) {
		be16enc(sense, t->t_senselen);
		memcpy(sense + 2, t->t_sense, t->t_senselen);
		slen = 2 + t->t_senselen;
	}
	conn_send(c, bhs, sense, slen);
}

/*
 * Data-In for a read: segments of at most the initiator's
 * MaxRecvDataSegmentLength; status rides on the last one when GOOD.
 */
static void
iscsi_data_in(struct conn *c, uint32_t itt, struct scsi_task *t,
    uint64_t lun)
{
	uint8_t		 bhs[ISCSI_BHS_LEN];
	uint32_t	 len, off = 0, sn = 0, seg = iscsi_seg(c);
	int		 good = t->t_status == SCSI_GOOD;

	len = t->t_dinlen < t->t_dincap ? t->t_dinlen : t->t_dincap;
	while (off < len) {
		uint32_t n = len - off < seg ? len - off : seg;

		memset(bhs, 0, sizeof(bhs));
		bhs[0] = OP_DATA_IN;
		scsi_lun_encode(bhs + 8, lun);
		be32enc(bhs + 16, itt);
		be32enc(bhs + 20, 0xffffffff);
		be32enc(bhs + 36, sn++);
		be32enc(bhs + 40, off);
		if (off + n == len) {
			bhs[1] = ISCSI_FLAG_FINAL;
			if (good) {
				bhs[1] |= 0x01;		/* S */
				bhs[3] = t->t_status;
				iscsi_residual(bhs, t->t_edtl, t->t_dinlen);
			}
		}
		iscsi_seq(c, bhs, off + n == len && good);
		if (!(off + n == len && good))
			be32enc(bhs + 24, 0);
		conn_send_buf(c, bhs, t->t_din + off, n, t->t_din);
		off += n;
	}
	c->c_rbytes += len;
	if (!good || len == 0)
		iscsi_scsi_rsp(c, itt, t, t->t_dinlen);
}

void
iscsi_task_init(struct conn *c, struct scsi_task *t, const uint8_t *cdb,
    uint64_t lun, uint32_t edtl)
{
	memset(t, 0, sizeof(*t));
	t->t_cdb = cdb;
	t->t_cdblen = 16;
	t->t_lun = lun;
	t->t_nexus = c->c_nexus;
	t->t_edtl = edtl;
}

/*
 * A command that changed a shared map or a shared LU's reservations (or
 * asks for durability) is answered only once the coordinator has
 * committed the change to LMDB: the runs, or the reservation commit, go
 * out on the ring, the answer waits here.  So does a command that runs
 * in steps (scsi.h, struct scsi_step) while it runs: a step a pass of
 * the loop (iscsi_steps_run), what each step changed sent at once.
 */
struct defer {
	TAILQ_ENTRY(defer)	 d_entry;	/* the connection's c_defers */
	TAILQ_ENTRY(defer)	 d_sentry;	/* the worker's w_steps */
	struct conn		*d_c;
	uint32_t		 d_itt;
	uint32_t		 d_xfer;
	int			 d_left;	/* coordinator answers due */
	int			 d_err;
	int			 d_running;	/* steps to run: in w_steps */
	int			 d_attr;	/* SCSI_ATTR_* */
	uint8_t			 d_cdb[16];	/* a running command's CDB */
	struct scsi_task	 d_t;		/* status and sense */
};

/* Answer a command once it has run and its changes are committed. */
static void
iscsi_defer_answer(struct defer *d)
{
	struct conn	*c = d->d_c;

	if (d->d_err != 0 && d->d_t.t_status == SCSI_GOOD) {
		log_warnx("%s: commit failed: %s", __func__,
		    strerror(d->d_err));
		scsi_task_failed(&d->d_t, d->d_err);
	}
	TAILQ_REMOVE(&c->c_defers, d, d_entry);
	iscsi_scsi_rsp(c, d->d_itt, &d->d_t, d->d_xfer);
	buf_put(d);
	handoff_defer_done(c);
}

static void
iscsi_defer_done(struct worker *w, const struct shmq_msg *m, void *arg)
{
	struct defer	*d = arg;

	(void)w;
	if (m->m_status != 0)
		d->d_err = (int)m->m_status;
	if (--d->d_left > 0 || d->d_running)
		return;
	iscsi_defer_answer(d);
}

/*
 * The overlays of the LUs a command on lun may change, into cws: every
 * LU the connection sees if all (a command that may touch other LUs
 * than its own), else lun's.  Their number.
 */
static int
iscsi_cows(struct conn *c, uint64_t lun, int all, struct lu_cow **cws)
{
	int	 i, n = 0, first, last;

	if (all) {
		first = 0;
		last = c->c_nexus != NULL ? c->c_nexus->n_nlun : 0;
	} else if (lun < (uint64_t)c->c_nlus) {
		first = (int)lun;
		last = first + 1;
	} else
		return 0;
	for (i = first; i < last && i < c->c_nlus; i++)
		cws[n++] = c->c_lus[i] != NULL ? c->c_lus[i]->lu_cow : NULL;
	return n;
}

/*
 * Hand the store what task t changed (so far) on the LUs it may have
 * touched; d_left counts the answers due.  -1: something could not be
 * sent.
 */
static int
iscsi_commit(struct conn *c, struct defer *d, const struct scsi_task *t)
{
	struct lu_cow	*cws[SCSI_MAX_LUNS];
	int		 n, rv, due = 0;

	if ((n = iscsi_cows(c, t->t_lun, scsi_task_xlu(t), cws)) == 0)
		return 0;
	rv = commit_send(c->c_w, cws, n, t, iscsi_defer_done, d, &due);
	d->d_left += due;
	return rv == -1 ? -1 : 0;
}

/*
 * Hand the store what the command changed; its answer waits for the
 * coordinator's.  -1: nothing to wait for (answer now).
 */
static int
iscsi_defer(struct conn *c, uint32_t itt, struct scsi_task *t, uint32_t xfer)
{
	struct defer	*d;

	if ((d = buf_zget(sizeof(*d))) == NULL)
		return -1;
	d->d_c = c;
	if (iscsi_commit(c, d, t) == -1 && t->t_status == SCSI_GOOD)
		scsi_task_failed(t, EIO);
	if (d->d_left == 0) {
		buf_put(d);
		return -1;
	}
	d->d_itt = itt;
	d->d_xfer = xfer;
	d->d_t = *t;
	d->d_t.t_cdb = NULL;
	d->d_t.t_dout = NULL;
	d->d_t.t_din = NULL;
	d->d_t.t_pr = NULL;
	TAILQ_INSERT_TAIL(&c->c_defers, d, d_entry);
	return 0;
}

/*
 * Would the command add to what waits in the worker for the coordinator
 * while more than max-coordinator-queue messages do?  Decided before it
 * runs, on every LU it might change (which it touches is known only
 * once run), so that nothing is written whose commit could not go.
 */
static int
iscsi_coord_full(struct conn *c, const uint8_t *cdb)
{
	struct lu_cow	*cws[SCSI_MAX_LUNS];
	int		 n;

	if (!scsi_cdb_commits(cdb))
		return 0;
	n = iscsi_cows(c, 0, 1, cws);
	return commit_room(c->c_w, cws, n) != 0;
}

/* ---- Commands that run in steps ---- */

/* A pass of the loop runs steps for this long at most, then polls. */
#define ISCSI_STEP_SLICE_NS	(2 * 1000 * 1000)

static void	iscsi_steps_run(evutil_socket_t, short, void *);

int
iscsi_start(struct worker *w)
{
	TAILQ_INIT(&w->w_steps);
	w->w_stepev = evtimer_new(w->w_base, iscsi_steps_run, w);
	return w->w_stepev != NULL ? 0 : -1;
}

/* Run the steps after the loop has looked at every socket again. */
static void
iscsi_steps_arm(struct worker *w)
{
	struct timeval	 tv = { 0, 0 };

	if (!evtimer_pending(w->w_stepev, NULL))
		evtimer_add(w->w_stepev, &tv);
}

/* What the last step changed goes now, never durable before the end. */
static void
iscsi_step_commit(struct defer *d)
{
	struct scsi_task t = d->d_t;

	t.t_cmdflags &= ~(SCSI_CMD_SYNC | SCSI_CMD_FUA);
	t.t_wait = 0;
	t.t_pr = NULL;
	if (iscsi_commit(d->d_c, d, &t) == -1 && d->d_err == 0)
		d->d_err = EIO;
}

/* Its last step ran: what it changed, durable if asked, then the answer. */
static void
iscsi_step_end(struct defer *d)
{
	struct conn	*c = d->d_c;

	TAILQ_REMOVE(&c->c_w->w_steps, d, d_sentry);
	d->d_running = 0;
	c->c_nsteps--;
	if (iscsi_commit(c, d, &d->d_t) == -1 && d->d_err == 0)
		d->d_err = EIO;
	d->d_t.t_cdb = NULL;
	if (d->d_left == 0)
		iscsi_defer_answer(d);
}

/*
 * Every command in steps gets one in turn, for ISCSI_STEP_SLICE_NS at
 * most; what is left runs on the next pass, once the loop has read the
 * sockets again.
 */
static void
iscsi_steps_run(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;
	struct defer	*d;
	uint64_t	 end = iscsi_now_ns() + ISCSI_STEP_SLICE_NS;

	(void)fd;
	(void)ev;
	while ((d = TAILQ_FIRST(&w->w_steps)) != NULL) {
		if (scsi_task_step(&d->d_t)) {
			iscsi_step_commit(d);
			TAILQ_REMOVE(&w->w_steps, d, d_sentry);
			TAILQ_INSERT_TAIL(&w->w_steps, d, d_sentry);
		} else
			iscsi_step_end(d);
		if (iscsi_now_ns() >= end)
			break;
	}
	if (!TAILQ_EMPTY(&w->w_steps))
		iscsi_steps_arm(w);
}

/*
 * The command's handler ran its first step and left the rest: it goes
 * on a step a pass, and is answered as a deferred command.  -1: it
 * cannot (t ends now, aborted).
 */
static int
iscsi_steps_start(struct conn *c, uint32_t itt, struct scsi_task *t,
    int attr, uint32_t xfer)
{
	struct defer	*d;

	if ((d = buf_zget(sizeof(*d))) == NULL) {
		scsi_task_abort(t);
		scsi_sense(t, SK_ABORTED_COMMAND, ASC_INSUFFICIENT_RESOURCES);
		return -1;
	}
	d->d_c = c;
	d->d_itt = itt;
	d->d_xfer = xfer;
	d->d_attr = attr;
	d->d_running = 1;
	memcpy(d->d_cdb, t->t_cdb, sizeof(d->d_cdb));
	d->d_t = *t;
	d->d_t.t_cdb = d->d_cdb;
	d->d_t.t_dout = NULL;
	d->d_t.t_doutlen = 0;
	d->d_t.t_din = NULL;
	d->d_t.t_dincap = 0;
	d->d_t.t_pr = NULL;
	TAILQ_INSERT_TAIL(&c->c_defers, d, d_entry);
	TAILQ_INSERT_TAIL(&c->c_w->w_steps, d, d_sentry);
	c->c_nsteps++;
	iscsi_step_commit(d);		/* what the first step changed */
	iscsi_steps_arm(c->c_w);
	return 0;
}

/* Free a command waiting here, unanswered: its connection is gone. */
static void
iscsi_defer_free(struct conn *c, struct defer *d)
{
	if (d->d_running) {
		scsi_task_abort(&d->d_t);
		TAILQ_REMOVE(&c->c_w->w_steps, d, d_sentry);
		c->c_nsteps--;
	}
	TAILQ_REMOVE(&c->c_defers, d, d_entry);
	commit_cancel(c->c_w, d);
	buf_put(d);
}

/*
 * Task management: the commands in steps of LUN lun (UINT64_MAX: all)
 * or with Initiator Task Tag itt (lun ignored then) end between two
 * steps, with no answer (RFC 7143 4.2.3.6); how many.
 */
static int
iscsi_steps_abort(struct conn *c, uint64_t lun, int byitt, uint32_t itt)
{
	struct defer	*d, *next;
	int		 n = 0;

	TAILQ_FOREACH_SAFE(d, &c->c_defers, d_entry, next) {
		if (!d->d_running || (byitt && d->d_itt != itt) ||
		    (!byitt && lun != UINT64_MAX && d->d_t.t_lun != lun))
			continue;
		iscsi_defer_free(c, d);
		n++;
	}
	if (n > 0)
		handoff_defer_done(c);
	return n;
}

/*
 * As for writes waiting for data (dataout_must_wait): an ORDERED
 * command does not start while one runs in steps, nor does anything
 * but HEAD OF QUEUE while an ORDERED one does; BUSY, and it is retried.
 */
static int
iscsi_steps_must_wait(struct conn *c, int attr)
{
	struct defer	*d;

	if (c->c_nsteps == 0 || attr == SCSI_ATTR_HEAD)
		return 0;
	if (attr == SCSI_ATTR_ORDERED)
		return 1;
	TAILQ_FOREACH(d, &c->c_defers, d_entry)
		if (d->d_running && d->d_attr == SCSI_ATTR_ORDERED)
			return 1;
	return 0;
}

/*
 * Decode the command; one that may run in steps beyond the
 * connection's max-long-commands is answered TASK SET FULL unrun.
 */
static void
iscsi_decode(struct conn *c, struct scsi_task *t)
{
	enum scsi_dir	 dir;
	uint32_t	 len;

	if (scsi_cmd_decode(t, &dir, &len) != 0 || !scsi_task_long(t) ||
	    (uint64_t)c->c_nsteps < c->c_w->w_cfg->c_max_long_cmds)
		return;
	t->t_cmd = NULL;
	t->t_status = SCSI_TASK_SET_FULL;
}

/* A command has run (and its changes are out): its answer. */
static void
iscsi_exec_done(struct conn *c, uint32_t itt, struct scsi_task *t,
    uint32_t xfer, int reading, uint64_t lun)
{
	if (!reading) {
		if (iscsi_defer(c, itt, t, xfer) == -1)
			iscsi_scsi_rsp(c, itt, t, xfer);
	} else
		iscsi_data_in(c, itt, t, lun);
}

/* Run a command whose Data-Out (if any) is complete, and answer it. */
void
iscsi_exec(struct conn *c, uint32_t itt, const uint8_t *cdb, uint64_t lun,
    int attr, uint32_t edtl, const uint8_t *dout, uint32_t doutlen,
    uint32_t xfer, int reading)
{
	struct scsi_task t;
	uint8_t		*din = NULL;
	uint32_t	 cap = 0;

	iscsi_task_init(c, &t, cdb, lun, edtl);
	if (!reading && iscsi_coord_full(c, cdb)) {
		t.t_status = SCSI_TASK_SET_FULL;
		iscsi_scsi_rsp(c, itt, &t, xfer);
		return;
	}
	t.t_attr = attr;
	t.t_dout = dout;
	t.t_doutlen = doutlen;
	if (reading && edtl > 0) {
		/* No more than the command can return, whatever EDTL says. */
		cap = edtl < ISCSI_MAX_XFER ? edtl : ISCSI_MAX_XFER;
		if (xfer > 0 && xfer < cap)
			cap = xfer;
		else if (xfer == 0 && cap > ISCSI_MAX_ALLOC_LEN)
			cap = ISCSI_MAX_ALLOC_LEN;
		if ((din = buf_get(cap)) == NULL) {
			scsi_sense(&t, SK_ABORTED_COMMAND, ASC_INSUFFICIENT_RESOURCES);
			cap = 0;
		}
	}
	t.t_din = din;
	t.t_dincap = cap;
	if (din != NULL || !reading || edtl == 0) {
		iscsi_decode(c, &t);
		scsi_cmd_exec(&t);
	}
	c->c_ncmds++;
	if (!reading)
		c->c_wbytes += t.t_status == SCSI_GOOD ? doutlen : 0;
	if (t.t_step != NULL && reading)
		scsi_task_abort(&t);	/* never: no Data-In in steps */
	if (t.t_step == NULL || iscsi_steps_start(c, itt, &t, attr, xfer) == -1)
		iscsi_exec_done(c, itt, &t, xfer, reading, lun);
	buf_put(din);
}

void
iscsi_conn_free_tasks(struct conn *c)
{
	struct defer	*d;

	dataout_conn_end(c);
	while ((d = TAILQ_FIRST(&c->c_defers)) != NULL)
		iscsi_defer_free(c, d);
}

static int
iscsi_lun_ok(struct conn *c, uint64_t lun)
{
	return c->c_nexus != NULL && lun < (uint64_t)c->c_nexus->n_cap &&
	    c->c_nexus->n_lu[lun] != NULL;
}

static enum pdu_result
iscsi_scsi_cmd(struct conn *c)
{
	const uint8_t	*bhs = c->c_bhs;
	struct scsi_task t;
	enum scsi_dir	 dir;
	uint32_t	 xfer = 0, edtl = be32dec(bhs + 20), want;
	uint32_t	 itt = be32dec(bhs + 16);
	uint64_t	 lun = scsi_lun_decode(bhs + 8);
	int		 w = bhs[1] & FLAG_WRITE, r = bhs[1] & FLAG_READ;

	if (c->c_type != LOGIN_SESSION_NORMAL || (w && r) ||
	    c->c_dlen > edtl || (c->c_dlen > 0 && !w) ||
	    (c->c_dlen > 0 && !c->c_p.ip_immediate_data) ||
	    c->c_dlen > c->c_p.ip_first_burst) {
		iscsi_reject(c, REJECT_PROTOCOL, bhs);
		return PDU_REJECT;
	}
	if (iscsi_cmdsn(c, bhs) == -1)
		return PDU_OK;
	iscsi_task_init(c, &t, bhs + 32, lun, edtl);
	if (dataout_must_wait(c, bhs[1] & 7) ||
	    iscsi_steps_must_wait(c, bhs[1] & 7)) {
		/* Ordering cannot be kept while writes await their data. */
		t.t_status = SCSI_BUSY;
		iscsi_scsi_rsp(c, itt, &t, 0);
		return PDU_OK;
	}
	if (scsi_cmd_decode(&t, &dir, &xfer) == -1) {
		iscsi_scsi_rsp(c, itt, &t, 0);
		return PDU_OK;
	}
	if (dir != SCSI_DIR_WRITE || !w) {
		iscsi_exec(c, itt, bhs + 32, lun, bhs[1] & 7, edtl, c->c_data,
		    w ? c->c_dlen : 0, xfer, r != 0);
		return PDU_OK;
	}
	want = xfer < edtl ? xfer : edtl;
	if (want > c->c_w->w_cfg->c_max_pending) {
		/* more than a connection may buffer: never fits */
		scsi_sense(&t, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB);
		iscsi_scsi_rsp(c, itt, &t, xfer);
		return PDU_OK;
	}
	if (c->c_dlen >= want) {
		iscsi_exec(c, itt, bhs + 32, lun, bhs[1] & 7, edtl, c->c_data,
		    want, xfer, 0);
		return PDU_OK;
	}
	return dataout_cmd(c, bhs, want, xfer);
}

/* ---- Task management ---- */

/* iSCSI function codes (RFC 7143 11.5.1). */
#define TMF_ABORT_TASK		1
#define TMF_ABORT_TASK_SET	2
#define TMF_CLEAR_ACA		3
#define TMF_CLEAR_TASK_SET	4
#define TMF_LUN_RESET		5
#define TMF_TARGET_WARM_RESET	6
#define TMF_TARGET_COLD_RESET	7
#define TMF_TASK_REASSIGN	8

#define TMF_RSP_COMPLETE	0
#define TMF_RSP_NO_TASK		1
#define TMF_RSP_NO_LUN		2
#define TMF_RSP_NOT_SUPPORTED	5
#define TMF_RSP_REJECTED	255

/*
 * Which SCSI task management function (the SCSI layer's table, spc_tmf)
 * each iSCSI function code asks for.  TARGET COLD RESET is a target
 * reset that also closes the connection (iscsi_tmf); TASK REASSIGN
 * (connection recovery, ErrorRecoveryLevel 2) is not here.
 */
static const struct {
	uint8_t		 it_fn;
	enum scsi_tmf	 it_id;
} iscsi_tmf_ids[] = {
	{ TMF_ABORT_TASK,		SCSI_TMF_ABORT_TASK },
	{ TMF_ABORT_TASK_SET,		SCSI_TMF_ABORT_TASK_SET },
	{ TMF_CLEAR_ACA,		SCSI_TMF_CLEAR_ACA },
	{ TMF_CLEAR_TASK_SET,		SCSI_TMF_CLEAR_TASK_SET },
	{ TMF_LUN_RESET,		SCSI_TMF_LUN_RESET },
	{ TMF_TARGET_WARM_RESET,	SCSI_TMF_TARGET_RESET },
	{ TMF_TARGET_COLD_RESET,	SCSI_TMF_TARGET_RESET },
};

typedef int	 iscsi_tmf_fn(struct conn *, uint64_t, uint32_t);

static int
iscsi_tmf_abort_task(struct conn *c, uint64_t lun, uint32_t rtt)
{
	(void)lun;
	return dataout_abort_task(c, rtt) ||
	    iscsi_steps_abort(c, 0, 1, rtt) > 0 ? TMF_RSP_COMPLETE :
	    TMF_RSP_NO_TASK;
}

/* ABORT TASK SET and CLEAR TASK SET: one connection, one task set. */
static int
iscsi_tmf_abort_set(struct conn *c, uint64_t lun, uint32_t rtt)
{
	(void)rtt;
	if (!iscsi_lun_ok(c, lun))
		return TMF_RSP_NO_LUN;
	dataout_abort_lun(c, lun);
	iscsi_steps_abort(c, lun, 0, 0);
	return TMF_RSP_COMPLETE;
}

/* NACA is never accepted in a CDB, so there is never an ACA to clear. */
static int
iscsi_tmf_clear_aca(struct conn *c, uint64_t lun, uint32_t rtt)
{
	(void)rtt;
	return iscsi_lun_ok(c, lun) ? TMF_RSP_COMPLETE : TMF_RSP_NO_LUN;
}

/* LOGICAL UNIT RESET: its task set aborted, then the LU reset. */
static int
iscsi_tmf_lun_reset(struct conn *c, uint64_t lun, uint32_t rtt)
{
	int		 rsp;

	if ((rsp = iscsi_tmf_abort_set(c, lun, rtt)) == TMF_RSP_COMPLETE)
		scsi_lun_reset(c->c_nexus->n_lu[lun], c->c_nexus);
	return rsp;
}

static int
iscsi_tmf_target_reset(struct conn *c, uint64_t lun, uint32_t rtt)
{
	int		 i;

	(void)lun;
	(void)rtt;
	dataout_abort_lun(c, UINT64_MAX);
	iscsi_steps_abort(c, UINT64_MAX, 0, 0);
	for (i = 0; c->c_nexus != NULL && i < c->c_nexus->n_nlun; i++)
		if (c->c_nexus->n_lu[i] != NULL)
			scsi_lun_reset(c->c_nexus->n_lu[i], c->c_nexus);
	return TMF_RSP_COMPLETE;
}

/* What runs each function, by the SCSI layer's ids. */
static iscsi_tmf_fn *const iscsi_tmf_fns[SCSI_TMF_COUNT] = {
	[SCSI_TMF_ABORT_TASK] = iscsi_tmf_abort_task,
	[SCSI_TMF_ABORT_TASK_SET] = iscsi_tmf_abort_set,
	[SCSI_TMF_CLEAR_ACA] = iscsi_tmf_clear_aca,
	[SCSI_TMF_CLEAR_TASK_SET] = iscsi_tmf_abort_set,
	[SCSI_TMF_LUN_RESET] = iscsi_tmf_lun_reset,
	[SCSI_TMF_TARGET_RESET] = iscsi_tmf_target_reset,
};

/* The SCSI function an iSCSI function code asks for, or -1. */
int
iscsi_tmf_id(int fn)
{
	size_t	 i;

	for (i = 0; i < sizeof(iscsi_tmf_ids) / sizeof(iscsi_tmf_ids[0]); i++)
		if (iscsi_tmf_ids[i].it_fn == fn)
			return (int)iscsi_tmf_ids[i].it_id;
	return -1;
}

/* Does the transport run SCSI task management function id? */
int
iscsi_tmf_handled(int id)
{
	return id >= 0 && id < SCSI_TMF_COUNT && iscsi_tmf_fns[id] != NULL;
}

static int
iscsi_tmf_run(struct conn *c, int fn, uint64_t lun, uint32_t rtt)
{
	int		 id = iscsi_tmf_id(fn);

	if (!iscsi_tmf_handled(id))
		return TMF_RSP_NOT_SUPPORTED;
	return iscsi_tmf_fns[id](c, lun, rtt);
}

static enum pdu_result
iscsi_tmf(struct conn *c)
{
	uint8_t		 bhs[ISCSI_BHS_LEN];
	int		 fn = c->c_bhs[1] & 0x7f;

	if (iscsi_cmdsn(c, c->c_bhs) == -1)
		return PDU_OK;
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = OP_TMF_RSP;
	bhs[1] = ISCSI_FLAG_FINAL;
	bhs[2] = c->c_type != LOGIN_SESSION_NORMAL ? TMF_RSP_REJECTED :
	    iscsi_tmf_run(c, fn, scsi_lun_decode(c->c_bhs + 8),
	    be32dec(c->c_bhs + 20));
	memcpy(bhs + 16, c->c_bhs + 16, 4);
	iscsi_seq(c, bhs, 1);
	conn_send(c, bhs, NULL, 0);
	if (fn == TMF_TARGET_COLD_RESET && bhs[2] == TMF_RSP_COMPLETE) {
		/*
		 * RFC 7143 11.5.1: every connection to the target closes.
		 * A public target's sessions are strangers' private disks:
		 * one of them cannot end the others, so only its own
		 * connection closes there.
		 */
		if (c->c_target != NULL && (c->c_target->tg_kind ==
		    TARGET_STATIC || c->c_target->tg_kind == TARGET_PSESS))
			conn_register(c, SHMQ_TARGET_RESET);
		c->c_state = CONN_CLOSING;
		return CONN_CLOSE;
	}
	return PDU_OK;
}

/* ---- Text: SendTargets, in several PDUs when long ---- */

static enum pdu_result
iscsi_text(struct conn *c)
{
	uint8_t		 bhs[ISCSI_BHS_LEN];
	struct login	*l = &c->c_login;
	uint32_t	 ttt = be32dec(c->c_bhs + 20), seg, n;
	char		*text = NULL, *key;

	if (iscsi_cmdsn(c, c->c_bhs) == -1)
		return PDU_OK;
	if (ttt == ISCSI_TTT_NONE || l->l_tx == NULL) {
		free(l->l_tx);
		l->l_tx = NULL;
		l->l_txlen = l->l_txoff = 0;
		key = memmem(c->c_data, c->c_dlen, "SendTargets=", 12);
		if (key != NULL) {
			size_t rem = c->c_dlen - ((uint8_t *)key - c->c_data);
			char arg[ISCSI_NAME_MAX];

			rem = strnlen(key + 12, rem - 12);
			snprintf(arg, sizeof(arg), "%.*s", (int)rem, key + 12);
			l->l_txlen = target_sendtargets(c->c_w, c, arg, &text);
			l->l_tx = text;
		}
	}
	seg = iscsi_seg(c);
	n = l->l_txlen - l->l_txoff < seg ? l->l_txlen - l->l_txoff : seg;
	memset(bhs, 0, sizeof(bhs));
	bhs[0] = OP_TEXT_RSP;
	memcpy(bhs + 8, c->c_bhs + 8, 8);
	memcpy(bhs + 16, c->c_bhs + 16, 4);
	if (l->l_txoff + n < l->l_txlen) {
		bhs[1] = 0x40;				/* C */
		be32enc(bhs + 20, iscsi_next_ttt(c));
	} else {
		bhs[1] = ISCSI_FLAG_FINAL;
		be32enc(bhs + 20, ISCSI_TTT_NONE);
	}
	iscsi_seq(c, bhs, 1);
	conn_send(c, bhs, l->l_tx != NULL ? l->l_tx + l->l_txoff : NULL, n);
	l->l_txoff += n;
	if (l->l_txoff >= l->l_txlen) {
		free(l->l_tx);
		l->l_tx = NULL;
		l->l_txlen = l->l_txoff = 0;
	}
	return PDU_OK;
}
