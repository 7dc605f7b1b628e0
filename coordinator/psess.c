/*
 * The coordinator's provisioned sessions (see psess.h): records in LMDB,
 * the table itself in the mirror file, which only this process writes
 * and which therefore doubles as its in-memory table.  The connection
 * lists live in the mirror only: they survive a coordinator restart (the
 * file does) and are pruned of connections whose worker is gone.
 *
 * Lifetimes: a session of a non-persistent tier ends when its last
 * connection closes (when it was lost with its worker: after a grace for
 * the initiators to log in again); a persistent one is suspended then.  Either expires
 * its TTL after its creation or its last close, never while connected.
 * Ending a session removes its record, its mirror entry and every file
 * state-dir/overlays/psess-ID[-.]* (overlays, maps, quota, PR state);
 * the files go after the transaction commits and before the answers.
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "coordinator.h"
#include "log.h"
#include "psess.h"
#include "shmq.h"

#define RATE_WINDOW	60	/* seconds */
#define LOST_GRACE	30	/* seconds for lost connections to return */

static void	cp_purge_now(struct coord *, uint64_t);

static struct psess_ment *
cp_ent(struct coord_psess *cp, int idx)
{
	return psess_mirror_entry(cp->cp_m, idx);
}

static int
cp_find(struct coord_psess *cp, uint64_t id)
{
	int	 i;

	for (i = 0; cp->cp_m != NULL && i < PSESS_MAX; i++)
		if (cp_ent(cp, i)->me_used && cp_ent(cp, i)->me_rec.ps_id == id)
			return i;
	return -1;
}

static int
cp_count_owner(struct coord_psess *cp, uint64_t owner)
{
	int	 i, n = 0;

	for (i = 0; i < PSESS_MAX; i++)
		n += cp_ent(cp, i)->me_used &&
		    cp_ent(cp, i)->me_rec.ps_owner == owner;
	return n;
}

static int
cp_free_entry(struct coord_psess *cp)
{
	int	 i;

	for (i = 0; i < PSESS_MAX; i++)
		if (!cp_ent(cp, i)->me_used)
			return i;
	return -1;
}

static int
cp_store_put(struct store *st, const struct psess_rec *r)
{
	static uint8_t	 buf[PSESS_REC_MAX];
	size_t		 n;

	if ((n = psess_rec_encode(r, buf, sizeof(buf))) == 0)
		return -EINVAL;
	return store_psess_put(st, r->ps_id, buf, n);
}

static void
cp_purge(struct coord *c, uint64_t id)
{
	struct coord_psess	*cp = &c->c_psess;
	int			 i;

	for (i = 0; i < cp->cp_npurge; i++)
		if (cp->cp_purge[i] == id)
			return;
	if (cp->cp_npurge == COORD_PURGE_MAX)
		cp_purge_now(c, id);
	else
		cp->cp_purge[cp->cp_npurge++] = id;
}

/* Remove every file of session id from state-dir/overlays. */
static void
cp_purge_now(struct coord *c, uint64_t id)
{
	char		 ids[PSESS_IDSTR], pfx[32], path[PATH_MAX + 300];
	struct dirent	*de;
	DIR		*d;
	size_t		 n;

	psess_id_fmt(id, ids);
	n = (size_t)snprintf(pfx, sizeof(pfx), "psess-%s", ids);
	if ((d = opendir(c->c_ovldir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, pfx, n) != 0 ||
		    (de->d_name[n] != '-' && de->d_name[n] != '.'))
			continue;
		snprintf(path, sizeof(path), "%s/%s", c->c_ovldir, de->d_name);
		if (unlink(path) == -1)
			log_warn("%s: %s", __func__, path);
	}
	closedir(d);
}

/* After the commit: the files of the sessions that ended. */
void
coord_psess_work(struct coord *c)
{
	struct coord_psess	*cp = &c->c_psess;
	int			 i;

	for (i = 0; i < cp->cp_npurge; i++)
		cp_purge_now(c, cp->cp_purge[i]);
	cp->cp_npurge = 0;
}

