/*
 * Connections handed live from one worker to another: how a rolling
 * restart (SIGUSR2, SIGHUP, a new binary) replaces every worker without
 * an initiator seeing a logout, a second login or an error.
 *
 * The old worker, told by the master (PROC_TAG_HANDOFF), stops reading
 * each plain-TCP connection in full feature phase at a PDU boundary,
 * waits for the answers the coordinator still owes it (the commits of
 * commands already run), and writes what the connection is into a
 * record (common/pack.h): the session's identity and negotiated
 * parameters, sequence numbers, the receive state and the bytes read
 * but not yet a PDU, the bytes queued but not yet sent, the writes
 * waiting for Data-Out with their buffers, the nexus's view of each LU
 * (unit attentions, mode pages, reservations), and a :multi session's
 * LUN map (which image each LUN is, whatever the new catalog says).  It passes the socket
 * and the record (a memfd) to the master (PROC_HANDOFF_CONN), which
 * gives both to a new worker (PROC_TAG_ADOPT); the old one forgets the
 * connection without ending its session.  The new worker builds the
 * connection from the record, attaches its LUs (an anonymous overlay is
 * reopened from its files, which outlive any worker), registers the
 * session in its own slot and goes on reading where the old one stopped.
 *
 * TLS connections are not handed over (no kernel TLS here to carry the
 * cipher state): their old worker keeps serving them until they end.
 * A connection still logging in is handed over once its login ends; one
 * whose hand-over fails stays where it is, served as before.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "bufpool.h"
#include "fdpass.h"
#include "iscsi.h"
#include "log.h"
#include "pack.h"
#include "pr.h"
#include "proc.h"
#include "shmq.h"

#define HANDOFF_MAGIC		"SPUBCONN"
#define HANDOFF_MAJOR		1
#define HANDOFF_MINOR		3	/* 1: CONN's login time; 2: the data
					   segment read so far; 3: LUNMAP and
					   the id the old worker gave it */
#define HANDOFF_RETRY_MS	10	/* the master's socket was full */
#define HANDOFF_MAX_RECORD	(1024UL * 1024 * 1024)

/* The sections of a record; numbers never reused. */
enum handoff_tag {
	HO_CONN = 1,	/* transport: sequence numbers, receive state */
	HO_LOGIN,	/* the session's identity, negotiated parameters */
	HO_TEXT,	/* a SendTargets answer not all sent */
	HO_LUN,		/* the nexus's view of one LU */
	HO_COPYRES,	/* EXTENDED COPY results */
	HO_TASK,	/* a write waiting for Data-Out (dataout_save) */
	HO_RX,		/* bytes read, not yet a whole PDU */
	HO_TX,		/* bytes queued, not yet sent */
	HO_LUNMAP,	/* :multi: each LUN's image (since 1.3) */
};

/* ---- Writing the record ---- */

static void
handoff_save_conn(struct conn *c, struct pack *pk)
{
	size_t	 m = pack_section(pk, HO_CONN);

	pack_u32(pk, (uint32_t)c->c_kind);
	pack_u64(pk, c->c_moving_since);
	pack_u32(pk, (uint32_t)getpid());
	pack_u32(pk, (uint32_t)c->c_type);
	pack_u32(pk, c->c_statsn);
	pack_u32(pk, c->c_expcmdsn);
	pack_u32(pk, c->c_next_ttt);
	pack_u32(pk, c->c_nopin_ttt);
	pack_u32(pk, (uint32_t)c->c_rxstate);
	pack_bytes(pk, c->c_bhs, ISCSI_BHS_LEN);
	pack_u32(pk, c->c_ahslen);
	pack_u32(pk, c->c_dlen);
	pack_u32(pk, c->c_dpad);
	pack_u64(pk, c->c_login_ns);
	/* a data segment half received: the part read, no longer in RX */
	pack_blob(pk, c->c_rxstate == RX_REST ? c->c_data : NULL,
	    c->c_rxstate == RX_REST ? c->c_dgot : 0);
	pack_u64(pk, c->c_id);
	pack_section_end(pk, m);
}

