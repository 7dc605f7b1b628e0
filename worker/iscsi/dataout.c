/*
 * Write commands waiting for their Data-Out (RFC 7143 4.2.5.2, 11.7):
 * the task records, R2Ts, the data sequence checks, and the budgets of
 * buffered write data.
 *
 * We negotiate DataPDUInOrder=Yes and DataSequenceInOrder=Yes, so every
 * Data-Out must start exactly where the previous one of its sequence
 * ended: the unsolicited sequence at offset 0 (after any immediate
 * data), each solicited one at its R2T's offset.  A PDU that does not,
 * that names an unknown Target Transfer Tag, or that carries more than
 * its sequence may hold is a protocol error: it is rejected and, as
 * there is no recovery within a command at ErrorRecoveryLevel 0, its
 * command ends with ABORTED COMMAND.  Every byte is therefore accepted
 * at most once, and a command runs only once each byte it writes has
 * been received (tk_got == tk_want); the part of a buffer not yet
 * received is zeros, never what the pool held before.
 *
 * Budgets: the write data a connection buffers for its unfinished
 * commands is at most max-pending-data, the connections of one source
 * address (IPv6: its ipv6-prefix) on a worker at most
 * max-pending-data-address, and a worker's in all at most
 * max-pending-data-worker, so that one address never has all of a
 * worker's room.  A command whose buffer does not fit waits, holding
 * only what arrives unsolicited, and its R2Ts go out once the room is
 * there; one whose unsolicited data does not fit either is answered
 * TASK SET FULL.
 *
 * Nothing waits without bound (dataout-timeout): a command that has
 * waited that long for room is answered TASK SET FULL, and a connection
 * that owes Data-Out (an R2T, an unsolicited burst) and sent none for
 * that long is closed.  Closing, not a status: RFC 7143 11.4 has the
 * target wait for the last Data-Out before it answers a command whose
 * data is due, and at ErrorRecoveryLevel 0 the connection is what is
 * recovered.  Either way its buffers and budgets are given back.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include "bufpool.h"
#include "bytes.h"
#include "iscsi.h"
#include "log.h"
#include "netaddr.h"
#include "pack.h"

#define TTT_NONE	0xffffffffU

/* A SCSI command waiting for its Data-Out. */
struct task {
	TAILQ_ENTRY(task)	 tk_entry;	/* the connection's */
	TAILQ_ENTRY(task)	 tk_wentry;	/* the worker's, while waiting */
	struct conn		*tk_conn;
	uint32_t		 tk_itt;
	uint32_t		 tk_edtl;
	uint64_t		 tk_lun;
	int			 tk_attr;
	uint8_t			 tk_cdb[16];
	uint8_t			*tk_buf;	/* Data-Out collected */
	uint32_t		 tk_bufcap;	/* bytes of tk_buf, charged */
	uint32_t		 tk_want;	/* bytes to collect */
	uint32_t		 tk_got;	/* bytes collected, each once */
	uint32_t		 tk_xfer;	/* CDB transfer length */
	int			 tk_waiting;	/* no room for tk_want yet */
	uint64_t		 tk_wait_ns;	/* since when, CLOCK_MONOTONIC */

	/* The unsolicited sequence: [0, tk_unsol), received to tk_unsol_off. */
	uint32_t		 tk_unsol;
	uint32_t		 tk_unsol_off;
	uint32_t		 tk_unsol_sn;	/* next DataSN */
	int			 tk_unsol_open;	/* more may come */

	/* To solicit: the gap an unsolicited sequence left, then the rest. */
	uint32_t		 tk_gap_off;
	uint32_t		 tk_gap_end;
	uint32_t		 tk_r2t_off;	/* next offset in [tk_unsol, tk_want) */
	uint32_t		 tk_r2tsn;
	uint32_t		 tk_r2t_out;	/* outstanding R2Ts */
	struct r2t {
		uint32_t	 r_ttt;		/* 0: slot free */
		uint32_t	 r_off;
		uint32_t	 r_len;
		uint32_t	 r_got;		/* next offset is r_off + r_got */
		uint32_t	 r_datasn;	/* next DataSN expected */
	}			 tk_r2t[ISCSI_MAX_R2T];
};

/* One source address's share of a worker's budget (c_pendaddr). */
struct pendaddr {
	LIST_ENTRY(pendaddr)	 pa_entry;
	uint8_t			 pa_key[NETADDR_KEY_LEN];
	uint64_t		 pa_bytes;	/* max-pending-data-address */
	int			 pa_refs;	/* connections holding it */
};

/* Why a Data-Out ended its command: reject reason, then sense code. */
struct dataout_err {
	int		 de_reject;
	uint16_t	 de_asc;
	const char	*de_why;
};

