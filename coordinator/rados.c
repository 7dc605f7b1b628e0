/*
 * The coordinator of a node sharing a Ceph cluster (README "Several
 * machines"): this node's only writer of the shared state in RADOS
 * (common/cluster.h), and its workers' source of what the other nodes
 * do (the page state-dir/cluster.mirror).
 *
 * Every change this node makes (a session created or ended, a
 * reservation, its heartbeat, its placement, its quota counts) is an
 * atomic operation on an omap, a compare where two nodes may race; a
 * change others must see before it is acknowledged is then notified on
 * the object "events" and waited for: every other coordinator watches
 * it and acknowledges once the change is in its node's mirrors (a
 * reservation) or tables (a session).  A node that does not acknowledge
 * within cluster-timeout + a heartbeat has stopped serving by then: a
 * coordinator renews its node's lease (cg_lease, which the workers check
 * before every command on a shared LU) only while its heartbeat reaches
 * RADOS, its watch is confirmed and its helper thread keeps up, and a
 * lease runs cluster-timeout.
 *
 * The heartbeat (every cluster-timeout / 5): this node's record in
 * "nodes" (a counter that moves, its sessions, its address), the others'
 * read back (a node whose counter has not moved for cluster-timeout is
 * dead), which targets have sessions here in "placement", the others'
 * read back, the reservation and quota changes made here that need no
 * waiting, clones of ended sessions removed, the page published.
 */
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cluster.h"
#include "coordinator.h"
#include "log.h"
#include "rados.h"
#include "shmq.h"

#define CL_PAGE_VALS	256	/* omap values per read */
#define CL_PLACE_MAX	CLUSTER_MAX_PLACE

/* ---------------------------------------------------------------- */
/* RADOS helpers */

/* The value of key in oid's omap: 0, -ENOENT (no key, no object). */
int
cl_omap_get(struct coord_cluster *cl, const char *oid, const char *key,
    char *buf, size_t cap, size_t *len)
{
	const char		*keys[1] = { key };
	rados_read_op_t		 op = rados_create_read_op();
	rados_omap_iter_t	 it = NULL;
	char			*k, *v;
	size_t			 kl, vl;
	int			 prval = 0, r;

	rados_read_op_omap_get_vals_by_keys(op, keys, 1, &it, &prval);
	r = rados_read_op_operate(op, cl->cl_io, oid, 0);
	if (r == 0)
		r = prval;
	if (r == 0) {
		r = -ENOENT;
		while (rados_omap_get_next2(it, &k, &v, &kl, &vl) == 0 &&
		    k != NULL) {
			if (strcmp(k, key) != 0)
				continue;
			if (vl > cap)
				vl = cap;
			if (vl > 0)
				memcpy(buf, v, vl);
			*len = vl;
			r = 0;
		}
	}
	if (it != NULL)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	return r;
}

/* Every key of oid's omap (under prefix) to fn: 0, -ENOENT, -errno. */
int
cl_omap_foreach(struct coord_cluster *cl, const char *oid,
    const char *prefix, cl_kv_fn fn, void *arg)
{
	char			 after[CFG_NAME_MAX + SHMQ_NAME_MAX + 8] = "";
	rados_read_op_t		 op;
	rados_omap_iter_t	 it;
	unsigned char		 more;
	char			*k, *v;
	size_t			 kl, vl;
	int			 prval, r;

	do {
		op = rados_create_read_op();
		it = NULL;
		prval = 0;
		more = 0;
		rados_read_op_omap_get_vals2(op, after, prefix, CL_PAGE_VALS,
		    &it, &more, &prval);
		if ((r = rados_read_op_operate(op, cl->cl_io, oid, 0)) == 0)
			r = prval;
		while (r == 0 && rados_omap_get_next2(it, &k, &v, &kl, &vl) ==
		    0 && k != NULL) {
			snprintf(after, sizeof(after), "%s", k);
			r = fn(arg, k, v, vl);
		}
		if (it != NULL)
			rados_omap_get_end(it);
		rados_release_read_op(op);
	} while (r == 0 && more);
	return r;
}

