/*
 * A worker run in-process (tworker.h): its scratch directories and
 * configuration, worker_init() with a control socket and a shmq region
 * of one slot, a stand-in for the coordinator on that slot, and the
 * loop run by the test a pass at a time, what the worker says on its
 * control socket read as the master reads it.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "fdpass.h"
#include "proc.h"
#include "shmq.h"
#include "tworker.h"

#define TW_PUMP_MAX	200000	/* loop passes before "never idle" */
#define TW_PUMP_QUIET	3	/* passes without progress: idle */

static int
tw_mkdir(const char *dir, const char *name)
{
	char	 p[1024];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (mkdir(p, 0700) == -1 && errno != EEXIST) {
		perror(p);
		return -1;
	}
	return 0;
}

/* The worker's tree under dir (which exists): images/, state/overlays/. */
int
tw_dirs(struct tworker *tw, const char *dir)
{
	memset(tw, 0, sizeof(*tw));
	tw->tw_ctl = -1;
	snprintf(tw->tw_dir, sizeof(tw->tw_dir), "%s", dir);
	if (tw_mkdir(dir, "images") == -1 || tw_mkdir(dir, "state") == -1 ||
	    tw_mkdir(dir, "state/overlays") == -1)
		return -1;
	return 0;
}

/*
 * dir/scsipubd.conf: image-dir and state-dir under dir, then text;
 * loaded into tw_cfg.  -1 (said on stderr) when it does not parse.
 */
int
tw_config(struct tworker *tw, const char *text)
{
	char	 path[1024];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/scsipubd.conf", tw->tw_dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "image-dir %s/images\nstate-dir %s/state\n%s",
	    tw->tw_dir, tw->tw_dir, text);
	if (fclose(f) == EOF)
		return -1;
	if ((tw->tw_cfg = config_new()) == NULL ||
	    config_load(tw->tw_cfg, path, stderr) != 0) {
		fprintf(stderr, "%s: the test's configuration is bad\n", path);
		return -1;
	}
	return 0;
}

/*
 * As the master starts a worker: worker_init() with a control socket
 * (its other end ours) and a shmq region of one slot, and the API on
 * the napi listening sockets api.
 */
int
tw_start(struct tworker *tw, const int *api, int napi)
{
	struct proc_env	 env;
	int		 sv[2], i;

	signal(SIGPIPE, SIG_IGN);
	memset(&env, 0, sizeof(env));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1 ||
	    (env.pe_region = shmq_region_create(1)) == NULL)
		return -1;
	tw->tw_ctl = sv[0];
	fcntl(tw->tw_ctl, F_SETFL, O_NONBLOCK);
	shmq_slot_claim(env.pe_region, 0, getpid());
	env.pe_cfg = tw->tw_cfg;
	env.pe_ctl = sv[1];
	for (i = 0; i < napi && i < CFG_MAX_LISTEN; i++)
		env.pe_api[env.pe_napi++] = api[i];
	if (worker_init(&tw->tw_w, &env) != 0) {
		fprintf(stderr, "%s: worker_init failed\n", __func__);
		return -1;
	}
	return 0;
}

/*
 * The coordinator's side of the ring: every request answered, with
 * success or what the hook says, unless tw_hold.  Returns the number
 * answered.
 */
int
tw_coord_step(struct tworker *tw)
{
	struct shmq_region	*rg = tw->tw_w.w_region;
	struct shmq_msg		 m;
	uint32_t		 status;
	int			 r, n = 0;

	while (!tw->tw_hold && (r = shmq_request_peek(rg, 0, 0, &m)) != 0) {
		if (r == 1) {
			status = tw->tw_hook != NULL ?
			    tw->tw_hook(&m, tw->tw_arg) : 0;
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

/* A connection handed over: kept for the test, any earlier one closed. */
static void
tw_handed_keep(struct tworker *tw, uint32_t id, const int *fds, int nfds)
{
	int	 i;

	for (i = 0; i < tw->tw_nhfds; i++)
		close(tw->tw_hfds[i]);
	memcpy(tw->tw_hfds, fds, sizeof(int) * (size_t)nfds);
	tw->tw_nhfds = nfds;
	tw->tw_nhanded++;
	tw->tw_handed = id;
}

/*
 * What the worker told the master: connections closed, or handed over
 * (their descriptors kept in tw_hfds).  How many messages.
 */
int
tw_ctl_read(struct tworker *tw)
{
	struct proc_ctlmsg msg;
	int		 fds[FDPASS_MAX], n, eof, i, seen = 0;

	for (;;) {
		n = fdpass_recvv(tw->tw_ctl, &msg, sizeof(msg), fds,
		    FDPASS_MAX, &eof, MSG_DONTWAIT);
		if (n == -1 && errno == EBADMSG) {
			seen++;
			continue;
		}
		if (n < 0 || eof)
			break;
		seen++;
		if (msg.pc_type == PROC_HANDOFF_CONN) {
			tw_handed_keep(tw, msg.pc_arg, fds, n);
			continue;
		}
		if (msg.pc_type == PROC_CONN_CLOSED) {
			tw->tw_nclosed++;
			tw->tw_closed = msg.pc_arg;
		}
		for (i = 0; i < n; i++)
			close(fds[i]);
	}
	return seen;
}

/*
 * One pass of the worker's loop, the ring answered; when nothing moved,
 * wait in the loop up to ms for an event of the worker's (a timer, a
 * socket).  Returns what moved.
 */
int
tw_pass(struct tworker *tw, int ms)
{
	struct event_base	*base = tw->tw_w.w_base;
	struct timeval		 tv = { ms / 1000, (ms % 1000) * 1000 };
	int			 moved;

	event_base_loop(base, EVLOOP_NONBLOCK);
	moved = tw_ctl_read(tw) + tw_coord_step(tw);
	moved += event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE);
	if (moved == 0 && ms > 0) {
		event_base_loopexit(base, &tv);
		event_base_loop(base, EVLOOP_ONCE);
	}
	return moved;
}

/*
 * Run the worker's loop until nothing moves: no event active, nothing
 * for the coordinator, and io (the test's side: read what came back,
 * look at what is still unread) reporting no progress.  0 when idle,
 * -1 when the worker never settled.
 */
int
tw_pump(struct tworker *tw, int (*io)(void *), void *arg)
{
	int	 i, quiet = 0, moved;

	for (i = 0; i < TW_PUMP_MAX && quiet < TW_PUMP_QUIET; i++) {
		moved = tw_pass(tw, 0);
		moved += io != NULL ? io(arg) : 0;
		quiet = moved != 0 ? 0 : quiet + 1;
	}
	return quiet >= TW_PUMP_QUIET ? 0 : -1;
}

/*
 * A new iSCSI connection, as if the master had handed it over with id
 * mid: the worker gets one end of a socketpair, not blocking as the
 * master's accept4 makes it; the other end, not blocking either, is
 * returned (or -1).
 */
int
tw_connect(struct tworker *tw, uint32_t mid)
{
	int	 sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		return -1;
	conn_accept(&tw->tw_w, sv[1], LISTEN_ISCSI, mid);
	return sv[0];
}
