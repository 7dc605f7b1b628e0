/*
 * Provisioned sessions, quotas and clones of a node sharing a Ceph
 * cluster (common/cluster.h has the objects).
 *
 * Sessions: the omap "sessions" holds every session's record; each
 * node's table (coordinator/psess.c, its LMDB and mirror) is a copy.  A
 * session created through any node is put there, then notified, and the
 * API answers once every node has it in its table; an end is removed
 * and notified the same way.  A session is never ended (its last
 * connection here closed, its TTL) while another live node serves it.
 *
 * Quotas: the omap "quota" holds each account's bytes (psess-ID,
 * static-NAME: what the workers' counter pages are named after), in 16
 * hex digits, changed with a compare of the old value.  The workers
 * count on their node's page (page[0]) as on a single machine, and log
 * the blocks they newly map; this node adds what it counted to RADOS at
 * each heartbeat, and what the other nodes counted meanwhile to its
 * page (page[2] remembers the RADOS total already in page[0]).  So a
 * quota holds across nodes within what they write in one heartbeat, and
 * a block first written through two nodes is counted twice (each knows
 * the blocks RBD had when it opened the LU, and its own writes).
 *
 * Clones of ended sessions are removed (with their reservation objects)
 * once no node has them open any more; at start, clones of sessions
 * that no longer exist too.
 */
#include <sys/types.h>
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rbd/librbd.h>

#include "coordinator.h"
#include "cowmap.h"
#include "log.h"
#include "rados.h"

static uint8_t	cl_recbuf[PSESS_REC_MAX];

/* ---------------------------------------------------------------- */
/* Sessions */

int
coord_cluster_psess_put(struct coord *c, const struct psess_rec *r)
{
	struct coord_cluster	*cl = c->c_cluster;
	char			 ids[PSESS_IDSTR];
	size_t			 n;
	int			 rv;

	if (cl == NULL)
		return 0;
	if ((n = psess_rec_encode(r, cl_recbuf, sizeof(cl_recbuf))) == 0)
		return -EINVAL;
	psess_id_fmt(r->ps_id, ids);
	if ((rv = cl_omap_put(cl, CLUSTER_OBJ_SESSIONS, ids,
	    (const char *)cl_recbuf, n)) < 0) {
		log_warnx("%s: session %s: %s", __func__, ids, strerror(-rv));
		return -EIO;
	}
	(void)cl_notify(cl, "sessions", ids);
	return 0;
}

static void
cl_gone_add(struct coord_cluster *cl, uint64_t id, int nluns)
{
	int	 i;

	for (i = 0; i < cl->cl_ngone; i++)
		if (cl->cl_gone[i].g_id == id) {
			if (nluns > cl->cl_gone[i].g_nluns)
				cl->cl_gone[i].g_nluns = nluns;
			return;
		}
	if (cl->cl_ngone == CL_GONE_MAX) {
		log_warnx("%s: %d sessions' clones to remove already",
		    __func__, CL_GONE_MAX);
		return;
	}
	cl->cl_gone[cl->cl_ngone].g_id = id;
	cl->cl_gone[cl->cl_ngone++].g_nluns = nluns;
}

static void	cl_acct_drop(struct coord_cluster *, const char *);
static void	cl_quota_sync(struct coord_cluster *, struct cl_acct *);

/*
 * Session r ended here (coordinator/psess.c cp_end): from RADOS too,
 * unless it is RADOS that said so; its clones go once unused.
 */
void
coord_cluster_psess_gone(struct coord *c, const struct psess_rec *r)
{
	struct coord_cluster	*cl = c->c_cluster;
	char			 ids[PSESS_IDSTR], name[PSESS_IDSTR + 8];

	if (cl == NULL)
		return;
	psess_id_fmt(r->ps_id, ids);
	snprintf(name, sizeof(name), "psess-%s-", ids);
	cl_pr_forget(cl, name);
	snprintf(name, sizeof(name), "psess-%s", ids);
	cl_acct_drop(cl, name);
	cl_gone_add(cl, r->ps_id, r->ps_nluns);
	if (cl->cl_applying)
		return;
	if (cl_omap_rm(cl, CLUSTER_OBJ_SESSIONS, ids) != 0 ||
	    cl_omap_rm(cl, CLUSTER_OBJ_QUOTA, name) != 0)
		log_warnx("%s: session %s stays in RADOS", __func__, ids);
	(void)cl_notify(cl, "sessions", ids);
}

