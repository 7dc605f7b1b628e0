/*
 * The worker's side of the coordinator rings.  Requests go out on the
 * slot's request ring; answers come back as an event on the slot's
 * eventfd, so the loop never blocks.  A full ring pushes back: the
 * request waits in a local queue and is retried when room frees (the
 * coordinator writes the eventfd then, answers or not: common/shmq.c).
 */
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "bytes.h"
#include "worker.h"
#include "log.h"
#include "shmq.h"

struct ipc_req {
	TAILQ_ENTRY(ipc_req)	 r_entry;
	struct shmq_msg		 r_msg;
	ipc_cb			 r_cb;
	void			*r_arg;
	int			 r_sent;
};

#define IPC_POST_DELAY_US	1000	/* doorbell of a post: at the latest */

TAILQ_HEAD(ipc_reqs, ipc_req);

struct ipc {
	struct worker		*i_w;
	struct event		*i_ev;
	struct ipc_reqs		 i_reqs;	/* sent or waiting, in order */
	ipc_cb			 i_unasked;	/* messages not answers */
	uint64_t		 i_nextid;
	size_t			 i_nwait;	/* not on the ring yet */
	struct event		*i_bell;	/* rings for posted messages */
	int			 i_posted;	/* pushed, doorbell not rung */
};

/*
 * Push what waits, in order; ring the doorbell for requests now, for
 * posted messages (no answer wanted) a little later, so that a burst of
 * them wakes the coordinator once.
 */
static void
ipc_flush(struct ipc *ipc)
{
	struct worker	*w = ipc->i_w;
	struct ipc_req	*r, *next;
	struct timeval	 tv = { 0, IPC_POST_DELAY_US };
	int		 now = 0, later = 0;

	TAILQ_FOREACH_SAFE(r, &ipc->i_reqs, r_entry, next) {
		if (r->r_sent)
			continue;
		if (shmq_request_push(w->w_region, w->w_slot, &r->r_msg) != 0)
			break;
		r->r_sent = 1;
		ipc->i_nwait--;
		if (r->r_msg.m_status != SHMQ_NOREPLY) {
			now = 1;
			continue;
		}
		later = 1;
		TAILQ_REMOVE(&ipc->i_reqs, r, r_entry);
		free(r);
	}
	if (now) {
		shmq_doorbell_ring(w->w_region);
		ipc->i_posted = 0;
	} else if (later && !ipc->i_posted && ipc->i_bell != NULL) {
		ipc->i_posted = 1;
		evtimer_add(ipc->i_bell, &tv);
	}
}

static void
ipc_bell(evutil_socket_t fd, short ev, void *arg)
{
	struct ipc	*ipc = arg;

	(void)fd;
	(void)ev;
	if (ipc->i_posted) {
		ipc->i_posted = 0;
		shmq_doorbell_ring(ipc->i_w->w_region);
	}
}

static void
ipc_answer(struct ipc *ipc, const struct shmq_msg *m)
{
	struct ipc_req	*r;

	if (m->m_type == SHMQ_SESSION_KICK ||
	    m->m_type == SHMQ_COORD_HELLO) {	/* nobody asked: the layer */
		if (ipc->i_unasked != NULL)
			ipc->i_unasked(ipc->i_w, m, NULL);
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
	if (m->m_status == SHMQ_NOREPLY)
		m->m_status = 0;	/* a request: it is answered */
	m->m_id = ++ipc->i_nextid;
	r->r_msg = *m;
	r->r_cb = cb;
	r->r_arg = arg;
	TAILQ_INSERT_TAIL(&ipc->i_reqs, r, r_entry);
	ipc->i_nwait++;
	ipc_flush(ipc);
	return 0;
}

/*
 * Send m and wait for nothing: the coordinator executes it in order
 * with the requests, answers nothing, and is woken for it within
 * IPC_POST_DELAY_US (at once if a request goes meanwhile).
 */
int
ipc_post(struct worker *w, struct shmq_msg *m)
{
	struct ipc	*ipc = w->w_ipc;
	struct ipc_req	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -ENOMEM;
	m->m_id = ++ipc->i_nextid;
	m->m_status = SHMQ_NOREPLY;
	r->r_msg = *m;
	TAILQ_INSERT_TAIL(&ipc->i_reqs, r, r_entry);
	ipc->i_nwait++;
	ipc_flush(ipc);
	return 0;
}

/*
 * How many messages wait in the worker for room on the ring (each
 * about 560 bytes): what max-coordinator-queue bounds, by refusing new
 * commands that would add to it (worker/store/commit.c commit_room).
 */
size_t
ipc_backlog(const struct worker *w)
{
	return w->w_ipc != NULL ? w->w_ipc->i_nwait : 0;
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

/* Watch the ring; unasked gets what the coordinator sends unasked. */
int
ipc_start(struct worker *w, ipc_cb unasked)
{
	struct ipc	*ipc;
	struct shmq_msg	 m;

	if ((ipc = calloc(1, sizeof(*ipc))) == NULL)
		return -1;
	ipc->i_w = w;
	ipc->i_unasked = unasked;
	TAILQ_INIT(&ipc->i_reqs);
	ipc->i_ev = event_new(w->w_base, shmq_worker_fd(w->w_region,
	    w->w_slot), EV_READ | EV_PERSIST, ipc_readable, ipc);
	if (ipc->i_ev == NULL || event_add(ipc->i_ev, NULL) == -1) {
		free(ipc);
		return -1;
	}
	ipc->i_bell = evtimer_new(w->w_base, ipc_bell, ipc);
	w->w_ipc = ipc;
	memset(&m, 0, sizeof(m));
	m.m_type = SHMQ_PING;
	return ipc_request(w, &m, ipc_pong, NULL);
}