static void
cp_clear(struct coord_psess *cp, int idx)
{
	struct psess_ment	*e = cp_ent(cp, idx);

	psess_mirror_begin(e);
	e->me_used = 0;
	e->me_nconns = 0;
	memset(e->me_conns, 0, sizeof(e->me_conns));
	memset(&e->me_rec, 0, sizeof(e->me_rec));
	psess_mirror_end(e);
}

/* Publish r in mirror entry idx, with no connections yet. */
static void
cp_publish(struct coord_psess *cp, int idx, const struct psess_rec *r)
{
	struct psess_ment	*e = cp_ent(cp, idx);

	psess_mirror_begin(e);
	e->me_rec = *r;
	e->me_nconns = 0;
	e->me_used = 1;
	psess_mirror_end(e);
}

/*
 * The session ends: record, mirror entry, its LUs' maps and reservations
 * in LMDB, and (after the commit) its files.
 */
static int
cp_end(struct coord *c, int idx, const char *why)
{
	struct coord_psess	*cp = &c->c_psess;
	struct psess_ment	*e = cp_ent(cp, idx);
	char			 ids[PSESS_IDSTR], pfx[PSESS_IDSTR + 8];
	uint64_t		 id = e->me_rec.ps_id;
	int			 rv;

	rv = store_psess_del(c->c_store, id);
	if (rv != 0 && rv != -ENOENT)
		return rv;
	psess_id_fmt(id, ids);
	snprintf(pfx, sizeof(pfx), "psess-%s-", ids);
	if ((rv = coord_mirror_forget(c, pfx)) != 0 ||
	    (rv = coord_prmirror_forget(c, pfx)) != 0)
		return rv;
	log_info("session %s (tier %s) ended: %s", ids, e->me_rec.ps_tier,
	    why);
	coord_cluster_psess_gone(c, &e->me_rec);	/* every node's */
	cp_clear(cp, idx);
	cp_purge(c, id);
	return 0;
}

/* Its last connection went away. */
static int
cp_last_closed(struct coord *c, int idx)
{
	struct psess_ment	*e = cp_ent(&c->c_psess, idx);
	struct psess_rec	 r = e->me_rec;
	int			 rv;

	if (!(r.ps_flags & PSESS_F_PERSISTENT) &&
	    !coord_cluster_psess_elsewhere(c, &r))
		return cp_end(c, idx, "last connection closed");
	r.ps_idle = (uint64_t)time(NULL);
	if ((rv = cp_store_put(c->c_store, &r)) != 0)
		return rv;
	psess_mirror_begin(e);
	e->me_rec.ps_idle = r.ps_idle;
	psess_mirror_end(e);
	return 0;
}

static struct coord_pending *
cp_pending(struct coord_psess *cp, uint64_t id, int create)
{
	struct coord_pending	*p, *old = &cp->cp_pend[0];
	int			 i;

	for (i = 0; i < COORD_PEND_MAX; i++) {
		p = &cp->cp_pend[i];
		if (p->pp_id == id)
			return p;
		if (p->pp_when < old->pp_when)
			old = p;
	}
	if (!create)
		return NULL;
	memset(old, 0, sizeof(*old));
	old->pp_id = id;
	old->pp_when = time(NULL);
	return old;
}

int
coord_psess_luns(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	static char		 names[255][CFG_NAME_MAX];
	struct coord_pending	*p;
	uint64_t		 id;
	int			 first, count, i;

	(void)rsp;
	if (psess_msg_luns_parse(req, &id, &first, &count, names) != 0)
		return -EINVAL;
	p = cp_pending(&c->c_psess, id, 1);
	for (i = 0; i < count; i++) {
		memcpy(p->pp_images[first + i], names[i], CFG_NAME_MAX);
		p->pp_have[(first + i) / 32] |= 1U << ((first + i) % 32);
	}
	return 0;
}

static int
cp_staged(struct coord_pending *p, struct psess_rec *r)
{
	int	 i;

	for (i = 0; i < r->ps_nluns; i++) {
		if (!(p->pp_have[i / 32] & (1U << (i % 32))))
			return -ENOENT;
		memcpy(r->ps_images[i], p->pp_images[i], CFG_NAME_MAX);
	}
	return 0;
}