static void
handoff_save_login(struct conn *c, struct pack *pk)
{
	const struct login	*l = &c->c_login;
	const struct iscsi_params *p = &c->c_p;
	size_t			 m = pack_section(pk, HO_LOGIN);

	pack_str(pk, l->l_initiator);
	pack_str(pk, l->l_initiator_alias);
	pack_str(pk, l->l_target);
	pack_bytes(pk, l->l_isid, sizeof(l->l_isid));
	pack_u16(pk, l->l_tsih);
	pack_u16(pk, l->l_cid);
	pack_u32(pk, p->ip_mrdsl_ini);
	pack_u32(pk, p->ip_mrdsl_tgt);
	pack_u32(pk, p->ip_max_burst);
	pack_u32(pk, p->ip_first_burst);
	pack_u32(pk, p->ip_max_r2t);
	pack_u32(pk, p->ip_time2wait);
	pack_u32(pk, p->ip_time2retain);
	pack_u8(pk, (uint8_t)p->ip_immediate_data);
	pack_u8(pk, (uint8_t)p->ip_initial_r2t);
	pack_u8(pk, (uint8_t)p->ip_header_digest);
	pack_u8(pk, (uint8_t)p->ip_data_digest);
	pack_u8(pk, (uint8_t)p->ip_erl);
	pack_u8(pk, (uint8_t)p->ip_data_pdu_in_order);
	pack_u8(pk, (uint8_t)p->ip_data_seq_in_order);
	pack_section_end(pk, m);
}

static void
handoff_save_text(struct conn *c, struct pack *pk)
{
	const struct login	*l = &c->c_login;
	size_t			 m;

	if (l->l_tx == NULL)
		return;
	m = pack_section(pk, HO_TEXT);
	pack_blob(pk, l->l_tx, l->l_txlen);
	pack_u64(pk, l->l_txoff);
	pack_section_end(pk, m);
}

static void
handoff_save_luns(struct conn *c, struct pack *pk)
{
	struct scsi_nexus	*n = c->c_nexus;
	struct scsi_lunex	*ln;
	struct pr_state		 st;
	size_t			 m;
	int			 i;

	for (i = 0; n != NULL && i < n->n_nlun; i++) {
		if (n->n_lu[i] == NULL)
			continue;
		ln = &n->n_lunex[i];
		m = pack_section(pk, HO_LUN);
		pack_u32(pk, (uint32_t)i);
		pack_u32(pk, ln->ln_ua);
		pack_u32(pk, ln->ln_reset_seen);
		pack_u32(pk, ln->ln_prseq);
		pack_u8(pk, ln->ln_prtype);
		pack_u8(pk, ln->ln_prflags);
		pack_u8(pk, ln->ln_mode.md_wce);
		pack_u8(pk, ln->ln_mode.md_dsense);
		pack_u8(pk, ln->ln_mode.md_swp);
		pack_u8(pk, ln->ln_mode.md_tst);
		/* a private LU's reservations live in this worker only */
		if (n->n_lu[i]->lu_pr_anon && n->n_lu[i]->lu_pr != NULL) {
			pr_lu_snapshot(n->n_lu[i]->lu_pr, &st);
			pack_blob(pk, &st, sizeof(st));
		} else
			pack_blob(pk, NULL, 0);
		pack_section_end(pk, m);
	}
}

/*
 * A :multi session's LUN map: each LUN's image and whether it was
 * served here, so that the new worker, whatever its catalog, gives
 * each LUN the same image (target.c).
 */
static void
handoff_save_lunmap(struct conn *c, struct pack *pk)
{
	size_t	 m;
	int	 i;

	if (c->c_lumap == NULL)
		return;
	m = pack_section(pk, HO_LUNMAP);
	pack_u32(pk, (uint32_t)c->c_nlumap);
	for (i = 0; i < c->c_nlumap; i++) {
		pack_str(pk, c->c_lumap[i].lm_image);
		pack_u8(pk, i < c->c_nlus && c->c_lus[i] != NULL);
	}
	pack_section_end(pk, m);
}

