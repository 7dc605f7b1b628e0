/*
 * Provisioned sessions, the worker's side: targets found in the
 * coordinator's mirror at login, their connections reported to the
 * coordinator, and connections to a session that ended asked to log out.
 *
 * A provisioned target is built when a login names it and freed when its
 * last connection on this worker goes away.  Its LUNs are shared LUs
 * (state-dir/overlays/psess-ID-LUN.{ovl,map}), the same files on every
 * worker, and its write quota is one counter in shared memory, the file
 * state-dir/overlays/psess-ID.quota.  Once a second the worker checks
 * that each of its targets is still in the mirror; one that is not was
 * deleted or expired: its connections get an Async Message asking for a
 * logout and are closed PSESS_LOGOUT_SECS later at most.
 */
#include <sys/types.h>
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/rand.h>

#include "iscsi.h"
#include "log.h"
#include "psess.h"
#include "shmq.h"

#define PSESS_LOGOUT_SECS	2	/* Async logout: Parameter3 */

struct psess_tgt {
	struct target		 pt_t;		/* first: the struct target */
	TAILQ_ENTRY(psess_tgt)	 pt_entry;
	uint64_t		 pt_id;
	int			 pt_idx;	/* mirror entry */
	int			 pt_conns;
	int			 pt_dead;
	struct cfg_target	 pt_cfg;	/* name (the id), CHAP */
	struct lu_quota		 pt_quota;
	uint64_t		*pt_used;	/* the shared quota page */
};

TAILQ_HEAD(psess_tgts, psess_tgt);

static struct {
	struct worker		*ps_w;
	struct psess_tgts	 ps_tgts;
	struct event		*ps_timer;
	struct psess_ment	 ps_ent;	/* scratch copy of an entry */
} ps = { .ps_tgts = TAILQ_HEAD_INITIALIZER(ps.ps_tgts) };

static int
psess_quota_map(struct worker *w, struct psess_tgt *pt)
{
	char	 path[CFG_PATH_MAX + 64];

	psess_path(w, pt->pt_id, ".quota", path, sizeof(path));
	if ((pt->pt_used = lu_quota_page(path, NULL, NULL)) == NULL)
		return -1;
	pt->pt_quota.q_shared = pt->pt_used;
	return 0;
}

static struct psess_tgt *
psess_build(struct worker *w, int idx, const struct psess_ment *e)
{
	const struct psess_rec	*r = &e->me_rec;
	struct psess_tgt	*pt;
	struct target		*t;
	int			 i;

	if ((pt = calloc(1, sizeof(*pt))) == NULL)
		return NULL;
	pt->pt_id = r->ps_id;
	pt->pt_idx = idx;
	t = &pt->pt_t;
	t->tg_kind = TARGET_PSESS;
	snprintf(t->tg_iqn, sizeof(t->tg_iqn), "%s:%s", w->w_cfg->c_iqn_prefix,
	    r->ps_iqn);
	psess_id_fmt(r->ps_id, pt->pt_cfg.tg_name);
	snprintf(pt->pt_cfg.tg_chap_user, sizeof(pt->pt_cfg.tg_chap_user),
	    "%s", r->ps_user);
	snprintf(pt->pt_cfg.tg_chap_secret, sizeof(pt->pt_cfg.tg_chap_secret),
	    "%s", r->ps_secret);
	snprintf(pt->pt_cfg.tg_tier, sizeof(pt->pt_cfg.tg_tier), "%s",
	    r->ps_tier);
	t->tg_cfg = &pt->pt_cfg;
	t->tg_tier = config_tier(w->w_cfg, r->ps_tier);
	for (i = 0; i < r->ps_nluns && i < SCSI_MAX_LUNS; i++)
		if ((t->tg_images[i] = catalog_image(w, r->ps_images[i])) == NULL)
			log_warnx("session %s: image %s missing, LUN %d absent",
			    pt->pt_cfg.tg_name, r->ps_images[i], i);
	t->tg_nimages = i;
	pt->pt_quota.q_limit = r->ps_quota;
	t->tg_quota = &pt->pt_quota;
	TAILQ_INSERT_TAIL(&ps.ps_tgts, pt, pt_entry);
	return pt;
}

static void
psess_free(struct psess_tgt *pt)
{
	TAILQ_REMOVE(&ps.ps_tgts, pt, pt_entry);
	target_release_shared(&pt->pt_t);
	if (pt->pt_used != NULL)
		munmap(pt->pt_used, LU_QUOTA_PAGE);
	OPENSSL_cleanse(&pt->pt_cfg, sizeof(pt->pt_cfg));
	free(pt);
}

/*
 * target_find's last resort: the provisioned session named iqn
 * (<iqn-prefix>:<suffix>), or NULL.
 */
struct target *
ptarget_find(struct worker *w, const char *iqn)
{
	const char		*pfx = w->w_cfg->c_iqn_prefix;
	struct psess_mirror	*m;
	struct psess_tgt	*pt;
	size_t			 n = strlen(pfx);
	int			 idx;

	if (strncasecmp(iqn, pfx, n) != 0 || iqn[n] != ':' ||
	    strlen(iqn + n + 1) >= PSESS_IQN_MAX || iqn[n + 1] == '\0' ||
	    (m = psess_mirror(w)) == NULL)
		return NULL;
	if ((idx = psess_mirror_find(m, 0, iqn + n + 1, &ps.ps_ent)) == -1)
		return NULL;
	TAILQ_FOREACH(pt, &ps.ps_tgts, pt_entry)
		if (pt->pt_id == ps.ps_ent.me_rec.ps_id && !pt->pt_dead)
			return &pt->pt_t;
	if ((pt = psess_build(w, idx, &ps.ps_ent)) == NULL)
		return NULL;
	return &pt->pt_t;
}