int
cl_omap_put(struct coord_cluster *cl, const char *oid, const char *key,
    const char *val, size_t len)
{
	rados_write_op_t op = rados_create_write_op();
	size_t		 kl = strlen(key);
	int		 r;

	rados_write_op_omap_set2(op, &key, &val, &kl, &len, 1);
	r = rados_write_op_operate(op, cl->cl_io, oid, NULL, 0);
	rados_release_write_op(op);
	return r;
}

int
cl_omap_rm(struct coord_cluster *cl, const char *oid, const char *key)
{
	rados_write_op_t op = rados_create_write_op();
	size_t		 kl = strlen(key);
	int		 r;

	rados_write_op_omap_rm_keys2(op, &key, &kl, 1);
	r = rados_write_op_operate(op, cl->cl_io, oid, NULL, 0);
	rados_release_write_op(op);
	return r == -ENOENT ? 0 : r;
}

/* Wake the main thread (it sleeps on the workers' doorbell). */
void
cl_wake(struct coord_cluster *cl)
{
	shmq_doorbell_ring(cl->cl_coord->c_region);
}

/* The longest a notification waits: a node silent longer is fenced. */
static uint64_t
cl_notify_ms(const struct coord_cluster *cl)
{
	return (cl->cl_timeout + cl->cl_period) / 1000000;
}

/*
 * Tell every other node "NODE KIND ARG" and wait until each has applied
 * it (or is fenced: it did not answer within cl_notify_ms).  0 or -errno.
 */
int
cl_notify(struct coord_cluster *cl, const char *kind, const char *arg)
{
	char		 payload[CL_PAYLOAD_MAX + 32], *reply = NULL;
	size_t		 rlen = 0;
	uint64_t	 t0 = cluster_now_ns();
	int		 n, r;

	n = snprintf(payload, sizeof(payload), "%s %s %s", cl->cl_cc->cc_node,
	    kind, arg);
	r = rados_notify2(cl->cl_io, CLUSTER_OBJ_EVENTS, payload, n,
	    cl_notify_ms(cl), &reply, &rlen);
	if (reply != NULL)
		rados_buffer_free(reply);
	log_debug("%s: %s %s: every node has it in %" PRIu64 " us", __func__,
	    kind, arg, (cluster_now_ns() - t0) / 1000);
	if (r == -ETIMEDOUT) {
		log_warnx("%s: %s %s: a node did not answer within %" PRIu64
		    " ms: it has stopped serving", __func__, kind, arg,
		    cl_notify_ms(cl));
		return 0;
	}
	if (r < 0)
		log_warnx("%s: %s %s: %s", __func__, kind, arg, strerror(-r));
	return r;
}

/* ---------------------------------------------------------------- */
/* Notifications: librados' thread, then the helper */

static void
cl_ack(struct coord_cluster *cl, uint64_t id, uint64_t cookie)
{
	int	 r;

	if ((r = rados_notify_ack(cl->cl_io, CLUSTER_OBJ_EVENTS, id, cookie,
	    NULL, 0)) < 0)
		log_warnx("%s: %s", __func__, strerror(-r));
}

/* librados' thread: queue it for the helper (or ack our own at once). */
static void
cl_watch_cb(void *arg, uint64_t id, uint64_t cookie, uint64_t notifier,
    void *data, size_t len)
{
	struct coord_cluster *cl = arg;
	char		 msg[CL_PAYLOAD_MAX + 32], node[CFG_NAME_MAX];
	struct cl_event	 ev;

	(void)notifier;
	memset(&ev, 0, sizeof(ev));
	if (len >= sizeof(msg))
		len = sizeof(msg) - 1;
	if (len > 0)
		memcpy(msg, data, len);
	msg[len] = '\0';
	if (sscanf(msg, "%63s %15s %200s", node, ev.ev_kind, ev.ev_arg) < 2 ||
	    strcmp(node, cl->cl_cc->cc_node) == 0) {
		cl_ack(cl, id, cookie);
		return;
	}
	ev.ev_id = id;
	ev.ev_cookie = cookie;
	pthread_mutex_lock(&cl->cl_mtx);
	if (cl->cl_nq < CL_EVENT_MAX) {
		cl->cl_q[cl->cl_nq++] = ev;
		pthread_cond_signal(&cl->cl_cv);
		pthread_mutex_unlock(&cl->cl_mtx);
		return;
	}
	cl->cl_watch_lost = 1;		/* too many: reload all of it */
	pthread_mutex_unlock(&cl->cl_mtx);
	cl_ack(cl, id, cookie);
	cl_wake(cl);
}