/* Does another live node serve session r (then it does not end here)? */
int
coord_cluster_psess_elsewhere(struct coord *c, const struct psess_rec *r)
{
	struct coord_cluster	*cl = c->c_cluster;
	static struct cluster_view v;
	char			 iqn[CFG_NAME_MAX * 2 + PSESS_IQN_MAX + 2];

	if (cl == NULL)
		return 0;
	snprintf(iqn, sizeof(iqn), "%s:%s", cl->cl_cfg->c_iqn_prefix,
	    r->ps_iqn);
	return cluster_page_view(cl->cl_pg, iqn, &v) == 0 && v.cv_where >= 0;
}

static int
cl_sess_one(void *arg, const char *key, const char *val, size_t len)
{
	struct coord_cluster	*cl = arg;
	static struct psess_rec	 r;

	if (psess_rec_decode((const uint8_t *)val, len, &r) != 0) {
		log_warnx("%s: session %s: a record this build cannot read",
		    __func__, key);
		return 0;
	}
	coord_psess_sync_one(cl->cl_coord, &r);
	return 0;
}

/* This node's table made what RADOS holds. */
int
cl_psess_load(struct coord_cluster *cl)
{
	int	 r;

	if (coord_psess_sync_begin(cl->cl_coord) != 0)
		return -1;
	cl->cl_applying = 1;
	r = cl_omap_foreach(cl, CLUSTER_OBJ_SESSIONS, "", cl_sess_one,
	    cl);
	coord_psess_sync_end(cl->cl_coord, r == 0 || r == -ENOENT);
	cl->cl_applying = 0;
	return r == -ENOENT ? 0 : r;
}

/* ---------------------------------------------------------------- */
/* Clones */

/* Remove session id's LUN clones and reservation objects: 1 when done. */
static int
cl_clones_remove(struct coord_cluster *cl, const struct cl_gone *g)
{
	char	 ids[PSESS_IDSTR], clone[CLUSTER_CLONE_MAX], oid[PR_FNAME_MAX];
	int	 lun, r, done = 1;

	psess_id_fmt(g->g_id, ids);
	for (lun = 0; lun < g->g_nluns; lun++) {
		if (cluster_clone_name(clone, sizeof(clone), 's', ids, lun) ==
		    -1)
			continue;
		r = rbd_remove(cl->cl_pool, clone);
		if (r == 0)
			log_info("%s: %s removed", __func__, clone);
		else if (r != -ENOENT) {
			done = 0;	/* open on a node still: later */
			if (r != -EBUSY)
				log_warnx("%s: %s: %s", __func__, clone,
				    strerror(-r));
			continue;
		}
		(void)rados_remove(cl->cl_io, clone);	/* its CAW lock */
		snprintf(oid, sizeof(oid), "%spsess-%s-%d", CLUSTER_PR_PREFIX,
		    ids, lun);
		(void)rados_remove(cl->cl_io, oid);
	}
	return done;
}

void
cl_psess_heartbeat(struct coord_cluster *cl)
{
	int	 i;

	for (i = 0; i < cl->cl_ngone; )
		if (cl_clones_remove(cl, &cl->cl_gone[i]))
			cl->cl_gone[i] = cl->cl_gone[--cl->cl_ngone];
		else
			i++;
}

