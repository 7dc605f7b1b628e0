/*
 * Persistent reservations of a node sharing a Ceph cluster: each shared
 * LU's state in the RADOS object "pr.NAME" (NAME its mirror file, the
 * same on every node), omap keys "state" (format byte, struct pr_state)
 * and "ver" (16 hex digits).  A change is written only if "ver" is what
 * this node last read (an atomic compare), so of two nodes changing the
 * same LU at once one wins and the other's PERSISTENT RESERVE OUT fails
 * (its mirror gets the winner's state, as a restart's rebuild does:
 * ESTALE to the worker).  The other nodes put the new state into their
 * mirrors before they acknowledge its notification, and the command is
 * answered only after that: a reservation taken through one node is
 * enforced by every node before its next command on the LU.
 *
 * What is not durable in a single node is not shared either: RESERVE(6)
 * and RELEASE(6) stay with the node (their holder is a worker's pid),
 * and a unit attention a nexus took is pushed with the next heartbeat,
 * not waited for.
 */
#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "log.h"
#include "rados.h"

#define CL_PR_VLEN	(1 + sizeof(struct pr_state))

static uint8_t	cl_pr_buf[CL_PR_VLEN];	/* main thread */
static uint8_t	cl_pr_hbuf[CL_PR_VLEN];	/* the helper */

/* What the nodes share of a state: no sequence, epoch, commits, RESERVE. */
static void
cl_pr_norm(struct pr_state *st)
{
	st->ps_seq = 0;
	st->ps_crc = 0;
	st->ps_epoch = 0;
	st->ps_commit = 0;
	pr_state_r6_clear(st);
}

static void
cl_pr_oid(const char *name, char *oid, size_t len)
{
	snprintf(oid, len, "%s%s", CLUSTER_PR_PREFIX, name);
}

