/*
 * Targets a worker serves: the catalog of images in image-dir (a public
 * target per image and <prefix>:multi with all of them), and the static
 * targets of the configuration, whose overlays are shared.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "digest.h"
#include "hash.h"
#include "iscsi.h"
#include "log.h"
#include "lu.h"
#include "netaddr.h"
#include "prstate.h"

static struct target *
target_new(struct worker *w, enum target_kind kind, const char *name)
{
	struct target	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		fatal("%s", __func__);
	t->tg_kind = kind;
	config_image_iqn(w->w_cfg, name, t->tg_iqn, sizeof(t->tg_iqn));
	t->tg_tier = config_tier(w->w_cfg, "anonymous");
	TAILQ_INSERT_TAIL(&w->w_targets, t, tg_entry);
	return t;
}

static void
target_static(struct worker *w, const struct cfg_target *ct)
{
	struct target	*t;
	struct image	*im;
	int		 i;

	t = target_new(w, TARGET_STATIC, ct->tg_name);
	t->tg_cfg = ct;
	if (ct->tg_tier[0] != '\0')
		t->tg_tier = config_tier(w->w_cfg, ct->tg_tier);
	for (i = 0; i < ct->tg_nimages; i++) {
		if ((im = catalog_image(w, ct->tg_images[i])) == NULL) {
			log_warnx("target %s: image %s missing, LUN %d absent",
			    ct->tg_name, ct->tg_images[i], i);
			continue;
		}
		t->tg_images[i] = im;
	}
	t->tg_nimages = ct->tg_nimages;
}

/* The catalog, and a target for each image, :multi, each static one. */
int
target_load(struct worker *w)
{
	struct target	*t;
	int		 i, luns;

	TAILQ_INIT(&w->w_targets);
	if (catalog_load(w) == -1)
		return -1;
	for (i = 0; i < w->w_nimages; i++) {
		t = target_new(w, TARGET_PUBLIC, w->w_images[i]->im_name);
		t->tg_images[0] = w->w_images[i];
		t->tg_nimages = 1;
	}
	t = target_new(w, TARGET_MULTI, "multi");
	luns = t->tg_tier != NULL ? t->tg_tier->ct_luns : SCSI_MAX_LUNS;
	for (i = 0; i < w->w_nimages && i < luns && i < SCSI_MAX_LUNS; i++)
		t->tg_images[t->tg_nimages++] = w->w_images[i];
	for (i = 0; i < w->w_cfg->c_ntargets; i++)
		target_static(w, w->w_cfg->c_targets[i]);
	log_debug("%s: %d images", __func__, w->w_nimages);
	return 0;
}

struct target *
target_find(struct worker *w, const char *iqn)
{
	struct target	*t;

	TAILQ_FOREACH(t, &w->w_targets, tg_entry)
		if (strcasecmp(t->tg_iqn, iqn) == 0)
			return t;
	return ptarget_find(w, iqn);
}

static int
target_visible(struct worker *w, const struct target *t)
{
	if (t->tg_kind != TARGET_STATIC || t->tg_cfg->tg_chap_user[0] == '\0')
		return 1;
	return w->w_cfg->c_disc_user[0] != '\0';
}

/* Login lookup: does the target exist, and what does it require? */
int
target_lookup(void *arg, const char *initiator, const char *name,
    struct login_target *lt)
{
	struct conn	*c = arg;
	struct worker	*w = c->c_w;
	struct target	*t;

