/*
 * The SANITIZE operations a worker runs, in the background: a timer
 * steps each one through its LU (lu_cow_sanitize_step) at most
 * SANITIZE_RATE bytes a second, so that a sanitize, which may cover a
 * whole disk, never holds the loop and never takes the disk from the
 * LUs of other connections.  At the end the map changes go to the
 * coordinator as a durable commit, the LU's state is left (idle, or
 * failed), and the commands waiting for it (IMMED clear) get their
 * answer.  A worker that dies stops its sanitize; the first worker to
 * meet the LU's state after that goes on with it (worker/store/lu.c).
 */
#include <sys/queue.h>
#include <sys/types.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "lu.h"
#include "scsi.h"
#include "shmq.h"
#include "store.h"

#define SANITIZE_RATE	(8u << 20)	/* bytes of an LU a second */
#define SANITIZE_TICK	125		/* milliseconds */

struct sanitize_waiter {
	TAILQ_ENTRY(sanitize_waiter) sw_entry;
	ipc_cb			 sw_cb;
	void			*sw_arg;
};

struct lu_job {
	LIST_ENTRY(lu_job)	 j_entry;
	struct lu_cow		*j_cw;
	TAILQ_HEAD(, sanitize_waiter) j_waiters;
	int			 j_due;		/* commit answers; -1: running */
	int			 j_err;
};

static LIST_HEAD(, lu_job) san_jobs = LIST_HEAD_INITIALIZER(san_jobs);
static struct worker	*san_w;
static struct event	*san_ev;

static void	san_tick(evutil_socket_t, short, void *);

int
sanitize_init(struct worker *w)
{
	san_w = w;
	if ((san_ev = evtimer_new(w->w_base, san_tick, NULL)) == NULL)
		return -1;
	return 0;
}

static void
san_arm(void)
{
	struct timeval	 tv = { 0, SANITIZE_TICK * 1000 };

	if (san_ev != NULL && !evtimer_pending(san_ev, NULL))
		evtimer_add(san_ev, &tv);
}

/* A sanitize of cw this process now runs (lu.c holds its lock). */
int
sanitize_start(struct lu_cow *cw)
{
	struct lu_job	*j;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -ENOMEM;
	j->j_cw = cw;
	j->j_due = -1;
	TAILQ_INIT(&j->j_waiters);
	LIST_INSERT_HEAD(&san_jobs, j, j_entry);
	cw->cw_job = j;
	san_arm();
	return 0;
}

static void
san_free(struct lu_job *j)
{
	struct sanitize_waiter *sw;

	while ((sw = TAILQ_FIRST(&j->j_waiters)) != NULL) {
		TAILQ_REMOVE(&j->j_waiters, sw, sw_entry);
		free(sw);
	}
	LIST_REMOVE(j, j_entry);
	j->j_cw->cw_job = NULL;
	free(j);
}

/* The state left, and every command waiting answered with the outcome. */
static void
san_done(struct lu_job *j)
{
	struct sanitize_waiter *sw;
	struct shmq_msg	 m;

	lu_cow_sanitize_end(j->j_cw, j->j_err);
	if (j->j_err != 0)
		log_warnx("%s: a sanitize failed: %s", __func__,
		    strerror(j->j_err));
	memset(&m, 0, sizeof(m));
	m.m_status = (uint32_t)j->j_err;
	LIST_REMOVE(j, j_entry);
	j->j_cw->cw_job = NULL;
	while ((sw = TAILQ_FIRST(&j->j_waiters)) != NULL) {
		TAILQ_REMOVE(&j->j_waiters, sw, sw_entry);
		sw->sw_cb(san_w, &m, sw->sw_arg);
		free(sw);
	}
	free(j);
}

static void
san_committed(struct worker *w, const struct shmq_msg *m, void *arg)
{
	struct lu_job	*j = arg;

	(void)w;
	if (m->m_status != 0 && j->j_err == 0)
		j->j_err = (int)m->m_status;
	if (--j->j_due <= 0)
		san_done(j);
}

/* Its data and map durable, in LMDB too, before it is said to be over. */
static void
san_end(struct lu_job *j, int err)
{
	struct scsi_task t;
	struct lu_cow	*cw = j->j_cw;
	int		 due = 0, r;

	j->j_err = err;
	if (err == 0 && (r = lu_cow_ops.so_sync(cw)) != 0)
		j->j_err = -r;
	memset(&t, 0, sizeof(t));
	t.t_cmdflags = SCSI_CMD_SYNC;
	j->j_due = 0;
	if (san_w == NULL || commit_send(san_w, &cw, 1, &t, san_committed,
	    j, &due) == -1)
		j->j_err = j->j_err != 0 ? j->j_err : EIO;
	j->j_due = due;
	if (due == 0)
		san_done(j);
}

static void
san_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct lu_job	*j, *next;
	int		 r, running = 0;

	(void)fd;
	(void)ev;
	(void)arg;
	for (j = LIST_FIRST(&san_jobs); j != NULL; j = next) {
		next = LIST_NEXT(j, j_entry);
		if (j->j_due >= 0)
			continue;		/* over, being committed */
		r = lu_cow_sanitize_step(j->j_cw,
		    (uint64_t)SANITIZE_RATE * SANITIZE_TICK / 1000);
		if (r > 0)
			running = 1;
		else
			san_end(j, -r);
	}
	if (running)
		san_arm();
}

/*
 * A command (IMMED clear) waits for the sanitize of cw this worker
 * runs: cb(arg) gets its outcome.  0: none runs here.
 */
int
sanitize_wait(struct lu_cow *cw, ipc_cb cb, void *arg)
{
	struct sanitize_waiter *sw;

	if (cw->cw_job == NULL || (sw = calloc(1, sizeof(*sw))) == NULL)
		return 0;
	sw->sw_cb = cb;
	sw->sw_arg = arg;
	TAILQ_INSERT_TAIL(&cw->cw_job->j_waiters, sw, sw_entry);
	return 1;
}

/* The waiter with arg went away (its connection closed). */
void
sanitize_cancel(void *arg)
{
	struct sanitize_waiter *sw, *next;
	struct lu_job	*j;

	LIST_FOREACH(j, &san_jobs, j_entry) {
		for (sw = TAILQ_FIRST(&j->j_waiters); sw != NULL; sw = next) {
			next = TAILQ_NEXT(sw, sw_entry);
			if (sw->sw_arg != arg)
				continue;
			TAILQ_REMOVE(&j->j_waiters, sw, sw_entry);
			free(sw);
		}
	}
}

/*
 * The LU is closed here while its sanitize runs: it stops in this
 * process (another one that serves the LU goes on with it).
 */
void
sanitize_gone(struct lu_cow *cw)
{
	struct lu_job	*j = cw->cw_job;

	if (j == NULL)
		return;
	if (j->j_due > 0 && san_w != NULL)
		ipc_cancel(san_w, j);
	san_free(j);
}
