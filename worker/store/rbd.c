/*
 * The store of a node sharing a Ceph cluster (README "Several
 * machines"): base images are RBD images with a protected snapshot, and
 * the LU of a static target or provisioned session is an RBD clone of
 * its image's snapshot (RBD's layering is the overlay), opened by
 * whichever node serves it.  Anonymous overlays stay node-local
 * (worker/store/lu.c) and read their base through im_read here.
 *
 * Each worker connects to the cluster itself, after fork.  I/O is
 * synchronous librbd calls with the cache off: a write returns once the
 * OSDs have it, so GOOD means durable in RADOS.  An LU keeps, next to
 * its reservation mirror (PATH.pr, kept in step with RADOS by the
 * coordinator), a map file PATH.map in the cowmap layout: the LUN reset
 * counter in its header, and which blocks this node knows to be written
 * (from RBD when the file is made, then from its own writes), for the
 * quota and GET LBA STATUS.  A write that maps new blocks of an LU with
 * a quota logs them for the coordinator (commit.c), which counts them in
 * RADOS.  COMPARE AND WRITE holds a RADOS lock on the LU for its
 * compare and write, on every node.  When the coordinator has lost the
 * cluster (its lease ran out) every command on a shared LU fails with
 * NOT READY (-EAGAIN), which initiators retry: another node may hold a
 * reservation this one has not seen.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "cowmap.h"
#include "log.h"
#include "lu.h"
#include "prstate.h"
#include "store.h"

#ifdef HAVE_CEPH

#include <rados/librados.h>
#include <rbd/librbd.h>

#define RBD_CAW_LOCK	"caw"		/* the lock COMPARE AND WRITE holds */
#define RBD_CAW_SECS	10		/* ... at most, should a node die */

struct lu_rbd {
	struct lu_cow	 rb_cow;	/* first: what commit.c and the
					   transport see of any LU */
	rbd_image_t	 rb_img;
	char		 rb_name[CLUSTER_CLONE_MAX];
	char		 rb_cookie[32];	/* of the COMPARE AND WRITE lock */
};

static struct {
	struct worker	*rs_w;
	rados_t		 rs_cl;
	rados_ioctx_t	 rs_io;		/* the pool: images */
	rados_ioctx_t	 rs_state;	/* its CLUSTER_NS: locks */
	time_t		 rs_fenced_said;
} rs;

/* ---------------------------------------------------------------- */
/* The connection and the catalog */

/* Connect to the cluster (after fork): 0, or an exit status. */
int
rbd_store_start(struct worker *w)
{
	const struct cfg_cluster *cc = &w->w_cfg->c_cluster;
	void	*cl, *io;

	if (!cc->cc_on)
		return 0;
	if (cluster_connect(cc, "worker", &cl, &io) != 0)
		return EXIT_FAILURE;
	rs.rs_w = w;
	rs.rs_cl = cl;
	rs.rs_io = io;
	if (rados_ioctx_create(rs.rs_cl, cc->cc_pool, &rs.rs_state) < 0) {
		cluster_disconnect(cl, io);
		return EXIT_FAILURE;
	}
	rados_ioctx_set_namespace(rs.rs_state, CLUSTER_NS);
	return 0;
}

static int
rbd_base_read(struct image *im, void *buf, size_t len, uint64_t off)
{
	size_t	 n = 0;
	ssize_t	 r;

	if (off < im->im_size)
		n = im->im_size - off < len ? im->im_size - off : len;
	if (n > 0 && (r = rbd_read2(im->im_rbd, off, n, buf, 0)) != (ssize_t)n)
		return r < 0 ? (int)r : -EIO;
	memset((uint8_t *)buf + n, 0, len - n);
	return 0;
}

/*
 * The catalog image name: an RBD image with the snapshot cc_snap,
 * protected, opened read-only at it.  NULL (said why, when it is not
 * just another image of the pool) if it is not one.
 */