static const struct dataout_err de_bad_ttt = { REJECT_INVALID_FIELD,
    ASC_INVALID_TTT, "unknown Target Transfer Tag" };
static const struct dataout_err de_bad_sn = { REJECT_PROTOCOL,
    ASC_DATA_PHASE_ERROR, "DataSN out of order" };
static const struct dataout_err de_bad_off = { REJECT_PROTOCOL,
    ASC_DATA_OFFSET_ERROR, "Buffer Offset out of order" };
static const struct dataout_err de_too_much = { REJECT_PROTOCOL,
    ASC_TOO_MUCH_WRITE_DATA, "more data than the sequence holds" };
static const struct dataout_err de_short = { REJECT_PROTOCOL,
    ASC_DATA_OFFSET_ERROR, "sequence ended short of its R2T" };
static const struct dataout_err de_unsol = { REJECT_PROTOCOL,
    ASC_DATA_OFFSET_ERROR, "unsolicited data not expected" };

static void	dataout_grant_cb(evutil_socket_t, short, void *);
static void	dataout_stall_cb(evutil_socket_t, short, void *);

/* ---- Budgets ---- */

/* An address's share: at least a connection's, at most the worker's. */
static uint64_t
dataout_addr_share(const struct config *cfg)
{
	uint64_t	 s = cfg->c_max_pending_addr;

	if (s < cfg->c_max_pending)
		s = cfg->c_max_pending;
	return s < cfg->c_max_pending_worker ? s : cfg->c_max_pending_worker;
}

/* Room for n more bytes on c and on its address (dataout_addr_get). */
static int
dataout_room_conn(const struct conn *c, uint64_t n)
{
	const struct config	*cfg = c->c_w->w_cfg;

	return c->c_taskbytes + n <= cfg->c_max_pending &&
	    c->c_pendaddr->pa_bytes + n <= dataout_addr_share(cfg);
}

static int
dataout_room_worker(const struct worker *w, uint64_t n)
{
	return w->w_pendbytes + n <= w->w_cfg->c_max_pending_worker;
}

static int
dataout_room(const struct conn *c, uint32_t n)
{
	return dataout_room_conn(c, n) && dataout_room_worker(c->c_w, n);
}

static void
dataout_charge(struct conn *c, uint32_t n)
{
	c->c_taskbytes += n;
	c->c_pendaddr->pa_bytes += n;
	c->c_w->w_pendbytes += n;
}

/* Give back n bytes; waiting commands get their turn after this pass. */
static void
dataout_credit(struct conn *c, uint32_t n)
{
	struct worker	*w = c->c_w;

	c->c_taskbytes -= n;
	c->c_pendaddr->pa_bytes -= n;
	w->w_pendbytes -= n;
	if (n > 0 && !TAILQ_EMPTY(&w->w_waitq) && w->w_grantev != NULL)
		event_active(w->w_grantev, 0, 0);
}

/*
 * c's address's record (IPv6 cut to ipv6-prefix, as the master counts
 * connections), shared by its connections on this worker and held
 * until the connection ends; -1 without memory.
 */
static int
dataout_addr_get(struct conn *c)
{
	struct worker		*w = c->c_w;
	struct sockaddr_in6	 sin6;
	struct pendaddr		*pa;
	uint8_t			 key[NETADDR_KEY_LEN];

	if (c->c_pendaddr != NULL)
		return 0;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	memcpy(&sin6.sin6_addr, c->c_addr, sizeof(sin6.sin6_addr));
	netaddr_key((struct sockaddr *)&sin6, sizeof(sin6),
	    (unsigned)w->w_cfg->c_v6_prefix, key);
	LIST_FOREACH(pa, &w->w_pendaddrs, pa_entry)
		if (memcmp(pa->pa_key, key, sizeof(key)) == 0)
			break;
	if (pa == NULL) {
		if ((pa = calloc(1, sizeof(*pa))) == NULL)
			return -1;
		memcpy(pa->pa_key, key, sizeof(key));
		LIST_INSERT_HEAD(&w->w_pendaddrs, pa, pa_entry);
	}
	pa->pa_refs++;
	c->c_pendaddr = pa;
	return 0;
}

static void
dataout_addr_put(struct conn *c)
{
	struct pendaddr	*pa = c->c_pendaddr;

	if (pa == NULL)
		return;
	c->c_pendaddr = NULL;
	if (--pa->pa_refs > 0)
		return;
	if (pa->pa_bytes != 0)
		fatalx("%s: %llu bytes still charged", __func__,
		    (unsigned long long)pa->pa_bytes);
	LIST_REMOVE(pa, pa_entry);
	free(pa);
}

