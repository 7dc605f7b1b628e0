/*
 * The master's children: fork, supervise, respawn with backoff, hand
 * connections to the least-loaded worker, and react to signals.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "coordinator.h"
#include "daemon.h"
#include "fdpass.h"
#include "log.h"
#include "netaddr.h"
#include "proc.h"
#include "shmq.h"
#include "worker.h"

static void	master_child_read(evutil_socket_t, short, void *);
static void	master_stop(struct master *, int);
static void	master_respawn_cb(evutil_socket_t, short, void *);
static int	master_fork(struct master *, struct child *);
static void	master_handoff_tell(struct master *, int);
static int	master_start_worker(struct master *, int);
static void	master_fill_workers(struct master *);
static void	master_roll_workers(struct master *);

/*
 * The children, by kind: what each runs and what the master gives it.
 * master_fork() and the reaper read this, and nothing else, to tell a
 * coordinator from a worker.
 */
static const struct proc procs[CHILD_KINDS] = {
	[CHILD_COORDINATOR] = { "coordinator", "coordinator",
	    coordinator_main, 0 },
	[CHILD_WORKER] = { "worker", "worker %d",
	    worker_main, PROC_F_CTL | PROC_F_SLOT | PROC_F_API },
};

static void
master_child_close(struct child *ch)
{
	if (ch->ch_ev != NULL) {
		event_free(ch->ch_ev);
		ch->ch_ev = NULL;
	}
	if (ch->ch_ctl != -1) {
		close(ch->ch_ctl);
		ch->ch_ctl = -1;
	}
}

/* In a new child: drop what belongs to the master and to siblings. */
static void
master_child_setup(struct master *m, struct child *self)
{
	const struct proc *p = &procs[self->ch_kind];
	const char	*what;
	int		 i;

	for (i = 0; i < m->m_nlisten; i++)
		if (m->m_listen[i].l_kind != LISTEN_API ||
		    !(p->p_flags & PROC_F_API))
			close(m->m_listen[i].l_fd);
	for (i = 0; i < m->m_nslots; i++)
		if (&m->m_workers[i] != self && m->m_workers[i].ch_ctl != -1)
			close(m->m_workers[i].ch_ctl);
	/* The master's loop is never run here: its epoll set is shared. */
	signal(SIGPIPE, SIG_IGN);
	for (i = 1; i < NSIG; i++)
		if (i != SIGPIPE && i != SIGKILL && i != SIGSTOP)
			signal(i, SIG_DFL);
	if (priv_drop(m->m_cfg, &what) == -1) {
		log_warn("%s: user %s: %s", __func__, m->m_cfg->c_user, what);
		_exit(EX_CONFIG);
	}
}

/* What a child is given, as its procs[] entry says. */
static void
master_child_env(struct master *m, struct child *ch, int ctl,
    struct proc_env *env)
{
	const struct proc *p = &procs[ch->ch_kind];
	int		 i;

	memset(env, 0, sizeof(*env));
	env->pe_cfg = m->m_cfg;
	env->pe_region = m->m_region;
	env->pe_slot = (p->p_flags & PROC_F_SLOT) ? ch->ch_slot : -1;
	env->pe_index = ch->ch_index;
	env->pe_ctl = ctl;
	env->pe_debug = m->m_debug;
	env->pe_sslctx = m->m_sslctx;
	for (i = 0; i < m->m_nlisten && (p->p_flags & PROC_F_API); i++)
		if (m->m_listen[i].l_kind == LISTEN_API)
			env->pe_api[env->pe_napi++] = m->m_listen[i].l_fd;
}

/* In the new child: become it, run its entry function, exit with it. */
static void __attribute__((noreturn))
master_child_run(struct master *m, struct child *ch, int sp[2])
{
	const struct proc *p = &procs[ch->ch_kind];
	struct proc_env	 env;

	if (sp[0] != -1)
		close(sp[0]);
	master_child_setup(m, ch);
	master_child_env(m, ch, sp[1], &env);
	setproctitle(p->p_title, ch->ch_index);
	log_procinit(p->p_name);
	exit(p->p_main(&env));
}

