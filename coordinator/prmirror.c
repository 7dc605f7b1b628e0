/*
 * The coordinator's side of persistent reservations (common/prstate.h).
 * LMDB holds the durable state of every shared LU whose reservations
 * ever changed, under 'P' + mirror file name; the files PATH.pr are the
 * mirror the workers enforce from and change.  A worker that changed
 * the mirror durably (PERSISTENT RESERVE OUT) asks for PR_COMMIT: this
 * process reads the mirror's current state, puts it in LMDB, and the
 * round syncs before the answer goes out.
 *
 * At start every recorded state is compared with its mirror.  A whole
 * mirror of the same epoch that is at or past LMDB's commit is kept (a
 * coordinator killed before committing a change a worker made leaves
 * the mirror ahead: that state is committed now).  A mirror that is
 * missing, torn, of another epoch or behind gets LMDB's state back,
 * under a new epoch, so a PR_COMMIT still queued against the old mirror
 * fails with ESTALE instead of reporting a change that is gone.
 */
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator.h"
#include "log.h"
#include "prstate.h"
#include "shmq.h"

#define PRM_KEY		'P'		/* kv key: 'P' + file name */
#define PRM_VFMT	1		/* value: format byte, struct pr_state */
#define PRM_VLEN	(1 + sizeof(struct pr_state))

static struct pr_lu *
prm_find(struct coord_prmirrors *cr, const char *name)
{
	size_t	 i;

	for (i = 0; i < cr->cr_n; i++)
		if (strcmp(cr->cr_v[i]->pl_name, name) == 0)
			return cr->cr_v[i];
	return NULL;
}

/* The mirror of name, mapped (and made, blank, if missing). */
static struct pr_lu *
prm_get(struct coord *c, const char *name)
{
	struct coord_prmirrors *cr = &c->c_prm;
	struct pr_lu	 *pl, **v;
	char		  path[PATH_MAX];

	if ((pl = prm_find(cr, name)) != NULL)
		return pl;
	if (snprintf(path, sizeof(path), "%s/%s.pr", c->c_ovldir, name) >=
	    (int)sizeof(path) || (pl = pr_lu_open(path)) == NULL)
		return NULL;
	if ((v = reallocarray(cr->cr_v, cr->cr_n + 1, sizeof(*v))) == NULL) {
		pr_lu_close(pl);
		return NULL;
	}
	cr->cr_v = v;
	cr->cr_v[cr->cr_n++] = pl;
	return pl;
}

static size_t
prm_key(uint8_t *k, const char *name)
{
	size_t	 n = strlen(name);

	k[0] = PRM_KEY;
	memcpy(k + 1, name, n);
	return 1 + n;
}

static int
prm_put(struct store *st, const char *name, const struct pr_state *s)
{
	static uint8_t	 prm_val[PRM_VLEN];
	uint8_t		 k[1 + PR_FNAME_MAX];

	prm_val[0] = PRM_VFMT;
	memcpy(prm_val + 1, s, sizeof(*s));
	memset(prm_val + 1, 0, sizeof(s->ps_seq));
	return store_kv_put(st, k, prm_key(k, name), prm_val, PRM_VLEN);
}

static int
prm_load(struct store *st, const char *name, struct pr_state *s)
{
	static uint8_t	 prm_val[PRM_VLEN];
	uint8_t		 k[1 + PR_FNAME_MAX];
	size_t		 vlen;
	int		 rv;

	rv = store_kv_get(st, k, prm_key(k, name), prm_val, PRM_VLEN, &vlen);
	if (rv != 0)
		return rv;
	if (vlen != PRM_VLEN || prm_val[0] != PRM_VFMT)
		return -EPROTO;
	memcpy(s, prm_val + 1, sizeof(*s));
	return 0;
}

/* Keep the mirror, commit it, or put LMDB's state back (see above). */
static int
prm_reconcile(struct store *st, struct pr_lu *pl, const struct pr_state *rec)
{
	static struct pr_state cur, fix;

	pr_lu_snapshot(pl, &cur);
	if (cur.ps_crc == pr_state_crc(&cur) &&
	    cur.ps_epoch == rec->ps_epoch &&
	    (cur.ps_commit > rec->ps_commit ||
	    (cur.ps_commit == rec->ps_commit && pr_state_same(&cur, rec)))) {
		if (cur.ps_commit == rec->ps_commit)
			return 0;
		log_info("%s: committing a change made before a restart",
		    pl->pl_name);
		return prm_put(st, pl->pl_name, &cur);
	}
	fix = *rec;
	fix.ps_epoch = (cur.ps_epoch > rec->ps_epoch ? cur.ps_epoch :
	    rec->ps_epoch) + 1;
	fix.ps_r6 = 0;		/* RESERVE(6) does not survive a restart */
	fix.ps_r6pid = 0;
	fix.ps_r6relport = 0;
	memset(fix.ps_r6isid, 0, sizeof(fix.ps_r6isid));
	memset(fix.ps_r6name, 0, sizeof(fix.ps_r6name));
	if (pr_lu_replace(pl, &fix) == -1)
		return -EIO;
	log_info("%s: reservations restored from LMDB (generation %u)",
	    pl->pl_name, fix.ps_generation);
	return prm_put(st, pl->pl_name, &fix);
}

