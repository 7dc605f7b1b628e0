/*
 * Several nodes sharing a Ceph cluster, what two processes of a node
 * share (cluster.h): the names of things in RADOS, the connection to the
 * cluster (each process opens its own, after fork: librados starts
 * threads), and the page the coordinator tells its workers through.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_CEPH
#include <rados/librados.h>
#endif

#include "cluster.h"
#include "hash.h"
#include "log.h"

uint64_t
cluster_now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A target's key in the placement table: its IQN, case folded. */
uint64_t
cluster_target_hash(const char *iqn)
{
	uint64_t	 h = FNV1A_INIT;
	uint8_t		 ch;

	for (; *iqn != '\0'; iqn++) {
		ch = (uint8_t)tolower((unsigned char)*iqn);
		h = fnv1a(h, &ch, 1);
	}
	return h;
}

/*
 * The RBD image of a shared LU: kind 't' (static target NAME) or 's'
 * (provisioned session, NAME its 16 hex digits).  0, or -1 if it does
 * not fit.
 */
int
cluster_clone_name(char *buf, size_t len, int kind, const char *name, int lun)
{
	int	 n;

	n = snprintf(buf, len, "%s%c.%s.%d", CLUSTER_CLONE_PREFIX, kind, name,
	    lun);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * The page in state-dir: made (and zeroed, for the coordinator) with
 * create, else opened read-only as the coordinator left it.  NULL, with
 * errno set, if it cannot be; EAGAIN: not set up yet.
 */
struct cluster_page *
cluster_page_open(const char *statedir, int create)
{
	char		 path[CFG_PATH_MAX + 32];
	struct stat	 st;
	void		*p;
	int		 fd, e;

	snprintf(path, sizeof(path), "%s/%s", statedir, CLUSTER_MIRROR_FILE);
	fd = open(path, create ? O_RDWR | O_CREAT | O_CLOEXEC :
	    O_RDONLY | O_CLOEXEC, 0644);
	if (fd == -1)
		return NULL;
	if (create && ftruncate(fd, sizeof(struct cluster_page)) == -1)
		goto bad;
	if (fstat(fd, &st) == -1)
		goto bad;
	if ((size_t)st.st_size < sizeof(struct cluster_page)) {
		errno = EAGAIN;
		goto bad;
	}
	p = mmap(NULL, sizeof(struct cluster_page), create ? PROT_READ |
	    PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto bad;
	close(fd);
	if (create) {
		memset(p, 0, sizeof(struct cluster_page));
		((struct cluster_page *)p)->cg_magic = CLUSTER_MAGIC;
		((struct cluster_page *)p)->cg_layout = CLUSTER_LAYOUT;
	} else if (((struct cluster_page *)p)->cg_magic != CLUSTER_MAGIC ||
	    ((struct cluster_page *)p)->cg_layout != CLUSTER_LAYOUT) {
		munmap(p, sizeof(struct cluster_page));
		errno = EAGAIN;
		return NULL;
	}
	return p;
bad:
	e = errno;
	close(fd);
	errno = e;
	return NULL;
}

void
cluster_page_close(struct cluster_page *pg)
{
	if (pg != NULL)
		munmap(pg, sizeof(*pg));
}

/*
 * This process's view of the coordinator's page, opened at first use
 * (and again until the coordinator has made it).  NULL: not yet.
 */
struct cluster_page *
cluster_page(const char *statedir)
{
	static struct cluster_page	*pg;

	if (pg == NULL)
		pg = cluster_page_open(statedir, 0);
	return pg;
}

void
cluster_page_begin(struct cluster_page *pg)
{
	atomic_fetch_add_explicit(&pg->cg_seq, 1, memory_order_acq_rel);
	atomic_thread_fence(memory_order_release);
}

void
cluster_page_end(struct cluster_page *pg)
{
	atomic_thread_fence(memory_order_release);
	atomic_fetch_add_explicit(&pg->cg_seq, 1, memory_order_release);
}

/* Where target iqn is served in the copy v of the page. */
static void
cluster_view_place(const struct cluster_page *pg, uint64_t h,
    struct cluster_view *v)
{
	const struct cluster_place *p;
	uint32_t	 i, best = 0;

	v->cv_where = -1;
	v->cv_here = 0;
	for (i = 0; i < pg->cg_nplace && i < CLUSTER_MAX_PLACE; i++) {
		p = &pg->cg_place[i];
		if (p->cp_hash != h || p->cp_node >= CLUSTER_MAX_NODES)
			continue;
		if (p->cp_node == pg->cg_self) {
			v->cv_here = p->cp_conns;
			continue;
		}
		if (p->cp_conns > best && pg->cg_nodes[p->cp_node].cn_alive) {
			best = p->cp_conns;
			v->cv_where = p->cp_node;
		}
	}
}

/*
 * A consistent copy of the nodes, and where target iqn is served (NULL:
 * no target).  0, or -1 when the page is not there or not ready, or was
 * being written for CLUSTER_VIEW_WAIT_NS (a coordinator that died in
 * the middle: its successor writes the page again).  The coordinator
 * keeps the page open for copies only, but it may lose its CPU in the
 * middle: after a few tries the reader gives it the CPU.
 */
int
cluster_page_view(struct cluster_page *pg, const char *iqn,
    struct cluster_view *v)
{
	uint64_t	 h = iqn != NULL ? cluster_target_hash(iqn) : 0;
	uint64_t	 until = 0;
	uint32_t	 seq;
	int		 tries;

	if (pg == NULL)
		return -1;
	for (tries = 0;; tries++) {
		if (tries >= 64) {
			if (until == 0)
				until = cluster_now_ns() + CLUSTER_VIEW_WAIT_NS;
			else if (cluster_now_ns() > until)
				return -1;
			sched_yield();
		}
		seq = atomic_load_explicit(&pg->cg_seq, memory_order_acquire);
		if (seq & 1)
			continue;
		v->cv_ready = pg->cg_ready;
		v->cv_self = pg->cg_self;
		v->cv_nnodes = pg->cg_nnodes < CLUSTER_MAX_NODES ?
		    pg->cg_nnodes : CLUSTER_MAX_NODES;
		memcpy(v->cv_nodes, pg->cg_nodes,
		    v->cv_nnodes * sizeof(v->cv_nodes[0]));
		if (iqn != NULL)
			cluster_view_place(pg, h, v);
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&pg->cg_seq, memory_order_relaxed) ==
		    seq)
			return v->cv_ready ? 0 : -1;
	}
}