/* In the master: the child runs; its control socket watched if it has one. */
static void
master_child_started(struct master *m, struct child *ch, pid_t pid,
    int sp[2])
{
	const struct proc *p = &procs[ch->ch_kind];

	ch->ch_pid = pid;
	ch->ch_started = time(NULL);
	ch->ch_state = CHILD_RUNNING;
	ch->ch_gen = m->m_gen;		/* it runs the configuration of now */
	ch->ch_conns = 0;
	ch->ch_ready = 0;
	ch->ch_master = m;
	if (p->p_flags & PROC_F_SLOT)
		shmq_slot_claim(m->m_region, ch->ch_slot, pid);
	if (p->p_flags & PROC_F_CTL) {
		close(sp[1]);
		ch->ch_ctl = sp[0];
		ch->ch_ev = event_new(m->m_base, ch->ch_ctl, EV_READ |
		    EV_PERSIST, master_child_read, ch);
		event_add(ch->ch_ev, NULL);
	}
	log_debug("%s: %s %d pid %d slot %d", __func__, p->p_name,
	    ch->ch_index, (int)pid, (p->p_flags & PROC_F_SLOT) ?
	    ch->ch_slot : -1);
}

static int
master_fork(struct master *m, struct child *ch)
{
	const struct proc *p = &procs[ch->ch_kind];
	int		 sp[2] = { -1, -1 };
	pid_t		 pid;

	if ((p->p_flags & PROC_F_CTL) &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1) {
		log_warn("%s: socketpair", __func__);
		return -1;
	}
	if (p->p_flags & PROC_F_SLOT)
		shmq_slot_claim(m->m_region, ch->ch_slot, 0);
	if ((pid = fork()) == -1) {
		log_warn("%s: fork", __func__);
		if (sp[0] != -1) {
			close(sp[0]);
			close(sp[1]);
		}
		return -1;
	}
	if (pid == 0)
		master_child_run(m, ch, sp);
	master_child_started(m, ch, pid, sp);
	return 0;
}

/*
 * Accepting was paused until a worker is ready: resume it (unless the
 * listeners are backing off from EMFILE; their timer resumes them).
 * master_accepting() pauses again if there is still nobody to take it.
 */
static void
master_accept_resume(struct master *m)
{
	if (!m->m_waitready || m->m_stopping)
		return;
	m->m_waitready = 0;
	if (m->m_resume == NULL || !evtimer_pending(m->m_resume, NULL))
		listen_enable(m);
}

/* A worker says it is initialised: connections may go to it now. */
static void
master_child_ready(struct child *ch)
{
	ch->ch_ready = 1;
	log_debug("%s: worker %d (pid %d) ready", __func__, ch->ch_index,
	    (int)ch->ch_pid);
	master_accept_resume(ch->ch_master);
	master_handoff_tell(ch->ch_master, 0);
}

static void
master_child_closed(struct child *ch, uint32_t id)
{
	if (ch->ch_conns > 0)
		ch->ch_conns--;
	conns_closed(ch->ch_master->m_conns, ch->ch_slot, id);
}

/*
 * A connection an old worker handed over, its socket and its state:
 * to the least loaded new worker, its record moved with it.  With no
 * worker to take it, its socket closes: the initiator reconnects, and an
 * anonymous session finds its overlay again.
 */
static void
master_child_handoff(struct child *from, uint32_t id, int *fds, int nfds)
{
	struct master		*m = from->ch_master;
	struct fdpass_msg	 fm = { PROC_TAG_ADOPT, id };
	struct child		*to;
	int			 i;

	if ((i = master_pick_worker(m)) == -1 ||
	    fdpass_sendv(m->m_workers[i].ch_ctl, &fm, sizeof(fm), fds,
	    nfds) == -1) {
		log_warnx("%s: connection %u from worker %d: no worker took "
		    "it, closed", __func__, id, from->ch_index);
		master_child_closed(from, id);
	} else {
		to = &m->m_workers[i];
		if (conns_moved(m->m_conns, from->ch_slot, to->ch_slot,
		    id) == -1)
			log_warnx("%s: connection %u was not worker %d's",
			    __func__, id, from->ch_index);
		if (from->ch_conns > 0)
			from->ch_conns--;
		to->ch_conns++;
	}
	for (i = 0; i < nfds; i++)
		close(fds[i]);
}