	(void)initiator;
	memset(lt, 0, sizeof(*lt));
	lt->lt_tpgt = 1;
	if (name == NULL) {
		lt->lt_exists = 1;
		if (w->w_cfg->c_disc_user[0] != '\0') {
			lt->lt_chap = 1;
			snprintf(lt->lt_chap_user, sizeof(lt->lt_chap_user),
			    "%s", w->w_cfg->c_disc_user);
			snprintf(lt->lt_chap_secret, sizeof(lt->lt_chap_secret),
			    "%s", w->w_cfg->c_disc_secret);
		}
		return 0;
	}
	if ((t = target_find(w, name)) == NULL)
		return 0;
	lt->lt_exists = 1;
	if (w->w_cfg->c_cluster.cc_on && redirect_login(c, t, lt->lt_redirect,
	    sizeof(lt->lt_redirect)) == -1)
		return -1;	/* not in the cluster yet: target error */
	if ((t->tg_kind == TARGET_STATIC || t->tg_kind == TARGET_PSESS) &&
	    t->tg_cfg->tg_chap_user[0] != '\0') {
		lt->lt_chap = 1;
		snprintf(lt->lt_chap_user, sizeof(lt->lt_chap_user), "%s",
		    t->tg_cfg->tg_chap_user);
		snprintf(lt->lt_chap_secret, sizeof(lt->lt_chap_secret), "%s",
		    t->tg_cfg->tg_chap_secret);
		snprintf(lt->lt_mchap_user, sizeof(lt->lt_mchap_user), "%s",
		    t->tg_cfg->tg_mchap_user);
		snprintf(lt->lt_mchap_secret, sizeof(lt->lt_mchap_secret),
		    "%s", t->tg_cfg->tg_mchap_secret);
	}
	return 0;
}

/*
 * Persistent reservations follow the tier's "pr"; a static target given
 * no tier has them (the built-in anonymous tier, "pr no", is for the
 * public targets).
 */
static int
target_pr_enabled(const struct target *t)
{
	if (t->tg_kind == TARGET_STATIC && t->tg_cfg != NULL &&
	    t->tg_cfg->tg_tier[0] == '\0')
		return 1;
	return t->tg_tier != NULL && t->tg_tier->ct_pr;
}

/*
 * The identity of an LU (its NAA designator and unit serial number)
 * follows its data.  A shared LU's is its target's IQN, image and LUN:
 * the same through every connection, worker and node.  A private
 * overlay's is its target's IQN and image, what names its files (path:
 * the session's directory and group, its LUN, or a :multi session's
 * image, whatever LUN it has now) and, in a cluster, the node that
 * holds them: two overlays never have one identity, and a session
 * given its overlay back (handed over, retained for an initiator that
 * comes back) keeps it.
 */
static uint64_t
target_lu_id(const struct conn *c, const struct image *im, int lun,
    const char *path)
{
	const struct config *cfg = c->c_w->w_cfg;
	const char	*ovl = c->c_w->w_ovldir;
	uint64_t	 h;
	uint8_t		 l = (uint8_t)lun;

	h = fnv1a(FNV1A_INIT, c->c_target->tg_iqn,
	    strlen(c->c_target->tg_iqn));
	h = fnv1a(h, im->im_name, strlen(im->im_name));
	if (path == NULL)
		return fnv1a(h, &l, 1);
	if (cfg->c_cluster.cc_on)
		h = fnv1a(h, cfg->c_cluster.cc_node,
		    strlen(cfg->c_cluster.cc_node) + 1);
	if (strncmp(path, ovl, strlen(ovl)) == 0)
		path += strlen(ovl);
	return fnv1a(h, path, strlen(path) + 1);
}

/*
 * A static target whose tier sets a quota: one account for all its LUNs
 * on every worker, a counter in shared memory, the file
 * state-dir/overlays/static-NAME.quota (as a provisioned session's).  A
 * new counter starts at what the LUNs' maps already record, computed by
 * the first worker under a lock on the file while the others wait.
 */
#define QUOTA_MAGIC	0x73637175u	/* "scqu": the counter is set */

struct target_quota_init {
	struct worker	*qi_w;
	struct target	*qi_t;
};

/* Under the file's lock: a counter not set yet starts from the maps. */
static void
target_quota_init(uint64_t *p, void *arg)
{
	struct target_quota_init *qi = arg;
	struct target	*t = qi->qi_t;
	const char	*dir = qi->qi_w->w_cfg->c_state_dir;
	const char	*name = t->tg_cfg->tg_name;
	char		 path[CFG_PATH_MAX + 200];
	uint64_t	 used = 0;
	int		 i;

	if (__atomic_load_n(&p[1], __ATOMIC_ACQUIRE) == QUOTA_MAGIC)
		return;
	if (qi->qi_w->w_cfg->c_cluster.cc_on) {	/* the coordinator counts */
		__atomic_store_n(&p[1], QUOTA_MAGIC, __ATOMIC_RELEASE);
		return;
	}
	for (i = 0; i < t->tg_nimages; i++) {
		if (t->tg_images[i] == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/overlays/static-%s-%d.map",
		    dir, name, i);
		used += lu_cow_file_mapped_bytes(path, t->tg_images[i]->im_size,
		    qi->qi_w->w_cfg->c_block_size);
	}
	__atomic_store_n(&p[0], used, __ATOMIC_RELAXED);
	__atomic_store_n(&p[1], QUOTA_MAGIC, __ATOMIC_RELEASE);
	log_info("target %s: quota %llu of %llu bytes used", name,
	    (unsigned long long)used, (unsigned long long)t->tg_tier->ct_quota);
}