/* At start: the clones of sessions that are gone. */
int
cl_clones_sweep(struct coord_cluster *cl)
{
	static struct psess_ment e;
	rbd_image_spec_t *v = NULL, *nv;
	size_t		 max = 64, i, n = strlen(CLUSTER_CLONE_PREFIX) + 2;
	uint64_t	 id;
	char		 ids[PSESS_IDSTR];
	int		 r, lun;

	for (;;) {
		if ((nv = reallocarray(v, max, sizeof(*v))) == NULL)
			break;
		v = nv;
		if ((r = rbd_list2(cl->cl_pool, v, &max)) != -ERANGE)
			break;
	}
	if (nv == NULL || r < 0) {
		free(v);
		return -1;
	}
	for (i = 0; i < max; i++) {
		if (strncmp(v[i].name, CLUSTER_CLONE_PREFIX "s.", n) != 0 ||
		    sscanf(v[i].name + n, "%16[0-9a-f].%d", ids, &lun) != 2 ||
		    psess_id_parse(ids, &id) != 0 || lun < 0 ||
		    lun >= CFG_MAX_TARGET_LUNS)
			continue;
		if (psess_mirror_find(cl->cl_coord->c_psess.cp_m, id, NULL,
		    &e) == -1)
			cl_gone_add(cl, id, lun + 1);
	}
	rbd_image_spec_list_cleanup(v, max);
	free(v);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Quotas */

static struct cl_acct *
cl_acct_find(struct coord_cluster *cl, const char *name, size_t *idx)
{
	size_t	 i;

	for (i = 0; i < cl->cl_naccts; i++)
		if (strcmp(cl->cl_accts[i].a_name, name) == 0) {
			if (idx != NULL)
				*idx = i;
			return &cl->cl_accts[i];
		}
	return NULL;
}

/* The account's counter page in state-dir/overlays, as workers map it. */
static uint64_t *
cl_acct_page(struct coord_cluster *cl, const char *name)
{
	char	 path[PATH_MAX];
	void	*p;
	int	 fd;

	if (snprintf(path, sizeof(path), "%s/%s.quota", cl->cl_coord->c_ovldir,
	    name) >= (int)sizeof(path) ||
	    (fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return NULL;
	if (lseek(fd, 0, SEEK_END) < CLUSTER_QUOTA_PAGE &&
	    ftruncate(fd, CLUSTER_QUOTA_PAGE) == -1) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, CLUSTER_QUOTA_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static void
cl_acct_drop(struct coord_cluster *cl, const char *name)
{
	struct cl_acct	*a;
	size_t		 idx, i;

	if ((a = cl_acct_find(cl, name, &idx)) == NULL)
		return;
	munmap(a->a_page, CLUSTER_QUOTA_PAGE);
	for (i = 0; i < cl->cl_nlus; ) {
		if (cl->cl_lus[i].l_acct == idx)
			cl->cl_lus[i] = cl->cl_lus[--cl->cl_nlus];
		else {
			if (cl->cl_lus[i].l_acct == cl->cl_naccts - 1)
				cl->cl_lus[i].l_acct = idx;
			i++;
		}
	}
	cl->cl_accts[idx] = cl->cl_accts[--cl->cl_naccts];
}

/*
 * A worker registered a shared LU whose quota it counts (its map file
 * NAME, "psess-ID-LUN" or "static-NAME-LUN"): its account is NAME
 * without the LUN.
 */
void
coord_cluster_register(struct coord *c, uint64_t id, const char *name)
{
	struct coord_cluster	*cl = c->c_cluster;
	const char		*dash;
	char			 acct[CFG_NAME_MAX + 16];
	struct cl_acct		*a, *na;
	struct cl_lu		*nl;
	size_t			 i, idx;

	if (cl == NULL || (dash = strrchr(name, '-')) == NULL ||
	    (size_t)(dash - name) >= sizeof(acct))
		return;
	for (i = 0; i < cl->cl_nlus; i++)
		if (cl->cl_lus[i].l_id == id)
			return;
	snprintf(acct, sizeof(acct), "%.*s", (int)(dash - name), name);
	if ((a = cl_acct_find(cl, acct, &idx)) == NULL) {
		if ((na = reallocarray(cl->cl_accts, cl->cl_naccts + 1,
		    sizeof(*na))) == NULL)
			return;
		cl->cl_accts = na;
		a = &na[cl->cl_naccts];
		memset(a, 0, sizeof(*a));
		snprintf(a->a_name, sizeof(a->a_name), "%s", acct);
		if ((a->a_page = cl_acct_page(cl, acct)) == NULL) {
			log_warn("%s: %s", __func__, acct);
			return;
		}
		idx = cl->cl_naccts++;
		cl_quota_sync(cl, a);	/* the others' writes, before ours */
	}
	if ((nl = reallocarray(cl->cl_lus, cl->cl_nlus + 1,
	    sizeof(*nl))) == NULL)
		return;
	cl->cl_lus = nl;
	nl[cl->cl_nlus].l_id = id;
	nl[cl->cl_nlus++].l_acct = idx;
}

/* MAP_SET/MAP_CLEAR of a registered LU: count blocks in or out. */
void
coord_cluster_charge(struct coord *c, uint64_t lu, uint32_t count, int set)
{
	struct coord_cluster	*cl = c->c_cluster;
	int64_t			 bytes;
	size_t			 i;

	if (cl == NULL || (lu & COWMAP_ZLU))
		return;
	for (i = 0; i < cl->cl_nlus; i++)
		if (cl->cl_lus[i].l_id == lu)
			break;
	if (i == cl->cl_nlus)
		return;
	bytes = (int64_t)count * (int64_t)cl->cl_cfg->c_block_size;
	cl->cl_accts[cl->cl_lus[i].l_acct].a_delta += set ? bytes : -bytes;
}

/* Add delta to the account in RADOS: the new total, or -errno. */
static int
cl_quota_add(struct coord_cluster *cl, const char *name, int64_t delta,
    uint64_t *total)
{
	char		 old[24], new[24];
	const char	*key = name, *val = new;
	size_t		 olen = 0, klen = strlen(name), vlen = 16;
	uint64_t	 t;
	rados_write_op_t op;
	int		 r, tries, prval;

	for (tries = 0; tries < 8; tries++) {
		r = cl_omap_get(cl, CLUSTER_OBJ_QUOTA, name, old,
		    sizeof(old) - 1, &olen);
		if (r != 0 && r != -ENOENT)
			return r;
		old[r == 0 ? olen : 0] = '\0';
		t = r == 0 ? strtoull(old, NULL, 16) : 0;
		*total = t;
		if (delta == 0)
			return 0;
		t = delta < 0 && (uint64_t)-delta > t ? 0 : t + (uint64_t)delta;
		snprintf(new, sizeof(new), "%016" PRIx64, t);
		op = rados_create_write_op();
		prval = 0;
		if (r == 0)
			rados_write_op_omap_cmp(op, name,
			    LIBRADOS_CMPXATTR_OP_EQ, old, olen, &prval);
		rados_write_op_omap_set2(op, &key, &val, &klen, &vlen, 1);
		r = rados_write_op_operate(op, cl->cl_io, CLUSTER_OBJ_QUOTA,
		    NULL, 0);
		rados_release_write_op(op);
		if (r == 0) {
			*total = t;
			return 0;
		}
		if (r != -ECANCELED)
			return r;
	}
	return -EAGAIN;
}

/* page[0] += what the other nodes counted since page[2] (clamped at 0). */
static void
cl_quota_fold(uint64_t *page, uint64_t total, int64_t mine)
{
	int64_t		 others = (int64_t)(total - page[2]) - mine;
	uint64_t	 used, next;

	used = __atomic_load_n(&page[0], __ATOMIC_RELAXED);
	do {
		next = others < 0 && (uint64_t)-others > used ? 0 :
		    used + (uint64_t)others;
	} while (!__atomic_compare_exchange_n(&page[0], &used, next, 0,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	__atomic_store_n(&page[2], total, __ATOMIC_RELAXED);
}

/* What this node counted into RADOS, what the others did into the page. */
static void
cl_quota_sync(struct coord_cluster *cl, struct cl_acct *a)
{
	uint64_t	 total = 0;
	int64_t		 d = a->a_delta;
	int		 r;

	if ((r = cl_quota_add(cl, a->a_name, d, &total)) != 0) {
		log_warnx("%s: %s: %s", __func__, a->a_name, strerror(-r));
		return;
	}
	a->a_delta -= d;
	cl_quota_fold(a->a_page, total, d);
}

void
cl_quota_heartbeat(struct coord_cluster *cl)
{
	size_t	 i;

	for (i = 0; i < cl->cl_naccts; i++)
		cl_quota_sync(cl, &cl->cl_accts[i]);
}

void
cl_psess_fini(struct coord_cluster *cl)
{
	size_t	 i;

	for (i = 0; i < cl->cl_naccts; i++)
		munmap(cl->cl_accts[i].a_page, CLUSTER_QUOTA_PAGE);
	free(cl->cl_accts);
	free(cl->cl_lus);
	cl->cl_accts = NULL;
	cl->cl_lus = NULL;
	cl->cl_naccts = cl->cl_nlus = 0;
}
