/*
 * The API's connections: at most api-max-connections per worker, and
 * accept loops that back off when descriptors run out.
 *
 * libevent's HTTP server accepts by itself and offers no connection
 * limit (2.1), so we count what it creates: it asks us for each new
 * connection's bufferevent (evhttp_set_bevcb), and later in the same
 * loop pass we learn its socket and note the socket's inode.  A
 * connection is gone when its descriptor no longer names that inode.
 * At the limit the listeners stop accepting (new connections wait in
 * the kernel's backlog, costing us nothing) and any extra one already
 * accepted is shut down; once below, they accept again.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "api.h"
#include "log.h"
#include "worker.h"

#define AC_NEW_MAX	64		/* connections accepted in one pass */
#define AC_BACKOFF_MS	100		/* after EMFILE, at first */
#define AC_BACKOFF_MAX	2000
#define AC_EXTRA_US	50000		/* a moment for dead ones to go */

struct ac_live {
	int		 al_fd;
	dev_t		 al_dev;
	ino_t		 al_ino;
};

struct api_conns {
	struct worker		*ac_w;
	struct bufferevent	*ac_new[AC_NEW_MAX];	/* fd not known yet */
	int			 ac_nnew;
	struct ac_live		*ac_live;
	size_t			 ac_nlive;
	struct ac_live		 ac_extra[AC_NEW_MAX];	/* beyond the limit */
	int			 ac_nextra;
	struct event		*ac_extrev;
	struct evconnlistener	*ac_lev[CFG_MAX_LISTEN];
	int			 ac_nlev;
	int			 ac_full;	/* listeners off: at the limit */
	int			 ac_starved;	/* listeners off: EMFILE */
	int			 ac_backoff_ms;
	struct event		*ac_check;	/* after accepts, and each second */
	struct event		*ac_resume;	/* the EMFILE backoff */
};

/*
 * The listeners' error callback gets evhttp's argument, not ours: the
 * worker's one set of API connections is found here.
 */
static struct api_conns	*ac_self;

static void
ac_listen(struct api_conns *ac)
{
	int	 i, on = !ac->ac_full && !ac->ac_starved;

	for (i = 0; i < ac->ac_nlev; i++)
		if (on)
			evconnlistener_enable(ac->ac_lev[i]);
		else
			evconnlistener_disable(ac->ac_lev[i]);
}

static int
ac_same(const struct ac_live *al)
{
	struct stat	 sb;

	return fstat(al->al_fd, &sb) == 0 && sb.st_ino == al->al_ino &&
	    sb.st_dev == al->al_dev;
}

/* Forget connections whose socket is gone (closed, or the fd reused). */
static void
ac_sweep(struct api_conns *ac)
{
	size_t	 i = 0;

	while (i < ac->ac_nlive)
		if (ac_same(&ac->ac_live[i]))
			i++;
		else
			ac->ac_live[i] = ac->ac_live[--ac->ac_nlive];
}

/*
 * Connections accepted while at the limit wait a moment: one may be a
 * connection whose peer gave up while it waited in the backlog, which
 * evhttp drops as soon as it runs.  Then they are counted, or shut down
 * (evhttp sees EOF and frees them).
 */
static void
ac_extra_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct api_conns *ac = arg;
	uint64_t	 max = ac->ac_w->w_cfg->c_api_max_conns;
	int		 i;

	(void)fd;
	(void)ev;
	ac_sweep(ac);
	for (i = 0; i < ac->ac_nextra; i++) {
		if (!ac_same(&ac->ac_extra[i]))
			continue;
		if (ac->ac_nlive < max) {
			ac->ac_live[ac->ac_nlive++] = ac->ac_extra[i];
			continue;
		}
		log_warnx("api: %llu connections, one more refused "
		    "(api-max-connections)", (unsigned long long)max);
		shutdown(ac->ac_extra[i].al_fd, SHUT_RDWR);
	}
	ac->ac_nextra = 0;
}

/* A connection evhttp just made: counted, or left to ac_extra_cb. */
static void
ac_admit(struct api_conns *ac, struct bufferevent *bev)
{
	struct timeval	 tv = { 0, AC_EXTRA_US };
	struct ac_live	 al;
	struct stat	 sb;

	al.al_fd = bufferevent_getfd(bev);
	if (al.al_fd == -1 || fstat(al.al_fd, &sb) == -1)
		return;
	al.al_dev = sb.st_dev;
	al.al_ino = sb.st_ino;
	if (ac->ac_nlive < ac->ac_w->w_cfg->c_api_max_conns) {
		ac->ac_live[ac->ac_nlive++] = al;
		return;
	}
	if (ac->ac_nextra == AC_NEW_MAX) {
		shutdown(al.al_fd, SHUT_RDWR);
		return;
	}
	ac->ac_extra[ac->ac_nextra++] = al;
	evtimer_add(ac->ac_extrev, &tv);
}