static int
target_quota_open(struct worker *w, struct target *t)
{
	struct target_quota_init qi = { w, t };
	char		 path[CFG_PATH_MAX + 200];
	uint64_t	*p;

	snprintf(path, sizeof(path), "%s/overlays/static-%s.quota",
	    w->w_cfg->c_state_dir, t->tg_cfg->tg_name);
	if ((p = lu_quota_page(path, target_quota_init, &qi)) == NULL)
		return -1;
	t->tg_squota.q_limit = t->tg_tier->ct_quota;
	t->tg_squota.q_shared = p;
	t->tg_quota = &t->tg_squota;
	return 0;
}

/*
 * An anonymous session's files live in state-dir/overlays/anon-KEY/,
 * KEY a digest of its initiator name, target and source address: its
 * quota counter I-ISID.quota (held locked while the session lives) and
 * each written LUN's I-ISID-LUN.ovl and .map; "lost" when the
 * coordinator deleted a session nobody came back for.
 */
static char *
target_anon_dir(struct conn *c)
{
	char		 name[DIGEST_ANON_DIR_LEN + 1], *p;

	if (digest_anon_dir(c->c_login.l_initiator, c->c_target->tg_iqn,
	    c->c_addr, name) == -1)
		return NULL;
	if (asprintf(&p, "%s/%s", c->c_w->w_ovldir, name) == -1)
		return NULL;
	return p;
}

/* Use the files of group (DIR/I-ISID): c_anon and the counter's path. */
static int
target_anon_use(struct conn *c, const char *dir, const char *group)
{
	free(c->c_anon);
	free(c->c_quota_acct.q_page);
	c->c_quota_acct.q_page = NULL;
	if (asprintf(&c->c_anon, "%s/%s", dir, group) == -1) {
		c->c_anon = NULL;
		return -1;
	}
	if (asprintf(&c->c_quota_acct.q_page, "%s.quota", c->c_anon) == -1) {
		c->c_quota_acct.q_page = NULL;
		return -1;
	}
	return 0;
}

/*
 * No files of its own ISID: a group nobody holds, of the same initiator
 * name, target and address, is taken over (libiscsi reconnects with a
 * new ISID); an exclusive lock decides between two logins.  1 if one.
 */