/* The record of name, its mirror opened (made blank if missing). */
static struct cl_pr *
cl_pr_get(struct coord_cluster *cl, const char *name)
{
	char		 path[PATH_MAX];
	struct cl_pr	*p, **v;
	size_t		 i;

	for (i = 0; i < cl->cl_nprs; i++)
		if (strcmp(cl->cl_prs[i]->cp_name, name) == 0)
			return cl->cl_prs[i];
	if (!coord_mirror_name_ok(name, strlen(name)) ||
	    strlen(name) > PR_FNAME_MAX ||
	    snprintf(path, sizeof(path), "%s/%s.pr", cl->cl_coord->c_ovldir,
	    name) >= (int)sizeof(path) ||
	    (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if ((p->cp_pl = pr_lu_open(path)) == NULL ||
	    (v = reallocarray(cl->cl_prs, cl->cl_nprs + 1, sizeof(*v))) ==
	    NULL) {
		pr_lu_close(p->cp_pl);
		free(p);
		return NULL;
	}
	snprintf(p->cp_name, sizeof(p->cp_name), "%s", name);
	cl->cl_prs = v;
	cl->cl_prs[cl->cl_nprs++] = p;
	return p;
}

/* RADOS's state of name: 0, -ENOENT (none yet), -errno. */
static int
cl_pr_read(struct coord_cluster *cl, const char *name, uint8_t *buf,
    struct pr_state *st, uint64_t *ver)
{
	char	 oid[PR_FNAME_MAX + 8], v[32];
	size_t	 len = 0, vlen = 0;
	int	 r;

	cl_pr_oid(name, oid, sizeof(oid));
	if ((r = cl_omap_get(cl, oid, "state", (char *)buf, CL_PR_VLEN,
	    &len)) != 0)
		return r;
	if ((r = cl_omap_get(cl, oid, "ver", v, sizeof(v) - 1, &vlen)) != 0)
		return r;
	v[vlen] = '\0';
	if (len != CL_PR_VLEN || buf[0] != CL_PR_FMT) {
		log_warnx("%s: %s: not a reservation state of this build",
		    __func__, oid);
		return -EPROTO;
	}
	memcpy(st, buf + 1, sizeof(*st));
	cl_pr_norm(st);
	*ver = strtoull(v, NULL, 16);
	return 0;
}

/*
 * RADOS's state st into the mirror: a new epoch (a PR_COMMIT asked
 * against the old one fails), the mirror's commits and RESERVE kept.
 */
static void
cl_pr_apply(struct cl_pr *p, const struct pr_state *st, uint64_t ver)
{
	static struct pr_state	 cur, fix;

	p->cp_st = *st;
	p->cp_ver = ver;
	pr_lu_snapshot(p->cp_pl, &cur);
	fix = cur;
	cl_pr_norm(&fix);
	if (memcmp(&fix, st, sizeof(fix)) != 0) {
		fix = *st;
		fix.ps_epoch = cur.ps_epoch + 1;
		fix.ps_commit = cur.ps_commit;
		fix.ps_r6 = cur.ps_r6;
		fix.ps_r6relport = cur.ps_r6relport;
		fix.ps_r6pid = cur.ps_r6pid;
		memcpy(fix.ps_r6isid, cur.ps_r6isid, sizeof(fix.ps_r6isid));
		memcpy(fix.ps_r6name, cur.ps_r6name, sizeof(fix.ps_r6name));
		if (pr_lu_replace(p->cp_pl, &fix) == -1)
			log_warnx("%s: %s: mirror not updated", __func__,
			    p->cp_name);
		else
			log_debug("%s: %s: generation %u from RADOS", __func__,
			    p->cp_name, st->ps_generation);
		pr_lu_snapshot(p->cp_pl, &cur);
	}
	p->cp_seq = cur.ps_seq;
}

/* Read name from RADOS and apply it (cl_mtx held). */
static int
cl_pr_fetch(struct coord_cluster *cl, const char *name, uint8_t *buf)
{
	static struct pr_state	 st;
	struct cl_pr		*p;
	uint64_t		 ver;
	int			 r;

	if ((p = cl_pr_get(cl, name)) == NULL)
		return -ENOMEM;
	if ((r = cl_pr_read(cl, name, buf, &st, &ver)) != 0)
		return r;
	cl_pr_apply(p, &st, ver);
	return 0;
}

/* The helper: another node changed name's reservations. */
void
cl_pr_event(struct coord_cluster *cl, const char *name)
{
	int	 r;

	pthread_mutex_lock(&cl->cl_mtx);
	if ((r = cl_pr_fetch(cl, name, cl_pr_hbuf)) != 0 && r != -ENOENT)
		log_warnx("%s: %s: %s", __func__, name, strerror(-r));
	pthread_mutex_unlock(&cl->cl_mtx);
}

/*
 * Write local (the mirror's state) as RADOS's next version, if RADOS
 * is still at the one this node knows (cl_mtx held).  1 written, 0
 * nothing to write, -ESTALE another node got there first (its state is
 * in the mirror now), -errno.
 */
static int
cl_pr_put(struct coord_cluster *cl, struct cl_pr *p, struct pr_state *local)
{
	char		 oid[PR_FNAME_MAX + 8], ver[20], old[20];
	const char	*keys[2] = { "state", "ver" }, *vals[2];
	size_t		 klens[2] = { 5, 3 }, vlens[2];
	rados_write_op_t op;
	int		 r, prval = 0;

	cl_pr_norm(local);
	if (p->cp_ver != 0 && memcmp(local, &p->cp_st, sizeof(*local)) == 0)
		return 0;
	cl_pr_oid(p->cp_name, oid, sizeof(oid));
	cl_pr_buf[0] = CL_PR_FMT;
	memcpy(cl_pr_buf + 1, local, sizeof(*local));
	snprintf(ver, sizeof(ver), "%016" PRIx64, p->cp_ver + 1);
	snprintf(old, sizeof(old), "%016" PRIx64, p->cp_ver);
	vals[0] = (const char *)cl_pr_buf;
	vals[1] = ver;
	vlens[0] = CL_PR_VLEN;
	vlens[1] = 16;
	op = rados_create_write_op();
	if (p->cp_ver == 0)
		rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	else
		rados_write_op_omap_cmp(op, "ver", LIBRADOS_CMPXATTR_OP_EQ, old,
		    16, &prval);
	rados_write_op_omap_set2(op, keys, vals, klens, vlens, 2);
	r = rados_write_op_operate(op, cl->cl_io, oid, NULL, 0);
	rados_release_write_op(op);
	if (r == 0) {
		p->cp_st = *local;
		p->cp_ver++;
		return 1;
	}
	if (r != -ECANCELED && r != -EEXIST)
		return r;
	log_info("%s: %s: changed by another node at once: theirs kept",
	    __func__, p->cp_name);
	return (r = cl_pr_fetch(cl, p->cp_name, cl_pr_buf)) == 0 ? -ESTALE : r;
}

/*
 * PR_COMMIT of a node in a cluster (coordinator/prmirror.c): the
 * mirror's state cur of name into RADOS, and into every other node's
 * mirror, before the PERSISTENT RESERVE OUT is answered.
 */
int
coord_cluster_pr(struct coord *c, const char *name,
    const struct pr_state *cur)
{
	struct coord_cluster	*cl = c->c_cluster;
	static struct pr_state	 st;
	struct cl_pr		*p;
	int			 r;

	if (cl == NULL)
		return 0;
	st = *cur;
	pthread_mutex_lock(&cl->cl_mtx);
	if ((p = cl_pr_get(cl, name)) == NULL)
		r = -ENOMEM;
	else if ((r = cl_pr_put(cl, p, &st)) >= 0)
		p->cp_seq = cur->ps_seq;
	pthread_mutex_unlock(&cl->cl_mtx);
	if (r < 0) {
		if (r != -ESTALE)
			log_warnx("%s: %s: %s", __func__, name, strerror(-r));
		return r == -ESTALE ? r : -EIO;
	}
	return cl_notify(cl, "pr", name) == 0 ? 0 : -EIO;
}

/*
 * Each heartbeat: changes made here that nobody waited for (a unit
 * attention taken) go to RADOS and the other nodes.
 */
void
cl_pr_heartbeat(struct coord_cluster *cl)
{
	static struct pr_state	 st;
	char			 name[PR_FNAME_MAX + 1];
	size_t			 i;
	int			 r;

	for (i = 0; ; i++) {
		pthread_mutex_lock(&cl->cl_mtx);
		if (i >= cl->cl_nprs) {
			pthread_mutex_unlock(&cl->cl_mtx);
			return;
		}
		pr_lu_snapshot(cl->cl_prs[i]->cp_pl, &st);
		r = 0;
		if (st.ps_seq != cl->cl_prs[i]->cp_seq) {
			cl->cl_prs[i]->cp_seq = st.ps_seq;
			r = cl_pr_put(cl, cl->cl_prs[i], &st);
		}
		snprintf(name, sizeof(name), "%s", cl->cl_prs[i]->cp_name);
		pthread_mutex_unlock(&cl->cl_mtx);
		if (r == 1)
			(void)cl_notify(cl, "pr", name);
	}
}

/* At start, and when the watch was lost: every LU's state from RADOS. */
int
cl_pr_load_all(struct coord_cluster *cl)
{
	rados_list_ctx_t ctx;
	const char	*oid, *key, *ns;
	size_t		 n = strlen(CLUSTER_PR_PREFIX);
	int		 r, count = 0;

	if ((r = rados_nobjects_list_open(cl->cl_io, &ctx)) < 0) {
		log_warnx("%s: %s", __func__, strerror(-r));
		return r;
	}
	pthread_mutex_lock(&cl->cl_mtx);
	while ((r = rados_nobjects_list_next(ctx, &oid, &key, &ns)) == 0) {
		if (strncmp(oid, CLUSTER_PR_PREFIX, n) != 0)
			continue;
		if ((r = cl_pr_fetch(cl, oid + n, cl_pr_buf)) != 0 &&
		    r != -ENOENT)
			log_warnx("%s: %s: %s", __func__, oid, strerror(-r));
		else
			count++;
	}
	pthread_mutex_unlock(&cl->cl_mtx);
	rados_nobjects_list_close(ctx);
	if (r != -ENOENT) {
		log_warnx("%s: listing: %s", __func__, strerror(-r));
		return r;
	}
	if (count > 0)
		log_info("%s: reservations of %d LU(s) from RADOS", __func__,
		    count);
	return 0;
}

/* A session ended: this node forgets its LUs' states (their mirrors go). */
void
cl_pr_forget(struct coord_cluster *cl, const char *prefix)
{
	size_t	 i;

	pthread_mutex_lock(&cl->cl_mtx);
	for (i = 0; i < cl->cl_nprs; ) {
		if (strncmp(cl->cl_prs[i]->cp_name, prefix,
		    strlen(prefix)) != 0) {
			i++;
			continue;
		}
		pr_lu_close(cl->cl_prs[i]->cp_pl);
		free(cl->cl_prs[i]);
		cl->cl_prs[i] = cl->cl_prs[--cl->cl_nprs];
	}
	pthread_mutex_unlock(&cl->cl_mtx);
}

void
cl_pr_fini(struct coord_cluster *cl)
{
	size_t	 i;

	for (i = 0; i < cl->cl_nprs; i++) {
		pr_lu_close(cl->cl_prs[i]->cp_pl);
		free(cl->cl_prs[i]);
	}
	free(cl->cl_prs);
	cl->cl_prs = NULL;
	cl->cl_nprs = 0;
}
