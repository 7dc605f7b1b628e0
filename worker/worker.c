/*
 * A worker: one libevent loop serving the iSCSI connections the master
 * hands over, and the HTTP API on the inherited api-listen sockets.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "api.h"
#include "fdpass.h"
#include "iscsi.h"
#include "log.h"
#include "proc.h"
#include "shmq.h"

#define WORKER_DRAIN_SECS	30

/*
 * A connection the master sent that we had no descriptor for: it is
 * gone (the master is told, so it stops counting it); said once until
 * descriptors are back.
 */
static void
worker_no_fd(struct worker *w, const struct fdpass_msg *m)
{
	if (!w->w_nofd)
		log_warnx("out of descriptors (%d connections): new "
		    "connections dropped", w->w_nconns);
	w->w_nofd = 1;
	conn_notify_closed(w, m->fm_seq);
}

/* One message from the master: a connection, or what to do. */
static void
worker_ctl_msg(struct worker *w, const struct fdpass_msg *m, int *fds,
    int nfds)
{
	int	 i;

	if (m->fm_tag == PROC_TAG_HANDOFF && nfds == 0) {
		api_stop(w);
		handoff_start(w);
		return;
	}
	if (m->fm_tag == PROC_TAG_ADOPT && (nfds == 2 || nfds == 3)) {
		handoff_adopt(w, fds[0], fds[1], nfds == 3 ? fds[2] : -1,
		    m->fm_seq);
		return;
	}
	if (m->fm_tag < PROC_TAG_HANDOFF && nfds == 1) {
		conn_accept(w, fds[0], (enum listen_kind)m->fm_tag, m->fm_seq);
		return;
	}
	log_warnx("%s: malformed message from the master", __func__);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

static void
worker_ctl(evutil_socket_t fd, short ev, void *arg)
{
	struct worker		*w = arg;
	struct fdpass_msg	 m;
	int			 fds[FDPASS_MAX], n, eof;

	(void)ev;
	for (;;) {
		n = fdpass_recvv(fd, &m, sizeof(m), fds, FDPASS_MAX, &eof, 0);
		if (n >= 0 && !eof) {
			w->w_nofd = 0;
			worker_ctl_msg(w, &m, fds, n);
			continue;
		}
		if (n == -1 && errno == EMFILE) {
			worker_no_fd(w, &m);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1 && errno == EBADMSG) {
			log_warnx("%s: malformed message from the master",
			    __func__);
			continue;
		}
		break;
	}
	/* The master closed our control socket: drain and exit. */
	worker_drain(w);
}

static void
worker_drain_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;

	(void)fd;
	(void)ev;
	log_info("drain timeout with %d connections left", w->w_nconns);
	event_base_loopexit(w->w_base, NULL);
}

void
worker_drain(struct worker *w)
{
	struct timeval	 tv = { WORKER_DRAIN_SECS, 0 };

	if (w->w_drain_armed)
		return;
	w->w_drain_armed = 1;
	log_info("draining %d connections", w->w_nconns);
	w->w_draining = 1;
	event_del(w->w_ctlev);
	api_stop(w);
	if (w->w_nconns == 0) {
		event_base_loopexit(w->w_base, NULL);
		return;
	}
	conn_drain_all(w);
	event_base_once(w->w_base, -1, EV_TIMEOUT, worker_drain_timeout, w,
	    &tv);
}

static void
worker_nopin_config(struct worker *w)
{
	const char	*env = getenv("SCSIPUB_NOPIN_INTERVAL");
	uint64_t	 v;

	w->w_nopin_interval = w->w_cfg->c_nopin_interval;
	w->w_nopin_timeout = w->w_cfg->c_nopin_timeout;
	if (env != NULL && config_parse_duration(env, &v) == 0)
		w->w_nopin_interval = v;
}

/*
 * Set a worker up from what the master hands it: the event loop, the
 * catalog, TLS, the control socket, the coordinator's ring, the timers
 * and the API.  0, or EX_CONFIG.  The fuzzing harnesses (tests/fuzz)
 * set their worker up here too.  EXIT_FAILURE (respawned): the Ceph
 * cluster of a "cluster" section could not be reached.
 */
int
worker_init(struct worker *w, struct proc_env *env)
{
	memset(w, 0, sizeof(*w));
	TAILQ_INIT(&w->w_conns);
	w->w_cfg = env->pe_cfg;
	w->w_ctl = env->pe_ctl;
	w->w_region = env->pe_region;
	w->w_slot = env->pe_slot;
	w->w_tsih = (uint16_t)(env->pe_slot << 10);
	w->w_nextid = (uint64_t)getpid() << 32;	/* unique across respawns */
	if ((w->w_base = event_base_new()) == NULL)
		fatalx("%s: event_base_new", __func__);
	worker_nopin_config(w);
	if (w->w_cfg->c_cluster.cc_on && rbd_store_start(w) != 0)
		return EXIT_FAILURE;	/* the cluster: tried again */
	if (target_load(w) == -1)
		return EX_CONFIG;
	w->w_sslctx = env->pe_sslctx;	/* loaded by the master */
	evutil_make_socket_nonblocking(w->w_ctl);
	w->w_ctlev = event_new(w->w_base, w->w_ctl, EV_READ | EV_PERSIST,
	    worker_ctl, w);
	event_add(w->w_ctlev, NULL);
	if (ipc_start(w, conn_unasked) == -1)
		fatalx("%s: cannot watch the coordinator ring", __func__);
	if (ptarget_start(w) == -1 || stats_start(w, env->pe_index) == -1 ||
	    dataout_start(w) == -1 || iscsi_start(w) == -1 ||
	    sanitize_init(w) == -1)
		fatalx("%s: cannot arm the timers", __func__);
	if (api_start(w, env->pe_api, env->pe_napi) == -1)
		return EX_CONFIG;
	return 0;
}

/*
 * Tell the master something on the control socket (common/proc.h);
 * never blocks: a message the socket has no room for is lost.
 */
void
worker_tell(struct worker *w, uint32_t type, uint32_t arg)
{
	struct proc_ctlmsg msg = { type, arg };

	(void)send(w->w_ctl, &msg, sizeof(msg), MSG_DONTWAIT);
}

/*
 * The worker process: set up, tell the master it may hand connections
 * over (PROC_READY), serve until drained.
 */
int
worker_main(struct proc_env *env)
{
	struct worker	 w;
	int		 rv;

	if ((rv = worker_init(&w, env)) != 0)
		return rv;
	worker_tell(&w, PROC_READY, 0);
	log_info("worker %d ready (slot %d, %d images)", env->pe_index,
	    env->pe_slot, w.w_nimages);
	event_base_dispatch(w.w_base);
	log_info("worker %d exiting", env->pe_index);
	return 0;
}