/* One control message from a worker, with the descriptors it brought. */
static void
master_child_msg(struct child *ch, const struct proc_ctlmsg *msg, int *fds,
    int nfds)
{
	int	 i;

	if (msg->pc_type == PROC_HANDOFF_CONN && (nfds == 2 || nfds == 3)) {
		master_child_handoff(ch, msg->pc_arg, fds, nfds);
		return;
	}
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	switch (msg->pc_type) {
	case PROC_CONN_CLOSED:
		master_child_closed(ch, msg->pc_arg);
		break;
	case PROC_READY:
		master_child_ready(ch);
		break;
	}
}

/* Control messages from a worker (struct proc_ctlmsg, common/proc.h). */
static void
master_child_read(evutil_socket_t fd, short ev, void *arg)
{
	struct child		*ch = arg;
	struct proc_ctlmsg	 msg;
	int			 fds[FDPASS_MAX], n, eof;

	(void)ev;
	for (;;) {
		n = fdpass_recvv(fd, &msg, sizeof(msg), fds, FDPASS_MAX, &eof,
		    MSG_DONTWAIT);
		if (eof) {
			master_child_close(ch);
			return;
		}
		if (n >= 0)
			master_child_msg(ch, &msg, fds, n);
		else if (errno != EBADMSG && errno != EMFILE)
			return;
	}
}

/* The least loaded worker that said it is ready, or -1. */
int
master_pick_worker(struct master *m)
{
	int	 i, best = -1;

	for (i = 0; i < m->m_nslots; i++) {
		if (m->m_workers[i].ch_state != CHILD_RUNNING ||
		    m->m_workers[i].ch_ctl == -1 || !m->m_workers[i].ch_ready)
			continue;
		if (best == -1 ||
		    m->m_workers[i].ch_conns < m->m_workers[best].ch_conns)
			best = i;
	}
	return best;
}

/*
 * May the listeners accept a connection now?  Not while the workers
 * that run are all still starting: accepting pauses (connections wait
 * in the backlog, the master never waits) until one says PROC_READY.
 * With no worker running at all they are accepted, and refused, as
 * they always were.
 */
int
master_accepting(struct master *m)
{
	int	 i;

	if (master_pick_worker(m) != -1)
		return 1;
	for (i = 0; i < m->m_nslots; i++)
		if (m->m_workers[i].ch_state == CHILD_RUNNING &&
		    m->m_workers[i].ch_ctl != -1)
			break;
	if (i == m->m_nslots)
		return 1;
	listen_disable(m);
	m->m_waitready = 1;
	return 0;
}

/*
 * Say how many connections a limit refused: once a second at most for
 * each limit.
 */
static void
master_refused(struct master *m, const char *why)
{
	time_t	 now = time(NULL);

	m->m_refused++;
	if (now == m->m_refused_said && why == m->m_refused_why)
		return;
	log_warnx("connection refused (%s); %llu refused since the last "
	    "message", why, (unsigned long long)m->m_refused);
	m->m_refused = 0;
	m->m_refused_said = now;
	m->m_refused_why = why;
}

/*
 * A new iSCSI connection: counted against the limits before any worker
 * sees it, then handed to the least loaded worker with its id.
 */
void
master_handoff(struct master *m, int s, enum listen_kind kind,
    const struct sockaddr *sa, socklen_t salen)
{
	struct fdpass_msg fm;
	struct child	*ch;
	uint8_t		 addr[NETADDR_KEY_LEN];
	const char	*why;
	int64_t		 id;
	int		 i;

	if (m->m_stopping || (i = master_pick_worker(m)) == -1) {
		log_warnx("%s: no worker available, connection refused",
		    __func__);
		close(s);
		return;
	}
	ch = &m->m_workers[i];
	netaddr_key(sa, salen, (unsigned)m->m_cfg->c_v6_prefix, addr);
	if ((id = conns_add(m->m_conns, addr, ch->ch_slot,
	    m->m_cfg->c_max_conns, m->m_cfg->c_max_conns_addr, &why)) == -1) {
		master_refused(m, why);
		close(s);
		return;
	}
	fm.fm_tag = kind;
	fm.fm_seq = (uint32_t)id;
	if (fdpass_send(ch->ch_ctl, s, &fm) == -1) {
		log_warn("%s: to worker %d", __func__, ch->ch_index);
		conns_closed(m->m_conns, ch->ch_slot, (uint32_t)id);
	} else
		ch->ch_conns++;
	close(s);
}