static void
cl_watch_err(void *arg, uint64_t cookie, int err)
{
	struct coord_cluster *cl = arg;

	(void)cookie;
	(void)err;
	cl->cl_watch_lost = 1;
	cl_wake(cl);
}

static int	cl_node_put(struct coord_cluster *);

/*
 * The node's lease: it may serve until its watch on "events" could have
 * expired at the OSD (cl_watch_secs after it was last confirmed, less a
 * second for the confirmation's way back), for until then every other
 * node's notification waits for this one.  A watch unconfirmed, lost
 * (until what it may have missed is reloaded), or a helper that does not
 * come round (it renews) ends it.
 */
static void
cl_lease(struct coord_cluster *cl, uint64_t now)
{
	uint64_t	 life = (uint64_t)(cl->cl_watch_secs - 1) * 1000000000ULL;
	int		 ms = -1;

	pthread_mutex_lock(&cl->cl_mtx);
	if (cl->cl_watching && !cl->cl_watch_lost && !cl->cl_stale)
		ms = rados_watch_check(cl->cl_io, cl->cl_watch);
	pthread_mutex_unlock(&cl->cl_mtx);
	if (ms >= 0 && (uint64_t)ms * 1000000 < life) {
		atomic_store_explicit(&cl->cl_pg->cg_lease,
		    now - (uint64_t)ms * 1000000 + life, memory_order_release);
		cl->cl_lease_said = 0;
	} else if (!cl->cl_lease_said++)
		log_warnx("%s: the watch on %s is not confirmed: this node "
		    "stops serving shared LUs", __func__, CLUSTER_OBJ_EVENTS);
}

/*
 * The helper's beat, every cl_period whatever the main thread waits
 * for: the node's record (others see it alive) and its lease.
 */
static void
cl_beat(struct coord_cluster *cl)
{
	uint64_t	 now = cluster_now_ns();

	if (now < cl->cl_next_beat)
		return;
	cl->cl_next_beat = now + cl->cl_period;
	if (cl_node_put(cl) != 0)
		log_warnx("%s: this node's heartbeat does not reach RADOS",
		    __func__);
	cl_lease(cl, now);
}

static void
cl_timed_wait(struct coord_cluster *cl)
{
	struct timespec	 ts;
	uint64_t	 ns = cl->cl_next_beat - cluster_now_ns();

	if ((int64_t)ns <= 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ns / 1000000000ULL);
	ts.tv_nsec += (long)(ns % 1000000000ULL);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&cl->cl_cv, &cl->cl_mtx, &ts);
}

/* One notification: applied (a reservation) or handed on (sessions). */
static void
cl_event(struct coord_cluster *cl, struct cl_event *ev)
{
	if (strcmp(ev->ev_kind, "sessions") == 0) {
		pthread_mutex_lock(&cl->cl_mtx);
		if (cl->cl_nacks < CL_EVENT_MAX) {
			cl->cl_acks[cl->cl_nacks++] = *ev;
			cl->cl_sessions_dirty = 1;
			pthread_mutex_unlock(&cl->cl_mtx);
			cl_wake(cl);
			return;
		}
		cl->cl_sessions_dirty = 1;
		pthread_mutex_unlock(&cl->cl_mtx);
		cl_wake(cl);
	} else if (strcmp(ev->ev_kind, "pr") == 0)
		cl_pr_event(cl, ev->ev_arg);
	cl_ack(cl, ev->ev_id, ev->ev_cookie);
}

/*
 * The helper: a reservation change goes into the mirror before it is
 * acknowledged; a change of the sessions is the main thread's to apply
 * and acknowledge (it owns the table); and the beat.
 */
static void *
cl_helper(void *arg)
{
	struct coord_cluster *cl = arg;
	struct cl_event	 ev;

	pthread_mutex_lock(&cl->cl_mtx);
	while (!cl->cl_stop) {
		pthread_mutex_unlock(&cl->cl_mtx);
		cl_beat(cl);
		pthread_mutex_lock(&cl->cl_mtx);
		if (cl->cl_nq == 0) {
			cl_timed_wait(cl);
			continue;
		}
		ev = cl->cl_q[0];
		memmove(&cl->cl_q[0], &cl->cl_q[1],
		    --cl->cl_nq * sizeof(cl->cl_q[0]));
		pthread_mutex_unlock(&cl->cl_mtx);
		cl_event(cl, &ev);
		pthread_mutex_lock(&cl->cl_mtx);
	}
	pthread_mutex_unlock(&cl->cl_mtx);
	return NULL;
}