/* Another creation by owner within the limit per minute? */
static int
cp_rate_take(struct coord_psess *cp, uint64_t owner, uint32_t limit)
{
	struct coord_rate	*r, *old = &cp->cp_rate[0];
	time_t		 now = time(NULL);
	int		 i;

	for (i = 0; i < COORD_RATE_MAX; i++) {
		r = &cp->cp_rate[i];
		if (r->pr_owner == owner)
			break;
		if (r->pr_start < old->pr_start)
			old = r;
	}
	if (i == COORD_RATE_MAX) {
		r = old;
		r->pr_owner = owner;
		r->pr_start = now;
		r->pr_n = 0;
	}
	if (now - r->pr_start >= RATE_WINDOW) {
		r->pr_start = now;
		r->pr_n = 0;
	}
	if (r->pr_n >= limit)
		return -EBUSY;
	r->pr_n++;
	return 0;
}

/* Sessions made without a token, in all. */
static int
cp_count_anon(struct coord_psess *cp)
{
	int	 i, n = 0;

	for (i = 0; i < PSESS_MAX; i++)
		n += cp_ent(cp, i)->me_used &&
		    (cp_ent(cp, i)->me_rec.ps_flags & PSESS_F_ANON);
	return n;
}

/*
 * Room for one more: the owner's sessions and rate, anonymous ones at
 * most pl_anon_max in all (so that token holders always find room),
 * and a free entry.
 */
static int
cp_admit(struct coord_psess *cp, const struct psess_rec *r,
    const struct psess_limits *pl)
{
	if ((r->ps_flags & PSESS_F_ANON) &&
	    cp_count_anon(cp) >= pl->pl_anon_max)
		return -EMLINK;
	if (pl->pl_sessions != 0 &&
	    cp_count_owner(cp, r->ps_owner) >= pl->pl_sessions)
		return -EDQUOT;
	if (pl->pl_rate != 0 && cp_rate_take(cp, r->ps_owner, pl->pl_rate) != 0)
		return -EBUSY;
	return cp_free_entry(cp) == -1 ? -ENOSPC : 0;
}

int
coord_psess_create(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	static struct psess_rec	 r;
	struct coord_psess	*cp = &c->c_psess;
	struct store		*st = c->c_store;
	struct psess_limits	 pl;
	struct coord_pending	*p;
	char			 ids[PSESS_IDSTR];
	int			 idx, rv;

	(void)rsp;
	memset(&r, 0, sizeof(r));
	if (cp->cp_m == NULL || psess_msg_create_parse(req, &r, &pl) != 0)
		return -EINVAL;
	if ((p = cp_pending(cp, r.ps_id, 0)) == NULL || cp_staged(p, &r) != 0) {
		/* Answered once already (a repeat), or the LUNs went missing. */
		if ((idx = cp_find(cp, r.ps_id)) != -1)
			return cp_store_put(st, &cp_ent(cp, idx)->me_rec);
		return -ENOENT;
	}
	if ((idx = cp_find(cp, r.ps_id)) != -1)
		return cp_store_put(st, &cp_ent(cp, idx)->me_rec);
	r.ps_flags &= ~PSESS_F_LOGGED_IN;
	r.ps_idle = 0;
	if ((rv = cp_admit(cp, &r, &pl)) != 0 ||
	    (rv = cp_store_put(st, &r)) != 0 ||
	    (rv = coord_cluster_psess_put(c, &r)) != 0)	/* every node's */
		return rv;
	idx = cp_free_entry(cp);
	cp_publish(cp, idx, &r);
	memset(p, 0, sizeof(*p));
	psess_id_fmt(r.ps_id, ids);
	log_info("session %s created: tier %s, %d LUNs, iqn suffix %s", ids,
	    r.ps_tier, r.ps_nluns, r.ps_iqn);
	return 0;
}

int
coord_psess_delete(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	uint64_t	 id;
	int		 idx;

	(void)rsp;
	if (psess_msg_id_parse(req, &id) != 0)
		return -EINVAL;
	if ((idx = cp_find(&c->c_psess, id)) == -1) {
		cp_purge(c, id);
		return 0;
	}
	return cp_end(c, idx, "deleted");
}