static struct child *
master_find(struct master *m, pid_t pid)
{
	int	 i;

	if (m->m_coord.ch_pid == pid)
		return &m->m_coord;
	for (i = 0; i < m->m_nslots; i++)
		if (m->m_workers[i].ch_pid == pid)
			return &m->m_workers[i];
	return NULL;
}

static void
master_log_exit(struct child *ch, int status)
{
	const char	*what = procs[ch->ch_kind].p_name;

	if (WIFSIGNALED(status))
		log_warnx("%s %d (pid %d) killed by signal %d", what,
		    ch->ch_index, (int)ch->ch_pid, WTERMSIG(status));
	else if (WEXITSTATUS(status) != 0 || ch->ch_state == CHILD_RUNNING)
		log_warnx("%s %d (pid %d) exited with status %d", what,
		    ch->ch_index, (int)ch->ch_pid, WEXITSTATUS(status));
	else
		log_info("%s %d (pid %d) exited", what, ch->ch_index,
		    (int)ch->ch_pid);
}

static void
master_schedule_respawn(struct master *m, struct child *ch)
{
	struct timeval	 tv;
	int		 ms;

	if (time(NULL) - ch->ch_started >= MASTER_STABLE_SECS) {
		ch->ch_deaths = 0;
		ch->ch_backoff_ms = 0;
	}
	ms = ch->ch_deaths == 0 ? 0 : ch->ch_backoff_ms;
	ch->ch_backoff_ms = ch->ch_backoff_ms == 0 ? MASTER_BACKOFF_MIN_MS :
	    ch->ch_backoff_ms * 2;
	if (ch->ch_backoff_ms > MASTER_BACKOFF_MAX_MS)
		ch->ch_backoff_ms = MASTER_BACKOFF_MAX_MS;
	ch->ch_deaths++;
	ch->ch_state = CHILD_WAITING;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	if (ch->ch_timer == NULL)
		ch->ch_timer = evtimer_new(m->m_base, master_respawn_cb, ch);
	evtimer_add(ch->ch_timer, &tv);
}

static void
master_respawn_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct child	*ch = arg;

	(void)fd;
	(void)ev;
	if (ch->ch_master->m_stopping || ch->ch_state != CHILD_WAITING)
		return;
	if (master_fork(ch->ch_master, ch) == -1)
		master_schedule_respawn(ch->ch_master, ch);
}

static int
master_children_alive(struct master *m)
{
	int	 i, n = m->m_coord.ch_pid > 0;

	for (i = 0; i < m->m_nslots; i++)
		n += m->m_workers[i].ch_pid > 0;
	return n;
}

static void
master_reaped(struct master *m, struct child *ch, int status)
{
	int	 was = ch->ch_state;

	master_log_exit(ch, status);
	ch->ch_pid = 0;
	/*
	 * What it said before it exited comes first: a connection it
	 * handed over is still in its control socket.
	 */
	if (ch->ch_ctl != -1)
		master_child_read(ch->ch_ctl, EV_READ, ch);
	master_child_close(ch);
	if (procs[ch->ch_kind].p_flags & PROC_F_SLOT)
		shmq_slot_release(m->m_region, ch->ch_slot);
	if (procs[ch->ch_kind].p_flags & PROC_F_CTL)
		conns_slot_gone(m->m_conns, ch->ch_slot);
	if (m->m_stopping) {
		ch->ch_state = CHILD_IDLE;
		if (master_children_alive(m) == 0)
			event_base_loopbreak(m->m_base);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG) {
		log_warnx("%s: fatal setup error in a child, stopping",
		    __func__);
		m->m_exitcode = EX_CONFIG;
		master_stop(m, 1);
		return;
	}
	master_accept_resume(m);	/* it may have been the one awaited */
	if (was == CHILD_DRAINING && ch->ch_kind == CHILD_COORDINATOR) {
		log_info("starting the new coordinator");
		if (master_fork(m, ch) == -1)
			master_schedule_respawn(m, ch);
		return;
	}
	if (was == CHILD_DRAINING) {
		ch->ch_state = CHILD_IDLE;
		ch->ch_handoff = HANDOFF_NONE;
		master_fill_workers(m);	/* its slot may be the one missing */
		return;
	}
	master_schedule_respawn(m, ch);
}