static int
cl_helper_start(struct coord_cluster *cl)
{
	sigset_t	 all, old;
	int		 r;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);	/* signals: the main one */
	r = pthread_create(&cl->cl_thread, NULL, cl_helper, cl);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		log_warnx("%s: pthread_create: %s", __func__, strerror(r));
		return -1;
	}
	cl->cl_thread_on = 1;
	return 0;
}

/*
 * Watch "events" (again).  The watch lasts cluster-timeout less a
 * second at the OSD once this node stops confirming it (librados does
 * so every second here: cluster_connect): a node that dies holds up the
 * others' notifications no longer, and is seen dead by then.
 */
static int
cl_watch(struct coord_cluster *cl)
{
	uint64_t	 cookie;
	int		 r;

	pthread_mutex_lock(&cl->cl_mtx);
	if (cl->cl_watching)
		(void)rados_unwatch2(cl->cl_io, cl->cl_watch);
	cl->cl_watching = 0;
	cl->cl_watch_lost = 0;
	pthread_mutex_unlock(&cl->cl_mtx);
	r = rados_watch3(cl->cl_io, CLUSTER_OBJ_EVENTS, &cookie, cl_watch_cb,
	    cl_watch_err, (uint32_t)cl->cl_watch_secs, cl);
	if (r < 0) {
		log_warnx("%s: %s: %s", __func__, CLUSTER_OBJ_EVENTS,
		    strerror(-r));
		return r;
	}
	pthread_mutex_lock(&cl->cl_mtx);
	cl->cl_watch = cookie;
	cl->cl_watching = 1;
	pthread_mutex_unlock(&cl->cl_mtx);
	return 0;
}

/* ---------------------------------------------------------------- */
/* Nodes */

static struct cl_node *
cl_node_find(struct coord_cluster *cl, const char *name)
{
	int	 i;

	for (i = 0; i < cl->cl_nnodes; i++)
		if (strcmp(cl->cl_nodes[i].n_name, name) == 0)
			return &cl->cl_nodes[i];
	return NULL;
}

/* One record of "nodes": "BEAT CONNS ADDRESS". */
static int
cl_node_one(void *arg, const char *key, const char *val, size_t len)
{
	struct coord_cluster *cl = arg;
	char		 rec[CLUSTER_ADDR_MAX + 48], addr[CLUSTER_ADDR_MAX];
	unsigned long long beat;
	unsigned	 conns;
	struct cl_node	*n;
	uint64_t	 now = cl->cl_now;

	if (len >= sizeof(rec) || strlen(key) >= CFG_NAME_MAX)
		return 0;
	if (len > 0)
		memcpy(rec, val, len);
	rec[len] = '\0';
	if (sscanf(rec, "%llu %u %79s", &beat, &conns, addr) != 3)
		return 0;
	if ((n = cl_node_find(cl, key)) == NULL) {
		if (cl->cl_nnodes == CLUSTER_MAX_NODES)
			return 0;
		n = &cl->cl_nodes[cl->cl_nnodes++];
		memset(n, 0, sizeof(*n));
		snprintf(n->n_name, sizeof(n->n_name), "%s", key);
		n->n_beat = beat;
		n->n_moved = now - cl->cl_timeout;	/* dead till it moves */
	}
	if (beat != n->n_beat) {
		n->n_beat = beat;
		n->n_moved = now;
	}
	n->n_conns = conns;
	snprintf(n->n_addr, sizeof(n->n_addr), "%s", addr);
	return 0;
}