int
dataout_start(struct worker *w)
{
	TAILQ_INIT(&w->w_waitq);
	TAILQ_INIT(&w->w_taskconns);
	LIST_INIT(&w->w_pendaddrs);
	w->w_grantev = event_new(w->w_base, -1, 0, dataout_grant_cb, w);
	w->w_stallev = evtimer_new(w->w_base, dataout_stall_cb, w);
	return w->w_grantev == NULL || w->w_stallev == NULL ? -1 : 0;
}

/* ---- Time limits (dataout-timeout) ---- */

static uint64_t
dataout_timeout_ns(const struct worker *w)
{
	return w->w_cfg->c_dataout_timeout * 1000000000ULL;
}

/* Wake when the oldest wait for room or silence reaches the limit. */
static void
dataout_stall_arm(struct worker *w, uint64_t now)
{
	struct task	*tk = TAILQ_FIRST(&w->w_waitq);
	struct conn	*c = TAILQ_FIRST(&w->w_taskconns);
	struct timeval	 tv;
	uint64_t	 at = UINT64_MAX, d;

	if (tk != NULL)
		at = tk->tk_wait_ns;
	if (c != NULL && c->c_dataout_ns < at)
		at = c->c_dataout_ns;
	if (at == UINT64_MAX)
		return;
	at += dataout_timeout_ns(w);
	d = (at > now ? at - now : 0) / 1000 + 1;	/* microseconds */
	tv.tv_sec = (time_t)(d / 1000000);
	tv.tv_usec = (suseconds_t)(d % 1000000);
	evtimer_add(w->w_stallev, &tv);
}

/*
 * Something joined the tail of a list the timer watches: its limit is
 * the latest, so a timer already set comes soon enough.
 */
static void
dataout_stall_watch(struct worker *w)
{
	if (!evtimer_pending(w->w_stallev, NULL))
		dataout_stall_arm(w, iscsi_now_ns());
}

/* c sent Data-Out, or was given room to: its silence starts again. */
static void
dataout_touch(struct conn *c)
{
	struct worker	*w = c->c_w;

	c->c_dataout_ns = iscsi_now_ns();
	TAILQ_REMOVE(&w->w_taskconns, c, c_taskentry);
	TAILQ_INSERT_TAIL(&w->w_taskconns, c, c_taskentry);
}

/* ---- Task records ---- */

static struct task *
dataout_find(struct conn *c, uint32_t itt)
{
	struct task	*tk;

	TAILQ_FOREACH(tk, &c->c_tasks, tk_entry)
		if (tk->tk_itt == itt)
			return tk;
	return NULL;
}

/* tk waits for room, for dataout-timeout at most. */
static void
dataout_wait(struct conn *c, struct task *tk)
{
	tk->tk_wait_ns = iscsi_now_ns();
	TAILQ_INSERT_TAIL(&c->c_w->w_waitq, tk, tk_wentry);
	dataout_stall_watch(c->c_w);
}

/* Keep tk on c; from its first task on, c's silence is timed. */
static void
dataout_keep(struct conn *c, struct task *tk)
{
	TAILQ_INSERT_TAIL(&c->c_tasks, tk, tk_entry);
	if (c->c_ntasks++ == 0) {
		c->c_dataout_ns = iscsi_now_ns();
		TAILQ_INSERT_TAIL(&c->c_w->w_taskconns, c, c_taskentry);
		dataout_stall_watch(c->c_w);
	}
	if (tk->tk_waiting)
		dataout_wait(c, tk);
}

static void
dataout_free(struct conn *c, struct task *tk)
{
	TAILQ_REMOVE(&c->c_tasks, tk, tk_entry);
	if (tk->tk_waiting)
		TAILQ_REMOVE(&c->c_w->w_waitq, tk, tk_wentry);
	if (--c->c_ntasks == 0)
		TAILQ_REMOVE(&c->c_w->w_taskconns, c, c_taskentry);
	dataout_credit(c, tk->tk_bufcap);
	buf_put(tk->tk_buf);
	buf_put(tk);
}

/* Keep bytes [off, off + len) of the data sequence (past tk_want: dropped). */
static void
dataout_store(struct task *tk, uint32_t off, const uint8_t *data,
    uint32_t len)
{
	uint32_t	 n;

	if (off >= tk->tk_want || len == 0)
		return;
	n = tk->tk_want - off < len ? tk->tk_want - off : len;
	if (off + n > tk->tk_bufcap)	/* cannot happen: the checks */
		fatalx("%s: %u bytes at %u past a %u-byte buffer", __func__,
		    n, off, tk->tk_bufcap);
	memcpy(tk->tk_buf + off, data, n);
	tk->tk_got += n;
}