static struct image *
rbd_image_open(const struct cfg_cluster *cc, const char *name)
{
	struct image	*im;
	rbd_image_t	 img;
	uint64_t	 size;
	int		 prot = 0, r;

	if (!config_image_name_ok(name) || strlen(name) >= CFG_NAME_MAX ||
	    strncmp(name, CLUSTER_CLONE_PREFIX,
	    strlen(CLUSTER_CLONE_PREFIX)) == 0)
		return NULL;
	if ((r = rbd_open_read_only(rs.rs_io, name, &img, cc->cc_snap)) < 0) {
		if (r != -ENOENT)
			log_warnx("%s: %s@%s: %s", __func__, name, cc->cc_snap,
			    strerror(-r));
		return NULL;
	}
	if (rbd_snap_is_protected(img, cc->cc_snap, &prot) < 0 || !prot ||
	    rbd_get_size(img, &size) < 0 || size < 512 ||
	    (im = calloc(1, sizeof(*im))) == NULL) {
		log_warnx("%s: %s@%s: not a usable base image (a protected "
		    "snapshot of 512 bytes or more)", __func__, name,
		    cc->cc_snap);
		rbd_close(img);
		return NULL;
	}
	snprintf(im->im_name, sizeof(im->im_name), "%s", name);
	snprintf(im->im_path, sizeof(im->im_path), "rbd:%s/%s@%s",
	    cc->cc_pool, name, cc->cc_snap);
	im->im_fd = -1;
	im->im_size = size & ~511ULL;
	im->im_read = rbd_base_read;
	im->im_rbd = img;
	return im;
}

static int
rbd_image_cmp(const void *a, const void *b)
{
	const struct image *const *x = a, *const *y = b;

	return strcmp((*x)->im_name, (*y)->im_name);
}

/* The pool's images, as rbd_list2 gives them; *n of them. */
static rbd_image_spec_t *
rbd_list_images(size_t *n)
{
	rbd_image_spec_t	*v = NULL, *nv;
	size_t			 max = 64;
	int			 r;

	for (;;) {
		if ((nv = reallocarray(v, max, sizeof(*v))) == NULL) {
			free(v);
			return NULL;
		}
		v = nv;
		if ((r = rbd_list2(rs.rs_io, v, &max)) >= 0)
			break;
		if (r != -ERANGE || max > (1 << 20)) {
			log_warnx("%s: %s", __func__, strerror(-r));
			free(v);
			return NULL;
		}
	}
	*n = max;
	return v;
}