static int
cl_nodes_read(struct coord_cluster *cl)
{
	struct cl_node	*self;
	uint64_t	 now = cl->cl_now = cluster_now_ns();
	int		 i, r, was;

	if ((r = cl_omap_foreach(cl, CLUSTER_OBJ_NODES, "", cl_node_one,
	    cl)) != 0)
		return r;
	for (i = 0; i < cl->cl_nnodes; i++) {
		was = cl->cl_nodes[i].n_alive;
		cl->cl_nodes[i].n_alive = now - cl->cl_nodes[i].n_moved <
		    cl->cl_timeout;
		if (strcmp(cl->cl_nodes[i].n_name, cl->cl_cc->cc_node) == 0)
			continue;
		if (was && !cl->cl_nodes[i].n_alive)
			log_warnx("node %s (%s): silent for %" PRIu64 " s, "
			    "dead", cl->cl_nodes[i].n_name,
			    cl->cl_nodes[i].n_addr, cl->cl_timeout / 1000000000);
		else if (!was && cl->cl_nodes[i].n_alive)
			log_info("node %s (%s): alive", cl->cl_nodes[i].n_name,
			    cl->cl_nodes[i].n_addr);
	}
	if ((self = cl_node_find(cl, cl->cl_cc->cc_node)) != NULL)
		self->n_alive = 1;
	return 0;
}

/* What this node serves, from the coordinator's session table. */
static int
cl_target_cmp(const void *a, const void *b)
{
	return strcasecmp(((const struct cl_target *)a)->t_iqn,
	    ((const struct cl_target *)b)->t_iqn);
}

/* cl_here: each target with sessions here, by name; the sessions. */
static uint32_t
cl_count_here(struct coord_cluster *cl)
{
	const struct coord_sessions *cs = &cl->cl_coord->c_sess;
	struct cl_target	*v;
	uint32_t		 i, n = 0;
	size_t			 j = 0;

	if (cl->cl_herecap < cs->cs_n) {
		if ((v = reallocarray(cl->cl_here, cs->cs_n,
		    sizeof(*v))) == NULL)
			return (uint32_t)cl->cl_nhere;
		cl->cl_here = v;
		cl->cl_herecap = cs->cs_n;
	}
	for (i = 0; cs->cs_tab != NULL && i <= cs->cs_mask; i++) {
		if (cs->cs_tab[i] == NULL || n == cl->cl_herecap)
			continue;
		cl->cl_here[n].t_iqn = cs->cs_tab[i]->s_id.ss_target;
		cl->cl_here[n++].t_n = 1;
	}
	if (n > 1)
		qsort(cl->cl_here, n, sizeof(cl->cl_here[0]), cl_target_cmp);
	for (i = 0; i < n; i++) {
		if (j > 0 && strcasecmp(cl->cl_here[j - 1].t_iqn,
		    cl->cl_here[i].t_iqn) == 0)
			cl->cl_here[j - 1].t_n++;
		else
			cl->cl_here[j++] = cl->cl_here[i];
	}
	cl->cl_nhere = j;
	return n;
}

/* The helper's: this node's record, its heartbeat moved on. */
static int
cl_node_put(struct coord_cluster *cl)
{
	char	 rec[CLUSTER_ADDR_MAX + 48];
	int	 n;

	n = snprintf(rec, sizeof(rec), "%" PRIu64 " %u %s", ++cl->cl_beat,
	    atomic_load_explicit(&cl->cl_conns, memory_order_relaxed),
	    cl->cl_cc->cc_addr);
	return cl_omap_put(cl, CLUSTER_OBJ_NODES, cl->cl_cc->cc_node, rec,
	    (size_t)n);
}

/* ---------------------------------------------------------------- */
/* Placement: "NODE/IQN" -> sessions of the target there */

static int
cl_place_key(struct coord_cluster *cl, const char *iqn, char *key,
    size_t len)
{
	size_t	 i, n;

	n = (size_t)snprintf(key, len, "%s/%s", cl->cl_cc->cc_node, iqn);
	if (n >= len)
		return -1;
	for (i = 0; key[i] != '\0'; i++)
		key[i] = (char)tolower((unsigned char)key[i]);
	return 0;
}

/* One placement record: the target's sessions here (0: none). */
static int
cl_place_set(struct coord_cluster *cl, const char *iqn, uint32_t n)
{
	char	 key[CFG_NAME_MAX + SHMQ_NAME_MAX + 2], val[16];
	int	 len;

	if (cl_place_key(cl, iqn, key, sizeof(key)) == -1)
		return 0;
	if (n == 0)
		return cl_omap_rm(cl, CLUSTER_OBJ_PLACEMENT, key);
	len = snprintf(val, sizeof(val), "%u", n);
	return cl_omap_put(cl, CLUSTER_OBJ_PLACEMENT, key, val, (size_t)len);
}