static int
dataout_complete(const struct task *tk)
{
	return !tk->tk_unsol_open && tk->tk_gap_off >= tk->tk_gap_end &&
	    tk->tk_r2t_off >= tk->tk_want && tk->tk_r2t_out == 0 &&
	    !tk->tk_waiting;
}

/* ---- R2T ---- */

/* The next range to solicit, at most MaxBurstLength: the gap first. */
static int
dataout_next_range(struct conn *c, struct task *tk, uint32_t *off,
    uint32_t *len)
{
	uint32_t	*cur, end;

	if (tk->tk_gap_off < tk->tk_gap_end) {
		cur = &tk->tk_gap_off;
		end = tk->tk_gap_end;
	} else if (tk->tk_r2t_off < tk->tk_want) {
		cur = &tk->tk_r2t_off;
		end = tk->tk_want;
	} else
		return 0;
	*off = *cur;
	*len = end - *cur;
	if (*len > c->c_p.ip_max_burst)
		*len = c->c_p.ip_max_burst;
	*cur += *len;
	return 1;
}

static void
dataout_r2t_send(struct conn *c, struct task *tk)
{
	uint8_t		 bhs[ISCSI_BHS_LEN];
	uint32_t	 off, len;
	struct r2t	*r;
	int		 i;

	if (tk->tk_waiting)
		return;
	while (tk->tk_r2t_out < c->c_p.ip_max_r2t &&
	    tk->tk_r2t_out < ISCSI_MAX_R2T &&
	    dataout_next_range(c, tk, &off, &len)) {
		for (i = 0; tk->tk_r2t[i].r_ttt != 0; i++)
			;
		r = &tk->tk_r2t[i];
		r->r_ttt = iscsi_next_ttt(c);
		r->r_off = off;
		r->r_len = len;
		r->r_got = 0;
		r->r_datasn = 0;
		memset(bhs, 0, sizeof(bhs));
		bhs[0] = OP_R2T;
		bhs[1] = ISCSI_FLAG_FINAL;
		scsi_lun_encode(bhs + 8, tk->tk_lun);
		be32enc(bhs + 16, tk->tk_itt);
		be32enc(bhs + 20, r->r_ttt);
		iscsi_seq(c, bhs, 0);
		be32enc(bhs + 36, tk->tk_r2tsn++);
		be32enc(bhs + 40, off);
		be32enc(bhs + 44, len);
		conn_send(c, bhs, NULL, 0);
		tk->tk_r2t_out++;
	}
}

/*
 * A waiting command whose whole buffer now fits: move what arrived
 * unsolicited into a buffer of tk_want bytes, zeros past it.
 */
static int
dataout_grow(struct conn *c, struct task *tk)
{
	uint8_t		*nb;

	if ((nb = buf_get(tk->tk_want)) == NULL)
		return -1;
	if (tk->tk_bufcap > 0)
		memcpy(nb, tk->tk_buf, tk->tk_bufcap);
	memset(nb + tk->tk_bufcap, 0, tk->tk_want - tk->tk_bufcap);
	buf_put(tk->tk_buf);
	tk->tk_buf = nb;
	dataout_charge(c, tk->tk_want - tk->tk_bufcap);
	tk->tk_bufcap = tk->tk_want;
	tk->tk_waiting = 0;
	TAILQ_REMOVE(&c->c_w->w_waitq, tk, tk_wentry);
	dataout_touch(c);	/* its R2Ts go out now */
	return 0;
}

/*
 * Room came back: waiting commands take it in arrival order.  One that
 * its own connection's or address's budget holds back does not hold
 * back the others; one that the worker's budget holds back does (for
 * dataout-timeout at most).
 */
static void
dataout_grant_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;
	struct task	*tk, *next;
	struct conn	*c;
	uint32_t	 more;

	(void)fd;
	(void)ev;
	TAILQ_FOREACH_SAFE(tk, &w->w_waitq, tk_wentry, next) {
		c = tk->tk_conn;
		more = tk->tk_want - tk->tk_bufcap;
		if (!dataout_room_worker(w, more))
			return;
		if (!dataout_room_conn(c, more) || dataout_grow(c, tk) == -1)
			continue;
		dataout_r2t_send(c, tk);
	}
}

/* ---- A new write command ---- */

/*
 * TASK SET FULL: no room even for what the initiator sends unasked, or
 * none came in dataout-timeout.
 */
static void
dataout_full(struct conn *c, const struct task *tk)
{
	struct scsi_task t;

	iscsi_task_init(c, &t, tk->tk_cdb, tk->tk_lun, tk->tk_edtl);
	t.t_status = SCSI_TASK_SET_FULL;
	iscsi_scsi_rsp(c, tk->tk_itt, &t, tk->tk_xfer);
}

/*
 * The unsolicited sequence of a new command (RFC 7143 4.2.5.2): the
 * immediate data, then Data-Out up to FirstBurstLength unless
 * InitialR2T=Yes or the command's F bit says none follows.
 */