static struct conn *
psess_conn_by_id(struct worker *w, uint64_t id)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &w->w_conns, c_entry)
		if (c->c_id == id)
			return c;
	return NULL;
}

static void
psess_force_close(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c;

	(void)fd;
	(void)ev;
	if ((c = psess_conn_by_id(ps.ps_w, (uint64_t)(uintptr_t)arg)) != NULL)
		conn_close(c, "provisioned session ended");
}

/* Ask the initiator to log out, and close in any case a bit later. */
static void
psess_logout(struct conn *c)
{
	struct timeval	 tv = { PSESS_LOGOUT_SECS + 1, 0 };

	if (c->c_state == CONN_FFP)
		iscsi_async_logout(c, PSESS_LOGOUT_SECS);
	event_base_once(c->c_w->w_base, -1, EV_TIMEOUT, psess_force_close,
	    (void *)(uintptr_t)c->c_id, &tv);
}

static void
psess_touched(struct worker *w, const struct shmq_msg *m, void *arg)
{
	struct conn	*c;

	if (m->m_status == 0)
		return;
	if ((c = psess_conn_by_id(w, (uint64_t)(uintptr_t)arg)) == NULL)
		return;
	log_info("connection %llu: provisioned session refused it: %s",
	    (unsigned long long)c->c_id, strerror((int)m->m_status));
	psess_logout(c);
}

static void
psess_touch(struct conn *c, const struct psess_tgt *pt, int start)
{
	struct psess_touch	 t;
	struct shmq_msg		 m;

	memset(&t, 0, sizeof(t));
	t.pt_id = pt->pt_id;
	t.pt_start = start;
	t.pt_from = start ? c->c_prev_id : 0;	/* came from another worker */
	t.pt_conn.pc_conn = c->c_id;
	t.pt_conn.pc_slot = (uint32_t)c->c_w->w_slot;
	snprintf(t.pt_conn.pc_peer, sizeof(t.pt_conn.pc_peer), "%s",
	    c->c_peer);
	snprintf(t.pt_conn.pc_initiator, sizeof(t.pt_conn.pc_initiator),
	    "%.*s", (int)sizeof(t.pt_conn.pc_initiator) - 1,
	    c->c_login.l_initiator);
	psess_msg_touch(&m, &t);
	if (ipc_request(c->c_w, &m, start ? psess_touched : NULL,
	    (void *)(uintptr_t)c->c_id) != 0)
		log_warnx("%s: cannot reach the coordinator", __func__);
}

/*
 * A connection is being attached to a provisioned target: counted, and
 * the quota page mapped before its LUs are made.
 */
int
ptarget_prepare(struct conn *c)
{
	struct psess_tgt	*pt = (struct psess_tgt *)c->c_target;

	pt->pt_conns++;
	if (pt->pt_used == NULL && psess_quota_map(c->c_w, pt) == -1)
		return -1;
	return 0;
}

/*
 * Its LUs exist: tell the coordinator (only now, so that a session
 * ending meanwhile has its files removed after they were made).
 */
void
ptarget_attach(struct conn *c)
{
	struct psess_tgt	*pt = (struct psess_tgt *)c->c_target;

	psess_touch(c, pt, 1);
	if (pt->pt_dead)
		psess_logout(c);
}

/*
 * That connection is going away: the last one frees the target.  One
 * moved to another worker has not ended: the coordinator hears of it
 * from the worker that took it (a move, psess_touch), never an end
 * that would close a non-persistent session under it.
 */
void
ptarget_detach(struct conn *c, int moved)
{
	struct psess_tgt	*pt = (struct psess_tgt *)c->c_target;

	if (!moved)
		psess_touch(c, pt, 0);
	c->c_target = NULL;
	if (--pt->pt_conns <= 0)
		psess_free(pt);
}

static void
psess_check(evutil_socket_t fd, short ev, void *arg)
{
	struct worker		*w = arg;
	struct psess_tgt	*pt, *tmp;
	struct conn		*c, *next;
	uint64_t		 id;

	(void)fd;
	(void)ev;
	TAILQ_FOREACH_SAFE(pt, &ps.ps_tgts, pt_entry, tmp) {
		if (pt->pt_dead && pt->pt_conns == 0) {
			psess_free(pt);
			continue;
		}
		if (pt->pt_dead || (psess_mirror_peek(psess_mirror(w), pt->pt_idx,
		    &id) && id == pt->pt_id))
			continue;
		pt->pt_dead = 1;
		log_info("session %s ended: asking %d connection(s) to log out",
		    pt->pt_cfg.tg_name, pt->pt_conns);
		TAILQ_FOREACH_SAFE(c, &w->w_conns, c_entry, next)
			if (c->c_target == &pt->pt_t)
				psess_logout(c);
	}
}

int
ptarget_start(struct worker *w)
{
	struct timeval	 tv = { 1, 0 };

	ps.ps_w = w;
	ps.ps_timer = event_new(w->w_base, -1, EV_PERSIST, psess_check, w);
	if (ps.ps_timer == NULL || event_add(ps.ps_timer, &tv) == -1)
		return -1;
	return 0;
}