static int
cp_conn_find(const struct psess_ment *e, uint64_t conn)
{
	uint32_t	 i;

	for (i = 0; i < e->me_nconns; i++)
		if (e->me_conns[i].pc_conn == conn)
			return (int)i;
	return -1;
}

/*
 * A connection handed live from one worker to another: its entry takes
 * the new worker's id and slot, and keeps its place and its time; the
 * session has the connections it had.  0 when there was no such entry.
 */
static int
cp_conn_moved(struct psess_ment *e, const struct psess_touch *t)
{
	uint64_t	 since;
	int		 i;

	if (t->pt_from == 0 || (i = cp_conn_find(e, t->pt_from)) == -1)
		return 0;
	psess_mirror_begin(e);
	since = e->me_conns[i].pc_since;
	e->me_conns[i] = t->pt_conn;
	e->me_conns[i].pc_since = since;
	psess_mirror_end(e);
	return 1;
}

static int
cp_conn_start(struct coord *c, int idx, const struct psess_touch *t)
{
	struct psess_ment	*e = cp_ent(&c->c_psess, idx);
	struct psess_rec	 r;
	int			 rv;

	if (cp_conn_find(e, t->pt_conn.pc_conn) != -1 || cp_conn_moved(e, t))
		return 0;
	if (e->me_nconns >= PSESS_CONNS_MAX)
		return -EUSERS;
	if (!(e->me_rec.ps_flags & PSESS_F_LOGGED_IN)) {
		r = e->me_rec;
		r.ps_flags |= PSESS_F_LOGGED_IN;
		if ((rv = cp_store_put(c->c_store, &r)) != 0)
			return rv;
	}
	psess_mirror_begin(e);
	e->me_rec.ps_flags |= PSESS_F_LOGGED_IN;
	e->me_conns[e->me_nconns] = t->pt_conn;
	e->me_conns[e->me_nconns].pc_since = (uint64_t)time(NULL);
	e->me_nconns++;
	psess_mirror_end(e);
	return 0;
}

static void
cp_conn_remove(struct psess_ment *e, int i)
{
	psess_mirror_begin(e);
	e->me_conns[i] = e->me_conns[e->me_nconns - 1];
	memset(&e->me_conns[e->me_nconns - 1], 0, sizeof(e->me_conns[0]));
	e->me_nconns--;
	psess_mirror_end(e);
}

int
coord_psess_touch(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	struct coord_psess	*cp = &c->c_psess;
	struct psess_touch	 t;
	struct psess_ment	*e;
	int			 idx, i;

	(void)rsp;
	if (psess_msg_touch_parse(req, &t) != 0)
		return -EINVAL;
	if ((idx = cp_find(cp, t.pt_id)) == -1) {
		/* Ended meanwhile: a late login may have made files again. */
		cp_purge(c, t.pt_id);
		return t.pt_start ? -ENOENT : 0;
	}
	if (t.pt_start)
		return cp_conn_start(c, idx, &t);
	e = cp_ent(cp, idx);
	if ((i = cp_conn_find(e, t.pt_conn.pc_conn)) == -1)
		return 0;
	cp_conn_remove(e, i);
	return e->me_nconns == 0 ? cp_last_closed(c, idx) : 0;
}

/* A connection whose worker is gone (pid no longer owns the slot). */
static int
cp_conn_dead(struct coord *c, const struct psess_conn *pc)
{
	if (pc->pc_slot >= (uint32_t)shmq_region_nslots(c->c_region))
		return 1;
	return (uint64_t)shmq_slot_pid(c->c_region, (int)pc->pc_slot) !=
	    pc->pc_conn >> 32;
}

/*
 * Drop the dead connections; 1 if that removed the last one (then the
 * session's idle time starts now, in the mirror only).
 */
static int
cp_prune(struct coord *c, int idx)
{
	struct psess_ment	*e = cp_ent(&c->c_psess, idx);
	int			 i, had = e->me_nconns > 0;

	for (i = (int)e->me_nconns - 1; i >= 0; i--)
		if (cp_conn_dead(c, &e->me_conns[i]))
			cp_conn_remove(e, i);
	if (!had || e->me_nconns > 0)
		return 0;
	psess_mirror_begin(e);
	e->me_rec.ps_idle = (uint64_t)time(NULL);
	psess_mirror_end(e);
	return 1;
}

