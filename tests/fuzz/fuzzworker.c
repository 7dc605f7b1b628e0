/*
 * The worker the fuzzing harnesses drive: an in-process worker
 * (tests/worker/tworker.c, which stands in for the coordinator without
 * ever kicking a session) with a catalog of two images, a configuration
 * of CHAP, read-only and reserved targets, and a provisioned-sessions
 * mirror of two sessions, written here as the coordinator would.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "cowmap.h"
#include "fuzzenv.h"
#include "pr.h"
#include "prstate.h"
#include "psess.h"

static const char fz_conf[] =
    "iqn-prefix " FZ_PREFIX "\n"
    "listen 127.0.0.1:3260\n"
    "tier gold quota 1M ttl 1h persistent yes pr yes luns 4\n"
    "api-token " FZ_TOKEN " tier gold\n"
    "target vault alpha,beta chap " FZ_VAULT_USER " " FZ_VAULT_SECRET
    " mutual " FZ_VAULT_MUSER " " FZ_VAULT_MSECRET "\n"
    "target ro beta readonly\n";

static struct pr_lu	*fz_ghost;

static void
fz_session(struct psess_mirror *m, int idx, uint64_t id, const char *iqn,
    uint64_t owner)
{
	struct psess_ment	*e = psess_mirror_entry(m, idx);
	struct psess_rec	*r = &e->me_rec;

	psess_mirror_begin(e);
	memset(r, 0, sizeof(*r));
	r->ps_id = id;
	r->ps_owner = owner;
	r->ps_created = 1767225600;
	r->ps_ttl = 3600;
	r->ps_quota = 1 << 20;
	r->ps_flags = PSESS_F_PERSISTENT | PSESS_F_PR;
	r->ps_nluns = 2;
	snprintf(r->ps_tier, sizeof(r->ps_tier), "gold");
	snprintf(r->ps_iqn, sizeof(r->ps_iqn), "%s", iqn);
	snprintf(r->ps_user, sizeof(r->ps_user), FZ_PSESS_USER);
	snprintf(r->ps_secret, sizeof(r->ps_secret), FZ_PSESS_SECRET);
	snprintf(r->ps_images[0], CFG_NAME_MAX, "alpha");
	snprintf(r->ps_images[1], CFG_NAME_MAX, "beta");
	e->me_used = 1;
	e->me_nconns = 0;
	psess_mirror_end(e);
}

/* The coordinator's mirror: one session of FZ_TOKEN, one of 127.0.0.1. */
static void
fz_mirror(struct tworker *fw)
{
	struct psess_mirror	*m;
	char			 path[1024];

	snprintf(path, sizeof(path), "%s/state/%s", fw->tw_dir,
	    PSESS_MIRROR_FILE);
	if ((m = psess_mirror_open(path, 1)) == NULL)
		abort();
	fz_session(m, 3, FZ_PSESS_ID, FZ_PSESS_IQN,
	    api_owner_hash("token", FZ_TOKEN));
	fz_session(m, 7, FZ_MINE_ID, FZ_MINE_IQN,
	    api_owner_hash("addr", "127.0.0.1"));
	psess_mirror_publish(m);
	psess_mirror_close(m);
}

void
fz_worker_init(struct tworker *fw, const char *tag, const int *api,
    int napi)
{
	char	 dir[1024];

	if (tw_dirs(fw, fz_scratch(tag)) == -1)
		abort();
	snprintf(dir, sizeof(dir), "%s/images", fw->tw_dir);
	fz_image(dir, "alpha.img", 256 * 1024, 1);
	fz_image(dir, "beta.img", 128 * 1024, 5);
	if (tw_config(fw, fz_conf) == -1)
		abort();
	fz_mirror(fw);
	if (tw_start(fw, api, napi) == -1) {
		fprintf(stderr, "fuzz: cannot start the worker\n");
		abort();
	}
	fz_ghost_reserve(fw);
}

/*
 * Between two inputs, with every connection gone: the static targets
 * let go of their shared LUs, and their files (and the provisioned
 * sessions') are removed, so that each input starts from the same
 * state.  The ghost reservation is made again.
 */
void
fz_worker_reset(struct tworker *fw)
{
	struct target	*t;
	struct dirent	*de;
	DIR		*d;
	char		 dir[1024], p[1400];

	TAILQ_FOREACH(t, &fw->tw_w.w_targets, tg_entry)
		if (t->tg_kind == TARGET_STATIC)
			target_release_shared(t);
	snprintf(dir, sizeof(dir), "%s/state/overlays", fw->tw_dir);
	if ((d = opendir(dir)) == NULL)
		abort();
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	fz_ghost_reserve(fw);
}

/*
 * LUN 1 of the static target "vault" is held by a nexus that never logs
 * in, FZ_GHOST, with a WRITE EXCLUSIVE reservation, as another worker
 * would have left it in the LU's mirror.
 */
void
fz_ghost_reserve(struct tworker *fw)
{
	struct pr_state	*st;
	struct pr_nexus	*pn;
	char		 p[1024];

	pr_lu_close(fz_ghost);
	snprintf(p, sizeof(p), "%s/state/overlays/static-vault-1.pr",
	    fw->tw_dir);
	if ((fz_ghost = pr_lu_open(p)) == NULL ||
	    (st = pr_begin(fz_ghost)) == NULL)
		abort();
	pn = &st->ps_nexus[0];
	memset(pn, 0, sizeof(*pn));
	snprintf(pn->pn_name, sizeof(pn->pn_name), FZ_GHOST);
	pn->pn_isid[0] = 0x80;
	pn->pn_isid[5] = 0x99;
	pn->pn_key = FZ_GHOST_KEY;
	pn->pn_flags = PN_REG;
	pn->pn_relport = 1;
	st->ps_type = PR_TYPE_WE;
	st->ps_holder = 1;
	st->ps_generation = 1;
	pr_commit(fz_ghost);
}

/* Does FZ_GHOST still hold its reservation? */
int
fz_ghost_holds(struct tworker *fw)
{
	static struct pr_state	 st;
	const struct pr_nexus	*pn = &st.ps_nexus[0];

	(void)fw;
	pr_lu_snapshot(fz_ghost, &st);
	return st.ps_type == PR_TYPE_WE && st.ps_holder == 1 &&
	    (pn->pn_flags & PN_REG) && strcmp(pn->pn_name, FZ_GHOST) == 0;
}

/*
 * Has anything reached the shared LU state/overlays/NAME: data in its
 * overlay, or a block marked in its map (written or deallocated)?
 */
int
fz_overlay_written(struct tworker *fw, const char *name)
{
	struct stat	 st;
	char		 p[1024], buf[4096];
	ssize_t		 n, i;
	off_t		 off = COWMAP_BITS;
	int		 fd;

	snprintf(p, sizeof(p), "%s/state/overlays/%s.ovl", fw->tw_dir, name);
	if (stat(p, &st) == 0 && (st.st_size != 0 || st.st_blocks != 0))
		return 1;
	snprintf(p, sizeof(p), "%s/state/overlays/%s.map", fw->tw_dir, name);
	if ((fd = open(p, O_RDONLY)) == -1)
		return 0;
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		for (i = 0; i < n; i++)
			if (buf[i] != 0) {
				close(fd);
				return 1;
			}
		off += n;
	}
	close(fd);
	return 0;
}