static void
handoff_save_copyres(struct conn *c, struct pack *pk)
{
	const struct scsi_copyres *cr;
	size_t			 m;
	int			 i;

	if (c->c_nexus == NULL)
		return;
	m = pack_section(pk, HO_COPYRES);
	pack_u32(pk, (uint32_t)c->c_nexus->n_copynext);
	for (i = 0; i < SCSI_COPYRES_MAX; i++) {
		cr = &c->c_nexus->n_copyres[i];
		pack_u8(pk, cr->cr_valid);
		pack_u8(pk, cr->cr_listid);
		pack_u8(pk, cr->cr_status);
		pack_u16(pk, cr->cr_segs);
		pack_u64(pk, cr->cr_bytes);
	}
	pack_section_end(pk, m);
}

/* The bytes of an evbuffer, copied (its front may be frozen). */
static void
handoff_save_bytes(struct pack *pk, uint16_t tag, struct evbuffer *b)
{
	size_t	 n = evbuffer_get_length(b), m;
	uint8_t	*p;

	if (n == 0)
		return;
	if ((p = malloc(n)) == NULL) {
		pk->pk_err = ENOMEM;
		return;
	}
	evbuffer_copyout(b, p, n);
	m = pack_section(pk, tag);
	pack_blob(pk, p, n);
	pack_section_end(pk, m);
	free(p);
}

static int
handoff_save(struct conn *c, struct pack *pk)
{
	pack_init(pk, HANDOFF_MAGIC, HANDOFF_MAJOR, HANDOFF_MINOR);
	handoff_save_conn(c, pk);
	handoff_save_login(c, pk);
	handoff_save_text(c, pk);
	handoff_save_luns(c, pk);
	handoff_save_lunmap(c, pk);
	handoff_save_copyres(c, pk);
	dataout_save(c, pk, HO_TASK);
	handoff_save_bytes(pk, HO_RX, bufferevent_get_input(c->c_bev));
	handoff_save_bytes(pk, HO_TX, bufferevent_get_output(c->c_bev));
	return pk->pk_err ? -1 : 0;
}

/* ---- The old worker ---- */

/* Serving it here again: the hand-over did not happen. */
static void
handoff_stay(struct conn *c, const char *why)
{
	log_warnx("%s: connection %llu (%s) stays on this worker: %s",
	    __func__, (unsigned long long)c->c_id, c->c_peer, why);
	c->c_moving = 0;
	c->c_nomove = 1;
	bufferevent_enable(c->c_bev, EV_READ);
	bufferevent_trigger(c->c_bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS |
	    BEV_TRIG_DEFER_CALLBACKS);
}

/*
 * Send one quiet connection to the master: 0 (gone from here), 1 (the
 * master's socket is full: try again), -1 (it stays here).
 */
static int
handoff_send(struct conn *c)
{
	struct worker		*w = c->c_w;
	struct proc_ctlmsg	 msg = { PROC_HANDOFF_CONN, c->c_mid };
	struct pack		 pk;
	int			 fds[3], nfds = 2, rv;

	if (handoff_save(c, &pk) == -1 ||
	    (fds[1] = pack_memfd(&pk, "scsipub-conn", MFD_CLOEXEC)) == -1) {
		pack_free(&pk);
		handoff_stay(c, "cannot write its state");
		return -1;
	}
	fds[0] = c->c_fd;
	/*
	 * An anonymous overlay's lock goes along (it is the open file's):
	 * held without a gap until the new worker holds it too.
	 */
	if (c->c_anon != NULL && c->c_quota_acct.q_shared != NULL)
		fds[nfds++] = c->c_quota_acct.q_fd;
	rv = fdpass_sendv(w->w_ctl, &msg, sizeof(msg), fds, nfds);
	close(fds[1]);
	if (rv == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == ENOBUFS)) {
		pack_free(&pk);
		return 1;
	}
	if (rv == -1) {
		pack_free(&pk);
		handoff_stay(c, strerror(errno));
		return -1;
	}
	log_debug("%s: connection %llu (%s): %zu bytes of state",
	    __func__, (unsigned long long)c->c_id, c->c_peer, pk.pk_len);
	pack_free(&pk);
	w->w_handedover++;
	conn_release(c, 1);
	return 0;
}

/*
 * Send every connection that is quiet: marked, and owed nothing by the
 * coordinator.  Run at the end of a pass of the loop, never inside a
 * connection's callbacks.
 */