static void
dataout_unsol_init(struct conn *c, struct task *tk, const uint8_t *bhs,
    uint32_t imm)
{
	uint32_t	 unsol = imm;

	if (!c->c_p.ip_initial_r2t && !(bhs[1] & ISCSI_FLAG_FINAL))
		unsol = c->c_p.ip_first_burst;
	if (unsol > tk->tk_edtl)
		unsol = tk->tk_edtl;
	if (unsol < imm)
		unsol = imm;
	tk->tk_unsol = unsol;
	tk->tk_unsol_off = imm;
	tk->tk_unsol_open = imm < unsol;
	tk->tk_r2t_off = unsol;
}

/* The buffer: all of tk_want if it fits, else what comes unasked. */
static int
dataout_buffer(struct conn *c, struct task *tk, uint32_t imm)
{
	uint32_t	 first, cap;

	first = tk->tk_unsol < tk->tk_want ? tk->tk_unsol : tk->tk_want;
	if (dataout_room(c, tk->tk_want))
		cap = tk->tk_want;
	else if (dataout_room(c, first)) {
		cap = first;
		tk->tk_waiting = 1;
	} else
		return -1;
	if (cap > 0 && (tk->tk_buf = buf_get(cap)) == NULL)
		return -1;
	if (imm > cap)
		imm = cap;
	if (cap > imm)
		memset(tk->tk_buf + imm, 0, cap - imm);
	tk->tk_bufcap = cap;
	dataout_charge(c, cap);
	return 0;
}

/*
 * A write whose data has not all arrived (want bytes of it kept): keep
 * it, store the immediate data, solicit the rest.
 */
enum pdu_result
dataout_cmd(struct conn *c, const uint8_t *bhs, uint32_t want, uint32_t xfer)
{
	struct task	*tk;
	uint32_t	 imm = c->c_dlen, itt = be32dec(bhs + 16);

	if (c->c_ntasks >= ISCSI_MAX_TASKS || dataout_find(c, itt) != NULL) {
		iscsi_reject(c, c->c_ntasks >= ISCSI_MAX_TASKS ?
		    REJECT_OUT_OF_RESOURCES : REJECT_TASK_IN_PROGRESS, bhs);
		return PDU_REJECT;
	}
	if ((tk = buf_zget(sizeof(*tk))) == NULL) {
		iscsi_reject(c, REJECT_OUT_OF_RESOURCES, bhs);
		return PDU_REJECT;
	}
	tk->tk_conn = c;
	tk->tk_itt = itt;
	tk->tk_edtl = be32dec(bhs + 20);
	memcpy(tk->tk_cdb, bhs + 32, 16);
	tk->tk_lun = scsi_lun_decode(bhs + 8);
	tk->tk_attr = bhs[1] & 0x07;
	tk->tk_want = want;
	tk->tk_xfer = xfer;
	dataout_unsol_init(c, tk, bhs, imm);
	if (dataout_addr_get(c) == -1 || dataout_buffer(c, tk, imm) == -1) {
		dataout_full(c, tk);
		buf_put(tk);
		return PDU_OK;
	}
	dataout_keep(c, tk);
	dataout_store(tk, 0, c->c_data, imm);
	dataout_r2t_send(c, tk);
	if (dataout_complete(tk))
		dataout_run(c, tk);
	return PDU_OK;
}

/* ---- Data-Out ---- */

/* Data-Out with TTT 0xffffffff: the next piece of the unsolicited burst. */
static const struct dataout_err *
dataout_unsol(struct conn *c, struct task *tk, uint32_t sn, uint32_t off)
{
	uint32_t	 end;

	if (!tk->tk_unsol_open)
		return &de_unsol;
	if (sn != tk->tk_unsol_sn)
		return &de_bad_sn;
	if (off != tk->tk_unsol_off)
		return &de_bad_off;
	if (c->c_dlen > tk->tk_unsol - off)
		return &de_too_much;
	dataout_store(tk, off, c->c_data, c->c_dlen);
	tk->tk_unsol_sn++;
	tk->tk_unsol_off += c->c_dlen;
	if (!(c->c_bhs[1] & ISCSI_FLAG_FINAL) &&
	    tk->tk_unsol_off < tk->tk_unsol)
		return NULL;
	tk->tk_unsol_open = 0;
	/* Ended short of FirstBurstLength: solicit the rest (RFC 7143). */
	end = tk->tk_unsol < tk->tk_want ? tk->tk_unsol : tk->tk_want;
	if (tk->tk_unsol_off < end) {
		tk->tk_gap_off = tk->tk_unsol_off;
		tk->tk_gap_end = end;
	}
	return NULL;
}