/*
 * A non-persistent session whose connections were lost with their worker
 * (or across a restart) rather than closed: ended once they had time to
 * log in again, LOST_GRACE seconds or its TTL if shorter.
 */
static int
cp_lost(const struct psess_rec *r, uint64_t now)
{
	uint64_t	 grace = LOST_GRACE;

	if (r->ps_ttl != 0 && r->ps_ttl < grace)
		grace = r->ps_ttl;
	return !(r->ps_flags & PSESS_F_PERSISTENT) &&
	    (r->ps_flags & PSESS_F_LOGGED_IN) && now >= r->ps_idle + grace;
}

static int
cp_txn(struct coord *c)
{
	if (c->c_psess.cp_txn)
		return 0;
	if (store_begin(c->c_store, 1) != 0)
		return -1;
	c->c_psess.cp_txn = 1;
	return 0;
}

/* What time does to session idx: 0, or -1 when the store failed. */
static int
cp_age(struct coord *c, int idx, uint64_t now)
{
	struct psess_ment	*e = cp_ent(&c->c_psess, idx);
	uint64_t		 exp;

	if (cp_prune(c, idx) && (e->me_rec.ps_flags & PSESS_F_PERSISTENT)) {
		if (cp_txn(c) != 0)
			return -1;
		return cp_last_closed(c, idx) == 0 ? 0 : -1;
	}
	if (coord_cluster_psess_elsewhere(c, &e->me_rec))
		return 0;	/* another node serves it: it ends there */
	if (e->me_nconns == 0 && cp_lost(&e->me_rec, now)) {
		if (cp_txn(c) != 0)
			return -1;
		return cp_end(c, idx, "its connections were lost") == 0 ? 0 :
		    -1;
	}
	exp = psess_expires(&e->me_rec, e->me_nconns);
	if (exp != 0 && now >= exp) {
		if (cp_txn(c) != 0)
			return -1;
		return cp_end(c, idx, "expired") == 0 ? 0 : -1;
	}
	return 0;
}

/* Once a second: dead workers' connections, expiry. */
void
coord_psess_periodic(struct coord *c)
{
	struct coord_psess	*cp = &c->c_psess;
	uint64_t		 now = (uint64_t)time(NULL);
	int			 i;

	if (cp->cp_m == NULL)
		return;
	cp->cp_txn = 0;
	for (i = 0; i < PSESS_MAX; i++)
		if (cp_ent(cp, i)->me_used && cp_age(c, i, now) != 0)
			break;
	if (cp->cp_txn && store_commit(c->c_store) != 0)
		log_warnx("%s: cannot record expired sessions", __func__);
	cp->cp_txn = 0;
	coord_psess_work(c);
}

/* ---- A node in a cluster: the table made what RADOS holds ---- */

/* Start: nothing kept yet; a write transaction for what changes. */
int
coord_psess_sync_begin(struct coord *c)
{
	struct coord_psess	*cp = &c->c_psess;

	if (cp->cp_m == NULL || store_begin(c->c_store, 1) != 0)
		return -1;
	memset(cp->cp_keep, 0, sizeof(cp->cp_keep));
	return 0;
}

/* A session RADOS holds: kept, and published if another node made it. */
void
coord_psess_sync_one(struct coord *c, const struct psess_rec *r)
{
	struct coord_psess	*cp = &c->c_psess;
	char			 ids[PSESS_IDSTR];
	int			 idx;

	if ((idx = cp_find(cp, r->ps_id)) == -1) {
		if ((idx = cp_free_entry(cp)) == -1 ||
		    cp_store_put(c->c_store, r) != 0) {
			log_warnx("%s: no room for a session", __func__);
			return;
		}
		cp_publish(cp, idx, r);
		psess_id_fmt(r->ps_id, ids);
		log_info("session %s (tier %s, %d LUNs) created on another "
		    "node", ids, r->ps_tier, r->ps_nluns);
	}
	cp->cp_keep[idx] = 1;
}

/*
 * The end: (when RADOS was read whole) the sessions it no longer holds
 * end here too; committed, their files removed.
 */