static void
handoff_run(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;
	struct conn	*c, *next;
	struct timeval	 tv = { 0, HANDOFF_RETRY_MS * 1000 };

	(void)fd;
	(void)ev;
	TAILQ_FOREACH_SAFE(c, &w->w_conns, c_entry, next) {
		if (!c->c_moving || !TAILQ_EMPTY(&c->c_defers))
			continue;
		if (handoff_send(c) == 1) {
			event_add(w->w_handoffev, &tv);
			return;
		}
	}
	if (w->w_handedover > 0 && w->w_nconns == 0)
		log_info("%u connections handed over", w->w_handedover);
}

/*
 * A connection that may go: plain TCP, in full feature phase, on a
 * worker told to hand its connections over.  It stops reading now (at
 * a PDU boundary: this runs between PDUs) and goes once quiet.
 */
void
handoff_mark(struct conn *c)
{
	struct worker	*w = c->c_w;

	if (!w->w_handoff || c->c_moving || c->c_nomove ||
	    c->c_kind != LISTEN_ISCSI || c->c_state != CONN_FFP)
		return;
	c->c_moving = 1;
	c->c_moving_since = iscsi_now_ns();
	bufferevent_disable(c->c_bev, EV_READ);
	if (w->w_handoffev != NULL)
		event_active(w->w_handoffev, 0, 0);
}

/* The coordinator answered a command of c: it may be quiet now. */
void
handoff_defer_done(struct conn *c)
{
	if (c->c_moving && TAILQ_EMPTY(&c->c_defers))
		event_active(c->c_w->w_handoffev, 0, 0);
}

/*
 * The master says: hand over every connection that can go.  The worker
 * takes no more connections and no API requests; it exits once the
 * connections it keeps (TLS) have ended.
 */
void
handoff_start(struct worker *w)
{
	struct conn	*c, *next;
	int		 tls = 0;

	if (w->w_handoff)
		return;
	TAILQ_FOREACH(c, &w->w_conns, c_entry)
		tls += c->c_kind == LISTEN_ISCSI_TLS;
	log_info("handing %d connections over to the new workers; %d over "
	    "TLS stay here until they end", w->w_nconns - tls, tls);
	w->w_handoff = 1;
	w->w_draining = 1;
	if ((w->w_handoffev = event_new(w->w_base, -1, 0, handoff_run,
	    w)) == NULL) {
		log_warnx("%s: cannot hand connections over", __func__);
		return;
	}
	TAILQ_FOREACH_SAFE(c, &w->w_conns, c_entry, next)
		handoff_mark(c);
	if (w->w_nconns == 0)
		event_base_loopexit(w->w_base, NULL);
}

/* ---- The new worker ---- */

/* What a record's CONN section says of the receive state's data. */
struct handoff_rx {
	const uint8_t	*hr_part;	/* the data segment read so far */
	size_t		 hr_len;
};

static int
handoff_load_conn(struct conn *c, struct pack *s, uint64_t *since,
    uint32_t *pid, struct handoff_rx *rx)
{
	const uint8_t	*got;
	size_t		 n;

	if (unpack_u32(s) != LISTEN_ISCSI)
		return -1;
	*since = unpack_u64(s);
	*pid = unpack_u32(s);
	c->c_type = unpack_u32(s) == LOGIN_SESSION_DISCOVERY ?
	    LOGIN_SESSION_DISCOVERY : LOGIN_SESSION_NORMAL;
	c->c_statsn = unpack_u32(s);
	c->c_expcmdsn = unpack_u32(s);
	c->c_next_ttt = unpack_u32(s);
	c->c_nopin_ttt = unpack_u32(s);
	c->c_rxstate = unpack_u32(s) == RX_REST ? RX_REST : RX_BHS;
	unpack_bytes(s, c->c_bhs, ISCSI_BHS_LEN);
	c->c_ahslen = unpack_u32(s);
	c->c_dlen = unpack_u32(s);
	c->c_dpad = unpack_u32(s);
	if (s->pk_err || s->pk_short)
		return -1;
	/* since record 1.1; an older one's session is as old as can be */
	c->c_login_ns = unpack_u64(s);
	/* since 1.2: what of the data segment was read */
	got = unpack_blob(s, &n);
	if (s->pk_err)
		return -1;
	rx->hr_part = got;
	rx->hr_len = n;
	/* since 1.3: its id here, which registries know it by (0 before) */
	c->c_prev_id = unpack_u64(s);
	return s->pk_err ? -1 : 0;
}

