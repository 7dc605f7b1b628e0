/*
 * A worker run inside a fuzzing harness, set up by worker_init() as
 * worker_main() sets one up, from a real configuration file and a
 * catalog of two images, with no master and no coordinator process.
 * In place of the coordinator, fz_coord_step() answers every request on
 * the worker's shmq ring at once with success (or what the harness's
 * hook says), as a coordinator whose LMDB never fails would; it does not
 * kick sessions.  The provisioned-sessions mirror holds two sessions,
 * written here as the coordinator would.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "api.h"
#include "config.h"
#include "cowmap.h"
#include "fuzzenv.h"
#include "pr.h"
#include "proc.h"
#include "prstate.h"
#include "psess.h"
#include "shmq.h"

#define FZ_PUMP_MAX	200000	/* loop passes before "never idle" */
#define FZ_PUMP_QUIET	3	/* passes without progress: idle */

static const char fz_conf[] =
    "image-dir %s/images\n"
    "state-dir %s/state\n"
    "iqn-prefix " FZ_PREFIX "\n"
    "listen 127.0.0.1:3260\n"
    "tier gold quota 1M ttl 1h persistent yes pr yes luns 4\n"
    "api-token " FZ_TOKEN " tier gold\n"
    "target vault alpha,beta chap " FZ_VAULT_USER " " FZ_VAULT_SECRET
    " mutual " FZ_VAULT_MUSER " " FZ_VAULT_MSECRET "\n"
    "target ro beta readonly\n";

static struct pr_lu	*fz_ghost;

