/*
 * What makes a command's changes durable, sent to the coordinator: the
 * map changes of the shared LUs it touched (their logs, as runs), its
 * reservation change, and a sync when it asked for durability; and for
 * a SANITIZE with IMMED clear, the end of the sanitize.  The
 * transport answers the command once every one of these is answered
 * (worker/iscsi/iscsi.c); the coordinator commits them to LMDB.
 */
#include <sys/types.h>

#include <errno.h>
#include <string.h>

#include "cowmap.h"
#include "hash.h"
#include "log.h"
#include "lu.h"
#include "prstate.h"
#include "scsi.h"
#include "shmq.h"
#include "store.h"

struct commit {
	struct worker	*cm_w;
	ipc_cb		 cm_cb;
	void		*cm_arg;
	int		 cm_due;	/* answers due */
};

static int
commit_push(struct commit *cm, struct shmq_msg *m)
{
	if (ipc_request(cm->cm_w, m, cm->cm_cb, cm->cm_arg) != 0)
		return -1;
	cm->cm_due++;
	return 0;
}

static int
commit_map(struct commit *cm, uint32_t type, uint64_t lu, uint64_t first,
    uint32_t count)
{
	struct shmq_msg	 m;

	memset(&m, 0, sizeof(m));
	shmq_map_enc(&m, type, lu, first, count);
	return commit_push(cm, &m);
}

/*
 * One logged run as the coordinator commits it, plane by plane: Z (lu
 * | COWMAP_ZLU) when a Z bit changed; M when the blocks now hold data
 * (each of them came to, and counts in the quota); for deallocated
 * blocks only those credited, since a Z run stands for M|Z when the
 * file is rebuilt.  A MAP_SET or MAP_CLEAR of the M plane moves the
 * quota a cluster keeps by its count (coordinator/rados_psess.c).
 */
static int
commit_run(struct commit *cm, uint64_t luid, const struct cow_logent *e)
{
	uint32_t	 mtype = e->le_bits & COWMAP_M ? SHMQ_MAP_SET :
			    SHMQ_MAP_CLEAR;

	if (e->le_zchg && commit_map(cm, e->le_bits & COWMAP_Z ?
	    SHMQ_MAP_SET : SHMQ_MAP_CLEAR, luid | COWMAP_ZLU, e->le_first,
	    e->le_count) != 0)
		return -1;
	if (!(e->le_bits & COWMAP_Z))
		return commit_map(cm, mtype, luid, e->le_first, e->le_count);
	if (e->le_credit > 0)
		return commit_map(cm, SHMQ_MAP_CLEAR, luid, e->le_first,
		    e->le_credit);
	return 0;
}

/* The map changes of one LU since its last command. */
static int
commit_lu(struct commit *cm, struct lu_cow *cw)
{
	struct cow_logent *e;
	ssize_t		 n, i;

	if ((n = lu_cow_log_take(cw, &e)) < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (commit_run(cm, cw->cw_luid, &e[i]) != 0)
			return -1;
	return 0;
}

/* A reservation change, answered once LMDB has it. */
static int
commit_pr(struct commit *cm, const struct scsi_task *t)
{
	struct shmq_msg	 m;

	memset(&m, 0, sizeof(m));
	if (shmq_pr_enc(&m, t->t_prepoch, t->t_prcommit,
	    t->t_pr->pl_name) != 0)
		return -1;
	return commit_push(cm, &m);
}

/*
 * Send what task t changed on the LUs cws[0..n) (NULL: none there),
 * each answer to cb(arg).  Returns the number of answers due, and -1
 * when something could not be sent (*due are due all the same).
 */
int
commit_send(struct worker *w, struct lu_cow *const *cws, int n,
    const struct scsi_task *t, ipc_cb cb, void *arg, int *due)
{
	struct commit	 cm = { w, cb, arg, 0 };
	int		 i, shared = 0, failed = 0;

	for (i = 0; i < n; i++) {
		if (cws[i] == NULL || !cws[i]->cw_logging)
			continue;
		shared = 1;
		if (commit_lu(&cm, cws[i]) != 0)
			failed = 1;
	}
	if (shared && !failed && scsi_task_durable(t) &&
	    commit_map(&cm, SHMQ_MAP_SYNC, 0, 0, 0) != 0)
		failed = 1;
	if (t->t_pr != NULL && commit_pr(&cm, t) != 0)
		failed = 1;
	/* a SANITIZE with IMMED clear: its status when it is over */
	for (i = 0; t->t_wait && i < n; i++)
		if (cws[i] != NULL && sanitize_wait(cws[i], cb, arg))
			cm.cm_due++;
	*due = cm.cm_due;
	return failed ? -1 : cm.cm_due;
}

/*
 * May a command that changes the LUs cws[0..n) run now?  Its changes
 * to a shared LU go to the coordinator; while more than
 * max-coordinator-queue messages already wait in the worker for room
 * on the ring, -EBUSY: it is refused before it runs (TASK SET FULL),
 * never run with its commit left out.  0: it may.
 */
int
commit_room(struct worker *w, struct lu_cow *const *cws, int n)
{
	int	 i;

	if (ipc_backlog(w) < w->w_cfg->c_max_coord_queue)
		return 0;
	for (i = 0; i < n; i++)
		if (cws[i] != NULL && cws[i]->cw_logging)
			return -EBUSY;
	return 0;
}

/* What was due to cb(arg) will not be wanted: its connection closed. */
void
commit_cancel(struct worker *w, void *arg)
{
	ipc_cancel(w, arg);
	sanitize_cancel(arg);
}

/*
 * Tell the coordinator about a shared LU's map file, so that it keeps its
 * runs in LMDB and can rebuild the file from them; its id.
 */
uint64_t
commit_map_register(struct worker *w, struct lu_cow *cw, const char *name)
{
	struct shmq_msg	 m;
	size_t		 n = strlen(name);
	uint64_t	 id;

	id = fnv1a(FNV1A_INIT, name, n) & ~COWMAP_ZLU;
	memset(&m, 0, sizeof(m));
	if (shmq_register_enc(&m, id, cw->cw_nblocks, name) != 0) {
		log_warnx("%s: %s: name too long", __func__, name);
		return id;
	}
	if (ipc_request(w, &m, NULL, NULL) != 0)
		log_warnx("%s: cannot reach the coordinator", __func__);
	return id;
}
