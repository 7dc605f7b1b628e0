/*
 * The API's connections: at most api-max-connections per worker, at
 * most api-max-connections-per-address of them from one address (IPv6
 * per ipv6-prefix), each request in full within api-request-timeout,
 * and accept loops that back off when descriptors run out.
 *
 * libevent's HTTP server (2.1) accepts by itself and offers no
 * connection limit, so we count what it creates: it asks us for each
 * new connection's bufferevent (evhttp_set_bevcb), in its accept loop.
 * That connection is counted there and then, and the listeners stop
 * when the count reaches the limit (libevent's accept loop checks after
 * each connection): no connection is accepted past it; new ones wait in
 * the kernel's backlog, where another worker may take them.  Later in
 * the same loop pass the new connections are known by their socket:
 * the peer's address is counted (common/conns.c), and one past its
 * address's share is answered 503 and closed.  evhttp tells us when a
 * connection goes (evhttp_connection_set_closecb).
 *
 * Deadlines: evhttp's own timeout (api-timeout) starts again with every
 * byte, so a client trickling a byte at a time would hold a connection
 * for ever.  Each connection also has a deadline that no byte moves: a
 * whole request, line, headers and body, must arrive within
 * api-request-timeout of the connection's accept or of the previous
 * answer (so an idle kept-alive connection goes too).  Past it the
 * client is answered 408 and the connection closed.  The deadline
 * sleeps while a request is answered (the coordinator may be asked).
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "api.h"
#include "conns.h"
#include "log.h"
#include "netaddr.h"
#include "worker.h"

#define AC_BACKOFF_MS	100		/* after EMFILE, at first */
#define AC_BACKOFF_MAX	2000
#define AC_DRAIN_MAX	(64 * 1024)	/* unread request bytes, before 503 */

/* One connection of evhttp's, from its bufferevent on. */
struct ac_conn {
	TAILQ_ENTRY(ac_conn)	 cc_entry;
	struct api_conns	*cc_ac;
	struct bufferevent	*cc_bev;	/* held until identified */
	struct evhttp_connection *cc_evcon;	/* NULL: not identified yet */
	int			 cc_fd;
	uint32_t		 cc_id;		/* in ac_conns */
	struct event		*cc_deadline;
};

TAILQ_HEAD(ac_connlist, ac_conn);