/* cl_pub (what RADOS has) made cl_here (what is): both by name. */
static int
cl_place_put(struct coord_cluster *cl)
{
	struct cl_place	*v;
	size_t		 i = 0, j = 0, n;
	int		 c, r = 0;

	while (r == 0 && (i < cl->cl_nhere || j < cl->cl_npub)) {
		c = i == cl->cl_nhere ? 1 : j == cl->cl_npub ? -1 :
		    strcasecmp(cl->cl_here[i].t_iqn, cl->cl_pub[j].p_iqn);
		if (c > 0) {		/* no longer served here */
			r = cl_place_set(cl, cl->cl_pub[j++].p_iqn, 0);
			continue;
		}
		if (c < 0 || cl->cl_here[i].t_n != cl->cl_pub[j].p_n)
			r = cl_place_set(cl, cl->cl_here[i].t_iqn,
			    cl->cl_here[i].t_n);
		i++;
		j += c == 0;
	}
	if (r != 0)
		return r;
	n = cl->cl_nhere < CL_PLACE_MAX ? cl->cl_nhere : CL_PLACE_MAX;
	if (n > cl->cl_pubcap) {
		if ((v = reallocarray(cl->cl_pub, n, sizeof(*v))) == NULL)
			return -ENOMEM;
		cl->cl_pub = v;
		cl->cl_pubcap = n;
	}
	for (cl->cl_npub = 0; cl->cl_npub < n; cl->cl_npub++) {
		snprintf(cl->cl_pub[cl->cl_npub].p_iqn, SHMQ_NAME_MAX, "%s",
		    cl->cl_here[cl->cl_npub].t_iqn);
		cl->cl_pub[cl->cl_npub].p_n = cl->cl_here[cl->cl_npub].t_n;
	}
	return 0;
}

/* A placement record into cl_place, if its node is known. */
static int
cl_place_one(void *arg, const char *key, const char *val, size_t len)
{
	struct coord_cluster *cl = arg;
	struct cluster_place *p;
	const char	*slash = strchr(key, '/');
	char		 node[CFG_NAME_MAX], num[16];
	int		 i;

	if (slash == NULL || (size_t)(slash - key) >= sizeof(node) ||
	    len >= sizeof(num) || cl->cl_nplace >= CLUSTER_MAX_PLACE)
		return 0;
	memcpy(node, key, (size_t)(slash - key));
	node[slash - key] = '\0';
	if (len > 0)
		memcpy(num, val, len);
	num[len] = '\0';
	for (i = 0; i < cl->cl_nnodes; i++)
		if (strcmp(cl->cl_nodes[i].n_name, node) == 0)
			break;
	if (i == cl->cl_nnodes)
		return 0;
	p = &cl->cl_place[cl->cl_nplace++];
	p->cp_hash = cluster_target_hash(slash + 1);
	p->cp_node = (uint16_t)i;
	p->cp_conns = (uint16_t)strtoul(num, NULL, 10);
	return 0;
}

/* Forget what an earlier life of this node left in "placement". */
static int
cl_place_mine(void *arg, const char *key, const char *val, size_t len)
{
	struct coord_cluster *cl = arg;

	(void)val;
	(void)len;
	return cl_omap_rm(cl, CLUSTER_OBJ_PLACEMENT, key);
}

/* ---------------------------------------------------------------- */
/* The page and the lease */

/*
 * The nodes and the placement (read now) into the page.  The placement
 * is read from RADOS before the page is opened for writing: while it is
 * open, workers reading it wait (a login to a shared target among them),
 * so it is open for copies only, never for a round trip.
 */
