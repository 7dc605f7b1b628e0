/*
 * The worker's side of the coordinator rings.  Requests go out on the
 * slot's request ring; answers come back as an event on the slot's
 * eventfd, so the loop never blocks.  A full ring pushes back: the
 * request waits in a local queue and is retried when answers drain.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "bytes.h"
#include "cowmap.h"
#include "hash.h"
#include "iscsi.h"
#include "log.h"
#include "shmq.h"

struct ipc_req {
	TAILQ_ENTRY(ipc_req)	 r_entry;
	struct shmq_msg		 r_msg;
	ipc_cb			 r_cb;
	void			*r_arg;
	int			 r_sent;
};

TAILQ_HEAD(ipc_reqs, ipc_req);

struct ipc {
	struct worker		*i_w;
	struct event		*i_ev;
	struct ipc_reqs		 i_reqs;	/* sent or waiting, in order */
	uint64_t		 i_nextid;
};

static void
ipc_flush(struct ipc *ipc)
{
	struct worker	*w = ipc->i_w;
	struct ipc_req	*r;
	int		 pushed = 0;

	TAILQ_FOREACH(r, &ipc->i_reqs, r_entry) {
		if (r->r_sent)
			continue;
		if (shmq_request_push(w->w_region, w->w_slot, &r->r_msg) != 0)
			break;
		r->r_sent = 1;
		pushed = 1;
	}
	if (pushed)
		shmq_doorbell_ring(w->w_region);
}

static void
ipc_answer(struct ipc *ipc, const struct shmq_msg *m)
{
	struct ipc_req	*r;

	if (m->m_type == SHMQ_SESSION_KICK && m->m_len >= 8) {
		conn_kick(ipc->i_w, be64dec(m->m_data), m->m_len > 8 &&
		    m->m_data[8] == SHMQ_KICK_TARGET_RESET ?
		    "target cold reset by another session" :
		    "session reinstated by a new login");
		return;
	}
	TAILQ_FOREACH(r, &ipc->i_reqs, r_entry)
		if (r->r_sent && r->r_msg.m_id == m->m_id)
			break;
	if (r == NULL) {
		log_debug("%s: stray answer %llu", __func__,
		    (unsigned long long)m->m_id);
		return;
	}
	TAILQ_REMOVE(&ipc->i_reqs, r, r_entry);
	if (r->r_cb != NULL)
		r->r_cb(ipc->i_w, m, r->r_arg);
	free(r);
}

static void
ipc_readable(evutil_socket_t fd, short ev, void *arg)
{
	struct ipc	*ipc = arg;
	struct worker	*w = ipc->i_w;
	struct shmq_msg	 m;

	(void)fd;
	(void)ev;
	shmq_worker_clear(w->w_region, w->w_slot);
	while (shmq_response_pop(w->w_region, w->w_slot, &m) == 1)
		ipc_answer(ipc, &m);
	ipc_flush(ipc);
}

int
ipc_request(struct worker *w, struct shmq_msg *m, ipc_cb cb, void *arg)
{
	struct ipc	*ipc = w->w_ipc;
	struct ipc_req	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	m->m_id = ++ipc->i_nextid;
	r->r_msg = *m;
	r->r_cb = cb;
	r->r_arg = arg;
	TAILQ_INSERT_TAIL(&ipc->i_reqs, r, r_entry);
	ipc_flush(ipc);
	return 0;
}

/* Forget the callbacks that point at arg (a connection going away). */
void
ipc_cancel(struct worker *w, void *arg)
{
	struct ipc_req	*r;

	if (w->w_ipc == NULL)
		return;
	TAILQ_FOREACH(r, &w->w_ipc->i_reqs, r_entry)
		if (r->r_arg == arg)
			r->r_cb = NULL;
}

static void
ipc_pong(struct worker *w, const struct shmq_msg *m, void *arg)
{
	(void)w;
	(void)arg;
	log_debug("coordinator answered %s", shmq_type_name(m->m_type));
}

int
ipc_start(struct worker *w)
{
	struct ipc	*ipc;
	struct shmq_msg	 m;

	if ((ipc = calloc(1, sizeof(*ipc))) == NULL)
		return -1;
	ipc->i_w = w;
	TAILQ_INIT(&ipc->i_reqs);
	ipc->i_ev = event_new(w->w_base, shmq_worker_fd(w->w_region,
	    w->w_slot), EV_READ | EV_PERSIST, ipc_readable, ipc);
	if (ipc->i_ev == NULL || event_add(ipc->i_ev, NULL) == -1) {
		free(ipc);
		return -1;
	}
	w->w_ipc = ipc;
	memset(&m, 0, sizeof(m));
	m.m_type = SHMQ_PING;
	return ipc_request(w, &m, ipc_pong, NULL);
}

/*
 * A target that authenticates nobody: its sessions are told apart by
 * source address too, so that a stranger's login with someone else's
 * names never reinstates (ends) their session.
 */
static int
ipc_session_byaddr(const struct conn *c)
{
	const struct target *t = c->c_target;

	return t == NULL || t->tg_cfg == NULL ||
	    t->tg_cfg->tg_chap_user[0] == '\0';
}

/*
 * Tell the coordinator a session started (reinstating any twin) or
 * ended (SHMQ_SESSION_START or _END), or that it asked for a TARGET COLD
 * RESET (SHMQ_TARGET_RESET).
 */
void
ipc_session(struct conn *c, uint32_t type)
{
	const struct login *l = &c->c_login;
	struct shmq_session ss;
	struct shmq_msg	 m;

	memset(&ss, 0, sizeof(ss));
	ss.ss_conn = c->c_id;
	ss.ss_slot = (uint32_t)c->c_w->w_slot;
	ss.ss_byaddr = (uint8_t)ipc_session_byaddr(c);
	memcpy(ss.ss_isid, l->l_isid, sizeof(ss.ss_isid));
	memcpy(ss.ss_addr, c->c_addr, sizeof(ss.ss_addr));
	snprintf(ss.ss_initiator, sizeof(ss.ss_initiator), "%s",
	    l->l_initiator);
	snprintf(ss.ss_target, sizeof(ss.ss_target), "%s", l->l_target);
	memset(&m, 0, sizeof(m));
	if (shmq_session_enc(&m, type, &ss) != 0 ||
	    ipc_request(c->c_w, &m, NULL, NULL) != 0)
		log_warnx("%s: cannot reach the coordinator", __func__);
}

/*
 * Tell the coordinator about a shared LU's map file, so that it keeps its
 * runs in LMDB and can rebuild the file from them.
 */
uint64_t
ipc_map_register(struct worker *w, struct lu_cow *cw, const char *name)
{
	struct shmq_msg	 m;
	size_t		 n = strlen(name);
	uint64_t	 id;

	id = fnv1a(FNV1A_INIT, name, n) & ~COWMAP_ZLU;
	if (n > SHMQ_DATA_MAX - 16) {
		log_warnx("%s: %s: name too long", __func__, name);
		return id;
	}
	memset(&m, 0, sizeof(m));
	m.m_type = SHMQ_MAP_REGISTER;
	be64enc(m.m_data, id);
	be64enc(m.m_data + 8, cw->cw_nblocks);
	memcpy(m.m_data + 16, name, n);
	m.m_len = (uint32_t)(16 + n);
	if (ipc_request(w, &m, NULL, NULL) != 0)
		log_warnx("%s: cannot reach the coordinator", __func__);
	return id;
}