static struct r2t *
dataout_r2t_find(struct task *tk, uint32_t ttt)
{
	int	 i;

	if (ttt == 0)		/* never given out: a free slot's mark */
		return NULL;
	for (i = 0; i < ISCSI_MAX_R2T; i++)
		if (tk->tk_r2t[i].r_ttt == ttt)
			return &tk->tk_r2t[i];
	return NULL;
}

/* Data-Out answering one of our R2Ts. */
static const struct dataout_err *
dataout_sol(struct conn *c, struct task *tk, uint32_t ttt, uint32_t sn,
    uint32_t off)
{
	struct r2t	*r;

	if ((r = dataout_r2t_find(tk, ttt)) == NULL)
		return &de_bad_ttt;
	if (sn != r->r_datasn)
		return &de_bad_sn;
	if (off != r->r_off + r->r_got)
		return &de_bad_off;
	if (c->c_dlen > r->r_len - r->r_got)
		return &de_too_much;
	dataout_store(tk, off, c->c_data, c->c_dlen);
	r->r_datasn++;
	r->r_got += c->c_dlen;
	if (r->r_got < r->r_len) {
		if (c->c_bhs[1] & ISCSI_FLAG_FINAL)
			return &de_short;
		return NULL;
	}
	r->r_ttt = 0;
	tk->tk_r2t_out--;
	return NULL;
}

/* A broken data sequence ends the command (ERL 0): reject, then status. */
static void
dataout_fail(struct conn *c, struct task *tk, const struct dataout_err *e)
{
	struct scsi_task t;

	log_warnx("%s: %s: ITT 0x%08x: %s", __func__, c->c_peer, tk->tk_itt,
	    e->de_why);
	iscsi_reject(c, e->de_reject, c->c_bhs);
	iscsi_task_init(c, &t, tk->tk_cdb, tk->tk_lun, tk->tk_edtl);
	scsi_sense(&t, SK_ABORTED_COMMAND, e->de_asc);
	iscsi_scsi_rsp(c, tk->tk_itt, &t, tk->tk_xfer);
	dataout_free(c, tk);
}

/* Every byte is in: run the command, then forget it. */
void
dataout_run(struct conn *c, struct task *tk)
{
	if (tk->tk_got != tk->tk_want) {	/* the checks make it so */
		log_warnx("%s: ITT 0x%08x: %u of %u bytes", __func__,
		    tk->tk_itt, tk->tk_got, tk->tk_want);
		dataout_fail(c, tk, &de_short);
		return;
	}
	iscsi_exec(c, tk->tk_itt, tk->tk_cdb, tk->tk_lun, tk->tk_attr,
	    tk->tk_edtl, tk->tk_buf, tk->tk_want, tk->tk_xfer, 0);
	dataout_free(c, tk);
}

enum pdu_result
dataout_pdu(struct conn *c)
{
	const uint8_t	*bhs = c->c_bhs;
	const struct dataout_err *e;
	struct task	*tk;
	uint32_t	 ttt = be32dec(bhs + 20), sn = be32dec(bhs + 36);
	uint32_t	 off = be32dec(bhs + 40);

	if ((tk = dataout_find(c, be32dec(bhs + 16))) == NULL)
		return PDU_OK;	/* data for a command already answered */
	dataout_touch(c);
	if (ttt == TTT_NONE)
		e = dataout_unsol(c, tk, sn, off);
	else
		e = dataout_sol(c, tk, ttt, sn, off);
	if (e != NULL) {
		dataout_fail(c, tk, e);
		return PDU_REJECT;
	}
	dataout_r2t_send(c, tk);
	if (dataout_complete(tk))
		dataout_run(c, tk);
	return PDU_OK;
}

/* ---- Waits past dataout-timeout ---- */

/* Does c owe us Data-Out: an R2T outstanding, an unsolicited burst open? */
static int
dataout_owed(const struct conn *c)
{
	const struct task	*tk;

	TAILQ_FOREACH(tk, &c->c_tasks, tk_entry)
		if (!tk->tk_waiting || tk->tk_unsol_open)
			return 1;
	return 0;
}

/*
 * c sent no Data-Out for dataout-timeout.  Owing some, its data phase
 * has stalled: the connection goes, and with it every buffer it holds.
 * Owing none (its commands wait for room), or going to another worker
 * (it reads nothing meanwhile), it is timed again from now.
 */
static void
dataout_silent(struct conn *c)
{
	if (c->c_moving || !dataout_owed(c)) {
		dataout_touch(c);
		return;
	}
	log_warnx("%s: %s: no Data-Out for %llu s, %llu bytes held by %d "
	    "commands", __func__, c->c_peer,
	    (unsigned long long)c->c_w->w_cfg->c_dataout_timeout,
	    (unsigned long long)c->c_taskbytes, c->c_ntasks);
	conn_close(c, "Data-Out stalled");
}