static int
cl_publish(struct coord_cluster *cl)
{
	struct cluster_page *pg = cl->cl_pg;
	int		 i, r;

	cl->cl_nplace = 0;
	r = cl_omap_foreach(cl, CLUSTER_OBJ_PLACEMENT, "", cl_place_one, cl);
	cluster_page_begin(pg);
	for (i = 0; i < cl->cl_nnodes; i++) {
		snprintf(pg->cg_nodes[i].cn_name, CFG_NAME_MAX, "%s",
		    cl->cl_nodes[i].n_name);
		snprintf(pg->cg_nodes[i].cn_addr, CLUSTER_ADDR_MAX, "%s",
		    cl->cl_nodes[i].n_addr);
		pg->cg_nodes[i].cn_conns = cl->cl_nodes[i].n_conns;
		pg->cg_nodes[i].cn_alive = (uint32_t)cl->cl_nodes[i].n_alive;
		if (strcmp(cl->cl_nodes[i].n_name, cl->cl_cc->cc_node) == 0)
			pg->cg_self = (uint32_t)i;
	}
	pg->cg_nnodes = (uint32_t)cl->cl_nnodes;
	if (cl->cl_nplace > 0)
		memcpy(pg->cg_place, cl->cl_place,
		    cl->cl_nplace * sizeof(pg->cg_place[0]));
	pg->cg_nplace = cl->cl_nplace;
	pg->cg_ready = 1;
	cluster_page_end(pg);
	return r == -ENOENT ? 0 : r;
}

/*
 * The main thread's heartbeat: what this node serves, the others and
 * where they serve, into RADOS and the page; pushes of what needed no
 * waiting; clones to remove.
 */
static void
cl_heartbeat(struct coord_cluster *cl)
{
	uint64_t	 now = cluster_now_ns();
	int		 ok;

	atomic_store_explicit(&cl->cl_conns, cl_count_here(cl),
	    memory_order_relaxed);
	ok = cl_nodes_read(cl) == 0;
	ok &= cl_place_put(cl) == 0;
	ok &= cl_publish(cl) == 0;
	if (!ok && !cl->cl_hb_said++)
		log_warnx("%s: the cluster's nodes and placement could not be "
		    "read or written", __func__);
	else if (ok)
		cl->cl_hb_said = 0;
	cl_pr_heartbeat(cl);
	cl_quota_heartbeat(cl);
	cl_psess_heartbeat(cl);
	cl->cl_next = now + cl->cl_period;
}

/* ---------------------------------------------------------------- */
/* The coordinator's entries */

/* Every pass of the loop: notifications, a lost watch, the heartbeat. */
void
coord_cluster_work(struct coord *c)
{
	struct coord_cluster *cl = c->c_cluster;
	struct cl_event	 acks[CL_EVENT_MAX];
	int		 n, i;

	if (cl == NULL)
		return;
	if (cl->cl_watch_lost) {
		cl->cl_stale = 1;	/* no lease till the reload is done */
		if (cl_watch(cl) == 0) {
			log_info("%s: watch on %s again: reloading the shared "
			    "state", __func__, CLUSTER_OBJ_EVENTS);
			if (cl_pr_load_all(cl) == 0)
				cl->cl_stale = 0;
			cl->cl_sessions_dirty = 1;
		}
	}
	if (cl->cl_sessions_dirty) {
		cl->cl_sessions_dirty = 0;
		if (cl_psess_load(cl) != 0)
			log_warnx("%s: the sessions could not be read",
			    __func__);
		pthread_mutex_lock(&cl->cl_mtx);
		n = cl->cl_nacks;
		memcpy(acks, cl->cl_acks, (size_t)n * sizeof(acks[0]));
		cl->cl_nacks = 0;
		pthread_mutex_unlock(&cl->cl_mtx);
		for (i = 0; i < n; i++)
			cl_ack(cl, acks[i].ev_id, acks[i].ev_cookie);
	}
	if (cluster_now_ns() >= cl->cl_next)
		cl_heartbeat(cl);
}

static int
cl_open(struct coord_cluster *cl)
{
	const struct cfg_cluster *cc = cl->cl_cc;
	rados_write_op_t op;
	void		*rados, *pool;
	int		 r;

	if (cluster_connect(cc, "coordinator", &rados, &pool) != 0)
		return -1;
	cl->cl_rados = rados;
	cl->cl_pool = pool;
	if ((r = rados_ioctx_create(cl->cl_rados, cc->cc_pool,
	    &cl->cl_io)) < 0) {
		log_warnx("%s: %s", __func__, strerror(-r));
		return -1;
	}
	rados_ioctx_set_namespace(cl->cl_io, CLUSTER_NS);
	op = rados_create_write_op();
	rados_write_op_create(op, LIBRADOS_CREATE_IDEMPOTENT, NULL);
	r = rados_write_op_operate(op, cl->cl_io, CLUSTER_OBJ_EVENTS, NULL, 0);
	rados_release_write_op(op);
	if (r < 0) {
		log_warnx("%s: %s: %s", __func__, CLUSTER_OBJ_EVENTS,
		    strerror(-r));
		return -1;
	}
	return 0;
}