static void
ac_check_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct api_conns *ac = arg;
	struct timeval	 tv = { 1, 0 };
	int		 i, was = ac->ac_full;

	(void)fd;
	(void)ev;
	ac_sweep(ac);
	for (i = 0; i < ac->ac_nnew; i++)
		ac_admit(ac, ac->ac_new[i]);
	ac->ac_nnew = 0;
	ac->ac_full = ac->ac_nlive >= ac->ac_w->w_cfg->c_api_max_conns;
	if (ac->ac_full != was)
		ac_listen(ac);
	evtimer_add(ac->ac_check, &tv);
}

/* evhttp's new connection: its bufferevent, noted for ac_check_cb. */
static struct bufferevent *
ac_bevcb(struct event_base *base, void *arg)
{
	struct api_conns	*ac = arg;
	struct bufferevent	*bev;

	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;
	ac->ac_backoff_ms = 0;		/* accept() works again */
	if (ac->ac_nnew < AC_NEW_MAX)
		ac->ac_new[ac->ac_nnew++] = bev;
	event_active(ac->ac_check, 0, 0);
	return bev;
}

static void
ac_resume_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct api_conns *ac = arg;

	(void)fd;
	(void)ev;
	ac->ac_starved = 0;
	ac_listen(ac);
}

/*
 * accept() failed for other reasons than a lost race: out of
 * descriptors, most likely.  Stop accepting for a while (longer each
 * time in a row) instead of spinning, and say so once.
 */
static void
ac_error_cb(struct evconnlistener *lev, void *arg)
{
	struct api_conns *ac = ac_self;
	struct timeval	 tv;
	int		 e = EVUTIL_SOCKET_ERROR();

	(void)lev;
	(void)arg;
	if (ac == NULL)
		return;
	if (!ac->ac_starved && ac->ac_backoff_ms == 0)
		log_warnx("api: accept: %s; backing off", strerror(e));
	ac->ac_backoff_ms = ac->ac_backoff_ms == 0 ? AC_BACKOFF_MS :
	    ac->ac_backoff_ms * 2;
	if (ac->ac_backoff_ms > AC_BACKOFF_MAX)
		ac->ac_backoff_ms = AC_BACKOFF_MAX;
	ac->ac_starved = 1;
	ac_listen(ac);
	tv.tv_sec = ac->ac_backoff_ms / 1000;
	tv.tv_usec = (ac->ac_backoff_ms % 1000) * 1000;
	evtimer_add(ac->ac_resume, &tv);
}

/* Count evhttp's connections and watch its listeners (bound sockets). */
struct api_conns *
apiconn_start(struct worker *w, struct evhttp *h,
    struct evhttp_bound_socket **bound, int n)
{
	struct api_conns *ac;
	int		 i;

	if ((ac = calloc(1, sizeof(*ac))) == NULL ||
	    (ac->ac_live = calloc(w->w_cfg->c_api_max_conns,
	    sizeof(*ac->ac_live))) == NULL) {
		free(ac);
		return NULL;
	}
	ac->ac_w = w;
	ac->ac_check = event_new(w->w_base, -1, 0, ac_check_cb, ac);
	ac->ac_resume = evtimer_new(w->w_base, ac_resume_cb, ac);
	ac->ac_extrev = evtimer_new(w->w_base, ac_extra_cb, ac);
	if (ac->ac_check == NULL || ac->ac_resume == NULL ||
	    ac->ac_extrev == NULL) {
		apiconn_stop(ac);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		ac->ac_lev[i] = evhttp_bound_socket_get_listener(bound[i]);
		evconnlistener_set_error_cb(ac->ac_lev[i], ac_error_cb);
	}
	ac->ac_nlev = n;
	ac_self = ac;
	evhttp_set_bevcb(h, ac_bevcb, ac);
	event_active(ac->ac_check, 0, 0);
	return ac;
}

void
apiconn_stop(struct api_conns *ac)
{
	if (ac == NULL)
		return;
	if (ac_self == ac)
		ac_self = NULL;
	if (ac->ac_check != NULL)
		event_free(ac->ac_check);
	if (ac->ac_resume != NULL)
		event_free(ac->ac_resume);
	if (ac->ac_extrev != NULL)
		event_free(ac->ac_extrev);
	free(ac->ac_live);
	free(ac);
}

/* Connections counted now, for /status. */
size_t
apiconn_count(const struct api_conns *ac)
{
	return ac != NULL ? ac->ac_nlive : 0;
}