/* The catalog of a node in a cluster: the pool's base images, by name. */
int
rbd_catalog_load(struct worker *w)
{
	rbd_image_spec_t	*v;
	struct image		*im, **nv;
	size_t			 n, i;

	if ((v = rbd_list_images(&n)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if ((im = rbd_image_open(&w->w_cfg->c_cluster,
		    v[i].name)) == NULL)
			continue;
		nv = reallocarray(w->w_images, w->w_nimages + 1, sizeof(*nv));
		if (nv == NULL) {
			rbd_close(im->im_rbd);
			free(im);
			break;
		}
		w->w_images = nv;
		w->w_images[w->w_nimages++] = im;
	}
	rbd_image_spec_list_cleanup(v, n);
	free(v);
	if (w->w_nimages > 1)
		qsort(w->w_images, (size_t)w->w_nimages, sizeof(*w->w_images),
		    rbd_image_cmp);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Shared LUs: clones */

/* May the node serve shared LUs (cluster_page_serving)?  Said once a second. */
static int
rbd_fenced(void)
{
	time_t	 now;

	if (cluster_page_serving(cluster_page(rs.rs_w->w_cfg->c_state_dir)))
		return 0;
	now = time(NULL);
	if (now != rs.rs_fenced_said) {
		rs.rs_fenced_said = now;
		log_warnx("%s: this node's coordinator has lost the cluster: "
		    "commands on shared LUs fail", __func__);
	}
	return 1;
}

/* The clone, made from im's snapshot if it is not there yet. */
static int
rbd_clone_open(struct image *im, const char *clone, rbd_image_t *img)
{
	const char		*snap = rs.rs_w->w_cfg->c_cluster.cc_snap;
	rbd_image_options_t	 opts;
	int			 r;

	if ((r = rbd_open(rs.rs_io, clone, img, NULL)) != -ENOENT)
		return r;
	rbd_image_options_create(&opts);
	rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_FEATURES,
	    RBD_FEATURE_LAYERING);
	r = rbd_clone3(rs.rs_io, im->im_name, snap, rs.rs_io, clone, opts);
	rbd_image_options_destroy(opts);
	if (r == 0)
		log_info("%s: %s made, a clone of %s@%s", __func__, clone,
		    im->im_name, snap);
	else if (r != -EEXIST)
		return r;
	return rbd_open(rs.rs_io, clone, img, NULL);
}

/* Is the clone one of im's snapshot (a target may have changed images)? */
static int
rbd_clone_of(rbd_image_t img, const struct image *im)
{
	rbd_linked_image_spec_t	 pi;
	rbd_snap_spec_t		 ps;
	int			 ok;

	memset(&pi, 0, sizeof(pi));
	memset(&ps, 0, sizeof(ps));
	if (rbd_get_parent(img, &pi, &ps) < 0)
		return 0;
	ok = pi.image_name != NULL && ps.name != NULL &&
	    strcmp(pi.image_name, im->im_name) == 0 &&
	    strcmp(ps.name, rs.rs_w->w_cfg->c_cluster.cc_snap) == 0;
	rbd_linked_image_spec_cleanup(&pi);
	rbd_snap_spec_cleanup(&ps);
	return ok;
}

static int
rbd_known_extent(uint64_t off, size_t len, int exists, void *arg)
{
	struct lu_cow	*cw = arg;
	uint64_t	 b;

	if (!exists || len == 0)
		return 0;
	for (b = off >> cw->cw_shift; b <= (off + len - 1) >> cw->cw_shift &&
	    b < cw->cw_nblocks; b++)
		cowmap_or(cw->cw_map, b, COWMAP_M);
	return 0;
}

/*
 * The map file PATH.map: made, with the blocks the clone holds (RBD
 * says which), under a lock on its first byte while another worker of
 * the node may be doing the same.
 */
static int
rbd_map_open(struct lu_rbd *rb, const char *path)
{
	struct lu_cow	*cw = &rb->rb_cow;
	struct flock	 fl;
	struct stat	 st;
	size_t		 len = cowmap_file_len(cw->cw_nblocks);
	char		 p[CFG_PATH_MAX + 200];
	void		*m;
	int		 fresh, r;

	snprintf(p, sizeof(p), "%s.map", path);
	if ((cw->cw_mapfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return -errno;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_len = 1;
	if (fcntl(cw->cw_mapfd, F_OFD_SETLKW, &fl) == -1 ||
	    fstat(cw->cw_mapfd, &st) == -1 ||
	    ftruncate(cw->cw_mapfd, (off_t)len) == -1 ||
	    (m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
	    cw->cw_mapfd, 0)) == MAP_FAILED)
		return -errno;
	cw->cw_map = (uint8_t *)m + COWMAP_BITS;
	fresh = (size_t)st.st_size < len;
	r = fresh ? rbd_diff_iterate2(rb->rb_img, NULL, 0, cw->cw_image->im_size,
	    0, 0, rbd_known_extent, cw) : 0;
	fl.l_type = F_UNLCK;
	(void)fcntl(cw->cw_mapfd, F_OFD_SETLK, &fl);
	if (r < 0) {
		log_warnx("%s: %s: %s", __func__, rb->rb_name, strerror(-r));
		(void)unlink(p);	/* made again next time */
	}
	return r < 0 ? r : 0;
}

static struct lu_rbd *
rbd_lu_new(struct image *im, const char *clone, uint32_t bs,
    struct lu_quota *q)
{
	struct lu_rbd	*rb;
	struct lu_cow	*cw;

	if ((rb = calloc(1, sizeof(*rb))) == NULL)
		return NULL;
	cw = &rb->rb_cow;
	cw->cw_image = im;
	cw->cw_bs = bs;
	cw->cw_shift = (uint32_t)__builtin_ctz(bs);
	cw->cw_nblocks = (im->im_size + bs - 1) >> cw->cw_shift;
	cw->cw_maplen = cowmap_bytes(cw->cw_nblocks);
	/* a clone counts its blocks only against a limit */
	cw->cw_quota = q != NULL && q->q_limit != 0 ? q : NULL;
	cw->cw_ovl = cw->cw_mapfd = -1;
	snprintf(rb->rb_name, sizeof(rb->rb_name), "%s", clone);
	snprintf(rb->rb_cookie, sizeof(rb->rb_cookie), "%ld", (long)getpid());
	return rb;
}

/*
 * The shared LU of image im that RBD names clone, made at its first use
 * on any node; path names this node's files for it (PATH.map, PATH.pr).
 * Its map changes are logged for the coordinator when q limits it.
 * Returns what the transport keeps (the LU's struct lu_cow), or NULL.
 */
struct lu_cow *
rbd_lu_shared(struct worker *w, struct image *im, const char *clone,
    const char *path, struct lu_quota *q)
{
	char		 p[CFG_PATH_MAX + 200];
	struct lu_rbd	*rb;
	int		 r;

	if (rs.rs_io == NULL || im->im_read != rbd_base_read ||
	    (rb = rbd_lu_new(im, clone, w->w_cfg->c_block_size, q)) == NULL)
		return NULL;
	if ((r = rbd_clone_open(im, clone, &rb->rb_img)) < 0) {
		log_warnx("%s: %s: %s", __func__, clone, strerror(-r));
		free(rb);
		return NULL;
	}
	if (!rbd_clone_of(rb->rb_img, im)) {
		log_warnx("%s: %s is not a clone of %s@%s: LUN absent (remove "
		    "the image to start afresh)", __func__, clone, im->im_name,
		    w->w_cfg->c_cluster.cc_snap);
		rbd_lu_free(&rb->rb_cow);
		return NULL;
	}
	snprintf(p, sizeof(p), "%s.pr", path);
	if (rbd_map_open(rb, path) != 0 ||
	    (rb->rb_cow.cw_pr = pr_lu_open(p)) == NULL) {
		rbd_lu_free(&rb->rb_cow);
		return NULL;
	}
	if (q != NULL && q->q_limit != 0)
		lu_cow_log_enable(&rb->rb_cow, commit_map_register(w,
		    &rb->rb_cow, strrchr(path, '/') + 1));
	return &rb->rb_cow;
}

void
rbd_lu_free(struct lu_cow *cw)
{
	struct lu_rbd	*rb = (struct lu_rbd *)cw;

	if (cw == NULL)
		return;
	if (rb->rb_img != NULL)
		rbd_close(rb->rb_img);
	free(cw->cw_log);
	if (cw->cw_map != NULL)
		munmap(cw->cw_map - COWMAP_BITS, cowmap_file_len(cw->cw_nblocks));
	if (cw->cw_mapfd != -1)
		close(cw->cw_mapfd);
	pr_lu_close(cw->cw_pr);
	free(rb);
}

/* ---------------------------------------------------------------- */
/* The quota and the log of map changes: lu.c's (cow_quota_*, cow_log) */

/*
 * Blocks [first, last] now hold data (bits M) or were deallocated
 * (M|Z): each counted in or out of the quota on its own change, the
 * reservation *resv used first; logged as lu.c logs them (cow_log):
 * each block that came to hold data, a deallocated range as one run.
 */
static void
rbd_mark(struct lu_cow *cw, uint64_t first, uint64_t last, int bits,
    uint64_t *resv)
{
	uint64_t	 b, credit = 0;
	int		 old, zchg = 0;

	if (first >= cw->cw_nblocks)
		return;
	if (last >= cw->cw_nblocks)
		last = cw->cw_nblocks - 1;
	for (b = first; b <= last; b++) {
		if ((old = cowmap_put(cw->cw_map, b, bits)) == bits)
			continue;
		if (bits == COWMAP_M) {
			if (*resv > 0)
				(*resv)--;
			cow_log(cw, b, 1, bits, 0, (old & COWMAP_Z) != 0);
			continue;
		}
		if (old == COWMAP_M) {
			cow_quota_credit(cw, 1);
			credit++;
		}
		zchg |= (old & COWMAP_Z) == 0;
	}
	if (bits != COWMAP_M && (zchg || credit > 0))
		cow_log(cw, first, last - first + 1, bits, credit, zchg);
}

/* ---------------------------------------------------------------- */
/* lu_store_ops */

static int
rbd_lu_read(void *arg, void *buf, size_t len, uint64_t off)
{
	struct lu_rbd	*rb = arg;
	ssize_t		 r;

	if (rbd_fenced())
		return -EAGAIN;
	if ((r = rbd_read2(rb->rb_img, off, len, buf, 0)) == (ssize_t)len)
		return 0;
	return r < 0 ? (int)r : -EIO;
}

static int
rbd_lu_write(void *arg, const void *buf, size_t len, uint64_t off)
{
	struct lu_rbd	*rb = arg;
	struct lu_cow	*cw = &rb->rb_cow;
	uint64_t	 first, last, b, resv = 0;
	ssize_t		 r;

	if (len == 0)
		return 0;
	if (rbd_fenced())
		return -EAGAIN;
	first = off >> cw->cw_shift;
	last = (off + len - 1) >> cw->cw_shift;
	for (b = first; b <= last && b < cw->cw_nblocks; b++)
		resv += cowmap_get(cw->cw_map, b) != COWMAP_M;
	if ((r = cow_quota_take(cw, resv)) != 0)
		return (int)r;
	if ((r = rbd_write2(rb->rb_img, off, len, buf, 0)) != (ssize_t)len) {
		cow_quota_credit(cw, resv);
		return r < 0 ? (int)r : -EIO;
	}
	rbd_mark(cw, first, last, COWMAP_M, &resv);
	cow_quota_credit(cw, resv);	/* reserved, mapped by another */
	return 0;
}

/* UNMAP: zeros, the space given back where whole objects go. */
static int
rbd_lu_unmap(void *arg, uint64_t off, uint64_t len)
{
	struct lu_rbd	*rb = arg;
	struct lu_cow	*cw = &rb->rb_cow;
	uint64_t	 s, e, none = 0;
	ssize_t		 r;

	if (len == 0)
		return 0;
	if (rbd_fenced())
		return -EAGAIN;
	if ((r = rbd_write_zeroes(rb->rb_img, off, len, 0, 0)) != (ssize_t)len)
		return r < 0 ? (int)r : -EIO;
	s = (off + cw->cw_bs - 1) >> cw->cw_shift;
	e = (off + len) >> cw->cw_shift;	/* whole blocks [s, e) */
	if (s < e)
		rbd_mark(cw, s, e - 1, COWMAP_M | COWMAP_Z, &none);
	return 0;
}

static int
rbd_lu_sync(void *arg)
{
	struct lu_rbd	*rb = arg;

	if (rbd_fenced())
		return -EAGAIN;
	return rbd_flush(rb->rb_img);
}

/* GET LBA STATUS: what this node knows was deallocated (Z). */
static int
rbd_lu_status(void *arg, uint64_t off, uint64_t *len, int *mapped)
{
	struct lu_rbd	*rb = arg;
	struct lu_cow	*cw = &rb->rb_cow;
	uint64_t	 b = off >> cw->cw_shift, end = off + *len, o;
	int		 z;

	z = (cowmap_get(cw->cw_map, b) & COWMAP_Z) != 0;
	*mapped = !z;
	o = (b + 1) << cw->cw_shift;
	while (o < end && ((cowmap_get(cw->cw_map, o >> cw->cw_shift) &
	    COWMAP_Z) != 0) == z)
		o += cw->cw_bs;
	*len = (o > end ? end : o) - off;
	return 0;
}

/*
 * COMPARE AND WRITE: its compare and its write are one step on every
 * node: a RADOS lock on the LU (an object of the state namespace named
 * after the clone), RBD_CAW_SECS at most should this node die holding
 * it.  The whole LU, not the blocks: COMPARE AND WRITE is short.
 */
static int
rbd_lu_excl(void *arg, uint64_t off, uint64_t len, int on)
{
	struct lu_rbd	*rb = arg;
	struct timeval	 tv = { RBD_CAW_SECS, 0 };
	struct timespec	 nap = { 0, 200000 };
	int		 r, i;

	(void)off;
	(void)len;
	if (!on) {
		(void)rados_unlock(rs.rs_state, rb->rb_name, RBD_CAW_LOCK,
		    rb->rb_cookie);
		return 0;
	}
	for (i = 0; i < RBD_CAW_SECS * 5000; i++) {
		r = rados_lock_exclusive(rs.rs_state, rb->rb_name,
		    RBD_CAW_LOCK, rb->rb_cookie, "COMPARE AND WRITE", &tv, 0);
		if (r != -EBUSY && r != -EEXIST)
			return r;
		nanosleep(&nap, NULL);
	}
	return -ETIMEDOUT;
}

const struct lu_store_ops lu_rbd_ops = {
	.so_read = rbd_lu_read,
	.so_write = rbd_lu_write,
	.so_unmap = rbd_lu_unmap,
	.so_sync = rbd_lu_sync,
	.so_status = rbd_lu_status,
	.so_excl = rbd_lu_excl,
};

#else	/* !HAVE_CEPH: config.c refuses a cluster section */

const struct lu_store_ops lu_rbd_ops;

int
rbd_store_start(struct worker *w)
{
	return w->w_cfg->c_cluster.cc_on ? EX_CONFIG : 0;
}

int
rbd_catalog_load(struct worker *w)
{
	(void)w;
	return -1;
}

struct lu_cow *
rbd_lu_shared(struct worker *w, struct image *im, const char *clone,
    const char *path, struct lu_quota *q)
{
	(void)w;
	(void)im;
	(void)clone;
	(void)path;
	(void)q;
	return NULL;
}

void
rbd_lu_free(struct lu_cow *cw)
{
	(void)cw;
}

#endif	/* HAVE_CEPH */