/* The least loaded live node, if lighter than this one by margin. */
static int
cluster_lightest(const struct cluster_view *v, uint64_t margin)
{
	uint32_t	 n, self = v->cv_nodes[v->cv_self].cn_conns;
	int		 best = -1;

	for (n = 0; n < v->cv_nnodes; n++) {
		if (n == v->cv_self || !v->cv_nodes[n].cn_alive ||
		    (uint64_t)v->cv_nodes[n].cn_conns + margin > self)
			continue;
		if (best == -1 ||
		    v->cv_nodes[n].cn_conns < v->cv_nodes[best].cn_conns)
			best = (int)n;
	}
	return best;
}

/*
 * Where a login to a shared target should go, by "cluster redirect"
 * how and the view v of the target (cluster_page_view): the index of
 * another node in v, or -1 to serve it here.  Served here already: here;
 * by another live node: there (session, load); by none: the least loaded
 * live node if this one serves margin sessions more (load).
 */
int
cluster_redirect_pick(const struct cluster_view *v, enum cfg_redirect how,
    uint64_t margin)
{
	if (how == CFG_REDIRECT_OFF || v->cv_self >= v->cv_nnodes ||
	    v->cv_here > 0)
		return -1;
	if (v->cv_where >= 0)
		return v->cv_where;
	if (how == CFG_REDIRECT_LOAD)
		return cluster_lightest(v, margin);
	return -1;
}