/* No room came for tk in dataout-timeout: TASK SET FULL, and it goes. */
static void
dataout_wait_over(struct task *tk)
{
	struct conn	*c = tk->tk_conn;

	log_info("%s: %s: ITT 0x%08x: no room for %u bytes in %llu s",
	    __func__, c->c_peer, tk->tk_itt, tk->tk_want,
	    (unsigned long long)c->c_w->w_cfg->c_dataout_timeout);
	dataout_full(c, tk);
	dataout_free(c, tk);
}

/*
 * The oldest silence or wait reached dataout-timeout: stalled
 * connections go first, the room they free is given out, and the
 * commands that still found none are answered.
 */
static void
dataout_stall_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;
	struct conn	*c;
	struct task	*tk;
	uint64_t	 now = iscsi_now_ns(), lim = dataout_timeout_ns(w);

	(void)fd;
	(void)ev;
	while ((c = TAILQ_FIRST(&w->w_taskconns)) != NULL &&
	    c->c_dataout_ns + lim <= now)
		dataout_silent(c);
	dataout_grant_cb(-1, 0, w);
	while ((tk = TAILQ_FIRST(&w->w_waitq)) != NULL &&
	    tk->tk_wait_ns + lim <= now)
		dataout_wait_over(tk);
	dataout_stall_arm(w, now);
}

/* ---- Task management, ordering, teardown ---- */

/* ABORT TASK: 1 when the task was waiting here and is gone. */
int
dataout_abort_task(struct conn *c, uint32_t itt)
{
	struct task	*tk;

	if ((tk = dataout_find(c, itt)) == NULL)
		return 0;
	dataout_free(c, tk);
	return 1;
}

/* Drop the tasks of one LUN (or all with lun == UINT64_MAX). */
void
dataout_abort_lun(struct conn *c, uint64_t lun)
{
	struct task	*tk, *next;

	TAILQ_FOREACH_SAFE(tk, &c->c_tasks, tk_entry, next)
		if (lun == UINT64_MAX || tk->tk_lun == lun)
			dataout_free(c, tk);
}

/* The connection ends: its tasks, and its hold on its address's share. */
void
dataout_conn_end(struct conn *c)
{
	dataout_abort_lun(c, UINT64_MAX);
	dataout_addr_put(c);
}

/*
 * Every command runs to completion as it arrives, but for writes still
 * waiting for Data-Out.  An ORDERED command must not start before those,
 * and nothing but HEAD OF QUEUE may pass an ORDERED write that waits:
 * such a command is answered BUSY, and the initiator retries it.
 */
int
dataout_must_wait(struct conn *c, int attr)
{
	struct task	*tk;

	if (c->c_ntasks == 0 || attr == SCSI_ATTR_HEAD)
		return 0;
	if (attr == SCSI_ATTR_ORDERED)
		return 1;
	TAILQ_FOREACH(tk, &c->c_tasks, tk_entry)
		if (tk->tk_attr == SCSI_ATTR_ORDERED)
			return 1;
	return 0;
}

/* ---- Handing tasks to another worker (handoff.c) ---- */

/* Each waiting command as one section tagged tag, its buffer with it. */
void
dataout_save(struct conn *c, struct pack *pk, uint16_t tag)
{
	struct task	*tk;
	size_t		 m;
	int		 i;

	TAILQ_FOREACH(tk, &c->c_tasks, tk_entry) {
		m = pack_section(pk, tag);
		pack_u32(pk, tk->tk_itt);
		pack_u32(pk, tk->tk_edtl);
		pack_u64(pk, tk->tk_lun);
		pack_u8(pk, (uint8_t)tk->tk_attr);
		pack_bytes(pk, tk->tk_cdb, sizeof(tk->tk_cdb));
		pack_u32(pk, tk->tk_want);
		pack_u32(pk, tk->tk_got);
		pack_u32(pk, tk->tk_xfer);
		pack_u8(pk, (uint8_t)tk->tk_waiting);
		pack_u32(pk, tk->tk_unsol);
		pack_u32(pk, tk->tk_unsol_off);
		pack_u32(pk, tk->tk_unsol_sn);
		pack_u8(pk, (uint8_t)tk->tk_unsol_open);
		pack_u32(pk, tk->tk_gap_off);
		pack_u32(pk, tk->tk_gap_end);
		pack_u32(pk, tk->tk_r2t_off);
		pack_u32(pk, tk->tk_r2tsn);
		pack_u32(pk, tk->tk_r2t_out);
		for (i = 0; i < ISCSI_MAX_R2T; i++) {
			pack_u32(pk, tk->tk_r2t[i].r_ttt);
			pack_u32(pk, tk->tk_r2t[i].r_off);
			pack_u32(pk, tk->tk_r2t[i].r_len);
			pack_u32(pk, tk->tk_r2t[i].r_got);
			pack_u32(pk, tk->tk_r2t[i].r_datasn);
		}
		pack_blob(pk, tk->tk_buf, tk->tk_bufcap);
		pack_section_end(pk, m);
	}
}