static int
handoff_load_login(struct conn *c, struct pack *s)
{
	struct login		*l = &c->c_login;
	struct iscsi_params	*p = &c->c_p;

	unpack_str(s, l->l_initiator, sizeof(l->l_initiator));
	unpack_str(s, l->l_initiator_alias, sizeof(l->l_initiator_alias));
	unpack_str(s, l->l_target, sizeof(l->l_target));
	unpack_bytes(s, l->l_isid, sizeof(l->l_isid));
	l->l_tsih = unpack_u16(s);
	l->l_cid = unpack_u16(s);
	p->ip_mrdsl_ini = unpack_u32(s);
	p->ip_mrdsl_tgt = unpack_u32(s);
	p->ip_max_burst = unpack_u32(s);
	p->ip_first_burst = unpack_u32(s);
	p->ip_max_r2t = unpack_u32(s);
	p->ip_time2wait = unpack_u32(s);
	p->ip_time2retain = unpack_u32(s);
	p->ip_immediate_data = unpack_u8(s);
	p->ip_initial_r2t = unpack_u8(s);
	p->ip_header_digest = unpack_u8(s);
	p->ip_data_digest = unpack_u8(s);
	p->ip_erl = unpack_u8(s);
	p->ip_data_pdu_in_order = unpack_u8(s);
	p->ip_data_seq_in_order = unpack_u8(s);
	l->l_type = c->c_type;
	if (s->pk_err || s->pk_short || p->ip_mrdsl_tgt > ISCSI_OUR_MRDSL ||
	    p->ip_max_burst > ISCSI_MAX_BURST ||
	    p->ip_first_burst > p->ip_max_burst)
		return -1;
	return 0;
}

static int
handoff_load_text(struct conn *c, struct pack *s)
{
	struct login	*l = &c->c_login;
	const uint8_t	*b;
	size_t		 n;
	uint64_t	 off;

	b = unpack_blob(s, &n);
	off = unpack_u64(s);
	if (s->pk_err || s->pk_short || n == 0 || off > n ||
	    (l->l_tx = malloc(n)) == NULL)
		return -1;
	memcpy(l->l_tx, b, n);
	l->l_txlen = n;
	l->l_txoff = (size_t)off;
	return 0;
}

static int
handoff_load_lun(struct conn *c, struct pack *s)
{
	struct scsi_nexus	*n = c->c_nexus;
	struct scsi_lunex	*ln;
	const uint8_t		*st;
	uint32_t		 lun = unpack_u32(s);
	size_t			 len;
	int			 swp;

	if (n == NULL || lun >= (uint32_t)n->n_cap || n->n_lu[lun] == NULL)
		return 0;	/* an LU no longer here: the nexus lost it */
	ln = &n->n_lunex[lun];
	ln->ln_ua |= unpack_u32(s);
	ln->ln_reset_seen = unpack_u32(s);
	ln->ln_prseq = unpack_u32(s);
	ln->ln_prtype = unpack_u8(s);
	ln->ln_prflags = unpack_u8(s);
	ln->ln_mode.md_wce = unpack_u8(s) != 0;
	ln->ln_mode.md_dsense = unpack_u8(s) != 0;
	swp = unpack_u8(s) != 0;	/* counted by the LU: set, not copied */
	ln->ln_mode.md_tst = unpack_u8(s) & 0x7;
	st = unpack_blob(s, &len);
	if (s->pk_err)
		return -1;
	scsi_lunex_swp(ln, swp);
	if (len > 0) {
		if (pr_anon_load(n->n_lu[lun], st, len) == -1)
			return -1;
		ln->ln_prseq = 0;	/* another copy: look again */
	}
	return 0;
}