struct api_conns {
	struct worker		*ac_w;
	struct conns		*ac_conns;	/* identified, per address */
	struct ac_connlist	 ac_new;	/* not identified yet */
	struct ac_connlist	 ac_live;
	size_t			 ac_nnew;
	struct ac_conn		**ac_byfd;	/* live ones by socket */
	size_t			 ac_nbyfd;
	struct evconnlistener	*ac_lev[CFG_MAX_LISTEN];
	int			 ac_nlev;
	int			 ac_full;	/* listeners off: at the limit */
	int			 ac_starved;	/* listeners off: EMFILE */
	int			 ac_backoff_ms;
	time_t			 ac_said;	/* a refusal logged */
	unsigned		 ac_unsaid;	/* refusals not logged since */
	struct event		*ac_check;	/* identify the new ones */
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

/* Connections held now: identified, and those evhttp just made. */
static size_t
ac_held(const struct api_conns *ac)
{
	return conns_count(ac->ac_conns) + ac->ac_nnew;
}

/* Stop accepting at the limit, start again below it. */
static void
ac_update(struct api_conns *ac)
{
	int	 was = ac->ac_full;

	ac->ac_full = ac_held(ac) >= ac->ac_w->w_cfg->c_api_max_conns;
	if (ac->ac_full != was)
		ac_listen(ac);
}

/*
 * A last answer written straight to the socket of a connection about to
 * be closed, evhttp's buffers being empty: status code, reason and the
 * JSON error every answer of the API has.  What the client sent first
 * is read and dropped, so that the close is not a reset that could lose
 * the answer.
 */
static void
ac_answer(int fd, int code, const char *reason, const char *msg)
{
	char	 buf[512], *body;
	size_t	 drained = 0;
	ssize_t	 n;
	int	 len;

	while (drained < AC_DRAIN_MAX &&
	    (n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		drained += (size_t)n;
	if ((body = api_error_body(msg)) == NULL)
		return;
	len = snprintf(buf, sizeof(buf), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", code, reason, strlen(body), body);
	free(body);
	if (len > 0 && (size_t)len < sizeof(buf))
		(void)send(fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void
ac_free(struct ac_conn *cc)
{
	if (cc->cc_deadline != NULL)
		event_free(cc->cc_deadline);
	free(cc);
}

/* evhttp lets go of a connection. */
static void
ac_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct ac_conn	 *cc = arg;
	struct api_conns *ac = cc->cc_ac;

	(void)evcon;
	conns_closed(ac->ac_conns, 0, cc->cc_id);
	TAILQ_REMOVE(&ac->ac_live, cc, cc_entry);
	ac->ac_byfd[cc->cc_fd] = NULL;
	ac_free(cc);
	ac_update(ac);
}

/* A request not in by its deadline: 408, and the connection closed. */
static void
ac_deadline_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct ac_conn		*cc = arg;
	struct bufferevent	*bev;

	(void)fd;
	(void)ev;
	log_debug("%s: a request not received within api-request-timeout",
	    __func__);
	bev = evhttp_connection_get_bufferevent(cc->cc_evcon);
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		ac_answer(cc->cc_fd, 408, "Request Timeout",
		    "request not received in time (api-request-timeout)");
	evhttp_connection_free(cc->cc_evcon);	/* ac_closed_cb frees cc */
}

static void
ac_arm(struct ac_conn *cc)
{
	struct timeval	 tv = { 0, 0 };

	tv.tv_sec = (time_t)cc->cc_ac->ac_w->w_cfg->c_api_req_timeout;
	evtimer_add(cc->cc_deadline, &tv);
}

/* Room for fd in ac_byfd. */
static int
ac_byfd_grow(struct api_conns *ac, int fd)
{
	struct ac_conn	**p;
	size_t		  n = ac->ac_nbyfd == 0 ? 64 : ac->ac_nbyfd;

	if ((size_t)fd < ac->ac_nbyfd)
		return 0;
	while (n <= (size_t)fd)
		n *= 2;
	if ((p = reallocarray(ac->ac_byfd, n, sizeof(*p))) == NULL)
		return -1;
	memset(p + ac->ac_nbyfd, 0, (n - ac->ac_nbyfd) * sizeof(*p));
	ac->ac_byfd = p;
	ac->ac_nbyfd = n;
	return 0;
}

/* A refusal said once a second at most, with how many were not. */
static void
ac_said(struct api_conns *ac, const char *why)
{
	time_t	 now = time(NULL);

	if (now == ac->ac_said) {
		ac->ac_unsaid++;
		return;
	}
	if (ac->ac_unsaid == 0)
		log_warnx("api: a connection refused (%s)", why);
	else
		log_warnx("api: a connection refused (%s), and %u more since "
		    "the last said", why, ac->ac_unsaid);
	ac->ac_said = now;
	ac->ac_unsaid = 0;
}

/*
 * Count a new connection under its address, or answer 503 and close it.
 * 0 when it is counted.
 */
static int
ac_count(struct api_conns *ac, struct ac_conn *cc)
{
	const struct config	*cfg = ac->ac_w->w_cfg;
	uint8_t			 addr[NETADDR_KEY_LEN];
	const char		*why = NULL;
	char			 msg[96];
	int64_t			 id = -1;

	netaddr_peer_key(cc->cc_fd, (unsigned)cfg->c_v6_prefix, addr);
	if (ac_byfd_grow(ac, cc->cc_fd) == -1)
		why = "out of memory";
	else
		id = conns_add(ac->ac_conns, addr, 0, cfg->c_api_max_conns,
		    cfg->c_api_max_conns_addr, &why);
	if (id == -1) {
		ac_said(ac, why);
		snprintf(msg, sizeof(msg), "too many connections (%s)", why);
		ac_answer(cc->cc_fd, 503, "Service Unavailable", msg);
		return -1;
	}
	cc->cc_id = (uint32_t)id;
	return 0;
}

/*
 * A connection evhttp made this pass: its bufferevent now has its
 * socket, and evhttp's callbacks whose argument is the connection
 * (libevent 2.1 has no other way to it before a request is complete).
 */
static void
ac_identify(struct api_conns *ac, struct ac_conn *cc)
{
	struct bufferevent	*bev = cc->cc_bev;
	bufferevent_data_cb	 readcb = NULL;
	void			*evcon = NULL;

	cc->cc_bev = NULL;
	bufferevent_getcb(bev, &readcb, NULL, NULL, &evcon);
	cc->cc_fd = bufferevent_getfd(bev);
	if (readcb == NULL || evcon == NULL || cc->cc_fd == -1) {
		ac_free(cc);		/* evhttp let go of it already */
	} else if (ac_count(ac, cc) == -1) {
		evhttp_connection_free(evcon);
		ac_free(cc);
	} else {
		cc->cc_evcon = evcon;
		ac->ac_byfd[cc->cc_fd] = cc;
		TAILQ_INSERT_TAIL(&ac->ac_live, cc, cc_entry);
		evhttp_connection_set_closecb(evcon, ac_closed_cb, cc);
		ac_arm(cc);
	}
	bufferevent_decref(bev);
}

static void
ac_check_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct api_conns *ac = arg;
	struct ac_conn	 *cc;

	(void)fd;
	(void)ev;
	while ((cc = TAILQ_FIRST(&ac->ac_new)) != NULL) {
		TAILQ_REMOVE(&ac->ac_new, cc, cc_entry);
		ac->ac_nnew--;
		ac_identify(ac, cc);
	}
	ac_update(ac);
}

/*
 * evhttp's new connection, in its accept loop: its bufferevent, held
 * (so that it outlives a connection evhttp drops at once) and counted
 * until ac_check_cb knows its socket.
 */
static struct bufferevent *
ac_bevcb(struct event_base *base, void *arg)
{
	struct api_conns	*ac = arg;
	struct ac_conn		*cc;
	struct bufferevent	*bev;

	if ((cc = calloc(1, sizeof(*cc))) == NULL)
		return NULL;
	cc->cc_ac = ac;
	cc->cc_deadline = evtimer_new(base, ac_deadline_cb, cc);
	bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (cc->cc_deadline == NULL || bev == NULL) {
		if (bev != NULL)
			bufferevent_free(bev);
		ac_free(cc);
		return NULL;
	}
	ac->ac_backoff_ms = 0;		/* accept() works again */
	bufferevent_incref(bev);
	cc->cc_bev = bev;
	TAILQ_INSERT_TAIL(&ac->ac_new, cc, cc_entry);
	ac->ac_nnew++;
	ac_update(ac);
	event_active(ac->ac_check, 0, 0);
	return bev;
}

/*
 * A request is in and about to be answered: its deadline sleeps until
 * the answer has gone, then the next request has its own.
 */
static void
ac_answered_cb(struct evhttp_request *req, void *arg)
{
	(void)req;
	ac_arm(arg);
}

void
apiconn_request(struct api_conns *ac, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct ac_conn		*cc;
	int			 fd;

	if (ac == NULL || evcon == NULL)
		return;
	fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	if (fd < 0 || (size_t)fd >= ac->ac_nbyfd ||
	    (cc = ac->ac_byfd[fd]) == NULL || cc->cc_evcon != evcon)
		return;
	evtimer_del(cc->cc_deadline);
	evhttp_request_set_on_complete_cb(req, ac_answered_cb, cc);
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

	if ((ac = calloc(1, sizeof(*ac))) == NULL)
		return NULL;
	ac->ac_w = w;
	TAILQ_INIT(&ac->ac_new);
	TAILQ_INIT(&ac->ac_live);
	ac->ac_conns = conns_new(w->w_cfg->c_api_max_conns);
	ac->ac_check = event_new(w->w_base, -1, 0, ac_check_cb, ac);
	ac->ac_resume = evtimer_new(w->w_base, ac_resume_cb, ac);
	if (ac->ac_conns == NULL || ac->ac_check == NULL ||
	    ac->ac_resume == NULL) {
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
	return ac;
}

/*
 * Before the server is freed: its connections no longer tell us they
 * go, and their deadlines are gone.
 */
void
apiconn_stop(struct api_conns *ac)
{
	struct ac_conn	*cc;

	if (ac == NULL)
		return;
	if (ac_self == ac)
		ac_self = NULL;
	while ((cc = TAILQ_FIRST(&ac->ac_new)) != NULL) {
		TAILQ_REMOVE(&ac->ac_new, cc, cc_entry);
		bufferevent_decref(cc->cc_bev);
		ac_free(cc);
	}
	while ((cc = TAILQ_FIRST(&ac->ac_live)) != NULL) {
		TAILQ_REMOVE(&ac->ac_live, cc, cc_entry);
		evhttp_connection_set_closecb(cc->cc_evcon, NULL, NULL);
		ac_free(cc);
	}
	if (ac->ac_check != NULL)
		event_free(ac->ac_check);
	if (ac->ac_resume != NULL)
		event_free(ac->ac_resume);
	conns_free(ac->ac_conns);
	free(ac->ac_byfd);
	free(ac);
}

/* Connections held now, for /status. */
size_t
apiconn_count(const struct api_conns *ac)
{
	return ac != NULL ? ac_held(ac) : 0;
}