static void
fz_config(struct fz_worker *fw)
{
	char	 path[1024];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/scsipubd.conf", fw->fw_dir);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fprintf(f, fz_conf, fw->fw_dir, fw->fw_dir);
	fclose(f);
	if ((fw->fw_cfg = config_new()) == NULL ||
	    config_load(fw->fw_cfg, path, stderr) != 0) {
		fprintf(stderr, "%s: the harness's configuration is bad\n",
		    path);
		abort();
	}
}

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
fz_mirror(struct fz_worker *fw)
{
	struct psess_mirror	*m;
	char			 path[1024];

	snprintf(path, sizeof(path), "%s/state/%s", fw->fw_dir,
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

/*
 * As the master starts a worker: worker_init() with a control socket
 * (its other end ours) and the shmq region, slot 0.
 */
static void
fz_worker_start(struct fz_worker *fw, const int *api, int napi)
{
	struct proc_env	 env;
	int		 sv[2], i;

	memset(&env, 0, sizeof(env));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1 ||
	    (env.pe_region = shmq_region_create(1)) == NULL)
		abort();
	fw->fw_ctl = sv[0];
	fcntl(fw->fw_ctl, F_SETFL, O_NONBLOCK);
	shmq_slot_claim(env.pe_region, 0, getpid());
	env.pe_cfg = fw->fw_cfg;
	env.pe_ctl = sv[1];
	for (i = 0; i < napi && i < CFG_MAX_LISTEN; i++)
		env.pe_api[env.pe_napi++] = api[i];
	if (worker_init(&fw->fw_w, &env) != 0) {
		fprintf(stderr, "fuzz: cannot start the worker\n");
		abort();
	}
}

void
fz_worker_init(struct fz_worker *fw, const char *tag, const int *api,
    int napi)
{
	char	 dir[1024];

	signal(SIGPIPE, SIG_IGN);
	memset(fw, 0, sizeof(*fw));
	snprintf(fw->fw_dir, sizeof(fw->fw_dir), "%s", fz_scratch(tag));
	fz_mkdir(fw->fw_dir, "images");
	fz_mkdir(fw->fw_dir, "state");
	fz_mkdir(fw->fw_dir, "state/overlays");
	snprintf(dir, sizeof(dir), "%s/images", fw->fw_dir);
	fz_image(dir, "alpha.img", 256 * 1024, 1);
	fz_image(dir, "beta.img", 128 * 1024, 5);
	fz_config(fw);
	fz_mirror(fw);
	fz_worker_start(fw, api, napi);
	fz_ghost_reserve(fw);
}

/*
 * The coordinator's side of the ring: every request answered with
 * success (or what the hook says).  Returns the number answered.
 */
int
fz_coord_step(struct fz_worker *fw)
{
	struct shmq_region	*rg = fw->fw_w.w_region;
	struct shmq_msg		 m;
	uint32_t		 status;
	int			 r, n = 0;

	while ((r = shmq_request_peek(rg, 0, 0, &m)) != 0) {
		if (r == 1) {
			status = fw->fw_hook != NULL ?
			    fw->fw_hook(&m, fw->fw_arg) : 0;
			m.m_status = status;
			m.m_len = 0;
			if (shmq_response_push(rg, 0, &m) != 0)
				break;	/* full: let the worker drain */
		}
		shmq_request_release(rg, 0, 1);
		n++;
	}
	if (n > 0)
		shmq_worker_notify(rg, 0);
	return n;
}

/* What the worker tells the master (connections closed): read, dropped. */
static void
fz_ctl_drain(struct fz_worker *fw)
{
	uint8_t	 buf[256];

	while (read(fw->fw_ctl, buf, sizeof(buf)) > 0)
		continue;
}

/*
 * Run the worker's loop until nothing moves: no event active, nothing
 * for the coordinator, and io (the harness's side: read what came back,
 * look at what is still unread) reporting no progress.  0 when idle,
 * -1 when the worker never settled.
 */
int
fz_pump(struct fz_worker *fw, int (*io)(void *), void *arg)
{
	struct event_base	*base = fw->fw_w.w_base;
	int			 i, quiet = 0, moved;

	for (i = 0; i < FZ_PUMP_MAX && quiet < FZ_PUMP_QUIET; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		fz_ctl_drain(fw);
		moved = fz_coord_step(fw);
		moved += io != NULL ? io(arg) : 0;
		moved += event_base_get_num_events(base,
		    EVENT_BASE_COUNT_ACTIVE);
		quiet = moved != 0 ? 0 : quiet + 1;
	}
	return quiet >= FZ_PUMP_QUIET ? 0 : -1;
}

/*
 * Between two inputs, with every connection gone: the static targets
 * let go of their shared LUs, and their files (and the provisioned
 * sessions') are removed, so that each input starts from the same
 * state.  The ghost reservation is made again.
 */
void
fz_worker_reset(struct fz_worker *fw)
{
	struct target	*t;
	struct dirent	*de;
	DIR		*d;
	char		 dir[1024], p[1400];

	TAILQ_FOREACH(t, &fw->fw_w.w_targets, tg_entry)
		if (t->tg_kind == TARGET_STATIC)
			target_release_shared(t);
	snprintf(dir, sizeof(dir), "%s/state/overlays", fw->fw_dir);
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
fz_ghost_reserve(struct fz_worker *fw)
{
	struct pr_state	*st;
	struct pr_nexus	*pn;
	char		 p[1024];

	pr_lu_close(fz_ghost);
	snprintf(p, sizeof(p), "%s/state/overlays/static-vault-1.pr",
	    fw->fw_dir);
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
fz_ghost_holds(struct fz_worker *fw)
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
fz_overlay_written(struct fz_worker *fw, const char *name)
{
	struct stat	 st;
	char		 p[1024], buf[4096];
	ssize_t		 n, i;
	off_t		 off = COWMAP_BITS;
	int		 fd;

	snprintf(p, sizeof(p), "%s/state/overlays/%s.ovl", fw->fw_dir, name);
	if (stat(p, &st) == 0 && (st.st_size != 0 || st.st_blocks != 0))
		return 1;
	snprintf(p, sizeof(p), "%s/state/overlays/%s.map", fw->fw_dir, name);
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