static void
master_sigchld(struct master *m)
{
	struct child	*ch;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if ((ch = master_find(m, pid)) != NULL)
			master_reaped(m, ch, status);
	}
}

/* A free worker slot for a new worker, or -1. */
static int
master_free_slot(struct master *m)
{
	int	 i;

	for (i = 0; i < m->m_nslots; i++)
		if (m->m_workers[i].ch_state == CHILD_IDLE)
			return i;
	return -1;
}

/* Worker index started in a free slot: 0, or -1 when none is free. */
static int
master_start_worker(struct master *m, int index)
{
	struct child	*ch;
	int		 slot;

	if ((slot = master_free_slot(m)) == -1)
		return -1;
	ch = &m->m_workers[slot];
	memset(ch, 0, sizeof(*ch));
	ch->ch_kind = CHILD_WORKER;
	ch->ch_index = index;
	ch->ch_slot = slot;
	ch->ch_ctl = -1;
	if (master_fork(m, ch) == -1)
		master_schedule_respawn(m, ch);
	return 0;
}

void
master_spawn_all(struct master *m)
{
	int	 i;

	m->m_coord.ch_kind = CHILD_COORDINATOR;
	m->m_coord.ch_ctl = -1;
	m->m_coord.ch_master = m;
	if (master_fork(m, &m->m_coord) == -1)
		fatalx("cannot start the coordinator");
	for (i = 0; i < m->m_cfg->c_workers; i++)
		if (master_start_worker(m, i) == -1)
			fatalx("no ring slot for worker %d", i);
}

/*
 * Tell the old workers to hand their connections over (PROC_TAG_HANDOFF)
 * once every new worker is ready, so that the connections are shared
 * among all of them; or, when waited is set (MASTER_HANDOFF_WAIT_MS
 * passed), once any is.  An old worker that cannot be told drains by
 * logouts, as when the master stops.
 */
static void
master_handoff_tell(struct master *m, int waited)
{
	struct fdpass_msg fm = { PROC_TAG_HANDOFF, 0 };
	struct child	*ch;
	int		 i, starting = 0;

	for (i = 0; i < m->m_nslots; i++) {
		ch = &m->m_workers[i];
		if (ch->ch_state == CHILD_RUNNING && !ch->ch_ready)
			starting++;
	}
	if (master_pick_worker(m) == -1 || (starting > 0 && !waited))
		return;
	for (i = 0; i < m->m_nslots; i++) {
		ch = &m->m_workers[i];
		if (ch->ch_state != CHILD_DRAINING ||
		    ch->ch_handoff != HANDOFF_PENDING)
			continue;
		ch->ch_handoff = HANDOFF_TOLD;
		if (ch->ch_ctl == -1 ||
		    fdpass_sendv(ch->ch_ctl, &fm, sizeof(fm), NULL, 0) == -1) {
			log_warnx("%s: worker %d drains by logouts instead",
			    __func__, ch->ch_index);
			ch->ch_handoff = HANDOFF_NONE;
			master_child_close(ch);
		}
	}
}

static void
master_handoff_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct master	*m = arg;
	struct timeval	 tv = { 1, 0 };
	int		 i;

	(void)fd;
	(void)ev;
	master_handoff_tell(m, 1);
	for (i = 0; i < m->m_nslots; i++)
		if (m->m_workers[i].ch_state == CHILD_DRAINING &&
		    m->m_workers[i].ch_handoff == HANDOFF_PENDING) {
			evtimer_add(m->m_handoff_timer, &tv);	/* none ready */
			return;
		}
}