/* Names of the records under 'P' + prefix. */
struct prm_names {
	char		(*pn_v)[PR_FNAME_MAX + 1];
	size_t		  pn_n;
};

static int
prm_name_one(void *arg, const uint8_t *k, size_t klen, const uint8_t *v,
    size_t vlen)
{
	struct prm_names *nm = arg;
	char		(*nv)[PR_FNAME_MAX + 1];

	(void)v;
	(void)vlen;
	if (klen < 2 || klen - 1 > PR_FNAME_MAX ||
	    !coord_mirror_name_ok((const char *)k + 1, klen - 1))
		return 0;
	if ((nv = reallocarray(nm->pn_v, nm->pn_n + 1, sizeof(*nv))) == NULL)
		return -ENOMEM;
	nm->pn_v = nv;
	memcpy(nv[nm->pn_n], k + 1, klen - 1);
	nv[nm->pn_n][klen - 1] = '\0';
	nm->pn_n++;
	return 0;
}

static int
prm_names(struct store *st, const char *prefix, struct prm_names *nm)
{
	uint8_t	 k[1 + PR_FNAME_MAX];
	size_t	 n = strlen(prefix);

	memset(nm, 0, sizeof(*nm));
	if (n > PR_FNAME_MAX)
		return -EINVAL;
	k[0] = PRM_KEY;
	memcpy(k + 1, prefix, n);
	return store_kv_foreach(st, k, 1 + n, prm_name_one, nm);
}

/* At start: every recorded state and its mirror made to agree. */
int
coord_prmirror_init(struct coord *c)
{
	static struct pr_state rec;
	struct store	*st = c->c_store;
	struct prm_names nm;
	struct pr_lu	*pl;
	size_t		 i;
	int		 rv;

	if ((rv = store_begin(st, 1)) != 0)
		return rv;
	if ((rv = prm_names(st, "", &nm)) != 0) {
		store_abort(st);
		free(nm.pn_v);
		return rv;
	}
	for (i = 0; i < nm.pn_n; i++) {
		if ((rv = prm_load(st, nm.pn_v[i], &rec)) != 0) {
			log_warnx("%s: %s: unreadable record: %s", __func__,
			    nm.pn_v[i], strerror(-rv));
			continue;
		}
		if ((pl = prm_get(c, nm.pn_v[i])) == NULL ||
		    (rv = prm_reconcile(st, pl, &rec)) != 0)
			log_warnx("%s: %s: reservations not restored",
			    __func__, nm.pn_v[i]);
	}
	free(nm.pn_v);
	if ((rv = store_commit(st)) != 0)	/* the mirrors agree all the same */
		log_warnx("%s: recording the checked states: %s", __func__,
		    strerror(-rv));
	if (c->c_prm.cr_n > 0)
		log_info("%s: reservations of %zu LUs checked against LMDB",
		    __func__, c->c_prm.cr_n);
	return 0;
}

void
coord_prmirror_fini(struct coord *c)
{
	struct coord_prmirrors *cr = &c->c_prm;
	size_t	 i;

	for (i = 0; i < cr->cr_n; i++)
		pr_lu_close(cr->cr_v[i]);
	free(cr->cr_v);
	cr->cr_v = NULL;
	cr->cr_n = 0;
}

/* PR_COMMIT: the mirror's current state into LMDB, in a write txn. */
int
coord_pr_commit(struct coord *c, const struct shmq_msg *req,
    struct shmq_msg *rsp)
{
	static struct pr_state cur;
	char		 name[PR_FNAME_MAX + 1];
	struct pr_lu	*pl;
	uint64_t	 commit;
	uint32_t	 epoch;

	(void)rsp;
	if (shmq_pr_dec(req, &epoch, &commit, name, sizeof(name)) != 0 ||
	    !coord_mirror_name_ok(name, strlen(name)))
		return -EINVAL;
	if ((pl = prm_get(c, name)) == NULL)
		return -EIO;
	pr_lu_snapshot(pl, &cur);
	if (cur.ps_epoch != epoch || cur.ps_commit < commit)
		return -ESTALE;
	return prm_put(c->c_store, name, &cur);
}

/* A session ended: the records and mirrors of names under prefix go. */
int
coord_prmirror_forget(struct coord *c, const char *prefix)
{
	struct coord_prmirrors *cr = &c->c_prm;
	struct store	*st = c->c_store;
	uint8_t		 k[1 + PR_FNAME_MAX];
	struct prm_names nm;
	struct pr_lu	*pl;
	size_t		 i, j;
	int		 rv;

	if ((rv = prm_names(st, prefix, &nm)) != 0) {
		free(nm.pn_v);
		return rv;
	}
	for (i = 0; i < nm.pn_n && rv == 0; i++) {
		rv = store_kv_del(st, k, prm_key(k, nm.pn_v[i]));
		if (rv == -ENOENT)
			rv = 0;
	}
	free(nm.pn_v);
	for (i = 0; i < cr->cr_n; ) {
		pl = cr->cr_v[i];
		if (strncmp(pl->pl_name, prefix, strlen(prefix)) != 0) {
			i++;
			continue;
		}
		pr_lu_close(pl);
		for (j = i + 1; j < cr->cr_n; j++)
			cr->cr_v[j - 1] = cr->cr_v[j];
		cr->cr_n--;
	}
	return rv;
}