/* The LUN map, before the LUs are attached; its names are checked. */
static int
handoff_load_lunmap(struct conn *c, struct pack *s)
{
	struct lumap	*lm;
	uint32_t	 n = unpack_u32(s), i;

	if (s->pk_short || n > SCSI_MAX_LUNS || c->c_lumap != NULL ||
	    (c->c_lumap = calloc(n > 0 ? n : 1, sizeof(*lm))) == NULL)
		return -1;
	c->c_nlumap = (int)n;
	for (i = 0; i < n; i++) {
		lm = &c->c_lumap[i];
		unpack_str(s, lm->lm_image, sizeof(lm->lm_image));
		lm->lm_served = unpack_u8(s) != 0;
		if (s->pk_err || s->pk_short || (lm->lm_image[0] != '\0' &&
		    !config_image_name_ok(lm->lm_image)))
			return -1;
	}
	return 0;
}

static int
handoff_load_copyres(struct conn *c, struct pack *s)
{
	struct scsi_copyres *cr;
	int		 i;

	if (c->c_nexus == NULL)
		return 0;
	c->c_nexus->n_copynext = (int)(unpack_u32(s) % SCSI_COPYRES_MAX);
	for (i = 0; i < SCSI_COPYRES_MAX; i++) {
		cr = &c->c_nexus->n_copyres[i];
		cr->cr_valid = unpack_u8(s);
		cr->cr_listid = unpack_u8(s);
		cr->cr_status = unpack_u8(s);
		cr->cr_segs = unpack_u16(s);
		cr->cr_bytes = unpack_u64(s);
	}
	return s->pk_err ? -1 : 0;
}

/* The PDU it was in the middle of receiving: its data buffer. */
static int
handoff_load_rx(struct conn *c, const struct handoff_rx *rx)
{
	if (c->c_rxstate != RX_REST)
		return rx->hr_len == 0 ? 0 : -1;
	if (c->c_ahslen > 255 * 4 || c->c_dlen > c->c_p.ip_mrdsl_tgt ||
	    c->c_dpad != ((c->c_dlen + 3) & ~3U) || rx->hr_len > c->c_dpad)
		return -1;
	if ((c->c_data = conn_data_get(c->c_dpad)) == NULL)
		return -1;
	if (rx->hr_len > 0)
		memcpy(c->c_data, rx->hr_part, rx->hr_len);
	c->c_dgot = (uint32_t)rx->hr_len;
	return 0;
}

/*
 * Bytes back into an evbuffer: at its end, which the socket bufferevent
 * keeps frozen on its input (only it reads into it) for this moment.
 */
static int
handoff_load_bytes(struct evbuffer *b, struct pack *s, int input)
{
	const uint8_t	*p;
	size_t		 n;
	int		 rv;

	p = unpack_blob(s, &n);
	if (s->pk_err)
		return -1;
	if (n == 0)
		return 0;
	if (input)
		evbuffer_unfreeze(b, 0);
	rv = evbuffer_add(b, p, n);
	if (input)
		evbuffer_freeze(b, 0);
	return rv;
}

/* First the connection and its session, before its LUs exist. */
static int
handoff_load_session(struct conn *c, const uint8_t *rec, size_t len,
    uint64_t *since, uint32_t *pid)
{
	struct handoff_rx rx = { NULL, 0 };
	struct pack	 pk, s;
	uint16_t	 minor, tag;
	int		 r, seen = 0;

	if (unpack_init(&pk, rec, len, HANDOFF_MAGIC, HANDOFF_MAJOR,
	    &minor) == -1)
		return -1;
	while ((r = unpack_section(&pk, &tag, &s)) == 1) {
		switch (tag) {
		case HO_CONN:
			r = handoff_load_conn(c, &s, since, pid, &rx);
			seen |= 1;
			break;
		case HO_LOGIN:
			r = handoff_load_login(c, &s);
			seen |= 2;
			break;
		case HO_TEXT:
			r = handoff_load_text(c, &s);
			break;
		case HO_LUNMAP:
			r = handoff_load_lunmap(c, &s);
			break;
		default:
			r = 0;
			break;
		}
		if (r == -1)
			return -1;
	}
	return r == 0 && seen == 3 ? handoff_load_rx(c, &rx) : -1;
}