/* Worker ch hands its connections over once its successors are ready. */
static void
master_demote(struct master *m, struct child *ch)
{
	struct timeval	 tv = { MASTER_HANDOFF_WAIT_MS / 1000,
	    (MASTER_HANDOFF_WAIT_MS % 1000) * 1000 };

	ch->ch_state = CHILD_DRAINING;
	ch->ch_handoff = HANDOFF_PENDING;
	if (m->m_handoff_timer == NULL)
		m->m_handoff_timer = evtimer_new(m->m_base,
		    master_handoff_timeout, m);
	if (m->m_handoff_timer != NULL)
		evtimer_add(m->m_handoff_timer, &tv);
	master_handoff_tell(m, 0);
}

/* The slot of worker index that runs or will (the current roll's), or -1. */
static int
master_current(struct master *m, int index, int stale)
{
	struct child	*ch;
	int		 j;

	for (j = 0; j < m->m_nslots; j++) {
		ch = &m->m_workers[j];
		if (ch->ch_index != index || ch->ch_kind != CHILD_WORKER)
			continue;
		if (!stale && (ch->ch_state == CHILD_WAITING ||
		    (ch->ch_state == CHILD_RUNNING && ch->ch_gen == m->m_gen)))
			return j;
		if (stale && ch->ch_state == CHILD_RUNNING &&
		    ch->ch_gen != m->m_gen)
			return j;
	}
	return -1;
}

/*
 * Start the workers that should run and do not (a roll, or a slot came
 * free); a worker of an earlier roll goes on serving until the one that
 * replaces it has a slot, then hands its connections over to it.
 */
static void
master_fill_workers(struct master *m)
{
	int	 i, old;

	for (i = 0; i < m->m_cfg->c_workers && !m->m_stopping; i++) {
		if (master_current(m, i, 0) != -1)
			continue;
		old = master_current(m, i, 1);
		if (master_start_worker(m, i) == -1) {
			log_warnx("%s: no free slot for worker %d until an old "
			    "one exits; %s", __func__, i, old != -1 ?
			    "the running one stays meanwhile" :
			    "none runs meanwhile");
			continue;
		}
		if (old != -1)
			master_demote(m, &m->m_workers[old]);
	}
}

/*
 * At most draining-generations rolls of old workers keep their TLS
 * connections (which cannot be handed over): an older one is told to
 * log them out (its control socket closed, as when the daemon stops;
 * it exits within the worker's drain time), so that its slots serve
 * the next roll and no number of reloads can leave new workers without
 * a slot.
 */
static void
master_end_old(struct master *m)
{
	struct child	*ch;
	uint64_t	 keep = m->m_cfg->c_draining_gens;
	int		 i;

	for (i = 0; i < m->m_nslots; i++) {
		ch = &m->m_workers[i];
		if (ch->ch_state != CHILD_DRAINING || ch->ch_ctl == -1 ||
		    (uint64_t)ch->ch_gen + keep >= m->m_gen)
			continue;
		log_warnx("worker %d (pid %d), %u reloads old, still serves %d "
		    "connections (TLS): asked to log them out "
		    "(draining-generations %llu)", ch->ch_index,
		    (int)ch->ch_pid, m->m_gen - ch->ch_gen, ch->ch_conns,
		    (unsigned long long)keep);
		ch->ch_handoff = HANDOFF_NONE;
		master_child_close(ch);
	}
}

/*
 * Replace every worker, with no initiator seeing it: new workers start,
 * and once they are ready the old ones hand them their connections live
 * (worker/iscsi/handoff.c) and exit when the connections they keep (TLS)
 * have ended.  The old ones take no new connections meanwhile.  One
 * whose successor finds no slot yet serves on until a slot frees.
 */
static void
master_roll_workers(struct master *m)
{
	struct child	*ch;
	int		 i;

	m->m_gen++;
	for (i = 0; i < m->m_nslots; i++) {
		ch = &m->m_workers[i];
		if (ch->ch_state == CHILD_WAITING) {
			if (ch->ch_timer != NULL)
				evtimer_del(ch->ch_timer);
			ch->ch_state = CHILD_IDLE;
		} else if (ch->ch_state == CHILD_RUNNING &&
		    ch->ch_index >= m->m_cfg->c_workers)
			master_demote(m, ch);	/* fewer workers now */
	}
	master_end_old(m);
	master_fill_workers(m);
	log_info("%s: workers replaced", __func__);
}