void
coord_psess_sync_end(struct coord *c, int whole)
{
	struct coord_psess	*cp = &c->c_psess;
	int			 i;

	for (i = 0; whole && i < PSESS_MAX; i++)
		if (cp_ent(cp, i)->me_used && !cp->cp_keep[i])
			(void)cp_end(c, i, "ended on another node");
	if (store_commit(c->c_store) != 0)
		log_warnx("%s: the sessions of the cluster not recorded",
		    __func__);
	coord_psess_work(c);
}

/* ---- Start: the mirror rebuilt from LMDB ---- */

struct cp_load {
	struct coord_psess *cl_cp;
	uint8_t		 cl_seen[PSESS_MAX];
	uint64_t	 cl_missing[PSESS_MAX];
	int		 cl_nmissing;
	int		 cl_total;
};

static int
cp_load_one(uint64_t id, const void *v, size_t len, void *arg)
{
	static struct psess_rec	 r;
	struct cp_load		*cl = arg;
	struct coord_psess	*cp = cl->cl_cp;
	struct psess_ment	*e;
	int			 idx;

	if (psess_rec_decode(v, len, &r) != 0 || r.ps_id != id) {
		log_warnx("%s: skipping a malformed session record", __func__);
		return 0;
	}
	cl->cl_total++;
	if ((idx = cp_find(cp, id)) == -1) {
		if (cl->cl_nmissing < PSESS_MAX)
			cl->cl_missing[cl->cl_nmissing++] = id;
		return 0;
	}
	e = cp_ent(cp, idx);
	cl->cl_seen[idx] = 1;
	psess_mirror_begin(e);
	e->me_rec = r;
	psess_mirror_end(e);
	return 0;
}

static void
cp_load_missing(struct coord *c, struct cp_load *cl)
{
	static uint8_t		 buf[PSESS_REC_MAX];
	static struct psess_rec	 r;
	size_t			 len;
	int			 i, idx;

	for (i = 0; i < cl->cl_nmissing; i++) {
		if (store_psess_get(c->c_store, cl->cl_missing[i], buf,
		    sizeof(buf), &len) != 0 ||
		    psess_rec_decode(buf, len, &r) != 0)
			continue;
		if ((idx = cp_free_entry(&c->c_psess)) == -1) {
			log_warnx("%s: session table full", __func__);
			return;
		}
		cp_publish(&c->c_psess, idx, &r);
	}
}

static int
cp_load(struct coord *c)
{
	static struct cp_load	 cl;
	struct coord_psess	*cp = &c->c_psess;
	struct store		*st = c->c_store;
	int			 i, rv;

	memset(&cl, 0, sizeof(cl));
	cl.cl_cp = cp;
	if ((rv = store_begin(st, 0)) != 0)
		return rv;
	rv = store_psess_foreach(st, cp_load_one, &cl);
	for (i = 0; rv == 0 && i < PSESS_MAX; i++) {
		if (cp_ent(cp, i)->me_used && !cl.cl_seen[i])
			cp_clear(cp, i);
		else if (cp_ent(cp, i)->me_used)
			cp_prune(c, i);
	}
	if (rv == 0)
		cp_load_missing(c, &cl);
	store_abort(st);
	if (rv == 0 && cl.cl_total > 0)
		log_info("%s: %d provisioned sessions", __func__, cl.cl_total);
	return rv;
}

int
coord_psess_init(struct coord *c)
{
	struct coord_psess	*cp = &c->c_psess;
	char			 path[PATH_MAX + 32];

	memset(cp, 0, sizeof(*cp));
	snprintf(path, sizeof(path), "%s/%s", c->c_statedir,
	    PSESS_MIRROR_FILE);
	if ((cp->cp_m = psess_mirror_open(path, 1)) == NULL) {
		log_warn("%s: %s", __func__, path);
		return -1;
	}
	if (cp_load(c) != 0) {
		log_warnx("%s: cannot load the sessions", __func__);
		return -1;
	}
	psess_mirror_publish(cp->cp_m);
	return 0;
}

void
coord_psess_fini(struct coord *c)
{
	psess_mirror_close(c->c_psess.cp_m);
	c->c_psess.cp_m = NULL;
}