/*
 * May this node serve shared LUs now: its coordinator reached the
 * cluster within cluster-timeout, so that no other node acknowledged a
 * reservation this one has not seen (README "Several machines").
 */
int
cluster_page_serving(struct cluster_page *pg)
{
	if (pg == NULL || !pg->cg_ready)
		return 0;
	return cluster_now_ns() < atomic_load_explicit(&pg->cg_lease,
	    memory_order_acquire);
}

#ifdef HAVE_CEPH

/*
 * A connection to the cluster of cc, as client.<cc_client>, and an I/O
 * context on its pool (default namespace).  Whatever ceph.conf says,
 * librbd's cache is off: a write is acknowledged once the OSDs have it;
 * watches are confirmed every second (objecter_tick_interval, 5 s by
 * default), so that a watch of cluster-timeout (2 s at least) holds.
 * Nothing waits for ever on a cluster that is gone: the first OSD map
 * (rados_ioctx_create) 15 s at most, an OSD operation 60 s; a
 * coordinator stuck there would outlive its master.
 * who names the process in the log.  0 or -errno.
 */
int
cluster_connect(const struct cfg_cluster *cc, const char *who, void **clp,
    void **iop)
{
	char		 name[CFG_NAME_MAX + 8];
	rados_t		 cl;
	rados_ioctx_t	 io;
	int		 rv;

	snprintf(name, sizeof(name), "client.%s", cc->cc_client);
	if ((rv = rados_create2(&cl, "ceph", name, 0)) < 0) {
		log_warnx("%s: %s: rados_create2: %s", __func__, who,
		    strerror(-rv));
		return rv;
	}
	if ((rv = rados_conf_read_file(cl, cc->cc_conf)) < 0 ||
	    (cc->cc_keyring[0] != '\0' &&
	    (rv = rados_conf_set(cl, "keyring", cc->cc_keyring)) < 0) ||
	    (rv = rados_conf_set(cl, "rbd_cache", "false")) < 0 ||
	    (rv = rados_conf_set(cl, "objecter_tick_interval", "1")) < 0 ||
	    (rv = rados_conf_set(cl, "client_mount_timeout", "15")) < 0 ||
	    (rv = rados_conf_set(cl, "rados_mon_op_timeout", "15")) < 0 ||
	    (rv = rados_conf_set(cl, "rados_osd_op_timeout", "60")) < 0) {
		log_warnx("%s: %s: %s: %s", __func__, who, cc->cc_conf,
		    strerror(-rv));
		rados_shutdown(cl);
		return rv;
	}
	if ((rv = rados_connect(cl)) < 0) {
		log_warnx("%s: %s: cannot reach the Ceph cluster of %s as %s: "
		    "%s", __func__, who, cc->cc_conf, name, strerror(-rv));
		rados_shutdown(cl);
		return rv;
	}
	if ((rv = rados_ioctx_create(cl, cc->cc_pool, &io)) < 0) {
		log_warnx("%s: %s: pool %s: %s", __func__, who, cc->cc_pool,
		    strerror(-rv));
		rados_shutdown(cl);
		return rv;
	}
	*clp = cl;
	*iop = io;
	return 0;
}

void
cluster_disconnect(void *cl, void *io)
{
	if (io != NULL)
		rados_ioctx_destroy(io);
	if (cl != NULL)
		rados_shutdown(cl);
}

#else	/* !HAVE_CEPH */

int
cluster_connect(const struct cfg_cluster *cc, const char *who, void **clp,
    void **iop)
{
	(void)cc;
	(void)clp;
	(void)iop;
	log_warnx("%s: %s: %s", __func__, who, CFG_NO_CEPH);
	return -ENOTSUP;
}

void
cluster_disconnect(void *cl, void *io)
{
	(void)cl;
	(void)io;
}

#endif	/* HAVE_CEPH */