/*
 * Join the cluster (a "cluster" section): connect, watch, load the
 * reservations and sessions other nodes made, first heartbeat, page
 * ready.  0, or an exit status (EXIT_FAILURE: the cluster could not be
 * reached; the master starts us again).
 */
int
coord_cluster_init(struct coord *c, const struct config *cfg)
{
	struct coord_cluster *cl;
	char		 prefix[CFG_NAME_MAX + 2];
	int		 r;

	if (!cfg->c_cluster.cc_on)
		return 0;
	if ((cl = calloc(1, sizeof(*cl))) == NULL)
		return EXIT_FAILURE;
	pthread_mutex_init(&cl->cl_mtx, NULL);
	pthread_cond_init(&cl->cl_cv, NULL);
	c->c_cluster = cl;
	cl->cl_coord = c;
	cl->cl_cfg = cfg;
	cl->cl_cc = &cfg->c_cluster;
	cl->cl_timeout = cfg->c_cluster_timeout * 1000000000ULL;
	cl->cl_period = cl->cl_timeout / 5;
	cl->cl_watch_secs = cfg->c_cluster_timeout - 1;
	if ((cl->cl_pg = cluster_page_open(c->c_statedir, 1)) == NULL) {
		log_warn("%s: %s/%s", __func__, c->c_statedir,
		    CLUSTER_MIRROR_FILE);
		return EXIT_FAILURE;
	}
	if (cl_open(cl) != 0 || cl_watch(cl) != 0)
		return EXIT_FAILURE;
	snprintf(prefix, sizeof(prefix), "%s/", cl->cl_cc->cc_node);
	r = cl_omap_foreach(cl, CLUSTER_OBJ_PLACEMENT, prefix, cl_place_mine,
	    cl);
	if ((r != 0 && r != -ENOENT) || cl_pr_load_all(cl) != 0 ||
	    cl_psess_load(cl) != 0)
		return EXIT_FAILURE;
	cl_beat(cl);
	if (cl_helper_start(cl) != 0)
		return EXIT_FAILURE;
	cl_heartbeat(cl);
	if (!cluster_page_serving(cl->cl_pg))
		return EXIT_FAILURE;
	log_info("%s: node %s (%s) in the cluster of %s, pool %s: %d node(s)",
	    __func__, cl->cl_cc->cc_node, cl->cl_cc->cc_addr,
	    cl->cl_cc->cc_conf, cl->cl_cc->cc_pool, cl->cl_nnodes);
	(void)cl_clones_sweep(cl);
	return 0;
}

/*
 * Leave: the workers stop serving shared LUs at once (nobody applies
 * the other nodes' reservations any more), the watch goes.
 */
void
coord_cluster_fini(struct coord *c)
{
	struct coord_cluster *cl = c->c_cluster;

	if (cl == NULL)
		return;
	if (cl->cl_pg != NULL)
		atomic_store_explicit(&cl->cl_pg->cg_lease, 0,
		    memory_order_release);
	if (cl->cl_thread_on) {
		pthread_mutex_lock(&cl->cl_mtx);
		cl->cl_stop = 1;
		pthread_cond_signal(&cl->cl_cv);
		pthread_mutex_unlock(&cl->cl_mtx);
		pthread_join(cl->cl_thread, NULL);
	}
	if (cl->cl_watching)
		(void)rados_unwatch2(cl->cl_io, cl->cl_watch);
	cl_pr_fini(cl);
	cl_psess_fini(cl);
	free(cl->cl_here);
	free(cl->cl_pub);
	if (cl->cl_io != NULL)
		rados_ioctx_destroy(cl->cl_io);
	cluster_disconnect(cl->cl_rados, cl->cl_pool);
	cluster_page_close(cl->cl_pg);
	free(cl);
	c->c_cluster = NULL;
}