static void
master_reload(struct master *m)
{
	struct config	*nc;
	void		*ctx = NULL;
	char		*errs = NULL, *line, *save = NULL;
	size_t		 errlen = 0;
	FILE		*ef;
	int		 bad;

	if ((nc = config_new()) == NULL || (ef = open_memstream(&errs,
	    &errlen)) == NULL) {
		log_warn("%s: reload", __func__);
		config_free(nc);
		return;
	}
	bad = config_load(nc, m->m_cfgpath, ef);
	if (bad == 0 && MASTER_SLOTS(nc) > m->m_nslots) {
		fprintf(ef, "%s: workers %d with draining-generations %llu "
		    "need %d ring slots, %d without a restart\n",
		    m->m_cfgpath, nc->c_workers,
		    (unsigned long long)nc->c_draining_gens, MASTER_SLOTS(nc),
		    m->m_nslots);
		bad++;
	}
	if (bad == 0 && conns_grow(m->m_conns, nc->c_max_conns) == -1) {
		fprintf(ef, "%s: max-connections %llu: out of memory\n",
		    m->m_cfgpath, (unsigned long long)nc->c_max_conns);
		bad++;
	}
	if (bad == 0 && strcmp(nc->c_user, m->m_cfg->c_user) != 0) {
		fprintf(ef, "%s: user cannot change without a restart\n",
		    m->m_cfgpath);
		bad++;
	}
	if (bad == 0 && (memcmp(&nc->c_cluster, &m->m_cfg->c_cluster,
	    sizeof(nc->c_cluster)) != 0 || nc->c_cluster_timeout !=
	    m->m_cfg->c_cluster_timeout)) {	/* the coordinator keeps it */
		fprintf(ef, "%s: the cluster section cannot change without a "
		    "restart\n", m->m_cfgpath);
		bad++;
	}
	if (bad == 0)
		ctx = tls_load(nc, ef, &bad);
	if (bad == 0 && listen_open(m, nc, ef) == -1)
		bad++;
	fclose(ef);
	for (line = strtok_r(errs, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		log_warnx("reload: %s", line);
	free(errs);
	if (bad) {
		log_warnx("reload failed, keeping the running configuration");
		tls_free(ctx);
		config_free(nc);
		return;
	}
	config_free(m->m_cfg);
	m->m_cfg = nc;
	tls_free(m->m_sslctx);
	m->m_sslctx = ctx;
	log_setverbose(m->m_verbose || nc->c_verbose);
	listen_enable(m);
	master_roll_workers(m);
	log_info("configuration reloaded from %s", m->m_cfgpath);
}

static void
master_drain_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct master	*m = arg;
	int		 i;

	(void)fd;
	(void)ev;
	log_warnx("drain timeout, stopping the remaining connections");
	for (i = 0; i < m->m_nslots; i++)
		if (m->m_workers[i].ch_pid > 0)
			kill(m->m_workers[i].ch_pid, SIGTERM);
	if (m->m_coord.ch_pid > 0)
		kill(m->m_coord.ch_pid, SIGTERM);
}

static void
master_stop(struct master *m, int now)
{
	struct timeval	 tv = { MASTER_DRAIN_SECS, 0 };
	int		 i;

	m->m_stopping = now ? 2 : 1;
	listen_disable(m);
	for (i = 0; i < m->m_nslots; i++) {
		struct child *ch = &m->m_workers[i];

		if (ch->ch_state == CHILD_WAITING)
			evtimer_del(ch->ch_timer);
		if (now && ch->ch_pid > 0)
			kill(ch->ch_pid, SIGTERM);
		else if (ch->ch_pid > 0) {
			ch->ch_state = CHILD_DRAINING;
			ch->ch_handoff = HANDOFF_NONE;
			master_child_close(ch);
		}
	}
	if (m->m_coord.ch_state == CHILD_WAITING)
		evtimer_del(m->m_coord.ch_timer);
	if (now || master_children_alive(m) == (m->m_coord.ch_pid > 0)) {
		if (m->m_coord.ch_pid > 0)
			kill(m->m_coord.ch_pid, SIGTERM);
	}
	if (!now) {
		m->m_drain_timer = evtimer_new(m->m_base, master_drain_timeout,
		    m);
		evtimer_add(m->m_drain_timer, &tv);
	}
	if (master_children_alive(m) == 0)
		event_base_loopbreak(m->m_base);
}

/*
 * SIGUSR2: the binary on disk takes over (daemon/upgrade.c); if it
 * cannot, this one goes on and only the workers are replaced.  Never
 * while stopping.
 */
static void
master_upgrade(struct master *m)
{
	if (m->m_stopping)
		return;
	upgrade_exec(m);
	master_roll_workers(m);
}

/*
 * The signal table: it matches SIGNALS in scsipubd(8).  libevent turns
 * each signal into a callback in the loop, so no handler does work in
 * signal context.
 */
static void	sig_hup(struct master *m)  { log_info("SIGHUP: reload"); master_reload(m); }
static void	sig_usr1(struct master *m) { (void)m; log_reopen(); log_info("SIGUSR1: logs reopened"); }
static void	sig_usr2(struct master *m) { log_info("SIGUSR2: new binary"); master_upgrade(m); }
static void	sig_term(struct master *m) { log_info("stopping now"); master_stop(m, 1); }
static void	sig_quit(struct master *m) { log_info("SIGQUIT: graceful stop"); master_stop(m, 0); }
static void	sig_chld(struct master *m) { master_sigchld(m); }

static const struct {
	int	  sig;
	void	(*fn)(struct master *);
} master_signals[] = {
	{ SIGHUP,	sig_hup },
	{ SIGUSR1,	sig_usr1 },
	{ SIGUSR2,	sig_usr2 },
	{ SIGTERM,	sig_term },
	{ SIGINT,	sig_term },
	{ SIGQUIT,	sig_quit },
	{ SIGCHLD,	sig_chld },
};

#define NSIGNALS (sizeof(master_signals) / sizeof(master_signals[0]))

static void
master_signal(evutil_socket_t sig, short ev, void *arg)
{
	struct master	*m = arg;
	size_t		 i;

	(void)ev;
	for (i = 0; i < NSIGNALS; i++)
		if (master_signals[i].sig == sig)
			master_signals[i].fn(m);
	if (sig == SIGCHLD && m->m_stopping &&
	    master_children_alive(m) == (m->m_coord.ch_pid > 0) &&
	    m->m_coord.ch_pid > 0)
		kill(m->m_coord.ch_pid, SIGTERM);
}

/*
 * The master a binary replacement executed (daemon/upgrade.c restored
 * its children): watch their control sockets again, reap what died
 * meanwhile, let the signals in, then replace the coordinator and the
 * workers with ones running this binary.
 */
static void
master_resume(struct master *m)
{
	struct child	*ch;
	sigset_t	 all;
	int		 i;

	for (i = -1; i < m->m_nslots; i++) {
		ch = i == -1 ? &m->m_coord : &m->m_workers[i];
		if (ch->ch_ctl == -1)
			continue;
		ch->ch_ev = event_new(m->m_base, ch->ch_ctl, EV_READ |
		    EV_PERSIST, master_child_read, ch);
		event_add(ch->ch_ev, NULL);
	}
	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	master_sigchld(m);
	ch = &m->m_coord;
	ch->ch_kind = CHILD_COORDINATOR;
	ch->ch_master = m;
	if (ch->ch_pid > 0) {
		ch->ch_state = CHILD_DRAINING;	/* master_reaped starts anew */
		kill(ch->ch_pid, SIGTERM);
	} else if (master_fork(m, ch) == -1)
		fatalx("cannot start the coordinator");
	master_roll_workers(m);
}

/* Run the master: its children forked, or (upgraded) taken over. */
void
master_run(struct master *m, int upgraded)
{
	struct event	*ev[NSIGNALS];
	size_t		 i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < NSIGNALS; i++) {
		ev[i] = evsignal_new(m->m_base, master_signals[i].sig,
		    master_signal, m);
		evsignal_add(ev[i], NULL);
	}
	if (upgraded)
		master_resume(m);
	else
		master_spawn_all(m);
	listen_enable(m);
	event_base_dispatch(m->m_base);
	for (i = 0; i < NSIGNALS; i++)
		event_free(ev[i]);
}