static int
target_anon_claim(struct conn *c, const char *dir)
{
	struct dirent	*de;
	char		 group[64];
	size_t		 n;
	DIR		*d;
	int		 got = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while (!got && (de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (strncmp(de->d_name, "I-", 2) != 0 || n < 8 || n > 40 ||
		    strcmp(de->d_name + n - 6, ".quota") != 0)
			continue;
		snprintf(group, sizeof(group), "%.*s", (int)(n - 6),
		    de->d_name);
		if (target_anon_use(c, dir, group) == 0 &&
		    lu_quota_claim(&c->c_quota_acct) == 0)
			got = 1;
	}
	closedir(d);
	return got;
}

/*
 * Which files the anonymous session uses.  Its own ISID's, if a session
 * of it left them; else a group nobody holds (target_anon_claim); else
 * fresh ones under its ISID, made at its first write.  Returns 1 when
 * it takes over files, 0 fresh, -1 on failure; *lost: a session of
 * this identity was lost (its files deleted unclaimed).
 */
static int
target_anon_open(struct conn *c, int *lost)
{
	const uint8_t	*isid = c->c_login.l_isid;
	char		*dir, group[32], p[CFG_PATH_MAX + 200];
	struct stat	 sb;
	int		 rv = 0;

	if ((dir = target_anon_dir(c)) == NULL)
		return -1;
	snprintf(group, sizeof(group), "I-%02x%02x%02x%02x%02x%02x",
	    isid[0], isid[1], isid[2], isid[3], isid[4], isid[5]);
	/* the common case, a first login: no directory, nothing to look at */
	if (stat(dir, &sb) == -1 && errno == ENOENT) {
		rv = target_anon_use(c, dir, group);
		c->c_anon_fresh = rv == 0;
		free(dir);
		return rv;
	}
	if (target_anon_use(c, dir, group) == -1)
		rv = -1;
	else if (access(c->c_quota_acct.q_page, F_OK) == 0 &&
	    lu_quota_hold(&c->c_quota_acct) == 0)
		rv = 1;
	else if (target_anon_claim(c, dir))
		rv = 1;
	else if (target_anon_use(c, dir, group) == -1)
		rv = -1;
	snprintf(p, sizeof(p), "%s/lost", dir);
	*lost = rv == 0 && unlink(p) == 0;
	if (*lost)
		log_info("%s (%s) from %s: its anonymous session was lost",
		    c->c_login.l_initiator, c->c_login.l_target, c->c_peer);
	else if (rv == 1 && !c->c_handedover)
		log_info("%s (%s) from %s: the overlay of a session it lost "
		    "is back (%s)", c->c_login.l_initiator,
		    c->c_login.l_target, c->c_peer, strrchr(c->c_anon, '/') + 1);
	free(dir);
	return rv;
}

/*
 * A shared LU of a node in a cluster: the RBD clone of the target's or
 * session's LUN (worker/store/rbd.c), this node's files for it at path.
 */
static struct lu_cow *
target_lu_cluster(struct conn *c, struct image *im, int lun, const char *path)
{
	struct target	*t = c->c_target;
	char		 clone[CLUSTER_CLONE_MAX];

	if (cluster_clone_name(clone, sizeof(clone), t->tg_kind ==
	    TARGET_PSESS ? 's' : 't', t->tg_cfg->tg_name, lun) == -1)
		return NULL;
	return rbd_lu_shared(c->c_w, im, clone, path, t->tg_quota);
}

static void
target_anon_multi(const struct conn *c, const char *image, char *path,
    size_t len)
{
	snprintf(path, len, "%s-@%s", c->c_anon, image);
}

/*
 * An anonymous LU's files, PATH-LUN.ovl and .map.  A :multi session's
 * are named after the image, PATH-@NAME ('@' is in no image name), so
 * that they stay with it whatever LUN the catalog gives it; files a
 * previous build named after the LUN are renamed to that.
 */
static void
target_anon_path(struct conn *c, const struct image *im, int lun, char *path,
    size_t len)
{
	char	 old[CFG_PATH_MAX + 200], from[CFG_PATH_MAX + 220],
		 to[CFG_PATH_MAX + 220];
	size_t	 i;

	if (c->c_target->tg_kind != TARGET_MULTI) {
		snprintf(path, len, "%s-%d", c->c_anon, lun);
		return;
	}
	target_anon_multi(c, im->im_name, path, len);
	snprintf(old, sizeof(old), "%s-%d", c->c_anon, lun);
	if (c->c_anon_fresh || lu_anon_exists(path) || !lu_anon_exists(old))
		return;
	for (i = 0; i < 2; i++) {	/* the map last: it says they exist */
		snprintf(from, sizeof(from), "%s.%s", old, i ? "map" : "ovl");
		snprintf(to, sizeof(to), "%s.%s", path, i ? "map" : "ovl");
		if (rename(from, to) == -1 && errno != ENOENT)
			log_warn("%s: %s", __func__, from);
	}
}

/* The image at lun of c's target (:multi: of c's own LUN map), or NULL. */
static struct image *
target_lun_image(struct conn *c, int lun)
{
	if (c->c_lumap == NULL)
		return c->c_target->tg_images[lun];
	if (lun >= c->c_nlumap || c->c_lumap[lun].lm_image[0] == '\0')
		return NULL;
	return catalog_image(c->c_w, c->c_lumap[lun].lm_image);
}

/* Is name a LUN of c's map already? */
static int
target_lun_named(const struct conn *c, const char *name)
{
	int	 i;

	for (i = 0; i < c->c_nlumap; i++)
		if (strcmp(c->c_lumap[i].lm_image, name) == 0)
			return 1;
	return 0;
}

/*
 * The LUNs a handed-over :multi session had: an image gone from the
 * catalog leaves its LUN empty (its number never given to another
 * image; the image back, back there).  How many it keeps; *changed if
 * one went or came back.
 */
static int
target_multi_kept(struct conn *c, int *changed)
{
	struct lumap	*lm;
	int		 i, present = 0, here;

	for (i = 0; i < c->c_nlumap; i++) {
		lm = &c->c_lumap[i];
		if (lm->lm_image[0] == '\0')
			continue;
		here = catalog_image(c->c_w, lm->lm_image) != NULL;
		present += here;
		if (here == (lm->lm_served != 0))
			continue;
		log_info("%s (%s): LUN %d, image %s, %s the catalog",
		    c->c_login.l_initiator, c->c_login.l_target, i,
		    lm->lm_image, here ? "is back in" : "is gone from");
		*changed = 1;
	}
	return present;
}

/*
 * A :multi session's LUN map (c_lumap).  A new one follows the
 * catalog's name order.  One handed over keeps the images of the LUNs
 * it had (the record's map), and images new to the catalog take LUNs
 * after its last one.  1 if a handed-over session's LUN inventory
 * changed, 0 if not, -1 on failure.
 */
static int
target_multi_map(struct conn *c, struct target *t)
{
	struct lumap	*v;
	int		 i, n = c->c_nlumap, add = 0, changed = 0, room;
	int		 carried = c->c_lumap != NULL;	/* not an old record */

	if (t->tg_kind != TARGET_MULTI)
		return 0;
	room = (t->tg_tier != NULL ? t->tg_tier->ct_luns : SCSI_MAX_LUNS) -
	    target_multi_kept(c, &changed);
	if (room > SCSI_MAX_LUNS - n)
		room = SCSI_MAX_LUNS - n;
	for (i = 0; i < t->tg_nimages; i++)
		add += !target_lun_named(c, t->tg_images[i]->im_name);
	if (add > room)
		add = room > 0 ? room : 0;
	if ((v = reallocarray(c->c_lumap, n + add > 0 ? n + add : 1,
	    sizeof(*v))) == NULL)
		return -1;
	c->c_lumap = v;
	for (i = 0; i < t->tg_nimages && add > 0; i++) {
		if (target_lun_named(c, t->tg_images[i]->im_name))
			continue;
		memset(&v[n], 0, sizeof(v[n]));
		snprintf(v[n].lm_image, sizeof(v[n].lm_image), "%s",
		    t->tg_images[i]->im_name);
		c->c_nlumap = ++n;
		add--;
		changed = 1;
	}
	return changed && carried && c->c_handedover;
}

static struct lu *
target_lu_new(struct conn *c, struct image *im, int lun, int shared)
{
	struct worker	*w = c->c_w;
	struct target	*t = c->c_target;
	struct lu	*lu;
	char		 path[CFG_PATH_MAX + 200];

	if ((lu = calloc(1, sizeof(*lu))) == NULL)
		return NULL;
	lu->lu_image = im;
	if (shared && t->tg_kind == TARGET_STATIC && t->tg_quota == NULL &&
	    t->tg_cfg->tg_tier[0] != '\0' && t->tg_tier != NULL &&
	    t->tg_tier->ct_quota != 0 &&
	    target_quota_open(w, t) == -1) {
		free(lu);
		return NULL;
	}
	if (shared) {
		snprintf(path, sizeof(path), "%s/overlays/%s-%s-%d",
		    w->w_cfg->c_state_dir, t->tg_kind == TARGET_PSESS ?
		    "psess" : "static", t->tg_cfg->tg_name, lun);
		if (w->w_cfg->c_cluster.cc_on)	/* an RBD clone */
			lu->lu_cow = target_lu_cluster(c, im, lun, path);
		else if ((lu->lu_cow = lu_cow_shared(im, path,
		    w->w_cfg->c_block_size, t->tg_quota)) != NULL)
			lu_cow_log_enable(lu->lu_cow, commit_map_register(w,
			    lu->lu_cow, strrchr(path, '/') + 1));
	} else {
		target_anon_path(c, im, lun, path, sizeof(path));
		lu->lu_cow = lu_cow_anon(im, path, w->w_cfg->c_block_size,
		    &c->c_quota_acct, c->c_anon_fresh ? NULL : &lu->lu_existed);
	}
	if (lu->lu_cow == NULL) {
		free(lu);
		return NULL;
	}
	im->im_refs++;
	scsi_lu_init(&lu->lu_scsi, im->im_size / 512, 512, im->im_name,
	    target_lu_id(c, im, lun, shared ? NULL : path),
	    shared && w->w_cfg->c_cluster.cc_on ?
	    &lu_rbd_ops : &lu_cow_ops, lu->lu_cow);
	if (t->tg_cfg != NULL && t->tg_cfg->tg_readonly)
		lu->lu_scsi.lu_readonly = 1;
	/* a write's data is buffered whole: no more than a connection may */
	if (w->w_cfg->c_max_pending < lu->lu_scsi.lu_max_xfer)
		lu->lu_scsi.lu_max_xfer = (uint32_t)w->w_cfg->c_max_pending;
	lu->lu_scsi.lu_reset_gen = lu_cow_reset_gen(lu->lu_cow);
	lu->lu_scsi.lu_pr = lu_cow_pr(lu->lu_cow);
	lu->lu_scsi.lu_pr_anon = !shared;
	lu->lu_scsi.lu_pr_enabled = target_pr_enabled(t);
	return lu;
}

static void
target_lu_put(struct lu *lu)
{
	if (lu == NULL || --lu->lu_refs > 0)
		return;
	if (lu->lu_scsi.lu_pr_anon)
		pr_lu_close(lu->lu_scsi.lu_pr);
	lu->lu_image->im_refs--;
	if (lu->lu_scsi.lu_ops == &lu_rbd_ops)
		rbd_lu_free(lu->lu_cow);
	else
		lu_cow_free(lu->lu_cow);
	free(lu);
}

static struct lu *
target_lu_get(struct conn *c, int lun)
{
	struct target	*t = c->c_target;
	struct image	*im;
	struct lu	*lu;

	if ((im = target_lun_image(c, lun)) == NULL)
		return NULL;
	if (t->tg_kind != TARGET_STATIC && t->tg_kind != TARGET_PSESS) {
		if ((lu = target_lu_new(c, im, lun, 0)) != NULL)
			lu->lu_refs = 1;
		return lu;
	}
	if (t->tg_shared[lun] == NULL &&
	    (t->tg_shared[lun] = target_lu_new(c, t->tg_images[lun], lun,
	    1)) == NULL)
		return NULL;
	t->tg_shared[lun]->lu_refs++;
	if (t->tg_shared[lun]->lu_refs == 1)
		t->tg_shared[lun]->lu_refs++;	/* the target's own */
	return t->tg_shared[lun];
}

static void
target_nexus_init(struct conn *c, struct scsi_nexus *n)
{
	snprintf(n->n_initiator, sizeof(n->n_initiator), "%s",
	    c->c_login.l_initiator);
	memcpy(n->n_isid, c->c_login.l_isid, sizeof(n->n_isid));
	snprintf(n->n_target, sizeof(n->n_target), "%s", c->c_target->tg_iqn);
	n->n_tpgt = 1;
	n->n_relport = 1;
}

/*
 * Full feature phase of a normal session: build the LUN table.  An
 * anonymous session whose overlay a worker left (it died) gets its disk
 * back with POWER ON, RESET (29h/00h), not when handed over live; one
 * that was lost starts pristine with MEDIUM MAY HAVE CHANGED (28h/00h):
 * never silently another disk under the same name.  A :multi session
 * handed over keeps each LUN's image; an image added to or gone from
 * the catalog is told as REPORTED LUNS DATA HAS CHANGED (3Fh/0Eh).
 */
int
target_attach(struct conn *c)
{
	struct target	*t;
	struct lu	*lu;
	int		 i, lost = 0, adopted = 0, changed = 0;

	if ((t = target_find(c->c_w, c->c_login.l_target)) == NULL ||
	    (changed = target_multi_map(c, t)) == -1 ||
	    (c->c_nexus = scsi_nexus_new(c->c_lumap != NULL ?
	    c->c_nlumap : t->tg_nimages)) == NULL ||
	    (c->c_lus = calloc(c->c_nexus->n_cap, sizeof(*c->c_lus))) ==
	    NULL) {
		c->c_state = CONN_CLOSING;
		return -1;
	}
	c->c_nlus = c->c_nexus->n_cap;
	c->c_target = t;
	c->c_quota_acct.q_limit = t->tg_tier != NULL ? t->tg_tier->ct_quota :
	    0;
	if (t->tg_kind == TARGET_PSESS && ptarget_prepare(c) == -1) {
		c->c_state = CONN_CLOSING;
		return -1;
	}
	if (t->tg_kind != TARGET_STATIC && t->tg_kind != TARGET_PSESS &&
	    (adopted = target_anon_open(c, &lost)) == -1) {
		c->c_state = CONN_CLOSING;
		return -1;
	}
	target_nexus_init(c, c->c_nexus);
	for (i = 0; i < c->c_nlus; i++) {
		if ((lu = target_lu_get(c, i)) == NULL)
			continue;
		c->c_lus[i] = lu;
		scsi_nexus_attach(c->c_nexus, i, &lu->lu_scsi);
		if (lost)
			scsi_ua_set(&lu->lu_scsi, NULL, UA_MEDIUM_CHANGED);
		else if (adopted && !c->c_handedover)
			scsi_ua_set(&lu->lu_scsi, NULL, UA_POWER_ON);
	}
	if (changed)	/* the nexus's LUN inventory, not the LUs' */
		scsi_ua_set_nexus(c->c_nexus, UA_LUNS_CHANGED);
	if (t->tg_kind == TARGET_PSESS)
		ptarget_attach(c);
	return 0;
}

/*
 * A :multi session ended: the overlays of its LUNs whose image left
 * the catalog (no LU discarded them) go with the others.
 */
static void
target_multi_discard(struct conn *c)
{
	char	 path[CFG_PATH_MAX + 200];
	int	 i;

	for (i = 0; c->c_anon != NULL && i < c->c_nlumap; i++) {
		if (c->c_lumap[i].lm_image[0] == '\0')
			continue;
		target_anon_multi(c, c->c_lumap[i].lm_image, path,
		    sizeof(path));
		lu_anon_discard(path);
	}
}

/*
 * The connection leaves this worker: closed, or moved (handed live to
 * another worker, which carries its session on: no registry is told of
 * an end).
 */
void
target_detach(struct conn *c, int moved)
{
	int	 i;

	stats_conn_gone(c);
	if (c->c_nexus != NULL)
		scsi_nexus_detach(c->c_nexus);
	for (i = 0; i < c->c_nlus; i++) {
		/* an anonymous overlay goes when its session is ended */
		if (c->c_logged_out && c->c_lus[i] != NULL &&
		    c->c_anon != NULL)
			lu_cow_discard(c->c_lus[i]->lu_cow);
		target_lu_put(c->c_lus[i]);
		c->c_lus[i] = NULL;
	}
	if (c->c_logged_out)
		target_multi_discard(c);
	lu_quota_release(&c->c_quota_acct, c->c_logged_out);
	free(c->c_anon);
	c->c_anon = NULL;
	free(c->c_lumap);
	c->c_lumap = NULL;
	c->c_nlumap = 0;
	free(c->c_lus);
	c->c_lus = NULL;
	c->c_nlus = 0;
	scsi_nexus_free(c->c_nexus);
	c->c_nexus = NULL;
	if (c->c_target != NULL && c->c_target->tg_kind == TARGET_PSESS)
		ptarget_detach(c, moved);
}

/* Drop the target's own references to its shared LUs. */
void
target_release_shared(struct target *t)
{
	int	 i;

	for (i = 0; i < SCSI_MAX_LUNS; i++) {
		target_lu_put(t->tg_shared[i]);
		t->tg_shared[i] = NULL;
	}
}

static int
text_add(char **buf, size_t *len, size_t *cap, const char *kv)
{
	size_t	 n = strlen(kv) + 1;
	char	*p;

	if (*len + n > *cap) {
		size_t nc = (*cap == 0 ? 1024 : *cap * 2) + n;

		if ((p = realloc(*buf, nc)) == NULL)
			return -1;
		*buf = p;
		*cap = nc;
	}
	memcpy(*buf + *len, kv, n);
	*len += n;
	return 0;
}

/*
 * The portals of the listen lines, as TargetAddress: each as written,
 * a wildcard (0.0.0.0, [::]) as the address this connection came in on
 * (local) with the line's port; a wildcard of the other family is left
 * out (its address here is unknown), and so is a repeat.
 */
static void
text_listen_portals(struct worker *w, const struct sockaddr_storage *local,
    char **buf, size_t *len, size_t *cap)
{
	const struct cfg_listen	*l;
	struct sockaddr_storage	 ss;
	char			 addr[INET6_ADDRSTRLEN + 16], kv[128];
	size_t			 start = *len;
	int			 i;

	for (i = 0; i < w->w_cfg->c_nlisten; i++) {
		l = &w->w_cfg->c_listen[i];
		if (l->cl_kind != LISTEN_ISCSI ||
		    netaddr_portal(&l->cl_ss, local, &ss) == -1 ||
		    netaddr_text((struct sockaddr *)&ss, addr,
		    sizeof(addr)) == -1)
			continue;
		snprintf(kv, sizeof(kv), "TargetAddress=%s,1", addr);
		if (*len > start && memmem(*buf + start, *len - start, kv,
		    strlen(kv) + 1) != NULL)
			continue;
		text_add(buf, len, cap, kv);
	}
}

static void
text_portals(struct worker *w, const struct sockaddr_storage *local,
    char **buf, size_t *len, size_t *cap)
{
	char	 kv[128];
	int	 i;

	if (!w->w_cfg->c_cluster.cc_on) {
		text_listen_portals(w, local, buf, len, cap);
		return;
	}
	for (i = 0; redirect_portal(w, i, kv, sizeof(kv)) == 0; i++)
		text_add(buf, len, cap, kv);	/* every node's */
}

/*
 * SendTargets=All lists every visible target; SendTargets=<iqn> that one;
 * an empty value the target of a normal session.
 */
size_t
target_sendtargets(struct worker *w, struct conn *c, const char *arg,
    char **out)
{
	struct target	*t;
	char		*buf = NULL, kv[ISCSI_NAME_MAX + 16];
	struct sockaddr_storage local;
	socklen_t	 sl = sizeof(local);
	size_t		 len = 0, cap = 0;
	int		 all = strcmp(arg, "All") == 0;

	if (!all && c->c_type == LOGIN_SESSION_DISCOVERY && arg[0] == '\0')
		all = 1;
	if (getsockname(c->c_fd, (struct sockaddr *)&local, &sl) == -1)
		local.ss_family = AF_UNSPEC;
	if (c->c_type == LOGIN_SESSION_NORMAL && c->c_target != NULL &&
	    c->c_target->tg_kind == TARGET_PSESS) {
		snprintf(kv, sizeof(kv), "TargetName=%s", c->c_target->tg_iqn);
		text_add(&buf, &len, &cap, kv);
		text_portals(w, &local, &buf, &len, &cap);
	}
	TAILQ_FOREACH(t, &w->w_targets, tg_entry) {
		if (all && c->c_type != LOGIN_SESSION_DISCOVERY)
			all = 0, arg = c->c_login.l_target;
		if (!all && strcasecmp(arg[0] ? arg : c->c_login.l_target,
		    t->tg_iqn) != 0)
			continue;
		/* hidden: named only to a session logged in to it */
		if (!target_visible(w, t) && t != c->c_target)
			continue;
		snprintf(kv, sizeof(kv), "TargetName=%s", t->tg_iqn);
		text_add(&buf, &len, &cap, kv);
		text_portals(w, &local, &buf, &len, &cap);
	}
	*out = buf;
	return buf == NULL ? 0 : len;
}