/*
 * Is what another worker sent a task this one can go on with?  Every
 * offset the Data-Out checks rely on must lie within the buffer, or a
 * later store would run past it.
 */
static int
dataout_task_sane(const struct conn *c, const struct task *tk, size_t buflen)
{
	uint32_t	 first, n = 0;
	int		 i;

	first = tk->tk_unsol < tk->tk_want ? tk->tk_unsol : tk->tk_want;
	if (tk->tk_want > tk->tk_edtl || tk->tk_got > tk->tk_want ||
	    tk->tk_want > c->c_w->w_cfg->c_max_pending ||
	    buflen != (tk->tk_waiting ? first : tk->tk_want) ||
	    tk->tk_unsol > tk->tk_edtl || tk->tk_unsol_off > tk->tk_unsol ||
	    tk->tk_gap_off > tk->tk_gap_end || tk->tk_gap_end > tk->tk_want ||
	    tk->tk_r2t_out > ISCSI_MAX_R2T ||
	    tk->tk_lun >= SCSI_MAX_LUNS)
		return 0;
	for (i = 0; i < ISCSI_MAX_R2T; i++) {
		const struct r2t *r = &tk->tk_r2t[i];

		if (r->r_ttt == 0)
			continue;
		if (tk->tk_waiting || r->r_off > tk->tk_want ||
		    r->r_len > tk->tk_want - r->r_off || r->r_got > r->r_len)
			return 0;
		n++;
	}
	return n == tk->tk_r2t_out;
}

/*
 * One waiting command from another worker (a section dataout_save
 * wrote): kept here as it was there, its buffer charged to the budgets
 * (it is held already; a waiting one waits here).  0, or -1.
 */
int
dataout_restore(struct conn *c, struct pack *sec)
{
	struct task	*tk;
	const uint8_t	*buf;
	size_t		 len;
	int		 i;

	if (c->c_ntasks >= ISCSI_MAX_TASKS ||
	    (tk = buf_zget(sizeof(*tk))) == NULL)
		return -1;
	tk->tk_conn = c;
	tk->tk_itt = unpack_u32(sec);
	tk->tk_edtl = unpack_u32(sec);
	tk->tk_lun = unpack_u64(sec);
	tk->tk_attr = unpack_u8(sec);
	unpack_bytes(sec, tk->tk_cdb, sizeof(tk->tk_cdb));
	tk->tk_want = unpack_u32(sec);
	tk->tk_got = unpack_u32(sec);
	tk->tk_xfer = unpack_u32(sec);
	tk->tk_waiting = unpack_u8(sec);
	tk->tk_unsol = unpack_u32(sec);
	tk->tk_unsol_off = unpack_u32(sec);
	tk->tk_unsol_sn = unpack_u32(sec);
	tk->tk_unsol_open = unpack_u8(sec);
	tk->tk_gap_off = unpack_u32(sec);
	tk->tk_gap_end = unpack_u32(sec);
	tk->tk_r2t_off = unpack_u32(sec);
	tk->tk_r2tsn = unpack_u32(sec);
	tk->tk_r2t_out = unpack_u32(sec);
	for (i = 0; i < ISCSI_MAX_R2T; i++) {
		tk->tk_r2t[i].r_ttt = unpack_u32(sec);
		tk->tk_r2t[i].r_off = unpack_u32(sec);
		tk->tk_r2t[i].r_len = unpack_u32(sec);
		tk->tk_r2t[i].r_got = unpack_u32(sec);
		tk->tk_r2t[i].r_datasn = unpack_u32(sec);
	}
	buf = unpack_blob(sec, &len);
	if (sec->pk_err || sec->pk_short || dataout_find(c, tk->tk_itt) ||
	    !dataout_task_sane(c, tk, len) || dataout_addr_get(c) == -1 ||
	    (len > 0 && (tk->tk_buf = buf_get(len)) == NULL)) {
		buf_put(tk);
		return -1;
	}
	memcpy(tk->tk_buf, buf, len);
	tk->tk_bufcap = (uint32_t)len;
	dataout_charge(c, tk->tk_bufcap);
	dataout_keep(c, tk);	/* its time limits start again here */
	if (tk->tk_waiting)
		event_active(c->c_w->w_grantev, 0, 0);
	return 0;
}