/* Then what hangs off it: the LUs' state, the tasks, the bytes. */
static int
handoff_load_rest(struct conn *c, const uint8_t *rec, size_t len)
{
	struct pack	 pk, s;
	uint16_t	 minor, tag;
	int		 r;

	if (unpack_init(&pk, rec, len, HANDOFF_MAGIC, HANDOFF_MAJOR,
	    &minor) == -1)
		return -1;
	while ((r = unpack_section(&pk, &tag, &s)) == 1) {
		switch (tag) {
		case HO_LUN:
			r = handoff_load_lun(c, &s);
			break;
		case HO_COPYRES:
			r = handoff_load_copyres(c, &s);
			break;
		case HO_TASK:
			r = dataout_restore(c, &s);
			break;
		case HO_RX:
			r = handoff_load_bytes(bufferevent_get_input(c->c_bev),
			    &s, 1);
			break;
		case HO_TX:
			r = handoff_load_bytes(bufferevent_get_output(c->c_bev),
			    &s, 0);
			break;
		default:
			r = 0;
			break;
		}
		if (r == -1) {
			log_debug("%s: section %u refused", __func__, tag);
			return -1;
		}
	}
	return r;
}

/* Its LUs attached and their state in: the session is ours now. */
static void
handoff_resume(struct conn *c)
{
	struct timeval	 now;
	int		 i;

	for (i = 0; c->c_nexus != NULL && i < c->c_nexus->n_nlun; i++)
		if (c->c_nexus->n_lu[i] != NULL)
			pr_nexus_moved(&c->c_nexus->n_lunex[i]);
	if (c->c_type == LOGIN_SESSION_NORMAL) {
		conn_register(c, SHMQ_SESSION_START);
		c->c_registered = 1;
	}
	conn_nopin_arm(c);
	gettimeofday(&now, NULL);
	c->c_nopin_sent = now;
	if (evbuffer_get_length(bufferevent_get_output(c->c_bev)) > 0)
		event_active(c->c_flushev, 0, 0);
	if (evbuffer_get_length(bufferevent_get_input(c->c_bev)) > 0)
		bufferevent_trigger(c->c_bev, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/*
 * A connection another worker handed over (PROC_TAG_ADOPT): its socket,
 * the memfd holding its record, the lock on its anonymous overlay (or
 * -1), the master's id of it.  Resumed where it stopped, or closed when
 * that cannot be (its target is gone, say: an anonymous overlay is kept
 * for the initiator's reconnect then).
 */
void
handoff_adopt(struct worker *w, int sock, int memfd, int held, uint32_t mid)
{
	struct conn	*c;
	const uint8_t	*rec;
	size_t		 len = 0;
	uint64_t	 since = 0;
	uint32_t	 pid = 0;
	const char	*why = NULL;

	rec = unpack_map(memfd, HANDOFF_MAX_RECORD, &len);
	close(memfd);
	if ((c = conn_new(w, sock, LISTEN_ISCSI, mid)) == NULL) {
		if (rec != NULL)
			munmap((void *)(uintptr_t)rec, len);
		if (held != -1)
			close(held);
		return;
	}
	login_init(&c->c_login);
	c->c_state = CONN_FFP;
	c->c_handedover = 1;
	if (rec == NULL)
		why = "no state came with it";
	else if (handoff_load_session(c, rec, len, &since, &pid) == -1)
		why = "its state is not one this build reads";
	else if (c->c_type == LOGIN_SESSION_NORMAL && target_attach(c) == -1)
		why = "its target is gone";
	else if (handoff_load_rest(c, rec, len) == -1)
		why = "its state is not one this build reads";
	if (rec != NULL)
		munmap((void *)(uintptr_t)rec, len);
	if (held != -1)
		close(held);	/* ours is taken by now, or never will be */
	if (why != NULL) {
		log_warnx("connection %llu from %s handed over from another "
		    "worker: closed, %s", (unsigned long long)c->c_id,
		    c->c_peer, why);
		conn_close(c, "hand-over failed");
		return;
	}
	handoff_resume(c);
	log_info("connection %llu from %s (%s to %s) taken over from pid %u "
	    "with %d tasks waiting: paused %.1f ms",
	    (unsigned long long)c->c_id, c->c_peer, c->c_login.l_initiator,
	    c->c_type == LOGIN_SESSION_NORMAL ? c->c_login.l_target :
	    "discovery", pid, c->c_ntasks,
	    since != 0 ? (double)(iscsi_now_ns() - since) / 1e6 : 0.0);
}
